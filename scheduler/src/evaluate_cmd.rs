//! `caldera evaluate`: one trace window, several scheduling policies, one table. Converts the
//! trace once per estimate error, simulates each policy on it, and writes into `--out`:
//! `results.md` (the table and how it was made), `results.json` (every metric), `wait-cdf.svg`
//! (all policies) and `utilization-<policy>.svg` (GPU use over time per queue), and with
//! `--reports` a full HTML report per policy under `reports/<policy>/index.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use caldera_framework::Millis;
use caldera_simulator::metrics::{Inputs, Metrics};
use caldera_simulator::{Scenario, SimOptions, Simulation, charts, html, series};

use crate::trace_cmd::{Prepared, TraceKind, describe};

/// Arguments of `caldera evaluate`.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// A policy: `NAME=CONFIG` or `NAME=CONFIG@ERROR` (ERROR: the estimate error for this policy,
    /// default --estimate-error). CONFIG is a volcano-scheduler.conf-format file, or `default`.
    /// Repeat; the first is the baseline the others' mean wait is compared with.
    #[arg(long = "policy", required = true)]
    policies: Vec<String>,
    /// Directory for the results.
    #[arg(long)]
    out: PathBuf,
    /// Simulated time between periodic cycles.
    #[arg(long, value_parser = crate::duration_arg, default_value = "1s")]
    period: Millis,
    /// Simulations run at once (each uses one core).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Also write a full HTML report per policy.
    #[arg(long)]
    reports: bool,
    /// The trace and its window.
    #[command(subcommand)]
    trace: TraceKind,
}

struct Policy {
    name: String,
    config: Option<PathBuf>,
    error: Option<f64>,
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    let (name, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("--policy {s:?}: expected NAME=CONFIG or NAME=CONFIG@ERROR"))?;
    let (config, error) = match rest.rsplit_once('@') {
        Some((c, e)) => {
            let e: f64 = e
                .parse()
                .map_err(|_| format!("--policy {s:?}: estimate error {e:?} is not a number"))?;
            (c, Some(e))
        }
        None => (rest, None),
    };
    if name.trim().is_empty() {
        return Err(format!("--policy {s:?}: the name is empty"));
    }
    Ok(Policy {
        name: name.trim().to_string(),
        config: (config != "default").then(|| PathBuf::from(config)),
        error,
    })
}

/// A file name for a policy name.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

/// One finished run.
struct Run {
    metrics: Metrics,
    inputs: Inputs,
    wall_s: f64,
    engine_s: f64,
    cycles: u64,
}

/// Runs `caldera evaluate`.
pub fn run(args: EvaluateArgs) -> ExitCode {
    match evaluate(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn evaluate(args: &EvaluateArgs) -> Result<(), String> {
    let policies = args
        .policies
        .iter()
        .map(|p| parse_policy(p))
        .collect::<Result<Vec<_>, _>>()?;
    let pipelines = policies
        .iter()
        .map(|p| crate::load_config(p.config.as_ref()).map_err(|e| format!("policy {}: {e}", p.name)))
        .collect::<Result<Vec<_>, _>>()?;
    let prepared = Prepared::new(&args.trace)?;
    let error_of = |p: &Policy| p.error.unwrap_or(prepared.estimate_error);

    // One scenario per distinct estimate error, in the order first needed.
    let mut scenarios: Vec<(f64, Scenario, String)> = Vec::new();
    for p in &policies {
        let e = error_of(p);
        if scenarios.iter().any(|(x, _, _)| *x == e) {
            continue;
        }
        let (yaml, stats) = prepared.yaml(e)?;
        let mut s = Scenario::default();
        s.add_yaml(&format!("trace (estimate error {e})"), &yaml);
        if let Some(d) = s.diagnostics.iter().find(|d| d.error) {
            return Err(format!("the converted trace does not load: {d}"));
        }
        eprintln!("estimate error {e}: {}", describe(&stats));
        scenarios.push((e, s, describe(&stats)));
    }

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Run>>> = Mutex::new((0..policies.len()).map(|_| None).collect());
    let period = args.period;
    std::thread::scope(|scope| {
        for _ in 0..args.parallel.clamp(1, policies.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(p) = policies.get(i) else { break };
                    let e = error_of(p);
                    let Some((_, scenario, _)) = scenarios.iter().find(|(x, _, _)| *x == e) else {
                        break;
                    };
                    let wall = Instant::now();
                    let mut sim = Simulation::new(scenario.clone());
                    sim.run(&pipelines[i], &SimOptions { period, until: None });
                    let wall_s = wall.elapsed().as_secs_f64();
                    let report = caldera_simulator::report(&sim, wall_s);
                    let inputs = Inputs::from_simulation(&sim, &report, period as f64 / 1000.0);
                    let metrics = inputs.metrics();
                    eprintln!(
                        "{}: mean wait {:.2} h, p95 {:.2} h, {} cycles, {:.0} s wall",
                        p.name,
                        metrics.mean_wait_s / 3600.0,
                        metrics.p95_wait_s / 3600.0,
                        sim.cycles,
                        wall_s
                    );
                    let run = Run {
                        metrics,
                        inputs,
                        wall_s,
                        engine_s: sim.engine_seconds,
                        cycles: sim.cycles,
                    };
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(run);
                    }
                }
            });
        }
    });
    let runs: Vec<Run> = results
        .into_inner()
        .map_err(|_| "a simulation thread panicked".to_string())?
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or("a simulation did not finish")?;
    write_outputs(
        args,
        &policies,
        &runs,
        &scenarios.iter().map(|(e, _, d)| (*e, d.clone())).collect::<Vec<_>>(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let f = dir.join(name);
    if let Some(parent) = f.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&f, text).map_err(|e| format!("cannot write {}: {e}", f.display()))
}

/// The results table in Markdown.
fn table(policies: &[Policy], runs: &[Run], errors: &[f64]) -> String {
    let mut t = String::from(
        "| policy | estimates | mean wait h | vs first | p95 wait h | makespan h | GPU util (makespan) | GPU util (submissions) | ≥95% busy h | Jain | evictions | lost GPU-h | started after 1st estimate | wall s |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    let base = runs.first().map_or(0.0, |r| r.metrics.mean_wait_s);
    for ((p, r), e) in policies.iter().zip(runs).zip(errors) {
        let m = &r.metrics;
        let vs = if base > 0.0 {
            format!("{:+.0}%", (m.mean_wait_s / base - 1.0) * 100.0)
        } else {
            "–".into()
        };
        let delayed = if m.jobs_with_estimate == 0 {
            "no estimates".to_string()
        } else {
            format!("{} of {}", m.delayed_heads, m.jobs_with_estimate)
        };
        let est = if *e == 1.0 {
            "exact".to_string()
        } else {
            format!("×[1/{e}, {e}]")
        };
        let _ = writeln!(
            t,
            "| {} | {est} | {:.2} | {vs} | {:.2} | {:.1} | {:.1}% | {:.1}% | {:.1} | {:.3} | {} | {:.1} | {delayed} | {:.0} |",
            p.name,
            m.mean_wait_s / 3600.0,
            m.p95_wait_s / 3600.0,
            m.makespan_s / 3600.0,
            m.gpu_utilization * 100.0,
            m.gpu_utilization_in_span * 100.0,
            m.saturated_hours,
            m.jain_index,
            m.evictions,
            m.lost_gpu_hours,
            r.wall_s
        );
    }
    t
}

fn write_outputs(
    args: &EvaluateArgs,
    policies: &[Policy],
    runs: &[Run],
    windows: &[(f64, String)],
) -> Result<(), String> {
    let out = &args.out;
    let errors: Vec<f64> = policies
        .iter()
        .map(|p| p.error.unwrap_or(windows.first().map_or(1.0, |w| w.0)))
        .collect();
    let mut md = String::from("# Evaluation results\n\nGenerated by:\n\n```sh\ncaldera ");
    md += &std::env::args()
        .skip(1)
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    md += "\n```\n\n";
    for (e, d) in windows {
        let _ = writeln!(md, "Trace window with estimate error {e}:\n\n```text\n{d}\n```\n");
    }
    md += &table(policies, runs, &errors);
    md += "\nPer run: simulated cycles, wall seconds in the scheduling pipeline.\n\n";
    for (p, r) in policies.iter().zip(runs) {
        let _ = writeln!(
            md,
            "- {}: {} cycles, {:.0} s in the pipeline of {:.0} s; {} jobs, {} never started",
            p.name, r.cycles, r.engine_s, r.wall_s, r.metrics.jobs, r.metrics.jobs_not_started
        );
    }
    write(out, "results.md", &md)?;
    let json: Vec<serde_json::Value> = policies
        .iter()
        .zip(runs)
        .zip(&errors)
        .map(|((p, r), e)| {
            serde_json::json!({
                "policy": p.name,
                "config": p.config.as_ref().map(|c| c.display().to_string()),
                "estimate_error": e,
                "wall_seconds": r.wall_s,
                "cycles": r.cycles,
                "metrics": r.metrics,
            })
        })
        .collect();
    let json = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    write(out, "results.json", &json)?;

    let cdfs: Vec<(String, Vec<(f64, f64)>)> = policies
        .iter()
        .zip(runs)
        .map(|(p, r)| (p.name.clone(), series::wait_cdf(&r.inputs, 400)))
        .collect();
    let cdf = charts::wait_cdf_svg(&cdfs, "Job wait-time CDF by policy").map_err(|e| e.to_string())?;
    write(out, "wait-cdf.svg", &cdf)?;
    for (p, r) in policies.iter().zip(runs) {
        let u = series::utilization(&r.inputs, html::UTILIZATION_BUCKETS);
        let svg = charts::utilization_svg(&u, &format!("{}: GPU use per queue", p.name)).map_err(|e| e.to_string())?;
        write(out, &format!("utilization-{}.svg", slug(&p.name)), &svg)?;
        if args.reports {
            let facts = vec![format!("policy {}", p.name)];
            let page = html::render(&format!("Caldera evaluation: {}", p.name), &facts, &r.inputs)
                .map_err(|e| e.to_string())?;
            write(out, &format!("reports/{}/index.html", slug(&p.name)), &page)?;
        }
    }
    print!("{}", table(policies, runs, &errors));
    Ok(())
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_with_and_without_an_estimate_error() {
        let p = parse_policy("EASY, 2x=manifests/easy.yaml@2").expect("parses");
        assert_eq!(
            (p.name.as_str(), p.config, p.error),
            ("EASY, 2x", Some(PathBuf::from("manifests/easy.yaml")), Some(2.0))
        );
        let p = parse_policy("stand-in=default").expect("parses");
        assert_eq!((p.config, p.error), (None, None));
        assert!(parse_policy("no-config").is_err());
        assert!(parse_policy("x=a.yaml@two").is_err());
        assert!(parse_policy("=a.yaml").is_err());
        assert_eq!(slug("EASY, 2× estimates"), "easy-2-estimates");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("--nodes=64"), "--nodes=64");
    }
}

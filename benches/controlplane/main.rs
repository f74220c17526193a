//! `controlplane-bench`: Caldera side by side with the raw-binder ceiling, kube-scheduler and any
//! peer binary, each alone on a fresh real control plane (kube-apiserver, etcd, kwok from `e2e/`).
//! See docs/benchmarks.md for the method, the command and the latest results.

mod apimetrics;
mod create;
mod observe;
mod procstat;
mod report;
mod run;
mod sched;
mod seed;
mod settle;
mod shapes;
mod workload;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

use caldera_e2e::{Error, Result, repo_root};

use crate::run::{Limits, Mode, RunResult};
use crate::sched::{Common, Contender};

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "controlplane-bench",
    about = "Caldera vs the raw-binder ceiling, kube-scheduler and peers on a real control plane"
)]
struct Args {
    /// Shapes to run, comma-separated (see --list-shapes); default: every shape but `smoke`.
    #[arg(long, value_delimiter = ',')]
    shapes: Vec<String>,
    /// Schedulers: caldera, raw-binder, kube-scheduler (default: all three, plus every --peer).
    #[arg(long, value_delimiter = ',')]
    schedulers: Vec<String>,
    /// Feeding modes: backlog, stream.
    #[arg(long, value_delimiter = ',', default_values_t = vec!["backlog".to_owned(), "stream".to_owned()])]
    modes: Vec<String>,
    /// Runs of each (shape, mode, scheduler).
    #[arg(long, default_value_t = 3)]
    repeats: u32,
    /// Another scheduler binary, run with vc-scheduler's flags and Volcano's object conventions:
    /// NAME=PATH (repeatable). NAME is also its schedulerName.
    #[arg(long = "peer", value_name = "NAME=PATH")]
    peers: Vec<String>,
    /// Directory of CRD YAML the peers need (e.g. Volcano's config/crd/volcano/bases).
    #[arg(long)]
    peer_crds: Option<PathBuf>,
    /// Client QPS of every scheduler.
    #[arg(long, default_value_t = 5000.0)]
    qps: f64,
    /// Client burst of every scheduler.
    #[arg(long, default_value_t = 5000)]
    burst: u32,
    /// Pods per second created in stream mode.
    #[arg(long, default_value_t = 250.0)]
    stream_rate: f64,
    /// A run ends when no pod was bound for this many seconds.
    #[arg(long, default_value_t = 60)]
    stall_seconds: u64,
    /// A run ends after this many seconds in any case.
    #[arg(long, default_value_t = 900)]
    max_run_seconds: u64,
    /// Where results go (default: target/controlplane-bench/<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The small check `./test.sh` runs: shape `smoke`, caldera, raw-binder and kube-scheduler,
    /// both modes, once, with --check.
    #[arg(long)]
    smoke: bool,
    /// Exit non-zero unless every run bound every pod exactly once.
    #[arg(long)]
    check: bool,
    /// Keep every run's work dir (logs of all components), not only failed runs'.
    #[arg(long)]
    keep: bool,
    /// Rebuild the etcd seeds instead of reusing them.
    #[arg(long)]
    fresh_seeds: bool,
    /// The caldera binary (default: `cargo build --release` and target/release/caldera).
    #[arg(long)]
    caldera_bin: Option<PathBuf>,
    /// Print the shapes and exit.
    #[arg(long)]
    list_shapes: bool,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from)
}

/// Builds the release binaries the harness runs (a no-op when up to date).
fn build_binaries(with_caldera: bool) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut args = vec![
        "build",
        "--release",
        "--locked",
        "-p",
        "caldera-benches",
        "--bin",
        "raw-binder",
    ];
    if with_caldera {
        args.extend(["-p", "caldera", "--bin", "caldera"]);
    }
    eprintln!("building: {cargo} {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(&args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::msg(format!("cannot run {cargo}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::msg(format!("{cargo} {} failed ({status})", args.join(" "))))
    }
}

fn parse_peer(s: &str) -> Result<Contender> {
    let (name, path) = s
        .split_once('=')
        .ok_or_else(|| Error::msg(format!("--peer {s}: expected NAME=PATH")))?;
    let ok_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok_name || ["caldera", "raw-binder", "kube-scheduler"].contains(&name) {
        return Err(Error::msg(format!(
            "--peer {s}: NAME must be a new lowercase name (it is the peer's schedulerName)"
        )));
    }
    let bin = PathBuf::from(path);
    if !bin.is_file() {
        return Err(Error::msg(format!("--peer {s}: {path} is not a file")));
    }
    Ok(Contender::Peer {
        name: name.to_owned(),
        bin,
    })
}

fn utc_stamp() -> String {
    Command::new("date")
        .args(["-u", "+%Y%m%dT%H%M%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "run".to_owned())
}

fn describe(r: &RunResult) -> String {
    let mut s = format!(
        "{}/{} bound in {:.1}s = {:.0} pods/s, p50 {:.0} ms, p99 {:.0} ms, first bind {:.2}s, RSS {:.0} MiB, CPU {:.1}s \
         ({:.2} ms/pod); apiserver {:.1}s etcd {:.1}s kwok {:.1}s CPU; machine {:.2} cores busy, load {:.1}",
        r.bound,
        r.pods,
        r.seconds,
        r.pods_per_s,
        r.p50_ms,
        r.p99_ms,
        r.first_bind_s,
        r.rss_mib,
        r.cpu_s,
        r.cpu_ms_per_pod(),
        r.apiserver_cpu_s,
        r.etcd_cpu_s,
        r.kwok_cpu_s,
        r.machine_cores,
        r.load
    );
    s.push_str("\n    ");
    s.push_str(&r.phases);
    if !r.problem.is_empty() {
        s.push_str("\n    PROBLEM: ");
        s.push_str(&r.problem);
    }
    s
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("controlplane-bench: {e}");
            std::process::exit(2);
        }
    }
}

fn write_outputs(out: &Path, results: &[RunResult], title: &str) -> Result<String> {
    let summaries = report::summarize(results);
    let md = report::markdown(&summaries);
    std::fs::write(out.join("summary.md"), &md)?;
    std::fs::write(out.join("chart.svg"), report::svg(&summaries, title))?;
    Ok(md)
}

async fn run(mut args: Args) -> Result<bool> {
    if args.list_shapes {
        for s in shapes::all() {
            println!(
                "{:<18} {:>5} nodes, {:>6} pods to schedule, {:>6} already bound: {:?}",
                s.name,
                s.nodes,
                s.measured_pods(),
                s.filler_pods(),
                s.workload
            );
        }
        return Ok(true);
    }
    if args.smoke {
        args.shapes = vec!["smoke".to_owned()];
        args.schedulers = vec!["caldera".into(), "raw-binder".into(), "kube-scheduler".into()];
        args.repeats = 1;
        args.check = true;
        args.stall_seconds = args.stall_seconds.min(30);
        args.max_run_seconds = args.max_run_seconds.min(120);
        args.stream_rate = args.stream_rate.min(100.0);
    }
    let shape_names = if args.shapes.is_empty() {
        shapes::default_names()
    } else {
        args.shapes.clone()
    };
    let shape_list = shape_names
        .iter()
        .map(|n| shapes::by_name(n).ok_or_else(|| Error::msg(format!("unknown shape {n:?} (see --list-shapes)"))))
        .collect::<Result<Vec<_>>>()?;
    let modes = args
        .modes
        .iter()
        .map(|m| match m.as_str() {
            "backlog" => Ok(Mode::Backlog),
            "stream" => Ok(Mode::Stream),
            _ => Err(Error::msg(format!("unknown mode {m:?} (backlog, stream)"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let peers = args.peers.iter().map(|p| parse_peer(p)).collect::<Result<Vec<_>>>()?;
    if !peers.is_empty() && args.peer_crds.as_ref().is_none_or(|d| !d.is_dir()) {
        return Err(Error::msg(
            "--peer needs --peer-crds DIR: the CRDs the peer reads (e.g. Volcano's)",
        ));
    }
    let mut schedulers: Vec<Contender> = Vec::new();
    let wanted = if args.schedulers.is_empty() {
        vec![
            "caldera".to_owned(),
            "raw-binder".to_owned(),
            "kube-scheduler".to_owned(),
        ]
    } else {
        args.schedulers.clone()
    };
    for w in &wanted {
        match w.as_str() {
            "caldera" => schedulers.push(Contender::Caldera),
            "raw-binder" => schedulers.push(Contender::RawBinder),
            "kube-scheduler" => schedulers.push(Contender::KubeScheduler),
            other if peers.iter().any(|p| p.name() == other) => {}
            other => return Err(Error::msg(format!("unknown scheduler {other:?}"))),
        }
    }
    if args.smoke {
        // The smoke test is about the harness and our scheduler; peers are for the full runs.
    } else if peers.is_empty() {
        eprintln!("peers: none given (--peer NAME=/path/to/vc-scheduler --peer-crds DIR); Volcano-style peers skipped");
    } else {
        for p in peers {
            if args.schedulers.is_empty() || args.schedulers.iter().any(|w| w == p.name()) {
                schedulers.push(p);
            }
        }
    }

    let target = target_dir();
    let caldera = match &args.caldera_bin {
        Some(b) => {
            build_binaries(false)?;
            b.clone()
        }
        None => {
            build_binaries(schedulers.contains(&Contender::Caldera))?;
            target.join("release/caldera")
        }
    };
    let common = Common {
        qps: args.qps,
        burst: args.burst,
        caldera,
        raw_binder: target.join("release/raw-binder"),
    };
    let limits = Limits {
        stream_rate: args.stream_rate,
        stall: Duration::from_secs(args.stall_seconds),
        max_run: Duration::from_secs(args.max_run_seconds),
        keep: args.keep,
        peer_crds: args.peer_crds.clone(),
    };
    let bench_dir = target.join("controlplane-bench");
    let out = args.out.clone().unwrap_or_else(|| bench_dir.join(utc_stamp()));
    std::fs::create_dir_all(&out)?;
    let mut csv = std::fs::File::create(out.join("results.csv"))?;
    writeln!(csv, "{}", report::CSV_HEADER)?;
    let mut seeds = seed::Seeds::new(&bench_dir, args.fresh_seeds)?;

    let total = shape_list.len() * modes.len() * schedulers.len() * args.repeats as usize;
    eprintln!(
        "{total} runs: shapes {}; modes {}; schedulers {}; {} repeats; client QPS {} burst {}; stream {} pods/s; \
         load {:.1}; results in {}",
        shape_names.join(","),
        args.modes.join(","),
        schedulers.iter().map(Contender::name).collect::<Vec<_>>().join(","),
        args.repeats,
        args.qps,
        args.burst,
        args.stream_rate,
        procstat::load_1m(),
        out.display()
    );
    let started = Instant::now();
    let mut results: Vec<RunResult> = Vec::new();
    let mut n = 0;
    for repeat in 1..=args.repeats {
        for shape in &shape_list {
            let (seed_dir, _) = seeds.get(shape).await?;
            for &mode in &modes {
                for s in &schedulers {
                    n += 1;
                    eprintln!(
                        "[{n}/{total}] {} {} {} #{repeat} …",
                        shape.name,
                        mode.as_str(),
                        s.name()
                    );
                    let r = match run::run(shape, mode, s, repeat, seed_dir.clone(), &common, &limits).await {
                        Ok(r) => r,
                        Err(e) => RunResult {
                            shape: shape.name.clone(),
                            nodes: shape.nodes,
                            mode: mode.as_str().to_owned(),
                            scheduler: s.name().to_owned(),
                            repeat,
                            pods: shape.measured_pods(),
                            problem: format!("harness: {e}"),
                            seconds: f64::NAN,
                            pods_per_s: f64::NAN,
                            ..RunResult::default()
                        },
                    };
                    eprintln!("    {}", describe(&r));
                    writeln!(csv, "{}", report::csv_row(&r))?;
                    results.push(r);
                }
            }
        }
        write_outputs(&out, &results, "Caldera side by side on a real control plane")?;
    }
    let md = write_outputs(&out, &results, "Caldera side by side on a real control plane")?;
    let elapsed = started.elapsed().as_secs_f64();
    std::fs::write(
        out.join("meta.txt"),
        format!(
            "command: {}\nruns: {total}\nwall time: {elapsed:.0}s\nload at end: {:.2}\n",
            std::env::args().collect::<Vec<_>>().join(" "),
            procstat::load_1m()
        ),
    )?;
    println!("{md}");
    eprintln!(
        "{total} runs in {:.0} min; results: {}/results.csv, summary.md, chart.svg",
        elapsed / 60.0,
        out.display()
    );
    let failed: Vec<&RunResult> = results.iter().filter(|r| !r.complete()).collect();
    if args.check && !failed.is_empty() {
        for r in &failed {
            eprintln!(
                "FAILED: {} {} {} #{}: {}",
                r.shape, r.mode, r.scheduler, r.repeat, r.problem
            );
        }
        return Ok(false);
    }
    Ok(true)
}

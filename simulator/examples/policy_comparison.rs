//! Runs the four start policies of `manifests/examples/policies/` (and Caldera's default
//! configuration) on one synthetic GPU workload and prints a comparison table.
//!
//! ```sh
//! cargo run --release -p caldera-simulator --example policy_comparison [SEED]
//! ```
//!
//! The workload (seeded, so the same seed gives the same table): 16 nodes of 8 GPUs; two queues of
//! equal weight; 8 hours of Poisson arrivals beyond what the cluster can take, a mix of big gangs (4–8
//! pods × 8 GPUs, 1–3 h), medium gangs (2–4 × 8 GPUs, 30–90 min) and small jobs (1 pod, 1–4 GPUs,
//! 5–30 min); one job in twenty is of high priority. Every pod says how long it runs
//! (`caldera.dev/expected-runtime`): exactly, or twice as long in the "2× estimates" rows.

use std::fmt::Write as _;
use std::time::Instant;

use caldera_framework::SchedulerConfig;
use caldera_plugins::Pipeline;
use caldera_simulator::{ReportJson, Scenario, SimOptions, Simulation, report};
use caldera_testkit::SplitMix64;

const NODES: usize = 16;
const HOURS: i64 = 8;

/// One job of the workload.
struct Job {
    name: String,
    queue: &'static str,
    pods: u32,
    gpus: u32,
    submit_s: i64,
    runtime_s: i64,
    high: bool,
}

fn workload(seed: u64) -> Vec<Job> {
    let mut r = SplitMix64::new(seed);
    let mut jobs = Vec::new();
    let mut t = 0i64;
    let mut k = 0;
    // Mean GPU-seconds per job ≈ 0.1·6·8·7200 + 0.3·3·8·3600 + 0.6·2.5·1050 ≈ 62,000; the
    // cluster has 128 GPUs: one job every 420 s asks for about 150 of them, so queues build up
    // and the policies differ.
    while t < HOURS * 3600 {
        let u = (r.below(1_000_000) as f64 + 0.5) / 1_000_000.0;
        t += (-u.ln() * 420.0) as i64;
        let kind = r.below(10);
        let (pods, gpus, runtime_s) = match kind {
            0 => (4 + r.below(5) as u32, 8, r.range(3600, 3 * 3600)),
            1..=3 => (2 + r.below(3) as u32, 8, r.range(1800, 5400)),
            _ => (1, [1, 2, 4][r.below(3)], r.range(300, 1800)),
        };
        jobs.push(Job {
            name: format!("j{k:03}"),
            queue: if r.chance(1, 2) { "red" } else { "blue" },
            pods,
            gpus,
            submit_s: t,
            runtime_s,
            high: r.chance(1, 20),
        });
        k += 1;
    }
    jobs
}

fn yaml(jobs: &[Job], estimate_factor: i64) -> String {
    let mut y = String::new();
    for i in 0..NODES {
        let _ = writeln!(
            y,
            "---\napiVersion: v1\nkind: Node\nmetadata: {{name: gpu-{i:02}}}\nstatus:\n  allocatable: {{cpu: \"96\", memory: 1Ti, nvidia.com/gpu: \"8\", pods: \"110\"}}"
        );
    }
    for q in ["red", "blue"] {
        let _ = writeln!(
            y,
            "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata: {{name: {q}}}\nspec: {{weight: 1}}"
        );
    }
    let _ = writeln!(
        y,
        "---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: high}}\nvalue: 1000"
    );
    for j in jobs {
        let pc = if j.high { ", priorityClassName: high" } else { "" };
        let _ = writeln!(
            y,
            "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: {}\n  annotations: {{simulation.caldera.dev/submit-at: \"{}s\"}}\nspec: {{minMember: {}, queue: {}{pc}}}",
            j.name, j.submit_s, j.pods, j.queue
        );
        for p in 0..j.pods {
            let pc = if j.high { "  priorityClassName: high\n" } else { "" };
            let _ = writeln!(
                y,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {}-{p}\n  annotations:\n    scheduling.k8s.io/group-name: {}\n    simulation.caldera.dev/submit-at: \"{}s\"\n    simulation.caldera.dev/runtime: \"{}s\"\n    caldera.dev/expected-runtime: \"{}s\"\nspec:\n  schedulerName: caldera\n{pc}  containers:\n  - name: c\n    image: x\n    resources:\n      requests: {{cpu: \"8\", nvidia.com/gpu: \"{}\"}}\n      limits: {{nvidia.com/gpu: \"{}\"}}",
                j.name,
                j.name,
                j.submit_s,
                j.runtime_s,
                j.runtime_s * estimate_factor,
                j.gpus,
                j.gpus
            );
        }
    }
    y
}

fn run(yaml: &str, config: Option<&str>) -> (ReportJson, f64) {
    let pipeline = match config {
        Some(c) => Pipeline::from_config(&SchedulerConfig::parse(c).expect("parses")).expect("loads"),
        None => Pipeline::default_pipeline().expect("default"),
    };
    let mut s = Scenario::default();
    s.add_yaml("workload", yaml);
    let mut sim = Simulation::new(s);
    let t = Instant::now();
    sim.run(&pipeline, &SimOptions::default());
    let wall = t.elapsed().as_secs_f64();
    (report(&sim, wall), wall)
}

fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[i.min(xs.len() - 1)]
}

fn main() {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(7u64);
    let jobs = workload(seed);
    let pods: u32 = jobs.iter().map(|j| j.pods).sum();
    println!(
        "seed {seed}: {} jobs ({pods} pods) over {HOURS} h on {NODES} nodes × 8 GPUs, two queues of equal weight\n",
        jobs.len()
    );
    let exact = yaml(&jobs, 1);
    let double = yaml(&jobs, 2);
    let policies: [(&str, &str, Option<&str>); 7] = [
        (
            "FIFO gang",
            &exact,
            Some(include_str!("../../manifests/examples/policies/fifo-gang.yaml")),
        ),
        (
            "Volcano-like",
            &exact,
            Some(include_str!("../../manifests/examples/policies/volcano-like.yaml")),
        ),
        (
            "EASY",
            &exact,
            Some(include_str!("../../manifests/examples/policies/easy-backfill.yaml")),
        ),
        (
            "EASY, 2× estimates",
            &double,
            Some(include_str!("../../manifests/examples/policies/easy-backfill.yaml")),
        ),
        (
            "conservative",
            &exact,
            Some(include_str!(
                "../../manifests/examples/policies/conservative-backfill.yaml"
            )),
        ),
        (
            "conservative, 2× est.",
            &double,
            Some(include_str!(
                "../../manifests/examples/policies/conservative-backfill.yaml"
            )),
        ),
        ("default (+preempt, reclaim)", &exact, None),
    ];
    println!(
        "{:<28} {:>11} {:>11} {:>11} {:>9} {:>9} {:>11} {:>9}",
        "POLICY", "MEAN WAIT s", "P95 WAIT s", "MAKESPAN s", "GPU UTIL", "EVICTED", "LATE HEADS", "WALL s"
    );
    for (name, y, config) in policies {
        let (r, wall) = run(y, config);
        let waits: Vec<f64> = r
            .podgroups
            .iter()
            .filter_map(|g| g.started_at.map(|s| s - g.submitted_at))
            .collect();
        let mean = waits.iter().sum::<f64>() / waits.len().max(1) as f64;
        let late = r
            .podgroups
            .iter()
            .filter(|g| match (g.reserved_start, g.started_at) {
                (Some(res), Some(start)) => start > res + 1e-9,
                (Some(_), None) => true,
                _ => false,
            })
            .count();
        println!(
            "{:<28} {:>11.0} {:>11.0} {:>11.0} {:>8.1}% {:>9} {:>11} {:>9.2}",
            name,
            mean,
            percentile(waits, 0.95),
            r.summary.makespan_s,
            r.summary.gpu_utilization * 100.0,
            r.summary.evictions,
            late,
            wall
        );
    }
    println!("\nWAIT: submission to gang start, per PodGroup. LATE HEADS: jobs that started after (or never");
    println!("reached) the start of the first reservation they held.");
}

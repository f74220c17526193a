//! The start policies, preemption and reclaim through whole simulated runs: evicted pods come back
//! as new incarnations, gangs left below minMember restart, lost GPU-hours are counted, reserved
//! jobs start no later than their first reservation when the expected run times are exact, and
//! the same input gives the same run.

use caldera_framework::SchedulerConfig;
use caldera_plugins::Pipeline;
use caldera_simulator::{ReportJson, Scenario, SimOptions, Simulation, report};
use caldera_testkit::SplitMix64;
use proptest::prelude::*;

fn pipeline(yaml: Option<&str>) -> Pipeline {
    match yaml {
        None => Pipeline::default_pipeline().expect("default pipeline"),
        Some(y) => Pipeline::from_config(&SchedulerConfig::parse(y).expect("parses")).expect("loads"),
    }
}

fn run_with(yaml: &str, config: Option<&str>) -> ReportJson {
    let mut s = Scenario::default();
    s.add_yaml("test.yaml", yaml);
    let mut sim = Simulation::new(s);
    assert!(!sim.has_errors(), "{:?}", sim.diagnostics);
    sim.run(&pipeline(config), &SimOptions::default());
    report(&sim, 0.0)
}

const EASY: &str = include_str!("../../manifests/examples/policies/easy-backfill.yaml");
const FIFO: &str = include_str!("../../manifests/examples/policies/fifo-gang.yaml");

fn node(name: &str, gpus: u32) -> String {
    format!(
        "---\napiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\nstatus:\n  allocatable: {{cpu: \"64\", memory: 256Gi, nvidia.com/gpu: \"{gpus}\", pods: \"110\"}}\n"
    )
}

fn priority_class(name: &str, value: i32) -> String {
    format!("---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: {name}}}\nvalue: {value}\n")
}

/// A Volcano gang of `n` pods of `gpus` GPUs, submitted at `submit` s, running `runtime` s, with
/// `caldera.dev/expected-runtime` equal to the run time.
fn gang(name: &str, min: u32, n: u32, gpus: u32, submit: u32, runtime: u32, class: Option<&str>) -> String {
    gang_in("default", name, min, n, gpus, submit, runtime, class)
}

/// A Volcano queue of weight `weight`, reclaimable.
fn queue(name: &str, weight: u32) -> String {
    format!(
        "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata: {{name: {name}}}\nspec: {{weight: {weight}, reclaimable: true}}\n"
    )
}

/// As [`gang`], in queue `queue`.
#[allow(clippy::too_many_arguments)]
fn gang_in(
    queue: &str,
    name: &str,
    min: u32,
    n: u32,
    gpus: u32,
    submit: u32,
    runtime: u32,
    class: Option<&str>,
) -> String {
    let mut y = format!(
        "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: {name}\n  annotations: {{simulation.caldera.dev/submit-at: \"{submit}s\"}}\nspec: {{minMember: {min}, queue: {queue}{}}}\n",
        class.map(|c| format!(", priorityClassName: {c}")).unwrap_or_default()
    );
    for i in 0..n {
        y += &format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}-{i}\n  annotations:\n    scheduling.k8s.io/group-name: {name}\n    simulation.caldera.dev/submit-at: \"{submit}s\"\n    simulation.caldera.dev/runtime: \"{runtime}s\"\n    caldera.dev/expected-runtime: \"{runtime}s\"\nspec:\n  schedulerName: caldera\n{}  containers:\n  - name: c\n    image: x\n    resources:\n      requests: {{cpu: \"1\", nvidia.com/gpu: \"{gpus}\"}}\n      limits: {{nvidia.com/gpu: \"{gpus}\"}}\n",
            class.map(|c| format!("  priorityClassName: {c}\n")).unwrap_or_default()
        );
    }
    y
}

#[test]
fn an_evicted_pod_comes_back_as_a_new_incarnation_and_its_work_is_counted_as_lost() {
    let mut y = node("n1", 8);
    y += &priority_class("low", 10);
    y += &priority_class("high", 1000);
    y += &gang("low", 2, 2, 4, 0, 1000, Some("low"));
    y += &gang("high", 2, 2, 4, 10, 100, Some("high"));
    let r = run_with(&y, None);
    let pod = |n: &str| r.pods.iter().find(|p| p.name == n).expect("pod");
    let low0 = pod("default/low-0");
    assert_eq!(low0.placements.len(), 2, "{:?}", low0.placements);
    assert_eq!(
        (
            low0.placements[0].bound_at,
            low0.placements[0].ended_at,
            low0.placements[0].end
        ),
        (0.0, Some(10.0), Some("evicted"))
    );
    let high = r.podgroups.iter().find(|g| g.name == "default/high").expect("high");
    assert_eq!(high.started_at, Some(11.0), "bound the cycle after its victims went");
    assert_eq!(low0.placements[1].bound_at, 111.0, "back once the preemptor is done");
    assert_eq!(low0.placements[1].end, Some("finished"));
    assert_eq!(r.summary.evictions, 2);
    let lost = 2.0 * 4.0 * 10.0 / 3600.0;
    assert!(
        (r.summary.lost_gpu_hours - lost).abs() < 1e-9,
        "{}",
        r.summary.lost_gpu_hours
    );
}

#[test]
fn a_gang_left_below_its_minimum_restarts_whole() {
    // A native group with disruptionMode single may lose one pod; it then has fewer running pods
    // than minCount, so the simulator restarts it, as a distributed job whose worker died would.
    let mut y = node("n1", 8);
    y += &priority_class("low", 10);
    y += &priority_class("high", 1000);
    y += "---\napiVersion: scheduling.k8s.io/v1beta1\nkind: PodGroup\nmetadata: {name: native}\nspec:\n  schedulingPolicy: {gang: {minCount: 2}}\n  priorityClassName: low\n  disruptionMode: {single: {}}\n";
    for i in 0..2 {
        y += &format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: native-{i}\n  annotations: {{simulation.caldera.dev/runtime: \"1000s\"}}\nspec:\n  schedulerName: caldera\n  priorityClassName: low\n  schedulingGroup: {{podGroupName: native}}\n  containers:\n  - name: c\n    image: x\n    resources:\n      requests: {{cpu: \"1\", nvidia.com/gpu: \"4\"}}\n      limits: {{nvidia.com/gpu: \"4\"}}\n"
        );
    }
    y += &gang("urgent", 1, 1, 4, 10, 100, Some("high"));
    let r = run_with(&y, None);
    assert_eq!(r.summary.evictions, 2, "one preempted, one restarted");
    for p in ["default/native-0", "default/native-1"] {
        let pod = r.pods.iter().find(|x| x.name == p).expect("pod");
        assert_eq!(pod.placements[0].end, Some("evicted"), "{p}: {:?}", pod.placements);
        assert_eq!(pod.placements[0].ended_at, Some(10.0));
    }
}

#[test]
fn fifo_starts_jobs_in_submission_order_and_easy_backfills_around_the_head() {
    // 2 nodes of 8 GPUs. `a` runs 100 s on one node; `big` needs both nodes; `small` fits now.
    let mut y = node("n1", 8) + &node("n2", 8);
    y += &gang("a", 1, 1, 8, 0, 100, None);
    y += &gang("big", 2, 2, 8, 1, 100, None);
    y += &gang("small", 1, 1, 4, 2, 50, None);
    y += &gang("late", 1, 1, 4, 3, 500, None);
    let fifo = run_with(&y, Some(FIFO));
    let easy = run_with(&y, Some(EASY));
    let start = |r: &ReportJson, n: &str| {
        r.podgroups
            .iter()
            .find(|g| g.name == format!("default/{n}"))
            .and_then(|g| g.started_at)
    };
    assert_eq!(start(&fifo, "big"), Some(100.0));
    assert!(start(&fifo, "small") >= Some(100.0), "FIFO: nothing overtakes the head");
    assert_eq!(
        start(&easy, "small"),
        Some(2.0),
        "EASY: ends (52 s) before the reservation (100 s)"
    );
    assert_eq!(start(&easy, "big"), Some(100.0), "and the head is not delayed");
    assert!(start(&easy, "late") >= Some(100.0), "500 s would delay the head");
    let big = easy.podgroups.iter().find(|g| g.name == "default/big").expect("big");
    assert_eq!(big.reserved_start, Some(100.0));
    assert_eq!(big.estimated_start, Some(100.0));
}

#[test]
fn start_estimates_are_made_at_most_once_per_estimate_interval() {
    // One node of 8 GPUs. `a` holds it 0–50 s; `b` waits 10–50 s; `c` waits from 55 s until `b`
    // ends at 150 s. Every cycle estimates `b` at 10 s; with a 60 s interval, the pass after the
    // one at 0 s is due at 60 s, when `b` already runs, and it estimates `c` though no event
    // happens then.
    let mut y = node("n1", 8);
    y += &gang("a", 1, 1, 8, 0, 50, None);
    y += &gang("b", 1, 1, 8, 10, 100, None);
    y += &gang("c", 1, 1, 8, 55, 10, None);
    let estimate = |r: &ReportJson, n: &str| {
        r.podgroups
            .iter()
            .find(|g| g.name == format!("default/{n}"))
            .and_then(|g| g.estimated_start)
    };
    let with_interval = |d: &str| {
        let policy = FIFO.replace("estimate-interval: 30s", &format!("estimate-interval: {d}"));
        assert_ne!(policy, FIFO, "the FIFO policy file sets estimate-interval");
        policy
    };
    let every = run_with(&y, Some(&with_interval("0s")));
    assert_eq!(
        (estimate(&every, "b"), estimate(&every, "c")),
        (Some(50.0), Some(150.0))
    );
    let sparse = run_with(&y, Some(&with_interval("60s")));
    assert_eq!((estimate(&sparse, "b"), estimate(&sparse, "c")), (None, Some(150.0)));
    let start = |r: &ReportJson, n: &str| {
        r.podgroups
            .iter()
            .find(|g| g.name == format!("default/{n}"))
            .and_then(|g| g.started_at)
    };
    for n in ["a", "b", "c"] {
        assert_eq!(start(&every, n), start(&sparse, n), "{n}: estimates change no decision");
    }
}

/// A random single-queue workload with exact expected run times: 2–4 nodes of 8 GPUs, 4–16 gangs
/// of 1–4 pods of 1, 2, 4 or 8 GPUs, submitted over 10 minutes, each running 1–10 minutes.
fn workload(seed: u64) -> String {
    let mut r = SplitMix64::new(seed);
    let mut y = String::new();
    for i in 0..2 + r.below(3) {
        y += &node(&format!("n{i}"), 8);
    }
    for k in 0..4 + r.below(13) {
        let n = 1 + r.below(4) as u32;
        let gpus = [1, 2, 4, 8][r.below(4)];
        let submit = r.range(0, 600) as u32;
        let runtime = r.range(60, 600) as u32;
        y += &gang(&format!("j{k:02}"), n, n, gpus, submit, runtime, None);
    }
    y
}

/// A random workload over 2–4 weighted queues, so that `proportion` moves the queues' deserved
/// shares as their demand comes and goes: otherwise as [`workload`].
fn multi_queue_workload(seed: u64) -> String {
    let mut r = SplitMix64::new(seed);
    let mut y = String::new();
    for i in 0..2 + r.below(3) {
        y += &node(&format!("n{i}"), 8);
    }
    let queues = 2 + r.below(3);
    for q in 0..queues {
        y += &queue(&format!("q{q}"), 1 + r.below(4) as u32);
    }
    for k in 0..6 + r.below(15) {
        let q = format!("q{}", r.below(queues));
        let n = 1 + r.below(3) as u32;
        let gpus = [1, 2, 4, 8][r.below(4)];
        let submit = r.range(0, 900) as u32;
        let runtime = r.range(60, 600) as u32;
        y += &gang_in(&q, &format!("j{k:02}"), n, n, gpus, submit, runtime, None);
    }
    y
}

/// Every job that held a reservation started no later than the first reservation it got.
fn reservations_held(y: &str) -> Result<(), TestCaseError> {
    for config in [
        EASY,
        include_str!("../../manifests/examples/policies/conservative-backfill.yaml"),
    ] {
        let r = run_with(y, Some(config));
        for g in &r.podgroups {
            if let Some(reserved) = g.reserved_start {
                let started = g.started_at.unwrap_or(f64::INFINITY);
                prop_assert!(
                    started <= reserved + 1e-9,
                    "{} reserved at {} started at {:?}",
                    g.name,
                    reserved,
                    g.started_at
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// With exact expected run times, EASY and conservative backfill never start a job that holds
    /// a reservation later than the first reservation it got.
    #[test]
    fn reserved_jobs_start_no_later_than_their_first_reservation(seed in any::<u64>()) {
        reservations_held(&workload(seed))?;
    }

    /// The same across weighted queues: a reservation, once granted, holds the queue's share as
    /// well as its nodes, so a later change of deserved shares does not push it back.
    #[test]
    fn reservations_hold_while_queue_shares_change(seed in any::<u64>()) {
        reservations_held(&multi_queue_workload(seed))?;
    }

    /// The same input gives the same run, placement by placement.
    #[test]
    fn runs_are_deterministic(seed in any::<u64>()) {
        let y = workload(seed);
        for config in [None, Some(EASY)] {
            let mut a = run_with(&y, config);
            let mut b = run_with(&y, config);
            a.summary.decisions_per_second = 0.0;
            b.summary.decisions_per_second = 0.0;
            prop_assert_eq!(a, b);
        }
    }
}

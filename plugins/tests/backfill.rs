//! Start policies on small clusters: strict FIFO, Volcano's greedy order, EASY and conservative
//! backfill with reservations, the starvation guard and start estimates. The pipelines are the
//! policy files of `manifests/examples/policies/`; every cycle is checked against the invariants.

use caldera_framework::{Outcome, Reservations, SchedulerConfig, Snapshot};
use caldera_plugins::Pipeline;
use caldera_testkit::query::{job, job_binds, job_message};
use caldera_testkit::{ClusterBuilder, invariants};

const FIFO: &str = include_str!("../../manifests/examples/policies/fifo-gang.yaml");
const VOLCANO: &str = include_str!("../../manifests/examples/policies/volcano-like.yaml");
const EASY: &str = include_str!("../../manifests/examples/policies/easy-backfill.yaml");
const CONSERVATIVE: &str = include_str!("../../manifests/examples/policies/conservative-backfill.yaml");

const S: i64 = 1000;
const NOW: i64 = 1_000 * S;

fn pipeline(yaml: &str) -> Pipeline {
    let cfg = SchedulerConfig::parse(yaml).expect("the policy parses");
    let p = Pipeline::from_config(&cfg).expect("the policy loads");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    p
}

fn cycle(yaml: &str, c: &ClusterBuilder) -> (Snapshot, Outcome) {
    let before = c.build(NOW);
    let (after, out) = pipeline(yaml).run(before.clone());
    if let Err(e) = invariants::check(&before, &after, &out) {
        panic!("invariants broken:\n{e}");
    }
    (before, out)
}

fn started(s: &Snapshot, out: &Outcome, name: &str) -> bool {
    !job_binds(s, out, "ns", name).is_empty()
}

/// Two 8-GPU nodes. n1 is busy until NOW + 100 s, n2 until NOW + 1000 s (expected run times).
/// `big` (2 × 8 GPUs, first in its queue) needs both; behind it wait `long` (4 GPUs, 2000 s)
/// and `short` (4 GPUs, 50 s) — each fits on n1's free half now.
fn blocked_head() -> ClusterBuilder {
    let mut c = ClusterBuilder::new();
    c.node("n1").cpu(64).mem_gi(256).gpus(8);
    c.node("n2").cpu(64).mem_gi(256).gpus(8);
    c.queue("q");
    c.gang("ns", "busy1", "q", 1, 1, |p| p.cpu(1).gpus(4))
        .runtime(200 * S)
        .running_on(&["n1"], NOW - 100 * S);
    c.gang("ns", "busy2", "q", 1, 1, |p| p.cpu(1).gpus(8))
        .runtime(2000 * S)
        .running_on(&["n2"], NOW - 1000 * S);
    c.gang("ns", "big", "q", 2, 2, |p| p.cpu(1).gpus(8))
        .runtime(500 * S)
        .created(NOW - 30 * S);
    c.gang("ns", "long", "q", 1, 1, |p| p.cpu(1).gpus(4))
        .runtime(2000 * S)
        .created(NOW - 20 * S);
    c.gang("ns", "short", "q", 1, 1, |p| p.cpu(1).gpus(4))
        .runtime(50 * S)
        .created(NOW - 10 * S);
    c
}

#[test]
fn the_policy_files_load_with_the_intended_start_policy() {
    assert!(pipeline(FIFO).policy().strict_order);
    assert_eq!(pipeline(FIFO).policy().reservations, Reservations::None);
    assert!(!pipeline(VOLCANO).policy().strict_order);
    assert_eq!(pipeline(EASY).policy().reservations, Reservations::Easy);
    assert_eq!(
        pipeline(CONSERVATIVE).policy().reservations,
        Reservations::Conservative(4)
    );
}

#[test]
fn volcano_like_lets_small_jobs_overtake_the_blocked_head() {
    let (s, out) = cycle(VOLCANO, &blocked_head());
    assert!(!started(&s, &out, "big"));
    assert!(
        started(&s, &out, "long"),
        "greedy: the first small job takes n1's free GPUs"
    );
    assert!(out.reservations.is_empty());
}

#[test]
fn fifo_gang_never_lets_a_job_overtake_the_head() {
    let (s, out) = cycle(FIFO, &blocked_head());
    assert!(out.binds.is_empty(), "nothing starts while the head waits");
    let why = job_message(&s, &out, "ns", "short").unwrap_or_default();
    assert!(why.contains("waiting behind ns/big"), "{why}");
    // The head is estimated to start when both nodes are free, the others after it.
    let est = |name: &str| job(&s, "ns", name).and_then(|j| out.estimated_starts.get(&j).copied());
    assert_eq!(est("big"), Some(NOW + 1000 * S));
    assert!(est("short").is_some_and(|t| t >= NOW + 1000 * S), "{:?}", est("short"));
}

#[test]
fn easy_backfills_a_job_that_ends_before_the_reservation_and_holds_back_one_that_would_not() {
    let (s, out) = cycle(EASY, &blocked_head());
    let big = job(&s, "ns", "big").expect("big");
    assert_eq!(
        out.reservations.get(&big).map(|r| r.start),
        Some(NOW + 1000 * S),
        "the head is reserved for when n2 frees"
    );
    assert!(started(&s, &out, "short"), "50 s ends long before the reservation");
    assert!(
        !started(&s, &out, "long"),
        "2000 s on the last free GPUs would delay the head"
    );
    let why = job_message(&s, &out, "ns", "long").unwrap_or_default();
    assert!(why.contains("reservation"), "{why}");
}

#[test]
fn easy_backfills_a_long_job_that_leaves_the_reserved_resources_untouched() {
    let mut c = blocked_head();
    // A third node nobody has reserved: the long job can go there, whatever its length.
    c.node("n3").cpu(64).mem_gi(256).gpus(4);
    let (s, out) = cycle(EASY, &c);
    let placed: Vec<String> = job_binds(&s, &out, "ns", "long").into_values().collect();
    assert_eq!(placed, ["n3"], "the long job goes where no reservation is");
    assert!(
        started(&s, &out, "short"),
        "and the short one still fits before the head"
    );
}

#[test]
fn conservative_reserves_for_more_than_the_head() {
    let mut c = blocked_head();
    // Two more 2-node gangs behind `big`, then the small jobs.
    for (i, name) in ["big2", "big3"].iter().enumerate() {
        c.gang("ns", name, "q", 2, 2, |p| p.cpu(1).gpus(8))
            .runtime(500 * S)
            .created(NOW - 29 * S + i as i64);
    }
    let (s, out) = cycle(CONSERVATIVE, &c);
    let reserved: Vec<&str> = ["big", "big2", "big3"]
        .into_iter()
        .filter(|n| job(&s, "ns", n).is_some_and(|j| out.reservations.contains_key(&j)))
        .collect();
    assert_eq!(reserved, ["big", "big2", "big3"], "{:?}", out.reservations);
    let at = |n: &str| job(&s, "ns", n).and_then(|j| out.reservations.get(&j).map(|r| r.start));
    assert_eq!(at("big"), Some(NOW + 1000 * S));
    assert_eq!(at("big2"), Some(NOW + 1500 * S), "after big ends");
    assert_eq!(at("big3"), Some(NOW + 2000 * S));
    assert!(started(&s, &out, "short"));
}

#[test]
fn a_job_waiting_past_the_starvation_threshold_gets_a_reservation() {
    let mut c = blocked_head();
    // An old job deep in the queue (lower priority than everything else).
    c.priority_class("low", -10);
    c.gang("ns", "old", "q", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .runtime(100 * S)
        .created(NOW - 30 * 3600 * S);
    let (s, out) = cycle(EASY, &c);
    let old = job(&s, "ns", "old").expect("old");
    assert!(out.reservations.contains_key(&old), "{:?}", out.reservations);
}

#[test]
fn a_pod_past_its_expected_end_counts_as_ending_at_the_next_cycle() {
    let mut c = ClusterBuilder::new();
    c.node("n1").cpu(8).mem_gi(32).gpus(8);
    c.gang("ns", "overdue", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .runtime(10 * S)
        .running_on(&["n1"], NOW - 100 * S);
    c.gang("ns", "next", "default", 1, 1, |p| p.cpu(1).gpus(8));
    let (s, out) = cycle(EASY, &c);
    let next = job(&s, "ns", "next").expect("next");
    assert_eq!(
        out.reservations.get(&next).map(|r| r.start),
        Some(NOW + 1000),
        "one period later"
    );
}

#[test]
fn the_queue_default_runtime_is_used_when_the_pods_say_nothing() {
    let mut c = ClusterBuilder::new();
    c.node("n1").cpu(8).mem_gi(32).gpus(8);
    c.queue("q").default_runtime(600 * S);
    c.gang("ns", "running", "q", 1, 1, |p| p.cpu(1).gpus(8))
        .running_on(&["n1"], NOW);
    c.gang("ns", "next", "q", 1, 1, |p| p.cpu(1).gpus(8));
    let (s, out) = cycle(FIFO, &c);
    let next = job(&s, "ns", "next").expect("next");
    assert_eq!(out.estimated_starts.get(&next), Some(&(NOW + 600 * S)));
}

#[test]
fn a_gang_larger_than_the_cluster_blocks_nothing_and_has_no_estimate() {
    let mut c = ClusterBuilder::new();
    c.node("n1").cpu(8).mem_gi(32).gpus(8);
    c.gang("ns", "huge", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .created(NOW - 10 * S);
    c.gang("ns", "small", "default", 1, 1, |p| p.cpu(1).gpus(1));
    for policy in [FIFO, EASY, CONSERVATIVE] {
        let (s, out) = cycle(policy, &c);
        assert!(started(&s, &out, "small"));
        let huge = job(&s, "ns", "huge").expect("huge");
        assert_eq!(out.estimated_starts.get(&huge), None);
    }
}

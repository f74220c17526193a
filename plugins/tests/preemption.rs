//! Preempt and reclaim on small clusters: whole gangs evicted, never half of one; the protections
//! (`volcano.sh/preemptable`, `preemptionPolicy: Never`, conformance, cool-down, guarantee,
//! `reclaimable: false`); victim choice; and, over several cycles with decisions applied, that the
//! preemptor is then placed and nothing thrashes. Every cycle is checked against the invariants.

use caldera_framework::snapshot::GroupRecord;
use caldera_framework::{Disruption, Outcome, Preempted, SchedulerConfig, Snapshot, TaskStatus};
use caldera_plugins::Pipeline;
use caldera_testkit::query::{binds, job, job_binds, pipelined};
use caldera_testkit::{ClusterBuilder, invariants};

const S: i64 = 1000;
const NOW: i64 = 10_000 * S;

const PREEMPT: &str = r#"
actions: "enqueue, allocate, preempt, reclaim, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: drf
  - name: predicates
  - name: proportion
  - name: binpack
"#;

fn pipeline() -> Pipeline {
    Pipeline::from_config(&SchedulerConfig::parse(PREEMPT).expect("parses")).expect("loads")
}

fn cycle_at(c: &ClusterBuilder, now: i64) -> (Snapshot, Outcome) {
    let before = c.build(now);
    let (after, out) = pipeline().run(before.clone());
    if let Err(e) = invariants::check(&before, &after, &out) {
        panic!("invariants broken:\n{e}");
    }
    if let Err(e) = invariants::check_reservations(&before, &after, &out) {
        panic!("reservations broken:\n{e}");
    }
    (before, out)
}

fn cycle(c: &ClusterBuilder) -> (Snapshot, Outcome) {
    cycle_at(c, NOW)
}

/// Names of the evicted pods, sorted.
fn evicted(s: &Snapshot, out: &Outcome) -> Vec<String> {
    let mut v: Vec<String> = out.evictions.iter().map(|e| s.task(e.task).name.clone()).collect();
    v.sort();
    v
}

fn gpu_nodes(c: &mut ClusterBuilder, n: usize) {
    for i in 0..n {
        c.node(&format!("n{i}")).cpu(64).mem_gi(256).gpus(8);
    }
}

/// Two 8-GPU nodes filled by a low-priority 2 × 8-GPU gang; a high-priority 2 × 8-GPU gang waits.
fn full_of_low() -> ClusterBuilder {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    c.gang("ns", "low", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .running_on(&["n0", "n1"], NOW - 600 * S);
    c.gang("ns", "high", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    c
}

#[test]
fn a_high_priority_gang_preempts_a_low_priority_gang_whole_and_is_then_bound() {
    let mut c = full_of_low();
    let (s, out) = cycle(&c);
    assert_eq!(evicted(&s, &out), ["low-0", "low-1"]);
    assert!(
        out.evictions
            .iter()
            .all(|e| e.action == "preempt" && e.reason == "preempted by ns/high")
    );
    assert_eq!(
        pipelined(&s, &out),
        [("ns/high-0".into(), "n0".into()), ("ns/high-1".into(), "n1".into())],
        "the preemptor waits on the room being freed"
    );
    // The victims go; next cycle the preemptor binds whole, onto its nominated nodes.
    c.apply(&s, &out);
    let (s2, out2) = cycle_at(&c, NOW + S);
    assert_eq!(job_binds(&s2, &out2, "ns", "high").len(), 2, "{:?}", binds(&s2, &out2));
    assert!(
        out2.evictions.is_empty(),
        "no further eviction: {:?}",
        evicted(&s2, &out2)
    );
    assert!(job_binds(&s2, &out2, "ns", "low").is_empty());
}

#[test]
fn equal_priority_preempts_nothing() {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 1);
    c.gang("ns", "a", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .running_on(&["n0"], 0);
    c.gang("ns", "b", "default", 1, 1, |p| p.cpu(1).gpus(8));
    let (_, out) = cycle(&c);
    assert!(out.evictions.is_empty());
}

#[test]
fn only_the_pods_beyond_min_member_go_when_that_is_enough() {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    // 4 pods of 4 GPUs running, minMember 2: two may go without breaking the gang.
    c.gang("ns", "elastic", "default", 2, 4, |p| p.cpu(1).gpus(4))
        .priority_class("low")
        .running_on(&["n0", "n1"], NOW - 60 * S);
    c.gang("ns", "high", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    let (s, out) = cycle(&c);
    let gone = evicted(&s, &out);
    assert_eq!(gone.len(), 2, "{gone:?}");
    // Both from the same node, so the 8-GPU pod fits there.
    let nodes: std::collections::BTreeSet<String> = out
        .evictions
        .iter()
        .filter_map(|e| s.task(e.task).node.map(|n| s.node(n).name.clone()))
        .collect();
    assert_eq!(nodes.len(), 1, "{gone:?}");
}

/// Three GPU nodes with `lowest` (8 GPUs, priority 1) on n0, `elastic` (2 × 4 GPUs, minMember 1,
/// priority 10) on n1 and `low` (8 GPUs, priority 10) on n2; `high` wants `gpus` GPUs.
fn three_victims(gpus: i64) -> ClusterBuilder {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 3);
    c.priority_class("lowest", 1)
        .priority_class("low", 10)
        .priority_class("high", 1000);
    c.gang("ns", "lowest", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("lowest")
        .running_on(&["n0"], NOW - 60 * S);
    c.gang("ns", "elastic", "default", 1, 2, |p| p.cpu(1).gpus(4))
        .priority_class("low")
        .running_on(&["n1"], NOW - 60 * S);
    c.gang("ns", "low", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .running_on(&["n2"], NOW - 60 * S);
    c.gang("ns", "high", "default", 1, 1, move |p| p.cpu(1).gpus(gpus))
        .priority_class("high");
    c
}

#[test]
fn fewest_gangs_broken_first_then_lowest_priority_then_least_running_time() {
    let (s, out) = cycle(&three_victims(4));
    assert_eq!(
        evicted(&s, &out),
        ["elastic-0"],
        "a pod beyond minMember breaks no gang, so it goes before the lowest-priority gang"
    );
    let (s, out) = cycle(&three_victims(8));
    assert_eq!(
        evicted(&s, &out),
        ["lowest-0"],
        "a whole gang must go: the least important"
    );

    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    c.gang("ns", "old", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .running_on(&["n0"], NOW - 3600 * S);
    c.gang("ns", "young", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .running_on(&["n1"], NOW - 60 * S);
    c.gang("ns", "high", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    let (s, out) = cycle(&c);
    assert_eq!(
        evicted(&s, &out),
        ["young-0"],
        "then the one that loses the least running time"
    );
}

/// `full_of_low`, with the victim gang and the preemptor shaped by the callers.
fn low_and_high(
    low: impl FnOnce(&mut GroupRecord),
    high_class: &str,
    high: impl FnOnce(&mut GroupRecord),
) -> ClusterBuilder {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    c.never_preempting_priority_class("high-never", 1000);
    c.gang("ns", "low", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .running_on(&["n0", "n1"], NOW - 600 * S)
        .with_group(low);
    c.gang("ns", "high", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .priority_class(high_class)
        .with_group(high);
    c
}

#[test]
fn protected_pods_and_jobs_that_may_not_preempt_evict_nothing() {
    let keep = |_: &mut GroupRecord| {};
    let (s, out) = cycle(&low_and_high(keep, "high", keep));
    assert_eq!(evicted(&s, &out).len(), 2, "the unprotected case evicts");

    let (_, out) = cycle(&low_and_high(|g| g.preemptable = false, "high", keep));
    assert!(
        out.evictions.is_empty(),
        "volcano.sh/preemptable: false on the PodGroup"
    );

    // One member non-preemptable: the gang cannot go whole, and half of it never goes.
    let c = low_and_high(keep, "high", keep);
    let mut before = c.build(NOW);
    let i = before.tasks.iter().position(|t| t.name == "low-0").expect("low-0");
    before.tasks[i].preemptable = false;
    let (after, out) = pipeline().run(before.clone());
    invariants::check(&before, &after, &out).expect("invariants");
    assert!(out.evictions.is_empty(), "{:?}", evicted(&before, &out));

    let (_, out) = cycle(&low_and_high(keep, "high-never", keep));
    assert!(out.evictions.is_empty(), "PriorityClass preemptionPolicy: Never");

    let (_, out) = cycle(&low_and_high(keep, "high", |g| g.never_preempts = true));
    assert!(out.evictions.is_empty(), "native PodGroup preemptionPolicy: Never");
}

#[test]
fn system_critical_pods_are_never_preempted() {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 1);
    c.priority_class("high", 1000);
    c.bound_pod("kube-system", "gpu-daemon", "n0", |p| p.cpu(1).gpus(8));
    c.gang("ns", "high", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    let (_, out) = cycle(&c);
    assert!(out.evictions.is_empty());
}

#[test]
fn no_eviction_when_the_preemptor_would_still_not_fit() {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    c.gang("ns", "low", "default", 1, 2, |p| p.cpu(1).gpus(4))
        .priority_class("low")
        .running_on(&["n0", "n1"], NOW - 600 * S);
    // Three 8-GPU pods on two 8-GPU nodes: evicting everything would not be enough.
    c.gang("ns", "high", "default", 3, 3, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    let (_, out) = cycle(&c);
    assert!(out.evictions.is_empty());
}

#[test]
fn disruption_mode_all_evicts_the_whole_group_even_when_one_pod_would_do() {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    c.gang("ns", "native", "default", 1, 2, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .with_group(|g| g.disruption = Disruption::All)
        .running_on(&["n0", "n1"], NOW - 60 * S);
    c.gang("ns", "high", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    let (s, out) = cycle(&c);
    assert_eq!(evicted(&s, &out), ["native-0", "native-1"]);

    // `single`: only the pod needed, even below minCount.
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    c.gang("ns", "native", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .with_group(|g| g.disruption = Disruption::Single)
        .running_on(&["n0", "n1"], NOW - 60 * S);
    c.gang("ns", "high", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    let (s, out) = cycle(&c);
    assert_eq!(evicted(&s, &out).len(), 1);
}

#[test]
fn a_job_in_its_cooldown_or_that_evicted_the_preemptor_is_not_a_victim() {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    c.priority_class("low", 10).priority_class("high", 1000);
    c.gang("ns", "low", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .priority_class("low")
        .with_group(|g| {
            g.preempted = Some(Preempted {
                at: NOW - 60 * S,
                by: "ns/other".into(),
            })
        })
        .running_on(&["n0", "n1"], NOW - 30 * S);
    c.gang("ns", "high", "default", 2, 2, |p| p.cpu(1).gpus(8))
        .priority_class("high");
    let (_, out) = cycle(&c);
    assert!(
        out.evictions.is_empty(),
        "preempted a minute ago: 5 minutes of cool-down"
    );
    let (_, out) = cycle_at(&c, NOW + 600 * S);
    assert_eq!(out.evictions.len(), 2, "after the cool-down it may go");

    let c = low_and_high(
        |_| {},
        "high",
        |g| {
            g.preempted = Some(Preempted {
                at: NOW - 3600 * S,
                by: "ns/low".into(),
            })
        },
    );
    let (_, out) = cycle(&c);
    assert!(out.evictions.is_empty(), "never the job that evicted you");
}

/// Two queues of equal weight; `rich` runs 4 × 4-GPU pods on 16 GPUs, `poor` wants 2 × 4 GPUs.
fn two_queues(guarantee: i64, reclaimable: bool) -> ClusterBuilder {
    let mut c = ClusterBuilder::new();
    gpu_nodes(&mut c, 2);
    let q = c.queue("rich").guarantee(&[("nvidia.com/gpu", guarantee)]);
    if !reclaimable {
        q.not_reclaimable();
    }
    c.queue("poor");
    for i in 0..4 {
        c.gang("ns", &format!("rich-{i}"), "rich", 1, 1, |p| p.cpu(1).gpus(4))
            .running_on(&[if i < 2 { "n0" } else { "n1" }], NOW - 60 * S);
    }
    c.gang("ns", "want", "poor", 2, 2, |p| p.cpu(1).gpus(4));
    c
}

#[test]
fn reclaim_takes_back_a_queue_s_share_from_a_queue_above_its_own() {
    let mut c = two_queues(0, true);
    let (s, out) = cycle(&c);
    assert_eq!(out.evictions.len(), 2, "{:?}", evicted(&s, &out));
    assert!(out.evictions.iter().all(|e| e.action == "reclaim"));
    assert!(
        out.evictions[0]
            .reason
            .starts_with("reclaimed by queue poor for ns/want")
    );
    c.apply(&s, &out);
    let (s2, out2) = cycle_at(&c, NOW + S);
    assert_eq!(job_binds(&s2, &out2, "ns", "want").len(), 2);
    // Shares are even now (8 GPUs each): nothing moves any more, whatever the cycles.
    c.apply(&s2, &out2);
    for k in 2..6 {
        let (s3, out3) = cycle_at(&c, NOW + k * 600 * S);
        assert!(out3.evictions.is_empty(), "cycle {k}: {:?}", evicted(&s3, &out3));
        c.apply(&s3, &out3);
    }
}

#[test]
fn reclaim_never_goes_below_a_guarantee_nor_touches_an_unreclaimable_queue() {
    let (_, out) = cycle(&two_queues(16, true));
    assert!(out.evictions.is_empty(), "rich is guaranteed everything it holds");
    let (_, out) = cycle(&two_queues(12, true));
    assert!(
        out.evictions.is_empty(),
        "taking 8 would leave 8 < 12; taking 4 is not enough"
    );
    let (_, out) = cycle(&two_queues(0, false));
    assert!(out.evictions.is_empty(), "reclaimable: false");
}

#[test]
fn evicted_pods_are_only_of_running_jobs_and_every_eviction_places_its_preemptor() {
    let (s, out) = cycle(&full_of_low());
    for e in &out.evictions {
        assert!(matches!(s.task(e.task).status, TaskStatus::Running | TaskStatus::Bound));
        let by = e.by;
        let placed = out
            .binds
            .iter()
            .chain(&out.pipelined)
            .filter(|b| s.task(b.task).job == by)
            .count();
        assert!(placed as u32 >= s.job(by).min_member);
    }
    assert_eq!(job(&s, "ns", "high"), Some(out.evictions[0].by));
}

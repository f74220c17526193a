//! Properties of the start policies and of preempt and reclaim over random GPU clusters with
//! running and pending gangs of several priorities, queues with weights and guarantees, and
//! expected run times (some already overrun):
//!
//! - backfill never delays a reserved job when the estimates hold (every reservation still fits
//!   in the cluster the cycle leaves behind, checked by `invariants::check_reservations_fit`);
//! - preemption never leaves a gang below its minMember (it loses pods beyond it, or all);
//! - reclaim never takes a queue below its guarantee;
//! - no pod is evicted unless its preemptor is placed in the same cycle, and bound in the next;
//! - the same input gives the same evictions, reservations and estimates.
//!
//! Every cycle also keeps the invariants of `caldera_testkit::invariants`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use caldera_framework::snapshot::{GroupRecord, PodPhase};
use caldera_framework::{Disruption, JobId, JobPhase, Outcome, SchedulerConfig, Snapshot, TaskStatus};
use caldera_plugins::Pipeline;
use caldera_testkit::{ClusterBuilder, SplitMix64, invariants};
use proptest::prelude::*;

const S: i64 = 1000;
const NOW: i64 = 100_000 * S;

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
configurations:
- name: allocate
  arguments: {default-expected-runtime: 1h}
"#;

fn load(yaml: &str) -> Pipeline {
    Pipeline::from_config(&SchedulerConfig::parse(yaml).expect("parses")).expect("loads")
}

fn preempting() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| load(PREEMPT))
}

fn easy() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| load(include_str!("../../manifests/examples/policies/easy-backfill.yaml")))
}

fn conservative() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        load(include_str!(
            "../../manifests/examples/policies/conservative-backfill.yaml"
        ))
    })
}

const CLASSES: [&str; 4] = ["low", "mid", "high", "urgent-never"];
const GPUS: [i64; 4] = [1, 2, 4, 8];

/// A random cluster: 2–6 nodes of 8 GPUs, 1–3 queues (weights, some guarantees, some not
/// reclaimable), up to 8 running gangs placed within capacity (some started long ago, some past
/// their expected run time, some not preemptable, some native-style `all`/`single`), and up to 8
/// pending gangs.
fn cluster(seed: u64) -> ClusterBuilder {
    let mut r = SplitMix64::new(seed);
    let mut c = ClusterBuilder::new();
    let nodes = 2 + r.below(5);
    let mut free: Vec<i64> = vec![8; nodes];
    for i in 0..nodes {
        c.node(&format!("n{i}")).cpu(64).mem_gi(512).gpus(8);
    }
    c.priority_class("low", 10)
        .priority_class("mid", 100)
        .priority_class("high", 1000);
    c.never_preempting_priority_class("urgent-never", 2000);
    let queues = 1 + r.below(3);
    for q in 0..queues {
        let mut qm = c.queue(&format!("q{q}")).weight(1 + r.below(3) as u32);
        if r.chance(1, 3) {
            qm = qm.guarantee(&[("nvidia.com/gpu", r.range(0, 8))]);
        }
        if r.chance(1, 5) {
            qm.not_reclaimable();
        }
    }
    let mut gang = |c: &mut ClusterBuilder, r: &mut SplitMix64, name: String, running: bool| {
        let queue = format!("q{}", r.below(queues));
        let min = 1 + r.below(3) as u32;
        let size = min as usize + r.below(3);
        let gpus = GPUS[r.below(GPUS.len())];
        let class = CLASSES[r.below(if running { 3 } else { 4 })];
        let runtime = r.range(60, 2 * 3600) * S;
        let mut placement: Vec<String> = Vec::new();
        if running {
            let mut trial = free.clone();
            let start = r.below(nodes);
            for _ in 0..size {
                match (0..nodes).map(|k| (start + k) % nodes).find(|&n| trial[n] >= gpus) {
                    Some(n) => {
                        trial[n] -= gpus;
                        placement.push(format!("n{n}"));
                    }
                    None => return,
                }
            }
            free = trial;
        }
        let started = NOW - r.range(0, 3 * 3600) * S;
        let created = NOW - r.range(0, 4 * 3600) * S;
        let disruption = match r.below(6) {
            0 => Disruption::All,
            1 => Disruption::Single,
            _ => Disruption::Gang,
        };
        let not_preemptable = r.chance(1, 8);
        let g = c
            .gang_indexed("ns", &name, &queue, min, size, |i, p| {
                let p = p.cpu(1).gpus(gpus);
                match placement.get(i) {
                    Some(n) => p.running_on(n).started(started),
                    None => p,
                }
            })
            .priority_class(class)
            .runtime(runtime)
            .created(created)
            .with_group(|g: &mut GroupRecord| {
                g.disruption = disruption;
                g.preemptable = !not_preemptable;
            });
        if running {
            g.phase(JobPhase::Running);
        }
    };
    for k in 0..r.below(9) {
        gang(&mut c, &mut r, format!("run-{k}"), true);
    }
    for k in 1..=1 + r.below(8) {
        gang(&mut c, &mut r, format!("wait-{k}"), false);
    }
    c
}

fn cycle(p: &Pipeline, c: &ClusterBuilder, now: i64) -> Result<(Snapshot, Snapshot, Outcome), TestCaseError> {
    let before = c.build(now);
    let (after, out) = p.run(before.clone());
    if let Err(e) = invariants::check(&before, &after, &out) {
        return Err(TestCaseError::fail(format!("invariants: {e}")));
    }
    Ok((before, after, out))
}

/// Pods holding a node for their job after the cycle (not those being evicted).
fn holding(s: &Snapshot, j: JobId) -> u32 {
    s.job(j)
        .tasks
        .iter()
        .filter(|t| {
            matches!(
                s.task(**t).status,
                TaskStatus::Allocated | TaskStatus::Binding | TaskStatus::Bound | TaskStatus::Running
            )
        })
        .count() as u32
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The generator is not vacuous: the sample evicts, reclaims, reserves and backfills.
#[test]
fn random_clusters_exercise_eviction_and_reservation() {
    let (mut preempted, mut reclaimed, mut reserved, mut estimated) = (0, 0, 0, 0);
    for seed in 0..200u64 {
        let c = cluster(seed);
        let (_, out) = preempting().run(c.build(NOW));
        preempted += out.evictions.iter().filter(|e| e.action == "preempt").count();
        reclaimed += out.evictions.iter().filter(|e| e.action == "reclaim").count();
        let (_, out) = easy().run(c.build(NOW));
        reserved += out.reservations.len();
        estimated += out.estimated_starts.len();
    }
    assert!(
        preempted > 20 && reclaimed > 20 && reserved > 20 && estimated > 100,
        "{preempted} preempted, {reclaimed} reclaimed, {reserved} reserved, {estimated} estimated"
    );
}

proptest! {
    #![proptest_config(config())]

    /// Backfill never delays a reserved job when the estimates hold.
    #[test]
    fn reservations_still_fit_after_the_cycle(seed in any::<u64>()) {
        let c = cluster(seed);
        for p in [easy(), conservative()] {
            let (_, after, out) = cycle(p, &c, NOW)?;
            if let Err(e) = invariants::check_reservations_fit(&after, &out, p.policy().default_runtime) {
                return Err(TestCaseError::fail(format!("{e}\nreservations: {:?}", out.reservations)));
            }
        }
    }

    /// Preemption and reclaim never leave a gang below its minMember, over three cycles.
    #[test]
    fn eviction_never_leaves_a_gang_below_min_member(seed in any::<u64>()) {
        let mut c = cluster(seed);
        for k in 0..3 {
            let (before, after, out) = cycle(preempting(), &c, NOW + k * S)?;
            let mut hit: BTreeMap<JobId, u32> = BTreeMap::new();
            for e in &out.evictions {
                *hit.entry(before.task(e.task).job).or_default() += 1;
            }
            for (j, n) in hit {
                let job = after.job(j);
                let left = holding(&after, j);
                prop_assert!(
                    job.disruption == Disruption::Single || left == 0 || left >= job.min_member,
                    "cycle {}: {} lost {} pods and keeps {} < minMember {}", k, job.key(), n, left, job.min_member
                );
            }
            c.apply(&before, &out);
        }
    }

    /// Reclaim never takes a queue below its guarantee.
    #[test]
    fn reclaim_never_goes_below_a_guarantee(seed in any::<u64>()) {
        let c = cluster(seed);
        let (before, after, out) = cycle(preempting(), &c, NOW)?;
        for e in out.evictions.iter().filter(|e| e.action == "reclaim") {
            let q = before.job(before.task(e.task).job).queue;
            let queue = after.queue(q);
            let mut held = caldera_framework::Resources::new();
            for t in &after.tasks {
                if after.job(t.job).queue == q && t.status.occupies_node() && t.status != TaskStatus::Releasing {
                    held.add(&t.spec.request);
                }
            }
            for (id, g) in queue.guarantee.iter() {
                prop_assert!(held.get(id) >= g, "queue {} holds {} < guarantee {}", queue.name, held.get(id), g);
            }
            prop_assert!(queue.reclaimable, "queue {} is not reclaimable", queue.name);
        }
    }

    /// No pod is evicted unless its preemptor is placed whole in the same cycle (bound or
    /// waiting on the freed room) and bound in the next, unless it is itself evicted then.
    #[test]
    fn no_eviction_unless_the_preemptor_is_placed(seed in any::<u64>()) {
        preemptor_placed(seed)?;
    }

    /// The same input gives the same evictions, reservations and estimates.
    #[test]
    fn eviction_and_reservation_are_deterministic(seed in any::<u64>()) {
        let c = cluster(seed);
        for p in [preempting(), easy(), conservative()] {
            let (_, a) = p.run(c.build(NOW));
            let (_, b) = p.run(c.build_shuffled(NOW, seed));
            let key = |s: &Snapshot, o: &Outcome| {
                let ev: Vec<(String, String)> = o.evictions.iter().map(|e| (s.task(e.task).key(), s.job(e.by).key())).collect();
                let res: Vec<(String, i64)> = o.reservations.iter().map(|(j, r)| (s.job(*j).key(), r.start)).collect();
                let est: Vec<(String, i64)> = o.estimated_starts.iter().map(|(j, t)| (s.job(*j).key(), *t)).collect();
                (ev, res, est)
            };
            let sa = c.build(NOW);
            let sb = c.build_shuffled(NOW, seed);
            prop_assert_eq!(key(&sa, &a), key(&sb, &b));
        }
    }
}

#[test]
fn pods_of_the_generator_are_within_capacity() {
    for seed in 0..50u64 {
        let s = cluster(seed).build(NOW);
        for n in &s.nodes {
            assert!(n.used.all_le(&n.allocatable), "seed {seed}: {} over", n.name);
        }
        assert!(
            s.tasks
                .iter()
                .all(|t| t.status != TaskStatus::Releasing || t.node.is_some())
        );
        let _ = PodPhase::Running;
    }
}

/// The body of `no_eviction_unless_the_preemptor_is_placed`, callable with one seed.
fn preemptor_placed(seed: u64) -> Result<(), TestCaseError> {
    let mut c = cluster(seed);
    let (before, after, out) = cycle(preempting(), &c, NOW)?;
    let mut preemptors: Vec<JobId> = out.evictions.iter().map(|e| e.by).collect();
    preemptors.dedup();
    for &j in &preemptors {
        let bound = after
            .job(j)
            .tasks
            .iter()
            .filter(|t| {
                matches!(
                    after.task(**t).status,
                    TaskStatus::Binding | TaskStatus::Bound | TaskStatus::Running
                )
            })
            .count();
        let nominated = out.pipelined.iter().filter(|p| after.task(p.task).job == j).count();
        let placed = (bound + nominated) as u32;
        prop_assert!(
            placed >= after.job(j).min_member.max(1),
            "{} evicted pods but has only {} placed",
            after.job(j).key(),
            placed
        );
    }
    c.apply(&before, &out);
    let (before2, after2, out2) = cycle(preempting(), &c, NOW + S)?;
    for j in preemptors {
        let key = before.job(j).key();
        let j2 = before2
            .job_ids()
            .find(|x| before2.job(*x).key() == key)
            .expect("same job");
        let evicted_again = out2.evictions.iter().any(|e| before2.task(e.task).job == j2);
        prop_assert!(
            evicted_again || holding(&after2, j2) >= after2.job(j2).min_member.max(1),
            "{} was not bound in the cycle after its preemption",
            key
        );
    }
    Ok(())
}

/// Seeds that found the node search ignoring nominations (see `NodeInfo::future_idle_of`).
#[test]
fn preemptor_placed_on_seeds_that_found_a_bug() {
    for seed in [
        15670805591147363411,
        9871055956425944233,
        15022662627581944022,
        181191799023183661,
        6022363014920338857,
    ] {
        if let Err(e) = preemptor_placed(seed) {
            panic!("seed {seed}: {e}");
        }
    }
}

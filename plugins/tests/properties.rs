//! Properties of the default pipeline over random clusters (see `caldera_testkit::arb`):
//! every cycle keeps the invariants of `caldera_testkit::invariants`, the same input always gives
//! the same decisions, the order records arrive in changes nothing, and over several cycles (binds
//! applied between them) the invariants keep holding and no pod is bound twice.
//!
//! The properties at the end add pods being deleted (releasing resources) to the mix, and check
//! that what is pipelined onto releasing resources still fits once they are gone.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use caldera_framework::{Outcome, SchedulerConfig, Snapshot, TaintEffect, TaskId, TaskStatus};
use caldera_plugins::Pipeline;
use caldera_testkit::arb::arb_cluster;
use caldera_testkit::{ClusterBuilder, invariants, query};
use proptest::prelude::*;

fn pipeline() -> &'static Pipeline {
    static PIPELINE: OnceLock<Pipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| Pipeline::default_pipeline().expect("the default configuration loads"))
}

fn run(snap: &Snapshot) -> (Snapshot, Outcome) {
    pipeline().run(snap.clone())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The checker is not vacuous: pipelines without the gang or the predicates plugin break it.
#[test]
fn the_checker_catches_pipelines_missing_gang_or_predicates() {
    let mut c = ClusterBuilder::new();
    c.node("gpu-1").cpu(96).mem_gi(512).gpus(8);
    c.node("tainted")
        .cpu(96)
        .mem_gi(512)
        .gpus(8)
        .taint("dedicated", "ml", TaintEffect::NoSchedule);
    // Two of the three pods fit on gpu-1; the third only on the node it does not tolerate.
    c.gang("ml", "three", "default", 3, 3, |p| p.cpu(1).gpus(4));
    let before = c.build(0);
    let broken = |without: &str| {
        let mut yaml = String::from("actions: \"enqueue, allocate, backfill\"\ntiers:\n- plugins:\n");
        for name in ["priority", "gang", "drf", "predicates", "proportion", "binpack"] {
            if name != without {
                yaml.push_str(&format!("  - name: {name}\n"));
            }
        }
        let cfg = SchedulerConfig::parse(&yaml).expect("configuration parses");
        let (after, out) = Pipeline::from_config(&cfg).expect("pipeline").run(before.clone());
        invariants::check(&before, &after, &out).expect_err("a broken pipeline is caught")
    };
    assert!(
        broken("gang").contains("(a) job ml/three got 2 binds"),
        "{}",
        broken("gang")
    );
    assert!(
        broken("predicates").contains("was bound to node tainted, which has untolerated taint"),
        "{}",
        broken("predicates")
    );
    let (after, out) = pipeline().run(before.clone());
    invariants::check(&before, &after, &out).expect("the default pipeline keeps the invariants");
}

/// The random clusters are not vacuous: across a deterministic sample, cycles bind pods, leave
/// gangs unschedulable and pipeline nothing only sometimes.
#[test]
fn random_clusters_exercise_binding_and_failure() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = arb_cluster();
    let (mut binds, mut unschedulable, mut with_binds) = (0, 0, 0);
    for _ in 0..64 {
        let snap = strategy
            .new_tree(&mut runner)
            .expect("a cluster")
            .current()
            .build(1_000);
        let (_, out) = run(&snap);
        binds += out.binds.len();
        with_binds += usize::from(!out.binds.is_empty());
        unschedulable += out
            .conditions
            .values()
            .filter(|c| matches!(c, caldera_framework::JobCondition::Unschedulable { .. }))
            .count();
    }
    assert!(
        binds > 100 && with_binds > 32 && unschedulable > 32,
        "{binds} binds, {with_binds} cycles with binds, {unschedulable} unschedulable"
    );
}

proptest! {
    #![proptest_config(config())]

    /// One cycle never breaks a gang, over-fills a node, binds a pod twice or ignores a predicate.
    #[test]
    fn one_cycle_keeps_the_invariants(cluster in arb_cluster()) {
        let before = cluster.build(1_000);
        let (after, outcome) = run(&before);
        if let Err(e) = invariants::check(&before, &after, &outcome) {
            return Err(TestCaseError::fail(format!("{e}\nbinds: {:?}", query::binds(&before, &outcome))));
        }
    }

    /// The same snapshot gives the same binds, pipelined tasks, phases, conditions and messages.
    #[test]
    fn cycles_are_deterministic(cluster in arb_cluster()) {
        let snap = cluster.build(1_000);
        let (a_snap, a) = run(&snap);
        let (b_snap, b) = run(&snap);
        prop_assert_eq!(&a.binds, &b.binds);
        prop_assert_eq!(&a.pipelined, &b.pipelined);
        prop_assert_eq!(&a.conditions, &b.conditions);
        prop_assert_eq!(&a.jobs, &b.jobs);
        prop_assert_eq!(&a.job_messages, &b.job_messages);
        prop_assert_eq!(&a.unschedulable, &b.unschedulable);
        prop_assert_eq!(query::decisions(&a_snap, &a), query::decisions(&b_snap, &b));
    }

    /// Records handed to the snapshot builder in any order give the same binds.
    #[test]
    fn record_order_does_not_matter(cluster in arb_cluster(), seeds in (any::<u64>(), any::<u64>())) {
        let (snap, out) = run(&cluster.build(1_000));
        let expected = query::decisions(&snap, &out);
        for seed in [seeds.0, seeds.1] {
            let (s, o) = run(&cluster.build_shuffled(1_000, seed));
            prop_assert_eq!(&query::binds(&s, &o), &expected.binds, "binds differ with shuffle seed {}", seed);
            prop_assert_eq!(&query::decisions(&s, &o), &expected, "decisions differ with shuffle seed {}", seed);
        }
    }

    /// Why a pod fits nowhere, as the per-class caches keep it current through a cycle's
    /// placements and rollbacks, is exactly what a fresh search of the cycle's end state says
    /// (and where a pod fits, both pick the same node).
    #[test]
    fn reasons_kept_through_a_cycle_match_a_fresh_search(cluster in arb_cluster()) {
        let p = pipeline();
        let mut ssn = p.open(cluster.build(1_000));
        for action in p.actions() {
            action.execute(&mut ssn);
        }
        let pending: Vec<TaskId> = ssn
            .snap
            .job_ids()
            .flat_map(|j| ssn.snap.job(j).tasks.clone())
            .filter(|t| ssn.snap.task(*t).status == TaskStatus::Pending)
            .take(16)
            .collect();
        for t in pending {
            let kept = ssn.find_node(t);
            let fresh = p.open(ssn.snap.clone()).find_node(t);
            prop_assert_eq!(&kept, &fresh, "task {}", ssn.snap.task(t).name);
        }
    }

    /// Three cycles with each cycle's binds applied before the next: the invariants hold every
    /// time and no pod is ever bound twice (unless it was evicted in between).
    #[test]
    fn repeated_cycles_keep_the_invariants(cluster in arb_cluster()) {
        let mut cluster = cluster;
        let mut ever_bound: BTreeSet<String> = BTreeSet::new();
        for cycle in 0..3i64 {
            let before = cluster.build(1_000 * (cycle + 1));
            let (after, outcome) = run(&before);
            if let Err(e) = invariants::check(&before, &after, &outcome) {
                return Err(TestCaseError::fail(format!("cycle {cycle}: {e}")));
            }
            for (pod, node) in query::binds(&before, &outcome) {
                prop_assert!(ever_bound.insert(pod.clone()), "cycle {}: {} bound again (to {})", cycle, pod, node);
            }
            // An evicted pod comes back as a new incarnation (`ClusterBuilder::apply`) and may be
            // bound again.
            for e in &outcome.evictions {
                ever_bound.remove(&before.task(e.task).key());
            }
            cluster.apply(&before, &outcome);
        }
    }
}

proptest! {
    // More cases: the failures these catch need a particular mix of releasing pods.
    #![proptest_config(ProptestConfig { cases: 2048, ..config() })]

    /// The invariants with pods being deleted too.
    #[test]
    fn one_cycle_keeps_the_invariants_with_releasing_pods(cluster in arb_cluster()) {
        let before = cluster.build(1_000);
        let (after, outcome) = run(&before);
        if let Err(e) = invariants::check(&before, &after, &outcome) {
            return Err(TestCaseError::fail(format!("{e}\nbinds: {:?}", query::binds(&before, &outcome))));
        }
    }

    /// What is pipelined onto releasing resources is still there for it once they are released.
    #[test]
    fn pipelined_reservations_hold(cluster in arb_cluster()) {
        let before = cluster.build(1_000);
        let (after, outcome) = run(&before);
        if let Err(e) = invariants::check_reservations(&before, &after, &outcome) {
            return Err(TestCaseError::fail(format!("{e}\npipelined: {:?}", query::pipelined(&before, &outcome))));
        }
    }
}

//! Properties of the default pipeline over random clusters (see `caldera_testkit::arb`):
//! every cycle keeps the invariants of `caldera_testkit::invariants`, the same input always gives
//! the same decisions, the order records arrive in changes nothing, and over several cycles (binds
//! applied between them) the invariants keep holding and no pod is bound twice.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use caldera_framework::{Outcome, Snapshot};
use caldera_plugins::Pipeline;
use caldera_testkit::arb::{arb_cluster, arb_cluster_without_releasing};
use caldera_testkit::{invariants, query};
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

proptest! {
    #![proptest_config(config())]

    /// One cycle never breaks a gang, over-fills a node, binds a pod twice or ignores a predicate.
    #[test]
    fn one_cycle_keeps_the_invariants(cluster in arb_cluster_without_releasing()) {
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

    /// Three cycles with each cycle's binds applied before the next: the invariants hold every
    /// time and no pod is ever bound twice.
    #[test]
    fn repeated_cycles_keep_the_invariants(cluster in arb_cluster_without_releasing()) {
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
            cluster.apply(&before, &outcome);
        }
    }
}

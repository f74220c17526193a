use caldera_plugins::Pipeline;
use caldera_testkit::arb::arb_cluster;
use caldera_testkit::invariants;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn scratch(cluster in arb_cluster()) {
        let p = Pipeline::default_pipeline().unwrap();
        let before = cluster.build(1000);
        let (after, out) = p.run(before.clone());
        let be_bind = out.binds.iter().any(|b| before.task(b.task).spec.request.is_best_effort());
        if let Err(e) = invariants::check(&before, &after, &out) {
            if !(be_bind && e.lines().all(|l| l.contains("over-allocated: pods"))) {
                return Err(TestCaseError::fail(e));
            }
        }
        if let Err(e) = invariants::check_reservations(&before, &after) {
            eprintln!("RESERVATION: {e}");
        }
    }
}

//! Taints and tolerations: NoSchedule and NoExecute taints filter, PreferNoSchedule taints score.

use caldera_framework::{NodeInfo, Reason, TaintEffect, TaskSpec};

/// Fails on the node's first taint (in the node's own order, as kube-scheduler reports it) that
/// repels new pods and that none of the pod's tolerations covers.
///
/// This is the one failure whose message carries data, so the only predicate path that allocates.
pub(crate) fn check(spec: &TaskSpec, node: &NodeInfo) -> Result<(), Reason> {
    let untolerated = node.taints.iter().find(|taint| {
        matches!(taint.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
            && !spec.tolerations.iter().any(|t| t.tolerates(taint))
    });
    match untolerated {
        None => Ok(()),
        Some(taint) => Err(format!("node(s) had untolerated taint {{{}: {}}}", taint.key, taint.value).into()),
    }
}

/// How many PreferNoSchedule taints the pod does not tolerate.
///
/// kube-scheduler turns this count into 0–100 across all feasible nodes; Caldera scores each node
/// on its own (so cached scores stay valid when other nodes change), so the raw count is used.
pub(crate) fn intolerable_prefer_no_schedule(spec: &TaskSpec, node: &NodeInfo) -> i64 {
    let mut count = 0i64;
    for taint in &node.taints {
        // A toleration with an explicit NoSchedule/NoExecute effect does not cover a soft taint;
        // `tolerates` already compares effects, so no pre-filtering of tolerations is needed.
        if taint.effect == TaintEffect::PreferNoSchedule && !spec.tolerations.iter().any(|t| t.tolerates(taint)) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use caldera_framework::{Arguments, Plugin, TaintEffect, TaskSpec, TolerationOp};

    use super::super::testutil::*;
    use super::super::*;

    fn tainted(name: &str, taints: &[(&str, &str, TaintEffect)]) -> caldera_framework::snapshot::NodeRecord {
        let mut n = node(name, &[]);
        n.taints = taints.iter().map(|(k, v, e)| taint(k, v, *e)).collect();
        n
    }

    #[test]
    fn untolerated_taint_is_reported_as_kube_scheduler_does() {
        let nodes = vec![
            tainted("gpu", &[("nvidia.com/gpu", "true", TaintEffect::NoSchedule)]),
            tainted("empty-value", &[("dedicated", "", TaintEffect::NoExecute)]),
            tainted("soft", &[("spot", "yes", TaintEffect::PreferNoSchedule)]),
            tainted(
                "two",
                &[
                    ("a", "1", TaintEffect::PreferNoSchedule),
                    ("b", "2", TaintEffect::NoSchedule),
                    ("c", "3", TaintEffect::NoSchedule),
                ],
            ),
        ];
        let f = Fixture::new(nodes, vec![pending("p", TaskSpec::default())]);
        assert_eq!(
            f.check("p", "gpu"),
            Err("node(s) had untolerated taint {nvidia.com/gpu: true}".to_string())
        );
        assert_eq!(
            f.check("p", "empty-value"),
            Err("node(s) had untolerated taint {dedicated: }".to_string())
        );
        assert_eq!(f.check("p", "soft"), Ok(()), "PreferNoSchedule only scores");
        assert_eq!(
            f.check("p", "two"),
            Err("node(s) had untolerated taint {b: 2}".to_string()),
            "first hard taint"
        );
    }

    #[test]
    fn tolerations_match_key_value_and_effect() {
        let nodes = vec![
            tainted("gpu", &[("gpu", "true", TaintEffect::NoSchedule)]),
            tainted("exec", &[("gpu", "true", TaintEffect::NoExecute)]),
        ];
        let spec = |tols: Vec<caldera_framework::Toleration>| TaskSpec {
            tolerations: tols,
            ..TaskSpec::default()
        };
        let pods = vec![
            pending(
                "equal",
                spec(vec![toleration("gpu", TolerationOp::Equal, "true", None)]),
            ),
            pending(
                "wrong-value",
                spec(vec![toleration("gpu", TolerationOp::Equal, "false", None)]),
            ),
            pending("exists", spec(vec![toleration("gpu", TolerationOp::Exists, "", None)])),
            pending("any-key", spec(vec![toleration("", TolerationOp::Exists, "", None)])),
            pending(
                "no-schedule-only",
                spec(vec![toleration(
                    "gpu",
                    TolerationOp::Exists,
                    "",
                    Some(TaintEffect::NoSchedule),
                )]),
            ),
            pending(
                "no-execute-only",
                spec(vec![toleration(
                    "",
                    TolerationOp::Exists,
                    "",
                    Some(TaintEffect::NoExecute),
                )]),
            ),
        ];
        let f = Fixture::new(nodes, pods);
        let untolerated_gpu = Err("node(s) had untolerated taint {gpu: true}".to_string());
        assert_eq!(f.check("equal", "gpu"), Ok(()));
        assert_eq!(f.check("equal", "exec"), Ok(()));
        assert_eq!(f.check("wrong-value", "gpu"), untolerated_gpu);
        assert_eq!(f.check("exists", "exec"), Ok(()));
        assert_eq!(f.check("any-key", "gpu"), Ok(()));
        assert_eq!(f.check("any-key", "exec"), Ok(()));
        assert_eq!(f.check("no-schedule-only", "gpu"), Ok(()));
        assert_eq!(f.check("no-schedule-only", "exec"), untolerated_gpu);
        assert_eq!(f.check("no-execute-only", "exec"), Ok(()));
        assert_eq!(f.check("no-execute-only", "gpu"), untolerated_gpu);
    }

    #[test]
    fn prefer_no_schedule_lowers_the_score_by_weight() {
        let nodes = vec![
            tainted("clean", &[]),
            tainted(
                "two-soft",
                &[
                    ("a", "1", TaintEffect::PreferNoSchedule),
                    ("b", "", TaintEffect::PreferNoSchedule),
                ],
            ),
        ];
        let pods = vec![
            pending("plain", TaskSpec::default()),
            pending(
                "tolerates-a",
                TaskSpec {
                    tolerations: vec![toleration(
                        "a",
                        TolerationOp::Exists,
                        "",
                        Some(TaintEffect::PreferNoSchedule),
                    )],
                    ..TaskSpec::default()
                },
            ),
            pending(
                "hard-only",
                TaskSpec {
                    tolerations: vec![toleration("", TolerationOp::Exists, "", Some(TaintEffect::NoSchedule))],
                    ..TaskSpec::default()
                },
            ),
        ];
        let f = Fixture::new(nodes, pods);
        assert_eq!(f.score("plain", "clean"), 0);
        assert_eq!(f.score("plain", "two-soft"), -6, "default weight 3");
        assert_eq!(f.score("tolerates-a", "two-soft"), -3);
        assert_eq!(
            f.score("hard-only", "two-soft"),
            -6,
            "a NoSchedule toleration does not cover PreferNoSchedule"
        );

        let weighted = Fixture::with_args(f.snapshot.clone(), &args(&[("tainttoleration.weight", "10")]));
        assert_eq!(weighted.score("plain", "two-soft"), -20);
        let off = Predicates::new(&args(&[("tainttoleration.weight", "0")])).expect("valid");
        assert!(
            !off.hooks().has(caldera_framework::Hooks::NODE_ORDER),
            "a zero weight skips scoring"
        );
        assert!(Predicates::new(&args(&[("tainttoleration.weight", "-1")])).is_err());
        assert!(
            Predicates::new(&Arguments::default())
                .expect("valid")
                .hooks()
                .has(caldera_framework::Hooks::NODE_ORDER)
        );
    }

    #[test]
    fn switch_turns_the_taint_filter_off() {
        let f = Fixture::with_args(
            Fixture::new(
                vec![tainted("gpu", &[("gpu", "true", TaintEffect::NoSchedule)])],
                vec![pending("p", TaskSpec::default())],
            )
            .snapshot,
            &args(&[("predicate.TaintTolerationEnable", "false")]),
        );
        assert_eq!(f.check("p", "gpu"), Ok(()));
    }
}

//! Filters on the node's own condition and on `spec.nodeName`, which no Volcano switch turns off.

use std::borrow::Cow;

use caldera_framework::{NodeInfo, Reason, Taint, TaskSpec};

use super::{NODE_NAME_MISMATCH, NODE_NOT_READY, NODE_UNSCHEDULABLE};

/// Readiness, then cordon, then node name: kube-scheduler's plugin order, so the reported reason
/// is the one a user of kube-scheduler would see first.
///
/// A cordoned node still takes pods that tolerate `unschedulable_taint`, as kube-scheduler allows
/// (DaemonSet-style pods carry that toleration to keep running through a drain).
pub(super) fn check(spec: &TaskSpec, node: &NodeInfo, unschedulable_taint: &Taint) -> Result<(), Reason> {
    if !node.ready {
        return Err(Cow::Borrowed(NODE_NOT_READY));
    }
    if node.unschedulable && !spec.tolerations.iter().any(|t| t.tolerates(unschedulable_taint)) {
        return Err(Cow::Borrowed(NODE_UNSCHEDULABLE));
    }
    if let Some(name) = &spec.node_name
        && *name != node.name
    {
        return Err(Cow::Borrowed(NODE_NAME_MISMATCH));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use caldera_framework::{TaintEffect, TaskSpec, TolerationOp};

    use super::super::testutil::*;
    use super::super::*;

    #[test]
    fn not_ready_node_is_rejected_first() {
        let mut n = node("n1", &[]);
        n.ready = false;
        n.unschedulable = true;
        let f = Fixture::new(vec![n], vec![pending("p", TaskSpec::default())]);
        assert_eq!(f.check("p", "n1"), Err(NODE_NOT_READY.to_string()));
    }

    #[test]
    fn cordoned_node_needs_the_unschedulable_toleration() {
        let mut n = node("n1", &[]);
        n.unschedulable = true;
        let plain = TaskSpec::default();
        let tolerant = TaskSpec {
            tolerations: vec![toleration(
                UNSCHEDULABLE_TAINT_KEY,
                TolerationOp::Exists,
                "",
                Some(TaintEffect::NoSchedule),
            )],
            ..TaskSpec::default()
        };
        let wrong_effect = TaskSpec {
            tolerations: vec![toleration(
                UNSCHEDULABLE_TAINT_KEY,
                TolerationOp::Exists,
                "",
                Some(TaintEffect::NoExecute),
            )],
            ..TaskSpec::default()
        };
        let everything = TaskSpec {
            tolerations: vec![toleration("", TolerationOp::Exists, "", None)],
            ..TaskSpec::default()
        };
        let f = Fixture::new(
            vec![n],
            vec![
                pending("plain", plain),
                pending("tolerant", tolerant),
                pending("wrong-effect", wrong_effect),
                pending("everything", everything),
            ],
        );
        assert_eq!(f.check("plain", "n1"), Err(NODE_UNSCHEDULABLE.to_string()));
        assert_eq!(f.check("tolerant", "n1"), Ok(()));
        assert_eq!(f.check("wrong-effect", "n1"), Err(NODE_UNSCHEDULABLE.to_string()));
        assert_eq!(f.check("everything", "n1"), Ok(()));
    }

    #[test]
    fn node_name_pins_the_pod() {
        let spec = TaskSpec {
            node_name: Some("n2".into()),
            ..TaskSpec::default()
        };
        let f = Fixture::new(vec![node("n1", &[]), node("n2", &[])], vec![pending("p", spec)]);
        assert_eq!(f.check("p", "n1"), Err(NODE_NAME_MISMATCH.to_string()));
        assert_eq!(f.check("p", "n2"), Ok(()));
    }
}

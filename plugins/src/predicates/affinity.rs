//! Node affinity: `spec.nodeSelector` and required `nodeAffinity`, both of which must hold.

use caldera_framework::{NodeInfo, NodeSelectorTerm, Requirement, SelectorOp, TaskSpec};

/// The only node field Kubernetes lets `matchFields` name.
const NAME_FIELD: &str = "metadata.name";

/// Whether the node satisfies the pod's node selector and its required node affinity.
pub(crate) fn matches(spec: &TaskSpec, node: &NodeInfo) -> bool {
    spec.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v))
        && spec
            .node_affinity
            .required
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|t| term_matches(t, node)))
}

/// A term with no requirements selects nothing (Kubernetes skips it), so a pod cannot opt out of
/// its own affinity by adding an empty term next to real ones.
pub(crate) fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    term.match_expressions
        .iter()
        .all(|r| well_formed(r) && r.matches(&node.labels))
        && term
            .match_fields
            .iter()
            .all(|r| r.key == NAME_FIELD && well_formed(r) && r.matches_value(Some(&node.name)))
}

/// Kubernetes cannot build a selector from a malformed requirement and then treats its whole term
/// as not matching; the API server rejects most of these, but records may come from elsewhere.
fn well_formed(r: &Requirement) -> bool {
    match r.op {
        SelectorOp::In | SelectorOp::NotIn => !r.values.is_empty(),
        SelectorOp::Exists | SelectorOp::DoesNotExist => r.values.is_empty(),
        SelectorOp::Gt | SelectorOp::Lt => r.values.len() == 1,
    }
}

#[cfg(test)]
mod tests {
    use caldera_framework::{NodeAffinity, NodeSelectorTerm, SelectorOp, TaskSpec};

    use super::super::testutil::*;
    use super::super::*;

    fn required(terms: Vec<NodeSelectorTerm>) -> TaskSpec {
        TaskSpec {
            node_affinity: NodeAffinity {
                required: Some(terms),
                preferred: Vec::new(),
            },
            ..TaskSpec::default()
        }
    }

    fn exprs(reqs: Vec<caldera_framework::Requirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: reqs,
            match_fields: Vec::new(),
        }
    }

    fn fields(reqs: Vec<caldera_framework::Requirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Vec::new(),
            match_fields: reqs,
        }
    }

    /// Nodes: a (zone=a, gpus=8), b (zone=b, gpus=2), c (no zone, gpus=x).
    fn nodes() -> Vec<caldera_framework::snapshot::NodeRecord> {
        vec![
            node("a", &[("zone", "a"), ("gpus", "8")]),
            node("b", &[("zone", "b"), ("gpus", "2")]),
            node("c", &[("gpus", "x")]),
        ]
    }

    /// Which of a, b, c accept the spec.
    fn fitting(spec: TaskSpec) -> Vec<&'static str> {
        let f = Fixture::new(nodes(), vec![pending("p", spec)]);
        let verdicts: Vec<_> = ["a", "b", "c"].into_iter().map(|n| (n, f.check("p", n))).collect();
        for (_, v) in &verdicts {
            if let Err(e) = v {
                assert_eq!(e, NODE_AFFINITY_MISMATCH);
            }
        }
        verdicts
            .into_iter()
            .filter(|(_, v)| v.is_ok())
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn every_operator() {
        let one = |r| fitting(required(vec![exprs(vec![r])]));
        assert_eq!(one(req("zone", SelectorOp::In, &["a", "z"])), ["a"]);
        assert_eq!(
            one(req("zone", SelectorOp::NotIn, &["a"])),
            ["b", "c"],
            "NotIn matches a missing key"
        );
        assert_eq!(one(req("zone", SelectorOp::Exists, &[])), ["a", "b"]);
        assert_eq!(one(req("zone", SelectorOp::DoesNotExist, &[])), ["c"]);
        assert_eq!(
            one(req("gpus", SelectorOp::Gt, &["4"])),
            ["a"],
            "non-integer value never matches"
        );
        assert_eq!(one(req("gpus", SelectorOp::Lt, &["4"])), ["b"]);
        assert_eq!(one(req("zone", SelectorOp::Gt, &["4"])), Vec::<&str>::new());
        assert_eq!(
            one(req("gpus", SelectorOp::Gt, &["x"])),
            Vec::<&str>::new(),
            "non-integer operand"
        );
    }

    #[test]
    fn malformed_requirements_match_nothing() {
        let one = |r| fitting(required(vec![exprs(vec![r])]));
        assert_eq!(one(req("zone", SelectorOp::NotIn, &[])), Vec::<&str>::new());
        assert_eq!(one(req("zone", SelectorOp::Exists, &["a"])), Vec::<&str>::new());
        assert_eq!(one(req("gpus", SelectorOp::Gt, &["1", "2"])), Vec::<&str>::new());
    }

    #[test]
    fn match_fields_select_by_node_name() {
        assert_eq!(
            fitting(required(vec![fields(vec![req(
                "metadata.name",
                SelectorOp::In,
                &["b", "c"]
            )])])),
            ["b", "c"]
        );
        assert_eq!(
            fitting(required(vec![fields(vec![req(
                "metadata.name",
                SelectorOp::NotIn,
                &["b"]
            )])])),
            ["a", "c"]
        );
        assert_eq!(
            fitting(required(vec![fields(vec![req(
                "metadata.uid",
                SelectorOp::In,
                &["a"]
            )])])),
            Vec::<&str>::new(),
            "no other field exists"
        );
    }

    #[test]
    fn terms_are_ored_and_requirements_anded() {
        let term = NodeSelectorTerm {
            match_expressions: vec![req("gpus", SelectorOp::Exists, &[])],
            match_fields: vec![req("metadata.name", SelectorOp::In, &["a", "c"])],
        };
        assert_eq!(fitting(required(vec![term.clone()])), ["a", "c"]);
        let both = exprs(vec![
            req("zone", SelectorOp::Exists, &[]),
            req("gpus", SelectorOp::Lt, &["4"]),
        ]);
        assert_eq!(fitting(required(vec![both])), ["b"]);
        let either = vec![
            exprs(vec![req("zone", SelectorOp::In, &["a"])]),
            exprs(vec![req("zone", SelectorOp::DoesNotExist, &[])]),
        ];
        assert_eq!(fitting(required(either)), ["a", "c"]);
    }

    #[test]
    fn empty_terms_match_nothing() {
        assert_eq!(fitting(required(Vec::new())), Vec::<&str>::new(), "an empty term list");
        assert_eq!(
            fitting(required(vec![NodeSelectorTerm::default()])),
            Vec::<&str>::new(),
            "an empty term"
        );
        let with_empty = vec![
            NodeSelectorTerm::default(),
            exprs(vec![req("zone", SelectorOp::In, &["b"])]),
        ];
        assert_eq!(
            fitting(required(with_empty)),
            ["b"],
            "an empty term does not widen the others"
        );
        assert_eq!(fitting(TaskSpec::default()), ["a", "b", "c"], "no affinity at all");
    }

    #[test]
    fn node_selector_and_affinity_must_both_hold() {
        let selector = TaskSpec {
            node_selector: labels(&[("zone", "a")]),
            ..TaskSpec::default()
        };
        assert_eq!(fitting(selector.clone()), ["a"]);
        let missing = TaskSpec {
            node_selector: labels(&[("zone", "a"), ("rack", "1")]),
            ..TaskSpec::default()
        };
        assert_eq!(fitting(missing), Vec::<&str>::new());
        let conflicting = TaskSpec {
            node_selector: selector.node_selector,
            ..required(vec![exprs(vec![req("zone", SelectorOp::In, &["b"])])])
        };
        assert_eq!(fitting(conflicting), Vec::<&str>::new());
    }

    #[test]
    fn switch_turns_node_affinity_off() {
        let spec = TaskSpec {
            node_selector: labels(&[("zone", "a")]),
            ..TaskSpec::default()
        };
        let f = Fixture::new(nodes(), vec![pending("p", spec)]);
        assert_eq!(f.check("p", "b"), Err(NODE_AFFINITY_MISMATCH.to_string()));
        let off = Fixture::with_args(f.snapshot, &args(&[("predicate.NodeAffinityEnable", "false")]));
        assert_eq!(off.check("p", "b"), Ok(()));
    }
}

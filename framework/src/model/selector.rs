//! Placement constraints as the engine evaluates them: label requirements, node affinity,
//! pod (anti-)affinity, taints and tolerations, host ports.

use super::Labels;

/// Operator of a label or field requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SelectorOp {
    /// Value is one of the values.
    In,
    /// Value is none of the values, or the key is absent.
    NotIn,
    /// Key is present.
    Exists,
    /// Key is absent.
    DoesNotExist,
    /// Value, as an integer, is greater than the single value.
    Gt,
    /// Value, as an integer, is less than the single value.
    Lt,
}

/// One requirement on a label (or on a node field such as `metadata.name`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// Label key or field path.
    pub key: String,
    /// Operator.
    pub op: SelectorOp,
    /// Operand values.
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether `value` (the key's value, if present) satisfies the requirement.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match self.op {
            SelectorOp::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            SelectorOp::NotIn => value.is_none_or(|v| self.values.iter().all(|x| x != v)),
            SelectorOp::Exists => value.is_some(),
            SelectorOp::DoesNotExist => value.is_none(),
            SelectorOp::Gt | SelectorOp::Lt => {
                let (Some(v), Some(bound)) = (value, self.values.first()) else {
                    return false;
                };
                match (v.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(v), Ok(b)) => {
                        if self.op == SelectorOp::Gt {
                            v > b
                        } else {
                            v < b
                        }
                    }
                    _ => false,
                }
            }
        }
    }

    /// Whether `labels` satisfy the requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }
}

/// A Kubernetes label selector: all `match_labels` and all `match_expressions` must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    /// Exact key/value pairs.
    pub match_labels: Labels,
    /// Set-based requirements.
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    /// Whether `labels` are selected. An empty selector selects everything.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// One node selector term: all expressions and all field requirements must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    pub match_expressions: Vec<Requirement>,
    /// Requirements on node fields (only `metadata.name` exists in Kubernetes).
    pub match_fields: Vec<Requirement>,
}

/// A weighted preferred node selector term.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PreferredTerm {
    /// 1–100.
    pub weight: i32,
    /// The term.
    pub term: NodeSelectorTerm,
}

/// A pod's node affinity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeAffinity {
    /// Required terms, ORed; `None` means no requirement. `Some(vec![])` matches no node, as in Kubernetes.
    pub required: Option<Vec<NodeSelectorTerm>>,
    /// Preferred terms, scored.
    pub preferred: Vec<PreferredTerm>,
}

/// A required pod (anti-)affinity term.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodAffinityTerm {
    /// Which pods the term is about.
    pub selector: LabelSelector,
    /// Namespaces the selected pods may be in; empty means the pod's own namespace unless
    /// `all_namespaces` is set.
    pub namespaces: Vec<String>,
    /// An empty `namespaceSelector` (`{}`) selects every namespace.
    pub all_namespaces: bool,
    /// Node label that defines the topology domain (e.g. `kubernetes.io/hostname`).
    pub topology_key: String,
}

/// A weighted preferred pod (anti-)affinity term (`preferredDuringSchedulingIgnoredDuringExecution`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WeightedPodAffinityTerm {
    /// 1–100.
    pub weight: i32,
    /// The term.
    pub term: PodAffinityTerm,
}

/// What a topology spread constraint does when it cannot be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpreadMode {
    /// `DoNotSchedule`: a filter.
    DoNotSchedule,
    /// `ScheduleAnyway`: a score.
    ScheduleAnyway,
}

/// Whether a node-inclusion policy of a spread constraint honours the pod's node affinity or the
/// node's taints when counting domains and pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InclusionPolicy {
    /// Only nodes that pass the check count.
    Honor,
    /// Every node counts.
    Ignore,
}

/// One `topologySpreadConstraints` entry, with `matchLabelKeys` already merged into the selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopologySpreadConstraint {
    /// Largest allowed difference between a domain's matching pods and the least-loaded domain's.
    pub max_skew: i32,
    /// Node label that defines the domains.
    pub topology_key: String,
    /// Filter or score.
    pub mode: SpreadMode,
    /// Which pods (in the pod's namespace) are counted.
    pub selector: LabelSelector,
    /// With fewer eligible domains than this, the global minimum counts as 0 (DoNotSchedule only).
    pub min_domains: Option<i32>,
    /// `nodeAffinityPolicy` (default Honor).
    pub node_affinity_policy: InclusionPolicy,
    /// `nodeTaintsPolicy` (default Ignore).
    pub node_taints_policy: InclusionPolicy,
}

/// Taint effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    /// New pods are not placed unless they tolerate it.
    NoSchedule,
    /// New pods avoid the node when they can (a score, not a filter).
    PreferNoSchedule,
    /// Like NoSchedule, and running pods are evicted by the node lifecycle controller.
    NoExecute,
}

impl TaintEffect {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// Effect.
    pub effect: TaintEffect,
}

/// Toleration operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TolerationOp {
    /// Key and value must equal the taint's.
    Equal,
    /// Any value; an empty key with Exists tolerates every taint.
    Exists,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Toleration {
    /// Key; empty matches all keys (only with `Exists`).
    pub key: String,
    /// Operator.
    pub op: TolerationOp,
    /// Value for `Equal`.
    pub value: String,
    /// Effect; `None` matches all effects.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// Whether this toleration tolerates `taint`, with Kubernetes' matching rules.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.op {
            TolerationOp::Exists => true,
            TolerationOp::Equal => self.value == taint.value,
        }
    }
}

/// A host port a container asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// Host IP; empty or `0.0.0.0` means all addresses.
    pub ip: String,
    /// Port number.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports collide (same protocol and port, and overlapping addresses).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (wildcard(&self.ip) || wildcard(&other.ip) || self.ip == other.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn requirement_operators() {
        let l = labels(&[("zone", "a"), ("gpus", "8")]);
        let req = |key: &str, op, values: &[&str]| Requirement {
            key: key.into(),
            op,
            values: values.iter().map(|s| s.to_string()).collect(),
        };
        assert!(req("zone", SelectorOp::In, &["a", "b"]).matches(&l));
        assert!(!req("zone", SelectorOp::NotIn, &["a"]).matches(&l));
        assert!(req("rack", SelectorOp::NotIn, &["a"]).matches(&l));
        assert!(req("zone", SelectorOp::Exists, &[]).matches(&l));
        assert!(req("rack", SelectorOp::DoesNotExist, &[]).matches(&l));
        assert!(req("gpus", SelectorOp::Gt, &["4"]).matches(&l));
        assert!(!req("gpus", SelectorOp::Lt, &["4"]).matches(&l));
        assert!(!req("zone", SelectorOp::Gt, &["4"]).matches(&l));
    }

    #[test]
    fn toleration_matching() {
        let taint = Taint {
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        };
        let t = |key: &str, op, value: &str, effect| Toleration {
            key: key.into(),
            op,
            value: value.into(),
            effect,
        };
        assert!(t("gpu", TolerationOp::Equal, "true", None).tolerates(&taint));
        assert!(!t("gpu", TolerationOp::Equal, "false", None).tolerates(&taint));
        assert!(t("", TolerationOp::Exists, "", None).tolerates(&taint));
        assert!(!t("gpu", TolerationOp::Exists, "", Some(TaintEffect::NoExecute)).tolerates(&taint));
    }

    #[test]
    fn host_port_conflicts() {
        let p = |ip: &str, port| HostPort {
            protocol: "TCP".into(),
            ip: ip.into(),
            port,
        };
        assert!(p("", 80).conflicts(&p("10.0.0.1", 80)));
        assert!(!p("10.0.0.2", 80).conflicts(&p("10.0.0.1", 80)));
        assert!(!p("", 80).conflicts(&p("", 81)));
    }
}

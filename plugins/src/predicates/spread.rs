//! Pod topology spread (`topologySpreadConstraints`): counting matching pods per domain, and the
//! `DoNotSchedule` filter. The `ScheduleAnyway` score is `nodeorder`'s and uses the same counts.
//!
//! Semantics follow kube-scheduler's PodTopologySpread plugin (which Volcano's predicates and
//! nodeorder call): a node counts toward a constraint's domains only if it carries every hard
//! constraint's topology key and passes the constraint's `nodeAffinityPolicy` (Honor: the pod's
//! node selector and required node affinity) and `nodeTaintsPolicy` (Honor: the pod tolerates
//! the node's NoSchedule/NoExecute taints); pods being deleted do not count; with fewer
//! eligible domains than `minDomains`, the global minimum is 0. A candidate node passes when
//! `pods in its domain + (1 if the pod matches its own selector) − global minimum ≤ maxSkew`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use caldera_framework::{
    InclusionPolicy, NodeId, NodeInfo, Reason, Snapshot, SpreadMode, TaintEffect, TaskId, TaskInfo, TaskStatus,
    TopologySpreadConstraint,
};

use super::affinity;

/// kube-scheduler's wording for a node whose domain is too full.
pub const SPREAD_MISMATCH: &str = "node(s) didn't match pod topology spread constraints";
/// … and for a node without the constraint's topology label.
pub const SPREAD_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";

/// Matching pods per domain for one constraint.
#[derive(Clone, Debug, Default)]
pub struct DomainCounts {
    /// Domain value → matching pods.
    pub counts: BTreeMap<String, i64>,
}

impl DomainCounts {
    /// Pods in `node`'s domain (0 when the node lacks the key or its domain is not eligible).
    pub fn of(&self, c: &TopologySpreadConstraint, node: &NodeInfo) -> i64 {
        node.labels
            .get(&c.topology_key)
            .and_then(|v| self.counts.get(v))
            .copied()
            .unwrap_or(0)
    }

    /// The least-loaded eligible domain's count (0 with fewer domains than `minDomains`).
    pub fn global_min(&self, c: &TopologySpreadConstraint) -> i64 {
        let domains = i64::try_from(self.counts.len()).unwrap_or(i64::MAX);
        if c.min_domains.is_some_and(|m| domains < i64::from(m)) {
            return 0;
        }
        self.counts.values().copied().min().unwrap_or(0)
    }
}

/// Whether a pod on a node counts toward spreading.
fn counts(t: &TaskInfo) -> bool {
    matches!(
        t.status,
        TaskStatus::Allocated | TaskStatus::Binding | TaskStatus::Bound | TaskStatus::Running
    )
}

/// Whether `node` is one whose domain counts for constraint `c` of `task` (the node's keys are
/// checked by the caller against `keys`).
pub fn eligible(task: &TaskInfo, c: &TopologySpreadConstraint, node: &NodeInfo, keys: &[&str]) -> bool {
    if !keys.iter().all(|k| node.labels.contains_key(*k)) {
        return false;
    }
    if c.node_affinity_policy == InclusionPolicy::Honor && !affinity::matches(&task.spec, node) {
        return false;
    }
    if c.node_taints_policy == InclusionPolicy::Honor {
        let tolerated = node.taints.iter().all(|taint| {
            !matches!(taint.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                || task.spec.tolerations.iter().any(|t| t.tolerates(taint))
        });
        if !tolerated {
            return false;
        }
    }
    true
}

/// Counts, for each constraint of `task` in `mode`, the matching pods per eligible domain. `keys`
/// are the topology keys a node must all carry to count (kube-scheduler: those of the constraints
/// being evaluated).
pub fn count(s: &Snapshot, task: TaskId, mode: SpreadMode) -> Vec<DomainCounts> {
    let t = s.task(task);
    let constraints: Vec<&TopologySpreadConstraint> =
        t.spec.topology_spread.iter().filter(|c| c.mode == mode).collect();
    let keys: Vec<&str> = constraints.iter().map(|c| c.topology_key.as_str()).collect();
    let mut out = vec![DomainCounts::default(); constraints.len()];
    for node in s.nodes.iter().filter(|n| n.ready) {
        for (i, c) in constraints.iter().enumerate() {
            if !eligible(t, c, node, &keys) {
                continue;
            }
            let Some(domain) = node.labels.get(&c.topology_key) else {
                continue;
            };
            let matching = node
                .tasks
                .iter()
                .map(|x| s.task(*x))
                .filter(|x| counts(x) && x.namespace == t.namespace && c.selector.matches(&x.labels))
                .count();
            *out[i].counts.entry(domain.clone()).or_insert(0) += i64::try_from(matching).unwrap_or(i64::MAX);
        }
    }
    out
}

/// The `DoNotSchedule` filter for `task` on node `n`, given [`count`] for `DoNotSchedule`.
pub fn check(s: &Snapshot, task: TaskId, n: NodeId, counted: &[DomainCounts]) -> Result<(), Reason> {
    let t = s.task(task);
    let node = s.node(n);
    let hard = t
        .spec
        .topology_spread
        .iter()
        .filter(|c| c.mode == SpreadMode::DoNotSchedule);
    for (c, dc) in hard.zip(counted) {
        if !node.labels.contains_key(&c.topology_key) {
            return Err(Cow::Borrowed(SPREAD_MISSING_LABEL));
        }
        let self_match = i64::from(c.selector.matches(&t.labels));
        let skew = dc.of(c, node) + self_match - dc.global_min(c);
        if skew > i64::from(c.max_skew) {
            return Err(Cow::Borrowed(SPREAD_MISMATCH));
        }
    }
    Ok(())
}

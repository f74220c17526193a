//! Required inter-pod affinity and anti-affinity: the incoming pod's own terms, and the
//! anti-affinity terms of pods already placed that the incoming pod would break (the symmetric rule).
//!
//! Terms keyed on `kubernetes.io/hostname` are answered from the node's own pods, so a class's
//! cached verdicts stay right when only other nodes change. Wider topologies (zone, rack) depend on
//! every node's pods: [`prepare`] finds, in one pass, the domains that hold matching pods and turns
//! them into a verdict per node, which [`check`] then reads in constant time. Classes with such
//! terms are topology-sensitive, so the framework prepares each pod before scanning nodes for it.
//!
//! Semantics follow kube-scheduler: a node lacking a term's topology label fails an affinity term
//! and passes an anti-affinity term; an existing pod counts for affinity only if it matches every
//! affinity term; and a pod whose terms select itself may start anywhere while no pod matches yet,
//! so the first pod of a self-affine gang is not stuck forever.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use caldera_framework::snapshot::HOSTNAME_LABEL;
use caldera_framework::{NodeId, NodeInfo, PodAffinityTerm, Reason, Snapshot, TaskId, TaskInfo, TaskSpec, TaskStatus};

use super::{EXISTING_ANTI_AFFINITY_MISMATCH, POD_AFFINITY_MISMATCH, POD_ANTI_AFFINITY_MISMATCH};

/// Per-node verdict bits for wide-topology terms.
const AFFINITY_DOMAIN_EMPTY: u8 = 1;
const ANTI_AFFINITY_DOMAIN_TAKEN: u8 = 1 << 1;
const EXISTING_ANTI_AFFINITY_DOMAIN: u8 = 1 << 2;

/// Which kinds of required anti-affinity exist in the snapshot at all, so the symmetric rule costs
/// nothing in the common cluster where no pod uses it, and little where few do.
#[derive(Clone, Debug)]
pub(super) struct Census {
    hostname_anti: bool,
    /// Pods with a wide-topology anti-affinity term; `None` when not yet counted (every pod is
    /// then a candidate). Fixed for the session: pods are placed and moved, never created.
    wide_anti_owners: Option<Vec<TaskId>>,
}

impl Census {
    /// Before `open` has looked at the snapshot, assume the worst: checks run, just slower.
    pub(super) fn unknown() -> Self {
        Census {
            hostname_anti: true,
            wide_anti_owners: None,
        }
    }

    /// Pending pods count too: they may be placed during the session and then repel others.
    pub(super) fn of(s: &Snapshot) -> Self {
        let mut hostname_anti = false;
        let mut owners = Vec::new();
        for (i, t) in s.tasks.iter().enumerate().filter(|(_, t)| !t.status.is_terminal()) {
            hostname_anti |= t.spec.pod_anti_affinity.iter().any(|term| !is_wide(term));
            if t.spec.pod_anti_affinity.iter().any(is_wide) {
                owners.push(TaskId::from_idx(i));
            }
        }
        Census {
            hostname_anti,
            wide_anti_owners: Some(owners),
        }
    }

    fn wide_anti(&self) -> bool {
        self.wide_anti_owners.as_ref().is_none_or(|o| !o.is_empty())
    }
}

/// Cross-node facts for one task, computed by [`prepare`].
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    /// The task the facts were computed for.
    pub(super) task: TaskId,
    /// Some placed pod matches every affinity term: the first-pod exception no longer applies.
    matched_anywhere: bool,
    /// Whether the task has wide terms or some pod has wide anti-affinity: then `wide` holds
    /// for this task only.
    has_wide: bool,
    /// `*_DOMAIN_*` bits per node index; empty when all would be zero.
    wide: Vec<u8>,
}

impl Prepared {
    /// Per-node verdicts depend on the exact pod and the moment they were computed; the
    /// first-pod fact alone is shared across a class.
    pub(super) fn is_task_specific(&self) -> bool {
        self.has_wide
    }
}

/// Pods that hold their node for (anti-)affinity purposes, including placements made in this
/// session and reservations on releasing resources.
pub(crate) fn counts(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Allocated
            | TaskStatus::Pipelined
            | TaskStatus::Binding
            | TaskStatus::Bound
            | TaskStatus::Running
            | TaskStatus::Releasing
    )
}

fn is_wide(term: &PodAffinityTerm) -> bool {
    term.topology_key != HOSTNAME_LABEL
}

/// Whether `term`, written on a pod in namespace `owner_ns`, selects `pod`.
pub(crate) fn selects(term: &PodAffinityTerm, owner_ns: &str, pod: &TaskInfo) -> bool {
    let namespace_ok = term.all_namespaces
        || if term.namespaces.is_empty() {
            pod.namespace == owner_ns
        } else {
            term.namespaces.contains(&pod.namespace)
        };
    namespace_ok && term.selector.matches(&pod.labels)
}

fn selects_all(terms: &[PodAffinityTerm], owner_ns: &str, pod: &TaskInfo) -> bool {
    terms.iter().all(|term| selects(term, owner_ns, pod))
}

/// The pods on `node` that count, other than `task` itself.
fn residents<'a>(s: &'a Snapshot, node: &'a NodeInfo, task: TaskId) -> impl Iterator<Item = &'a TaskInfo> + 'a {
    node.tasks
        .iter()
        .filter(move |&&x| x != task)
        .map(|&x| s.task(x))
        .filter(|x| counts(x.status))
}

/// Whether inter-pod affinity has anything to say about this pod.
pub(super) fn involved(spec: &TaskSpec, census: &Census) -> bool {
    !spec.pod_affinity.is_empty() || !spec.pod_anti_affinity.is_empty() || census.hostname_anti || census.wide_anti()
}

/// Whether [`check`] needs cross-node facts for this pod.
pub(super) fn needs_prepare(spec: &TaskSpec, census: &Census) -> bool {
    !spec.pod_affinity.is_empty() || census.wide_anti() || spec.pod_anti_affinity.iter().any(is_wide)
}

/// One pass over every node's pods for the task's own wide terms, one over the pods whose wide
/// anti-affinity could select it, then one over nodes to turn the domains found into verdicts.
pub(super) fn prepare(s: &Snapshot, task: TaskId, census: &Census) -> Prepared {
    let t = s.task(task);
    let ns = t.namespace.as_str();
    let affinity = t.spec.pod_affinity.as_slice();
    let wide_affinity: Vec<&PodAffinityTerm> = affinity.iter().filter(|x| is_wide(x)).collect();
    let wide_anti: Vec<&PodAffinityTerm> = t.spec.pod_anti_affinity.iter().filter(|x| is_wide(x)).collect();

    let mut matched_anywhere = false;
    let mut affinity_domains: Vec<HashSet<&str>> = vec![HashSet::new(); wide_affinity.len()];
    let mut anti_domains: Vec<HashSet<&str>> = vec![HashSet::new(); wide_anti.len()];
    if !affinity.is_empty() || !wide_anti.is_empty() {
        for node in &s.nodes {
            for x in residents(s, node, task) {
                if !affinity.is_empty() && selects_all(affinity, ns, x) {
                    // kube-scheduler only counts pods on nodes carrying a term's topology label.
                    if affinity.iter().any(|term| node.labels.contains_key(&term.topology_key)) {
                        matched_anywhere = true;
                    }
                    for (domains, term) in affinity_domains.iter_mut().zip(&wide_affinity) {
                        if let Some(v) = node.labels.get(&term.topology_key) {
                            domains.insert(v);
                        }
                    }
                }
                for (domains, term) in anti_domains.iter_mut().zip(&wide_anti) {
                    if let Some(v) = node.labels.get(&term.topology_key)
                        && selects(term, ns, x)
                    {
                        domains.insert(v);
                    }
                }
            }
        }
    }

    // Topology key → domains in which a placed pod's anti-affinity selects the task.
    let mut blocked: HashMap<&str, HashSet<&str>> = HashMap::new();
    if census.wide_anti() {
        let everyone: Vec<TaskId>;
        let owners = match &census.wide_anti_owners {
            Some(o) => o.as_slice(),
            None => {
                everyone = (0..s.tasks.len()).map(TaskId::from_idx).collect();
                &everyone
            }
        };
        for &o in owners {
            let x = s.task(o);
            let Some(n) = x.node.filter(|_| o != task && counts(x.status)) else {
                continue;
            };
            let node = s.node(n);
            for term in x.spec.pod_anti_affinity.iter().filter(|term| is_wide(term)) {
                if let Some(v) = node.labels.get(&term.topology_key)
                    && selects(term, &x.namespace, t)
                {
                    blocked.entry(term.topology_key.as_str()).or_default().insert(v);
                }
            }
        }
    }

    // All-zero verdicts need no storage.
    let any_bit = !wide_affinity.is_empty() || anti_domains.iter().any(|d| !d.is_empty()) || !blocked.is_empty();
    let wide = if any_bit {
        s.nodes
            .iter()
            .map(|m| {
                let mut bits = 0;
                let empty = affinity_domains
                    .iter()
                    .zip(&wide_affinity)
                    .any(|(d, term)| m.labels.get(&term.topology_key).is_none_or(|v| !d.contains(v.as_str())));
                if empty {
                    bits |= AFFINITY_DOMAIN_EMPTY;
                }
                let taken = anti_domains
                    .iter()
                    .zip(&wide_anti)
                    .any(|(d, term)| m.labels.get(&term.topology_key).is_some_and(|v| d.contains(v.as_str())));
                if taken {
                    bits |= ANTI_AFFINITY_DOMAIN_TAKEN;
                }
                if blocked
                    .iter()
                    .any(|(k, d)| m.labels.get(*k).is_some_and(|v| d.contains(v.as_str())))
                {
                    bits |= EXISTING_ANTI_AFFINITY_DOMAIN;
                }
                bits
            })
            .collect()
    } else {
        Vec::new()
    };
    let has_wide = !wide_affinity.is_empty() || !wide_anti.is_empty() || census.wide_anti();
    Prepared {
        task,
        matched_anywhere,
        has_wide,
        wide,
    }
}

/// kube-scheduler's order: own affinity, own anti-affinity, then existing pods' anti-affinity.
///
/// `prepared` must come from [`prepare`] for this task (or its class, when not task-specific)
/// whenever [`needs_prepare`] holds.
pub(super) fn check(
    s: &Snapshot,
    task: TaskId,
    n: NodeId,
    prepared: Option<&Prepared>,
    census: &Census,
) -> Result<(), Reason> {
    let t = s.task(task);
    let spec = &*t.spec;
    let node = s.node(n);
    let bits = prepared.and_then(|p| p.wide.get(n.idx()).copied()).unwrap_or(0);
    let ns = t.namespace.as_str();
    let on_host = node.labels.contains_key(HOSTNAME_LABEL);

    if !spec.pod_affinity.is_empty() {
        let affinity = spec.pod_affinity.as_slice();
        if affinity
            .iter()
            .any(|term| !node.labels.contains_key(&term.topology_key))
        {
            return Err(Cow::Borrowed(POD_AFFINITY_MISMATCH));
        }
        let mut pods_exist = bits & AFFINITY_DOMAIN_EMPTY == 0;
        if pods_exist && affinity.iter().any(|term| !is_wide(term)) {
            pods_exist = residents(s, node, task).any(|x| selects_all(affinity, ns, x));
        }
        let first_of_its_kind = prepared.is_some_and(|p| !p.matched_anywhere) && selects_all(affinity, ns, t);
        if !pods_exist && !first_of_its_kind {
            return Err(Cow::Borrowed(POD_AFFINITY_MISMATCH));
        }
    }

    if on_host {
        for term in spec.pod_anti_affinity.iter().filter(|term| !is_wide(term)) {
            if residents(s, node, task).any(|x| selects(term, ns, x)) {
                return Err(Cow::Borrowed(POD_ANTI_AFFINITY_MISMATCH));
            }
        }
    }
    if bits & ANTI_AFFINITY_DOMAIN_TAKEN != 0 {
        return Err(Cow::Borrowed(POD_ANTI_AFFINITY_MISMATCH));
    }

    if on_host && census.hostname_anti {
        let repelled = residents(s, node, task).any(|x| {
            x.spec
                .pod_anti_affinity
                .iter()
                .any(|term| !is_wide(term) && selects(term, &x.namespace, t))
        });
        if repelled {
            return Err(Cow::Borrowed(EXISTING_ANTI_AFFINITY_MISMATCH));
        }
    }
    if bits & EXISTING_ANTI_AFFINITY_DOMAIN != 0 {
        return Err(Cow::Borrowed(EXISTING_ANTI_AFFINITY_MISMATCH));
    }
    Ok(())
}

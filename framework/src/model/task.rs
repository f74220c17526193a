//! Tasks: one pod each, with the scheduling constraints shared by its equivalence class.

use std::sync::Arc;

use super::{
    ClassId, HostPort, JobId, Labels, Millis, NodeAffinity, NodeId, PodAffinityTerm, Toleration,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use crate::resource::Resources;

/// Where a task is in its life, as the scheduler sees it.
///
/// ```text
///  Pending ──allocate──▶ Allocated ──commit──▶ Binding ─▶ Bound ─▶ Running ─▶ Succeeded/Failed
///     │ ◀────discard────────┘
///     └──pipeline──▶ Pipelined (reserved on resources that are being released; nothing is bound)
///  Running/Bound ──evict──▶ Releasing (still holds its node's resources until it is gone)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskStatus {
    /// Waiting for a node.
    Pending,
    /// Placed in this session, not yet committed.
    Allocated,
    /// Reserved on a node's releasing resources in this session; not bound.
    Pipelined,
    /// Committed; the bind request is in flight.
    Binding,
    /// Bound to a node, not yet running.
    Bound,
    /// Running on its node.
    Running,
    /// Being deleted or evicted; still occupies its node.
    Releasing,
    /// Finished successfully.
    Succeeded,
    /// Finished with an error.
    Failed,
}

impl TaskStatus {
    /// Whether the task holds resources on a node.
    pub fn occupies_node(self) -> bool {
        matches!(
            self,
            TaskStatus::Allocated
                | TaskStatus::Binding
                | TaskStatus::Bound
                | TaskStatus::Running
                | TaskStatus::Releasing
        )
    }

    /// Whether the task counts toward its gang being ready (Volcano's "ready" statuses).
    pub fn is_ready(self) -> bool {
        matches!(
            self,
            TaskStatus::Allocated
                | TaskStatus::Binding
                | TaskStatus::Bound
                | TaskStatus::Running
                | TaskStatus::Succeeded
        )
    }

    /// Whether the task has been given a node at some point (Volcano's "scheduled" statuses).
    pub fn is_scheduled(self) -> bool {
        matches!(
            self,
            TaskStatus::Allocated
                | TaskStatus::Binding
                | TaskStatus::Bound
                | TaskStatus::Running
                | TaskStatus::Releasing
                | TaskStatus::Succeeded
                | TaskStatus::Failed
        )
    }

    /// Whether the task has finished.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Failed)
    }
}

/// Everything that decides where a pod may go and how nodes score for it.
///
/// Pods whose `TaskSpec`s are equal form one equivalence class: filtering and scoring are done once
/// per class and node, not once per pod, which is what makes a 5,000-pod gang cheap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskSpec {
    /// Effective request as kube-scheduler computes it (containers summed, init containers maxed,
    /// sidecars counted, overhead added), plus one `pods` slot.
    pub request: Resources,
    /// `spec.nodeName` set by the user: only that node fits.
    pub node_name: Option<String>,
    /// `spec.nodeSelector`.
    pub node_selector: Labels,
    /// `spec.affinity.nodeAffinity`.
    pub node_affinity: NodeAffinity,
    /// `spec.tolerations`.
    pub tolerations: Vec<Toleration>,
    /// Host ports of all containers.
    pub host_ports: Vec<HostPort>,
    /// Required pod affinity terms.
    pub pod_affinity: Vec<PodAffinityTerm>,
    /// Required pod anti-affinity terms.
    pub pod_anti_affinity: Vec<PodAffinityTerm>,
    /// Preferred pod affinity terms (scored by `nodeorder`).
    pub preferred_pod_affinity: Vec<WeightedPodAffinityTerm>,
    /// Preferred pod anti-affinity terms (scored by `nodeorder`).
    pub preferred_pod_anti_affinity: Vec<WeightedPodAffinityTerm>,
    /// `topologySpreadConstraints`.
    pub topology_spread: Vec<TopologySpreadConstraint>,
    /// Container images (init containers excluded, as kube-scheduler's ImageLocality does), sorted
    /// and deduplicated, for the image-locality score.
    pub images: Vec<String>,
}

impl TaskSpec {
    /// Whether where this pod may go or how nodes score for it depends on pods on other nodes
    /// (required pod affinity, anti-affinity wider than one node, preferred pod (anti-)affinity,
    /// topology spread): then its class is searched in full for every pod.
    pub fn spans_nodes(&self, hostname_label: &str) -> bool {
        !self.pod_affinity.is_empty()
            || self.pod_anti_affinity.iter().any(|t| t.topology_key != hostname_label)
            || !self.preferred_pod_affinity.is_empty()
            || !self.preferred_pod_anti_affinity.is_empty()
            || !self.topology_spread.is_empty()
    }

    /// Whether the pod's own namespace and labels matter to its own placement terms.
    pub fn has_pod_terms(&self) -> bool {
        !self.pod_affinity.is_empty()
            || !self.pod_anti_affinity.is_empty()
            || !self.preferred_pod_affinity.is_empty()
            || !self.preferred_pod_anti_affinity.is_empty()
            || !self.topology_spread.is_empty()
    }
}

/// One pod.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    /// Pod UID.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The job the pod belongs to.
    pub job: JobId,
    /// Task role inside the job (`volcano.sh/task-spec`), for `minTaskMember`.
    pub role: Option<String>,
    /// Pod priority (resolved from its PriorityClass or `volcano.sh/task-priority`).
    pub priority: i32,
    /// Creation time.
    pub created: Millis,
    /// When the pod was bound or started, for running-time accounting.
    pub started: Option<Millis>,
    /// Scheduling status.
    pub status: TaskStatus,
    /// The node the task is on (or placed on in this session).
    pub node: Option<NodeId>,
    /// Scheduling constraints, shared with the rest of its class.
    pub spec: Arc<TaskSpec>,
    /// Equivalence class of `spec` (and, where pod anti-affinity makes labels matter, of the labels).
    pub class: ClassId,
    /// Pod labels (shared between pods with identical labels).
    pub labels: Arc<Labels>,
    /// Whether the task may be a preemption or reclaim victim (`volcano.sh/preemptable`).
    pub preemptable: bool,
    /// `preemptionPolicy: Never`: the task never preempts others.
    pub never_preempts: bool,
    /// Whether the task is protected from eviction (system-critical or kube-system).
    pub critical: bool,
    /// How long the pod is expected to run once started: its own `caldera.dev/expected-runtime`,
    /// else its PodGroup's, else its queue's `caldera.dev/default-expected-runtime`; `None` leaves
    /// it to the configured global default (see [`crate::timeline`]).
    pub expected_runtime: Option<Millis>,
    /// The node this pending pod was promised by an earlier cycle (it preempted, or was pipelined
    /// onto resources that were being released): other jobs may not take that room.
    pub nominated: Option<NodeId>,
}

impl TaskInfo {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

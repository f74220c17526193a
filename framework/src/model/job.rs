//! Jobs: a PodGroup of any of the three gang APIs, or a pod on its own.

use std::collections::BTreeMap;

use super::{Millis, QueueId, TaskId};
use crate::resource::Resources;

/// Which API the job came from; it decides how its status is written back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobSource {
    /// `scheduling.volcano.sh/v1beta1` PodGroup.
    Volcano,
    /// `scheduling.x-k8s.io/v1alpha1` PodGroup (scheduler-plugins coscheduling).
    Coscheduling,
    /// `scheduling.k8s.io/v1beta1` PodGroup (Kubernetes' own gang API).
    Native,
    /// A pod of ours with no PodGroup: a gang of one.
    Standalone,
    /// Pods of other schedulers, kept only so their nodes' usage is right; never scheduled.
    Foreign,
}

/// PodGroup phase, with Volcano's meanings (the other APIs' phases are mapped onto these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobPhase {
    /// Accepted, not admitted yet.
    Pending,
    /// Admitted by `enqueue`: controllers may create pods; allocate considers it.
    Inqueue,
    /// At least minMember pods scheduled.
    Running,
    /// Some pods running but the gang was found unschedulable this cycle.
    Unknown,
    /// Every scheduled pod finished.
    Completed,
}

impl JobPhase {
    /// The phase as Volcano writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobPhase::Pending => "Pending",
            JobPhase::Inqueue => "Inqueue",
            JobPhase::Running => "Running",
            JobPhase::Unknown => "Unknown",
            JobPhase::Completed => "Completed",
        }
    }
}

/// What evicting one member does to the rest of a job (native PodGroups' `spec.disruptionMode`;
/// the other APIs have no such field and behave as [`Disruption::Gang`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Disruption {
    /// Members beyond minMember may be evicted one by one; a gang that would fall below
    /// minMember is evicted whole, never left half-running.
    #[default]
    Gang,
    /// `disruptionMode: {all: {}}`: members are only ever evicted together.
    All,
    /// `disruptionMode: {single: {}}`: each member may be evicted on its own, even below the
    /// group's minimum (the group's owner has said it copes with that).
    Single,
}

/// The last time a job's pods were evicted for another job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preempted {
    /// When.
    pub at: super::Millis,
    /// `namespace/name` of the job they were evicted for.
    pub by: String,
}

/// The scheduling condition a cycle concluded for a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobCondition {
    /// The gang is placed (Volcano condition `Scheduled`).
    Scheduled,
    /// The gang could not be placed; `reason` is a CamelCase reason and `message` says why.
    Unschedulable {
        /// e.g. `NotEnoughResources`, `NotEnoughTasks`, `QueueNotFound`.
        reason: String,
        /// e.g. "2/4 tasks in gang unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
        message: String,
    },
}

/// One job (gang).
#[derive(Clone, Debug)]
pub struct JobInfo {
    /// UID of the PodGroup (or of the pod, for a standalone pod).
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Which API it came from.
    pub source: JobSource,
    /// Queue id (the `default` queue when the named one is missing; see `problem`).
    pub queue: QueueId,
    /// The queue name as written on the object.
    pub queue_name: String,
    /// Gang size: the job is placed only when this many tasks can be.
    pub min_member: u32,
    /// Minimum ready tasks per role.
    pub min_task_member: BTreeMap<String, u32>,
    /// Resources that must be available for the job to be admitted (enqueue only).
    pub min_resources: Option<Resources>,
    /// Job priority (from its PriorityClass).
    pub priority: i32,
    /// Creation time.
    pub created: Millis,
    /// Phase at snapshot time; enqueue moves it to Inqueue.
    pub phase: JobPhase,
    /// Member tasks, sorted by task key.
    pub tasks: Vec<TaskId>,
    /// Whether its tasks may be preemption victims.
    pub preemptable: bool,
    /// `preemptionPolicy: Never` (native PodGroup, or the group's PriorityClass): the job never
    /// evicts others to make room for itself.
    pub never_preempts: bool,
    /// What evicting one member does to the others.
    pub disruption: Disruption,
    /// When its pods were last evicted, and for whom (the preemption cool-down and the rule that a
    /// job never evicts the job that evicted it).
    pub preempted: Option<Preempted>,
    /// The reservation it held after the previous cycle: a reservation once granted is kept
    /// (honoured first, on the same nodes) while it still fits.
    pub reserved: Option<crate::timeline::Slot>,
    /// Node label whose single domain must hold the whole gang.
    pub topology_key: Option<String>,
    /// `caldera.dev/expected-runtime` on the PodGroup: the default for its pods.
    pub expected_runtime: Option<super::Millis>,
    /// Why the job cannot be scheduled at all (unknown queue, missing PodGroup, malformed spec).
    pub problem: Option<(String, String)>,
    /// The PodGroup annotations plugins read (`sla-waiting-time`, `volcano.sh/task-topology-*`).
    pub annotations: super::Labels,
    /// Sum of the requests of its tasks that occupy nodes (kept current by the session).
    pub allocated: Resources,
    /// How many of its tasks are in a ready status (kept current by the session, so a gang's
    /// readiness is O(1) to check after every placement).
    pub ready: u32,
    /// How many of its tasks are pipelined (kept current by the session).
    pub pipelined: u32,
}

impl JobInfo {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the scheduler places this job's pods.
    pub fn is_schedulable_source(&self) -> bool {
        self.source != JobSource::Foreign
    }
}

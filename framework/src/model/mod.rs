//! The scheduler's view of a cluster: nodes, tasks (pods), jobs (gangs) and queues.
//!
//! These are Caldera's own types, converted once from the three gang APIs (Volcano,
//! scheduler-plugins, Kubernetes-native) so that every plugin sees one job model.
//! Objects refer to each other by dense ids into the [`crate::Snapshot`]'s vectors.

mod ids;
mod job;
mod node;
mod queue;
mod selector;
mod task;

pub use ids::{ClassId, JobId, NodeId, QueueId, TaskId};
pub use job::{Disruption, JobCondition, JobInfo, JobPhase, JobSource, Preempted};
pub use node::NodeInfo;
pub use queue::{QueueInfo, QueueState};
pub use selector::{
    HostPort, InclusionPolicy, LabelSelector, NodeAffinity, NodeSelectorTerm, PodAffinityTerm, PreferredTerm,
    Requirement, SelectorOp, SpreadMode, Taint, TaintEffect, Toleration, TolerationOp, TopologySpreadConstraint,
    WeightedPodAffinityTerm,
};
pub use task::{TaskInfo, TaskSpec, TaskStatus};

/// Milliseconds on the scheduler's clock: Unix time in the runtime, simulated time in the simulator.
pub type Millis = i64;

/// Labels or annotations, ordered so iteration is deterministic.
pub type Labels = std::collections::BTreeMap<String, String>;

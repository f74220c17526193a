//! Nodes with their capacity and what is placed on them.

use super::{HostPort, Labels, Taint, TaskId};
use crate::resource::Resources;

/// One node.
///
/// Invariant: `used` is the sum of the requests of the tasks in `tasks` whose status occupies the
/// node, and `releasing` the part of it held by Releasing tasks; the session keeps both current.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Node labels (with `kubernetes.io/hostname` and `metadata.name` semantics supplied by the converter).
    pub labels: Labels,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Whether the node is Ready; a node that is not takes no new pods.
    pub ready: bool,
    /// `status.allocatable`.
    pub allocatable: Resources,
    /// Requests of every task holding the node.
    pub used: Resources,
    /// Requests of tasks being released.
    pub releasing: Resources,
    /// Requests of tasks pipelined onto releasing resources.
    pub pipelined: Resources,
    /// Requests of pending tasks nominated to this node by an earlier cycle: promised to them.
    pub nominated: Resources,
    /// Tasks on the node.
    pub tasks: Vec<TaskId>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Bumped on every change, so caches know what to recompute.
    pub generation: u64,
}

impl NodeInfo {
    /// Resources free now.
    pub fn idle(&self) -> Resources {
        self.allocatable.minus(&self.used)
    }

    /// Resources free once releasing tasks are gone, minus what is already pipelined onto them
    /// or promised to nominated pods.
    pub fn future_idle(&self) -> Resources {
        let mut r = self.idle();
        r.add(&self.releasing);
        r.sub(&self.pipelined);
        r.sub(&self.nominated);
        r
    }

    /// Whether the node has any GPU or MIG capacity.
    pub fn has_gpu(&self, names: &crate::ResourceNames) -> bool {
        self.allocatable.has_gpu(names)
    }
}

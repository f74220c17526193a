//! Nodes with their capacity and what is placed on them.

use std::sync::Arc;

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
    /// Shared with the cached record: every cycle's snapshot holds every node, and labels and
    /// images are most of a node's size, while they change only when the node object does.
    pub labels: Arc<Labels>,
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
    /// Images present on the node (`status.images`): every name of each image with its size in
    /// bytes, sorted by name.
    pub images: Arc<[(String, i64)]>,
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

    /// One entry of [`NodeInfo::idle`], computed without building the vector.
    #[inline]
    pub fn idle_of(&self, id: crate::ResourceId) -> i64 {
        self.allocatable.get(id).saturating_sub(self.used.get(id))
    }

    /// One entry of [`NodeInfo::future_idle`], computed without building the vector (the same
    /// saturating steps in the same order, so the two never disagree).
    #[inline]
    pub fn future_idle_of(&self, id: crate::ResourceId) -> i64 {
        self.idle_of(id)
            .saturating_add(self.releasing.get(id))
            .saturating_sub(self.pipelined.get(id))
            .saturating_sub(self.nominated.get(id))
    }

    /// Whether the node has any GPU or MIG capacity.
    pub fn has_gpu(&self, names: &crate::ResourceNames) -> bool {
        self.allocatable.has_gpu(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn amounts() -> impl Strategy<Value = Resources> {
        proptest::collection::vec(0i64..1_000, 6).prop_map(|v| {
            Resources::from_pairs(
                v.into_iter()
                    .enumerate()
                    .map(|(i, x)| (crate::ResourceId::try_from(i).expect("small id"), x)),
            )
        })
    }

    proptest! {
        /// The per-entry shortcuts the node search uses agree with the whole vectors, whatever
        /// the node holds (a shortcut that forgot one term would place pods on promised room).
        #[test]
        fn per_entry_idle_agrees_with_the_vectors(
            allocatable in amounts(), used in amounts(), releasing in amounts(),
            pipelined in amounts(), nominated in amounts(),
        ) {
            let n = NodeInfo {
                name: "n".into(),
                labels: Default::default(),
                taints: Vec::new(),
                unschedulable: false,
                ready: true,
                allocatable,
                used,
                releasing,
                pipelined,
                nominated,
                tasks: Vec::new(),
                used_ports: Vec::new(),
                generation: 0,
                images: Default::default(),
            };
            for i in 0..6usize {
                let id = crate::ResourceId::try_from(i).expect("small id");
                prop_assert_eq!(n.idle_of(id), n.idle().get(id));
                prop_assert_eq!(n.future_idle_of(id), n.future_idle().get(id));
            }
        }
    }
}

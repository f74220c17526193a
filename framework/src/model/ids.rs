//! Dense ids into a snapshot's vectors; cheap to copy and compare, meaningless across snapshots.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as a vector index.
            #[inline]
            pub fn idx(self) -> usize {
                self.0 as usize
            }

            /// The id of vector index `i`.
            #[inline]
            pub fn from_idx(i: usize) -> Self {
                $name(u32::try_from(i).unwrap_or(u32::MAX))
            }
        }
    };
}

id!(
    /// A node of the snapshot.
    NodeId
);
id!(
    /// A task (pod) of the snapshot.
    TaskId
);
id!(
    /// A job (PodGroup, or a pod on its own) of the snapshot.
    JobId
);
id!(
    /// A queue of the snapshot.
    QueueId
);
id!(
    /// An equivalence class: tasks whose scheduling constraints are identical, so one node search
    /// serves all of them.
    ClassId
);

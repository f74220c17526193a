//! Queues: where jobs wait and how the cluster is shared.

use crate::resource::Resources;

/// Queue state (Volcano `status.state`; an empty state counts as Open so Caldera works without
/// vc-controller-manager).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueueState {
    /// Admits and schedules jobs.
    Open,
    /// Admits nothing new.
    Closed,
    /// Being closed: admits nothing new.
    Closing,
}

/// One queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueInfo {
    /// Queue name.
    pub name: String,
    /// Share weight (≥ 1).
    pub weight: u32,
    /// Hard upper bound on what the queue may hold.
    pub capability: Option<Resources>,
    /// Resources reserved for the queue.
    pub guarantee: Resources,
    /// Explicit entitlement (capacity plugin).
    pub deserved: Option<Resources>,
    /// Whether other queues may reclaim from it.
    pub reclaimable: bool,
    /// Parent queue for hierarchies (`root` when unset).
    pub parent: Option<String>,
    /// State.
    pub state: QueueState,
    /// Queue priority: higher is served first and reclaimed from last.
    pub priority: i32,
    /// Creation time, for stable ordering.
    pub created: super::Millis,
    /// What its jobs hold (kept current by the session).
    pub allocated: Resources,
    /// `caldera.dev/default-expected-runtime`: the expected run time of its pods that give none.
    pub default_expected_runtime: Option<super::Millis>,
}

impl QueueInfo {
    /// A queue with Volcano's defaults (weight 1, reclaimable, open).
    pub fn new(name: &str) -> Self {
        QueueInfo {
            name: name.to_string(),
            weight: 1,
            capability: None,
            guarantee: Resources::new(),
            deserved: None,
            reclaimable: true,
            parent: None,
            state: QueueState::Open,
            priority: 0,
            created: 0,
            allocated: Resources::new(),
            default_expected_runtime: None,
        }
    }
}

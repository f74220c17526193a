//! `reclaim`: a queue below its deserved share takes back resources from queues above theirs.
//!
//! Queues are taken in queue order, skipping those at or above their share (`overused`); their
//! starving jobs in job order (see `preempt` for which jobs may evict). A job reclaims only if its
//! queue may grow by it (`preemptive`: proportion and capacity let a queue reclaim up to its
//! deserved amount — capacity in at least one resource the pod asks for),
//! and only from running pods of other queues whose `reclaimable` is not false, held by a queue
//! above its deserved share in a resource the pod frees, never taking a queue below its
//! guarantee. The plugins (`reclaimable`: proportion, capacity, gang, conformance) may narrow that further;
//! victims are chosen and the gang placed exactly as in [`super::evict`].

use caldera_framework::order::{OrderedQueue, job_before, queue_before};
use caldera_framework::{Action, Arguments, ConfigError, Millis, Session};

use super::evict::{Kind, RunningJobs, make_room};
use super::preempt::{cooldown, preemptors};

/// Configuration name.
pub const NAME: &str = "reclaim";

/// The reclaim action.
#[derive(Clone, Debug)]
pub struct Reclaim {
    cooldown: Millis,
}

impl Reclaim {
    /// Reads `cooldown` (a duration, default 5m).
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        Ok(Reclaim {
            cooldown: cooldown(args)?,
        })
    }
}

impl Action for Reclaim {
    fn name(&self) -> &'static str {
        NAME
    }

    fn evicts(&self) -> bool {
        true
    }

    fn execute(&self, ssn: &mut Session) {
        let mut per_queue = preemptors(ssn);
        let running = RunningJobs::of(ssn);
        let mut order = OrderedQueue::new();
        for q in ssn.snap.queue_ids() {
            if !per_queue[q.idx()].is_empty() {
                order.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
        while let Some(q) = order.pop(&|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b)) {
            if ssn.plugins.overused(&ssn.snap, q) {
                continue;
            }
            let Some(j) = per_queue[q.idx()].pop(&|a, b| job_before(&ssn.plugins, &ssn.snap, a, b)) else {
                continue;
            };
            let first = caldera_framework::estimate::needed_tasks(ssn, j).first().copied();
            if let Some(t) = first
                && ssn.plugins.job_starving(&ssn.snap, j)
                && ssn.plugins.preemptive(&ssn.snap, q, t)
            {
                make_room(ssn, &running, j, Kind::Reclaim, self.cooldown);
            }
            if !per_queue[q.idx()].is_empty() {
                order.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
    }
}

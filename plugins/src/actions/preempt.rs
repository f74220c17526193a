//! `preempt`: within a queue, a pending gang of higher priority takes the place of running pods
//! of lower priority — only if its whole gang can then be placed, choosing victims so that as few
//! gangs as possible are broken, then the least important, then those that lose the least running
//! time (see [`super::evict`]).
//!
//! Preemptors are the queue's waiting jobs that are starving (`job_starving`: the gang is short
//! of minMember) and allowed to preempt (neither `preemptionPolicy: Never` on the pods' or the
//! group's PriorityClass nor on a native PodGroup), in queue order and job order. Which running
//! pods may go is the plugins' call (`preemptable`: priority, gang, conformance, drf), within the
//! hard rules of [`super::evict`]. A job whose pods were evicted is not evicted again within the
//! `cooldown`, and never by the job it evicted.

use caldera_framework::order::{OrderedQueue, job_before, queue_before};
use caldera_framework::{Action, Arguments, ConfigError, JobId, JobPhase, Millis, Session};

use super::evict::{Kind, RunningJobs, make_room};

/// Configuration name.
pub const NAME: &str = "preempt";
/// Default `cooldown`.
pub const DEFAULT_COOLDOWN: Millis = 300_000;

/// The preempt action.
#[derive(Clone, Debug)]
pub struct Preempt {
    cooldown: Millis,
}

impl Preempt {
    /// Reads `cooldown` (a duration, default 5m).
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        Ok(Preempt {
            cooldown: cooldown(args)?,
        })
    }
}

/// The `cooldown` argument of `preempt` and `reclaim`.
pub fn cooldown(args: &Arguments) -> Result<Millis, ConfigError> {
    match args.duration("cooldown")? {
        Some(d) if d < 0 => Err(ConfigError::Invalid("argument cooldown must not be negative".into())),
        Some(d) => Ok(d),
        None => Ok(DEFAULT_COOLDOWN),
    }
}

/// Waiting jobs that may evict others to start, grouped by queue and ordered.
pub(crate) fn preemptors(ssn: &Session) -> Vec<OrderedQueue<JobId>> {
    let s = &ssn.snap;
    let mut per_queue: Vec<OrderedQueue<JobId>> = vec![OrderedQueue::new(); s.queues.len()];
    for j in s.job_ids() {
        let job = s.job(j);
        let waiting = job.is_schedulable_source()
            && job.problem.is_none()
            && job.phase != JobPhase::Pending
            && !job.never_preempts
            && s.pending_count(j) > 0
            && !ssn.plugins.job_ready(s, j)
            && ssn.plugins.job_valid(s, j).is_none()
            && ssn.plugins.job_starving(s, j);
        if waiting {
            per_queue[job.queue.idx()].push(j, &|a, b| job_before(&ssn.plugins, s, a, b));
        }
    }
    per_queue
}

impl Action for Preempt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn evicts(&self) -> bool {
        true
    }

    fn execute(&self, ssn: &mut Session) {
        let mut per_queue = preemptors(ssn);
        let running = RunningJobs::of(ssn);
        let mut queues: Vec<_> = ssn
            .snap
            .queue_ids()
            .filter(|q| !per_queue[q.idx()].is_empty())
            .collect();
        let mut order = OrderedQueue::new();
        for q in queues.drain(..) {
            order.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
        }
        while let Some(q) = order.pop(&|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b)) {
            while let Some(j) = per_queue[q.idx()].pop(&|a, b| job_before(&ssn.plugins, &ssn.snap, a, b)) {
                if ssn.plugins.job_starving(&ssn.snap, j) {
                    make_room(ssn, &running, j, Kind::Preempt, self.cooldown);
                }
            }
        }
    }
}

//! `enqueue`: admits Pending jobs (Pending → Inqueue) so their controllers may create pods and
//! `allocate` considers them. Queues take turns, one job each, in queue order; a job without
//! minResources is admitted at once, any other needs every admission plugin's consent
//! (`overcommit`: cluster capacity; `proportion`: the queue's capability).

use caldera_framework::order::OrderedQueue;
use caldera_framework::{Action, JobId, JobPhase, QueueState, Session};

use super::{job_before, queue_before};

/// Configuration name.
pub const NAME: &str = "enqueue";

/// The enqueue action.
#[derive(Default)]
pub struct Enqueue;

impl Action for Enqueue {
    fn name(&self) -> &'static str {
        NAME
    }

    fn execute(&self, ssn: &mut Session) {
        let mut per_queue: Vec<OrderedQueue<JobId>> = vec![OrderedQueue::new(); ssn.snap.queues.len()];
        for j in ssn.snap.job_ids() {
            let job = ssn.snap.job(j);
            if job.phase != JobPhase::Pending || !job.is_schedulable_source() || job.problem.is_some() {
                continue;
            }
            per_queue[job.queue.idx()].push(j, &|a, b| job_before(&ssn.plugins, &ssn.snap, a, b));
        }
        let mut queues = OrderedQueue::new();
        for q in ssn.snap.queue_ids() {
            if !per_queue[q.idx()].is_empty() {
                queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
        while let Some(q) = queues.pop(&|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b)) {
            let Some(j) = per_queue[q.idx()].pop(&|a, b| job_before(&ssn.plugins, &ssn.snap, a, b)) else {
                continue;
            };
            let queue = ssn.snap.queue(q);
            if queue.state != QueueState::Open {
                let msg = format!("queue {} is {:?} and admits no new jobs", queue.name, queue.state);
                ssn.record_job_message(j, msg);
            } else if ssn.snap.job(j).min_resources.is_none() || ssn.plugins.job_enqueueable(&ssn.snap, j) {
                ssn.snap.jobs[j.idx()].phase = JobPhase::Inqueue;
                ssn.plugins.job_enqueued(&ssn.snap, j);
            } else {
                let msg = format!(
                    "job is not admitted: its minResources do not fit queue {}'s remaining share or the cluster's idle resources",
                    queue.name
                );
                ssn.record_job_message(j, msg);
            }
            if !per_queue[q.idx()].is_empty() {
                queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
    }
}

//! `enqueue`: admits Pending jobs (Pending → Inqueue) so their controllers may create pods and
//! `allocate` considers them. Queues take turns, one job each, in queue order; a job without
//! minResources is admitted at once, any other needs every admission plugin's consent
//! (`overcommit`: cluster capacity; `proportion`: the queue's capability).

use caldera_framework::order::OrderedQueue;
use caldera_framework::{Action, JobId, JobPhase, JobSource, QueueState, Session};

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
            // A pod without a PodGroup has nothing to admit once it is placed (or finished): its
            // job stays Pending only because no PodGroup phase is written for it. Such pods are
            // most jobs of a cluster of plain pods, and ordering them all cost most of a cycle.
            if job.source == JobSource::Standalone && ssn.snap.pending_count(j) == 0 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pipeline;
    use caldera_testkit::ClusterBuilder;

    #[test]
    fn admits_waiting_work_and_leaves_placed_lone_pods_alone() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(8).mem_gi(16);
        c.bound_pod("a", "placed", "n", |p| p.cpu(1));
        c.pod("a", "waiting", |p| p.cpu(1));
        c.gang("a", "gang", "default", 2, 0, |p| p.cpu(1));
        let pipeline = Pipeline::default_pipeline().expect("the default configuration loads");
        let mut ssn = pipeline.open(c.build(0));
        Enqueue.execute(&mut ssn);
        let phase = |name: &str| {
            ssn.snap
                .jobs
                .iter()
                .find(|j| j.name == name)
                .map(|j| j.phase)
                .expect("the job exists")
        };
        assert_eq!(phase("waiting"), JobPhase::Inqueue, "a lone pod waiting for a node");
        assert_eq!(
            phase("gang"),
            JobPhase::Inqueue,
            "a gang whose pods are yet to be created"
        );
        assert_eq!(phase("placed"), JobPhase::Pending, "nothing left to admit");
    }
}

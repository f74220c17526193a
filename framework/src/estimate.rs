//! Start-time estimates for pending jobs, made at the end of every cycle.
//!
//! Pending jobs are taken round-robin over the queues (queue order), each queue's in job order,
//! up to `estimate-depth` per queue; each is planned on the cycle's [`crate::timeline::Timeline`]
//! at its earliest start after the reservations this cycle made and after the jobs estimated
//! before it, as a conservative backfill scheduler would start them. Under strict order a job is
//! never estimated to start before the job ahead of it in its queue. Jobs that already hold a
//! reservation keep its start as their estimate.
//!
//! An estimate is a forecast from the expected run times, not a promise: it moves when pods end
//! early or late, when jobs of higher order arrive, and (except for reservations) when backfill
//! starts other jobs first.

use std::collections::BTreeMap;

use crate::model::{JobId, Millis, QueueId, TaskId, TaskStatus};
use crate::order::{OrderedQueue, job_before, queue_before, task_order};
use crate::session::Session;

/// The pending pods of `j` a start needs: in task order, as many as the gang still lacks (all of
/// them when roles have their own minimums).
pub fn needed_tasks(ssn: &Session, j: JobId) -> Vec<TaskId> {
    let s = &ssn.snap;
    let job = s.job(j);
    let mut pending: Vec<TaskId> = job
        .tasks
        .iter()
        .copied()
        .filter(|t| s.task(*t).status == TaskStatus::Pending)
        .collect();
    pending.sort_by(|a, b| task_order(&ssn.plugins, s, *a, *b));
    if job.min_task_member.is_empty() {
        let missing = job.min_member.saturating_sub(job.ready + job.pipelined).max(1);
        pending.truncate(usize::try_from(missing).unwrap_or(usize::MAX));
    }
    pending
}

/// Whether `j` is a job waiting to start: schedulable, valid, not yet holding its gang.
fn waiting(ssn: &Session, j: JobId) -> bool {
    let s = &ssn.snap;
    let job = s.job(j);
    job.is_schedulable_source()
        && job.problem.is_none()
        && s.pending_count(j) > 0
        && !ssn.plugins.job_ready(s, j)
        && ssn.plugins.job_valid(s, j).is_none()
}

/// Estimates the start of pending jobs that have none yet; see the module documentation.
pub(crate) fn estimate_starts(ssn: &mut Session) {
    let depth = ssn.policy.estimate_depth;
    if depth == 0 {
        return;
    }
    let next_cycle = ssn.snap.now.saturating_add(ssn.snap.period);
    let mut per_queue: BTreeMap<QueueId, OrderedQueue<JobId>> = BTreeMap::new();
    for j in ssn.snap.job_ids() {
        if !waiting(ssn, j) {
            continue;
        }
        let job = ssn.snap.job(j);
        if job.pipelined > 0 && ssn.plugins.job_pipelined(&ssn.snap, j) {
            // Placed on resources that are being released: it starts once they are.
            ssn.outcome.estimated_starts.entry(j).or_insert(next_cycle);
            continue;
        }
        per_queue
            .entry(job.queue)
            .or_insert_with(OrderedQueue::new)
            .push(j, &|a, b| job_before(&ssn.plugins, &ssn.snap, a, b));
    }
    let mut queues: Vec<QueueId> = per_queue.keys().copied().collect();
    queues.sort_by(|a, b| {
        if queue_before(&ssn.plugins, &ssn.snap, *a, *b) {
            std::cmp::Ordering::Less
        } else if queue_before(&ssn.plugins, &ssn.snap, *b, *a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let mut last: BTreeMap<QueueId, Millis> = BTreeMap::new();
    for _ in 0..depth {
        let mut any = false;
        for &q in &queues {
            let Some(heap) = per_queue.get_mut(&q) else { continue };
            let Some(j) = heap.pop(&|a, b| job_before(&ssn.plugins, &ssn.snap, a, b)) else {
                continue;
            };
            any = true;
            if let Some(&start) = ssn.outcome.estimated_starts.get(&j) {
                last.insert(q, start);
                continue;
            }
            let not_before = if ssn.policy.strict_order {
                last.get(&q).copied().unwrap_or(ssn.snap.now)
            } else {
                ssn.snap.now
            };
            let tasks = needed_tasks(ssn, j);
            if let Some(slot) = ssn.plan(j, &tasks, not_before) {
                last.insert(q, slot.start);
                ssn.reserve(j, &slot, false);
            }
        }
        if !any {
            break;
        }
    }
}

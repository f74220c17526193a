//! Start-time estimates for pending jobs, made at the end of every cycle.
//!
//! Pending jobs are taken round-robin over the queues (queue order), each queue's in job order,
//! up to `estimate-depth` per queue; each is planned on the cycle's [`crate::timeline::Timeline`]
//! at its earliest start after the reservations this cycle made and after the jobs estimated
//! before it, as a conservative backfill scheduler would start them. Under strict order a job is
//! never estimated to start before the job ahead of it in its queue; nor is a job estimated to
//! start before its queue's own pods, ending, leave room for it in the queue's deserved share
//! (none if the job alone is more than the share). Jobs that already hold a reservation keep
//! its start as their estimate.
//!
//! An estimate is a forecast from the expected run times, not a promise: it moves when pods end
//! early or late, when jobs of higher order arrive, and (except for reservations) when backfill
//! starts other jobs first.

use std::collections::BTreeMap;

use crate::model::{JobId, Millis, QueueId, TaskId, TaskStatus};
use crate::order::{OrderedQueue, job_before, queue_before, task_order};
use crate::resource::Resources;
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

/// The earliest time at which queue `q` has room in its deserved share for `need` more, as its
/// own pods end by their expected run times: now if it has room already; `None` if it never will.
/// Without a plugin that computes deserved shares the share holds nothing back: now.
pub fn share_room_at(ssn: &Session, q: QueueId, need: &Resources) -> Option<Millis> {
    let s = &ssn.snap;
    let Some(deserved) = ssn.plugins.queue_deserved(s, q) else {
        return Some(s.now);
    };
    let fits = |held: &Resources| {
        held.plus(need)
            .iter()
            .all(|(id, v)| id == crate::resource::PODS || need.get(id) <= 0 || v <= deserved.get(id))
    };
    let mut held = s.queue(q).allocated.clone();
    if fits(&held) {
        return Some(s.now);
    }
    let mut ends: Vec<(Millis, TaskId)> = s
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status.occupies_node() && t.status != TaskStatus::Releasing && s.job(t.job).queue == q)
        .map(|(i, _)| (ssn.policy.expected_end(s, TaskId::from_idx(i)), TaskId::from_idx(i)))
        .filter(|(end, _)| *end != crate::policy::NEVER)
        .collect();
    ends.sort_unstable();
    for (end, t) in ends {
        held.sub(&s.task(t).spec.request);
        if fits(&held) {
            return Some(end);
        }
    }
    None
}

/// What `tasks` request together.
pub fn total_request(ssn: &Session, tasks: &[TaskId]) -> Resources {
    let mut r = Resources::new();
    for t in tasks {
        r.add(&ssn.snap.task(*t).spec.request);
    }
    r
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
            let mut not_before = if ssn.policy.strict_order {
                last.get(&q).copied().unwrap_or(ssn.snap.now)
            } else {
                ssn.snap.now
            };
            let tasks = needed_tasks(ssn, j);
            // A queue with no room left in its share starts nothing before enough of its own
            // pods end, whatever the nodes have free.
            match share_room_at(ssn, q, &total_request(ssn, &tasks)) {
                Some(t) => not_before = not_before.max(t),
                None => continue,
            }
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

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
use crate::timeline::Slot;

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

/// The earliest time at which `j`'s queue has room in its deserved share for `tasks` (the pods
/// the job still needs) for as long as they are expected to run: the queue's own pods end by their
/// expected run times, and the reservations of the cycle for other jobs of the queue hold the share
/// while they are due to run. Now if there is room already; `None` if there never will be (the job
/// alone is more than the share). Without a plugin that computes deserved shares the share holds
/// nothing back: now.
pub fn share_room_at(ssn: &mut Session, j: JobId, tasks: &[TaskId]) -> Option<Millis> {
    let now = ssn.snap.now;
    share_room_from(ssn, j, tasks, now)
}

/// As [`share_room_at`], not before `from`.
pub fn share_room_from(ssn: &mut Session, j: JobId, tasks: &[TaskId], from: Millis) -> Option<Millis> {
    share_room_without(ssn, j, tasks, from, &[])
}

/// As [`share_room_from`], as if the pods `without` (placed this cycle, not committed) were not
/// there: what a placement under consideration changes for `j`.
pub fn share_room_without(
    ssn: &mut Session,
    j: JobId,
    tasks: &[TaskId],
    from: Millis,
    without: &[TaskId],
) -> Option<Millis> {
    let q = ssn.snap.job(j).queue;
    ssn.refresh_queue_ends(q);
    let ssn: &Session = ssn;
    let s = &ssn.snap;
    let from = from.max(s.now);
    let Some(deserved) = ssn.plugins.queue_deserved(s, q) else {
        return Some(from);
    };
    let need = total_request(ssn, tasks);
    let duration = tasks
        .iter()
        .map(|t| ssn.policy.runtime(s, *t))
        .try_fold(0, |acc: Millis, rt| rt.map(|rt| acc.max(rt)));
    let ends = ssn.queue_ends(q);
    let claims: Vec<(Millis, Millis, Resources)> = ssn
        .outcome
        .reservations
        .iter()
        .filter(|(other, _)| **other != j && s.job(**other).queue == q)
        .map(|(_, slot)| {
            let mut amount = Resources::new();
            for (_, r) in &slot.nodes {
                amount.add(r);
            }
            (slot.start, slot.end, amount)
        })
        .collect();
    let left_out: Vec<(Millis, &Resources)> = without
        .iter()
        .filter(|t| s.job(s.task(**t).job).queue == q)
        .map(|t| (ssn.policy.expected_end(s, *t), &s.task(*t).spec.request))
        .collect();
    let held_at = |t: Millis| {
        let mut held = s.queue(q).allocated.clone();
        for (_, r) in ends.iter().take_while(|(end, _)| *end <= t) {
            held.sub(r);
        }
        for (_, r) in left_out.iter().filter(|(end, _)| *end > t) {
            held.sub(r);
        }
        for (start, end, amount) in &claims {
            if *start <= t && t < *end {
                held.add(amount);
            }
        }
        held
    };
    let fits = |held: &Resources| {
        held.plus(&need)
            .iter()
            .all(|(id, v)| id == crate::resource::PODS || need.get(id) <= 0 || v <= deserved.get(id))
    };
    let mut times: Vec<Millis> = vec![from];
    times.extend(ends.iter().map(|(t, _)| *t).filter(|t| *t > from));
    times.extend(
        claims
            .iter()
            .map(|(_, end, _)| *end)
            .filter(|t| *t > from && *t != crate::policy::NEVER),
    );
    times.sort_unstable();
    times.dedup();
    times.into_iter().find(|&t| {
        let until = duration.map_or(crate::policy::NEVER, |d| t.saturating_add(d));
        std::iter::once(t)
            .chain(
                claims
                    .iter()
                    .map(|(start, _, _)| *start)
                    .filter(|c| *c > t && *c < until),
            )
            .all(|at| fits(&held_at(at)))
    })
}

/// The earliest slot at which `tasks` of `j` fit both on the nodes and in the queue's share, not
/// before `not_before`: the node plan and the share are tried in turn until they agree (a bounded
/// number of times; `None` past that, or if either never allows it).
pub fn plan_within_share(ssn: &mut Session, j: JobId, tasks: &[TaskId], not_before: Millis) -> Option<Slot> {
    let mut from = not_before;
    for _ in 0..16 {
        let t = share_room_from(ssn, j, tasks, from)?;
        let slot = ssn.plan(j, tasks, t)?;
        let again = share_room_from(ssn, j, tasks, slot.start)?;
        if again == slot.start {
            return Some(slot);
        }
        from = again;
    }
    None
}

/// When the pods of queue `q` holding nodes are expected to end, with what they hold, merged by
/// time (pods that never end left out).
pub(crate) fn queue_ends(ssn: &Session, q: QueueId) -> Vec<(Millis, Resources)> {
    let s = &ssn.snap;
    let mut ends: Vec<(Millis, TaskId)> = s
        .jobs
        .iter()
        .filter(|job| job.queue == q)
        .flat_map(|job| job.tasks.iter().copied())
        .filter(|t| {
            let st = s.task(*t).status;
            st.occupies_node() && st != TaskStatus::Releasing
        })
        .map(|t| (ssn.policy.expected_end(s, t), t))
        .filter(|(end, _)| *end != crate::policy::NEVER)
        .collect();
    ends.sort_unstable();
    let mut merged: Vec<(Millis, Resources)> = Vec::new();
    for (end, t) in ends {
        match merged.last_mut() {
            Some((at, r)) if *at == end => r.add(&s.task(t).spec.request),
            _ => merged.push((end, s.task(t).spec.request.clone())),
        }
    }
    merged
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
            let not_before = if ssn.policy.strict_order {
                last.get(&q).copied().unwrap_or(ssn.snap.now)
            } else {
                ssn.snap.now
            };
            let tasks = needed_tasks(ssn, j);
            // A queue with no room left in its share starts nothing before enough of its own
            // pods end, whatever the nodes have free.
            if let Some(slot) = plan_within_share(ssn, j, &tasks, not_before) {
                last.insert(q, slot.start);
                ssn.reserve(j, &slot, false);
            }
        }
        if !any {
            break;
        }
    }
}

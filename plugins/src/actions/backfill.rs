//! `backfill`: starts jobs out of order where that harms no one.
//!
//! Every mode first does what Volcano's backfill does: it places pods that request nothing but a
//! pod slot (Caldera's `allocate` already places them with their gang, so this matters for
//! configurations without `allocate` and for such pods that arrive for jobs already running).
//! Each job's pods are committed together, and only when the job's gang is then ready (and, under
//! a reservation policy, they take no pod slot a reservation needs).
//!
//! With a reservation policy (`mode: easy` or `mode: conservative`, see
//! [`caldera_framework::StartPolicy`]) it then goes on, queue by queue in queue order and job by
//! job in job order, through the jobs `allocate` left waiting:
//!
//! ```text
//! starving jobs first (pending longer than starvation-threshold): start now, else reserve
//! every other waiting job:
//!   fits in idle resources now, and every reservation still fits ─▶ start it (backfilled)
//!   else, one of the first K waiting jobs of its queue            ─▶ reserve its earliest slot
//!   else                                                          ─▶ wait (its estimate is made
//!                                                                     at the end of the cycle)
//! ```
//! "Every reservation still fits" is checked on the nodes the job would take, over the whole
//! time it is expected to run: a job may use a reserved node if it ends (by its expected run
//! time) before the reservation starts, or if it leaves the reserved amount untouched. K is 1 in
//! EASY mode (the head of each queue, reserved by `allocate`) and `reservation-depth` in
//! conservative mode.

use caldera_framework::estimate::needed_tasks;
use caldera_framework::order::{OrderedQueue, job_before, queue_before};
use caldera_framework::placement::Placement;
use caldera_framework::{Action, JobId, JobPhase, QueueId, Reservations, Session, Statement, TaskStatus};

use super::allocate::{Allocate, Attempt, reserve};

/// Configuration name.
pub const NAME: &str = "backfill";

/// The backfill action.
#[derive(Default)]
pub struct Backfill;

impl Action for Backfill {
    fn name(&self) -> &'static str {
        NAME
    }

    fn execute(&self, ssn: &mut Session) {
        best_effort(ssn);
        if ssn.policy.reservations != Reservations::None {
            with_reservations(ssn);
        }
    }
}

/// Volcano's backfill: pods that request nothing.
fn best_effort(ssn: &mut Session) {
    for j in ssn.snap.job_ids() {
        let job = ssn.snap.job(j);
        // A gang confined to one topology domain is placed by `allocate`, which chooses the
        // domain for the whole gang; placing its pods one by one here could split it.
        if !job.is_schedulable_source() || job.phase == JobPhase::Pending || job.topology_key.is_some() {
            continue;
        }
        let tasks: Vec<_> = job
            .tasks
            .iter()
            .copied()
            .filter(|t| {
                let task = ssn.snap.task(*t);
                task.status == TaskStatus::Pending && task.spec.request.is_best_effort()
            })
            .collect();
        if tasks.is_empty() || ssn.plugins.job_valid(&ssn.snap, j).is_some() {
            continue;
        }
        let mut stmt = Statement::new();
        for t in tasks {
            match ssn.find_node(t) {
                Ok(Placement::Idle(n)) => stmt.allocate(ssn, t, n),
                Ok(Placement::Future(n)) => stmt.pipeline(ssn, t, n),
                Err(f) => ssn.record_unschedulable(t, f.message()),
            }
        }
        let placed: Vec<_> = stmt
            .allocated()
            .map(|(t, _)| t)
            .chain(stmt.pipelined().into_iter().map(|(t, _)| t))
            .collect();
        if ssn.plugins.job_ready(&ssn.snap, j) && !ssn.disturbs_reservations(&placed) {
            stmt.commit(ssn);
        } else {
            stmt.discard(ssn);
        }
    }
}

/// Jobs that wait to start: admitted, valid, not holding their gang, not already reserved.
fn waiting(ssn: &Session) -> Vec<JobId> {
    let s = &ssn.snap;
    s.job_ids()
        .filter(|&j| {
            let job = s.job(j);
            job.is_schedulable_source()
                && job.problem.is_none()
                && job.phase != JobPhase::Pending
                && !ssn.outcome.reservations.contains_key(&j)
                && s.pending_count(j) > 0
                && !ssn.plugins.job_ready(s, j)
                && !(job.pipelined > 0 && ssn.plugins.job_pipelined(s, j))
                && ssn.plugins.job_valid(s, j).is_none()
        })
        .collect()
}

/// Tries to start `j` now; if it fits but would take reserved room, once more on the nodes the
/// timeline found for it.
fn try_start(ssn: &mut Session, j: JobId) -> Attempt {
    let allocate = Allocate::default();
    let attempt = allocate.allocate_job(ssn, j);
    let Attempt::Waits { disturbed: true, .. } = attempt else {
        return attempt;
    };
    match allocate.start_where_planned(ssn, j) {
        Some(placed @ Attempt::Placed(_)) => placed,
        _ => {
            // The reason to report is the first one: it fits, but not without delaying someone.
            let msg = "starting now would delay a job that holds a reservation".to_string();
            for t in needed_tasks(ssn, j) {
                ssn.record_unschedulable(t, msg.clone());
            }
            attempt
        }
    }
}

fn with_reservations(ssn: &mut Session) {
    let depth = ssn.policy.reservations.depth();
    let candidates = waiting(ssn);

    // Starvation guard: a job that has waited too long gets a reservation wherever it stands.
    if let Some(limit) = ssn.policy.starvation_threshold {
        let now = ssn.snap.now;
        let mut starving: Vec<JobId> = candidates
            .iter()
            .copied()
            .filter(|j| now.saturating_sub(ssn.snap.job(*j).created) > limit)
            .collect();
        starving.sort_by_key(|j| (ssn.snap.job(*j).created, *j));
        for j in starving {
            if !matches!(try_start(ssn, j), Attempt::Placed(_)) && !ssn.outcome.reservations.contains_key(&j) {
                reserve(ssn, j);
            }
        }
    }

    let mut reserved_in: Vec<usize> = vec![0; ssn.snap.queues.len()];
    for j in ssn.outcome.reservations.keys() {
        reserved_in[ssn.snap.job(*j).queue.idx()] += 1;
    }
    let mut per_queue: Vec<OrderedQueue<JobId>> = vec![OrderedQueue::new(); ssn.snap.queues.len()];
    for j in waiting(ssn) {
        let q = ssn.snap.job(j).queue;
        per_queue[q.idx()].push(j, &|a, b| job_before(&ssn.plugins, &ssn.snap, a, b));
    }
    let mut queues: OrderedQueue<QueueId> = OrderedQueue::new();
    for q in ssn.snap.queue_ids() {
        if !per_queue[q.idx()].is_empty() {
            queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
        }
    }
    while let Some(q) = queues.pop(&|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b)) {
        let Some(j) = per_queue[q.idx()].pop(&|a, b| job_before(&ssn.plugins, &ssn.snap, a, b)) else {
            continue;
        };
        let overused = ssn.plugins.overused(&ssn.snap, q);
        if !overused {
            match try_start(ssn, j) {
                Attempt::Placed(true) => {
                    per_queue[q.idx()].push(j, &|a, b| job_before(&ssn.plugins, &ssn.snap, a, b));
                }
                Attempt::Placed(false) | Attempt::Waits { pipelined: true, .. } => {}
                Attempt::Waits { blocks, .. } => {
                    if blocks && reserved_in[q.idx()] < depth && reserve(ssn, j) {
                        reserved_in[q.idx()] += 1;
                    }
                }
            }
        }
        if !per_queue[q.idx()].is_empty() {
            queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
        }
    }
}

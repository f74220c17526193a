//! `allocate`: places admitted jobs, queue by queue and job by job, all-or-nothing.
//!
//! ```text
//! pop queue (queue order; skip if overused) → pop job (job order) → tasks in task order:
//!     queue allocatable? → best node of the task's class → allocate (idle) | pipeline (releasing)
//!     stop once the job is ready
//! job ready      → commit   (binds)                    ─┐
//! job pipelined  → keep     (reserve, bind nothing)     ├─ push the job back if it has more pods
//! otherwise      → discard  (nothing happened)         ─┘
//! ```
//! Unlike Volcano, pods that request nothing are placed here too, with the rest of their gang:
//! leaving them to `backfill` lets a gang commit before those pods have a node.
//!
//! What a job that cannot start does to the jobs behind it is the pipeline's start policy
//! ([`caldera_framework::StartPolicy`]):
//! - by default (Volcano), nothing: the next job of the queue is tried;
//! - with `strict-order: true` it blocks its queue for the rest of the cycle (FIFO gang
//!   scheduling): a small job never overtakes a big one;
//! - with EASY or conservative backfill, it also gets a reservation — the earliest time and the
//!   nodes at which it fits by the expected ends of running pods — and every later placement in
//!   the cycle, in any queue, must leave that room untouched. Jobs behind it are left to
//!   `backfill`. A gang larger than the whole cluster never blocks anything.
//!
//! A job whose pods were promised room by an earlier cycle (nominated after a preemption, or
//! pipelined onto pods being deleted) is placed with that promise released, so it can use the
//! room; if it still cannot be placed although nothing is being released on those nodes any more,
//! the promise is dropped.

use caldera_framework::estimate::{needed_tasks, plan_within_share, share_room_from, share_room_without};
use caldera_framework::order::OrderedQueue;
use caldera_framework::placement::Placement;
use caldera_framework::timeline::Slot;
use caldera_framework::{
    Action, ClassId, JobId, JobPhase, NodeId, QueueId, Reservations, Resources, Session, Statement, TaskId, TaskStatus,
};

use super::{job_before, queue_before, task_order};

/// Configuration name.
pub const NAME: &str = "allocate";

/// The allocate action.
#[derive(Default)]
pub struct Allocate {
    /// Admit Pending jobs here, for configurations that do not run `enqueue` (Volcano does the same).
    pub admit_pending: bool,
}

/// How trying one job went.
pub(crate) enum Attempt {
    /// Placed (committed); `true` when it has more pods to try later.
    Placed(bool),
    /// It could not start now.
    Waits {
        /// Whether it holds up its queue under strict order (a gang larger than the whole
        /// cluster does not).
        blocks: bool,
        /// Whether it keeps pipelined room (so needs no reservation).
        pipelined: bool,
        /// Whether it fitted but would have taken room a reservation needs.
        disturbed: bool,
    },
}

/// Releases the room earlier cycles promised `j`'s pods, inside `stmt`.
pub fn unnominate_job(ssn: &mut Session, stmt: &mut Statement, j: JobId) {
    let tasks: Vec<TaskId> = ssn
        .snap
        .job(j)
        .tasks
        .iter()
        .copied()
        .filter(|t| ssn.snap.task(*t).nominated.is_some())
        .collect();
    for t in tasks {
        stmt.unnominate(ssn, t);
    }
}

fn pending_tasks(ssn: &Session, j: JobId) -> Vec<TaskId> {
    let s = &ssn.snap;
    let mut tasks: Vec<TaskId> = s
        .job(j)
        .tasks
        .iter()
        .copied()
        .filter(|t| {
            let task = s.task(*t);
            task.status == TaskStatus::Pending
        })
        .collect();
    tasks.sort_by(|a, b| task_order(&ssn.plugins, s, *a, *b));
    tasks
}

/// Says so when the gang's minimum cannot fit even in the whole, empty cluster (in some resource,
/// the smallest pods it still needs add up to more than every node together has): then no
/// placement is attempted, and the reason names the resource instead of a per-node tally.
fn exceeds_cluster(ssn: &Session, j: JobId, pending: &[TaskId]) -> Option<String> {
    let s = &ssn.snap;
    let job = s.job(j);
    let ready = s.ready_count(j);
    let missing = usize::try_from(job.min_member.saturating_sub(ready)).unwrap_or(usize::MAX);
    if missing == 0 || pending.len() < missing {
        return None;
    }
    // A lower bound per resource: what the job holds plus its `missing` smallest pending requests.
    let mut need = job.allocated.clone();
    for r in s.resources.ids() {
        let mut values: Vec<i64> = pending.iter().map(|t| s.task(*t).spec.request.get(r)).collect();
        values.sort_unstable();
        let least: i64 = values.iter().take(missing).sum();
        need.set(r, need.get(r).saturating_add(least));
    }
    let over: Vec<String> = need
        .insufficient(&s.total)
        .map(|r| {
            let name = s.resources.name(r);
            format!(
                "{name}: needs {}, the cluster has {}",
                s.resources.format_value(r, need.get(r)),
                s.resources.format_value(r, s.total.get(r))
            )
        })
        .collect();
    (!over.is_empty()).then(|| {
        format!(
            "the gang's {} minimum pods need more than the whole cluster has ({})",
            job.min_member,
            over.join("; ")
        )
    })
}

impl Allocate {
    fn candidates(&self, ssn: &mut Session) -> Vec<JobId> {
        let mut out = Vec::new();
        for j in ssn.snap.job_ids() {
            let job = ssn.snap.job(j);
            if !job.is_schedulable_source() {
                continue;
            }
            if job.phase == JobPhase::Pending {
                if !self.admit_pending || job.problem.is_some() {
                    continue;
                }
                ssn.snap.jobs[j.idx()].phase = JobPhase::Inqueue;
            }
            if ssn.snap.pending_count(j) == 0 {
                continue;
            }
            if let Some((_, message)) = ssn.plugins.job_valid(&ssn.snap, j) {
                ssn.record_job_message(j, message);
                continue;
            }
            out.push(j);
        }
        out
    }

    /// Places `j`'s pending pods in task order until the gang is ready; returns the statement and
    /// whether pods are left for a later round.
    pub(crate) fn place(&self, ssn: &mut Session, j: JobId, tasks: &[TaskId]) -> (Statement, bool) {
        let queue = ssn.snap.job(j).queue;
        let mut stmt = Statement::new();
        unnominate_job(ssn, &mut stmt, j);
        let mut failed: Vec<(ClassId, String)> = Vec::new();
        for (i, &t) in tasks.iter().enumerate() {
            let class = ssn.snap.task(t).class;
            if let Some((_, msg)) = failed.iter().find(|(c, _)| *c == class) {
                let msg = msg.clone();
                ssn.record_unschedulable(t, msg);
                continue;
            }
            if !ssn.plugins.allocatable(&ssn.snap, queue, t) {
                let name = ssn.snap.queue(queue).name.clone();
                let msg = explain_refusal(
                    ssn,
                    t,
                    format!("queue {name} has no room for this pod within its share"),
                );
                ssn.record_unschedulable(t, msg);
                continue;
            }
            match ssn.find_node(t) {
                Ok(Placement::Idle(n)) => stmt.allocate(ssn, t, n),
                Ok(Placement::Future(n)) => stmt.pipeline(ssn, t, n),
                Err(f) => {
                    let msg = f.message();
                    ssn.record_unschedulable(t, msg.clone());
                    failed.push((class, msg));
                    continue;
                }
            }
            if ssn.plugins.job_ready(&ssn.snap, j) {
                return (stmt, i + 1 < tasks.len());
            }
        }
        (stmt, false)
    }

    /// Commits, keeps or discards a placement attempt. Under a reservation policy a placement
    /// that would take room a reservation needs is discarded. A `promised` start (a reservation
    /// granted earlier, starting now) was counted in its queue's share when the queue's later
    /// reservations were granted, so only the nodes are checked for it.
    fn settle(ssn: &mut Session, j: JobId, stmt: Statement, more_left: bool, promised: bool) -> Attempt {
        let placed: Vec<TaskId> = stmt
            .allocated()
            .map(|(t, _)| t)
            .chain(stmt.pipelined().into_iter().map(|(t, _)| t))
            .collect();
        if !placed.is_empty() && (ssn.disturbs_reservations(&placed) || (!promised && disturbs_share(ssn, j, &placed)))
        {
            stmt.discard(ssn);
            let msg = "starting now would delay a job that holds a reservation".to_string();
            for t in placed {
                ssn.record_unschedulable(t, msg.clone());
            }
            return Attempt::Waits {
                blocks: true,
                pipelined: false,
                disturbed: true,
            };
        }
        if ssn.plugins.job_ready(&ssn.snap, j) {
            stmt.commit(ssn);
            Attempt::Placed(more_left)
        } else if !stmt.is_empty() && ssn.plugins.job_pipelined(&ssn.snap, j) {
            ssn.keep(stmt);
            Attempt::Waits {
                blocks: true,
                pipelined: true,
                disturbed: false,
            }
        } else {
            let had_nominations = stmt.releases_nominations();
            stmt.discard(ssn);
            if had_nominations {
                ssn.drop_stale_nominations(j);
            }
            Attempt::Waits {
                blocks: true,
                pipelined: false,
                disturbed: false,
            }
        }
    }

    /// Tries to start `j` now (respecting the cycle's reservations).
    pub(crate) fn allocate_job(&self, ssn: &mut Session, j: JobId) -> Attempt {
        let tasks = pending_tasks(ssn, j);
        if let Some(msg) = exceeds_cluster(ssn, j, &tasks) {
            for &t in &tasks {
                ssn.record_unschedulable(t, msg.clone());
            }
            return Attempt::Waits {
                blocks: false,
                pipelined: false,
                disturbed: false,
            };
        }
        if let Some(key) = ssn.snap.job(j).topology_key.clone() {
            return self.allocate_in_one_domain(ssn, j, &tasks, &key);
        }
        let (stmt, more_left) = self.place(ssn, j, &tasks);
        Self::settle(ssn, j, stmt, more_left, false)
    }

    /// A gang with a topology key goes whole into one domain (the nodes sharing one value of that
    /// label). Every domain is tried as a dry run; of those that hold the gang, the one left with
    /// the least free capacity of the gang's main resource wins (best fit: large free domains stay
    /// whole for large gangs); the placement is then made there for real.
    fn allocate_in_one_domain(&self, ssn: &mut Session, j: JobId, tasks: &[TaskId], key: &str) -> Attempt {
        match self.domain_for(ssn, j, tasks, key) {
            Ok(mask) => {
                ssn.node_mask = Some(mask);
                let (stmt, more_left) = self.place(ssn, j, tasks);
                ssn.node_mask = None;
                Self::settle(ssn, j, stmt, more_left, false)
            }
            Err((msg, blocks)) => {
                for &t in tasks {
                    ssn.record_unschedulable(t, msg.clone());
                }
                Attempt::Waits {
                    blocks,
                    pipelined: false,
                    disturbed: false,
                }
            }
        }
    }

    /// The domain of topology `key` the gang should go to (see [`Allocate::allocate_in_one_domain`]),
    /// as a node mask; or why there is none, and whether that holds up the queue.
    fn domain_for(
        &self,
        ssn: &mut Session,
        j: JobId,
        tasks: &[TaskId],
        key: &str,
    ) -> Result<Vec<bool>, (String, bool)> {
        let s = &ssn.snap;
        let mut domains: std::collections::BTreeMap<String, Vec<bool>> = std::collections::BTreeMap::new();
        for n in s.node_ids() {
            if let Some(v) = s.node(n).labels.get(key) {
                domains.entry(v.clone()).or_insert_with(|| vec![false; s.nodes.len()])[n.idx()] = true;
            }
        }
        // Pods already placed (not those on their way out) pin the gang to their domain; if they
        // span several (placed before the constraint existed), the domain holding most of them.
        let mut held: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for &t in &s.job(j).tasks {
            let task = s.task(t);
            let live = (task.status.occupies_node() && task.status != TaskStatus::Releasing)
                || task.status == TaskStatus::Pipelined;
            if let (true, Some(n)) = (live, task.node)
                && let Some(v) = s.node(n).labels.get(key)
            {
                *held.entry(v.clone()).or_default() += 1;
            }
        }
        if let Some(home) = held
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(v, _)| v.clone())
        {
            domains.retain(|v, _| *v == home);
        }
        if domains.is_empty() {
            let msg = format!("no node has the topology label {key:?}, so the gang cannot be kept in one domain");
            return Err((msg, false));
        }
        let main = main_resource(ssn, tasks);
        // Domains where the gang starts now beat those where it waits for pods being released.
        let mut best: Option<((bool, i64), String)> = None;
        for (value, mask) in &domains {
            ssn.node_mask = Some(mask.clone());
            let (stmt, _) = self.place(ssn, j, tasks);
            let ready = ssn.plugins.job_ready(&ssn.snap, j);
            if ready || (!stmt.is_empty() && ssn.plugins.job_pipelined(&ssn.snap, j)) {
                let left: i64 = ssn
                    .snap
                    .node_ids()
                    .filter(|n| mask[n.idx()])
                    .map(|n| ssn.snap.node(n).idle().get(main).max(0))
                    .sum();
                let rank = (!ready, left);
                if best.as_ref().is_none_or(|(b, _)| rank < *b) {
                    best = Some((rank, value.clone()));
                }
            }
            stmt.discard(ssn);
        }
        ssn.node_mask = None;
        match best.and_then(|(_, value)| domains.remove(&value)) {
            Some(mask) => Ok(mask),
            None => Err((
                format!(
                    "the gang fits in no single domain of topology key {key:?} ({} domain(s) tried: {})",
                    domains.len(),
                    domains.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                true,
            )),
        }
    }

    /// Places `tasks` of `j` in a statement the caller settles, inside one topology domain if the
    /// job has a topology key; `None` if no domain holds it.
    pub(crate) fn place_job(&self, ssn: &mut Session, j: JobId, tasks: &[TaskId]) -> Option<Statement> {
        let Some(key) = ssn.snap.job(j).topology_key.clone() else {
            return Some(self.place(ssn, j, tasks).0);
        };
        let mask = self.domain_for(ssn, j, tasks, &key).ok()?;
        ssn.node_mask = Some(mask);
        let (stmt, _) = self.place(ssn, j, tasks);
        ssn.node_mask = None;
        Some(stmt)
    }

    /// Under a reservation policy, the jobs that held a reservation after the previous cycle come
    /// first, before any other job of any queue, oldest first:
    ///
    /// 1. each keeps its reservation — same start, same nodes — while that still fits (the
    ///    reservations were consistent with each other when made, and nothing since was allowed
    ///    to disturb them); one that no longer fits (run times were longer than expected) or
    ///    whose start has passed is planned again;
    /// 2. each then moves earlier if it now can, without touching the others;
    /// 3. those whose reservation starts now start, on exactly its nodes.
    ///
    /// So a reservation, once granted, is never taken by a job that was not there to compete for
    /// it, and when the expected run times hold it never slips. Returns, per queue, whether such
    /// a job holds its queue back (strict order); the jobs handled here are removed from
    /// `candidates`.
    fn honour_reservations(&self, ssn: &mut Session, candidates: &mut Vec<JobId>) -> Vec<bool> {
        let mut held_back = vec![false; ssn.snap.queues.len()];
        if ssn.policy.reservations == Reservations::None {
            return held_back;
        }
        let mut earlier: Vec<JobId> = candidates
            .iter()
            .copied()
            .filter(|j| ssn.snap.job(*j).reserved.is_some())
            .collect();
        earlier.sort_by(|a, b| {
            let (x, y) = (ssn.snap.job(*a), ssn.snap.job(*b));
            (x.created, &x.namespace, &x.name).cmp(&(y.created, &y.namespace, &y.name))
        });
        let now = ssn.snap.now;
        let mut lost: Vec<JobId> = Vec::new();
        for &j in &earlier {
            let Some(old) = ssn.snap.job(j).reserved.clone() else {
                continue;
            };
            // The queue's share is not checked again: it was when the reservation was granted,
            // and a promise that moved whenever another queue's demand moved the shares would
            // not be one (see `Plugin::allocatable_on_reservation`).
            if old.start >= now && ssn.timeline().fits(&old) {
                ssn.reserve(j, &old, true);
            } else {
                lost.push(j);
            }
        }
        for j in lost {
            reserve(ssn, j);
        }
        for &j in &earlier {
            let Some(kept) = ssn.outcome.reservations.get(&j).cloned() else {
                continue;
            };
            if kept.start <= now {
                continue;
            }
            ssn.unreserve(j);
            let tasks = needed_tasks(ssn, j);
            let sooner = plan_within_share(ssn, j, &tasks, now).filter(|s| s.start < kept.start);
            ssn.reserve(j, sooner.as_ref().unwrap_or(&kept), true);
        }
        for j in earlier {
            let q = ssn.snap.job(j).queue;
            candidates.retain(|c| *c != j);
            let Some(slot) = ssn.outcome.reservations.get(&j).cloned() else {
                // No room by its queue's share, or it never fits: it waits, holding nothing.
                held_back[q.idx()] |= ssn.policy.strict_order;
                continue;
            };
            if slot.start > now {
                held_back[q.idx()] |= ssn.policy.strict_order;
                continue;
            }
            ssn.unreserve(j);
            let attempt = self.start_on_slot(ssn, j, &slot, true);
            match attempt {
                Attempt::Placed(true) => candidates.push(j),
                Attempt::Placed(false) => {}
                Attempt::Waits { blocks, pipelined, .. } => {
                    if blocks && !pipelined {
                        reserve(ssn, j);
                    }
                    held_back[q.idx()] |= blocks && ssn.policy.strict_order;
                }
            }
        }
        held_back
    }

    /// `j` fits now by the timeline but the node search put it where it would take room a
    /// reservation needs (the search prefers full nodes, often the reserved ones): tries again
    /// exactly where the timeline found room for it.
    pub(crate) fn start_where_planned(&self, ssn: &mut Session, j: JobId) -> Option<Attempt> {
        let tasks = needed_tasks(ssn, j);
        let now = ssn.snap.now;
        let slot = ssn.plan(j, &tasks, now)?;
        if slot.start != now {
            return None;
        }
        Some(self.start_on_slot(ssn, j, &slot, false))
    }

    /// Starts `j`'s gang exactly as `slot` says: each pod on a node of the slot with room left in
    /// the slot's amount for it (and room on the node, and predicates that admit it). `promised`:
    /// the slot is a reservation granted in an earlier cycle, so the queue's hard limits apply but
    /// not its current fair share.
    pub(crate) fn start_on_slot(&self, ssn: &mut Session, j: JobId, slot: &Slot, promised: bool) -> Attempt {
        let tasks = needed_tasks(ssn, j);
        let mut stmt = Statement::new();
        unnominate_job(ssn, &mut stmt, j);
        let mut left: Vec<(NodeId, Resources)> = slot.nodes.clone();
        for &t in &tasks {
            let req = ssn.snap.task(t).spec.request.clone();
            let q = ssn.snap.job(j).queue;
            let allowed = if promised {
                ssn.plugins.allocatable_on_reservation(&ssn.snap, q, t)
            } else {
                ssn.plugins.allocatable(&ssn.snap, q, t)
            };
            if !allowed {
                break;
            }
            let found = left.iter().position(|(n, quota)| {
                req.fits_in(quota)
                    && req.fits_in(&ssn.snap.node(*n).idle())
                    && req.fits_in(&ssn.snap.node(*n).future_idle())
                    && ssn.plugins.predicate(&ssn.snap, t, *n).is_ok()
            });
            let Some(i) = found else { break };
            let n = left[i].0;
            left[i].1.sub(&req);
            stmt.allocate(ssn, t, n);
        }
        let more_left = ssn.snap.pending_count(j) > 0;
        Self::settle(ssn, j, stmt, more_left, promised)
    }

    /// `j` cannot start and holds up queue `q` (strict order): under a reservation policy it gets
    /// its reservation; under plain FIFO the jobs behind it are told why they wait.
    pub(crate) fn block_queue(
        ssn: &mut Session,
        q: QueueId,
        j: JobId,
        pipelined: bool,
        rest: &mut OrderedQueue<JobId>,
    ) {
        if ssn.policy.reservations != Reservations::None && !pipelined {
            reserve(ssn, j);
            return;
        }
        if ssn.policy.reservations == Reservations::None {
            let head = ssn.snap.job(j).key();
            let queue = ssn.snap.queue(q).name.clone();
            while let Some(r) = rest.pop(&|a, b| a < b) {
                ssn.record_job_message(
                    r,
                    format!("waiting behind {head}, the first job of queue {queue} (jobs start in queue order)"),
                );
            }
        }
    }
}

/// Whether `j`'s placement (`placed`, in the session, not committed) takes share a reservation of
/// its queue needs: with it running, another job of the queue that holds a reservation would no
/// longer have room in the queue's deserved share when its reservation starts, and had it without.
/// A reservation the share no longer covers anyway (shares moved since it was granted) still
/// starts on time (`Plugin::allocatable_on_reservation`), so the placement costs it nothing.
fn disturbs_share(ssn: &mut Session, j: JobId, placed: &[TaskId]) -> bool {
    let q = ssn.snap.job(j).queue;
    let others: Vec<(JobId, i64)> = ssn
        .outcome
        .reservations
        .iter()
        .filter(|(r, _)| **r != j && ssn.snap.job(**r).queue == q)
        .map(|(r, slot)| (*r, slot.start))
        .collect();
    others.into_iter().any(|(r, start)| {
        let tasks = needed_tasks(ssn, r);
        share_room_from(ssn, r, &tasks, start) != Some(start)
            && share_room_without(ssn, r, &tasks, start, placed) == Some(start)
    })
}

/// Gives `j` a reservation at its earliest slot once its queue's deserved share has room for it
/// too (else it would hold nodes idle that its queue may not use then); returns whether it got
/// one.
pub(crate) fn reserve(ssn: &mut Session, j: JobId) -> bool {
    let tasks = needed_tasks(ssn, j);
    let now = ssn.snap.now;
    match plan_within_share(ssn, j, &tasks, now) {
        Some(slot) => {
            ssn.reserve(j, &slot, true);
            true
        }
        None => false,
    }
}

/// Why a pod the queue refused waits: when no node could take it anyway, the node-level reason
/// ("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.") is the one to act on; the queue's
/// share is the reason only when a node has room. The decision is the same either way.
fn explain_refusal(ssn: &mut Session, t: TaskId, queue_msg: String) -> String {
    match ssn.find_node(t) {
        Err(f) => f.message(),
        Ok(_) => queue_msg,
    }
}

/// The resource the pods ask the most of, relative to what the cluster has.
fn main_resource(ssn: &Session, tasks: &[TaskId]) -> caldera_framework::ResourceId {
    let s = &ssn.snap;
    let mut total = caldera_framework::Resources::new();
    for &t in tasks {
        total.add(&s.task(t).spec.request);
    }
    s.resources
        .ids()
        .filter(|id| *id != caldera_framework::resource::PODS && s.total.get(*id) > 0)
        .max_by(|a, b| {
            let share = |id: caldera_framework::ResourceId| total.get(id) as f64 / s.total.get(id) as f64;
            share(*a).total_cmp(&share(*b)).then(b.cmp(a))
        })
        .unwrap_or(caldera_framework::resource::CPU)
}

impl Action for Allocate {
    fn name(&self) -> &'static str {
        NAME
    }

    fn execute(&self, ssn: &mut Session) {
        let mut candidates = self.candidates(ssn);
        let held_back = self.honour_reservations(ssn, &mut candidates);
        // Jobs promised room by an earlier cycle go first in their queue: the room (and the
        // queue share) was made for them, often by evicting someone.
        // Once placed, a job's further pods (beyond its gang) take their normal turn.
        let promised: Vec<std::cell::Cell<bool>> = vec![std::cell::Cell::new(false); ssn.snap.jobs.len()];
        for j in &candidates {
            promised[j.idx()].set(
                ssn.snap
                    .job(*j)
                    .tasks
                    .iter()
                    .any(|t| ssn.snap.task(*t).nominated.is_some()),
            );
        }
        let job_before = |ssn: &Session, a: JobId, b: JobId| match (promised[a.idx()].get(), promised[b.idx()].get()) {
            (true, false) => true,
            (false, true) => false,
            _ => job_before(&ssn.plugins, &ssn.snap, a, b),
        };
        let mut per_queue: Vec<OrderedQueue<JobId>> = vec![OrderedQueue::new(); ssn.snap.queues.len()];
        for j in candidates {
            let q = ssn.snap.job(j).queue;
            per_queue[q.idx()].push(j, &|a, b| job_before(ssn, a, b));
        }
        let mut queues = OrderedQueue::new();
        for q in ssn.snap.queue_ids() {
            if !per_queue[q.idx()].is_empty() {
                queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
        while let Some(q) = queues.pop(&|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b)) {
            if ssn.plugins.overused(&ssn.snap, q) {
                // Its jobs keep waiting; say why.
                let name = ssn.snap.queue(q).name.clone();
                while let Some(j) = per_queue[q.idx()].pop(&|a, b| a < b) {
                    let queue_msg = format!("queue {name} is using its whole deserved share");
                    let msg = match pending_tasks(ssn, j).first() {
                        Some(&t) => explain_refusal(ssn, t, queue_msg),
                        None => queue_msg,
                    };
                    ssn.record_job_message(j, msg);
                }
                continue;
            }
            let Some(j) = per_queue[q.idx()].pop(&|a, b| job_before(ssn, a, b)) else {
                continue;
            };
            if held_back[q.idx()] && !promised[j.idx()].get() {
                // Its queue waits behind a reservation; only jobs promised room may still start.
                continue;
            }
            match self.allocate_job(ssn, j) {
                Attempt::Placed(true) => {
                    promised[j.idx()].set(false);
                    per_queue[q.idx()].push(j, &|a, b| job_before(ssn, a, b));
                }
                Attempt::Placed(false) => {}
                Attempt::Waits { disturbed: true, .. }
                    if matches!(self.start_where_planned(ssn, j), Some(Attempt::Placed(_))) => {}
                Attempt::Waits { blocks, pipelined, .. } => {
                    if blocks && ssn.policy.strict_order {
                        Self::block_queue(ssn, q, j, pipelined, &mut per_queue[q.idx()]);
                        continue;
                    }
                }
            }
            if !per_queue[q.idx()].is_empty() {
                queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
    }
}

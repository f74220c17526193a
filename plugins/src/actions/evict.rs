//! Making room for a pending gang by evicting running pods: the part `preempt` and `reclaim`
//! share.
//!
//! ```text
//! candidates  running pods the action may touch (same queue / reclaimable other queues),
//!             `volcano.sh/preemptable` not false, not in cool-down, not of the job that last
//!             evicted the preemptor, on a node the preemptor's predicates admit
//!      │  plugins: preemptable / reclaimable (tiers, intersected)
//!      ▼
//! units       what can be evicted on its own: a pod beyond its gang's minMember, a whole gang,
//!             (native `single`) any pod; sorted by gangs broken, then priority, then running
//!             time lost
//!      │  greedy: add units, cheapest first, until the preemptor's whole gang fits (a trial
//!      │  placement in a statement, discarded); every set tried is re-checked with the plugins
//!      ▼
//! prune       drop chosen units, dearest first, that the gang does not need after all
//!      ▼
//! commit      evictions and the gang's placement in one go — or nothing at all: bound at once
//!             if the gang fits in idle room, else nominated to its nodes (bound together once
//!             the evicted pods are gone)
//! ```
//! So a pod is never evicted unless the preemptor is placed in the same cycle, and a gang is
//! never left below its minimum: it loses only pods beyond minMember, or all of its pods.

use std::collections::{BTreeMap, BTreeSet};

use caldera_framework::estimate::needed_tasks;
use caldera_framework::{
    Disruption, JobId, JobSource, Millis, NodeId, QueueId, Resources, Session, Statement, TaskId, TaskStatus,
};

use super::allocate::Allocate;

/// Which action is evicting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Within a queue, by priority.
    Preempt,
    /// Across queues, by share.
    Reclaim,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Preempt => "preempt",
            Kind::Reclaim => "reclaim",
        }
    }
}

/// Pods that can be evicted together, and what it costs.
#[derive(Clone, Debug)]
struct Unit {
    job: JobId,
    pods: Vec<TaskId>,
    /// Whether it is the whole gang (it leaves the gang below minMember).
    whole: bool,
    cost: (u8, i32, Millis, TaskId),
}

/// Whether `job` may give up pods now.
fn may_lose_pods(ssn: &Session, job: JobId, preemptor: JobId, cooldown: Millis) -> bool {
    let s = &ssn.snap;
    let v = s.job(job);
    if job == preemptor || v.source == JobSource::Foreign || !v.preemptable {
        return false;
    }
    if let Some(p) = &v.preempted
        && s.now.saturating_sub(p.at) < cooldown
    {
        return false;
    }
    // A job never evicts the job that evicted it, so two jobs cannot take turns.
    s.job(preemptor).preempted.as_ref().is_none_or(|p| p.by != v.key())
}

/// The jobs holding running pods, by queue, as the action found them. An action only ever takes
/// pods away from running (no pod starts running within a cycle), so the index stays a superset
/// of the running jobs while the action evicts; it saves each preemptor a walk over every job of
/// the cluster, which on a large backlog of gangs that do not fit was most of a cycle.
#[derive(Debug)]
pub struct RunningJobs {
    by_queue: Vec<Vec<JobId>>,
}

impl RunningJobs {
    /// The index of `ssn` now.
    pub fn of(ssn: &Session) -> Self {
        let s = &ssn.snap;
        let mut by_queue = vec![Vec::new(); s.queues.len()];
        for j in s.job_ids() {
            let job = s.job(j);
            let running = job
                .tasks
                .iter()
                .any(|t| matches!(s.task(*t).status, TaskStatus::Bound | TaskStatus::Running));
            if running {
                by_queue[job.queue.idx()].push(j);
            }
        }
        RunningJobs { by_queue }
    }

    /// Jobs of the queues `kind` may take from for a preemptor of `queue`, that may lose pods now.
    fn victims_for(&self, ssn: &Session, j: JobId, kind: Kind, cooldown: Millis) -> Vec<JobId> {
        let s = &ssn.snap;
        let queue = s.job(j).queue;
        let mut out = Vec::new();
        for q in s.queue_ids() {
            let ok = match kind {
                Kind::Preempt => q == queue,
                Kind::Reclaim => q != queue && s.queue(q).reclaimable,
            };
            if ok {
                out.extend(
                    self.by_queue[q.idx()]
                        .iter()
                        .copied()
                        .filter(|v| may_lose_pods(ssn, *v, j, cooldown)),
                );
            }
        }
        out
    }
}

/// Running pods of `jobs` the action may consider, cheapest first.
fn candidates(ssn: &Session, jobs: &[JobId], eligible: &[bool]) -> Vec<TaskId> {
    let s = &ssn.snap;
    let mut out: Vec<TaskId> = Vec::new();
    for &v in jobs {
        let job = s.job(v);
        for &t in &job.tasks {
            let task = s.task(t);
            let running = matches!(task.status, TaskStatus::Bound | TaskStatus::Running);
            let useful = task
                .node
                .is_some_and(|n| eligible.get(n.idx()).copied().unwrap_or(false));
            if running && useful && task.preemptable {
                out.push(t);
            }
        }
    }
    out.sort_by_key(|t| unit_cost(&ssn.snap, &[*t], false));
    out
}

fn unit_cost(s: &caldera_framework::Snapshot, pods: &[TaskId], whole: bool) -> (u8, i32, Millis, TaskId) {
    let priority = pods.iter().map(|t| s.job(s.task(*t).job).priority).max().unwrap_or(0);
    let lost: Millis = pods
        .iter()
        .map(|t| s.now.saturating_sub(s.task(*t).started.unwrap_or(s.now)).max(0))
        .sum();
    let first = pods.iter().min().copied().unwrap_or(TaskId(u32::MAX));
    (u8::from(whole), priority, lost, first)
}

/// Pods holding a node for `j`.
fn holding(ssn: &Session, j: JobId) -> Vec<TaskId> {
    ssn.snap
        .job(j)
        .tasks
        .iter()
        .copied()
        .filter(|t| {
            matches!(
                ssn.snap.task(*t).status,
                TaskStatus::Allocated | TaskStatus::Binding | TaskStatus::Bound | TaskStatus::Running
            )
        })
        .collect()
}

/// The eviction units the allowed pods form; see the module documentation.
fn units(ssn: &Session, allowed: &[TaskId]) -> Vec<Unit> {
    let s = &ssn.snap;
    let mut by_job: BTreeMap<JobId, Vec<TaskId>> = BTreeMap::new();
    for &t in allowed {
        by_job.entry(s.task(t).job).or_default().push(t);
    }
    let mut out = Vec::new();
    for (j, pods) in by_job {
        let job = s.job(j);
        let members = holding(ssn, j);
        let all_allowed = members.iter().all(|m| pods.contains(m));
        if job.disruption != Disruption::All {
            for &t in &pods {
                out.push(Unit {
                    job: j,
                    pods: vec![t],
                    whole: false,
                    cost: unit_cost(s, &[t], false),
                });
            }
        }
        if all_allowed && job.disruption != Disruption::Single && !members.is_empty() {
            out.push(Unit {
                job: j,
                cost: unit_cost(s, &members, true),
                pods: members,
                whole: true,
            });
        }
    }
    out.sort_by_key(|u| u.cost);
    out
}

/// Whether `j` may lose `pods` one by one: the gang (and each role) keeps its minimum, unless its
/// group allows single disruptions.
fn may_lose(ssn: &Session, j: JobId, pods: &[TaskId]) -> bool {
    match ssn.snap.job(j).disruption {
        Disruption::Single => true,
        Disruption::All => false,
        Disruption::Gang => crate::gang::keeps_gang_without(&ssn.snap, j, pods),
    }
}

/// The victims a choice of units evicts, in candidate order.
fn victims_of(chosen: &[Unit], order: &BTreeMap<TaskId, usize>) -> Vec<TaskId> {
    let mut v: Vec<TaskId> = chosen.iter().flat_map(|u| u.pods.iter().copied()).collect();
    v.sort_by_key(|t| order.get(t).copied().unwrap_or(usize::MAX));
    v.dedup();
    v
}

/// Whether every victim of the set is acceptable to the plugins together, and (reclaim) to the
/// action's own rule: only from queues holding more than their deserved share in a resource the
/// victim frees, never below a queue's guarantee.
fn acceptable(ssn: &Session, kind: Kind, rep: TaskId, victims: &[TaskId]) -> bool {
    let s = &ssn.snap;
    let answer = match kind {
        Kind::Preempt => ssn.plugins.preemptable(s, rep, victims),
        Kind::Reclaim => ssn.plugins.reclaimable(s, rep, victims),
    };
    if answer.len() != victims.len() {
        return false;
    }
    if kind == Kind::Preempt {
        return true;
    }
    let mut held: BTreeMap<QueueId, Resources> = BTreeMap::new();
    for &v in victims {
        let task = s.task(v);
        let q = s.job(task.job).queue;
        let Some(deserved) = ssn.plugins.queue_deserved(s, q) else {
            return false;
        };
        let alloc = held.entry(q).or_insert_with(|| s.queue(q).allocated.clone());
        let above = task
            .spec
            .request
            .iter()
            .any(|(id, r)| r > 0 && id != caldera_framework::resource::PODS && alloc.get(id) > deserved.get(id));
        alloc.sub(&task.spec.request);
        let keeps_guarantee = s.queue(q).guarantee.iter().all(|(id, g)| g <= 0 || alloc.get(id) >= g);
        if !above || !keeps_guarantee {
            return false;
        }
    }
    true
}

/// Evicts `victims` and places `tasks` of `j` in one statement; returns it if the gang is then
/// placed (ready, or pipelined onto the room being freed) without taking room a reservation
/// needs.
fn trial(
    ssn: &mut Session,
    j: JobId,
    tasks: &[TaskId],
    victims: &[TaskId],
    kind: Kind,
) -> Option<(Statement, Statement)> {
    let mut evictions = Statement::new();
    let by = ssn.snap.job(j).key();
    for &v in victims {
        let reason = match kind {
            Kind::Preempt => format!("preempted by {by}"),
            Kind::Reclaim => format!(
                "reclaimed by queue {} for {by}",
                ssn.snap.queue(ssn.snap.job(j).queue).name
            ),
        };
        evictions.evict(ssn, v, j, kind.name(), reason);
    }
    let Some(placement) = Allocate::default().place_job(ssn, j, tasks) else {
        evictions.discard(ssn);
        return None;
    };
    let placed: Vec<TaskId> = placement
        .allocated()
        .map(|(t, _)| t)
        .chain(placement.pipelined().into_iter().map(|(t, _)| t))
        .collect();
    let fits = (ssn.plugins.job_ready(&ssn.snap, j) || ssn.plugins.job_pipelined(&ssn.snap, j))
        && !placed.is_empty()
        && !ssn.disturbs_reservations(&placed);
    if fits {
        Some((evictions, placement))
    } else {
        placement.discard(ssn);
        evictions.discard(ssn);
        None
    }
}

/// The nodes the gang would use with `victims` evicted, if it fits.
fn placement_nodes(
    ssn: &mut Session,
    j: JobId,
    tasks: &[TaskId],
    victims: &[TaskId],
    kind: Kind,
) -> Option<BTreeSet<NodeId>> {
    let (evictions, placement) = trial(ssn, j, tasks, victims, kind)?;
    let nodes = placement
        .allocated()
        .map(|(_, n)| n)
        .chain(placement.pipelined().into_iter().map(|(_, n)| n))
        .collect();
    placement.discard(ssn);
    evictions.discard(ssn);
    Some(nodes)
}

fn fits(ssn: &mut Session, j: JobId, tasks: &[TaskId], victims: &[TaskId], kind: Kind) -> bool {
    placement_nodes(ssn, j, tasks, victims, kind).is_some()
}

/// Narrows a working choice to the nodes the gang lands on: pods elsewhere are spared, and a
/// whole gang whose pods on those nodes are few enough to go one by one is split into them.
fn narrow(ssn: &Session, chosen: &[Unit], used: &BTreeSet<NodeId>) -> Vec<Unit> {
    let on_used = |t: &TaskId| ssn.snap.task(*t).node.is_some_and(|n| used.contains(&n));
    let mut out = Vec::new();
    for u in chosen {
        let needed: Vec<TaskId> = u.pods.iter().copied().filter(on_used).collect();
        if needed.is_empty() {
            continue;
        }
        if u.whole && needed.len() < u.pods.len() && may_lose(ssn, u.job, &needed) {
            for t in needed {
                out.push(Unit {
                    job: u.job,
                    pods: vec![t],
                    whole: false,
                    cost: unit_cost(&ssn.snap, &[t], false),
                });
            }
        } else {
            out.push(u.clone());
        }
    }
    out
}

/// Tries to make room for the pending job `j` by evicting; see the module documentation.
/// Returns whether it evicted anything (and placed `j`).
pub fn make_room(ssn: &mut Session, running: &RunningJobs, j: JobId, kind: Kind, cooldown: Millis) -> bool {
    let tasks = needed_tasks(ssn, j);
    let Some(&rep) = tasks.first() else {
        return false;
    };
    if ssn.snap.job(j).never_preempts || tasks.iter().any(|t| ssn.snap.task(*t).never_preempts) {
        return false;
    }
    // A job holding a reservation gives it up to be placed now; it gets it back if it is not.
    let reserved = ssn.outcome.reservations.contains_key(&j);
    if reserved {
        ssn.unreserve(j);
    }
    let victim_jobs = running.victims_for(ssn, j, kind, cooldown);
    if victim_jobs.is_empty() {
        if reserved {
            let now = ssn.snap.now;
            if let Some(slot) = ssn.plan(j, &tasks, now) {
                ssn.reserve(j, &slot, true);
            }
        }
        return false;
    }
    let done = evict_for(ssn, j, &tasks, rep, kind, &victim_jobs);
    if reserved && !done {
        let now = ssn.snap.now;
        if let Some(slot) = ssn.plan(j, &tasks, now) {
            ssn.reserve(j, &slot, true);
        }
    }
    done
}

fn evict_for(ssn: &mut Session, j: JobId, tasks: &[TaskId], rep: TaskId, kind: Kind, victim_jobs: &[JobId]) -> bool {
    let mut eligible = vec![false; ssn.snap.nodes.len()];
    // Pods of one class are admitted by the same nodes: one mask per class.
    let mut classes: Vec<(caldera_framework::ClassId, TaskId)> =
        tasks.iter().map(|t| (ssn.snap.task(*t).class, *t)).collect();
    classes.sort_by_key(|(c, _)| *c);
    classes.dedup_by_key(|(c, _)| *c);
    for (_, t) in classes {
        for (e, ok) in eligible.iter_mut().zip(ssn.eligible_nodes(t)) {
            *e = *e || ok;
        }
    }
    let candidates = candidates(ssn, victim_jobs, &eligible);
    if candidates.is_empty() {
        return false;
    }
    let allowed = match kind {
        Kind::Preempt => ssn.plugins.preemptable(&ssn.snap, rep, &candidates),
        Kind::Reclaim => ssn.plugins.reclaimable(&ssn.snap, rep, &candidates),
    };
    if allowed.is_empty() {
        return false;
    }
    let order: BTreeMap<TaskId, usize> = candidates.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    // Room the gang could use without evicting anything, then the cheapest units until it fits.
    let need: Resources = tasks.iter().fold(Resources::new(), |mut acc, t| {
        acc.add(&ssn.snap.task(*t).spec.request);
        acc
    });
    let mut room = Resources::new();
    for n in ssn.snap.node_ids().filter(|n| eligible[n.idx()]) {
        room.add(&ssn.snap.node(n).future_idle().max_with(&Resources::new()));
    }
    let mut chosen: Vec<Unit> = Vec::new();
    let mut placed = false;
    for unit in units(ssn, &allowed) {
        if chosen.iter().any(|c| c.job == unit.job && c.whole) {
            continue;
        }
        let mut next = chosen.clone();
        if unit.whole {
            next.retain(|c| c.job != unit.job);
        } else {
            let mut alone: Vec<TaskId> = chosen
                .iter()
                .filter(|c| c.job == unit.job)
                .flat_map(|c| c.pods.iter().copied())
                .collect();
            alone.extend(unit.pods.iter().copied());
            if !may_lose(ssn, unit.job, &alone) {
                continue;
            }
        }
        next.push(unit.clone());
        let victims = victims_of(&next, &order);
        if !acceptable(ssn, kind, rep, &victims) {
            continue;
        }
        if unit.whole {
            // The gang's pods already counted in `room` as single units stay counted once.
            for c in chosen.iter().filter(|c| c.job == unit.job) {
                for p in &c.pods {
                    room.sub(&ssn.snap.task(*p).spec.request);
                }
            }
        }
        for p in &unit.pods {
            room.add(&ssn.snap.task(*p).spec.request);
        }
        chosen = next;
        if need.fits_in(&room)
            && let Some(used) = placement_nodes(ssn, j, tasks, &victims, kind)
        {
            placed = true;
            let narrowed = narrow(ssn, &chosen, &used);
            let v = victims_of(&narrowed, &order);
            if !narrowed.is_empty() && acceptable(ssn, kind, rep, &v) && fits(ssn, j, tasks, &v, kind) {
                chosen = narrowed;
            }
            break;
        }
    }
    if !placed {
        return false;
    }
    // Spare whoever the gang does not need after all, dearest first.
    let mut i = chosen.len();
    while i > 0 {
        i -= 1;
        let mut without = chosen.clone();
        without.remove(i);
        let victims = victims_of(&without, &order);
        if !without.is_empty() && acceptable(ssn, kind, rep, &victims) && fits(ssn, j, tasks, &victims, kind) {
            chosen = without;
        }
    }
    let victims = victims_of(&chosen, &order);
    let Some((evictions, placement)) = trial(ssn, j, tasks, &victims, kind) else {
        return false;
    };
    let evicted: BTreeSet<TaskId> = evictions.evicted().collect();
    evictions.commit(ssn);
    if ssn.plugins.job_ready(&ssn.snap, j) {
        placement.commit(ssn);
    } else {
        // Part of the gang waits for the evicted pods to go: nothing of it is bound yet; its pods
        // are nominated to the nodes they were placed on, and bound together next cycle.
        ssn.keep(placement);
    }
    !evicted.is_empty()
}

//! `capacity`: queues get what their `spec.deserved` says, per resource, instead of a share by
//! weight (`proportion`). A queue may borrow idle resources beyond its deserved amount up to its
//! *real capability* — its `capability`, within what the cluster has once every other queue's
//! `guarantee` is set aside — and what it borrows is what `reclaim` may take back later. Queues
//! are served by `spec.priority`, then by how far below their deserved amount they are.
//!
//! With `enableHierarchy: true` the queues form a tree through `spec.parent` (unset means `root`):
//! only leaf queues hold jobs, a child's real capability is carved out of its parent's, and a
//! placement or admission must fit every queue on the path from the leaf to the root. `root`'s
//! deserved and guarantee are the sums of its children's; its capability is unlimited unless set.
//!
//! Reclaim (Volcano's reclaimable and preemptive functions of the same plugin):
//!
//! - `reclaimable`: a running pod of another queue is a victim only if it asks for some resource
//!   the reclaimer asks for; taking it keeps its queue at or above `guarantee`; and its queue
//!   holds more than it deserves in a resource the pod asks for and the queue deserves (a pod
//!   holding only resources its queue deserves none of is borrowed outright and always
//!   qualifies). Victims are counted cumulatively in the order offered: each accepted one lowers
//!   its queue's (and its ancestors') usage for the next.
//! - `preemptive`: a queue may reclaim for a pod only if, with the pod, it stays within its real
//!   capability and within its deserved amount in at least one resource the pod asks for
//!   (Volcano's "partly": a queue short of its due in one resource may reclaim even while over in
//!   another — so, unlike `proportion`, two queues over in different resources can take turns,
//!   which the reclaim action's cool-down and "never evict who evicted you" rule slow down).
//! - `queue_deserved`: the deserved amount, so the reclaim action takes back only what is held
//!   above it and reservations are planned within it, as with `proportion`.
//! - `ancestorReclaimLevel` (hierarchy only), read from Volcano's
//!   docs/user-guide/how_to_use_capacity_plugin.md and the website's
//!   content/en/docs/hierarchical_queue.md ("Understanding ancestorReclaimLevel"): with level N,
//!   a victim also needs each of its queue's ancestors up to N levels above the leaf (the root
//!   excluded) to hold more than that ancestor deserves, in the same sense — but only ancestors
//!   that are not also ancestors of the reclaimer's queue, since a shared ancestor is not a
//!   boundary between the two branches (reclaiming inside its subtree does not change its
//!   usage). 0 (the default) adds no ancestor check. And, as the same page's scenario 5 says, a
//!   pod whose queue deserves none of what it holds is not taken, under level N ≥ 1, by a
//!   reclaimer in a queue that shares a non-root ancestor with it within N levels and deserves
//!   none of what the reclaimer asks for (no real contention). With level N a reclaimer's queue
//!   that is past its own deserved amount may still reclaim if one of its ancestors up to N
//!   levels above it (the root excluded) would stay within its deserved amount.
//!
//! Semantics read from Volcano's `pkg/scheduler/plugins/capacity/capacity.go` (buildQueueAttrs,
//! buildHierarchicalQueueAttrs, checkHierarchicalQueue, queueAllocatableWithReserved,
//! jobEnqueueable, updateQueueAttrShare, the queue order function, the reclaimable and
//! preemptive functions).
//!
//! Differences, documented in docs/volcano-compatibility.md: a capability entry of 0 means
//! unlimited for every resource (Volcano: only for cpu and memory), because Caldera's resource
//! vectors cannot tell an explicit 0 from an absent entry; a broken hierarchy (a cycle, or a
//! parent that does not exist) stops only the queues it affects and names them, where Volcano
//! stops scheduling altogether (such a queue neither reclaims nor is reclaimed from); Volcano
//! compares the reclaimer's and the victim's ancestors level by level from each leaf, so with
//! leaves at different depths it may treat a shared ancestor as a boundary — Caldera never does.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use caldera_framework::resource::{PODS, ResourceId};
use caldera_framework::snapshot::ROOT_QUEUE;
use caldera_framework::{
    Arguments, ConfigError, Hooks, JobId, JobPhase, Plugin, QueueId, QueueState, Resources, Snapshot, TaskId,
    TaskStatus, Victims, Vote,
};

/// Configuration name.
pub const NAME: &str = "capacity";
/// Argument: how many levels of a victim's ancestors must also be above their deserved amount
/// for `reclaim` to take it (0 = none; see the module documentation).
pub const ANCESTOR_RECLAIM_LEVEL: &str = "ancestorReclaimLevel";

/// A resource amount that means "no limit".
const UNLIMITED: i64 = i64::MAX;

/// What the plugin computes for one queue at session open.
#[derive(Clone, Debug, Default)]
pub struct QueueAttr {
    /// Entitlement: `spec.deserved` (within the real capability), at least the guarantee.
    pub deserved: Resources,
    /// What its jobs hold (leaf) or what its subtree holds (parent).
    pub allocated: Resources,
    /// minResources of admitted jobs not yet placed, beyond what they hold.
    pub inqueue: Resources,
    /// What running jobs hold beyond their minResources (may be given back, so admission
    /// does not count it).
    pub elastic: Resources,
    /// Hard limit: capability within what others' guarantees leave; `UNLIMITED` entries.
    pub real_capability: Resources,
    /// `spec.guarantee.resource`.
    pub guarantee: Resources,
    /// Ancestors, nearest last (hierarchy only; empty otherwise).
    pub ancestors: Vec<QueueId>,
    /// Whether some queue names this one as parent (hierarchy only).
    pub has_children: bool,
    /// Why the queue cannot be used (broken hierarchy), if so.
    pub problem: Option<String>,
}

impl QueueAttr {
    /// max over deserved resources of allocated / deserved; 1 for a queue that deserves nothing
    /// (a best-effort queue goes after every queue still below its deserved amount).
    pub fn share(&self) -> f64 {
        let mut share = None;
        for (id, d) in self.deserved.iter() {
            if id == PODS || d <= 0 {
                continue;
            }
            let s = self.allocated.get(id) as f64 / d as f64;
            share = Some(share.map_or(s, |x: f64| x.max(s)));
        }
        share.unwrap_or(1.0)
    }

    fn deserves_something(&self) -> bool {
        self.deserved.iter().any(|(id, v)| id != PODS && v > 0)
    }
}

/// The capacity plugin.
#[derive(Clone, Debug)]
pub struct Capacity {
    hierarchy: bool,
    ancestor_reclaim_level: u32,
    attrs: Vec<QueueAttr>,
    root: Option<QueueId>,
}

impl Capacity {
    /// Reads `ancestorReclaimLevel` (default 0; a negative value falls back to 0, as in
    /// Volcano); `hierarchy` is the plugin's `enableHierarchy` switch.
    pub fn new(args: &Arguments, hierarchy: bool) -> Result<Self, ConfigError> {
        let level = args.int(ANCESTOR_RECLAIM_LEVEL)?.unwrap_or(0).max(0);
        Ok(Capacity {
            hierarchy,
            ancestor_reclaim_level: u32::try_from(level).unwrap_or(u32::MAX),
            attrs: Vec::new(),
            root: None,
        })
    }

    /// The attributes computed at open, by queue id (for reports and tests).
    pub fn attrs(&self) -> &[QueueAttr] {
        &self.attrs
    }

    /// The configured `ancestorReclaimLevel`.
    pub fn ancestor_reclaim_level(&self) -> u32 {
        self.ancestor_reclaim_level
    }

    /// The queue and its ancestors, leaf first (the order checks run in).
    fn path(&self, q: QueueId) -> impl Iterator<Item = QueueId> + '_ {
        let ancestors = self
            .attrs
            .get(q.idx())
            .map(|a| a.ancestors.as_slice())
            .unwrap_or_default();
        std::iter::once(q).chain(ancestors.iter().rev().copied())
    }

    fn usable(&self, s: &Snapshot, q: QueueId) -> bool {
        s.queue(q).state == QueueState::Open && self.sound(q) && !(self.hierarchy && self.attrs[q.idx()].has_children)
    }

    /// Whether the queue and its ancestors are free of hierarchy problems.
    fn sound(&self, q: QueueId) -> bool {
        self.attrs
            .get(q.idx())
            .is_some_and(|a| a.problem.is_none() && a.ancestors.iter().all(|p| self.attrs[p.idx()].problem.is_none()))
    }

    /// Up to `ancestorReclaimLevel` ancestors of `q`, nearest first, without the root (none
    /// without hierarchy).
    fn ancestors_within_level(&self, q: QueueId) -> impl Iterator<Item = QueueId> + '_ {
        let level = if self.hierarchy {
            usize::try_from(self.ancestor_reclaim_level).unwrap_or(usize::MAX)
        } else {
            0
        };
        let ancestors = self
            .attrs
            .get(q.idx())
            .map(|a| a.ancestors.as_slice())
            .unwrap_or_default();
        ancestors
            .iter()
            .rev()
            .take(level)
            .copied()
            .filter(move |a| Some(*a) != self.root)
    }

    /// The victim queue's ancestors that `ancestorReclaimLevel` makes reclaim check: those within
    /// the level that are not ancestors of the reclaimer's queue too.
    fn boundaries(&self, reclaimer: QueueId, victim: QueueId) -> Vec<QueueId> {
        let shared = self
            .attrs
            .get(reclaimer.idx())
            .map(|a| a.ancestors.as_slice())
            .unwrap_or_default();
        self.ancestors_within_level(victim)
            .filter(|a| !shared.contains(a))
            .collect()
    }

    /// Whether the two queues have a common non-root ancestor within `ancestorReclaimLevel` of both.
    fn share_ancestor_within_level(&self, a: QueueId, b: QueueId) -> bool {
        let near_b: Vec<QueueId> = self.ancestors_within_level(b).collect();
        self.ancestors_within_level(a).any(|x| near_b.contains(&x))
    }

    /// Usage of `q`, less the victims already accepted from its subtree.
    fn held<'a>(&'a self, taken: &'a BTreeMap<QueueId, Resources>, q: QueueId) -> &'a Resources {
        taken.get(&q).unwrap_or(&self.attrs[q.idx()].allocated)
    }

    /// Whether `victim` may be reclaimed for `reclaimer`, given the victims accepted so far
    /// (`taken`: usage per queue once they are gone); see the module documentation.
    fn may_take(&self, s: &Snapshot, reclaimer: TaskId, victim: TaskId, taken: &BTreeMap<QueueId, Resources>) -> bool {
        let (rq, vq) = (s.job(s.task(reclaimer).job).queue, s.job(s.task(victim).job).queue);
        if !s.job(s.task(victim).job).is_schedulable_source() || !self.sound(vq) {
            return false;
        }
        let (want, req) = (&s.task(reclaimer).spec.request, &s.task(victim).spec.request);
        let attr = &self.attrs[vq.idx()];
        if !asks_in_common(req, want) || !keeps_guarantee(&self.held(taken, vq).minus(req), &attr.guarantee) {
            return false;
        }
        if !deserves_any(&attr.deserved, req) {
            // Borrowed outright; under an ancestor level, not from a close relative when the
            // reclaimer's queue deserves none of what it asks for either.
            let no_contention = self.ancestor_reclaim_level > 0
                && self.share_ancestor_within_level(rq, vq)
                && !deserves_any(&self.attrs[rq.idx()].deserved, want);
            if no_contention {
                return false;
            }
        } else if !over_deserved(self.held(taken, vq), &attr.deserved, req) {
            return false;
        }
        self.boundaries(rq, vq).into_iter().all(|a| {
            let d = &self.attrs[a.idx()].deserved;
            !deserves_any(d, req) || over_deserved(self.held(taken, a), d, req)
        })
    }
}

/// A capability as a limit: entries ≤ 0 or absent are unlimited.
fn limit_of(cap: Option<&Resources>, s: &Snapshot) -> Resources {
    let mut out = Resources::new();
    for id in s.resources.ids() {
        let v = cap.map_or(0, |c| c.get(id));
        out.set(id, if v > 0 { v } else { UNLIMITED });
    }
    out
}

/// `(base − set_aside) + own`, entry-wise, never below `own`; unlimited stays unlimited.
fn carve(base: &Resources, set_aside: &Resources, own: &Resources, s: &Snapshot) -> Resources {
    let mut out = Resources::new();
    for id in s.resources.ids() {
        let b = base.get(id);
        let v = if b == UNLIMITED {
            UNLIMITED
        } else {
            b.saturating_sub(set_aside.get(id)).max(0).saturating_add(own.get(id))
        };
        out.set(id, v);
    }
    out
}

/// `used ≤ limit` on every resource `req` asks for.
fn within(used: &Resources, limit: &Resources, req: &Resources) -> bool {
    req.iter()
        .all(|(id, v)| v <= 0 || id == PODS || used.get(id) <= limit.get(id))
}

/// The resources (pod count aside) `r` asks for.
fn asked(r: &Resources) -> impl Iterator<Item = (ResourceId, i64)> + '_ {
    r.iter().filter(|(id, v)| *v > 0 && *id != PODS)
}

/// Whether the two requests ask for some resource in common (the pod count aside).
fn asks_in_common(a: &Resources, b: &Resources) -> bool {
    asked(a).any(|(id, _)| b.get(id) > 0)
}

/// Whether the queue deserves some of a resource `req` asks for.
fn deserves_any(deserved: &Resources, req: &Resources) -> bool {
    asks_in_common(req, deserved)
}

/// Whether `held` is above `deserved` in a resource `req` asks for and the queue deserves.
fn over_deserved(held: &Resources, deserved: &Resources, req: &Resources) -> bool {
    asked(req).any(|(id, _)| deserved.get(id) > 0 && held.get(id) > deserved.get(id))
}

/// Whether `used` is within `limit` in at least one resource `req` asks for.
fn within_partly(used: &Resources, limit: &Resources, req: &Resources) -> bool {
    asked(req).any(|(id, _)| used.get(id) <= limit.get(id))
}

/// Whether what is left still covers the guarantee in every resource.
fn keeps_guarantee(left: &Resources, guarantee: &Resources) -> bool {
    guarantee.iter().all(|(id, g)| g <= 0 || left.get(id) >= g)
}

/// Per dimension of `min`, what the job still needs beyond what it holds.
fn not_yet_held(min: &Resources, held: &Resources) -> Resources {
    let mut out = Resources::new();
    for (id, v) in min.iter() {
        out.set(id, (v - held.get(id)).max(0));
    }
    out
}

/// Per dimension, what the job holds beyond its minResources.
fn beyond_minimum(held: &Resources, min: &Resources) -> Resources {
    let mut out = Resources::new();
    for (id, v) in held.iter() {
        out.set(id, (v - min.get(id)).max(0));
    }
    out
}

impl Capacity {
    fn build_flat(&mut self, s: &Snapshot) {
        let mut total_guarantee = Resources::new();
        for q in &s.queues {
            total_guarantee.add(&q.guarantee);
        }
        let total = {
            let mut t = Resources::new();
            for id in s.resources.ids() {
                t.set(id, s.total.get(id));
            }
            t
        };
        self.attrs = s
            .queues
            .iter()
            .map(|q| {
                let real =
                    carve(&total, &total_guarantee, &q.guarantee, s).min_with(&limit_of(q.capability.as_ref(), s));
                let deserved = q
                    .deserved
                    .clone()
                    .unwrap_or_default()
                    .min_with(&real)
                    .max_with(&q.guarantee);
                QueueAttr {
                    deserved,
                    real_capability: real,
                    guarantee: q.guarantee.clone(),
                    ..QueueAttr::default()
                }
            })
            .collect();
    }

    fn build_tree(&mut self, s: &Snapshot) {
        let n = s.queues.len();
        let root = s.queue_by_name(ROOT_QUEUE);
        let parent: Vec<Result<Option<QueueId>, String>> = s
            .queues
            .iter()
            .map(|q| {
                if Some(q.name.as_str()) == Some(ROOT_QUEUE) {
                    return Ok(None);
                }
                let name = q.parent.as_deref().unwrap_or(ROOT_QUEUE);
                s.queue_by_name(name)
                    .map(Some)
                    .ok_or_else(|| format!("queue {} names parent {name:?}, which does not exist", q.name))
            })
            .collect();
        self.attrs = s
            .queues
            .iter()
            .map(|q| QueueAttr {
                deserved: q.deserved.clone().unwrap_or_default(),
                guarantee: q.guarantee.clone(),
                real_capability: limit_of(q.capability.as_ref(), s),
                ..QueueAttr::default()
            })
            .collect();
        // Ancestors by walking up; a walk longer than the number of queues is a cycle.
        for i in 0..n {
            let mut chain = Vec::new();
            let mut at = i;
            let mut problem = None;
            loop {
                match &parent[at] {
                    Err(e) => {
                        problem = Some(e.clone());
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(p)) => {
                        if chain.len() > n {
                            problem = Some(format!("queue {} is part of a parent cycle", s.queues[i].name));
                            break;
                        }
                        chain.push(*p);
                        at = p.idx();
                    }
                }
            }
            chain.reverse();
            self.attrs[i].ancestors = chain;
            self.attrs[i].problem = problem;
        }
        for (i, parent) in parent.iter().enumerate() {
            if let Ok(Some(p)) = parent
                && self.attrs[i].problem.is_none()
            {
                self.attrs[p.idx()].has_children = true;
            }
        }
        let Some(root) = root else { return };
        // Top-down: children's deserved at least their guarantee; missing capability entries
        // inherit the parent's; real capability carved out of the parent's.
        let mut order: Vec<usize> = (0..n).filter(|i| self.attrs[*i].problem.is_none()).collect();
        order.sort_by_key(|i| self.attrs[*i].ancestors.len());
        let children = |p: usize, attrs: &[QueueAttr]| -> Vec<usize> {
            (0..n)
                .filter(|c| attrs[*c].problem.is_none() && attrs[*c].ancestors.last().map(|a| a.idx()) == Some(p))
                .collect()
        };
        for &p in &order {
            let kids = children(p, &self.attrs);
            let mut g_sum = Resources::new();
            let mut d_sum = Resources::new();
            for &c in &kids {
                let a = &mut self.attrs[c];
                a.deserved = a.deserved.max_with(&a.guarantee);
                g_sum.add(&a.guarantee);
                d_sum.add(&a.deserved);
            }
            if p == root.idx() {
                self.attrs[p].guarantee = g_sum.clone();
                self.attrs[p].deserved = d_sum;
            }
            let parent_real = self.attrs[p].real_capability.clone();
            for &c in &kids {
                let own_cap = self.attrs[c].real_capability.clone();
                let mut cap = Resources::new();
                for id in s.resources.ids() {
                    let v = own_cap.get(id);
                    cap.set(id, if v == UNLIMITED { parent_real.get(id) } else { v });
                }
                let real = carve(&parent_real, &g_sum, &self.attrs[c].guarantee, s).min_with(&cap);
                self.attrs[c].real_capability = real;
            }
        }
    }

    fn account(&mut self, s: &Snapshot) {
        for j in s.job_ids() {
            let job = s.job(j);
            if !job.is_schedulable_source() {
                continue;
            }
            let mut held = Resources::new();
            for &t in &job.tasks {
                let task = s.task(t);
                if task.status.occupies_node() && task.status != TaskStatus::Releasing {
                    held.add(&task.spec.request);
                }
            }
            let mut inqueue = Resources::new();
            let mut elastic = Resources::new();
            if let Some(min) = &job.min_resources {
                let scheduled = job.tasks.iter().filter(|t| s.task(**t).status.is_scheduled()).count();
                let running_gang =
                    job.phase == JobPhase::Running && u32::try_from(scheduled).unwrap_or(u32::MAX) >= job.min_member;
                if job.phase == JobPhase::Inqueue || running_gang {
                    inqueue = not_yet_held(min, &held);
                }
                elastic = beyond_minimum(&held, min);
            }
            let path: Vec<QueueId> = self.path(job.queue).collect();
            for q in path {
                let a = &mut self.attrs[q.idx()];
                a.allocated.add(&held);
                a.inqueue.add(&inqueue);
                a.elastic.add(&elastic);
            }
        }
    }
}

impl Plugin for Capacity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::QUEUE_ORDER
            .with(Hooks::ALLOCATABLE)
            .with(Hooks::JOB_ENQUEUEABLE)
            .with(Hooks::RECLAIMABLE)
            .with(Hooks::PREEMPTIVE)
            .with(Hooks::QUEUE_DESERVED)
    }

    fn open(&mut self, s: &Snapshot) {
        self.root = s.queue_by_name(ROOT_QUEUE);
        if self.hierarchy {
            self.build_tree(s);
        } else {
            self.build_flat(s);
        }
        self.account(s);
    }

    /// Higher `spec.priority` first; then (in a hierarchy, between the two queues' ancestors
    /// just below their deepest common one) the lower share; then a queue that deserves
    /// something before a best-effort one.
    fn queue_order(&self, s: &Snapshot, a: QueueId, b: QueueId) -> Ordering {
        let by_priority = s.queue(b).priority.cmp(&s.queue(a).priority);
        if by_priority.is_ne() {
            return by_priority;
        }
        let (Some(x), Some(y)) = (self.attrs.get(a.idx()), self.attrs.get(b.idx())) else {
            return Ordering::Equal;
        };
        let (mut l, mut r) = (a, b);
        if self.hierarchy {
            let common = x.ancestors.iter().zip(&y.ancestors).take_while(|(p, q)| p == q).count();
            l = x
                .ancestors
                .get(common)
                .copied()
                .filter(|_| common < x.ancestors.len())
                .unwrap_or(a);
            r = y
                .ancestors
                .get(common)
                .copied()
                .filter(|_| common < y.ancestors.len())
                .unwrap_or(b);
            if l == r {
                (l, r) = (a, b);
            }
        }
        let (la, ra) = (&self.attrs[l.idx()], &self.attrs[r.idx()]);
        la.share()
            .total_cmp(&ra.share())
            .then_with(|| ra.deserves_something().cmp(&la.deserves_something()))
    }

    /// The task fits the real capability of its queue and of every ancestor.
    fn allocatable(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        if !self.usable(s, q) {
            return false;
        }
        let req = &s.task(t).spec.request;
        self.path(q).all(|p| {
            let a = &self.attrs[p.idx()];
            within(&a.allocated.plus(req), &a.real_capability, req)
        })
    }

    /// minResources plus what the queue holds and has admitted, less what running jobs hold
    /// beyond their minimum, fits the real capability of the queue and of every ancestor.
    fn job_enqueueable(&self, s: &Snapshot, j: JobId) -> Vote {
        let job = s.job(j);
        if !self.usable(s, job.queue) {
            return Vote::Reject;
        }
        let Some(min) = &job.min_resources else {
            return Vote::Permit;
        };
        let fits = self.path(job.queue).all(|p| {
            let a = &self.attrs[p.idx()];
            let wanted = min.plus(&a.allocated).plus(&a.inqueue).minus(&a.elastic);
            within(&wanted, &a.real_capability, min)
        });
        if fits { Vote::Permit } else { Vote::Reject }
    }

    /// Walks the candidates in the order offered, counting each accepted victim against its
    /// queue and ancestors; see the module documentation.
    fn reclaimable(&self, s: &Snapshot, reclaimer: TaskId, candidates: &[TaskId]) -> Victims {
        let rq = s.job(s.task(reclaimer).job).queue;
        if !self.sound(rq) {
            return Victims::Select(Vec::new());
        }
        let mut taken: BTreeMap<QueueId, Resources> = BTreeMap::new();
        let mut out = Vec::new();
        for &v in candidates {
            if !self.may_take(s, reclaimer, v, &taken) {
                continue;
            }
            let req = &s.task(v).spec.request;
            for q in self.path(s.job(s.task(v).job).queue) {
                taken
                    .entry(q)
                    .or_insert_with(|| self.attrs[q.idx()].allocated.clone())
                    .sub(req);
            }
            out.push(v);
        }
        Victims::Select(out)
    }

    /// With `t`, the queue stays within its real capability, and within its deserved amount in
    /// some resource `t` asks for — or, under `ancestorReclaimLevel`, one of its ancestors does.
    fn preemptive(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        if !self.usable(s, q) {
            return false;
        }
        let req = &s.task(t).spec.request;
        let attr = &self.attrs[q.idx()];
        let future = attr.allocated.plus(req);
        if !within(&future, &attr.real_capability, req) {
            return false;
        }
        within_partly(&future, &attr.deserved, req)
            || self.ancestors_within_level(q).any(|a| {
                let a = &self.attrs[a.idx()];
                within_partly(&a.allocated.plus(req), &a.deserved, req)
            })
    }

    fn queue_deserved(&self, _s: &Snapshot, q: QueueId) -> Option<Resources> {
        self.attrs.get(q.idx()).map(|a| a.deserved.clone())
    }

    fn job_enqueued(&mut self, s: &Snapshot, j: JobId) {
        let job = s.job(j);
        let Some(min) = job.min_resources.clone() else { return };
        let path: Vec<QueueId> = self.path(job.queue).collect();
        for q in path {
            self.attrs[q.idx()].inqueue.add(&min);
        }
    }

    fn on_allocate(&mut self, s: &Snapshot, t: TaskId) {
        let task = s.task(t);
        if !s.job(task.job).is_schedulable_source() {
            return;
        }
        let path: Vec<QueueId> = self.path(s.job(task.job).queue).collect();
        for q in path {
            self.attrs[q.idx()].allocated.add(&task.spec.request);
        }
    }

    fn on_deallocate(&mut self, s: &Snapshot, t: TaskId) {
        let task = s.task(t);
        if !s.job(task.job).is_schedulable_source() {
            return;
        }
        let path: Vec<QueueId> = self.path(s.job(task.job).queue).collect();
        for q in path {
            self.attrs[q.idx()].allocated.sub(&task.spec.request);
        }
    }

    fn close(&mut self, s: &Snapshot, out: &mut caldera_framework::Outcome) {
        for q in s.queue_ids() {
            if let Some(a) = self.attrs.get(q.idx()) {
                out.queue_deserved.insert(q, a.deserved.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::resource::CPU;
    use caldera_testkit::ClusterBuilder;

    fn open(c: &ClusterBuilder, hierarchy: bool) -> (Snapshot, Capacity) {
        let s = c.build(0);
        let mut p = Capacity::new(&Arguments::default(), hierarchy).expect("defaults");
        p.open(&s);
        (s, p)
    }

    fn q(s: &Snapshot, name: &str) -> QueueId {
        s.queue_by_name(name).expect("queue")
    }

    #[test]
    fn real_capability_sets_aside_other_guarantees_and_deserved_is_capped() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(10).mem_gi(64);
        c.queue("a").deserved(&[("cpu", 20_000)]).guarantee(&[("cpu", 2_000)]);
        c.queue("b").guarantee(&[("cpu", 3_000)]).capability(&[("cpu", 4_000)]);
        let (s, p) = open(&c, false);
        let a = &p.attrs()[q(&s, "a").idx()];
        assert_eq!(a.real_capability.get(CPU), 7_000, "10 − (2 + 3) + 2");
        assert_eq!(a.deserved.get(CPU), 7_000, "deserved within the real capability");
        let b = &p.attrs()[q(&s, "b").idx()];
        assert_eq!(b.real_capability.get(CPU), 4_000, "capability below 10 − 5 + 3");
        assert_eq!(b.deserved.get(CPU), 3_000, "at least the guarantee");
    }

    #[test]
    fn a_queue_borrows_beyond_deserved_up_to_its_real_capability() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(10).mem_gi(64);
        c.queue("a").deserved(&[("cpu", 2_000)]);
        c.gang("x", "big", "a", 1, 1, |p| p.cpu(8));
        c.gang("x", "too-big", "a", 1, 1, |p| p.cpu(11));
        let (s, p) = open(&c, false);
        let big = s.job(JobId(0)).tasks[0];
        let too_big = s.job(JobId(1)).tasks[0];
        assert!(
            p.allocatable(&s, q(&s, "a"), big),
            "8 > deserved 2 but ≤ real capability 10"
        );
        assert!(!p.allocatable(&s, q(&s, "a"), too_big));
    }

    #[test]
    fn queue_order_is_priority_then_share_then_deserved_before_best_effort() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(10).mem_gi(64);
        c.queue("busy").deserved(&[("cpu", 2_000)]);
        c.queue("idle").deserved(&[("cpu", 2_000)]);
        c.queue("best-effort");
        c.queue("vip").priority(5);
        c.gang("x", "run", "busy", 1, 0, |p| p).phase(JobPhase::Running);
        c.bound_pod("x", "run-0", "n", |p| p.cpu(1).group("run"));
        let (s, p) = open(&c, false);
        let (busy, idle, be, vip) = (q(&s, "busy"), q(&s, "idle"), q(&s, "best-effort"), q(&s, "vip"));
        assert_eq!(p.queue_order(&s, vip, idle), Ordering::Less, "priority first");
        assert_eq!(p.queue_order(&s, idle, busy), Ordering::Less, "share 0 before 0.5");
        assert_eq!(
            p.queue_order(&s, busy, be),
            Ordering::Less,
            "0.5 before best effort (1)"
        );
    }

    #[test]
    fn hierarchy_carves_children_out_of_the_parent_and_refuses_parent_queues() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(100).mem_gi(64);
        c.queue("eng")
            .capability(&[("cpu", 10_000)])
            .deserved(&[("cpu", 10_000)]);
        c.queue("dev")
            .parent("eng")
            .deserved(&[("cpu", 4_000)])
            .guarantee(&[("cpu", 1_000)]);
        c.queue("prod")
            .parent("eng")
            .deserved(&[("cpu", 6_000)])
            .guarantee(&[("cpu", 3_000)]);
        c.gang("x", "j", "dev", 1, 1, |p| p.cpu(8));
        c.gang("x", "k", "dev", 1, 1, |p| p.cpu(7));
        c.gang("x", "p", "eng", 1, 1, |p| p.cpu(1));
        let (s, p) = open(&c, true);
        let dev = &p.attrs()[q(&s, "dev").idx()];
        assert_eq!(
            dev.real_capability.get(CPU),
            7_000,
            "eng's 10 − guarantees (1 + 3) + own 1"
        );
        let root = &p.attrs()[q(&s, "root").idx()];
        assert_eq!(root.deserved.get(CPU), 10_000, "root deserves what its children do");
        let j = s.job(JobId(0)).tasks[0];
        let k = s.job(JobId(1)).tasks[0];
        assert!(!p.allocatable(&s, q(&s, "dev"), j), "8 > 7");
        assert!(p.allocatable(&s, q(&s, "dev"), k), "7 ≤ 7");
        let pj = s.job(JobId(2)).tasks[0];
        assert!(!p.allocatable(&s, q(&s, "eng"), pj), "only leaf queues hold jobs");
        assert_eq!(p.job_enqueueable(&s, JobId(2)), Vote::Reject);
    }

    #[test]
    fn a_broken_hierarchy_stops_only_the_queues_it_affects() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(10).mem_gi(64);
        c.queue("orphan").parent("missing");
        c.queue("fine");
        c.gang("x", "o", "orphan", 1, 1, |p| p.cpu(1));
        c.gang("x", "f", "fine", 1, 1, |p| p.cpu(1));
        let (s, p) = open(&c, true);
        assert!(p.attrs()[q(&s, "orphan").idx()].problem.is_some());
        assert_eq!(p.job_enqueueable(&s, JobId(1)), Vote::Reject, "o in the orphan queue");
        assert_eq!(p.job_enqueueable(&s, JobId(0)), Vote::Permit, "f in a fine queue");
    }

    #[test]
    fn admission_counts_inqueue_jobs_and_excludes_elastic_usage() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(10).mem_gi(64);
        c.queue("a").capability(&[("cpu", 6_000)]);
        c.gang("x", "first", "a", 1, 1, |p| p.cpu(4))
            .min_resources(&[("cpu", 4_000)]);
        c.gang("x", "second", "a", 1, 1, |p| p.cpu(4))
            .min_resources(&[("cpu", 4_000)]);
        let (s, mut p) = open(&c, false);
        assert_eq!(p.job_enqueueable(&s, JobId(0)), Vote::Permit);
        p.job_enqueued(&s, JobId(0));
        assert_eq!(p.job_enqueueable(&s, JobId(1)), Vote::Reject, "4 + 4 > 6");
    }

    fn job(s: &Snapshot, name: &str) -> JobId {
        s.job_ids().find(|j| s.job(*j).name == name).expect("job")
    }

    fn taken(v: Victims) -> usize {
        match v {
            Victims::Select(v) => v.len(),
            Victims::Abstain => usize::MAX,
        }
    }

    fn with_level(c: &ClusterBuilder, level: i64) -> (Snapshot, Capacity) {
        let s = c.build(0);
        let args = Arguments(
            [(
                ANCESTOR_RECLAIM_LEVEL.to_string(),
                serde_yaml_ng::Value::String(level.to_string()),
            )]
            .into_iter()
            .collect(),
        );
        let mut p = Capacity::new(&args, true).expect("level");
        p.open(&s);
        (s, p)
    }

    /// `rich` runs six 2-cpu pods on 12 cpu and deserves 3; `poor` deserves 9 and wants 2-cpu
    /// pods. How many of rich's pods capacity lets poor take, with rich's guarantee.
    fn reclaimed_from_rich(guarantee: i64) -> usize {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(12).mem_gi(64);
        c.queue("rich")
            .deserved(&[("cpu", 3_000)])
            .guarantee(&[("cpu", guarantee)]);
        c.queue("poor").deserved(&[("cpu", 9_000)]);
        c.gang("x", "hog", "rich", 1, 6, |p| p.cpu(2)).running_on(&["n"], 0);
        c.gang("x", "want", "poor", 1, 1, |p| p.cpu(2));
        let (s, p) = open(&c, false);
        let hogs = s.job(job(&s, "hog")).tasks.clone();
        taken(p.reclaimable(&s, s.job(job(&s, "want")).tasks[0], &hogs))
    }

    #[test]
    fn reclaims_above_deserved_cumulatively_and_never_below_the_guarantee() {
        assert_eq!(
            reclaimed_from_rich(0),
            5,
            "12 → 10 → 8 → 6 → 4 → 2: each taken while above 3"
        );
        assert_eq!(reclaimed_from_rich(3_000), 4, "the fifth would leave 2 < guarantee 3");
    }

    #[test]
    fn a_victim_must_share_a_resource_with_the_reclaimer_and_borrowed_resources_always_qualify() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(16).mem_gi(64).gpus(8);
        // gpu-team deserves GPUs only: its cpu-only pods hold nothing it deserves (borrowed);
        // its GPU pods are within the 4 GPUs it deserves.
        c.queue("gpu-team").deserved(&[("nvidia.com/gpu", 4)]);
        c.queue("cpu-team").deserved(&[("cpu", 8_000)]);
        c.gang("x", "cpu-only", "gpu-team", 1, 2, |p| p.cpu(2))
            .running_on(&["n"], 0);
        c.gang("x", "gpu-job", "gpu-team", 1, 2, |p| p.gpus(2))
            .running_on(&["n"], 0);
        c.gang("x", "want-cpu", "cpu-team", 1, 1, |p| p.cpu(2));
        c.gang("x", "want-gpu", "cpu-team", 1, 1, |p| p.gpus(1));
        let (s, p) = open(&c, false);
        let cpu_only = s.job(job(&s, "cpu-only")).tasks.clone();
        let gpu_job = s.job(job(&s, "gpu-job")).tasks.clone();
        let want_cpu = s.job(job(&s, "want-cpu")).tasks[0];
        let want_gpu = s.job(job(&s, "want-gpu")).tasks[0];
        assert_eq!(taken(p.reclaimable(&s, want_cpu, &cpu_only)), 2, "borrowed outright");
        assert_eq!(
            taken(p.reclaimable(&s, want_gpu, &cpu_only)),
            0,
            "a cpu pod frees nothing a GPU pod asks for"
        );
        assert_eq!(
            taken(p.reclaimable(&s, want_gpu, &gpu_job)),
            0,
            "4 GPUs held, 4 deserved"
        );
    }

    #[test]
    fn a_queue_reclaims_while_within_its_deserved_amount_in_some_resource() {
        let build = |deserved: i64| {
            let mut c = ClusterBuilder::new();
            c.node("n").cpu(12).mem_gi(64);
            c.queue("a")
                .deserved(&[("cpu", deserved)])
                .capability(&[("cpu", 5_000)]);
            c.gang("x", "held", "a", 1, 1, |p| p.cpu(2)).running_on(&["n"], 0);
            c.gang("x", "next", "a", 1, 1, |p| p.cpu(2).mem_gi(1));
            c.gang("x", "past", "a", 1, 1, |p| p.cpu(3));
            open(&c, false)
        };
        let (s, p) = build(4_000);
        let a = q(&s, "a");
        let next = s.job(job(&s, "next")).tasks[0];
        let past = s.job(job(&s, "past")).tasks[0];
        assert!(
            p.preemptive(&s, a, next),
            "2 + 2 ≤ 4 cpu, though memory (deserved none) is over"
        );
        assert!(!p.preemptive(&s, a, past), "2 + 3 > 4");
        assert_eq!(p.queue_deserved(&s, a).map(|d| d.get(CPU)), Some(4_000));
        let (s, p) = build(8_000);
        assert_eq!(
            p.queue_deserved(&s, a).map(|d| d.get(CPU)),
            Some(5_000),
            "deserved within the capability"
        );
        let gi = 1i64 << 30;
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(12).mem_gi(64);
        c.queue("a")
            .deserved(&[("cpu", 8_000)])
            .capability(&[("memory", 4 * gi)]);
        c.gang("x", "fat", "a", 1, 1, |p| p.cpu(1).mem_gi(8));
        c.gang("x", "lean", "a", 1, 1, |p| p.cpu(1).mem_gi(2));
        let (s, p) = open(&c, false);
        let fat = s.job(job(&s, "fat")).tasks[0];
        let lean = s.job(job(&s, "lean")).tasks[0];
        assert!(
            !p.preemptive(&s, q(&s, "a"), fat),
            "cpu within deserved, but 8Gi beyond the 4Gi capability"
        );
        assert!(p.preemptive(&s, q(&s, "a"), lean));
    }

    /// Volcano's "Understanding ancestorReclaimLevel" scenarios (website,
    /// content/en/docs/hierarchical_queue.md), in cpu: `queue-a` (under `parent-a`) reclaims
    /// from `queue-b` (under `parent-b`), which holds `held` one-cpu pods and deserves 1;
    /// `parent-b` deserves `parent_b`.
    fn cross_parent(parent_b: i64, held: usize, level: i64) -> usize {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(8).mem_gi(64);
        c.queue("parent-a").deserved(&[("cpu", 1_000)]);
        c.queue("queue-a").parent("parent-a").deserved(&[("cpu", 1_000)]);
        c.queue("parent-b").deserved(&[("cpu", parent_b)]);
        c.queue("queue-b").parent("parent-b").deserved(&[("cpu", 1_000)]);
        c.gang("x", "b", "queue-b", 1, held, |p| p.cpu(1)).running_on(&["n"], 0);
        c.gang("x", "a", "queue-a", 1, 1, |p| p.cpu(1));
        let (s, p) = with_level(&c, level);
        let victims = s.job(job(&s, "b")).tasks.clone();
        taken(p.reclaimable(&s, s.job(job(&s, "a")).tasks[0], &victims))
    }

    #[test]
    fn ancestor_reclaim_level_checks_the_victims_ancestors_up_to_the_level() {
        assert_eq!(
            cross_parent(3_000, 4, 1),
            1,
            "scenario 1: parent-b holds 4 > 3, so one pod may go"
        );
        assert_eq!(
            cross_parent(4_000, 2, 1),
            0,
            "scenario 2: parent-b holds 2 ≤ 4: blocked"
        );
        assert_eq!(
            cross_parent(4_000, 2, 0),
            1,
            "scenario 3: level 0 adds no ancestor check"
        );
    }

    #[test]
    fn a_shared_ancestor_is_no_boundary_but_needs_a_deserved_signal_for_borrowed_pods() {
        let build = |reclaimer_deserves: bool| {
            let mut c = ClusterBuilder::new();
            c.node("n").cpu(8).mem_gi(64);
            c.queue("parent").deserved(&[("cpu", 4_000)]);
            let qa = c.queue("queue-a").parent("parent");
            if reclaimer_deserves {
                qa.deserved(&[("cpu", 2_000)]);
            }
            c.queue("queue-b").parent("parent");
            c.gang("x", "b", "queue-b", 1, 1, |p| p.cpu(2)).running_on(&["n"], 0);
            c.gang("x", "a", "queue-a", 1, 1, |p| p.cpu(2));
            c
        };
        let count = |c: &ClusterBuilder, level: i64| {
            let (s, p) = with_level(c, level);
            let victims = s.job(job(&s, "b")).tasks.clone();
            taken(p.reclaimable(&s, s.job(job(&s, "a")).tasks[0], &victims))
        };
        assert_eq!(
            count(&build(false), 1),
            0,
            "scenario 5: nobody deserves anything: no contention"
        );
        assert_eq!(count(&build(false), 0), 1, "level 0: queue-b's pod is borrowed");
        assert_eq!(
            count(&build(true), 1),
            1,
            "scenario 6: parent (2 ≤ 4) is shared, so not checked"
        );
    }

    #[test]
    fn under_a_level_a_queue_past_its_due_reclaims_while_its_parent_is_within_its_own() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(8).mem_gi(64);
        c.queue("parent").deserved(&[("cpu", 6_000)]);
        c.queue("leaf").parent("parent").deserved(&[("cpu", 1_000)]);
        c.queue("other").parent("parent").deserved(&[("cpu", 1_000)]);
        c.gang("x", "held", "leaf", 1, 1, |p| p.cpu(1)).running_on(&["n"], 0);
        c.gang("x", "more", "leaf", 1, 1, |p| p.cpu(1));
        let (s, p0) = with_level(&c, 0);
        let leaf = q(&s, "leaf");
        let more = s.job(job(&s, "more")).tasks[0];
        assert!(!p0.preemptive(&s, leaf, more), "1 + 1 > 1");
        let (s, p1) = with_level(&c, 1);
        assert!(p1.preemptive(&s, leaf, more), "parent: 1 + 1 ≤ 6");
    }

    #[test]
    fn reclaim_hooks_are_declared_so_the_switches_can_remove_them() {
        let p = Capacity::new(&Arguments::default(), false).expect("defaults");
        assert!(p.hooks().has(Hooks::RECLAIMABLE));
        assert!(p.hooks().has(Hooks::PREEMPTIVE));
        assert!(p.hooks().has(Hooks::QUEUE_DESERVED));
    }

    #[test]
    fn a_broken_hierarchy_neither_reclaims_nor_is_reclaimed_from() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(8).mem_gi(64);
        c.queue("orphan").parent("missing");
        c.queue("fine").deserved(&[("cpu", 4_000)]);
        c.gang("x", "o", "orphan", 1, 2, |p| p.cpu(2)).running_on(&["n"], 0);
        c.gang("x", "f", "fine", 1, 1, |p| p.cpu(2));
        c.queue("lender");
        c.gang("x", "lent", "lender", 1, 1, |p| p.cpu(2)).running_on(&["n"], 0);
        c.gang("x", "o2", "orphan", 1, 1, |p| p.cpu(2));
        let (s, p) = open(&c, true);
        let victims = s.job(job(&s, "o")).tasks.clone();
        let f = s.job(job(&s, "f")).tasks[0];
        assert_eq!(taken(p.reclaimable(&s, f, &victims)), 0);
        assert_eq!(
            taken(p.reclaimable(&s, f, &s.job(job(&s, "lent")).tasks)),
            1,
            "lender deserves nothing: borrowed"
        );
        let o2 = s.job(job(&s, "o2")).tasks[0];
        assert_eq!(taken(p.reclaimable(&s, o2, &s.job(job(&s, "lent")).tasks)), 0);
        assert!(!p.preemptive(&s, q(&s, "orphan"), o2));
    }
}

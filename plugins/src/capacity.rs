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
//! Semantics read from Volcano's `pkg/scheduler/plugins/capacity/capacity.go` (buildQueueAttrs,
//! buildHierarchicalQueueAttrs, checkHierarchicalQueue, queueAllocatableWithReserved,
//! jobEnqueueable, updateQueueAttrShare, the queue order function). Reclaim votes are not here:
//! they need the victim hooks of the `reclaim` action.
//!
//! Differences, documented in docs/volcano-compatibility.md: a capability entry of 0 means
//! unlimited for every resource (Volcano: only for cpu and memory), because Caldera's resource
//! vectors cannot tell an explicit 0 from an absent entry; a broken hierarchy (a cycle, or a
//! parent that does not exist) stops only the queues it affects and names them, where Volcano
//! stops scheduling altogether.

use std::cmp::Ordering;

use caldera_framework::resource::PODS;
use caldera_framework::snapshot::ROOT_QUEUE;
use caldera_framework::{
    Arguments, ConfigError, Hooks, JobId, JobPhase, Plugin, QueueId, QueueState, Resources, Snapshot, TaskId,
    TaskStatus, Vote,
};

/// Configuration name.
pub const NAME: &str = "capacity";
/// Argument: how many levels above a leaf `reclaim` may look for contention (0 = the leaf only).
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
        let Some(attr) = self.attrs.get(q.idx()) else {
            return false;
        };
        s.queue(q).state == QueueState::Open
            && attr.problem.is_none()
            && !(self.hierarchy && attr.has_children)
            && attr.ancestors.iter().all(|a| self.attrs[a.idx()].problem.is_none())
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
        Hooks::QUEUE_ORDER.with(Hooks::ALLOCATABLE).with(Hooks::JOB_ENQUEUEABLE)
    }

    fn open(&mut self, s: &Snapshot) {
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
        let path: Vec<QueueId> = self.path(s.job(task.job).queue).collect();
        for q in path {
            self.attrs[q.idx()].allocated.add(&task.spec.request);
        }
    }

    fn on_deallocate(&mut self, s: &Snapshot, t: TaskId) {
        let task = s.task(t);
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
}

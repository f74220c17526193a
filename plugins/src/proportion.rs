//! `proportion`: shares the cluster between queues by weight (water-filling), capped by each
//! queue's capability and its demand, raised to its guarantee. A queue that holds its deserved
//! share gets nothing more while others wait; admission checks the queue's remaining capability.
//!
//! Reclaim: a queue may take back resources (`preemptive`) only up to its deserved share, and
//! only from queues holding more than theirs in a resource the victim frees (`reclaimable`),
//! never taking a queue below its guarantee. Since the reclaiming queue ends at or below its share
//! it cannot be reclaimed from in turn, so two queues never take the same resources back and
//! forth.
//!
//! All arithmetic is integer per resource, so the split is exact and deterministic.

use std::cmp::Ordering;

use std::collections::BTreeMap;

use caldera_framework::{
    Hooks, JobId, JobPhase, Plugin, QueueId, QueueState, Resources, Snapshot, TaskId, TaskStatus, Victims, Vote,
};

/// Configuration name.
pub const NAME: &str = "proportion";

/// Per-queue amounts computed at session open.
#[derive(Clone, Debug, Default)]
pub struct QueueShare {
    /// What the queue is entitled to now.
    pub deserved: Resources,
    /// What its jobs ask for in all (held plus pending).
    pub request: Resources,
    /// Capability after other queues' guarantees are set aside.
    pub real_capability: Option<Resources>,
    /// minResources of admitted jobs that are not running yet.
    pub inqueue: Resources,
}

/// The proportion plugin.
#[derive(Default)]
pub struct Proportion {
    shares: Vec<QueueShare>,
}

impl Proportion {
    /// The computed shares, by queue id (for reports and tests).
    pub fn shares(&self) -> &[QueueShare] {
        &self.shares
    }
}

/// Each queue's real capability: its own capability, within what the cluster has once every other
/// queue's guarantee is set aside.
pub fn real_capabilities(total: &Resources, caps: &[Option<Resources>], guarantees: &[Resources]) -> Vec<Resources> {
    let guarantee_sum = guarantees.iter().fold(Resources::new(), |mut acc, g| {
        acc.add(g);
        acc
    });
    caps.iter()
        .zip(guarantees)
        .map(|(cap, g)| {
            let free = total.minus(&guarantee_sum).plus(g);
            match cap {
                Some(c) => capability_or_unlimited(c, &free),
                None => free,
            }
        })
        .collect()
}

/// Fixed-point scale of the water level: shares are `level × weight / LEVEL_SCALE`.
const LEVEL_SCALE: i128 = 1000;

/// Water-fills `total` over queues, independently per resource: queue i deserves
/// `max(guarantee_i, min(weight_i × level, real capability_i, request_i))` at the highest level
/// whose sum still fits the total; units lost to rounding then go to queues that still want them.
/// The guarantee is a floor, not a bonus, as in Volcano; the result never exceeds the total unless
/// the guarantees alone do.
pub fn water_fill(
    total: &Resources,
    weights: &[u32],
    requests: &[Resources],
    caps: &[Option<Resources>],
    guarantees: &[Resources],
) -> Vec<Resources> {
    let n = weights.len();
    let caps = real_capabilities(total, caps, guarantees);
    let mut out = vec![Resources::new(); n];
    let mut dims: Vec<caldera_framework::ResourceId> = total
        .iter()
        .map(|(id, _)| id)
        .chain(requests.iter().flat_map(|r| r.iter().map(|(id, _)| id)))
        .chain(guarantees.iter().flat_map(|g| g.iter().map(|(id, _)| id)))
        .collect();
    dims.sort_unstable();
    dims.dedup();
    for id in dims {
        let t = i128::from(total.get(id));
        let floor: Vec<i128> = guarantees.iter().map(|g| i128::from(g.get(id).max(0))).collect();
        let upper: Vec<i128> = (0..n)
            .map(|i| i128::from(caps[i].get(id).min(requests[i].get(id)).max(0)).max(floor[i]))
            .collect();
        let w: Vec<i128> = weights.iter().map(|w| i128::from((*w).max(1))).collect();
        let amount = |i: usize, level: i128| (level * w[i] / LEVEL_SCALE).clamp(floor[i], upper[i]);
        let sum = |level: i128| (0..n).map(|i| amount(i, level)).sum::<i128>();
        // Beyond `hi` every queue is at its upper bound, so the level need not go higher.
        let hi = (0..n).map(|i| upper[i] * LEVEL_SCALE / w[i] + 1).max().unwrap_or(0);
        let (mut lo, mut hi) = (0i128, hi);
        if sum(0) > t {
            hi = 0;
        }
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            if sum(mid) <= t { lo = mid } else { hi = mid - 1 }
        }
        let mut amounts: Vec<i128> = (0..n).map(|i| amount(i, lo)).collect();
        let mut left = t - amounts.iter().sum::<i128>();
        // Rounding leaves at most a few units per queue; hand them out heaviest weight first.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| w[*b].cmp(&w[*a]).then(a.cmp(b)));
        while left > 0 {
            let mut gave = false;
            for &i in &order {
                if left > 0 && amounts[i] < upper[i] {
                    amounts[i] += 1;
                    left -= 1;
                    gave = true;
                }
            }
            if !gave {
                break;
            }
        }
        for i in 0..n {
            out[i].set(id, i64::try_from(amounts[i]).unwrap_or(i64::MAX));
        }
    }
    out
}

/// `a ≤ b` on every resource `req` asks for.
fn le_on_requested(a: &Resources, b: &Resources, req: &Resources) -> bool {
    req.iter().all(|(id, v)| v <= 0 || a.get(id) <= b.get(id))
}

impl Plugin for Proportion {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::QUEUE_ORDER
            .with(Hooks::OVERUSED)
            .with(Hooks::ALLOCATABLE)
            .with(Hooks::JOB_ENQUEUEABLE)
            .with(Hooks::RECLAIMABLE)
            .with(Hooks::PREEMPTIVE)
            .with(Hooks::QUEUE_DESERVED)
    }

    fn reclaimable(&self, s: &Snapshot, _reclaimer: TaskId, candidates: &[TaskId]) -> Victims {
        let mut held: BTreeMap<QueueId, Resources> = BTreeMap::new();
        let mut out = Vec::new();
        for &v in candidates {
            let victim = s.task(v);
            let q = s.job(victim.job).queue;
            let Some(share) = self.shares.get(q.idx()) else {
                continue;
            };
            let alloc = held.entry(q).or_insert_with(|| s.queue(q).allocated.clone());
            let req = &victim.spec.request;
            let above = req.iter().any(|(id, r)| {
                r > 0 && id != caldera_framework::resource::PODS && alloc.get(id) > share.deserved.get(id)
            });
            let after = alloc.minus(req);
            let keeps_guarantee = s.queue(q).guarantee.iter().all(|(id, g)| g <= 0 || after.get(id) >= g);
            if above && keeps_guarantee {
                *alloc = after;
                out.push(v);
            }
        }
        Victims::Select(out)
    }

    fn preemptive(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        self.allocatable(s, q, t)
    }

    fn queue_deserved(&self, _s: &Snapshot, q: QueueId) -> Option<Resources> {
        self.shares.get(q.idx()).map(|share| share.deserved.clone())
    }

    fn open(&mut self, s: &Snapshot) {
        let n = s.queues.len();
        let mut requests = vec![Resources::new(); n];
        let mut inqueue = vec![Resources::new(); n];
        for j in s.job_ids() {
            let job = s.job(j);
            if !job.is_schedulable_source() || job.problem.is_some() {
                continue;
            }
            let q = job.queue.idx();
            for &t in &job.tasks {
                let task = s.task(t);
                let holds = task.status.occupies_node() && task.status != TaskStatus::Releasing;
                if holds || task.status == TaskStatus::Pending {
                    requests[q].add(&task.spec.request);
                }
            }
            if job.phase == JobPhase::Inqueue
                && let Some(min) = &job.min_resources
            {
                inqueue[q].add(min);
            }
        }
        let caps: Vec<Option<Resources>> = s.queues.iter().map(|q| q.capability.clone()).collect();
        let weights: Vec<u32> = s.queues.iter().map(|q| q.weight).collect();
        let guarantees: Vec<Resources> = s.queues.iter().map(|q| q.guarantee.clone()).collect();
        let deserved = water_fill(&s.total, &weights, &requests, &caps, &guarantees);
        let caps = real_capabilities(&s.total, &caps, &guarantees);
        self.shares = (0..n)
            .map(|i| QueueShare {
                deserved: deserved[i].clone(),
                request: requests[i].clone(),
                real_capability: Some(caps[i].clone()),
                inqueue: inqueue[i].clone(),
            })
            .collect();
    }

    /// Higher `spec.priority` first, then the queue furthest below its deserved share.
    fn queue_order(&self, s: &Snapshot, a: QueueId, b: QueueId) -> Ordering {
        s.queue(b)
            .priority
            .cmp(&s.queue(a).priority)
            .then_with(|| self.share(s, a).total_cmp(&self.share(s, b)))
    }

    fn overused(&self, s: &Snapshot, q: QueueId) -> bool {
        let Some(share) = self.shares.get(q.idx()) else {
            return false;
        };
        share.deserved.all_le(&s.queue(q).allocated) && !share.request.all_le(&s.queue(q).allocated)
    }

    fn allocatable(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        let queue = s.queue(q);
        if queue.state != QueueState::Open {
            return false;
        }
        let Some(share) = self.shares.get(q.idx()) else {
            return true;
        };
        let req = &s.task(t).spec.request;
        le_on_requested(&queue.allocated.plus(req), &share.deserved, req)
    }

    /// A reservation was granted within the deserved share of its day; it starts if the queue is
    /// open and stays within its capability, even where the share has shrunk since.
    fn allocatable_on_reservation(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        let queue = s.queue(q);
        if queue.state != QueueState::Open {
            return false;
        }
        let Some(cap) = self
            .shares
            .get(q.idx())
            .and_then(|share| share.real_capability.as_ref())
        else {
            return true;
        };
        let req = &s.task(t).spec.request;
        le_on_requested(&queue.allocated.plus(req), cap, req)
    }

    fn job_enqueueable(&self, s: &Snapshot, j: JobId) -> Vote {
        let job = s.job(j);
        let queue = s.queue(job.queue);
        if queue.state != QueueState::Open {
            return Vote::Reject;
        }
        let (Some(min), Some(share)) = (&job.min_resources, self.shares.get(job.queue.idx())) else {
            return Vote::Permit;
        };
        let Some(cap) = &share.real_capability else {
            return Vote::Permit;
        };
        let wanted = min.plus(&queue.allocated).plus(&share.inqueue);
        if le_on_requested(&wanted, cap, min) {
            Vote::Permit
        } else {
            Vote::Reject
        }
    }

    fn close(&mut self, s: &Snapshot, out: &mut caldera_framework::Outcome) {
        for q in s.queue_ids() {
            if let Some(share) = self.shares.get(q.idx()) {
                out.queue_deserved.insert(q, share.deserved.clone());
            }
        }
    }

    fn job_enqueued(&mut self, s: &Snapshot, j: JobId) {
        let job = s.job(j);
        if let (Some(min), Some(share)) = (&job.min_resources, self.shares.get_mut(job.queue.idx())) {
            share.inqueue.add(min);
        }
    }
}

impl Proportion {
    /// Allocated over deserved, the largest over resources (0 when nothing is deserved).
    fn share(&self, s: &Snapshot, q: QueueId) -> f64 {
        let Some(share) = self.shares.get(q.idx()) else {
            return 0.0;
        };
        s.queue(q)
            .allocated
            .iter()
            .map(|(id, v)| {
                let d = share.deserved.get(id);
                if d > 0 {
                    v as f64 / d as f64
                } else if v > 0 {
                    f64::INFINITY
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }
}

/// A queue capability, where (as in Volcano) a CPU or memory entry ≤ 0 means unlimited.
fn capability_or_unlimited(cap: &Resources, limit: &Resources) -> Resources {
    let mut out = limit.clone();
    for (id, v) in limit.iter() {
        let c = cap.get(id);
        let unlimited = c <= 0 && (id == caldera_framework::resource::CPU || id == caldera_framework::resource::MEMORY);
        if !unlimited && c < v {
            out.set(id, c.max(0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::resource::CPU;

    fn cpu(v: i64) -> Resources {
        Resources::from_pairs([(CPU, v)])
    }

    proptest::proptest! {
        /// Whatever the demands, the split never hands out more than the cluster has (when the
        /// guarantees themselves fit), never more than a queue asks for beyond its guarantee, and
        /// never less than its guarantee.
        #[test]
        fn water_fill_is_bounded(
            total in 0i64..100_000,
            queues in proptest::collection::vec((1u32..10, 0i64..50_000, proptest::option::of(0i64..50_000), 0i64..5_000), 1..6),
        ) {
            let weights: Vec<u32> = queues.iter().map(|q| q.0).collect();
            let requests: Vec<Resources> = queues.iter().map(|q| cpu(q.1)).collect();
            let caps: Vec<Option<Resources>> = queues.iter().map(|q| q.2.map(|c| cpu(c.max(1)))).collect();
            let guarantees: Vec<Resources> = queues.iter().map(|q| cpu(q.3)).collect();
            let d = water_fill(&cpu(total), &weights, &requests, &caps, &guarantees);
            let g_sum: i64 = queues.iter().map(|q| q.3).sum();
            let d_sum: i64 = d.iter().map(|r| r.get(CPU)).sum();
            if g_sum <= total {
                proptest::prop_assert!(d_sum <= total, "{d:?} over {total}");
            }
            for (i, q) in queues.iter().enumerate() {
                proptest::prop_assert!(d[i].get(CPU) >= q.3);
                proptest::prop_assert!(d[i].get(CPU) <= q.1.max(q.3));
            }
        }
    }

    /// `rich` holds all 12 cpu (six 2-cpu pods) with a guarantee; `poor` wants 6 cpu and deserves
    /// 6 at equal weight. Returns what proportion lets `poor` take from `rich`'s pods.
    fn reclaimed_with_guarantee(guarantee: i64) -> (usize, bool, Option<i64>) {
        use caldera_testkit::ClusterBuilder;
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(12).mem_gi(64);
        c.queue("rich").guarantee(&[("cpu", guarantee)]);
        c.queue("poor");
        c.gang("ns", "hog", "rich", 1, 6, |p| p.cpu(2)).running_on(&["n"], 0);
        c.gang("ns", "want", "poor", 3, 3, |p| p.cpu(2));
        let s = c.build(0);
        let mut p = Proportion::default();
        p.open(&s);
        let poor = s.queue_by_name("poor").unwrap_or(QueueId(0));
        let job = |name: &str| s.job_ids().find(|j| s.job(*j).name == name).unwrap_or(JobId(0));
        let hogs = s.job(job("hog")).tasks.clone();
        let want = s.job(job("want")).tasks[0];
        let taken = match p.reclaimable(&s, want, &hogs) {
            Victims::Select(v) => v.len(),
            Victims::Abstain => usize::MAX,
        };
        (
            taken,
            p.preemptive(&s, poor, want),
            p.queue_deserved(&s, poor).map(|d| d.get(CPU)),
        )
    }

    #[test]
    fn reclaims_only_above_deserved_and_never_below_guarantee() {
        assert_eq!(
            reclaimed_with_guarantee(4000),
            (3, true, Some(6000)),
            "rich is 6 cpu above its share: three 2-cpu pods may go"
        );
        assert_eq!(
            reclaimed_with_guarantee(10_000).0,
            1,
            "never below the guarantee (12 - 2 = 10)"
        );
    }

    #[test]
    fn splits_by_weight_under_contention() {
        let d = water_fill(
            &cpu(400),
            &[1, 3],
            &[cpu(1000), cpu(1000)],
            &[None, None],
            &[cpu(0), cpu(0)],
        );
        assert_eq!(d, vec![cpu(100), cpu(300)]);
    }

    #[test]
    fn gives_unused_share_to_others() {
        let d = water_fill(
            &cpu(400),
            &[1, 1],
            &[cpu(50), cpu(1000)],
            &[None, None],
            &[cpu(0), cpu(0)],
        );
        assert_eq!(d, vec![cpu(50), cpu(350)]);
    }

    #[test]
    fn caps_and_guarantees_bound_the_share() {
        let d = water_fill(
            &cpu(400),
            &[1, 1],
            &[cpu(1000), cpu(1000)],
            &[Some(cpu(100)), None],
            &[cpu(0), cpu(0)],
        );
        assert_eq!(d, vec![cpu(100), cpu(300)]);
        let g = water_fill(
            &cpu(400),
            &[1, 9],
            &[cpu(1000), cpu(1000)],
            &[None, None],
            &[cpu(150), cpu(0)],
        );
        assert_eq!(
            g,
            vec![cpu(150), cpu(250)],
            "the guarantee is set aside before others share"
        );
    }
}

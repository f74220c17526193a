//! What each node will have free over time: the basis of reservations, backfill and start-time
//! estimates.
//!
//! ```text
//!  free(n, t) = allocatable − used now            (idle now)
//!             + requests of pods expected to end by t    (releases: expected end of each pod)
//!             − claims active at t                        (pods pipelined or nominated onto n,
//!                                                          and reservations of pending jobs)
//! ```
//! Releases only ever add capacity as time goes on; claims take it away for an interval. So the
//! least a node has free over `[t, end)` is found by looking at `t` and at the starts of the claims
//! inside the interval, nothing else (see [`Timeline::capacity`]).
//!
//! A pending gang's earliest start ([`Timeline::earliest`]) is the first moment at which all its
//! pods fit at once, each on a node its predicates allow, for the whole expected run time. It is
//! found by trying the times at which something on an eligible node ends, earliest first, after a
//! cheap cluster-wide sum rules a time out; pods are packed best-fit (fullest node first) so a
//! reservation takes as few nodes as it can.
//!
//! The timeline follows the session: after a placement or an eviction, [`Timeline::refresh`]
//! recomputes only the nodes that changed (from the session's change log), and reservations
//! (claims) survive the refresh.

use crate::model::{JobId, Millis, NodeId, TaskId, TaskStatus};
use crate::policy::{NEVER, StartPolicy};
use crate::resource::Resources;
use crate::snapshot::Snapshot;

/// Full placement attempts per earliest-start search before it jumps to the moment everything
/// known has ended: bounds the search on clusters with many pods ending at different times.
const MAX_ATTEMPTS: usize = 64;

/// Resources promised to a job on one node for an interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The job holding it.
    pub job: JobId,
    /// From.
    pub start: Millis,
    /// Until ([`NEVER`] for a job expected to run forever).
    pub end: Millis,
    /// How much.
    pub amount: Resources,
}

impl Claim {
    fn active_at(&self, t: Millis) -> bool {
        self.start <= t && t < self.end
    }
}

/// When a pending job can start and where it would go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Start.
    pub start: Millis,
    /// Expected end ([`NEVER`] when its run time is unknown).
    pub end: Millis,
    /// What it takes on each node, by node id.
    pub nodes: Vec<(NodeId, Resources)>,
}

/// Pods of one shape that a job needs placed together.
#[derive(Clone, Debug)]
pub struct DemandGroup {
    /// Request of each pod.
    pub request: Resources,
    /// How many pods.
    pub count: u32,
    /// The nodes whose predicates admit these pods, by node id.
    pub eligible: Vec<bool>,
}

/// What a pending job needs to start.
#[derive(Clone, Debug)]
pub struct Demand {
    /// Its pods, grouped by shape.
    pub groups: Vec<DemandGroup>,
    /// Expected run time once started (`None`: forever).
    pub duration: Option<Millis>,
    /// It may not start before this (a strict queue's earlier jobs start first).
    pub not_before: Millis,
}

#[derive(Clone, Debug, Default)]
struct Line {
    free_now: Resources,
    /// Expected ends of the pods on the node, by time.
    releases: Vec<(Millis, Resources)>,
    /// Pods pipelined or nominated onto the node, as claims.
    held: Vec<Claim>,
}

/// Free capacity of every node over time, with reservations.
#[derive(Clone, Debug)]
pub struct Timeline {
    now: Millis,
    lines: Vec<Line>,
    claims: Vec<Vec<Claim>>,
    nominated_on: Vec<Vec<TaskId>>,
    cursor: usize,
}

impl Timeline {
    /// The timeline of `s` as it stands, with no reservations; `cursor` is the length of the
    /// session's change log it reflects.
    pub fn new(s: &Snapshot, policy: &StartPolicy, cursor: usize) -> Timeline {
        let mut nominated_on = vec![Vec::new(); s.nodes.len()];
        for (i, t) in s.tasks.iter().enumerate() {
            if let Some(n) = t.nominated {
                nominated_on[n.idx()].push(TaskId::from_idx(i));
            }
        }
        let mut tl = Timeline {
            now: s.now,
            lines: vec![Line::default(); s.nodes.len()],
            claims: vec![Vec::new(); s.nodes.len()],
            nominated_on,
            cursor,
        };
        for n in s.node_ids() {
            tl.lines[n.idx()] = tl.line(s, policy, n);
        }
        tl
    }

    /// Recomputes the nodes named in `changes` beyond the last refresh.
    pub fn refresh(&mut self, s: &Snapshot, policy: &StartPolicy, changes: &[NodeId]) {
        let Some(new) = changes.get(self.cursor..) else {
            return;
        };
        let mut seen: Vec<NodeId> = new.to_vec();
        seen.sort_unstable();
        seen.dedup();
        for n in seen {
            self.lines[n.idx()] = self.line(s, policy, n);
        }
        self.cursor = changes.len();
    }

    fn line(&self, s: &Snapshot, policy: &StartPolicy, n: NodeId) -> Line {
        let node = s.node(n);
        let next_cycle = s.now.saturating_add(s.period);
        let mut line = Line {
            free_now: node.allocatable.minus(&node.used),
            ..Line::default()
        };
        let claim = |t: TaskId, start: Millis| Claim {
            job: s.task(t).job,
            start,
            end: policy.runtime(s, t).map_or(NEVER, |rt| start.saturating_add(rt)),
            amount: s.task(t).spec.request.clone(),
        };
        for &t in &node.tasks {
            let task = s.task(t);
            if task.status == TaskStatus::Pipelined {
                line.held.push(claim(t, next_cycle));
            } else if task.status.occupies_node() {
                let end = policy.expected_end(s, t);
                if end != NEVER {
                    line.releases.push((end, task.spec.request.clone()));
                }
            }
        }
        for &t in &self.nominated_on[n.idx()] {
            let task = s.task(t);
            if task.status == TaskStatus::Pending && task.nominated == Some(n) {
                line.held.push(claim(t, s.now));
            }
        }
        line.releases.sort_by_key(|(t, _)| *t);
        line
    }

    /// The time the timeline starts at.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Adds a reservation for `job`.
    pub fn reserve(&mut self, job: JobId, slot: &Slot) {
        for (n, amount) in &slot.nodes {
            self.claims[n.idx()].push(Claim {
                job,
                start: slot.start,
                end: slot.end,
                amount: amount.clone(),
            });
        }
    }

    /// Drops `job`'s reservations (it started, or is being planned again).
    pub fn release_claims(&mut self, job: JobId) {
        for c in &mut self.claims {
            c.retain(|claim| claim.job != job);
        }
    }

    /// Reservations held on node `n`.
    pub fn claims(&self, n: NodeId) -> &[Claim] {
        &self.claims[n.idx()]
    }

    fn all_claims(&self, n: NodeId) -> impl Iterator<Item = &Claim> {
        self.lines[n.idx()].held.iter().chain(&self.claims[n.idx()])
    }

    /// Free on node `n` at time `t`.
    pub fn free_at(&self, n: NodeId, t: Millis) -> Resources {
        let line = &self.lines[n.idx()];
        let mut free = line.free_now.clone();
        for (at, r) in &line.releases {
            if *at > t {
                break;
            }
            free.add(r);
        }
        for c in self.all_claims(n).filter(|c| c.active_at(t)) {
            free.sub(&c.amount);
        }
        free
    }

    /// The least node `n` has free at any moment of `[t, end)`.
    pub fn capacity(&self, n: NodeId, t: Millis, end: Millis) -> Resources {
        let mut least = self.free_at(n, t);
        for s in self.all_claims(n).map(|c| c.start).filter(|s| *s > t && *s < end) {
            least = least.min_with(&self.free_at(n, s));
        }
        least
    }

    /// Whether `slot` still fits: on each of its nodes, its amount during its whole interval.
    pub fn fits(&self, slot: &Slot) -> bool {
        slot.nodes
            .iter()
            .all(|(n, amount)| n.idx() < self.lines.len() && amount.fits_in(&self.capacity(*n, slot.start, slot.end)))
    }

    /// Whether node `n`, as it stands, can still honour every claim on it from now on, in the
    /// resources `requested` names (a placement that makes this false disturbs a reservation).
    pub fn honours_claims(&self, n: NodeId, requested: &Resources) -> bool {
        if self.claims[n.idx()].is_empty() && self.lines[n.idx()].held.is_empty() {
            return true;
        }
        let least = self.capacity(n, self.now, NEVER);
        requested.iter().all(|(id, v)| v <= 0 || least.get(id) >= 0)
    }

    /// The earliest slot in which `demand` fits whole, or `None` if it never does by what is
    /// known (pods expected to run forever hold the room it needs).
    pub fn earliest(&self, demand: &Demand) -> Option<Slot> {
        let t0 = self.now.max(demand.not_before);
        let n_nodes = self.lines.len();
        let eligible: Vec<bool> = (0..n_nodes)
            .map(|i| {
                demand
                    .groups
                    .iter()
                    .any(|g| g.eligible.get(i).copied().unwrap_or(false))
            })
            .collect();
        let mut total = Resources::new();
        for g in &demand.groups {
            total.add(&g.request.scaled(i64::from(g.count)));
        }
        // Everything that can change what an eligible node has free after t0, in time order.
        let mut events: Vec<(Millis, Option<&Resources>)> = Vec::new();
        // Claims as a sweep (start: taken, end: given back), so what the claims hold at a time is
        // kept as a running sum instead of summed anew at every candidate time: with hundreds of
        // estimates planned one after another, each adds a claim the next ones must look at.
        let mut claim_steps: Vec<(Millis, bool, &Resources)> = Vec::new();
        let mut agg = Resources::new();
        for n in (0..n_nodes).filter(|i| eligible[*i]).map(NodeId::from_idx) {
            let line = &self.lines[n.idx()];
            agg.add(&line.free_now);
            for (at, r) in &line.releases {
                if *at <= t0 {
                    agg.add(r);
                } else {
                    events.push((*at, Some(r)));
                }
            }
            for c in self.all_claims(n) {
                if c.end <= c.start || c.end <= t0 {
                    continue;
                }
                claim_steps.push((c.start, true, &c.amount));
                if c.end != NEVER {
                    claim_steps.push((c.end, false, &c.amount));
                    events.push((c.end, None));
                }
            }
        }
        events.sort_by_key(|(t, _)| *t);
        claim_steps.sort_by_key(|(t, _, _)| *t);
        let mut times: Vec<Millis> = vec![t0];
        times.extend(events.iter().map(|(t, _)| *t));
        times.dedup();
        let mut next_event = 0;
        let mut next_step = 0;
        let mut claimed = Resources::new();
        let mut attempts = 0;
        let last = times.len() - 1;
        for (i, &t) in times.iter().enumerate() {
            while next_event < events.len() && events[next_event].0 <= t {
                if let Some(r) = events[next_event].1 {
                    agg.add(r);
                }
                next_event += 1;
            }
            while next_step < claim_steps.len() && claim_steps[next_step].0 <= t {
                let (_, taken, amount) = claim_steps[next_step];
                if taken {
                    claimed.add(amount);
                } else {
                    claimed.sub(amount);
                }
                next_step += 1;
            }
            if attempts >= MAX_ATTEMPTS && i != last {
                continue;
            }
            let avail = agg.minus(&claimed);
            if !total.fits_in(&avail) {
                continue;
            }
            attempts += 1;
            if let Some(slot) = self.attempt(demand, t) {
                return Some(slot);
            }
        }
        None
    }

    /// Packs the demand's pods at time `t`, best fit; `None` if they do not all fit.
    fn attempt(&self, demand: &Demand, t: Millis) -> Option<Slot> {
        let end = demand.duration.map_or(NEVER, |d| t.saturating_add(d));
        // By node index: an attempt looks at every eligible node, and is made up to
        // MAX_ATTEMPTS times per search.
        let mut capacity: Vec<Option<Resources>> = vec![None; self.lines.len()];
        let mut taken: Vec<Option<Resources>> = vec![None; self.lines.len()];
        for g in &demand.groups {
            let mut options: Vec<(u32, NodeId)> = Vec::new();
            for (i, ok) in g.eligible.iter().enumerate() {
                if !ok || i >= self.lines.len() {
                    continue;
                }
                let n = NodeId::from_idx(i);
                let cap = capacity[i].get_or_insert_with(|| self.capacity(n, t, end));
                let copies = match &taken[i] {
                    Some(used) => g.request.copies_in(&cap.minus(used)),
                    None => g.request.copies_in(cap),
                };
                if copies > 0 {
                    options.push((copies, n));
                }
            }
            options.sort_unstable();
            let mut need = g.count;
            for (copies, n) in options {
                if need == 0 {
                    break;
                }
                let k = copies.min(need);
                taken[n.idx()]
                    .get_or_insert_with(Resources::new)
                    .add(&g.request.scaled(i64::from(k)));
                need -= k;
            }
            if need > 0 {
                return None;
            }
        }
        Some(Slot {
            start: t,
            end,
            nodes: taken
                .into_iter()
                .enumerate()
                .filter_map(|(i, r)| r.map(|r| (NodeId::from_idx(i), r)))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{CPU, PODS};
    use crate::snapshot::{NodeRecord, PodPhase, PodRecord, SnapshotBuilder};

    fn node(name: &str, cpu: i64) -> NodeRecord {
        NodeRecord {
            name: name.into(),
            ready: true,
            allocatable: Resources::from_pairs([(CPU, cpu), (PODS, 110)]),
            ..NodeRecord::default()
        }
    }

    fn running(name: &str, node: &str, cpu: i64, started: Millis, runtime: Millis) -> PodRecord {
        PodRecord {
            namespace: "ns".into(),
            name: name.into(),
            node_name: Some(node.into()),
            phase: PodPhase::Running,
            started: Some(started),
            expected_runtime: Some(runtime),
            ours: true,
            spec: std::sync::Arc::new(crate::TaskSpec {
                request: Resources::from_pairs([(CPU, cpu), (PODS, 1)]),
                ..crate::TaskSpec::default()
            }),
            ..PodRecord::default()
        }
    }

    fn demand(cpu: i64, count: u32, nodes: usize, duration: Millis) -> Demand {
        Demand {
            groups: vec![DemandGroup {
                request: Resources::from_pairs([(CPU, cpu), (PODS, 1)]),
                count,
                eligible: vec![true; nodes],
            }],
            duration: Some(duration),
            not_before: 0,
        }
    }

    /// n1: 4 cpu, 3 busy until 100 s; n2: 4 cpu, 4 busy until 50 s.
    fn two_nodes() -> (Snapshot, Timeline) {
        let mut b = SnapshotBuilder::new();
        b.node(node("n1", 4000)).node(node("n2", 4000));
        b.pod(running("a", "n1", 3000, 0, 100_000));
        b.pod(running("b", "n2", 4000, 0, 50_000));
        let s = b.build(10_000);
        let tl = Timeline::new(&s, &StartPolicy::default(), 0);
        (s, tl)
    }

    #[test]
    fn earliest_start_waits_for_the_first_release_that_makes_room() {
        let (_, tl) = two_nodes();
        let one = tl.earliest(&demand(1000, 1, 2, 5_000)).expect("fits now");
        assert_eq!((one.start, one.nodes.len()), (10_000, 1), "1 cpu is free now on n1");
        let three = tl.earliest(&demand(3000, 1, 2, 5_000)).expect("fits later");
        assert_eq!(three.start, 50_000, "n2 frees 4 cpu at 50 s");
        assert_eq!(three.nodes[0].0, NodeId(1));
        let gang = tl.earliest(&demand(4000, 2, 2, 5_000)).expect("fits once both end");
        assert_eq!(gang.start, 100_000);
        assert!(tl.earliest(&demand(5000, 1, 2, 5_000)).is_none(), "never fits");
    }

    #[test]
    fn reservations_are_respected_and_holes_before_them_used() {
        let (_, mut tl) = two_nodes();
        let head = tl.earliest(&demand(4000, 1, 2, 30_000)).expect("head");
        assert_eq!((head.start, head.end), (50_000, 80_000));
        tl.reserve(JobId(7), &head);
        // A 4-cpu job of 10 s fits nowhere before 80 s on n2, nor before 100 s on n1.
        let next = tl.earliest(&demand(4000, 1, 2, 10_000)).expect("after the head");
        assert_eq!(next.start, 80_000);
        // A short 1-cpu job fits now on n1, untouched by the claim on n2.
        let short = tl.earliest(&demand(1000, 1, 2, 10_000)).expect("now");
        assert_eq!((short.start, short.nodes[0].0), (10_000, NodeId(0)));
        assert!(tl.honours_claims(NodeId(1), &Resources::from_pairs([(CPU, 1)])));
        tl.release_claims(JobId(7));
        assert_eq!(tl.earliest(&demand(4000, 1, 2, 10_000)).map(|s| s.start), Some(50_000));
    }

    #[test]
    fn capacity_is_the_least_over_the_interval() {
        let (_, mut tl) = two_nodes();
        tl.reserve(
            JobId(1),
            &Slot {
                start: 60_000,
                end: 70_000,
                nodes: vec![(NodeId(1), Resources::from_pairs([(CPU, 3000)]))],
            },
        );
        assert_eq!(tl.capacity(NodeId(1), 50_000, 55_000).get(CPU), 4000);
        assert_eq!(
            tl.capacity(NodeId(1), 50_000, 65_000).get(CPU),
            1000,
            "the claim starts inside"
        );
        assert_eq!(tl.capacity(NodeId(1), 70_000, 80_000).get(CPU), 4000, "after it ends");
        assert_eq!(tl.capacity(NodeId(1), 10_000, 20_000).get(CPU), 0);
    }
}

//! The plugin contract and the tiered dispatch that combines plugins' answers, with Volcano's
//! semantics so an existing `volcano-scheduler.conf` means the same thing here.
//!
//! | extension point | combination |
//! |---|---|
//! | job / queue / task order | first plugin (tier order) with a non-equal answer decides |
//! | job valid | first failure wins |
//! | job ready, allocatable, predicate | every enabled plugin must agree |
//! | overused | any plugin |
//! | job enqueueable, job pipelined | votes: any Reject → no; else a Permit in a tier → yes; all abstain → yes |
//! | node score | sum |
//! | preemptable, reclaimable (victims) | per tier: the intersection of the sets proposed by the plugins that did not abstain; the first tier in which any plugin answered decides, even with an empty set; no answer at all → no victims |
//! | job starving | the first tier with a plugin implementing it decides; all of them must say yes; none → no |
//! | preemptive | every enabled plugin must agree |
//! | queue deserved | first plugin (tier order) that knows |
//!
//! # Victim selection, for plugin authors
//!
//! `preempt` and `reclaim` ask [`Plugin::preemptable`] / [`Plugin::reclaimable`] which running
//! pods may be evicted so that a pending job can run. The contract:
//!
//! - `candidates` are pods that already pass every hard rule: running or bound, of another job,
//!   `volcano.sh/preemptable` not false on pod or PodGroup, not in the preemption cool-down, not
//!   of the job that last evicted the preemptor; for `reclaim`, of a queue whose `reclaimable` is
//!   not false. They come in the order the action would evict them (cheapest first), so a plugin
//!   that keeps a running budget (proportion subtracts each accepted victim from its queue's
//!   usage) must walk them in that order.
//! - Return [`Victims::Select`] with the subset that may go (keep the given order; an empty set
//!   is a real answer: "none of these"), or [`Victims::Abstain`] to have no opinion.
//! - An answer is about the set as a whole: the action calls the hook again with the exact set it
//!   intends to evict and evicts only if every pod of it comes back, so a plugin may accept pods
//!   individually that it would refuse together (a gang's members, a queue's share).
//! - Hooks are pure: no state may change, since the action calls them many times per job.
//! - Whatever the plugins say, the action never leaves a gang below its minMember: if evicting a
//!   pod would, the whole gang is evicted or none of it (`Disruption`).
//!
//! [`Plugin::job_starving`] says whether a job may evict others at all (Volcano: the gang is
//! still short of minMember); [`Plugin::preemptive`] whether a queue may take more by reclaiming
//! (proportion: only up to its deserved share); [`Plugin::queue_deserved`] tells `reclaim` what a
//! queue is entitled to, so it takes back only what is held above that.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::model::{JobId, NodeId, QueueId, TaskId};
use crate::outcome::Outcome;
use crate::resource::Resources;
use crate::snapshot::Snapshot;

/// Why a node does not fit a task, in kube-scheduler's wording ("node(s) had untolerated taint {gpu: true}").
pub type Reason = Cow<'static, str>;

/// Node scores are in hundredths of a point; a plugin's full-strength preference is 100 points,
/// as in kube-scheduler and Volcano, times its configured weight. Integers keep ranking exact.
pub const MAX_NODE_SCORE: i64 = 100 * SCORE_SCALE;
/// Units per score point.
pub const SCORE_SCALE: i64 = 100;

/// A plugin's vote on a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    /// Yes, and later tiers need not be asked.
    Permit,
    /// No opinion.
    Abstain,
    /// No, whatever others say.
    Reject,
}

/// A plugin's answer to "which of these pods may be evicted?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Victims {
    /// No opinion: the other plugins (or the next tier) decide.
    Abstain,
    /// These may go, in the order given (possibly none).
    Select(Vec<TaskId>),
}

/// A set of extension points, as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hooks(u32);

#[allow(missing_docs)]
impl Hooks {
    pub const JOB_ORDER: Hooks = Hooks(1);
    pub const QUEUE_ORDER: Hooks = Hooks(1 << 1);
    pub const TASK_ORDER: Hooks = Hooks(1 << 2);
    pub const JOB_VALID: Hooks = Hooks(1 << 3);
    pub const JOB_READY: Hooks = Hooks(1 << 4);
    pub const JOB_PIPELINED: Hooks = Hooks(1 << 5);
    pub const JOB_ENQUEUEABLE: Hooks = Hooks(1 << 6);
    pub const ALLOCATABLE: Hooks = Hooks(1 << 7);
    pub const OVERUSED: Hooks = Hooks(1 << 8);
    pub const PREDICATE: Hooks = Hooks(1 << 9);
    pub const NODE_ORDER: Hooks = Hooks(1 << 10);
    pub const PREEMPTABLE: Hooks = Hooks(1 << 11);
    pub const RECLAIMABLE: Hooks = Hooks(1 << 12);
    pub const JOB_STARVING: Hooks = Hooks(1 << 13);
    pub const PREEMPTIVE: Hooks = Hooks(1 << 14);
    /// Not switchable: a queue's deserved share is a fact the plugin computes, not a vote.
    pub const QUEUE_DESERVED: Hooks = Hooks(1 << 15);
    pub const NONE: Hooks = Hooks(0);

    /// Union.
    pub const fn with(self, other: Hooks) -> Hooks {
        Hooks(self.0 | other.0)
    }
    /// Whether every bit of `other` is set.
    pub const fn has(self, other: Hooks) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
    /// `self` without `other`.
    pub const fn without(self, other: Hooks) -> Hooks {
        Hooks(self.0 & !other.0)
    }
}

/// The Volcano per-plugin switch that turns each extension point off (all default to enabled).
pub const SWITCHES: &[(&str, Hooks)] = &[
    ("enableJobOrder", Hooks::JOB_ORDER),
    ("enableQueueOrder", Hooks::QUEUE_ORDER),
    ("enableTaskOrder", Hooks::TASK_ORDER),
    ("enableJobReady", Hooks::JOB_READY),
    ("enableJobPipelined", Hooks::JOB_PIPELINED),
    ("enableJobEnqueued", Hooks::JOB_ENQUEUEABLE),
    ("enabledAllocatable", Hooks::ALLOCATABLE),
    ("enabledOverused", Hooks::OVERUSED),
    ("enablePredicate", Hooks::PREDICATE),
    ("enableNodeOrder", Hooks::NODE_ORDER),
    ("enablePreemptable", Hooks::PREEMPTABLE),
    ("enableReclaimable", Hooks::RECLAIMABLE),
    ("enableJobStarving", Hooks::JOB_STARVING),
    ("enablePreemptive", Hooks::PREEMPTIVE),
];

/// A scheduling policy. A new instance is made for every session, so a plugin may keep
/// per-cycle state in `self` (DRF shares, proportion's deserved amounts).
///
/// Methods are only called for the extension points named in [`Plugin::hooks`] and not switched
/// off in the configuration. Predicates and scores must depend only on the task's class (its
/// [`crate::TaskSpec`], and its labels when the class carries them) and on the node's own state, so
/// results can be cached per class and recomputed only for nodes that changed; constraints that
/// span several nodes mark the class topology-sensitive instead (see [`crate::snapshot::ClassInfo`]).
pub trait Plugin: Send {
    /// The configuration name, e.g. `gang`.
    fn name(&self) -> &'static str;
    /// The extension points this plugin implements.
    fn hooks(&self) -> Hooks;
    /// Called once when the session opens, before any action.
    fn open(&mut self, _s: &Snapshot) {}
    /// Orders two jobs of a queue (`Less` = `a` first).
    fn job_order(&self, _s: &Snapshot, _a: JobId, _b: JobId) -> Ordering {
        Ordering::Equal
    }
    /// Orders two queues.
    fn queue_order(&self, _s: &Snapshot, _a: QueueId, _b: QueueId) -> Ordering {
        Ordering::Equal
    }
    /// Orders two tasks of a job.
    fn task_order(&self, _s: &Snapshot, _a: TaskId, _b: TaskId) -> Ordering {
        Ordering::Equal
    }
    /// `Some((reason, message))` when the job cannot be scheduled at all as it stands.
    fn job_valid(&self, _s: &Snapshot, _j: JobId) -> Option<(String, String)> {
        None
    }
    /// Whether the job's placed tasks are enough to commit it.
    fn job_ready(&self, _s: &Snapshot, _j: JobId) -> bool {
        true
    }
    /// Whether the job's placed plus pipelined tasks are enough to keep its reservations.
    fn job_pipelined(&self, _s: &Snapshot, _j: JobId) -> Vote {
        Vote::Abstain
    }
    /// Whether a Pending job may be admitted (Inqueue).
    fn job_enqueueable(&self, _s: &Snapshot, _j: JobId) -> Vote {
        Vote::Abstain
    }
    /// A job was admitted: account for it.
    fn job_enqueued(&mut self, _s: &Snapshot, _j: JobId) {}
    /// Whether `queue` may take `task` now.
    fn allocatable(&self, _s: &Snapshot, _q: QueueId, _t: TaskId) -> bool {
        true
    }
    /// Whether `queue` may take `task` for a job starting on a reservation granted in an earlier
    /// cycle. A reservation is a promise made within the queue's fair share at the time; shares
    /// move with other queues' demand, and a promise that moved with them would not be one. So a
    /// plugin whose `allocatable` enforces a fair share answers here by its hard limits only (an
    /// open queue, its capability); the default is `allocatable`.
    fn allocatable_on_reservation(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        self.allocatable(s, q, t)
    }
    /// Whether `queue` holds more than it should and must not get more.
    fn overused(&self, _s: &Snapshot, _q: QueueId) -> bool {
        false
    }
    /// Per-task preparation before nodes are filtered and scored (called for predicate and score
    /// plugins: once per class for ordinary classes, before every pod for topology-sensitive
    /// ones); an error rejects every node.
    fn pre_predicate(&mut self, _s: &Snapshot, _t: TaskId) -> Result<(), Reason> {
        Ok(())
    }
    /// Whether `task` may go to `node` (resource fit is checked by the framework).
    fn predicate(&self, _s: &Snapshot, _t: TaskId, _n: NodeId) -> Result<(), Reason> {
        Ok(())
    }
    /// How good `node` is for `task`; higher is better.
    fn node_score(&self, _s: &Snapshot, _t: TaskId, _n: NodeId) -> i64 {
        0
    }
    /// Which of `candidates` may be evicted so that `preemptor` (a pending pod of a job in the
    /// same queue) can run. See the module documentation for the contract.
    fn preemptable(&self, _s: &Snapshot, _preemptor: TaskId, _candidates: &[TaskId]) -> Victims {
        Victims::Abstain
    }
    /// Which of `candidates` (pods of other queues) may be evicted so that `reclaimer` can run.
    /// See the module documentation for the contract.
    fn reclaimable(&self, _s: &Snapshot, _reclaimer: TaskId, _candidates: &[TaskId]) -> Victims {
        Victims::Abstain
    }
    /// Whether the pending job `j` still lacks what it needs, so that it may evict others.
    fn job_starving(&self, _s: &Snapshot, _j: JobId) -> bool {
        false
    }
    /// Whether `queue` may reclaim resources from other queues for `task`.
    fn preemptive(&self, _s: &Snapshot, _q: QueueId, _t: TaskId) -> bool {
        true
    }
    /// What `queue` is entitled to now, if this plugin shares the cluster between queues.
    fn queue_deserved(&self, _s: &Snapshot, _q: QueueId) -> Option<Resources> {
        None
    }
    /// `task` counts again toward its job's and queue's usage: it was placed (allocated or
    /// pipelined) in the session, or an eviction of it was undone.
    fn on_allocate(&mut self, _s: &Snapshot, _t: TaskId) {}
    /// `task` no longer counts toward its job's and queue's usage: a placement of it was undone,
    /// or it is being evicted (its resources are releasing), as Volcano's deallocate event on
    /// evict. A plugin that keeps its own usage tally stays equal to the snapshot's this way.
    fn on_deallocate(&mut self, _s: &Snapshot, _t: TaskId) {}
    /// Called when the session closes: write conditions or other results.
    fn close(&mut self, _s: &Snapshot, _out: &mut Outcome) {}
}

struct Entry {
    plugin: Box<dyn Plugin>,
    tier: usize,
    enabled: Hooks,
}

/// The session's plugins in tier order, with their enabled extension points.
#[derive(Default)]
pub struct PluginSet {
    entries: Vec<Entry>,
    predicate: Vec<usize>,
    score: Vec<usize>,
    /// Plugins whose `pre_predicate` runs: every predicate or score plugin.
    prepare: Vec<usize>,
}

impl PluginSet {
    /// Adds `plugin` in `tier` with `disabled` extension points switched off.
    pub fn push(&mut self, plugin: Box<dyn Plugin>, tier: usize, disabled: Hooks) {
        let enabled = plugin.hooks().without(disabled);
        let i = self.entries.len();
        if enabled.has(Hooks::PREDICATE) {
            self.predicate.push(i);
        }
        if enabled.has(Hooks::NODE_ORDER) {
            self.score.push(i);
        }
        if enabled.has(Hooks::PREDICATE) || enabled.has(Hooks::NODE_ORDER) {
            self.prepare.push(i);
        }
        self.entries.push(Entry { plugin, tier, enabled });
    }

    /// Names of the plugins, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.plugin.name()).collect()
    }

    fn with(&self, hook: Hooks) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.enabled.has(hook))
    }

    /// Calls `open` on every plugin.
    pub fn open(&mut self, s: &Snapshot) {
        for e in &mut self.entries {
            e.plugin.open(s);
        }
    }
    /// Calls `close` on every plugin.
    pub fn close(&mut self, s: &Snapshot, out: &mut Outcome) {
        for e in &mut self.entries {
            e.plugin.close(s, out);
        }
    }

    /// Tiered job order (ties left to the caller).
    pub fn job_order(&self, s: &Snapshot, a: JobId, b: JobId) -> Ordering {
        self.with(Hooks::JOB_ORDER)
            .map(|e| e.plugin.job_order(s, a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
    /// Tiered queue order.
    pub fn queue_order(&self, s: &Snapshot, a: QueueId, b: QueueId) -> Ordering {
        self.with(Hooks::QUEUE_ORDER)
            .map(|e| e.plugin.queue_order(s, a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
    /// Tiered task order.
    pub fn task_order(&self, s: &Snapshot, a: TaskId, b: TaskId) -> Ordering {
        self.with(Hooks::TASK_ORDER)
            .map(|e| e.plugin.task_order(s, a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
    /// First invalidity found.
    pub fn job_valid(&self, s: &Snapshot, j: JobId) -> Option<(String, String)> {
        self.with(Hooks::JOB_VALID).find_map(|e| e.plugin.job_valid(s, j))
    }
    /// All plugins agree the job is ready.
    pub fn job_ready(&self, s: &Snapshot, j: JobId) -> bool {
        self.with(Hooks::JOB_READY).all(|e| e.plugin.job_ready(s, j))
    }
    /// Tiered vote on keeping the job's pipelined reservations.
    pub fn job_pipelined(&self, s: &Snapshot, j: JobId) -> bool {
        self.vote(Hooks::JOB_PIPELINED, |p| p.job_pipelined(s, j))
    }
    /// Tiered vote on admitting the job.
    pub fn job_enqueueable(&self, s: &Snapshot, j: JobId) -> bool {
        self.vote(Hooks::JOB_ENQUEUEABLE, |p| p.job_enqueueable(s, j))
    }
    /// Tells every admission plugin that the job was admitted.
    pub fn job_enqueued(&mut self, s: &Snapshot, j: JobId) {
        for e in self
            .entries
            .iter_mut()
            .filter(|e| e.enabled.has(Hooks::JOB_ENQUEUEABLE))
        {
            e.plugin.job_enqueued(s, j);
        }
    }
    /// All plugins let the queue take the task.
    pub fn allocatable(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        self.with(Hooks::ALLOCATABLE).all(|e| e.plugin.allocatable(s, q, t))
    }
    /// All plugins let the queue take the task for a job starting on an earlier reservation.
    pub fn allocatable_on_reservation(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        self.with(Hooks::ALLOCATABLE)
            .all(|e| e.plugin.allocatable_on_reservation(s, q, t))
    }
    /// Any plugin finds the queue overused.
    pub fn overused(&self, s: &Snapshot, q: QueueId) -> bool {
        self.with(Hooks::OVERUSED).any(|e| e.plugin.overused(s, q))
    }
    /// Runs every predicate and score plugin's per-task preparation.
    pub fn pre_predicate(&mut self, s: &Snapshot, t: TaskId) -> Result<(), Reason> {
        for &i in &self.prepare {
            self.entries[i].plugin.pre_predicate(s, t)?;
        }
        Ok(())
    }
    /// First failing predicate, if any.
    #[inline]
    pub fn predicate(&self, s: &Snapshot, t: TaskId, n: NodeId) -> Result<(), Reason> {
        for &i in &self.predicate {
            self.entries[i].plugin.predicate(s, t, n)?;
        }
        Ok(())
    }
    /// Sum of node scores.
    #[inline]
    pub fn node_score(&self, s: &Snapshot, t: TaskId, n: NodeId) -> i64 {
        self.score
            .iter()
            .map(|&i| self.entries[i].plugin.node_score(s, t, n))
            .sum()
    }
    /// Tiered victim selection for preemption; see the module documentation.
    pub fn preemptable(&self, s: &Snapshot, preemptor: TaskId, candidates: &[TaskId]) -> Vec<TaskId> {
        self.victims(Hooks::PREEMPTABLE, candidates, |p| {
            p.preemptable(s, preemptor, candidates)
        })
    }
    /// Tiered victim selection for reclaim; see the module documentation.
    pub fn reclaimable(&self, s: &Snapshot, reclaimer: TaskId, candidates: &[TaskId]) -> Vec<TaskId> {
        self.victims(Hooks::RECLAIMABLE, candidates, |p| {
            p.reclaimable(s, reclaimer, candidates)
        })
    }
    /// Whether the job may evict others: the first tier with an answer decides, unanimously.
    pub fn job_starving(&self, s: &Snapshot, j: JobId) -> bool {
        let mut tier = None;
        for e in self.with(Hooks::JOB_STARVING) {
            if tier.is_some_and(|t| t != e.tier) {
                return true;
            }
            tier = Some(e.tier);
            if !e.plugin.job_starving(s, j) {
                return false;
            }
        }
        tier.is_some()
    }
    /// All plugins let the queue reclaim for the task.
    pub fn preemptive(&self, s: &Snapshot, q: QueueId, t: TaskId) -> bool {
        self.with(Hooks::PREEMPTIVE).all(|e| e.plugin.preemptive(s, q, t))
    }
    /// The queue's deserved share, from the first plugin that computes one.
    pub fn queue_deserved(&self, s: &Snapshot, q: QueueId) -> Option<Resources> {
        self.with(Hooks::QUEUE_DESERVED)
            .find_map(|e| e.plugin.queue_deserved(s, q))
    }

    fn victims(&self, hook: Hooks, candidates: &[TaskId], f: impl Fn(&dyn Plugin) -> Victims) -> Vec<TaskId> {
        let mut tier = None;
        // The intersection so far, as a set; the result keeps the candidates' order.
        let mut decided: Option<std::collections::BTreeSet<TaskId>> = None;
        for e in self.with(hook) {
            if tier != Some(e.tier) {
                if decided.is_some() {
                    break;
                }
                tier = Some(e.tier);
            }
            let Victims::Select(proposed) = f(e.plugin.as_ref()) else {
                continue;
            };
            let proposed: std::collections::BTreeSet<TaskId> = proposed.into_iter().collect();
            decided = Some(match decided {
                None => proposed,
                Some(so_far) => so_far.intersection(&proposed).copied().collect(),
            });
        }
        match decided {
            // Only what was offered may come back, whatever a plugin returns.
            Some(set) => candidates.iter().copied().filter(|t| set.contains(t)).collect(),
            None => Vec::new(),
        }
    }

    /// Notifies every plugin of a placement.
    pub fn on_allocate(&mut self, s: &Snapshot, t: TaskId) {
        for e in &mut self.entries {
            e.plugin.on_allocate(s, t);
        }
    }
    /// Notifies every plugin of an undone placement.
    pub fn on_deallocate(&mut self, s: &Snapshot, t: TaskId) {
        for e in &mut self.entries {
            e.plugin.on_deallocate(s, t);
        }
    }

    fn vote(&self, hook: Hooks, f: impl Fn(&dyn Plugin) -> Vote) -> bool {
        let mut tier = None;
        let mut permitted = false;
        for e in self.with(hook) {
            if tier != Some(e.tier) {
                if permitted {
                    return true;
                }
                tier = Some(e.tier);
            }
            match f(e.plugin.as_ref()) {
                Vote::Reject => return false,
                Vote::Permit => permitted = true,
                Vote::Abstain => {}
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Voter(&'static str, Vote);
    impl Plugin for Voter {
        fn name(&self) -> &'static str {
            self.0
        }
        fn hooks(&self) -> Hooks {
            Hooks::JOB_ENQUEUEABLE
        }
        fn job_enqueueable(&self, _: &Snapshot, _: JobId) -> Vote {
            self.1
        }
    }

    fn empty() -> Snapshot {
        crate::snapshot::SnapshotBuilder::new().build(0)
    }

    fn set(votes: &[(usize, Vote)]) -> PluginSet {
        let mut p = PluginSet::default();
        for (tier, v) in votes {
            p.push(Box::new(Voter("v", *v)), *tier, Hooks::NONE);
        }
        p
    }

    #[test]
    fn votes_follow_volcano_tier_rules() {
        let s = empty();
        let j = JobId(0);
        assert!(set(&[]).job_enqueueable(&s, j), "all abstain admits");
        assert!(
            !set(&[(0, Vote::Permit), (0, Vote::Reject)]).job_enqueueable(&s, j),
            "a reject in the tier wins"
        );
        assert!(
            set(&[(0, Vote::Permit), (1, Vote::Reject)]).job_enqueueable(&s, j),
            "a permit ends the search"
        );
        assert!(!set(&[(0, Vote::Abstain), (1, Vote::Reject)]).job_enqueueable(&s, j));
    }

    /// Proposes a fixed victim set (or abstains) and answers job_starving with a fixed value.
    struct Picker(Option<Vec<u32>>, bool);
    impl Plugin for Picker {
        fn name(&self) -> &'static str {
            "picker"
        }
        fn hooks(&self) -> Hooks {
            Hooks::PREEMPTABLE.with(Hooks::RECLAIMABLE).with(Hooks::JOB_STARVING)
        }
        fn preemptable(&self, _: &Snapshot, _: TaskId, _: &[TaskId]) -> Victims {
            match &self.0 {
                Some(v) => Victims::Select(v.iter().map(|i| TaskId(*i)).collect()),
                None => Victims::Abstain,
            }
        }
        fn reclaimable(&self, s: &Snapshot, t: TaskId, c: &[TaskId]) -> Victims {
            self.preemptable(s, t, c)
        }
        fn job_starving(&self, _: &Snapshot, _: JobId) -> bool {
            self.1
        }
    }

    fn pickers(tiers: &[(usize, Option<&[u32]>, bool)], disabled: Hooks) -> PluginSet {
        let mut p = PluginSet::default();
        for (tier, v, starving) in tiers {
            p.push(Box::new(Picker(v.map(<[u32]>::to_vec), *starving)), *tier, disabled);
        }
        p
    }

    #[test]
    fn victims_intersect_within_a_tier_and_the_first_deciding_tier_wins() {
        let s = empty();
        let cands: Vec<TaskId> = (0..6).map(TaskId).collect();
        let ids = |v: Vec<TaskId>| v.into_iter().map(|t| t.0).collect::<Vec<_>>();
        let p = pickers(&[(0, Some(&[1, 2, 3]), true), (0, Some(&[5, 3, 2]), true)], Hooks::NONE);
        assert_eq!(
            ids(p.preemptable(&s, TaskId(9), &cands)),
            [2, 3],
            "intersection, in candidate order"
        );
        let p = pickers(
            &[(0, None, true), (1, Some(&[4]), true), (2, Some(&[1]), true)],
            Hooks::NONE,
        );
        assert_eq!(
            ids(p.preemptable(&s, TaskId(9), &cands)),
            [4],
            "an abstaining tier passes on"
        );
        let p = pickers(&[(0, Some(&[]), true), (1, Some(&[4]), true)], Hooks::NONE);
        assert!(
            p.reclaimable(&s, TaskId(9), &cands).is_empty(),
            "an empty answer decides (unlike Volcano, where it lets the next tier refill it)"
        );
        let p = pickers(
            &[(0, Some(&[1, 2]), true), (0, Some(&[3]), true), (1, Some(&[1]), true)],
            Hooks::NONE,
        );
        assert!(
            p.preemptable(&s, TaskId(9), &cands).is_empty(),
            "an empty intersection decides"
        );
        let p = pickers(&[(0, None, true)], Hooks::NONE);
        assert!(
            p.preemptable(&s, TaskId(9), &cands).is_empty(),
            "nobody decides: no victims"
        );
        let p = pickers(&[(0, Some(&[7, 1]), true)], Hooks::NONE);
        assert_eq!(
            ids(p.preemptable(&s, TaskId(9), &cands)),
            [1],
            "nothing that was not offered"
        );
        let p = pickers(&[(0, Some(&[]), true), (1, Some(&[2]), true)], Hooks::PREEMPTABLE);
        assert!(
            p.preemptable(&s, TaskId(9), &cands).is_empty(),
            "enablePreemptable: false"
        );
        assert_eq!(ids(p.reclaimable(&s, TaskId(9), &cands)), Vec::<u32>::new());
    }

    #[test]
    fn job_starving_is_decided_by_the_first_tier_that_answers() {
        let s = empty();
        let j = JobId(0);
        assert!(
            !pickers(&[], Hooks::NONE).job_starving(&s, j),
            "no answer: not starving"
        );
        assert!(pickers(&[(0, None, true), (0, None, true), (1, None, false)], Hooks::NONE).job_starving(&s, j));
        assert!(!pickers(&[(0, None, true), (0, None, false)], Hooks::NONE).job_starving(&s, j));
        assert!(
            !pickers(&[(0, None, true), (1, None, false)], Hooks::JOB_STARVING).job_starving(&s, j),
            "enableJobStarving: false"
        );
    }

    #[test]
    fn switched_off_hook_is_not_consulted() {
        let s = empty();
        let mut p = PluginSet::default();
        p.push(Box::new(Voter("v", Vote::Reject)), 0, Hooks::JOB_ENQUEUEABLE);
        assert!(p.job_enqueueable(&s, JobId(0)));
    }
}

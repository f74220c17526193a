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

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::model::{JobId, NodeId, QueueId, TaskId};
use crate::outcome::Outcome;
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
    /// `task` was placed (allocated or pipelined) in the session.
    fn on_allocate(&mut self, _s: &Snapshot, _t: TaskId) {}
    /// A placement of `task` was undone.
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

    #[test]
    fn switched_off_hook_is_not_consulted() {
        let s = empty();
        let mut p = PluginSet::default();
        p.push(Box::new(Voter("v", Vote::Reject)), 0, Hooks::JOB_ENQUEUEABLE);
        assert!(p.job_enqueueable(&s, JobId(0)));
    }
}

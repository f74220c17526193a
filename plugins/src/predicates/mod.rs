//! The `predicates` plugin: kube-scheduler's node filters (readiness, cordon, node name, taints, node
//! affinity, host ports, inter-pod affinity) with kube-scheduler's failure wording, plus the
//! PreferNoSchedule taint score, switched on and off with Volcano's `predicate.*Enable` arguments.
//!
//! Resource fit and the pod-count limit are not here: the framework checks `TaskSpec.request`
//! (which carries one `pods` slot) against the node's idle resources, so a node at its `pods`
//! allocatable is reported as "Insufficient pods", as kube-scheduler words it.
//!
//! Pod topology spread (`DoNotSchedule` constraints) is in [`spread`]; its `ScheduleAnyway`
//! counterpart is a `nodeorder` score. When `nodeorder` is configured, it also owns the
//! PreferNoSchedule score (as in Volcano), and this plugin scores nothing.

use std::borrow::Cow;

use caldera_framework::{
    Arguments, ConfigError, Hooks, NodeId, Plugin, Reason, Snapshot, Taint, TaintEffect, TaskId, TaskInfo,
};

pub(crate) mod affinity;
mod node;
pub(crate) mod pod_affinity;
mod ports;
pub(crate) mod spread;
pub(crate) mod taints;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use pod_affinity::{Census, Prepared};

/// The configuration name.
pub const NAME: &str = "predicates";

/// Kube-scheduler's classic NodeNotReady wording; current releases express readiness as the
/// `node.kubernetes.io/not-ready` taint, which Caldera checks directly instead.
pub const NODE_NOT_READY: &str = "node(s) were not ready";
/// kube-scheduler's NodeUnschedulable wording, which users grep events for; likewise below.
pub const NODE_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// NodeName.
pub const NODE_NAME_MISMATCH: &str = "node(s) didn't match the requested node name";
/// NodeAffinity (covers `nodeSelector` too).
pub const NODE_AFFINITY_MISMATCH: &str = "node(s) didn't match Pod's node affinity/selector";
/// NodePorts.
pub const NODE_PORTS_CONFLICT: &str = "node(s) didn't have free ports for the requested pod ports";
/// InterPodAffinity: the pod's own required affinity.
pub const POD_AFFINITY_MISMATCH: &str = "node(s) didn't match pod affinity rules";
/// InterPodAffinity: the pod's own required anti-affinity.
pub const POD_ANTI_AFFINITY_MISMATCH: &str = "node(s) didn't match pod anti-affinity rules";
/// InterPodAffinity: the required anti-affinity of pods already placed.
pub const EXISTING_ANTI_AFFINITY_MISMATCH: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// The taint kube-scheduler lets a pod tolerate to land on a cordoned node.
pub const UNSCHEDULABLE_TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

/// Volcano's nodeorder default for `tainttoleration.weight`.
pub const DEFAULT_TAINT_WEIGHT: i64 = 3;

/// The arguments this plugin reads.
pub const ARGUMENTS: &[&str] = &[
    "predicate.NodeAffinityEnable",
    "predicate.NodePortsEnable",
    "predicate.TaintTolerationEnable",
    "predicate.PodAffinityEnable",
    "predicate.PodTopologySpreadEnable",
    "tainttoleration.weight",
];

/// Which filters run and how much the score weighs, as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Settings {
    node_affinity: bool,
    node_ports: bool,
    taint_toleration: bool,
    pod_affinity: bool,
    topology_spread: bool,
    taint_weight: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            node_affinity: true,
            node_ports: true,
            taint_toleration: true,
            pod_affinity: true,
            topology_spread: true,
            taint_weight: DEFAULT_TAINT_WEIGHT,
        }
    }
}

/// The `predicates` plugin.
#[derive(Clone, Debug)]
pub struct Predicates {
    settings: Settings,
    /// Built once so the cordon check can reuse `Toleration::tolerates` without allocating.
    unschedulable_taint: Taint,
    census: Census,
    /// Cross-node facts per equivalence class, refreshed by `pre_predicate`.
    prepared: Vec<Option<Prepared>>,
    /// Spread counts per class, with the task they were counted for.
    spread: Vec<Option<(TaskId, Vec<spread::DomainCounts>)>>,
}

impl Predicates {
    /// Reads Volcano's switches `predicate.NodeAffinityEnable`, `predicate.NodePortsEnable`,
    /// `predicate.TaintTolerationEnable`, `predicate.PodAffinityEnable` (default true) and the
    /// score weight `tainttoleration.weight` (default 3, Volcano nodeorder's). Other keys Volcano
    /// knows (GPU sharing, cache, proxy) are ignored so existing configurations load.
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        let switch = |key: &str| args.bool(key).map(|b| b.unwrap_or(true));
        let taint_weight = args.int("tainttoleration.weight")?.unwrap_or(DEFAULT_TAINT_WEIGHT);
        if taint_weight < 0 {
            return Err(ConfigError::Invalid(format!(
                "argument tainttoleration.weight must not be negative, got {taint_weight}"
            )));
        }
        Ok(Predicates::with(Settings {
            node_affinity: switch("predicate.NodeAffinityEnable")?,
            node_ports: switch("predicate.NodePortsEnable")?,
            taint_toleration: switch("predicate.TaintTolerationEnable")?,
            pod_affinity: switch("predicate.PodAffinityEnable")?,
            topology_spread: switch("predicate.PodTopologySpreadEnable")?,
            taint_weight,
        }))
    }

    fn with(settings: Settings) -> Self {
        Predicates {
            settings,
            unschedulable_taint: Taint {
                key: UNSCHEDULABLE_TAINT_KEY.to_string(),
                value: String::new(),
                effect: TaintEffect::NoSchedule,
            },
            census: Census::unknown(),
            prepared: Vec::new(),
            spread: Vec::new(),
        }
    }

    /// Leaves the PreferNoSchedule score to `nodeorder` (configured alongside).
    pub fn without_taint_score(mut self) -> Self {
        self.settings.taint_weight = 0;
        self
    }

    fn has_hard_spread(&self, t: &TaskInfo) -> bool {
        self.settings.topology_spread
            && t.spec
                .topology_spread
                .iter()
                .any(|c| c.mode == caldera_framework::SpreadMode::DoNotSchedule)
    }

    /// The prepared facts usable for `task`, if `pre_predicate` left any.
    ///
    /// Per-node topology verdicts are trusted only for the exact task they were computed for:
    /// such classes are topology-sensitive, so the framework prepares every pod afresh. The
    /// remaining fact (whether any pod matches the affinity terms yet) serves the whole class.
    fn prepared_for(&self, t: &TaskInfo, task: TaskId) -> Option<&Prepared> {
        let p = self.prepared.get(t.class.idx())?.as_ref()?;
        (p.task == task || !p.is_task_specific()).then_some(p)
    }
}

impl Default for Predicates {
    fn default() -> Self {
        Predicates::with(Settings::default())
    }
}

impl Plugin for Predicates {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        // A zero weight only adds zeros, so spare the framework the calls.
        if self.settings.taint_weight == 0 {
            Hooks::PREDICATE
        } else {
            Hooks::PREDICATE.with(Hooks::NODE_ORDER)
        }
    }

    fn open(&mut self, s: &Snapshot) {
        self.census = Census::of(s);
        self.prepared.clear();
        self.prepared.resize_with(s.classes.len(), || None);
        self.spread.clear();
        self.spread.resize_with(s.classes.len(), || None);
    }

    fn pre_predicate(&mut self, s: &Snapshot, task: TaskId) -> Result<(), Reason> {
        let t = s.task(task);
        if self.has_hard_spread(t) {
            let class = t.class.idx();
            if self.spread.len() <= class {
                self.spread.resize_with(class + 1, || None);
            }
            self.spread[class] = Some((
                task,
                spread::count(s, task, caldera_framework::SpreadMode::DoNotSchedule),
            ));
        }
        if !self.settings.pod_affinity || !pod_affinity::needs_prepare(&t.spec, &self.census) {
            return Ok(());
        }
        let class = t.class.idx();
        if self.prepared.len() <= class {
            self.prepared.resize_with(class + 1, || None);
        }
        self.prepared[class] = Some(pod_affinity::prepare(s, task, &self.census));
        Ok(())
    }

    fn predicate(&self, s: &Snapshot, task: TaskId, n: NodeId) -> Result<(), Reason> {
        let t = s.task(task);
        let spec = &*t.spec;
        let node = s.node(n);
        node::check(spec, node, &self.unschedulable_taint)?;
        if self.settings.taint_toleration {
            taints::check(spec, node)?;
        }
        if self.settings.node_affinity && !affinity::matches(spec, node) {
            return Err(Cow::Borrowed(NODE_AFFINITY_MISMATCH));
        }
        if self.settings.node_ports && ports::conflict(spec, node) {
            return Err(Cow::Borrowed(NODE_PORTS_CONFLICT));
        }
        if self.settings.pod_affinity && pod_affinity::involved(spec, &self.census) {
            if !pod_affinity::needs_prepare(spec, &self.census) {
                return pod_affinity::check(s, task, n, None, &self.census);
            }
            // Without a `pre_predicate` for this task (an action probing one node), compute the
            // facts now: slow, but never a stale answer.
            let fresh;
            let p = match self.prepared_for(t, task) {
                Some(p) => p,
                None => {
                    fresh = pod_affinity::prepare(s, task, &self.census);
                    &fresh
                }
            };
            pod_affinity::check(s, task, n, Some(p), &self.census)?;
        }
        if self.has_hard_spread(t) {
            let cached = self.spread.get(t.class.idx()).and_then(Option::as_ref);
            match cached {
                Some((for_task, counts)) if *for_task == task => spread::check(s, task, n, counts)?,
                _ => {
                    let counts = spread::count(s, task, caldera_framework::SpreadMode::DoNotSchedule);
                    spread::check(s, task, n, &counts)?;
                }
            }
        }
        Ok(())
    }

    fn node_score(&self, s: &Snapshot, task: TaskId, n: NodeId) -> i64 {
        let count = taints::intolerable_prefer_no_schedule(&s.task(task).spec, s.node(n));
        count.saturating_mul(self.settings.taint_weight).saturating_neg()
    }
}

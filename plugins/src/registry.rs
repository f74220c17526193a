//! Builds the cycle pipeline from a configuration: which actions run in which order, and which
//! plugins in which tiers with which switches and arguments. Arguments are parsed once here, so a
//! bad configuration is rejected when it is loaded, never in the middle of a cycle.

use std::collections::BTreeMap;

use caldera_framework::config::PluginConfig;
use caldera_framework::policy::{DEFAULT_ESTIMATE_DEPTH, DEFAULT_EXPECTED_RUNTIME};
use caldera_framework::{
    Action, Arguments, ConfigError, ConfigWarning, Hooks, Outcome, Plugin, PluginSet, Reservations, SchedulerConfig,
    Session, Snapshot, StartPolicy,
};

use crate::actions::{allocate, backfill, enqueue, preempt, reclaim};
use crate::{
    binpack, capacity, conformance, drf, gang, gpupack, nodeorder, overcommit, predicates, priority, proportion, sla,
    task_topology,
};

/// Caldera's default configuration (Volcano's default pipeline plus GPU-aware packing).
pub const DEFAULT_CONFIG: &str = include_str!("default-config.yaml");

/// Volcano actions this version does not run yet; naming them is accepted with a warning.
const NOT_YET: &[&str] = &["shuffle", "gangpreempt", "gangreclaim", "reserve"];
/// Volcano plugins this version does not have; naming them is accepted with a warning. Why each
/// is missing is in docs/volcano-compatibility.md.
const KNOWN_ELSEWHERE: &[&str] = &[
    "reservation",
    "deviceshare",
    "numa-aware",
    "network-topology-aware",
    "tdm",
    "cdp",
    "rescheduling",
    "usage",
    "pdb",
    "nodegroup",
    "extender",
    "resourcequota",
    "resource-strategy-fit",
];

type Factory = Box<dyn Fn() -> Box<dyn Plugin> + Send + Sync>;

struct PluginSlot {
    tier: usize,
    disabled: Hooks,
    factory: Factory,
}

/// A ready-to-run cycle: actions and plugin factories.
pub struct Pipeline {
    actions: Vec<Box<dyn Action>>,
    plugins: Vec<PluginSlot>,
    action_args: BTreeMap<String, Arguments>,
    policy: StartPolicy,
    /// What was accepted but ignored (unknown plugins and arguments, actions not available yet).
    pub warnings: Vec<ConfigWarning>,
}

/// Arguments each action reads; others are reported once as ignored.
const ACTION_ARGUMENTS: &[(&str, &[&str])] = &[
    (
        allocate::NAME,
        &[STRICT_ORDER, DEFAULT_RUNTIME, ESTIMATE_DEPTH, ESTIMATE_INTERVAL],
    ),
    (backfill::NAME, &[MODE, RESERVATION_DEPTH, STARVATION_THRESHOLD]),
    (preempt::NAME, &["cooldown"]),
    (reclaim::NAME, &["cooldown"]),
];

/// `allocate`: a queue's first job that cannot start blocks the jobs behind it.
pub const STRICT_ORDER: &str = "strict-order";
/// `allocate`: expected run time of pods that give none (a duration, or `none` for "forever").
pub const DEFAULT_RUNTIME: &str = "default-expected-runtime";
/// `allocate`: pending jobs per queue that get a start estimate each cycle.
pub const ESTIMATE_DEPTH: &str = "estimate-depth";
/// `allocate`: least time between two passes of start estimates (a duration; 0 = every cycle).
pub const ESTIMATE_INTERVAL: &str = "estimate-interval";
/// `backfill`: `best-effort` (Volcano), `easy` or `conservative`.
pub const MODE: &str = "mode";
/// `backfill`: how many waiting jobs per queue hold a reservation in conservative mode.
pub const RESERVATION_DEPTH: &str = "reservation-depth";
/// `backfill`: a job pending longer than this always gets a reservation.
pub const STARVATION_THRESHOLD: &str = "starvation-threshold";
/// Default `reservation-depth`.
pub const DEFAULT_RESERVATION_DEPTH: usize = 4;

/// The start policy the configuration describes (see [`StartPolicy`]); arguments of actions
/// that are not listed are ignored, like the actions.
fn start_policy(cfg: &SchedulerConfig, warnings: &mut Vec<ConfigWarning>) -> Result<StartPolicy, ConfigError> {
    let listed = |name: &str| cfg.actions.iter().any(|a| a == name);
    let empty = Arguments::default();
    let args = |name: &str| {
        if listed(name) {
            cfg.action_args.get(name).unwrap_or(&empty)
        } else {
            &empty
        }
    };
    let alloc = args(allocate::NAME);
    let fill = args(backfill::NAME);
    let reservations = match fill.string(MODE).as_deref() {
        None | Some("best-effort") => Reservations::None,
        Some("easy") => Reservations::Easy,
        Some("conservative") => {
            let k = fill.int(RESERVATION_DEPTH)?.unwrap_or(DEFAULT_RESERVATION_DEPTH as i64);
            let k = usize::try_from(k)
                .ok()
                .filter(|k| *k >= 1)
                .ok_or_else(|| ConfigError::Invalid(format!("argument {RESERVATION_DEPTH} must be at least 1")))?;
            Reservations::Conservative(k)
        }
        Some(other) => {
            return Err(ConfigError::Invalid(format!(
                "backfill argument {MODE} must be best-effort, easy or conservative, got {other:?}"
            )));
        }
    };
    if fill.0.contains_key(RESERVATION_DEPTH) && !matches!(reservations, Reservations::Conservative(_)) {
        warnings.push(ConfigWarning::new(
            "unknown_argument",
            format!("backfill: {RESERVATION_DEPTH} only applies to mode conservative; ignored"),
        ));
    }
    let strict_order = match alloc.bool(STRICT_ORDER)? {
        Some(false) if reservations != Reservations::None => {
            return Err(ConfigError::Invalid(format!(
                "backfill mode {} needs jobs to start in queue order: allocate {STRICT_ORDER} cannot be false",
                fill.string(MODE).unwrap_or_default()
            )));
        }
        Some(v) => v,
        None => reservations != Reservations::None,
    };
    let default_runtime = match alloc.string(DEFAULT_RUNTIME).as_deref() {
        Some("none") => None,
        Some(_) => match alloc.duration(DEFAULT_RUNTIME)? {
            Some(d) if d > 0 => Some(d),
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "argument {DEFAULT_RUNTIME} must be a positive duration or none"
                )));
            }
        },
        None => Some(DEFAULT_EXPECTED_RUNTIME),
    };
    let estimate_depth = match alloc.int(ESTIMATE_DEPTH)? {
        Some(d) => usize::try_from(d)
            .map_err(|_| ConfigError::Invalid(format!("argument {ESTIMATE_DEPTH} must not be negative")))?,
        None => DEFAULT_ESTIMATE_DEPTH,
    };
    let estimate_interval = match alloc.duration(ESTIMATE_INTERVAL)? {
        Some(d) if d < 0 => {
            return Err(ConfigError::Invalid(format!(
                "argument {ESTIMATE_INTERVAL} must not be negative"
            )));
        }
        Some(d) => d,
        None => 0,
    };
    let starvation_threshold = match fill.duration(STARVATION_THRESHOLD)? {
        Some(d) if d <= 0 => {
            return Err(ConfigError::Invalid(format!(
                "argument {STARVATION_THRESHOLD} must be a positive duration"
            )));
        }
        other => other,
    };
    Ok(StartPolicy {
        strict_order,
        reservations,
        starvation_threshold,
        default_runtime,
        estimate_depth,
        estimate_interval,
    })
}

/// The arguments each plugin reads; any other argument is reported once and ignored. A name
/// ending in `.` stands for every key with that prefix.
fn honoured_arguments(plugin: &str) -> &'static [&'static str] {
    match plugin {
        overcommit::NAME => &["overcommit-factor"],
        binpack::NAME => &[
            "binpack.weight",
            "binpack.cpu",
            "binpack.memory",
            "binpack.resources",
            "binpack.resources.",
        ],
        gpupack::NAME => &["gpupack.weight"],
        predicates::NAME => predicates::ARGUMENTS,
        nodeorder::NAME => nodeorder::ARGUMENTS,
        capacity::NAME => &[capacity::ANCESTOR_RECLAIM_LEVEL],
        sla::NAME => &[sla::WAITING_TIME],
        task_topology::NAME => &[task_topology::WEIGHT],
        _ => &[],
    }
}

fn is_honoured(plugin: &str, key: &str) -> bool {
    honoured_arguments(plugin)
        .iter()
        .any(|h| *h == key || (h.ends_with('.') && key.starts_with(h)))
}

/// What a plugin's construction may depend on besides its own arguments.
struct Context {
    /// `nodeorder` is configured: `predicates` then leaves the PreferNoSchedule score to it.
    nodeorder: bool,
}

fn factory(p: &PluginConfig, ctx: &Context) -> Result<Option<Factory>, ConfigError> {
    let args = &p.arguments;
    let f: Factory = match p.name.as_str() {
        gang::NAME => Box::new(|| Box::new(gang::Gang)),
        conformance::NAME => Box::new(|| Box::new(conformance::Conformance)),
        priority::NAME => Box::new(|| Box::new(priority::Priority)),
        drf::NAME => Box::new(|| Box::new(drf::Drf)),
        proportion::NAME => Box::new(|| Box::new(proportion::Proportion::default())),
        overcommit::NAME => {
            let p = overcommit::Overcommit::new(args)?;
            Box::new(move || Box::new(p.clone()))
        }
        binpack::NAME => {
            let p = binpack::Binpack::new(args)?;
            Box::new(move || Box::new(p.clone()))
        }
        gpupack::NAME => {
            let p = gpupack::GpuPack::new(args)?;
            Box::new(move || Box::new(p.clone()))
        }
        predicates::NAME => {
            let mut p = predicates::Predicates::new(args)?;
            if ctx.nodeorder {
                p = p.without_taint_score();
            }
            Box::new(move || Box::new(p.clone()))
        }
        nodeorder::NAME => {
            let p = nodeorder::NodeOrder::new(args)?;
            Box::new(move || Box::new(p.clone()))
        }
        capacity::NAME => {
            let hierarchy = p.other_switches.get("enableHierarchy") == Some(&true);
            let p = capacity::Capacity::new(args, hierarchy)?;
            Box::new(move || Box::new(p.clone()))
        }
        sla::NAME => {
            let p = sla::Sla::new(args)?;
            Box::new(move || Box::new(p.clone()))
        }
        task_topology::NAME => {
            let p = task_topology::TaskTopology::new(args)?;
            Box::new(move || Box::new(p.clone()))
        }
        _ => return Ok(None),
    };
    Ok(Some(f))
}

fn args_of(cfg: &SchedulerConfig, action: &str) -> Arguments {
    cfg.action_args.get(action).cloned().unwrap_or_default()
}

impl Pipeline {
    /// Caldera's default pipeline.
    pub fn default_pipeline() -> Result<Self, ConfigError> {
        Self::from_config(&SchedulerConfig::parse(DEFAULT_CONFIG)?)
    }

    /// Builds the pipeline `cfg` describes.
    pub fn from_config(cfg: &SchedulerConfig) -> Result<Self, ConfigError> {
        let mut warnings = cfg.warnings.clone();
        let names: Vec<&str> = cfg.plugin_names().collect();
        if names.contains(&proportion::NAME) && names.contains(&"capacity") {
            return Err(ConfigError::Invalid(
                "plugins proportion and capacity cannot be enabled together: both decide every queue's share \
                 (proportion by weight, capacity by spec.deserved); keep one"
                    .into(),
            ));
        }
        let drf_hierarchy = cfg
            .tiers
            .iter()
            .flat_map(|t| &t.plugins)
            .any(|p| p.name == drf::NAME && p.other_switches.get("enableHierarchy") == Some(&true));
        if drf_hierarchy && names.contains(&proportion::NAME) {
            return Err(ConfigError::Invalid(
                "drf with enableHierarchy (hdrf) cannot be enabled together with proportion".into(),
            ));
        }
        if drf_hierarchy {
            warnings.push(ConfigWarning::new(
                "unavailable_plugin",
                "drf with enableHierarchy (hdrf) is not available in this version of Caldera; plain drf is used",
            ));
        }
        let ctx = Context {
            nodeorder: names.contains(&nodeorder::NAME),
        };
        let mut plugins = Vec::new();
        for (tier, t) in cfg.tiers.iter().enumerate() {
            for p in &t.plugins {
                match factory(p, &ctx)? {
                    Some(factory) => {
                        for key in p.arguments.keys().filter(|k| !is_honoured(&p.name, k)) {
                            warnings.push(ConfigWarning::new(
                                "unknown_argument",
                                format!("plugin {:?}: argument {key:?} is not used by Caldera; ignored", p.name),
                            ));
                        }
                        plugins.push(PluginSlot {
                            tier,
                            disabled: p.disabled,
                            factory,
                        });
                    }
                    None if KNOWN_ELSEWHERE.contains(&p.name.as_str()) => warnings.push(ConfigWarning::new(
                        "unavailable_plugin",
                        format!(
                            "plugin {:?} is not available in this version of Caldera; ignored",
                            p.name
                        ),
                    )),
                    None => warnings.push(ConfigWarning::new(
                        "unknown_plugin",
                        format!("unknown plugin {:?} ignored", p.name),
                    )),
                }
            }
        }
        for (action, args) in &cfg.action_args {
            let known = ACTION_ARGUMENTS
                .iter()
                .find(|(a, _)| a == action)
                .map_or(&[][..], |(_, k)| *k);
            for key in args.keys().filter(|k| !known.contains(k)) {
                warnings.push(ConfigWarning::new(
                    "unknown_argument",
                    format!("configurations: argument {key:?} of action {action:?} is not used by Caldera; ignored"),
                ));
            }
        }
        let has_enqueue = cfg.actions.iter().any(|a| a == enqueue::NAME);
        let mut actions: Vec<Box<dyn Action>> = Vec::new();
        for a in &cfg.actions {
            match a.as_str() {
                enqueue::NAME => actions.push(Box::new(enqueue::Enqueue)),
                allocate::NAME => actions.push(Box::new(allocate::Allocate {
                    admit_pending: !has_enqueue,
                })),
                backfill::NAME => actions.push(Box::new(backfill::Backfill)),
                preempt::NAME => actions.push(Box::new(preempt::Preempt::new(&args_of(cfg, preempt::NAME))?)),
                reclaim::NAME => actions.push(Box::new(reclaim::Reclaim::new(&args_of(cfg, reclaim::NAME))?)),
                other if NOT_YET.contains(&other) => warnings.push(ConfigWarning::new(
                    "unavailable_action",
                    format!("action {other:?} is not available in this version of Caldera; skipped"),
                )),
                other => return Err(ConfigError::Invalid(format!("unknown action {other:?}"))),
            }
        }
        let policy = start_policy(cfg, &mut warnings)?;
        Ok(Pipeline {
            actions,
            plugins,
            action_args: cfg.action_args.clone(),
            policy,
            warnings,
        })
    }

    /// The actions, in run order (for drivers that time each one).
    pub fn actions(&self) -> &[Box<dyn Action>] {
        &self.actions
    }

    /// Names of the actions, in run order.
    pub fn action_names(&self) -> Vec<&'static str> {
        self.actions.iter().map(|a| a.name()).collect()
    }

    /// Opens a session on `snap` with fresh plugin instances.
    pub fn open(&self, snap: Snapshot) -> Session {
        let mut set = PluginSet::default();
        for slot in &self.plugins {
            set.push((slot.factory)(), slot.tier, slot.disabled);
        }
        let mut ssn = Session::open(snap, set, self.action_args.clone());
        ssn.policy = self.policy.clone();
        ssn
    }

    /// How this pipeline starts jobs.
    pub fn policy(&self) -> &StartPolicy {
        &self.policy
    }

    /// Runs one whole cycle.
    pub fn run(&self, snap: Snapshot) -> (Snapshot, Outcome) {
        let mut ssn = self.open(snap);
        for a in &self.actions {
            a.execute(&mut ssn);
        }
        ssn.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<Pipeline, ConfigError> {
        Pipeline::from_config(&SchedulerConfig::parse(yaml)?)
    }

    fn policy(yaml: &str) -> StartPolicy {
        match load(yaml) {
            Ok(p) => p.policy().clone(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn start_policy_arguments_are_read_and_checked() {
        let p = policy(
            "actions: \"allocate, backfill\"\nconfigurations:\n- name: allocate\n  arguments: {default-expected-runtime: 2h, estimate-depth: 5, estimate-interval: 30s}\n- name: backfill\n  arguments: {mode: conservative, reservation-depth: 3, starvation-threshold: 6h}\n",
        );
        assert!(p.strict_order, "reservations imply queue order");
        assert_eq!(p.reservations, Reservations::Conservative(3));
        assert_eq!(p.default_runtime, Some(7_200_000));
        assert_eq!(p.estimate_depth, 5);
        assert_eq!(p.estimate_interval, 30_000);
        assert_eq!(p.starvation_threshold, Some(6 * 3_600_000));
        let p = policy(
            "actions: allocate\nconfigurations:\n- name: allocate\n  arguments: {default-expected-runtime: none}\n",
        );
        assert_eq!(p.default_runtime, None);
        let p = policy("actions: allocate\nconfigurations:\n- name: backfill\n  arguments: {mode: easy}\n");
        assert_eq!(
            p.reservations,
            Reservations::None,
            "arguments of an action that is not listed are ignored"
        );
        for bad in [
            "actions: backfill\nconfigurations:\n- name: backfill\n  arguments: {mode: sometimes}\n",
            "actions: backfill\nconfigurations:\n- name: backfill\n  arguments: {mode: conservative, reservation-depth: 0}\n",
            "actions: \"allocate, backfill\"\nconfigurations:\n- name: allocate\n  arguments: {strict-order: false}\n- name: backfill\n  arguments: {mode: easy}\n",
            "actions: allocate\nconfigurations:\n- name: allocate\n  arguments: {default-expected-runtime: soon}\n",
            "actions: allocate\nconfigurations:\n- name: allocate\n  arguments: {estimate-depth: -1}\n",
            "actions: allocate\nconfigurations:\n- name: allocate\n  arguments: {estimate-interval: -1s}\n",
            "actions: backfill\nconfigurations:\n- name: backfill\n  arguments: {starvation-threshold: 0s}\n",
            "actions: preempt\nconfigurations:\n- name: preempt\n  arguments: {cooldown: -5m}\n",
        ] {
            assert!(load(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_action_arguments_are_reported_once() {
        let p = load(
            "actions: \"allocate, preempt\"\nconfigurations:\n- name: preempt\n  arguments: {enableTopologyAwarePreemption: true}\n",
        )
        .expect("loads");
        let warnings: Vec<(&str, String)> = p.warnings.iter().map(|w| (w.kind, w.message.clone())).collect();
        assert_eq!(
            warnings,
            [(
                "unknown_argument",
                "configurations: argument \"enableTopologyAwarePreemption\" of action \"preempt\" is not used by Caldera; ignored"
                    .to_string()
            )]
        );
        assert_eq!(p.action_names(), ["allocate", "preempt"]);
    }

    #[test]
    fn only_preempt_and_reclaim_evict() {
        let p = load("actions: \"enqueue, allocate, preempt, reclaim, backfill\"\n").expect("loads");
        let evicting: Vec<&str> = p.actions().iter().filter(|a| a.evicts()).map(|a| a.name()).collect();
        assert_eq!(evicting, ["preempt", "reclaim"]);
    }
}

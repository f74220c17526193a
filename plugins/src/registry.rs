//! Builds the cycle pipeline from a configuration: which actions run in which order, and which
//! plugins in which tiers with which switches and arguments. Arguments are parsed once here, so a
//! bad configuration is rejected when it is loaded, never in the middle of a cycle.

use std::collections::BTreeMap;

use caldera_framework::config::PluginConfig;
use caldera_framework::{
    Action, Arguments, ConfigError, ConfigWarning, Hooks, Outcome, Plugin, PluginSet, SchedulerConfig, Session,
    Snapshot,
};

use crate::actions::{allocate, backfill, enqueue};
use crate::{
    binpack, capacity, drf, gang, gpupack, nodeorder, overcommit, predicates, priority, proportion, sla, task_topology,
};

/// Caldera's default configuration (Volcano's default pipeline plus GPU-aware packing).
pub const DEFAULT_CONFIG: &str = include_str!("default-config.yaml");

/// Volcano actions this version does not run yet; naming them is accepted with a warning.
const NOT_YET: &[&str] = &["preempt", "reclaim", "shuffle", "gangpreempt", "gangreclaim", "reserve"];
/// Volcano plugins this version does not have; naming them is accepted with a warning. Why each
/// is missing is in docs/volcano-compatibility.md.
const KNOWN_ELSEWHERE: &[&str] = &[
    "conformance",
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
    /// What was accepted but ignored (unknown plugins and arguments, actions not available yet).
    pub warnings: Vec<ConfigWarning>,
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
            for key in args.keys() {
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
                other if NOT_YET.contains(&other) => warnings.push(ConfigWarning::new(
                    "unavailable_action",
                    format!("action {other:?} is not available in this version of Caldera; skipped"),
                )),
                other => return Err(ConfigError::Invalid(format!("unknown action {other:?}"))),
            }
        }
        Ok(Pipeline {
            actions,
            plugins,
            action_args: cfg.action_args.clone(),
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
        Session::open(snap, set, self.action_args.clone())
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

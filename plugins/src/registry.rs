//! Builds the cycle pipeline from a configuration: which actions run in which order, and which
//! plugins in which tiers with which switches and arguments. Arguments are parsed once here, so a
//! bad configuration is rejected when it is loaded, never in the middle of a cycle.

use std::collections::BTreeMap;

use caldera_framework::{
    Action, Arguments, ConfigError, Hooks, Outcome, Plugin, PluginSet, SchedulerConfig, Session, Snapshot,
};

use crate::actions::{allocate, backfill, enqueue};
use crate::{binpack, drf, gang, gpupack, overcommit, predicates, priority, proportion};

/// Caldera's default configuration (Volcano's default pipeline plus GPU-aware packing).
pub const DEFAULT_CONFIG: &str = include_str!("default-config.yaml");

/// Volcano actions this version does not run yet; naming them is accepted with a warning.
const NOT_YET: &[&str] = &["preempt", "reclaim", "shuffle", "gangpreempt", "gangreclaim"];
/// Volcano plugins this version does not have; naming them is accepted with a warning.
const KNOWN_ELSEWHERE: &[&str] = &[
    "conformance",
    "nodeorder",
    "capacity",
    "sla",
    "task-topology",
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
    /// What was accepted but ignored (unknown plugins, actions not available yet).
    pub warnings: Vec<String>,
}

fn factory(name: &str, args: &Arguments) -> Result<Option<Factory>, ConfigError> {
    let f: Factory = match name {
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
            let p = predicates::Predicates::new(args)?;
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
                "plugins proportion and capacity cannot be enabled together".into(),
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
        let mut plugins = Vec::new();
        for (tier, t) in cfg.tiers.iter().enumerate() {
            for p in &t.plugins {
                match factory(&p.name, &p.arguments)? {
                    Some(factory) => plugins.push(PluginSlot {
                        tier,
                        disabled: p.disabled,
                        factory,
                    }),
                    None if KNOWN_ELSEWHERE.contains(&p.name.as_str()) => warnings.push(format!(
                        "plugin {:?} is not available in this version of Caldera; ignored",
                        p.name
                    )),
                    None => warnings.push(format!("unknown plugin {:?} ignored", p.name)),
                }
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
                other if NOT_YET.contains(&other) => warnings.push(format!(
                    "action {other:?} is not available in this version of Caldera; skipped"
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

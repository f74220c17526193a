//! The scheduler configuration, in the format of Volcano's `volcano-scheduler.conf`, so a Volcano
//! user's ConfigMap loads unchanged:
//!
//! ```yaml
//! actions: "enqueue, allocate, backfill"
//! tiers:
//! - plugins:
//!   - name: priority
//!   - name: gang
//!     enablePreemptable: false
//! - plugins:
//!   - name: binpack
//!     arguments: { binpack.weight: 10, binpack.resources: nvidia.com/gpu }
//! configurations:
//! - name: enqueue
//!   arguments: { overcommit-factor: 1.5 }
//! ```
//! Parsing is purely syntactic; which actions and plugins exist is checked by the registry that
//! builds the pipeline from it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::duration::parse_duration;
use crate::model::Millis;
use crate::plugin::{Hooks, SWITCHES};

/// Volcano's per-plugin switches for extension points Caldera has no plugin voting at (best
/// node, target job, reserved nodes, victim tasks, HyperNodes, sub-jobs), plus `enableHierarchy`,
/// which `capacity` and `drf` read: accepted and recorded; switching them off changes nothing
/// because nothing votes there.
pub const OTHER_SWITCHES: &[&str] = &[
    "enableHierarchy",
    "enableNamespaceOrder",
    "enableClusterOrder",
    "EnabledClusterOrder",
    "enableBestNode",
    "enableTargetJob",
    "enableReservedNodes",
    "enabledVictim",
    "enabledHyperNodeOrder",
    "enabledHyperNodeGradient",
    "enabledSubJobReady",
    "enabledSubJobPipelined",
    "enabledSubJobOrder",
];

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not YAML of the expected shape.
    #[error("scheduler configuration is not valid YAML of the expected shape: {0}")]
    Syntax(#[from] serde_yaml_ng::Error),
    /// Valid YAML, invalid meaning.
    #[error("scheduler configuration is invalid: {0}")]
    Invalid(String),
}

/// Something in a configuration that was accepted but is ignored: reported once when the file is
/// loaded (log line and the `caldera_config_warnings_total{kind}` metric), never fatal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Metric label: `unknown_key`, `unknown_plugin`, `unavailable_plugin`, `unknown_argument`,
    /// `unavailable_action`.
    pub kind: &'static str,
    /// What was ignored and why.
    pub message: String,
}

impl ConfigWarning {
    /// A warning of `kind`.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ConfigWarning {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Free-form arguments of a plugin or action, read with typed getters that accept Volcano's habit
/// of writing numbers and booleans as strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Arguments(pub BTreeMap<String, Value>);

impl Arguments {
    /// The argument names.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    fn raw(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer argument; `Err` names the key when present but not an integer.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        self.raw_or_err(key, |s| s.parse::<i64>().ok(), "an integer")
    }

    /// A number argument.
    pub fn float(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.raw_or_err(key, |s| s.parse::<f64>().ok().filter(|f| f.is_finite()), "a number")
    }

    /// A boolean argument.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.raw_or_err(key, |s| s.parse::<bool>().ok(), "true or false")
    }

    /// A string argument.
    pub fn string(&self, key: &str) -> Option<String> {
        self.raw(key)
    }

    /// A duration argument ("10m", "1h").
    pub fn duration(&self, key: &str) -> Result<Option<Millis>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(s) => parse_duration(&s)
                .map(Some)
                .map_err(|e| ConfigError::Invalid(format!("argument {key}: {e}"))),
        }
    }

    fn raw_or_err<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Option<T>,
        what: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(_) => match self.raw(key).as_deref().and_then(parse) {
                Some(v) => Ok(Some(v)),
                None => Err(ConfigError::Invalid(format!(
                    "argument {key} must be {what}, got {:?}",
                    self.0.get(key)
                ))),
            },
        }
    }
}

/// One plugin entry of a tier.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginConfig {
    /// Plugin name.
    pub name: String,
    /// Extension points switched off by `enable*: false`.
    pub disabled: Hooks,
    /// `arguments:`.
    pub arguments: Arguments,
    /// Other `enable…` keys: accepted for Volcano compatibility, recorded as given.
    pub other_switches: BTreeMap<String, bool>,
}

/// A tier: plugins whose decisions rank equally.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TierConfig {
    /// Plugins in order.
    pub plugins: Vec<PluginConfig>,
}

/// A parsed configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchedulerConfig {
    /// Actions in run order.
    pub actions: Vec<String>,
    /// Tiers in order.
    pub tiers: Vec<TierConfig>,
    /// Per-action arguments.
    pub action_args: BTreeMap<String, Arguments>,
    /// Things that were accepted but ignored, for the caller to report once.
    pub warnings: Vec<ConfigWarning>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    actions: Option<String>,
    #[serde(default)]
    tiers: Vec<RawTier>,
    #[serde(default)]
    configurations: Vec<RawAction>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct RawTier {
    #[serde(default)]
    plugins: Vec<RawPlugin>,
}

#[derive(Deserialize)]
struct RawPlugin {
    name: String,
    #[serde(default)]
    arguments: Option<BTreeMap<String, Value>>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct RawAction {
    name: String,
    #[serde(default)]
    arguments: Option<BTreeMap<String, Value>>,
}

impl SchedulerConfig {
    /// Parses the YAML text of a configuration.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_yaml_ng::from_str(text)?;
        let mut warnings = Vec::new();
        let actions: Vec<String> = raw
            .actions
            .unwrap_or_default()
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if actions.is_empty() {
            return Err(ConfigError::Invalid("`actions` lists no action".into()));
        }
        for key in raw.rest.keys() {
            if key != "metrics" {
                warnings.push(ConfigWarning::new(
                    "unknown_key",
                    format!("unknown top-level key {key:?} ignored"),
                ));
            }
        }
        let mut tiers = Vec::new();
        for (ti, tier) in raw.tiers.into_iter().enumerate() {
            let mut plugins = Vec::new();
            for p in tier.plugins {
                let mut disabled = Hooks::NONE;
                let mut other_switches = BTreeMap::new();
                for (key, value) in p.rest {
                    let Some(on) = value.as_bool() else {
                        return Err(ConfigError::Invalid(format!(
                            "tier {}: plugin {}: {key} must be true or false",
                            ti + 1,
                            p.name
                        )));
                    };
                    match SWITCHES.iter().find(|(name, _)| *name == key) {
                        Some((_, hook)) if !on => disabled = disabled.with(*hook),
                        Some(_) => {}
                        None if OTHER_SWITCHES.contains(&key.as_str()) => {
                            other_switches.insert(key, on);
                        }
                        None if key.starts_with("enable") => {
                            warnings.push(ConfigWarning::new(
                                "unknown_key",
                                format!("plugin {}: unknown switch {key:?} ignored", p.name),
                            ));
                            other_switches.insert(key, on);
                        }
                        None => warnings.push(ConfigWarning::new(
                            "unknown_key",
                            format!("plugin {}: unknown key {key:?} ignored", p.name),
                        )),
                    }
                }
                plugins.push(PluginConfig {
                    name: p.name.trim().to_string(),
                    disabled,
                    arguments: Arguments(p.arguments.unwrap_or_default()),
                    other_switches,
                });
            }
            tiers.push(TierConfig { plugins });
        }
        let action_args = raw
            .configurations
            .into_iter()
            .map(|a| (a.name.trim().to_string(), Arguments(a.arguments.unwrap_or_default())))
            .collect();
        Ok(SchedulerConfig {
            actions,
            tiers,
            action_args,
            warnings,
        })
    }

    /// Names of all configured plugins, in order.
    pub fn plugin_names(&self) -> impl Iterator<Item = &str> {
        self.tiers
            .iter()
            .flat_map(|t| t.plugins.iter().map(|p| p.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOLCANO_HELM_DEFAULT: &str = r#"
actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
    enablePreemptable: false
  - name: conformance
- plugins:
  - name: overcommit
  - name: drf
    enablePreemptable: false
  - name: predicates
  - name: proportion
  - name: nodeorder
  - name: binpack
    arguments:
      binpack.weight: 10
      binpack.resources: "nvidia.com/gpu"
      binpack.resources.nvidia.com/gpu: "2"
configurations:
- name: enqueue
  arguments:
    overcommit-factor: 1.5
"#;

    #[test]
    fn parses_volcano_helm_default() {
        let c = SchedulerConfig::parse(VOLCANO_HELM_DEFAULT).expect("parses");
        assert_eq!(c.actions, ["enqueue", "allocate", "backfill"]);
        assert_eq!(c.tiers.len(), 2);
        let gang = &c.tiers[0].plugins[1];
        assert_eq!(gang.name, "gang");
        assert!(gang.disabled.has(Hooks::PREEMPTABLE));
        assert!(!gang.disabled.has(Hooks::JOB_READY));
        let binpack = &c.tiers[1].plugins[5];
        assert_eq!(binpack.arguments.int("binpack.weight").ok().flatten(), Some(10));
        assert_eq!(
            binpack.arguments.int("binpack.resources.nvidia.com/gpu").ok().flatten(),
            Some(2)
        );
        assert_eq!(
            c.action_args["enqueue"].float("overcommit-factor").ok().flatten(),
            Some(1.5)
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn rejects_bad_shapes_with_a_clear_error() {
        assert!(SchedulerConfig::parse("actions: \"\"").is_err());
        assert!(SchedulerConfig::parse("tiers: [").is_err());
        let e = SchedulerConfig::parse(
            "actions: allocate\ntiers:\n- plugins:\n  - name: gang\n    enableJobReady: maybe\n",
        )
        .expect_err("non-boolean switch");
        assert!(e.to_string().contains("enableJobReady"), "{e}");
    }

    #[test]
    fn typed_arguments_report_the_key() {
        let c = SchedulerConfig::parse(
            "actions: allocate\ntiers:\n- plugins:\n  - name: binpack\n    arguments: {binpack.weight: heavy}\n",
        )
        .expect("parses");
        let e = c.tiers[0].plugins[0]
            .arguments
            .int("binpack.weight")
            .expect_err("not an int");
        assert!(e.to_string().contains("binpack.weight"));
    }
}

//! Reading a scenario: ordinary multi-document Kubernetes YAML (Node, Pod, PodGroup of all three
//! gang APIs, Queue, PriorityClass), from files or directories.
//!
//! Loading never stops at a bad object: each problem becomes a [`Diagnostic`] naming the file, the
//! document's index in it and what is wrong, and the rest of the scenario still runs.

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde::Deserialize;
use serde_yaml_ng::Value;

use caldera_crds::{coscheduling, native, volcano};

/// Where an object came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// File name (or `<built-in>`).
    pub file: String,
    /// 0-based index of the YAML document in the file.
    pub doc: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}", self.file, self.doc)
    }
}

/// A problem found in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where.
    pub origin: Origin,
    /// `true` for an object that was skipped or is broken; `false` for a notice (unknown kind).
    pub error: bool,
    /// What.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.error { "error" } else { "warning" };
        write!(f, "{level}: {}: {}", self.origin, self.message)
    }
}

/// Objects read from the input, each with its origin.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    /// Nodes.
    pub nodes: Vec<(Origin, Node)>,
    /// Pods.
    pub pods: Vec<(Origin, Pod)>,
    /// Volcano PodGroups.
    pub volcano_groups: Vec<(Origin, volcano::PodGroup)>,
    /// scheduler-plugins PodGroups.
    pub coscheduling_groups: Vec<(Origin, coscheduling::PodGroup)>,
    /// Kubernetes-native PodGroups.
    pub native_groups: Vec<(Origin, native::PodGroup)>,
    /// Volcano Queues.
    pub queues: Vec<(Origin, volcano::Queue)>,
    /// PriorityClasses.
    pub priority_classes: Vec<(Origin, PriorityClass)>,
    /// Problems found while reading.
    pub diagnostics: Vec<Diagnostic>,
}

impl Scenario {
    /// Number of objects loaded.
    pub fn object_count(&self) -> usize {
        self.nodes.len()
            + self.pods.len()
            + self.volcano_groups.len()
            + self.coscheduling_groups.len()
            + self.native_groups.len()
            + self.queues.len()
            + self.priority_classes.len()
    }

    /// Loads every path; a directory contributes its `*.yaml`/`*.yml` files in name order.
    pub fn load_paths(paths: &[PathBuf]) -> Scenario {
        let mut s = Scenario::default();
        for p in paths {
            for file in expand(p, &mut s) {
                match std::fs::read_to_string(&file) {
                    Ok(text) => s.add_yaml(&file.display().to_string(), &text),
                    Err(e) => s.diagnostics.push(Diagnostic {
                        origin: Origin {
                            file: file.display().to_string(),
                            doc: 0,
                        },
                        error: true,
                        message: format!("cannot read file: {e}"),
                    }),
                }
            }
        }
        s
    }

    /// Adds every document of `text`.
    pub fn add_yaml(&mut self, file: &str, text: &str) {
        for (doc, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let origin = Origin {
                file: file.to_string(),
                doc,
            };
            match Value::deserialize(de) {
                Ok(Value::Null) => {}
                Ok(v) => self.add_value(origin, v),
                Err(e) => {
                    self.diagnostics.push(Diagnostic {
                        origin,
                        error: true,
                        message: format!("not valid YAML: {e}"),
                    });
                    // The YAML stream cannot be resynchronised after a syntax error.
                    break;
                }
            }
        }
    }

    fn add_value(&mut self, origin: Origin, v: Value) {
        let api = v
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        match (api.as_str(), kind.as_str()) {
            (_, "List") => {
                if let Some(Value::Sequence(items)) = v.get("items") {
                    for item in items.clone() {
                        self.add_value(origin.clone(), item);
                    }
                }
            }
            ("v1", "Node") => self.typed(origin, v, |s| &mut s.nodes),
            ("v1", "Pod") => self.typed(origin, v, |s| &mut s.pods),
            ("scheduling.volcano.sh/v1beta1", "PodGroup") => self.typed(origin, v, |s| &mut s.volcano_groups),
            ("scheduling.volcano.sh/v1beta1", "Queue") => self.typed(origin, v, |s| &mut s.queues),
            ("scheduling.x-k8s.io/v1alpha1", "PodGroup") => self.typed(origin, v, |s| &mut s.coscheduling_groups),
            ("scheduling.k8s.io/v1beta1", "PodGroup") => self.typed(origin, v, |s| &mut s.native_groups),
            ("scheduling.k8s.io/v1" | "scheduling.k8s.io/v1beta1", "PriorityClass") => {
                self.typed(origin, v, |s| &mut s.priority_classes)
            }
            ("", _) | (_, "") => self.diagnostics.push(Diagnostic {
                origin,
                error: true,
                message: "document has no apiVersion or kind; skipped".into(),
            }),
            (api, kind) => self.diagnostics.push(Diagnostic {
                origin,
                error: false,
                message: format!("kind {kind} ({api}) is not simulated; skipped"),
            }),
        }
    }

    fn typed<T: for<'de> Deserialize<'de>>(
        &mut self,
        origin: Origin,
        v: Value,
        list: impl FnOnce(&mut Scenario) -> &mut Vec<(Origin, T)>,
    ) {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        let name = v
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_string();
        match serde_yaml_ng::from_value::<T>(v) {
            Ok(obj) => list(self).push((origin, obj)),
            Err(e) => self.diagnostics.push(Diagnostic {
                origin,
                error: true,
                message: format!("{kind} {name}: {e}; skipped"),
            }),
        }
    }
}

fn expand(p: &Path, s: &mut Scenario) -> Vec<PathBuf> {
    if p.is_dir() {
        match std::fs::read_dir(p) {
            Ok(rd) => {
                let mut files: Vec<PathBuf> = rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                    .collect();
                files.sort();
                files
            }
            Err(e) => {
                s.diagnostics.push(Diagnostic {
                    origin: Origin {
                        file: p.display().to_string(),
                        doc: 0,
                    },
                    error: true,
                    message: format!("cannot read directory: {e}"),
                });
                Vec::new()
            }
        }
    } else {
        vec![p.to_path_buf()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kinds_and_reports_problems_with_their_place() {
        let mut s = Scenario::default();
        s.add_yaml(
            "a.yaml",
            "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 5}\n---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata: {name: q}\nspec: {weight: 2}\n",
        );
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.queues.len(), 1);
        assert_eq!(s.diagnostics.len(), 3, "{:?}", s.diagnostics);
        assert!(!s.diagnostics[0].error && s.diagnostics[0].origin.doc == 1);
        assert!(s.diagnostics[1].error && s.diagnostics[1].origin.doc == 2);
        assert!(s.diagnostics[2].message.contains("Pod p"), "{}", s.diagnostics[2]);
    }
}

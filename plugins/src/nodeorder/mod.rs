//! `nodeorder`: Volcano's weighted node scores, each kube-scheduler's score plugin in whole points
//! 0–100 times its weight, summed:
//!
//! | argument | default | score |
//! |---|---|---|
//! | `leastrequested.weight` | 1 | free cpu and memory after placement (spreads) |
//! | `mostrequested.weight` | 0 | used cpu and memory after placement (packs) |
//! | `balancedresource.weight` | 1 | cpu, memory (and GPU) equally used |
//! | `nodeaffinity.weight` | 2 | Σ weights of matching preferred node-affinity terms (not normalised, as in Volcano) |
//! | `podaffinity.weight` | 2 | preferred pod (anti-)affinity of the pod, min–max normalised |
//! | `tainttoleration.weight` | 3 | PreferNoSchedule taints the pod does not tolerate, reverse-normalised |
//! | `podtopologyspread.weight` | 2 | `ScheduleAnyway` topology spread, normalised |
//! | `imagelocality.weight` | 1 | sizes of the pod's images already on the node |
//!
//! Defaults and formulas read from Volcano's `pkg/scheduler/plugins/nodeorder/nodeorder.go`
//! (calculateWeight, OnSessionOpen) and kube-scheduler's plugins it calls. Differences
//! (docs/volcano-compatibility.md): normalisation runs over all ready nodes instead of the
//! nodes that passed the filters; a pod without a cpu or memory request counts kube-scheduler's
//! defaults (100m, 200 MiB) for the whole pod, and pods already on a node count their real
//! requests; preferred pod affinity scores only the incoming pod's own terms (not the symmetric
//! terms of pods already placed); the system-default spread constraints (for pods of Services and
//! ReplicaSets) are not applied.

mod cross;
pub mod scores;

use caldera_framework::plugin::SCORE_SCALE;
use caldera_framework::{Arguments, ConfigError, Hooks, NodeId, Plugin, Reason, Snapshot, SpreadMode, TaskId};

use crate::predicates::taints::intolerable_prefer_no_schedule;

/// Configuration name.
pub const NAME: &str = "nodeorder";

/// The arguments this plugin reads, with Volcano's defaults.
const WEIGHTS: &[(&str, i64)] = &[
    ("leastrequested.weight", 1),
    ("mostrequested.weight", 0),
    ("balancedresource.weight", 1),
    ("nodeaffinity.weight", 2),
    ("podaffinity.weight", 2),
    ("tainttoleration.weight", 3),
    ("podtopologyspread.weight", 2),
    ("imagelocality.weight", 1),
];

/// The argument names.
pub const ARGUMENTS: &[&str] = &[
    "leastrequested.weight",
    "mostrequested.weight",
    "balancedresource.weight",
    "nodeaffinity.weight",
    "podaffinity.weight",
    "tainttoleration.weight",
    "podtopologyspread.weight",
    "imagelocality.weight",
];

/// The configured weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Weights {
    /// `leastrequested.weight`.
    pub least: i64,
    /// `mostrequested.weight`.
    pub most: i64,
    /// `balancedresource.weight`.
    pub balanced: i64,
    /// `nodeaffinity.weight`.
    pub node_affinity: i64,
    /// `podaffinity.weight`.
    pub pod_affinity: i64,
    /// `tainttoleration.weight`.
    pub taint: i64,
    /// `podtopologyspread.weight`.
    pub spread: i64,
    /// `imagelocality.weight`.
    pub image: i64,
}

/// Scores computed for one task over all nodes (cross-node scores), by node index.
#[derive(Clone, Debug)]
struct PerTask {
    task: TaskId,
    pod_affinity: Vec<i64>,
    spread: Vec<i64>,
}

/// The nodeorder plugin.
#[derive(Clone, Debug)]
pub struct NodeOrder {
    weights: Weights,
    gpu: Option<caldera_framework::ResourceId>,
    /// Nodes carrying a PreferNoSchedule taint (only they can raise the taint maximum).
    soft_tainted: Vec<NodeId>,
    /// Largest untolerated PreferNoSchedule count per class, filled by `pre_predicate`.
    taint_max: Vec<Option<i64>>,
    /// Image name → nodes that have it; and the number of nodes.
    image_nodes: std::collections::BTreeMap<String, i64>,
    node_count: i64,
    per_task: Vec<Option<PerTask>>,
}

impl NodeOrder {
    /// Reads the eight weights (Volcano's defaults; negative weights are refused).
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        let mut w = [0i64; 8];
        for (i, (key, default)) in WEIGHTS.iter().enumerate() {
            let v = args.int(key)?.unwrap_or(*default);
            if v < 0 {
                return Err(ConfigError::Invalid(format!(
                    "argument {key} must not be negative, got {v}"
                )));
            }
            w[i] = v;
        }
        Ok(NodeOrder {
            weights: Weights {
                least: w[0],
                most: w[1],
                balanced: w[2],
                node_affinity: w[3],
                pod_affinity: w[4],
                taint: w[5],
                spread: w[6],
                image: w[7],
            },
            gpu: None,
            soft_tainted: Vec::new(),
            taint_max: Vec::new(),
            image_nodes: Default::default(),
            node_count: 0,
            per_task: Vec::new(),
        })
    }

    /// The configured weights.
    pub fn weights(&self) -> Weights {
        self.weights
    }

    fn taint_max_for(&self, s: &Snapshot, task: TaskId) -> i64 {
        let spec = &s.task(task).spec;
        self.soft_tainted
            .iter()
            .map(|n| intolerable_prefer_no_schedule(spec, s.node(*n)))
            .max()
            .unwrap_or(0)
    }

    fn cross(&self, s: &Snapshot, task: TaskId) -> bool {
        let spec = &s.task(task).spec;
        (self.weights.pod_affinity > 0
            && (!spec.preferred_pod_affinity.is_empty() || !spec.preferred_pod_anti_affinity.is_empty()))
            || (self.weights.spread > 0
                && spec
                    .topology_spread
                    .iter()
                    .any(|c| c.mode == SpreadMode::ScheduleAnyway))
    }
}

impl Plugin for NodeOrder {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::NODE_ORDER
    }

    fn open(&mut self, s: &Snapshot) {
        self.gpu = s.resources.get("nvidia.com/gpu");
        self.soft_tainted = s
            .node_ids()
            .filter(|n| {
                let node = s.node(*n);
                node.ready
                    && node
                        .taints
                        .iter()
                        .any(|t| t.effect == caldera_framework::TaintEffect::PreferNoSchedule)
            })
            .collect();
        self.taint_max = vec![None; s.classes.len()];
        self.per_task = vec![None; s.classes.len()];
        self.image_nodes.clear();
        self.node_count = 0;
        if self.weights.image > 0 {
            for n in s.nodes.iter().filter(|n| n.ready) {
                self.node_count += 1;
                for (name, _) in n.images.iter() {
                    *self.image_nodes.entry(name.clone()).or_insert(0) += 1;
                }
            }
        }
    }

    fn pre_predicate(&mut self, s: &Snapshot, task: TaskId) -> Result<(), Reason> {
        let class = s.task(task).class.idx();
        if self.taint_max.len() <= class {
            self.taint_max.resize(class + 1, None);
            self.per_task.resize(class + 1, None);
        }
        if self.weights.taint > 0 {
            self.taint_max[class] = Some(self.taint_max_for(s, task));
        }
        if self.cross(s, task) {
            let spec = &s.task(task).spec;
            let has_preferred = !spec.preferred_pod_affinity.is_empty() || !spec.preferred_pod_anti_affinity.is_empty();
            let has_soft = spec
                .topology_spread
                .iter()
                .any(|c| c.mode == SpreadMode::ScheduleAnyway);
            self.per_task[class] = Some(PerTask {
                task,
                pod_affinity: if has_preferred && self.weights.pod_affinity > 0 {
                    cross::pod_affinity(s, task)
                } else {
                    Vec::new()
                },
                spread: if has_soft && self.weights.spread > 0 {
                    cross::topology_spread(s, task)
                } else {
                    Vec::new()
                },
            });
        }
        Ok(())
    }

    fn node_score(&self, s: &Snapshot, task: TaskId, n: NodeId) -> i64 {
        let w = &self.weights;
        let t = s.task(task);
        let spec = &*t.spec;
        let node = s.node(n);
        let mut points = 0i64;
        if w.least > 0 {
            points += w.least * scores::least_requested(spec, node);
        }
        if w.most > 0 {
            points += w.most * scores::most_requested(spec, node);
        }
        if w.balanced > 0 {
            points += w.balanced * scores::balanced(spec, node, self.gpu);
        }
        if w.node_affinity > 0 && !spec.node_affinity.preferred.is_empty() {
            points += w.node_affinity * scores::node_affinity(spec, node);
        }
        if w.image > 0 && !spec.images.is_empty() {
            let spread = |image: &str| (self.image_nodes.get(image).copied().unwrap_or(0), self.node_count);
            points += w.image * scores::image_locality(&spec.images, node, spread);
        }
        if w.taint > 0 {
            let max = match self.taint_max.get(t.class.idx()).copied().flatten() {
                Some(m) => m,
                None => self.taint_max_for(s, task),
            };
            points += w.taint * scores::taint_toleration(intolerable_prefer_no_schedule(spec, node), max);
        }
        if self.cross(s, task) {
            let fresh;
            let per = match self.per_task.get(t.class.idx()).and_then(Option::as_ref) {
                Some(p) if p.task == task => p,
                _ => {
                    fresh = PerTask {
                        task,
                        pod_affinity: cross::pod_affinity(s, task),
                        spread: cross::topology_spread(s, task),
                    };
                    &fresh
                }
            };
            points += w.pod_affinity * per.pod_affinity.get(n.idx()).copied().unwrap_or(0);
            points += w.spread * per.spread.get(n.idx()).copied().unwrap_or(0);
        }
        points.saturating_mul(SCORE_SCALE)
    }
}

#[cfg(test)]
mod tests;

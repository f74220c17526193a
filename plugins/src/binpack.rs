//! `binpack`: prefers nodes that will be fuller after placement, exactly as Volcano scores it:
//! per requested resource r with weight w_r, `w_r × (used_r + req_r) / allocatable_r`, summed and
//! divided by Σw_r, times 100 × `binpack.weight`. Only cpu and memory are weighted unless
//! `binpack.resources` lists more (so GPUs count only when listed, as in Volcano).

use std::collections::BTreeMap;

use caldera_framework::plugin::MAX_NODE_SCORE;
use caldera_framework::{Arguments, ConfigError, Hooks, NodeId, Plugin, ResourceId, Snapshot, TaskId};

/// Configuration name.
pub const NAME: &str = "binpack";

/// The binpack plugin.
#[derive(Clone, Debug)]
pub struct Binpack {
    weight: i64,
    by_name: BTreeMap<String, i64>,
    by_id: Vec<(ResourceId, i64)>,
}

impl Binpack {
    /// Reads `binpack.weight`, `binpack.cpu`, `binpack.memory`, `binpack.resources` and
    /// `binpack.resources.<name>`.
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        let weight = args.int("binpack.weight")?.unwrap_or(1);
        // As Volcano's calculateWeight (pkg/scheduler/plugins/binpack/binpack.go): a negative
        // resource weight falls back to 1.
        let resource_weight =
            |key: &str| -> Result<i64, ConfigError> { Ok(args.int(key)?.map_or(1, |w| if w < 0 { 1 } else { w })) };
        let mut by_name = BTreeMap::new();
        by_name.insert("cpu".to_string(), resource_weight("binpack.cpu")?);
        by_name.insert("memory".to_string(), resource_weight("binpack.memory")?);
        if let Some(list) = args.string("binpack.resources") {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                by_name.insert(name.to_string(), resource_weight(&format!("binpack.resources.{name}"))?);
            }
        }
        if weight < 0 {
            return Err(ConfigError::Invalid("binpack.weight must not be negative".into()));
        }
        Ok(Binpack {
            weight,
            by_name,
            by_id: Vec::new(),
        })
    }
}

impl Plugin for Binpack {
    fn name(&self) -> &'static str {
        NAME
    }
    fn hooks(&self) -> Hooks {
        Hooks::NODE_ORDER
    }
    fn open(&mut self, s: &Snapshot) {
        self.by_id = self
            .by_name
            .iter()
            .filter(|(_, w)| **w > 0)
            .filter_map(|(name, w)| s.resources.get(name).map(|id| (id, *w)))
            .collect();
    }
    fn node_score(&self, s: &Snapshot, t: TaskId, n: NodeId) -> i64 {
        if self.weight == 0 {
            return 0;
        }
        let req = &s.task(t).spec.request;
        let node = s.node(n);
        let (mut sum, mut weights) = (0i128, 0i128);
        for &(id, w) in &self.by_id {
            let r = req.get(id);
            if r <= 0 {
                continue;
            }
            let alloc = node.allocatable.get(id);
            let after = node.used.get(id).saturating_add(r);
            weights += i128::from(w);
            if alloc <= 0 || after > alloc {
                continue;
            }
            sum += i128::from(w) * i128::from(after) * i128::from(MAX_NODE_SCORE) / i128::from(alloc);
        }
        if weights == 0 {
            return 0;
        }
        i64::try_from(sum / weights).unwrap_or(0).saturating_mul(self.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::config::Arguments;
    use caldera_testkit::ClusterBuilder;

    fn args(pairs: &[(&str, &str)]) -> Arguments {
        Arguments(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), serde_yaml_ng::Value::String(v.to_string())))
                .collect(),
        )
    }

    fn score(plugin: &Binpack, c: &ClusterBuilder, node: &str) -> i64 {
        let s = c.build(0);
        let mut p = plugin.clone();
        p.open(&s);
        let t = caldera_framework::TaskId(0);
        p.node_score(&s, t, s.node_by_name(node).expect("node"))
    }

    #[test]
    fn scores_fullness_after_placement_like_volcano() {
        // The pending pod is task 0 (namespace "a" sorts first).
        let mut c = ClusterBuilder::new();
        c.node("half").cpu(4).mem_gi(8);
        c.node("empty").cpu(4).mem_gi(8);
        c.pod("a", "b", |p| p.cpu(1).mem_gi(2));
        c.bound_pod("x", "a", "half", |p| p.cpu(2).mem_gi(4));
        let b = Binpack::new(&args(&[])).expect("defaults");
        // cpu (2+1)/4 and memory (4+2)/8 → 75 points; on the empty node 25 points.
        assert_eq!(score(&b, &c, "half"), 75 * caldera_framework::plugin::SCORE_SCALE);
        assert_eq!(score(&b, &c, "empty"), 25 * caldera_framework::plugin::SCORE_SCALE);
        let heavy = Binpack::new(&args(&[("binpack.weight", "10")])).expect("weight");
        assert_eq!(score(&heavy, &c, "half"), 750 * caldera_framework::plugin::SCORE_SCALE);
    }

    #[test]
    fn gpus_count_only_when_listed() {
        let mut c = ClusterBuilder::new();
        c.node("g").cpu(8).mem_gi(8).gpus(8);
        c.pod("a", "p", |p| p.cpu(4).mem_gi(4).gpus(8));
        let plain = Binpack::new(&args(&[])).expect("defaults");
        let listed = Binpack::new(&args(&[
            ("binpack.resources", "nvidia.com/gpu"),
            ("binpack.resources.nvidia.com/gpu", "2"),
        ]))
        .expect("gpu listed");
        // cpu 50 and memory 50 → 50; with the GPU (100, weight 2): (50 + 50 + 200) / 4 = 75.
        assert_eq!(score(&plain, &c, "g"), 50 * caldera_framework::plugin::SCORE_SCALE);
        assert_eq!(score(&listed, &c, "g"), 75 * caldera_framework::plugin::SCORE_SCALE);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(Binpack::new(&args(&[("binpack.weight", "heavy")])).is_err());
        assert!(Binpack::new(&args(&[("binpack.weight", "-1")])).is_err());
        let reset = Binpack::new(&args(&[("binpack.cpu", "-1")])).expect("reset to 1, as Volcano");
        assert_eq!(reset.by_name["cpu"], 1);
    }
}

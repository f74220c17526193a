//! `gpupack`: Caldera's GPU- and MIG-aware node order.
//!
//! - GPU work (whole GPUs or MIG slices) goes to the node whose GPUs of that kind are fullest after
//!   placement, so partly used GPU nodes fill up first and whole free nodes stay free for large
//!   gangs. Because a node scores higher as it fills, the pods of one gang land on as few nodes as
//!   possible.
//! - Pods that want no GPU avoid GPU nodes while other nodes fit them.
//!
//! MIG slices are separate resources under NVIDIA's mixed strategy (`nvidia.com/mig-1g.10gb`), so a
//! request only ever matches its exact profile; this plugin ranks, the framework's fit decides.

use caldera_framework::plugin::MAX_NODE_SCORE;
use caldera_framework::{Arguments, ConfigError, Hooks, NodeId, Plugin, ResourceId, Snapshot, TaskId};

/// Configuration name.
pub const NAME: &str = "gpupack";

/// The gpupack plugin.
#[derive(Clone, Debug)]
pub struct GpuPack {
    weight: i64,
    gpu_ids: Vec<ResourceId>,
}

impl GpuPack {
    /// Reads `gpupack.weight` (default 10, so GPU packing outranks the generic scores).
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        let weight = args.int("gpupack.weight")?.unwrap_or(10);
        if weight < 0 {
            return Err(ConfigError::Invalid("gpupack.weight must not be negative".into()));
        }
        Ok(GpuPack {
            weight,
            gpu_ids: Vec::new(),
        })
    }
}

impl Plugin for GpuPack {
    fn name(&self) -> &'static str {
        NAME
    }
    fn hooks(&self) -> Hooks {
        Hooks::NODE_ORDER
    }
    fn open(&mut self, s: &Snapshot) {
        self.gpu_ids = s.resources.ids().filter(|id| s.resources.is_gpu(*id)).collect();
    }
    fn node_score(&self, s: &Snapshot, t: TaskId, n: NodeId) -> i64 {
        if self.weight == 0 || self.gpu_ids.is_empty() {
            return 0;
        }
        let req = &s.task(t).spec.request;
        let node = s.node(n);
        let (mut requested, mut alloc_sum, mut after_sum) = (false, 0i128, 0i128);
        let mut node_has_gpu = false;
        for &id in &self.gpu_ids {
            let alloc = node.allocatable.get(id);
            if alloc > 0 {
                node_has_gpu = true;
            }
            let r = req.get(id);
            if r > 0 {
                requested = true;
                alloc_sum += i128::from(alloc);
                after_sum += i128::from(node.used.get(id).saturating_add(r));
            }
        }
        if !requested {
            return if node_has_gpu { -MAX_NODE_SCORE * self.weight } else { 0 };
        }
        if alloc_sum <= 0 {
            return 0;
        }
        let fullness = i64::try_from(after_sum * i128::from(MAX_NODE_SCORE) / alloc_sum).unwrap_or(0);
        fullness.min(MAX_NODE_SCORE) * self.weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::config::Arguments;
    use caldera_testkit::ClusterBuilder;

    fn scores(c: &ClusterBuilder, task: usize) -> Vec<(String, i64)> {
        let s = c.build(0);
        let mut p = GpuPack::new(&Arguments::default()).expect("defaults");
        p.open(&s);
        let t = caldera_framework::TaskId::from_idx(task);
        s.node_ids()
            .map(|n| (s.node(n).name.clone(), p.node_score(&s, t, n)))
            .collect()
    }

    #[test]
    fn gpu_pods_prefer_the_fullest_gpu_node_and_cpu_pods_avoid_gpu_nodes() {
        let mut c = ClusterBuilder::new();
        c.node("cpu").cpu(32).mem_gi(64);
        c.node("gpu-free").cpu(32).mem_gi(64).gpus(8);
        c.node("gpu-used").cpu(32).mem_gi(64).gpus(8);
        c.pod("a", "gpu-pod", |p| p.cpu(1).gpus(2));
        c.pod("b", "cpu-pod", |p| p.cpu(1));
        c.bound_pod("z", "busy", "gpu-used", |p| p.cpu(1).gpus(4));
        let gpu = scores(&c, 0);
        let by = |v: &[(String, i64)], n: &str| v.iter().find(|(name, _)| name == n).map(|x| x.1).unwrap_or(i64::MIN);
        assert!(by(&gpu, "gpu-used") > by(&gpu, "gpu-free"), "{gpu:?}");
        let cpu = scores(&c, 1);
        assert!(by(&cpu, "cpu") > by(&cpu, "gpu-free"), "{cpu:?}");
        assert_eq!(by(&cpu, "gpu-free"), by(&cpu, "gpu-used"));
    }

    #[test]
    fn mig_requests_are_scored_on_their_own_profile() {
        let mut c = ClusterBuilder::new();
        c.mig_node("mig-a", "1g.10gb", 7);
        c.mig_node("mig-b", "1g.10gb", 7);
        c.pod("a", "slice", |p| p.cpu(1).mig("1g.10gb", 1));
        c.bound_pod("z", "busy", "mig-b", |p| p.cpu(1).mig("1g.10gb", 3));
        let s = scores(&c, 0);
        assert!(s[1].1 > s[0].1, "the partly used MIG node ranks first: {s:?}");
    }
}

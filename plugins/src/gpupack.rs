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

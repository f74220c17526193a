//! Caldera's testkit: ergonomic cluster builders, an independent checker of the scheduling
//! invariants, and proptest strategies for random clusters.
//!
//! ```
//! use caldera_testkit::{ClusterBuilder, invariants};
//! use caldera_plugins::Pipeline;
//!
//! let mut c = ClusterBuilder::new();
//! c.node("n1").cpu(96).mem_gi(512).gpus(8);
//! c.queue("q").weight(3);
//! c.gang("ns", "train", "q", 2, 2, |pod| pod.cpu_m(1000).gpus(4));
//! let before = c.build(0);
//! let pipeline = Pipeline::default_pipeline().expect("the default configuration loads");
//! let (after, outcome) = pipeline.run(before.clone());
//! invariants::check(&before, &after, &outcome).expect("invariants hold");
//! assert_eq!(outcome.binds.len(), 2);
//! ```
#![deny(missing_docs)]

pub mod arb;
pub mod cluster;
pub mod invariants;
pub mod query;

pub use caldera_framework::rng::SplitMix64;
pub use cluster::{ClusterBuilder, GangMut, NodeMut, Pod, QueueMut};

/// `nvidia.com/gpu`.
pub const GPU: &str = "nvidia.com/gpu";
/// The node label NVIDIA's GPU feature discovery sets to the GPU model.
pub const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";
/// The zone label.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Bytes in a GiB.
pub const GI: i64 = 1 << 30;
/// Bytes in a MiB.
pub const MI: i64 = 1 << 20;

/// The resource name of MIG profile `profile` under NVIDIA's mixed strategy
/// (`mig("1g.10gb")` is `nvidia.com/mig-1g.10gb`).
pub fn mig(profile: &str) -> String {
    format!("nvidia.com/mig-{profile}")
}

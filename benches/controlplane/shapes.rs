//! The benchmark shapes: how many kwok nodes, which pods already hold them, and the workload to
//! schedule. Sizes follow kube-scheduler's own benchmarks (SchedulingBasic, GangScheduling) and
//! the Volcano-style mix; `smoke` is the small shape `./test.sh` runs.

/// The namespace of the measured workload.
pub const NAMESPACE: &str = "bench";
/// The namespace of the pods that already hold nodes (cold start).
pub const FILLER_NAMESPACE: &str = "filler";
/// Label on every measured pod (the observer watches exactly these).
pub const MEASURED_LABEL: &str = "bench.caldera.dev/measured";
/// Every 10th node has MIG slices instead of whole GPUs.
pub const MIG_EVERY: usize = 10;
/// The MIG resource the MIG nodes offer.
pub const MIG_RESOURCE: &str = "nvidia.com/mig-1g.10gb";
/// Whole GPUs per GPU node.
pub const GPUS_PER_NODE: u32 = 8;
/// MIG slices per MIG node.
pub const MIG_PER_NODE: u32 = 7;

/// What is scheduled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Pods without a group (kube-scheduler's SchedulingBasic: small CPU requests).
    Plain {
        /// Pods.
        pods: usize,
    },
    /// Equal gangs (kube-scheduler's GangScheduling shapes).
    Gangs {
        /// Gangs.
        count: usize,
        /// Pods per gang (= minMember).
        size: usize,
    },
    /// 100 gangs of 8–64 GPU pods (every 10th gang on MIG slices) in 4 queues weighted 1–4.
    Mix {
        /// Gangs.
        gangs: usize,
    },
    /// Pods already bound (kept in the seed) plus pending plain pods.
    ColdStart {
        /// Pods that already hold a node.
        bound: usize,
        /// Pods to schedule.
        pending: usize,
    },
    /// Plain pods and gangs together, small: the smoke test.
    Smoke {
        /// Plain pods.
        plain: usize,
        /// Gangs.
        gangs: usize,
        /// Pods per gang.
        size: usize,
    },
}

/// A shape: nodes and workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Name used on the command line and in the results.
    pub name: String,
    /// kwok nodes.
    pub nodes: usize,
    /// What is scheduled.
    pub workload: Workload,
}

impl Shape {
    fn new(name: &str, nodes: usize, workload: Workload) -> Shape {
        Shape {
            name: name.to_owned(),
            nodes,
            workload,
        }
    }

    /// Pods to be scheduled in a run.
    pub fn measured_pods(&self) -> usize {
        match &self.workload {
            Workload::Plain { pods } => *pods,
            Workload::Gangs { count, size } => count * size,
            Workload::Mix { gangs } => mix_sizes(*gangs).iter().sum(),
            Workload::ColdStart { pending, .. } => *pending,
            Workload::Smoke { plain, gangs, size } => plain + gangs * size,
        }
    }

    /// Pods that already hold nodes before the run (they live in the etcd seed).
    pub fn filler_pods(&self) -> usize {
        match &self.workload {
            Workload::ColdStart { bound, .. } => *bound,
            _ => 0,
        }
    }
}

/// Every shape the harness knows, in the order of the report.
pub fn all() -> Vec<Shape> {
    let mut v = Vec::new();
    for (nodes, suffix, plain) in [(1000, "1k", 3000), (5000, "5k", 10_000)] {
        v.push(Shape::new(
            &format!("plain-{suffix}"),
            nodes,
            Workload::Plain { pods: plain },
        ));
        v.push(Shape::new(
            &format!("gangs-1000x3-{suffix}"),
            nodes,
            Workload::Gangs { count: 1000, size: 3 },
        ));
        v.push(Shape::new(
            &format!("gangs-10x5000-{suffix}"),
            nodes,
            Workload::Gangs { count: 10, size: 5000 },
        ));
        v.push(Shape::new(
            &format!("mix-{suffix}"),
            nodes,
            Workload::Mix { gangs: 100 },
        ));
    }
    v.push(Shape::new(
        "cold-5k",
        5000,
        Workload::ColdStart {
            bound: 80_000,
            pending: 20_000,
        },
    ));
    v.push(Shape::new(
        "smoke",
        20,
        Workload::Smoke {
            plain: 60,
            gangs: 10,
            size: 4,
        },
    ));
    v
}

/// The shape called `name`.
pub fn by_name(name: &str) -> Option<Shape> {
    all().into_iter().find(|s| s.name == name)
}

/// The shapes of a full run (everything but `smoke`).
pub fn default_names() -> Vec<String> {
    all()
        .into_iter()
        .filter(|s| s.name != "smoke")
        .map(|s| s.name)
        .collect()
}

/// Gang sizes of the mix: 8–64, from a fixed linear congruential sequence (the same every run).
pub fn mix_sizes(gangs: usize) -> Vec<usize> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..gangs)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            8 + usize::try_from((x >> 33) % 57).unwrap_or(0)
        })
        .collect()
}

/// Whether node `i` is a MIG node.
pub fn is_mig_node(i: usize) -> bool {
    i % MIG_EVERY == MIG_EVERY - 1
}

/// Name of node `i`.
pub fn node_name(i: usize) -> String {
    format!("kwok-node-{i:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_sizes_are_in_range_and_stable() {
        let a = mix_sizes(100);
        assert_eq!(a, mix_sizes(100));
        assert!(a.iter().all(|s| (8..=64).contains(s)), "{a:?}");
        assert!(a.iter().min() < a.iter().max());
    }

    #[test]
    fn names_are_unique_and_found() {
        let names: Vec<String> = all().into_iter().map(|s| s.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert!(names.iter().all(|n| by_name(n).is_some()));
        assert!(!default_names().contains(&"smoke".to_owned()));
    }

    #[test]
    fn mix_fits_the_smaller_cluster() {
        // GPU gangs on the GPU nodes, MIG gangs (every 10th) on the MIG nodes of 1,000 nodes.
        let sizes = mix_sizes(100);
        let mig: usize = sizes
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 == 9)
            .map(|(_, s)| s)
            .sum();
        let gpu: usize = sizes.iter().sum::<usize>() - mig;
        assert!(gpu <= 900 * GPUS_PER_NODE as usize, "{gpu}");
        assert!(mig <= 100 * MIG_PER_NODE as usize, "{mig}");
    }
}

//! Cluster shapes for Caldera's benchmarks, reusable by tests at a smaller scale.
//!
//! | shape | nodes | pending pods | gangs |
//! |---|---|---|---|
//! | [`many_small_gangs`] | 5,000 CPU nodes | 3,000 | 1,000 × 3 |
//! | [`few_huge_gangs`] | 5,000 CPU nodes | 50,000 | 10 × 5,000 |
//! | [`mixed_fleet`] | 10,000: 70% CPU, 25% 8-GPU, 5% MIG | 100,000 | 10,000 of 20 templates |
//! | [`stream_step`] | 5,000 CPU nodes, 5,000 pods running | 20 | none (standalone pods) |
//! | [`cold_start`] | 5,000 GPU nodes, 80,000 pods of another scheduler running | 20,000 | none |
//!
//! Each takes a [`Scale`] that divides every count, so tests can run the same shapes small.

use caldera_framework::{Snapshot, TaintEffect};
use caldera_testkit::{ClusterBuilder, GPU, GPU_PRODUCT_LABEL, Pod, SplitMix64, ZONE_LABEL};

/// Divides every count of a shape (1 is full size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale(pub usize);

impl Scale {
    /// Full size.
    pub const FULL: Scale = Scale(1);

    fn of(self, n: usize) -> usize {
        (n / self.0.max(1)).max(1)
    }
}

/// A named shape, built.
pub struct Shape {
    /// Short name, usable as a benchmark id.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The cluster.
    pub cluster: ClusterBuilder,
}

impl Shape {
    /// The snapshot the benchmarks schedule.
    pub fn snapshot(&self) -> Snapshot {
        self.cluster.build(NOW)
    }
}

/// The snapshot time of every shape.
pub const NOW: i64 = 1_700_000_000_000;

const ZONES: [&str; 3] = ["a", "b", "c"];
const A100: &str = "NVIDIA-A100-SXM4-80GB";
const H100: &str = "NVIDIA-H100-80GB-HBM3";

fn cpu_nodes(c: &mut ClusterBuilder, n: usize, cores: i64, mem_gi: i64) {
    for i in 0..n {
        c.node(&format!("cpu-{i:05}"))
            .cpu(cores)
            .mem_gi(mem_gi)
            .label(ZONE_LABEL, ZONES[i % ZONES.len()]);
    }
}

fn queues(c: &mut ClusterBuilder) -> [&'static str; 4] {
    let names = ["research", "prod", "batch", "dev"];
    for (i, q) in names.iter().enumerate() {
        c.queue(q).weight(u32::try_from(i + 1).unwrap_or(1));
    }
    names
}

/// (a) 5,000 CPU nodes and 1,000 gangs of 3 pods (2 cores, 4 GiB each), in four queues.
pub fn many_small_gangs(scale: Scale) -> Shape {
    let mut c = ClusterBuilder::new();
    cpu_nodes(&mut c, scale.of(5_000), 32, 128);
    let q = queues(&mut c);
    for g in 0..scale.of(1_000) {
        c.gang(
            &format!("ns-{:02}", g % 20),
            &format!("g{g:05}"),
            q[g % q.len()],
            3,
            3,
            |p| p.cpu(2).mem_gi(4),
        )
        .created(i64::try_from(g).unwrap_or(0));
    }
    Shape {
        name: "a_small_gangs",
        description: "5k CPU nodes, 1k gangs x 3 pods",
        cluster: c,
    }
}

/// (b) 5,000 CPU nodes (32 cores, 128 GiB, 110 pods: room for 160,000 of these pods) and 10
/// gangs of 5,000 pods (1 core, 2 GiB), each gang all-or-nothing.
pub fn few_huge_gangs(scale: Scale) -> Shape {
    let mut c = ClusterBuilder::new();
    cpu_nodes(&mut c, scale.of(5_000), 32, 128);
    let q = queues(&mut c);
    let size = scale.of(5_000);
    for g in 0..10usize {
        let min = u32::try_from(size).unwrap_or(u32::MAX);
        c.gang("training", &format!("huge-{g:02}"), q[g % 2], min, size, |p| {
            p.cpu(1).mem_gi(2)
        })
        .created(i64::try_from(g).unwrap_or(0));
    }
    Shape {
        name: "b_huge_gangs",
        description: "5k CPU nodes, 10 gangs x 5k pods",
        cluster: c,
    }
}

/// A gang template of the mixed fleet.
struct Template {
    name: &'static str,
    pods: usize,
    min: u32,
    priority: Option<&'static str>,
    pod: fn(usize, Pod) -> Pod,
}

fn gpu(p: Pod, gpus: i64) -> Pod {
    p.cpu(gpus * 8).mem_gi(gpus * 64).gpus(gpus).tolerate(GPU, "present")
}

/// Twenty gang templates of 1–32 pods, 10 pods on average: CPU services and batch, MPI, GPU
/// training of several sizes, MIG inference, selectors, roles and best-effort pods.
const TEMPLATES: [Template; 20] = [
    Template {
        name: "web",
        pods: 20,
        min: 1,
        priority: Some("high"),
        pod: |_, p| p.cpu_m(500).mem_gi(1),
    },
    Template {
        name: "batch",
        pods: 16,
        min: 16,
        priority: None,
        pod: |_, p| p.cpu(2).mem_gi(8),
    },
    Template {
        name: "mpi",
        pods: 8,
        min: 8,
        priority: None,
        pod: |_, p| p.cpu(8).mem_gi(32),
    },
    Template {
        name: "single",
        pods: 1,
        min: 1,
        priority: None,
        pod: |_, p| p.cpu(1).mem_gi(2),
    },
    Template {
        name: "spark",
        pods: 30,
        min: 5,
        priority: Some("low"),
        pod: |_, p| p.cpu(4).mem_gi(16),
    },
    Template {
        name: "gpu1",
        pods: 1,
        min: 1,
        priority: None,
        pod: |_, p| gpu(p, 1),
    },
    Template {
        name: "ddp8x8",
        pods: 8,
        min: 8,
        priority: Some("high"),
        pod: |_, p| gpu(p, 8),
    },
    Template {
        name: "gpu4x2",
        pods: 4,
        min: 4,
        priority: None,
        pod: |_, p| gpu(p, 2),
    },
    Template {
        name: "gpu2x4",
        pods: 2,
        min: 2,
        priority: None,
        pod: |_, p| gpu(p, 4),
    },
    Template {
        name: "gpu16x1",
        pods: 16,
        min: 16,
        priority: None,
        pod: |_, p| gpu(p, 1),
    },
    Template {
        name: "mig1g",
        pods: 4,
        min: 1,
        priority: None,
        pod: |_, p| p.cpu(1).mem_gi(8).mig("1g.10gb", 1),
    },
    Template {
        name: "mig3g",
        pods: 2,
        min: 2,
        priority: None,
        pod: |_, p| p.cpu(2).mem_gi(16).mig("3g.40gb", 1),
    },
    Template {
        name: "h100x4",
        pods: 4,
        min: 4,
        priority: Some("high"),
        pod: |_, p| gpu(p, 8).node_selector(GPU_PRODUCT_LABEL, H100),
    },
    Template {
        name: "zone-a",
        pods: 10,
        min: 10,
        priority: None,
        pod: |_, p| p.cpu(1).mem_gi(4).node_selector(ZONE_LABEL, "a"),
    },
    Template {
        name: "tiny",
        pods: 12,
        min: 12,
        priority: Some("low"),
        pod: |_, p| p.cpu_m(100).mem_mi(128),
    },
    Template {
        name: "large",
        pods: 2,
        min: 2,
        priority: None,
        pod: |_, p| p.cpu(32).mem_gi(128),
    },
    Template {
        name: "leader-workers",
        pods: 9,
        min: 9,
        priority: None,
        pod: |i, p| {
            if i == 0 {
                p.cpu(2).mem_gi(4).role("leader")
            } else {
                gpu(p, 1).role("worker")
            }
        },
    },
    Template {
        name: "besteffort",
        pods: 5,
        min: 5,
        priority: None,
        pod: |_, p| p,
    },
    Template {
        name: "llm32x8",
        pods: 32,
        min: 32,
        priority: None,
        pod: |_, p| gpu(p, 8),
    },
    Template {
        name: "stream",
        pods: 14,
        min: 14,
        priority: None,
        pod: |_, p| p.cpu(1).mem_gi(2),
    },
];

/// Mean pods per gang of [`TEMPLATES`].
pub const MEAN_GANG_SIZE: usize = 10;

/// (c) 10,000 nodes (70% CPU nodes, 25% 8-GPU nodes tainted for GPU work and labelled A100 or
/// H100, 5% MIG nodes of 1g.10gb or 3g.40gb slices) and 100,000 pending pods in 10,000 gangs drawn
/// from twenty templates (each used equally often, shuffled with `seed`), in four weighted queues.
/// GPU demand far exceeds supply, as in a backlogged cluster.
pub fn mixed_fleet(scale: Scale, seed: u64) -> Shape {
    let mut c = ClusterBuilder::new();
    c.priority_class("high", 1000).priority_class("low", -100);
    let nodes = scale.of(10_000);
    let (n_gpu, n_mig) = ((nodes / 4).max(1), (nodes / 20).max(1));
    let n_cpu = nodes.saturating_sub(n_gpu + n_mig).max(1);
    cpu_nodes(&mut c, n_cpu, 64, 256);
    for i in 0..n_gpu {
        c.node(&format!("gpu-{i:05}"))
            .cpu(96)
            .mem_gi(1024)
            .gpus(8)
            .gpu_product(if i % 3 == 0 { H100 } else { A100 })
            .label(ZONE_LABEL, ZONES[i % ZONES.len()])
            .taint(GPU, "present", TaintEffect::NoSchedule);
    }
    for i in 0..n_mig {
        let (profile, slices) = if i % 2 == 0 { ("1g.10gb", 7) } else { ("3g.40gb", 2) };
        c.mig_node(&format!("mig-{i:05}"), profile, slices)
            .label(ZONE_LABEL, ZONES[i % ZONES.len()]);
    }
    let q = queues(&mut c);
    let mut rng = SplitMix64::new(seed);
    let gangs = scale.of(10_000);
    let mut order: Vec<usize> = (0..gangs).map(|g| g % TEMPLATES.len()).collect();
    rng.shuffle(&mut order);
    for (g, &t) in order.iter().enumerate() {
        let t = &TEMPLATES[t];
        let queue = q[rng.below(q.len())];
        let created = rng.range(0, 3_600_000);
        let mut gang = c
            .gang_indexed(
                &format!("ns-{:02}", g % 50),
                &format!("{}-{g:05}", t.name),
                queue,
                t.min,
                t.pods,
                t.pod,
            )
            .created(created);
        if let Some(pc) = t.priority {
            gang = gang.priority_class(pc);
        }
        if t.name == "leader-workers" {
            gang.min_task_member("leader", 1).min_task_member("worker", 8);
        }
    }
    Shape {
        name: "c_mixed_fleet",
        description: "10k CPU/GPU/MIG nodes, 100k pods in 10k gangs of 20 templates",
        cluster: c,
    }
}

/// The three benchmark shapes.
pub fn all_shapes(scale: Scale) -> Vec<Shape> {
    vec![
        many_small_gangs(scale),
        few_huge_gangs(scale),
        mixed_fleet(scale, 42),
        stream_step(scale),
        cold_start(scale),
    ]
}

/// (e) The control-plane benchmark's `cold-5k`: 5,000 8-GPU nodes (every 10th with 7 MIG slices
/// instead) already running 80,000 pods of another scheduler (1 CPU, 2 GiB, every 4th round on a
/// GPU node with a GPU), and 20,000 pending standalone pods of ours. Every pod carries the two
/// tolerations admission adds, as real pods do. Most of what a cycle pays here is the snapshot of
/// the other scheduler's pods.
pub fn cold_start(scale: Scale) -> Shape {
    let mut c = ClusterBuilder::new();
    let nodes = scale.of(5_000);
    for i in 0..nodes {
        let name = format!("node-{i:05}");
        if i.is_multiple_of(10) {
            c.mig_node(&name, "1g.10gb", 7);
        } else {
            c.node(&name).cpu(64).mem_gi(512).gpus(8).gpu_product(A100);
        }
    }
    let admitted = |p: Pod| {
        p.tolerate_key("node.kubernetes.io/not-ready", Some(TaintEffect::NoExecute))
            .tolerate_key("node.kubernetes.io/unreachable", Some(TaintEffect::NoExecute))
    };
    for i in 0..scale.of(80_000) {
        let n = i % nodes;
        let gpu = !n.is_multiple_of(10) && (i / nodes).is_multiple_of(4);
        let node = format!("node-{n:05}");
        let pod = admitted(Pod::new("filler", &format!("f-{i:06}")).cpu(1).mem_gi(2));
        c.add_pod(if gpu { pod.gpus(1) } else { pod }.running_on(&node).foreign());
    }
    for i in 0..scale.of(20_000) {
        c.pod("bench", &format!("c-{i:05}"), |p| admitted(p.cpu_m(500).mem_gi(1)));
    }
    Shape {
        name: "e_cold_start",
        description: "5k GPU nodes, 80k pods of another scheduler running, 20k pending pods",
        cluster: c,
    }
}

/// (d) One cycle in the middle of a stream of plain pods, as the control-plane benchmark's
/// `plain-5k` stream run makes about 500 of them: 5,000 CPU nodes, 5,000 standalone pods already
/// running (one per node) and the 20 that arrived since the last cycle. Almost all of such a
/// cycle's cost is fixed (the cluster it looks at), not the work it has to place.
pub fn stream_step(scale: Scale) -> Shape {
    let mut c = ClusterBuilder::new();
    let nodes = scale.of(5_000);
    cpu_nodes(&mut c, nodes, 32, 128);
    let small = |p: Pod| p.cpu_m(100).mem_mi(128);
    for i in 0..nodes {
        c.bound_pod("bench", &format!("run-{i:05}"), &format!("cpu-{i:05}"), small);
    }
    for i in 0..scale.of(20) {
        c.pod("bench", &format!("new-{i:05}"), small);
    }
    Shape {
        name: "d_stream_step",
        description: "5k CPU nodes, 5k running pods, 20 new standalone pods",
        cluster: c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_plugins::Pipeline;
    use caldera_testkit::invariants;

    fn pipeline() -> Pipeline {
        Pipeline::default_pipeline().expect("the default configuration loads")
    }

    #[test]
    fn full_size_counts_match_the_description() {
        assert_eq!(
            TEMPLATES.iter().map(|t| t.pods).sum::<usize>(),
            MEAN_GANG_SIZE * TEMPLATES.len()
        );
        let a = many_small_gangs(Scale::FULL).cluster;
        assert_eq!(
            (a.nodes().len(), a.pending_pods(), a.groups().len()),
            (5_000, 3_000, 1_000)
        );
        let b = few_huge_gangs(Scale::FULL).cluster;
        assert_eq!(
            (b.nodes().len(), b.pending_pods(), b.groups().len()),
            (5_000, 50_000, 10)
        );
        let d = stream_step(Scale::FULL).cluster;
        assert_eq!((d.nodes().len(), d.pods().len(), d.pending_pods()), (5_000, 5_020, 20));
        let e = cold_start(Scale::FULL).cluster;
        assert_eq!(
            (e.nodes().len(), e.pods().len(), e.pending_pods()),
            (5_000, 100_000, 20_000)
        );
        assert_eq!(e.pods().iter().filter(|p| !p.ours).count(), 80_000);
    }

    #[test]
    fn mixed_fleet_has_its_node_mix_and_is_reproducible() {
        let c = mixed_fleet(Scale(10), 7).cluster;
        assert_eq!(
            (c.nodes().len(), c.pending_pods(), c.groups().len()),
            (1_000, 10_000, 1_000)
        );
        let gpu = c.nodes().iter().filter(|n| n.name.starts_with("gpu-")).count();
        let mig = c.nodes().iter().filter(|n| n.name.starts_with("mig-")).count();
        assert_eq!((gpu, mig), (250, 50));
        let again = mixed_fleet(Scale(10), 7).cluster;
        let names = |c: &ClusterBuilder| c.groups().iter().map(|g| g.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c), names(&again));
        assert_ne!(names(&c), names(&mixed_fleet(Scale(10), 8).cluster), "the seed matters");
    }

    #[test]
    fn small_shapes_schedule_everything_that_fits() {
        let p = pipeline();
        for shape in [
            many_small_gangs(Scale(50)),
            few_huge_gangs(Scale(50)),
            stream_step(Scale(50)),
            cold_start(Scale(50)),
        ] {
            let before = shape.snapshot();
            let (after, out) = p.run(before.clone());
            invariants::check(&before, &after, &out).unwrap_or_else(|e| panic!("{}: {e}", shape.name));
            assert_eq!(
                out.binds.len(),
                shape.cluster.pending_pods(),
                "{}: every pod fits",
                shape.name
            );
        }
    }

    #[test]
    fn small_mixed_fleet_keeps_the_invariants() {
        let shape = mixed_fleet(Scale(100), 42);
        let before = shape.snapshot();
        let (after, out) = pipeline().run(before.clone());
        invariants::check(&before, &after, &out).unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.binds.is_empty());
        assert!(
            out.binds.len() < shape.cluster.pending_pods(),
            "GPU demand exceeds supply"
        );
    }
}

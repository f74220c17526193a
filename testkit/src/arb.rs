//! Proptest strategies for random clusters.
//!
//! [`arb_cluster`] draws 1–20 nodes (CPU nodes, 8-GPU nodes and MIG nodes; some in zones, some
//! tainted, cordoned, not ready, or with a small pod limit), 1–4 queues with weights (some
//! closed), 0–30 Volcano gangs of 1–8 pods with random shapes (cpu and memory, whole GPUs, MIG
//! slices, or nothing but a pod slot), a `minMember` up to the gang size (and sometimes above
//! it), roles with `minTaskMember`, node selectors, required node affinity, tolerations, host
//! ports, priorities and `minResources`, plus standalone pods and a pod whose PodGroup is missing.
//! Some pods start out bound to nodes, always within the nodes' capacity; a few of those are
//! being deleted, so their resources are releasing.

use std::collections::BTreeMap;

use caldera_framework::{JobPhase, SelectorOp, TaintEffect};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::{ClusterBuilder, GPU, Pod, ZONE_LABEL};

const ZONES: [&str; 3] = ["a", "b", "c"];
const PRODUCTS: [&str; 2] = ["NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3"];
/// MIG profiles and how many slices of each a MIG node has.
const MIG_PROFILES: [(&str, i64); 2] = [("1g.10gb", 7), ("3g.40gb", 2)];

/// What kind of machine a node is.
#[derive(Clone, Copy, Debug)]
pub enum NodeKind {
    /// CPU and memory only.
    Cpu,
    /// Eight whole GPUs.
    Gpu,
    /// GPUs partitioned into MIG slices of one profile.
    Mig,
}

/// A drawn node.
#[derive(Clone, Debug)]
pub struct NodeGen {
    kind: NodeKind,
    cores: i64,
    mem_gi: i64,
    zone: Option<usize>,
    /// 0 none, 1 `nvidia.com/gpu=present:NoSchedule`, 2 `dedicated=ml:NoExecute`,
    /// 3 `spot=true:PreferNoSchedule`.
    taint: u8,
    cordoned: bool,
    not_ready: bool,
    max_pods: i64,
    product: usize,
    profile: usize,
}

/// A drawn pod shape.
#[derive(Clone, Debug)]
pub enum Shape {
    /// CPU and memory.
    Cpu {
        /// Millicores.
        cpu_m: i64,
        /// MiB.
        mem_mi: i64,
    },
    /// Whole GPUs with some CPU.
    Gpu {
        /// Millicores.
        cpu_m: i64,
        /// Whole GPUs.
        gpus: i64,
    },
    /// MIG slices with some CPU.
    Mig {
        /// Millicores.
        cpu_m: i64,
        /// Index into the profiles.
        profile: usize,
        /// Slices.
        slices: i64,
    },
    /// Nothing but the pod slot.
    Zero,
}

impl Shape {
    fn apply(&self, p: Pod) -> Pod {
        match *self {
            Shape::Cpu { cpu_m, mem_mi } => p.cpu_m(cpu_m).mem_mi(mem_mi),
            Shape::Gpu { cpu_m, gpus } => p.cpu_m(cpu_m).mem_gi(gpus * 16).gpus(gpus),
            Shape::Mig { cpu_m, profile, slices } => p.cpu_m(cpu_m).mig(MIG_PROFILES[profile].0, slices),
            Shape::Zero => p,
        }
    }
}

/// Placement constraints drawn for a gang's pods.
#[derive(Clone, Debug)]
pub struct Constraints {
    /// 0 none, 1 zone=a selector, 2 GPU product selector, 3 zone In [a, b], 4 zone NotIn [c].
    selector: u8,
    /// 0 none, 1 the GPU taint, 2 `dedicated` (any value), 3 everything.
    toleration: u8,
    host_port: bool,
}

impl Constraints {
    fn apply(&self, mut p: Pod) -> Pod {
        p = match self.selector {
            1 => p.node_selector(ZONE_LABEL, "a"),
            2 => p.node_selector(crate::GPU_PRODUCT_LABEL, PRODUCTS[1]),
            3 => p.require(ZONE_LABEL, SelectorOp::In, &["a", "b"]),
            4 => p.require(ZONE_LABEL, SelectorOp::NotIn, &["c"]),
            _ => p,
        };
        p = match self.toleration {
            1 => p.tolerate(GPU, "present"),
            2 => p.tolerate_key("dedicated", None),
            3 => p.tolerate_key("", None),
            _ => p,
        };
        if self.host_port { p.host_port(8080) } else { p }
    }
}

/// Whether a pod starts out on a node: which node (by index), and whether it is being deleted.
type Placed = Option<(Index, bool)>;

/// A drawn gang.
#[derive(Clone, Debug)]
pub struct GangGen {
    pods: usize,
    min: Index,
    min_above_size: bool,
    shape: Shape,
    /// When set, pod 0 is role `leader` with this shape and the rest role `worker`, with
    /// `minTaskMember` for both.
    leader: Option<Shape>,
    constraints: Constraints,
    /// 0 none, 1 low, 2 high.
    priority: u8,
    task_priority: Option<i32>,
    /// Index into the queues; `None` names a queue that does not exist.
    queue: Option<Index>,
    min_resources: bool,
    inqueue: bool,
    created: i64,
    /// Whether the gang must stay inside one zone (topology key).
    zoned: bool,
    placed: Vec<Placed>,
}

/// A drawn standalone pod.
#[derive(Clone, Debug)]
pub struct SoloGen {
    shape: Shape,
    constraints: Constraints,
    priority: Option<i32>,
    placed: Placed,
}

/// A drawn queue.
#[derive(Clone, Debug)]
pub struct QueueGen {
    weight: u32,
    closed: bool,
}

/// A drawn cluster; [`ClusterGen::builder`] turns it into a [`ClusterBuilder`].
#[derive(Clone, Debug)]
pub struct ClusterGen {
    nodes: Vec<NodeGen>,
    queues: Vec<QueueGen>,
    gangs: Vec<GangGen>,
    solos: Vec<SoloGen>,
    ghost: bool,
}

fn arb_node() -> impl Strategy<Value = NodeGen> {
    (
        prop_oneof![5 => Just(NodeKind::Cpu), 3 => Just(NodeKind::Gpu), 2 => Just(NodeKind::Mig)],
        4i64..=128,
        16i64..=1024,
        proptest::option::weighted(0.7, 0..ZONES.len()),
        prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.05),
        prop_oneof![9 => Just(110i64), 1 => 1i64..=4],
        0..PRODUCTS.len(),
        0..MIG_PROFILES.len(),
    )
        .prop_map(
            |(kind, cores, mem_gi, zone, taint, cordoned, not_ready, max_pods, product, profile)| NodeGen {
                kind,
                cores,
                mem_gi,
                zone,
                taint,
                cordoned,
                not_ready,
                max_pods,
                product,
                profile,
            },
        )
}

fn arb_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        4 => (0i64..=16_000, 0i64..=65_536).prop_map(|(cpu_m, mem_mi)| Shape::Cpu { cpu_m, mem_mi }),
        3 => (0i64..=8_000, prop_oneof![Just(1i64), Just(2), Just(4), Just(8)])
            .prop_map(|(cpu_m, gpus)| Shape::Gpu { cpu_m, gpus }),
        2 => (0i64..=4_000, 0..MIG_PROFILES.len(), 1i64..=2)
            .prop_map(|(cpu_m, profile, slices)| Shape::Mig { cpu_m, profile, slices }),
        1 => Just(Shape::Zero),
    ]
}

fn arb_constraints() -> impl Strategy<Value = Constraints> {
    (
        prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8), 1 => Just(4u8)],
        prop_oneof![5 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(selector, toleration, host_port)| Constraints {
            selector,
            toleration,
            host_port,
        })
}

fn arb_placed() -> impl Strategy<Value = Placed> {
    proptest::option::weighted(0.2, (any::<Index>(), proptest::bool::weighted(0.15)))
}

fn arb_gang() -> impl Strategy<Value = GangGen> {
    (
        (1usize..=8, any::<Index>(), proptest::bool::weighted(0.08)),
        arb_shape(),
        proptest::option::weighted(0.15, arb_shape()),
        arb_constraints(),
        (0u8..3, proptest::option::weighted(0.1, -5i32..5)),
        proptest::option::weighted(0.95, any::<Index>()),
        (
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.2),
            0i64..5,
            proptest::bool::weighted(0.2),
        ),
        proptest::collection::vec(arb_placed(), 8),
    )
        .prop_map(
            |(
                (pods, min, min_above_size),
                shape,
                leader,
                constraints,
                (priority, task_priority),
                queue,
                (min_resources, inqueue, created, zoned),
                placed,
            )| GangGen {
                pods,
                min,
                min_above_size,
                shape,
                leader,
                constraints,
                priority,
                task_priority,
                queue,
                min_resources,
                inqueue,
                created,
                zoned,
                placed,
            },
        )
}

fn arb_solo() -> impl Strategy<Value = SoloGen> {
    (
        arb_shape(),
        arb_constraints(),
        proptest::option::weighted(0.3, -5i32..5),
        arb_placed(),
    )
        .prop_map(|(shape, constraints, priority, placed)| SoloGen {
            shape,
            constraints,
            priority,
            placed,
        })
}

fn arb_queue() -> impl Strategy<Value = QueueGen> {
    (1u32..=4, proptest::bool::weighted(0.1)).prop_map(|(weight, closed)| QueueGen { weight, closed })
}

/// Random clusters, as drawn data (compact to print when a property fails).
pub fn arb_cluster_gen() -> impl Strategy<Value = ClusterGen> {
    (
        proptest::collection::vec(arb_node(), 1..=20),
        proptest::collection::vec(arb_queue(), 1..=4),
        proptest::collection::vec(arb_gang(), 0..=30),
        proptest::collection::vec(arb_solo(), 0..=4),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(nodes, queues, gangs, solos, ghost)| ClusterGen {
            nodes,
            queues,
            gangs,
            solos,
            ghost,
        })
}

/// Random clusters (see the module documentation).
pub fn arb_cluster() -> impl Strategy<Value = ClusterBuilder> {
    arb_cluster_gen().prop_map(|g| g.builder())
}

/// What is left of each node while pods are put on it, by resource name.
struct Room(Vec<BTreeMap<String, i64>>);

impl Room {
    /// Takes `pod`'s request from node `n` if it fits there.
    fn take(&mut self, n: usize, pod: &Pod) -> bool {
        let Some(room) = self.0.get_mut(n) else { return false };
        let mut req: Vec<(&str, i64)> = pod.requests().iter().map(|(k, v)| (k.as_str(), *v)).collect();
        req.push(("pods", 1));
        if req.iter().any(|(k, v)| *v > room.get(*k).copied().unwrap_or(0)) {
            return false;
        }
        for (k, v) in req {
            if let Some(left) = room.get_mut(k) {
                *left -= v;
            }
        }
        true
    }
}

impl ClusterGen {
    /// The described cluster.
    pub fn builder(&self) -> ClusterBuilder {
        let mut c = ClusterBuilder::new();
        c.priority_class("high", 1000).priority_class("low", -10);
        let mut room = Room(Vec::new());
        let mut names = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let name = format!("node-{i:02}");
            let (profile, slices) = MIG_PROFILES[n.profile];
            let mut node = match n.kind {
                NodeKind::Cpu => c.node(&name).cpu(n.cores).mem_gi(n.mem_gi),
                NodeKind::Gpu => c
                    .node(&name)
                    .cpu(n.cores.max(32))
                    .mem_gi(n.mem_gi.max(256))
                    .gpus(8)
                    .gpu_product(PRODUCTS[n.product]),
                NodeKind::Mig => c.mig_node(&name, profile, slices).gpu_product(PRODUCTS[0]),
            };
            node = node.max_pods(n.max_pods);
            if let Some(z) = n.zone {
                node = node.label(ZONE_LABEL, ZONES[z]);
            }
            node = match n.taint {
                1 => node.taint(GPU, "present", TaintEffect::NoSchedule),
                2 => node.taint("dedicated", "ml", TaintEffect::NoExecute),
                3 => node.taint("spot", "true", TaintEffect::PreferNoSchedule),
                _ => node,
            };
            if n.cordoned {
                node = node.cordoned();
            }
            if n.not_ready {
                node.not_ready();
            }
            let rec = &c.nodes()[i];
            room.0.push(
                rec.allocatable
                    .iter()
                    .map(|(id, v)| (c.resources().name(id).to_string(), v))
                    .collect(),
            );
            names.push(name);
        }
        for (i, q) in self.queues.iter().enumerate() {
            // The first queue is always open, so some work is always admissible.
            let queue = c.queue(&format!("q{i}")).weight(q.weight);
            if q.closed && i > 0 {
                queue.closed();
            }
        }
        let place = |room: &mut Room, placed: &Placed, pod: Pod| -> (Pod, bool) {
            match placed {
                Some((idx, deleting)) => {
                    let n = idx.index(names.len());
                    if room.take(n, &pod) {
                        let p = pod.running_on(&names[n]);
                        (if *deleting { p.deleting() } else { p }, true)
                    } else {
                        (pod, false)
                    }
                }
                None => (pod, false),
            }
        };
        for (gi, g) in self.gangs.iter().enumerate() {
            let ns = if gi % 2 == 0 { "team-a" } else { "team-b" };
            let name = format!("g{gi:02}");
            let queue = match &g.queue {
                Some(q) => format!("q{}", q.index(self.queues.len())),
                None => "missing".to_string(),
            };
            let min = if g.min_above_size {
                g.pods + 1
            } else {
                1 + g.min.index(g.pods)
            };
            let mut pods = Vec::new();
            let mut bound = 0usize;
            for i in 0..g.pods {
                let mut p = Pod::new(ns, &format!("{name}-{i}")).group(&name).created(g.created);
                p = match (&g.leader, i) {
                    (Some(shape), 0) => shape.apply(p).role("leader"),
                    (Some(_), _) => g.shape.apply(p).role("worker"),
                    (None, _) => g.shape.apply(p),
                };
                p = g.constraints.apply(p);
                p = match g.priority {
                    1 => p.priority_class("low"),
                    2 => p.priority_class("high"),
                    _ => p,
                };
                if let Some(tp) = g.task_priority {
                    p = p.task_priority(tp);
                }
                let (p, on_node) = place(&mut room, &g.placed[i], p);
                bound += usize::from(on_node);
                pods.push(p);
            }
            let min_u32 = u32::try_from(min).unwrap_or(u32::MAX);
            let phase = if bound >= min {
                JobPhase::Running
            } else if g.inqueue {
                JobPhase::Inqueue
            } else {
                JobPhase::Pending
            };
            let mut gang = c.gang_indexed(ns, &name, &queue, min_u32, pods.len(), |i, _| pods[i].clone());
            gang = gang.phase(phase).created(g.created);
            gang = match g.priority {
                1 => gang.priority_class("low"),
                2 => gang.priority_class("high"),
                _ => gang,
            };
            if g.leader.is_some() {
                let workers = u32::try_from(g.pods.saturating_sub(1))
                    .unwrap_or(0)
                    .min(min_u32.saturating_sub(1));
                gang = gang.min_task_member("leader", 1).min_task_member("worker", workers);
            }
            if g.zoned {
                gang = gang.with_group(|r| r.topology_key = Some(ZONE_LABEL.to_string()));
            }
            if g.min_resources {
                gang.min_resources_of_members();
            }
        }
        for (i, s) in self.solos.iter().enumerate() {
            let mut p = s
                .constraints
                .apply(s.shape.apply(Pod::new("solo", &format!("pod-{i}"))));
            if let Some(pr) = s.priority {
                p = p.priority(pr);
            }
            let (p, _) = place(&mut room, &s.placed, p);
            c.add_pod(p);
        }
        if self.ghost {
            c.pod("team-a", "orphan", |p| p.cpu_m(100).mem_mi(64).group("ghost"));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::TaskStatus;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn generated_clusters_are_varied_and_within_capacity() {
        let mut runner = TestRunner::deterministic();
        let strategy = arb_cluster();
        let (mut gpu_pods, mut mig_pods, mut bound, mut releasing, mut problems, mut tainted) = (0, 0, 0, 0, 0, 0);
        for _ in 0..64 {
            let c = strategy.new_tree(&mut runner).expect("a value").current();
            let s = c.build(0);
            assert!((1..=20).contains(&s.nodes.len()));
            let gpu = s.resources.get(GPU);
            for t in &s.tasks {
                if gpu.is_some_and(|g| t.spec.request.get(g) > 0) {
                    gpu_pods += 1;
                }
                if t.spec
                    .request
                    .iter()
                    .any(|(id, _)| s.resources.name(id).starts_with("nvidia.com/mig-"))
                {
                    mig_pods += 1;
                }
                bound += usize::from(t.status == TaskStatus::Running);
                releasing += usize::from(t.status == TaskStatus::Releasing);
            }
            problems += s.jobs.iter().filter(|j| j.problem.is_some()).count();
            tainted += s.nodes.iter().filter(|n| !n.taints.is_empty()).count();
            for (i, n) in s.nodes.iter().enumerate() {
                let mut used = n.used.clone();
                used.sub(&n.allocatable);
                assert!(
                    used.iter().all(|(_, v)| v <= 0),
                    "node {i} starts over capacity: {:?}",
                    n.used
                );
            }
        }
        assert!(gpu_pods > 0 && mig_pods > 0 && bound > 0 && releasing > 0 && problems > 0 && tainted > 0);
    }
}

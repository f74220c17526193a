//! Writing a selected window of trace jobs as simulator input: multi-document Kubernetes YAML.
//!
//! - Nodes: the trace's node list, or a synthetic cluster of identical GPU nodes
//!   ([`ClusterShape`]). Synthetic nodes have 8 CPU cores and 64 GiB per GPU and jobs without CPU or
//!   memory figures ask for half that per GPU, so GPUs are always the resource that binds.
//! - Queues: one per job group (Philly virtual cluster, Alibaba QoS class), named `vc-<group>`,
//!   `reclaimable: true`, with weight = the group's share of the window's GPU demand (GPU-seconds)
//!   in thousandths, at least 1. So a queue's fair share is what it asks for on average, and
//!   unfairness shows as a departure from it.
//! - Each job becomes a Volcano PodGroup in its queue (namespace = queue name) with
//!   `minMember` = its pod count and `minResources` = the sum of its pods' requests, and the
//!   annotation `caldera.dev/expected-runtime` (see [`super::estimate`]). A job of G GPUs becomes
//!   ⌈G / gpus-per-pod⌉ pods of gpus-per-pod GPUs each, the last one taking the rest (12 GPUs with 8
//!   per pod: 8 + 4). Pods carry `simulation.caldera.dev/submit-at` and `.../runtime`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use caldera_crds::labels::{EXPECTED_RUNTIME, GPU_PRODUCT, GROUP_NAME, SIM_RUNTIME, SIM_SUBMIT_AT};

use super::estimate::Estimator;
use super::{TraceError, TraceJob, TraceNode};

/// CPU millicores and memory MiB per GPU of a synthetic node.
const NODE_CPU_PER_GPU: i64 = 8_000;
const NODE_MIB_PER_GPU: i64 = 64 * 1024;
/// What a job without CPU/memory figures asks per GPU (half a synthetic node's share).
const POD_CPU_PER_GPU: i64 = 4_000;
const POD_MIB_PER_GPU: i64 = 32 * 1024;

/// A synthetic cluster of identical GPU nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterShape {
    /// Number of nodes.
    pub nodes: u32,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// `nvidia.com/gpu.product` label, if any.
    pub gpu_product: Option<String>,
}

impl ClusterShape {
    /// The nodes, named `node-000`, `node-001`, ….
    pub fn nodes(&self) -> Vec<TraceNode> {
        let g = i64::from(self.gpus_per_node.max(1));
        (0..self.nodes)
            .map(|i| TraceNode {
                name: format!("node-{i:03}"),
                cpu_milli: NODE_CPU_PER_GPU * g,
                memory_mib: NODE_MIB_PER_GPU * g,
                gpus: self.gpus_per_node,
                model: self.gpu_product.clone(),
            })
            .collect()
    }
}

/// How jobs are written.
#[derive(Clone, Debug, PartialEq)]
pub struct EmitOptions {
    /// Largest GPU count of one pod: a bigger job is split into a gang.
    pub gpus_per_pod: u32,
    /// Estimate error factor E ≥ 1 (1: exact).
    pub estimate_error: f64,
    /// Seed of the estimate errors.
    pub seed: u64,
}

/// One queue written.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueStats {
    /// Queue name.
    pub name: String,
    /// Weight written.
    pub weight: u32,
    /// Jobs in it.
    pub jobs: usize,
    /// GPU-seconds its jobs ask for.
    pub gpu_seconds: i128,
}

/// What was written, for the user to judge the window (is the cluster saturated?).
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStats {
    /// Jobs written.
    pub jobs: usize,
    /// Pods written.
    pub pods: usize,
    /// GPUs of the cluster.
    pub cluster_gpus: i64,
    /// Seconds from the window's start to its last submission.
    pub span_s: i64,
    /// GPU-seconds all jobs ask for.
    pub gpu_seconds: i128,
    /// Jobs that need more GPUs than the whole cluster, or a pod larger than any node: they
    /// will never start.
    pub never_fit: usize,
    /// Queues, by name.
    pub queues: Vec<QueueStats>,
    /// Seconds during which the jobs, each started at its submission, would need more GPUs than
    /// the cluster has: a lower bound on how long the cluster is saturated (a backlog only
    /// lengthens it).
    pub over_capacity_s: i64,
    /// The most GPUs the jobs would hold at once if each started at its submission.
    pub peak_demand_gpus: i64,
}

/// Sweeps the jobs as if each ran from its submission: (seconds with demand above `capacity`,
/// peak demand).
fn unconstrained_demand(jobs: &[TraceJob], capacity: i64) -> (i64, i64) {
    let mut edges: Vec<(i64, i64)> = Vec::with_capacity(jobs.len() * 2);
    for j in jobs {
        edges.push((j.submit_s, i64::from(j.gpus)));
        edges.push((j.submit_s.saturating_add(j.duration_s), -i64::from(j.gpus)));
    }
    // At equal times, ends before starts: a job ending as another starts frees its GPUs first.
    edges.sort_unstable();
    let (mut level, mut peak, mut over, mut prev) = (0i64, 0i64, 0i64, i64::MIN);
    for (t, d) in edges {
        if level > capacity && prev != i64::MIN {
            over += t - prev;
        }
        level += d;
        peak = peak.max(level);
        prev = t;
    }
    (over, peak)
}

/// A Kubernetes name from a trace's group or job name: lower case, `-` for anything else.
fn k8s_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let n = n.trim_matches('-');
    if n.is_empty() { "x".into() } else { n.to_string() }
}

fn queue_name(group: &str) -> String {
    format!("vc-{}", k8s_name(group))
}

/// GPU counts of the pods of a job of `gpus` GPUs.
pub fn split_gpus(gpus: u32, per_pod: u32) -> Vec<u32> {
    let per_pod = per_pod.max(1);
    if gpus == 0 {
        return vec![0];
    }
    let n = gpus.div_ceil(per_pod);
    (0..n)
        .map(|i| if i + 1 < n { per_pod } else { gpus - per_pod * (n - 1) })
        .collect()
}

/// Writes the scenario; `jobs` in submission order with times relative to the window's start.
pub fn scenario_yaml(
    jobs: &[TraceJob],
    nodes: &[TraceNode],
    o: &EmitOptions,
) -> Result<(String, TraceStats), TraceError> {
    if nodes.is_empty() {
        return Err(TraceError::Options("the cluster has no nodes".into()));
    }
    if o.gpus_per_pod == 0 {
        return Err(TraceError::Options("--gpus-per-pod must be at least 1".into()));
    }
    let mut est = Estimator::new(o.estimate_error, o.seed)?;
    let mut out = String::with_capacity(jobs.len() * 1200);
    let _ = writeln!(
        out,
        "# Generated by `caldera trace`: {} jobs, estimate error {}x, seed {}.",
        jobs.len(),
        o.estimate_error,
        o.seed
    );
    for n in nodes {
        write_node(&mut out, n);
    }

    let mut queues: BTreeMap<String, QueueStats> = BTreeMap::new();
    for j in jobs {
        let q = queues.entry(queue_name(&j.group)).or_insert_with_key(|k| QueueStats {
            name: k.clone(),
            weight: 1,
            jobs: 0,
            gpu_seconds: 0,
        });
        q.jobs += 1;
        q.gpu_seconds += i128::from(j.gpus) * i128::from(j.duration_s);
    }
    let total: i128 = queues.values().map(|q| q.gpu_seconds).sum();
    for q in queues.values_mut() {
        if total > 0 {
            q.weight = u32::try_from((q.gpu_seconds * 1000 + total / 2) / total)
                .unwrap_or(1000)
                .max(1);
        }
        let _ = writeln!(
            out,
            "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata:\n  name: {}\nspec:\n  weight: {}\n  reclaimable: true",
            q.name, q.weight
        );
    }

    let cluster_gpus: i64 = nodes.iter().map(|n| i64::from(n.gpus)).sum();
    let largest_node = nodes.iter().map(|n| n.gpus).max().unwrap_or(0);
    let mut pods = 0;
    let mut never_fit = 0;
    for j in jobs {
        let parts = split_gpus(j.gpus, o.gpus_per_pod);
        if i64::from(j.gpus) > cluster_gpus || parts.iter().any(|&g| g > largest_node) {
            never_fit += 1;
        }
        pods += parts.len();
        let estimate = est.estimate(j.duration_s);
        write_job(&mut out, j, &parts, estimate);
    }
    let (over_capacity_s, peak_demand_gpus) = unconstrained_demand(jobs, cluster_gpus);
    let stats = TraceStats {
        over_capacity_s,
        peak_demand_gpus,
        jobs: jobs.len(),
        pods,
        cluster_gpus,
        span_s: jobs.iter().map(|j| j.submit_s).max().unwrap_or(0),
        gpu_seconds: total,
        never_fit,
        queues: queues.into_values().collect(),
    };
    Ok((out, stats))
}

fn write_node(out: &mut String, n: &TraceNode) {
    let _ = writeln!(out, "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: {}", n.name);
    if let Some(m) = &n.model {
        let _ = writeln!(out, "  labels:\n    {GPU_PRODUCT}: {m:?}");
    }
    let _ = writeln!(
        out,
        "status:\n  allocatable:\n    cpu: \"{}m\"\n    memory: \"{}Mi\"\n    nvidia.com/gpu: \"{}\"\n    pods: \"110\"",
        n.cpu_milli, n.memory_mib, n.gpus
    );
}

/// CPU millicores and memory MiB of a pod with `gpus` GPUs of job `j`.
fn pod_request(j: &TraceJob, gpus: u32) -> (i64, i64) {
    let g = i64::from(gpus);
    let cpu = j.cpu_milli.unwrap_or(if g == 0 { 1000 } else { POD_CPU_PER_GPU * g });
    let mem = j.memory_mib.unwrap_or(if g == 0 { 4096 } else { POD_MIB_PER_GPU * g });
    (cpu, mem)
}

fn write_job(out: &mut String, j: &TraceJob, parts: &[u32], estimate_s: i64) {
    let (ns, name) = (queue_name(&j.group), k8s_name(&j.name));
    let (mut cpu, mut mem) = (0, 0);
    for &g in parts {
        let (c, m) = pod_request(j, g);
        cpu += c;
        mem += m;
    }
    let _ = writeln!(
        out,
        "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n    {SIM_SUBMIT_AT}: \"{}s\"\n    {EXPECTED_RUNTIME}: \"{estimate_s}s\"\nspec:\n  minMember: {}\n  queue: {ns}\n  minResources:\n    cpu: \"{cpu}m\"\n    memory: \"{mem}Mi\"\n    nvidia.com/gpu: \"{}\"",
        j.submit_s,
        parts.len(),
        j.gpus
    );
    for (k, &g) in parts.iter().enumerate() {
        let (c, m) = pod_request(j, g);
        let _ = writeln!(
            out,
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}-{k}\n  namespace: {ns}\n  annotations:\n    {GROUP_NAME}: {name}\n    {SIM_SUBMIT_AT}: \"{}s\"\n    {SIM_RUNTIME}: \"{}s\"\nspec:\n  schedulerName: caldera",
            j.submit_s, j.duration_s
        );
        if !j.gpu_models.is_empty() {
            let _ = writeln!(
                out,
                "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - {{key: {GPU_PRODUCT}, operator: In, values: [{}]}}",
                j.gpu_models
                    .iter()
                    .map(|m| format!("{m:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  containers:\n  - name: main\n    image: trace\n    resources:\n      requests: {{cpu: \"{c}m\", memory: \"{m}Mi\", nvidia.com/gpu: \"{g}\"}}\n      limits: {{nvidia.com/gpu: \"{g}\"}}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, group: &str, submit_s: i64, duration_s: i64, gpus: u32) -> TraceJob {
        TraceJob {
            name: name.into(),
            group: group.into(),
            submit_s,
            duration_s,
            gpus,
            cpu_milli: None,
            memory_mib: None,
            gpu_models: vec![],
        }
    }

    fn opts() -> EmitOptions {
        EmitOptions {
            gpus_per_pod: 8,
            estimate_error: 1.0,
            seed: 1,
        }
    }

    #[test]
    fn gangs_split_into_full_pods_and_a_rest() {
        assert_eq!(split_gpus(12, 8), [8, 4]);
        assert_eq!(split_gpus(16, 8), [8, 8]);
        assert_eq!(split_gpus(3, 8), [3]);
        assert_eq!(split_gpus(0, 8), [0]);
    }

    #[test]
    fn weights_follow_gpu_demand_and_every_queue_gets_at_least_one() {
        let jobs = [
            job("a", "X", 0, 100, 3),
            job("b", "x", 10, 100, 1),
            job("c", "Big", 20, 1000, 8),
            job("d", "tiny", 30, 1, 1),
        ];
        let nodes = ClusterShape {
            nodes: 2,
            gpus_per_node: 8,
            gpu_product: None,
        }
        .nodes();
        let (_, s) = scenario_yaml(&jobs, &nodes, &opts()).expect("writes");
        let w: Vec<_> = s.queues.iter().map(|q| (q.name.as_str(), q.weight, q.jobs)).collect();
        // x: 400 GPU-s, big: 8000, tiny: 1 of 8401.
        assert_eq!(w, [("vc-big", 952, 1), ("vc-tiny", 1, 1), ("vc-x", 48, 2)]);
        assert_eq!((s.cluster_gpus, s.span_s, s.gpu_seconds), (16, 30, 8401));
        // Demand: 3 GPUs from 0, 4 from 10, 12 from 20, 13 from 30 to 31, 9 from 100 (a ends).
        assert_eq!((s.over_capacity_s, s.peak_demand_gpus), (0, 13));
        let (over, peak) = unconstrained_demand(&jobs, 11);
        assert_eq!((over, peak), (80, 13), "above 11 GPUs from 20 s to 100 s");
    }

    #[test]
    fn the_yaml_loads_and_simulates_as_gangs_with_estimates() {
        let jobs = [
            job("j1", "vc", 0, 600, 12),
            job("j2", "vc", 60, 30, 1),
            job("huge", "vc", 60, 30, 64),
        ];
        let nodes = ClusterShape {
            nodes: 2,
            gpus_per_node: 8,
            gpu_product: Some("A100".into()),
        }
        .nodes();
        let (yaml, stats) = scenario_yaml(&jobs, &nodes, &opts()).expect("writes");
        assert_eq!((stats.jobs, stats.pods, stats.never_fit), (3, 11, 1));
        let mut sc = crate::Scenario::default();
        sc.add_yaml("trace.yaml", &yaml);
        assert!(sc.diagnostics.is_empty(), "{:?}", sc.diagnostics);
        assert_eq!(
            (sc.nodes.len(), sc.queues.len(), sc.volcano_groups.len(), sc.pods.len()),
            (2, 1, 3, 11)
        );
        let pg = &sc.volcano_groups[0].1;
        assert_eq!(pg.spec.min_member, 2);
        let ann = pg.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(ann.get(EXPECTED_RUNTIME).map(String::as_str), Some("600s"));
        let mut sim = crate::Simulation::new(sc);
        assert!(!sim.has_errors(), "{:?}", sim.diagnostics);
        let pipeline = caldera_plugins::Pipeline::default_pipeline().expect("default pipeline");
        sim.run(&pipeline, &crate::SimOptions::default());
        let r = crate::report(&sim, 0.0);
        let g = |n: &str| r.podgroups.iter().find(|g| g.name == n).expect("group");
        assert_eq!(g("vc-vc/j1").finished_at, Some(600.0));
        assert_eq!(g("vc-vc/j2").started_at, Some(60.0));
        assert_eq!(g("vc-vc/huge").started_at, None);
    }

    #[test]
    fn gpu_models_become_required_node_affinity() {
        let mut j = job("a", "LS", 0, 10, 1);
        j.gpu_models = vec!["T4".into(), "P100".into()];
        let nodes = vec![
            TraceNode {
                name: "t4".into(),
                cpu_milli: 8000,
                memory_mib: 8192,
                gpus: 1,
                model: Some("V100M16".into()),
            },
            TraceNode {
                name: "p100".into(),
                cpu_milli: 8000,
                memory_mib: 65536,
                gpus: 2,
                model: Some("P100".into()),
            },
        ];
        let (yaml, _) = scenario_yaml(&[j], &nodes, &opts()).expect("writes");
        let mut sc = crate::Scenario::default();
        sc.add_yaml("trace.yaml", &yaml);
        let mut sim = crate::Simulation::new(sc);
        let pipeline = caldera_plugins::Pipeline::default_pipeline().expect("default pipeline");
        sim.run(&pipeline, &crate::SimOptions::default());
        let r = crate::report(&sim, 0.0);
        assert_eq!(r.pods[0].placements[0].node, "p100");
    }

    #[test]
    fn bad_options_are_refused() {
        let jobs = [job("a", "g", 0, 1, 1)];
        assert!(scenario_yaml(&jobs, &[], &opts()).is_err());
        let nodes = ClusterShape {
            nodes: 1,
            gpus_per_node: 8,
            gpu_product: None,
        }
        .nodes();
        let bad = EmitOptions {
            gpus_per_pod: 0,
            ..opts()
        };
        assert!(scenario_yaml(&jobs, &nodes, &bad).is_err());
        let bad = EmitOptions {
            estimate_error: 0.5,
            ..opts()
        };
        assert!(scenario_yaml(&jobs, &nodes, &bad).is_err());
    }
}

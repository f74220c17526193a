//! The per-node scores of `nodeorder`, each in whole points 0–100 as kube-scheduler computes
//! them (Volcano calls kube-scheduler's own plugins): they depend only on the pod's class and the
//! node's own state, so the framework caches them per class and node.

use caldera_framework::resource::{CPU, MEMORY};
use caldera_framework::{NodeInfo, ResourceId, TaskSpec};

use crate::predicates::affinity::term_matches;

/// kube-scheduler counts a container without a cpu request as asking for 100m when scoring.
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// … and without a memory request as asking for 200 MiB.
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Image sizes below this add nothing (kube-scheduler's 23 MB threshold).
const IMAGE_MIN_BYTES: i64 = 23 * 1024 * 1024;
/// Per container, image sizes above this add no more (1000 MB).
const IMAGE_MAX_BYTES_PER_CONTAINER: i64 = 1000 * 1024 * 1024;

/// The pod's request of `r` as kube-scheduler's resource scorers see it (non-zero defaults for
/// cpu and memory).
fn non_zero(spec: &TaskSpec, r: ResourceId) -> i64 {
    let v = spec.request.get(r);
    match r {
        CPU if v == 0 => DEFAULT_MILLI_CPU,
        MEMORY if v == 0 => DEFAULT_MEMORY,
        _ => v,
    }
}

/// `NodeResourcesLeastAllocated` over cpu and memory with equal weights.
pub fn least_requested(spec: &TaskSpec, node: &NodeInfo) -> i64 {
    let one = |r: ResourceId| {
        let cap = node.allocatable.get(r);
        let req = node.used.get(r).saturating_add(non_zero(spec, r));
        if cap <= 0 || req > cap {
            0
        } else {
            (cap - req) * 100 / cap
        }
    };
    (one(CPU) + one(MEMORY)) / 2
}

/// `NodeResourcesMostAllocated` over cpu and memory with equal weights.
pub fn most_requested(spec: &TaskSpec, node: &NodeInfo) -> i64 {
    let one = |r: ResourceId| {
        let cap = node.allocatable.get(r);
        let req = node.used.get(r).saturating_add(non_zero(spec, r)).min(cap);
        if cap <= 0 { 0 } else { req * 100 / cap }
    };
    (one(CPU) + one(MEMORY)) / 2
}

/// `NodeResourcesBalancedAllocation` over cpu, memory and (when the pod asks for it)
/// `nvidia.com/gpu`: 100 × (1 − standard deviation of the requested fractions).
pub fn balanced(spec: &TaskSpec, node: &NodeInfo, gpu: Option<ResourceId>) -> i64 {
    let mut fractions: Vec<f64> = Vec::with_capacity(3);
    let mut push = |r: ResourceId| {
        let cap = node.allocatable.get(r);
        if cap > 0 {
            let used = node.used.get(r).saturating_add(spec.request.get(r));
            fractions.push((used as f64 / cap as f64).min(1.0));
        }
    };
    push(CPU);
    push(MEMORY);
    if let Some(g) = gpu.filter(|g| spec.request.get(*g) > 0) {
        push(g);
    }
    let std = match fractions.len() {
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n if n > 2 => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            (fractions.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * 100.0) as i64
}

/// `NodeAffinity` score: the sum of the weights of the preferred terms the node matches. Volcano
/// does not normalise it (its nodeorder.go says so), so neither does Caldera.
pub fn node_affinity(spec: &TaskSpec, node: &NodeInfo) -> i64 {
    spec.node_affinity
        .preferred
        .iter()
        .filter(|p| term_matches(&p.term, node))
        .map(|p| i64::from(p.weight))
        .sum()
}

/// kube-scheduler's image name normalisation: a reference without tag or digest means `:latest`.
pub fn normalized_image(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// `ImageLocality`: the sizes of the pod's images present on the node, each scaled by the share
/// of nodes that have it (so an image everywhere does not pull pods together), mapped from
/// [23 MB, 1000 MB × containers] onto 0–100. `spread(image)` is that share as (nodes with it,
/// all nodes).
pub fn image_locality(images: &[String], node: &NodeInfo, spread: impl Fn(&str) -> (i64, i64)) -> i64 {
    if images.is_empty() {
        return 0;
    }
    let mut sum: i64 = 0;
    for image in images {
        let image = normalized_image(image);
        if let Ok(i) = node.images.binary_search_by(|(n, _)| n.as_str().cmp(&image)) {
            let (with, all) = spread(&image);
            let size = node.images[i].1;
            if all > 0 {
                let scaled = i128::from(size) * i128::from(with) / i128::from(all);
                sum = sum.saturating_add(i64::try_from(scaled).unwrap_or(i64::MAX));
            }
        }
    }
    let max = IMAGE_MAX_BYTES_PER_CONTAINER.saturating_mul(i64::try_from(images.len()).unwrap_or(1));
    let sum = sum.clamp(IMAGE_MIN_BYTES, max);
    (sum - IMAGE_MIN_BYTES).saturating_mul(100) / (max - IMAGE_MIN_BYTES).max(1)
}

/// `TaintToleration` score after kube-scheduler's reverse normalisation: 100 − 100 × count / max,
/// where `max` is the largest count over the nodes considered (100 everywhere when 0).
pub fn taint_toleration(count: i64, max: i64) -> i64 {
    if max <= 0 { 100 } else { 100 - count * 100 / max }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::Resources;

    fn node(cpu: i64, mem: i64, used_cpu: i64, used_mem: i64) -> NodeInfo {
        NodeInfo {
            name: "n".into(),
            labels: Default::default(),
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
            allocatable: Resources::from_pairs([(CPU, cpu), (MEMORY, mem)]),
            used: Resources::from_pairs([(CPU, used_cpu), (MEMORY, used_mem)]),
            releasing: Resources::new(),
            pipelined: Resources::new(),
            nominated: Resources::new(),
            tasks: Vec::new(),
            used_ports: Vec::new(),
            generation: 0,
            images: Default::default(),
        }
    }

    fn pod(cpu: i64, mem: i64) -> TaskSpec {
        TaskSpec {
            request: Resources::from_pairs([(CPU, cpu), (MEMORY, mem)]),
            ..TaskSpec::default()
        }
    }

    #[test]
    fn resource_scores_match_kube_scheduler_arithmetic() {
        // kube-scheduler's documented example: node 4000m / 10000 Mi, pod 3000m / 5000 Mi on an
        // empty node → least: cpu 25, memory 50 → 37; most: 75, 50 → 62; balanced 1 − |0.75−0.5|/2.
        let n = node(4000, 10_000, 0, 0);
        let p = pod(3000, 5000);
        assert_eq!(least_requested(&p, &n), 37);
        assert_eq!(most_requested(&p, &n), 62);
        assert_eq!(balanced(&p, &n, None), 87);
        // Requests beyond capacity score 0 (least) and full (most).
        let full = node(4000, 10_000, 4000, 10_000);
        assert_eq!(least_requested(&p, &full), 0);
        assert_eq!(most_requested(&p, &full), 100);
    }

    #[test]
    fn pods_without_requests_count_kube_defaults() {
        let n = node(1000, 2 * DEFAULT_MEMORY, 0, 0);
        assert_eq!(least_requested(&pod(0, 0), &n), (90 + 50) / 2);
    }

    #[test]
    fn image_locality_and_taint_normalisation() {
        assert_eq!(normalized_image("nginx"), "nginx:latest");
        assert_eq!(normalized_image("registry:5000/app"), "registry:5000/app:latest");
        assert_eq!(normalized_image("app@sha256:abc"), "app@sha256:abc");
        let mut n = node(1, 1, 0, 0);
        n.images = vec![("big:1".into(), 523 * 1024 * 1024)].into();
        // On every node: 500 MB above the floor of a 977 MB range → 51.
        assert_eq!(image_locality(&["big:1".into()], &n, |_| (2, 2)), 51);
        assert_eq!(image_locality(&["other:1".into()], &n, |_| (2, 2)), 0);
        assert_eq!(taint_toleration(0, 0), 100);
        assert_eq!(taint_toleration(1, 2), 50);
        assert_eq!(taint_toleration(2, 2), 0);
    }
}

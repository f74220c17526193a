//! The `nodeorder` scores that depend on pods on other nodes: preferred pod (anti-)affinity and
//! `ScheduleAnyway` topology spread. Pods with such terms are in topology-sensitive classes, so
//! the framework calls `pre_predicate` before every pod: these scores are computed then, for all
//! nodes at once, and normalised to 0–100 as kube-scheduler's NormalizeScore does — over all
//! ready nodes, where kube-scheduler uses the nodes that passed the filters (a documented
//! difference: it changes the scale of a score, not which node is preferred by it alone).

use std::collections::BTreeMap;

use caldera_framework::{NodeId, Snapshot, SpreadMode, TaskId};

use crate::predicates::pod_affinity::{counts, selects};
use crate::predicates::spread;

/// Preferred pod affinity minus anti-affinity, per node: for each term, its weight times the
/// matching pods in the node's domain; then min–max scaled to 0–100 (all 0 when equal).
pub fn pod_affinity(s: &Snapshot, task: TaskId) -> Vec<i64> {
    let t = s.task(task);
    let terms: Vec<(i64, &caldera_framework::PodAffinityTerm)> = t
        .spec
        .preferred_pod_affinity
        .iter()
        .map(|w| (i64::from(w.weight), &w.term))
        .chain(
            t.spec
                .preferred_pod_anti_affinity
                .iter()
                .map(|w| (-i64::from(w.weight), &w.term)),
        )
        .collect();
    // Per term: domain value → Σ weight over matching pods there.
    let mut domains: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); terms.len()];
    for node in &s.nodes {
        for &x in &node.tasks {
            let other = s.task(x);
            if x == task || !counts(other.status) {
                continue;
            }
            for (i, (w, term)) in terms.iter().enumerate() {
                if let Some(v) = node.labels.get(&term.topology_key)
                    && selects(term, &t.namespace, other)
                {
                    *domains[i].entry(v.as_str()).or_insert(0) += w;
                }
            }
        }
    }
    let raw: Vec<i64> = s
        .nodes
        .iter()
        .map(|node| {
            terms
                .iter()
                .enumerate()
                .filter_map(|(i, (_, term))| {
                    node.labels
                        .get(&term.topology_key)
                        .and_then(|v| domains[i].get(v.as_str()))
                })
                .sum()
        })
        .collect();
    let ready = || s.nodes.iter().zip(&raw).filter(|(n, _)| n.ready).map(|(_, r)| *r);
    let (min, max) = (ready().min().unwrap_or(0), ready().max().unwrap_or(0));
    raw.iter()
        .map(|r| if max > min { (r - min) * 100 / (max - min) } else { 0 })
        .collect()
}

/// `ScheduleAnyway` spread per node: Σ over constraints of matching pods in the node's domain ×
/// log(domains + 2) + (maxSkew − 1), rounded; then 100 × (max + min − score) / max over nodes that
/// carry every constraint's key (others score 0).
pub fn topology_spread(s: &Snapshot, task: TaskId) -> Vec<i64> {
    let t = s.task(task);
    let soft: Vec<_> = t
        .spec
        .topology_spread
        .iter()
        .filter(|c| c.mode == SpreadMode::ScheduleAnyway)
        .collect();
    let counted = spread::count(s, task, SpreadMode::ScheduleAnyway);
    let weights: Vec<f64> = counted.iter().map(|d| ((d.counts.len() + 2) as f64).ln()).collect();
    let raw: Vec<Option<i64>> = s
        .node_ids()
        .map(|n: NodeId| {
            let node = s.node(n);
            if !soft.iter().all(|c| node.labels.contains_key(&c.topology_key)) {
                return None;
            }
            let score: f64 = soft
                .iter()
                .zip(&counted)
                .zip(&weights)
                .map(|((c, d), w)| d.of(c, node) as f64 * w + f64::from(c.max_skew - 1))
                .sum();
            Some(score.round() as i64)
        })
        .collect();
    let valid = || {
        s.nodes
            .iter()
            .zip(&raw)
            .filter(|(n, _)| n.ready)
            .filter_map(|(_, r)| *r)
    };
    let (min, max) = (valid().min().unwrap_or(0), valid().max().unwrap_or(0));
    raw.iter()
        .map(|r| match r {
            None => 0,
            Some(_) if max == 0 => 100,
            Some(v) => 100 * (max + min - v) / max,
        })
        .collect()
}

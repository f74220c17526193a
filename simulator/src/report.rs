//! What a simulation reports: the JSON document of `--format json` and the readable table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::sim::Simulation;

/// One placement of a pod.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PlacementJson {
    /// Node name.
    pub node: String,
    /// Seconds.
    pub bound_at: f64,
    /// Seconds, or null while it still holds the node.
    pub ended_at: Option<f64>,
    /// `finished`, `evicted` or null.
    pub end: Option<&'static str>,
}

/// One pod.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PodJson {
    /// `namespace/name`.
    pub name: String,
    /// `namespace/podgroup` or null.
    pub podgroup: Option<String>,
    /// Queue.
    pub queue: String,
    /// Placements, oldest first.
    pub placements: Vec<PlacementJson>,
}

/// One PodGroup.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PodGroupJson {
    /// `namespace/name`.
    pub name: String,
    /// Queue.
    pub queue: String,
    /// minMember.
    pub min_member: u32,
    /// Final phase.
    pub phase: &'static str,
    /// Seconds.
    pub submitted_at: f64,
    /// Seconds, or null.
    pub started_at: Option<f64>,
    /// Seconds, or null.
    pub finished_at: Option<f64>,
    /// Why it is not scheduled, or null.
    pub reason: Option<String>,
    /// Seconds: the first start estimate the scheduler made for it, or null (none made: it
    /// started at once, never fitted, or was beyond `estimate-depth` while it waited).
    pub estimated_start: Option<f64>,
    /// Seconds: the start of the first reservation it held (EASY or conservative backfill), or
    /// null.
    pub reserved_start: Option<f64>,
}

/// Totals.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SummaryJson {
    /// Pods in the scenario.
    pub pods: usize,
    /// Pods bound at least once.
    pub pods_bound: usize,
    /// Seconds from the first submission to the last pod finishing or being bound.
    pub makespan_s: f64,
    /// Mean seconds from submission to first bind, over bound pods.
    pub mean_wait_s: f64,
    /// GPU-time used over GPU-time available during the makespan (MIG slices by compute fraction).
    pub gpu_utilization: f64,
    /// Wall-clock seconds of the whole run.
    pub wall_seconds: f64,
    /// Pods bound per wall-clock second spent in the scheduling pipeline.
    pub decisions_per_second: f64,
    /// Pods evicted (preempt, reclaim, and gangs restarted because they fell below minMember).
    pub evictions: usize,
    /// GPU-hours of work the evicted pods had done (MIG slices by compute fraction).
    pub lost_gpu_hours: f64,
}

/// The whole `--format json` document.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ReportJson {
    /// Pods.
    pub pods: Vec<PodJson>,
    /// PodGroups.
    pub podgroups: Vec<PodGroupJson>,
    /// Totals.
    pub summary: SummaryJson,
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Builds the report of a finished simulation.
pub fn report(sim: &Simulation, wall_seconds: f64) -> ReportJson {
    let pods: Vec<PodJson> = sim
        .pods
        .iter()
        .map(|p| PodJson {
            name: format!("{}/{}", p.record.namespace, p.record.name),
            podgroup: p.podgroup.clone(),
            queue: p.queue.clone(),
            placements: p
                .placements
                .iter()
                .map(|pl| PlacementJson {
                    node: pl.node.clone(),
                    bound_at: secs(pl.bound_at),
                    ended_at: pl.ended_at.map(secs),
                    end: pl.end,
                })
                .collect(),
        })
        .collect();
    let podgroups = sim
        .groups
        .iter()
        .map(|g| PodGroupJson {
            name: format!("{}/{}", g.record.namespace, g.record.name),
            queue: if g.record.queue.is_empty() {
                "default".into()
            } else {
                g.record.queue.clone()
            },
            min_member: g.record.min_member,
            phase: g.record.phase.as_str(),
            submitted_at: secs(g.submit),
            started_at: g.started_at.map(secs),
            finished_at: g.finished_at.map(secs),
            reason: g.reason.clone(),
            estimated_start: g.estimated_start.map(secs),
            reserved_start: g.reserved_start.map(secs),
        })
        .collect();

    let start = sim.pods.iter().map(|p| p.submit).min().unwrap_or(0);
    let end = sim
        .pods
        .iter()
        .flat_map(|p| p.placements.iter().map(|pl| pl.ended_at.unwrap_or(pl.bound_at)))
        .max()
        .unwrap_or(start)
        .max(start);
    let makespan = end - start;
    let bound: Vec<_> = sim.pods.iter().filter(|p| !p.placements.is_empty()).collect();
    let mean_wait = if bound.is_empty() {
        0.0
    } else {
        bound
            .iter()
            .map(|p| secs(p.placements[0].bound_at - p.submit))
            .sum::<f64>()
            / bound.len() as f64
    };
    let used: i128 = sim
        .pods
        .iter()
        .flat_map(|p| p.placements.iter().map(move |pl| (p.gpu_milli, pl)))
        .map(|(g, pl)| i128::from(g) * i128::from(pl.ended_at.unwrap_or(end).min(end) - pl.bound_at))
        .sum();
    let available = i128::from(sim.gpu_capacity_milli) * i128::from(makespan);
    let gpu_utilization = if available > 0 {
        used as f64 / available as f64
    } else {
        0.0
    };
    let decisions = bound.iter().map(|p| p.placements.len()).sum::<usize>();
    let decisions_per_second = if sim.engine_seconds > 0.0 {
        decisions as f64 / sim.engine_seconds
    } else {
        0.0
    };
    ReportJson {
        pods,
        podgroups,
        summary: SummaryJson {
            pods: sim.pods.len(),
            pods_bound: bound.len(),
            makespan_s: secs(makespan),
            mean_wait_s: mean_wait,
            gpu_utilization,
            wall_seconds,
            decisions_per_second,
            evictions: sim.evictions.len(),
            lost_gpu_hours: sim.evictions.iter().map(|e| e.lost_gpu_milli_ms).sum::<i128>() as f64
                / 1000.0
                / 3_600_000.0,
        },
    }
}

/// Jain's fairness index of `xs`: 1 when all are equal, 1/n when one has everything.
pub fn jain_index(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    let sq: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || sq == 0.0 {
        1.0
    } else {
        sum * sum / (xs.len() as f64 * sq)
    }
}

/// The readable report of `--format table`.
pub fn table(sim: &Simulation, r: &ReportJson) -> String {
    let mut out = String::new();
    let s = &r.summary;
    let _ = writeln!(
        out,
        "Simulated {:.0} s in {} cycles: {}/{} pods bound, mean wait {:.1} s, GPU utilization {:.1}%",
        s.makespan_s,
        sim.cycles,
        s.pods_bound,
        s.pods,
        s.mean_wait_s,
        s.gpu_utilization * 100.0
    );
    if s.evictions > 0 {
        let _ = writeln!(
            out,
            "Evictions: {} pods, {:.2} GPU-hours of work lost",
            s.evictions, s.lost_gpu_hours
        );
    }
    let _ = writeln!(
        out,
        "Engine: {:.3} s of wall time in the pipeline, {:.0} pods bound per second (whole run {:.3} s)\n",
        sim.engine_seconds, s.decisions_per_second, s.wall_seconds
    );

    #[derive(Default)]
    struct Q {
        pods: usize,
        bound: usize,
        wait: f64,
        gpu_seconds: f64,
    }
    let mut queues: BTreeMap<&str, Q> = BTreeMap::new();
    for (p, pj) in sim.pods.iter().zip(&r.pods) {
        let q = queues.entry(pj.queue.as_str()).or_default();
        q.pods += 1;
        if let Some(first) = pj.placements.first() {
            q.bound += 1;
            q.wait += first.bound_at - crate::report::secs(p.submit);
        }
        for pl in &pj.placements {
            q.gpu_seconds += p.gpu_milli as f64 / 1000.0 * (pl.ended_at.unwrap_or(s.makespan_s) - pl.bound_at).max(0.0);
        }
    }
    let _ = writeln!(
        out,
        "{:<16} {:>6} {:>6} {:>12} {:>12}",
        "QUEUE", "PODS", "BOUND", "MEAN WAIT s", "GPU-HOURS"
    );
    for (name, q) in &queues {
        let wait = if q.bound > 0 { q.wait / q.bound as f64 } else { 0.0 };
        let _ = writeln!(
            out,
            "{:<16} {:>6} {:>6} {:>12.1} {:>12.2}",
            name,
            q.pods,
            q.bound,
            wait,
            q.gpu_seconds / 3600.0
        );
    }
    let gpu: Vec<f64> = queues.values().map(|q| q.gpu_seconds).filter(|g| *g > 0.0).collect();
    let _ = writeln!(
        out,
        "Jain's fairness index of GPU-time across queues using GPUs: {:.3}\n",
        jain_index(&gpu)
    );

    let _ = writeln!(
        out,
        "{:<32} {:<12} {:>4} {:<10} {:>9} {:>9} {:>9} {:>9}  REASON",
        "PODGROUP", "QUEUE", "MIN", "PHASE", "SUBMIT s", "EST s", "START s", "FINISH s"
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    for g in &r.podgroups {
        let mut reason = g.reason.clone().unwrap_or_default();
        if reason.chars().count() > 100 {
            reason = reason.chars().take(97).collect::<String>() + "...";
        }
        let _ = writeln!(
            out,
            "{:<32} {:<12} {:>4} {:<10} {:>9.0} {:>9} {:>9} {:>9}  {}",
            g.name,
            g.queue,
            g.min_member,
            g.phase,
            g.submitted_at,
            opt(g.estimated_start),
            opt(g.started_at),
            opt(g.finished_at),
            reason
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_index_bounds() {
        assert!((jain_index(&[1.0, 1.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((jain_index(&[1.0, 0.0]) - 0.5).abs() < 1e-12);
        assert_eq!(jain_index(&[]), 1.0);
    }
}

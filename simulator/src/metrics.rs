//! Scheduling-quality metrics of a finished simulation, and the data series the HTML report and
//! the evaluation draw. Definitions (also in docs/evaluation.md):
//!
//! - A *job* is a PodGroup; a pod without one is a job of its own. Its *wait* is the time from its
//!   submission to when it first started (PodGroup phase Running; a lone pod: its first bind).
//!   Jobs that never started are counted in `jobs_not_started` and left out of the wait figures.
//! - *p95 wait* is the nearest-rank 95th percentile of the waits.
//! - *Makespan* and *GPU utilization* are those of the simulator summary: first submission to the
//!   last pod ending; GPU-time used over GPU-time available in that span.
//!   *Utilization in the submission span* uses only [first submission, last submission], where the
//!   trace still feeds the cluster, so the drain at the end does not dilute it.
//! - *Jain's index across queues* is J = (Σx)² / (n·Σx²) over the n queues that have jobs, where
//!   x_q = GPU-seconds queue q used inside the submission span divided by its weight. J = 1 when
//!   every queue got GPU-time in proportion to its weight; 1/n when one queue got all of it.
//! - *Saturated hours* is the time during which at least 95% of the cluster's GPUs were in use.
//! - *Evictions* count placements that ended evicted; *lost GPU-hours* is the GPU-time those
//!   placements had run.
//! - A *delayed head* is a job that was given an estimated start (the first estimate) and started
//!   later than it by more than the tolerance (one scheduling period), or never started although
//!   the simulation went past it.
//!   Every job with an estimate counts: the simulation does not record which estimates were
//!   reservations, so for "heads started later than their reservation" this is an upper bound.

use std::collections::BTreeMap;

use crate::report::{ReportJson, jain_index};
use crate::sim::Simulation;

/// One job as the metrics see it. Times in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct JobTimes {
    /// `namespace/name`.
    pub name: String,
    /// Queue.
    pub queue: String,
    /// GPUs it asks for in total.
    pub gpus: f64,
    /// Submission.
    pub submitted: f64,
    /// First start.
    pub started: Option<f64>,
    /// Completion.
    pub finished: Option<f64>,
    /// The first estimated start the scheduler gave it.
    pub estimated_start: Option<f64>,
}

/// One time a pod held GPUs. Times in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuInterval {
    /// Queue of the pod.
    pub queue: String,
    /// GPUs held.
    pub gpus: f64,
    /// Bound.
    pub from: f64,
    /// Released (the end of the simulation for pods still running).
    pub to: f64,
    /// Whether it ended by eviction.
    pub evicted: bool,
}

/// Everything the metrics are computed from; built from a simulation by [`Inputs::from_simulation`]
/// or directly in tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    /// Jobs, in input order.
    pub jobs: Vec<JobTimes>,
    /// GPU intervals of all pods.
    pub intervals: Vec<GpuInterval>,
    /// Queue weights by name (queues not listed weigh 1).
    pub weights: BTreeMap<String, u32>,
    /// GPUs of the cluster.
    pub cluster_gpus: f64,
    /// Makespan from the simulator summary.
    pub makespan_s: f64,
    /// GPU utilization from the simulator summary.
    pub gpu_utilization: f64,
    /// When the simulation stopped.
    pub end_s: f64,
    /// Tolerance for a start counting as later than its estimate (one scheduling period).
    pub tolerance_s: f64,
}

/// Per-queue figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct QueueMetrics {
    /// Queue.
    pub name: String,
    /// Weight.
    pub weight: u32,
    /// Jobs.
    pub jobs: usize,
    /// Mean wait of its started jobs.
    pub mean_wait_s: f64,
    /// GPU-hours used inside the submission span.
    pub gpu_hours_in_span: f64,
}

/// The headline metrics.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Jobs.
    pub jobs: usize,
    /// Jobs that never started.
    pub jobs_not_started: usize,
    /// Mean wait (s).
    pub mean_wait_s: f64,
    /// Median wait (s).
    pub p50_wait_s: f64,
    /// 95th percentile wait (s).
    pub p95_wait_s: f64,
    /// Makespan (s).
    pub makespan_s: f64,
    /// GPU utilization over the makespan.
    pub gpu_utilization: f64,
    /// GPU utilization inside the submission span.
    pub gpu_utilization_in_span: f64,
    /// Jain's index across queues (see the module doc).
    pub jain_index: f64,
    /// Hours during which at least 95% of the cluster's GPUs were in use.
    pub saturated_hours: f64,
    /// Evicted placements.
    pub evictions: usize,
    /// GPU-hours run by placements that were evicted.
    pub lost_gpu_hours: f64,
    /// Jobs that were given an estimated start.
    pub jobs_with_estimate: usize,
    /// Of those, jobs that started later than their first estimate (beyond the tolerance).
    pub delayed_heads: usize,
    /// Per queue, by name.
    pub queues: Vec<QueueMetrics>,
}

/// Nearest-rank percentile `p` (0–100) of sorted values; 0 for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Inputs {
    /// Builds the inputs from a finished simulation and its report. The simulator of this version
    /// gives no start estimates (the engine makes none), so every `estimated_start` is `None` and
    /// the delayed-head figures read "no estimates"; once the report carries each PodGroup's
    /// first estimate, it is copied here.
    pub fn from_simulation(sim: &Simulation, report: &ReportJson, period_s: f64) -> Inputs {
        let end_s = sim.now as f64 / 1000.0;
        let mut gpus_of_group: BTreeMap<&str, f64> = BTreeMap::new();
        let mut intervals = Vec::new();
        let mut jobs = Vec::new();
        for (p, pj) in sim.pods.iter().zip(&report.pods) {
            let gpus = p.gpu_milli as f64 / 1000.0;
            if let Some(g) = &pj.podgroup {
                *gpus_of_group.entry(g.as_str()).or_default() += gpus;
            } else {
                // A pod without a PodGroup is a job of its own.
                jobs.push(JobTimes {
                    name: pj.name.clone(),
                    queue: pj.queue.clone(),
                    gpus,
                    submitted: p.submit as f64 / 1000.0,
                    started: pj.placements.first().map(|pl| pl.bound_at),
                    finished: pj.placements.last().and_then(|pl| pl.ended_at),
                    estimated_start: None,
                });
            }
            for pl in &pj.placements {
                intervals.push(GpuInterval {
                    queue: pj.queue.clone(),
                    gpus,
                    from: pl.bound_at,
                    to: pl.ended_at.unwrap_or(end_s),
                    evicted: pl.end == Some("evicted"),
                });
            }
        }
        for g in &report.podgroups {
            jobs.push(JobTimes {
                name: g.name.clone(),
                queue: g.queue.clone(),
                gpus: gpus_of_group.get(g.name.as_str()).copied().unwrap_or(0.0),
                submitted: g.submitted_at,
                started: g.started_at,
                finished: g.finished_at,
                estimated_start: None,
            });
        }
        Inputs {
            jobs,
            intervals,
            weights: sim.queues().iter().map(|q| (q.name.clone(), q.weight)).collect(),
            cluster_gpus: sim.gpu_capacity_milli as f64 / 1000.0,
            makespan_s: report.summary.makespan_s,
            gpu_utilization: report.summary.gpu_utilization,
            end_s,
            tolerance_s: period_s,
        }
    }

    /// [first submission, last submission].
    pub fn submission_span(&self) -> (f64, f64) {
        let lo = self.jobs.iter().map(|j| j.submitted).fold(f64::INFINITY, f64::min);
        let hi = self.jobs.iter().map(|j| j.submitted).fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) }
    }

    fn weight(&self, q: &str) -> u32 {
        self.weights.get(q).copied().unwrap_or(1).max(1)
    }

    /// Seconds during which at least `gpus` GPUs were in use (an exact sweep over the intervals).
    pub fn seconds_at_least(&self, gpus: f64) -> f64 {
        let mut edges: Vec<(f64, f64)> = Vec::with_capacity(self.intervals.len() * 2);
        for i in self.intervals.iter().filter(|i| i.to > i.from) {
            edges.push((i.from, i.gpus));
            edges.push((i.to, -i.gpus));
        }
        edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let (mut level, mut total, mut prev) = (0.0, 0.0, f64::NEG_INFINITY);
        for (t, d) in edges {
            // A small epsilon absorbs float sums of GPU counts that should be whole.
            if level >= gpus - 1e-9 && prev.is_finite() {
                total += t - prev;
            }
            level += d;
            prev = t;
        }
        total
    }

    /// Computes the metrics.
    pub fn metrics(&self) -> Metrics {
        let mut waits: Vec<f64> = self
            .jobs
            .iter()
            .filter_map(|j| j.started.map(|s| (s - j.submitted).max(0.0)))
            .collect();
        waits.sort_by(f64::total_cmp);
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };

        let (lo, hi) = self.submission_span();
        let mut in_span: BTreeMap<&str, f64> = BTreeMap::new();
        for j in &self.jobs {
            in_span.entry(j.queue.as_str()).or_default();
        }
        let mut used_in_span = 0.0;
        for iv in &self.intervals {
            let overlap = (iv.to.min(hi) - iv.from.max(lo)).max(0.0) * iv.gpus;
            used_in_span += overlap;
            *in_span.entry(iv.queue.as_str()).or_default() += overlap;
        }
        let shares: Vec<f64> = in_span
            .iter()
            .filter(|(q, _)| self.jobs.iter().any(|j| j.queue == **q))
            .map(|(q, used)| used / f64::from(self.weight(q)))
            .collect();
        let queues = in_span
            .iter()
            .map(|(q, used)| {
                let mine: Vec<f64> = self
                    .jobs
                    .iter()
                    .filter(|j| j.queue == *q)
                    .filter_map(|j| j.started.map(|s| (s - j.submitted).max(0.0)))
                    .collect();
                QueueMetrics {
                    name: q.to_string(),
                    weight: self.weight(q),
                    jobs: self.jobs.iter().filter(|j| j.queue == *q).count(),
                    mean_wait_s: mean(&mine),
                    gpu_hours_in_span: used / 3600.0,
                }
            })
            .collect();

        let evicted: Vec<&GpuInterval> = self.intervals.iter().filter(|i| i.evicted).collect();
        let estimated: Vec<&JobTimes> = self.jobs.iter().filter(|j| j.estimated_start.is_some()).collect();
        let delayed = estimated
            .iter()
            .filter(|j| {
                let due = j.estimated_start.unwrap_or(f64::INFINITY) + self.tolerance_s;
                match j.started {
                    Some(s) => s > due,
                    None => self.end_s > due,
                }
            })
            .count();
        let span_capacity = self.cluster_gpus * (hi - lo);
        Metrics {
            jobs: self.jobs.len(),
            jobs_not_started: self.jobs.iter().filter(|j| j.started.is_none()).count(),
            mean_wait_s: mean(&waits),
            p50_wait_s: percentile(&waits, 50.0),
            p95_wait_s: percentile(&waits, 95.0),
            makespan_s: self.makespan_s,
            gpu_utilization: self.gpu_utilization,
            gpu_utilization_in_span: if span_capacity > 0.0 {
                used_in_span / span_capacity
            } else {
                0.0
            },
            jain_index: jain_index(&shares),
            saturated_hours: self.seconds_at_least(0.95 * self.cluster_gpus) / 3600.0,
            evictions: evicted.len(),
            // A fold from +0.0: an empty f64 sum is -0.0, which would print as "-0.0".
            lost_gpu_hours: evicted
                .iter()
                .map(|i| i.gpus * (i.to - i.from).max(0.0))
                .fold(0.0, |a, b| a + b)
                / 3600.0,
            jobs_with_estimate: estimated.len(),
            delayed_heads: delayed,
            queues,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, queue: &str, submitted: f64, started: Option<f64>, est: Option<f64>) -> JobTimes {
        JobTimes {
            name: name.into(),
            queue: queue.into(),
            gpus: 8.0,
            submitted,
            started,
            finished: started.map(|s| s + 10.0),
            estimated_start: est,
        }
    }

    fn iv(queue: &str, gpus: f64, from: f64, to: f64, evicted: bool) -> GpuInterval {
        GpuInterval {
            queue: queue.into(),
            gpus,
            from,
            to,
            evicted,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 100.0), 20.0);
        assert_eq!(percentile(&[3.0], 95.0), 3.0);
        assert_eq!(percentile(&[], 95.0), 0.0);
    }

    #[test]
    fn waits_evictions_and_delayed_heads() {
        let inputs = Inputs {
            jobs: vec![
                job("a", "q1", 0.0, Some(0.0), None),
                job("b", "q1", 10.0, Some(40.0), Some(40.0)),  // on time
                job("c", "q2", 20.0, Some(61.0), Some(60.0)),  // within one period
                job("d", "q2", 30.0, Some(100.0), Some(70.0)), // late
                job("e", "q2", 100.0, None, Some(150.0)),      // never started, past due
                job("f", "q2", 100.0, None, Some(500.0)),      // never started, not yet due
            ],
            intervals: vec![
                iv("q1", 8.0, 0.0, 100.0, false),
                iv("q2", 4.0, 50.0, 50.0 + 900.0, true),
            ],
            weights: BTreeMap::from([("q1".into(), 1), ("q2".into(), 1)]),
            cluster_gpus: 16.0,
            makespan_s: 1000.0,
            gpu_utilization: 0.5,
            end_s: 200.0,
            tolerance_s: 1.0,
        };
        let m = inputs.metrics();
        assert_eq!((m.jobs, m.jobs_not_started), (6, 2));
        assert_eq!(m.mean_wait_s, (0.0 + 30.0 + 41.0 + 70.0) / 4.0);
        assert_eq!(m.p95_wait_s, 70.0);
        assert_eq!((m.jobs_with_estimate, m.delayed_heads), (5, 2));
        assert_eq!(m.evictions, 1);
        assert!((m.lost_gpu_hours - 1.0).abs() < 1e-9);
        // Span [0, 100]: q1 used 800 GPU-s, q2 4 × 50 = 200 GPU-s, of 1600 available.
        assert!((m.gpu_utilization_in_span - 1000.0 / 1600.0).abs() < 1e-9);
        let expected = jain_index(&[800.0, 200.0]);
        assert!((m.jain_index - expected).abs() < 1e-12);
        assert_eq!(m.queues[1].gpu_hours_in_span, 200.0 / 3600.0);
        // 12 GPUs from 50 to 100 s, of 16: not saturated; at least 12 for 50 s.
        assert_eq!(m.saturated_hours, 0.0);
        assert_eq!(inputs.seconds_at_least(12.0), 50.0);
        assert_eq!(inputs.seconds_at_least(4.0), 950.0);
    }

    #[test]
    fn jain_is_one_when_use_is_proportional_to_weight() {
        let inputs = Inputs {
            jobs: vec![
                job("a", "big", 0.0, Some(0.0), None),
                job("b", "small", 100.0, Some(0.0), None),
            ],
            intervals: vec![iv("big", 12.0, 0.0, 100.0, false), iv("small", 4.0, 0.0, 100.0, false)],
            weights: BTreeMap::from([("big".into(), 3), ("small".into(), 1)]),
            cluster_gpus: 16.0,
            ..Inputs::default()
        };
        let m = inputs.metrics();
        assert!((m.jain_index - 1.0).abs() < 1e-12, "{}", m.jain_index);
        assert!((m.gpu_utilization_in_span - 1.0).abs() < 1e-12);
        assert!(m.lost_gpu_hours.is_sign_positive(), "no evictions is +0, not -0");
    }
}

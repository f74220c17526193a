//! Data series the report charts: GPU utilization over time per queue, the CDF of job waits, and
//! the timeline of the first jobs (for a Gantt chart). Computed from [`crate::metrics::Inputs`].

use std::collections::BTreeMap;

use crate::metrics::Inputs;

/// Utilization over time: for each queue, the fraction of the cluster's GPUs it held, averaged
/// over each of equal time buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct Utilization {
    /// Start of each bucket (s).
    pub starts: Vec<f64>,
    /// Bucket width (s).
    pub width: f64,
    /// Per queue (by name): one value per bucket, in [0, 1].
    pub queues: Vec<(String, Vec<f64>)>,
}

/// One job on the timeline (s).
#[derive(Clone, Debug, PartialEq)]
pub struct GanttRow {
    /// Job name.
    pub name: String,
    /// Queue.
    pub queue: String,
    /// GPUs.
    pub gpus: f64,
    /// Submitted.
    pub submitted: f64,
    /// Started, if it did.
    pub started: Option<f64>,
    /// Ended (finished, or the end of the simulation while running).
    pub ended: Option<f64>,
}

/// Utilization per queue in `buckets` equal buckets from the first submission to the last
/// placement's end.
pub fn utilization(inputs: &Inputs, buckets: usize) -> Utilization {
    let (lo, _) = inputs.submission_span();
    let hi = inputs.intervals.iter().map(|i| i.to).fold(lo, f64::max);
    let n = buckets.max(1);
    let width = ((hi - lo) / n as f64).max(1.0);
    let mut per_queue: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for j in &inputs.jobs {
        per_queue.entry(j.queue.as_str()).or_insert_with(|| vec![0.0; n]);
    }
    for iv in &inputs.intervals {
        let row = per_queue.entry(iv.queue.as_str()).or_insert_with(|| vec![0.0; n]);
        if iv.to <= iv.from || iv.gpus <= 0.0 {
            continue;
        }
        let first = (((iv.from - lo) / width).floor().max(0.0) as usize).min(n - 1);
        let last = (((iv.to - lo) / width).ceil().max(0.0) as usize).min(n);
        for (b, v) in row.iter_mut().enumerate().take(last).skip(first) {
            let (b0, b1) = (lo + b as f64 * width, lo + (b + 1) as f64 * width);
            *v += (iv.to.min(b1) - iv.from.max(b0)).max(0.0) * iv.gpus;
        }
    }
    let cap = inputs.cluster_gpus.max(f64::MIN_POSITIVE) * width;
    Utilization {
        starts: (0..n).map(|b| lo + b as f64 * width).collect(),
        width,
        queues: per_queue
            .into_iter()
            .map(|(q, v)| (q.to_string(), v.into_iter().map(|x| x / cap).collect()))
            .collect(),
    }
}

/// The empirical CDF of waits of started jobs, as (wait s, fraction ≤ it), at most `points`
/// points (evenly spaced in rank; always including the largest wait).
pub fn wait_cdf(inputs: &Inputs, points: usize) -> Vec<(f64, f64)> {
    let mut w: Vec<f64> = inputs
        .jobs
        .iter()
        .filter_map(|j| j.started.map(|s| (s - j.submitted).max(0.0)))
        .collect();
    w.sort_by(f64::total_cmp);
    let n = w.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(points.max(2)).max(1);
    let mut out: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (w[i], (i + 1) as f64 / n as f64))
        .collect();
    if out.last().is_some_and(|&(_, f)| f < 1.0) {
        out.push((w[n - 1], 1.0));
    }
    out
}

/// The first `count` jobs by submission (ties by input order).
pub fn gantt(inputs: &Inputs, count: usize) -> Vec<GanttRow> {
    let mut order: Vec<usize> = (0..inputs.jobs.len()).collect();
    order.sort_by(|&a, &b| {
        inputs.jobs[a]
            .submitted
            .total_cmp(&inputs.jobs[b].submitted)
            .then(a.cmp(&b))
    });
    order
        .into_iter()
        .take(count)
        .map(|i| {
            let j = &inputs.jobs[i];
            GanttRow {
                name: j.name.clone(),
                queue: j.queue.clone(),
                gpus: j.gpus,
                submitted: j.submitted,
                started: j.started,
                ended: j.started.map(|_| j.finished.unwrap_or(inputs.end_s)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{GpuInterval, JobTimes};

    fn inputs() -> Inputs {
        let job = |name: &str, q: &str, sub: f64, start: Option<f64>| JobTimes {
            name: name.into(),
            queue: q.into(),
            gpus: 4.0,
            submitted: sub,
            started: start,
            finished: start.map(|s| s + 50.0),
            estimated_start: None,
        };
        Inputs {
            jobs: vec![
                job("b", "q2", 10.0, Some(20.0)),
                job("a", "q1", 0.0, Some(0.0)),
                job("c", "q1", 10.0, None),
            ],
            intervals: vec![
                GpuInterval {
                    queue: "q1".into(),
                    gpus: 4.0,
                    from: 0.0,
                    to: 50.0,
                    evicted: false,
                },
                GpuInterval {
                    queue: "q2".into(),
                    gpus: 4.0,
                    from: 20.0,
                    to: 100.0,
                    evicted: false,
                },
            ],
            cluster_gpus: 8.0,
            end_s: 100.0,
            ..Inputs::default()
        }
    }

    #[test]
    fn utilization_is_exact_per_bucket() {
        let u = utilization(&inputs(), 4);
        assert_eq!(u.width, 25.0);
        assert_eq!(u.starts, [0.0, 25.0, 50.0, 75.0]);
        assert_eq!(u.queues[0], ("q1".to_string(), vec![0.5, 0.5, 0.0, 0.0]));
        assert_eq!(u.queues[1].1, vec![0.5 * 5.0 / 25.0, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn cdf_ends_at_one_and_gantt_is_in_submission_order() {
        let c = wait_cdf(&inputs(), 100);
        assert_eq!(c, [(0.0, 0.5), (10.0, 1.0)]);
        let g = gantt(&inputs(), 2);
        assert_eq!(g[0].name, "a");
        assert_eq!(g[1].name, "b");
        assert_eq!(g[1].ended, Some(70.0));
        assert!(wait_cdf(&Inputs::default(), 10).is_empty());
    }
}

//! `drf`: dominant resource fairness between the jobs of a queue — the job whose largest share of
//! any cluster resource is smallest goes first. Shares are read from the session's running job
//! totals, so they are current after every placement without state of our own.
//!
//! As victims it offers pods of jobs whose dominant share, once the pod is gone, is still at
//! least the preemptor's share once it has its pod (Volcano's rule), taking each accepted victim
//! off its job's share before judging the next.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use caldera_framework::{Hooks, JobId, Plugin, Resources, Snapshot, TaskId, Victims};

/// Configuration name.
pub const NAME: &str = "drf";

/// The DRF plugin.
#[derive(Default)]
pub struct Drf;

/// A job's dominant share: the largest fraction of any resource the cluster has.
///
/// Floating point is used for ordering only, never for fit; the same inputs give the same value.
pub fn dominant_share(allocated: &Resources, total: &Resources) -> f64 {
    allocated
        .iter()
        .filter_map(|(id, v)| {
            let t = total.get(id);
            (t > 0).then(|| v as f64 / t as f64)
        })
        .fold(0.0, f64::max)
}

impl Plugin for Drf {
    fn name(&self) -> &'static str {
        NAME
    }
    fn hooks(&self) -> Hooks {
        Hooks::JOB_ORDER.with(Hooks::PREEMPTABLE)
    }
    fn preemptable(&self, s: &Snapshot, preemptor: TaskId, candidates: &[TaskId]) -> Victims {
        let p = s.task(preemptor);
        let theirs = dominant_share(&s.job(p.job).allocated.plus(&p.spec.request), &s.total);
        let mut left: BTreeMap<JobId, Resources> = BTreeMap::new();
        let mut out = Vec::new();
        for &v in candidates {
            let victim = s.task(v);
            let alloc = left
                .entry(victim.job)
                .or_insert_with(|| s.job(victim.job).allocated.clone());
            let after = alloc.minus(&victim.spec.request);
            // The same tolerance for float rounding as Volcano's shareDelta.
            if theirs <= dominant_share(&after, &s.total) + 1e-6 {
                *alloc = after;
                out.push(v);
            }
        }
        Victims::Select(out)
    }
    fn job_order(&self, s: &Snapshot, a: JobId, b: JobId) -> Ordering {
        let sa = dominant_share(&s.job(a).allocated, &s.total);
        let sb = dominant_share(&s.job(b).allocated, &s.total);
        sa.total_cmp(&sb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::resource::{CPU, MEMORY};

    #[test]
    fn dominant_share_is_the_largest_fraction() {
        let total = Resources::from_pairs([(CPU, 100_000), (MEMORY, 1000)]);
        let a = Resources::from_pairs([(CPU, 10_000), (MEMORY, 500)]);
        assert!((dominant_share(&a, &total) - 0.5).abs() < 1e-12);
        assert_eq!(dominant_share(&Resources::new(), &total), 0.0);
    }
}

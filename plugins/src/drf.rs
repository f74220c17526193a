//! `drf`: dominant resource fairness between the jobs of a queue — the job whose largest share of
//! any cluster resource is smallest goes first. Shares are read from the session's running job
//! totals, so they are current after every placement without state of our own.

use std::cmp::Ordering;

use caldera_framework::{Hooks, JobId, Plugin, Resources, Snapshot};

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
        Hooks::JOB_ORDER
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

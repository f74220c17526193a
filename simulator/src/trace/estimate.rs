//! Expected-runtime estimates with a controlled, reproducible error.
//!
//! A job's estimate is its true run time times a factor `E^u`, where `E ≥ 1` is the configured
//! error (`--estimate-error`) and `u` is uniform on [-1, 1]: the factor is log-uniform between
//! `1/E` and `E`, so under- and over-estimates are equally likely and `E = 1` is exact. `u` comes
//! from a SplitMix64 stream seeded by `--seed`, one draw per job in submission order, and is drawn
//! whatever `E` is, so runs with different errors perturb the same jobs in the same direction.
//! SplitMix64 is Caldera's own (`caldera_framework::rng`), so a seed gives the same workload
//! whatever crate versions are in the lock file.

use caldera_framework::rng::SplitMix64;

/// Estimates for a sequence of jobs.
#[derive(Clone, Debug)]
pub struct Estimator {
    rng: SplitMix64,
    ln_error: f64,
}

impl Estimator {
    /// `error` must be at least 1 (1: exact estimates).
    pub fn new(error: f64, seed: u64) -> Result<Estimator, super::TraceError> {
        if !error.is_finite() || error < 1.0 {
            return Err(super::TraceError::Options(format!(
                "--estimate-error must be a number >= 1 (1 = exact, 2 = up to 2x off either way), got {error}"
            )));
        }
        Ok(Estimator {
            rng: SplitMix64::new(seed),
            ln_error: error.ln(),
        })
    }

    /// The estimate in whole seconds (at least 1) for the next job, whose true run time is
    /// `true_s` seconds.
    pub fn estimate(&mut self, true_s: i64) -> i64 {
        let u = self.rng.next_unit() * 2.0 - 1.0;
        let factor = (u * self.ln_error).exp();
        ((true_s as f64 * factor).round() as i64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_sequence() {
        // First outputs of SplitMix64 seeded with 0, as in the reference implementation.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn exact_when_error_is_one_and_bounded_otherwise() {
        let mut exact = Estimator::new(1.0, 7).expect("valid");
        assert!((0..100).all(|_| exact.estimate(3600) == 3600));
        let mut e = Estimator::new(2.0, 7).expect("valid");
        let v: Vec<i64> = (0..2000).map(|_| e.estimate(3600)).collect();
        assert!(v.iter().all(|&x| (1800..=7200).contains(&x)));
        let over = v.iter().filter(|&&x| x > 3600).count();
        assert!((800..1200).contains(&over), "about half over-estimated: {over}");
        assert!(Estimator::new(0.5, 1).is_err());
        assert!(Estimator::new(f64::NAN, 1).is_err());
    }

    #[test]
    fn the_same_jobs_err_in_the_same_direction_whatever_the_error() {
        let mut a = Estimator::new(2.0, 42).expect("valid");
        let mut b = Estimator::new(4.0, 42).expect("valid");
        for _ in 0..200 {
            let (x, y) = (a.estimate(10_000), b.estimate(10_000));
            assert_eq!(x.cmp(&10_000), y.cmp(&10_000));
        }
    }
}

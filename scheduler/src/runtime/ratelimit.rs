//! Client-side rate limiting of Kubernetes API requests (`--kube-api-qps` / `--kube-api-burst`).
//!
//! kube-rs has no client-side rate limiter, unlike client-go, whose token bucket is what
//! kube-scheduler's `--kube-api-qps` and `--kube-api-burst` configure. [`RateLimiter`] gives
//! those two flags the same meaning here: a bucket that holds at most `burst` tokens, starts
//! full, and refills at `qps` tokens per second; every request takes one token.
//!
//! Waiting is done by *reservation*: a caller that finds the bucket empty takes a token "on
//! credit" (the balance goes negative) and sleeps exactly until that token will have been
//! refilled. There is no polling loop, and callers are served in the order in which they reached
//! the bucket, so a busy task cannot starve the others.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A token-bucket rate limiter shared by every task that talks to the API server.
///
/// Cloning is cheap and every clone draws from the same bucket. The clock is
/// [`tokio::time::Instant`], so tests can drive the limiter with paused time.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    /// `None` when unlimited (`qps <= 0`): [`RateLimiter::acquire`] then returns at once.
    inner: Option<Arc<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens added per second (> 0).
    qps: f64,
    /// Bucket capacity (>= 1).
    burst: f64,
    /// A std mutex is right here: it is only held for a few arithmetic operations, never across
    /// an `.await`.
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    /// Available tokens; negative when callers hold reservations they are still waiting for.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl RateLimiter {
    /// A limiter allowing `qps` requests per second on average, with bursts of up to `burst`.
    ///
    /// `qps <= 0` (or NaN) means unlimited, as with client-go's `QPS < 0`. A `burst` of 0 with
    /// a positive `qps` is treated as 1: client-go would block forever, which is never what the
    /// operator meant.
    pub fn new(qps: f64, burst: u32) -> Self {
        if qps.is_nan() || qps <= 0.0 || qps.is_infinite() {
            return Self { inner: None };
        }
        let burst = f64::from(burst.max(1));
        let bucket = Bucket {
            qps,
            burst,
            state: Mutex::new(BucketState {
                tokens: burst,
                last: Instant::now(),
            }),
        };
        Self {
            inner: Some(Arc::new(bucket)),
        }
    }

    /// Whether this limiter never waits.
    pub fn is_unlimited(&self) -> bool {
        self.inner.is_none()
    }

    /// Waits until a token is available and takes it.
    ///
    /// The token is reserved before sleeping, so if the returned future is dropped while it
    /// waits, its slot is still spent: the limiter errs on the side of sending fewer requests,
    /// never more than `qps` allows.
    pub async fn acquire(&self) {
        let Some(bucket) = &self.inner else {
            return;
        };
        let wait = bucket.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl Bucket {
    /// Takes one token at `now` and returns how long the caller must wait before using it.
    fn reserve(&self, now: Instant) -> Duration {
        // A poisoned lock only means another task panicked between two float operations; the
        // state is still a usable number, so keep going rather than propagate the panic.
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.qps).min(self.burst);
        state.last = now;
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / self.qps)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The bucket arithmetic is tested with explicit instants, which is exact and instant.
    //! (tokio's paused clock would do the same through `acquire`, but needs tokio's `test-util`
    //! feature, which this crate does not enable.) `acquire` itself is then checked on the real
    //! clock with lower bounds only, since a sleep may overrun but never returns early.

    use super::*;

    /// Allow for float rounding in `Duration::from_secs_f64`.
    const SLACK: Duration = Duration::from_micros(10);

    fn bucket(limiter: &RateLimiter) -> &Bucket {
        limiter.inner.as_deref().expect("limited")
    }

    fn close(got: Duration, expected: Duration) -> bool {
        got + SLACK >= expected && got <= expected + SLACK
    }

    #[test]
    fn burst_tokens_are_immediate() {
        let limiter = RateLimiter::new(10.0, 5);
        let b = bucket(&limiter);
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(b.reserve(t0), Duration::ZERO, "token {i}");
        }
    }

    #[test]
    fn rate_holds_after_the_burst() {
        let limiter = RateLimiter::new(10.0, 5);
        let b = bucket(&limiter);
        let t0 = Instant::now();
        for _ in 0..5 {
            b.reserve(t0);
        }
        // A caller that comes back as soon as it is allowed gets a token every 100 ms.
        let mut now = t0;
        for i in 1..=20u32 {
            now += b.reserve(now);
            let expected = Duration::from_millis(100) * i;
            assert!(
                close(now - t0, expected),
                "token {i} at {:?}, expected {expected:?}",
                now - t0
            );
        }
    }

    /// Callers arriving together are served one per 1/qps, in arrival order: reservations
    /// queue up instead of racing, which is what makes the limiter fair without polling.
    #[test]
    fn simultaneous_callers_queue_in_arrival_order() {
        let limiter = RateLimiter::new(20.0, 4);
        let b = bucket(&limiter);
        let t0 = Instant::now();
        for id in 0..40u32 {
            let wait = b.reserve(t0);
            let expected = Duration::from_millis(50) * id.saturating_sub(3);
            assert!(
                close(wait, expected),
                "caller {id} waits {wait:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn idle_time_refills_up_to_burst_only() {
        let limiter = RateLimiter::new(10.0, 3);
        let b = bucket(&limiter);
        let t0 = Instant::now();
        for _ in 0..3 {
            b.reserve(t0);
        }
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.reserve(later), Duration::ZERO);
        }
        assert!(close(b.reserve(later), Duration::from_millis(100)));
    }

    #[test]
    fn partial_refill_is_counted() {
        let limiter = RateLimiter::new(10.0, 1);
        let b = bucket(&limiter);
        let t0 = Instant::now();
        assert_eq!(b.reserve(t0), Duration::ZERO);
        // 40 ms later, 0.4 of a token has accrued: 60 ms to go.
        assert!(close(
            b.reserve(t0 + Duration::from_millis(40)),
            Duration::from_millis(60)
        ));
    }

    #[test]
    fn zero_burst_means_one() {
        let limiter = RateLimiter::new(2.0, 0);
        let b = bucket(&limiter);
        let t0 = Instant::now();
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert!(close(b.reserve(t0), Duration::from_millis(500)));
    }

    #[tokio::test]
    async fn unlimited_never_waits() {
        for limiter in [
            RateLimiter::new(0.0, 0),
            RateLimiter::new(-1.0, 10),
            RateLimiter::new(f64::NAN, 1),
            RateLimiter::new(f64::INFINITY, 1),
        ] {
            assert!(limiter.is_unlimited());
            let start = std::time::Instant::now();
            for _ in 0..100_000 {
                limiter.acquire().await;
            }
            // No sleeping at all: 100k calls finish far below one token period of any real limit.
            assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
        }
    }

    /// `acquire` on the real clock, shared by many tasks: 4 burst tokens, then 200/s, so 24
    /// acquisitions cannot finish in under 100 ms.
    #[tokio::test]
    async fn acquire_waits_for_the_rate_across_tasks() {
        let limiter = RateLimiter::new(200.0, 4);
        let start = std::time::Instant::now();
        let mut handles = Vec::new();
        for _ in 0..24 {
            let limiter = limiter.clone();
            handles.push(tokio::spawn(async move { limiter.acquire().await }));
        }
        for handle in handles {
            handle.await.expect("task panicked");
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed + Duration::from_millis(1) >= Duration::from_millis(100),
            "{elapsed:?}"
        );
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}

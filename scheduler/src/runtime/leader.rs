//! Leader election on a `coordination.k8s.io/v1` Lease, with kube-scheduler's semantics.
//!
//! Several Caldera replicas may run; exactly one — the holder of the Lease — schedules. The
//! others keep warm caches and stand by. The protocol is client-go's `leaderelection` over a
//! Lease object:
//!
//! * every `retry_period` each candidate reads the Lease;
//! * if there is none, it creates one naming itself (the API server lets only one create win);
//! * if it holds the Lease, it renews it (new `renewTime`);
//! * if nobody holds it (`holderIdentity` empty, e.g. after a clean release), or the holder let it
//!   expire (`renewTime + leaseDurationSeconds` is past), it takes it over, incrementing
//!   `leaseTransitions`;
//! * every write is a `replace` carrying the `resourceVersion` that was read, so of two candidates
//!   racing for the same Lease only one write succeeds; the other gets `409 Conflict` and simply
//!   tries again next round.
//!
//! **Clock skew.** Expiry by `renewTime` compares the holder's clock with ours. As in client-go,
//! a candidate additionally only takes over a Lease from another holder once it has itself seen
//! the Lease *unchanged* for `leaseDurationSeconds` of its own monotonic clock. So a candidate
//! whose wall clock runs fast cannot steal a live Lease. The price: a freshly started candidate
//! that finds an abandoned (not released) Lease waits one lease duration before taking it.
//!
//! **Losing the Lease is fatal on purpose.** If the leader cannot renew within `renew_deadline`
//! (which is shorter than the lease duration, so this happens *before* anybody else may take
//! over), or sees that somebody else holds the Lease, [`run`] sets the leader flag to `false` and
//! returns [`LeaderError::Lost`]; the process is expected to exit and start afresh. A leader's
//! in-memory state — pods assumed but not yet bound, binds in flight, cached allocations — is
//! only valid while it is the sole writer. Continuing as a standby with that state, and later
//! becoming leader again on top of it, risks binding a pod that the interim leader already
//! bound elsewhere. A fresh process rebuilds everything from the API server: no double binding.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Where the Lease lives, who we are, and the timings (kube-scheduler's
/// `--leader-elect-lease-duration`, `--leader-elect-renew-deadline`, `--leader-elect-retry-period`;
/// its defaults are 15 s, 10 s and 2 s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Name of the Lease object.
    pub name: String,
    /// Namespace of the Lease object.
    pub namespace: String,
    /// This candidate's identity, written to `holderIdentity`; must be unique among candidates.
    pub identity: String,
    /// How long a Lease stays valid after its last renewal (written as `leaseDurationSeconds`,
    /// rounded up to whole seconds).
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a failing renewal before giving up leadership. Must be
    /// shorter than `lease_duration`, so the leader stops before others may take over.
    pub renew_deadline: Duration,
    /// Time between two attempts to acquire or renew.
    pub retry_period: Duration,
}

/// Why [`run`] stopped without a shutdown request.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// Leadership was lost: renewals failed for longer than the renew deadline, or another
    /// candidate holds the Lease. The process should exit (see the module docs).
    #[error("lost the leader lease")]
    Lost,
    /// The settings cannot work (e.g. renew deadline not shorter than the lease duration).
    #[error("invalid leader election settings: {0}")]
    InvalidSettings(String),
}

/// A candidate identity like kube-scheduler's (`<hostname>_<unique suffix>`).
///
/// The suffix mixes the process id and the start time, so a restarted process on the same host
/// gets a new identity: a new process must never mistake the old one's Lease for its own, as it
/// would then skip the takeover rules and start scheduling on top of the old holder.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "caldera".to_string());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // Fold the 128-bit nanosecond count into 64 bits; the low bits change fastest.
    let time_bits = (nanos as u64) ^ ((nanos >> 64) as u64);
    format!("{host}_{:x}{:012x}", std::process::id(), time_bits & 0xffff_ffff_ffff)
}

/// What a candidate should do with the Lease it just read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// No Lease exists: create it, naming ourselves.
    Create,
    /// We hold it: renew it.
    Renew,
    /// Nobody holds it, or the holder let it expire: take it over.
    TakeOver,
    /// Somebody else holds a valid Lease.
    Wait,
}

/// The acquire/renew rule, without I/O. `lease_duration` is ours; the Lease's own
/// `leaseDurationSeconds` (the holder's promise) takes precedence when present.
fn decide(lease: Option<&LeaseSpec>, me: &str, now: Timestamp, lease_duration: Duration) -> Decision {
    let Some(spec) = lease else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder.is_empty() {
        return Decision::TakeOver;
    }
    if holder == me {
        return Decision::Renew;
    }
    let Some(MicroTime(renewed)) = spec.renew_time else {
        // A holder that never renewed has no valid claim.
        return Decision::TakeOver;
    };
    let valid_for = record_duration(spec, lease_duration);
    match renewed.checked_add(SignedDuration::from_secs(
        i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX),
    )) {
        Ok(expiry) if expiry > now => Decision::Wait,
        Ok(_) => Decision::TakeOver,
        // Overflow: the expiry lies beyond the representable future.
        Err(_) => Decision::Wait,
    }
}

/// How long the Lease record says it is valid after a renewal.
fn record_duration(spec: &LeaseSpec, fallback: Duration) -> Duration {
    match spec.lease_duration_seconds {
        Some(secs) if secs > 0 => Duration::from_secs(u64::from(secs.unsigned_abs())),
        _ => fallback,
    }
}

/// `lease_duration` as the Lease's `leaseDurationSeconds`: rounded up, at least 1.
fn duration_seconds(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

fn wall_clock_now() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    i128::try_from(nanos)
        .ok()
        .and_then(|n| Timestamp::from_nanosecond(n).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The (holder, renewTime) pair last seen, and since when (our monotonic clock) it has not
/// changed: the clock-skew guard of the module docs.
#[derive(Debug, Default)]
struct Observation {
    record: Option<(Option<String>, Option<MicroTime>)>,
    since: Option<Instant>,
}

impl Observation {
    /// Records what was read at `now` and returns for how long it has been unchanged.
    fn observe(&mut self, spec: Option<&LeaseSpec>, now: Instant) -> Duration {
        let record = spec.map(|s| (s.holder_identity.clone(), s.renew_time.clone()));
        match self.since {
            Some(since) if self.record == record => now.saturating_duration_since(since),
            _ => {
                self.record = record;
                self.since = Some(now);
                Duration::ZERO
            }
        }
    }
}

/// The result of one acquire-or-renew round.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    /// We hold the Lease now (created, renewed or taken over).
    Holding,
    /// Another candidate holds it (or may be about to); `holder` is its identity, if any.
    HeldBy(Option<String>),
    /// Our write lost an optimistic-concurrency race; try again next round.
    Conflict,
}

struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    observation: Observation,
    /// The holder we last logged, to log leader changes once.
    last_seen_holder: Option<String>,
}

impl Elector {
    async fn round(&mut self, is_leader: bool) -> Result<Round, kube::Error> {
        let name = self.settings.name.as_str();
        let me = self.settings.identity.as_str();
        let current = self.api.get_opt(name).await?;
        let now = wall_clock_now();
        let empty = LeaseSpec::default();
        let spec = current.as_ref().map(|lease| lease.spec.as_ref().unwrap_or(&empty));
        let unchanged_for = self.observation.observe(spec, Instant::now());
        let holder = spec.and_then(|s| s.holder_identity.clone()).filter(|h| !h.is_empty());
        if !is_leader && holder != self.last_seen_holder {
            match &holder {
                Some(h) if h != me => tracing::info!(lease = name, holder = %h, "observed leader"),
                _ => {}
            }
            self.last_seen_holder = holder.clone();
        }

        let decision = decide(spec, me, now, self.settings.lease_duration);
        let record_valid_for = spec.map_or(self.settings.lease_duration, |s| {
            record_duration(s, self.settings.lease_duration)
        });
        if is_leader && decision != Decision::Renew {
            // Deleted, released or taken over behind our back: somebody else may be scheduling.
            return Ok(Round::HeldBy(holder));
        }
        let ours = duration_seconds(self.settings.lease_duration);
        let write = match (decision, current) {
            (Decision::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.to_string()),
                        namespace: Some(self.settings.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(me.to_string()),
                        lease_duration_seconds: Some(ours),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (Decision::Renew, Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                spec.renew_time = Some(MicroTime(now));
                spec.lease_duration_seconds = Some(ours);
                if spec.acquire_time.is_none() {
                    spec.acquire_time = Some(MicroTime(now));
                }
                self.api.replace(name, &PostParams::default(), &lease).await
            }
            (Decision::TakeOver, Some(mut lease)) => {
                if holder.is_some() && unchanged_for < record_valid_for {
                    // Expired by its renewTime, but we have not yet watched it stand still for a
                    // whole lease duration: maybe our clock is ahead. Wait (see module docs).
                    return Ok(Round::HeldBy(holder));
                }
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                spec.holder_identity = Some(me.to_string());
                spec.lease_duration_seconds = Some(ours);
                spec.acquire_time = Some(MicroTime(now));
                spec.renew_time = Some(MicroTime(now));
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
                self.api.replace(name, &PostParams::default(), &lease).await
            }
            (Decision::Wait, _) | (Decision::Renew | Decision::TakeOver, None) => {
                return Ok(Round::HeldBy(holder));
            }
        };
        match write {
            Ok(_) => Ok(Round::Holding),
            // 409: Conflict on replace, AlreadyExists on create. Someone else won this round.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Round::Conflict),
            Err(err) => Err(err),
        }
    }

    /// Gives the Lease up so a standby can take over at once instead of waiting for expiry.
    async fn release(&self) -> Result<bool, kube::Error> {
        let name = self.settings.name.as_str();
        let Some(mut lease) = self.api.get_opt(name).await? else {
            return Ok(false);
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(false);
        };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(false);
        }
        let now = wall_clock_now();
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(now));
        spec.acquire_time = Some(MicroTime(now));
        match self.api.replace(name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }
}

impl LeaseSettings {
    fn validate(&self) -> Result<(), LeaderError> {
        let invalid = |msg: String| Err(LeaderError::InvalidSettings(msg));
        if self.name.is_empty() || self.namespace.is_empty() {
            return invalid("the lease name and namespace must not be empty".into());
        }
        if self.identity.is_empty() {
            return invalid("the candidate identity must not be empty".into());
        }
        if self.retry_period.is_zero() {
            return invalid("the retry period must be positive".into());
        }
        if self.renew_deadline <= self.retry_period {
            return invalid(format!(
                "the renew deadline ({:?}) must be longer than the retry period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        if self.lease_duration <= self.renew_deadline {
            return invalid(format!(
                "the lease duration ({:?}) must be longer than the renew deadline ({:?})",
                self.lease_duration, self.renew_deadline
            ));
        }
        Ok(())
    }
}

/// Campaigns for the Lease until `shutdown` is cancelled or leadership is lost.
///
/// `leader` is set to `true` when this candidate acquires the Lease and to `false` when it
/// stops being the leader for any reason; it starts `false`. While not leader, API errors are
/// logged and retried forever (a standby must survive API server outages).
///
/// Returns `Ok(())` on shutdown; if we were leader, `leader` is set to `false` first (stop
/// scheduling), then the Lease is released (holder cleared, `leaseDurationSeconds` 1) so a
/// standby takes over immediately. A failed release is only logged: the Lease then simply
/// expires. Returns [`LeaderError::Lost`] if leadership is lost, after setting `leader` to
/// `false`; the caller should exit the process (see the module docs).
pub async fn run(
    client: kube::Client,
    settings: LeaseSettings,
    leader: watch::Sender<bool>,
    shutdown: CancellationToken,
) -> Result<(), LeaderError> {
    settings.validate()?;
    leader.send_replace(false);
    let mut elector = Elector {
        api: Api::namespaced(client, &settings.namespace),
        settings: settings.clone(),
        observation: Observation::default(),
        last_seen_holder: None,
    };
    let lease = format!("{}/{}", settings.namespace, settings.name);
    tracing::info!(%lease, identity = %settings.identity, "campaigning for leadership");

    // When the last successful acquire/renew *started*: the Lease is valid for others until
    // about then + lease_duration, so we must stop leading by then + renew_deadline.
    let mut renewed_at: Option<Instant> = None;
    // Whether a write may have reached the API server unbeknownst to us (timed out or
    // cancelled mid-round): then the Lease may name us, and shutdown must check and release.
    let mut maybe_holder = false;

    let result = loop {
        let started = Instant::now();
        let budget = match renewed_at {
            Some(at) => {
                let left = settings
                    .renew_deadline
                    .saturating_sub(started.saturating_duration_since(at));
                if left.is_zero() {
                    break Err(LeaderError::Lost);
                }
                left
            }
            None => settings.renew_deadline,
        };
        let round = tokio::select! {
            () = shutdown.cancelled() => {
                maybe_holder = true;
                break Ok(());
            }
            round = tokio::time::timeout(budget, elector.round(renewed_at.is_some())) => round,
        };
        match round {
            Ok(Ok(Round::Holding)) => {
                maybe_holder = false;
                if renewed_at.is_none() {
                    tracing::info!(%lease, identity = %settings.identity, "acquired leadership");
                    leader.send_replace(true);
                }
                renewed_at = Some(started);
            }
            Ok(Ok(Round::HeldBy(holder))) => {
                maybe_holder = false;
                if renewed_at.is_some() {
                    tracing::error!(%lease, holder = holder.as_deref().unwrap_or(""), "lease no longer ours");
                    break Err(LeaderError::Lost);
                }
            }
            Ok(Ok(Round::Conflict)) => {
                maybe_holder = false;
                tracing::debug!(%lease, "lease write conflicted; retrying");
            }
            Ok(Err(err)) => {
                maybe_holder = true;
                if renewed_at.is_some() {
                    tracing::warn!(%lease, error = %err, "failed to renew lease");
                } else {
                    tracing::warn!(%lease, error = %err, "failed to acquire lease");
                }
            }
            Err(_elapsed) => {
                maybe_holder = true;
                tracing::warn!(%lease, timeout = ?budget, "lease request timed out");
            }
        }
        if let Some(at) = renewed_at
            && at.elapsed() >= settings.renew_deadline
        {
            break Err(LeaderError::Lost);
        }
        tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            () = tokio::time::sleep(settings.retry_period) => {}
        }
    };

    let was_leader = renewed_at.is_some();
    leader.send_replace(false);
    match result {
        Err(err) => {
            if was_leader {
                tracing::error!(%lease, identity = %settings.identity, "lost leadership; exiting so a fresh start rebuilds state");
            }
            Err(err)
        }
        Ok(()) => {
            if was_leader || maybe_holder {
                let release = tokio::time::timeout(settings.renew_deadline, elector.release()).await;
                match release {
                    Ok(Ok(true)) => tracing::info!(%lease, identity = %settings.identity, "released leadership"),
                    Ok(Ok(false)) => {}
                    Ok(Err(err)) => tracing::warn!(%lease, error = %err, "failed to release lease; it will expire"),
                    Err(_) => tracing::warn!(%lease, "releasing the lease timed out; it will expire"),
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DURATION: Duration = Duration::from_secs(15);

    fn ts(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).expect("valid timestamp")
    }

    fn spec(holder: Option<&str>, renewed: Option<i64>, duration: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: renewed.map(|s| MicroTime(ts(s))),
            lease_duration_seconds: duration,
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn missing_lease_is_created() {
        assert_eq!(decide(None, "me", ts(0), DURATION), Decision::Create);
    }

    #[test]
    fn own_lease_is_renewed_even_if_expired() {
        let s = spec(Some("me"), Some(0), Some(15));
        assert_eq!(decide(Some(&s), "me", ts(5), DURATION), Decision::Renew);
        assert_eq!(decide(Some(&s), "me", ts(500), DURATION), Decision::Renew);
    }

    #[test]
    fn released_or_empty_lease_is_taken_over() {
        for holder in [None, Some("")] {
            let s = spec(holder, Some(0), Some(1));
            assert_eq!(decide(Some(&s), "me", ts(0), DURATION), Decision::TakeOver);
        }
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "me", ts(0), DURATION),
            Decision::TakeOver
        );
    }

    #[test]
    fn valid_foreign_lease_is_respected() {
        let s = spec(Some("other"), Some(0), Some(15));
        assert_eq!(decide(Some(&s), "me", ts(0), DURATION), Decision::Wait);
        assert_eq!(decide(Some(&s), "me", ts(14), DURATION), Decision::Wait);
    }

    #[test]
    fn expired_foreign_lease_is_taken_over() {
        let s = spec(Some("other"), Some(0), Some(15));
        assert_eq!(decide(Some(&s), "me", ts(15), DURATION), Decision::TakeOver);
        assert_eq!(decide(Some(&s), "me", ts(100), DURATION), Decision::TakeOver);
    }

    #[test]
    fn holders_duration_wins_over_ours() {
        // The holder promised 60 s; our own 15 s setting does not shorten its claim.
        let s = spec(Some("other"), Some(0), Some(60));
        assert_eq!(decide(Some(&s), "me", ts(30), DURATION), Decision::Wait);
        assert_eq!(decide(Some(&s), "me", ts(60), DURATION), Decision::TakeOver);
        // Without a duration in the record, ours applies.
        let s = spec(Some("other"), Some(0), None);
        assert_eq!(decide(Some(&s), "me", ts(14), DURATION), Decision::Wait);
        assert_eq!(decide(Some(&s), "me", ts(15), DURATION), Decision::TakeOver);
    }

    #[test]
    fn foreign_lease_without_renew_time_is_taken_over() {
        let s = spec(Some("other"), None, Some(15));
        assert_eq!(decide(Some(&s), "me", ts(0), DURATION), Decision::TakeOver);
    }

    #[test]
    fn observation_measures_how_long_the_record_stood_still() {
        let mut obs = Observation::default();
        let t0 = Instant::now();
        let a = spec(Some("other"), Some(0), Some(15));
        let b = spec(Some("other"), Some(2), Some(15));
        assert_eq!(obs.observe(Some(&a), t0), Duration::ZERO);
        assert_eq!(
            obs.observe(Some(&a), t0 + Duration::from_secs(3)),
            Duration::from_secs(3)
        );
        // A renewal resets the clock.
        assert_eq!(obs.observe(Some(&b), t0 + Duration::from_secs(4)), Duration::ZERO);
        assert_eq!(
            obs.observe(Some(&b), t0 + Duration::from_secs(20)),
            Duration::from_secs(16)
        );
        // So does the Lease disappearing.
        assert_eq!(obs.observe(None, t0 + Duration::from_secs(21)), Duration::ZERO);
    }

    #[test]
    fn lease_duration_rounds_up_to_whole_seconds() {
        assert_eq!(duration_seconds(Duration::from_secs(15)), 15);
        assert_eq!(duration_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(duration_seconds(Duration::from_millis(10)), 1);
        assert_eq!(duration_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn settings_are_validated() {
        let good = LeaseSettings {
            name: "caldera".into(),
            namespace: "volcano-system".into(),
            identity: default_identity(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        };
        assert!(good.validate().is_ok());
        let bad = [
            LeaseSettings {
                renew_deadline: Duration::from_secs(15),
                ..good.clone()
            },
            LeaseSettings {
                retry_period: Duration::from_secs(10),
                ..good.clone()
            },
            LeaseSettings {
                retry_period: Duration::ZERO,
                ..good.clone()
            },
            LeaseSettings {
                identity: String::new(),
                ..good.clone()
            },
        ];
        for settings in bad {
            assert!(
                matches!(settings.validate(), Err(LeaderError::InvalidSettings(_))),
                "{settings:?}"
            );
        }
    }

    #[test]
    fn identities_are_unique_and_name_the_host() {
        let a = default_identity();
        std::thread::sleep(Duration::from_millis(1));
        let b = default_identity();
        assert_ne!(a, b);
        let (host, suffix) = a.rsplit_once('_').expect("host_suffix");
        assert!(!host.is_empty());
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    }
}

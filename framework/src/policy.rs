//! The start policy of a pipeline: in what order jobs may start, which pending jobs hold a
//! reservation, and how long pods are expected to run. Parsed once from the `allocate` and
//! `backfill` entries of the configuration (see `caldera_plugins::registry`), shared by those
//! actions and by the start-time estimates written at the end of every cycle.
//!
//! | policy | `allocate` | `backfill` `mode` |
//! |---|---|---|
//! | Volcano (greedy) | `strict-order: false` | `best-effort` |
//! | FIFO gang | `strict-order: true` | (no backfill action) |
//! | EASY backfill | `strict-order: true` | `easy` |
//! | conservative backfill | `strict-order: true` | `conservative`, `reservation-depth: K` |

use crate::model::{JobSource, Millis, TaskId, TaskStatus};
use crate::snapshot::Snapshot;

/// Which pending jobs hold a reservation that later jobs may not disturb.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reservations {
    /// None: Volcano's greedy allocation, or strict FIFO.
    #[default]
    None,
    /// The first job of each queue that cannot start (EASY backfill).
    Easy,
    /// The first `k` jobs of each queue that cannot start (conservative backfill).
    Conservative(usize),
}

impl Reservations {
    /// How many blocked jobs per queue hold a reservation.
    pub fn depth(self) -> usize {
        match self {
            Reservations::None => 0,
            Reservations::Easy => 1,
            Reservations::Conservative(k) => k,
        }
    }
}

/// Default of `default-expected-runtime`: pods that say nothing are expected to run an hour.
pub const DEFAULT_EXPECTED_RUNTIME: Millis = 3_600_000;
/// Default of `estimate-depth`.
pub const DEFAULT_ESTIMATE_DEPTH: usize = 32;

/// How a pipeline starts jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartPolicy {
    /// A queue's first job that cannot start blocks the jobs behind it (`allocate`
    /// `strict-order`).
    pub strict_order: bool,
    /// Which blocked jobs hold reservations (`backfill` `mode`, `reservation-depth`).
    pub reservations: Reservations,
    /// A job pending longer than this always holds a reservation (`backfill`
    /// `starvation-threshold`), whatever its place in its queue.
    pub starvation_threshold: Option<Millis>,
    /// Expected run time of pods for which neither the pod, its PodGroup nor its queue says
    /// (`allocate` `default-expected-runtime`); `None`: such pods are expected to run forever.
    pub default_runtime: Option<Millis>,
    /// Pending jobs per queue that get a start estimate each cycle (`allocate` `estimate-depth`).
    pub estimate_depth: usize,
    /// Least time between two estimate passes (`allocate` `estimate-interval`, as Slurm's
    /// `bf_interval`); 0: every cycle. Planning the start of every waiting job is the costliest
    /// part of a cycle with a deep backlog, and most of it would come out the same a second later.
    /// Reservations are not affected: they are checked and made every cycle.
    pub estimate_interval: Millis,
}

impl StartPolicy {
    /// Whether a cycle at `now` makes start estimates, the last pass having been at `last`
    /// (`None`: never). A clock that went back (a new driver, a test) counts as due.
    pub fn estimates_due(&self, now: Millis, last: Option<Millis>) -> bool {
        match last {
            None => true,
            Some(l) => self.estimate_interval <= 0 || now < l || now >= l.saturating_add(self.estimate_interval),
        }
    }
}

impl Default for StartPolicy {
    fn default() -> Self {
        StartPolicy {
            strict_order: false,
            reservations: Reservations::None,
            starvation_threshold: None,
            default_runtime: Some(DEFAULT_EXPECTED_RUNTIME),
            estimate_depth: DEFAULT_ESTIMATE_DEPTH,
            estimate_interval: 0,
        }
    }
}

impl std::fmt::Display for StartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let order = if self.strict_order {
            "strict queue order"
        } else {
            "greedy (any job that fits)"
        };
        let reservations = match self.reservations {
            Reservations::None => "no reservations".to_string(),
            Reservations::Easy => "EASY backfill (the first waiting job of each queue is reserved)".to_string(),
            Reservations::Conservative(k) => {
                format!("conservative backfill (the first {k} waiting jobs of each queue are reserved)")
            }
        };
        let runtime = self.default_runtime.map_or(
            "none (pods that give none run forever)".to_string(),
            crate::duration::format_duration,
        );
        write!(f, "{order}, {reservations}")?;
        if let Some(t) = self.starvation_threshold {
            write!(f, ", starving after {}", crate::duration::format_duration(t))?;
        }
        write!(
            f,
            "; default expected run time {runtime}; {} start estimates per queue",
            self.estimate_depth
        )?;
        if self.estimate_interval > 0 {
            write!(
                f,
                " at most every {}",
                crate::duration::format_duration(self.estimate_interval)
            )?;
        }
        Ok(())
    }
}

/// `Millis::MAX`: "never", for pods expected to run forever.
pub const NEVER: Millis = Millis::MAX;

impl StartPolicy {
    /// How long `task` is expected to run once started; `None` for "forever".
    pub fn runtime(&self, s: &Snapshot, task: TaskId) -> Option<Millis> {
        s.task(task).expected_runtime.or(self.default_runtime)
    }

    /// When `task`, which holds (or is about to hold) a node, is expected to free it ([`NEVER`]
    /// if never). A pod being deleted, or one past its expected end, is expected gone by the next
    /// cycle; pods of other schedulers (daemons, system pods) are expected to stay.
    pub fn expected_end(&self, s: &Snapshot, task: TaskId) -> Millis {
        let t = s.task(task);
        let next_cycle = s.now.saturating_add(s.period);
        if t.status == TaskStatus::Releasing {
            return next_cycle;
        }
        if s.job(t.job).source == JobSource::Foreign {
            return NEVER;
        }
        let Some(runtime) = self.runtime(s, task) else {
            return NEVER;
        };
        let end = t.started.unwrap_or(s.now).saturating_add(runtime);
        if end <= s.now { next_cycle } else { end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{PodPhase, PodRecord, SnapshotBuilder};
    use crate::{NodeRecord, TaskId};

    #[test]
    fn expected_end_follows_annotation_default_and_overrun() {
        let mut b = SnapshotBuilder::new();
        b.node(NodeRecord {
            name: "n".into(),
            ready: true,
            ..NodeRecord::default()
        });
        let pod = |name: &str, started: Option<Millis>, rt: Option<Millis>, phase: PodPhase| PodRecord {
            namespace: "ns".into(),
            name: name.into(),
            node_name: Some("n".into()),
            phase,
            started,
            expected_runtime: rt,
            ours: true,
            ..PodRecord::default()
        };
        b.pod(pod("a-annotated", Some(1_000), Some(60_000), PodPhase::Running));
        b.pod(pod("b-default", Some(1_000), None, PodPhase::Running));
        b.pod(pod("c-overrun", Some(1_000), Some(500), PodPhase::Running));
        b.pod(pod("d-not-started", None, Some(10_000), PodPhase::Pending));
        b.period(2_000);
        let s = b.build(5_000);
        let p = StartPolicy::default();
        assert_eq!(p.expected_end(&s, TaskId(0)), 61_000);
        assert_eq!(p.expected_end(&s, TaskId(1)), 1_000 + DEFAULT_EXPECTED_RUNTIME);
        assert_eq!(p.expected_end(&s, TaskId(2)), 7_000, "overrun: gone by the next cycle");
        assert_eq!(
            p.expected_end(&s, TaskId(3)),
            15_000,
            "counted from now until it starts"
        );
        let forever = StartPolicy {
            default_runtime: None,
            ..StartPolicy::default()
        };
        assert_eq!(forever.expected_end(&s, TaskId(1)), NEVER);
    }

    #[test]
    fn estimates_are_due_once_per_interval() {
        let every = StartPolicy::default();
        assert!(every.estimates_due(5_000, Some(4_000)), "no interval: every cycle");
        let p = StartPolicy {
            estimate_interval: 30_000,
            ..StartPolicy::default()
        };
        assert!(p.estimates_due(5_000, None), "the first cycle makes them");
        assert!(!p.estimates_due(34_999, Some(5_000)));
        assert!(p.estimates_due(35_000, Some(5_000)));
        assert!(p.estimates_due(1_000, Some(5_000)), "a clock that went back");
    }
}

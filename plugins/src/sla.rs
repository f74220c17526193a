//! `sla`: a job that has waited longer than its SLA waiting time is admitted at once and keeps
//! the resources it reserved (pipelined placements) even before its gang can start, and jobs are
//! ordered by SLA deadline (creation time + waiting time, earliest first; jobs with an SLA before
//! those without).
//!
//! The waiting time comes from the PodGroup annotation `sla-waiting-time` (Volcano's key; the
//! `volcano.sh/sla-waiting-time` spelling is read too) or else from the plugin argument
//! `sla-waiting-time`. Durations use Go's syntax ("1h30m", "90s").
//!
//! Semantics read from Volcano's `pkg/scheduler/plugins/sla/sla.go`: the plugin *permits* at
//! enqueue and pipelined — in its own tier it outvotes later tiers (overcommit, proportion) —
//! and abstains otherwise. Where Volcano logs and ignores an unparsable or non-positive global
//! waiting time, Caldera refuses the configuration with the argument named; an unparsable
//! annotation is ignored for that job (as in Volcano), which then falls back to the global time.

use std::cmp::Ordering;

use caldera_framework::duration::parse_duration;
use caldera_framework::{Arguments, ConfigError, Hooks, JobId, Millis, Plugin, Snapshot, Vote};

/// Configuration name.
pub const NAME: &str = "sla";
/// The argument and annotation key.
pub const WAITING_TIME: &str = "sla-waiting-time";
/// The prefixed annotation spelling.
pub const WAITING_TIME_PREFIXED: &str = "volcano.sh/sla-waiting-time";

/// The sla plugin.
#[derive(Clone, Debug, Default)]
pub struct Sla {
    global: Option<Millis>,
}

impl Sla {
    /// Reads `sla-waiting-time` (optional; must be a positive duration when given).
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        let global = args.duration(WAITING_TIME)?;
        if let Some(g) = global
            && g <= 0
        {
            return Err(ConfigError::Invalid(format!(
                "argument {WAITING_TIME} must be a positive duration"
            )));
        }
        Ok(Sla { global })
    }

    /// The job's waiting time: its annotation, else the global one.
    pub fn waiting_time(&self, s: &Snapshot, j: JobId) -> Option<Millis> {
        let a = &s.job(j).annotations;
        a.get(WAITING_TIME)
            .or_else(|| a.get(WAITING_TIME_PREFIXED))
            .and_then(|v| parse_duration(v.trim()).ok())
            .filter(|d| *d > 0)
            .or(self.global)
    }

    fn deadline(&self, s: &Snapshot, j: JobId) -> Option<Millis> {
        self.waiting_time(s, j).map(|w| s.job(j).created.saturating_add(w))
    }

    fn overdue(&self, s: &Snapshot, j: JobId) -> Vote {
        match self.deadline(s, j) {
            Some(d) if s.now >= d => Vote::Permit,
            _ => Vote::Abstain,
        }
    }
}

impl Plugin for Sla {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::JOB_ORDER.with(Hooks::JOB_ENQUEUEABLE).with(Hooks::JOB_PIPELINED)
    }

    fn job_order(&self, s: &Snapshot, a: JobId, b: JobId) -> Ordering {
        match (self.deadline(s, a), self.deadline(s, b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => x.cmp(&y),
        }
    }

    fn job_enqueueable(&self, s: &Snapshot, j: JobId) -> Vote {
        self.overdue(s, j)
    }

    fn job_pipelined(&self, s: &Snapshot, j: JobId) -> Vote {
        self.overdue(s, j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_testkit::ClusterBuilder;

    fn args(v: &str) -> Arguments {
        Arguments(
            [(WAITING_TIME.to_string(), serde_yaml_ng::Value::String(v.to_string()))]
                .into_iter()
                .collect(),
        )
    }

    #[test]
    fn annotation_overrides_the_global_waiting_time() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(4).mem_gi(8);
        c.gang("a", "annotated", "default", 1, 1, |p| p.cpu(1)).with_group(|g| {
            g.annotations.insert(WAITING_TIME.into(), "10s".into());
        });
        c.gang("a", "plain", "default", 1, 1, |p| p.cpu(1));
        let s = c.build(20_000);
        let p = Sla::new(&args("1m")).expect("valid");
        assert_eq!(p.waiting_time(&s, JobId(0)), Some(10_000));
        assert_eq!(p.waiting_time(&s, JobId(1)), Some(60_000));
        assert_eq!(p.job_enqueueable(&s, JobId(0)), Vote::Permit, "waited 20 s > 10 s");
        assert_eq!(p.job_enqueueable(&s, JobId(1)), Vote::Abstain, "waited 20 s < 1 min");
        assert_eq!(
            p.job_order(&s, JobId(0), JobId(1)),
            Ordering::Less,
            "earlier deadline first"
        );
    }

    #[test]
    fn jobs_without_sla_go_last_and_bad_input_is_handled() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(4).mem_gi(8);
        c.gang("a", "bad", "default", 1, 1, |p| p.cpu(1)).with_group(|g| {
            g.annotations.insert(WAITING_TIME_PREFIXED.into(), "soon".into());
        });
        c.gang("a", "sla", "default", 1, 1, |p| p.cpu(1)).with_group(|g| {
            g.annotations.insert(WAITING_TIME.into(), "1h".into());
        });
        let s = c.build(0);
        let p = Sla::new(&Arguments::default()).expect("no global");
        assert_eq!(p.waiting_time(&s, JobId(0)), None, "unparsable annotation ignored");
        assert_eq!(p.job_order(&s, JobId(1), JobId(0)), Ordering::Less);
        assert!(Sla::new(&args("-5s")).is_err());
        assert!(Sla::new(&args("eventually")).is_err());
    }
}

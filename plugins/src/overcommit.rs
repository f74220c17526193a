//! `overcommit`: cluster-level admission. A job is admitted (Pending → Inqueue) only if its
//! minResources, plus the part of admitted and running jobs' minResources they do not hold yet,
//! fit in the cluster's capacity × `overcommit-factor` minus what is in use. This keeps controllers from creating pods
//! for jobs that cannot start soon.

use caldera_framework::{Arguments, ConfigError, Hooks, JobId, JobPhase, Plugin, Resources, Snapshot, Vote};

/// Configuration name.
pub const NAME: &str = "overcommit";
/// Volcano's default factor.
pub const DEFAULT_FACTOR: f64 = 1.2;

/// The overcommit plugin.
#[derive(Clone, Debug)]
pub struct Overcommit {
    factor_permille: i64,
    idle: Resources,
    inqueue: Resources,
}

impl Overcommit {
    /// Reads `overcommit-factor` (values below 1 fall back to 1.2, as in Volcano).
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        let factor = args.float("overcommit-factor")?.unwrap_or(DEFAULT_FACTOR);
        let factor = if factor < 1.0 { DEFAULT_FACTOR } else { factor };
        // The factor is turned into an integer ratio once, so admission compares integers.
        let factor_permille = (factor * 1000.0).round() as i64;
        Ok(Overcommit {
            factor_permille,
            idle: Resources::new(),
            inqueue: Resources::new(),
        })
    }
}

impl Plugin for Overcommit {
    fn name(&self) -> &'static str {
        NAME
    }
    fn hooks(&self) -> Hooks {
        Hooks::JOB_ENQUEUEABLE
    }
    fn open(&mut self, s: &Snapshot) {
        let mut capacity = Resources::new();
        for (id, v) in s.total.iter() {
            capacity.set(
                id,
                i64::try_from(i128::from(v) * i128::from(self.factor_permille) / 1000).unwrap_or(i64::MAX),
            );
        }
        let mut used = Resources::new();
        for n in &s.nodes {
            used.add(&n.used);
        }
        self.idle = capacity.minus(&used);
        self.inqueue = Resources::new();
        for j in s.job_ids() {
            let job = s.job(j);
            let Some(min) = &job.min_resources else { continue };
            // Admitted jobs, and running gangs, still hold room for the part of their
            // minResources they have not taken yet (Volcano's overcommit.go: Inqueue jobs, and
            // Running jobs with at least minMember pods placed, via GetInqueueResource).
            let scheduled = job.tasks.iter().filter(|t| s.task(**t).status.is_scheduled()).count();
            let running_gang =
                job.phase == JobPhase::Running && u32::try_from(scheduled).unwrap_or(u32::MAX) >= job.min_member;
            if job.phase == JobPhase::Inqueue || running_gang {
                for (id, v) in min.iter() {
                    let missing = (v - job.allocated.get(id)).max(0);
                    self.inqueue.set(id, self.inqueue.get(id).saturating_add(missing));
                }
            }
        }
    }
    fn job_enqueueable(&self, s: &Snapshot, j: JobId) -> Vote {
        let Some(min) = &s.job(j).min_resources else {
            return Vote::Permit;
        };
        let wanted = min.plus(&self.inqueue);
        let fits = min.iter().all(|(id, v)| v <= 0 || wanted.get(id) <= self.idle.get(id));
        if fits { Vote::Permit } else { Vote::Reject }
    }
    fn job_enqueued(&mut self, s: &Snapshot, j: JobId) {
        if let Some(min) = &s.job(j).min_resources {
            self.inqueue.add(min);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_testkit::ClusterBuilder;

    fn args(v: &str) -> Arguments {
        Arguments(
            [(
                "overcommit-factor".to_string(),
                serde_yaml_ng::Value::String(v.to_string()),
            )]
            .into_iter()
            .collect(),
        )
    }

    #[test]
    fn factor_below_one_falls_back_to_the_default() {
        assert_eq!(Overcommit::new(&args("0.5")).expect("parses").factor_permille, 1200);
        assert_eq!(Overcommit::new(&args("2")).expect("parses").factor_permille, 2000);
        assert!(Overcommit::new(&args("lots")).is_err());
    }

    #[test]
    fn admits_up_to_capacity_times_factor_counting_earlier_admissions() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(10).mem_gi(64);
        c.gang("a", "first", "default", 1, 1, |p| p.cpu(7))
            .min_resources(&[("cpu", 7000)]);
        c.gang("a", "second", "default", 1, 1, |p| p.cpu(7))
            .min_resources(&[("cpu", 7000)]);
        let s = c.build(0);
        let mut p = Overcommit::new(&Arguments::default()).expect("defaults");
        p.open(&s);
        let (first, second) = (caldera_framework::JobId(0), caldera_framework::JobId(1));
        assert_eq!(p.job_enqueueable(&s, first), Vote::Permit, "7 ≤ 12");
        p.job_enqueued(&s, first);
        assert_eq!(p.job_enqueueable(&s, second), Vote::Reject, "7 + 7 > 12");
    }
}

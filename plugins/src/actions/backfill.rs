//! `backfill` (Volcano's behaviour): places pods that request nothing but a pod slot. Caldera's
//! `allocate` already places them with their gang, so this matters for configurations without
//! `allocate` and for such pods that arrive for jobs that are already running. Each job's pods are
//! committed together, and only when the job's gang is then ready.

use caldera_framework::placement::Placement;
use caldera_framework::{Action, JobPhase, Session, Statement, TaskStatus};

/// Configuration name.
pub const NAME: &str = "backfill";

/// The backfill action.
#[derive(Default)]
pub struct Backfill;

impl Action for Backfill {
    fn name(&self) -> &'static str {
        NAME
    }

    fn execute(&self, ssn: &mut Session) {
        for j in ssn.snap.job_ids() {
            let job = ssn.snap.job(j);
            // A gang confined to one topology domain is placed by `allocate`, which chooses the
            // domain for the whole gang; placing its pods one by one here could split it.
            if !job.is_schedulable_source() || job.phase == JobPhase::Pending || job.topology_key.is_some() {
                continue;
            }
            let tasks: Vec<_> = job
                .tasks
                .iter()
                .copied()
                .filter(|t| {
                    let task = ssn.snap.task(*t);
                    task.status == TaskStatus::Pending && task.spec.request.is_best_effort()
                })
                .collect();
            if tasks.is_empty() || ssn.plugins.job_valid(&ssn.snap, j).is_some() {
                continue;
            }
            let mut stmt = Statement::new();
            for t in tasks {
                match ssn.find_node(t) {
                    Ok(Placement::Idle(n)) => stmt.allocate(ssn, t, n),
                    Ok(Placement::Future(n)) => stmt.pipeline(ssn, t, n),
                    Err(f) => ssn.record_unschedulable(t, f.message()),
                }
            }
            if ssn.plugins.job_ready(&ssn.snap, j) {
                stmt.commit(ssn);
            } else {
                stmt.discard(ssn);
            }
        }
    }
}

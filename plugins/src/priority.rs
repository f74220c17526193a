//! `priority`: jobs by their PriorityClass value and tasks by pod priority, higher first. A job
//! may evict pods of jobs of lower priority (of its own job: pods of lower pod priority), and it
//! is starving while fewer of its pods run or wait on releasing resources than it has.

use std::cmp::Ordering;

use caldera_framework::{Hooks, JobId, Plugin, Snapshot, TaskId, TaskStatus, Victims};

/// Configuration name.
pub const NAME: &str = "priority";

/// The priority plugin.
#[derive(Default)]
pub struct Priority;

impl Plugin for Priority {
    fn name(&self) -> &'static str {
        NAME
    }
    fn hooks(&self) -> Hooks {
        Hooks::JOB_ORDER
            .with(Hooks::TASK_ORDER)
            .with(Hooks::PREEMPTABLE)
            .with(Hooks::JOB_STARVING)
    }
    fn job_order(&self, s: &Snapshot, a: JobId, b: JobId) -> Ordering {
        s.job(b).priority.cmp(&s.job(a).priority)
    }
    fn task_order(&self, s: &Snapshot, a: TaskId, b: TaskId) -> Ordering {
        s.task(b).priority.cmp(&s.task(a).priority)
    }
    fn preemptable(&self, s: &Snapshot, preemptor: TaskId, candidates: &[TaskId]) -> Victims {
        let p = s.task(preemptor);
        let p_job = s.job(p.job).priority;
        Victims::Select(
            candidates
                .iter()
                .copied()
                .filter(|v| {
                    let victim = s.task(*v);
                    if victim.job == p.job {
                        victim.priority < p.priority
                    } else {
                        s.job(victim.job).priority < p_job
                    }
                })
                .collect(),
        )
    }
    fn job_starving(&self, s: &Snapshot, j: JobId) -> bool {
        let job = s.job(j);
        let live = job
            .tasks
            .iter()
            .filter(|t| !s.task(**t).status.is_terminal() && s.task(**t).status != TaskStatus::Releasing)
            .count();
        u64::from(job.ready + job.pipelined) < live as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_testkit::ClusterBuilder;

    #[test]
    fn lower_priority_jobs_are_victims_and_a_short_job_is_starving() {
        let mut c = ClusterBuilder::new();
        c.priority_class("low", 10).priority_class("high", 100);
        c.node("n").cpu(8).mem_gi(16);
        c.gang("ns", "low", "default", 1, 1, |p| p.cpu(4))
            .priority_class("low")
            .running_on(&["n"], 0);
        c.gang("ns", "same", "default", 1, 1, |p| p.cpu(4))
            .priority_class("high")
            .running_on(&["n"], 0);
        c.gang("ns", "urgent", "default", 2, 2, |p| p.cpu(4))
            .priority_class("high");
        let s = c.build(0);
        let id = |name: &str| TaskId::from_idx(s.tasks.iter().position(|t| t.name == name).unwrap_or(usize::MAX));
        let candidates = [id("low-0"), id("same-0")];
        assert_eq!(
            Priority.preemptable(&s, id("urgent-0"), &candidates),
            Victims::Select(vec![id("low-0")]),
            "equal priority is not enough"
        );
        let job = |name: &str| s.task(id(name)).job;
        assert!(Priority.job_starving(&s, job("urgent-0")));
        assert!(!Priority.job_starving(&s, job("low-0")));
    }
}

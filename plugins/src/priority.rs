//! `priority`: jobs by their PriorityClass value and tasks by pod priority, higher first.

use std::cmp::Ordering;

use caldera_framework::{Hooks, JobId, Plugin, Snapshot, TaskId};

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
        Hooks::JOB_ORDER.with(Hooks::TASK_ORDER)
    }
    fn job_order(&self, s: &Snapshot, a: JobId, b: JobId) -> Ordering {
        s.job(b).priority.cmp(&s.job(a).priority)
    }
    fn task_order(&self, s: &Snapshot, a: TaskId, b: TaskId) -> Ordering {
        s.task(b).priority.cmp(&s.task(a).priority)
    }
}

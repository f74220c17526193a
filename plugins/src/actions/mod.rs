//! The actions of a cycle, and the orderings they share.

pub mod allocate;
pub mod backfill;
pub mod enqueue;

use std::cmp::Ordering;

use caldera_framework::{JobId, PluginSet, QueueId, Snapshot, TaskId};

/// Job order: the plugins' tiered answer, then creation time, then name (so ties never depend on
/// input order).
pub fn job_before(p: &PluginSet, s: &Snapshot, a: JobId, b: JobId) -> bool {
    let (ja, jb) = (s.job(a), s.job(b));
    p.job_order(s, a, b)
        .then_with(|| ja.created.cmp(&jb.created))
        .then_with(|| (&ja.namespace, &ja.name).cmp(&(&jb.namespace, &jb.name)))
        .then_with(|| a.cmp(&b))
        == Ordering::Less
}

/// Queue order: the plugins' tiered answer, then name.
pub fn queue_before(p: &PluginSet, s: &Snapshot, a: QueueId, b: QueueId) -> bool {
    p.queue_order(s, a, b)
        .then_with(|| s.queue(a).name.cmp(&s.queue(b).name))
        == Ordering::Less
}

/// Task order: the plugins' tiered answer, then creation time, then name.
pub fn task_order(p: &PluginSet, s: &Snapshot, a: TaskId, b: TaskId) -> Ordering {
    let (ta, tb) = (s.task(a), s.task(b));
    p.task_order(s, a, b)
        .then_with(|| ta.created.cmp(&tb.created))
        .then_with(|| ta.name.cmp(&tb.name))
}

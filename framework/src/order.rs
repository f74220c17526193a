//! The orders jobs, queues and tasks are taken in, and a binary heap ordered by a comparator
//! evaluated at push/pop time.
//!
//! Job and queue order depend on state that changes as the cycle allocates (DRF shares, queue
//! usage). Like Volcano's priority queues, an element's position is decided when it is pushed and
//! re-decided when it is pushed back, so a popped job is re-ranked with its new share.

use std::cmp::Ordering;

use crate::model::{JobId, QueueId, TaskId};
use crate::plugin::PluginSet;
use crate::snapshot::Snapshot;

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

/// A heap of copyable handles; `before(a, b)` says whether `a` must come out before `b`.
#[derive(Clone, Debug, Default)]
pub struct OrderedQueue<T> {
    items: Vec<T>,
}

impl<T: Copy> OrderedQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        OrderedQueue { items: Vec::new() }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Inserts `item`.
    pub fn push(&mut self, item: T, before: &impl Fn(T, T) -> bool) {
        self.items.push(item);
        let mut i = self.items.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if before(self.items[i], self.items[parent]) {
                self.items.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    /// Removes and returns the first element.
    pub fn pop(&mut self, before: &impl Fn(T, T) -> bool) -> Option<T> {
        if self.items.is_empty() {
            return None;
        }
        let last = self.items.len() - 1;
        self.items.swap(0, last);
        let top = self.items.pop();
        let n = self.items.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && before(self.items[l], self.items[best]) {
                best = l;
            }
            if r < n && before(self.items[r], self.items[best]) {
                best = r;
            }
            if best == i {
                break;
            }
            self.items.swap(i, best);
            i = best;
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pops_in_order(xs in proptest::collection::vec(0u32..1000, 0..200)) {
            let less = |a: u32, b: u32| a < b;
            let mut q = OrderedQueue::new();
            for x in &xs {
                q.push(*x, &less);
            }
            let mut out = Vec::new();
            while let Some(x) = q.pop(&less) {
                out.push(x);
            }
            let mut sorted = xs.clone();
            sorted.sort();
            prop_assert_eq!(out, sorted);
        }
    }
}

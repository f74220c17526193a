//! The queue of report writes waiting for the API server: coalescing, in lanes of priority.
//!
//! Reports (PodGroup and Queue status, pod conditions, events) are not what throughput is made
//! of — binds are — and they must never crowd binds out of a busy API server. So they wait here
//! and a few writers drain the queue (see `writer`). Two properties keep the queue small and the
//! API server's load proportional to what changed, not to how often the scheduler looked:
//!
//! * **Coalescing.** A report about an object (its status, a pod's condition) replaces the one
//!   still waiting for that object, keeping its place in line: only the latest state is written.
//! * **Lanes.** Evictions go first, then status and conditions, then events. Events are bounded:
//!   beyond `event_cap` waiting, the oldest is dropped and counted, as Kubernetes' own event
//!   recorders drop events under pressure.
//!
//! Pure: no I/O, no clock.

use std::collections::{BTreeMap, VecDeque};

/// How urgent a report is; lower lanes are served first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    /// Evictions: the scheduler's decisions, not reports.
    Urgent = 0,
    /// Object status and conditions (coalesced per object).
    Status = 1,
    /// Events (never coalesced, bounded).
    Event = 2,
}

const LANES: usize = 3;

/// A coalescing priority queue of reports keyed by `K`.
#[derive(Debug)]
pub struct ReportQueue<K: Ord + Clone, V> {
    order: [VecDeque<K>; LANES],
    items: BTreeMap<K, (Lane, V)>,
    event_cap: usize,
    dropped: u64,
}

impl<K: Ord + Clone, V> ReportQueue<K, V> {
    /// An empty queue holding at most `event_cap` events.
    pub fn new(event_cap: usize) -> Self {
        ReportQueue {
            order: [VecDeque::new(), VecDeque::new(), VecDeque::new()],
            items: BTreeMap::new(),
            event_cap: event_cap.max(1),
            dropped: 0,
        }
    }

    /// Queues `value` under `key`. If a report with that key is waiting, it is replaced and keeps
    /// its place (the lane of the first stays). Returns false if it replaced one.
    pub fn push(&mut self, key: K, lane: Lane, value: V) -> bool {
        if let Some(slot) = self.items.get_mut(&key) {
            slot.1 = value;
            return false;
        }
        if lane == Lane::Event && self.order[Lane::Event as usize].len() >= self.event_cap {
            while let Some(old) = self.order[Lane::Event as usize].pop_front() {
                if self.items.remove(&old).is_some() {
                    self.dropped += 1;
                    break;
                }
            }
        }
        self.order[lane as usize].push_back(key.clone());
        self.items.insert(key, (lane, value));
        true
    }

    /// Queues `value` under `key`, or folds it into the report waiting under `key` with `merge`
    /// (for reports that are partial updates, such as annotation patches, where the newer must
    /// not erase what the waiting one sets).
    pub fn push_or_merge(&mut self, key: K, lane: Lane, value: V, merge: impl FnOnce(&mut V, V)) {
        match self.items.get_mut(&key) {
            Some(slot) => merge(&mut slot.1, value),
            None => {
                self.push(key, lane, value);
            }
        }
    }

    /// The next report: the oldest of the most urgent lane that has one.
    pub fn pop(&mut self) -> Option<(K, V)> {
        for lane in &mut self.order {
            while let Some(k) = lane.pop_front() {
                if let Some((_, v)) = self.items.remove(&k) {
                    return Some((k, v));
                }
            }
        }
        None
    }

    /// Reports waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Events dropped so far because too many were waiting.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_report_per_key_wins_and_keeps_its_place() {
        let mut q = ReportQueue::new(10);
        assert!(q.push("a", Lane::Status, 1));
        assert!(q.push("b", Lane::Status, 2));
        assert!(!q.push("a", Lane::Status, 3));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(("a", 3)));
        assert_eq!(q.pop(), Some(("b", 2)));
        assert_eq!(q.pop(), None);
        // Once written, the same key queues again.
        assert!(q.push("a", Lane::Status, 4));
        assert_eq!(q.pop(), Some(("a", 4)));
    }

    #[test]
    fn partial_updates_fold_into_the_waiting_one() {
        let mut q: ReportQueue<&str, Vec<u32>> = ReportQueue::new(10);
        q.push_or_merge("a", Lane::Status, vec![1], |w, v| w.extend(v));
        q.push("b", Lane::Status, vec![9]);
        q.push_or_merge("a", Lane::Status, vec![2], |w, v| w.extend(v));
        assert_eq!(q.pop(), Some(("a", vec![1, 2])));
        assert_eq!(q.pop(), Some(("b", vec![9])));
    }

    #[test]
    fn urgent_before_status_before_events() {
        let mut q = ReportQueue::new(10);
        q.push("e1", Lane::Event, 0);
        q.push("s1", Lane::Status, 0);
        q.push("u1", Lane::Urgent, 0);
        q.push("s2", Lane::Status, 0);
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(k, _)| k)).collect();
        assert_eq!(order, ["u1", "s1", "s2", "e1"]);
    }

    #[test]
    fn events_beyond_the_cap_drop_the_oldest() {
        let mut q = ReportQueue::new(2);
        for i in 0..5u32 {
            q.push(i, Lane::Event, i);
        }
        q.push(100, Lane::Status, 100);
        assert_eq!(q.dropped(), 3);
        let left: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, v)| v)).collect();
        assert_eq!(left, [100, 3, 4]);
        assert!(q.is_empty());
    }
}

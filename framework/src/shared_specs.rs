//! One allocation per distinct pod spec among the records a driver keeps between cycles.
//!
//! Every cycle assembles a snapshot from all cached pods and puts pods with equal specs into one
//! equivalence class, which needs equal specs recognised. Compared field by field that is the
//! largest single cost of assembling a large cluster's snapshot: real pods all carry the
//! tolerations admission adds, strings that live far apart in memory. A driver that shares equal
//! specs when a pod arrives, once per event, lets every later snapshot recognise them by address
//! ([`crate::SnapshotBuilder`] does).

use std::collections::HashSet;
use std::sync::Arc;

use crate::model::TaskSpec;

/// The distinct specs of the records a driver holds.
#[derive(Debug, Default)]
pub struct SharedSpecs {
    specs: HashSet<Arc<TaskSpec>>,
    /// Size after the last sweep: the next sweep comes when the set has doubled since.
    swept_at: usize,
}

impl SharedSpecs {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared allocation of a spec equal to `spec` (`spec` itself if it is the first).
    pub fn share(&mut self, spec: &Arc<TaskSpec>) -> Arc<TaskSpec> {
        if let Some(known) = self.specs.get(spec) {
            return known.clone();
        }
        self.sweep_if_grown();
        self.specs.insert(spec.clone());
        spec.clone()
    }

    /// Number of distinct specs held.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Drops specs no record uses any more (this set holds their only reference), once the set
    /// has doubled since the last sweep: the cost is spread over as many insertions as the set
    /// holds, and what is held stays within twice what is in use.
    fn sweep_if_grown(&mut self) {
        if self.specs.len() < (2 * self.swept_at).max(64) {
            return;
        }
        self.specs.retain(|s| Arc::strong_count(s) > 1);
        self.swept_at = self.specs.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{CPU, PODS};

    fn spec(cpu: i64) -> Arc<TaskSpec> {
        let mut s = TaskSpec::default();
        s.request.set(CPU, cpu);
        s.request.set(PODS, 1);
        Arc::new(s)
    }

    #[test]
    fn equal_specs_come_back_as_one_allocation() {
        let mut shared = SharedSpecs::new();
        let a = shared.share(&spec(1));
        let b = shared.share(&spec(1));
        let c = shared.share(&spec(2));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(shared.len(), 2);
    }

    #[test]
    fn specs_no_record_holds_are_dropped_as_the_set_grows() {
        let mut shared = SharedSpecs::new();
        let kept: Vec<Arc<TaskSpec>> = (0..10).map(|i| shared.share(&spec(i))).collect();
        for i in 10..1_000 {
            // Shared, then dropped at once: no record holds it.
            shared.share(&spec(i));
        }
        assert!(shared.len() < 200, "unused specs are swept: {} held", shared.len());
        for (i, k) in kept.iter().enumerate() {
            let again = shared.share(&spec(i64::try_from(i).unwrap_or_default()));
            assert!(Arc::ptr_eq(k, &again), "a spec still in use stays shared");
        }
    }
}

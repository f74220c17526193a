//! `conformance`: pods the cluster itself depends on are never evicted — those of the
//! PriorityClasses `system-cluster-critical` and `system-node-critical`, and every pod in
//! `kube-system` — whatever preempt or reclaim would gain.

use caldera_framework::{Hooks, Plugin, Snapshot, TaskId, Victims};

/// Configuration name.
pub const NAME: &str = "conformance";

/// The conformance plugin.
#[derive(Default)]
pub struct Conformance;

fn not_critical(s: &Snapshot, candidates: &[TaskId]) -> Victims {
    Victims::Select(candidates.iter().copied().filter(|t| !s.task(*t).critical).collect())
}

impl Plugin for Conformance {
    fn name(&self) -> &'static str {
        NAME
    }
    fn hooks(&self) -> Hooks {
        Hooks::PREEMPTABLE.with(Hooks::RECLAIMABLE)
    }
    fn preemptable(&self, s: &Snapshot, _preemptor: TaskId, candidates: &[TaskId]) -> Victims {
        not_critical(s, candidates)
    }
    fn reclaimable(&self, s: &Snapshot, _reclaimer: TaskId, candidates: &[TaskId]) -> Victims {
        not_critical(s, candidates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_testkit::ClusterBuilder;

    #[test]
    fn system_critical_and_kube_system_pods_are_never_victims() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(8).mem_gi(16);
        c.bound_pod("kube-system", "dns", "n", |p| p.cpu(1));
        c.bound_pod("ml", "agent", "n", |p| p.cpu(1).priority_class("system-node-critical"));
        c.bound_pod("ml", "cluster", "n", |p| {
            p.cpu(1).priority_class("system-cluster-critical")
        });
        c.bound_pod("ml", "batch", "n", |p| p.cpu(1));
        c.pod("ml", "new", |p| p.cpu(8));
        let s = c.build(0);
        let id = |name: &str| TaskId::from_idx(s.tasks.iter().position(|t| t.name == name).unwrap_or(usize::MAX));
        let pre = id("new");
        let candidates: Vec<TaskId> = ["dns", "agent", "cluster", "batch"].map(id).to_vec();
        let only_batch = Victims::Select(vec![id("batch")]);
        assert_eq!(Conformance.preemptable(&s, pre, &candidates), only_batch);
        assert_eq!(Conformance.reclaimable(&s, pre, &candidates), only_batch);
    }
}

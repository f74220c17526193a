//! `task-topology`: roles of one job that talk a lot go to the same nodes, roles that compete go
//! to different ones, and roles are placed in a given order — from three PodGroup annotations:
//!
//! | annotation | value | effect |
//! |---|---|---|
//! | `volcano.sh/task-topology-affinity` | `ps,worker;chief,evaluator` | roles of a group prefer nodes holding the group's other roles (a role alone prefers its own) |
//! | `volcano.sh/task-topology-anti-affinity` | `ps;worker` | roles of a group prefer nodes without the group's roles (a role alone spreads itself) |
//! | `volcano.sh/task-topology-task-order` | `ps,worker` | `ps` pods are placed before `worker` pods |
//!
//! A role is the pod's `volcano.sh/task-spec`. An annotation naming a role the job does not have,
//! or a role twice in one group, is ignored for that job, as in Volcano.
//!
//! Score: for each pod of the same job already on (or placed in this cycle on) the node, +1 when
//! affine, −1 when anti-affine, scaled to ±100 points by the job's pod count, times
//! `task-topology.weight` (default 1). Volcano (`pkg/scheduler/plugins/task-topology/`,
//! topology.go and manager.go) builds "buckets" of affine pods and scores a node by how much of
//! the pod's bucket it can hold; Caldera scores the co-location directly, which prefers the same
//! nodes without the bucket bookkeeping (difference recorded in docs/volcano-compatibility.md).

use std::cmp::Ordering;

use caldera_framework::plugin::MAX_NODE_SCORE;
use caldera_framework::snapshot::{TASK_TOPOLOGY_AFFINITY, TASK_TOPOLOGY_ANTI_AFFINITY, TASK_TOPOLOGY_ORDER};
use caldera_framework::{Arguments, ConfigError, Hooks, JobId, NodeId, Plugin, Snapshot, TaskId, TaskStatus};

/// Configuration name.
pub const NAME: &str = "task-topology";
/// Argument: score weight.
pub const WEIGHT: &str = "task-topology.weight";

/// One job's parsed annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobTopology {
    /// Groups of roles that prefer each other's nodes.
    pub affinity: Vec<Vec<String>>,
    /// Groups of roles that avoid each other's nodes.
    pub anti_affinity: Vec<Vec<String>>,
    /// Roles in placement order.
    pub order: Vec<String>,
}

impl JobTopology {
    fn in_same_group(groups: &[Vec<String>], a: &str, b: &str) -> bool {
        groups
            .iter()
            .any(|g| g.iter().any(|r| r == a) && g.iter().any(|r| r == b))
    }

    /// +1 affine, −1 anti-affine, 0 neither.
    pub fn relation(&self, a: &str, b: &str) -> i64 {
        if Self::in_same_group(&self.anti_affinity, a, b) {
            -1
        } else if Self::in_same_group(&self.affinity, a, b) {
            1
        } else {
            0
        }
    }

    fn rank(&self, role: Option<&str>) -> usize {
        role.and_then(|r| self.order.iter().position(|o| o == r))
            .unwrap_or(self.order.len())
    }
}

/// Parses `a,b;c` into groups; `None` when a group names a role twice or a role the job lacks.
fn groups(value: &str, roles: &[&str]) -> Option<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for g in value.split(';') {
        let mut group: Vec<String> = Vec::new();
        for r in g.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            if !roles.contains(&r) || group.iter().any(|x| x == r) {
                return None;
            }
            group.push(r.to_string());
        }
        if !group.is_empty() {
            out.push(group);
        }
    }
    Some(out)
}

/// The job's topology, if it has a valid one.
pub fn read(s: &Snapshot, j: JobId) -> Option<JobTopology> {
    let job = s.job(j);
    let a = &job.annotations;
    if ![TASK_TOPOLOGY_AFFINITY, TASK_TOPOLOGY_ANTI_AFFINITY, TASK_TOPOLOGY_ORDER]
        .iter()
        .any(|k| a.contains_key(*k))
    {
        return None;
    }
    let mut roles: Vec<&str> = job.tasks.iter().filter_map(|t| s.task(*t).role.as_deref()).collect();
    roles.sort_unstable();
    roles.dedup();
    let affinity = match a.get(TASK_TOPOLOGY_AFFINITY) {
        Some(v) => groups(v, &roles)?,
        None => Vec::new(),
    };
    let anti_affinity = match a.get(TASK_TOPOLOGY_ANTI_AFFINITY) {
        Some(v) => groups(v, &roles)?,
        None => Vec::new(),
    };
    let order = match a.get(TASK_TOPOLOGY_ORDER) {
        Some(v) => groups(&v.replace(';', ","), &roles)?.into_iter().flatten().collect(),
        None => Vec::new(),
    };
    Some(JobTopology {
        affinity,
        anti_affinity,
        order,
    })
}

/// The task-topology plugin.
#[derive(Clone, Debug)]
pub struct TaskTopology {
    weight: i64,
    jobs: Vec<Option<JobTopology>>,
}

impl TaskTopology {
    /// Reads `task-topology.weight` (default 1, not negative).
    pub fn new(args: &Arguments) -> Result<Self, ConfigError> {
        let weight = args.int(WEIGHT)?.unwrap_or(1);
        if weight < 0 {
            return Err(ConfigError::Invalid(format!("argument {WEIGHT} must not be negative")));
        }
        Ok(TaskTopology {
            weight,
            jobs: Vec::new(),
        })
    }

    fn topology(&self, j: JobId) -> Option<&JobTopology> {
        self.jobs.get(j.idx()).and_then(Option::as_ref)
    }
}

impl Plugin for TaskTopology {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::TASK_ORDER.with(Hooks::NODE_ORDER)
    }

    fn open(&mut self, s: &Snapshot) {
        self.jobs = s.job_ids().map(|j| read(s, j)).collect();
    }

    fn task_order(&self, s: &Snapshot, a: TaskId, b: TaskId) -> Ordering {
        let (ta, tb) = (s.task(a), s.task(b));
        if ta.job != tb.job {
            return Ordering::Equal;
        }
        match self.topology(ta.job) {
            Some(t) => t.rank(ta.role.as_deref()).cmp(&t.rank(tb.role.as_deref())),
            None => Ordering::Equal,
        }
    }

    fn node_score(&self, s: &Snapshot, t: TaskId, n: NodeId) -> i64 {
        let task = s.task(t);
        let Some(topo) = self.topology(task.job) else {
            return 0;
        };
        let Some(role) = task.role.as_deref() else {
            return 0;
        };
        let mut net = 0i64;
        for &other in &s.node(n).tasks {
            let o = s.task(other);
            let present =
                o.status.occupies_node() && o.status != TaskStatus::Releasing || o.status == TaskStatus::Pipelined;
            if other == t || o.job != task.job || !present {
                continue;
            }
            if let Some(r) = o.role.as_deref() {
                net += topo.relation(role, r);
            }
        }
        let size = i64::try_from(s.job(task.job).tasks.len()).unwrap_or(i64::MAX).max(1);
        net.saturating_mul(MAX_NODE_SCORE).saturating_mul(self.weight) / size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_testkit::ClusterBuilder;

    fn job(annotations: &[(&str, &str)]) -> ClusterBuilder {
        let mut c = ClusterBuilder::new();
        c.node("a").cpu(8).mem_gi(8);
        c.node("b").cpu(8).mem_gi(8);
        let ann: Vec<(String, String)> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        c.gang("x", "tf", "default", 3, 0, |p| p)
            .with_group(move |g| g.annotations.extend(ann));
        c.bound_pod("x", "ps-0", "a", |p| p.cpu(1).group("tf").role("ps"));
        c.pod("x", "worker-0", |p| p.cpu(1).group("tf").role("worker"));
        c.pod("x", "worker-1", |p| p.cpu(1).group("tf").role("worker"));
        c
    }

    fn opened(c: &ClusterBuilder) -> (Snapshot, TaskTopology) {
        let s = c.build(0);
        let mut p = TaskTopology::new(&Arguments::default()).expect("defaults");
        p.open(&s);
        (s, p)
    }

    fn task(s: &Snapshot, name: &str) -> TaskId {
        TaskId::from_idx(s.tasks.iter().position(|t| t.name == name).expect("task"))
    }

    #[test]
    fn affine_roles_prefer_the_node_of_their_partner() {
        let (s, p) = opened(&job(&[(TASK_TOPOLOGY_AFFINITY, "ps,worker")]));
        let w = task(&s, "worker-0");
        let (a, b) = (s.node_by_name("a").expect("a"), s.node_by_name("b").expect("b"));
        assert!(p.node_score(&s, w, a) > p.node_score(&s, w, b));
    }

    #[test]
    fn anti_affine_roles_avoid_each_other_and_order_is_honoured() {
        let (s, p) = opened(&job(&[
            (TASK_TOPOLOGY_ANTI_AFFINITY, "ps,worker"),
            (TASK_TOPOLOGY_ORDER, "worker,ps"),
        ]));
        let w = task(&s, "worker-0");
        let ps = task(&s, "ps-0");
        let (a, b) = (s.node_by_name("a").expect("a"), s.node_by_name("b").expect("b"));
        assert!(p.node_score(&s, w, a) < p.node_score(&s, w, b));
        assert_eq!(p.task_order(&s, w, ps), Ordering::Less, "workers first");
    }

    #[test]
    fn an_annotation_naming_a_missing_role_is_ignored() {
        let (s, p) = opened(&job(&[(TASK_TOPOLOGY_AFFINITY, "ps,chief")]));
        assert_eq!(p.topology(s.tasks[0].job), None);
        let w = task(&s, "worker-0");
        assert_eq!(p.node_score(&s, w, s.node_by_name("a").expect("a")), 0);
    }
}

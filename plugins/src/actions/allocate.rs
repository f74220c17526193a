//! `allocate`: places admitted jobs, queue by queue and job by job, all-or-nothing.
//!
//! ```text
//! pop queue (queue order; skip if overused) → pop job (job order) → tasks in task order:
//!     queue allocatable? → best node of the task's class → allocate (idle) | pipeline (releasing)
//!     stop once the job is ready
//! job ready      → commit   (binds)                    ─┐
//! job pipelined  → keep     (reserve, bind nothing)     ├─ push the job back if it has more pods
//! otherwise      → discard  (nothing happened)         ─┘
//! ```
//! Unlike Volcano, pods that request nothing are placed here too, with the rest of their gang:
//! leaving them to `backfill` lets a gang commit before those pods have a node.

use caldera_framework::order::OrderedQueue;
use caldera_framework::placement::Placement;
use caldera_framework::{Action, ClassId, JobId, JobPhase, Session, Statement, TaskId, TaskStatus};

use super::{job_before, queue_before, task_order};

/// Configuration name.
pub const NAME: &str = "allocate";

/// The allocate action.
#[derive(Default)]
pub struct Allocate {
    /// Admit Pending jobs here, for configurations that do not run `enqueue` (Volcano does the same).
    pub admit_pending: bool,
}

fn pending_tasks(ssn: &Session, j: JobId) -> Vec<TaskId> {
    let s = &ssn.snap;
    let mut tasks: Vec<TaskId> = s
        .job(j)
        .tasks
        .iter()
        .copied()
        .filter(|t| {
            let task = s.task(*t);
            task.status == TaskStatus::Pending
        })
        .collect();
    tasks.sort_by(|a, b| task_order(&ssn.plugins, s, *a, *b));
    tasks
}

/// Says so when the gang's minimum cannot fit even in the whole, empty cluster (in some resource,
/// the smallest pods it still needs add up to more than every node together has): then no
/// placement is attempted, and the reason names the resource instead of a per-node tally.
fn exceeds_cluster(ssn: &Session, j: JobId, pending: &[TaskId]) -> Option<String> {
    let s = &ssn.snap;
    let job = s.job(j);
    let ready = s.ready_count(j);
    let missing = usize::try_from(job.min_member.saturating_sub(ready)).unwrap_or(usize::MAX);
    if missing == 0 || pending.len() < missing {
        return None;
    }
    // A lower bound per resource: what the job holds plus its `missing` smallest pending requests.
    let mut need = job.allocated.clone();
    for r in s.resources.ids() {
        let mut values: Vec<i64> = pending.iter().map(|t| s.task(*t).spec.request.get(r)).collect();
        values.sort_unstable();
        let least: i64 = values.iter().take(missing).sum();
        need.set(r, need.get(r).saturating_add(least));
    }
    let over: Vec<String> = need
        .insufficient(&s.total)
        .map(|r| {
            let name = s.resources.name(r);
            format!(
                "{name}: needs {}, the cluster has {}",
                s.resources.format_value(r, need.get(r)),
                s.resources.format_value(r, s.total.get(r))
            )
        })
        .collect();
    (!over.is_empty()).then(|| {
        format!(
            "the gang's {} minimum pods need more than the whole cluster has ({})",
            job.min_member,
            over.join("; ")
        )
    })
}

impl Allocate {
    fn candidates(&self, ssn: &mut Session) -> Vec<JobId> {
        let mut out = Vec::new();
        for j in ssn.snap.job_ids() {
            let job = ssn.snap.job(j);
            if !job.is_schedulable_source() {
                continue;
            }
            if job.phase == JobPhase::Pending {
                if !self.admit_pending || job.problem.is_some() {
                    continue;
                }
                ssn.snap.jobs[j.idx()].phase = JobPhase::Inqueue;
            }
            if ssn.snap.pending_count(j) == 0 {
                continue;
            }
            if let Some((_, message)) = ssn.plugins.job_valid(&ssn.snap, j) {
                ssn.record_job_message(j, message);
                continue;
            }
            out.push(j);
        }
        out
    }

    /// Places `j`'s pending pods in task order until the gang is ready; returns the statement and
    /// whether pods are left for a later round.
    fn place(&self, ssn: &mut Session, j: JobId, tasks: &[TaskId]) -> (Statement, bool) {
        let queue = ssn.snap.job(j).queue;
        let mut stmt = Statement::new();
        let mut failed: Vec<(ClassId, String)> = Vec::new();
        for (i, &t) in tasks.iter().enumerate() {
            let class = ssn.snap.task(t).class;
            if let Some((_, msg)) = failed.iter().find(|(c, _)| *c == class) {
                let msg = msg.clone();
                ssn.record_unschedulable(t, msg);
                continue;
            }
            if !ssn.plugins.allocatable(&ssn.snap, queue, t) {
                let name = ssn.snap.queue(queue).name.clone();
                let msg = explain_refusal(
                    ssn,
                    t,
                    format!("queue {name} has no room for this pod within its share"),
                );
                ssn.record_unschedulable(t, msg);
                continue;
            }
            match ssn.find_node(t) {
                Ok(Placement::Idle(n)) => stmt.allocate(ssn, t, n),
                Ok(Placement::Future(n)) => stmt.pipeline(ssn, t, n),
                Err(f) => {
                    let msg = f.message();
                    ssn.record_unschedulable(t, msg.clone());
                    failed.push((class, msg));
                    continue;
                }
            }
            if ssn.plugins.job_ready(&ssn.snap, j) {
                return (stmt, i + 1 < tasks.len());
            }
        }
        (stmt, false)
    }

    /// Commits, keeps or discards a placement attempt; returns whether to try the job again.
    fn settle(ssn: &mut Session, j: JobId, stmt: Statement, more_left: bool) -> bool {
        if ssn.plugins.job_ready(&ssn.snap, j) {
            stmt.commit(ssn);
            more_left
        } else if !stmt.is_empty() && ssn.plugins.job_pipelined(&ssn.snap, j) {
            ssn.keep(stmt);
            false
        } else {
            stmt.discard(ssn);
            false
        }
    }

    /// Tries to place `j`; returns whether it should be tried again (ready with pods left).
    fn allocate_job(&self, ssn: &mut Session, j: JobId) -> bool {
        let tasks = pending_tasks(ssn, j);
        if let Some(msg) = exceeds_cluster(ssn, j, &tasks) {
            for &t in &tasks {
                ssn.record_unschedulable(t, msg.clone());
            }
            return false;
        }
        if let Some(key) = ssn.snap.job(j).topology_key.clone() {
            return self.allocate_in_one_domain(ssn, j, &tasks, &key);
        }
        let (stmt, more_left) = self.place(ssn, j, &tasks);
        Self::settle(ssn, j, stmt, more_left)
    }

    /// A gang with a topology key goes whole into one domain (the nodes sharing one value of that
    /// label). Every domain is tried as a dry run; of those that hold the gang, the one left with
    /// the least free capacity of the gang's main resource wins (best fit: large free domains stay
    /// whole for large gangs); the placement is then made there for real.
    fn allocate_in_one_domain(&self, ssn: &mut Session, j: JobId, tasks: &[TaskId], key: &str) -> bool {
        let s = &ssn.snap;
        let mut domains: std::collections::BTreeMap<String, Vec<bool>> = std::collections::BTreeMap::new();
        for n in s.node_ids() {
            if let Some(v) = s.node(n).labels.get(key) {
                domains.entry(v.clone()).or_insert_with(|| vec![false; s.nodes.len()])[n.idx()] = true;
            }
        }
        // Pods already placed (not those on their way out) pin the gang to their domain; if they
        // span several (placed before the constraint existed), the domain holding most of them.
        let mut held: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for &t in &s.job(j).tasks {
            let task = s.task(t);
            let live = (task.status.occupies_node() && task.status != TaskStatus::Releasing)
                || task.status == TaskStatus::Pipelined;
            if let (true, Some(n)) = (live, task.node)
                && let Some(v) = s.node(n).labels.get(key)
            {
                *held.entry(v.clone()).or_default() += 1;
            }
        }
        if let Some(home) = held
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(v, _)| v.clone())
        {
            domains.retain(|v, _| *v == home);
        }
        if domains.is_empty() {
            let msg = format!("no node has the topology label {key:?}, so the gang cannot be kept in one domain");
            for &t in tasks {
                ssn.record_unschedulable(t, msg.clone());
            }
            return false;
        }
        let main = main_resource(ssn, tasks);
        let mut best: Option<(i64, String)> = None;
        for (value, mask) in &domains {
            ssn.node_mask = Some(mask.clone());
            let (stmt, _) = self.place(ssn, j, tasks);
            if ssn.plugins.job_ready(&ssn.snap, j) {
                let left: i64 = ssn
                    .snap
                    .node_ids()
                    .filter(|n| mask[n.idx()])
                    .map(|n| ssn.snap.node(n).idle().get(main).max(0))
                    .sum();
                if best.as_ref().is_none_or(|(b, _)| left < *b) {
                    best = Some((left, value.clone()));
                }
            }
            stmt.discard(ssn);
        }
        let result = match best {
            Some((_, value)) => {
                ssn.node_mask = domains.get(&value).cloned();
                let (stmt, more_left) = self.place(ssn, j, tasks);
                Self::settle(ssn, j, stmt, more_left)
            }
            None => {
                let msg = format!(
                    "the gang fits in no single domain of topology key {key:?} ({} domain(s) tried: {})",
                    domains.len(),
                    domains.keys().cloned().collect::<Vec<_>>().join(", ")
                );
                for &t in tasks {
                    ssn.record_unschedulable(t, msg.clone());
                }
                false
            }
        };
        ssn.node_mask = None;
        result
    }
}

/// Why a pod the queue refused waits: when no node could take it anyway, the node-level reason
/// ("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.") is the one to act on; the queue's
/// share is the reason only when a node has room. The decision is the same either way.
fn explain_refusal(ssn: &mut Session, t: TaskId, queue_msg: String) -> String {
    match ssn.find_node(t) {
        Err(f) => f.message(),
        Ok(_) => queue_msg,
    }
}

/// The resource the pods ask the most of, relative to what the cluster has.
fn main_resource(ssn: &Session, tasks: &[TaskId]) -> caldera_framework::ResourceId {
    let s = &ssn.snap;
    let mut total = caldera_framework::Resources::new();
    for &t in tasks {
        total.add(&s.task(t).spec.request);
    }
    s.resources
        .ids()
        .filter(|id| *id != caldera_framework::resource::PODS && s.total.get(*id) > 0)
        .max_by(|a, b| {
            let share = |id: caldera_framework::ResourceId| total.get(id) as f64 / s.total.get(id) as f64;
            share(*a).total_cmp(&share(*b)).then(b.cmp(a))
        })
        .unwrap_or(caldera_framework::resource::CPU)
}

impl Action for Allocate {
    fn name(&self) -> &'static str {
        NAME
    }

    fn execute(&self, ssn: &mut Session) {
        let candidates = self.candidates(ssn);
        let mut per_queue: Vec<OrderedQueue<JobId>> = vec![OrderedQueue::new(); ssn.snap.queues.len()];
        for j in candidates {
            let q = ssn.snap.job(j).queue;
            per_queue[q.idx()].push(j, &|a, b| job_before(&ssn.plugins, &ssn.snap, a, b));
        }
        let mut queues = OrderedQueue::new();
        for q in ssn.snap.queue_ids() {
            if !per_queue[q.idx()].is_empty() {
                queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
        while let Some(q) = queues.pop(&|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b)) {
            if ssn.plugins.overused(&ssn.snap, q) {
                // Its jobs keep waiting; say why.
                let name = ssn.snap.queue(q).name.clone();
                while let Some(j) = per_queue[q.idx()].pop(&|a, b| a < b) {
                    let queue_msg = format!("queue {name} is using its whole deserved share");
                    let msg = match pending_tasks(ssn, j).first() {
                        Some(&t) => explain_refusal(ssn, t, queue_msg),
                        None => queue_msg,
                    };
                    ssn.record_job_message(j, msg);
                }
                continue;
            }
            let Some(j) = per_queue[q.idx()].pop(&|a, b| job_before(&ssn.plugins, &ssn.snap, a, b)) else {
                continue;
            };
            if self.allocate_job(ssn, j) {
                per_queue[q.idx()].push(j, &|a, b| job_before(&ssn.plugins, &ssn.snap, a, b));
            }
            if !per_queue[q.idx()].is_empty() {
                queues.push(q, &|a, b| queue_before(&ssn.plugins, &ssn.snap, a, b));
            }
        }
    }
}

//! `gang`: all-or-nothing. A job is valid only with enough pods, ready only when minMember (and
//! every role's minTaskMember) can run, and at session close it gets Volcano's condition:
//! `Unschedulable` with "k/n tasks in gang unschedulable: …" or `Scheduled`.
//!
//! As victims it offers a gang's pods beyond minMember one by one, and the whole gang when every
//! running member is a candidate: a gang is never cut below its minimum unless all of it goes
//! (Volcano offers only the pods beyond minMember, so a gang running exactly its minimum could
//! never be preempted). A native group with `disruptionMode: single` offers any member, one with
//! `all` only all of them. A job is starving while fewer than minMember of its pods run or wait
//! on releasing resources.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use caldera_framework::outcome::Outcome;
use caldera_framework::{Disruption, Hooks, JobCondition, JobId, Plugin, Snapshot, TaskId, TaskStatus, Victims, Vote};

/// The gang plugin.
#[derive(Default)]
pub struct Gang;

/// Configuration name.
pub const NAME: &str = "gang";

/// Tasks that count toward a gang being valid: everything but failed pods.
fn valid(status: TaskStatus) -> bool {
    status != TaskStatus::Failed
}

/// Ready tasks (and pipelined ones when asked). Unlike Volcano, pending pods that request nothing
/// do not count: they too can fail to fit (pod slots, taints), and counting them lets a gang be
/// bound in part.
fn ready_by_role(s: &Snapshot, j: JobId, count_pipelined: bool) -> (u32, BTreeMap<&str, u32>) {
    let mut total = 0;
    let mut roles: BTreeMap<&str, u32> = BTreeMap::new();
    for &t in &s.job(j).tasks {
        let task = s.task(t);
        let counts = task.status.is_ready() || (count_pipelined && task.status == TaskStatus::Pipelined);
        if counts {
            total += 1;
            if let Some(r) = &task.role {
                *roles.entry(r.as_str()).or_default() += 1;
            }
        }
    }
    (total, roles)
}

fn meets(s: &Snapshot, j: JobId, count_pipelined: bool) -> bool {
    let job = s.job(j);
    if job.min_task_member.is_empty() {
        // The session keeps these counters current, so this check is O(1) per placement.
        let placed = job.ready + if count_pipelined { job.pipelined } else { 0 };
        return placed >= job.min_member;
    }
    let (total, roles) = ready_by_role(s, j, count_pipelined);
    total >= job.min_member
        && job
            .min_task_member
            .iter()
            .all(|(role, min)| roles.get(role.as_str()).copied().unwrap_or(0) >= *min)
}

/// Whether the job's ready tasks satisfy its gang.
pub fn job_ready(s: &Snapshot, j: JobId) -> bool {
    meets(s, j, false)
}

/// Pods of `j` holding a node for it (not those on their way out).
fn holding(s: &Snapshot, j: JobId) -> impl Iterator<Item = TaskId> + '_ {
    s.job(j).tasks.iter().copied().filter(|t| {
        matches!(
            s.task(*t).status,
            TaskStatus::Allocated | TaskStatus::Binding | TaskStatus::Bound | TaskStatus::Running
        )
    })
}

/// Whether job `j` still holds its gang (minMember and every role's minTaskMember) without
/// `gone`, counting the tasks that are ready now.
pub fn keeps_gang_without(s: &Snapshot, j: JobId, gone: &[TaskId]) -> bool {
    let job = s.job(j);
    let mut total = 0u32;
    let mut roles: BTreeMap<&str, u32> = BTreeMap::new();
    for &t in &job.tasks {
        let task = s.task(t);
        if task.status.is_ready() && !gone.contains(&t) {
            total += 1;
            if let Some(r) = &task.role {
                *roles.entry(r.as_str()).or_default() += 1;
            }
        }
    }
    total >= job.min_member
        && job
            .min_task_member
            .iter()
            .all(|(role, min)| roles.get(role.as_str()).copied().unwrap_or(0) >= *min)
}

/// Which `candidates` may go without leaving a gang partly running; see the module docs.
pub fn gang_victims(s: &Snapshot, candidates: &[TaskId]) -> Vec<TaskId> {
    let mut by_job: BTreeMap<JobId, Vec<TaskId>> = BTreeMap::new();
    for &t in candidates {
        by_job.entry(s.task(t).job).or_default().push(t);
    }
    let mut allowed: std::collections::BTreeSet<TaskId> = std::collections::BTreeSet::new();
    for (j, offered) in by_job {
        let job = s.job(j);
        let members: Vec<TaskId> = holding(s, j).collect();
        let whole = members.iter().all(|m| offered.contains(m));
        match job.disruption {
            Disruption::Single => allowed.extend(offered),
            Disruption::All if whole => allowed.extend(offered),
            Disruption::All => {}
            Disruption::Gang if whole => allowed.extend(offered),
            Disruption::Gang => {
                // One by one, as long as the gang (and each role) keeps its minimum.
                let mut gone: Vec<TaskId> = Vec::new();
                for t in offered {
                    gone.push(t);
                    if keeps_gang_without(s, j, &gone) {
                        allowed.insert(t);
                    } else {
                        gone.pop();
                    }
                }
            }
        }
    }
    candidates.iter().copied().filter(|t| allowed.contains(t)).collect()
}

impl Plugin for Gang {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::JOB_VALID
            .with(Hooks::JOB_READY)
            .with(Hooks::JOB_PIPELINED)
            .with(Hooks::JOB_ORDER)
            .with(Hooks::JOB_STARVING)
            .with(Hooks::PREEMPTABLE)
            .with(Hooks::RECLAIMABLE)
    }

    fn job_starving(&self, s: &Snapshot, j: JobId) -> bool {
        let job = s.job(j);
        job.ready + job.pipelined < job.min_member.max(1)
    }

    fn preemptable(&self, s: &Snapshot, _preemptor: TaskId, candidates: &[TaskId]) -> Victims {
        Victims::Select(gang_victims(s, candidates))
    }

    fn reclaimable(&self, s: &Snapshot, _reclaimer: TaskId, candidates: &[TaskId]) -> Victims {
        Victims::Select(gang_victims(s, candidates))
    }

    fn job_valid(&self, s: &Snapshot, j: JobId) -> Option<(String, String)> {
        let job = s.job(j);
        if let Some(p) = &job.problem {
            return Some(p.clone());
        }
        let valid_count = job.tasks.iter().filter(|t| valid(s.task(**t).status)).count();
        if (valid_count as u64) < u64::from(job.min_member) {
            return Some((
                "NotEnoughTasks".into(),
                format!(
                    "Not enough valid tasks for gang-scheduling, valid: {valid_count}, min: {}",
                    job.min_member
                ),
            ));
        }
        for (role, min) in &job.min_task_member {
            let n = job
                .tasks
                .iter()
                .map(|t| s.task(*t))
                .filter(|t| t.role.as_deref() == Some(role.as_str()) && valid(t.status))
                .count();
            if (n as u64) < u64::from(*min) {
                return Some((
                    "NotEnoughPodsOfTask".into(),
                    format!("Not enough valid pods of task {role}, valid: {n}, min: {min}"),
                ));
            }
        }
        None
    }

    fn job_ready(&self, s: &Snapshot, j: JobId) -> bool {
        job_ready(s, j)
    }

    fn job_pipelined(&self, s: &Snapshot, j: JobId) -> Vote {
        if meets(s, j, true) { Vote::Permit } else { Vote::Reject }
    }

    /// Jobs not yet ready go first, so gangs still gathering their members are not starved by
    /// elastic jobs asking for more.
    fn job_order(&self, s: &Snapshot, a: JobId, b: JobId) -> Ordering {
        job_ready(s, a).cmp(&job_ready(s, b))
    }

    fn close(&mut self, s: &Snapshot, out: &mut Outcome) {
        for j in s.job_ids() {
            let job = s.job(j);
            if !job.is_schedulable_source() || job.tasks.is_empty() && job.problem.is_none() {
                continue;
            }
            let condition = if let Some((reason, message)) = self.job_valid(s, j) {
                JobCondition::Unschedulable { reason, message }
            } else if job_ready(s, j) {
                JobCondition::Scheduled
            } else {
                let total = job.tasks.len();
                let unready = job.tasks.iter().filter(|t| !s.task(**t).status.is_ready()).count();
                let why = out.job_messages.get(&j).cloned().unwrap_or_else(|| {
                    if job.phase == caldera_framework::JobPhase::Pending {
                        "job is waiting to be admitted to its queue".to_string()
                    } else {
                        "not enough resources".to_string()
                    }
                });
                JobCondition::Unschedulable {
                    reason: "NotEnoughResources".into(),
                    message: format!("{unready}/{total} tasks in gang unschedulable: {why}"),
                }
            };
            out.conditions.insert(j, condition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_testkit::ClusterBuilder;

    fn ids(s: &Snapshot, names: &[&str]) -> Vec<TaskId> {
        names
            .iter()
            .map(|n| TaskId::from_idx(s.tasks.iter().position(|t| t.name == *n).unwrap_or(usize::MAX)))
            .collect()
    }

    #[test]
    fn victims_never_cut_a_gang_below_its_minimum_unless_all_of_it_goes() {
        let mut c = ClusterBuilder::new();
        c.node("n").cpu(64).mem_gi(64);
        // 4 running, minMember 3: one pod is surplus.
        c.gang("ns", "g", "default", 3, 4, |p| p.cpu(1)).running_on(&["n"], 0);
        c.gang("ns", "all", "default", 2, 2, |p| p.cpu(1))
            .running_on(&["n"], 0)
            .with_group(|g| g.disruption = Disruption::All);
        c.gang("ns", "single", "default", 2, 2, |p| p.cpu(1))
            .running_on(&["n"], 0)
            .with_group(|g| g.disruption = Disruption::Single);
        let s = c.build(0);
        let v = |names: &[&str]| gang_victims(&s, &ids(&s, names));
        assert_eq!(v(&["g-0", "g-1"]), ids(&s, &["g-0"]), "only the surplus pod");
        assert_eq!(
            v(&["g-0", "g-1", "g-2", "g-3"]),
            ids(&s, &["g-0", "g-1", "g-2", "g-3"]),
            "or the whole gang"
        );
        assert_eq!(
            v(&["all-0"]),
            Vec::<TaskId>::new(),
            "disruptionMode all: together or not at all"
        );
        assert_eq!(v(&["all-0", "all-1"]), ids(&s, &["all-0", "all-1"]));
        assert_eq!(
            v(&["single-1"]),
            ids(&s, &["single-1"]),
            "disruptionMode single: one by one"
        );
        let starving = |name: &str| Gang.job_starving(&s, s.task(ids(&s, &[name])[0]).job);
        assert!(!starving("g-0"));
    }
}

//! `gang`: all-or-nothing. A job is valid only with enough pods, ready only when minMember (and
//! every role's minTaskMember) can run, and at session close it gets Volcano's condition:
//! `Unschedulable` with "k/n tasks in gang unschedulable: …" or `Scheduled`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use caldera_framework::outcome::Outcome;
use caldera_framework::{Hooks, JobCondition, JobId, Plugin, Snapshot, TaskStatus, Vote};

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

impl Plugin for Gang {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::JOB_VALID
            .with(Hooks::JOB_READY)
            .with(Hooks::JOB_PIPELINED)
            .with(Hooks::JOB_ORDER)
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

//! What a cycle decided, for the runtime to carry out or the simulator to apply.

use std::collections::BTreeMap;

use crate::model::{JobCondition, JobId, JobPhase, NodeId, TaskId};

/// A committed placement: bind `task` to `node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// The task.
    pub task: TaskId,
    /// Its node.
    pub node: NodeId,
}

/// A committed eviction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eviction {
    /// The victim.
    pub task: TaskId,
    /// Why (e.g. "preempted by ns/job").
    pub reason: String,
    /// The job it makes room for.
    pub by: JobId,
    /// The action that decided it (`preempt`, `reclaim`).
    pub action: &'static str,
}

/// A job's status as the cycle concluded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// Phase to write.
    pub phase: JobPhase,
    /// Condition to write, if the job was considered this cycle.
    pub condition: Option<JobCondition>,
}

/// Everything one cycle decided.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Placements, gang by gang, in commit order.
    pub binds: Vec<Bind>,
    /// Evictions, in commit order.
    pub evictions: Vec<Eviction>,
    /// Tasks reserved on releasing resources (nominated, not bound).
    pub pipelined: Vec<Bind>,
    /// Why tasks that stayed pending could not be placed (kube-scheduler-style aggregated message).
    pub unschedulable: BTreeMap<TaskId, String>,
    /// Why each job that was tried could not be placed (or admitted) this cycle.
    pub job_messages: BTreeMap<JobId, String>,
    /// Conditions concluded for jobs this cycle (written by plugins at close).
    pub conditions: BTreeMap<JobId, JobCondition>,
    /// What each queue deserves, when a fair-share plugin computed it (for metrics and reports).
    pub queue_deserved: BTreeMap<crate::model::QueueId, crate::resource::Resources>,
    /// Phase and condition of every schedulable job at the end of the cycle.
    pub jobs: BTreeMap<JobId, JobStatus>,
    /// When each pending job is expected to start (simulated or Unix milliseconds), for the jobs
    /// an estimate was made for; a job that never fits by what is known has none.
    pub estimated_starts: BTreeMap<JobId, crate::model::Millis>,
    /// The pending jobs holding a reservation (EASY or conservative backfill): when and where.
    pub reservations: BTreeMap<JobId, crate::timeline::Slot>,
    /// Pending tasks whose nomination is void: the driver forgets it.
    pub dropped_nominations: Vec<TaskId>,
}

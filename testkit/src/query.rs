//! Reading a cycle's result by name rather than by id.

use std::collections::BTreeMap;

use caldera_framework::outcome::Outcome;
use caldera_framework::{JobCondition, JobId, JobPhase, Snapshot, TaskId};

/// Every bind as `("namespace/pod", "node")`, sorted.
pub fn binds(s: &Snapshot, out: &Outcome) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = out
        .binds
        .iter()
        .map(|b| (s.task(b.task).key(), s.node(b.node).name.clone()))
        .collect();
    v.sort();
    v
}

/// Every pipelined task as `("namespace/pod", "node")`, sorted.
pub fn pipelined(s: &Snapshot, out: &Outcome) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = out
        .pipelined
        .iter()
        .map(|b| (s.task(b.task).key(), s.node(b.node).name.clone()))
        .collect();
    v.sort();
    v
}

/// Pods bound per node name.
pub fn binds_per_node(s: &Snapshot, out: &Outcome) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for b in &out.binds {
        *m.entry(s.node(b.node).name.clone()).or_default() += 1;
    }
    m
}

/// The node each pod of job `ns/name` was bound to in this cycle, by pod name.
pub fn job_binds(s: &Snapshot, out: &Outcome, ns: &str, name: &str) -> BTreeMap<String, String> {
    out.binds
        .iter()
        .filter(|b| {
            let j = s.job(s.task(b.task).job);
            j.namespace == ns && j.name == name
        })
        .map(|b| (s.task(b.task).name.clone(), s.node(b.node).name.clone()))
        .collect()
}

/// The job `ns/name` (any source).
pub fn job(s: &Snapshot, ns: &str, name: &str) -> Option<JobId> {
    s.job_ids().find(|j| {
        let job = s.job(*j);
        job.namespace == ns && job.name == name
    })
}

/// The task `ns/name`.
pub fn task(s: &Snapshot, ns: &str, name: &str) -> Option<TaskId> {
    s.tasks
        .iter()
        .position(|t| t.namespace == ns && t.name == name)
        .map(TaskId::from_idx)
}

/// The condition the cycle concluded for job `ns/name`.
pub fn condition(s: &Snapshot, out: &Outcome, ns: &str, name: &str) -> Option<JobCondition> {
    job(s, ns, name).and_then(|j| out.conditions.get(&j).cloned())
}

/// The phase the cycle concluded for job `ns/name`.
pub fn phase(s: &Snapshot, out: &Outcome, ns: &str, name: &str) -> Option<JobPhase> {
    job(s, ns, name).and_then(|j| out.jobs.get(&j).map(|st| st.phase))
}

/// The message recorded for job `ns/name`.
pub fn job_message(s: &Snapshot, out: &Outcome, ns: &str, name: &str) -> Option<String> {
    job(s, ns, name).and_then(|j| out.job_messages.get(&j).cloned())
}

/// What a cycle concluded for one job: phase, condition and message.
pub type JobVerdict = (Option<JobPhase>, Option<JobCondition>, Option<String>);

/// Everything a cycle decided, keyed by names so two cycles over differently ordered (but equal)
/// inputs can be compared: binds, pipelined tasks, per-job phase, condition and message, and
/// per-task unschedulable messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decisions {
    /// `(pod, node)`, sorted.
    pub binds: Vec<(String, String)>,
    /// `(pod, node)`, sorted.
    pub pipelined: Vec<(String, String)>,
    /// Per job key: phase, condition and message.
    pub jobs: BTreeMap<String, JobVerdict>,
    /// Per task key: why it stayed pending.
    pub unschedulable: BTreeMap<String, String>,
}

/// The [`Decisions`] of a cycle.
pub fn decisions(s: &Snapshot, out: &Outcome) -> Decisions {
    let mut jobs = BTreeMap::new();
    for j in s.job_ids() {
        let job = s.job(j);
        let entry: JobVerdict = (
            out.jobs.get(&j).map(|st| st.phase),
            out.conditions.get(&j).cloned(),
            out.job_messages.get(&j).cloned(),
        );
        if entry != (None, None, None) {
            jobs.insert(format!("{:?}:{}/{}", job.source, job.namespace, job.name), entry);
        }
    }
    let unschedulable = out
        .unschedulable
        .iter()
        .map(|(t, m)| (s.task(*t).key(), m.clone()))
        .collect();
    Decisions {
        binds: binds(s, out),
        pipelined: pipelined(s, out),
        jobs,
        unschedulable,
    }
}

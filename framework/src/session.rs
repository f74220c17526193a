//! One scheduling cycle: the snapshot being changed, the plugins consulted, and what was decided.
//!
//! ```text
//!  Session::open(snapshot, plugins) ─▶ action 1 ─▶ action 2 ─▶ … ─▶ Session::close() ─▶ (snapshot, Outcome)
//!                                        │ Statement: allocate / pipeline / evict ─▶ commit | discard
//! ```
//! Every change to a node goes through the session so that node usage, job and queue totals,
//! plugin state and the node change log (which keeps per-class node caches current) stay in step.

use std::collections::BTreeMap;

use crate::config::Arguments;
use crate::fit::FitFailure;
use crate::model::{JobCondition, JobId, JobPhase, JobSource, Millis, NodeId, TaskId, TaskStatus};
use crate::outcome::{JobStatus, Outcome};
use crate::placement::{Placement, Placer};
use crate::plugin::PluginSet;
use crate::policy::StartPolicy;
use crate::snapshot::Snapshot;
use crate::statement::Statement;
use crate::timeline::{Demand, DemandGroup, Slot, Timeline};

/// A cycle in progress.
pub struct Session {
    /// The cluster, as changed by this cycle so far.
    pub snap: Snapshot,
    /// The plugins, in tier order.
    pub plugins: PluginSet,
    /// Decisions so far.
    pub outcome: Outcome,
    /// Arguments of each action (`configurations:` in the scheduler configuration).
    pub action_args: BTreeMap<String, Arguments>,
    /// When set, placements are confined to the nodes whose entry is true (a gang's topology domain).
    pub node_mask: Option<Vec<bool>>,
    /// How jobs start: order, reservations, expected run times.
    pub policy: StartPolicy,
    changes: Vec<NodeId>,
    placer: Placer,
    kept: Vec<Statement>,
    timeline: Option<Timeline>,
    /// Per equivalence class, the nodes whose predicates admit it (for planning; computed once).
    eligible: Vec<Option<Vec<bool>>>,
    /// Per queue, when its pods end (see [`crate::estimate::share_room_at`]), with the length of
    /// the change log it reflects.
    queue_ends: BTreeMap<crate::QueueId, (usize, Vec<(Millis, crate::Resources)>)>,
}

impl Session {
    /// Opens a session: plugins see the snapshot before any action runs.
    pub fn open(snap: Snapshot, mut plugins: PluginSet, action_args: BTreeMap<String, Arguments>) -> Self {
        plugins.open(&snap);
        let placer = Placer::new(snap.classes.len());
        let classes = snap.classes.len();
        Session {
            snap,
            plugins,
            outcome: Outcome::default(),
            action_args,
            node_mask: None,
            policy: StartPolicy::default(),
            changes: Vec::new(),
            placer,
            kept: Vec::new(),
            timeline: None,
            eligible: vec![None; classes],
            queue_ends: BTreeMap::new(),
        }
    }

    /// Recomputes queue `q`'s expected pod ends if anything changed since they were last computed.
    pub(crate) fn refresh_queue_ends(&mut self, q: crate::QueueId) {
        let version = self.changes.len();
        if self.queue_ends.get(&q).is_some_and(|(v, _)| *v == version) {
            return;
        }
        let ends = crate::estimate::queue_ends(self, q);
        self.queue_ends.insert(q, (version, ends));
    }

    /// Queue `q`'s expected pod ends as last refreshed.
    pub(crate) fn queue_ends(&self, q: crate::QueueId) -> &[(Millis, crate::Resources)] {
        self.queue_ends.get(&q).map_or(&[], |(_, e)| e.as_slice())
    }

    /// The cluster's free capacity over time as the session stands, with this cycle's
    /// reservations.
    pub fn timeline(&mut self) -> &Timeline {
        self.timeline_mut()
    }

    fn timeline_mut(&mut self) -> &mut Timeline {
        let (snap, policy, changes) = (&self.snap, &self.policy, &self.changes);
        let tl = self
            .timeline
            .get_or_insert_with(|| Timeline::new(snap, policy, changes.len()));
        tl.refresh(snap, policy, changes);
        tl
    }

    /// The nodes whose predicates admit `task`'s class (all false if its pre-predicate fails),
    /// resources aside; computed once per class and cycle.
    pub fn eligible_nodes(&mut self, task: TaskId) -> Vec<bool> {
        let class = self.snap.task(task).class.idx();
        if let Some(Some(mask)) = self.eligible.get(class) {
            return mask.clone();
        }
        let mask = if self.plugins.pre_predicate(&self.snap, task).is_err() {
            vec![false; self.snap.nodes.len()]
        } else {
            self.snap
                .node_ids()
                .map(|n| self.plugins.predicate(&self.snap, task, n).is_ok())
                .collect()
        };
        if let Some(slot) = self.eligible.get_mut(class) {
            *slot = Some(mask.clone());
        }
        mask
    }

    /// The earliest slot in which `tasks` (pending pods of job `j`, the ones its gang needs) can
    /// all start, not before `not_before`; a job with a topology key is planned inside each domain
    /// of that label and the earliest domain wins. `None` if it never fits by what is known.
    pub fn plan(&mut self, j: JobId, tasks: &[TaskId], not_before: Millis) -> Option<Slot> {
        if tasks.is_empty() {
            return None;
        }
        let duration = tasks
            .iter()
            .map(|t| self.policy.runtime(&self.snap, *t))
            .try_fold(0, |acc: Millis, rt| rt.map(|rt| acc.max(rt)));
        let mut groups: Vec<(crate::ClassId, DemandGroup)> = Vec::new();
        for &t in tasks {
            let class = self.snap.task(t).class;
            if let Some((_, g)) = groups.iter_mut().find(|(c, _)| *c == class) {
                g.count += 1;
                continue;
            }
            let eligible = self.eligible_nodes(t);
            groups.push((
                class,
                DemandGroup {
                    request: self.snap.task(t).spec.request.clone(),
                    count: 1,
                    eligible,
                },
            ));
        }
        let demand = Demand {
            groups: groups.into_iter().map(|(_, g)| g).collect(),
            duration,
            not_before,
        };
        let key = self.snap.job(j).topology_key.clone();
        let domains = match key {
            None => vec![None],
            Some(key) => {
                let mut by_value: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
                for n in self.snap.node_ids() {
                    if let Some(v) = self.snap.node(n).labels.get(&key) {
                        by_value
                            .entry(v.as_str())
                            .or_insert_with(|| vec![false; self.snap.nodes.len()])[n.idx()] = true;
                    }
                }
                by_value.into_values().map(Some).collect()
            }
        };
        let tl = self.timeline_mut();
        let mut best: Option<Slot> = None;
        for mask in domains {
            let mut d = demand.clone();
            if let Some(mask) = &mask {
                for g in &mut d.groups {
                    for (e, m) in g.eligible.iter_mut().zip(mask) {
                        *e = *e && *m;
                    }
                }
            }
            if let Some(slot) = tl.earliest(&d)
                && best.as_ref().is_none_or(|b| slot.start < b.start)
            {
                best = Some(slot);
            }
        }
        best
    }

    /// Holds `slot` for job `j` (a reservation later placements may not disturb) and records its
    /// estimated start; `protected` marks a reservation proper rather than a mere estimate.
    pub fn reserve(&mut self, j: JobId, slot: &Slot, protected: bool) {
        self.timeline_mut().reserve(j, slot);
        self.outcome.estimated_starts.insert(j, slot.start);
        if protected {
            self.outcome.reservations.insert(j, slot.clone());
        }
    }

    /// Drops job `j`'s reservation (it is starting now).
    pub fn unreserve(&mut self, j: JobId) {
        self.timeline_mut().release_claims(j);
        self.outcome.reservations.remove(&j);
        self.outcome.estimated_starts.remove(&j);
    }

    /// Whether the tasks just placed (not yet committed) take room a reservation needs.
    pub fn disturbs_reservations(&mut self, tasks: &[TaskId]) -> bool {
        if self.outcome.reservations.is_empty() {
            return false;
        }
        let placed: Vec<(NodeId, crate::Resources)> = tasks
            .iter()
            .filter_map(|t| {
                let task = self.snap.task(*t);
                task.node.map(|n| (n, task.spec.request.clone()))
            })
            .collect();
        let tl = self.timeline_mut();
        placed.iter().any(|(n, req)| !tl.honours_claims(*n, req))
    }

    /// Forgets `task`'s nomination (the room it was promised goes back to everyone); returns the
    /// node it was nominated to.
    pub(crate) fn unnominate(&mut self, task: TaskId) -> Option<NodeId> {
        let t = &mut self.snap.tasks[task.idx()];
        let node = t.nominated.take()?;
        let req = t.spec.request.clone();
        let n = &mut self.snap.nodes[node.idx()];
        n.nominated.sub(&req);
        n.generation += 1;
        self.changes.push(node);
        Some(node)
    }

    /// Undoes [`Session::unnominate`].
    pub(crate) fn renominate(&mut self, task: TaskId, node: NodeId) {
        let t = &mut self.snap.tasks[task.idx()];
        if t.nominated.is_some() || t.status != TaskStatus::Pending {
            return;
        }
        t.nominated = Some(node);
        let req = t.spec.request.clone();
        let n = &mut self.snap.nodes[node.idx()];
        n.nominated.add(&req);
        n.generation += 1;
        self.changes.push(node);
    }

    /// Drops the nominations of job `j`'s pending pods for good: it could not be placed although
    /// nothing is being released on its nominated nodes any more, so the promise is void.
    pub fn drop_stale_nominations(&mut self, j: JobId) {
        let tasks: Vec<TaskId> = self.snap.job(j).tasks.clone();
        for t in tasks {
            let Some(n) = self.snap.task(t).nominated else { continue };
            if self.snap.node(n).releasing.is_zero() && self.unnominate(t).is_some() {
                self.outcome.dropped_nominations.push(t);
            }
        }
    }

    /// Arguments of action `name` (empty if none were configured).
    pub fn args(&self, action: &str) -> Arguments {
        self.action_args.get(action).cloned().unwrap_or_default()
    }

    /// The best node for `task` now, or why there is none.
    pub fn find_node(&mut self, task: TaskId) -> Result<Placement, FitFailure> {
        self.placer.find(
            &mut self.plugins,
            &self.snap,
            &self.changes,
            task,
            self.node_mask.as_deref(),
        )
    }

    /// Keeps a statement's placements until the session closes (Volcano's "pipelined, not ready"
    /// jobs: nothing is bound, but lower-order jobs cannot take the room); at close its pods are
    /// reported in [`Outcome::pipelined`], to be nominated to their nodes.
    pub fn keep(&mut self, stmt: Statement) {
        self.kept.push(stmt);
    }

    pub(crate) fn place(&mut self, task: TaskId, node: NodeId, status: TaskStatus) {
        let req = self.snap.tasks[task.idx()].spec.request.clone();
        let ports = self.snap.tasks[task.idx()].spec.host_ports.clone();
        let t = &mut self.snap.tasks[task.idx()];
        t.status = status;
        t.node = Some(node);
        let (job, queue) = (t.job, self.snap.jobs[t.job.idx()].queue);
        let n = &mut self.snap.nodes[node.idx()];
        if status == TaskStatus::Pipelined {
            n.pipelined.add(&req);
        } else {
            n.used.add(&req);
            n.used_ports.extend(ports);
        }
        n.tasks.push(task);
        n.generation += 1;
        let j = &mut self.snap.jobs[job.idx()];
        j.allocated.add(&req);
        if status == TaskStatus::Pipelined {
            j.pipelined += 1;
        } else if status.is_ready() {
            j.ready += 1;
        }
        self.snap.queues[queue.idx()].allocated.add(&req);
        self.changes.push(node);
        self.plugins.on_allocate(&self.snap, task);
    }

    pub(crate) fn unplace(&mut self, task: TaskId) {
        let t = &self.snap.tasks[task.idx()];
        let Some(node) = t.node else { return };
        let (status, job) = (t.status, t.job);
        let req = t.spec.request.clone();
        let ports = t.spec.host_ports.clone();
        let queue = self.snap.jobs[job.idx()].queue;
        let n = &mut self.snap.nodes[node.idx()];
        if status == TaskStatus::Pipelined {
            n.pipelined.sub(&req);
        } else {
            n.used.sub(&req);
            for p in &ports {
                if let Some(i) = n.used_ports.iter().position(|u| u == p) {
                    n.used_ports.swap_remove(i);
                }
            }
        }
        if let Some(i) = n.tasks.iter().rposition(|x| *x == task) {
            n.tasks.swap_remove(i);
        }
        n.generation += 1;
        let j = &mut self.snap.jobs[job.idx()];
        j.allocated.sub(&req);
        if status == TaskStatus::Pipelined {
            j.pipelined = j.pipelined.saturating_sub(1);
        } else if status.is_ready() {
            j.ready = j.ready.saturating_sub(1);
        }
        self.snap.queues[queue.idx()].allocated.sub(&req);
        let t = &mut self.snap.tasks[task.idx()];
        t.status = TaskStatus::Pending;
        t.node = None;
        self.changes.push(node);
        self.plugins.on_deallocate(&self.snap, task);
    }

    /// Marks `task` as releasing its node; returns its previous status.
    pub(crate) fn release(&mut self, task: TaskId) -> TaskStatus {
        let t = &mut self.snap.tasks[task.idx()];
        let prev = t.status;
        if let (Some(node), true) = (t.node, prev.occupies_node() && prev != TaskStatus::Releasing) {
            t.status = TaskStatus::Releasing;
            let job = t.job;
            let req = t.spec.request.clone();
            let j = &mut self.snap.jobs[job.idx()];
            if prev.is_ready() {
                j.ready = j.ready.saturating_sub(1);
            }
            j.allocated.sub(&req);
            let queue = j.queue;
            self.snap.queues[queue.idx()].allocated.sub(&req);
            let t = &self.snap.tasks[task.idx()];
            let req = t.spec.request.clone();
            let n = &mut self.snap.nodes[node.idx()];
            n.releasing.add(&req);
            n.generation += 1;
            self.changes.push(node);
            self.plugins.on_deallocate(&self.snap, task);
        }
        prev
    }

    /// Undoes [`Session::release`].
    pub(crate) fn unrelease(&mut self, task: TaskId, prev: TaskStatus) {
        let t = &mut self.snap.tasks[task.idx()];
        if t.status != TaskStatus::Releasing || prev == TaskStatus::Releasing {
            return;
        }
        t.status = prev;
        let job = t.job;
        let req = t.spec.request.clone();
        let j = &mut self.snap.jobs[job.idx()];
        if prev.is_ready() {
            j.ready += 1;
        }
        j.allocated.add(&req);
        let queue = j.queue;
        self.snap.queues[queue.idx()].allocated.add(&req);
        let t = &self.snap.tasks[task.idx()];
        if let Some(node) = t.node {
            let req = t.spec.request.clone();
            let n = &mut self.snap.nodes[node.idx()];
            n.releasing.sub(&req);
            n.generation += 1;
            self.changes.push(node);
        }
        self.plugins.on_allocate(&self.snap, task);
    }

    /// Records why `task` could not be placed.
    pub fn record_unschedulable(&mut self, task: TaskId, message: String) {
        let job = self.snap.tasks[task.idx()].job;
        self.outcome.job_messages.insert(job, message.clone());
        self.outcome.unschedulable.insert(task, message);
    }

    /// Records why `job` could not be admitted or placed, when no single task is to blame.
    pub fn record_job_message(&mut self, job: JobId, message: String) {
        self.outcome.job_messages.insert(job, message);
    }

    /// Ends the cycle: estimates when pending jobs will start, drops kept reservations, lets
    /// plugins write conditions, and concludes every job's phase with Volcano's rules. Returns
    /// the changed snapshot and the decisions.
    pub fn close(mut self) -> (Snapshot, Outcome) {
        if self.snap.estimates_due {
            crate::estimate::estimate_starts(&mut self);
        }
        for stmt in std::mem::take(&mut self.kept) {
            // Every pod of a kept gang is nominated to its node, whether it fitted in idle room or
            // waits for releasing room: the gang is bound together later, and its room is kept.
            let placed: Vec<(TaskId, NodeId)> = stmt.allocated().chain(stmt.pipelined()).collect();
            for (task, node) in placed {
                self.outcome.pipelined.push(crate::outcome::Bind { task, node });
            }
            stmt.discard(&mut self);
        }
        let mut outcome = std::mem::take(&mut self.outcome);
        self.plugins.close(&self.snap, &mut outcome);
        for j in self.snap.job_ids() {
            let job = self.snap.job(j);
            if !job.is_schedulable_source() {
                continue;
            }
            let condition = outcome.conditions.get(&j).cloned();
            let phase = job_phase(&self.snap, j, condition.as_ref());
            outcome.jobs.insert(j, JobStatus { phase, condition });
        }
        for (j, st) in &outcome.jobs {
            self.snap.jobs[j.idx()].phase = st.phase;
        }
        (self.snap, outcome)
    }
}

/// Volcano's phase rule: Running once minMember tasks are scheduled, Completed when all of those
/// finished, Unknown when some run but the gang was found unschedulable, else Inqueue stays Inqueue
/// and anything else falls back to Pending.
pub fn job_phase(s: &Snapshot, j: JobId, condition: Option<&JobCondition>) -> JobPhase {
    let job = s.job(j);
    if job.source == JobSource::Foreign {
        return job.phase;
    }
    let (mut scheduled, mut finished, mut running) = (0u32, 0u32, 0u32);
    for &t in &job.tasks {
        let st = s.task(t).status;
        if st.is_scheduled() {
            scheduled += 1;
        }
        if st.is_terminal() {
            finished += 1;
        }
        if st == TaskStatus::Running {
            running += 1;
        }
    }
    let unschedulable = matches!(condition, Some(JobCondition::Unschedulable { .. }));
    if running > 0 && unschedulable && scheduled < job.min_member {
        JobPhase::Unknown
    } else if scheduled >= job.min_member && scheduled > 0 {
        if finished == scheduled {
            JobPhase::Completed
        } else {
            JobPhase::Running
        }
    } else if job.phase == JobPhase::Inqueue {
        JobPhase::Inqueue
    } else {
        JobPhase::Pending
    }
}

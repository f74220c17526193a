//! The discrete-event simulation: objects arrive at their `simulation.caldera.dev/submit-at`
//! time, the real pipeline runs a cycle every period and at once on arrivals and completions, bound
//! pods run for their `simulation.caldera.dev/runtime` and then finish.
//!
//! ```text
//!  events (arrive, finish) ──▶ state (records) ──SnapshotBuilder──▶ Pipeline::run ──▶ Outcome
//!        ▲                                                                             │
//!        └──────────── finish at bound_at + runtime ◀── apply binds, evictions,  ◀─────┘
//!                                                      nominations, phases
//! ```
//! An evicted pod is gone at once (as if its grace period were zero) and comes back Pending as a
//! new incarnation of itself, as a job controller would recreate it: its placement ends with
//! `evicted`, and a new placement is added when it is bound again. A gang left with fewer running
//! pods than its minMember restarts: its other running pods are evicted too. Pods pipelined onto
//! a node are nominated to it until they are bound.
//! A periodic cycle that could change nothing (no event since a cycle that decided nothing) is
//! skipped: the engine is deterministic, so it would decide nothing again. Results are the same as
//! running every period, only faster. With an `estimate-interval`, a cycle that skipped its start
//! estimates is followed by one that makes them once they are due, event or not: a cycle a
//! scheduler running every period would have too. Estimates change no decision of the cycle that
//! makes them, but the added cycle itself may decide something when pods overran their expected
//! run times (they count as ending at the next cycle, whenever that is).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::Instant;

use caldera_crds::labels::{SIM_RUNTIME, SIM_SUBMIT_AT};
use caldera_framework::convert;
use caldera_framework::duration::parse_duration;
use caldera_framework::snapshot::{GroupRecord, GroupRef, NodeRecord, PodPhase, PodRecord, PriorityClassRecord};
use caldera_framework::{JobCondition, JobPhase, JobSource, Millis, QueueInfo, ResourceNames, SnapshotBuilder};
use caldera_plugins::Pipeline;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::index::{ByName, GroupIndex};
use crate::scenario::{Diagnostic, Origin, Scenario};

/// The scheduler name every simulated pod is treated as having: the simulator runs only Caldera.
pub const SIM_SCHEDULER: &str = "caldera";

/// One eviction, for the report.
#[derive(Clone, Debug, PartialEq)]
pub struct EvictionRecord {
    /// The pod, `namespace/name`.
    pub pod: String,
    /// When.
    pub at: Millis,
    /// `preempt`, `reclaim`, or `restart` (its gang fell below minMember).
    pub action: &'static str,
    /// GPU-milliseconds of work lost (GPUs in thousandths × milliseconds run).
    pub lost_gpu_milli_ms: i128,
}

/// Simulation settings.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Time between periodic cycles.
    pub period: Millis,
    /// Stop at this simulated time.
    pub until: Option<Millis>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            period: 1000,
            until: None,
        }
    }
}

/// One time a pod held a node.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementRecord {
    /// Node name.
    pub node: String,
    /// When it was bound.
    pub bound_at: Millis,
    /// When it stopped holding the node.
    pub ended_at: Option<Millis>,
    /// How it ended: `finished` or `evicted`.
    pub end: Option<&'static str>,
}

/// A simulated pod.
#[derive(Clone, Debug)]
pub struct SimPod {
    /// The record fed to the engine (node and phase kept current).
    pub record: PodRecord,
    /// `namespace/podgroup` it belongs to.
    pub podgroup: Option<String>,
    /// Its queue, once known.
    pub queue: String,
    /// Arrival time.
    pub submit: Millis,
    /// Run time once bound (`None`: runs forever).
    pub runtime: Option<Millis>,
    /// Every placement, oldest first.
    pub placements: Vec<PlacementRecord>,
    /// GPUs it holds, in thousandths of a whole GPU (MIG slices count by compute fraction).
    pub gpu_milli: i64,
}

/// A simulated PodGroup.
#[derive(Clone, Debug)]
pub struct SimGroup {
    /// The record fed to the engine (phase kept current).
    pub record: GroupRecord,
    /// Arrival time.
    pub submit: Millis,
    /// When it first reached Running.
    pub started_at: Option<Millis>,
    /// When it reached Completed.
    pub finished_at: Option<Millis>,
    /// The last reason it could not be scheduled; cleared once it is.
    pub reason: Option<String>,
    /// The first start estimate the scheduler made for it.
    pub estimated_start: Option<Millis>,
    /// The start of the first reservation it held (EASY or conservative backfill).
    pub reserved_start: Option<Millis>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    PodArrives(usize),
    GroupArrives(usize),
    PodFinishes(usize, usize),
}

/// A simulation in progress, and its results once run.
pub struct Simulation {
    names: ResourceNames,
    nodes: Vec<NodeRecord>,
    queues: Vec<QueueInfo>,
    priority_classes: Vec<PriorityClassRecord>,
    /// Pods, in input order.
    pub pods: Vec<SimPod>,
    /// PodGroups, in input order.
    pub groups: Vec<SimGroup>,
    pod_arrived: Vec<bool>,
    group_arrived: Vec<bool>,
    /// Pods that have arrived and may still matter to a decision (see [`Simulation::retire`]),
    /// by index: the snapshot of a cycle is built from these, not from the whole history.
    live_pods: BTreeSet<usize>,
    /// Groups that have arrived and may still matter to a decision.
    live_groups: BTreeSet<usize>,
    /// Per group, how many of the pods naming it have not finished (or not arrived).
    unfinished: Vec<usize>,
    /// The pods naming each group.
    members: Vec<Vec<usize>>,
    /// Groups that held a reservation after the last cycle.
    reserved_groups: Vec<usize>,
    /// When the last cycle that made start estimates ran (`estimate-interval`).
    last_estimates: Option<Millis>,
    /// A cycle since then made none: one is due once the interval has passed, event or not.
    estimates_owed: bool,
    pod_index: ByName<usize>,
    /// The PodGroup (index into `groups`) each pod names, if it exists.
    pod_group: Vec<Option<usize>>,
    group_index: GroupIndex,
    events: BinaryHeap<Reverse<(Millis, u64, Event)>>,
    seq: u64,
    /// Problems in the input.
    pub diagnostics: Vec<Diagnostic>,
    /// Simulated time now.
    pub now: Millis,
    /// Cycles run.
    pub cycles: u64,
    /// Wall-clock seconds spent inside the scheduling pipeline.
    pub engine_seconds: f64,
    /// Total GPUs of the cluster, in thousandths.
    pub gpu_capacity_milli: i64,
    /// Every eviction, in order.
    pub evictions: Vec<EvictionRecord>,
    period: Millis,
}

fn annotation_duration(meta: &ObjectMeta, key: &str, origin: &Origin, diags: &mut Vec<Diagnostic>) -> Option<Millis> {
    let v = meta.annotations.as_ref()?.get(key)?;
    match parse_duration(v) {
        Ok(ms) if ms >= 0 => Some(ms),
        Ok(_) => {
            diags.push(Diagnostic {
                origin: origin.clone(),
                error: true,
                message: format!("metadata.annotations[{key}]: negative duration {v:?}; ignored"),
            });
            None
        }
        Err(e) => {
            diags.push(Diagnostic {
                origin: origin.clone(),
                error: true,
                message: format!("metadata.annotations[{key}]: {e}; ignored"),
            });
            None
        }
    }
}

/// GPU-equivalents of a resource, in thousandths: a whole GPU is 1000, a MIG slice `Ng.*` is N/7.
pub fn gpu_milli_of(name: &str, count: i64) -> i64 {
    if name == "nvidia.com/gpu" || name == "amd.com/gpu" {
        return count.saturating_mul(1000);
    }
    if let Some(profile) = name.strip_prefix("nvidia.com/mig-") {
        let g: i64 = profile.split('g').next().and_then(|g| g.parse().ok()).unwrap_or(1);
        return count.saturating_mul(g * 1000) / 7;
    }
    0
}

fn gpu_milli(r: &caldera_framework::Resources, names: &ResourceNames) -> i64 {
    r.iter().map(|(id, v)| gpu_milli_of(names.name(id), v)).sum()
}

impl Simulation {
    /// Converts a scenario; objects that cannot be converted are reported and left out.
    pub fn new(scenario: Scenario) -> Simulation {
        let Scenario {
            nodes,
            pods,
            volcano_groups,
            coscheduling_groups,
            native_groups,
            queues,
            priority_classes,
            mut diagnostics,
        } = scenario;
        let mut names = ResourceNames::default();
        let report = |origin: &Origin, e: &dyn std::fmt::Display| Diagnostic {
            origin: origin.clone(),
            error: true,
            message: format!("{e}"),
        };
        let ours = [SIM_SCHEDULER.to_string()];

        let mut node_records = Vec::new();
        for (o, n) in &nodes {
            match convert::node_record(n, &mut names) {
                Ok(r) => node_records.push(r),
                Err(e) => diagnostics.push(report(o, &e)),
            }
        }
        let mut queue_records = Vec::new();
        for (o, q) in &queues {
            match convert::queue_info(q, &mut names, 0) {
                Ok(r) => queue_records.push(r),
                Err(e) => diagnostics.push(report(o, &e)),
            }
        }
        let pcs: Vec<PriorityClassRecord> = priority_classes
            .iter()
            .map(|(_, pc)| convert::priority_class_record(pc))
            .collect();

        // A group naming a queue the scenario does not declare is reported with its place; the
        // engine also keeps it pending with reason QueueNotFound.
        let declared: Vec<String> = queue_records.iter().map(|q| q.name.clone()).collect();
        let mut groups = Vec::new();
        let mut add_group = |o: &Origin,
                             meta: &ObjectMeta,
                             result: Result<GroupRecord, convert::ConvertError>,
                             source: JobSource,
                             diags: &mut Vec<Diagnostic>| {
            if let Err(e) = &result {
                diags.push(report(o, e));
            }
            let Some(mut record) = convert::group_or_problem(result, source, meta, 0) else {
                return;
            };
            let q = record.queue.as_str();
            if !(q.is_empty() || q == "default" || q == "root" || declared.iter().any(|d| d == q)) {
                diags.push(Diagnostic {
                    origin: o.clone(),
                    error: true,
                    message: format!(
                        "PodGroup {}/{}: spec.queue: queue {q:?} is not declared; the group will stay pending",
                        record.namespace, record.name
                    ),
                });
            }
            let submit = annotation_duration(meta, SIM_SUBMIT_AT, o, diags).unwrap_or(0);
            record.created = submit;
            groups.push(SimGroup {
                record,
                submit,
                started_at: None,
                finished_at: None,
                reason: None,
                estimated_start: None,
                reserved_start: None,
            });
        };
        for (o, pg) in &volcano_groups {
            let res = convert::volcano_group(pg, &mut names, 0);
            add_group(o, &pg.metadata, res, JobSource::Volcano, &mut diagnostics);
        }
        for (o, pg) in &coscheduling_groups {
            let res = convert::coscheduling_group(pg, &mut names, 0);
            add_group(o, &pg.metadata, res, JobSource::Coscheduling, &mut diagnostics);
        }
        for (o, pg) in &native_groups {
            let res = convert::native_group(pg, &mut names, 0);
            add_group(o, &pg.metadata, res, JobSource::Native, &mut diagnostics);
        }
        let mut group_index = GroupIndex::default();
        for (i, g) in groups.iter().enumerate() {
            group_index.insert(g.record.source, &g.record.namespace, &g.record.name, i);
        }

        let mut sim_pods = Vec::new();
        // Equal specs as one allocation, so each cycle's snapshot recognises them by address.
        let mut specs = caldera_framework::SharedSpecs::new();
        for (o, p) in &pods {
            let submit = annotation_duration(&p.metadata, SIM_SUBMIT_AT, o, &mut diagnostics).unwrap_or(0);
            let runtime = annotation_duration(&p.metadata, SIM_RUNTIME, o, &mut diagnostics);
            match convert::pod_record(p, &ours, &mut names, submit) {
                Ok(mut record) => {
                    record.spec = specs.share(&record.spec);
                    record.ours = true;
                    record.created = submit;
                    let podgroup = record.group.as_ref().map(|g| {
                        let n = match g {
                            caldera_framework::snapshot::GroupRef::Volcano(n)
                            | caldera_framework::snapshot::GroupRef::Coscheduling(n)
                            | caldera_framework::snapshot::GroupRef::Native(n) => n,
                        };
                        format!("{}/{}", record.namespace, n)
                    });
                    let gpu = gpu_milli(&record.spec.request, &names);
                    sim_pods.push(SimPod {
                        record,
                        podgroup,
                        queue: "default".into(),
                        submit,
                        runtime,
                        placements: Vec::new(),
                        gpu_milli: gpu,
                    });
                }
                Err(e) => diagnostics.push(report(o, &e)),
            }
        }
        let mut pod_index = ByName::default();
        for (i, p) in sim_pods.iter().enumerate() {
            pod_index.insert(&p.record.namespace, &p.record.name, i);
        }
        let pod_group: Vec<Option<usize>> = sim_pods
            .iter()
            .map(|p| {
                let (source, name) = match p.record.group.as_ref()? {
                    GroupRef::Volcano(n) => (JobSource::Volcano, n),
                    GroupRef::Coscheduling(n) => (JobSource::Coscheduling, n),
                    GroupRef::Native(n) => (JobSource::Native, n),
                };
                group_index.get(source, &p.record.namespace, name)
            })
            .collect();
        let mut members = vec![Vec::new(); groups.len()];
        for (i, g) in pod_group.iter().enumerate() {
            if let Some(g) = *g {
                members[g].push(i);
            }
        }
        let unfinished = members.iter().map(Vec::len).collect();
        let gpu_capacity_milli = node_records.iter().map(|n| gpu_milli(&n.allocatable, &names)).sum();

        let mut sim = Simulation {
            names,
            nodes: node_records,
            queues: queue_records,
            priority_classes: pcs,
            pod_arrived: vec![false; sim_pods.len()],
            group_arrived: vec![false; groups.len()],
            live_pods: BTreeSet::new(),
            live_groups: BTreeSet::new(),
            unfinished,
            members,
            reserved_groups: Vec::new(),
            last_estimates: None,
            estimates_owed: false,
            pods: sim_pods,
            groups,
            pod_index,
            pod_group,
            group_index,
            events: BinaryHeap::new(),
            seq: 0,
            diagnostics,
            now: 0,
            cycles: 0,
            engine_seconds: 0.0,
            gpu_capacity_milli,
            evictions: Vec::new(),
            period: 1000,
        };
        for i in 0..sim.groups.len() {
            let t = sim.groups[i].submit;
            sim.schedule(t, Event::GroupArrives(i));
        }
        for i in 0..sim.pods.len() {
            let t = sim.pods[i].submit;
            sim.schedule(t, Event::PodArrives(i));
        }
        sim
    }

    fn schedule(&mut self, at: Millis, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, e)));
    }

    /// The queues the scenario declares.
    pub fn queues(&self) -> &[QueueInfo] {
        &self.queues
    }

    /// Whether any error-level diagnostic was raised.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.error)
    }

    fn apply(&mut self, e: Event) {
        match e {
            Event::PodArrives(i) => {
                self.pod_arrived[i] = true;
                self.live_pods.insert(i);
                if self.finished(i) {
                    self.count_finished(i);
                }
                // A pod created with spec.nodeName is bound by the API server, not by a scheduler.
                if let Some(node) = self.pods[i].record.node_name.clone() {
                    self.bind(i, node);
                }
            }
            Event::GroupArrives(i) => {
                self.group_arrived[i] = true;
                self.live_groups.insert(i);
            }
            Event::PodFinishes(i, incarnation) => {
                let was_finished = self.finished(i);
                let p = &mut self.pods[i];
                if p.placements.len() != incarnation + 1 {
                    return;
                }
                p.record.phase = PodPhase::Succeeded;
                if let Some(last) = p.placements.last_mut() {
                    last.ended_at = Some(self.now);
                    last.end = Some("finished");
                }
                if !was_finished {
                    self.count_finished(i);
                }
            }
        }
    }

    /// Whether pod `i` has arrived and ended for good (its phase is final).
    fn finished(&self, i: usize) -> bool {
        self.pod_arrived[i] && matches!(self.pods[i].record.phase, PodPhase::Succeeded | PodPhase::Failed)
    }

    fn count_finished(&mut self, i: usize) {
        if let Some(g) = self.pod_group[i] {
            self.unfinished[g] = self.unfinished[g].saturating_sub(1);
        }
    }

    /// Whether group `g` can change no decision any more: Completed, and every pod naming it has
    /// arrived and finished. That is final: nothing brings such a group or its pods back.
    fn group_retired(&self, g: usize) -> bool {
        self.groups[g].record.phase == JobPhase::Completed && self.unfinished[g] == 0
    }

    /// Leaves out of the live sets the groups and pods that can change no decision any more
    /// (they hold nothing and their phase is final), so the snapshot holds the live cluster, not
    /// the whole history, and a long trace stays linear. A Completed group with a pod still to
    /// come or pending stays in, or that pod would be judged without its group.
    fn retire(&mut self) {
        let retired: Vec<usize> = self
            .live_groups
            .iter()
            .copied()
            .filter(|&g| self.group_retired(g))
            .collect();
        for g in retired {
            self.live_groups.remove(&g);
        }
        let gone: Vec<usize> = self
            .live_pods
            .iter()
            .copied()
            .filter(|&i| self.finished(i) && self.pod_group[i].is_none_or(|g| self.group_retired(g)))
            .collect();
        for i in gone {
            self.live_pods.remove(&i);
        }
    }

    /// Puts pod `i` on `node` now, and schedules its end if it has a runtime.
    fn bind(&mut self, i: usize, node: String) {
        let now = self.now;
        let p = &mut self.pods[i];
        p.record.node_name = Some(node.clone());
        p.record.phase = PodPhase::Running;
        p.record.started = Some(now);
        p.record.nominated_node = None;
        p.placements.push(PlacementRecord {
            node,
            bound_at: now,
            ended_at: None,
            end: None,
        });
        let incarnation = p.placements.len() - 1;
        if let Some(rt) = p.runtime {
            self.schedule(now + rt, Event::PodFinishes(i, incarnation));
        }
    }

    /// Ends pod `i`'s current placement as evicted; it is Pending again, a new incarnation.
    fn evict(&mut self, i: usize, action: &'static str) {
        let now = self.now;
        let p = &mut self.pods[i];
        let Some(last) = p.placements.last_mut() else { return };
        if last.ended_at.is_some() {
            return;
        }
        last.ended_at = Some(now);
        last.end = Some("evicted");
        let lost = i128::from(p.gpu_milli) * i128::from(now - last.bound_at);
        p.record.node_name = None;
        p.record.phase = PodPhase::Pending;
        p.record.started = None;
        p.record.nominated_node = None;
        self.evictions.push(EvictionRecord {
            pod: format!("{}/{}", p.record.namespace, p.record.name),
            at: now,
            action,
            lost_gpu_milli_ms: lost,
        });
    }

    /// Whether pod `i` holds a node now.
    fn running(&self, i: usize) -> bool {
        self.pods[i].placements.last().is_some_and(|pl| pl.ended_at.is_none())
    }

    /// Carries out a cycle's evictions, then restarts every gang they left below its minMember.
    fn apply_evictions(&mut self, snap: &caldera_framework::Snapshot, outcome: &caldera_framework::Outcome) {
        let mut hit: Vec<usize> = Vec::new();
        for e in &outcome.evictions {
            let t = snap.task(e.task);
            let Some(&i) = self.pod_index.get(&t.namespace, &t.name) else {
                continue;
            };
            self.evict(i, e.action);
            let victim = snap.job(t.job);
            if let Some(gi) = self.group_index.get(victim.source, &victim.namespace, &victim.name) {
                self.groups[gi].record.preempted = Some(caldera_framework::Preempted {
                    at: self.now,
                    by: snap.job(e.by).key(),
                });
                hit.push(gi);
            }
        }
        hit.sort_unstable();
        hit.dedup();
        for gi in hit {
            let running: Vec<usize> = self.members[gi].iter().copied().filter(|&i| self.running(i)).collect();
            if (running.len() as u64) < u64::from(self.groups[gi].record.min_member) {
                for i in running {
                    self.evict(i, "restart");
                }
            }
        }
    }

    /// Runs one cycle at the current time; returns whether it decided anything.
    fn cycle(&mut self, pipeline: &Pipeline) -> bool {
        let mut b = SnapshotBuilder::with_resources(self.names.clone());
        b.period(self.period);
        let estimates = pipeline.policy().estimates_due(self.now, self.last_estimates);
        if estimates {
            self.last_estimates = Some(self.now);
        }
        self.estimates_owed = !estimates;
        b.skip_estimates(!estimates);
        for n in &self.nodes {
            b.node(n.clone());
        }
        for q in &self.queues {
            b.queue(q.clone());
        }
        for pc in &self.priority_classes {
            b.priority_class(pc.clone());
        }
        self.retire();
        for &g in &self.live_groups {
            b.group(self.groups[g].record.clone());
        }
        for &i in &self.live_pods {
            b.pod_ref(&self.pods[i].record);
        }
        let snap = b.build(self.now);
        let started = Instant::now();
        let (snap, outcome) = pipeline.run(snap);
        self.engine_seconds += started.elapsed().as_secs_f64();
        self.cycles += 1;

        let mut progress = !outcome.binds.is_empty() || !outcome.evictions.is_empty();
        self.apply_evictions(&snap, &outcome);
        for p in &outcome.pipelined {
            let t = snap.task(p.task);
            if let Some(&i) = self.pod_index.get(&t.namespace, &t.name) {
                let node = snap.node(p.node).name.as_str();
                if self.pods[i].record.nominated_node.as_deref() != Some(node) {
                    progress = true;
                    self.pods[i].record.nominated_node = Some(node.to_string());
                }
            }
        }
        for t in &outcome.dropped_nominations {
            let t = snap.task(*t);
            if let Some(&i) = self.pod_index.get(&t.namespace, &t.name) {
                self.pods[i].record.nominated_node = None;
            }
        }
        for (j, at) in &outcome.estimated_starts {
            let job = snap.job(*j);
            if let Some(gi) = self.group_index.get(job.source, &job.namespace, &job.name) {
                self.groups[gi].estimated_start.get_or_insert(*at);
            }
        }
        for gi in std::mem::take(&mut self.reserved_groups) {
            self.groups[gi].record.reserved = None;
        }
        for (j, slot) in &outcome.reservations {
            let job = snap.job(*j);
            if let Some(gi) = self.group_index.get(job.source, &job.namespace, &job.name) {
                self.reserved_groups.push(gi);
                self.groups[gi].reserved_start.get_or_insert(slot.start);
                self.groups[gi].record.reserved = Some(caldera_framework::snapshot::ReservationRecord::of(&snap, slot));
            }
        }
        for bind in &outcome.binds {
            let t = snap.task(bind.task);
            let node = snap.node(bind.node).name.clone();
            let Some(&i) = self.pod_index.get(&t.namespace, &t.name) else {
                continue;
            };
            self.bind(i, node);
        }
        for (j, status) in &outcome.jobs {
            let job = snap.job(*j);
            for &t in &job.tasks {
                let task = snap.task(t);
                if let Some(&i) = self.pod_index.get(&task.namespace, &task.name)
                    && self.pods[i].queue != job.queue_name
                {
                    self.pods[i].queue = job.queue_name.clone();
                }
            }
            let Some(gi) = self.group_index.get(job.source, &job.namespace, &job.name) else {
                continue;
            };
            let g = &mut self.groups[gi];
            if g.record.phase != status.phase {
                progress = true;
                g.record.phase = status.phase;
            }
            match status.phase {
                JobPhase::Running if g.started_at.is_none() => g.started_at = Some(self.now),
                JobPhase::Completed => {
                    g.started_at.get_or_insert(self.now);
                    g.finished_at.get_or_insert(self.now);
                }
                _ => {}
            }
            match &status.condition {
                Some(JobCondition::Unschedulable { message, .. }) if g.reason.as_ref() != Some(message) => {
                    g.reason = Some(message.clone());
                }
                Some(JobCondition::Unschedulable { .. }) => {}
                Some(JobCondition::Scheduled) => g.reason = None,
                None => {}
            }
        }
        progress
    }

    /// Runs the simulation to the end (or to `until`).
    pub fn run(&mut self, pipeline: &Pipeline, opts: &SimOptions) {
        self.period = opts.period.max(1);
        let mut dirty = false;
        let mut next_periodic: Millis = 0;
        loop {
            let next_event = self.events.peek().map(|Reverse((t, _, _))| *t);
            // A cycle that skipped its start estimates (`estimate-interval`) is followed by one
            // that makes them once they are due, even if nothing happens in between.
            let owed = self
                .last_estimates
                .filter(|_| self.estimates_owed)
                .map(|l| l.saturating_add(pipeline.policy().estimate_interval).max(next_periodic));
            let next = [next_event, dirty.then_some(next_periodic), owed]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { break };
            if opts.until.is_some_and(|u| next > u) {
                break;
            }
            self.now = next.max(self.now);
            while let Some(Reverse((t, _, e))) = self.events.peek().copied() {
                if t > self.now {
                    break;
                }
                self.events.pop();
                self.apply(e);
            }
            let progress = self.cycle(pipeline);
            // After a cycle that decided nothing, the next periodic cycle would decide nothing
            // too; only an event can change that.
            dirty = progress;
            next_periodic = self.now + opts.period.max(1);
        }
    }
}

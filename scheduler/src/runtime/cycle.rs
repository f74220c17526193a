//! The scheduling loop: it owns the cache, runs a cycle when something changed (promptly, after
//! a short pause that lets a burst of new pods arrive together) or when the period elapses, hands
//! the decisions to the binder, and writes what changed in the reports.
//!
//! ```text
//!   watch changes ─┐
//!   bind results ──┼─▶ loop ─(leader, cache synced, something changed)─▶ cycle
//!   new config ────┤                                                    │ assume binds in the cache
//!   debug request ─┘                                                    │ binder: a gang's binds at once
//!                                                                       └ writer: status, conditions, events
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::EventType;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, info_span, warn};

use caldera_crds::labels;
use caldera_crds::volcano::{REASON_NOT_ENOUGH_PODS_OF_TASK, REASON_NOT_ENOUGH_TASKS};
use caldera_framework::outcome::JobStatus;
use caldera_framework::snapshot::ReservationRecord;
use caldera_framework::{JobCondition, JobPhase, JobSource, Outcome, Preempted, Snapshot, TaskStatus};
use caldera_plugins::Pipeline;

use super::admin::Readiness;
use super::binder::{BindRequest, BindResult, Binder};
use super::clock::{now_millis, now_time};
use super::metrics::Metrics;
use super::status;
use super::store::{Change, Entry, Key, Kind, PodEntry, Store};
use super::watch::SharedNames;
use super::writer::{ReportKey, Writer, group_kind, reference};

/// How long a burst of changes may keep arriving before the cycle runs anyway.
const DEBOUNCE: Duration = Duration::from_millis(20);
/// While new work keeps arriving, the next cycle it prompts starts `PROMPT_SPACING × t` after
/// the last one ended (`t` being how long that one took), and at least `PROMPT_GAP` after it,
/// but never later than the period would. A cycle's cost is mostly fixed (it looks at the whole
/// cluster, however few pods are new), so the spacing is what bounds the CPU per pod: cycles take
/// at most about a tenth of a core however large the cluster, a larger cluster gathers more new
/// work into each cycle instead of falling behind, and a stream of pods is placed in batches of
/// at least `PROMPT_GAP`'s worth. At half a core (spacing 1), a stream of 250 pods/s onto 5,000
/// nodes cost 1.5 ms of cycles per pod, three times the cost of watching and binding it. Work
/// that arrives after a quiet spell waits only `DEBOUNCE`.
const PROMPT_SPACING: u32 = 9;
/// See [`PROMPT_SPACING`]: the least time between the end of one cycle and the start of the next
/// one new work prompts.
const PROMPT_GAP: Duration = Duration::from_millis(200);
/// After a cycle that took `t`, a cycle that would only refresh the reports (status counts of
/// pods that turned Running, say) waits at least this many times `t`, and at least the period.
const REPORT_SPACING: u32 = 9;
/// While binds are under way and no job waits, cycles can only refresh the reports, and those
/// writes wait behind the binds anyway (see `writer`): such cycles come at most this often, so
/// their CPU goes to the binds (on a 2-core machine shared with the API server, a refresh of
/// 5,000 nodes and 10,000 pods every second took a tenth of a core from a bind burst).
const BUSY_REPORT_PERIOD: Duration = Duration::from_secs(3);

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Shutdown was requested.
    Shutdown,
    /// This replica lost the lease: it stops at once so it can never bind beside a new leader.
    LeadershipLost,
}

/// The loop's inputs.
pub struct Inputs {
    /// Cache changes from the watches.
    pub changes: mpsc::Receiver<Change>,
    /// Results of binds.
    pub binds: mpsc::UnboundedReceiver<BindResult>,
    /// Requests for `/debug/snapshot`.
    pub debug: mpsc::Receiver<oneshot::Sender<String>>,
    /// The current pipeline (replaced when the configuration file changes).
    pub pipeline: watch::Receiver<Arc<Pipeline>>,
    /// Whether this replica leads.
    pub leader: watch::Receiver<bool>,
    /// Where readiness is published.
    pub ready: watch::Sender<Readiness>,
    /// Cancelled on SIGTERM/SIGINT.
    pub shutdown: CancellationToken,
}

/// The scheduler's state between cycles.
pub struct Scheduler {
    /// The cache.
    pub store: Store,
    names: SharedNames,
    binder: Binder,
    writer: Writer,
    metrics: Arc<Metrics>,
    period: Duration,
    assumption_ttl: i64,
    seq: u64,
    last_generation: Option<u64>,
    /// Whether the last cycle left a gang waiting. Its chances change with time alone (expected
    /// ends pass, reservations come due, a cool-down or SLA runs out), so the periodic cycle then
    /// runs even when the cache has not changed.
    waiting: bool,
    /// How long the last cycle took.
    last_cost: Duration,
    /// Last unschedulable message written per pending pod.
    pod_messages: BTreeMap<Key, String>,
    /// Last status written per PodGroup, until the watch shows it.
    group_writes: BTreeMap<(Kind, Key), Value>,
    /// Last status written per queue.
    queue_writes: BTreeMap<String, Value>,
    /// Last Unschedulable message evented per PodGroup.
    group_messages: BTreeMap<(Kind, Key), String>,
    /// Gangs whose binds failed for good, with why, until they are placed.
    bind_failures: BTreeMap<Key, String>,
    /// The start estimate last written per PodGroup (annotation and condition message); `None`
    /// once the annotation was removed.
    estimates: BTreeMap<(Kind, Key), Option<i64>>,
    /// When the last cycle that made start estimates ran (`estimate-interval`).
    last_estimates: Option<i64>,
}

impl Scheduler {
    /// A scheduler over `store`.
    pub fn new(
        mut store: Store,
        names: SharedNames,
        binder: Binder,
        writer: Writer,
        metrics: Arc<Metrics>,
        period: Duration,
        bind_timeout: Duration,
    ) -> Self {
        let ttl = i64::try_from((bind_timeout * 2 + Duration::from_secs(30)).as_millis()).unwrap_or(i64::MAX);
        store.set_period(i64::try_from(period.as_millis()).unwrap_or(i64::MAX));
        Scheduler {
            store,
            names,
            binder,
            writer,
            metrics,
            period,
            assumption_ttl: ttl,
            seq: 0,
            last_generation: None,
            waiting: false,
            last_cost: Duration::ZERO,
            pod_messages: BTreeMap::new(),
            group_writes: BTreeMap::new(),
            queue_writes: BTreeMap::new(),
            group_messages: BTreeMap::new(),
            bind_failures: BTreeMap::new(),
            estimates: BTreeMap::new(),
            last_estimates: None,
        }
    }

    fn snapshot(&self) -> Snapshot {
        let names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        self.store.snapshot(&names, now_millis())
    }

    /// The binder, so the caller can drain it at shutdown.
    pub fn binder(&self) -> Binder {
        self.binder.clone()
    }

    /// Runs until shutdown or loss of leadership.
    pub async fn run(mut self, mut io: Inputs) -> Exit {
        let mut pipeline = io.pipeline.borrow().clone();
        let mut was_leader = *io.leader.borrow();
        let mut next_periodic = Instant::now() + self.period;
        // Set when something that may change a decision arrives: a cycle then runs promptly.
        // Changes that only change the reports wait for the periodic cycle.
        let mut burst_since: Option<Instant> = None;
        let mut last_end = Instant::now();
        loop {
            let spacing = (self.last_cost * PROMPT_SPACING)
                .max(PROMPT_GAP)
                .min(self.period)
                .max(self.last_cost);
            let prompt = burst_since.map(|t| (t + DEBOUNCE).max(last_end + spacing));
            let deadline = prompt.map_or(next_periodic, |p| p.min(next_periodic));
            let decisions = self.store.decision_generation();
            tokio::select! {
                biased;
                () = io.shutdown.cancelled() => return Exit::Shutdown,
                changed = io.leader.changed() => {
                    let leader = changed.is_ok() && *io.leader.borrow();
                    if was_leader && !leader {
                        return Exit::LeadershipLost;
                    }
                    if leader && !was_leader {
                        info!("became leader: scheduling");
                    }
                    was_leader = leader;
                    self.metrics.set_leader(leader);
                }
                Some(change) = io.changes.recv() => {
                    self.store.apply(change);
                    while let Ok(change) = io.changes.try_recv() {
                        self.store.apply(change);
                    }
                    if self.store.decision_generation() != decisions {
                        burst_since.get_or_insert_with(Instant::now);
                    }
                }
                Some(result) = io.binds.recv() => {
                    self.on_bind(result);
                    // A failed bind puts its pod back into the queue.
                    if self.store.decision_generation() != decisions {
                        burst_since.get_or_insert_with(Instant::now);
                    }
                }
                Some(reply) = io.debug.recv() => {
                    let _ = reply.send(self.debug_json().to_string());
                }
                Ok(()) = io.pipeline.changed() => {
                    pipeline = io.pipeline.borrow().clone();
                    self.last_generation = None;
                    info!(actions = ?pipeline.action_names(), "configuration reloaded");
                }
                () = tokio::time::sleep_until(deadline) => {
                    burst_since = None;
                    let readiness = if !self.store.schedulable() {
                        let waiting: Vec<&str> = self.store.waiting_for().iter().map(|k| k.as_str()).collect();
                        Readiness::Starting(format!("waiting for the cache to sync: {}", waiting.join(", ")))
                    } else if was_leader {
                        Readiness::Ready
                    } else {
                        Readiness::Standby
                    };
                    io.ready.send_if_modified(|r| if *r == readiness { false } else { *r = readiness.clone(); true });
                    for kind in [Kind::Node, Kind::Pod, Kind::VolcanoGroup, Kind::CoschedulingGroup, Kind::NativeGroup, Kind::Queue] {
                        self.metrics.set_cache_objects(kind.as_str(), i64::try_from(self.store.count(kind)).unwrap_or(i64::MAX));
                    }
                    if readiness == Readiness::Ready
                        && (self.waiting || self.last_generation != Some(self.store.generation()))
                        && (self.store.synced() || self.store.has_waiting_pod())
                    {
                        let started = Instant::now();
                        self.cycle(&pipeline);
                        last_end = Instant::now();
                        self.last_cost = last_end - started;
                    }
                    let floor = if !self.waiting && self.binder.busy() {
                        self.period.max(BUSY_REPORT_PERIOD)
                    } else {
                        self.period
                    };
                    next_periodic = Instant::now() + floor.max(self.last_cost * REPORT_SPACING);
                }
            }
        }
    }

    /// One scheduling cycle.
    pub fn cycle(&mut self, pipeline: &Pipeline) {
        self.seq += 1;
        let span = info_span!("cycle", seq = self.seq);
        let _guard = span.enter();
        let started = std::time::Instant::now();
        let now = now_millis();
        let expired = self.store.expire_assumptions(now, self.assumption_ttl);
        if expired > 0 {
            warn!(
                expired,
                "placements never confirmed by the API were dropped; those pods will be scheduled again"
            );
        }
        // While the first pod list is still arriving, every bound pod is known (so no node is
        // overcommitted) but not every waiting one: the cycle places what it has into free room,
        // as it would pods that had just been created, and neither evicts nor reports, since both
        // judge by all the work that waits.
        let listing = !self.store.synced();
        let mut snap = self.snapshot();
        let snapshot_ms = started.elapsed().as_millis() as u64;
        snap.estimates_due = !listing && pipeline.policy().estimates_due(now, self.last_estimates);
        if snap.estimates_due {
            self.last_estimates = Some(now);
        }
        let metrics = self.metrics.clone();
        let (snap, outcome) = tokio::task::block_in_place(|| {
            let mut ssn = pipeline.open(snap);
            for action in pipeline.actions().iter().filter(|a| !(listing && a.evicts())) {
                let t = std::time::Instant::now();
                action.execute(&mut ssn);
                metrics.observe_action(action.name(), t.elapsed().as_secs_f64());
            }
            ssn.close()
        });
        let decided_ms = started.elapsed().as_millis() as u64;
        self.dispatch_binds(&snap, &outcome, now);
        self.carry_out_evictions(&snap, &outcome, now);
        self.remember(&snap, &outcome, now);
        self.last_generation = Some(self.store.generation());
        self.waiting = outcome
            .jobs
            .values()
            .any(|st| matches!(st.phase, JobPhase::Pending | JobPhase::Inqueue));
        if !listing {
            self.write_reports(&snap, &outcome);
        }
        self.record_metrics(&snap, &outcome);
        self.metrics.observe_cycle(started.elapsed().as_secs_f64());
        // Where the time went: the snapshot, then the session (plugins and actions), then the
        // rest (binds handed over, reports, metrics).
        debug!(
            binds = outcome.binds.len(),
            nodes = snap.nodes.len(),
            tasks = snap.tasks.len(),
            listing,
            snapshot_ms,
            session_ms = decided_ms - snapshot_ms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "cycle done"
        );
    }

    fn dispatch_binds(&mut self, snap: &Snapshot, outcome: &Outcome, now: i64) {
        let mut gangs: Vec<(Option<Key>, Vec<BindRequest>)> = Vec::new();
        let mut index: BTreeMap<caldera_framework::JobId, usize> = BTreeMap::new();
        for b in &outcome.binds {
            let t = snap.task(b.task);
            let job = snap.job(t.job);
            let key = (t.namespace.clone(), t.name.clone());
            let node = snap.node(b.node).name.clone();
            self.store.assume(key.clone(), node.clone(), now);
            self.pod_messages.remove(&key);
            let i = *index.entry(t.job).or_insert_with(|| {
                let gang = (job.source != JobSource::Standalone).then(|| (job.namespace.clone(), job.name.clone()));
                gangs.push((gang, Vec::new()));
                gangs.len() - 1
            });
            gangs[i].1.push(BindRequest {
                pod: key,
                uid: t.uid.clone(),
                node,
            });
        }
        for (gang, reqs) in gangs {
            debug!(gang = ?gang, pods = reqs.len(), "binding");
            self.binder.bind_gang(gang, reqs);
        }
    }

    /// Evicts each victim (condition DisruptionTarget, then delete) and records on its PodGroup
    /// when and for whom (`caldera.dev/preempted-at`, `caldera.dev/preempted-by`), which the
    /// preemption cool-down reads back.
    fn carry_out_evictions(&mut self, snap: &Snapshot, outcome: &Outcome, now: i64) {
        let mut groups: BTreeMap<(Kind, Key), (JobSource, String)> = BTreeMap::new();
        for e in &outcome.evictions {
            let t = snap.task(e.task);
            self.metrics.eviction(e.action);
            self.store.evicting((t.namespace.clone(), t.name.clone()), now);
            self.writer
                .evict((t.namespace.clone(), t.name.clone()), t.uid.clone(), e.reason.clone());
            let victim = snap.job(t.job);
            if let Some(kind) = Kind::of_source(victim.source) {
                groups.insert(
                    (kind, (victim.namespace.clone(), victim.name.clone())),
                    (victim.source, snap.job(e.by).key()),
                );
            }
        }
        for ((kind, key), (source, by)) in groups {
            let at = rfc3339(now);
            self.store.mark_preempted(
                (kind, key.clone()),
                Preempted {
                    at: now,
                    by: by.clone(),
                },
            );
            let mut a = BTreeMap::new();
            a.insert(labels::PREEMPTED_AT.to_string(), Some(at));
            a.insert(labels::PREEMPTED_BY.to_string(), Some(by));
            self.writer.annotate_group(source, key, a);
        }
    }

    /// Keeps what the next cycle must know and the API does not say: nominations (also written
    /// as `status.nominatedNodeName`) and reservations.
    fn remember(&mut self, snap: &Snapshot, outcome: &Outcome, now: i64) {
        for p in &outcome.pipelined {
            let t = snap.task(p.task);
            let key = (t.namespace.clone(), t.name.clone());
            let node = snap.node(p.node).name.clone();
            if self.store.nominate(key.clone(), node.clone(), now) {
                self.writer.nominate(key, Some(node));
            }
        }
        for t in &outcome.dropped_nominations {
            let t = snap.task(*t);
            let key = (t.namespace.clone(), t.name.clone());
            if self.store.forget_nomination(&key) {
                self.writer.nominate(key, None);
            }
        }
        let mut reservations = BTreeMap::new();
        for (j, slot) in &outcome.reservations {
            let job = snap.job(*j);
            if let Some(kind) = Kind::of_source(job.source) {
                reservations.insert(
                    (kind, (job.namespace.clone(), job.name.clone())),
                    ReservationRecord::of(snap, slot),
                );
            }
        }
        self.store.set_reservations(reservations);
    }

    /// The start estimate to show for a PodGroup: the one last written while the new one is
    /// within a minute (or a tenth of the remaining wait) of it, so a drifting estimate does not
    /// rewrite the object every cycle; the annotation is written when the value changes and
    /// removed once the gang runs or has no estimate.
    fn stable_estimate(
        &mut self,
        source: JobSource,
        wkey: &(Kind, Key),
        fresh: Option<i64>,
        observed: Option<&str>,
        now: i64,
    ) -> Option<i64> {
        let on_object = observed
            .and_then(|v| v.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond());
        let written = self.estimates.get(wkey).copied();
        let current = written.unwrap_or(on_object);
        let keep = match (current, fresh) {
            (Some(c), Some(f)) => (f - c).abs() <= (60_000i64).max((c - now).max(0) / 10),
            (None, None) => true,
            _ => false,
        };
        let value = if keep { current } else { fresh };
        let write = match written {
            Some(w) => w != value,
            None => value != on_object || (observed.is_some() && on_object.is_none()),
        };
        if write {
            let mut a = BTreeMap::new();
            a.insert(labels::ESTIMATED_START.to_string(), value.map(rfc3339));
            self.writer.annotate_group(source, wkey.1.clone(), a);
        }
        self.estimates.insert(wkey.clone(), value);
        value
    }

    fn on_bind(&mut self, result: BindResult) {
        match result {
            BindResult::Bound { pod, node } => {
                self.metrics.pods_bound(1);
                self.metrics.schedule_attempt("scheduled");
                if let Some(Entry::Pod(PodEntry::Valid(p))) = self.store.get(Kind::Pod, &pod) {
                    let latency = (now_millis() - p.created).max(0) as f64 / 1000.0;
                    self.metrics.observe_e2e_latency(latency);
                    let note = format!("Successfully assigned {}/{} to {node}", pod.0, pod.1);
                    self.writer.event(
                        reference("v1", "Pod", &pod, &p.uid),
                        EventType::Normal,
                        "Scheduled",
                        "Binding",
                        note,
                    );
                }
            }
            BindResult::AlreadyBound { pod } => debug!(?pod, "pod was already bound; accepted"),
            BindResult::Gone { pod } => self.store.forget(&pod),
            BindResult::Failed { pod, gang, error } => {
                self.store.forget(&pod);
                self.metrics.bind_error(&short_reason(&error));
                self.metrics.schedule_attempt("error");
                warn!(pod = %format!("{}/{}", pod.0, pod.1), %error, "bind failed; the pod will be scheduled again");
                if let Some(g) = gang {
                    let msg = format!(
                        "binding pod {} failed: {error}; the gang's remaining pods are scheduled again",
                        pod.1
                    );
                    self.bind_failures.insert(g, msg);
                }
            }
        }
    }

    fn observed_group(&self, kind: Kind, key: &Key) -> Value {
        match self.store.get(kind, key) {
            Some(Entry::Group(g)) => g.status.clone(),
            _ => Value::Null,
        }
    }

    fn write_reports(&mut self, snap: &Snapshot, outcome: &Outcome) {
        let now = serde_json::to_value(now_time())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let now_ms = now_millis();
        let cycle_id = format!("caldera-{}-{}", now_ms, self.seq);
        // Writes that failed are written again: forget that they were sent.
        for key in self.writer.take_failed() {
            match key {
                ReportKey::Group(kind, k) => {
                    self.group_writes.remove(&(kind, k));
                }
                ReportKey::Queue(name) => {
                    self.queue_writes.remove(&name);
                }
                ReportKey::PodCondition(k) => {
                    self.pod_messages.remove(&k);
                }
                ReportKey::Annotations(kind, k) => {
                    self.estimates.remove(&(kind, k));
                }
                ReportKey::Evict(_) | ReportKey::Nomination(_) | ReportKey::Event(_) => {}
            }
        }
        let mut pending: BTreeSet<Key> = BTreeSet::new();
        let mut reported: BTreeSet<(Kind, Key)> = BTreeSet::new();
        for (j, st) in &outcome.jobs {
            let job = snap.job(*j);
            // A pod without a PodGroup has nothing to report unless it waits: no group status,
            // no gang bind failure. Most jobs of a large cluster are such pods, long placed.
            if job.source == JobSource::Standalone && !matches!(st.condition, Some(JobCondition::Unschedulable { .. }))
            {
                continue;
            }
            let gkey = (job.namespace.clone(), job.name.clone());
            let mut st: JobStatus = st.clone();
            if matches!(st.condition, Some(JobCondition::Scheduled)) {
                self.bind_failures.remove(&gkey);
            } else if let Some(msg) = self.bind_failures.get(&gkey) {
                st.condition = Some(JobCondition::Unschedulable {
                    reason: "BindFailed".into(),
                    message: msg.clone(),
                });
            }
            // A gang short of pods is waiting for its controller to create them, not failing to
            // schedule: its PodGroup says so (the condition follows the count, the event is raised
            // once, not once per pod that arrives), and its pods get neither a PodScheduled=False
            // condition nor a FailedScheduling event, as kube-scheduler leaves the pods of a gang
            // below minCount alone. While pods stream in, that was one event and one status patch
            // per pod per arrival.
            let short = matches!(&st.condition, Some(JobCondition::Unschedulable { reason, .. })
                if reason == REASON_NOT_ENOUGH_TASKS || reason == REASON_NOT_ENOUGH_PODS_OF_TASK);
            if let Some(kind) = Kind::of_source(job.source)
                && self.store.get(kind, &gkey).is_some()
            {
                let observed = self.observed_group(kind, &gkey);
                let wkey = (kind, gkey.clone());
                reported.insert(wkey.clone());
                let waiting = matches!(st.phase, JobPhase::Pending | JobPhase::Inqueue);
                // Between two estimate passes (`estimate-interval`) a waiting gang keeps the estimate
                // it was shown; one that holds a reservation has its start in the outcome anyway.
                let fresh = outcome
                    .estimated_starts
                    .get(j)
                    .copied()
                    .or_else(|| {
                        if snap.estimates_due {
                            None
                        } else {
                            self.estimates.get(&wkey).copied().flatten()
                        }
                    })
                    .filter(|_| waiting);
                let annotated = match self.store.get(kind, &gkey) {
                    Some(Entry::Group(g)) => g.estimated_start.clone(),
                    _ => None,
                };
                let estimate = self.stable_estimate(job.source, &wkey, fresh, annotated.as_deref(), now_ms);
                // The condition says when the gang is expected to start; the event does not, so an
                // estimate moving does not raise a new event.
                let mut shown = st.clone();
                if let (Some(JobCondition::Unschedulable { message, .. }), Some(at)) = (&mut shown.condition, estimate)
                {
                    message.push_str(&format!("; expected to start at {} (estimate)", rfc3339(at)));
                }
                let desired = match job.source {
                    JobSource::Volcano => status::volcano(snap, *j, &shown, &observed, &now, &cycle_id),
                    JobSource::Coscheduling => status::coscheduling(snap, *j, &shown, &observed, &now),
                    JobSource::Native => status::native(snap, *j, &shown, &observed, &now),
                    JobSource::Standalone | JobSource::Foreign => None,
                };
                match desired {
                    Some(d) if !self.group_writes.get(&wkey).is_some_and(|w| status::same_report(w, &d)) => {
                        self.writer.group_status(job.source, gkey.clone(), d.clone());
                        self.group_writes.insert(wkey.clone(), d);
                    }
                    Some(_) => {}
                    None => {
                        self.group_writes.remove(&wkey);
                    }
                }
                if let Some(JobCondition::Unschedulable { reason, message }) = &st.condition
                    && self.group_messages.get(&wkey) != Some(if short { reason } else { message })
                {
                    let (api, k) = group_kind(job.source);
                    let r = reference(api, k, &gkey, &job.uid);
                    self.writer
                        .event(r, EventType::Warning, "Unschedulable", "Scheduling", message.clone());
                    let seen = if short { reason } else { message };
                    self.group_messages.insert(wkey, seen.clone());
                } else if matches!(st.condition, Some(JobCondition::Scheduled)) {
                    self.group_messages.remove(&wkey);
                }
            }
            if let Some(JobCondition::Unschedulable { message, .. }) = &st.condition
                && !short
            {
                for &t in &job.tasks {
                    let task = snap.task(t);
                    if task.status != TaskStatus::Pending {
                        continue;
                    }
                    let key = (task.namespace.clone(), task.name.clone());
                    let msg = outcome.unschedulable.get(&t).unwrap_or(message);
                    if self.pod_messages.get(&key) != Some(msg) {
                        self.writer
                            .pod_unschedulable(key.clone(), task.uid.clone(), msg.clone());
                        self.pod_messages.insert(key.clone(), msg.clone());
                        self.metrics.schedule_attempt("unschedulable");
                    }
                    pending.insert(key);
                }
            }
        }
        let invalid: Vec<(Key, String, String)> = self
            .store
            .invalid_pods()
            .map(|(k, m)| {
                let uid = match self.store.get(Kind::Pod, k) {
                    Some(Entry::Pod(PodEntry::Invalid { uid, .. })) => uid.clone(),
                    _ => String::new(),
                };
                (k.clone(), uid, format!("pod cannot be scheduled: {m}"))
            })
            .collect();
        for (key, uid, msg) in invalid {
            if self.pod_messages.get(&key) != Some(&msg) {
                self.writer.pod_unschedulable(key.clone(), uid, msg.clone());
                self.pod_messages.insert(key.clone(), msg);
            }
            pending.insert(key);
        }
        // Forget messages of pods that are no longer waiting, so a new wait is reported again.
        self.pod_messages.retain(|k, _| pending.contains(k));
        self.estimates.retain(|k, _| reported.contains(k));

        for q in snap.queue_ids() {
            let name = snap.queue(q).name.clone();
            let observed = match self.store.get(Kind::Queue, &(String::new(), name.clone())) {
                Some(Entry::Queue(e)) => e.status.clone(),
                _ => continue,
            };
            match status::queue(snap, q, &observed) {
                Some(d) if self.queue_writes.get(&name) != Some(&d) => {
                    self.writer.queue_status(name.clone(), d.clone());
                    self.queue_writes.insert(name, d);
                }
                Some(_) => {}
                None => {
                    self.queue_writes.remove(&name);
                }
            }
        }
    }

    fn record_metrics(&self, snap: &Snapshot, outcome: &Outcome) {
        let mut pending_jobs: BTreeMap<&str, i64> = snap.queues.iter().map(|q| (q.name.as_str(), 0)).collect();
        for (j, st) in &outcome.jobs {
            if matches!(st.condition, Some(JobCondition::Unschedulable { .. }))
                || st.phase == caldera_framework::JobPhase::Pending
            {
                *pending_jobs
                    .entry(snap.queue(snap.job(*j).queue).name.as_str())
                    .or_default() += 1;
            }
        }
        for (q, n) in pending_jobs {
            self.metrics.set_pending_jobs(q, n);
        }
        for q in snap.queue_ids() {
            let queue = snap.queue(q);
            for id in snap.resources.ids() {
                let name = snap.resources.name(id);
                self.metrics
                    .set_queue_allocated(&queue.name, name, queue.allocated.get(id));
                if let Some(d) = outcome.queue_deserved.get(&q) {
                    self.metrics.set_queue_deserved(&queue.name, name, d.get(id));
                }
            }
        }
    }

    /// The cache as JSON, for bug reports (`/debug/snapshot`).
    pub fn debug_json(&self) -> Value {
        let snap = self.snapshot();
        let r = &snap.resources;
        let res = |x: &caldera_framework::Resources| -> Value {
            x.iter()
                .map(|(id, v)| (r.name(id).to_string(), json!(r.format_value(id, v))))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        json!({
            "synced": self.store.synced(),
            "waitingFor": self.store.waiting_for().iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "assumedBinds": self.store.assumed_count(),
            "nodes": snap.nodes.iter().map(|n| json!({
                "name": n.name, "ready": n.ready, "unschedulable": n.unschedulable,
                "allocatable": res(&n.allocatable), "used": res(&n.used), "pods": n.tasks.len(),
            })).collect::<Vec<_>>(),
            "queues": snap.queues.iter().map(|q| json!({
                "name": q.name, "weight": q.weight, "state": format!("{:?}", q.state), "allocated": res(&q.allocated),
            })).collect::<Vec<_>>(),
            "jobs": snap.jobs.iter().filter(|j| j.is_schedulable_source()).map(|j| json!({
                "name": j.key(), "api": format!("{:?}", j.source), "queue": j.queue_name, "phase": j.phase.as_str(),
                "minMember": j.min_member, "pods": j.tasks.len(), "ready": j.ready,
                "problem": j.problem.as_ref().map(|(r, m)| format!("{r}: {m}")),
            })).collect::<Vec<_>>(),
            "warnings": snap.warnings,
        })
    }
}

/// A short, bounded-cardinality label for a bind error.
fn short_reason(error: &str) -> String {
    error
        .split([':', '('])
        .next()
        .unwrap_or("error")
        .trim()
        .chars()
        .take(40)
        .collect()
}

/// Unix milliseconds as an RFC 3339 time, to the second.
fn rfc3339(ms: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_second(ms.div_euclid(1000))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

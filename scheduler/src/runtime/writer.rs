//! Writes to the API that report decisions: PodGroup and Queue status, pod conditions, events,
//! evictions.
//!
//! Reports never compete with binds for the API server, and their number follows what changed,
//! not how often a cycle ran:
//!
//! * every write waits in a coalescing queue ([`ReportQueue`]): a newer status of an object
//!   replaces the waiting one, so only the latest is written; evictions go first, then status and
//!   conditions, then events (at most [`EVENT_CAP`] waiting; beyond that the oldest are dropped
//!   and counted in `caldera_events_dropped_total`);
//! * [`WORKERS`] tasks drain the queue, behind the API rate limit; while binds are under way only
//!   one of them sends at a time, so binds keep almost all of the API server;
//! * a status or condition write that fails is handed back to the scheduling loop
//!   ([`Writer::take_failed`]), which writes it again from its next cycle; a failed event is only
//!   logged.
//!
//! The cycle never waits for a write: a slow API server delays reports, never decisions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::Request;
use kube::runtime::events::EventType;
use kube::{Client, Resource};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tracing::{debug, warn};

use caldera_crds::{coscheduling, native, volcano};
use caldera_framework::JobSource;

use super::binder::Activity;
use super::clock::now_time;
use super::lean::LeanPod;
use super::metrics::Metrics;
use super::ratelimit::RateLimiter;
use super::reportqueue::{Lane, ReportQueue};
use super::store::{Key, Kind};

/// Name this process reports events under.
pub const COMPONENT: &str = "caldera";
/// Report writes in flight at most (one while binds are under way).
pub const WORKERS: usize = 4;
/// Events waiting at most; beyond, the oldest are dropped.
pub const EVENT_CAP: usize = 20_000;

/// What a queued report is about; reports with equal keys coalesce (events never do).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReportKey {
    /// A PodGroup's status.
    Group(Kind, Key),
    /// A Queue's status.
    Queue(String),
    /// A pod's PodScheduled condition.
    PodCondition(Key),
    /// An eviction.
    Evict(Key),
    /// Annotations Caldera sets on a PodGroup (estimated start, last preemption).
    Annotations(Kind, Key),
    /// A pending pod's `status.nominatedNodeName`.
    Nomination(Key),
    /// One event.
    Event(u64),
}

#[derive(Debug)]
enum Report {
    Group {
        source: JobSource,
        status: Value,
    },
    Queue {
        status: Value,
    },
    PodUnschedulable {
        message: String,
    },
    Evict {
        uid: String,
        reason: String,
    },
    Annotate {
        source: JobSource,
        annotations: BTreeMap<String, Option<String>>,
    },
    Nominate {
        node: Option<String>,
    },
    Event(Box<K8sEvent>),
}

struct Shared {
    client: Client,
    limiter: RateLimiter,
    instance: String,
    metrics: Arc<Metrics>,
    binds: Activity,
    queue: Mutex<ReportQueue<ReportKey, Report>>,
    wake: Notify,
    /// Held by the one worker allowed to send while binds are under way.
    trickle: tokio::sync::Mutex<()>,
    failed: Mutex<Vec<ReportKey>>,
    seq: AtomicU64,
}

/// Issues report writes; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

/// A reference to an object, for events.
pub fn reference(api_version: &str, kind: &str, key: &Key, uid: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kind.to_string()),
        namespace: Some(key.0.clone()).filter(|n| !n.is_empty()),
        name: Some(key.1.clone()),
        uid: Some(uid.to_string()).filter(|u| !u.is_empty()),
        ..ObjectReference::default()
    }
}

/// The API version and kind of a job source's PodGroup.
pub fn group_kind(source: JobSource) -> (&'static str, &'static str) {
    match source {
        JobSource::Volcano => ("scheduling.volcano.sh/v1beta1", "PodGroup"),
        JobSource::Coscheduling => ("scheduling.x-k8s.io/v1alpha1", "PodGroup"),
        JobSource::Native => ("scheduling.k8s.io/v1beta1", "PodGroup"),
        JobSource::Standalone | JobSource::Foreign => ("v1", "Pod"),
    }
}

/// events.k8s.io/v1 limits the note to 1 kB.
fn short_note(note: String) -> String {
    if note.len() > 1000 {
        let mut cut = 997;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &note[..cut])
    } else {
        note
    }
}

impl Writer {
    /// A writer reporting as `instance` (the pod name, or the host name) that yields to the binds
    /// counted by `binds`. Starts its workers, so it must be called inside the runtime.
    pub fn new(client: Client, limiter: RateLimiter, instance: String, metrics: Arc<Metrics>, binds: Activity) -> Self {
        let shared = Arc::new(Shared {
            client,
            limiter,
            instance,
            metrics,
            binds,
            queue: Mutex::new(ReportQueue::new(EVENT_CAP)),
            wake: Notify::new(),
            trickle: tokio::sync::Mutex::new(()),
            failed: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
        });
        for _ in 0..WORKERS {
            tokio::spawn(worker(shared.clone()));
        }
        Writer { shared }
    }

    fn push(&self, key: ReportKey, lane: Lane, report: Report) {
        let (len, dropped) = {
            let mut q = lock(&self.shared.queue);
            let before = q.dropped();
            q.push(key, lane, report);
            (q.len(), q.dropped() - before)
        };
        if dropped > 0 {
            self.shared.metrics.events_dropped(dropped);
        }
        self.shared.metrics.set_reports_queued(len);
        self.shared.wake.notify_one();
    }

    /// Status and condition writes that failed since the last call; the caller writes them again.
    pub fn take_failed(&self) -> Vec<ReportKey> {
        std::mem::take(&mut *lock(&self.shared.failed))
    }

    /// Writes a PodGroup's status. Volcano's CRD has no status subresource, so its whole object is
    /// patched; the other APIs have one.
    pub fn group_status(&self, source: JobSource, key: Key, status: Value) {
        let Some(kind) = Kind::of_source(source) else {
            return;
        };
        self.push(
            ReportKey::Group(kind, key),
            Lane::Status,
            Report::Group { source, status },
        );
    }

    /// Sets (`Some`) or removes (`None`) annotations of a PodGroup, by a merge patch of its
    /// metadata (on the object itself: annotations are not part of any status subresource). A
    /// patch still waiting for the same group takes these in, newest value per annotation.
    pub fn annotate_group(&self, source: JobSource, key: Key, annotations: BTreeMap<String, Option<String>>) {
        let Some(kind) = Kind::of_source(source) else {
            return;
        };
        let len = {
            let mut q = lock(&self.shared.queue);
            q.push_or_merge(
                ReportKey::Annotations(kind, key),
                Lane::Status,
                Report::Annotate { source, annotations },
                |waiting, newer| {
                    if let (Report::Annotate { annotations: w, .. }, Report::Annotate { annotations: n, .. }) =
                        (waiting, newer)
                    {
                        w.extend(n);
                    }
                },
            );
            q.len()
        };
        self.shared.metrics.set_reports_queued(len);
        self.shared.wake.notify_one();
    }

    /// Sets (`Some`) or clears (`None`) a pending pod's `status.nominatedNodeName`, as
    /// kube-scheduler does for a pod that waits for room being freed for it. Urgent: other
    /// schedulers read it to leave the room alone.
    pub fn nominate(&self, key: Key, node: Option<String>) {
        self.push(ReportKey::Nomination(key), Lane::Urgent, Report::Nominate { node });
    }

    /// Writes a Queue's status.
    pub fn queue_status(&self, name: String, status: Value) {
        self.push(ReportKey::Queue(name), Lane::Status, Report::Queue { status });
    }

    /// Marks a pod unschedulable (PodScheduled=False, reason Unschedulable) and records a
    /// FailedScheduling event. The caller calls this only when the message changed.
    ///
    /// The write is guarded: it reads the pod, skips it if it has a node by now, and patches with
    /// that resourceVersion, so a bind that lands in between makes the patch fail (409) instead of
    /// leaving a bound pod marked unschedulable.
    pub fn pod_unschedulable(&self, key: Key, uid: String, message: String) {
        self.event(
            reference("v1", "Pod", &key, &uid),
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            message.clone(),
        );
        self.push(
            ReportKey::PodCondition(key),
            Lane::Status,
            Report::PodUnschedulable { message },
        );
    }

    /// Records an event (events.k8s.io/v1). Each is written once: the callers report a condition
    /// only when it changes, so there is nothing to aggregate into a series.
    pub fn event(&self, regarding: ObjectReference, type_: EventType, reason: &str, action: &str, note: String) {
        let seq = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        let now = k8s_openapi::jiff::Timestamp::now();
        let base: String = regarding
            .name
            .as_deref()
            .unwrap_or(COMPONENT)
            .chars()
            .take(200)
            .collect();
        let ev = K8sEvent {
            action: Some(action.to_string()),
            reason: Some(reason.to_string()),
            event_time: Some(MicroTime(now)),
            note: Some(short_note(note)),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(format!("{base}.{:x}{:04x}", now.as_nanosecond(), seq & 0xffff)),
                ..ObjectMeta::default()
            },
            regarding: Some(regarding),
            reporting_controller: Some(COMPONENT.to_string()),
            reporting_instance: Some(self.shared.instance.clone()),
            type_: Some(
                match type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_string(),
            ),
            ..K8sEvent::default()
        };
        self.push(ReportKey::Event(seq), Lane::Event, Report::Event(Box::new(ev)));
    }

    /// Evicts a pod the way Volcano does: condition DisruptionTarget (reason
    /// PreemptionByScheduler), then delete, guarded by its UID.
    pub fn evict(&self, key: Key, uid: String, reason: String) {
        self.event(
            reference("v1", "Pod", &key, &uid),
            EventType::Warning,
            "Evict",
            "Preempting",
            reason.clone(),
        );
        self.push(ReportKey::Evict(key), Lane::Urgent, Report::Evict { uid, reason });
    }

    /// Creates the `root` and `default` Volcano Queues if they are missing, as vc-scheduler does.
    pub async fn ensure_queues(&self) {
        let api: Api<volcano::Queue> = Api::all(self.shared.client.clone());
        for (name, reclaimable) in [("root", false), ("default", true)] {
            match api.get_opt(name).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let obj = json!({
                        "apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue",
                        "metadata": { "name": name },
                        "spec": { "weight": 1, "reclaimable": reclaimable },
                    });
                    match serde_json::from_value::<volcano::Queue>(obj) {
                        Ok(q) => match api.create(&PostParams::default(), &q).await {
                            Ok(_) => tracing::info!(queue = name, "created missing queue"),
                            Err(kube::Error::Api(s)) if s.code == 409 => {}
                            Err(e) => warn!(queue = name, error = %e, "cannot create queue"),
                        },
                        Err(e) => warn!(queue = name, error = %e, "cannot build queue object"),
                    }
                }
                Err(e) => warn!(queue = name, error = %e, "cannot read queue"),
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data stays consistent across a panic in another holder (single operations).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes reports off the queue and writes them, one at a time, for as long as the process runs.
async fn worker(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut q = lock(&shared.queue);
            let next = q.pop();
            shared.metrics.set_reports_queued(q.len());
            next
        };
        let Some((key, report)) = next else {
            shared.wake.notified().await;
            continue;
        };
        // While binds are under way, only the holder of `trickle` sends.
        let _turn = if shared.binds.busy() {
            Some(shared.trickle.lock().await)
        } else {
            None
        };
        shared.limiter.acquire().await;
        let what = describe(&key);
        match write(&shared, &key, report).await {
            Ok(()) => debug!(%what, "written"),
            Err(kube::Error::Api(s)) if s.code == 404 => debug!(%what, "object gone; not written"),
            Err(e) => {
                warn!(%what, error = %e, "write failed; the next cycle writes it again");
                if matches!(
                    key,
                    ReportKey::Group(..)
                        | ReportKey::Queue(_)
                        | ReportKey::PodCondition(_)
                        | ReportKey::Annotations(..)
                ) {
                    lock(&shared.failed).push(key);
                }
            }
        }
    }
}

fn describe(key: &ReportKey) -> String {
    match key {
        ReportKey::Group(kind, k) => format!("status of {} {}/{}", kind.as_str(), k.0, k.1),
        ReportKey::Queue(name) => format!("status of queue {name}"),
        ReportKey::PodCondition(k) => format!("PodScheduled condition of {}/{}", k.0, k.1),
        ReportKey::Evict(k) => format!("eviction of {}/{}", k.0, k.1),
        ReportKey::Annotations(kind, k) => format!("annotations of {} {}/{}", kind.as_str(), k.0, k.1),
        ReportKey::Nomination(k) => format!("nominatedNodeName of {}/{}", k.0, k.1),
        ReportKey::Event(n) => format!("event {n}"),
    }
}

/// Sends a built request and ignores the answer's body: the watch shows the object as written,
/// so decoding the copy the API server sends back would only cost CPU. (A macro, because the
/// request type belongs to the `http` crate, which this crate does not name.)
macro_rules! send {
    ($client:expr, $req:expr) => {
        async {
            let req = $req.map_err(kube::Error::BuildRequest)?;
            $client.request_text(req).await.map(drop)
        }
    };
}

async fn write(shared: &Shared, key: &ReportKey, report: Report) -> Result<(), kube::Error> {
    let client = &shared.client;
    let pp = PatchParams::default();
    match (key, report) {
        (ReportKey::Group(_, key), Report::Group { source, status }) => {
            let patch = Patch::Merge(json!({ "status": status }));
            let (ns, name) = (Some(key.0.as_str()), &key.1);
            match source {
                JobSource::Volcano => {
                    let r = Request::new(volcano::PodGroup::url_path(&(), ns));
                    send!(client, r.patch(name, &pp, &patch)).await?;
                }
                JobSource::Coscheduling => {
                    let r = Request::new(coscheduling::PodGroup::url_path(&(), ns));
                    send!(client, r.patch_subresource("status", name, &pp, &patch)).await?;
                }
                JobSource::Native => {
                    let r = Request::new(native::PodGroup::url_path(&(), ns));
                    send!(client, r.patch_subresource("status", name, &pp, &patch)).await?;
                }
                JobSource::Standalone | JobSource::Foreign => {}
            }
        }
        (ReportKey::Queue(name), Report::Queue { status }) => {
            let patch = Patch::Merge(json!({ "status": status }));
            let r = Request::new(volcano::Queue::url_path(&(), None));
            send!(client, r.patch_subresource("status", name, &pp, &patch)).await?;
        }
        (ReportKey::PodCondition(key), Report::PodUnschedulable { message }) => {
            let api: Api<LeanPod> = Api::namespaced(client.clone(), &key.0);
            let Some(pod) = api.get_opt(&key.1).await? else {
                return Ok(());
            };
            if pod.0.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                return Ok(());
            }
            let patch = Patch::Strategic(json!({
                "metadata": { "resourceVersion": pod.0.metadata.resource_version },
                "status": { "conditions": [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": message, "lastTransitionTime": now_time(),
                }]},
            }));
            shared.limiter.acquire().await;
            let r = Request::new(Pod::url_path(&(), Some(&key.0)));
            match send!(client, r.patch_subresource("status", &key.1, &pp, &patch)).await {
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                other => other?,
            }
        }
        (ReportKey::Evict(key), Report::Evict { uid, reason }) => {
            let api: Api<Pod> = Api::namespaced(client.clone(), &key.0);
            let patch = json!({ "status": { "conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                "message": reason, "lastTransitionTime": now_time(),
            }]}});
            api.patch_status(&key.1, &pp, &Patch::Strategic(&patch)).await?;
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            api.delete(&key.1, &dp).await?;
        }
        (ReportKey::Annotations(_, key), Report::Annotate { source, annotations }) => {
            let patch = Patch::Merge(json!({ "metadata": { "annotations": annotations } }));
            let (ns, name) = (Some(key.0.as_str()), &key.1);
            let r = match source {
                JobSource::Volcano => Request::new(volcano::PodGroup::url_path(&(), ns)),
                JobSource::Coscheduling => Request::new(coscheduling::PodGroup::url_path(&(), ns)),
                JobSource::Native => Request::new(native::PodGroup::url_path(&(), ns)),
                JobSource::Standalone | JobSource::Foreign => return Ok(()),
            };
            send!(client, r.patch(name, &pp, &patch)).await?;
        }
        (ReportKey::Nomination(key), Report::Nominate { node }) => {
            let patch = Patch::Merge(json!({ "status": { "nominatedNodeName": node } }));
            let r = Request::new(Pod::url_path(&(), Some(&key.0)));
            send!(client, r.patch_subresource("status", &key.1, &pp, &patch)).await?;
        }
        (ReportKey::Event(_), Report::Event(ev)) => {
            let ns = ev.metadata.namespace.clone().unwrap_or_else(|| "default".to_string());
            let body = serde_json::to_vec(&ev).map_err(kube::Error::SerdeError)?;
            let r = Request::new(K8sEvent::url_path(&(), Some(&ns)));
            send!(client, r.create(&PostParams::default(), body)).await?;
        }
        (key, report) => {
            // Keys and reports are paired by the push methods above; a mismatch is a bug here,
            // reported rather than panicking in a background task.
            warn!(key = ?key, report = ?report, "report does not match its key; dropped");
        }
    }
    Ok(())
}

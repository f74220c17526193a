//! Watch tasks: one per kind, each turning API events into [`Change`]s for the scheduling loop.
//!
//! The first list is fetched a page ahead and followed by a plain watch ([`firstlist`]); at the
//! first trouble kube-runtime's watcher takes over, which relists, resumes from the last
//! resourceVersion, relists on 410 Gone, and backs off on errors. Objects are converted to records
//! here, so the loop never parses quantities, and the raw object (managedFields included) is
//! dropped at once.

use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use caldera_crds::{coscheduling, native, volcano};
use caldera_framework::convert;
use caldera_framework::{JobSource, Millis, ResourceNames};

use super::clock::now_millis;
use super::firstlist;
use super::lean::{LeanNode, LeanPod};
use super::podproto;
use super::store::{Change, Entry, GroupEntry, Key, Kind, PodEntry, QueueEntry};

/// The resource-name table shared by every converter, so all records agree on resource ids.
pub type SharedNames = Arc<Mutex<ResourceNames>>;

pub(super) fn key_of<K: Resource>(o: &K) -> Key {
    (
        o.meta().namespace.clone().unwrap_or_default(),
        o.meta().name.clone().unwrap_or_default(),
    )
}

/// What a watched object becomes: an entry, or nothing (the object is not of interest, or no
/// longer: a pod of another scheduler that has finished).
type Converted = Option<Entry>;

async fn pump<K, S>(kind: Kind, stream: S, tx: mpsc::Sender<Change>, convert: impl Fn(&K) -> Converted)
where
    K: Resource + Clone,
    S: Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        let change = match ev {
            Ok(Event::Init) => Change::Restart(kind),
            Ok(Event::InitDone) => Change::Synced(kind),
            Ok(Event::InitApply(o) | Event::Apply(o)) => change_of(kind, &o, &convert),
            Ok(Event::Delete(o)) => Change::Delete(kind, key_of(&o)),
            Err(e) => {
                // The watcher retries with backoff; say so once per error.
                warn!(kind = kind.as_str(), error = %e, "watch error; retrying");
                continue;
            }
        };
        if tx.send(change).await.is_err() {
            debug!(kind = kind.as_str(), "scheduling loop gone; watch stops");
            return;
        }
    }
}

/// The change an object brings: its entry, or its removal when it is not (or no longer) of interest.
fn change_of<K: Resource>(kind: Kind, o: &K, convert: &impl Fn(&K) -> Converted) -> Change {
    match convert(o) {
        Some(entry) => Change::Upsert(kind, key_of(o), Box::new(entry)),
        None => Change::Delete(kind, key_of(o)),
    }
}

/// Objects per page of a watch's (re)list. Much of the API server's cost is per page: with
/// kube-rs's default of 500, a start on 5,000 nodes and 100,000 pods took over 200 round trips,
/// and the first bind came 8.6 s after start instead of 5.9 s (docs/benchmarks.md). The price is
/// memory while a page is decoded (two pages, with the first list's page ahead).
const LIST_PAGE_SIZE: u32 = 10_000;

/// How the pod list is split: pods holding a node, then those waiting for one.
const POD_SPLIT: firstlist::Split = firstlist::Split {
    placed: "spec.nodeName!=",
    rest: "spec.nodeName=",
};

fn spawn_watch<K>(
    api: Api<K>,
    kind: Kind,
    split: Option<firstlist::Split>,
    protobuf: Option<firstlist::Protobuf<K>>,
    tx: mpsc::Sender<Change>,
    convert: impl Fn(&K) -> Converted + Send + Sync + 'static,
) where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let client = api.clone().into_client();
        let change = |o: &K| change_of(kind, o, &convert);
        let reading = firstlist::Reading {
            page: LIST_PAGE_SIZE,
            split,
            protobuf,
        };
        match firstlist::list_then_watch(client, &api, kind, reading, &tx, &change).await {
            firstlist::End::LoopGone => return,
            firstlist::End::HandOver(why) => {
                info!(kind = kind.as_str(), %why, "kube-runtime's watcher takes over this watch (it relists)");
            }
        }
        let config = watcher::Config::default().page_size(LIST_PAGE_SIZE);
        let stream = watcher::watcher(api, config).default_backoff();
        pump(kind, stream, tx, convert).await;
    });
}

fn lock(names: &SharedNames) -> std::sync::MutexGuard<'_, ResourceNames> {
    // A converter that panicked cannot leave the table half-written (interning is one push), so a
    // poisoned lock is still consistent.
    names.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn status_value<T: serde::Serialize>(status: &Option<T>) -> serde_json::Value {
    serde_json::to_value(status).unwrap_or(serde_json::Value::Null)
}

/// Which optional APIs the cluster serves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Served {
    /// Volcano PodGroup and Queue.
    pub volcano: bool,
    /// scheduler-plugins PodGroup.
    pub coscheduling: bool,
    /// Kubernetes' own PodGroup (1.37, feature gate GenericWorkload).
    pub native: bool,
}

impl Served {
    /// The kinds to wait for before the cache counts as synced.
    pub fn kinds(self) -> Vec<Kind> {
        let mut k = vec![Kind::Node, Kind::Pod, Kind::PriorityClass];
        if self.volcano {
            k.extend([Kind::VolcanoGroup, Kind::Queue]);
        }
        if self.coscheduling {
            k.push(Kind::CoschedulingGroup);
        }
        if self.native {
            k.push(Kind::NativeGroup);
        }
        k
    }
}

/// Asks the API server which of the optional gang APIs it serves.
pub async fn discover(client: &Client) -> Served {
    async fn has(client: &Client, group_version: &str, plural: &str) -> bool {
        match client.list_api_group_resources(group_version).await {
            Ok(list) => list.resources.iter().any(|r| r.name == plural),
            Err(_) => false,
        }
    }
    Served {
        volcano: has(client, "scheduling.volcano.sh/v1beta1", "podgroups").await,
        coscheduling: has(client, "scheduling.x-k8s.io/v1alpha1", "podgroups").await,
        native: has(client, "scheduling.k8s.io/v1beta1", "podgroups").await,
    }
}

/// Starts every watch; changes arrive on `tx`.
pub fn start(client: &Client, served: Served, ours: Arc<Vec<String>>, names: SharedNames, tx: mpsc::Sender<Change>) {
    let n = names.clone();
    spawn_watch(
        Api::<LeanNode>::all(client.clone()),
        Kind::Node,
        None,
        None,
        tx.clone(),
        move |o| match convert::node_record(&o.0, &mut lock(&n)) {
            Ok(r) => Some(Entry::Node(r)),
            Err(e) => {
                warn!(node = %o.name_any(), error = %e, "node left out: it cannot be converted");
                None
            }
        },
    );

    let n = names.clone();
    spawn_watch(
        Api::<LeanPod>::all(client.clone()),
        Kind::Pod,
        Some(POD_SPLIT),
        Some(firstlist::Protobuf {
            list: podproto::decode_list,
            object: podproto::decode_object,
        }),
        tx.clone(),
        move |o| pod_entry(&o.0, &ours, &n, now_millis()),
    );

    spawn_watch(
        Api::<PriorityClass>::all(client.clone()),
        Kind::PriorityClass,
        None,
        None,
        tx.clone(),
        |o| Some(Entry::PriorityClass(convert::priority_class_record(o))),
    );

    if served.volcano {
        let n = names.clone();
        spawn_watch(
            Api::<volcano::PodGroup>::all(client.clone()),
            Kind::VolcanoGroup,
            None,
            None,
            tx.clone(),
            move |o| {
                let res = convert::volcano_group(o, &mut lock(&n), now_millis());
                group_entry(res, JobSource::Volcano, &o.metadata, status_value(&o.status))
            },
        );
        let n = names.clone();
        spawn_watch(
            Api::<volcano::Queue>::all(client.clone()),
            Kind::Queue,
            None,
            None,
            tx.clone(),
            move |o| match convert::queue_info(o, &mut lock(&n), now_millis()) {
                Ok(info) => Some(Entry::Queue(QueueEntry {
                    info,
                    status: status_value(&o.status),
                })),
                Err(e) => {
                    warn!(queue = %o.name_any(), error = %e, "queue left out: it cannot be converted; its jobs wait with QueueNotFound");
                    None
                }
            },
        );
    }
    if served.coscheduling {
        let n = names.clone();
        spawn_watch(
            Api::<coscheduling::PodGroup>::all(client.clone()),
            Kind::CoschedulingGroup,
            None,
            None,
            tx.clone(),
            move |o| {
                let res = convert::coscheduling_group(o, &mut lock(&n), now_millis());
                group_entry(res, JobSource::Coscheduling, &o.metadata, status_value(&o.status))
            },
        );
    }
    if served.native {
        let n = names;
        spawn_watch(
            Api::<native::PodGroup>::all(client.clone()),
            Kind::NativeGroup,
            None,
            None,
            tx,
            move |o| {
                let res = convert::native_group(o, &mut lock(&n), now_millis());
                group_entry(res, JobSource::Native, &o.metadata, status_value(&o.status))
            },
        );
    }
}

fn group_entry(
    res: Result<caldera_framework::snapshot::GroupRecord, convert::ConvertError>,
    source: JobSource,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    status: serde_json::Value,
) -> Converted {
    if let Err(e) = &res {
        warn!(error = %e, "PodGroup cannot be scheduled as written; it is reported on the object");
    }
    let estimated_start = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(caldera_crds::labels::ESTIMATED_START))
        .cloned();
    convert::group_or_problem(res, source, meta, now_millis()).map(|record| {
        Entry::Group(Box::new(GroupEntry {
            record,
            status,
            estimated_start,
        }))
    })
}

/// A pod becomes an entry if it is ours (pending or not: finished pods count for their gang's
/// phase), or if it holds a node (any scheduler's: the node's usage must be right).
fn pod_entry(o: &Pod, ours: &[String], names: &SharedNames, now: Millis) -> Converted {
    let scheduler = o
        .spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or(convert::DEFAULT_SCHEDULER);
    let is_ours = ours.iter().any(|n| n == scheduler);
    let phase = o.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let bound = o.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    if !is_ours && (!bound || phase == "Succeeded" || phase == "Failed") {
        return None;
    }
    match convert::pod_record(o, ours, &mut lock(names), now) {
        Ok(r) => Some(Entry::Pod(PodEntry::Valid(Box::new(r)))),
        Err(e) if is_ours => Some(Entry::Pod(PodEntry::Invalid {
            uid: o.metadata.uid.clone().unwrap_or_default(),
            message: e.to_string(),
        })),
        Err(e) => {
            warn!(error = %e, "another scheduler's pod left out of node accounting: it cannot be converted");
            None
        }
    }
}

/// Milliseconds of a Kubernetes timestamp.
pub fn millis_of(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Millis {
    t.0.as_millisecond()
}

//! Writes to the API that report decisions: PodGroup and Queue status, pod conditions, events,
//! evictions. Each write runs as its own task behind the API rate limit, so a slow apiserver never
//! stalls the scheduling loop; failures are logged and the next cycle writes again if the object
//! still differs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::{Value, json};
use tracing::{debug, warn};

use caldera_crds::{coscheduling, native, volcano};
use caldera_framework::JobSource;

use super::clock::now_time;
use super::ratelimit::RateLimiter;
use super::store::Key;

/// Name this process reports events under.
pub const COMPONENT: &str = "caldera";

/// Issues report writes; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    client: Client,
    limiter: RateLimiter,
    recorder: Recorder,
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

impl Writer {
    /// A writer reporting as `instance` (the pod name, or the host name).
    pub fn new(client: Client, limiter: RateLimiter, instance: String) -> Self {
        let reporter = Reporter {
            controller: COMPONENT.to_string(),
            instance: Some(instance),
        };
        Writer {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            limiter,
        }
    }

    fn spawn(&self, what: String, fut: impl std::future::Future<Output = Result<(), kube::Error>> + Send + 'static) {
        let limiter = self.limiter.clone();
        tokio::spawn(async move {
            limiter.acquire().await;
            match fut.await {
                Ok(()) => debug!(%what, "written"),
                Err(kube::Error::Api(s)) if s.code == 404 => debug!(%what, "object gone; not written"),
                Err(e) => warn!(%what, error = %e, "write failed; the next cycle retries"),
            }
        });
    }

    /// Writes a PodGroup's status. Volcano's CRD has no status subresource, so its whole object is
    /// patched; the other APIs have one.
    pub fn group_status(&self, source: JobSource, key: Key, status: Value) {
        let client = self.client.clone();
        let patch = json!({ "status": status });
        let what = format!("{} status of {}/{}", group_kind(source).0, key.0, key.1);
        self.spawn(what, async move {
            let pp = PatchParams::default();
            match source {
                JobSource::Volcano => {
                    Api::<volcano::PodGroup>::namespaced(client, &key.0)
                        .patch(&key.1, &pp, &Patch::Merge(&patch))
                        .await?;
                }
                JobSource::Coscheduling => {
                    Api::<coscheduling::PodGroup>::namespaced(client, &key.0)
                        .patch_status(&key.1, &pp, &Patch::Merge(&patch))
                        .await?;
                }
                JobSource::Native => {
                    Api::<native::PodGroup>::namespaced(client, &key.0)
                        .patch_status(&key.1, &pp, &Patch::Merge(&patch))
                        .await?;
                }
                JobSource::Standalone | JobSource::Foreign => {}
            }
            Ok(())
        });
    }

    /// Sets (`Some`) or removes (`None`) annotations of a PodGroup, by a merge patch of its
    /// metadata (on the object itself: annotations are not part of any status subresource).
    pub fn annotate_group(&self, source: JobSource, key: Key, annotations: BTreeMap<String, Option<String>>) {
        let client = self.client.clone();
        let patch = json!({ "metadata": { "annotations": annotations } });
        let what = format!("annotations of {} {}/{}", group_kind(source).0, key.0, key.1);
        self.spawn(what, async move {
            let pp = PatchParams::default();
            match source {
                JobSource::Volcano => {
                    Api::<volcano::PodGroup>::namespaced(client, &key.0)
                        .patch(&key.1, &pp, &Patch::Merge(&patch))
                        .await?;
                }
                JobSource::Coscheduling => {
                    Api::<coscheduling::PodGroup>::namespaced(client, &key.0)
                        .patch(&key.1, &pp, &Patch::Merge(&patch))
                        .await?;
                }
                JobSource::Native => {
                    Api::<native::PodGroup>::namespaced(client, &key.0)
                        .patch(&key.1, &pp, &Patch::Merge(&patch))
                        .await?;
                }
                JobSource::Standalone | JobSource::Foreign => {}
            }
            Ok(())
        });
    }

    /// Sets (`Some`) or clears (`None`) a pending pod's `status.nominatedNodeName`, as
    /// kube-scheduler does for a pod that waits for room being freed for it.
    pub fn nominate(&self, key: Key, node: Option<String>) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.0);
        let patch = json!({ "status": { "nominatedNodeName": node } });
        self.spawn(format!("nominatedNodeName of {}/{}", key.0, key.1), async move {
            api.patch_status(&key.1, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            Ok(())
        });
    }

    /// Writes a Queue's status.
    pub fn queue_status(&self, name: String, status: Value) {
        let api: Api<volcano::Queue> = Api::all(self.client.clone());
        let patch = json!({ "status": status });
        self.spawn(format!("status of queue {name}"), async move {
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            Ok(())
        });
    }

    /// Marks a pod unschedulable (PodScheduled=False, reason Unschedulable) and records a
    /// FailedScheduling event. The caller calls this only when the message changed.
    ///
    /// The write is guarded: it reads the pod, skips it if it has a node by now, and patches with
    /// that resourceVersion, so a bind that lands in between makes the patch fail (409) instead of
    /// leaving a bound pod marked unschedulable.
    pub fn pod_unschedulable(&self, key: Key, uid: String, message: String) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.0);
        let name = key.1.clone();
        let note = message.clone();
        let limiter = self.limiter.clone();
        self.spawn(format!("PodScheduled condition of {}/{}", key.0, key.1), async move {
            let Some(pod) = api.get_opt(&name).await? else {
                return Ok(());
            };
            if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                return Ok(());
            }
            let patch = json!({
                "metadata": { "resourceVersion": pod.metadata.resource_version },
                "status": { "conditions": [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": message, "lastTransitionTime": now_time(),
                }]},
            });
            limiter.acquire().await;
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
            {
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
                other => other.map(|_| ()),
            }
        });
        self.event(
            reference("v1", "Pod", &key, &uid),
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            note,
        );
    }

    /// Records an event.
    pub fn event(&self, regarding: ObjectReference, type_: EventType, reason: &str, action: &str, note: String) {
        let recorder = self.recorder.clone();
        // events.k8s.io/v1 limits the note to 1 kB.
        let note = if note.len() > 1000 {
            let mut cut = 997;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}...", &note[..cut])
        } else {
            note
        };
        let ev = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: action.to_string(),
            secondary: None,
        };
        let what = format!("{reason} event on {:?}/{:?}", regarding.namespace, regarding.name);
        self.spawn(what, async move { recorder.publish(&ev, &regarding).await });
    }

    /// Evicts a pod the way Volcano does: condition DisruptionTarget (reason
    /// PreemptionByScheduler), then delete, guarded by its UID.
    pub fn evict(&self, key: Key, uid: String, reason: String) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.0);
        let patch = json!({ "status": { "conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": reason, "lastTransitionTime": now_time(),
        }]}});
        let name = key.1.clone();
        let uid2 = uid.clone();
        self.spawn(format!("eviction of {}/{}", key.0, key.1), async move {
            api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await?;
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid2),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            api.delete(&name, &dp).await?;
            Ok(())
        });
        self.event(
            reference("v1", "Pod", &key, &uid),
            EventType::Warning,
            "Evict",
            "Preempting",
            reason,
        );
    }

    /// Creates the `root` and `default` Volcano Queues if they are missing, as vc-scheduler does.
    pub async fn ensure_queues(&self) {
        let api: Api<volcano::Queue> = Api::all(self.client.clone());
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

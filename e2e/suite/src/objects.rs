//! Objects the tests create (nodes, pods, YAML of any kind) and what they read back.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{Scope, pinned_kind};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::{Error, Result, wait_for};

/// The namespace the tests use.
pub const NS: &str = "default";
/// kwok completes a Running pod (phase Succeeded) this long after it started (see docs/e2e.md).
pub const COMPLETE_DELAY_ANNOTATION: &str = "pod-complete.stage.kwok.x-k8s.io/delay";
/// Pod annotation linking a pod to a Volcano PodGroup.
pub const VOLCANO_GROUP_ANNOTATION: &str = "scheduling.k8s.io/group-name";
/// Pod label linking a pod to a scheduler-plugins PodGroup.
pub const SP_GROUP_LABEL: &str = "scheduling.x-k8s.io/pod-group";
/// The GPU resource name.
pub const GPU: &str = "nvidia.com/gpu";

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// `podgroups.scheduling.volcano.sh/v1beta1`.
pub fn volcano_podgroups() -> ApiResource {
    resource("scheduling.volcano.sh", "v1beta1", "PodGroup", "podgroups")
}

/// `queues.scheduling.volcano.sh/v1beta1` (cluster-scoped).
pub fn volcano_queues() -> ApiResource {
    resource("scheduling.volcano.sh", "v1beta1", "Queue", "queues")
}

/// `podgroups.scheduling.x-k8s.io/v1alpha1` (scheduler-plugins coscheduling).
pub fn sp_podgroups() -> ApiResource {
    resource("scheduling.x-k8s.io", "v1alpha1", "PodGroup", "podgroups")
}

/// Applies every document of a multi-document YAML text with server-side apply (field manager
/// `caldera-e2e`, forced), resolving each kind through discovery. Namespaced objects without a
/// namespace go to [`NS`]. Returns the objects as the server stored them.
///
/// # Errors
///
/// Unparseable YAML, an unknown kind, or an API error (naming the document).
pub async fn apply_yaml(client: &Client, yaml: &str) -> Result<Vec<DynamicObject>> {
    let mut out = Vec::new();
    for (i, doc) in yaml_documents(yaml).iter().enumerate() {
        let value: Value = serde_yaml_ng::from_str(doc).map_err(|e| Error::msg(format!("YAML document {i}: {e}")))?;
        if value.is_null() {
            continue;
        }
        let mut obj: DynamicObject =
            serde_json::from_value(value).map_err(|e| Error::msg(format!("YAML document {i}: {e}")))?;
        let types = obj
            .types
            .clone()
            .ok_or_else(|| Error::msg(format!("YAML document {i} has no apiVersion/kind")))?;
        let gvk = GroupVersionKind::try_from(&types).map_err(|e| {
            Error::msg(format!(
                "YAML document {i}: bad apiVersion {:?}: {e}",
                types.api_version
            ))
        })?;
        let name = obj
            .metadata
            .name
            .clone()
            .ok_or_else(|| Error::msg(format!("YAML document {i} ({}) has no metadata.name", types.kind)))?;
        let (ar, caps) = pinned_kind(client, &gvk)
            .await
            .map_err(|e| Error::msg(format!("YAML document {i}: kind {gvk:?} is not served: {e}")))?;
        let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
            let ns = obj.metadata.namespace.get_or_insert_with(|| NS.to_owned()).clone();
            Api::namespaced_with(client.clone(), &ns, &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        let applied = api
            .patch(&name, &PatchParams::apply("caldera-e2e").force(), &Patch::Apply(&obj))
            .await
            .map_err(|e| Error::msg(format!("applying {} {name} (YAML document {i}): {e}", types.kind)))?;
        out.push(applied);
    }
    Ok(out)
}

/// Splits a multi-document YAML text at its `---` separator lines.
fn yaml_documents(yaml: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line == "---" || line.starts_with("--- ") {
            docs.push(format!("{}\n", line.trim_start_matches("---")));
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.retain(|d| !d.trim().is_empty());
    docs
}

/// Reads one object of a dynamic resource as JSON (`None` if it does not exist).
///
/// # Errors
///
/// API errors other than 404.
pub async fn get_json(client: &Client, ar: &ApiResource, ns: Option<&str>, name: &str) -> Result<Option<Value>> {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    match api.get_opt(name).await? {
        Some(obj) => Ok(Some(serde_json::to_value(obj)?)),
        None => Ok(None),
    }
}

/// A Volcano PodGroup in [`NS`] as JSON.
///
/// # Errors
///
/// API errors other than 404.
pub async fn volcano_podgroup(client: &Client, name: &str) -> Result<Option<Value>> {
    get_json(client, &volcano_podgroups(), Some(NS), name).await
}

/// A Volcano Queue as JSON.
///
/// # Errors
///
/// API errors other than 404.
pub async fn volcano_queue(client: &Client, name: &str) -> Result<Option<Value>> {
    get_json(client, &volcano_queues(), None, name).await
}

/// `.status.phase` of an object as JSON, or "" when it has none.
pub fn phase_of(obj: &Value) -> String {
    obj.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The `.status.conditions[]` entry of `type_`, if any.
pub fn condition_of<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// An integer status field (e.g. `running`), 0 when absent.
pub fn status_int(obj: &Value, field: &str) -> i64 {
    obj.pointer(&format!("/status/{field}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// A node to create: allocatable = capacity = what is given (defaults: 32 CPUs, 256Gi, 110 pods).
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    name: String,
    labels: BTreeMap<String, String>,
    resources: BTreeMap<String, String>,
    taints: Vec<Value>,
}

impl NodeBuilder {
    /// A node named `name` with 32 CPUs, 256Gi memory, 110 pods and no GPUs.
    pub fn new(name: &str) -> Self {
        let resources = [("cpu", "32"), ("memory", "256Gi"), ("pods", "110")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        NodeBuilder {
            name: name.to_owned(),
            labels: BTreeMap::new(),
            resources,
            taints: Vec::new(),
        }
    }

    /// `nvidia.com/gpu` capacity.
    #[must_use]
    pub fn gpus(self, n: u32) -> Self {
        self.resource(GPU, &n.to_string())
    }

    /// Any resource's capacity (e.g. a MIG profile `nvidia.com/mig-1g.10gb`).
    #[must_use]
    pub fn resource(mut self, name: &str, quantity: &str) -> Self {
        self.resources.insert(name.to_owned(), quantity.to_owned());
        self
    }

    /// A label.
    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// A taint.
    #[must_use]
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.taints.push(json!({"key": key, "value": value, "effect": effect}));
        self
    }

    /// The Node object.
    ///
    /// # Errors
    ///
    /// Never in practice (the JSON is built here).
    pub fn build(&self) -> Result<Node> {
        let mut labels = self.labels.clone();
        labels.insert("kubernetes.io/hostname".to_owned(), self.name.clone());
        labels.insert("type".to_owned(), "kwok".to_owned());
        Ok(serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": {"taints": self.taints},
            "status": {"capacity": self.resources, "allocatable": self.resources},
        }))?)
    }

    /// Creates the node and waits until kwok has made it Ready with the allocatable set here.
    ///
    /// # Errors
    ///
    /// API errors, or the node not Ready within 30 s.
    pub async fn create(&self, client: &Client) -> Result<()> {
        let api: Api<Node> = Api::all(client.clone());
        let node = self.build()?;
        api.create(&PostParams::default(), &node)
            .await
            .map_err(|e| Error::msg(format!("creating node {}: {e}", self.name)))?;
        let want = self.resources.clone();
        wait_for(
            &format!("node {} Ready", self.name),
            Duration::from_secs(30),
            || async {
                let n = api.get(&self.name).await.map_err(|e| e.to_string())?;
                let status = n.status.unwrap_or_default();
                let ready = status
                    .conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                let alloc = status.allocatable.unwrap_or_default();
                let alloc_ok = want.keys().all(|k| alloc.contains_key(k));
                if ready && alloc_ok {
                    Ok(())
                } else {
                    Err(format!("ready={ready}, allocatable={alloc:?}"))
                }
            },
        )
        .await
    }
}

/// Creates `n` nodes `<prefix>-0` … with `gpus` GPUs each and the given labels, and waits until
/// they are Ready. Returns their names.
///
/// # Errors
///
/// As [`NodeBuilder::create`].
pub async fn nodes(client: &Client, prefix: &str, n: usize, gpus: u32, labels: &[(&str, &str)]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("{prefix}-{i}");
        let mut b = NodeBuilder::new(&name).gpus(gpus);
        for (k, v) in labels {
            b = b.label(k, v);
        }
        b.create(client).await?;
        names.push(name);
    }
    Ok(names)
}

/// How a pod names its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// No group: a gang of one.
    None,
    /// Volcano: annotation `scheduling.k8s.io/group-name`.
    Volcano(String),
    /// scheduler-plugins: label `scheduling.x-k8s.io/pod-group`.
    SchedulerPlugins(String),
}

/// A pod to create: `schedulerName: caldera`, 100m CPU and 128Mi memory, plus what is added.
#[derive(Debug, Clone)]
pub struct PodBuilder {
    name: String,
    scheduler: String,
    group: GroupRef,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    resources: BTreeMap<String, String>,
    extra_spec: serde_json::Map<String, Value>,
}

/// A pod `name` in [`NS`] for scheduler `caldera`; `group` is a Volcano PodGroup name (annotation
/// `scheduling.k8s.io/group-name`), `gpus` its `nvidia.com/gpu` request (= limit).
pub fn pod(name: &str, group: Option<&str>, gpus: u32) -> PodBuilder {
    let mut p = PodBuilder {
        name: name.to_owned(),
        scheduler: "caldera".to_owned(),
        group: group.map_or(GroupRef::None, |g| GroupRef::Volcano(g.to_owned())),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        resources: [("cpu", "100m"), ("memory", "128Mi")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        extra_spec: serde_json::Map::new(),
    };
    if gpus > 0 {
        p.resources.insert(GPU.to_owned(), gpus.to_string());
    }
    p
}

impl PodBuilder {
    /// `spec.schedulerName`.
    #[must_use]
    pub fn scheduler(mut self, name: &str) -> Self {
        name.clone_into(&mut self.scheduler);
        self
    }

    /// Link to a scheduler-plugins PodGroup (label) instead.
    #[must_use]
    pub fn sp_group(mut self, group: &str) -> Self {
        self.group = GroupRef::SchedulerPlugins(group.to_owned());
        self
    }

    /// A label.
    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Link to a native `scheduling.k8s.io` PodGroup (`spec.schedulingGroup.podGroupName`) instead.
    #[must_use]
    pub fn native_group(mut self, group: &str) -> Self {
        self.group = GroupRef::None;
        self.spec_field("schedulingGroup", json!({"podGroupName": group}))
    }

    /// An annotation.
    #[must_use]
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// kwok completes the pod this long (a Go duration, e.g. `"6s"`) after it starts running.
    #[must_use]
    pub fn complete_after(self, delay: &str) -> Self {
        self.annotation(COMPLETE_DELAY_ANNOTATION, delay)
    }

    /// A resource request (= limit).
    #[must_use]
    pub fn resource(mut self, name: &str, quantity: &str) -> Self {
        self.resources.insert(name.to_owned(), quantity.to_owned());
        self
    }

    /// Any other `spec` field (e.g. `nodeSelector`, `tolerations`, `priorityClassName`).
    #[must_use]
    pub fn spec_field(mut self, key: &str, value: Value) -> Self {
        self.extra_spec.insert(key.to_owned(), value);
        self
    }

    /// The pod as JSON.
    pub fn json(&self) -> Value {
        let mut labels = self.labels.clone();
        let mut annotations = self.annotations.clone();
        match &self.group {
            GroupRef::None => {}
            GroupRef::Volcano(g) => {
                annotations.insert(VOLCANO_GROUP_ANNOTATION.to_owned(), g.clone());
            }
            GroupRef::SchedulerPlugins(g) => {
                labels.insert(SP_GROUP_LABEL.to_owned(), g.clone());
            }
        }
        let mut spec = json!({
            "schedulerName": self.scheduler,
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "main",
                "image": "busybox",
                "resources": {"requests": self.resources, "limits": self.resources},
            }],
        });
        if let Some(map) = spec.as_object_mut() {
            map.extend(self.extra_spec.clone());
        }
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "namespace": NS, "labels": labels, "annotations": annotations},
            "spec": spec,
        })
    }

    /// The pod as YAML.
    ///
    /// # Errors
    ///
    /// Never in practice.
    pub fn yaml(&self) -> Result<String> {
        Ok(serde_yaml_ng::to_string(&self.json())?)
    }

    /// Creates the pod in [`NS`].
    ///
    /// # Errors
    ///
    /// API errors.
    pub async fn create(&self, client: &Client) -> Result<Pod> {
        let pod: Pod = serde_json::from_value(self.json())?;
        let api: Api<Pod> = Api::namespaced(client.clone(), NS);
        api.create(&PostParams::default(), &pod)
            .await
            .map_err(|e| Error::msg(format!("creating pod {}: {e}", self.name)))
    }
}

/// Creates all pods concurrently.
///
/// # Errors
///
/// The first API error.
pub async fn create_pods(client: &Client, pods: &[PodBuilder]) -> Result<()> {
    futures::future::try_join_all(pods.iter().map(|p| p.create(client))).await?;
    Ok(())
}

/// A pod in [`NS`], if it exists.
///
/// # Errors
///
/// API errors other than 404.
pub async fn get_pod(client: &Client, name: &str) -> Result<Option<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    Ok(api.get_opt(name).await?)
}

/// `spec.nodeName` of a pod in [`NS`] (`None` if unbound or missing).
///
/// # Errors
///
/// API errors other than 404.
pub async fn pod_node(client: &Client, name: &str) -> Result<Option<String>> {
    Ok(get_pod(client, name)
        .await?
        .and_then(|p| p.spec.and_then(|s| s.node_name)))
}

/// A pod's condition of `type_` (e.g. `PodScheduled`).
pub fn pod_condition(pod: &Pod, type_: &str) -> Option<PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .cloned()
}

/// Every pod of [`NS`] by name.
///
/// # Errors
///
/// API errors.
pub async fn list_pods(client: &Client) -> Result<BTreeMap<String, Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|p| (p.metadata.name.clone().unwrap_or_default(), p))
        .collect())
}

/// nodeName (or `None`) of each named pod; missing pods count as unbound.
///
/// # Errors
///
/// API errors.
pub async fn placements(client: &Client, names: &[String]) -> Result<BTreeMap<String, Option<String>>> {
    let pods = list_pods(client).await?;
    Ok(names
        .iter()
        .map(|n| {
            let node = pods
                .get(n)
                .and_then(|p| p.spec.as_ref())
                .and_then(|s| s.node_name.clone());
            (n.clone(), node)
        })
        .collect())
}

/// A short summary of placements for messages: `bound 2/3 {a: n-0, b: n-1, c: -}`.
pub fn describe_placements(p: &BTreeMap<String, Option<String>>) -> String {
    let bound = p.values().filter(|n| n.is_some()).count();
    let list: Vec<String> = p
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.as_deref().unwrap_or("-")))
        .collect();
    format!("bound {bound}/{} {{{}}}", p.len(), list.join(", "))
}

/// Waits until every named pod has a nodeName; returns the placements.
///
/// # Errors
///
/// Timeout (with the placements last seen).
pub async fn wait_all_bound(client: &Client, names: &[String], timeout: Duration) -> Result<BTreeMap<String, String>> {
    wait_for(&format!("all of {} pods to be bound", names.len()), timeout, || async {
        let p = placements(client, names).await.map_err(|e| e.to_string())?;
        if p.values().all(Option::is_some) {
            Ok(p.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
        } else {
            Err(describe_placements(&p))
        }
    })
    .await
}

/// events.k8s.io/v1 Events in [`NS`] whose `regarding` is the object `kind`/`name`.
///
/// # Errors
///
/// API errors.
pub async fn events_for(client: &Client, kind: &str, name: &str) -> Result<Vec<Event>> {
    let api: Api<Event> = Api::namespaced(client.clone(), NS);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
        })
        .collect())
}

/// Every event in [`NS`] as one line each, for messages.
pub fn describe_events(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| {
            let r = e.regarding.clone().unwrap_or_default();
            format!(
                "{} {}/{} {} {:?} (series count {:?}, reporting {:?}/{:?})",
                e.type_.as_deref().unwrap_or("?"),
                r.kind.unwrap_or_default(),
                r.name.unwrap_or_default(),
                e.reason.as_deref().unwrap_or("?"),
                e.note.as_deref().unwrap_or(""),
                e.series.as_ref().map(|s| s.count),
                e.reporting_controller,
                e.reporting_instance
            )
        })
        .collect::<Vec<_>>()
        .join("\n    ")
}

/// Deletes a pod in [`NS`] at once (kwok removes it).
///
/// # Errors
///
/// API errors.
pub async fn delete_pod(client: &Client, name: &str) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    api.delete(name, &DeleteParams::default().grace_period(0)).await?;
    Ok(())
}

/// A coordination.k8s.io Lease.
///
/// # Errors
///
/// API errors other than 404.
pub async fn get_lease(client: &Client, ns: &str, name: &str) -> Result<Option<Lease>> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    Ok(api.get_opt(name).await?)
}

/// The holder of a Lease (empty when none).
pub fn lease_holder(lease: &Lease) -> String {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default()
}

/// Samples of a Prometheus text exposition: `(name, labels text, value)`.
pub fn metric_samples(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let value: f64 = value.trim().parse().ok()?;
            let (name, labels) = match series.find('{') {
                Some(i) => (&series[..i], &series[i..]),
                None => (series, ""),
            };
            Some((name.trim().to_owned(), labels.to_owned(), value))
        })
        .collect()
}

/// Records every distinct `.status.phase` a Volcano PodGroup takes, sampled every 100 ms, in a
/// background task that stops when this is dropped.
pub struct PhaseRecorder {
    phases: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PhaseRecorder {
    /// Starts recording the phases of Volcano PodGroup `name` in [`NS`]. It watches the object
    /// rather than polling it, so a phase that lasts only one write is still seen.
    pub fn start(client: &Client, name: &str) -> Self {
        let phases = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = phases.clone();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &volcano_podgroups());
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, config).default_backoff().applied_objects().boxed();
            while let Some(item) = stream.next().await {
                let Ok(pg) = item else { continue };
                let Ok(pg) = serde_json::to_value(&pg) else { continue };
                let phase = phase_of(&pg);
                if let Ok(mut v) = seen.lock()
                    && v.last() != Some(&phase)
                {
                    v.push(phase);
                }
            }
        });
        PhaseRecorder { phases, task }
    }

    /// The phases seen so far, in order, consecutive repeats removed ("" = no status yet).
    pub fn phases(&self) -> Vec<String> {
        self.phases.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The phases seen, once the watch has delivered `last` (another reader may have seen the
    /// write before this recorder's watch did).
    ///
    /// # Errors
    ///
    /// `last` not seen within `timeout`.
    pub async fn phases_through(&self, last: &str, timeout: Duration) -> Result<Vec<String>> {
        wait_for(&format!("the phase recorder to see {last}"), timeout, || async {
            let phases = self.phases();
            if phases.iter().any(|p| p == last) {
                Ok(phases)
            } else {
                Err(format!("phases so far: {phases:?}"))
            }
        })
        .await
    }
}

impl Drop for PhaseRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Pod UID → (pod name, every nodeName seen in order).
type BindingsByUid = HashMap<String, (String, Vec<String>)>;

/// Watches every pod of [`NS`] and records each nodeName a pod (by UID) ever had, to prove that no
/// pod is bound twice or moved. Stops when dropped.
pub struct BindingTracker {
    seen: Arc<Mutex<BindingsByUid>>,
    task: tokio::task::JoinHandle<()>,
}

impl BindingTracker {
    /// Starts watching.
    pub fn start(client: &Client) -> Self {
        let seen = Arc::new(Mutex::new(BindingsByUid::new()));
        let record = seen.clone();
        let api: Api<Pod> = Api::namespaced(client.clone(), NS);
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(item) = stream.next().await {
                let Ok(pod) = item else { continue };
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                let node = pod.spec.and_then(|s| s.node_name);
                if let (Some(node), Ok(mut map)) = (node, record.lock()) {
                    let entry = map.entry(uid).or_insert_with(|| (name, Vec::new()));
                    if entry.1.last() != Some(&node) {
                        entry.1.push(node);
                    }
                }
            }
        });
        BindingTracker { seen, task }
    }

    /// Pods (by name) that had more than one nodeName, with the nodes in order.
    pub fn moved(&self) -> Vec<(String, Vec<String>)> {
        self.seen
            .lock()
            .map(|m| m.values().filter(|(_, nodes)| nodes.len() > 1).cloned().collect())
            .unwrap_or_default()
    }

    /// How many pods were seen bound.
    pub fn bound_count(&self) -> usize {
        self.seen.lock().map(|m| m.len()).unwrap_or_default()
    }
}

impl Drop for BindingTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_yaml_documents() {
        let docs = yaml_documents("---\na: 1\n---\n\n--- \nb: 2\n");
        assert_eq!(docs, ["\na: 1\n", " \nb: 2\n"]);
    }

    #[test]
    fn reads_prometheus_samples() {
        let s = metric_samples("# TYPE x counter\nx_total 3\ny{q=\"a b\"} 1.5\n");
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].0.as_str(), s[0].2), ("x_total", 3.0));
        assert_eq!((s[1].0.as_str(), s[1].1.as_str(), s[1].2), ("y", "{q=\"a b\"}", 1.5));
    }

    #[test]
    fn pod_yaml_links_the_group_and_sets_limits() {
        let y = pod("p", Some("g"), 2).complete_after("5s").yaml().expect("yaml");
        let v: Value = serde_yaml_ng::from_str(&y).expect("parse");
        assert_eq!(
            v.pointer("/metadata/annotations/scheduling.k8s.io~1group-name"),
            Some(&json!("g"))
        );
        assert_eq!(
            v.pointer("/spec/containers/0/resources/limits/nvidia.com~1gpu"),
            Some(&json!("2"))
        );
        assert_eq!(v.pointer("/spec/schedulerName"), Some(&json!("caldera")));
    }
}

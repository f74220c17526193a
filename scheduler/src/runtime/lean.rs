//! Pods and Nodes decoded lean: only the fields the converters read.
//!
//! Decoding watch events is most of what the scheduler process spends its CPU on: every pod is
//! seen at least three times (created, bound, running), and a pod's JSON is mostly fields no
//! scheduler reads — `metadata.managedFields` (a nested document per writer), `status.conditions`,
//! `status.containerStatuses`, IPs. [`LeanPod`] and [`LeanNode`] skip those while parsing (no
//! allocation for what is skipped) and keep everything the converters read, as the very
//! `k8s_openapi` objects the converters take: `metadata` (name, namespace, uid,
//! resourceVersion, labels, annotations, creation and deletion time), the whole `spec`, and of
//! `status` only `phase`, `startTime` and `nominatedNodeName` (pods) or `conditions`,
//! `allocatable`, `capacity` and `images` (nodes; `nodeorder`'s image locality reads them).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerImage, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Resource;
use serde::{Deserialize, Deserializer};

/// The metadata fields the scheduler reads.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MetaWire {
    name: Option<String>,
    generate_name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
}

impl From<MetaWire> for ObjectMeta {
    fn from(m: MetaWire) -> ObjectMeta {
        ObjectMeta {
            name: m.name,
            generate_name: m.generate_name,
            namespace: m.namespace,
            uid: m.uid,
            resource_version: m.resource_version,
            labels: m.labels,
            annotations: m.annotations,
            creation_timestamp: m.creation_timestamp,
            deletion_timestamp: m.deletion_timestamp,
            ..ObjectMeta::default()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PodStatusWire {
    phase: Option<String>,
    start_time: Option<Time>,
    nominated_node_name: Option<String>,
}

#[derive(Deserialize)]
struct PodWire {
    #[serde(default)]
    metadata: MetaWire,
    spec: Option<PodSpec>,
    status: Option<PodStatusWire>,
}

/// A Pod with only what the scheduler reads (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct LeanPod(pub Pod);

impl<'de> Deserialize<'de> for LeanPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = PodWire::deserialize(d)?;
        Ok(LeanPod(Pod {
            metadata: w.metadata.into(),
            spec: w.spec,
            status: w.status.map(|s| PodStatus {
                phase: s.phase,
                start_time: s.start_time,
                nominated_node_name: s.nominated_node_name,
                ..PodStatus::default()
            }),
        }))
    }
}

#[derive(Deserialize)]
struct ConditionWire {
    #[serde(rename = "type")]
    type_: String,
    status: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeStatusWire {
    conditions: Option<Vec<ConditionWire>>,
    allocatable: Option<BTreeMap<String, Quantity>>,
    capacity: Option<BTreeMap<String, Quantity>>,
    images: Option<Vec<ContainerImage>>,
}

#[derive(Deserialize)]
struct NodeWire {
    #[serde(default)]
    metadata: MetaWire,
    spec: Option<NodeSpec>,
    status: Option<NodeStatusWire>,
}

/// A Node with only what the scheduler reads (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct LeanNode(pub Node);

impl<'de> Deserialize<'de> for LeanNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = NodeWire::deserialize(d)?;
        Ok(LeanNode(Node {
            metadata: w.metadata.into(),
            spec: w.spec,
            status: w.status.map(|s| NodeStatus {
                conditions: s.conditions.map(|cs| {
                    cs.into_iter()
                        .map(|c| NodeCondition {
                            type_: c.type_,
                            status: c.status,
                            ..NodeCondition::default()
                        })
                        .collect()
                }),
                allocatable: s.allocatable,
                capacity: s.capacity,
                images: s.images,
                ..NodeStatus::default()
            }),
        }))
    }
}

/// The API identity of `$outer` is that of `$inner`; its metadata is the inner object's.
macro_rules! same_resource {
    ($outer:ty, $inner:ty) => {
        impl Resource for $outer {
            type DynamicType = ();
            type Scope = <$inner as Resource>::Scope;

            fn kind(dt: &()) -> Cow<'_, str> {
                <$inner as Resource>::kind(dt)
            }
            fn group(dt: &()) -> Cow<'_, str> {
                <$inner as Resource>::group(dt)
            }
            fn version(dt: &()) -> Cow<'_, str> {
                <$inner as Resource>::version(dt)
            }
            fn plural(dt: &()) -> Cow<'_, str> {
                <$inner as Resource>::plural(dt)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.0.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.0.metadata
            }
        }
    };
}

same_resource!(LeanPod, Pod);
same_resource!(LeanNode, Node);

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::ResourceNames;
    use caldera_framework::convert;

    /// A pod as the API sends it after kwok ran it: managed fields, full status.
    const POD: &str = r#"{
      "kind": "Pod", "apiVersion": "v1",
      "metadata": {"name": "p-1", "namespace": "bench", "uid": "u-1", "resourceVersion": "42",
        "creationTimestamp": "2026-12-06T20:00:00Z",
        "labels": {"app": "x"}, "annotations": {"scheduling.k8s.io/group-name": "g", "volcano.sh/task-spec": "worker"},
        "managedFields": [{"manager": "kwok", "operation": "Update", "apiVersion": "v1", "time": "2026-12-06T20:00:01Z",
          "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}}}}},
          "subresource": "status"}]},
      "spec": {"schedulerName": "caldera", "priority": 5,
        "containers": [{"name": "main", "image": "i",
          "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
        "nodeSelector": {"zone": "a"}},
      "status": {"phase": "Pending", "startTime": "2026-12-06T20:00:01Z", "nominatedNodeName": "n-1", "podIP": "10.0.0.1",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
          "state": {"running": {"startedAt": "2026-12-06T20:00:01Z"}}}]}
    }"#;

    #[test]
    fn a_lean_pod_converts_exactly_like_the_full_one() {
        let full: Pod = serde_json::from_str(POD).expect("full pod");
        let lean: LeanPod = serde_json::from_str(POD).expect("lean pod");
        assert!(lean.0.metadata.managed_fields.is_none());
        assert!(lean.0.status.as_ref().is_some_and(|s| s.conditions.is_none()));
        assert_eq!(lean.meta().resource_version.as_deref(), Some("42"));
        let ours = ["caldera".to_owned()];
        let mut n1 = ResourceNames::default();
        let mut n2 = ResourceNames::default();
        let a = convert::pod_record(&full, &ours, &mut n1, 0).expect("converts");
        let b = convert::pod_record(&lean.0, &ours, &mut n2, 0).expect("converts");
        assert_eq!(a, b);
        assert_eq!(b.nominated_node.as_deref(), Some("n-1"));
        assert!(b.started.is_some());
        assert_eq!(
            <LeanPod as Resource>::url_path(&(), Some("ns")),
            "/api/v1/namespaces/ns/pods"
        );
    }

    const NODE: &str = r#"{
      "kind": "Node", "apiVersion": "v1",
      "metadata": {"name": "n-1", "resourceVersion": "7", "labels": {"zone": "a"},
        "managedFields": [{"manager": "kwok", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]},
      "spec": {"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}], "unschedulable": false},
      "status": {"allocatable": {"cpu": "64", "nvidia.com/gpu": "8", "pods": "110"},
        "capacity": {"cpu": "64", "nvidia.com/gpu": "8", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-12-06T20:00:00Z"}],
        "images": [{"names": ["a", "b"], "sizeBytes": 1}],
        "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
          "containerRuntimeVersion": "", "kubeletVersion": "", "kubeProxyVersion": "", "operatingSystem": "linux",
          "architecture": "amd64"}}
    }"#;

    #[test]
    fn a_lean_node_converts_exactly_like_the_full_one() {
        let full: Node = serde_json::from_str(NODE).expect("full node");
        let lean: LeanNode = serde_json::from_str(NODE).expect("lean node");
        assert!(lean.0.status.as_ref().is_some_and(|s| s.node_info.is_none()));
        let mut n1 = ResourceNames::default();
        let mut n2 = ResourceNames::default();
        let a = convert::node_record(&full, &mut n1).expect("converts");
        let b = convert::node_record(&lean.0, &mut n2).expect("converts");
        assert_eq!(a, b);
        assert!(!b.images.is_empty());
        let not_ready = NODE.replace(r#""status": "True""#, r#""status": "False""#);
        let lean: LeanNode = serde_json::from_str(&not_ready).expect("lean node");
        assert!(!convert::node_record(&lean.0, &mut n2).expect("converts").ready);
    }
}

//! The protobuf messages of a Pod, lean: only the fields the converters read (the same set as
//! [`super::lean`]); every other field is skipped by length while decoding.
//!
//! Tags are those of `k8s.io/api/core/v1` and `k8s.io/apimachinery/pkg/apis/meta/v1` in
//! Kubernetes 1.37 (`generated.proto`). The messages are proto2: an `optional` scalar is present
//! only when the Go field is a pointer that is set, while a plain Go field is always written, so
//! an empty string here can mean "absent" (see `podproto`, which reads it so).

use std::collections::BTreeMap;

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct PodList {
    #[prost(message, repeated, tag = "2")]
    pub items: Vec<Pod>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Pod {
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    pub spec: Option<PodSpec>,
    #[prost(message, optional, tag = "3")]
    pub status: Option<PodStatus>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ObjectMeta {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub generate_name: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub namespace: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub uid: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub resource_version: Option<String>,
    #[prost(message, optional, tag = "8")]
    pub creation_timestamp: Option<Time>,
    #[prost(message, optional, tag = "9")]
    pub deletion_timestamp: Option<Time>,
    #[prost(btree_map = "string, string", tag = "11")]
    pub labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    pub annotations: BTreeMap<String, String>,
}

/// `meta/v1.Time`: whole seconds (the API server never writes `nanos`); an empty message is the
/// zero time, which JSON writes as `null`.
#[derive(Clone, PartialEq, Message)]
pub struct Time {
    #[prost(int64, optional, tag = "1")]
    pub seconds: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PodSpec {
    #[prost(message, repeated, tag = "2")]
    pub containers: Vec<Container>,
    #[prost(btree_map = "string, string", tag = "7")]
    pub node_selector: BTreeMap<String, String>,
    #[prost(string, optional, tag = "10")]
    pub node_name: Option<String>,
    #[prost(message, optional, tag = "18")]
    pub affinity: Option<Affinity>,
    #[prost(string, optional, tag = "19")]
    pub scheduler_name: Option<String>,
    #[prost(message, repeated, tag = "20")]
    pub init_containers: Vec<Container>,
    #[prost(message, repeated, tag = "22")]
    pub tolerations: Vec<Toleration>,
    #[prost(string, optional, tag = "24")]
    pub priority_class_name: Option<String>,
    #[prost(int32, optional, tag = "25")]
    pub priority: Option<i32>,
    #[prost(string, optional, tag = "31")]
    pub preemption_policy: Option<String>,
    #[prost(btree_map = "string, message", tag = "32")]
    pub overhead: BTreeMap<String, Quantity>,
    #[prost(message, repeated, tag = "33")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    #[prost(message, optional, tag = "40")]
    pub resources: Option<ResourceRequirements>,
    #[prost(message, optional, tag = "43")]
    pub scheduling_group: Option<PodSchedulingGroup>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PodSchedulingGroup {
    #[prost(string, optional, tag = "1")]
    pub pod_group_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PodStatus {
    #[prost(string, optional, tag = "1")]
    pub phase: Option<String>,
    #[prost(message, optional, tag = "7")]
    pub start_time: Option<Time>,
    #[prost(string, optional, tag = "11")]
    pub nominated_node_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Container {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub image: Option<String>,
    #[prost(message, repeated, tag = "6")]
    pub ports: Vec<ContainerPort>,
    #[prost(message, optional, tag = "8")]
    pub resources: Option<ResourceRequirements>,
    #[prost(string, optional, tag = "24")]
    pub restart_policy: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ContainerPort {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub host_port: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub container_port: Option<i32>,
    #[prost(string, optional, tag = "4")]
    pub protocol: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub host_ip: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ResourceRequirements {
    #[prost(btree_map = "string, message", tag = "1")]
    pub limits: BTreeMap<String, Quantity>,
    #[prost(btree_map = "string, message", tag = "2")]
    pub requests: BTreeMap<String, Quantity>,
}

/// `resource.Quantity`, as its canonical string.
#[derive(Clone, PartialEq, Message)]
pub struct Quantity {
    #[prost(string, optional, tag = "1")]
    pub string: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Affinity {
    #[prost(message, optional, tag = "1")]
    pub node_affinity: Option<NodeAffinity>,
    #[prost(message, optional, tag = "2")]
    pub pod_affinity: Option<PodAffinity>,
    #[prost(message, optional, tag = "3")]
    pub pod_anti_affinity: Option<PodAffinity>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeAffinity {
    #[prost(message, optional, tag = "1")]
    pub required: Option<NodeSelector>,
    #[prost(message, repeated, tag = "2")]
    pub preferred: Vec<PreferredSchedulingTerm>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeSelector {
    #[prost(message, repeated, tag = "1")]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeSelectorTerm {
    #[prost(message, repeated, tag = "1")]
    pub match_expressions: Vec<Requirement>,
    #[prost(message, repeated, tag = "2")]
    pub match_fields: Vec<Requirement>,
}

/// `NodeSelectorRequirement` and `LabelSelectorRequirement`, which share their tags.
#[derive(Clone, PartialEq, Message)]
pub struct Requirement {
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub operator: Option<String>,
    #[prost(string, repeated, tag = "3")]
    pub values: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PreferredSchedulingTerm {
    #[prost(int32, optional, tag = "1")]
    pub weight: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub preference: Option<NodeSelectorTerm>,
}

/// `PodAffinity` and `PodAntiAffinity`, which share their tags.
#[derive(Clone, PartialEq, Message)]
pub struct PodAffinity {
    #[prost(message, repeated, tag = "1")]
    pub required: Vec<PodAffinityTerm>,
    #[prost(message, repeated, tag = "2")]
    pub preferred: Vec<WeightedPodAffinityTerm>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PodAffinityTerm {
    #[prost(message, optional, tag = "1")]
    pub label_selector: Option<LabelSelector>,
    #[prost(string, repeated, tag = "2")]
    pub namespaces: Vec<String>,
    #[prost(string, optional, tag = "3")]
    pub topology_key: Option<String>,
    #[prost(message, optional, tag = "4")]
    pub namespace_selector: Option<LabelSelector>,
}

#[derive(Clone, PartialEq, Message)]
pub struct WeightedPodAffinityTerm {
    #[prost(int32, optional, tag = "1")]
    pub weight: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub term: Option<PodAffinityTerm>,
}

#[derive(Clone, PartialEq, Message)]
pub struct LabelSelector {
    #[prost(btree_map = "string, string", tag = "1")]
    pub match_labels: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "2")]
    pub match_expressions: Vec<Requirement>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Toleration {
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub operator: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub value: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub effect: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TopologySpreadConstraint {
    #[prost(int32, optional, tag = "1")]
    pub max_skew: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub topology_key: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub when_unsatisfiable: Option<String>,
    #[prost(message, optional, tag = "4")]
    pub label_selector: Option<LabelSelector>,
    #[prost(int32, optional, tag = "5")]
    pub min_domains: Option<i32>,
    #[prost(string, optional, tag = "6")]
    pub node_affinity_policy: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub node_taints_policy: Option<String>,
    #[prost(string, repeated, tag = "8")]
    pub match_label_keys: Vec<String>,
}

//! The scheduler-plugins coscheduling `scheduling.x-k8s.io/v1alpha1` `PodGroup`.
//!
//! Accepted so that workloads already wired for the out-of-tree coscheduling plugin (KubeRay's
//! and Kubeflow's `scheduler-plugins` backends) move to Caldera without changes. Pods join a group
//! through the [`crate::labels::COSCHEDULING_POD_GROUP`] *label*, not an annotation as in Volcano.
//!
//! This group has no queue: Caldera charges it to the default queue.
//!
//! Its short name `pg` clashes with Volcano's; with both CRDs installed, `kubectl get pg` picks
//! one of them, so spell out `podgroups.scheduling.x-k8s.io` in scripts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    ResourceList,
    schema::{self, string_enum},
};

/// API group of the coscheduling `PodGroup`.
pub const GROUP: &str = "scheduling.x-k8s.io";
/// The only version scheduler-plugins serves.
pub const VERSION: &str = "v1alpha1";

/// Desired shape of a coscheduling gang.
// Clippy reads the repeated `type_ = "integer"` inside separate `printcolumn(...)` groups as a
// duplicated attribute; they are distinct columns.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "scheduling.x-k8s.io",
    version = "v1alpha1",
    kind = "PodGroup",
    namespaced,
    status = "PodGroupStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "pg",
    shortname = "pgs",
    annotation(
        "api-approved.kubernetes.io",
        "https://github.com/kubernetes-sigs/scheduler-plugins/pull/50"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "MinMember", type_ = "integer", json_path = ".spec.minMember"),
    printcolumn(name = "Running", type_ = "integer", json_path = ".status.running"),
    printcolumn(name = "Succeeded", type_ = "integer", json_path = ".status.succeeded"),
    printcolumn(name = "Failed", type_ = "integer", json_path = ".status.failed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "A scheduler-plugins coscheduling gang: all-or-nothing placement of minMember pods."
)]
#[serde(rename_all = "camelCase")]
pub struct PodGroupSpec {
    /// Gang size: members wait at Permit until this many are assumed.
    #[serde(default, skip_serializing_if = "schema::is_zero")]
    #[schemars(range(min = 1))]
    pub min_member: i32,

    /// Resources the whole gang needs before any member is let through PreFilter.
    ///
    /// A plain map in Go, so `{}` and absent mean the same; Rust keeps the distinction only for
    /// faithful round trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub min_resources: Option<ResourceList>,

    /// How long members may wait for the rest of the gang before all are rejected; overrides
    /// the plugin's `permitWaitingTimeSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_timeout_seconds: Option<i32>,
}

string_enum! {
    /// Lifecycle of a coscheduling gang, as its controller reports it.
    ///
    /// ```text
    /// Pending -> Scheduling -> Running -> Finished
    ///                 \            \-> Failed
    ///                  \-> Unknown
    /// ```
    pub enum PodGroupPhase {
        /// Created; fewer than `minMember` pods exist.
        Pending = "Pending",
        /// Enough pods exist and some are being placed.
        Scheduling = "Scheduling",
        /// At least `minMember` members run.
        Running = "Running",
        /// Some members run but not the whole gang.
        Unknown = "Unknown",
        /// All members succeeded.
        Finished = "Finished",
        /// At least one member failed.
        Failed = "Failed",
    }
}

/// Observed state of a coscheduling gang.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodGroupStatus {
    /// Current phase; `""` on the wire reads as absent.
    #[serde(
        default,
        deserialize_with = "schema::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase: Option<PodGroupPhase>,
    /// Comma-joined UIDs of the objects that own the members (e.g. a Job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupied_by: Option<String>,
    /// Members in pod phase Running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<i32>,
    /// Members in pod phase Succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<i32>,
    /// Members in pod phase Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<i32>,
    /// When the first member was seen by the scheduler; the timeout counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::time")]
    pub schedule_start_time: Option<Time>,
}

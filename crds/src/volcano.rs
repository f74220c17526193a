//! Volcano's `scheduling.volcano.sh/v1beta1` `PodGroup` and `Queue`.
//!
//! These are the objects KubeRay, Kubeflow, Spark and Volcano's own Job controller create, so
//! decoding them must never fail on something a newer controller added: unknown fields are
//! ignored, phases and states keep unknown values, and every field Go marks `omitempty` is
//! optional here.
//!
//! The two kinds differ in how status is written, and the CRDs mirror upstream exactly:
//!
//! ```text
//! PodGroup  Namespaced  no subresources  -> the scheduler PUTs/patches the whole object
//! Queue     Cluster     status           -> the scheduler patches /status (`allocated`)
//! ```

use std::{borrow::Cow, collections::BTreeMap};

use k8s_openapi::{
    apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
        CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceValidation,
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time},
};
use kube::{
    CustomResource,
    core::{
        ApiResource, NamespaceResourceScope, Resource,
        crd::v1::CustomResourceExt,
        object::{HasSpec, HasStatus},
    },
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, ser::SerializeStruct};

use crate::{
    ResourceList,
    schema::{self, string_enum},
};

/// API group of both Volcano kinds.
pub const GROUP: &str = "scheduling.volcano.sh";
/// The only served version; `v1alpha1`/`v1alpha2` were removed upstream.
pub const VERSION: &str = "v1beta1";
/// Queue a group lands in when it names none; also the queue the scheduler creates at start-up.
pub const DEFAULT_QUEUE: &str = "default";
/// Root of the queue hierarchy; `spec.parent` of a top-level queue.
pub const ROOT_QUEUE: &str = "root";

/// Condition `type` the gang plugin writes when the group cannot be placed this session.
pub const CONDITION_UNSCHEDULABLE: &str = "Unschedulable";
/// Condition `type` the gang plugin writes once the gang is ready.
pub const CONDITION_SCHEDULED: &str = "Scheduled";
/// Condition `reason`: the cluster or queue lacked resources for `minMember` pods.
pub const REASON_NOT_ENOUGH_RESOURCES: &str = "NotEnoughResources";
/// Condition `reason`: fewer valid pods exist than `minMember`.
pub const REASON_NOT_ENOUGH_TASKS: &str = "NotEnoughTasks";
/// Condition `reason`: a role has fewer valid pods than its `minTaskMember`.
pub const REASON_NOT_ENOUGH_PODS_OF_TASK: &str = "NotEnoughPodsOfTask";
/// Condition `reason`: a member pod failed.
pub const REASON_POD_FAILED: &str = "PodFailed";
/// Condition `reason`: a member pod was deleted.
pub const REASON_POD_DELETED: &str = "PodDeleted";

// ---------------------------------------------------------------------------------------------
// PodGroup
// ---------------------------------------------------------------------------------------------

// Written by hand rather than with `#[derive(CustomResource)]`: the derive ties a `status` field
// to a status subresource, and Volcano's CRD has none, so a scheduler that wrote `/status`
// against a real Volcano install would get 404s. (The doc comment below becomes the CRD's
// description, which is why this note is not in it.)
/// A Volcano gang: pods that are admitted, placed and preempted all at once. It has no status
/// subresource; status is written by updating the whole object.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodGroup {
    /// Standard object metadata; validated by the apiserver, so absent from the schema.
    #[schemars(skip)]
    #[serde(default)]
    pub metadata: ObjectMeta,
    // Required, like in derived roots: Go always sends it, as a struct is never `omitempty`.
    /// Desired gang shape.
    pub spec: PodGroupSpec,
    /// What the scheduler last observed; absent until its first session sees the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PodGroupStatus>,
}

impl PodGroup {
    /// A group with just a name and a spec, ready to be given a namespace and created.
    pub fn new(name: &str, spec: PodGroupSpec) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
        }
    }
}

// Hand-written so `apiVersion` and `kind` are always emitted, as the derive would do.
impl Serialize for PodGroup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut obj = s.serialize_struct("PodGroup", 5)?;
        obj.serialize_field("apiVersion", &Self::api_version(&()))?;
        obj.serialize_field("kind", &Self::kind(&()))?;
        obj.serialize_field("metadata", &self.metadata)?;
        obj.serialize_field("spec", &self.spec)?;
        if let Some(status) = &self.status {
            obj.serialize_field("status", status)?;
        }
        obj.end()
    }
}

impl Resource for PodGroup {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "PodGroup".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        VERSION.into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "podgroups".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl HasSpec for PodGroup {
    type Spec = PodGroupSpec;

    fn spec(&self) -> &PodGroupSpec {
        &self.spec
    }

    fn spec_mut(&mut self) -> &mut PodGroupSpec {
        &mut self.spec
    }
}

impl HasStatus for PodGroup {
    type Status = PodGroupStatus;

    fn status(&self) -> Option<&PodGroupStatus> {
        self.status.as_ref()
    }

    fn status_mut(&mut self) -> &mut Option<PodGroupStatus> {
        &mut self.status
    }
}

const POD_GROUP_SHORT_NAMES: &[&str] = &["pg", "podgroup-v1beta1"];

impl CustomResourceExt for PodGroup {
    fn crd() -> CustomResourceDefinition {
        let column = |name: &str, type_: &str, json_path: &str, priority: Option<i32>| CustomResourceColumnDefinition {
            name: name.into(),
            type_: type_.into(),
            json_path: json_path.into(),
            priority,
            ..CustomResourceColumnDefinition::default()
        };
        CustomResourceDefinition {
            metadata: ObjectMeta {
                name: Some(Self::crd_name().into()),
                ..ObjectMeta::default()
            },
            spec: CustomResourceDefinitionSpec {
                group: GROUP.into(),
                names: CustomResourceDefinitionNames {
                    kind: "PodGroup".into(),
                    list_kind: Some("PodGroupList".into()),
                    plural: "podgroups".into(),
                    singular: Some("podgroup".into()),
                    short_names: Some(POD_GROUP_SHORT_NAMES.iter().map(|s| (*s).into()).collect()),
                    ..CustomResourceDefinitionNames::default()
                },
                scope: "Namespaced".into(),
                versions: vec![CustomResourceDefinitionVersion {
                    name: VERSION.into(),
                    served: true,
                    storage: true,
                    additional_printer_columns: Some(vec![
                        column("STATUS", "string", ".status.phase", None),
                        column("minMember", "integer", ".spec.minMember", None),
                        column("RUNNINGS", "integer", ".status.running", None),
                        column("AGE", "date", ".metadata.creationTimestamp", None),
                        column("QUEUE", "string", ".spec.queue", Some(1)),
                    ]),
                    schema: Some(CustomResourceValidation {
                        open_api_v3_schema: Some(schema::crd_schema::<Self>()),
                    }),
                    // Deliberately none: see the type's doc.
                    subresources: None,
                    ..CustomResourceDefinitionVersion::default()
                }],
                ..CustomResourceDefinitionSpec::default()
            },
            status: None,
        }
    }

    fn crd_name() -> &'static str {
        "podgroups.scheduling.volcano.sh"
    }

    fn api_resource() -> ApiResource {
        ApiResource::erase::<Self>(&())
    }

    fn shortnames() -> &'static [&'static str] {
        POD_GROUP_SHORT_NAMES
    }
}

/// Desired shape of a Volcano gang.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodGroupSpec {
    /// Gang size: no member is bound until this many can be placed together.
    ///
    /// Zero is legal (Spark's template-less group) and means "no gang constraint".
    #[serde(default, skip_serializing_if = "schema::is_zero")]
    #[schemars(range(min = 0))]
    pub min_member: i32,

    /// Per-role minimums, keyed by the pods' `volcano.sh/task-spec` value; a finer gang inside
    /// the gang, used by Volcano Jobs with several task roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_task_member: Option<BTreeMap<String, i32>>,

    /// Queue the group is charged to. The CRD defaults it to `default`, so an object read from
    /// the apiserver always has it; an explicitly empty value means the scheduler's own default.
    #[serde(default = "default_queue")]
    pub queue: String,

    /// Name of a `PriorityClass` whose value becomes the job priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    /// Resources the whole gang needs, checked only when admitting the group to its queue
    /// (`Pending` -> `Inqueue`). Absent means "admit without a resource check".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub min_resources: Option<ResourceList>,

    /// Keep the gang inside one network-topology domain (HyperNode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_topology: Option<NetworkTopologySpec>,

    /// Sub-gangs: pods split by label values, each split placed under its own topology rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_group_policy: Option<Vec<SubGroupPolicySpec>>,
}

fn default_queue() -> String {
    DEFAULT_QUEUE.to_owned()
}

// Not derived: an empty spec must still name the default queue, as the CRD default would.
impl Default for PodGroupSpec {
    fn default() -> Self {
        Self {
            min_member: 0,
            min_task_member: None,
            queue: default_queue(),
            priority_class_name: None,
            min_resources: None,
            network_topology: None,
            sub_group_policy: None,
        }
    }
}

string_enum! {
    /// How strictly a topology constraint binds. Absent means [`NetworkTopologyMode::Hard`].
    pub enum NetworkTopologyMode {
        /// All pods must fit inside one HyperNode within the tier limit, or none are bound.
        Hard = "hard",
        /// Prefer one HyperNode, but spill over rather than wait.
        Soft = "soft",
    }
}

/// A network-topology constraint for a gang or sub-gang.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkTopologySpec {
    /// Hard or soft; absent means hard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<NetworkTopologyMode>,
    /// Highest HyperNode tier the gang may span. Exclusive with `highestTierName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub highest_tier_allowed: Option<i32>,
    /// Same limit, named by tier instead of number. Exclusive with `highestTierAllowed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest_tier_name: Option<String>,
}

/// One sub-gang rule: which pods it covers and how they must be grouped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubGroupPolicySpec {
    /// Identifies the rule; Volcano Jobs use the task name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Topology constraint each sub-gang must satisfy on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_topology: Option<NetworkTopologySpec>,
    /// Pods per sub-gang; absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub sub_group_size: Option<i32>,
    /// How many complete sub-gangs must fit before any is bound; absent means 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_sub_groups: Option<i32>,
    /// Pods this rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::label_selector")]
    pub label_selector: Option<LabelSelector>,
    /// Label keys whose values split the selected pods into sub-gangs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_label_keys: Option<Vec<String>>,
}

string_enum! {
    /// Lifecycle of a Volcano gang as the scheduler reports it.
    ///
    /// ```text
    /// Pending --enqueue--> Inqueue --scheduled >= minMember--> Running --all done--> Completed
    ///    ^                    |                                   |
    ///    +-- (any other) -----+            Unknown <-- some running, rest unschedulable
    /// ```
    ///
    /// Controllers (Volcano Job, Kubeflow) create pods only after `Pending`, so the scheduler
    /// must move groups to `Inqueue` even before any pod exists.
    pub enum PodGroupPhase {
        /// Accepted, not yet admitted to its queue; pods may not exist yet.
        Pending = "Pending",
        /// At least `minMember` members are scheduled.
        Running = "Running",
        /// Some members run but the rest cannot be placed.
        Unknown = "Unknown",
        /// Admitted to its queue; controllers may create pods.
        Inqueue = "Inqueue",
        /// Every scheduled member has finished.
        Completed = "Completed",
    }
}

/// What the scheduler last observed about a gang.
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
    /// Why the group is (un)schedulable, newest last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<PodGroupCondition>>,
    /// Members in pod phase Running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<i32>,
    /// Members in pod phase Succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<i32>,
    /// Members in pod phase Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<i32>,
}

/// One scheduling verdict on a gang.
///
/// Not `metav1.Condition`: Volcano's carries a `transitionID` (the session that wrote it) and
/// has no `observedGeneration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodGroupCondition {
    /// `Unschedulable` or `Scheduled`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// UID of the scheduling session that wrote this condition.
    #[serde(rename = "transitionID", default, skip_serializing_if = "Option::is_none")]
    pub transition_id: Option<String>,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::time")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable cause, e.g. `NotEnoughResources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail, e.g. which members failed which predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------------------------

/// How a queue shares the cluster: weight, limits, guarantees and placement.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "scheduling.volcano.sh",
    version = "v1beta1",
    kind = "Queue",
    status = "QueueStatus",
    derive = "PartialEq",
    shortname = "q",
    shortname = "queue-v1beta1",
    printcolumn(name = "PARENT", type_ = "string", json_path = ".spec.parent"),
    doc = "A Volcano queue: the unit of fair share, quota and reclaim between tenants. Cluster scoped."
)]
#[serde(rename_all = "camelCase")]
pub struct QueueSpec {
    /// Share of the cluster relative to sibling queues (proportion plugin). Absent means 1.
    #[serde(default = "default_weight")]
    #[schemars(range(min = 1, max = 65535))]
    pub weight: i32,

    /// Hard ceiling on what the queue may hold, borrowed resources included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub capability: Option<ResourceList>,

    /// Whether other queues may take back what this one holds above its deserved share.
    /// Absent means `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaimable: Option<bool>,

    /// Member clusters this queue may dispatch to (multi-cluster use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_clusters: Option<Vec<ExtendCluster>>,

    /// Resources set aside for this queue that no other queue may use or reclaim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarantee: Option<Guarantee>,

    /// Which node groups the queue's pods must or should land on (nodegroup plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<QueueAffinity>,

    /// Free-form queue type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,

    /// Parent queue for hierarchical sharing; absent means `root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,

    /// Entitled share for the capacity plugin; above it, resources are lent and reclaimable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub deserved: Option<ResourceList>,

    /// Higher is served first and reclaimed from last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub priority: Option<i32>,

    /// Order in which pending groups leave the queue; absent means traverse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dequeue_strategy: Option<DequeueStrategy>,
}

fn default_weight() -> i32 {
    1
}

// Not derived: a queue without a weight has weight 1, never 0 (0 would divide by zero in
// proportion's share computation).
impl Default for QueueSpec {
    fn default() -> Self {
        Self {
            weight: default_weight(),
            capability: None,
            reclaimable: None,
            extend_clusters: None,
            guarantee: None,
            affinity: None,
            type_: None,
            parent: None,
            deserved: None,
            priority: None,
            dequeue_strategy: None,
        }
    }
}

/// A member cluster a queue may dispatch to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtendCluster {
    /// Cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Relative preference among the queue's clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// What the queue may use in that cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub capacity: Option<ResourceList>,
}

/// Resources reserved for a queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Guarantee {
    /// The reserved amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub resource: Option<ResourceList>,
}

/// Node-group placement rules for a queue's pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueAffinity {
    /// Node groups to land on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_group_affinity: Option<NodeGroupAffinity>,
    /// Node groups to stay off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_group_anti_affinity: Option<NodeGroupAffinity>,
}

/// Required and preferred node-group names; the same shape serves affinity and anti-affinity.
///
/// Nodes join a group through the `volcano.sh/nodegroup-name` label.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupAffinity {
    /// Groups that must (or, for anti-affinity, must not) host the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<Vec<String>>,
    /// Groups that should (or should not) host the pod, if possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_during_scheduling_ignored_during_execution: Option<Vec<String>>,
}

string_enum! {
    /// Order in which pending groups leave a queue.
    pub enum DequeueStrategy {
        /// Strict arrival order: a head that does not fit blocks the queue.
        Fifo = "fifo",
        /// Skip a head that does not fit and try the next.
        Traverse = "traverse",
    }
}

string_enum! {
    /// Whether a queue accepts work; written by Volcano's queue controller, not the scheduler.
    pub enum QueueState {
        /// Accepts and schedules new groups.
        Open = "Open",
        /// Accepts nothing new.
        Closed = "Closed",
        /// Being closed: existing groups drain, nothing new is admitted.
        Closing = "Closing",
        /// The controller could not tell.
        Unknown = "Unknown",
    }
}

/// Observed state of a queue.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatus {
    /// Open, Closed, ...; groups are admitted only while `Open`.
    #[serde(
        default,
        deserialize_with = "schema::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub state: Option<QueueState>,
    /// Groups in phase `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<i32>,
    /// Groups in phase `Pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<i32>,
    /// Groups in phase `Running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<i32>,
    /// Groups in phase `Inqueue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inqueue: Option<i32>,
    /// Groups in phase `Completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<i32>,
    /// Legacy node reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<Reservation>,
    /// Resources bound to the queue's pods; the one field the scheduler writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub allocated: Option<ResourceList>,
}

/// Nodes locked for a queue (legacy reservation feature).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// Locked node names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<String>>,
    /// Total resources on those nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub resource: Option<ResourceList>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_spec_names_the_default_queue() {
        let spec: PodGroupSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(spec, PodGroupSpec::default());
        assert_eq!(spec.queue, DEFAULT_QUEUE);
        assert_eq!(spec.min_member, 0);
    }

    #[test]
    fn empty_queue_spec_has_weight_one() {
        let spec: QueueSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(spec, QueueSpec::default());
        assert_eq!(spec.weight, 1);
    }

    #[test]
    fn pod_group_serialises_type_meta_and_omits_absent_status() {
        let pg = PodGroup::new("g", PodGroupSpec::default());
        let v = serde_json::to_value(&pg).unwrap();
        assert_eq!(v["apiVersion"], "scheduling.volcano.sh/v1beta1");
        assert_eq!(v["kind"], "PodGroup");
        assert_eq!(v["metadata"]["name"], "g");
        assert!(v.get("status").is_none());
    }

    #[test]
    fn resource_identity_matches_the_crd() {
        let crd = PodGroup::crd();
        assert_eq!(PodGroup::crd_name(), crd.metadata.name.as_deref().unwrap());
        assert_eq!(PodGroup::plural(&()), crd.spec.names.plural);
        assert_eq!(PodGroup::group(&()), crd.spec.group);
        assert_eq!(PodGroup::api_version(&()), "scheduling.volcano.sh/v1beta1");
        assert_eq!(PodGroup::shortnames(), crd.spec.names.short_names.unwrap().as_slice());
    }

    #[test]
    fn condition_type_and_transition_id_use_go_names() {
        let c = PodGroupCondition {
            type_: CONDITION_UNSCHEDULABLE.into(),
            status: "True".into(),
            transition_id: Some("abc".into()),
            ..PodGroupCondition::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["type"], "Unschedulable");
        assert_eq!(v["transitionID"], "abc");
    }
}

//! Decoding objects shaped like the ones real controllers write, and writing them back unchanged.
//!
//! The fixtures are what `kubectl get -o yaml` shows for objects created by each integration
//! (server-populated metadata included), written for these tests from the integrations' documented
//! behaviour.

use caldera_crds::{coscheduling, volcano};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Serialize, de::DeserializeOwned};

fn decode<T: DeserializeOwned>(yaml: &str) -> T {
    serde_yaml_ng::from_str(yaml).expect("fixture decodes")
}

/// Asserts that decoding and re-encoding loses nothing: the re-encoded JSON equals the fixture.
fn assert_round_trip<T: Serialize + DeserializeOwned>(yaml: &str) {
    let obj: T = decode(yaml);
    let expected: serde_json::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let actual = serde_json::to_value(&obj).unwrap();
    assert_eq!(actual, expected);
    // And once more through YAML, the format crdgen and the simulator use.
    let again: T = decode(&serde_yaml_ng::to_string(&obj).unwrap());
    assert_eq!(serde_json::to_value(&again).unwrap(), expected);
}

fn q(s: &str) -> Quantity {
    Quantity(s.to_owned())
}

/// A RayCluster with one head and two GPU workers, created with `--batch-scheduler=volcano`.
const KUBERAY_POD_GROUP: &str = r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: PodGroup
metadata:
  creationTimestamp: "2026-05-02T10:11:12Z"
  generation: 1
  name: ray-gpu-cluster-pg
  namespace: ml
  ownerReferences:
  - apiVersion: ray.io/v1
    blockOwnerDeletion: true
    controller: true
    kind: RayCluster
    name: gpu-cluster
    uid: 7d7c2a4e-3f8e-4d59-9d0b-0f6c1b2f8a11
  resourceVersion: "48213"
  uid: 2b1f4c3d-91a7-4a34-8f1e-6c5d4e3b2a10
spec:
  minMember: 3
  minResources:
    cpu: "10"
    memory: 40Gi
    nvidia.com/gpu: "2"
  priorityClassName: research-high
  queue: ray-team
status:
  conditions:
  - lastTransitionTime: "2026-05-02T10:11:14Z"
    message: '3/3 tasks in gang unschedulable: 3 Insufficient nvidia.com/gpu'
    reason: NotEnoughResources
    status: "True"
    transitionID: 0c5e7a2b-52f4-4b1e-a0a5-4e8f9d7c6b21
    type: Unschedulable
  phase: Inqueue
"#;

#[test]
fn kuberay_pod_group_decodes() {
    let pg: volcano::PodGroup = decode(KUBERAY_POD_GROUP);
    assert_eq!(pg.metadata.name.as_deref(), Some("ray-gpu-cluster-pg"));
    assert_eq!(pg.metadata.namespace.as_deref(), Some("ml"));
    let owner = &pg.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.kind, "RayCluster");

    assert_eq!(pg.spec.min_member, 3);
    assert_eq!(pg.spec.queue, "ray-team");
    assert_eq!(pg.spec.priority_class_name.as_deref(), Some("research-high"));
    let res = pg.spec.min_resources.as_ref().unwrap();
    assert_eq!(res["cpu"], q("10"));
    assert_eq!(res["memory"], q("40Gi"));
    assert_eq!(res["nvidia.com/gpu"], q("2"));

    let status = pg.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(volcano::PodGroupPhase::Inqueue));
    let cond = &status.conditions.as_ref().unwrap()[0];
    assert_eq!(cond.type_, volcano::CONDITION_UNSCHEDULABLE);
    assert_eq!(cond.reason.as_deref(), Some(volcano::REASON_NOT_ENOUGH_RESOURCES));
    assert_eq!(
        cond.transition_id.as_deref(),
        Some("0c5e7a2b-52f4-4b1e-a0a5-4e8f9d7c6b21")
    );
    assert!(cond.last_transition_time.is_some());
}

#[test]
fn kuberay_pod_group_round_trips() {
    assert_round_trip::<volcano::PodGroup>(KUBERAY_POD_GROUP);
}

/// A PyTorchJob from training-operator v1 with `--gang-scheduler-name=volcano`, already running.
/// `spec.someFutureField` stands for a field a newer Volcano adds.
const KUBEFLOW_POD_GROUP: &str = r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: PodGroup
metadata:
  name: mnist-ddp
  namespace: kubeflow-user
  ownerReferences:
  - apiVersion: kubeflow.org/v1
    controller: true
    kind: PyTorchJob
    name: mnist-ddp
    uid: 1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b
spec:
  minMember: 4
  queue: default
  priorityClassName: batch
  minResources:
    cpu: 16
    memory: 64Gi
    nvidia.com/gpu: 4
  networkTopology:
    mode: hard
    highestTierAllowed: 1
  someFutureField:
    nested: true
status:
  phase: Running
  running: 4
  succeeded: 0
  failed: 0
  someFutureCounter: 7
"#;

#[test]
fn kubeflow_pod_group_decodes_and_ignores_unknown_fields() {
    let pg: volcano::PodGroup = decode(KUBEFLOW_POD_GROUP);
    assert_eq!(pg.spec.min_member, 4);
    assert_eq!(pg.spec.queue, volcano::DEFAULT_QUEUE);
    // Integers in YAML are accepted as quantities and kept in their written form.
    let res = pg.spec.min_resources.as_ref().unwrap();
    assert_eq!(res["cpu"], q("16"));
    assert_eq!(res["nvidia.com/gpu"], q("4"));
    let topo = pg.spec.network_topology.as_ref().unwrap();
    assert_eq!(topo.mode, Some(volcano::NetworkTopologyMode::Hard));
    assert_eq!(topo.highest_tier_allowed, Some(1));
    let status = pg.status.unwrap();
    assert_eq!(status.phase, Some(volcano::PodGroupPhase::Running));
    assert_eq!(status.running, Some(4));
    assert_eq!(status.succeeded, Some(0));
}

/// A Volcano Job with a partitioned worker task: per-role minimums and sub-gangs.
const VCJOB_POD_GROUP: &str = r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: PodGroup
metadata:
  name: llm-train-0f6b0a8e-1c2d-4e3f-9a8b-7c6d5e4f3a2b
  namespace: training
spec:
  minMember: 17
  minTaskMember:
    master: 1
    worker: 16
  queue: llm
  networkTopology:
    highestTierName: spine
    mode: soft
  subGroupPolicy:
  - labelSelector:
      matchExpressions:
      - key: volcano.sh/partition-id
        operator: Exists
      matchLabels:
        volcano.sh/task-spec: worker
    matchLabelKeys:
    - volcano.sh/partition-id
    minSubGroups: 2
    name: worker
    networkTopology:
      highestTierAllowed: 1
      mode: hard
    subGroupSize: 8
status:
  phase: Pending
"#;

#[test]
fn vcjob_pod_group_with_sub_groups_round_trips() {
    let pg: volcano::PodGroup = decode(VCJOB_POD_GROUP);
    assert_eq!(pg.spec.min_task_member.as_ref().unwrap()["worker"], 16);
    let topo = pg.spec.network_topology.as_ref().unwrap();
    assert_eq!(topo.mode, Some(volcano::NetworkTopologyMode::Soft));
    assert_eq!(topo.highest_tier_name.as_deref(), Some("spine"));
    let sub = &pg.spec.sub_group_policy.as_ref().unwrap()[0];
    assert_eq!(sub.name, "worker");
    assert_eq!(sub.sub_group_size, Some(8));
    assert_eq!(sub.min_sub_groups, Some(2));
    assert_eq!(
        sub.match_label_keys.as_deref(),
        Some(&["volcano.sh/partition-id".to_owned()][..])
    );
    let selector = sub.label_selector.as_ref().unwrap();
    assert_eq!(
        selector.match_labels.as_ref().unwrap()["volcano.sh/task-spec"],
        "worker"
    );
    assert_eq!(pg.status.unwrap().phase, Some(volcano::PodGroupPhase::Pending));

    assert_round_trip::<volcano::PodGroup>(VCJOB_POD_GROUP);
}

#[test]
fn spark_template_less_pod_group_has_no_gang_and_default_queue() {
    let pg: volcano::PodGroup = decode(
        "apiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\n\
         metadata: {name: spark-a1b2c3-podgroup, namespace: spark}\nspec: {}\n",
    );
    assert_eq!(pg.spec.min_member, 0);
    assert_eq!(pg.spec.queue, volcano::DEFAULT_QUEUE);
    assert!(pg.status.is_none());
}

#[test]
fn phases_from_newer_volcano_survive_a_round_trip() {
    let yaml = "apiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\n\
                metadata: {name: g}\nspec: {minMember: 1, queue: q}\nstatus: {phase: Preempting}\n";
    let pg: volcano::PodGroup = decode(yaml);
    assert_eq!(
        pg.status.as_ref().unwrap().phase,
        Some(volcano::PodGroupPhase::Other("Preempting".into()))
    );
    assert_round_trip::<volcano::PodGroup>(yaml);
}

/// A scheduler-plugins PodGroup as KubeRay's `scheduler-plugins` backend creates it, mid-schedule.
const COSCHEDULING_POD_GROUP: &str = r#"
apiVersion: scheduling.x-k8s.io/v1alpha1
kind: PodGroup
metadata:
  name: gpu-cluster
  namespace: ml
  labels:
    app.kubernetes.io/managed-by: kuberay-operator
spec:
  minMember: 3
  minResources:
    cpu: "10"
    memory: 40Gi
    nvidia.com/gpu: "2"
  scheduleTimeoutSeconds: 60
status:
  occupiedBy: 7d7c2a4e-3f8e-4d59-9d0b-0f6c1b2f8a11
  phase: Scheduling
  running: 1
  scheduleStartTime: "2026-05-02T10:11:12Z"
"#;

#[test]
fn coscheduling_pod_group_decodes() {
    let pg: coscheduling::PodGroup = decode(COSCHEDULING_POD_GROUP);
    assert_eq!(pg.spec.min_member, 3);
    assert_eq!(pg.spec.schedule_timeout_seconds, Some(60));
    assert_eq!(pg.spec.min_resources.as_ref().unwrap()["memory"], q("40Gi"));
    let status = pg.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(coscheduling::PodGroupPhase::Scheduling));
    assert_eq!(status.running, Some(1));
    assert_eq!(
        status.occupied_by.as_deref(),
        Some("7d7c2a4e-3f8e-4d59-9d0b-0f6c1b2f8a11")
    );
    assert!(status.schedule_start_time.is_some());
}

#[test]
fn coscheduling_pod_group_round_trips() {
    assert_round_trip::<coscheduling::PodGroup>(COSCHEDULING_POD_GROUP);
}

#[test]
fn coscheduling_pod_group_without_min_resources() {
    let pg: coscheduling::PodGroup = decode(
        "apiVersion: scheduling.x-k8s.io/v1alpha1\nkind: PodGroup\n\
         metadata: {name: nginx}\nspec: {minMember: 2}\nstatus: {phase: Finished}\n",
    );
    assert_eq!(pg.spec.min_resources, None);
    assert_eq!(pg.status.unwrap().phase, Some(coscheduling::PodGroupPhase::Finished));
}

/// A child queue in a capacity-plugin hierarchy, as the queue controller leaves it.
const QUEUE: &str = r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: Queue
metadata:
  name: research
  annotations:
    volcano.sh/hierarchy: root/eng/research
spec:
  weight: 4
  reclaimable: false
  parent: eng
  priority: 10
  capability:
    cpu: "64"
    memory: 256Gi
    nvidia.com/gpu: "16"
  deserved:
    cpu: "32"
    memory: 128Gi
    nvidia.com/gpu: "8"
  guarantee:
    resource:
      cpu: "8"
      memory: 32Gi
  affinity:
    nodeGroupAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - a100-pool
      preferredDuringSchedulingIgnoredDuringExecution:
      - h100-pool
    nodeGroupAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - cpu-only
  dequeueStrategy: fifo
  type: training
  extendClusters:
  - name: east
    weight: 2
    capacity:
      cpu: "100"
status:
  state: Open
  allocated:
    cpu: "12"
    memory: 48Gi
    nvidia.com/gpu: "4"
  inqueue: 1
  pending: 2
  running: 3
  completed: 5
"#;

#[test]
fn queue_decodes() {
    let queue: volcano::Queue = decode(QUEUE);
    let spec = &queue.spec;
    assert_eq!(spec.weight, 4);
    assert_eq!(spec.reclaimable, Some(false));
    assert_eq!(spec.parent.as_deref(), Some("eng"));
    assert_eq!(spec.priority, Some(10));
    assert_eq!(spec.capability.as_ref().unwrap()["nvidia.com/gpu"], q("16"));
    assert_eq!(spec.deserved.as_ref().unwrap()["cpu"], q("32"));
    let guarantee = spec.guarantee.as_ref().unwrap().resource.as_ref().unwrap();
    assert_eq!(guarantee["memory"], q("32Gi"));
    let affinity = spec.affinity.as_ref().unwrap();
    assert_eq!(
        affinity
            .node_group_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution,
        Some(vec!["a100-pool".to_owned()])
    );
    assert_eq!(spec.dequeue_strategy, Some(volcano::DequeueStrategy::Fifo));
    assert_eq!(spec.type_.as_deref(), Some("training"));
    assert_eq!(spec.extend_clusters.as_ref().unwrap()[0].weight, Some(2));

    let status = queue.status.as_ref().unwrap();
    assert_eq!(status.state, Some(volcano::QueueState::Open));
    assert_eq!(status.allocated.as_ref().unwrap()["cpu"], q("12"));
    assert_eq!(status.running, Some(3));
    assert_eq!(status.unknown, None);
}

#[test]
fn queue_round_trips() {
    assert_round_trip::<volcano::Queue>(QUEUE);
}

#[test]
fn minimal_queue_defaults_weight_and_keeps_unknown_state() {
    let queue: volcano::Queue = decode(
        "apiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\n\
         metadata: {name: default}\nspec: {}\nstatus: {state: Draining}\n",
    );
    assert_eq!(queue.spec.weight, 1);
    assert_eq!(queue.spec.reclaimable, None);
    assert_eq!(
        queue.status.unwrap().state,
        Some(volcano::QueueState::Other("Draining".into()))
    );
}

//! Annotation and label keys Caldera reads or writes.
//!
//! Kept in one place so a typo in a key is a compile error rather than a gang that silently never
//! forms. Keys owned by other projects are spelled exactly as they set them; keys under
//! `caldera.dev` are ours.

/// Pod annotation linking a pod to its Volcano `PodGroup` (same namespace). Set by every Volcano
/// integration (Volcano Job, KubeRay, Kubeflow, Spark); the only link Volcano itself honours.
pub const GROUP_NAME: &str = "scheduling.k8s.io/group-name";

/// Pod annotation (label as fallback) naming the pod's task role; the key of `minTaskMember`.
/// Set by Volcano Job (task name), KubeRay (Ray group name) and Kubeflow (replica type).
pub const TASK_SPEC: &str = "volcano.sh/task-spec";

/// Pod annotation with an integer that overrides `spec.priority` when ordering a job's own pods.
/// Set by users or Volcano Job.
pub const TASK_PRIORITY: &str = "volcano.sh/task-priority";

/// Pod or PodGroup annotation or label, `"true"`/`"false"`, default true: whether the pod may be
/// evicted by preempt or reclaim. Set by users, copied by Volcano Job.
pub const PREEMPTABLE: &str = "volcano.sh/preemptable";

/// Pod label linking a pod to its scheduler-plugins coscheduling `PodGroup` (same namespace).
/// Set by KubeRay's and Kubeflow's scheduler-plugins backends.
pub const COSCHEDULING_POD_GROUP: &str = "scheduling.x-k8s.io/pod-group";

/// Pod annotation naming the queue for the `PodGroup` Volcano's podgroup controller creates for
/// a bare pod; also read by Kubeflow Trainer. Set by users.
pub const QUEUE_NAME: &str = "scheduling.volcano.sh/queue-name";

/// PodGroup annotation with a Go duration (e.g. `"1h"`): the job's SLA waiting time, after which
/// the sla plugin prioritises it. Set by users.
pub const SLA_WAITING_TIME: &str = "volcano.sh/sla-waiting-time";

/// PodGroup annotation naming a node label key (e.g. `topology.kubernetes.io/zone`): all members
/// must land on nodes sharing one value of it. Set by users; Caldera's stand-in for HyperNodes.
pub const TOPOLOGY_KEY: &str = "caldera.dev/topology-key";

/// PodGroup or pod annotation with the job's expected run time, a duration such as `"2h"`.
/// Set by users or integrations; feeds backfill and start-time estimates.
pub const EXPECTED_RUNTIME: &str = "caldera.dev/expected-runtime";

/// Queue annotation with a duration: the expected run time of the queue's pods that carry no
/// `caldera.dev/expected-runtime` of their own (nor on their PodGroup). Set by cluster admins.
pub const DEFAULT_EXPECTED_RUNTIME: &str = "caldera.dev/default-expected-runtime";

/// PodGroup annotation with an RFC 3339 time: when Caldera expects the pending gang to start.
/// Written by Caldera for users; never read back as input.
pub const ESTIMATED_START: &str = "caldera.dev/estimated-start";

/// PodGroup annotation with an RFC 3339 time: when Caldera last evicted pods of the gang for
/// another job (preempt or reclaim). Written by Caldera and read back, so the preemption
/// cool-down survives restarts and leader changes.
pub const PREEMPTED_AT: &str = "caldera.dev/preempted-at";

/// PodGroup annotation, `namespace/name` of the job the gang was last evicted for. Written by
/// Caldera with [`PREEMPTED_AT`] and read back: a job never evicts the job that evicted it.
pub const PREEMPTED_BY: &str = "caldera.dev/preempted-by";

/// Pod or PodGroup annotation: the simulated time at which the simulator submits the object.
/// Set by the simulator's trace loader; ignored outside simulation.
pub const SIM_SUBMIT_AT: &str = "simulation.caldera.dev/submit-at";

/// Pod annotation: how long the simulator lets the pod run after binding before completing it.
/// Set by the simulator's trace loader; ignored outside simulation.
pub const SIM_RUNTIME: &str = "simulation.caldera.dev/runtime";

/// Node label with the GPU model (e.g. `NVIDIA-A100-SXM4-80GB`, with `-MIG-<profile>` under the
/// single MIG strategy). Set by NVIDIA GPU Feature Discovery.
pub const GPU_PRODUCT: &str = "nvidia.com/gpu.product";

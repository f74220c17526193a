//! The cluster as one cycle sees it, and the builder that assembles it from API records.
//!
//! ```text
//!  Kubernetes objects ──convert──▶ records ──SnapshotBuilder::build──▶ Snapshot ──▶ Session
//!  (Pods, Nodes, 3 PodGroup APIs,   (NodeRecord, PodRecord,            ids, node usage,
//!   Queues, PriorityClasses)          GroupRecord, ...)                 equivalence classes
//! ```
//! The builder sorts everything by name before assigning ids, so the same objects always give the
//! same snapshot, whatever order they arrived in.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::model::{
    ClassId, Disruption, JobId, JobInfo, JobPhase, JobSource, Labels, Millis, NodeId, NodeInfo, Preempted, QueueId,
    QueueInfo, Taint, TaskId, TaskInfo, TaskSpec, TaskStatus,
};
use crate::resource::{ResourceNames, Resources};

/// Name of the queue that jobs without a queue go to.
pub const DEFAULT_QUEUE: &str = "default";
/// Name of the root of the queue hierarchy.
pub const ROOT_QUEUE: &str = "root";
/// The node label Kubernetes sets to the node name; the topology key of per-node (anti-)affinity.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// Time between cycles assumed when the driver does not say (the runtime's and the simulator's
/// default period).
pub const DEFAULT_PERIOD: Millis = 1000;

/// What makes two tasks equivalent: their constraints, and their namespace and labels when those
/// matter. Specs and label sets are interned while building, so their addresses stand for their
/// contents and the key hashes in constant time.
type ClassKey = (usize, Option<(String, usize)>);

/// An equivalence class of tasks.
#[derive(Clone, Debug)]
pub struct ClassInfo {
    /// The shared constraints.
    pub spec: Arc<TaskSpec>,
    /// Namespace and labels, when labels matter for placement (pod anti-affinity exists in the
    /// cluster); then they are part of the class key.
    pub labels: Option<(String, Arc<Labels>)>,
    /// Whether placing a pod on one node can change feasibility on another (required pod
    /// affinity, or anti-affinity wider than one node): such classes are searched in full for
    /// every pod.
    pub topology_sensitive: bool,
}

/// Everything one scheduling cycle knows.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The cycle's time.
    pub now: Millis,
    /// Time until the next cycle: a pod past its expected end, or one being deleted, is expected
    /// to be gone by then.
    pub period: Millis,
    /// Whether this cycle makes start estimates for waiting jobs (the driver decides, by the
    /// policy's `estimate-interval`, see [`crate::StartPolicy::estimates_due`]).
    pub estimates_due: bool,
    /// Resource name table for every [`Resources`] in the snapshot.
    pub resources: ResourceNames,
    /// Nodes, sorted by name.
    pub nodes: Vec<NodeInfo>,
    /// Jobs, sorted by namespace, name, source.
    pub jobs: Vec<JobInfo>,
    /// Tasks, grouped by job in job order, sorted by name within a job.
    pub tasks: Vec<TaskInfo>,
    /// Queues, sorted by name; `root` and `default` always exist.
    pub queues: Vec<QueueInfo>,
    /// Equivalence classes.
    pub classes: Vec<ClassInfo>,
    /// Sum of the allocatable resources of ready nodes.
    pub total: Resources,
    /// Problems found while building (for logs and the simulator's report).
    pub warnings: Vec<String>,
}

impl Snapshot {
    /// The node with `id`.
    #[inline]
    pub fn node(&self, id: NodeId) -> &NodeInfo {
        &self.nodes[id.idx()]
    }
    /// The task with `id`.
    #[inline]
    pub fn task(&self, id: TaskId) -> &TaskInfo {
        &self.tasks[id.idx()]
    }
    /// The job with `id`.
    #[inline]
    pub fn job(&self, id: JobId) -> &JobInfo {
        &self.jobs[id.idx()]
    }
    /// The queue with `id`.
    #[inline]
    pub fn queue(&self, id: QueueId) -> &QueueInfo {
        &self.queues[id.idx()]
    }
    /// The queue named `name`.
    pub fn queue_by_name(&self, name: &str) -> Option<QueueId> {
        self.queues
            .binary_search_by(|q| q.name.as_str().cmp(name))
            .ok()
            .map(QueueId::from_idx)
    }
    /// The node named `name`.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
            .map(NodeId::from_idx)
    }
    /// Node ids in order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len()).map(NodeId::from_idx)
    }
    /// Job ids in order.
    pub fn job_ids(&self) -> impl Iterator<Item = JobId> + use<> {
        (0..self.jobs.len()).map(JobId::from_idx)
    }
    /// Queue ids in order.
    pub fn queue_ids(&self) -> impl Iterator<Item = QueueId> + use<> {
        (0..self.queues.len()).map(QueueId::from_idx)
    }
    /// Number of the job's tasks in a ready status.
    pub fn ready_count(&self, job: JobId) -> u32 {
        self.job(job).ready
    }
    /// Number of the job's tasks still waiting for a node.
    pub fn pending_count(&self, job: JobId) -> u32 {
        count(
            self.job(job)
                .tasks
                .iter()
                .filter(|t| self.task(**t).status == TaskStatus::Pending),
        )
    }
}

fn count<I: Iterator>(it: I) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

/// A node as read from the API.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeRecord {
    /// Name.
    pub name: String,
    /// Labels (shared with every snapshot's [`NodeInfo`]).
    pub labels: Arc<Labels>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// Cordoned.
    pub unschedulable: bool,
    /// Ready condition.
    pub ready: bool,
    /// Allocatable resources.
    pub allocatable: Resources,
    /// Images on the node: every name with the image's size in bytes (shared with every
    /// snapshot's [`NodeInfo`]).
    pub images: Arc<[(String, i64)]>,
}

/// A PriorityClass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriorityClassRecord {
    /// Name.
    pub name: String,
    /// Priority value.
    pub value: i32,
    /// `globalDefault`.
    pub global_default: bool,
    /// `preemptionPolicy: Never`.
    pub never_preempts: bool,
}

/// Which PodGroup a pod names, per API (all in the pod's namespace).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupRef {
    /// Annotation `scheduling.k8s.io/group-name`.
    Volcano(String),
    /// Label `scheduling.x-k8s.io/pod-group`.
    Coscheduling(String),
    /// `spec.schedulingGroup.podGroupName`.
    Native(String),
}

impl GroupRef {
    fn source(&self) -> JobSource {
        match self {
            GroupRef::Volcano(_) => JobSource::Volcano,
            GroupRef::Coscheduling(_) => JobSource::Coscheduling,
            GroupRef::Native(_) => JobSource::Native,
        }
    }
    fn name(&self) -> &str {
        match self {
            GroupRef::Volcano(n) | GroupRef::Coscheduling(n) | GroupRef::Native(n) => n,
        }
    }
}

/// Pod phase as the API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PodPhase {
    /// Not running yet.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished with an error.
    Failed,
}

/// A pod as read from the API.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRecord {
    /// UID.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// The PodGroup it joins, if any.
    pub group: Option<GroupRef>,
    /// Task role.
    pub role: Option<String>,
    /// `spec.priority`, when admission has set it.
    pub priority: Option<i32>,
    /// `spec.priorityClassName`.
    pub priority_class: Option<String>,
    /// `volcano.sh/task-priority`, which overrides the pod priority for task order.
    pub task_priority: Option<i32>,
    /// Creation time.
    pub created: Millis,
    /// When it was bound or started.
    pub started: Option<Millis>,
    /// Phase.
    pub phase: PodPhase,
    /// The node it is bound to.
    pub node_name: Option<String>,
    /// Whether it is being deleted.
    pub deleting: bool,
    /// Scheduling constraints. Shared: a driver that caches pods gives equal specs one
    /// allocation when it converts them, so assembling a snapshot finds them equal by address
    /// instead of comparing them field by field (real pods all carry admission's tolerations).
    pub spec: Arc<TaskSpec>,
    /// `volcano.sh/preemptable` (default true).
    pub preemptable: Option<bool>,
    /// `spec.preemptionPolicy: Never`.
    pub never_preempts: bool,
    /// Whether its `schedulerName` is one of ours.
    pub ours: bool,
    /// `caldera.dev/expected-runtime`.
    pub expected_runtime: Option<Millis>,
    /// `status.nominatedNodeName` (or a nomination the driver made and the API has not shown yet).
    pub nominated_node: Option<String>,
}

/// A PodGroup of any API, already validated by the converter.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRecord {
    /// The API.
    pub source: JobSource,
    /// UID.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Queue name (empty means `default`).
    pub queue: String,
    /// Gang size.
    pub min_member: u32,
    /// Per-role minimums.
    pub min_task_member: BTreeMap<String, u32>,
    /// Admission minimum.
    pub min_resources: Option<Resources>,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
    /// Explicit priority (native PodGroups).
    pub priority: Option<i32>,
    /// Creation time.
    pub created: Millis,
    /// Phase as last written.
    pub phase: JobPhase,
    /// `volcano.sh/preemptable` on the group (default true).
    pub preemptable: bool,
    /// Topology key constraint.
    pub topology_key: Option<String>,
    /// Problem found while converting (reason, message): the job is reported, not scheduled.
    pub problem: Option<(String, String)>,
    /// The PodGroup annotations plugins read (see [`PLUGIN_ANNOTATIONS`]).
    pub annotations: Labels,
    /// `caldera.dev/expected-runtime` on the group: the default for its pods.
    pub expected_runtime: Option<Millis>,
    /// `spec.preemptionPolicy: Never` (native PodGroups).
    pub never_preempts: bool,
    /// `spec.disruptionMode` (native PodGroups; the other APIs are [`Disruption::Gang`]).
    pub disruption: Disruption,
    /// `caldera.dev/preempted-at` and `caldera.dev/preempted-by`.
    pub preempted: Option<Preempted>,
    /// The reservation the group held after the driver's previous cycle (the driver remembers
    /// it; it is not an API field).
    pub reserved: Option<ReservationRecord>,
}

/// A reservation as a driver remembers it between cycles: when, until when, and how much on
/// which node (by name, since ids do not outlive a snapshot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRecord {
    /// Start.
    pub start: Millis,
    /// Expected end.
    pub end: Millis,
    /// Amount per node name.
    pub nodes: Vec<(String, Resources)>,
}

impl ReservationRecord {
    /// The record of `slot` in snapshot `s`.
    pub fn of(s: &Snapshot, slot: &crate::timeline::Slot) -> Self {
        ReservationRecord {
            start: slot.start,
            end: slot.end,
            nodes: slot
                .nodes
                .iter()
                .map(|(n, r)| (s.node(*n).name.clone(), r.clone()))
                .collect(),
        }
    }
}

/// PodGroup annotations that plugins read: `sla` (`sla-waiting-time`, also with the
/// `volcano.sh/` prefix) and `task-topology` (`volcano.sh/task-topology-*`).
pub const PLUGIN_ANNOTATIONS: &[&str] = &[
    "sla-waiting-time",
    "volcano.sh/sla-waiting-time",
    TASK_TOPOLOGY_AFFINITY,
    TASK_TOPOLOGY_ANTI_AFFINITY,
    TASK_TOPOLOGY_ORDER,
];
/// Roles of one job that prefer to share nodes (`ps,worker;chief,evaluator`).
pub const TASK_TOPOLOGY_AFFINITY: &str = "volcano.sh/task-topology-affinity";
/// Roles of one job that prefer different nodes.
pub const TASK_TOPOLOGY_ANTI_AFFINITY: &str = "volcano.sh/task-topology-anti-affinity";
/// Order in which a job's roles are placed (`ps,worker`).
pub const TASK_TOPOLOGY_ORDER: &str = "volcano.sh/task-topology-task-order";

/// Whether the job carries task-topology annotations (its pods' scores then depend on where its
/// other pods are, so their classes are searched in full).
pub fn has_task_topology(annotations: &Labels) -> bool {
    [TASK_TOPOLOGY_AFFINITY, TASK_TOPOLOGY_ANTI_AFFINITY]
        .iter()
        .any(|k| annotations.contains_key(*k))
}

/// Assembles a [`Snapshot`] from records in any order.
///
/// Pods, by far the most numerous records, may be lent rather than given
/// ([`SnapshotBuilder::pod_ref`]): a driver that keeps its records between cycles then pays for
/// no copy of a record, only for the fields the snapshot keeps.
#[derive(Debug, Default)]
pub struct SnapshotBuilder<'a> {
    /// The resource name table records' [`Resources`] were interned in.
    pub resources: ResourceNames,
    nodes: Vec<NodeRecord>,
    pods: Vec<Held<'a, PodRecord>>,
    groups: Vec<GroupRecord>,
    queues: Vec<QueueInfo>,
    priority_classes: Vec<PriorityClassRecord>,
    warnings: Vec<String>,
    period: Option<Millis>,
    skip_estimates: bool,
}

/// A record given to the builder or lent to it; boxed when given, so sorting moves no record.
#[derive(Debug)]
enum Held<'a, T> {
    Given(Box<T>),
    Lent(&'a T),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Held::Given(b) => b,
            Held::Lent(r) => r,
        }
    }
}

impl<'a> SnapshotBuilder<'a> {
    /// A builder with an empty resource table.
    pub fn new() -> Self {
        Self::default()
    }
    /// A builder that continues an existing resource table (so ids stay stable across cycles).
    pub fn with_resources(resources: ResourceNames) -> Self {
        SnapshotBuilder {
            resources,
            ..Self::default()
        }
    }
    /// Adds a node.
    pub fn node(&mut self, n: NodeRecord) -> &mut Self {
        self.nodes.push(n);
        self
    }
    /// Adds a pod.
    pub fn pod(&mut self, p: PodRecord) -> &mut Self {
        self.pods.push(Held::Given(Box::new(p)));
        self
    }
    /// Adds a pod the caller keeps (read while building, never copied whole).
    pub fn pod_ref(&mut self, p: &'a PodRecord) -> &mut Self {
        self.pods.push(Held::Lent(p));
        self
    }
    /// Adds a PodGroup.
    pub fn group(&mut self, g: GroupRecord) -> &mut Self {
        self.groups.push(g);
        self
    }
    /// Adds a queue.
    pub fn queue(&mut self, q: QueueInfo) -> &mut Self {
        self.queues.push(q);
        self
    }
    /// Adds a PriorityClass.
    pub fn priority_class(&mut self, pc: PriorityClassRecord) -> &mut Self {
        self.priority_classes.push(pc);
        self
    }
    /// Records a problem to report with the snapshot.
    pub fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }
    /// Sets the time between cycles (default [`DEFAULT_PERIOD`]).
    pub fn period(&mut self, period: Millis) -> &mut Self {
        self.period = Some(period.max(1));
        self
    }

    /// Says that this cycle makes no start estimates (they are made by default).
    pub fn skip_estimates(&mut self, skip: bool) -> &mut Self {
        self.skip_estimates = skip;
        self
    }

    /// Builds the snapshot for time `now`.
    pub fn build(self, now: Millis) -> Snapshot {
        let SnapshotBuilder {
            resources,
            mut nodes,
            mut pods,
            mut groups,
            mut queues,
            priority_classes,
            mut warnings,
            period,
            skip_estimates,
        } = self;

        // Queues: root and default always exist; duplicates keep the first.
        for name in [ROOT_QUEUE, DEFAULT_QUEUE] {
            if !queues.iter().any(|q| q.name == name) {
                let mut q = QueueInfo::new(name);
                if name == ROOT_QUEUE {
                    q.reclaimable = false;
                }
                queues.push(q);
            }
        }
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        queues.dedup_by(|a, b| a.name == b.name);
        let queue_ids: HashMap<String, QueueId> = queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.name.clone(), QueueId::from_idx(i)))
            .collect();
        let default_queue = queue_ids.get(DEFAULT_QUEUE).copied().unwrap_or(QueueId(0));

        sort_unique(&mut nodes, |a, b| a.name.cmp(&b.name));
        let mut nodes: Vec<NodeInfo> = nodes
            .into_iter()
            .map(|n| NodeInfo {
                name: n.name,
                labels: n.labels,
                taints: n.taints,
                unschedulable: n.unschedulable,
                ready: n.ready,
                allocatable: n.allocatable,
                used: Resources::new(),
                releasing: Resources::new(),
                pipelined: Resources::new(),
                nominated: Resources::new(),
                tasks: Vec::new(),
                used_ports: Vec::new(),
                generation: 0,
                images: n.images,
            })
            .collect();
        // Borrowed names: the map is done with before node accounting changes any node.
        let node_ids: HashMap<&str, NodeId> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), NodeId::from_idx(i)))
            .collect();

        let pc_values: HashMap<&str, &PriorityClassRecord> =
            priority_classes.iter().map(|pc| (pc.name.as_str(), pc)).collect();
        let default_priority = priority_classes
            .iter()
            .filter(|pc| pc.global_default)
            .map(|pc| pc.value)
            .max()
            .unwrap_or(0);
        let resolve_priority = |explicit: Option<i32>, class: &Option<String>| -> i32 {
            explicit
                .or_else(|| class.as_deref().and_then(|c| pc_values.get(c)).map(|pc| pc.value))
                .unwrap_or(default_priority)
        };

        // Jobs from PodGroups, then placeholders for pods whose group is missing, standalone pods
        // and one job holding every foreign pod.
        sort_unique(&mut groups, |a, b| {
            (&a.namespace, &a.name, a.source).cmp(&(&b.namespace, &b.name, b.source))
        });
        // Room for every job: one per PodGroup, one per pod of ours without a group, and the
        // foreign pods' job (growing a vector of large records moves them all, more than once).
        let lone_pods = pods.iter().filter(|p| p.ours && p.group.is_none()).count();
        let mut jobs: Vec<JobInfo> = Vec::with_capacity(groups.len() + lone_pods + 1);
        for g in groups {
            let (queue, mut problem) = match queue_ids.get(if g.queue.is_empty() { DEFAULT_QUEUE } else { &g.queue }) {
                Some(q) => (*q, None),
                None => (
                    default_queue,
                    Some((
                        "QueueNotFound".to_string(),
                        format!("queue {:?} does not exist", g.queue),
                    )),
                ),
            };
            if g.problem.is_some() {
                problem = g.problem.clone();
            }
            let class_never_preempts = g
                .priority_class
                .as_deref()
                .and_then(|c| pc_values.get(c))
                .is_some_and(|pc| pc.never_preempts);
            jobs.push(JobInfo {
                uid: g.uid,
                namespace: g.namespace,
                name: g.name,
                source: g.source,
                queue,
                queue_name: if g.queue.is_empty() {
                    DEFAULT_QUEUE.to_string()
                } else {
                    g.queue
                },
                min_member: g.min_member,
                min_task_member: g.min_task_member,
                min_resources: g.min_resources,
                priority: resolve_priority(g.priority, &g.priority_class),
                created: g.created,
                phase: g.phase,
                tasks: Vec::new(),
                preemptable: g.preemptable,
                never_preempts: g.never_preempts || class_never_preempts,
                disruption: g.disruption,
                preempted: g.preempted,
                reserved: g.reserved.and_then(|r| {
                    let nodes = r
                        .nodes
                        .into_iter()
                        .map(|(name, amount)| node_ids.get(name.as_str()).map(|n| (*n, amount)))
                        .collect::<Option<Vec<_>>>()?;
                    Some(crate::timeline::Slot {
                        start: r.start,
                        end: r.end,
                        nodes,
                    })
                }),
                topology_key: g.topology_key,
                expected_runtime: g.expected_runtime,
                problem,
                annotations: g.annotations,
                allocated: Resources::new(),
                ready: 0,
                pipelined: 0,
            });
        }
        let mut job_index: HashMap<(JobSource, String, String), usize> = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| ((j.source, j.namespace.clone(), j.name.clone()), i))
            .collect();

        sort_unique(&mut pods, |a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        // Pods of other schedulers matter only while they hold a node.
        pods.retain(|p| {
            p.ours || (p.node_name.is_some() && !matches!(p.phase, PodPhase::Succeeded | PodPhase::Failed))
        });

        let mut pod_job: Vec<usize> = Vec::with_capacity(pods.len());
        // Pods come sorted by name, so a gang's pods mostly follow one another: the job of the
        // previous pod is tried before building a key to look up.
        let mut previous: Option<usize> = None;
        for p in &pods {
            if let Some(i) = previous
                && joins(&jobs[i], p)
            {
                pod_job.push(i);
                continue;
            }
            // A pod of ours without a PodGroup is a job of its own, and pods are unique by name:
            // its job is new, so no key is built or looked up (most pods of a large cluster of
            // plain pods are such).
            let key = match (&p.group, p.ours) {
                (_, false) => Some((JobSource::Foreign, String::new(), "foreign-pods".to_string())),
                (Some(g), true) => Some((g.source(), p.namespace.clone(), g.name().to_string())),
                (None, true) => None,
            };
            let idx = match key.as_ref().and_then(|k| job_index.get(k)) {
                Some(i) => *i,
                None => {
                    let (source, namespace, name) = key
                        .clone()
                        .unwrap_or_else(|| (JobSource::Standalone, p.namespace.clone(), p.name.clone()));
                    let problem = match &p.group {
                        Some(g) if p.ours => Some((
                            "PodGroupNotFound".to_string(),
                            format!(
                                "pod group {}/{} ({}) does not exist yet",
                                p.namespace,
                                g.name(),
                                api_name(source)
                            ),
                        )),
                        _ => None,
                    };
                    jobs.push(JobInfo {
                        uid: if source == JobSource::Standalone {
                            p.uid.clone()
                        } else {
                            String::new()
                        },
                        namespace,
                        name,
                        source,
                        queue: default_queue,
                        queue_name: DEFAULT_QUEUE.to_string(),
                        min_member: 1,
                        min_task_member: BTreeMap::new(),
                        min_resources: None,
                        priority: resolve_priority(p.priority, &p.priority_class),
                        created: p.created,
                        phase: JobPhase::Pending,
                        tasks: Vec::new(),
                        preemptable: true,
                        never_preempts: false,
                        disruption: Disruption::Gang,
                        preempted: None,
                        reserved: None,
                        topology_key: None,
                        expected_runtime: None,
                        problem,
                        annotations: Labels::new(),
                        allocated: Resources::new(),
                        ready: 0,
                        pipelined: 0,
                    });
                    if let Some(key) = key {
                        job_index.insert(key, jobs.len() - 1);
                    }
                    jobs.len() - 1
                }
            };
            pod_job.push(idx);
            previous = Some(idx);
        }

        // Deterministic job ids.
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&jobs[a], &jobs[b]);
            (&x.namespace, &x.name, x.source).cmp(&(&y.namespace, &y.name, y.source))
        });
        let mut new_id = vec![0usize; jobs.len()];
        for (new, &old) in order.iter().enumerate() {
            new_id[old] = new;
        }
        // Jobs made in pod order mostly come out in id order already (a cluster of plain pods
        // always does): they are moved only when they must be.
        let mut jobs: Vec<JobInfo> = if order.iter().enumerate().all(|(new, &old)| new == old) {
            jobs
        } else {
            let mut slots: Vec<Option<JobInfo>> = jobs.into_iter().map(Some).collect();
            order.iter().filter_map(|&old| slots[old].take()).collect()
        };

        // Labels matter for placement only if some pod carries a required anti-affinity term.
        let anti_affinity_anywhere = pods.iter().any(|p| !p.spec.pod_anti_affinity.is_empty());
        let topology_jobs: Vec<bool> = jobs.iter().map(|j| has_task_topology(&j.annotations)).collect();
        let wide_anti_affinity = pods.iter().any(|p| {
            p.spec
                .pod_anti_affinity
                .iter()
                .any(|t| t.topology_key != HOSTNAME_LABEL)
        });

        let mut specs: Interner<TaskSpec> = Interner::default();
        let mut label_sets: Interner<Labels> = Interner::default();
        let mut class_ids: HashMap<ClassKey, ClassId> = HashMap::new();
        let mut classes: Vec<ClassInfo> = Vec::new();

        // Tasks grouped by job (pods are already sorted by name).
        let mut by_job: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
        for (pi, &old_job) in pod_job.iter().enumerate() {
            by_job[new_id[old_job]].push(pi);
        }
        let mut tasks: Vec<TaskInfo> = Vec::with_capacity(pods.len());
        for (ji, members) in by_job.iter().enumerate() {
            for &pi in members {
                let p: &PodRecord = &pods[pi];
                let spec = specs.intern_shared(&p.spec);
                let labels = label_sets.intern(&p.labels);
                // Labels decide placement when some pod repels by label; the namespace and labels
                // also matter to the pod's own affinity terms (an empty namespace list means its
                // own namespace).
                let own_terms = spec.has_pod_terms();
                let class_key_labels =
                    (anti_affinity_anywhere || own_terms).then(|| (p.namespace.clone(), labels.clone()));
                let key = (
                    Arc::as_ptr(&spec) as usize,
                    class_key_labels
                        .as_ref()
                        .map(|(ns, l)| (ns.clone(), Arc::as_ptr(l) as usize)),
                );
                let class = *class_ids.entry(key).or_insert_with(|| {
                    // Required affinity is cross-node even by hostname: whether a matching pod
                    // exists anywhere decides where the first of a self-affine gang may go.
                    let cross_node = spec.spans_nodes(HOSTNAME_LABEL);
                    classes.push(ClassInfo {
                        spec: spec.clone(),
                        labels: class_key_labels,
                        topology_sensitive: cross_node || wide_anti_affinity,
                    });
                    ClassId::from_idx(classes.len() - 1)
                });
                // A job with task-topology annotations scores nodes by where its other roles
                // are: that depends on the job, which the class does not know.
                if topology_jobs[ji] {
                    classes[class.idx()].topology_sensitive = true;
                }
                let node = p.node_name.as_deref().and_then(|n| node_ids.get(n).copied());
                if p.node_name.is_some() && node.is_none() && p.ours {
                    warnings.push(format!(
                        "pod {}/{} is bound to node {:?}, which is not in the cluster",
                        p.namespace,
                        p.name,
                        p.node_name.as_deref().unwrap_or_default()
                    ));
                }
                let status = match (p.phase, p.node_name.is_some(), p.deleting) {
                    (PodPhase::Succeeded, ..) => TaskStatus::Succeeded,
                    (PodPhase::Failed, ..) => TaskStatus::Failed,
                    (_, true, true) => TaskStatus::Releasing,
                    (PodPhase::Running, true, false) => TaskStatus::Running,
                    (_, true, false) => TaskStatus::Bound,
                    (_, false, _) => TaskStatus::Pending,
                };
                let pc = p.priority_class.as_deref().and_then(|c| pc_values.get(c));
                let priority = p
                    .task_priority
                    .unwrap_or_else(|| resolve_priority(p.priority, &p.priority_class));
                let critical = p.namespace == "kube-system"
                    || matches!(
                        p.priority_class.as_deref(),
                        Some("system-cluster-critical" | "system-node-critical")
                    );
                let job_preemptable = jobs[ji].preemptable;
                let expected_runtime = p
                    .expected_runtime
                    .or(jobs[ji].expected_runtime)
                    .or(queues[jobs[ji].queue.idx()].default_expected_runtime);
                let nominated = match (status, p.ours) {
                    (TaskStatus::Pending, true) => p.nominated_node.as_deref().and_then(|n| node_ids.get(n).copied()),
                    _ => None,
                };
                let id = TaskId::from_idx(tasks.len());
                jobs[ji].tasks.push(id);
                tasks.push(TaskInfo {
                    uid: p.uid.clone(),
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    job: JobId::from_idx(ji),
                    role: p.role.clone(),
                    priority,
                    created: p.created,
                    started: p.started,
                    status,
                    node: if status.is_terminal() { None } else { node },
                    spec,
                    class,
                    labels,
                    preemptable: p.preemptable.unwrap_or(job_preemptable),
                    never_preempts: p.never_preempts || pc.is_some_and(|pc| pc.never_preempts),
                    critical,
                    expected_runtime,
                    nominated,
                });
            }
        }

        // Node, job and queue accounting.
        for t in &tasks {
            if t.status.is_ready() {
                jobs[t.job.idx()].ready += 1;
            }
        }
        for t in &tasks {
            if let Some(n) = t.nominated {
                nodes[n.idx()].nominated.add(&t.spec.request);
            }
        }
        for (ti, t) in tasks.iter().enumerate() {
            let Some(n) = t.node else { continue };
            if !t.status.occupies_node() {
                continue;
            }
            let node = &mut nodes[n.idx()];
            node.used.add(&t.spec.request);
            if t.status == TaskStatus::Releasing {
                node.releasing.add(&t.spec.request);
            }
            node.tasks.push(TaskId::from_idx(ti));
            node.used_ports.extend(t.spec.host_ports.iter().cloned());
            // A releasing pod still holds its node but no longer counts toward its job's and
            // queue's usage, as in Volcano: its queue may already plan with that room.
            if t.status == TaskStatus::Releasing {
                continue;
            }
            let job = &mut jobs[t.job.idx()];
            job.allocated.add(&t.spec.request);
            if job.source != JobSource::Foreign {
                queues[job.queue.idx()].allocated.add(&t.spec.request);
            }
        }

        let mut total = Resources::new();
        for n in nodes.iter().filter(|n| n.ready) {
            total.add(&n.allocatable);
        }

        Snapshot {
            now,
            period: period.unwrap_or(DEFAULT_PERIOD),
            estimates_due: !skip_estimates,
            resources,
            nodes,
            jobs,
            tasks,
            queues,
            classes,
            total,
            warnings,
        }
    }
}

/// Sorts records by `cmp` and drops all but the first of equal ones. A driver that keeps its
/// records in an ordered map hands them over already strictly in order, which one pass confirms.
/// Large records are sorted by index and then moved once each, since a sort by value moves every
/// record many times over.
fn sort_unique<T>(records: &mut Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    use std::cmp::Ordering::Less;
    if records.is_sorted_by(|a, b| cmp(a, b) == Less) {
        return;
    }
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| cmp(&records[a], &records[b]));
    order.dedup_by(|a, b| cmp(&records[*a], &records[*b]).is_eq());
    let mut slots: Vec<Option<T>> = std::mem::take(records).into_iter().map(Some).collect();
    records.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// Whether pod `p` belongs to `job`, a job made from a PodGroup or a pod before it.
fn joins(job: &JobInfo, p: &PodRecord) -> bool {
    match (&p.group, p.ours) {
        (_, false) => job.source == JobSource::Foreign,
        (Some(g), true) => job.source == g.source() && job.namespace == p.namespace && job.name == g.name(),
        (None, true) => false,
    }
}

/// Shares equal values (pod specs, label sets) among the tasks of a snapshot. The value of the
/// previous call is compared first: pods sorted by name come in runs of equal specs, and
/// comparing is cheaper than hashing.
struct Interner<T> {
    known: HashMap<Arc<T>, ()>,
    last: Option<Arc<T>>,
    /// Values already shared by the caller, by address (each kept alive here): what each was
    /// found equal to.
    seen: HashMap<usize, (Arc<T>, Arc<T>)>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            known: HashMap::new(),
            last: None,
            seen: HashMap::new(),
        }
    }
}

impl<T: Eq + std::hash::Hash + Clone> Interner<T> {
    fn intern(&mut self, value: &T) -> Arc<T> {
        if let Some(last) = &self.last
            && **last == *value
        {
            return last.clone();
        }
        let shared = match self.known.get_key_value(value) {
            Some((k, ())) => k.clone(),
            None => {
                let k = Arc::new(value.clone());
                self.known.insert(k.clone(), ());
                k
            }
        };
        self.last = Some(shared.clone());
        shared
    }

    /// [`Interner::intern`] for a value the caller already shares. A driver that interns what
    /// it caches hands over equal values as one allocation, so the address decides without
    /// looking at the contents, and a value met again under an address seen before costs one
    /// lookup by address. Equal values under different addresses still end up as one.
    fn intern_shared(&mut self, value: &Arc<T>) -> Arc<T> {
        if let Some(last) = &self.last
            && Arc::ptr_eq(last, value)
        {
            return last.clone();
        }
        let address = Arc::as_ptr(value) as usize;
        if let Some((_, found)) = self.seen.get(&address) {
            let found = found.clone();
            self.last = Some(found.clone());
            return found;
        }
        let found = match &self.last {
            Some(last) if **last == **value => last.clone(),
            _ => match self.known.get_key_value(&**value) {
                Some((k, ())) => k.clone(),
                None => {
                    self.known.insert(value.clone(), ());
                    value.clone()
                }
            },
        };
        self.last = Some(found.clone());
        // The entry keeps `value` alive, so no other value takes its address meanwhile.
        self.seen.insert(address, (value.clone(), found.clone()));
        found
    }
}

fn api_name(source: JobSource) -> &'static str {
    match source {
        JobSource::Volcano => "scheduling.volcano.sh/v1beta1",
        JobSource::Coscheduling => "scheduling.x-k8s.io/v1alpha1",
        JobSource::Native => "scheduling.k8s.io/v1beta1",
        JobSource::Standalone | JobSource::Foreign => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_unique_sorts_and_keeps_the_first_of_equal_records() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_unique(&mut v, |x, y| x.0.cmp(&y.0));
        assert_eq!(v, vec![(1, 'b'), (2, 'd'), (3, 'a')]);
        // Already strictly in order: left as it is.
        let mut w = vec![(1, 'x'), (2, 'y')];
        sort_unique(&mut w, |x, y| x.0.cmp(&y.0));
        assert_eq!(w, vec![(1, 'x'), (2, 'y')]);
        // In order but with a duplicate: the first stays.
        let mut d = vec![(1, 'x'), (1, 'y'), (2, 'z')];
        sort_unique(&mut d, |x, y| x.0.cmp(&y.0));
        assert_eq!(d, vec![(1, 'x'), (2, 'z')]);
    }

    fn pod(name: &str, group: Option<&str>, cpu: i64) -> PodRecord {
        let mut spec = TaskSpec::default();
        spec.request.set(crate::resource::CPU, cpu);
        PodRecord {
            uid: format!("uid-{name}"),
            namespace: "ns".into(),
            name: name.into(),
            group: group.map(|g| GroupRef::Volcano(g.into())),
            ours: true,
            spec: Arc::new(spec),
            ..PodRecord::default()
        }
    }

    #[test]
    fn lent_pods_give_the_same_snapshot_as_given_ones_and_share_equal_specs() {
        let pods = vec![
            pod("b-1", Some("b"), 1000),
            pod("a", None, 500),
            pod("b-0", Some("b"), 1000),
            pod("c", None, 1000),
        ];
        let mut given = SnapshotBuilder::new();
        let mut lent = SnapshotBuilder::new();
        for p in &pods {
            given.pod(p.clone());
            lent.pod_ref(p);
        }
        let (g, l) = (given.build(0), lent.build(0));
        assert_eq!(format!("{:?}", g.tasks), format!("{:?}", l.tasks));
        assert_eq!(format!("{:?}", g.jobs), format!("{:?}", l.jobs));
        let names: Vec<&str> = l.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b-0", "b-1", "c"]);
        // The gang's two pods form one job; equal specs are one shared value and one class.
        assert_eq!(l.tasks[1].job, l.tasks[2].job);
        assert!(Arc::ptr_eq(&l.tasks[1].spec, &l.tasks[3].spec));
        assert_eq!(l.tasks[1].class, l.tasks[3].class);
        assert_ne!(l.tasks[0].class, l.tasks[1].class);
        assert_eq!(l.classes.len(), 2);
    }

    #[test]
    fn specs_shared_by_the_driver_give_the_same_classes_as_specs_copied_per_pod() {
        // Pod i has spec i % 3; interleaved, so no pod's spec equals the previous pod's.
        let specs: Vec<Arc<TaskSpec>> = (0..3).map(|i| pod("x", None, 100 * (i + 1)).spec).collect();
        let copied: Vec<PodRecord> = (0..12)
            .map(|i| pod(&format!("p-{i:02}"), None, 100 * (i % 3 + 1)))
            .collect();
        let shared: Vec<PodRecord> = copied
            .iter()
            .enumerate()
            .map(|(i, p)| PodRecord {
                spec: specs[i % 3].clone(),
                ..p.clone()
            })
            .collect();
        let build = |pods: &[PodRecord]| {
            let mut b = SnapshotBuilder::new();
            for p in pods {
                b.pod_ref(p);
            }
            b.build(0)
        };
        let (c, s) = (build(&copied), build(&shared));
        assert_eq!(format!("{:?}", c.tasks), format!("{:?}", s.tasks));
        assert_eq!((c.classes.len(), s.classes.len()), (3, 3));
        for (i, t) in s.tasks.iter().enumerate() {
            assert_eq!(t.class, s.tasks[i % 3].class, "pod {i} is in its spec's class");
            assert!(
                Arc::ptr_eq(&t.spec, &specs[i % 3]),
                "the driver's allocation is kept, not copied"
            );
        }
        // Equal specs in different allocations are still one class.
        let mut mixed = shared.clone();
        mixed[4].spec = Arc::new((*specs[1]).clone());
        let m = build(&mixed);
        assert_eq!(m.classes.len(), 3);
        assert_eq!(m.tasks[4].class, m.tasks[1].class);
    }
}

//! [`ClusterBuilder`]: a cluster described in a few lines, turned into a [`Snapshot`].
//!
//! ```
//! use caldera_framework::TaintEffect;
//! use caldera_testkit::ClusterBuilder;
//!
//! let mut c = ClusterBuilder::new();
//! c.node("cpu-1").cpu(32).mem_gi(128);
//! c.node("gpu-1").cpu(96).mem_gi(512).gpus(8).label("zone", "a").taint("gpu", "true", TaintEffect::NoSchedule);
//! c.mig_node("mig-1", "1g.10gb", 7);
//! c.queue("research").weight(3);
//! c.priority_class("high", 1000);
//! c.gang("ml", "train", "research", 2, 2, |pod| pod.cpu_m(1000).gpus(8).tolerate("gpu", "true"))
//!     .priority_class("high");
//! c.bound_pod("ml", "old", "cpu-1", |pod| pod.cpu(4));
//! let snap = c.build(0);
//! assert_eq!(snap.nodes.len(), 3);
//! assert_eq!(snap.tasks.len(), 3);
//! ```
//!
//! Records are kept as they were described; [`ClusterBuilder::build`] hands them to
//! [`SnapshotBuilder`] in that order and [`ClusterBuilder::build_shuffled`] in a seeded random one,
//! which must not change anything the engine decides.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use caldera_framework::outcome::Outcome;
use caldera_framework::resource::{CPU, MEMORY, PODS};
use caldera_framework::snapshot::{
    GroupRecord, GroupRef, HOSTNAME_LABEL, NodeRecord, PodPhase, PodRecord, PriorityClassRecord,
};
use caldera_framework::{
    HostPort, JobPhase, JobSource, Millis, NodeSelectorTerm, QueueInfo, QueueState, Requirement, ResourceNames,
    Resources, SelectorOp, Snapshot, SnapshotBuilder, Taint, TaintEffect, TaskSpec, Toleration, TolerationOp,
};

use crate::{GI, GPU, GPU_PRODUCT_LABEL, MI, mig};
use caldera_framework::rng::SplitMix64;

/// Pods a node takes by default (kubelet's default `maxPods`).
pub const DEFAULT_MAX_PODS: i64 = 110;

/// A cluster being described: nodes, queues, priority classes, PodGroups and pods.
#[derive(Clone, Debug, Default)]
pub struct ClusterBuilder {
    resources: ResourceNames,
    nodes: Vec<NodeRecord>,
    pods: Vec<PodRecord>,
    groups: Vec<GroupRecord>,
    queues: Vec<QueueInfo>,
    priority_classes: Vec<PriorityClassRecord>,
}

/// One record of any kind, for shuffled builds.
// A test-time builder: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Record {
    Node(NodeRecord),
    Pod(PodRecord),
    Group(GroupRecord),
    Queue(QueueInfo),
    PriorityClass(PriorityClassRecord),
}

impl ClusterBuilder {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// The resource name table every record's [`Resources`] is interned in.
    pub fn resources(&self) -> &ResourceNames {
        &self.resources
    }

    /// The id of resource `name` (interned if new).
    pub fn resource_id(&mut self, name: &str) -> caldera_framework::ResourceId {
        self.resources.intern(name)
    }

    /// A resource vector from `(name, value)` pairs (cpu in millicores, memory in bytes).
    pub fn resources_of(&mut self, pairs: &[(&str, i64)]) -> Resources {
        let mut r = Resources::new();
        for (name, v) in pairs {
            let id = self.resources.intern(name);
            r.set(id, *v);
        }
        r
    }

    /// Adds a ready, schedulable node with room for [`DEFAULT_MAX_PODS`] pods and nothing else;
    /// chain `.cpu(..)`, `.mem_gi(..)`, `.gpus(..)` and so on.
    pub fn node(&mut self, name: &str) -> NodeMut<'_> {
        let mut labels = BTreeMap::new();
        labels.insert(HOSTNAME_LABEL.to_string(), name.to_string());
        let mut allocatable = Resources::new();
        allocatable.set(PODS, DEFAULT_MAX_PODS);
        self.nodes.push(NodeRecord {
            name: name.to_string(),
            labels: labels.into(),
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
            allocatable,
            images: Arc::from([]),
        });
        let i = self.nodes.len() - 1;
        NodeMut { c: self, i }
    }

    /// Adds a node with 64 cores, 512 GiB and `count` MIG slices of `profile` (NVIDIA's mixed
    /// strategy: `nvidia.com/mig-<profile>`), labelled `nvidia.com/mig.strategy=mixed`.
    pub fn mig_node(&mut self, name: &str, profile: &str, count: i64) -> NodeMut<'_> {
        self.node(name)
            .cpu(64)
            .mem_gi(512)
            .mig(profile, count)
            .label("nvidia.com/mig.strategy", "mixed")
    }

    /// Adds a queue with Volcano's defaults (weight 1, open); chain `.weight(..)` and so on.
    pub fn queue(&mut self, name: &str) -> QueueMut<'_> {
        self.queues.push(QueueInfo::new(name));
        let i = self.queues.len() - 1;
        QueueMut { c: self, i }
    }

    /// Adds a PriorityClass.
    pub fn priority_class(&mut self, name: &str, value: i32) -> &mut Self {
        self.priority_classes.push(PriorityClassRecord {
            name: name.to_string(),
            value,
            global_default: false,
            never_preempts: false,
        });
        self
    }

    /// Adds a PriorityClass with `preemptionPolicy: Never`.
    pub fn never_preempting_priority_class(&mut self, name: &str, value: i32) -> &mut Self {
        self.priority_classes.push(PriorityClassRecord {
            name: name.to_string(),
            value,
            global_default: false,
            never_preempts: true,
        });
        self
    }

    /// Adds a PriorityClass with `globalDefault: true`.
    pub fn default_priority_class(&mut self, name: &str, value: i32) -> &mut Self {
        self.priority_classes.push(PriorityClassRecord {
            name: name.to_string(),
            value,
            global_default: true,
            never_preempts: false,
        });
        self
    }

    /// Adds a Volcano PodGroup `ns/name` in `queue` (phase Pending) and `n_pods` pods
    /// `name-0`, `name-1`, … that name it, each shaped by `pod`.
    pub fn gang(
        &mut self,
        ns: &str,
        name: &str,
        queue: &str,
        min_member: u32,
        n_pods: usize,
        pod: impl Fn(Pod) -> Pod,
    ) -> GangMut<'_> {
        self.gang_indexed(ns, name, queue, min_member, n_pods, |_, p| pod(p))
    }

    /// Like [`ClusterBuilder::gang`], with the pod's index passed to the shaping function (for
    /// roles and per-pod differences).
    pub fn gang_indexed(
        &mut self,
        ns: &str,
        name: &str,
        queue: &str,
        min_member: u32,
        n_pods: usize,
        pod: impl Fn(usize, Pod) -> Pod,
    ) -> GangMut<'_> {
        self.groups.push(GroupRecord {
            source: JobSource::Volcano,
            uid: format!("pg-{ns}-{name}"),
            namespace: ns.to_string(),
            name: name.to_string(),
            queue: queue.to_string(),
            min_member,
            min_task_member: BTreeMap::new(),
            min_resources: None,
            priority_class: None,
            priority: None,
            created: 0,
            phase: JobPhase::Pending,
            preemptable: true,
            topology_key: None,
            problem: None,
            expected_runtime: None,
            never_preempts: false,
            disruption: caldera_framework::Disruption::Gang,
            preempted: None,
            reserved: None,
            annotations: Default::default(),
        });
        let group = self.groups.len() - 1;
        let first = self.pods.len();
        for i in 0..n_pods {
            let p = pod(i, Pod::new(ns, &format!("{name}-{i}")).group(name));
            self.add_pod(p);
        }
        let pods = first..self.pods.len();
        GangMut { c: self, group, pods }
    }

    /// Adds a pod of ours with no PodGroup (a gang of one), shaped by `pod`.
    pub fn pod(&mut self, ns: &str, name: &str, pod: impl FnOnce(Pod) -> Pod) -> &mut Self {
        let p = pod(Pod::new(ns, name));
        self.add_pod(p);
        self
    }

    /// Adds a pod of ours already running on `node`, shaped by `pod`.
    pub fn bound_pod(&mut self, ns: &str, name: &str, node: &str, pod: impl FnOnce(Pod) -> Pod) -> &mut Self {
        let p = pod(Pod::new(ns, name).running_on(node));
        self.add_pod(p);
        self
    }

    /// Adds a pod described by a [`Pod`] builder.
    pub fn add_pod(&mut self, pod: Pod) -> &mut Self {
        let Pod { mut rec, req } = pod;
        let mut request = Resources::new();
        for (name, v) in &req {
            let id = self.resources.intern(name);
            request.set(id, *v);
        }
        request.set(PODS, 1);
        Arc::make_mut(&mut rec.spec).request = request;
        self.pods.push(rec);
        self
    }

    /// Adds a raw PodGroup record.
    pub fn add_group(&mut self, group: GroupRecord) -> &mut Self {
        self.groups.push(group);
        self
    }

    /// The nodes described so far.
    pub fn nodes(&self) -> &[NodeRecord] {
        &self.nodes
    }

    /// The pods described so far.
    pub fn pods(&self) -> &[PodRecord] {
        &self.pods
    }

    /// The PodGroups described so far.
    pub fn groups(&self) -> &[GroupRecord] {
        &self.groups
    }

    /// The queues described so far.
    pub fn queues(&self) -> &[QueueInfo] {
        &self.queues
    }

    /// Pods of ours that wait for a node.
    pub fn pending_pods(&self) -> usize {
        self.pods
            .iter()
            .filter(|p| p.ours && p.node_name.is_none() && p.phase == PodPhase::Pending)
            .count()
    }

    /// The snapshot at time `now`, with records handed over in the order they were described.
    pub fn build(&self, now: Millis) -> Snapshot {
        self.clone().into_snapshot(now)
    }

    /// Like [`ClusterBuilder::build`] without copying the records.
    pub fn into_snapshot(self, now: Millis) -> Snapshot {
        let mut b = SnapshotBuilder::with_resources(self.resources);
        for q in self.queues {
            b.queue(q);
        }
        for pc in self.priority_classes {
            b.priority_class(pc);
        }
        for n in self.nodes {
            b.node(n);
        }
        for g in self.groups {
            b.group(g);
        }
        for p in self.pods {
            b.pod(p);
        }
        b.build(now)
    }

    /// The snapshot at time `now`, with all records handed over in an order shuffled by `seed`.
    pub fn build_shuffled(&self, now: Millis, seed: u64) -> Snapshot {
        let c = self.clone();
        let mut records: Vec<Record> = Vec::new();
        records.extend(c.nodes.into_iter().map(Record::Node));
        records.extend(c.pods.into_iter().map(Record::Pod));
        records.extend(c.groups.into_iter().map(Record::Group));
        records.extend(c.queues.into_iter().map(Record::Queue));
        records.extend(c.priority_classes.into_iter().map(Record::PriorityClass));
        SplitMix64::new(seed).shuffle(&mut records);
        let mut b = SnapshotBuilder::with_resources(c.resources);
        for r in records {
            match r {
                Record::Node(n) => b.node(n),
                Record::Pod(p) => b.pod(p),
                Record::Group(g) => b.group(g),
                Record::Queue(q) => b.queue(q),
                Record::PriorityClass(pc) => b.priority_class(pc),
            };
        }
        b.build(now)
    }

    /// Carries a cycle's decisions into the records, as the runtime, the API server and a job
    /// controller would: every bound pod gets its node (and starts out Bound next cycle), every
    /// Volcano PodGroup gets the phase the cycle concluded; an evicted pod is gone at once and
    /// replaced by a pending pod of the same name, and its group records the preemption; pods
    /// pipelined onto a node are nominated to it, and nominations the cycle dropped are
    /// forgotten. `snap` is the snapshot the outcome's ids refer to.
    pub fn apply(&mut self, snap: &Snapshot, outcome: &Outcome) {
        let key = |t: caldera_framework::TaskId| {
            let task = snap.task(t);
            (task.namespace.clone(), task.name.clone())
        };
        for e in &outcome.evictions {
            let (ns, name) = key(e.task);
            if let Some(p) = self.pods.iter_mut().find(|p| p.namespace == ns && p.name == name) {
                p.node_name = None;
                p.phase = PodPhase::Pending;
                p.started = None;
                p.deleting = false;
                p.nominated_node = None;
            }
            let victim = snap.job(snap.task(e.task).job);
            if let Some(g) = self
                .groups
                .iter_mut()
                .find(|g| g.source == victim.source && g.namespace == victim.namespace && g.name == victim.name)
            {
                g.preempted = Some(caldera_framework::Preempted {
                    at: snap.now,
                    by: snap.job(e.by).key(),
                });
            }
        }
        for p in &outcome.pipelined {
            let (ns, name) = key(p.task);
            let node = snap.node(p.node).name.clone();
            if let Some(pod) = self.pods.iter_mut().find(|x| x.namespace == ns && x.name == name) {
                pod.nominated_node = Some(node);
            }
        }
        for t in &outcome.dropped_nominations {
            let (ns, name) = key(*t);
            if let Some(pod) = self.pods.iter_mut().find(|x| x.namespace == ns && x.name == name) {
                pod.nominated_node = None;
            }
        }
        let index: HashMap<(&str, &str), usize> = self
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.namespace.as_str(), p.name.as_str()), i))
            .collect();
        let mut bound: Vec<(usize, String)> = Vec::new();
        for b in &outcome.binds {
            let t = snap.task(b.task);
            if let Some(&i) = index.get(&(t.namespace.as_str(), t.name.as_str())) {
                bound.push((i, snap.node(b.node).name.clone()));
            }
        }
        for (i, node) in bound {
            let p = &mut self.pods[i];
            p.node_name = Some(node);
            p.started = Some(snap.now);
            p.nominated_node = None;
        }
        for (j, status) in &outcome.jobs {
            let job = snap.job(*j);
            if let Some(g) = self
                .groups
                .iter_mut()
                .find(|g| g.source == job.source && g.namespace == job.namespace && g.name == job.name)
            {
                g.phase = status.phase;
            }
        }
    }
}

/// A node being described.
pub struct NodeMut<'a> {
    c: &'a mut ClusterBuilder,
    i: usize,
}

impl NodeMut<'_> {
    fn rec(&mut self) -> &mut NodeRecord {
        &mut self.c.nodes[self.i]
    }

    /// Sets allocatable `name` to `value` (raw units: millicores, bytes, counts).
    pub fn resource(mut self, name: &str, value: i64) -> Self {
        let id = self.c.resources.intern(name);
        self.rec().allocatable.set(id, value);
        self
    }
    /// Whole cores.
    pub fn cpu(self, cores: i64) -> Self {
        self.cpu_m(cores.saturating_mul(1000))
    }
    /// Millicores.
    pub fn cpu_m(mut self, millis: i64) -> Self {
        self.rec().allocatable.set(CPU, millis);
        self
    }
    /// GiB of memory.
    pub fn mem_gi(mut self, gi: i64) -> Self {
        self.rec().allocatable.set(MEMORY, gi.saturating_mul(GI));
        self
    }
    /// Whole GPUs (`nvidia.com/gpu`).
    pub fn gpus(self, n: i64) -> Self {
        self.resource(GPU, n)
    }
    /// MIG slices of `profile` (`nvidia.com/mig-<profile>`).
    pub fn mig(self, profile: &str, n: i64) -> Self {
        self.resource(&mig(profile), n)
    }
    /// The pod limit.
    pub fn max_pods(mut self, n: i64) -> Self {
        self.rec().allocatable.set(PODS, n);
        self
    }
    /// A label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        Arc::make_mut(&mut self.rec().labels).insert(key.to_string(), value.to_string());
        self
    }
    /// The GPU model label (`nvidia.com/gpu.product`).
    pub fn gpu_product(self, product: &str) -> Self {
        self.label(GPU_PRODUCT_LABEL, product)
    }
    /// A taint.
    pub fn taint(mut self, key: &str, value: &str, effect: TaintEffect) -> Self {
        self.rec().taints.push(Taint {
            key: key.to_string(),
            value: value.to_string(),
            effect,
        });
        self
    }
    /// Cordoned (`spec.unschedulable`).
    pub fn cordoned(mut self) -> Self {
        self.rec().unschedulable = true;
        self
    }
    /// Not Ready.
    pub fn not_ready(mut self) -> Self {
        self.rec().ready = false;
        self
    }
}

/// A queue being described.
pub struct QueueMut<'a> {
    c: &'a mut ClusterBuilder,
    i: usize,
}

impl QueueMut<'_> {
    fn rec(&mut self) -> &mut QueueInfo {
        &mut self.c.queues[self.i]
    }
    /// Share weight.
    pub fn weight(mut self, w: u32) -> Self {
        self.rec().weight = w;
        self
    }
    /// State.
    pub fn state(mut self, s: QueueState) -> Self {
        self.rec().state = s;
        self
    }
    /// Closed: admits nothing new.
    pub fn closed(self) -> Self {
        self.state(QueueState::Closed)
    }
    /// Queue priority.
    pub fn priority(mut self, p: i32) -> Self {
        self.rec().priority = p;
        self
    }
    /// Hard cap, from `(name, value)` pairs.
    pub fn capability(mut self, pairs: &[(&str, i64)]) -> Self {
        let r = self.c.resources_of(pairs);
        self.rec().capability = Some(r);
        self
    }
    /// Guarantee, from `(name, value)` pairs.
    pub fn guarantee(mut self, pairs: &[(&str, i64)]) -> Self {
        let r = self.c.resources_of(pairs);
        self.rec().guarantee = r;
        self
    }
    /// `reclaimable: false`: other queues may not take back what it holds.
    pub fn not_reclaimable(mut self) -> Self {
        self.rec().reclaimable = false;
        self
    }
    /// `caldera.dev/default-expected-runtime`.
    pub fn default_runtime(mut self, ms: Millis) -> Self {
        self.rec().default_expected_runtime = Some(ms);
        self
    }
    /// Deserved (capacity plugin), from `(name, value)` pairs.
    pub fn deserved(mut self, pairs: &[(&str, i64)]) -> Self {
        let r = self.c.resources_of(pairs);
        self.rec().deserved = Some(r);
        self
    }
    /// Parent queue (hierarchical capacity).
    pub fn parent(mut self, name: &str) -> Self {
        self.rec().parent = Some(name.to_string());
        self
    }
}

/// A gang (PodGroup and its pods) being described.
pub struct GangMut<'a> {
    c: &'a mut ClusterBuilder,
    group: usize,
    pods: Range<usize>,
}

impl GangMut<'_> {
    fn rec(&mut self) -> &mut GroupRecord {
        &mut self.c.groups[self.group]
    }
    /// The PriorityClass of the group and of each of its pods.
    pub fn priority_class(mut self, name: &str) -> Self {
        self.rec().priority_class = Some(name.to_string());
        for i in self.pods.clone() {
            self.c.pods[i].priority_class = Some(name.to_string());
        }
        self
    }
    /// A per-role minimum (`minTaskMember`).
    pub fn min_task_member(mut self, role: &str, n: u32) -> Self {
        self.rec().min_task_member.insert(role.to_string(), n);
        self
    }
    /// `minResources`, from `(name, value)` pairs.
    pub fn min_resources(mut self, pairs: &[(&str, i64)]) -> Self {
        let r = self.c.resources_of(pairs);
        self.rec().min_resources = Some(r);
        self
    }
    /// `minResources` as Volcano's job controller sets it: the requests of the first
    /// `minMember` pods (pod slots excluded).
    pub fn min_resources_of_members(mut self) -> Self {
        let min = usize::try_from(self.rec().min_member).unwrap_or(usize::MAX);
        let mut sum = Resources::new();
        for i in self.pods.clone().take(min) {
            sum.add(&self.c.pods[i].spec.request);
        }
        sum.set(PODS, 0);
        self.rec().min_resources = Some(sum);
        self
    }
    /// The phase last written on the group.
    pub fn phase(mut self, phase: JobPhase) -> Self {
        self.rec().phase = phase;
        self
    }
    /// Creation time of the group and its pods.
    pub fn created(mut self, t: Millis) -> Self {
        self.rec().created = t;
        for i in self.pods.clone() {
            self.c.pods[i].created = t;
        }
        self
    }
    /// Edits the raw group record.
    pub fn with_group(mut self, f: impl FnOnce(&mut GroupRecord)) -> Self {
        f(self.rec());
        self
    }
    /// `caldera.dev/expected-runtime` on the group.
    pub fn runtime(mut self, ms: Millis) -> Self {
        self.rec().expected_runtime = Some(ms);
        self
    }
    /// Every pod of the gang running, on the nodes named in turn (round robin), since `started`.
    pub fn running_on(mut self, nodes: &[&str], started: Millis) -> Self {
        for (k, i) in self.pods.clone().enumerate() {
            let p = &mut self.c.pods[i];
            p.node_name = nodes.get(k % nodes.len().max(1)).map(|n| n.to_string());
            p.phase = PodPhase::Running;
            p.started = Some(started);
        }
        self.rec().phase = JobPhase::Running;
        self
    }
    /// `volcano.sh/preemptable: "false"` on the group.
    pub fn not_preemptable(mut self) -> Self {
        self.rec().preemptable = false;
        self
    }
}

/// A pod being described (owned, so it can be shaped by closures before it joins the cluster).
#[derive(Clone, Debug)]
pub struct Pod {
    rec: PodRecord,
    req: BTreeMap<String, i64>,
}

impl Pod {
    /// A pending pod of ours in `ns` with no group and no request but its pod slot.
    pub fn new(ns: &str, name: &str) -> Self {
        Pod {
            rec: PodRecord {
                uid: format!("{ns}/{name}"),
                namespace: ns.to_string(),
                name: name.to_string(),
                ours: true,
                ..PodRecord::default()
            },
            req: BTreeMap::new(),
        }
    }

    /// Requests `value` of resource `name` (raw units).
    pub fn resource(mut self, name: &str, value: i64) -> Self {
        self.req.insert(name.to_string(), value);
        self
    }
    /// Millicores.
    pub fn cpu_m(self, millis: i64) -> Self {
        self.resource("cpu", millis)
    }
    /// Whole cores.
    pub fn cpu(self, cores: i64) -> Self {
        self.cpu_m(cores.saturating_mul(1000))
    }
    /// MiB of memory.
    pub fn mem_mi(self, mi: i64) -> Self {
        self.resource("memory", mi.saturating_mul(MI))
    }
    /// GiB of memory.
    pub fn mem_gi(self, gi: i64) -> Self {
        self.resource("memory", gi.saturating_mul(GI))
    }
    /// Whole GPUs.
    pub fn gpus(self, n: i64) -> Self {
        self.resource(GPU, n)
    }
    /// MIG slices of `profile`.
    pub fn mig(self, profile: &str, n: i64) -> Self {
        self.resource(&mig(profile), n)
    }
    /// The Volcano PodGroup it names (annotation `scheduling.k8s.io/group-name`).
    pub fn group(mut self, name: &str) -> Self {
        self.rec.group = Some(GroupRef::Volcano(name.to_string()));
        self
    }
    /// Task role (`volcano.sh/task-spec`).
    pub fn role(mut self, role: &str) -> Self {
        self.rec.role = Some(role.to_string());
        self
    }
    /// A label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.rec.labels.insert(key.to_string(), value.to_string());
        self
    }
    /// `spec.priority`.
    pub fn priority(mut self, p: i32) -> Self {
        self.rec.priority = Some(p);
        self
    }
    /// `spec.priorityClassName`.
    pub fn priority_class(mut self, name: &str) -> Self {
        self.rec.priority_class = Some(name.to_string());
        self
    }
    /// `volcano.sh/task-priority`.
    pub fn task_priority(mut self, p: i32) -> Self {
        self.rec.task_priority = Some(p);
        self
    }
    /// Creation time.
    pub fn created(mut self, t: Millis) -> Self {
        self.rec.created = t;
        self
    }
    /// A `nodeSelector` entry.
    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        Arc::make_mut(&mut self.rec.spec)
            .node_selector
            .insert(key.to_string(), value.to_string());
        self
    }
    /// Adds `key op values` to the first required node affinity term (creating it).
    pub fn require(mut self, key: &str, op: SelectorOp, values: &[&str]) -> Self {
        let r = Requirement {
            key: key.to_string(),
            op,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let terms = Arc::make_mut(&mut self.rec.spec)
            .node_affinity
            .required
            .get_or_insert_with(Vec::new);
        match terms.first_mut() {
            Some(t) => t.match_expressions.push(r),
            None => terms.push(NodeSelectorTerm {
                match_expressions: vec![r],
                match_fields: Vec::new(),
            }),
        }
        self
    }
    /// Adds a required node affinity term, ORed with the others.
    pub fn require_term(mut self, term: NodeSelectorTerm) -> Self {
        Arc::make_mut(&mut self.rec.spec)
            .node_affinity
            .required
            .get_or_insert_with(Vec::new)
            .push(term);
        self
    }
    /// Tolerates taint `key=value` of every effect.
    pub fn tolerate(mut self, key: &str, value: &str) -> Self {
        Arc::make_mut(&mut self.rec.spec).tolerations.push(Toleration {
            key: key.to_string(),
            op: TolerationOp::Equal,
            value: value.to_string(),
            effect: None,
        });
        self
    }
    /// Tolerates every taint with key `key` (and `effect`, if given).
    pub fn tolerate_key(mut self, key: &str, effect: Option<TaintEffect>) -> Self {
        Arc::make_mut(&mut self.rec.spec).tolerations.push(Toleration {
            key: key.to_string(),
            op: TolerationOp::Exists,
            value: String::new(),
            effect,
        });
        self
    }
    /// A host port (TCP, all addresses).
    pub fn host_port(mut self, port: i32) -> Self {
        Arc::make_mut(&mut self.rec.spec).host_ports.push(HostPort {
            protocol: "TCP".to_string(),
            ip: String::new(),
            port,
        });
        self
    }
    /// `spec.nodeName` set by the user.
    pub fn pinned_to(mut self, node: &str) -> Self {
        Arc::make_mut(&mut self.rec.spec).node_name = Some(node.to_string());
        self
    }
    /// Already bound to `node`, not yet running.
    pub fn bound_to(mut self, node: &str) -> Self {
        self.rec.node_name = Some(node.to_string());
        self
    }
    /// Running on `node`.
    pub fn running_on(mut self, node: &str) -> Self {
        self.rec.node_name = Some(node.to_string());
        self.rec.phase = PodPhase::Running;
        self
    }
    /// Being deleted (Releasing while it still has a node).
    pub fn deleting(mut self) -> Self {
        self.rec.deleting = true;
        self
    }
    /// Phase.
    pub fn phase(mut self, phase: PodPhase) -> Self {
        self.rec.phase = phase;
        self
    }
    /// Another scheduler's pod.
    pub fn foreign(mut self) -> Self {
        self.rec.ours = false;
        self
    }
    /// Edits the raw scheduling constraints (the request is set from the builder's resources).
    pub fn with_spec(mut self, f: impl FnOnce(&mut TaskSpec)) -> Self {
        f(Arc::make_mut(&mut self.rec.spec));
        self
    }
    /// Edits the raw record.
    pub fn with_record(mut self, f: impl FnOnce(&mut PodRecord)) -> Self {
        f(&mut self.rec);
        self
    }
    /// Started at `t` (its running time counts from then).
    pub fn started(mut self, t: Millis) -> Self {
        self.rec.started = Some(t);
        self
    }
    /// `caldera.dev/expected-runtime`.
    pub fn runtime(mut self, ms: Millis) -> Self {
        self.rec.expected_runtime = Some(ms);
        self
    }
    /// `status.nominatedNodeName`.
    pub fn nominated(mut self, node: &str) -> Self {
        self.rec.nominated_node = Some(node.to_string());
        self
    }
    /// The request so far, by resource name (the pod slot is added when the pod joins a cluster).
    pub fn requests(&self) -> &BTreeMap<String, i64> {
        &self.req
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::TaskStatus;

    fn sample() -> ClusterBuilder {
        let mut c = ClusterBuilder::new();
        c.node("b").cpu(8).mem_gi(32);
        c.node("a")
            .cpu(96)
            .mem_gi(512)
            .gpus(8)
            .label("zone", "z1")
            .taint("gpu", "true", TaintEffect::NoSchedule);
        c.mig_node("m", "1g.10gb", 7).cordoned();
        c.queue("q").weight(3);
        c.priority_class("high", 100);
        c.gang("ns", "g", "q", 2, 3, |p| p.cpu_m(500).gpus(1))
            .priority_class("high")
            .min_resources_of_members();
        c.pod("ns", "solo", |p| p.mem_mi(10));
        c.bound_pod("ns", "old", "b", |p| p.cpu(1));
        c
    }

    #[test]
    fn builds_the_described_cluster() {
        let s = sample().build(5);
        assert_eq!(s.now, 5);
        assert_eq!(
            s.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "m"]
        );
        let a = &s.nodes[0];
        assert_eq!(a.allocatable.get(CPU), 96_000);
        assert_eq!(a.allocatable.get(MEMORY), 512 * GI);
        assert_eq!(a.allocatable.get(s.resources.get(GPU).expect("gpu interned")), 8);
        assert_eq!(a.allocatable.get(PODS), DEFAULT_MAX_PODS);
        assert_eq!(a.labels.get(HOSTNAME_LABEL).map(String::as_str), Some("a"));
        assert!(s.nodes[2].unschedulable);
        assert_eq!(
            s.nodes[2]
                .allocatable
                .get(s.resources.get("nvidia.com/mig-1g.10gb").expect("mig")),
            7
        );
        assert_eq!(s.queue(s.queue_by_name("q").expect("q")).weight, 3);

        let g = s.jobs.iter().find(|j| j.name == "g").expect("gang job");
        assert_eq!((g.min_member, g.priority, g.tasks.len()), (2, 100, 3));
        let min = g.min_resources.as_ref().expect("min resources");
        assert_eq!(min.get(CPU), 1000);
        assert_eq!(min.get(PODS), 0);
        for t in &g.tasks {
            let t = s.task(*t);
            assert_eq!(t.spec.request.get(PODS), 1, "every pod has a pod slot");
            assert_eq!(t.status, TaskStatus::Pending);
            assert_eq!(t.priority, 100);
        }
        let old = s.tasks.iter().find(|t| t.name == "old").expect("old");
        assert_eq!(old.status, TaskStatus::Running);
        assert_eq!(s.nodes[1].used.get(CPU), 1000);
    }

    #[test]
    fn shuffled_builds_give_the_same_snapshot() {
        let c = sample();
        let a = c.build(0);
        for seed in 0..5 {
            let b = c.build_shuffled(0, seed);
            assert_eq!(format!("{:?}", a.nodes), format!("{:?}", b.nodes));
            assert_eq!(format!("{:?}", a.tasks), format!("{:?}", b.tasks));
            assert_eq!(format!("{:?}", a.jobs), format!("{:?}", b.jobs));
        }
    }

    #[test]
    fn apply_binds_pods_and_writes_phases() {
        use caldera_framework::outcome::{Bind, JobStatus};
        let mut c = sample();
        let s = c.build(7);
        let task = caldera_framework::TaskId::from_idx(s.tasks.iter().position(|t| t.name == "g-1").expect("g-1"));
        let node = s.node_by_name("a").expect("a");
        let job = s.task(task).job;
        let mut out = Outcome::default();
        out.binds.push(Bind { task, node });
        out.jobs.insert(
            job,
            JobStatus {
                phase: JobPhase::Running,
                condition: None,
            },
        );
        c.apply(&s, &out);
        let s2 = c.build(8);
        let t = s2.tasks.iter().find(|t| t.name == "g-1").expect("g-1");
        assert_eq!(t.status, TaskStatus::Bound);
        assert_eq!(t.node.map(|n| s2.node(n).name.as_str()), Some("a"));
        assert_eq!(s2.job(t.job).phase, JobPhase::Running);
        assert_eq!(c.pending_pods(), 3, "g-0, g-2 and solo still wait");
    }
}

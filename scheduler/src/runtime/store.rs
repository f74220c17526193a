//! The scheduler's cache of the cluster: converted records of every watched object, kept current
//! by watch events, plus the placements this process has made but not yet seen confirmed.
//!
//! ```text
//!  watch tasks ──convert──▶ Change ──▶ Store::apply ──▶ Store::snapshot(now) ──▶ engine
//!                                           ▲
//!  cycle: assume(pod, node) ── bind ok ─────┘ confirmed when the watch shows spec.nodeName
//!                            └ bind failed ─▶ forget(pod): the pod is pending again
//! ```
//! Objects are converted once, when their event arrives (in the watch tasks, off the scheduling
//! loop), so a cycle only assembles records.
//!
//! Besides the API's objects the store keeps what this process decided that the API does not show
//! (yet), and lays it over the records in every snapshot: assumed binds, nominations (until the
//! pod is bound or the nomination is dropped), the reservations of the last cycle (an engine
//! notion with no API field), and evictions whose `caldera.dev/preempted-at` annotation the watch
//! has not brought back yet. A relist (after a watch gap or a 410 Gone) replaces
//! a kind's entries atomically when it completes, so objects deleted during the gap disappear.
//! Pure: no I/O, no clock; time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet};

use caldera_framework::snapshot::{
    GroupRecord, NodeRecord, PodPhase, PodRecord, PriorityClassRecord, ReservationRecord,
};
use caldera_framework::{
    JobSource, Millis, Preempted, QueueInfo, ResourceNames, SharedSpecs, Snapshot, SnapshotBuilder,
};

/// `namespace/name` of an object (namespace empty for cluster-scoped objects).
pub type Key = (String, String);

/// The kinds of object the scheduler watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// core/v1 Node.
    Node,
    /// core/v1 Pod.
    Pod,
    /// scheduling.volcano.sh/v1beta1 PodGroup.
    VolcanoGroup,
    /// scheduling.x-k8s.io/v1alpha1 PodGroup.
    CoschedulingGroup,
    /// scheduling.k8s.io/v1beta1 PodGroup.
    NativeGroup,
    /// scheduling.volcano.sh/v1beta1 Queue.
    Queue,
    /// scheduling.k8s.io/v1 PriorityClass.
    PriorityClass,
}

impl Kind {
    /// Name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Pod => "pods",
            Kind::VolcanoGroup => "podgroups.scheduling.volcano.sh",
            Kind::CoschedulingGroup => "podgroups.scheduling.x-k8s.io",
            Kind::NativeGroup => "podgroups.scheduling.k8s.io",
            Kind::Queue => "queues.scheduling.volcano.sh",
            Kind::PriorityClass => "priorityclasses",
        }
    }

    /// The PodGroup kind of a job source.
    pub fn of_source(source: JobSource) -> Option<Kind> {
        match source {
            JobSource::Volcano => Some(Kind::VolcanoGroup),
            JobSource::Coscheduling => Some(Kind::CoschedulingGroup),
            JobSource::Native => Some(Kind::NativeGroup),
            JobSource::Standalone | JobSource::Foreign => None,
        }
    }
}

/// A pod as cached.
#[derive(Clone, Debug)]
pub enum PodEntry {
    /// A pod the engine can use.
    Valid(Box<PodRecord>),
    /// One of our pods whose spec could not be converted; it is reported, never scheduled.
    Invalid {
        /// Pod UID.
        uid: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// A PodGroup (any API) as cached, with the status last seen on the API object so writes happen
/// only when something changed.
#[derive(Clone, Debug)]
pub struct GroupEntry {
    /// The record.
    pub record: GroupRecord,
    /// `.status` as read from the API (`null` when absent).
    pub status: serde_json::Value,
    /// The `caldera.dev/estimated-start` annotation as read from the API.
    pub estimated_start: Option<String>,
}

/// A Queue as cached.
#[derive(Clone, Debug)]
pub struct QueueEntry {
    /// The queue.
    pub info: QueueInfo,
    /// `.status` as read from the API.
    pub status: serde_json::Value,
}

/// One cached object.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A node.
    Node(NodeRecord),
    /// A pod.
    Pod(PodEntry),
    /// A PodGroup of any API (boxed: a group record is several times the size of the others).
    Group(Box<GroupEntry>),
    /// A queue.
    Queue(QueueEntry),
    /// A PriorityClass.
    PriorityClass(PriorityClassRecord),
}

/// What a watch task reports.
#[derive(Clone, Debug)]
pub enum Change {
    /// A (re)list of `Kind` begins; entries until `Synced` replace the current ones.
    Restart(Kind),
    /// An object was added or changed.
    Upsert(Kind, Key, Box<Entry>),
    /// An object was deleted.
    Delete(Kind, Key),
    /// The first list of `Kind` has delivered every object that holds room on a node (for pods:
    /// every bound pod); the rest (pods waiting for a node) are still arriving. From here the
    /// cache can place what it has without overcommitting a node, so scheduling need not wait for
    /// the whole list (see [`Store::schedulable`]).
    Placed(Kind),
    /// The (re)list of `Kind` is complete.
    Synced(Kind),
}

/// A placement made by this process that the API has not confirmed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assumed {
    /// The node.
    pub node: String,
    /// When it was made.
    pub at: Millis,
}

/// The cache.
#[derive(Debug, Default)]
pub struct Store {
    entries: BTreeMap<Kind, BTreeMap<Key, Entry>>,
    relisting: BTreeMap<Kind, BTreeMap<Key, Entry>>,
    synced: BTreeSet<Kind>,
    placed: BTreeSet<Kind>,
    expected: BTreeSet<Kind>,
    assumed: BTreeMap<Key, Assumed>,
    nominated: BTreeMap<Key, Assumed>,
    evicting: BTreeMap<Key, Millis>,
    reservations: BTreeMap<(Kind, Key), ReservationRecord>,
    preempted: BTreeMap<(Kind, Key), Preempted>,
    period: Millis,
    generation: u64,
    decisions: u64,
    /// Equal pod specs as one allocation, so every snapshot recognises them by address.
    specs: SharedSpecs,
}

impl Store {
    /// A store that is ready once every kind in `expected` has synced.
    pub fn new(expected: impl IntoIterator<Item = Kind>) -> Self {
        Store {
            expected: expected.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Kinds not yet synced.
    pub fn waiting_for(&self) -> Vec<Kind> {
        self.expected.difference(&self.synced).copied().collect()
    }

    /// Whether every expected kind has synced.
    pub fn synced(&self) -> bool {
        self.expected.is_subset(&self.synced)
    }

    /// Whether a cycle may place pods: every expected kind has synced, or has at least delivered
    /// every object that holds room on a node ([`Change::Placed`]). Until [`Store::synced`], what
    /// is cached is a true picture of the nodes' usage but not of all the work waiting, so a
    /// cycle then only places pods into free room (see `cycle.rs`).
    pub fn schedulable(&self) -> bool {
        self.expected
            .iter()
            .all(|k| self.synced.contains(k) || self.placed.contains(k))
    }

    /// Whether one of our pods waits for a node (not bound, not being bound by us). While the
    /// first pod list is still arriving, a cycle without such a pod has nothing to do; skipping
    /// it matters because the next cycle is spaced by this one's cost.
    pub fn has_waiting_pod(&self) -> bool {
        self.entries.get(&Kind::Pod).is_some_and(|pods| {
            pods.iter().any(|(key, e)| {
                matches!(e, Entry::Pod(PodEntry::Valid(p))
                    if p.ours && p.node_name.is_none() && !p.deleting && !self.assumed.contains_key(key))
            })
        })
    }

    /// Bumped on every change (what the reports show may have changed).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Bumped on every change that could change a scheduling decision; not on those that only
    /// change what the reports show (a bound pod turning Running, the confirmation of our own
    /// bind, a status we wrote coming back through the watch).
    pub fn decision_generation(&self) -> u64 {
        self.decisions
    }

    fn current(&self, kind: Kind, key: &Key) -> Option<&Entry> {
        match self.relisting.get(&kind) {
            Some(buffer) => buffer.get(key),
            None => self.entries.get(&kind)?.get(key),
        }
    }

    /// Number of cached objects of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.entries.get(&kind).map_or(0, BTreeMap::len)
    }

    /// Applies one change.
    pub fn apply(&mut self, change: Change) {
        self.generation += 1;
        let decides = match &change {
            Change::Upsert(kind, key, entry) => self
                .current(*kind, key)
                .is_none_or(|old| !same_for_decisions(old, entry, self.assumed.get(key))),
            Change::Restart(_) | Change::Delete(..) | Change::Placed(_) | Change::Synced(_) => true,
        };
        if decides {
            self.decisions += 1;
            if let Change::Upsert(kind, key, _) = &change {
                tracing::trace!(kind = kind.as_str(), ns = %key.0, name = %key.1, "change may alter a decision");
            }
        }
        match change {
            Change::Restart(kind) => {
                self.relisting.insert(kind, BTreeMap::new());
            }
            Change::Upsert(kind, key, entry) => {
                let mut entry = *entry;
                if let Entry::Pod(PodEntry::Valid(p)) = &mut entry {
                    p.spec = self.specs.share(&p.spec);
                }
                if kind == Kind::Pod {
                    self.confirm(&key, &entry);
                }
                match self.relisting.get_mut(&kind) {
                    Some(buffer) => buffer.insert(key, entry),
                    None => self.entries.entry(kind).or_default().insert(key, entry),
                };
            }
            Change::Delete(kind, key) => {
                if kind == Kind::Pod {
                    self.assumed.remove(&key);
                    self.nominated.remove(&key);
                    self.evicting.remove(&key);
                }
                if let Some(buffer) = self.relisting.get_mut(&kind) {
                    buffer.remove(&key);
                }
                if let Some(map) = self.entries.get_mut(&kind) {
                    map.remove(&key);
                }
            }
            Change::Placed(kind) => {
                // Only a first list goes live early: a relist keeps showing the last complete
                // list until it is complete itself.
                if !self.synced.contains(&kind) {
                    if let Some(buffer) = self.relisting.remove(&kind) {
                        self.entries.insert(kind, buffer);
                    }
                    self.placed.insert(kind);
                }
            }
            Change::Synced(kind) => {
                if let Some(buffer) = self.relisting.remove(&kind) {
                    if kind == Kind::Pod {
                        // Assumptions about pods that no longer exist are void.
                        self.assumed.retain(|k, _| buffer.contains_key(k));
                        self.nominated.retain(|k, _| buffer.contains_key(k));
                        self.evicting.retain(|k, _| buffer.contains_key(k));
                    }
                    self.entries.insert(kind, buffer);
                }
                self.synced.insert(kind);
            }
        }
    }

    /// The watch shows the pod bound: the assumption is confirmed (or overruled by whoever bound it).
    fn confirm(&mut self, key: &Key, entry: &Entry) {
        if let Entry::Pod(PodEntry::Valid(p)) = entry
            && p.node_name.is_some()
        {
            self.assumed.remove(key);
            self.nominated.remove(key);
        }
    }

    /// Records that this process bound (or is binding) `pod` to `node`, so the next cycle sees the
    /// node as used before the API confirms it.
    pub fn assume(&mut self, pod: Key, node: String, now: Millis) {
        self.generation += 1;
        self.decisions += 1;
        self.nominated.remove(&pod);
        self.assumed.insert(pod, Assumed { node, at: now });
    }

    /// Records that pending `pod` was promised room on `node`; returns whether that is news (so
    /// the caller writes `status.nominatedNodeName` only then).
    pub fn nominate(&mut self, pod: Key, node: String, now: Millis) -> bool {
        if self.nominated.get(&pod).is_some_and(|n| n.node == node) {
            return false;
        }
        self.generation += 1;
        self.nominated.insert(pod, Assumed { node, at: now });
        true
    }

    /// Drops `pod`'s nomination; returns whether it had one (or the API shows one).
    pub fn forget_nomination(&mut self, pod: &Key) -> bool {
        self.generation += 1;
        let api_has =
            matches!(self.get(Kind::Pod, pod), Some(Entry::Pod(PodEntry::Valid(p))) if p.nominated_node.is_some());
        self.nominated.remove(pod).is_some() || api_has
    }

    /// Records that this process is evicting `pod`: until the watch shows it gone, snapshots show
    /// it as being deleted (releasing its node), so the room it frees is promised to its
    /// preemptor and it is never chosen as a victim again.
    pub fn evicting(&mut self, pod: Key, now: Millis) {
        self.generation += 1;
        self.evicting.insert(pod, now);
    }

    /// The reservations the last cycle made, by PodGroup, for the next cycle to keep.
    pub fn set_reservations(&mut self, reservations: BTreeMap<(Kind, Key), ReservationRecord>) {
        if self.reservations != reservations {
            self.generation += 1;
        }
        self.reservations = reservations;
    }

    /// Records an eviction of `group`'s pods until the watch shows the annotation saying so.
    pub fn mark_preempted(&mut self, group: (Kind, Key), preempted: Preempted) {
        self.generation += 1;
        self.preempted.insert(group, preempted);
    }

    /// Sets the time between cycles the snapshot carries.
    pub fn set_period(&mut self, period: Millis) {
        self.period = period;
    }

    /// Drops an assumption: the bind failed and the pod is pending again.
    pub fn forget(&mut self, pod: &Key) {
        self.generation += 1;
        self.decisions += 1;
        self.assumed.remove(pod);
    }

    /// Drops assumptions older than `ttl` that the watch never confirmed: if the bind did happen,
    /// the watch will show it; if not, the pod is scheduled again (and a duplicate bind is refused
    /// by the API, never applied twice). Nominations and eviction marks expire likewise (the API
    /// carries them by then, or they are void).
    pub fn expire_assumptions(&mut self, now: Millis, ttl: Millis) -> usize {
        self.nominated.retain(|_, a| now - a.at <= ttl);
        self.evicting.retain(|_, at| now - *at <= ttl);
        self.preempted.retain(|_, p| now - p.at <= ttl);
        let before = self.assumed.len();
        self.assumed.retain(|_, a| now - a.at <= ttl);
        let dropped = before - self.assumed.len();
        if dropped > 0 {
            self.generation += 1;
            self.decisions += 1;
        }
        dropped
    }

    /// The assumption on `pod`, if any.
    pub fn assumed(&self, pod: &Key) -> Option<&Assumed> {
        self.assumed.get(pod)
    }

    /// Number of unconfirmed placements.
    pub fn assumed_count(&self) -> usize {
        self.assumed.len()
    }

    /// The cached entry of `kind` at `key`.
    pub fn get(&self, kind: Kind, key: &Key) -> Option<&Entry> {
        self.entries.get(&kind)?.get(key)
    }

    /// All cached entries of `kind`, in key order.
    pub fn iter(&self, kind: Kind) -> impl Iterator<Item = (&Key, &Entry)> {
        self.entries.get(&kind).into_iter().flat_map(|m| m.iter())
    }

    /// Pods of ours that could not be converted, with why.
    pub fn invalid_pods(&self) -> impl Iterator<Item = (&Key, &str)> {
        self.iter(Kind::Pod).filter_map(|(k, e)| match e {
            Entry::Pod(PodEntry::Invalid { message, .. }) => Some((k, message.as_str())),
            _ => None,
        })
    }

    /// The engine's view of the cache at `now`, with unconfirmed placements applied.
    pub fn snapshot(&self, names: &ResourceNames, now: Millis) -> Snapshot {
        let mut b = SnapshotBuilder::with_resources(names.clone());
        for (_, e) in self.iter(Kind::Node) {
            if let Entry::Node(n) = e {
                b.node(n.clone());
            }
        }
        for (_, e) in self.iter(Kind::Queue) {
            if let Entry::Queue(q) = e {
                b.queue(q.info.clone());
            }
        }
        for (_, e) in self.iter(Kind::PriorityClass) {
            if let Entry::PriorityClass(pc) = e {
                b.priority_class(pc.clone());
            }
        }
        for kind in [Kind::VolcanoGroup, Kind::CoschedulingGroup, Kind::NativeGroup] {
            for (key, e) in self.iter(kind) {
                if let Entry::Group(g) = e {
                    let mut record = g.record.clone();
                    let gk = (kind, key.clone());
                    record.reserved = self.reservations.get(&gk).cloned();
                    if let Some(p) = self.preempted.get(&gk)
                        && record.preempted.as_ref().is_none_or(|r| r.at < p.at)
                    {
                        record.preempted = Some(p.clone());
                    }
                    b.group(record);
                }
            }
        }
        for (key, e) in self.iter(Kind::Pod) {
            let Entry::Pod(PodEntry::Valid(p)) = e else { continue };
            // Only our own pods are assumed, nominated or evicted: the lookups (by name, in maps
            // as large as the binds in flight) are skipped for the others, often most pods.
            let assumed = (p.ours && p.node_name.is_none())
                .then(|| self.assumed.get(key))
                .flatten();
            let nominated = p.ours.then(|| self.nominated.get(key)).flatten();
            let evicting = p.ours && self.evicting.contains_key(key);
            if assumed.is_none() && nominated.is_none() && !evicting {
                // Nothing of ours to lay over it: lent as cached, not copied.
                b.pod_ref(p);
                continue;
            }
            let mut p = (**p).clone();
            if let Some(a) = assumed {
                p.node_name = Some(a.node.clone());
            }
            if let Some(n) = nominated {
                p.nominated_node = Some(n.node.clone());
            }
            if evicting && p.node_name.is_some() {
                p.deleting = true;
            }
            b.pod(p);
        }
        if self.period > 0 {
            b.period(self.period);
        }
        b.build(now)
    }
}

/// Whether replacing `old` by `new` leaves every scheduling decision as it was.
///
/// A pod that keeps its node and stays active (Pending or Running) changes nothing a decision
/// depends on; nor does a pending pod showing up on the node we assumed for it (our own bind,
/// confirmed). Status-only changes of PodGroups and Queues (what we wrote coming back, the
/// PodGroup phase included) change only reports; the next periodic cycle reads them. Anything else — a new pod, a pod finishing or moving, a changed spec, node,
/// PodGroup, Queue or PriorityClass — may change a decision.
fn same_for_decisions(old: &Entry, new: &Entry, assumed: Option<&Assumed>) -> bool {
    match (old, new) {
        (Entry::Pod(PodEntry::Valid(a)), Entry::Pod(PodEntry::Valid(b))) => same_pod_for_decisions(a, b, assumed),
        (Entry::Node(a), Entry::Node(b)) => a == b,
        // The phase is what a scheduler wrote last (normally us, the cycle before): the next
        // cycle derives the same phase again, so a phase written back is a report.
        (Entry::Group(a), Entry::Group(b)) => {
            a.record
                == GroupRecord {
                    phase: a.record.phase,
                    ..b.record.clone()
                }
        }
        (Entry::Queue(a), Entry::Queue(b)) => a.info == b.info,
        (Entry::PriorityClass(a), Entry::PriorityClass(b)) => a == b,
        _ => false,
    }
}

/// Labels the API server copies from the node onto a pod when it binds it (Kubernetes 1.33+).
const BINDING_LABELS: &str = "topology.kubernetes.io/";

fn same_pod_for_decisions(old: &PodRecord, new: &PodRecord, assumed: Option<&Assumed>) -> bool {
    let confirmed = old.node_name.is_none() && assumed.is_some_and(|a| new.node_name.as_deref() == Some(&a.node));
    let node_same = old.node_name == new.node_name || confirmed;
    let active = |p: PodPhase| matches!(p, PodPhase::Pending | PodPhase::Running);
    let phase_same = old.phase == new.phase || (new.node_name.is_some() && active(old.phase) && active(new.phase));
    // Our bind, confirmed, arrives with the node's topology labels added: part of the bind.
    let labels = if confirmed {
        let mut l = new.labels.clone();
        l.retain(|k, v| !k.starts_with(BINDING_LABELS) || old.labels.get(k) == Some(v));
        l
    } else {
        new.labels.clone()
    };
    node_same
        && phase_same
        && *old
            == PodRecord {
                phase: old.phase,
                started: old.started,
                node_name: old.node_name.clone(),
                labels,
                ..new.clone()
            }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::{JobPhase, TaskStatus};

    fn key(ns: &str, name: &str) -> Key {
        (ns.to_string(), name.to_string())
    }

    fn pod(ns: &str, name: &str, node: Option<&str>) -> Entry {
        let mut r = PodRecord {
            uid: format!("uid-{name}"),
            namespace: ns.into(),
            name: name.into(),
            ours: true,
            phase: if node.is_some() {
                PodPhase::Running
            } else {
                PodPhase::Pending
            },
            node_name: node.map(str::to_string),
            ..PodRecord::default()
        };
        std::sync::Arc::make_mut(&mut r.spec)
            .request
            .set(caldera_framework::resource::PODS, 1);
        Entry::Pod(PodEntry::Valid(Box::new(r)))
    }

    fn node(name: &str) -> Entry {
        Entry::Node(NodeRecord {
            name: name.into(),
            ready: true,
            ..NodeRecord::default()
        })
    }

    fn group(name: &str, min: u32) -> Entry {
        Entry::Group(Box::new(GroupEntry {
            record: GroupRecord {
                source: JobSource::Volcano,
                uid: format!("uid-{name}"),
                namespace: "ns".into(),
                name: name.into(),
                queue: String::new(),
                min_member: min,
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
            },
            status: serde_json::Value::Null,
            estimated_start: None,
        }))
    }

    fn summary(s: &Snapshot) -> Vec<String> {
        let mut v: Vec<String> = s.nodes.iter().map(|n| format!("node {}", n.name)).collect();
        v.extend(s.jobs.iter().map(|j| format!("job {} min {}", j.key(), j.min_member)));
        v.extend(s.tasks.iter().map(|t| {
            format!(
                "task {} {:?} {:?}",
                t.key(),
                t.status,
                t.node.map(|n| s.node(n).name.clone())
            )
        }));
        v
    }

    #[test]
    fn equal_specs_of_pods_converted_apart_are_one_allocation_in_the_cache() {
        let mut s = Store::new([Kind::Pod]);
        s.apply(Change::Restart(Kind::Pod));
        for name in ["a", "b"] {
            s.apply(Change::Upsert(
                Kind::Pod,
                key("ns", name),
                Box::new(pod("ns", name, None)),
            ));
        }
        s.apply(Change::Synced(Kind::Pod));
        let spec = |name: &str| match s.get(Kind::Pod, &key("ns", name)) {
            Some(Entry::Pod(PodEntry::Valid(p))) => p.spec.clone(),
            other => panic!("{other:?}"),
        };
        assert!(std::sync::Arc::ptr_eq(&spec("a"), &spec("b")));
        let snap = s.snapshot(&ResourceNames::default(), 0);
        assert!(
            std::sync::Arc::ptr_eq(&snap.tasks[0].spec, &spec("a")),
            "the snapshot keeps it"
        );
    }

    #[test]
    fn incremental_events_give_the_same_snapshot_as_a_full_list() {
        let names = ResourceNames::default();
        // Incremental: a list, then changes.
        let mut inc = Store::new([Kind::Node, Kind::Pod, Kind::VolcanoGroup]);
        for kind in [Kind::Node, Kind::Pod, Kind::VolcanoGroup] {
            inc.apply(Change::Restart(kind));
        }
        inc.apply(Change::Upsert(Kind::Node, key("", "n1"), Box::new(node("n1"))));
        inc.apply(Change::Upsert(Kind::Node, key("", "n2"), Box::new(node("n2"))));
        inc.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "a"),
            Box::new(pod("ns", "a", None)),
        ));
        inc.apply(Change::Upsert(
            Kind::VolcanoGroup,
            key("ns", "g"),
            Box::new(group("g", 1)),
        ));
        for kind in [Kind::Node, Kind::Pod, Kind::VolcanoGroup] {
            inc.apply(Change::Synced(kind));
        }
        assert!(inc.synced());
        inc.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "b"),
            Box::new(pod("ns", "b", Some("n1"))),
        ));
        inc.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "a"),
            Box::new(pod("ns", "a", Some("n2"))),
        ));
        inc.apply(Change::Delete(Kind::Node, key("", "n2")));
        inc.apply(Change::Upsert(
            Kind::VolcanoGroup,
            key("ns", "g"),
            Box::new(group("g", 2)),
        ));

        // Full: the end state listed at once, in another order.
        let mut full = Store::new([Kind::Node, Kind::Pod, Kind::VolcanoGroup]);
        for kind in [Kind::VolcanoGroup, Kind::Pod, Kind::Node] {
            full.apply(Change::Restart(kind));
        }
        full.apply(Change::Upsert(
            Kind::VolcanoGroup,
            key("ns", "g"),
            Box::new(group("g", 2)),
        ));
        full.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "b"),
            Box::new(pod("ns", "b", Some("n1"))),
        ));
        full.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "a"),
            Box::new(pod("ns", "a", Some("n2"))),
        ));
        full.apply(Change::Upsert(Kind::Node, key("", "n1"), Box::new(node("n1"))));
        for kind in [Kind::Pod, Kind::Node, Kind::VolcanoGroup] {
            full.apply(Change::Synced(kind));
        }
        assert_eq!(summary(&inc.snapshot(&names, 5)), summary(&full.snapshot(&names, 5)));
    }

    #[test]
    fn a_relist_drops_objects_deleted_during_the_gap_but_only_when_complete() {
        let names = ResourceNames::default();
        let mut s = Store::new([Kind::Node]);
        s.apply(Change::Restart(Kind::Node));
        s.apply(Change::Upsert(Kind::Node, key("", "n1"), Box::new(node("n1"))));
        s.apply(Change::Upsert(Kind::Node, key("", "n2"), Box::new(node("n2"))));
        s.apply(Change::Synced(Kind::Node));
        s.apply(Change::Restart(Kind::Node));
        s.apply(Change::Upsert(Kind::Node, key("", "n1"), Box::new(node("n1"))));
        assert_eq!(
            s.snapshot(&names, 0).nodes.len(),
            2,
            "the old list stands until the relist completes"
        );
        s.apply(Change::Synced(Kind::Node));
        assert_eq!(s.snapshot(&names, 0).nodes.len(), 1);
    }

    #[test]
    fn assumptions_show_as_bound_until_confirmed_forgotten_or_expired() {
        let names = ResourceNames::default();
        let mut s = Store::new([Kind::Node, Kind::Pod]);
        s.apply(Change::Upsert(Kind::Node, key("", "n1"), Box::new(node("n1"))));
        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "a"),
            Box::new(pod("ns", "a", None)),
        ));
        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "b"),
            Box::new(pod("ns", "b", None)),
        ));
        s.assume(key("ns", "a"), "n1".into(), 100);
        s.assume(key("ns", "b"), "n1".into(), 100);
        let snap = s.snapshot(&names, 200);
        assert!(
            snap.tasks.iter().all(|t| t.status == TaskStatus::Bound),
            "{:?}",
            summary(&snap)
        );

        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "a"),
            Box::new(pod("ns", "a", Some("n1"))),
        ));
        assert_eq!(s.assumed_count(), 1, "the watch confirmed a");
        s.forget(&key("ns", "b"));
        let snap = s.snapshot(&names, 300);
        let b = snap.tasks.iter().find(|t| t.name == "b").map(|t| t.status);
        assert_eq!(b, Some(TaskStatus::Pending));

        s.assume(key("ns", "b"), "n1".into(), 300);
        assert_eq!(s.expire_assumptions(1000, 800), 0);
        assert_eq!(s.expire_assumptions(1200, 800), 1);
        assert_eq!(s.assumed_count(), 0);
    }

    fn with_phase(e: Entry, phase: PodPhase) -> Entry {
        match e {
            Entry::Pod(PodEntry::Valid(mut p)) => {
                p.phase = phase;
                Entry::Pod(PodEntry::Valid(p))
            }
            other => other,
        }
    }

    #[test]
    fn only_changes_that_can_change_a_decision_bump_the_decision_generation() {
        let mut s = Store::new([Kind::Node, Kind::Pod, Kind::VolcanoGroup]);
        let up = |s: &mut Store, kind, k: Key, e: Entry| {
            let before = s.decision_generation();
            s.apply(Change::Upsert(kind, k, Box::new(e)));
            s.decision_generation() != before
        };
        assert!(up(&mut s, Kind::Node, key("", "n1"), node("n1")), "a new node");
        assert!(
            !up(&mut s, Kind::Node, key("", "n1"), node("n1")),
            "the same node again"
        );
        assert!(up(&mut s, Kind::Pod, key("ns", "a"), pod("ns", "a", None)), "a new pod");
        assert!(up(&mut s, Kind::Pod, key("ns", "b"), pod("ns", "b", None)));

        // Our bind of a, confirmed by the watch with the node's zone label that the API server
        // copies onto a pod it binds: nothing new to decide.
        s.assume(key("ns", "a"), "n1".into(), 10);
        let assumed_gen = s.decision_generation();
        let mut a_bound = pod("ns", "a", Some("n1"));
        if let Entry::Pod(PodEntry::Valid(p)) = &mut a_bound {
            p.labels.insert("topology.kubernetes.io/zone".into(), "z1".into());
        }
        assert!(!up(&mut s, Kind::Pod, key("ns", "a"), a_bound));
        assert_eq!(s.decision_generation(), assumed_gen);
        // b bound by someone else, somewhere we did not assume: a decision may change.
        s.assume(key("ns", "b"), "n1".into(), 10);
        assert!(up(&mut s, Kind::Pod, key("ns", "b"), pod("ns", "b", Some("n2"))));

        // Any other label change may matter (pod affinity).
        assert!(up(&mut s, Kind::Pod, key("ns", "a"), pod("ns", "a", Some("n1"))));
        // Bound and turning Running: only reports change; finishing frees the node.
        let a_pending = with_phase(pod("ns", "a", Some("n1")), PodPhase::Pending);
        assert!(!up(&mut s, Kind::Pod, key("ns", "a"), a_pending));
        let a_running = with_phase(pod("ns", "a", Some("n1")), PodPhase::Running);
        assert!(!up(&mut s, Kind::Pod, key("ns", "a"), a_running));
        let a_done = with_phase(pod("ns", "a", Some("n1")), PodPhase::Succeeded);
        assert!(up(&mut s, Kind::Pod, key("ns", "a"), a_done));

        // A PodGroup whose status we wrote comes back: a report, not a decision.
        assert!(up(&mut s, Kind::VolcanoGroup, key("ns", "g"), group("g", 2)));
        let mut written = group("g", 2);
        if let Entry::Group(g) = &mut written {
            g.status = serde_json::json!({"phase": "Inqueue"});
        }
        let generation = s.generation();
        assert!(!up(&mut s, Kind::VolcanoGroup, key("ns", "g"), written));
        assert_eq!(
            s.generation(),
            generation + 1,
            "every change still counts for the reports"
        );
        let mut inqueue = group("g", 2);
        if let Entry::Group(g) = &mut inqueue {
            g.record.phase = JobPhase::Inqueue;
        }
        assert!(
            !up(&mut s, Kind::VolcanoGroup, key("ns", "g"), inqueue),
            "the phase we wrote"
        );
        assert!(
            up(&mut s, Kind::VolcanoGroup, key("ns", "g"), group("g", 3)),
            "minMember changed"
        );

        let before = s.decision_generation();
        s.apply(Change::Delete(Kind::Pod, key("ns", "b")));
        assert!(s.decision_generation() > before);
    }

    #[test]
    fn decisions_the_api_does_not_show_yet_are_laid_over_the_snapshot() {
        let names = ResourceNames::default();
        let mut s = Store::new([Kind::Node, Kind::Pod, Kind::VolcanoGroup]);
        s.apply(Change::Upsert(Kind::Node, key("", "n1"), Box::new(node("n1"))));
        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "victim"),
            Box::new(pod("ns", "victim", Some("n1"))),
        ));
        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "waiter"),
            Box::new(pod("ns", "waiter", None)),
        ));
        s.apply(Change::Upsert(
            Kind::VolcanoGroup,
            key("ns", "g"),
            Box::new(group("g", 1)),
        ));
        s.set_period(250);
        s.evicting(key("ns", "victim"), 100);
        assert!(s.nominate(key("ns", "waiter"), "n1".into(), 100));
        assert!(
            !s.nominate(key("ns", "waiter"), "n1".into(), 150),
            "the same nomination is no news"
        );
        s.mark_preempted(
            (Kind::VolcanoGroup, key("ns", "g")),
            Preempted {
                at: 100,
                by: "ns/other".into(),
            },
        );
        let slot = ReservationRecord {
            start: 5000,
            end: 9000,
            nodes: vec![("n1".into(), caldera_framework::Resources::new())],
        };
        s.set_reservations([((Kind::VolcanoGroup, key("ns", "g")), slot.clone())].into());
        let snap = s.snapshot(&names, 200);
        assert_eq!(snap.period, 250);
        let task = |name: &str| snap.tasks.iter().find(|t| t.name == name).expect("task");
        assert_eq!(task("victim").status, TaskStatus::Releasing, "being evicted");
        assert_eq!(task("waiter").nominated, snap.node_by_name("n1"));
        let g = snap.jobs.iter().find(|j| j.name == "g").expect("group");
        assert_eq!(g.preempted.as_ref().map(|p| p.by.as_str()), Some("ns/other"));
        assert_eq!(g.reserved.as_ref().map(|r| (r.start, r.end)), Some((5000, 9000)));

        // The waiter is bound: its nomination is over. The victim is gone: so is its mark.
        s.assume(key("ns", "waiter"), "n1".into(), 300);
        s.apply(Change::Delete(Kind::Pod, key("ns", "victim")));
        let snap = s.snapshot(&names, 300);
        assert!(snap.tasks.iter().all(|t| t.nominated.is_none()));
        assert_eq!(snap.tasks.len(), 1);
        assert!(!s.forget_nomination(&key("ns", "waiter")));
    }

    #[test]
    fn readiness_waits_for_every_expected_kind() {
        let mut s = Store::new([Kind::Node, Kind::Pod]);
        assert_eq!(s.waiting_for(), vec![Kind::Node, Kind::Pod]);
        s.apply(Change::Restart(Kind::Node));
        s.apply(Change::Synced(Kind::Node));
        assert!(!s.synced());
        s.apply(Change::Restart(Kind::Pod));
        s.apply(Change::Synced(Kind::Pod));
        assert!(s.synced());
    }

    #[test]
    fn a_first_list_schedules_once_the_bound_pods_are_in_and_a_relist_never_goes_live_early() {
        let names = ResourceNames::default();
        let mut s = Store::new([Kind::Node, Kind::Pod]);
        s.apply(Change::Restart(Kind::Node));
        s.apply(Change::Upsert(Kind::Node, key("", "n1"), Box::new(node("n1"))));
        s.apply(Change::Synced(Kind::Node));
        s.apply(Change::Restart(Kind::Pod));
        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "bound"),
            Box::new(pod("ns", "bound", Some("n1"))),
        ));
        assert!(!s.schedulable(), "a bound pod may still be missing");
        s.apply(Change::Placed(Kind::Pod));
        assert!(s.schedulable() && !s.synced());
        assert!(!s.has_waiting_pod(), "only a bound pod is listed so far");
        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "waiting"),
            Box::new(pod("ns", "waiting", None)),
        ));
        assert!(s.has_waiting_pod());
        assert_eq!(s.snapshot(&names, 0).tasks.len(), 2, "pods listed so far are live");
        s.apply(Change::Synced(Kind::Pod));
        assert!(s.synced());
        assert_eq!(s.snapshot(&names, 0).tasks.len(), 2);

        // A relist (kube-runtime's watcher after trouble) shows the old list until it completes,
        // whatever it says on the way.
        s.apply(Change::Restart(Kind::Pod));
        s.apply(Change::Placed(Kind::Pod));
        s.apply(Change::Upsert(
            Kind::Pod,
            key("ns", "bound"),
            Box::new(pod("ns", "bound", Some("n1"))),
        ));
        assert_eq!(s.snapshot(&names, 0).tasks.len(), 2);
        s.apply(Change::Synced(Kind::Pod));
        assert_eq!(s.snapshot(&names, 0).tasks.len(), 1, "the waiting pod is gone");
    }
}

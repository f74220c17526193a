//! Node search for a task, shared by all tasks of its equivalence class.
//!
//! Each class keeps a heap of the nodes that fit it, keyed by (fits in idle resources, score,
//! lowest node name first). Building it costs one filter-and-score pass over the nodes; after that,
//! every placement, undo or eviction appends the node to the session's change log, and a class
//! re-evaluates only the nodes logged since it last looked. So the k-th pod of a 5,000-pod gang
//! costs O(changed nodes · log N), not O(N).
//!
//! The same re-evaluation keeps, per class, why each node that does not fit fails it, so saying
//! why a pod fits nowhere costs O(distinct reasons), not another pass over every node: a cycle
//! on a full cluster asks that of thousands of pods.
//!
//! Topology-sensitive classes (pod (anti-)affinity across zones) are searched in full for every pod.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use priority_queue::PriorityQueue;

use crate::fit::{FitFailure, insufficient};
use crate::model::{NodeId, TaskId};
use crate::plugin::{PluginSet, Reason};
use crate::resource::ResourceId;
use crate::snapshot::Snapshot;

/// Where a task can go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The node's idle resources hold it: allocate.
    Idle(NodeId),
    /// Only once releasing pods are gone: pipeline.
    Future(NodeId),
}

/// Heap key: idle fits outrank future fits; then higher score; then the lower node id.
type Key = (bool, i64, Reverse<u32>);

struct ClassCache {
    heap: PriorityQueue<u32, Key>,
    cursor: usize,
    misfits: Misfits,
}

/// One reason a node does not fit a task.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    /// A predicate failed (only the first failing one is reported, as kube-scheduler does).
    Predicate(Reason),
    /// Not enough of this resource, counting what is pipelined onto the node.
    Short(ResourceId),
}

/// Why each node fails a class: the distinct reason sets, and which set each node has.
struct Misfits {
    /// Per node, an index into `sets`; 0 is the empty set of a node that fits.
    at: Vec<u32>,
    /// Distinct reason sets with how many nodes have each.
    sets: Vec<(Vec<Why>, u32)>,
    index: BTreeMap<Vec<Why>, u32>,
}

impl Misfits {
    fn new(nodes: usize) -> Self {
        let nodes_u32 = u32::try_from(nodes).unwrap_or(u32::MAX);
        Misfits {
            at: vec![0; nodes],
            sets: vec![(Vec::new(), nodes_u32)],
            index: BTreeMap::from([(Vec::new(), 0)]),
        }
    }

    /// Records that node `n` now fails for `why` (empty: it fits).
    fn set(&mut self, n: NodeId, why: &[Why]) {
        let i = match self.index.get(why) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
                self.sets.push((why.to_vec(), 0));
                self.index.insert(why.to_vec(), i);
                i
            }
        };
        let Some(slot) = self.at.get_mut(n.idx()) else { return };
        let old = std::mem::replace(slot, i);
        if old != i {
            self.sets[old as usize].1 -= 1;
            self.sets[i as usize].1 += 1;
        }
    }

    fn failure(&self, s: &Snapshot) -> FitFailure {
        let mut f = FitFailure::over(s.nodes.len());
        for (why, count) in self.sets.iter().filter(|(_, c)| *c > 0) {
            for w in why {
                add_why(&mut f, s, w, *count);
            }
        }
        f
    }
}

fn add_why(f: &mut FitFailure, s: &Snapshot, why: &Why, count: u32) {
    match why {
        Why::Predicate(r) => f.add_n(r, count),
        Why::Short(id) => f.add_n(&insufficient(s.resources.name(*id)), count),
    }
}

/// Per-class node caches for one session.
pub struct Placer {
    classes: Vec<Option<ClassCache>>,
}

impl Placer {
    /// Caches for `classes` equivalence classes, all empty.
    pub fn new(classes: usize) -> Self {
        Placer {
            classes: (0..classes).map(|_| None).collect(),
        }
    }

    /// The best node for `task`, given the session's node change log; with a `mask`, only nodes
    /// whose entry is true are considered (a gang confined to one topology domain).
    pub fn find(
        &mut self,
        plugins: &mut PluginSet,
        s: &Snapshot,
        changes: &[NodeId],
        task: TaskId,
        mask: Option<&[bool]>,
    ) -> Result<Placement, FitFailure> {
        if let Some(mask) = mask {
            return masked_scan(plugins, s, task, mask);
        }
        let class = s.task(task).class;
        let sensitive = s.classes.get(class.idx()).is_none_or(|c| c.topology_sensitive);
        if sensitive {
            return full_scan(plugins, s, task);
        }
        let slot = &mut self.classes[class.idx()];
        let mut why = Vec::new();
        let cache = match slot {
            Some(c) => {
                for &n in &changes[c.cursor..] {
                    match evaluate(plugins, s, task, n, &mut why) {
                        Some(key) => {
                            c.heap.push(n.0, key);
                        }
                        None => {
                            c.heap.remove(&n.0);
                        }
                    }
                    c.misfits.set(n, &why);
                }
                c.cursor = changes.len();
                c
            }
            None => {
                if let Err(reason) = plugins.pre_predicate(s, task) {
                    let mut f = FitFailure::over(s.nodes.len());
                    f.add_n(&reason, u32::try_from(s.nodes.len()).unwrap_or(u32::MAX));
                    return Err(f);
                }
                let mut heap = PriorityQueue::with_capacity(s.nodes.len());
                let mut misfits = Misfits::new(s.nodes.len());
                for n in s.node_ids() {
                    if let Some(key) = evaluate(plugins, s, task, n, &mut why) {
                        heap.push(n.0, key);
                    } else {
                        misfits.set(n, &why);
                    }
                }
                slot.insert(ClassCache {
                    heap,
                    cursor: changes.len(),
                    misfits,
                })
            }
        };
        match cache.heap.peek() {
            Some((&n, &(idle, _, _))) => {
                let n = NodeId(n);
                Ok(if idle { Placement::Idle(n) } else { Placement::Future(n) })
            }
            None => Err(cache.misfits.failure(s)),
        }
    }
}

/// Filters and scores one node; `None` when it does not fit, with the reasons left in `why`
/// (which is empty when the node fits).
#[inline]
fn evaluate(plugins: &PluginSet, s: &Snapshot, task: TaskId, n: NodeId, why: &mut Vec<Why>) -> Option<Key> {
    why.clear();
    if let Err(reason) = plugins.predicate(s, task, n) {
        why.push(Why::Predicate(reason));
        return None;
    }
    let req = &s.task(task).spec.request;
    let node = s.node(n);
    // Whatever goes on a node must leave room for what is pipelined onto it (future idle), and
    // may take it now only if it also fits the idle resources.
    if !req.fits_with(|id| node.future_idle_of(id)) {
        why.extend(req.insufficient_with(|id| node.future_idle_of(id)).map(Why::Short));
        return None;
    }
    let key_idle = req.fits_with(|id| node.idle_of(id));
    Some((key_idle, plugins.node_score(s, task, n), Reverse(n.0)))
}

/// Why none of `nodes` fits: the first failing predicate of each node, else each insufficient
/// resource.
fn explain(
    plugins: &PluginSet,
    s: &Snapshot,
    task: TaskId,
    nodes: impl Iterator<Item = NodeId>,
    total: usize,
) -> FitFailure {
    let mut f = FitFailure::over(total);
    let mut why = Vec::new();
    for n in nodes {
        if evaluate(plugins, s, task, n, &mut why).is_none() {
            for w in &why {
                add_why(&mut f, s, w, 1);
            }
        }
    }
    f
}

/// A full search over the nodes a mask allows; the failure counts only those nodes.
fn masked_scan(plugins: &mut PluginSet, s: &Snapshot, task: TaskId, mask: &[bool]) -> Result<Placement, FitFailure> {
    let allowed = || s.node_ids().filter(|n| mask.get(n.idx()).copied().unwrap_or(false));
    let total = allowed().count();
    if let Err(reason) = plugins.pre_predicate(s, task) {
        let mut f = FitFailure::over(total);
        f.add_n(&reason, u32::try_from(total).unwrap_or(u32::MAX));
        return Err(f);
    }
    let mut why = Vec::new();
    let best = allowed().filter_map(|n| evaluate(plugins, s, task, n, &mut why)).max();
    match best {
        Some((idle, _, Reverse(n))) => Ok(if idle {
            Placement::Idle(NodeId(n))
        } else {
            Placement::Future(NodeId(n))
        }),
        None => Err(explain(plugins, s, task, allowed(), total)),
    }
}

fn full_scan(plugins: &mut PluginSet, s: &Snapshot, task: TaskId) -> Result<Placement, FitFailure> {
    if let Err(reason) = plugins.pre_predicate(s, task) {
        let mut f = FitFailure::over(s.nodes.len());
        f.add_n(&reason, u32::try_from(s.nodes.len()).unwrap_or(u32::MAX));
        return Err(f);
    }
    let mut why = Vec::new();
    let best = s
        .node_ids()
        .filter_map(|n| evaluate(plugins, s, task, n, &mut why))
        .max();
    match best {
        Some((idle, _, Reverse(n))) => Ok(if idle {
            Placement::Idle(NodeId(n))
        } else {
            Placement::Future(NodeId(n))
        }),
        None => Err(explain(plugins, s, task, s.node_ids(), s.nodes.len())),
    }
}

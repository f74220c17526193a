//! Node search for a task, shared by all tasks of its equivalence class.
//!
//! Each class keeps a heap of the nodes that fit it, keyed by (fits in idle resources, score,
//! lowest node name first). Building it costs one filter-and-score pass over the nodes; after that,
//! every placement, undo or eviction appends the node to the session's change log, and a class
//! re-evaluates only the nodes logged since it last looked. So the k-th pod of a 5,000-pod gang
//! costs O(changed nodes · log N), not O(N).
//!
//! Topology-sensitive classes (pod (anti-)affinity across zones) are searched in full for every pod.

use std::cmp::Reverse;

use priority_queue::PriorityQueue;

use crate::fit::{FitFailure, insufficient};
use crate::model::{NodeId, TaskId};
use crate::plugin::PluginSet;
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
    failure: Option<(usize, FitFailure)>,
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
        let cache = match slot {
            Some(c) => {
                for &n in &changes[c.cursor..] {
                    match evaluate(plugins, s, task, n) {
                        Some(key) => {
                            c.heap.push(n.0, key);
                        }
                        None => {
                            c.heap.remove(&n.0);
                        }
                    }
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
                for n in s.node_ids() {
                    if let Some(key) = evaluate(plugins, s, task, n) {
                        heap.push(n.0, key);
                    }
                }
                slot.insert(ClassCache {
                    heap,
                    cursor: changes.len(),
                    failure: None,
                })
            }
        };
        match cache.heap.peek() {
            Some((&n, &(idle, _, _))) => {
                let n = NodeId(n);
                Ok(if idle { Placement::Idle(n) } else { Placement::Future(n) })
            }
            None => {
                if let Some((at, f)) = &cache.failure
                    && *at == changes.len()
                {
                    return Err(f.clone());
                }
                let f = explain(plugins, s, task);
                cache.failure = Some((changes.len(), f.clone()));
                Err(f)
            }
        }
    }
}

/// Filters and scores one node; `None` when it does not fit.
#[inline]
fn evaluate(plugins: &PluginSet, s: &Snapshot, task: TaskId, n: NodeId) -> Option<Key> {
    plugins.predicate(s, task, n).ok()?;
    let req = &s.task(task).spec.request;
    let node = s.node(n);
    // Whatever goes on a node must leave room for what is pipelined onto it (future idle), and
    // may take it now only if it also fits the idle resources.
    if !req.fits_in(&node.future_idle()) {
        return None;
    }
    let key_idle = req.fits_in(&node.idle());
    Some((key_idle, plugins.node_score(s, task, n), Reverse(n.0)))
}

/// Why no node fits: the first failing predicate of each node, else each insufficient resource.
fn explain(plugins: &PluginSet, s: &Snapshot, task: TaskId) -> FitFailure {
    let mut f = FitFailure::over(s.nodes.len());
    let req = &s.task(task).spec.request;
    for n in s.node_ids() {
        if let Err(reason) = plugins.predicate(s, task, n) {
            f.add(&reason);
            continue;
        }
        let avail = s.node(n).future_idle();
        for r in req.insufficient(&avail) {
            f.add(&insufficient(s.resources.name(r)));
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
    let best = allowed().filter_map(|n| evaluate(plugins, s, task, n)).max();
    match best {
        Some((idle, _, Reverse(n))) => Ok(if idle {
            Placement::Idle(NodeId(n))
        } else {
            Placement::Future(NodeId(n))
        }),
        None => {
            let mut f = FitFailure::over(total);
            let req = &s.task(task).spec.request;
            for n in allowed() {
                if let Err(reason) = plugins.predicate(s, task, n) {
                    f.add(&reason);
                    continue;
                }
                for r in req.insufficient(&s.node(n).future_idle()) {
                    f.add(&insufficient(s.resources.name(r)));
                }
            }
            Err(f)
        }
    }
}

fn full_scan(plugins: &mut PluginSet, s: &Snapshot, task: TaskId) -> Result<Placement, FitFailure> {
    if let Err(reason) = plugins.pre_predicate(s, task) {
        let mut f = FitFailure::over(s.nodes.len());
        f.add_n(&reason, u32::try_from(s.nodes.len()).unwrap_or(u32::MAX));
        return Err(f);
    }
    let best = s.node_ids().filter_map(|n| evaluate(plugins, s, task, n)).max();
    match best {
        Some((idle, _, Reverse(n))) => Ok(if idle {
            Placement::Idle(NodeId(n))
        } else {
            Placement::Future(NodeId(n))
        }),
        None => Err(explain(plugins, s, task)),
    }
}

//! A transaction over the session: placements and evictions that are committed together or undone
//! together. This is what makes a gang all-or-nothing.

use crate::model::{JobId, NodeId, TaskId, TaskStatus};
use crate::outcome::{Bind, Eviction};
use crate::session::Session;

#[derive(Clone, Debug)]
enum Op {
    Allocate(TaskId, NodeId),
    Pipeline(TaskId, NodeId),
    Evict(TaskId, TaskStatus, Eviction),
    Unnominate(TaskId, NodeId),
}

/// Pending operations; apply with [`Statement::commit`] or undo with [`Statement::discard`].
#[derive(Clone, Debug, Default)]
#[must_use = "a statement must be committed or discarded"]
pub struct Statement {
    ops: Vec<Op>,
}

impl Statement {
    /// An empty statement.
    pub fn new() -> Self {
        Self::default()
    }

    /// Places `task` on `node` in the session (resources taken now).
    pub fn allocate(&mut self, ssn: &mut Session, task: TaskId, node: NodeId) {
        ssn.place(task, node, TaskStatus::Allocated);
        self.ops.push(Op::Allocate(task, node));
    }

    /// Reserves `task` on `node`'s releasing resources (nothing is bound on commit).
    pub fn pipeline(&mut self, ssn: &mut Session, task: TaskId, node: NodeId) {
        ssn.place(task, node, TaskStatus::Pipelined);
        self.ops.push(Op::Pipeline(task, node));
    }

    /// Marks `task` for eviction by `action` (`preempt`, `reclaim`) in favour of job `by`; its
    /// resources become releasing.
    pub fn evict(&mut self, ssn: &mut Session, task: TaskId, by: JobId, action: &'static str, reason: String) {
        let prev = ssn.release(task);
        self.ops.push(Op::Evict(
            task,
            prev,
            Eviction {
                task,
                reason,
                by,
                action,
            },
        ));
    }

    /// Releases the room `task` was nominated to, so its own job can be placed (there or
    /// anywhere); undone on discard.
    pub fn unnominate(&mut self, ssn: &mut Session, task: TaskId) {
        if let Some(node) = ssn.unnominate(task) {
            self.ops.push(Op::Unnominate(task, node));
        }
    }

    /// Whether it released nominations (to place their own job).
    pub fn releases_nominations(&self) -> bool {
        self.ops.iter().any(|op| matches!(op, Op::Unnominate(..)))
    }

    /// Tasks this statement evicts.
    pub fn evicted(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.ops.iter().filter_map(|op| match op {
            Op::Evict(t, ..) => Some(*t),
            _ => None,
        })
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Tasks placed by this statement.
    pub fn allocated(&self) -> impl Iterator<Item = (TaskId, NodeId)> + '_ {
        self.ops.iter().filter_map(|op| match op {
            Op::Allocate(t, n) => Some((*t, *n)),
            _ => None,
        })
    }

    /// Tasks pipelined by this statement.
    pub fn pipelined(&self) -> Vec<(TaskId, NodeId)> {
        self.ops
            .iter()
            .filter_map(|op| match op {
                Op::Pipeline(t, n) => Some((*t, *n)),
                _ => None,
            })
            .collect()
    }

    /// Makes the operations decisions: placements become binds, evictions become evictions.
    pub fn commit(self, ssn: &mut Session) {
        for op in self.ops {
            match op {
                Op::Allocate(task, node) => {
                    ssn.snap.tasks[task.idx()].status = TaskStatus::Binding;
                    ssn.outcome.binds.push(Bind { task, node });
                }
                Op::Pipeline(task, node) => ssn.outcome.pipelined.push(Bind { task, node }),
                Op::Evict(_, _, eviction) => ssn.outcome.evictions.push(eviction),
                Op::Unnominate(..) => {}
            }
        }
    }

    /// Undoes the operations, newest first, leaving the session as it was before the statement.
    pub fn discard(self, ssn: &mut Session) {
        for op in self.ops.into_iter().rev() {
            match op {
                Op::Allocate(task, _) | Op::Pipeline(task, _) => ssn.unplace(task),
                Op::Evict(task, prev, _) => ssn.unrelease(task, prev),
                Op::Unnominate(task, node) => ssn.renominate(task, node),
            }
        }
    }
}

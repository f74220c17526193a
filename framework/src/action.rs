//! Actions: the stages of a cycle (enqueue, allocate, backfill, preempt, reclaim), run in the
//! configured order against one session.

use crate::session::Session;

/// One stage of the cycle. It reads the session and changes it only through statements.
pub trait Action: Send + Sync {
    /// The configuration name, e.g. `allocate`.
    fn name(&self) -> &'static str;
    /// Runs the stage.
    fn execute(&self, ssn: &mut Session);
    /// Whether the stage may evict running pods. Such a stage judges what to take away by all the
    /// work that waits (queue shares, priorities), so the runtime leaves it out of cycles that run
    /// while the first pod list is still arriving and that work is only partly known.
    fn evicts(&self) -> bool {
        false
    }
}

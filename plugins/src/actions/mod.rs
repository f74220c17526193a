//! The actions of a cycle, and the orderings they share.

pub mod allocate;
pub mod backfill;
pub mod enqueue;
pub mod evict;
pub mod preempt;
pub mod reclaim;

pub use caldera_framework::order::{job_before, queue_before, task_order};

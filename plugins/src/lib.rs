//! Caldera's scheduling policies (plugins) and cycle stages (actions), and the registry that
//! assembles them from a Volcano-format configuration into a [`registry::Pipeline`].
#![deny(missing_docs)]
// Data from the API, files and the network must never panic the scheduler: outside tests, no
// unwrap/expect at all (a programming-error invariant says so with a scoped `expect` attribute).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod actions;
pub mod binpack;
pub mod capacity;
pub mod conformance;
pub mod drf;
pub mod gang;
pub mod gpupack;
pub mod nodeorder;
pub mod overcommit;
pub mod predicates;
pub mod priority;
pub mod proportion;
pub mod registry;
pub mod sla;
pub mod task_topology;

pub use registry::{DEFAULT_CONFIG, Pipeline};

//! Caldera's scheduling policies (plugins) and cycle stages (actions), and the registry that
//! assembles them from a Volcano-format configuration into a [`registry::Pipeline`].
#![deny(missing_docs)]

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

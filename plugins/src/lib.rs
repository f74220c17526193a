//! Caldera's scheduling policies (plugins) and cycle stages (actions), and the registry that
//! assembles them from a Volcano-format configuration into a [`registry::Pipeline`].
#![deny(missing_docs)]

pub mod actions;
pub mod binpack;
pub mod conformance;
pub mod drf;
pub mod gang;
pub mod gpupack;
pub mod overcommit;
pub mod predicates;
pub mod priority;
pub mod proportion;
pub mod registry;

pub use registry::{DEFAULT_CONFIG, Pipeline};

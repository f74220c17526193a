//! Caldera's scheduling framework: the I/O-free model, the session and statement that make gangs
//! all-or-nothing, and the plugin and action contracts.
//!
//! This crate does no I/O, reads no clock and iterates no hash map in a decision path: the same
//! [`Snapshot`] and configuration always produce the same [`Outcome`]. The Kubernetes runtime and
//! the simulator both drive it through [`Session`].
#![deny(missing_docs)]
// Data from the API, files and the network must never panic the scheduler: outside tests, no
// unwrap/expect at all (a programming-error invariant says so with a scoped `expect` attribute).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod action;
pub mod config;
pub mod convert;
pub mod duration;
pub mod estimate;
pub mod fit;
pub mod model;
pub mod order;
pub mod outcome;
pub mod placement;
pub mod plugin;
pub mod policy;
pub mod quantity;
pub mod resource;
pub mod rng;
pub mod session;
pub mod shared_specs;
pub mod snapshot;
pub mod statement;
pub mod timeline;

pub use action::Action;
pub use config::{Arguments, ConfigError, ConfigWarning, SchedulerConfig};
pub use model::*;
pub use outcome::Outcome;
pub use plugin::{Hooks, Plugin, PluginSet, Reason, Victims, Vote};
pub use policy::{Reservations, StartPolicy};
pub use resource::{ResourceId, ResourceNames, Resources};
pub use session::Session;
pub use shared_specs::SharedSpecs;
pub use snapshot::{NodeRecord, Snapshot, SnapshotBuilder};
pub use statement::Statement;

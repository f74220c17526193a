//! Caldera's simulator: the real scheduling pipeline against a simulated cluster read from
//! ordinary Kubernetes YAML, in simulated time. It is how users try Caldera without a cluster and
//! how the engine is measured.
#![deny(missing_docs)]
// Data from the API, files and the network must never panic the scheduler: outside tests, no
// unwrap/expect at all (a programming-error invariant says so with a scoped `expect` attribute).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod charts;
pub mod default_scenario;
pub mod html;
pub mod index;
pub mod metrics;
pub mod report;
pub mod scenario;
pub mod series;
pub mod sim;
pub mod trace;

pub use report::{ReportJson, report, table};
pub use scenario::{Diagnostic, Scenario};
pub use sim::{SimOptions, Simulation};

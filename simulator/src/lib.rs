//! Caldera's simulator: the real scheduling pipeline against a simulated cluster read from
//! ordinary Kubernetes YAML, in simulated time. It is how users try Caldera without a cluster and
//! how the engine is measured.
#![deny(missing_docs)]

pub mod charts;
pub mod default_scenario;
pub mod html;
pub mod metrics;
pub mod report;
pub mod scenario;
pub mod series;
pub mod sim;
pub mod trace;

pub use report::{ReportJson, report, table};
pub use scenario::{Diagnostic, Scenario};
pub use sim::{SimOptions, Simulation};

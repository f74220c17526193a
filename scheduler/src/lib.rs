//! The `caldera` scheduler process: the Kubernetes runtime around Caldera's engine.
#![deny(missing_docs)]
// Data from the API, files and the network must never panic the scheduler: outside tests, no
// unwrap/expect at all (a programming-error invariant says so with a scoped `expect` attribute).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod runtime;

//! The `caldera` scheduler process: the Kubernetes runtime around Caldera's engine.
#![deny(missing_docs)]

pub mod runtime;

//! Converting public GPU-cluster traces into simulator input (`caldera trace`).
//!
//! A trace is read from CSV text into [`TraceJob`]s (and, for traces that have one, a node list),
//! a contiguous window of jobs is selected, and [`emit::scenario_yaml`] writes ordinary Kubernetes
//! YAML that `caldera simulate` reads: Nodes, weighted Queues, Volcano PodGroups and their pods with
//! the simulator's submit-at and runtime annotations, and `caldera.dev/expected-runtime` — the true
//! run time times a seeded error factor ([`estimate`]), so backfill can be judged with exact and
//! with wrong estimates. Everything here works on strings: reading files is the caller's job.
//!
//! Supported traces: the Microsoft Philly per-job summary ([`philly`]) and the Alibaba GPU cluster
//! trace v2023 node and pod lists ([`alibaba`]).

pub mod alibaba;
pub mod csv;
pub mod emit;
pub mod estimate;
pub mod philly;
pub mod window;

pub use emit::{ClusterShape, EmitOptions, TraceStats, scenario_yaml};
pub use window::{Window, select};

/// A trace that cannot be converted; says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// The CSV text is malformed or lacks a column.
    #[error("{0}")]
    Format(String),
    /// The options make no sense for this trace.
    #[error("{0}")]
    Options(String),
}

/// One job of a trace, in the trace's own terms.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceJob {
    /// Stable name, unique within the trace (kept through window selection).
    pub name: String,
    /// The trace's grouping of jobs (a Philly virtual cluster, an Alibaba QoS class): the queue.
    pub group: String,
    /// Submission time, in seconds on the trace's own clock.
    pub submit_s: i64,
    /// True run time in seconds.
    pub duration_s: i64,
    /// Whole GPUs the job uses in total.
    pub gpus: u32,
    /// CPU per pod in millicores, when the trace says.
    pub cpu_milli: Option<i64>,
    /// Memory per pod in MiB, when the trace says.
    pub memory_mib: Option<i64>,
    /// GPU models the job may run on (empty: any).
    pub gpu_models: Vec<String>,
}

/// One node of a trace's node list.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceNode {
    /// Node name.
    pub name: String,
    /// Allocatable CPU in millicores.
    pub cpu_milli: i64,
    /// Allocatable memory in MiB.
    pub memory_mib: i64,
    /// Whole GPUs.
    pub gpus: u32,
    /// GPU model (`nvidia.com/gpu.product`), if it has GPUs.
    pub model: Option<String>,
}

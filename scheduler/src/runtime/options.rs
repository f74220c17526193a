//! Flags of `caldera run`, named as kube-scheduler and vc-scheduler name them where they exist.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, ValueEnum};

use caldera_framework::duration::parse_duration;

/// Log output format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms.unsigned_abs())),
        Ok(_) => Err("must be positive".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Options of the in-cluster scheduler process.
#[derive(clap::Args, Debug, Clone)]
pub struct RunOptions {
    /// Kubeconfig file; without it, the in-cluster service account, else ~/.kube/config.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// schedulerName of the pods to schedule (repeatable). Add `volcano` to take over Volcano's pods.
    #[arg(long = "scheduler-name", default_values_t = vec!["caldera".to_string()])]
    pub scheduler_names: Vec<String>,
    /// Scheduler configuration (volcano-scheduler.conf format); reloaded when it changes.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Time between scheduling cycles (a cycle also starts promptly when new work arrives).
    #[arg(long, value_parser = duration, default_value = "1s")]
    pub schedule_period: Duration,
    /// Elect a leader among replicas through a coordination.k8s.io Lease.
    #[arg(long, action = ArgAction::Set, default_value_t = true)]
    pub leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, default_value = "caldera")]
    pub leader_elect_resource_name: String,
    /// Namespace of the Lease (default: this pod's namespace, else caldera-system).
    #[arg(long, env = "POD_NAMESPACE", default_value = "caldera-system")]
    pub leader_elect_resource_namespace: String,
    /// How long a lease is valid without renewal.
    #[arg(long, value_parser = duration, default_value = "15s")]
    pub leader_elect_lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leadership.
    #[arg(long, value_parser = duration, default_value = "10s")]
    pub leader_elect_renew_deadline: Duration,
    /// Time between acquire and renew attempts.
    #[arg(long, value_parser = duration, default_value = "2s")]
    pub leader_elect_retry_period: Duration,
    /// Bind requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub bind_concurrency: usize,
    /// Sustained API requests per second this process may send.
    #[arg(long, default_value_t = 5000.0)]
    pub kube_api_qps: f64,
    /// API requests that may be sent at once above the sustained rate.
    #[arg(long, default_value_t = 10000)]
    pub kube_api_burst: u32,
    /// Address of the admin server (/healthz, /readyz, /metrics, /debug/snapshot).
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen_address: SocketAddr,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// How long the binds of one gang may keep failing before the gang is reported.
    #[arg(long, value_parser = duration, default_value = "30s")]
    pub gang_bind_timeout: Duration,
}

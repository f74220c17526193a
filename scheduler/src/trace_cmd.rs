//! `caldera trace`: converts a public GPU-cluster trace into `caldera simulate` input. The reading
//! of files and writing of the result live here; the conversion is `caldera_simulator::trace`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use caldera_framework::duration::parse_duration;
use caldera_simulator::trace::window::{Start, parse_datetime};
use caldera_simulator::trace::{
    ClusterShape, EmitOptions, TraceError, TraceJob, TraceNode, TraceStats, Window, alibaba, philly, scenario_yaml,
    select,
};

/// Which trace, and its files.
#[derive(clap::Subcommand, Debug)]
pub enum TraceKind {
    /// The Microsoft Philly per-job summary (`timestamp,duration,num_gpus,gpu_time,cluster`) on a
    /// synthetic cluster of identical GPU nodes; virtual clusters become queues.
    Philly {
        /// The CSV file (e.g. philly.csv of the Pollux artifact).
        file: PathBuf,
        /// Nodes of the synthetic cluster.
        #[arg(long, default_value_t = 64)]
        nodes: u32,
        /// GPUs per node.
        #[arg(long, default_value_t = 8)]
        gpus_per_node: u32,
        /// `nvidia.com/gpu.product` label of the nodes.
        #[arg(long)]
        gpu_product: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The Alibaba GPU cluster trace v2023: its node list becomes the nodes, each pod of the pod
    /// list a job of one pod; QoS classes become queues.
    Alibaba {
        /// The pod list (e.g. openb_pod_list_default.csv).
        pods: PathBuf,
        /// The node list (e.g. openb_node_list_gpu_node.csv).
        #[arg(long)]
        node_list: PathBuf,
        /// Use only the first N nodes of the node list.
        #[arg(long)]
        nodes: Option<usize>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Options every trace takes.
#[derive(clap::Args, Debug)]
pub struct CommonArgs {
    /// Window start: a date-time on the trace's clock ("2017-10-02 00:00:00", Philly) or a
    /// duration after the first submission ("504h"). Default: the first submission.
    #[arg(long)]
    from: Option<String>,
    /// Window length, a duration ("168h"). Default: to the end of the trace.
    #[arg(long, value_parser = positive_seconds)]
    window: Option<i64>,
    /// At most this many jobs (the earliest in the window).
    #[arg(long)]
    jobs: Option<usize>,
    /// Largest GPU count of one pod; bigger jobs become gangs. Default: GPUs per node (Philly), 8 (Alibaba).
    #[arg(long)]
    gpus_per_pod: Option<u32>,
    /// Estimate error E >= 1: `caldera.dev/expected-runtime` is the true run time times a factor
    /// log-uniform in [1/E, E]. 1 means exact.
    #[arg(long, default_value_t = 1.0)]
    estimate_error: f64,
    /// Seed of the estimate errors.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the YAML here instead of to standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

fn positive_seconds(s: &str) -> Result<i64, String> {
    match parse_duration(s) {
        Ok(ms) if ms > 0 => Ok(ms / 1000),
        Ok(_) => Err("must be positive".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn window(c: &CommonArgs) -> Result<Window, String> {
    let start = match c.from.as_deref() {
        None => None,
        Some(s) => Some(match parse_datetime(s) {
            Some(t) => Start::At(t),
            None => Start::After(
                parse_duration(s)
                    .map_err(|e| format!("--from: neither a date-time (YYYY-MM-DD HH:MM:SS) nor a duration: {e}"))?
                    / 1000,
            ),
        }),
    };
    Ok(Window {
        start,
        length_s: c.window,
        max_jobs: c.jobs,
    })
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn in_file(path: &Path) -> impl Fn(TraceError) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// A trace read and its window selected, ready to be written with any estimate error.
pub struct Prepared {
    jobs: Vec<TraceJob>,
    nodes: Vec<TraceNode>,
    gpus_per_pod: u32,
    /// `--estimate-error`.
    pub estimate_error: f64,
    seed: u64,
}

impl Prepared {
    /// Reads the trace and selects the window.
    pub fn new(kind: &TraceKind) -> Result<Prepared, String> {
        let (jobs, nodes, default_per_pod, common) = match kind {
            TraceKind::Philly {
                file,
                nodes,
                gpus_per_node,
                gpu_product,
                common,
            } => {
                let jobs = philly::read_jobs(&read(file)?).map_err(in_file(file))?;
                let shape = ClusterShape {
                    nodes: *nodes,
                    gpus_per_node: *gpus_per_node,
                    gpu_product: gpu_product.clone(),
                };
                (jobs, shape.nodes(), *gpus_per_node, common)
            }
            TraceKind::Alibaba {
                pods,
                node_list,
                nodes,
                common,
            } => {
                let (jobs, skipped) = alibaba::read_pods(&read(pods)?).map_err(in_file(pods))?;
                if skipped > 0 {
                    eprintln!("note: {skipped} pods the trace never scheduled have no run time and are left out");
                }
                let mut node_records = alibaba::read_nodes(&read(node_list)?).map_err(in_file(node_list))?;
                if let Some(n) = nodes {
                    node_records.truncate(*n);
                }
                (jobs, node_records, 8, common)
            }
        };
        let (jobs, _) = select(jobs, &window(common)?).map_err(|e| e.to_string())?;
        Ok(Prepared {
            jobs,
            nodes,
            gpus_per_pod: common.gpus_per_pod.unwrap_or(default_per_pod),
            estimate_error: common.estimate_error,
            seed: common.seed,
        })
    }

    /// The simulator input YAML with estimate error `error`.
    pub fn yaml(&self, error: f64) -> Result<(String, TraceStats), String> {
        let opts = EmitOptions {
            gpus_per_pod: self.gpus_per_pod,
            estimate_error: error,
            seed: self.seed,
        };
        scenario_yaml(&self.jobs, &self.nodes, &opts).map_err(|e| e.to_string())
    }
}

/// What the converter says about a window, for people.
pub fn describe(s: &TraceStats) -> String {
    let mut out = format!(
        "wrote {} jobs ({} pods) in {} queues for {} GPUs; submissions span {:.1} h; started at submission, the jobs would need more than the cluster's GPUs for {:.1} h (peak {} GPUs)",
        s.jobs,
        s.pods,
        s.queues.len(),
        s.cluster_gpus,
        s.span_s as f64 / 3600.0,
        s.over_capacity_s as f64 / 3600.0,
        s.peak_demand_gpus
    );
    if s.never_fit > 0 {
        out += &format!("; {} jobs can never fit this cluster", s.never_fit);
    }
    for q in &s.queues {
        out += &format!(
            "\n  queue {:<12} weight {:>4}  {:>6} jobs  {:>10.1} GPU-hours",
            q.name,
            q.weight,
            q.jobs,
            q.gpu_seconds as f64 / 3600.0
        );
    }
    out
}

/// Runs `caldera trace`.
pub fn run(kind: TraceKind) -> ExitCode {
    match convert(&kind) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn convert(kind: &TraceKind) -> Result<(), String> {
    let prepared = Prepared::new(kind)?;
    let (yaml, stats) = prepared.yaml(prepared.estimate_error)?;
    let common = match kind {
        TraceKind::Philly { common, .. } | TraceKind::Alibaba { common, .. } => common,
    };
    match &common.output {
        Some(p) => std::fs::write(p, yaml).map_err(|e| format!("cannot write {}: {e}", p.display()))?,
        None => print!("{yaml}"),
    }
    eprintln!("{}", describe(&stats));
    Ok(())
}

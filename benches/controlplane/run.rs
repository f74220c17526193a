//! One run: a fresh control plane on the shape's seed, the workload, one scheduler, the
//! measurements.
//!
//! ```text
//! backlog: seed ─ control plane ─ objects ─ quiet ─ │start scheduler ─ … ─ last bind│ ─ stop
//! stream:  seed ─ control plane ─ start scheduler ─ quiet ─ │first create … last bind│ ─ stop
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use caldera_e2e::{ControlPlane, ControlPlaneOptions, Error, Result};

use crate::apimetrics;
use crate::create::{create_all, create_backlog, create_stream};
use crate::observe::Observer;
use crate::procstat::{cpu_seconds, load_1m, machine_busy_seconds, peak_rss_bytes};
use crate::sched::{self, Common, Contender};
use crate::settle::quiet;
use crate::shapes::Shape;
use crate::workload;

/// How the work is fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Every pod exists before the scheduler starts.
    Backlog,
    /// Pods are created at a fixed rate while the scheduler runs.
    Stream,
}

impl Mode {
    /// Name in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Backlog => "backlog",
            Mode::Stream => "stream",
        }
    }
}

/// Limits of one run.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Pods per second in stream mode.
    pub stream_rate: f64,
    /// A run ends when no pod was bound for this long.
    pub stall: Duration,
    /// A run ends after this long in any case.
    pub max_run: Duration,
    /// Keep the work dir (logs) of every run, not only of failed ones.
    pub keep: bool,
    /// CRDs for peers.
    pub peer_crds: Option<PathBuf>,
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct RunResult {
    /// Shape name.
    pub shape: String,
    /// Nodes.
    pub nodes: usize,
    /// `backlog` or `stream`.
    pub mode: String,
    /// Contender name.
    pub scheduler: String,
    /// Repetition (1-based).
    pub repeat: u32,
    /// Pods to schedule.
    pub pods: usize,
    /// Pods bound.
    pub bound: usize,
    /// Pods seen on two nodes.
    pub rebound: usize,
    /// Seconds from scheduler start (backlog) or first create (stream) to the last bind.
    pub seconds: f64,
    /// Bound pods per second over `seconds`.
    pub pods_per_s: f64,
    /// Median latency, ms: bind − max(creation, scheduler start).
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Seconds from process start to the first bind.
    pub first_bind_s: f64,
    /// Peak RSS of the scheduler, MiB.
    pub rss_mib: f64,
    /// CPU seconds of the scheduler process, from its start until it is idle after the last bind.
    pub cpu_s: f64,
    /// Binds the API server accepted.
    pub binds_accepted: u64,
    /// Binds the API server refused.
    pub binds_refused: u64,
    /// CPU seconds of kube-apiserver, etcd and kwok during the measured span.
    pub apiserver_cpu_s: f64,
    /// etcd CPU seconds.
    pub etcd_cpu_s: f64,
    /// kwok CPU seconds.
    pub kwok_cpu_s: f64,
    /// The harness's own CPU seconds during the measured span.
    pub harness_cpu_s: f64,
    /// Average busy cores of the whole machine during the measured span.
    pub machine_cores: f64,
    /// 1-minute load average when the scheduler started.
    pub load: f64,
    /// Seconds to create the workload (backlog), or to send it (stream).
    pub create_s: f64,
    /// Other API writes during the measured span, `VERB resource[/sub]=n;…`.
    pub writes: String,
    /// Why the run is not complete (empty if every pod was bound).
    pub problem: String,
    /// How long each phase of the run took (for the log).
    pub phases: String,
}

impl RunResult {
    /// CPU milliseconds per bound pod.
    pub fn cpu_ms_per_pod(&self) -> f64 {
        if self.bound == 0 {
            f64::NAN
        } else {
            self.cpu_s * 1000.0 / self.bound as f64
        }
    }

    /// Every pod bound exactly once, nothing refused that should not be.
    pub fn complete(&self) -> bool {
        self.problem.is_empty()
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn cpu_of(pids: &[(String, u32)], name: &str) -> f64 {
    pids.iter()
        .filter(|(n, _)| n == name)
        .filter_map(|(_, p)| cpu_seconds(*p))
        .sum()
}

/// Runs `scheduler` on `shape` once.
///
/// # Errors
///
/// When the control plane, the workload or the scheduler cannot be started; a scheduler that
/// does not bind everything is a result (with `problem` set), not an error.
pub async fn run(
    shape: &Shape,
    mode: Mode,
    scheduler: &Contender,
    repeat: u32,
    seed: PathBuf,
    common: &Common,
    limits: &Limits,
) -> Result<RunResult> {
    let crd_dir = match scheduler {
        Contender::Peer { .. } => limits.peer_crds.clone(),
        _ => None,
    };
    let opts = ControlPlaneOptions {
        bench: true,
        crd_dir,
        etcd_seed: Some(seed),
        keep_etcd_data: false,
        name: Some(format!(
            "bench-{}-{}-{}-{repeat}",
            shape.name,
            mode.as_str(),
            scheduler.name()
        )),
        stop_timeout: Some(3),
    };
    let t_cp = Instant::now();
    let mut cp = ControlPlane::start_with(&opts).await?;
    let cp_start_s = t_cp.elapsed().as_secs_f64();
    if limits.keep {
        cp.keep_workdir();
    }
    let client = cp.client();
    let objects = workload::objects(shape, scheduler.flavor(), scheduler.name());
    create_all(&client, objects.setup.iter()).await?;
    let observer = Observer::start(client.clone()).await?;
    let components = cp.component_pids();
    let cp_pids: Vec<u32> = components.iter().map(|(_, p)| *p).collect();
    let pods = objects.pods();

    let mut create_s = 0.0;
    let mut settle_s = 0.0;
    if mode == Mode::Backlog {
        create_s = create_backlog(&client, &objects.units, &observer).await?.as_secs_f64();
        settle_s = quiet(&cp_pids, 0.15, Duration::from_secs(1), Duration::from_secs(180))
            .await
            .0
            .as_secs_f64();
    }

    let me = std::process::id();
    let api_before = apimetrics::fetch(&client).await?;
    let cpu_before: BTreeMap<&str, f64> = ["kube-apiserver", "etcd", "kwok"]
        .into_iter()
        .map(|n| (n, cpu_of(&components, n)))
        .collect();
    let harness_before = cpu_seconds(me).unwrap_or(0.0);
    let busy_before = machine_busy_seconds().unwrap_or(0.0);
    let load = load_1m();
    let mut running = sched::start(scheduler, &cp, common)?;
    let span_start = running.started;
    let pid = running
        .pid()
        .ok_or_else(|| Error::msg(format!("{} did not start", scheduler.name())))?;

    let mut t0 = running.started;
    let mut creator = None;
    if mode == Mode::Stream {
        let mut pids = cp_pids.clone();
        pids.push(pid);
        settle_s = quiet(&pids, 0.15, Duration::from_secs(1), Duration::from_secs(120))
            .await
            .0
            .as_secs_f64();
        let (c, units, o, rate) = (
            client.clone(),
            objects.units.clone(),
            observer.clone(),
            limits.stream_rate,
        );
        t0 = Instant::now();
        creator = Some(tokio::spawn(async move {
            let started = Instant::now();
            create_stream(&c, &units, rate, &o).await.map(|_| started.elapsed())
        }));
    }
    let deadline = Instant::now() + limits.max_run;
    let all = observer
        .wait_bound(pods, limits.stall, deadline, || running.alive())
        .await;
    let end_seen = Instant::now();
    if let Some(c) = creator {
        match c.await {
            Ok(Ok(d)) => create_s = d.as_secs_f64(),
            Ok(Err(e)) => return Err(e.context("creating the stream")),
            Err(e) => return Err(Error::msg(format!("creator task: {e}"))),
        }
    }
    let alive = running.alive();
    // The work that follows the binds (events, status writes) is part of the cost: wait until
    // the scheduler is idle (under 5 % of a core for a second, at most 60 s) before reading it.
    let mut tail_s = 0.0;
    if alive {
        tail_s = quiet(&[pid], 0.05, Duration::from_secs(1), Duration::from_secs(60))
            .await
            .0
            .as_secs_f64();
    }
    let cpu_s = cpu_seconds(pid).unwrap_or(f64::NAN);
    let rss = peak_rss_bytes(pid).unwrap_or(0);
    let span = end_seen.duration_since(span_start).as_secs_f64() + tail_s;
    let machine_cores = (machine_busy_seconds().unwrap_or(0.0) - busy_before) / span.max(0.001);
    let harness_cpu_s = cpu_seconds(me).unwrap_or(0.0) - harness_before;
    let cpu_after: BTreeMap<&str, f64> = ["kube-apiserver", "etcd", "kwok"]
        .into_iter()
        .map(|n| (n, cpu_of(&components, n) - cpu_before.get(n).copied().unwrap_or(0.0)))
        .collect();
    let api = apimetrics::fetch(&client).await.map(|a| a.since(&api_before));
    let tail = running.log_tail(30);
    // CALDERA_BENCH_STOP_GRACE (seconds) lets a profiler around the scheduler finish its output.
    let grace = std::env::var("CALDERA_BENCH_STOP_GRACE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    running.stop(grace);

    let seen = observer.results();
    let mut latencies: Vec<f64> = seen
        .pods
        .values()
        .filter_map(|p| {
            let bound = p.bound?;
            let from = p.created.map_or(span_start, |c| c.max(span_start));
            Some(bound.saturating_duration_since(from).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let seconds = seen
        .last_bind
        .map_or(f64::NAN, |l| l.saturating_duration_since(t0).as_secs_f64());
    let mut r = RunResult {
        shape: shape.name.clone(),
        nodes: shape.nodes,
        mode: mode.as_str().to_owned(),
        scheduler: scheduler.name().to_owned(),
        repeat,
        pods,
        bound: seen.bound,
        rebound: seen.rebound.len(),
        seconds,
        pods_per_s: seen.bound as f64 / seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        first_bind_s: seen
            .first_bind
            .map_or(f64::NAN, |f| f.saturating_duration_since(span_start).as_secs_f64()),
        rss_mib: rss as f64 / 1_048_576.0,
        cpu_s,
        apiserver_cpu_s: cpu_after.get("kube-apiserver").copied().unwrap_or(0.0),
        etcd_cpu_s: cpu_after.get("etcd").copied().unwrap_or(0.0),
        kwok_cpu_s: cpu_after.get("kwok").copied().unwrap_or(0.0),
        harness_cpu_s,
        machine_cores,
        load,
        create_s,
        ..RunResult::default()
    };
    let mut problems = Vec::new();
    match api {
        Ok(a) => {
            r.binds_accepted = a.binds_accepted();
            r.binds_refused = a.binds_refused();
            r.writes = a
                .other_writes()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";");
            if usize::try_from(r.binds_accepted).unwrap_or(usize::MAX) != r.bound {
                problems.push(format!(
                    "the API accepted {} binds for {} bound pods",
                    r.binds_accepted, r.bound
                ));
            }
        }
        Err(e) => problems.push(format!("apiserver metrics: {e}")),
    }
    if !all {
        let why = if !alive {
            format!("{} exited; log tail:\n{tail}", scheduler.name())
        } else if Instant::now() >= deadline {
            format!("not done within {:?}", limits.max_run)
        } else {
            format!("no bind for {:?}", limits.stall)
        };
        problems.insert(0, format!("{}/{} pods bound: {why}", r.bound, pods));
    }
    if !seen.rebound.is_empty() {
        problems.push(format!("pods bound twice: {}", seen.rebound.join(", ")));
    }
    r.problem = problems.join("; ");
    if !r.problem.is_empty() {
        cp.keep_workdir();
    }
    // The observer's watch would keep kube-apiserver from exiting promptly.
    drop(observer);
    let t_down = Instant::now();
    drop(cp);
    r.phases = format!(
        "control plane up {cp_start_s:.1}s, workload {create_s:.1}s, quiet {settle_s:.1}s, scheduling {:.1}s \
         (then idle after {tail_s:.1}s), down {:.1}s, watch restarts {}",
        span - tail_s,
        t_down.elapsed().as_secs_f64(),
        seen.watch_restarts
    );
    Ok(r)
}

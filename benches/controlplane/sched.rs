//! The schedulers under test and how each is started: the same client QPS/burst for all, each
//! with its own `schedulerName`, each alone against a fresh control plane.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caldera_e2e::{ControlPlane, Error, KubeScheduler, KubeSchedulerOptions, Result, file_tail, free_port};

use crate::workload::Flavor;

/// A scheduler to benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contender {
    /// `caldera run`, release build.
    Caldera,
    /// The raw binder (`raw-binder`): the ceiling.
    RawBinder,
    /// kube-scheduler 1.37.2 from `e2e/.bin`, default profile, `GenericWorkload` on.
    KubeScheduler,
    /// A binary given with `--peer NAME=PATH`, run with vc-scheduler's flags and conventions.
    Peer {
        /// Its name (also its `schedulerName`).
        name: String,
        /// The binary.
        bin: PathBuf,
    },
}

impl Contender {
    /// Name in the results, and the `schedulerName` its pods carry.
    pub fn name(&self) -> &str {
        match self {
            Contender::Caldera => "caldera",
            Contender::RawBinder => "raw-binder",
            Contender::KubeScheduler => "kube-scheduler",
            Contender::Peer { name, .. } => name,
        }
    }

    /// How its workload is expressed.
    pub fn flavor(&self) -> Flavor {
        match self {
            Contender::Caldera => Flavor::Caldera,
            Contender::RawBinder => Flavor::Raw,
            Contender::KubeScheduler => Flavor::Kube,
            Contender::Peer { .. } => Flavor::Volcano,
        }
    }
}

/// Settings every scheduler gets alike.
#[derive(Clone, Debug)]
pub struct Common {
    /// Client QPS.
    pub qps: f64,
    /// Client burst.
    pub burst: u32,
    /// The caldera binary (release build).
    pub caldera: PathBuf,
    /// The raw binder.
    pub raw_binder: PathBuf,
}

/// vc-scheduler's default actions and tiers (what it runs without `--scheduler-conf`), written
/// out so a peer runs exactly them.
pub const VOLCANO_DEFAULT_CONF: &str = "actions: \"enqueue, allocate, backfill\"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: overcommit
  - name: drf
  - name: predicates
  - name: proportion
  - name: nodeorder
";

/// A started scheduler process.
pub struct Running {
    /// When it was started (just before the process was spawned).
    pub started: Instant,
    log: PathBuf,
    process: Process,
}

enum Process {
    Child(Child),
    Kube(KubeScheduler),
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        match &self.process {
            Process::Child(c) => Some(c.id()),
            Process::Kube(k) => k.pid(),
        }
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        match &mut self.process {
            Process::Child(c) => matches!(c.try_wait(), Ok(None)),
            Process::Kube(k) => k.is_running(),
        }
    }

    /// The last lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        file_tail(&self.log, n)
    }

    /// Stops it: SIGTERM, then SIGKILL after `grace` (nothing it does after the measurement
    /// matters, but a profiler wrapped around it writes its profile on a clean exit).
    pub fn stop(self, grace: Duration) {
        match self.process {
            Process::Child(mut c) => {
                if !grace.is_zero() {
                    let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
                    let end = Instant::now() + grace;
                    while Instant::now() < end && matches!(c.try_wait(), Ok(None)) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                let _ = c.kill();
                let _ = c.wait();
            }
            Process::Kube(k) => drop(k),
        }
    }
}

fn spawn(bin: &Path, args: &[String], log: &Path, env: &[(&str, &str)]) -> Result<Child> {
    let mut f = OpenOptions::new().create(true).append(true).open(log)?;
    writeln!(f, "### controlplane-bench: {} {}", bin.display(), args.join(" "))?;
    let err = f.try_clone()?;
    let mut cmd = Command::new(bin);
    cmd.args(args).stdin(Stdio::null()).stdout(f).stderr(err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .map_err(|e| Error::msg(format!("cannot start {}: {e}", bin.display())))
}

/// Starts `s` against `cp`, logging to `WORKDIR/logs/<name>.log`.
///
/// # Errors
///
/// When the binary is missing or cannot be started.
pub fn start(s: &Contender, cp: &ControlPlane, common: &Common) -> Result<Running> {
    let log = cp.logs_dir().join(format!("{}.log", s.name()));
    let kubeconfig = cp.kubeconfig().display().to_string();
    let (qps, burst) = (common.qps.to_string(), common.burst.to_string());
    match s {
        Contender::Caldera => {
            let args: Vec<String> = [
                "run",
                "--kubeconfig",
                &kubeconfig,
                "--scheduler-name",
                "caldera",
                "--leader-elect=false",
                "--kube-api-qps",
                &qps,
                "--kube-api-burst",
                &burst,
                "--listen-address",
                &format!("127.0.0.1:{}", free_port()?),
            ]
            .map(str::to_owned)
            .to_vec();
            // CALDERA_BENCH_LOG overrides the log filter (e.g. caldera=debug) for profiling runs.
            let filter = std::env::var("CALDERA_BENCH_LOG").unwrap_or_else(|_| "info".to_owned());
            let started = Instant::now();
            let child = spawn(&common.caldera, &args, &log, &[("RUST_LOG", &filter)])?;
            Ok(Running {
                started,
                log,
                process: Process::Child(child),
            })
        }
        Contender::RawBinder => {
            let args: Vec<String> = [
                "--kubeconfig",
                &kubeconfig,
                "--scheduler-name",
                "raw-binder",
                "--concurrency",
                "64",
                "--kube-api-qps",
                &qps,
                "--kube-api-burst",
                &burst,
            ]
            .map(str::to_owned)
            .to_vec();
            let started = Instant::now();
            let child = spawn(&common.raw_binder, &args, &log, &[])?;
            Ok(Running {
                started,
                log,
                process: Process::Child(child),
            })
        }
        Contender::KubeScheduler => {
            let opts = KubeSchedulerOptions {
                scheduler_name: "kube-scheduler".to_owned(),
                qps: common.qps,
                burst: common.burst,
                log_path: Some(log.clone()),
                // CALDERA_BENCH_KUBE_SCHEDULER_V sets klog's --v, to see why it leaves pods pending.
                verbosity: kube_scheduler_verbosity()?,
            };
            let started = Instant::now();
            let k = KubeScheduler::start_with(cp, &opts)?;
            Ok(Running {
                started,
                log,
                process: Process::Kube(k),
            })
        }
        Contender::Peer { name, bin } => {
            let conf = cp.workdir().join(format!("{name}-scheduler.conf"));
            File::create(&conf)?.write_all(VOLCANO_DEFAULT_CONF.as_bytes())?;
            let args: Vec<String> = vec![
                format!("--kubeconfig={kubeconfig}"),
                format!("--scheduler-conf={}", conf.display()),
                format!("--scheduler-name={name}"),
                "--leader-elect=false".to_owned(),
                format!("--kube-api-qps={qps}"),
                format!("--kube-api-burst={burst}"),
                format!("--listen-address=127.0.0.1:{}", free_port()?),
                format!("--healthz-address=127.0.0.1:{}", free_port()?),
            ];
            let started = Instant::now();
            let child = spawn(bin, &args, &log, &[])?;
            Ok(Running {
                started,
                log,
                process: Process::Child(child),
            })
        }
    }
}

/// `CALDERA_BENCH_KUBE_SCHEDULER_V`, when set: a number for kube-scheduler's `--v`.
fn kube_scheduler_verbosity() -> Result<Option<u8>> {
    parse_verbosity(std::env::var("CALDERA_BENCH_KUBE_SCHEDULER_V").ok())
}

fn parse_verbosity(value: Option<String>) -> Result<Option<u8>> {
    let Some(v) = value else { return Ok(None) };
    match v.trim().parse::<u8>() {
        Ok(level) if level <= 10 => Ok(Some(level)),
        _ => Err(Error::msg(format!(
            "CALDERA_BENCH_KUBE_SCHEDULER_V={v:?} is not a klog level (0-10)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_scheduler_verbosity_is_a_klog_level_or_unset() {
        assert_eq!(parse_verbosity(None).ok(), Some(None));
        assert_eq!(parse_verbosity(Some(" 4 ".to_owned())).ok(), Some(Some(4)));
        for bad in ["", "high", "-1", "11", "300"] {
            let err = parse_verbosity(Some(bad.to_owned())).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("CALDERA_BENCH_KUBE_SCHEDULER_V")),
                "{bad:?}: {err:?}"
            );
        }
    }
}

//! kube-scheduler 1.37 as a peer scheduler against a [`ControlPlane`], for side-by-side tests.
//!
//! It runs the harness's own build (`e2e/.bin/kube-scheduler`, made by `e2e/build`) with exactly
//! the configuration and flags `e2e/up --with-scheduler` uses: profile `default-scheduler`,
//! `--feature-gates=GenericWorkload=true` (so it gang-schedules native `scheduling.k8s.io/v1beta1`
//! PodGroups), no leader election, client QPS/burst 5000, secure port on 127.0.0.1. Starting it
//! from the suite instead of through `e2e/up` keeps [`ControlPlane::start`] unchanged; the
//! process logs to `WORKDIR/logs/kube-scheduler.log`, next to the control plane's logs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{ControlPlane, Error, Result, file_tail, free_port, repo_root};

/// Log lines printed when a test fails.
const FAILURE_LOG_LINES: usize = 60;
/// Attempts when the picked port turns out to be taken.
const PORT_ATTEMPTS: u32 = 3;

/// How to run kube-scheduler; the default is what `e2e/up --with-scheduler` runs.
#[derive(Clone, Debug)]
pub struct KubeSchedulerOptions {
    /// The profile's `schedulerName`.
    pub scheduler_name: String,
    /// `clientConnection.qps`.
    pub qps: f64,
    /// `clientConnection.burst`.
    pub burst: u32,
    /// Where it logs (default `WORKDIR/logs/kube-scheduler.log`).
    pub log_path: Option<PathBuf>,
    /// klog's `--v`; `None` keeps kube-scheduler's default. Raised only to find out why it
    /// leaves pods pending, since at 4 and above it logs several lines per pod.
    pub verbosity: Option<u8>,
}

impl Default for KubeSchedulerOptions {
    fn default() -> Self {
        KubeSchedulerOptions {
            scheduler_name: "default-scheduler".to_owned(),
            qps: 5000.0,
            burst: 5000,
            log_path: None,
            verbosity: None,
        }
    }
}

/// A running kube-scheduler (`schedulerName: default-scheduler` unless set otherwise). Dropping it kills the process
/// (SIGKILL, by its pid); after a failed test its log tail is printed.
pub struct KubeScheduler {
    bin: PathBuf,
    config: PathBuf,
    kubeconfig: PathBuf,
    log_path: PathBuf,
    port: u16,
    attempts: u32,
    verbosity: Option<u8>,
    child: Option<Child>,
}

impl KubeScheduler {
    /// Writes `WORKDIR/kube-scheduler.yaml` (the same configuration `e2e/up --with-scheduler`
    /// writes) and starts kube-scheduler against the control plane. Use
    /// [`KubeScheduler::wait_healthy`] to wait until it serves.
    ///
    /// # Errors
    ///
    /// When the binary is missing (run `e2e/build`) or cannot be started.
    pub fn start(cp: &ControlPlane) -> Result<KubeScheduler> {
        Self::start_with(cp, &KubeSchedulerOptions::default())
    }

    /// [`KubeScheduler::start`] with another scheduler name, client QPS/burst or log file.
    ///
    /// # Errors
    ///
    /// As [`KubeScheduler::start`].
    pub fn start_with(cp: &ControlPlane, opts: &KubeSchedulerOptions) -> Result<KubeScheduler> {
        let bin = repo_root().join("e2e/.bin/kube-scheduler");
        if !bin.is_file() {
            return Err(Error::msg(format!(
                "{} does not exist; run e2e/build (ControlPlane::start does)",
                bin.display()
            )));
        }
        let kubeconfig = cp.kubeconfig();
        let config = cp.workdir().join("kube-scheduler.yaml");
        let mut f = File::create(&config)?;
        write!(
            f,
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  \
             kubeconfig: {}\n  qps: {}\n  burst: {}\nleaderElection:\n  leaderElect: false\nprofiles:\n\
             - schedulerName: {}\n",
            kubeconfig.display(),
            opts.qps,
            opts.burst,
            opts.scheduler_name
        )?;
        let mut s = KubeScheduler {
            bin,
            config,
            kubeconfig,
            log_path: opts
                .log_path
                .clone()
                .unwrap_or_else(|| cp.logs_dir().join("kube-scheduler.log")),
            port: 0,
            attempts: 0,
            verbosity: opts.verbosity,
            child: None,
        };
        s.spawn()?;
        Ok(s)
    }

    fn spawn(&mut self) -> Result<()> {
        self.port = free_port()?;
        self.attempts += 1;
        let kc = self.kubeconfig.display().to_string();
        let mut args = vec![
            format!("--config={}", self.config.display()),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--secure-port={}", self.port),
            format!("--authentication-kubeconfig={kc}"),
            format!("--authorization-kubeconfig={kc}"),
            "--authentication-skip-lookup=true".to_owned(),
            "--feature-gates=GenericWorkload=true".to_owned(),
        ];
        if let Some(v) = self.verbosity {
            args.push(format!("--v={v}"));
        }
        let mut log = OpenOptions::new().create(true).append(true).open(&self.log_path)?;
        writeln!(log, "### e2e: {} {}", self.bin.display(), args.join(" "))?;
        let err = log.try_clone()?;
        let child = Command::new(&self.bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::msg(format!("cannot start {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until `https://127.0.0.1:<port>/healthz` answers 200 (checked with `curl -k`, as
    /// `e2e/up` does). A start that failed because the port was taken is retried on a new port.
    ///
    /// # Errors
    ///
    /// Timeout or the process exited (with the log tail).
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let tail = self.log_tail();
                if tail.contains("address already in use") && self.attempts < PORT_ATTEMPTS {
                    self.child = None;
                    self.spawn()?;
                    continue;
                }
                return Err(Error::msg(format!(
                    "kube-scheduler exited ({status}) before /healthz answered; log tail:\n{tail}"
                )));
            }
            let url = format!("https://127.0.0.1:{}/healthz", self.port);
            let out = tokio::process::Command::new("curl")
                .args(["-sk", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", &url])
                .stdin(Stdio::null())
                .output()
                .await
                .map_err(|e| Error::msg(format!("cannot run curl: {e}")))?;
            let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if code == "200" {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::msg(format!(
                    "kube-scheduler did not answer 200 on {url} within {timeout:?} (last: HTTP {code:?}); log tail:\n{}",
                    self.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Where it logs.
    pub fn log_path(&self) -> &std::path::Path {
        &self.log_path
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        file_tail(&self.log_path, FAILURE_LOG_LINES)
    }
}

impl Drop for KubeScheduler {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "e2e: last {FAILURE_LOG_LINES} lines of {}:\n{}\n----- end of kube-scheduler log -----",
                self.log_path.display(),
                self.log_tail()
            );
        }
    }
}

//! One real control plane (etcd, kube-apiserver, kwok) per test, through `e2e/up` / `e2e/down`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::{Error, Result, file_tail, repo_root};

/// How long `e2e/up` gets to write its `ready` file.
const READY_DEADLINE: Duration = Duration::from_secs(120);

/// How to start a [`ControlPlane`]; the default is what the end-to-end tests use.
#[derive(Clone, Debug, Default)]
pub struct ControlPlaneOptions {
    /// `e2e/up --bench`: no apiserver request limits (no max-inflight, no priority and fairness),
    /// more kwok parallelism.
    pub bench: bool,
    /// `e2e/up --crd-dir`: the CRD YAML to apply (default: the repository's `manifests/crds`).
    pub crd_dir: Option<PathBuf>,
    /// `e2e/up --etcd-seed`: start etcd on a copy of this data dir.
    pub etcd_seed: Option<PathBuf>,
    /// `e2e/up --keep-etcd-data`: keep `WORKDIR/etcd-data` at teardown (see [`ControlPlane::stop`]).
    pub keep_etcd_data: bool,
    /// Name of the work dir under `e2e/.work` (a unique suffix is added); default: the test's name.
    pub name: Option<String>,
    /// Seconds kube-apiserver gets to exit at teardown before SIGKILL (`E2E_STOP_TIMEOUT`, default
    /// 30). It lingers while clients stay connected; a benchmark that throws the data away anyway
    /// need not wait.
    pub stop_timeout: Option<u32>,
}

/// A running control plane: etcd, kube-apiserver with the repository's CRDs, and kwok.
///
/// Dropping it stops everything with `e2e/down`. The work dir (kubeconfig, logs of every
/// component and of the caldera processes started against it) is deleted after a passing test
/// and kept after a failing one (the path is printed).
pub struct ControlPlane {
    workdir: PathBuf,
    up: Option<Child>,
    client: Client,
    keep: bool,
    /// Torn down by [`ControlPlane::stop`]; the caller owns the work dir.
    stopped: bool,
    stop_timeout: Option<u32>,
}

impl ControlPlane {
    /// Builds the control plane if needed (`e2e/build`, once per test process), starts
    /// `e2e/up --workdir <new dir under e2e/.work> --no-build`, waits for it to be ready and
    /// returns it with a connected client.
    ///
    /// # Errors
    ///
    /// When `e2e/build` fails (its message says what is missing: Go, the module proxy, ...),
    /// when `e2e/up` exits early (its output is included), or when the control plane is not
    /// ready within 120 s (the kube-apiserver log tail is included).
    pub async fn start() -> Result<ControlPlane> {
        Self::start_with(&ControlPlaneOptions::default()).await
    }

    /// [`ControlPlane::start`] with options (benchmark settings, other CRDs, an etcd seed).
    ///
    /// # Errors
    ///
    /// As [`ControlPlane::start`].
    pub async fn start_with(opts: &ControlPlaneOptions) -> Result<ControlPlane> {
        build_control_plane()?;
        let root = repo_root();
        let workdir = new_workdir(&root, opts.name.as_deref())?;
        let up_log = File::create(workdir.join("up.log"))?;
        let up_err = up_log.try_clone()?;
        let mut up = Command::new(root.join("e2e/up"));
        up.arg("--workdir").arg(&workdir).arg("--no-build");
        if opts.bench {
            up.arg("--bench");
        }
        if let Some(dir) = &opts.crd_dir {
            up.arg("--crd-dir").arg(dir);
        }
        if let Some(seed) = &opts.etcd_seed {
            up.arg("--etcd-seed").arg(seed);
        }
        if opts.keep_etcd_data {
            up.arg("--keep-etcd-data");
        }
        if let Some(t) = opts.stop_timeout {
            up.env("E2E_STOP_TIMEOUT", t.to_string());
        }
        let child = up
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(up_log)
            .stderr(up_err)
            .spawn()
            .map_err(|e| Error::msg(format!("cannot run {}: {e}", root.join("e2e/up").display())))?;
        // From here on, Drop tears down whatever was started, also on the error paths below.
        let mut partial = Partial {
            workdir: workdir.clone(),
            up: Some(child),
            armed: true,
            stop_timeout: opts.stop_timeout,
        };
        let started = Instant::now();
        wait_ready(&workdir, &mut partial, started).await?;
        let client = connect(&workdir.join("kubeconfig")).await?;
        wait_default_namespace(&client).await?;
        let up = partial.up.take();
        partial.armed = false;
        eprintln!(
            "e2e: control plane ready in {:.1}s, work dir {}",
            started.elapsed().as_secs_f64(),
            workdir.display()
        );
        Ok(ControlPlane {
            workdir,
            up,
            client,
            keep: std::env::var_os("CALDERA_E2E_KEEP").is_some(),
            stopped: false,
            stop_timeout: opts.stop_timeout,
        })
    }

    /// A client with the admin token (the `kubeconfig` of the work dir).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The work dir of this instance.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.workdir.join("kubeconfig")
    }

    /// Where component logs go (the caldera processes of this test log here too).
    pub fn logs_dir(&self) -> PathBuf {
        self.workdir.join("logs")
    }

    /// Keep the work dir even if the test passes.
    pub fn keep_workdir(&mut self) {
        self.keep = true;
    }

    /// A value of the `WORKDIR/env` file `e2e/up` writes (`E2E_APISERVER`, `E2E_ETCD`, ...).
    pub fn env(&self, name: &str) -> Option<String> {
        let text = fs::read_to_string(self.workdir.join("env")).ok()?;
        text.lines().find_map(|l| {
            let (k, v) = l.strip_prefix("export ")?.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    /// The components `e2e/up` runs, with their pids (`etcd`, `kube-apiserver`, `kwok`, ...), from
    /// `WORKDIR/pids`.
    pub fn component_pids(&self) -> Vec<(String, u32)> {
        let text = fs::read_to_string(self.workdir.join("pids")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (name, pid) = (f.next()?, f.next()?.parse().ok()?);
                (name != "up").then(|| (name.to_owned(), pid))
            })
            .collect()
    }

    /// Stops the control plane now (rather than when dropped) and returns the work dir, which is
    /// kept; with [`ControlPlaneOptions::keep_etcd_data`] it still holds `etcd-data`, written by a
    /// cleanly stopped etcd.
    pub fn stop(mut self) -> PathBuf {
        teardown(&self.workdir, &mut self.up, self.stop_timeout);
        self.stopped = true;
        self.workdir.clone()
    }

    /// Restarts kube-apiserver with `e2e/restart-apiserver <args> WORKDIR`: the running one is
    /// stopped and a new one started with the same command line (port, flags, certificates), while
    /// etcd keeps every object. Returns once the new one answers `/readyz`, with the script's
    /// summary line (`kube-apiserver restarted: pid A -> B, port P, down Ns`).
    ///
    /// `args` go to the script before the work dir, e.g. `["--stop-timeout", "5"]` or
    /// `["--signal", "KILL"]`. The output goes to `WORKDIR/restart-apiserver.log` as well.
    ///
    /// # Errors
    ///
    /// When the script fails or takes longer than `timeout` (its output is in the message).
    pub async fn restart_apiserver(&self, args: &[&str], timeout: Duration) -> Result<String> {
        let root = repo_root();
        let script = root.join("e2e/restart-apiserver");
        let mut cmd = tokio::process::Command::new(&script);
        cmd.args(args)
            .arg(&self.workdir)
            .current_dir(&root)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(timeout, cmd.output())
            .await
            .map_err(|_| {
                Error::msg(format!(
                    "{} did not finish within {timeout:?}; kube-apiserver log tail:\n{}",
                    script.display(),
                    file_tail(&self.workdir.join("logs/kube-apiserver.log"), 30)
                ))
            })?
            .map_err(|e| Error::msg(format!("cannot run {}: {e}", script.display())))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if let Ok(mut log) = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.workdir.join("restart-apiserver.log"))
        {
            let _ = write!(log, "{stderr}{stdout}");
        }
        if out.status.success() {
            Ok(stdout.trim().to_owned())
        } else {
            Err(Error::msg(format!(
                "{} {} failed ({}):\n{stderr}{stdout}",
                script.display(),
                self.workdir.display(),
                out.status
            )))
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        teardown(&self.workdir, &mut self.up, self.stop_timeout);
        if std::thread::panicking() || self.keep {
            eprintln!(
                "e2e: kept the work dir {} (logs in {}/logs)",
                self.workdir.display(),
                self.workdir.display()
            );
        } else if let Err(e) = fs::remove_dir_all(&self.workdir) {
            eprintln!("e2e: could not remove {}: {e}", self.workdir.display());
        }
    }
}

/// A control plane that is starting: torn down (work dir kept) if starting fails.
struct Partial {
    workdir: PathBuf,
    up: Option<Child>,
    armed: bool,
    stop_timeout: Option<u32>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        teardown(&self.workdir, &mut self.up, self.stop_timeout);
        eprintln!(
            "e2e: the control plane did not start; kept the work dir {}",
            self.workdir.display()
        );
    }
}

/// `e2e/down WORKDIR`, then make sure the `e2e/up` child is gone and reaped.
fn teardown(workdir: &Path, up: &mut Option<Child>, stop_timeout: Option<u32>) {
    let root = repo_root();
    let log = File::create(workdir.join("down.log"));
    let mut down = Command::new(root.join("e2e/down"));
    down.arg(workdir).current_dir(&root).stdin(Stdio::null());
    if let Some(t) = stop_timeout {
        down.env("E2E_STOP_TIMEOUT", t.to_string());
    }
    if let Ok(log) = log {
        if let Ok(err) = log.try_clone() {
            down.stderr(err);
        }
        down.stdout(log);
    }
    match down.status() {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!(
            "e2e: e2e/down {} exited with {s}: {}",
            workdir.display(),
            file_tail(&workdir.join("down.log"), 10)
        ),
        Err(e) => eprintln!("e2e: cannot run e2e/down: {e}"),
    }
    if let Some(mut child) = up.take()
        && !matches!(child.try_wait(), Ok(Some(_)))
    {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Runs `e2e/build` once per process; it is a no-op (0.05 s) when the binaries are current.
fn build_control_plane() -> Result<()> {
    static BUILT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = repo_root();
            let script = root.join("e2e/build");
            let out = Command::new(&script)
                .current_dir(&root)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if out.status.success() {
                return Ok(());
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
            let tail = tail[tail.len().saturating_sub(25)..].join("\n");
            Err(format!(
                "e2e/build failed ({}), so the end-to-end suite cannot run (it never skips).\n\
                 Its output ends with:\n{tail}",
                out.status
            ))
        })
        .clone()
        .map_err(Error::msg)
}

fn new_workdir(root: &Path, name: Option<&str>) -> Result<PathBuf> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let base = root.join("e2e/.work");
    fs::create_dir_all(&base).map_err(|e| Error::msg(format!("cannot create {}: {e}", base.display())))?;
    let thread = std::thread::current();
    let test: String = name
        .or_else(|| thread.name())
        .unwrap_or("test")
        .rsplit("::")
        .next()
        .unwrap_or("test")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let prefix = if name.is_some() { "" } else { "suite." };
    let dir = base.join(format!(
        "{prefix}{test}.{secs}.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).map_err(|e| Error::msg(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

async fn wait_ready(workdir: &Path, partial: &mut Partial, started: Instant) -> Result<()> {
    let ready = workdir.join("ready");
    loop {
        if ready.exists() {
            return Ok(());
        }
        if let Some(child) = partial.up.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(Error::msg(format!(
                "e2e/up exited ({status}) before the control plane was ready. Work dir {}.\n\
                 ----- e2e/up output (last 40 lines) -----\n{}",
                workdir.display(),
                file_tail(&workdir.join("up.log"), 40)
            )));
        }
        if started.elapsed() >= READY_DEADLINE {
            return Err(Error::msg(format!(
                "the control plane was not ready within {}s (no {} yet).\n\
                 ----- e2e/up output (last 20 lines) -----\n{}\n\
                 ----- kube-apiserver log (last 40 lines) -----\n{}",
                READY_DEADLINE.as_secs(),
                ready.display(),
                file_tail(&workdir.join("up.log"), 20),
                file_tail(&workdir.join("logs/kube-apiserver.log"), 40)
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn connect(kubeconfig: &Path) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)
        .map_err(|e| Error::msg(format!("cannot read {}: {e}", kubeconfig.display())))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::msg(format!("bad kubeconfig {}: {e}", kubeconfig.display())))?;
    Client::try_from(config).map_err(|e| Error::msg(format!("cannot build a client: {e}")))
}

/// The apiserver creates `default` shortly after it is ready; the tests put everything there.
async fn wait_default_namespace(client: &Client) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    crate::wait_for("namespace default to exist", Duration::from_secs(30), || async {
        match namespaces.get_opt("default").await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("not found".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

//! The `caldera` binary as a subprocess (`caldera run`) against a [`ControlPlane`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{ControlPlane, Error, HttpResponse, Result, file_tail, free_port, http_get, repo_root};

/// Lines of the caldera log printed when a test fails.
const FAILURE_LOG_LINES: usize = 80;

/// Path of the `caldera` binary the suite runs: `$CALDERA_BIN` if set, else
/// `cargo build -p caldera --bin caldera` (once per test process) and `<target>/debug/caldera`.
///
/// # Errors
///
/// When the build fails (the compiler's last lines are included) or `$CALDERA_BIN` does not exist.
pub fn caldera_binary() -> Result<PathBuf> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("CALDERA_BIN") {
            let bin = PathBuf::from(bin);
            return if bin.is_file() {
                Ok(bin)
            } else {
                Err(format!("CALDERA_BIN={} does not exist", bin.display()))
            };
        }
        let root = repo_root();
        let cargo = std::env::var("CARGO")
            .ok()
            .or_else(|| option_env!("CARGO").map(str::to_owned))
            .unwrap_or_else(|| "cargo".to_owned());
        let out = Command::new(&cargo)
            .args(["build", "-p", "caldera", "--bin", "caldera"])
            .current_dir(&root)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run `{cargo} build -p caldera`: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            return Err(format!(
                "`cargo build -p caldera --bin caldera` failed ({}); its output ends with:\n{}",
                out.status,
                lines[lines.len().saturating_sub(40)..].join("\n")
            ));
        }
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let bin = target.join("debug/caldera");
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("the build succeeded but {} does not exist", bin.display()))
        }
    })
    .clone()
    .map_err(Error::msg)
}

/// A `caldera run` process. Dropping it kills the process; after a failed test its log tail is
/// printed (the whole log stays in the control plane's work dir).
pub struct Caldera {
    bin: PathBuf,
    kubeconfig: PathBuf,
    name: String,
    log_path: PathBuf,
    extra_args: Vec<String>,
    port: u16,
    child: Option<Child>,
}

impl Caldera {
    /// Starts `caldera run --kubeconfig <cp> --leader-elect=false --listen-address 127.0.0.1:<free
    /// port> --schedule-period 200ms` followed by `extra_args`; a default is left out when
    /// `extra_args` sets that flag itself. Output goes to `<workdir>/logs/caldera-<n>.log`.
    ///
    /// It does not wait for the process to become ready: use [`Caldera::wait_healthy`] for that.
    ///
    /// # Errors
    ///
    /// When the binary cannot be built or started.
    pub fn start(cp: &ControlPlane, extra_args: &[&str]) -> Result<Caldera> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let bin = caldera_binary()?;
        let name = format!("caldera-{}", SEQ.fetch_add(1, Ordering::Relaxed));
        let mut c = Caldera {
            bin,
            kubeconfig: cp.kubeconfig(),
            log_path: cp.logs_dir().join(format!("{name}.log")),
            name,
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            port: 0,
            child: None,
        };
        c.spawn()?;
        Ok(c)
    }

    fn spawn(&mut self) -> Result<()> {
        self.port = free_port()?;
        let mut args: Vec<String> = vec![
            "run".into(),
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
        ];
        let listen = format!("127.0.0.1:{}", self.port);
        let defaults = [
            ("--leader-elect", "false"),
            ("--listen-address", listen.as_str()),
            ("--schedule-period", "200ms"),
        ];
        for (flag, value) in defaults {
            if flag == "--listen-address" || !self.has_flag(flag) {
                args.push(format!("{flag}={value}"));
            }
        }
        // An explicit --listen-address would make admin_url() wrong; the suite always picks it.
        args.extend(
            self.extra_args
                .iter()
                .filter(|a| !is_flag(a, "--listen-address"))
                .cloned(),
        );

        let mut log = OpenOptions::new().create(true).append(true).open(&self.log_path)?;
        writeln!(log, "### e2e: {} {}", self.bin.display(), args.join(" "))?;
        let err = log.try_clone()?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(&args).stdin(Stdio::null()).stdout(log).stderr(err);
        if let Some(filter) = std::env::var_os("CALDERA_E2E_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        cmd.env_remove("KUBECONFIG").env_remove("POD_NAMESPACE");
        let child = cmd
            .spawn()
            .map_err(|e| Error::msg(format!("cannot start {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        Ok(())
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.extra_args.iter().any(|a| is_flag(a, flag))
    }

    /// A name for messages, e.g. `caldera-3`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:<port>` of the admin server.
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET <admin_url><path>`.
    ///
    /// # Errors
    ///
    /// When the admin server does not answer within 5 s.
    pub async fn get(&self, path: &str) -> Result<HttpResponse> {
        http_get(&format!("{}{path}", self.admin_url()), Duration::from_secs(5)).await
    }

    /// Waits until `/healthz` answers 200.
    ///
    /// # Errors
    ///
    /// Timeout (with the log tail), or the process exited.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<()> {
        let url = format!("{}/healthz", self.admin_url());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Err(Error::msg(format!(
                    "{} exited ({status}) before /healthz answered; log tail:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            let last = match http_get(&url, Duration::from_secs(2)).await {
                Ok(r) if r.status == 200 => return Ok(()),
                Ok(r) => format!("HTTP {}: {}", r.status, r.body.trim()),
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::msg(format!(
                    "{} did not answer 200 on {url} within {timeout:?} (last: {last}); log tail:\n{}",
                    self.name,
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

    /// The exit status if the process has exited (`None` while it runs or after [`Caldera::kill9`]).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exit_status().is_none()
    }

    /// Waits up to `timeout` for the process to exit and returns its status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.exit_status() {
                return Some(s);
            }
            if self.child.is_none() || tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, and wait until the process is gone.
    ///
    /// # Errors
    ///
    /// When the process cannot be signalled.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            if child.try_wait()?.is_none() {
                child.kill()?;
            }
            child.wait()?;
            self.note("killed with SIGKILL by the test")?;
        }
        Ok(())
    }

    /// SIGTERM (a graceful stop); use [`Caldera::wait_exit`] to see it go.
    ///
    /// # Errors
    ///
    /// When the process is not running or `kill` cannot be run.
    pub fn terminate(&mut self) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| Error::msg(format!("{} is not running", self.name)))?;
        self.note("sent SIGTERM by the test")?;
        let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::msg(format!("kill -TERM {pid} failed: {status}")))
        }
    }

    /// Kills the process if it runs (SIGKILL) and starts it again with the same arguments and a new
    /// admin port; the log continues in the same file.
    ///
    /// # Errors
    ///
    /// When the process cannot be killed or started.
    pub fn restart(&mut self) -> Result<()> {
        self.kill9()?;
        self.spawn()
    }

    /// The last 80 lines of this process's log (colour codes removed).
    pub fn log_tail(&self) -> String {
        strip_ansi(&file_tail(&self.log_path, FAILURE_LOG_LINES))
    }

    /// The whole log so far (colour codes removed).
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| strip_ansi(&String::from_utf8_lossy(&b)))
            .unwrap_or_default()
    }

    /// Where this process logs.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    fn note(&self, what: &str) -> Result<()> {
        let mut log = OpenOptions::new().append(true).open(&self.log_path)?;
        writeln!(log, "### e2e: {what}")?;
        Ok(())
    }
}

impl Drop for Caldera {
    fn drop(&mut self) {
        let exited = self.exit_status();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let state = exited.map_or_else(|| "was running".to_owned(), |s| format!("had exited ({s})"));
            eprintln!(
                "e2e: {} {state}; last {FAILURE_LOG_LINES} lines of {}:\n{}\n----- end of {} -----",
                self.name,
                self.log_path.display(),
                self.log_tail(),
                self.name
            );
        }
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`), which a text log may contain.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn is_flag(arg: &str, flag: &str) -> bool {
    arg == flag || arg.strip_prefix(flag).is_some_and(|rest| rest.starts_with('='))
}

/// Writes `text` to a new file in the control plane's work dir and returns its path
/// (for `--config` files and the like).
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_workdir_file(cp: &ControlPlane, name: &str, text: &str) -> Result<PathBuf> {
    let path = cp.workdir().join(name);
    let mut f = File::create(&path)?;
    f.write_all(text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\u{1b}[2mtime\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m x=1"),
            "time  INFO x=1"
        );
    }

    #[test]
    fn recognises_flags_with_and_without_values() {
        assert!(is_flag("--leader-elect=true", "--leader-elect"));
        assert!(is_flag("--leader-elect", "--leader-elect"));
        assert!(!is_flag("--leader-elect-lease-duration", "--leader-elect"));
    }
}

//! End-to-end test support: the real `caldera` binary against a real control plane.
//!
//! [`ControlPlane::start`] brings up kube-apiserver, etcd and kwok through `e2e/up` (see
//! `docs/e2e.md`) in a fresh work dir under `e2e/.work/`, and tears it down again when dropped,
//! also when the test panics. [`Caldera::start`] runs the `caldera` binary (`caldera run`) as a
//! subprocess against it. The other modules build the objects the tests create and read back what
//! the scheduler wrote, always through the API.
//!
//! Nothing here skips: when Go, kubectl or the binaries are missing, starting fails with a message
//! that names what is missing.

mod caldera;
mod controlplane;
mod error;
mod http;
mod kube_scheduler;
pub mod objects;
pub mod support;
mod wait;

pub use caldera::{Caldera, caldera_binary, strip_ansi, write_workdir_file};
pub use controlplane::{ControlPlane, ControlPlaneOptions};
pub use error::{Error, Result};
pub use http::{HttpResponse, http_get};
pub use kube_scheduler::{KubeScheduler, KubeSchedulerOptions};
pub use objects::*;
pub use wait::{POLL_INTERVAL, wait_for};

use std::path::{Path, PathBuf};

/// The repository root (the directory holding the workspace `Cargo.toml` and `e2e/`).
pub fn repo_root() -> PathBuf {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = suite.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// A free loopback port in 20000-32767 (below the ephemeral range, like `e2e/lib.sh` picks), for
/// the admin and health ports of the processes the suite and the benchmarks start.
///
/// # Errors
///
/// When 500 random tries found no free port.
pub fn free_port() -> Result<u16> {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    for i in 0u32..500 {
        let r = state.hash_one((std::process::id(), i, std::time::SystemTime::now()));
        let port = 20000 + u16::try_from(r % 12768).unwrap_or(0);
        if std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(Error::msg("no free loopback port in 20000-32767"))
}

/// The last `n` lines of a text file, or a note saying why it could not be read.
pub fn file_tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

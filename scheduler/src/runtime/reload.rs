//! Configuration hot reload. The file is polled rather than watched with inotify because a
//! ConfigMap volume updates by swapping a symlink, which inotify watchers on the file itself miss;
//! comparing contents every two seconds is simple and always right. An invalid file keeps the last
//! good configuration and is reported (log line and metric), never fatal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use caldera_framework::SchedulerConfig;
use caldera_plugins::Pipeline;

use super::metrics::Metrics;

/// How often the file is read.
pub const POLL: Duration = Duration::from_secs(2);

/// Parses a configuration text into a pipeline, reporting what it ignores.
pub fn load(text: &str, metrics: &Metrics) -> Result<Pipeline, String> {
    let cfg = SchedulerConfig::parse(text).map_err(|e| e.to_string())?;
    let pipeline = Pipeline::from_config(&cfg).map_err(|e| e.to_string())?;
    for w in &pipeline.warnings {
        warn!(warning = %w, "configuration");
        metrics.config_warning(w.kind);
    }
    Ok(pipeline)
}

/// Reads `path` every [`POLL`] and publishes a new pipeline when its content changes and is valid.
pub async fn watch_file(
    path: PathBuf,
    mut last: String,
    tx: watch::Sender<Arc<Pipeline>>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(POLL) => {}
        }
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot read the configuration file; keeping the current configuration");
                continue;
            }
        };
        if text == last {
            continue;
        }
        last = text;
        match load(&last, &metrics) {
            Ok(p) => {
                metrics.config_reload(true);
                info!(path = %path.display(), "configuration changed");
                if tx.send(Arc::new(p)).is_err() {
                    return;
                }
            }
            Err(e) => {
                metrics.config_reload(false);
                error!(path = %path.display(), error = %e, "the new configuration is invalid; keeping the last good one");
            }
        }
    }
}

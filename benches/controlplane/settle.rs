//! Waiting for quiet: before a scheduler starts (backlog) or pods start arriving (stream), the
//! control plane must have digested what was just created (kwok marking nodes Ready, watch caches
//! filling), so that no scheduler pays for leftovers of the setup.

use std::time::{Duration, Instant};

use crate::procstat::cpu_seconds;

/// Waits until `pids` together used less than `max_cores` of CPU over one `window`, or `timeout`
/// passes. Returns how long it waited and whether it became quiet.
pub async fn quiet(pids: &[u32], max_cores: f64, window: Duration, timeout: Duration) -> (Duration, bool) {
    let started = Instant::now();
    let total = || pids.iter().filter_map(|p| cpu_seconds(*p)).sum::<f64>();
    let mut before = total();
    loop {
        tokio::time::sleep(window).await;
        let now = total();
        if (now - before) / window.as_secs_f64() < max_cores {
            return (started.elapsed(), true);
        }
        if started.elapsed() >= timeout {
            return (started.elapsed(), false);
        }
        before = now;
    }
}

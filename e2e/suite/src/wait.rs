//! Polling until a condition holds, with a timeout message that shows what was last seen.

use std::future::Future;
use std::time::Duration;

use crate::{Error, Result};

/// How often [`wait_for`] checks its condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Checks `check` every [`POLL_INTERVAL`] until it returns `Ok`, and returns that value.
///
/// `check` returns `Err(state)` while the condition does not hold yet, where `state` describes
/// what it observed (also API errors, which are retried). If `timeout` passes first, the error
/// names `desc`, the timeout and the last observed state.
///
/// # Errors
///
/// The timeout, as described above.
pub async fn wait_for<T, F, Fut>(desc: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, String>>,
{
    let start = tokio::time::Instant::now();
    let deadline = start + timeout;
    loop {
        let last = match check().await {
            Ok(v) => return Ok(v),
            Err(state) => state,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::msg(format!(
                "timed out after {:.1}s waiting for {desc}\n  last observed: {last}",
                start.elapsed().as_secs_f64()
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

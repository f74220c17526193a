//! The admin HTTP server: liveness, readiness, Prometheus metrics and a debug snapshot.
//!
//! | path | answer |
//! |---|---|
//! | `GET /healthz` | `200 ok` while the process serves HTTP at all (liveness) |
//! | `GET /readyz` | `200 ready` (leader) or `200 standby` (warm cache, not leader); `503 not ready: <reason>` while starting |
//! | `GET /metrics` | the registry of [`Metrics`], OpenMetrics text |
//! | `GET /debug/snapshot` | a JSON snapshot produced by the scheduler loop, or `503` if the loop does not answer within 5 s |
//!
//! A standby replica reports ready on purpose: it has a warm cache and can take over the lease at
//! any moment, so a rollout should not wait for it to become leader (it never would).
//!
//! The snapshot is produced *by the scheduler loop* between cycles (the server sends it a
//! oneshot channel through [`AdminState::debug`]) rather than read from shared state, so the
//! loop's data needs no locks and the snapshot is always internally consistent.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::metrics::{CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics};

/// How long `/debug/snapshot` waits for the scheduler loop, which only answers between cycles.
const DEBUG_TIMEOUT: Duration = Duration::from_secs(5);

/// What `/readyz` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Not ready yet; the string says what we are waiting for (e.g. "informer caches to sync").
    Starting(String),
    /// Caches synced (for pods: at least every bound pod listed) and this instance is the
    /// leader: scheduling.
    Ready,
    /// Caches synced as for `Ready`, but another instance holds the lease. Still ready (see the module docs).
    Standby,
}

/// Everything the admin handlers need. Cheap to clone: every field is a handle.
#[derive(Clone, Debug)]
pub struct AdminState {
    /// The metrics served on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Current readiness, published by the runtime.
    pub ready: watch::Receiver<Readiness>,
    /// Requests for a debug snapshot: the scheduler loop answers each with a JSON document.
    pub debug: mpsc::Sender<oneshot::Sender<String>>,
}

/// Serves the admin endpoints on `listener` until `shutdown` is cancelled, then stops accepting
/// connections and returns once in-flight requests have finished.
pub async fn serve(listener: TcpListener, state: AdminState, shutdown: CancellationToken) -> std::io::Result<()> {
    serve_with_timeout(listener, state, shutdown, DEBUG_TIMEOUT).await
}

/// [`serve`] with a configurable snapshot timeout, so tests need not wait 5 s.
async fn serve_with_timeout(
    listener: TcpListener,
    state: AdminState,
    shutdown: CancellationToken,
    debug_timeout: Duration,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "admin server listening");
    }
    let app = router(state, debug_timeout);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
        .await
}

#[derive(Clone)]
struct Shared {
    state: AdminState,
    debug_timeout: Duration,
}

fn router(state: AdminState, debug_timeout: Duration) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/debug/snapshot", get(snapshot))
        .with_state(Shared { state, debug_timeout })
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(shared): State<Shared>) -> Response {
    // Clone out of the borrow guard at once: holding it would block the publisher.
    let readiness = shared.state.ready.borrow().clone();
    match readiness {
        Readiness::Ready => (StatusCode::OK, "ready").into_response(),
        Readiness::Standby => (StatusCode::OK, "standby").into_response(),
        Readiness::Starting(reason) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}")).into_response()
        }
    }
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let body = shared.state.metrics.encode();
    (StatusCode::OK, [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], body).into_response()
}

async fn snapshot(State(shared): State<Shared>) -> Response {
    let (reply_tx, reply_rx) = oneshot::channel();
    let debug = shared.state.debug.clone();
    // One deadline covers both queueing the request (the channel may be full) and the answer.
    let exchange = async move {
        debug.send(reply_tx).await.ok()?;
        reply_rx.await.ok()
    };
    match tokio::time::timeout(shared.debug_timeout, exchange).await {
        Ok(Some(json)) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Ok(None) => (StatusCode::SERVICE_UNAVAILABLE, "scheduler loop not running").into_response(),
        Err(_elapsed) => (StatusCode::SERVICE_UNAVAILABLE, "scheduler loop busy").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::SocketAddr;

    use tokio::task::JoinHandle;

    use super::*;

    struct Reply {
        status: u16,
        content_type: Option<String>,
        body: String,
    }

    /// A minimal HTTP/1.1 client: one request per connection, `Connection: close`. Blocking
    /// std I/O on the blocking pool, since this crate does not enable tokio's `io-util`.
    async fn get(addr: SocketAddr, path: &str) -> Reply {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let raw = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("set timeout");
            stream.write_all(request.as_bytes()).expect("write");
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).expect("read");
            raw
        })
        .await
        .expect("client thread");
        let raw = String::from_utf8(raw).expect("utf-8 response");
        let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
        let mut lines = head.lines();
        let status_line = lines.next().expect("status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let content_type = lines.find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        });
        Reply {
            status,
            content_type,
            body: body.to_string(),
        }
    }

    struct Harness {
        addr: SocketAddr,
        ready: watch::Sender<Readiness>,
        shutdown: CancellationToken,
        server: JoinHandle<std::io::Result<()>>,
        metrics: Arc<Metrics>,
    }

    /// Starts a server whose "scheduler loop" is `debug_loop`, fed the request channel.
    async fn start<F, Fut>(debug_timeout: Duration, debug_loop: F) -> Harness
    where
        F: FnOnce(mpsc::Receiver<oneshot::Sender<String>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (ready, ready_rx) = watch::channel(Readiness::Starting("informer caches to sync".into()));
        let (debug_tx, debug_rx) = mpsc::channel(1);
        tokio::spawn(debug_loop(debug_rx));
        let metrics = Metrics::new();
        let state = AdminState {
            metrics: metrics.clone(),
            ready: ready_rx,
            debug: debug_tx,
        };
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_with_timeout(listener, state, shutdown.clone(), debug_timeout));
        Harness {
            addr,
            ready,
            shutdown,
            server,
            metrics,
        }
    }

    async fn answering_loop(mut requests: mpsc::Receiver<oneshot::Sender<String>>) {
        while let Some(reply) = requests.recv().await {
            let _ = reply.send(r#"{"jobs":[],"cycle":7}"#.to_string());
        }
    }

    #[tokio::test]
    async fn health_ready_metrics_and_snapshot() {
        let h = start(DEBUG_TIMEOUT, answering_loop).await;

        let r = get(h.addr, "/healthz").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok"));

        let r = get(h.addr, "/readyz").await;
        assert_eq!(r.status, 503);
        assert_eq!(r.body, "not ready: informer caches to sync");

        h.ready.send_replace(Readiness::Standby);
        let r = get(h.addr, "/readyz").await;
        assert_eq!((r.status, r.body.as_str()), (200, "standby"));

        h.ready.send_replace(Readiness::Ready);
        let r = get(h.addr, "/readyz").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ready"));

        h.metrics.set_leader(true);
        h.metrics.pods_bound(9);
        let r = get(h.addr, "/metrics").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some(METRICS_CONTENT_TYPE));
        assert!(r.body.lines().any(|l| l == "caldera_is_leader 1"), "{}", r.body);
        assert!(r.body.lines().any(|l| l == "caldera_pods_bound_total 9"), "{}", r.body);
        assert!(r.body.ends_with("# EOF\n"));

        let r = get(h.addr, "/debug/snapshot").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        let json: serde_json::Value = serde_json::from_str(&r.body).expect("snapshot is JSON");
        assert_eq!(json["cycle"], 7);

        let r = get(h.addr, "/nope").await;
        assert_eq!(r.status, 404);

        h.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(5), h.server)
            .await
            .expect("server stops on shutdown")
            .expect("server task did not panic");
        assert!(result.is_ok(), "{result:?}");
        assert!(
            std::net::TcpStream::connect(h.addr).is_err(),
            "listener closed after shutdown"
        );
    }

    #[tokio::test]
    async fn snapshot_times_out_when_the_loop_is_busy() {
        // The loop holds the request without answering, as if stuck in a long cycle.
        let h = start(Duration::from_millis(200), |mut requests| async move {
            let mut held = Vec::new();
            while let Some(reply) = requests.recv().await {
                held.push(reply);
            }
        })
        .await;
        let r = get(h.addr, "/debug/snapshot").await;
        assert_eq!((r.status, r.body.as_str()), (503, "scheduler loop busy"));
        h.shutdown.cancel();
        let _ = h.server.await;
    }

    #[tokio::test]
    async fn snapshot_when_the_loop_is_gone() {
        let h = start(DEBUG_TIMEOUT, |requests| async move { drop(requests) }).await;
        // Give the loop task a moment to drop its receiver.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let r = get(h.addr, "/debug/snapshot").await;
        assert_eq!((r.status, r.body.as_str()), (503, "scheduler loop not running"));
        h.shutdown.cancel();
        let _ = h.server.await;
    }
}

//! Binding through the pods/binding subresource: every pod of a gang is sent at once (bounded by
//! `--bind-concurrency` and the API rate limit), transient failures are retried with backoff until
//! the gang's deadline, and each pod's result goes back to the scheduling loop.
//!
//! | API answer | meaning | result |
//! |---|---|---|
//! | 201 | bound | [`BindResult::Bound`] |
//! | 409 Conflict | the pod already has a node (someone bound it, or our earlier attempt did) | [`BindResult::AlreadyBound`]: accepted, never bound twice |
//! | 404 Not Found | the pod is gone | [`BindResult::Gone`] |
//! | 429, 5xx, timeouts, connection errors | transient | retried until the deadline, then [`BindResult::Failed`] |
//! | other 4xx (e.g. the node was deleted) | permanent | [`BindResult::Failed`] at once |

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use super::ratelimit::RateLimiter;
use super::store::Key;

/// One pod to bind.
#[derive(Clone, Debug)]
pub struct BindRequest {
    /// The pod.
    pub pod: Key,
    /// Its UID (a bind is refused if the pod was replaced by one of the same name).
    pub uid: String,
    /// The node.
    pub node: String,
}

/// How one bind ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindResult {
    /// Bound to the node.
    Bound {
        /// The pod.
        pod: Key,
        /// The node.
        node: String,
    },
    /// It already had a node.
    AlreadyBound {
        /// The pod.
        pod: Key,
    },
    /// The pod no longer exists.
    Gone {
        /// The pod.
        pod: Key,
    },
    /// It could not be bound.
    Failed {
        /// The pod.
        pod: Key,
        /// The gang it belongs to (`namespace/name`), for reporting.
        gang: Option<Key>,
        /// Why.
        error: String,
    },
}

/// How many binds are under way (waiting for a slot, or sent), shared with the report writer so
/// that reports yield to binds.
#[derive(Clone, Debug, Default)]
pub struct Activity(Arc<AtomicUsize>);

impl Activity {
    /// Whether a bind is under way.
    pub fn busy(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Sends binds; cheap to clone.
#[derive(Clone)]
pub struct Binder {
    client: Client,
    limiter: RateLimiter,
    slots: Arc<Semaphore>,
    results: mpsc::UnboundedSender<BindResult>,
    deadline: Duration,
    in_flight: Activity,
}

/// Whether an API error is worth retrying.
fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

impl Binder {
    /// A binder with `concurrency` binds in flight at most; results arrive on `results`;
    /// `activity` counts the binds under way.
    pub fn new(
        client: Client,
        limiter: RateLimiter,
        concurrency: usize,
        deadline: Duration,
        results: mpsc::UnboundedSender<BindResult>,
        activity: Activity,
    ) -> Self {
        Binder {
            client,
            limiter,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            results,
            deadline,
            in_flight: activity,
        }
    }

    /// Waits until no bind is in flight, or `timeout` passes (at shutdown, so a gang whose binds
    /// were sent is not cut in half by the process exiting).
    pub async fn drain(&self, timeout: Duration) {
        let end = tokio::time::Instant::now() + timeout;
        while self.in_flight.count() > 0 && tokio::time::Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether a bind is under way.
    pub fn busy(&self) -> bool {
        self.in_flight.busy()
    }

    /// Issues the binds of one gang together.
    pub fn bind_gang(&self, gang: Option<Key>, requests: Vec<BindRequest>) {
        for req in requests {
            let this = self.clone();
            let gang = gang.clone();
            self.in_flight.0.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(async move {
                let result = this.bind_one(&req, gang).await;
                this.in_flight.0.fetch_sub(1, Ordering::AcqRel);
                // The loop may be shutting down; a lost result only means the watch confirms it.
                let _ = this.results.send(result);
            });
        }
    }

    async fn bind_one(&self, req: &BindRequest, gang: Option<Key>) -> BindResult {
        let (ns, name) = &req.pod;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                uid: Some(req.uid.clone()).filter(|u| !u.is_empty()),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(req.node.clone()),
                ..ObjectReference::default()
            },
        };
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            let Ok(slot) = self.slots.acquire().await else {
                return BindResult::Failed {
                    pod: req.pod.clone(),
                    gang,
                    error: "binder closed".into(),
                };
            };
            self.limiter.acquire().await;
            // The API answers a binding with a Status object, not the Binding.
            let sent: Result<serde_json::Value, kube::Error> = api
                .create_subresource("binding", name, &PostParams::default(), &binding)
                .await;
            match sent {
                Ok(_) => {
                    return BindResult::Bound {
                        pod: req.pod.clone(),
                        node: req.node.clone(),
                    };
                }
                Err(e) if code(&e) == Some(409) => {
                    debug!(pod = %format!("{ns}/{name}"), "already bound");
                    return BindResult::AlreadyBound { pod: req.pod.clone() };
                }
                Err(e) if code(&e) == Some(404) => return BindResult::Gone { pod: req.pod.clone() },
                Err(e) if transient(&e) && started.elapsed() + backoff < self.deadline => {
                    warn!(pod = %format!("{ns}/{name}"), error = %e, "bind failed; retrying");
                    drop(slot);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    return BindResult::Failed {
                        pod: req.pod.clone(),
                        gang,
                        error: e.to_string(),
                    };
                }
            }
        }
    }
}

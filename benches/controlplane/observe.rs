//! The observer: one lean list+watch of the measured pods that records, for each pod, when the
//! harness created it and when the API first showed it bound, and catches a pod whose node
//! changes (bound twice).
//!
//! Only `metadata.name` and `spec.nodeName` are decoded, so observing 50,000 pods costs the
//! harness little of the two cores the schedulers and the control plane share. Times are the
//! harness's monotonic clock (creation timestamps on the API have whole-second resolution).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Client;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::core::Request;
use serde::Deserialize;
use tokio::sync::Notify;

use caldera_e2e::{Error, Result};

use crate::shapes::{MEASURED_LABEL, NAMESPACE};

#[derive(Clone, Debug, Deserialize)]
struct LeanMeta {
    #[serde(default)]
    name: String,
    #[serde(rename = "resourceVersion", default)]
    resource_version: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct LeanSpec {
    #[serde(rename = "nodeName", default)]
    node_name: Option<String>,
}

/// A pod reduced to what the observer needs.
#[derive(Clone, Debug, Deserialize)]
struct LeanPod {
    metadata: LeanMeta,
    #[serde(default)]
    spec: LeanSpec,
}

#[derive(Debug, Deserialize)]
struct ListMeta {
    #[serde(rename = "resourceVersion", default)]
    resource_version: Option<String>,
    #[serde(rename = "continue", default)]
    continue_: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LeanList {
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<LeanPod>,
}

/// What is known about one pod.
#[derive(Clone, Debug, Default)]
pub struct PodTimes {
    /// When its create request returned.
    pub created: Option<Instant>,
    /// When the API first showed it bound.
    pub bound: Option<Instant>,
    /// The node.
    pub node: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    pods: HashMap<String, PodTimes>,
    bound: usize,
    first_bind: Option<Instant>,
    last_bind: Option<Instant>,
    /// Pods seen on two different nodes, with both.
    rebound: Vec<String>,
    watch_restarts: u32,
}

/// Records creation and bind times of the measured pods; cheap to clone.
#[derive(Clone)]
pub struct Observer {
    state: Arc<Mutex<State>>,
    progress: Arc<Notify>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

/// The observer's results.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Every pod seen or created.
    pub pods: HashMap<String, PodTimes>,
    /// Pods bound.
    pub bound: usize,
    /// First bind.
    pub first_bind: Option<Instant>,
    /// Last bind.
    pub last_bind: Option<Instant>,
    /// Pods seen bound to two different nodes (never expected: the API refuses a second bind).
    pub rebound: Vec<String>,
    /// Times the watch had to be re-established.
    pub watch_restarts: u32,
}

impl Observer {
    /// Lists the measured pods and watches them from then on, in the background.
    ///
    /// # Errors
    ///
    /// When the first list fails.
    pub async fn start(client: Client) -> Result<Observer> {
        let state = Arc::new(Mutex::new(State::default()));
        let progress = Arc::new(Notify::new());
        let rv = list_into(&client, &state, &progress).await?;
        let (s, p) = (state.clone(), progress.clone());
        let task = tokio::spawn(async move { watch_loop(client, s, p, rv).await });
        Ok(Observer {
            state,
            progress,
            task: Arc::new(task),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The harness created pod `name` at `at`.
    pub fn created(&self, name: &str, at: Instant) {
        self.lock().pods.entry(name.to_owned()).or_default().created = Some(at);
    }

    /// Pods bound so far.
    pub fn bound(&self) -> usize {
        self.lock().bound
    }

    /// Everything recorded so far.
    pub fn results(&self) -> Observed {
        let s = self.lock();
        Observed {
            pods: s.pods.clone(),
            bound: s.bound,
            first_bind: s.first_bind,
            last_bind: s.last_bind,
            rebound: s.rebound.clone(),
            watch_restarts: s.watch_restarts,
        }
    }

    /// Waits until `want` pods are bound (true), no pod has been bound for `stall`, the deadline
    /// passes, or `alive` says the scheduler is gone (false).
    pub async fn wait_bound(
        &self,
        want: usize,
        stall: Duration,
        deadline: Instant,
        mut alive: impl FnMut() -> bool,
    ) -> bool {
        let mut last_count = self.bound();
        let mut last_change = Instant::now();
        loop {
            let n = self.bound();
            if n >= want {
                return true;
            }
            if n != last_count {
                last_count = n;
                last_change = Instant::now();
            }
            if last_change.elapsed() >= stall || Instant::now() >= deadline || !alive() {
                return false;
            }
            let _ = tokio::time::timeout(Duration::from_millis(250), self.progress.notified()).await;
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

fn selector() -> String {
    format!("{MEASURED_LABEL}=true")
}

fn path() -> String {
    format!("/api/v1/namespaces/{NAMESPACE}/pods")
}

fn record(state: &Mutex<State>, pod: &LeanPod, now: Instant) -> bool {
    let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(node) = pod.spec.node_name.as_ref().filter(|n| !n.is_empty()) else {
        s.pods.entry(pod.metadata.name.clone()).or_default();
        return false;
    };
    let entry = s.pods.entry(pod.metadata.name.clone()).or_default();
    match &entry.node {
        Some(old) if old == node => false,
        Some(old) => {
            let msg = format!("{} on {old} and then on {node}", pod.metadata.name);
            s.rebound.push(msg);
            false
        }
        None => {
            entry.node = Some(node.clone());
            entry.bound = Some(now);
            s.bound += 1;
            s.first_bind.get_or_insert(now);
            s.last_bind = Some(now);
            true
        }
    }
}

async fn list_into(client: &Client, state: &Mutex<State>, progress: &Notify) -> Result<String> {
    let mut cont: Option<String> = None;
    loop {
        let mut lp = ListParams::default().labels(&selector()).limit(5000);
        if let Some(c) = &cont {
            lp = lp.continue_token(c);
        }
        let req = Request::new(path())
            .list(&lp)
            .map_err(|e| Error::msg(format!("list request: {e}")))?;
        let list: LeanList = client.request(req).await?;
        let now = Instant::now();
        for p in &list.items {
            record(state, p, now);
        }
        progress.notify_waiters();
        match list.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => cont = Some(c),
            None => return Ok(list.metadata.resource_version.unwrap_or_default()),
        }
    }
}

async fn watch_loop(client: Client, state: Arc<Mutex<State>>, progress: Arc<Notify>, mut rv: String) {
    loop {
        let wp = WatchParams::default().labels(&selector()).timeout(290);
        let stream = match Request::new(path()).watch(&wp, &rv) {
            Ok(req) => client.request_events::<LeanPod>(req).await,
            Err(e) => {
                eprintln!("observer: watch request: {e}");
                return;
            }
        };
        let mut gone = false;
        match stream {
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                while let Some(ev) = stream.next().await {
                    match ev {
                        Ok(WatchEvent::Added(p) | WatchEvent::Modified(p)) => {
                            if let Some(v) = &p.metadata.resource_version {
                                rv.clone_from(v);
                            }
                            if record(&state, &p, Instant::now()) {
                                progress.notify_waiters();
                            }
                        }
                        Ok(WatchEvent::Bookmark(b)) => rv = b.metadata.resource_version,
                        Ok(WatchEvent::Deleted(_)) => {}
                        Ok(WatchEvent::Error(e)) => {
                            gone = e.code == 410;
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            Err(kube::Error::Api(s)) if s.code == 410 => gone = true,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .watch_restarts += 1;
        if gone {
            match list_into(&client, &state, &progress).await {
                Ok(v) => rv = v,
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
}

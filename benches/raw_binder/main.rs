//! The raw binder: the throughput ceiling of the side-by-side benchmark (docs/benchmarks.md).
//!
//! It does what any scheduler must do and nothing else: it watches the pending pods that name it
//! as their `schedulerName` (a metadata-only watch, filtered by the API server) and binds each one,
//! in arrival order, to the next node of a fixed round-robin over the nodes listed at start.
//! `--concurrency` binds are in flight at once (64, as Caldera's `--bind-concurrency`), behind the
//! same client-side QPS/burst limiter Caldera uses. No resources are checked, no gang is kept
//! together, nothing but the binding is written: whatever a real scheduler adds costs throughput
//! relative to this program.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use caldera::runtime::ratelimit::RateLimiter;
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Config};
use tokio::sync::mpsc;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Binds every pending pod of its schedulerName round-robin to the nodes; no logic")]
struct Args {
    /// Kubeconfig of the cluster.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// The schedulerName of the pods to bind.
    #[arg(long, default_value = "raw-binder")]
    scheduler_name: String,
    /// Binds in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Client-side rate limit: sustained requests per second.
    #[arg(long, default_value_t = 5000.0)]
    kube_api_qps: f64,
    /// Client-side rate limit: burst.
    #[arg(long, default_value_t = 5000)]
    kube_api_burst: u32,
}

/// One pod to bind.
struct Target {
    namespace: String,
    name: String,
    uid: Option<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("raw-binder: {e}");
        std::process::exit(1);
    }
}

async fn client(path: &PathBuf) -> Result<Client, String> {
    let kc = Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Client::try_from(config).map_err(|e| e.to_string())
}

async fn node_names(client: &Client) -> Vec<String> {
    let api: Api<Node> = Api::all(client.clone());
    loop {
        match api.list_metadata(&ListParams::default()).await {
            Ok(list) => {
                let mut names: Vec<String> = list.items.into_iter().filter_map(|n| n.metadata.name).collect();
                if !names.is_empty() {
                    names.sort();
                    return names;
                }
                eprintln!("raw-binder: no nodes yet");
            }
            Err(e) => eprintln!("raw-binder: cannot list nodes: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn run(args: Args) -> Result<(), String> {
    let client = client(&args.kubeconfig).await?;
    let nodes = Arc::new(node_names(&client).await);
    eprintln!(
        "raw-binder: {} nodes, binding pods of {:?}",
        nodes.len(),
        args.scheduler_name
    );
    let limiter = RateLimiter::new(args.kube_api_qps, args.kube_api_burst);

    let (tx, rx) = mpsc::unbounded_channel::<Target>();
    let pods: Api<PartialObjectMeta<Pod>> = Api::all(client.clone());
    let selector = format!("spec.schedulerName={},spec.nodeName=", args.scheduler_name);
    tokio::spawn(async move {
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let stream = watcher::watcher(pods, watcher::Config::default().fields(&selector)).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            let meta: ObjectMeta = match ev {
                Ok(Event::Apply(o) | Event::InitApply(o)) => o.metadata,
                Ok(_) => continue,
                Err(e) => {
                    eprintln!("raw-binder: watch error: {e}");
                    continue;
                }
            };
            let (Some(namespace), Some(name)) = (meta.namespace, meta.name) else {
                continue;
            };
            if seen.insert((namespace.clone(), name.clone()))
                && tx
                    .send(Target {
                        namespace,
                        name,
                        uid: meta.uid,
                    })
                    .is_err()
            {
                return;
            }
        }
    });

    let next = Arc::new(AtomicUsize::new(0));
    let bound = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let binds = tokio_stream_of(rx).for_each_concurrent(args.concurrency.max(1), |t| {
        let (client, nodes, limiter) = (client.clone(), nodes.clone(), limiter.clone());
        let (next, bound, refused) = (next.clone(), bound.clone(), refused.clone());
        async move {
            let node = nodes[next.fetch_add(1, Ordering::Relaxed) % nodes.len()].clone();
            if bind(&client, &limiter, &t, &node).await {
                bound.fetch_add(1, Ordering::Relaxed);
            } else {
                refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    tokio::select! {
        () = binds => {}
        _ = tokio::signal::ctrl_c() => {}
        () = terminated() => {}
    }
    eprintln!(
        "raw-binder: {} bound, {} refused",
        bound.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Binds one pod; retries transient errors (429, 5xx, connection) a few times. False if refused.
async fn bind(client: &Client, limiter: &RateLimiter, t: &Target, node: &str) -> bool {
    let api: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(t.name.clone()),
            namespace: Some(t.namespace.clone()),
            uid: t.uid.clone(),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_owned()),
            ..ObjectReference::default()
        },
    };
    for attempt in 0..5u32 {
        limiter.acquire().await;
        let sent: Result<serde_json::Value, kube::Error> = api
            .create_subresource("binding", &t.name, &PostParams::default(), &binding)
            .await;
        match sent {
            Ok(_) => return true,
            Err(kube::Error::Api(s)) if s.code != 429 && s.code < 500 => {
                eprintln!("raw-binder: {}/{}: {} {}", t.namespace, t.name, s.code, s.message);
                return false;
            }
            Err(e) => {
                eprintln!("raw-binder: {}/{}: {e}; retrying", t.namespace, t.name);
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
    false
}

fn tokio_stream_of<T: Send + 'static>(mut rx: mpsc::UnboundedReceiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

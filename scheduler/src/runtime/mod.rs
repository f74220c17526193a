//! `caldera run`: the scheduler process in a cluster. The engine stays I/O-free; this module is
//! the shell around it.
//!
//! ```text
//!  watch (one task per kind) ─▶ Store ─▶ cycle ─▶ Binder (pods/binding)
//!                                        │     └▶ Writer (PodGroup/Queue status, conditions, events)
//!  leader (Lease) ─ is leader? ──────────┤
//!  reload (config file) ─ new pipeline ──┤
//!  admin (HTTP) ◀─ readiness, metrics, /debug/snapshot
//! ```

pub mod admin;
pub mod binder;
pub mod clock;
pub mod cycle;
mod firstlist;
pub mod leader;
pub mod lean;
pub mod metrics;
pub mod options;
pub mod podproto;
mod podwire;
pub mod protolist;
pub mod protowatch;
pub mod ratelimit;
pub mod reload;
pub mod reportqueue;
pub mod status;
pub mod store;
pub mod watch;
pub mod writer;

use std::sync::{Arc, Mutex};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::sync::{mpsc, watch as tokio_watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use caldera_framework::ResourceNames;
use caldera_plugins::{DEFAULT_CONFIG, Pipeline};

pub use options::{LogFormat, RunOptions};

/// Why the process could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration file is missing or invalid at start.
    #[error("configuration {path}: {message}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No usable connection settings.
    #[error("cannot configure the Kubernetes client: {0}")]
    Client(String),
    /// The admin address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// This replica lost its lease and stopped so it can never bind beside the new leader.
    #[error("lost leadership; exiting so a restart rebuilds state from the API")]
    LeadershipLost,
}

async fn client(opts: &RunOptions) -> Result<Client, RunError> {
    let mut config = match &opts.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| RunError::Client(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| RunError::Client(format!("{}: {e}", path.display())))?
        }
        None => Config::infer().await.map_err(|e| RunError::Client(e.to_string()))?,
    };
    // Watches are long; reads and writes are not.
    config.read_timeout = Some(std::time::Duration::from_secs(330));
    Client::try_from(config).map_err(|e| RunError::Client(e.to_string()))
}

fn identity() -> String {
    std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(leader::default_identity)
}

/// Runs the scheduler until SIGTERM/SIGINT (or loss of leadership).
pub async fn run(opts: RunOptions) -> Result<(), RunError> {
    let metrics = metrics::Metrics::new();
    let (config_text, config_path) = match &opts.config {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| RunError::Config {
                path: p.display().to_string(),
                message: e.to_string(),
            })?,
            p.display().to_string(),
        ),
        None => (DEFAULT_CONFIG.to_string(), "(built-in default)".to_string()),
    };
    let pipeline: Pipeline = reload::load(&config_text, &metrics).map_err(|message| RunError::Config {
        path: config_path.clone(),
        message,
    })?;
    info!(config = %config_path, actions = ?pipeline.action_names(), schedulers = ?opts.scheduler_names, "starting");

    let client = client(&opts).await?;
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("shutting down");
            shutdown.cancel();
        });
    }

    let (ready_tx, ready_rx) = tokio_watch::channel(admin::Readiness::Starting("connecting".into()));
    let (debug_tx, debug_rx) = mpsc::channel(4);
    let listener = tokio::net::TcpListener::bind(opts.listen_address)
        .await
        .map_err(|source| RunError::Listen {
            addr: opts.listen_address,
            source,
        })?;
    let admin_state = admin::AdminState {
        metrics: metrics.clone(),
        ready: ready_rx,
        debug: debug_tx,
    };
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = admin::serve(listener, admin_state, shutdown).await {
                error!(error = %e, "admin server stopped");
            }
        });
    }

    let served = watch::discover(&client).await;
    info!(
        volcano = served.volcano,
        coscheduling = served.coscheduling,
        native = served.native,
        "gang APIs served"
    );
    if !served.volcano {
        warn!(
            "scheduling.volcano.sh/v1beta1 is not served: Volcano PodGroups and Queues are ignored (install manifests/crds)"
        );
    }
    if !served.native {
        info!(
            "scheduling.k8s.io/v1beta1 PodGroups are not served (feature gate GenericWorkload off); going on without them"
        );
    }

    let limiter = ratelimit::RateLimiter::new(opts.kube_api_qps, opts.kube_api_burst);
    let me = identity();
    let activity = binder::Activity::default();
    let writer = writer::Writer::new(
        client.clone(),
        limiter.clone(),
        me.clone(),
        metrics.clone(),
        activity.clone(),
    );
    let (leader_tx, leader_rx) = tokio_watch::channel(!opts.leader_elect);
    let leadership_lost = CancellationToken::new();
    if opts.leader_elect {
        let settings = leader::LeaseSettings {
            name: opts.leader_elect_resource_name.clone(),
            namespace: opts.leader_elect_resource_namespace.clone(),
            identity: me.clone(),
            lease_duration: opts.leader_elect_lease_duration,
            renew_deadline: opts.leader_elect_renew_deadline,
            retry_period: opts.leader_elect_retry_period,
        };
        let (client, shutdown, lost) = (client.clone(), shutdown.clone(), leadership_lost.clone());
        tokio::spawn(async move {
            if let Err(e) = leader::run(client, settings, leader_tx, shutdown).await {
                error!(error = %e, "leader election ended");
                lost.cancel();
            }
        });
    } else {
        // Keep the sender alive so the loop never sees the channel close.
        tokio::spawn(async move {
            let _keep = leader_tx;
            std::future::pending::<()>().await;
        });
    }
    metrics.set_leader(!opts.leader_elect);

    if served.volcano && !opts.leader_elect {
        writer.ensure_queues().await;
    } else if served.volcano {
        // Only the leader writes; it creates the queues once it leads.
        let (writer, mut leader_rx) = (writer.clone(), leader_rx.clone());
        tokio::spawn(async move {
            while !*leader_rx.borrow() {
                if leader_rx.changed().await.is_err() {
                    return;
                }
            }
            writer.ensure_queues().await;
        });
    }

    let names = Arc::new(Mutex::new(ResourceNames::default()));
    let (change_tx, change_rx) = mpsc::channel(8192);
    watch::start(
        &client,
        served,
        Arc::new(opts.scheduler_names.clone()),
        names.clone(),
        change_tx,
    );

    let (pipe_tx, pipe_rx) = tokio_watch::channel(Arc::new(pipeline));
    if let Some(path) = opts.config.clone() {
        tokio::spawn(reload::watch_file(
            path,
            config_text,
            pipe_tx,
            metrics.clone(),
            shutdown.clone(),
        ));
    } else {
        tokio::spawn(async move {
            let _keep = pipe_tx;
            std::future::pending::<()>().await;
        });
    }

    let (bind_tx, bind_rx) = mpsc::unbounded_channel();
    let binder = binder::Binder::new(
        client.clone(),
        limiter,
        opts.bind_concurrency,
        opts.gang_bind_timeout,
        bind_tx,
        activity,
    );
    let scheduler = cycle::Scheduler::new(
        store::Store::new(served.kinds()),
        names,
        binder,
        writer,
        metrics,
        opts.schedule_period,
        opts.gang_bind_timeout,
    );
    let stop = CancellationToken::new();
    {
        let (stop, shutdown, lost) = (stop.clone(), shutdown.clone(), leadership_lost.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = lost.cancelled() => {}
            }
            stop.cancel();
        });
    }
    let inputs = cycle::Inputs {
        changes: change_rx,
        binds: bind_rx,
        debug: debug_rx,
        pipeline: pipe_rx,
        leader: leader_rx,
        ready: ready_tx,
        shutdown: stop,
    };
    let binder = scheduler.binder();
    let exit = scheduler.run(inputs).await;
    let by_signal = shutdown.is_cancelled();
    // Let binds already sent finish, and the lease be released, before the runtime stops.
    binder.drain(std::time::Duration::from_secs(10)).await;
    shutdown.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    if !by_signal && (exit == cycle::Exit::LeadershipLost || leadership_lost.is_cancelled()) {
        return Err(RunError::LeadershipLost);
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

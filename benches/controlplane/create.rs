//! Creating objects fast: pre-serialised bodies POSTed with many requests in flight (backlog and
//! seeds), or pods released at a fixed rate (stream).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use kube::Client;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::Request;
use tokio::sync::Semaphore;

use caldera_e2e::{Error, Result};

use crate::observe::Observer;
use crate::workload::{Obj, Unit};

/// Requests in flight while creating a backlog.
pub const CONCURRENCY: usize = 48;

/// POSTs one object; an object that exists already counts as created (a retried request may have
/// landed). Transient failures (429, 5xx, connection errors) are retried for up to a minute.
///
/// # Errors
///
/// A permanent API error, or transient ones for a minute.
pub async fn create(client: &Client, obj: &Obj) -> Result<()> {
    let started = Instant::now();
    let mut backoff = Duration::from_millis(50);
    loop {
        let req = Request::new(&obj.path)
            .create(&PostParams::default(), obj.body.clone())
            .map_err(|e| Error::msg(format!("request for {}: {e}", obj.name)))?;
        match client.request_text(req).await {
            Ok(_) => break,
            Err(kube::Error::Api(s)) if s.code == 409 => break,
            Err(e) if transient(&e) && started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(Error::msg(format!("creating {} {}: {e}", obj.path, obj.name))),
        }
    }
    if let Some(status) = &obj.status {
        let path = format!("{}/{}/status", obj.path, obj.name);
        let patch: serde_json::Value = serde_json::from_slice(status)?;
        let req = Request::new(&obj.path)
            .patch_subresource("status", &obj.name, &PatchParams::default(), &Patch::Merge(&patch))
            .map_err(|e| Error::msg(format!("request for {path}: {e}")))?;
        match client.request_text(req).await {
            // 404: the CRD has no status subresource, so the create kept `status` already.
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(e) => return Err(Error::msg(format!("patching {path}: {e}"))),
        }
    }
    Ok(())
}

fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Creates `objs` with [`CONCURRENCY`] requests in flight; returns how long it took.
///
/// # Errors
///
/// The first object that cannot be created.
pub async fn create_all<'a>(client: &Client, objs: impl Iterator<Item = &'a Obj>) -> Result<Duration> {
    let started = Instant::now();
    let results: Vec<Result<()>> = futures::stream::iter(objs)
        .map(|o| create(client, o))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(started.elapsed())
}

/// Creates a backlog: every PodGroup first, then every pod (so no pod waits for its group).
///
/// # Errors
///
/// As [`create_all`].
pub async fn create_backlog(client: &Client, units: &[Unit], observer: &Observer) -> Result<Duration> {
    let started = Instant::now();
    create_all(client, units.iter().filter_map(|u| u.group.as_ref())).await?;
    let results: Vec<Result<()>> = futures::stream::iter(units.iter().flat_map(|u| u.pods.iter()))
        .map(|o| async move {
            create(client, o).await?;
            observer.created(&o.name, Instant::now());
            Ok(())
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(started.elapsed())
}

/// Creates the units at `rate` pods per second from now: pod k is sent at `k / rate` seconds
/// (a group is sent at its first pod's turn without holding up the pace, and its pods are sent
/// once it exists). Returns when every create has returned, with
/// the time the first create was sent.
///
/// # Errors
///
/// The first object that cannot be created.
pub async fn create_stream(client: &Client, units: &[Unit], rate: f64, observer: &Observer) -> Result<Instant> {
    let started = Instant::now();
    let in_flight = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::new();
    let mut k: u32 = 0;
    for unit in units {
        // The group is sent at its first pod's turn but not awaited here: under a loaded API
        // server a create takes milliseconds, and awaiting each one in the pacing loop slowed a
        // stream of 1,000 gangs of 3 from 250 to about 120 pods/s. Its pods wait for it instead,
        // as they would for a controller that creates the group first.
        let group = unit.group.as_ref().map(|g| {
            let (client, g) = (client.clone(), g.clone());
            tokio::spawn(async move { create(&client, &g).await.map_err(|e| e.to_string()) })
                .map(|joined| joined.map_err(|e| e.to_string()).and_then(|r| r))
                .boxed()
                .shared()
        });
        for pod in &unit.pods {
            let at = started + Duration::from_secs_f64(f64::from(k) / rate.max(0.001));
            k += 1;
            tokio::time::sleep_until(at.into()).await;
            let permit = in_flight
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::msg(format!("creator closed: {e}")))?;
            let (client, pod, observer, group) = (client.clone(), pod.clone(), observer.clone(), group.clone());
            tasks.push(tokio::spawn(async move {
                if let Some(group) = group {
                    group
                        .await
                        .map_err(|e| Error::msg(format!("creating the pod group: {e}")))?;
                }
                let r = create(&client, &pod).await;
                observer.created(&pod.name, Instant::now());
                drop(permit);
                r
            }));
        }
    }
    for t in tasks {
        t.await.map_err(|e| Error::msg(format!("create task: {e}")))??;
    }
    Ok(started)
}

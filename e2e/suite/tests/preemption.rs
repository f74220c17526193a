//! End-to-end tests of preempt, reclaim and EASY backfill under `caldera run`, against the real
//! kube-apiserver with kwok nodes: a high-priority gang preempts a low-priority gang whole (the
//! victims get `DisruptionTarget` and are deleted, the preemptor is bound whole, no gang is left
//! half-running), a queue below its share reclaims from a queue above its own, and a short job is
//! backfilled while a big job's reservation holds, its PodGroup annotated with
//! `caldera.dev/estimated-start`. See docs/preemption-and-backfill.md.
//!
//! Every test starts its own control plane and caldera process and asserts only through the
//! Kubernetes API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caldera_e2e::support::{apply_objects, pod_names, priority_class_json, volcano_podgroup_json, volcano_queue_json};
use caldera_e2e::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::Value;

/// The longest any single wait in this file may take.
const WAIT: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------------------------------------
// helpers

/// Builds caldera first (so no control plane idles during a build), then starts a control plane.
async fn control_plane() -> ControlPlane {
    caldera_binary().expect("the caldera binary must build");
    ControlPlane::start().await.expect("the control plane must start")
}

async fn apply(client: &Client, objects: &[Value]) {
    apply_objects(client, objects)
        .await
        .unwrap_or_else(|e| panic!("applying objects failed: {e}"));
}

/// Records, per pod name, every condition type a pod of [`NS`] was ever seen with at status
/// True, from a watch (a pod that is deleted right after the condition is written is still seen).
struct ConditionRecorder {
    seen: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ConditionRecorder {
    fn start(client: &Client) -> Self {
        let seen: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>> = Arc::default();
        let record = seen.clone();
        let api: Api<Pod> = Api::namespaced(client.clone(), NS);
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Ok(Some(pod)) = stream.try_next().await {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let trues: Vec<String> = pod
                    .status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .filter(|c| c.status == "True")
                    .map(|c| c.type_.clone())
                    .collect();
                if let Ok(mut m) = record.lock() {
                    m.entry(name).or_default().extend(trues);
                }
            }
        });
        ConditionRecorder { seen, task }
    }

    fn had(&self, pod: &str, condition: &str) -> bool {
        self.seen
            .lock()
            .map(|m| m.get(pod).is_some_and(|c| c.contains(condition)))
            .unwrap_or(false)
    }
}

impl Drop for ConditionRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A pod of gang `group` with `gpus` GPUs and PriorityClass `class`.
fn gang_pod(name: &str, group: &str, gpus: u32, class: Option<&str>) -> PodBuilder {
    let p = pod(name, Some(group), gpus);
    match class {
        Some(c) => p.spec_field("priorityClassName", Value::from(c)),
        None => p,
    }
}

/// Waits until none of `names` exists any more.
async fn wait_gone(client: &Client, names: &[String]) {
    wait_for(&format!("pods {names:?} deleted"), WAIT, || async {
        let pods = list_pods(client).await.map_err(|e| e.to_string())?;
        let left: Vec<&String> = names.iter().filter(|n| pods.contains_key(*n)).collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("still there: {left:?}"))
        }
    })
    .await
    .expect("victims deleted");
}

// ---------------------------------------------------------------------------------------------
// preempt

/// Two 8-GPU nodes run a low-priority 2 × 8-GPU gang; a high-priority 2 × 8-GPU gang arrives.
/// Caldera (default configuration, which preempts) marks both low pods `DisruptionTarget`,
/// deletes them, records the preemption on their PodGroup, and binds the high gang whole. At no
/// time is either gang partly bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_priority_gang_preempts_a_low_priority_gang_whole() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");
    apply(
        &client,
        &[
            priority_class_json("e2e-low", 10),
            priority_class_json("e2e-high", 100_000),
        ],
    )
    .await;
    let _sched = Caldera::start(&cp, &[]).expect("caldera must start");
    let conditions = ConditionRecorder::start(&client);
    let bindings = BindingTracker::start(&client);

    let low = pod_names("low", 2);
    apply(&client, &[volcano_podgroup_json("low", 2, None, Some("e2e-low"), &[])]).await;
    create_pods(
        &client,
        &low.iter()
            .map(|n| gang_pod(n, "low", 8, Some("e2e-low")))
            .collect::<Vec<_>>(),
    )
    .await
    .expect("low pods");
    wait_all_bound(&client, &low, WAIT)
        .await
        .expect("the low gang runs first");

    let high = pod_names("high", 2);
    apply(
        &client,
        &[volcano_podgroup_json("high", 2, None, Some("e2e-high"), &[])],
    )
    .await;
    create_pods(
        &client,
        &high
            .iter()
            .map(|n| gang_pod(n, "high", 8, Some("e2e-high")))
            .collect::<Vec<_>>(),
    )
    .await
    .expect("high pods");

    let placed = wait_all_bound(&client, &high, WAIT)
        .await
        .expect("the high gang is bound whole");
    eprintln!("high gang bound: {placed:?}");
    wait_gone(&client, &low).await;
    for p in &low {
        assert!(
            conditions.had(p, "DisruptionTarget"),
            "{p} was deleted without the DisruptionTarget condition first"
        );
    }
    let pg = volcano_podgroup(&client, "low")
        .await
        .expect("get")
        .expect("low PodGroup");
    let by = pg.pointer("/metadata/annotations/caldera.dev~1preempted-by").cloned();
    assert_eq!(by, Some(Value::from(format!("{NS}/high"))), "{pg}");
    assert!(
        pg.pointer("/metadata/annotations/caldera.dev~1preempted-at").is_some(),
        "{pg}"
    );
    let events = events_for(&client, "Pod", &low[0]).await.expect("events");
    assert!(
        events.iter().any(|e| e.reason.as_deref() == Some("Evict")),
        "{}",
        describe_events(&events)
    );
    // Nothing was ever bound twice or moved, and the high gang never ran in part.
    assert!(bindings.moved().is_empty(), "{:?}", bindings.moved());
    let now = placements(&client, &high).await.expect("placements");
    assert!(now.values().all(Option::is_some), "{}", describe_placements(&now));
}

// ---------------------------------------------------------------------------------------------
// reclaim

/// Queues `first` and `second` of equal weight on 2 × 8 GPUs. `first` fills the cluster with four
/// single-pod 4-GPU gangs while `second` is empty; then `second` submits a 2 × 4-GPU gang. Its
/// share is 8 GPUs, so Caldera reclaims two of `first`'s pods (no more) and binds `second`'s gang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_below_its_share_reclaims_from_a_queue_above_its_own() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");
    apply(
        &client,
        &[volcano_queue_json("first", 1), volcano_queue_json("second", 1)],
    )
    .await;
    let _sched = Caldera::start(&cp, &[]).expect("caldera must start");
    let conditions = ConditionRecorder::start(&client);

    let first = pod_names("first", 4);
    let mut objects = Vec::new();
    for n in &first {
        objects.push(volcano_podgroup_json(n, 1, Some("first"), None, &[]));
    }
    apply(&client, &objects).await;
    create_pods(
        &client,
        &first.iter().map(|n| gang_pod(n, n, 4, None)).collect::<Vec<_>>(),
    )
    .await
    .expect("first pods");
    wait_all_bound(&client, &first, WAIT)
        .await
        .expect("first fills the cluster");

    let second = pod_names("second", 2);
    apply(
        &client,
        &[volcano_podgroup_json("second", 2, Some("second"), None, &[])],
    )
    .await;
    create_pods(
        &client,
        &second
            .iter()
            .map(|n| gang_pod(n, "second", 4, None))
            .collect::<Vec<_>>(),
    )
    .await
    .expect("second pods");
    wait_all_bound(&client, &second, WAIT)
        .await
        .expect("second's gang is bound once it has its share back");

    // Exactly two of first's pods went, each marked before it was deleted; two still run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let left = placements(&client, &first).await.expect("placements");
    let running = left.values().filter(|n| n.is_some()).count();
    assert_eq!(running, 2, "{}", describe_placements(&left));
    let evicted: Vec<&String> = first
        .iter()
        .filter(|p| left.get(*p).is_none_or(Option::is_none))
        .collect();
    for p in evicted {
        assert!(conditions.had(p, "DisruptionTarget"), "{p}");
    }
}

// ---------------------------------------------------------------------------------------------
// EASY backfill

/// EASY backfill (`manifests/examples/policies/easy-backfill.yaml`) on 2 × 8 GPUs. `running`
/// holds one node for about 20 s. `big` (2 × 8 GPUs) must wait for it and gets a reservation;
/// behind it `short` (8 GPUs, 5 s) fits on the free node and ends before the reservation, so it is
/// backfilled at once, while `long` (8 GPUs, 10 min) would delay `big` and waits. `big`'s PodGroup
/// carries `caldera.dev/estimated-start` and its condition says when it is expected to start; it
/// is bound whole once `running` ends, before `long`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn easy_backfill_starts_a_short_job_while_the_reservation_of_a_big_one_holds() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");
    let config = write_workdir_file(
        &cp,
        "easy-backfill.yaml",
        include_str!("../../../manifests/examples/policies/easy-backfill.yaml"),
    )
    .expect("config file");
    let config = config.display().to_string();
    let _sched = Caldera::start(&cp, &["--config", &config]).expect("caldera must start");

    let runtime = |p: PodBuilder, d: &str| p.annotation("caldera.dev/expected-runtime", d).complete_after(d);
    apply(&client, &[volcano_podgroup_json("running", 1, None, None, &[])]).await;
    runtime(gang_pod("running-0", "running", 8, None), "20s")
        .create(&client)
        .await
        .expect("running pod");
    wait_all_bound(&client, &["running-0".to_string()], WAIT)
        .await
        .expect("running is bound");

    let big = pod_names("big", 2);
    apply(
        &client,
        &[
            volcano_podgroup_json("big", 2, None, None, &[("caldera.dev/expected-runtime", "60s")]),
            volcano_podgroup_json("short", 1, None, None, &[]),
            volcano_podgroup_json("long", 1, None, None, &[]),
        ],
    )
    .await;
    // big's pods exist before the others: were `long` created first, a cycle could see big short
    // of a pod (no reservation yet, so nothing to protect) and rightly start `long`.
    let big_pods: Vec<PodBuilder> = big
        .iter()
        .map(|n| gang_pod(n, "big", 8, None).complete_after("5s"))
        .collect();
    create_pods(&client, &big_pods).await.expect("big's pods");
    let others = [
        runtime(gang_pod("short-0", "short", 8, None), "5s"),
        gang_pod("long-0", "long", 8, None).annotation("caldera.dev/expected-runtime", "10m"),
    ];
    create_pods(&client, &others).await.expect("short and long");

    wait_all_bound(&client, &["short-0".to_string()], WAIT)
        .await
        .expect("short is backfilled while big waits");
    let big_nodes = placements(&client, &big).await.expect("placements");
    assert!(
        big_nodes.values().all(Option::is_none),
        "big starts only once running ends: {}",
        describe_placements(&big_nodes)
    );
    let pg = wait_for("big's PodGroup to carry its estimated start", WAIT, || async {
        let pg = volcano_podgroup(&client, "big")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no PodGroup big")?;
        let annotated = matches!(
            pg.pointer("/metadata/annotations/caldera.dev~1estimated-start"),
            Some(Value::String(t)) if !t.is_empty()
        );
        let said = condition_of(&pg, "Unschedulable")
            .and_then(|c| c.get("message"))
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("expected to start at"));
        if annotated && said {
            Ok(pg)
        } else {
            Err(format!(
                "annotations: {:?}, conditions: {:?}",
                pg.pointer("/metadata/annotations"),
                pg.pointer("/status/conditions")
            ))
        }
    })
    .await
    .expect("estimated-start annotation and condition message");
    let at = pg
        .pointer("/metadata/annotations/caldera.dev~1estimated-start")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    assert!(at.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "not RFC 3339: {at}");
    eprintln!("big is expected to start at {at}");
    assert!(
        pod_node(&client, "long-0").await.expect("long").is_none(),
        "long would delay big's reservation"
    );

    let placed = wait_all_bound(&client, &big, WAIT)
        .await
        .expect("big is bound whole once running ends");
    eprintln!("big bound: {placed:?}");
    let long = pod_node(&client, "long-0").await.expect("long");
    assert!(
        long.is_none() || placed.values().all(|n| Some(n) != long.as_ref()),
        "{long:?}"
    );
}

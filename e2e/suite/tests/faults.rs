//! End-to-end fault tests: `caldera run` across a kube-apiserver restart, and a scheduler that
//! starts before the cluster has any node or any object of its APIs.
//!
//! Every test starts its own control plane and caldera process and asserts only through the
//! Kubernetes API and caldera's admin server. See docs/e2e.md, "Rust end-to-end suite".

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use caldera_e2e::support::*;
use caldera_e2e::*;
use kube::Client;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// helpers

/// Builds caldera first (so no control plane idles during a build), then starts a control plane.
async fn control_plane() -> ControlPlane {
    caldera_binary().expect("the caldera binary must build");
    ControlPlane::start().await.expect("the control plane must start")
}

fn caldera(cp: &ControlPlane, args: &[&str]) -> Caldera {
    Caldera::start(cp, args).expect("caldera must start")
}

async fn apply(client: &Client, objects: &[Value]) {
    apply_objects(client, objects)
        .await
        .unwrap_or_else(|e| panic!("applying objects failed: {e}"));
}

/// Creates a Volcano PodGroup `name` (minMember `n`, optional queue) and `n` pods of `gpus` GPUs.
async fn volcano_gang(client: &Client, name: &str, n: usize, gpus: u32, queue: Option<&str>) -> Vec<String> {
    let min_member = u32::try_from(n).expect("gang size");
    apply(client, &[volcano_podgroup_json(name, min_member, queue, None, &[])]).await;
    let pods = pod_names(name, n);
    create_pods(
        client,
        &pods.iter().map(|p| pod(p, Some(name), gpus)).collect::<Vec<_>>(),
    )
    .await
    .expect("pods");
    pods
}

/// Waits until a Volcano PodGroup has `phase`.
async fn wait_phase(client: &Client, name: &str, phase: &str, timeout: Duration) {
    wait_for(&format!("PodGroup {name}: phase {phase}"), timeout, || async {
        match volcano_podgroup(client, name).await {
            Ok(Some(pg)) if phase_of(&pg) == phase => Ok(()),
            Ok(Some(pg)) => Err(format!("status = {}", pg.get("status").unwrap_or(&Value::Null))),
            Ok(None) => Err("PodGroup does not exist".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .expect("PodGroup phase");
}

/// Asserts that every node holds at most 8 GPUs (all test nodes here have 8).
async fn assert_no_node_over_8_gpus(client: &Client) {
    let used = usage_by_node(client, GPU).await.expect("usage by node");
    assert!(
        used.values().all(|g| *g <= 8),
        "a node holds more than its 8 GPUs: {used:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// kube-apiserver restart

/// Issue 5 "restart kube-apiserver (etcd keeps data) — the scheduler reconnects and carries on".
///
/// caldera binds a gang; then kube-apiserver is stopped (SIGTERM, SIGKILL after 5 s) and started
/// again with the same flags and port by `e2e/restart-apiserver`, etcd untouched. Afterwards a new
/// gang is bound (the pod and PodGroup watches resumed) and a gang that needs a node created after
/// the restart is bound to it (the node watch resumed). caldera's process never exited, the first
/// gang's pods stayed where they were, and a pod watch saw no pod with two nodeNames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_apiserver_restart_caldera_reconnects_and_binds_new_gangs_without_binding_twice() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");
    let mut sched = caldera(&cp, &[]);
    sched.wait_healthy(Duration::from_secs(30)).await.expect("/healthz");
    let pid = sched.pid().expect("caldera runs");
    let tracker = BindingTracker::start(&client);

    let before = volcano_gang(&client, "before", 2, 4, None).await;
    let before_placed = wait_all_bound(&client, &before, Duration::from_secs(30))
        .await
        .expect("the first gang is bound before the restart");

    let t = Instant::now();
    let summary = cp
        .restart_apiserver(&["--stop-timeout", "5"], Duration::from_secs(60))
        .await
        .expect("kube-apiserver restarts");
    eprintln!("{summary} ({:.1}s in all)", t.elapsed().as_secs_f64());
    assert!(
        sched.is_running(),
        "caldera exited while kube-apiserver was down; log tail:\n{}",
        sched.log_tail()
    );

    // The new gang is created through the test's own client, which reconnects as well.
    let t = Instant::now();
    let after = wait_for("creating a gang after the restart", Duration::from_secs(30), || async {
        // Retried as a whole: the first requests may still meet the old connection.
        apply_objects(&client, &[volcano_podgroup_json("after", 2, None, None, &[])])
            .await
            .map_err(|e| e.to_string())?;
        Ok(pod_names("after", 2))
    })
    .await
    .expect("the API answers after the restart");
    create_pods(
        &client,
        &after.iter().map(|p| pod(p, Some("after"), 4)).collect::<Vec<_>>(),
    )
    .await
    .expect("pods after the restart");
    let after_placed = wait_all_bound(&client, &after, Duration::from_secs(60))
        .await
        .expect("caldera binds a gang created after the kube-apiserver restart");
    eprintln!(
        "gang created after the restart bound in {:.1}s: {after_placed:?}",
        t.elapsed().as_secs_f64()
    );

    // The two nodes are full now; a node created after the restart must be seen and used.
    NodeBuilder::new("gpu-new")
        .gpus(8)
        .create(&client)
        .await
        .expect("new node");
    let big = volcano_gang(&client, "on-new-node", 1, 8, None).await;
    let big_placed = wait_all_bound(&client, &big, Duration::from_secs(30))
        .await
        .expect("caldera uses a node created after the restart");
    assert_eq!(big_placed[&big[0]], "gpu-new", "{big_placed:?}");

    assert!(
        sched.is_running() && sched.pid() == Some(pid),
        "caldera (pid {pid}) must never exit; now {:?}; log tail:\n{}",
        sched.pid(),
        sched.log_tail()
    );
    let now = placements(&client, &before).await.expect("placements");
    for (p, node) in &before_placed {
        assert_eq!(now[p].as_ref(), Some(node), "{p} was on {node} before the restart");
    }
    wait_for(
        "the pod watch to have seen all 5 bound pods",
        Duration::from_secs(20),
        || async {
            match tracker.bound_count() {
                5 => Ok(()),
                n => Err(format!("{n} seen")),
            }
        },
    )
    .await
    .expect("binding tracker");
    assert!(
        tracker.moved().is_empty(),
        "pods bound more than once: {:?}",
        tracker.moved()
    );
    assert_no_node_over_8_gpus(&client).await;
    wait_phase(&client, "after", "Running", Duration::from_secs(20)).await;
    let health = sched.get("/healthz").await.expect("/healthz");
    assert_eq!(health.status, 200, "/healthz after the restart: {}", health.body);

    let reconnect_lines: Vec<String> = sched
        .log()
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("watch") && (l.contains("error") || l.contains("warn") || l.contains("fail"))
        })
        .take(5)
        .map(str::to_owned)
        .collect();
    eprintln!(
        "caldera log lines about the interrupted watches (first 5):\n{}",
        reconnect_lines.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// empty cluster at start

/// Issue 5 / README "Watches": caldera starts before any node exists and before any Queue or
/// PodGroup exists. It becomes ready on the empty lists. A Queue, a Volcano PodGroup in it and its
/// pods created afterwards wait (no node) and are bound once a node appears; a second node and a
/// scheduler-plugins PodGroup created later still are used — the watches see new objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caldera_started_before_any_node_or_object_uses_nodes_and_groups_created_later() {
    let cp = control_plane().await;
    let client = cp.client();
    let mut sched = caldera(&cp, &[]);
    sched.wait_healthy(Duration::from_secs(30)).await.expect("/healthz");
    wait_for(
        "/readyz to answer 200 on an empty cluster",
        Duration::from_secs(30),
        || async {
            match sched.get("/readyz").await {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("HTTP {}: {}", r.status, r.body.trim())),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
    .expect("/readyz");

    // A Queue and a gang in it, with no node at all.
    apply(&client, &[volcano_queue_json("late", 2)]).await;
    let first = volcano_gang(&client, "first", 2, 4, Some("late")).await;
    for p in &first {
        let msg = wait_unschedulable_with(&client, p, "", Duration::from_secs(30))
            .await
            .expect("a gang with no node to go to is reported unschedulable");
        eprintln!("{p} with no nodes: {msg}");
    }
    ensure_unbound_for(&client, &first, Duration::from_secs(1), "there is no node yet")
        .await
        .expect("unbound");

    NodeBuilder::new("gpu-0")
        .gpus(8)
        .create(&client)
        .await
        .expect("node gpu-0");
    let placed = wait_all_bound(&client, &first, Duration::from_secs(30))
        .await
        .expect("the gang is bound once the first node exists");
    assert!(placed.values().all(|n| n == "gpu-0"), "{placed:?}");
    wait_phase(&client, "first", "Running", Duration::from_secs(20)).await;
    wait_for(
        "Queue late: status.allocated nvidia.com/gpu = 8",
        Duration::from_secs(20),
        || async {
            let q = volcano_queue(&client, "late")
                .await
                .map_err(|e| e.to_string())?
                .ok_or("Queue late does not exist")?;
            let alloc = q.pointer("/status/allocated").cloned().unwrap_or(Value::Null);
            match quantity_int(alloc.get(GPU)) {
                Some(8) => Ok(()),
                _ => Err(format!("status.allocated = {alloc}")),
            }
        },
    )
    .await
    .expect("Queue late allocated");

    // gpu-0 is full; a second node and a scheduler-plugins gang, both new, go together.
    NodeBuilder::new("gpu-1")
        .gpus(8)
        .create(&client)
        .await
        .expect("node gpu-1");
    apply(&client, &[sp_podgroup_json("sp-late", 2)]).await;
    let sp = pod_names("sp-late", 2);
    create_pods(
        &client,
        &sp.iter()
            .map(|p| pod(p, None, 4).sp_group("sp-late"))
            .collect::<Vec<_>>(),
    )
    .await
    .expect("sp pods");
    let sp_placed = wait_all_bound(&client, &sp, Duration::from_secs(30))
        .await
        .expect("the scheduler-plugins gang is bound on the second node");
    assert!(sp_placed.values().all(|n| n == "gpu-1"), "{sp_placed:?}");

    let mut per_node: BTreeMap<String, i64> = BTreeMap::new();
    for (node, gpus) in usage_by_node(&client, GPU).await.expect("usage") {
        per_node.insert(node, gpus);
    }
    assert_eq!(
        per_node,
        [("gpu-0".to_owned(), 8), ("gpu-1".to_owned(), 8)].into_iter().collect(),
        "GPUs used per node"
    );
    assert!(
        sched.is_running(),
        "caldera must stay up; log tail:\n{}",
        sched.log_tail()
    );
}

// ---------------------------------------------------------------------------------------------
// start on a full cluster

/// The first pod list is split: pods holding a node first, then, at the same resourceVersion,
/// the pods waiting for one, and scheduling starts once the first part is in
/// (`scheduler/src/runtime/firstlist.rs`).
///
/// Three 8-GPU nodes are full of another scheduler's running pods when caldera starts; a
/// 2 × 4-GPU gang waits. It must stay unbound and be reported (no node is overcommitted because a
/// bound pod had not been listed yet); once one node's pods are deleted it is bound there whole.
/// The split list must succeed against the real API server: caldera never falls back to
/// kube-runtime's watcher, which would hide a broken split behind a plain relist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caldera_started_on_a_full_cluster_counts_every_bound_pod_before_placing_a_waiting_one() {
    let cp = control_plane().await;
    let client = cp.client();
    let nodes = nodes(&client, "gpu", 3, 8, &[]).await.expect("nodes");
    let mut occupants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut builders = Vec::new();
    for node in &nodes {
        for name in pod_names(&format!("held-{node}"), 8) {
            builders.push(
                pod(&name, None, 1)
                    .scheduler("another-scheduler")
                    .spec_field("nodeName", Value::String(node.clone())),
            );
            occupants.entry(node.clone()).or_default().push(name);
        }
    }
    create_pods(&client, &builders).await.expect("bound pods");
    let gang = volcano_gang(&client, "waiting", 2, 4, None).await;

    let mut sched = caldera(&cp, &[]);
    sched.wait_healthy(Duration::from_secs(30)).await.expect("/healthz");
    for p in &gang {
        let msg = wait_unschedulable_with(&client, p, "", Duration::from_secs(30))
            .await
            .expect("the gang is reported unschedulable on the full cluster");
        eprintln!("{p} on a full cluster: {msg}");
    }
    ensure_unbound_for(&client, &gang, Duration::from_secs(2), "every node is full")
        .await
        .expect("unbound");
    assert_no_node_over_8_gpus(&client).await;

    let freed = &nodes[1];
    for p in &occupants[freed] {
        delete_pod(&client, p).await.expect("delete a bound pod");
    }
    let placed = wait_all_bound(&client, &gang, Duration::from_secs(30))
        .await
        .expect("the gang is bound once a node is free");
    assert!(placed.values().all(|n| n == freed), "{placed:?}");
    assert_no_node_over_8_gpus(&client).await;
    let log = sched.log();
    assert!(
        !log.contains("takes over this watch"),
        "the split pod list fell back to kube-runtime's watcher:\n{}",
        sched.log_tail()
    );
    assert!(sched.is_running(), "caldera must stay up");
}

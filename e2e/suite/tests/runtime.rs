//! End-to-end tests of `caldera run` against a real kube-apiserver, etcd and kwok.
//!
//! Every test starts its own control plane (`e2e/up`) and its own caldera process(es), and asserts
//! only through the Kubernetes API and the admin HTTP server. See docs/e2e.md, "Rust end-to-end
//! suite".

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// A Volcano PodGroup in `default`.
fn volcano_pg(name: &str, min_member: u32, queue: Option<&str>, min_resources: &[(&str, &str)]) -> String {
    let mut y = format!(
        "apiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: {name}\n  namespace: {NS}\n\
         spec:\n  minMember: {min_member}\n"
    );
    if let Some(q) = queue {
        y.push_str(&format!("  queue: {q}\n"));
    }
    if !min_resources.is_empty() {
        y.push_str("  minResources:\n");
        for (k, v) in min_resources {
            y.push_str(&format!("    {k}: \"{v}\"\n"));
        }
    }
    y
}

async fn apply(client: &Client, yaml: &str) {
    apply_yaml(client, yaml)
        .await
        .unwrap_or_else(|e| panic!("applying YAML failed: {e}\n{yaml}"));
}

/// Waits until a Volcano PodGroup satisfies `ok`, showing its status while it does not.
async fn wait_pg(client: &Client, name: &str, desc: &str, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("PodGroup {name}: {desc}"), timeout, || async {
        match volcano_podgroup(client, name).await {
            Ok(Some(pg)) if ok(&pg) => Ok(pg),
            Ok(Some(pg)) => Err(format!("status = {}", pg.get("status").unwrap_or(&Value::Null))),
            Ok(None) => Err("PodGroup does not exist".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .expect("PodGroup state")
}

/// Integer value of a quantity such as "12", "12.0" or 12 (enough for GPU counts).
fn quantity_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<f64>().ok().map(|f| f.round() as i64),
        _ => None,
    }
}

/// Asserts that none of `pods` gets bound during `duration`.
async fn assert_stays_unbound(client: &Client, pods: &[String], duration: Duration, why: &str) {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let p = placements(client, pods).await.expect("list pods");
        assert!(
            p.values().all(Option::is_none),
            "{why}: expected no pod bound, but: {}",
            describe_placements(&p)
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Every text where the scheduler may have reported a problem with `object` (a PodGroup or pod
/// name): events regarding it or its pods, PodGroup conditions, pod conditions, log lines naming it.
async fn reports_about(client: &Client, sched: &Caldera, podgroup: &str, pods: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for e in events_for(client, "PodGroup", podgroup).await.unwrap_or_default() {
        out.push(format!(
            "event on PodGroup/{podgroup}: {} {}",
            e.reason.unwrap_or_default(),
            e.note.unwrap_or_default()
        ));
    }
    if let Ok(Some(pg)) = volcano_podgroup(client, podgroup).await {
        for c in pg
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            out.push(format!("PodGroup condition: {c}"));
        }
    }
    for p in pods {
        for e in events_for(client, "Pod", p).await.unwrap_or_default() {
            out.push(format!(
                "event on Pod/{p}: {} {}",
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default()
            ));
        }
        if let Ok(Some(pod)) = get_pod(client, p).await
            && let Some(c) = pod_condition(&pod, "PodScheduled")
        {
            out.push(format!(
                "Pod/{p} PodScheduled={} reason={} message={}",
                c.status,
                c.reason.unwrap_or_default(),
                c.message.unwrap_or_default()
            ));
        }
    }
    for line in sched.log().lines().filter(|l| l.contains(podgroup)) {
        out.push(format!("log: {line}"));
    }
    out
}

/// Waits until some report about `podgroup` mentions one of `keywords`; returns it.
async fn wait_reported(
    client: &Client,
    sched: &Caldera,
    podgroup: &str,
    pods: &[String],
    keywords: &[&str],
    timeout: Duration,
) -> String {
    wait_for(
        &format!("a report (event, condition or log line) about {podgroup} mentioning one of {keywords:?}"),
        timeout,
        || async {
            let reports = reports_about(client, sched, podgroup, pods).await;
            reports
                .iter()
                .find(|r| keywords.iter().any(|k| r.contains(k)))
                .cloned()
                .ok_or_else(|| format!("reports so far: {reports:#?}"))
        },
    )
    .await
    .expect("the bad input must be reported")
}

// ---------------------------------------------------------------------------------------------
// gangs, phases, queues

/// Issue 4 "Binding and status": a Volcano gang that fits is bound whole and its PodGroup moves
/// Pending → Inqueue → Running → Completed with Volcano's counts; Queue `default` shows the GPUs
/// in `status.allocated` while the gang runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcano_gang_that_fits_binds_whole_and_podgroup_goes_pending_inqueue_running_completed() {
    let cp = control_plane().await;
    let client = cp.client();
    let _sched = caldera(&cp, &[]);

    // No nodes yet: minResources (12 GPUs) cannot be admitted, so the scheduler writes Pending.
    apply(&client, &volcano_pg("train", 3, None, &[(GPU, "12"), ("cpu", "300m")])).await;
    let recorder = PhaseRecorder::start(&client, "train");
    wait_pg(
        &client,
        "train",
        "phase Pending (nothing admits 12 GPUs yet)",
        Duration::from_secs(30),
        |pg| phase_of(pg) == "Pending",
    )
    .await;

    // Capacity appears: the group is admitted (Inqueue) before any pod exists, as operators expect.
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");
    wait_pg(
        &client,
        "train",
        "phase Inqueue once 2 x 8 GPUs exist",
        Duration::from_secs(30),
        |pg| phase_of(pg) == "Inqueue",
    )
    .await;

    let pods = names("train", 3);
    let builders: Vec<PodBuilder> = pods
        .iter()
        .map(|n| pod(n, Some("train"), 4).complete_after("8s"))
        .collect();
    create_pods(&client, &builders).await.expect("create pods");
    let placed = wait_all_bound(&client, &pods, Duration::from_secs(30))
        .await
        .expect("gang bound");
    let mut per_node: BTreeMap<&str, u32> = BTreeMap::new();
    for node in placed.values() {
        *per_node.entry(node).or_default() += 4;
    }
    assert!(
        per_node.values().all(|gpus| *gpus <= 8),
        "a node got more than its 8 GPUs: {placed:?}"
    );

    let running = wait_pg(
        &client,
        "train",
        "phase Running with status.running 3",
        Duration::from_secs(30),
        |pg| phase_of(pg) == "Running" && status_int(pg, "running") == 3,
    )
    .await;
    assert_eq!(status_int(&running, "succeeded"), 0, "{running}");

    // Status is written only when it changes: a steady Running gang is not rewritten every cycle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rv = |pg: &Value| pg.pointer("/metadata/resourceVersion").cloned().unwrap_or_default();
    let before = volcano_podgroup(&client, "train").await.expect("get").expect("exists");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = volcano_podgroup(&client, "train").await.expect("get").expect("exists");
    assert_eq!(
        rv(&before),
        rv(&after),
        "the PodGroup was rewritten while nothing changed (10 cycles):\n  before: {}\n  after:  {}",
        before.get("status").unwrap_or(&Value::Null),
        after.get("status").unwrap_or(&Value::Null)
    );

    wait_for(
        "Queue default status.allocated nvidia.com/gpu = 12 while the gang runs",
        Duration::from_secs(20),
        || async {
            let q = volcano_queue(&client, "default").await.map_err(|e| e.to_string())?;
            let q = q.ok_or("Queue default does not exist")?;
            let alloc = q.pointer("/status/allocated").cloned().unwrap_or(Value::Null);
            if quantity_int(alloc.get(GPU)) == Some(12) {
                Ok(())
            } else {
                Err(format!("status.allocated = {alloc}"))
            }
        },
    )
    .await
    .expect("queue allocation");

    let done = wait_pg(
        &client,
        "train",
        "phase Completed after kwok completes the pods (8s)",
        Duration::from_secs(40),
        |pg| phase_of(pg) == "Completed",
    )
    .await;
    assert_eq!(
        status_int(&done, "succeeded"),
        3,
        "status.succeeded after completion: {done}"
    );
    assert_eq!(
        status_int(&done, "running"),
        0,
        "status.running after completion: {done}"
    );

    let seen: Vec<String> = recorder
        .phases_through("Completed", Duration::from_secs(10))
        .await
        .expect("the watch delivers the Completed write")
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(
        seen,
        ["Pending", "Inqueue", "Running", "Completed"],
        "the PodGroup phases written (every write, watched) must follow Volcano's order"
    );

    for p in &pods {
        let events = events_for(&client, "Pod", p).await.expect("events");
        assert!(
            events.iter().any(|e| e.reason.as_deref() == Some("Scheduled")),
            "bound pod {p} has no Scheduled event; its events: {}",
            describe_events(&events)
        );
    }

    wait_for(
        "Queue default status.allocated nvidia.com/gpu back to 0 after completion",
        Duration::from_secs(20),
        || async {
            let q = volcano_queue(&client, "default").await.map_err(|e| e.to_string())?;
            let alloc = q
                .and_then(|q| q.pointer("/status/allocated").cloned())
                .unwrap_or(Value::Null);
            match quantity_int(alloc.get(GPU)) {
                None | Some(0) => Ok(()),
                Some(_) => Err(format!("status.allocated = {alloc}")),
            }
        },
    )
    .await
    .expect("queue allocation released");
}

/// Issue 4: a gang that does not fit stays entirely unbound; every pod says why (PodScheduled
/// False/Unschedulable, one FailedScheduling event, not one per cycle); the PodGroup has Volcano's
/// Unschedulable condition; once a node is added the gang binds whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcano_gang_that_does_not_fit_stays_unbound_with_reasons_then_binds_whole_when_a_node_is_added() {
    let cp = control_plane().await;
    let client = cp.client();
    let _sched = caldera(&cp, &[]);
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");

    apply(&client, &volcano_pg("big", 3, None, &[])).await;
    let pods = names("big", 3);
    // 3 x 5 GPUs = 15 <= 16 in total, but each 8-GPU node holds only one such pod: the gang
    // fails on placement (fragmentation), not on total capacity.
    let builders: Vec<PodBuilder> = pods.iter().map(|n| pod(n, Some("big"), 5)).collect();
    create_pods(&client, &builders).await.expect("create pods");

    // Every pod: PodScheduled=False, reason Unschedulable, a message that names the GPU shortage.
    let messages = wait_for(
        "every pod of the gang to have PodScheduled=False reason Unschedulable with a message",
        Duration::from_secs(30),
        || async {
            let mut msgs = BTreeMap::new();
            for p in &pods {
                let pod = get_pod(&client, p)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("pod missing")?;
                if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                    return Err(format!("pod {p} was bound although the gang cannot fit"));
                }
                match pod_condition(&pod, "PodScheduled") {
                    Some(c)
                        if c.status == "False"
                            && c.reason.as_deref() == Some("Unschedulable")
                            && c.message.as_deref().is_some_and(|m| !m.is_empty()) =>
                    {
                        msgs.insert(p.clone(), c.message.unwrap_or_default());
                    }
                    other => return Err(format!("pod {p} PodScheduled condition: {other:?}")),
                }
            }
            Ok(msgs)
        },
    )
    .await
    .expect("pod conditions");
    for (p, m) in &messages {
        eprintln!("pod {p}: PodScheduled=False Unschedulable: {m}");
        assert!(
            m.contains(GPU) && (m.contains("nodes are available") || m.contains("gang unschedulable")),
            "pod {p}: the message should be the aggregated reason naming {GPU}, got {m:?}"
        );
    }

    // The PodGroup: Volcano's Unschedulable condition, "k/n tasks in gang unschedulable: ...".
    let pg = wait_pg(
        &client,
        "big",
        "condition Unschedulable (True) saying \"tasks in gang unschedulable\"",
        Duration::from_secs(20),
        // While the pods are still arriving the condition says the gang has too few pods; the
        // test waits for the reason that holds once all three exist.
        |pg| {
            condition_of(pg, "Unschedulable").is_some_and(|c| {
                c.get("status").and_then(Value::as_str) == Some("True")
                    && c.get("message")
                        .and_then(Value::as_str)
                        .is_some_and(|m| m.contains("tasks in gang unschedulable"))
            })
        },
    )
    .await;
    let cond = condition_of(&pg, "Unschedulable").cloned().unwrap_or_default();
    let msg = cond
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    eprintln!("PodGroup big: Unschedulable: {msg}");
    let (counts, rest) = msg.split_once(' ').unwrap_or_default();
    let (k, n) = counts.split_once('/').unwrap_or_default();
    let (k, n) = (k.parse::<u32>().unwrap_or(0), n.parse::<u32>().unwrap_or(0));
    assert!(
        rest.starts_with("tasks in gang unschedulable") && n == 3 && (1..=3).contains(&k),
        "PodGroup Unschedulable message must start with \"k/3 tasks in gang unschedulable\", got {msg:?}"
    );

    // One FailedScheduling event per pod, and not one per cycle (cycles run every 200 ms).
    let count_failed = || async {
        let mut counts = BTreeMap::new();
        for p in &pods {
            let ev = events_for(&client, "Pod", p).await.expect("events");
            let failed: Vec<_> = ev
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
                .collect();
            counts.insert(p.clone(), failed);
        }
        counts
    };
    wait_for(
        "a FailedScheduling event (events.k8s.io/v1) for every pod",
        Duration::from_secs(20),
        || async {
            let c = count_failed().await;
            if c.values().all(|v| !v.is_empty()) {
                Ok(())
            } else {
                Err(format!(
                    "FailedScheduling events per pod: {:?}",
                    c.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>()
                ))
            }
        },
    )
    .await
    .expect("FailedScheduling events");
    assert_stays_unbound(
        &client,
        &pods,
        Duration::from_secs(5),
        "the gang cannot fit on 2 x 8 GPUs",
    )
    .await;
    let later = count_failed().await;
    for (p, evs) in &later {
        eprintln!(
            "pod {p}: FailedScheduling events after 5 s more: {}",
            describe_events(evs)
        );
        assert!(
            evs.len() <= 2,
            "pod {p}: {} FailedScheduling events after ~25 cycles; a pending pod must not get an event per cycle:\n    {}",
            evs.len(),
            describe_events(evs)
        );
    }

    // Capacity frees up: the whole gang binds.
    NodeBuilder::new("gpu-2")
        .gpus(8)
        .create(&client)
        .await
        .expect("third node");
    let placed = wait_all_bound(&client, &pods, Duration::from_secs(30))
        .await
        .expect("gang binds whole");
    let distinct: std::collections::BTreeSet<&String> = placed.values().collect();
    assert_eq!(distinct.len(), 3, "three 5-GPU pods need three 8-GPU nodes: {placed:?}");
    wait_pg(&client, "big", "phase Running", Duration::from_secs(20), |pg| {
        phase_of(pg) == "Running"
    })
    .await;
}

/// A gang short of pods (minMember 3, two pods so far, added one at a time) is waiting for its
/// controller, not failing to schedule: its PodGroup has the Unschedulable condition with
/// Volcano's NotEnoughTasks reason and one event for it (not one per pod that arrives), its pods
/// get no PodScheduled=False condition and no FailedScheduling event; the third pod makes it bind
/// whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gang_short_of_pods_is_reported_on_its_podgroup_only_then_binds_whole() {
    let cp = control_plane().await;
    let client = cp.client();
    let _sched = caldera(&cp, &[]);
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");

    apply(&client, &volcano_pg("short", 3, None, &[])).await;
    let pods = names("short", 3);
    for p in &pods[..2] {
        create_pods(&client, &[pod(p, Some("short"), 1)])
            .await
            .expect("create pod");
        // Let a cycle or two see the gang at this count.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    wait_pg(
        &client,
        "short",
        "condition Unschedulable (True), reason NotEnoughTasks, counting 2 of 3",
        Duration::from_secs(20),
        |pg| {
            condition_of(pg, "Unschedulable").is_some_and(|c| {
                c.get("status").and_then(Value::as_str) == Some("True")
                    && c.get("reason").and_then(Value::as_str) == Some("NotEnoughTasks")
                    && c.get("message")
                        .and_then(Value::as_str)
                        .is_some_and(|m| m.contains("valid: 2, min: 3"))
            })
        },
    )
    .await;
    assert_stays_unbound(&client, &pods[..2], Duration::from_secs(3), "the gang lacks a pod").await;
    for p in &pods[..2] {
        let got = get_pod(&client, p).await.expect("get").expect("pod exists");
        assert!(
            pod_condition(&got, "PodScheduled").is_none(),
            "pod {p} of a gang short of pods should carry no PodScheduled condition, has {:?}",
            pod_condition(&got, "PodScheduled")
        );
        let evs = events_for(&client, "Pod", p).await.expect("events");
        assert!(
            evs.iter().all(|e| e.reason.as_deref() != Some("FailedScheduling")),
            "pod {p} of a gang short of pods should get no FailedScheduling event:\n    {}",
            describe_events(&evs)
        );
    }
    let group_events: Vec<_> = events_for(&client, "PodGroup", "short")
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Unschedulable"))
        .collect();
    assert_eq!(
        group_events.len(),
        1,
        "one Unschedulable event on the PodGroup while it waits for pods, not one per pod:\n    {}",
        describe_events(&group_events)
    );

    create_pods(&client, &[pod(&pods[2], Some("short"), 1)])
        .await
        .expect("third pod");
    wait_all_bound(&client, &pods, Duration::from_secs(30))
        .await
        .expect("the gang binds whole once its third pod exists");
}

/// Issue 4: Queues `root` and `default` are created at start when missing; an existing `default`
/// is left as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_queue_is_created_at_start_and_an_existing_default_queue_is_kept() {
    let cp = control_plane().await;
    let client = cp.client();
    assert!(
        volcano_queue(&client, "root").await.expect("get").is_none(),
        "no Queue root should exist before caldera starts"
    );
    apply(
        &client,
        "apiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata:\n  name: default\nspec:\n  weight: 3\n  reclaimable: true\n",
    )
    .await;
    let _sched = caldera(&cp, &[]);
    let root = wait_for("Queue root to be created", Duration::from_secs(30), || async {
        volcano_queue(&client, "root")
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "Queue root does not exist".to_owned())
    })
    .await
    .expect("root queue");
    let default = volcano_queue(&client, "default")
        .await
        .expect("get")
        .expect("default exists");
    assert_eq!(
        default.pointer("/spec/weight").and_then(Value::as_i64),
        Some(3),
        "the existing default Queue must be kept unchanged: {default}"
    );
    assert!(
        root.pointer("/spec/weight").and_then(Value::as_i64).unwrap_or(1) >= 1,
        "root Queue: {root}"
    );
}

/// Issue 4: with no Queue at all, both `default` and `root` are created, and a job naming no
/// queue runs in `default`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_and_root_queues_are_created_at_start_when_missing() {
    let cp = control_plane().await;
    let client = cp.client();
    let _sched = caldera(&cp, &[]);
    for q in ["default", "root"] {
        let queue = wait_for(&format!("Queue {q} to be created"), Duration::from_secs(30), || async {
            volcano_queue(&client, q)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("Queue {q} does not exist"))
        })
        .await
        .expect("queue created");
        assert_eq!(
            queue.pointer("/spec/weight").and_then(Value::as_i64),
            Some(1),
            "Volcano creates {q} with weight 1: {queue}"
        );
    }
    nodes(&client, "n", 1, 8, &[]).await.expect("node");
    apply(&client, &volcano_pg("solo", 1, None, &[])).await;
    pod("solo-0", Some("solo"), 1).create(&client).await.expect("pod");
    wait_all_bound(&client, &names("solo", 1), Duration::from_secs(30))
        .await
        .expect("bound");
}

// ---------------------------------------------------------------------------------------------
// other PodGroup APIs and operators

/// scheduler-plugins coscheduling PodGroup (`scheduling.x-k8s.io/v1alpha1`) with the pod label
/// `scheduling.x-k8s.io/pod-group`: a complete gang is bound and its status written; an incomplete
/// one (fewer pods than minMember) is not bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_plugins_podgroup_with_pod_label_schedules_all_or_nothing() {
    let cp = control_plane().await;
    let client = cp.client();
    let _sched = caldera(&cp, &[]);
    nodes(&client, "n", 1, 8, &[]).await.expect("node");
    apply(
        &client,
        "apiVersion: scheduling.x-k8s.io/v1alpha1\nkind: PodGroup\nmetadata:\n  name: sp-gang\nspec:\n  minMember: 2\n\
         ---\n\
         apiVersion: scheduling.x-k8s.io/v1alpha1\nkind: PodGroup\nmetadata:\n  name: sp-short\nspec:\n  minMember: 3\n",
    )
    .await;
    let gang = names("sp-gang", 2);
    let short = names("sp-short", 2);
    let mut builders: Vec<PodBuilder> = gang.iter().map(|n| pod(n, None, 2).sp_group("sp-gang")).collect();
    builders.extend(short.iter().map(|n| pod(n, None, 1).sp_group("sp-short")));
    create_pods(&client, &builders).await.expect("pods");

    wait_all_bound(&client, &gang, Duration::from_secs(30))
        .await
        .expect("sp gang bound");
    assert_stays_unbound(
        &client,
        &short,
        Duration::from_secs(3),
        "sp-short has 2 pods but minMember 3",
    )
    .await;

    wait_for(
        "scheduler-plugins PodGroup sp-gang status phase Running with running 2",
        Duration::from_secs(20),
        || async {
            let pg = get_json(&client, &sp_podgroups(), Some(NS), "sp-gang")
                .await
                .map_err(|e| e.to_string())?
                .ok_or("missing")?;
            if phase_of(&pg) == "Running" && status_int(&pg, "running") == 2 {
                Ok(())
            } else {
                Err(format!("status = {}", pg.get("status").unwrap_or(&Value::Null)))
            }
        },
    )
    .await
    .expect("scheduler-plugins PodGroup status");
}

/// Kubernetes' own `scheduling.k8s.io/v1beta1` PodGroup (`spec.schedulingPolicy.gang.minCount`,
/// pods join through `spec.schedulingGroup.podGroupName`): a complete gang is bound, an incomplete
/// one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_kubernetes_podgroup_schedules_all_or_nothing() {
    let cp = control_plane().await;
    let client = cp.client();
    let _sched = caldera(&cp, &[]);
    nodes(&client, "n", 1, 8, &[]).await.expect("node");
    apply(
        &client,
        "apiVersion: scheduling.k8s.io/v1beta1\nkind: PodGroup\nmetadata:\n  name: native-gang\n\
         spec:\n  schedulingPolicy:\n    gang:\n      minCount: 2\n\
         ---\n\
         apiVersion: scheduling.k8s.io/v1beta1\nkind: PodGroup\nmetadata:\n  name: native-short\n\
         spec:\n  schedulingPolicy:\n    gang:\n      minCount: 3\n",
    )
    .await;
    let gang = names("native-gang", 2);
    let short = names("native-short", 2);
    let mut builders: Vec<PodBuilder> = gang
        .iter()
        .map(|n| pod(n, None, 2).native_group("native-gang"))
        .collect();
    builders.extend(short.iter().map(|n| pod(n, None, 1).native_group("native-short")));
    create_pods(&client, &builders).await.expect("pods");
    wait_all_bound(&client, &gang, Duration::from_secs(30))
        .await
        .expect("native gang bound");
    assert_stays_unbound(
        &client,
        &short,
        Duration::from_secs(3),
        "native-short has 2 pods but minCount 3",
    )
    .await;
}

const KUBERAY_OBJECTS: &str = r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: PodGroup
metadata:
  name: ray-raycluster-demo-pg
  namespace: default
  ownerReferences:
  - apiVersion: ray.io/v1
    kind: RayCluster
    name: raycluster-demo
    uid: 3f1c8a52-6d1e-4c1b-9a7e-2b9d1c0e5f10
    controller: true
    blockOwnerDeletion: true
spec:
  minMember: 3
  minResources:
    cpu: "3"
    memory: 6Gi
    nvidia.com/gpu: "2"
status:
  phase: Pending
---
apiVersion: v1
kind: Pod
metadata:
  name: raycluster-demo-head-7x2kq
  namespace: default
  labels:
    app.kubernetes.io/created-by: kuberay-operator
    app.kubernetes.io/name: kuberay
    ray.io/cluster: raycluster-demo
    ray.io/group: headgroup
    ray.io/identifier: raycluster-demo-head
    ray.io/is-ray-node: "yes"
    ray.io/node-type: head
  annotations:
    ray.io/ft-enabled: "false"
    scheduling.k8s.io/group-name: ray-raycluster-demo-pg
    volcano.sh/task-spec: headgroup
  ownerReferences:
  - apiVersion: ray.io/v1
    kind: RayCluster
    name: raycluster-demo
    uid: 3f1c8a52-6d1e-4c1b-9a7e-2b9d1c0e5f10
    controller: true
    blockOwnerDeletion: true
spec:
  schedulerName: volcano
  restartPolicy: Always
  containers:
  - name: ray-head
    image: rayproject/ray:2.9.0
    command: ["/bin/bash", "-lc", "--"]
    args: ["ulimit -n 65536; ray start --head --dashboard-host=0.0.0.0 --block"]
    ports:
    - {containerPort: 6379, name: gcs-server, protocol: TCP}
    - {containerPort: 8265, name: dashboard, protocol: TCP}
    - {containerPort: 10001, name: client, protocol: TCP}
    resources:
      requests: {cpu: "1", memory: 2Gi}
      limits: {cpu: "1", memory: 2Gi}
---
apiVersion: v1
kind: Pod
metadata:
  name: raycluster-demo-gpu-group-worker-5kq8d
  namespace: default
  labels:
    app.kubernetes.io/created-by: kuberay-operator
    app.kubernetes.io/name: kuberay
    ray.io/cluster: raycluster-demo
    ray.io/group: gpu-group
    ray.io/identifier: raycluster-demo-worker
    ray.io/is-ray-node: "yes"
    ray.io/node-type: worker
  annotations:
    ray.io/ft-enabled: "false"
    scheduling.k8s.io/group-name: ray-raycluster-demo-pg
    volcano.sh/task-spec: gpu-group
  ownerReferences:
  - apiVersion: ray.io/v1
    kind: RayCluster
    name: raycluster-demo
    uid: 3f1c8a52-6d1e-4c1b-9a7e-2b9d1c0e5f10
    controller: true
    blockOwnerDeletion: true
spec:
  schedulerName: volcano
  restartPolicy: Always
  containers:
  - name: ray-worker
    image: rayproject/ray:2.9.0-gpu
    args: ["ulimit -n 65536; ray start --address=raycluster-demo-head-svc.default.svc.cluster.local:6379 --block"]
    resources:
      requests: {cpu: "1", memory: 2Gi, nvidia.com/gpu: "1"}
      limits: {cpu: "1", memory: 2Gi, nvidia.com/gpu: "1"}
---
apiVersion: v1
kind: Pod
metadata:
  name: raycluster-demo-gpu-group-worker-w9m2t
  namespace: default
  labels:
    app.kubernetes.io/created-by: kuberay-operator
    app.kubernetes.io/name: kuberay
    ray.io/cluster: raycluster-demo
    ray.io/group: gpu-group
    ray.io/identifier: raycluster-demo-worker
    ray.io/is-ray-node: "yes"
    ray.io/node-type: worker
  annotations:
    ray.io/ft-enabled: "false"
    scheduling.k8s.io/group-name: ray-raycluster-demo-pg
    volcano.sh/task-spec: gpu-group
  ownerReferences:
  - apiVersion: ray.io/v1
    kind: RayCluster
    name: raycluster-demo
    uid: 3f1c8a52-6d1e-4c1b-9a7e-2b9d1c0e5f10
    controller: true
    blockOwnerDeletion: true
spec:
  schedulerName: volcano
  restartPolicy: Always
  containers:
  - name: ray-worker
    image: rayproject/ray:2.9.0-gpu
    args: ["ulimit -n 65536; ray start --address=raycluster-demo-head-svc.default.svc.cluster.local:6379 --block"]
    resources:
      requests: {cpu: "1", memory: 2Gi, nvidia.com/gpu: "1"}
      limits: {cpu: "1", memory: 2Gi, nvidia.com/gpu: "1"}
"#;

/// The PodGroup Kubeflow training-operator v1 creates for a PyTorchJob (no status: the operator
/// waits for the scheduler to move it out of Pending before it creates any pod).
const KUBEFLOW_PODGROUP: &str = r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: PodGroup
metadata:
  name: pytorch-demo
  namespace: default
  ownerReferences:
  - apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    name: pytorch-demo
    uid: 9b0c7e4e-1f2a-4d3b-8c5d-6e7f8a9b0c1d
    controller: true
    blockOwnerDeletion: true
spec:
  minMember: 3
  queue: default
  minResources:
    cpu: "6"
    memory: 24Gi
    nvidia.com/gpu: "12"
"#;

fn kubeflow_pod(replica_type: &str, index: u32) -> String {
    let lower = replica_type.to_lowercase();
    let role = if lower == "master" {
        "\n    training.kubeflow.org/job-role: master"
    } else {
        ""
    };
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: pytorch-demo-{lower}-{index}
  namespace: default
  labels:
    training.kubeflow.org/job-name: pytorch-demo
    training.kubeflow.org/operator-name: pytorchjob-controller
    training.kubeflow.org/replica-index: "{index}"
    training.kubeflow.org/replica-type: {lower}{role}
  annotations:
    scheduling.k8s.io/group-name: pytorch-demo
    volcano.sh/task-spec: {replica_type}
  ownerReferences:
  - apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    name: pytorch-demo
    uid: 9b0c7e4e-1f2a-4d3b-8c5d-6e7f8a9b0c1d
    controller: true
    blockOwnerDeletion: true
spec:
  schedulerName: volcano
  restartPolicy: OnFailure
  containers:
  - name: pytorch
    image: docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727
    command: ["python3", "/opt/pytorch-mnist/mnist.py", "--epochs=1"]
    env:
    - {{name: MASTER_PORT, value: "23456"}}
    - {{name: MASTER_ADDR, value: pytorch-demo-master-0}}
    - {{name: WORLD_SIZE, value: "3"}}
    - {{name: RANK, value: "{index}"}}
    ports:
    - {{containerPort: 23456, name: pytorchjob-port, protocol: TCP}}
    resources:
      requests: {{cpu: "2", memory: 8Gi, nvidia.com/gpu: "4"}}
      limits: {{cpu: "2", memory: 8Gi, nvidia.com/gpu: "4"}}
"#
    )
}

/// Issue 5: a KubeRay-shaped and a Kubeflow-shaped Volcano PodGroup with their pods, exactly as
/// those operators create them (`schedulerName: volcano`), schedule unchanged when caldera runs
/// with `--scheduler-name volcano`; the Kubeflow operator's wait for Inqueue is honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kuberay_and_kubeflow_shaped_podgroups_schedule_unchanged_with_scheduler_name_volcano() {
    let cp = control_plane().await;
    let client = cp.client();
    let _sched = caldera(&cp, &["--scheduler-name", "volcano"]);
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");

    // KubeRay creates the PodGroup (phase Pending) and the pods at once.
    apply(&client, KUBERAY_OBJECTS).await;
    let ray_pods: Vec<String> = [
        "raycluster-demo-head-7x2kq",
        "raycluster-demo-gpu-group-worker-5kq8d",
        "raycluster-demo-gpu-group-worker-w9m2t",
    ]
    .map(str::to_owned)
    .to_vec();
    wait_all_bound(&client, &ray_pods, Duration::from_secs(30))
        .await
        .expect("KubeRay cluster bound");
    wait_pg(
        &client,
        "ray-raycluster-demo-pg",
        "phase Running, running 3",
        Duration::from_secs(20),
        |pg| phase_of(pg) == "Running" && status_int(pg, "running") == 3,
    )
    .await;

    // Kubeflow training-operator v1 creates the PodGroup, waits until it leaves Pending, then
    // creates the pods.
    apply(&client, KUBEFLOW_PODGROUP).await;
    let pg = wait_pg(
        &client,
        "pytorch-demo",
        "a phase other than \"\"/Pending (Inqueue)",
        Duration::from_secs(30),
        |pg| !matches!(phase_of(pg).as_str(), "" | "Pending"),
    )
    .await;
    assert_eq!(
        phase_of(&pg),
        "Inqueue",
        "a PodGroup without pods is admitted to Inqueue: {pg}"
    );
    for (rt, i) in [("Master", 0), ("Worker", 0), ("Worker", 1)] {
        apply(&client, &kubeflow_pod(rt, i)).await;
    }
    let kf_pods: Vec<String> = [
        "pytorch-demo-master-0",
        "pytorch-demo-worker-0",
        "pytorch-demo-worker-1",
    ]
    .map(str::to_owned)
    .to_vec();
    wait_all_bound(&client, &kf_pods, Duration::from_secs(30))
        .await
        .expect("PyTorchJob bound");
    wait_pg(
        &client,
        "pytorch-demo",
        "phase Running, running 3",
        Duration::from_secs(20),
        |pg| phase_of(pg) == "Running" && status_int(pg, "running") == 3,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// bad input

/// Issue 4 "Bad input": a PodGroup with an unusable quantity in minResources, a PodGroup in a queue
/// that does not exist and a pod naming a missing PodGroup are each reported (event, condition or
/// log line naming the object); a good gang is still scheduled, the orphan pod binds once its
/// PodGroup appears, and the process stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_reported_while_other_pods_still_schedule_and_the_process_stays_up() {
    let cp = control_plane().await;
    let client = cp.client();
    let mut sched = caldera(&cp, &[]);
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");

    // "1e999" passes the CRD's quantity pattern but is far beyond any countable amount.
    apply(&client, &volcano_pg("pg-bad-quantity", 1, None, &[(GPU, "1e999")])).await;
    apply(&client, &volcano_pg("pg-unknown-queue", 1, Some("no-such-queue"), &[])).await;
    apply(&client, &volcano_pg("pg-good", 2, None, &[])).await;
    let good = names("good", 2);
    let mut builders: Vec<PodBuilder> = good.iter().map(|n| pod(n, Some("pg-good"), 2)).collect();
    builders.push(pod("bad-quantity-0", Some("pg-bad-quantity"), 1));
    builders.push(pod("unknown-queue-0", Some("pg-unknown-queue"), 1));
    builders.push(pod("orphan-0", Some("pg-later"), 1));
    create_pods(&client, &builders).await.expect("pods");

    wait_all_bound(&client, &good, Duration::from_secs(30))
        .await
        .expect("a good gang must still be scheduled next to bad input");

    let r = wait_reported(
        &client,
        &sched,
        "pg-bad-quantity",
        &["bad-quantity-0".to_owned()],
        &["1e999", "minResources", "quantity"],
        Duration::from_secs(20),
    )
    .await;
    eprintln!("bad quantity reported as: {r}");

    let r = wait_reported(
        &client,
        &sched,
        "pg-unknown-queue",
        &["unknown-queue-0".to_owned()],
        &["no-such-queue"],
        Duration::from_secs(20),
    )
    .await;
    eprintln!("unknown queue reported as: {r}");
    assert_eq!(
        pod_node(&client, "unknown-queue-0").await.expect("get"),
        None,
        "a pod whose PodGroup names a missing queue must not be bound"
    );

    // The orphan waits with a reason naming the missing PodGroup, then binds once it exists.
    let orphan = wait_for(
        "pod orphan-0 (PodGroup pg-later missing) to say why it waits",
        Duration::from_secs(20),
        || async {
            let pod = get_pod(&client, "orphan-0")
                .await
                .map_err(|e| e.to_string())?
                .ok_or("missing")?;
            if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                return Err("orphan-0 was bound although its PodGroup does not exist".to_owned());
            }
            let c = pod_condition(&pod, "PodScheduled");
            let text = c
                .as_ref()
                .map(|c| {
                    format!(
                        "{} {}",
                        c.reason.clone().unwrap_or_default(),
                        c.message.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let events = events_for(&client, "Pod", "orphan-0")
                .await
                .map_err(|e| e.to_string())?;
            let notes: Vec<String> = events.iter().filter_map(|e| e.note.clone()).collect();
            if text.contains("PodGroupNotFound") || text.contains("pg-later") {
                Ok(text)
            } else if let Some(n) = notes.iter().find(|n| n.contains("pg-later")) {
                Ok(n.clone())
            } else {
                Err(format!("PodScheduled: {c:?}; events: {}", describe_events(&events)))
            }
        },
    )
    .await
    .expect("orphan reason");
    eprintln!("missing PodGroup reported as: {orphan}");
    apply(&client, &volcano_pg("pg-later", 1, None, &[])).await;
    wait_all_bound(&client, &["orphan-0".to_owned()], Duration::from_secs(30))
        .await
        .expect("the waiting pod binds once its PodGroup exists");

    assert!(sched.is_running(), "caldera must stay up; log:\n{}", sched.log_tail());
    let health = sched.get("/healthz").await.expect("healthz");
    assert_eq!(health.status, 200, "/healthz after bad input: {}", health.body);
}

const DEFAULT_CONFIG: &str = r#"actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
- plugins:
  - name: overcommit
  - name: drf
  - name: predicates
  - name: proportion
  - name: binpack
  - name: gpupack
"#;

/// Issue 4: an invalid `--config` at start makes the process exit non-zero with a message naming
/// the problem; a file that does not exist likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_file_at_start_exits_non_zero_with_a_clear_message() {
    let cp = control_plane().await;
    let bad = write_workdir_file(
        &cp,
        "bad.conf",
        "actions: \"enqueue, frobnicate\"\ntiers:\n- plugins:\n  - name: gang\n",
    )
    .expect("write config");
    let bad_arg = bad.display().to_string();
    let mut sched = caldera(&cp, &["--config", &bad_arg]);
    let status = sched.wait_exit(Duration::from_secs(30)).await;
    let log = sched.log();
    assert!(
        status.is_some_and(|s| !s.success()),
        "caldera with an invalid config must exit non-zero; status {status:?}; log:\n{}",
        sched.log_tail()
    );
    assert!(
        log.contains("frobnicate"),
        "the message must name the unknown action \"frobnicate\"; log:\n{}",
        sched.log_tail()
    );

    let missing = cp.workdir().join("no-such.conf").display().to_string();
    let mut sched2 = caldera(&cp, &["--config", &missing]);
    let status = sched2.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "caldera with a missing config file must exit non-zero; status {status:?}; log:\n{}",
        sched2.log_tail()
    );
    assert!(
        sched2.log().contains("no-such.conf"),
        "the message must name the missing file; log:\n{}",
        sched2.log_tail()
    );
}

/// Issue 4: the configuration file is reloaded on change; an invalid new version is reported and
/// the last good configuration stays in force, so scheduling goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_reload_is_reported_and_last_good_config_keeps_scheduling() {
    let cp = control_plane().await;
    let client = cp.client();
    let conf = write_workdir_file(&cp, "caldera.conf", DEFAULT_CONFIG).expect("write config");
    let conf_arg = conf.display().to_string();
    let mut sched = caldera(&cp, &["--config", &conf_arg]);
    nodes(&client, "n", 1, 8, &[]).await.expect("node");
    pod("before-0", None, 1).create(&client).await.expect("pod");
    wait_all_bound(&client, &names("before", 1), Duration::from_secs(30))
        .await
        .expect("bound with the valid config");

    std::fs::write(
        &conf,
        "actions: \"enqueue, frobnicate\"\ntiers:\n- plugins:\n  - name: gang\n",
    )
    .expect("rewrite");
    wait_for("the invalid reload to be logged", Duration::from_secs(30), || async {
        if sched.log().contains("frobnicate") {
            Ok(())
        } else {
            Err(format!("log tail:\n{}", sched.log_tail()))
        }
    })
    .await
    .expect("reload reported");
    assert!(sched.is_running(), "an invalid reload must not stop the process");

    apply(&client, &volcano_pg("after", 2, None, &[])).await;
    let after = names("after", 2);
    let builders: Vec<PodBuilder> = after.iter().map(|n| pod(n, Some("after"), 1)).collect();
    create_pods(&client, &builders).await.expect("pods");
    wait_all_bound(&client, &after, Duration::from_secs(30))
        .await
        .expect("the last good configuration keeps scheduling");
    assert!(sched.is_running(), "caldera must stay up; log:\n{}", sched.log_tail());
}

// ---------------------------------------------------------------------------------------------
// operations

/// Issue 4 "Operations": /healthz, /readyz, /metrics (Prometheus text with a bound-pods counter and
/// a latency histogram) and /debug/snapshot answer on the admin address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_server_answers_healthz_readyz_metrics_and_counts_bound_pods() {
    let cp = control_plane().await;
    let client = cp.client();
    let mut sched = caldera(&cp, &[]);
    sched.wait_healthy(Duration::from_secs(30)).await.expect("/healthz");
    wait_for(
        "/readyz to answer 200 (watches synced)",
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

    nodes(&client, "n", 1, 8, &[]).await.expect("node");
    let pods = names("m", 2);
    let builders: Vec<PodBuilder> = pods.iter().map(|n| pod(n, None, 1)).collect();
    create_pods(&client, &builders).await.expect("pods");
    wait_all_bound(&client, &pods, Duration::from_secs(30))
        .await
        .expect("bound");

    let text = wait_for("/metrics to count the bound pods", Duration::from_secs(20), || async {
        let r = sched.get("/metrics").await.map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("HTTP {}", r.status));
        }
        let bound: f64 = metric_samples(&r.body)
            .iter()
            .filter(|(name, _, _)| name.contains("bound") && !name.contains("unbound") && !name.contains("error"))
            .map(|(_, _, v)| v)
            .sum();
        if bound >= 2.0 {
            Ok(r.body)
        } else {
            let names: std::collections::BTreeSet<String> =
                metric_samples(&r.body).into_iter().map(|(n, _, _)| n).collect();
            Err(format!("no bound-pods counter >= 2; metric names: {names:?}"))
        }
    })
    .await
    .expect("bound-pods counter");
    assert!(
        text.lines()
            .any(|l| l.starts_with("# TYPE") && l.ends_with(" histogram")),
        "/metrics must contain a histogram (scheduling latency); got:\n{text}"
    );

    let snap = sched.get("/debug/snapshot").await.expect("/debug/snapshot");
    assert_eq!(snap.status, 200, "/debug/snapshot: {}", snap.body);
    serde_json::from_str::<Value>(&snap.body).expect("/debug/snapshot must be JSON");
}

/// Issue 5 "faults": kill -9 caldera while it binds a 30-pod gang, restart it: the gang completes,
/// every pod is bound exactly once (no pod's nodeName ever changes), no node is overcommitted and
/// nothing is left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_while_binding_a_30_pod_gang_then_restart_completes_it_binding_each_pod_once() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 4, 8, &[]).await.expect("nodes");
    // A low API rate stretches binding over a few seconds, so the kill lands in the middle of it.
    let mut sched = caldera(&cp, &["--kube-api-qps", "20", "--kube-api-burst", "5"]);
    let tracker = BindingTracker::start(&client);

    apply(&client, &volcano_pg("gang30", 30, None, &[])).await;
    let pods = names("gang30", 30);
    let builders: Vec<PodBuilder> = pods.iter().map(|n| pod(n, Some("gang30"), 1)).collect();
    create_pods(&client, &builders).await.expect("pods");

    let bound_at_kill = wait_for("the first binds of the gang", Duration::from_secs(60), || async {
        let p = placements(&client, &pods).await.map_err(|e| e.to_string())?;
        if p.values().any(Option::is_some) {
            Ok(())
        } else {
            Err(describe_placements(&p))
        }
    })
    .await;
    sched.kill9().expect("kill -9");
    bound_at_kill.expect("binding started");
    let at_kill = placements(&client, &pods).await.expect("placements");
    let n_at_kill = at_kill.values().filter(|v| v.is_some()).count();
    eprintln!("killed caldera with {n_at_kill}/30 pods bound");

    sched.restart().expect("restart");
    let placed = wait_all_bound(&client, &pods, Duration::from_secs(90))
        .await
        .expect("the gang completes after the restart");
    for (p, node) in &at_kill {
        if let Some(node) = node {
            assert_eq!(
                placed.get(p),
                Some(node),
                "pod {p} was on {node} at the kill and must stay there"
            );
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        tracker.moved().is_empty(),
        "pods bound more than once: {:?}",
        tracker.moved()
    );
    assert_eq!(
        tracker.bound_count(),
        30,
        "the watch saw {} bound pods",
        tracker.bound_count()
    );
    let mut per_node: BTreeMap<&str, u32> = BTreeMap::new();
    for node in placed.values() {
        *per_node.entry(node).or_default() += 1;
    }
    assert!(
        per_node.values().all(|g| *g <= 8),
        "a node got more than 8 GPUs: {per_node:?}"
    );
    for (name, p) in list_pods(&client).await.expect("pods") {
        let c = pod_condition(&p, "PodScheduled");
        assert!(
            c.as_ref().is_some_and(|c| c.status == "True"),
            "pod {name} left with PodScheduled {c:?}"
        );
    }
    wait_pg(
        &client,
        "gang30",
        "phase Running, running 30",
        Duration::from_secs(30),
        |pg| phase_of(pg) == "Running" && status_int(pg, "running") == 30,
    )
    .await;
    assert!(sched.is_running(), "restarted caldera must stay up");
}

/// Value of the leader gauge (a metric whose name contains "leader"), if the process exposes one.
async fn leader_gauge(c: &Caldera) -> Option<f64> {
    let r = c.get("/metrics").await.ok()?;
    metric_samples(&r.body)
        .into_iter()
        .find(|(n, _, _)| n.contains("leader"))
        .map(|(_, _, v)| v)
}

/// Which of `pair` holds the Lease `holder`: by the leader gauge, the pid in the identity, or the
/// identity appearing in its log.
async fn identify_leader(pair: &[Caldera; 2], holder: &str) -> Option<usize> {
    let gauges = [leader_gauge(&pair[0]).await, leader_gauge(&pair[1]).await];
    match gauges {
        [Some(a), Some(b)] if a >= 1.0 && b < 1.0 => return Some(0),
        [Some(a), Some(b)] if b >= 1.0 && a < 1.0 => return Some(1),
        _ => {}
    }
    let tokens: Vec<&str> = holder.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    for (i, c) in pair.iter().enumerate() {
        if c.pid().is_some_and(|pid| tokens.contains(&pid.to_string().as_str())) {
            return Some(i);
        }
    }
    let in_log: Vec<usize> = (0..2).filter(|&i| pair[i].log().contains(holder)).collect();
    (in_log.len() == 1).then(|| in_log[0])
}

/// Issue 5 "faults": two replicas with leader election; only the Lease holder binds; kill -9 the
/// leader and the other takes over within the lease duration plus a margin and binds new pods;
/// no pod is bound twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_only_the_holder_binds_and_the_standby_takes_over_after_kill9() {
    const LEASE: Duration = Duration::from_secs(4);
    let le = [
        "--leader-elect=true",
        "--leader-elect-resource-namespace",
        "default",
        "--leader-elect-lease-duration",
        "4s",
        "--leader-elect-renew-deadline",
        "3s",
        "--leader-elect-retry-period",
        "500ms",
    ];
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");
    let tracker = BindingTracker::start(&client);
    let mut pair = [caldera(&cp, &le), caldera(&cp, &le)];

    let holder = wait_for(
        "Lease default/caldera to have a holder",
        Duration::from_secs(30),
        || async {
            let lease = get_lease(&client, "default", "caldera")
                .await
                .map_err(|e| e.to_string())?;
            let h = lease.as_ref().map(lease_holder).unwrap_or_default();
            if h.is_empty() {
                Err(format!("lease: {lease:?}"))
            } else {
                Ok(h)
            }
        },
    )
    .await
    .expect("a leader");

    let first = names("first", 2);
    let builders: Vec<PodBuilder> = first.iter().map(|n| pod(n, None, 1)).collect();
    create_pods(&client, &builders).await.expect("pods");
    let first_placed = wait_all_bound(&client, &first, Duration::from_secs(30))
        .await
        .expect("bound by the leader");

    // The holder stays the same: only one replica schedules.
    for _ in 0..10 {
        let lease = get_lease(&client, "default", "caldera")
            .await
            .expect("lease")
            .expect("lease exists");
        assert_eq!(
            lease_holder(&lease),
            holder,
            "the Lease changed hands without a failure"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let leader = identify_leader(&pair, &holder).await.unwrap_or_else(|| {
        panic!(
            "cannot tell which process holds the Lease ({holder}): no leader gauge in /metrics, the \
             identity contains neither pid ({:?}, {:?}) and it appears in neither log",
            pair[0].pid(),
            pair[1].pid()
        )
    });
    let standby = 1 - leader;
    if let Some(g) = leader_gauge(&pair[standby]).await {
        assert!(g < 1.0, "the standby reports itself as leader (gauge {g})");
    }
    assert!(pair[standby].is_running(), "the standby must keep running");

    let killed_at = Instant::now();
    pair[leader].kill9().expect("kill -9 the leader");
    let second = names("second", 2);
    let builders: Vec<PodBuilder> = second.iter().map(|n| pod(n, None, 1)).collect();
    create_pods(&client, &builders).await.expect("pods");

    let new_holder = wait_for(
        "another replica to take the Lease",
        LEASE + Duration::from_secs(6),
        || async {
            let lease = get_lease(&client, "default", "caldera")
                .await
                .map_err(|e| e.to_string())?;
            let h = lease.as_ref().map(lease_holder).unwrap_or_default();
            if !h.is_empty() && h != holder {
                Ok(h)
            } else {
                Err(format!("holder still {h:?}"))
            }
        },
    )
    .await
    .expect("takeover within the lease duration + 6 s");
    let takeover = killed_at.elapsed();
    eprintln!("takeover by {new_holder} after {:.1}s", takeover.as_secs_f64());

    wait_all_bound(&client, &second, Duration::from_secs(20))
        .await
        .expect("the new leader binds new pods");
    eprintln!(
        "new pods bound {:.1}s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
    let now = placements(&client, &first).await.expect("placements");
    for (p, node) in &first_placed {
        assert_eq!(now.get(p).cloned().flatten().as_ref(), Some(node), "pod {p} moved");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(tracker.moved().is_empty(), "pods bound twice: {:?}", tracker.moved());
    assert!(pair[standby].is_running(), "the new leader must keep running");
}

/// Issue 4 "Operations": SIGTERM makes the leader release its Lease and exit cleanly, so the
/// standby takes over at once instead of waiting for the 15 s lease to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_lease_so_the_standby_takes_over_before_it_expires() {
    let le = [
        "--leader-elect=true",
        "--leader-elect-resource-namespace",
        "default",
        "--leader-elect-lease-duration",
        "15s",
        "--leader-elect-renew-deadline",
        "10s",
        "--leader-elect-retry-period",
        "500ms",
    ];
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 1, 8, &[]).await.expect("nodes");
    let mut pair = [caldera(&cp, &le), caldera(&cp, &le)];
    let holder = wait_for(
        "Lease default/caldera to have a holder",
        Duration::from_secs(30),
        || async {
            let lease = get_lease(&client, "default", "caldera")
                .await
                .map_err(|e| e.to_string())?;
            let h = lease.as_ref().map(lease_holder).unwrap_or_default();
            if h.is_empty() {
                Err(format!("lease: {lease:?}"))
            } else {
                Ok(h)
            }
        },
    )
    .await
    .expect("a leader");
    pod("first-0", None, 1).create(&client).await.expect("pod");
    wait_all_bound(&client, &names("first", 1), Duration::from_secs(30))
        .await
        .expect("bound");
    let leader = identify_leader(&pair, &holder)
        .await
        .unwrap_or_else(|| panic!("cannot tell which process holds the Lease ({holder})"));

    let t0 = Instant::now();
    pair[leader].terminate().expect("SIGTERM");
    let new_holder = wait_for(
        "the standby to take the released Lease (well before the 15 s lease would expire)",
        Duration::from_secs(6),
        || async {
            let lease = get_lease(&client, "default", "caldera")
                .await
                .map_err(|e| e.to_string())?;
            let h = lease.as_ref().map(lease_holder).unwrap_or_default();
            if !h.is_empty() && h != holder {
                Ok(h)
            } else {
                Err(format!("holder {h:?}, spec {:?}", lease.and_then(|l| l.spec)))
            }
        },
    )
    .await
    .expect("takeover after SIGTERM");
    eprintln!(
        "takeover by {new_holder} {:.1}s after SIGTERM",
        t0.elapsed().as_secs_f64()
    );
    let status = pair[leader].wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "the old leader must exit cleanly after SIGTERM, status {status:?}; log:\n{}",
        pair[leader].log_tail()
    );
    pod("second-0", None, 1).create(&client).await.expect("pod");
    wait_all_bound(&client, &names("second", 1), Duration::from_secs(20))
        .await
        .expect("the new leader binds");
}

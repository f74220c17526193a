//! End-to-end placement tests: where `caldera run` puts pods on a real kube-apiserver with kwok
//! nodes — queue shares, job priority, MIG and GPU product selectors, taints, node affinity,
//! topology domains and native PodGroups.
//!
//! Every test starts its own control plane and caldera process and asserts only through the
//! Kubernetes API (pods' nodeName and conditions, PodGroup and Queue status). See docs/e2e.md,
//! "Rust end-to-end suite".

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use caldera_e2e::support::*;
use caldera_e2e::*;
use kube::Client;
use serde_json::{Value, json};

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

/// What a pod that waits because the cluster is full is told: kube-scheduler's aggregated node
/// message, or — when its queue's share is capped by the cluster's capacity and used up, which is
/// the case whenever one queue fills the cluster — caldera's queue-share message, which `allocate`
/// checks before it asks the nodes.
const QUEUE_SHARE_FULL: &str = "has no room for this pod within its share";
const WHY_FULL_GPU: &[&str] = &["Insufficient nvidia.com/gpu", QUEUE_SHARE_FULL];

/// Bound pods of `placed` by node.
fn by_node(placed: &BTreeMap<String, Option<String>>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pod, node) in placed {
        if let Some(node) = node {
            out.entry(node.clone()).or_default().push(pod.clone());
        }
    }
    out
}

/// `nvidia.com/gpu` of `status.allocated` of a Volcano Queue (0 when absent).
async fn queue_allocated_gpus(client: &Client, queue: &str) -> std::result::Result<i64, String> {
    let q = volcano_queue(client, queue)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("Queue {queue} does not exist"))?;
    Ok(quantity_int(q.pointer("/status/allocated").and_then(|a| a.get(GPU))).unwrap_or(0))
}

/// Asserts that no node holds more than `cap` of `resource` (requests of the pods bound to it).
async fn assert_no_node_over(client: &Client, resource: &str, cap: &BTreeMap<&str, i64>) {
    let used = usage_by_node(client, resource).await.expect("usage by node");
    for (node, n) in &used {
        let limit = cap.get(node.as_str()).copied().unwrap_or(0);
        assert!(
            *n <= limit,
            "node {node} holds {n} {resource} but has {limit}; usage by node: {used:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// queues and priority

/// Issue 5: two Volcano Queues with weights 1 and 3, each with twelve 1-GPU gangs, on 2 × 8 GPUs.
/// `proportion` gives them 16 × 1/4 = 4 and 16 × 3/4 = 12 GPUs: counted from the bound pods'
/// nodeName and requests, and from the Queues' `status.allocated`.
///
/// All demand exists before caldera starts: without reclaim, a queue that is alone at first
/// rightly takes everything, so arriving one after the other would test arrival order instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_weighted_1_and_3_share_16_gpus_4_to_12() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");

    let mut objects = vec![volcano_queue_json("light", 1), volcano_queue_json("heavy", 3)];
    let mut builders = Vec::new();
    let mut all = Vec::new();
    for queue in ["light", "heavy"] {
        for name in pod_names(queue, 12) {
            objects.push(volcano_podgroup_json(&name, 1, Some(queue), None, &[]));
            builders.push(pod(&name, Some(&name), 1));
            all.push(name);
        }
    }
    apply(&client, &objects).await;
    create_pods(&client, &builders).await.expect("pods");
    let _sched = caldera(&cp, &[]);

    let placed = wait_settled(&client, &all, 16, Duration::from_secs(3), Duration::from_secs(60))
        .await
        .expect("16 pods bound, then no change for 3 s (15 cycles)");
    let bound_in = |queue: &str| {
        placed
            .iter()
            .filter(|(p, n)| p.starts_with(&format!("{queue}-")) && n.is_some())
            .count() as i64
    };
    let (light, heavy) = (bound_in("light"), bound_in("heavy"));
    eprintln!("GPUs held: light (weight 1) {light}, heavy (weight 3) {heavy}");
    assert_eq!(
        light + heavy,
        16,
        "all 16 GPUs must be used: {}",
        describe_placements(&placed)
    );
    assert!(
        (3..=5).contains(&light) && (11..=13).contains(&heavy),
        "weights 1:3 on 16 GPUs must give about 4 and 12 GPUs, got light {light} and heavy {heavy}: {}",
        describe_placements(&placed)
    );
    let cap: BTreeMap<&str, i64> = [("gpu-0", 8), ("gpu-1", 8)].into_iter().collect();
    assert_no_node_over(&client, GPU, &cap).await;

    // The Queues' status.allocated says the same as the pods.
    wait_for(
        &format!("Queue status.allocated nvidia.com/gpu: light {light}, heavy {heavy}"),
        Duration::from_secs(20),
        || async {
            let l = queue_allocated_gpus(&client, "light").await?;
            let h = queue_allocated_gpus(&client, "heavy").await?;
            if (l, h) == (light, heavy) {
                Ok(())
            } else {
                Err(format!("light {l}, heavy {h}"))
            }
        },
    )
    .await
    .expect("Queue status.allocated");
}

/// Issue 5 "priority order inside a queue": one 8-GPU node has room for one of two 2 × 4-GPU gangs.
/// The gang whose PodGroup names the higher PriorityClass is bound although the lower one was
/// created first (and was already seen by caldera); the other waits with a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higher_priority_class_podgroup_is_bound_first_even_when_the_lower_one_was_created_first() {
    let cp = control_plane().await;
    let client = cp.client();
    apply(
        &client,
        &[
            priority_class_json("e2e-low", 100),
            priority_class_json("e2e-high", 100_000),
        ],
    )
    .await;
    let _sched = caldera(&cp, &[]);

    let low = pod_names("low-gang", 2);
    let high = pod_names("high-gang", 2);
    // The low gang first; no node exists yet, so caldera sees it and reports it unschedulable.
    apply(
        &client,
        &[volcano_podgroup_json("low-gang", 2, None, Some("e2e-low"), &[])],
    )
    .await;
    create_pods(
        &client,
        &low.iter().map(|n| pod(n, Some("low-gang"), 4)).collect::<Vec<_>>(),
    )
    .await
    .expect("low pods");
    for p in &low {
        wait_unschedulable_with(&client, p, "", Duration::from_secs(30))
            .await
            .expect("caldera has considered the low gang while no node exists");
    }
    // creationTimestamp has one-second resolution: make "created first" unambiguous.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    apply(
        &client,
        &[volcano_podgroup_json("high-gang", 2, None, Some("e2e-high"), &[])],
    )
    .await;
    create_pods(
        &client,
        &high.iter().map(|n| pod(n, Some("high-gang"), 4)).collect::<Vec<_>>(),
    )
    .await
    .expect("high pods");
    for p in &high {
        wait_unschedulable_with(&client, p, "", Duration::from_secs(30))
            .await
            .expect("caldera has seen the high gang before the node exists");
    }

    // Room for exactly one gang.
    NodeBuilder::new("gpu-0").gpus(8).create(&client).await.expect("node");
    let placed = wait_all_bound(&client, &high, Duration::from_secs(30))
        .await
        .expect("the higher-priority gang is bound");
    eprintln!("high-gang placed: {placed:?}");
    ensure_unbound_for(
        &client,
        &low,
        Duration::from_secs(3),
        "the lower-priority gang must wait (the node is full)",
    )
    .await
    .expect("low gang unbound");
    for p in &low {
        let msg = wait_unschedulable_with_any(&client, p, WHY_FULL_GPU, Duration::from_secs(20))
            .await
            .expect("the waiting pods say why");
        eprintln!("{p}: {msg}");
    }
    wait_for(
        "PodGroup low-gang: condition Unschedulable=True naming the gang",
        Duration::from_secs(20),
        || async {
            let pg = volcano_podgroup(&client, "low-gang")
                .await
                .map_err(|e| e.to_string())?
                .ok_or("missing")?;
            match condition_of(&pg, "Unschedulable") {
                Some(c)
                    if c["status"] == "True"
                        && c["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("tasks in gang unschedulable")) =>
                {
                    Ok(())
                }
                _ => Err(format!("status = {}", pg.get("status").unwrap_or(&Value::Null))),
            }
        },
    )
    .await
    .expect("low-gang condition");
}

// ---------------------------------------------------------------------------------------------
// node filters: MIG, product selectors, taints, affinity

const MIG: &str = "nvidia.com/mig-1g.10gb";
const PRODUCT: &str = "nvidia.com/gpu.product";
const A100: &str = "NVIDIA-A100-SXM4-80GB";
const H100: &str = "NVIDIA-H100-80GB-HBM3";

/// Issue 5 "MIG resources and GPU product selectors": a MIG node with `nvidia.com/mig-1g.10gb: 7`
/// and two whole-GPU nodes of different products. MIG pods land on the MIG node (7 of 8; the 8th
/// waits with a reason); pods selecting a product by `nvidia.com/gpu.product` land only on
/// the node with that label value; a product no node has leaves the pod pending with kube-scheduler's
/// "didn't match Pod's node affinity/selector".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mig_pods_land_on_the_mig_node_and_gpu_product_selectors_pick_the_matching_node() {
    let cp = control_plane().await;
    let client = cp.client();
    NodeBuilder::new("mig-0")
        .resource(MIG, "7")
        .label(PRODUCT, "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb")
        .label("nvidia.com/mig.strategy", "mixed")
        .create(&client)
        .await
        .expect("MIG node");
    NodeBuilder::new("a100-0")
        .gpus(8)
        .label(PRODUCT, A100)
        .create(&client)
        .await
        .expect("A100 node");
    NodeBuilder::new("h100-0")
        .gpus(8)
        .label(PRODUCT, H100)
        .create(&client)
        .await
        .expect("H100 node");
    let _sched = caldera(&cp, &[]);

    let mig = pod_names("mig", 8);
    let on_h100 = pod_names("want-h100", 3);
    let on_a100 = pod_names("want-a100", 3);
    let mut builders: Vec<PodBuilder> = mig.iter().map(|n| pod(n, None, 0).resource(MIG, "1")).collect();
    let selector = |model: &str| json!({ PRODUCT: model });
    builders.extend(
        on_h100
            .iter()
            .map(|n| pod(n, None, 1).spec_field("nodeSelector", selector(H100))),
    );
    builders.extend(
        on_a100
            .iter()
            .map(|n| pod(n, None, 1).spec_field("nodeSelector", selector(A100))),
    );
    builders.push(pod("want-b200", None, 1).spec_field("nodeSelector", selector("NVIDIA-B200")));
    create_pods(&client, &builders).await.expect("pods");

    let selected: Vec<String> = on_h100.iter().chain(&on_a100).cloned().collect();
    let placed = wait_all_bound(&client, &selected, Duration::from_secs(30))
        .await
        .expect("product-selected pods bound");
    for p in &on_h100 {
        assert_eq!(placed[p], "h100-0", "{p} selects {H100}: {placed:?}");
    }
    for p in &on_a100 {
        assert_eq!(placed[p], "a100-0", "{p} selects {A100}: {placed:?}");
    }

    let mig_placed = wait_settled(&client, &mig, 7, Duration::from_secs(2), Duration::from_secs(30))
        .await
        .expect("7 MIG pods bound");
    let mig_nodes = by_node(&mig_placed);
    assert_eq!(
        mig_nodes.keys().collect::<Vec<_>>(),
        ["mig-0"],
        "MIG pods must land on the MIG node only: {}",
        describe_placements(&mig_placed)
    );
    assert_eq!(
        mig_nodes["mig-0"].len(),
        7,
        "the MIG node has 7 slices: {}",
        describe_placements(&mig_placed)
    );
    let waiting = mig_placed
        .iter()
        .find(|(_, n)| n.is_none())
        .map(|(p, _)| p.clone())
        .expect("one MIG pod waits");
    let msg = wait_unschedulable_with_any(
        &client,
        &waiting,
        &[&format!("Insufficient {MIG}"), QUEUE_SHARE_FULL],
        Duration::from_secs(20),
    )
    .await
    .expect("the 8th MIG pod waits with a reason");
    eprintln!("{waiting}: {msg}");

    let msg = wait_unschedulable_with(
        &client,
        "want-b200",
        "didn't match Pod's node affinity/selector",
        Duration::from_secs(20),
    )
    .await
    .expect("a product no node has leaves the pod pending with the selector reason");
    eprintln!("want-b200: {msg}");
    ensure_unbound_for(
        &client,
        &["want-b200".to_owned()],
        Duration::from_secs(1),
        "no node has NVIDIA-B200",
    )
    .await
    .expect("want-b200 unbound");
}

/// Issue 5 "taints": a node tainted `dedicated=ml:NoSchedule` gets only pods that tolerate it
/// (operator Equal or Exists). Pods without the toleration wait once the untainted node is full,
/// and their message names the taint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tainted_node_takes_only_tolerating_pods_and_others_are_told_the_taint() {
    let cp = control_plane().await;
    let client = cp.client();
    NodeBuilder::new("general-0")
        .gpus(4)
        .create(&client)
        .await
        .expect("node");
    NodeBuilder::new("ml-0")
        .gpus(8)
        .taint("dedicated", "ml", "NoSchedule")
        .create(&client)
        .await
        .expect("tainted node");
    let _sched = caldera(&cp, &[]);

    // Six plain 1-GPU pods: four fit on general-0, two are left with the taint as the reason.
    let plain = pod_names("plain", 6);
    create_pods(&client, &plain.iter().map(|n| pod(n, None, 1)).collect::<Vec<_>>())
        .await
        .expect("plain pods");
    let placed = wait_settled(&client, &plain, 4, Duration::from_secs(2), Duration::from_secs(30))
        .await
        .expect("4 plain pods bound");
    let nodes_used = by_node(&placed);
    assert_eq!(
        nodes_used.keys().collect::<Vec<_>>(),
        ["general-0"],
        "pods without the toleration must stay off ml-0: {}",
        describe_placements(&placed)
    );
    assert_eq!(nodes_used["general-0"].len(), 4, "{}", describe_placements(&placed));
    for (p, _) in placed.iter().filter(|(_, n)| n.is_none()) {
        let msg = wait_unschedulable_with(&client, p, "untolerated taint {dedicated: ml}", Duration::from_secs(20))
            .await
            .expect("the message names the taint");
        eprintln!("{p}: {msg}");
    }

    // Tolerating pods (Equal and Exists): general-0 is full, so they go to ml-0.
    let tolerating = pod_names("tolerating", 3);
    let mut builders: Vec<PodBuilder> = tolerating[..2]
        .iter()
        .map(|n| {
            pod(n, None, 2).spec_field(
                "tolerations",
                json!([toleration_equal("dedicated", "ml", "NoSchedule")]),
            )
        })
        .collect();
    builders.push(pod(&tolerating[2], None, 2).spec_field(
        "tolerations",
        json!([{ "key": "dedicated", "operator": "Exists", "effect": "NoSchedule" }]),
    ));
    create_pods(&client, &builders).await.expect("tolerating pods");
    let t_placed = wait_all_bound(&client, &tolerating, Duration::from_secs(30))
        .await
        .expect("tolerating pods bound");
    assert!(
        t_placed.values().all(|n| n == "ml-0"),
        "tolerating pods must use ml-0 (general-0 is full): {t_placed:?}"
    );

    // Still: ml-0 holds only tolerating pods; the two plain pods still wait.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let everything: Vec<String> = plain.iter().chain(&tolerating).cloned().collect();
    let all = placements(&client, &everything).await.expect("placements");
    let on_ml: Vec<&String> = all
        .iter()
        .filter(|(_, n)| n.as_deref() == Some("ml-0"))
        .map(|(p, _)| p)
        .collect();
    assert!(
        on_ml.iter().all(|p| p.starts_with("tolerating-")),
        "ml-0 must hold only tolerating pods, holds {on_ml:?}"
    );
    let plain_bound = plain.iter().filter(|p| all[*p].is_some()).count();
    assert_eq!(
        plain_bound,
        4,
        "plain pods must not move onto ml-0: {}",
        describe_placements(&all)
    );
}

/// Issue 5 "node affinity": required node affinity with `In` and `NotIn` on the label
/// `accelerator`. `In [a100, h100]` pods land only on those two nodes; `NotIn [a100, h100]` pods
/// only on the others (also the node without the label, as in Kubernetes); `In [v100]` matches
/// nothing and waits with the affinity reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_node_affinity_in_and_not_in_restrict_pods_to_matching_nodes() {
    let cp = control_plane().await;
    let client = cp.client();
    for (name, accel) in [
        ("a100-0", Some("a100")),
        ("h100-0", Some("h100")),
        ("t4-0", Some("t4")),
        ("plain-0", None),
    ] {
        let mut b = NodeBuilder::new(name).gpus(8);
        if let Some(a) = accel {
            b = b.label("accelerator", a);
        }
        b.create(&client).await.expect("node");
    }
    let _sched = caldera(&cp, &[]);

    let inside = pod_names("in", 6);
    let outside = pod_names("notin", 6);
    let mut builders: Vec<PodBuilder> = inside
        .iter()
        .map(|n| {
            pod(n, None, 2).spec_field(
                "affinity",
                required_node_affinity("accelerator", "In", &["a100", "h100"]),
            )
        })
        .collect();
    builders.extend(outside.iter().map(|n| {
        pod(n, None, 2).spec_field(
            "affinity",
            required_node_affinity("accelerator", "NotIn", &["a100", "h100"]),
        )
    }));
    builders
        .push(pod("in-v100", None, 1).spec_field("affinity", required_node_affinity("accelerator", "In", &["v100"])));
    create_pods(&client, &builders).await.expect("pods");

    let all: Vec<String> = inside.iter().chain(&outside).cloned().collect();
    let placed = wait_all_bound(&client, &all, Duration::from_secs(30))
        .await
        .expect("affinity pods bound");
    let allowed_in: BTreeSet<&str> = ["a100-0", "h100-0"].into_iter().collect();
    for p in &inside {
        assert!(
            allowed_in.contains(placed[p].as_str()),
            "{p} (accelerator In [a100, h100]) is on {}: {placed:?}",
            placed[p]
        );
    }
    for p in &outside {
        assert!(
            !allowed_in.contains(placed[p].as_str()),
            "{p} (accelerator NotIn [a100, h100]) is on {}: {placed:?}",
            placed[p]
        );
    }
    let msg = wait_unschedulable_with(
        &client,
        "in-v100",
        "didn't match Pod's node affinity/selector",
        Duration::from_secs(20),
    )
    .await
    .expect("In [v100] matches no node");
    eprintln!("in-v100: {msg}");
    let cap: BTreeMap<&str, i64> = [("a100-0", 8), ("h100-0", 8), ("t4-0", 8), ("plain-0", 8)]
        .into_iter()
        .collect();
    assert_no_node_over(&client, GPU, &cap).await;
}

// ---------------------------------------------------------------------------------------------
// topology and native PodGroups

const ZONE: &str = "topology.kubernetes.io/zone";

/// Issue 5 / README "Topology": a Volcano PodGroup annotated `caldera.dev/topology-key:
/// topology.kubernetes.io/zone` with 3 × 4-GPU pods is placed inside one zone, although each zone
/// alone has room for it and GPU packing on its own would mix the zones (each zone has a 4-GPU and
/// an 8-GPU node; packing fills both 4-GPU nodes first). A second such gang then fills the other
/// zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_keyed_podgroup_lands_in_one_zone() {
    let cp = control_plane().await;
    let client = cp.client();
    let zone_of: BTreeMap<&str, &str> = [
        ("a-small", "zone-a"),
        ("a-big", "zone-a"),
        ("b-small", "zone-b"),
        ("b-big", "zone-b"),
    ]
    .into_iter()
    .collect();
    for (node, zone) in &zone_of {
        let gpus = if node.ends_with("small") { 4 } else { 8 };
        NodeBuilder::new(node)
            .gpus(gpus)
            .label(ZONE, zone)
            .create(&client)
            .await
            .expect("node");
    }
    let _sched = caldera(&cp, &[]);

    let mut zones_used = Vec::new();
    for gang in ["topo-1", "topo-2"] {
        apply(
            &client,
            &[volcano_podgroup_json(
                gang,
                3,
                None,
                None,
                &[("caldera.dev/topology-key", ZONE)],
            )],
        )
        .await;
        let pods = pod_names(gang, 3);
        create_pods(&client, &pods.iter().map(|n| pod(n, Some(gang), 4)).collect::<Vec<_>>())
            .await
            .expect("pods");
        let placed = wait_all_bound(&client, &pods, Duration::from_secs(30))
            .await
            .expect("the topology gang is bound");
        let zones: BTreeSet<&str> = placed.values().map(|n| zone_of[n.as_str()]).collect();
        eprintln!("{gang}: {placed:?} -> zones {zones:?}");
        assert_eq!(zones.len(), 1, "{gang} must be inside one zone: {placed:?}");
        zones_used.extend(zones);
    }
    assert_ne!(
        zones_used[0], zones_used[1],
        "the first gang fills its zone (12 GPUs), so the second must use the other zone"
    );
    let cap: BTreeMap<&str, i64> = [("a-small", 4), ("a-big", 8), ("b-small", 4), ("b-big", 8)]
        .into_iter()
        .collect();
    assert_no_node_over(&client, GPU, &cap).await;
}

/// Issue 5 / README "Status": a native `scheduling.k8s.io/v1beta1` PodGroup (minCount 3, 3 × 8-GPU
/// pods) on 2 × 8-GPU nodes stays entirely pending with condition `PodGroupInitiallyScheduled`
/// False, reason Unschedulable, message "minCount (3) cannot be satisfied: …". Once a third node
/// exists, the gang is bound whole and the condition turns True.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_podgroup_that_does_not_fit_reports_podgroupinitiallyscheduled_false_then_binds_whole() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "gpu", 2, 8, &[]).await.expect("nodes");
    let _sched = caldera(&cp, &[]);

    apply(&client, &[native_podgroup_json("native-big", 3)]).await;
    let pods = pod_names("native-big", 3);
    create_pods(
        &client,
        &pods
            .iter()
            .map(|n| pod(n, None, 8).native_group("native-big"))
            .collect::<Vec<_>>(),
    )
    .await
    .expect("pods");

    let condition = |want_status: &'static str| {
        let client = client.clone();
        async move {
            let pg = native_podgroup(&client, "native-big")
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the PodGroup does not exist")?;
            match condition_of(&pg, "PodGroupInitiallyScheduled") {
                Some(c) if c["status"] == want_status => Ok(c.clone()),
                _ => Err(format!("status = {}", pg.get("status").unwrap_or(&Value::Null))),
            }
        }
    };
    let c = wait_for(
        "PodGroup native-big: condition PodGroupInitiallyScheduled=False",
        Duration::from_secs(30),
        || condition("False"),
    )
    .await
    .expect("PodGroupInitiallyScheduled=False");
    eprintln!("native-big condition while it does not fit: {c}");
    assert_eq!(c["reason"], "Unschedulable", "condition: {c}");
    let message = c["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("minCount ("), "condition message: {message:?}");
    ensure_unbound_for(
        &client,
        &pods,
        Duration::from_secs(3),
        "3 × 8 GPUs do not fit on 2 × 8-GPU nodes",
    )
    .await
    .expect("nothing bound");

    NodeBuilder::new("gpu-2")
        .gpus(8)
        .create(&client)
        .await
        .expect("third node");
    let placed = wait_all_bound(&client, &pods, Duration::from_secs(30))
        .await
        .expect("the gang is bound whole once a third node exists");
    let distinct: BTreeSet<&String> = placed.values().collect();
    assert_eq!(distinct.len(), 3, "one 8-GPU pod per node: {placed:?}");
    let c = wait_for(
        "PodGroup native-big: condition PodGroupInitiallyScheduled=True",
        Duration::from_secs(30),
        || condition("True"),
    )
    .await
    .expect("PodGroupInitiallyScheduled=True");
    eprintln!("native-big condition once bound: {c}");
}

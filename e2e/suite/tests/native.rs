//! End-to-end tests of Kubernetes' own gang API (`scheduling.k8s.io/v1beta1` PodGroups, pods with
//! `spec.schedulingGroup.podGroupName`) under `caldera run`, against the real kube-apiserver 1.37
//! (feature gate `GenericWorkload`), and side by side with kube-scheduler 1.37 gang-scheduling the
//! same objects. See docs/native-gang-api.md.
//!
//! Every test starts its own control plane(s) and asserts only through the Kubernetes API.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use caldera_e2e::support::{
    apply_objects, ensure_unbound_for, native_podgroup, native_podgroups, node_of, pod_request, pod_scheduled,
    wait_unschedulable_with,
};
use caldera_e2e::*;
use kube::api::{DeleteParams, DynamicObject};
use kube::{Api, Client};
use serde_json::{Value, json};

/// The node label of the topology tests.
const ZONE: &str = "topology.kubernetes.io/zone";
/// The condition kube-scheduler writes on a native PodGroup, and Caldera likewise.
const INITIALLY_SCHEDULED: &str = "PodGroupInitiallyScheduled";
/// The longest any single wait in this file may take.
const WAIT: Duration = Duration::from_secs(45);

// ---------------------------------------------------------------------------------------------
// helpers

/// Builds caldera first (so no control plane idles during a build), then starts a control plane.
async fn control_plane() -> ControlPlane {
    caldera_binary().expect("the caldera binary must build");
    ControlPlane::start().await.expect("the control plane must start")
}

async fn caldera(cp: &ControlPlane) -> Caldera {
    let mut c = Caldera::start(cp, &[]).expect("caldera must start");
    wait_ready(&c).await;
    c.wait_healthy(WAIT).await.expect("caldera healthy");
    c
}

/// Waits until caldera's `/readyz` is 200, i.e. every watch has listed.
async fn wait_ready(c: &Caldera) {
    wait_for("caldera /readyz to answer 200", WAIT, || async {
        match c.get("/readyz").await {
            Ok(r) if r.status == 200 => Ok(()),
            Ok(r) => Err(format!("HTTP {}: {}", r.status, r.body.trim())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .expect("/readyz");
}

/// How a native PodGroup groups its pods.
#[derive(Clone, Copy, Debug)]
enum Policy {
    /// `schedulingPolicy.gang.minCount`.
    Gang(u32),
    /// `schedulingPolicy.basic: {}`: each pod on its own.
    Basic,
}

/// A native `scheduling.k8s.io/v1beta1` PodGroup in [`NS`], optionally kept inside one domain of
/// a node label (`schedulingConstraints.topology[0].key`).
fn native_pg(name: &str, policy: Policy, topology_key: Option<&str>) -> Value {
    let policy = match policy {
        Policy::Gang(n) => json!({ "gang": { "minCount": n } }),
        Policy::Basic => json!({ "basic": {} }),
    };
    let mut spec = json!({ "schedulingPolicy": policy });
    if let Some(key) = topology_key {
        spec["schedulingConstraints"] = json!({ "topology": [{ "key": key }] });
    }
    json!({
        "apiVersion": "scheduling.k8s.io/v1beta1",
        "kind": "PodGroup",
        "metadata": { "name": name, "namespace": NS },
        "spec": spec,
    })
}

/// `PodGroupInitiallyScheduled` of a native PodGroup as `(status, reason, message)`.
fn initially_scheduled(pg: &Value) -> Option<(String, String, String)> {
    let c = condition_of(pg, INITIALLY_SCHEDULED)?;
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    Some((s("status"), s("reason"), s("message")))
}

/// Waits until native PodGroup `name` has `PodGroupInitiallyScheduled` with this status; returns
/// `(status, reason, message)`.
async fn wait_initially_scheduled(
    client: &Client,
    name: &str,
    status: &str,
    timeout: Duration,
) -> (String, String, String) {
    wait_initially_scheduled_saying(client, name, status, "", timeout).await
}

/// Like [`wait_initially_scheduled`], for a condition whose message contains `needle`: while a
/// gang's pods are still arriving its condition first says it has too few pods, which is true but
/// not the reason a test is waiting for.
async fn wait_initially_scheduled_saying(
    client: &Client,
    name: &str,
    status: &str,
    needle: &str,
    timeout: Duration,
) -> (String, String, String) {
    wait_for(
        &format!("native PodGroup {name}: {INITIALLY_SCHEDULED}={status} with a message containing {needle:?}"),
        timeout,
        || async {
            match native_podgroup(client, name).await {
                Ok(Some(pg)) => match initially_scheduled(&pg) {
                    Some(c) if c.0 == status && c.2.contains(needle) => Ok(c),
                    _ => Err(format!("status = {}", pg.get("status").unwrap_or(&Value::Null))),
                },
                Ok(None) => Err("the PodGroup does not exist".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `n` pods `<group>-0` … naming native PodGroup `group`, each requesting `gpus` GPUs.
fn gang_pods(group: &str, n: usize, gpus: u32, scheduler: &str) -> Vec<PodBuilder> {
    (0..n)
        .map(|i| {
            pod(&format!("{group}-{i}"), None, gpus)
                .scheduler(scheduler)
                .native_group(group)
        })
        .collect()
}

fn names_of(pods: &[PodBuilder]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| {
            p.json()
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// GPUs requested by the pods bound to each node; panics if a node holds more than `capacity`.
async fn assert_no_node_overcommitted(client: &Client, capacity: i64) -> BTreeMap<String, i64> {
    let mut used = BTreeMap::new();
    for p in list_pods(client).await.expect("list pods").values() {
        if let Some(node) = node_of(p) {
            *used.entry(node).or_insert(0) += pod_request(p, GPU);
        }
    }
    assert!(
        used.values().all(|&g| g <= capacity),
        "a node holds more than {capacity} GPUs: {used:?}"
    );
    used
}

/// kube-apiserver 1.37 keeps `spec.schedulingConstraints` of a PodGroup only with the alpha
/// feature gate `TopologyAwareWorkloadScheduling`; without it the field is dropped on create
/// (`dropDisabledSchedulingConstraintsFields` in pkg/registry/scheduling/podgroup/strategy.go)
/// and every PodGroup reaches the scheduler unconstrained. `e2e/up` enables only
/// `GenericWorkload`, so this checks with a probe PodGroup and, if the field was dropped,
/// restarts kube-apiserver (etcd keeps every object) with the gate added to the command line
/// `e2e/up` recorded, then checks again.
async fn ensure_topology_constraints_are_kept(cp: &ControlPlane) {
    let client = cp.client();
    let kept = |pg: &Value| pg.pointer("/spec/schedulingConstraints/topology/0/key") == Some(&json!(ZONE));
    let probe = |name: &str| native_pg(name, Policy::Gang(1), Some(ZONE));
    let stored = apply_objects(&client, &[probe("probe-0")])
        .await
        .expect("probe PodGroup");
    let stored = serde_json::to_value(&stored[0]).expect("JSON");
    if kept(&stored) {
        return;
    }
    const GATE: &str = "--feature-gates=GenericWorkload=true";
    let cmdline = cp.logs_dir().join("kube-apiserver.cmdline");
    let text = std::fs::read_to_string(&cmdline).expect("e2e/up records the kube-apiserver command line");
    assert!(
        text.split_whitespace().any(|w| w == GATE),
        "{} has no word {GATE}: {text}",
        cmdline.display()
    );
    let patched: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            if w == GATE {
                format!("{GATE},TopologyAwareWorkloadScheduling=true")
            } else {
                w.to_owned()
            }
        })
        .collect();
    std::fs::write(&cmdline, patched.join(" ") + "\n").expect("write the command line");
    eprintln!(
        "e2e: kube-apiserver dropped spec.schedulingConstraints (TopologyAwareWorkloadScheduling is off in \
         e2e/up); restarting it with the gate on"
    );
    let summary = cp
        .restart_apiserver(&["--signal", "KILL"], WAIT)
        .await
        .expect("kube-apiserver restarts with TopologyAwareWorkloadScheduling");
    eprintln!("e2e: {summary}");
    let stored = wait_for("a PodGroup to keep spec.schedulingConstraints", WAIT, || async {
        let stored = apply_objects(&client, &[probe("probe-1")])
            .await
            .map_err(|e| e.to_string())?;
        let stored = serde_json::to_value(&stored[0]).map_err(|e| e.to_string())?;
        if kept(&stored) {
            Ok(stored)
        } else {
            Err(format!("stored spec: {}", stored["spec"]))
        }
    })
    .await
    .expect("with TopologyAwareWorkloadScheduling the apiserver keeps schedulingConstraints");
    eprintln!("e2e: stored native PodGroup spec: {}", stored["spec"]);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &native_podgroups());
    for name in ["probe-0", "probe-1"] {
        api.delete(name, &DeleteParams::default())
            .await
            .expect("delete the probe");
    }
}

// ---------------------------------------------------------------------------------------------
// Caldera alone

/// Issue 8 "Tests": a native gang that fits binds whole and its PodGroup gets
/// `PodGroupInitiallyScheduled=True`; one that does not fit stays entirely pending with
/// `PodGroupInitiallyScheduled=False`, reason `Unschedulable`, a message starting `minCount (`,
/// and its pods say why in `PodScheduled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_gang_that_fits_binds_whole_and_one_that_does_not_stays_pending_with_the_kube_scheduler_condition() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "n", 3, 8, &[]).await.expect("nodes");
    let _sched = caldera(&cp).await;

    // 2 × 4 GPUs fit on any node. 4 × 8 GPUs on 3 × 8-GPU nodes: up to 3 pods could be placed
    // one by one, never all 4.
    apply_objects(
        &client,
        &[
            native_pg("fits", Policy::Gang(2), None),
            native_pg("too-big", Policy::Gang(4), None),
        ],
    )
    .await
    .expect("PodGroups");
    let fits = gang_pods("fits", 2, 4, "caldera");
    let too_big = gang_pods("too-big", 4, 8, "caldera");
    create_pods(&client, &fits).await.expect("fits pods");
    create_pods(&client, &too_big).await.expect("too-big pods");

    let placed = wait_all_bound(&client, &names_of(&fits), WAIT)
        .await
        .expect("the gang that fits binds whole");
    eprintln!("fits placed: {placed:?}");
    let (_, reason, message) = wait_initially_scheduled(&client, "fits", "True", WAIT).await;
    eprintln!("fits: {INITIALLY_SCHEDULED}=True reason={reason:?} message={message:?}");

    let (_, reason, message) = wait_initially_scheduled(&client, "too-big", "False", WAIT).await;
    eprintln!("too-big: {INITIALLY_SCHEDULED}=False reason={reason:?} message={message:?}");
    assert_eq!(reason, "Unschedulable");
    assert!(
        message.starts_with("minCount (4) cannot be satisfied"),
        "the message must name minCount as kube-scheduler's does: {message:?}"
    );
    for p in names_of(&too_big) {
        let m = wait_unschedulable_with(&client, &p, "", WAIT)
            .await
            .expect("each pod of the pending gang says why");
        assert!(!m.is_empty(), "pod {p}: empty PodScheduled message");
    }
    // 5 s = 25 cycles: never bound in part.
    ensure_unbound_for(
        &client,
        &names_of(&too_big),
        Duration::from_secs(5),
        "too-big cannot fit whole",
    )
    .await
    .expect("the gang that does not fit stays entirely pending");
    let pg = native_podgroup(&client, "too-big").await.expect("get").expect("exists");
    assert_eq!(
        initially_scheduled(&pg).map(|c| c.0).as_deref(),
        Some("False"),
        "the condition stays False: {pg}"
    );
    assert_no_node_overcommitted(&client, 8).await;
}

/// Issue 8 "Semantics": a pod naming a native PodGroup that does not exist yet waits (pending,
/// with PodGroupNotFound: "pod group default/later (...) does not exist yet") and is never
/// scheduled alone; once the PodGroup is created the gang binds whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_naming_a_missing_native_podgroup_wait_and_bind_once_it_is_created() {
    let cp = control_plane().await;
    let client = cp.client();
    nodes(&client, "n", 1, 8, &[]).await.expect("nodes");
    let _sched = caldera(&cp).await;

    let later = gang_pods("later", 2, 2, "caldera");
    let names = names_of(&later);
    create_pods(&client, &later).await.expect("pods");

    let why = wait_for(
        "pod later-0 (native PodGroup `later` missing) to say why it waits",
        WAIT,
        || async {
            let pod = get_pod(&client, "later-0")
                .await
                .map_err(|e| e.to_string())?
                .ok_or("missing")?;
            if node_of(&pod).is_some() {
                return Err("later-0 was bound although its PodGroup does not exist".to_owned());
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
            let events = events_for(&client, "Pod", "later-0").await.map_err(|e| e.to_string())?;
            let notes: Vec<String> = events.iter().filter_map(|e| e.note.clone()).collect();
            let names_it =
                |t: &str| t.contains("PodGroupNotFound") || (t.contains("later") && t.contains("does not exist"));
            if names_it(&text) {
                Ok(text)
            } else if let Some(n) = notes.iter().find(|n| names_it(n)) {
                Ok(n.clone())
            } else {
                Err(format!("PodScheduled: {c:?}; events: {}", describe_events(&events)))
            }
        },
    )
    .await
    .expect("the waiting pod names the missing PodGroup");
    eprintln!("missing native PodGroup reported as: {why}");
    ensure_unbound_for(
        &client,
        &names,
        Duration::from_secs(3),
        "PodGroup `later` does not exist",
    )
    .await
    .expect("never scheduled alone");

    apply_objects(&client, &[native_pg("later", Policy::Gang(2), None)])
        .await
        .expect("PodGroup");
    wait_all_bound(&client, &names, WAIT)
        .await
        .expect("the pods bind once their PodGroup exists");
    wait_initially_scheduled(&client, "later", "True", WAIT).await;
}

/// Issue 8 "Topology": a native gang with `schedulingConstraints.topology: [{key: zone}]` lands in
/// one zone (the only one that holds it whole, although spreading over both would fit and the
/// packing score prefers zone a's fuller node); a second one that fits across zones but in no
/// single zone stays pending with a reason naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_constrained_native_gang_lands_in_one_zone_and_one_that_fits_no_zone_waits() {
    let cp = control_plane().await;
    let client = cp.client();
    ensure_topology_constraints_are_kept(&cp).await;
    for (name, zone) in [
        ("a-0", "zone-a"),
        ("a-1", "zone-a"),
        ("b-0", "zone-b"),
        ("b-1", "zone-b"),
    ] {
        NodeBuilder::new(name)
            .gpus(8)
            .label(ZONE, zone)
            .create(&client)
            .await
            .expect("node");
    }
    // Already running, bound by nodeName: zone a keeps 2 + 4 GPUs free, zone b 8 + 8.
    let fillers = [
        pod("fill-a0", None, 6).spec_field("nodeName", json!("a-0")),
        pod("fill-a1", None, 4).spec_field("nodeName", json!("a-1")),
    ];
    create_pods(&client, &fillers).await.expect("fillers");
    // Caldera starts after the fillers exist, so its first cycle already counts them.
    let _sched = caldera(&cp).await;

    // 3 × 4 GPUs: zone a holds one such pod (a-1), zone b all three.
    apply_objects(&client, &[native_pg("zonal", Policy::Gang(3), Some(ZONE))])
        .await
        .expect("PodGroup");
    let zonal = gang_pods("zonal", 3, 4, "caldera");
    create_pods(&client, &zonal).await.expect("pods");
    let placed = wait_all_bound(&client, &names_of(&zonal), WAIT)
        .await
        .expect("the zonal gang binds");
    eprintln!("zonal placed: {placed:?}");
    assert!(
        placed.values().all(|n| n.starts_with("b-")),
        "the gang must be inside zone-b, the only zone that holds it: {placed:?}"
    );
    wait_initially_scheduled(&client, "zonal", "True", WAIT).await;

    // Now zone a has 2 + 4 free, zone b 4 (on one node): 2 × 4 GPUs fit across zones (a-1 and
    // zone b), never inside one.
    apply_objects(&client, &[native_pg("split", Policy::Gang(2), Some(ZONE))])
        .await
        .expect("PodGroup");
    let split = gang_pods("split", 2, 4, "caldera");
    create_pods(&client, &split).await.expect("pods");
    let (_, reason, message) = wait_initially_scheduled_saying(&client, "split", "False", ZONE, WAIT).await;
    eprintln!("split: {INITIALLY_SCHEDULED}=False reason={reason:?} message={message:?}");
    assert_eq!(reason, "Unschedulable");
    assert!(
        message.starts_with("minCount (2) cannot be satisfied") && message.contains(ZONE),
        "the reason must name minCount and the topology key: {message:?}"
    );
    ensure_unbound_for(
        &client,
        &names_of(&split),
        Duration::from_secs(4),
        "split fits no single zone",
    )
    .await
    .expect("the gang that fits no zone stays entirely pending");
    assert_no_node_overcommitted(&client, 8).await;
}

// ---------------------------------------------------------------------------------------------
// side by side with kube-scheduler

/// One gang of the side-by-side comparison.
struct Case {
    group: &'static str,
    policy: Policy,
    pods: usize,
    gpus: u32,
    /// Whether all pods (true) or none (false) must bind.
    binds_all: bool,
}

/// On 3 nodes × 8 GPUs.
const CASES: [Case; 4] = [
    // 12 GPUs: fits.
    Case {
        group: "fits",
        policy: Policy::Gang(3),
        pods: 3,
        gpus: 4,
        binds_all: true,
    },
    // 32 GPUs on 24: up to 3 pods could be placed one by one, never all 4.
    Case {
        group: "too-big",
        policy: Policy::Gang(4),
        pods: 4,
        gpus: 8,
        binds_all: false,
    },
    // 2 pods of a minCount-3 gang: the gang is never complete.
    Case {
        group: "short",
        policy: Policy::Gang(3),
        pods: 2,
        gpus: 1,
        binds_all: false,
    },
    // No gang semantics: each pod on its own.
    Case {
        group: "basic",
        policy: Policy::Basic,
        pods: 2,
        gpus: 1,
        binds_all: true,
    },
];

/// What one scheduler made of one gang.
#[derive(Debug, Clone)]
struct Outcome {
    bound: usize,
    condition: Option<(String, String, String)>,
    /// `PodScheduled` of the gang's first pod.
    first_pod: Option<(String, String, String)>,
}

/// Creates the same nodes, PodGroups and pods on `client` with `schedulerName: scheduler`, waits
/// until the fitting gangs are bound and the rest have been tried, and reports per gang.
async fn run_cases(client: &Client, scheduler: &str) -> BTreeMap<&'static str, Outcome> {
    nodes(client, "n", 3, 8, &[]).await.expect("nodes");
    let pgs: Vec<Value> = CASES.iter().map(|c| native_pg(c.group, c.policy, None)).collect();
    apply_objects(client, &pgs).await.expect("PodGroups");
    let pods: BTreeMap<&str, Vec<PodBuilder>> = CASES
        .iter()
        .map(|c| (c.group, gang_pods(c.group, c.pods, c.gpus, scheduler)))
        .collect();
    let all: Vec<PodBuilder> = pods.values().flatten().cloned().collect();
    create_pods(client, &all).await.expect("pods");

    for c in CASES.iter().filter(|c| c.binds_all) {
        wait_all_bound(client, &names_of(&pods[c.group]), WAIT)
            .await
            .unwrap_or_else(|e| panic!("{scheduler}: gang {} must bind whole: {e}", c.group));
    }
    // The gang that cannot fit has been tried and reported by now under both schedulers.
    wait_initially_scheduled(client, "too-big", "False", WAIT).await;
    // Then 5 s more for anything that would still bind (the caller compares the counts).
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut out = BTreeMap::new();
    for c in &CASES {
        let p = placements(client, &names_of(&pods[c.group])).await.expect("placements");
        let pg = native_podgroup(client, c.group).await.expect("get PodGroup");
        let first = get_pod(client, &format!("{}-0", c.group)).await.expect("get pod");
        out.insert(
            c.group,
            Outcome {
                bound: p.values().filter(|n| n.is_some()).count(),
                condition: pg.as_ref().and_then(initially_scheduled),
                first_pod: first.as_ref().and_then(pod_scheduled),
            },
        );
    }
    assert_no_node_overcommitted(client, 8).await;
    out
}

fn condition_text(c: Option<&(String, String, String)>) -> String {
    c.map_or_else(
        || "(no condition)".to_owned(),
        |(status, reason, message)| format!("{status} / {reason} / {message:?}"),
    )
}

/// Issue 8 "Side by side": the same native PodGroups and pods, on two fresh control planes with
/// identical nodes, given to kube-scheduler 1.37 (`GenericWorkload` on, as `e2e/up
/// --with-scheduler` runs it) and to Caldera, give the same all-or-nothing outcome. Both results
/// are printed (`--nocapture`) with the `PodGroupInitiallyScheduled` condition each wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_scheduler_and_caldera_give_the_same_all_or_nothing_outcome_on_identical_native_gangs() {
    caldera_binary().expect("the caldera binary must build");
    let (kube_cp, caldera_cp) = tokio::join!(ControlPlane::start(), ControlPlane::start());
    let kube_cp = kube_cp.expect("control plane for kube-scheduler");
    let caldera_cp = caldera_cp.expect("control plane for caldera");

    let mut kube = KubeScheduler::start(&kube_cp).expect("kube-scheduler starts");
    kube.wait_healthy(WAIT).await.expect("kube-scheduler healthy");
    let _caldera = caldera(&caldera_cp).await;

    let kube_client = kube_cp.client();
    let caldera_client = caldera_cp.client();
    let (k, c) = tokio::join!(
        run_cases(&kube_client, "default-scheduler"),
        run_cases(&caldera_client, "caldera")
    );

    let mut table = String::from(
        "\nside by side: the same native PodGroups on 3 nodes × 8 GPUs\n\
         gang      policy        pods  expected | kube-scheduler bound, PodGroupInitiallyScheduled | caldera bound, PodGroupInitiallyScheduled\n",
    );
    for case in &CASES {
        let (ko, co) = (&k[case.group], &c[case.group]);
        let _ = writeln!(
            table,
            "{:<9} {:<13} {:>4}  {:<8} | {}/{} {} | {}/{} {}",
            case.group,
            format!("{:?}", case.policy),
            case.pods,
            if case.binds_all { "all" } else { "none" },
            ko.bound,
            case.pods,
            condition_text(ko.condition.as_ref()),
            co.bound,
            case.pods,
            condition_text(co.condition.as_ref()),
        );
    }
    table.push_str("PodScheduled of each gang's first pod:\n");
    for case in &CASES {
        let (ko, co) = (&k[case.group], &c[case.group]);
        let _ = writeln!(
            table,
            "{:<9} kube-scheduler: {} | caldera: {}",
            case.group,
            condition_text(ko.first_pod.as_ref()),
            condition_text(co.first_pod.as_ref()),
        );
    }
    println!("{table}");

    for case in &CASES {
        let want = if case.binds_all { case.pods } else { 0 };
        let (ko, co) = (&k[case.group], &c[case.group]);
        assert_eq!(
            (ko.bound, co.bound),
            (want, want),
            "gang {}: (kube-scheduler, caldera) bound pods, expected {want} each{table}",
            case.group
        );
    }
    for (who, r) in [("kube-scheduler", &k), ("caldera", &c)] {
        let fits = r["fits"].condition.as_ref().map(|c| c.0.clone());
        assert_eq!(
            fits.as_deref(),
            Some("True"),
            "{who}: fits is initially scheduled{table}"
        );
        let too_big = r["too-big"].condition.clone().unwrap_or_default();
        assert_eq!(
            (too_big.0.as_str(), too_big.1.as_str()),
            ("False", "Unschedulable"),
            "{who}: too-big{table}"
        );
        assert!(
            too_big.2.starts_with("minCount (4) cannot be satisfied"),
            "{who}: too-big message{table}"
        );
    }
    drop(kube);
}

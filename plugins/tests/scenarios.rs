//! Behaviours of the default pipeline on small, hand-made clusters. Every cycle here is also
//! checked against `caldera_testkit::invariants`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use caldera_framework::{JobCondition, JobPhase, Outcome, SelectorOp, Snapshot, TaintEffect};
use caldera_plugins::Pipeline;
use caldera_testkit::query::{self, binds, binds_per_node, condition, job_binds, job_message, phase};
use caldera_testkit::{ClusterBuilder, GPU_PRODUCT_LABEL, invariants};

const A100: &str = "NVIDIA-A100-SXM4-80GB";
const H100: &str = "NVIDIA-H100-80GB-HBM3";

fn pipeline() -> &'static Pipeline {
    static PIPELINE: OnceLock<Pipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| Pipeline::default_pipeline().expect("the default configuration loads"))
}

/// One cycle over `c`, checked against the invariants; returns the snapshot the outcome's ids
/// refer to and the outcome.
fn cycle(c: &ClusterBuilder) -> (Snapshot, Outcome) {
    let before = c.build(1_000);
    let (after, out) = pipeline().run(before.clone());
    if let Err(e) = invariants::check(&before, &after, &out) {
        panic!("invariants broken:\n{e}\nbinds: {:?}", binds(&before, &out));
    }
    (before, out)
}

fn unschedulable(reason: &str, message: &str) -> Option<JobCondition> {
    Some(JobCondition::Unschedulable {
        reason: reason.to_string(),
        message: message.to_string(),
    })
}

fn gpu_node(c: &mut ClusterBuilder, name: &str) {
    c.node(name).cpu(96).mem_gi(1024).gpus(8).gpu_product(A100);
}

#[test]
fn gang_that_fits_binds_whole() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "gpu-1");
    gpu_node(&mut c, "gpu-2");
    c.gang("ml", "train", "default", 4, 4, |p| p.cpu(8).mem_gi(64).gpus(4));
    let (s, out) = cycle(&c);
    assert_eq!(job_binds(&s, &out, "ml", "train").len(), 4);
    assert_eq!(
        binds_per_node(&s, &out),
        BTreeMap::from([("gpu-1".into(), 2), ("gpu-2".into(), 2)])
    );
    assert_eq!(condition(&s, &out, "ml", "train"), Some(JobCondition::Scheduled));
    assert_eq!(phase(&s, &out, "ml", "train"), Some(JobPhase::Running));
}

#[test]
fn gang_that_does_not_fit_binds_nothing_and_says_why() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "gpu-1");
    c.node("gpu-2")
        .cpu(96)
        .mem_gi(1024)
        .gpus(8)
        .taint("dedicated", "ml", TaintEffect::NoSchedule);
    c.node("cpu-1").cpu(64).mem_gi(256);
    // Two of the three pods fit on gpu-1; the gang needs all three.
    c.gang("ml", "train", "default", 3, 3, |p| p.cpu(8).mem_gi(64).gpus(4));
    let (s, out) = cycle(&c);
    assert!(out.binds.is_empty(), "{:?}", binds(&s, &out));
    assert_eq!(
        condition(&s, &out, "ml", "train"),
        unschedulable(
            "NotEnoughResources",
            "3/3 tasks in gang unschedulable: 0/3 nodes are available: 2 Insufficient nvidia.com/gpu, \
             1 node(s) had untolerated taint {dedicated: ml}."
        )
    );
    assert_eq!(
        phase(&s, &out, "ml", "train"),
        Some(JobPhase::Inqueue),
        "admitted, not placed"
    );
}

#[test]
fn higher_priority_gang_wins_a_contended_node() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "gpu-1");
    c.priority_class("low", 10).priority_class("high", 1000);
    // The low-priority gang is older and sorts first by name: only priority puts the other first.
    c.gang("ml", "a-low", "default", 2, 2, |p| p.cpu(4).gpus(4))
        .priority_class("low")
        .created(0);
    c.gang("ml", "b-high", "default", 2, 2, |p| p.cpu(4).gpus(4))
        .priority_class("high")
        .created(500);
    let (s, out) = cycle(&c);
    assert_eq!(job_binds(&s, &out, "ml", "b-high").len(), 2);
    assert!(job_binds(&s, &out, "ml", "a-low").is_empty());
    assert!(matches!(
        condition(&s, &out, "ml", "a-low"),
        Some(JobCondition::Unschedulable { .. })
    ));
}

#[test]
fn queue_weights_split_gpus_proportionally() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "gpu-1");
    gpu_node(&mut c, "gpu-2");
    c.queue("light").weight(1);
    c.queue("heavy").weight(3);
    for i in 0..16 {
        c.gang("team", &format!("light-{i:02}"), "light", 1, 1, |p| {
            p.cpu(1).mem_gi(4).gpus(1)
        });
        c.gang("team", &format!("heavy-{i:02}"), "heavy", 1, 1, |p| {
            p.cpu(1).mem_gi(4).gpus(1)
        });
    }
    let (s, out) = cycle(&c);
    let mut per_queue: BTreeMap<String, usize> = BTreeMap::new();
    for b in &out.binds {
        let job = s.job(s.task(b.task).job);
        *per_queue.entry(job.queue_name.clone()).or_default() += 1;
    }
    assert_eq!(per_queue, BTreeMap::from([("heavy".into(), 12), ("light".into(), 4)]));
}

#[test]
fn mig_pod_lands_only_on_a_node_with_its_profile() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "a-gpu");
    c.mig_node("b-mig-3g", "3g.40gb", 2);
    c.mig_node("c-mig-1g", "1g.10gb", 7);
    c.mig_node("d-mig-1g", "1g.10gb", 7);
    c.node("e-cpu").cpu(64).mem_gi(256);
    c.pod("ml", "notebook", |p| p.cpu(1).mem_gi(8).mig("1g.10gb", 1));
    // 14 slices in the cluster, at most 7 on a node, and 8 whole GPUs on a-gpu.
    c.pod("ml", "eight-slices", |p| p.cpu(1).mem_gi(8).mig("1g.10gb", 8));
    let (s, out) = cycle(&c);
    assert_eq!(binds(&s, &out), [("ml/notebook".to_string(), "c-mig-1g".to_string())]);
    let t = query::task(&s, "ml", "eight-slices").expect("task");
    assert_eq!(
        out.unschedulable.get(&t).map(String::as_str),
        Some("0/5 nodes are available: 5 Insufficient nvidia.com/mig-1g.10gb."),
        "a whole GPU is never handed out for a MIG slice"
    );
}

#[test]
fn gpu_product_node_selector_picks_the_model() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "a100-1");
    c.node("h100-1").cpu(96).mem_gi(1024).gpus(8).gpu_product(H100);
    c.pod("ml", "wants-h100", |p| {
        p.cpu(4).gpus(8).node_selector(GPU_PRODUCT_LABEL, H100)
    });
    c.pod("ml", "wants-b200", |p| {
        p.cpu(4).gpus(1).node_selector(GPU_PRODUCT_LABEL, "NVIDIA-B200")
    });
    let (s, out) = cycle(&c);
    assert_eq!(binds(&s, &out), [("ml/wants-h100".to_string(), "h100-1".to_string())]);
    let t = query::task(&s, "ml", "wants-b200").expect("task");
    assert_eq!(
        out.unschedulable.get(&t).map(String::as_str),
        Some("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")
    );
}

#[test]
fn untolerated_taint_blocks_and_tolerated_taint_allows() {
    let mut c = ClusterBuilder::new();
    c.node("gpu-1")
        .cpu(96)
        .mem_gi(1024)
        .gpus(8)
        .taint("nvidia.com/gpu", "present", TaintEffect::NoSchedule);
    c.pod("ml", "plain", |p| p.cpu(1).gpus(1));
    c.pod("ml", "tolerant", |p| {
        p.cpu(1).gpus(1).tolerate("nvidia.com/gpu", "present")
    });
    let (s, out) = cycle(&c);
    assert_eq!(binds(&s, &out), [("ml/tolerant".to_string(), "gpu-1".to_string())]);
    let t = query::task(&s, "ml", "plain").expect("task");
    assert_eq!(
        out.unschedulable.get(&t).map(String::as_str),
        Some("0/1 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}.")
    );
}

#[test]
fn cpu_only_pod_avoids_gpu_nodes_while_a_cpu_node_fits() {
    let mut c = ClusterBuilder::new();
    // binpack alone would prefer the smaller (GPU) node, which the pods fill more.
    c.node("a-gpu").cpu(32).mem_gi(128).gpus(8);
    c.node("z-cpu").cpu(128).mem_gi(512);
    c.pod("web", "small", |p| p.cpu(4).mem_gi(8).created(0));
    c.pod("web", "big", |p| p.cpu(100).mem_gi(8).created(1));
    c.pod("web", "spill", |p| p.cpu(30).mem_gi(8).created(2));
    let (s, out) = cycle(&c);
    let placed: BTreeMap<String, String> = binds(&s, &out).into_iter().collect();
    assert_eq!(placed.get("web/small").map(String::as_str), Some("z-cpu"));
    assert_eq!(placed.get("web/big").map(String::as_str), Some("z-cpu"));
    assert_eq!(
        placed.get("web/spill").map(String::as_str),
        Some("a-gpu"),
        "only the GPU node has room left"
    );
}

#[test]
fn gpu_gang_packs_onto_the_fewest_nodes() {
    let mut c = ClusterBuilder::new();
    for i in 0..4 {
        gpu_node(&mut c, &format!("gpu-{i}"));
    }
    c.gang("ml", "small", "default", 4, 4, |p| p.cpu(4).mem_gi(32).gpus(2));
    let (s, out) = cycle(&c);
    assert_eq!(out.binds.len(), 4);
    assert_eq!(binds_per_node(&s, &out).len(), 1, "{:?}", binds(&s, &out));
}

#[test]
fn gang_whose_min_resources_exceed_the_overcommitted_cluster_stays_pending() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "gpu-1");
    // 16 GPUs > 8 × 1.2.
    c.gang("ml", "big", "default", 2, 2, |p| p.cpu(4).gpus(8))
        .min_resources_of_members();
    c.gang("ml", "small", "default", 1, 1, |p| p.cpu(4).gpus(4))
        .min_resources_of_members();
    let (s, out) = cycle(&c);
    assert_eq!(phase(&s, &out, "ml", "big"), Some(JobPhase::Pending));
    assert_eq!(
        job_message(&s, &out, "ml", "big").as_deref(),
        Some(
            "job is not admitted: its minResources do not fit queue default's remaining share or the cluster's idle resources"
        )
    );
    assert!(job_binds(&s, &out, "ml", "big").is_empty());
    assert_eq!(phase(&s, &out, "ml", "small"), Some(JobPhase::Running));
    assert_eq!(job_binds(&s, &out, "ml", "small").len(), 1);
}

#[test]
fn pod_naming_a_missing_podgroup_is_not_scheduled() {
    let mut c = ClusterBuilder::new();
    c.node("cpu-1").cpu(8).mem_gi(32);
    c.pod("ml", "orphan", |p| p.cpu(1).group("ghost"));
    let (s, out) = cycle(&c);
    assert!(out.binds.is_empty());
    assert_eq!(
        condition(&s, &out, "ml", "ghost"),
        unschedulable(
            "PodGroupNotFound",
            "pod group ml/ghost (scheduling.volcano.sh/v1beta1) does not exist yet"
        )
    );
}

#[test]
fn unknown_queue_is_reported_and_other_jobs_still_schedule() {
    let mut c = ClusterBuilder::new();
    c.node("cpu-1").cpu(8).mem_gi(32);
    c.gang("ml", "lost", "nope", 1, 1, |p| p.cpu(1));
    c.gang("ml", "fine", "default", 1, 1, |p| p.cpu(1));
    let (s, out) = cycle(&c);
    assert_eq!(binds(&s, &out), [("ml/fine-0".to_string(), "cpu-1".to_string())]);
    match condition(&s, &out, "ml", "lost") {
        Some(JobCondition::Unschedulable { reason, .. }) => assert_eq!(reason, "QueueNotFound"),
        other => panic!("expected QueueNotFound, got {other:?}"),
    }
}

#[test]
fn closed_queue_admits_nothing() {
    let mut c = ClusterBuilder::new();
    c.node("cpu-1").cpu(8).mem_gi(32);
    c.queue("shut").closed();
    c.queue("open");
    c.gang("ml", "blocked", "shut", 1, 2, |p| p.cpu(1));
    c.gang("ml", "flowing", "open", 1, 2, |p| p.cpu(1));
    let (s, out) = cycle(&c);
    assert!(job_binds(&s, &out, "ml", "blocked").is_empty());
    assert_eq!(phase(&s, &out, "ml", "blocked"), Some(JobPhase::Pending));
    assert_eq!(
        job_message(&s, &out, "ml", "blocked").as_deref(),
        Some("queue shut is Closed and admits no new jobs")
    );
    assert_eq!(job_binds(&s, &out, "ml", "flowing").len(), 2);
}

#[test]
fn min_task_member_holds_back_a_gang_missing_a_role() {
    let build = |leader_node: bool| {
        let mut c = ClusterBuilder::new();
        c.node("cpu-1").cpu(32).mem_gi(64);
        if leader_node {
            c.node("cpu-2").cpu(32).mem_gi(64).label("role", "leader");
        }
        // minMember 2 is met by the workers alone; minTaskMember also wants the leader.
        c.gang_indexed("ml", "mpi", "default", 2, 4, |i, p| {
            if i == 0 {
                p.cpu(1).role("leader").node_selector("role", "leader")
            } else {
                p.cpu(1).role("worker")
            }
        })
        .min_task_member("leader", 1)
        .min_task_member("worker", 1);
        c
    };
    let (s, out) = cycle(&build(false));
    assert!(out.binds.is_empty(), "{:?}", binds(&s, &out));
    assert!(matches!(
        condition(&s, &out, "ml", "mpi"),
        Some(JobCondition::Unschedulable { .. })
    ));
    let (s, out) = cycle(&build(true));
    assert_eq!(
        job_binds(&s, &out, "ml", "mpi").get("mpi-0").map(String::as_str),
        Some("cpu-2")
    );
    assert_eq!(out.binds.len(), 4);
}

#[test]
fn elastic_job_binds_as_many_pods_as_fit_beyond_its_minimum() {
    let mut c = ClusterBuilder::new();
    c.node("gpu-1").cpu(96).mem_gi(1024).gpus(6);
    c.gang("ml", "elastic", "default", 2, 4, |p| p.cpu(2).gpus(2));
    let (s, out) = cycle(&c);
    assert_eq!(job_binds(&s, &out, "ml", "elastic").len(), 3);
    assert_eq!(condition(&s, &out, "ml", "elastic"), Some(JobCondition::Scheduled));
    assert_eq!(phase(&s, &out, "ml", "elastic"), Some(JobPhase::Running));
}

#[test]
fn running_job_gets_its_new_pending_pod_bound() {
    let mut c = ClusterBuilder::new();
    c.node("cpu-1").cpu(8).mem_gi(32);
    c.gang_indexed("ml", "web", "default", 2, 3, |i, p| {
        if i < 2 { p.cpu(2).running_on("cpu-1") } else { p.cpu(2) }
    })
    .phase(JobPhase::Running);
    let (s, out) = cycle(&c);
    assert_eq!(binds(&s, &out), [("ml/web-2".to_string(), "cpu-1".to_string())]);
    assert_eq!(phase(&s, &out, "ml", "web"), Some(JobPhase::Running));
}

#[test]
fn pipelining_onto_releasing_resources_does_not_bind() {
    let mut c = ClusterBuilder::new();
    c.node("gpu-1").cpu(96).mem_gi(1024).gpus(8);
    // Another scheduler's pod is being deleted; its GPUs are releasing.
    c.bound_pod("other", "leaving", "gpu-1", |p| p.cpu(4).gpus(8).deleting().foreign());
    c.gang("ml", "next", "default", 1, 1, |p| p.cpu(4).gpus(8));
    let (s, out) = cycle(&c);
    assert!(out.binds.is_empty(), "{:?}", binds(&s, &out));
    assert_eq!(
        query::pipelined(&s, &out),
        [("ml/next-0".to_string(), "gpu-1".to_string())]
    );
    assert!(matches!(
        condition(&s, &out, "ml", "next"),
        Some(JobCondition::Unschedulable { .. })
    ));
    assert_eq!(phase(&s, &out, "ml", "next"), Some(JobPhase::Inqueue));
}

#[test]
fn pipelining_onto_resources_released_by_the_same_queue() {
    let mut c = ClusterBuilder::new();
    c.node("gpu-1").cpu(96).mem_gi(1024).gpus(8);
    c.bound_pod("ml", "leaving", "gpu-1", |p| p.cpu(4).gpus(8).deleting());
    c.gang("ml", "next", "default", 1, 1, |p| p.cpu(4).gpus(8));
    let (s, out) = cycle(&c);
    assert_eq!(
        query::pipelined(&s, &out),
        [("ml/next-0".to_string(), "gpu-1".to_string())]
    );
}

#[test]
fn best_effort_pod_is_not_bound_onto_a_releasing_pod_slot() {
    let mut c = ClusterBuilder::new();
    c.node("cpu-1").cpu(4).mem_gi(8).max_pods(1);
    c.bound_pod("old", "leaving", "cpu-1", |p| p.cpu(1).deleting());
    c.pod("web", "sidecar", |p| p);
    let before = c.build(1_000);
    let (after, out) = pipeline().run(before.clone());
    // Binding it would put 2 pods on a node with room for 1 once the leaving pod is gone.
    assert_eq!(binds(&before, &out), Vec::<(String, String)>::new());
    invariants::check(&before, &after, &out).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn allocation_leaves_the_room_promised_to_a_pipelined_gang() {
    let mut c = ClusterBuilder::new();
    c.node("cpu-1").cpu(32).mem_gi(64);
    c.bound_pod("other", "leaving", "cpu-1", |p| p.cpu(20).deleting().foreign());
    c.bound_pod("other", "staying", "cpu-1", |p| p.cpu(10).foreign());
    // 2 cores idle, 20 releasing: "first" is pipelined onto 22 cores, leaving nothing for later.
    c.gang("ml", "first", "default", 1, 1, |p| p.cpu(22)).created(0);
    c.gang("ml", "second", "default", 1, 1, |p| p.cpu(2)).created(10);
    let before = c.build(1_000);
    let (after, out) = pipeline().run(before.clone());
    assert_eq!(
        query::pipelined(&before, &out),
        [("ml/first-0".to_string(), "cpu-1".to_string())]
    );
    invariants::check(&before, &after, &out).unwrap_or_else(|e| panic!("{e}"));
    // Today: ml/second-0 is bound to cpu-1, so 10 + 2 + 22 = 34 cores are promised on 32.
    invariants::check_reservations(&before, &after, &out).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.binds.is_empty(), "{:?}", binds(&before, &out));
}

#[test]
fn unschedulable_messages_and_phases_are_stable_across_cycles() {
    // Re-running a cycle after applying nothing changes nothing; applying its binds leaves
    // nothing more to do.
    let mut c = ClusterBuilder::new();
    c.node("cpu-1").cpu(4).mem_gi(8);
    c.node("cpu-2").cpu(4).mem_gi(8);
    c.gang("ml", "fits", "default", 2, 2, |p| p.cpu(1));
    // 6 cores: less than the cluster's 8, more than any node's 4.
    c.gang("ml", "too-big", "default", 1, 1, |p| p.cpu(6));
    let before = c.build(1_000);
    let (_, first) = pipeline().run(before.clone());
    let (_, again) = pipeline().run(before.clone());
    assert_eq!(query::decisions(&before, &first), query::decisions(&before, &again));
    c.apply(&before, &first);
    let (s, next) = cycle(&c);
    assert!(next.binds.is_empty(), "{:?}", binds(&s, &next));
    assert_eq!(phase(&s, &next, "ml", "fits"), Some(JobPhase::Running));
    assert_eq!(condition(&s, &next, "ml", "fits"), Some(JobCondition::Scheduled));
    assert_eq!(
        condition(&s, &next, "ml", "too-big"),
        unschedulable(
            "NotEnoughResources",
            "1/1 tasks in gang unschedulable: 0/2 nodes are available: 2 Insufficient cpu."
        )
    );
}

#[test]
fn selector_and_affinity_constraints_are_both_required() {
    let mut c = ClusterBuilder::new();
    c.node("a").cpu(8).mem_gi(32).label("zone", "a").label("disk", "ssd");
    c.node("b").cpu(8).mem_gi(32).label("zone", "b").label("disk", "ssd");
    c.node("c").cpu(8).mem_gi(32).label("zone", "b");
    c.pod("ml", "p", |p| {
        p.cpu(1)
            .node_selector("disk", "ssd")
            .require("zone", SelectorOp::NotIn, &["a"])
    });
    let (s, out) = cycle(&c);
    assert_eq!(binds(&s, &out), [("ml/p".to_string(), "b".to_string())]);
}

fn zoned_gpu_node(c: &mut ClusterBuilder, name: &str, zone: &str, busy_gpus: i64) {
    c.node(name)
        .cpu(96)
        .mem_gi(1024)
        .gpus(8)
        .label(caldera_testkit::ZONE_LABEL, zone);
    if busy_gpus > 0 {
        c.bound_pod("other", &format!("{name}-busy"), name, |p| p.cpu(1).gpus(busy_gpus));
    }
}

fn zones_of(s: &Snapshot, out: &Outcome, job: &str) -> std::collections::BTreeSet<String> {
    job_binds(s, out, "ml", job)
        .values()
        .filter_map(|node| {
            let n = s.node_by_name(node)?;
            s.node(n).labels.get(caldera_testkit::ZONE_LABEL).cloned()
        })
        .collect()
}

#[test]
fn topology_constrained_gang_lands_in_one_zone_the_tightest_that_fits() {
    let mut c = ClusterBuilder::new();
    // zone-a: 16 GPUs free; zone-b: 12 GPUs free (the tighter fit for 3 × 4 GPUs).
    zoned_gpu_node(&mut c, "a-1", "zone-a", 0);
    zoned_gpu_node(&mut c, "a-2", "zone-a", 0);
    zoned_gpu_node(&mut c, "b-1", "zone-b", 4);
    zoned_gpu_node(&mut c, "b-2", "zone-b", 0);
    c.gang("ml", "train", "default", 3, 3, |p| p.cpu(4).gpus(4))
        .with_group(|g| g.topology_key = Some(caldera_testkit::ZONE_LABEL.to_string()));
    let (s, out) = cycle(&c);
    assert_eq!(job_binds(&s, &out, "ml", "train").len(), 3);
    assert_eq!(
        zones_of(&s, &out, "train"),
        ["zone-b".to_string()].into_iter().collect()
    );
}

#[test]
fn gang_that_fits_the_cluster_but_no_single_zone_waits_and_names_the_key() {
    let mut c = ClusterBuilder::new();
    zoned_gpu_node(&mut c, "a-1", "zone-a", 0);
    zoned_gpu_node(&mut c, "b-1", "zone-b", 0);
    // 3 × 4 GPUs = 12: the cluster has 16, each zone only 8.
    c.gang("ml", "train", "default", 3, 3, |p| p.cpu(4).gpus(4))
        .with_group(|g| g.topology_key = Some(caldera_testkit::ZONE_LABEL.to_string()));
    let (s, out) = cycle(&c);
    assert!(job_binds(&s, &out, "ml", "train").is_empty());
    let msg = job_message(&s, &out, "ml", "train").unwrap_or_default();
    assert!(
        msg.contains("fits in no single domain of topology key \"topology.kubernetes.io/zone\" (2 domain(s) tried: zone-a, zone-b)"),
        "{msg}"
    );
    // Without the constraint the same gang spans both zones.
    let mut free = ClusterBuilder::new();
    zoned_gpu_node(&mut free, "a-1", "zone-a", 0);
    zoned_gpu_node(&mut free, "b-1", "zone-b", 0);
    free.gang("ml", "train", "default", 3, 3, |p| p.cpu(4).gpus(4));
    let (s, out) = cycle(&free);
    assert_eq!(zones_of(&s, &out, "train").len(), 2);
}

#[test]
fn pods_already_running_pin_the_gang_to_their_zone() {
    let mut c = ClusterBuilder::new();
    zoned_gpu_node(&mut c, "a-1", "zone-a", 0);
    zoned_gpu_node(&mut c, "b-1", "zone-b", 0);
    zoned_gpu_node(&mut c, "b-2", "zone-b", 0);
    c.gang("ml", "train", "default", 2, 3, |p| p.cpu(4).gpus(4))
        .with_group(|g| g.topology_key = Some(caldera_testkit::ZONE_LABEL.to_string()))
        .phase(JobPhase::Running);
    c.bound_pod("ml", "train-0", "a-1", |p| p.cpu(4).gpus(4).group("train"));
    let (s, out) = cycle(&c);
    assert_eq!(
        zones_of(&s, &out, "train"),
        ["zone-a".to_string()].into_iter().collect()
    );
}

#[test]
fn a_full_cluster_is_named_as_the_reason_not_the_queue_share() {
    let mut c = ClusterBuilder::new();
    gpu_node(&mut c, "gpu-1");
    c.gang("ml", "first", "default", 1, 1, |p| p.cpu(1).gpus(8))
        .phase(JobPhase::Running);
    c.bound_pod("ml", "first-0", "gpu-1", |p| p.cpu(1).gpus(8).group("first"));
    c.gang("ml", "next", "default", 1, 1, |p| p.cpu(1).gpus(8));
    let (s, out) = cycle(&c);
    assert!(job_binds(&s, &out, "ml", "next").is_empty());
    let msg = job_message(&s, &out, "ml", "next").unwrap_or_default();
    assert_eq!(msg, "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.");
}

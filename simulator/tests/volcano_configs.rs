//! Volcano's own example configurations (tests/fixtures/volcano-configs/, each naming its source)
//! load unchanged and schedule their example workloads as Volcano would; and each plugin switch
//! changes placements the way Volcano's semantics say.

use std::collections::BTreeMap;

use caldera_framework::SchedulerConfig;
use caldera_plugins::Pipeline;
use caldera_simulator::{ReportJson, Scenario, SimOptions, Simulation, report};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/volcano-configs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pipeline(config: &str) -> Pipeline {
    let cfg = SchedulerConfig::parse(config).unwrap_or_else(|e| panic!("{e}"));
    Pipeline::from_config(&cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn run(config: &str, yaml: &str) -> ReportJson {
    let mut s = Scenario::default();
    s.add_yaml("test.yaml", yaml);
    let mut sim = Simulation::new(s);
    sim.run(
        &pipeline(config),
        &SimOptions {
            period: 1000,
            until: Some(120_000),
        },
    );
    report(&sim, 0.0)
}

/// Pod name → node of its first placement.
fn placements(r: &ReportJson) -> BTreeMap<String, String> {
    r.pods
        .iter()
        .filter_map(|p| p.placements.first().map(|pl| (p.name.clone(), pl.node.clone())))
        .collect()
}

fn node(name: &str, cpu: u32, mem: &str, gpus: u32, labels: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{{labels}}}}}\nstatus:\n  allocatable: {{cpu: \"{cpu}\", memory: {mem}, nvidia.com/gpu: \"{gpus}\", pods: \"110\"}}\n"
    )
}

fn group(name: &str, min: u32, queue: &str, annotations: &str) -> String {
    format!(
        "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\nspec: {{minMember: {min}, queue: {queue}}}\n"
    )
}

fn queue(name: &str, spec: &str) -> String {
    format!("---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata: {{name: {name}}}\nspec: {spec}\n")
}

/// A pod of `group` with `requests`, extra annotations and extra spec lines (already indented).
fn pod(name: &str, group: &str, requests: &str, annotations: &str, labels: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n  annotations:\n    scheduling.k8s.io/group-name: {group}\n    simulation.caldera.dev/runtime: \"1000s\"\n{annotations}spec:\n  schedulerName: volcano\n{spec}  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests: {{{requests}}}\n"
    )
}

#[test]
fn every_volcano_fixture_loads_unchanged() {
    for f in [
        "default.conf",
        "capacity.conf",
        "binpack-gpu.conf",
        "hierarchical-queues.conf",
    ] {
        let p = pipeline(&fixture(f));
        assert!(!p.action_names().is_empty(), "{f}");
    }
}

#[test]
fn volcano_default_config_places_gangs_whole() {
    // Volcano's default pipeline: a 3-pod gang that fits is bound whole; a 3-pod gang that does
    // not fit (3 × 3 cpu on 2 × 4 cpu) binds nothing.
    let mut y = node("n1", 4, "16Gi", 0, "") + &node("n2", 4, "16Gi", 0, "");
    y += &group("fits", 3, "default", "");
    for i in 0..3 {
        y += &pod(&format!("fits-{i}"), "fits", "cpu: \"1\"", "", "", "");
    }
    y += &group("big", 3, "default", "");
    for i in 0..3 {
        y += &pod(&format!("big-{i}"), "big", "cpu: \"3\"", "", "", "");
    }
    let r = run(&fixture("default.conf"), &y);
    let at = placements(&r);
    assert_eq!(
        (0..3).filter(|i| at.contains_key(&format!("default/fits-{i}"))).count(),
        3
    );
    assert!(
        (0..3).all(|i| !at.contains_key(&format!("default/big-{i}"))),
        "gang broken: {at:?}"
    );
}

#[test]
fn capacity_example_lets_a_queue_borrow_the_idle_cluster() {
    // docs/user-guide/how_to_use_capacity_plugin.md: two 4-cpu/16Gi nodes; queue1 deserves
    // 2 cpu / 8Gi, queue2 6 / 24Gi; 8 pods of 1 cpu / 4Gi in queue1 all run while queue2 is idle.
    let mut y = node("n1", 4, "16Gi", 0, "") + &node("n2", 4, "16Gi", 0, "");
    y += &queue("queue1", "{reclaimable: true, deserved: {cpu: 2, memory: 8Gi}}");
    y += &queue("queue2", "{reclaimable: true, deserved: {cpu: 6, memory: 24Gi}}");
    y += &group("demo-1", 1, "queue1", "");
    for i in 0..8 {
        y += &pod(&format!("demo-1-{i}"), "demo-1", "cpu: \"1\", memory: 4Gi", "", "", "");
    }
    let r = run(&fixture("capacity.conf"), &y);
    assert_eq!(placements(&r).len(), 8, "all 8 pods run beyond queue1's deserved 2 cpu");
}

#[test]
fn capacity_caps_a_queue_at_its_capability() {
    let mut y = node("n1", 4, "16Gi", 0, "") + &node("n2", 4, "16Gi", 0, "");
    y += &queue("queue1", "{deserved: {cpu: 2}, capability: {cpu: 3}}");
    y += &group("demo", 1, "queue1", "");
    for i in 0..8 {
        y += &pod(&format!("demo-{i}"), "demo", "cpu: \"1\"", "", "", "");
    }
    let r = run(&fixture("capacity.conf"), &y);
    assert_eq!(placements(&r).len(), 3, "capability 3 cpu");
}

#[test]
fn capacity_and_proportion_together_are_refused() {
    let text = fixture("capacity.conf").replace("  - name: capacity", "  - name: proportion\n  - name: capacity");
    let e = Pipeline::from_config(&SchedulerConfig::parse(&text).expect("parses"))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("proportion and capacity"), "{e}");
}

/// Pods holding a node at the end of the run, per queue.
fn running_per_queue(r: &ReportJson) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for p in &r.pods {
        if p.placements.last().is_some_and(|pl| pl.ended_at.is_none()) {
            *out.entry(p.queue.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// Queue `lender` (deserved 2 cpu, `guarantee` cpu) borrowed the whole 8-cpu cluster with
/// single-pod jobs of `size` cpu; at 10 s queue `owner` (deserved 5 cpu) submits six 1-cpu
/// single-pod jobs. Single-pod jobs, so that the reclaim cool-down of one job (5 min) does not
/// shield the others.
fn borrowed_then_claimed(config: &str, size: u32, guarantee: &str) -> BTreeMap<String, usize> {
    running_per_queue(&borrowed_then_claimed_report(config, size, guarantee))
}

/// Placements of pods of `queue` that ended in eviction.
fn evictions_in(r: &ReportJson, queue: &str) -> usize {
    r.pods
        .iter()
        .filter(|p| p.queue == queue)
        .flat_map(|p| &p.placements)
        .filter(|pl| pl.end == Some("evicted"))
        .count()
}

fn borrowed_then_claimed_report(config: &str, size: u32, guarantee: &str) -> ReportJson {
    let mut y = node("n1", 4, "16Gi", 0, "") + &node("n2", 4, "16Gi", 0, "");
    y += &queue(
        "lender",
        &format!("{{reclaimable: true, deserved: {{cpu: 2}}, guarantee: {{resource: {{{guarantee}}}}}}}"),
    );
    y += &queue("owner", "{reclaimable: true, deserved: {cpu: 5}}");
    for i in 0..8 / size {
        y += &group(&format!("early-{i}"), 1, "lender", "");
        y += &pod(
            &format!("early-{i}-0"),
            &format!("early-{i}"),
            &format!("cpu: \"{size}\""),
            "",
            "",
            "",
        );
    }
    for i in 0..6 {
        y += &group(&format!("late-{i}"), 1, "owner", "");
        y += &pod(
            &format!("late-{i}-0"),
            &format!("late-{i}"),
            "cpu: \"1\"",
            "    simulation.caldera.dev/submit-at: \"10s\"\n",
            "",
            "",
        );
    }
    run(config, &y)
}

fn counts(lender: usize, owner: usize) -> BTreeMap<String, usize> {
    [("lender".to_string(), lender), ("owner".to_string(), owner)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[test]
fn capacity_example_reclaims_back_to_deserved_and_never_below_a_guarantee() {
    // Volcano's capacity guide: "when other queues submit jobs, they can reclaim the resources
    // that have been lent, and the amount of reclaimed resources is the amount of queue's
    // deserved resources". Owner takes back its 5 cpu and no more (a sixth pod would take it
    // past its deserved amount: not preemptive), though lender still holds 1 cpu above its 2.
    let conf = fixture("capacity.conf");
    assert_eq!(borrowed_then_claimed(&conf, 1, ""), counts(3, 5));
    // Lender runs 2-cpu pods and is guaranteed 3 cpu (so deserves 3): taking a third pod would
    // leave it 2 < 3, so it keeps 4 cpu and owner stays at 4, below its deserved amount.
    assert_eq!(borrowed_then_claimed(&conf, 2, "cpu: 3"), counts(2, 4));
    // Without the reclaim action, owner waits for lender's pods to end.
    let no_reclaim = conf.replace(", reclaim\"", "\"");
    assert_ne!(no_reclaim, conf);
    assert_eq!(borrowed_then_claimed(&no_reclaim, 1, ""), counts(8, 0));
}

#[test]
fn capacity_enable_reclaimable_false_removes_its_victims() {
    // In Volcano's example, gang and conformance (tier 1) decide the victims, so capacity's own
    // vote (tier 2) is not consulted. With their reclaim votes switched off capacity's decides
    // alone: the same outcome; and with capacity's off too nobody offers victims: no reclaim.
    let capacity_decides = fixture("capacity.conf")
        .replace("  - name: gang\n", "  - name: gang\n    enableReclaimable: false\n")
        .replace(
            "  - name: conformance\n",
            "  - name: conformance\n    enableReclaimable: false\n",
        );
    assert_eq!(borrowed_then_claimed(&capacity_decides, 1, ""), counts(3, 5));
    assert_eq!(
        borrowed_then_claimed(&capacity_decides, 2, "cpu: 3"),
        counts(2, 4),
        "guarantee kept"
    );
    let off = capacity_decides.replace(
        "  - name: capacity # add this field and remove proportion plugin.\n",
        "  - name: capacity\n    enableReclaimable: false\n",
    );
    assert_ne!(off, capacity_decides);
    assert_eq!(borrowed_then_claimed(&off, 1, ""), counts(8, 0));
}

#[test]
fn capacity_enable_preemptive_false_lets_queues_take_resources_back_and_forth() {
    // preemptive keeps a reclaiming queue within its deserved amount, so the queue it took from
    // (now below its own) has nothing to take back. Without it owner's sixth job takes lender
    // below its 2 cpu, and lender's evicted jobs then reclaim from owner in turn.
    let conf = fixture("capacity.conf");
    assert_eq!(evictions_in(&borrowed_then_claimed_report(&conf, 1, ""), "owner"), 0);
    let off = conf.replace(
        "  - name: capacity # add this field and remove proportion plugin.\n",
        "  - name: capacity\n    enablePreemptive: false\n",
    );
    assert_ne!(off, conf);
    assert!(evictions_in(&borrowed_then_claimed_report(&off, 1, ""), "owner") > 0);
}

#[test]
fn binpack_gpu_example_packs_gpu_pods_onto_one_node() {
    let mut y = node("a", 32, "64Gi", 8, "") + &node("b", 32, "64Gi", 8, "");
    for i in 0..4 {
        y += &group(&format!("g{i}"), 1, "default", "");
        y += &pod(
            &format!("g{i}-0"),
            &format!("g{i}"),
            "cpu: \"1\", nvidia.com/gpu: \"1\"",
            "",
            "",
            "",
        );
    }
    let r = run(&fixture("binpack-gpu.conf"), &y);
    let at = placements(&r);
    assert_eq!(at.len(), 4);
    let nodes: std::collections::BTreeSet<&String> = at.values().collect();
    assert_eq!(nodes.len(), 1, "packed: {at:?}");
}

#[test]
fn binpack_weighs_gpus_only_when_listed() {
    // Node a has its GPUs half used but little cpu used; node b has much cpu used and no GPU
    // used. With GPUs weighted (the fixture: gpu weight 2, cpu 5) the GPU pod joins a's GPUs;
    // with the default (cpu and memory only) it goes where cpu is fuller.
    let mut y = node("a", 32, "64Gi", 8, "") + &node("b", 32, "64Gi", 8, "");
    y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: gpu-user}\nspec:\n  nodeName: a\n  containers:\n  - name: c\n    resources: {requests: {cpu: \"1\", nvidia.com/gpu: \"4\"}}\n";
    y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: cpu-user}\nspec:\n  nodeName: b\n  containers:\n  - name: c\n    resources: {requests: {cpu: \"4\"}}\n";
    y += &group("g", 1, "default", "");
    y += &pod("g-0", "g", "cpu: \"1\", nvidia.com/gpu: \"1\"", "", "", "");
    let listed = run(&fixture("binpack-gpu.conf"), &y);
    assert_eq!(placements(&listed)["default/g-0"], "a");
    let plain = "actions: \"allocate\"\ntiers:\n- plugins:\n  - name: binpack\n    arguments: {binpack.weight: 10}\n";
    assert_eq!(placements(&run(plain, &y))["default/g-0"], "b");
}

fn hierarchy_queues() -> String {
    // content/en/docs/hierarchical_queue.md's queue tree.
    let mut y = queue(
        "child-queue-a",
        "{reclaimable: true, parent: root, deserved: {cpu: 64, memory: 128Gi}}",
    );
    y += &queue(
        "child-queue-b",
        "{reclaimable: true, parent: root, deserved: {cpu: 64, memory: 128Gi}}",
    );
    y += &queue(
        "subchild-queue-a1",
        "{reclaimable: true, parent: child-queue-a, deserved: {cpu: 32, memory: 64Gi}}",
    );
    y += &queue(
        "subchild-queue-a2",
        "{reclaimable: true, parent: child-queue-a, deserved: {cpu: 32, memory: 64Gi}}",
    );
    y
}

#[test]
fn hierarchical_example_runs_jobs_in_leaf_queues_only() {
    let mut y = node("n1", 64, "128Gi", 0, "") + &node("n2", 64, "128Gi", 0, "");
    y += &hierarchy_queues();
    y += &group("job-a", 1, "subchild-queue-a1", "");
    y += &pod("job-a-test-0", "job-a", "cpu: \"1\", memory: 2Gi", "", "", "");
    y += &group("job-p", 1, "child-queue-a", "");
    y += &pod("job-p-0", "job-p", "cpu: \"1\", memory: 2Gi", "", "", "");
    // Borrowing beyond deserved (32 cpu) within the parent's share of the cluster.
    y += &group("job-big", 1, "subchild-queue-a2", "");
    for i in 0..40 {
        y += &pod(&format!("job-big-{i}"), "job-big", "cpu: \"1\"", "", "", "");
    }
    let r = run(&fixture("hierarchical-queues.conf"), &y);
    let at = placements(&r);
    assert!(at.contains_key("default/job-a-test-0"));
    assert!(!at.contains_key("default/job-p-0"), "a parent queue holds no jobs");
    assert_eq!(
        (0..40)
            .filter(|i| at.contains_key(&format!("default/job-big-{i}")))
            .count(),
        40
    );
}

/// Volcano's "Understanding ancestorReclaimLevel" scenarios 2 and 3 (website,
/// content/en/docs/hierarchical_queue.md), in cpu on one 2-cpu node: queue-b (deserved 1, under
/// parent-b deserving 4) runs two 1-cpu pods; queue-a (under parent-a) then wants one.
fn cross_parent_reclaim(level: Option<u32>) -> BTreeMap<String, usize> {
    let mut y = node("n1", 2, "16Gi", 0, "");
    y += &queue("parent-a", "{deserved: {cpu: 1}}");
    y += &queue("queue-a", "{parent: parent-a, deserved: {cpu: 1}}");
    y += &queue("parent-b", "{deserved: {cpu: 4}}");
    y += &queue("queue-b", "{parent: parent-b, deserved: {cpu: 1}}");
    y += &group("b", 1, "queue-b", "");
    for i in 0..2 {
        y += &pod(&format!("b-{i}"), "b", "cpu: \"1\"", "", "", "");
    }
    y += &group("a", 1, "queue-a", "");
    y += &pod(
        "a-0",
        "a",
        "cpu: \"1\"",
        "    simulation.caldera.dev/submit-at: \"10s\"\n",
        "",
        "",
    );
    // gang's reclaim vote (tier 1) switched off, as in Volcano's own tests of the level, so that
    // capacity's decides.
    let mut conf = fixture("hierarchical-queues.conf")
        .replace("  - name: gang\n", "  - name: gang\n    enableReclaimable: false\n");
    if let Some(l) = level {
        conf = conf.replace(
            "    enableHierarchy: true # enable hierarchical queue\n",
            &format!("    enableHierarchy: true\n    arguments: {{ancestorReclaimLevel: {l}}}\n"),
        );
    }
    running_per_queue(&run(&conf, &y))
}

#[test]
fn ancestor_reclaim_level_protects_a_parent_within_its_deserved_amount() {
    let two = |a: usize, b: usize| -> BTreeMap<String, usize> {
        [("queue-a".to_string(), a), ("queue-b".to_string(), b)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    assert_eq!(
        cross_parent_reclaim(None),
        two(1, 1),
        "level 0 (default): queue-b is above its own 1 cpu"
    );
    assert_eq!(
        cross_parent_reclaim(Some(1)),
        two(0, 2),
        "level 1: parent-b (2 ≤ 4) is not over"
    );
}

#[test]
fn a_sibling_reclaims_inside_a_full_parent() {
    // parent (capability 4 cpu, on an 8-cpu node) is full with queue-b's pods; queue-a's pod
    // fits only once one of them is evicted, which frees room in the parent too.
    let mut y = node("n1", 8, "32Gi", 0, "");
    y += &queue("parent", "{deserved: {cpu: 4}, capability: {cpu: 4}}");
    y += &queue("queue-a", "{parent: parent, deserved: {cpu: 2}}");
    y += &queue("queue-b", "{parent: parent, deserved: {cpu: 2}}");
    y += &group("b", 1, "queue-b", "");
    for i in 0..4 {
        y += &pod(&format!("b-{i}"), "b", "cpu: \"1\"", "", "", "");
    }
    y += &group("a", 1, "queue-a", "");
    y += &pod(
        "a-0",
        "a",
        "cpu: \"1\"",
        "    simulation.caldera.dev/submit-at: \"10s\"\n",
        "",
        "",
    );
    let r = running_per_queue(&run(&fixture("hierarchical-queues.conf"), &y));
    assert_eq!(r.get("queue-a"), Some(&1), "{r:?}");
    assert_eq!(r.get("queue-b"), Some(&3), "{r:?}");
}

const NODEORDER_ONLY: &str =
    "actions: \"allocate\"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: nodeorder\n";

#[test]
fn nodeorder_least_requested_spreads_and_most_requested_packs() {
    let mut y = node("a", 8, "16Gi", 0, "") + &node("b", 8, "16Gi", 0, "");
    y += &group("g", 1, "default", "");
    for i in 0..4 {
        y += &pod(&format!("g-{i}"), "g", "cpu: \"1\", memory: 1Gi", "", "", "");
    }
    let spread = placements(&run(NODEORDER_ONLY, &y));
    let on_a = spread.values().filter(|n| *n == "a").count();
    assert_eq!(on_a, 2, "leastrequested (default) spreads: {spread:?}");
    let packing = NODEORDER_ONLY.replace(
        "  - name: nodeorder\n",
        "  - name: nodeorder\n    arguments: {leastrequested.weight: 0, balancedresource.weight: 0, mostrequested.weight: 1}\n",
    );
    let packed = placements(&run(&packing, &y));
    assert_eq!(
        packed.values().filter(|n| *n == "a").count(),
        4,
        "mostrequested packs: {packed:?}"
    );
    // enableNodeOrder: false removes nodeorder's vote: ties go to the first node by name.
    let off = NODEORDER_ONLY.replace(
        "  - name: nodeorder\n",
        "  - name: nodeorder\n    enableNodeOrder: false\n",
    );
    let first = placements(&run(&off, &y));
    assert_eq!(first.values().filter(|n| *n == "a").count(), 4, "{first:?}");
}

#[test]
fn topology_spread_do_not_schedule_is_switchable() {
    let mut y = node("a", 8, "16Gi", 0, "zone: z1") + &node("b", 8, "16Gi", 0, "zone: z2");
    let spec = "  topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: zone\n    whenUnsatisfiable: DoNotSchedule\n    labelSelector: {matchLabels: {app: web}}\n  nodeSelector: {}\n";
    y += &group("web", 1, "default", "");
    for i in 0..4 {
        y += &pod(&format!("web-{i}"), "web", "cpu: \"1\"", "", "app: web", spec);
    }
    let packing = "actions: \"allocate\"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: nodeorder\n    arguments: {leastrequested.weight: 0, balancedresource.weight: 0, mostrequested.weight: 1, podtopologyspread.weight: 0}\n";
    let on = placements(&run(packing, &y));
    assert_eq!(
        on.values().filter(|n| *n == "a").count(),
        2,
        "maxSkew 1 over 2 zones: {on:?}"
    );
    let off = packing.replace(
        "  - name: predicates\n",
        "  - name: predicates\n    arguments: {predicate.PodTopologySpreadEnable: false}\n",
    );
    let off = placements(&run(&off, &y));
    assert_eq!(
        off.values().filter(|n| *n == "a").count(),
        4,
        "filter off, packing wins: {off:?}"
    );
}

#[test]
fn pod_count_limit_is_honoured() {
    let y = "---\napiVersion: v1\nkind: Node\nmetadata: {name: tiny}\nstatus: {allocatable: {cpu: \"64\", memory: 64Gi, pods: \"2\"}}\n".to_string()
        + &group("g", 1, "default", "")
        + &pod("g-0", "g", "cpu: \"1\"", "", "", "")
        + &pod("g-1", "g", "cpu: \"1\"", "", "", "")
        + &pod("g-2", "g", "cpu: \"1\"", "", "", "");
    let r = run(&fixture("default.conf"), &y);
    assert_eq!(placements(&r).len(), 2, "pods: 2 on the node");
}

#[test]
fn sla_waiting_time_admits_an_overdue_job_despite_overcommit() {
    // One 4-cpu node; a running job holds 4 cpu; a job whose minResources (4 cpu) exceed what
    // overcommit admits (4 × 1.2 − 4) waits Pending — unless its SLA waiting time has passed.
    let base =
        "actions: \"enqueue, allocate\"\ntiers:\n- plugins:\n  - name: gang\nSLA- plugins:\n  - name: overcommit\n";
    let mut y = node("n", 4, "16Gi", 0, "");
    y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: holder}\nspec:\n  nodeName: n\n  containers:\n  - name: c\n    resources: {requests: {cpu: \"4\"}}\n";
    y += "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: late\n  annotations: {sla-waiting-time: 5s}\nspec: {minMember: 1, minResources: {cpu: \"4\"}}\n";
    // The pod arrives at 10 s, after the group's 5 s SLA has run out.
    y += &pod(
        "late-0",
        "late",
        "cpu: \"4\"",
        "    simulation.caldera.dev/submit-at: \"10s\"\n",
        "",
        "",
    );
    let without = run(&base.replace("SLA", ""), &y);
    let with = run(&base.replace("SLA", "  - name: sla\n"), &y);
    let phase = |r: &ReportJson| r.podgroups.iter().find(|g| g.name == "default/late").map(|g| g.phase);
    assert_eq!(phase(&without), Some("Pending"));
    assert_eq!(phase(&with), Some("Inqueue"), "sla permits in its own, earlier tier");
}

#[test]
fn task_topology_keeps_affine_roles_together() {
    let mut y = node("a", 8, "16Gi", 0, "") + &node("b", 8, "16Gi", 0, "");
    y += &group("tf", 3, "default", "volcano.sh/task-topology-affinity: \"ps,worker\"");
    let role = |r: &str| format!("    volcano.sh/task-spec: {r}\n");
    y += &pod("tf-ps-0", "tf", "cpu: \"1\"", &role("ps"), "", "");
    y += &pod("tf-worker-0", "tf", "cpu: \"1\"", &role("worker"), "", "");
    y += &pod("tf-worker-1", "tf", "cpu: \"1\"", &role("worker"), "", "");
    let with = "actions: \"allocate\"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: task-topology\n    arguments: {task-topology.weight: 10}\n  - name: nodeorder\n";
    let at = placements(&run(with, &y));
    let nodes: std::collections::BTreeSet<&String> = at.values().collect();
    assert_eq!(nodes.len(), 1, "ps and workers together: {at:?}");
    let without = placements(&run(NODEORDER_ONLY, &y));
    let nodes: std::collections::BTreeSet<&String> = without.values().collect();
    assert_eq!(nodes.len(), 2, "nodeorder alone spreads them: {without:?}");
}

//! The simulator end to end: YAML in, timed placements and reasons out.

use caldera_plugins::Pipeline;
use caldera_simulator::{ReportJson, Scenario, SimOptions, Simulation, default_scenario, report};

fn run(yaml: &str) -> (Simulation, ReportJson) {
    let mut s = Scenario::default();
    s.add_yaml("test.yaml", yaml);
    let mut sim = Simulation::new(s);
    let pipeline = Pipeline::default_pipeline().expect("default pipeline");
    sim.run(&pipeline, &SimOptions::default());
    let r = report(&sim, 0.0);
    (sim, r)
}

fn node(name: &str, cpu: u32, gpus: u32) -> String {
    format!(
        "---\napiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\nstatus:\n  allocatable: {{cpu: \"{cpu}\", memory: 64Gi, nvidia.com/gpu: \"{gpus}\", pods: \"110\"}}\n"
    )
}

fn gang(name: &str, min: u32, submit: &str, queue: &str) -> String {
    format!(
        "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: {name}\n  annotations: {{simulation.caldera.dev/submit-at: \"{submit}\"}}\nspec: {{minMember: {min}, queue: {queue}}}\n"
    )
}

fn pod(name: &str, group: &str, gpus: u32, submit: &str, runtime: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n    scheduling.k8s.io/group-name: {group}\n    simulation.caldera.dev/submit-at: \"{submit}\"\n    simulation.caldera.dev/runtime: \"{runtime}\"\nspec:\n  schedulerName: caldera\n  containers:\n  - name: c\n    image: x\n    resources:\n      requests: {{cpu: \"1\", nvidia.com/gpu: \"{gpus}\"}}\n      limits: {{nvidia.com/gpu: \"{gpus}\"}}\n"
    )
}

#[test]
fn gangs_wait_for_capacity_and_run_for_their_runtime() {
    // One 8-GPU node; two gangs of 2 × 4 GPUs, the second submitted at 10 s, each running 100 s.
    let mut y = node("n1", 32, 8);
    y += &gang("a", 2, "0s", "default");
    y += &pod("a-0", "a", 4, "0s", "100s");
    y += &pod("a-1", "a", 4, "0s", "100s");
    y += &gang("b", 2, "10s", "default");
    y += &pod("b-0", "b", 4, "10s", "100s");
    y += &pod("b-1", "b", 4, "10s", "100s");
    let (_, r) = run(&y);
    let a = r.podgroups.iter().find(|g| g.name == "default/a").expect("a");
    let b = r.podgroups.iter().find(|g| g.name == "default/b").expect("b");
    assert_eq!((a.started_at, a.finished_at), (Some(0.0), Some(100.0)));
    assert_eq!(a.phase, "Completed");
    assert_eq!(
        (b.started_at, b.finished_at),
        (Some(100.0), Some(200.0)),
        "b binds when a finishes"
    );
    assert_eq!(b.reason, None);
    let p = r.pods.iter().find(|p| p.name == "default/b-0").expect("b-0");
    assert_eq!(p.placements.len(), 1);
    assert_eq!(p.placements[0].bound_at, 100.0);
    assert_eq!(p.placements[0].end, Some("finished"));
    assert_eq!(r.summary.pods_bound, 4);
    assert_eq!(r.summary.makespan_s, 200.0);
    assert_eq!(r.summary.mean_wait_s, 45.0, "b's two pods waited 90 s each");
    assert!(
        (r.summary.gpu_utilization - 1.0).abs() < 1e-9,
        "{}",
        r.summary.gpu_utilization
    );
}

#[test]
fn a_gang_that_never_fits_stays_pending_whole_with_its_reason() {
    let mut y = node("n1", 32, 8);
    y += &gang("big", 3, "0s", "default");
    for i in 0..3 {
        y += &pod(&format!("big-{i}"), "big", 4, "0s", "10s");
    }
    let (_, r) = run(&y);
    assert!(
        r.pods.iter().all(|p| p.placements.is_empty()),
        "no pod of the gang is bound"
    );
    let g = &r.podgroups[0];
    assert_eq!(g.started_at, None);
    assert_eq!(
        g.reason.as_deref(),
        Some(
            "3/3 tasks in gang unschedulable: the gang's 3 minimum pods need more than the whole cluster has \
             (nvidia.com/gpu: needs 12, the cluster has 8)"
        )
    );
}

#[test]
fn bad_objects_are_reported_with_file_document_and_field_and_the_rest_runs() {
    let mut y = node("n1", 32, 8);
    y += &gang("ok", 1, "0s", "default");
    y += &pod("ok-0", "ok", 1, "0s", "5s");
    // Document 3: a bad quantity.
    y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: bad-qty}\nspec:\n  containers:\n  - name: c\n    resources: {requests: {memory: 12XB}}\n";
    // Document 4: a negative minMember.
    y += "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata: {name: neg}\nspec: {minMember: -1}\n";
    // Document 5: an undeclared queue.
    y += &gang("lost", 1, "0s", "nowhere");
    y += &pod("lost-0", "lost", 1, "0s", "5s");
    // Document 7: a kind the simulator does not know.
    y += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n";
    let (sim, r) = run(&y);
    let text: Vec<String> = sim.diagnostics.iter().map(|d| d.to_string()).collect();
    let find = |needle: &str| text.iter().find(|t| t.contains(needle)).cloned().unwrap_or_default();
    assert!(
        find("12XB")
            .starts_with("error: test.yaml: document 3: Pod default/bad-qty: spec.containers[0].resources.requests"),
        "{text:?}"
    );
    assert!(
        find("minMember").starts_with("error: test.yaml: document 4:"),
        "{text:?}"
    );
    assert!(
        find("nowhere").starts_with("error: test.yaml: document 5:") && find("nowhere").contains("spec.queue"),
        "{text:?}"
    );
    assert!(
        find("ConfigMap").starts_with("warning: test.yaml: document 7:"),
        "{text:?}"
    );
    let ok = r.pods.iter().find(|p| p.name == "default/ok-0").expect("ok-0");
    assert_eq!(ok.placements.len(), 1, "the valid part of the scenario still runs");
    let lost = r.podgroups.iter().find(|g| g.name == "default/lost").expect("lost");
    assert!(
        lost.reason.as_deref().is_some_and(|m| m.contains("does not exist")),
        "{:?}",
        lost.reason
    );
    let neg = r
        .podgroups
        .iter()
        .find(|g| g.name == "default/neg")
        .expect("neg is reported, not dropped");
    assert!(
        neg.reason.as_deref().is_some_and(|m| m.contains("minMember")),
        "{:?}",
        neg.reason
    );
}

#[test]
fn the_default_scenario_is_deterministic_and_schedules_most_pods() {
    let pipeline = Pipeline::default_pipeline().expect("default pipeline");
    let once = || {
        let mut sim = Simulation::new(default_scenario::scenario());
        assert!(!sim.has_errors(), "{:?}", sim.diagnostics);
        sim.run(&pipeline, &SimOptions::default());
        let mut r = report(&sim, 0.0);
        r.summary.wall_seconds = 0.0;
        r.summary.decisions_per_second = 0.0;
        r
    };
    let (a, b) = (once(), once());
    assert_eq!(a, b);
    assert!(a.summary.pods_bound >= 70, "{:?}", a.summary);
    let big = a.podgroups.iter().find(|g| g.name == "ml/too-big").expect("too-big");
    assert_eq!(big.started_at, None);
    // MIG pods only ever land on MIG nodes.
    for p in a.pods.iter().filter(|p| p.name.starts_with("serving/")) {
        assert!(p.placements.iter().all(|pl| pl.node.starts_with("gpu-mig-")), "{p:?}");
    }
    // CPU-only ETL pods stay off the GPU nodes.
    for p in a.pods.iter().filter(|p| p.name.starts_with("data/")) {
        assert!(p.placements.iter().all(|pl| pl.node.starts_with("cpu-")), "{p:?}");
    }
}

#[test]
fn until_stops_the_clock() {
    let mut y = node("n1", 32, 8);
    y += &gang("late", 1, "1h", "default");
    y += &pod("late-0", "late", 1, "1h", "5s");
    let mut s = Scenario::default();
    s.add_yaml("t.yaml", &y);
    let mut sim = Simulation::new(s);
    sim.run(
        &Pipeline::default_pipeline().expect("pipeline"),
        &SimOptions {
            period: 1000,
            until: Some(600_000),
        },
    );
    let r = report(&sim, 0.0);
    assert!(r.pods[0].placements.is_empty(), "submitted after --until");
}

#[test]
fn a_completed_gang_with_a_late_pod_keeps_it_and_the_run_ends() {
    // minMember 2 of 3 pods: the first two run and finish (the group is Completed), the third
    // arrives later. It must still be judged with its group, be bound, and the run must end.
    let mut y = node("n1", 32, 8);
    y += &gang("g", 2, "0s", "default");
    y += &pod("g-0", "g", 4, "0s", "10s");
    y += &pod("g-1", "g", 4, "0s", "10s");
    y += &pod("g-2", "g", 4, "100s", "10s");
    let (sim, r) = run(&y);
    let late = r.pods.iter().find(|p| p.name == "default/g-2").expect("g-2");
    assert_eq!(late.placements.len(), 1, "the late pod is bound once");
    assert!(sim.cycles < 100, "the run ends: {} cycles", sim.cycles);
}

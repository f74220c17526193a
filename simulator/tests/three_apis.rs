//! The three gang APIs are one engine: the same gangs written as Volcano PodGroups (pods annotated
//! `scheduling.k8s.io/group-name`), scheduler-plugins PodGroups (pods labelled
//! `scheduling.x-k8s.io/pod-group`) and Kubernetes-native `scheduling.k8s.io/v1beta1` PodGroups
//! (pods with `spec.schedulingGroup.podGroupName`) are simulated on the same cluster, and every
//! pod lands on the same node at the same simulated time, every PodGroup goes through the same
//! phases at the same times, whichever API wrote them.
//!
//! Queues: Volcano's `spec.queue`, the annotation `scheduling.volcano.sh/queue-name` for the other
//! two. Topology: the annotation `caldera.dev/topology-key` for Volcano and scheduler-plugins,
//! `spec.schedulingConstraints.topology[0].key` for native groups.
//!
//! The pipeline is the default one without `preempt` and `reclaim`: a native PodGroup's
//! `disruptionMode` (`single`, which the API server fills in) lets its pods be evicted one by one,
//! which no Volcano or scheduler-plugins PodGroup allows, so evictions may rightly differ.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use caldera_framework::SchedulerConfig;
use caldera_plugins::Pipeline;
use caldera_simulator::report::{PlacementJson, PodGroupJson};
use caldera_simulator::{ReportJson, Scenario, SimOptions, Simulation, report};
use proptest::prelude::*;

const ZONE: &str = "topology.kubernetes.io/zone";

/// The default pipeline without the actions that evict (see the module documentation).
fn pipeline() -> Pipeline {
    let cfg = SchedulerConfig::parse(include_str!("../../manifests/examples/policies/volcano-like.yaml"))
        .expect("the policy parses");
    Pipeline::from_config(&cfg).expect("the policy loads")
}

// ---------------------------------------------------------------------------------------------
// the gangs, independent of the API that writes them

#[derive(Clone, Debug)]
struct NodeSpec {
    name: String,
    cpu: u32,
    gpus: u32,
    zone: &'static str,
}

#[derive(Clone, Debug)]
struct PodSpec {
    cpu: u32,
    gpus: u32,
    /// Seconds it runs once bound; `None`: forever.
    runtime_s: Option<u32>,
}

#[derive(Clone, Debug)]
struct GangSpec {
    name: String,
    min: u32,
    /// `default` is written as no queue at all (the API's default path).
    queue: String,
    submit_s: u32,
    /// Keep the gang inside one zone.
    topology: bool,
    pods: Vec<PodSpec>,
}

#[derive(Clone, Debug)]
struct World {
    nodes: Vec<NodeSpec>,
    /// Volcano Queues (name, weight), declared the same way for all three APIs.
    queues: Vec<(String, u32)>,
    gangs: Vec<GangSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Volcano,
    SchedulerPlugins,
    Native,
}

const APIS: [Api; 3] = [Api::Volcano, Api::SchedulerPlugins, Api::Native];

// ---------------------------------------------------------------------------------------------
// rendering to YAML

fn pod_name(gang: &GangSpec, i: usize) -> String {
    format!("{}-{i}", gang.name)
}

fn render(world: &World, api: Api) -> String {
    let mut y = String::new();
    for n in &world.nodes {
        let _ = write!(
            y,
            "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: {}\n  labels: {{{ZONE}: {}}}\n\
             status:\n  allocatable: {{cpu: \"{}\", memory: 256Gi, nvidia.com/gpu: \"{}\", pods: \"110\"}}\n",
            n.name, n.zone, n.cpu, n.gpus
        );
    }
    for (q, weight) in &world.queues {
        let _ = write!(
            y,
            "---\napiVersion: scheduling.volcano.sh/v1beta1\nkind: Queue\nmetadata: {{name: {q}}}\n\
             spec: {{weight: {weight}, reclaimable: true}}\n"
        );
    }
    for g in &world.gangs {
        y += &render_group(g, api);
        for (i, p) in g.pods.iter().enumerate() {
            y += &render_pod(g, &pod_name(g, i), p, api);
        }
    }
    y
}

fn render_group(g: &GangSpec, api: Api) -> String {
    let named_queue = (g.queue != "default").then_some(g.queue.as_str());
    let mut annotations = vec![format!("simulation.caldera.dev/submit-at: \"{}s\"", g.submit_s)];
    let mut y = String::from("---\n");
    match api {
        Api::Volcano => {
            if g.topology {
                annotations.push(format!("caldera.dev/topology-key: {ZONE}"));
            }
            let _ = write!(
                y,
                "apiVersion: scheduling.volcano.sh/v1beta1\nkind: PodGroup\nmetadata:\n  name: {}\n  \
                 annotations: {{{}}}\nspec:\n  minMember: {}\n",
                g.name,
                annotations.join(", "),
                g.min
            );
            if let Some(q) = named_queue {
                let _ = writeln!(y, "  queue: {q}");
            }
        }
        Api::SchedulerPlugins => {
            if let Some(q) = named_queue {
                annotations.push(format!("scheduling.volcano.sh/queue-name: {q}"));
            }
            if g.topology {
                annotations.push(format!("caldera.dev/topology-key: {ZONE}"));
            }
            let _ = write!(
                y,
                "apiVersion: scheduling.x-k8s.io/v1alpha1\nkind: PodGroup\nmetadata:\n  name: {}\n  \
                 annotations: {{{}}}\nspec:\n  minMember: {}\n",
                g.name,
                annotations.join(", "),
                g.min
            );
        }
        Api::Native => {
            if let Some(q) = named_queue {
                annotations.push(format!("scheduling.volcano.sh/queue-name: {q}"));
            }
            let _ = write!(
                y,
                "apiVersion: scheduling.k8s.io/v1beta1\nkind: PodGroup\nmetadata:\n  name: {}\n  \
                 annotations: {{{}}}\nspec:\n  schedulingPolicy:\n    gang:\n      minCount: {}\n",
                g.name,
                annotations.join(", "),
                g.min
            );
            if g.topology {
                let _ = write!(y, "  schedulingConstraints:\n    topology:\n    - key: {ZONE}\n");
            }
        }
    }
    y
}

fn render_pod(g: &GangSpec, name: &str, p: &PodSpec, api: Api) -> String {
    let mut annotations = vec![format!("simulation.caldera.dev/submit-at: \"{}s\"", g.submit_s)];
    if let Some(rt) = p.runtime_s {
        annotations.push(format!("simulation.caldera.dev/runtime: \"{rt}s\""));
    }
    let mut labels = Vec::new();
    let mut group_link = String::new();
    match api {
        Api::Volcano => annotations.push(format!("scheduling.k8s.io/group-name: {}", g.name)),
        Api::SchedulerPlugins => labels.push(format!("scheduling.x-k8s.io/pod-group: {}", g.name)),
        Api::Native => group_link = format!("  schedulingGroup:\n    podGroupName: {}\n", g.name),
    }
    let gpu = if p.gpus > 0 {
        format!(", nvidia.com/gpu: \"{}\"", p.gpus)
    } else {
        String::new()
    };
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{}}}\n  annotations: {{{}}}\n\
         spec:\n  schedulerName: caldera\n{group_link}  containers:\n  - name: main\n    image: x\n    \
         resources:\n      requests: {{cpu: \"{}\", memory: 1Gi{gpu}}}\n      limits: {{cpu: \"{}\", memory: 1Gi{gpu}}}\n",
        labels.join(", "),
        annotations.join(", "),
        p.cpu,
        p.cpu
    )
}

// ---------------------------------------------------------------------------------------------
// running and comparing

/// Everything a run decided, without the wall-clock figures.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Pod name → (its PodGroup, its queue, its placements).
    pods: BTreeMap<String, (Option<String>, String, Vec<PlacementJson>)>,
    /// PodGroup name → the whole report line (queue, minMember, phase, submitted, started,
    /// finished, reason).
    groups: BTreeMap<String, PodGroupJson>,
    /// pods, pods bound, makespan, mean wait, GPU utilization.
    totals: (usize, usize, f64, f64, f64),
}

fn simulate(world: &World, api: Api) -> (ReportJson, Outcome) {
    let yaml = render(world, api);
    let mut s = Scenario::default();
    s.add_yaml(&format!("{api:?}.yaml"), &yaml);
    let mut sim = Simulation::new(s);
    let problems: Vec<String> = sim.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "the {api:?} rendering must load cleanly: {problems:#?}\n{yaml}"
    );
    assert_eq!(
        sim.groups.len(),
        world.gangs.len(),
        "{api:?}: every PodGroup is loaded\n{yaml}"
    );
    let pipeline = pipeline();
    sim.run(&pipeline, &SimOptions::default());
    let r = report(&sim, 0.0);
    let outcome = Outcome {
        pods: r
            .pods
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    (p.podgroup.clone(), p.queue.clone(), p.placements.clone()),
                )
            })
            .collect(),
        groups: r.podgroups.iter().map(|g| (g.name.clone(), g.clone())).collect(),
        totals: (
            r.summary.pods,
            r.summary.pods_bound,
            r.summary.makespan_s,
            r.summary.mean_wait_s,
            r.summary.gpu_utilization,
        ),
    };
    (r, outcome)
}

/// Runs the world through all three APIs, asserts that the outcomes are identical and returns
/// the Volcano one.
fn same_outcome_three_ways(world: &World) -> (ReportJson, Outcome) {
    let mut runs: Vec<(Api, ReportJson, Outcome)> = APIS
        .iter()
        .map(|&api| {
            let (r, o) = simulate(world, api);
            (api, r, o)
        })
        .collect();
    let (_, first_report, first) = runs.remove(0);
    for (api, _, other) in &runs {
        for (name, want) in &first.pods {
            assert_eq!(
                other.pods.get(name),
                Some(want),
                "pod {name}: Volcano and {api:?} disagree\nworld: {world:#?}"
            );
        }
        for (name, want) in &first.groups {
            assert_eq!(
                other.groups.get(name),
                Some(want),
                "PodGroup {name}: Volcano and {api:?} disagree\nworld: {world:#?}"
            );
        }
        assert_eq!(other, &first, "Volcano and {api:?} disagree\nworld: {world:#?}");
    }
    (first_report, first)
}

fn zone_of<'a>(world: &'a World, node: &str) -> &'a str {
    world.nodes.iter().find(|n| n.name == node).map_or("?", |n| n.zone)
}

/// For every gang: if any pod was bound, at least minMember pods were bound together in its first
/// binding cycle (never in part), and a topology-constrained gang's first batch is in one zone.
fn assert_gangs_whole(world: &World, o: &Outcome) {
    for g in &world.gangs {
        let firsts: Vec<(f64, String)> = (0..g.pods.len())
            .filter_map(|i| {
                let (_, _, placements) = o.pods.get(&format!("default/{}", pod_name(g, i)))?;
                placements.first().map(|p| (p.bound_at, p.node.clone()))
            })
            .collect();
        let Some(t0) = firsts.iter().map(|(t, _)| *t).reduce(f64::min) else {
            continue;
        };
        let batch: Vec<&String> = firsts.iter().filter(|(t, _)| *t == t0).map(|(_, n)| n).collect();
        assert!(
            batch.len() >= g.min as usize,
            "gang {} (minMember {}) was bound in part at {t0} s: {batch:?}\n{o:#?}",
            g.name,
            g.min
        );
        if g.topology {
            let zones: std::collections::BTreeSet<&str> = batch.iter().map(|n| zone_of(world, n)).collect();
            assert_eq!(
                zones.len(),
                1,
                "topology-constrained gang {} spans zones {zones:?}",
                g.name
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// a fixed scenario with contention

fn gang(name: &str, min: u32, queue: &str, submit_s: u32, pods: &[(u32, u32, Option<u32>)]) -> GangSpec {
    GangSpec {
        name: name.to_owned(),
        min,
        queue: queue.to_owned(),
        submit_s,
        topology: false,
        pods: pods
            .iter()
            .map(|&(cpu, gpus, runtime_s)| PodSpec { cpu, gpus, runtime_s })
            .collect(),
    }
}

fn contention_world() -> World {
    let node = |name: &str, zone| NodeSpec {
        name: name.to_owned(),
        cpu: 32,
        gpus: 8,
        zone,
    };
    let mut zonal = gang("zonal", 2, "training", 105, &[(2, 6, Some(10)), (2, 6, Some(10))]);
    zonal.topology = true;
    World {
        // 32 GPUs in two zones.
        nodes: vec![node("n0", "a"), node("n1", "b"), node("n2", "a"), node("n3", "b")],
        queues: vec![("training".into(), 9), ("research".into(), 1)],
        gangs: vec![
            // Fill the cluster at 0 s: `a` until 100 s, `b` until 60 s.
            gang("a", 2, "training", 0, &[(4, 8, Some(100)), (4, 8, Some(100))]),
            gang("b", 2, "training", 0, &[(4, 8, Some(60)), (4, 8, Some(60))]),
            // 40 GPUs: more than the whole cluster, never fits.
            gang("big", 5, "research", 0, &[(1, 8, Some(10)); 5]),
            // 24 GPUs: fits only once `a` and `b` are both gone.
            gang("c", 3, "training", 10, &[(4, 8, Some(30)); 3]),
            // 2 of 3 pods of 4 GPUs: fits into what `b` leaves at 60 s.
            gang("d", 2, "research", 5, &[(2, 4, Some(20)); 3]),
            // Kept inside one zone (zones interleave: n0, n2 in a; n1, n3 in b).
            zonal,
            // CPU only, no GPUs, runs forever.
            gang("svc", 1, "default", 0, &[(1, 0, None), (1, 0, None)]),
        ],
    }
}

#[test]
fn the_same_gangs_through_volcano_scheduler_plugins_and_native_podgroups_are_placed_identically() {
    let world = contention_world();
    let (r, o) = same_outcome_three_ways(&world);
    assert_gangs_whole(&world, &o);

    let g = |name: &str| {
        o.groups
            .get(&format!("default/{name}"))
            .unwrap_or_else(|| panic!("PodGroup {name} in the report"))
    };
    let bound = |gang: &str| {
        o.pods
            .iter()
            .filter(|(name, (pg, _, p))| {
                name.starts_with(&format!("default/{gang}-"))
                    && pg.as_deref() == Some(&format!("default/{gang}"))
                    && !p.is_empty()
            })
            .count()
    };

    // The gang that never fits binds nothing (in all three runs, since they are identical).
    assert_eq!(bound("big"), 0, "big must bind nothing:\n{o:#?}");
    assert_eq!((g("big").started_at, g("big").finished_at), (None, None));
    assert!(
        g("big")
            .reason
            .as_deref()
            .is_some_and(|m| m.contains("gang unschedulable") && m.contains("nvidia.com/gpu")),
        "big's reason: {:?}",
        g("big").reason
    );

    // `a` and `svc` fit at once; `b` fits only once `a` has finished, `c` only once `b` has: the
    // GPUs are taken until then. `d` (research, weight 1 against training's 9) gets its share once
    // training's demand drops.
    assert_eq!((g("a").started_at, g("a").finished_at), (Some(0.0), Some(100.0)));
    assert_eq!(g("a").phase, "Completed");
    assert_eq!(g("b").started_at, g("a").finished_at, "b starts when a finishes");
    assert_eq!(g("c").started_at, g("b").finished_at, "c starts when b finishes");
    assert_eq!(g("c").phase, "Completed");
    assert_eq!((bound("a"), bound("b"), bound("c")), (2, 2, 3));
    assert!(g("d").started_at.is_some_and(|t| t > 5.0), "d waits for its share");
    assert_eq!(bound("d"), 3, "d's third pod (beyond minMember 2) runs too");
    // `zonal` (2 × 6 GPUs) arrives at 105 s when n2 (zone a) and n3 (zone b) are free: across
    // zones it would fit at once; kept in one zone it waits until `c` leaves a zone's two nodes.
    assert_eq!(
        g("zonal").started_at,
        g("c").finished_at,
        "zonal waits for a whole zone"
    );
    assert_eq!(g("svc").phase, "Running");

    // Queues came through from spec.queue / the annotation, and the default path.
    assert_eq!(g("d").queue, "research");
    assert_eq!(g("c").queue, "training");
    assert_eq!(g("svc").queue, "default");
    assert_eq!(g("zonal").queue, "training");

    // The topology-constrained gang is in one zone.
    let zonal_zones: std::collections::BTreeSet<&str> = r
        .pods
        .iter()
        .filter(|p| p.name.starts_with("default/zonal-"))
        .flat_map(|p| p.placements.iter().map(|pl| zone_of(&world, &pl.node)))
        .collect();
    assert_eq!(zonal_zones.len(), 1, "zonal spans {zonal_zones:?}");
    assert_eq!(bound("zonal"), 2);
    assert_eq!(bound("svc"), 2);
}

#[test]
fn the_renderings_really_differ_only_in_the_gang_api() {
    // Guard against a rendering bug that would make the comparison vacuous (e.g. all three
    // written as Volcano objects).
    let world = contention_world();
    let v = render(&world, Api::Volcano);
    let s = render(&world, Api::SchedulerPlugins);
    let n = render(&world, Api::Native);
    assert!(v.contains("scheduling.k8s.io/group-name: a") && !v.contains("schedulingGroup"));
    assert!(
        s.contains("scheduling.x-k8s.io/pod-group: a") && !s.contains("scheduling.volcano.sh/v1beta1\nkind: PodGroup")
    );
    assert!(s.contains("scheduling.volcano.sh/queue-name: research"));
    assert!(n.contains("podGroupName: a") && n.contains("minCount: 5") && !n.contains("group-name"));
    assert!(n.contains("scheduling.volcano.sh/queue-name: training"));
    assert!(n.contains(&format!("topology:\n    - key: {ZONE}")));
    assert!(v.contains("queue: research") && v.contains(&format!("caldera.dev/topology-key: {ZONE}")));
    for (api, text) in [(Api::Volcano, &v), (Api::SchedulerPlugins, &s), (Api::Native, &n)] {
        let mut sc = Scenario::default();
        sc.add_yaml("x.yaml", text);
        let (vc, sp, nat) = (
            sc.volcano_groups.len(),
            sc.coscheduling_groups.len(),
            sc.native_groups.len(),
        );
        let want = world.gangs.len();
        let got = match api {
            Api::Volcano => (vc, sp, nat) == (want, 0, 0),
            Api::SchedulerPlugins => (vc, sp, nat) == (0, want, 0),
            Api::Native => (vc, sp, nat) == (0, 0, want),
        };
        assert!(
            got,
            "{api:?}: groups read as volcano {vc}, scheduler-plugins {sp}, native {nat}"
        );
    }
}

#[test]
fn a_native_gang_larger_than_its_pods_binds_nothing_while_a_basic_group_places_each_pod() {
    // Native-only shapes: `basic` (each pod on its own) and a gang whose minCount exceeds the
    // pods that exist. The Volcano equivalents are minMember 1 and minMember 3.
    let yaml = "---\napiVersion: v1\nkind: Node\nmetadata: {name: n0}\nstatus:\n  allocatable: {cpu: \"8\", memory: 64Gi, nvidia.com/gpu: \"8\", pods: \"110\"}\n\
---\napiVersion: scheduling.k8s.io/v1beta1\nkind: PodGroup\nmetadata: {name: basic}\nspec: {schedulingPolicy: {basic: {}}}\n\
---\napiVersion: scheduling.k8s.io/v1beta1\nkind: PodGroup\nmetadata: {name: short}\nspec: {schedulingPolicy: {gang: {minCount: 3}}}\n";
    let pod = |name: &str, group: &str, gpus: u32| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  schedulerName: caldera\n  schedulingGroup: {{podGroupName: {group}}}\n  containers:\n  - name: c\n    image: x\n    resources: {{requests: {{cpu: \"1\", nvidia.com/gpu: \"{gpus}\"}}, limits: {{nvidia.com/gpu: \"{gpus}\"}}}}\n"
        )
    };
    let mut y = yaml.to_owned();
    // basic: 3 × 4 GPUs on 8 GPUs — two fit, each on its own; a gang of 3 would bind none.
    for i in 0..3 {
        y += &pod(&format!("basic-{i}"), "basic", 4);
    }
    for i in 0..2 {
        y += &pod(&format!("short-{i}"), "short", 0);
    }
    let mut s = Scenario::default();
    s.add_yaml("native.yaml", &y);
    let mut sim = Simulation::new(s);
    assert!(sim.diagnostics.is_empty(), "{:?}", sim.diagnostics);
    sim.run(&pipeline(), &SimOptions::default());
    let r = report(&sim, 0.0);
    let bound = |prefix: &str| {
        r.pods
            .iter()
            .filter(|p| p.name.starts_with(prefix) && !p.placements.is_empty())
            .count()
    };
    assert_eq!(bound("default/basic-"), 2, "basic places each pod that fits: {r:#?}");
    assert_eq!(
        bound("default/short-"),
        0,
        "2 pods of a minCount-3 gang bind nothing: {r:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// random worlds

fn arb_node(i: usize) -> impl Strategy<Value = NodeSpec> {
    (
        prop::sample::select(vec![8u32, 16, 32]),
        prop::sample::select(vec![0u32, 4, 8]),
        prop::sample::select(vec!["a", "b"]),
    )
        .prop_map(move |(cpu, gpus, zone)| NodeSpec {
            name: format!("n{i}"),
            cpu,
            gpus,
            zone,
        })
}

fn arb_pod() -> impl Strategy<Value = PodSpec> {
    (
        1u32..=8,
        prop::sample::select(vec![0u32, 1, 2, 4, 8]),
        prop::option::weighted(0.8, (1u32..=12).prop_map(|t| t * 10)),
    )
        .prop_map(|(cpu, gpus, runtime_s)| PodSpec { cpu, gpus, runtime_s })
}

fn arb_gang(i: usize) -> impl Strategy<Value = GangSpec> {
    (
        prop::collection::vec(arb_pod(), 1..=4),
        0u32..=4,
        prop::sample::select(vec!["default", "q1", "q2"]),
        (0u32..=12).prop_map(|s| s * 5),
        prop::bool::weighted(0.3),
    )
        .prop_map(move |(pods, extra, queue, submit_s, topology)| {
            // minMember from 1 up to one more than the pods (a gang that can never be complete).
            let n = u32::try_from(pods.len()).unwrap_or(1);
            GangSpec {
                name: format!("g{i}"),
                min: 1 + extra % (n + 1),
                queue: queue.to_owned(),
                submit_s,
                topology,
                pods,
            }
        })
}

fn arb_world() -> impl Strategy<Value = World> {
    let nodes = (1usize..=4).prop_flat_map(|n| (0..n).map(arb_node).collect::<Vec<_>>());
    let gangs = (1usize..=5).prop_flat_map(|n| (0..n).map(arb_gang).collect::<Vec<_>>());
    (nodes, gangs, 1u32..=3, 1u32..=3).prop_map(|(nodes, gangs, w1, w2)| World {
        nodes,
        queues: vec![("q1".into(), w1), ("q2".into(), w2)],
        gangs,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_gangs_are_placed_identically_through_all_three_apis(world in arb_world()) {
        let (_, o) = same_outcome_three_ways(&world);
        assert_gangs_whole(&world, &o);
    }
}

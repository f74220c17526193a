//! Inter-pod affinity scenarios, configuration, and the plugin driven through a real session so
//! the framework's per-class caching and topology-sensitive rescans are exercised too.

use std::collections::BTreeMap;

use caldera_framework::snapshot::HOSTNAME_LABEL;
use caldera_framework::{Hooks, LabelSelector, Plugin, PluginSet, Session, Statement, TaskSpec, placement::Placement};

use super::testutil::*;
use super::*;

const ZONE: &str = "topology.kubernetes.io/zone";

fn anti(app: &str, key: &str) -> TaskSpec {
    TaskSpec {
        pod_anti_affinity: vec![app_term(app, key)],
        ..TaskSpec::default()
    }
}

fn affine(app: &str, key: &str) -> TaskSpec {
    TaskSpec {
        pod_affinity: vec![app_term(app, key)],
        ..TaskSpec::default()
    }
}

/// a1, a2 in zone a; b1 in zone b; c1 without a zone label.
fn zoned_nodes() -> Vec<caldera_framework::snapshot::NodeRecord> {
    vec![
        node("a1", &[(ZONE, "a")]),
        node("a2", &[(ZONE, "a")]),
        node("b1", &[(ZONE, "b")]),
        node("c1", &[]),
    ]
}

fn err(reason: &str) -> Result<(), String> {
    Err(reason.to_string())
}

#[test]
fn reason_strings_are_kube_schedulers() {
    assert_eq!(NODE_NOT_READY, "node(s) were not ready");
    assert_eq!(NODE_UNSCHEDULABLE, "node(s) were unschedulable");
    assert_eq!(NODE_NAME_MISMATCH, "node(s) didn't match the requested node name");
    assert_eq!(
        NODE_AFFINITY_MISMATCH,
        "node(s) didn't match Pod's node affinity/selector"
    );
    assert_eq!(
        NODE_PORTS_CONFLICT,
        "node(s) didn't have free ports for the requested pod ports"
    );
    assert_eq!(POD_AFFINITY_MISMATCH, "node(s) didn't match pod affinity rules");
    assert_eq!(
        POD_ANTI_AFFINITY_MISMATCH,
        "node(s) didn't match pod anti-affinity rules"
    );
    assert_eq!(
        EXISTING_ANTI_AFFINITY_MISMATCH,
        "node(s) didn't satisfy existing pods anti-affinity rules"
    );
}

#[test]
fn arguments_accept_strings_and_booleans() {
    let p = Predicates::new(&args(&[
        ("predicate.PodAffinityEnable", "false"),
        ("predicate.NodePortsEnable", "\"false\""),
    ]))
    .expect("valid");
    assert!(!p.settings.pod_affinity);
    assert!(!p.settings.node_ports);
    assert!(p.settings.node_affinity && p.settings.taint_toleration);
    assert_eq!(Predicates::default().settings, Settings::default());
    assert_eq!(
        Predicates::new(&args(&[])).expect("valid").settings,
        Settings::default()
    );
    let e = Predicates::new(&args(&[("predicate.NodeAffinityEnable", "maybe")])).expect_err("not a bool");
    assert!(e.to_string().contains("predicate.NodeAffinityEnable"), "{e}");
    assert!(Predicates::new(&args(&[("tainttoleration.weight", "heavy")])).is_err());
    assert!(
        Predicates::new(&args(&[("predicate.GPUSharingEnable", "true")])).is_ok(),
        "other Volcano keys load"
    );
    let p = Predicates::default();
    assert_eq!(p.name(), "predicates");
    assert!(p.hooks().has(Hooks::PREDICATE) && p.hooks().has(Hooks::NODE_ORDER));
}

#[test]
fn hostname_anti_affinity_repels_pods_of_the_same_app() {
    let mut f = Fixture::new(
        vec![node("n1", &[]), node("n2", &[])],
        vec![
            running("web-0", "n1", &[("app", "web")], anti("web", HOSTNAME_LABEL)),
            pending_labelled("web-1", &[("app", "web")], anti("web", HOSTNAME_LABEL)),
        ],
    );
    assert_eq!(f.verdict("web-1", "n1"), err(POD_ANTI_AFFINITY_MISMATCH));
    assert_eq!(f.verdict("web-1", "n2"), Ok(()));
}

#[test]
fn existing_pods_anti_affinity_is_symmetric() {
    let mut other_ns = pending_labelled("web-elsewhere", &[("app", "web")], TaskSpec::default());
    other_ns.namespace = "other".into();
    let mut everywhere = anti("web", HOSTNAME_LABEL);
    everywhere.pod_anti_affinity[0].all_namespaces = true;
    let mut listed = anti("web", HOSTNAME_LABEL);
    listed.pod_anti_affinity[0].namespaces = vec!["other".into()];
    let mut f = Fixture::new(
        vec![node("n1", &[]), node("n2", &[]), node("n3", &[]), node("n4", &[])],
        vec![
            running("guard", "n1", &[("app", "guard")], anti("web", HOSTNAME_LABEL)),
            running("wide-guard", "n2", &[("app", "guard")], everywhere),
            running("listed-guard", "n3", &[("app", "guard")], listed),
            pending_labelled("web", &[("app", "web")], TaskSpec::default()),
            other_ns,
        ],
    );
    assert_eq!(f.verdict("web", "n1"), err(EXISTING_ANTI_AFFINITY_MISMATCH));
    assert_eq!(f.verdict("web", "n2"), err(EXISTING_ANTI_AFFINITY_MISMATCH));
    assert_eq!(f.verdict("web", "n3"), Ok(()), "the term lists only namespace `other`");
    assert_eq!(f.verdict("web", "n4"), Ok(()));
    assert_eq!(
        f.verdict("web-elsewhere", "n1"),
        Ok(()),
        "an empty namespace list means the guard's own"
    );
    assert_eq!(f.verdict("web-elsewhere", "n2"), err(EXISTING_ANTI_AFFINITY_MISMATCH));
    assert_eq!(f.verdict("web-elsewhere", "n3"), err(EXISTING_ANTI_AFFINITY_MISMATCH));
}

#[test]
fn zone_anti_affinity_blocks_the_whole_domain() {
    let mut f = Fixture::new(
        zoned_nodes(),
        vec![
            running("db-0", "a1", &[("app", "db")], anti("db", ZONE)),
            pending_labelled("db-1", &[("app", "db")], anti("db", ZONE)),
            pending_labelled("client", &[("app", "db")], TaskSpec::default()),
        ],
    );
    assert_eq!(f.scan("db-1", "a2"), err(POD_ANTI_AFFINITY_MISMATCH));
    assert_eq!(f.scan("db-1", "b1"), Ok(()));
    assert_eq!(
        f.scan("db-1", "c1"),
        Ok(()),
        "a node without the topology label passes anti-affinity"
    );
    assert_eq!(
        f.verdict("client", "a2"),
        err(EXISTING_ANTI_AFFINITY_MISMATCH),
        "db-0 repels its whole zone"
    );
    assert_eq!(f.verdict("client", "b1"), Ok(()));
    assert_eq!(f.verdict("client", "c1"), Ok(()));
    // `verdict` asserts that predicate agrees with and without a preceding pre_predicate.
    for n in ["a1", "a2", "b1", "c1"] {
        let _ = f.verdict("db-1", n);
    }
}

#[test]
fn pod_affinity_to_a_zone_with_a_matching_pod() {
    let mut f = Fixture::new(
        zoned_nodes(),
        vec![
            running("cache-0", "a1", &[("app", "cache")], TaskSpec::default()),
            pending_labelled("api", &[("app", "api")], affine("cache", ZONE)),
            pending_labelled("near", &[("app", "api")], affine("cache", HOSTNAME_LABEL)),
        ],
    );
    assert_eq!(f.verdict("api", "a1"), Ok(()));
    assert_eq!(f.verdict("api", "a2"), Ok(()));
    assert_eq!(f.verdict("api", "b1"), err(POD_AFFINITY_MISMATCH));
    assert_eq!(
        f.verdict("api", "c1"),
        err(POD_AFFINITY_MISMATCH),
        "a node without the label fails affinity"
    );
    assert_eq!(f.verdict("near", "a1"), Ok(()));
    assert_eq!(f.verdict("near", "a2"), err(POD_AFFINITY_MISMATCH));
}

#[test]
fn affinity_counts_only_pods_matching_every_term() {
    let spec = TaskSpec {
        pod_affinity: vec![app_term("cache", ZONE), {
            let mut t = app_term("cache", HOSTNAME_LABEL);
            t.selector = LabelSelector {
                match_labels: labels(&[("tier", "fast")]),
                match_expressions: Vec::new(),
            };
            t
        }],
        ..TaskSpec::default()
    };
    let mut f = Fixture::new(
        zoned_nodes(),
        vec![
            running(
                "cache-slow",
                "a1",
                &[("app", "cache"), ("tier", "slow")],
                TaskSpec::default(),
            ),
            running("fast", "a2", &[("tier", "fast")], TaskSpec::default()),
            running(
                "cache-fast",
                "b1",
                &[("app", "cache"), ("tier", "fast")],
                TaskSpec::default(),
            ),
            pending_labelled("p", &[], spec),
        ],
    );
    assert_eq!(f.verdict("p", "a1"), err(POD_AFFINITY_MISMATCH));
    assert_eq!(f.verdict("p", "a2"), err(POD_AFFINITY_MISMATCH));
    assert_eq!(f.verdict("p", "b1"), Ok(()));
}

#[test]
fn first_pod_of_a_self_affine_gang_may_start_anywhere_labelled() {
    let gang = |name: &str| pending_labelled(name, &[("app", "ring")], affine("ring", ZONE));
    let mut f = Fixture::new(zoned_nodes(), vec![gang("ring-0"), gang("ring-1")]);
    assert_eq!(f.verdict("ring-0", "a1"), Ok(()));
    assert_eq!(f.verdict("ring-0", "b1"), Ok(()));
    assert_eq!(
        f.verdict("ring-0", "c1"),
        err(POD_AFFINITY_MISMATCH),
        "the topology label is still required"
    );

    // Once one member runs, the rest must join its zone.
    let mut f = Fixture::new(
        zoned_nodes(),
        vec![
            running("ring-0", "a1", &[("app", "ring")], affine("ring", ZONE)),
            gang("ring-1"),
        ],
    );
    assert_eq!(f.verdict("ring-1", "a2"), Ok(()));
    assert_eq!(f.verdict("ring-1", "b1"), err(POD_AFFINITY_MISMATCH));

    // The exception is for pods that select themselves only.
    let mut f = Fixture::new(
        zoned_nodes(),
        vec![pending_labelled("lonely", &[("app", "x")], affine("ring", ZONE))],
    );
    assert_eq!(f.verdict("lonely", "a1"), err(POD_AFFINITY_MISMATCH));

    // Same on one host.
    let host = |name: &str| pending_labelled(name, &[("app", "ring")], affine("ring", HOSTNAME_LABEL));
    let mut f = Fixture::new(zoned_nodes(), vec![host("h-0")]);
    assert_eq!(f.verdict("h-0", "b1"), Ok(()));
}

#[test]
fn switch_turns_pod_affinity_off() {
    let f = Fixture::new(
        zoned_nodes(),
        vec![
            running("db-0", "a1", &[("app", "db")], anti("db", HOSTNAME_LABEL)),
            pending_labelled("db-1", &[("app", "db")], anti("db", HOSTNAME_LABEL)),
            pending_labelled("api", &[], affine("cache", ZONE)),
        ],
    );
    let mut off = Fixture::with_args(f.snapshot, &args(&[("predicate.PodAffinityEnable", "false")]));
    assert_eq!(off.verdict("db-1", "a1"), Ok(()));
    assert_eq!(off.verdict("api", "b1"), Ok(()));
}

#[test]
fn filters_report_in_kube_scheduler_order() {
    let mut n = node("n1", &[("zone", "a")]);
    n.unschedulable = true;
    n.taints = vec![taint("gpu", "true", caldera_framework::TaintEffect::NoSchedule)];
    let spec = TaskSpec {
        node_name: Some("n2".into()),
        node_selector: labels(&[("zone", "b")]),
        ..TaskSpec::default()
    };
    let f = Fixture::new(vec![n], vec![pending("p", spec)]);
    assert_eq!(f.check("p", "n1"), err(NODE_UNSCHEDULABLE));
}

/// Places the named pods one by one, in the given order, through the framework's node search, as
/// one gang: every placement stays Allocated in a single statement, committed only at the end.
fn place_all(f: Fixture, order: &[&str]) -> Vec<Result<String, String>> {
    let mut plugins = PluginSet::default();
    plugins.push(Box::new(Predicates::default()), 0, Hooks::NONE);
    let tasks: Vec<_> = order.iter().map(|n| f.task(n)).collect();
    let mut ssn = Session::open(f.snapshot, plugins, BTreeMap::new());
    let mut stmt = Statement::new();
    let mut out = Vec::new();
    for t in tasks {
        let verdict = match ssn.find_node(t) {
            Ok(Placement::Idle(n) | Placement::Future(n)) => {
                stmt.allocate(&mut ssn, t, n);
                Ok(ssn.snap.node(n).name.clone())
            }
            Err(e) => Err(e.message()),
        };
        out.push(verdict);
    }
    stmt.commit(&mut ssn);
    out
}

#[test]
fn pipelined_pods_count_as_residents() {
    let pods: Vec<_> = (0..2)
        .map(|i| pending_labelled(&format!("w{i}"), &[("app", "w")], anti("w", HOSTNAME_LABEL)))
        .collect();
    let f = Fixture::new(vec![node("n1", &[]), node("n2", &[])], pods);
    let (w0, w1, n1) = (f.task("w0"), f.task("w1"), f.node("n1"));
    let mut plugins = PluginSet::default();
    plugins.push(Box::new(Predicates::default()), 0, Hooks::NONE);
    let mut ssn = Session::open(f.snapshot, plugins, BTreeMap::new());
    let mut stmt = Statement::new();
    stmt.pipeline(&mut ssn, w0, n1);
    let found = ssn.find_node(w1).map(|p| match p {
        Placement::Idle(n) | Placement::Future(n) => ssn.snap.node(n).name.clone(),
    });
    stmt.discard(&mut ssn);
    assert_eq!(found, Ok("n2".to_string()));
}

#[test]
fn session_spreads_a_hostname_anti_affine_gang() {
    let pods: Vec<_> = (0..4)
        .map(|i| pending_labelled(&format!("w{i}"), &[("app", "w")], anti("w", HOSTNAME_LABEL)))
        .collect();
    let f = Fixture::new(vec![node("n1", &[]), node("n2", &[]), node("n3", &[])], pods);
    let out = place_all(f, &["w0", "w1", "w2", "w3"]);
    let placed: Vec<_> = out.iter().filter_map(|v| v.clone().ok()).collect();
    assert_eq!(placed, ["n1", "n2", "n3"]);
    assert_eq!(
        out[3],
        Err("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.".to_string())
    );
}

#[test]
fn session_spreads_a_zone_anti_affine_gang_and_packs_a_zone_affine_one() {
    let spread: Vec<_> = (0..3)
        .map(|i| pending_labelled(&format!("s{i}"), &[("app", "s")], anti("s", ZONE)))
        .collect();
    let f = Fixture::new(zoned_nodes(), spread);
    let placed = place_all(f, &["s0", "s1", "s2"]);
    assert_eq!(placed[0], Ok("a1".to_string()));
    assert_eq!(placed[1], Ok("b1".to_string()));
    assert_eq!(
        placed[2],
        Ok("c1".to_string()),
        "no zone label: anti-affinity cannot object"
    );

    let pack: Vec<_> = (0..3)
        .map(|i| pending_labelled(&format!("p{i}"), &[("app", "p")], affine("p", ZONE)))
        .collect();
    let mut nodes = zoned_nodes();
    nodes.insert(0, node("0b", &[(ZONE, "b")]));
    let f = Fixture::new(nodes, pack);
    let placed = place_all(f, &["p0", "p1", "p2"]);
    assert_eq!(placed[0], Ok("0b".to_string()), "first pod: any labelled node");
    assert_eq!(placed[1], Ok("0b".to_string()));
    assert!(
        placed
            .iter()
            .all(|p| p.as_deref().is_ok_and(|n| n == "0b" || n == "b1")),
        "{placed:?}"
    );
}

#[test]
fn checks_hold_before_open_has_counted_anything() {
    let f = Fixture::new(
        zoned_nodes(),
        vec![
            running("db-0", "a1", &[("app", "db")], anti("db", ZONE)),
            running("web-0", "b1", &[("app", "web")], anti("web", HOSTNAME_LABEL)),
            pending_labelled("client", &[("app", "db")], TaskSpec::default()),
            pending_labelled("web", &[("app", "web")], TaskSpec::default()),
        ],
    );
    let unopened = Predicates::default();
    let check = |pod: &str, node: &str| {
        unopened
            .predicate(&f.snapshot, f.task(pod), f.node(node))
            .map_err(|r| r.into_owned())
    };
    assert_eq!(check("client", "a2"), err(EXISTING_ANTI_AFFINITY_MISMATCH));
    assert_eq!(check("client", "b1"), Ok(()));
    assert_eq!(check("web", "b1"), err(EXISTING_ANTI_AFFINITY_MISMATCH));
    assert_eq!(check("web", "a2"), Ok(()));
}

/// Kubernetes lets only the first pod of a hostname self-affine gang pick freely; the second must
/// join it. The framework caches verdicts per class and re-evaluates only changed nodes, so this
/// holds only because a class with required pod affinity is topology-sensitive (searched in full).
#[test]
fn second_pod_of_a_hostname_self_affine_gang_must_join_the_first() {
    let mut b = caldera_framework::SnapshotBuilder::new();
    let cpu = b.resources.intern("cpu");
    let one = caldera_framework::Resources::from_pairs([(cpu, 1)]);
    let mut nodes = vec![node("n1", &[]), node("n2", &[])];
    for n in &mut nodes {
        n.allocatable = one.clone();
    }
    let spec = TaskSpec {
        request: one.clone(),
        ..affine("h", HOSTNAME_LABEL)
    };
    let pods = vec![
        pending_labelled("h0", &[("app", "h")], spec.clone()),
        pending_labelled("h1", &[("app", "h")], spec),
    ];
    let out = place_all(Fixture::from_builder(b, nodes, pods), &["h0", "h1"]);
    assert_eq!(out[0], Ok("n1".to_string()));
    assert!(out[1].is_err(), "h1 may only join h0 on the full n1, got {:?}", out[1]);
}

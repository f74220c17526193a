use caldera_framework::plugin::SCORE_SCALE;
use caldera_framework::{
    LabelSelector, NodeSelectorTerm, PodAffinityTerm, PreferredTerm, Requirement, SelectorOp, SpreadMode, TaintEffect,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use caldera_testkit::ClusterBuilder;

use super::*;

fn args(pairs: &[(&str, i64)]) -> Arguments {
    Arguments(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_yaml_ng::Value::Number((*v).into())))
            .collect(),
    )
}

fn score(p: &NodeOrder, c: &ClusterBuilder, pod: &str, node: &str) -> i64 {
    let s = c.build(0);
    let mut p = p.clone();
    p.open(&s);
    let t = TaskId::from_idx(s.tasks.iter().position(|t| t.name == pod).expect("pod"));
    p.pre_predicate(&s, t).expect("prepares");
    p.node_score(&s, t, s.node_by_name(node).expect("node")) / SCORE_SCALE
}

fn only(key: &str) -> NodeOrder {
    let mut pairs: Vec<(&str, i64)> = WEIGHTS.iter().map(|(k, _)| (*k, 0)).collect();
    for p in &mut pairs {
        if p.0 == key {
            p.1 = 1;
        }
    }
    NodeOrder::new(&args(&pairs)).expect("weights")
}

#[test]
fn defaults_are_volcanos() {
    let p = NodeOrder::new(&Arguments::default()).expect("defaults");
    assert_eq!(
        p.weights(),
        Weights {
            least: 1,
            most: 0,
            balanced: 1,
            node_affinity: 2,
            pod_affinity: 2,
            taint: 3,
            spread: 2,
            image: 1
        }
    );
    assert!(NodeOrder::new(&args(&[("mostrequested.weight", -1)])).is_err());
}

#[test]
fn least_spreads_and_most_packs() {
    let mut c = ClusterBuilder::new();
    c.node("busy").cpu(4).mem_gi(8);
    c.node("empty").cpu(4).mem_gi(8);
    c.bound_pod("x", "running", "busy", |p| p.cpu(2).mem_gi(4));
    c.pod("a", "p", |p| p.cpu(1).mem_gi(2));
    let least = only("leastrequested.weight");
    assert!(score(&least, &c, "p", "empty") > score(&least, &c, "p", "busy"));
    let most = only("mostrequested.weight");
    assert!(score(&most, &c, "p", "busy") > score(&most, &c, "p", "empty"));
}

#[test]
fn preferred_node_affinity_sums_matching_weights() {
    let mut c = ClusterBuilder::new();
    c.node("ssd").cpu(4).mem_gi(8).label("disk", "ssd");
    c.node("hdd").cpu(4).mem_gi(8);
    c.pod("a", "p", |p| {
        p.cpu(1).with_spec(|s| {
            s.node_affinity.preferred = vec![PreferredTerm {
                weight: 30,
                term: NodeSelectorTerm {
                    match_expressions: vec![Requirement {
                        key: "disk".into(),
                        op: SelectorOp::In,
                        values: vec!["ssd".into()],
                    }],
                    match_fields: Vec::new(),
                },
            }]
        })
    });
    let p = only("nodeaffinity.weight");
    assert_eq!(score(&p, &c, "p", "ssd"), 30);
    assert_eq!(score(&p, &c, "p", "hdd"), 0);
}

#[test]
fn prefer_no_schedule_taints_are_reverse_normalised() {
    let mut c = ClusterBuilder::new();
    c.node("clean").cpu(4).mem_gi(8);
    c.node("spot")
        .cpu(4)
        .mem_gi(8)
        .taint("spot", "true", TaintEffect::PreferNoSchedule);
    c.pod("a", "p", |p| p.cpu(1));
    let p = only("tainttoleration.weight");
    assert_eq!(score(&p, &c, "p", "clean"), 100);
    assert_eq!(score(&p, &c, "p", "spot"), 0);
}

fn term(key: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        selector: LabelSelector {
            match_labels: [("app".to_string(), "db".to_string())].into_iter().collect(),
            match_expressions: Vec::new(),
        },
        namespaces: Vec::new(),
        all_namespaces: false,
        topology_key: key.into(),
    }
}

#[test]
fn preferred_pod_affinity_and_anti_affinity_are_min_max_normalised() {
    let mut c = ClusterBuilder::new();
    c.node("a").cpu(4).mem_gi(8).label("zone", "z1");
    c.node("b").cpu(4).mem_gi(8).label("zone", "z1");
    c.node("c").cpu(4).mem_gi(8).label("zone", "z2");
    c.bound_pod("a", "db", "a", |p| p.cpu(1).label("app", "db"));
    c.pod("a", "near", |p| {
        p.cpu(1).with_spec(|s| {
            s.preferred_pod_affinity = vec![WeightedPodAffinityTerm {
                weight: 10,
                term: term("zone"),
            }]
        })
    });
    c.pod("a", "far", |p| {
        p.cpu(1).with_spec(|s| {
            s.preferred_pod_anti_affinity = vec![WeightedPodAffinityTerm {
                weight: 10,
                term: term("zone"),
            }]
        })
    });
    let p = only("podaffinity.weight");
    assert_eq!(score(&p, &c, "near", "b"), 100, "same zone as the db pod");
    assert_eq!(score(&p, &c, "near", "c"), 0);
    assert_eq!(score(&p, &c, "far", "c"), 100);
    assert_eq!(score(&p, &c, "far", "b"), 0);
}

#[test]
fn schedule_anyway_spread_prefers_the_emptier_domain() {
    let mut c = ClusterBuilder::new();
    c.node("a").cpu(4).mem_gi(8).label("zone", "z1");
    c.node("b").cpu(4).mem_gi(8).label("zone", "z2");
    c.bound_pod("a", "w-0", "a", |p| p.cpu(1).label("app", "web"));
    c.pod("a", "w-1", |p| {
        p.cpu(1).label("app", "web").with_spec(|s| {
            s.topology_spread = vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "zone".into(),
                mode: SpreadMode::ScheduleAnyway,
                selector: LabelSelector {
                    match_labels: [("app".to_string(), "web".to_string())].into_iter().collect(),
                    match_expressions: Vec::new(),
                },
                min_domains: None,
                node_affinity_policy: caldera_framework::InclusionPolicy::Honor,
                node_taints_policy: caldera_framework::InclusionPolicy::Ignore,
            }]
        })
    });
    let p = only("podtopologyspread.weight");
    assert!(score(&p, &c, "w-1", "b") > score(&p, &c, "w-1", "a"));
    assert_eq!(score(&p, &c, "w-1", "b"), 100);
}

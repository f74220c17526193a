//! Snapshot fixtures shared by the predicate tests: records in, plugin verdicts out, by name.

use caldera_framework::snapshot::{HOSTNAME_LABEL, NodeRecord, PodPhase, PodRecord};
use caldera_framework::{
    Arguments, LabelSelector, Labels, NodeId, Plugin, PodAffinityTerm, Requirement, SchedulerConfig, SelectorOp,
    Snapshot, SnapshotBuilder, Taint, TaintEffect, TaskId, TaskSpec, Toleration, TolerationOp,
};

use super::Predicates;

pub(super) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A ready node carrying the hostname label, as the converter supplies it.
pub(super) fn node(name: &str, extra: &[(&str, &str)]) -> NodeRecord {
    let mut l = labels(extra);
    l.insert(HOSTNAME_LABEL.to_string(), name.to_string());
    NodeRecord {
        name: name.into(),
        labels: l.into(),
        ready: true,
        ..NodeRecord::default()
    }
}

/// A pod of ours waiting for a node, in namespace `default`.
pub(super) fn pending(name: &str, spec: TaskSpec) -> PodRecord {
    PodRecord {
        uid: format!("uid-{name}"),
        namespace: "default".into(),
        name: name.into(),
        spec: std::sync::Arc::new(spec),
        ours: true,
        ..PodRecord::default()
    }
}

/// A labelled pending pod.
pub(super) fn pending_labelled(name: &str, pod_labels: &[(&str, &str)], spec: TaskSpec) -> PodRecord {
    PodRecord {
        labels: labels(pod_labels),
        ..pending(name, spec)
    }
}

/// A running pod on `node`.
pub(super) fn running(name: &str, node: &str, pod_labels: &[(&str, &str)], spec: TaskSpec) -> PodRecord {
    PodRecord {
        node_name: Some(node.into()),
        phase: PodPhase::Running,
        ..pending_labelled(name, pod_labels, spec)
    }
}

pub(super) fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
    Taint {
        key: key.into(),
        value: value.into(),
        effect,
    }
}

pub(super) fn toleration(key: &str, op: TolerationOp, value: &str, effect: Option<TaintEffect>) -> Toleration {
    Toleration {
        key: key.into(),
        op,
        value: value.into(),
        effect,
    }
}

pub(super) fn req(key: &str, op: SelectorOp, values: &[&str]) -> Requirement {
    Requirement {
        key: key.into(),
        op,
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// A term selecting pods labelled `app=<app>` in the owner's namespace.
pub(super) fn app_term(app: &str, topology_key: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        selector: LabelSelector {
            match_labels: labels(&[("app", app)]),
            match_expressions: Vec::new(),
        },
        namespaces: Vec::new(),
        all_namespaces: false,
        topology_key: topology_key.into(),
    }
}

/// Plugin arguments as a `volcano-scheduler.conf` would carry them; values are raw YAML, so
/// `"false"` is a string and `false` a boolean.
pub(super) fn args(pairs: &[(&str, &str)]) -> Arguments {
    let mut yaml = String::from("actions: allocate\ntiers:\n- plugins:\n  - name: predicates\n    arguments:\n");
    for (k, v) in pairs {
        yaml.push_str(&format!("      {k}: {v}\n"));
    }
    let config = SchedulerConfig::parse(&yaml).expect("test configuration parses");
    config.tiers[0].plugins[0].arguments.clone()
}

/// An opened plugin over a built snapshot.
pub(super) struct Fixture {
    pub snapshot: Snapshot,
    pub plugin: Predicates,
}

impl Fixture {
    pub fn new(nodes: Vec<NodeRecord>, pods: Vec<PodRecord>) -> Self {
        Fixture::from_builder(SnapshotBuilder::new(), nodes, pods)
    }

    /// For records whose resources were interned in `b.resources`.
    pub fn from_builder(mut b: SnapshotBuilder, nodes: Vec<NodeRecord>, pods: Vec<PodRecord>) -> Self {
        for n in nodes {
            b.node(n);
        }
        for p in pods {
            b.pod(p);
        }
        Fixture::with_args(b.build(0), &Arguments::default())
    }

    pub fn with_args(snapshot: Snapshot, args: &Arguments) -> Self {
        let mut plugin = Predicates::new(args).expect("valid arguments");
        plugin.open(&snapshot);
        Fixture { snapshot, plugin }
    }

    pub fn task(&self, name: &str) -> TaskId {
        let i = self
            .snapshot
            .tasks
            .iter()
            .position(|t| t.name == name)
            .expect("task exists");
        TaskId::from_idx(i)
    }

    pub fn node(&self, name: &str) -> NodeId {
        self.snapshot.node_by_name(name).expect("node exists")
    }

    /// `predicate` alone, as an action that skips `pre_predicate` would call it.
    pub fn check(&self, pod: &str, node: &str) -> Result<(), String> {
        self.plugin
            .predicate(&self.snapshot, self.task(pod), self.node(node))
            .map_err(|r| r.into_owned())
    }

    /// `pre_predicate` then `predicate`, as the framework's node search does.
    pub fn scan(&mut self, pod: &str, node: &str) -> Result<(), String> {
        let (t, n) = (self.task(pod), self.node(node));
        self.plugin
            .pre_predicate(&self.snapshot, t)
            .map_err(|r| r.into_owned())?;
        self.plugin.predicate(&self.snapshot, t, n).map_err(|r| r.into_owned())
    }

    /// Both paths must agree; returns their verdict.
    pub fn verdict(&mut self, pod: &str, node: &str) -> Result<(), String> {
        let direct = self.check(pod, node);
        let scanned = self.scan(pod, node);
        assert_eq!(
            direct, scanned,
            "predicate with and without pre_predicate disagree for {pod} on {node}"
        );
        scanned
    }

    pub fn score(&self, pod: &str, node: &str) -> i64 {
        self.plugin.node_score(&self.snapshot, self.task(pod), self.node(node))
    }
}

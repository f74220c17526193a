//! A page of the pod list in protobuf, read into the same [`LeanPod`]s the JSON path yields, so
//! the converters cannot tell the two apart (see [`super::protolist`] for why protobuf).
//!
//! JSON leaves out an empty string, list or map (`omitempty`) where protobuf writes it, so an
//! empty one is read here as absent: otherwise `image: ""` would count as an image and
//! `nodeName: ""` as bound.

use std::collections::BTreeMap;

use bytes::Bytes;
use k8s_openapi::api::core::v1 as api;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message;

use super::lean::LeanPod;
use super::podwire as wire;
use super::protolist;

/// The pods of a protobuf `PodList` body.
///
/// # Errors
/// When the body is not a protobuf `PodList`.
pub fn decode_list(body: &Bytes) -> Result<Vec<LeanPod>, String> {
    let raw = protolist::unwrap(body)?;
    let list = wire::PodList::decode(raw).map_err(|e| format!("pod list: {e}"))?;
    list.items.into_iter().map(pod).collect()
}

/// The pod in a protobuf body (a watch event's object).
///
/// # Errors
/// When the body is not a protobuf `Pod`.
pub fn decode_object(body: &Bytes) -> Result<LeanPod, String> {
    let raw = protolist::unwrap(body)?;
    pod(wire::Pod::decode(raw).map_err(|e| format!("pod: {e}"))?)
}

fn pod(p: wire::Pod) -> Result<LeanPod, String> {
    let metadata = p.metadata.map(object_meta).transpose()?.unwrap_or_default();
    Ok(LeanPod(api::Pod {
        metadata,
        spec: p.spec.map(pod_spec),
        status: p.status.map(pod_status).transpose()?,
    }))
}

fn object_meta(m: wire::ObjectMeta) -> Result<meta::ObjectMeta, String> {
    Ok(meta::ObjectMeta {
        name: text(m.name),
        generate_name: text(m.generate_name),
        namespace: text(m.namespace),
        uid: text(m.uid),
        resource_version: text(m.resource_version),
        labels: map(m.labels),
        annotations: map(m.annotations),
        creation_timestamp: time(m.creation_timestamp)?,
        deletion_timestamp: time(m.deletion_timestamp)?,
        ..meta::ObjectMeta::default()
    })
}

fn pod_status(s: wire::PodStatus) -> Result<api::PodStatus, String> {
    Ok(api::PodStatus {
        phase: text(s.phase),
        start_time: time(s.start_time)?,
        nominated_node_name: text(s.nominated_node_name),
        ..api::PodStatus::default()
    })
}

fn pod_spec(s: wire::PodSpec) -> api::PodSpec {
    api::PodSpec {
        containers: s.containers.into_iter().map(container).collect(),
        init_containers: list(s.init_containers, container),
        node_selector: map(s.node_selector),
        node_name: text(s.node_name),
        affinity: s.affinity.map(affinity),
        scheduler_name: text(s.scheduler_name),
        tolerations: list(s.tolerations, toleration),
        priority_class_name: text(s.priority_class_name),
        priority: s.priority,
        preemption_policy: text(s.preemption_policy),
        overhead: quantities(s.overhead),
        topology_spread_constraints: list(s.topology_spread_constraints, spread),
        resources: s.resources.map(resources),
        scheduling_group: s.scheduling_group.map(|g| api::PodSchedulingGroup {
            pod_group_name: text(g.pod_group_name),
        }),
        ..api::PodSpec::default()
    }
}

fn container(c: wire::Container) -> api::Container {
    api::Container {
        name: c.name.unwrap_or_default(),
        image: text(c.image),
        ports: list(c.ports, |p| api::ContainerPort {
            name: text(p.name),
            host_port: p.host_port.filter(|&hp| hp != 0),
            container_port: p.container_port.unwrap_or_default(),
            protocol: text(p.protocol),
            host_ip: text(p.host_ip),
        }),
        resources: c.resources.map(resources),
        restart_policy: text(c.restart_policy),
        ..api::Container::default()
    }
}

fn resources(r: wire::ResourceRequirements) -> api::ResourceRequirements {
    api::ResourceRequirements {
        limits: quantities(r.limits),
        requests: quantities(r.requests),
        claims: None,
    }
}

fn affinity(a: wire::Affinity) -> api::Affinity {
    api::Affinity {
        node_affinity: a.node_affinity.map(|n| api::NodeAffinity {
            required_during_scheduling_ignored_during_execution: n.required.map(|r| api::NodeSelector {
                node_selector_terms: r.node_selector_terms.into_iter().map(node_term).collect(),
            }),
            preferred_during_scheduling_ignored_during_execution: list(n.preferred, |p| api::PreferredSchedulingTerm {
                weight: p.weight.unwrap_or_default(),
                preference: node_term(p.preference.unwrap_or_default()),
            }),
        }),
        pod_affinity: a.pod_affinity.map(|p| {
            let (required, preferred) = pod_terms(p);
            api::PodAffinity {
                required_during_scheduling_ignored_during_execution: required,
                preferred_during_scheduling_ignored_during_execution: preferred,
            }
        }),
        pod_anti_affinity: a.pod_anti_affinity.map(|p| {
            let (required, preferred) = pod_terms(p);
            api::PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: required,
                preferred_during_scheduling_ignored_during_execution: preferred,
            }
        }),
    }
}

type PodTerms = (
    Option<Vec<api::PodAffinityTerm>>,
    Option<Vec<api::WeightedPodAffinityTerm>>,
);

fn pod_terms(p: wire::PodAffinity) -> PodTerms {
    (
        list(p.required, pod_term),
        list(p.preferred, |w| api::WeightedPodAffinityTerm {
            weight: w.weight.unwrap_or_default(),
            pod_affinity_term: pod_term(w.term.unwrap_or_default()),
        }),
    )
}

fn pod_term(t: wire::PodAffinityTerm) -> api::PodAffinityTerm {
    api::PodAffinityTerm {
        label_selector: t.label_selector.map(label_selector),
        namespaces: list(t.namespaces, |n| n),
        topology_key: t.topology_key.unwrap_or_default(),
        namespace_selector: t.namespace_selector.map(label_selector),
        ..api::PodAffinityTerm::default()
    }
}

fn node_term(t: wire::NodeSelectorTerm) -> api::NodeSelectorTerm {
    let requirement = |r: wire::Requirement| api::NodeSelectorRequirement {
        key: r.key.unwrap_or_default(),
        operator: r.operator.unwrap_or_default(),
        values: list(r.values, |v| v),
    };
    api::NodeSelectorTerm {
        match_expressions: list(t.match_expressions, requirement),
        match_fields: list(t.match_fields, requirement),
    }
}

fn label_selector(s: wire::LabelSelector) -> meta::LabelSelector {
    meta::LabelSelector {
        match_labels: map(s.match_labels),
        match_expressions: list(s.match_expressions, |r| meta::LabelSelectorRequirement {
            key: r.key.unwrap_or_default(),
            operator: r.operator.unwrap_or_default(),
            values: list(r.values, |v| v),
        }),
    }
}

fn toleration(t: wire::Toleration) -> api::Toleration {
    api::Toleration {
        key: text(t.key),
        operator: text(t.operator),
        value: text(t.value),
        effect: text(t.effect),
        ..api::Toleration::default()
    }
}

fn spread(c: wire::TopologySpreadConstraint) -> api::TopologySpreadConstraint {
    api::TopologySpreadConstraint {
        max_skew: c.max_skew.unwrap_or_default(),
        topology_key: c.topology_key.unwrap_or_default(),
        when_unsatisfiable: c.when_unsatisfiable.unwrap_or_default(),
        label_selector: c.label_selector.map(label_selector),
        min_domains: c.min_domains,
        node_affinity_policy: text(c.node_affinity_policy),
        node_taints_policy: text(c.node_taints_policy),
        match_label_keys: list(c.match_label_keys, |k| k),
    }
}

/// A string as JSON would have it: an empty one is absent.
fn text(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A map as JSON would have it: an empty one is absent.
fn map(m: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then_some(m)
}

/// A list as JSON would have it: an empty one is absent.
fn list<A, B>(v: Vec<A>, f: impl FnMut(A) -> B) -> Option<Vec<B>> {
    (!v.is_empty()).then(|| v.into_iter().map(f).collect())
}

fn quantities(m: BTreeMap<String, wire::Quantity>) -> Option<BTreeMap<String, Quantity>> {
    (!m.is_empty()).then(|| {
        m.into_iter()
            .map(|(k, q)| (k, Quantity(q.string.unwrap_or_default())))
            .collect()
    })
}

/// A timestamp; the empty message is the zero time, which JSON writes as `null`.
fn time(t: Option<wire::Time>) -> Result<Option<meta::Time>, String> {
    match t.and_then(|t| t.seconds) {
        None => Ok(None),
        Some(s) => k8s_openapi::jiff::Timestamp::from_second(s)
            .map(|ts| Some(meta::Time(ts)))
            .map_err(|e| format!("timestamp {s}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::ResourceNames;
    use caldera_framework::convert;

    fn q(s: &str) -> wire::Quantity {
        wire::Quantity {
            string: Some(s.to_owned()),
        }
    }

    fn req(key: &str, op: &str, values: &[&str]) -> wire::Requirement {
        wire::Requirement {
            key: Some(key.to_owned()),
            operator: Some(op.to_owned()),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn sel(app: &str) -> wire::LabelSelector {
        wire::LabelSelector {
            match_labels: [("app".to_owned(), app.to_owned())].into(),
            match_expressions: vec![req("tier", "NotIn", &["web"])],
        }
    }

    /// Every field the converters read, set, as the API server writes it: plain Go fields
    /// always, empty ones included.
    fn wire_pod() -> wire::Pod {
        let term = |app: &str| wire::PodAffinityTerm {
            label_selector: Some(sel(app)),
            namespaces: vec!["ns-a".to_owned()],
            topology_key: Some("zone".to_owned()),
            namespace_selector: None,
        };
        let container = |name: &str, gpu: &str, restart: Option<&str>| wire::Container {
            name: Some(name.to_owned()),
            image: Some(format!("img-{name}")),
            ports: vec![
                wire::ContainerPort {
                    name: Some(String::new()),
                    host_port: Some(8080),
                    container_port: Some(80),
                    protocol: Some("UDP".to_owned()),
                    host_ip: Some("10.0.0.1".to_owned()),
                },
                wire::ContainerPort {
                    name: Some("metrics".to_owned()),
                    host_port: Some(0),
                    container_port: Some(9090),
                    protocol: Some("TCP".to_owned()),
                    host_ip: Some(String::new()),
                },
            ],
            resources: Some(wire::ResourceRequirements {
                limits: [("nvidia.com/gpu".to_owned(), q(gpu))].into(),
                requests: [("cpu".to_owned(), q("500m")), ("nvidia.com/gpu".to_owned(), q(gpu))].into(),
            }),
            restart_policy: restart.map(str::to_owned),
        };
        wire::Pod {
            metadata: Some(wire::ObjectMeta {
                name: Some("p-1".to_owned()),
                generate_name: Some(String::new()),
                namespace: Some("bench".to_owned()),
                uid: Some("u-1".to_owned()),
                resource_version: Some("42".to_owned()),
                creation_timestamp: Some(wire::Time {
                    seconds: Some(1_796_500_000),
                }),
                deletion_timestamp: None,
                labels: [("app".to_owned(), "x".to_owned()), ("shard".to_owned(), "3".to_owned())].into(),
                annotations: [
                    ("scheduling.k8s.io/group-name".to_owned(), "g".to_owned()),
                    ("volcano.sh/task-spec".to_owned(), "worker".to_owned()),
                ]
                .into(),
            }),
            spec: Some(wire::PodSpec {
                containers: vec![container("main", "2", None), container("aux", "1", None)],
                node_selector: [("pool".to_owned(), "gpu".to_owned())].into(),
                node_name: Some(String::new()),
                affinity: Some(wire::Affinity {
                    node_affinity: Some(wire::NodeAffinity {
                        required: Some(wire::NodeSelector {
                            node_selector_terms: vec![wire::NodeSelectorTerm {
                                match_expressions: vec![req("gpu", "Gt", &["4"])],
                                match_fields: vec![req("metadata.name", "NotIn", &["n-9"])],
                            }],
                        }),
                        preferred: vec![wire::PreferredSchedulingTerm {
                            weight: Some(7),
                            preference: Some(wire::NodeSelectorTerm {
                                match_expressions: vec![req("zone", "In", &["a", "b"])],
                                match_fields: vec![],
                            }),
                        }],
                    }),
                    pod_affinity: Some(wire::PodAffinity {
                        required: vec![term("db")],
                        preferred: vec![],
                    }),
                    pod_anti_affinity: Some(wire::PodAffinity {
                        required: vec![wire::PodAffinityTerm {
                            namespace_selector: Some(wire::LabelSelector::default()),
                            ..term("x")
                        }],
                        preferred: vec![wire::WeightedPodAffinityTerm {
                            weight: Some(30),
                            term: Some(term("cache")),
                        }],
                    }),
                }),
                scheduler_name: Some("caldera".to_owned()),
                init_containers: vec![container("sidecar", "1", Some("Always")), container("setup", "4", None)],
                tolerations: vec![
                    wire::Toleration {
                        key: Some("gpu".to_owned()),
                        operator: Some("Exists".to_owned()),
                        value: Some(String::new()),
                        effect: Some("NoSchedule".to_owned()),
                    },
                    wire::Toleration {
                        key: Some("team".to_owned()),
                        operator: Some(String::new()),
                        value: Some("ml".to_owned()),
                        effect: Some(String::new()),
                    },
                ],
                priority_class_name: Some("high".to_owned()),
                priority: Some(1000),
                preemption_policy: Some("Never".to_owned()),
                overhead: [("cpu".to_owned(), q("250m"))].into(),
                topology_spread_constraints: vec![wire::TopologySpreadConstraint {
                    max_skew: Some(2),
                    topology_key: Some("zone".to_owned()),
                    when_unsatisfiable: Some("DoNotSchedule".to_owned()),
                    label_selector: Some(sel("x")),
                    min_domains: Some(3),
                    node_affinity_policy: Some("Ignore".to_owned()),
                    node_taints_policy: None,
                    match_label_keys: vec!["shard".to_owned()],
                }],
                resources: Some(wire::ResourceRequirements {
                    limits: BTreeMap::new(),
                    requests: [("memory".to_owned(), q("8Gi"))].into(),
                }),
                scheduling_group: Some(wire::PodSchedulingGroup {
                    pod_group_name: Some("native-g".to_owned()),
                }),
            }),
            status: Some(wire::PodStatus {
                phase: Some("Pending".to_owned()),
                start_time: Some(wire::Time {
                    seconds: Some(1_796_500_007),
                }),
                nominated_node_name: Some("n-1".to_owned()),
            }),
        }
    }

    /// The same pod as the API server writes it in JSON (empty fields left out).
    const POD_JSON: &str = r#"{
      "metadata": {"name": "p-1", "namespace": "bench", "uid": "u-1", "resourceVersion": "42",
        "creationTimestamp": "2026-12-05T19:46:40Z",
        "labels": {"app": "x", "shard": "3"},
        "annotations": {"scheduling.k8s.io/group-name": "g", "volcano.sh/task-spec": "worker"}},
      "spec": {
        "containers": [
          {"name": "main", "image": "img-main",
           "ports": [{"hostPort": 8080, "containerPort": 80, "protocol": "UDP", "hostIP": "10.0.0.1"},
                     {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
           "resources": {"limits": {"nvidia.com/gpu": "2"}, "requests": {"cpu": "500m", "nvidia.com/gpu": "2"}}},
          {"name": "aux", "image": "img-aux",
           "ports": [{"hostPort": 8080, "containerPort": 80, "protocol": "UDP", "hostIP": "10.0.0.1"},
                     {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
           "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"cpu": "500m", "nvidia.com/gpu": "1"}}}],
        "initContainers": [
          {"name": "sidecar", "image": "img-sidecar", "restartPolicy": "Always",
           "ports": [{"hostPort": 8080, "containerPort": 80, "protocol": "UDP", "hostIP": "10.0.0.1"},
                     {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
           "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"cpu": "500m", "nvidia.com/gpu": "1"}}},
          {"name": "setup", "image": "img-setup",
           "ports": [{"hostPort": 8080, "containerPort": 80, "protocol": "UDP", "hostIP": "10.0.0.1"},
                     {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
           "resources": {"limits": {"nvidia.com/gpu": "4"}, "requests": {"cpu": "500m", "nvidia.com/gpu": "4"}}}],
        "nodeSelector": {"pool": "gpu"},
        "affinity": {
          "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
              {"matchExpressions": [{"key": "gpu", "operator": "Gt", "values": ["4"]}],
               "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n-9"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
              {"weight": 7, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}}]},
          "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]},
             "namespaces": ["ns-a"], "topologyKey": "zone"}]},
          "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
              {"labelSelector": {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]},
               "namespaces": ["ns-a"], "topologyKey": "zone", "namespaceSelector": {}}],
            "preferredDuringSchedulingIgnoredDuringExecution": [
              {"weight": 30, "podAffinityTerm":
                {"labelSelector": {"matchLabels": {"app": "cache"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]},
                 "namespaces": ["ns-a"], "topologyKey": "zone"}}]}},
        "schedulerName": "caldera",
        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}, {"key": "team", "value": "ml"}],
        "priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never",
        "overhead": {"cpu": "250m"},
        "topologySpreadConstraints": [{"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
          "labelSelector": {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]},
          "minDomains": 3, "nodeAffinityPolicy": "Ignore", "matchLabelKeys": ["shard"]}],
        "resources": {"requests": {"memory": "8Gi"}},
        "schedulingGroup": {"podGroupName": "native-g"}},
      "status": {"phase": "Pending", "startTime": "2026-12-05T19:46:47Z", "nominatedNodeName": "n-1"}
    }"#;

    fn body(pods: Vec<wire::Pod>) -> Bytes {
        protolist::wrap("PodList", &wire::PodList { items: pods })
    }

    #[test]
    fn a_protobuf_pod_reads_as_the_same_object_as_its_json() {
        let from_json: LeanPod = serde_json::from_str(POD_JSON).expect("JSON pod");
        let pods = decode_list(&body(vec![wire_pod()])).expect("decodes");
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].0, from_json.0);
    }

    #[test]
    fn a_protobuf_pod_converts_exactly_like_its_json() {
        let from_json: LeanPod = serde_json::from_str(POD_JSON).expect("JSON pod");
        let pods = decode_list(&body(vec![wire_pod()])).expect("decodes");
        let ours = ["caldera".to_owned()];
        let (mut n1, mut n2) = (ResourceNames::default(), ResourceNames::default());
        let a = convert::pod_record(&from_json.0, &ours, &mut n1, 0).expect("converts");
        let b = convert::pod_record(&pods[0].0, &ours, &mut n2, 0).expect("converts");
        assert_eq!(a, b);
        assert_eq!(b.node_name, None, "an empty nodeName is not bound");
        assert_eq!(b.spec.images.len(), 2, "no empty image");
        assert_eq!(b.spec.host_ports.len(), 1, "hostPort 0 is no port");
    }

    #[test]
    fn an_empty_timestamp_is_absent_and_a_list_may_be_empty() {
        let mut p = wire_pod();
        if let Some(m) = p.metadata.as_mut() {
            m.creation_timestamp = Some(wire::Time { seconds: None });
        }
        let pods = decode_list(&body(vec![p])).expect("decodes");
        assert_eq!(pods[0].0.metadata.creation_timestamp, None);
        assert!(decode_list(&body(vec![])).expect("decodes").is_empty());
    }

    #[test]
    fn a_broken_page_is_an_error_not_fewer_pods() {
        let whole = body(vec![wire_pod(), wire_pod()]).to_vec();
        let cut = Bytes::from(whole[..whole.len() - 10].to_vec());
        assert!(decode_list(&cut).is_err());
        let mut p = wire_pod();
        if let Some(m) = p.metadata.as_mut() {
            m.creation_timestamp = Some(wire::Time {
                seconds: Some(i64::MAX),
            });
        }
        assert!(
            decode_list(&body(vec![p]))
                .expect_err("out of range")
                .contains("timestamp")
        );
    }
}

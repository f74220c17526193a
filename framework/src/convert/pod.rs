//! `core/v1` Pod into [`PodRecord`]: identity, gang membership, priority and the placement
//! constraints the engine evaluates.
//!
//! Not converted, because no plugin reads them: volumes and DRA claims. `matchLabelKeys`/
//! `mismatchLabelKeys` of pod affinity terms need nothing: the apiserver merges them into
//! `labelSelector` when the pod is created. Those of topology spread constraints are merged here,
//! from the pod's own labels, as kube-scheduler does.

use k8s_openapi::api::core::v1::{
    Container, NodeSelectorRequirement, NodeSelectorTerm as ApiNodeSelectorTerm, Pod,
    PodAffinityTerm as ApiAffinityTerm, PodSpec, Toleration as ApiToleration, TopologySpreadConstraint as ApiSpread,
    WeightedPodAffinityTerm as ApiWeightedTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as ApiLabelSelector;

use super::request::is_sidecar;
use super::{
    Cause, ConvertError, FieldError, ObjectRef, annotation_or_label, bool_flag, created_at, duration_annotation,
    namespace_of, namespaced_ref, non_empty, pod_request, required_name, time_millis,
};
use crate::model::{
    HostPort, InclusionPolicy, LabelSelector, Labels, Millis, NodeAffinity, NodeSelectorTerm, PodAffinityTerm,
    PreferredTerm, Requirement, SelectorOp, SpreadMode, TaskSpec, Toleration, TolerationOp, TopologySpreadConstraint,
    WeightedPodAffinityTerm,
};
use crate::resource::ResourceNames;
use crate::snapshot::{GroupRef, PodPhase, PodRecord};
use caldera_crds::labels;
use std::sync::Arc;

/// The scheduler a pod without `spec.schedulerName` is meant for (the apiserver's default).
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

const POD: &str = "Pod";

/// Converts a pod.
///
/// `our_scheduler_names` decides [`PodRecord::ours`]; pods of other schedulers are kept only for
/// node accounting, so annotation errors on them (`volcano.sh/task-priority`,
/// `volcano.sh/preemptable`) are ignored rather than reported: refusing such a pod would drop its
/// usage from its node and overcommit it. On our own pods those errors fail the conversion, to
/// be reported on the pod.
///
/// `spec.nodeName` is recorded as [`PodRecord::node_name`] (the pod is bound: kubelet runs it
/// without any scheduler) and not as [`TaskSpec::node_name`], which would split equivalence
/// classes per node for no gain.
pub fn pod_record(
    pod: &Pod,
    our_scheduler_names: &[String],
    names: &mut ResourceNames,
    now: Millis,
) -> Result<PodRecord, ConvertError> {
    let object = namespaced_ref(POD, &pod.metadata);
    let at = |e: FieldError| e.in_object(&object);
    let meta = &pod.metadata;
    let name = required_name(meta).map_err(at)?;
    let spec = pod
        .spec
        .as_ref()
        .ok_or_else(|| at(FieldError::new("spec", Cause::Missing)))?;

    let scheduler = spec
        .scheduler_name
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SCHEDULER);
    let ours = our_scheduler_names.iter().any(|n| n == scheduler);

    let annotations = meta.annotations.as_ref();
    let labels_map = meta.labels.as_ref();
    let group = if let Some(g) = non_empty(annotations.and_then(|a| a.get(labels::GROUP_NAME))) {
        Some(GroupRef::Volcano(g))
    } else if let Some(g) = non_empty(labels_map.and_then(|l| l.get(labels::COSCHEDULING_POD_GROUP))) {
        Some(GroupRef::Coscheduling(g))
    } else {
        non_empty(spec.scheduling_group.as_ref().and_then(|g| g.pod_group_name.as_ref())).map(GroupRef::Native)
    };

    // Annotations only steer our own scheduling; see the doc comment.
    let task_priority = only_if_ours(task_priority(pod), ours).map_err(at)?;
    let preemptable = only_if_ours(bool_flag(meta, labels::PREEMPTABLE), ours).map_err(at)?;
    let expected_runtime = only_if_ours(duration_annotation(meta, labels::EXPECTED_RUNTIME), ours).map_err(at)?;

    Ok(PodRecord {
        uid: meta.uid.clone().unwrap_or_default(),
        namespace: namespace_of(meta),
        name,
        labels: labels_map.cloned().unwrap_or_default(),
        group,
        role: annotation_or_label(meta, labels::TASK_SPEC)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty()),
        priority: spec.priority,
        priority_class: non_empty(spec.priority_class_name.as_ref()),
        task_priority,
        created: created_at(meta, now),
        started: pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(time_millis),
        phase: phase(pod.status.as_ref().and_then(|s| s.phase.as_deref())),
        node_name: non_empty(spec.node_name.as_ref()),
        deleting: meta.deletion_timestamp.is_some(),
        spec: Arc::new(task_spec(spec, names, &object, pod.metadata.labels.as_ref())?),
        preemptable,
        never_preempts: spec.preemption_policy.as_deref() == Some("Never"),
        ours,
        expected_runtime,
        nominated_node: non_empty(pod.status.as_ref().and_then(|s| s.nominated_node_name.as_ref())),
    })
}

/// `r`, with errors ignored (read as absent) on pods that are not ours.
fn only_if_ours<T>(r: Result<Option<T>, FieldError>, ours: bool) -> Result<Option<T>, FieldError> {
    match r {
        Err(_) if !ours => Ok(None),
        r => r,
    }
}

fn task_priority(pod: &Pod) -> Result<Option<i32>, FieldError> {
    let Some(v) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(labels::TASK_PRIORITY))
    else {
        return Ok(None);
    };
    v.trim().parse::<i32>().map(Some).map_err(|_| {
        FieldError::new(
            format!("metadata.annotations[{}]", labels::TASK_PRIORITY),
            Cause::invalid(v, "a 32-bit integer"),
        )
    })
}

/// `status.phase`. `Unknown` (node unreachable) still holds its node, so it counts as Running;
/// an absent or unrecognised phase is Pending.
fn phase(p: Option<&str>) -> PodPhase {
    match p {
        Some("Running" | "Unknown") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Pending,
    }
}

fn task_spec(
    spec: &PodSpec,
    names: &mut ResourceNames,
    object: &ObjectRef,
    labels: Option<&Labels>,
) -> Result<TaskSpec, ConvertError> {
    let at = |e: FieldError| e.in_object(object);
    let request = pod_request(spec, names).map_err(at)?;
    let affinity = spec.affinity.as_ref();
    let node_affinity = match affinity.and_then(|a| a.node_affinity.as_ref()) {
        Some(na) => {
            let base = "spec.affinity.nodeAffinity";
            let required = match &na.required_during_scheduling_ignored_during_execution {
                Some(sel) => Some(
                    sel.node_selector_terms
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            node_selector_term(
                                t,
                                &format!(
                                    "{base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]"
                                ),
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(at)?,
                ),
                None => None,
            };
            let preferred = na
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| {
                    let field = format!("{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}].preference");
                    Ok(PreferredTerm {
                        weight: p.weight,
                        term: node_selector_term(&p.preference, &field)?,
                    })
                })
                .collect::<Result<Vec<_>, FieldError>>()
                .map_err(at)?;
            NodeAffinity { required, preferred }
        }
        None => NodeAffinity::default(),
    };
    let pod_affinity = affinity_terms(
        affinity
            .and_then(|a| a.pod_affinity.as_ref())
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref()),
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        true,
    )
    .map_err(at)?;
    let pod_anti_affinity = affinity_terms(
        affinity
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref()),
        "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        false,
    )
    .map_err(at)?;
    let preferred_pod_affinity = weighted_terms(
        affinity
            .and_then(|a| a.pod_affinity.as_ref())
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref()),
        "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution",
    )
    .map_err(at)?;
    let preferred_pod_anti_affinity = weighted_terms(
        affinity
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref()),
        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution",
    )
    .map_err(at)?;
    let topology_spread = spread_constraints(spec.topology_spread_constraints.as_deref(), labels).map_err(at)?;
    let mut images: Vec<String> = spec.containers.iter().filter_map(|c| c.image.clone()).collect();
    images.sort();
    images.dedup();
    let tolerations = spec
        .tolerations
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| toleration(t, &format!("spec.tolerations[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(at)?;
    Ok(TaskSpec {
        request,
        node_name: None,
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        node_affinity,
        tolerations,
        host_ports: host_ports(spec),
        pod_affinity,
        pod_anti_affinity,
        preferred_pod_affinity,
        preferred_pod_anti_affinity,
        topology_spread,
        images,
    })
}

/// Preferred pod (anti-)affinity terms; a term without `labelSelector` matches no pod and so
/// adds nothing to any node's score: it is dropped.
fn weighted_terms(terms: Option<&[ApiWeightedTerm]>, field: &str) -> Result<Vec<WeightedPodAffinityTerm>, FieldError> {
    let mut out = Vec::new();
    for (i, t) in terms.into_iter().flatten().enumerate() {
        let path = format!("{field}[{i}].podAffinityTerm");
        let term = &t.pod_affinity_term;
        let Some(sel) = &term.label_selector else { continue };
        if term.topology_key.is_empty() {
            return Err(FieldError::new(format!("{path}.topologyKey"), Cause::Missing));
        }
        out.push(WeightedPodAffinityTerm {
            weight: t.weight,
            term: PodAffinityTerm {
                selector: label_selector(sel, &format!("{path}.labelSelector"))?,
                namespaces: term.namespaces.clone().unwrap_or_default(),
                all_namespaces: term.namespace_selector.is_some(),
                topology_key: term.topology_key.clone(),
            },
        });
    }
    Ok(out)
}

/// `topologySpreadConstraints`, with Kubernetes' defaults (`nodeAffinityPolicy: Honor`,
/// `nodeTaintsPolicy: Ignore`) and `matchLabelKeys` merged into the selector from the pod's own
/// labels. A constraint without `labelSelector` counts no pod, so it can never be violated: it is
/// dropped.
fn spread_constraints(
    list: Option<&[ApiSpread]>,
    labels: Option<&Labels>,
) -> Result<Vec<TopologySpreadConstraint>, FieldError> {
    let mut out = Vec::new();
    for (i, c) in list.into_iter().flatten().enumerate() {
        let path = format!("spec.topologySpreadConstraints[{i}]");
        if c.max_skew <= 0 {
            return Err(FieldError::new(
                format!("{path}.maxSkew"),
                Cause::invalid(c.max_skew, "a positive integer"),
            ));
        }
        if c.topology_key.is_empty() {
            return Err(FieldError::new(format!("{path}.topologyKey"), Cause::Missing));
        }
        let mode = match c.when_unsatisfiable.as_str() {
            "DoNotSchedule" => SpreadMode::DoNotSchedule,
            "ScheduleAnyway" => SpreadMode::ScheduleAnyway,
            other => {
                return Err(FieldError::new(
                    format!("{path}.whenUnsatisfiable"),
                    Cause::invalid(other, "DoNotSchedule or ScheduleAnyway"),
                ));
            }
        };
        let policy = |v: Option<&String>, default: InclusionPolicy, name: &str| match v.map(String::as_str) {
            None => Ok(default),
            Some("Honor") => Ok(InclusionPolicy::Honor),
            Some("Ignore") => Ok(InclusionPolicy::Ignore),
            Some(other) => Err(FieldError::new(
                format!("{path}.{name}"),
                Cause::invalid(other, "Honor or Ignore"),
            )),
        };
        let Some(sel) = &c.label_selector else { continue };
        let mut selector = label_selector(sel, &format!("{path}.labelSelector"))?;
        for key in c.match_label_keys.iter().flatten() {
            if let Some(v) = labels.and_then(|l| l.get(key)) {
                selector.match_expressions.push(Requirement {
                    key: key.clone(),
                    op: SelectorOp::In,
                    values: vec![v.clone()],
                });
            }
        }
        out.push(TopologySpreadConstraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            mode,
            selector,
            min_domains: c.min_domains,
            node_affinity_policy: policy(
                c.node_affinity_policy.as_ref(),
                InclusionPolicy::Honor,
                "nodeAffinityPolicy",
            )?,
            node_taints_policy: policy(
                c.node_taints_policy.as_ref(),
                InclusionPolicy::Ignore,
                "nodeTaintsPolicy",
            )?,
        });
    }
    Ok(out)
}

/// Host ports of the app containers and of sidecars (which run as long as the pod does, so they
/// hold their ports just the same; kube-scheduler's NodePorts looks only at app containers, so
/// this is stricter only for the rare sidecar that binds a host port, where kubelet would
/// otherwise fail the pod).
fn host_ports(spec: &PodSpec) -> Vec<HostPort> {
    let sidecars = spec.init_containers.iter().flatten().filter(|c| is_sidecar(c));
    let mut ports: Vec<HostPort> = spec
        .containers
        .iter()
        .chain(sidecars)
        .flat_map(|c: &Container| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|hp| *hp > 0)?;
            Some(HostPort {
                protocol: p
                    .protocol
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "TCP".to_string()),
                ip: p.host_ip.clone().unwrap_or_default(),
                port,
            })
        })
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

fn node_selector_term(t: &ApiNodeSelectorTerm, field: &str) -> Result<NodeSelectorTerm, FieldError> {
    let match_expressions = t
        .match_expressions
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| node_requirement(r, &format!("{field}.matchExpressions[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let match_fields = t
        .match_fields
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let path = format!("{field}.matchFields[{i}]");
            // `metadata.name` is the only node field Kubernetes selects on; anything else would
            // be evaluated against nothing.
            if r.key != "metadata.name" {
                return Err(FieldError::new(
                    format!("{path}.key"),
                    Cause::invalid(&r.key, "\"metadata.name\""),
                ));
            }
            let req = node_requirement(r, &path)?;
            if !matches!(req.op, SelectorOp::In | SelectorOp::NotIn) {
                return Err(FieldError::new(
                    format!("{path}.operator"),
                    Cause::invalid(&r.operator, "In or NotIn (the only operators for metadata.name)"),
                ));
            }
            Ok(req)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NodeSelectorTerm {
        match_expressions,
        match_fields,
    })
}

fn node_requirement(r: &NodeSelectorRequirement, field: &str) -> Result<Requirement, FieldError> {
    let op = match r.operator.as_str() {
        "In" => SelectorOp::In,
        "NotIn" => SelectorOp::NotIn,
        "Exists" => SelectorOp::Exists,
        "DoesNotExist" => SelectorOp::DoesNotExist,
        "Gt" => SelectorOp::Gt,
        "Lt" => SelectorOp::Lt,
        other => {
            return Err(FieldError::new(
                format!("{field}.operator"),
                Cause::invalid(other, "one of In, NotIn, Exists, DoesNotExist, Gt, Lt"),
            ));
        }
    };
    Ok(Requirement {
        key: r.key.clone(),
        op,
        values: r.values.clone().unwrap_or_default(),
    })
}

fn label_selector(s: &ApiLabelSelector, field: &str) -> Result<LabelSelector, FieldError> {
    let match_expressions = s
        .match_expressions
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let op = match r.operator.as_str() {
                "In" => SelectorOp::In,
                "NotIn" => SelectorOp::NotIn,
                "Exists" => SelectorOp::Exists,
                "DoesNotExist" => SelectorOp::DoesNotExist,
                other => {
                    return Err(FieldError::new(
                        format!("{field}.matchExpressions[{i}].operator"),
                        Cause::invalid(other, "one of In, NotIn, Exists, DoesNotExist"),
                    ));
                }
            };
            Ok(Requirement {
                key: r.key.clone(),
                op,
                values: r.values.clone().unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LabelSelector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions,
    })
}

/// A selector no pod matches: a requirement on the empty key, which no label can have.
fn match_nothing() -> LabelSelector {
    LabelSelector {
        match_labels: Default::default(),
        match_expressions: vec![Requirement {
            key: String::new(),
            op: SelectorOp::In,
            values: Vec::new(),
        }],
    }
}

/// Required pod (anti-)affinity terms.
///
/// Namespaces: `namespaces` lists them; `namespaceSelector: {}` selects every namespace. A
/// `namespaceSelector` with content is treated as every namespace, because Caldera does not
/// watch Namespace objects and so cannot evaluate it: for anti-affinity that is stricter than
/// Kubernetes (more pods can conflict), for affinity more lenient (more pods can satisfy it).
///
/// A term without `labelSelector` matches no pod, as in Kubernetes: an anti-affinity term of
/// that kind constrains nothing and is dropped; an affinity term of that kind can never be met,
/// and is kept with a selector that matches nothing so the pod stays unschedulable, as it would
/// be under kube-scheduler.
fn affinity_terms(
    terms: Option<&[ApiAffinityTerm]>,
    field: &str,
    is_affinity: bool,
) -> Result<Vec<PodAffinityTerm>, FieldError> {
    let mut out = Vec::new();
    for (i, t) in terms.into_iter().flatten().enumerate() {
        let path = format!("{field}[{i}]");
        let selector = match &t.label_selector {
            Some(s) => label_selector(s, &format!("{path}.labelSelector"))?,
            None if is_affinity => match_nothing(),
            None => continue,
        };
        if t.topology_key.is_empty() {
            return Err(FieldError::new(format!("{path}.topologyKey"), Cause::Missing));
        }
        out.push(PodAffinityTerm {
            selector,
            namespaces: t.namespaces.clone().unwrap_or_default(),
            all_namespaces: t.namespace_selector.is_some(),
            topology_key: t.topology_key.clone(),
        });
    }
    Ok(out)
}

fn toleration(t: &ApiToleration, field: &str) -> Result<Toleration, FieldError> {
    let op = match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => TolerationOp::Equal,
        "Exists" => TolerationOp::Exists,
        other => {
            return Err(FieldError::new(
                format!("{field}.operator"),
                Cause::invalid(other, "Equal or Exists"),
            ));
        }
    };
    let effect = match t.effect.as_deref().unwrap_or("") {
        "" => None,
        e => Some(
            super::node::taint_effect(e)
                .ok_or_else(|| FieldError::new(format!("{field}.effect"), Cause::invalid(e, super::node::EFFECTS)))?,
        ),
    };
    Ok(Toleration {
        key: t.key.clone().unwrap_or_default(),
        op,
        value: t.value.clone().unwrap_or_default(),
        effect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::yaml;
    use crate::model::TaintEffect;
    use crate::resource::{CPU, PODS};

    fn ours() -> Vec<String> {
        vec!["caldera".to_string(), "volcano".to_string()]
    }

    fn convert(y: &str) -> Result<PodRecord, ConvertError> {
        let pod: Pod = yaml(y);
        pod_record(&pod, &ours(), &mut ResourceNames::default(), 42)
    }

    fn ok(y: &str) -> PodRecord {
        match convert(y) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn err(y: &str) -> String {
        match convert(y) {
            Ok(p) => panic!("expected an error, got {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    const FULL: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: trainer-0
  namespace: ml
  uid: 1b2c-uid
  creationTimestamp: "2026-01-02T03:04:05Z"
  labels: {app: trainer, volcano.sh/task-spec: label-role}
  annotations:
    scheduling.k8s.io/group-name: job-a
    volcano.sh/task-spec: worker
    volcano.sh/task-priority: "7"
    volcano.sh/preemptable: "false"
spec:
  schedulerName: volcano
  priority: 1000
  priorityClassName: high
  preemptionPolicy: Never
  nodeName: node-3
  nodeSelector: {pool: gpu}
  tolerations:
  - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
  - {key: team, value: ml}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: zone, operator: In, values: [a, b]}
          - {key: gpus, operator: Gt, values: ["4"]}
          matchFields:
          - {key: metadata.name, operator: NotIn, values: [bad-node]}
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 30
        preference:
          matchExpressions: [{key: rack, operator: Exists}]
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: trainer}}
        topologyKey: topology.kubernetes.io/zone
        namespaces: [ml, shared]
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchExpressions: [{key: app, operator: NotIn, values: [db]}]
        topologyKey: kubernetes.io/hostname
        namespaceSelector: {}
      - labelSelector: {matchLabels: {app: x}}
        topologyKey: kubernetes.io/hostname
        namespaceSelector: {matchLabels: {team: a}}
  containers:
  - name: main
    image: trainer
    ports:
    - {containerPort: 8080, hostPort: 8080}
    - {containerPort: 9090}
    - {containerPort: 53, hostPort: 53, protocol: UDP, hostIP: 10.0.0.1}
    resources:
      requests: {cpu: "2", nvidia.com/gpu: "1"}
      limits: {nvidia.com/gpu: "1"}
status:
  phase: Running
  startTime: "2026-01-02T03:05:05Z"
"#;

    #[test]
    fn every_field_of_a_full_pod() {
        let mut names = ResourceNames::default();
        let pod: Pod = yaml(FULL);
        let p = match pod_record(&pod, &ours(), &mut names, 42) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(p.uid, "1b2c-uid");
        assert_eq!((p.namespace.as_str(), p.name.as_str()), ("ml", "trainer-0"));
        assert_eq!(p.labels.get("app").map(String::as_str), Some("trainer"));
        assert_eq!(p.group, Some(GroupRef::Volcano("job-a".into())));
        assert_eq!(p.role.as_deref(), Some("worker"), "annotation wins over label");
        assert_eq!(p.priority, Some(1000));
        assert_eq!(p.priority_class.as_deref(), Some("high"));
        assert_eq!(p.task_priority, Some(7));
        assert_eq!(p.created, 1_767_323_045_000);
        assert_eq!(p.started, Some(1_767_323_105_000));
        assert_eq!(p.phase, PodPhase::Running);
        assert_eq!(p.node_name.as_deref(), Some("node-3"));
        assert!(!p.deleting);
        assert_eq!(p.preemptable, Some(false));
        assert!(p.never_preempts);
        assert!(p.ours);

        let s = &p.spec;
        assert_eq!(s.request.get(CPU), 2000);
        assert_eq!(s.request.get(names.intern("nvidia.com/gpu")), 1);
        assert_eq!(s.request.get(PODS), 1);
        assert_eq!(s.node_name, None);
        assert_eq!(s.node_selector.get("pool").map(String::as_str), Some("gpu"));
        assert_eq!(
            s.tolerations,
            vec![
                Toleration {
                    key: "nvidia.com/gpu".into(),
                    op: TolerationOp::Exists,
                    value: String::new(),
                    effect: Some(TaintEffect::NoSchedule)
                },
                Toleration {
                    key: "team".into(),
                    op: TolerationOp::Equal,
                    value: "ml".into(),
                    effect: None
                },
            ]
        );
        let req = |key: &str, op, values: &[&str]| Requirement {
            key: key.into(),
            op,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert_eq!(
            s.node_affinity.required,
            Some(vec![NodeSelectorTerm {
                match_expressions: vec![
                    req("zone", SelectorOp::In, &["a", "b"]),
                    req("gpus", SelectorOp::Gt, &["4"])
                ],
                match_fields: vec![req("metadata.name", SelectorOp::NotIn, &["bad-node"])],
            }])
        );
        assert_eq!(
            s.node_affinity.preferred,
            vec![PreferredTerm {
                weight: 30,
                term: NodeSelectorTerm {
                    match_expressions: vec![req("rack", SelectorOp::Exists, &[])],
                    match_fields: vec![]
                },
            }]
        );
        assert_eq!(
            s.host_ports,
            vec![
                HostPort {
                    protocol: "TCP".into(),
                    ip: String::new(),
                    port: 8080
                },
                HostPort {
                    protocol: "UDP".into(),
                    ip: "10.0.0.1".into(),
                    port: 53
                },
            ]
        );
        assert_eq!(s.pod_affinity.len(), 1);
        let a = &s.pod_affinity[0];
        assert_eq!(a.selector.match_labels.get("app").map(String::as_str), Some("trainer"));
        assert_eq!(a.namespaces, vec!["ml".to_string(), "shared".to_string()]);
        assert!(!a.all_namespaces);
        assert_eq!(a.topology_key, "topology.kubernetes.io/zone");
        assert_eq!(s.pod_anti_affinity.len(), 2);
        assert_eq!(
            s.pod_anti_affinity[0].selector.match_expressions,
            vec![req("app", SelectorOp::NotIn, &["db"])]
        );
        assert!(
            s.pod_anti_affinity[0].all_namespaces,
            "empty namespaceSelector selects all namespaces"
        );
        assert!(
            s.pod_anti_affinity[1].all_namespaces,
            "a namespaceSelector with content is treated as all"
        );
    }

    #[test]
    fn minimal_pod_gets_kubernetes_defaults() {
        let p = ok("metadata: {name: p}\nspec: {containers: [{name: c}]}");
        assert_eq!(p.namespace, "default");
        assert_eq!(p.uid, "");
        assert_eq!(p.created, 42, "no creationTimestamp: now");
        assert_eq!(p.group, None);
        assert_eq!(p.role, None);
        assert_eq!(p.priority, None);
        assert_eq!(p.phase, PodPhase::Pending);
        assert_eq!(p.node_name, None);
        assert_eq!(p.preemptable, None);
        assert!(!p.never_preempts);
        assert!(!p.ours, "no schedulerName means default-scheduler");
        assert_eq!(p.spec.node_affinity, NodeAffinity::default());
        assert!(p.spec.host_ports.is_empty());

        let ours_default = pod_record(
            &yaml("metadata: {name: p}\nspec: {containers: [{name: c}]}"),
            &[DEFAULT_SCHEDULER.to_string()],
            &mut ResourceNames::default(),
            0,
        );
        assert!(ours_default.is_ok_and(|p| p.ours));
    }

    #[test]
    fn group_links_in_priority_order() {
        let p = ok(r#"
metadata:
  name: p
  labels: {scheduling.x-k8s.io/pod-group: cosched}
  annotations: {scheduling.k8s.io/group-name: vc}
spec: {schedulingGroup: {podGroupName: native}, containers: [{name: c}]}
"#);
        assert_eq!(p.group, Some(GroupRef::Volcano("vc".into())));
        let p = ok(r#"
metadata: {name: p, labels: {scheduling.x-k8s.io/pod-group: cosched}, annotations: {scheduling.k8s.io/group-name: ""}}
spec: {schedulingGroup: {podGroupName: native}, containers: [{name: c}]}
"#);
        assert_eq!(
            p.group,
            Some(GroupRef::Coscheduling("cosched".into())),
            "empty annotation is no link"
        );
        let p = ok("metadata: {name: p}\nspec: {schedulingGroup: {podGroupName: native}, containers: [{name: c}]}");
        assert_eq!(p.group, Some(GroupRef::Native("native".into())));
    }

    #[test]
    fn role_falls_back_to_label_and_flags_parse_like_go() {
        let p = ok(r#"
metadata: {name: p, labels: {volcano.sh/task-spec: ps, volcano.sh/preemptable: "True"}}
spec: {schedulerName: caldera, containers: [{name: c}]}
"#);
        assert_eq!(p.role.as_deref(), Some("ps"));
        assert_eq!(p.preemptable, Some(true));
        assert!(p.ours);
    }

    #[test]
    fn phases_and_deletion() {
        let with_phase = |ph: &str| {
            ok(&format!(
                "metadata: {{name: p}}\nspec: {{containers: [{{name: c}}]}}\nstatus: {{phase: {ph}}}"
            ))
            .phase
        };
        assert_eq!(with_phase("Pending"), PodPhase::Pending);
        assert_eq!(with_phase("Running"), PodPhase::Running);
        assert_eq!(with_phase("Succeeded"), PodPhase::Succeeded);
        assert_eq!(with_phase("Failed"), PodPhase::Failed);
        assert_eq!(with_phase("Unknown"), PodPhase::Running);
        let p = ok(r#"
metadata: {name: p, deletionTimestamp: "2026-01-01T00:00:00Z"}
spec: {containers: [{name: c}]}
"#);
        assert!(p.deleting);
    }

    #[test]
    fn sidecar_host_ports_count_and_duplicates_collapse() {
        let p = ok(r#"
metadata: {name: p}
spec:
  initContainers:
  - {name: proxy, restartPolicy: Always, ports: [{containerPort: 15001, hostPort: 15001}]}
  - {name: setup, ports: [{containerPort: 1, hostPort: 1}]}
  containers:
  - {name: a, ports: [{containerPort: 80, hostPort: 80}]}
  - {name: b, ports: [{containerPort: 80, hostPort: 80}, {containerPort: 81, hostPort: 0}]}
"#);
        let ports: Vec<i32> = p.spec.host_ports.iter().map(|h| h.port).collect();
        assert_eq!(ports, vec![80, 15001]);
    }

    #[test]
    fn affinity_without_selector_matches_nothing() {
        let p = ok(r#"
metadata: {name: p}
spec:
  containers: [{name: c}]
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: kubernetes.io/hostname}]
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: kubernetes.io/hostname}]
"#);
        assert_eq!(p.spec.pod_affinity.len(), 1);
        let everyone = crate::model::Labels::new();
        assert!(!p.spec.pod_affinity[0].selector.matches(&everyone));
        let mut some = crate::model::Labels::new();
        some.insert("app".into(), "x".into());
        assert!(!p.spec.pod_affinity[0].selector.matches(&some));
        assert!(p.spec.pod_anti_affinity.is_empty());
    }

    #[test]
    fn errors_name_object_and_field() {
        let e = err(r#"
metadata: {name: p, namespace: ml}
spec:
  containers:
  - {name: a}
  - {name: b, resources: {requests: {memory: 12XB}}}
"#);
        assert!(
            e.starts_with("Pod ml/p: spec.containers[1].resources.requests.memory: invalid quantity \"12XB\""),
            "{e}"
        );

        let e = err(r#"
metadata: {name: p}
spec:
  containers: [{name: a}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{matchExpressions: [{key: k, operator: Like, values: [x]}]}]
"#);
        assert_eq!(
            e,
            "Pod default/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.\
             nodeSelectorTerms[0].matchExpressions[0].operator: \"Like\" is not one of In, NotIn, Exists, \
             DoesNotExist, Gt, Lt"
        );

        let e = err(r#"
metadata: {name: p}
spec:
  containers: [{name: a}]
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - {labelSelector: {matchExpressions: [{key: k, operator: Gt, values: ["1"]}]}, topologyKey: zone}
"#);
        assert!(
            e.contains("podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator: \"Gt\""),
            "{e}"
        );

        let e = err(r#"
metadata: {name: p}
spec:
  containers: [{name: a}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{matchFields: [{key: metadata.uid, operator: In, values: [x]}]}]
"#);
        assert!(
            e.contains("nodeSelectorTerms[0].matchFields[0].key: \"metadata.uid\""),
            "{e}"
        );

        let e = err("metadata: {name: p}\nspec: {containers: [{name: a}], tolerations: [{key: k, operator: Maybe}]}");
        assert_eq!(
            e,
            "Pod default/p: spec.tolerations[0].operator: \"Maybe\" is not Equal or Exists"
        );
        let e = err("metadata: {name: p}\nspec: {containers: [{name: a}], tolerations: [{key: k, effect: NoRun}]}");
        assert!(
            e.starts_with("Pod default/p: spec.tolerations[0].effect: \"NoRun\""),
            "{e}"
        );

        let e = err("metadata: {namespace: ml}\nspec: {containers: [{name: a}]}");
        assert_eq!(e, "Pod ml/(unnamed): metadata.name: is required");
        let e = err("metadata: {name: p}");
        assert_eq!(e, "Pod default/p: spec: is required");
    }

    #[test]
    fn malformed_annotations_fail_only_our_pods() {
        let pod = |sched: &str, key: &str, val: &str| {
            format!(
                "metadata: {{name: p, annotations: {{{key}: \"{val}\"}}}}\nspec: {{schedulerName: {sched}, containers: [{{name: a}}]}}"
            )
        };
        let e = err(&pod("volcano", "volcano.sh/task-priority", "high"));
        assert_eq!(
            e,
            "Pod default/p: metadata.annotations[volcano.sh/task-priority]: \"high\" is not a 32-bit integer"
        );
        let e = err(&pod("volcano", "volcano.sh/preemptable", "maybe"));
        assert!(
            e.starts_with("Pod default/p: metadata.annotations[volcano.sh/preemptable]: \"maybe\""),
            "{e}"
        );

        let p = ok(&pod("other", "volcano.sh/task-priority", "high"));
        assert_eq!((p.ours, p.task_priority), (false, None));
        let p = ok(&pod("other", "volcano.sh/preemptable", "maybe"));
        assert_eq!(p.preemptable, None);
        let p = ok(&pod("volcano", "volcano.sh/task-priority", "-3"));
        assert_eq!(p.task_priority, Some(-3));
    }
}

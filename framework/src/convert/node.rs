//! `core/v1` Node into [`NodeRecord`].

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint as ApiTaint};

use super::{Cause, ConvertError, FieldError, cluster_ref, required_name, resources_from_map};
use crate::model::{Taint, TaintEffect};
use crate::resource::{PODS, ResourceNames};
use crate::snapshot::{HOSTNAME_LABEL, NodeRecord};

/// Pods per node kubelet allows when it does not say (`--max-pods` default).
pub const KUBELET_DEFAULT_MAX_PODS: i64 = 110;

/// The taint effects Kubernetes defines, for error messages.
pub(super) const EFFECTS: &str = "one of NoSchedule, PreferNoSchedule, NoExecute";

/// A taint effect by its Kubernetes name.
pub(super) fn taint_effect(s: &str) -> Option<TaintEffect> {
    match s {
        "NoSchedule" => Some(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
        "NoExecute" => Some(TaintEffect::NoExecute),
        _ => None,
    }
}

/// Converts a node.
///
/// Defaults are chosen so that hand-written nodes (simulator input, which has no kubelet to fill
/// them in) behave like real ones:
/// - `kubernetes.io/hostname` is set to the node name when absent, so hostname topology (pod
///   anti-affinity, per-node spreading) works;
/// - a node with no conditions at all is Ready; a node that reports conditions is Ready only if
///   its `Ready` condition is `True`;
/// - allocatable is `status.allocatable`, else `status.capacity`, and `pods` defaults to 110 as
///   kubelet's `--max-pods` does.
pub fn node_record(node: &Node, names: &mut ResourceNames) -> Result<NodeRecord, ConvertError> {
    let object = cluster_ref("Node", &node.metadata);
    let at = |e: FieldError| e.in_object(&object);
    let name = required_name(&node.metadata).map_err(at)?;

    let mut labels = node.metadata.labels.clone().unwrap_or_default();
    labels.entry(HOSTNAME_LABEL.to_string()).or_insert_with(|| name.clone());

    let spec = node.spec.as_ref();
    let taints = spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| taint(t, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(at)?;

    let status = node.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    let ready = conditions.is_empty() || conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");

    let mut allocatable = match (
        status.and_then(|s| s.allocatable.as_ref()),
        status.and_then(|s| s.capacity.as_ref()),
    ) {
        (Some(a), _) => resources_from_map(a, names, "status.allocatable").map_err(at)?,
        (None, Some(c)) => resources_from_map(c, names, "status.capacity").map_err(at)?,
        (None, None) => Default::default(),
    };
    let lists_pods = status
        .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
        .is_some_and(|m| m.contains_key("pods"));
    if !lists_pods {
        allocatable.set(PODS, KUBELET_DEFAULT_MAX_PODS);
    }

    Ok(NodeRecord {
        name,
        labels: Arc::new(labels),
        taints,
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        ready,
        allocatable,
        images: images(status.and_then(|s| s.images.as_deref()).unwrap_or_default()).into(),
    })
}

/// Every name of every image on the node with the image's size; a negative or missing size counts
/// as 0 (the image is there, but adds nothing to the image-locality score).
fn images(list: &[k8s_openapi::api::core::v1::ContainerImage]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = list
        .iter()
        .flat_map(|i| {
            let size = i.size_bytes.unwrap_or(0).max(0);
            i.names.iter().flatten().map(move |n| (n.clone(), size))
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn taint(t: &ApiTaint, i: usize) -> Result<Taint, FieldError> {
    let effect = taint_effect(&t.effect)
        .ok_or_else(|| FieldError::new(format!("spec.taints[{i}].effect"), Cause::invalid(&t.effect, EFFECTS)))?;
    Ok(Taint {
        key: t.key.clone(),
        value: t.value.clone().unwrap_or_default(),
        effect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::yaml;
    use crate::resource::{CPU, MEMORY};

    fn convert(y: &str) -> Result<NodeRecord, ConvertError> {
        let node: Node = yaml(y);
        node_record(&node, &mut ResourceNames::default())
    }

    fn ok(y: &str) -> NodeRecord {
        match convert(y) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn real_node() {
        let mut names = ResourceNames::default();
        let node: Node = yaml(
            r#"
apiVersion: v1
kind: Node
metadata:
  name: gpu-1
  labels: {kubernetes.io/hostname: gpu-1.example, topology.kubernetes.io/zone: a}
spec:
  unschedulable: true
  taints:
  - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
  - {key: spot, effect: PreferNoSchedule}
status:
  capacity: {cpu: "64", memory: 512Gi, pods: "250", nvidia.com/gpu: "8"}
  allocatable: {cpu: 63500m, memory: 500Gi, pods: "250", nvidia.com/gpu: "8"}
  conditions:
  - {type: MemoryPressure, status: "False"}
  - {type: Ready, status: "True"}
"#,
        );
        let n = match node_record(&node, &mut names) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(n.name, "gpu-1");
        assert_eq!(
            n.labels.get(HOSTNAME_LABEL).map(String::as_str),
            Some("gpu-1.example"),
            "kept as the kubelet set it"
        );
        assert_eq!(
            n.labels.get("topology.kubernetes.io/zone").map(String::as_str),
            Some("a")
        );
        assert_eq!(
            n.taints,
            vec![
                Taint {
                    key: "nvidia.com/gpu".into(),
                    value: "present".into(),
                    effect: TaintEffect::NoSchedule
                },
                Taint {
                    key: "spot".into(),
                    value: String::new(),
                    effect: TaintEffect::PreferNoSchedule
                },
            ]
        );
        assert!(n.unschedulable);
        assert!(n.ready);
        assert_eq!(n.allocatable.get(CPU), 63_500, "allocatable, not capacity");
        assert_eq!(n.allocatable.get(MEMORY), 500 << 30);
        assert_eq!(n.allocatable.get(PODS), 250);
        assert_eq!(n.allocatable.get(names.intern("nvidia.com/gpu")), 8);
    }

    #[test]
    fn simulator_node_defaults() {
        let n = ok("metadata: {name: sim-1}\nstatus: {capacity: {cpu: \"8\", memory: 32Gi}}");
        assert_eq!(n.labels.get(HOSTNAME_LABEL).map(String::as_str), Some("sim-1"));
        assert!(n.ready, "no conditions at all counts as ready");
        assert!(!n.unschedulable);
        assert!(n.taints.is_empty());
        assert_eq!(n.allocatable.get(CPU), 8000, "capacity stands in for allocatable");
        assert_eq!(n.allocatable.get(PODS), KUBELET_DEFAULT_MAX_PODS);

        let n = ok("metadata: {name: bare}");
        assert_eq!(n.allocatable.get(PODS), KUBELET_DEFAULT_MAX_PODS);
        assert_eq!(n.allocatable.get(CPU), 0);
    }

    #[test]
    fn readiness() {
        let n = ok("metadata: {name: n}\nstatus: {conditions: [{type: Ready, status: \"False\"}]}");
        assert!(!n.ready);
        let n = ok("metadata: {name: n}\nstatus: {conditions: [{type: Ready, status: Unknown}]}");
        assert!(!n.ready);
        let n = ok("metadata: {name: n}\nstatus: {conditions: [{type: DiskPressure, status: \"False\"}]}");
        assert!(!n.ready, "conditions without Ready: not ready");
    }

    #[test]
    fn errors_name_node_and_field() {
        let e = convert("metadata: {name: n}\nstatus: {allocatable: {cpu: \"-2\"}}")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("Node n: status.allocatable.cpu: quantity \"-2\" is negative")
        );
        let e = convert("metadata: {name: n}\nstatus: {capacity: {memory: 1GB}}")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| { e.starts_with("Node n: status.capacity.memory: invalid quantity \"1GB\"") }));
        let e = convert("metadata: {name: n}\nspec: {taints: [{key: k, effect: Evict}]}")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("Node n: spec.taints[0].effect: \"Evict\" is not one of NoSchedule, PreferNoSchedule, NoExecute")
        );
        let e = convert("metadata: {}").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Node (unnamed): metadata.name: is required"));
    }
}

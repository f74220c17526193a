//! Resource lists into [`Resources`], and a pod's effective request as kube-scheduler computes it.
//!
//! The effective request must match kube-scheduler's (`component-helpers` `resource.PodRequests`)
//! exactly: a smaller value overcommits nodes that kubelet then refuses pods on, a larger one
//! leaves gangs pending on capacity that exists.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use super::{Cause, FieldError};
use crate::quantity::Quantity;
use crate::resource::{PODS, ResourceNames, Resources};

/// Converts a resource list (`requests`, `allocatable`, `minResources`, ...) to integers: `cpu`
/// in millicores, everything else in whole units (bytes for memory and storage), rounded up as
/// Kubernetes rounds.
///
/// `field` is the list's path; errors extend it with the resource name. Negative amounts are
/// errors: no request, capacity or quota is meaningfully below zero, and accepting one would let
/// a pod free capacity it does not own.
pub fn resources_from_map(
    map: &BTreeMap<String, ApiQuantity>,
    names: &mut ResourceNames,
    field: &str,
) -> Result<Resources, FieldError> {
    let mut r = Resources::new();
    for (name, q) in map {
        let v = amount(name, q).map_err(|cause| FieldError::new(entry_path(field, name), cause))?;
        r.set(names.intern(name), v);
    }
    Ok(r)
}

/// `q` for resource `name` in Caldera's integer units.
fn amount(name: &str, q: &ApiQuantity) -> Result<i64, Cause> {
    let parsed = Quantity::parse(&q.0)?;
    if parsed.is_negative() {
        return Err(Cause::Negative { value: q.0.clone() });
    }
    Ok(if name == "cpu" {
        parsed.to_milli()?
    } else {
        parsed.to_units()?
    })
}

/// `field.name`, or `field[name]` when the name has dots or slashes (`nvidia.com/gpu`) that
/// would make a dotted path ambiguous.
fn entry_path(field: &str, name: &str) -> String {
    if name.contains(['.', '/']) {
        format!("{field}[{name}]")
    } else {
        format!("{field}.{name}")
    }
}

/// The effective request of one pod, as kube-scheduler's `NodeResourcesFit` counts it:
///
/// ```text
/// app      = Σ app containers + Σ sidecars (init containers with restartPolicy: Always)
/// init_i   = request of non-sidecar init container i + Σ sidecars declared before it
/// request  = max(app, max_i init_i)      (per resource)
///            with pod-level spec.resources.requests replacing cpu, memory and hugepages-*
///          + spec.overhead + 1 pod
/// ```
///
/// Where a container (or the pod level) has a limit but no request for a resource, the request
/// is the limit, as the apiserver's defaulting sets it; objects read from the apiserver already
/// carry it, but simulator input does not. Resize status (`status.containerStatuses[].resources`)
/// is not consulted: the spec is what the next placement must honour.
///
/// Field paths in errors start at `spec.`.
pub fn pod_request(spec: &PodSpec, names: &mut ResourceNames) -> Result<Resources, FieldError> {
    let mut total = Resources::new();
    for (i, c) in spec.containers.iter().enumerate() {
        total.add(&container_request(c, names, &format!("spec.containers[{i}]"))?);
    }
    let mut sidecars = Resources::new();
    let mut init_max = Resources::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let r = container_request(c, names, &format!("spec.initContainers[{i}]"))?;
        if is_sidecar(c) {
            // Sidecars run for the pod's whole life: they count with the app containers and
            // with every init container that starts after them.
            total.add(&r);
            sidecars.add(&r);
            init_max = init_max.max_with(&sidecars);
        } else {
            init_max = init_max.max_with(&r.plus(&sidecars));
        }
    }
    let mut request = total.max_with(&init_max);

    if let Some(pod_level) = &spec.resources {
        let pod_level = requirements_request(pod_level, names, "spec.resources")?;
        for (id, v) in pod_level.iter() {
            if is_pod_level_resource(names.name(id)) {
                request.set(id, v);
            }
        }
    }
    if let Some(overhead) = &spec.overhead {
        request.add(&resources_from_map(overhead, names, "spec.overhead")?);
    }
    request.add(&Resources::from_pairs([(PODS, 1)]));
    Ok(request)
}

/// Init containers with `restartPolicy: Always` keep running beside the app containers.
pub(super) fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The resources pod-level `spec.resources` may set (`IsSupportedPodLevelResource`).
fn is_pod_level_resource(name: &str) -> bool {
    name == "cpu" || name == "memory" || name.starts_with("hugepages-")
}

fn container_request(c: &Container, names: &mut ResourceNames, field: &str) -> Result<Resources, FieldError> {
    match &c.resources {
        Some(req) => requirements_request(req, names, &format!("{field}.resources")),
        None => Ok(Resources::new()),
    }
}

/// Requests, with limits standing in for missing requests (the apiserver's defaulting).
fn requirements_request(
    req: &ResourceRequirements,
    names: &mut ResourceNames,
    field: &str,
) -> Result<Resources, FieldError> {
    let requests = req.requests.as_ref();
    let mut r = match requests {
        Some(map) => resources_from_map(map, names, &format!("{field}.requests"))?,
        None => Resources::new(),
    };
    for (name, q) in req.limits.iter().flatten() {
        if requests.is_some_and(|m| m.contains_key(name)) {
            continue;
        }
        let v =
            amount(name, q).map_err(|cause| FieldError::new(entry_path(&format!("{field}.limits"), name), cause))?;
        r.set(names.intern(name), v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::yaml;
    use crate::resource::{CPU, MEMORY};

    const GI: i64 = 1 << 30;
    const MI: i64 = 1 << 20;

    fn request_of(spec_yaml: &str) -> (Resources, ResourceNames) {
        let spec: PodSpec = yaml(spec_yaml);
        let mut names = ResourceNames::default();
        let r = match pod_request(&spec, &mut names) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        (r, names)
    }

    #[test]
    fn containers_are_summed_plus_one_pod() {
        let (r, mut names) = request_of(
            r#"
containers:
- name: a
  resources: {requests: {cpu: 500m, memory: 1Gi}}
- name: b
  resources: {requests: {cpu: "1.5", memory: 512Mi, nvidia.com/gpu: "2"}, limits: {nvidia.com/gpu: "2"}}
- name: c
"#,
        );
        assert_eq!(r.get(CPU), 2000);
        assert_eq!(r.get(MEMORY), GI + 512 * MI);
        assert_eq!(r.get(names.intern("nvidia.com/gpu")), 2);
        assert_eq!(r.get(PODS), 1);
    }

    #[test]
    fn limits_stand_in_for_missing_requests() {
        let (r, mut names) = request_of(
            r#"
containers:
- name: a
  resources:
    requests: {cpu: 250m}
    limits: {cpu: "4", memory: 2Gi, nvidia.com/gpu: "1"}
"#,
        );
        assert_eq!(r.get(CPU), 250, "an explicit request wins over the limit");
        assert_eq!(r.get(MEMORY), 2 * GI);
        assert_eq!(r.get(names.intern("nvidia.com/gpu")), 1);
    }

    #[test]
    fn init_containers_are_maxed_not_summed() {
        let (r, _) = request_of(
            r#"
containers:
- {name: app, resources: {requests: {cpu: "1", memory: 1Gi}}}
initContainers:
- {name: big-cpu, resources: {requests: {cpu: "3"}}}
- {name: big-mem, resources: {requests: {memory: 4Gi}}}
"#,
        );
        assert_eq!(r.get(CPU), 3000);
        assert_eq!(r.get(MEMORY), 4 * GI);
    }

    #[test]
    fn sidecars_add_to_app_and_to_later_init_containers() {
        // app = 1 + 1 (sidecar) = 2 cpu; init-before (2) sees no sidecar; init-after sees 1 + 1.5.
        let (r, _) = request_of(
            r#"
containers:
- {name: app, resources: {requests: {cpu: "1", memory: 1Gi}}}
initContainers:
- {name: init-before, resources: {requests: {cpu: "2"}}}
- {name: sidecar, restartPolicy: Always, resources: {requests: {cpu: "1", memory: 256Mi}}}
- {name: init-after, resources: {requests: {cpu: "1500m", memory: 3Gi}}}
"#,
        );
        assert_eq!(r.get(CPU), 2500, "max(2 app+sidecar, 2 init-before, 1.5+1 init-after)");
        assert_eq!(r.get(MEMORY), 3 * GI + 256 * MI);
    }

    #[test]
    fn sidecars_alone_count_with_the_app() {
        let (r, _) = request_of(
            r#"
containers:
- {name: app, resources: {requests: {cpu: "1"}}}
initContainers:
- {name: s1, restartPolicy: Always, resources: {requests: {cpu: "1"}}}
- {name: s2, restartPolicy: Always, resources: {limits: {cpu: "2"}}}
"#,
        );
        assert_eq!(r.get(CPU), 4000);
    }

    #[test]
    fn overhead_and_pod_level_resources() {
        let (r, mut names) = request_of(
            r#"
overhead: {cpu: 250m, memory: 120Mi}
resources:
  requests: {cpu: "4"}
  limits: {memory: 8Gi}
containers:
- {name: a, resources: {requests: {cpu: "1", memory: 1Gi, example.com/dongle: "1"}, limits: {example.com/dongle: "1"}}}
- {name: b, resources: {requests: {cpu: "1", memory: 1Gi}}}
"#,
        );
        assert_eq!(
            r.get(CPU),
            4250,
            "pod-level request replaces the container sum, overhead on top"
        );
        assert_eq!(
            r.get(MEMORY),
            8 * GI + 120 * MI,
            "pod-level limit stands in for its request"
        );
        assert_eq!(
            r.get(names.intern("example.com/dongle")),
            1,
            "only cpu/memory/hugepages are pod-level"
        );
    }

    #[test]
    fn empty_pod_requests_only_its_slot() {
        let (r, _) = request_of("containers: [{name: a}]");
        assert!(r.is_best_effort());
        assert_eq!(r.get(PODS), 1);
        assert_eq!(r.get(CPU), 0);
    }

    #[test]
    fn bad_quantities_name_the_field() {
        let spec: PodSpec = yaml(
            r#"
containers:
- {name: a, resources: {requests: {cpu: "1"}}}
- {name: b, resources: {requests: {memory: 1Qi}}}
"#,
        );
        let e = pod_request(&spec, &mut ResourceNames::default()).err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            e.starts_with("spec.containers[1].resources.requests.memory: invalid quantity \"1Qi\""),
            "{e}"
        );

        let spec: PodSpec = yaml("containers: [{name: a, resources: {limits: {nvidia.com/gpu: \"-1\"}}}]");
        let e = pod_request(&spec, &mut ResourceNames::default()).err();
        assert_eq!(
            e,
            Some(FieldError::new(
                "spec.containers[0].resources.limits[nvidia.com/gpu]",
                Cause::Negative { value: "-1".into() }
            ))
        );

        let spec: PodSpec =
            yaml("containers: [{name: a}]\ninitContainers: [{name: i, resources: {requests: {cpu: x}}}]");
        let e = pod_request(&spec, &mut ResourceNames::default()).err().map(|e| e.field);
        assert_eq!(e.as_deref(), Some("spec.initContainers[0].resources.requests.cpu"));

        let spec: PodSpec = yaml("containers: [{name: a}]\noverhead: {memory: \"1..\"}");
        let e = pod_request(&spec, &mut ResourceNames::default()).err().map(|e| e.field);
        assert_eq!(e.as_deref(), Some("spec.overhead.memory"));
    }

    #[test]
    fn resources_from_map_units_and_interning() {
        let map: BTreeMap<String, ApiQuantity> = yaml("{cpu: 100m, memory: 1.5Gi, pods: \"110\", zero: \"0\"}");
        let mut names = ResourceNames::default();
        let r = resources_from_map(&map, &mut names, "status.allocatable");
        let Ok(r) = r else { panic!("{r:?}") };
        assert_eq!(r.get(CPU), 100);
        assert_eq!(r.get(MEMORY), 3 * GI / 2);
        assert_eq!(r.get(PODS), 110);
        assert_eq!(r.get(names.intern("zero")), 0);

        // A rejected list leaves no new names in the table.
        let bad: BTreeMap<String, ApiQuantity> = yaml("{example.com/new: nope}");
        let before = names.len();
        assert!(resources_from_map(&bad, &mut names, "f").is_err());
        assert_eq!(names.len(), before);
    }
}

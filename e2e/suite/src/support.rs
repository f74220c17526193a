//! Building blocks for placement and fault tests: objects as JSON (Volcano PodGroups, Queues,
//! PriorityClasses, native PodGroups), GPU accounting read back from pods, and waits that report
//! what they last saw.
//!
//! JSON is YAML, so every object here is created with [`crate::apply_yaml`] through
//! [`apply_objects`].

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::DynamicObject;
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::{
    Error, NS, Result, apply_yaml, describe_placements, get_json, get_pod, list_pods, placements, pod_condition,
    wait_for,
};

/// `podgroups.scheduling.k8s.io/v1beta1` (Kubernetes' own, GenericWorkload).
pub fn native_podgroups() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("scheduling.k8s.io", "v1beta1", "PodGroup"),
        "podgroups",
    )
}

/// A native `scheduling.k8s.io/v1beta1` PodGroup in [`NS`] as JSON.
///
/// # Errors
///
/// API errors other than 404.
pub async fn native_podgroup(client: &Client, name: &str) -> Result<Option<Value>> {
    get_json(client, &native_podgroups(), Some(NS), name).await
}

/// Applies objects given as JSON (server-side apply, see [`apply_yaml`]).
///
/// # Errors
///
/// As [`apply_yaml`].
pub async fn apply_objects(client: &Client, objects: &[Value]) -> Result<Vec<DynamicObject>> {
    let text = objects.iter().map(Value::to_string).collect::<Vec<_>>().join("\n---\n");
    apply_yaml(client, &text).await
}

/// A Volcano `scheduling.volcano.sh/v1beta1` PodGroup in [`NS`].
pub fn volcano_podgroup_json(
    name: &str,
    min_member: u32,
    queue: Option<&str>,
    priority_class: Option<&str>,
    annotations: &[(&str, &str)],
) -> Value {
    let mut spec = json!({ "minMember": min_member });
    if let Some(q) = queue {
        spec["queue"] = json!(q);
    }
    if let Some(pc) = priority_class {
        spec["priorityClassName"] = json!(pc);
    }
    let annotations: BTreeMap<&str, &str> = annotations.iter().copied().collect();
    json!({
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": { "name": name, "namespace": NS, "annotations": annotations },
        "spec": spec,
    })
}

/// A Volcano Queue (cluster-scoped) with this weight, state Open.
pub fn volcano_queue_json(name: &str, weight: u32) -> Value {
    json!({
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "Queue",
        "metadata": { "name": name },
        "spec": { "weight": weight, "reclaimable": true },
    })
}

/// A `scheduling.k8s.io/v1` PriorityClass.
pub fn priority_class_json(name: &str, value: i32) -> Value {
    json!({
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": { "name": name },
        "value": value,
        "globalDefault": false,
        "description": "caldera e2e",
    })
}

/// A native `scheduling.k8s.io/v1beta1` PodGroup in [`NS`] with `gang.minCount`.
pub fn native_podgroup_json(name: &str, min_count: u32) -> Value {
    json!({
        "apiVersion": "scheduling.k8s.io/v1beta1",
        "kind": "PodGroup",
        "metadata": { "name": name, "namespace": NS },
        "spec": { "schedulingPolicy": { "gang": { "minCount": min_count } } },
    })
}

/// A scheduler-plugins `scheduling.x-k8s.io/v1alpha1` PodGroup in [`NS`].
pub fn sp_podgroup_json(name: &str, min_member: u32) -> Value {
    json!({
        "apiVersion": "scheduling.x-k8s.io/v1alpha1",
        "kind": "PodGroup",
        "metadata": { "name": name, "namespace": NS },
        "spec": { "minMember": min_member },
    })
}

/// `prefix-0` … `prefix-(n-1)`.
pub fn pod_names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Whole units of a quantity such as `"12"`, `"12.0"`, `"500m"` (rounded) or the number 12
/// (enough for GPU and MIG counts).
pub fn quantity_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64)),
        Value::String(s) => quantity_str_int(s),
        _ => None,
    }
}

fn quantity_str_int(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(milli) = s.strip_suffix('m') {
        return milli.parse::<f64>().ok().map(|f| (f / 1000.0).round() as i64);
    }
    s.parse::<f64>().ok().map(|f| f.round() as i64)
}

/// Sum over the pod's containers of the request for `resource`, in whole units (0 if none).
pub fn pod_request(pod: &Pod, resource: &str) -> i64 {
    pod.spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(resource))
                .filter_map(|q| quantity_str_int(&q.0))
                .sum()
        })
        .unwrap_or(0)
}

/// The pod's `spec.nodeName`.
pub fn node_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref()?.node_name.clone()
}

/// For every node that holds a pod of [`NS`]: the sum of the pods' requests for `resource`.
///
/// # Errors
///
/// API errors.
pub async fn usage_by_node(client: &Client, resource: &str) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for pod in list_pods(client).await?.values() {
        if let Some(node) = node_of(pod) {
            *out.entry(node).or_insert(0) += pod_request(pod, resource);
        }
    }
    Ok(out)
}

/// `PodScheduled` of a pod as `(status, reason, message)`, empty strings where absent.
pub fn pod_scheduled(pod: &Pod) -> Option<(String, String, String)> {
    pod_condition(pod, "PodScheduled").map(|c| (c.status, c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
}

/// Waits until pod `name` is unbound with `PodScheduled=False`, reason `Unschedulable` and a
/// message containing `text`; returns the message.
///
/// # Errors
///
/// Timeout (with the condition last seen), or the pod got bound meanwhile.
pub async fn wait_unschedulable_with(client: &Client, name: &str, text: &str, timeout: Duration) -> Result<String> {
    wait_unschedulable_with_any(client, name, &[text], timeout).await
}

/// Like [`wait_unschedulable_with`], but the message may contain any one of `texts`.
///
/// # Errors
///
/// Timeout (with the condition last seen), or the pod got bound meanwhile.
pub async fn wait_unschedulable_with_any(
    client: &Client,
    name: &str,
    texts: &[&str],
    timeout: Duration,
) -> Result<String> {
    wait_for(
        &format!("pod {name}: PodScheduled=False, reason Unschedulable, message containing one of {texts:?}"),
        timeout,
        || async {
            let pod = get_pod(client, name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the pod does not exist")?;
            if let Some(node) = node_of(&pod) {
                return Err(format!("the pod is bound to {node}"));
            }
            match pod_scheduled(&pod) {
                Some((status, reason, message))
                    if status == "False"
                        && reason == "Unschedulable"
                        && !message.is_empty()
                        && texts.iter().any(|t| message.contains(t)) =>
                {
                    Ok(message)
                }
                Some((status, reason, message)) => Err(format!(
                    "PodScheduled status={status} reason={reason} message={message:?}"
                )),
                None => Err("no PodScheduled condition yet".to_owned()),
            }
        },
    )
    .await
}

/// Checks for `duration` (every 200 ms) that none of `names` is bound.
///
/// # Errors
///
/// As soon as one is bound (the placements are in the message), or on API errors.
pub async fn ensure_unbound_for(client: &Client, names: &[String], duration: Duration, why: &str) -> Result<()> {
    let end = tokio::time::Instant::now() + duration;
    loop {
        let p = placements(client, names).await?;
        if p.values().any(Option::is_some) {
            return Err(Error::msg(format!(
                "{why}: expected no pod bound, but {}",
                describe_placements(&p)
            )));
        }
        if tokio::time::Instant::now() >= end {
            return Ok(());
        }
        tokio::time::sleep(crate::POLL_INTERVAL).await;
    }
}

/// Waits until at least `min_bound` of `names` are bound and the placements of all of them then
/// stay the same for `quiet`; returns those placements.
///
/// # Errors
///
/// Timeout (with the placements last seen) or API errors.
pub async fn wait_settled(
    client: &Client,
    names: &[String],
    min_bound: usize,
    quiet: Duration,
    timeout: Duration,
) -> Result<BTreeMap<String, Option<String>>> {
    let start = tokio::time::Instant::now();
    let deadline = start + timeout;
    let mut last: Option<BTreeMap<String, Option<String>>> = None;
    let mut since = start;
    loop {
        let now_p = placements(client, names).await?;
        let now = tokio::time::Instant::now();
        if last.as_ref() != Some(&now_p) {
            last = Some(now_p.clone());
            since = now;
        }
        let bound = now_p.values().filter(|n| n.is_some()).count();
        if bound >= min_bound && now.duration_since(since) >= quiet {
            return Ok(now_p);
        }
        if now >= deadline {
            return Err(Error::msg(format!(
                "timed out after {:.1}s waiting for at least {min_bound} of {} pods bound and unchanged for \
                 {quiet:?}; last observed: {}",
                start.elapsed().as_secs_f64(),
                names.len(),
                describe_placements(&now_p)
            )));
        }
        tokio::time::sleep(crate::POLL_INTERVAL).await;
    }
}

/// A pod's toleration for `key=value:effect` (operator `Equal`).
pub fn toleration_equal(key: &str, value: &str, effect: &str) -> Value {
    json!({ "key": key, "operator": "Equal", "value": value, "effect": effect })
}

/// `spec.affinity` with one required node selector term: `key <operator> values`.
pub fn required_node_affinity(key: &str, operator: &str, values: &[&str]) -> Value {
    json!({
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{
                    "matchExpressions": [{ "key": key, "operator": operator, "values": values }]
                }]
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quantities_as_whole_units() {
        assert_eq!(quantity_int(Some(&json!("12"))), Some(12));
        assert_eq!(quantity_int(Some(&json!("12.0"))), Some(12));
        assert_eq!(quantity_int(Some(&json!("4000m"))), Some(4));
        assert_eq!(quantity_int(Some(&json!(3))), Some(3));
        assert_eq!(quantity_int(Some(&json!("x"))), None);
        assert_eq!(quantity_int(None), None);
    }

    #[test]
    fn sums_pod_requests() {
        let p: Pod = serde_json::from_value(crate::pod("p", None, 2).json()).expect("pod");
        assert_eq!(pod_request(&p, crate::GPU), 2);
        assert_eq!(pod_request(&p, "nvidia.com/mig-1g.10gb"), 0);
    }

    #[test]
    fn objects_are_valid_yaml_documents() {
        let pg = volcano_podgroup_json("g", 3, Some("q"), Some("high"), &[("a", "b")]);
        let back: Value = serde_yaml_ng::from_str(&pg.to_string()).expect("JSON is YAML");
        assert_eq!(back.pointer("/spec/priorityClassName"), Some(&json!("high")));
        assert_eq!(back.pointer("/metadata/annotations/a"), Some(&json!("b")));
    }
}

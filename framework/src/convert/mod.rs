//! Conversion of Kubernetes API objects into the records a [`crate::SnapshotBuilder`] takes.
//!
//! ```text
//!  core/v1 Pod ─────────────────── pod_record ───────────▶ PodRecord   (pod_request: effective request)
//!  core/v1 Node ────────────────── node_record ──────────▶ NodeRecord
//!  scheduling.volcano.sh PodGroup ─ volcano_group ───────┐
//!  scheduling.x-k8s.io PodGroup ─── coscheduling_group ──┼▶ GroupRecord (Err ─group_or_problem─▶ GroupRecord with problem)
//!  scheduling.k8s.io PodGroup ───── native_group ────────┘
//!  scheduling.volcano.sh Queue ──── queue_info ──────────▶ QueueInfo
//!  scheduling.k8s.io PriorityClass  priority_class_record ▶ PriorityClassRecord
//! ```
//!
//! Everything here is pure: no I/O and no clock (callers pass `now`, used only where an object
//! lacks a creation time, as simulator input does), so the runtime and the simulator convert the
//! same objects to the same records.
//!
//! Strictness: input the scheduler would otherwise have to guess about (an unparsable quantity,
//! an unknown operator, a malformed annotation) is an error naming the object and field, never a
//! silent zero or default. Where a field is optional, Kubernetes' own defaults apply.
//! Resource names are interned into the caller's [`ResourceNames`] table (usually
//! [`crate::SnapshotBuilder::resources`]), each only once its value has parsed.

mod error;
mod node;
mod pod;
mod podgroup;
mod priority_class;
mod queue;
mod request;

pub use error::{Cause, ConvertError, FieldError, ObjectRef};
pub use node::{KUBELET_DEFAULT_MAX_PODS, node_record};
pub use pod::{DEFAULT_SCHEDULER, pod_record};
pub use podgroup::{INVALID_POD_GROUP, coscheduling_group, group_or_problem, native_group, volcano_group};
pub use priority_class::priority_class_record;
pub use queue::queue_info;
pub use request::{pod_request, resources_from_map};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::model::Millis;
#[cfg(doc)]
use crate::resource::ResourceNames;

/// Namespace of objects that name none, as the apiserver defaults it.
const DEFAULT_NAMESPACE: &str = "default";

/// The object's namespace, defaulted as the apiserver does.
fn namespace_of(meta: &ObjectMeta) -> String {
    meta.namespace
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_string()
}

/// Identity of a namespaced object for messages.
fn namespaced_ref(kind: &'static str, meta: &ObjectMeta) -> ObjectRef {
    ObjectRef {
        kind,
        namespace: Some(namespace_of(meta)),
        name: display_name(meta),
    }
}

/// Identity of a cluster-scoped object for messages.
fn cluster_ref(kind: &'static str, meta: &ObjectMeta) -> ObjectRef {
    ObjectRef {
        kind,
        namespace: None,
        name: display_name(meta),
    }
}

fn display_name(meta: &ObjectMeta) -> String {
    meta.name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(unnamed)".to_string())
}

/// The object's name; every object the apiserver returns has one, so a missing name can only be
/// hand-written input and is an error rather than a record nobody can refer to.
fn required_name(meta: &ObjectMeta) -> Result<String, FieldError> {
    meta.name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FieldError::new("metadata.name", Cause::Missing))
}

/// `t` as Unix milliseconds.
fn time_millis(t: &Time) -> Millis {
    t.0.as_millisecond()
}

/// Creation time, or `now` for objects that have none yet (simulator input).
fn created_at(meta: &ObjectMeta, now: Millis) -> Millis {
    meta.creation_timestamp.as_ref().map_or(now, time_millis)
}

/// `s` unless it is absent or empty: Kubernetes treats an empty optional string as unset.
fn non_empty(s: Option<&String>) -> Option<String> {
    s.filter(|s| !s.is_empty()).cloned()
}

/// The value of `key` from the annotations, else from the labels (Volcano's lookup order for
/// `volcano.sh/task-spec` and `volcano.sh/preemptable`), with the path it was read from.
fn annotation_or_label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<(String, &'a str)> {
    if let Some(v) = meta.annotations.as_ref().and_then(|a| a.get(key)) {
        return Some((format!("metadata.annotations[{key}]"), v.as_str()));
    }
    meta.labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(|v| (format!("metadata.labels[{key}]"), v.as_str()))
}

/// A boolean annotation or label, spelled as Go's `strconv.ParseBool` accepts (Volcano parses
/// `volcano.sh/preemptable` with it, so manifests written for Volcano keep their meaning).
fn bool_flag(meta: &ObjectMeta, key: &str) -> Result<Option<bool>, FieldError> {
    let Some((field, value)) = annotation_or_label(meta, key) else {
        return Ok(None);
    };
    match value {
        "true" | "True" | "TRUE" | "t" | "T" | "1" => Ok(Some(true)),
        "false" | "False" | "FALSE" | "f" | "F" | "0" => Ok(Some(false)),
        _ => Err(FieldError::new(
            field,
            Cause::invalid(value, "a boolean (\"true\" or \"false\")"),
        )),
    }
}

/// A duration annotation (`caldera.dev/expected-runtime` and the like), in Go's syntax; a
/// negative or unreadable value is an error naming the annotation.
fn duration_annotation(meta: &ObjectMeta, key: &str) -> Result<Option<Millis>, FieldError> {
    let Some(v) = meta.annotations.as_ref().and_then(|a| a.get(key)) else {
        return Ok(None);
    };
    let field = || format!("metadata.annotations[{key}]");
    match crate::duration::parse_duration(v) {
        Ok(ms) if ms >= 0 => Ok(Some(ms)),
        Ok(_) => Err(FieldError::new(
            field(),
            Cause::invalid(v, "a duration that is not negative"),
        )),
        Err(_) => Err(FieldError::new(
            field(),
            Cause::invalid(v, "a duration such as \"90s\", \"2h\" or \"1h30m\""),
        )),
    }
}

/// An RFC 3339 time annotation as Unix milliseconds; unreadable is an error naming it.
fn time_annotation(meta: &ObjectMeta, key: &str) -> Result<Option<Millis>, FieldError> {
    let Some(v) = meta.annotations.as_ref().and_then(|a| a.get(key)) else {
        return Ok(None);
    };
    v.trim()
        .parse::<k8s_openapi::jiff::Timestamp>()
        .map(|t| Some(t.as_millisecond()))
        .map_err(|_| {
            FieldError::new(
                format!("metadata.annotations[{key}]"),
                Cause::invalid(v, "an RFC 3339 time such as \"2026-01-02T03:04:05Z\""),
            )
        })
}

/// The queue a PodGroup without a queue field names through `scheduling.volcano.sh/queue-name`.
fn queue_annotation(meta: &ObjectMeta) -> String {
    non_empty(
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(caldera_crds::labels::QUEUE_NAME)),
    )
    .unwrap_or_else(|| crate::snapshot::DEFAULT_QUEUE.to_string())
}

/// Test helper: YAML into any API type, so tests double as proof that realistic manifests parse.
#[cfg(test)]
fn yaml<T: serde::de::DeserializeOwned>(s: &str) -> T {
    match serde_yaml_ng::from_str(s) {
        Ok(v) => v,
        Err(e) => panic!("test manifest does not parse: {e}\n{s}"),
    }
}

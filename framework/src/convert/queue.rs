//! Volcano `scheduling.volcano.sh/v1beta1` Queue into [`QueueInfo`].

use super::{
    Cause, ConvertError, FieldError, cluster_ref, created_at, duration_annotation, non_empty, required_name,
    resources_from_map,
};
use crate::model::{Millis, QueueInfo, QueueState};
use crate::resource::{ResourceNames, Resources};
use caldera_crds::volcano;

/// Converts a queue, with Volcano's defaults for what it leaves out:
/// - `weight` 0 or absent is 1 (0 would give the queue no share, and divide by zero in
///   proportion); a negative weight is an error;
/// - `reclaimable` absent is true;
/// - `status.state` absent, empty, `Open` or `Unknown` is Open, so Caldera works without
///   vc-controller-manager (which is what writes the state); `Closed` and `Closing` are kept;
/// - `spec.parent` absent or empty is `None` (the builder's hierarchy reads it as `root`);
/// - `priority` absent is 0;
/// - the annotation `caldera.dev/default-expected-runtime` (a duration) is the expected run time
///   of the queue's pods that give none themselves.
///
/// `status.allocated` is not read: the session recomputes it from the pods every cycle.
pub fn queue_info(q: &volcano::Queue, names: &mut ResourceNames, now: Millis) -> Result<QueueInfo, ConvertError> {
    queue_fields(q, names, now).map_err(|e| e.in_object(&cluster_ref("Queue", &q.metadata)))
}

fn queue_fields(q: &volcano::Queue, names: &mut ResourceNames, now: Millis) -> Result<QueueInfo, FieldError> {
    let name = required_name(&q.metadata)?;
    let spec = &q.spec;
    let weight = match u32::try_from(spec.weight) {
        Ok(0) => 1,
        Ok(w) => w,
        Err(_) => {
            return Err(FieldError::new(
                "spec.weight",
                Cause::invalid(spec.weight, "a positive integer"),
            ));
        }
    };
    let list = |map: Option<&caldera_crds::ResourceList>, field: &str, names: &mut ResourceNames| {
        map.map(|m| resources_from_map(m, names, field)).transpose()
    };
    let capability = list(spec.capability.as_ref(), "spec.capability", names)?;
    let guarantee = list(
        spec.guarantee.as_ref().and_then(|g| g.resource.as_ref()),
        "spec.guarantee.resource",
        names,
    )?;
    let deserved = list(spec.deserved.as_ref(), "spec.deserved", names)?;
    let state = match q.status.as_ref().and_then(|s| s.state.as_ref()) {
        Some(volcano::QueueState::Closed) => QueueState::Closed,
        Some(volcano::QueueState::Closing) => QueueState::Closing,
        Some(volcano::QueueState::Open | volcano::QueueState::Unknown | volcano::QueueState::Other(_)) | None => {
            QueueState::Open
        }
    };
    Ok(QueueInfo {
        name,
        weight,
        capability,
        guarantee: guarantee.unwrap_or_default(),
        deserved,
        reclaimable: spec.reclaimable.unwrap_or(true),
        parent: non_empty(spec.parent.as_ref()),
        state,
        priority: spec.priority.unwrap_or(0),
        created: created_at(&q.metadata, now),
        allocated: Resources::new(),
        default_expected_runtime: duration_annotation(&q.metadata, caldera_crds::labels::DEFAULT_EXPECTED_RUNTIME)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::yaml;
    use crate::resource::{CPU, MEMORY};

    fn convert(y: &str) -> Result<QueueInfo, ConvertError> {
        queue_info(&yaml(y), &mut ResourceNames::default(), 77)
    }

    fn ok(y: &str) -> QueueInfo {
        match convert(y) {
            Ok(q) => q,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn full_queue() {
        let mut names = ResourceNames::default();
        let q: volcano::Queue = yaml(
            r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: Queue
metadata: {name: research, creationTimestamp: "2026-01-02T03:04:05Z"}
spec:
  weight: 4
  capability: {cpu: "100", memory: 1Ti}
  guarantee: {resource: {cpu: "10"}}
  deserved: {cpu: "40", nvidia.com/gpu: "16"}
  reclaimable: false
  parent: eng
  priority: 5
status: {state: Closing, allocated: {cpu: "3"}}
"#,
        );
        let q = match queue_info(&q, &mut names, 0) {
            Ok(q) => q,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(q.name, "research");
        assert_eq!(q.weight, 4);
        let cap = q.capability.unwrap_or_default();
        assert_eq!((cap.get(CPU), cap.get(MEMORY)), (100_000, 1 << 40));
        assert_eq!(q.guarantee.get(CPU), 10_000);
        let d = q.deserved.unwrap_or_default();
        assert_eq!((d.get(CPU), d.get(names.intern("nvidia.com/gpu"))), (40_000, 16));
        assert!(!q.reclaimable);
        assert_eq!(q.parent.as_deref(), Some("eng"));
        assert_eq!(q.state, QueueState::Closing);
        assert_eq!(q.priority, 5);
        assert_eq!(q.created, 1_767_323_045_000);
        assert!(q.allocated.is_zero(), "allocated is recomputed, not read");
    }

    #[test]
    fn defaults() {
        let q = ok("metadata: {name: q}\nspec: {}");
        assert_eq!(q.weight, 1);
        assert_eq!(q.capability, None);
        assert!(q.guarantee.is_zero());
        assert_eq!(q.deserved, None);
        assert!(q.reclaimable);
        assert_eq!(q.parent, None);
        assert_eq!(q.state, QueueState::Open);
        assert_eq!(q.priority, 0);
        assert_eq!(q.created, 77);

        assert_eq!(ok("metadata: {name: q}\nspec: {weight: 0, parent: \"\"}").weight, 1);
        assert_eq!(ok("metadata: {name: q}\nspec: {parent: \"\"}").parent, None);
        for state in ["Open", "Unknown", "\"\"", "Weird"] {
            let q = ok(&format!(
                "metadata: {{name: q}}\nspec: {{}}\nstatus: {{state: {state}}}"
            ));
            assert_eq!(q.state, QueueState::Open, "{state}");
        }
        let q = ok("metadata: {name: q}\nspec: {}\nstatus: {state: Closed}");
        assert_eq!(q.state, QueueState::Closed);
    }

    #[test]
    fn errors_name_queue_and_field() {
        let e = convert("metadata: {name: q}\nspec: {weight: -1}")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("Queue q: spec.weight: \"-1\" is not a positive integer")
        );
        let e = convert("metadata: {name: q}\nspec: {guarantee: {resource: {memory: 4gb}}}")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| { e.starts_with("Queue q: spec.guarantee.resource.memory: invalid quantity") })
        );
        let e = convert("metadata: {name: q}\nspec: {capability: {nvidia.com/gpu: \"-8\"}}")
            .err()
            .map(|e| e.field);
        assert_eq!(e.as_deref(), Some("spec.capability[nvidia.com/gpu]"));
    }
}

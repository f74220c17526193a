//! `scheduling.k8s.io/v1` PriorityClass into [`PriorityClassRecord`].

use k8s_openapi::api::scheduling::v1::PriorityClass;

use crate::snapshot::PriorityClassRecord;

/// Converts a PriorityClass. Nothing in it can be malformed once decoded (the value is already
/// an integer), so this cannot fail; an absent `value` is 0 and an absent name is empty, which
/// no pod can name.
pub fn priority_class_record(pc: &PriorityClass) -> PriorityClassRecord {
    PriorityClassRecord {
        name: pc.metadata.name.clone().unwrap_or_default(),
        value: pc.value.unwrap_or(0),
        global_default: pc.global_default.unwrap_or(false),
        never_preempts: pc.preemption_policy.as_deref() == Some("Never"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::yaml;

    #[test]
    fn converts_every_field() {
        let pc: PriorityClass = yaml(
            r#"
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: batch-low}
value: -10
globalDefault: true
preemptionPolicy: Never
description: low
"#,
        );
        let r = priority_class_record(&pc);
        assert_eq!(r.name, "batch-low");
        assert_eq!(r.value, -10);
        assert!(r.global_default);
        assert!(r.never_preempts);

        let r = priority_class_record(&yaml("metadata: {name: high}\nvalue: 1000000"));
        assert_eq!((r.value, r.global_default, r.never_preempts), (1_000_000, false, false));
        let r = priority_class_record(&yaml(
            "metadata: {name: p}\nvalue: 5\npreemptionPolicy: PreemptLowerPriority",
        ));
        assert!(!r.never_preempts);
    }
}

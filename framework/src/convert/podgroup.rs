//! The three gang APIs into one [`GroupRecord`].
//!
//! | | Volcano | scheduler-plugins | native (`scheduling.k8s.io/v1beta1`) |
//! |---|---|---|---|
//! | gang size | `minMember` | `minMember` | `schedulingPolicy.gang.minCount`, `basic` = 1 |
//! | queue | `spec.queue` | annotation `scheduling.volcano.sh/queue-name` | same annotation |
//! | priority | `priorityClassName` | none (pods' own) | `priorityClassName`, `priority` |
//! | topology | annotation `caldera.dev/topology-key` | same | `schedulingConstraints.topology[0].key` |
//!
//! Malformed groups: the `*_group` functions return `Err` naming the field. The scheduler must
//! not let one bad PodGroup drop silently (its pods would be reported as "PodGroup not found")
//! nor stop the cycle, so callers pass the result through [`group_or_problem`], which keeps the
//! group as a record carrying the error as its [`GroupRecord::problem`]: the builder attaches the
//! group's pods to it, nothing of it is scheduled, and the status writer reports the problem as
//! an `InvalidPodGroup` condition on the object, while every other group schedules normally.

use std::collections::BTreeMap;

use k8s_openapi::api::scheduling::v1beta1::PodGroup as NativePodGroup;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{
    Cause, ConvertError, FieldError, bool_flag, created_at, duration_annotation, namespace_of, namespaced_ref,
    non_empty, queue_annotation, required_name, resources_from_map, time_annotation,
};
use crate::model::{Disruption, JobPhase, JobSource, Millis, Preempted};
use crate::resource::{ResourceNames, Resources};
use crate::snapshot::{DEFAULT_QUEUE, GroupRecord};
use caldera_crds::{coscheduling, labels, volcano};

/// Reason of the problem [`group_or_problem`] records for a PodGroup that failed to convert.
pub const INVALID_POD_GROUP: &str = "InvalidPodGroup";

/// Condition type on a native PodGroup that kube-scheduler sets once the gang has been placed.
const NATIVE_SCHEDULED_CONDITION: &str = "PodGroupInitiallyScheduled";

fn kind(source: JobSource) -> &'static str {
    match source {
        JobSource::Volcano => "PodGroup.scheduling.volcano.sh",
        JobSource::Coscheduling => "PodGroup.scheduling.x-k8s.io",
        JobSource::Native => "PodGroup.scheduling.k8s.io",
        JobSource::Standalone | JobSource::Foreign => "Pod",
    }
}

/// What every API shares: identity, creation time, `volcano.sh/preemptable`, the topology-key,
/// expected-runtime and preemption-history annotations. Gang fields are left for the caller.
fn base(meta: &ObjectMeta, source: JobSource, now: Millis) -> Result<GroupRecord, FieldError> {
    let preempted = time_annotation(meta, labels::PREEMPTED_AT)?.map(|at| Preempted {
        at,
        by: non_empty(meta.annotations.as_ref().and_then(|a| a.get(labels::PREEMPTED_BY))).unwrap_or_default(),
    });
    Ok(GroupRecord {
        source,
        uid: meta.uid.clone().unwrap_or_default(),
        namespace: namespace_of(meta),
        name: required_name(meta)?,
        queue: DEFAULT_QUEUE.to_string(),
        min_member: 1,
        min_task_member: BTreeMap::new(),
        min_resources: None,
        priority_class: None,
        priority: None,
        created: created_at(meta, now),
        phase: JobPhase::Pending,
        preemptable: bool_flag(meta, labels::PREEMPTABLE)?.unwrap_or(true),
        topology_key: non_empty(meta.annotations.as_ref().and_then(|a| a.get(labels::TOPOLOGY_KEY))),
        problem: None,
        expected_runtime: duration_annotation(meta, labels::EXPECTED_RUNTIME)?,
        never_preempts: false,
        disruption: Disruption::Gang,
        preempted,
        reserved: None,
        annotations: plugin_annotations(meta),
    })
}

/// The annotations plugins read; the rest are not kept.
fn plugin_annotations(meta: &ObjectMeta) -> crate::model::Labels {
    meta.annotations
        .iter()
        .flatten()
        .filter(|(k, _)| crate::snapshot::PLUGIN_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn gang_size(v: i32, field: &str) -> Result<u32, FieldError> {
    u32::try_from(v).map_err(|_| FieldError::new(field, Cause::invalid(v, "a non-negative integer")))
}

/// `minResources`; an empty list checks nothing, exactly like an absent one.
fn min_resources(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
    names: &mut ResourceNames,
) -> Result<Option<Resources>, FieldError> {
    match map {
        Some(m) if !m.is_empty() => resources_from_map(m, names, "spec.minResources").map(Some),
        _ => Ok(None),
    }
}

/// Converts a Volcano `scheduling.volcano.sh/v1beta1` PodGroup.
///
/// An empty `spec.queue` means `default`, as vc-scheduler's `--default-queue` does; an unknown
/// or absent `status.phase` reads as Pending. `networkTopology` and `subGroupPolicy` have no
/// counterpart in [`GroupRecord`] and are not converted; `caldera.dev/topology-key` is Caldera's
/// stand-in.
pub fn volcano_group(
    pg: &volcano::PodGroup,
    names: &mut ResourceNames,
    now: Millis,
) -> Result<GroupRecord, ConvertError> {
    volcano_fields(pg, names, now).map_err(|e| e.in_object(&namespaced_ref(kind(JobSource::Volcano), &pg.metadata)))
}

fn volcano_fields(pg: &volcano::PodGroup, names: &mut ResourceNames, now: Millis) -> Result<GroupRecord, FieldError> {
    let mut g = base(&pg.metadata, JobSource::Volcano, now)?;
    let spec = &pg.spec;
    g.min_member = gang_size(spec.min_member, "spec.minMember")?;
    for (role, n) in spec.min_task_member.iter().flatten() {
        g.min_task_member
            .insert(role.clone(), gang_size(*n, &format!("spec.minTaskMember[{role}]"))?);
    }
    g.min_resources = min_resources(spec.min_resources.as_ref(), names)?;
    if !spec.queue.is_empty() {
        g.queue = spec.queue.clone();
    }
    g.priority_class = non_empty(spec.priority_class_name.as_ref());
    g.phase = match pg.status.as_ref().and_then(|s| s.phase.as_ref()) {
        Some(volcano::PodGroupPhase::Inqueue) => JobPhase::Inqueue,
        Some(volcano::PodGroupPhase::Running) => JobPhase::Running,
        Some(volcano::PodGroupPhase::Unknown) => JobPhase::Unknown,
        Some(volcano::PodGroupPhase::Completed) => JobPhase::Completed,
        Some(volcano::PodGroupPhase::Pending | volcano::PodGroupPhase::Other(_)) | None => JobPhase::Pending,
    };
    Ok(g)
}

/// Converts a scheduler-plugins `scheduling.x-k8s.io/v1alpha1` PodGroup.
///
/// The API has no queue: the `scheduling.volcano.sh/queue-name` annotation names one, else the
/// group is charged to `default`. It has no priority either (scheduler-plugins orders by the
/// pods'), so the job priority is the cluster default.
///
/// Phases are written by the scheduler-plugins controller, not by Caldera, and map as:
/// - `Pending` (fewer than minMember pods exist) and absent: Pending, so Caldera's enqueue
///   admits it like any new gang;
/// - `Scheduling` (enough pods exist, not all running): Inqueue, since its pods already exist
///   there is no creation to hold back and the group should be considered for allocation;
/// - `Running`, `Unknown`: the same;
/// - `Finished` and `Failed`: Completed (both mean the gang's run is over);
/// - anything else: Pending.
pub fn coscheduling_group(
    pg: &coscheduling::PodGroup,
    names: &mut ResourceNames,
    now: Millis,
) -> Result<GroupRecord, ConvertError> {
    coscheduling_fields(pg, names, now)
        .map_err(|e| e.in_object(&namespaced_ref(kind(JobSource::Coscheduling), &pg.metadata)))
}

fn coscheduling_fields(
    pg: &coscheduling::PodGroup,
    names: &mut ResourceNames,
    now: Millis,
) -> Result<GroupRecord, FieldError> {
    let mut g = base(&pg.metadata, JobSource::Coscheduling, now)?;
    g.min_member = gang_size(pg.spec.min_member, "spec.minMember")?;
    g.min_resources = min_resources(pg.spec.min_resources.as_ref(), names)?;
    g.queue = queue_annotation(&pg.metadata);
    g.phase = match pg.status.as_ref().and_then(|s| s.phase.as_ref()) {
        Some(coscheduling::PodGroupPhase::Scheduling) => JobPhase::Inqueue,
        Some(coscheduling::PodGroupPhase::Running) => JobPhase::Running,
        Some(coscheduling::PodGroupPhase::Unknown) => JobPhase::Unknown,
        Some(coscheduling::PodGroupPhase::Finished | coscheduling::PodGroupPhase::Failed) => JobPhase::Completed,
        Some(coscheduling::PodGroupPhase::Pending | coscheduling::PodGroupPhase::Other(_)) | None => JobPhase::Pending,
    };
    Ok(g)
}

/// Converts a Kubernetes-native `scheduling.k8s.io/v1beta1` PodGroup.
///
/// - `schedulingPolicy.gang.minCount` is the gang size; `schedulingPolicy.basic` means each pod
///   is placed on its own, which is a gang of 1. A policy with neither (a kind newer than this
///   build knows) is an error, so the group waits rather than being scheduled under rules it
///   does not ask for.
/// - The queue comes from the `scheduling.volcano.sh/queue-name` annotation, else `default`.
/// - `schedulingConstraints.topology[0].key` is the topology key; Caldera keeps a gang inside
///   one domain of one key, so only the first of several constraints is honoured.
/// - Phase is Running once the condition `PodGroupInitiallyScheduled` is `True`, else Pending.
/// - `preemptionPolicy: Never`: the job never evicts others (preempt and reclaim skip it).
/// - `disruptionMode`: `all` evicts the whole group when one member is preempted; `single` (the
///   API server's default) lets members be evicted one by one.
///
/// The API has no resource list, so `names` is unused; it is taken so that the three
/// converters have one shape.
pub fn native_group(pg: &NativePodGroup, _names: &mut ResourceNames, now: Millis) -> Result<GroupRecord, ConvertError> {
    native_fields(pg, now).map_err(|e| e.in_object(&namespaced_ref(kind(JobSource::Native), &pg.metadata)))
}

fn native_fields(pg: &NativePodGroup, now: Millis) -> Result<GroupRecord, FieldError> {
    let mut g = base(&pg.metadata, JobSource::Native, now)?;
    let spec = &pg.spec;
    let policy = &spec.scheduling_policy;
    g.min_member = match (&policy.gang, &policy.basic) {
        (Some(gang), _) => gang_size(gang.min_count, "spec.schedulingPolicy.gang.minCount")?,
        (None, Some(_)) => 1,
        (None, None) => {
            return Err(FieldError::new(
                "spec.schedulingPolicy",
                Cause::invalid("{}", "a policy with gang or basic set"),
            ));
        }
    };
    g.queue = queue_annotation(&pg.metadata);
    g.priority_class = non_empty(spec.priority_class_name.as_ref());
    g.priority = spec.priority;
    g.never_preempts = match spec.preemption_policy.as_deref() {
        None | Some("" | "PreemptLowerPriority") => false,
        Some("Never") => true,
        Some(other) => {
            return Err(FieldError::new(
                "spec.preemptionPolicy",
                Cause::invalid(other, "Never or PreemptLowerPriority"),
            ));
        }
    };
    g.disruption = match &spec.disruption_mode {
        Some(m) if m.all.is_some() => Disruption::All,
        _ => Disruption::Single,
    };
    if let Some(t) = spec
        .scheduling_constraints
        .as_ref()
        .and_then(|c| c.topology.as_ref())
        .and_then(|t| t.first())
    {
        if t.key.is_empty() {
            return Err(FieldError::new(
                "spec.schedulingConstraints.topology[0].key",
                Cause::Missing,
            ));
        }
        g.topology_key = Some(t.key.clone());
    }
    let scheduled = pg
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == NATIVE_SCHEDULED_CONDITION && c.status == "True");
    g.phase = if scheduled {
        JobPhase::Running
    } else {
        JobPhase::Pending
    };
    Ok(g)
}

/// Keeps a PodGroup that failed to convert as a record carrying the error, so it is reported and
/// its pods wait instead of the group vanishing (see the module docs).
///
/// `meta` and `source` are those of the object `result` came from. The record has the object's
/// identity, the default queue, a gang size of 1 and `problem = ("InvalidPodGroup", message)`;
/// none of those values matter beyond identification, since a group with a problem is never
/// scheduled. Returns `None` only for a group without a name, which cannot be reported on (only
/// hand-written input lacks one).
pub fn group_or_problem(
    result: Result<GroupRecord, ConvertError>,
    source: JobSource,
    meta: &ObjectMeta,
    now: Millis,
) -> Option<GroupRecord> {
    let err = match result {
        Ok(g) => return Some(g),
        Err(e) => e,
    };
    let name = meta.name.clone().filter(|n| !n.is_empty())?;
    Some(GroupRecord {
        source,
        uid: meta.uid.clone().unwrap_or_default(),
        namespace: namespace_of(meta),
        name,
        queue: DEFAULT_QUEUE.to_string(),
        min_member: 1,
        min_task_member: BTreeMap::new(),
        min_resources: None,
        priority_class: None,
        priority: None,
        created: created_at(meta, now),
        phase: JobPhase::Pending,
        preemptable: true,
        topology_key: None,
        problem: Some((INVALID_POD_GROUP.to_string(), err.to_string())),
        expected_runtime: None,
        never_preempts: false,
        disruption: Disruption::Gang,
        preempted: None,
        reserved: None,
        annotations: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::yaml;
    use crate::resource::{CPU, MEMORY};

    fn ok<T>(r: Result<T, ConvertError>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    fn vc(y: &str) -> Result<GroupRecord, ConvertError> {
        volcano_group(&yaml(y), &mut ResourceNames::default(), 5)
    }
    fn cs(y: &str) -> Result<GroupRecord, ConvertError> {
        coscheduling_group(&yaml(y), &mut ResourceNames::default(), 5)
    }
    fn nat(y: &str) -> Result<GroupRecord, ConvertError> {
        native_group(&yaml(y), &mut ResourceNames::default(), 5)
    }

    #[test]
    fn volcano_full() {
        let mut names = ResourceNames::default();
        let pg: volcano::PodGroup = yaml(
            r#"
apiVersion: scheduling.volcano.sh/v1beta1
kind: PodGroup
metadata:
  name: job-a
  namespace: ml
  uid: pg-uid
  creationTimestamp: "2026-01-02T03:04:05Z"
  annotations: {volcano.sh/preemptable: "false", caldera.dev/topology-key: topology.kubernetes.io/zone}
spec:
  minMember: 4
  minTaskMember: {ps: 1, worker: 3}
  minResources: {cpu: "8", memory: 32Gi, nvidia.com/gpu: "8"}
  queue: research
  priorityClassName: high
status:
  phase: Inqueue
  running: 0
"#,
        );
        let g = ok(volcano_group(&pg, &mut names, 5));
        assert_eq!(g.source, JobSource::Volcano);
        assert_eq!(
            (g.uid.as_str(), g.namespace.as_str(), g.name.as_str()),
            ("pg-uid", "ml", "job-a")
        );
        assert_eq!(g.min_member, 4);
        assert_eq!(g.min_task_member.get("worker"), Some(&3));
        assert_eq!(g.min_task_member.get("ps"), Some(&1));
        let mr = g.min_resources.unwrap_or_default();
        assert_eq!(mr.get(CPU), 8000);
        assert_eq!(mr.get(MEMORY), 32 << 30);
        assert_eq!(mr.get(names.intern("nvidia.com/gpu")), 8);
        assert_eq!(g.queue, "research");
        assert_eq!(g.priority_class.as_deref(), Some("high"));
        assert_eq!(g.priority, None);
        assert_eq!(g.created, 1_767_323_045_000);
        assert_eq!(g.phase, JobPhase::Inqueue);
        assert!(!g.preemptable);
        assert_eq!(g.topology_key.as_deref(), Some("topology.kubernetes.io/zone"));
        assert_eq!(g.problem, None);
    }

    #[test]
    fn volcano_defaults_and_phases() {
        let g = ok(vc("metadata: {name: g}\nspec: {queue: \"\"}"));
        assert_eq!(g.namespace, "default");
        assert_eq!(g.queue, "default");
        assert_eq!(g.min_member, 0, "minMember 0 is legal: no gang constraint");
        assert_eq!(g.min_resources, None);
        assert_eq!(g.phase, JobPhase::Pending);
        assert!(g.preemptable);
        assert_eq!(g.created, 5);
        let g = ok(vc("metadata: {name: g}\nspec: {minMember: 1, minResources: {}}"));
        assert_eq!(g.queue, "default", "absent queue is the CRD default");
        assert_eq!(g.min_resources, None);
        for (phase, want) in [
            ("Pending", JobPhase::Pending),
            ("Inqueue", JobPhase::Inqueue),
            ("Running", JobPhase::Running),
            ("Unknown", JobPhase::Unknown),
            ("Completed", JobPhase::Completed),
            ("Bogus", JobPhase::Pending),
            ("\"\"", JobPhase::Pending),
        ] {
            let g = ok(vc(&format!(
                "metadata: {{name: g}}\nspec: {{minMember: 1}}\nstatus: {{phase: {phase}}}"
            )));
            assert_eq!(g.phase, want, "{phase}");
        }
    }

    #[test]
    fn volcano_errors_name_object_and_field() {
        let e = vc("metadata: {name: g, namespace: ml}\nspec: {minMember: -1}")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("PodGroup.scheduling.volcano.sh ml/g: spec.minMember: \"-1\" is not a non-negative integer")
        );
        let e = vc("metadata: {name: g, namespace: ml}\nspec: {minMember: 2, minResources: {memory: 2GiB}}")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.starts_with(
                "PodGroup.scheduling.volcano.sh ml/g: spec.minResources.memory: invalid quantity \"2GiB\""
            )),
            "{e:?}"
        );
        let e = vc("metadata: {name: g}\nspec: {minMember: 2, minTaskMember: {w: -2}}")
            .err()
            .map(|e| e.field);
        assert_eq!(e.as_deref(), Some("spec.minTaskMember[w]"));
        let e = vc("metadata: {name: g, labels: {volcano.sh/preemptable: nope}}\nspec: {minMember: 1}")
            .err()
            .map(|e| e.field);
        assert_eq!(e.as_deref(), Some("metadata.labels[volcano.sh/preemptable]"));
    }

    #[test]
    fn coscheduling_fields_and_phase_mapping() {
        let g = ok(cs(r#"
apiVersion: scheduling.x-k8s.io/v1alpha1
kind: PodGroup
metadata:
  name: ray
  namespace: ray
  annotations: {scheduling.volcano.sh/queue-name: batch, volcano.sh/preemptable: "true"}
spec:
  minMember: 3
  minResources: {cpu: "3"}
  scheduleTimeoutSeconds: 60
status: {phase: Scheduling}
"#));
        assert_eq!(g.source, JobSource::Coscheduling);
        assert_eq!(g.min_member, 3);
        assert_eq!(g.min_resources.map(|r| r.get(CPU)), Some(3000));
        assert_eq!(g.queue, "batch");
        assert_eq!(g.phase, JobPhase::Inqueue);
        assert!(g.preemptable);
        assert!(g.min_task_member.is_empty());
        assert_eq!(g.priority_class, None);

        let g = ok(cs("metadata: {name: g}\nspec: {minMember: 2}"));
        assert_eq!((g.queue.as_str(), g.phase), ("default", JobPhase::Pending));
        for (phase, want) in [
            ("Pending", JobPhase::Pending),
            ("Scheduling", JobPhase::Inqueue),
            ("Running", JobPhase::Running),
            ("Unknown", JobPhase::Unknown),
            ("Finished", JobPhase::Completed),
            ("Failed", JobPhase::Completed),
        ] {
            let g = ok(cs(&format!(
                "metadata: {{name: g}}\nspec: {{minMember: 1}}\nstatus: {{phase: {phase}}}"
            )));
            assert_eq!(g.phase, want, "{phase}");
        }
        let e = cs("metadata: {name: g}\nspec: {minMember: 1, minResources: {cpu: \"-1\"}}")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("PodGroup.scheduling.x-k8s.io default/g: spec.minResources.cpu: quantity \"-1\" is negative")
        );
    }

    #[test]
    fn native_gang_basic_topology_and_phase() {
        let g = ok(nat(r#"
apiVersion: scheduling.k8s.io/v1beta1
kind: PodGroup
metadata:
  name: train
  namespace: ml
  annotations: {scheduling.volcano.sh/queue-name: research}
spec:
  schedulingPolicy: {gang: {minCount: 4}}
  priorityClassName: high
  priority: 1000
  schedulingConstraints:
    topology: [{key: topology.kubernetes.io/zone}, {key: rack}]
status:
  conditions:
  - type: PodGroupInitiallyScheduled
    status: "True"
    reason: Scheduled
    message: ""
    lastTransitionTime: "2026-01-01T00:00:00Z"
"#));
        assert_eq!(g.source, JobSource::Native);
        assert_eq!(g.min_member, 4);
        assert_eq!(g.queue, "research");
        assert_eq!(g.priority_class.as_deref(), Some("high"));
        assert_eq!(g.priority, Some(1000));
        assert_eq!(
            g.topology_key.as_deref(),
            Some("topology.kubernetes.io/zone"),
            "first constraint wins"
        );
        assert_eq!(g.phase, JobPhase::Running);

        let g = ok(nat(r#"
metadata: {name: b}
spec: {schedulingPolicy: {basic: {}}}
status:
  conditions:
  - {type: PodGroupInitiallyScheduled, status: "False", reason: Unschedulable, message: m, lastTransitionTime: "2026-01-01T00:00:00Z"}
"#));
        assert_eq!(g.min_member, 1, "basic: each pod on its own");
        assert_eq!(g.queue, "default");
        assert_eq!(g.topology_key, None);
        assert_eq!(g.phase, JobPhase::Pending);

        let e = nat("metadata: {name: n}\nspec: {schedulingPolicy: {gang: {minCount: -2}}}")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "PodGroup.scheduling.k8s.io default/n: spec.schedulingPolicy.gang.minCount: \"-2\" is not a non-negative integer"
            )
        );
        let e = nat("metadata: {name: n}\nspec: {schedulingPolicy: {}}")
            .err()
            .map(|e| e.field);
        assert_eq!(e.as_deref(), Some("spec.schedulingPolicy"));
    }

    #[test]
    fn invalid_group_becomes_a_reported_record() {
        let pg: volcano::PodGroup = yaml(
            "metadata: {name: g, namespace: ml, uid: u1}\nspec: {minMember: 2, queue: q, minResources: {cpu: lots}}",
        );
        let result = volcano_group(&pg, &mut ResourceNames::default(), 9);
        let g = group_or_problem(result, JobSource::Volcano, &pg.metadata, 9);
        let Some(g) = g else { panic!("a named group is kept") };
        assert_eq!(
            (g.uid.as_str(), g.namespace.as_str(), g.name.as_str()),
            ("u1", "ml", "g")
        );
        assert_eq!(g.source, JobSource::Volcano);
        assert_eq!(g.created, 9);
        let Some((reason, message)) = &g.problem else {
            panic!("problem set")
        };
        assert_eq!(reason, INVALID_POD_GROUP);
        assert!(
            message
                .starts_with("PodGroup.scheduling.volcano.sh ml/g: spec.minResources.cpu: invalid quantity \"lots\""),
            "{message}"
        );

        // A valid group passes through untouched; a nameless broken one cannot be reported.
        let good: volcano::PodGroup = yaml("metadata: {name: g}\nspec: {minMember: 3}");
        let r = volcano_group(&good, &mut ResourceNames::default(), 0);
        assert_eq!(
            group_or_problem(r, JobSource::Volcano, &good.metadata, 0).map(|g| g.min_member),
            Some(3)
        );
        let nameless: volcano::PodGroup = yaml("metadata: {}\nspec: {minMember: 3}");
        let r = volcano_group(&nameless, &mut ResourceNames::default(), 0);
        assert!(r.is_err());
        assert!(group_or_problem(r, JobSource::Volcano, &nameless.metadata, 0).is_none());
    }
}

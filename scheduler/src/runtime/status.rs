//! What the scheduler writes back, computed purely from a cycle's result and the status last seen
//! on the object; `None` means the object already says it, so nothing is written.
//!
//! | object | written |
//! |---|---|
//! | Volcano PodGroup | `phase`, `running`/`succeeded`/`failed`, conditions `Unschedulable` / `Scheduled` as Volcano's gang plugin writes them (whole object: the CRD has no status subresource) |
//! | scheduler-plugins PodGroup | `phase` (Pending, Scheduling, Running, Finished, Failed, Unknown), counts, `scheduleStartTime` |
//! | native PodGroup | condition `PodGroupInitiallyScheduled`, as kube-scheduler writes it |
//! | Queue | `allocated` |
//!
//! One difference from Volcano, on purpose: when a gang becomes ready, an earlier
//! `Unschedulable=True` condition is turned to `False` instead of being left standing beside
//! `Scheduled=True`.

use serde_json::{Map, Value, json};

use caldera_framework::outcome::JobStatus;
use caldera_framework::{JobCondition, JobId, JobPhase, QueueId, Snapshot, TaskStatus};

/// Reason Volcano writes on the `Scheduled` condition.
pub const READY_REASON: &str = "tasks in gang are ready to be scheduled";
/// Condition kube-scheduler writes on native PodGroups.
pub const NATIVE_CONDITION: &str = "PodGroupInitiallyScheduled";

/// Pod counts of a job, by API phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Running pods.
    pub running: u32,
    /// Succeeded pods.
    pub succeeded: u32,
    /// Failed pods.
    pub failed: u32,
    /// Pods that have a node (bound, binding or running).
    pub scheduled: u32,
}

/// Condition fields that change whenever a status is computed anew, without saying anything new.
const VOLATILE: [&str; 2] = ["lastTransitionTime", "transitionID"];

/// Whether two statuses say the same, ignoring when they were computed (transition times and ids):
/// a status computed again while the first write of it is still on its way is not written twice.
pub fn same_report(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = |m: &Map<String, Value>| m.keys().filter(|k| !VOLATILE.contains(&k.as_str())).count();
            keys(x) == keys(y)
                && x.iter()
                    .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_report(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_report(v, w)),
        _ => a == b,
    }
}

/// Counts the job's pods.
pub fn counts(s: &Snapshot, j: JobId) -> Counts {
    let mut c = Counts::default();
    for &t in &s.job(j).tasks {
        match s.task(t).status {
            TaskStatus::Running => c.running += 1,
            TaskStatus::Succeeded => c.succeeded += 1,
            TaskStatus::Failed => c.failed += 1,
            _ => {}
        }
        if s.task(t).status.is_scheduled() {
            c.scheduled += 1;
        }
    }
    c
}

fn conditions_of(observed: &Value) -> Vec<Value> {
    observed
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Sets condition `type_` to (status, reason, message), keeping its transition time and id when
/// nothing about it changes.
fn upsert_condition(
    list: &mut Vec<Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    id: &str,
) {
    let fresh = |list_item: Option<&Value>| {
        let mut c = json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": now,
        });
        if !id.is_empty() {
            c["transitionID"] = json!(id);
        }
        if let Some(old) = list_item
            && old.get("status").and_then(Value::as_str) == Some(status)
        {
            // Same status: the transition happened earlier.
            for k in ["lastTransitionTime", "transitionID"] {
                if let Some(v) = old.get(k) {
                    c[k] = v.clone();
                }
            }
        }
        c
    };
    match list
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(type_))
    {
        Some(i) => {
            let same = list[i].get("status").and_then(Value::as_str) == Some(status)
                && list[i].get("reason").and_then(Value::as_str).unwrap_or("") == reason
                && list[i].get("message").and_then(Value::as_str).unwrap_or("") == message;
            if !same {
                list[i] = fresh(Some(&list[i]));
            }
        }
        None => list.push(fresh(None)),
    }
}

fn merged(observed: &Value, fields: Map<String, Value>) -> Option<Value> {
    let mut out = match observed {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut changed = false;
    for (k, v) in fields {
        let empty_default = matches!(&v, Value::Number(n) if n.as_u64() == Some(0)) && !out.contains_key(&k);
        if out.get(&k) != Some(&v) && !empty_default {
            changed = true;
            out.insert(k, v);
        }
    }
    changed.then_some(Value::Object(out))
}

/// The Volcano PodGroup status to write, if it differs from `observed`.
pub fn volcano(s: &Snapshot, j: JobId, st: &JobStatus, observed: &Value, now: &str, cycle_id: &str) -> Option<Value> {
    let c = counts(s, j);
    let mut conditions = conditions_of(observed);
    match &st.condition {
        Some(JobCondition::Unschedulable { reason, message }) => {
            upsert_condition(&mut conditions, "Unschedulable", "True", reason, message, now, cycle_id);
        }
        Some(JobCondition::Scheduled) => {
            upsert_condition(&mut conditions, "Scheduled", "True", READY_REASON, "", now, cycle_id);
            if conditions
                .iter()
                .any(|c| c["type"] == "Unschedulable" && c["status"] == "True")
            {
                upsert_condition(
                    &mut conditions,
                    "Unschedulable",
                    "False",
                    "Scheduled",
                    "",
                    now,
                    cycle_id,
                );
            }
        }
        None => {}
    }
    let mut fields = Map::new();
    fields.insert("phase".into(), json!(st.phase.as_str()));
    fields.insert("running".into(), json!(c.running));
    fields.insert("succeeded".into(), json!(c.succeeded));
    fields.insert("failed".into(), json!(c.failed));
    if !conditions.is_empty() {
        fields.insert("conditions".into(), Value::Array(conditions));
    }
    merged(observed, fields)
}

/// scheduler-plugins' phase for a job.
pub fn coscheduling_phase(phase: JobPhase, c: Counts) -> &'static str {
    match phase {
        JobPhase::Pending => "Pending",
        JobPhase::Inqueue => "Scheduling",
        JobPhase::Running => "Running",
        JobPhase::Unknown => "Unknown",
        JobPhase::Completed if c.failed > 0 => "Failed",
        JobPhase::Completed => "Finished",
    }
}

/// The scheduler-plugins PodGroup status to write, if it differs from `observed`.
pub fn coscheduling(s: &Snapshot, j: JobId, st: &JobStatus, observed: &Value, now: &str) -> Option<Value> {
    let c = counts(s, j);
    let phase = coscheduling_phase(st.phase, c);
    let mut fields = Map::new();
    fields.insert("phase".into(), json!(phase));
    fields.insert("running".into(), json!(c.running));
    fields.insert("succeeded".into(), json!(c.succeeded));
    fields.insert("failed".into(), json!(c.failed));
    if phase != "Pending" && observed.get("scheduleStartTime").is_none_or(Value::is_null) {
        fields.insert("scheduleStartTime".into(), json!(now));
    }
    merged(observed, fields)
}

/// The native PodGroup status to write (condition `PodGroupInitiallyScheduled`), if it differs.
/// Once True it stays True: the condition records that the gang was placed once.
pub fn native(s: &Snapshot, j: JobId, st: &JobStatus, observed: &Value, now: &str) -> Option<Value> {
    let mut conditions = conditions_of(observed);
    let already = conditions
        .iter()
        .any(|c| c["type"] == NATIVE_CONDITION && c["status"] == "True");
    if already {
        return None;
    }
    let job = s.job(j);
    let c = counts(s, j);
    match (&st.condition, st.phase) {
        (_, JobPhase::Running | JobPhase::Completed) | (Some(JobCondition::Scheduled), _) => {
            upsert_condition(&mut conditions, NATIVE_CONDITION, "True", "Scheduled", "", now, "");
        }
        (Some(JobCondition::Unschedulable { message, .. }), _) => {
            // The gang's own wording starts "k/n tasks in gang unschedulable: "; the native condition
            // states the count its own way, so only the reason after it is kept.
            let why = message
                .split_once("tasks in gang unschedulable: ")
                .map_or(message.as_str(), |(_, rest)| rest);
            let text = format!(
                "minCount ({}) cannot be satisfied: {} scheduled: {why}",
                job.min_member, c.scheduled
            );
            upsert_condition(
                &mut conditions,
                NATIVE_CONDITION,
                "False",
                "Unschedulable",
                &text,
                now,
                "",
            );
        }
        _ => return None,
    }
    let mut fields = Map::new();
    fields.insert("conditions".into(), Value::Array(conditions));
    merged(observed, fields)
}

/// The Queue status patch (`allocated`), if it differs from `observed`. Resources no longer held
/// are sent as `null`: in a JSON merge patch an absent key would leave the old amount standing.
pub fn queue(s: &Snapshot, q: QueueId, observed: &Value) -> Option<Value> {
    let alloc: Map<String, Value> = s
        .queue(q)
        .allocated
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(id, v)| (s.resources.name(id).to_string(), json!(s.resources.format_value(id, v))))
        .collect();
    if observed
        .get("allocated")
        .map_or(alloc.is_empty(), |o| same_quantities(o, &alloc))
    {
        return None;
    }
    let mut patch = alloc;
    if let Some(old) = observed.get("allocated").and_then(Value::as_object) {
        for k in old.keys() {
            patch.entry(k.clone()).or_insert(Value::Null);
        }
    }
    Some(json!({ "allocated": patch }))
}

/// Whether two resource maps hold the same amounts (quantities can be written differently:
/// "1000m" and "1").
fn same_quantities(observed: &Value, wanted: &Map<String, Value>) -> bool {
    let Some(o) = observed.as_object() else {
        return wanted.is_empty();
    };
    let parse = |v: &Value| -> Option<i64> {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        caldera_framework::quantity::Quantity::parse(&s).ok()?.to_milli().ok()
    };
    let nonzero = |m: &Map<String, Value>| m.iter().filter(|(_, v)| parse(v) != Some(0)).count();
    nonzero(o) == nonzero(wanted) && wanted.iter().all(|(k, v)| o.get(k).and_then(parse) == parse(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use caldera_framework::snapshot::{GroupRecord, NodeRecord, PodPhase, PodRecord, SnapshotBuilder};
    use caldera_framework::{JobSource, Resources};
    use std::collections::BTreeMap;

    fn snap(pod_phases: &[(PodPhase, bool)]) -> Snapshot {
        let mut b = SnapshotBuilder::new();
        let gpu = b.resources.intern("nvidia.com/gpu");
        b.node(NodeRecord {
            name: "n1".into(),
            ready: true,
            allocatable: Resources::from_pairs([(gpu, 8), (caldera_framework::resource::PODS, 110)]),
            ..NodeRecord::default()
        });
        b.group(GroupRecord {
            source: JobSource::Volcano,
            uid: "u".into(),
            namespace: "ns".into(),
            name: "g".into(),
            queue: String::new(),
            min_member: 2,
            min_task_member: BTreeMap::new(),
            min_resources: None,
            priority_class: None,
            priority: None,
            created: 0,
            phase: JobPhase::Inqueue,
            preemptable: true,
            topology_key: None,
            problem: None,
            expected_runtime: None,
            never_preempts: false,
            disruption: caldera_framework::Disruption::Gang,
            preempted: None,
            reserved: None,
            annotations: Default::default(),
        });
        for (i, (phase, bound)) in pod_phases.iter().enumerate() {
            let mut r = PodRecord {
                uid: format!("p{i}"),
                namespace: "ns".into(),
                name: format!("p{i}"),
                group: Some(caldera_framework::snapshot::GroupRef::Volcano("g".into())),
                ours: true,
                phase: *phase,
                node_name: bound.then(|| "n1".to_string()),
                ..PodRecord::default()
            };
            std::sync::Arc::make_mut(&mut r.spec).request =
                Resources::from_pairs([(gpu, 4), (caldera_framework::resource::PODS, 1)]);
            b.pod(r);
        }
        b.build(0)
    }

    fn unsched(msg: &str) -> JobStatus {
        JobStatus {
            phase: JobPhase::Inqueue,
            condition: Some(JobCondition::Unschedulable {
                reason: "NotEnoughResources".into(),
                message: msg.into(),
            }),
        }
    }

    #[test]
    fn a_status_computed_again_is_the_same_report_unless_something_changed() {
        let a = json!({"phase": "Running", "running": 3, "conditions": [
            {"type": "Scheduled", "status": "True", "lastTransitionTime": "t1", "transitionID": "c-1"}]});
        let b = json!({"phase": "Running", "running": 3, "conditions": [
            {"type": "Scheduled", "status": "True", "lastTransitionTime": "t2", "transitionID": "c-2"}]});
        assert!(same_report(&a, &b));
        let c = json!({"phase": "Running", "running": 2, "conditions": [
            {"type": "Scheduled", "status": "True", "lastTransitionTime": "t2", "transitionID": "c-2"}]});
        assert!(!same_report(&a, &c));
        let d = json!({"phase": "Running", "running": 3, "conditions": [
            {"type": "Scheduled", "status": "False", "lastTransitionTime": "t1", "transitionID": "c-1"}]});
        assert!(!same_report(&a, &d));
        assert!(!same_report(&a, &json!({"phase": "Running", "running": 3})));
    }

    #[test]
    fn volcano_status_is_written_once_and_keeps_transition_times() {
        let s = snap(&[(PodPhase::Pending, false), (PodPhase::Pending, false)]);
        let j = JobId(0);
        let st = unsched("2/2 tasks in gang unschedulable: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.");
        let first = volcano(&s, j, &st, &Value::Null, "2026-11-23T08:00:00Z", "cycle-1").expect("written");
        assert_eq!(first["phase"], "Inqueue");
        assert_eq!(first["conditions"][0]["type"], "Unschedulable");
        assert_eq!(first["conditions"][0]["status"], "True");
        assert_eq!(first["conditions"][0]["reason"], "NotEnoughResources");
        assert_eq!(first["conditions"][0]["transitionID"], "cycle-1");
        assert!(
            first["running"].is_null(),
            "zero counts are left out, as Volcano's own status omits them"
        );
        // The next cycle concludes the same: nothing to write.
        assert_eq!(volcano(&s, j, &st, &first, "2026-11-23T08:00:05Z", "cycle-2"), None);
        // A new message: written, with a new transition time.
        let st2 = unsched("2/2 tasks in gang unschedulable: something else");
        let second = volcano(&s, j, &st2, &first, "2026-11-23T08:00:09Z", "cycle-3").expect("written");
        assert_eq!(
            second["conditions"][0]["lastTransitionTime"], "2026-11-23T08:00:00Z",
            "status did not change"
        );
        assert_eq!(
            second["conditions"][0]["message"],
            "2/2 tasks in gang unschedulable: something else"
        );
    }

    #[test]
    fn a_ready_gang_is_scheduled_and_its_unschedulable_condition_turns_false() {
        let pending = snap(&[(PodPhase::Pending, false), (PodPhase::Pending, false)]);
        let before = volcano(&pending, JobId(0), &unsched("x"), &Value::Null, "t0", "c1").expect("written");
        let running = snap(&[(PodPhase::Running, true), (PodPhase::Running, true)]);
        let st = JobStatus {
            phase: JobPhase::Running,
            condition: Some(JobCondition::Scheduled),
        };
        let after = volcano(&running, JobId(0), &st, &before, "t1", "c2").expect("written");
        assert_eq!(after["phase"], "Running");
        assert_eq!(after["running"], 2);
        let cond = |t: &str| {
            after["conditions"]
                .as_array()
                .and_then(|a| a.iter().find(|c| c["type"] == t))
                .cloned()
        };
        assert_eq!(cond("Scheduled").map(|c| c["status"].clone()), Some(json!("True")));
        assert_eq!(cond("Unschedulable").map(|c| c["status"].clone()), Some(json!("False")));
    }

    #[test]
    fn coscheduling_phases_follow_scheduler_plugins() {
        let done = snap(&[(PodPhase::Succeeded, true), (PodPhase::Failed, true)]);
        let c = counts(&done, JobId(0));
        assert_eq!(coscheduling_phase(JobPhase::Completed, c), "Failed");
        assert_eq!(coscheduling_phase(JobPhase::Inqueue, c), "Scheduling");
        let st = JobStatus {
            phase: JobPhase::Inqueue,
            condition: None,
        };
        let w = coscheduling(&done, JobId(0), &st, &Value::Null, "t0").expect("written");
        assert_eq!(w["scheduleStartTime"], "t0");
        assert_eq!(coscheduling(&done, JobId(0), &st, &w, "t1"), None, "start time is kept");
    }

    #[test]
    fn native_condition_matches_kube_scheduler_and_stays_true() {
        let s = snap(&[(PodPhase::Pending, false), (PodPhase::Pending, false)]);
        let st = unsched("2/2 tasks in gang unschedulable: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.");
        let w = native(&s, JobId(0), &st, &Value::Null, "t0").expect("written");
        assert_eq!(w["conditions"][0]["type"], NATIVE_CONDITION);
        assert_eq!(w["conditions"][0]["status"], "False");
        assert_eq!(w["conditions"][0]["reason"], "Unschedulable");
        assert_eq!(
            w["conditions"][0]["message"],
            "minCount (2) cannot be satisfied: 0 scheduled: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
        );
        let running = snap(&[(PodPhase::Running, true), (PodPhase::Running, true)]);
        let ok = JobStatus {
            phase: JobPhase::Running,
            condition: Some(JobCondition::Scheduled),
        };
        let t = native(&running, JobId(0), &ok, &w, "t1").expect("written");
        assert_eq!(t["conditions"][0]["status"], "True");
        assert_eq!(
            native(&s, JobId(0), &st, &t, "t2"),
            None,
            "initially scheduled stays true"
        );
    }

    #[test]
    fn queue_allocated_is_written_only_when_amounts_change() {
        let s = snap(&[(PodPhase::Running, true), (PodPhase::Pending, false)]);
        let q = s.queue_by_name("default").expect("default queue");
        let w = queue(&s, q, &Value::Null).expect("written");
        assert_eq!(w["allocated"]["nvidia.com/gpu"], "4");
        assert_eq!(queue(&s, q, &w), None);
        assert_eq!(
            queue(&s, q, &json!({"allocated": {"nvidia.com/gpu": "4", "pods": "1"}})),
            None,
            "same amounts"
        );
    }
}

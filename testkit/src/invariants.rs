//! What every scheduling cycle must guarantee, checked independently of the engine.
//!
//! The checks recompute everything from the tasks' statuses and the nodes' labels, taints and
//! capacities with deliberately simple code; none of them calls a plugin or trusts the engine's
//! own bookkeeping (`NodeInfo::used` is checked against the recomputed sum, not used for it).
//!
//! | | invariant |
//! |---|---|
//! | (a) | gangs: a job with a bind ends the cycle with ≥ `minMember` tasks bound/binding/running (and each role's `minTaskMember`), in phase Running; a job with a problem, in a queue that is not open (pods that request nothing aside), or of another scheduler is never bound |
//! | (b) | capacity: no node that fit before the cycle holds more than its allocatable of any resource after it; each node's `used` and `pipelined` are the sums of its tasks' requests |
//! | (c) | binds: each task at most once, only tasks that were Pending, ending Binding on the bind's node; pipelined tasks were Pending and are not also bound; no task is left Allocated, nor Pipelined without being reported in `Outcome::pipelined` |
//! | (d) | predicates: every bind's node is ready, not cordoned (unless tolerated), matches nodeName, nodeSelector and required node affinity, has no untolerated NoSchedule/NoExecute taint and no host-port conflict |

use std::collections::{BTreeMap, BTreeSet};

use caldera_framework::outcome::Outcome;
use caldera_framework::{
    HostPort, JobPhase, JobSource, NodeId, NodeInfo, NodeSelectorTerm, QueueState, Requirement, ResourceId, Resources,
    SelectorOp, Snapshot, Taint, TaintEffect, TaskInfo, TaskStatus, Toleration, TolerationOp,
};

/// The taint a cordoned node is treated as having.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Checks every invariant of one cycle that turned `before` into `after` with `outcome`.
/// Returns all violations found, one per line.
pub fn check(before: &Snapshot, after: &Snapshot, outcome: &Outcome) -> Result<(), String> {
    let mut v = Violations::default();
    if before.tasks.len() != after.tasks.len()
        || before.nodes.len() != after.nodes.len()
        || before.jobs.len() != after.jobs.len()
    {
        return Err("the cycle changed the number of tasks, nodes or jobs".to_string());
    }
    check_binds(before, after, outcome, &mut v);
    check_gangs(before, after, outcome, &mut v);
    check_capacity(before, after, &mut v);
    check_predicates(after, outcome, &mut v);
    check_topology(before, after, outcome, &mut v);
    v.into_result()
}

/// A gang with a topology key is placed inside one domain: this cycle's binds share one value of
/// the key's node label, and it is the value of the gang's earlier pods that still run after the
/// cycle (unless those already spanned several domains before Caldera saw them). A pod this cycle
/// evicted does not hold its gang to its domain: the gang may be placed afresh elsewhere.
fn check_topology(before: &Snapshot, after: &Snapshot, outcome: &Outcome, v: &mut Violations) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut new: BTreeMap<caldera_framework::JobId, Vec<Option<String>>> = BTreeMap::new();
    for b in &outcome.binds {
        let job = after.task(b.task).job;
        if let Some(key) = &after.job(job).topology_key {
            new.entry(job)
                .or_default()
                .push(after.node(b.node).labels.get(key).cloned());
        }
    }
    for (j, domains) in new {
        let job = after.job(j);
        let key = job.topology_key.clone().unwrap_or_default();
        if domains.iter().any(Option::is_none) {
            v.push(format!(
                "job {}: bound onto a node without the topology label {key}",
                job.key()
            ));
            continue;
        }
        let new_set: BTreeSet<String> = domains.into_iter().flatten().collect();
        let evicted: BTreeSet<caldera_framework::TaskId> = outcome.evictions.iter().map(|e| e.task).collect();
        let domains_of = |keep: &dyn Fn(&caldera_framework::TaskId) -> bool| -> BTreeSet<String> {
            before
                .job(j)
                .tasks
                .iter()
                .filter(|t| keep(t))
                .map(|t| before.task(*t))
                .filter(|t| t.status.occupies_node() && t.status != caldera_framework::TaskStatus::Releasing)
                .filter_map(|t| t.node.and_then(|n| before.node(n).labels.get(&key).cloned()))
                .collect()
        };
        let spanned = domains_of(&|_| true).len() > 1;
        let old_set = domains_of(&|t| !evicted.contains(t));
        if new_set.len() > 1 {
            v.push(format!(
                "job {}: one cycle bound it across domains {new_set:?} of {key}",
                job.key()
            ));
        } else if !spanned && old_set.union(&new_set).count() > 1 {
            v.push(format!(
                "job {}: bound into {new_set:?} while its pods run in {old_set:?} ({key})",
                job.key()
            ));
        }
    }
}

#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn push(&mut self, s: String) {
        // A broken cycle tends to break the same rule many times; the first few say enough.
        if self.0.len() < 50 {
            self.0.push(s);
        }
    }
    fn into_result(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("\n"))
        }
    }
}

fn task_key(t: &TaskInfo) -> String {
    format!("{}/{}", t.namespace, t.name)
}

/// (c)
fn check_binds(before: &Snapshot, after: &Snapshot, outcome: &Outcome, v: &mut Violations) {
    let mut seen = BTreeSet::new();
    for b in &outcome.binds {
        if b.task.idx() >= before.tasks.len() || b.node.idx() >= before.nodes.len() {
            v.push(format!("bind {b:?} names a task or node that does not exist"));
            continue;
        }
        let key = task_key(before.task(b.task));
        if !seen.insert(b.task) {
            v.push(format!("(c) task {key} is bound twice"));
        }
        let was = before.task(b.task).status;
        if was != TaskStatus::Pending {
            v.push(format!("(c) task {key} was {was:?}, not Pending, and was bound"));
        }
        let now = after.task(b.task);
        if now.status != TaskStatus::Binding || now.node != Some(b.node) {
            v.push(format!(
                "(c) bound task {key} ends the cycle {:?} on {:?}, not Binding on {}",
                now.status,
                now.node.map(|n| after.node(n).name.as_str()),
                after.node(b.node).name
            ));
        }
    }
    let mut piped = BTreeSet::new();
    for p in &outcome.pipelined {
        if p.task.idx() >= before.tasks.len() {
            v.push(format!("pipelined {p:?} names a task that does not exist"));
            continue;
        }
        let key = task_key(before.task(p.task));
        if !piped.insert(p.task) {
            v.push(format!("(c) task {key} is pipelined twice"));
        }
        if seen.contains(&p.task) {
            v.push(format!("(c) task {key} is both bound and pipelined"));
        }
        if before.task(p.task).status != TaskStatus::Pending {
            v.push(format!(
                "(c) task {key} was {:?}, not Pending, and was pipelined",
                before.task(p.task).status
            ));
        }
    }
    for (i, t) in after.tasks.iter().enumerate() {
        let was = before.tasks[i].status;
        if t.status == TaskStatus::Allocated {
            v.push(format!(
                "(c) task {} is left Allocated (placed but neither committed nor undone)",
                task_key(t)
            ));
        }
        // A ready gang's statement commits its pipelined tasks as nominations: they stay
        // Pipelined on their node, and must be reported as such.
        if t.status == TaskStatus::Pipelined
            && !outcome
                .pipelined
                .iter()
                .any(|p| p.task.idx() == i && Some(p.node) == t.node)
        {
            v.push(format!(
                "(c) task {} is left Pipelined without being reported as pipelined",
                task_key(t)
            ));
        }
        if t.status == TaskStatus::Binding
            && was != TaskStatus::Binding
            && !seen.contains(&caldera_framework::TaskId::from_idx(i))
        {
            v.push(format!("(c) task {} became Binding without a bind", task_key(t)));
        }
    }
}

/// Counts toward a placed gang: bound, binding, running (and succeeded, which Volcano counts as
/// ready too).
fn holds_gang_slot(s: TaskStatus) -> bool {
    matches!(
        s,
        TaskStatus::Binding | TaskStatus::Bound | TaskStatus::Running | TaskStatus::Succeeded
    )
}

/// (a)
fn check_gangs(before: &Snapshot, after: &Snapshot, outcome: &Outcome, v: &mut Violations) {
    // Per job: binds, and binds of pods that request more than a pod slot.
    let mut bound_jobs: BTreeMap<usize, (u32, u32)> = BTreeMap::new();
    for b in &outcome.binds {
        if let Some(t) = after.tasks.get(b.task.idx()) {
            let e = bound_jobs.entry(t.job.idx()).or_default();
            e.0 += 1;
            e.1 += u32::from(!t.spec.request.is_best_effort());
        }
    }
    for (&j, &(n, requesting)) in &bound_jobs {
        let job = &after.jobs[j];
        let key = format!("{}/{}", job.namespace, job.name);
        let slots: Vec<&TaskInfo> = job
            .tasks
            .iter()
            .map(|t| after.task(*t))
            .filter(|t| holds_gang_slot(t.status))
            .collect();
        let held = u32::try_from(slots.len()).unwrap_or(u32::MAX);
        if held < job.min_member {
            v.push(format!(
                "(a) job {key} got {n} binds but only {held} of its tasks hold a node, below minMember {}",
                job.min_member
            ));
        }
        for (role, min) in &job.min_task_member {
            let r = slots
                .iter()
                .filter(|t| t.role.as_deref() == Some(role.as_str()))
                .count();
            if (r as u64) < u64::from(*min) {
                v.push(format!(
                    "(a) job {key} got binds but role {role} holds {r} < minTaskMember {min}"
                ));
            }
        }
        if let Some((reason, _)) = &before.jobs[j].problem {
            v.push(format!("(a) job {key} has problem {reason} and was bound"));
        }
        if job.source == JobSource::Foreign {
            v.push(format!("(a) another scheduler's pods were bound ({key})"));
        }
        // Pods that request nothing are backfilled without asking the queue, as in Volcano
        // (whose queue state check lives in proportion's `allocatable`).
        let queue = before.queue(before.jobs[j].queue);
        if queue.state != QueueState::Open && requesting > 0 {
            v.push(format!(
                "(a) job {key} in {:?} queue {} was bound",
                queue.state, queue.name
            ));
        }
        match outcome
            .jobs
            .get(&caldera_framework::JobId::from_idx(j))
            .map(|s| s.phase)
        {
            Some(JobPhase::Running) => {}
            other => v.push(format!(
                "(a) job {key} was bound but ends the cycle in phase {other:?}, not Running"
            )),
        }
    }
}

/// The sum of the requests of the tasks occupying each node, from the tasks alone.
fn occupancy(s: &Snapshot) -> Vec<Resources> {
    let mut sums = vec![Resources::new(); s.nodes.len()];
    for t in &s.tasks {
        if let Some(n) = t.node
            && t.status.occupies_node()
            && let Some(sum) = sums.get_mut(n.idx())
        {
            sum.add(&t.spec.request);
        }
    }
    sums
}

/// The requests of the tasks pipelined onto each node.
fn pipelined_on(s: &Snapshot) -> Vec<Resources> {
    let mut sums = vec![Resources::new(); s.nodes.len()];
    for t in &s.tasks {
        if let Some(n) = t.node
            && t.status == TaskStatus::Pipelined
            && let Some(sum) = sums.get_mut(n.idx())
        {
            sum.add(&t.spec.request);
        }
    }
    sums
}

/// The requests of the tasks occupying each node that are not being released.
fn staying(s: &Snapshot) -> Vec<Resources> {
    let mut sums = vec![Resources::new(); s.nodes.len()];
    for t in &s.tasks {
        if let Some(n) = t.node
            && t.status.occupies_node()
            && t.status != TaskStatus::Releasing
            && let Some(sum) = sums.get_mut(n.idx())
        {
            sum.add(&t.spec.request);
        }
    }
    sums
}

fn over(sum: &Resources, node: &NodeInfo, names: &caldera_framework::ResourceNames) -> Vec<String> {
    let mut out = Vec::new();
    for (id, used) in sum.iter() {
        let cap = node.allocatable.get(id);
        if used > cap {
            out.push(format!("{}: {used} > {cap}", names.name(id)));
        }
    }
    out
}

/// (b)
fn check_capacity(before: &Snapshot, after: &Snapshot, v: &mut Violations) {
    let was = occupancy(before);
    let now = occupancy(after);
    let piped = pipelined_on(after);
    for (i, node) in after.nodes.iter().enumerate() {
        let already_over = !over(&was[i], &before.nodes[i], &before.resources).is_empty();
        if !already_over {
            let excess = over(&now[i], node, &after.resources);
            if !excess.is_empty() {
                v.push(format!(
                    "(b) node {} is over-allocated: {}",
                    node.name,
                    excess.join(", ")
                ));
            }
        }
        if !(now[i].all_le(&node.used) && node.used.all_le(&now[i])) {
            v.push(format!(
                "(b) node {} accounts used {:?} but its occupying tasks request {:?}",
                node.name, node.used, now[i]
            ));
        }
        if !(piped[i].all_le(&node.pipelined) && node.pipelined.all_le(&piped[i])) {
            v.push(format!(
                "(b) node {} accounts pipelined {:?} but its pipelined tasks request {:?}",
                node.name, node.pipelined, piped[i]
            ));
        }
    }
}

/// Checks that what a cycle reserved for later holds: on every node that fit before the cycle
/// (releasing pods aside), the pods that stay, the pods bound this cycle and the pods pipelined
/// onto it (every entry of `Outcome::pipelined`, committed or not) fit its allocatable once its
/// releasing pods are gone. Volcano guarantees this by requiring every placement, not only
/// pipelining, to fit the node's future idle resources.
pub fn check_reservations(before: &Snapshot, after: &Snapshot, outcome: &Outcome) -> Result<(), String> {
    let mut v = Violations::default();
    let mut piped = vec![Resources::new(); after.nodes.len()];
    for p in &outcome.pipelined {
        if let (Some(sum), Some(t)) = (piped.get_mut(p.node.idx()), after.tasks.get(p.task.idx())) {
            sum.add(&t.spec.request);
        }
    }
    let (stay_before, stay_after) = (staying(before), staying(after));
    for (i, node) in after.nodes.iter().enumerate() {
        if !over(&stay_before[i], &before.nodes[i], &before.resources).is_empty() {
            continue;
        }
        let excess = over(&stay_after[i].plus(&piped[i]), node, &after.resources);
        if !excess.is_empty() {
            v.push(format!(
                "node {} is over-committed once its releasing pods are gone: {} (pipelined {:?})",
                node.name,
                excess.join(", "),
                piped[i]
            ));
        }
    }
    v.into_result()
}

/// Checks that every reservation the cycle made (`Outcome::reservations`) still fits in the cluster
/// the cycle left behind, by the pods' expected ends: on each reserved node, at the reservation's
/// start and whenever another reservation on the node begins during it, the node's allocatable
/// covers the pods still expected to run then plus every reservation active then. This is "a
/// backfilled (or any later) job never delays a reservation when the estimates hold".
///
/// Expected ends are recomputed here from the tasks alone: a pod ends at its start (or now, if it
/// has not started) plus its expected run time (else `default_runtime`; none: never), or at the
/// next cycle if that is past or it is being deleted; pods of other schedulers never end. A pod
/// pipelined onto a node holds it from the next cycle, a nominated one from now.
pub fn check_reservations_fit(
    after: &Snapshot,
    outcome: &Outcome,
    default_runtime: Option<caldera_framework::Millis>,
) -> Result<(), String> {
    let mut v = Violations::default();
    let next = after.now.saturating_add(after.period);
    let end_of = |t: &TaskInfo| -> i64 {
        if t.status == TaskStatus::Releasing {
            return next;
        }
        if after.job(t.job).source == JobSource::Foreign {
            return i64::MAX;
        }
        match t.expected_runtime.or(default_runtime) {
            None => i64::MAX,
            Some(rt) => {
                let end = t.started.unwrap_or(after.now).saturating_add(rt);
                if end <= after.now { next } else { end }
            }
        }
    };
    // Reservations by node: (job, start, end, amount).
    let mut claims: BTreeMap<usize, Vec<(caldera_framework::JobId, i64, i64, &Resources)>> = BTreeMap::new();
    for (j, slot) in &outcome.reservations {
        for (n, amount) in &slot.nodes {
            claims
                .entry(n.idx())
                .or_default()
                .push((*j, slot.start, slot.end, amount));
        }
    }
    for (&n, on_node) in &claims {
        let node = &after.nodes[n];
        for &(job, start, end, _) in on_node {
            let mut points = vec![start];
            points.extend(on_node.iter().map(|c| c.1).filter(|s| *s > start && *s < end));
            for p in points {
                let mut need = Resources::new();
                for t in &after.tasks {
                    let rt = t.expected_runtime.or(default_runtime).unwrap_or(i64::MAX);
                    let active = if t.status == TaskStatus::Pipelined && t.node.map(|x| x.idx()) == Some(n) {
                        // Starts once the pods it replaces are gone, at the next cycle.
                        next <= p && p < next.saturating_add(rt)
                    } else if t.status == TaskStatus::Pending && t.nominated.map(|x| x.idx()) == Some(n) {
                        p < after.now.saturating_add(rt)
                    } else {
                        t.node.map(|x| x.idx()) == Some(n) && t.status.occupies_node() && end_of(t) > p
                    };
                    if active {
                        need.add(&t.spec.request);
                    }
                }
                for c in on_node.iter().filter(|c| c.1 <= p && p < c.2) {
                    need.add(c.3);
                }
                let excess = over(&need, node, &after.resources);
                if !excess.is_empty() {
                    v.push(format!(
                        "the reservation of job {} on node {} does not fit at {p}: {}",
                        after.job(job).key(),
                        node.name,
                        excess.join(", ")
                    ));
                }
            }
        }
    }
    v.into_result()
}

/// (d)
fn check_predicates(after: &Snapshot, outcome: &Outcome, v: &mut Violations) {
    for b in &outcome.binds {
        let (Some(t), Some(node)) = (after.tasks.get(b.task.idx()), after.nodes.get(b.node.idx())) else {
            continue;
        };
        if let Err(why) = admits(after, b.task.idx(), t, b.node, node) {
            v.push(format!(
                "(d) task {} was bound to node {}, which {why}",
                task_key(t),
                node.name
            ));
        }
    }
}

/// Whether `node` may take task `t` (index `ti`), given everything else on it after the cycle.
fn admits(s: &Snapshot, ti: usize, t: &TaskInfo, n: NodeId, node: &NodeInfo) -> Result<(), String> {
    let spec = &t.spec;
    if !node.ready {
        return Err("is not ready".to_string());
    }
    if node.unschedulable {
        let cordon = Taint {
            key: UNSCHEDULABLE_TAINT.to_string(),
            value: String::new(),
            effect: TaintEffect::NoSchedule,
        };
        if !spec.tolerations.iter().any(|tol| tolerates(tol, &cordon)) {
            return Err("is cordoned".to_string());
        }
    }
    if let Some(name) = &spec.node_name
        && name != &node.name
    {
        return Err(format!("is not the node {name} the pod names"));
    }
    for (k, want) in &spec.node_selector {
        if node.labels.get(k) != Some(want) {
            return Err(format!("lacks nodeSelector label {k}={want}"));
        }
    }
    if let Some(terms) = &spec.node_affinity.required
        && !terms.iter().any(|term| term_matches(term, node))
    {
        return Err("matches none of the required node affinity terms".to_string());
    }
    for taint in &node.taints {
        let repels = matches!(taint.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute);
        if repels && !spec.tolerations.iter().any(|tol| tolerates(tol, taint)) {
            return Err(format!(
                "has untolerated taint {}={}:{:?}",
                taint.key, taint.value, taint.effect
            ));
        }
    }
    for (oi, other) in s.tasks.iter().enumerate() {
        if oi == ti || other.node != Some(n) || !other.status.occupies_node() {
            continue;
        }
        for mine in &spec.host_ports {
            if other.spec.host_ports.iter().any(|theirs| ports_collide(mine, theirs)) {
                return Err(format!(
                    "already has host port {} in use by {}",
                    mine.port,
                    task_key(other)
                ));
            }
        }
    }
    Ok(())
}

/// Kubernetes' toleration rule, written out.
fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    let effect_ok = match tol.effect {
        None => true,
        Some(e) => e == taint.effect,
    };
    let key_ok = tol.key.is_empty() || tol.key == taint.key;
    let value_ok = match tol.op {
        TolerationOp::Exists => true,
        TolerationOp::Equal => tol.value == taint.value,
    };
    effect_ok && key_ok && value_ok
}

fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    let labels_ok = term
        .match_expressions
        .iter()
        .all(|r| requirement_holds(r, node.labels.get(&r.key).map(String::as_str)));
    let fields_ok = term
        .match_fields
        .iter()
        .all(|r| r.key == "metadata.name" && requirement_holds(r, Some(node.name.as_str())));
    labels_ok && fields_ok
}

fn requirement_holds(r: &Requirement, value: Option<&str>) -> bool {
    let has = |v: &str| r.values.iter().any(|x| x == v);
    match r.op {
        SelectorOp::In => !r.values.is_empty() && value.is_some_and(has),
        SelectorOp::NotIn => !r.values.is_empty() && !value.is_some_and(has),
        SelectorOp::Exists => r.values.is_empty() && value.is_some(),
        SelectorOp::DoesNotExist => r.values.is_empty() && value.is_none(),
        SelectorOp::Gt | SelectorOp::Lt => {
            if r.values.len() != 1 {
                return false;
            }
            let (Some(v), Ok(bound)) = (value, r.values[0].parse::<i64>()) else {
                return false;
            };
            let Ok(v) = v.parse::<i64>() else { return false };
            if r.op == SelectorOp::Gt { v > bound } else { v < bound }
        }
    }
}

fn ports_collide(a: &HostPort, b: &HostPort) -> bool {
    let any = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
    a.port == b.port && a.protocol == b.protocol && (any(&a.ip) || any(&b.ip) || a.ip == b.ip)
}

/// How much of resource `id` the tasks occupying each node request (for tests that reason about
/// capacity by hand).
pub fn occupied(s: &Snapshot, id: ResourceId) -> Vec<i64> {
    occupancy(s).iter().map(|r| r.get(id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClusterBuilder;
    use caldera_framework::outcome::{Bind, JobStatus};
    use caldera_framework::{JobId, TaskId};

    fn small() -> ClusterBuilder {
        let mut c = ClusterBuilder::new();
        c.node("n1").cpu(4).mem_gi(8);
        c.node("tainted")
            .cpu(4)
            .mem_gi(8)
            .taint("gpu", "true", TaintEffect::NoSchedule);
        c.node("zoned").cpu(4).mem_gi(8).label("zone", "a");
        c.node("down").cpu(4).mem_gi(8).not_ready();
        c.gang("ns", "g", "default", 2, 2, |p| p.cpu(2));
        c.pod("ns", "port", |p| p.cpu_m(100).host_port(80));
        c.bound_pod("ns", "web", "n1", |p| p.cpu_m(100).host_port(80));
        c.pod("ns", "picky", |p| p.cpu_m(100).node_selector("zone", "a"));
        c
    }

    fn task(s: &Snapshot, name: &str) -> TaskId {
        TaskId::from_idx(s.tasks.iter().position(|t| t.name == name).expect("task"))
    }

    /// Applies binds by hand, as a broken engine might, and returns the violations.
    fn violations(c: &ClusterBuilder, binds: &[(&str, &str)]) -> String {
        let before = c.build(0);
        let mut after = before.clone();
        let mut out = Outcome::default();
        for (t, n) in binds {
            let (t, n) = (task(&before, t), before.node_by_name(n).expect("node"));
            let task = &mut after.tasks[t.idx()];
            task.status = TaskStatus::Binding;
            task.node = Some(n);
            let req = task.spec.request.clone();
            after.nodes[n.idx()].used.add(&req);
            out.binds.push(Bind { task: t, node: n });
            let j = before.task(t).job;
            out.jobs.insert(
                j,
                JobStatus {
                    phase: JobPhase::Running,
                    condition: None,
                },
            );
        }
        match check(&before, &after, &out) {
            Ok(()) => String::new(),
            Err(e) => e,
        }
    }

    #[test]
    fn a_correct_cycle_passes() {
        assert_eq!(
            violations(&small(), &[("g-0", "n1"), ("g-1", "zoned"), ("picky", "zoned")]),
            ""
        );
        assert_eq!(violations(&small(), &[]), "");
    }

    #[test]
    fn each_broken_rule_is_reported() {
        let c = small();
        assert!(
            violations(&c, &[("g-0", "n1")]).contains("(a) job ns/g got 1 binds"),
            "partial gang"
        );
        assert!(violations(&c, &[("g-0", "n1"), ("g-1", "n1")]).contains("(b) node n1 is over-allocated: cpu"));
        assert!(violations(&c, &[("g-0", "tainted"), ("g-1", "n1")]).contains("untolerated taint gpu=true"));
        assert!(violations(&c, &[("g-0", "down"), ("g-1", "n1")]).contains("is not ready"));
        assert!(violations(&c, &[("picky", "n1")]).contains("lacks nodeSelector label zone=a"));
        assert!(violations(&c, &[("port", "n1")]).contains("host port 80 in use by ns/web"));
        assert!(violations(&c, &[("web", "zoned")]).contains("was Running, not Pending"));
        assert!(violations(&c, &[("port", "zoned"), ("port", "zoned")]).contains("bound twice"));
    }

    #[test]
    fn accounting_and_leftovers_are_checked() {
        let c = small();
        let before = c.build(0);
        let mut after = before.clone();
        let n1 = before.node_by_name("n1").expect("n1");
        after.nodes[n1.idx()].used = Resources::new();
        after.tasks[task(&before, "picky").idx()].status = TaskStatus::Allocated;
        let e = check(&before, &after, &Outcome::default()).expect_err("broken");
        assert!(e.contains("accounts used"), "{e}");
        assert!(e.contains("left Allocated"), "{e}");
        let mut out = Outcome::default();
        out.jobs.insert(
            JobId(0),
            JobStatus {
                phase: JobPhase::Pending,
                condition: None,
            },
        );
        assert!(check(&before, &before, &out).is_ok());
    }

    #[test]
    fn requirement_and_toleration_rules() {
        let r = |op, vals: &[&str]| Requirement {
            key: "k".into(),
            op,
            values: vals.iter().map(|v| v.to_string()).collect(),
        };
        assert!(requirement_holds(&r(SelectorOp::In, &["a"]), Some("a")));
        assert!(!requirement_holds(&r(SelectorOp::In, &["a"]), None));
        assert!(requirement_holds(&r(SelectorOp::NotIn, &["a"]), None));
        assert!(!requirement_holds(&r(SelectorOp::NotIn, &["a"]), Some("a")));
        assert!(requirement_holds(&r(SelectorOp::Gt, &["3"]), Some("4")));
        assert!(!requirement_holds(&r(SelectorOp::Lt, &["3"]), Some("x")));
        assert!(
            !requirement_holds(&r(SelectorOp::Exists, &["a"]), Some("a")),
            "malformed"
        );
        let taint = Taint {
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        };
        let tol = |key: &str, op, value: &str, effect| Toleration {
            key: key.into(),
            op,
            value: value.into(),
            effect,
        };
        assert!(tolerates(&tol("", TolerationOp::Exists, "", None), &taint));
        assert!(!tolerates(&tol("gpu", TolerationOp::Equal, "false", None), &taint));
        assert!(!tolerates(
            &tol("gpu", TolerationOp::Exists, "", Some(TaintEffect::NoExecute)),
            &taint
        ));
    }
}

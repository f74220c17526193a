//! The objects of a run, as each scheduler expects them: the same pods (names, requests, order),
//! grouped in the API that scheduler reads.
//!
//! | scheduler | gangs as | queues |
//! |---|---|---|
//! | Caldera | Volcano PodGroups (`spec.queue`), pods annotated `scheduling.k8s.io/group-name` | Volcano Queues |
//! | raw binder | nothing: pods only | — |
//! | kube-scheduler | native `scheduling.k8s.io/v1beta1` PodGroups (`schedulingPolicy.gang.minCount`), pods with `spec.schedulingGroup.podGroupName` | — |
//! | a peer (Volcano conventions) | Volcano PodGroups; every pod in one (vc-scheduler ignores pods without) | Volcano Queues with `status.state: Open` |

use serde_json::{Value, json};

use crate::shapes::{
    FILLER_NAMESPACE, GPUS_PER_NODE, MEASURED_LABEL, MIG_PER_NODE, MIG_RESOURCE, NAMESPACE, Shape, Workload,
    is_mig_node, mix_sizes, node_name,
};

/// How a scheduler wants gangs and queues expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Volcano PodGroups and Queues; plain pods without a group.
    Caldera,
    /// No groups at all.
    Raw,
    /// Native PodGroups.
    Kube,
    /// Volcano PodGroups for every pod, Queues created Open.
    Volcano,
}

/// One object to create: the collection to POST to and the body.
#[derive(Clone, Debug)]
pub struct Obj {
    /// Collection path, e.g. `/api/v1/namespaces/bench/pods`.
    pub path: String,
    /// `metadata.name`.
    pub name: String,
    /// The JSON body.
    pub body: Vec<u8>,
    /// A merge patch for the `status` subresource, sent after the create (Queue `state: Open`).
    pub status: Option<Vec<u8>>,
}

impl Obj {
    fn new(path: String, value: &Value, status: Option<Value>) -> Obj {
        Obj {
            path,
            name: value["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            body: value.to_string().into_bytes(),
            status: status.map(|s| json!({ "status": s }).to_string().into_bytes()),
        }
    }
}

/// A PodGroup (if any) and its pods; in stream mode the group is created just before its pods.
#[derive(Clone, Debug)]
pub struct Unit {
    /// The PodGroup.
    pub group: Option<Obj>,
    /// The pods.
    pub pods: Vec<Obj>,
}

/// Everything a run creates.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// Created first, before anything is timed (namespace, queues).
    pub setup: Vec<Obj>,
    /// The workload.
    pub units: Vec<Unit>,
}

impl Objects {
    /// Number of measured pods.
    pub fn pods(&self) -> usize {
        self.units.iter().map(|u| u.pods.len()).sum()
    }
}

const PODS: &str = "/api/v1/namespaces/bench/pods";
const VOLCANO_GROUPS: &str = "/apis/scheduling.volcano.sh/v1beta1/namespaces/bench/podgroups";
const NATIVE_GROUPS: &str = "/apis/scheduling.k8s.io/v1beta1/namespaces/bench/podgroups";
const QUEUES: &str = "/apis/scheduling.volcano.sh/v1beta1/queues";

/// Requests (= limits) of a pod.
type Requests = &'static [(&'static str, &'static str)];
const SMALL: Requests = &[("cpu", "100m"), ("memory", "128Mi")];
const GPU_POD: Requests = &[("cpu", "1"), ("memory", "4Gi"), ("nvidia.com/gpu", "1")];
const MIG_POD: Requests = &[("cpu", "1"), ("memory", "4Gi"), (MIG_RESOURCE, "1")];
const COLD_POD: Requests = &[("cpu", "500m"), ("memory", "1Gi")];

/// A namespace object.
pub fn namespace(name: &str) -> Obj {
    Obj::new(
        "/api/v1/namespaces".to_owned(),
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        None,
    )
}

/// Node `i` of a shape: 64 CPUs, 512 GiB, 110 pods, and 8 GPUs (or, every 10th node, 7 MIG
/// slices). kwok makes it Ready; allocatable = capacity.
pub fn node(i: usize) -> Obj {
    let name = node_name(i);
    let (accel, count, product) = if is_mig_node(i) {
        (MIG_RESOURCE, MIG_PER_NODE, "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb")
    } else {
        ("nvidia.com/gpu", GPUS_PER_NODE, "NVIDIA-A100-SXM4-80GB")
    };
    let capacity = json!({
        "cpu": "64", "memory": "512Gi", "pods": "110", "ephemeral-storage": "1Ti", accel: count.to_string(),
    });
    let v = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok",
            "topology.kubernetes.io/zone": format!("zone-{}", i % 8), "nvidia.com/gpu.product": product,
        }},
        "spec": {},
        "status": {"capacity": capacity, "allocatable": capacity},
    });
    Obj::new("/api/v1/nodes".to_owned(), &v, None)
}

/// Filler pod `i` of a cold start: already bound (spec.nodeName) to node `i % nodes`, owned by no
/// benchmarked scheduler; every 4th round of pods on a GPU node holds a GPU.
pub fn filler_pod(i: usize, nodes: usize) -> Obj {
    let n = i % nodes.max(1);
    let gpu = !is_mig_node(n) && (i / nodes.max(1)).is_multiple_of(4);
    let requests: Requests = if gpu {
        &[("cpu", "1"), ("memory", "2Gi"), ("nvidia.com/gpu", "1")]
    } else {
        &[("cpu", "1"), ("memory", "2Gi")]
    };
    let mut v = pod_json(&format!("f-{i:06}"), "default-scheduler", requests, Link::None);
    v["metadata"]["namespace"] = json!(FILLER_NAMESPACE);
    if let Some(labels) = v["metadata"]["labels"].as_object_mut() {
        labels.clear();
    }
    v["spec"]["nodeName"] = json!(node_name(n));
    Obj::new(format!("/api/v1/namespaces/{FILLER_NAMESPACE}/pods"), &v, None)
}

/// How a pod names its gang.
#[derive(Clone, Copy)]
enum Link<'a> {
    None,
    Volcano(&'a str),
    Native(&'a str),
}

fn pod_json(name: &str, scheduler: &str, requests: Requests, link: Link<'_>) -> Value {
    let res: serde_json::Map<String, Value> = requests.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let mut v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {MEASURED_LABEL: "true"}},
        "spec": {
            "schedulerName": scheduler,
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": "registry.invalid/bench:1",
                            "resources": {"requests": res, "limits": res}}],
        },
    });
    match link {
        Link::None => {}
        Link::Volcano(g) => v["metadata"]["annotations"] = json!({"scheduling.k8s.io/group-name": g}),
        Link::Native(g) => v["spec"]["schedulingGroup"] = json!({"podGroupName": g}),
    }
    v
}

fn volcano_group(name: &str, min: usize, queue: &str) -> Obj {
    let v = json!({
        "apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"minMember": min, "queue": queue},
    });
    Obj::new(VOLCANO_GROUPS.to_owned(), &v, None)
}

fn native_group(name: &str, min: usize) -> Obj {
    let v = json!({
        "apiVersion": "scheduling.k8s.io/v1beta1", "kind": "PodGroup",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"schedulingPolicy": {"gang": {"minCount": min}}},
    });
    Obj::new(NATIVE_GROUPS.to_owned(), &v, None)
}

fn queue(name: &str, weight: u32, reclaimable: bool) -> Obj {
    let v = json!({
        "apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue",
        "metadata": {"name": name},
        "spec": {"weight": weight, "reclaimable": reclaimable},
        "status": {"state": "Open"},
    });
    // With a status subresource the create drops `status`; the patch then sets it.
    Obj::new(QUEUES.to_owned(), &v, Some(json!({"state": "Open"})))
}

/// A gang of `size` pods named `name-i`, in `queue`.
fn gang(flavor: Flavor, scheduler: &str, name: &str, size: usize, requests: Requests, queue: &str) -> Unit {
    let link = match flavor {
        Flavor::Caldera | Flavor::Volcano => Link::Volcano(name),
        Flavor::Kube => Link::Native(name),
        Flavor::Raw => Link::None,
    };
    let group = match flavor {
        Flavor::Caldera | Flavor::Volcano => Some(volcano_group(name, size, queue)),
        Flavor::Kube => Some(native_group(name, size)),
        Flavor::Raw => None,
    };
    let pods = (0..size)
        .map(|i| {
            let v = pod_json(&format!("{name}-{i:04}"), scheduler, requests, link);
            Obj::new(PODS.to_owned(), &v, None)
        })
        .collect();
    Unit { group, pods }
}

/// A pod without a gang (for the Volcano flavor: in a PodGroup of one, which vc-scheduler needs).
fn single(flavor: Flavor, scheduler: &str, name: &str, requests: Requests) -> Unit {
    let (group, link) = if flavor == Flavor::Volcano {
        (Some(volcano_group(name, 1, "default")), Link::Volcano(name))
    } else {
        (None, Link::None)
    };
    let v = pod_json(name, scheduler, requests, link);
    Unit {
        group,
        pods: vec![Obj::new(PODS.to_owned(), &v, None)],
    }
}

/// The queues of the mix: weights 1–4.
pub const MIX_QUEUES: [(&str, u32); 4] = [("q1", 1), ("q2", 2), ("q3", 3), ("q4", 4)];

/// Everything a run of `shape` creates for a scheduler of `flavor` called `scheduler`.
pub fn objects(shape: &Shape, flavor: Flavor, scheduler: &str) -> Objects {
    let mut setup = vec![namespace(NAMESPACE)];
    if matches!(flavor, Flavor::Caldera | Flavor::Volcano) {
        setup.push(queue("root", 1, false));
        setup.push(queue("default", 1, true));
        if matches!(shape.workload, Workload::Mix { .. }) {
            setup.extend(MIX_QUEUES.iter().map(|(q, w)| queue(q, *w, true)));
        }
    }
    let units = match &shape.workload {
        Workload::Plain { pods } => (0..*pods)
            .map(|i| single(flavor, scheduler, &format!("p-{i:05}"), SMALL))
            .collect(),
        Workload::Gangs { count, size } => (0..*count)
            .map(|g| gang(flavor, scheduler, &format!("g-{g:04}"), *size, SMALL, "default"))
            .collect(),
        Workload::Mix { gangs } => mix_sizes(*gangs)
            .into_iter()
            .enumerate()
            .map(|(g, size)| {
                let requests = if g % 10 == 9 { MIG_POD } else { GPU_POD };
                let q = MIX_QUEUES[g % MIX_QUEUES.len()].0;
                gang(flavor, scheduler, &format!("m-{g:03}"), size, requests, q)
            })
            .collect(),
        Workload::ColdStart { pending, .. } => (0..*pending)
            .map(|i| single(flavor, scheduler, &format!("c-{i:05}"), COLD_POD))
            .collect(),
        Workload::Smoke { plain, gangs, size } => {
            let mut u: Vec<Unit> = (0..*plain)
                .map(|i| single(flavor, scheduler, &format!("p-{i:05}"), SMALL))
                .collect();
            u.extend((0..*gangs).map(|g| gang(flavor, scheduler, &format!("g-{g:04}"), *size, GPU_POD, "default")));
            u
        }
    };
    Objects { setup, units }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::by_name;

    fn parse(o: &Obj) -> Value {
        serde_json::from_slice(&o.body).expect("valid JSON")
    }

    #[test]
    fn every_flavor_creates_the_same_pods() {
        for name in ["smoke", "gangs-1000x3-1k", "mix-1k", "plain-1k"] {
            let shape = by_name(name).expect("shape");
            let names = |f: Flavor| -> Vec<String> {
                objects(&shape, f, "s")
                    .units
                    .iter()
                    .flat_map(|u| u.pods.iter().map(|p| p.name.clone()))
                    .collect()
            };
            let caldera = names(Flavor::Caldera);
            assert_eq!(caldera.len(), shape.measured_pods(), "{name}");
            for f in [Flavor::Raw, Flavor::Kube, Flavor::Volcano] {
                assert_eq!(names(f), caldera, "{name} {f:?}");
            }
        }
    }

    #[test]
    fn gangs_link_pods_in_each_api() {
        let shape = by_name("smoke").expect("shape");
        let gang_unit = |f: Flavor| {
            objects(&shape, f, "sched")
                .units
                .into_iter()
                .find(|u| u.pods.len() > 1)
                .expect("a gang")
        };
        let u = gang_unit(Flavor::Kube);
        let pod = parse(&u.pods[0]);
        let group = parse(u.group.as_ref().expect("group"));
        assert_eq!(
            pod["spec"]["schedulingGroup"]["podGroupName"],
            group["metadata"]["name"]
        );
        assert_eq!(group["spec"]["schedulingPolicy"]["gang"]["minCount"], 4);
        assert_eq!(pod["spec"]["schedulerName"], "sched");
        let u = gang_unit(Flavor::Caldera);
        let pod = parse(&u.pods[0]);
        let group = parse(u.group.as_ref().expect("group"));
        assert_eq!(
            pod["metadata"]["annotations"]["scheduling.k8s.io/group-name"],
            group["metadata"]["name"]
        );
        assert_eq!(group["spec"]["queue"], "default");
        assert!(gang_unit(Flavor::Raw).group.is_none());
        // GPU requests come with equal limits (the API requires it for extended resources).
        assert_eq!(
            pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
            "1"
        );
    }

    #[test]
    fn volcano_flavor_puts_plain_pods_in_groups_and_opens_queues() {
        let shape = by_name("plain-1k").expect("shape");
        let o = objects(&shape, Flavor::Volcano, "volcano");
        assert!(o.units.iter().all(|u| u.group.is_some()));
        let queues: Vec<&Obj> = o.setup.iter().filter(|x| x.path == QUEUES).collect();
        assert_eq!(queues.len(), 2);
        assert!(queues.iter().all(|q| q.status.is_some()));
        let o = objects(&shape, Flavor::Caldera, "caldera");
        assert!(o.units.iter().all(|u| u.group.is_none()));
    }

    #[test]
    fn filler_pods_are_bound_and_unmeasured() {
        let p: Value = serde_json::from_slice(&filler_pod(1234, 1000).body).expect("json");
        assert_eq!(p["spec"]["nodeName"], node_name(234));
        assert_eq!(p["metadata"]["namespace"], FILLER_NAMESPACE);
        assert!(
            p["metadata"]["labels"]
                .as_object()
                .is_some_and(serde_json::Map::is_empty)
        );
    }
}

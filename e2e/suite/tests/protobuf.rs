//! The first pod list is read in protobuf (scheduler/src/runtime/podproto.rs). Its message
//! declarations carry Kubernetes' field numbers by hand, so this test holds them against what
//! the real API server writes: every pod field Caldera reads must convert exactly as it does
//! from the same list in JSON.

use std::time::Duration;

use caldera::runtime::lean::LeanPod;
use caldera::runtime::{podproto, protolist, protowatch};
use caldera_e2e::*;
use caldera_framework::{ResourceNames, convert};
use futures::StreamExt;
use http::{HeaderValue, header};
use http_body_util::BodyExt;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, WatchParams};
use kube::client::Body;
use kube::core::Request;

/// A pod with every field the converters read, plus what admission adds to it (priority and
/// preemption policy from its PriorityClass, overhead from its RuntimeClass).
const RICH: &str = r#"
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: pb-high}
value: 1000
preemptionPolicy: Never
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: pb-rc}
handler: runc
overhead: {podFixed: {cpu: 250m}}
---
apiVersion: v1
kind: Pod
metadata:
  name: pb-rich
  namespace: default
  labels: {app: x, shard: "3"}
  annotations: {scheduling.k8s.io/group-name: g, volcano.sh/task-spec: worker}
spec:
  schedulerName: caldera
  priorityClassName: pb-high
  runtimeClassName: pb-rc
  nodeSelector: {pool: gpu}
  resources: {requests: {memory: 8Gi}}
  schedulingGroup: {podGroupName: native-g}
  tolerations:
  - {key: gpu, operator: Exists, effect: NoSchedule}
  - {key: team, value: ml}
  initContainers:
  - name: sidecar
    image: img-sidecar
    restartPolicy: Always
    ports: [{containerPort: 81, hostPort: 8081, protocol: UDP, hostIP: 10.0.0.1}]
    resources: {limits: {nvidia.com/gpu: "1"}}
  - name: setup
    image: img-setup
    resources: {requests: {cpu: "2"}, limits: {nvidia.com/gpu: "4"}}
  containers:
  - name: main
    image: img-main
    ports:
    - {containerPort: 80, hostPort: 8080, protocol: UDP, hostIP: 10.0.0.1}
    - {name: metrics, containerPort: 9090}
    resources: {requests: {cpu: 500m}, limits: {nvidia.com/gpu: "2"}}
  - name: aux
    image: img-aux
    resources: {requests: {cpu: 100m}}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: gpu, operator: Gt, values: ["4"]}]
          matchFields: [{key: metadata.name, operator: NotIn, values: [n-9]}]
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 7
        preference: {matchExpressions: [{key: zone, operator: In, values: [a, b]}]}
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: db}, matchExpressions: [{key: tier, operator: NotIn, values: [web]}]}
        namespaces: [ns-a]
        topologyKey: zone
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: x}}
        namespaceSelector: {}
        topologyKey: kubernetes.io/hostname
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 30
        podAffinityTerm:
          labelSelector: {matchExpressions: [{key: app, operator: Exists}]}
          topologyKey: zone
  topologySpreadConstraints:
  - maxSkew: 2
    topologyKey: zone
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app: x}}
    minDomains: 3
    nodeAffinityPolicy: Ignore
    matchLabelKeys: [shard]
---
apiVersion: v1
kind: Pod
metadata:
  name: pb-leaving
  namespace: default
  finalizers: [caldera.test/hold]
spec:
  containers: [{name: c, image: i}]
"#;

#[tokio::test]
async fn every_pod_field_caldera_reads_comes_out_of_a_protobuf_list_as_out_of_a_json_one() {
    let cp = ControlPlane::start().await.expect("the control plane must start");
    let client = cp.client();
    let node = nodes(&client, "pb", 1, 8, &[]).await.expect("node")[0].clone();
    apply_yaml(&client, RICH).await.expect("the rich pod is accepted");
    // Bound to the kwok node: kwok runs it, so it has a phase and a start time.
    pod("pb-running", None, 1)
        .spec_field("nodeName", serde_json::json!(node))
        .create(&client)
        .await
        .expect("bound pod");
    let pods: Api<LeanPod> = Api::namespaced(client.clone(), NS);
    pods.delete("pb-leaving", &DeleteParams::default())
        .await
        .expect("deleting a pod that a finalizer holds");
    wait_for("pb-running to run", Duration::from_secs(60), || async {
        let p = pods.get("pb-running").await.map_err(|e| e.to_string())?;
        match p.0.status.as_ref().and_then(|s| s.start_time.as_ref()) {
            Some(_) => Ok(()),
            None => Err("no start time yet".to_owned()),
        }
    })
    .await
    .expect("kwok runs the bound pod");

    let json = pods.list(&ListParams::default()).await.expect("JSON list").items;

    let mut req = Request::new(format!("/api/v1/namespaces/{NS}/pods"))
        .list(&ListParams::default())
        .expect("request");
    req.headers_mut()
        .insert(header::ACCEPT, HeaderValue::from_static(protolist::ACCEPT));
    let res = client.send(req.map(Body::from)).await.expect("protobuf list");
    assert!(res.status().is_success(), "HTTP {}", res.status());
    let content_type = res.headers().get(header::CONTENT_TYPE).cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some(protolist::MEDIA_TYPE),
        "pods are served in protobuf"
    );
    let body = res.into_body().collect_bytes().await.expect("body");
    let head = protolist::head(&body).expect("list metadata");
    assert!(head.resource_version.is_some_and(|v| !v.is_empty()));
    let proto = podproto::decode_list(&body).expect("the protobuf list decodes");

    let names = |v: &[LeanPod]| v.iter().map(|p| p.0.metadata.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&proto), names(&json));
    assert_eq!(json.len(), 3);
    let ours = ["caldera".to_owned()];
    for (j, p) in json.iter().zip(&proto) {
        let name = j.0.metadata.name.clone().unwrap_or_default();
        let (mut n1, mut n2) = (ResourceNames::default(), ResourceNames::default());
        let a = convert::pod_record(&j.0, &ours, &mut n1, 0).expect("the JSON pod converts");
        let b = convert::pod_record(&p.0, &ours, &mut n2, 0).expect("the protobuf pod converts");
        assert_eq!(a, b, "pod {name}");
        assert_eq!(
            (&p.0.metadata.namespace, &p.0.metadata.resource_version),
            (&j.0.metadata.namespace, &j.0.metadata.resource_version),
            "pod {name}"
        );
    }
    // The fields above are really there, so the comparison covered them.
    let rich = convert::pod_record(&proto[1].0, &ours, &mut ResourceNames::default(), 0).expect("converts");
    assert_eq!(rich.name, "pb-rich");
    assert_eq!((rich.priority, rich.never_preempts), (Some(1000), true));
    // Two of its own and the two that admission adds (not-ready and unreachable, for 300 s).
    assert_eq!(rich.spec.tolerations.len(), 4);
    assert_eq!(rich.spec.host_ports.len(), 2);
    assert_eq!(rich.spec.node_affinity.preferred.len(), 1);
    assert_eq!(rich.spec.pod_affinity.len(), 1);
    assert_eq!(rich.spec.preferred_pod_anti_affinity.len(), 1);
    assert_eq!(rich.spec.topology_spread.len(), 1);
    let leaving = convert::pod_record(&proto[0].0, &ours, &mut ResourceNames::default(), 0).expect("converts");
    assert!(leaving.deleting);
    let running = convert::pod_record(&proto[2].0, &ours, &mut ResourceNames::default(), 0).expect("converts");
    assert_eq!(running.node_name.as_deref(), Some(node.as_str()));
    assert!(running.started.is_some());

    // The watch: a change to the rich pod arrives in protobuf and reads as the pod does in JSON.
    let version = head_version(&body);
    let mut req = Request::new(format!("/api/v1/namespaces/{NS}/pods"))
        .watch(&WatchParams::default(), &version)
        .expect("request");
    req.headers_mut()
        .insert(header::ACCEPT, HeaderValue::from_static(protowatch::ACCEPT));
    let res = client.send(req.map(Body::from)).await.expect("protobuf watch");
    assert!(res.status().is_success(), "HTTP {}", res.status());
    let mut data = res.into_body().into_data_stream();
    let patch = serde_json::json!({"metadata": {"labels": {"changed": "yes"}}});
    pods.patch("pb-rich", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    let mut frames = protowatch::Frames::default();
    let changed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            while let Some(frame) = frames.next_frame().expect("whole frames") {
                match protowatch::event(frame, podproto::decode_object).expect("the event decodes") {
                    protowatch::Event::Changed(p) if p.0.metadata.name.as_deref() == Some("pb-rich") => return p,
                    _ => {}
                }
            }
            let chunk = data.next().await.expect("the watch goes on").expect("bytes");
            frames.push(&chunk);
        }
    })
    .await
    .expect("the change arrives");
    // An open watch would hold the API server's shutdown for its whole grace period.
    drop(data);
    let now = pods.get("pb-rich").await.expect("JSON get");
    let (mut n1, mut n2) = (ResourceNames::default(), ResourceNames::default());
    let a = convert::pod_record(&now.0, &ours, &mut n1, 0).expect("converts");
    let b = convert::pod_record(&changed.0, &ours, &mut n2, 0).expect("converts");
    assert_eq!(a, b);
    assert_eq!(b.labels.get("changed").map(String::as_str), Some("yes"));
    assert_eq!(changed.0.metadata.resource_version, now.0.metadata.resource_version);
}

fn head_version(body: &bytes::Bytes) -> String {
    protolist::head(body)
        .expect("list metadata")
        .resource_version
        .unwrap_or_default()
}

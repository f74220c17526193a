//! The generated CRDs: installable on a real apiserver, shaped like upstream's, and in sync with
//! the YAML committed under `manifests/crds`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use caldera_crds::{
    all_crds,
    manifest::{self, Drift},
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion,
};
use serde_json::Value;

fn crd(file: &str) -> CustomResourceDefinition {
    all_crds()
        .into_iter()
        .find(|(f, _)| *f == file)
        .unwrap_or_else(|| panic!("{file} is generated"))
        .1
}

fn version(crd: &CustomResourceDefinition) -> &CustomResourceDefinitionVersion {
    assert_eq!(crd.spec.versions.len(), 1);
    &crd.spec.versions[0]
}

fn short_names(crd: &CustomResourceDefinition) -> Vec<&str> {
    crd.spec
        .names
        .short_names
        .iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

fn columns(crd: &CustomResourceDefinition) -> Vec<(&str, &str, &str, Option<i32>)> {
    version(crd)
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.type_.as_str(), c.json_path.as_str(), c.priority))
        .collect()
}

fn schema(crd: &CustomResourceDefinition) -> Value {
    let schema = version(crd).schema.as_ref().unwrap().open_api_v3_schema.as_ref();
    serde_json::to_value(schema.unwrap()).unwrap()
}

const VOLCANO_POD_GROUP: &str = "scheduling.volcano.sh_podgroups.yaml";
const VOLCANO_QUEUE: &str = "scheduling.volcano.sh_queues.yaml";
const COSCHEDULING_POD_GROUP: &str = "scheduling.x-k8s.io_podgroups.yaml";

#[test]
fn file_names_follow_group_and_plural() {
    let crds = all_crds();
    assert_eq!(crds.len(), 3);
    for (file, crd) in &crds {
        assert_eq!(*file, format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural));
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(format!("{}.{}", crd.spec.names.plural, crd.spec.group).as_str())
        );
    }
}

#[test]
fn volcano_pod_group_matches_upstream_shape() {
    let crd = crd(VOLCANO_POD_GROUP);
    assert_eq!(crd.spec.group, "scheduling.volcano.sh");
    assert_eq!(crd.spec.names.kind, "PodGroup");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(short_names(&crd), ["pg", "podgroup-v1beta1"]);
    let v = version(&crd);
    assert_eq!(v.name, "v1beta1");
    assert!(v.served && v.storage);
    // Upstream has `subresources: {}`; status is written with the object.
    assert!(v.subresources.as_ref().and_then(|s| s.status.as_ref()).is_none());
    assert_eq!(
        columns(&crd),
        [
            ("STATUS", "string", ".status.phase", None),
            ("minMember", "integer", ".spec.minMember", None),
            ("RUNNINGS", "integer", ".status.running", None),
            ("AGE", "date", ".metadata.creationTimestamp", None),
            ("QUEUE", "string", ".spec.queue", Some(1)),
        ]
    );
    let s = schema(&crd);
    assert_eq!(s["properties"]["spec"]["properties"]["queue"]["default"], "default");
    assert!(s["properties"]["status"]["properties"]["phase"].get("enum").is_none());
}

#[test]
fn volcano_queue_matches_upstream_shape() {
    let crd = crd(VOLCANO_QUEUE);
    assert_eq!(crd.spec.group, "scheduling.volcano.sh");
    assert_eq!(crd.spec.names.kind, "Queue");
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(short_names(&crd), ["q", "queue-v1beta1"]);
    let v = version(&crd);
    assert_eq!(v.name, "v1beta1");
    assert!(v.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
    assert_eq!(columns(&crd), [("PARENT", "string", ".spec.parent", None)]);
    let weight = &schema(&crd)["properties"]["spec"]["properties"]["weight"];
    assert_eq!(weight["default"], 1);
    assert_eq!(weight["minimum"], 1.0);
}

#[test]
fn coscheduling_pod_group_matches_upstream_shape() {
    let crd = crd(COSCHEDULING_POD_GROUP);
    assert_eq!(crd.spec.group, "scheduling.x-k8s.io");
    assert_eq!(crd.spec.names.kind, "PodGroup");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(short_names(&crd), ["pg", "pgs"]);
    let v = version(&crd);
    assert_eq!(v.name, "v1alpha1");
    assert!(v.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
    let names: Vec<_> = columns(&crd).iter().map(|c| c.0).collect();
    assert_eq!(names, ["Phase", "MinMember", "Running", "Succeeded", "Failed", "Age"]);
    // A `default: 0` here would contradict `minimum: 1` and the apiserver would refuse the CRD.
    let min_member = &schema(&crd)["properties"]["spec"]["properties"]["minMember"];
    assert_eq!(min_member["minimum"], 1.0);
    assert!(min_member.get("default").is_none());
}

/// The rules of a structural schema that the apiserver enforces on `apiextensions.k8s.io/v1`,
/// checked on every node, plus the absence of `$ref`, which v1 forbids outright.
fn assert_structural(path: &str, node: &Value) {
    let obj = node.as_object().unwrap_or_else(|| panic!("{path}: not an object"));
    assert!(!obj.contains_key("$ref"), "{path}: $ref");
    assert!(!obj.contains_key("definitions"), "{path}: definitions");
    assert!(!obj.contains_key("$defs"), "{path}: $defs");
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    assert!(obj.contains_key("type") || int_or_string || preserve, "{path}: no type");
    if obj.get("default") == Some(&Value::Null) {
        panic!("{path}: null default");
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for (i, sub) in obj.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
            // Junctors may only restate validation; types live on the parent.
            assert!(sub.get("type").is_none(), "{path}.{key}[{i}]: typed junctor");
        }
    }
    for (name, sub) in obj.get("properties").and_then(Value::as_object).into_iter().flatten() {
        assert_structural(&format!("{path}.{name}"), sub);
    }
    if let Some(items) = obj.get("items") {
        assert_structural(&format!("{path}[]"), items);
    }
    if let Some(values) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        assert_structural(&format!("{path}{{}}"), values);
    }
}

#[test]
fn schemas_are_structural() {
    for (file, crd) in all_crds() {
        let text = serde_json::to_string(&crd).unwrap();
        assert!(!text.contains("$ref"), "{file}: $ref");
        assert_structural(file, &schema(&crd));
    }
}

#[test]
fn resource_lists_are_int_or_string() {
    let paths: &[(&str, &[&str])] = &[
        (VOLCANO_POD_GROUP, &["spec", "minResources"]),
        (VOLCANO_QUEUE, &["spec", "capability"]),
        (VOLCANO_QUEUE, &["spec", "deserved"]),
        (VOLCANO_QUEUE, &["status", "allocated"]),
        (COSCHEDULING_POD_GROUP, &["spec", "minResources"]),
    ];
    for (file, path) in paths {
        let mut node = schema(&crd(file));
        for p in *path {
            node = node["properties"][*p].clone();
        }
        assert_eq!(node["type"], "object", "{file} {path:?}");
        assert_eq!(
            node["additionalProperties"]["x-kubernetes-int-or-string"], true,
            "{file} {path:?}"
        );
    }
}

#[test]
fn rendered_yaml_starts_with_the_header_and_parses_back() {
    for (file, text) in manifest::render_all().unwrap() {
        assert!(text.starts_with(manifest::HEADER), "{file}");
        let parsed: CustomResourceDefinition = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(parsed, crd(file));
    }
}

fn workspace_manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/crds")
}

#[test]
fn committed_manifests_are_current() {
    let drift = manifest::check(&workspace_manifests()).unwrap();
    assert!(
        drift.is_empty(),
        "manifests/crds is out of date; run `cargo run -p caldera-crds --bin crdgen` from the \
         workspace root:\n{}",
        drift.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    );
}

/// A fresh, empty directory under the system temp dir, unique to this test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caldera-crds-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn check_reports_missing_then_stale_and_write_fixes_both() {
    let dir = scratch_dir("lib");
    std::fs::create_dir_all(&dir).unwrap();
    let drift = manifest::check(&dir).unwrap();
    assert_eq!(drift.len(), 3);
    assert!(drift.iter().all(|d| matches!(d, Drift::Missing(_))));

    assert_eq!(manifest::write(&dir).unwrap().len(), 3);
    assert!(manifest::check(&dir).unwrap().is_empty());
    // Unchanged files are not rewritten.
    assert!(manifest::write(&dir).unwrap().is_empty());

    let queue = dir.join(VOLCANO_QUEUE);
    std::fs::write(&queue, "# hand-edited\n").unwrap();
    assert_eq!(manifest::check(&dir).unwrap(), [Drift::Stale(queue)]);

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn crdgen_binary_writes_and_checks() {
    let dir = scratch_dir("bin");
    let crdgen = env!("CARGO_BIN_EXE_crdgen");

    let out = Command::new(crdgen).arg("--check").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    assert!(!dir.exists(), "--check must not write");

    let out = Command::new(crdgen).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(crdgen).arg(&dir).arg("--check").output().unwrap();
    assert_eq!(out.status.code(), Some(0));

    let out = Command::new(crdgen).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    std::fs::remove_dir_all(&dir).unwrap();
}

//! The `caldera` binary as a user runs it.

use std::process::Command;

fn caldera(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caldera"))
        .args(args)
        .output()
        .expect("caldera runs")
}

fn tmp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("caldera-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn simulate_json_has_exactly_the_documented_shape() {
    let out = caldera(&["simulate", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), ["podgroups", "pods", "summary"]);
    assert_eq!(
        keys(&v["summary"]),
        [
            "decisions_per_second",
            "evictions",
            "gpu_utilization",
            "lost_gpu_hours",
            "makespan_s",
            "mean_wait_s",
            "pods",
            "pods_bound",
            "wall_seconds"
        ]
    );
    assert_eq!(keys(&v["pods"][0]), ["name", "placements", "podgroup", "queue"]);
    assert_eq!(
        keys(&v["pods"][0]["placements"][0]),
        ["bound_at", "end", "ended_at", "node"]
    );
    assert_eq!(
        keys(&v["podgroups"][0]),
        [
            "estimated_start",
            "finished_at",
            "min_member",
            "name",
            "phase",
            "queue",
            "reason",
            "reserved_start",
            "started_at",
            "submitted_at"
        ]
    );
}

#[test]
fn simulate_table_is_the_default() {
    let out = caldera(&["simulate"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PODGROUP") && text.contains("ml/too-big"), "{text}");
}

#[test]
fn nothing_loadable_is_an_error_but_partial_input_runs() {
    let empty = tmp("empty.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
    let out = caldera(&["simulate", empty.to_str().expect("utf8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no object could be loaded"));

    let partial = tmp(
        "partial.yaml",
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: \"4\", memory: 8Gi}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}\n",
    );
    let out = caldera(&["simulate", partial.to_str().expect("utf8"), "--format", "json"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("document 1") && stderr.contains("\"lots\""), "{stderr}");
}

#[test]
fn a_broken_config_is_refused_with_a_clear_error() {
    let cfg = tmp("bad.conf", "actions: \"enqueue, allocate, teleport\"\ntiers: []\n");
    let out = caldera(&["simulate", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown action \"teleport\""));
    let out = caldera(&["check-config", cfg.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn volcano_helm_default_config_loads_with_notes_for_what_is_not_here_yet() {
    let cfg = tmp(
        "volcano.conf",
        "actions: \"enqueue, allocate, backfill\"\ntiers:\n- plugins:\n  - name: priority\n  - name: gang\n    enablePreemptable: false\n  - name: conformance\n- plugins:\n  - name: overcommit\n  - name: drf\n    enablePreemptable: false\n  - name: predicates\n  - name: proportion\n  - name: nodeorder\n  - name: binpack\n",
    );
    let out = caldera(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("actions: enqueue, allocate, backfill"), "{text}");
    assert!(
        text.contains("start policy: greedy (any job that fits), no reservations"),
        "{text}"
    );
    assert!(!text.contains("conformance"), "conformance is available now: {text}");
    assert!(!text.contains("nodeorder"), "nodeorder is a plugin now: {text}");
    let out = caldera(&["simulate", "--config", cfg.to_str().expect("utf8"), "--format", "json"]);
    assert!(out.status.success());
}

#[test]
fn the_policy_files_load_and_say_how_jobs_start() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/policies");
    for (file, expect) in [
        ("fifo-gang.yaml", "strict queue order, no reservations"),
        ("volcano-like.yaml", "greedy (any job that fits), no reservations"),
        ("easy-backfill.yaml", "strict queue order, EASY backfill"),
        (
            "conservative-backfill.yaml",
            "strict queue order, conservative backfill (the first 4",
        ),
    ] {
        let path = root.join(file);
        let out = caldera(&["check-config", path.to_str().expect("utf8")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(expect), "{file}: {text}");
        assert!(!text.contains("warning"), "{file}: {text}");
    }
    let bad = tmp(
        "easy-greedy.conf",
        "actions: \"allocate, backfill\"\nconfigurations:\n- name: allocate\n  arguments: {strict-order: false}\n- name: backfill\n  arguments: {mode: easy}\n",
    );
    let out = caldera(&["check-config", bad.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("strict-order"));
}

#[test]
fn print_default_scenario_round_trips_through_simulate() {
    let out = caldera(&["simulate", "--print-default-scenario"]);
    assert!(out.status.success());
    let file = tmp("default.yaml", &String::from_utf8_lossy(&out.stdout));
    let a = caldera(&["simulate", "--format", "json"]);
    let b = caldera(&["simulate", file.to_str().expect("utf8"), "--format", "json"]);
    let strip = |o: &std::process::Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v["summary"]["wall_seconds"] = 0.into();
        v["summary"]["decisions_per_second"] = 0.into();
        v
    };
    assert_eq!(strip(&a), strip(&b));
}

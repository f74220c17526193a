//! etcd seeds: the nodes of a shape (and, for the cold start, the pods already holding them)
//! are created once, and every run starts its fresh control plane on a copy of that etcd data
//! (`e2e/up --etcd-seed`). Creating 5,000 nodes and 80,000 bound pods through the API takes
//! minutes on two cores; copying the data takes a second. The workload itself is always created
//! in the run.
//!
//! A seed is kept under `target/controlplane-bench/seeds/<key>/`, keyed by the shape's node and
//! filler counts, a version of the objects' definition, and the control plane's build stamp, with
//! `seed.json` saying how long building it took.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::ListParams;
use kube::core::Request;
use serde::{Deserialize, Serialize};

use caldera_e2e::{ControlPlane, ControlPlaneOptions, Error, Result, repo_root};

use crate::create::create_all;
use crate::shapes::{FILLER_NAMESPACE, Shape};
use crate::workload::{filler_pod, namespace, node};

/// Bump when the node or filler objects change, so old seeds are not reused.
const DEFINITION_VERSION: &str = "v1";

/// How a seed was made.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SeedInfo {
    /// Nodes.
    pub nodes: usize,
    /// Bound pods.
    pub filler: usize,
    /// Seconds to create the nodes.
    pub nodes_created_s: f64,
    /// Seconds until kwok had made every node Ready.
    pub nodes_ready_s: f64,
    /// Seconds to create the bound pods.
    pub filler_created_s: f64,
    /// Seconds until kwok had marked every bound pod Running.
    pub filler_running_s: f64,
    /// Seconds for the whole seed, control plane start and stop included.
    pub total_s: f64,
    /// Size of the etcd data dir.
    pub bytes: u64,
}

/// Where seeds live.
pub struct Seeds {
    dir: PathBuf,
    no_crds: PathBuf,
    fresh: bool,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
}

#[derive(Deserialize, Default)]
struct NodeStatus {
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Deserialize)]
struct LeanNode {
    #[serde(default)]
    status: NodeStatus,
}

#[derive(Deserialize)]
struct LeanList<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct Named {}

impl Seeds {
    /// Seeds under `dir`; `fresh` rebuilds each seed once in this process.
    ///
    /// # Errors
    ///
    /// When the directories cannot be created.
    pub fn new(dir: &Path, fresh: bool) -> Result<Seeds> {
        let no_crds = dir.join("no-crds");
        std::fs::create_dir_all(&no_crds)?;
        Ok(Seeds {
            dir: dir.join("seeds"),
            no_crds,
            fresh,
        })
    }

    fn key(shape: &Shape) -> String {
        let stamp = std::fs::read_to_string(repo_root().join("e2e/.bin/build.stamp")).unwrap_or_default();
        let stamp: String = stamp
            .trim()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        format!("n{}-f{}-{DEFINITION_VERSION}-{stamp}", shape.nodes, shape.filler_pods())
    }

    /// The etcd data dir holding `shape`'s nodes and filler pods, built now if needed.
    ///
    /// # Errors
    ///
    /// When building the seed fails.
    pub async fn get(&mut self, shape: &Shape) -> Result<(PathBuf, SeedInfo)> {
        let dir = self.dir.join(Self::key(shape));
        let data = dir.join("etcd-data");
        let info_path = dir.join("seed.json");
        if !self.fresh
            && data.join("member").is_dir()
            && let Ok(text) = std::fs::read_to_string(&info_path)
            && let Ok(info) = serde_json::from_str::<SeedInfo>(&text)
        {
            return Ok((data, info));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        eprintln!(
            "seed {}: creating {} nodes and {} bound pods (once; later runs copy it)",
            dir.display(),
            shape.nodes,
            shape.filler_pods()
        );
        let info = self.build(shape, &data).await?;
        std::fs::write(&info_path, serde_json::to_string_pretty(&info)?)?;
        eprintln!(
            "seed ready in {:.0}s: nodes created in {:.1}s (Ready after {:.1}s), bound pods created in {:.1}s \
             (Running after {:.1}s), {} MiB of etcd data",
            info.total_s,
            info.nodes_created_s,
            info.nodes_ready_s,
            info.filler_created_s,
            info.filler_running_s,
            info.bytes >> 20
        );
        Ok((data, info))
    }

    async fn build(&self, shape: &Shape, data: &Path) -> Result<SeedInfo> {
        let started = Instant::now();
        let opts = ControlPlaneOptions {
            bench: true,
            crd_dir: Some(self.no_crds.clone()),
            etcd_seed: None,
            keep_etcd_data: true,
            name: Some("bench-seed".to_owned()),
            stop_timeout: Some(5),
        };
        let cp = ControlPlane::start_with(&opts).await?;
        let client = cp.client();
        let mut info = SeedInfo {
            nodes: shape.nodes,
            filler: shape.filler_pods(),
            ..SeedInfo::default()
        };
        let nodes: Vec<_> = (0..shape.nodes).map(node).collect();
        info.nodes_created_s = create_all(&client, nodes.iter()).await?.as_secs_f64();
        wait_nodes_ready(&client, shape.nodes).await?;
        info.nodes_ready_s = started.elapsed().as_secs_f64();
        if shape.filler_pods() > 0 {
            create_all(&client, std::iter::once(&namespace(FILLER_NAMESPACE))).await?;
            let t = Instant::now();
            // Generated lazily: 80,000 bodies at once would only cost memory.
            let results: Vec<Result<()>> = {
                use futures::StreamExt;
                futures::stream::iter(0..shape.filler_pods())
                    .map(|i| {
                        let client = client.clone();
                        let nodes = shape.nodes;
                        async move { crate::create::create(&client, &filler_pod(i, nodes)).await }
                    })
                    .buffer_unordered(crate::create::CONCURRENCY)
                    .collect()
                    .await
            };
            results.into_iter().collect::<Result<Vec<()>>>()?;
            info.filler_created_s = t.elapsed().as_secs_f64();
            wait_filler_running(&client).await?;
            info.filler_running_s = t.elapsed().as_secs_f64();
        }
        if let Some(etcd) = cp.env("E2E_ETCD") {
            compact(&etcd);
        }
        let workdir = cp.stop();
        std::fs::rename(workdir.join("etcd-data"), data)
            .map_err(|e| Error::msg(format!("cannot move the seed's etcd data to {}: {e}", data.display())))?;
        let _ = std::fs::remove_dir_all(&workdir);
        info.bytes = dir_bytes(data);
        info.total_s = started.elapsed().as_secs_f64();
        Ok(info)
    }
}

async fn wait_nodes_ready(client: &Client, want: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let req = Request::new("/api/v1/nodes")
            .list(&ListParams::default())
            .map_err(|e| Error::msg(e.to_string()))?;
        let list: LeanList<LeanNode> = client.request(req).await?;
        let ready = list
            .items
            .iter()
            .filter(|n| {
                n.status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
            .count();
        if ready >= want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::msg(format!("only {ready}/{want} nodes Ready after 15 minutes")));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn wait_filler_running(client: &Client) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let lp = ListParams::default().fields("status.phase!=Running").limit(1);
        let req = Request::new(format!("/api/v1/namespaces/{FILLER_NAMESPACE}/pods"))
            .list(&lp)
            .map_err(|e| Error::msg(e.to_string()))?;
        let list: LeanList<Named> = client.request(req).await?;
        if list.items.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::msg("bound pods not all Running after 30 minutes"));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Compacts etcd's history and defragments it, so each copy of the seed is small (through etcd's
/// JSON gateway, with curl as `e2e/` uses it). Failure only costs disk space, so it is reported,
/// not fatal.
fn compact(etcd: &str) {
    let post = |path: &str, body: &str| -> Option<String> {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "300",
                "-X",
                "POST",
                &format!("{etcd}{path}"),
                "-d",
                body,
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let revision = post("/v3/kv/range", r#"{"key":"AA=="}"#)
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| v["header"]["revision"].as_str().map(str::to_owned));
    let Some(revision) = revision else {
        eprintln!("seed: cannot read etcd's revision; the seed is not compacted");
        return;
    };
    let compacted = post(
        "/v3/kv/compaction",
        &format!(r#"{{"revision":"{revision}","physical":true}}"#),
    );
    let defragmented = post("/v3/maintenance/defragment", "{}");
    if compacted.is_none() || defragmented.is_none() {
        eprintln!("seed: etcd compaction or defragmentation failed; the seed is larger than needed");
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(std::result::Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

//! What the API server was asked to do during a run, from its own `/metrics`
//! (`apiserver_request_total`): binds accepted and refused, and every other write by resource.
//! The counters include every client, so the harness reads them only while it writes nothing
//! itself (a backlog run) or subtracts what it wrote (a stream run).

use std::collections::BTreeMap;

use kube::Client;

use caldera_e2e::{Error, Result};

/// `(verb, resource, subresource, code)` → requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Requests(BTreeMap<(String, String, String, String), f64>);

/// Reads `apiserver_request_total` from the API server.
///
/// # Errors
///
/// When `/metrics` cannot be read.
pub async fn fetch(client: &Client) -> Result<Requests> {
    // `GET /metrics` (an empty collection path plus the name gives exactly that URL).
    let req = kube::core::Request::new("")
        .get("metrics", &kube::api::GetParams::default())
        .map_err(|e| Error::msg(format!("/metrics request: {e}")))?;
    let text = client.request_text(req).await?;
    Ok(parse(&text))
}

/// Parses the Prometheus text lines of `apiserver_request_total`.
pub fn parse(text: &str) -> Requests {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let label = |name: &str| -> String {
            let key = format!("{name}=\"");
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&key))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let k = (label("verb"), label("resource"), label("subresource"), label("code"));
        *out.entry(k).or_insert(0.0) += value;
    }
    Requests(out)
}

impl Requests {
    /// The requests made since `before`.
    pub fn since(&self, before: &Requests) -> Requests {
        Requests(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0.0)))
                .filter(|(_, v)| *v > 0.0)
                .collect(),
        )
    }

    fn count(&self, f: impl Fn(&str, &str, &str, &str) -> bool) -> u64 {
        let total: f64 = self
            .0
            .iter()
            .filter(|((verb, res, sub, code), _)| f(verb, res, sub, code))
            .map(|(_, v)| v)
            .sum();
        total.round() as u64
    }

    /// Binds the API server accepted (`POST pods/binding`, 2xx).
    pub fn binds_accepted(&self) -> u64 {
        self.count(|v, r, s, c| v == "POST" && r == "pods" && s == "binding" && c.starts_with('2'))
    }

    /// Binds the API server refused (`POST pods/binding`, any other code).
    pub fn binds_refused(&self) -> u64 {
        self.count(|v, r, s, c| v == "POST" && r == "pods" && s == "binding" && !c.starts_with('2'))
    }

    /// Writes other than binds, by `VERB resource[/subresource]` (what a scheduler adds to each bind:
    /// events, status patches; kwok's pod status updates appear as `pods/status`).
    pub fn other_writes(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, f64> = BTreeMap::new();
        for ((verb, res, sub, _), v) in &self.0 {
            let write = matches!(verb.as_str(), "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY");
            if !write || (res == "pods" && sub == "binding") {
                continue;
            }
            let name = if sub.is_empty() {
                format!("{verb} {res}")
            } else {
                format!("{verb} {res}/{sub}")
            };
            *out.entry(name).or_insert(0.0) += v;
        }
        out.into_iter().map(|(k, v)| (k, v.round() as u64)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP apiserver_request_total x
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 10
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 3
"#;

    #[test]
    fn counts_binds_and_other_writes_since_a_baseline() {
        let after = parse(TEXT);
        let before = parse(&TEXT.replace("} 10", "} 4"));
        let d = after.since(&before);
        assert_eq!(d.binds_accepted(), 6);
        assert_eq!(d.binds_refused(), 0);
        assert_eq!(after.binds_refused(), 2);
        let w = after.other_writes();
        assert_eq!(w.get("POST events"), Some(&7));
        assert_eq!(w.get("PATCH pods/status"), Some(&5));
        assert_eq!(w.len(), 2, "{w:?}");
    }
}

//! A watch's first list, fetched a page ahead, then a plain watch from that list's
//! resourceVersion.
//!
//! At start-up on a large cluster most of the time to the first bind is the pod list, and
//! kube-runtime's watcher fetches the pages of a list strictly one after another: the API server
//! encodes a page while the scheduler waits, then the scheduler decodes and converts it while the
//! API server waits. Here the next page is requested as soon as the current one has arrived — its
//! continue token is read before the page is decoded — so the two sides work at the same time.
//!
//! The pod list is split in two (see [`Split`]): the bound pods first, then, at the same
//! resourceVersion, the pods waiting for a node. Once the bound pods are in, every node's usage is
//! known and the scheduler starts placing the waiting pods it has instead of waiting for the last
//! page: a 5,000-pod gang is bound as soon as its pods are listed.
//!
//! Only the untroubled path lives here. At the first sign of trouble (a page or a watch that
//! fails, 410 Gone, an error event) the kind is handed over to kube-runtime's watcher, which
//! relists, resumes and backs off as it always does, for the rest of the process. A watch that
//! simply ends (the API server closes watches after a few minutes) is resumed from the last
//! resourceVersion seen.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{Api, ListParams, VersionMatch, WatchEvent, WatchParams};
use kube::core::{ObjectList, Request};
use kube::{Client, Resource, ResourceExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tracing::debug;

use super::store::{Change, Kind};

/// How a first list and the watch after it ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// Something went wrong: kube-runtime's watcher takes over (it relists).
    HandOver(String),
    /// The scheduling loop is gone.
    LoopGone,
}

/// Only the list's metadata: enough to ask for the next page before decoding this one.
#[derive(Deserialize)]
struct ListHead {
    #[serde(default)]
    metadata: ListMeta,
}

/// Fetches one page as text (decoding it is the caller's, so the next request can go first).
async fn fetch_page(client: Client, url: String, lp: ListParams) -> Result<String, String> {
    let req = Request::new(url).list(&lp).map_err(|e| format!("list request: {e}"))?;
    client.request_text(req).await.map_err(|e| format!("list: {e}"))
}

/// A watch that ends this soon after it started, having delivered nothing, is not resumed again
/// and again: the kind is handed over.
const QUICK_END: Duration = Duration::from_secs(1);

/// How a kind's first list is split so scheduling can start before all of it has arrived.
#[derive(Clone, Copy, Debug)]
pub struct Split {
    /// Field selector of the objects that hold room on a node (for pods: `spec.nodeName!=`).
    /// These are listed first, and [`Change::Placed`] is sent once they are all in.
    pub placed: &'static str,
    /// Field selector of the rest (for pods: `spec.nodeName=`), listed next, at the same
    /// resourceVersion as the first part. Not at the same time: on a busy API server the two
    /// lists would share its CPU, and the first part, which scheduling waits for, would end
    /// about when both do.
    pub rest: &'static str,
}

/// What one part of a first list delivered.
struct Listed {
    version: String,
    objects: usize,
    pages: usize,
}

/// Lists one part of a kind's objects a page ahead and sends each as a change. With `at`, the
/// part is taken at that exact resourceVersion, so two parts form one consistent list.
async fn list_part<K>(
    client: &Client,
    url: &str,
    page: u32,
    selector: Option<&str>,
    at: Option<String>,
    tx: &mpsc::Sender<Change>,
    change: &impl Fn(&K) -> Change,
) -> Result<Listed, End>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let params = |token: Option<String>| {
        let mut lp = ListParams::default().limit(page);
        if let Some(sel) = selector {
            lp = lp.fields(sel);
        }
        match (&token, &at) {
            (None, Some(rv)) => lp = lp.at(rv).matching(VersionMatch::Exact),
            (Some(_), _) => lp.continue_token = token,
            (None, None) => {}
        }
        lp
    };
    let mut next = Some(tokio::spawn(fetch_page(client.clone(), url.to_owned(), params(None))));
    let mut done = Listed {
        version: String::new(),
        objects: 0,
        pages: 0,
    };
    while let Some(fetching) = next.take() {
        let text = match fetching.await {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => return Err(End::HandOver(e)),
            Err(e) => return Err(End::HandOver(format!("list task: {e}"))),
        };
        let head = match serde_json::from_str::<ListHead>(&text) {
            Ok(h) => h.metadata,
            Err(e) => return Err(End::HandOver(format!("list metadata: {e}"))),
        };
        let version = head.resource_version.unwrap_or_default();
        match head.continue_.filter(|c| !c.is_empty()) {
            Some(token) => {
                next = Some(tokio::spawn(fetch_page(
                    client.clone(),
                    url.to_owned(),
                    params(Some(token)),
                )));
            }
            None => done.version = version,
        }
        let list: ObjectList<K> = match serde_json::from_str(&text) {
            Ok(l) => l,
            Err(e) => return Err(End::HandOver(format!("list decode: {e}"))),
        };
        drop(text);
        done.pages += 1;
        done.objects += list.items.len();
        for o in &list.items {
            if tx.send(change(o)).await.is_err() {
                return Err(End::LoopGone);
            }
        }
    }
    if done.version.is_empty() {
        return Err(End::HandOver("the list had no resourceVersion".to_owned()));
    }
    Ok(done)
}

/// Lists `api`'s objects a page ahead, sending `Restart`, every object and `Synced` on `tx`, then
/// watches from the list's resourceVersion until something goes wrong (see the module docs).
/// With a `split`, the objects holding room on a node are listed first and `Placed` is sent once
/// they are in; the rest is listed after them, at the same resourceVersion.
/// `change` turns an object into the change the store applies.
pub async fn list_then_watch<K>(
    client: Client,
    api: &Api<K>,
    kind: Kind,
    page: u32,
    split: Option<Split>,
    tx: &mpsc::Sender<Change>,
    change: &impl Fn(&K) -> Change,
) -> End
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let started = Instant::now();
    if tx.send(Change::Restart(kind)).await.is_err() {
        return End::LoopGone;
    }
    let url = api.resource_url().to_owned();
    let listed = match split {
        None => list_part(&client, &url, page, None, None, tx, change).await,
        Some(split) => {
            async {
                let placed = list_part(&client, &url, page, Some(split.placed), None, tx, change).await?;
                debug!(
                    kind = kind.as_str(),
                    objects = placed.objects,
                    pages = placed.pages,
                    ms = started.elapsed().as_millis(),
                    "listed what holds room on nodes"
                );
                tx.send(Change::Placed(kind)).await.map_err(|_| End::LoopGone)?;
                let at = Some(placed.version.clone());
                let rest = list_part(&client, &url, page, Some(split.rest), at, tx, change).await?;
                if rest.version != placed.version {
                    return Err(End::HandOver(format!(
                        "the two parts of the list were taken at different resourceVersions ({} and {})",
                        placed.version, rest.version
                    )));
                }
                Ok(Listed {
                    version: placed.version,
                    objects: placed.objects + rest.objects,
                    pages: placed.pages + rest.pages,
                })
            }
            .await
        }
    };
    let listed = match listed {
        Ok(l) => l,
        Err(end) => return end,
    };
    if tx.send(Change::Synced(kind)).await.is_err() {
        return End::LoopGone;
    }
    debug!(
        kind = kind.as_str(),
        objects = listed.objects,
        pages = listed.pages,
        ms = started.elapsed().as_millis(),
        "listed"
    );
    watch_from(api, kind, listed.version, tx, change).await
}

/// Watches `api` from `version`, resuming when the API server ends the watch.
async fn watch_from<K>(
    api: &Api<K>,
    kind: Kind,
    mut version: String,
    tx: &mpsc::Sender<Change>,
    change: &impl Fn(&K) -> Change,
) -> End
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let params = WatchParams::default();
    loop {
        let started = Instant::now();
        let stream = match api.watch(&params, &version).await {
            Ok(s) => s,
            Err(e) => return End::HandOver(format!("watch: {e}")),
        };
        let mut stream = std::pin::pin!(stream);
        let mut delivered = false;
        while let Some(ev) = stream.next().await {
            delivered = true;
            let out = match ev {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                    version = o.resource_version().unwrap_or_default();
                    change(&o)
                }
                Ok(WatchEvent::Deleted(o)) => {
                    version = o.resource_version().unwrap_or_default();
                    Change::Delete(kind, super::watch::key_of(&o))
                }
                Ok(WatchEvent::Bookmark(b)) => {
                    version = b.metadata.resource_version;
                    continue;
                }
                Ok(WatchEvent::Error(e)) => return End::HandOver(format!("watch event: {} ({})", e.message, e.code)),
                Err(e) => return End::HandOver(format!("watch stream: {e}")),
            };
            if version.is_empty() {
                return End::HandOver("a watch event without resourceVersion".to_owned());
            }
            if tx.send(out).await.is_err() {
                return End::LoopGone;
            }
        }
        if !delivered && started.elapsed() < QUICK_END {
            return End::HandOver("the watch ended at once".to_owned());
        }
        debug!(kind = kind.as_str(), "watch ended; resuming");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_continue_token_is_read_wherever_the_metadata_is_and_whatever_the_items_hold() {
        let items = r#"[{"metadata":{"name":"a","continue":"not-this"}},{"spec":{"x":"}\"{["}}]"#;
        let first =
            format!(r#"{{"kind":"PodList","metadata":{{"resourceVersion":"7","continue":"tok"}},"items":{items}}}"#);
        let last = format!(r#"{{"items":{items},"metadata":{{"resourceVersion":"9"}},"apiVersion":"v1"}}"#);
        let head = |t: &str| serde_json::from_str::<ListHead>(t).map(|h| h.metadata);
        let (a, b) = (head(&first).expect("parses"), head(&last).expect("parses"));
        assert_eq!(
            (a.continue_.as_deref(), a.resource_version.as_deref()),
            (Some("tok"), Some("7"))
        );
        assert_eq!((b.continue_, b.resource_version.as_deref()), (None, Some("9")));
        assert!(
            head(r#"{"metadata":{"continue":"t"},"items":[{"#).is_err(),
            "a cut page is an error, not a last page"
        );
    }
}

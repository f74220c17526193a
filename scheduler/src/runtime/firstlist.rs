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
//! Pods are listed and watched in protobuf ([`Protobuf`], `podproto`), which the API server
//! encodes about four times faster than JSON; a kind without a protobuf decoder is read as JSON,
//! and so is a list the API server answers in JSON anyway.
//!
//! Only the untroubled path lives here. At the first sign of trouble (a page or a watch that
//! fails, 410 Gone, an error event) the kind is handed over to kube-runtime's watcher, which
//! relists, resumes and backs off as it always does, for the rest of the process. A watch that
//! simply ends (the API server closes watches after a few minutes) is resumed from the last
//! resourceVersion seen.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, header};
use http_body_util::BodyExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Status};
use kube::api::{Api, ListParams, VersionMatch, WatchEvent, WatchParams};
use kube::client::Body;
use kube::core::{ObjectList, Request};
use kube::{Client, Resource, ResourceExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tracing::debug;

use super::store::{Change, Kind};
use super::{protolist, protowatch};

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

/// A page as it came: protobuf where it was asked for and the API server has it, else JSON.
enum Page {
    Json(Bytes),
    Protobuf(Bytes),
}

/// How a kind is read in protobuf: into the very objects the JSON path yields. Kinds without it
/// are listed and watched in JSON.
pub struct Protobuf<K> {
    /// The objects of a list page.
    pub list: fn(&Bytes) -> Result<Vec<K>, String>,
    /// The object of a watch event.
    pub object: fn(&Bytes) -> Result<K, String>,
}

impl<K> Clone for Protobuf<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Protobuf<K> {}

/// Fetches one page undecoded (decoding it is the caller's, so the next request can go first).
async fn fetch_page(client: Client, url: String, lp: ListParams, protobuf: bool) -> Result<Page, String> {
    let mut req = Request::new(url).list(&lp).map_err(|e| format!("list request: {e}"))?;
    if protobuf {
        req.headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static(protolist::ACCEPT));
    }
    let res = client
        .send(req.map(Body::from))
        .await
        .map_err(|e| format!("list: {e}"))?;
    let status = res.status();
    let is_protobuf = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(protolist::MEDIA_TYPE));
    let body = res
        .into_body()
        .collect_bytes()
        .await
        .map_err(|e| format!("list body: {e}"))?;
    if !status.is_success() {
        let message = serde_json::from_slice::<Status>(&body)
            .ok()
            .and_then(|s| s.message)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Err(format!("list: HTTP {status}{message}"));
    }
    Ok(if is_protobuf {
        Page::Protobuf(body)
    } else {
        Page::Json(body)
    })
}

/// The resourceVersion and continue token of a page.
fn page_head(page: &Page) -> Result<(Option<String>, Option<String>), String> {
    match page {
        Page::Json(body) => serde_json::from_slice::<ListHead>(body)
            .map(|h| (h.metadata.resource_version, h.metadata.continue_))
            .map_err(|e| format!("list metadata: {e}")),
        Page::Protobuf(body) => protolist::head(body).map(|h| (h.resource_version, h.continue_)),
    }
}

/// The objects of a page.
fn page_items<K: Clone + DeserializeOwned>(page: &Page, protobuf: Option<Protobuf<K>>) -> Result<Vec<K>, String> {
    match (page, protobuf) {
        (Page::Json(body), _) => serde_json::from_slice::<ObjectList<K>>(body)
            .map(|l| l.items)
            .map_err(|e| format!("list decode: {e}")),
        (Page::Protobuf(body), Some(p)) => (p.list)(body).map_err(|e| format!("list decode: {e}")),
        (Page::Protobuf(_), None) => Err("a protobuf page that was not asked for".to_owned()),
    }
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

/// How a kind is listed and watched.
pub struct Reading<K> {
    /// Objects per list page.
    pub page: u32,
    /// How the list is split, if it is.
    pub split: Option<Split>,
    /// How to read it in protobuf; JSON without.
    pub protobuf: Option<Protobuf<K>>,
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
    how: &Reading<K>,
    selector: Option<&str>,
    at: Option<String>,
    tx: &mpsc::Sender<Change>,
    change: &impl Fn(&K) -> Change,
) -> Result<Listed, End>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let params = |token: Option<String>| {
        let mut lp = ListParams::default().limit(how.page);
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
    let protobuf = how.protobuf;
    let fetch = |lp| tokio::spawn(fetch_page(client.clone(), url.to_owned(), lp, protobuf.is_some()));
    let mut next = Some(fetch(params(None)));
    let mut done = Listed {
        version: String::new(),
        objects: 0,
        pages: 0,
    };
    while let Some(fetching) = next.take() {
        let page = match fetching.await {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => return Err(End::HandOver(e)),
            Err(e) => return Err(End::HandOver(format!("list task: {e}"))),
        };
        let (version, token) = page_head(&page).map_err(End::HandOver)?;
        match token.filter(|c| !c.is_empty()) {
            Some(token) => next = Some(fetch(params(Some(token)))),
            None => done.version = version.unwrap_or_default(),
        }
        let items = page_items(&page, protobuf).map_err(End::HandOver)?;
        drop(page);
        done.pages += 1;
        done.objects += items.len();
        for o in &items {
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
/// With `how.split`, the objects holding room on a node are listed first and `Placed` is sent once
/// they are in; the rest is listed after them, at the same resourceVersion.
/// `change` turns an object into the change the store applies.
pub async fn list_then_watch<K>(
    client: Client,
    api: &Api<K>,
    kind: Kind,
    how: Reading<K>,
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
    let listed = match how.split {
        None => list_part(&client, &url, &how, None, None, tx, change).await,
        Some(split) => {
            async {
                let placed = list_part(&client, &url, &how, Some(split.placed), None, tx, change).await?;
                debug!(
                    kind = kind.as_str(),
                    objects = placed.objects,
                    pages = placed.pages,
                    ms = started.elapsed().as_millis(),
                    "listed what holds room on nodes"
                );
                tx.send(Change::Placed(kind)).await.map_err(|_| End::LoopGone)?;
                let at = Some(placed.version.clone());
                let rest = list_part(&client, &url, &how, Some(split.rest), at, tx, change).await?;
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
    watch_from(&client, api, kind, listed.version, how.protobuf, tx, change).await
}

/// A watch event, whichever encoding it came in.
enum Seen<K> {
    Changed(K),
    Deleted(K),
    /// A bookmark's resourceVersion.
    Version(String),
    Failed(String),
}

type Events<K> = futures::stream::BoxStream<'static, Result<Seen<K>, String>>;

/// Opens a watch from `version`: in protobuf with `protobuf`, else through kube-rs in JSON.
async fn open_watch<K>(
    client: &Client,
    api: &Api<K>,
    version: &str,
    protobuf: Option<Protobuf<K>>,
) -> Result<Events<K>, String>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let params = WatchParams::default();
    let Some(protobuf) = protobuf else {
        let stream = api.watch(&params, version).await.map_err(|e| e.to_string())?;
        return Ok(stream
            .map(|ev| match ev {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => Ok(Seen::Changed(o)),
                Ok(WatchEvent::Deleted(o)) => Ok(Seen::Deleted(o)),
                Ok(WatchEvent::Bookmark(b)) => Ok(Seen::Version(b.metadata.resource_version)),
                Ok(WatchEvent::Error(e)) => Ok(Seen::Failed(format!("{} ({})", e.message, e.code))),
                Err(e) => Err(e.to_string()),
            })
            .boxed());
    };
    let mut req = Request::new(api.resource_url())
        .watch(&params, version)
        .map_err(|e| format!("watch request: {e}"))?;
    req.headers_mut()
        .insert(header::ACCEPT, HeaderValue::from_static(protowatch::ACCEPT));
    let res = client.send(req.map(Body::from)).await.map_err(|e| e.to_string())?;
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if !content_type.starts_with(protolist::MEDIA_TYPE) {
        return Err(format!("the watch came as {content_type:?}, not protobuf"));
    }
    let data = res.into_body().into_data_stream();
    let state = (data, protowatch::Frames::default(), false);
    Ok(
        futures::stream::unfold(state, move |(mut data, mut frames, failed)| async move {
            if failed {
                return None;
            }
            loop {
                match frames.next_frame() {
                    Ok(Some(frame)) => {
                        let seen = protowatch::event(frame, protobuf.object).map(|ev| match ev {
                            protowatch::Event::Changed(o) => Seen::Changed(o),
                            protowatch::Event::Deleted(o) => Seen::Deleted(o),
                            protowatch::Event::Bookmark(o) => Seen::Version(o.resource_version().unwrap_or_default()),
                            protowatch::Event::Failed(why) => Seen::Failed(why),
                        });
                        let failed = seen.is_err();
                        return Some((seen, (data, frames, failed)));
                    }
                    Ok(None) => {}
                    Err(e) => return Some((Err(e), (data, frames, true))),
                }
                match data.next().await {
                    Some(Ok(chunk)) => frames.push(&chunk),
                    Some(Err(e)) => return Some((Err(e.to_string()), (data, frames, true))),
                    None if frames.is_empty() => return None,
                    None => return Some((Err("the watch ended inside an event".to_owned()), (data, frames, true))),
                }
            }
        })
        .boxed(),
    )
}

/// Watches `api` from `version`, resuming when the API server ends the watch.
async fn watch_from<K>(
    client: &Client,
    api: &Api<K>,
    kind: Kind,
    mut version: String,
    protobuf: Option<Protobuf<K>>,
    tx: &mpsc::Sender<Change>,
    change: &impl Fn(&K) -> Change,
) -> End
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    loop {
        let started = Instant::now();
        let mut events = match open_watch(client, api, &version, protobuf).await {
            Ok(s) => s,
            Err(e) => return End::HandOver(format!("watch: {e}")),
        };
        let mut delivered = false;
        while let Some(ev) = events.next().await {
            delivered = true;
            let out = match ev {
                Ok(Seen::Changed(o)) => {
                    version = o.resource_version().unwrap_or_default();
                    change(&o)
                }
                Ok(Seen::Deleted(o)) => {
                    version = o.resource_version().unwrap_or_default();
                    Change::Delete(kind, super::watch::key_of(&o))
                }
                Ok(Seen::Version(v)) => {
                    version = v;
                    continue;
                }
                Ok(Seen::Failed(e)) => return End::HandOver(format!("watch event: {e}")),
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

    #[test]
    fn a_page_is_read_in_the_encoding_it_came_in() {
        use super::super::lean::LeanPod;
        let json = Page::Json(Bytes::from_static(
            br#"{"metadata":{"resourceVersion":"5","continue":"c"},"items":[{"metadata":{"name":"a"}}]}"#,
        ));
        assert_eq!(
            page_head(&json).expect("head"),
            (Some("5".to_owned()), Some("c".to_owned()))
        );
        let decode = Protobuf {
            list: super::super::podproto::decode_list,
            object: super::super::podproto::decode_object,
        };
        for protobuf in [None, Some(decode)] {
            let items = page_items::<LeanPod>(&json, protobuf).expect("JSON items");
            assert_eq!(items[0].0.metadata.name.as_deref(), Some("a"));
        }
        let proto = Page::Protobuf(Bytes::from_static(b"k8s\0\x12\x00"));
        assert_eq!(page_head(&proto).expect("head"), (None, None));
        assert!(page_items(&proto, Some(decode)).expect("no items").is_empty());
        assert!(
            page_items::<LeanPod>(&proto, None).is_err(),
            "protobuf that was not asked for"
        );
        assert!(page_head(&Page::Protobuf(Bytes::from_static(b"{}"))).is_err());
    }
}

//! Watch events in Kubernetes' protobuf encoding: the frames of the stream and the event in each.
//!
//! Why: a pod is seen several times after its first list (bound, then running, then done), and
//! every time the API server encodes it for this watch. In JSON that costs it about four times
//! what protobuf does (see [`super::protolist`]), on the same two cores the binds need.
//!
//! The stream is a sequence of frames, each a 4-byte big-endian length and a `meta/v1.WatchEvent`
//! (no envelope); the event's object is encoded as a whole protobuf body, envelope included.

use bytes::{Buf, Bytes, BytesMut};
use prost::Message;

/// What a client sends in `Accept` for a protobuf watch.
pub const ACCEPT: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// A frame longer than this is taken for a broken stream rather than buffered: the API server
/// refuses objects over about 3 MiB.
const MAX_FRAME: usize = 64 << 20;

#[derive(Clone, PartialEq, Message)]
struct WatchEvent {
    #[prost(string, optional, tag = "1")]
    type_: Option<String>,
    #[prost(message, optional, tag = "2")]
    object: Option<RawExtension>,
}

#[derive(Clone, PartialEq, Message)]
struct RawExtension {
    #[prost(bytes = "bytes", optional, tag = "1")]
    raw: Option<Bytes>,
}

/// `meta/v1.Status`, what an `ERROR` event carries.
#[derive(Clone, PartialEq, Message)]
struct Status {
    #[prost(string, optional, tag = "3")]
    message: Option<String>,
    #[prost(string, optional, tag = "4")]
    reason: Option<String>,
    #[prost(int32, optional, tag = "6")]
    code: Option<i32>,
}

/// One watch event.
#[derive(Debug, PartialEq)]
pub enum Event<K> {
    /// `ADDED` or `MODIFIED`: the object as it is now.
    Changed(K),
    /// `DELETED`: the object as it was last.
    Deleted(K),
    /// `BOOKMARK`: only the object's resourceVersion is meaningful.
    Bookmark(K),
    /// `ERROR`, with the Status's code and message (410 Gone when the resourceVersion is too old).
    Failed(String),
}

/// Splits the bytes of a watch stream, as they arrive, into frames.
#[derive(Default)]
pub struct Frames {
    buf: BytesMut,
}

impl Frames {
    /// Adds bytes that arrived.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole frame, if it has arrived.
    ///
    /// # Errors
    /// When a frame's length is beyond any object's size: the stream is broken.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, String> {
        let Some(head) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_FRAME {
            return Err(format!("a watch frame of {len} bytes: the stream is broken"));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// Whether bytes of an unfinished frame are left.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// The event in a frame; `object` decodes the object's protobuf body.
///
/// # Errors
/// When the frame or its object cannot be decoded, or the event type is unknown.
pub fn event<K>(frame: Bytes, object: fn(&Bytes) -> Result<K, String>) -> Result<Event<K>, String> {
    let ev = WatchEvent::decode(frame).map_err(|e| format!("watch event: {e}"))?;
    let raw = ev.object.and_then(|o| o.raw).unwrap_or_default();
    let kind = ev.type_.unwrap_or_default();
    match kind.as_str() {
        "ADDED" | "MODIFIED" => object(&raw).map(Event::Changed),
        "DELETED" => object(&raw).map(Event::Deleted),
        "BOOKMARK" => object(&raw).map(Event::Bookmark),
        "ERROR" => {
            let inner = super::protolist::unwrap_any(&raw)?;
            let s = Status::decode(inner).map_err(|e| format!("watch error event: {e}"))?;
            Ok(Event::Failed(format!(
                "{} ({}, {})",
                s.message.unwrap_or_default(),
                s.reason.unwrap_or_default(),
                s.code.unwrap_or_default()
            )))
        }
        other => Err(format!("a watch event of unknown type {other:?}")),
    }
}

/// A frame as the API server writes it; for tests.
#[cfg(test)]
pub fn frame(kind: &str, object: Bytes) -> Vec<u8> {
    let ev = WatchEvent {
        type_: Some(kind.to_owned()),
        object: Some(RawExtension { raw: Some(object) }),
    }
    .encode_to_vec();
    let mut out = u32::try_from(ev.len()).unwrap_or(u32::MAX).to_be_bytes().to_vec();
    out.extend(ev);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &Bytes) -> Result<String, String> {
        String::from_utf8(b.to_vec()).map_err(|e| e.to_string())
    }

    #[test]
    fn frames_come_out_whole_however_the_bytes_are_cut() {
        let mut stream = frame("ADDED", Bytes::from_static(b"one"));
        stream.extend(frame("DELETED", Bytes::from_static(b"two")));
        stream.extend(frame("BOOKMARK", Bytes::from_static(b"")));
        for cut in 1..stream.len() {
            let mut frames = Frames::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(cut) {
                frames.push(chunk);
                while let Some(f) = frames.next_frame().expect("frames") {
                    got.push(event(f, text).expect("event"));
                }
            }
            assert!(frames.is_empty());
            assert_eq!(
                got,
                vec![
                    Event::Changed("one".to_owned()),
                    Event::Deleted("two".to_owned()),
                    Event::Bookmark(String::new())
                ],
                "chunks of {cut}"
            );
        }
    }

    #[test]
    fn an_error_event_says_why_and_nonsense_is_an_error() {
        let status = Status {
            message: Some("too old resource version: 5 (9)".to_owned()),
            reason: Some("Expired".to_owned()),
            code: Some(410),
        };
        let body = super::super::protolist::wrap("Status", &status);
        let mut frames = Frames::default();
        frames.push(&frame("ERROR", body));
        let f = frames.next_frame().expect("ok").expect("a frame");
        match event(f, text).expect("event") {
            Event::Failed(why) => assert!(why.contains("too old") && why.contains("410"), "{why}"),
            other => panic!("not a failure: {other:?}"),
        }
        let f = Bytes::from(frame("RENAMED", Bytes::new())[4..].to_vec());
        assert!(event(f, text).is_err());
        let mut broken = Frames::default();
        broken.push(&[0xff, 0xff, 0xff, 0xff]);
        assert!(broken.next_frame().is_err());
    }
}

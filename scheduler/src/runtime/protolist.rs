//! Lists in Kubernetes' protobuf encoding: the envelope and the list's own metadata, the same
//! for every kind.
//!
//! Why protobuf at all: at start-up on a large cluster the first list of pods is most of the
//! time to the first bind, and the API server spends it encoding. Against kube-apiserver 1.37.2
//! here, a page of 10,000 bound pods took 0.53 s as JSON (61 MB) and 0.14 s as protobuf (19 MB)
//! — see docs/benchmarks.md. Pod watches are protobuf too (`protowatch`).
//!
//! The body of a protobuf response is the 4 bytes `k8s\0` followed by a `runtime.Unknown`
//! message whose `raw` field holds the object itself (here a `…List`).

use bytes::Bytes;
use prost::Message;

/// What a client sends in `Accept` to get protobuf where the API server has it and JSON where
/// it does not (custom resources are served in JSON only).
pub const ACCEPT: &str = "application/vnd.kubernetes.protobuf, application/json";

/// The media type of a protobuf body (`Content-Type` of the response).
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The prefix of every protobuf body.
const MAGIC: &[u8; 4] = b"k8s\0";

/// `runtime.Unknown`: the envelope around the encoded object.
#[derive(Clone, PartialEq, Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "bytes", optional, tag = "2")]
    raw: Option<Bytes>,
    #[prost(string, optional, tag = "3")]
    content_encoding: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeMeta {
    #[prost(string, optional, tag = "1")]
    api_version: Option<String>,
    #[prost(string, optional, tag = "2")]
    kind: Option<String>,
}

/// `meta/v1.ListMeta`, what a list says about itself.
#[derive(Clone, PartialEq, Message)]
pub struct ListMeta {
    /// The resourceVersion the list was taken at.
    #[prost(string, optional, tag = "2")]
    pub resource_version: Option<String>,
    /// The token for the next page; absent or empty on the last one.
    #[prost(string, optional, tag = "3")]
    pub continue_: Option<String>,
}

/// Any `…List` with only its metadata: every list kind puts it in field 1 and its items in
/// field 2, so the continue token can be read without decoding the items (they are skipped by
/// length, not parsed).
#[derive(Clone, PartialEq, Message)]
struct ListHead {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ListMeta>,
}

/// The kind and the encoded object inside a protobuf body (a cheap slice of `body`, not a copy).
fn open(body: &Bytes) -> Result<(String, Bytes), String> {
    let Some(rest) = body.strip_prefix(MAGIC) else {
        return Err("the body is not Kubernetes protobuf (no k8s\\0 prefix)".to_owned());
    };
    let envelope = Unknown::decode(body.slice(body.len() - rest.len()..)).map_err(|e| format!("envelope: {e}"))?;
    if let Some(enc) = envelope.content_encoding.filter(|e| !e.is_empty()) {
        return Err(format!("the object is encoded as {enc:?}, which is not read here"));
    }
    let kind = envelope.type_meta.and_then(|t| t.kind).unwrap_or_default();
    let raw = envelope.raw.ok_or_else(|| "the envelope holds no object".to_owned())?;
    Ok((kind, raw))
}

/// The encoded object inside a protobuf body, which must not be a `Status`.
///
/// # Errors
/// When the body is not a protobuf envelope, holds a compressed or no object, or a `Status`
/// (the API server answering with an error).
pub fn unwrap(body: &Bytes) -> Result<Bytes, String> {
    let (kind, raw) = open(body)?;
    if kind == "Status" {
        return Err("the API server answered with a Status, not the object".to_owned());
    }
    Ok(raw)
}

/// The encoded object inside a protobuf body, whatever its kind.
///
/// # Errors
/// When the body is not a protobuf envelope, or holds a compressed or no object.
pub fn unwrap_any(body: &Bytes) -> Result<Bytes, String> {
    open(body).map(|(_, raw)| raw)
}

/// The metadata of the list inside a protobuf body.
///
/// # Errors
/// As [`unwrap`], or when the list cannot be decoded.
pub fn head(body: &Bytes) -> Result<ListMeta, String> {
    let raw = unwrap(body)?;
    let head = ListHead::decode(raw).map_err(|e| format!("list metadata: {e}"))?;
    Ok(head.metadata.unwrap_or_default())
}

/// Wraps an encoded list as the API server does; for tests of the decoders.
#[cfg(test)]
pub fn wrap(kind: &str, list: &impl Message) -> Bytes {
    let envelope = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some("v1".to_owned()),
            kind: Some(kind.to_owned()),
        }),
        raw: Some(Bytes::from(list.encode_to_vec())),
        content_encoding: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(envelope.encode_to_vec());
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list with items after (and, as protobuf allows, before) its metadata.
    #[derive(Clone, PartialEq, Message)]
    struct SomeList {
        #[prost(message, optional, tag = "1")]
        metadata: Option<ListMeta>,
        #[prost(message, repeated, tag = "2")]
        items: Vec<TypeMeta>,
    }

    #[test]
    fn the_head_is_read_through_the_envelope_whatever_the_items_hold() {
        let list = SomeList {
            metadata: Some(ListMeta {
                resource_version: Some("42".to_owned()),
                continue_: Some("tok".to_owned()),
            }),
            items: vec![TypeMeta {
                api_version: Some("x".repeat(1000)),
                kind: None,
            }],
        };
        let body = wrap("PodList", &list);
        let h = head(&body).expect("decodes");
        assert_eq!(h.resource_version.as_deref(), Some("42"));
        assert_eq!(h.continue_.as_deref(), Some("tok"));
        let raw = unwrap(&body).expect("unwraps");
        assert_eq!(SomeList::decode(raw).expect("list"), list);
    }

    #[test]
    fn anything_but_a_list_envelope_is_an_error() {
        assert!(head(&Bytes::from_static(b"{\"kind\":\"PodList\"}")).is_err(), "JSON");
        let status = wrap("Status", &ListMeta::default());
        assert!(unwrap(&status).expect_err("a Status").contains("Status"));
        let mut cut = wrap("PodList", &ListMeta::default()).to_vec();
        cut.extend([0x12, 0x7f]);
        assert!(head(&Bytes::from(cut)).is_err(), "a cut envelope is an error");
        let mut gz = MAGIC.to_vec();
        gz.extend(
            Unknown {
                type_meta: None,
                raw: Some(Bytes::from_static(b"x")),
                content_encoding: Some("gzip".to_owned()),
            }
            .encode_to_vec(),
        );
        assert!(unwrap(&Bytes::from(gz)).expect_err("gzip").contains("gzip"));
    }
}

//! Schema and serde helpers shared by the API modules.
//!
//! The Kubernetes value types we embed (`Quantity`, `Time`, `LabelSelector`) only implement
//! `JsonSchema` behind k8s-openapi's `schemars` feature. We describe them by hand instead: it keeps
//! that feature (and its compile cost) out of every crate that depends on us, and it lets the CRD
//! schema say exactly what the upstream CRDs say, without a two-kilobyte `Quantity` essay inlined
//! under every resource map.
//!
//! Invariant: every schema here is structural (a `type` at every level, or the one sanctioned
//! `x-kubernetes-int-or-string` form) and contains no `$ref`.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// The quantity grammar of `k8s.io/apimachinery/pkg/api/resource`: a signed decimal followed by
/// a binary-SI suffix, a decimal-SI suffix or an exponent.
///
/// The apiserver applies it to string values only, so integers still pass.
const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// Schema of a `v1.ResourceList` (`map[string]Quantity`), as used by `minResources`,
/// `capability` and friends.
///
/// Quantities arrive both as YAML numbers (`cpu: 4`) and as strings (`memory: 16Gi`), so the value
/// schema must be int-or-string or the apiserver rejects half of real-world manifests. The bare
/// `x-kubernetes-int-or-string` form is used because kube's structural rewriter empties the
/// types inside an `anyOf`, leaving a meaningless `anyOf: [{}, {}]`.
pub(crate) fn resource_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": {
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": true,
        },
    })
}

/// Schema of a `metav1.Time`: RFC 3339 on the wire.
pub(crate) fn time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "format": "date-time",
    })
}

/// Schema of a `metav1.LabelSelector`.
///
/// Written out rather than left open so that `kubectl explain` and server-side validation work
/// the same way as with the upstream Volcano CRD.
pub(crate) fn label_selector(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "matchExpressions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key": { "type": "string" },
                        "operator": { "type": "string" },
                        "values": {
                            "type": "array",
                            "items": { "type": "string" },
                            "x-kubernetes-list-type": "atomic",
                        },
                    },
                    "required": ["key", "operator"],
                },
                "x-kubernetes-list-type": "atomic",
            },
            "matchLabels": {
                "type": "object",
                "additionalProperties": { "type": "string" },
            },
        },
        "x-kubernetes-map-type": "atomic",
    })
}

/// `skip_serializing_if` for counters Go marks `omitempty`; also keeps schemars from writing a
/// `default: 0` into the CRD, which would contradict a `minimum: 1`.
pub(crate) fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Deserialises an optional string-backed enum, reading `""` as absent.
///
/// Go writes `phase: ""` for a zero value when a field lacks `omitempty`, and some controllers
/// send it explicitly; treating it as "not set" keeps `match` arms on real phases honest.
pub(crate) fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    let raw = Option::<String>::deserialize(deserializer)?;
    Ok(raw.filter(|s| !s.is_empty()).map(T::from))
}

/// Builds the CRD schema for a hand-written root type with the same generator settings
/// kube-derive uses, so the manual and derived CRDs follow identical structural rules.
///
/// # Panics
///
/// If schemars emits something that is not a valid `JSONSchemaProps`. The input is our own
/// compile-time types, so this is a programming error caught by the crate's tests.
#[expect(
    clippy::expect_used,
    reason = "input is this crate's own types, fixed at compile time; crds/tests/crds.rs builds every CRD"
)]
pub(crate) fn crd_schema<T: JsonSchema>()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .with_transform(kube::core::schema::OptionalIntOrString)
        .into_generator();
    serde_json::to_value(generator.into_root_schema_for::<T>())
        .and_then(serde_json::from_value)
        .expect("schemars output of a crate type is a valid JSONSchemaProps")
}

/// Declares a Kubernetes string enum that survives values from newer API versions.
///
/// Upstream adds phases and states over time (Volcano added `Inqueue` after `Pending`/`Running`),
/// and a scheduler that fails to decode an object because of one new word stops scheduling that
/// group entirely. So the type is an enum for matching, with an `Other` arm that keeps the raw
/// string, and it serialises back to exactly what it read.
///
/// The CRD schema is a plain `string` with no `enum` list, for the same reason.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept verbatim so it round-trips.
            ///
            /// Construct it through `From` so a known value never lands here.
            Other(String),
        }

        impl $name {
            /// The value as written in the Kubernetes object.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $value, )+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $value => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $value => Self::$variant, )+
                    _ => Self::Other(s),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::from)
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({ "type": "string" })
            }
        }
    };
}

pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use crate::volcano::{PodGroupPhase, PodGroupStatus, QueueState};

    #[test]
    fn known_values_parse_to_their_variant() {
        assert_eq!(PodGroupPhase::from("Inqueue"), PodGroupPhase::Inqueue);
        assert_eq!(PodGroupPhase::from(String::from("Completed")), PodGroupPhase::Completed);
        assert_eq!(QueueState::from("Closing"), QueueState::Closing);
    }

    #[test]
    fn unknown_values_are_kept_and_round_trip() {
        let phase: PodGroupPhase = serde_json::from_str(r#""Preempted""#).unwrap();
        assert_eq!(phase, PodGroupPhase::Other("Preempted".into()));
        assert_eq!(phase.as_str(), "Preempted");
        assert_eq!(serde_json::to_string(&phase).unwrap(), r#""Preempted""#);
    }

    #[test]
    fn values_are_case_sensitive_like_go() {
        assert_eq!(PodGroupPhase::from("running"), PodGroupPhase::Other("running".into()));
    }

    #[test]
    fn display_is_the_wire_value() {
        assert_eq!(PodGroupPhase::Inqueue.to_string(), "Inqueue");
        assert_eq!(QueueState::Other("Draining".into()).to_string(), "Draining");
    }

    #[test]
    fn empty_or_null_phase_reads_as_absent() {
        for json in [r#"{"phase": ""}"#, r#"{"phase": null}"#, "{}"] {
            let status: PodGroupStatus = serde_json::from_str(json).unwrap();
            assert_eq!(status.phase, None, "{json}");
        }
    }
}

//! Conversion errors that say which object, which field and what is wrong with it.
//!
//! A scheduler that silently drops or zeroes a malformed object leaves users staring at a pod
//! that never schedules; these errors are written so that their text alone, put verbatim into an
//! Event or a PodGroup condition, tells the user what to fix.

use std::fmt;

use crate::quantity::QuantityError;

/// What is wrong with one field's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Cause {
    /// The text is not a Kubernetes quantity (the quantity error names the text).
    #[error(transparent)]
    Quantity(#[from] QuantityError),
    /// A resource amount below zero: no request, capacity or quota can be negative.
    #[error("quantity {value:?} is negative")]
    Negative {
        /// The quantity as written.
        value: String,
    },
    /// A value outside the set or range the field allows.
    #[error("{value:?} is not {expected}")]
    Invalid {
        /// The value as written.
        value: String,
        /// What would have been accepted, e.g. "one of In, NotIn, Exists, DoesNotExist".
        expected: &'static str,
    },
    /// A field the conversion cannot do without.
    #[error("is required")]
    Missing,
}

impl Cause {
    /// An [`Cause::Invalid`] for `value`.
    pub fn invalid(value: impl fmt::Display, expected: &'static str) -> Self {
        Cause::Invalid {
            value: value.to_string(),
            expected,
        }
    }
}

/// A field that failed to convert, before the enclosing object is known.
///
/// Exists because some conversions ([`super::pod_request`], [`super::resources_from_map`]) see
/// only part of an object; the caller that knows the object turns it into a [`ConvertError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {cause}")]
pub struct FieldError {
    /// Path of the field in the object, e.g. `spec.containers[1].resources.requests.memory`.
    pub field: String,
    /// What is wrong with it.
    pub cause: Cause,
}

impl FieldError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, cause: impl Into<Cause>) -> Self {
        FieldError {
            field: field.into(),
            cause: cause.into(),
        }
    }

    /// The same error, attributed to `object`.
    pub fn in_object(self, object: &ObjectRef) -> ConvertError {
        ConvertError {
            object: Box::new(object.clone()),
            field: self.field,
            cause: self.cause,
        }
    }
}

/// Names an API object in messages: `kind namespace/name`, or `kind name` when cluster-scoped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Kind, qualified with its API group where several APIs share the kind
    /// (`PodGroup.scheduling.volcano.sh`), as `kubectl` spells it.
    pub kind: &'static str,
    /// Namespace; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Name (`(unnamed)` when the object has none, which only hand-written input can do).
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// An object that could not be converted, with the field and the cause.
///
/// Displays as `Pod ml/trainer-0: spec.containers[1].resources.requests.memory: invalid quantity
/// "1Qi": unknown suffix ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field}: {cause}")]
pub struct ConvertError {
    /// The object (boxed so that `Result`s carrying this error stay small on the `Ok` path).
    pub object: Box<ObjectRef>,
    /// Path of the offending field.
    pub field: String,
    /// What is wrong with it.
    pub cause: Cause,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_object_field_and_cause() {
        let obj = ObjectRef {
            kind: "Pod",
            namespace: Some("ml".into()),
            name: "w-0".into(),
        };
        let e = FieldError::new(
            "spec.containers[0].resources.requests.cpu",
            Cause::Negative { value: "-1".into() },
        )
        .in_object(&obj);
        assert_eq!(
            e.to_string(),
            "Pod ml/w-0: spec.containers[0].resources.requests.cpu: quantity \"-1\" is negative"
        );
        let node = ObjectRef {
            kind: "Node",
            namespace: None,
            name: "n1".into(),
        };
        let e = FieldError::new("metadata.name", Cause::Missing).in_object(&node);
        assert_eq!(e.to_string(), "Node n1: metadata.name: is required");
    }
}

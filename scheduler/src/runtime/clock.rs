//! The runtime's only clock: the engine takes time as an argument, so it stays deterministic and
//! testable, and every read of the wall clock happens here.

use caldera_framework::Millis;

/// Unix time in milliseconds.
pub fn now_millis() -> Millis {
    k8s_openapi::jiff::Timestamp::now().as_millisecond()
}

/// The current time as a Kubernetes `Time`.
pub fn now_time() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}

//! Kubernetes API types for the gang APIs Caldera accepts.
//!
//! Caldera is a drop-in replacement for Volcano's scheduler, but gangs reach a cluster through
//! three different APIs, and a scheduler that reads only one strands the workloads wired for the
//! others:
//!
//! | API | group/version | link from pod | module |
//! |---|---|---|---|
//! | Volcano `PodGroup`, `Queue` | `scheduling.volcano.sh/v1beta1` | annotation [`labels::GROUP_NAME`] | [`volcano`] |
//! | scheduler-plugins `PodGroup` | `scheduling.x-k8s.io/v1alpha1` | label [`labels::COSCHEDULING_POD_GROUP`] | [`coscheduling`] |
//! | native `PodGroup`, `Workload` | `scheduling.k8s.io/v1beta1` | `pod.spec.schedulingGroup` | [`native`] |
//!
//! The first two are CRDs, defined here together with the generator for their YAML
//! ([`all_crds`], [`manifest`], the `crdgen` binary). The native kinds are built into the
//! apiserver and come from k8s-openapi; they are only re-exported.
//!
//! Everything here is data: no client, no I/O beyond [`manifest`]'s file helpers. Decoding is
//! lenient on purpose (unknown fields ignored, unknown phases kept) because the objects are
//! written by controllers we do not control and that upgrade on their own schedule.

#![warn(missing_docs)]
// Data from the API, files and the network must never panic the scheduler: outside tests, no
// unwrap/expect at all (a programming-error invariant says so with a scoped `expect` attribute).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::BTreeMap;

use k8s_openapi::{
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::api::resource::Quantity,
};
use kube::core::crd::v1::CustomResourceExt;

mod schema;

pub mod coscheduling;
pub mod labels;
pub mod manifest;
pub mod volcano;

/// The built-in gang API of Kubernetes (`scheduling.k8s.io/v1beta1`, feature gate
/// `GenericWorkload`).
///
/// Re-exported so every crate names the same types; [`api`](self::native::api) has the rest of
/// the group (specs, policies, templates).
pub mod native {
    pub use k8s_openapi::api::scheduling::v1beta1 as api;
    pub use k8s_openapi::api::scheduling::v1beta1::{PodGroup, Workload};
}

/// Resource amounts by resource name (`cpu`, `memory`, `nvidia.com/gpu`, ...), as in
/// `v1.ResourceList`. Ordered so serialisation and iteration are deterministic.
pub type ResourceList = BTreeMap<String, Quantity>;

/// Every CRD Caldera ships, each with the file name `crdgen` writes it to.
///
/// File names follow the kubebuilder `<group>_<plural>.yaml` convention so they sort by group
/// and match what operators expect from upstream charts.
pub fn all_crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("scheduling.volcano.sh_podgroups.yaml", volcano::PodGroup::crd()),
        ("scheduling.volcano.sh_queues.yaml", volcano::Queue::crd()),
        ("scheduling.x-k8s.io_podgroups.yaml", coscheduling::PodGroup::crd()),
    ]
}

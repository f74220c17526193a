//! Resource vectors in exact integers.
//!
//! Every fit decision compares integers: CPU in millicores, memory and storage in bytes, everything
//! else in whole units. Resource names are interned per snapshot into small dense ids so a vector
//! is a plain `[i64]` indexed by id, which keeps a fit check to a handful of compares.

use std::collections::BTreeMap;
use std::fmt;

/// Dense index of a resource name inside one [`ResourceNames`] table.
pub type ResourceId = u16;

/// `cpu`, in millicores.
pub const CPU: ResourceId = 0;
/// `memory`, in bytes.
pub const MEMORY: ResourceId = 1;
/// `ephemeral-storage`, in bytes.
pub const EPHEMERAL_STORAGE: ResourceId = 2;
/// `pods`: every pod requests one, so a node's pod limit is checked like any other resource.
pub const PODS: ResourceId = 3;

const WELL_KNOWN: [&str; 4] = ["cpu", "memory", "ephemeral-storage", "pods"];

/// Interning table from resource name to [`ResourceId`].
///
/// Ids are assigned in first-seen order after the four well-known resources, so a table built from
/// the same input in the same order always gives the same ids.
#[derive(Clone, Debug)]
pub struct ResourceNames {
    names: Vec<String>,
    index: BTreeMap<String, ResourceId>,
}

impl Default for ResourceNames {
    fn default() -> Self {
        let mut table = ResourceNames {
            names: Vec::new(),
            index: BTreeMap::new(),
        };
        for name in WELL_KNOWN {
            table.intern(name);
        }
        table
    }
}

impl ResourceNames {
    /// Returns the id of `name`, adding it if it is new.
    pub fn intern(&mut self, name: &str) -> ResourceId {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        // A cluster has tens of resource names; u16 leaves room for any realistic set.
        let id = ResourceId::try_from(self.names.len()).unwrap_or(ResourceId::MAX);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    /// The id of `name` if it was interned.
    pub fn get(&self, name: &str) -> Option<ResourceId> {
        self.index.get(name).copied()
    }

    /// The name of `id`.
    pub fn name(&self, id: ResourceId) -> &str {
        self.names.get(usize::from(id)).map_or("unknown", String::as_str)
    }

    /// How many names are interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: the well-known resources are always present.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Ids of all interned names, in id order.
    pub fn ids(&self) -> impl Iterator<Item = ResourceId> + '_ {
        (0..self.names.len()).filter_map(|i| ResourceId::try_from(i).ok())
    }

    /// Whether `id` names an accelerator: a whole GPU or a MIG slice.
    pub fn is_gpu(&self, id: ResourceId) -> bool {
        is_gpu_name(self.name(id))
    }

    /// Whether `id` is counted in whole units and must be requested with an equal limit.
    pub fn is_extended(&self, id: ResourceId) -> bool {
        usize::from(id) >= WELL_KNOWN.len()
    }

    /// Formats a value of resource `id` in Kubernetes notation ("1500m", "4Gi", "8").
    pub fn format_value(&self, id: ResourceId, value: i64) -> String {
        match id {
            CPU => crate::quantity::format_milli(value),
            _ => crate::quantity::format_units(value),
        }
    }
}

/// Whether a resource name is a GPU or a MIG slice (NVIDIA's mixed strategy names each MIG
/// profile as its own resource, `nvidia.com/mig-1g.10gb`).
pub fn is_gpu_name(name: &str) -> bool {
    name == "nvidia.com/gpu"
        || name.starts_with("nvidia.com/mig-")
        || name == "amd.com/gpu"
        || name == "gpu.intel.com/i915"
}

/// An amount of every resource, indexed by [`ResourceId`]; missing trailing entries are zero.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Resources(Vec<i64>);

impl Resources {
    /// No resources at all.
    pub const fn new() -> Self {
        Resources(Vec::new())
    }

    /// Builds a vector from `(id, value)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (ResourceId, i64)>) -> Self {
        let mut r = Resources::new();
        for (id, v) in pairs {
            r.set(id, v);
        }
        r
    }

    /// The amount of `id`.
    #[inline]
    pub fn get(&self, id: ResourceId) -> i64 {
        self.0.get(usize::from(id)).copied().unwrap_or(0)
    }

    /// Sets the amount of `id`.
    pub fn set(&mut self, id: ResourceId, value: i64) {
        let i = usize::from(id);
        if i >= self.0.len() {
            if value == 0 {
                return;
            }
            self.0.resize(i + 1, 0);
        }
        self.0[i] = value;
    }

    /// Non-zero entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (ResourceId, i64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .filter_map(|(i, v)| ResourceId::try_from(i).ok().map(|id| (id, *v)))
    }

    /// Adds `other` in place (saturating: quantities come from user input).
    pub fn add(&mut self, other: &Resources) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = a.saturating_add(*b);
        }
    }

    /// Subtracts `other` in place (saturating).
    pub fn sub(&mut self, other: &Resources) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = a.saturating_sub(*b);
        }
    }

    /// `self + other` as a new vector.
    pub fn plus(&self, other: &Resources) -> Resources {
        let mut r = self.clone();
        r.add(other);
        r
    }

    /// `self - other` as a new vector.
    pub fn minus(&self, other: &Resources) -> Resources {
        let mut r = self.clone();
        r.sub(other);
        r
    }

    /// Multiplies every entry by `n` (saturating).
    pub fn scaled(&self, n: i64) -> Resources {
        Resources(self.0.iter().map(|v| v.saturating_mul(n)).collect())
    }

    /// Whether every requested (positive) entry of `self` is covered by `available`.
    #[inline]
    pub fn fits_in(&self, available: &Resources) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(i, &req)| req <= 0 || req <= available.0.get(i).copied().unwrap_or(0))
    }

    /// How many copies of this request fit in `available` (`u32::MAX` for a request of nothing).
    pub fn copies_in(&self, available: &Resources) -> u32 {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, req)| **req > 0)
            .map(|(i, &req)| {
                let have = available.0.get(i).copied().unwrap_or(0).max(0);
                u32::try_from(have / req).unwrap_or(u32::MAX)
            })
            .min()
            .unwrap_or(u32::MAX)
    }

    /// [`Resources::fits_in`] against amounts computed per resource on the fly, so a fit check
    /// against a node's derived amounts (idle, future idle) allocates nothing.
    #[inline]
    pub fn fits_with(&self, available: impl Fn(ResourceId) -> i64) -> bool {
        self.iter_requested().all(|(id, req)| req <= available(id))
    }

    /// [`Resources::insufficient`] against amounts computed per resource on the fly.
    pub fn insufficient_with(&self, available: impl Fn(ResourceId) -> i64) -> impl Iterator<Item = ResourceId> {
        self.iter_requested()
            .filter(move |&(id, req)| req > available(id))
            .map(|(id, _)| id)
    }

    /// Positive entries in id order.
    #[inline]
    fn iter_requested(&self) -> impl Iterator<Item = (ResourceId, i64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0)
            .filter_map(|(i, v)| ResourceId::try_from(i).ok().map(|id| (id, *v)))
    }

    /// Ids whose request exceeds `available`, in id order.
    pub fn insufficient<'a>(&'a self, available: &'a Resources) -> impl Iterator<Item = ResourceId> + 'a {
        self.iter()
            .filter(move |&(id, req)| req > 0 && req > available.get(id))
            .map(|(id, _)| id)
    }

    /// Whether every entry is at most the matching entry of `other`.
    pub fn all_le(&self, other: &Resources) -> bool {
        let n = self.0.len().max(other.0.len());
        (0..n).all(|i| self.0.get(i).copied().unwrap_or(0) <= other.0.get(i).copied().unwrap_or(0))
    }

    /// Whether every entry is zero.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }

    /// Whether nothing but the pod slot is requested (Volcano's "BestEffort" task).
    pub fn is_best_effort(&self) -> bool {
        self.iter().all(|(id, _)| id == PODS)
    }

    /// Entry-wise minimum.
    pub fn min_with(&self, other: &Resources) -> Resources {
        self.zip_with(other, i64::min)
    }

    /// Entry-wise maximum.
    pub fn max_with(&self, other: &Resources) -> Resources {
        self.zip_with(other, i64::max)
    }

    fn zip_with(&self, other: &Resources, f: impl Fn(i64, i64) -> i64) -> Resources {
        let at = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0);
        let n = self.0.len().max(other.0.len());
        Resources((0..n).map(|i| f(at(&self.0, i), at(&other.0, i))).collect())
    }

    /// Whether any GPU or MIG resource is requested.
    pub fn has_gpu(&self, names: &ResourceNames) -> bool {
        self.iter().any(|(id, v)| v > 0 && names.is_gpu(id))
    }

    /// Human-readable rendering with names, e.g. `cpu: 2, memory: 4Gi, nvidia.com/gpu: 8`.
    pub fn display<'a>(&'a self, names: &'a ResourceNames) -> impl fmt::Display + 'a {
        DisplayResources { r: self, names }
    }
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

struct DisplayResources<'a> {
    r: &'a Resources,
    names: &'a ResourceNames,
}

impl fmt::Display for DisplayResources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (id, v) in self.r.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}: {}", self.names.name(id), self.names.format_value(id, v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vec3() -> impl Strategy<Value = Resources> {
        proptest::collection::vec(0i64..1_000_000, 0..6).prop_map(Resources)
    }

    #[test]
    fn well_known_ids_are_stable() {
        let mut n = ResourceNames::default();
        assert_eq!(n.intern("cpu"), CPU);
        assert_eq!(n.intern("pods"), PODS);
        let gpu = n.intern("nvidia.com/gpu");
        assert_eq!(gpu, 4);
        assert!(n.is_gpu(gpu));
        let mig = n.intern("nvidia.com/mig-1g.10gb");
        assert!(n.is_gpu(mig));
        assert!(!n.is_gpu(MEMORY));
    }

    #[test]
    fn fit_reports_each_insufficient_resource() {
        let req = Resources::from_pairs([(CPU, 2000), (4, 8)]);
        let avail = Resources::from_pairs([(CPU, 1000), (4, 8)]);
        assert!(!req.fits_in(&avail));
        assert_eq!(req.insufficient(&avail).collect::<Vec<_>>(), vec![CPU]);
        assert!(Resources::from_pairs([(PODS, 1)]).is_best_effort());
    }

    proptest! {
        #[test]
        fn add_then_sub_is_identity(a in vec3(), b in vec3()) {
            let mut x = a.clone();
            x.add(&b);
            x.sub(&b);
            prop_assert!(x.all_le(&a) && a.all_le(&x));
        }

        #[test]
        fn fit_is_monotone(req in vec3(), avail in vec3(), extra in vec3()) {
            if req.fits_in(&avail) {
                prop_assert!(req.fits_in(&avail.plus(&extra)));
            }
        }
    }
}

//! Lookup of simulated objects by namespace and name without building an owned key: the engine
//! hands back its decisions by object name every cycle (thousands of binds, nominations and job
//! statuses on a large trace), and a `(String, String)` key would be two allocations per lookup.

use std::collections::HashMap;

use caldera_framework::JobSource;

/// Values by namespace, then name. Inserting a name twice keeps the last value.
#[derive(Clone, Debug, Default)]
pub struct ByName<V> {
    namespaces: HashMap<String, HashMap<String, V>>,
}

impl<V> ByName<V> {
    /// Sets the value of `namespace/name`.
    pub fn insert(&mut self, namespace: &str, name: &str, value: V) {
        self.namespaces
            .entry(namespace.to_string())
            .or_default()
            .insert(name.to_string(), value);
    }

    /// The value of `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&V> {
        self.namespaces.get(namespace)?.get(name)
    }
}

/// PodGroups by API, namespace and name (the same name may be used by two APIs).
#[derive(Clone, Debug, Default)]
pub struct GroupIndex {
    by_source: HashMap<JobSource, ByName<usize>>,
}

impl GroupIndex {
    /// Records group `i`.
    pub fn insert(&mut self, source: JobSource, namespace: &str, name: &str, i: usize) {
        self.by_source.entry(source).or_default().insert(namespace, name, i);
    }

    /// The group of `source` named `namespace/name`.
    pub fn get(&self, source: JobSource, namespace: &str, name: &str) -> Option<usize> {
        self.by_source.get(&source)?.get(namespace, name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_per_namespace_and_api() {
        let mut pods = ByName::default();
        pods.insert("a", "p", 1);
        pods.insert("b", "p", 2);
        pods.insert("a", "p", 3);
        assert_eq!(pods.get("a", "p"), Some(&3), "the last insert wins");
        assert_eq!(pods.get("b", "p"), Some(&2));
        assert_eq!(pods.get("c", "p"), None);
        let mut groups = GroupIndex::default();
        groups.insert(JobSource::Volcano, "a", "g", 0);
        groups.insert(JobSource::Native, "a", "g", 1);
        assert_eq!(groups.get(JobSource::Volcano, "a", "g"), Some(0));
        assert_eq!(groups.get(JobSource::Native, "a", "g"), Some(1));
        assert_eq!(groups.get(JobSource::Coscheduling, "a", "g"), None);
    }
}

//! Why a task fits no node, aggregated the way kube-scheduler reports it
//! ("0/12 nodes are available: 8 Insufficient nvidia.com/gpu, 4 node(s) had untolerated taint {gpu: true}.").

use std::collections::BTreeMap;

/// Reasons collected over all nodes for one task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FitFailure {
    nodes: usize,
    counts: BTreeMap<String, u32>,
}

impl FitFailure {
    /// A failure over `nodes` nodes with no reasons yet.
    pub fn over(nodes: usize) -> Self {
        FitFailure {
            nodes,
            counts: BTreeMap::new(),
        }
    }

    /// Counts one node failing for `reason`.
    pub fn add(&mut self, reason: &str) {
        match self.counts.get_mut(reason) {
            Some(c) => *c += 1,
            None => {
                self.counts.insert(reason.to_string(), 1);
            }
        }
    }

    /// Counts `n` nodes failing for `reason`.
    pub fn add_n(&mut self, reason: &str, n: u32) {
        *self.counts.entry(reason.to_string()).or_default() += n;
    }

    /// The kube-scheduler-style message: most common reason first, ties by name.
    pub fn message(&self) -> String {
        let mut reasons: Vec<(&String, &u32)> = self.counts.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let listed: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
        if listed.is_empty() {
            format!("0/{} nodes are available.", self.nodes)
        } else {
            format!("0/{} nodes are available: {}.", self.nodes, listed.join(", "))
        }
    }
}

/// kube-scheduler's wording for a resource that does not fit.
pub fn insufficient(resource: &str) -> String {
    if resource == "pods" {
        "Too many pods".to_string()
    } else {
        format!("Insufficient {resource}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_orders_by_count_then_name() {
        let mut f = FitFailure::over(12);
        for _ in 0..4 {
            f.add("node(s) had untolerated taint {gpu: true}");
        }
        f.add_n("Insufficient nvidia.com/gpu", 8);
        assert_eq!(
            f.message(),
            "0/12 nodes are available: 8 Insufficient nvidia.com/gpu, 4 node(s) had untolerated taint {gpu: true}."
        );
        assert_eq!(FitFailure::over(0).message(), "0/0 nodes are available.");
        assert_eq!(insufficient("pods"), "Too many pods");
    }
}

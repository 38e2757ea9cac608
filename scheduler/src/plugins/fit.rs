//! NodeResourcesFit: the pod's requests (and one more pod) must fit in what the node has
//! left; scored by LeastAllocated over cpu and memory (weight 1 each).

use super::{Status, MAX_NODE_SCORE};
use crate::node_info::{NodeInfo, PodInfo};

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allowed_pods {
        reasons.push("Too many pods".to_string());
    }
    let want = &pod.requests;
    let used = &node.requested;
    let alloc = &node.allocatable;
    if !want.is_zero() {
        if alloc.milli_cpu < want.milli_cpu + used.milli_cpu {
            reasons.push("Insufficient cpu".into());
        }
        if alloc.memory < want.memory + used.memory {
            reasons.push("Insufficient memory".into());
        }
        if alloc.ephemeral_storage < want.ephemeral_storage + used.ephemeral_storage {
            reasons.push("Insufficient ephemeral-storage".into());
        }
        for (name, q) in &want.scalar {
            let have = alloc.scalar.get(name).copied().unwrap_or(0);
            let taken = used.scalar.get(name).copied().unwrap_or(0);
            if *q > 0 && have < q + taken {
                reasons.push(format!("Insufficient {name}"));
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Status {
            code: super::Code::Unschedulable,
            reasons,
        })
    }
}

/// (free / allocatable) × 100, averaged over cpu and memory, counting the scoring
/// defaults for containers without requests.
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let pairs = [
        (
            node.non_zero_requested.milli_cpu + pod.non_zero.milli_cpu,
            node.allocatable.milli_cpu,
        ),
        (
            node.non_zero_requested.memory + pod.non_zero.memory,
            node.allocatable.memory,
        ),
    ];
    let mut total = 0;
    for (req, alloc) in pairs {
        if alloc > 0 && req <= alloc {
            total += (alloc - req) * MAX_NODE_SCORE / alloc;
        }
    }
    total / pairs.len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn small_node() -> NodeInfo {
        node(json!({"metadata": {"name": "a"}, "status": {"allocatable":
            {"cpu": "2", "memory": "4Gi", "pods": "2", "example.com/gpu": "1"}}}))
    }

    fn requesting(cpu: &str, mem: &str) -> PodInfo {
        pod(json!({"spec": {"containers": [{"name": "c", "resources":
            {"requests": {"cpu": cpu, "memory": mem}}}]}}))
    }

    #[test]
    fn reports_every_insufficient_resource_and_pod_count() {
        let mut n = small_node();
        assert!(filter(&requesting("1", "1Gi"), &n).is_ok());
        let err = filter(&requesting("3", "8Gi"), &n).unwrap_err();
        assert_eq!(err.reasons, vec!["Insufficient cpu", "Insufficient memory"]);
        n.add_pod(Arc::new(requesting("1", "1Gi")));
        n.add_pod(Arc::new(requesting("500m", "1Gi")));
        let err = filter(&requesting("100m", "1Mi"), &n).unwrap_err();
        assert_eq!(err.reasons, vec!["Too many pods"]);
        let gpu = pod(json!({"spec": {"containers": [{"name": "c", "resources":
            {"requests": {"example.com/gpu": "2"}}}]}}));
        let err = filter(&gpu, &small_node()).unwrap_err();
        assert_eq!(err.reasons, vec!["Insufficient example.com/gpu"]);
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes() {
        let empty = small_node();
        let mut busy = small_node();
        busy.add_pod(Arc::new(requesting("1", "2Gi")));
        let p = requesting("500m", "1Gi");
        // cpu (2000-500)/2000 = 75, memory (4-1)/4 = 75.
        assert_eq!(least_allocated(&p, &empty), 75);
        assert_eq!(least_allocated(&p, &busy), 25);
    }
}

//! NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory fractions stay close
//! after placing the pod: `(1 - std deviation) × 100`. Best-effort pods are skipped.

use super::MAX_NODE_SCORE;
use crate::node_info::{NodeInfo, PodInfo};

pub fn skip(pod: &PodInfo) -> bool {
    pod.requests.milli_cpu == 0 && pod.requests.memory == 0
}

pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let fraction = |req: i64, alloc: i64| {
        if alloc <= 0 {
            return None;
        }
        Some((req as f64 / alloc as f64).min(1.0))
    };
    let f: Vec<f64> = [
        fraction(
            node.requested.milli_cpu + pod.requests.milli_cpu,
            node.allocatable.milli_cpu,
        ),
        fraction(
            node.requested.memory + pod.requests.memory,
            node.allocatable.memory,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let std = match f.as_slice() {
        [a, b] => (a - b).abs() / 2.0,
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn balanced_nodes_score_higher() {
        let n = node(json!({"metadata": {"name": "a"}, "status": {"allocatable":
            {"cpu": "4", "memory": "4Gi", "pods": "10"}}}));
        let even = pod(json!({"spec": {"containers": [{"name": "c", "resources":
            {"requests": {"cpu": "2", "memory": "2Gi"}}}]}}));
        let skewed = pod(json!({"spec": {"containers": [{"name": "c", "resources":
            {"requests": {"cpu": "4", "memory": "0"}}}]}}));
        assert_eq!(score(&even, &n), 100);
        assert_eq!(score(&skewed, &n), 50);
        assert!(skip(&pod(json!({"spec": {"containers": [{"name": "c"}]}}))));
    }
}

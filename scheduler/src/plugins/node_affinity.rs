//! NodeAffinity: `nodeSelector` and required node affinity must match the node; preferred
//! terms add their weights to the score.

use super::Status;
use crate::node_info::{NodeInfo, PodInfo};
use crate::selectors::{node_selector_matches, node_selector_term_matches};

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// Whether the pod's node selector and required affinity admit the node (also used by
/// PodTopologySpread's node inclusion policy).
pub fn matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let Some(spec) = pod.pod.spec.as_ref() else {
        return true;
    };
    let Some(n) = node.node.as_deref() else {
        return false;
    };
    for (k, v) in spec.node_selector.iter().flatten() {
        if node.labels.get(k) != Some(v) {
            return false;
        }
    }
    match spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        }) {
        Some(required) => node_selector_matches(required, n),
        None => true,
    }
}

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    if matches(pod, node) {
        Ok(())
    } else {
        Err(Status::unresolvable(REASON))
    }
}

pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(n) = node.node.as_deref() else {
        return 0;
    };
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .filter(|t| t.weight != 0 && node_selector_term_matches(&t.preference, n))
        .map(|t| t.weight as i64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn node_selector_and_required_affinity_must_both_match() {
        let a = node(json!({"metadata": {"name": "a", "labels": {"disk": "ssd", "zone": "z1"}}}));
        let b = node(json!({"metadata": {"name": "b", "labels": {"disk": "hdd"}}}));
        let p = pod(
            json!({"spec": {"containers": [], "nodeSelector": {"disk": "ssd"},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "Exists"}]}]}}}}}),
        );
        assert!(filter(&p, &a).is_ok());
        assert_eq!(filter(&p, &b).unwrap_err().reasons, vec![REASON]);
    }

    #[test]
    fn preferred_terms_sum_their_weights() {
        let a = node(json!({"metadata": {"name": "a", "labels": {"disk": "ssd", "zone": "z1"}}}));
        let p = pod(
            json!({"spec": {"containers": [], "affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 5, "preference": {"matchExpressions": [
                    {"key": "disk", "operator": "In", "values": ["ssd"]}]}},
                {"weight": 7, "preference": {"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["z2"]}]}}
            ]}}}}),
        );
        assert_eq!(score(&p, &a), 5);
    }
}

//! TaintToleration: NoSchedule/NoExecute taints must be tolerated; untolerated
//! PreferNoSchedule taints lower the score (normalized in reverse).

use super::Status;
use crate::node_info::{NodeInfo, PodInfo};
use crate::selectors::tolerated;

fn tolerations(pod: &PodInfo) -> &[k8s_openapi::api::core::v1::Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let tol = tolerations(pod);
    match node
        .taints()
        .iter()
        .find(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(tol, t))
    {
        Some(t) => Err(Status::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            t.key,
            t.value.as_deref().unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// Untolerated PreferNoSchedule taints (only tolerations with an empty or
/// PreferNoSchedule effect count).
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let tol: Vec<_> = tolerations(pod)
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect();
    node.taints()
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(&tol, t))
        .count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn untolerated_taints_filter_with_upstream_reason() {
        let n = node(json!({"metadata": {"name": "a"}, "spec": {"taints": [
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            {"key": "soft", "effect": "PreferNoSchedule"}
        ]}}));
        let plain = pod(json!({"spec": {"containers": []}}));
        assert_eq!(
            filter(&plain, &n).unwrap_err().reasons,
            vec!["node(s) had untolerated taint {k: v}"]
        );
        assert_eq!(score(&plain, &n), 1);
        let tolerating = pod(json!({"spec": {"containers": [], "tolerations": [
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            {"key": "soft", "operator": "Exists"}
        ]}}));
        assert!(filter(&tolerating, &n).is_ok());
        assert_eq!(score(&tolerating, &n), 0);
    }
}

//! PodTopologySpread: hard constraints (DoNotSchedule) bound the skew of matching pods
//! across topology domains; soft ones (ScheduleAnyway) score emptier domains higher.
//! Pods without constraints get upstream's system defaults (hostname skew 3, zone skew 5,
//! ScheduleAnyway) when a controller owns them.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::{Status, MAX_NODE_SCORE};
use crate::node_info::{NodeInfo, PodInfo};
use crate::selectors::{label_selector_matches, tolerated};

pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const HOSTNAME: &str = "kubernetes.io/hostname";

#[derive(Debug, Clone)]
pub struct Constraint {
    pub max_skew: i64,
    pub key: String,
    pub selector: LabelSelector,
    pub min_domains: i64,
    pub honor_affinity: bool,
    pub honor_taints: bool,
}

/// The pod's constraints of one kind (`hard` = DoNotSchedule), `matchLabelKeys` folded
/// into the selector.
pub fn constraints(pod: &PodInfo, hard: bool) -> Vec<Constraint> {
    let spec = pod.pod.spec.as_ref();
    let list: &[TopologySpreadConstraint] = spec
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or_default();
    if list.is_empty() {
        return if hard {
            Vec::new()
        } else {
            system_defaults(pod)
        };
    }
    let want = if hard {
        "DoNotSchedule"
    } else {
        "ScheduleAnyway"
    };
    list.iter()
        .filter(|c| c.when_unsatisfiable == want)
        .map(|c| {
            let mut selector = c.label_selector.clone().unwrap_or_default();
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = pod.labels.get(key) {
                    selector
                        .match_expressions
                        .get_or_insert_with(Vec::new)
                        .push(LabelSelectorRequirement {
                            key: key.clone(),
                            operator: "In".into(),
                            values: Some(vec![v.clone()]),
                        });
                }
            }
            Constraint {
                max_skew: c.max_skew as i64,
                key: c.topology_key.clone(),
                selector,
                min_domains: c.min_domains.unwrap_or(1) as i64,
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

/// Upstream spreads controller-owned pods softly by default; the selector is the pod's
/// own labels, which is what its ReplicaSet/StatefulSet selects.
fn system_defaults(pod: &PodInfo) -> Vec<Constraint> {
    let owned = pod.pod.metadata.owner_references.iter().flatten().any(|o| {
        o.controller == Some(true)
            && matches!(
                o.kind.as_str(),
                "ReplicaSet" | "StatefulSet" | "ReplicationController"
            )
    });
    if !owned || pod.labels.is_empty() {
        return Vec::new();
    }
    let selector = LabelSelector {
        match_labels: Some(pod.labels.clone()),
        ..Default::default()
    };
    [(HOSTNAME, 3), ("topology.kubernetes.io/zone", 5)]
        .into_iter()
        .map(|(key, skew)| Constraint {
            max_skew: skew,
            key: key.into(),
            selector: selector.clone(),
            min_domains: 1,
            honor_affinity: true,
            honor_taints: false,
        })
        .collect()
}

/// Whether a node takes part in counting for `c` (inclusion policies).
fn counted(pod: &PodInfo, c: &Constraint, node: &NodeInfo) -> bool {
    if c.honor_affinity && !super::node_affinity::matches(pod, node) {
        return false;
    }
    if c.honor_taints {
        let tol = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default();
        if node
            .taints()
            .iter()
            .any(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(tol, t))
        {
            return false;
        }
    }
    true
}

fn matching_pods(pod: &PodInfo, c: &Constraint, node: &NodeInfo) -> i64 {
    node.pods
        .iter()
        .filter(|p| {
            p.namespace == pod.namespace
                && p.pod.metadata.deletion_timestamp.is_none()
                && label_selector_matches(Some(&c.selector), &p.labels)
        })
        .count() as i64
}

fn has_all_keys(cs: &[Constraint], node: &NodeInfo) -> bool {
    cs.iter().all(|c| node.labels.contains_key(&c.key))
}

/// Matching-pod counts per domain for each constraint.
#[derive(Debug, Default)]
pub struct Counts {
    pub constraints: Vec<Constraint>,
    pub per_domain: Vec<HashMap<String, i64>>,
    /// Per constraint: the smallest domain count (0 below `minDomains`) and whether the
    /// incoming pod counts itself, computed once rather than per node.
    min: Vec<i64>,
    self_match: Vec<i64>,
}

/// Count per domain. `require_all`: a node missing any constraint's key is left out
/// (explicit constraints); system defaults only skip the constraints whose key is missing.
pub fn count(pod: &PodInfo, cs: Vec<Constraint>, nodes: &[&NodeInfo], require_all: bool) -> Counts {
    let mut per_domain = vec![HashMap::new(); cs.len()];
    for node in nodes {
        if require_all && !has_all_keys(&cs, node) {
            continue;
        }
        for (i, c) in cs.iter().enumerate() {
            let Some(domain) = node.labels.get(&c.key) else {
                continue;
            };
            if !counted(pod, c, node) {
                continue;
            }
            let n = matching_pods(pod, c, node);
            let counts: &mut HashMap<String, i64> = &mut per_domain[i];
            match counts.get_mut(domain) {
                Some(have) => *have += n,
                None => {
                    counts.insert(domain.clone(), n);
                }
            }
        }
    }
    let min = cs
        .iter()
        .zip(&per_domain)
        .map(|(c, domains)| {
            if (domains.len() as i64) < c.min_domains {
                0
            } else {
                domains.values().copied().min().unwrap_or(0)
            }
        })
        .collect();
    let self_match = cs
        .iter()
        .map(|c| label_selector_matches(Some(&c.selector), &pod.labels) as i64)
        .collect();
    Counts {
        constraints: cs,
        per_domain,
        min,
        self_match,
    }
}

pub fn filter(counts: &Counts, node: &NodeInfo) -> Result<(), Status> {
    if counts.constraints.is_empty() {
        return Ok(());
    }
    if !has_all_keys(&counts.constraints, node) {
        return Err(Status::unresolvable(REASON_MISSING_LABEL));
    }
    for (i, c) in counts.constraints.iter().enumerate() {
        let value = &node.labels[&c.key];
        let here = counts.per_domain[i].get(value).copied().unwrap_or(0);
        if here + counts.self_match[i] - counts.min[i] > c.max_skew {
            return Err(Status::unschedulable(REASON));
        }
    }
    Ok(())
}

/// Raw scores for the feasible nodes (lower is better), `None` for nodes to ignore.
pub fn raw_scores(
    pod: &PodInfo,
    feasible: &[&NodeInfo],
    all: &[&NodeInfo],
) -> Option<Vec<Option<i64>>> {
    let cs = constraints(pod, false);
    if cs.is_empty() {
        return None;
    }
    let explicit = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty());
    let counts = count(pod, cs, all, explicit);
    // Domain count per constraint among feasible nodes weighs each constraint.
    let weights: Vec<f64> = counts
        .constraints
        .iter()
        .map(|c| {
            let size = if c.key == HOSTNAME {
                feasible.len()
            } else {
                feasible
                    .iter()
                    .filter_map(|n| n.labels.get(&c.key))
                    .collect::<HashSet<_>>()
                    .len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    Some(
        feasible
            .iter()
            .map(|node| {
                if explicit && !has_all_keys(&counts.constraints, node) {
                    return None;
                }
                let mut score = 0.0;
                for (i, c) in counts.constraints.iter().enumerate() {
                    let Some(domain) = node.labels.get(&c.key) else {
                        continue;
                    };
                    let cnt = counts.per_domain[i].get(domain).copied().unwrap_or(0);
                    score += cnt as f64 * weights[i] + (c.max_skew - 1) as f64;
                }
                Some(score.round() as i64)
            })
            .collect(),
    )
}

pub fn normalize(raw: &[Option<i64>]) -> Vec<i64> {
    let present: Vec<i64> = raw.iter().flatten().copied().collect();
    let min = present.iter().copied().min().unwrap_or(0);
    let max = present.iter().copied().max().unwrap_or(0);
    raw.iter()
        .map(|s| match s {
            None => 0,
            Some(_) if max == 0 => MAX_NODE_SCORE,
            Some(s) => MAX_NODE_SCORE * (max + min - s) / max,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn spread_pod() -> PodInfo {
        pod(
            json!({"metadata": {"namespace": "d", "labels": {"app": "web"}}, "spec": {
            "containers": [],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": HOSTNAME,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
        )
    }

    fn host(name: &str) -> NodeInfo {
        node(json!({"metadata": {"name": name, "labels": {HOSTNAME: name}}}))
    }

    #[test]
    fn hard_constraints_bound_the_skew() {
        let mut a = host("a");
        let b = host("b");
        a.add_pod(Arc::new(spread_pod()));
        let p = spread_pod();
        let counts = count(&p, constraints(&p, true), &[&a, &b], true);
        assert_eq!(filter(&counts, &a).unwrap_err().reasons, vec![REASON]);
        assert!(filter(&counts, &b).is_ok());
        let unlabelled = node(json!({"metadata": {"name": "c"}}));
        assert_eq!(
            filter(&counts, &unlabelled).unwrap_err().reasons,
            vec![REASON_MISSING_LABEL]
        );
    }

    #[test]
    fn soft_constraints_score_emptier_domains_higher() {
        let mut a = host("a");
        let b = host("b");
        let soft = pod(
            json!({"metadata": {"namespace": "d", "labels": {"app": "web"}}, "spec": {
            "containers": [],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": HOSTNAME,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
        );
        a.add_pod(Arc::new(spread_pod()));
        let raw = raw_scores(&soft, &[&a, &b], &[&a, &b]).unwrap();
        let scores = normalize(&raw);
        assert!(scores[1] > scores[0], "{scores:?}");
    }

    #[test]
    fn controller_owned_pods_spread_by_default_without_zone_labels() {
        let owned = |name: &str| {
            pod(
                json!({"metadata": {"name": name, "namespace": "d", "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web", "uid": "u", "controller": true}]},
                "spec": {"containers": []}}),
            )
        };
        let mut a = host("a");
        let b = host("b");
        a.add_pod(Arc::new(owned("x")));
        let raw = raw_scores(&owned("y"), &[&a, &b], &[&a, &b]).unwrap();
        let scores = normalize(&raw);
        assert!(scores[1] > scores[0], "{scores:?}");
    }
}

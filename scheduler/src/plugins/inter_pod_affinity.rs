//! InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, and the
//! required anti-affinity of pods already placed, per topology domain; preferred terms
//! (both ways) and existing pods' required affinity (hard weight 1) score.

use std::collections::HashMap;

use super::{Status, MAX_NODE_SCORE};
use crate::node_info::{term_matches, NodeInfo, PodInfo};

pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Upstream's default `hardPodAffinityWeight`.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

type Domain = (String, String);

#[derive(Debug, Default)]
pub struct Counts {
    existing_anti: HashMap<Domain, i64>,
    affinity: HashMap<Domain, i64>,
    anti_affinity: HashMap<Domain, i64>,
}

pub fn count(pod: &PodInfo, nodes: &[&NodeInfo]) -> Counts {
    let mut c = Counts::default();
    let own_terms = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
    for node in nodes {
        if !own_terms && node.with_required_anti_affinity == 0 {
            continue;
        }
        for existing in &node.pods {
            if existing.key == pod.key {
                continue;
            }
            for term in &existing.required_anti_affinity {
                if term_matches(term, &existing.namespace, pod) {
                    if let Some(v) = node.labels.get(&term.topology_key) {
                        *c.existing_anti
                            .entry((term.topology_key.clone(), v.clone()))
                            .or_default() += 1;
                    }
                }
            }
            if !pod.required_affinity.is_empty()
                && pod
                    .required_affinity
                    .iter()
                    .all(|t| term_matches(t, &pod.namespace, existing))
            {
                for t in &pod.required_affinity {
                    if let Some(v) = node.labels.get(&t.topology_key) {
                        *c.affinity
                            .entry((t.topology_key.clone(), v.clone()))
                            .or_default() += 1;
                    }
                }
            }
            for t in &pod.required_anti_affinity {
                if term_matches(t, &pod.namespace, existing) {
                    if let Some(v) = node.labels.get(&t.topology_key) {
                        *c.anti_affinity
                            .entry((t.topology_key.clone(), v.clone()))
                            .or_default() += 1;
                    }
                }
            }
        }
    }
    c
}

fn hits(map: &HashMap<Domain, i64>, key: &str, node: &NodeInfo) -> bool {
    node.labels.get(key).is_some_and(|v| {
        map.get(&(key.to_string(), v.clone()))
            .is_some_and(|n| *n > 0)
    })
}

pub fn filter(pod: &PodInfo, counts: &Counts, node: &NodeInfo) -> Result<(), Status> {
    if !pod.required_affinity.is_empty() {
        let all_hit = pod
            .required_affinity
            .iter()
            .all(|t| hits(&counts.affinity, &t.topology_key, node));
        // The first pod of a group that selects itself may go anywhere with the keys.
        let first_of_group = counts.affinity.is_empty()
            && pod.required_affinity.iter().all(|t| {
                term_matches(t, &pod.namespace, pod) && node.labels.contains_key(&t.topology_key)
            });
        if !all_hit && !first_of_group {
            return Err(Status::unresolvable(REASON_AFFINITY));
        }
    }
    if pod
        .required_anti_affinity
        .iter()
        .any(|t| hits(&counts.anti_affinity, &t.topology_key, node))
    {
        return Err(Status::unschedulable(REASON_ANTI_AFFINITY));
    }
    let existing = counts
        .existing_anti
        .keys()
        .any(|(k, v)| node.labels.get(k) == Some(v));
    if existing {
        return Err(Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY));
    }
    Ok(())
}

/// Preferred-term weights per topology domain; `None` when nothing can score.
pub fn domain_scores(pod: &PodInfo, all: &[&NodeInfo]) -> Option<HashMap<Domain, i64>> {
    let mut out: HashMap<Domain, i64> = HashMap::new();
    let mut add = |node: &NodeInfo, key: &str, w: i64| {
        if let Some(v) = node.labels.get(key) {
            *out.entry((key.to_string(), v.clone())).or_default() += w;
        }
    };
    let incoming = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
    let mut any = incoming;
    for node in all {
        if !incoming && node.with_affinity == 0 {
            continue;
        }
        for existing in &node.pods {
            if incoming {
                for t in &pod.preferred_affinity {
                    if term_matches(&t.pod_affinity_term, &pod.namespace, existing) {
                        add(node, &t.pod_affinity_term.topology_key, t.weight as i64);
                    }
                }
                for t in &pod.preferred_anti_affinity {
                    if term_matches(&t.pod_affinity_term, &pod.namespace, existing) {
                        add(node, &t.pod_affinity_term.topology_key, -(t.weight as i64));
                    }
                }
            }
            if !existing.has_affinity_terms() {
                continue;
            }
            any = true;
            for t in &existing.required_affinity {
                if term_matches(t, &existing.namespace, pod) {
                    add(node, &t.topology_key, HARD_POD_AFFINITY_WEIGHT);
                }
            }
            for t in &existing.preferred_affinity {
                if term_matches(&t.pod_affinity_term, &existing.namespace, pod) {
                    add(node, &t.pod_affinity_term.topology_key, t.weight as i64);
                }
            }
            for t in &existing.preferred_anti_affinity {
                if term_matches(&t.pod_affinity_term, &existing.namespace, pod) {
                    add(node, &t.pod_affinity_term.topology_key, -(t.weight as i64));
                }
            }
        }
    }
    any.then_some(out)
}

pub fn score(domains: &HashMap<Domain, i64>, node: &NodeInfo) -> i64 {
    domains
        .iter()
        .filter(|((k, v), _)| node.labels.get(k) == Some(v))
        .map(|(_, w)| *w)
        .sum()
}

/// Min-max scaling to 0..100; all-equal scores become 0.
pub fn normalize(raw: &[i64]) -> Vec<i64> {
    let min = raw.iter().copied().min().unwrap_or(0);
    let max = raw.iter().copied().max().unwrap_or(0);
    raw.iter()
        .map(|s| {
            if max > min {
                MAX_NODE_SCORE * (s - min) / (max - min)
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    const HOST: &str = "kubernetes.io/hostname";

    fn host(name: &str) -> NodeInfo {
        node(json!({"metadata": {"name": name, "labels": {HOST: name}}}))
    }

    fn with(kind: &str, labels: serde_json::Value, app: &str) -> PodInfo {
        pod(
            json!({"metadata": {"name": "p", "namespace": "d", "labels": labels},
            "spec": {"containers": [], "affinity": {kind: {
                "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": HOST,
                    "labelSelector": {"matchLabels": {"app": app}}}]}}}}),
        )
    }

    fn plain(name: &str, app: &str) -> PodInfo {
        pod(
            json!({"metadata": {"name": name, "namespace": "d", "labels": {"app": app}},
            "spec": {"containers": []}}),
        )
    }

    #[test]
    fn anti_affinity_keeps_pods_apart_both_ways() {
        let mut a = host("a");
        let b = host("b");
        a.add_pod(Arc::new(plain("db", "db")));
        let p = with("podAntiAffinity", json!({"app": "web"}), "db");
        let c = count(&p, &[&a, &b]);
        assert_eq!(
            filter(&p, &c, &a).unwrap_err().reasons,
            vec![REASON_ANTI_AFFINITY]
        );
        assert!(filter(&p, &c, &b).is_ok());

        // An existing pod's anti-affinity repels the newcomer it selects.
        let mut a = host("a");
        a.add_pod(Arc::new(with("podAntiAffinity", json!({"app": "x"}), "db")));
        let newcomer = plain("db2", "db");
        let c = count(&newcomer, &[&a, &b]);
        assert_eq!(
            filter(&newcomer, &c, &a).unwrap_err().reasons,
            vec![REASON_EXISTING_ANTI_AFFINITY]
        );
    }

    #[test]
    fn affinity_requires_a_matching_pod_in_the_domain() {
        let mut a = host("a");
        let b = host("b");
        a.add_pod(Arc::new(plain("cache", "cache")));
        let p = with("podAffinity", json!({"app": "web"}), "cache");
        let c = count(&p, &[&a, &b]);
        assert!(filter(&p, &c, &a).is_ok());
        assert_eq!(
            filter(&p, &c, &b).unwrap_err().reasons,
            vec![REASON_AFFINITY]
        );
        // The first pod of a self-selecting group may land anywhere.
        let first = with("podAffinity", json!({"app": "solo"}), "solo");
        let c = count(&first, &[&host("a"), &b]);
        assert!(filter(&first, &c, &b).is_ok());
    }

    #[test]
    fn preferred_anti_affinity_scores_away() {
        let mut a = host("a");
        let b = host("b");
        a.add_pod(Arc::new(plain("x", "web")));
        let p = pod(
            json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": {"topologyKey": HOST,
                    "labelSelector": {"matchLabels": {"app": "web"}}}}]}}}}),
        );
        let d = domain_scores(&p, &[&a, &b]).unwrap();
        let s = normalize(&[score(&d, &a), score(&d, &b)]);
        assert_eq!(s, vec![0, 100]);
    }
}

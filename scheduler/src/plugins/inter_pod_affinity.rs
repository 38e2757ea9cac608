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

/// Weights or pod counts per topology domain: topology key → label value → number.
/// Nested so that a node's domains are found by lookups, not by scanning every domain.
#[derive(Debug, Default)]
pub struct Domains(HashMap<String, HashMap<String, i64>>);

impl Domains {
    /// Add `w` to the domain `node` is in for `key`; a node without the key has none.
    fn add(&mut self, node: &NodeInfo, key: &str, w: i64) {
        let Some(value) = node.labels.get(key) else {
            return;
        };
        let values = match self.0.get_mut(key) {
            Some(v) => v,
            None => self.0.entry(key.to_string()).or_default(),
        };
        match values.get_mut(value) {
            Some(n) => *n += w,
            None => {
                values.insert(value.clone(), w);
            }
        }
    }

    fn get(&self, key: &str, node: &NodeInfo) -> i64 {
        node.labels
            .get(key)
            .and_then(|v| self.0.get(key)?.get(v))
            .copied()
            .unwrap_or(0)
    }

    /// The sum over every key of the node's domain for it.
    fn sum(&self, node: &NodeInfo) -> i64 {
        self.0
            .iter()
            .filter_map(|(k, values)| values.get(node.labels.get(k)?))
            .sum()
    }

    fn is_empty(&self) -> bool {
        self.0.values().all(HashMap::is_empty)
    }
}

#[derive(Debug, Default)]
pub struct Counts {
    existing_anti: Domains,
    affinity: Domains,
    anti_affinity: Domains,
}

pub fn count(pod: &PodInfo, nodes: &[&NodeInfo]) -> Counts {
    let mut c = Counts::default();
    let own_terms = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
    // Matches of the incoming pod's terms on one node, added to its domains once per node.
    let mut affinity_matches;
    let mut anti_matches = vec![0i64; pod.required_anti_affinity.len()];
    for node in nodes {
        if !own_terms && node.with_required_anti_affinity == 0 {
            continue;
        }
        affinity_matches = 0;
        anti_matches.iter_mut().for_each(|n| *n = 0);
        for existing in &node.pods {
            if existing.key == pod.key {
                continue;
            }
            for term in &existing.required_anti_affinity {
                if term_matches(term, &existing.namespace, pod) {
                    c.existing_anti.add(node, &term.topology_key, 1);
                }
            }
            if !pod.required_affinity.is_empty()
                && pod
                    .required_affinity
                    .iter()
                    .all(|t| term_matches(t, &pod.namespace, existing))
            {
                affinity_matches += 1;
            }
            for (t, n) in pod.required_anti_affinity.iter().zip(&mut anti_matches) {
                if term_matches(t, &pod.namespace, existing) {
                    *n += 1;
                }
            }
        }
        if affinity_matches > 0 {
            for t in &pod.required_affinity {
                c.affinity.add(node, &t.topology_key, affinity_matches);
            }
        }
        for (t, n) in pod.required_anti_affinity.iter().zip(&anti_matches) {
            if *n > 0 {
                c.anti_affinity.add(node, &t.topology_key, *n);
            }
        }
    }
    c
}

pub fn filter(pod: &PodInfo, counts: &Counts, node: &NodeInfo) -> Result<(), Status> {
    if !pod.required_affinity.is_empty() {
        let all_hit = pod
            .required_affinity
            .iter()
            .all(|t| counts.affinity.get(&t.topology_key, node) > 0);
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
        .any(|t| counts.anti_affinity.get(&t.topology_key, node) > 0)
    {
        return Err(Status::unschedulable(REASON_ANTI_AFFINITY));
    }
    if counts.existing_anti.sum(node) > 0 {
        return Err(Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY));
    }
    Ok(())
}

/// Preferred-term weights per topology domain; `None` when nothing can score.
pub fn domain_scores(pod: &PodInfo, all: &[&NodeInfo]) -> Option<Domains> {
    let mut out = Domains::default();
    let incoming = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
    let mut any = incoming;
    // The incoming pod's terms: matches per node first, then one addition per node.
    let mut matches = vec![0i64; pod.preferred_affinity.len() + pod.preferred_anti_affinity.len()];
    let terms = || {
        pod.preferred_affinity
            .iter()
            .map(|t| (t, 1))
            .chain(pod.preferred_anti_affinity.iter().map(|t| (t, -1)))
    };
    for node in all {
        if !incoming && node.with_affinity == 0 {
            continue;
        }
        matches.iter_mut().for_each(|n| *n = 0);
        for existing in &node.pods {
            if incoming {
                for ((t, _), n) in terms().zip(&mut matches) {
                    if term_matches(&t.pod_affinity_term, &pod.namespace, existing) {
                        *n += 1;
                    }
                }
            }
            if !existing.has_affinity_terms() {
                continue;
            }
            any = true;
            for t in &existing.required_affinity {
                if term_matches(t, &existing.namespace, pod) {
                    out.add(node, &t.topology_key, HARD_POD_AFFINITY_WEIGHT);
                }
            }
            for t in &existing.preferred_affinity {
                if term_matches(&t.pod_affinity_term, &existing.namespace, pod) {
                    out.add(node, &t.pod_affinity_term.topology_key, t.weight as i64);
                }
            }
            for t in &existing.preferred_anti_affinity {
                if term_matches(&t.pod_affinity_term, &existing.namespace, pod) {
                    out.add(node, &t.pod_affinity_term.topology_key, -(t.weight as i64));
                }
            }
        }
        for ((t, sign), n) in terms().zip(&matches) {
            if *n > 0 {
                out.add(
                    node,
                    &t.pod_affinity_term.topology_key,
                    sign * t.weight as i64 * n,
                );
            }
        }
    }
    any.then_some(out)
}

pub fn score(domains: &Domains, node: &NodeInfo) -> i64 {
    domains.sum(node)
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

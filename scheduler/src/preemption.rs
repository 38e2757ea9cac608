//! DefaultPreemption (upstream's `preemption.Evaluator`): for a pod that fits nowhere, find
//! the node where evicting the fewest, least important lower-priority pods makes it fit,
//! sparing pods protected by a PodDisruptionBudget where possible.

use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::algorithm::{filter_node, FitError};
use crate::cache::Snapshot;
use crate::node_info::{NodeInfo, PodInfo};
use crate::plugins::{Code, CycleState, Status};
use crate::selectors::label_selector_matches;

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

#[derive(Debug)]
pub struct Candidate {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
    pub pdb_violations: usize,
}

/// Would evicting `p` go past a budget that allows no more disruptions?
fn violates_pdb(p: &PodInfo, pdbs: &[&PodDisruptionBudget]) -> bool {
    pdbs.iter().any(|pdb| {
        pdb.metadata.namespace.as_deref() == Some(p.namespace.as_str())
            && pdb.spec.as_ref().is_some_and(|s| {
                let sel = s.selector.as_ref();
                label_selector_matches(sel, &p.labels)
            })
            && pdb
                .status
                .as_ref()
                .is_none_or(|s| s.disruptions_allowed <= 0)
    })
}

fn select_victims(
    state: &CycleState,
    snap: &Snapshot,
    node: &NodeInfo,
) -> Result<Candidate, Status> {
    let prio = state.pod.priority;
    let mut lower: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < prio)
        .cloned()
        .collect();
    if lower.is_empty() {
        return Err(Status::unresolvable(NO_VICTIMS));
    }
    let mut trial = node.clone();
    for p in &lower {
        trial.remove_pod(&p.key);
    }
    filter_node(state, snap, &trial)?;
    // Reprieve the most important first; budget-protected pods before the others.
    lower.sort_by_key(|p| std::cmp::Reverse(p.priority));
    let (violating, free): (Vec<_>, Vec<_>) =
        lower.into_iter().partition(|p| violates_pdb(p, &snap.pdbs));
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (group, protected) in [(violating, true), (free, false)] {
        for p in group {
            trial.add_pod(p.clone());
            if filter_node(state, snap, &trial).is_err() {
                trial.remove_pod(&p.key);
                pdb_violations += protected as usize;
                victims.push(p);
            }
        }
    }
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        pdb_violations,
    })
}

/// Either a candidate, or the message (`preemption: ...`) explaining why none exists.
pub fn preempt(state: &CycleState, snap: &Snapshot, fit: &FitError) -> Result<Candidate, String> {
    let spec = state.pod.pod.spec.as_ref();
    if spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
        return Err("preemption: not eligible due to preemptionPolicy=Never.".into());
    }
    // Victims already on their way out of the nominated node: wait for them rather than
    // evicting more (upstream's PodEligibleToPreemptOthers).
    let nominated = state
        .pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty());
    if let Some(node) = nominated.and_then(|n| snap.nodes.iter().find(|i| i.name == n)) {
        let terminating = node.pods.iter().any(|p| {
            p.priority < state.pod.priority && p.pod.metadata.deletion_timestamp.is_some()
        });
        if terminating {
            return Err(
                "preemption: not eligible due to a terminating pod on the nominated node.".into(),
            );
        }
    }
    find_candidate(state, snap, fit)
}

/// The message when prefilter already refused every node.
pub fn not_helpful(num_nodes: usize) -> String {
    format!("preemption: 0/{num_nodes} nodes are available: {num_nodes} {NOT_HELPFUL}.")
}

fn find_candidate(
    state: &CycleState,
    snap: &Snapshot,
    fit: &FitError,
) -> Result<Candidate, String> {
    let mut statuses: Vec<(String, Status)> = Vec::new();
    let mut candidates = Vec::new();
    for node in &snap.nodes {
        let helpful = fit
            .statuses
            .iter()
            .find(|(n, _)| *n == node.name)
            .is_some_and(|(_, s)| s.code == Code::Unschedulable);
        if !helpful {
            statuses.push((node.name.clone(), Status::unresolvable(NOT_HELPFUL)));
            continue;
        }
        match select_victims(state, snap, node) {
            Ok(c) => candidates.push(c),
            Err(s) => statuses.push((node.name.clone(), s)),
        }
    }
    let best = candidates.into_iter().min_by_key(|c| {
        let top = c
            .victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN);
        let sum: i64 = c.victims.iter().map(|v| v.priority as i64).sum();
        (c.pdb_violations, top, sum, c.victims.len())
    });
    best.ok_or_else(|| {
        let e = FitError {
            num_all_nodes: snap.nodes.len(),
            prefilter_msg: None,
            statuses,
            postfilter_msg: None,
        };
        format!("preemption: {}", e.message())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::{schedule, Failure};
    use crate::cache::Cache;
    use serde_json::json;

    fn node(name: &str) -> Arc<k8s_openapi::api::core::v1::Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name,
                "labels": {"kubernetes.io/hostname": name}},
                "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"}}}))
            .unwrap(),
        )
    }

    fn pod(name: &str, node: &str, prio: i32, app: &str) -> Arc<k8s_openapi::api::core::v1::Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d",
                "labels": {"app": app}},
                "spec": {"nodeName": node, "priority": prio, "containers": [{"name": "c",
                    "resources": {"requests": {"cpu": "1500m"}}}]}}))
            .unwrap(),
        )
    }

    fn preempt_for(
        cache: &Cache,
        p: Arc<k8s_openapi::api::core::v1::Pod>,
    ) -> Result<Candidate, String> {
        let snap = cache.snapshot();
        let info = Arc::new(PodInfo::new(p));
        match schedule(info, &snap) {
            Err((Failure::Fit(fit), Some(state))) => preempt(&state, &snap, &fit),
            _ => panic!("expected a fit error"),
        }
    }

    #[test]
    fn evicts_lower_priority_pods_and_spares_budgeted_ones() {
        let mut cache = Cache::default();
        cache.upsert_node(node("a"));
        cache.upsert_node(node("b"));
        cache.upsert_pod(pod("low-a", "a", 0, "guarded"));
        cache.upsert_pod(pod("low-b", "b", 0, "free"));
        cache.pdbs.insert(
            "d/guard".into(),
            serde_json::from_value(json!({"metadata": {"name": "guard", "namespace": "d"},
                "spec": {"selector": {"matchLabels": {"app": "guarded"}}},
                "status": {"disruptionsAllowed": 0, "currentHealthy": 1,
                    "desiredHealthy": 1, "expectedPods": 1}}))
            .unwrap(),
        );
        let c = preempt_for(&cache, pod("high", "", 100, "x")).unwrap();
        assert_eq!(c.node, "b", "the node whose victim no budget protects");
        assert_eq!(c.victims.len(), 1);
        assert_eq!(c.victims[0].key, "d/low-b");

        let msg = preempt_for(&cache, pod("peer", "", 0, "x")).unwrap_err();
        assert_eq!(
            msg,
            "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
        );
    }
}

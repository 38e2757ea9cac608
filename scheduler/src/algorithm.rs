//! One scheduling attempt without I/O (upstream's `schedulePod` and `FitError`): prefilter,
//! filter every node (the nominated node first), score the feasible ones, pick the best.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::cache::Snapshot;
use crate::node_info::{NodeInfo, PodInfo};
use crate::plugins::{self, CycleState, Status};

/// `ErrNoNodesAvailable`.
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// Why a pod fits nowhere: upstream's `FitError`.
#[derive(Debug, Clone)]
pub struct FitError {
    pub num_all_nodes: usize,
    pub prefilter_msg: Option<String>,
    /// Per node, its refusal (every node, when prefilter refused).
    pub statuses: Vec<(String, Status)>,
    pub postfilter_msg: Option<String>,
}

/// `sortReasonsHistogram`: "N reason" per distinct reason, sorted as strings.
pub fn reasons_histogram(statuses: &[(String, Status)]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, s) in statuses {
        for r in &s.reasons {
            *counts.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut out: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    out.sort();
    out
}

impl FitError {
    pub fn message(&self) -> String {
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        match &self.prefilter_msg {
            Some(p) => msg.push_str(&format!(" {p}.")),
            None => msg.push_str(&format!(
                " {}.",
                reasons_histogram(&self.statuses).join(", ")
            )),
        }
        if let Some(p) = &self.postfilter_msg {
            msg.push_str(&format!(" {p}."));
        }
        msg
    }
}

#[derive(Debug)]
pub enum Failure {
    NoNodes,
    Fit(FitError),
}

impl Failure {
    pub fn message(&self) -> String {
        match self {
            Failure::NoNodes => NO_NODES.to_string(),
            Failure::Fit(f) => f.message(),
        }
    }
}

/// Filter one node, counting higher-or-equal priority pods nominated to it as if placed.
pub fn filter_node(state: &CycleState, snap: &Snapshot, node: &NodeInfo) -> Result<(), Status> {
    let nominated = snap.nominated_for(&node.name, &state.pod);
    if nominated.is_empty() {
        return plugins::filter(state, node);
    }
    let mut with = node.clone();
    for p in nominated {
        with.add_pod(p);
    }
    plugins::filter(state, &with)
}

/// A cheap random number for tie-breaking among equal best scores.
fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

pub struct Placement {
    pub node: String,
    pub state: CycleState,
}

/// Where the next cycle starts filtering (upstream's `nextStartNodeIndex`).
static NEXT_START: AtomicUsize = AtomicUsize::new(0);

/// How many feasible nodes are enough (upstream's `numFeasibleNodesToFind` with the
/// default adaptive `percentageOfNodesToScore`): all of a small cluster, then a share that
/// shrinks from 50% as the cluster grows, never below 5% or 100 nodes.
fn feasible_nodes_to_find(all: usize) -> usize {
    const MIN_NODES: usize = 100;
    const MIN_PERCENT: usize = 5;
    if all < MIN_NODES {
        return all;
    }
    let percent = 50usize.saturating_sub(all / 125).max(MIN_PERCENT);
    (all * percent / 100).max(MIN_NODES)
}

/// Where the pod goes, or why it goes nowhere (with the cycle state for preemption).
pub fn schedule(
    pod: Arc<PodInfo>,
    snap: &Snapshot,
) -> Result<Placement, (Failure, Option<Box<CycleState>>)> {
    if snap.nodes.is_empty() {
        return Err((Failure::NoNodes, None));
    }
    let state = match plugins::prefilter(pod, &snap.nodes, snap.volumes) {
        Ok(s) => s,
        Err(status) => {
            let statuses = snap
                .nodes
                .iter()
                .map(|n| (n.name.clone(), status.clone()))
                .collect();
            return Err((
                Failure::Fit(FitError {
                    num_all_nodes: snap.nodes.len(),
                    prefilter_msg: Some(status.message()),
                    statuses,
                    postfilter_msg: None,
                }),
                None,
            ));
        }
    };
    // The nominated node (where victims were evicted for this pod) is tried first.
    let nominated = state
        .pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.clone())
        .filter(|n| !n.is_empty());
    if let Some(n) = nominated.and_then(|n| snap.nodes.iter().find(|i| i.name == n)) {
        if filter_node(&state, snap, n).is_ok() {
            return Ok(Placement {
                node: n.name.clone(),
                state,
            });
        }
    }
    // Like upstream, stop once enough feasible nodes are found, and start each cycle
    // where the last one stopped so every node gets its turn.
    let all = snap.nodes.len();
    let wanted = feasible_nodes_to_find(all);
    let start = NEXT_START.load(Ordering::Relaxed) % all;
    let mut feasible: Vec<&NodeInfo> = Vec::new();
    let mut statuses = Vec::new();
    let mut processed = 0;
    for i in 0..all {
        let n = &snap.nodes[(start + i) % all];
        processed += 1;
        match filter_node(&state, snap, n) {
            Ok(()) => {
                feasible.push(n);
                if feasible.len() >= wanted {
                    break;
                }
            }
            Err(s) => statuses.push((n.name.clone(), s)),
        }
    }
    NEXT_START.store((start + processed) % all, Ordering::Relaxed);
    if feasible.is_empty() {
        return Err((
            Failure::Fit(FitError {
                num_all_nodes: snap.nodes.len(),
                prefilter_msg: None,
                statuses,
                postfilter_msg: None,
            }),
            Some(Box::new(state)),
        ));
    }
    if feasible.len() == 1 {
        return Ok(Placement {
            node: feasible[0].name.clone(),
            state,
        });
    }
    let scores = plugins::score(&state, &feasible, &snap.nodes);
    let best = scores.iter().copied().max().unwrap_or(0);
    let ties: Vec<usize> = (0..scores.len()).filter(|i| scores[*i] == best).collect();
    let pick = ties[(random() % ties.len() as u64) as usize];
    Ok(Placement {
        node: feasible[pick].name.clone(),
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_clusters_score_a_shrinking_share_of_nodes() {
        assert_eq!(feasible_nodes_to_find(50), 50);
        assert_eq!(feasible_nodes_to_find(100), 100);
        assert_eq!(feasible_nodes_to_find(1000), 420);
        assert_eq!(feasible_nodes_to_find(5000), 500);
        assert_eq!(feasible_nodes_to_find(10000), 500);
    }

    #[test]
    fn fit_error_message_matches_upstream() {
        let s = |r: &str| Status::unschedulable(r);
        let e = FitError {
            num_all_nodes: 3,
            prefilter_msg: None,
            statuses: vec![
                ("a".into(), s("node(s) had untolerated taint {k: v}")),
                ("b".into(), s("Insufficient cpu")),
                ("c".into(), s("node(s) had untolerated taint {k: v}")),
            ],
            postfilter_msg: Some(
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
                    .into(),
            ),
        };
        assert_eq!(
            e.message(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling..",
            "upstream nests one FitError in the other, hence the double period"
        );
    }
}

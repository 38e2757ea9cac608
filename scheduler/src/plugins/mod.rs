//! The default plugin set, in upstream's order, with upstream's default score weights
//! (`apis/config/v1/default_plugins.go`). Plugins are plain functions over `PodInfo` and
//! `NodeInfo`; what a plugin precomputes once per pod (PreFilter) lives in [`CycleState`].

pub mod balanced_allocation;
pub mod fit;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_unschedulable;
pub mod taint_toleration;
pub mod topology_spread;
pub mod volume_binding;

use std::sync::Arc;

use crate::node_info::{NodeInfo, PodInfo};

pub const MAX_NODE_SCORE: i64 = 100;

/// Score weights of the default profile.
pub const WEIGHT_TAINT_TOLERATION: i64 = 3;
pub const WEIGHT_NODE_AFFINITY: i64 = 2;
pub const WEIGHT_FIT: i64 = 1;
pub const WEIGHT_TOPOLOGY_SPREAD: i64 = 2;
pub const WEIGHT_INTER_POD_AFFINITY: i64 = 2;
pub const WEIGHT_BALANCED_ALLOCATION: i64 = 1;
pub const WEIGHT_IMAGE_LOCALITY: i64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Might fit after something changes, e.g. after preemption.
    Unschedulable,
    /// Preemption on this node cannot help.
    UnschedulableAndUnresolvable,
}

/// A plugin's refusal, with upstream's reason strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
}

impl Status {
    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }

    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }

    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

/// Everything a scheduling cycle computes once for the pod.
pub struct CycleState {
    pub pod: Arc<PodInfo>,
    pub spread: topology_spread::Counts,
    pub affinity: inter_pod_affinity::Counts,
    pub volumes: volume_binding::Bound,
}

/// PreFilter: a refusal here applies to every node.
pub fn prefilter(
    pod: Arc<PodInfo>,
    nodes: &[&NodeInfo],
    vols: &volume_binding::Volumes,
) -> Result<CycleState, Status> {
    let volumes = volume_binding::prefilter(&pod, vols)?;
    let spread =
        topology_spread::count(&pod, topology_spread::constraints(&pod, true), nodes, true);
    let affinity = inter_pod_affinity::count(&pod, nodes);
    Ok(CycleState {
        pod,
        spread,
        affinity,
        volumes,
    })
}

/// Filter plugins in upstream's order; the first refusal wins.
pub fn filter(state: &CycleState, node: &NodeInfo) -> Result<(), Status> {
    let pod = &state.pod;
    node_unschedulable::filter(pod, node)?;
    node_name::filter(pod, node)?;
    taint_toleration::filter(pod, node)?;
    node_affinity::filter(pod, node)?;
    node_ports::filter(pod, node)?;
    fit::filter(pod, node)?;
    volume_binding::filter(&state.volumes, node)?;
    topology_spread::filter(&state.spread, node)?;
    inter_pod_affinity::filter(pod, &state.affinity, node)?;
    Ok(())
}

/// Upstream's `DefaultNormalizeScore`: scale to 0..100 by the maximum, optionally reversed.
fn default_normalize(raw: &[i64], reverse: bool) -> Vec<i64> {
    let max = raw.iter().copied().max().unwrap_or(0);
    raw.iter()
        .map(|s| {
            if max == 0 {
                if reverse {
                    MAX_NODE_SCORE
                } else {
                    0
                }
            } else {
                let v = MAX_NODE_SCORE * s / max;
                if reverse {
                    MAX_NODE_SCORE - v
                } else {
                    v
                }
            }
        })
        .collect()
}

/// Weighted total score per feasible node.
pub fn score(state: &CycleState, feasible: &[&NodeInfo], all: &[&NodeInfo]) -> Vec<i64> {
    let pod = &state.pod;
    let mut total = vec![0i64; feasible.len()];
    let mut add = |scores: Vec<i64>, weight: i64| {
        for (t, s) in total.iter_mut().zip(scores) {
            *t += s * weight;
        }
    };
    let per_node = |f: &dyn Fn(&NodeInfo) -> i64| feasible.iter().map(|n| f(n)).collect::<Vec<_>>();

    add(
        default_normalize(&per_node(&|n| taint_toleration::score(pod, n)), true),
        WEIGHT_TAINT_TOLERATION,
    );
    add(
        default_normalize(&per_node(&|n| node_affinity::score(pod, n)), false),
        WEIGHT_NODE_AFFINITY,
    );
    add(per_node(&|n| fit::least_allocated(pod, n)), WEIGHT_FIT);
    if let Some(raw) = topology_spread::raw_scores(pod, feasible, all) {
        add(topology_spread::normalize(&raw), WEIGHT_TOPOLOGY_SPREAD);
    }
    if let Some(domains) = inter_pod_affinity::domain_scores(pod, all) {
        let raw = per_node(&|n| inter_pod_affinity::score(&domains, n));
        add(
            inter_pod_affinity::normalize(&raw),
            WEIGHT_INTER_POD_AFFINITY,
        );
    }
    if !balanced_allocation::skip(pod) {
        add(
            per_node(&|n| balanced_allocation::score(pod, n)),
            WEIGHT_BALANCED_ALLOCATION,
        );
    }
    let spread = image_locality::spread(pod, all);
    add(
        per_node(&|n| image_locality::score(pod, n, &spread, all.len())),
        WEIGHT_IMAGE_LOCALITY,
    );
    total
}

#[cfg(test)]
pub mod testing {
    //! Builders for plugin tests.
    use std::sync::Arc;

    use crate::node_info::{NodeInfo, PodInfo};

    pub fn pod(v: serde_json::Value) -> PodInfo {
        PodInfo::new(Arc::new(serde_json::from_value(v).expect("pod json")))
    }

    pub fn node(v: serde_json::Value) -> NodeInfo {
        let n: k8s_openapi::api::core::v1::Node = serde_json::from_value(v).expect("node json");
        let mut info = NodeInfo::new(n.metadata.name.as_deref().unwrap_or_default());
        info.set_node(Arc::new(n));
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_scales_and_reverses() {
        assert_eq!(default_normalize(&[0, 1, 2], false), vec![0, 50, 100]);
        assert_eq!(default_normalize(&[0, 1, 2], true), vec![100, 50, 0]);
        assert_eq!(default_normalize(&[0, 0], true), vec![100, 100]);
    }
}

//! The taints the node lifecycle controller owns, how conditions map onto them, how they
//! are written (upstream `SwapNodeControllerTaint`), and how tolerations match them.

use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const NO_SCHEDULE: &str = "NoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";

/// Which condition status gives which taint (upstream `nodeConditionToTaintKeyStatusMap`).
const CONDITION_TAINTS: &[(&str, &str, &str)] = &[
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    (
        "MemoryPressure",
        "True",
        "node.kubernetes.io/memory-pressure",
    ),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    (
        "NetworkUnavailable",
        "True",
        "node.kubernetes.io/network-unavailable",
    ),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

pub fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

fn same(a: &Taint, b: &Taint) -> bool {
    a.key == b.key && a.effect == b.effect
}

pub fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

pub fn has_taint(node: &Node, wanted: &Taint) -> bool {
    node_taints(node).iter().any(|t| same(t, wanted))
}

pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The NoSchedule taints a node's conditions and `spec.unschedulable` call for, and the
/// ones it has that this controller manages: (to add, to remove). Upstream's
/// `doNoScheduleTaintingPass`.
pub fn no_schedule_diff(node: &Node) -> (Vec<Taint>, Vec<Taint>) {
    let mut want: Vec<Taint> = Vec::new();
    for c in node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
    {
        for (type_, status, key) in CONDITION_TAINTS {
            if c.type_ == *type_ && c.status == *status {
                want.push(taint(key, NO_SCHEDULE));
            }
        }
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        want.push(taint(UNSCHEDULABLE, NO_SCHEDULE));
    }
    let managed: Vec<&Taint> = node_taints(node)
        .iter()
        .filter(|t| {
            t.effect == NO_SCHEDULE
                && (t.key == UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, k)| *k == t.key))
        })
        .collect();
    let add = want
        .iter()
        .filter(|w| !managed.iter().any(|m| same(m, w)))
        .cloned()
        .collect();
    let remove = managed
        .into_iter()
        .filter(|m| !want.iter().any(|w| same(m, w)))
        .cloned()
        .collect();
    (add, remove)
}

/// Add `add` (stamped with the time added) and remove `remove` on the node, reading it
/// fresh and writing with its resourceVersion, retrying conflicts. Ok(false) when the node
/// is gone.
pub async fn swap(
    api: &Api<Node>,
    name: &str,
    add: &[Taint],
    remove: &[Taint],
) -> Result<bool, kube::Error> {
    let mut last = None;
    for _ in 0..5 {
        let Some(node) = api.get_opt(name).await? else {
            return Ok(false);
        };
        let old = node_taints(&node);
        let mut new: Vec<Taint> = old
            .iter()
            .filter(|t| !remove.iter().any(|r| same(r, t)))
            .cloned()
            .collect();
        for a in add {
            if !new.iter().any(|t| same(t, a)) {
                let mut a = a.clone();
                a.time_added = Some(Time(Timestamp::now()));
                new.push(a);
            }
        }
        if new.len() == old.len() && new.iter().all(|n| old.iter().any(|o| same(o, n))) {
            return Ok(true);
        }
        let taints = if new.is_empty() {
            serde_json::Value::Null
        } else {
            json!(new)
        };
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": taints},
        });
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => last = Some(kube::Error::Api(e)),
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    // Every attempt conflicted: report the last conflict.
    last.map_or(Ok(false), Err)
}

/// Whether a toleration tolerates a taint (upstream `Toleration.ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// How long a pod may stay on a node with `taints` (all NoExecute): None for ever, zero
/// when some taint is not tolerated (upstream `GetMatchingTolerations` and
/// `getMinTolerationTime`).
pub fn toleration_time(
    taints: &[Taint],
    tolerations: &[Toleration],
) -> Option<std::time::Duration> {
    let mut min: Option<i64> = None;
    let mut used = 0;
    for taint in taints {
        let Some(t) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Some(std::time::Duration::ZERO);
        };
        used += 1;
        if let Some(secs) = t.toleration_seconds {
            min = Some(min.map_or(secs, |m: i64| m.min(secs)));
        }
    }
    if used == 0 {
        return Some(std::time::Duration::ZERO);
    }
    min.map(|s| std::time::Duration::from_secs(s.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};

    fn node(conditions: &[(&str, &str)], taints: Vec<Taint>, unschedulable: bool) -> Node {
        Node {
            spec: Some(NodeSpec {
                taints: Some(taints),
                unschedulable: Some(unschedulable),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(t, s)| NodeCondition {
                            type_: t.to_string(),
                            status: s.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn no_schedule_taints_follow_conditions() {
        let n = node(
            &[("Ready", "Unknown"), ("MemoryPressure", "False")],
            vec![],
            true,
        );
        let (add, remove) = no_schedule_diff(&n);
        let keys: Vec<&str> = add.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, [UNREACHABLE, UNSCHEDULABLE]);
        assert!(remove.is_empty());

        let n = node(
            &[("Ready", "True")],
            vec![
                taint(UNREACHABLE, NO_SCHEDULE),
                taint("user", NO_SCHEDULE),
                taint(UNREACHABLE, NO_EXECUTE),
            ],
            false,
        );
        let (add, remove) = no_schedule_diff(&n);
        assert!(add.is_empty());
        assert_eq!(remove.len(), 1);
        assert_eq!(
            (remove[0].key.as_str(), remove[0].effect.as_str()),
            (UNREACHABLE, NO_SCHEDULE)
        );
    }

    #[test]
    fn toleration_time_is_the_shortest_used_toleration() {
        let unreachable = taint(UNREACHABLE, NO_EXECUTE);
        let tol = |key: &str, secs: Option<i64>| Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(NO_EXECUTE.into()),
            toleration_seconds: secs,
            ..Default::default()
        };
        let secs = |s| Some(std::time::Duration::from_secs(s));
        assert_eq!(
            toleration_time(std::slice::from_ref(&unreachable), &[]),
            secs(0)
        );
        assert_eq!(
            toleration_time(
                std::slice::from_ref(&unreachable),
                &[tol(UNREACHABLE, Some(2))]
            ),
            secs(2)
        );
        assert_eq!(
            toleration_time(
                std::slice::from_ref(&unreachable),
                &[tol(UNREACHABLE, None)]
            ),
            None
        );
        assert_eq!(
            toleration_time(
                std::slice::from_ref(&unreachable),
                &[tol(NOT_READY, Some(300))]
            ),
            secs(0)
        );
        let everything = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert_eq!(toleration_time(&[unreachable], &[everything]), None);
    }
}

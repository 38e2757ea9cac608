//! Node health as upstream's `tryUpdateNodeHealth` judges it: a node is heard from when its
//! Ready condition's heartbeat or its Lease's renewTime moves; silent for longer than the
//! grace period, its conditions become Unknown.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::taints::condition;

/// The conditions the controller turns Unknown (NetworkUnavailable is managed by the
/// control plane, not the kubelet).
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What the controller last saw of a node.
#[derive(Clone, Debug)]
pub struct Health {
    pub probe: Timestamp,
    /// The Ready condition as last seen.
    ready: Option<NodeCondition>,
    lease_renew: Option<Timestamp>,
}

/// The outcome of looking at a node once.
pub struct Observation {
    /// The Ready condition the node had (a fake Unknown one when it never posted any).
    pub observed: NodeCondition,
    /// The conditions to write when the node went silent and its Ready condition changes.
    pub write: Option<Vec<NodeCondition>>,
}

fn unknown_since(creation: Option<&Time>) -> NodeCondition {
    NodeCondition {
        type_: "Ready".into(),
        status: "Unknown".into(),
        last_heartbeat_time: creation.cloned(),
        last_transition_time: creation.cloned(),
        ..Default::default()
    }
}

fn semantically_equal(a: &NodeCondition, b: &NodeCondition) -> bool {
    a.type_ == b.type_
        && a.status == b.status
        && a.reason == b.reason
        && a.message == b.message
        && a.last_heartbeat_time == b.last_heartbeat_time
        && a.last_transition_time == b.last_transition_time
}

/// Look at `node` (with its Lease's renewTime) given what was `saved`; returns the new
/// record and what to do.
pub fn observe(
    node: &Node,
    lease_renew: Option<Timestamp>,
    saved: Option<&Health>,
    now: Timestamp,
    grace: Duration,
    startup_grace: Duration,
) -> (Health, Observation) {
    let creation = node.metadata.creation_timestamp.as_ref();
    let created = creation.map_or(now, |t| t.0);
    let current = condition(node, "Ready");
    let (observed, grace) = match current {
        Some(c) => (c.clone(), grace),
        None => (unknown_since(creation), startup_grace),
    };
    let fresh = |ready: Option<&NodeCondition>| Health {
        probe: now,
        ready: ready.cloned(),
        lease_renew: None,
    };
    let mut health = match (saved, current) {
        // Never posted a status: counted from creation.
        (None, None) => Health {
            probe: created,
            ready: None,
            lease_renew: None,
        },
        (Some(h), None) => Health {
            ready: None,
            ..h.clone()
        },
        (None, Some(c)) => fresh(Some(c)),
        (Some(h), Some(c)) => match &h.ready {
            None => Health {
                lease_renew: h.lease_renew,
                ..fresh(Some(c))
            },
            Some(s) if s.last_heartbeat_time != c.last_heartbeat_time => Health {
                lease_renew: h.lease_renew,
                ..fresh(Some(c))
            },
            Some(_) => h.clone(),
        },
    };
    // A renewed Lease is a heartbeat too.
    if let Some(renew) = lease_renew {
        if health.lease_renew.is_none_or(|s| s < renew) {
            health.lease_renew = Some(renew);
            health.probe = now;
        }
    }
    let mut write = None;
    let silent_for = now.duration_since(health.probe);
    if silent_for.is_positive() && silent_for.unsigned_abs() > grace {
        let mut conditions: Vec<NodeCondition> = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        for type_ in KUBELET_CONDITIONS {
            match conditions.iter_mut().find(|c| c.type_ == *type_) {
                None => conditions.push(NodeCondition {
                    type_: (*type_).into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: creation.cloned(),
                    last_transition_time: Some(Time(now)),
                }),
                Some(c) if c.status != "Unknown" => {
                    c.status = "Unknown".into();
                    c.reason = Some("NodeStatusUnknown".into());
                    c.message = Some("Kubelet stopped posting node status.".into());
                    c.last_transition_time = Some(Time(now));
                }
                Some(_) => {}
            }
        }
        let ready = conditions.iter().find(|c| c.type_ == "Ready");
        if ready.is_some_and(|r| !semantically_equal(r, &observed)) || current.is_none() {
            health.ready = ready.cloned();
            write = Some(conditions);
        }
    }
    (health, Observation { observed, write })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeStatus;
    use kube::api::ObjectMeta;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn node(ready_heartbeat: &str) -> Node {
        let t = Some(Time(at(ready_heartbeat)));
        Node {
            metadata: ObjectMeta {
                creation_timestamp: Some(Time(at("2026-01-01T00:00:00Z"))),
                ..Default::default()
            },
            status: Some(NodeStatus {
                conditions: Some(vec![
                    NodeCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        reason: Some("KubeletReady".into()),
                        last_heartbeat_time: t.clone(),
                        last_transition_time: t,
                        ..Default::default()
                    },
                    NodeCondition {
                        type_: "MemoryPressure".into(),
                        status: "False".into(),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    const GRACE: Duration = Duration::from_secs(50);
    const STARTUP: Duration = Duration::from_secs(60);

    #[test]
    fn silent_node_goes_unknown_after_the_grace_period() {
        let n = node("2026-01-01T00:00:00Z");
        let (h, o) = observe(&n, None, None, at("2026-01-01T00:00:10Z"), GRACE, STARTUP);
        assert!(o.write.is_none());
        assert_eq!(o.observed.status, "True");
        let (h, o) = observe(
            &n,
            None,
            Some(&h),
            at("2026-01-01T00:00:40Z"),
            GRACE,
            STARTUP,
        );
        assert!(o.write.is_none());
        let (_, o) = observe(
            &n,
            None,
            Some(&h),
            at("2026-01-01T00:01:01Z"),
            GRACE,
            STARTUP,
        );
        let conds = o.write.expect("conditions written");
        let ready = conds.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        for t in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            let c = conds.iter().find(|c| c.type_ == t).unwrap();
            assert_eq!(c.status, "Unknown", "{t}");
        }
        assert_eq!(
            conds
                .iter()
                .find(|c| c.type_ == "DiskPressure")
                .unwrap()
                .reason
                .as_deref(),
            Some("NodeStatusNeverUpdated")
        );
    }

    #[test]
    fn a_renewed_lease_keeps_the_node_healthy() {
        let n = node("2026-01-01T00:00:00Z");
        let (mut h, _) = observe(&n, None, None, at("2026-01-01T00:00:10Z"), GRACE, STARTUP);
        for (i, now) in ["00:00:40", "00:01:10", "00:01:40", "00:02:10"]
            .iter()
            .enumerate()
        {
            let renew =
                at(&format!("2026-01-01T{now}Z")) - std::time::Duration::from_secs(i as u64);
            let (next, o) = observe(
                &n,
                Some(renew),
                Some(&h),
                at(&format!("2026-01-01T{now}Z")),
                GRACE,
                STARTUP,
            );
            assert!(o.write.is_none(), "at {now}");
            h = next;
        }
    }

    #[test]
    fn a_node_that_never_posted_gets_the_startup_grace() {
        let n = Node {
            metadata: ObjectMeta {
                creation_timestamp: Some(Time(at("2026-01-01T00:00:00Z"))),
                ..Default::default()
            },
            ..Default::default()
        };
        let (h, o) = observe(&n, None, None, at("2026-01-01T00:00:59Z"), GRACE, STARTUP);
        assert!(o.write.is_none());
        let (_, o) = observe(
            &n,
            None,
            Some(&h),
            at("2026-01-01T00:01:01Z"),
            GRACE,
            STARTUP,
        );
        let conds = o.write.unwrap();
        assert_eq!(conds.len(), 4);
        assert!(conds
            .iter()
            .all(|c| c.reason.as_deref() == Some("NodeStatusNeverUpdated")));
    }
}

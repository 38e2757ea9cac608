//! Zones and the rate-limited tainting queues (upstream nodelifecycle's zone states and
//! scheduler.RateLimitedTimedQueue): NoExecute taints are added to at most
//! `--node-eviction-rate` nodes a second per zone, slower or not at all when a zone is
//! largely down, and never while every zone is down (the control plane is the likelier
//! culprit then).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;

/// Upstream's `--node-eviction-rate`, `--secondary-node-eviction-rate`,
/// `--large-cluster-size-threshold` and `--unhealthy-zone-threshold` defaults.
pub const EVICTION_QPS: f64 = 0.1;
pub const SECONDARY_EVICTION_QPS: f64 = 0.01;
pub const LARGE_CLUSTER_THRESHOLD: usize = 50;
pub const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// Nodes carrying this label are left out of the zone health computation.
const EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";

/// A node's zone as upstream's `GetZoneKey` spells it: region and zone labels (GA, else
/// the deprecated beta ones), empty when the node has neither.
pub fn zone_key(node: &Node) -> String {
    let labels = node.labels();
    let get = |ga: &str, beta: &str| {
        labels
            .get(ga)
            .or_else(|| labels.get(beta))
            .cloned()
            .unwrap_or_default()
    };
    let region = get(
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/region",
    );
    let zone = get(
        "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/zone",
    );
    if region.is_empty() && zone.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

pub fn excluded_from_disruption(node: &Node) -> bool {
    node.labels().contains_key(EXCLUDE_DISRUPTION)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Initial,
    Normal,
    FullDisruption,
    PartialDisruption,
}

/// A zone's state from its nodes' Ready statuses (upstream `ComputeZoneState`).
pub fn zone_state(ready: &[bool]) -> ZoneState {
    let ready_nodes = ready.iter().filter(|r| **r).count();
    let not_ready = ready.len() - ready_nodes;
    if ready_nodes == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / ready.len() as f64 >= UNHEALTHY_ZONE_THRESHOLD {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// The tainting rate for a zone in `state` with `size` nodes.
pub fn qps_for(state: ZoneState, size: usize) -> f64 {
    match state {
        // Large clusters keep evicting slowly; small ones stop.
        ZoneState::PartialDisruption if size > LARGE_CLUSTER_THRESHOLD => SECONDARY_EVICTION_QPS,
        ZoneState::PartialDisruption => 0.0,
        _ => EVICTION_QPS,
    }
}

/// A token bucket of burst one; zero QPS accepts nothing.
#[derive(Debug)]
pub struct Limiter {
    qps: f64,
    tokens: f64,
    last: Instant,
}

impl Limiter {
    pub fn new(qps: f64) -> Self {
        Limiter {
            qps,
            tokens: 1.0,
            last: Instant::now(),
        }
    }

    pub fn try_accept(&mut self, now: Instant) -> bool {
        if self.qps <= 0.0 {
            return false;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(1.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Item {
    node: String,
    process_at: Instant,
}

/// Nodes waiting to be tainted, each at most once, processed in order at the limiter's pace.
pub struct TimedQueue {
    items: VecDeque<Item>,
    /// Nodes added and not yet removed (processing keeps them here, as upstream's
    /// UniqueQueue does, so a node is tainted once per episode).
    members: HashSet<String>,
    limiter: Limiter,
}

impl TimedQueue {
    pub fn new(qps: f64) -> Self {
        TimedQueue {
            items: VecDeque::new(),
            members: HashSet::new(),
            limiter: Limiter::new(qps),
        }
    }

    pub fn swap_limiter(&mut self, qps: f64) {
        if (self.limiter.qps - qps).abs() > f64::EPSILON {
            self.limiter = Limiter::new(qps);
        }
    }

    /// Queue `node`; false when it is queued or processed already.
    pub fn add(&mut self, node: &str) -> bool {
        if !self.members.insert(node.to_string()) {
            return false;
        }
        self.items.push_back(Item {
            node: node.to_string(),
            process_at: Instant::now(),
        });
        true
    }

    /// Forget `node`; true when it was known.
    pub fn remove(&mut self, node: &str) -> bool {
        self.items.retain(|i| i.node != node);
        self.members.remove(node)
    }

    /// The nodes due now, as far as the limiter allows; each is taken off the queue (but
    /// stays a member). `retry` puts one back.
    pub fn take_due(&mut self, now: Instant) -> Vec<String> {
        let mut due = Vec::new();
        while let Some(head) = self.items.front() {
            if head.process_at > now || !self.limiter.try_accept(now) {
                break;
            }
            if let Some(item) = self.items.pop_front() {
                due.push(item.node);
            }
        }
        due
    }

    /// Put `node` back to be tried again shortly (its tainting failed).
    pub fn retry(&mut self, node: &str, after: Duration) {
        if self.members.contains(node) && !self.items.iter().any(|i| i.node == node) {
            self.items.push_back(Item {
                node: node.to_string(),
                process_at: Instant::now() + after,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    #[test]
    fn zone_states_follow_upstream_thresholds() {
        assert_eq!(zone_state(&[false]), ZoneState::FullDisruption);
        assert_eq!(zone_state(&[true, false]), ZoneState::Normal);
        assert_eq!(zone_state(&[true, false, false]), ZoneState::Normal);
        assert_eq!(
            zone_state(&[true, false, false, false]),
            ZoneState::PartialDisruption
        );
        assert_eq!(qps_for(ZoneState::PartialDisruption, 10), 0.0);
        assert_eq!(
            qps_for(ZoneState::PartialDisruption, 100),
            SECONDARY_EVICTION_QPS
        );
    }

    #[test]
    fn zone_key_joins_region_and_zone() {
        let mut node = Node {
            metadata: ObjectMeta::default(),
            ..Default::default()
        };
        assert_eq!(zone_key(&node), "");
        node.metadata.labels =
            Some([("topology.kubernetes.io/zone".to_string(), "a".to_string())].into());
        assert_eq!(zone_key(&node), ":\x00:a");
    }

    #[test]
    fn queue_takes_each_node_once_at_the_limiters_pace() {
        let mut q = TimedQueue::new(EVICTION_QPS);
        assert!(q.add("a"));
        assert!(q.add("b"));
        assert!(!q.add("a"));
        let now = Instant::now();
        assert_eq!(q.take_due(now), ["a"]);
        // Burst one: b waits ten seconds at 0.1/s.
        assert!(q.take_due(now).is_empty());
        assert_eq!(q.take_due(now + Duration::from_secs(11)), ["b"]);
        // Processed nodes stay members until removed.
        assert!(!q.add("a"));
        assert!(q.remove("a"));
        assert!(q.add("a"));
        let mut stopped = TimedQueue::new(0.0);
        stopped.add("c");
        assert!(stopped.take_due(now + Duration::from_secs(100)).is_empty());
    }
}

//! The node lifecycle controller (upstream pkg/controller/nodelifecycle): watches Nodes and
//! their Leases in `kube-node-lease`; a node silent for longer than the grace period gets
//! its conditions set Unknown (`NodeStatusUnknown`, "Kubelet stopped posting node
//! status."), a `NodeNotReady` event, its pods marked not Ready, and the
//! `node.kubernetes.io/unreachable` taints (`not-ready` for Ready=False): NoSchedule at
//! once, NoExecute at a rate-limited pace per zone, never while every zone is down. A node
//! that comes back loses them. The taint-eviction controller ([`taint_eviction`]) then
//! deletes the pods that do not tolerate the NoExecute taints for long enough.

mod health;
pub mod taint_eviction;
mod taints;
mod zones;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::events::Events;
use health::Health;
use zones::{TimedQueue, ZoneState};

/// Upstream's `--node-monitor-period`.
const MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// Upstream's `--node-monitor-grace-period` default (50s since v1.32).
const DEFAULT_GRACE: Duration = Duration::from_secs(50);
/// Upstream's `--node-startup-grace-period`.
const STARTUP_GRACE: Duration = Duration::from_secs(60);
/// How often the NoExecute tainting queues are worked (upstream's NodeEvictionPeriod).
const TAINTING_PERIOD: Duration = Duration::from_millis(100);
/// Overrides the grace period (a Go duration such as `40s`), as the
/// `--node-monitor-grace-period` flag does.
pub const GRACE_ENV: &str = "K8RS_NODE_MONITOR_GRACE_PERIOD";
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The grace period: `K8RS_NODE_MONITOR_GRACE_PERIOD` if set and valid, else upstream's.
pub fn grace_period() -> Duration {
    std::env::var(GRACE_ENV)
        .ok()
        .and_then(|v| parse_seconds(&v))
        .unwrap_or(DEFAULT_GRACE)
}

/// `40s`, `1m`, `1m30s` or plain seconds.
fn parse_seconds(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += match ch {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return None,
        };
    }
    (num.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

struct Controller {
    nodes_api: Api<Node>,
    client: Client,
    nodes: Store<Node>,
    leases: Store<Lease>,
    events: Events,
    grace: Duration,
    health: HashMap<String, Health>,
    known: HashSet<String>,
    zone_states: BTreeMap<String, ZoneState>,
    tainters: BTreeMap<String, TimedQueue>,
    /// Nodes whose pods still need marking not Ready (a failed attempt).
    retry_pods: HashSet<String>,
}

pub async fn run(client: Client) -> anyhow::Result<()> {
    let nodes_api = Api::<Node>::all(client.clone());
    let (nodes, node_writer) = reflector::store();
    let node_events = reflector::reflector(
        node_writer,
        watcher::watcher(nodes_api.clone(), watcher::Config::default()),
    )
    .applied_objects();
    let (leases, lease_writer) = reflector::store();
    let lease_events = reflector::reflector(
        lease_writer,
        watcher::watcher(
            Api::<Lease>::namespaced(client.clone(), LEASE_NAMESPACE),
            watcher::Config::default(),
        ),
    );

    let mut c = Controller {
        nodes_api,
        client: client.clone(),
        nodes,
        leases,
        events: Events::new(client, "node-controller"),
        grace: grace_period(),
        health: HashMap::new(),
        known: HashSet::new(),
        zone_states: BTreeMap::new(),
        tainters: BTreeMap::new(),
        retry_pods: HashSet::new(),
    };
    let mut node_events = std::pin::pin!(node_events);
    let mut lease_events = std::pin::pin!(lease_events);
    let mut monitor = tokio::time::interval(MONITOR_PERIOD);
    let mut tainting = tokio::time::interval(TAINTING_PERIOD);
    let mut synced = false;
    loop {
        tokio::select! {
            event = node_events.next() => match event {
                Some(Ok(node)) => c.no_schedule_pass(&node).await,
                Some(Err(e)) => tracing::debug!("node lifecycle watch: {e}"),
                None => return Ok(()),
            },
            Some(_) = lease_events.next() => {}
            _ = monitor.tick() => {
                // Judge nodes only once both caches hold a full list (without blocking
                // the node stream that fills one of them).
                if !synced {
                    synced = c.nodes.wait_until_ready().now_or_never().is_some_and(|r| r.is_ok())
                        && c.leases.wait_until_ready().now_or_never().is_some_and(|r| r.is_ok());
                }
                if synced {
                    c.monitor_node_health().await;
                }
            }
            _ = tainting.tick() => c.no_execute_tainting_pass().await,
        }
    }
}

fn node_ref(node: &Node) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(node.name_any()),
        uid: node.metadata.uid.clone(),
        ..Default::default()
    }
}

impl Controller {
    /// NoSchedule taints follow the node's conditions and `spec.unschedulable` at once.
    async fn no_schedule_pass(&self, node: &Node) {
        let (add, remove) = taints::no_schedule_diff(node);
        if add.is_empty() && remove.is_empty() {
            return;
        }
        if let Err(e) = taints::swap(&self.nodes_api, &node.name_any(), &add, &remove).await {
            tracing::warn!(node = %node.name_any(), "updating NoSchedule taints: {e}");
        }
    }

    fn tainter(&mut self, zone: &str) -> &mut TimedQueue {
        self.tainters
            .entry(zone.to_string())
            .or_insert_with(|| TimedQueue::new(zones::EVICTION_QPS))
    }

    fn add_zone(&mut self, node: &Node) {
        let zone = zones::zone_key(node);
        if !self.zone_states.contains_key(&zone) {
            self.zone_states.insert(zone.clone(), ZoneState::Initial);
            self.tainter(&zone);
        }
    }

    async fn monitor_node_health(&mut self) {
        let nodes = self.nodes.state();
        let names: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        for node in &nodes {
            if self.known.contains(&node.name_any()) {
                self.add_zone(node);
                continue;
            }
            self.events
                .publish(
                    &node_ref(node),
                    false,
                    "RegisteredNode",
                    "Register",
                    format!("Registered Node {} in Controller", node.name_any()),
                )
                .await;
            self.known.insert(node.name_any());
            self.add_zone(node);
            self.mark_reachable(node).await;
        }
        let gone: Vec<String> = self.known.difference(&names).cloned().collect();
        for name in gone {
            let reference = ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(name.clone()),
                ..Default::default()
            };
            self.events
                .publish(
                    &reference,
                    false,
                    "RemovingNode",
                    "Remove",
                    format!("Removing Node {name} from Controller"),
                )
                .await;
            self.known.remove(&name);
            self.health.remove(&name);
            self.retry_pods.remove(&name);
            for q in self.tainters.values_mut() {
                q.remove(&name);
            }
        }

        let mut zone_ready: BTreeMap<String, Vec<bool>> = BTreeMap::new();
        for node in &nodes {
            let Some((node, observed, current)) = self.update_health(node).await else {
                continue;
            };
            if !zones::excluded_from_disruption(&node) {
                zone_ready
                    .entry(zones::zone_key(&node))
                    .or_default()
                    .push(current.as_deref() == Some("True"));
            }
            let Some(current) = current else {
                continue;
            };
            self.process_taint_based_eviction(&node, &observed.status)
                .await;
            let name = node.name_any();
            let became_not_ready = current != "True" && observed.status == "True";
            if became_not_ready {
                self.events
                    .publish(
                        &node_ref(&node),
                        false,
                        "NodeNotReady",
                        "NodeNotReady",
                        format!("Node {name} status is now: NodeNotReady"),
                    )
                    .await;
            }
            if became_not_ready || (self.retry_pods.contains(&name) && observed.status != "True") {
                match mark_pods_not_ready(&self.client, &self.events, &name).await {
                    Ok(()) => {
                        self.retry_pods.remove(&name);
                    }
                    Err(e) => {
                        tracing::warn!(node = %name, "marking pods not ready: {e}");
                        self.retry_pods.insert(name);
                    }
                }
            } else {
                self.retry_pods.remove(&name);
            }
        }
        self.handle_disruption(&zone_ready, &nodes).await;
    }

    /// Judge one node's health, writing Unknown conditions when it went silent; returns
    /// the node as written, its observed Ready condition and its current Ready status.
    async fn update_health(
        &mut self,
        node: &Node,
    ) -> Option<(Node, NodeCondition, Option<String>)> {
        let name = node.name_any();
        let lease_renew = self
            .leases
            .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE))
            .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
        let mut node = node.clone();
        for _ in 0..5 {
            let (health, obs) = health::observe(
                &node,
                lease_renew,
                self.health.get(&name),
                Timestamp::now(),
                self.grace,
                STARTUP_GRACE,
            );
            let Some(conditions) = obs.write else {
                let current = taints::condition(&node, "Ready").map(|c| c.status.clone());
                self.health.insert(name, health);
                return Some((node, obs.observed, current));
            };
            let patch = json!({
                "metadata": {"resourceVersion": node.metadata.resource_version},
                "status": {"conditions": conditions},
            });
            match self
                .nodes_api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(written) => {
                    tracing::info!(node = %name, "node stopped posting status; conditions set Unknown");
                    let current = taints::condition(&written, "Ready").map(|c| c.status.clone());
                    self.health.insert(name, health);
                    return Some((written, obs.observed, current));
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    // Someone (the kubelet) wrote meanwhile: judge the fresh node.
                    match self.nodes_api.get_opt(&name).await {
                        Ok(Some(fresh)) => node = fresh,
                        _ => return None,
                    }
                }
                Err(e) => {
                    tracing::warn!(node = %name, "updating node health: {e}");
                    return None;
                }
            }
        }
        None
    }

    async fn process_taint_based_eviction(&mut self, node: &Node, observed: &str) {
        let unreachable = taints::taint(taints::UNREACHABLE, taints::NO_EXECUTE);
        let not_ready = taints::taint(taints::NOT_READY, taints::NO_EXECUTE);
        let (add, opposite) = match observed {
            "False" => (not_ready, unreachable),
            "Unknown" => (unreachable, not_ready),
            _ => {
                self.mark_reachable(node).await;
                return;
            }
        };
        let name = node.name_any();
        if taints::has_taint(node, &opposite) {
            // Swap straight away: the two mirror the Ready condition.
            if let Err(e) = taints::swap(&self.nodes_api, &name, &[add], &[opposite]).await {
                tracing::warn!(node = %name, "swapping NoExecute taints: {e}");
            }
            return;
        }
        let zone = zones::zone_key(node);
        let queue = self.tainter(&zone);
        if !taints::has_taint(node, &add) {
            queue.remove(&name);
        }
        queue.add(&name);
    }

    /// Remove the NoExecute taints and forget any pending tainting.
    async fn mark_reachable(&mut self, node: &Node) {
        let name = node.name_any();
        let remove: Vec<_> = [taints::UNREACHABLE, taints::NOT_READY]
            .into_iter()
            .map(|k| taints::taint(k, taints::NO_EXECUTE))
            .filter(|t| taints::has_taint(node, t))
            .collect();
        if !remove.is_empty() {
            match taints::swap(&self.nodes_api, &name, &[], &remove).await {
                Ok(_) => {
                    tracing::info!(node = %name, "node is healthy again; NoExecute taints removed")
                }
                Err(e) => {
                    tracing::warn!(node = %name, "removing NoExecute taints: {e}");
                    return;
                }
            }
        }
        let zone = zones::zone_key(node);
        self.tainter(&zone).remove(&name);
    }

    /// Work the tainting queues: each due node gets the NoExecute taint its Ready
    /// condition calls for.
    async fn no_execute_tainting_pass(&mut self) {
        let now = Instant::now();
        let zones: Vec<String> = self.tainters.keys().cloned().collect();
        for zone in zones {
            let due = self.tainter(&zone).take_due(now);
            for name in due {
                let Some(node) = self.nodes.get(&ObjectRef::new(&name)) else {
                    continue;
                };
                let unreachable = taints::taint(taints::UNREACHABLE, taints::NO_EXECUTE);
                let not_ready = taints::taint(taints::NOT_READY, taints::NO_EXECUTE);
                let (add, remove) =
                    match taints::condition(&node, "Ready").map(|c| c.status.as_str()) {
                        Some("False") => (not_ready, unreachable),
                        Some("Unknown") => (unreachable, not_ready),
                        Some(_) => continue,
                        None => {
                            self.tainter(&zone).retry(&name, Duration::from_millis(50));
                            continue;
                        }
                    };
                match taints::swap(
                    &self.nodes_api,
                    &name,
                    std::slice::from_ref(&add),
                    &[remove],
                )
                .await
                {
                    Ok(_) => {
                        tracing::info!(node = %name, taint = %add.key, "tainted node NoExecute")
                    }
                    Err(e) => {
                        tracing::warn!(node = %name, "adding NoExecute taint: {e}");
                        self.tainter(&zone).retry(&name, Duration::ZERO);
                    }
                }
            }
        }
    }

    /// Zone states decide the tainting pace; with every zone down, nothing is tainted and
    /// NoExecute taints come off (upstream `handleDisruption`).
    async fn handle_disruption(
        &mut self,
        zone_ready: &BTreeMap<String, Vec<bool>>,
        nodes: &[std::sync::Arc<Node>],
    ) {
        let new_states: BTreeMap<String, ZoneState> = zone_ready
            .iter()
            .map(|(z, r)| (z.clone(), zones::zone_state(r)))
            .collect();
        let all_are_down = new_states.values().all(|s| *s == ZoneState::FullDisruption);
        for z in new_states.keys() {
            self.zone_states
                .entry(z.clone())
                .or_insert(ZoneState::Initial);
        }
        self.zone_states.retain(|z, _| zone_ready.contains_key(z));
        let all_were_down = self
            .zone_states
            .values()
            .all(|s| *s == ZoneState::FullDisruption);
        if all_are_down && all_were_down {
            return;
        }
        if all_are_down {
            tracing::info!("all nodes are not ready: entering master disruption mode");
            for node in nodes {
                self.mark_reachable(node).await;
            }
            let zones: Vec<String> = self.zone_states.keys().cloned().collect();
            for z in zones {
                self.tainter(&z).swap_limiter(0.0);
                self.zone_states.insert(z, ZoneState::FullDisruption);
            }
            return;
        }
        if all_were_down {
            tracing::info!("some nodes are ready: exiting master disruption mode");
            // Every node gets a fresh grace period.
            let now = Timestamp::now();
            for h in self.health.values_mut() {
                h.probe = now;
            }
        }
        let zones: Vec<String> = self.zone_states.keys().cloned().collect();
        for z in zones {
            let state = new_states.get(&z).copied().unwrap_or(ZoneState::Normal);
            if !all_were_down && self.zone_states.get(&z) == Some(&state) {
                continue;
            }
            let size = zone_ready.get(&z).map_or(0, Vec::len);
            self.tainter(&z).swap_limiter(zones::qps_for(state, size));
            self.zone_states.insert(z, state);
        }
    }
}

/// Set the Ready condition of the node's pods to False, with a `NodeNotReady` event on
/// each (upstream `MarkPodsNotReady`).
async fn mark_pods_not_ready(
    client: &Client,
    events: &Events,
    node: &str,
) -> Result<(), kube::Error> {
    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?;
    for pod in pods.items {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        let Some(ready) = ready else {
            continue;
        };
        if ready.status == "False" {
            continue;
        }
        let ns = pod.namespace().unwrap_or_default();
        let patch = json!({"status": {"conditions": [{
            "type": "Ready", "status": "False",
            "lastTransitionTime": Time(Timestamp::now()),
        }]}});
        match Api::<Pod>::namespaced(client.clone(), &ns)
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(e) => return Err(e),
        }
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(pod.name_any()),
            namespace: Some(ns),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        };
        events
            .publish(
                &reference,
                true,
                "NodeNotReady",
                "NodeNotReady",
                "Node is not ready".into(),
            )
            .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_periods_parse_like_the_flag() {
        assert_eq!(parse_seconds("40s"), Some(Duration::from_secs(40)));
        assert_eq!(parse_seconds("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_seconds("25"), Some(Duration::from_secs(25)));
        assert_eq!(parse_seconds("soon"), None);
        assert_eq!(parse_seconds("10x"), None);
    }
}

//! The scheduler's view of the cluster (upstream's `internal/cache`): nodes with the pods
//! placed on them, including pods assumed on a node before their binding is seen, plus
//! nominated pods (preemptors waiting for their victims to go) and volume objects.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::node_info::{pod_key, NodeInfo, PodInfo};
use crate::plugins::volume_binding::Volumes;

#[derive(Default)]
pub struct Cache {
    nodes: BTreeMap<String, NodeInfo>,
    /// Pod key → (node, assumed).
    placed: HashMap<String, (String, bool)>,
    /// Pod key → (nominated node, pod).
    nominated: HashMap<String, (String, Arc<PodInfo>)>,
    pub volumes: Volumes,
    pub pdbs: HashMap<String, PodDisruptionBudget>,
}

/// A consistent read of the cache for one scheduling cycle.
pub struct Snapshot<'a> {
    pub nodes: Vec<&'a NodeInfo>,
    pub volumes: &'a Volumes,
    pub pdbs: Vec<&'a PodDisruptionBudget>,
    nominated: &'a HashMap<String, (String, Arc<PodInfo>)>,
}

impl Snapshot<'_> {
    /// Pods nominated to `node` that are at least as important as `pod` (they get
    /// first claim on what their victims free).
    pub fn nominated_for(&self, node: &str, pod: &PodInfo) -> Vec<Arc<PodInfo>> {
        self.nominated
            .iter()
            .filter(|(k, (n, p))| n == node && **k != pod.key && p.priority >= pod.priority)
            .map(|(_, (_, p))| p.clone())
            .collect()
    }
}

fn terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

impl Cache {
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            nodes: self.nodes.values().filter(|n| n.node.is_some()).collect(),
            volumes: &self.volumes,
            pdbs: self.pdbs.values().collect(),
            nominated: &self.nominated,
        }
    }

    pub fn node_count(&self) -> usize {
        self.nodes.values().filter(|n| n.node.is_some()).count()
    }

    /// Returns whether scheduling-relevant parts changed (so waiting pods should retry).
    pub fn upsert_node(&mut self, node: Arc<Node>) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        let info = self
            .nodes
            .entry(name.clone())
            .or_insert_with(|| NodeInfo::new(&name));
        let changed = match &info.node {
            None => true,
            Some(old) => {
                old.spec != node.spec
                    || old.metadata.labels != node.metadata.labels
                    || old.status.as_ref().map(|s| (&s.allocatable, &s.capacity))
                        != node.status.as_ref().map(|s| (&s.allocatable, &s.capacity))
            }
        };
        info.set_node(node);
        changed
    }

    pub fn remove_node(&mut self, name: &str) {
        if let Some(info) = self.nodes.get_mut(name) {
            info.node = None;
            if info.pods.is_empty() {
                self.nodes.remove(name);
            }
        }
    }

    /// An assigned pod as the API reports it (confirms an assumed one). Terminated pods
    /// hold nothing. Returns true if it was new to the cache.
    pub fn upsert_pod(&mut self, pod: Arc<Pod>) -> bool {
        let key = pod_key(&pod);
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        self.nominated.remove(&key);
        let existed = self.remove_pod(&key);
        if terminal(&pod) || node.is_empty() {
            return false;
        }
        self.place(key, node, Arc::new(PodInfo::new(pod)), false);
        !existed
    }

    fn place(&mut self, key: String, node: String, info: Arc<PodInfo>, assumed: bool) {
        self.nodes
            .entry(node.clone())
            .or_insert_with(|| NodeInfo::new(&node))
            .add_pod(info);
        self.placed.insert(key, (node, assumed));
    }

    /// Returns whether the pod was in the cache.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some((node, _)) = self.placed.remove(key) else {
            return false;
        };
        if let Some(info) = self.nodes.get_mut(&node) {
            info.remove_pod(key);
            if info.node.is_none() && info.pods.is_empty() {
                self.nodes.remove(&node);
            }
        }
        true
    }

    /// Count the pod on `node` before the binding is confirmed.
    pub fn assume(&mut self, info: Arc<PodInfo>, node: &str) {
        self.nominated.remove(&info.key);
        self.remove_pod(&info.key);
        self.place(info.key.clone(), node.to_string(), info, true);
    }

    /// Binding failed: undo an assumption (a confirmed pod stays).
    pub fn forget(&mut self, key: &str) {
        if matches!(self.placed.get(key), Some((_, true))) {
            self.remove_pod(key);
        }
    }

    pub fn nominate(&mut self, info: Arc<PodInfo>, node: &str) {
        self.nominated
            .insert(info.key.clone(), (node.to_string(), info));
    }

    pub fn unnominate(&mut self, key: &str) {
        self.nominated.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(node: &str, phase: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "d"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "resources":
                    {"requests": {"cpu": "1"}}}]},
                "status": {"phase": phase}}))
            .unwrap(),
        )
    }

    #[test]
    fn assumed_pods_count_until_confirmed_or_forgotten() {
        let mut c = Cache::default();
        c.upsert_node(Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap(),
        ));
        c.assume(Arc::new(PodInfo::new(pod("", "Pending"))), "n");
        assert_eq!(c.snapshot().nodes[0].requested.milli_cpu, 1000);
        c.forget("d/p");
        assert_eq!(c.snapshot().nodes[0].requested.milli_cpu, 0);
        c.upsert_pod(pod("n", "Running"));
        c.forget("d/p");
        assert_eq!(c.snapshot().nodes[0].pods.len(), 1, "confirmed pods stay");
        c.upsert_pod(pod("n", "Succeeded"));
        assert_eq!(
            c.snapshot().nodes[0].pods.len(),
            0,
            "finished pods free the node"
        );
    }
}

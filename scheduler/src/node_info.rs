//! Per-pod and per-node facts the plugins read, computed once when an object changes
//! (upstream's `framework.PodInfo` / `framework.NodeInfo`).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use crate::resources::{node_allocatable, pod_requests, Resources};
use crate::selectors::{label_selector_matches, Labels};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// Same protocol and port, and the addresses overlap (0.0.0.0 is every address).
    pub fn conflicts(&self, o: &HostPort) -> bool {
        self.port == o.port
            && self.protocol == o.protocol
            && (self.ip == o.ip || self.ip == "0.0.0.0" || o.ip == "0.0.0.0")
    }
}

#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub key: String,
    pub namespace: String,
    pub labels: Labels,
    pub priority: i32,
    pub requests: Resources,
    pub non_zero: Resources,
    pub host_ports: Vec<HostPort>,
    pub required_affinity: Vec<PodAffinityTerm>,
    pub required_anti_affinity: Vec<PodAffinityTerm>,
    pub preferred_affinity: Vec<WeightedPodAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedPodAffinityTerm>,
}

pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let spec = pod.spec.clone().unwrap_or_default();
        let mut host_ports = Vec::new();
        for c in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            for p in c.ports.iter().flatten() {
                if let Some(port) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|i| !i.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        port,
                    });
                }
            }
        }
        let aff = spec.affinity.clone().unwrap_or_default();
        let pa = aff.pod_affinity.unwrap_or_default();
        let paa = aff.pod_anti_affinity.unwrap_or_default();
        PodInfo {
            key: pod_key(&pod),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            priority: spec.priority.unwrap_or(0),
            requests: pod_requests(&pod, false),
            non_zero: pod_requests(&pod, true),
            host_ports,
            required_affinity: pa
                .required_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            required_anti_affinity: paa
                .required_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            preferred_affinity: pa
                .preferred_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            preferred_anti_affinity: paa
                .preferred_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            pod,
        }
    }

    pub fn has_affinity_terms(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }

    pub fn node_name(&self) -> Option<&str> {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty())
    }
}

/// Does `term` (written in a pod of namespace `owner_ns`) select `target`? Namespaces are
/// the term's list, else the owner's namespace; an empty `namespaceSelector` means all.
pub fn term_matches(term: &PodAffinityTerm, owner_ns: &str, target: &PodInfo) -> bool {
    let all_namespaces = term.namespace_selector.as_ref().is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
    });
    let ns_ok = all_namespaces
        || match term.namespaces.as_deref() {
            Some(list) if !list.is_empty() => list.contains(&target.namespace),
            _ => term.namespace_selector.is_none() && target.namespace == owner_ns,
        };
    ns_ok && label_selector_matches(term.label_selector.as_ref(), &target.labels)
}

#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    /// `None` while pods are known on a node the cache has not seen (or no longer has).
    pub node: Option<Arc<Node>>,
    pub labels: Labels,
    pub pods: Vec<Arc<PodInfo>>,
    pub requested: Resources,
    pub non_zero_requested: Resources,
    pub allocatable: Resources,
    pub allowed_pods: i64,
    pub used_ports: Vec<HostPort>,
    /// Pods here with any (anti-)affinity term, and with required anti-affinity: lets
    /// InterPodAffinity skip nodes without such pods.
    pub with_affinity: usize,
    pub with_required_anti_affinity: usize,
    /// Image name → size in bytes, from `status.images`.
    pub images: HashMap<String, i64>,
}

impl NodeInfo {
    pub fn new(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            ..Default::default()
        }
    }

    pub fn set_node(&mut self, node: Arc<Node>) {
        let (alloc, pods) = node_allocatable(&node);
        self.allocatable = alloc;
        self.allowed_pods = pods;
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        self.images = node
            .status
            .as_ref()
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
            .flat_map(|i| {
                let size = i.size_bytes.unwrap_or(0);
                i.names.iter().flatten().map(move |n| (n.clone(), size))
            })
            .collect();
        self.node = Some(node);
    }

    pub fn add_pod(&mut self, p: Arc<PodInfo>) {
        self.requested.add(&p.requests);
        self.non_zero_requested.milli_cpu += p.non_zero.milli_cpu;
        self.non_zero_requested.memory += p.non_zero.memory;
        self.used_ports.extend(p.host_ports.iter().cloned());
        self.with_affinity += p.has_affinity_terms() as usize;
        self.with_required_anti_affinity += !p.required_anti_affinity.is_empty() as usize;
        self.pods.push(p);
    }

    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        let p = self.pods.swap_remove(i);
        self.requested.sub(&p.requests);
        self.non_zero_requested.milli_cpu -= p.non_zero.milli_cpu;
        self.non_zero_requested.memory -= p.non_zero.memory;
        self.with_affinity -= p.has_affinity_terms() as usize;
        self.with_required_anti_affinity -= !p.required_anti_affinity.is_empty() as usize;
        for hp in &p.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        Some(p)
    }

    pub fn taints(&self) -> &[k8s_openapi::api::core::v1::Taint] {
        self.node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default()
    }
}

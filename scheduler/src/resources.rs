//! What a pod asks for and what a node has, as upstream's scheduler adds them up
//! (`resourcehelper.PodRequests`: init containers, restartable sidecars, overhead).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::{milli, value};

/// Defaults counted for containers that request nothing, for scoring only
/// (upstream's `DefaultMilliCPURequest` / `DefaultMemoryRequest`).
pub const DEFAULT_MILLI_CPU: i64 = 100;
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources and hugepages, in whole units.
    pub scalar: BTreeMap<String, i64>,
}

/// Scalar resources are the extended ones (a domain-qualified name outside
/// `kubernetes.io/`, as `example.com/gpu`) and hugepages.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || (name.contains('/')
            && !name.starts_with("kubernetes.io/")
            && !name.starts_with("requests."))
}

impl Resources {
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list {
            match name.as_str() {
                "cpu" => r.milli_cpu += milli(q),
                "memory" => r.memory += value(q),
                "ephemeral-storage" => r.ephemeral_storage += value(q),
                n if is_scalar(n) => *r.scalar.entry(n.to_string()).or_default() += value(q),
                _ => {}
            }
        }
        r
    }

    pub fn add(&mut self, o: &Resources) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, o: &Resources) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    pub fn max_with(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// A container's requests; a resource with only a limit requests its limit (what
/// API defaulting does, repeated here for objects that skipped it).
fn container_requests(c: &Container, non_zero: bool) -> Resources {
    let mut list = BTreeMap::new();
    if let Some(res) = &c.resources {
        if let Some(l) = &res.limits {
            list.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(r) = &res.requests {
            list.extend(r.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut r = Resources::from_list(&list);
    if non_zero {
        if !list.contains_key("cpu") {
            r.milli_cpu = DEFAULT_MILLI_CPU;
        }
        if !list.contains_key("memory") {
            r.memory = DEFAULT_MEMORY;
        }
    }
    r
}

/// The pod's effective request: max(sum of containers + sidecars, each init container
/// plus the sidecars started before it), plus the pod overhead. `non_zero` substitutes
/// the scoring defaults for unset cpu/memory.
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = &pod.spec else {
        return Resources::default();
    };
    let mut reqs = Resources::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let mut r = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r);
            sidecars.add(&r);
            r = sidecars.clone();
        } else {
            r.add(&sidecars);
        }
        init_max.max_with(&r);
    }
    reqs.max_with(&init_max);
    if let Some(o) = &spec.overhead {
        reqs.add(&Resources::from_list(o));
    }
    reqs
}

/// What a node offers to pods: allocatable (capacity when unset), and the pod count.
pub fn node_allocatable(node: &Node) -> (Resources, i64) {
    let status = node.status.as_ref();
    let list = status
        .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
        .cloned()
        .unwrap_or_default();
    let pods = list.get("pods").map(value).unwrap_or(0);
    (Resources::from_list(&list), pods)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pod_requests_count_init_containers_sidecars_and_overhead() {
        let p = pod(json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "200m", "example.com/gpu": "1"}}}
            ],
            "initContainers": [
                {"name": "i", "resources": {"requests": {"cpu": "1", "memory": "10Mi"}}}
            ],
            "overhead": {"cpu": "10m"}
        }}));
        let r = pod_requests(&p, false);
        assert_eq!(
            r.milli_cpu, 1010,
            "init container dominates cpu, plus overhead"
        );
        assert_eq!(r.memory, 100 << 20);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&1));

        let sidecar = pod(json!({"spec": {
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "300m"}}},
                {"name": "i", "resources": {"requests": {"cpu": "350m"}}}
            ]
        }}));
        // Sidecar runs alongside: 100+300 = 400 > 300+350 = 650? No: init phase is 650.
        assert_eq!(pod_requests(&sidecar, false).milli_cpu, 650);
    }

    #[test]
    fn non_zero_requests_default_unset_cpu_and_memory() {
        let p = pod(json!({"spec": {"containers": [{"name": "a"}]}}));
        assert!(pod_requests(&p, false).is_zero());
        let r = pod_requests(&p, true);
        assert_eq!((r.milli_cpu, r.memory), (DEFAULT_MILLI_CPU, DEFAULT_MEMORY));
    }
}

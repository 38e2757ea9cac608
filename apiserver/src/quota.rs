//! What an object consumes of a ResourceQuota (upstream's pkg/quota/v1/evaluator/core):
//! object counts for every resource, compute resources for pods, storage for claims, node
//! ports and load balancers for services. Shared by the ResourceQuota admission plugin and
//! the resourcequota controller, so both count alike.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::printers::quantity;

/// Resource name → amount in nano-units (and whether it prints in binary form).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage(pub BTreeMap<String, (i128, bool)>);

impl Usage {
    fn add(&mut self, name: impl Into<String>, nanos: i128, binary: bool) {
        let e = self.0.entry(name.into()).or_insert((0, binary));
        e.0 += nanos;
        e.1 = e.1 || binary;
    }

    fn count(&mut self, name: impl Into<String>) {
        self.add(name, 1_000_000_000, false);
    }

    /// A ResourceList (`status.used` and friends): canonical quantity strings.
    pub fn to_json(&self) -> Value {
        json!(self
            .0
            .iter()
            .map(|(k, (n, b))| (k.clone(), json!(quantity::from_nanos(*n, *b))))
            .collect::<BTreeMap<_, _>>())
    }

    /// Parse a ResourceList; unparsable quantities are skipped.
    pub fn from_json(list: &Value) -> Usage {
        let mut u = Usage::default();
        for (k, v) in list.as_object().into_iter().flatten() {
            if let Some((n, b)) = v.as_str().and_then(quantity::nanos) {
                u.add(k.clone(), n, b);
            }
        }
        u
    }

    pub fn get(&self, name: &str) -> i128 {
        self.0.get(name).map_or(0, |(n, _)| *n)
    }

    pub fn is_binary(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|(_, b)| *b)
    }

    /// Only the named resources.
    pub fn masked(&self, names: &[String]) -> Usage {
        Usage(
            self.0
                .iter()
                .filter(|(k, _)| names.contains(k))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        )
    }

    /// `k=v,k=v` sorted by name, as upstream prints resource lists in quota errors.
    pub fn pretty(&self) -> String {
        self.0
            .iter()
            .map(|(k, (n, b))| format!("{k}={}", quantity::from_nanos(*n, *b)))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn sum(&mut self, other: &Usage) {
        for (k, (n, b)) in &other.0 {
            self.add(k.clone(), *n, *b);
        }
    }
}

/// The object-count resource name: `count/<plural>` for the core group,
/// `count/<plural>.<group>` otherwise.
pub fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// Core resources that also have a bare legacy count name (`pods`, `configmaps`, ...).
const LEGACY_COUNTS: &[&str] = &[
    "configmaps",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "services",
];

/// Whether quota resource `name` is something objects of (group, plural) consume.
pub fn tracks(group: &str, plural: &str, name: &str) -> bool {
    if name == count_name(group, plural) {
        return true;
    }
    if !group.is_empty() {
        return false;
    }
    match plural {
        "pods" => {
            name == "pods"
                || matches!(name, "cpu" | "memory" | "ephemeral-storage")
                || name.starts_with("requests.")
                || name.starts_with("limits.")
        }
        "services" => matches!(
            name,
            "services" | "services.nodeports" | "services.loadbalancers"
        ),
        "persistentvolumeclaims" => {
            name == "persistentvolumeclaims"
                || name == "requests.storage"
                || name.ends_with(".storageclass.storage.k8s.io/requests.storage")
                || name.ends_with(".storageclass.storage.k8s.io/persistentvolumeclaims")
        }
        p => LEGACY_COUNTS.contains(&p) && name == p,
    }
}

/// Everything `obj` (of resource group/plural) consumes.
pub fn usage(group: &str, plural: &str, obj: &Value) -> Usage {
    let mut u = Usage::default();
    u.count(count_name(group, plural));
    if !group.is_empty() {
        return u;
    }
    match plural {
        "pods" => pod_usage(obj, &mut u),
        "services" => {
            u.count("services");
            let spec = &obj["spec"];
            let ports = spec["ports"].as_array().map_or(0, Vec::len) as i128;
            match spec["type"].as_str() {
                Some("NodePort") => u.add("services.nodeports", ports * 1_000_000_000, false),
                Some("LoadBalancer") => {
                    u.count("services.loadbalancers");
                    if spec["allocateLoadBalancerNodePorts"] != false {
                        u.add("services.nodeports", ports * 1_000_000_000, false);
                    }
                }
                _ => {}
            }
        }
        "persistentvolumeclaims" => {
            u.count("persistentvolumeclaims");
            let class = obj["spec"]["storageClassName"].as_str().unwrap_or_default();
            if !class.is_empty() {
                u.count(format!(
                    "{class}.storageclass.storage.k8s.io/persistentvolumeclaims"
                ));
            }
            if let Some((n, b)) = obj["spec"]["resources"]["requests"]["storage"]
                .as_str()
                .and_then(quantity::nanos)
            {
                u.add("requests.storage", n, b);
                if !class.is_empty() {
                    u.add(
                        format!("{class}.storageclass.storage.k8s.io/requests.storage"),
                        n,
                        b,
                    );
                }
            }
        }
        p if LEGACY_COUNTS.contains(&p) => u.count(p),
        _ => {}
    }
    u
}

/// A pod that finished (or whose grace period ran out) no longer consumes compute.
fn pod_is_live(pod: &Value) -> bool {
    !matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded") | Some("Failed")
    )
}

fn pod_usage(pod: &Value, u: &mut Usage) {
    if !pod_is_live(pod) {
        return;
    }
    u.count("pods");
    let spec = &pod["spec"];
    for kind in ["requests", "limits"] {
        for (res, (n, b)) in &pod_resources(spec, kind).0 {
            u.add(format!("{kind}.{res}"), *n, *b);
            // Requests of the standard resources also count under their bare names.
            if kind == "requests" && matches!(res.as_str(), "cpu" | "memory" | "ephemeral-storage")
            {
                u.add(res.clone(), *n, *b);
            }
        }
    }
}

/// A pod's effective requests or limits: the containers' sum, raised to any larger init
/// container (which run one at a time), plus the pod overhead.
fn pod_resources(spec: &Value, kind: &str) -> Usage {
    let list = |c: &Value| Usage::from_json(&c["resources"][kind]);
    let mut total = Usage::default();
    for c in spec["containers"].as_array().into_iter().flatten() {
        total.sum(&list(c));
    }
    let mut sidecars = Usage::default();
    for c in spec["initContainers"].as_array().into_iter().flatten() {
        let own = list(c);
        if c["restartPolicy"] == "Always" {
            // Sidecars keep running beside the app containers.
            sidecars.sum(&own);
            continue;
        }
        // A regular init container runs beside the sidecars started before it.
        let mut during = own;
        during.sum(&sidecars);
        for (k, (n, b)) in during.0 {
            let cur = total.0.entry(k).or_insert((0, b));
            if n > cur.0 {
                *cur = (n, b || cur.1);
            }
        }
    }
    total.sum(&sidecars);
    total.sum(&Usage::from_json(&spec["overhead"]));
    total
}

/// Whether a quota's scopes select this object. Scopes only ever select pods.
pub fn scopes_match(quota: &Value, plural: &str, obj: &Value) -> bool {
    let mut selectors: Vec<(String, String, Vec<String>)> = quota["spec"]["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .map(|s| (s.to_string(), "Exists".to_string(), Vec::new()))
        .collect();
    for e in quota["spec"]["scopeSelector"]["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let values = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        selectors.push((
            e["scopeName"].as_str().unwrap_or_default().to_string(),
            e["operator"].as_str().unwrap_or_default().to_string(),
            values,
        ));
    }
    if selectors.is_empty() {
        return true;
    }
    if plural != "pods" {
        return false;
    }
    let spec = &obj["spec"];
    let best_effort = ["containers", "initContainers"].iter().all(|k| {
        spec[*k].as_array().into_iter().flatten().all(|c| {
            let r = &c["resources"];
            r["requests"].as_object().is_none_or(|m| m.is_empty())
                && r["limits"].as_object().is_none_or(|m| m.is_empty())
        })
    });
    selectors
        .iter()
        .all(|(scope, op, values)| match scope.as_str() {
            "Terminating" => !spec["activeDeadlineSeconds"].is_null(),
            "NotTerminating" => spec["activeDeadlineSeconds"].is_null(),
            "BestEffort" => best_effort,
            "NotBestEffort" => !best_effort,
            "PriorityClass" => {
                let class = spec["priorityClassName"].as_str().unwrap_or_default();
                match op.as_str() {
                    "In" => values.iter().any(|v| v == class),
                    "NotIn" => !values.iter().any(|v| v == class),
                    "Exists" => !class.is_empty(),
                    "DoesNotExist" => class.is_empty(),
                    _ => false,
                }
            }
            "CrossNamespacePodAffinity" => {
                let affinity = &spec["affinity"];
                ["podAffinity", "podAntiAffinity"].iter().any(|a| {
                    ["requiredDuringSchedulingIgnoredDuringExecution"]
                        .iter()
                        .any(|r| {
                            affinity[*a][*r].as_array().into_iter().flatten().any(|t| {
                                !t["namespaces"].as_array().is_none_or(Vec::is_empty)
                                    || !t["namespaceSelector"].is_null()
                            })
                        })
                })
            }
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_count_requests_limits_and_init_containers() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}},
                {"resources": {"requests": {"cpu": "200m"}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1"}}}],
        }});
        let u = usage("", "pods", &pod);
        assert_eq!(
            u.pretty(),
            "count/pods=1,cpu=1,limits.memory=128Mi,memory=64Mi,pods=1,requests.cpu=1,requests.memory=64Mi"
        );
        // A finished pod still exists (count/pods) but no longer computes.
        let mut done = pod.clone();
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(usage("", "pods", &done).pretty(), "count/pods=1");
    }

    #[test]
    fn object_counts_and_services() {
        let cm = usage("", "configmaps", &json!({}));
        assert_eq!(cm.pretty(), "configmaps=1,count/configmaps=1");
        let d = usage("apps", "deployments", &json!({}));
        assert_eq!(d.pretty(), "count/deployments.apps=1");
        let svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 1}, {"port": 2}]}});
        assert_eq!(
            usage("", "services", &svc).pretty(),
            "count/services=1,services=1,services.nodeports=2"
        );
        assert!(tracks("", "configmaps", "configmaps"));
        assert!(tracks("apps", "deployments", "count/deployments.apps"));
        assert!(!tracks("apps", "deployments", "configmaps"));
        assert!(tracks("", "pods", "requests.cpu"));
    }

    #[test]
    fn claims_count_storage_per_class() {
        let pvc = json!({"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}});
        let u = usage("", "persistentvolumeclaims", &pvc);
        assert_eq!(u.get("requests.storage"), 1_073_741_824_000_000_000);
        assert_eq!(
            Usage::from_json(&u.to_json()).0["fast.storageclass.storage.k8s.io/requests.storage"],
            u.0["fast.storageclass.storage.k8s.io/requests.storage"]
        );
        assert_eq!(u.to_json()["requests.storage"], "1Gi");
    }

    #[test]
    fn scopes_select_pods_only() {
        let q = json!({"spec": {"scopes": ["BestEffort"]}});
        assert!(scopes_match(
            &q,
            "pods",
            &json!({"spec": {"containers": [{}]}})
        ));
        let guaranteed =
            json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert!(!scopes_match(&q, "pods", &guaranteed));
        assert!(!scopes_match(&q, "configmaps", &json!({})));
        let by_class = json!({"spec": {"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}});
        assert!(scopes_match(
            &by_class,
            "pods",
            &json!({"spec": {"priorityClassName": "high"}})
        ));
        assert!(!scopes_match(&by_class, "pods", &json!({"spec": {}})));
        assert!(scopes_match(&json!({"spec": {}}), "configmaps", &json!({})));
    }
}

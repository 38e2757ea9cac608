//! Objects every cluster starts with, created at start-up when missing (existing ones are
//! left alone, as upstream's bootstrap controllers do).

pub mod rbac_policy;

use serde_json::{json, Value};

/// One object: (group, version, plural, object); namespaced objects name their namespace
/// in `metadata.namespace`.
pub type Seed = (&'static str, &'static str, &'static str, Value);

pub fn objects() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = ["default", "kube-system", "kube-public", "kube-node-lease"]
        .into_iter()
        .map(|ns| {
            (
                "",
                "v1",
                "namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )
        })
        .collect();
    for (name, value, description) in [
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ] {
        seeds.push((
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            json!({
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "preemptionPolicy": "PreemptLowerPriority",
            }),
        ));
    }
    // Upstream's RBAC bootstrap policy: default roles and bindings.
    let rbac = |plural: &'static str, objs: Vec<Value>| {
        objs.into_iter()
            .map(move |o| ("rbac.authorization.k8s.io", "v1", plural, o))
    };
    seeds.extend(rbac("clusterroles", rbac_policy::cluster_roles()));
    seeds.extend(rbac(
        "clusterrolebindings",
        rbac_policy::cluster_role_bindings(),
    ));
    seeds.extend(rbac("roles", rbac_policy::roles()));
    seeds.extend(rbac("rolebindings", rbac_policy::role_bindings()));
    seeds
}

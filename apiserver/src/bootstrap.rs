//! Objects every cluster starts with, created at start-up when missing (existing ones are
//! left alone, as upstream's bootstrap controllers do).

use serde_json::{json, Value};

/// One object: (group, version, plural, object).
pub type Seed = (&'static str, &'static str, &'static str, Value);

const RBAC_LABELS: &str = "rbac-defaults";

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
    let meta = |name: &str| {
        json!({
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": RBAC_LABELS},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        })
    };
    seeds.push((
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": meta("cluster-admin"),
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        }),
    ));
    seeds.push((
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": meta("cluster-admin"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}],
        }),
    ));
    seeds
}

//! Upstream's RBAC bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
//! policy.go and controller_policy.go, as its golden `testdata` lists them for v1.33 with
//! default feature gates): the default ClusterRoles, the `system:controller:*` roles of the
//! controller-manager's service accounts, their bindings, and the few namespaced Roles.
//!
//! Rules are written compactly: verbs, API groups and resources as space-separated words,
//! `core` standing for the legacy group "".

use serde_json::{json, Map, Value};

/// The label every bootstrap object carries.
pub const BOOTSTRAPPING_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
/// Tells the API server it may reconcile the object with the policy on start.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

const GROUP: &str = "rbac.authorization.k8s.io";
const API_VERSION: &str = "rbac.authorization.k8s.io/v1";

const READ: &str = "get list watch";
const READ_WRITE: &str = "create delete deletecollection get list patch update watch";
/// What `edit` adds to `view` on a resource.
const WRITE: &str = "create delete deletecollection patch update";
const ALL_ON: &str = "create delete get list patch update watch";

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn groups(s: &str) -> Vec<&str> {
    s.split_whitespace()
        .map(|g| if g == "core" { "" } else { g })
        .collect()
}

/// A resource rule.
fn rule(verbs: &str, api_groups: &str, resources: &str) -> Value {
    json!({"apiGroups": groups(api_groups), "resources": words(resources), "verbs": words(verbs)})
}

/// A resource rule limited to some object names.
fn named(verbs: &str, api_groups: &str, resources: &str, names: &str) -> Value {
    json!({
        "apiGroups": groups(api_groups), "resourceNames": words(names),
        "resources": words(resources), "verbs": words(verbs),
    })
}

/// A non-resource URL rule.
fn urls(verbs: &str, paths: &str) -> Value {
    json!({"nonResourceURLs": words(paths), "verbs": words(verbs)})
}

/// Upstream's `eventsRule()`: record events through either API group.
fn events() -> Value {
    rule("create patch update", "core events.k8s.io", "events")
}

fn metadata(name: &str, namespace: Option<&str>, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = Map::new();
    labels.insert(BOOTSTRAPPING_LABEL.0.into(), BOOTSTRAPPING_LABEL.1.into());
    for (k, v) in extra_labels {
        labels.insert((*k).into(), (*v).into());
    }
    let mut meta = json!({
        "name": name,
        "labels": labels,
        "annotations": {AUTOUPDATE_ANNOTATION: "true"},
    });
    if let Some(ns) = namespace {
        meta["namespace"] = ns.into();
    }
    meta
}

fn cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": API_VERSION, "kind": "ClusterRole",
        "metadata": metadata(name, None, labels),
        "rules": rules,
    })
}

/// A role whose rules the clusterrole-aggregation controller fills in from the roles
/// labelled `rbac.authorization.k8s.io/aggregate-to-<to>: "true"`.
fn aggregated(name: &str, labels: &[(&str, &str)], to: &str) -> Value {
    json!({
        "apiVersion": API_VERSION, "kind": "ClusterRole",
        "metadata": metadata(name, None, labels),
        "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{to}"): "true"}},
        ]},
    })
}

const TO_ADMIN: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-admin", "true");
const TO_EDIT: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-edit", "true");
const TO_VIEW: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-view", "true");

/// The default ClusterRoles (upstream `ClusterRoles()`).
pub fn cluster_roles() -> Vec<Value> {
    let approver = |signer: &str| {
        cluster_role(
            &format!("system:certificates.k8s.io:{signer}-approver"),
            &[],
            vec![named(
                "approve",
                "certificates.k8s.io",
                "signers",
                &format!("kubernetes.io/{signer}"),
            )],
        )
    };
    let mut roles = vec![
        aggregated("admin", &[], "admin"),
        cluster_role(
            "cluster-admin",
            &[],
            vec![rule("*", "*", "*"), urls("*", "*")],
        ),
        aggregated("edit", &[TO_ADMIN], "edit"),
        cluster_role(
            "system:aggregate-to-admin",
            &[TO_ADMIN],
            vec![
                rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
                rule(READ_WRITE, GROUP, "rolebindings roles"),
            ],
        ),
        cluster_role(
            "system:aggregate-to-edit",
            &[TO_EDIT],
            vec![
                rule(READ, "core", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy"),
                rule("impersonate", "core", "serviceaccounts"),
                rule(WRITE, "core", "pods pods/attach pods/exec pods/portforward pods/proxy"),
                rule("create", "core", "pods/eviction"),
                rule(WRITE, "core", "configmaps events persistentvolumeclaims replicationcontrollers replicationcontrollers/scale secrets serviceaccounts services services/proxy"),
                rule("create", "core", "serviceaccounts/token"),
                rule(WRITE, "apps", "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale statefulsets statefulsets/scale"),
                rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
                rule(WRITE, "batch", "cronjobs jobs"),
                rule(WRITE, "extensions", "daemonsets deployments deployments/rollback deployments/scale ingresses networkpolicies replicasets replicasets/scale replicationcontrollers/scale"),
                rule(WRITE, "policy", "poddisruptionbudgets"),
                rule(WRITE, "networking.k8s.io", "ingresses networkpolicies"),
                rule(READ_WRITE, "coordination.k8s.io", "leases"),
            ],
        ),
        cluster_role(
            "system:aggregate-to-view",
            &[TO_VIEW],
            vec![
                rule(READ, "core", "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status"),
                rule(READ, "core", "bindings events limitranges namespaces/status pods/log pods/status replicationcontrollers/status resourcequotas resourcequotas/status"),
                rule(READ, "core", "namespaces"),
                rule(READ, "discovery.k8s.io", "endpointslices"),
                rule(READ, "apps", "controllerrevisions daemonsets daemonsets/status deployments deployments/scale deployments/status replicasets replicasets/scale replicasets/status statefulsets statefulsets/scale statefulsets/status"),
                rule(READ, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"),
                rule(READ, "batch", "cronjobs cronjobs/status jobs jobs/status"),
                rule(READ, "extensions", "daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses ingresses/status networkpolicies replicasets replicasets/scale replicasets/status replicationcontrollers/scale"),
                rule(READ, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
                rule(READ, "networking.k8s.io", "ingresses ingresses/status networkpolicies"),
            ],
        ),
        cluster_role(
            "system:auth-delegator",
            &[],
            vec![
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            ],
        ),
        cluster_role(
            "system:basic-user",
            &[],
            vec![
                rule("create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"),
                rule("create", "authentication.k8s.io", "selfsubjectreviews"),
            ],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            &[],
            vec![rule("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient")],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            &[],
            vec![rule("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient")],
        ),
        approver("kube-apiserver-client"),
        approver("kube-apiserver-client-kubelet"),
        approver("kubelet-serving"),
        approver("legacy-unknown"),
        cluster_role(
            "system:discovery",
            &[],
            vec![urls("get", "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version /version/")],
        ),
        cluster_role(
            "system:heapster",
            &[],
            vec![
                rule(READ, "core", "events namespaces nodes pods"),
                rule(READ, "extensions", "deployments"),
            ],
        ),
        cluster_role(
            "system:kube-aggregator",
            &[],
            vec![rule(READ, "core", "endpoints services")],
        ),
        cluster_role(
            "system:kube-controller-manager",
            &[],
            vec![
                events(),
                rule("create", "coordination.k8s.io", "leases"),
                named("get update", "coordination.k8s.io", "leases", "kube-controller-manager"),
                rule("create", "core", "secrets serviceaccounts"),
                rule("delete", "core", "secrets"),
                rule("get", "core", "configmaps namespaces secrets serviceaccounts"),
                rule("update", "core", "secrets serviceaccounts"),
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule("create", "authorization.k8s.io", "subjectaccessreviews"),
                rule("list watch", "*", "*"),
                rule("create", "core", "serviceaccounts/token"),
            ],
        ),
        cluster_role(
            "system:kube-dns",
            &[],
            vec![rule("list watch", "core", "endpoints services")],
        ),
        cluster_role(
            "system:kube-scheduler",
            &[],
            vec![
                events(),
                rule("create", "coordination.k8s.io", "leases"),
                named("get update", "coordination.k8s.io", "leases", "kube-scheduler"),
                rule(READ, "core", "nodes"),
                rule("delete get list watch", "core", "pods"),
                rule("create", "core", "bindings pods/binding"),
                rule("patch update", "core", "pods/status"),
                rule(READ, "core", "replicationcontrollers services"),
                rule(READ, "apps extensions", "replicasets"),
                rule(READ, "apps", "statefulsets"),
                rule(READ, "policy", "poddisruptionbudgets"),
                rule(READ, "core", "persistentvolumeclaims persistentvolumes"),
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule("create", "authorization.k8s.io", "subjectaccessreviews"),
                rule(READ, "storage.k8s.io", "csinodes"),
                rule(READ, "core", "namespaces"),
                rule(READ, "storage.k8s.io", "csidrivers"),
                rule(READ, "storage.k8s.io", "csistoragecapacities"),
            ],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            &[],
            vec![
                rule(READ, "core", "nodes"),
                rule("proxy", "core", "nodes"),
                rule("*", "core", "nodes/log nodes/metrics nodes/proxy nodes/stats"),
            ],
        ),
        cluster_role(
            "system:monitoring",
            &[],
            vec![urls("get", "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz /readyz/*")],
        ),
        cluster_role(
            "system:node",
            &[],
            vec![
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule("create", "authorization.k8s.io", "localsubjectaccessreviews subjectaccessreviews"),
                rule(READ, "core", "services"),
                rule("create get list watch", "core", "nodes"),
                rule("patch update", "core", "nodes/status"),
                rule("patch update", "core", "nodes"),
                rule("create patch update", "core", "events"),
                rule(READ, "core", "pods"),
                rule("create delete", "core", "pods"),
                rule("patch update", "core", "pods/status"),
                rule("create", "core", "pods/eviction"),
                rule(READ, "core", "configmaps secrets"),
                rule("get", "core", "persistentvolumeclaims persistentvolumes"),
                rule("get", "core", "endpoints"),
                rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests"),
                rule("create delete get patch update", "coordination.k8s.io", "leases"),
                rule("get", "storage.k8s.io", "volumeattachments"),
                rule("create", "core", "serviceaccounts/token"),
                rule("get patch update", "core", "persistentvolumeclaims/status"),
                rule(READ, "storage.k8s.io", "csidrivers"),
                rule("create delete get patch update", "storage.k8s.io", "csinodes"),
                rule(READ, "node.k8s.io", "runtimeclasses"),
            ],
        ),
        cluster_role(
            "system:node-bootstrapper",
            &[],
            vec![rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests")],
        ),
        cluster_role(
            "system:node-problem-detector",
            &[],
            vec![
                rule("get", "core", "nodes"),
                rule("patch", "core", "nodes/status"),
                events(),
            ],
        ),
        cluster_role(
            "system:node-proxier",
            &[],
            vec![
                rule("list watch", "core", "endpoints services"),
                rule(READ, "core", "nodes"),
                events(),
                rule("list watch", "discovery.k8s.io", "endpointslices"),
            ],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            &[],
            vec![
                rule("create delete get list watch", "core", "persistentvolumes"),
                rule("get list update watch", "core", "persistentvolumeclaims"),
                rule(READ, "storage.k8s.io", "storageclasses"),
                rule("watch", "core", "events"),
                events(),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            &[],
            vec![urls("get", "/healthz /livez /readyz /version /version/")],
        ),
        cluster_role(
            "system:service-account-issuer-discovery",
            &[],
            vec![urls("get", "/.well-known/openid-configuration /openid/v1/jwks")],
        ),
        cluster_role(
            "system:volume-scheduler",
            &[],
            vec![
                rule("get list patch update watch", "core", "persistentvolumes"),
                rule(READ, "storage.k8s.io", "storageclasses"),
                rule("get list patch update watch", "core", "persistentvolumeclaims"),
            ],
        ),
        aggregated("view", &[TO_EDIT], "view"),
    ];
    roles.extend(
        controller_roles()
            .into_iter()
            .map(|(name, rules)| cluster_role(&format!("system:controller:{name}"), &[], rules)),
    );
    roles
}

/// The roles of the controller-manager's per-controller service accounts (upstream
/// `buildControllerRoles()`), by service account name.
fn controller_roles() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        ("attachdetach-controller", vec![
            rule("list watch", "core", "persistentvolumeclaims persistentvolumes"),
            rule(READ, "core", "nodes"),
            rule("patch update", "core", "nodes/status"),
            rule("list watch", "core", "pods"),
            events(),
            rule("create delete get list watch", "storage.k8s.io", "volumeattachments"),
            rule(READ, "storage.k8s.io", "csidrivers"),
            rule(READ, "storage.k8s.io", "csinodes"),
        ]),
        ("certificate-controller", vec![
            rule("delete get list watch", "certificates.k8s.io", "certificatesigningrequests"),
            rule("update", "certificates.k8s.io", "certificatesigningrequests/approval certificatesigningrequests/status"),
            named("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet"),
            named("sign", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client kubernetes.io/kube-apiserver-client-kubelet kubernetes.io/kubelet-serving kubernetes.io/legacy-unknown"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            events(),
        ]),
        ("clusterrole-aggregation-controller", vec![
            rule("escalate get list patch update watch", GROUP, "clusterroles"),
        ]),
        ("cronjob-controller", vec![
            rule("get list update watch", "batch", "cronjobs"),
            rule(ALL_ON, "batch", "jobs"),
            rule("update", "batch", "cronjobs/status"),
            rule("update", "batch", "cronjobs/finalizers"),
            rule("delete list watch", "core", "pods"),
            events(),
        ]),
        ("daemon-set-controller", vec![
            rule(READ, "apps extensions", "daemonsets"),
            rule("update", "apps extensions", "daemonsets/status"),
            rule("update", "apps extensions", "daemonsets/finalizers"),
            rule("list watch", "core", "nodes"),
            rule("create delete list patch watch", "core", "pods"),
            rule("create", "core", "pods/binding"),
            rule(ALL_ON, "apps", "controllerrevisions"),
            events(),
        ]),
        ("deployment-controller", vec![
            rule("get list update watch", "apps extensions", "deployments"),
            rule("update", "apps extensions", "deployments/status"),
            rule("update", "apps extensions", "deployments/finalizers"),
            rule(ALL_ON, "apps extensions", "replicasets"),
            rule("get list update watch", "core", "pods"),
            events(),
        ]),
        ("disruption-controller", vec![
            rule(READ, "apps extensions", "deployments"),
            rule(READ, "apps extensions", "replicasets"),
            rule(READ, "core", "replicationcontrollers"),
            rule(READ, "policy", "poddisruptionbudgets"),
            rule(READ, "apps", "statefulsets"),
            rule("update", "policy", "poddisruptionbudgets/status"),
            rule("patch update", "core", "pods/status"),
            rule("get", "*", "*/scale"),
            events(),
        ]),
        ("endpoint-controller", vec![
            rule(READ, "core", "pods services"),
            rule("create delete get list update watch", "core", "endpoints"),
            rule("create", "core", "endpoints/restricted"),
            events(),
        ]),
        ("endpointslice-controller", vec![
            rule(READ, "core", "nodes pods services"),
            rule("update", "core", "services/finalizers"),
            rule("create delete get list update watch", "discovery.k8s.io", "endpointslices"),
            events(),
        ]),
        ("endpointslicemirroring-controller", vec![
            rule(READ, "core", "endpoints services"),
            rule("update", "core", "services/finalizers"),
            rule("update", "core", "endpoints/finalizers"),
            rule("create delete get list update watch", "discovery.k8s.io", "endpointslices"),
            events(),
        ]),
        ("ephemeral-volume-controller", vec![
            rule(READ, "core", "pods"),
            rule("update", "core", "pods/finalizers"),
            rule("create get list watch", "core", "persistentvolumeclaims"),
            events(),
        ]),
        ("expand-controller", vec![
            rule("get list patch update watch", "core", "persistentvolumes"),
            rule("patch update", "core", "persistentvolumeclaims/status"),
            rule(READ, "core", "persistentvolumeclaims"),
            events(),
        ]),
        ("generic-garbage-collector", vec![
            rule("delete get list patch update watch", "*", "*"),
            events(),
        ]),
        ("horizontal-pod-autoscaler", vec![
            rule(READ, "autoscaling", "horizontalpodautoscalers"),
            rule("update", "autoscaling", "horizontalpodautoscalers/status"),
            rule("get update", "*", "*/scale"),
            rule("list watch", "core", "pods"),
            rule("list watch", "metrics.k8s.io", "pods"),
            rule(READ, "custom.metrics.k8s.io", "*"),
            rule(READ, "external.metrics.k8s.io", "*"),
            events(),
        ]),
        ("job-controller", vec![
            rule("get list patch update watch", "batch", "jobs"),
            rule("update", "batch", "jobs/status"),
            rule("update", "batch", "jobs/finalizers"),
            rule("create delete list patch watch", "core", "pods"),
            events(),
        ]),
        ("legacy-service-account-token-cleaner", vec![
            named("get", "core", "configmaps", "kube-apiserver-legacy-service-account-token-tracking"),
            rule("delete patch", "core", "secrets"),
        ]),
        ("namespace-controller", vec![
            rule("delete get list watch", "core", "namespaces"),
            rule("update", "core", "namespaces/finalize namespaces/status"),
            rule("delete deletecollection get list watch", "*", "*"),
        ]),
        ("node-controller", vec![
            rule("delete get list patch update watch", "core", "nodes"),
            rule("patch update", "core", "nodes/status"),
            rule("patch update", "core", "pods/status"),
            rule("delete get list watch", "core", "pods"),
            events(),
        ]),
        ("persistent-volume-binder", vec![
            rule("create delete get list update watch", "core", "persistentvolumes"),
            rule("update", "core", "persistentvolumes/status"),
            rule("get list update watch", "core", "persistentvolumeclaims"),
            rule("update", "core", "persistentvolumeclaims/status"),
            rule("create delete get list watch", "core", "pods"),
            rule(READ, "storage.k8s.io", "storageclasses"),
            rule("list watch", "core", "nodes"),
            events(),
            rule("watch", "core", "events"),
        ]),
        ("pod-garbage-collector", vec![
            rule("delete list watch", "core", "pods"),
            rule(READ, "core", "nodes"),
            rule("patch", "core", "pods/status"),
        ]),
        ("pv-protection-controller", vec![
            rule("get list update watch", "core", "persistentvolumes"),
            events(),
        ]),
        ("pvc-protection-controller", vec![
            rule("get list update watch", "core", "persistentvolumeclaims"),
            rule("update", "core", "persistentvolumeclaims/status"),
            rule(READ, "core", "pods"),
            events(),
        ]),
        ("replicaset-controller", vec![
            rule("get list update watch", "apps extensions", "replicasets"),
            rule("update", "apps extensions", "replicasets/status"),
            rule("update", "apps extensions", "replicasets/finalizers"),
            rule("create delete list patch watch", "core", "pods"),
            events(),
        ]),
        ("replication-controller", vec![
            rule("get list update watch", "core", "replicationcontrollers"),
            rule("update", "core", "replicationcontrollers/status"),
            rule("update", "core", "replicationcontrollers/finalizers"),
            rule("create delete list patch watch", "core", "pods"),
            events(),
        ]),
        ("resourcequota-controller", vec![
            rule("list watch", "*", "*"),
            rule("update", "core", "resourcequotas/status"),
            events(),
        ]),
        ("root-ca-cert-publisher", vec![
            rule("create update", "core", "configmaps"),
            events(),
        ]),
        ("route-controller", vec![
            rule("list watch", "core", "nodes"),
            rule("patch", "core", "nodes/status"),
            events(),
        ]),
        ("selinux-warning-controller", vec![
            events(),
            rule(READ, "core", "persistentvolumes"),
            rule(READ, "core", "persistentvolumeclaims"),
            rule(READ, "core", "pods"),
            rule(READ, "storage.k8s.io", "csidrivers"),
        ]),
        ("service-account-controller", vec![
            rule("create", "core", "serviceaccounts"),
            events(),
        ]),
        ("service-cidrs-controller", vec![
            rule("get list patch update watch", "networking.k8s.io", "servicecidrs"),
            rule("patch update", "networking.k8s.io", "servicecidrs/finalizers"),
            rule("patch update", "networking.k8s.io", "servicecidrs/status"),
            rule(READ, "networking.k8s.io", "ipaddresses"),
            events(),
        ]),
        ("service-controller", vec![
            rule(READ, "core", "services"),
            rule("patch update", "core", "services/status"),
            rule("list watch", "core", "nodes"),
            events(),
        ]),
        ("statefulset-controller", vec![
            rule("list watch", "core", "pods"),
            rule(READ, "apps", "statefulsets"),
            rule("update", "apps", "statefulsets/status"),
            rule("update", "apps", "statefulsets/finalizers"),
            rule("create delete get patch update", "core", "pods"),
            rule(ALL_ON, "apps", "controllerrevisions"),
            rule("create get list watch", "core", "persistentvolumeclaims"),
            rule("delete update", "core", "persistentvolumeclaims"),
            rule("update", "core", "pods/finalizers"),
            events(),
        ]),
        ("ttl-after-finished-controller", vec![
            rule("delete get list watch", "batch", "jobs"),
            events(),
        ]),
        ("ttl-controller", vec![
            rule("list patch update watch", "core", "nodes"),
            events(),
        ]),
        ("validatingadmissionpolicy-status-controller", vec![
            rule(READ, "admissionregistration.k8s.io", "validatingadmissionpolicies"),
            rule("get patch update", "admissionregistration.k8s.io", "validatingadmissionpolicies/status"),
            events(),
        ]),
    ]
}

fn subject(kind: &str, name: &str) -> Value {
    json!({"apiGroup": GROUP, "kind": kind, "name": name})
}

fn service_account(name: &str) -> Value {
    json!({"kind": "ServiceAccount", "name": name, "namespace": "kube-system"})
}

fn binding(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    role: &str,
    subjects: Vec<Value>,
) -> Value {
    let role_kind = if kind == "RoleBinding" {
        "Role"
    } else {
        "ClusterRole"
    };
    let mut obj = json!({
        "apiVersion": API_VERSION, "kind": kind,
        "metadata": metadata(name, namespace, &[]),
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role},
    });
    // Upstream's system:node binding has no subjects (the Node authorizer grants nodes).
    if !subjects.is_empty() {
        obj["subjects"] = subjects.into();
    }
    obj
}

/// The default ClusterRoleBindings (upstream `ClusterRoleBindings()` and one per
/// controller role, to the controller's service account in kube-system).
pub fn cluster_role_bindings() -> Vec<Value> {
    let group = |n: &str| subject("Group", n);
    let user = |n: &str| subject("User", n);
    let crb = |name: &str, subjects: Vec<Value>| {
        binding("ClusterRoleBinding", name, None, name, subjects)
    };
    let mut bindings = vec![
        crb("cluster-admin", vec![group("system:masters")]),
        crb("system:basic-user", vec![group("system:authenticated")]),
        crb("system:discovery", vec![group("system:authenticated")]),
        crb(
            "system:kube-controller-manager",
            vec![user("system:kube-controller-manager")],
        ),
        crb("system:kube-dns", vec![service_account("kube-dns")]),
        crb("system:kube-scheduler", vec![user("system:kube-scheduler")]),
        crb("system:monitoring", vec![group("system:monitoring")]),
        crb("system:node", vec![]),
        crb("system:node-proxier", vec![user("system:kube-proxy")]),
        crb(
            "system:public-info-viewer",
            vec![
                group("system:authenticated"),
                group("system:unauthenticated"),
            ],
        ),
        crb(
            "system:service-account-issuer-discovery",
            vec![group("system:serviceaccounts")],
        ),
        crb(
            "system:volume-scheduler",
            vec![user("system:kube-scheduler")],
        ),
    ];
    bindings.extend(controller_roles().into_iter().map(|(sa, _)| {
        crb(
            &format!("system:controller:{sa}"),
            vec![service_account(sa)],
        )
    }));
    bindings
}

fn role(name: &str, namespace: &str, rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": API_VERSION, "kind": "Role",
        "metadata": metadata(name, Some(namespace), &[]),
        "rules": rules,
    })
}

/// The namespaced Roles (upstream `NamespaceRoles()`).
pub fn roles() -> Vec<Value> {
    let leader_locking = || {
        vec![
            rule(
                "create get list update watch",
                "coordination.k8s.io",
                "leases",
            ),
            rule(
                "create get list update watch",
                "coordination.k8s.io",
                "leasecandidates",
            ),
        ]
    };
    vec![
        role(
            "system:controller:bootstrap-signer",
            "kube-public",
            vec![
                rule(READ, "core", "configmaps"),
                named("update", "core", "configmaps", "cluster-info"),
                events(),
            ],
        ),
        role(
            "extension-apiserver-authentication-reader",
            "kube-system",
            vec![named(
                READ,
                "core",
                "configmaps",
                "extension-apiserver-authentication",
            )],
        ),
        role(
            "system::leader-locking-kube-controller-manager",
            "kube-system",
            leader_locking(),
        ),
        role(
            "system::leader-locking-kube-scheduler",
            "kube-system",
            leader_locking(),
        ),
        role(
            "system:controller:bootstrap-signer",
            "kube-system",
            vec![rule(READ, "core", "secrets")],
        ),
        role(
            "system:controller:cloud-provider",
            "kube-system",
            vec![rule("create get list watch", "core", "configmaps")],
        ),
        role(
            "system:controller:token-cleaner",
            "kube-system",
            vec![rule("delete get list watch", "core", "secrets"), events()],
        ),
    ]
}

/// The namespaced RoleBindings (upstream `NamespaceRoleBindings()`).
pub fn role_bindings() -> Vec<Value> {
    let user = |n: &str| subject("User", n);
    let rb = |name: &str, ns: &str, role: &str, subjects: Vec<Value>| {
        binding("RoleBinding", name, Some(ns), role, subjects)
    };
    vec![
        rb(
            "system:controller:bootstrap-signer",
            "kube-public",
            "system:controller:bootstrap-signer",
            vec![service_account("bootstrap-signer")],
        ),
        rb(
            "system::extension-apiserver-authentication-reader",
            "kube-system",
            "extension-apiserver-authentication-reader",
            vec![
                user("system:kube-controller-manager"),
                user("system:kube-scheduler"),
            ],
        ),
        rb(
            "system::leader-locking-kube-controller-manager",
            "kube-system",
            "system::leader-locking-kube-controller-manager",
            vec![
                user("system:kube-controller-manager"),
                service_account("kube-controller-manager"),
                service_account("leader-election-controller"),
            ],
        ),
        rb(
            "system::leader-locking-kube-scheduler",
            "kube-system",
            "system::leader-locking-kube-scheduler",
            vec![
                user("system:kube-scheduler"),
                service_account("kube-scheduler"),
            ],
        ),
        rb(
            "system:controller:bootstrap-signer",
            "kube-system",
            "system:controller:bootstrap-signer",
            vec![service_account("bootstrap-signer")],
        ),
        rb(
            "system:controller:cloud-provider",
            "kube-system",
            "system:controller:cloud-provider",
            vec![service_account("cloud-provider")],
        ),
        rb(
            "system:controller:token-cleaner",
            "kube-system",
            "system:controller:token-cleaner",
            vec![service_account("token-cleaner")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn name(v: &Value) -> String {
        let ns = v["metadata"]["namespace"].as_str().unwrap_or("");
        format!("{ns}/{}", v["metadata"]["name"].as_str().unwrap_or(""))
    }

    #[test]
    fn names_are_unique_and_every_binding_has_its_role() {
        let roles: Vec<Value> = cluster_roles();
        let role_names: BTreeSet<String> = roles.iter().map(name).collect();
        assert_eq!(role_names.len(), roles.len());
        for b in cluster_role_bindings() {
            let role = format!("/{}", b["roleRef"]["name"].as_str().unwrap());
            assert!(role_names.contains(&role), "{role} missing");
        }
        let ns_roles: BTreeSet<String> = roles_names(&super::roles());
        for b in role_bindings() {
            let role = format!(
                "{}/{}",
                b["metadata"]["namespace"].as_str().unwrap(),
                b["roleRef"]["name"].as_str().unwrap()
            );
            assert!(ns_roles.contains(&role), "{role} missing");
        }
    }

    fn roles_names(roles: &[Value]) -> BTreeSet<String> {
        roles.iter().map(name).collect()
    }

    #[test]
    fn user_facing_roles_aggregate_and_carry_the_policy_markers() {
        let roles = cluster_roles();
        let get = |n: &str| roles.iter().find(|r| r["metadata"]["name"] == n).unwrap();
        assert_eq!(
            get("admin")["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]
                ["rbac.authorization.k8s.io/aggregate-to-admin"],
            "true"
        );
        assert!(get("view")["rules"].is_null());
        assert_eq!(
            get("edit")["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"],
            "true"
        );
        for r in &roles {
            assert_eq!(
                r["metadata"]["labels"]["kubernetes.io/bootstrapping"],
                "rbac-defaults"
            );
            assert_eq!(r["metadata"]["annotations"][AUTOUPDATE_ANNOTATION], "true");
        }
        // The legacy group is spelled "" on the wire.
        assert_eq!(get("system:node-proxier")["rules"][0]["apiGroups"][0], "");
        assert!(roles
            .iter()
            .any(|r| r["metadata"]["name"] == "system:controller:node-controller"));
    }
}

//! Table-driven cases: an object (or an old/new pair) and the exact `field: message`
//! lines upstream answers for it.

use serde_json::{json, Value};

use super::{validate, validate_update};
use crate::resource::ResourceInfo;

fn info(group: &str, kind: &str) -> ResourceInfo {
    crate::builtin::resources()
        .into_iter()
        .find(|r| r.group == group && r.kind == kind)
        .unwrap_or_else(|| panic!("no resource {group}/{kind}"))
}

fn lines(causes: &[crate::status::Cause]) -> Vec<String> {
    causes
        .iter()
        .map(|c| {
            if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            }
        })
        .collect()
}

fn check(group: &str, kind: &str, obj: Value) -> Vec<String> {
    let mut causes = Vec::new();
    validate(&info(group, kind), &obj, &mut causes);
    lines(&causes)
}

fn check_update(group: &str, kind: &str, old: Value, new: Value) -> Vec<String> {
    let mut causes = Vec::new();
    validate_update(&info(group, kind), &old, &new, &mut causes);
    lines(&causes)
}

/// `base` with the JSON-pointer-free overrides of `patch` merged in (RFC 7386).
fn with(base: &Value, patch: Value) -> Value {
    let mut v = base.clone();
    json_patch::merge(&mut v, &patch);
    v
}

fn run(group: &str, kind: &str, base: &Value, cases: Vec<(Value, Vec<&str>)>) -> usize {
    assert_eq!(
        check(group, kind, base.clone()),
        Vec::<String>::new(),
        "{kind} base"
    );
    let n = cases.len();
    for (patch, want) in cases {
        let got = check(group, kind, with(base, patch.clone()));
        assert_eq!(got, want, "{kind} with {patch}");
    }
    n
}

fn job() -> Value {
    json!({"metadata": {"name": "pi", "namespace": "default"}, "spec": {
        "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})
}

#[test]
fn invalid_objects() {
    let mut n = 0;

    // ConfigMap and Secret.
    let big = "x".repeat(1024 * 1024 + 1);
    n += run(
        "",
        "ConfigMap",
        &json!({"metadata": {"name": "c"}, "data": {"a": "b"}}),
        vec![(
            json!({"data": {"a": big}}),
            vec!["Too long: may not be more than 1048576 bytes"],
        )],
    );
    n += run(
        "",
        "Secret",
        &json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "Yg=="}}),
        vec![
            (
                json!({"type": "kubernetes.io/tls"}),
                vec![
                    "data[tls.crt]: Required value",
                    "data[tls.key]: Required value",
                ],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth"}),
                vec![
                    "data[username]: Required value",
                    "data[password]: Required value",
                ],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson"}),
                vec!["data[.dockerconfigjson]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/dockercfg"}),
                vec!["data[.dockercfg]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/ssh-auth"}),
                vec!["data[ssh-privatekey]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/service-account-token"}),
                vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
            ),
        ],
    );

    // Node.
    n += run(
        "",
        "Node",
        &json!({"metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/24",
        "taints": [{"key": "k", "effect": "NoSchedule"}]}}),
        vec![
            (
                json!({"spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}),
                vec![
                    r#"spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#,
                ],
            ),
            (
                json!({"spec": {"taints": [{"key": "k"}]}}),
                vec!["spec.taints[0].effect: Required value"],
            ),
            (
                json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}]}}),
                vec![
                    r#"spec.taints[1]: Duplicate value: core.Taint{Key:"k", Value:"", Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair"#,
                ],
            ),
            (
                json!({"spec": {"taints": [{"key": "bad key", "effect": "NoSchedule"}]}}),
                vec![
                    r#"spec.taints[0].key: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#,
                ],
            ),
            (
                json!({"spec": {"podCIDR": "10.0.0.0"}}),
                vec![
                    r#"spec.podCIDRs[0]: Invalid value: "10.0.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#,
                ],
            ),
            (
                json!({"spec": {"podCIDRs": ["10.0.0.0/24", "10.1.0.0/24"]}}),
                vec![
                    r#"spec.podCIDRs: Invalid value: []string{"10.0.0.0/24", "10.1.0.0/24"}: may specify no more than one CIDR for each IP family"#,
                ],
            ),
        ],
    );

    // Namespace and Event.
    n += run(
        "",
        "Namespace",
        &json!({"metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}}),
        vec![(
            json!({"spec": {"finalizers": ["custom"]}}),
            vec![
                r#"spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified"#,
            ],
        )],
    );
    n += run(
        "",
        "Event",
        &json!({"metadata": {"name": "e", "namespace": "team"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "team"}}),
        vec![
            (
                json!({"involvedObject": {"namespace": "other"}}),
                vec![
                    r#"involvedObject.namespace: Invalid value: "other": does not match event.namespace"#,
                ],
            ),
            (
                json!({"involvedObject": {"namespace": null}}),
                vec![
                    r#"involvedObject.namespace: Invalid value: "": does not match event.namespace"#,
                ],
            ),
        ],
    );

    // ResourceQuota and LimitRange.
    n += run(
        "",
        "ResourceQuota",
        &json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "cpu": "2"}}}),
        vec![
            (
                json!({"spec": {"hard": {"cpu": "-1"}}}),
                vec![r#"spec.hard[cpu]: Invalid value: "-1": must be greater than or equal to 0"#],
            ),
            (
                json!({"spec": {"hard": {"pods": "1500m"}}}),
                vec!["spec.hard[pods]: Invalid value: 1500m: must be an integer"],
            ),
            (
                json!({"spec": {"scopes": ["Sometimes"]}}),
                vec![
                    r#"spec.scopes[0]: Unsupported value: "Sometimes": supported values: "BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating", "PriorityClass", "Terminating""#,
                ],
            ),
        ],
    );
    n += run("", "LimitRange", &json!({"metadata": {"name": "l"}, "spec": {"limits": [{"type": "Container",
        "min": {"cpu": "100m"}, "max": {"cpu": "1"}, "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "200m"}}]}}), vec![
        (json!({"spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}),
            vec!["spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1"]),
        (json!({"spec": {"limits": [{"type": "Container", "default": {"cpu": "2"}, "max": {"cpu": "1"}}]}}),
            vec!["spec.limits[0].default[cpu]: Invalid value: 1: default value 2 is greater than max value 1"]),
        (json!({"spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "2"}, "default": {"cpu": "1"}}]}}),
            vec!["spec.limits[0].defaultRequest[cpu]: Invalid value: 2: default request value 2 is greater than default limit value 1"]),
        (json!({"spec": {"limits": [{"type": "Pod", "default": {"cpu": "1"}}]}}),
            vec!["spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"]),
        (json!({"spec": {"limits": [{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}]}}),
            vec!["spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 500m: ratio 500m is less than 1"]),
        (json!({"spec": {"limits": [{"type": "Container"}, {"type": "Container"}]}}),
            vec![r#"spec.limits[1].type: Duplicate value: "Container""#]),
        (json!({"spec": {"limits": [{"type": "Machine"}]}}),
            vec![r#"spec.limits[0].type: Invalid value: "Machine": must be a standard limit type or fully qualified"#]),
    ]);

    // PersistentVolume and PersistentVolumeClaim.
    n += run("", "PersistentVolume", &json!({"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}, "persistentVolumeReclaimPolicy": "Retain"}}), vec![
        (json!({"spec": {"accessModes": null}}), vec!["spec.accessModes: Required value"]),
        (json!({"spec": {"accessModes": ["ReadSometimes"]}}), vec![r#"spec.accessModes: Unsupported value: "ReadSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod""#]),
        (json!({"spec": {"accessModes": ["ReadWriteOncePod", "ReadOnlyMany"]}}), vec!["spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"]),
        (json!({"spec": {"capacity": null}}), vec!["spec.capacity: Required value", r#"spec.capacity: Unsupported value: {}: supported values: "storage""#]),
        (json!({"spec": {"hostPath": null}}), vec!["spec: Required value: must specify a volume type"]),
        (json!({"spec": {"nfs": {"server": "s", "path": "/x"}}}), vec!["spec.nfs: Forbidden: may not specify more than 1 volume type"]),
        (json!({"spec": {"hostPath": null, "nfs": {"server": "s", "path": "x"}}}), vec![r#"spec.nfs.path: Invalid value: "x": must be an absolute path"#]),
        (json!({"spec": {"persistentVolumeReclaimPolicy": "Keep"}}), vec![r#"spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain""#]),
        (json!({"spec": {"hostPath": null, "local": {"path": "/mnt"}}}), vec!["spec.nodeAffinity: Required value: Local volume requires node affinity"]),
        (json!({"spec": {"volumeMode": "Raw"}}), vec![r#"spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem""#]),
    ]);
    n += run(
        "",
        "PersistentVolumeClaim",
        &json!({"metadata": {"name": "c", "namespace": "default"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        vec![
            (
                json!({"spec": {"accessModes": null}}),
                vec!["spec.accessModes: Required value: at least 1 access mode is required"],
            ),
            (
                json!({"spec": {"resources": {"requests": {"storage": null}}}}),
                vec!["spec.resources[storage]: Required value"],
            ),
            (
                json!({"spec": {"resources": {"requests": {"storage": "0"}}}}),
                vec![r#"spec.resources[storage]: Invalid value: "0": must be greater than zero"#],
            ),
            (
                json!({"spec": {"storageClassName": "Fast_Disk"}}),
                vec![
                    r#"spec.storageClassName: Invalid value: "Fast_Disk": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
                ],
            ),
        ],
    );

    // Job and CronJob.
    let long_job = format!(
        r#"metadata.name: Invalid value: "{0}": will not able to create pod with invalid DNS label: {0}-99"#,
        "j".repeat(61)
    );
    n += run("batch", "Job", &job(), vec![
        (json!({"spec": {"parallelism": -1}}), vec!["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]),
        (json!({"spec": {"backoffLimit": -2}}), vec!["spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0"]),
        (json!({"spec": {"completionMode": "Sometimes"}}), vec![r#"spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed""#]),
        (json!({"spec": {"completionMode": "Indexed", "completions": null}}), vec!["spec.completions: Required value: when completion mode is Indexed"]),
        (json!({"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}), vec![r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#]),
        (json!({"spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}, "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}}}),
            vec![r#"spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified"#]),
        (json!({"spec": {"podFailurePolicy": {"rules": [{"action": "Explode", "onExitCodes": {"operator": "In", "values": [0, 2, 1]}}]}}}),
            vec![r#"spec.podFailurePolicy.rules[0].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore""#,
                 "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
                 "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{0, 2, 1}: must be ordered"]),
        (json!({"spec": {"podFailurePolicy": {"rules": [{"action": "Ignore"}]}}}),
            vec!["spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"]),
        (json!({"spec": {"podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "Maybe"}]}]}}}),
            vec![r#"spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown""#]),
        (json!({"spec": {"backoffLimitPerIndex": 1}}), vec!["spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"]),
        (json!({"spec": {"podReplacementPolicy": "Never"}}), vec![r#"spec.podReplacementPolicy: Unsupported value: "Never": supported values: "Failed", "TerminatingOrFailed""#]),
        (json!({"metadata": {"name": "j".repeat(61)}, "spec": {"completionMode": "Indexed", "completions": 100}}),
            vec![long_job.as_str()]),
    ]);
    let cron = json!({"metadata": {"name": "hello", "namespace": "default"}, "spec": {"schedule": "*/1 * * * *",
        "concurrencyPolicy": "Allow", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
        "containers": [{"name": "c", "image": "busybox"}]}}}}}});
    let long_cron = format!(
        r#"metadata.name: Invalid value: "{}": must be no more than 52 characters"#,
        "x".repeat(53)
    );
    n += run("batch", "CronJob", &cron, vec![
        (json!({"spec": {"schedule": "not a schedule"}}), vec![r#"spec.schedule: Invalid value: "not a schedule": expected exactly 5 fields, found 3: [not a schedule]"#]),
        (json!({"spec": {"schedule": "61 * * * *"}}), vec![r#"spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61"#]),
        (json!({"spec": {"schedule": "TZ=UTC 0 * * * *"}}), vec![r#"spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"#]),
        (json!({"spec": {"concurrencyPolicy": "Sometimes"}}), vec![r#"spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#]),
        (json!({"spec": {"timeZone": "Mars/Olympus"}}), vec![r#"spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus"#]),
        (json!({"spec": {"timeZone": "Local"}}), vec![r#"spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"#]),
        (json!({"spec": {"successfulJobsHistoryLimit": -1}}), vec!["spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"]),
        (json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}}}),
            vec![r#"spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#]),
        (json!({"spec": {"jobTemplate": {"spec": {"manualSelector": true}}}}),
            vec![r#"spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false""#]),
        (json!({"metadata": {"name": "x".repeat(53)}}), vec![long_cron.as_str()]),
    ]);

    // RBAC.
    n += run("rbac.authorization.k8s.io", "Role", &json!({"metadata": {"name": "r", "namespace": "default"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}), vec![
        (json!({"rules": [{"apiGroups": [""], "resources": ["pods"]}]}), vec!["rules[0].verbs: Required value: verbs must contain at least one value"]),
        (json!({"rules": [{"verbs": ["get"]}]}), vec!["rules[0].apiGroups: Required value: resource rules must supply at least one api group", "rules[0].resources: Required value: resource rules must supply at least one resource"]),
        (json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}), vec![r#"rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs"#]),
        (json!({"rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "secrets"], "resourceNames": ["x"]}]}), vec!["rules[0].resourceNames: Required value: resource names cannot apply to multiple resources"]),
    ]);
    n += run(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        &json!({"metadata": {"name": "r"},
        "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}),
        vec![(
            json!({"rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"], "resources": ["pods"]}]}),
            vec![
                r#"rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: rules cannot apply to both regular resources and non-resource URLs"#,
            ],
        )],
    );
    let rb = json!({"metadata": {"name": "b", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"},
                     {"kind": "ServiceAccount", "name": "default", "namespace": "default"}]});
    n += run(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        &rb,
        vec![
            (
                json!({"roleRef": {"kind": "Policy"}}),
                vec![
                    r#"roleRef.kind: Unsupported value: "Policy": supported values: "Role", "ClusterRole""#,
                ],
            ),
            (
                json!({"roleRef": {"apiGroup": "example.com"}}),
                vec![
                    r#"roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io""#,
                ],
            ),
            (
                json!({"roleRef": {"name": null}}),
                vec!["roleRef.name: Required value"],
            ),
            (
                json!({"roleRef": {"name": "a/b"}}),
                vec![r#"roleRef.name: Invalid value: "a/b": may not contain '/'"#],
            ),
            (
                json!({"subjects": [{"kind": "Robot", "name": "r2"}]}),
                vec![
                    r#"subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#,
                ],
            ),
            (
                json!({"subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io"}]}),
                vec![
                    "subjects[0].name: Required value",
                    r#"subjects[0].name: Invalid value: "": user name cannot be empty"#,
                ],
            ),
            (
                json!({"subjects": [{"kind": "Group", "name": "g", "apiGroup": "x"}]}),
                vec![
                    r#"subjects[0].apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io""#,
                ],
            ),
            (
                json!({"subjects": [{"kind": "ServiceAccount", "name": "Bad_SA", "namespace": "default"}]}),
                vec![
                    r#"subjects[0].name: Invalid value: "Bad_SA": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
                ],
            ),
        ],
    );
    n += run(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        &json!({"metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]}),
        vec![
            (
                json!({"roleRef": {"kind": "Role"}}),
                vec![r#"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#],
            ),
            (
                json!({"subjects": [{"kind": "ServiceAccount", "name": "default"}]}),
                vec!["subjects[0].namespace: Required value"],
            ),
        ],
    );

    // Ingress, IngressClass, NetworkPolicy.
    let ing = json!({"metadata": {"name": "i", "namespace": "default"}, "spec": {"rules": [{"host": "example.com",
        "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    let path =
        |p: Value| json!({"spec": {"rules": [{"host": "example.com", "http": {"paths": [p]}}]}});
    let wildcard = format!(
        r#"spec.rules[0].host: Invalid value: "*.*.example.com": {}"#,
        super::networking::WILDCARD_MSG
    );
    n += run("networking.k8s.io", "Ingress", &ing, vec![
        (json!({"spec": {"rules": null}}), vec!["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]),
        (json!({"spec": {"rules": [{"host": "*.*.example.com"}]}}), vec![wildcard.as_str()]),
        (json!({"spec": {"rules": [{"host": "10.0.0.1"}]}}), vec![r#"spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address"#]),
        (path(json!({"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}})),
            vec![r#"spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path"#]),
        (path(json!({"path": "/a//b", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"number": 80}}}})),
            vec![r#"spec.rules[0].http.paths[0].path: Invalid value: "/a//b": must not contain '//'"#]),
        (path(json!({"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}})),
            vec!["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]),
        (path(json!({"path": "/", "pathType": "Regex", "backend": {"service": {"name": "web", "port": {"number": 80}}}})),
            vec![r#"spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix""#]),
        (path(json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80, "name": "http"}}}})),
            vec![r#"spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number"#]),
        (path(json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {}}}})),
            vec!["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"]),
        (path(json!({"path": "/", "pathType": "Prefix", "backend": {}})),
            vec![r#"spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required"#]),
        (path(json!({"path": "/", "pathType": "Prefix", "backend": {"resource": {"kind": "Bucket", "name": "b"}, "service": {"name": "web", "port": {"number": 80}}}})),
            vec![r#"spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends"#]),
        (path(json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "9web", "port": {"number": 70000}}}})),
            vec![r#"spec.rules[0].http.paths[0].backend.service.name: Invalid value: "9web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
                 "spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ]);
    n += run(
        "networking.k8s.io",
        "IngressClass",
        &json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
        vec![
            (
                json!({"spec": {"controller": "nginx"}}),
                vec![
                    r#"spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")"#,
                ],
            ),
            (
                json!({"spec": {"controller": null}}),
                vec!["spec.controller: Required value"],
            ),
            (
                json!({"spec": {"parameters": {"kind": "Params", "name": "p", "scope": "Galaxy"}}}),
                vec![
                    r#"spec.parameters.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespace""#,
                ],
            ),
        ],
    );
    let np = json!({"metadata": {"name": "np", "namespace": "default"}, "spec": {"podSelector": {},
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"protocol": "TCP", "port": 80}]}],
        "policyTypes": ["Ingress"]}});
    let from = |peer: Value| json!({"spec": {"ingress": [{"from": [peer]}]}});
    n += run("networking.k8s.io", "NetworkPolicy", &np, vec![
        (json!({"spec": {"ingress": [{"ports": [{"protocol": "ICMP"}]}]}}), vec![r#"spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#]),
        (json!({"spec": {"ingress": [{"ports": [{"port": 80, "endPort": 70}]}]}}), vec!["spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`"]),
        (json!({"spec": {"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]}}), vec!["spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric"]),
        (from(json!({"ipBlock": {"cidr": "10.0.0.0/33"}})), vec![r#"spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"#]),
        (from(json!({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}})), vec![r#"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`"#]),
        (from(json!({})), vec!["spec.ingress[0].from[0]: Required value: must specify a peer"]),
        (from(json!({"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}})), vec!["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"]),
        (json!({"spec": {"policyTypes": ["Sideways"]}}), vec![r#"spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress""#]),
    ]);

    // PodDisruptionBudget.
    n += run("policy", "PodDisruptionBudget", &json!({"metadata": {"name": "p", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}}}), vec![
        (json!({"spec": {"maxUnavailable": 1}}), vec![r#"spec: Invalid value: {"maxUnavailable":1,"minAvailable":1,"selector":{"matchLabels":{"app":"a"}}}: minAvailable and maxUnavailable cannot be both set"#]),
        (json!({"spec": {"minAvailable": "150%"}}), vec!["spec.minAvailable: Invalid value: 150%: must not be greater than 100%"]),
        (json!({"spec": {"minAvailable": "half"}}), vec!["spec.minAvailable: Invalid value: half: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]),
        (json!({"spec": {"minAvailable": -1}}), vec!["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]),
        (json!({"spec": {"unhealthyPodEvictionPolicy": "Never"}}), vec![r#"spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget""#]),
    ]);

    // HorizontalPodAutoscaler v2.
    n += run("autoscaling", "HorizontalPodAutoscaler", &json!({"metadata": {"name": "h", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}), vec![
        (json!({"spec": {"minReplicas": 0}}), vec!["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"]),
        (json!({"spec": {"minReplicas": 7}}), vec!["spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"]),
        (json!({"spec": {"maxReplicas": 0, "minReplicas": null}}), vec!["spec.maxReplicas: Invalid value: 0: must be greater than 0"]),
        (json!({"spec": {"scaleTargetRef": {"name": null}}}), vec!["spec.scaleTargetRef.name: Required value"]),
        (json!({"spec": {"metrics": [{"type": "Magic"}]}}), vec![r#"spec.metrics[0].type: Unsupported value: "Magic": supported values: "ContainerResource", "External", "Object", "Pods", "Resource""#]),
        (json!({"spec": {"metrics": [{"type": "Pods"}]}}), vec!["spec.metrics[0].pods: Required value: must populate information for the given metric source"]),
        (json!({"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50, "averageValue": "100m"}}}]}}),
            vec!["spec.metrics[0].resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization"]),
        (json!({"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Percent", "averageUtilization": 0}}}]}}),
            vec![r#"spec.metrics[0].resource.target.type: Invalid value: "Percent": must be either Utilization, Value, or AverageValue"#,
                 "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"]),
    ]);

    // PriorityClass, Lease, EndpointSlice, StorageClass.
    n += run("scheduling.k8s.io", "PriorityClass", &json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}), vec![
        (json!({"value": 2000000000}), vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]),
        (json!({"metadata": {"name": "system-mine"}}), vec!["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"]),
        (json!({"preemptionPolicy": "Sometimes"}), vec![r#"preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never""#]),
    ]);
    n += run(
        "coordination.k8s.io",
        "Lease",
        &json!({"metadata": {"name": "l", "namespace": "default"}, "spec": {"leaseDurationSeconds": 15}}),
        vec![
            (
                json!({"spec": {"leaseDurationSeconds": 0}}),
                vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
            ),
            (
                json!({"spec": {"leaseTransitions": -1}}),
                vec![
                    "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
        ],
    );
    n += run(
        "discovery.k8s.io",
        "EndpointSlice",
        &json!({"metadata": {"name": "e", "namespace": "default"}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": "http", "protocol": "TCP", "port": 80}]}),
        vec![
            (
                json!({"addressType": "IPv5"}),
                vec![
                    r#"addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6""#,
                ],
            ),
            (
                json!({"endpoints": [{"addresses": ["fd00::1"]}]}),
                vec![
                    r#"endpoints[0].addresses[0]: Invalid value: "fd00::1": must be an IPv4 address"#,
                ],
            ),
            (
                json!({"endpoints": [{"addresses": ["ten"]}]}),
                vec![
                    r#"endpoints[0].addresses[0]: Invalid value: "ten": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
                ],
            ),
            (
                json!({"endpoints": [{"addresses": []}]}),
                vec!["endpoints[0].addresses: Required value: must contain at least 1 address"],
            ),
            (
                json!({"ports": [{"name": "http", "protocol": "ICMP"}]}),
                vec![
                    r#"ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#,
                ],
            ),
            (
                json!({"ports": [{"name": "a", "protocol": "TCP"}, {"name": "a", "protocol": "TCP"}]}),
                vec![r#"ports[1].name: Duplicate value: "a""#],
            ),
        ],
    );
    n += run(
        "storage.k8s.io",
        "StorageClass",
        &json!({"metadata": {"name": "fast"}, "provisioner": "example.com/disk",
        "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
        vec![
            (
                json!({"provisioner": null}),
                vec!["provisioner: Required value"],
            ),
            (
                json!({"reclaimPolicy": "Recycle"}),
                vec![
                    r#"reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain""#,
                ],
            ),
            (
                json!({"volumeBindingMode": "Later"}),
                vec![
                    r#"volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer""#,
                ],
            ),
        ],
    );

    assert!(n >= 70, "only {n} invalid cases");
}

#[test]
fn update_rules() {
    let cm = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
    assert_eq!(
        check_update(
            "",
            "ConfigMap",
            cm.clone(),
            with(&cm, json!({"data": {"a": "2"}}))
        ),
        vec!["data: Forbidden: field is immutable when `immutable` is set"]
    );
    assert_eq!(
        check_update(
            "",
            "ConfigMap",
            cm.clone(),
            with(&cm, json!({"immutable": false}))
        ),
        vec!["immutable: Forbidden: field is immutable when `immutable` is set"]
    );
    assert!(check_update(
        "",
        "ConfigMap",
        cm.clone(),
        with(&cm, json!({"metadata": {"labels": {"a": "b"}}}))
    )
    .is_empty());
    let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "immutable": true, "data": {"a": "MQ=="}});
    assert_eq!(
        check_update(
            "",
            "Secret",
            secret.clone(),
            with(
                &secret,
                json!({"type": "kubernetes.io/tls", "data": {"b": "Mg=="}})
            )
        ),
        vec![
            r#"type: Invalid value: "kubernetes.io/tls": field is immutable"#,
            "data: Forbidden: field is immutable when `immutable` is set"
        ]
    );

    let rb = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}});
    assert_eq!(
        check_update(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            rb.clone(),
            with(&rb, json!({"roleRef": {"name": "edit"}}))
        ),
        vec![
            r#"roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef"#
        ]
    );

    let j = job();
    assert_eq!(
        check_update(
            "batch",
            "Job",
            j.clone(),
            with(&j, json!({"spec": {"completions": 3}}))
        ),
        vec!["spec.completions: Invalid value: 3: field is immutable"]
    );
    let changed = with(
        &j,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
    );
    let got = check_update("batch", "Job", j.clone(), changed.clone());
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("spec.template: Invalid value: ")
            && got[0].ends_with(": field is immutable"),
        "{got:?}"
    );
    // A suspended job that never started may move its pods.
    let suspended = with(&j, json!({"spec": {"suspend": true}}));
    let moved = with(
        &suspended,
        json!({"spec": {"template": {"spec": {"nodeSelector": {"zone": "a"}}}}}),
    );
    assert!(check_update("batch", "Job", suspended.clone(), moved).is_empty());
    assert!(check_update(
        "batch",
        "Job",
        j.clone(),
        with(&j, json!({"spec": {"suspend": true, "parallelism": 3}}))
    )
    .is_empty());
    let indexed = with(
        &j,
        json!({"spec": {"completionMode": "Indexed", "completions": 2, "parallelism": 2}}),
    );
    assert!(check_update(
        "batch",
        "Job",
        indexed.clone(),
        with(
            &indexed,
            json!({"spec": {"completions": 4, "parallelism": 4}})
        )
    )
    .is_empty());
    assert_eq!(check_update("batch", "Job", indexed.clone(), with(&indexed, json!({"spec": {"completions": 4}}))),
        vec!["spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"]);
    assert_eq!(
        check_update(
            "batch",
            "Job",
            j.clone(),
            with(&j, json!({"spec": {"completionMode": "Indexed"}}))
        ),
        vec![r#"spec.completionMode: Invalid value: "Indexed": field is immutable"#]
    );

    let sts = json!({"spec": {"replicas": 1, "serviceName": "web", "selector": {"matchLabels": {"a": "b"}}, "podManagementPolicy": "OrderedReady"}});
    assert!(check_update(
        "apps",
        "StatefulSet",
        sts.clone(),
        with(&sts, json!({"spec": {"replicas": 3}}))
    )
    .is_empty());
    assert_eq!(check_update("apps", "StatefulSet", sts.clone(), with(&sts, json!({"spec": {"serviceName": "other"}}))),
        vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]);

    let pvc = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}});
    assert!(check_update(
        "",
        "PersistentVolumeClaim",
        pvc.clone(),
        with(
            &pvc,
            json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}})
        )
    )
    .is_empty());
    assert_eq!(check_update("", "PersistentVolumeClaim", pvc.clone(), with(&pvc, json!({"spec": {"accessModes": ["ReadWriteMany"]}}))),
        vec!["spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"]);
    let grown = with(
        &pvc,
        json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
    );
    assert_eq!(check_update("", "PersistentVolumeClaim", grown.clone(), with(&grown, json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}}))),
        vec!["spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"]);
    let pending = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}});
    assert!(check_update(
        "",
        "PersistentVolumeClaim",
        pending.clone(),
        with(&pending, json!({"spec": {"volumeName": "pv1"}}))
    )
    .is_empty());

    let pv = json!({"spec": {"hostPath": {"path": "/a"}, "capacity": {"storage": "1Gi"}}});
    assert_eq!(check_update("", "PersistentVolume", pv.clone(), with(&pv, json!({"spec": {"hostPath": {"path": "/b"}}}))),
        vec!["spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"]);
    assert!(check_update(
        "",
        "PersistentVolume",
        pv.clone(),
        with(&pv, json!({"spec": {"capacity": {"storage": "2Gi"}}}))
    )
    .is_empty());

    let sc = json!({"provisioner": "a.io/x", "parameters": {"type": "ssd"}, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"});
    assert_eq!(
        check_update(
            "storage.k8s.io",
            "StorageClass",
            sc.clone(),
            with(
                &sc,
                json!({"provisioner": "b.io/y", "parameters": {"type": "hdd"}, "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"})
            )
        ),
        vec![
            "parameters: Forbidden: updates to parameters are forbidden.",
            "provisioner: Forbidden: updates to provisioner are forbidden.",
            "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
            r#"volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable"#
        ]
    );

    let pc = json!({"value": 10, "preemptionPolicy": "Never"});
    assert_eq!(
        check_update(
            "scheduling.k8s.io",
            "PriorityClass",
            pc.clone(),
            with(
                &pc,
                json!({"value": 11, "preemptionPolicy": "PreemptLowerPriority"})
            )
        ),
        vec![
            "value: Forbidden: may not be changed in an update.",
            r#"preemptionPolicy: Invalid value: "PreemptLowerPriority": field is immutable"#
        ]
    );

    let es = json!({"addressType": "IPv4"});
    assert_eq!(
        check_update(
            "discovery.k8s.io",
            "EndpointSlice",
            es.clone(),
            json!({"addressType": "IPv6"})
        ),
        vec![r#"addressType: Invalid value: "IPv6": field is immutable"#]
    );

    let node = json!({"spec": {"podCIDR": "10.0.1.0/24", "podCIDRs": ["10.0.1.0/24"]}});
    assert_eq!(
        check_update(
            "",
            "Node",
            node.clone(),
            json!({"spec": {"podCIDR": "10.0.2.0/24", "podCIDRs": ["10.0.2.0/24"]}})
        ),
        vec![
            r#"spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid"#
        ]
    );
    assert!(check_update("", "Node", json!({"spec": {}}), node.clone()).is_empty());

    let svc = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}});
    assert_eq!(
        check_update(
            "",
            "Service",
            svc.clone(),
            json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.11", "clusterIPs": ["10.96.0.11"]}})
        ),
        vec![
            r#"spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set"#
        ]
    );
    assert!(check_update(
        "",
        "Service",
        svc.clone(),
        with(&svc, json!({"spec": {"type": "NodePort"}}))
    )
    .is_empty());

    let ic = json!({"spec": {"controller": "a.io/x"}});
    assert_eq!(
        check_update(
            "networking.k8s.io",
            "IngressClass",
            ic.clone(),
            json!({"spec": {"controller": "b.io/y"}})
        ),
        vec![r#"spec.controller: Invalid value: "b.io/y": field is immutable"#]
    );
}

#[test]
fn cron_job_name_limit_is_for_creates_only() {
    let long = "x".repeat(60);
    let cron = json!({"metadata": {"name": long, "resourceVersion": "5"}, "spec": {"schedule": "@hourly",
        "concurrencyPolicy": "Allow", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}}});
    assert!(check("batch", "CronJob", cron).is_empty());
}

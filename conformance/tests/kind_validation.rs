//! Validation of the remaining built-in kinds and their update rules, end to end with
//! stock kubectl: invalid objects of many groups get upstream's 422 with upstream's field
//! paths and messages, objects kubectl's own generators make are accepted, and
//! immutable fields stay immutable.

use k8rs_conformance::Server;
use serde_json::{json, Value};

fn create_fails(server: &Server, obj: &Value) -> String {
    server
        .kubectl_stdin(&["create", "-f", "-"], &obj.to_string())
        .fails()
}

#[test]
fn invalid_objects_of_every_group_are_refused_with_upstream_causes() {
    let server = Server::start();
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
                "rules": [{"apiGroups": [""], "resources": ["pods"]}]}),
            vec![r#"The Role "r" is invalid: rules[0].verbs: Required value: verbs must contain at least one value"#],
        ),
        (
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Policy", "name": "r"},
                "subjects": [{"kind": "Robot", "name": "r2"}]}),
            vec![
                r#"roleRef.kind: Unsupported value: "Policy": supported values: "Role", "ClusterRole""#,
                r#"subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#,
            ],
        ),
        (
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "cb"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": "default"}]}),
            vec!["subjects[0].namespace: Required value"],
        ),
        (
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
                "spec": {"rules": [{"host": "*.*.example.com", "http": {"paths": [
                    {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80, "name": "http"}}}}]}}]}}),
            vec![
                r#"spec.rules[0].host: Invalid value: "*.*.example.com": a wildcard DNS-1123 subdomain must start with '*.'"#,
                r#"spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path"#,
                r#"spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number"#,
            ],
        ),
        (
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
                "spec": {"podSelector": {}, "policyTypes": ["Sideways"],
                    "ingress": [{"ports": [{"protocol": "ICMP"}], "from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}}]}]}}),
            vec![
                r#"spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP""#,
                r#"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`"#,
                r#"spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress""#,
            ],
        ),
        (
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
                "spec": {"minAvailable": "150%", "selector": {"matchLabels": {"app": "a"}}}}),
            vec!["spec.minAvailable: Invalid value: 150%: must not be greater than 100%"],
        ),
        (
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 7, "maxReplicas": 5}}),
            vec!["spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"],
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                "spec": {"backoffLimit": -1, "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
            vec![
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
                r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
            ],
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
                "spec": {"schedule": "61 * * * *", "concurrencyPolicy": "Sometimes", "timeZone": "Mars/Olympus",
                    "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
            vec![
                r#"spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61"#,
                r#"spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus"#,
                r#"spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#,
            ],
        ),
        (
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
                "spec": {"resources": {"requests": {}}}}),
            vec![
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value",
            ],
        ),
        (
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Keep"}}),
            vec![
                r#"spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain""#,
                "spec: Required value: must specify a volume type",
            ],
        ),
        (
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "sc"},
                "provisioner": "example.com/disk", "reclaimPolicy": "Recycle", "volumeBindingMode": "Later"}),
            vec![
                r#"reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain""#,
                r#"volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer""#,
            ],
        ),
        (
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "huge"}, "value": 2000000000}),
            vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"],
        ),
        (
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}}),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
        ),
        (
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"}, "addressType": "IPv4",
                "endpoints": [{"addresses": ["fd00::1"]}], "ports": [{"name": "http", "protocol": "ICMP", "port": 80}]}),
            vec![
                r#"endpoints[0].addresses[0]: Invalid value: "fd00::1": must be an IPv4 address"#,
                r#"ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#,
            ],
        ),
        (
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                "spec": {"podCIDR": "10.0.0.0", "taints": [{"key": "k", "effect": "Sometimes"}]}}),
            vec![
                r#"spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#,
                r#"spec.podCIDRs[0]: Invalid value: "10.0.0.0": must be a valid CIDR value"#,
            ],
        ),
        (
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {}}),
            vec!["data[tls.crt]: Required value", "data[tls.key]: Required value"],
        ),
        (
            json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}),
            vec!["spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1"],
        ),
    ];
    for (obj, wants) in &cases {
        let err = create_fails(&server, obj);
        for want in wants {
            assert!(err.contains(want), "want {want:?} in {err}");
        }
        let kind = obj["kind"].as_str().unwrap_or_default();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        server.kubectl(&["get", kind, name]).fails();
    }

    // A ConfigMap over 1 MiB is refused as a whole (the field path is empty upstream).
    let big = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
        "data": {"a": "x".repeat(1024 * 1024 + 1)}});
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .json(&big)
        .send();
    let status = resp.assert_status(422, "Invalid");
    assert_eq!(
        status["message"],
        // Upstream's empty path prints as an empty field before the colon.
        r#"ConfigMap "big" is invalid: : Too long: may not be more than 1048576 bytes"#
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueTooLong"
    );
}

#[test]
fn objects_made_by_kubectl_generators_are_valid() {
    let server = Server::start();
    for args in [
        &[
            "create",
            "role",
            "reader",
            "--verb=get,list",
            "--resource=pods",
        ][..],
        &[
            "create",
            "clusterrole",
            "urls",
            "--verb=get",
            "--non-resource-url=/healthz",
        ],
        &[
            "create",
            "rolebinding",
            "rb",
            "--role=reader",
            "--user=jane",
            "--serviceaccount=default:default",
        ],
        &[
            "create",
            "clusterrolebinding",
            "crb",
            "--clusterrole=view",
            "--group=devs",
        ],
        &[
            "create",
            "ingress",
            "web",
            "--rule=example.com/api*=web:80",
            "--class=nginx",
        ],
        &[
            "create",
            "pdb",
            "p",
            "--selector=app=a",
            "--min-available=50%",
        ],
        &[
            "create",
            "priorityclass",
            "high",
            "--value=1000",
            "--preemption-policy=Never",
        ],
        &["create", "quota", "q", "--hard=pods=10,cpu=2"],
        &[
            "create",
            "cronjob",
            "hello",
            "--image=busybox",
            "--schedule=*/5 * * * *",
        ],
        &["create", "job", "once", "--image=busybox"],
        &["create", "secret", "generic", "plain", "--from-literal=a=b"],
        &[
            "create",
            "secret",
            "docker-registry",
            "reg",
            "--docker-server=r.io",
            "--docker-username=u",
            "--docker-password=p",
        ],
        &["create", "deployment", "web", "--image=nginx"],
        &[
            "autoscale",
            "deployment",
            "web",
            "--min=2",
            "--max=5",
            "--cpu-percent=80",
        ],
    ] {
        server.kubectl(args).ok();
    }
}

#[test]
fn immutable_fields_stay_immutable() {
    let server = Server::start();

    // An immutable ConfigMap keeps its data, and stays immutable.
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"},
                "immutable": true, "data": {"a": "1"}})
            .to_string(),
        )
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "configmap",
            "frozen",
            "-p",
            r#"{"data":{"a":"2"}}"#,
        ])
        .fails();
    assert!(
        err.contains(r#"The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set"#),
        "{err}"
    );
    let err = server
        .kubectl(&[
            "patch",
            "configmap",
            "frozen",
            "-p",
            r#"{"immutable":false}"#,
        ])
        .fails();
    assert!(
        err.contains("immutable: Forbidden: field is immutable when `immutable` is set"),
        "{err}"
    );
    // Metadata still changes.
    server
        .kubectl(&["label", "configmap", "frozen", "tier=x"])
        .ok();

    // A Secret's type is fixed.
    server
        .kubectl(&["create", "secret", "generic", "s", "--from-literal=a=b"])
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "secret",
            "s",
            "-p",
            r#"{"type":"example.com/custom"}"#,
        ])
        .fails();
    assert!(
        err.contains(r#"type: Invalid value: "example.com/custom": field is immutable"#),
        "{err}"
    );

    // A binding's roleRef is fixed; its subjects are not.
    server
        .kubectl(&[
            "create",
            "rolebinding",
            "rb",
            "--clusterrole=view",
            "--user=jane",
        ])
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "rolebinding",
            "rb",
            "-p",
            r#"{"roleRef":{"name":"edit"}}"#,
        ])
        .fails();
    assert!(
        err.contains(r#"roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef"#),
        "{err}"
    );
    server
        .kubectl(&["patch", "rolebinding", "rb", "--type=json", "-p",
            r#"[{"op":"add","path":"/subjects/-","value":{"kind":"User","name":"joe","apiGroup":"rbac.authorization.k8s.io"}}]"#])
        .ok();

    // A Job's template is fixed (while it runs); its parallelism is not.
    server
        .kubectl(&["create", "job", "pi", "--image=busybox"])
        .ok();
    let err = server
        .kubectl(&["set", "image", "job/pi", "pi=nginx"])
        .fails();
    assert!(err.contains("spec.template: Invalid value: "), "{err}");
    assert!(err.contains("field is immutable"), "{err}");
    server
        .kubectl(&["patch", "job", "pi", "-p", r#"{"spec":{"parallelism":2}}"#])
        .ok();

    // A StorageClass's provisioner and a PriorityClass's value are fixed.
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
                "provisioner": "example.com/disk"})
            .to_string(),
        )
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "storageclass",
            "fast",
            "-p",
            r#"{"provisioner":"example.com/other"}"#,
        ])
        .fails();
    assert!(
        err.contains("provisioner: Forbidden: updates to provisioner are forbidden."),
        "{err}"
    );
    server
        .kubectl(&["create", "priorityclass", "p", "--value=10"])
        .ok();
    let err = server
        .kubectl(&["patch", "priorityclass", "p", "-p", r#"{"value":11}"#])
        .fails();
    assert!(
        err.contains("value: Forbidden: may not be changed in an update."),
        "{err}"
    );

    // A claim's spec is fixed once created (unbound claims may not grow either).
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
            .to_string(),
        )
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "pvc",
            "data",
            "-p",
            r#"{"spec":{"accessModes":["ReadWriteMany"]}}"#,
        ])
        .fails();
    assert!(
        err.contains("spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"),
        "{err}"
    );

    // A Service keeps its cluster IP.
    server
        .kubectl(&["create", "service", "clusterip", "web", "--tcp=80:80"])
        .ok();
    let ip = server.kubectl_json(&["get", "svc", "web"])["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let other = if ip == "10.96.0.200" {
        "10.96.0.201"
    } else {
        "10.96.0.200"
    };
    let err = server
        .kubectl(&[
            "patch",
            "svc",
            "web",
            "-p",
            &json!({"spec": {"clusterIP": other, "clusterIPs": [other]}}).to_string(),
        ])
        .fails();
    assert!(err.contains("may not change once set"), "{err}");
}

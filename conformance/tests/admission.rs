//! The mutating admission plugins on create: ServiceAccount, Priority,
//! DefaultTolerationSeconds and DefaultStorageClass, with upstream's 403s.

use k8rs_conformance::Server;
use serde_json::json;

fn pod(name: &str, spec_extra: serde_json::Value) -> String {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    });
    if let Some(extra) = spec_extra.as_object() {
        for (k, v) in extra {
            pod["spec"][k] = v.clone();
        }
    }
    pod.to_string()
}

#[test]
fn pods_run_as_an_existing_service_account() {
    let server = Server::start();
    server.wait_for_default_service_account("default");
    let err = server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &pod("ghost", json!({"serviceAccountName": "ghost"})),
        )
        .fails();
    assert!(
        err.contains(r#"pods "ghost" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found"#),
        "{err}"
    );

    // Opting out of the token: no volume, no mounts.
    let created = server
        .kubectl_stdin(
            &["create", "-f", "-", "-o", "json"],
            &pod("quiet", json!({"automountServiceAccountToken": false})),
        )
        .json();
    assert!(created["spec"]["volumes"].is_null(), "{created}");
    assert_eq!(created["spec"]["serviceAccountName"], "default");

    // The account's imagePullSecrets are the pod's when it names none.
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "puller"},
                "imagePullSecrets": [{"name": "regcred"}], "automountServiceAccountToken": false}"#,
        )
        .ok();
    let created = server
        .kubectl_stdin(
            &["create", "-f", "-", "-o", "json"],
            &pod("pulls", json!({"serviceAccountName": "puller"})),
        )
        .json();
    assert_eq!(
        created["spec"]["imagePullSecrets"],
        json!([{"name": "regcred"}])
    );
    assert!(created["spec"]["volumes"].is_null(), "{created}");
}

#[test]
fn priority_comes_from_the_priority_class() {
    let server = Server::start();
    let created = server
        .kubectl_stdin(
            &["create", "-f", "-", "-o", "json"],
            &pod(
                "critical",
                json!({"priorityClassName": "system-node-critical"}),
            ),
        )
        .json();
    assert_eq!(created["spec"]["priority"], 2000001000);
    assert_eq!(created["spec"]["preemptionPolicy"], "PreemptLowerPriority");

    let err = server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &pod("nope", json!({"priorityClassName": "nope"})),
        )
        .fails();
    assert!(
        err.contains(r#"pods "nope" is forbidden: no PriorityClass with name nope was found"#),
        "{err}"
    );
    let err = server
        .kubectl_stdin(&["create", "-f", "-"], &pod("self", json!({"priority": 7})))
        .fails();
    assert!(err.contains("the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"), "{err}");

    // A global default class applies to pods that name none.
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": "normal"}, "value": 1000, "globalDefault": true,
                "preemptionPolicy": "Never"}"#,
        )
        .ok();
    let created = server
        .kubectl_stdin(
            &["create", "-f", "-", "-o", "json"],
            &pod("plain", json!({})),
        )
        .json();
    assert_eq!(created["spec"]["priorityClassName"], "normal");
    assert_eq!(created["spec"]["priority"], 1000);
    assert_eq!(created["spec"]["preemptionPolicy"], "Never");
}

#[test]
fn tolerations_and_storage_class_defaults() {
    let server = Server::start();
    let own = json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                      "effect": "NoExecute", "tolerationSeconds": 10}]);
    let created = server
        .kubectl_stdin(
            &["create", "-f", "-", "-o", "json"],
            &pod("patient", json!({"tolerations": own})),
        )
        .json();
    let t = &created["spec"]["tolerations"];
    assert_eq!(t.as_array().map(Vec::len), Some(2), "{t}");
    assert_eq!(t[0]["tolerationSeconds"], 10);
    assert_eq!(t[1]["key"], "node.kubernetes.io/not-ready");

    let claim = |name: &str, class: Option<&str>| {
        let mut c = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        if let Some(class) = class {
            c["spec"]["storageClassName"] = json!(class);
        }
        c.to_string()
    };
    // No default class yet: the claim stays classless.
    let c = server
        .kubectl_stdin(&["create", "-f", "-", "-o", "json"], &claim("before", None))
        .json();
    assert!(c["spec"]["storageClassName"].is_null(), "{c}");
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": "local", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "k8rs.io/local"}"#,
        )
        .ok();
    let c = server
        .kubectl_stdin(&["create", "-f", "-", "-o", "json"], &claim("after", None))
        .json();
    assert_eq!(c["spec"]["storageClassName"], "local");
    // "" means "no class" and is kept.
    let c = server
        .kubectl_stdin(
            &["create", "-f", "-", "-o", "json"],
            &claim("none", Some("")),
        )
        .json();
    assert_eq!(c["spec"]["storageClassName"], "");
}

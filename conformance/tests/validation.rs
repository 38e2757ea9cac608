//! Per-type validation end to end: stock kubectl gets upstream's 422 with every field
//! cause, for pods, pod templates and services.

use k8rs_conformance::Server;
use serde_json::json;

#[test]
fn invalid_pods_templates_and_services_are_422_with_field_causes() {
    let server = Server::start();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
        "spec": {"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "busybox",
            "ports": [{"containerPort": 70000}],
            "volumeMounts": [{"name": "missing", "mountPath": "/m"}]}]}});
    let err = server
        .kubectl_stdin(&["create", "-f", "-"], &pod.to_string())
        .fails();
    for want in [
        r#"The Pod "bad" is invalid"#,
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        r#"spec.containers[0].volumeMounts[0].name: Not found: "missing""#,
        r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
    ] {
        assert!(err.contains(want), "want {want:?} in {err}");
    }

    // The same rules hold inside a Deployment's template, under its path.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]}}}});
    let resp = server
        .http("POST", "/apis/apps/v1/namespaces/default/deployments")
        .json(&deploy)
        .send();
    let status = resp.assert_status(422, "Invalid");
    assert_eq!(
        status["details"]["causes"][0],
        json!({"reason": "FieldValueInvalid",
               "message": "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
               "field": "spec.template.spec.containers[0].resources.requests"})
    );

    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "nodePort": 30001}], "sessionAffinity": "Sticky"}});
    let err = server
        .kubectl_stdin(&["create", "-f", "-"], &svc.to_string())
        .fails();
    for want in [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        r#"spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None""#,
    ] {
        assert!(err.contains(want), "want {want:?} in {err}");
    }
    server.kubectl(&["get", "svc", "s"]).fails();
}

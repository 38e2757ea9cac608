//! Subresources beyond status and scale: `pods/binding` and
//! `certificatesigningrequests/approval`.

use k8rs_conformance::Server;
use serde_json::json;

#[test]
fn pod_binding_assigns_a_node_once() {
    let server = Server::start();
    server.kubectl(&["run", "p1", "--image=busybox"]).ok();
    let bind = |node: &str| {
        server
            .http("POST", "/api/v1/namespaces/default/pods/p1/binding")
            .json(&json!({"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": "p1"}, "target": {"kind": "Node", "name": node}}))
            .send()
    };
    let resp = bind("node-a");
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["status"], "Success");
    let pod = server.kubectl_json(&["get", "pod", "p1"]);
    assert_eq!(pod["spec"]["nodeName"], "node-a");
    let scheduled = pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled").cloned())
        .unwrap_or_default();
    assert_eq!(scheduled["status"], "True", "{pod}");

    // A bound pod stays where it is.
    let st = bind("node-b").assert_status(409, "Conflict");
    assert_eq!(
        st["message"],
        r#"Operation cannot be fulfilled on pods/binding "p1": pod p1 is already assigned to node "node-a""#
    );
    assert_eq!(
        server.kubectl_json(&["get", "pod", "p1"])["spec"]["nodeName"],
        "node-a"
    );

    // A binding must name a node.
    server.kubectl(&["run", "p2", "--image=busybox"]).ok();
    server
        .http("POST", "/api/v1/namespaces/default/pods/p2/binding")
        .json(&json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p2"}, "target": {"kind": "Node"}}))
        .send()
        .assert_status(422, "Invalid");
}

#[test]
fn kubectl_certificate_approve_uses_the_approval_subresource() {
    let server = Server::start();
    let csr = r#"{"apiVersion":"certificates.k8s.io/v1","kind":"CertificateSigningRequest",
        "metadata":{"name":"c1"},
        "spec":{"request":"dGVzdA==","signerName":"example.com/signer","usages":["client auth"],
                "username":"someone-else","groups":["forged"]}}"#;
    server.kubectl_stdin(&["create", "-f", "-"], csr).ok();
    server.kubectl(&["certificate", "approve", "c1"]).ok();
    let c = server.kubectl_json(&["get", "csr", "c1"]);
    assert_eq!(c["status"]["conditions"][0]["type"], "Approved", "{c}");
    assert_eq!(
        c["status"]["conditions"][0]["reason"], "KubectlApprove",
        "{c}"
    );
    // The requester is whoever created it, not what the body claimed.
    assert_eq!(c["spec"]["username"], "admin", "{c}");
    assert_eq!(
        c["spec"]["groups"],
        json!(["system:masters", "system:authenticated"]),
        "{c}"
    );
    // A main-resource update cannot approve (status is the subresource's).
    let mut forged = c.clone();
    forged["status"]["conditions"][0]["type"] = json!("Denied");
    server
        .http(
            "PUT",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/c1",
        )
        .json(&forged)
        .send();
    assert_eq!(
        server.kubectl_json(&["get", "csr", "c1"])["status"]["conditions"][0]["type"],
        "Approved"
    );
}

/// `pods/ephemeralcontainers`: `kubectl debug` adds a container to a running pod; existing
/// ones cannot change, and the rest of a pod's spec is fixed after creation.
#[test]
fn ephemeral_containers_and_pod_spec_updates() {
    let server = Server::start();
    server.wait_for_default_service_account("default");
    server
        .kubectl(&["run", "app", "--image=busybox", "--restart=Never"])
        .ok();
    server
        .kubectl(&[
            "debug",
            "app",
            "--image=busybox",
            "-c",
            "dbg",
            "--attach=false",
        ])
        .ok();
    let pod = server.kubectl_json(&["get", "pod", "app"]);
    let ec = &pod["spec"]["ephemeralContainers"][0];
    assert_eq!(ec["name"], "dbg", "{pod}");
    // Defaults apply to ephemeral containers as to the others.
    assert_eq!(ec["terminationMessagePolicy"], "File", "{ec}");
    // The generic subresource GET answers with the pod.
    let got = server.get("/api/v1/namespaces/default/pods/app/ephemeralcontainers");
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["kind"], "Pod");

    // Changing an existing ephemeral container is refused with its field named.
    let resp = server
        .http(
            "PATCH",
            "/api/v1/namespaces/default/pods/app/ephemeralcontainers",
        )
        .body(
            r#"{"spec": {"ephemeralContainers": [{"name": "dbg", "image": "other"}]}}"#,
            "application/strategic-merge-patch+json",
        )
        .send();
    let status = resp.assert_status(422, "Invalid");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.ephemeralContainers"
    );
    assert!(status["message"]
        .as_str()
        .unwrap_or_default()
        .contains(r#"existing ephemeral containers "dbg" may not be changed"#));

    // The main resource may change images, not the rest of the spec.
    server
        .kubectl(&["set", "image", "pod/app", "app=busybox:1.36"])
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "pod",
            "app",
            "-p",
            r#"{"spec": {"restartPolicy": "Always"}}"#,
        ])
        .fails();
    assert!(
        err.contains("pod updates may not change fields other than `spec.containers[*].image`"),
        "{err}"
    );
}

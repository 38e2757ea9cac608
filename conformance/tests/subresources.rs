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

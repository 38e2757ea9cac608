//! Deletion semantics: graceful pod deletion (a scheduled pod stays until its node
//! confirms, or `--grace-period=0 --force`), propagation policies and DeleteOptions
//! validation, and deletecollection with a label selector.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::{json, Value};

fn pod(server: &Server, name: &str, node: Option<&str>) {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    server
        .kubectl_stdin(&["create", "-f", "-"], &p.to_string())
        .ok();
}

fn not_found(server: &Server, args: &[&str]) -> bool {
    let out = server.kubectl(args);
    !out.success() && out.stderr.contains("NotFound")
}

#[test]
fn a_scheduled_pod_is_deleted_gracefully_until_forced() {
    let server = Server::start();
    pod(&server, "bound", Some("node-that-never-confirms"));
    server
        .kubectl(&["delete", "pod", "bound", "--wait=false"])
        .ok();
    let p = server.kubectl_json(&["get", "pod", "bound"]);
    assert!(!p["metadata"]["deletionTimestamp"].is_null(), "{p}");
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);

    // A longer grace period does not extend it; a shorter one shortens it.
    server
        .kubectl(&[
            "delete",
            "pod",
            "bound",
            "--wait=false",
            "--grace-period=60",
        ])
        .ok();
    let p = server.kubectl_json(&["get", "pod", "bound"]);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
    server
        .kubectl(&["delete", "pod", "bound", "--wait=false", "--grace-period=5"])
        .ok();
    let p = server.kubectl_json(&["get", "pod", "bound"]);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 5);

    // Status updates (what a node sends while the pod stops) do not delete it.
    server
        .patch_status(&["pod", "bound"], r#"{"status":{"phase":"Running"}}"#)
        .ok();
    assert!(server.kubectl(&["get", "pod", "bound"]).success());

    server
        .kubectl(&["delete", "pod", "bound", "--grace-period=0", "--force"])
        .ok();
    assert!(not_found(&server, &["get", "pod", "bound"]));
}

#[test]
fn an_unscheduled_pod_goes_at_once() {
    let server = Server::start();
    pod(&server, "pending", None);
    server
        .kubectl(&["delete", "pod", "pending", "--wait=false"])
        .ok();
    assert!(not_found(&server, &["get", "pod", "pending"]));
}

#[test]
fn propagation_policy_from_the_query_marks_with_the_orphan_finalizer() {
    let server = Server::start();
    server.kubectl(&["create", "cm", "held"]).ok();
    // A finalizer of our own keeps it observable after the GC drops `orphan`.
    server
        .kubectl(&[
            "patch",
            "cm",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ])
        .ok();
    let resp = server
        .http(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/held?propagationPolicy=Orphan",
        )
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["kind"], "ConfigMap");
    assert!(!v["metadata"]["deletionTimestamp"].is_null());
    assert_eq!(
        v["metadata"]["finalizers"],
        json!(["example.com/hold", "orphan"])
    );
    // The garbage collector orphans (no dependents) and removes its finalizer.
    poll_until(WAIT_TIMEOUT, "orphan finalizer removed", || {
        let cm = server.kubectl_json(&["get", "cm", "held"]);
        (cm["metadata"]["finalizers"] == json!(["example.com/hold"])).then_some(())
    });
    server
        .kubectl(&[
            "patch",
            "cm",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .ok();
    assert!(not_found(&server, &["get", "cm", "held"]));
}

#[test]
fn invalid_delete_options_are_rejected_as_upstream() {
    let server = Server::start();
    server.kubectl(&["create", "cm", "c"]).ok();
    let path = "/api/v1/namespaces/default/configmaps/c";
    let v = server
        .http("DELETE", path)
        .json(&json!({"orphanDependents": true, "propagationPolicy": "Orphan"}))
        .send()
        .assert_status(422, "Invalid");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("orphanDependents and deletionPropagation cannot be both set"),
        "{v}"
    );
    server
        .http("DELETE", &format!("{path}?propagationPolicy=Sideways"))
        .send()
        .assert_status(422, "Invalid");
    server
        .http("DELETE", &format!("{path}?gracePeriodSeconds=soon"))
        .send()
        .assert_status(400, "BadRequest");
    server
        .http("DELETE", path)
        .json(&json!({"preconditions": {"uid": "not-the-uid"}}))
        .send()
        .assert_status(409, "Conflict");
    // Nothing above deleted it.
    assert!(server.kubectl(&["get", "cm", "c"]).success());

    // The legacy orphanDependents=false on an object that stays (a finalizer holds it)
    // is answered 202 Accepted, as upstream.
    server
        .kubectl(&[
            "patch",
            "cm",
            "c",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ])
        .ok();
    let resp = server
        .http("DELETE", path)
        .json(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "orphanDependents": false}))
        .send();
    assert_eq!(resp.status, 202, "{}", resp.text());
    assert!(!resp.json()["metadata"]["deletionTimestamp"].is_null());
}

#[test]
fn deletecollection_honours_the_label_selector() {
    let server = Server::start();
    for (name, tier) in [("a", "web"), ("b", "web"), ("c", "db")] {
        server.kubectl(&["create", "cm", name]).ok();
        server
            .kubectl(&["label", "cm", name, &format!("tier={tier}")])
            .ok();
    }
    let resp = server
        .http(
            "DELETE",
            "/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dweb",
        )
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let left: Vec<Value> = server.kubectl_json(&["get", "cm", "-l", "tier"])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = left
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, vec!["c"]);
}

//! The ReplicationController controller: the ReplicaSet logic on the legacy kind, with
//! its own owner references and status.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::Value;

const RC: &str = r#"{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"legacy"},
  "spec":{"replicas":2,"selector":{"app":"legacy"},
    "template":{"metadata":{"labels":{"app":"legacy"}},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"#;

fn pods(server: &Server) -> Vec<Value> {
    let list = server.kubectl_json(&["get", "pods", "-l", "app=legacy"]);
    list["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn replicationcontroller_keeps_its_pods() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], RC).ok();
    let rc = server.kubectl_json(&["get", "rc", "legacy"]);
    let created = poll_until(WAIT_TIMEOUT, "two pods", || {
        let p = pods(&server);
        (p.len() == 2).then_some(p)
    });
    for p in &created {
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["apiVersion"], "v1", "{p}");
        assert_eq!(owner["kind"], "ReplicationController", "{p}");
        assert_eq!(owner["uid"], rc["metadata"]["uid"], "{p}");
    }
    poll_until(WAIT_TIMEOUT, "status.replicas = 2", || {
        let rc = server.kubectl_json(&["get", "rc", "legacy"]);
        (rc["status"]["replicas"] == 2).then_some(())
    });
    server
        .kubectl(&["scale", "rc", "legacy", "--replicas=1"])
        .ok();
    poll_until(WAIT_TIMEOUT, "one pod", || {
        let live = pods(&server)
            .into_iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .count();
        (live == 1).then_some(())
    });
    let events = server.kubectl_json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=ReplicationController",
    ]);
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"SuccessfulCreate"), "{events}");
}

//! The Deployment controller through stock kubectl: create, scale, set image (a second
//! ReplicaSet), rollout history and undo. No kubelet runs, so pods never become available:
//! rollouts stop at maxSurge, as they do upstream with pods that never get ready.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::Value;

fn replica_sets(server: &Server) -> Vec<Value> {
    let list = server.kubectl_json(&["get", "rs", "-l", "app=web"]);
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(revision);
    items
}

fn revision(rs: &Value) -> u64 {
    rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn wait_until(server: &Server, what: &str, f: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    poll_until(WAIT_TIMEOUT, what, || {
        let sets = replica_sets(server);
        f(&sets).then_some(sets)
    })
}

#[test]
fn deployment_rollout_scale_history_and_undo() {
    let server = Server::start();
    server
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=busybox",
            "--replicas=3",
        ])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    let sets = wait_until(&server, "one ReplicaSet with 3 pods", |s| {
        s.len() == 1 && s[0]["status"]["replicas"] == 3
    });
    let rs = &sets[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["metadata"]["ownerReferences"][0]["uid"],
        d["metadata"]["uid"]
    );
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash.as_str()
    );
    let pods = server.kubectl_json(&["get", "pods", "-l", &format!("pod-template-hash={hash}")]);
    assert_eq!(pods["items"].as_array().map(Vec::len), Some(3), "{pods}");
    poll_until(WAIT_TIMEOUT, "deployment status and revision", || {
        let d = server.kubectl_json(&["get", "deploy", "web"]);
        (d["status"]["replicas"] == 3
            && d["status"]["updatedReplicas"] == 3
            && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1")
            .then_some(())
    });

    server
        .kubectl(&["scale", "deploy", "web", "--replicas=5"])
        .ok();
    wait_until(&server, "scaled to 5", |s| {
        s.len() == 1 && s[0]["spec"]["replicas"] == 5
    });
    server
        .kubectl(&["scale", "deploy", "web", "--replicas=2"])
        .ok();
    wait_until(&server, "scaled to 2", |s| {
        s.len() == 1 && s[0]["spec"]["replicas"] == 2
    });

    // A new template starts a rollout: a second ReplicaSet at revision 2, grown by maxSurge
    // (25% of 2, rounded up: 1) while the old pods stay (none is available to replace).
    server
        .kubectl(&[
            "annotate",
            "deploy",
            "web",
            "kubernetes.io/change-cause=to 1.36",
        ])
        .ok();
    server
        .kubectl(&["set", "image", "deploy/web", "busybox=busybox:1.36"])
        .ok();
    let sets = wait_until(&server, "a second ReplicaSet", |s| {
        s.len() == 2 && s[1]["spec"]["replicas"] == 1 && s[0]["spec"]["replicas"] == 2
    });
    assert_eq!(revision(&sets[1]), 2);
    assert_eq!(
        sets[1]["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1.36"
    );
    let history = server.kubectl(&["rollout", "history", "deploy/web"]).ok();
    assert!(
        history.contains("1         <none>") && history.contains("2         to 1.36"),
        "{history}"
    );

    // Undo brings the first template back as revision 3.
    server.kubectl(&["rollout", "undo", "deploy/web"]).ok();
    let sets = wait_until(&server, "the first ReplicaSet at revision 3", |s| {
        s.iter()
            .any(|rs| rs["metadata"]["name"] == format!("web-{hash}") && revision(rs) == 3)
    });
    assert_eq!(sets.len(), 2);
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );

    // kubectl describe shows the controller's events.
    let events = server.kubectl_json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web",
    ]);
    let messages: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == "ScalingReplicaSet")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages.contains(&format!("Scaled up replica set web-{hash} from 0 to 3").as_str()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&format!("Scaled up replica set web-{hash} from 3 to 5").as_str()),
        "{messages:?}"
    );
}

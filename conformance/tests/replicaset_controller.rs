//! The ReplicaSet controller: pods from the template with a controller reference, scaling
//! both ways, adoption of matching orphans, status and events.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::Value;

const RS: &str = r#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web"},
  "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
    "template":{"metadata":{"labels":{"app":"web"}},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"#;

fn pods(server: &Server) -> Vec<Value> {
    let list = server.kubectl_json(&["get", "pods", "-l", "app=web"]);
    list["items"].as_array().cloned().unwrap_or_default()
}

fn wait_for_pods(server: &Server, n: usize) -> Vec<Value> {
    poll_until(WAIT_TIMEOUT, &format!("{n} pods"), || {
        let p = pods(server);
        (p.len() == n).then_some(p)
    })
}

#[test]
fn replicaset_keeps_its_pods() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], RS).ok();
    let rs = server.kubectl_json(&["get", "rs", "web"]);
    let created = wait_for_pods(&server, 3);
    for p in &created {
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "ReplicaSet", "{p}");
        assert_eq!(owner["uid"], rs["metadata"]["uid"], "{p}");
        assert_eq!(owner["controller"], true, "{p}");
        assert_eq!(owner["blockOwnerDeletion"], true, "{p}");
        assert!(
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("web-"),
            "{p}"
        );
        assert_eq!(p["spec"]["containers"][0]["image"], "busybox");
    }
    poll_until(WAIT_TIMEOUT, "status.replicas = 3", || {
        let rs = server.kubectl_json(&["get", "rs", "web"]);
        (rs["status"]["replicas"] == 3
            && rs["status"]["observedGeneration"] == rs["metadata"]["generation"])
            .then_some(())
    });

    // A deleted pod is replaced.
    let victim = created[0]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    server.kubectl(&["delete", "pod", &victim]).ok();
    poll_until(WAIT_TIMEOUT, "a replacement pod", || {
        let p = pods(&server);
        (p.len() == 3 && p.iter().all(|p| p["metadata"]["name"] != victim.as_str())).then_some(())
    });

    // Scaling down deletes, scaling up creates.
    server.kubectl(&["scale", "rs", "web", "--replicas=1"]).ok();
    wait_for_pods(&server, 1);
    server.kubectl(&["scale", "rs", "web", "--replicas=2"]).ok();
    wait_for_pods(&server, 2);

    // Events tell what happened, as `kubectl describe` shows them.
    let events = server.kubectl_json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web",
    ]);
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"SuccessfulCreate"), "{events}");
    assert!(reasons.contains(&"SuccessfulDelete"), "{events}");
}

#[test]
fn replicaset_adopts_matching_orphans() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &RS.replace(r#""replicas":3"#, r#""replicas":2"#),
        )
        .ok();
    wait_for_pods(&server, 2);
    server.kubectl(&["scale", "rs", "web", "--replicas=3"]).ok();
    // Racing the controller is fine either way: the orphan is adopted or a third pod is
    // made; what matters is that every matching pod ends up owned and there are three.
    server
        .kubectl(&["run", "orphan", "--image=busybox", "--labels=app=web"])
        .ok();
    poll_until(WAIT_TIMEOUT, "three owned pods", || {
        let p = pods(&server);
        let owned = p
            .iter()
            .all(|p| p["metadata"]["ownerReferences"][0]["name"] == "web");
        (p.len() == 3 && owned).then_some(())
    });
}

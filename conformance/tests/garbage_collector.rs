//! The garbage collector through stock kubectl: cascading deletion of a Deployment in the
//! background, foreground and orphan modes, and ownerReferences between arbitrary objects
//! (dependents of a gone owner are collected; a live owner keeps its dependent).

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::{json, Value};

fn items(server: &Server, args: &[&str]) -> Vec<Value> {
    server.kubectl_json(args)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A deployment `web` with two pods through its ReplicaSet; returns the ReplicaSet.
fn deployment_with_pods(server: &Server) -> Value {
    server
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=busybox",
            "--replicas=2",
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "two pods of web", || {
        (items(server, &["get", "pods", "-l", "app=web"]).len() == 2).then_some(())
    });
    items(server, &["get", "rs", "-l", "app=web"])
        .into_iter()
        .next()
        .expect("a ReplicaSet")
}

fn is_gone(server: &Server, args: &[&str]) -> bool {
    let out = server.kubectl(args);
    !out.success() && out.stderr.contains("NotFound")
}

#[test]
fn background_deletion_removes_replicasets_and_pods() {
    let server = Server::start();
    deployment_with_pods(&server);
    server.kubectl(&["delete", "deployment", "web"]).ok();
    poll_until(WAIT_TIMEOUT, "ReplicaSets and pods collected", || {
        (items(&server, &["get", "rs,pods", "-l", "app=web"]).is_empty()).then_some(())
    });
}

#[test]
fn orphan_deletion_leaves_dependents_without_owner() {
    let server = Server::start();
    let rs = deployment_with_pods(&server);
    let rs_name = rs["metadata"]["name"].as_str().unwrap().to_string();
    server
        .kubectl(&["delete", "deployment", "web", "--cascade=orphan"])
        .ok();
    poll_until(WAIT_TIMEOUT, "deployment gone", || {
        is_gone(&server, &["get", "deployment", "web"]).then_some(())
    });
    let rs = server.kubectl_json(&["get", "rs", &rs_name]);
    assert!(
        rs["metadata"]["ownerReferences"].is_null(),
        "orphaned ReplicaSet keeps no ownerReferences: {rs}"
    );
    assert!(rs["metadata"]["deletionTimestamp"].is_null());
    // Only the direct dependents are orphaned: the pods stay, owned by their ReplicaSet.
    let pods = items(&server, &["get", "pods", "-l", "app=web"]);
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["name"],
            rs_name.as_str()
        );
    }
}

#[test]
fn foreground_deletion_keeps_the_owner_until_dependents_are_gone() {
    let server = Server::start();
    deployment_with_pods(&server);
    // A pod held by a finalizer keeps its ReplicaSet, and so the Deployment, around.
    let pod = items(&server, &["get", "pods", "-l", "app=web"])[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .kubectl(&[
            "patch",
            "pod",
            &pod,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ])
        .ok();
    server
        .kubectl(&[
            "delete",
            "deployment",
            "web",
            "--cascade=foreground",
            "--wait=false",
        ])
        .ok();
    let d = server.kubectl_json(&["get", "deployment", "web"]);
    assert!(!d["metadata"]["deletionTimestamp"].is_null(), "{d}");
    assert_eq!(d["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    // The held pod is being deleted; the other one is gone; the owners wait.
    poll_until(WAIT_TIMEOUT, "held pod marked, other pod gone", || {
        let pods = items(&server, &["get", "pods", "-l", "app=web"]);
        (pods.len() == 1 && !pods[0]["metadata"]["deletionTimestamp"].is_null()).then_some(())
    });
    let rs = items(&server, &["get", "rs", "-l", "app=web"]);
    assert_eq!(rs.len(), 1);
    assert_eq!(
        rs[0]["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(
        !server.kubectl_json(&["get", "deployment", "web"])["metadata"]["deletionTimestamp"]
            .is_null()
    );

    server
        .kubectl(&[
            "patch",
            "pod",
            &pod,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "deployment gone after its dependents", || {
        is_gone(&server, &["get", "deployment", "web"]).then_some(())
    });
    assert!(items(&server, &["get", "rs,pods", "-l", "app=web"]).is_empty());
}

fn configmap(server: &Server, name: &str, owners: &[&Value]) -> Value {
    let refs: Vec<Value> = owners
        .iter()
        .map(|o| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]})
        })
        .collect();
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    if !refs.is_empty() {
        cm["metadata"]["ownerReferences"] = json!(refs);
    }
    server
        .kubectl_stdin(&["create", "-f", "-", "-o", "json"], &cm.to_string())
        .json()
}

#[test]
fn dependents_of_a_deleted_owner_are_collected() {
    let server = Server::start();
    let owner = configmap(&server, "owner", &[]);
    configmap(&server, "dependent", &[&owner]);
    server.kubectl(&["delete", "cm", "owner"]).ok();
    poll_until(WAIT_TIMEOUT, "dependent collected", || {
        is_gone(&server, &["get", "cm", "dependent"]).then_some(())
    });
}

#[test]
fn a_dependent_with_a_live_owner_only_loses_the_dangling_reference() {
    let server = Server::start();
    let a = configmap(&server, "a", &[]);
    let b = configmap(&server, "b", &[]);
    configmap(&server, "shared", &[&a, &b]);
    server.kubectl(&["delete", "cm", "a"]).ok();
    let shared = poll_until(WAIT_TIMEOUT, "dangling reference removed", || {
        let cm = server.kubectl_json(&["get", "cm", "shared"]);
        (cm["metadata"]["ownerReferences"].as_array()?.len() == 1).then_some(cm)
    });
    assert_eq!(shared["metadata"]["ownerReferences"][0]["name"], "b");
    assert!(shared["metadata"]["deletionTimestamp"].is_null());
}

#[test]
fn a_dependent_created_after_its_owner_is_gone_is_collected() {
    let server = Server::start();
    let owner = configmap(&server, "ghost", &[]);
    server.kubectl(&["delete", "cm", "ghost"]).ok();
    configmap(&server, "late", &[&owner]);
    poll_until(WAIT_TIMEOUT, "late dependent collected", || {
        is_gone(&server, &["get", "cm", "late"]).then_some(())
    });
}

//! The StatefulSet controller on simulated nodes, driven with stock kubectl: pods
//! `web-0`, `web-1`, `web-2` created in order with their claims, scale-down from the
//! highest ordinal, rolling updates from the top down to the partition, `kubectl rollout
//! status/history/undo`, and what deletion does to pods and claims under each retention
//! policy.

use k8rs_conformance::{poll_until, simulate_nodes, Server, KUBECTL_1_33, WAIT_TIMEOUT};
use serde_json::{json, Value};
use std::time::Duration;

/// Long enough for a few pods to start one after another on simulated nodes.
const ROLLOUT: Duration = Duration::from_secs(90);

/// A storage class whose claims wait for their pod's node, so pods schedule without a
/// volume provisioner (as a local-volume cluster does).
fn create_storage_class(server: &Server) {
    let class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"});
    server
        .kubectl_stdin(&["create", "-f", "-"], &class.to_string())
        .ok();
}

fn stateful_set(name: &str, replicas: i32, extra_spec: Value) -> Value {
    let mut set = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": "nginx",
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1",
                    "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                    "resources": {"requests": {"storage": "1Gi"}}}}]}});
    if let (Some(spec), Some(extra)) = (set["spec"].as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    set
}

/// The set's pods that are not terminating, by name.
fn live_pods(server: &Server, app: &str) -> Vec<Value> {
    let mut pods: Vec<Value> = server.kubectl_json(&["get", "pods", "-l", &format!("app={app}")])
        ["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    pods.sort_by_key(|p| {
        p["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    pods
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn claim_names(server: &Server) -> Vec<String> {
    let list = server.kubectl_json(&["get", "pvc"]);
    let mut n = names(list["items"].as_array().map(Vec::as_slice).unwrap_or(&[]));
    n.sort();
    n
}

/// The notes of the set's events with `reason`, oldest first.
fn event_notes(server: &Server, set: &str, reason: &str) -> Vec<String> {
    let list = server.kubectl_json(&["get", "events.v1.events.k8s.io"]);
    let mut events: Vec<(String, String)> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["regarding"]["kind"] == "StatefulSet" && e["regarding"]["name"] == set)
        .filter(|e| e["reason"] == reason)
        .map(|e| {
            (
                e["eventTime"].as_str().unwrap_or_default().to_string(),
                e["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    events.sort();
    events.into_iter().map(|(_, note)| note).collect()
}

fn images(pods: &[Value]) -> Vec<String> {
    pods.iter()
        .map(|p| {
            p["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn rollout_status(server: &Server, set: &str) -> String {
    server
        .kubectl(&[
            "rollout",
            "status",
            &format!("statefulset/{set}"),
            &format!("--timeout={}s", ROLLOUT.as_secs()),
        ])
        .ok()
}

#[test]
fn ordered_pods_claims_scaling_rolling_updates_and_undo() {
    let server = Server::start();
    let _sim = simulate_nodes(&server, 2, "8");
    create_storage_class(&server);
    server
        .kubectl(&[
            "create",
            "service",
            "clusterip",
            "nginx",
            "--clusterip=None",
        ])
        .ok();
    let watch = server.kubectl_bg(&[
        "get",
        "pods",
        "--watch",
        "--no-headers",
        "-o",
        r#"custom-columns=NAME:.metadata.name,PHASE:.status.phase,READY:.status.conditions[?(@.type=="Ready")].status"#,
    ]);
    let set = stateful_set("web", 3, json!({}));
    server
        .kubectl_stdin(&["create", "-f", "-"], &set.to_string())
        .ok();

    let out = rollout_status(&server, "web");
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated..."),
        "{out}"
    );
    let pods = live_pods(&server, "web");
    assert_eq!(names(&pods), ["web-0", "web-1", "web-2"]);
    for (i, p) in pods.iter().enumerate() {
        let name = format!("web-{i}");
        assert_eq!(
            p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], name,
            "{p}"
        );
        assert_eq!(
            p["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
            i.to_string()
        );
        assert_eq!(p["spec"]["hostname"], name);
        assert_eq!(p["spec"]["subdomain"], "nginx");
        assert_eq!(
            p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            format!("www-web-{i}")
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
    }
    // OrderedReady: in the pod watch, each pod appears only after the one before it was
    // seen Running and Ready.
    let mut watch = watch;
    watch.wait_for_line("web-2 Running and Ready", WAIT_TIMEOUT, |l| {
        l.split_whitespace().collect::<Vec<_>>() == ["web-2", "Running", "True"]
    });
    let seen = watch.lines();
    let first = |pred: &dyn Fn(&[&str]) -> bool| {
        seen.iter()
            .position(|l| pred(&l.split_whitespace().collect::<Vec<_>>()))
            .unwrap_or(usize::MAX)
    };
    for n in 1..3 {
        let appears = first(&|w| w.first() == Some(&format!("web-{n}").as_str()));
        let before_ready = first(&|w| w == [format!("web-{}", n - 1).as_str(), "Running", "True"]);
        assert!(
            before_ready < appears,
            "web-{n} before web-{} was ready: {seen:#?}",
            n - 1
        );
    }
    assert_eq!(
        claim_names(&server),
        ["www-web-0", "www-web-1", "www-web-2"]
    );
    let claim = server.kubectl_json(&["get", "pvc", "www-web-0"]);
    assert_eq!(claim["metadata"]["labels"]["app"], "web");
    assert_eq!(claim["spec"]["storageClassName"], "local");
    let creates = event_notes(&server, "web", "SuccessfulCreate");
    let pod_creates: Vec<&String> = creates
        .iter()
        .filter(|n| n.starts_with("create Pod "))
        .collect();
    assert_eq!(
        pod_creates,
        [
            "create Pod web-0 in StatefulSet web successful",
            "create Pod web-1 in StatefulSet web successful",
            "create Pod web-2 in StatefulSet web successful"
        ],
        "{creates:?}"
    );
    assert!(
        creates.contains(&"create Claim www-web-0 Pod web-0 in StatefulSet web success".into()),
        "{creates:?}"
    );
    let status = server.kubectl_json(&["get", "sts", "web"])["status"].clone();
    assert_eq!(status["replicas"], 3, "{status}");
    assert_eq!(status["readyReplicas"], 3, "{status}");
    assert_eq!(status["availableReplicas"], 3, "{status}");
    assert_eq!(status["currentReplicas"], 3, "{status}");
    assert_eq!(status["updatedReplicas"], 3, "{status}");
    assert_eq!(status["collisionCount"], 0, "{status}");
    let first_revision = status["currentRevision"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(first_revision.starts_with("web-"), "{status}");
    assert_eq!(status["updateRevision"], first_revision.as_str());
    assert!(pods
        .iter()
        .all(|p| p["metadata"]["labels"]["controller-revision-hash"] == first_revision.as_str()));
    let table = server.kubectl(&["get", "sts", "web"]).ok();
    assert!(table.contains("web    3/3"), "{table}");

    // Scaling down removes the highest ordinal first, one at a time; claims stay.
    server
        .kubectl(&["scale", "statefulset", "web", "--replicas=1"])
        .ok();
    poll_until(ROLLOUT, "web scaled down to web-0", || {
        let all = server.kubectl_json(&["get", "pods", "-l", "app=web"]);
        (names(all["items"].as_array()?) == ["web-0"]).then_some(())
    });
    let deletes = event_notes(&server, "web", "SuccessfulDelete");
    assert_eq!(
        deletes,
        [
            "delete Pod web-2 in StatefulSet web successful",
            "delete Pod web-1 in StatefulSet web successful"
        ]
    );
    assert_eq!(
        claim_names(&server),
        ["www-web-0", "www-web-1", "www-web-2"]
    );
    server
        .kubectl(&["scale", "statefulset", "web", "--replicas=3"])
        .ok();
    rollout_status(&server, "web");
    assert_eq!(
        names(&live_pods(&server, "web")),
        ["web-0", "web-1", "web-2"]
    );

    // A new image with partition 2 replaces only web-2.
    server
        .kubectl(&[
            "patch",
            "sts",
            "web",
            "-p",
            r#"{"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}}"#,
        ])
        .ok();
    server
        .kubectl(&["set", "image", "statefulset/web", "nginx=nginx:2"])
        .ok();
    let out = rollout_status(&server, "web");
    assert!(
        out.contains("partitioned roll out complete: 1 new pods have been updated..."),
        "{out}"
    );
    let pods = live_pods(&server, "web");
    assert_eq!(images(&pods), ["nginx:1", "nginx:1", "nginx:2"]);
    let status = server.kubectl_json(&["get", "sts", "web"])["status"].clone();
    let second_revision = status["updateRevision"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(second_revision, first_revision);
    assert_eq!(
        status["currentRevision"],
        first_revision.as_str(),
        "{status}"
    );
    assert_eq!(status["currentReplicas"], 2, "{status}");
    assert_eq!(status["updatedReplicas"], 1, "{status}");
    assert_eq!(
        pods[2]["metadata"]["labels"]["controller-revision-hash"],
        second_revision.as_str()
    );

    // Dropping the partition rolls the rest, highest ordinal first.
    server
        .kubectl(&[
            "patch",
            "sts",
            "web",
            "-p",
            r#"{"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}"#,
        ])
        .ok();
    rollout_status(&server, "web");
    poll_until(WAIT_TIMEOUT, "the update to complete", || {
        let status = server.kubectl_json(&["get", "sts", "web"])["status"].clone();
        (status["currentRevision"] == second_revision.as_str() && status["updatedReplicas"] == 3)
            .then_some(())
    });
    assert_eq!(
        images(&live_pods(&server, "web")),
        ["nginx:2", "nginx:2", "nginx:2"]
    );
    let deletes = event_notes(&server, "web", "SuccessfulDelete");
    assert_eq!(
        deletes[2..],
        [
            "delete Pod web-2 in StatefulSet web successful",
            "delete Pod web-1 in StatefulSet web successful",
            "delete Pod web-0 in StatefulSet web successful"
        ],
        "{deletes:?}"
    );

    // History lists both revisions; undo goes back to the first, renumbered as the third.
    let history = server
        .kubectl(&["rollout", "history", "statefulset/web"])
        .ok();
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");
    let second = server
        .kubectl(&["rollout", "history", "statefulset/web", "--revision=2"])
        .ok();
    assert!(second.contains("Image:\tnginx:2"), "{second}");
    let out = server.kubectl(&["rollout", "undo", "statefulset/web"]).ok();
    assert!(out.contains("statefulset.apps/web rolled back"), "{out}");
    rollout_status(&server, "web");
    poll_until(ROLLOUT, "the undo to roll out", || {
        let status = server.kubectl_json(&["get", "sts", "web"])["status"].clone();
        (status["currentRevision"] == first_revision.as_str() && status["updatedReplicas"] == 3)
            .then_some(())
    });
    assert_eq!(
        images(&live_pods(&server, "web")),
        ["nginx:1", "nginx:1", "nginx:1"]
    );
    let history = server
        .kubectl(&["rollout", "history", "statefulset/web"])
        .ok();
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");

    // Deleting the set takes its pods (garbage collector) and keeps the claims (Retain).
    server.kubectl(&["delete", "statefulset", "web"]).ok();
    poll_until(ROLLOUT, "the pods to be collected", || {
        let all = server.kubectl_json(&["get", "pods", "-l", "app=web"]);
        all["items"].as_array()?.is_empty().then_some(())
    });
    assert_eq!(
        claim_names(&server),
        ["www-web-0", "www-web-1", "www-web-2"]
    );
    poll_until(WAIT_TIMEOUT, "the revisions to be collected", || {
        let left = server.kubectl_json(&["get", "controllerrevisions"]);
        left["items"].as_array()?.is_empty().then_some(())
    });
}

#[test]
fn parallel_pods_from_a_start_ordinal_and_claims_deleted_by_policy() {
    let server = Server::start();
    let _sim = simulate_nodes(&server, 2, "8");
    create_storage_class(&server);
    let set = stateful_set(
        "db",
        3,
        json!({"podManagementPolicy": "Parallel", "ordinals": {"start": 5},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"}}),
    );
    server
        .kubectl_stdin(&["create", "-f", "-"], &set.to_string())
        .ok();
    rollout_status(&server, "db");
    assert_eq!(names(&live_pods(&server, "db")), ["db-5", "db-6", "db-7"]);
    assert_eq!(claim_names(&server), ["www-db-5", "www-db-6", "www-db-7"]);
    // Claims of live pods belong to the set, so deleting the set deletes them.
    poll_until(WAIT_TIMEOUT, "claims owned by the set", || {
        let claim = server.kubectl_json(&["get", "pvc", "www-db-6"]);
        (claim["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet").then_some(())
    });

    // Scaled away, a pod's claim goes with it (whenScaled: Delete).
    server
        .kubectl(&["scale", "statefulset", "db", "--replicas=1"])
        .ok();
    poll_until(ROLLOUT, "db scaled down with its claims", || {
        let pods = server.kubectl_json(&["get", "pods", "-l", "app=db"]);
        (names(pods["items"].as_array()?) == ["db-5"] && claim_names(&server) == ["www-db-5"])
            .then_some(())
    });

    // `rollout restart` stamps the template, which rolls the pod onto a new revision;
    // kubectl 1.33 follows it as 1.32 does.
    server
        .kubectl(&["rollout", "restart", "statefulset/db"])
        .ok();
    let out = server
        .kubectl_bin(
            KUBECTL_1_33,
            &["rollout", "status", "statefulset/db", "--timeout=90s"],
        )
        .ok();
    assert!(out.contains("partitioned roll out complete"), "{out}");
    poll_until(ROLLOUT, "db-5 restarted", || {
        let pods = live_pods(&server, "db");
        (pods.len() == 1
            && !pods[0]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_null()
            && pods[0]["status"]["phase"] == "Running")
            .then_some(())
    });

    // Deleted, the set takes the remaining claim too (whenDeleted: Delete).
    server.kubectl(&["delete", "statefulset", "db"]).ok();
    poll_until(ROLLOUT, "pods and claims collected", || {
        let pods = server.kubectl_json(&["get", "pods", "-l", "app=db"]);
        (pods["items"].as_array()?.is_empty() && claim_names(&server).is_empty()).then_some(())
    });
}

#[test]
fn on_delete_updates_wait_for_the_pod_to_be_deleted() {
    let server = Server::start();
    let _sim = simulate_nodes(&server, 1, "8");
    create_storage_class(&server);
    // An orphan named and labelled as a member is adopted, not replaced, and gets its
    // identity labels.
    let orphan = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "app-0", "labels": {"app": "app"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1",
            "volumeMounts": [{"name": "www", "mountPath": "/w"}]}],
            "volumes": [{"name": "www", "emptyDir": {}}]}});
    let orphan_uid = server
        .kubectl_stdin(&["create", "-f", "-", "-o", "json"], &orphan.to_string())
        .json()["metadata"]["uid"]
        .clone();
    let set = stateful_set(
        "app",
        2,
        json!({"updateStrategy": {"type": "OnDelete"}, "podManagementPolicy": "Parallel"}),
    );
    server
        .kubectl_stdin(&["create", "-f", "-"], &set.to_string())
        .ok();
    poll_until(ROLLOUT, "two ready pods", || {
        let sts = server.kubectl_json(&["get", "sts", "app"]);
        (sts["status"]["readyReplicas"] == 2).then_some(())
    });
    poll_until(WAIT_TIMEOUT, "app-0 adopted with its identity", || {
        let pod = server.kubectl_json(&["get", "pod", "app-0"]);
        (pod["metadata"]["uid"] == orphan_uid
            && pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
            && pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0")
            .then_some(())
    });
    server
        .kubectl(&["set", "image", "statefulset/app", "nginx=nginx:2"])
        .ok();
    poll_until(WAIT_TIMEOUT, "a new update revision", || {
        let s = server.kubectl_json(&["get", "sts", "app"])["status"].clone();
        (s["updateRevision"] != s["currentRevision"]).then_some(())
    });
    assert_eq!(images(&live_pods(&server, "app")), ["nginx:1", "nginx:1"]);
    // `rollout status` only follows RollingUpdate sets, as upstream's kubectl says.
    let err = server
        .kubectl(&["rollout", "status", "statefulset/app", "--timeout=5s"])
        .fails();
    assert!(
        err.contains("rollout status is only available for RollingUpdate strategy type"),
        "{err}"
    );
    server
        .kubectl(&["delete", "pod", "app-1", "--wait=false"])
        .ok();
    poll_until(ROLLOUT, "app-1 re-created at the new revision", || {
        let pods = live_pods(&server, "app");
        (images(&pods) == ["nginx:1", "nginx:2"] && pods[1]["status"]["phase"] == "Running")
            .then_some(())
    });
}

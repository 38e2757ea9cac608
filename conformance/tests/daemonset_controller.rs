//! The DaemonSet controller on simulated nodes: one pod per eligible node, pinned by node
//! affinity and bound by the scheduler; node selectors and taints; rolling updates with
//! ControllerRevisions, as `kubectl rollout` reads them.

use k8rs_conformance::{poll_until, simulate_nodes, Server, WAIT_TIMEOUT};
use serde_json::{json, Value};

fn daemon_pods(server: &Server) -> Vec<Value> {
    server.kubectl_json(&["get", "pods", "-l", "app=agent"])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

fn nodes_of(pods: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = pods
        .iter()
        .map(|p| {
            p["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    n.sort();
    n
}

#[test]
fn one_daemon_per_node_and_rolling_updates() {
    let server = Server::start();
    let _sim = simulate_nodes(&server, 3, "4");
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "a", "image": "busybox:1"}]}}}});
    server
        .kubectl_stdin(&["create", "-f", "-"], &ds.to_string())
        .ok();
    server
        .kubectl(&["rollout", "status", "ds/agent", "--timeout=60s"])
        .ok();
    let pods = daemon_pods(&server);
    assert_eq!(nodes_of(&pods), ["sim-0", "sim-1", "sim-2"]);
    let status = server.kubectl_json(&["get", "ds", "agent"])["status"].clone();
    assert_eq!(status["desiredNumberScheduled"], 3, "{status}");
    assert_eq!(status["numberReady"], 3, "{status}");
    assert_eq!(status["updatedNumberScheduled"], 3, "{status}");
    let out = server.kubectl(&["get", "ds", "agent"]).ok();
    assert!(
        out.contains("agent   3         3         3       3            3"),
        "{out}"
    );

    // A new image rolls through every node, one at a time, under a second revision.
    server
        .kubectl(&["set", "image", "ds/agent", "a=busybox:2"])
        .ok();
    server
        .kubectl(&["rollout", "status", "ds/agent", "--timeout=90s"])
        .ok();
    let pods = daemon_pods(&server);
    assert_eq!(nodes_of(&pods), ["sim-0", "sim-1", "sim-2"]);
    assert!(pods
        .iter()
        .all(|p| p["spec"]["containers"][0]["image"] == "busybox:2"));
    let history = server.kubectl(&["rollout", "history", "ds/agent"]).ok();
    assert!(history.contains('1') && history.contains('2'), "{history}");

    // A node that stops matching the selector loses its daemon; one that matches gains it.
    server
        .kubectl(&["label", "node", "sim-0", "sim-1", "role=edge"])
        .ok();
    server
        .kubectl(&[
            "patch",
            "ds",
            "agent",
            "--type=merge",
            "-p",
            r#"{"spec": {"template": {"spec": {"nodeSelector": {"role": "edge"}}}}}"#,
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "daemons only on edge nodes", || {
        let pods = daemon_pods(&server);
        (nodes_of(&pods) == ["sim-0", "sim-1"]).then_some(())
    });
    server
        .kubectl(&["label", "node", "sim-2", "role=edge"])
        .ok();
    poll_until(WAIT_TIMEOUT, "a daemon on the newly labelled node", || {
        let pods = daemon_pods(&server);
        (nodes_of(&pods) == ["sim-0", "sim-1", "sim-2"]).then_some(())
    });

    // An evicting taint the daemon does not tolerate removes it from that node.
    server
        .kubectl(&["taint", "node", "sim-2", "maintenance=now:NoExecute"])
        .ok();
    poll_until(WAIT_TIMEOUT, "the daemon to leave the tainted node", || {
        let pods = daemon_pods(&server);
        (nodes_of(&pods) == ["sim-0", "sim-1"]).then_some(())
    });
}

/// With `maxSurge`, a node's new daemon starts beside the old one, which is deleted only
/// once the new one is ready: a rollout adds before it deletes.
#[test]
fn rolling_update_with_max_surge_starts_new_pods_first() {
    let server = Server::start();
    let _sim = simulate_nodes(&server, 3, "4");
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "updateStrategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "a", "image": "busybox:1"}]}}}});
    server
        .kubectl_stdin(&["create", "-f", "-"], &ds.to_string())
        .ok();
    server
        .kubectl(&["rollout", "status", "ds/agent", "--timeout=60s"])
        .ok();
    let mut watch = server.kubectl_bg(&[
        "get",
        "pods",
        "-l",
        "app=agent",
        "--watch-only",
        "--output-watch-events",
        "--no-headers",
    ]);
    // Give kubectl a moment to establish the watch.
    std::thread::sleep(std::time::Duration::from_secs(1));
    server
        .kubectl(&["set", "image", "ds/agent", "a=busybox:2"])
        .ok();
    server
        .kubectl(&["rollout", "status", "ds/agent", "--timeout=90s"])
        .ok();
    let deadline = std::time::Instant::now() + WAIT_TIMEOUT;
    while watch
        .lines()
        .iter()
        .filter(|l| l.starts_with("DELETED"))
        .count()
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "three old daemons not deleted: {:?} {}",
            watch.lines(),
            watch.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    watch.kill();
    let events: Vec<String> = watch
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("ADDED") || l.starts_with("DELETED"))
        .collect();
    assert!(
        events.first().is_some_and(|e| e.starts_with("ADDED")),
        "{events:?}"
    );
    let mut alive = 3;
    let mut most = alive;
    for e in &events {
        alive += if e.starts_with("ADDED") { 1 } else { -1 };
        most = most.max(alive);
    }
    assert!(most >= 4, "never surged: {events:?}");
    let pods = daemon_pods(&server);
    assert_eq!(nodes_of(&pods), ["sim-0", "sim-1", "sim-2"]);
    assert!(pods
        .iter()
        .all(|p| p["spec"]["containers"][0]["image"] == "busybox:2"));
}

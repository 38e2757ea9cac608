//! The node lifecycle and taint-eviction controllers: a simulated node whose kubelet stops
//! goes Unknown (`NodeStatusUnknown`), gets the `node.kubernetes.io/unreachable` taints,
//! its pods lose Ready, and a pod tolerating the taint for two seconds is evicted; the node
//! coming back loses the taints. The grace period is shortened for the test through
//! `K8RS_NODE_MONITOR_GRACE_PERIOD` (the server inherits the test's environment).

use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use k8rs_conformance::{k8rs_bin, poll_until, Background, Server, WAIT_TIMEOUT};
use serde_json::Value;

/// Long enough that a lease renewed every 10s never looks late.
const GRACE: &str = "20s";
/// Grace period, a 5s monitor pass or two, and the tainting and eviction that follow.
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

fn server() -> Server {
    static ENV: Once = Once::new();
    ENV.call_once(|| std::env::set_var("K8RS_NODE_MONITOR_GRACE_PERIOD", GRACE));
    Server::start()
}

fn simulate(server: &Server, prefix: &str) -> Background {
    let mut cmd = Command::new(k8rs_bin());
    cmd.args(["simulate-nodes", "--kubeconfig"])
        .arg(server.kubeconfig())
        .args(["--count", "1", "--prefix", prefix]);
    Background::spawn(cmd)
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn wait_ready(server: &Server, node: &str) {
    poll_until(WAIT_TIMEOUT, &format!("{node} Ready"), || {
        let n = server.kubectl(&["get", "node", node, "-o", "json"]);
        if !n.success() {
            return None;
        }
        (condition(&n.json(), "Ready")?["status"] == "True").then_some(())
    });
}

fn taints(node: &Value) -> Vec<(String, String, bool)> {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["key"].as_str().unwrap_or_default().to_string(),
                t["effect"].as_str().unwrap_or_default().to_string(),
                t["timeAdded"].is_string(),
            )
        })
        .collect()
}

fn pod(name: &str, node: &str, toleration: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},
            "spec":{{"nodeName":"{node}","containers":[{{"name":"c","image":"busybox"}}],
                     "tolerations":[{toleration}]}}}}"#
    )
}

#[test]
fn unreachable_node_is_tainted_its_pods_evicted_and_it_recovers() {
    let server = server();
    // Two nodes, so that losing one is not a full disruption (which stops evictions).
    let _stay = simulate(&server, "stay-");
    let mut gone = simulate(&server, "gone-");
    wait_ready(&server, "stay-0");
    wait_ready(&server, "gone-0");

    let unreachable = |secs: &str| {
        format!(
            r#"{{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"{secs}}}"#
        )
    };
    for (name, toleration) in [
        ("quick", unreachable(r#","tolerationSeconds":2"#)),
        ("patient", String::new()),
        ("forever", unreachable("")),
    ] {
        server
            .kubectl_stdin(&["create", "-f", "-"], &pod(name, "gone-0", &toleration))
            .ok();
    }
    for name in ["quick", "patient", "forever"] {
        poll_until(WAIT_TIMEOUT, &format!("{name} Ready"), || {
            let p = server.kubectl_json(&["get", "pod", name]);
            (condition(&p, "Ready")?["status"] == "True").then_some(())
        });
    }

    // The kubelet stops: no more leases.
    gone.kill();
    let node = poll_until(NODE_TIMEOUT, "gone-0 Unknown", || {
        let n = server.kubectl_json(&["get", "node", "gone-0"]);
        (condition(&n, "Ready")?["status"] == "Unknown").then_some(n)
    });
    let ready = condition(&node, "Ready").unwrap();
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    assert_eq!(
        condition(&node, "MemoryPressure").unwrap()["status"],
        "Unknown"
    );
    let described = server.kubectl(&["get", "nodes"]).ok();
    assert!(described.contains("NotReady"), "{described}");

    poll_until(NODE_TIMEOUT, "gone-0 tainted unreachable", || {
        let t = taints(&server.kubectl_json(&["get", "node", "gone-0"]));
        let has = |effect: &str| {
            t.iter()
                .any(|(k, e, added)| k == "node.kubernetes.io/unreachable" && e == effect && *added)
        };
        (has("NoSchedule") && has("NoExecute")).then_some(())
    });

    // The pod tolerating two seconds is evicted: marked a disruption target and deleted
    // (it stays Terminating, as no kubelet confirms).
    let quick = poll_until(NODE_TIMEOUT, "quick evicted", || {
        let p = server.kubectl(&["get", "pod", "quick", "-o", "json"]);
        if !p.success() {
            return Some(Value::Null);
        }
        let p = p.json();
        p["metadata"]["deletionTimestamp"].is_string().then_some(p)
    });
    if !quick.is_null() {
        let target = condition(&quick, "DisruptionTarget").expect("DisruptionTarget");
        assert_eq!(target["reason"], "DeletionByTaintManager");
        assert_eq!(
            target["message"],
            "Taint manager: deleting due to NoExecute taint"
        );
    }
    let events = server.kubectl_json(&["get", "events", "-n", "default"]);
    let has_event = |reason: &str, name: &str, message: &str| {
        events["items"].as_array().into_iter().flatten().any(|e| {
            e["reason"] == reason
                && e["involvedObject"]["name"] == name
                && e["message"].as_str().is_some_and(|m| m.contains(message))
        })
    };
    assert!(has_event(
        "TaintManagerEviction",
        "quick",
        "Marking for deletion Pod default/quick"
    ));
    assert!(has_event(
        "NodeNotReady",
        "gone-0",
        "Node gone-0 status is now: NodeNotReady"
    ));
    assert!(has_event("NodeNotReady", "patient", "Node is not ready"));

    // The others stay, marked not Ready; the default 300s toleration has not run out.
    for name in ["patient", "forever"] {
        let p = server.kubectl_json(&["get", "pod", name]);
        assert!(
            p["metadata"]["deletionTimestamp"].is_null(),
            "{name} deleted"
        );
        assert_eq!(condition(&p, "Ready").unwrap()["status"], "False", "{name}");
    }
    // The healthy node is untouched.
    let stay = server.kubectl_json(&["get", "node", "stay-0"]);
    assert_eq!(condition(&stay, "Ready").unwrap()["status"], "True");
    assert!(taints(&stay).is_empty(), "{:?}", taints(&stay));

    // The kubelet comes back: Ready again, taints gone.
    let _back = simulate(&server, "gone-");
    poll_until(NODE_TIMEOUT, "gone-0 untainted", || {
        let n = server.kubectl_json(&["get", "node", "gone-0"]);
        let ready = condition(&n, "Ready")?["status"] == "True";
        let clean = !taints(&n)
            .iter()
            .any(|(k, _, _)| k == "node.kubernetes.io/unreachable");
        (ready && clean).then_some(())
    });
}

#[test]
fn cordoned_node_gets_the_unschedulable_taint() {
    let server = server();
    let _sim = simulate(&server, "cordon-");
    wait_ready(&server, "cordon-0");
    server.kubectl(&["cordon", "cordon-0"]).ok();
    poll_until(WAIT_TIMEOUT, "unschedulable taint", || {
        let t = taints(&server.kubectl_json(&["get", "node", "cordon-0"]));
        t.iter()
            .any(|(k, e, _)| k == "node.kubernetes.io/unschedulable" && e == "NoSchedule")
            .then_some(())
    });
    server.kubectl(&["uncordon", "cordon-0"]).ok();
    poll_until(WAIT_TIMEOUT, "unschedulable taint removed", || {
        taints(&server.kubectl_json(&["get", "node", "cordon-0"]))
            .is_empty()
            .then_some(())
    });
}

#[test]
fn not_ready_node_gets_the_not_ready_taints() {
    let server = server();
    // A healthy node, so that one NotReady node is not a full disruption.
    let _sim = simulate(&server, "fine-");
    wait_ready(&server, "fine-0");
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"sick"}}"#,
        )
        .ok();
    let now = server.kubectl_json(&["get", "node", "sick"])["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .patch_status(
            &["node", "sick"],
            &format!(
                r#"{{"status":{{"conditions":[{{"type":"Ready","status":"False","reason":"KubeletNotReady",
                    "message":"container runtime is down","lastHeartbeatTime":"{now}","lastTransitionTime":"{now}"}}]}}}}"#
            ),
        )
        .ok();
    poll_until(NODE_TIMEOUT, "sick tainted not-ready", || {
        let t = taints(&server.kubectl_json(&["get", "node", "sick"]));
        let has = |effect: &str| {
            t.iter()
                .any(|(k, e, added)| k == "node.kubernetes.io/not-ready" && e == effect && *added)
        };
        (has("NoSchedule") && has("NoExecute")).then_some(())
    });
    // The kubelet's own reason stays: the node is not ready, not unreachable.
    let node = server.kubectl_json(&["get", "node", "sick"]);
    let ready = condition(&node, "Ready").unwrap();
    assert!(
        ready["reason"] == "KubeletNotReady" || ready["reason"] == "NodeStatusUnknown",
        "{ready}"
    );
}

//! The scheduler (in-process in `k8rs server`) against kwok-style simulated nodes (a `k8rs
//! simulate-nodes` process): topology spread, nodeSelector, FailedScheduling with
//! upstream's message, taints and tolerations, preemption by priority, and pods becoming
//! Running and Ready so `kubectl rollout status` completes.

use std::process::Command;

use k8rs_conformance::{k8rs_bin, poll_until, Background, Server, ServerOpts, WAIT_TIMEOUT};
use serde_json::Value;

fn simulate(server: &Server, count: usize, cpu: &str) -> Background {
    k8rs_conformance::simulate_nodes(server, count, cpu)
}

fn condition<'a>(obj: &'a Value, t: &str) -> Option<&'a str> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t)?["status"]
        .as_str()
}

fn pods(server: &Server, selector: &str) -> Vec<Value> {
    server.kubectl_json(&["get", "pods", "-l", selector])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn node_of(pod: &Value) -> &str {
    pod["spec"]["nodeName"].as_str().unwrap_or_default()
}

fn wait_bound(server: &Server, name: &str) -> Value {
    poll_until(WAIT_TIMEOUT, &format!("pod {name} bound"), || {
        let p = server.kubectl_json(&["get", "pod", name]);
        (!node_of(&p).is_empty()).then_some(p)
    })
}

fn pod_yaml(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    run: {name}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: busybox\n"
    )
}

fn with_cpu(name: &str, cpu: &str, extra_spec: &str) -> String {
    format!(
        "{}    resources:\n      requests:\n        cpu: \"{cpu}\"\n",
        pod_yaml(name, extra_spec)
    )
}

fn failed_scheduling_events(server: &Server, pod: &str) -> Vec<String> {
    server.kubectl_json(&["get", "events.v1.events.k8s.io"])["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["regarding"]["name"] == pod && e["reason"] == "FailedScheduling")
        .filter_map(|e| e["note"].as_str().map(String::from))
        .collect()
}

#[test]
fn spread_selector_and_unschedulable_pods_on_simulated_nodes() {
    let server = Server::start();
    let _sim = simulate(&server, 3, "4");

    let deployment = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 6
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        labelSelector:
          matchLabels: {app: web}
      containers:
      - name: web
        image: nginx
"#;
    server.kubectl_stdin(&["apply", "-f", "-"], deployment).ok();
    server
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .ok();
    let web = pods(&server, "app=web");
    assert_eq!(web.len(), 6);
    for node in ["sim-0", "sim-1", "sim-2"] {
        let here = web.iter().filter(|p| node_of(p) == node).count();
        assert_eq!(here, 2, "2 pods per node by topology spread: {node}");
    }
    for p in &web {
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(condition(p, "Ready"), Some("True"));
        let ip = p["status"]["podIP"].as_str().unwrap_or_default();
        assert!(
            ip.starts_with("10.64."),
            "pod IP from the node's CIDR: {ip}"
        );
    }

    // A rolling update: old pods are deleted gracefully (the simulated kubelet confirms),
    // new ones become ready.
    server
        .kubectl(&["set", "image", "deployment/web", "web=nginx:1.28"])
        .ok();
    server
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=90s"])
        .ok();
    let web = poll_until(WAIT_TIMEOUT, "only the new pods left", || {
        let p = pods(&server, "app=web");
        (p.len() == 6).then_some(p)
    });
    assert!(web
        .iter()
        .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28"));

    // nodeSelector: only the labelled node.
    server.kubectl(&["label", "node", "sim-2", "disk=ssd"]).ok();
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &pod_yaml("picky", "  nodeSelector:\n    disk: ssd\n"),
        )
        .ok();
    assert_eq!(node_of(&wait_bound(&server, "picky")), "sim-2");
    let scheduled = server.kubectl_json(&["get", "pod", "picky"]);
    assert_eq!(condition(&scheduled, "PodScheduled"), Some("True"));
    poll_until(WAIT_TIMEOUT, "picky Running", || {
        let p = server.kubectl_json(&["get", "pod", "picky"]);
        (p["status"]["phase"] == "Running").then_some(())
    });
    // Graceful deletion: the simulated kubelet confirms it.
    server
        .kubectl(&["delete", "pod", "picky", "--timeout=30s"])
        .ok();
    let err = server.kubectl(&["get", "pod", "picky"]).fails();
    assert!(err.contains("NotFound"), "{err}");

    // More CPU than any node has: Pending, with upstream's message.
    server
        .kubectl_stdin(&["apply", "-f", "-"], &with_cpu("huge", "64", ""))
        .ok();
    let expected = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are \
                    available: 3 No preemption victims found for incoming pod..";
    let pod = poll_until(WAIT_TIMEOUT, "PodScheduled=False on huge", || {
        let p = server.kubectl_json(&["get", "pod", "huge"]);
        (condition(&p, "PodScheduled") == Some("False")).then_some(p)
    });
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(node_of(&pod), "");
    let cond = pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(cond["message"], expected);
    let notes = poll_until(WAIT_TIMEOUT, "a FailedScheduling event", || {
        let n = failed_scheduling_events(&server, "huge");
        (!n.is_empty()).then_some(n)
    });
    assert_eq!(notes[0], expected);
    let describe = server.kubectl(&["describe", "pod", "huge"]).ok();
    assert!(describe.contains("FailedScheduling"), "{describe}");

    // Run-to-completion pods finish; the exit-code annotation fails them.
    server
        .kubectl(&["run", "job-ok", "--image=busybox", "--restart=Never"])
        .ok();
    server
        .kubectl(&[
            "run",
            "job-bad",
            "--image=busybox",
            "--restart=Never",
            "--annotations=sim.k8rs.io/exit-code=3",
        ])
        .ok();
    for (name, phase) in [("job-ok", "Succeeded"), ("job-bad", "Failed")] {
        let p = poll_until(WAIT_TIMEOUT, &format!("{name} {phase}"), || {
            let p = server.kubectl_json(&["get", "pod", name]);
            (p["status"]["phase"] == phase).then_some(p)
        });
        let code = if phase == "Failed" { 3 } else { 0 };
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            code
        );
    }

    // Nodes renew their leases.
    let lease = server.kubectl_json(&["get", "lease", "-n", "kube-node-lease", "sim-0"]);
    assert_eq!(lease["spec"]["holderIdentity"], "sim-0");
}

#[test]
fn taints_and_preemption_on_simulated_nodes() {
    let server = Server::start();
    let _sim = simulate(&server, 3, "2");

    server
        .kubectl(&["taint", "node", "sim-0", "dedicated=infra:NoSchedule"])
        .ok();
    server
        .kubectl(&[
            "create",
            "deployment",
            "app",
            "--image=busybox",
            "--replicas=4",
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "4 app pods bound", || {
        let p = pods(&server, "app=app");
        (p.len() == 4 && p.iter().all(|p| !node_of(p).is_empty())).then_some(())
    });
    assert!(
        pods(&server, "app=app")
            .iter()
            .all(|p| node_of(p) != "sim-0"),
        "no pod on the tainted node"
    );
    let tolerating = pod_yaml(
        "infra",
        "  nodeSelector:\n    kubernetes.io/hostname: sim-0\n  tolerations:\n  - key: dedicated\n    operator: Equal\n    value: infra\n    effect: NoSchedule\n",
    );
    server
        .kubectl_stdin(&["apply", "-f", "-"], &tolerating)
        .ok();
    assert_eq!(node_of(&wait_bound(&server, "infra")), "sim-0");
    let intolerant = pod_yaml(
        "outsider",
        "  nodeSelector:\n    kubernetes.io/hostname: sim-0\n",
    );
    server
        .kubectl_stdin(&["apply", "-f", "-"], &intolerant)
        .ok();
    let p = poll_until(WAIT_TIMEOUT, "outsider unschedulable", || {
        let p = server.kubectl_json(&["get", "pod", "outsider"]);
        (condition(&p, "PodScheduled") == Some("False")).then_some(p)
    });
    let msg = p["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled"))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        msg,
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, \
         2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are \
         available: 3 Preemption is not helpful for scheduling.."
    );

    // A full node: a low-priority pod takes all of sim-1's CPU; a high-priority one preempts it.
    let on_sim1 = "  nodeSelector:\n    kubernetes.io/hostname: sim-1\n";
    server
        .kubectl_stdin(&["apply", "-f", "-"], &with_cpu("low", "1500m", on_sim1))
        .ok();
    assert_eq!(node_of(&wait_bound(&server, "low")), "sim-1");
    let low_uid = server.kubectl_json(&["get", "pod", "low"])["metadata"]["uid"].clone();
    server
        .kubectl(&["create", "priorityclass", "high", "--value=1000"])
        .ok();
    let high = with_cpu(
        "high",
        "1500m",
        &format!("  priorityClassName: high\n{on_sim1}"),
    );
    server.kubectl_stdin(&["apply", "-f", "-"], &high).ok();
    assert_eq!(node_of(&wait_bound(&server, "high")), "sim-1");
    let gone = server.kubectl(&["get", "pod", "low", "-o", "json"]);
    if gone.success() {
        assert_ne!(
            gone.json()["metadata"]["uid"],
            low_uid,
            "the victim was deleted"
        );
    }
    let high = server.kubectl_json(&["get", "pod", "high"]);
    assert_eq!(high["status"]["nominatedNodeName"], "sim-1");
    let preempted = server.kubectl_json(&["get", "events.v1.events.k8s.io"])["items"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["regarding"]["name"] == "low" && e["reason"] == "Preempted");
    assert!(preempted, "a Preempted event on the victim");
}

#[test]
fn standalone_scheduler_binds_when_the_server_runs_none() {
    let server = Server::start_with(ServerOpts {
        extra_args: vec!["--disable-scheduler".into()],
        ..ServerOpts::default()
    });
    let _sim = simulate(&server, 1, "4");
    server.kubectl(&["run", "solo", "--image=busybox"]).ok();
    // Nobody schedules: no node, no condition.
    let p = server.kubectl_json(&["get", "pod", "solo"]);
    assert_eq!(node_of(&p), "");
    let mut cmd = Command::new(k8rs_bin());
    cmd.args(["scheduler", "--kubeconfig"])
        .arg(server.kubeconfig());
    let _scheduler = Background::spawn(cmd);
    assert_eq!(node_of(&wait_bound(&server, "solo")), "sim-0");
    let lease = server.kubectl_json(&["get", "lease", "-n", "kube-system", "kube-scheduler"]);
    assert!(
        lease["spec"]["holderIdentity"].as_str().is_some(),
        "the scheduler holds its lease: {lease}"
    );
}

#[test]
fn no_nodes_means_failed_scheduling_and_pod_scheduled_false() {
    let server = Server::start();
    server.kubectl(&["run", "lonely", "--image=busybox"]).ok();
    let p = poll_until(WAIT_TIMEOUT, "PodScheduled=False", || {
        let p = server.kubectl_json(&["get", "pod", "lonely"]);
        (condition(&p, "PodScheduled") == Some("False")).then_some(p)
    });
    assert_eq!(p["status"]["phase"], "Pending");
    let notes = poll_until(WAIT_TIMEOUT, "a FailedScheduling event", || {
        let n = failed_scheduling_events(&server, "lonely");
        (!n.is_empty()).then_some(n)
    });
    assert_eq!(notes[0], "no nodes available to schedule pods");
}

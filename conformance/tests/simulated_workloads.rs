//! Workloads running to completion on simulated nodes: a Deployment that becomes
//! Available (what `kubectl wait --for=condition` waits on), and a Job of five
//! completions.

use k8rs_conformance::{simulate_nodes, Server};

#[test]
fn kubectl_wait_for_conditions_on_a_running_deployment() {
    let server = Server::start();
    let _sim = simulate_nodes(&server, 2, "8");
    server
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=busybox",
            "--replicas=2",
        ])
        .ok();
    let out = server
        .kubectl(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=60s",
        ])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web condition met");
    let out = server
        .kubectl(&[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "app=web",
            "--timeout=60s",
        ])
        .ok();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.ends_with("condition met")), "{out}");
    // A condition that is not there times out with kubectl's message.
    let err = server
        .kubectl(&[
            "wait",
            "--for=condition=ReplicaFailure",
            "deployment/web",
            "--timeout=2s",
        ])
        .fails();
    assert!(err.contains("timed out waiting for the condition"), "{err}");

    // `--for=delete` returns once the garbage collector has taken the pods too.
    server
        .kubectl(&["delete", "deployment", "web", "--wait=false"])
        .ok();
    server
        .kubectl(&[
            "wait",
            "--for=delete",
            "pod",
            "-l",
            "app=web",
            "--timeout=60s",
        ])
        .ok();
}

#[test]
fn a_job_of_five_completions_finishes_on_simulated_nodes() {
    let server = Server::start();
    let _sim = simulate_nodes(&server, 3, "8");
    let job = r#"{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "five"},
        "spec": {"completions": 5, "parallelism": 2, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "work", "image": "busybox"}]}}}}"#;
    server.kubectl_stdin(&["create", "-f", "-"], job).ok();
    server
        .kubectl(&[
            "wait",
            "--for=condition=Complete",
            "job/five",
            "--timeout=90s",
        ])
        .ok();
    let j = server.kubectl_json(&["get", "job", "five"]);
    assert_eq!(j["status"]["succeeded"], 5, "{j}");
    let pods = server.kubectl_json(&["get", "pods", "-l", "job-name=five"]);
    let pods = pods["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(pods.len(), 5);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"
        && p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| n.starts_with("sim-"))));
    let out = server.kubectl(&["get", "job", "five"]).ok();
    assert!(out.contains("Complete") && out.contains("5/5"), "{out}");
}

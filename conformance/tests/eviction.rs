//! `pods/eviction` against PodDisruptionBudgets kept by the disruption controller: an
//! eviction spends an allowed disruption, and one that would break the budget is a 429.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::{json, Value};

fn running_pod(server: &Server, name: &str, app: &str, ready: bool) {
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "labels": {"app": app}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
            .to_string(),
        )
        .ok();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
    server
        .patch_status(&["pod", name], &status.to_string())
        .ok();
}

fn evict(server: &Server, pod: &str) -> k8rs_conformance::HttpResponse {
    server
        .http(
            "POST",
            &format!("/api/v1/namespaces/default/pods/{pod}/eviction"),
        )
        .json(&json!({"apiVersion": "policy/v1", "kind": "Eviction",
                      "metadata": {"name": pod, "namespace": "default"}}))
        .send()
}

fn pdb_status(server: &Server, name: &str) -> Value {
    server.kubectl_json(&["get", "pdb", name])["status"].clone()
}

#[test]
fn evictions_spend_the_disruption_budget() {
    let server = Server::start();
    server.wait_for_default_service_account("default");
    for p in ["web-1", "web-2", "web-3"] {
        running_pod(&server, p, "web", true);
    }
    server
        .kubectl(&[
            "create",
            "pdb",
            "web",
            "--selector=app=web",
            "--min-available=2",
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "the budget's status", || {
        let s = pdb_status(&server, "web");
        (s["disruptionsAllowed"] == 1 && s["currentHealthy"] == 3).then_some(())
    });
    let s = pdb_status(&server, "web");
    assert_eq!(s["desiredHealthy"], 2);
    assert_eq!(s["expectedPods"], 3);
    assert_eq!(s["conditions"][0]["reason"], "SufficientPods", "{s}");

    // A dry run evicts nothing and spends nothing.
    let dry = server
        .http(
            "POST",
            "/api/v1/namespaces/default/pods/web-1/eviction?dryRun=All",
        )
        .json(
            &json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1"}}),
        )
        .send();
    assert_eq!(dry.status, 201, "{}", dry.text());
    server.kubectl(&["get", "pod", "web-1"]).ok();
    assert_eq!(pdb_status(&server, "web")["disruptionsAllowed"], 1);

    let first = evict(&server, "web-1");
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.json()["status"], "Success");
    server.kubectl(&["get", "pod", "web-1"]).fails();

    poll_until(WAIT_TIMEOUT, "the budget to see two healthy", || {
        (pdb_status(&server, "web")["currentHealthy"] == 2).then_some(())
    });
    let second = evict(&server, "web-2");
    let status = second.assert_status(429, "TooManyRequests");
    assert_eq!(
        status["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(
        status["details"]["causes"][0],
        json!({"reason": "DisruptionBudget",
               "message": "The disruption budget web needs 2 healthy pods and has 2 currently"})
    );
    server.kubectl(&["get", "pod", "web-2"]).ok();
    let s = pdb_status(&server, "web");
    assert_eq!(s["conditions"][0]["reason"], "InsufficientPods", "{s}");
}

#[test]
fn pods_outside_budgets_and_bad_requests() {
    let server = Server::start();
    server.wait_for_default_service_account("default");
    // Pending pods already disrupt nothing: they go whatever the budget says.
    server
        .kubectl(&["run", "pending", "--image=busybox", "--labels=app=db"])
        .ok();
    server
        .kubectl(&[
            "create",
            "pdb",
            "db",
            "--selector=app=db",
            "--min-available=5",
        ])
        .ok();
    let r = evict(&server, "pending");
    assert_eq!(r.status, 201, "{}", r.text());

    // No budget: a plain delete.
    running_pod(&server, "free", "free", true);
    assert_eq!(evict(&server, "free").status, 201);
    server.kubectl(&["get", "pod", "free"]).fails();

    // Two budgets over one pod is more than eviction supports.
    running_pod(&server, "twice", "twice", true);
    for n in ["a", "b"] {
        server
            .kubectl(&[
                "create",
                "pdb",
                n,
                "--selector=app=twice",
                "--max-unavailable=1",
            ])
            .ok();
    }
    let r = evict(&server, "twice");
    let status = r.assert_status(500, "InternalError");
    assert_eq!(
        status["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );

    let r = server
        .http("POST", "/api/v1/namespaces/default/pods/twice/eviction")
        .json(
            &json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}}),
        )
        .send();
    r.assert_status(400, "BadRequest");
    evict(&server, "ghost").assert_status(404, "NotFound");
}

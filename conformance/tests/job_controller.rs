//! The Job controller: pods run to completion (counted once through the tracking
//! finalizer), failure by backoff limit, deadline and pod failure policy, Indexed
//! completion and suspension. Pods finish through pods/status, as a kubelet would report.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::{json, Value};

fn job(name: &str, spec: Value) -> String {
    let mut spec = spec;
    spec["template"] = json!({"spec": {"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox"}]}});
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec})
        .to_string()
}

fn pods(server: &Server, job: &str) -> Vec<Value> {
    let list = server.kubectl_json(&["get", "pods", "-l", &format!("job-name={job}")]);
    list["items"].as_array().cloned().unwrap_or_default()
}

fn wait_pods(server: &Server, job: &str, n: usize) -> Vec<Value> {
    poll_until(WAIT_TIMEOUT, &format!("{n} pods of {job}"), || {
        let p: Vec<Value> = pods(server, job)
            .into_iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter(|p| p["status"]["phase"] == "Pending" || p["status"]["phase"].is_null())
            .collect();
        (p.len() == n).then_some(p)
    })
}

fn finish(server: &Server, pod: &Value, phase: &str, exit_code: i32) {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let status = json!({"status": {"phase": phase, "containerStatuses": [{"name": "c", "image": "busybox",
        "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 {"Completed"} else {"Error"}}}}]}});
    server
        .patch_status(&["pod", name], &status.to_string())
        .ok();
}

/// The Job once a condition of `type_` is True.
fn wait_condition(server: &Server, name: &str, type_: &str) -> Value {
    poll_until(WAIT_TIMEOUT, &format!("job {name} {type_}"), || {
        let j = server.kubectl_json(&["get", "job", name]);
        let hit = j["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == type_ && c["status"] == "True");
        hit.then_some(j)
    })
}

fn condition<'a>(job: &'a Value, type_: &str) -> &'a Value {
    job["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

fn event_reasons(server: &Server, name: &str) -> Vec<String> {
    let events = server.kubectl_json(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
    ]);
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn job_runs_pods_to_completion() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &job("work", json!({"completions": 2, "parallelism": 2})),
        )
        .ok();
    let created = wait_pods(&server, "work", 2);
    let j = server.kubectl_json(&["get", "job", "work"]);
    for p in &created {
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["uid"],
            j["metadata"]["uid"]
        );
        assert_eq!(
            p["metadata"]["finalizers"],
            json!(["batch.kubernetes.io/job-tracking"])
        );
    }
    poll_until(WAIT_TIMEOUT, "active 2 and startTime", || {
        let j = server.kubectl_json(&["get", "job", "work"]);
        (j["status"]["active"] == 2 && j["status"]["startTime"].is_string()).then_some(())
    });
    for p in &created {
        finish(&server, p, "Succeeded", 0);
    }
    let done = wait_condition(&server, "work", "Complete");
    assert_eq!(done["status"]["succeeded"], 2, "{done}");
    assert_eq!(done["status"]["active"], 0, "{done}");
    assert!(done["status"]["completionTime"].is_string(), "{done}");
    assert_eq!(condition(&done, "Complete")["reason"], "CompletionsReached");
    assert_eq!(condition(&done, "SuccessCriteriaMet")["status"], "True");
    // Counted pods lose the tracking finalizer.
    for p in pods(&server, "work") {
        let none = p["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty());
        assert!(none, "{p}");
    }
    let reasons = event_reasons(&server, "work");
    assert!(
        reasons.iter().any(|r| r == "SuccessfulCreate"),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r == "Completed"), "{reasons:?}");
}

#[test]
fn job_fails_past_its_backoff_limit() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &job("flaky", json!({"backoffLimit": 0})),
        )
        .ok();
    let p = wait_pods(&server, "flaky", 1);
    finish(&server, &p[0], "Failed", 1);
    let failed = wait_condition(&server, "flaky", "Failed");
    assert_eq!(failed["status"]["failed"], 1, "{failed}");
    let c = condition(&failed, "Failed");
    assert_eq!(c["reason"], "BackoffLimitExceeded");
    assert_eq!(c["message"], "Job has reached the specified backoff limit");
    assert_eq!(condition(&failed, "FailureTarget")["status"], "True");
    assert!(event_reasons(&server, "flaky")
        .iter()
        .any(|r| r == "BackoffLimitExceeded"));
}

#[test]
fn job_pod_failure_policy_fails_on_exit_code() {
    let server = Server::start();
    let spec = json!({"backoffLimit": 5, "podFailurePolicy": {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}});
    server
        .kubectl_stdin(&["create", "-f", "-"], &job("policy", spec))
        .ok();
    let p = wait_pods(&server, "policy", 1);
    finish(&server, &p[0], "Failed", 42);
    let failed = wait_condition(&server, "policy", "Failed");
    let c = condition(&failed, "Failed");
    assert_eq!(c["reason"], "PodFailurePolicy", "{failed}");
    let message = c["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("failed with exit code 42 matching FailJob rule at index 0"),
        "{message}"
    );
}

#[test]
fn job_past_its_deadline_fails_and_stops_pods() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &job("slow", json!({"activeDeadlineSeconds": 1})),
        )
        .ok();
    let failed = wait_condition(&server, "slow", "Failed");
    assert_eq!(condition(&failed, "Failed")["reason"], "DeadlineExceeded");
    assert_eq!(failed["status"]["active"], 0, "{failed}");
    poll_until(WAIT_TIMEOUT, "no pods left", || {
        pods(&server, "slow").is_empty().then_some(())
    });
}

#[test]
fn indexed_job_completes_every_index() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &job(
                "idx",
                json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
            ),
        )
        .ok();
    let created = wait_pods(&server, "idx", 3);
    let mut seen: Vec<String> = created
        .iter()
        .map(|p| {
            let i = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert_eq!(
                p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
                i.as_str()
            );
            assert_eq!(p["spec"]["hostname"], format!("idx-{i}"));
            i
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["0", "1", "2"]);
    let by_index = |i: &str| {
        created
            .iter()
            .find(|p| p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == i)
            .cloned()
            .unwrap_or_default()
    };
    finish(&server, &by_index("1"), "Succeeded", 0);
    poll_until(WAIT_TIMEOUT, "completedIndexes 1", || {
        let j = server.kubectl_json(&["get", "job", "idx"]);
        (j["status"]["completedIndexes"] == "1").then_some(())
    });
    finish(&server, &by_index("0"), "Succeeded", 0);
    finish(&server, &by_index("2"), "Succeeded", 0);
    let done = wait_condition(&server, "idx", "Complete");
    assert_eq!(done["status"]["completedIndexes"], "0-2", "{done}");
    assert_eq!(done["status"]["succeeded"], 3, "{done}");
}

#[test]
fn suspended_job_runs_nothing_until_resumed() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &job("later", json!({"suspend": true})),
        )
        .ok();
    let j = wait_condition(&server, "later", "Suspended");
    assert_eq!(condition(&j, "Suspended")["reason"], "JobSuspended");
    assert!(pods(&server, "later").is_empty());
    server
        .kubectl(&[
            "patch",
            "job",
            "later",
            "--type=merge",
            "-p",
            r#"{"spec":{"suspend":false}}"#,
        ])
        .ok();
    wait_pods(&server, "later", 1);
    poll_until(WAIT_TIMEOUT, "Suspended False, JobResumed", || {
        let j = server.kubectl_json(&["get", "job", "later"]);
        let c = condition(&j, "Suspended");
        (c["status"] == "False" && c["reason"] == "JobResumed").then_some(())
    });
}

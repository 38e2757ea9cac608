//! The TTL-after-finished controller deletes a finished Job once its TTL has passed.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};

const JOB: &str = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"brief"},
  "spec":{"ttlSecondsAfterFinished":0,"template":{"spec":{"restartPolicy":"Never",
    "containers":[{"name":"c","image":"busybox"}]}}}}"#;

#[test]
fn finished_job_is_deleted_after_its_ttl() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], JOB).ok();
    let pod = poll_until(WAIT_TIMEOUT, "the job's pod", || {
        let list = server.kubectl_json(&["get", "pods", "-l", "job-name=brief"]);
        list["items"].as_array().and_then(|i| i.first().cloned())
    });
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    server
        .patch_status(&["pod", name], r#"{"status":{"phase":"Succeeded"}}"#)
        .ok();
    // Deleted in the foreground: its pod goes first (released by the Job controller,
    // removed by the garbage collector), then the Job.
    poll_until(WAIT_TIMEOUT, "the job deleted", || {
        (!server.kubectl(&["get", "job", "brief"]).success()).then_some(())
    });
    let left = server.kubectl_json(&["get", "pods", "-l", "job-name=brief"]);
    assert_eq!(left["items"].as_array().map(Vec::len), Some(0), "{left}");
}

//! The CronJob controller: a Job per scheduled minute, named for it, tracked in
//! `status.active` until it finishes, then `lastSuccessfulTime`.

use std::time::Duration;

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::{json, Value};

/// An every-minute schedule fires within a minute of creation.
const SCHEDULE_TIMEOUT: Duration = Duration::from_secs(75);

fn cronjob(name: &str, extra: Value) -> String {
    let mut spec = json!({"schedule": "* * * * *", "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "jobTemplate": {"metadata": {"labels": {"from": name}}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": spec})
        .to_string()
}

fn jobs(server: &Server, from: &str) -> Vec<Value> {
    let list = server.kubectl_json(&["get", "jobs", "-l", &format!("from={from}")]);
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Seconds since the epoch of a UTC `YYYY-MM-DDTHH:MM:SS+00:00` time.
fn epoch_seconds(t: &str) -> i64 {
    assert!(t.ends_with("+00:00") || t.ends_with('Z'), "UTC time: {t}");
    let n = |r: std::ops::Range<usize>| -> i64 {
        t.get(r)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("time {t:?}"))
    };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

#[test]
fn cronjob_creates_a_job_per_scheduled_time() {
    let server = Server::start();
    server
        .kubectl_stdin(&["create", "-f", "-"], &cronjob("tick", json!({})))
        .ok();
    let cj = server.kubectl_json(&["get", "cronjob", "tick"]);
    let job = poll_until(SCHEDULE_TIMEOUT, "a scheduled job", || {
        jobs(&server, "tick").first().cloned()
    });
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let scheduled = job["metadata"]["annotations"]
        ["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let secs = epoch_seconds(&scheduled);
    assert_eq!(secs % 60, 0, "{scheduled}");
    assert_eq!(name, format!("tick-{}", secs / 60));
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob");
    assert_eq!(owner["uid"], cj["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);

    let status = poll_until(WAIT_TIMEOUT, "the job in status.active", || {
        let cj = server.kubectl_json(&["get", "cronjob", "tick"]);
        (cj["status"]["active"][0]["name"] == name.as_str()).then_some(cj["status"].clone())
    });
    assert!(status["lastScheduleTime"].is_string(), "{status}");

    // The Job's pod succeeds: the Job completes and leaves the active list.
    let pod = poll_until(WAIT_TIMEOUT, "the job's pod", || {
        let list = server.kubectl_json(&["get", "pods", "-l", &format!("job-name={name}")]);
        list["items"].as_array().and_then(|i| i.first().cloned())
    });
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    server
        .patch_status(&["pod", pod_name], r#"{"status":{"phase":"Succeeded"}}"#)
        .ok();
    poll_until(WAIT_TIMEOUT, "lastSuccessfulTime", || {
        let cj = server.kubectl_json(&["get", "cronjob", "tick"]);
        (cj["status"]["lastSuccessfulTime"].is_string() && cj["status"]["active"].is_null())
            .then_some(())
    });
    let events = server.kubectl_json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=tick",
    ]);
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"SuccessfulCreate"), "{reasons:?}");
    assert!(reasons.contains(&"SawCompletedJob"), "{reasons:?}");
}

#[test]
fn suspended_cronjob_tracks_but_starts_nothing() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &cronjob("paused", json!({"suspend": true})),
        )
        .ok();
    // A manual run from it is tracked like any Job it owns.
    server
        .kubectl(&["create", "job", "--from=cronjob/paused", "manual"])
        .ok();
    let job = server.kubectl_json(&["get", "job", "manual"]);
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert!(
        server.kubectl_json(&["get", "cronjob", "paused"])["status"]["lastScheduleTime"].is_null()
    );
}

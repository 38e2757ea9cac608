//! `batch/v1` defaults (`pkg/apis/batch/v1/defaults.go`) and the Job selector upstream's
//! job strategy generates.

use serde_json::{json, Value};

use super::{child, default_str, default_value, each, field, object_at, spec, spec_template};

pub fn apply(kind: &str, obj: &mut Value) {
    match kind {
        "Job" => {
            job(obj);
            // Upstream defaults Job templates like any other (restartPolicy Always), and
            // then validation insists on OnFailure or Never.
            spec_template(obj);
        }
        "CronJob" => cron_job(obj),
        _ => {}
    }
}

fn job(obj: &mut Value) {
    let template_labels = obj["spec"]["template"]["metadata"]["labels"].clone();
    let Some(s) = spec(obj) else { return };
    if s["completions"].is_null() && s["parallelism"].is_null() {
        s["completions"] = json!(1);
        s["parallelism"] = json!(1);
    }
    default_value(s, "parallelism", json!(1));
    let backoff = if s["backoffLimitPerIndex"].is_null() {
        6
    } else {
        i64::from(i32::MAX)
    };
    default_value(s, "backoffLimit", json!(backoff));
    default_value(s, "completionMode", json!("NonIndexed"));
    default_value(s, "suspend", json!(false));
    let has_failure_policy = s["podFailurePolicy"].is_object();
    if let Some(policy) = field(s, "podFailurePolicy") {
        for rule in each(policy, "rules") {
            for pattern in each(rule, "onPodConditions") {
                default_str(pattern, "status", "True");
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_value(s, "podReplacementPolicy", json!(replacement));
    // The job takes its template's labels when it has none.
    if template_labels.is_object()
        && obj["metadata"]["labels"]
            .as_object()
            .is_none_or(|m| m.is_empty())
    {
        if let Some(meta) = object_at(obj, "metadata") {
            meta.insert("labels".into(), template_labels);
        }
    }
}

fn cron_job(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    default_str(s, "concurrencyPolicy", "Allow");
    default_value(s, "suspend", json!(false));
    default_value(s, "successfulJobsHistoryLimit", json!(3));
    default_value(s, "failedJobsHistoryLimit", json!(1));
    // The job template gets pod template defaults, not the Job's own.
    if let Some(t) = child(s, "jobTemplate")
        .and_then(|jt| field(jt, "spec"))
        .and_then(|js| field(js, "template"))
    {
        if t.is_object() {
            super::core::pod_template(t);
        }
    }
}

const LEGACY_NAME: &str = "job-name";
const NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_UID: &str = "controller-uid";
const UID: &str = "batch.kubernetes.io/controller-uid";

/// Unless `manualSelector` is true, pods of a job carry its name and uid as labels and the
/// selector matches the uid (upstream's `generateSelector`, run on create).
pub fn generate_selector(obj: &mut Value) {
    if obj["spec"]["manualSelector"].as_bool() == Some(true) {
        return;
    }
    let name = obj["metadata"]["name"].clone();
    let uid = obj["metadata"]["uid"].clone();
    let Some(s) = spec(obj) else { return };
    let Some(labels) = child(s, "template")
        .and_then(|t| child(t, "metadata"))
        .and_then(|m| object_at(m, "labels"))
    else {
        return;
    };
    for (key, value) in [
        (LEGACY_NAME, &name),
        (NAME, &name),
        (LEGACY_UID, &uid),
        (UID, &uid),
    ] {
        // Labels the user set are left for validation to judge.
        labels.entry(key).or_insert_with(|| value.clone());
    }
    if let Some(match_labels) = child(s, "selector").and_then(|sel| object_at(sel, "matchLabels")) {
        match_labels.entry(UID).or_insert(uid);
    }
}

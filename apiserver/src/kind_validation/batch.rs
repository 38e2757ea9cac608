//! `batch/v1` Job and CronJob (upstream's pkg/apis/batch/validation): the spec rules the
//! pod template checks (in `workload_validation`) leave out, and what a Job update may
//! change.

use serde_json::Value;

use super::causes::{
    enum_field, immutable, invalid_shown, items, non_negative, not_supported, shown,
};
use crate::status::Cause;

/// Upstream's `maxParallelismForIndexedJob`.
const MAX_INDEXED_PARALLELISM: i64 = 100_000;
const POLICY_ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];
const EXIT_CODE_OPERATORS: &[&str] = &["In", "NotIn"];
const CONDITION_STATUSES: &[&str] = &["False", "True", "Unknown"];

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "Job" => {
            job_spec(&obj["spec"], "spec", causes);
            indexed_hostnames(obj, causes);
        }
        "CronJob" => cron_job(obj, causes),
        _ => {}
    }
}

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if kind == "Job" {
        job_update(old, new, causes);
    }
}

/// Upstream's `validateJobSpec`: counts, completion mode, failure and replacement
/// policies, and a template that restarts OnFailure or Never.
fn job_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        non_negative(spec, key, path, causes);
    }
    let at = |k: &str| format!("{path}.{k}");
    if !spec["maxFailedIndexes"].is_null() && spec["backoffLimitPerIndex"].is_null() {
        causes.push(Cause::required(
            &at("backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    let mode = spec["completionMode"].as_str();
    enum_field(
        spec,
        "completionMode",
        path,
        &["NonIndexed", "Indexed"],
        causes,
    );
    if mode == Some("Indexed") {
        if spec["completions"].is_null() {
            causes.push(Cause::required(
                &at("completions"),
                "when completion mode is Indexed",
            ));
        }
        if let Some(p) = spec["parallelism"]
            .as_i64()
            .filter(|p| *p > MAX_INDEXED_PARALLELISM)
        {
            causes.push(Cause::invalid_value(
                &at("parallelism"),
                &Value::from(p),
                "must be less than or equal to 100000 when completion mode is Indexed",
            ));
        }
        if let (Some(c), Some(m)) = (
            spec["completions"].as_i64(),
            spec["maxFailedIndexes"].as_i64(),
        ) {
            if m > c {
                causes.push(Cause::invalid_value(
                    &at("maxFailedIndexes"),
                    &Value::from(m),
                    "must be less than or equal to completions",
                ));
            }
        }
    } else {
        for key in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if !spec[key].is_null() {
                causes.push(Cause::invalid_value(
                    &at(key),
                    &spec[key],
                    "requires indexed completion mode",
                ));
            }
        }
    }
    let has_failure_policy = spec["podFailurePolicy"].is_object();
    if has_failure_policy {
        pod_failure_policy(spec, &at("podFailurePolicy"), causes);
    }
    if let Some(p) = spec.get("podReplacementPolicy").filter(|v| !v.is_null()) {
        if has_failure_policy {
            if p != "Failed" {
                causes.push(not_supported(&at("podReplacementPolicy"), p, &["Failed"]));
            }
        } else if !p
            .as_str()
            .is_some_and(|s| matches!(s, "Failed" | "TerminatingOrFailed"))
        {
            causes.push(not_supported(
                &at("podReplacementPolicy"),
                p,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    // The template is defaulted to restartPolicy Always, which a Job cannot use.
    let restart_path = format!("{path}.template.spec.restartPolicy");
    match spec["template"]["spec"]["restartPolicy"]
        .as_str()
        .unwrap_or_default()
    {
        "" | "Always" => causes.push(Cause::required(
            &restart_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" if has_failure_policy => causes.push(Cause::invalid(
            &restart_path,
            "OnFailure",
            "only \"Never\" is supported when podFailurePolicy is specified",
        )),
        "OnFailure" | "Never" => {}
        _ => causes.push(not_supported(
            &restart_path,
            &spec["template"]["spec"]["restartPolicy"],
            &["OnFailure", "Never"],
        )),
    }
}

fn pod_failure_policy(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let template = &spec["template"]["spec"];
    let containers: Vec<&str> = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| items(template, l))
        .filter_map(|(_, c)| c["name"].as_str())
        .collect();
    let quoted_list = |vals: &[&str]| {
        let q: Vec<String> = vals.iter().map(|v| format!("\"{v}\"")).collect();
        format!("valid values: [{}]", q.join(" "))
    };
    for (i, rule) in items(&spec["podFailurePolicy"], "rules") {
        let at = format!("{path}.rules[{i}]");
        match rule["action"].as_str().unwrap_or_default() {
            "" => causes.push(Cause::required(
                &format!("{at}.action"),
                &quoted_list(POLICY_ACTIONS),
            )),
            "FailIndex" if spec["backoffLimitPerIndex"].is_null() => causes.push(Cause::invalid(
                &format!("{at}.action"),
                "FailIndex",
                "requires the backoffLimitPerIndex to be set",
            )),
            a if POLICY_ACTIONS.contains(&a) => {}
            _ => causes.push(not_supported(
                &format!("{at}.action"),
                &rule["action"],
                POLICY_ACTIONS,
            )),
        }
        let on_exit = &rule["onExitCodes"];
        if on_exit.is_object() {
            exit_codes(on_exit, &format!("{at}.onExitCodes"), &containers, causes);
        }
        let conditions = rule["onPodConditions"].as_array().filter(|a| !a.is_empty());
        for (j, pattern) in conditions.into_iter().flatten().enumerate() {
            let status_path = format!("{at}.onPodConditions[{j}].status");
            match pattern["status"].as_str().unwrap_or_default() {
                "" => causes.push(Cause::required(
                    &status_path,
                    &quoted_list(CONDITION_STATUSES),
                )),
                s if CONDITION_STATUSES.contains(&s) => {}
                _ => causes.push(not_supported(
                    &status_path,
                    &pattern["status"],
                    CONDITION_STATUSES,
                )),
            }
        }
        match (on_exit.is_object(), conditions.is_some()) {
            (true, true) => causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported".into(),
                field: at.clone(),
            }),
            (false, false) => causes.push(Cause {
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: specifying one of OnExitCodes and OnPodConditions is required".into(),
                field: at.clone(),
            }),
            _ => {}
        }
    }
}

fn exit_codes(rule: &Value, at: &str, containers: &[&str], causes: &mut Vec<Cause>) {
    let operator = rule["operator"].as_str().unwrap_or_default();
    match operator {
        "" => causes.push(Cause::required(
            &format!("{at}.operator"),
            "valid values: [\"In\" \"NotIn\"]",
        )),
        o if EXIT_CODE_OPERATORS.contains(&o) => {}
        _ => causes.push(not_supported(
            &format!("{at}.operator"),
            &rule["operator"],
            EXIT_CODE_OPERATORS,
        )),
    }
    if let Some(name) = rule["containerName"].as_str() {
        if !containers.contains(&name) {
            causes.push(Cause::invalid(
                &format!("{at}.containerName"),
                name,
                "must be one of the container or initContainer names in the pod template",
            ));
        }
    }
    let values: Vec<i64> = rule["values"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let go_ints = |v: &[i64]| {
        let s: Vec<String> = v.iter().map(i64::to_string).collect();
        format!("[]int32{{{}}}", s.join(", "))
    };
    if values.is_empty() {
        causes.push(invalid_shown(
            &format!("{at}.values"),
            "[]int32(nil)",
            "at least one value is required",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (j, v) in values.iter().enumerate() {
        if operator == "In" && *v == 0 {
            causes.push(Cause::invalid_value(
                &format!("{at}.values[{j}]"),
                &Value::from(0),
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*v) {
            causes.push(super::causes::duplicate(
                &format!("{at}.values[{j}]"),
                &Value::from(*v),
            ));
        }
    }
    if values.windows(2).any(|w| w[0] > w[1]) {
        causes.push(invalid_shown(
            &format!("{at}.values"),
            &go_ints(&values),
            "must be ordered",
        ));
    }
}

/// An Indexed job's pods are named `<job>-<index>`: the last one must be a DNS label.
fn indexed_hostnames(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    if spec["completionMode"] != "Indexed" {
        return;
    }
    let Some(c) = spec["completions"].as_i64().filter(|c| *c > 0) else {
        return;
    };
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let hostname = format!("{name}-{}", c - 1);
    if !crate::validation::dns1123_label_errors(&hostname).is_empty() {
        causes.push(Cause::invalid(
            "metadata.name",
            name,
            &format!("will not able to create pod with invalid DNS label: {hostname}"),
        ));
    }
}

/// Upstream's `ValidateJobSpecUpdate`: the selector (checked in `workload_validation`),
/// template, completion mode and failure policies are fixed; completions may only move
/// with parallelism, and only for Indexed jobs.
fn job_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let (o, n) = (&old["spec"], &new["spec"]);
    if o["completions"] != n["completions"] {
        let indexed = n["completionMode"] == "Indexed";
        if !indexed {
            immutable(
                "spec.completions",
                &o["completions"],
                &n["completions"],
                causes,
            );
        } else if !n["completions"].is_null() && n["completions"] != n["parallelism"] {
            causes.push(Cause::invalid_value(
                "spec.completions",
                &n["completions"],
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    template_update(old, new, causes);
    for key in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        immutable(&format!("spec.{key}"), &o[key], &n[key], causes);
    }
}

/// The pod template is immutable, except that a suspended job that never started may
/// change its scheduling directives (node affinity, node selector, tolerations, labels,
/// annotations, scheduling gates).
fn template_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let mut before = old["spec"]["template"].clone();
    let after = &new["spec"]["template"];
    let suspended_unstarted =
        old["spec"]["suspend"] == Value::Bool(true) && old["status"]["startTime"].is_null();
    if suspended_unstarted && before.is_object() {
        if !before["metadata"].is_object() {
            before["metadata"] = Value::Object(Default::default());
        }
        for key in ["labels", "annotations"] {
            copy_field(&mut before["metadata"], &after["metadata"], key);
        }
        if before["spec"].is_object() {
            for key in ["nodeSelector", "tolerations", "schedulingGates"] {
                copy_field(&mut before["spec"], &after["spec"], key);
            }
            if before["spec"]["affinity"].is_object() || after["spec"]["affinity"].is_object() {
                let mut affinity = before["spec"]["affinity"].clone();
                if !affinity.is_object() {
                    affinity = Value::Object(Default::default());
                }
                copy_field(&mut affinity, &after["spec"]["affinity"], "nodeAffinity");
                let empty = affinity.as_object().is_some_and(|m| m.is_empty());
                match (empty, after["spec"]["affinity"].is_null()) {
                    (true, true) => {
                        if let Some(s) = before["spec"].as_object_mut() {
                            s.remove("affinity");
                        }
                    }
                    _ => before["spec"]["affinity"] = affinity,
                }
            }
        }
    }
    if without_empty(&before) != without_empty(after) {
        causes.push(invalid_shown(
            "spec.template",
            &shown(after),
            super::causes::IMMUTABLE,
        ));
    }
}

/// `v` without null members and empty maps: the same template however it was written.
fn without_empty(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), without_empty(x)))
                .filter(|(_, x)| !x.is_null() && x.as_object().is_none_or(|o| !o.is_empty()))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_empty).collect()),
        other => other.clone(),
    }
}

/// `to[key] = from[key]`, removing it when `from` has none.
fn copy_field(to: &mut Value, from: &Value, key: &str) {
    let Some(map) = to.as_object_mut() else {
        return;
    };
    match from.get(key).filter(|v| !v.is_null()) {
        Some(v) => {
            map.insert(key.into(), v.clone());
        }
        None => {
            map.remove(key);
        }
    }
}

fn cron_job(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    match spec["schedule"].as_str().unwrap_or_default() {
        "" => causes.push(Cause::required("spec.schedule", "")),
        schedule => {
            if let Err(e) = super::cron_schedule::check(schedule) {
                causes.push(Cause::invalid("spec.schedule", schedule, &e));
            }
            if schedule.contains("TZ") {
                causes.push(Cause::invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    non_negative(spec, "startingDeadlineSeconds", "spec", causes);
    if let Some(tz) = spec["timeZone"].as_str() {
        if let Err(e) = time_zone(tz) {
            causes.push(Cause::invalid("spec.timeZone", tz, &e));
        }
    }
    match spec["concurrencyPolicy"].as_str().unwrap_or_default() {
        "" => causes.push(Cause::required("spec.concurrencyPolicy", "")),
        "Allow" | "Forbid" | "Replace" => {}
        _ => causes.push(not_supported(
            "spec.concurrencyPolicy",
            &spec["concurrencyPolicy"],
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let template_spec = &spec["jobTemplate"]["spec"];
    job_spec(template_spec, "spec.jobTemplate.spec", causes);
    if !template_spec["selector"].is_null() {
        causes.push(invalid_shown(
            "spec.jobTemplate.spec.selector",
            &shown(&template_spec["selector"]),
            "`selector` will be auto-generated",
        ));
    }
    if template_spec["manualSelector"] == Value::Bool(true) {
        causes.push(not_supported(
            "spec.jobTemplate.spec.manualSelector",
            &Value::Bool(true),
            &["nil", "false"],
        ));
    }
    for key in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        non_negative(spec, key, "spec", causes);
    }
    // The controller names jobs `<cronjob>-<11 characters>`; only new cronjobs are held
    // to it, so older long names stay updatable.
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if super::is_create(obj) && name.len() > 52 {
        causes.push(Cause::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
}

/// Upstream's `validateTimeZone`: IANA-shaped, not `Local`, and known to the system tz
/// database (as Go's `time.LoadLocation`).
fn time_zone(tz: &str) -> Result<(), String> {
    if tz.is_empty() {
        return Err("timeZone must be nil or non-empty string".into());
    }
    let unknown = || format!("unknown time zone {tz}");
    for part in tz.split('/') {
        let ok = (1..=14).contains(&part.len())
            && part != "."
            && part != ".."
            && !part.starts_with('-')
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'));
        if !ok {
            return Err(unknown());
        }
    }
    if tz.eq_ignore_ascii_case("Local") {
        return Err(
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                .into(),
        );
    }
    let zoneinfo = std::path::Path::new("/usr/share/zoneinfo");
    // Without a tz database there is nothing to check against; the controller reports it.
    if tz != "UTC" && zoneinfo.is_dir() && !zoneinfo.join(tz).is_file() {
        return Err(unknown());
    }
    Ok(())
}

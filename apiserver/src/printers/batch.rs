//! batch/v1 kinds.

use serde_json::{json, Value};

use super::docs as d;
use super::{
    age, arr_at, at, bool_ptr, col, condition_status, container_cells, format_label_selector,
    human_duration, int_at, int_opt, is_deleting, len_at, name, since, str_at, time_at, wide,
    Column, Now, Printer, AGE, NAME,
};

const CONTAINERS: &str = "Names of each container in the template.";
const IMAGES: &str = "Images referenced by each container in the template.";

pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("batch", "Job", JOB_COLUMNS, job),
    Printer::new("batch", "CronJob", CRON_JOB_COLUMNS, cron_job),
];

const JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", d::JOB_STATUS_SUCCEEDED),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    wide("Containers", "string", CONTAINERS),
    wide("Images", "string", IMAGES),
    wide("Selector", "string", d::JOB_SPEC_SELECTOR),
];

fn job(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let status = &obj["status"];
    let succeeded = int_at(status, &["succeeded"]);
    let completions = match int_opt(&spec["completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(spec, &["parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time_at(status, &["startTime"]),
        time_at(status, &["completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let conditions = arr_at(status, &["conditions"]);
    let has = |kind| condition_status(conditions, kind) == Some("True");
    let state = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if is_deleting(obj) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = container_cells(arr_at(spec, &["template", "spec", "containers"]));
    vec![
        name(obj),
        json!(state),
        json!(completions),
        json!(duration),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(&spec["selector"])),
    ]
}

const CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Schedule", "string", d::CRONJOB_SPEC_SCHEDULE),
    col("Timezone", "string", d::CRONJOB_SPEC_TIMEZONE),
    col("Suspend", "boolean", d::CRONJOB_SPEC_SUSPEND),
    col("Active", "integer", d::CRONJOB_STATUS_ACTIVE),
    col("Last Schedule", "string", d::CRONJOB_STATUS_LAST_SCHEDULE),
    AGE,
    wide("Containers", "string", CONTAINERS),
    wide("Images", "string", IMAGES),
    wide("Selector", "string", d::JOB_SPEC_SELECTOR),
];

fn cron_job(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let last_schedule = match time_at(obj, &["status", "lastScheduleTime"]) {
        Some(t) => since(Some(t), now),
        None => "<none>".into(),
    };
    let time_zone = spec["timeZone"].as_str().unwrap_or("<none>");
    // The API defaults suspend to false.
    let suspend = match &spec["suspend"] {
        Value::Null => Value::Bool(false),
        v => v.clone(),
    };
    let job_spec = at(spec, &["jobTemplate", "spec"]);
    let (names, images) = container_cells(arr_at(job_spec, &["template", "spec", "containers"]));
    vec![
        name(obj),
        json!(str_at(spec, &["schedule"])),
        json!(time_zone),
        json!(bool_ptr(&suspend)),
        json!(len_at(obj, &["status", "active"])),
        json!(last_schedule),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(&job_spec["selector"])),
    ]
}

//! `scheduling.k8s.io/v1` PriorityClass (upstream's pkg/apis/scheduling/validation).

use serde_json::Value;

use super::causes::{immutable, not_supported};
use crate::status::Cause;

/// Upstream's `HighestUserDefinablePriority`.
const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;
/// The classes the `system-` prefix is reserved for: (name, value).
const SYSTEM_CLASSES: &[(&str, i64)] = &[
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    if kind != "PriorityClass" {
        return;
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let value = obj["value"].as_i64().unwrap_or(0);
    let global_default = obj["globalDefault"].as_bool().unwrap_or(false);
    if name.starts_with("system-") {
        let problem = match SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _)) if global_default => {
                Some(format!("globalDefault of {n} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            causes.push(Cause::forbidden(
                "metadata.name",
                &format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {p}"
                ),
            ));
        }
    } else if value > HIGHEST_USER_PRIORITY {
        causes.push(Cause::forbidden(
            "value",
            &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(p) = obj.get("preemptionPolicy").filter(|v| !v.is_null()) {
        match p.as_str().unwrap_or_default() {
            "" => causes.push(Cause::required("preemptionPolicy", "")),
            "PreemptLowerPriority" | "Never" => {}
            _ => causes.push(not_supported(
                "preemptionPolicy",
                p,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
}

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if kind != "PriorityClass" {
        return;
    }
    if old["value"] != new["value"] {
        causes.push(Cause::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    immutable(
        "preemptionPolicy",
        &old["preemptionPolicy"],
        &new["preemptionPolicy"],
        causes,
    );
}

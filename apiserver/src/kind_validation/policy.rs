//! `policy/v1` PodDisruptionBudget (upstream's pkg/apis/policy/validation).

use serde_json::Value;

use super::causes::{invalid_bare, invalid_shown, not_supported, shown, NEGATIVE};
use crate::status::Cause;

const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    if kind != "PodDisruptionBudget" {
        return;
    }
    let spec = &obj["spec"];
    let set = |k: &str| spec.get(k).is_some_and(|v| !v.is_null());
    if set("minAvailable") && set("maxUnavailable") {
        causes.push(invalid_shown(
            "spec",
            &shown(spec),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for key in ["minAvailable", "maxUnavailable"] {
        if set(key) {
            int_or_percent(&spec[key], &format!("spec.{key}"), causes);
        }
    }
    if let Some(p) = spec
        .get("unhealthyPodEvictionPolicy")
        .filter(|v| !v.is_null())
    {
        const POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];
        if !p.as_str().is_some_and(|s| POLICIES.contains(&s)) {
            causes.push(not_supported(
                "spec.unhealthyPodEvictionPolicy",
                p,
                POLICIES,
            ));
        }
    }
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`: a count of at least 0, or
/// a percentage of at most 100. Upstream prints an IntOrString through `String()`, bare.
pub fn int_or_percent(v: &Value, at: &str, causes: &mut Vec<Cause>) {
    match v {
        Value::Number(n) => {
            if n.as_i64().is_some_and(|n| n < 0) {
                causes.push(Cause::invalid_value(at, v, NEGATIVE));
            }
        }
        Value::String(s) => {
            let digits = s
                .strip_suffix('%')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            match digits {
                None => causes.push(invalid_bare(at, s, PERCENT_MSG)),
                Some(d) => {
                    if d.parse::<u64>().map_or(true, |p| p > 100) {
                        causes.push(invalid_bare(at, s, "must not be greater than 100%"));
                    }
                }
            }
        }
        _ => causes.push(invalid_bare(
            at,
            &v.to_string(),
            "must be an integer or percentage (e.g '5%')",
        )),
    }
}

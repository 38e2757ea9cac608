//! `coordination.k8s.io/v1` Lease (upstream's pkg/apis/coordination/validation).

use serde_json::Value;

use super::causes::NEGATIVE;
use crate::status::Cause;

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    if kind != "Lease" {
        return;
    }
    let spec = &obj["spec"];
    if let Some(d) = spec["leaseDurationSeconds"].as_i64().filter(|d| *d <= 0) {
        causes.push(Cause::invalid_value(
            "spec.leaseDurationSeconds",
            &Value::from(d),
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec["leaseTransitions"].as_i64().filter(|t| *t < 0) {
        causes.push(Cause::invalid_value(
            "spec.leaseTransitions",
            &Value::from(t),
            NEGATIVE,
        ));
    }
}

//! `apps/v1` update rules beyond the selector (which `workload_validation` checks):
//! a StatefulSet's spec is fixed except for the fields its controller rolls out.

use serde_json::Value;

use crate::status::Cause;

/// StatefulSet spec fields an update may change (upstream's `ValidateStatefulSetUpdate`).
const STATEFUL_SET_MUTABLE: &[&str] = &[
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "ordinals",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
];

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if kind != "StatefulSet" {
        return;
    }
    let rest = |v: &Value| {
        let mut spec = v["spec"].as_object().cloned().unwrap_or_default();
        for k in STATEFUL_SET_MUTABLE {
            spec.remove(*k);
        }
        spec
    };
    if rest(old) != rest(new) {
        causes.push(Cause::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
}

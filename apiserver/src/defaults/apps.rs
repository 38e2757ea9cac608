//! `apps/v1` defaults (`pkg/apis/apps/v1/defaults.go`); templates get the core pod spec
//! defaults.

use serde_json::{json, Value};

use super::{child, default_str, default_value, each, field, object_at, spec, spec_template};

pub fn apply(kind: &str, obj: &mut Value) {
    match kind {
        "Deployment" => deployment(obj),
        "ReplicaSet" => {
            if let Some(s) = spec(obj) {
                default_value(s, "replicas", json!(1));
            }
        }
        "StatefulSet" => stateful_set(obj),
        "DaemonSet" => daemon_set(obj),
        _ => return,
    }
    spec_template(obj);
}

fn deployment(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    default_value(s, "replicas", json!(1));
    if let Some(strategy) = child(s, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if strategy["type"] == "RollingUpdate" {
            if let Some(ru) = object_at(strategy, "rollingUpdate") {
                for key in ["maxUnavailable", "maxSurge"] {
                    if ru.get(key).is_none_or(Value::is_null) {
                        ru.insert(key.into(), json!("25%"));
                    }
                }
            }
        }
    }
    default_value(s, "revisionHistoryLimit", json!(10));
    default_value(s, "progressDeadlineSeconds", json!(600));
}

fn daemon_set(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    if let Some(strategy) = child(s, "updateStrategy") {
        default_str(strategy, "type", "RollingUpdate");
        if strategy["type"] == "RollingUpdate" {
            if let Some(ru) = object_at(strategy, "rollingUpdate") {
                if ru.get("maxUnavailable").is_none_or(Value::is_null) {
                    ru.insert("maxUnavailable".into(), json!(1));
                }
                if ru.get("maxSurge").is_none_or(Value::is_null) {
                    ru.insert("maxSurge".into(), json!(0));
                }
            }
        }
    }
    default_value(s, "revisionHistoryLimit", json!(10));
}

fn stateful_set(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    default_str(s, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = child(s, "updateStrategy") {
        // A rollingUpdate is only created when the type was left out.
        if super::str_unset(strategy, "type") {
            strategy["type"] = json!("RollingUpdate");
            default_value(strategy, "rollingUpdate", json!({}));
        }
        if strategy["type"] == "RollingUpdate" {
            if let Some(ru) = field(strategy, "rollingUpdate").filter(|r| r.is_object()) {
                default_value(ru, "partition", json!(0));
            }
        }
    }
    if let Some(policy) = child(s, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_value(s, "replicas", json!(1));
    default_value(s, "revisionHistoryLimit", json!(10));
    for claim in each(s, "volumeClaimTemplates") {
        // Upstream's conversion writes the claims' type meta.
        default_str(claim, "apiVersion", "v1");
        default_str(claim, "kind", "PersistentVolumeClaim");
        super::core::persistent_volume_claim(claim);
    }
}

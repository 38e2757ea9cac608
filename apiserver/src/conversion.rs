//! Versions that share storage with another: objects are stored in one version and
//! converted at the storage boundary (upstream converts through an internal version; with
//! two served forms a direct pair of functions does the same).
//!
//! - `autoscaling/v1` HorizontalPodAutoscaler is stored as `autoscaling/v2`. What v1 cannot
//!   express (metrics other than CPU utilization, behavior, conditions) travels in the
//!   `autoscaling.alpha.kubernetes.io/*` annotations, as upstream does.
//! - `events.k8s.io/v1` Event is stored as core `v1` Event (one `/registry/events`).

use serde_json::{json, Map, Value};

pub trait Conversion: Send + Sync {
    /// Served form -> stored form.
    fn to_storage(&self, obj: Value) -> Value;
    /// Stored form -> served form.
    fn to_served(&self, obj: Value) -> Value;
}

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";

fn set_type(obj: &mut Value, api_version: &str, kind: &str) {
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
}

fn set_annotation(obj: &mut Value, key: &str, value: &Value) {
    if !obj["metadata"]["annotations"].is_object() {
        obj["metadata"]["annotations"] = json!({});
    }
    obj["metadata"]["annotations"][key] = json!(value.to_string());
}

fn take_annotation(obj: &mut Value, key: &str) -> Option<Value> {
    // `get_mut`, not indexing: IndexMut would insert `null` for a missing key.
    let m = obj
        .get_mut("metadata")?
        .get_mut("annotations")?
        .as_object_mut()?;
    let raw = m.remove(key)?;
    if m.is_empty() {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("annotations");
        }
    }
    raw.as_str().and_then(|s| serde_json::from_str(s).ok())
}

fn is_cpu_utilization(metric: &Value, target: &str) -> bool {
    metric["type"] == "Resource"
        && metric["resource"]["name"] == "cpu"
        && metric["resource"][target]["type"]
            .as_str()
            .is_none_or(|t| t == "Utilization")
        && !metric["resource"][target]["averageUtilization"].is_null()
}

/// HPA fields with the same name and meaning in v1 and v2.
const SHARED_SPEC: &[&str] = &["scaleTargetRef", "minReplicas", "maxReplicas"];
const SHARED_STATUS: &[&str] = &[
    "observedGeneration",
    "lastScaleTime",
    "currentReplicas",
    "desiredReplicas",
];

/// A new object holding the non-null `keys` of `from`.
fn copied(from: &Value, keys: &[&str]) -> Value {
    let mut to = json!({});
    for k in keys {
        if !from[*k].is_null() {
            to[*k] = from[*k].clone();
        }
    }
    to
}

/// `autoscaling/v1` HorizontalPodAutoscaler over stored `autoscaling/v2`.
pub struct HpaV1;

impl Conversion for HpaV1 {
    fn to_served(&self, mut v2: Value) -> Value {
        let mut v1 = json!({"metadata": v2["metadata"].take()});
        set_type(&mut v1, "autoscaling/v1", "HorizontalPodAutoscaler");
        let spec = &v2["spec"];
        let mut s = copied(spec, SHARED_SPEC);
        let mut other = Vec::new();
        for m in spec["metrics"].as_array().into_iter().flatten() {
            if is_cpu_utilization(m, "target") && s["targetCPUUtilizationPercentage"].is_null() {
                s["targetCPUUtilizationPercentage"] =
                    m["resource"]["target"]["averageUtilization"].clone();
            } else {
                other.push(m.clone());
            }
        }
        if !other.is_empty() {
            set_annotation(&mut v1, METRICS, &Value::Array(other));
        }
        if !spec["behavior"].is_null() {
            set_annotation(&mut v1, BEHAVIOR, &spec["behavior"]);
        }
        v1["spec"] = s;
        let status = &v2["status"];
        if status.is_object() {
            let mut st = copied(status, SHARED_STATUS);
            let mut other = Vec::new();
            for m in status["currentMetrics"].as_array().into_iter().flatten() {
                if is_cpu_utilization(m, "current")
                    && st["currentCPUUtilizationPercentage"].is_null()
                {
                    st["currentCPUUtilizationPercentage"] =
                        m["resource"]["current"]["averageUtilization"].clone();
                } else {
                    other.push(m.clone());
                }
            }
            if !other.is_empty() {
                set_annotation(&mut v1, CURRENT_METRICS, &Value::Array(other));
            }
            if let Some(c) = status["conditions"].as_array().filter(|c| !c.is_empty()) {
                set_annotation(&mut v1, CONDITIONS, &Value::Array(c.clone()));
            }
            st["currentReplicas"] = st["currentReplicas"]
                .take()
                .as_i64()
                .map_or(json!(0), |n| json!(n));
            v1["status"] = st;
        }
        v1
    }

    fn to_storage(&self, mut v1: Value) -> Value {
        let metrics = take_annotation(&mut v1, METRICS);
        let behavior = take_annotation(&mut v1, BEHAVIOR);
        let current = take_annotation(&mut v1, CURRENT_METRICS);
        let conditions = take_annotation(&mut v1, CONDITIONS);
        let mut v2 = json!({"metadata": v1["metadata"].take()});
        set_type(&mut v2, "autoscaling/v2", "HorizontalPodAutoscaler");
        let spec = &v1["spec"];
        let mut s = copied(spec, SHARED_SPEC);
        let mut ms = Vec::new();
        if let Some(t) = spec["targetCPUUtilizationPercentage"].as_i64() {
            ms.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": t}}}));
        }
        ms.extend(
            metrics
                .and_then(|m| m.as_array().cloned())
                .unwrap_or_default(),
        );
        if !ms.is_empty() {
            s["metrics"] = Value::Array(ms);
        }
        if let Some(b) = behavior {
            s["behavior"] = b;
        }
        v2["spec"] = s;
        let status = &v1["status"];
        if status.is_object() {
            let mut st = copied(status, SHARED_STATUS);
            let mut cm = Vec::new();
            if let Some(c) = status["currentCPUUtilizationPercentage"].as_i64() {
                cm.push(json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}));
            }
            cm.extend(
                current
                    .and_then(|m| m.as_array().cloned())
                    .unwrap_or_default(),
            );
            if !cm.is_empty() {
                st["currentMetrics"] = Value::Array(cm);
            }
            if let Some(c) = conditions {
                st["conditions"] = c;
            }
            v2["status"] = st;
        }
        v2
    }
}

/// Field names that differ between `events.k8s.io/v1` (left) and core `v1` (right).
const EVENT_RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn rename(obj: Value, from_events_v1: bool) -> Value {
    let Value::Object(map) = obj else { return obj };
    map.into_iter()
        .map(|(k, v)| {
            let renamed = EVENT_RENAMES.iter().find_map(|(ev1, core)| {
                let (from, to) = if from_events_v1 {
                    (ev1, core)
                } else {
                    (core, ev1)
                };
                (k == *from).then(|| to.to_string())
            });
            (renamed.unwrap_or(k), v)
        })
        .collect::<Map<String, Value>>()
        .into()
}

/// `events.k8s.io/v1` Event over stored core `v1` Event.
pub struct EventsV1;

impl Conversion for EventsV1 {
    fn to_served(&self, core: Value) -> Value {
        let mut v = rename(core, false);
        set_type(&mut v, "events.k8s.io/v1", "Event");
        v
    }

    fn to_storage(&self, ev1: Value) -> Value {
        let mut v = rename(ev1, true);
        set_type(&mut v, "v1", "Event");
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_between_v1_and_v2() {
        let v2 = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "namespace": "d"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}
                ]
            }
        });
        let v1 = HpaV1.to_served(v2.clone());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert!(v1["metadata"]["annotations"][METRICS]
            .as_str()
            .unwrap()
            .contains("memory"));
        assert_eq!(HpaV1.to_storage(v1), v2);
    }

    #[test]
    fn events_rename_both_ways() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hi", "reason": "Started", "count": 2});
        let ev1 = EventsV1.to_served(core.clone());
        assert_eq!(ev1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(ev1["regarding"]["name"], "p");
        assert_eq!(ev1["note"], "hi");
        assert_eq!(ev1["deprecatedCount"], 2);
        assert_eq!(EventsV1.to_storage(ev1), core);
    }
}

//! The `/scale` subresource: an `autoscaling/v1` Scale view of a workload's
//! `spec.replicas`, `status.replicas` and label selector.

use serde_json::{json, Value};

use crate::status::Cause;

/// The Scale of a workload object (Deployment, ReplicaSet, StatefulSet, ReplicationController).
pub fn of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut metadata = json!({});
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if !meta[k].is_null() {
            metadata[k] = meta[k].clone();
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector_string(&obj["spec"]["selector"]),
        },
    })
}

/// The replicas a Scale asks for, validated as upstream (`spec.replicas` >= 0).
pub fn requested_replicas(scale: &Value) -> Result<i64, Vec<Cause>> {
    match &scale["spec"]["replicas"] {
        Value::Null => Ok(0),
        v => match v.as_i64() {
            Some(n) if n >= 0 && n <= i64::from(i32::MAX) => Ok(n),
            Some(_) => Err(vec![Cause::invalid_value(
                "spec.replicas",
                v,
                "must be greater than or equal to 0",
            )]),
            None => Err(vec![Cause::invalid(
                "spec.replicas",
                &v.to_string(),
                "must be an integer",
            )]),
        },
    }
}

/// A selector in its string form: a LabelSelector (`matchLabels` + `matchExpressions`) or a
/// plain map (ReplicationControllers), requirements sorted by key as upstream prints them.
pub fn selector_string(sel: &Value) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    let labels = if sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some() {
        &sel["matchLabels"]
    } else {
        sel
    };
    for (k, v) in labels.as_object().into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let req = match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        reqs.push((key.to_string(), req));
    }
    reqs.sort();
    reqs.into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_of_a_deployment() {
        let d = json!({
            "metadata": {"name": "web", "namespace": "d", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}},
            "status": {"replicas": 2}
        });
        let s = of(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web,tier in (a,b)");
        assert!(s["metadata"].get("labels").is_none());
    }

    #[test]
    fn replication_controller_selectors_are_maps() {
        assert_eq!(selector_string(&json!({"b": "2", "a": "1"})), "a=1,b=2");
    }

    #[test]
    fn negative_replicas_are_invalid() {
        assert!(requested_replicas(&json!({"spec": {"replicas": -1}})).is_err());
        assert_eq!(requested_replicas(&json!({"spec": {"replicas": 4}})), Ok(4));
    }
}

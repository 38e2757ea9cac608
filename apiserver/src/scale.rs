//! The `/scale` subresource: an `autoscaling/v1` Scale view of a workload's
//! `spec.replicas`, `status.replicas` and label selector.

use serde_json::{json, Value};

use crate::status::Cause;

/// Where a custom resource keeps what its Scale shows (its CRD's `subresources.scale`),
/// as JSON paths split into segments.
#[derive(Clone, Debug, Default)]
pub struct CustomPaths {
    pub spec_replicas: Vec<String>,
    pub status_replicas: Vec<String>,
    pub label_selector: Option<Vec<String>>,
}

impl CustomPaths {
    /// From `.spec.replicas`-style paths (validated with the CRD).
    pub fn new(spec: &str, status: &str, selector: Option<&str>) -> CustomPaths {
        let split = |p: &str| {
            p.trim_start_matches('.')
                .split('.')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        CustomPaths {
            spec_replicas: split(spec),
            status_replicas: split(status),
            label_selector: selector.map(split),
        }
    }
}

fn at<'a>(obj: &'a Value, path: &[String]) -> &'a Value {
    path.iter().fold(obj, |v, k| &v[k.as_str()])
}

/// The Scale of `obj`: a custom resource's through its paths, a workload's otherwise.
pub fn of_resource(info: &crate::resource::ResourceInfo, obj: &Value) -> Value {
    let Some(paths) = info.custom.as_ref().and_then(|c| c.scale.as_ref()) else {
        return of(obj);
    };
    let mut scale = of(obj);
    scale["spec"]["replicas"] = json!(at(obj, &paths.spec_replicas).as_i64().unwrap_or(0));
    scale["status"]["replicas"] = json!(at(obj, &paths.status_replicas).as_i64().unwrap_or(0));
    match paths.label_selector.as_ref().map(|p| at(obj, p)) {
        Some(Value::String(s)) => scale["status"]["selector"] = json!(s),
        _ => {
            if let Some(st) = scale["status"].as_object_mut() {
                st.remove("selector");
            }
        }
    }
    scale
}

/// Write the replicas a Scale asked for into `obj`.
pub fn set_replicas(info: &crate::resource::ResourceInfo, obj: &mut Value, replicas: i64) {
    let path: Vec<String> = match info.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        Some(p) => p.spec_replicas.clone(),
        None => vec!["spec".into(), "replicas".into()],
    };
    let mut cur = obj;
    for (i, k) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        if i + 1 == path.len() {
            cur[k.as_str()] = json!(replicas);
            return;
        }
        cur = &mut cur[k.as_str()];
    }
}

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

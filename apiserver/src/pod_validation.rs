//! Pod update rules (upstream's `ValidatePodUpdate` and
//! `ValidatePodEphemeralContainersUpdate`): a running pod's spec is fixed except for
//! container images, a shorter `activeDeadlineSeconds`, added tolerations and removed
//! scheduling gates; ephemeral containers are only ever added, through their subresource.

use serde_json::{json, Value};

use crate::status::Cause;
use crate::strategy::Part;

const UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Fields an ephemeral container may not set: it runs beside the pod, never serves it.
const NOT_FOR_EPHEMERAL: &[&str] = &[
    "lifecycle",
    "livenessProbe",
    "ports",
    "readinessProbe",
    "resizePolicy",
    "resources",
    "restartPolicy",
    "startupProbe",
];

pub fn validate_update(old: &Value, new: &Value, part: Part, causes: &mut Vec<Cause>) {
    match part {
        Part::Main => validate_spec_update(old, new, causes),
        Part::EphemeralContainers => validate_ephemeral_update(old, new, causes),
        _ => {}
    }
}

fn validate_spec_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let (old_spec, new_spec) = (&old["spec"], &new["spec"]);
    for key in ["containers", "initContainers"] {
        for (i, c) in new_spec[key].as_array().into_iter().flatten().enumerate() {
            if c["image"].as_str().is_none_or(str::is_empty) {
                causes.push(Cause::required(&format!("spec.{key}[{i}].image"), ""));
            }
        }
    }
    if let Some(old_deadline) = old_spec["activeDeadlineSeconds"].as_i64() {
        match new_spec["activeDeadlineSeconds"].as_i64() {
            Some(d) if d > old_deadline => causes.push(Cause::invalid_value(
                "spec.activeDeadlineSeconds",
                &json!(d),
                "must be less than or equal to previous value",
            )),
            None => causes.push(Cause::invalid_value(
                "spec.activeDeadlineSeconds",
                &Value::Null,
                "must not update from a positive integer to nil value",
            )),
            _ => {}
        }
    }
    // Compare what may not change: the new spec with its updatable fields put back.
    let mut munged = new_spec.clone();
    for key in ["containers", "initContainers"] {
        let olds = old_spec[key].as_array();
        let news = munged.get_mut(key).and_then(Value::as_array_mut);
        if let (Some(news), Some(olds)) = (news, olds) {
            if news.len() == olds.len() {
                for (n, o) in news.iter_mut().zip(olds) {
                    n["image"] = o["image"].clone();
                }
            }
        }
    }
    put_back(&mut munged, old_spec, "activeDeadlineSeconds");
    let old_tolerations = old_spec["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let only_added = munged["tolerations"]
        .as_array()
        .is_some_and(|new| old_tolerations.iter().all(|t| new.contains(t)));
    if only_added || old_tolerations.is_empty() && munged["tolerations"].is_null() {
        put_back(&mut munged, old_spec, "tolerations");
    }
    if old_spec["terminationGracePeriodSeconds"]
        .as_i64()
        .is_some_and(|g| g < 0)
        && munged["terminationGracePeriodSeconds"] == 1
    {
        put_back(&mut munged, old_spec, "terminationGracePeriodSeconds");
    }
    // Scheduling gates can only be removed.
    let old_gates = old_spec["schedulingGates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if munged["schedulingGates"]
        .as_array()
        .is_none_or(|g| g.iter().all(|x| old_gates.contains(x)))
    {
        put_back(&mut munged, old_spec, "schedulingGates");
    }
    if munged != *old_spec {
        let diff = differences("spec", old_spec, &munged);
        causes.push(Cause::forbidden(
            "spec",
            &format!(
                "pod updates may not change fields other than {UPDATABLE}\n{}",
                diff.join("\n")
            ),
        ));
    }
}

fn put_back(munged: &mut Value, old: &Value, key: &str) {
    match old.get(key) {
        Some(v) => munged[key] = v.clone(),
        None => {
            if let Some(m) = munged.as_object_mut() {
                m.remove(key);
            }
        }
    }
}

/// Where two values differ, one line per leaf: a readable stand-in for upstream's diff.
fn differences(path: &str, old: &Value, new: &Value) -> Vec<String> {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .flat_map(|k| {
                    differences(
                        &format!("{path}.{k}"),
                        a.get(k).unwrap_or(&Value::Null),
                        b.get(k).unwrap_or(&Value::Null),
                    )
                })
                .collect()
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .flat_map(|(i, (x, y))| differences(&format!("{path}[{i}]"), x, y))
            .collect(),
        (a, b) if a == b => Vec::new(),
        (a, b) => vec![format!("  {path}: {a} -> {b}")],
    }
}

fn validate_ephemeral_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    const PATH: &str = "spec.ephemeralContainers";
    let news = new["spec"]["ephemeralContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let olds = old["spec"]["ephemeralContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for o in &olds {
        let name = o["name"].as_str().unwrap_or_default();
        match news.iter().find(|n| n["name"] == o["name"]) {
            None => causes.push(Cause::forbidden(
                PATH,
                &format!("existing ephemeral containers \"{name}\" may not be removed\n"),
            )),
            Some(n) if n != o => causes.push(Cause::forbidden(
                PATH,
                &format!(
                    "existing ephemeral containers \"{name}\" may not be changed\n{}",
                    differences("", o, n).join("\n")
                ),
            )),
            Some(_) => {}
        }
    }
    let spec = &new["spec"];
    let mut names: Vec<String> = ["containers", "initContainers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let targets = names.clone();
    for (i, c) in news.iter().enumerate() {
        let at = |f: &str| format!("{PATH}[{i}].{f}");
        if olds.iter().any(|o| o["name"] == c["name"]) {
            names.push(c["name"].as_str().unwrap_or_default().to_string());
            continue;
        }
        match c["name"].as_str().filter(|n| !n.is_empty()) {
            None => causes.push(Cause::required(&at("name"), "")),
            Some(n) => {
                for why in crate::validation::dns1123_label_errors(n) {
                    causes.push(Cause::invalid(&at("name"), n, &why));
                }
                if names.iter().any(|x| x == n) {
                    causes.push(Cause {
                        reason: "FieldValueDuplicate".into(),
                        message: format!("Duplicate value: \"{n}\""),
                        field: at("name"),
                    });
                }
                names.push(n.to_string());
            }
        }
        if c["image"].as_str().is_none_or(str::is_empty) {
            causes.push(Cause::required(&at("image"), ""));
        }
        for f in NOT_FOR_EPHEMERAL {
            if c.get(*f).is_some_and(|v| !is_zero(v)) {
                causes.push(Cause::forbidden(
                    &at(f),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        if let Some(t) = c["targetContainerName"].as_str().filter(|t| !t.is_empty()) {
            if !targets.iter().any(|x| x == t) {
                causes.push(Cause {
                    reason: "FieldValueNotFound".into(),
                    message: format!("Not found: \"{t}\""),
                    field: at("targetContainerName"),
                });
            }
        }
    }
}

/// Go's zero value: what an unset struct field serializes as.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_zero),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({"spec": {
            "containers": [{"name": "app", "image": "busybox:1", "ports": [{"containerPort": 80}]}],
            "restartPolicy": "Always",
            "activeDeadlineSeconds": 100,
            "tolerations": [{"key": "a", "operator": "Exists"}],
        }})
    }

    fn fields(c: &[Cause]) -> Vec<&str> {
        c.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn images_deadlines_and_tolerations_may_change() {
        let old = pod();
        let mut new = pod();
        new["spec"]["containers"][0]["image"] = json!("busybox:2");
        new["spec"]["activeDeadlineSeconds"] = json!(50);
        new["spec"]["tolerations"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "b", "operator": "Exists"}));
        let mut c = Vec::new();
        validate_update(&old, &new, Part::Main, &mut c);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn anything_else_is_forbidden() {
        let old = pod();
        let mut new = pod();
        new["spec"]["restartPolicy"] = json!("Never");
        new["spec"]["activeDeadlineSeconds"] = json!(200);
        new["spec"]["tolerations"] = json!([]);
        new["spec"]["containers"][0]["image"] = json!("");
        let mut c = Vec::new();
        validate_update(&old, &new, Part::Main, &mut c);
        assert_eq!(
            fields(&c),
            [
                "spec.containers[0].image",
                "spec.activeDeadlineSeconds",
                "spec"
            ]
        );
        assert!(c[2].message.starts_with(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
        ));
        assert!(c[2]
            .message
            .contains("spec.restartPolicy: \"Always\" -> \"Never\""));
        // The status subresource and the server's own writes are not held to this.
        let mut c = Vec::new();
        validate_update(&old, &new, Part::Status, &mut c);
        assert!(c.is_empty());
    }

    #[test]
    fn ephemeral_containers_are_only_added() {
        let mut old = pod();
        old["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "busybox"}]);
        let mut new = old.clone();
        new["spec"]["ephemeralContainers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "dbg2", "image": "busybox", "targetContainerName": "app"}));
        let mut c = Vec::new();
        validate_update(&old, &new, Part::EphemeralContainers, &mut c);
        assert!(c.is_empty(), "{c:?}");

        let mut bad = pod();
        bad["spec"]["ephemeralContainers"] = json!([
            {"name": "app", "image": "busybox", "ports": [{"containerPort": 1}]},
            {"name": "x", "targetContainerName": "nope"},
        ]);
        let mut c = Vec::new();
        validate_update(&old, &bad, Part::EphemeralContainers, &mut c);
        assert_eq!(
            fields(&c),
            [
                "spec.ephemeralContainers",
                "spec.ephemeralContainers[0].name",
                "spec.ephemeralContainers[0].ports",
                "spec.ephemeralContainers[1].image",
                "spec.ephemeralContainers[1].targetContainerName",
            ]
        );
        assert!(c[0].message.contains("\"dbg\" may not be removed"));
    }
}

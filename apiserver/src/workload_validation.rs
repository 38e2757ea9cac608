//! Validation of pods and of the workloads that carry pod templates, with upstream's field
//! paths and messages (k8s.io/kubernetes/pkg/apis/{core,apps,batch}/validation). This is
//! the subset that guards the common mistakes: negative replicas, selectors that miss
//! their template, containers without a name or image.

use serde_json::Value;

use crate::resource::ResourceInfo;
use crate::selector::LabelSelector;
use crate::status::Cause;

/// Kinds with `spec.replicas`, `spec.selector` and `spec.template`.
fn is_replicated(info: &ResourceInfo) -> bool {
    matches!(
        (info.group.as_str(), info.kind.as_str()),
        (
            "apps",
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
        ) | ("", "ReplicationController")
    )
}

pub fn validate(info: &ResourceInfo, obj: &Value, causes: &mut Vec<Cause>) {
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Pod") => pod_spec(&obj["spec"], "spec", causes),
        ("", "PodTemplate") => pod_spec(&obj["template"]["spec"], "template.spec", causes),
        _ if is_replicated(info) => {
            let spec = &obj["spec"];
            if info.kind != "DaemonSet" {
                if let Some(n) = spec["replicas"].as_i64().filter(|n| *n < 0) {
                    causes.push(Cause::invalid_value(
                        "spec.replicas",
                        &Value::from(n),
                        "must be greater than or equal to 0",
                    ));
                }
            }
            selector_matches_template(info, spec, causes);
            if info.kind == "StatefulSet" {
                pod_spec(&with_claim_volumes(spec), "spec.template.spec", causes);
            } else {
                pod_spec(&spec["template"]["spec"], "spec.template.spec", causes);
            }
        }
        ("batch", "Job") => pod_spec(
            &obj["spec"]["template"]["spec"],
            "spec.template.spec",
            causes,
        ),
        ("batch", "CronJob") => pod_spec(
            &obj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            "spec.jobTemplate.spec.template.spec",
            causes,
        ),
        _ => {}
    }
}

/// `spec.selector` is required, non-empty and must select the template's labels.
fn selector_matches_template(info: &ResourceInfo, spec: &Value, causes: &mut Vec<Cause>) {
    let selector = &spec["selector"];
    // ReplicationControllers default their selector from the template.
    if info.kind == "ReplicationController" && selector.is_null() {
        return;
    }
    let text = crate::scale::selector_string(selector);
    if selector.is_null() {
        causes.push(Cause::required("spec.selector", ""));
        return;
    }
    if text.is_empty() {
        causes.push(Cause::invalid_value(
            "spec.selector",
            selector,
            &format!("empty selector is invalid for {}", info.singular),
        ));
        return;
    }
    let labels = spec["template"]["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let matches = LabelSelector::parse(&text).is_ok_and(|s| s.matches(&labels));
    if !matches {
        causes.push(Cause::invalid_value(
            "spec.template.metadata.labels",
            &spec["template"]["metadata"]["labels"],
            "`selector` does not match template `labels`",
        ));
    }
}

/// A StatefulSet's template spec as its pods get it: each volume claim template is a
/// volume, so mounts of claims resolve (upstream leaves them out of template validation).
fn with_claim_volumes(spec: &Value) -> Value {
    let mut pod = spec["template"]["spec"].clone();
    let claims: Vec<Value> = spec["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["metadata"]["name"].as_str())
        .map(|name| serde_json::json!({"name": name, "persistentVolumeClaim": {"claimName": name}}))
        .collect();
    if let Some(map) = pod.as_object_mut().filter(|_| !claims.is_empty()) {
        let volumes = map
            .entry("volumes")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = volumes.as_array_mut() {
            let taken: Vec<Value> = list.iter().map(|v| v["name"].clone()).collect();
            list.extend(claims.into_iter().filter(|c| !taken.contains(&c["name"])));
        }
    }
    pod
}

/// A pod spec, wherever it sits (pods, templates): `pod_spec_validation` has the rules.
fn pod_spec(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    crate::pod_spec_validation::validate(spec, path, causes);
}

/// `spec.selector` of apps/v1 workloads and Jobs cannot change.
pub fn validate_update(info: &ResourceInfo, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let immutable = (info.group == "apps" && is_replicated(info))
        || (info.group == "batch" && info.kind == "Job");
    if immutable && old["spec"]["selector"] != new["spec"]["selector"] {
        causes.push(Cause::invalid_value(
            "spec.selector",
            &new["spec"]["selector"],
            "field is immutable",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> ResourceInfo {
        crate::builtin::resources()
            .into_iter()
            .find(|r| r.plural == "deployments")
            .unwrap()
    }

    fn fields(causes: &[Cause]) -> Vec<&str> {
        causes.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn deployment_rules() {
        let d = deployment();
        let good = json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
        let mut c = Vec::new();
        validate(&d, &good, &mut c);
        assert!(c.is_empty(), "{c:?}");

        let bad = json!({"spec": {"replicas": -1, "selector": {"matchLabels": {"app": "b"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x"}]}}}});
        validate(&d, &bad, &mut c);
        assert_eq!(
            fields(&c),
            vec![
                "spec.replicas",
                "spec.template.metadata.labels",
                "spec.template.spec.containers[0].image",
                "spec.template.spec.containers[1].name"
            ]
        );
        assert_eq!(
            c[0].message,
            "Invalid value: -1: must be greater than or equal to 0"
        );

        let mut c = Vec::new();
        let mut changed = good.clone();
        changed["spec"]["selector"] = json!({"matchLabels": {"app": "z"}});
        validate_update(&d, &good, &changed, &mut c);
        assert_eq!(fields(&c), vec!["spec.selector"]);
    }

    #[test]
    fn stateful_set_mounts_may_name_claim_templates() {
        let info = crate::builtin::resources()
            .into_iter()
            .find(|r| r.plural == "statefulsets")
            .unwrap();
        let set = |claim: &str| {
            json!({"spec": {"selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [
                    {"name": "c", "image": "nginx", "volumeMounts": [{"name": "www", "mountPath": "/w"}]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": claim}}]}})
        };
        let mut c = Vec::new();
        validate(&info, &set("www"), &mut c);
        assert!(c.is_empty(), "{c:?}");
        validate(&info, &set("other"), &mut c);
        assert_eq!(
            fields(&c),
            vec!["spec.template.spec.containers[0].volumeMounts[0].name"]
        );
    }
}

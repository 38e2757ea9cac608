//! Defaults of the remaining groups, each as upstream's `pkg/apis/<group>/<version>/
//! defaults.go` (and apiextensions' and the aggregator's).

use serde_json::{json, Value};

use super::{child, default_int, default_str, default_value, each, field, spec};

pub fn apply(group: &str, version: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("networking.k8s.io", "NetworkPolicy") => network_policy(obj),
        ("networking.k8s.io", "IngressClass") => {
            if let Some(p) = field(obj, "spec").and_then(|s| field(s, "parameters")) {
                default_value(p, "scope", json!("Cluster"));
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(version, obj),
        ("scheduling.k8s.io", "PriorityClass") => {
            default_value(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("storage.k8s.io", "StorageClass") => {
            default_value(obj, "reclaimPolicy", json!("Delete"));
            default_value(obj, "volumeBindingMode", json!("Immediate"));
        }
        ("storage.k8s.io", "CSIDriver") => csi_driver(obj),
        ("discovery.k8s.io", "EndpointSlice") => {
            for p in each(obj, "ports") {
                default_value(p, "name", json!(""));
                default_value(p, "protocol", json!("TCP"));
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            if let Some(r) = child(obj, "roleRef") {
                default_str(r, "apiGroup", "rbac.authorization.k8s.io");
            }
            for s in each(obj, "subjects") {
                if super::str_unset(s, "apiGroup") {
                    // ServiceAccount subjects default to "", which upstream omits.
                    if matches!(s["kind"].as_str(), Some("User" | "Group")) {
                        s["apiGroup"] = json!("rbac.authorization.k8s.io");
                    }
                }
            }
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            if let Some(s) = spec(obj) {
                if s["usages"].as_array().is_none_or(|u| u.is_empty()) {
                    s["usages"] = json!(["digital signature", "key encipherment"]);
                }
            }
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => {
            if let Some(s) = spec(obj) {
                default_int(s, "matchingPrecedence", 1000);
            }
        }
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => priority_level(obj),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            for w in each(obj, "webhooks") {
                webhook(w, false);
            }
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            for w in each(obj, "webhooks") {
                webhook(w, true);
            }
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            if let Some(s) = spec(obj) {
                default_value(s, "failurePolicy", json!("Fail"));
                if let Some(m) = field(s, "matchConstraints").filter(|m| m.is_object()) {
                    match_resources(m);
                }
            }
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            if let Some(m) = field(obj, "spec")
                .and_then(|s| field(s, "matchResources"))
                .filter(|m| m.is_object())
            {
                match_resources(m);
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj),
        ("apiregistration.k8s.io", "APIService") => {
            if let Some(svc) = field(obj, "spec").and_then(|s| field(s, "service")) {
                default_value(svc, "port", json!(443));
            }
        }
        _ => {}
    }
}

fn network_policy(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    for dir in ["ingress", "egress"] {
        for rule in each(s, dir) {
            for p in each(rule, "ports") {
                default_value(p, "protocol", json!("TCP"));
            }
        }
    }
    if s["policyTypes"].as_array().is_none_or(|t| t.is_empty()) {
        let mut types = vec![json!("Ingress")];
        if s["egress"].as_array().is_some_and(|e| !e.is_empty()) {
            types.push(json!("Egress"));
        }
        s["policyTypes"] = Value::Array(types);
    }
}

fn hpa(version: &str, obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    default_value(s, "minReplicas", json!(1));
    if version == "v1" {
        // Stored as v2, where a missing metric list becomes CPU at 80%; v1 shows that as
        // its target.
        default_value(s, "targetCPUUtilizationPercentage", json!(80));
        return;
    }
    if s["metrics"].as_array().is_none_or(|m| m.is_empty()) {
        s["metrics"] = json!([{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }]);
    }
    // A given behavior gets every missing rule filled in.
    if let Some(b) = field(s, "behavior").filter(|b| b.is_object()) {
        let up = json!({
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        });
        let down = json!({
            "stabilizationWindowSeconds": 300,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        });
        for (key, defaults) in [("scaleUp", up), ("scaleDown", down)] {
            let mut rules = defaults;
            if let Some(given) = b[key].as_object() {
                for (k, v) in given {
                    if !v.is_null() {
                        rules[k.as_str()] = v.clone();
                    }
                }
            }
            b[key] = rules;
        }
    }
}

fn csi_driver(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    default_value(s, "attachRequired", json!(true));
    default_value(s, "podInfoOnMount", json!(false));
    default_value(s, "storageCapacity", json!(false));
    default_value(s, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    if s["volumeLifecycleModes"]
        .as_array()
        .is_none_or(|m| m.is_empty())
    {
        s["volumeLifecycleModes"] = json!(["Persistent"]);
    }
    default_value(s, "requiresRepublish", json!(false));
    // SELinuxMountReadWriteOncePod is on by default in v1.33.
    default_value(s, "seLinuxMount", json!(false));
}

fn priority_level(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    if let Some(e) = field(s, "exempt").filter(|e| e.is_object()) {
        default_value(e, "nominalConcurrencyShares", json!(0));
        default_value(e, "lendablePercent", json!(0));
    }
    if let Some(l) = field(s, "limited").filter(|l| l.is_object()) {
        default_value(l, "nominalConcurrencyShares", json!(30));
        default_value(l, "lendablePercent", json!(0));
        if let Some(q) = field(l, "limitResponse").and_then(|r| field(r, "queuing")) {
            default_int(q, "handSize", 8);
            default_int(q, "queues", 64);
            default_int(q, "queueLengthLimit", 50);
        }
    }
}

fn webhook(w: &mut Value, mutating: bool) {
    default_value(w, "failurePolicy", json!("Fail"));
    default_value(w, "matchPolicy", json!("Equivalent"));
    default_value(w, "namespaceSelector", json!({}));
    default_value(w, "objectSelector", json!({}));
    default_value(w, "timeoutSeconds", json!(10));
    if mutating {
        default_value(w, "reinvocationPolicy", json!("Never"));
    }
    for r in each(w, "rules") {
        default_value(r, "scope", json!("*"));
    }
    if let Some(svc) = field(w, "clientConfig").and_then(|c| field(c, "service")) {
        default_value(svc, "port", json!(443));
    }
}

fn match_resources(m: &mut Value) {
    default_value(m, "matchPolicy", json!("Equivalent"));
    default_value(m, "namespaceSelector", json!({}));
    default_value(m, "objectSelector", json!({}));
    for key in ["resourceRules", "excludeResourceRules"] {
        for r in each(m, key) {
            default_value(r, "scope", json!("*"));
        }
    }
}

fn crd(obj: &mut Value) {
    let Some(s) = spec(obj) else { return };
    if let Some(names) = field(s, "names").filter(|n| n.is_object()) {
        let kind = names["kind"].as_str().unwrap_or_default().to_string();
        default_str(names, "singular", &kind.to_lowercase());
        if !kind.is_empty() {
            default_str(names, "listKind", &format!("{kind}List"));
        }
    }
    default_value(s, "conversion", json!({"strategy": "None"}));
    if let Some(svc) = field(s, "conversion")
        .and_then(|c| field(c, "webhook"))
        .and_then(|w| field(w, "clientConfig"))
        .and_then(|c| field(c, "service"))
    {
        default_value(svc, "port", json!(443));
    }
}

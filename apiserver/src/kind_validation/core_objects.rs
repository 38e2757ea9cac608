//! Core (`v1`) kinds: ConfigMap and Secret (size, per-type keys, `immutable`), Node
//! (taints, pod CIDRs), ResourceQuota, LimitRange, and Service's cluster IP update rule
//! (upstream's pkg/apis/core/validation/validation.go).

use base64::Engine;
use serde_json::Value;

use super::causes::{
    child, duplicate, go_strings, immutable, invalid_bare, invalid_shown, items, non_empty,
    not_supported, parse_cidr, quantity_nanos, quantity_string, too_long, CIDR_INVALID, NEGATIVE,
};
use crate::status::Cause;
use crate::validation::{label_key_errors, label_value_errors};

/// Upstream's `core.MaxSecretSize`, which also bounds ConfigMaps.
const MAX_DATA_SIZE: usize = 1024 * 1024;
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "ConfigMap" => config_map(obj, causes),
        "Secret" => secret(obj, causes),
        "Node" => node(obj, causes),
        "ResourceQuota" => resource_quota(obj, causes),
        "LimitRange" => limit_range(obj, causes),
        "Namespace" => namespace(obj, causes),
        "Event" => event(obj, causes),
        _ => {}
    }
}

/// Namespace finalizers are qualified names; unprefixed ones must be the standard one.
fn namespace(obj: &Value, causes: &mut Vec<Cause>) {
    for (_, f) in items(&obj["spec"], "finalizers") {
        let name = f.as_str().unwrap_or_default();
        let errs = label_key_errors(name);
        for e in &errs {
            causes.push(Cause::invalid("spec.finalizers", name, e));
        }
        if errs.is_empty() && !name.contains('/') && name != "kubernetes" {
            causes.push(Cause::invalid(
                "spec.finalizers",
                name,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

/// A legacy (`eventTime`-less) core Event lives in its involved object's namespace, or in
/// `default` when that object is cluster-scoped (upstream's `legacyValidateEvent`).
fn event(obj: &Value, causes: &mut Vec<Cause>) {
    if !obj["eventTime"].is_null() {
        return;
    }
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let involved = obj["involvedObject"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let ok = if involved.is_empty() {
        ns.is_empty() || ns == "default"
    } else {
        ns == involved
    };
    if !ok {
        causes.push(Cause::invalid(
            "involvedObject.namespace",
            involved,
            "does not match event.namespace",
        ));
    }
}

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "ConfigMap" => frozen_data(old, new, &["data", "binaryData"], causes),
        "Secret" => {
            immutable("type", &old["type"], &new["type"], causes);
            // stringData was folded into data before validation, as upstream converts it.
            frozen_data(old, new, &["data"], causes);
        }
        "Node" => node_update(old, new, causes),
        "Service" => cluster_ips_update(old, new, causes),
        _ => {}
    }
}

/// Bytes a data value holds: `data` of a Secret and `binaryData` of a ConfigMap are
/// base64 on the wire.
fn decoded_len(v: &Value, base64: bool) -> usize {
    let s = v.as_str().unwrap_or_default();
    if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_or(s.len(), |b| b.len())
    } else {
        s.len()
    }
}

fn total_size(obj: &Value, fields: &[(&str, bool)]) -> usize {
    fields
        .iter()
        .flat_map(|(f, b64)| {
            obj[*f]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .map(move |v| decoded_len(v, *b64))
        })
        .sum()
}

fn config_map(obj: &Value, causes: &mut Vec<Cause>) {
    if total_size(obj, &[("data", false), ("binaryData", true)]) > MAX_DATA_SIZE {
        // Upstream passes an empty path: the error is about the whole object.
        causes.push(too_long("", MAX_DATA_SIZE));
    }
}

fn secret(obj: &Value, causes: &mut Vec<Cause>) {
    let data = &obj["data"];
    let has = |k: &str| data.get(k).is_some_and(|v| !v.is_null());
    let required = |k: &str| Cause::required(&format!("data[{k}]"), "");
    match obj["type"].as_str().unwrap_or_default() {
        "kubernetes.io/service-account-token"
            if non_empty(
                &obj["metadata"]["annotations"],
                "kubernetes.io/service-account.name",
            )
            .is_none() =>
        {
            causes.push(Cause::required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            ));
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => causes.push(required(".dockercfg")),
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            causes.push(required(".dockerconfigjson"))
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            causes.push(required("username"));
            causes.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if decoded_len(&data["ssh-privatekey"], true) == 0 => {
            causes.push(required("ssh-privatekey"))
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    causes.push(required(k));
                }
            }
        }
        _ => {}
    }
    if total_size(obj, &[("data", true)]) > MAX_DATA_SIZE {
        causes.push(too_long("data", MAX_DATA_SIZE));
    }
}

/// `immutable: true` freezes the data and itself.
fn frozen_data(old: &Value, new: &Value, fields: &[&str], causes: &mut Vec<Cause>) {
    if old["immutable"] != Value::Bool(true) {
        return;
    }
    if new["immutable"] != Value::Bool(true) {
        causes.push(Cause::forbidden("immutable", IMMUTABLE_SET));
    }
    // An absent map and an empty one are the same map to upstream's DeepEqual of nil maps
    // only when both are nil; JSON carries no such difference worth rejecting.
    let map = |v: &Value, f: &str| v[f].as_object().cloned().unwrap_or_default();
    for f in fields {
        if map(old, f) != map(new, f) {
            causes.push(Cause::forbidden(f, IMMUTABLE_SET));
        }
    }
}

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn node(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = &obj["spec"];
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in items(spec, "taints") {
        let at = format!("spec.taints[{i}]");
        let key = t["key"].as_str().unwrap_or_default();
        for e in label_key_errors(key) {
            causes.push(Cause::invalid(&format!("{at}.key"), key, &e));
        }
        if let Some(v) = t["value"].as_str() {
            for e in label_value_errors(v) {
                causes.push(Cause::invalid(&format!("{at}.value"), v, &e));
            }
        }
        match t["effect"].as_str().unwrap_or_default() {
            "" => causes.push(Cause::required(&format!("{at}.effect"), "")),
            e if TAINT_EFFECTS.contains(&e) => {}
            _ => causes.push(not_supported(
                &format!("{at}.effect"),
                &t["effect"],
                TAINT_EFFECTS,
            )),
        }
        let effect = t["effect"].as_str().unwrap_or_default();
        if !seen.insert((key.to_string(), effect)) {
            // Upstream prints the internal core.Taint with %#v.
            causes.push(Cause {
                reason: "FieldValueDuplicate".into(),
                message: format!(
                    "Duplicate value: core.Taint{{Key:\"{key}\", Value:\"{}\", Effect:\"{effect}\", TimeAdded:(*v1.Time)(nil)}}: taints must be unique by key and effect pair",
                    t["value"].as_str().unwrap_or_default()
                ),
                field: at.clone(),
            });
        }
    }
    let cidrs = pod_cidrs(spec);
    for (i, c) in cidrs.iter().enumerate() {
        if parse_cidr(c).is_none() {
            causes.push(Cause::invalid(
                &format!("spec.podCIDRs[{i}]"),
                c,
                CIDR_INVALID,
            ));
        }
    }
    if cidrs.len() > 1 {
        let families: Vec<bool> = cidrs
            .iter()
            .filter_map(|c| parse_cidr(c))
            .map(|(ip, _)| ip.is_ipv4())
            .collect();
        let dual = cidrs.len() == 2 && families.len() == 2 && families[0] != families[1];
        if !dual {
            causes.push(invalid_shown(
                "spec.podCIDRs",
                &go_strings(&Value::from(cidrs.clone())),
                "may specify no more than one CIDR for each IP family",
            ));
        }
    }
}

/// `spec.podCIDRs`, or the single `spec.podCIDR` it is converted from.
fn pod_cidrs(spec: &Value) -> Vec<String> {
    match spec["podCIDRs"].as_array().filter(|a| !a.is_empty()) {
        Some(list) => list
            .iter()
            .map(|c| c.as_str().unwrap_or_default().to_string())
            .collect(),
        None => non_empty(spec, "podCIDR")
            .map(|c| vec![c.to_string()])
            .unwrap_or_default(),
    }
}

fn node_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    // The node IPAM controller may assign CIDRs once; after that they are fixed.
    let before = pod_cidrs(&old["spec"]);
    if !before.is_empty() && before != pod_cidrs(&new["spec"]) {
        causes.push(Cause::forbidden(
            "spec.podCIDRs",
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    if let Some(id) = non_empty(&old["spec"], "providerID") {
        if new["spec"]["providerID"].as_str() != Some(id) {
            causes.push(Cause::forbidden(
                "spec.providerID",
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
    }
}

/// Primary and secondary cluster IPs cannot change once allocated; only a secondary IP may
/// be added or (with `SingleStack`) released.
fn cluster_ips_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let ty = |s: &Value| {
        s["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string()
    };
    if ty(old) == "ExternalName" || ty(new) == "ExternalName" {
        return;
    }
    let headless = |s: &Value| s["spec"]["clusterIP"] == "None";
    if headless(old) && headless(new) {
        return;
    }
    let ips = |s: &Value| -> Vec<String> {
        s["spec"]["clusterIPs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (before, after) = (ips(old), ips(new));
    let shown = go_strings(&new["spec"]["clusterIPs"]);
    let err =
        |i: usize, detail: &str| invalid_shown(&format!("spec.clusterIPs[{i}]"), &shown, detail);
    if before.len() == after.len() {
        for (i, ip) in before.iter().enumerate() {
            if *ip != after[i] {
                causes.push(err(i, "may not change once set"));
            }
        }
    } else if before.len() > after.len() {
        if after.is_empty() {
            causes.push(err(0, "primary clusterIP can not be unset"));
        } else if after[0] != before[0] {
            causes.push(err(0, "may not change once set"));
        }
        if after.len() == 1 && new["spec"]["ipFamilyPolicy"] != "SingleStack" {
            causes.push(err(
                0,
                "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !before.is_empty() && after[0] != before[0] {
        causes.push(err(0, "may not change once set"));
    }
}

/// Resources whose quantities must be whole numbers (upstream's `IsIntegerResourceName`).
fn is_integer_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "services"
            | "replicationcontrollers"
            | "resourcequotas"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || name.starts_with("count/")
}

/// `ValidateResourceQuantityValue`: non-negative, and whole for countable resources.
fn quantity_value(resource: &str, q: &Value, path: &str, causes: &mut Vec<Cause>) {
    let Some(n) = quantity_nanos(q) else { return };
    if n < 0 {
        causes.push(Cause::invalid(path, &quantity_string(q), NEGATIVE));
    }
    if is_integer_resource(resource) && n % 1_000_000_000 != 0 {
        causes.push(invalid_bare(
            path,
            &quantity_string(q),
            "must be an integer",
        ));
    }
}

fn resource_quota(obj: &Value, causes: &mut Vec<Cause>) {
    for (k, q) in obj["spec"]["hard"].as_object().into_iter().flatten() {
        quantity_value(k, q, &format!("spec.hard[{k}]"), causes);
    }
    const SCOPES: &[&str] = &[
        "BestEffort",
        "CrossNamespacePodAffinity",
        "NotBestEffort",
        "NotTerminating",
        "PriorityClass",
        "Terminating",
    ];
    for (i, s) in items(&obj["spec"], "scopes") {
        if !s.as_str().is_some_and(|s| SCOPES.contains(&s)) {
            causes.push(not_supported(&format!("spec.scopes[{i}]"), s, SCOPES));
        }
    }
}

const LIMIT_TYPES: &[&str] = &["Pod", "Container", "PersistentVolumeClaim"];

fn limit_range(obj: &Value, causes: &mut Vec<Cause>) {
    let mut types = std::collections::BTreeSet::new();
    for (i, item) in items(&obj["spec"], "limits") {
        let at = format!("spec.limits[{i}]");
        let ty = item["type"].as_str().unwrap_or_default();
        if !types.insert(ty.to_string()) {
            causes.push(duplicate(&child(&at, "type"), &item["type"]));
        }
        if ty == "Pod" {
            for k in ["default", "defaultRequest"] {
                if item[k].as_object().is_some_and(|m| !m.is_empty()) {
                    causes.push(Cause::forbidden(
                        &format!("{at}.{k}"),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
            }
        }
        let mut keys = std::collections::BTreeSet::new();
        for bag in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            for (k, q) in item[bag].as_object().into_iter().flatten() {
                keys.insert(k.clone());
                quantity_value(k, q, &format!("{at}.{bag}[{k}]"), causes);
            }
        }
        for k in keys {
            limit_bounds(item, &k, &at, causes);
        }
        if !ty.contains('/') && !LIMIT_TYPES.contains(&ty) {
            causes.push(Cause::invalid(
                &child(&at, "type"),
                ty,
                "must be a standard limit type or fully qualified",
            ));
        }
    }
}

/// The order upstream requires of one resource's bounds: min <= defaultRequest <= default
/// <= max, and a limit/request ratio of at least 1.
fn limit_bounds(item: &Value, k: &str, at: &str, causes: &mut Vec<Cause>) {
    let get = |bag: &str| item[bag].get(k).filter(|v| !v.is_null());
    let s = quantity_string;
    let path = |bag: &str| format!("{at}.{bag}[{k}]");
    // (lower bag, upper bag, bag the error is reported on, whose value it shows, wording)
    let rules: [(&str, &str, &str, bool, &str, &str); 6] = [
        ("min", "max", "min", true, "min value", "max value"),
        (
            "min",
            "defaultRequest",
            "defaultRequest",
            false,
            "min value",
            "default request value",
        ),
        (
            "defaultRequest",
            "max",
            "defaultRequest",
            true,
            "default request value",
            "max value",
        ),
        (
            "defaultRequest",
            "default",
            "defaultRequest",
            true,
            "default request value",
            "default limit value",
        ),
        (
            "min",
            "default",
            "default",
            true,
            "min value",
            "default value",
        ),
        (
            "default",
            "max",
            "default",
            false,
            "default value",
            "max value",
        ),
    ];
    for (lower, upper, on, show_lower, lower_name, upper_name) in rules {
        let (Some(lo), Some(up)) = (get(lower), get(upper)) else {
            continue;
        };
        if matches!((quantity_nanos(lo), quantity_nanos(up)), (Some(x), Some(y)) if x > y) {
            let shown = if show_lower { s(lo) } else { s(up) };
            causes.push(invalid_bare(
                &path(on),
                &shown,
                &format!(
                    "{lower_name} {} is greater than {upper_name} {}",
                    s(lo),
                    s(up)
                ),
            ));
        }
    }
    if let Some(ratio) = get("maxLimitRequestRatio") {
        if quantity_nanos(ratio).is_some_and(|r| r < 1_000_000_000) {
            causes.push(invalid_bare(
                &path("maxLimitRequestRatio"),
                &s(ratio),
                &format!("ratio {} is less than 1", s(ratio)),
            ));
        }
    }
}

//! `rbac.authorization.k8s.io/v1` (upstream's pkg/apis/rbac/validation): policy rules of
//! roles, the role reference and subjects of bindings, and a binding's fixed roleRef.

use serde_json::Value;

use super::causes::{go_strings, invalid_shown, items, non_empty, not_supported};
use crate::status::Cause;
use crate::validation::{dns1123_subdomain_errors, path_segment_errors};

const GROUP: &str = "rbac.authorization.k8s.io";

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "Role" | "ClusterRole" => {
            for (i, rule) in items(obj, "rules") {
                policy_rule(rule, kind == "Role", &format!("rules[{i}]"), causes);
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => binding(obj, kind == "RoleBinding", causes),
        _ => {}
    }
}

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if matches!(kind, "RoleBinding" | "ClusterRoleBinding") && old["roleRef"] != new["roleRef"] {
        causes.push(invalid_shown(
            "roleRef",
            &role_ref_go(&new["roleRef"]),
            "cannot change roleRef",
        ));
    }
}

/// The role reference as upstream prints it (`%#v` of the internal struct).
fn role_ref_go(r: &Value) -> String {
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    format!(
        "rbac.RoleRef{{APIGroup:\"{}\", Kind:\"{}\", Name:\"{}\"}}",
        s("apiGroup"),
        s("kind"),
        s("name")
    )
}

fn len(v: &Value, key: &str) -> usize {
    v[key].as_array().map_or(0, Vec::len)
}

fn policy_rule(rule: &Value, namespaced: bool, at: &str, causes: &mut Vec<Cause>) {
    if len(rule, "verbs") == 0 {
        causes.push(Cause::required(
            &format!("{at}.verbs"),
            "verbs must contain at least one value",
        ));
    }
    if len(rule, "nonResourceURLs") > 0 {
        let urls = go_strings(&rule["nonResourceURLs"]);
        if namespaced {
            causes.push(invalid_shown(
                &format!("{at}.nonResourceURLs"),
                &urls,
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if len(rule, "apiGroups") > 0
            || len(rule, "resources") > 0
            || len(rule, "resourceNames") > 0
        {
            causes.push(invalid_shown(
                &format!("{at}.nonResourceURLs"),
                &urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return;
    }
    if len(rule, "apiGroups") == 0 {
        causes.push(Cause::required(
            &format!("{at}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if len(rule, "resources") == 0 {
        causes.push(Cause::required(
            &format!("{at}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
    if len(rule, "resourceNames") > 0 && len(rule, "resources") > 1 {
        causes.push(Cause::required(
            &format!("{at}.resourceNames"),
            "resource names cannot apply to multiple resources",
        ));
    }
}

fn binding(obj: &Value, namespaced: bool, causes: &mut Vec<Cause>) {
    let role_ref = &obj["roleRef"];
    if role_ref["apiGroup"] != GROUP {
        causes.push(not_supported(
            "roleRef.apiGroup",
            &string_or_empty(&role_ref["apiGroup"]),
            &[GROUP],
        ));
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !role_ref["kind"]
        .as_str()
        .is_some_and(|k| kinds.contains(&k))
    {
        causes.push(not_supported(
            "roleRef.kind",
            &string_or_empty(&role_ref["kind"]),
            kinds,
        ));
    }
    match non_empty(role_ref, "name") {
        None => causes.push(Cause::required("roleRef.name", "")),
        Some(n) => {
            for e in path_segment_errors(n) {
                causes.push(Cause::invalid("roleRef.name", n, &e));
            }
        }
    }
    for (i, s) in items(obj, "subjects") {
        subject(s, namespaced, &format!("subjects[{i}]"), causes);
    }
}

/// Absent strings are Go's zero value, printed `""`.
fn string_or_empty(v: &Value) -> Value {
    if v.is_null() {
        Value::String(String::new())
    } else {
        v.clone()
    }
}

fn subject(s: &Value, namespaced: bool, at: &str, causes: &mut Vec<Cause>) {
    let name = s["name"].as_str().unwrap_or_default();
    let field = |k: &str| format!("{at}.{k}");
    if name.is_empty() {
        causes.push(Cause::required(&field("name"), ""));
    }
    let api_group = s["apiGroup"].as_str().unwrap_or_default();
    match s["kind"].as_str().unwrap_or_default() {
        "ServiceAccount" => {
            if !name.is_empty() {
                for e in dns1123_subdomain_errors(name) {
                    causes.push(Cause::invalid(&field("name"), name, &e));
                }
            }
            if !api_group.is_empty() {
                causes.push(not_supported(&field("apiGroup"), &s["apiGroup"], &[""]));
            }
            if !namespaced && non_empty(s, "namespace").is_none() {
                causes.push(Cause::required(&field("namespace"), ""));
            }
        }
        k @ ("User" | "Group") => {
            if name.is_empty() {
                let what = if k == "User" { "user" } else { "group" };
                causes.push(Cause::invalid(
                    &field("name"),
                    "",
                    &format!("{what} name cannot be empty"),
                ));
            }
            if api_group != GROUP {
                causes.push(not_supported(
                    &field("apiGroup"),
                    &Value::String(api_group.into()),
                    &[GROUP],
                ));
            }
        }
        _ => causes.push(not_supported(
            &field("kind"),
            &string_or_empty(&s["kind"]),
            &["ServiceAccount", "User", "Group"],
        )),
    }
}

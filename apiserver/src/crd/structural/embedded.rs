//! Type and object meta of embedded resources (`x-kubernetes-embedded-resource`), as
//! apiextensions-apiserver's `objectmeta.Validate` checks them: `apiVersion` and `kind` are
//! required and well formed, `metadata` is valid object meta.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{json, Map, Value};

use super::fieldpath::FieldPath;
use super::{additional, causes, child, embedded_resource, items, property};
use crate::resource::NameRule;
use crate::status::Cause;
use crate::validation::validate_object_meta;

/// Check every embedded resource in `x` (not the resource root itself, whose meta the
/// registry validates).
pub fn validate(path: &str, x: &Value, s: Option<&JSONSchemaProps>) -> Vec<Cause> {
    let mut errs = Vec::new();
    walk(&FieldPath::Root(path), x, s, &mut errs);
    errs
}

fn walk(path: &FieldPath<'_>, x: &Value, s: Option<&JSONSchemaProps>, errs: &mut Vec<Cause>) {
    let Some(s) = s else {
        return;
    };
    match x {
        Value::Object(map) => {
            if embedded_resource(s) {
                errs.extend(resource(&path.to_string(), map));
            }
            for (k, v) in map {
                if let Some(prop) = property(s, k) {
                    walk(&FieldPath::Child(path, k), v, Some(prop), errs);
                } else if let Some(extra) = additional(s) {
                    walk(&FieldPath::Key(path, k), v, extra, errs);
                }
            }
        }
        Value::Array(list) => {
            let item = items(s);
            for (i, v) in list.iter().enumerate() {
                walk(&FieldPath::Index(path, i), v, item, errs);
            }
        }
        _ => {}
    }
}

/// `validateEmbeddedResource`.
pub fn resource(path: &str, x: &Map<String, Value>) -> Vec<Cause> {
    let mut errs = Vec::new();
    let api_version_path = child(path, "apiVersion");
    let kind_path = child(path, "kind");
    if !x.contains_key("apiVersion") {
        errs.push(causes::required(&api_version_path, ""));
    }
    if !x.contains_key("kind") {
        errs.push(causes::required(&kind_path, ""));
    }
    for (k, v) in x {
        match k.as_str() {
            "apiVersion" => match v.as_str() {
                None => errs.push(causes::invalid(&api_version_path, v, "must be a string")),
                Some("") => errs.push(causes::required(&api_version_path, "")),
                Some(av) if av.matches('/').count() > 1 => errs.push(causes::invalid(
                    &api_version_path,
                    v,
                    &format!("unexpected GroupVersion string: {av}"),
                )),
                Some(_) => {}
            },
            "kind" => match v.as_str() {
                None => errs.push(causes::invalid(&kind_path, v, "must be a string")),
                Some("") => errs.push(causes::required(&kind_path, "")),
                Some(kind) => {
                    let problems = crate::validation::dns1035_label_errors(&kind.to_lowercase());
                    if !problems.is_empty() {
                        errs.push(causes::invalid(
                            &kind_path,
                            v,
                            &format!(
                                "may have mixed case, but should otherwise match: {}",
                                problems.join(",")
                            ),
                        ));
                    }
                }
            },
            "metadata" => errs.extend(metadata(&child(path, "metadata"), v)),
            _ => {}
        }
    }
    errs
}

/// Object meta of an embedded resource: names are path segments, a missing name is fine.
fn metadata(path: &str, meta: &Value) -> Vec<Cause> {
    let Value::Object(m) = meta else {
        return vec![causes::invalid(path, meta, "must be an object")];
    };
    let mut m = m.clone();
    if m.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
    {
        m.insert("name".into(), json!("fakename"));
    }
    let namespaced = m
        .get("namespace")
        .and_then(Value::as_str)
        .is_some_and(|ns| !ns.is_empty());
    let wrapped = json!({ "metadata": m });
    validate_object_meta(&wrapped, NameRule::PathSegment, namespaced)
        .into_iter()
        .map(|mut c| {
            let rest = c.field.strip_prefix("metadata").unwrap_or(&c.field);
            c.field = format!("{path}{rest}");
            c
        })
        .collect()
}

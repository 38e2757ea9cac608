//! Structural pruning (apiextensions-apiserver/pkg/apiserver/schema/pruning): fields the schema
//! does not specify are dropped, except below `x-kubernetes-preserve-unknown-fields` and the
//! type and object meta of resources.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::Value;

use super::fieldpath::FieldPath;
use super::{additional, embedded_resource, is_meta_field, items, preserves_unknown, property};

/// Prune `obj`, a whole resource (its root is treated as an embedded resource), and return
/// the paths of what was dropped.
pub fn prune(schema: &JSONSchemaProps, obj: &mut Value) -> Vec<String> {
    let mut dropped = Vec::new();
    walk(obj, Some(schema), true, &FieldPath::Root(""), &mut dropped);
    dropped
}

/// Prune a value that is not a resource root (a default value, say); `root` treats it as one.
pub fn prune_value(schema: &JSONSchemaProps, value: &mut Value, root: bool) {
    walk(
        value,
        Some(schema),
        root,
        &FieldPath::Root(""),
        &mut Vec::new(),
    );
}

fn walk(
    x: &mut Value,
    s: Option<&JSONSchemaProps>,
    root: bool,
    path: &FieldPath<'_>,
    dropped: &mut Vec<String>,
) {
    if let Some(s) = s.filter(|s| preserves_unknown(s)) {
        keep_unknown(x, s, root, path, dropped);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                dropped.extend(map.keys().map(|k| FieldPath::Dotted(path, k).to_string()));
                map.clear();
                return;
            };
            let resource = root || embedded_resource(s);
            let mut unknown = Vec::new();
            for (k, v) in map.iter_mut() {
                if resource && is_meta_field(k) {
                    continue;
                }
                let sub = FieldPath::Dotted(path, k);
                if let Some(prop) = property(s, k) {
                    walk(v, Some(prop), false, &sub, dropped);
                } else if let Some(extra) = additional(s) {
                    walk(v, extra, false, &sub, dropped);
                } else {
                    unknown.push(k.clone());
                }
            }
            for k in unknown {
                map.remove(&k);
                dropped.push(FieldPath::Dotted(path, &k).to_string());
            }
        }
        Value::Array(list) => {
            let item = s.and_then(items);
            for (i, v) in list.iter_mut().enumerate() {
                walk(v, item, false, &FieldPath::Index(path, i), dropped);
            }
        }
        _ => {}
    }
}

/// Below `x-kubernetes-preserve-unknown-fields`: unknown fields stay, specified ones are still
/// pruned by their schemas.
fn keep_unknown(
    x: &mut Value,
    s: &JSONSchemaProps,
    root: bool,
    path: &FieldPath<'_>,
    dropped: &mut Vec<String>,
) {
    match x {
        Value::Object(map) => {
            let resource = root || embedded_resource(s);
            for (k, v) in map.iter_mut() {
                if resource && is_meta_field(k) {
                    continue;
                }
                let sub = FieldPath::Dotted(path, k);
                if let Some(prop) = property(s, k) {
                    walk(v, Some(prop), false, &sub, dropped);
                } else if let Some(extra) = additional(s) {
                    walk(v, extra, false, &sub, dropped);
                }
            }
        }
        Value::Array(list) => {
            if let Some(item) = items(s) {
                for (i, v) in list.iter_mut().enumerate() {
                    keep_unknown(v, item, false, &FieldPath::Index(path, i), dropped);
                }
            }
        }
        _ => {}
    }
}

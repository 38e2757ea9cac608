//! Structural schemas of custom resources, as apiextensions-apiserver applies them: pruning of
//! unknown fields, defaulting, validation of a custom resource against its version's
//! `openAPIV3Schema` (kube-openapi's validator, embedded resources, list-type sets and maps),
//! and the checks a schema must pass when its CRD is written.
//!
//! Everything works on the `JSONSchemaProps` of the CRD as stored; nothing is cloned or
//! converted per call.

mod causes;
mod check;
mod defaulting;
mod embedded;
mod fieldpath;
mod formats;
mod gofmt;
mod invariants;
mod listtype;
mod openapi_check;
mod patterns;
mod prune;
mod validator;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

use crate::status::Cause;

/// Drop every field the schema does not specify (upstream's structural pruning). At the root
/// and at `x-kubernetes-embedded-resource` nodes `apiVersion`, `kind` and `metadata` are kept
/// as they are; `x-kubernetes-preserve-unknown-fields` keeps unknown fields below it. Returns
/// the paths of the dropped fields (".spec.foo", ".spec.list[0].bar").
pub fn prune(schema: &JSONSchemaProps, obj: &mut Value) -> Vec<String> {
    prune::prune(schema, obj)
}

/// Drop non-nullable nulls that have no default, then apply the schema's defaults
/// (upstream's `PruneNonNullableNullsWithoutDefaults` followed by `Default`).
pub fn default(schema: &JSONSchemaProps, obj: &mut Value) {
    defaulting::prune_non_nullable_nulls(obj, Some(schema));
    defaulting::default(obj, Some(schema));
}

/// Validate a whole custom resource against its schema, with upstream's field paths
/// ("spec.replicas") and messages: the OpenAPI validation, then embedded resources' type and
/// object meta, then uniqueness in `x-kubernetes-list-type` set and map lists.
pub fn validate(schema: &JSONSchemaProps, obj: &Value) -> Vec<Cause> {
    let mut causes = validator::validate(schema, obj, None);
    causes.extend(embedded::validate("", obj, Some(schema)));
    causes.extend(listtype::validate("", Some(schema), obj));
    causes
}

/// Validate an update of a custom resource: as [`validate`], but with upstream's ratcheting
/// (`CRDValidationRatcheting`, on in 1.33): schema errors in values the update left unchanged
/// are dropped, and list-type set/map uniqueness is only enforced when the old object
/// satisfied it.
pub fn validate_update(schema: &JSONSchemaProps, new: &Value, old: &Value) -> Vec<Cause> {
    let mut causes = validator::validate_update(schema, new, old);
    causes.extend(embedded::validate("", new, Some(schema)));
    if listtype::validate("", Some(schema), old).is_empty() {
        causes.extend(listtype::validate("", Some(schema), new));
    }
    causes
}

/// The checks on a CRD version's schema when the CRD is created or updated; `path` is the
/// schema's field path ("spec.versions[0].schema.openAPIV3Schema").
pub fn check_schema(schema: &JSONSchemaProps, path: &str) -> Vec<Cause> {
    check::check(schema, path)
}

// Small accessors over the optional fields of `JSONSchemaProps`, named as upstream's
// structural schema names them.

fn type_of(s: &JSONSchemaProps) -> &str {
    s.type_.as_deref().unwrap_or_default()
}

fn properties(s: &JSONSchemaProps) -> Option<&BTreeMap<String, JSONSchemaProps>> {
    s.properties.as_ref().filter(|p| !p.is_empty())
}

fn property<'a>(s: &'a JSONSchemaProps, name: &str) -> Option<&'a JSONSchemaProps> {
    s.properties.as_ref().and_then(|p| p.get(name))
}

/// `items` when it is a single schema (an array of schemas is rejected by `check_schema`).
fn items(s: &JSONSchemaProps) -> Option<&JSONSchemaProps> {
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(i)) => Some(i),
        _ => None,
    }
}

/// The schema of `additionalProperties` when it is a schema; `Some(None)` when it is a
/// boolean (upstream: present, but without a structural schema).
fn additional(s: &JSONSchemaProps) -> Option<Option<&JSONSchemaProps>> {
    match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(a)) => Some(Some(a)),
        Some(JSONSchemaPropsOrBool::Bool(_)) => Some(None),
        None => None,
    }
}

fn flag(b: Option<bool>) -> bool {
    b.unwrap_or(false)
}

fn nullable(s: &JSONSchemaProps) -> bool {
    flag(s.nullable)
}

fn preserves_unknown(s: &JSONSchemaProps) -> bool {
    flag(s.x_kubernetes_preserve_unknown_fields)
}

fn embedded_resource(s: &JSONSchemaProps) -> bool {
    flag(s.x_kubernetes_embedded_resource)
}

fn int_or_string(s: &JSONSchemaProps) -> bool {
    flag(s.x_kubernetes_int_or_string)
}

fn default_value(s: &JSONSchemaProps) -> Option<&Value> {
    s.default.as_ref().map(|d| &d.0).filter(|v| !v.is_null())
}

fn list_of(v: &Option<Vec<JSONSchemaProps>>) -> &[JSONSchemaProps] {
    v.as_deref().unwrap_or_default()
}

/// `apiVersion`, `kind` and `metadata`: kept by pruning at resource roots.
fn is_meta_field(k: &str) -> bool {
    matches!(k, "apiVersion" | "kind" | "metadata")
}

// Field paths as `field.Path` prints them.

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

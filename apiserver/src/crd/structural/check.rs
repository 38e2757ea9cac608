//! The checks on a CRD version's `openAPIV3Schema` when the CRD is written, in upstream's
//! order: the root may not be nullable, the schema must be structural
//! ([`super::invariants`]), its defaults must validate and be pruned
//! (schema/defaulting/validation.go), and it must pass the OpenAPI checks of
//! `ValidateCustomResourceDefinitionOpenAPISchema` ([`super::openapi_check`]).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::Value;

use super::invariants::{completeness, invariants, Level};
use super::openapi_check::{openapi, Spec};
use super::{
    causes, child, default_value, embedded, embedded_resource, is_meta_field, items, key, nullable,
    prune, validator,
};
use crate::status::Cause;

pub fn check(schema: &JSONSchemaProps, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if nullable(schema) {
        errs.push(causes::forbidden(
            &child(path, "nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let mut structural = Vec::new();
    invariants(schema, Level::Root, path, &mut structural);
    completeness(schema, schema, path, path, &mut structural);
    if structural.is_empty() {
        // Defaults are only checked against a structural schema.
        defaults(schema, path, true, false, &mut errs);
    } else {
        // Upstream sorts these by their text to make the order stable.
        structural.sort_by_key(|c| format!("{}: {}", c.field, c.message));
        errs.extend(structural);
    }
    openapi(schema, path, &Spec::root(), true, &mut errs);
    errs
}

pub(super) fn s_str(s: &str) -> Value {
    Value::String(s.to_string())
}

/// `ValidateDefaults`: every default must survive pruning unchanged and validate against its
/// own schema. `resource` marks resource roots (the schema root, embedded resources);
/// `inside_meta` the type and object meta of a resource.
fn defaults(
    s: &JSONSchemaProps,
    path: &str,
    resource: bool,
    inside_meta: bool,
    errs: &mut Vec<Cause>,
) {
    let resource = resource || embedded_resource(s);
    let inside_meta = inside_meta && !embedded_resource(s);
    if let Some(d) = default_value(s) {
        let default_path = child(path, "default");
        if !inside_meta {
            let mut pruned = d.clone();
            prune::prune_value(s, &mut pruned, resource);
            if &pruned != d {
                errs.push(causes::invalid(
                    &default_path,
                    d,
                    "must not have unknown fields",
                ));
            }
        }
        if inside_meta {
            errs.extend(validator::validate(s, d, Some(&default_path)));
        } else {
            // A resource root's default is a resource: its type and object meta must be valid.
            let mut meta_errs = match d {
                Value::Object(map) if resource && !embedded_resource(s) => {
                    embedded::resource(&default_path, map)
                }
                _ => Vec::new(),
            };
            meta_errs.extend(embedded::validate(&default_path, d, Some(s)));
            if meta_errs.is_empty() {
                errs.extend(validator::validate(s, d, Some(&default_path)));
            } else {
                errs.extend(meta_errs);
            }
        }
    }
    // additionalProperties is not followed: defaults are forbidden there.
    if let Some(item) = items(s) {
        defaults(item, &child(path, "items"), false, inside_meta, errs);
    }
    if let Some(props) = &s.properties {
        for (k, p) in props {
            let meta = inside_meta || (resource && is_meta_field(k));
            defaults(p, &key(&child(path, "properties"), k), false, meta, errs);
        }
    }
}

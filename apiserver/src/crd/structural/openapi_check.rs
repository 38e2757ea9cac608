//! `ValidateCustomResourceDefinitionOpenAPISchema` (pkg/apis/apiextensions/validation): the
//! OpenAPI features CRDs do not support, where defaults may be set, and the rules of
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and `x-kubernetes-map-type`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool, JSONSchemaPropsOrStringArray,
};
use serde_json::Value;

use super::check::s_str;
use super::{
    causes, child, default_value, embedded_resource, flag, gofmt, index, is_meta_field, items, key,
    list_of, nullable, properties, property, type_of,
};
use crate::status::Cause;

/// The state upstream's `specStandardValidatorV3` carries down the schema.
#[derive(Clone)]
pub(super) struct Spec {
    allow_defaults: bool,
    disallow_reason: String,
    inside_meta: bool,
}

impl Spec {
    /// At the schema root: defaults allowed, outside any resource meta.
    pub(super) fn root() -> Spec {
        Spec {
            allow_defaults: true,
            disallow_reason: String::new(),
            inside_meta: false,
        }
    }

    fn forbid_defaults(&self, reason: String) -> Spec {
        Spec {
            allow_defaults: false,
            disallow_reason: reason,
            inside_meta: self.inside_meta,
        }
    }
}

const OPENAPI_V3_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// `ValidateCustomResourceDefinitionOpenAPISchema`.
pub(super) fn openapi(
    s: &JSONSchemaProps,
    path: &str,
    ssv: &Spec,
    root: bool,
    errs: &mut Vec<Cause>,
) {
    spec_standard(s, path, ssv, errs);
    if flag(s.unique_items) {
        errs.push(causes::forbidden(
            &child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if let Some(extra) = &s.additional_properties {
        let exclusive = match extra {
            JSONSchemaPropsOrBool::Bool(allows) => !allows,
            JSONSchemaPropsOrBool::Schema(_) => true,
        };
        if properties(s).is_some() && exclusive {
            errs.push(causes::forbidden(
                &child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let JSONSchemaPropsOrBool::Schema(extra) = extra {
            let sub = if ssv.inside_meta {
                ssv.forbid_defaults(
                    "inside additionalProperties applying to object metadata".into(),
                )
            } else {
                ssv.clone()
            };
            openapi(
                extra,
                &child(path, "additionalProperties"),
                &sub,
                false,
                errs,
            );
        }
    }
    if let Some(props) = &s.properties {
        for (k, p) in props {
            let mut sub = ssv.clone();
            if (root || embedded_resource(s)) && is_meta_field(k) {
                sub.inside_meta = true;
                if root {
                    sub = sub.forbid_defaults(format!("in top-level {k}"));
                }
            }
            openapi(p, &key(&child(path, "properties"), k), &sub, false, errs);
        }
    }
    if let Some(not) = &s.not {
        openapi(not, &child(path, "not"), ssv, false, errs);
    }
    for (name, list) in [
        ("allOf", &s.all_of),
        ("oneOf", &s.one_of),
        ("anyOf", &s.any_of),
    ] {
        for (i, sub) in list_of(list).iter().enumerate() {
            openapi(sub, &index(&child(path, name), i), ssv, false, errs);
        }
    }
    if let Some(defs) = &s.definitions {
        for (k, d) in defs {
            openapi(d, &key(&child(path, "definitions"), k), ssv, false, errs);
        }
    }
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => {
            openapi(item, &child(path, "items"), ssv, false, errs);
        }
        Some(JSONSchemaPropsOrArray::Schemas(list)) => {
            for (i, item) in list.iter().enumerate() {
                openapi(item, &index(&child(path, "items"), i), ssv, false, errs);
            }
        }
        None => {}
    }
    if let Some(deps) = &s.dependencies {
        for (k, d) in deps {
            if let JSONSchemaPropsOrStringArray::Schema(d) = d {
                openapi(d, &key(&child(path, "dependencies"), k), ssv, false, errs);
            }
        }
    }
    if s.x_kubernetes_preserve_unknown_fields == Some(false) {
        errs.push(causes::invalid(
            &child(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(false),
            "must be true or undefined",
        ));
    }
    list_and_map_types(s, path, errs);
    // x-kubernetes-validations rules are checked by `crd::cel`.
}

/// `specStandardValidatorV3.validate`.
fn spec_standard(s: &JSONSchemaProps, path: &str, ssv: &Spec, errs: &mut Vec<Cause>) {
    let ty = type_of(s);
    if !ty.is_empty() && !OPENAPI_V3_TYPES.contains(&ty) {
        let valid: Vec<String> = OPENAPI_V3_TYPES.iter().map(|t| t.to_string()).collect();
        errs.push(causes::not_supported(
            &child(path, "type"),
            &s_str(ty),
            &valid,
        ));
    }
    if default_value(s).is_some() && !ssv.allow_defaults {
        let mut detail = "must not be set".to_string();
        if !ssv.disallow_reason.is_empty() {
            detail = format!("{detail} {}", ssv.disallow_reason);
        }
        errs.push(causes::forbidden(&child(path, "default"), &detail));
    }
    let forbid = |errs: &mut Vec<Cause>, field: &str, detail: &str| {
        errs.push(causes::forbidden(&child(path, field), detail));
    };
    if s.id.as_deref().is_some_and(|i| !i.is_empty()) {
        forbid(errs, "id", "id is not supported");
    }
    if s.additional_items.is_some() {
        forbid(errs, "additionalItems", "additionalItems is not supported");
    }
    if s.pattern_properties.as_ref().is_some_and(|p| !p.is_empty()) {
        forbid(
            errs,
            "patternProperties",
            "patternProperties is not supported",
        );
    }
    if s.definitions.as_ref().is_some_and(|d| !d.is_empty()) {
        forbid(errs, "definitions", "definitions is not supported");
    }
    if s.dependencies.is_some() {
        forbid(errs, "dependencies", "dependencies is not supported");
    }
    if s.ref_path.is_some() {
        forbid(errs, "$ref", "$ref is not supported");
    }
    if ty == "null" {
        forbid(
            errs,
            "type",
            "type cannot be set to null, use nullable as an alternative",
        );
    }
    if matches!(&s.items, Some(JSONSchemaPropsOrArray::Schemas(l)) if !l.is_empty()) {
        forbid(
            errs,
            "items",
            "items must be a schema object and not an array",
        );
    }
    if ssv.inside_meta && embedded_resource(s) {
        forbid(
            errs,
            "x-kubernetes-embedded-resource",
            "must not be used inside of resource meta",
        );
    }
}

/// The `x-kubernetes-map-type`, `x-kubernetes-list-type` and `x-kubernetes-list-map-keys`
/// checks, with those on map keys and set items new CRDs must pass.
fn list_and_map_types(s: &JSONSchemaProps, path: &str, errs: &mut Vec<Cause>) {
    let ty = type_of(s);
    let type_path = child(path, "type");
    if s.x_kubernetes_map_type.is_some() && ty != "object" {
        let detail = "must be object if x-kubernetes-map-type is specified";
        if ty.is_empty() {
            errs.push(causes::required(&type_path, detail));
        } else {
            errs.push(causes::invalid(&type_path, &s_str(ty), detail));
        }
    }
    if let Some(mt) = s.x_kubernetes_map_type.as_deref() {
        if mt != "atomic" && mt != "granular" {
            errs.push(causes::not_supported(
                &child(path, "x-kubernetes-map-type"),
                &s_str(mt),
                &["atomic".into(), "granular".into()],
            ));
        }
    }
    let list_type = s.x_kubernetes_list_type.as_deref();
    let item = items(s);
    if list_type.is_some() && ty != "array" {
        let detail = "must be array if x-kubernetes-list-type is specified";
        if ty.is_empty() {
            errs.push(causes::required(&type_path, detail));
        } else {
            errs.push(causes::invalid(&type_path, &s_str(ty), detail));
        }
    } else if let (Some("set"), Some(is)) = (list_type, item) {
        let items_path = child(path, "items");
        let detail = "must be atomic as item of a list with x-kubernetes-list-type=set";
        let shown_list_type = || {
            is.x_kubernetes_list_type
                .clone()
                .map_or(Value::Null, Value::String)
        };
        let item_list_type = is.x_kubernetes_list_type.as_deref();
        match type_of(is) {
            "array" if item_list_type.is_some_and(|t| t != "atomic") => {
                errs.push(causes::invalid(
                    &child(&items_path, "x-kubernetes-list-type"),
                    &shown_list_type(),
                    detail,
                ));
            }
            // Upstream reports the item's list type here.
            "object" if is.x_kubernetes_map_type.as_deref() != Some("atomic") => {
                errs.push(causes::invalid(
                    &child(&items_path, "x-kubernetes-map-type"),
                    &shown_list_type(),
                    detail,
                ));
            }
            _ => {}
        }
    }
    if let Some(lt) = list_type {
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(causes::not_supported(
                &child(path, "x-kubernetes-list-type"),
                &s_str(lt),
                &["atomic".into(), "set".into(), "map".into()],
            ));
        }
    }
    let map_keys = s.x_kubernetes_list_map_keys.as_deref().unwrap_or_default();
    let list_type_path = child(path, "x-kubernetes-list-type");
    let keys_path = child(path, "x-kubernetes-list-map-keys");
    if !map_keys.is_empty() {
        let detail = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => errs.push(causes::required(&list_type_path, detail)),
            Some("map") => {}
            Some(lt) => errs.push(causes::invalid(&list_type_path, &s_str(lt), detail)),
        }
    }
    if list_type == Some("map") {
        if map_keys.is_empty() {
            errs.push(causes::required(
                &keys_path,
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        let items_path = child(path, "items");
        match &s.items {
            None => errs.push(causes::required(
                &items_path,
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(JSONSchemaPropsOrArray::Schemas(_)) => errs.push(causes::invalid_shown(
                &items_path,
                "\"\"",
                "must only have a single schema if x-kubernetes-list-type is map",
            )),
            Some(JSONSchemaPropsOrArray::Schema(is)) => {
                if type_of(is) != "object" {
                    errs.push(causes::invalid(
                        &child(&items_path, "type"),
                        &s_str(type_of(is)),
                        "must be object if parent array's x-kubernetes-list-type is map",
                    ));
                } else {
                    let shown_keys = gofmt::string_slice(map_keys);
                    let mut seen = std::collections::HashSet::new();
                    for k in map_keys {
                        match property(is, k) {
                            Some(p) if matches!(type_of(p), "array" | "object") => {
                                errs.push(causes::invalid(
                                    &child(&key(&child(&items_path, "properties"), k), "type"),
                                    &s_str(type_of(is)),
                                    "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                ))
                            }
                            Some(_) => {}
                            None => errs.push(causes::invalid_shown(
                                &keys_path,
                                &shown_keys,
                                "entries must all be names of item properties",
                            )),
                        }
                        if !seen.insert(k.as_str()) {
                            errs.push(causes::invalid_shown(
                                &keys_path,
                                &shown_keys,
                                "must not contain duplicate entries",
                            ));
                        }
                    }
                }
            }
        }
    }
    // validateMapListKeysMapSet
    if let (Some(lt @ ("set" | "map")), Some(is)) = (list_type, item) {
        let items_path = child(path, "items");
        if nullable(is) {
            errs.push(causes::forbidden(
                &child(&items_path, "nullable"),
                &format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
            ));
        }
        if lt == "map" {
            let required = is.required.as_deref().unwrap_or_default();
            for k in map_keys {
                let Some(p) = property(is, k) else {
                    continue;
                };
                let prop_path = key(&child(&items_path, "properties"), k);
                if !required.contains(k) && p.default.is_none() {
                    errs.push(causes::required(
                        &child(&prop_path, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if nullable(p) {
                    errs.push(causes::forbidden(
                        &child(&prop_path, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
}

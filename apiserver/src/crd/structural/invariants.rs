//! Structural-schema rules (apiextensions-apiserver/pkg/apiserver/schema/validation.go and
//! complete.go): every node has a type, junctors (`allOf`, `anyOf`, `oneOf`, `not`) hold only
//! value validations about fields the structure specifies, metadata at the root restricts
//! only `name` and `generateName`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::Value;

use super::check::s_str;
use super::{
    additional, causes, child, default_value, embedded_resource, index, int_or_string, items, key,
    list_of, nullable, patterns, preserves_unknown, properties, property, type_of,
};
use crate::status::Cause;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Level {
    Root,
    Item,
    Field,
}

/// `validateStructuralInvariants`.
pub(super) fn invariants(s: &JSONSchemaProps, lvl: Level, path: &str, errs: &mut Vec<Cause>) {
    let ty = type_of(s);
    if ty == "array" && s.items.is_none() {
        errs.push(causes::required(&child(path, "items"), "must be specified"));
    }
    if let Some(item) = items(s) {
        invariants(item, Level::Item, &child(path, "items"), errs);
    }
    if let Some(props) = &s.properties {
        for (k, v) in props {
            invariants(v, Level::Field, &key(&child(path, "properties"), k), errs);
        }
    }
    if let Some(extra) = additional(s) {
        if lvl == Level::Root {
            errs.push(causes::forbidden(
                &child(path, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let Some(extra) = extra {
            invariants(
                extra,
                Level::Field,
                &child(path, "additionalProperties"),
                errs,
            );
        }
    }
    if int_or_string(s) && preserves_unknown(s) {
        errs.push(causes::invalid(
            &child(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string(s) && embedded_resource(s) {
        errs.push(causes::invalid(
            &child(path, "x-kubernetes-embedded-resource"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(list_of(&s.any_of));
    let skip_first_all_of_any_of = list_of(&s.all_of)
        .first()
        .is_some_and(|first| is_int_or_string_any_of(list_of(&first.any_of)));
    value_validation(s, skip_any_of, skip_first_all_of_any_of, lvl, path, errs);

    let check_metadata = lvl == Level::Root || embedded_resource(s);
    if embedded_resource(s) && ty != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        if ty.is_empty() {
            errs.push(causes::required(&child(path, "type"), detail));
        } else {
            errs.push(causes::invalid(&child(path, "type"), &s_str(ty), detail));
        }
    } else if ty.is_empty() && !int_or_string(s) && !preserves_unknown(s) {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(causes::required(&child(path, "type"), detail));
    }
    if embedded_resource(s) && s.additional_properties.is_some() {
        errs.push(causes::forbidden(
            &child(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(causes::invalid(
            &child(path, "type"),
            &s_str(ty),
            "must be object at the root",
        ));
    }
    let props_path = child(path, "properties");
    for field in ["kind", "apiVersion"] {
        if let Some(p) = property(s, field) {
            if check_metadata && type_of(p) != "string" {
                errs.push(causes::invalid(
                    &child(&key(&props_path, field), "type"),
                    &s_str(type_of(p)),
                    "must be string",
                ));
            }
        }
    }
    if let Some(meta) = property(s, "metadata") {
        metadata_invariants(
            meta,
            check_metadata,
            lvl,
            &key(&props_path, "metadata"),
            errs,
        );
    }
    if embedded_resource(s) && !preserves_unknown(s) && properties(s).is_none() {
        errs.push(causes::required(
            &child(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// `validateStructuralMetadataInvariants`: at the root, metadata may only restrict `name`
/// and `generateName`.
fn metadata_invariants(
    s: &JSONSchemaProps,
    check_metadata: bool,
    lvl: Level,
    path: &str,
    errs: &mut Vec<Cause>,
) {
    if check_metadata && type_of(s) != "object" {
        errs.push(causes::invalid(
            &child(path, "type"),
            &s_str(type_of(s)),
            "must be object",
        ));
    }
    if lvl != Level::Root {
        return;
    }
    let mut rest = s.clone();
    let props = rest.properties.as_ref();
    let has = |k: &str| props.is_some_and(|p| p.contains_key(k));
    let count = props.map_or(0, |p| p.len());
    let (name, generate_name) = (has("name"), has("generateName"));
    if (name && generate_name && count == 2) || ((name || generate_name) && count == 1) {
        rest.properties = None;
    }
    rest.properties = rest.properties.filter(|p| !p.is_empty());
    rest.type_ = None;
    rest.default = None;
    // Upstream builds these lists by appending, so an empty one is no list.
    for list in [&mut rest.all_of, &mut rest.any_of, &mut rest.one_of] {
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
    }
    if rest.enum_.as_ref().is_some_and(Vec::is_empty) {
        rest.enum_ = None;
    }
    // Not part of a structural schema, so not compared upstream either.
    rest.example = None;
    rest.external_docs = None;
    for f in [
        &mut rest.nullable,
        &mut rest.x_kubernetes_preserve_unknown_fields,
        &mut rest.x_kubernetes_embedded_resource,
        &mut rest.x_kubernetes_int_or_string,
        &mut rest.unique_items,
        &mut rest.exclusive_maximum,
        &mut rest.exclusive_minimum,
    ] {
        if *f == Some(false) {
            *f = None;
        }
    }
    if rest != JSONSchemaProps::default() {
        errs.push(causes::forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

/// `anyOf: [{type: integer}, {type: string}]`, the structure `x-kubernetes-int-or-string`
/// may carry.
fn is_int_or_string_any_of(any_of: &[JSONSchemaProps]) -> bool {
    let only_type = |s: &JSONSchemaProps, t: &str| {
        *s == JSONSchemaProps {
            type_: Some(t.to_string()),
            ..Default::default()
        }
    };
    any_of.len() == 2 && only_type(&any_of[0], "integer") && only_type(&any_of[1], "string")
}

/// `validateValueValidation`: the junctors, and the pattern.
fn value_validation(
    s: &JSONSchemaProps,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    lvl: Level,
    path: &str,
    errs: &mut Vec<Cause>,
) {
    if !skip_any_of {
        for (i, v) in list_of(&s.any_of).iter().enumerate() {
            nested(v, false, false, lvl, &index(&child(path, "anyOf"), i), errs);
        }
    }
    for (i, v) in list_of(&s.all_of).iter().enumerate() {
        let skip = skip_first_all_of_any_of && i == 0;
        nested(v, skip, false, lvl, &index(&child(path, "allOf"), i), errs);
    }
    for (i, v) in list_of(&s.one_of).iter().enumerate() {
        nested(v, false, false, lvl, &index(&child(path, "oneOf"), i), errs);
    }
    if let Some(not) = &s.not {
        nested(not, false, false, lvl, &child(path, "not"), errs);
    }
    if let Some(pattern) = s.pattern.as_deref().filter(|p| !p.is_empty()) {
        if let Err(e) = patterns::compile(pattern) {
            errs.push(causes::invalid(
                &child(path, "pattern"),
                &s_str(pattern),
                &format!("must be a valid regular expression, but isn't: {e}"),
            ));
        }
    }
}

/// `validateNestedValueValidation`: inside a junctor only value validations are allowed.
fn nested(
    v: &JSONSchemaProps,
    skip_any_of: bool,
    skip_all_of_any_of: bool,
    lvl: Level,
    path: &str,
    errs: &mut Vec<Cause>,
) {
    value_validation(v, skip_any_of, skip_all_of_any_of, lvl, path, errs);
    if let Some(item) = items(v) {
        nested(item, false, false, lvl, &child(path, "items"), errs);
    }
    if let Some(props) = &v.properties {
        for (k, p) in props {
            nested(
                p,
                false,
                false,
                Level::Field,
                &key(&child(path, "properties"), k),
                errs,
            );
        }
    }
    let forbid = |errs: &mut Vec<Cause>, field: &str, detail: &str| {
        errs.push(causes::forbidden(&child(path, field), detail));
    };
    if !type_of(v).is_empty() {
        forbid(errs, "type", "must be empty to be structural");
    }
    if v.additional_properties.is_some() {
        forbid(
            errs,
            "additionalProperties",
            "must be undefined to be structural",
        );
    }
    if default_value(v).is_some() {
        forbid(errs, "default", "must be undefined to be structural");
    }
    if v.title.as_deref().is_some_and(|t| !t.is_empty()) {
        forbid(errs, "title", "must be empty to be structural");
    }
    if v.description.as_deref().is_some_and(|d| !d.is_empty()) {
        forbid(errs, "description", "must be empty to be structural");
    }
    if nullable(v) {
        forbid(errs, "nullable", "must be false to be structural");
    }
    if v.external_docs.is_some() {
        forbid(errs, "externalDocs", "must be undefined to be structural");
    }
    if preserves_unknown(v) {
        forbid(
            errs,
            "x-kubernetes-preserve-unknown-fields",
            "must be false to be structural",
        );
    }
    if embedded_resource(v) {
        forbid(
            errs,
            "x-kubernetes-embedded-resource",
            "must be false to be structural",
        );
    }
    if int_or_string(v) {
        forbid(
            errs,
            "x-kubernetes-int-or-string",
            "must be false to be structural",
        );
    }
    if v.x_kubernetes_list_map_keys
        .as_ref()
        .is_some_and(|k| !k.is_empty())
    {
        forbid(
            errs,
            "x-kubernetes-list-map-keys",
            "must be empty to be structural",
        );
    }
    if v.x_kubernetes_list_type.is_some() {
        forbid(
            errs,
            "x-kubernetes-list-type",
            "must be undefined to be structural",
        );
    }
    if v.x_kubernetes_map_type.is_some() {
        forbid(
            errs,
            "x-kubernetes-map-type",
            "must be undefined to be structural",
        );
    }
    if v.x_kubernetes_validations
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        forbid(
            errs,
            "x-kubernetes-validations",
            "must be empty to be structural",
        );
    }
    if property(v, "metadata").is_some() {
        errs.push(causes::forbidden(
            &key(&child(path, "properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// `validateStructuralCompleteness`: whatever a junctor says about fields and items must be
/// specified in the structure too. `s` is the structural node, `v` the node whose junctors
/// are walked.
pub(super) fn completeness(
    s: &JSONSchemaProps,
    v: &JSONSchemaProps,
    s_path: &str,
    v_path: &str,
    errs: &mut Vec<Cause>,
) {
    if let Some(not) = &v.not {
        nested_completeness(not, Some(s), s_path, &child(v_path, "not"), errs);
    }
    for (name, list) in [
        ("allOf", &v.all_of),
        ("anyOf", &v.any_of),
        ("oneOf", &v.one_of),
    ] {
        for (i, sub) in list_of(list).iter().enumerate() {
            nested_completeness(sub, Some(s), s_path, &index(&child(v_path, name), i), errs);
        }
    }
}

fn nested_completeness(
    v: &JSONSchemaProps,
    s: Option<&JSONSchemaProps>,
    s_path: &str,
    v_path: &str,
    errs: &mut Vec<Cause>,
) {
    let Some(s) = s else {
        errs.push(causes::required(
            s_path,
            &format!("because it is defined in {v_path}"),
        ));
        return;
    };
    completeness(s, v, s_path, v_path, errs);
    if let Some(item) = items(v) {
        nested_completeness(
            item,
            items(s),
            &child(s_path, "items"),
            &child(v_path, "items"),
            errs,
        );
    }
    if let Some(props) = &v.properties {
        for (k, p) in props {
            let sp = key(&child(s_path, "properties"), k);
            let vp = key(&child(v_path, "properties"), k);
            match property(s, k) {
                Some(sf) => nested_completeness(p, Some(sf), &sp, &vp, errs),
                None => errs.push(causes::required(
                    &sp,
                    &format!("because it is defined in {vp}"),
                )),
            }
        }
    }
}

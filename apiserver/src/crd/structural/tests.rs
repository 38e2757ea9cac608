//! Unit tests of pruning, defaulting, validation and the schema checks, with the messages
//! upstream gives.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{json, Value};

use super::{check_schema, default, prune, validate, validate_update};

fn schema(v: Value) -> JSONSchemaProps {
    serde_json::from_value(v).expect("schema")
}

/// `field: message` of every cause, as kubectl prints them.
fn messages(causes: &[crate::status::Cause]) -> Vec<String> {
    causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

fn check(s: Value, obj: Value) -> Vec<String> {
    messages(&validate(&schema(s), &obj))
}

fn object(props: Value) -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}})
}

// ---- pruning ----

#[test]
fn prune_drops_unknown_fields_and_reports_their_paths() {
    let s = schema(json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "a": {"type": "string"},
            "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}}
        }}
    }}));
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Foo",
        "metadata": {"name": "x", "anything": {"kept": true}},
        "spec": {"a": "ok", "b": 1, "list": [{"x": 1, "y": 2}]},
        "extra": true
    });
    let mut dropped = prune(&s, &mut obj);
    dropped.sort();
    assert_eq!(dropped, vec![".extra", ".spec.b", ".spec.list[0].y"]);
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.com/v1", "kind": "Foo",
            "metadata": {"name": "x", "anything": {"kept": true}},
            "spec": {"a": "ok", "list": [{"x": 1}]}
        })
    );
}

#[test]
fn prune_keeps_unknown_fields_below_preserve_but_prunes_specified_ones() {
    let s = schema(json!({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
            "known": {"type": "object", "properties": {"a": {"type": "string"}}}
        }}
    }}));
    let mut obj = json!({"spec": {"free": {"deep": 1}, "known": {"a": "x", "b": "y"}}});
    assert_eq!(prune(&s, &mut obj), vec![".spec.known.b"]);
    assert_eq!(
        obj,
        json!({"spec": {"free": {"deep": 1}, "known": {"a": "x"}}})
    );
}

#[test]
fn prune_follows_additional_properties_and_keeps_embedded_meta() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {
                "spec": {"type": "object", "properties": {"n": {"type": "integer"}}}
            }}
        }}}}),
    );
    let mut obj = json!({"spec": {
        "labels": {"a": {"v": "1", "w": "2"}},
        "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "x": 1}, "spec": {"n": 1, "m": 2}, "other": 1}
    }});
    let mut dropped = prune(&s, &mut obj);
    dropped.sort();
    assert_eq!(
        dropped,
        vec![
            ".spec.labels.a.w",
            ".spec.template.other",
            ".spec.template.spec.m"
        ]
    );
    assert_eq!(
        obj["spec"]["template"]["metadata"],
        json!({"name": "p", "x": 1})
    );
}

#[test]
fn prune_under_boolean_additional_properties_empties_nested_objects() {
    let s = schema(
        json!({"type": "object", "properties": {"spec": {"type": "object", "additionalProperties": true}}}),
    );
    let mut obj = json!({"spec": {"a": "kept", "b": {"c": 1}}});
    assert_eq!(prune(&s, &mut obj), vec![".spec.b.c"]);
    assert_eq!(obj, json!({"spec": {"a": "kept", "b": {}}}));
}

// ---- defaulting ----

#[test]
fn defaults_fill_missing_fields_in_nested_objects_arrays_and_maps() {
    let s = schema(object(json!({
        "replicas": {"type": "integer", "default": 1},
        "nested": {"type": "object", "default": {}, "properties": {"mode": {"type": "string", "default": "fast"}}},
        "ports": {"type": "array", "items": {"type": "object", "properties": {
            "protocol": {"type": "string", "default": "TCP"}}}},
        "byName": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "weight": {"type": "integer", "default": 10}}}}
    })));
    let mut obj =
        json!({"spec": {"ports": [{"port": 80}, {"protocol": "UDP"}], "byName": {"a": {}}}});
    default(&s, &mut obj);
    assert_eq!(
        obj["spec"],
        json!({
            "replicas": 1,
            "nested": {"mode": "fast"},
            "ports": [{"port": 80, "protocol": "TCP"}, {"protocol": "UDP"}],
            "byName": {"a": {"weight": 10}}
        })
    );
}

#[test]
fn defaults_replace_non_nullable_nulls_and_drop_the_rest() {
    let s = schema(object(json!({
        "withDefault": {"type": "string", "default": "d"},
        "plain": {"type": "string"},
        "nullableField": {"type": "string", "nullable": true},
        "list": {"type": "array", "items": {"type": "string", "default": "x"}}
    })));
    let mut obj = json!({"spec": {"withDefault": null, "plain": null, "nullableField": null, "list": ["a", null]}});
    default(&s, &mut obj);
    assert_eq!(
        obj["spec"],
        json!({"withDefault": "d", "nullableField": null, "list": ["a", "x"]})
    );
}

#[test]
fn defaults_are_deep_copies() {
    let s = schema(object(
        json!({"cfg": {"type": "object", "default": {"a": [1]}, "properties": {"a": {"type": "array", "items": {"type": "integer"}}}}}),
    ));
    let mut one = json!({"spec": {}});
    default(&s, &mut one);
    one["spec"]["cfg"]["a"][0] = json!(2);
    let mut two = json!({"spec": {}});
    default(&s, &mut two);
    assert_eq!(two["spec"]["cfg"], json!({"a": [1]}));
}

// ---- validation ----

#[test]
fn type_errors_read_like_upstream() {
    let s = object(json!({
        "replicas": {"type": "integer"},
        "name": {"type": "string"},
        "on": {"type": "boolean"},
        "ratio": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "cfg": {"type": "object"}
    }));
    let got = check(
        s.clone(),
        json!({"spec": {"replicas": "string", "name": 5, "on": "yes", "ratio": "x", "tags": [1], "cfg": []}}),
    );
    assert_eq!(
        got,
        vec![
            r#"spec.cfg: Invalid value: "array": spec.cfg in body must be of type object: "array""#,
            r#"spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer""#,
            r#"spec.on: Invalid value: "string": spec.on in body must be of type boolean: "string""#,
            r#"spec.ratio: Invalid value: "string": spec.ratio in body must be of type number: "string""#,
            r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
            r#"spec.tags[0]: Invalid value: "integer": spec.tags[0] in body must be of type string: "integer""#,
        ]
    );
    let v = validate(&schema(s.clone()), &json!({"spec": {"replicas": "string"}}));
    assert_eq!(v[0].reason, "FieldValueTypeInvalid");
    // Integers written as whole floats are integers; numbers accept integers.
    assert!(check(s, json!({"spec": {"replicas": 3.0, "ratio": 2}})).is_empty());
}

#[test]
fn nulls_need_nullable() {
    let s = object(json!({"a": {"type": "string"}, "b": {"type": "string", "nullable": true}}));
    assert_eq!(
        check(s, json!({"spec": {"a": null, "b": null}})),
        vec![r#"spec.a: Invalid value: "null": spec.a in body must be of type string: "null""#]
    );
}

#[test]
fn required_fields() {
    let s = json!({"type": "object", "required": ["spec"], "properties": {"spec": {
        "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}});
    assert_eq!(check(s.clone(), json!({})), vec!["spec: Required value"]);
    let causes = validate(&schema(s), &json!({"spec": {}}));
    assert_eq!(messages(&causes), vec!["spec.name: Required value"]);
    assert_eq!(causes[0].reason, "FieldValueRequired");
}

#[test]
fn enums() {
    let s = object(json!({
        "size": {"type": "string", "enum": ["small", "large"]},
        "n": {"type": "integer", "enum": [1, 2]}
    }));
    let causes = validate(
        &schema(s.clone()),
        &json!({"spec": {"size": "huge", "n": 3}}),
    );
    assert_eq!(
        messages(&causes),
        vec![
            r#"spec.n: Unsupported value: 3: supported values: "1", "2""#,
            r#"spec.size: Unsupported value: "huge": supported values: "small", "large""#,
        ]
    );
    assert_eq!(causes[0].reason, "FieldValueNotSupported");
    assert!(check(s, json!({"spec": {"size": "small", "n": 2.0}})).is_empty());
}

#[test]
fn numeric_bounds() {
    let s = object(json!({
        "count": {"type": "integer", "maximum": 10, "minimum": 1},
        "excl": {"type": "integer", "maximum": 10, "exclusiveMaximum": true, "minimum": 0, "exclusiveMinimum": true},
        "ratio": {"type": "number", "maximum": 1.5},
        "step": {"type": "integer", "multipleOf": 5},
        "fine": {"type": "number", "multipleOf": 0.5}
    }));
    assert_eq!(
        check(
            s.clone(),
            json!({"spec": {"count": 20, "excl": 10, "ratio": 2.25, "step": 7, "fine": 0.3}})
        ),
        vec![
            "spec.count: Invalid value: 20: spec.count in body should be less than or equal to 10",
            "spec.excl: Invalid value: 10: spec.excl in body should be less than 10",
            "spec.fine: Invalid value: 0.3: spec.fine in body should be a multiple of 0.5",
            "spec.ratio: Invalid value: 2.25: spec.ratio in body should be less than or equal to 1.5",
            "spec.step: Invalid value: 7: spec.step in body should be a multiple of 5",
        ]
    );
    assert_eq!(
        check(s.clone(), json!({"spec": {"count": 0, "excl": 0}})),
        vec![
            "spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1",
            "spec.excl: Invalid value: 0: spec.excl in body should be greater than 0",
        ]
    );
    assert!(check(s, json!({"spec": {"count": 10, "step": 15, "fine": 1.5}})).is_empty());
}

#[test]
fn string_constraints() {
    let s = object(json!({
        "short": {"type": "string", "maxLength": 3},
        "long": {"type": "string", "minLength": 2},
        "pat": {"type": "string", "pattern": "^[a-z]+$"}
    }));
    let causes = validate(
        &schema(s.clone()),
        &json!({"spec": {"short": "abcd", "long": "a", "pat": "A1"}}),
    );
    assert_eq!(
        messages(&causes),
        vec![
            r#"spec.long: Invalid value: "a": spec.long in body should be at least 2 chars long"#,
            r#"spec.pat: Invalid value: "A1": spec.pat in body should match '^[a-z]+$'"#,
            "spec.short: Too long: may not be more than 3 bytes",
        ]
    );
    assert_eq!(causes[2].reason, "FieldValueTooLong");
    // Length counts characters, not bytes.
    assert!(check(s, json!({"spec": {"short": "äöü"}})).is_empty());
}

#[test]
fn formats() {
    let s = object(json!({
        "when": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"},
        "ignored": {"type": "string", "format": "no-such-format"},
        "small": {"type": "integer", "format": "int32"}
    }));
    assert_eq!(
        check(
            s.clone(),
            json!({"spec": {"when": "yesterday", "id": "x", "ignored": "anything", "small": 5}})
        ),
        vec![
            r#"spec.id: Invalid value: "x": spec.id in body must be of type uuid: "x""#,
            r#"spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday""#,
        ]
    );
    assert!(check(s, json!({"spec": {"when": "2024-05-06T07:08:09Z"}})).is_empty());
}

#[test]
fn array_constraints() {
    let s = object(json!({
        "few": {"type": "array", "minItems": 2, "items": {"type": "string"}},
        "many": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
        "uniq": {"type": "array", "uniqueItems": true, "items": {"type": "string"}}
    }));
    let causes = validate(
        &schema(s),
        &json!({"spec": {"few": ["a"], "many": ["a", "b"], "uniq": ["a", "a"]}}),
    );
    assert_eq!(
        messages(&causes),
        vec![
            "spec.few: Invalid value: 1: spec.few in body should have at least 2 items",
            "spec.many: Too many: 2: must have at most 1 item",
            r#"spec.uniq: Invalid value: "": spec.uniq in body shouldn't contain duplicates"#,
        ]
    );
    assert_eq!(causes[1].reason, "FieldValueTooMany");
}

#[test]
fn object_constraints() {
    let s = object(json!({
        "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        "some": {"type": "object", "minProperties": 2, "additionalProperties": {"type": "string"}},
        "typed": {"type": "object", "additionalProperties": {"type": "integer"}},
        "closed": {"type": "object", "additionalProperties": false}
    }));
    assert_eq!(
        check(
            s,
            json!({"spec": {"labels": {"a": "1", "b": "2"}, "some": {"a": "1"}, "typed": {"x": "y"}, "closed": {"k": 1}}})
        ),
        vec![
            r#"spec.closed: Invalid value: "k": spec.closed.k in body is a forbidden property"#,
            "spec.labels: Too many: 2: must have at most 1 item",
            "spec.some: Invalid value: 1: spec.some in body should have at least 2 properties",
            r#"spec.typed.x: Invalid value: "string": spec.typed.x in body must be of type integer: "string""#,
        ]
    );
}

#[test]
fn int_or_string() {
    let s = object(
        json!({"port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}),
    );
    assert!(check(s.clone(), json!({"spec": {"port": 80}})).is_empty());
    assert!(check(s.clone(), json!({"spec": {"port": "http"}})).is_empty());
    assert_eq!(
        check(s, json!({"spec": {"port": true}})),
        vec![
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
            r#"<nil>: Invalid value: "": "spec.port" must validate at least one schema (anyOf)"#,
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean""#,
        ]
    );
}

#[test]
fn junctors() {
    let s = object(json!({
        "one": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]},
        "all": {"type": "string", "allOf": [{"minLength": 2}, {"maxLength": 3}]},
        "not": {"type": "string", "not": {"enum": ["bad"]}}
    }));
    assert_eq!(
        check(
            s.clone(),
            json!({"spec": {"one": 5, "all": "toolong", "not": "bad"}})
        ),
        vec![
            "spec.all: Too long: may not be more than 3 bytes",
            r#"<nil>: Invalid value: "": "spec.all" must validate all the schemas (allOf)"#,
            r#"<nil>: Invalid value: "": "spec.not" must not validate the schema (not)"#,
            r#"<nil>: Invalid value: "": "spec.one" must validate one and only one schema (oneOf). Found 2 valid alternatives"#,
        ]
    );
    assert!(check(s, json!({"spec": {"one": 20, "all": "ok", "not": "fine"}})).is_empty());
}

#[test]
fn embedded_resources_need_type_meta_and_valid_object_meta() {
    let s = object(
        json!({"template": {"type": "object", "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true}}),
    );
    assert_eq!(
        check(
            s.clone(),
            json!({"spec": {"template": {"metadata": {"name": "a/b"}}}})
        ),
        vec![
            "spec.template.apiVersion: Required value",
            "spec.template.kind: Required value",
            r#"spec.template.metadata.name: Invalid value: "a/b": may not contain '/'"#,
        ]
    );
    assert!(check(
        s,
        json!({"spec": {"template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}}})
    )
    .is_empty());
}

#[test]
fn list_type_set_and_map_reject_duplicates() {
    let s = object(json!({
        "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "byName": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}}},
        "byTwo": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["a", "b"],
            "items": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}}
    }));
    let causes = validate(
        &schema(s),
        &json!({"spec": {
            "set": ["x", "y", "x", "x"],
            "byName": [{"name": "a", "v": 1}, {"name": "a", "v": 2}],
            "byTwo": [{"a": "x", "b": 1}, {"a": "x", "b": 2}, {"b": 1, "a": "x"}]
        }}),
    );
    let mut got = messages(&causes);
    got.sort();
    assert_eq!(
        got,
        vec![
            r#"spec.byName[1]: Duplicate value: map[string]interface {}{"name":"a"}"#,
            r#"spec.byTwo[2]: Duplicate value: map[string]interface {}{"a":"x", "b":1}"#,
            r#"spec.set[2]: Duplicate value: "x""#,
        ]
    );
    assert!(causes.iter().all(|c| c.reason == "FieldValueDuplicate"));
}

// ---- schema checks ----

const ROOT: &str = "spec.versions[0].schema.openAPIV3Schema";

fn schema_errors(s: Value) -> Vec<String> {
    messages(&check_schema(&schema(s), ROOT))
}

#[test]
fn a_good_schema_passes() {
    let s = json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "default": 1, "minimum": 0},
            "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
    }});
    assert_eq!(schema_errors(s), Vec::<String>::new());
}

#[test]
fn types_are_required_and_the_root_is_an_object() {
    assert_eq!(
        schema_errors(json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}})),
        vec![format!("{ROOT}.properties[spec].type: Required value: must not be empty for specified object fields")]
    );
    assert_eq!(
        schema_errors(json!({"type": "array", "items": {}})),
        vec![
            format!(
                "{ROOT}.items.type: Required value: must not be empty for specified array items"
            ),
            format!(r#"{ROOT}.type: Invalid value: "array": must be object at the root"#),
        ]
    );
}

#[test]
fn properties_and_additional_properties_exclude_each_other() {
    let errs = schema_errors(
        json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}}}),
    );
    assert_eq!(
        errs,
        vec![format!(
            "{ROOT}.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        )]
    );
}

#[test]
fn metadata_may_only_restrict_name_and_generate_name() {
    assert!(schema_errors(
        json!({"type": "object", "properties": {"metadata": {"type": "object",
        "properties": {"name": {"type": "string", "maxLength": 10}}}}})
    )
    .is_empty());
    assert_eq!(
        schema_errors(json!({"type": "object", "properties": {"metadata": {"type": "object",
            "properties": {"labels": {"type": "object"}}}}})),
        vec![format!("{ROOT}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified")]
    );
}

#[test]
fn junctors_must_be_structural_and_complete() {
    // Like upstream, completeness is checked for the junctors of the root.
    let errs = schema_errors(
        json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"a": {"type": "string"}}}},
        "anyOf": [{"type": "object", "properties": {"spec": {"properties": {"b": {"minLength": 1}}}}}]}),
    );
    assert_eq!(
        errs,
        vec![
            format!("{ROOT}.anyOf[0].type: Forbidden: must be empty to be structural"),
            format!("{ROOT}.properties[spec].properties[b]: Required value: because it is defined in {ROOT}.anyOf[0].properties[spec].properties[b]"),
        ]
    );
}

#[test]
fn defaults_must_validate_and_be_pruned() {
    let errs = schema_errors(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "n": {"type": "integer", "default": "one"},
            "o": {"type": "object", "default": {"x": 1, "unknown": 2}, "properties": {"x": {"type": "integer"}}}
        }}}}),
    );
    assert_eq!(
        errs,
        vec![
            format!(
                r#"{ROOT}.properties[spec].properties[n].default: Invalid value: "string":  in body must be of type integer: "string""#
            ),
            format!(
                r#"{ROOT}.properties[spec].properties[o].default: Invalid value: map[string]interface {{}}{{"unknown":2, "x":1}}: must not have unknown fields"#
            ),
        ]
    );
    assert_eq!(
        schema_errors(
            json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {}}}})
        ),
        vec![format!(
            "{ROOT}.properties[metadata].default: Forbidden: must not be set in top-level metadata"
        )]
    );
}

#[test]
fn openapi_features_crds_do_not_support() {
    let errs = schema_errors(
        json!({"type": "object", "nullable": true, "properties": {"spec": {"type": "object", "properties": {
            "u": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
            "t": {"type": "null"},
            "p": {"type": "string", "pattern": "(unclosed"},
            "l": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}
        }}}}),
    );
    let want_prefixes = [
        format!("{ROOT}.nullable: Forbidden: nullable cannot be true at the root"),
        format!(r#"{ROOT}.properties[spec].properties[p].pattern: Invalid value: "(unclosed": must be a valid regular expression, but isn't: error parsing regexp"#),
        format!(r#"{ROOT}.properties[spec].properties[t].type: Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string""#),
        format!("{ROOT}.properties[spec].properties[t].type: Forbidden: type cannot be set to null, use nullable as an alternative"),
        format!("{ROOT}.properties[spec].properties[u].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"),
        format!("{ROOT}.properties[spec].properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"),
    ];
    for want in &want_prefixes {
        assert!(
            errs.iter().any(|e| e.starts_with(want.as_str())),
            "missing {want:?} in {errs:#?}"
        );
    }
}

#[test]
fn list_map_keys_must_be_required_or_defaulted() {
    let errs = schema_errors(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k", "missing"],
                "items": {"type": "object", "properties": {"k": {"type": "string"}}}}
        }}}}),
    );
    assert_eq!(
        errs,
        vec![
            format!(r#"{ROOT}.properties[spec].properties[l].x-kubernetes-list-map-keys: Invalid value: []string{{"k", "missing"}}: entries must all be names of item properties"#),
            format!("{ROOT}.properties[spec].properties[l].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"),
        ]
    );
}

#[test]
fn embedded_resources_need_object_type_and_properties() {
    let errs = schema_errors(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "t": {"x-kubernetes-embedded-resource": true}
        }}}}),
    );
    assert_eq!(
        errs,
        vec![
            format!("{ROOT}.properties[spec].properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"),
            format!("{ROOT}.properties[spec].properties[t].type: Required value: must be object if x-kubernetes-embedded-resource is true"),
        ]
    );
}

#[test]
fn integer_bounds_truncate_like_go() {
    // Upstream compares an integer with int64(maximum).
    let s = object(json!({"n": {"type": "integer", "maximum": 1.5}}));
    assert_eq!(
        check(s, json!({"spec": {"n": 2}})),
        vec!["spec.n: Invalid value: 2: spec.n in body should be less than or equal to 1"]
    );
}

#[test]
fn negative_multiple_of_is_reported() {
    let s = object(json!({"n": {"type": "number", "multipleOf": -2}}));
    assert_eq!(
        check(s, json!({"spec": {"n": 4.5}})),
        vec![
            "spec.n: Invalid value: -2: factor MultipleOf declared for spec.n must be positive: -2"
        ]
    );
}

#[test]
fn null_never_matches_an_enum() {
    let s = object(json!({"mode": {"type": "string", "nullable": true, "enum": ["a", null]}}));
    assert_eq!(
        check(s, json!({"spec": {"mode": null}})),
        vec![r#"spec.mode: Unsupported value: null: supported values: "a", "null""#]
    );
}

#[test]
fn object_and_array_values_print_in_go_syntax() {
    let s = object(json!({"pick": {"type": "object", "enum": [{"a": 1}]}}));
    assert_eq!(
        check(s, json!({"spec": {"pick": {"b": [true]}}})),
        vec![
            r#"spec.pick: Unsupported value: map[string]interface {}{"b":[]interface {}{true}}: supported values: "{\"a\":1}""#
        ]
    );
}

#[test]
fn list_map_items_must_be_objects() {
    let s = object(
        json!({"l": {"type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["k"], "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}),
    );
    let got = check(s, json!({"spec": {"l": [{"k": "a"}, "x"]}}));
    assert!(
        got.contains(
            &r#"spec.l[1]: Invalid value: "x": must be an object for an array of list-type map"#
                .to_string()
        ),
        "{got:#?}"
    );
}

#[test]
fn list_map_items_without_their_key_collide() {
    let s = object(
        json!({"l": {"type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["k"], "items": {"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "string"}}}}}),
    );
    assert_eq!(
        check(s, json!({"spec": {"l": [{"v": "a"}, {"v": "b"}]}})),
        vec!["spec.l[1]: Duplicate value: map[string]interface {}{}"]
    );
}

#[test]
fn embedded_api_version_and_kind_must_be_well_formed() {
    let s = object(
        json!({"t": {"type": "object", "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true}}),
    );
    let got = check(
        s,
        json!({"spec": {"t": {"apiVersion": "a/b/c", "kind": "Not_A_Kind"}}}),
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got.contains(
        &r#"spec.t.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#
            .to_string()
    ));
    assert!(got
        .iter()
        .any(|e| e.starts_with(r#"spec.t.kind: Invalid value: "Not_A_Kind": may have mixed case, but should otherwise match: a DNS-1035 label"#)));
}

#[test]
fn preserve_unknown_fields_at_the_root_keeps_everything_unknown() {
    let s = schema(
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}),
    );
    let mut obj = json!({"anything": {"x": 1}, "spec": {"a": "x", "b": 2}});
    assert_eq!(prune(&s, &mut obj), vec![".spec.b"]);
    assert_eq!(obj, json!({"anything": {"x": 1}, "spec": {"a": "x"}}));
}

#[test]
fn defaults_apply_to_null_map_values() {
    let s = schema(object(json!({"m": {"type": "object",
        "additionalProperties": {"type": "string", "default": "d"}}})));
    let mut obj = json!({"spec": {"m": {"a": null, "b": "x"}}});
    default(&s, &mut obj);
    assert_eq!(obj["spec"]["m"], json!({"a": "d", "b": "x"}));
}

#[test]
fn all_of_wrapping_int_or_string_is_structural() {
    let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "p": {"x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9a-z]+$"}]}
    }}}});
    assert_eq!(schema_errors(s.clone()), Vec::<String>::new());
    assert!(check(s.clone(), json!({"spec": {"p": 8080}})).is_empty());
    assert!(!check(s, json!({"spec": {"p": "UP"}})).is_empty());
}

#[test]
fn extension_conflicts_and_list_and_map_types() {
    let errs = schema_errors(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true},
            "b": {"type": "string", "x-kubernetes-list-type": "set"},
            "c": {"type": "object", "x-kubernetes-map-type": "weird"},
            "d": {"type": "object", "x-kubernetes-preserve-unknown-fields": false}
        }}}}),
    );
    let want = [
        format!("{ROOT}.properties[spec].properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true"),
        format!(r#"{ROOT}.properties[spec].properties[b].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified"#),
        format!(r#"{ROOT}.properties[spec].properties[c].x-kubernetes-map-type: Unsupported value: "weird": supported values: "atomic", "granular""#),
        format!("{ROOT}.properties[spec].properties[d].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"),
    ];
    for w in &want {
        assert!(errs.contains(w), "missing {w:?} in {errs:#?}");
    }
}

#[test]
fn causes_carry_upstream_reasons() {
    let causes = check_schema(
        &schema(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "l": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}}}}),
        ),
        ROOT,
    );
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldValueForbidden");
    assert_eq!(
        causes[0].field,
        format!("{ROOT}.properties[spec].properties[l].uniqueItems")
    );
}

#[test]
fn updates_ratchet_errors_in_unchanged_values() {
    let s = schema(object(json!({
        "name": {"type": "string", "maxLength": 3},
        "other": {"type": "string", "maxLength": 3},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer", "maximum": 100}}}}
    })));
    let old = json!({"spec": {"name": "toolong", "other": "ok", "ports": [{"name": "a", "port": 500}, {"name": "b", "port": 1}]}});
    // Nothing that was invalid changed: accepted.
    let new = json!({"spec": {"name": "toolong", "other": "ok2", "ports": [{"name": "b", "port": 2}, {"name": "a", "port": 500}]}});
    assert_eq!(
        messages(&validate_update(&s, &new, &old)),
        Vec::<String>::new()
    );
    // A changed invalid value is still rejected.
    let new = json!({"spec": {"name": "toolong2", "other": "okay", "ports": [{"name": "a", "port": 501}]}});
    assert_eq!(
        messages(&validate_update(&s, &new, &old)),
        vec![
            "spec.name: Too long: may not be more than 3 bytes",
            "spec.other: Too long: may not be more than 3 bytes",
            "spec.ports[0].port: Invalid value: 501: spec.ports[0].port in body should be less than or equal to 100",
        ]
    );
}

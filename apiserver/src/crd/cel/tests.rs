use serde_json::{json, Value as Json};

use super::Rules;
use crate::status::Cause;

const PATH: &str = "spec.versions[0].schema.openAPIV3Schema";

fn rules(schema: Json) -> Rules {
    let schema = serde_json::from_value(schema).expect("schema");
    match Rules::compile(&schema, PATH) {
        Ok(r) => r,
        Err(causes) => panic!("does not compile: {causes:?}"),
    }
}

fn compile_errors(schema: Json) -> Vec<Cause> {
    let schema = serde_json::from_value(schema).expect("schema");
    match Rules::compile(&schema, PATH) {
        Ok(_) => panic!("compiled"),
        Err(causes) => causes,
    }
}

/// A resource schema whose `spec` has the given properties and rules.
fn spec(properties: Json, validations: Json) -> Json {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": properties,
                "x-kubernetes-validations": validations,
            }
        }
    })
}

fn messages(causes: &[Cause]) -> Vec<String> {
    causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

#[test]
fn no_rules_is_empty() {
    let r = rules(json!({"type": "object", "properties": {"spec": {"type": "object"}}}));
    assert!(r.is_empty());
    assert!(r.validate(&json!({"spec": {}}), None).is_empty());
}

#[test]
fn cross_field_rule() {
    let r = rules(spec(
        json!({"minReplicas": {"type": "integer"}, "replicas": {"type": "integer"}}),
        json!([{"rule": "self.minReplicas <= self.replicas", "message": "replicas must be at least minReplicas"}]),
    ));
    assert!(!r.is_empty());
    let ok = json!({"spec": {"minReplicas": 1, "replicas": 3}});
    assert!(r.validate(&ok, None).is_empty());
    let bad = json!({"spec": {"minReplicas": 5, "replicas": 3}});
    let causes = r.validate(&bad, None);
    assert_eq!(
        messages(&causes),
        vec!["spec: Invalid value: \"object\": replicas must be at least minReplicas"]
    );
    assert_eq!(causes[0].reason, "FieldValueInvalid");
}

#[test]
fn default_message_names_the_rule() {
    let r = rules(spec(
        json!({"replicas": {"type": "integer"}}),
        json!([{"rule": "self.replicas < 10"}]),
    ));
    let causes = r.validate(&json!({"spec": {"replicas": 12}}), None);
    assert_eq!(
        messages(&causes),
        vec!["spec: Invalid value: \"object\": failed rule: self.replicas < 10"]
    );
}

#[test]
fn immutability_is_a_transition_rule() {
    let r = rules(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "name": {
                "type": "string",
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "Value is immutable"}],
            }
        }}}
    }));
    let v1 = json!({"spec": {"name": "a"}});
    let v2 = json!({"spec": {"name": "b"}});
    // Create: no old value, the rule does not run.
    assert!(r.validate(&v2, None).is_empty());
    assert!(r.validate(&v1, Some(&v1)).is_empty());
    assert_eq!(
        messages(&r.validate(&v2, Some(&v1))),
        vec!["spec.name: Invalid value: \"string\": Value is immutable"]
    );
    // The field newly set on update has no old value either.
    assert!(r.validate(&v2, Some(&json!({"spec": {}}))).is_empty());
}

#[test]
fn rule_on_list_items() {
    let r = rules(spec(
        json!({"ports": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"port": {"type": "integer"}, "name": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "self.port > 0 && self.port < 65536", "message": "port out of range"}],
            }
        }}),
        json!([]),
    ));
    let causes = r.validate(
        &json!({"spec": {"ports": [{"port": 80}, {"port": 0}, {"port": 70000}]}}),
        None,
    );
    assert_eq!(
        messages(&causes),
        vec![
            "spec.ports[1]: Invalid value: \"object\": port out of range",
            "spec.ports[2]: Invalid value: \"object\": port out of range",
        ]
    );
}

#[test]
fn rule_over_a_list_with_macros() {
    let r = rules(spec(
        json!({"names": {"type": "array", "items": {"type": "string"}}}),
        json!([
            {"rule": "self.names.all(n, n.startsWith('x-'))", "message": "all prefixed"},
            {"rule": "self.names.exists_one(n, n == 'x-main')", "message": "one main"},
            {"rule": "size(self.names.filter(n, n.endsWith('-b'))) <= 1", "message": "at most one b"},
            {"rule": "self.names.map(n, size(n)).all(l, l <= 8)", "message": "short"},
        ]),
    ));
    assert!(r
        .validate(&json!({"spec": {"names": ["x-main", "x-b"]}}), None)
        .is_empty());
    let causes = r.validate(
        &json!({"spec": {"names": ["x-main", "y-b", "x-main", "x-toolong-b"]}}),
        None,
    );
    assert_eq!(
        messages(&causes),
        vec![
            "spec: Invalid value: \"object\": all prefixed",
            "spec: Invalid value: \"object\": one main",
            "spec: Invalid value: \"object\": at most one b",
            "spec: Invalid value: \"object\": short",
        ]
    );
}

#[test]
fn rule_on_map_values() {
    let r = rules(spec(
        json!({"limits": {
            "type": "object",
            "additionalProperties": {
                "type": "integer",
                "x-kubernetes-validations": [{"rule": "self >= 0", "message": "must not be negative"}],
            }
        }}),
        json!([]),
    ));
    let causes = r.validate(&json!({"spec": {"limits": {"cpu": 2, "mem": -1}}}), None);
    assert_eq!(
        messages(&causes),
        vec!["spec.limits[mem]: Invalid value: \"integer\": must not be negative"]
    );
}

#[test]
fn map_keys_and_has() {
    let r = rules(spec(
        json!({
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "mode": {"type": "string"},
            "replicas": {"type": "integer"},
        }),
        json!([
            {"rule": "'app' in self.labels && self.labels['app'].lowerAscii() == self.labels['app']", "message": "app label"},
            {"rule": "self.mode == 'Manual' || !has(self.replicas)", "message": "replicas only in Manual mode"},
        ]),
    ));
    assert!(r
        .validate(
            &json!({"spec": {"labels": {"app": "web"}, "mode": "Auto"}}),
            None
        )
        .is_empty());
    let causes = r.validate(
        &json!({"spec": {"labels": {"app": "Web"}, "mode": "Auto", "replicas": 2}}),
        None,
    );
    assert_eq!(
        messages(&causes),
        vec![
            "spec: Invalid value: \"object\": app label",
            "spec: Invalid value: \"object\": replicas only in Manual mode",
        ]
    );
}

#[test]
fn message_expression() {
    let r = rules(spec(
        json!({"x": {"type": "integer"}, "maxLimit": {"type": "integer"}}),
        json!([{
            "rule": "self.x <= self.maxLimit",
            "messageExpression": "'x exceeded max limit of ' + string(self.maxLimit)",
        }]),
    ));
    let causes = r.validate(&json!({"spec": {"x": 5, "maxLimit": 3}}), None);
    assert_eq!(
        messages(&causes),
        vec!["spec: Invalid value: \"object\": x exceeded max limit of 3"]
    );
}

#[test]
fn message_expression_that_fails_falls_back_to_message() {
    let r = rules(spec(
        json!({"x": {"type": "integer"}, "name": {"type": "string"}}),
        json!([{
            "rule": "self.x < 3",
            "message": "x too big",
            "messageExpression": "'bad ' + self.name",
        }]),
    ));
    // `name` is absent: the messageExpression errors, the message is used.
    let causes = r.validate(&json!({"spec": {"x": 5}}), None);
    assert_eq!(
        messages(&causes),
        vec!["spec: Invalid value: \"object\": x too big"]
    );
}

#[test]
fn field_path_and_reason() {
    let r = rules(spec(
        json!({"x": {"type": "integer"}, "maxLimit": {"type": "integer"}}),
        json!([
            {"rule": "self.x <= self.maxLimit", "message": "too big", "fieldPath": ".x", "reason": "FieldValueForbidden"},
            {"rule": "has(self.x)", "message": "x is needed", "reason": "FieldValueRequired", "fieldPath": ".x"},
            {"rule": "self.x != 7", "reason": "FieldValueDuplicate"},
        ]),
    ));
    let causes = r.validate(&json!({"spec": {"x": 7, "maxLimit": 3}}), None);
    assert_eq!(
        messages(&causes),
        vec![
            "spec.x: Forbidden: too big",
            "spec: Duplicate value: \"object\"",
        ]
    );
    assert_eq!(causes[0].reason, "FieldValueForbidden");
    assert_eq!(causes[1].reason, "FieldValueDuplicate");
    let causes = r.validate(&json!({"spec": {"maxLimit": 3}}), None);
    // self.x is missing: the first rule errors, the second fails as Required.
    assert_eq!(
        messages(&causes),
        vec![
            "spec: Invalid value: \"object\": no such key: x evaluating rule: too big",
            "spec.x: Required value: x is needed",
            "spec: Invalid value: \"object\": no such key: x evaluating rule: self.x != 7",
        ]
    );
    assert_eq!(causes[1].reason, "FieldValueRequired");
}

#[test]
fn root_rules_report_at_nil() {
    let r = rules(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "x-kubernetes-validations": [
            {"rule": "self.metadata.name.startsWith('ok-')", "message": "name must start with ok-"},
            {"rule": "has(self.spec.a)", "message": "a is required", "fieldPath": ".spec.a", "reason": "FieldValueRequired"},
        ],
    }));
    let obj = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "bad"}, "spec": {}});
    assert_eq!(
        messages(&r.validate(&obj, None)),
        vec![
            "<nil>: Invalid value: \"object\": name must start with ok-",
            "spec.a: Required value: a is required",
        ]
    );
}

#[test]
fn evaluation_errors_are_causes() {
    let r = rules(spec(
        json!({
            "items": {"type": "array", "items": {"type": "integer"}},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
            "n": {"type": "integer"},
        }),
        json!([
            {"rule": "self.items[3] == 1"},
            {"rule": "self.m['missing'] == 'x'"},
            {"rule": "10 / self.n > 1"},
        ]),
    ));
    let causes = r.validate(&json!({"spec": {"items": [1], "m": {}, "n": 0}}), None);
    assert_eq!(
        messages(&causes),
        vec![
            "spec: Invalid value: \"object\": index '3' out of range in list size '1' evaluating rule: self.items[3] == 1",
            "spec: Invalid value: \"object\": no such key: missing evaluating rule: self.m['missing'] == 'x'",
            "spec: Invalid value: \"object\": division by zero evaluating rule: 10 / self.n > 1",
        ]
    );
}

#[test]
fn int_or_string_is_dynamic() {
    let r = rules(spec(
        json!({"v": {"x-kubernetes-int-or-string": true}}),
        json!([{"rule": "self.v == 50 || self.v == '50%'", "message": "50 or 50%"}]),
    ));
    assert!(r.validate(&json!({"spec": {"v": 50}}), None).is_empty());
    assert!(r.validate(&json!({"spec": {"v": "50%"}}), None).is_empty());
    assert_eq!(r.validate(&json!({"spec": {"v": 3}}), None).len(), 1);
}

#[test]
fn type_of_int_or_string() {
    let r = rules(spec(
        json!({"v": {"x-kubernetes-int-or-string": true}}),
        json!([{"rule": "type(self.v) == string ? self.v.endsWith('%') : self.v <= 100", "message": "percent or at most 100"}]),
    ));
    assert!(r.validate(&json!({"spec": {"v": "50%"}}), None).is_empty());
    assert!(r.validate(&json!({"spec": {"v": 50}}), None).is_empty());
    assert_eq!(r.validate(&json!({"spec": {"v": "50"}}), None).len(), 1);
    assert_eq!(r.validate(&json!({"spec": {"v": 500}}), None).len(), 1);
}

#[test]
fn mismatched_runtime_types_are_no_such_overload() {
    let r = rules(spec(
        json!({"v": {"x-kubernetes-int-or-string": true}}),
        json!([{"rule": "self.v > 5"}]),
    ));
    let causes = r.validate(&json!({"spec": {"v": "x"}}), None);
    assert_eq!(
        messages(&causes),
        vec!["spec: Invalid value: \"object\": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: self.v > 5"]
    );
}

#[test]
fn rule_that_does_not_parse() {
    let causes = compile_errors(spec(json!({}), json!([{"rule": "self.a =="}])));
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldValueInvalid");
    assert_eq!(
        causes[0].field,
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    );
    assert!(
        causes[0].message.starts_with(
            "Invalid value: apiextensions.ValidationRule{Rule:\"self.a ==\", Message:\"\", \
             MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), \
             FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:"
        ),
        "{}",
        causes[0].message
    );
    assert!(
        causes[0].message.contains("Syntax error"),
        "{}",
        causes[0].message
    );
}

#[test]
fn rule_with_undefined_field_or_name() {
    let causes = compile_errors(spec(
        json!({"a": {"type": "string"}}),
        json!([{"rule": "self.foo == 1"}, {"rule": "bar(self.a)"}, {"rule": "self.a == 1"}]),
    ));
    let msgs = messages(&causes);
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs[0].ends_with(
        "compilation failed: ERROR: <input>:1:5: undefined field 'foo'\n | self.foo == 1\n | ....^"
    ), "{}", msgs[0]);
    assert!(
        msgs[1].contains("undeclared reference to 'bar' (in container '')"),
        "{}",
        msgs[1]
    );
    assert!(
        msgs[2].contains("found no matching overload for '_==_' applied to '(string, int)'"),
        "{}",
        msgs[2]
    );
}

#[test]
fn rule_must_be_bool_and_message_expression_a_string() {
    let causes = compile_errors(spec(
        json!({"a": {"type": "string"}}),
        json!([
            {"rule": "self.a"},
            {"rule": "true", "messageExpression": "42"},
            {"rule": "true", "messageExpression": "'x' +"},
        ]),
    ));
    let msgs = messages(&causes);
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs[0].ends_with(".x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.a\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: cel expression must evaluate to a bool"), "{}", msgs[0]);
    assert!(msgs[1].contains("x-kubernetes-validations[1].messageExpression: Invalid value: "));
    assert!(msgs[1].ends_with("messageExpression must evaluate to a string"));
    assert!(msgs[2].contains("messageExpression compilation failed: ERROR: <input>:1:"));
}

#[test]
fn bad_field_path_and_reason_and_empty_rule() {
    let causes = compile_errors(spec(
        json!({"a": {"type": "string"}}),
        json!([
            {"rule": "true", "fieldPath": ".b"},
            {"rule": "true", "reason": "Nope"},
            {"rule": "  "},
        ]),
    ));
    assert_eq!(
        messages(&causes),
        vec![
            format!("{PATH}.properties[spec].x-kubernetes-validations[0].fieldPath: Invalid value: \".b\": fieldPath must be a valid path: does not refer to a valid field"),
            format!("{PATH}.properties[spec].x-kubernetes-validations[1].reason: Unsupported value: \"Nope\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""),
            format!("{PATH}.properties[spec].x-kubernetes-validations[2].rule: Required value: rule is not specified"),
        ]
    );
}

#[test]
fn old_self_in_uncorrelatable_list_items() {
    let causes = compile_errors(spec(
        json!({"l": {"type": "array", "items": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf"}],
        }}}),
        json!([]),
    ));
    assert_eq!(
        messages(&causes),
        vec![format!(
            "{PATH}.properties[spec].properties[l].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within {PATH}.properties[spec].properties[l].items"
        )]
    );
}

#[test]
fn map_list_items_correlate_by_key() {
    let r = rules(spec(
        json!({"ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.port == oldSelf.port", "message": "port is immutable"}],
            }
        }}),
        json!([]),
    ));
    let old = json!({"spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]}});
    // Reordered and one added: nothing changed for existing keys.
    let new = json!({"spec": {"ports": [{"name": "c", "port": 9}, {"name": "b", "port": 2}, {"name": "a", "port": 1}]}});
    assert!(r.validate(&new, Some(&old)).is_empty());
    let new = json!({"spec": {"ports": [{"name": "b", "port": 3}]}});
    assert_eq!(
        messages(&r.validate(&new, Some(&old))),
        vec!["spec.ports[0]: Invalid value: \"object\": port is immutable"]
    );
}

#[test]
fn unchanged_values_are_ratcheted() {
    let r = rules(spec(
        json!({"a": {"type": "integer"}, "b": {"type": "integer"}}),
        json!([]),
    ));
    assert!(r.is_empty());
    let r = rules(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "integer", "x-kubernetes-validations": [{"rule": "self < 5"}]},
            "b": {"type": "integer"},
        }}}
    }));
    let old = json!({"spec": {"a": 9, "b": 1}});
    // a fails but did not change: the update goes through.
    assert!(r
        .validate(&json!({"spec": {"a": 9, "b": 2}}), Some(&old))
        .is_empty());
    assert_eq!(
        r.validate(&json!({"spec": {"a": 8, "b": 2}}), Some(&old))
            .len(),
        1
    );
    assert_eq!(r.validate(&json!({"spec": {"a": 9}}), None).len(), 1);
}

#[test]
fn null_values_are_skipped_and_absent() {
    let r = rules(json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": true, "x-kubernetes-validations": [{"rule": "self.size() > 2"}]},
            },
            "x-kubernetes-validations": [{"rule": "!has(self.a)", "message": "a must be unset"}],
        }}
    }));
    assert!(r.validate(&json!({"spec": {"a": null}}), None).is_empty());
}

#[test]
fn string_and_list_extensions() {
    let r = rules(spec(
        json!({
            "s": {"type": "string"},
            "l": {"type": "array", "items": {"type": "integer"}},
            "t": {"type": "string", "format": "date-time"},
        }),
        json!([
            {"rule": "self.s.upperAscii() == 'AB-CD' && self.s.split('-') == ['ab', 'cd']", "message": "s"},
            {"rule": "self.s.indexOf('c') == 3 && self.s.substring(1, 3) == 'b-' && self.s.replace('-', '') == 'abcd'", "message": "idx"},
            {"rule": "self.l.isSorted() && self.l.sum() == 6 && self.l.max() == 3", "message": "l"},
            {"rule": "self.s.matches('^[a-z-]+$') && size('é') == 1", "message": "regex"},
            {"rule": "self.t < timestamp('2030-01-01T00:00:00Z')", "message": "time"},
        ]),
    ));
    let causes = r.validate(
        &json!({"spec": {"s": "ab-cd", "l": [1, 2, 3], "t": "2025-05-01T10:00:00Z"}}),
        None,
    );
    assert!(causes.is_empty(), "{:?}", messages(&causes));
}

#[test]
fn quantities_format_and_regex_finds() {
    let r = rules(spec(
        json!({"mem": {"x-kubernetes-int-or-string": true}, "s": {"type": "string"}}),
        json!([
            {"rule": "isQuantity(self.mem) && quantity(self.mem).isLessThan(quantity('2Gi'))", "message": "mem"},
            {"rule": "quantity(self.mem) == quantity('1024Mi') && quantity(self.mem).add(quantity('1Gi')).compareTo(quantity('2Gi')) == 0", "message": "eq"},
            {"rule": "quantity('1500m').asApproximateFloat() == 1.5 && quantity('2k').asInteger() == 2000", "message": "num"},
            {"rule": "self.s.find('[0-9]+') == '12' && self.s.findAll('[a-z]') == ['a', 'b']", "message": "find"},
        ]),
    ));
    let causes = r.validate(&json!({"spec": {"mem": "1Gi", "s": "a12b3"}}), None);
    assert!(causes.is_empty(), "{:?}", messages(&causes));
    let causes = r.validate(&json!({"spec": {"mem": "3Gi", "s": "a12b3"}}), None);
    assert_eq!(
        messages(&causes),
        vec![
            "spec: Invalid value: \"object\": mem",
            "spec: Invalid value: \"object\": eq",
        ]
    );
}

#[test]
fn message_expression_with_format() {
    let r = rules(spec(
        json!({"x": {"type": "integer"}, "name": {"type": "string"}}),
        json!([{
            "rule": "self.x < 3",
            "messageExpression": "'%s: x is %d, at most %.1f allowed'.format([self.name, self.x, 2.5])",
        }]),
    ));
    let causes = r.validate(&json!({"spec": {"x": 5, "name": "web"}}), None);
    assert_eq!(
        messages(&causes),
        vec!["spec: Invalid value: \"object\": web: x is 5, at most 2.5 allowed"]
    );
}

#[test]
fn escaped_property_names() {
    let r = rules(spec(
        json!({"namespace": {"type": "string"}, "x-y": {"type": "integer"}}),
        json!([{"rule": "self.__namespace__ == 'a' && self.x__dash__y == 1", "message": "esc"}]),
    ));
    assert!(r
        .validate(&json!({"spec": {"namespace": "a", "x-y": 1}}), None)
        .is_empty());
    assert_eq!(
        r.validate(&json!({"spec": {"namespace": "b", "x-y": 1}}), None)
            .len(),
        1
    );
}

#[test]
fn comprehension_over_a_scalar_does_not_panic() {
    let r = rules(spec(
        json!({"v": {"x-kubernetes-int-or-string": true}}),
        json!([{"rule": "self.v.all(x, x > 0)"}]),
    ));
    let causes = r.validate(&json!({"spec": {"v": 3}}), None);
    assert_eq!(
        messages(&causes),
        vec!["spec: Invalid value: \"object\": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: self.v.all(x, x > 0)"]
    );
}

#[test]
fn optional_old_self_runs_on_create_too() {
    let r = rules(spec(
        json!({"name": {"type": "string"}}),
        json!([{
            "rule": "!oldSelf.hasValue() || self.name == oldSelf.value().name",
            "optionalOldSelf": true,
            "message": "name is immutable",
        }, {
            "rule": "self.name != oldSelf.orValue(self).name || self.name.startsWith('n')",
            "optionalOldSelf": true,
            "message": "kept names start with n",
        }]),
    ));
    let a = json!({"spec": {"name": "a"}});
    let b = json!({"spec": {"name": "b"}});
    // Create: oldSelf is absent; the first rule passes, the second runs and fails.
    assert_eq!(
        messages(&r.validate(&a, None)),
        vec!["spec: Invalid value: \"object\": kept names start with n"]
    );
    assert_eq!(
        messages(&r.validate(&b, Some(&a))),
        vec!["spec: Invalid value: \"object\": name is immutable"]
    );
}

#[test]
fn optional_old_self_needs_old_self() {
    let causes = compile_errors(spec(
        json!({}),
        json!([{"rule": "true", "optionalOldSelf": true}]),
    ));
    assert_eq!(
        messages(&causes),
        vec![format!("{PATH}.properties[spec].x-kubernetes-validations[0].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule")]
    );
}

#[test]
fn rules_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Rules>();
}

#[test]
fn deeply_nested_rules_are_refused_not_a_crash() {
    let nested = format!("{}true{}", "(".repeat(150), ")".repeat(150));
    let causes = compile_errors(spec(json!({}), json!([{"rule": nested}])));
    assert!(
        causes[0]
            .message
            .contains("expression recursion limit exceeded: 100"),
        "{}",
        causes[0].message
    );
    let chain = format!("self{} == 1", ".a".repeat(150));
    let causes = compile_errors(spec(json!({}), json!([{"rule": chain}])));
    assert!(
        causes[0]
            .message
            .contains("expression recursion limit exceeded: 100"),
        "{}",
        causes[0].message
    );
}

#[test]
fn rules_near_the_depth_limit_evaluate_on_a_small_stack() {
    // 96 negations: an AST 99 deep, just under the limit.
    let nested = format!("{}self.x == 1{}", "!(".repeat(96), ")".repeat(96));
    let r = rules(spec(
        json!({"x": {"type": "integer"}}),
        json!([{"rule": nested}]),
    ));
    let t = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || r.validate(&json!({"spec": {"x": 2}}), None).len())
        .expect("thread");
    assert_eq!(t.join().expect("no overflow"), 1);
}

#[test]
fn odd_rules_compile_or_fail_cleanly_and_never_panic() {
    let odd = [
        "{}",
        "[]",
        "{1: 2} == {1: 2}",
        "self[0] == 1",
        "-self.n == 1",
        "!self",
        "self.m.x.y == 1",
        "1 / 0 == 1",
        "'a' * 3 == 'aaa'",
        "b'abc' == b'abc'",
        "1u == 1u",
        "duration('1h') > duration('1m')",
        "timestamp('bad') == timestamp('bad')",
        "[1, 2].exists(x, x)",
        "{'a': 1}.all(k, k == 'a')",
        "has(self)",
        "self.l.all(x, y, z)",
        "self.l.map(x, x, x, x) == []",
        "Foo{a: 1} == 1",
        "self.s.substring(10) == ''",
        "self.s.charAt(-1) == ''",
        "self.l[-1] == 1",
        "self.l[1u] == 2",
        "self.m['a'] == self.m.a",
        "self.dyn.all(x, x > 0)",
        "self.dyn.exists(x, x.foo)",
        "size(self.dyn) == 1",
        "self.s.split('')[0] == 'a'",
        "self.s.format(['x']) == ''",
        "'%d'.format(['x']) == ''",
        "'%'.format([]) == ''",
        "quantity('bogus') == quantity('1')",
        "oldSelf.value() == self",
        "self.l.sum() == 3.0",
        "self.l.min() < 0 || [].max() == 0",
        "\"unterminated",
        "self.s.matches('(') ",
        "int('9223372036854775808') == 1",
        "9223372036854775807 + 1 > 0",
        "-9223372036854775807 - 1 == -(9223372036854775807) - 1",
        "self.s.lastIndexOf('a', 100) == 0",
        "self.s.indexOf('', 1) == 1",
    ];
    for rule in odd {
        let schema = spec(
            json!({
                "n": {"type": "integer"},
                "s": {"type": "string"},
                "l": {"type": "array", "items": {"type": "integer"}},
                "m": {"type": "object", "additionalProperties": {"type": "integer"}},
                "dyn": {"x-kubernetes-preserve-unknown-fields": true},
            }),
            json!([{"rule": rule}]),
        );
        let schema = serde_json::from_value(schema).expect("schema");
        if let Ok(r) = Rules::compile(&schema, PATH) {
            let obj = json!({"spec": {"n": 1, "s": "abc", "l": [1, 2], "m": {"a": 1}, "dyn": 5}});
            for cause in r.validate(&obj, Some(&obj)) {
                assert!(!cause.message.is_empty(), "{rule}");
            }
            let obj = json!({"spec": {"dyn": {"k": [1, "x", null]}, "l": []}});
            r.validate(&obj, None);
        }
    }
}

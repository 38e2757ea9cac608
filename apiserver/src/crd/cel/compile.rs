//! Compiling a schema's rules: the checks upstream's CRD validation makes on each rule (message,
//! reason, fieldPath, optionalOldSelf), then parsing and type-checking rule and messageExpression.

use cel_parser::ast::IdedExpr;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool, ValidationRule,
};
use serde_json::Value as Json;

use super::parse::parse;
use super::types::{self, Ty};
use super::{check, field_path, go_quote, Compiled, Node};
use crate::status::Cause;

const REASONS: [&str; 4] = [
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

pub(super) fn compile_node(
    s: &JSONSchemaProps,
    resource_root: bool,
    path: &str,
    uncorrelatable: Option<&str>,
    causes: &mut Vec<Cause>,
) -> Option<Node> {
    let embedded = resource_root || s.x_kubernetes_embedded_resource == Some(true);
    let mut properties = Vec::new();
    for (name, prop) in s.properties.iter().flatten() {
        let child = format!("{path}.properties[{name}]");
        if let Some(node) = compile_node(prop, false, &child, uncorrelatable, causes) {
            properties.push((name.clone(), node));
        }
    }
    let additional = match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Schema(values)) => {
            let child = format!("{path}.additionalProperties");
            compile_node(values, false, &child, uncorrelatable, causes).map(Box::new)
        }
        _ => None,
    };
    let list_map_keys = (s.x_kubernetes_list_type.as_deref() == Some("map"))
        .then(|| s.x_kubernetes_list_map_keys.clone().unwrap_or_default());
    let items = match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(items)) => {
            let child = format!("{path}.items");
            // Items of lists other than map lists have no old value to compare with.
            let within = match (&list_map_keys, uncorrelatable) {
                (_, Some(u)) => Some(u.to_string()),
                (None, None) => Some(child.clone()),
                (Some(_), None) => None,
            };
            compile_node(items, false, &child, within.as_deref(), causes).map(Box::new)
        }
        _ => None,
    };

    let ty = decl_type_or_dyn(s, embedded);
    let rules = s.x_kubernetes_validations.as_deref().unwrap_or_default();
    let mut compiled = Vec::new();
    if !rules.is_empty() {
        match types::decl_type(s, embedded) {
            Some(ty) => {
                for (i, rule) in rules.iter().enumerate() {
                    let rule_path = format!("{path}.x-kubernetes-validations[{i}]");
                    if let Some(c) = compile_rule(rule, s, &ty, &rule_path, uncorrelatable, causes)
                    {
                        compiled.push(c);
                    }
                }
            }
            None => causes.push(Cause {
                reason: "InternalError".into(),
                message: format!(
                    "Internal error: rule declared on schema that does not support validation \
                     rules type: '{}' x-kubernetes-preserve-unknown-fields: '{}'",
                    s.type_.as_deref().unwrap_or_default(),
                    s.x_kubernetes_preserve_unknown_fields.unwrap_or(false)
                ),
                field: format!("{path}.x-kubernetes-validations"),
            }),
        }
    }

    if compiled.is_empty() && properties.is_empty() && additional.is_none() && items.is_none() {
        return None;
    }
    Some(Node {
        type_name: s.type_.clone().unwrap_or_default(),
        ty,
        rules: compiled,
        properties,
        additional,
        items,
        list_map_keys,
    })
}

/// Nodes without rules of their own still convert values for nothing; any type does.
fn decl_type_or_dyn(s: &JSONSchemaProps, embedded: bool) -> Ty {
    types::decl_type(s, embedded).unwrap_or(Ty::Dyn)
}

fn compile_rule(
    rule: &ValidationRule,
    schema: &JSONSchemaProps,
    ty: &Ty,
    path: &str,
    uncorrelatable: Option<&str>,
    causes: &mut Vec<Cause>,
) -> Option<Compiled> {
    let before = causes.len();
    let text = rule.rule.trim();
    let message = rule.message.as_deref().map(str::trim);
    if text.is_empty() {
        causes.push(Cause::required(
            &format!("{path}.rule"),
            "rule is not specified",
        ));
    } else if let Some(raw) = rule.message.as_deref().filter(|m| !m.is_empty()) {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            causes.push(Cause::invalid(
                &format!("{path}.message"),
                raw,
                "message must be non-empty if specified",
            ));
        } else if raw.len() > 2048 {
            let head: String = raw.chars().take(10).collect();
            causes.push(Cause::invalid(
                &format!("{path}.message"),
                &format!("{head}..."),
                "message must have a maximum length of 2048 characters",
            ));
        } else if trimmed.contains(['\n', '\r']) {
            causes.push(Cause::invalid(
                &format!("{path}.message"),
                raw,
                "message must not contain line breaks",
            ));
        }
    } else if text.contains(['\n', '\r']) {
        causes.push(Cause::required(
            &format!("{path}.message"),
            "message must be specified if rule contains line breaks",
        ));
    }
    let message_expression = rule.message_expression.as_deref().unwrap_or_default();
    if !message_expression.is_empty() && message_expression.trim().is_empty() {
        causes.push(Cause::required(
            &format!("{path}.messageExpression"),
            "messageExpression must be non-empty if specified",
        ));
    }
    if let Some(reason) = &rule.reason {
        if !REASONS.contains(&reason.as_str()) {
            let supported = REASONS.map(|r| format!("\"{r}\"")).join(", ");
            causes.push(Cause {
                reason: "FieldValueNotSupported".into(),
                message: format!("Unsupported value: \"{reason}\": supported values: {supported}"),
                field: format!("{path}.reason"),
            });
        }
    }
    let mut field_path = None;
    if let Some(fp) = rule.field_path.as_deref().filter(|f| !f.is_empty()) {
        let field = format!("{path}.fieldPath");
        if fp.trim().is_empty() {
            causes.push(Cause::invalid(
                &field,
                fp,
                "fieldPath must be non-empty if specified",
            ));
        } else if fp.contains(['\n', '\r']) {
            causes.push(Cause::invalid(
                &field,
                fp,
                "fieldPath must not contain line breaks",
            ));
        } else {
            match field_path::normalize(fp, schema) {
                Ok(p) => field_path = Some(p),
                Err(e) => causes.push(Cause::invalid(
                    &field,
                    fp,
                    &format!("fieldPath must be a valid path: {e}"),
                )),
            }
        }
    }
    if causes.len() > before {
        return None;
    }

    let invalid = |detail: String| Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {}: {detail}", go_rule(rule)),
        field: format!("{path}.rule"),
    };
    let optional_old_self = rule.optional_old_self == Some(true);
    let (program, checked, uses_old_self) = match parse_and_check(text, ty, optional_old_self) {
        Ok(parsed) => parsed,
        Err(errors) => {
            causes.push(invalid(format!("compilation failed: {errors}")));
            return None;
        }
    };
    if !matches!(checked, Ty::Bool) && !checked.is_dyn() {
        causes.push(invalid("cel expression must evaluate to a bool".into()));
        return None;
    }
    if uses_old_self {
        if let Some(within) = uncorrelatable {
            causes.push(Cause::invalid(
                &format!("{path}.rule"),
                &rule.rule,
                &format!(
                    "oldSelf cannot be used on the uncorrelatable portion of the schema within {within}"
                ),
            ));
            return None;
        }
    } else if let Some(optional) = rule.optional_old_self {
        causes.push(Cause::invalid_value(
            &format!("{path}.optionalOldSelf"),
            &Json::Bool(optional),
            "may not be set if oldSelf is not used in rule",
        ));
        return None;
    }

    let mut compiled_message = None;
    if !message_expression.trim().is_empty() {
        let invalid = |detail: String| Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {}: {detail}", go_rule(rule)),
            field: format!("{path}.messageExpression"),
        };
        match parse_and_check(message_expression, ty, optional_old_self) {
            Err(errors) => {
                causes.push(invalid(format!(
                    "messageExpression compilation failed: {errors}"
                )));
                return None;
            }
            Ok((_, t, _)) if !matches!(t, Ty::String) && !t.is_dyn() => {
                causes.push(invalid(
                    "messageExpression must evaluate to a string".into(),
                ));
                return None;
            }
            Ok((expr, _, _)) => compiled_message = Some(expr),
        }
    }

    Some(Compiled {
        rule: text.to_string(),
        message: message.filter(|m| !m.is_empty()).map(str::to_string),
        program,
        message_expression: compiled_message,
        reason: rule.reason.clone(),
        field_path,
        uses_old_self,
        optional_old_self,
    })
}

/// Parses and checks `src` with `self` (and `oldSelf`) of type `ty`: the prepared program, its
/// type and whether it mentions `oldSelf`, or the errors as cel-go prints them.
fn parse_and_check(
    src: &str,
    ty: &Ty,
    optional_old_self: bool,
) -> Result<(IdedExpr, Ty, bool), String> {
    let mut expr = parse(src)?;
    let checked = check::check(src, &expr, ty, optional_old_self);
    if !checked.errors.is_empty() {
        return Err(checked.errors.join("\n"));
    }
    check::rewrite(&mut expr);
    Ok((expr, checked.ty, checked.uses_old_self))
}

/// The rule as Go's `%#v` prints upstream's internal `apiextensions.ValidationRule`, which is
/// what upstream shows as the invalid value of a rule that does not compile.
fn go_rule(rule: &ValidationRule) -> String {
    let pointer = |set: bool, ty: &str| {
        if set {
            format!("(*{ty})(0xc000a4e0f0)")
        } else {
            format!("(*{ty})(nil)")
        }
    };
    format!(
        "apiextensions.ValidationRule{{Rule:{}, Message:{}, MessageExpression:{}, Reason:{}, \
         FieldPath:{}, OptionalOldSelf:{}}}",
        go_quote(&rule.rule),
        go_quote(rule.message.as_deref().unwrap_or_default()),
        go_quote(rule.message_expression.as_deref().unwrap_or_default()),
        pointer(rule.reason.is_some(), "apiextensions.FieldValueErrorReason"),
        go_quote(rule.field_path.as_deref().unwrap_or_default()),
        pointer(rule.optional_old_self.is_some(), "bool"),
    )
}

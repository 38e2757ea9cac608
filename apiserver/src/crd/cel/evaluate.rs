//! Evaluating the rules against a custom resource: walking the object along the schema nodes
//! with rules, correlating old values, and reporting failures as upstream does.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cel_interpreter::{ExecutionError, Value};
use cel_parser::ast::IdedExpr;
use serde_json::Value as Json;

use super::check::{OLD_SELF, SELF};
use super::parse::depth;
use super::{go_quote, library, values, Compiled, Node};
use crate::status::Cause;

/// Longest evaluated messageExpression upstream accepts (celconfig.MaxEvaluatedMessageExpressionSizeBytes).
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// Field paths as upstream prints them: `a.b[0][key]`, the root (no path) as `<nil>`.
fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "<nil>"
    } else {
        path
    }
}

impl Node {
    /// The deepest compiled expression here or below.
    pub(super) fn max_depth(&self) -> usize {
        let own = self.rules.iter().flat_map(|r| {
            std::iter::once(depth(&r.program)).chain(r.message_expression.iter().map(depth))
        });
        let below = self
            .properties
            .iter()
            .map(|(_, n)| n)
            .chain(self.additional.as_deref())
            .chain(self.items.as_deref())
            .map(Node::max_depth);
        own.chain(below).max().unwrap_or(0)
    }

    /// Validates `value` (at `path`) and what is below it. `old` is the correlated old value;
    /// `parent_unchanged` whether the nearest correlated ancestor is unchanged — errors of
    /// non-transition rules on unchanged values are ratcheted (dropped), as upstream does.
    pub(super) fn walk(
        &self,
        path: &str,
        value: &Json,
        old: Option<&Json>,
        parent_unchanged: bool,
        causes: &mut Vec<Cause>,
    ) {
        // Null values are not validated: rules about optional fields live on their parents.
        if value.is_null() {
            return;
        }
        let old = old.filter(|o| !o.is_null());
        let unchanged = match old {
            Some(o) => o == value,
            None => parent_unchanged,
        };
        if !self.rules.is_empty() {
            self.evaluate(path, value, old, unchanged, causes);
        }
        match value {
            Json::Array(list) => {
                if let Some(items) = &self.items {
                    for (i, item) in list.iter().enumerate() {
                        let old_item = self.correlate(old, item);
                        let p = format!("{path}[{i}]");
                        items.walk(&p, item, old_item, unchanged, causes);
                    }
                }
            }
            Json::Object(map) => {
                if let Some(additional) = &self.additional {
                    for (k, v) in map {
                        let old_v = old.and_then(|o| o.get(k));
                        let p = format!("{path}[{k}]");
                        additional.walk(&p, v, old_v, unchanged, causes);
                    }
                }
                for (name, node) in &self.properties {
                    if let Some(v) = map.get(name) {
                        let old_v = old.and_then(|o| o.get(name));
                        node.walk(&child(path, name), v, old_v, unchanged, causes);
                    }
                }
            }
            _ => {}
        }
    }

    /// The old item of a map list with the same keys as `item`; nothing for other lists.
    fn correlate<'a>(&self, old: Option<&'a Json>, item: &Json) -> Option<&'a Json> {
        let keys = self.list_map_keys.as_ref()?;
        old?.as_array()?
            .iter()
            .find(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
    }

    fn evaluate(
        &self,
        path: &str,
        value: &Json,
        old: Option<&Json>,
        unchanged: bool,
        causes: &mut Vec<Cause>,
    ) {
        let this = values::to_cel(value, &self.ty);
        let old_this = old.map(|o| values::to_cel(o, &self.ty));
        let mut plain = library::base().new_inner_scope();
        plain.add_variable_from_value(SELF, this.clone());
        if let Some(o) = &old_this {
            plain.add_variable_from_value(OLD_SELF, o.clone());
        }
        let mut optional = library::base().new_inner_scope();
        if self.rules.iter().any(|r| r.optional_old_self) {
            optional.add_variable_from_value(SELF, this);
            optional.add_variable_from_value(OLD_SELF, library::optional(old_this));
        }
        for rule in &self.rules {
            // Transition rules only run where there is an old value to compare with, unless
            // they take it as an optional.
            if rule.uses_old_self && old.is_none() && !rule.optional_old_self {
                continue;
            }
            let ctx = if rule.optional_old_self {
                &optional
            } else {
                &plain
            };
            let detail = match eval(&rule.program, ctx) {
                Ok(Value::Bool(true)) => continue,
                Ok(_) => None,
                Err(e) => Some(eval_error(&e, rule)),
            };
            if let Some(detail) = detail {
                causes.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {}: {detail}", go_quote(&self.type_name)),
                    field: shown(path).to_string(),
                });
                continue;
            }
            // An unchanged value keeps passing an update even if it fails a (new) rule.
            if !rule.uses_old_self && unchanged {
                continue;
            }
            let field = match &rule.field_path {
                Some(fp) => child(path, fp),
                None => path.to_string(),
            };
            let detail = rule
                .message_expression
                .as_ref()
                .and_then(|m| evaluated_message(m, ctx))
                .unwrap_or_else(|| match &rule.message {
                    Some(m) => m.clone(),
                    None => format!("failed rule: {}", rule.rule),
                });
            causes.push(self.failure(shown(&field), &detail, rule.reason.as_deref()));
        }
    }

    fn failure(&self, field: &str, detail: &str, reason: Option<&str>) -> Cause {
        match reason {
            Some("FieldValueForbidden") => Cause::forbidden(field, detail),
            Some("FieldValueRequired") => Cause::required(field, detail),
            Some("FieldValueDuplicate") => Cause {
                reason: "FieldValueDuplicate".into(),
                message: format!("Duplicate value: {}", go_quote(&self.type_name)),
                field: field.to_string(),
            },
            _ => Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {}: {detail}", go_quote(&self.type_name)),
                field: field.to_string(),
            },
        }
    }
}

fn eval(
    program: &IdedExpr,
    ctx: &cel_interpreter::Context,
) -> Result<Value, Option<ExecutionError>> {
    // cel-interpreter panics on a few inputs it does not expect (a comprehension over a
    // scalar, say); a rule must fail, not the request handler.
    match catch_unwind(AssertUnwindSafe(|| Value::resolve(program, ctx))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Some(e)),
        Err(_) => Err(None),
    }
}

/// An evaluation error as upstream words it.
fn eval_error(e: &Option<ExecutionError>, rule: &Compiled) -> String {
    let what = rule.error_string();
    let no_overload = || {
        format!(
            "'no such overload': call arguments did not match a supported operator, function \
             or macro signature for rule: {what}"
        )
    };
    let text = match e {
        None => return format!("internal error evaluating rule: {what}"),
        Some(ExecutionError::NoSuchKey(k)) => format!("no such key: {k}"),
        Some(ExecutionError::DivisionByZero(_)) => "division by zero".into(),
        Some(ExecutionError::RemainderByZero(_)) => "modulus by zero".into(),
        Some(ExecutionError::Overflow(..)) => "integer overflow".into(),
        Some(ExecutionError::FunctionError { message, .. }) if message != "no such overload" => {
            message.clone()
        }
        Some(ExecutionError::UndeclaredReference(name)) => format!("no such attribute: {name}"),
        Some(_) => return no_overload(),
    };
    format!("{text} evaluating rule: {what}")
}

/// A messageExpression's result when usable: a non-empty single-line string, not too long.
/// Anything else falls back to the rule's message, as upstream does.
fn evaluated_message(expr: &IdedExpr, ctx: &cel_interpreter::Context) -> Option<String> {
    let Ok(Value::String(s)) = eval(expr, ctx) else {
        return None;
    };
    let trimmed = s.trim();
    if trimmed.is_empty() || trimmed.len() > MAX_MESSAGE_BYTES || trimmed.contains('\n') {
        return None;
    }
    Some(trimmed.to_string())
}

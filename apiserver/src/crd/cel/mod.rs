//! CEL `x-kubernetes-validations` rules of a CustomResourceDefinition version's schema: compiled
//! (parsed, checked against the schema's types) once when the definition is registered, evaluated
//! against each custom resource written, with `oldSelf` on updates for transition rules.
//!
//! Upstream: apiextensions-apiserver/pkg/apiserver/schema/cel (compilation.go, validation.go).

mod check;
mod compile;
mod evaluate;
mod field_path;
mod library;
mod parse;
mod quantity;
mod strings;
mod types;
mod values;

#[cfg(test)]
mod tests;

use cel_parser::ast::IdedExpr;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::Value as Json;

use crate::status::Cause;
use types::Ty;

/// Every x-kubernetes-validations rule in a CRD version's schema, compiled once.
pub struct Rules {
    root: Option<Node>,
    /// Some rule nests deeper than the request handler's stack may take: evaluate on a thread
    /// of its own.
    deep: bool,
}

/// Nesting the interpreter may recurse through on the caller's stack (a debug build spends
/// some 25 KiB of stack per level).
const SHALLOW: usize = 32;

/// Stack for evaluating deep rules.
const EVAL_STACK: usize = 16 << 20;

/// A schema node with rules at it or below it.
struct Node {
    /// The schema's `type`, which upstream prints as the invalid value ("object", "string"...).
    type_name: String,
    /// The node's CEL type, by which its values are converted.
    ty: Ty,
    rules: Vec<Compiled>,
    properties: Vec<(String, Node)>,
    additional: Option<Box<Node>>,
    items: Option<Box<Node>>,
    /// `x-kubernetes-list-type: map` keys: only such lists' items have an old value to compare.
    list_map_keys: Option<Vec<String>>,
}

struct Compiled {
    rule: String,
    message: Option<String>,
    program: IdedExpr,
    message_expression: Option<IdedExpr>,
    reason: Option<String>,
    /// `fieldPath`, normalized, where a failure is reported (below the node's path).
    field_path: Option<String>,
    /// Mentions `oldSelf`: a transition rule, evaluated only where an old value exists...
    uses_old_self: bool,
    /// ...unless `optionalOldSelf`: then always, with `oldSelf` an optional.
    optional_old_self: bool,
}

impl Compiled {
    /// How upstream names the rule in errors: its message if it has one, else its text.
    fn error_string(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.rule)
    }
}

impl Rules {
    /// Walks the schema (properties, additionalProperties, items, at any depth) and compiles every
    /// rule. `path` is the schema's field path in the CRD
    /// (`spec.versions[0].schema.openAPIV3Schema`); causes are upstream's for a rule that does
    /// not compile, a messageExpression that does not, a bad `fieldPath` or `reason`, and
    /// `oldSelf` where no old value can be correlated.
    pub fn compile(schema: &JSONSchemaProps, path: &str) -> Result<Rules, Vec<Cause>> {
        let mut causes = Vec::new();
        let root = compile::compile_node(schema, true, path, None, &mut causes);
        if causes.is_empty() {
            let deep = root.as_ref().map(Node::max_depth).unwrap_or(0) > SHALLOW;
            Ok(Rules { root, deep })
        } else {
            Err(causes)
        }
    }

    /// No rules anywhere: nothing to evaluate.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// Evaluates every rule against the custom resource `new` (and the stored `old` on update).
    /// Failures and evaluation errors come back as causes at the failing value's path.
    pub fn validate(&self, new: &Json, old: Option<&Json>) -> Vec<Cause> {
        let Some(root) = &self.root else {
            return Vec::new();
        };
        let run = || {
            let mut causes = Vec::new();
            root.walk("", new, old, false, &mut causes);
            causes
        };
        if !self.deep {
            return run();
        }
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("cel-eval".into())
                .stack_size(EVAL_STACK)
                .spawn_scoped(scope, run)
                .ok()
                .and_then(|t| t.join().ok())
                .unwrap_or_else(|| {
                    vec![Cause {
                        reason: "InternalError".into(),
                        message: "Internal error: validation rules could not be evaluated".into(),
                        field: "<nil>".into(),
                    }]
                })
        })
    }
}

/// A string quoted as Go's `%q` does.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

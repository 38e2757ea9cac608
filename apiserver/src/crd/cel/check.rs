//! Compile-time checks of a parsed rule against the type of `self`, standing in for cel-go's type
//! checker: undeclared names and functions, undefined fields, operands no overload accepts, and
//! the rule's result type. Also rewrites the AST where cel-interpreter's semantics differ.

use std::sync::Arc;

use cel_parser::ast::{operators, CallExpr, EntryExpr, Expr, IdedExpr};
use cel_parser::reference::Val;

use super::library::{self, INDEX, RANGE};
use super::types::Ty;

pub(super) const SELF: &str = "self";
pub(super) const OLD_SELF: &str = "oldSelf";

/// What checking found: the expression's type, whether it mentions `oldSelf`, and cel-go-style
/// error lines.
pub(super) struct Checked {
    pub ty: Ty,
    pub uses_old_self: bool,
    pub errors: Vec<String>,
}

/// Checks `expr` with `self` of type `self_ty`; `oldSelf` is of that type too, or an optional of
/// it (`optional_old_self`).
pub(super) fn check(src: &str, expr: &IdedExpr, self_ty: &Ty, optional_old_self: bool) -> Checked {
    let old_ty = if optional_old_self {
        Ty::Optional(Arc::new(self_ty.clone()))
    } else {
        self_ty.clone()
    };
    let mut checker = Checker {
        src,
        errors: Vec::new(),
        scopes: vec![
            (SELF.to_string(), self_ty.clone()),
            (OLD_SELF.to_string(), old_ty),
        ],
        uses_old_self: false,
    };
    let ty = checker.expr(expr);
    Checked {
        ty,
        uses_old_self: checker.uses_old_self,
        errors: checker.errors,
    }
}

/// `a[b]` becomes a call of [`INDEX`], which fails on a missing key as CEL does.
pub(super) fn rewrite(expr: &mut IdedExpr) {
    match &mut expr.expr {
        Expr::Call(call) => {
            if call.func_name == operators::INDEX && call.args.len() == 2 {
                call.func_name = INDEX.to_string();
            }
            if let Some(target) = &mut call.target {
                rewrite(target);
            }
            call.args.iter_mut().for_each(rewrite);
        }
        Expr::Comprehension(c) => {
            // cel-interpreter panics (todo!) iterating anything but a list or a map: iterate
            // through a guard that fails the evaluation instead.
            let range = std::mem::take(&mut *c.iter_range);
            *c.iter_range = IdedExpr {
                id: range.id,
                expr: Expr::Call(CallExpr {
                    func_name: RANGE.to_string(),
                    target: None,
                    args: vec![range],
                }),
            };
            for e in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ] {
                rewrite(e);
            }
        }
        Expr::List(list) => list.elements.iter_mut().for_each(rewrite),
        Expr::Map(map) => {
            for entry in &mut map.entries {
                if let EntryExpr::MapEntry(e) = &mut entry.expr {
                    rewrite(&mut e.key);
                    rewrite(&mut e.value);
                }
            }
        }
        Expr::Select(select) => rewrite(&mut select.operand),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Struct(_) | Expr::Unspecified => {}
    }
}

/// A parse or check error as cel-go prints it: position, message, the line, a caret.
pub(super) fn format_error(src: &str, line: usize, col: usize, msg: &str) -> String {
    let mut out = format!("ERROR: <input>:{line}:{col}: {msg}");
    if let Some(text) = src.lines().nth(line.saturating_sub(1)) {
        out.push_str(&format!(
            "\n | {text}\n | {}^",
            ".".repeat(col.saturating_sub(1))
        ));
    }
    out
}

struct Checker<'a> {
    src: &'a str,
    errors: Vec<String>,
    scopes: Vec<(String, Ty)>,
    uses_old_self: bool,
}

impl Checker<'_> {
    /// Records an error located at the first occurrence of `needle` in the source (the parser
    /// keeps no offsets to hand out; the first occurrence is right for most rules).
    fn error(&mut self, needle: &str, msg: String) {
        let byte = if needle.is_empty() {
            None
        } else {
            self.src.find(needle)
        };
        let byte = byte.unwrap_or(0);
        let before = &self.src[..byte];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = self.src[line_start..byte].chars().count() + 1;
        let formatted = format_error(self.src, line, col, &msg);
        self.errors.push(formatted);
    }

    fn lookup(&self, name: &str) -> Option<Ty> {
        self.scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    }

    fn expr(&mut self, e: &IdedExpr) -> Ty {
        match &e.expr {
            Expr::Literal(v) => match v {
                Val::String(_) => Ty::String,
                Val::Boolean(_) => Ty::Bool,
                Val::Int(_) => Ty::Int,
                Val::UInt(_) => Ty::Uint,
                Val::Double(_) => Ty::Double,
                Val::Bytes(_) => Ty::Bytes,
                Val::Null => Ty::Null,
            },
            Expr::Ident(name) => {
                if name == OLD_SELF {
                    self.uses_old_self = true;
                }
                match self.lookup(name) {
                    Some(t) => t,
                    // Type names are values too (`type(self) == string`).
                    None if library::TYPE_NAMES.contains(&name.as_str()) => Ty::Dyn,
                    None => {
                        self.error(
                            name,
                            format!("undeclared reference to '{name}' (in container '')"),
                        );
                        Ty::Dyn
                    }
                }
            }
            Expr::Select(select) => {
                let operand = self.expr(&select.operand);
                let field = &select.field;
                let ty = match &operand {
                    Ty::Object(_) => match operand.field(field) {
                        Some(f) => f.ty.clone(),
                        None => {
                            self.error(&format!(".{field}"), format!("undefined field '{field}'"));
                            Ty::Dyn
                        }
                    },
                    Ty::Map(_, values) => values.as_ref().clone(),
                    t if t.is_dyn() => Ty::Dyn,
                    other => {
                        let name = other.name();
                        self.error(
                            &format!(".{field}"),
                            format!("type '{name}' does not support field selection"),
                        );
                        Ty::Dyn
                    }
                };
                if select.test {
                    Ty::Bool
                } else {
                    ty
                }
            }
            Expr::List(list) => {
                let types: Vec<Ty> = list.elements.iter().map(|e| self.expr(e)).collect();
                Ty::List(Arc::new(types.into_iter().next().unwrap_or(Ty::Dyn)))
            }
            Expr::Map(map) => {
                let mut kv = None;
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(e) => {
                            let k = self.expr(&e.key);
                            let v = self.expr(&e.value);
                            kv.get_or_insert((k, v));
                        }
                        EntryExpr::StructField(f) => {
                            self.error(&f.field, "unexpected field initializer".into())
                        }
                    }
                }
                let (k, v) = kv.unwrap_or((Ty::Dyn, Ty::Dyn));
                Ty::Map(Arc::new(k), Arc::new(v))
            }
            Expr::Struct(s) => {
                let name = s.type_name.clone();
                self.error(
                    &name,
                    format!("undeclared reference to '{name}' (in container '')"),
                );
                Ty::Dyn
            }
            Expr::Comprehension(c) => {
                let range = self.expr(&c.iter_range);
                let elem = match &range {
                    Ty::List(e) => e.as_ref().clone(),
                    Ty::Map(k, _) => k.as_ref().clone(),
                    t if t.is_dyn() => Ty::Dyn,
                    other => {
                        let name = other.name();
                        self.error(
                            &c.iter_var,
                            format!(
                                "expression of type '{name}' cannot be the range of a \
                                 comprehension (must be list, map, or dynamic)"
                            ),
                        );
                        Ty::Dyn
                    }
                };
                let accu = self.expr(&c.accu_init);
                self.scopes.push((c.accu_var.clone(), accu));
                self.scopes.push((c.iter_var.clone(), elem));
                self.expr(&c.loop_cond);
                let step = self.expr(&c.loop_step);
                self.scopes.pop();
                // The accumulator is what the step makes of it (map() starts from an empty
                // list of unknown elements).
                if let Some(last) = self.scopes.last_mut() {
                    last.1 = step;
                }
                let result = self.expr(&c.result);
                self.scopes.pop();
                result
            }
            Expr::Call(call) => self.call(call),
            Expr::Unspecified => Ty::Dyn,
        }
    }

    fn call(&mut self, call: &CallExpr) -> Ty {
        let name = call.func_name.as_str();
        let target = call.target.as_ref().map(|t| self.expr(t));
        let args: Vec<Ty> = call.args.iter().map(|a| self.expr(a)).collect();
        if target.is_none() {
            if let Some(t) = self.operator(name, &args) {
                return t;
            }
        }
        let Some(sig) = library::signature(name) else {
            self.error(
                name,
                format!("undeclared reference to '{name}' (in container '')"),
            );
            return Ty::Dyn;
        };
        // Arguments as the overload sees them: the receiver first.
        let all: Vec<Ty> = target.iter().cloned().chain(args.iter().cloned()).collect();
        let n = if target.is_some() {
            args.len()
        } else {
            args.len().wrapping_sub(1)
        };
        let allowed = if target.is_some() {
            sig.method
        } else {
            sig.global && !args.is_empty()
        };
        // min/max also take several values as a global function.
        let variadic = target.is_none() && matches!(name, "min" | "max") && !args.is_empty();
        if !variadic && (!allowed || n < sig.min || n > sig.max) {
            let shown = all.iter().map(Ty::name).collect::<Vec<_>>().join(", ");
            let shown = match target {
                Some(_) => format!("{}.({})", all[0].name(), {
                    all[1..].iter().map(Ty::name).collect::<Vec<_>>().join(", ")
                }),
                None => format!("({shown})"),
            };
            self.error(
                &format!("{name}("),
                format!("found no matching overload for '{name}' applied to '{shown}'"),
            );
            return Ty::Dyn;
        }
        let receiver = all.first().cloned().unwrap_or(Ty::Dyn);
        match name {
            "size" | "indexOf" | "lastIndexOf" | "getFullYear" | "getMonth" | "getDayOfYear"
            | "getDayOfMonth" | "getDate" | "getDayOfWeek" | "getHours" | "getMinutes"
            | "getSeconds" | "getMilliseconds" | "int" => Ty::Int,
            "contains" | "startsWith" | "endsWith" | "matches" | "isSorted" | "isQuantity"
            | "isInteger" | "isLessThan" | "isGreaterThan" => Ty::Bool,
            "type" => Ty::Dyn,
            "string" | "lowerAscii" | "upperAscii" | "trim" | "join" | "replace" | "substring"
            | "charAt" | "format" | "find" => Ty::String,
            "split" | "findAll" => Ty::List(Arc::new(Ty::String)),
            "sign" | "asInteger" | "compareTo" => Ty::Int,
            "asApproximateFloat" => Ty::Double,
            "bytes" => Ty::Bytes,
            "double" => Ty::Double,
            "uint" => Ty::Uint,
            "duration" => Ty::Duration,
            "timestamp" => Ty::Timestamp,
            "hasValue" => Ty::Bool,
            "value" | "orValue" => match receiver {
                Ty::Optional(inner) => inner.as_ref().clone(),
                _ => Ty::Dyn,
            },
            "sum" | "min" | "max" => match receiver {
                Ty::List(e) if !variadic => e.as_ref().clone(),
                _ => Ty::Dyn,
            },
            _ => Ty::Dyn,
        }
    }

    /// Operators; `None` when `name` is not one.
    fn operator(&mut self, name: &str, args: &[Ty]) -> Option<Ty> {
        let symbol = match name {
            operators::LOGICAL_AND => "&&",
            operators::LOGICAL_OR => "||",
            operators::EQUALS => "==",
            operators::NOT_EQUALS => "!=",
            operators::LESS => "<",
            operators::LESS_EQUALS => "<=",
            operators::GREATER => ">",
            operators::GREATER_EQUALS => ">=",
            operators::ADD => "+",
            operators::SUBSTRACT => "-",
            operators::MULTIPLY => "*",
            operators::DIVIDE => "/",
            operators::MODULO => "%",
            operators::IN => " in ",
            operators::LOGICAL_NOT => "!",
            operators::NEGATE => "-",
            _ => "",
        };
        let ty = match (name, args) {
            (operators::CONDITIONAL, [_, a, b]) => {
                if a.is_dyn() {
                    b.clone()
                } else {
                    a.clone()
                }
            }
            (operators::LOGICAL_AND | operators::LOGICAL_OR, [a, b]) => {
                if !accepts_bool(a) || !accepts_bool(b) {
                    self.no_overload(name, symbol, args);
                }
                Ty::Bool
            }
            (operators::LOGICAL_NOT, [a]) => {
                if !accepts_bool(a) {
                    self.no_overload(name, symbol, args);
                }
                Ty::Bool
            }
            (operators::NOT_STRICTLY_FALSE, [_]) => Ty::Bool,
            (operators::NEGATE, [a]) => {
                if !(a.is_dyn() || matches!(a, Ty::Int | Ty::Double | Ty::Duration)) {
                    self.no_overload(name, symbol, args);
                }
                a.clone()
            }
            (operators::EQUALS | operators::NOT_EQUALS, [a, b]) => {
                if !comparable(a, b, false) {
                    self.no_overload(name, symbol, args);
                }
                Ty::Bool
            }
            (
                operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                [a, b],
            ) => {
                if !comparable(a, b, true) {
                    self.no_overload(name, symbol, args);
                }
                Ty::Bool
            }
            (
                operators::ADD
                | operators::SUBSTRACT
                | operators::MULTIPLY
                | operators::DIVIDE
                | operators::MODULO,
                [a, b],
            ) => match arithmetic(name, a, b) {
                Some(t) => t,
                None => {
                    self.no_overload(name, symbol, args);
                    Ty::Dyn
                }
            },
            (operators::IN, [_, b]) => {
                if !(b.is_dyn() || matches!(b, Ty::List(_) | Ty::Map(..))) {
                    self.no_overload(name, symbol, args);
                }
                Ty::Bool
            }
            (INDEX | operators::INDEX, [container, _]) => match container {
                Ty::List(e) => e.as_ref().clone(),
                Ty::Map(_, v) => v.as_ref().clone(),
                t if t.is_dyn() || matches!(t, Ty::Object(_)) => Ty::Dyn,
                _ => {
                    self.no_overload(operators::INDEX, "[", args);
                    Ty::Dyn
                }
            },
            _ => return None,
        };
        Some(ty)
    }

    fn no_overload(&mut self, name: &str, symbol: &str, args: &[Ty]) {
        let shown = args.iter().map(Ty::name).collect::<Vec<_>>().join(", ");
        self.error(
            symbol.trim(),
            format!("found no matching overload for '{name}' applied to '({shown})'"),
        );
    }
}

fn accepts_bool(t: &Ty) -> bool {
    t.is_dyn() || matches!(t, Ty::Bool)
}

fn numeric(t: &Ty) -> bool {
    matches!(t, Ty::Int | Ty::Uint | Ty::Double)
}

/// Whether `==` (or, `ordered`, `<`) has an overload for the two types. Numbers compare across
/// their kinds (Kubernetes enables cross-type numeric comparisons); null equals anything nullable.
fn comparable(a: &Ty, b: &Ty, ordered: bool) -> bool {
    if a.is_dyn() || b.is_dyn() {
        return true;
    }
    if numeric(a) && numeric(b) {
        return true;
    }
    match (a, b) {
        (Ty::Null, _) | (_, Ty::Null) => !ordered,
        (Ty::List(_), Ty::List(_))
        | (Ty::Map(..), Ty::Map(..))
        | (Ty::Object(_), Ty::Object(_)) => !ordered,
        (Ty::Bool, Ty::Bool)
        | (Ty::String, Ty::String)
        | (Ty::Bytes, Ty::Bytes)
        | (Ty::Duration, Ty::Duration)
        | (Ty::Timestamp, Ty::Timestamp) => true,
        _ => false,
    }
}

/// The result of an arithmetic operator, `None` when no overload takes the operands.
fn arithmetic(op: &str, a: &Ty, b: &Ty) -> Option<Ty> {
    if a.is_dyn() {
        return Some(if b.is_dyn() { Ty::Dyn } else { b.clone() });
    }
    if b.is_dyn() {
        return Some(a.clone());
    }
    let same_number = matches!(
        (a, b),
        (Ty::Int, Ty::Int) | (Ty::Uint, Ty::Uint) | (Ty::Double, Ty::Double)
    );
    match op {
        operators::ADD => match (a, b) {
            _ if same_number => Some(a.clone()),
            (Ty::String, Ty::String) | (Ty::Bytes, Ty::Bytes) => Some(a.clone()),
            (Ty::List(x), Ty::List(_)) => Some(if x.is_dyn() { b.clone() } else { a.clone() }),
            (Ty::Duration, Ty::Duration) => Some(Ty::Duration),
            (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp) => Some(Ty::Timestamp),
            _ => None,
        },
        operators::SUBSTRACT => match (a, b) {
            _ if same_number => Some(a.clone()),
            (Ty::Duration, Ty::Duration) | (Ty::Timestamp, Ty::Timestamp) => Some(Ty::Duration),
            (Ty::Timestamp, Ty::Duration) => Some(Ty::Timestamp),
            _ => None,
        },
        operators::MODULO => match (a, b) {
            (Ty::Int, Ty::Int) | (Ty::Uint, Ty::Uint) => Some(a.clone()),
            _ => None,
        },
        _ => same_number.then(|| a.clone()),
    }
}

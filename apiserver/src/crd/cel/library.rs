//! The functions rules may call: cel-interpreter's standard ones plus the Kubernetes extension
//! functions CRD authors commonly use (string helpers, list helpers), built once and shared.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cel_interpreter::objects::Key;
use cel_interpreter::{Context, ExecutionError, FunctionContext, ResolveResult, Value};

/// Indexing (`a[b]`) is rewritten to this function: cel-interpreter answers null for a missing
/// key or an index out of range, where CEL (and upstream) fail the evaluation.
pub(super) const INDEX: &str = "@index";

/// Comprehension ranges are wrapped in this function, which lets only lists and maps through.
pub(super) const RANGE: &str = "@range";

/// Functions a rule may call, with the number of arguments each takes when called as a method
/// (`min..=max`) and whether it may be called as a global function (`f(target, args...)`).
pub(super) struct Signature {
    pub name: &'static str,
    pub min: usize,
    pub max: usize,
    pub global: bool,
    pub method: bool,
}

const fn sig(name: &'static str, min: usize, max: usize, global: bool, method: bool) -> Signature {
    Signature {
        name,
        min,
        max,
        global,
        method,
    }
}

pub(super) const SIGNATURES: &[Signature] = &[
    sig("size", 0, 0, true, true),
    sig("type", 0, 0, true, false),
    sig("contains", 1, 1, false, true),
    sig("startsWith", 1, 1, false, true),
    sig("endsWith", 1, 1, false, true),
    sig("matches", 1, 1, true, true),
    sig("string", 0, 0, true, false),
    sig("bytes", 0, 0, true, false),
    sig("double", 0, 0, true, false),
    sig("int", 0, 0, true, false),
    sig("uint", 0, 0, true, false),
    sig("dyn", 0, 0, true, false),
    sig("duration", 0, 0, true, false),
    sig("timestamp", 0, 0, true, false),
    sig("getFullYear", 0, 0, false, true),
    sig("getMonth", 0, 0, false, true),
    sig("getDayOfYear", 0, 0, false, true),
    sig("getDayOfMonth", 0, 0, false, true),
    sig("getDate", 0, 0, false, true),
    sig("getDayOfWeek", 0, 0, false, true),
    sig("getHours", 0, 0, false, true),
    sig("getMinutes", 0, 0, false, true),
    sig("getSeconds", 0, 0, false, true),
    sig("getMilliseconds", 0, 0, false, true),
    sig("lowerAscii", 0, 0, false, true),
    sig("upperAscii", 0, 0, false, true),
    sig("trim", 0, 0, false, true),
    sig("split", 1, 2, false, true),
    sig("join", 0, 1, false, true),
    sig("replace", 2, 3, false, true),
    sig("indexOf", 1, 2, false, true),
    sig("lastIndexOf", 1, 2, false, true),
    sig("substring", 1, 2, false, true),
    sig("charAt", 1, 1, false, true),
    sig("isSorted", 0, 0, false, true),
    sig("sum", 0, 0, false, true),
    sig("hasValue", 0, 0, false, true),
    sig("value", 0, 0, false, true),
    sig("orValue", 1, 1, false, true),
    sig("format", 1, 1, false, true),
    sig("find", 1, 1, false, true),
    sig("findAll", 1, 2, false, true),
    sig("quantity", 0, 0, true, false),
    sig("isQuantity", 0, 0, true, false),
    sig("sign", 0, 0, false, true),
    sig("isInteger", 0, 0, false, true),
    sig("asInteger", 0, 0, false, true),
    sig("asApproximateFloat", 0, 0, false, true),
    sig("add", 1, 1, false, true),
    sig("sub", 1, 1, false, true),
    sig("isLessThan", 1, 1, false, true),
    sig("isGreaterThan", 1, 1, false, true),
    sig("compareTo", 1, 1, false, true),
    sig("min", 0, 0, false, true),
    sig("max", 0, 0, false, true),
];

pub(super) fn signature(name: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.name == name)
}

/// The root context every evaluation opens a scope of.
pub(super) fn base() -> &'static Context<'static> {
    static BASE: OnceLock<Context<'static>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut ctx = Context::default();
        // Types are represented by their names: `type(x)` gives one, and the type
        // identifiers are bound to theirs.
        for name in TYPE_NAMES {
            ctx.add_variable_from_value(name, name);
        }
        ctx.add_function("type", type_of);
        ctx.add_function(INDEX, index);
        ctx.add_function(RANGE, range);
        ctx.add_function("size", size);
        ctx.add_function("dyn", dyn_);
        ctx.add_function("isSorted", is_sorted);
        ctx.add_function("sum", sum);
        ctx.add_function("hasValue", has_value);
        ctx.add_function("value", optional_value);
        ctx.add_function("orValue", or_value);
        super::strings::register(&mut ctx);
        super::quantity::register(&mut ctx);
        ctx.add_function("min", min);
        ctx.add_function("max", max);
        ctx
    })
}

/// CEL's type identifiers.
pub(super) const TYPE_NAMES: [&str; 9] = [
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
];

fn type_of(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    let name = match this {
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(_) => "double",
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "list",
        Value::Map(_) => "map",
        Value::Null => "null_type",
        Value::Duration(_) => "google.protobuf.Duration",
        Value::Timestamp(_) => "google.protobuf.Timestamp",
        Value::Function(..) => "function",
    };
    Ok(str_value(name))
}

/// The receiver (or first argument of a global call) and the other arguments, evaluated.
pub(super) fn operands(ftx: &FunctionContext) -> Result<(Value, Vec<Value>), ExecutionError> {
    let mut args = Vec::with_capacity(ftx.args.len());
    for arg in &ftx.args {
        args.push(Value::resolve(arg, ftx.ptx)?);
    }
    match &ftx.this {
        Some(this) => Ok((this.clone(), args)),
        None if !args.is_empty() => {
            let this = args.remove(0);
            Ok((this, args))
        }
        None => Err(ExecutionError::missing_argument_or_target()),
    }
}

pub(super) fn no_overload(ftx: &FunctionContext) -> ExecutionError {
    ftx.error("no such overload")
}

pub(super) fn string_arg(
    ftx: &FunctionContext,
    v: Option<&Value>,
) -> Result<Arc<String>, ExecutionError> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(no_overload(ftx)),
    }
}

pub(super) fn int_arg(ftx: &FunctionContext, v: Option<&Value>) -> Result<i64, ExecutionError> {
    match v {
        Some(Value::Int(i)) => Ok(*i),
        _ => Err(no_overload(ftx)),
    }
}

pub(super) fn str_value(s: impl Into<String>) -> Value {
    Value::String(Arc::new(s.into()))
}

fn index(ftx: &FunctionContext) -> ResolveResult {
    let (container, args) = operands(ftx)?;
    let idx = args.into_iter().next().ok_or_else(|| no_overload(ftx))?;
    match (&container, &idx) {
        (Value::List(items), Value::Int(_) | Value::UInt(_)) => {
            let i = match idx {
                Value::Int(i) => usize::try_from(i).ok(),
                Value::UInt(u) => usize::try_from(u).ok(),
                _ => None,
            };
            i.and_then(|i| items.get(i)).cloned().ok_or_else(|| {
                let shown = match idx {
                    Value::Int(i) => i.to_string(),
                    Value::UInt(u) => u.to_string(),
                    _ => String::new(),
                };
                let size = items.len();
                ExecutionError::function_error(
                    "index",
                    format!("index '{shown}' out of range in list size '{size}'"),
                )
            })
        }
        (Value::Map(map), _) => {
            let key: Key = idx
                .clone()
                .try_into()
                .map_err(ExecutionError::UnsupportedKeyType)?;
            map.get(&key)
                .cloned()
                .ok_or_else(|| ExecutionError::NoSuchKey(Arc::new(key.to_string())))
        }
        _ => Err(no_overload(ftx)),
    }
}

fn range(ftx: &FunctionContext) -> ResolveResult {
    match operands(ftx)? {
        (v @ (Value::List(_) | Value::Map(_)), _) => Ok(v),
        _ => Err(no_overload(ftx)),
    }
}

/// CEL sizes strings in code points, not bytes.
fn size(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    let n = match this {
        Value::String(s) => s.chars().count(),
        Value::Bytes(b) => b.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.map.len(),
        _ => return Err(no_overload(ftx)),
    };
    Ok(Value::Int(n as i64))
}

fn dyn_(ftx: &FunctionContext) -> ResolveResult {
    operands(ftx).map(|(this, _)| this)
}

fn list_arg(ftx: &FunctionContext) -> Result<Arc<Vec<Value>>, ExecutionError> {
    match operands(ftx)? {
        (Value::List(items), _) => Ok(items),
        _ => Err(no_overload(ftx)),
    }
}

fn is_sorted(ftx: &FunctionContext) -> ResolveResult {
    let items = list_arg(ftx)?;
    for pair in items.windows(2) {
        match pair[0].partial_cmp(&pair[1]) {
            Some(std::cmp::Ordering::Greater) => return Ok(Value::Bool(false)),
            Some(_) => {}
            None => return Err(no_overload(ftx)),
        }
    }
    Ok(Value::Bool(true))
}

fn sum(ftx: &FunctionContext) -> ResolveResult {
    let items = list_arg(ftx)?;
    let mut total = match items.first() {
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(Value::UInt(_)) => Value::UInt(0),
        _ => Value::Int(0),
    };
    for item in items.iter() {
        total = (total + item.clone())?;
    }
    Ok(total)
}

fn extreme(ftx: &FunctionContext, keep: std::cmp::Ordering) -> ResolveResult {
    // Called as a global function with several arguments, min/max compare those.
    let items: Vec<Value> = match (&ftx.this, ftx.args.len()) {
        (None, n) if n > 1 => operands(ftx).map(|(first, mut rest)| {
            rest.insert(0, first);
            rest
        })?,
        _ => list_arg(ftx)?.as_ref().clone(),
    };
    let mut best: Option<Value> = None;
    for item in items {
        best = Some(match best {
            None => item,
            Some(b) => match item.partial_cmp(&b) {
                Some(o) if o == keep => item,
                Some(_) => b,
                None => return Err(no_overload(ftx)),
            },
        });
    }
    best.ok_or_else(|| ftx.error("empty list"))
}

fn min(ftx: &FunctionContext) -> ResolveResult {
    extreme(ftx, std::cmp::Ordering::Less)
}

fn max(ftx: &FunctionContext) -> ResolveResult {
    extreme(ftx, std::cmp::Ordering::Greater)
}

/// The key of the one-entry map an optional value is represented as (absent: an empty map).
/// No JSON field can produce it: object fields are escaped identifiers.
const OPTIONAL: &str = "@optional";

/// An optional value, for `oldSelf` of rules with `optionalOldSelf`.
pub(super) fn optional(v: Option<Value>) -> Value {
    let map = v
        .map(|v| (Key::from(OPTIONAL), v))
        .into_iter()
        .collect::<HashMap<_, _>>();
    Value::Map(cel_interpreter::objects::Map { map: Arc::new(map) })
}

/// The optional's value: `Ok(None)` when absent, an error when `v` is not an optional.
fn unwrap_optional(ftx: &FunctionContext, v: &Value) -> Result<Option<Value>, ExecutionError> {
    match v {
        Value::Map(m) if m.map.is_empty() => Ok(None),
        Value::Map(m) if m.map.len() == 1 => match m.map.get(&Key::from(OPTIONAL)) {
            Some(inner) => Ok(Some(inner.clone())),
            None => Err(no_overload(ftx)),
        },
        _ => Err(no_overload(ftx)),
    }
}

fn has_value(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    Ok(Value::Bool(unwrap_optional(ftx, &this)?.is_some()))
}

fn optional_value(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    unwrap_optional(ftx, &this)?.ok_or_else(|| ftx.error("optional.none() dereference"))
}

fn or_value(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    match unwrap_optional(ftx, &this)? {
        Some(v) => Ok(v),
        None => args.into_iter().next().ok_or_else(|| no_overload(ftx)),
    }
}

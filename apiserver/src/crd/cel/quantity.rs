//! Kubernetes' CEL quantity library: `quantity('1Gi')`, `isQuantity(s)` and the methods of a
//! quantity. A quantity is a one-entry map holding its canonical string, so equal quantities
//! (`1Gi`, `1024Mi`) compare equal.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use cel_interpreter::objects::{Key, Map};
use cel_interpreter::{Context, ExecutionError, FunctionContext, ResolveResult, Value};

use super::library::operands;
use crate::printers::quantity::{canonical, from_nanos, nanos};

const QUANTITY: &str = "@quantity";

pub(super) fn register(ctx: &mut Context) {
    ctx.add_function("quantity", quantity);
    ctx.add_function("isQuantity", is_quantity);
    ctx.add_function("sign", sign);
    ctx.add_function("isInteger", is_integer);
    ctx.add_function("asInteger", as_integer);
    ctx.add_function("asApproximateFloat", as_approximate_float);
    ctx.add_function("add", add);
    ctx.add_function("sub", sub);
    ctx.add_function("isLessThan", is_less_than);
    ctx.add_function("isGreaterThan", is_greater_than);
    ctx.add_function("compareTo", compare_to);
}

fn wrap(canonical: String) -> Value {
    let map = HashMap::from([(Key::from(QUANTITY), Value::String(Arc::new(canonical)))]);
    Value::Map(Map { map: Arc::new(map) })
}

/// The quantity's value in nano-units, and whether it is in binary form.
fn unwrap(ftx: &FunctionContext, v: &Value) -> Result<(i128, bool), ExecutionError> {
    if let Value::Map(m) = v {
        if let Some(Value::String(s)) = m.map.get(&Key::from(QUANTITY)) {
            return nanos(s).ok_or_else(|| ftx.error("invalid quantity"));
        }
    }
    Err(ftx.error("no such overload"))
}

fn quantity(ftx: &FunctionContext) -> ResolveResult {
    match operands(ftx)? {
        (Value::String(s), _) => canonical(&s)
            .map(wrap)
            .ok_or_else(|| ftx.error(format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {s}"))),
        _ => Err(ftx.error("no such overload")),
    }
}

fn is_quantity(ftx: &FunctionContext) -> ResolveResult {
    match operands(ftx)? {
        (Value::String(s), _) => Ok(Value::Bool(canonical(&s).is_some())),
        _ => Err(ftx.error("no such overload")),
    }
}

const NANO: i128 = 1_000_000_000;

fn sign(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    let (n, _) = unwrap(ftx, &this)?;
    Ok(Value::Int(n.signum() as i64))
}

fn is_integer(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    let (n, _) = unwrap(ftx, &this)?;
    Ok(Value::Bool(
        n % NANO == 0 && i64::try_from(n / NANO).is_ok(),
    ))
}

fn as_integer(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    let (n, _) = unwrap(ftx, &this)?;
    if n % NANO != 0 {
        return Err(ftx.error("cannot convert value to integer"));
    }
    i64::try_from(n / NANO)
        .map(Value::Int)
        .map_err(|_| ftx.error("cannot convert value to integer"))
}

fn as_approximate_float(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    let (n, _) = unwrap(ftx, &this)?;
    Ok(Value::Float(n as f64 / NANO as f64))
}

/// The other operand of add/sub: a quantity, or an int of whole units.
fn other(ftx: &FunctionContext, args: &[Value]) -> Result<(i128, bool), ExecutionError> {
    match args.first() {
        Some(Value::Int(i)) => Ok((i128::from(*i) * NANO, false)),
        Some(v) => unwrap(ftx, v),
        None => Err(ftx.error("no such overload")),
    }
}

fn add(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let (a, binary) = unwrap(ftx, &this)?;
    let (b, _) = other(ftx, &args)?;
    let sum = a.checked_add(b).ok_or_else(|| ftx.error("overflow"))?;
    Ok(wrap(from_nanos(sum, binary)))
}

fn sub(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let (a, binary) = unwrap(ftx, &this)?;
    let (b, _) = other(ftx, &args)?;
    let diff = a.checked_sub(b).ok_or_else(|| ftx.error("overflow"))?;
    Ok(wrap(from_nanos(diff, binary)))
}

fn compare(ftx: &FunctionContext) -> Result<Ordering, ExecutionError> {
    let (this, args) = operands(ftx)?;
    let (a, _) = unwrap(ftx, &this)?;
    let (b, _) = unwrap(
        ftx,
        args.first().ok_or_else(|| ftx.error("no such overload"))?,
    )?;
    Ok(a.cmp(&b))
}

fn is_less_than(ftx: &FunctionContext) -> ResolveResult {
    Ok(Value::Bool(compare(ftx)? == Ordering::Less))
}

fn is_greater_than(ftx: &FunctionContext) -> ResolveResult {
    Ok(Value::Bool(compare(ftx)? == Ordering::Greater))
}

fn compare_to(ftx: &FunctionContext) -> ResolveResult {
    Ok(Value::Int(match compare(ftx)? {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

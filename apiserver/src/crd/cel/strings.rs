//! Kubernetes' CEL string and regex extensions: `lowerAscii`, `split`, `format`, `find`... with
//! code-point offsets as CEL counts them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cel_interpreter::{Context, ExecutionError, FunctionContext, ResolveResult, Value};

use super::library::{int_arg, no_overload, operands, str_value, string_arg};

pub(super) fn register(ctx: &mut Context) {
    ctx.add_function("lowerAscii", lower_ascii);
    ctx.add_function("upperAscii", upper_ascii);
    ctx.add_function("trim", trim);
    ctx.add_function("split", split);
    ctx.add_function("join", join);
    ctx.add_function("replace", replace);
    ctx.add_function("indexOf", index_of);
    ctx.add_function("lastIndexOf", last_index_of);
    ctx.add_function("substring", substring);
    ctx.add_function("charAt", char_at);
    ctx.add_function("format", format);
    ctx.add_function("find", find);
    ctx.add_function("matches", matches);
    ctx.add_function("findAll", find_all);
}

fn lower_ascii(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    Ok(str_value(
        string_arg(ftx, Some(&this))?.to_ascii_lowercase(),
    ))
}

fn upper_ascii(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    Ok(str_value(
        string_arg(ftx, Some(&this))?.to_ascii_uppercase(),
    ))
}

fn trim(ftx: &FunctionContext) -> ResolveResult {
    let (this, _) = operands(ftx)?;
    Ok(str_value(string_arg(ftx, Some(&this))?.trim()))
}

fn split(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let s = string_arg(ftx, Some(&this))?;
    let sep = string_arg(ftx, args.first())?;
    let limit = match args.get(1) {
        Some(v) => int_arg(ftx, Some(v))?,
        None => -1,
    };
    let parts: Vec<Value> = match limit {
        0 => Vec::new(),
        n if n < 0 => s.split(sep.as_str()).map(str_value).collect(),
        n => s.splitn(n as usize, sep.as_str()).map(str_value).collect(),
    };
    Ok(Value::List(Arc::new(parts)))
}

fn join(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let sep = match args.first() {
        Some(v) => string_arg(ftx, Some(v))?.to_string(),
        None => String::new(),
    };
    let Value::List(items) = this else {
        return Err(no_overload(ftx));
    };
    let parts = items
        .iter()
        .map(|v| string_arg(ftx, Some(v)).map(|s| s.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(str_value(parts.join(&sep)))
}

fn replace(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let s = string_arg(ftx, Some(&this))?;
    let from = string_arg(ftx, args.first())?;
    let to = string_arg(ftx, args.get(1))?;
    let limit = match args.get(2) {
        Some(v) => int_arg(ftx, Some(v))?,
        None => -1,
    };
    Ok(str_value(if limit < 0 {
        s.replace(from.as_str(), &to)
    } else {
        s.replacen(from.as_str(), &to, limit as usize)
    }))
}

/// Code-point offsets, as CEL's string extension counts.
fn char_offset(s: &str, byte: usize) -> i64 {
    s[..byte].chars().count() as i64
}

fn byte_offset(ftx: &FunctionContext, s: &str, chars: i64) -> Result<usize, ExecutionError> {
    let count = s.chars().count() as i64;
    if chars < 0 || chars > count {
        return Err(ftx.error(format!("index out of range: {chars}")));
    }
    Ok(s.char_indices()
        .nth(chars as usize)
        .map(|(b, _)| b)
        .unwrap_or(s.len()))
}

fn index_of(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    if let Value::List(items) = &this {
        let needle = args.first().ok_or_else(|| no_overload(ftx))?;
        let found = items.iter().position(|v| v == needle);
        return Ok(Value::Int(found.map(|i| i as i64).unwrap_or(-1)));
    }
    let s = string_arg(ftx, Some(&this))?;
    let needle = string_arg(ftx, args.first())?;
    let start = match args.get(1) {
        Some(v) => byte_offset(ftx, &s, int_arg(ftx, Some(v))?)?,
        None => 0,
    };
    Ok(Value::Int(
        s[start..]
            .find(needle.as_str())
            .map(|b| char_offset(&s, start + b))
            .unwrap_or(-1),
    ))
}

fn last_index_of(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    if let Value::List(items) = &this {
        let needle = args.first().ok_or_else(|| no_overload(ftx))?;
        let found = items.iter().rposition(|v| v == needle);
        return Ok(Value::Int(found.map(|i| i as i64).unwrap_or(-1)));
    }
    let s = string_arg(ftx, Some(&this))?;
    let needle = string_arg(ftx, args.first())?;
    let end = match args.get(1) {
        Some(v) => {
            let start = byte_offset(ftx, &s, int_arg(ftx, Some(v))?)?;
            (start + needle.len()).min(s.len())
        }
        None => s.len(),
    };
    let end = (0..=end)
        .rev()
        .find(|b| s.is_char_boundary(*b))
        .unwrap_or(0);
    Ok(Value::Int(
        s[..end]
            .rfind(needle.as_str())
            .map(|b| char_offset(&s, b))
            .unwrap_or(-1),
    ))
}

fn substring(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let s = string_arg(ftx, Some(&this))?;
    let start = byte_offset(ftx, &s, int_arg(ftx, args.first())?)?;
    let end = match args.get(1) {
        Some(v) => byte_offset(ftx, &s, int_arg(ftx, Some(v))?)?,
        None => s.len(),
    };
    if end < start {
        return Err(ftx.error("invalid substring range"));
    }
    Ok(str_value(&s[start..end]))
}

fn char_at(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let s = string_arg(ftx, Some(&this))?;
    let at = byte_offset(ftx, &s, int_arg(ftx, args.first())?)?;
    Ok(str_value(
        s[at..].chars().next().map(String::from).unwrap_or_default(),
    ))
}

/// Compiled regular expressions by pattern: rules match the same few patterns against every
/// item of a list, every write.
fn regex(ftx: &FunctionContext, pattern: &str) -> Result<regex::Regex, ExecutionError> {
    static CACHE: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = regex::Regex::new(pattern)
        .map_err(|e| ftx.error(format!("'{pattern}' not a valid regex: {e}")))?;
    if let Ok(mut c) = cache.lock() {
        // Patterns come from CRDs, a handful each; start over rather than grow without bound.
        if c.len() >= 512 {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// `matches` with the cache (the interpreter's own compiles the pattern on every call).
fn matches(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let s = string_arg(ftx, Some(&this))?;
    let re = regex(ftx, &string_arg(ftx, args.first())?)?;
    Ok(Value::Bool(re.is_match(&s)))
}

/// The first match of a regular expression, or the empty string.
fn find(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let s = string_arg(ftx, Some(&this))?;
    let re = regex(ftx, &string_arg(ftx, args.first())?)?;
    Ok(str_value(
        re.find(&s).map(|m| m.as_str()).unwrap_or_default(),
    ))
}

/// All matches (at most `limit`, when given and not negative).
fn find_all(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let s = string_arg(ftx, Some(&this))?;
    let re = regex(ftx, &string_arg(ftx, args.first())?)?;
    let limit = match args.get(1) {
        Some(v) => usize::try_from(int_arg(ftx, Some(v))?).unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    let found = re
        .find_iter(&s)
        .take(limit)
        .map(|m| str_value(m.as_str()))
        .collect();
    Ok(Value::List(Arc::new(found)))
}

/// `'%s is %d'.format([a, b])`: the strings extension's verbs `%s`, `%d`, `%f` (with a
/// precision, `%.2f`), `%e`, `%x`, `%X`, `%o`, `%b` and `%%`.
fn format(ftx: &FunctionContext) -> ResolveResult {
    let (this, args) = operands(ftx)?;
    let template = string_arg(ftx, Some(&this))?;
    let Some(Value::List(values)) = args.first() else {
        return Err(no_overload(ftx));
    };
    let mut out = String::with_capacity(template.len());
    let mut next = values.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            precision = digits.parse::<usize>().ok();
        }
        let verb = chars
            .next()
            .ok_or_else(|| ftx.error("unexpected end of format string"))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = next
            .next()
            .ok_or_else(|| ftx.error("index 0 out of range"))?;
        out.push_str(&format_verb(ftx, verb, precision, arg)?);
    }
    Ok(str_value(out))
}

fn format_verb(
    ftx: &FunctionContext,
    verb: char,
    precision: Option<usize>,
    arg: &Value,
) -> Result<String, ExecutionError> {
    let float = |v: &Value| match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        _ => None,
    };
    let bad = || {
        ftx.error(format!(
            "error during formatting: unrecognized formatting clause \"{verb}\""
        ))
    };
    Ok(match (verb, arg) {
        ('s', v) => display(v),
        ('d', Value::Int(i)) => i.to_string(),
        ('d', Value::UInt(u)) => u.to_string(),
        ('f', v) => format!("{:.*}", precision.unwrap_or(6), float(v).ok_or_else(bad)?),
        ('e', v) => format!("{:.*e}", precision.unwrap_or(6), float(v).ok_or_else(bad)?),
        ('x', Value::Int(i)) => format!("{i:x}"),
        ('X', Value::Int(i)) => format!("{i:X}"),
        ('x', Value::String(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::String(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('o', Value::Int(i)) => format!("{i:o}"),
        ('b', Value::Int(i)) => format!("{i:b}"),
        _ => return Err(bad()),
    })
}

/// A value as `%s` shows it.
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(display).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => {
            let mut entries: Vec<String> = m
                .map
                .iter()
                .map(|(k, v)| format!("{k}: {}", display(v)))
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Duration(d) => format!("{}s", d.num_milliseconds() as f64 / 1000.0),
        Value::Timestamp(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Value::Function(name, _) => name.to_string(),
    }
}

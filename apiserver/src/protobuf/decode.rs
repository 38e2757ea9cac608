//! Protobuf message bytes -> Kubernetes JSON, driven by the generated schema.

use std::borrow::Cow;

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::schema::{Field, Kind, Message, Schema, Special};
use super::wire::{Reader, Wire};
use super::MAGIC;

/// Deep enough for real CRD schemas (each level is a few messages), shallow enough that a
/// hostile body cannot exhaust the stack.
const MAX_DEPTH: usize = 150;

pub struct Decoder<'s> {
    pub schema: &'s Schema,
}

/// A field's value while its message is read: later occurrences replace (scalars), append
/// (repeated), insert (maps) or merge (messages) as protobuf specifies.
enum Acc<'a> {
    Unset,
    One(Value),
    List(Vec<Value>),
    Map(Map<String, Value>),
    Msg(Vec<&'a [u8]>),
}

impl Decoder<'_> {
    pub fn message(&self, idx: usize, buf: &[u8], depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("messages nested deeper than {MAX_DEPTH}"));
        }
        let msg = &self.schema.messages[idx];
        match msg.special {
            Special::None
            | Special::ListWrapper
            | Special::SchemaOrArray
            | Special::SchemaOrBool
            | Special::SchemaOrStringArray => {}
            Special::Time => return time(buf, false),
            Special::MicroTime => return time(buf, true),
            Special::Duration => return duration(buf),
            Special::Quantity => return quantity(buf),
            Special::IntOrString => return int_or_string(buf),
            Special::RawJson => return raw_json(raw_field(buf)?),
            Special::RawExtension => return self.raw_extension(raw_field(buf)?, depth),
        }
        let object = self.fields(msg, buf, depth)?;
        // The wrappers' JSON form is built from the decoded fields, named by tag.
        let take = |tag: u32| msg.field(tag).and_then(|f| object.get(&*f.name)).cloned();
        Ok(match msg.special {
            Special::ListWrapper => take(1).unwrap_or_else(|| Value::Array(Vec::new())),
            Special::SchemaOrArray => take(2).or_else(|| take(1)).unwrap_or(Value::Null),
            Special::SchemaOrBool => {
                take(2).unwrap_or_else(|| Value::Bool(take(1) == Some(Value::Bool(true))))
            }
            Special::SchemaOrStringArray => take(2).or_else(|| take(1)).unwrap_or(Value::Null),
            _ => Value::Object(object),
        })
    }

    fn fields(
        &self,
        msg: &Message,
        buf: &[u8],
        depth: usize,
    ) -> Result<Map<String, Value>, String> {
        let mut acc: Vec<Acc> = msg.fields.iter().map(|_| Acc::Unset).collect();
        let mut r = Reader::new(buf);
        while let Some((tag, wire)) = r.field()? {
            // Unknown fields are skipped, as upstream does, so newer clients still work.
            let Ok(i) = msg.fields.binary_search_by_key(&tag, |f| f.tag) else {
                continue;
            };
            let f = &msg.fields[i];
            self.field(f, wire, &mut acc[i], depth)
                .map_err(|e| in_field(f, e))?;
        }
        let mut out = Map::new();
        let mut inline = Vec::new();
        for (f, a) in msg.fields.iter().zip(acc) {
            let value = match a {
                Acc::Unset => continue,
                Acc::One(v) if f.omit_zero && is_zero(&v) => continue,
                Acc::One(v) => v,
                Acc::List(v) if v.is_empty() => continue,
                Acc::List(v) => Value::Array(v),
                Acc::Map(m) if m.is_empty() => continue,
                Acc::Map(m) => Value::Object(m),
                Acc::Msg(chunks) => {
                    let Kind::Message(sub) = f.kind else { continue };
                    let joined = join(&chunks);
                    self.message(sub, &joined, depth + 1)
                        .map_err(|e| in_field(f, e))?
                }
            };
            if f.inline {
                inline.push(value);
            } else {
                out.insert(f.name.to_string(), value);
            }
        }
        // Embedded structs' fields join the parent; the parent's own fields win, as in Go.
        for v in inline {
            if let Value::Object(m) = v {
                for (k, v) in m {
                    out.entry(k).or_insert(v);
                }
            }
        }
        Ok(out)
    }

    fn field<'a>(
        &self,
        f: &Field,
        wire: Wire<'a>,
        acc: &mut Acc<'a>,
        depth: usize,
    ) -> Result<(), String> {
        if let Some(value_kind) = f.map_value {
            let Wire::Bytes(entry) = wire else {
                return Err(wrong_wire(wire, "length-delimited"));
            };
            let (k, v) = self.map_entry(value_kind, entry, depth)?;
            if !matches!(acc, Acc::Map(_)) {
                *acc = Acc::Map(Map::new());
            }
            if let Acc::Map(m) = acc {
                m.insert(k, v);
            }
            return Ok(());
        }
        if let Kind::Message(sub) = f.kind {
            let Wire::Bytes(b) = wire else {
                return Err(wrong_wire(wire, "length-delimited"));
            };
            if f.repeated {
                let v = self.message(sub, b, depth + 1)?;
                push(acc, v);
            } else {
                match acc {
                    Acc::Msg(chunks) => chunks.push(b),
                    _ => *acc = Acc::Msg(vec![b]),
                }
            }
            return Ok(());
        }
        if f.repeated {
            // Packed: several varint or fixed values in one length-delimited payload.
            if let (Wire::Bytes(b), Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double) =
                (wire, f.kind)
            {
                let mut r = Reader::new(b);
                if !matches!(acc, Acc::List(_)) {
                    *acc = Acc::List(Vec::new());
                }
                while !r.is_empty() {
                    let w = if f.kind == Kind::Double {
                        Wire::Fixed64(r.fixed64()?)
                    } else {
                        Wire::Varint(r.varint()?)
                    };
                    push(acc, scalar(f.kind, w)?);
                }
                return Ok(());
            }
            push(acc, scalar(f.kind, wire)?);
        } else {
            *acc = Acc::One(scalar(f.kind, wire)?);
        }
        Ok(())
    }

    fn map_entry(
        &self,
        value_kind: Kind,
        entry: &[u8],
        depth: usize,
    ) -> Result<(String, Value), String> {
        let mut key = String::new();
        let mut value: Option<Value> = None;
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut r = Reader::new(entry);
        while let Some((tag, wire)) = r.field()? {
            match tag {
                1 => key = string(wire).map_err(|e| format!("map key: {e}"))?,
                2 => match value_kind {
                    Kind::Message(_) => match wire {
                        Wire::Bytes(b) => chunks.push(b),
                        w => {
                            return Err(format!("map value: {}", wrong_wire(w, "length-delimited")))
                        }
                    },
                    k => value = Some(scalar(k, wire).map_err(|e| format!("map value: {e}"))?),
                },
                _ => {}
            }
        }
        let value = match value_kind {
            // An absent value is the zero value, as in Go.
            Kind::Message(sub) => self
                .message(sub, &join(&chunks), depth + 1)
                .map_err(|e| format!("[{key}]: {e}"))?,
            k => value.unwrap_or_else(|| zero(k)),
        };
        Ok((key, value))
    }

    fn raw_extension(&self, raw: &[u8], depth: usize) -> Result<Value, String> {
        // A protobuf client may embed an object in its own protobuf form.
        if let Some(inner) = raw.strip_prefix(MAGIC) {
            let env = super::Envelope::parse(inner)?;
            let idx = self
                .schema
                .by_kind(&env.api_version, &env.kind)
                .ok_or_else(|| {
                    format!(
                        "embedded object of unknown kind {}/{}",
                        env.api_version, env.kind
                    )
                })?;
            let mut v = self.message(idx, env.raw, depth + 1)?;
            env.set_type(&mut v);
            return Ok(v);
        }
        raw_json(raw)
    }
}

fn in_field(f: &Field, e: String) -> String {
    if f.name.is_empty() {
        e
    } else {
        format!("{}: {e}", f.name)
    }
}

fn push(acc: &mut Acc, v: Value) {
    match acc {
        Acc::List(l) => l.push(v),
        _ => *acc = Acc::List(vec![v]),
    }
}

fn join<'a>(chunks: &[&'a [u8]]) -> Cow<'a, [u8]> {
    match chunks {
        [] => Cow::Borrowed(&[]),
        [one] => Cow::Borrowed(one),
        // Repeated occurrences of a message field merge, which on the wire is concatenation.
        many => Cow::Owned(many.concat()),
    }
}

fn wrong_wire(w: Wire, want: &str) -> String {
    format!("{} value where {want} was expected", w.type_name())
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

fn zero(k: Kind) -> Value {
    match k {
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        _ => Value::from(0),
    }
}

fn string(w: Wire) -> Result<String, String> {
    match w {
        // Go turns invalid UTF-8 into U+FFFD when it writes JSON; do the same.
        Wire::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        w => Err(wrong_wire(w, "length-delimited")),
    }
}

fn scalar(kind: Kind, w: Wire) -> Result<Value, String> {
    Ok(match (kind, w) {
        (Kind::String, w) => Value::String(string(w)?),
        (Kind::Bytes, Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Kind::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        // int32 is sent sign-extended to 64 bits; truncation is the protobuf rule.
        (Kind::Int32, Wire::Varint(v)) => Value::from(v as i64 as i32),
        (Kind::Int64, Wire::Varint(v)) => Value::from(v as i64),
        (Kind::Double, Wire::Fixed64(v)) => double(f64::from_bits(v))?,
        (Kind::Bytes, w) => return Err(wrong_wire(w, "length-delimited")),
        (Kind::Double, w) => return Err(wrong_wire(w, "fixed64")),
        (_, w) => return Err(wrong_wire(w, "varint")),
    })
}

fn double(d: f64) -> Result<Value, String> {
    // Go writes integral floats without a fraction ("1", not "1.0").
    if d.fract() == 0.0 && d.abs() < 1e15 {
        return Ok(Value::from(d as i64));
    }
    Number::from_f64(d)
        .map(Value::Number)
        .ok_or_else(|| format!("{d} has no JSON form"))
}

/// The fields of a small fixed message (Time, Duration, Quantity).
struct Small<'a> {
    /// Varints by tag 1..=3, at index tag - 1.
    ints: [Option<u64>; 3],
    /// Field 1 when length-delimited.
    bytes: Option<&'a [u8]>,
}

fn small(buf: &[u8]) -> Result<Small<'_>, String> {
    let mut out = Small {
        ints: [None; 3],
        bytes: None,
    };
    let mut r = Reader::new(buf);
    while let Some((tag, w)) = r.field()? {
        match (tag, w) {
            (1..=3, Wire::Varint(v)) => out.ints[tag as usize - 1] = Some(v),
            (1, Wire::Bytes(b)) => out.bytes = Some(b),
            (1..=3, w) => return Err(format!("field {tag}: unexpected {} value", w.type_name())),
            _ => {}
        }
    }
    Ok(out)
}

fn raw_field(buf: &[u8]) -> Result<&[u8], String> {
    let mut out: &[u8] = &[];
    let mut r = Reader::new(buf);
    while let Some((tag, w)) = r.field()? {
        if tag == 1 {
            match w {
                Wire::Bytes(b) => out = b,
                w => return Err(format!("raw: {}", wrong_wire(w, "length-delimited"))),
            }
        }
    }
    Ok(out)
}

fn raw_json(raw: &[u8]) -> Result<Value, String> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| format!("embedded raw bytes are not JSON: {e}"))
}

/// metav1.Time (whole seconds: upstream drops nanos when decoding) or MicroTime.
fn time(buf: &[u8], micro: bool) -> Result<Value, String> {
    // Upstream writes a zero time as an empty message; its JSON is null.
    if buf.is_empty() {
        return Ok(Value::Null);
    }
    let ints = small(buf)?.ints;
    let secs = ints[0].unwrap_or(0) as i64;
    let nanos = if micro {
        i64::from(ints[1].unwrap_or(0) as i64 as i32)
    } else {
        0
    };
    // Normalize out-of-range nanos the way Go's time.Unix does.
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    let (secs, nanos) = (
        total.div_euclid(1_000_000_000),
        total.rem_euclid(1_000_000_000),
    );
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, nanos as u32))
        .filter(|t| (0..=9999).contains(&chrono::Datelike::year(t)))
        .ok_or_else(|| format!("time {secs}s is out of range"))?;
    let s = if micro {
        format!("{}.{:06}Z", t.format("%Y-%m-%dT%H:%M:%S"), nanos / 1000)
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    };
    Ok(Value::String(s))
}

/// metav1.Duration: nanoseconds written as Go's time.Duration.String() does.
fn duration(buf: &[u8]) -> Result<Value, String> {
    let ints = small(buf)?.ints;
    Ok(Value::String(go_duration(ints[0].unwrap_or(0) as i64)))
}

pub fn go_duration(d: i64) -> String {
    fn frac(v: u64, prec: u32) -> (String, u64) {
        let p = 10u64.pow(prec);
        let digits = format!("{:0width$}", v % p, width = prec as usize);
        let digits = digits.trim_end_matches('0');
        (
            if digits.is_empty() {
                String::new()
            } else {
                format!(".{digits}")
            },
            v / p,
        )
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let body = if u == 0 {
        return "0s".into();
    } else if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        let (f, i) = frac(u, 3);
        format!("{i}{f}µs")
    } else if u < 1_000_000_000 {
        let (f, i) = frac(u, 6);
        format!("{i}{f}ms")
    } else {
        let (f, secs) = frac(u, 9);
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            format!("{h}h{m}m{s}{f}s")
        } else if m > 0 {
            format!("{m}m{s}{f}s")
        } else {
            format!("{s}{f}s")
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

fn quantity(buf: &[u8]) -> Result<Value, String> {
    let s = small(buf)?.bytes;
    // A zero Quantity prints as "0".
    Ok(Value::String(s.map_or_else(
        || "0".into(),
        |b| String::from_utf8_lossy(b).into_owned(),
    )))
}

/// IntOrString {type = 1 (0 int, 1 string), intVal = 2, strVal = 3}.
fn int_or_string(buf: &[u8]) -> Result<Value, String> {
    let mut ty = 0u64;
    let mut int_val = 0i32;
    let mut str_val = String::new();
    let mut r = Reader::new(buf);
    while let Some((tag, w)) = r.field()? {
        match (tag, w) {
            (1, Wire::Varint(v)) => ty = v,
            (2, Wire::Varint(v)) => int_val = v as i64 as i32,
            (3, w) => str_val = string(w).map_err(|e| format!("strVal: {e}"))?,
            (1 | 2, w) => {
                return Err(format!(
                    "IntOrString field {tag}: {}",
                    wrong_wire(w, "varint")
                ))
            }
            _ => {}
        }
    }
    match ty {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(str_val)),
        t => Err(format!(
            "IntOrString type {t} is neither 0 (int) nor 1 (string)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        // Expected strings are Go's time.Duration.String() outputs.
        for (ns, want) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_430_000_000_000, "1h30m30s"),
            (-90_000_000_000, "-1m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(go_duration(ns), want, "{ns}ns");
        }
    }

    #[test]
    fn doubles() {
        assert_eq!(double(1.0), Ok(Value::from(1)));
        assert_eq!(double(0.5), Ok(serde_json::json!(0.5)));
        assert!(double(f64::NAN).is_err());
    }
}

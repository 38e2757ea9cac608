//! JSON values of a custom resource as CEL values, shaped by the schema node's type: objects expose
//! their declared fields under escaped names (null fields count as absent), integers are ints and
//! numbers doubles, formatted strings become timestamps, durations and bytes.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use cel_interpreter::objects::{Key, Map};
use cel_interpreter::Value;
use serde_json::Value as Json;

use super::types::Ty;

pub(super) fn to_cel(v: &Json, ty: &Ty) -> Value {
    match (ty, v) {
        (_, Json::Null) => Value::Null,
        (Ty::Object(fields), Json::Object(obj)) => {
            let mut map = HashMap::with_capacity(fields.len());
            for field in fields.iter() {
                match obj.get(&field.json) {
                    None | Some(Json::Null) => {}
                    Some(value) => {
                        map.insert(Key::from(field.cel.as_str()), to_cel(value, &field.ty));
                    }
                }
            }
            map_value(map)
        }
        (Ty::Map(_, values), Json::Object(obj)) => {
            let map = obj
                .iter()
                .map(|(k, v)| (Key::from(k.as_str()), to_cel(v, values)))
                .collect();
            map_value(map)
        }
        (Ty::List(items), Json::Array(list)) => {
            Value::List(Arc::new(list.iter().map(|v| to_cel(v, items)).collect()))
        }
        (Ty::Double, Json::Number(n)) => n.as_f64().map(Value::Float).unwrap_or(Value::Null),
        (Ty::Timestamp, Json::String(s)) => timestamp(s).unwrap_or_else(|| string(s)),
        (Ty::Duration, Json::String(s)) => {
            cel_interpreter::functions::duration(Arc::new(s.clone())).unwrap_or_else(|_| string(s))
        }
        (Ty::Bytes, Json::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(|b| Value::Bytes(Arc::new(b)))
            .unwrap_or_else(|_| string(s)),
        _ => untyped(v),
    }
}

/// A value where the schema says nothing (or something else than what came): as JSON has it.
fn untyped(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                n.as_f64().map(Value::Float).unwrap_or(Value::Null)
            }
        }
        Json::String(s) => string(s),
        Json::Array(list) => Value::List(Arc::new(list.iter().map(untyped).collect())),
        Json::Object(obj) => map_value(
            obj.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (Key::from(k.as_str()), untyped(v)))
                .collect(),
        ),
    }
}

fn map_value(map: HashMap<Key, Value>) -> Value {
    Value::Map(Map { map: Arc::new(map) })
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

/// RFC 3339 date-times, and plain dates (midnight UTC) as the "date" format has them.
fn timestamp(s: &str) -> Option<Value> {
    let parsed = chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(&format!("{s}T00:00:00Z")))
        .ok()?;
    Some(Value::Timestamp(parsed))
}

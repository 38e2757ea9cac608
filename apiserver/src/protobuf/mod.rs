//! Decoding `application/vnd.kubernetes.protobuf` request bodies (what kubectl's typed
//! commands send) into the Kubernetes JSON form the server works on.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope whose `raw` field is
//! the object's protobuf message. Messages are read by a small wire decoder ([`wire`]) guided
//! by a schema generated from k8s-pb and k8s-openapi (`schema.json`, see
//! hack/gen-protobuf-schema.py), so no per-type code is needed.
//!
//! The result is what the same client would have sent as JSON: Kubernetes' special types take
//! their JSON forms (Time, Quantity, IntOrString, RawExtension, ...), embedded Go structs are
//! inlined, and the zero values Go writes to protobuf for non-pointer fields but leaves out of
//! JSON (`omitempty`) are dropped.

mod decode;
pub(crate) mod schema;
mod wire;

#[cfg(test)]
mod tests;

use serde_json::Value;

use self::schema::Schema;
use self::wire::{Reader, Wire};

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Every Kubernetes protobuf body starts with these four bytes.
pub const MAGIC: &[u8] = b"k8s\x00";

/// Decode a `application/vnd.kubernetes.protobuf` request body into the object's JSON.
/// `rust_type` is `std::any::type_name::<T>()` of the k8s-openapi type the resource uses,
/// e.g. "k8s_openapi::api::core::v1::ConfigMap". Sets "apiVersion" and "kind" from the
/// envelope's TypeMeta when it carries them.
pub fn decode_object(rust_type: &str, body: &[u8]) -> Result<Value, String> {
    let Some(inner) = body.strip_prefix(MAGIC) else {
        return Err(
            "the body does not appear to be a protobuf message: it lacks the \"k8s\\x00\" prefix"
                .into(),
        );
    };
    if inner.is_empty() {
        return Err("empty protobuf body".into());
    }
    let schema = Schema::get()?;
    let idx = message_for_rust_type(schema, rust_type)
        .ok_or_else(|| format!("no protobuf schema for {rust_type}"))?;
    let env = Envelope::parse(inner).map_err(|e| format!("invalid protobuf envelope: {e}"))?;
    let mut v = decode::Decoder { schema }
        .message(idx, env.raw, 0)
        .map_err(|e| {
            format!(
                "invalid protobuf {}: {e}",
                if env.kind.is_empty() {
                    rust_type
                } else {
                    &env.kind
                }
            )
        })?;
    if !v.is_object() {
        return Err(format!("{rust_type} does not decode to a JSON object"));
    }
    env.set_type(&mut v);
    Ok(v)
}

/// The schema message of a k8s-openapi type name. `type_name` reports the defining path,
/// which may include the API version module and the type's file module
/// ("k8s_openapi::v1_33::api::core::v1::config_map::ConfigMap"), or the public re-export.
pub(crate) fn message_for_rust_type(schema: &Schema, rust_type: &str) -> Option<usize> {
    let path = rust_type.trim().strip_prefix("k8s_openapi::")?;
    let mut parts: Vec<&str> = path.split("::").collect();
    if parts
        .first()
        .is_some_and(|p| p.starts_with("v1_") && p[3..].bytes().all(|b| b.is_ascii_digit()))
    {
        parts.remove(0);
    }
    let key = |parts: &[&str]| parts.join("::").to_ascii_lowercase();
    if let Some(i) = schema.message(&key(&parts)) {
        return Some(i);
    }
    // Drop the file module ("config_map") in front of the type name.
    if parts.len() >= 3 {
        let name = parts.remove(parts.len() - 1);
        parts.pop();
        parts.push(name);
        return schema.message(&key(&parts));
    }
    None
}

/// `runtime.Unknown { TypeMeta typeMeta = 1; bytes raw = 2; string contentEncoding = 3;
/// string contentType = 4 }` with `TypeMeta { string apiVersion = 1; string kind = 2 }`.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, String> {
        let mut env = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
        };
        let mut r = Reader::new(buf);
        while let Some((tag, w)) = r.field()? {
            // contentEncoding and contentType are ignored, as upstream's decoder does.
            match (tag, w) {
                (1, Wire::Bytes(tm)) => {
                    let mut r = Reader::new(tm);
                    while let Some((tag, w)) = r.field().map_err(|e| format!("typeMeta: {e}"))? {
                        match (tag, w) {
                            (1, Wire::Bytes(b)) => {
                                env.api_version = String::from_utf8_lossy(b).into_owned()
                            }
                            (2, Wire::Bytes(b)) => {
                                env.kind = String::from_utf8_lossy(b).into_owned()
                            }
                            (1 | 2, w) => {
                                return Err(format!(
                                    "typeMeta field {tag}: unexpected {} value",
                                    w.type_name()
                                ))
                            }
                            _ => {}
                        }
                    }
                }
                (2, Wire::Bytes(b)) => env.raw = b,
                (3 | 4, Wire::Bytes(_)) => {}
                (1..=4, w) => {
                    return Err(format!("field {tag}: unexpected {} value", w.type_name()))
                }
                _ => {}
            }
        }
        Ok(env)
    }

    fn set_type(&self, v: &mut Value) {
        if let Value::Object(m) = v {
            if !self.api_version.is_empty() {
                m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
            }
            if !self.kind.is_empty() {
                m.insert("kind".into(), Value::String(self.kind.clone()));
            }
        }
    }
}

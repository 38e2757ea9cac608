//! Typed decoding of objects through the generated k8s-openapi types.
//!
//! Objects travel as JSON values, but every write passes once through the resource's Rust
//! type: a wrongly typed field is a 400 (as Go's decoder makes it upstream), and fields the
//! type does not know are found by comparing the input with its typed round trip, then
//! dropped (or rejected under `fieldValidation=Strict`).

use std::marker::PhantomData;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

pub trait ObjectSchema: Send + Sync {
    /// Decode `obj` through the typed representation. Returns the normalized object and the
    /// JSON paths (`.spec.foo`) of fields the type does not know.
    fn normalize(&self, obj: &Value) -> Result<(Value, Vec<String>), String>;
}

pub struct Typed<T>(PhantomData<fn() -> T>);

impl<T> Typed<T> {
    pub fn new() -> Self {
        Typed(PhantomData)
    }
}

impl<T> Default for Typed<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ObjectSchema for Typed<T>
where
    T: Serialize + DeserializeOwned,
{
    fn normalize(&self, obj: &Value) -> Result<(Value, Vec<String>), String> {
        let typed: T = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
        let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
        let mut unknown = Vec::new();
        collect_unknown(obj, &back, &mut String::new(), &mut unknown);
        Ok((back, unknown))
    }
}

/// Any JSON object: for resources without a typed schema.
pub struct Untyped;

impl ObjectSchema for Untyped {
    fn normalize(&self, obj: &Value) -> Result<(Value, Vec<String>), String> {
        Ok((obj.clone(), Vec::new()))
    }
}

/// Keys present (non-null) in `input` but absent from the typed round trip `typed`.
fn collect_unknown(input: &Value, typed: &Value, path: &mut String, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match b.get(k) {
                    Some(tv) => collect_unknown(v, tv, path, out),
                    None if !v.is_null() => out.push(path.clone()),
                    None => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, tv)) in a.iter().zip(b.iter()).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                collect_unknown(v, tv, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    #[test]
    fn finds_unknown_fields_and_drops_them() {
        let s = Typed::<ConfigMap>::new();
        let (v, unknown) = s
            .normalize(&json!({"apiVersion":"v1","kind":"ConfigMap",
                "metadata":{"name":"a","bogus":1},"data":{"k":"v"},"extra":{"x":1},"nil":null}))
            .unwrap();
        assert_eq!(unknown, vec![".extra", ".metadata.bogus"]);
        assert!(v.get("extra").is_none());
        assert_eq!(v["data"]["k"], "v");
    }

    #[test]
    fn wrong_types_are_errors() {
        let s = Typed::<ConfigMap>::new();
        assert!(s
            .normalize(&json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":1}}))
            .is_err());
    }
}

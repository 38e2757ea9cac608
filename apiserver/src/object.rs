//! Small operations on objects as JSON: the metadata the server owns.

use serde_json::{json, Map, Value};

pub fn set_resource_version(obj: &mut Value, rv: u64) {
    if let Some(meta) = meta_mut(obj) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

pub fn clear_resource_version(obj: &mut Value) {
    if let Some(meta) = meta_mut(obj) {
        meta.remove("resourceVersion");
    }
}

/// The object's `metadata`, created if missing. `None` if the object is not a JSON object.
pub fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let o = obj.as_object_mut()?;
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    m.as_object_mut()
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

/// The object's resourceVersion as a number; `None` when absent or empty.
pub fn resource_version(obj: &Value) -> Result<Option<u64>, String> {
    match obj["metadata"]["resourceVersion"].as_str() {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("invalid resourceVersion {s:?}")),
    }
}

/// Timestamps as upstream writes them: RFC 3339, UTC, whole seconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Random suffix for `generateName`, from upstream's alphabet (no vowels, no confusables).
pub fn generate_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let id = uuid::Uuid::new_v4();
    id.as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The object without the fields a status-subresource split separates: for comparing specs.
pub fn without_status_and_meta(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        o.remove("metadata");
    }
    v
}

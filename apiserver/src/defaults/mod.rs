//! Defaulting of built-in types, as kube-apiserver v1.33 does it on every create and update:
//! the `SetDefaults_*` functions of `pkg/apis/<group>/<version>/defaults.go` walked over
//! nested types the way the generated `SetObjectDefaults_*` do, plus the few create-time
//! fields upstream's registry strategies compute (pod status, job selector) and service
//! IP / node port allocation ([`ipalloc`]).
//!
//! Objects are JSON in the served version. Go's "zero value means unset" becomes "missing,
//! null or empty" for strings and "missing or null" for pointers; nothing here fails on a
//! wrongly shaped object (decoding has type-checked it; what is not an object is skipped).

pub mod apps;
pub mod batch;
pub mod core;
pub mod ipalloc;
pub mod other;

use serde_json::{Map, Value};

use crate::resource::ResourceInfo;

/// Fill the defaults of a decoded object (create and update alike).
pub fn apply(info: &ResourceInfo, obj: &mut Value) {
    // Custom resources are defaulted from their schema while decoding.
    if !obj.is_object() || info.custom.is_some() {
        return;
    }
    if crate::crd::registrar::is_crd(info) {
        crate::crd::registrar::default_definition(obj);
        return;
    }
    match (info.group.as_str(), info.kind.as_str()) {
        ("", kind) => core::apply(kind, obj),
        ("apps", kind) => apps::apply(kind, obj),
        ("batch", kind) => batch::apply(kind, obj),
        (group, kind) => other::apply(group, &info.version, kind, obj),
    }
}

/// Server-set fields of a new object that are not defaults (upstream computes them in the
/// strategies' PrepareForCreate / Validate): called once uid and name are set.
pub fn on_create(info: &ResourceInfo, obj: &mut Value) {
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Pod") => core::pod_status_on_create(obj),
        ("batch", "Job") => batch::generate_selector(obj),
        _ => {}
    }
}

/// Values an update keeps from the stored object when the request leaves them out
/// (upstream's service `patchAllocatedValues`).
pub fn on_update(info: &ResourceInfo, old: &Value, new: &mut Value) {
    if info.group.is_empty() && info.kind == "Service" {
        ipalloc::patch_allocated_values(old, new);
    }
    if crate::crd::registrar::is_crd(info) {
        crate::crd::definition::record_storage_version(new);
    }
}

// --- small helpers shared by the families -------------------------------------------

/// `obj[key]`, if `obj` is an object.
pub(crate) fn field<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    obj.as_object_mut()?.get_mut(key)
}

/// `obj[key]` as an object, created (replacing null) when missing; `None` if `obj` is not
/// an object or `obj[key]` is something else.
pub(crate) fn object_at<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let o = obj.as_object_mut()?;
    let v = o.entry(key).or_insert(Value::Null);
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

/// Each element of the array `obj[key]`, if there is one.
pub(crate) fn each<'a>(obj: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    field(obj, key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// Go string field: set when missing, null or "".
pub(crate) fn default_str(obj: &mut Value, key: &str, value: &str) {
    if let Some(o) = obj.as_object_mut() {
        let unset = o
            .get(key)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""));
        if unset {
            o.insert(key.into(), Value::String(value.into()));
        }
    }
}

/// Go pointer field: set when missing or null.
pub(crate) fn default_value(obj: &mut Value, key: &str, value: Value) {
    if let Some(o) = obj.as_object_mut() {
        if o.get(key).is_none_or(Value::is_null) {
            o.insert(key.into(), value);
        }
    }
}

/// Go int field (not a pointer): set when missing, null or 0.
pub(crate) fn default_int(obj: &mut Value, key: &str, value: i64) {
    if let Some(o) = obj.as_object_mut() {
        if o.get(key)
            .is_none_or(|v| v.is_null() || v.as_i64() == Some(0))
        {
            o.insert(key.into(), Value::from(value));
        }
    }
}

/// Whether a string field is missing or empty.
pub(crate) fn str_unset(obj: &Value, key: &str) -> bool {
    obj.get(key)
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
}

/// `obj[key]` as a value, created as `{}` when missing or null (a Go struct or a pointer
/// the defaulter allocates).
pub(crate) fn child<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    object_at(obj, key)?;
    field(obj, key)
}

/// `obj.spec`, created when missing (a struct, not a pointer, in every Go type here).
pub(crate) fn spec(obj: &mut Value) -> Option<&mut Value> {
    child(obj, "spec")
}

/// The pod template at `spec.template`, defaulted when present.
pub(crate) fn spec_template(obj: &mut Value) {
    if let Some(t) = spec(obj).and_then(|s| field(s, "template")) {
        if t.is_object() {
            core::pod_template(t);
        }
    }
}

#[cfg(test)]
mod tests;

//! Strategic merge patch (`application/strategic-merge-patch+json`), as upstream's
//! `strategicpatch.StrategicMergePatch` applies it on the server: JSON merge patch, except
//! that lists whose Go field is tagged `patchStrategy:"merge"` merge element by element
//! (objects by their `patchMergeKey`, scalars by value) and the patch may carry directives
//! (`$patch`, `$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`).
//!
//! The field metadata comes from the generated protobuf schema, which records k8s.io/api's
//! markers for every built-in type; custom resources have none, and upstream answers 415 for
//! them ([`supports_strategic`]).

mod meta;
mod strategic;

#[cfg(test)]
mod tests;

use serde_json::Value;

use self::meta::SchemaMeta;
use self::strategic::Merger;

/// The media type of strategic merge patches.
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";

/// Why a strategic merge patch was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch is malformed (not an object, bad directive): 400 Bad Request.
    #[error("{0}")]
    BadRequest(String),
    /// The patch cannot be applied to this object (missing merge key, lists of lists, ...):
    /// 422 Unprocessable Entity. Upstream answers some of these with a 500; they are the
    /// client's doing, so k8rs keeps them client errors.
    #[error("{0}")]
    Invalid(String),
    /// The type has no strategic merge patch metadata (custom resources): 415.
    #[error("{0}")]
    Unsupported(String),
}

impl PatchError {
    /// The HTTP status code upstream would answer with.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Invalid(_) => 422,
            PatchError::Unsupported(_) => 415,
        }
    }
}

/// Whether strategic merge patch applies to the k8s-openapi type `rust_type` (built-in types;
/// custom resources get 415 upstream).
pub fn supports_strategic(rust_type: &str) -> bool {
    SchemaMeta::get().is_some_and(|m| m.root(rust_type).is_some())
}

/// Apply a strategic merge patch to `original` (the current object as JSON) for the built-in
/// type `rust_type` (`std::any::type_name` of its k8s-openapi type, e.g.
/// "k8s_openapi::api::apps::v1::Deployment" — the key scheme `protobuf::decode_object` uses).
/// Returns the patched object; directives never reach it.
pub fn apply_strategic(
    rust_type: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        // Upstream decodes the patch into a map[string]interface{} first.
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(patch)
        )));
    };
    let unsupported = || {
        PatchError::Unsupported(format!(
            "strategic merge patch is not supported for {rust_type}"
        ))
    };
    let meta = SchemaMeta::get().ok_or_else(unsupported)?;
    let root = meta.root(rust_type).ok_or_else(unsupported)?;
    let Value::Object(original) = original else {
        return Err(PatchError::Invalid(format!(
            "the object to patch is a JSON {}, not an object",
            json_kind(original)
        )));
    };
    let merger = Merger { meta: &meta };
    merger
        .merge_map(original.clone(), patch.clone(), root)
        .map(Value::Object)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

//! Server-side apply and managed fields: every write records which manager owns which
//! fields (`metadata.managedFields`), and `application/apply-patch+yaml` merges an applied
//! configuration by those ownerships, answering 409 with a cause per conflicting field
//! unless forced (upstream's structured-merge-diff and managedfields packages).

pub mod duplicate_fields;
pub mod fieldpath;
pub mod managed;
pub mod typed;

use serde_json::Value;

use crate::resource::ResourceInfo;
use crate::status::{ApiError, ApiResult, Cause};
use crate::strategy::Part;

use self::managed::{ApplyError, Writer};
use self::typed::Types;

/// The media type of server-side apply patches.
pub const APPLY_PATCH_YAML: &str = "application/apply-patch+yaml";
const APPLY_PATCH_CBOR: &str = "application/apply-patch+cbor";

/// Upstream's limit on a field manager's name.
const MAX_MANAGER_LEN: usize = 128;

/// Who is writing: the `fieldManager` parameter, else the User-Agent's product (what comes
/// before the first `/`), as upstream. Fixed-size so write options stay `Copy`.
#[derive(Clone, Copy)]
pub struct FieldManager {
    len: u8,
    buf: [u8; MAX_MANAGER_LEN],
    /// Whether the client named itself (required for apply).
    explicit: bool,
}

impl std::fmt::Debug for FieldManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl FieldManager {
    fn from_str_truncated(s: &str, explicit: bool) -> FieldManager {
        let mut end = s.len().min(MAX_MANAGER_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0; MAX_MANAGER_LEN];
        buf[..end].copy_from_slice(&s.as_bytes()[..end]);
        FieldManager {
            len: end as u8,
            buf,
            explicit,
        }
    }

    /// The server's own writes (bootstrap objects, the `kubernetes` Service).
    pub fn internal() -> FieldManager {
        FieldManager::from_str_truncated("kube-apiserver", true)
    }

    /// From the request's `fieldManager` parameter and User-Agent header.
    pub fn from_request(param: Option<&str>, user_agent: Option<&str>) -> ApiResult<FieldManager> {
        match param.filter(|p| !p.is_empty()) {
            Some(p) => {
                let invalid =
                    |c: Cause| ApiError::invalid("PatchOptions", "meta.k8s.io", "", vec![c]);
                if p.len() > MAX_MANAGER_LEN {
                    return Err(invalid(Cause {
                        reason: "FieldValueTooLong".into(),
                        message: format!("Too long: may not be more than {MAX_MANAGER_LEN} bytes"),
                        field: "fieldManager".into(),
                    }));
                }
                if p.chars().any(|c| c.is_control()) {
                    return Err(invalid(Cause::invalid(
                        "fieldManager",
                        p,
                        "must only contain printable characters",
                    )));
                }
                Ok(FieldManager::from_str_truncated(p, true))
            }
            None => {
                let ua = user_agent.unwrap_or_default();
                let product = ua.split('/').next().unwrap_or_default();
                Ok(FieldManager::from_str_truncated(product, false))
            }
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }
}

/// Whether a PATCH's Content-Type is a server-side apply.
pub fn is_apply_patch(content_type: &str) -> bool {
    matches!(mime(content_type), APPLY_PATCH_YAML | APPLY_PATCH_CBOR)
}

fn mime(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// Decode an apply patch body (YAML, of which JSON is a subset). CBOR is not served.
pub fn parse_config(content_type: &str, raw: &[u8]) -> ApiResult<Value> {
    if mime(content_type) == APPLY_PATCH_CBOR {
        return Err(ApiError::unsupported_media_type(APPLY_PATCH_CBOR));
    }
    let v: Value = serde_yaml::from_slice(raw)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the apply patch must be an object",
        ));
    }
    Ok(v)
}

/// Which subresource a write of `part` is recorded under; `None`: not recorded (the
/// server's own whole-object changes such as a pod's binding).
fn subresource(part: Part) -> Option<&'static str> {
    match part {
        Part::Main => Some(""),
        Part::Status => Some("status"),
        Part::Finalize => Some("finalize"),
        Part::Approval => Some("approval"),
        Part::EphemeralContainers => Some("ephemeralcontainers"),
        Part::Internal => None,
    }
}

/// Record an Update by `manager` in `new`'s managedFields; `live` is the stored object
/// (`None` on create).
pub fn record_update(
    info: &ResourceInfo,
    live: Option<&Value>,
    new: &mut Value,
    manager: &FieldManager,
    part: Part,
) {
    let Some(sub) = subresource(part) else { return };
    let types = Types::get();
    let ty = types.root(info.rust_type);
    let api_version = info.api_version();
    let now = crate::object::now_rfc3339();
    let empty = Value::Object(Default::default());
    let w = Writer {
        manager: manager.as_str(),
        api_version: &api_version,
        subresource: sub,
        now: &now,
        // Status is the status endpoint's: fields the main endpoint's strategy carries
        // over from the stored object, or resets on create, are not the writer's.
        ignore_status: info.status_subresource && part == Part::Main,
    };
    managed::record_update(&types, ty, live.unwrap_or(&empty), new, w);
}

/// Apply `config` for `manager` to `live` (`None`: the object does not exist yet).
pub fn apply(
    info: &ResourceInfo,
    live: Option<&Value>,
    config: &Value,
    manager: &FieldManager,
    part: Part,
    force: bool,
) -> ApiResult<Value> {
    let api_version = info.api_version();
    if let Some(v) = config.get("apiVersion").and_then(Value::as_str) {
        if v != api_version {
            return Err(ApiError::bad_request(format!(
                "Incorrect version specified in apply patch. Specified patch version: {v}, expected: {api_version}"
            )));
        }
    }
    if config["metadata"]
        .get("managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let types = Types::get();
    let ty = types.root(info.rust_type);
    let now = crate::object::now_rfc3339();
    let empty = Value::Object(Default::default());
    let w = Writer {
        manager: manager.as_str(),
        api_version: &api_version,
        subresource: subresource(part).unwrap_or_default(),
        now: &now,
        ignore_status: false,
    };
    let live = live.unwrap_or(&empty);
    let mut result = managed::apply(&types, ty, live, config, w, force);
    // kubectl's server-side apply takes over from its client-side apply without conflicts
    // on fields the last-applied configuration still describes.
    if let (Err(ApplyError::Conflicts(conflicts)), KUBECTL) = (&result, w.manager) {
        if let Some(allowed) = managed::allowed_from_last_applied(&types, ty, live) {
            let remaining: Vec<_> = conflicts
                .iter()
                .filter(|c| !allowed.has(&c.path))
                .cloned()
                .collect();
            result = if remaining.is_empty() {
                managed::apply(&types, ty, live, config, w, true)
            } else {
                Err(ApplyError::Conflicts(remaining))
            };
        }
    }
    let mut merged = result.map_err(|e| match e {
        ApplyError::Invalid(m) => ApiError::new(422, "Invalid", m),
        ApplyError::Conflicts(conflicts) => {
            let mut err = ApiError::new(409, "Conflict", ApplyError::conflict_message(&conflicts));
            err.causes = conflicts
                .iter()
                .map(|c| Cause {
                    reason: "FieldManagerConflict".into(),
                    message: format!("conflict with {}", c.manager),
                    field: fieldpath::path_string(&c.path),
                })
                .collect();
            err
        }
    })?;
    // ... and keeps the last-applied annotation, where there is one, in step with what it
    // applies, so a later client-side apply still computes the right patch.
    if w.manager == KUBECTL {
        sync_last_applied(&mut merged, config);
    }
    Ok(merged)
}

/// The field manager of `kubectl apply --server-side`.
const KUBECTL: &str = "kubectl";

fn sync_last_applied(obj: &mut Value, config: &Value) {
    let Some(annotations) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if !annotations.contains_key(managed::LAST_APPLIED) {
        return;
    }
    let mut applied = config.clone();
    if let Some(a) = applied
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        a.remove(managed::LAST_APPLIED);
    }
    // Go encodes it with sorted keys and a trailing newline.
    let text = format!("{}\n", sorted(&applied));
    annotations.insert(managed::LAST_APPLIED.into(), Value::String(text));
}

/// `v` with object keys sorted, whatever serde_json's map order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The apply-only parameters: `fieldManager` is required, `force` allowed only here.
pub fn check_patch_options(apply: bool, manager: &FieldManager, force: bool) -> ApiResult<()> {
    let invalid = |c: Cause| ApiError::invalid("PatchOptions", "meta.k8s.io", "", vec![c]);
    if apply && !manager.explicit {
        return Err(invalid(Cause::required(
            "fieldManager",
            "is required for apply patch",
        )));
    }
    if !apply && force {
        return Err(invalid(Cause::forbidden(
            "force",
            "may not be specified for non-apply patch",
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_of_a_builtin_records_its_manager() {
        let resources = crate::builtin::resources();
        let info = resources
            .iter()
            .find(|r| r.kind == "ConfigMap" && r.group.is_empty())
            .expect("configmaps");
        let mut obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default"}, "data": {"k": "v"}});
        let m = FieldManager::from_request(None, Some("my-tool/1.0")).unwrap();
        record_update(info, None, &mut obj, &m, Part::Main);
        assert_eq!(obj["metadata"]["managedFields"][0]["manager"], "my-tool");
        assert_eq!(
            obj["metadata"]["managedFields"][0]["fieldsV1"],
            serde_json::json!({"f:data": {".": {}, "f:k": {}}})
        );
    }
}

//! API errors as upstream `Status` objects (metav1.Status) with the same codes, reasons and
//! messages as k8s.io/apimachinery/pkg/api/errors.

use k8rs_storage::StorageError;
use serde_json::{json, Value};

/// One field cause of an Invalid (422) error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl Cause {
    pub fn required(field: &str, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Cause {
            reason: "FieldValueRequired".into(),
            message,
            field: field.into(),
        }
    }

    pub fn invalid(field: &str, value: &str, detail: &str) -> Self {
        Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: \"{value}\": {detail}"),
            field: field.into(),
        }
    }

    /// An invalid value printed as upstream prints it: strings quoted, numbers and
    /// booleans bare.
    pub fn invalid_value(field: &str, value: &serde_json::Value, detail: &str) -> Self {
        let shown = match value {
            serde_json::Value::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {shown}: {detail}"),
            field: field.into(),
        }
    }

    pub fn forbidden(field: &str, detail: &str) -> Self {
        Cause {
            reason: "FieldValueForbidden".into(),
            message: format!("Forbidden: {detail}"),
            field: field.into(),
        }
    }
}

/// An error answered as a `Status` object. Boxed: errors travel through every `Result`
/// of the request path, which should stay small.
#[derive(Clone, Debug)]
pub struct ApiError(Box<ErrorInfo>);

impl std::ops::Deref for ApiError {
    type Target = ErrorInfo;
    fn deref(&self) -> &ErrorInfo {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorInfo {
        &mut self.0
    }
}

#[derive(Clone, Debug)]
pub struct ErrorInfo {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details`: name, group, kind (the resource, as upstream puts it), causes.
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Which resource an error is about: (group, plural).
pub struct Qualified<'a> {
    pub group: &'a str,
    pub plural: &'a str,
}

impl Qualified<'_> {
    fn name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorInfo {
            code,
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after: None,
        }))
    }

    fn about(mut self, res: &Qualified<'_>, name: &str) -> Self {
        self.name = Some(name.to_string());
        self.group = (!res.group.is_empty()).then(|| res.group.to_string());
        self.kind = Some(res.plural.to_string());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn not_found(res: &Qualified<'_>, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", res.name()),
        )
        .about(res, name)
    }

    /// The URL names no resource this server has.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn method_not_allowed(verb: &str, res: &Qualified<'_>) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "{verb} is not supported on resources of kind \"{}\"",
                res.name()
            ),
        )
    }

    pub fn already_exists(res: &Qualified<'_>, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", res.name()),
        )
        .about(res, name)
    }

    pub fn conflict(res: &Qualified<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                res.name()
            ),
        )
        .about(res, name)
    }

    pub fn modified(res: &Qualified<'_>, name: &str) -> Self {
        Self::conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let list = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect::<Vec<_>>();
        let list = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {list}"),
        );
        e.name = Some(name.to_string());
        e.group = (!group.is_empty()).then(|| group.to_string());
        e.kind = Some(kind.to_string());
        e.causes = causes;
        e
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"),
        )
    }

    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: application/json, application/yaml (got {accept})"),
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// Upstream's `NewForbidden`: a request refused for a reason about this object.
    pub fn forbidden_for(res: &Qualified<'_>, name: &str, why: &str) -> Self {
        let message = if name.is_empty() {
            format!("{} is forbidden: {why}", res.name())
        } else {
            format!("{} \"{name}\" is forbidden: {why}", res.name())
        };
        Self::new(403, "Forbidden", message).about(res, name)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        let mut e = Self::new(504, "Timeout", message);
        e.retry_after = Some(1);
        e
    }

    /// Map a storage error about object `name` of `res`.
    pub fn from_storage(e: StorageError, res: &Qualified<'_>, name: &str) -> Self {
        match e {
            StorageError::AlreadyExists(_) => Self::already_exists(res, name),
            StorageError::NotFound(_) => Self::not_found(res, name),
            StorageError::Conflict { .. } => Self::modified(res, name),
            StorageError::Gone { requested, .. } => Self::gone(format!(
                "The resourceVersion for the provided list is too old. (requested {requested})"
            )),
            StorageError::FutureRevision { .. } => Self::timeout("Too large resource version"),
            StorageError::Internal(m) => Self::internal(m),
        }
    }

    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.causes.is_empty() {
            details.insert(
                "causes".into(),
                Value::Array(
                    self.causes
                        .iter()
                        .map(|c| {
                            let mut cause = json!({"reason": c.reason, "message": c.message});
                            // `field` is omitted when empty, as upstream's omitempty.
                            if !c.field.is_empty() {
                                cause["field"] = json!(c.field);
                            }
                            cause
                        })
                        .collect(),
                ),
            );
        }
        if let Some(s) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(s));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// `Status` answered by a delete that removed the object at once.
pub fn success_status(name: &str, group: &str, plural: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": plural, "uid": uid});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_causes_like_upstream() {
        let e = ApiError::invalid(
            "ConfigMap",
            "",
            "Bad_Name",
            vec![Cause::invalid("metadata.name", "Bad_Name", "bad")],
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(
            s["message"],
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": bad"
        );
        assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
    }

    #[test]
    fn conflict_message() {
        let q = Qualified {
            group: "apps",
            plural: "deployments",
        };
        let s = ApiError::modified(&q, "web").to_status();
        assert_eq!(s["reason"], "Conflict");
        assert!(s["message"]
            .as_str()
            .unwrap()
            .starts_with("Operation cannot be fulfilled on deployments.apps \"web\""));
        assert_eq!(s["details"]["group"], "apps");
    }
}

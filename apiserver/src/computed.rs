//! Resources answered by computation rather than storage: the authentication and
//! authorization reviews (create-only) and component statuses (read-only). Their answers
//! describe this server as it is: x509 client certificates and service-account tokens
//! authenticate, and every authenticated user is authorized.

use k8rs_storage::Storage;
use serde_json::{json, Value};

use crate::handler::{Api, User};
use crate::resource::{ResourceInfo, Virtual};
use crate::status::{ApiError, ApiResult};

/// Why every request is allowed, reported in access reviews.
const AUTHORIZER_REASON: &str =
    "k8rs authorizes every authenticated user (RBAC is not enforced yet)";

fn user_info(user: &User) -> Value {
    let mut v = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        v["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        v["extra"] = json!(user.extra);
    }
    v
}

/// Answer a `create` of a review: the request object with its `status` filled in.
pub async fn create(
    api: &Api,
    kind: Virtual,
    info: &ResourceInfo,
    user: &User,
    ns: Option<&str>,
    mut body: Value,
) -> ApiResult<Value> {
    let (normalized, _) = info
        .schema
        .normalize(&with_type(&body, info))
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))?;
    body = normalized;
    let status = match kind {
        Virtual::SelfSubjectReview => json!({"userInfo": user_info(user)}),
        Virtual::TokenReview => {
            if body["spec"]["token"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
            {
                return Err(ApiError::invalid(
                    &info.kind,
                    &info.group,
                    "",
                    vec![crate::status::Cause::required("spec.token", "")],
                ));
            }
            let token = body["spec"]["token"].as_str().unwrap_or_default();
            let wanted: Option<Vec<String>> = body["spec"]["audiences"]
                .as_array()
                .filter(|a| !a.is_empty())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                });
            match api.authenticate_token(token, wanted.as_deref()).await {
                Ok((who, audiences)) => json!({
                    "authenticated": true,
                    "user": user_info(&who),
                    "audiences": audiences,
                }),
                Err(why) => json!({"user": {}, "error": why}),
            }
        }
        Virtual::SelfSubjectAccessReview
        | Virtual::SubjectAccessReview
        | Virtual::LocalSubjectAccessReview => {
            let spec = &body["spec"];
            if spec["resourceAttributes"].is_null() == spec["nonResourceAttributes"].is_null() {
                return Err(ApiError::invalid(
                    &info.kind,
                    &info.group,
                    "",
                    vec![crate::status::Cause::invalid(
                    "spec.resourceAttributes",
                    "",
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )],
                ));
            }
            if kind == Virtual::LocalSubjectAccessReview
                && spec["resourceAttributes"]["namespace"].as_str() != ns
            {
                return Err(ApiError::bad_request(
                    "spec.resourceAttributes.namespace must match the namespace of the request",
                ));
            }
            json!({"allowed": true, "reason": AUTHORIZER_REASON})
        }
        Virtual::SelfSubjectRulesReview => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        Virtual::ComponentStatus => {
            return Err(ApiError::method_not_allowed(
                "create",
                &crate::status::Qualified {
                    group: "",
                    plural: "componentstatuses",
                },
            ))
        }
    };
    body["status"] = status;
    Ok(body)
}

fn with_type(body: &Value, info: &ResourceInfo) -> Value {
    let mut b = body.clone();
    if b.get("kind").is_none() {
        b["kind"] = json!(info.kind);
    }
    if b.get("apiVersion").is_none() {
        b["apiVersion"] = json!(info.api_version());
    }
    b
}

/// Component statuses: the storage backend's health, measured now.
async fn component_statuses(store: &dyn Storage) -> Vec<Value> {
    let (status, message) = match store.current_revision().await {
        Ok(_) => ("True", "ok".to_string()),
        Err(e) => ("False", e.to_string()),
    };
    vec![json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": "etcd-0"},
        "conditions": [{"type": "Healthy", "status": status, "message": message}],
    })]
}

pub async fn get(store: &dyn Storage, name: &str) -> ApiResult<Value> {
    component_statuses(store)
        .await
        .into_iter()
        .find(|c| c["metadata"]["name"] == name)
        .ok_or_else(|| {
            ApiError::not_found(
                &crate::status::Qualified {
                    group: "",
                    plural: "componentstatuses",
                },
                name,
            )
        })
}

pub async fn list(store: &dyn Storage) -> Value {
    json!({
        "kind": "ComponentStatusList",
        "apiVersion": "v1",
        "metadata": {},
        "items": component_statuses(store).await,
    })
}

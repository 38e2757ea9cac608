//! DefaultStorageClass: a claim that names no class gets the cluster's default one
//! (plugin/pkg/admission/storage/storageclass/setdefault).

use serde_json::{json, Value};

use crate::handler::Api;
use crate::status::ApiResult;

const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
/// The beta annotation upstream still honours.
const BETA_DEFAULT_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

pub async fn admit(api: &Api, claim: &mut Value) -> ApiResult<()> {
    // An explicit class, even "" (meaning "no class"), is the claim's own choice.
    if !claim["spec"].is_object() || !claim["spec"]["storageClassName"].is_null() {
        return Ok(());
    }
    let classes = super::list(api, ("storage.k8s.io", "v1", "storageclasses"), None).await?;
    if let Some(name) = pick_default(&classes) {
        claim["spec"]["storageClassName"] = json!(name);
    }
    Ok(())
}

/// The newest class annotated as default; ties go to the name that sorts first.
fn pick_default(classes: &[Value]) -> Option<String> {
    classes
        .iter()
        .filter(|c| {
            let a = &c["metadata"]["annotations"];
            a[DEFAULT_ANNOTATION] == "true" || a[BETA_DEFAULT_ANNOTATION] == "true"
        })
        .max_by(|a, b| {
            let created = |c: &Value| {
                c["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            let name = |c: &Value| {
                c["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            created(a)
                .cmp(&created(b))
                .then_with(|| name(b).cmp(&name(a)))
        })
        .and_then(|c| c["metadata"]["name"].as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: bool) -> Value {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}});
        if default {
            c["metadata"]["annotations"] = json!({DEFAULT_ANNOTATION: "true"});
        }
        c
    }

    #[test]
    fn newest_default_class_wins() {
        let classes = [
            class("old", "2024-01-01T00:00:00Z", true),
            class("new", "2025-01-01T00:00:00Z", true),
            class("plain", "2026-01-01T00:00:00Z", false),
        ];
        assert_eq!(pick_default(&classes).as_deref(), Some("new"));
        assert_eq!(pick_default(&classes[2..]), None);
    }
}

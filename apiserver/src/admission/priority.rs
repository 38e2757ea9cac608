//! Priority: a pod's `priority` and `preemptionPolicy` come from its PriorityClass (or the
//! global default class, or zero), never from the client (plugin/pkg/admission/priority).

use serde_json::{json, Value};

use crate::handler::Api;
use crate::status::ApiResult;

const CLASSES: (&str, &str, &str) = ("scheduling.k8s.io", "v1", "priorityclasses");

pub async fn admit(api: &Api, pod: &mut Value) -> ApiResult<()> {
    if !pod["spec"].is_object() {
        return Ok(());
    }
    let named = pod["spec"]["priorityClassName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let class = if named.is_empty() {
        default_class(api).await?
    } else {
        match super::get(api, CLASSES, None, &named).await? {
            Some(c) => Some(c),
            None => {
                return Err(super::forbidden(
                    "pods",
                    pod,
                    &format!("no PriorityClass with name {named} was found"),
                ))
            }
        }
    };
    let (value, policy) = match &class {
        Some(c) => (
            c["value"].as_i64().unwrap_or(0),
            c["preemptionPolicy"]
                .as_str()
                .unwrap_or("PreemptLowerPriority")
                .to_string(),
        ),
        None => (0, "PreemptLowerPriority".to_string()),
    };
    if let Some(given) = pod["spec"]["priority"].as_i64() {
        if given != value {
            return Err(super::forbidden(
                "pods",
                pod,
                &format!("the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"),
            ));
        }
    }
    if let Some(given) = pod["spec"]["preemptionPolicy"].as_str() {
        if given != policy {
            return Err(super::forbidden(
                "pods",
                pod,
                &format!("the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"),
            ));
        }
    }
    let spec = &mut pod["spec"];
    if named.is_empty() {
        if let Some(c) = &class {
            spec["priorityClassName"] = c["metadata"]["name"].clone();
        }
    }
    spec["priority"] = json!(value);
    spec["preemptionPolicy"] = json!(policy);
    Ok(())
}

/// The class marked `globalDefault`; with several, the lowest value (as upstream picks).
async fn default_class(api: &Api) -> ApiResult<Option<Value>> {
    let classes = super::list(api, CLASSES, None).await?;
    Ok(classes
        .into_iter()
        .filter(|c| c["globalDefault"] == true)
        .min_by_key(|c| c["value"].as_i64().unwrap_or(0)))
}

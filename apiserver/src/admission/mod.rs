//! Admission for creates, in upstream's default plugin order: LimitRanger, ServiceAccount,
//! Priority, DefaultTolerationSeconds, DefaultStorageClass, PodSecurity (validating, after the
//! mutating ones), then ResourceQuota. (NamespaceLifecycle runs before,
//! in the handler.) Each plugin is a small function over the decoded object; lookups go
//! through the registry, so they see exactly what clients see.

mod limit_ranger;
mod pod_security;
mod priority;
mod quota;
mod service_account;
mod storage_class;
mod tolerations;

use serde_json::Value;

use crate::handler::Api;
use crate::params::{ListParams, Rv};
use crate::resource::ResourceInfo;
use crate::status::{ApiError, ApiResult, Qualified};

/// Run the create-time plugins that apply to `info`'s kind over `obj`; the answer is the
/// warnings for the response's `Warning` headers.
pub async fn admit_create(
    api: &Api,
    info: &ResourceInfo,
    ns: Option<&str>,
    obj: &mut Value,
    dry_run: bool,
) -> ApiResult<Vec<String>> {
    let ns = ns.unwrap_or_default();
    if info.group.is_empty() {
        limit_ranger::admit(api, ns, &info.kind, obj).await?;
        match info.kind.as_str() {
            "Pod" => {
                service_account::admit(api, ns, obj).await?;
                priority::admit(api, obj).await?;
                tolerations::admit(obj);
            }
            "PersistentVolumeClaim" => storage_class::admit(api, obj).await?,
            "Namespace" => pod_security::validate_namespace(obj)?,
            _ => {}
        }
    }
    let warnings = if info.group.is_empty() && info.kind == "Pod" {
        pod_security::admit_pod(api, ns, obj).await?
    } else {
        pod_security::admit_template(api, ns, (&info.group, &info.kind), obj).await?
    };
    // Last, as upstream orders it: charge what the mutated object will consume.
    quota::admit(api, info, ns, obj, dry_run).await?;
    Ok(warnings)
}

#[async_trait::async_trait]
impl crate::rest::UpdateAdmission for Api {
    async fn admit_update(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        old: &Value,
        new: &Value,
        part: crate::strategy::Part,
        _dry_run: bool,
    ) -> ApiResult<Vec<String>> {
        admit_update(self, info, ns, old, new, part).await
    }
}

/// The update-time plugins: PodSecurity on pods (significant changes only), on pod
/// templates whose template changed, and on namespaces whose policy labels changed.
pub async fn admit_update(
    api: &Api,
    info: &ResourceInfo,
    ns: Option<&str>,
    old: &Value,
    new: &Value,
    part: crate::strategy::Part,
) -> ApiResult<Vec<String>> {
    use crate::strategy::Part;
    let ns = ns.unwrap_or_default();
    match (info.group.as_str(), info.kind.as_str(), part) {
        ("", "Pod", Part::Main | Part::EphemeralContainers) => {
            pod_security::admit_pod_update(api, ns, old, new).await
        }
        ("", "Namespace", Part::Main) => pod_security::admit_namespace_update(api, old, new).await,
        (group, kind, Part::Main) => {
            pod_security::admit_template_update(api, ns, (group, kind), old, new).await
        }
        _ => Ok(Vec::new()),
    }
}

/// A 403 about the object being admitted, as upstream's `admission.NewForbidden`.
fn forbidden(plural: &str, obj: &Value, why: &str) -> ApiError {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    ApiError::forbidden_for(&Qualified { group: "", plural }, name, why)
}

/// One object of a served resource, or `None` when absent.
pub(crate) async fn get(
    api: &Api,
    (group, version, plural): (&str, &str, &str),
    ns: Option<&str>,
    name: &str,
) -> ApiResult<Option<Value>> {
    let rest = api
        .rest(group, version, plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    match rest.get(ns, name).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every object of a resource in `ns` (all of them when `None`), from the watch cache.
pub(crate) async fn list(
    api: &Api,
    (group, version, plural): (&str, &str, &str),
    ns: Option<&str>,
) -> ApiResult<Vec<Value>> {
    let rest = api
        .rest(group, version, plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let page = rest
        .list(
            ns,
            &ListParams {
                resource_version: Rv::Any,
                ..Default::default()
            },
        )
        .await?;
    Ok(page.items.iter().map(|o| o.value()).collect())
}

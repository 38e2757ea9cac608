//! ResourceQuota: a create that would take a namespace past a quota's `hard` limits is
//! refused with 403, and an admitted one is charged to `status.used` before it is stored
//! (staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota). Charges are
//! compare-and-swap writes, so concurrent creates never both take the last unit.

use serde_json::{json, Value};

use crate::handler::Api;
use crate::params::{ListParams, Rv};
use crate::quota::{self, Usage};
use crate::resource::ResourceInfo;
use crate::rest::WriteOptions;
use crate::status::ApiResult;
use crate::strategy::Part;

const QUOTAS: (&str, &str, &str) = ("", "v1", "resourcequotas");
/// Charges lost to concurrent writers are retried this often before giving up.
const ATTEMPTS: usize = 8;

pub async fn admit(
    api: &Api,
    info: &ResourceInfo,
    ns: &str,
    obj: &Value,
    dry_run: bool,
) -> ApiResult<()> {
    if !info.namespaced || ns.is_empty() {
        return Ok(());
    }
    let Some(rest) = api.rest(QUOTAS.0, QUOTAS.1, QUOTAS.2) else {
        return Ok(());
    };
    let usage = quota::usage(&info.group, &info.plural, obj);
    let mut rv = Rv::Any;
    for _ in 0..ATTEMPTS {
        // The cache answers the common case (no quota here) cheaply; a lost race rereads
        // at the latest revision.
        let page = rest
            .list(
                Some(ns),
                &ListParams {
                    resource_version: rv,
                    ..Default::default()
                },
            )
            .await?;
        let mut quotas: Vec<Value> = page.items.iter().map(|o| o.value()).collect();
        if quotas.is_empty() {
            return Ok(());
        }
        quotas.sort_by(|a, b| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        });
        let mut charges = Vec::new();
        for q in &quotas {
            if let Some(charged) = charge(info, q, obj, &usage)? {
                charges.push(charged);
            }
        }
        if charges.is_empty() || dry_run {
            return Ok(());
        }
        let mut lost_race = false;
        for q in charges {
            let name = q["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match rest
                .update(Some(ns), &name, q, Part::Status, WriteOptions::internal())
                .await
            {
                Ok(_) => {}
                Err(e) if e.code == 409 => {
                    lost_race = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if !lost_race {
            return Ok(());
        }
        rv = Rv::Unset;
    }
    Err(crate::status::ApiError::new(
        409,
        "Conflict",
        "Operation cannot be fulfilled on resourcequotas: the object has been modified; please apply your changes to the latest version and try again",
    ))
}

/// The quota with `obj`'s usage added to `status.used`, `None` if the quota does not
/// concern it, or the 403 upstream gives when it would be exceeded.
fn charge(info: &ResourceInfo, q: &Value, obj: &Value, usage: &Usage) -> ApiResult<Option<Value>> {
    if !quota::scopes_match(q, &info.plural, obj) {
        return Ok(None);
    }
    let qname = q["metadata"]["name"].as_str().unwrap_or_default();
    let hard_json = &q["status"]["hard"];
    let hard = Usage::from_json(hard_json);
    let tracked: Vec<String> = hard_json
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .filter(|k| quota::tracks(&info.group, &info.plural, k))
        .collect();
    if tracked.is_empty() {
        return Ok(None);
    }
    let used_json = &q["status"]["used"];
    let unknown: Vec<&String> = tracked
        .iter()
        .filter(|k| used_json[k.as_str()].is_null())
        .collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        return Err(super::forbidden(
            &info.plural,
            obj,
            &format!(
                "status unknown for quota: {qname}, resources: {}",
                names.join(",")
            ),
        ));
    }
    let used = Usage::from_json(used_json);
    let requested = Usage(
        usage
            .masked(&tracked)
            .0
            .into_iter()
            .filter(|(_, (n, _))| *n != 0)
            .collect(),
    );
    if requested.0.is_empty() {
        return Ok(None);
    }
    let exceeded: Vec<String> = requested
        .0
        .iter()
        .filter(|(k, (n, _))| used.get(k) + n > hard.get(k))
        .map(|(k, _)| k.clone())
        .collect();
    if !exceeded.is_empty() {
        return Err(super::forbidden(
            &info.plural,
            obj,
            &format!(
                "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                requested.masked(&exceeded).pretty(),
                used.masked(&exceeded).pretty(),
                hard.masked(&exceeded).pretty()
            ),
        ));
    }
    let mut new_used = used;
    new_used.sum(&requested);
    let mut out = q.clone();
    let mut merged = used_json.clone();
    for (k, v) in new_used.to_json().as_object().into_iter().flatten() {
        if requested.0.contains_key(k) {
            merged[k] = v.clone();
        }
    }
    out["status"]["used"] = if merged.is_object() {
        merged
    } else {
        json!({})
    };
    Ok(Some(out))
}

//! `pods/eviction`: a delete that honours PodDisruptionBudgets (upstream
//! pkg/registry/core/pod/storage/eviction.go). A pod that already stopped counting (pending,
//! finished, or being deleted) goes at once; otherwise its one PDB must allow a disruption,
//! which is spent by a compare-and-swap on the PDB's status before the pod is deleted.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::deletion::DeleteOptions;
use crate::handler::Api;
use crate::params::{ListParams, Rv};
use crate::rest::{Rest, WriteOptions};
use crate::selector::LabelSelector;
use crate::status::{ApiError, ApiResult, Cause, Qualified};
use crate::strategy::Part;

/// Evictions approved but not yet seen by the disruption controller; beyond this the
/// budget refuses more (MaxDisruptedPodSize).
const MAX_DISRUPTED_PODS: usize = 2000;
/// Conflicts on the pod or the PDB are retried this often (EvictionsRetry's steps).
const ATTEMPTS: usize = 20;

fn too_many_requests(message: String, retry_after: u64) -> ApiError {
    let mut e = ApiError::new(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    );
    e.causes.push(Cause {
        reason: "DisruptionBudget".into(),
        message,
        field: String::new(),
    });
    e.retry_after = Some(retry_after);
    e
}

fn still_processing(pdb: &str) -> ApiError {
    too_many_requests(
        format!("The disruption budget {pdb} is still being processed by the server."),
        10,
    )
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or_default()
}

/// Pods whose eviction cannot disrupt anything more than they already are.
fn can_ignore_budget(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending")
        || !pod["metadata"]["deletionTimestamp"].is_null()
}

/// A budget's label selector; `None` (matches nothing) when empty or invalid.
fn budget_selector(pdb: &Value) -> Option<LabelSelector> {
    let sel = &pdb["spec"]["selector"];
    if sel.is_null() {
        return None;
    }
    LabelSelector::parse(&crate::scale::selector_string(sel))
        .ok()
        .filter(|s| !s.is_empty())
}

fn labels(o: &Value) -> BTreeMap<String, String> {
    o["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

impl Api {
    fn pdbs(&self) -> ApiResult<std::sync::Arc<Rest>> {
        self.rest("policy", "v1", "poddisruptionbudgets")
            .ok_or_else(|| ApiError::internal("poddisruptionbudgets are not served"))
    }

    /// `POST pods/<name>/eviction`: a success `Status`, or why not.
    pub async fn evict(
        &self,
        pods: &Rest,
        ns: &str,
        name: &str,
        body: Value,
        dry_run: bool,
    ) -> ApiResult<Value> {
        if body["metadata"]["name"].as_str() != Some(name) {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let mut opts = match &body["deleteOptions"] {
            Value::Null => DeleteOptions {
                dry_run,
                ..Default::default()
            },
            o => DeleteOptions::from_body(o, dry_run)?,
        };
        opts.validate()?;
        let caller_rv = opts.precondition_rv;

        // Pods that cannot count against a budget are simply deleted.
        let mut pod = Value::Null;
        for attempt in 0..ATTEMPTS {
            pod = pods.get(Some(ns), name).await?;
            if !can_ignore_budget(&pod) {
                break;
            }
            let mut o = opts.clone();
            // A pending pod might become ready meanwhile: delete only the version we saw.
            if phase(&pod) == "Pending"
                && pod["metadata"]["deletionTimestamp"].is_null()
                && caller_rv.is_none()
            {
                o.precondition_rv = resource_version(&pod);
            }
            match pods.delete(Some(ns), name, &o).await {
                Ok(_) => return Ok(success()),
                Err(e) if e.code == 409 && caller_rv.is_none() && attempt + 1 < ATTEMPTS => {
                    continue
                }
                Err(e) => return Err(e),
            }
        }

        let budgets = self.budgets_for(ns, &pod).await?;
        if budgets.len() > 1 {
            return Err(ApiError::new(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        let mut pinned = false;
        if let Some(pdb) = budgets.into_iter().next() {
            let status = &pdb["status"];
            let (current, desired) = (
                status["currentHealthy"].as_i64().unwrap_or(0),
                status["desiredHealthy"].as_i64().unwrap_or(0),
            );
            let unhealthy_always = pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow";
            if !is_ready(&pod) && (unhealthy_always || (current >= desired && desired > 0)) {
                // An unready pod is not counted healthy: evicting it spends nothing, but only
                // if it is still unready when deleted.
                pinned = true;
            } else {
                self.spend_disruption(ns, name, pdb, opts.dry_run).await?;
            }
        }
        if pinned && caller_rv.is_none() {
            opts.precondition_rv = resource_version(&pod);
        }
        match pods.delete(Some(ns), name, &opts).await {
            Ok(_) => Ok(success()),
            Err(e) if e.code == 409 && pinned && caller_rv.is_none() => {
                let pdb = self.budgets_for(ns, &pod).await?;
                let pdb_name = pdb
                    .first()
                    .and_then(|p| p["metadata"]["name"].as_str())
                    .unwrap_or_default()
                    .to_string();
                Err(still_processing(&pdb_name))
            }
            Err(e) => Err(e),
        }
    }

    async fn budgets_for(&self, ns: &str, pod: &Value) -> ApiResult<Vec<Value>> {
        let page = self
            .pdbs()?
            .list(
                Some(ns),
                &ListParams {
                    resource_version: Rv::Unset,
                    ..Default::default()
                },
            )
            .await?;
        let pod_labels = labels(pod);
        Ok(page
            .items
            .iter()
            .map(|o| o.value())
            .filter(|pdb| budget_selector(pdb).is_some_and(|s| s.matches(&pod_labels)))
            .collect())
    }

    /// Take one allowed disruption from `pdb` for pod `pod_name` (verify-and-decrement),
    /// rereading the budget after a lost race.
    async fn spend_disruption(
        &self,
        ns: &str,
        pod_name: &str,
        mut pdb: Value,
        dry_run: bool,
    ) -> ApiResult<()> {
        let rest = self.pdbs()?;
        let pdb_name = pdb["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for _ in 0..ATTEMPTS {
            let status = &pdb["status"];
            let observed = status["observedGeneration"].as_i64().unwrap_or(0);
            let generation = pdb["metadata"]["generation"].as_i64().unwrap_or(0);
            if observed < generation {
                return Err(still_processing(&pdb_name));
            }
            let allowed = status["disruptionsAllowed"].as_i64().unwrap_or(0);
            let q = Qualified {
                group: "policy",
                plural: "poddisruptionbudget",
            };
            if allowed < 0 {
                return Err(ApiError::forbidden_for(
                    &q,
                    &pdb_name,
                    "pdb disruptions allowed is negative",
                ));
            }
            if status["disruptedPods"]
                .as_object()
                .is_some_and(|m| m.len() > MAX_DISRUPTED_PODS)
            {
                return Err(ApiError::forbidden_for(
                    &q,
                    &pdb_name,
                    "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                ));
            }
            if allowed == 0 {
                return Err(too_many_requests(
                    format!(
                        "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                        status["desiredHealthy"].as_i64().unwrap_or(0),
                        status["currentHealthy"].as_i64().unwrap_or(0)
                    ),
                    0,
                ));
            }
            if dry_run {
                return Ok(());
            }
            let mut updated = pdb.clone();
            let st = &mut updated["status"];
            st["disruptionsAllowed"] = json!(allowed - 1);
            if allowed - 1 == 0 {
                set_insufficient(st);
            }
            if !st["disruptedPods"].is_object() {
                st["disruptedPods"] = json!({});
            }
            st["disruptedPods"][pod_name] =
                json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
            match rest
                .update(
                    Some(ns),
                    &pdb_name,
                    updated,
                    Part::Status,
                    WriteOptions::internal(),
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.code == 409 => {
                    pdb = rest.get(Some(ns), &pdb_name).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::new(
            504,
            "Timeout",
            format!("couldn't update PodDisruptionBudget \"{pdb_name}\" due to conflicts"),
        ))
    }
}

/// The DisruptionAllowed condition once the last allowed disruption is spent.
fn set_insufficient(status: &mut Value) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    conditions.retain(|c| c["type"] != "DisruptionAllowed");
    conditions.push(json!({
        "type": "DisruptionAllowed",
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "lastTransitionTime": now,
        "observedGeneration": status["observedGeneration"],
    }));
    status["conditions"] = json!(conditions);
}

fn resource_version(o: &Value) -> Option<u64> {
    o["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
}

fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_pods_skip_the_budget() {
        assert!(can_ignore_budget(&json!({"status": {"phase": "Pending"}})));
        assert!(can_ignore_budget(
            &json!({"status": {"phase": "Succeeded"}})
        ));
        assert!(can_ignore_budget(
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}})
        ));
        assert!(!can_ignore_budget(&json!({"status": {"phase": "Running"}})));
    }

    #[test]
    fn empty_or_missing_selectors_match_nothing() {
        assert!(budget_selector(&json!({"spec": {}})).is_none());
        assert!(budget_selector(&json!({"spec": {"selector": {}}})).is_none());
        let s =
            budget_selector(&json!({"spec": {"selector": {"matchLabels": {"app": "x"}}}})).unwrap();
        assert!(s.matches(&labels(&json!({"metadata": {"labels": {"app": "x"}}}))));
    }

    #[test]
    fn a_spent_budget_says_so() {
        let mut st = json!({"observedGeneration": 2, "conditions": [
            {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"}]});
        set_insufficient(&mut st);
        assert_eq!(st["conditions"].as_array().unwrap().len(), 1);
        assert_eq!(st["conditions"][0]["reason"], "InsufficientPods");
    }
}

//! The disruption controller (upstream pkg/controller/disruption): keeps each
//! PodDisruptionBudget's status — how many pods are expected, desired healthy, healthy now,
//! and so how many disruptions are allowed — which the eviction subresource spends.
//! Evictions it has not yet seen are held in `disruptedPods` and count as unhealthy until
//! their pod goes, or for two minutes at most.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::replicaset::{selector_query, selects};

/// How long an approved eviction is assumed to be in flight (DeletionTimeout).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

struct Ctx {
    client: Client,
}

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> anyhow::Result<()> {
    let budgets = Api::<PodDisruptionBudget>::all(client.clone());
    let controller = Controller::new(budgets, watcher::Config::default());
    let store = controller.store();
    // A pod wakes every budget in its namespace that selects it.
    let budgets_of = move |pod: Arc<Pod>| {
        let ns = pod.namespace();
        store
            .state()
            .into_iter()
            .filter(|b| b.namespace() == ns)
            .filter(|b| {
                b.spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .is_some_and(|s| selects(s, pod.labels()))
            })
            .map(|b| ObjectRef::from_obj(b.as_ref()))
            .collect::<Vec<_>>()
    };
    controller
        .watches_shared_stream(pods, budgets_of)
        .run(reconcile, error_policy, Arc::new(Ctx { client }))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("disruption controller: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_b: Arc<PodDisruptionBudget>, _e: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// An IntOrString against `total`: a count, or a percentage rounded up.
fn scaled(v: &IntOrString, total: i32) -> Option<i32> {
    crate::intstr::scaled(v, total, true)
}

async fn reconcile(pdb: Arc<PodDisruptionBudget>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let Some(ns) = pdb.namespace() else {
        return Ok(Action::await_change());
    };
    let spec = pdb.spec.clone().unwrap_or_default();
    let pods: Vec<Pod> = match spec.selector.as_ref() {
        Some(sel) if !selector_query(sel).is_empty() => {
            Api::<Pod>::namespaced(ctx.client.clone(), &ns)
                .list(&ListParams::default().labels(&selector_query(sel)))
                .await?
                .items
        }
        // An empty selector selects nothing in policy/v1.
        _ => Vec::new(),
    };
    let now = Timestamp::now();
    let old = pdb.status.clone().unwrap_or_default();

    // Approved evictions stay counted as disrupted until their pod goes or they expire.
    let alive: BTreeMap<String, &Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.name_any(), p))
        .collect();
    let mut disrupted = BTreeMap::new();
    let mut recheck = None;
    for (name, at) in old.disrupted_pods.clone().unwrap_or_default() {
        let expires = at.0 + DELETION_TIMEOUT;
        if alive.contains_key(&name) && expires > now {
            let left = expires.duration_since(now);
            let left = Duration::from_secs(left.as_secs().max(1) as u64);
            recheck = Some(recheck.map_or(left, |r: Duration| r.min(left)));
            disrupted.insert(name, at);
        }
    }
    let disrupted_names: BTreeSet<&String> = disrupted.keys().collect();
    let current_healthy = alive
        .iter()
        .filter(|(name, p)| is_ready(p) && !disrupted_names.contains(name))
        .count() as i32;

    let (expected, desired, failure) = match (&spec.max_unavailable, &spec.min_available) {
        (Some(max), _) => match controllers_scale(&ctx.client, &ns, &pods).await? {
            Ok(expected) => match scaled(max, expected) {
                Some(m) => (expected, (expected - m).max(0), None),
                None => (0, 0, Some(format!("invalid maxUnavailable {max:?}"))),
            },
            Err(why) => (0, 0, Some(why)),
        },
        (None, Some(IntOrString::Int(min))) => (pods.len() as i32, *min, None),
        (None, Some(min)) => match controllers_scale(&ctx.client, &ns, &pods).await? {
            Ok(expected) => match scaled(min, expected) {
                Some(m) => (expected, m, None),
                None => (0, 0, Some(format!("invalid minAvailable {min:?}"))),
            },
            Err(why) => (0, 0, Some(why)),
        },
        (None, None) => (pods.len() as i32, 0, None),
    };
    let allowed = if failure.is_some() {
        0
    } else {
        (current_healthy - desired).max(0)
    };
    let generation = pdb.metadata.generation;
    let (status, reason, message) = match (&failure, allowed > 0) {
        (Some(why), _) => ("False", "SyncFailed", why.clone()),
        (None, true) => ("True", "SufficientPods", String::new()),
        (None, false) => ("False", "InsufficientPods", String::new()),
    };
    let mut conditions: Vec<Condition> = old.conditions.clone().unwrap_or_default();
    let previous = conditions
        .iter()
        .find(|c| c.type_ == "DisruptionAllowed")
        .cloned();
    conditions.retain(|c| c.type_ != "DisruptionAllowed");
    let transition = match &previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Time(now),
    };
    conditions.push(Condition {
        type_: "DisruptionAllowed".into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: transition,
        observed_generation: generation,
    });
    let new = PodDisruptionBudgetStatus {
        conditions: Some(conditions),
        current_healthy,
        desired_healthy: desired,
        disruptions_allowed: allowed,
        expected_pods: expected,
        observed_generation: generation,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
    };
    if new != old {
        let mut updated = (*pdb).clone();
        updated.status = Some(new);
        Api::<PodDisruptionBudget>::namespaced(ctx.client.clone(), &ns)
            .replace_status(&pdb.name_any(), &PostParams::default(), &updated)
            .await?;
    }
    Ok(recheck.map_or_else(Action::await_change, Action::requeue))
}

/// The total scale of the controllers owning `pods` (upstream's getExpectedScale), or why
/// it cannot be known. Pods of a Deployment's ReplicaSets count the Deployment's replicas.
async fn controllers_scale(
    client: &Client,
    ns: &str,
    pods: &[Pod],
) -> Result<Result<i32, String>, kube::Error> {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut total = 0;
    for p in pods {
        let Some(owner) = p
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
        else {
            return Ok(Err(format!(
                "found no controller ref for pod \"{}\"",
                p.name_any()
            )));
        };
        let (kind, name, replicas) = match owner.kind.as_str() {
            "ReplicaSet" => {
                let rs = Api::<ReplicaSet>::namespaced(client.clone(), ns)
                    .get(&owner.name)
                    .await?;
                match rs
                    .owner_references()
                    .iter()
                    .find(|o| o.controller == Some(true) && o.kind == "Deployment")
                {
                    Some(d) => {
                        let dep = Api::<Deployment>::namespaced(client.clone(), ns)
                            .get(&d.name)
                            .await?;
                        let r = dep.spec.and_then(|s| s.replicas).unwrap_or(1);
                        ("Deployment", d.name.clone(), r)
                    }
                    None => {
                        let r = rs.spec.and_then(|s| s.replicas).unwrap_or(1);
                        ("ReplicaSet", owner.name.clone(), r)
                    }
                }
            }
            "ReplicationController" => {
                let rc = Api::<ReplicationController>::namespaced(client.clone(), ns)
                    .get(&owner.name)
                    .await?;
                let r = rc.spec.and_then(|s| s.replicas).unwrap_or(1);
                ("ReplicationController", owner.name.clone(), r)
            }
            "StatefulSet" => {
                let ss = Api::<StatefulSet>::namespaced(client.clone(), ns)
                    .get(&owner.name)
                    .await?;
                let r = ss.spec.and_then(|s| s.replicas).unwrap_or(1);
                ("StatefulSet", owner.name.clone(), r)
            }
            other => {
                return Ok(Err(format!(
                    "controller {other} \"{}\" has no scale known to the disruption controller",
                    owner.name
                )))
            }
        };
        if seen.insert((kind.to_string(), name)) {
            total += replicas;
        }
    }
    Ok(Ok(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3), Some(2));
        assert_eq!(scaled(&IntOrString::String("10%".into()), 10), Some(1));
        assert_eq!(scaled(&IntOrString::Int(2), 10), Some(2));
        assert_eq!(scaled(&IntOrString::String("x".into()), 10), None);
    }
}

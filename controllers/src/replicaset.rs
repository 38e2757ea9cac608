//! The ReplicaSet controller: keeps `spec.replicas` pods that match a ReplicaSet's selector
//! running, creating them from its template (with a controller owner reference) or
//! deleting the least valuable ones, adopting matching orphans, and reporting
//! `status` (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//! observedGeneration) as upstream's does.
//!
//! Pods are read with a consistent list at every reconcile, so a lagging watch can never
//! make it create twice (what upstream's expectations guard against with an informer).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

/// Pods created or deleted per reconcile at most (upstream's burst replicas).
const BURST: usize = 500;

/// Which workload kind a reconcile serves: ReplicationControllers are reconciled as the
/// ReplicaSet they are equivalent to (see `replicationcontroller`), with their own kind in
/// owner references, events and status writes.
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) events: crate::events::Events,
    pub(crate) kind: &'static str,
}

impl Ctx {
    fn api_version(&self) -> &'static str {
        if self.kind == "ReplicationController" {
            "v1"
        } else {
            "apps/v1"
        }
    }
}

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "replicaset-controller");
    let sets = Api::<ReplicaSet>::all(client.clone());
    let controller = Controller::new(sets, watcher::Config::default());
    let store = controller.store();
    // A pod wakes its controller, or, when it has none, every ReplicaSet whose selector
    // matches it (so orphans get adopted).
    let owners_of = move |pod: Arc<Pod>| {
        let ns = pod.namespace();
        if let Some(c) = pod
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
        {
            return if c.kind == "ReplicaSet" {
                vec![ObjectRef::new(&c.name).within(ns.as_deref().unwrap_or_default())]
            } else {
                Vec::new()
            };
        }
        store
            .state()
            .into_iter()
            .filter(|rs| rs.namespace() == ns)
            .filter(|rs| {
                rs.spec
                    .as_ref()
                    .is_some_and(|s| selects(&s.selector, pod.labels()))
            })
            .map(|rs| ObjectRef::from_obj(rs.as_ref()))
            .collect()
    };
    controller
        .watches_shared_stream(pods, owners_of)
        .run(
            reconcile,
            error_policy,
            Arc::new(Ctx {
                client,
                events,
                kind: "ReplicaSet",
            }),
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("replicaset controller: {e}");
            }
        })
        .await;
    Ok(())
}

pub(crate) fn error_policy(_rs: Arc<ReplicaSet>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// A LabelSelector in its query-string form (`a=b,c in (d)`).
pub fn selector_query(sel: &LabelSelector) -> String {
    let mut reqs: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        reqs.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    reqs.join(",")
}

/// Whether a non-empty LabelSelector selects `labels`.
pub fn selects(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let mut any = false;
    for (k, v) in sel.match_labels.iter().flatten() {
        any = true;
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    for e in sel.match_expressions.iter().flatten() {
        any = true;
        let values = e.values.as_deref().unwrap_or_default();
        let have = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => !have.is_some_and(|v| values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    any
}

fn is_active(p: &Pod) -> bool {
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    p.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded") | Some("Failed"))
}

fn ready_since(p: &Pod) -> Option<k8s_openapi::jiff::Timestamp> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH, |t| t.0)
        })
}

/// Deletion preference, upstream's order: unassigned, then pending, then not ready, then the
/// most recently ready/created first.
fn deletion_rank(p: &Pod) -> (bool, bool, bool, std::cmp::Reverse<i64>) {
    let assigned = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some_and(|n| !n.is_empty());
    let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let ready = ready_since(p).is_some();
    let created = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(0, |t| t.0.as_second());
    (assigned, running, ready, std::cmp::Reverse(created))
}

fn controller_ref(rs: &ReplicaSet, ctx: &Ctx) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: ctx.api_version().into(),
        kind: ctx.kind.into(),
        name: rs.name_any(),
        uid: rs.metadata.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

fn new_pod(rs: &ReplicaSet, owner: &OwnerReference) -> Pod {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.name_any())),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        },
        spec: template.spec,
        ..Default::default()
    }
}

pub(crate) async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    if rs.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(owner) = controller_ref(&rs, &ctx) else {
        return Ok(Action::await_change());
    };
    let ns = rs.namespace().unwrap_or_default();
    let spec = rs.spec.clone().unwrap_or_default();
    let query = selector_query(&spec.selector);
    if query.is_empty() {
        // An empty selector would select every pod: upstream refuses it in validation.
        return Ok(Action::await_change());
    }
    let pods_api = Api::<Pod>::namespaced(ctx.client.clone(), &ns);
    let mine = crate::claim::claim_pods(&pods_api, &query, &owner, |_| true).await?;
    let active: Vec<&Pod> = mine.iter().filter(|p| is_active(p)).collect();
    let want = spec.replicas.unwrap_or(1).max(0) as usize;
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(ctx.api_version().into()),
        kind: Some(ctx.kind.into()),
        ..rs.object_ref(&())
    };
    let mut failure = None;
    if active.len() < want {
        let missing = (want - active.len()).min(BURST);
        // Slow start, as upstream: 1, 2, 4, ... so a failing template costs few requests.
        let mut created = 0;
        let mut batch = 1;
        'create: while created < missing {
            for _ in 0..batch.min(missing - created) {
                match pods_api
                    .create(&PostParams::default(), &new_pod(&rs, &owner))
                    .await
                {
                    Ok(p) => {
                        created += 1;
                        ctx.events
                            .publish(
                                &reference,
                                false,
                                "SuccessfulCreate",
                                "Create",
                                format!("Created pod: {}", p.name_any()),
                            )
                            .await;
                    }
                    Err(e) => {
                        ctx.events
                            .publish(
                                &reference,
                                true,
                                "FailedCreate",
                                "Create",
                                format!("Error creating: {e}"),
                            )
                            .await;
                        failure = Some(e.to_string());
                        break 'create;
                    }
                }
            }
            batch *= 2;
        }
    } else if active.len() > want {
        let mut victims: Vec<&Pod> = active.clone();
        victims.sort_by_key(|p| deletion_rank(p));
        for pod in victims.into_iter().take((active.len() - want).min(BURST)) {
            ctx.events
                .delete(
                    &pods_api,
                    &pod.name_any(),
                    &DeleteParams::default(),
                    &reference,
                    format!("Deleted pod: {}", pod.name_any()),
                )
                .await?;
        }
    }
    update_status(&ctx, &rs, &spec, &mine, failure).await?;
    // Pods become available minReadySeconds after they are ready: look again then.
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    Ok(if min_ready > 0 {
        Action::requeue(Duration::from_secs(min_ready as u64))
    } else {
        Action::await_change()
    })
}

async fn update_status(
    ctx: &Ctx,
    rs: &ReplicaSet,
    spec: &k8s_openapi::api::apps::v1::ReplicaSetSpec,
    pods: &[Pod],
    failure: Option<String>,
) -> Result<(), kube::Error> {
    let template_labels: BTreeMap<String, String> = spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = i64::from(spec.min_ready_seconds.unwrap_or(0));
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let active: Vec<&Pod> = pods.iter().filter(|p| is_active(p)).collect();
    let count = |f: &dyn Fn(&Pod) -> bool| active.iter().filter(|p| f(p)).count() as i32;
    let old = rs.status.clone().unwrap_or_default();
    let mut conditions: Vec<_> = old
        .conditions
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "ReplicaFailure")
        .collect();
    if let Some(message) = failure {
        conditions.push(k8s_openapi::api::apps::v1::ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some("FailedCreate".into()),
            message: Some(message),
            last_transition_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            )),
        });
    }
    let status = ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: Some(count(&|p: &Pod| {
            let labels = p.labels();
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        })),
        ready_replicas: Some(count(&|p: &Pod| ready_since(p).is_some())),
        available_replicas: Some(count(&|p: &Pod| {
            ready_since(p).is_some_and(|t| min_ready == 0 || now - t.as_second() >= min_ready)
        })),
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
        terminating_replicas: old.terminating_replicas,
    };
    if rs.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let ns = rs.namespace().unwrap_or_default();
    // Both kinds' statuses have the same fields, so one patch fits either.
    let patch = Patch::Merge(serde_json::json!({"status": status}));
    let params = PatchParams::default();
    if ctx.kind == "ReplicationController" {
        Api::<k8s_openapi::api::core::v1::ReplicationController>::namespaced(
            ctx.client.clone(),
            &ns,
        )
        .patch_status(&rs.name_any(), &params, &patch)
        .await?;
    } else {
        Api::<ReplicaSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(&rs.name_any(), &params, &patch)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn selectors_become_queries() {
        let sel = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        assert_eq!(selector_query(&sel), "app=web,tier in (a,b)");
    }

    #[test]
    fn selector_matching() {
        let sel = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(selects(&sel, &labels(&[("app", "web")])));
        assert!(!selects(&sel, &labels(&[("app", "web"), ("tier", "db")])));
        assert!(!selects(&sel, &labels(&[("app", "api")])));
        assert!(!selects(
            &LabelSelector::default(),
            &labels(&[("app", "web")])
        ));
    }

    #[test]
    fn unassigned_and_unready_pods_go_first() {
        let pod = |node: Option<&str>, phase: &str| Pod {
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                node_name: node.map(str::to_string),
                ..Default::default()
            }),
            status: Some(k8s_openapi::api::core::v1::PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut pods = [
            pod(Some("n"), "Running"),
            pod(None, "Pending"),
            pod(Some("n"), "Pending"),
        ];
        pods.sort_by_key(deletion_rank);
        assert!(pods[0].spec.as_ref().unwrap().node_name.is_none());
        assert_eq!(
            pods[1].status.as_ref().unwrap().phase.as_deref(),
            Some("Pending")
        );
        assert_eq!(
            pods[2].status.as_ref().unwrap().phase.as_deref(),
            Some("Running")
        );
    }
}

//! The ReplicationController controller: a ReplicationController is a ReplicaSet with an
//! equality-only selector, so it is reconciled by the ReplicaSet controller's logic on
//! its ReplicaSet equivalent (as upstream's RC manager wraps the ReplicaSet one), with
//! `v1`/`ReplicationController` in owner references, events and status.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::replicaset::{self, Ctx};

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "replication-controller");
    let controller = Controller::new(
        Api::<ReplicationController>::all(client.clone()),
        watcher::Config::default(),
    );
    let store = controller.store();
    // A pod wakes its controller, or, when it has none, every RC selecting it (adoption).
    let owners_of = move |pod: Arc<Pod>| {
        let ns = pod.namespace();
        if let Some(c) = pod
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
        {
            return if c.kind == "ReplicationController" {
                vec![ObjectRef::new(&c.name).within(ns.as_deref().unwrap_or_default())]
            } else {
                Vec::new()
            };
        }
        store
            .state()
            .into_iter()
            .filter(|rc| rc.namespace() == ns)
            .filter(|rc| {
                as_replicaset(rc)
                    .and_then(|rs| rs.spec)
                    .is_some_and(|s| replicaset::selects(&s.selector, pod.labels()))
            })
            .map(|rc| ObjectRef::from_obj(rc.as_ref()))
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
                kind: "ReplicationController",
            }),
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("replicationcontroller controller: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_rc: Arc<ReplicationController>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// The ReplicaSet an RC is equivalent to: its selector as `matchLabels` (defaulting to
/// the template's labels, as the API server defaults it), everything else as is.
pub fn as_replicaset(rc: &ReplicationController) -> Option<ReplicaSet> {
    let mut v = serde_json::to_value(rc).ok()?;
    let mut selector = v["spec"]["selector"].take();
    if selector.as_object().is_none_or(|m| m.is_empty()) {
        selector = v["spec"]["template"]["metadata"]["labels"].clone();
    }
    if let Some(spec) = v["spec"].as_object_mut() {
        spec.insert(
            "selector".into(),
            serde_json::json!({ "matchLabels": selector }),
        );
    }
    v["apiVersion"] = "apps/v1".into();
    v["kind"] = "ReplicaSet".into();
    serde_json::from_value(v).ok()
}

async fn reconcile(rc: Arc<ReplicationController>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let Some(rs) = as_replicaset(&rc) else {
        return Ok(Action::await_change());
    };
    replicaset::reconcile(Arc::new(rs), ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rc_is_a_replicaset_with_match_labels() {
        let rc: ReplicationController = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "uid": "u"},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}}},
            "status": {"replicas": 1, "readyReplicas": 1}
        }))
        .unwrap();
        let rs = as_replicaset(&rc).unwrap();
        let spec = rs.spec.unwrap();
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(
            spec.selector
                .match_labels
                .unwrap()
                .get("app")
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(rs.status.unwrap().ready_replicas, Some(1));
    }
}

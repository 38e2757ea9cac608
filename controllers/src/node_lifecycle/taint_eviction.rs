//! The taint-eviction controller (upstream pkg/controller/tainteviction): a pod on a node
//! with NoExecute taints is deleted at once when it does not tolerate them all, after the
//! shortest `tolerationSeconds` of the tolerations it uses when it does, and never when
//! those tolerate for ever. Before deleting it records `TaintManagerEviction` ("Marking
//! for deletion Pod ns/name") and a `DisruptionTarget` condition; a pending deletion that
//! no longer applies is cancelled ("Cancelling deletion of Pod ns/name").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::taints;
use crate::events::Events;
use crate::informers::Cache;

/// How often pending evictions are checked.
const PERIOD: Duration = Duration::from_millis(500);

struct Scheduled {
    uid: Option<String>,
    since: Instant,
    at: Instant,
}

/// A cache of `api`'s objects, each cut down by `keep` to what this controller reads, and
/// the stream that fills it (polled by the controller's own loop, so it stops with it).
fn cache<K>(
    api: Api<K>,
    keep: fn(&mut K),
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let events = watcher::watcher(api, watcher::Config::default()).modify(keep);
    (store, reflector::reflector(writer, events))
}

fn slim_node(node: &mut Node) {
    node.status = None;
    node.metadata.managed_fields = None;
    node.metadata.annotations = None;
}

/// `pods` is the controller manager's shared pod cache.
pub async fn run(client: Client, pods: Arc<Cache<Pod>>) -> anyhow::Result<()> {
    let (nodes, node_events) = cache(Api::<Node>::all(client.clone()), slim_node);
    let mut node_events = std::pin::pin!(node_events);
    let events = Events::new(client.clone(), "taint-eviction-controller");
    let mut scheduled: HashMap<(String, String), Scheduled> = HashMap::new();
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            Some(_) = node_events.next() => {}
            _ = tick.tick() => {
                let ready = nodes.wait_until_ready().now_or_never().is_some_and(|r| r.is_ok())
                    && pods.is_ready();
                if ready {
                    pass(&client, &events, &nodes, &pods, &mut scheduled).await;
                }
            }
        }
    }
}

fn pod_ref(ns: &str, name: &str, uid: Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: Some(name.into()),
        namespace: Some(ns.into()),
        uid,
        ..Default::default()
    }
}

async fn pass(
    client: &Client,
    events: &Events,
    nodes: &Store<Node>,
    pods: &Cache<Pod>,
    scheduled: &mut HashMap<(String, String), Scheduled>,
) {
    let tainted: HashMap<String, Vec<Taint>> = nodes
        .state()
        .iter()
        .filter_map(|n| {
            let no_execute: Vec<Taint> = taints::node_taints(n)
                .iter()
                .filter(|t| t.effect == taints::NO_EXECUTE)
                .cloned()
                .collect();
            (!no_execute.is_empty()).then(|| (n.name_any(), no_execute))
        })
        .collect();
    if tainted.is_empty() && scheduled.is_empty() {
        return;
    }
    let now = Instant::now();
    let mut wanted: HashMap<(String, String), (Option<String>, Duration)> = HashMap::new();
    if !tainted.is_empty() {
        for pod in pods.state() {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
                continue;
            };
            let Some(node_taints) = tainted.get(node) else {
                continue;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let tolerations = pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or_default();
            if let Some(after) = taints::toleration_time(node_taints, tolerations) {
                let key = (pod.namespace().unwrap_or_default(), pod.name_any());
                wanted.insert(key, (pod.metadata.uid.clone(), after));
            }
        }
    }
    // Cancel what no longer applies (node untainted, pod tolerating for ever, or gone).
    let stale: Vec<(String, String)> = scheduled
        .iter()
        .filter(|(k, s)| wanted.get(*k).is_none_or(|(uid, _)| *uid != s.uid))
        .map(|(k, _)| k.clone())
        .collect();
    for key in stale {
        if let Some(s) = scheduled.remove(&key) {
            let still_there = pods
                .get(Some(&key.0), &key.1)
                .is_some_and(|p| p.metadata.uid == s.uid);
            if still_there {
                events
                    .publish(
                        &pod_ref(&key.0, &key.1, s.uid),
                        false,
                        "TaintManagerEviction",
                        "Cancel",
                        format!("Cancelling deletion of Pod {}/{}", key.0, key.1),
                    )
                    .await;
            }
        }
    }
    for (key, (uid, after)) in wanted {
        let entry = scheduled.entry(key).or_insert(Scheduled {
            uid,
            since: now,
            at: now + after,
        });
        // Tolerations may only be added, so the deadline only ever comes sooner.
        entry.at = entry.at.min(entry.since + after);
    }
    let due: Vec<(String, String)> = scheduled
        .iter()
        .filter(|(_, s)| s.at <= now)
        .map(|(k, _)| k.clone())
        .collect();
    for key in due {
        let uid = scheduled.get(&key).and_then(|s| s.uid.clone());
        match evict(client, events, &key.0, &key.1, uid).await {
            Ok(()) => {
                scheduled.remove(&key);
            }
            Err(e) => tracing::warn!(pod = %format!("{}/{}", key.0, key.1), "taint eviction: {e}"),
        }
    }
}

/// Record the eviction, mark the pod as a disruption target, and delete it.
async fn evict(
    client: &Client,
    events: &Events,
    ns: &str,
    name: &str,
    uid: Option<String>,
) -> Result<(), kube::Error> {
    events
        .publish(
            &pod_ref(ns, name, uid.clone()),
            false,
            "TaintManagerEviction",
            "Delete",
            format!("Marking for deletion Pod {ns}/{name}"),
        )
        .await;
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": Time(Timestamp::now()),
    }]}});
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(condition))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e),
    }
    tracing::info!(pod = %format!("{ns}/{name}"), "deleting pod for a NoExecute taint");
    let params = DeleteParams {
        preconditions: uid.map(|uid| kube::api::Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

//! The scheduler's I/O: watchers feed the cache and queue; one loop schedules a pod at a
//! time; bindings run concurrently (the pod is assumed on its node meanwhile).

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::Notify;

use crate::algorithm::{self, Failure};
use crate::cache::Cache;
use crate::node_info::{pod_key, PodInfo};
use crate::preemption;
use crate::queue::{Queue, QueuedPod};
use crate::SCHEDULER_NAME;
use k8rs_controllers::events::Events;

struct State {
    cache: Cache,
    queue: Queue,
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,
    client: Client,
    events: Events,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not stop scheduling: take the data as it is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

enum Change<K> {
    Apply(K),
    Delete(K),
    /// After a (re)list: everything not in this set is gone.
    Resync(HashSet<String>),
}

fn key_of<K: Resource>(o: &K) -> String {
    match o.meta().namespace.as_deref() {
        Some(ns) => format!("{ns}/{}", o.meta().name.as_deref().unwrap_or_default()),
        None => o.meta().name.clone().unwrap_or_default(),
    }
}

/// Feed one watched kind to `handle`, relists included.
async fn follow<K>(api: Api<K>, shared: Arc<Shared>, handle: fn(&Shared, Change<K>))
where
    K: Resource + Clone + serde::de::DeserializeOwned + Debug + Send + 'static,
{
    // managedFields are never read here and are most of a cached pod's memory (upstream's
    // informers strip them too).
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|o| o.meta_mut().managed_fields = None)
        .boxed();
    let mut seen = HashSet::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(Event::Apply(o)) => handle(&shared, Change::Apply(o)),
            Ok(Event::Delete(o)) => handle(&shared, Change::Delete(o)),
            Ok(Event::Init) => seen.clear(),
            Ok(Event::InitApply(o)) => {
                seen.insert(key_of(&o));
                handle(&shared, Change::Apply(o));
            }
            Ok(Event::InitDone) => handle(&shared, Change::Resync(std::mem::take(&mut seen))),
            Err(e) => tracing::debug!("scheduler watch: {e}"),
        }
    }
}

fn responsible(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .is_none_or(|n| n.is_empty() || n == SCHEDULER_NAME)
}

fn has_pod_constraints(pod: &Pod) -> bool {
    pod.spec.as_ref().is_some_and(|s| {
        s.topology_spread_constraints
            .as_ref()
            .is_some_and(|c| !c.is_empty())
            || s.affinity
                .as_ref()
                .is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
    })
}

fn on_pod(shared: &Shared, change: Change<Pod>) {
    let now = Instant::now();
    let mut st = shared.lock();
    match change {
        Change::Apply(pod) => {
            let key = pod_key(&pod);
            let assigned = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| !n.is_empty());
            if assigned {
                st.queue.delete(&key);
                let was_placed = st.cache.remove_pod(&key);
                let new = st.cache.upsert_pod(Arc::new(pod));
                if new && !was_placed {
                    // A pod appeared on a node: pods that wait for (anti-)affinity or
                    // spreading may now fit.
                    st.queue.move_unschedulable(now, has_pod_constraints);
                } else if was_placed && !new {
                    // It finished: its resources are free.
                    st.queue.move_unschedulable(now, |_| true);
                }
            } else if responsible(&pod)
                && pod.metadata.deletion_timestamp.is_none()
                && !matches!(
                    pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            {
                st.queue.add_or_update(Arc::new(pod), now);
            } else {
                st.queue.delete(&key);
            }
        }
        Change::Delete(pod) => {
            let key = pod_key(&pod);
            st.queue.delete(&key);
            st.cache.unnominate(&key);
            if st.cache.remove_pod(&key) {
                st.queue.move_unschedulable(now, |_| true);
            }
        }
        Change::Resync(_) => {}
    }
    if st.queue.has_active() {
        shared.wake.notify_one();
    }
}

fn on_node(shared: &Shared, change: Change<Node>) {
    let now = Instant::now();
    let mut st = shared.lock();
    let changed = match change {
        Change::Apply(n) => st.cache.upsert_node(Arc::new(n)),
        Change::Delete(n) => {
            st.cache.remove_node(&n.name_any());
            false
        }
        Change::Resync(_) => false,
    };
    if changed {
        st.queue.move_unschedulable(now, |_| true);
        shared.wake.notify_one();
    }
}

macro_rules! volume_handler {
    ($name:ident, $ty:ty, $field:ident) => {
        fn $name(shared: &Shared, change: Change<$ty>) {
            let mut st = shared.lock();
            match change {
                Change::Apply(o) => {
                    let k = key_of(&o);
                    st.cache.volumes.$field.insert(k, o);
                }
                Change::Delete(o) => {
                    st.cache.volumes.$field.remove(&key_of(&o));
                }
                Change::Resync(keys) => st.cache.volumes.$field.retain(|k, _| keys.contains(k)),
            }
            st.queue.move_unschedulable(Instant::now(), |_| true);
            shared.wake.notify_one();
        }
    };
}
volume_handler!(on_claim, PersistentVolumeClaim, claims);
volume_handler!(on_volume, PersistentVolume, volumes);
volume_handler!(on_class, StorageClass, classes);

fn on_pdb(shared: &Shared, change: Change<PodDisruptionBudget>) {
    let mut st = shared.lock();
    match change {
        Change::Apply(o) => {
            st.cache.pdbs.insert(key_of(&o), o);
        }
        Change::Delete(o) => {
            st.cache.pdbs.remove(&key_of(&o));
        }
        Change::Resync(keys) => st.cache.pdbs.retain(|k, _| keys.contains(k)),
    }
}

/// Run the scheduler until its watchers end.
pub async fn run(client: Client) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            cache: Cache::default(),
            queue: Queue::default(),
        }),
        wake: Notify::new(),
        events: Events::new(client.clone(), SCHEDULER_NAME),
        client: client.clone(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(follow(
        Api::<Node>::all(client.clone()),
        shared.clone(),
        on_node,
    ));
    tasks.spawn(follow(
        Api::<Pod>::all(client.clone()),
        shared.clone(),
        on_pod,
    ));
    tasks.spawn(follow(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        shared.clone(),
        on_claim,
    ));
    tasks.spawn(follow(
        Api::<PersistentVolume>::all(client.clone()),
        shared.clone(),
        on_volume,
    ));
    tasks.spawn(follow(
        Api::<StorageClass>::all(client.clone()),
        shared.clone(),
        on_class,
    ));
    tasks.spawn(follow(
        Api::<PodDisruptionBudget>::all(client.clone()),
        shared.clone(),
        on_pdb,
    ));
    tasks.spawn(schedule_loop(shared.clone()));
    tracing::info!("scheduler started");
    tasks.join_next().await;
    Ok(())
}

async fn schedule_loop(shared: Arc<Shared>) {
    loop {
        let popped = {
            let mut st = shared.lock();
            st.queue.flush(Instant::now());
            st.queue.pop()
        };
        match popped {
            Some((qp, cycle)) => schedule_one(&shared, qp, cycle).await,
            None => {
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

enum Outcome {
    Bind(String, Vec<String>),
    Fail(String),
    Preempt(String, preemption::Candidate),
}

async fn schedule_one(shared: &Arc<Shared>, qp: QueuedPod, cycle: u64) {
    let pod = qp.pod.clone();
    let key = pod_key(&pod);
    if pod.metadata.deletion_timestamp.is_some() {
        shared.lock().queue.done(&key);
        return;
    }
    let info = Arc::new(PodInfo::new(pod.clone()));
    let outcome = {
        let mut st = shared.lock();
        let decided = {
            let snap = st.cache.snapshot();
            match algorithm::schedule(info.clone(), &snap) {
                Ok(p) => Outcome::Bind(p.node, p.state.volumes.delayed),
                Err((Failure::NoNodes, _)) => Outcome::Fail(algorithm::NO_NODES.into()),
                Err((Failure::Fit(mut fit), state)) => {
                    let never = pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.preemption_policy.as_deref())
                        == Some("Never");
                    let post = match &state {
                        Some(s) => preemption::preempt(s, &snap, &fit),
                        None if never => {
                            Err("preemption: not eligible due to preemptionPolicy=Never.".into())
                        }
                        None => Err(preemption::not_helpful(fit.num_all_nodes)),
                    };
                    match post {
                        Ok(c) => Outcome::Preempt(fit.message(), c),
                        Err(m) => {
                            fit.postfilter_msg = Some(m);
                            Outcome::Fail(fit.message())
                        }
                    }
                }
            }
        };
        match &decided {
            Outcome::Bind(node, _) => st.cache.assume(info.clone(), node),
            Outcome::Fail(_) | Outcome::Preempt(..) => {
                if !st.queue.requeue(&key, cycle, true, Instant::now()) {
                    // Bound or deleted while we were deciding: nothing to report.
                    return;
                }
                if let Outcome::Preempt(_, c) = &decided {
                    st.cache.nominate(info.clone(), &c.node);
                }
            }
        }
        decided
    };
    match outcome {
        Outcome::Bind(node, delayed) => {
            let shared = shared.clone();
            tokio::spawn(async move { bind(&shared, &pod, &node, delayed, cycle).await });
        }
        Outcome::Fail(msg) => failed(shared, &pod, &msg, None).await,
        Outcome::Preempt(msg, c) => {
            let nominated = c.node.clone();
            evict(shared, &pod, c).await;
            failed(shared, &pod, &msg, Some(nominated)).await;
        }
    }
}

fn reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn pods_in(shared: &Shared, pod: &Pod) -> Api<Pod> {
    Api::namespaced(
        shared.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    )
}

async fn bind(shared: &Shared, pod: &Pod, node: &str, delayed: Vec<String>, cycle: u64) {
    let key = pod_key(pod);
    let name = pod.name_any();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    // WaitForFirstConsumer claims learn their node before the pod is bound (PreBind).
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(shared.client.clone(), &ns);
    for claim in delayed {
        let patch =
            json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": node}}});
        if let Err(e) = claims
            .patch(&claim, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::debug!("annotating claim {ns}/{claim}: {e}");
        }
    }
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": name, "namespace": ns, "uid": pod.metadata.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let res: Result<serde_json::Value, kube::Error> = pods_in(shared, pod)
        .create_subresource("binding", &name, &PostParams::default(), &binding)
        .await;
    match res {
        Ok(_) => {
            shared.lock().queue.done(&key);
            shared
                .events
                .publish(
                    &reference(pod),
                    false,
                    "Scheduled",
                    "Binding",
                    format!("Successfully assigned {ns}/{name} to {node}"),
                )
                .await;
        }
        Err(e) => {
            let gone = matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409);
            {
                let mut st = shared.lock();
                st.cache.forget(&key);
                if gone {
                    st.queue.done(&key);
                } else {
                    st.queue.requeue(&key, cycle, false, Instant::now());
                }
            }
            if !gone {
                failed(shared, pod, &format!("Binding rejected: {e}"), None).await;
            }
        }
    }
}

/// Preemption's side effects: nominate the preemptor, then delete each victim (marked
/// with a DisruptionTarget condition and a `Preempted` event).
async fn evict(shared: &Shared, preemptor: &Pod, c: preemption::Candidate) {
    for victim in &c.victims {
        let v = &victim.pod;
        let api = pods_in(shared, v);
        let cond = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": format!("{SCHEDULER_NAME}: preempting to accommodate a higher priority pod"),
            "lastTransitionTime": now(),
        }]}});
        let _ = api
            .patch_status(
                &v.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&cond),
            )
            .await;
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: v.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        if let Err(e) = api.delete(&v.name_any(), &dp).await {
            tracing::debug!("preempting {}: {e}", victim.key);
            continue;
        }
        shared
            .events
            .publish(
                &reference(v),
                false,
                "Preempted",
                "Preempting",
                format!(
                    "Preempted by pod {} on node {}",
                    preemptor.metadata.uid.as_deref().unwrap_or_default(),
                    c.node
                ),
            )
            .await;
    }
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A failed attempt: the `FailedScheduling` event and the `PodScheduled=False` condition
/// (and the nominated node after preemption). The condition is written against the
/// resourceVersion we read, so a pod bound meanwhile (by us or anyone) is never marked
/// unschedulable after the fact.
async fn failed(shared: &Shared, pod: &Pod, msg: &str, nominated: Option<String>) {
    shared
        .events
        .publish(
            &reference(pod),
            true,
            "FailedScheduling",
            "Scheduling",
            msg.to_string(),
        )
        .await;
    let api = pods_in(shared, pod);
    let mut current = pod.clone();
    for _ in 0..3 {
        let Some(patch) = condition_patch(&current, msg, nominated.as_deref()) else {
            return;
        };
        match api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
        {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 409 => match api.get(&pod.name_any()).await {
                Ok(p) if p.metadata.uid == pod.metadata.uid => current = p,
                _ => return,
            },
            Err(e) => {
                tracing::debug!("updating {} status: {e}", pod_key(pod));
                return;
            }
        }
    }
}

/// The status patch for a failed attempt, or `None` when there is nothing to write (the
/// pod got a node, is going away, or already says so).
fn condition_patch(pod: &Pod, msg: &str, nominated: Option<&str>) -> Option<serde_json::Value> {
    let assigned = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    if assigned || pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.clone().unwrap_or_default();
    let current = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled");
    let same = current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && c.message.as_deref() == Some(msg)
    });
    let nominated_same = nominated.is_none() || status.nominated_node_name.as_deref() == nominated;
    if same && nominated_same {
        return None;
    }
    let transition = match current {
        Some(c) if c.status == "False" => c
            .last_transition_time
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_else(now),
        _ => now(),
    };
    let mut patch = json!({
        "metadata": {"resourceVersion": pod.metadata.resource_version},
        "status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": msg, "lastProbeTime": null, "lastTransitionTime": transition,
        }]},
    });
    if let Some(n) = nominated {
        patch["status"]["nominatedNodeName"] = json!(n);
    }
    Some(patch)
}

//! The garbage collector (upstream pkg/controller/garbagecollector): a graph of
//! ownerReferences over every resource that can be listed, watched and deleted, fed by
//! metadata-only watches. Dependents whose owners are all gone are deleted (in the
//! background, or in the foreground when an owner waits for them); owners deleted in the
//! foreground lose their `foregroundDeletion` finalizer once no dependent blocks them;
//! owners deleted with `orphan` first release their dependents. Every decision is checked
//! against a live GET, never against the graph alone.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions,
    PropagationPolicy,
};
use kube::core::PartialObjectMeta;
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Semaphore};

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";
/// How often discovery runs again, so resources served later (CRDs) are collected too.
const REDISCOVER: Duration = Duration::from_secs(30);
/// Watches listing their resource at once while the collector starts.
const STARTING_WATCHES: usize = 2;
/// Items worked on at once.
const WORKERS: usize = 8;

/// A resource kind by API group and kind, as ownerReferences name owners.
type GroupKind = (String, String);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Work {
    /// Check an object: its owners may be gone, or it is deleted in the foreground.
    Delete(String),
    /// Release the dependents of an owner being deleted with `orphan`.
    Orphan(String),
}

#[derive(Clone, Debug)]
struct Node {
    gk: GroupKind,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

impl Node {
    fn from_meta(gk: &GroupKind, m: &ObjectMeta) -> Node {
        Node {
            gk: gk.clone(),
            namespace: m.namespace.clone().filter(|n| !n.is_empty()),
            name: m.name.clone().unwrap_or_default(),
            owners: m.owner_references.clone().unwrap_or_default(),
            deleting: m.deletion_timestamp.is_some(),
            finalizers: m.finalizers.clone().unwrap_or_default(),
        }
    }

    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    fn deleting_dependents(&self) -> bool {
        self.deleting && self.has(FOREGROUND)
    }
}

/// The owner graph: objects by uid, and the dependents of every uid named as an owner
/// (whether or not that owner is known, so absent owners are found).
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// An object was added or changed: update edges, return what to look at.
    fn observe(&mut self, uid: &str, node: Node) -> Vec<Work> {
        let mut work = Vec::new();
        if let Some(old) = self.nodes.get(uid).cloned() {
            for o in &old.owners {
                if !node.owners.iter().any(|n| n.uid == o.uid) {
                    self.unlink(&o.uid, uid);
                    // An owner waiting for its dependents may have lost its last blocker.
                    if self
                        .nodes
                        .get(&o.uid)
                        .is_some_and(Node::deleting_dependents)
                    {
                        work.push(Work::Delete(o.uid.clone()));
                    }
                }
            }
        }
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(uid.to_string());
            match self.nodes.get(&o.uid) {
                // Unknown owner: maybe gone (the live check decides).
                None => work.push(Work::Delete(uid.to_string())),
                Some(owner) if owner.deleting_dependents() => {
                    work.push(Work::Delete(uid.to_string()))
                }
                Some(_) => {}
            }
        }
        if node.deleting && node.has(ORPHAN) {
            work.push(Work::Orphan(uid.to_string()));
        }
        if node.deleting_dependents() {
            work.push(Work::Delete(uid.to_string()));
            work.extend(self.dependents_of(uid).into_iter().map(Work::Delete));
        }
        self.nodes.insert(uid.to_string(), node);
        work.dedup();
        work
    }

    /// An object is gone: its dependents may now be garbage, and an owner waiting for it
    /// may be done.
    fn forget(&mut self, uid: &str) -> Vec<Work> {
        let mut work = Vec::new();
        if let Some(node) = self.nodes.remove(uid) {
            for o in &node.owners {
                self.unlink(&o.uid, uid);
                if self
                    .nodes
                    .get(&o.uid)
                    .is_some_and(Node::deleting_dependents)
                {
                    work.push(Work::Delete(o.uid.clone()));
                }
            }
        }
        work.extend(self.dependents_of(uid).into_iter().map(Work::Delete));
        work
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(d) = self.dependents.get_mut(owner) {
            d.remove(dependent);
            if d.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }

    /// Known dependents of `owner`.
    fn dependents_of(&self, owner: &str) -> Vec<String> {
        self.dependents
            .get(owner)
            .into_iter()
            .flatten()
            .filter(|d| self.nodes.contains_key(*d))
            .cloned()
            .collect()
    }

    /// Dependents that block `owner`'s foreground deletion (blockOwnerDeletion=true).
    fn blocking_dependents(&self, owner: &str) -> Vec<String> {
        self.dependents_of(owner)
            .into_iter()
            .filter(|d| {
                self.nodes.get(d).is_some_and(|n| {
                    n.owners
                        .iter()
                        .any(|o| o.uid == owner && o.block_owner_deletion == Some(true))
                })
            })
            .collect()
    }

    /// Objects of a kind that a relist no longer shows.
    fn missing(&self, gk: &GroupKind, seen: &HashSet<String>) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(uid, n)| n.gk == *gk && !seen.contains(*uid))
            .map(|(uid, _)| uid.clone())
            .collect()
    }
}

/// A discovered resource: how to reach it.
#[derive(Clone)]
struct Mapping {
    ar: ApiResource,
    namespaced: bool,
}

/// An owner as the live API sees it.
#[derive(Debug, PartialEq)]
enum OwnerState {
    /// Exists with the referenced uid.
    Solid,
    /// Gone, or replaced by another object of the same name.
    Dangling,
    /// Exists and is being deleted in the foreground.
    Waiting,
}

struct Gc {
    client: Client,
    graph: Mutex<Graph>,
    kinds: RwLock<HashMap<GroupKind, Mapping>>,
    queued: Mutex<HashSet<Work>>,
    failures: Mutex<HashMap<Work, u32>>,
    tx: mpsc::UnboundedSender<Work>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Group of an apiVersion (`apps/v1` → `apps`, `v1` → core).
fn group_of(api_version: &str) -> &str {
    api_version
        .split_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default()
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

pub async fn run(client: Client) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    let gc = Arc::new(Gc {
        client,
        graph: Mutex::default(),
        kinds: RwLock::default(),
        queued: Mutex::default(),
        failures: Mutex::default(),
        tx,
    });
    let mut watched: HashSet<GroupKind> = HashSet::new();
    // Decisions wait for the first full view of the graph: an owner whose dependents are
    // not yet listed would otherwise lose its finalizer too early.
    let mut initial = gc.clone().discover(&mut watched).await;
    while watched.is_empty() {
        // Discovery failed: the API server may still be starting.
        tokio::time::sleep(Duration::from_secs(2)).await;
        initial = gc.clone().discover(&mut watched).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(initial)).await;
    tracing::info!(resources = watched.len(), "garbage collector synced");
    let mut worker = tokio::spawn(gc.clone().work(rx));
    let mut rediscover = tokio::time::interval(REDISCOVER);
    rediscover.tick().await;
    loop {
        tokio::select! {
            _ = rediscover.tick() => {
                gc.clone().discover(&mut watched).await;
            }
            res = &mut worker => {
                res?;
                anyhow::bail!("garbage collector work queue closed");
            }
        }
    }
}

impl Gc {
    /// Discover resources and start a metadata watch on each new one; returns a signal per
    /// new watch that fires once its first list is in the graph.
    async fn discover(
        self: Arc<Self>,
        watched: &mut HashSet<GroupKind>,
    ) -> Vec<oneshot::Receiver<()>> {
        let discovery = match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("garbage collector: discovery failed: {e}");
                return Vec::new();
            }
        };
        let mut signals = Vec::new();
        // Initial lists run a few at a time: dozens of new connections at once would starve
        // the other controllers while the collector starts.
        let gate = Arc::new(Semaphore::new(STARTING_WATCHES));
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                let gk = (ar.group.clone(), ar.kind.clone());
                let namespaced = caps.scope == Scope::Namespaced;
                self.kinds
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(
                        gk.clone(),
                        Mapping {
                            ar: ar.clone(),
                            namespaced,
                        },
                    );
                // Upstream ignores events; the rest needs list, watch and delete.
                let usable = [verbs::LIST, verbs::WATCH, verbs::DELETE]
                    .iter()
                    .all(|v| caps.supports_operation(v));
                let ignored =
                    ar.plural == "events" && matches!(ar.group.as_str(), "" | "events.k8s.io");
                if !usable || ignored || !watched.insert(gk.clone()) {
                    continue;
                }
                let (done, synced) = oneshot::channel();
                signals.push(synced);
                tokio::spawn(self.clone().watch(gk, ar, done, gate.clone()));
            }
        }
        signals
    }

    async fn watch(
        self: Arc<Self>,
        gk: GroupKind,
        ar: ApiResource,
        done: oneshot::Sender<()>,
        gate: Arc<Semaphore>,
    ) {
        let mut starting = gate.acquire_owned().await.ok();
        // Metadata only (PartialObjectMetadata): the graph needs nothing else.
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(self.client.clone(), &ar);
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut done = Some(done);
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(ev) = events.next().await {
            match ev {
                Ok(Event::Init) => seen.clear(),
                Ok(Event::InitApply(m)) => {
                    if let Some(uid) = m.metadata.uid.clone() {
                        seen.insert(uid);
                    }
                    self.observe(&gk, &m);
                }
                Ok(Event::InitDone) => {
                    // Objects deleted while the watch was down.
                    let missing = lock(&self.graph).missing(&gk, &seen);
                    for uid in missing {
                        self.forget(&uid);
                    }
                    seen.clear();
                    drop(starting.take());
                    if let Some(d) = done.take() {
                        let _ = d.send(());
                    }
                }
                Ok(Event::Apply(m)) => self.observe(&gk, &m),
                Ok(Event::Delete(m)) => {
                    if let Some(uid) = &m.metadata.uid {
                        self.forget(uid);
                    }
                }
                Err(e) => {
                    tracing::debug!(resource = %ar.plural, group = %ar.group, "garbage collector watch: {e}");
                    // A resource that cannot be listed does not hold up the others.
                    drop(starting.take());
                    if let Some(d) = done.take() {
                        let _ = d.send(());
                    }
                }
            }
        }
    }

    fn observe(&self, gk: &GroupKind, m: &PartialObjectMeta<DynamicObject>) {
        let Some(uid) = m.metadata.uid.as_deref() else {
            return;
        };
        let work = lock(&self.graph).observe(uid, Node::from_meta(gk, &m.metadata));
        self.enqueue_all(work);
    }

    fn forget(&self, uid: &str) {
        let work = lock(&self.graph).forget(uid);
        self.enqueue_all(work);
    }

    fn enqueue_all(&self, work: Vec<Work>) {
        for w in work {
            self.enqueue(w);
        }
    }

    fn enqueue(&self, w: Work) {
        if lock(&self.queued).insert(w.clone()) {
            let _ = self.tx.send(w);
        }
    }

    async fn work(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Work>) {
        let slots = Arc::new(Semaphore::new(WORKERS));
        while let Some(w) = rx.recv().await {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            lock(&self.queued).remove(&w);
            let gc = self.clone();
            tokio::spawn(async move {
                let res = match &w {
                    Work::Delete(uid) => gc.attempt_delete(uid).await,
                    Work::Orphan(uid) => gc.orphan_dependents(uid).await,
                };
                drop(permit);
                match res {
                    Ok(()) => {
                        lock(&gc.failures).remove(&w);
                    }
                    Err(e) => {
                        let n = {
                            let mut f = lock(&gc.failures);
                            let n = f.entry(w.clone()).or_insert(0);
                            *n += 1;
                            *n
                        };
                        tracing::debug!(?w, "garbage collector: {e}");
                        // Rate-limited retry, as upstream's workqueue: 100ms doubling to a minute.
                        let delay =
                            Duration::from_millis(100u64 << n.min(10)).min(Duration::from_secs(60));
                        tokio::time::sleep(delay).await;
                        gc.enqueue(w);
                    }
                }
            });
        }
    }

    fn mapping(&self, gk: &GroupKind) -> Option<Mapping> {
        self.kinds
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(gk)
            .cloned()
    }

    fn api(&self, m: &Mapping, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| m.namespaced) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &m.ar),
            None => Api::all_with(self.client.clone(), &m.ar),
        }
    }

    fn node(&self, uid: &str) -> Option<Node> {
        lock(&self.graph).nodes.get(uid).cloned()
    }

    /// Upstream's attemptToDeleteItem.
    async fn attempt_delete(&self, uid: &str) -> anyhow::Result<()> {
        let Some(node) = self.node(uid) else {
            return Ok(());
        };
        if node.deleting && !node.has(FOREGROUND) {
            return Ok(());
        }
        if node.deleting_dependents() {
            return self.process_deleting_dependents(uid, &node).await;
        }
        let Some(mapping) = self.mapping(&node.gk) else {
            return Ok(());
        };
        let api = self.api(&mapping, node.namespace.as_deref());
        let latest = match api.get_metadata_opt(&node.name).await? {
            Some(l) if l.metadata.uid.as_deref() == Some(uid) => l,
            // Gone or replaced: the watch has not told us yet.
            _ => {
                self.forget(uid);
                return Ok(());
            }
        };
        let meta = &latest.metadata;
        let finalizers = meta.finalizers.clone().unwrap_or_default();
        if meta.deletion_timestamp.is_some() {
            if finalizers.iter().any(|f| f == FOREGROUND) {
                return self.process_deleting_dependents(uid, &node).await;
            }
            return Ok(());
        }
        let owners = meta.owner_references.clone().unwrap_or_default();
        if owners.is_empty() {
            return Ok(());
        }
        let (mut solid, mut gone, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for o in &owners {
            match self
                .owner_state(o, node.namespace.as_deref(), mapping.namespaced)
                .await?
            {
                OwnerState::Solid => solid.push(o.uid.clone()),
                OwnerState::Dangling => gone.push(o.uid.clone()),
                OwnerState::Waiting => waiting.push(o.uid.clone()),
            }
        }
        if !solid.is_empty() {
            // A live owner keeps the object; only references to gone or foreground-deleted
            // owners are dropped.
            let drop: Vec<String> = gone.into_iter().chain(waiting).collect();
            if !drop.is_empty() {
                tracing::info!(name = %node.name, kind = %node.gk.1, "removing dangling ownerReferences");
                self.remove_owner_refs(&api, &node.name, uid, &drop).await?;
            }
            return Ok(());
        }
        let has_dependents = !lock(&self.graph).dependents_of(uid).is_empty();
        let policy = if !waiting.is_empty() && has_dependents {
            // Its owner waits in the foreground: so does this object for its own dependents.
            PropagationPolicy::Foreground
        } else if finalizers.iter().any(|f| f == ORPHAN) {
            PropagationPolicy::Orphan
        } else if finalizers.iter().any(|f| f == FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        tracing::info!(name = %node.name, kind = %node.gk.1, ?policy, "deleting object whose owners are gone");
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&node.name, &dp).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The owner named by `r`, looked up live (upstream's isDangling).
    async fn owner_state(
        &self,
        r: &OwnerReference,
        namespace: Option<&str>,
        dependent_namespaced: bool,
    ) -> anyhow::Result<OwnerState> {
        let gk = (group_of(&r.api_version).to_string(), r.kind.clone());
        let Some(m) = self.mapping(&gk) else {
            anyhow::bail!("owner kind {}/{} is not served", r.api_version, r.kind);
        };
        // A cluster-scoped object cannot be owned by a namespaced one.
        if m.namespaced && !dependent_namespaced {
            return Ok(OwnerState::Dangling);
        }
        let api = self.api(&m, namespace);
        Ok(match api.get_metadata_opt(&r.name).await? {
            Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                let foreground = o
                    .metadata
                    .finalizers
                    .iter()
                    .flatten()
                    .any(|f| f == FOREGROUND);
                if o.metadata.deletion_timestamp.is_some() && foreground {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                }
            }
            _ => OwnerState::Dangling,
        })
    }

    /// An owner deleted in the foreground: done once no dependent blocks it, otherwise
    /// its blocking dependents are deleted first.
    async fn process_deleting_dependents(&self, uid: &str, node: &Node) -> anyhow::Result<()> {
        let blocking = lock(&self.graph).blocking_dependents(uid);
        if blocking.is_empty() {
            return self.remove_finalizer(node, uid, FOREGROUND).await;
        }
        for d in blocking {
            if self.node(&d).is_some_and(|n| !n.deleting_dependents()) {
                self.enqueue(Work::Delete(d));
            }
        }
        Ok(())
    }

    /// Upstream's attemptToOrphan: strip the owner from its dependents, then drop the
    /// `orphan` finalizer.
    async fn orphan_dependents(&self, uid: &str) -> anyhow::Result<()> {
        let Some(node) = self.node(uid) else {
            return Ok(());
        };
        if !(node.deleting && node.has(ORPHAN)) {
            return Ok(());
        }
        let dependents: Vec<(String, Node)> = {
            let g = lock(&self.graph);
            g.dependents_of(uid)
                .into_iter()
                .filter_map(|d| g.nodes.get(&d).map(|n| (d, n.clone())))
                .collect()
        };
        for (duid, dep) in dependents {
            let Some(m) = self.mapping(&dep.gk) else {
                continue;
            };
            let api = self.api(&m, dep.namespace.as_deref());
            self.remove_owner_refs(&api, &dep.name, &duid, &[uid.to_string()])
                .await?;
        }
        self.remove_finalizer(&node, uid, ORPHAN).await
    }

    /// Drop ownerReferences to `owners` from the object, guarded by its resourceVersion.
    async fn remove_owner_refs(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        uid: &str,
        owners: &[String],
    ) -> anyhow::Result<()> {
        loop {
            let Some(latest) = api.get_metadata_opt(name).await? else {
                return Ok(());
            };
            if latest.metadata.uid.as_deref() != Some(uid) {
                return Ok(());
            }
            let refs = latest.metadata.owner_references.clone().unwrap_or_default();
            let kept: Vec<&OwnerReference> =
                refs.iter().filter(|r| !owners.contains(&r.uid)).collect();
            if kept.len() == refs.len() {
                return Ok(());
            }
            let refs_value = if kept.is_empty() {
                Value::Null
            } else {
                serde_json::to_value(&kept)?
            };
            let patch = json!({"metadata": {
                "ownerReferences": refs_value,
                "resourceVersion": latest.metadata.resource_version,
            }});
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn remove_finalizer(
        &self,
        node: &Node,
        uid: &str,
        finalizer: &str,
    ) -> anyhow::Result<()> {
        let Some(m) = self.mapping(&node.gk) else {
            return Ok(());
        };
        let api = self.api(&m, node.namespace.as_deref());
        loop {
            let Some(latest) = api.get_metadata_opt(&node.name).await? else {
                return Ok(());
            };
            if latest.metadata.uid.as_deref() != Some(uid) {
                return Ok(());
            }
            let current = latest.metadata.finalizers.clone().unwrap_or_default();
            if !current.iter().any(|f| f == finalizer) {
                return Ok(());
            }
            let kept: Vec<&String> = current.iter().filter(|f| *f != finalizer).collect();
            let patch = json!({"metadata": {
                "finalizers": if kept.is_empty() { Value::Null } else { json!(kept) },
                "resourceVersion": latest.metadata.resource_version,
            }});
            tracing::info!(name = %node.name, kind = %node.gk.1, finalizer, "removing finalizer");
            match api
                .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gk(kind: &str) -> GroupKind {
        ("apps".into(), kind.into())
    }

    fn owner(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: format!("n-{uid}"),
            uid: uid.into(),
            block_owner_deletion: Some(block),
            controller: Some(true),
        }
    }

    fn node(owners: Vec<OwnerReference>) -> Node {
        Node {
            gk: gk("ReplicaSet"),
            namespace: Some("default".into()),
            name: "x".into(),
            owners,
            deleting: false,
            finalizers: vec![],
        }
    }

    #[test]
    fn a_dependent_of_an_unknown_owner_is_checked() {
        let mut g = Graph::default();
        assert_eq!(
            g.observe("rs", node(vec![owner("d", true)])),
            vec![Work::Delete("rs".into())]
        );
        // Once the owner is known and alive, nothing to do.
        assert!(g.observe("d", node(vec![])).is_empty());
        assert!(g.observe("rs", node(vec![owner("d", true)])).is_empty());
    }

    #[test]
    fn an_owner_going_away_queues_its_dependents() {
        let mut g = Graph::default();
        g.observe("d", node(vec![]));
        g.observe("rs", node(vec![owner("d", true)]));
        assert_eq!(g.forget("d"), vec![Work::Delete("rs".into())]);
    }

    #[test]
    fn foreground_owners_wait_for_blocking_dependents() {
        let mut g = Graph::default();
        g.observe("rs1", node(vec![owner("d", true)]));
        g.observe("rs2", node(vec![owner("d", false)]));
        let mut d = node(vec![]);
        d.deleting = true;
        d.finalizers = vec![FOREGROUND.into()];
        let mut work = g.observe("d", d);
        work.sort_by_key(|w| format!("{w:?}"));
        assert_eq!(
            work,
            vec![
                Work::Delete("d".into()),
                Work::Delete("rs1".into()),
                Work::Delete("rs2".into())
            ]
        );
        assert_eq!(g.blocking_dependents("d"), vec!["rs1".to_string()]);
        // The blocker leaving wakes the owner.
        assert_eq!(g.forget("rs1"), vec![Work::Delete("d".into())]);
        assert!(g.blocking_dependents("d").is_empty());
    }

    #[test]
    fn orphaning_owners_are_queued_and_relists_find_missed_deletes() {
        let mut g = Graph::default();
        let mut d = node(vec![]);
        d.gk = gk("Deployment");
        d.deleting = true;
        d.finalizers = vec![ORPHAN.into()];
        assert_eq!(g.observe("d", d), vec![Work::Orphan("d".into())]);
        g.observe("rs", node(vec![owner("d", true)]));
        let seen: HashSet<String> = ["rs".to_string()].into();
        assert_eq!(g.missing(&gk("Deployment"), &seen), vec!["d".to_string()]);
        assert!(g.missing(&gk("ReplicaSet"), &seen).is_empty());
    }

    #[test]
    fn api_versions_name_their_group() {
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
    }
}

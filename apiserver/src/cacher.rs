//! The watch cache: one storage watch per resource feeds an in-memory copy of its objects and
//! a window of recent events. LISTs and every client WATCH are served from here, so a
//! thousand watchers cost one storage watch, and each object is serialized once, not once
//! per watcher (as upstream's cacher does).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use k8rs_storage::{EventType, ListOptions, Storage, StorageError};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::resource::ResourceInfo;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};

/// Events kept for watchers that resume from an older resourceVersion: at least the last
/// `HISTORY_MIN`, and those younger than `HISTORY_FRESH` up to `HISTORY_MAX` (upstream sizes
/// its window the same way, by a 75 s freshness, up to 100Ki events). A watcher that resumes
/// from beyond the window gets 410 Gone and must relist, which under a write burst is what
/// costs most.
const HISTORY_MIN: usize = 10_000;
const HISTORY_MAX: usize = 100 * 1024;
const HISTORY_FRESH: Duration = Duration::from_secs(75);
/// Events a watcher may fall behind before it is dropped (and relists).
const FANOUT_BUFFER: usize = 16_384;
/// How long a request waits for the cache to catch up to a resourceVersion.
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// One object as the cache holds it: its JSON (with resourceVersion) plus what filters need.
#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub rv: u64,
    pub labels: BTreeMap<String, String>,
    /// Values of this resource's selectable fields (metadata.name first).
    pub fields: Vec<(&'static str, String)>,
    pub json: Bytes,
}

impl CachedObject {
    /// Build from stored bytes (stored without resourceVersion) at revision `rv`.
    pub fn decode(res: &ResourceInfo, key: &str, stored: &[u8], rv: u64) -> Result<Self, String> {
        let v: Value = serde_json::from_slice(stored).map_err(|e| format!("{key}: {e}"))?;
        let mut v = res.to_served(v);
        crate::object::set_resource_version(&mut v, rv);
        Ok(Self::from_value(res, key, &v, rv))
    }

    pub fn from_value(res: &ResourceInfo, key: &str, v: &Value, rv: u64) -> Self {
        let meta = &v["metadata"];
        let labels = meta["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mut fields = Vec::with_capacity(res.selectable_fields.len());
        for (f, _) in &res.selectable_fields {
            fields.push((*f, res.field_value(v, f).unwrap_or_default()));
        }
        CachedObject {
            key: key.to_string(),
            namespace: meta["namespace"].as_str().unwrap_or_default().to_string(),
            name: meta["name"].as_str().unwrap_or_default().to_string(),
            rv,
            labels,
            fields,
            json: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        }
    }

    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// The JSON watch frame of this object as a `kind` event; the object's own JSON
    /// becomes a view into it.
    fn embed_in_frame(&mut self, kind: EventKind) -> Bytes {
        let frame = crate::encode::watch_event(
            crate::encode::Output::Json,
            None,
            kind.as_str(),
            self,
            false,
        );
        let start = frame.len() - self.json.len() - 2;
        self.json = frame.slice(start..start + self.json.len());
        frame
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct CacheEvent {
    pub kind: EventKind,
    pub rv: u64,
    pub object: Arc<CachedObject>,
    /// State before the change (for selector transitions); for deletes the last state.
    pub prev: Option<Arc<CachedObject>>,
    /// The JSON watch frame, per event type a watcher may see it as: encoded by the first
    /// watcher that needs it, then shared by every other.
    frames: [OnceLock<Bytes>; 3],
}

impl CacheEvent {
    pub fn new(
        kind: EventKind,
        rv: u64,
        object: Arc<CachedObject>,
        prev: Option<Arc<CachedObject>>,
    ) -> Self {
        CacheEvent {
            kind,
            rv,
            object,
            prev,
            frames: Default::default(),
        }
    }

    /// An event whose JSON frame for its own kind is already encoded.
    fn with_frame(
        kind: EventKind,
        rv: u64,
        object: Arc<CachedObject>,
        prev: Option<Arc<CachedObject>>,
        frame: Bytes,
    ) -> Self {
        let e = CacheEvent::new(kind, rv, object, prev);
        let _ = e.frames[kind as usize].set(frame);
        e
    }

    /// `{"type":…,"object":…}\n` for this event seen as `as_kind`.
    pub fn json_frame(&self, as_kind: EventKind) -> Bytes {
        self.frames[as_kind as usize]
            .get_or_init(|| {
                crate::encode::watch_event(
                    crate::encode::Output::Json,
                    None,
                    as_kind.as_str(),
                    &self.object,
                    false,
                )
            })
            .clone()
    }
}

/// What a request filters on.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, o: &CachedObject) -> bool {
        if let Some(ns) = &self.namespace {
            if &o.namespace != ns {
                return false;
            }
        }
        self.labels.matches(&o.labels)
            && self.fields.matches(|f| match f {
                // Borrowed: this runs for every event and every filtered watcher.
                "metadata.name" => Some(o.name.as_str()),
                "metadata.namespace" => Some(o.namespace.as_str()),
                _ => o
                    .fields
                    .iter()
                    .find(|(k, _)| *k == f)
                    .map(|(_, v)| v.as_str()),
            })
    }

    /// The event a filtered watcher sees, if any: objects moving in or out of the
    /// selection appear as ADDED or DELETED.
    pub fn transform(&self, e: &CacheEvent) -> Option<(EventKind, Arc<CachedObject>)> {
        let now = self.matches(&e.object);
        let before = e.prev.as_ref().is_some_and(|p| self.matches(p));
        match e.kind {
            EventKind::Added => now.then(|| (EventKind::Added, e.object.clone())),
            EventKind::Deleted => now.then(|| (EventKind::Deleted, e.object.clone())),
            EventKind::Modified => match (before, now) {
                (true, true) => Some((EventKind::Modified, e.object.clone())),
                (false, true) => Some((EventKind::Added, e.object.clone())),
                (true, false) => Some((EventKind::Deleted, e.object.clone())),
                (false, false) => None,
            },
        }
    }
}

struct State {
    objects: BTreeMap<String, Arc<CachedObject>>,
    /// Every change up to here is applied (events and progress notifications).
    revision: u64,
    /// Revision of the last event applied: later duplicates are dropped by this, not by
    /// `revision`, so an event arriving after a premature progress notification still counts.
    last_event: u64,
    /// Recent events in revision order, with when they were applied.
    history: VecDeque<(Instant, Arc<CacheEvent>)>,
    /// Watches may resume from any revision >= this one.
    oldest: u64,
    /// Created on the first watch: a broadcast ring is preallocated, and most resources
    /// are never watched.
    fanout: Option<broadcast::Sender<Arc<CacheEvent>>>,
}

pub struct Cacher {
    pub resource: Arc<ResourceInfo>,
    store: Arc<dyn Storage>,
    prefix: String,
    state: RwLock<State>,
    revision_tx: watch::Sender<u64>,
    ready_tx: watch::Sender<bool>,
    /// Set when the resource stops being served (its CRD changed or went away).
    stop_tx: watch::Sender<bool>,
}

/// Where a client watch begins.
pub enum WatchStart {
    /// Synthetic ADDED events for the current state, then changes.
    Now,
    /// Changes after this resourceVersion.
    After(u64),
}

/// A registered client watch: the events to send first, then the live feed.
pub struct Subscription {
    pub initial: Vec<Arc<CacheEvent>>,
    pub initial_are_state: bool,
    /// Revision the initial events bring the watcher to.
    pub revision: u64,
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
}

/// A consistent snapshot of matching objects.
pub struct Snapshot {
    pub items: Vec<Arc<CachedObject>>,
    pub revision: u64,
    /// Key of the first match after the page, when there is one.
    pub next: Option<String>,
    pub remaining: u64,
}

impl Cacher {
    pub fn start(store: Arc<dyn Storage>, resource: Arc<ResourceInfo>) -> Arc<Cacher> {
        let cacher = Arc::new(Cacher {
            prefix: resource.key_prefix(),
            resource,
            store,
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                revision: 0,
                last_event: 0,
                history: VecDeque::new(),
                oldest: 0,
                fanout: None,
            }),
            revision_tx: watch::channel(0).0,
            ready_tx: watch::channel(false).0,
            stop_tx: watch::channel(false).0,
        });
        let c = cacher.clone();
        tokio::spawn(async move { c.run().await });
        cacher
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    /// Keep the cache in sync with storage forever: list, then watch; on any watch failure
    /// relist (existing watchers are cut off and resume from their last resourceVersion).
    async fn run(self: Arc<Self>) {
        let mut stop = self.stop_tx.subscribe();
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                r = self.sync_once() => {
                    if let Err(e) = r {
                        tracing::warn!(resource = %self.resource.plural, "watch cache resync: {e}")
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stop following storage and end every client watch: the resource is no longer
    /// served in this form.
    pub fn stop(&self) {
        self.stop_tx.send_replace(true);
        self.write().fanout = None;
    }

    async fn sync_once(&self) -> Result<(), StorageError> {
        let list = self
            .store
            .list(&self.prefix, ListOptions::default())
            .await?;
        let mut objects = BTreeMap::new();
        for kv in &list.items {
            match CachedObject::decode(&self.resource, &kv.key, &kv.value, kv.mod_revision) {
                Ok(o) => {
                    objects.insert(kv.key.clone(), Arc::new(o));
                }
                Err(e) => tracing::error!("skipping undecodable object: {e}"),
            }
        }
        let mut stream = self.store.watch(&self.prefix, list.revision).await?;
        {
            let mut st = self.write();
            st.objects = objects;
            st.revision = list.revision;
            st.last_event = list.revision;
            st.oldest = list.revision;
            st.history.clear();
            // Replacing the sender ends every current watcher: they missed the gap.
            st.fanout = None;
        }
        self.revision_tx.send_replace(list.revision);
        self.ready_tx.send_replace(true);
        while let Some(ev) = stream.next().await {
            let ev = ev?;
            self.apply(ev);
        }
        Err(StorageError::Internal("storage watch ended".into()))
    }

    fn apply(&self, ev: k8rs_storage::WatchEvent) {
        let rev = ev.revision;
        let event = match ev.kind {
            EventType::Progress => None,
            EventType::Put => {
                let value = ev.value.unwrap_or_default();
                match CachedObject::decode(&self.resource, &ev.key, &value, rev) {
                    Ok(o) => Some((o, false)),
                    Err(e) => {
                        tracing::error!("undecodable object in watch: {e}");
                        None
                    }
                }
            }
            EventType::Delete => {
                let prev = ev.prev_value.unwrap_or_default();
                // A deleted object is reported in its last state at the delete's revision.
                match CachedObject::decode(&self.resource, &ev.key, &prev, rev) {
                    Ok(o) => Some((o, true)),
                    Err(e) => {
                        tracing::error!("undecodable object in watch: {e}");
                        None
                    }
                }
            }
        };
        let mut st = self.write();
        if event.is_some() && rev <= st.last_event {
            return;
        }
        st.revision = st.revision.max(rev);
        if let Some((mut obj, deleted)) = event {
            st.last_event = rev;
            let prev = st.objects.get(&obj.key).cloned();
            let kind = match (deleted, &prev) {
                (true, _) => EventKind::Deleted,
                (false, None) => EventKind::Added,
                (false, Some(_)) => EventKind::Modified,
            };
            // The object's JSON lives inside the event's frame: kept once, not twice.
            let frame = obj.embed_in_frame(kind);
            let obj = Arc::new(obj);
            if deleted {
                st.objects.remove(&obj.key);
            } else {
                st.objects.insert(obj.key.clone(), obj.clone());
            }
            let prev = if deleted { Some(obj.clone()) } else { prev };
            let e = Arc::new(CacheEvent::with_frame(kind, rev, obj, prev, frame));
            let now = Instant::now();
            st.history.push_back((now, e.clone()));
            while let Some((at, old)) = st.history.front() {
                let len = st.history.len();
                let stale = len > HISTORY_MIN && now.duration_since(*at) > HISTORY_FRESH;
                if len <= HISTORY_MAX && !stale {
                    break;
                }
                st.oldest = old.rv;
                st.history.pop_front();
            }
            // No receivers is fine.
            if let Some(f) = &st.fanout {
                let _ = f.send(e);
            }
        }
        let revision = st.revision;
        drop(st);
        self.revision_tx.send_replace(revision);
    }

    async fn wait_ready(&self) -> ApiResult<()> {
        let mut rx = self.ready_tx.subscribe();
        let res = tokio::time::timeout(FRESHNESS_WAIT * 5, rx.wait_for(|r| *r))
            .await
            .map(|r| r.is_ok());
        match res {
            Ok(true) => Ok(()),
            _ => Err(ApiError::timeout("the watch cache is not ready")),
        }
    }

    /// Wait until the cache has applied every change up to `rev`.
    pub async fn wait_for(&self, rev: u64) -> ApiResult<()> {
        self.wait_ready().await?;
        let mut rx = self.revision_tx.subscribe();
        if *rx.borrow() >= rev {
            return Ok(());
        }
        // A quiet prefix only learns the store moved on through a progress notification.
        let _ = self.store.request_progress().await;
        let res = tokio::time::timeout(FRESHNESS_WAIT, rx.wait_for(|r| *r >= rev))
            .await
            .map(|r| r.is_ok());
        match res {
            Ok(true) => Ok(()),
            _ => Err(ApiError::timeout(format!(
                "Timeout: Too large resource version: {rev}, current: {}",
                self.revision()
            ))),
        }
    }

    /// Wait until the cache is as fresh as storage (a consistent read).
    pub async fn wait_fresh(&self) -> ApiResult<()> {
        self.wait_ready().await?;
        let current = self
            .store
            .current_revision()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        self.wait_for(current).await
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.read().objects.get(key).cloned()
    }

    /// Matching objects in key order: at most `limit` of them (0: all), plus the key of
    /// the next match and how many matches follow the page.
    pub fn snapshot(&self, filter: &Filter, limit: usize) -> Snapshot {
        let st = self.read();
        let prefix = self.resource.list_prefix(filter.namespace.as_deref());
        let mut matching = st
            .objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, o)| filter.matches(o))
            .map(|(_, o)| o);
        let items: Vec<_> = if limit == 0 {
            matching.by_ref().cloned().collect()
        } else {
            matching.by_ref().take(limit).cloned().collect()
        };
        let next = matching.next().map(|o| o.key.clone());
        let remaining = next.as_ref().map_or(0, |_| 1 + matching.count() as u64);
        Snapshot {
            items,
            revision: st.revision,
            next,
            remaining,
        }
    }

    /// Register a client watch. `After(rev)` older than the cache's window is `Gone`.
    pub async fn subscribe(&self, start: WatchStart) -> ApiResult<Subscription> {
        if let WatchStart::After(rev) = start {
            self.wait_for(rev).await?;
        } else {
            self.wait_ready().await?;
        }
        // Subscribing and reading the state happen under one lock: no event is missed
        // or seen twice between the initial events and the live feed.
        let mut st = self.write();
        let live = st
            .fanout
            .get_or_insert_with(|| broadcast::channel(FANOUT_BUFFER).0)
            .subscribe();
        match start {
            WatchStart::Now => {
                let initial = st
                    .objects
                    .values()
                    .map(|o| Arc::new(CacheEvent::new(EventKind::Added, o.rv, o.clone(), None)))
                    .collect();
                Ok(Subscription {
                    initial,
                    initial_are_state: true,
                    revision: st.revision,
                    live,
                })
            }
            WatchStart::After(rev) => {
                if rev < st.oldest {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {rev} ({})",
                        st.oldest
                    )));
                }
                let from = st.history.partition_point(|(_, e)| e.rv <= rev);
                let initial = st.history.range(from..).map(|(_, e)| e.clone()).collect();
                Ok(Subscription {
                    initial,
                    initial_are_state: false,
                    revision: st.revision,
                    live,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_frame_holds_the_object_json_once() {
        let json = br#"{"kind":"Pod","metadata":{"name":"a","resourceVersion":"7"}}"#;
        let mut o = CachedObject {
            key: "/pods/d/a".into(),
            namespace: "d".into(),
            name: "a".into(),
            rv: 7,
            labels: BTreeMap::new(),
            fields: Vec::new(),
            json: Bytes::from_static(json),
        };
        let frame = o.embed_in_frame(EventKind::Modified);
        assert_eq!(&o.json[..], &json[..]);
        let v: Value = serde_json::from_slice(&frame).unwrap();
        assert_eq!(v["type"], "MODIFIED");
        assert_eq!(v["object"]["metadata"]["resourceVersion"], "7");
        // The object's bytes are a view into the frame's buffer.
        let inside = frame.as_ptr_range();
        assert!(inside.contains(&o.json.as_ptr()));
    }
}

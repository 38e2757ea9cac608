//! Kubernetes storage semantics, as in k8s.io/apiserver's `storage.Interface`.
//!
//! Keys are opaque strings (the API server uses `/registry/<group>/<resource>/<ns>/<name>`),
//! values are opaque bytes (the object's JSON without `resourceVersion`). Every write gets a
//! new, global, strictly increasing revision; an object's `metadata.resourceVersion` is the
//! revision of its last write (`mod_revision`).
//!
//! Two backends implement [`Storage`]: [`embedded::EmbeddedStore`] (the default, one data
//! directory, no other process) and [`etcd::EtcdStore`] (etcd v3).

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub mod embedded;
pub mod etcd;

/// One stored key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (since its last deletion).
    pub create_revision: u64,
    /// Revision of the last write to this key: the object's resourceVersion.
    pub mod_revision: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Create or update. `prev_value` is `None` for a create.
    Put,
    /// Delete. `value` is `None`; `prev_value` holds the last state.
    Delete,
    /// No change under the watched prefix up to `revision`: lets a watch cache know it is
    /// current even when its prefix is quiet (etcd's progress notification).
    Progress,
}

/// A change, delivered in revision order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventType,
    /// Empty for `Progress`.
    pub key: String,
    pub revision: u64,
    pub value: Option<Bytes>,
    pub prev_value: Option<Bytes>,
}

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Read at this revision; `None` (or 0) means the latest.
    pub revision: Option<u64>,
    /// Start at this key (inclusive); must lie under the prefix. Used for `continue`.
    pub start_key: Option<String>,
    /// At most this many items; `None` or 0 means all.
    pub limit: Option<usize>,
    /// Count the items after a limited page in `remaining`. The embedded store must scan
    /// the rest of the range for that, so a page of a large list costs the whole list.
    pub count_remaining: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ListResult {
    /// Items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at (the store's latest revision when none was asked for).
    pub revision: u64,
    /// More items remain after the last one returned.
    pub more: bool,
    /// How many items remain after the last one returned (0 when `more` is false). Only
    /// counted when `count_remaining` was asked for (etcd counts anyway).
    pub remaining: u64,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    #[error("key {0} already exists")]
    AlreadyExists(String),
    #[error("key {0} not found")]
    NotFound(String),
    /// A compare-and-swap precondition failed: the key's mod_revision is not the expected one.
    #[error("conflict on key {key}: current revision is {current}")]
    Conflict { key: String, current: u64 },
    /// The requested revision was compacted away (HTTP 410 "too old resource version").
    #[error("too old resource version: {requested} (compacted: {compacted})")]
    Gone { requested: u64, compacted: u64 },
    /// The requested revision is newer than anything written yet.
    #[error("resource version {requested} is in the future (current: {current})")]
    FutureRevision { requested: u64, current: u64 },
    #[error("storage error: {0}")]
    Internal(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent>> + Send>>;

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Store `value` at `key` if the key does not exist. Returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<u64>;

    /// The latest value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys under `prefix` in key order, at the latest or a given revision. `Gone` if that
    /// revision was compacted, `FutureRevision` if it is not written yet.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult>;

    /// Compare-and-swap: replace `key` only if its mod_revision is `expected_revision`.
    /// `NotFound` if absent, `Conflict` if the revision differs. Returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected_revision: u64) -> Result<u64>;

    /// Delete `key`, optionally only if its mod_revision is `expected_revision`.
    /// Returns the delete's revision and the last value.
    async fn delete(&self, key: &str, expected_revision: Option<u64>) -> Result<(u64, KeyValue)>;

    /// Changes under `prefix` with revision > `after_revision`, in order, then live changes,
    /// interleaved with `Progress` events. `Gone` (as the call's error or the stream's first
    /// item) if `after_revision` + 1 was compacted.
    async fn watch(&self, prefix: &str, after_revision: u64) -> Result<WatchStream>;

    /// Ask every open watch stream to deliver a `Progress` event soon.
    async fn request_progress(&self) -> Result<()>;

    /// The latest revision written.
    async fn current_revision(&self) -> Result<u64>;

    /// Drop history strictly older than `revision`; reads and watches below it become `Gone`.
    async fn compact(&self, revision: u64) -> Result<()>;

    /// Whether a `Progress` event guarantees that every change up to its revision was
    /// delivered first. Consistent reads from a watch cache rely on it; where it does not
    /// hold they read storage instead.
    fn reliable_progress(&self) -> bool {
        true
    }
}

/// Read-modify-write with optimistic concurrency: read `key`, let `update` compute the new
/// value, write it if nobody wrote in between, else retry on the fresh value.
/// `update` returning `Err` aborts without writing.
pub async fn guaranteed_update<E, F>(
    store: &dyn Storage,
    key: &str,
    mut update: F,
) -> std::result::Result<(u64, Bytes), E>
where
    E: From<StorageError>,
    F: FnMut(&KeyValue) -> std::result::Result<Bytes, E>,
{
    // Bounded so that a livelock surfaces as a Conflict instead of a hang.
    const MAX_ATTEMPTS: usize = 64;
    let mut last = StorageError::NotFound(key.to_string());
    for _ in 0..MAX_ATTEMPTS {
        let current = store
            .get(key)
            .await?
            .ok_or_else(|| StorageError::NotFound(key.to_string()))?;
        let value = update(&current)?;
        match store.update(key, value.clone(), current.mod_revision).await {
            Ok(rev) => return Ok((rev, value)),
            Err(e @ StorageError::Conflict { .. }) => last = e,
            Err(StorageError::NotFound(k)) => return Err(StorageError::NotFound(k).into()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

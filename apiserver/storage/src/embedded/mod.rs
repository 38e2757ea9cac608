//! The embedded backend: one redb file in a data directory, no other process.
//!
//! Layout (all in one redb database):
//! - `current`: key -> (create_rev, mod_rev, value). Hot path: `get` and latest `list`.
//! - `history`: (key, rev) -> (create_rev, value or tombstone). Every version since the last
//!   compaction plus, per key, the newest version older than it; answers reads at old revisions
//!   and the `prev_value` of replayed events.
//! - `log`: rev -> key. The revision-ordered change log that watches replay from.
//! - `meta`: "revision" (last revision written) and "compacted" (oldest readable revision).
//!
//! All writes go through one writer thread ([`writer`]) that commits batches (group commit)
//! and then fans the batch's events out to live watchers ([`watch`]).

mod read;
mod watch;
mod writer;

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use crate::{KeyValue, ListOptions, ListResult, Result, Storage, StorageError, WatchStream};
use watch::Hub;
use writer::Op;

pub(crate) const CURRENT: TableDefinition<&str, (u64, u64, &[u8])> =
    TableDefinition::new("current");
/// `history` key: (key, revision).
pub(crate) type HistoryKey = (&'static str, u64);
/// `history` value: (create_revision, value; `None` is a deletion).
pub(crate) type HistoryValue = (u64, Option<&'static [u8]>);
pub(crate) const HISTORY: TableDefinition<HistoryKey, HistoryValue> =
    TableDefinition::new("history");
pub(crate) const LOG: TableDefinition<u64, &str> = TableDefinition::new("log");
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub(crate) const META_REVISION: &str = "revision";
pub(crate) const META_COMPACTED: &str = "compacted";

/// The revision of an empty store. Like etcd, the first write gets revision 2, so that no
/// object ever has resourceVersion "0" or "1" (both have special meanings in Kubernetes).
const INITIAL_REVISION: u64 = 1;

const DB_FILE: &str = "k8rs.redb";

pub(crate) fn internal(e: impl std::fmt::Display) -> StorageError {
    StorageError::Internal(e.to_string())
}

/// Kubernetes storage over a redb file, with group commit and in-process watch fan-out.
pub struct EmbeddedStore {
    db: Arc<Database>,
    hub: Arc<Hub>,
    ops: Option<mpsc::Sender<Op>>,
    writer: Option<JoinHandle<()>>,
}

/// redb's page cache. Its default (1 GiB) fills as the database grows and shows up as
/// server memory; reads are served by the watch cache above, so the store needs pages
/// mostly for writes.
const PAGE_CACHE_BYTES: usize = 128 * 1024 * 1024;

impl EmbeddedStore {
    /// Open (or create) the store in `dir`. Synchronous: it only opens one file and starts the
    /// writer thread, which takes milliseconds.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(internal)?;
        let db = redb::Builder::new()
            .set_cache_size(PAGE_CACHE_BYTES)
            .create(dir.join(DB_FILE))
            .map_err(internal)?;
        let (revision, compacted) = init_tables(&db)?;
        let db = Arc::new(db);
        let hub = Arc::new(Hub::new(revision, compacted));
        let (tx, rx) = mpsc::channel();
        let writer = {
            let db = db.clone();
            let hub = hub.clone();
            std::thread::Builder::new()
                .name("k8rs-storage-writer".into())
                .spawn(move || writer::run(&db, &hub, &rx, revision, compacted))
                .map_err(internal)?
        };
        Ok(Self {
            db,
            hub,
            ops: Some(tx),
            writer: Some(writer),
        })
    }

    async fn submit<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Op) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.ops
            .as_ref()
            .ok_or_else(|| internal("store is closed"))?
            .send(make(tx))
            .map_err(|_| internal("storage writer stopped"))?;
        rx.await
            .map_err(|_| internal("storage writer dropped the request"))?
    }
}

/// Create the tables if missing and read the persisted revision and compacted revision.
fn init_tables(db: &Database) -> Result<(u64, u64)> {
    let txn = db.begin_write().map_err(internal)?;
    let (revision, compacted) = {
        txn.open_table(CURRENT).map_err(internal)?;
        txn.open_table(HISTORY).map_err(internal)?;
        txn.open_table(LOG).map_err(internal)?;
        let mut meta = txn.open_table(META).map_err(internal)?;
        let revision = meta
            .get(META_REVISION)
            .map_err(internal)?
            .map(|g| g.value());
        let compacted = meta
            .get(META_COMPACTED)
            .map_err(internal)?
            .map_or(0, |g| g.value());
        let revision = match revision {
            Some(r) => r,
            None => {
                meta.insert(META_REVISION, INITIAL_REVISION)
                    .map_err(internal)?;
                INITIAL_REVISION
            }
        };
        (revision, compacted)
    };
    txn.commit().map_err(internal)?;
    Ok((revision, compacted))
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the request channel stops the writer after its current batch; joining it
        // lets the same directory be reopened as soon as this returns (once streams are gone).
        self.ops.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        self.hub.close();
    }
}

#[async_trait]
impl Storage for EmbeddedStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<u64> {
        let key = key.to_string();
        self.submit(|reply| Op::Create { key, value, reply }).await
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let txn = self.db.begin_read().map_err(internal)?;
        let table = txn.open_table(CURRENT).map_err(internal)?;
        let found = table.get(key).map_err(internal)?;
        Ok(found.map(|g| {
            let (create_revision, mod_revision, value) = g.value();
            KeyValue {
                key: key.to_string(),
                value: Bytes::copy_from_slice(value),
                create_revision,
                mod_revision,
            }
        }))
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let db = self.db.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || read::list(&db, &prefix, &opts))
            .await
            .map_err(internal)?
    }

    async fn update(&self, key: &str, value: Bytes, expected_revision: u64) -> Result<u64> {
        let key = key.to_string();
        self.submit(|reply| Op::Update {
            key,
            value,
            expected: expected_revision,
            reply,
        })
        .await
    }

    async fn delete(&self, key: &str, expected_revision: Option<u64>) -> Result<(u64, KeyValue)> {
        let key = key.to_string();
        self.submit(|reply| Op::Delete {
            key,
            expected: expected_revision,
            reply,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after_revision: u64) -> Result<WatchStream> {
        watch::watch(self.db.clone(), self.hub.clone(), prefix, after_revision)
    }

    async fn request_progress(&self) -> Result<()> {
        self.hub.request_progress();
        Ok(())
    }

    async fn current_revision(&self) -> Result<u64> {
        Ok(self.hub.revision())
    }

    async fn compact(&self, revision: u64) -> Result<()> {
        self.submit(|reply| Op::Compact { revision, reply }).await
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::EventType;

    #[tokio::test]
    async fn dropped_stream_releases_its_watcher() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let mut w = store.watch("/a/", 0).await.unwrap();
        store.create("/a/1", Bytes::from("1")).await.unwrap();
        assert_eq!(w.next().await.unwrap().unwrap().key, "/a/1");
        assert_eq!(store.hub.watcher_count(), 1);
        drop(w);
        assert_eq!(store.hub.watcher_count(), 0);
    }

    #[tokio::test]
    async fn streams_end_when_the_store_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let rev = store.create("/a/1", Bytes::from("1")).await.unwrap();
        let mut w = store.watch("/a/", rev).await.unwrap();
        let reader = tokio::spawn(async move {
            let mut items = Vec::new();
            while let Some(item) = w.next().await {
                items.push(item.unwrap());
            }
            items
        });
        while store.hub.watcher_count() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let rev = store.create("/b/1", Bytes::from("1")).await.unwrap();
        drop(store);
        let items = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        let got: Vec<_> = items.iter().map(|e| (e.kind, e.revision)).collect();
        assert_eq!(got, vec![(EventType::Progress, rev)]);
    }

    /// A watcher that does not read while many batches commit overflows its channel; the
    /// stream must then catch up from the log by itself, with no gap and no duplicate.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_watcher_catches_up_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let start = store.current_revision().await.unwrap();
        let mut w = store.watch("/a/", start).await.unwrap();
        // Register it: the first item is the catch-up progress note.
        store.create("/b/x", Bytes::from("x")).await.unwrap();
        let first = w.next().await.unwrap().unwrap();
        assert_eq!(first.kind, EventType::Progress);
        assert_eq!(store.hub.watcher_count(), 1);
        // One batch per sequential create: more batches than the channel holds.
        let mut revs = Vec::new();
        for i in 0..(3 * watch::WATCH_CHANNEL_CAPACITY) {
            let key = format!("/a/{i:04}");
            revs.push(store.create(&key, Bytes::from("v")).await.unwrap());
        }
        assert_eq!(store.hub.watcher_count(), 0, "the slow watcher was dropped");
        let mut got = Vec::new();
        while got.len() < revs.len() {
            let ev = w.next().await.unwrap().unwrap();
            if ev.kind == EventType::Put {
                got.push(ev.revision);
            }
        }
        assert_eq!(got, revs);
        assert_eq!(
            store.hub.watcher_count(),
            1,
            "registered again after catching up"
        );
    }
}

//! The etcd v3 backend, mapped onto etcd transactions the way kube-apiserver's etcd3 store does.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, EventType as EtcdEventType, GetOptions, Txn, TxnOp,
    TxnOpResponse, WatchOptions, WatchRequestSender, WatchResponseStream,
};

use crate::{
    EventType, KeyValue, ListOptions, ListResult, Result, Storage, StorageError, WatchEvent,
    WatchStream,
};

type Senders = Arc<Mutex<HashMap<u64, Arc<tokio::sync::Mutex<WatchRequestSender>>>>>;

/// Kubernetes storage over an etcd v3 cluster.
pub struct EtcdStore {
    client: Client,
    /// Request side of every open watch stream, for `request_progress`.
    watchers: Senders,
    next_watch_id: AtomicU64,
}

impl EtcdStore {
    /// Connect to etcd. Async: it dials the endpoints.
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        let client = Client::connect(endpoints, None)
            .await
            .map_err(|e| StorageError::Internal(format!("connecting to etcd: {e}")))?;
        Ok(Self {
            client,
            watchers: Arc::default(),
            next_watch_id: AtomicU64::new(0),
        })
    }
}

fn rev_u64(r: i64) -> u64 {
    // etcd revisions are never negative.
    u64::try_from(r).unwrap_or(0)
}

fn rev_i64(r: u64) -> Result<i64> {
    i64::try_from(r).map_err(|_| StorageError::Internal(format!("revision {r} out of range")))
}

fn etcd_err(e: etcd_client::Error) -> StorageError {
    StorageError::Internal(format!("etcd: {e}"))
}

fn is_compacted(e: &etcd_client::Error) -> bool {
    e.to_string()
        .contains("required revision has been compacted")
}

fn is_future(e: &etcd_client::Error) -> bool {
    e.to_string().contains("future revision")
}

/// The end of the range of keys starting with `prefix` (etcd's `GetPrefixRangeEnd`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff (or empty prefix): to the end of the keyspace.
    vec![0]
}

fn to_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue> {
    Ok(KeyValue {
        key: kv.key_str().map_err(etcd_err)?.to_string(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: rev_u64(kv.create_revision()),
        mod_revision: rev_u64(kv.mod_revision()),
    })
}

fn header_rev(h: Option<&etcd_client::ResponseHeader>) -> Result<u64> {
    h.map(|h| rev_u64(h.revision()))
        .ok_or_else(|| StorageError::Internal("etcd response without header".into()))
}

/// The key's current state from the `else` branch (a get) of a failed transaction.
fn failed_get(resp: &etcd_client::TxnResponse, key: &str) -> Result<StorageError> {
    for op in resp.op_responses() {
        if let TxnOpResponse::Get(get) = op {
            return Ok(match get.kvs().first() {
                Some(kv) => StorageError::Conflict {
                    key: key.to_string(),
                    current: rev_u64(kv.mod_revision()),
                },
                None => StorageError::NotFound(key.to_string()),
            });
        }
    }
    Err(StorageError::Internal(
        "etcd txn without get response".into(),
    ))
}

impl EtcdStore {
    async fn current(&self) -> Result<u64> {
        // A count-only get of one key is the cheapest way to learn the header revision.
        let resp = self
            .client
            .kv_client()
            .get("\0", Some(GetOptions::new().with_count_only()))
            .await
            .map_err(etcd_err)?;
        header_rev(resp.header())
    }
}

#[async_trait]
impl Storage for EtcdStore {
    /// etcd before 3.4.31 can send a progress notification ahead of pending events
    /// (etcd#15220), and Debian ships 3.4.23; kube-apiserver likewise stops trusting
    /// progress for consistent reads on such versions.
    fn reliable_progress(&self) -> bool {
        false
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.to_vec(), None)]);
        let resp = self.client.kv_client().txn(txn).await.map_err(etcd_err)?;
        if !resp.succeeded() {
            return Err(StorageError::AlreadyExists(key.to_string()));
        }
        header_rev(resp.header())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let resp = self
            .client
            .kv_client()
            .get(key, None)
            .await
            .map_err(etcd_err)?;
        resp.kvs().first().map(to_kv).transpose()
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let start = match opts.start_key.as_deref() {
            Some(s) if s > prefix => s,
            _ => prefix,
        };
        let requested = opts.revision.filter(|r| *r > 0);
        if !start.starts_with(prefix) {
            let revision = match requested {
                Some(r) => r,
                None => self.current().await?,
            };
            return Ok(ListResult {
                revision,
                ..ListResult::default()
            });
        }
        let mut get = GetOptions::new().with_range(prefix_end(prefix.as_bytes()));
        if let Some(r) = requested {
            get = get.with_revision(rev_i64(r)?);
        }
        if let Some(l) = opts.limit.filter(|l| *l > 0) {
            get = get.with_limit(i64::try_from(l).unwrap_or(i64::MAX));
        }
        let resp = match self.client.kv_client().get(start, Some(get)).await {
            Ok(r) => r,
            Err(e) if is_compacted(&e) => {
                // etcd does not say how far it compacted; 0 means "unknown".
                return Err(StorageError::Gone {
                    requested: requested.unwrap_or(0),
                    compacted: 0,
                });
            }
            Err(e) if is_future(&e) => {
                return Err(StorageError::FutureRevision {
                    requested: requested.unwrap_or(0),
                    current: self.current().await?,
                });
            }
            Err(e) => return Err(etcd_err(e)),
        };
        let items = resp.kvs().iter().map(to_kv).collect::<Result<Vec<_>>>()?;
        let count = rev_u64(resp.count());
        let remaining = if resp.more() {
            count.saturating_sub(items.len() as u64)
        } else {
            0
        };
        Ok(ListResult {
            revision: match requested {
                Some(r) => r,
                None => header_rev(resp.header())?,
            },
            more: remaining > 0,
            remaining,
            items,
        })
    }

    async fn update(&self, key: &str, value: Bytes, expected_revision: u64) -> Result<u64> {
        let txn = Txn::new()
            .when([
                Compare::mod_revision(key, CompareOp::Equal, rev_i64(expected_revision)?),
                // Guards against expected_revision 0 matching a missing key.
                Compare::create_revision(key, CompareOp::Greater, 0),
            ])
            .and_then([TxnOp::put(key, value.to_vec(), None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client.kv_client().txn(txn).await.map_err(etcd_err)?;
        if !resp.succeeded() {
            return Err(failed_get(&resp, key)?);
        }
        header_rev(resp.header())
    }

    async fn delete(&self, key: &str, expected_revision: Option<u64>) -> Result<(u64, KeyValue)> {
        let mut compares = vec![Compare::create_revision(key, CompareOp::Greater, 0)];
        if let Some(expected) = expected_revision {
            compares.push(Compare::mod_revision(
                key,
                CompareOp::Equal,
                rev_i64(expected)?,
            ));
        }
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client.kv_client().txn(txn).await.map_err(etcd_err)?;
        if !resp.succeeded() {
            return Err(failed_get(&resp, key)?);
        }
        let rev = header_rev(resp.header())?;
        for op in resp.op_responses() {
            if let TxnOpResponse::Delete(del) = op {
                if let Some(prev) = del.prev_kvs().first() {
                    return Ok((rev, to_kv(prev)?));
                }
            }
        }
        // Deleted by someone else between the compare and the delete cannot happen inside
        // one txn; a missing prev_kv means the key was gone.
        Err(StorageError::NotFound(key.to_string()))
    }

    async fn watch(&self, prefix: &str, after_revision: u64) -> Result<WatchStream> {
        let start = after_revision.saturating_add(1);
        let mut options = WatchOptions::new()
            .with_prev_key()
            .with_progress_notify()
            .with_start_revision(rev_i64(start)?);
        options = if prefix.is_empty() {
            options.with_all_keys()
        } else {
            options.with_range(prefix_end(prefix.as_bytes()))
        };
        let stream = self
            .client
            .watch_client()
            .watch(prefix, Some(options))
            .await
            .map_err(etcd_err)?;
        let (sender, responses) = stream.split();
        let sender = Arc::new(tokio::sync::Mutex::new(sender));
        let id = self.next_watch_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.watchers).insert(id, sender.clone());
        let w = EtcdWatch {
            responses,
            buf: VecDeque::new(),
            start,
            done: false,
            _sender: sender,
            _guard: WatchGuard {
                watchers: self.watchers.clone(),
                id,
            },
        };
        Ok(Box::pin(futures::stream::unfold(w, |mut w| async move {
            w.next().await.map(|item| (item, w))
        })))
    }

    async fn request_progress(&self) -> Result<()> {
        let senders: Vec<_> = lock(&self.watchers).values().cloned().collect();
        for s in senders {
            // A stream that is closing cannot take the request; it needs no progress either.
            let _ = s.lock().await.request_progress().await;
        }
        Ok(())
    }

    async fn current_revision(&self) -> Result<u64> {
        self.current().await
    }

    async fn compact(&self, revision: u64) -> Result<()> {
        match self
            .client
            .kv_client()
            .compact(rev_i64(revision)?, None)
            .await
        {
            Ok(_) => Ok(()),
            // Already compacted at or past `revision`: same as the embedded store, a no-op.
            Err(e) if is_compacted(&e) => Ok(()),
            Err(e) if is_future(&e) => Err(StorageError::FutureRevision {
                requested: revision,
                current: self.current().await?,
            }),
            Err(e) => Err(etcd_err(e)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the stream's request sender from the store when the stream is dropped.
struct WatchGuard {
    watchers: Senders,
    id: u64,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        lock(&self.watchers).remove(&self.id);
    }
}

struct EtcdWatch {
    responses: WatchResponseStream,
    buf: VecDeque<WatchEvent>,
    start: u64,
    done: bool,
    // Keeps the request side of the gRPC stream open; dropping both ends cancels the watch.
    _sender: Arc<tokio::sync::Mutex<WatchRequestSender>>,
    _guard: WatchGuard,
}

impl EtcdWatch {
    async fn next(&mut self) -> Option<Result<WatchEvent>> {
        loop {
            if let Some(ev) = self.buf.pop_front() {
                return Some(Ok(ev));
            }
            if self.done {
                return None;
            }
            let resp = match self.responses.message().await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(etcd_err(e)));
                }
            };
            if resp.compact_revision() > 0 {
                self.done = true;
                return Some(Err(StorageError::Gone {
                    requested: self.start,
                    compacted: rev_u64(resp.compact_revision()),
                }));
            }
            if resp.canceled() {
                self.done = true;
                return Some(Err(StorageError::Internal(format!(
                    "etcd canceled the watch: {}",
                    resp.cancel_reason()
                ))));
            }
            if resp.created() {
                continue;
            }
            if resp.events().is_empty() {
                // Progress notification (periodic or requested): no events, header revision.
                let revision = match header_rev(resp.header()) {
                    Ok(r) => r,
                    Err(e) => return Some(Err(e)),
                };
                return Some(Ok(WatchEvent {
                    kind: EventType::Progress,
                    key: String::new(),
                    revision,
                    value: None,
                    prev_value: None,
                }));
            }
            for ev in resp.events() {
                match convert_event(ev) {
                    Ok(e) => self.buf.push_back(e),
                    Err(e) => {
                        self.done = true;
                        self.buf.clear();
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}

fn convert_event(ev: &etcd_client::Event) -> Result<WatchEvent> {
    let kv = ev
        .kv()
        .ok_or_else(|| StorageError::Internal("etcd watch event without kv".into()))?;
    let key = kv.key_str().map_err(etcd_err)?.to_string();
    let prev_value = ev.prev_kv().map(|p| Bytes::copy_from_slice(p.value()));
    let (kind, value) = match ev.event_type() {
        EtcdEventType::Put => (EventType::Put, Some(Bytes::copy_from_slice(kv.value()))),
        EtcdEventType::Delete => (EventType::Delete, None),
    };
    Ok(WatchEvent {
        kind,
        key,
        revision: rev_u64(kv.mod_revision()),
        value,
        prev_value,
    })
}

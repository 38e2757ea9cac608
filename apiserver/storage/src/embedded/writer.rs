//! The single writer thread: group commit.
//!
//! It takes every pending request, applies them in order in one redb write transaction,
//! commits once (one fsync for the whole batch), publishes the batch's events to watchers and
//! only then answers the callers, so a caller that got revision R can watch or list from R.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redb::{Database, ReadableTable, Table};
use tokio::sync::oneshot;

use super::watch::Hub;
use super::{
    internal, HistoryKey, HistoryValue, CURRENT, HISTORY, LOG, META, META_COMPACTED, META_REVISION,
};
use crate::{EventType, KeyValue, Result, StorageError, WatchEvent};

/// Upper bound on requests per transaction, so one batch never holds callers for long.
const MAX_BATCH: usize = 1024;

/// Longest wait for the callers of the previous batch to come back (see `run`).
const LINGER: Duration = Duration::from_micros(500);

pub(crate) enum Op {
    Create {
        key: String,
        value: Bytes,
        reply: oneshot::Sender<Result<u64>>,
    },
    Update {
        key: String,
        value: Bytes,
        expected: u64,
        reply: oneshot::Sender<Result<u64>>,
    },
    Delete {
        key: String,
        expected: Option<u64>,
        reply: oneshot::Sender<Result<(u64, KeyValue)>>,
    },
    Compact {
        revision: u64,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// An answer held back until the batch is committed.
enum Reply {
    Rev(oneshot::Sender<Result<u64>>, Result<u64>),
    Delete(
        oneshot::Sender<Result<(u64, KeyValue)>>,
        Result<(u64, KeyValue)>,
    ),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
}

impl Reply {
    fn is_err(&self) -> bool {
        match self {
            Reply::Rev(_, r) => r.is_err(),
            Reply::Delete(_, r) => r.is_err(),
            Reply::Unit(_, r) => r.is_err(),
        }
    }

    /// Send the answer, or `failed` if the batch did not commit. A caller that went away
    /// (dropped its future) is not an error.
    fn send(self, failed: Option<&StorageError>) {
        match self {
            Reply::Rev(tx, r) => {
                let _ = tx.send(failed.map_or(r, |e| Err(e.clone())));
            }
            Reply::Delete(tx, r) => {
                let _ = tx.send(failed.map_or(r, |e| Err(e.clone())));
            }
            Reply::Unit(tx, r) => {
                let _ = tx.send(failed.map_or(r, |e| Err(e.clone())));
            }
        }
    }
}

/// Revisions as of the last commit; only the writer thread changes them.
#[derive(Clone, Copy)]
struct Revs {
    revision: u64,
    compacted: u64,
}

pub(crate) fn run(
    db: &Database,
    hub: &Hub,
    rx: &mpsc::Receiver<Op>,
    revision: u64,
    compacted: u64,
) {
    let mut committed = Revs {
        revision,
        compacted,
    };
    let mut last_batch = 0;
    while let Ok(first) = rx.recv() {
        let mut ops = Vec::with_capacity(last_batch.max(16));
        ops.push(first);
        // Callers answered by the last batch usually come right back (the next create, or a
        // retry after a conflict). Waiting briefly for them gathers them into one commit and
        // lets conflicting retries compete in the same batch instead of always reading a
        // revision that the commit in flight is about to replace.
        let deadline = Instant::now() + LINGER;
        while ops.len() < last_batch.min(MAX_BATCH) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        last_batch = if ops.len() > 1 { ops.len() } else { 0 };
        let mut replies = Vec::with_capacity(ops.len());
        let mut events = Vec::new();
        let mut revs = committed;
        match apply_batch(db, ops, &mut revs, &mut events, &mut replies) {
            Ok(()) => {
                committed = revs;
                hub.publish(revs.revision, revs.compacted, events);
                // Failed preconditions are answered first: under contention on one key the
                // losers then re-read and queue their retry ahead of the winner's next write,
                // which makes retries round-robin instead of letting one caller win forever.
                let (failed, ok): (Vec<_>, Vec<_>) = replies.into_iter().partition(Reply::is_err);
                for r in failed.into_iter().chain(ok) {
                    r.send(None);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storage write batch failed");
                for r in replies {
                    r.send(Some(&e));
                }
            }
        }
    }
}

/// Apply `ops` in one transaction and commit it. Requests not reached when an engine error
/// aborts the batch are dropped, so their callers get an error too.
fn apply_batch(
    db: &Database,
    ops: Vec<Op>,
    revs: &mut Revs,
    events: &mut Vec<WatchEvent>,
    replies: &mut Vec<Reply>,
) -> Result<()> {
    let before = *revs;
    let txn = db.begin_write().map_err(internal)?;
    let mut t = Tables {
        current: txn.open_table(CURRENT).map_err(internal)?,
        history: txn.open_table(HISTORY).map_err(internal)?,
        log: txn.open_table(LOG).map_err(internal)?,
    };
    for op in ops {
        match op {
            Op::Create { key, value, reply } => {
                let r = create(&mut t, revs, events, key, value)?;
                replies.push(Reply::Rev(reply, r));
            }
            Op::Update {
                key,
                value,
                expected,
                reply,
            } => {
                let r = update(&mut t, revs, events, key, value, expected)?;
                replies.push(Reply::Rev(reply, r));
            }
            Op::Delete {
                key,
                expected,
                reply,
            } => {
                let r = delete(&mut t, revs, events, key, expected)?;
                replies.push(Reply::Delete(reply, r));
            }
            Op::Compact { revision, reply } => {
                let r = compact(&mut t, revs, revision)?;
                replies.push(Reply::Unit(reply, r));
            }
        }
    }
    drop(t);
    if revs.revision == before.revision && revs.compacted == before.compacted {
        // Nothing changed (every request failed its precondition): skip the fsync.
        txn.abort().map_err(internal)?;
        return Ok(());
    }
    {
        let mut meta = txn.open_table(META).map_err(internal)?;
        meta.insert(META_REVISION, revs.revision)
            .map_err(internal)?;
        meta.insert(META_COMPACTED, revs.compacted)
            .map_err(internal)?;
    }
    // Default durability (Immediate): fsynced before commit returns.
    txn.commit().map_err(internal)?;
    Ok(())
}

/// The tables a batch writes, opened once per transaction.
struct Tables<'t> {
    current: Table<'t, &'static str, (u64, u64, &'static [u8])>,
    history: Table<'t, HistoryKey, HistoryValue>,
    log: Table<'t, u64, &'static str>,
}

/// Current (create_rev, mod_rev, value) of `key` within the transaction.
fn current_of(t: &Tables, key: &str) -> Result<Option<(u64, u64, Bytes)>> {
    let found = t.current.get(key).map_err(internal)?;
    Ok(found.map(|g| {
        let (c, m, v) = g.value();
        (c, m, Bytes::copy_from_slice(v))
    }))
}

/// Record a new version of `key` at `rev` (`value` None = tombstone).
fn put_version(
    t: &mut Tables,
    key: &str,
    rev: u64,
    create_rev: u64,
    value: Option<&[u8]>,
) -> Result<()> {
    match value {
        Some(v) => t
            .current
            .insert(key, (create_rev, rev, v))
            .map(drop)
            .map_err(internal)?,
        None => t.current.remove(key).map(drop).map_err(internal)?,
    }
    t.history
        .insert((key, rev), (create_rev, value))
        .map_err(internal)?;
    t.log.insert(rev, key).map_err(internal)?;
    Ok(())
}

/// Outer `Result`: engine failure (aborts the batch). Inner: the caller's answer.
fn create(
    t: &mut Tables,
    revs: &mut Revs,
    events: &mut Vec<WatchEvent>,
    key: String,
    value: Bytes,
) -> Result<Result<u64>> {
    if current_of(t, &key)?.is_some() {
        return Ok(Err(StorageError::AlreadyExists(key)));
    }
    let rev = revs.revision + 1;
    put_version(t, &key, rev, rev, Some(&value))?;
    revs.revision = rev;
    events.push(WatchEvent {
        kind: EventType::Put,
        key,
        revision: rev,
        value: Some(value),
        prev_value: None,
    });
    Ok(Ok(rev))
}

fn update(
    t: &mut Tables,
    revs: &mut Revs,
    events: &mut Vec<WatchEvent>,
    key: String,
    value: Bytes,
    expected: u64,
) -> Result<Result<u64>> {
    let Some((create_rev, mod_rev, prev)) = current_of(t, &key)? else {
        return Ok(Err(StorageError::NotFound(key)));
    };
    if mod_rev != expected {
        return Ok(Err(StorageError::Conflict {
            key,
            current: mod_rev,
        }));
    }
    let rev = revs.revision + 1;
    put_version(t, &key, rev, create_rev, Some(&value))?;
    revs.revision = rev;
    events.push(WatchEvent {
        kind: EventType::Put,
        key,
        revision: rev,
        value: Some(value),
        prev_value: Some(prev),
    });
    Ok(Ok(rev))
}

fn delete(
    t: &mut Tables,
    revs: &mut Revs,
    events: &mut Vec<WatchEvent>,
    key: String,
    expected: Option<u64>,
) -> Result<Result<(u64, KeyValue)>> {
    let Some((create_revision, mod_revision, prev)) = current_of(t, &key)? else {
        return Ok(Err(StorageError::NotFound(key)));
    };
    if expected.is_some_and(|e| e != mod_revision) {
        return Ok(Err(StorageError::Conflict {
            key,
            current: mod_revision,
        }));
    }
    let rev = revs.revision + 1;
    put_version(t, &key, rev, 0, None)?;
    revs.revision = rev;
    events.push(WatchEvent {
        kind: EventType::Delete,
        key: key.clone(),
        revision: rev,
        value: None,
        prev_value: Some(prev.clone()),
    });
    Ok(Ok((
        rev,
        KeyValue {
            key,
            value: prev,
            create_revision,
            mod_revision,
        },
    )))
}

/// Drop history below `target`, keeping per key the newest version older than `target`
/// (unless it is a tombstone), which reads at `target` and later still need.
fn compact(t: &mut Tables, revs: &mut Revs, target: u64) -> Result<Result<()>> {
    if target > revs.revision {
        return Ok(Err(StorageError::FutureRevision {
            requested: target,
            current: revs.revision,
        }));
    }
    if target <= revs.compacted {
        // Already compacted that far: nothing to do (idempotent).
        return Ok(Ok(()));
    }
    // Log entries below the previous compaction are already gone, so the log below `target`
    // names exactly the keys whose history may need trimming.
    let mut keys = BTreeSet::new();
    for entry in t.log.range(..target).map_err(internal)? {
        let (_, k) = entry.map_err(internal)?;
        keys.insert(k.value().to_string());
    }
    t.log.retain_in(..target, |_, _| false).map_err(internal)?;
    for key in &keys {
        let mut old: Vec<(u64, bool)> = Vec::new();
        for entry in t
            .history
            .range((key.as_str(), 0u64)..(key.as_str(), target))
            .map_err(internal)?
        {
            let (k, v) = entry.map_err(internal)?;
            old.push((k.value().1, v.value().1.is_none()));
        }
        let keep_last = old.last().is_some_and(|(_, tombstone)| !tombstone);
        let drop_count = old.len() - usize::from(keep_last);
        for (rev, _) in &old[..drop_count] {
            t.history.remove((key.as_str(), *rev)).map_err(internal)?;
        }
    }
    revs.compacted = target;
    Ok(Ok(()))
}

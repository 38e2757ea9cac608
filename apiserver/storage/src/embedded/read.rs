//! Snapshot reads: `list` at the latest or an older revision, and watch replay from the log.

use bytes::Bytes;
use redb::{Database, ReadTransaction, ReadableDatabase};

use super::{
    internal, HistoryKey, HistoryValue, CURRENT, HISTORY, LOG, META, META_COMPACTED, META_REVISION,
};
use crate::{EventType, KeyValue, ListOptions, ListResult, Result, StorageError, WatchEvent};

/// (revision, compacted) as committed in this snapshot.
fn snapshot_meta(txn: &ReadTransaction) -> Result<(u64, u64)> {
    let meta = txn.open_table(META).map_err(internal)?;
    let rev = meta
        .get(META_REVISION)
        .map_err(internal)?
        .map_or(0, |g| g.value());
    let compacted = meta
        .get(META_COMPACTED)
        .map_err(internal)?
        .map_or(0, |g| g.value());
    Ok((rev, compacted))
}

/// Collects items up to `limit`, and counts the rest when asked to.
struct Page {
    items: Vec<KeyValue>,
    limit: usize,
    count: bool,
    remaining: u64,
}

impl Page {
    fn push(&mut self, make: impl FnOnce() -> KeyValue) {
        if self.items.len() < self.limit {
            self.items.push(make());
        } else {
            self.remaining += 1;
        }
    }

    /// Nothing more to learn from the scan: the page is full and one more item was seen
    /// (so `more` is known), and the rest is not to be counted.
    fn done(&self) -> bool {
        !self.count && self.remaining > 0
    }
}

pub(crate) fn list(db: &Database, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
    let txn = db.begin_read().map_err(internal)?;
    let (current, compacted) = snapshot_meta(&txn)?;
    let at = opts.revision.filter(|r| *r > 0).unwrap_or(current);
    if at < compacted {
        return Err(StorageError::Gone {
            requested: at,
            compacted,
        });
    }
    if at > current {
        return Err(StorageError::FutureRevision {
            requested: at,
            current,
        });
    }
    let start = match opts.start_key.as_deref() {
        Some(s) if s > prefix => s,
        _ => prefix,
    };
    let mut page = Page {
        items: Vec::new(),
        limit: opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX),
        count: opts.count_remaining,
        remaining: 0,
    };
    if start.starts_with(prefix) {
        if at == current {
            list_current(&txn, prefix, start, &mut page)?;
        } else {
            list_history(&txn, prefix, start, at, &mut page)?;
        }
    }
    Ok(ListResult {
        items: page.items,
        revision: at,
        more: page.remaining > 0,
        remaining: page.remaining,
    })
}

fn list_current(txn: &ReadTransaction, prefix: &str, start: &str, page: &mut Page) -> Result<()> {
    let table = txn.open_table(CURRENT).map_err(internal)?;
    for entry in table.range(start..).map_err(internal)? {
        let (k, v) = entry.map_err(internal)?;
        let key = k.value();
        if !key.starts_with(prefix) || page.done() {
            break;
        }
        page.push(|| {
            let (create_revision, mod_revision, value) = v.value();
            KeyValue {
                key: key.to_string(),
                value: Bytes::copy_from_slice(value),
                create_revision,
                mod_revision,
            }
        });
    }
    Ok(())
}

/// State of each key at revision `at`: for each key, its newest version at or below `at`.
fn list_history(
    txn: &ReadTransaction,
    prefix: &str,
    start: &str,
    at: u64,
    page: &mut Page,
) -> Result<()> {
    let table = txn.open_table(HISTORY).map_err(internal)?;
    // The newest version <= `at` of the key being scanned: (key, rev, create_rev, value).
    let mut best: Option<(String, u64, u64, Option<Bytes>)> = None;
    let flush = |best: Option<(String, u64, u64, Option<Bytes>)>, page: &mut Page| {
        if let Some((key, mod_revision, create_revision, Some(value))) = best {
            page.push(|| KeyValue {
                key,
                value,
                create_revision,
                mod_revision,
            });
        }
    };
    for entry in table.range((start, 0u64)..).map_err(internal)? {
        let (k, v) = entry.map_err(internal)?;
        let (key, rev) = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        let same_key = best.as_ref().is_some_and(|b| b.0 == key);
        if !same_key {
            flush(best.take(), page);
            if page.done() {
                return Ok(());
            }
        }
        if rev <= at {
            let (create_rev, value) = v.value();
            best = Some((
                key.to_string(),
                rev,
                create_rev,
                value.map(Bytes::copy_from_slice),
            ));
        } else if !same_key {
            // Key created after `at`: remember it so later versions are grouped, not shown.
            best = Some((key.to_string(), rev, 0, None));
        }
    }
    flush(best, page);
    Ok(())
}

/// One step of a watch replay.
pub(crate) struct Chunk {
    pub events: Vec<WatchEvent>,
    /// Every event under the prefix with revision <= `pos` is in `events` or was sent before.
    pub pos: u64,
    /// `pos` reached the snapshot's head: the watcher may switch to live events.
    pub caught_up: bool,
}

const MAX_CHUNK_EVENTS: usize = 1024;
const MAX_CHUNK_SCAN: usize = 16 * 1024;

/// Events under `prefix` with revision > `pos`, from the log, in bounded chunks.
pub(crate) fn replay_chunk(db: &Database, prefix: &str, pos: u64) -> Result<Chunk> {
    let txn = db.begin_read().map_err(internal)?;
    let (head, compacted) = snapshot_meta(&txn)?;
    if pos.saturating_add(1) < compacted {
        return Err(StorageError::Gone {
            requested: pos.saturating_add(1),
            compacted,
        });
    }
    let log = txn.open_table(LOG).map_err(internal)?;
    let history = txn.open_table(HISTORY).map_err(internal)?;
    let mut events = Vec::new();
    let mut scanned = 0;
    for entry in log.range(pos.saturating_add(1)..).map_err(internal)? {
        let (r, k) = entry.map_err(internal)?;
        let (rev, key) = (r.value(), k.value());
        if rev > head {
            break;
        }
        scanned += 1;
        if key.starts_with(prefix) {
            events.push(event_at(&history, key, rev)?);
        }
        if events.len() >= MAX_CHUNK_EVENTS || scanned >= MAX_CHUNK_SCAN {
            return Ok(Chunk {
                events,
                pos: rev,
                caught_up: rev >= head,
            });
        }
    }
    Ok(Chunk {
        events,
        pos: pos.max(head),
        caught_up: true,
    })
}

/// Rebuild the event written at `rev` to `key`, with the previous value.
fn event_at(
    history: &redb::ReadOnlyTable<HistoryKey, HistoryValue>,
    key: &str,
    rev: u64,
) -> Result<WatchEvent> {
    let value = history
        .get((key, rev))
        .map_err(internal)?
        .ok_or_else(|| internal(format!("history of {key} at {rev} is missing")))?
        .value()
        .1
        .map(Bytes::copy_from_slice);
    let prev_value = match history
        .range((key, 0u64)..(key, rev))
        .map_err(internal)?
        .next_back()
    {
        Some(entry) => entry
            .map_err(internal)?
            .1
            .value()
            .1
            .map(Bytes::copy_from_slice),
        None => None,
    };
    Ok(WatchEvent {
        kind: if value.is_some() {
            EventType::Put
        } else {
            EventType::Delete
        },
        key: key.to_string(),
        revision: rev,
        value,
        prev_value,
    })
}

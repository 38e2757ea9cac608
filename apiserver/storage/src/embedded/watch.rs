//! In-process watch fan-out.
//!
//! A watch first replays the log from its start revision in bounded chunks (reading redb
//! snapshots), then registers with the [`Hub`] once it has caught up with the last published
//! batch, and from then on receives each committed batch's events through a bounded channel.
//! Registration and publication take the same lock and a watcher ignores events at or below
//! the revision it replayed to, so replay and live events meet with no gap and no duplicate.
//!
//! A watcher whose channel fills up (a slow consumer) is unregistered instead of buffering
//! without bound; its stream then drains what it has and transparently replays from the log
//! again, so memory stays bounded and the consumer sees no gap (or `Gone` if that history has
//! been compacted in the meantime).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use redb::Database;
use tokio::sync::mpsc;

use super::{internal, read};
use crate::{EventType, Result, StorageError, WatchEvent, WatchStream};

/// Batches (or progress notes) a watcher may have queued before it counts as too slow.
#[cfg(not(test))]
const WATCH_CHANNEL_CAPACITY: usize = 1024;
/// Small in unit tests, so that overflow is cheap to provoke.
#[cfg(test)]
pub(crate) const WATCH_CHANNEL_CAPACITY: usize = 8;

pub(crate) enum Msg {
    Events(Vec<WatchEvent>),
    Progress(u64),
}

struct Slot {
    prefix: String,
    /// Events at or below this revision were replayed by the watcher itself.
    after: u64,
    tx: mpsc::Sender<Msg>,
    overflowed: Arc<AtomicBool>,
}

struct HubState {
    /// Last revision whose events have been published.
    revision: u64,
    next_id: u64,
    watchers: HashMap<u64, Slot>,
    closed: bool,
}

pub(crate) struct Hub {
    state: Mutex<HubState>,
    revision: AtomicU64,
    compacted: AtomicU64,
}

impl Hub {
    pub(crate) fn new(revision: u64, compacted: u64) -> Self {
        Self {
            state: Mutex::new(HubState {
                revision,
                next_id: 0,
                watchers: HashMap::new(),
                closed: false,
            }),
            revision: AtomicU64::new(revision),
            compacted: AtomicU64::new(compacted),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock cannot leave the map inconsistent; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    pub(crate) fn compacted(&self) -> u64 {
        self.compacted.load(Ordering::Acquire)
    }

    /// Called by the writer after each commit, before it answers the callers. Watchers with
    /// no event in the batch get a progress note instead.
    pub(crate) fn publish(&self, revision: u64, compacted: u64, events: Vec<WatchEvent>) {
        self.compacted.store(compacted, Ordering::Release);
        let mut st = self.lock();
        if revision == st.revision {
            return;
        }
        st.revision = revision;
        self.revision.store(revision, Ordering::Release);
        st.watchers.retain(|_, slot| {
            let mine: Vec<WatchEvent> = events
                .iter()
                .filter(|e| e.revision > slot.after && e.key.starts_with(&slot.prefix))
                .cloned()
                .collect();
            let msg = if mine.is_empty() {
                Msg::Progress(revision)
            } else {
                Msg::Events(mine)
            };
            deliver(slot, msg)
        });
    }

    pub(crate) fn request_progress(&self) {
        let mut st = self.lock();
        let revision = st.revision;
        st.watchers
            .retain(|_, slot| deliver(slot, Msg::Progress(revision)));
    }

    /// Register a watcher that has replayed everything up to `pos`, unless a batch above
    /// `pos` was already published (then it must replay more first).
    fn try_register(self: &Arc<Self>, prefix: &str, pos: u64) -> Registered {
        let mut st = self.lock();
        if st.closed {
            return Registered::Closed;
        }
        if st.revision > pos {
            return Registered::Behind;
        }
        let (tx, rx) = mpsc::channel(WATCH_CHANNEL_CAPACITY);
        let overflowed = Arc::new(AtomicBool::new(false));
        let id = st.next_id;
        st.next_id += 1;
        st.watchers.insert(
            id,
            Slot {
                prefix: prefix.to_string(),
                after: pos,
                tx,
                overflowed: overflowed.clone(),
            },
        );
        Registered::Live(Live {
            rx,
            overflowed,
            _guard: Guard {
                hub: self.clone(),
                id,
            },
        })
    }

    #[cfg(test)]
    pub(crate) fn watcher_count(&self) -> usize {
        self.lock().watchers.len()
    }

    /// The store is closing: end every live stream.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.watchers.clear();
    }
}

/// Keep the slot (true) unless its consumer is gone or too slow.
fn deliver(slot: &Slot, msg: Msg) -> bool {
    match slot.tx.try_send(msg) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            slot.overflowed.store(true, Ordering::Release);
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

enum Registered {
    Live(Live),
    Behind,
    Closed,
}

/// Unregisters the watcher when its stream is dropped.
struct Guard {
    hub: Arc<Hub>,
    id: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.hub.lock().watchers.remove(&self.id);
    }
}

struct Live {
    rx: mpsc::Receiver<Msg>,
    overflowed: Arc<AtomicBool>,
    _guard: Guard,
}

struct Watcher {
    db: Arc<Database>,
    hub: Arc<Hub>,
    prefix: Arc<str>,
    /// Every event with revision <= `pos` has been queued in `buf` or yielded.
    pos: u64,
    /// Highest revision yielded so far (event or progress).
    reported: u64,
    buf: VecDeque<WatchEvent>,
    live: Option<Live>,
    done: bool,
}

pub(crate) fn watch(
    db: Arc<Database>,
    hub: Arc<Hub>,
    prefix: &str,
    after_revision: u64,
) -> Result<WatchStream> {
    let compacted = hub.compacted();
    if after_revision.saturating_add(1) < compacted {
        return Err(StorageError::Gone {
            requested: after_revision.saturating_add(1),
            compacted,
        });
    }
    let w = Watcher {
        db,
        hub,
        prefix: prefix.into(),
        pos: after_revision,
        reported: after_revision,
        buf: VecDeque::new(),
        live: None,
        done: false,
    };
    Ok(Box::pin(futures::stream::unfold(w, |mut w| async move {
        w.next().await.map(|item| (item, w))
    })))
}

impl Watcher {
    async fn next(&mut self) -> Option<Result<WatchEvent>> {
        loop {
            if let Some(ev) = self.buf.pop_front() {
                self.reported = self.reported.max(ev.revision);
                return Some(Ok(ev));
            }
            if self.done {
                return None;
            }
            if let Some(live) = self.live.as_mut() {
                match live.rx.recv().await {
                    Some(Msg::Events(events)) => {
                        if let Some(last) = events.last() {
                            self.pos = self.pos.max(last.revision);
                        }
                        self.buf.extend(events);
                    }
                    // A note older than what was replayed says nothing new.
                    Some(Msg::Progress(rev)) if rev >= self.pos => {
                        self.pos = rev;
                        self.reported = rev;
                        return Some(Ok(progress(rev)));
                    }
                    Some(Msg::Progress(_)) => {}
                    None => {
                        let overflowed = live.overflowed.load(Ordering::Acquire);
                        self.live = None;
                        if !overflowed {
                            // The store was closed.
                            self.done = true;
                        }
                        // Else: dropped for being slow; catch up from the log again.
                    }
                }
                continue;
            }
            if let Err(e) = self.replay_step().await {
                self.done = true;
                return Some(Err(e));
            }
        }
    }

    async fn replay_step(&mut self) -> Result<()> {
        let (db, prefix, pos) = (self.db.clone(), self.prefix.clone(), self.pos);
        let chunk = tokio::task::spawn_blocking(move || read::replay_chunk(&db, &prefix, pos))
            .await
            .map_err(internal)??;
        self.buf.extend(chunk.events);
        self.pos = chunk.pos;
        if chunk.caught_up {
            match self.hub.try_register(&self.prefix, self.pos) {
                Registered::Live(live) => {
                    self.live = Some(live);
                    // Caught up: tell a watcher of a quiet prefix how far the store is.
                    if self.pos > self.reported.max(self.buf.back().map_or(0, |e| e.revision)) {
                        self.buf.push_back(progress(self.pos));
                    }
                }
                Registered::Behind => {}
                Registered::Closed => self.done = true,
            }
        }
        Ok(())
    }
}

fn progress(revision: u64) -> WatchEvent {
    WatchEvent {
        kind: EventType::Progress,
        key: String::new(),
        revision,
        value: None,
        prev_value: None,
    }
}

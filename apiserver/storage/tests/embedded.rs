//! Embedded-only behaviour: slow watchers, bounded disk use under rewrites.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use k8rs_storage::embedded::EmbeddedStore;
use k8rs_storage::{EventType, Storage};

/// A watcher that does not read while many batches commit overflows its channel; the stream
/// must then catch up from the log by itself, with no gap and no duplicate.
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
    // One batch per sequential create: more batches than the channel holds.
    let mut revs = Vec::new();
    for i in 0..1500 {
        revs.push(
            store
                .create(&format!("/a/{i:04}"), Bytes::from("v"))
                .await
                .unwrap(),
        );
    }
    let mut got = Vec::new();
    while got.len() < revs.len() {
        let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if ev.kind == EventType::Put {
            got.push(ev.revision);
        }
    }
    assert_eq!(got, revs);
}

fn db_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// Rewriting the same keys forever, with regular compaction, must not grow the file forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_use_is_bounded_with_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let value = Bytes::from(vec![b'x'; 2048]);
    let mut revs = Vec::new();
    for i in 0..50 {
        revs.push(
            store
                .create(&format!("/k/{i}"), value.clone())
                .await
                .unwrap(),
        );
    }
    let mut sizes = Vec::new();
    for round in 0..60 {
        for (i, rev) in revs.iter_mut().enumerate() {
            *rev = store
                .update(&format!("/k/{i}"), value.clone(), *rev)
                .await
                .unwrap();
        }
        let current = store.current_revision().await.unwrap();
        store.compact(current).await.unwrap();
        if round % 10 == 9 {
            sizes.push(db_size(dir.path()));
        }
    }
    // Growth, if any, must have stopped: the last size is within the first one's bound.
    let (first, last) = (sizes[0], *sizes.last().unwrap());
    assert!(
        last <= first * 2,
        "file grew from {first} to {last}: {sizes:?}"
    );
}

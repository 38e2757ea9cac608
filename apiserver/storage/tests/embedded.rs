//! Embedded-only behaviour: bounded disk use under rewrites. (Slow watchers are covered by
//! unit tests in `src/embedded`, where the channel is small.)

use bytes::Bytes;
use k8rs_storage::embedded::EmbeddedStore;
use k8rs_storage::Storage;

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
        // Concurrent, so that each round is a few group commits (fast even in debug builds).
        let updates = revs.iter().enumerate().map(|(i, rev)| {
            let (store, value) = (&store, value.clone());
            async move { store.update(&format!("/k/{i}"), value, *rev).await.unwrap() }
        });
        revs = futures::future::join_all(updates).await;
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

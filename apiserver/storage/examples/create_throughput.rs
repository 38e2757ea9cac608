//! Measures embedded-store create throughput with concurrent writers (group commit).
//!
//! `cargo run --release -p k8rs-storage --example create_throughput [writers] [creates-per-writer]`

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use k8rs_storage::embedded::EmbeddedStore;
use k8rs_storage::Storage;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let writers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let per_writer: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
    println!("opened an empty store in {:.2?}", t.elapsed());
    // A ~1 KiB value, roughly a small Kubernetes object.
    let value = Bytes::from(vec![b'x'; 1024]);
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (store, value) = (store.clone(), value.clone());
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let key = format!("/registry/pods/ns{w}/pod-{i}");
                    store.create(&key, value.clone()).await.expect("create");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    let elapsed = start.elapsed();
    let total = writers * per_writer;
    println!(
        "{total} creates by {writers} writers in {:.2?}: {:.0} creates/s",
        elapsed,
        total as f64 / elapsed.as_secs_f64()
    );
    drop(store);
    let t = Instant::now();
    let store = EmbeddedStore::open(dir.path()).expect("reopen");
    println!(
        "reopened with {total} keys in {:.2?} (revision {})",
        t.elapsed(),
        store.current_revision().await.expect("revision")
    );
}

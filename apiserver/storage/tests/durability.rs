//! Embedded store durability: reopen after a clean drop, and after `kill -9` of a writer.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use bytes::Bytes;
use k8rs_storage::embedded::EmbeddedStore;
use k8rs_storage::{ListOptions, Storage};

const CHILD_ENV: &str = "K8RS_STORAGE_KILL9_DIR";

#[tokio::test]
async fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = 0;
    {
        let s = EmbeddedStore::open(dir.path()).unwrap();
        for i in 0..20 {
            last = s
                .create(&format!("/k/{i:02}"), Bytes::from(format!("v{i}")))
                .await
                .unwrap();
        }
        s.compact(last - 5).await.unwrap();
    }
    let s = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), last);
    let l = s.list("/k/", ListOptions::default()).await.unwrap();
    assert_eq!(l.items.len(), 20);
    for (i, kv) in l.items.iter().enumerate() {
        assert_eq!(kv.value, Bytes::from(format!("v{i}")));
    }
    // The compaction is durable too.
    let err = s
        .list(
            "/k/",
            ListOptions {
                revision: Some(last - 6),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, k8rs_storage::StorageError::Gone { .. }));
    let next = s.create("/k/new", Bytes::from("x")).await.unwrap();
    assert!(next > last);
}

/// Child side of `survives_kill9`: writes keys from 8 concurrent tasks forever, printing each
/// acknowledged write. Does nothing unless started by the parent.
#[test]
fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round = std::env::var("K8RS_STORAGE_KILL9_ROUND").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = std::sync::Arc::new(EmbeddedStore::open(std::path::Path::new(&dir)).unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                let round = round.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        let key = format!("/k/{round}/{t}/{i}");
                        let rev = store.create(&key, Bytes::from(key.clone())).await.unwrap();
                        println!("ACK {key} {rev}");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[tokio::test]
async fn survives_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<(String, u64)> = Vec::new();
    for round in 0..2 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("K8RS_STORAGE_KILL9_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let before = acked.len();
        while acked.len() < before + 300 {
            let line = lines.next().expect("child ended early").unwrap();
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (key, rev) = rest.split_once(' ').unwrap();
                acked.push((key.to_string(), rev.parse().unwrap()));
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Writes acknowledged just before the kill count too.
        for line in lines {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (key, rev) = rest.split_once(' ').unwrap();
                acked.push((key.to_string(), rev.parse().unwrap()));
            }
        }
        // Check after each round; round 1 also runs on a store recovered from a kill.
        let s = EmbeddedStore::open(dir.path()).unwrap();
        check(&s, &acked).await;
    }
}

async fn check(s: &EmbeddedStore, acked: &[(String, u64)]) {
    let max = acked.iter().map(|(_, r)| *r).max().unwrap();
    for (key, rev) in acked {
        let kv = s.get(key).await.unwrap().expect("acknowledged write lost");
        assert_eq!(kv.mod_revision, *rev);
        assert_eq!(kv.value, Bytes::from(key.clone()));
    }
    assert!(s.current_revision().await.unwrap() >= max);
    let next = s.create("/after-kill", Bytes::from("x")).await.unwrap();
    assert!(next > max);
    s.delete("/after-kill", None).await.unwrap();
}

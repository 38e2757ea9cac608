//! One behavioural suite, run against both backends (embedded redb and a real etcd).

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use k8rs_storage::{
    guaranteed_update, EventType, ListOptions, Storage, StorageError, WatchEvent, WatchStream,
};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Next item of a watch, failing the test if none comes within 10s.
async fn next_item(w: &mut WatchStream) -> Result<WatchEvent, StorageError> {
    tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("watch produced nothing for 10s")
        .expect("watch stream ended")
}

/// The next `n` Put/Delete events, skipping progress notes.
async fn next_events(w: &mut WatchStream, n: usize) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    while out.len() < n {
        let ev = next_item(w).await.unwrap();
        if ev.kind != EventType::Progress {
            out.push(ev);
        }
    }
    out
}

mod cases {
    use super::*;

    pub async fn revisions_increase(s: &Arc<dyn Storage>, p: &str) {
        let start = s.current_revision().await.unwrap();
        let r1 = s.create(&format!("{p}a"), b("1")).await.unwrap();
        let r2 = s.create(&format!("{p}b"), b("2")).await.unwrap();
        let r3 = s.update(&format!("{p}a"), b("3"), r1).await.unwrap();
        let (r4, last) = s.delete(&format!("{p}b"), None).await.unwrap();
        assert!(
            start < r1 && r1 < r2 && r2 < r3 && r3 < r4,
            "{start} {r1} {r2} {r3} {r4}"
        );
        assert_eq!(last.mod_revision, r2);
        assert!(s.current_revision().await.unwrap() >= r4);
        let a = s.get(&format!("{p}a")).await.unwrap().unwrap();
        assert_eq!(
            (a.create_revision, a.mod_revision, a.value),
            (r1, r3, b("3"))
        );
        assert_eq!(s.get(&format!("{p}b")).await.unwrap(), None);
    }

    pub async fn create_exists(s: &Arc<dyn Storage>, p: &str) {
        let k = format!("{p}x");
        let rev = s.create(&k, b("1")).await.unwrap();
        assert_eq!(
            s.create(&k, b("2")).await.unwrap_err(),
            StorageError::AlreadyExists(k.clone())
        );
        let kv = s.get(&k).await.unwrap().unwrap();
        assert_eq!((kv.value, kv.mod_revision), (b("1"), rev));
    }

    pub async fn cas_conflict(s: &Arc<dyn Storage>, p: &str) {
        let k = format!("{p}x");
        let r1 = s.create(&k, b("1")).await.unwrap();
        let r2 = s.update(&k, b("2"), r1).await.unwrap();
        assert_eq!(
            s.update(&k, b("3"), r1).await.unwrap_err(),
            StorageError::Conflict {
                key: k.clone(),
                current: r2
            }
        );
        assert_eq!(s.get(&k).await.unwrap().unwrap().value, b("2"));
        let missing = format!("{p}missing");
        assert_eq!(
            s.update(&missing, b("1"), r1).await.unwrap_err(),
            StorageError::NotFound(missing.clone())
        );
        assert_eq!(
            s.update(&missing, b("1"), 0).await.unwrap_err(),
            StorageError::NotFound(missing)
        );
    }

    pub async fn delete_preconditions(s: &Arc<dyn Storage>, p: &str) {
        let k = format!("{p}x");
        let r1 = s.create(&k, b("1")).await.unwrap();
        let r2 = s.update(&k, b("2"), r1).await.unwrap();
        assert_eq!(
            s.delete(&k, Some(r1)).await.unwrap_err(),
            StorageError::Conflict {
                key: k.clone(),
                current: r2
            }
        );
        let (rd, last) = s.delete(&k, Some(r2)).await.unwrap();
        assert!(rd > r2);
        assert_eq!(last.key, k);
        assert_eq!(last.value, b("2"));
        assert_eq!((last.create_revision, last.mod_revision), (r1, r2));
        assert_eq!(
            s.delete(&k, None).await.unwrap_err(),
            StorageError::NotFound(k.clone())
        );
        // Recreate: a new create_revision; unconditional delete.
        let r3 = s.create(&k, b("3")).await.unwrap();
        assert_eq!(s.get(&k).await.unwrap().unwrap().create_revision, r3);
        let (r4, last) = s.delete(&k, None).await.unwrap();
        assert!(r4 > r3);
        assert_eq!(last.value, b("3"));
    }

    pub async fn list_pagination(s: &Arc<dyn Storage>, p: &str) {
        for i in 0..10 {
            s.create(&format!("{p}k{i:02}"), b(&i.to_string()))
                .await
                .unwrap();
        }
        // A key just outside the prefix must never show up.
        let outside = format!("{}x", p.trim_end_matches('/'));
        s.create(&outside, b("no")).await.unwrap();
        let first = s
            .list(
                p,
                ListOptions {
                    limit: Some(3),
                    count_remaining: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(first.items.len(), 3);
        assert!(first.more);
        assert_eq!(first.remaining, 7);
        let uncounted = s
            .list(
                p,
                ListOptions {
                    limit: Some(3),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(uncounted.items, first.items);
        assert!(uncounted.more);
        let at = first.revision;
        // (Other tests may write to a shared etcd meanwhile.)
        assert!(at <= s.current_revision().await.unwrap());
        // Later writes must not show up in the continuation at the same revision.
        s.create(&format!("{p}k05a"), b("new")).await.unwrap();
        let r = s
            .get(&format!("{p}k07"))
            .await
            .unwrap()
            .unwrap()
            .mod_revision;
        s.update(&format!("{p}k07"), b("changed"), r).await.unwrap();
        s.delete(&format!("{p}k09"), None).await.unwrap();

        let mut all = first.items.clone();
        let mut last = first;
        while last.more {
            let start = format!("{}\0", last.items.last().unwrap().key);
            last = s
                .list(
                    p,
                    ListOptions {
                        revision: Some(at),
                        start_key: Some(start),
                        limit: Some(3),
                        count_remaining: true,
                    },
                )
                .await
                .unwrap();
            assert_eq!(last.revision, at);
            assert_eq!(
                last.remaining,
                10 - all.len() as u64 - last.items.len() as u64
            );
            all.extend(last.items.clone());
        }
        let keys: Vec<_> = all.iter().map(|kv| kv.key.clone()).collect();
        let want: Vec<_> = (0..10).map(|i| format!("{p}k{i:02}")).collect();
        assert_eq!(keys, want);
        for (i, kv) in all.iter().enumerate() {
            assert_eq!(kv.value, b(&i.to_string()));
        }
        // Latest, unpaginated: sees the later writes.
        let latest = s.list(p, ListOptions::default()).await.unwrap();
        assert_eq!(latest.items.len(), 10);
        assert!(!latest.more);
        assert_eq!(latest.remaining, 0);
        assert!(latest.items.iter().any(|kv| kv.value == b("changed")));
    }

    pub async fn list_old_revision(s: &Arc<dyn Storage>, p: &str) {
        let (k1, k2, k3) = (format!("{p}1"), format!("{p}2"), format!("{p}3"));
        let c1 = s.create(&k1, b("a")).await.unwrap();
        let c2 = s.create(&k2, b("b")).await.unwrap();
        let u1 = s.update(&k1, b("a2"), c1).await.unwrap();
        s.delete(&k2, None).await.unwrap();
        let c3 = s.create(&k3, b("c")).await.unwrap();
        let c2b = s.create(&k2, b("b2")).await.unwrap();

        let at = |rev| ListOptions {
            revision: Some(rev),
            ..Default::default()
        };
        let view = |items: &[k8rs_storage::KeyValue]| {
            items
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.clone(),
                        kv.create_revision,
                        kv.mod_revision,
                    )
                })
                .collect::<Vec<_>>()
        };
        let l = s.list(p, at(c2)).await.unwrap();
        assert_eq!(l.revision, c2);
        assert_eq!(
            view(&l.items),
            vec![(k1.clone(), b("a"), c1, c1), (k2.clone(), b("b"), c2, c2)]
        );
        let l = s.list(p, at(c3)).await.unwrap();
        assert_eq!(
            view(&l.items),
            vec![(k1.clone(), b("a2"), c1, u1), (k3.clone(), b("c"), c3, c3)]
        );
        let l = s.list(p, at(c1 - 1)).await.unwrap();
        assert!(l.items.is_empty());
        let l = s.list(p, ListOptions::default()).await.unwrap();
        assert_eq!(
            view(&l.items),
            vec![
                (k1.clone(), b("a2"), c1, u1),
                (k2.clone(), b("b2"), c2b, c2b),
                (k3.clone(), b("c"), c3, c3)
            ]
        );
        // Old revision with a limit, with and without counting the rest.
        for count_remaining in [true, false] {
            let l = s
                .list(
                    p,
                    ListOptions {
                        revision: Some(c3),
                        limit: Some(1),
                        count_remaining,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(view(&l.items), vec![(k1.clone(), b("a2"), c1, u1)]);
            assert!(l.more);
            if count_remaining {
                assert_eq!(l.remaining, 1);
            }
        }
    }

    pub async fn future_revision(s: &Arc<dyn Storage>, p: &str) {
        s.create(&format!("{p}x"), b("1")).await.unwrap();
        let cur = s.current_revision().await.unwrap();
        let err = s
            .list(
                p,
                ListOptions {
                    revision: Some(cur + 1000),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::FutureRevision { requested, .. } if requested == cur + 1000),
            "{err:?}"
        );
    }

    pub async fn compaction(s: &Arc<dyn Storage>, p: &str) {
        let k = format!("{p}x");
        let other = format!("{p}y");
        let mut rev = s.create(&k, b("0")).await.unwrap();
        let mut revs = vec![rev];
        s.create(&other, b("gone-soon")).await.unwrap();
        s.delete(&other, None).await.unwrap();
        for i in 1..20 {
            rev = s.update(&k, b(&i.to_string()), rev).await.unwrap();
            revs.push(rev);
        }
        let mid = revs[10];
        s.compact(mid).await.unwrap();
        // Compacting again at or below is harmless.
        s.compact(mid).await.unwrap();
        s.compact(revs[3]).await.unwrap();

        let at = |rev| ListOptions {
            revision: Some(rev),
            ..Default::default()
        };
        let err = s.list(p, at(mid - 1)).await.unwrap_err();
        assert!(matches!(err, StorageError::Gone { .. }), "{err:?}");
        let l = s.list(p, at(mid)).await.unwrap();
        assert_eq!(l.items.len(), 1);
        assert_eq!(l.items[0].value, b("10"));
        let l = s.list(p, at(revs[15])).await.unwrap();
        assert_eq!(l.items[0].value, b("15"));

        // Watch from a compacted revision: Gone, from the call or as the first item.
        match s.watch(p, mid - 2).await {
            Err(e) => assert!(matches!(e, StorageError::Gone { .. }), "{e:?}"),
            Ok(mut w) => {
                let e = next_item(&mut w).await.unwrap_err();
                assert!(matches!(e, StorageError::Gone { .. }), "{e:?}");
            }
        }
        // Watch from exactly the compacted revision replays the rest, with prev values.
        let mut w = s.watch(p, mid - 1).await.unwrap();
        let evs = next_events(&mut w, 10).await;
        let got: Vec<_> = evs.iter().map(|e| e.revision).collect();
        assert_eq!(got, revs[10..].to_vec());
        assert_eq!(evs[0].value, Some(b("10")));
        // etcd omits a prev_kv older than the compacted revision; the embedded store keeps it.
        assert!(evs[0].prev_value.as_ref().is_none_or(|v| *v == b("9")));
        assert_eq!(evs[1].prev_value, Some(b("10")));

        // Rewrites plus compaction keep working and reads stay exact.
        for i in 20..60 {
            rev = s.update(&k, b(&i.to_string()), rev).await.unwrap();
        }
        s.compact(rev).await.unwrap();
        let l = s.list(p, at(rev)).await.unwrap();
        assert_eq!(l.items[0].value, b("59"));
        assert_eq!(s.get(&k).await.unwrap().unwrap().mod_revision, rev);
        let err = s.compact(rev + 100).await.unwrap_err();
        assert!(
            matches!(err, StorageError::FutureRevision { .. }),
            "{err:?}"
        );
    }

    pub async fn watch_replay_and_live(s: &Arc<dyn Storage>, p: &str) {
        let outside = format!("{}other/", p.trim_end_matches('/'));
        let mut revs = Vec::new();
        for i in 0..5 {
            revs.push(s.create(&format!("{p}k{i}"), b("v")).await.unwrap());
            s.create(&format!("{outside}k{i}"), b("v")).await.unwrap();
        }
        let after = revs[1];
        let mut w = s.watch(p, after).await.unwrap();
        // Live writes racing with the replay.
        let writer = async {
            let mut live = Vec::new();
            for i in 5..25 {
                live.push(s.create(&format!("{p}k{i}"), b("v")).await.unwrap());
                s.create(&format!("{outside}k{i}"), b("v")).await.unwrap();
            }
            live
        };
        let (live, evs) = tokio::join!(writer, next_events(&mut w, 23));
        let mut want = revs[2..].to_vec();
        want.extend(live);
        let got: Vec<_> = evs.iter().map(|e| e.revision).collect();
        assert_eq!(got, want);
        assert!(evs
            .iter()
            .all(|e| e.key.starts_with(p) && e.kind == EventType::Put && e.prev_value.is_none()));
        // Nothing else (no duplicate) arrives: only progress notes.
        let quiet = tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                let ev = next_item(&mut w).await.unwrap();
                assert_eq!(ev.kind, EventType::Progress, "unexpected {ev:?}");
            }
        })
        .await;
        assert!(quiet.is_err());
    }

    pub async fn watch_prev_value(s: &Arc<dyn Storage>, p: &str) {
        let k = format!("{p}x");
        let start = s.current_revision().await.unwrap();
        let mut w = s.watch(p, start).await.unwrap();
        let r1 = s.create(&k, b("1")).await.unwrap();
        let r2 = s.update(&k, b("2"), r1).await.unwrap();
        let (r3, _) = s.delete(&k, Some(r2)).await.unwrap();
        let evs = next_events(&mut w, 3).await;
        let view: Vec<_> = evs
            .iter()
            .map(|e| {
                (
                    e.kind,
                    e.key.clone(),
                    e.revision,
                    e.value.clone(),
                    e.prev_value.clone(),
                )
            })
            .collect();
        assert_eq!(
            view,
            vec![
                (EventType::Put, k.clone(), r1, Some(b("1")), None),
                (EventType::Put, k.clone(), r2, Some(b("2")), Some(b("1"))),
                (EventType::Delete, k.clone(), r3, None, Some(b("2"))),
            ]
        );
        // The same history, replayed.
        let mut w = s.watch(p, start).await.unwrap();
        let replayed = next_events(&mut w, 3).await;
        assert_eq!(replayed, evs);
    }

    pub async fn progress_on_quiet_prefix(s: &Arc<dyn Storage>, p: &str) {
        let quiet = format!("{p}quiet/");
        let busy = format!("{p}busy/");
        let start = s.current_revision().await.unwrap();
        let mut w = s.watch(&quiet, start).await.unwrap();
        let rev = s.create(&format!("{busy}x"), b("1")).await.unwrap();
        // A request may race with the watch's creation; ask again until one is answered.
        for _ in 0..10 {
            s.request_progress().await.unwrap();
            let got = tokio::time::timeout(Duration::from_secs(1), async {
                loop {
                    let ev = next_item(&mut w).await.unwrap();
                    assert_eq!(ev.kind, EventType::Progress, "unexpected {ev:?}");
                    assert!(ev.key.is_empty() && ev.value.is_none());
                    if ev.revision >= rev {
                        return;
                    }
                }
            })
            .await;
            if got.is_ok() {
                return;
            }
        }
        panic!("no progress event reached revision {rev}");
    }

    pub async fn guaranteed_update_concurrent(s: &Arc<dyn Storage>, p: &str) {
        let k = format!("{p}counter");
        s.create(&k, b("0")).await.unwrap();
        // Spawned (not joined in one task) so that no writer always goes first.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (s, k) = (s.clone(), k.clone());
                tokio::spawn(async move {
                    for _ in 0..25 {
                        guaranteed_update::<StorageError, _>(s.as_ref(), &k, |kv| {
                            let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                            Ok(b(&(n + 1).to_string()))
                        })
                        .await
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(s.get(&k).await.unwrap().unwrap().value, b("200"));
    }
}

/// Generates one `#[tokio::test]` per case and backend. `shared` cases run against the
/// shared etcd process; `isolated` ones (which compact, a global operation) get their own.
macro_rules! suite {
    (shared: [$($shared:ident),* $(,)?], isolated: [$($isolated:ident),* $(,)?] $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $shared() {
                    let be = crate::common::embedded();
                    crate::cases::$shared(&be.store, &be.prefix).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $isolated() {
                    let be = crate::common::embedded();
                    crate::cases::$isolated(&be.store, &be.prefix).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $shared() {
                    let be = crate::common::etcd_shared(stringify!($shared)).await;
                    crate::cases::$shared(&be.store, &be.prefix).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $isolated() {
                    let be = crate::common::etcd_dedicated(stringify!($isolated)).await;
                    crate::cases::$isolated(&be.store, &be.prefix).await;
                }
            )*
        }
    };
}

suite!(
    shared: [
        revisions_increase,
        create_exists,
        cas_conflict,
        delete_preconditions,
        list_pagination,
        list_old_revision,
        future_revision,
        watch_replay_and_live,
        watch_prev_value,
        progress_on_quiet_prefix,
        guaranteed_update_concurrent,
    ],
    isolated: [compaction],
);

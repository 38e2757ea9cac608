//! Watches shared between controllers, as upstream's shared informers: every controller
//! that follows pods is fed from one watch and one cache, so the API server streams, and
//! this process decodes, each change once rather than once per controller.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use tokio::sync::mpsc;

/// Changes a subscriber may fall behind before the shared watch waits for it.
const BUFFER: usize = 1024;

type Objects<K> = HashMap<String, Arc<K>>;

/// One shared watch of a kind: a cache of every object, and a feed of the objects that
/// were added, changed or deleted, to any number of subscribers.
pub struct Shared<K> {
    api: Api<K>,
    cache: Arc<Cache<K>>,
    subscribers: Arc<Mutex<Vec<mpsc::Sender<Arc<K>>>>>,
    /// Something subscribed or took the cache: the watch is worth running.
    used: AtomicBool,
    started: AtomicBool,
}

/// The objects as last listed and watched; empty until the first list is in.
pub struct Cache<K> {
    objects: RwLock<Objects<K>>,
    ready: AtomicBool,
}

impl<K> Cache<K> {
    /// Every object.
    pub fn state(&self) -> Vec<Arc<K>> {
        self.read().values().cloned().collect()
    }

    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        self.read().get(&key(namespace, name)).cloned()
    }

    /// Whether the first list has been applied.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Objects<K>> {
        self.objects.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Objects<K>> {
        self.objects.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

fn key_of<K: Resource>(o: &K) -> String {
    key(
        o.meta().namespace.as_deref(),
        o.meta().name.as_deref().unwrap_or_default(),
    )
}

impl<K> Shared<K>
where
    K: Resource + Clone + serde::de::DeserializeOwned + Debug + Send + Sync + 'static,
{
    pub fn new(api: Api<K>) -> Shared<K> {
        Shared {
            api,
            cache: Arc::new(Cache {
                objects: RwLock::new(HashMap::new()),
                ready: false.into(),
            }),
            subscribers: Default::default(),
            used: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }
    }

    pub fn cache(&self) -> Arc<Cache<K>> {
        self.used.store(true, Ordering::Relaxed);
        self.cache.clone()
    }

    fn subscribers(&self) -> MutexGuard<'_, Vec<mpsc::Sender<Arc<K>>>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The objects touched from now on (applied or deleted; after a relist, every object
    /// listed), starting with those already cached: what a controller maps to the keys
    /// it reconciles. Subscribe before `start` to miss nothing of the first list.
    pub fn subscribe(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        let (tx, rx) = mpsc::channel(BUFFER);
        let known = self.cache.state();
        if !known.is_empty() {
            let tx = tx.clone();
            tokio::spawn(async move {
                for o in known {
                    if tx.send(o).await.is_err() {
                        return;
                    }
                }
            });
        }
        self.subscribers().push(tx);
        self.used.store(true, Ordering::Relaxed);
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|o| (o, rx)) })
    }

    /// Start the watch (once), if anything uses it.
    pub fn start(&self) {
        if !self.used.load(Ordering::Relaxed) || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(follow(
            self.api.clone(),
            self.cache.clone(),
            self.subscribers.clone(),
        ));
    }
}

async fn follow<K>(
    api: Api<K>,
    cache: Arc<Cache<K>>,
    subscribers: Arc<Mutex<Vec<mpsc::Sender<Arc<K>>>>>,
) where
    K: Resource + Clone + serde::de::DeserializeOwned + Debug + Send + Sync + 'static,
{
    // managedFields are read by no controller and are the bulk of most objects.
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|o| o.meta_mut().managed_fields = None)
        .boxed();
    let mut listing: Objects<K> = HashMap::new();
    while let Some(ev) = events.next().await {
        let touched = match ev {
            Ok(Event::Apply(o)) => {
                let o = Arc::new(o);
                cache.write().insert(key_of(&*o), o.clone());
                o
            }
            Ok(Event::Delete(o)) => {
                let o = Arc::new(o);
                cache.write().remove(&key_of(&*o));
                o
            }
            Ok(Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(Event::InitApply(o)) => {
                let o = Arc::new(o);
                listing.insert(key_of(&*o), o.clone());
                o
            }
            Ok(Event::InitDone) => {
                *cache.write() = std::mem::take(&mut listing);
                cache.ready.store(true, Ordering::Release);
                continue;
            }
            Err(e) => {
                tracing::debug!("shared watch: {e}");
                continue;
            }
        };
        let subs: Vec<_> = {
            let mut subs = subscribers.lock().unwrap_or_else(|p| p.into_inner());
            subs.retain(|s| !s.is_closed());
            subs.clone()
        };
        // A slow subscriber holds the watch back rather than lose a change.
        for s in subs {
            let _ = s.send(touched.clone()).await;
        }
    }
}

/// The shared watches of a controller manager.
pub struct Informers {
    pub pods: Shared<Pod>,
}

impl Informers {
    pub fn new(client: &Client) -> Informers {
        Informers {
            pods: Shared::new(Api::all(client.clone())),
        }
    }

    /// Start every watch something subscribed to or took the cache of.
    pub fn start(&self) {
        self.pods.start();
    }
}

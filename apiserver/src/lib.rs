//! The k8rs API server: every built-in resource served by one generic REST handler over a
//! storage backend (embedded or etcd), LIST and WATCH served from a watch cache, discovery
//! and OpenAPI generated from the same resource descriptions, HTTPS with x509 client auth.

pub mod admission;
pub mod apply;
pub mod bootstrap;
pub mod builtin;
pub mod cacher;
pub mod computed;
pub mod conversion;
pub mod crd;
pub mod defaults;
pub mod deletion;
pub mod discovery;
pub mod encode;
pub mod eviction;
pub mod handler;
pub mod jwt;
pub mod kind_validation;
pub mod kubernetes_endpoints;
pub mod object;
pub mod openapi;
pub mod params;
pub mod patch;
pub mod pod_spec_validation;
pub mod pod_validation;
pub mod printers;
pub mod protobuf;
pub mod quota;
pub mod request;
pub mod resource;
pub mod rest;
pub mod sa_token;
pub mod scale;
pub mod schema;
pub mod selector;
pub mod server;
pub mod service_validation;
pub mod status;
pub mod strategy;
pub mod tls;
pub mod validation;
pub mod version;
pub mod workload_validation;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use k8rs_storage::Storage;

use crate::cacher::Cacher;
use crate::handler::Api;
use crate::rest::{Rest, WriteOptions};

/// How `k8rs server` is configured (the CLI maps its flags onto this).
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind_address: String,
    pub secure_port: u16,
    pub kubeconfig_path: PathBuf,
    /// Use etcd at these endpoints instead of the embedded store.
    pub etcd_servers: Vec<String>,
    /// Service cluster IP and NodePort ranges.
    pub service_ranges: defaults::ipalloc::Ranges,
}

/// How much history storage keeps: revisions older than this are compacted, as
/// kube-apiserver compacts etcd every five minutes.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

async fn open_storage(config: &Config) -> Result<Arc<dyn Storage>> {
    if config.etcd_servers.is_empty() {
        let dir = config.data_dir.join("db");
        let store = k8rs_storage::embedded::EmbeddedStore::open(&dir)
            .with_context(|| format!("opening the embedded store in {}", dir.display()))?;
        Ok(Arc::new(store))
    } else {
        let store = k8rs_storage::etcd::EtcdStore::connect(&config.etcd_servers)
            .await
            .with_context(|| format!("connecting to etcd at {}", config.etcd_servers.join(",")))?;
        Ok(Arc::new(store))
    }
}

/// The API of every built-in resource over `store`, with its watch caches started.
pub fn build_api(store: Arc<dyn Storage>, server_address: &str) -> Result<Arc<Api>> {
    let resources: Vec<Arc<_>> = builtin::resources().into_iter().map(Arc::new).collect();
    let rests = resources
        .iter()
        .filter(|r| r.virtual_kind.is_none())
        .map(|info| {
            Arc::new(Rest {
                cache: Cacher::start(store.clone(), info.clone()),
                info: info.clone(),
                store: store.clone(),
                update_admission: Default::default(),
            })
        })
        .collect();
    let api = Arc::new(Api::new(&resources, rests, store, server_address)?);
    let weak: std::sync::Weak<Api> = Arc::downgrade(&api);
    let admission: std::sync::Weak<dyn rest::UpdateAdmission> = weak;
    for r in api.rests() {
        let _ = r.update_admission.set(admission.clone());
    }
    Ok(api)
}

/// Create what every cluster starts with; existing objects are left alone.
pub async fn bootstrap(api: &Api) -> Result<()> {
    let opts = WriteOptions::internal();
    for (group, version, plural, body) in bootstrap::objects() {
        let rest = api
            .rest(group, version, plural)
            .with_context(|| format!("{plural} are not registered"))?;
        let name = body["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ns = body["metadata"]["namespace"].as_str().map(str::to_string);
        match rest.create(ns.as_deref(), body, opts).await {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => anyhow::bail!("creating {plural} {name}: {}", e.message),
        }
    }
    Ok(())
}

/// Compact storage history periodically, keeping at least one interval of it.
fn spawn_compactor(store: Arc<dyn Storage>) {
    tokio::spawn(async move {
        let mut previous = None;
        loop {
            tokio::time::sleep(COMPACTION_INTERVAL).await;
            let Ok(current) = store.current_revision().await else {
                continue;
            };
            if let Some(rev) = previous {
                if let Err(e) = store.compact(rev).await {
                    tracing::warn!("compaction at {rev}: {e}");
                }
            }
            previous = Some(current);
        }
    });
}

/// Run the API server until SIGTERM or SIGINT. Once it is ready, `on_ready` is called with
/// the admin kubeconfig: the all-in-one server starts its in-process API clients
/// (controllers) from there.
pub async fn run(config: Config, on_ready: impl FnOnce(String)) -> Result<()> {
    let started = std::time::Instant::now();
    defaults::ipalloc::configure(config.service_ranges.clone()).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let pki = tls::Pki::load_or_create(&config.data_dir, &config.bind_address)?;
    let ip: std::net::IpAddr = config
        .bind_address
        .parse()
        .with_context(|| format!("--bind-address {}", config.bind_address))?;
    let addr = SocketAddr::new(ip, config.secure_port);
    let listener = server::bind(addr).await?;
    let local = listener.local_addr()?;
    let client_host = if ip.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        ip.to_string()
    };
    let client_ip = client_host.clone();
    let host = if client_host.contains(':') {
        format!("[{client_host}]")
    } else {
        client_host
    };
    let url = format!("https://{host}:{}", local.port());
    let kubeconfig = pki.kubeconfig(&url);
    tls::write_kubeconfig(&config.kubeconfig_path, &kubeconfig)?;
    println!("kubeconfig: {}", config.kubeconfig_path.display());

    let store = open_storage(&config).await?;
    let api = build_api(store.clone(), &format!("{host}:{}", local.port()))?;
    let signer = jwt::Signer::load_or_create(&config.data_dir.join("pki"))?;
    let _ = api.tokens.set(sa_token::Tokens::new(signer));
    bootstrap(&api).await?;
    defaults::ipalloc::ensure_kubernetes_service(&api, local.port()).await?;
    kubernetes_endpoints::ensure(&api, &client_ip, local.port()).await?;
    crd::registrar::start(api.clone()).await?;
    api.ready.store(true, Ordering::Release);
    spawn_compactor(store);
    on_ready(kubeconfig);
    tracing::info!("serving on {url} (ready in {:?})", started.elapsed());
    println!("serving on {url}");

    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    server::serve(listener, pki.server_config()?, api, shutdown).await?;
    tracing::info!("shutting down");
    Ok(())
}

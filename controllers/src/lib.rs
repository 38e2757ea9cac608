//! The built-in controllers of k8rs. Each is an API client on kube-runtime (watchers,
//! reflectors, rate-limited requeues) and talks to the API server only over the API.
//! `k8rs server` runs them in-process against its own secure port; `k8rs
//! controller-manager` runs them against any cluster.

pub mod certificates;
pub mod claim;
pub mod clusterrole_aggregation;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod endpointslice_mirroring;
pub mod events;
pub mod gc;
pub mod history;
pub mod horizontal_pod_autoscaler;
pub mod informers;
pub mod intstr;
pub mod job;
pub mod leader;
pub mod namespace;
pub mod node_lifecycle;
pub mod per_namespace;
pub mod podgc;
pub mod replicaset;
pub mod replicationcontroller;
pub mod resourcequota;
pub mod statefulset;
pub mod token_cleaner;
pub mod ttl_after_finished;

use anyhow::{bail, Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;
use tokio::task::JoinSet;

/// Every controller, by the name `--controllers` uses.
pub const ALL: &[&str] = &[
    "namespace",
    "serviceaccount",
    "root-ca-cert-publisher",
    "replicaset",
    "deployment",
    "resourcequota",
    "disruption",
    "daemonset",
    "statefulset",
    "csrapproving",
    "csrsigning",
    "endpoint",
    "endpointslice",
    "endpointslicemirroring",
    "job",
    "cronjob",
    "ttl-after-finished",
    "podgc",
    "horizontalpodautoscaling",
    "nodelifecycle",
    "taint-eviction-controller",
    "tokencleaner",
    "clusterrole-aggregation",
    "replicationcontroller",
    "garbagecollector",
];

/// Resolve a `--controllers` list as upstream does: `*` means every controller, `name`
/// enables one, `-name` disables one. An empty list means `*`.
pub fn select(spec: &[String]) -> Result<Vec<&'static str>> {
    let mut chosen: Vec<&'static str> = Vec::new();
    let spec: Vec<&str> = if spec.is_empty() {
        vec!["*"]
    } else {
        spec.iter().map(String::as_str).collect()
    };
    for item in &spec {
        let (off, name) = match item.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, *item),
        };
        if name == "*" {
            if !off {
                for c in ALL {
                    if !chosen.contains(c) {
                        chosen.push(c);
                    }
                }
            }
            continue;
        }
        let Some(known) = ALL.iter().find(|c| **c == name) else {
            bail!("unknown controller {name:?} (known: {})", ALL.join(", "));
        };
        if off {
            chosen.retain(|c| c != known);
        } else if !chosen.contains(known) {
            chosen.push(known);
        }
    }
    // A `-name` anywhere wins over `*`, whatever the order.
    chosen.retain(|c| !spec.contains(&format!("-{c}").as_str()));
    Ok(chosen)
}

/// What controllers connect with: an API client, and the cluster CA they publish.
pub struct Connection {
    pub client: Client,
    /// PEM of the CA of the kubeconfig's current cluster.
    pub root_ca: String,
    /// The CA `csrsigning` issues certificates from, when given.
    pub signing_ca: Option<certificates::SigningCa>,
}

/// Connect with the current context of a kubeconfig document.
pub async fn connect(yaml: &str) -> Result<Connection> {
    connect_as(yaml, "kube-controller-manager").await
}

/// Connect as `component`, named in the User-Agent as upstream's components name
/// themselves (the server records field ownership under that name).
pub async fn connect_as(yaml: &str, component: &str) -> Result<Connection> {
    let kubeconfig = Kubeconfig::from_yaml(yaml).context("parsing the kubeconfig")?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .context("loading the kubeconfig")?;
    let agent = format!(
        "{component}/{} ({}/{}) kubernetes/k8rs",
        KUBERNETES_VERSION,
        std::env::consts::OS,
        go_arch()
    );
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_str(&agent).context("user agent")?,
    ));
    let root_ca = config
        .root_cert
        .iter()
        .flatten()
        .map(|der| pem("CERTIFICATE", der))
        .collect();
    let client = Client::try_from(config).context("building the API client")?;
    Ok(Connection {
        client,
        root_ca,
        signing_ca: None,
    })
}

/// The Kubernetes version components report, as the API server does.
const KUBERNETES_VERSION: &str = "v1.33.0";

/// The architecture as Go spells it (what upstream user agents carry).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// DER to PEM, 64 columns as OpenSSL writes it.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The Lease the active controller manager holds, as upstream's.
pub const LEASE_NAMESPACE: &str = "kube-system";
pub const LEASE_NAME: &str = "kube-controller-manager";

/// Run the named controllers only while holding the controller-manager Lease: wait to
/// acquire it, then run until a controller stops or the lease is lost (an error).
pub async fn run_as_leader(conn: Connection, names: &[&str]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let elector = leader::LeaderElector::new(
        conn.client.clone(),
        LEASE_NAMESPACE,
        LEASE_NAME,
        "kube-controller-manager",
    );
    elector.acquire().await;
    tokio::select! {
        done = run(conn, names) => done,
        lost = elector.hold() => Err(lost),
    }
}

/// Run the controllers inside `k8rs server`, once it is ready: API clients all the same,
/// over HTTPS to the server's own port, and behind the controller-manager Lease so a
/// standalone controller manager and the server never both act. A lost lease means
/// standing for election again, not stopping the server. `signing` names the cluster CA's
/// certificate and key files for `csrsigning`.
pub fn spawn_in_process(
    kubeconfig: String,
    names: Vec<&'static str>,
    signing: (std::path::PathBuf, std::path::PathBuf),
) {
    tokio::spawn(async move {
        loop {
            let result = async {
                let mut conn = connect(&kubeconfig).await?;
                conn.signing_ca = certificates::SigningCa::from_files(&signing.0, &signing.1).ok();
                run_as_leader(conn, &names).await
            };
            match result.await {
                Ok(()) => return,
                Err(e) => tracing::warn!("controllers stopped: {e:#}"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}

/// Run the named controllers until one of them stops.
pub async fn run(conn: Connection, names: &[&str]) -> Result<()> {
    let client = conn.client;
    let mut tasks = JoinSet::new();
    // Subscriptions are taken before the watches start, so none misses the first list.
    let shared = informers::Informers::new(&client);
    let pods = || shared.pods.subscribe();
    for name in names {
        match *name {
            "namespace" => tasks.spawn(namespace::run(client.clone())),
            "serviceaccount" => tasks.spawn(per_namespace::run_serviceaccounts(client.clone())),
            "replicaset" => tasks.spawn(replicaset::run(client.clone(), pods())),
            "deployment" => tasks.spawn(deployment::run(client.clone())),
            "resourcequota" => tasks.spawn(resourcequota::run(client.clone(), pods())),
            "disruption" => tasks.spawn(disruption::run(client.clone(), pods())),
            "daemonset" => tasks.spawn(daemonset::run(client.clone(), pods())),
            "statefulset" => tasks.spawn(statefulset::run(client.clone(), pods())),
            "csrapproving" => tasks.spawn(certificates::run_approver(client.clone())),
            "csrsigning" => tasks.spawn(certificates::run_signer(
                client.clone(),
                conn.signing_ca.clone(),
            )),
            "garbagecollector" => tasks.spawn(gc::run(client.clone())),
            "endpoint" => tasks.spawn(endpoints::run(client.clone(), pods())),
            "endpointslice" => tasks.spawn(endpointslice::run(client.clone(), pods())),
            "endpointslicemirroring" => tasks.spawn(endpointslice_mirroring::run(client.clone())),
            "job" => tasks.spawn(job::run(client.clone(), pods(), shared.pods.cache())),
            "cronjob" => tasks.spawn(cronjob::run(client.clone())),
            "ttl-after-finished" => tasks.spawn(ttl_after_finished::run(client.clone())),
            "podgc" => tasks.spawn(podgc::run(client.clone(), shared.pods.cache())),
            "horizontalpodautoscaling" => {
                tasks.spawn(horizontal_pod_autoscaler::run(client.clone()))
            }
            "nodelifecycle" => tasks.spawn(node_lifecycle::run(client.clone())),
            "taint-eviction-controller" => tasks.spawn(node_lifecycle::taint_eviction::run(
                client.clone(),
                shared.pods.cache(),
            )),
            "tokencleaner" => tasks.spawn(token_cleaner::run(client.clone())),
            "clusterrole-aggregation" => tasks.spawn(clusterrole_aggregation::run(client.clone())),
            "replicationcontroller" => {
                tasks.spawn(replicationcontroller::run(client.clone(), pods()))
            }
            "root-ca-cert-publisher" => tasks.spawn(per_namespace::run_root_ca(
                client.clone(),
                conn.root_ca.clone(),
            )),
            other => bail!("unknown controller {other:?}"),
        };
    }
    shared.start();
    tracing::info!(controllers = ?names, "controllers started");
    while let Some(done) = tasks.join_next().await {
        done.context("controller task")??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn controller_selection_follows_upstream_flags() {
        assert_eq!(select(&[]).unwrap(), ALL.to_vec());
        assert_eq!(select(&s(&["*"])).unwrap(), ALL.to_vec());
        let others: Vec<&str> = ALL.iter().copied().filter(|c| *c != "namespace").collect();
        assert_eq!(select(&s(&["*", "-namespace"])).unwrap(), others);
        assert_eq!(select(&s(&["-namespace", "*"])).unwrap(), others);
        assert_eq!(select(&s(&["namespace"])).unwrap(), vec!["namespace"]);
        assert!(select(&s(&["nope"])).is_err());
    }
}

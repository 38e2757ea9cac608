//! The built-in controllers of k8rs. Each is an API client on kube-runtime (watchers,
//! reflectors, rate-limited requeues) and talks to the API server only over the API.
//! `k8rs server` runs them in-process against its own secure port; `k8rs
//! controller-manager` runs them against any cluster.

pub mod deployment;
pub mod events;
pub mod namespace;
pub mod per_namespace;
pub mod replicaset;

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
}

/// Connect with the current context of a kubeconfig document.
pub async fn connect(yaml: &str) -> Result<Connection> {
    let kubeconfig = Kubeconfig::from_yaml(yaml).context("parsing the kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("loading the kubeconfig")?;
    let root_ca = config
        .root_cert
        .iter()
        .flatten()
        .map(|der| pem("CERTIFICATE", der))
        .collect();
    let client = Client::try_from(config).context("building the API client")?;
    Ok(Connection { client, root_ca })
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

/// Run the named controllers until one of them stops.
pub async fn run(conn: Connection, names: &[&str]) -> Result<()> {
    let client = conn.client;
    let mut tasks = JoinSet::new();
    for name in names {
        match *name {
            "namespace" => tasks.spawn(namespace::run(client.clone())),
            "serviceaccount" => tasks.spawn(per_namespace::run_serviceaccounts(client.clone())),
            "replicaset" => tasks.spawn(replicaset::run(client.clone())),
            "deployment" => tasks.spawn(deployment::run(client.clone())),
            "root-ca-cert-publisher" => tasks.spawn(per_namespace::run_root_ca(
                client.clone(),
                conn.root_ca.clone(),
            )),
            other => bail!("unknown controller {other:?}"),
        };
    }
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
        let others = vec![
            "serviceaccount",
            "root-ca-cert-publisher",
            "replicaset",
            "deployment",
        ];
        assert_eq!(select(&s(&["*", "-namespace"])).unwrap(), others);
        assert_eq!(select(&s(&["-namespace", "*"])).unwrap(), others);
        assert_eq!(select(&s(&["namespace"])).unwrap(), vec!["namespace"]);
        assert!(select(&s(&["nope"])).is_err());
    }
}

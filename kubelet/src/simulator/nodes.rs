//! Node registration and lease renewal (the kubelet's node status and heartbeat).

use std::time::Duration;

use futures::{stream, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

use super::addresses::{node_ip, pod_cidr};
use super::Config;

/// Requests in flight at once while registering or renewing.
const CONCURRENCY: usize = 32;
/// The kubelet renews every 10s a lease of 40s.
const RENEW_EVERY: Duration = Duration::from_secs(10);
const LEASE_SECONDS: i32 = 40;

fn now_micro() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Microsecond)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

pub fn now_seconds() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn node_object(config: &Config, i: usize) -> serde_json::Value {
    let name = config.node_name(i);
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {"sim.k8rs.io/simulated": "true", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"podCIDR": pod_cidr(i), "podCIDRs": [pod_cidr(i)]},
    })
}

fn node_status(config: &Config, i: usize) -> serde_json::Value {
    let now = now_seconds();
    let resources = json!({
        "cpu": config.cpu, "memory": config.memory, "pods": config.pods,
        "ephemeral-storage": "1Ti",
    });
    let cond = |t: &str, s: &str, reason: &str, msg: &str| {
        json!({"type": t, "status": s, "reason": reason, "message": msg,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!({"status": {
        "capacity": resources, "allocatable": resources,
        "phase": "Running",
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": node_ip(i)},
            {"type": "Hostname", "address": config.node_name(i)},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": format!("sim-{i}"), "systemUUID": format!("sim-{i}"),
            "bootID": format!("sim-{i}"), "kernelVersion": "6.0.0-sim",
            "osImage": "k8rs simulated node", "containerRuntimeVersion": "sim://1.0.0",
            "kubeletVersion": "v1.33.0", "kubeProxyVersion": "",
            "operatingSystem": "linux", "architecture": "amd64",
        },
    }})
}

async fn register_one(client: &Client, config: &Config, i: usize) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let name = config.node_name(i);
    let node: Node = serde_json::from_value(node_object(config, i))?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(anyhow::anyhow!("registering node {name}: {e}")),
    }
    nodes
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&node_status(config, i)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("node {name} status: {e}"))?;
    renew_one(client, &name).await
}

pub async fn register(client: &Client, config: &Config) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = stream::iter(0..config.count)
        .map(|i| register_one(client, config, i))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn renew_one(client: &Client, node: &str) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let patch = json!({"spec": {"renewTime": now_micro()}});
    match leases
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => {
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {"name": node, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_SECONDS,
                         "renewTime": now_micro()},
            }))?;
            leases.create(&PostParams::default(), &lease).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn renew_leases(client: Client, config: Config) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    loop {
        tick.tick().await;
        stream::iter(0..config.count)
            .map(|i| {
                let client = client.clone();
                let name = config.node_name(i);
                async move {
                    if let Err(e) = renew_one(&client, &name).await {
                        tracing::debug!("renewing lease of {name}: {e}");
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
        if let Err(e) = repost_changed_status(&client, &config).await {
            tracing::debug!("checking node status: {e}");
        }
    }
}

/// The kubelet posts its status again when the API's copy differs from what it would
/// post, as after the node lifecycle controller marked a late node Unknown.
async fn repost_changed_status(client: &Client, config: &Config) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for node in nodes
        .list(&ListParams::default().labels("type=kwok"))
        .await?
    {
        let name = node.metadata.name.clone().unwrap_or_default();
        let Some(i) = name
            .strip_prefix(config.prefix.as_str())
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|i| *i < config.count && config.node_name(*i) == name)
        else {
            continue;
        };
        let ready = node
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if !ready {
            nodes
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&node_status(config, i)),
                )
                .await?;
        }
    }
    Ok(())
}

//! The pod garbage collector (upstream pkg/controller/podgc), every 20 seconds: deletes
//! the oldest terminated pods beyond the threshold (12500), force-deletes pods bound to
//! nodes that no longer exist (after a 40 second quarantine, marking them Failed with a
//! `DisruptionTarget` condition first) and unscheduled pods that are terminating.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use crate::informers::Cache;

/// Upstream's `--terminated-pod-gc-threshold` default.
pub const TERMINATED_THRESHOLD: usize = 12500;
const CHECK_PERIOD: Duration = Duration::from_secs(20);
/// How long a node must stay missing before its pods count as orphaned.
const QUARANTINE: Duration = Duration::from_secs(40);

/// `pods` is the controller manager's shared pod cache.
pub async fn run(client: Client, pods: Arc<Cache<Pod>>) -> anyhow::Result<()> {
    let mut missing_since: HashMap<String, Instant> = HashMap::new();
    loop {
        if let Err(e) = sweep(&client, &pods, &mut missing_since).await {
            tracing::debug!("pod gc: {e}");
        }
        tokio::time::sleep(CHECK_PERIOD).await;
    }
}

fn is_terminated(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

/// The terminated pods to delete, oldest first, to come back under the threshold.
fn over_threshold(pods: &[Arc<Pod>], threshold: usize) -> Vec<&Pod> {
    let mut done: Vec<&Pod> = pods
        .iter()
        .map(|p| &**p)
        .filter(|p| is_terminated(p) && p.metadata.deletion_timestamp.is_none())
        .collect();
    if done.len() <= threshold {
        return Vec::new();
    }
    done.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
    let excess = done.len() - threshold;
    done.truncate(excess);
    done
}

async fn force_delete(client: &Client, pod: &Pod) -> Result<(), kube::Error> {
    let api = Api::<Pod>::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    match api
        .delete(&pod.name_any(), &DeleteParams::default().grace_period(0))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn sweep(
    client: &Client,
    cache: &Cache<Pod>,
    missing_since: &mut HashMap<String, Instant>,
) -> Result<(), kube::Error> {
    if !cache.is_ready() {
        return Ok(());
    }
    let pods = cache.state();
    let nodes: BTreeSet<String> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();

    // 1. Terminated pods beyond the threshold.
    for pod in over_threshold(&pods, TERMINATED_THRESHOLD) {
        let api = Api::<Pod>::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        match api.delete(&pod.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }

    // 2. Pods on nodes gone for longer than the quarantine.
    missing_since.retain(|n, _| !nodes.contains(n));
    let mut orphans: Vec<&Pod> = Vec::new();
    for pod in &pods {
        let Some(node) = node_name(pod) else {
            continue;
        };
        if nodes.contains(node) {
            continue;
        }
        let since = *missing_since
            .entry(node.to_string())
            .or_insert_with(Instant::now);
        if since.elapsed() >= QUARANTINE {
            orphans.push(pod);
        }
    }
    for pod in orphans {
        // Say why the pod ends, as upstream does, before removing it.
        if !is_terminated(pod) {
            let api = Api::<Pod>::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
            let status = serde_json::json!({"status": {"phase": "Failed", "conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                "message": "PodGC: node no longer exists",
                "lastTransitionTime": Time(Timestamp::now())}]}});
            match api
                .patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Strategic(status),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => continue,
                Err(e) => return Err(e),
            }
        }
        tracing::info!(pod = %pod.name_any(), node = ?node_name(pod), "force-deleting pod on a missing node");
        force_delete(client, pod).await?;
    }

    // 3. Unscheduled pods being deleted: no kubelet will ever finish them.
    for pod in &pods {
        if pod.metadata.deletion_timestamp.is_some() && node_name(pod).is_none() {
            force_delete(client, pod).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use kube::api::ObjectMeta;

    #[test]
    fn oldest_terminated_pods_go_first() {
        let pod = |name: &str, at: &str, phase: &str| Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(at.parse().unwrap())),
                ..Default::default()
            },
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pods: Vec<Arc<Pod>> = vec![
            pod("new", "2026-01-03T00:00:00Z", "Succeeded"),
            pod("old", "2026-01-01T00:00:00Z", "Failed"),
            pod("running", "2026-01-01T00:00:00Z", "Running"),
            pod("mid", "2026-01-02T00:00:00Z", "Succeeded"),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let names: Vec<String> = over_threshold(&pods, 1)
            .iter()
            .map(|p| p.name_any())
            .collect();
        assert_eq!(names, ["old", "mid"]);
        assert!(over_threshold(&pods, 3).is_empty());
    }
}

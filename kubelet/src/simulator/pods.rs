//! The kubelet's part for pods bound to simulated nodes, from one shared pod watcher:
//! report them Running and Ready, finish run-to-completion pods, confirm deletions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::addresses::{node_ip, PodIps};
use super::nodes::now_seconds;
use super::Config;

/// Status writes in flight at once.
const CONCURRENCY: usize = 64;
/// Annotation naming the exit code a finishing pod reports (non-zero: Failed).
pub const EXIT_CODE_ANNOTATION: &str = "sim.k8rs.io/exit-code";

struct Tracked {
    node: usize,
    ip: String,
    finishing: bool,
}

#[derive(Default)]
struct State {
    ips: HashMap<usize, PodIps>,
    /// By pod uid.
    pods: HashMap<String, Tracked>,
}

struct Sim {
    client: Client,
    config: Config,
    nodes: HashMap<String, usize>,
    state: Mutex<State>,
    writes: Semaphore,
}

pub async fn run(client: Client, config: Config) -> anyhow::Result<()> {
    let nodes = (0..config.count)
        .map(|i| (config.node_name(i), i))
        .collect();
    let sim = Arc::new(Sim {
        client: client.clone(),
        config,
        nodes,
        state: Mutex::new(State::default()),
        writes: Semaphore::new(CONCURRENCY),
    });
    // managedFields are never read here and are most of a pod's memory.
    let mut stream = watcher(Api::<Pod>::all(client), watcher::Config::default())
        .default_backoff()
        .modify(|p| p.metadata.managed_fields = None)
        .boxed();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(Event::Apply(p) | Event::InitApply(p)) => observe(&sim, p),
            Ok(Event::Delete(p)) => forget(&sim, &p),
            Ok(_) => {}
            Err(e) => tracing::debug!("simulator pod watch: {e}"),
        }
    }
    Ok(())
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn forget(sim: &Sim, pod: &Pod) {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let mut st = sim.state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = st.pods.remove(&uid) {
        if let Some(ips) = st.ips.get_mut(&t.node) {
            ips.release(&t.ip);
        }
    }
}

fn observe(sim: &Arc<Sim>, pod: Pod) {
    let Some(node) = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .and_then(|n| sim.nodes.get(n))
        .copied()
    else {
        return;
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    if pod.metadata.deletion_timestamp.is_some() {
        let sim = sim.clone();
        tokio::spawn(async move { confirm_deletion(&sim, &pod, &uid).await });
        return;
    }
    let finished = matches!(phase(&pod), Some("Succeeded" | "Failed"));
    let run_to_completion = matches!(
        pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()),
        Some("Never" | "OnFailure")
    );
    let start = {
        let mut st = sim.state.lock().unwrap_or_else(|e| e.into_inner());
        match st.pods.get_mut(&uid) {
            Some(t) => {
                if finished || t.finishing || !run_to_completion {
                    None
                } else {
                    // Started before this process (a restart): finish it as well.
                    t.finishing = true;
                    Some((t.ip.clone(), false))
                }
            }
            None if finished => None,
            None => {
                let ips = st.ips.entry(node).or_default();
                let existing = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.pod_ip.clone())
                    .filter(|_| phase(&pod) == Some("Running"));
                let (ip, fresh) = match existing {
                    Some(ip) => {
                        ips.claim(&ip);
                        (ip, false)
                    }
                    None => match ips.allocate(node) {
                        Some(ip) => (ip, true),
                        None => {
                            tracing::warn!("node {node}: pod CIDR exhausted");
                            return;
                        }
                    },
                };
                st.pods.insert(
                    uid.clone(),
                    Tracked {
                        node,
                        ip: ip.clone(),
                        finishing: run_to_completion,
                    },
                );
                Some((ip, fresh))
            }
        }
    };
    let Some((ip, fresh)) = start else {
        return;
    };
    let sim = sim.clone();
    tokio::spawn(async move {
        if fresh {
            let patch = running_status(&pod, node, &ip);
            write_status(&sim, &pod, &patch).await;
        }
        if run_to_completion {
            tokio::time::sleep(sim.config.run_duration).await;
            let code = pod
                .annotations()
                .get(EXIT_CODE_ANNOTATION)
                .and_then(|c| c.trim().parse::<i32>().ok())
                .unwrap_or(0);
            let patch = finished_status(&pod, code);
            write_status(&sim, &pod, &patch).await;
        }
    });
}

async fn write_status(sim: &Sim, pod: &Pod, patch: &Value) {
    let Ok(_permit) = sim.writes.acquire().await else {
        return;
    };
    let api: Api<Pod> = Api::namespaced(
        sim.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    if let Err(e) = api
        .patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        tracing::debug!("pod {} status: {e}", pod.name_any());
    }
}

/// As the kubelet does once containers stopped: delete for good, only this incarnation.
async fn confirm_deletion(sim: &Sim, pod: &Pod, uid: &str) {
    let Ok(_permit) = sim.writes.acquire().await else {
        return;
    };
    let api: Api<Pod> = Api::namespaced(
        sim.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    };
    if let Err(e) = api.delete(&pod.name_any(), &dp).await {
        tracing::debug!("confirming deletion of {}: {e}", pod.name_any());
    }
}

fn containers(pod: &Pod) -> (&[Container], &[Container]) {
    pod.spec
        .as_ref()
        .map(|s| {
            (
                s.containers.as_slice(),
                s.init_containers.as_deref().unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}

fn container_status(pod: &Pod, c: &Container, state: Value, ready: bool) -> Value {
    let image = c.image.clone().unwrap_or_default();
    json!({
        "name": c.name, "image": image, "imageID": format!("sim://{image}"),
        "containerID": format!("sim://{}-{}", pod.metadata.uid.as_deref().unwrap_or_default(), c.name),
        "ready": ready, "started": ready, "restartCount": 0, "state": state,
    })
}

fn condition(t: &str, status: bool, reason: Option<&str>, now: &str) -> Value {
    let mut c = json!({"type": t, "status": if status { "True" } else { "False" },
        "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    c
}

fn running_status(pod: &Pod, node: usize, ip: &str) -> Value {
    let now = now_seconds();
    let (main, init) = containers(pod);
    let init_statuses: Vec<Value> = init
        .iter()
        .map(|c| {
            if c.restart_policy.as_deref() == Some("Always") {
                container_status(pod, c, json!({"running": {"startedAt": now}}), true)
            } else {
                container_status(
                    pod,
                    c,
                    json!({"terminated": {"exitCode": 0, "reason": "Completed",
                        "startedAt": now, "finishedAt": now}}),
                    false,
                )
            }
        })
        .collect();
    let statuses: Vec<Value> = main
        .iter()
        .map(|c| container_status(pod, c, json!({"running": {"startedAt": now}}), true))
        .collect();
    let host = node_ip(node);
    json!({"status": {
        "phase": "Running",
        "hostIP": host, "hostIPs": [{"ip": host}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [
            condition("PodReadyToStartContainers", true, None, &now),
            condition("Initialized", true, None, &now),
            condition("Ready", true, None, &now),
            condition("ContainersReady", true, None, &now),
            condition("PodScheduled", true, None, &now),
        ],
        "containerStatuses": statuses,
        "initContainerStatuses": if init_statuses.is_empty() { Value::Null } else { json!(init_statuses) },
    }})
}

fn finished_status(pod: &Pod, code: i32) -> Value {
    let now = now_seconds();
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| now.clone());
    let reason = if code == 0 { "Completed" } else { "Error" };
    let (main, _) = containers(pod);
    let statuses: Vec<Value> = main
        .iter()
        .map(|c| {
            container_status(
                pod,
                c,
                json!({"terminated": {"exitCode": code, "reason": reason,
                    "startedAt": started, "finishedAt": now}}),
                false,
            )
        })
        .collect();
    json!({"status": {
        "phase": if code == 0 { "Succeeded" } else { "Failed" },
        "conditions": [
            condition("PodReadyToStartContainers", false, None, &now),
            condition("Initialized", true, Some("PodCompleted"), &now),
            condition("Ready", false, Some("PodCompleted"), &now),
            condition("ContainersReady", false, Some("PodCompleted"), &now),
            condition("PodScheduled", true, None, &now),
        ],
        "containerStatuses": statuses,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}],
                     "initContainers": [{"name": "i", "image": "busybox"}]}}))
        .unwrap()
    }

    #[test]
    fn running_status_is_ready_with_ips_and_container_statuses() {
        let s = running_status(&pod(), 3, "10.64.3.2");
        assert_eq!(s["status"]["phase"], "Running");
        assert_eq!(s["status"]["podIP"], "10.64.3.2");
        assert_eq!(s["status"]["hostIP"], "172.16.0.3");
        assert_eq!(s["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(
            s["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        let ready = s["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
    }

    #[test]
    fn finished_status_reports_the_exit_code() {
        let ok = finished_status(&pod(), 0);
        assert_eq!(ok["status"]["phase"], "Succeeded");
        let failed = finished_status(&pod(), 3);
        assert_eq!(failed["status"]["phase"], "Failed");
        assert_eq!(
            failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            3
        );
    }
}

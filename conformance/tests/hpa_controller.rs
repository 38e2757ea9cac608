//! The horizontal pod autoscaler: replicas kept within min/max through `/scale`, conditions
//! and events when no resource metrics API is served, and scaling on CPU utilization read
//! from `metrics.k8s.io/v1beta1` PodMetrics (served here by a CRD standing in for
//! metrics-server).

use k8rs_conformance::{poll_until, simulate_nodes, Server};
use serde_json::{json, Value};
use std::time::Duration;

const SCALE_WAIT: Duration = Duration::from_secs(60);

fn deployment_replicas(server: &Server, name: &str) -> i64 {
    server.kubectl_json(&["get", "deployment", name])["spec"]["replicas"]
        .as_i64()
        .unwrap_or(-1)
}

fn hpa_condition(hpa: &Value, type_: &str) -> Value {
    hpa["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or_default()
}

#[test]
fn replicas_are_kept_within_bounds_without_a_metrics_api() {
    let server = Server::start();
    server
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=busybox",
            "--replicas=1",
        ])
        .ok();
    server
        .kubectl(&[
            "autoscale",
            "deployment",
            "web",
            "--min=2",
            "--max=4",
            "--cpu-percent=50",
        ])
        .ok();
    poll_until(SCALE_WAIT, "scaled up to minReplicas", || {
        (deployment_replicas(&server, "web") == 2).then_some(())
    });
    let hpa = poll_until(SCALE_WAIT, "the metrics condition", || {
        let hpa = server.kubectl_json(&["get", "hpa.v2.autoscaling", "web"]);
        (hpa_condition(&hpa, "ScalingActive")["reason"] == "FailedGetResourceMetric").then_some(hpa)
    });
    let active = hpa_condition(&hpa, "ScalingActive");
    assert_eq!(active["status"], "False", "{hpa}");
    assert!(
        active["message"]
            .as_str()
            .unwrap_or_default()
            .contains("the server could not find the requested resource (get pods.metrics.k8s.io)"),
        "{hpa}"
    );
    assert_eq!(
        hpa_condition(&hpa, "AbleToScale")["status"],
        "True",
        "{hpa}"
    );
    let events = server
        .kubectl(&["get", "events", "--field-selector=involvedObject.name=web"])
        .ok();
    assert!(
        events.contains("SuccessfulRescale")
            && events
                .contains("New size: 2; reason: Current number of replicas below Spec.MinReplicas"),
        "{events}"
    );

    // Above the maximum, it scales down to it.
    server
        .kubectl(&["scale", "deployment", "web", "--replicas=7"])
        .ok();
    poll_until(SCALE_WAIT, "scaled down to maxReplicas", || {
        (deployment_replicas(&server, "web") == 4).then_some(())
    });
}

const POD_METRICS_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: pods.metrics.k8s.io
  annotations:
    api-approved.kubernetes.io: "https://github.com/kubernetes/enhancements/pull/1111"
spec:
  group: metrics.k8s.io
  scope: Namespaced
  names: {plural: pods, singular: podmetrics, kind: PodMetrics}
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

#[test]
fn cpu_utilization_from_the_metrics_api_scales_the_target() {
    let server = Server::start();
    let _nodes = simulate_nodes(&server, 2, "8");
    server
        .kubectl_stdin(&["apply", "-f", "-"], POD_METRICS_CRD)
        .ok();
    server
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/pods.metrics.k8s.io",
            "--timeout=20s",
        ])
        .ok();
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "busy"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "busy"}},
            "template": {"metadata": {"labels": {"app": "busy"}},
                "spec": {"containers": [{"name": "c", "image": "busybox",
                    "resources": {"requests": {"cpu": "100m"}}}]}}}});
    server
        .kubectl_stdin(&["apply", "-f", "-"], &deploy.to_string())
        .ok();
    let pods = poll_until(SCALE_WAIT, "two running pods", || {
        let list = server.kubectl_json(&["get", "pods", "-l", "app=busy"]);
        let names: Vec<String> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["status"]["phase"] == "Running")
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        (names.len() == 2).then_some(names)
    });
    // Each pod uses 200m of its 100m request: 200% against a 50% target.
    for pod in &pods {
        let metrics = json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": {"name": pod, "labels": {"app": "busy"}},
            "timestamp": "2026-01-01T00:00:00Z", "window": "30s",
            "containers": [{"name": "c", "usage": {"cpu": "200m", "memory": "10Mi"}}]});
        server
            .kubectl_stdin(&["apply", "-f", "-"], &metrics.to_string())
            .ok();
    }
    server
        .kubectl(&[
            "autoscale",
            "deployment",
            "busy",
            "--min=1",
            "--max=5",
            "--cpu-percent=50",
        ])
        .ok();
    poll_until(SCALE_WAIT, "scaled to the maximum", || {
        (deployment_replicas(&server, "busy") == 5).then_some(())
    });
    let hpa = poll_until(SCALE_WAIT, "current metrics in status", || {
        let hpa = server.kubectl_json(&["get", "hpa.v2.autoscaling", "busy"]);
        (!hpa["status"]["currentMetrics"].is_null()).then_some(hpa)
    });
    assert_eq!(
        hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"], 200,
        "{hpa}"
    );
    assert_eq!(
        hpa_condition(&hpa, "ScalingLimited")["reason"],
        "TooManyReplicas",
        "{hpa}"
    );
    let table = server.kubectl(&["get", "hpa", "busy"]).ok();
    assert!(table.contains("cpu: 200%/50%"), "{table}");
}

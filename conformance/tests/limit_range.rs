//! LimitRanger admission: a namespace's LimitRanges default container resources (noting it
//! in the `kubernetes.io/limit-ranger` annotation) and refuse pods and claims out of bounds
//! with upstream's 403s, through stock kubectl.

use k8rs_conformance::Server;

#[test]
fn limit_range_defaults_show_up_in_created_pods() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults"},
                "spec": {"limits": [{"type": "Container",
                  "default": {"cpu": "500m", "memory": "256Mi"},
                  "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}}"#,
        )
        .ok();
    server.kubectl(&["run", "c", "--image=busybox"]).ok();
    let pod = server.kubectl_json(&["get", "pod", "c"]);
    assert_eq!(
        pod["spec"]["containers"][0]["resources"],
        serde_json::json!({"requests": {"cpu": "100m", "memory": "128Mi"},
                           "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
    assert_eq!(
        pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
    );
}

#[test]
fn pods_and_claims_out_of_bounds_are_forbidden() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bounds"},
                "spec": {"limits": [
                  {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "2"}},
                  {"type": "PersistentVolumeClaim", "max": {"storage": "10Gi"}}]}}"#,
        )
        .ok();
    let pod = |name: &str, cpu: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "{name}"}},
                "spec": {{"containers": [{{"name": "c", "image": "busybox",
                  "resources": {{"requests": {{"cpu": "{cpu}"}}, "limits": {{"cpu": "{cpu}"}}}}}}]}}}}"#
        )
    };
    let err = server
        .kubectl_stdin(&["create", "-f", "-"], &pod("small", "50m"))
        .fails();
    assert!(
        err.contains(r#"Error from server (Forbidden): error when creating "STDIN": pods "small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m"#),
        "{err}"
    );
    let err = server
        .kubectl_stdin(&["create", "-f", "-"], &pod("big", "3"))
        .fails();
    assert!(
        err.contains(
            r#"pods "big" is forbidden: maximum cpu usage per Container is 2, but limit is 3"#
        ),
        "{err}"
    );
    server
        .kubectl_stdin(&["create", "-f", "-"], &pod("fits", "1"))
        .ok();
    // Max without a default limit: the limit defaults to max, and the pod is admitted.
    server.kubectl(&["run", "bare", "--image=busybox"]).ok();
    let bare = server.kubectl_json(&["get", "pod", "bare"]);
    assert_eq!(
        bare["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "2"
    );

    let err = server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "huge"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "20Gi"}}}}"#,
        )
        .fails();
    assert!(
        err.contains(r#"persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"#),
        "{err}"
    );
}

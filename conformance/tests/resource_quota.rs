//! ResourceQuota end to end: the controller fills `status`, admission refuses what would
//! exceed `hard` with upstream's 403, and deleting objects gives the quota back.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::Value;

fn used(server: &Server, ns: &str, name: &str, resource: &str) -> Option<String> {
    let q = server.kubectl_json(&["get", "resourcequota", name, "-n", ns]);
    q["status"]["used"][resource].as_str().map(str::to_string)
}

#[test]
fn a_quota_of_two_configmaps_refuses_the_third() {
    let server = Server::start();
    server.kubectl(&["create", "namespace", "q"]).ok();
    // kube-root-ca.crt is a configmap too: wait for it so the count is stable.
    poll_until(WAIT_TIMEOUT, "kube-root-ca.crt", || {
        server
            .kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "q"])
            .success()
            .then_some(())
    });
    server
        .kubectl(&[
            "create",
            "quota",
            "cms",
            "-n",
            "q",
            "--hard=configmaps=3,count/secrets=1",
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "the quota's usage", || {
        (used(&server, "q", "cms", "configmaps").as_deref() == Some("1")).then_some(())
    });
    assert_eq!(
        used(&server, "q", "cms", "count/secrets").as_deref(),
        Some("0")
    );

    server.kubectl(&["create", "cm", "one", "-n", "q"]).ok();
    server.kubectl(&["create", "cm", "two", "-n", "q"]).ok();
    let err = server
        .kubectl(&["create", "cm", "three", "-n", "q"])
        .fails();
    assert!(
        err.contains(r#"configmaps "three" is forbidden: exceeded quota: cms, requested: configmaps=1, used: configmaps=3, limited: configmaps=3"#),
        "{err}"
    );
    // The refusal is a 403 Forbidden Status.
    let resp = server
        .http("POST", "/api/v1/namespaces/q/configmaps")
        .json(&serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "raw"}}))
        .send();
    let status: Value = resp.assert_status(403, "Forbidden");
    assert_eq!(status["details"]["kind"], "configmaps");

    // Deleting one gives its unit back.
    server.kubectl(&["delete", "cm", "one", "-n", "q"]).ok();
    poll_until(WAIT_TIMEOUT, "usage to drop", || {
        (used(&server, "q", "cms", "configmaps").as_deref() == Some("2")).then_some(())
    });
    server.kubectl(&["create", "cm", "three", "-n", "q"]).ok();

    // The table shows usage against the limits.
    let out = server.kubectl(&["get", "quota", "-n", "q"]).ok();
    assert!(out.contains("configmaps: 3/3"), "{out}");

    server
        .kubectl(&["create", "secret", "generic", "s1", "-n", "q"])
        .ok();
    let err = server
        .kubectl(&["create", "secret", "generic", "s2", "-n", "q"])
        .fails();
    assert!(err.contains("exceeded quota: cms, requested: count/secrets=1, used: count/secrets=1, limited: count/secrets=1"), "{err}");
}

#[test]
fn pod_compute_quota_and_unknown_usage() {
    let server = Server::start();
    server.kubectl(&["create", "namespace", "cq"]).ok();
    server.wait_for_default_service_account("cq");
    server
        .kubectl(&[
            "create",
            "quota",
            "compute",
            "-n",
            "cq",
            "--hard=requests.cpu=1,pods=5",
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "the quota's usage", || {
        used(&server, "cq", "compute", "pods").map(|_| ())
    });
    let pod = |name: &str, cpu: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "{name}"}},
                "spec": {{"containers": [{{"name": "c", "image": "busybox",
                  "resources": {{"requests": {{"cpu": "{cpu}"}}}}}}]}}}}"#
        )
    };
    server
        .kubectl_stdin(&["create", "-n", "cq", "-f", "-"], &pod("a", "600m"))
        .ok();
    assert_eq!(
        used(&server, "cq", "compute", "requests.cpu").as_deref(),
        Some("600m")
    );
    let err = server
        .kubectl_stdin(&["create", "-n", "cq", "-f", "-"], &pod("b", "500m"))
        .fails();
    assert!(
        err.contains(r#"pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"#),
        "{err}"
    );
    server
        .kubectl_stdin(&["create", "-n", "cq", "-f", "-"], &pod("b", "400m"))
        .ok();
    assert_eq!(
        used(&server, "cq", "compute", "requests.cpu").as_deref(),
        Some("1")
    );

    // With the controller off, a new quota has no status and binds nothing (as upstream);
    // once its status names a limit without a usage figure, it refuses what it tracks.
    let server = Server::start_with(k8rs_conformance::ServerOpts {
        extra_args: vec!["--controllers=-resourcequota".to_string()],
        ..Default::default()
    });
    server
        .kubectl(&["create", "quota", "fresh", "--hard=configmaps=10"])
        .ok();
    server.kubectl(&["create", "cm", "before"]).ok();
    server
        .kubectl(&[
            "patch",
            "quota",
            "fresh",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status": {"hard": {"configmaps": "10"}}}"#,
        ])
        .ok();
    let err = server.kubectl(&["create", "cm", "x"]).fails();
    assert!(
        err.contains(
            r#"configmaps "x" is forbidden: status unknown for quota: fresh, resources: configmaps"#
        ),
        "{err}"
    );
}

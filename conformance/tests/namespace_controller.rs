//! The namespace controller: deleting a namespace empties it, waits for finalizers, then
//! removes the namespace — in-process in `k8rs server`, or as `k8rs controller-manager`.

use std::process::Command;

use k8rs_conformance::{k8rs_bin, poll_until, Background, Server, ServerOpts, WAIT_TIMEOUT};
use serde_json::Value;

fn condition<'a>(ns: &'a Value, type_: &str) -> Option<&'a Value> {
    ns["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

#[test]
fn deleting_a_namespace_empties_it_then_removes_it() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "doomed"]).ok();
    server
        .kubectl(&["-n", "doomed", "create", "cm", "plain"])
        .ok();
    server
        .kubectl(&[
            "-n",
            "doomed",
            "create",
            "deployment",
            "web",
            "--image=busybox",
        ])
        .ok();
    // An object whose finalizer nobody removes holds the namespace in Terminating.
    server
        .kubectl(&["-n", "doomed", "create", "secret", "generic", "held"])
        .ok();
    server
        .kubectl(&[
            "-n",
            "doomed",
            "patch",
            "secret",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ])
        .ok();

    server
        .kubectl(&["delete", "ns", "doomed", "--wait=false"])
        .ok();
    let ns = poll_until(WAIT_TIMEOUT, "finalizers-remaining condition", || {
        let ns = server.kubectl_json(&["get", "ns", "doomed"]);
        let c = condition(&ns, "NamespaceFinalizersRemaining")?;
        (c["status"] == "True").then_some(ns)
    });
    assert_eq!(ns["status"]["phase"], "Terminating");
    let c = condition(&ns, "NamespaceFinalizersRemaining").unwrap();
    assert_eq!(c["reason"], "SomeFinalizersRemain");
    assert!(
        c["message"]
            .as_str()
            .unwrap_or_default()
            .contains("example.com/hold in 1 resource instances"),
        "{c}"
    );
    let c = condition(&ns, "NamespaceDeletionDiscoveryFailure").unwrap();
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("False"), Some("ResourcesDiscovered"))
    );
    // Everything without a finalizer is gone already; new content is refused.
    let cms = server.kubectl_json(&["-n", "doomed", "get", "cm"]);
    assert_eq!(cms["items"].as_array().map(Vec::len), Some(0), "{cms}");
    let deploys = server.kubectl_json(&["-n", "doomed", "get", "deploy"]);
    assert_eq!(
        deploys["items"].as_array().map(Vec::len),
        Some(0),
        "{deploys}"
    );
    let err = server
        .kubectl(&["-n", "doomed", "create", "cm", "late"])
        .fails();
    assert!(err.contains("being terminated"), "{err}");

    // Releasing the finalizer lets the namespace go.
    server
        .kubectl(&[
            "-n",
            "doomed",
            "patch",
            "secret",
            "held",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "namespace deleted", || {
        let out = server.kubectl(&["get", "ns", "doomed"]);
        (!out.success() && out.stderr.contains("NotFound")).then_some(())
    });
}

#[test]
fn controller_manager_runs_standalone() {
    let opts = ServerOpts {
        extra_args: vec!["--controllers=-namespace".to_string()],
        ..ServerOpts::default()
    };
    let server = Server::start_with(opts);
    server.kubectl(&["create", "ns", "standalone"]).ok();
    server
        .kubectl(&["-n", "standalone", "create", "cm", "x"])
        .ok();
    server
        .kubectl(&["delete", "ns", "standalone", "--wait=false"])
        .ok();
    // Without a namespace controller the namespace stays Terminating.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ns = server.kubectl_json(&["get", "ns", "standalone"]);
    assert_eq!(ns["status"]["phase"], "Terminating");

    let mut cmd = Command::new(k8rs_bin());
    cmd.arg("controller-manager")
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .arg("--controllers=namespace");
    let _cm = Background::spawn(cmd);
    poll_until(
        WAIT_TIMEOUT,
        "namespace deleted by the standalone controller manager",
        || {
            let out = server.kubectl(&["get", "ns", "standalone"]);
            (!out.success() && out.stderr.contains("NotFound")).then_some(())
        },
    );
}

/// The acceptance case: objects of ten kinds, a custom resource among them, all go with
/// their namespace.
#[test]
fn a_namespace_with_ten_kinds_and_a_custom_resource_goes_away() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.net}
spec:
  group: example.net
  scope: Namespaced
  names: {plural: gizmos, kind: Gizmo}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#,
        )
        .ok();
    server
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/gizmos.example.net",
            "--timeout=20s",
        ])
        .ok();
    server.kubectl(&["create", "ns", "full"]).ok();
    server.wait_for_default_service_account("full");
    let n = |args: &[&str]| {
        let mut all = vec!["-n", "full"];
        all.extend_from_slice(args);
        server.kubectl(&all).ok();
    };
    n(&["create", "configmap", "cm", "--from-literal=a=b"]);
    n(&["create", "secret", "generic", "s", "--from-literal=a=b"]);
    n(&["create", "deployment", "d", "--image=busybox"]);
    n(&["create", "job", "j", "--image=busybox"]);
    n(&[
        "create",
        "cronjob",
        "cj",
        "--image=busybox",
        "--schedule=*/5 * * * *",
    ]);
    n(&["create", "service", "clusterip", "svc", "--tcp=80:80"]);
    n(&["create", "serviceaccount", "sa"]);
    n(&["create", "role", "r", "--verb=get", "--resource=pods"]);
    n(&[
        "create",
        "rolebinding",
        "rb",
        "--role=r",
        "--serviceaccount=full:sa",
    ]);
    n(&[
        "create",
        "poddisruptionbudget",
        "pdb",
        "--selector=app=d",
        "--min-available=1",
    ]);
    n(&["run", "p", "--image=busybox"]);
    server
        .kubectl_stdin(
            &["apply", "-n", "full", "-f", "-"],
            "apiVersion: example.net/v1\nkind: Gizmo\nmetadata: {name: g}\nspec: {size: 1}\n",
        )
        .ok();
    server
        .kubectl(&["delete", "ns", "full", "--timeout=60s"])
        .ok();
    let out = server.kubectl(&["get", "ns", "full"]);
    assert!(
        !out.success() && out.stderr.contains("NotFound"),
        "{}",
        out.stderr
    );
    let gizmos = server.kubectl_json(&["get", "gizmos", "-A"]);
    assert_eq!(gizmos["items"], serde_json::json!([]), "{gizmos}");
}

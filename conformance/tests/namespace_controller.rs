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

//! The official Python `kubernetes` client against k8rs
//! (the script is conformance/python/client_test.py).

use std::process::Command;
use std::time::Duration;

use k8rs_conformance::{run, workspace_root, Server};

fn run_script(section: &str) {
    let server = Server::start();
    let script = workspace_root().join("conformance/python/client_test.py");
    let out = run(
        Command::new("python3")
            .arg(&script)
            .arg(server.kubeconfig())
            .arg(section)
            .env_remove("KUBECONFIG")
            .env("PYTHONUNBUFFERED", "1"),
        None,
        Duration::from_secs(150),
    );
    let stdout = out.ok();
    assert!(
        stdout.lines().any(|l| l == "ALL OK"),
        "script did not finish:\n{stdout}\n{}",
        out.stderr
    );
}

/// Kubeconfig, namespaces, create, label selectors, update conflicts,
/// watch resumed from an older resourceVersion, live watch, delete.
#[test]
fn python_client_core() {
    run_script("core");
}

/// The client's patch calls: JSON patch for list bodies, strategic merge
/// patch for dict bodies.
#[test]
fn python_client_patches() {
    run_script("patches");
}

/// CustomResourceDefinitions through ApiextensionsV1Api, and their objects through
/// CustomObjectsApi: create, get, list by label, merge patch, watch, delete.
#[test]
fn python_client_custom_objects() {
    run_script("custom");
}

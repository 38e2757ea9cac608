//! The `k8rs server` process itself: kubeconfig, flags, shutdown.

use std::fs;
use std::time::Duration;

use k8rs_conformance::{extract_credentials, run, Server, ServerOpts};
use serde_json::Value;

#[test]
fn writes_kubeconfig_with_embedded_credentials() {
    let server = Server::start();
    let text = fs::read_to_string(server.kubeconfig()).unwrap();
    let kc: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(kc["kind"], "Config", "{text}");
    assert_eq!(kc["apiVersion"], "v1", "{text}");
    let cluster = &kc["clusters"][0]["cluster"];
    assert_eq!(cluster["server"], server.url().as_str(), "{text}");
    assert!(
        cluster["certificate-authority-data"].is_string(),
        "CA must be embedded: {text}"
    );
    let user = &kc["users"][0]["user"];
    assert!(
        user["client-certificate-data"].is_string(),
        "client cert must be embedded: {text}"
    );
    assert!(
        user["client-key-data"].is_string(),
        "client key must be embedded: {text}"
    );

    // The embedded CA verifies the serving certificate for 127.0.0.1 (curl
    // checks it) and the client certificate authenticates as an admin.
    let creds = extract_credentials(server.kubeconfig(), &server.tmp().join("x")).unwrap();
    let pem = fs::read_to_string(&creds.ca).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"), "{pem}");
    let resp = server.get("/api/v1/namespaces/kube-system");
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[test]
fn admin_identity() {
    let server = Server::start();
    let whoami = server.kubectl(&["auth", "whoami", "-o", "json"]).json();
    assert_eq!(whoami["kind"], "SelfSubjectReview", "{whoami}");
    assert!(
        whoami["status"]["userInfo"]["username"]
            .as_str()
            .is_some_and(|u| !u.is_empty()),
        "{whoami}"
    );
    let can = server.kubectl(&["auth", "can-i", "*", "*"]).ok();
    assert_eq!(can.trim(), "yes");
}

#[test]
fn default_kubeconfig_location_is_printed() {
    let server = Server::start_with(ServerOpts {
        default_kubeconfig: true,
        ..ServerOpts::default()
    });
    let path = server.data_dir().join("kubeconfig.yaml");
    assert_eq!(server.kubeconfig(), path.as_path());
    assert!(path.is_file(), "{} not written", path.display());
    let log = server.log();
    assert!(
        log.contains(&path.display().to_string()),
        "the server should print the kubeconfig path on start:\n{log}"
    );
    let out = server.kubectl(&["get", "ns", "default", "-o", "name"]).ok();
    assert_eq!(out.trim(), "namespace/default");
}

#[test]
fn kubeconfig_env_var_works() {
    let server = Server::start();
    let out = run(
        std::process::Command::new(k8rs_conformance::KUBECTL)
            .args(["get", "ns", "kube-system", "-o", "name"])
            .env("KUBECONFIG", server.kubeconfig())
            .env("HOME", server.tmp()),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(out.ok().trim(), "namespace/kube-system");
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut server = Server::start();
    let status = server.terminate(Duration::from_secs(15));
    let status =
        status.unwrap_or_else(|| panic!("server ignored SIGTERM for 15s\n{}", server.log()));
    assert!(
        status.success(),
        "exit status after SIGTERM: {status}\n{}",
        server.log()
    );
    // And it comes back on the same port and data.
    server.restart();
    server.kubectl(&["get", "ns", "default"]).ok();
}

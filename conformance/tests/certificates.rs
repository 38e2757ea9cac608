//! CertificateSigningRequests end to end: `kubectl certificate approve`, the signer
//! issuing from the cluster CA, the issued certificate authenticating as its subject, the
//! kubelet client approver, and a signer refusing what it must not sign.

use base64::Engine as _;
use k8rs_conformance::{poll_until, Server, KUBECTL, WAIT_TIMEOUT};
use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::{json, Value};

/// A key and a PEM certificate request for CN `cn`, organizations `orgs`.
fn request(cn: &str, orgs: &[&str]) -> (KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    for o in orgs {
        params.distinguished_name.push(DnType::OrganizationName, *o);
    }
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    (key, csr)
}

fn submit(server: &Server, name: &str, signer: &str, csr: &str, usages: &[&str]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(csr);
    let obj = json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": b64, "signerName": signer, "usages": usages, "expirationSeconds": 3600}});
    server
        .kubectl_stdin(&["create", "-f", "-"], &obj.to_string())
        .ok();
}

fn csr(server: &Server, name: &str) -> Value {
    server.kubectl_json(&["get", "csr", name])
}

#[test]
fn approved_requests_are_signed_and_the_certificate_authenticates() {
    let server = Server::start();
    let (key, pem) = request("alice", &["devs"]);
    submit(
        &server,
        "alice",
        "kubernetes.io/kube-apiserver-client",
        &pem,
        &["client auth"],
    );
    // Not approved: not signed.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(csr(&server, "alice")["status"]["certificate"].is_null());

    server.kubectl(&["certificate", "approve", "alice"]).ok();
    let cert_b64 = poll_until(WAIT_TIMEOUT, "the signed certificate", || {
        csr(&server, "alice")["status"]["certificate"]
            .as_str()
            .map(str::to_string)
    });
    let cert = base64::engine::general_purpose::STANDARD
        .decode(cert_b64)
        .unwrap();
    assert!(String::from_utf8_lossy(&cert).starts_with("-----BEGIN CERTIFICATE-----"));

    // kubectl with the issued certificate is alice, in devs.
    let dir = server.tmp();
    std::fs::write(dir.join("alice.crt"), &cert).unwrap();
    std::fs::write(dir.join("alice.key"), key.serialize_pem()).unwrap();
    let creds = server.credentials();
    let out = std::process::Command::new(KUBECTL)
        .args([
            "--server",
            &creds.server,
            "--certificate-authority",
            &creds.ca.display().to_string(),
            "--client-certificate",
            &dir.join("alice.crt").display().to_string(),
            "--client-key",
            &dir.join("alice.key").display().to_string(),
            "--kubeconfig=/dev/null",
            "auth",
            "whoami",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "alice");
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        json!(["devs", "system:authenticated"])
    );
}

#[test]
fn kubelet_client_requests_are_auto_approved_and_bad_ones_fail() {
    let server = Server::start();
    let (_, pem) = request("system:node:n1", &["system:nodes"]);
    submit(
        &server,
        "node-n1",
        "kubernetes.io/kube-apiserver-client-kubelet",
        &pem,
        &["digital signature", "client auth"],
    );
    let c = poll_until(WAIT_TIMEOUT, "auto-approval and signing", || {
        let c = csr(&server, "node-n1");
        c["status"]["certificate"].is_string().then_some(c)
    });
    let approved = &c["status"]["conditions"][0];
    assert_eq!(approved["type"], "Approved");
    assert_eq!(approved["reason"], "AutoApproved");
    let out = server.kubectl(&["get", "csr", "node-n1"]).ok();
    assert!(out.contains("Approved,Issued"), "{out}");

    // Not a node's name: not auto-approved; approved by hand, the signer refuses it.
    let (_, pem) = request("mallory", &["system:nodes"]);
    submit(
        &server,
        "fake-node",
        "kubernetes.io/kube-apiserver-client-kubelet",
        &pem,
        &["client auth"],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(csr(&server, "fake-node")["status"]["conditions"].is_null());
    server
        .kubectl(&["certificate", "approve", "fake-node"])
        .ok();
    let failed = poll_until(WAIT_TIMEOUT, "the signer to refuse", || {
        let c = csr(&server, "fake-node");
        c["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|x| x["type"] == "Failed").cloned())
    });
    assert_eq!(failed["reason"], "SignerValidationFailure");
    assert!(failed["message"]
        .as_str()
        .unwrap_or_default()
        .contains("does not begin with system:node:"));
    assert!(csr(&server, "fake-node")["status"]["certificate"].is_null());
}

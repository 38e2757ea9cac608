//! `serviceaccounts/token` (TokenRequest) and the bearer-token authenticator: a token from
//! `kubectl create token` works as a credential, names its service account (and bound
//! pod), is reviewed by TokenReview, and stops working when its objects go.

use std::path::PathBuf;

use k8rs_conformance::{poll_until, Server, KUBECTL, WAIT_TIMEOUT};
use serde_json::json;

/// A kubeconfig that trusts the server's CA and carries only `token`: no client cert.
fn token_kubeconfig(server: &Server, token: &str, name: &str) -> PathBuf {
    let creds = server.credentials();
    let path = server.tmp().join(format!("{name}.kubeconfig"));
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n",
        creds.server,
        creds.ca.display()
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

fn kubectl_with(kubeconfig: &PathBuf, args: &[&str]) -> k8rs_conformance::Output {
    let mut cmd = std::process::Command::new(KUBECTL);
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    k8rs_conformance::run(&mut cmd, None, k8rs_conformance::COMMAND_TIMEOUT)
}

#[test]
fn created_tokens_authenticate_as_the_service_account() {
    let server = Server::start();
    server.wait_for_default_service_account("default");
    let token = server.kubectl(&["create", "token", "default"]).ok();
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWS: {token}");

    let kc = token_kubeconfig(&server, token, "sa");
    let out = kubectl_with(&kc, &["get", "ns", "default", "-o", "name"]).ok();
    assert_eq!(out.trim(), "namespace/default");

    let who = kubectl_with(&kc, &["auth", "whoami", "-o", "json"]).json();
    let info = &who["status"]["userInfo"];
    assert_eq!(info["username"], "system:serviceaccount:default:default");
    let sa = server.kubectl_json(&["get", "sa", "default"]);
    assert_eq!(info["uid"], sa["metadata"]["uid"]);
    assert_eq!(
        info["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    let jti = info["extra"]["authentication.kubernetes.io/credential-id"][0]
        .as_str()
        .unwrap_or_default();
    assert!(jti.starts_with("JTI="), "{who}");

    // TokenReview says the same, and reports the audiences it matched.
    let review = server
        .http("POST", "/apis/authentication.k8s.io/v1/tokenreviews")
        .json(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                      "spec": {"token": token}}),
        )
        .send();
    assert_eq!(review.status, 201, "{}", review.text());
    let review = review.json();
    assert_eq!(review["status"]["authenticated"], true, "{review}");
    assert_eq!(
        review["status"]["user"]["username"],
        "system:serviceaccount:default:default"
    );
    assert_eq!(
        review["status"]["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );

    // A tampered token is no credential, and TokenReview says why not.
    let tampered = format!("{}x", token);
    let bad = token_kubeconfig(&server, &tampered, "bad");
    let err = kubectl_with(&bad, &["get", "ns"]).fails();
    assert!(err.contains("Unauthorized"), "{err}");
    let review = server
        .http("POST", "/apis/authentication.k8s.io/v1/tokenreviews")
        .json(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                      "spec": {"token": tampered}}),
        )
        .send();
    assert_eq!(review.status, 201, "{}", review.text());
    let review = review.json();
    assert!(review["status"]["authenticated"].is_null(), "{review}");
    assert!(!review["status"]["error"]
        .as_str()
        .unwrap_or_default()
        .is_empty());

    // Deleting the service account revokes its tokens.
    server.kubectl(&["delete", "sa", "default"]).ok();
    poll_until(WAIT_TIMEOUT, "the token to stop working", || {
        let out = kubectl_with(&kc, &["get", "ns", "default"]);
        // The serviceaccount controller recreates `default` with a new uid: the old
        // token must still be refused.
        (!out.success()).then_some(())
    });
}

#[test]
fn bound_tokens_die_with_their_pod_and_bad_requests_are_refused() {
    let server = Server::start();
    server.wait_for_default_service_account("default");
    server
        .kubectl(&["run", "p", "--image=busybox", "--restart=Never"])
        .ok();
    let token = server
        .kubectl(&[
            "create",
            "token",
            "default",
            "--bound-object-kind=Pod",
            "--bound-object-name=p",
            "--duration=20m",
        ])
        .ok();
    let kc = token_kubeconfig(&server, token.trim(), "bound");
    let who = kubectl_with(&kc, &["auth", "whoami", "-o", "json"]).json();
    let pod = server.kubectl_json(&["get", "pod", "p"]);
    let extra = &who["status"]["userInfo"]["extra"];
    assert_eq!(extra["authentication.kubernetes.io/pod-name"], json!(["p"]));
    assert_eq!(
        extra["authentication.kubernetes.io/pod-uid"],
        json!([pod["metadata"]["uid"]])
    );

    server
        .kubectl(&["delete", "pod", "p", "--grace-period=0", "--force"])
        .ok();
    poll_until(WAIT_TIMEOUT, "the pod-bound token to stop working", || {
        (!kubectl_with(&kc, &["get", "ns"]).success()).then_some(())
    });

    // Shorter than ten minutes: 422 with the field named.
    let resp = server
        .http(
            "POST",
            "/api/v1/namespaces/default/serviceaccounts/default/token",
        )
        .json(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                      "spec": {"expirationSeconds": 60}}),
        )
        .send()
        .assert_status(422, "Invalid");
    assert_eq!(
        resp["details"]["causes"][0]["field"],
        "spec.expirationSeconds"
    );
    let err = server
        .kubectl(&["create", "token", "default", "--duration=1m"])
        .fails();
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );

    // Only pods, secrets and nodes can be bound; a missing object is a 404.
    server
        .http("POST", "/api/v1/namespaces/default/serviceaccounts/default/token")
        .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                      "spec": {"boundObjectRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}}))
        .send()
        .assert_status(400, "BadRequest");
    server
        .http("POST", "/api/v1/namespaces/default/serviceaccounts/default/token")
        .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                      "spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": "nope"}}}))
        .send()
        .assert_status(404, "NotFound");
    server
        .http(
            "POST",
            "/api/v1/namespaces/default/serviceaccounts/nobody/token",
        )
        .json(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
        )
        .send()
        .assert_status(404, "NotFound");

    // Issuer discovery publishes the key tokens are signed with.
    let jwks = server.get("/openid/v1/jwks").json();
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    let conf = server.get("/.well-known/openid-configuration").json();
    assert_eq!(
        conf["issuer"],
        "https://kubernetes.default.svc.cluster.local"
    );
}

#[test]
fn tokens_survive_a_restart() {
    let mut server = Server::start();
    server.wait_for_default_service_account("kube-system");
    let token = server
        .kubectl(&["create", "token", "default", "-n", "kube-system"])
        .ok();
    let kc = token_kubeconfig(&server, token.trim(), "restart");
    kubectl_with(&kc, &["get", "ns"]).ok();
    server.restart();
    let out = kubectl_with(&kc, &["get", "ns", "kube-system", "-o", "name"]).ok();
    assert_eq!(out.trim(), "namespace/kube-system");
}

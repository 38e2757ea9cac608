//! Conflicts, validation and HTTP-level errors. After every failure the
//! object must not be (partially) stored.

use std::fs;

use k8rs_conformance::{names_with_prefix, Server};
use serde_json::{json, Value};

/// The namespace's ConfigMaps but the one the root-ca-cert publisher adds on its own
/// schedule (it may appear between two reads).
fn cm_names(server: &Server, ns: &str) -> Vec<String> {
    let mut names = names_with_prefix(
        &server.kubectl(&["get", "cm", "-n", ns, "-o", "name"]).ok(),
        "",
    );
    names.retain(|n| !n.ends_with("kube-root-ca.crt"));
    names
}

#[test]
fn stale_replace_is_a_conflict() {
    let server = Server::start();
    server
        .kubectl(&["create", "cm", "stale", "--from-literal=v=1"])
        .ok();
    let old = server.kubectl_json(&["get", "cm", "stale"]);

    // Someone else updates the object in between.
    server
        .kubectl(&[
            "patch",
            "cm",
            "stale",
            "--type=merge",
            "-p",
            r#"{"data":{"v":"2"}}"#,
        ])
        .ok();
    let current = server.kubectl_json(&["get", "cm", "stale"]);

    let mut mine = old.clone();
    mine["data"]["v"] = json!("mine");
    let file = server.tmp().join("stale.json");
    fs::write(&file, mine.to_string()).unwrap();
    let err = server
        .kubectl(&["replace", "-f", file.to_str().unwrap()])
        .fails();
    assert!(
        err.contains("the object has been modified"),
        "stale replace should report a conflict:\n{err}"
    );
    assert!(err.contains("Conflict"), "{err}");
    let after = server.kubectl_json(&["get", "cm", "stale"]);
    assert_eq!(after, current, "failed replace changed the object");

    // Same over raw HTTP: 409 Conflict Status.
    let resp = server
        .http("PUT", "/api/v1/namespaces/default/configmaps/stale")
        .json(&mine)
        .send();
    let st = resp.assert_status(409, "Conflict");
    assert!(
        st["message"]
            .as_str()
            .is_some_and(|m| m.contains("the object has been modified")),
        "{st}"
    );
    assert_eq!(st["details"]["name"], "stale", "{st}");
    assert_eq!(st["details"]["kind"], "configmaps", "{st}");

    // Stale delete precondition is a conflict too.
    let resp = server
        .http("DELETE", "/api/v1/namespaces/default/configmaps/stale")
        .json(&json!({
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"resourceVersion": old["metadata"]["resourceVersion"]}
        }))
        .send();
    resp.assert_status(409, "Conflict");
    assert_eq!(server.kubectl_json(&["get", "cm", "stale"]), current);
}

#[test]
fn duplicate_create_is_already_exists() {
    let server = Server::start();
    server
        .kubectl(&["create", "cm", "dup", "--from-literal=v=original"])
        .ok();
    let before = server.kubectl_json(&["get", "cm", "dup"]);

    // `kubectl create configmap` prints only the message...
    let err = server
        .kubectl(&["create", "cm", "dup", "--from-literal=v=second"])
        .fails();
    assert!(err.contains(r#"configmaps "dup" already exists"#), "{err}");
    assert_eq!(server.kubectl_json(&["get", "cm", "dup"]), before);
    // ...`kubectl create -f` also the reason.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\ndata:\n  v: from-file\n";
    let err = server.kubectl_stdin(&["create", "-f", "-"], yaml).fails();
    assert!(
        err.contains("Error from server (AlreadyExists)")
            && err.contains(r#"configmaps "dup" already exists"#),
        "{err}"
    );
    assert_eq!(server.kubectl_json(&["get", "cm", "dup"]), before);

    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .json(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "dup"}, "data": {"v": "third"}
        }))
        .send();
    let st = resp.assert_status(409, "AlreadyExists");
    assert_eq!(st["details"]["name"], "dup", "{st}");
    assert_eq!(st["details"]["kind"], "configmaps", "{st}");
    assert_eq!(server.kubectl_json(&["get", "cm", "dup"]), before);

    // Namespaces (cluster-scoped) too.
    let err = server.kubectl(&["create", "ns", "default"]).fails();
    assert!(err.contains("AlreadyExists"), "{err}");
}

#[test]
fn invalid_name_is_rejected() {
    let server = Server::start();
    let before = cm_names(&server, "default");
    let err = server
        .kubectl(&["create", "configmap", "Bad_Name", "--from-literal=a=b"])
        .fails();
    assert!(
        err.contains("is invalid") && err.contains("metadata.name"),
        "expected an Invalid error naming metadata.name:\n{err}"
    );
    assert!(err.contains("Bad_Name"), "{err}");

    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .json(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "Bad_Name"}, "data": {"a": "b"}
        }))
        .send();
    let st = resp.assert_status(422, "Invalid");
    assert_eq!(st["details"]["name"], "Bad_Name", "{st}");
    assert_eq!(st["details"]["kind"], "ConfigMap", "{st}");
    let causes = st["details"]["causes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        causes.iter().any(|c| c["field"] == "metadata.name"),
        "causes should name metadata.name: {st}"
    );

    // Other invalid objects: missing name, bad data key, bad namespace name.
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}))
        .send();
    resp.assert_status(422, "Invalid");
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .json(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "badkey"}, "data": {"no/slash": "x"}
        }))
        .send();
    resp.assert_status(422, "Invalid");
    let err = server.kubectl(&["create", "ns", "Not.Valid"]).fails();
    assert!(
        err.contains("is invalid") && err.contains("metadata.name"),
        "{err}"
    );

    assert_eq!(
        cm_names(&server, "default"),
        before,
        "nothing may be stored"
    );
    let ns = server.kubectl(&["get", "ns", "-o", "name"]).ok();
    assert!(!ns.to_lowercase().contains("not.valid"), "{ns}");
}

#[test]
fn malformed_json_is_bad_request() {
    let server = Server::start();
    let before = cm_names(&server, "default");
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .body(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"half""#,
            "application/json",
        )
        .send();
    let st = resp.assert_status(400, "BadRequest");
    assert!(
        st["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{st}"
    );
    assert_eq!(st["metadata"], json!({}), "{st}");

    // Wrong kind in the body for the URL.
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .json(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wrongkind"}}))
        .send();
    assert_eq!(resp.status, 400, "{}", resp.text());

    // Body namespace that disagrees with the URL.
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .json(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "elsewhere", "namespace": "kube-system"}
        }))
        .send();
    resp.assert_status(400, "BadRequest");

    assert_eq!(
        cm_names(&server, "default"),
        before,
        "nothing may be stored"
    );
    let ks = server.kubectl(&["get", "cm", "elsewhere", "-n", "kube-system"]);
    assert!(!ks.success(), "body namespace must not be honoured");
}

#[test]
fn unauthenticated_requests_are_401() {
    let server = Server::start();
    let resp = server.http("GET", "/api/v1/namespaces").anonymous().send();
    resp.assert_status(401, "Unauthorized");

    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .anonymous()
        .json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "anon"}}))
        .send();
    resp.assert_status(401, "Unauthorized");
    server.kubectl(&["get", "cm", "anon"]).fails();

    // A bogus bearer token is not a credential either.
    let resp = server
        .http("GET", "/api/v1/namespaces")
        .anonymous()
        .header("Authorization: Bearer not-a-real-token")
        .send();
    resp.assert_status(401, "Unauthorized");

    // With the admin client certificate the same request works.
    let resp = server.get("/api/v1/namespaces");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["kind"], "NamespaceList");
}

#[test]
fn health_and_version_need_no_credentials() {
    let server = Server::start();
    for path in ["/healthz", "/livez", "/readyz"] {
        let resp = server.http("GET", path).anonymous().send();
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert_eq!(resp.text().trim(), "ok", "{path}");
    }
    let resp = server.http("GET", "/version").anonymous().send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    assert!(
        v["gitVersion"]
            .as_str()
            .is_some_and(|g| g.starts_with("v1.33.")),
        "{v}"
    );
    for f in ["major", "minor", "platform"] {
        assert!(v.get(f).is_some(), "/version lacks {f}: {v}");
    }
    // Verbose health checks list individual checks.
    for (path, last) in [
        ("/readyz?verbose", "readyz check passed"),
        ("/livez?verbose", "livez check passed"),
        ("/healthz?verbose", "healthz check passed"),
    ] {
        let resp = server.http("GET", path).anonymous().send();
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let text = resp.text();
        assert!(
            text.contains("[+]ping ok") && text.trim_end().ends_with(last),
            "{path} should list the individual checks ([+]ping ok ... {last}), got:\n{text}"
        );
    }
}

#[test]
fn oversized_body_is_413() {
    let server = Server::start();
    let big = "x".repeat(4 * 1024 * 1024);
    let body: Value = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "huge"}, "data": {"blob": big}
    });
    // Raw over HTTP/1.1: curl 7.88 drops an HTTP/2 response that arrives
    // before its upload finished (Go's client, below, uses HTTP/2).
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .http1()
        .json(&body)
        .send();
    let st = resp.assert_status(413, "RequestEntityTooLarge");
    assert!(
        st["message"]
            .as_str()
            .is_some_and(|m| m.contains("Request entity too large")),
        "{st}"
    );
    // Through kubectl.
    let file = server.tmp().join("huge.json");
    fs::write(&file, body.to_string()).unwrap();
    let err = server
        .kubectl(&["create", "-f", file.to_str().unwrap()])
        .fails();
    assert!(err.contains("RequestEntityTooLarge"), "{err}");
    let err = server.kubectl(&["get", "cm", "huge"]).fails();
    assert!(err.contains("NotFound"), "{err}");

    // Same on update.
    server.kubectl(&["create", "cm", "small"]).ok();
    let before = server.kubectl_json(&["get", "cm", "small"]);
    let mut upd = before.clone();
    upd["data"] = json!({"blob": "y".repeat(4 * 1024 * 1024)});
    let resp = server
        .http("PUT", "/api/v1/namespaces/default/configmaps/small")
        .http1()
        .json(&upd)
        .send();
    resp.assert_status(413, "RequestEntityTooLarge");
    assert_eq!(server.kubectl_json(&["get", "cm", "small"]), before);
}

#[test]
fn unknown_resources_are_404_status() {
    let server = Server::start();
    for path in [
        "/api/v1/namespaces/default/foos",
        "/api/v1/foos",
        "/apis/nosuch.example.com/v1/widgets",
        "/apis/apps/v1/namespaces/default/gizmos",
    ] {
        let resp = server.get(path);
        resp.assert_status(404, "NotFound");
    }
    // A missing object of a known resource: NotFound with details.
    let resp = server.get("/api/v1/namespaces/default/configmaps/nope");
    let st = resp.assert_status(404, "NotFound");
    assert_eq!(st["message"], r#"configmaps "nope" not found"#, "{st}");
    assert_eq!(st["details"]["name"], "nope", "{st}");
    assert_eq!(st["details"]["kind"], "configmaps", "{st}");
    // A missing namespace's objects: listing is empty/200 upstream, but
    // getting a named object is NotFound.
    let resp = server.get("/api/v1/namespaces/no-such-ns/configmaps/x");
    resp.assert_status(404, "NotFound");

    let err = server.kubectl(&["get", "foos"]).fails();
    assert!(
        err.contains(r#"the server doesn't have a resource type "foos""#),
        "{err}"
    );
}

#[test]
fn unsupported_media_type_and_missing_namespace() {
    let server = Server::start();
    // Unsupported content type on create: 415.
    let resp = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .body("name: x", "text/plain")
        .send();
    resp.assert_status(415, "UnsupportedMediaType");
    // Creating in a namespace that does not exist: NotFound (namespace
    // lifecycle admission).
    let resp = server
        .http("POST", "/api/v1/namespaces/no-such-ns/configmaps")
        .json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))
        .send();
    resp.assert_status(404, "NotFound");
    server.kubectl(&["get", "ns", "no-such-ns"]).fails();
}

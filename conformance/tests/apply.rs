//! Client-side `kubectl apply` (create with the last-applied annotation,
//! then three-way strategic merge patches), `kubectl diff` and
//! `kubectl apply --dry-run=server`.
//!
//! Expected results are what kube-apiserver v1.33 stores. Cells that only a
//! real cluster's defaulting or controllers would add (imagePullPolicy,
//! `deployment.kubernetes.io/revision`, cluster IPs, ...) are not compared.

use std::fs;
use std::path::PathBuf;

use k8rs_conformance::{project, Output, Server};
use serde_json::{json, Map, Value};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Write `content` to `<server tmp>/<name>` and return the path.
fn write(server: &Server, name: &str, content: &str) -> String {
    let path: PathBuf = server.tmp().join(name);
    fs::write(&path, content).unwrap();
    path.display().to_string()
}

/// `kubectl apply -f FILE`, asserting success; returns stdout trimmed.
#[track_caller]
fn apply(server: &Server, file: &str) -> String {
    server
        .kubectl(&["apply", "-f", file])
        .ok()
        .trim()
        .to_string()
}

/// The last-applied annotation of `obj`, parsed.
#[track_caller]
fn last_applied(obj: &Value) -> Value {
    let s = obj["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .unwrap_or_else(|| panic!("no {LAST_APPLIED} annotation: {obj}"));
    assert!(
        s.ends_with('\n'),
        "kubectl stores the annotation with a trailing newline: {s:?}"
    );
    serde_json::from_str(s).unwrap_or_else(|e| panic!("annotation is not JSON ({e}): {s}"))
}

/// What kubectl records as last-applied for `yaml`: the manifest with
/// `metadata.annotations` (minus the annotation itself, so usually `{}`)
/// and, for namespaced objects, `metadata.namespace` filled in.
fn expected_last_applied(yaml: &str, namespace: Option<&str>) -> Value {
    let mut v: Value = serde_yaml::from_str(yaml).unwrap();
    let meta = v["metadata"].as_object_mut().unwrap();
    meta.entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    v
}

/// The object's annotations without the last-applied one and without the
/// ones a real cluster's controllers add (`deployment.kubernetes.io/...`).
fn user_annotations(obj: &Value) -> Value {
    let mut m = obj["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    m.remove(LAST_APPLIED);
    m.retain(|k, _| !k.starts_with("deployment.kubernetes.io/"));
    Value::Object(m)
}

fn containers(obj: &Value) -> Value {
    project(
        &obj["spec"]["template"]["spec"]["containers"],
        &["name", "image", "args", "env"],
    )
}

const DEPLOY_V1: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    tier: frontend
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env:
        - name: MODE
          value: blue
        - name: LOG_LEVEL
          value: info
"#;

/// v1 plus a `log` container listed *before* `app`.
const DEPLOY_V2: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    tier: frontend
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: log
        image: busybox:1.36
        args: ["tail", "-f", "/dev/null"]
      - name: app
        image: nginx:1.27
        env:
        - name: MODE
          value: blue
        - name: LOG_LEVEL
          value: info
"#;

/// v2 with MODE changed and the `tier` label removed.
const DEPLOY_V3: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: log
        image: busybox:1.36
        args: ["tail", "-f", "/dev/null"]
      - name: app
        image: nginx:1.27
        env:
        - name: MODE
          value: green
        - name: LOG_LEVEL
          value: info
"#;

/// v3 without the `log` container and with replicas changed in the file.
const DEPLOY_V4: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env:
        - name: MODE
          value: green
        - name: LOG_LEVEL
          value: info
"#;

#[test]
fn apply_deployment_three_way_merge() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", DEPLOY_V1);
    let v2 = write(&server, "v2.yaml", DEPLOY_V2);
    let v3 = write(&server, "v3.yaml", DEPLOY_V3);
    let v4 = write(&server, "v4.yaml", DEPLOY_V4);

    assert_eq!(apply(&server, &v1), "deployment.apps/web created");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        last_applied(&d),
        expected_last_applied(DEPLOY_V1, Some("default")),
        "{d}"
    );
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "tier": "frontend"})
    );
    assert_eq!(
        containers(&d),
        json!([{"name": "app", "image": "nginx:1.27",
                "env": [{"name": "MODE", "value": "blue"},
                        {"name": "LOG_LEVEL", "value": "info"}]}])
    );

    // Re-applying the same file changes nothing (the controllers may still be writing
    // status meanwhile, so compare what apply owns, not the resourceVersion).
    let before = d.clone();
    assert_eq!(apply(&server, &v1), "deployment.apps/web unchanged");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"], before["spec"], "no-op apply wrote");
    assert_eq!(
        d["metadata"]["generation"],
        before["metadata"]["generation"]
    );
    // The deployment controller adds its revision annotation on its own schedule.
    assert_eq!(last_applied(&d), last_applied(&before));

    // Other clients change fields the file does not manage (labels,
    // annotations) and one it does, but did not change (replicas: the
    // patch is computed against the live object, so apply resets it).
    server
        .kubectl(&["label", "deploy", "web", "owner=ops"])
        .ok();
    server
        .kubectl(&["annotate", "deploy", "web", "note=keep"])
        .ok();
    assert_eq!(
        server
            .kubectl(&["scale", "deploy", "web", "--replicas=5"])
            .ok()
            .trim(),
        "deployment.apps/web scaled"
    );

    // v2: a new container before the existing one.
    assert_eq!(apply(&server, &v2), "deployment.apps/web configured");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        containers(&d),
        json!([
            {"name": "log", "image": "busybox:1.36", "args": ["tail", "-f", "/dev/null"]},
            {"name": "app", "image": "nginx:1.27",
             "env": [{"name": "MODE", "value": "blue"},
                     {"name": "LOG_LEVEL", "value": "info"}]}
        ]),
        "containers must be in file order: {d}"
    );
    assert_eq!(
        d["spec"]["replicas"], 2,
        "the file sets replicas, so apply resets what `kubectl scale` did: {d}"
    );
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "tier": "frontend", "owner": "ops"})
    );
    assert_eq!(user_annotations(&d), json!({"note": "keep"}));
    assert_eq!(
        last_applied(&d),
        expected_last_applied(DEPLOY_V2, Some("default"))
    );

    // v3: an env var changes, a label is dropped from the file.
    assert_eq!(apply(&server, &v3), "deployment.apps/web configured");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        containers(&d),
        json!([
            {"name": "log", "image": "busybox:1.36", "args": ["tail", "-f", "/dev/null"]},
            {"name": "app", "image": "nginx:1.27",
             "env": [{"name": "MODE", "value": "green"},
                     {"name": "LOG_LEVEL", "value": "info"}]}
        ]),
        "{d}"
    );
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "owner": "ops"}),
        "label removed from the file must be removed; others' labels kept: {d}"
    );
    assert_eq!(user_annotations(&d), json!({"note": "keep"}));
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"})
    );
    assert_eq!(
        last_applied(&d),
        expected_last_applied(DEPLOY_V3, Some("default"))
    );

    // v4: a container removed from the file, replicas changed in the file.
    assert_eq!(apply(&server, &v4), "deployment.apps/web configured");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        containers(&d),
        json!([{"name": "app", "image": "nginx:1.27",
                "env": [{"name": "MODE", "value": "green"},
                        {"name": "LOG_LEVEL", "value": "info"}]}]),
        "{d}"
    );
    assert_eq!(d["spec"]["replicas"], 3, "{d}");
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "owner": "ops"})
    );
    assert_eq!(user_annotations(&d), json!({"note": "keep"}));
    assert_eq!(
        last_applied(&d),
        expected_last_applied(DEPLOY_V4, Some("default"))
    );
    assert_eq!(apply(&server, &v4), "deployment.apps/web unchanged");
}

#[test]
fn apply_keeps_list_items_added_by_other_clients() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", DEPLOY_V1);
    apply(&server, &v1);
    // Someone else adds a sidecar with a strategic merge patch: new items
    // go before the existing ones.
    server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"envoy:1.30"}]}}}}"#,
        ])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        project(&d["spec"]["template"]["spec"]["containers"], &["name"]),
        json!([{"name": "sidecar"}, {"name": "app"}]),
        "{d}"
    );

    // The file changes the image of `app`; the sidecar is not in the
    // last-applied configuration, so apply leaves it alone (and in place).
    let v1b = write(
        &server,
        "v1b.yaml",
        &DEPLOY_V1.replace("nginx:1.27", "nginx:1.28"),
    );
    assert_eq!(apply(&server, &v1b), "deployment.apps/web configured");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        project(
            &d["spec"]["template"]["spec"]["containers"],
            &["name", "image"]
        ),
        json!([{"name": "sidecar", "image": "envoy:1.30"},
               {"name": "app", "image": "nginx:1.28"}]),
        "{d}"
    );
}

const SVC_V1: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  type: ClusterIP
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
    protocol: TCP
  - name: metrics
    port: 9090
    targetPort: 9090
    protocol: TCP
"#;

/// Ports changed: `https` added first, `http` retargeted, `metrics` gone.
const SVC_V2: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  type: ClusterIP
  selector:
    app: web
  ports:
  - name: https
    port: 443
    targetPort: 8443
    protocol: TCP
  - name: http
    port: 80
    targetPort: 8081
    protocol: TCP
"#;

/// v2 without the selector.
const SVC_V3: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  type: ClusterIP
  ports:
  - name: https
    port: 443
    targetPort: 8443
    protocol: TCP
  - name: http
    port: 80
    targetPort: 8081
    protocol: TCP
"#;

#[test]
fn apply_service_ports() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", SVC_V1);
    let v2 = write(&server, "v2.yaml", SVC_V2);
    let v3 = write(&server, "v3.yaml", SVC_V3);

    assert_eq!(apply(&server, &v1), "service/web created");
    let s = server.kubectl_json(&["get", "svc", "web"]);
    assert_eq!(
        s["spec"]["ports"],
        json!([
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}
        ]),
        "{s}"
    );
    assert_eq!(
        last_applied(&s),
        expected_last_applied(SVC_V1, Some("default"))
    );

    server
        .kubectl(&["label", "svc", "web", "team=payments"])
        .ok();
    server
        .kubectl(&["annotate", "svc", "web", "owner=alice"])
        .ok();

    assert_eq!(apply(&server, &v2), "service/web configured");
    let s = server.kubectl_json(&["get", "svc", "web"]);
    assert_eq!(
        s["spec"]["ports"],
        json!([
            {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
            {"name": "http", "port": 80, "targetPort": 8081, "protocol": "TCP"}
        ]),
        "ports must be exactly the file's, in file order: {s}"
    );
    assert_eq!(s["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(s["spec"]["type"], "ClusterIP");
    assert_eq!(
        s["metadata"]["labels"],
        json!({"app": "web", "team": "payments"})
    );
    assert_eq!(user_annotations(&s), json!({"owner": "alice"}));
    assert_eq!(
        last_applied(&s),
        expected_last_applied(SVC_V2, Some("default"))
    );

    assert_eq!(apply(&server, &v3), "service/web configured");
    let s = server.kubectl_json(&["get", "svc", "web"]);
    assert!(
        s["spec"].get("selector").is_none(),
        "selector removed from the file must be removed: {s}"
    );
    assert_eq!(s["spec"]["ports"].as_array().map(Vec::len), Some(2), "{s}");
    assert_eq!(
        last_applied(&s),
        expected_last_applied(SVC_V3, Some("default"))
    );
    assert_eq!(apply(&server, &v3), "service/web unchanged");
}

const CM_V1: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
  labels:
    app: web
data:
  a: "1"
  b: "2"
  c: "3"
"#;

/// `b` removed, `c` changed.
const CM_V2: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
  labels:
    app: web
data:
  a: "1"
  c: "33"
"#;

#[test]
fn apply_configmap_remove_key() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", CM_V1);
    let v2 = write(&server, "v2.yaml", CM_V2);

    assert_eq!(apply(&server, &v1), "configmap/conf created");
    server
        .kubectl(&[
            "patch",
            "cm",
            "conf",
            "--type=merge",
            "-p",
            r#"{"data":{"extra":"from-someone-else"}}"#,
        ])
        .ok();

    assert_eq!(apply(&server, &v2), "configmap/conf configured");
    let cm = server.kubectl_json(&["get", "cm", "conf"]);
    assert_eq!(
        cm["data"],
        json!({"a": "1", "c": "33", "extra": "from-someone-else"}),
        "key removed from the file must go; keys of others stay: {cm}"
    );
    assert_eq!(cm["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        last_applied(&cm),
        expected_last_applied(CM_V2, Some("default"))
    );
    assert_eq!(apply(&server, &v2), "configmap/conf unchanged");
}

#[test]
fn apply_to_object_created_without_annotation() {
    let server = Server::start();
    server
        .kubectl(&[
            "create",
            "cm",
            "conf",
            "--from-literal=a=1",
            "--from-literal=b=2",
        ])
        .ok();
    let file = write(
        &server,
        "conf.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  a: \"9\"\n",
    );
    let out = server.kubectl(&["apply", "-f", &file]);
    assert_eq!(out.ok().trim(), "configmap/conf configured");
    assert!(
        out.stderr
            .contains("missing the kubectl.kubernetes.io/last-applied-configuration annotation"),
        "kubectl warns about the missing annotation:\n{}",
        out.stderr
    );
    let cm = server.kubectl_json(&["get", "cm", "conf"]);
    // Without a last-applied configuration nothing is deleted.
    assert_eq!(cm["data"], json!({"a": "9", "b": "2"}), "{cm}");
    assert_eq!(
        last_applied(&cm),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"annotations": {}, "name": "conf", "namespace": "default"},
               "data": {"a": "9"}})
    );
}

/// Assert `kubectl diff` exited with `code` (0: no differences, 1:
/// differences); return stdout.
#[track_caller]
fn diff(server: &Server, file: &str, code: i32) -> Output {
    let out = server.kubectl(&["diff", "-f", file]);
    assert_eq!(
        out.code,
        Some(code),
        "kubectl diff exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    out
}

#[test]
fn diff_uses_server_dry_run_and_stores_nothing() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", DEPLOY_V1);
    let v3 = write(&server, "v3.yaml", DEPLOY_V3);
    apply(&server, &v1);
    let before = server.kubectl_json(&["get", "deploy", "web"]);

    // Same file: no differences, exit 0, nothing printed.
    let out = diff(&server, &v1, 0);
    assert_eq!(out.stdout.trim(), "", "{}", out.stdout);

    // Changed file: a unified diff of live vs merged, exit 1.
    let out = diff(&server, &v3, 1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    for want in [
        "-    tier: frontend",
        "+        name: log",
        "-          value: blue",
        "+          value: green",
    ] {
        assert!(
            lines.iter().any(|l| l.trim_end() == want),
            "diff lacks {want:?}:\n{}",
            out.stdout
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("--- ") && l.contains("LIVE-")),
        "{}",
        out.stdout
    );
    let after = server.kubectl_json(&["get", "deploy", "web"]);
    // Controllers may still write status meanwhile; what diff could change is the rest.
    assert_eq!(
        without_status(&after),
        without_status(&before),
        "kubectl diff must not change the object"
    );

    // A new object: everything is added, nothing is created.
    let fresh = write(
        &server,
        "fresh.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\ndata:\n  k: v\n",
    );
    let out = diff(&server, &fresh, 1);
    assert!(
        out.stdout.lines().any(|l| l.trim_end() == "+  name: fresh"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("-  ")),
        "{}",
        out.stdout
    );
    let err = server.kubectl(&["get", "cm", "fresh"]).fails();
    assert!(err.contains("NotFound"), "diff created the object: {err}");

    // An invalid object: the server's validation error, exit > 1.
    let bad = write(
        &server,
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  k: v\n",
    );
    let out = server.kubectl(&["diff", "-f", &bad]);
    assert!(
        out.code.is_some_and(|c| c > 1),
        "diff of an invalid object must fail with exit > 1: {out:?}"
    );
    assert!(
        out.stderr
            .contains(r#"metadata.name: Invalid value: "Bad_Name""#),
        "{}",
        out.stderr
    );
}

#[test]
fn apply_dry_run_server() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", DEPLOY_V1);
    let v3 = write(&server, "v3.yaml", DEPLOY_V3);

    // Create in dry-run: validated, reported, not stored.
    let out = server
        .kubectl(&["apply", "-f", &v1, "--dry-run=server"])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web created (server dry run)");
    let err = server.kubectl(&["get", "deploy", "web"]).fails();
    assert!(err.contains("NotFound"), "{err}");

    // Update in dry-run: the would-be result is returned, nothing stored.
    apply(&server, &v1);
    let before = server.kubectl_json(&["get", "deploy", "web"]);
    let out = server
        .kubectl(&["apply", "-f", &v3, "--dry-run=server", "-o", "json"])
        .json();
    assert_eq!(
        containers(&out),
        json!([
            {"name": "log", "image": "busybox:1.36", "args": ["tail", "-f", "/dev/null"]},
            {"name": "app", "image": "nginx:1.27",
             "env": [{"name": "MODE", "value": "green"},
                     {"name": "LOG_LEVEL", "value": "info"}]}
        ]),
        "dry-run result: {out}"
    );
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        last_applied(&out),
        expected_last_applied(DEPLOY_V3, Some("default"))
    );
    let after = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        without_status(&after),
        without_status(&before),
        "dry-run apply changed the stored object"
    );
    let out = server
        .kubectl(&["apply", "-f", &v3, "--dry-run=server"])
        .ok();
    assert_eq!(
        out.trim(),
        "deployment.apps/web configured (server dry run)"
    );

    // Validation still runs.
    let bad = write(
        &server,
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  k: v\n",
    );
    let err = server
        .kubectl(&["apply", "-f", &bad, "--dry-run=server"])
        .fails();
    assert!(
        err.contains(
            r#"The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#
        ),
        "{err}"
    );
    let names = server.kubectl(&["get", "cm", "-o", "name"]).ok();
    assert!(!names.contains("Bad_Name"), "{names}");
}

/// An object minus what its controllers keep writing: status and the resourceVersion
/// that moves with it.
fn without_status(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    v
}

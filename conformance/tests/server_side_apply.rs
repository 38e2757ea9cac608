//! Server-side apply (`kubectl apply --server-side`), managedFields on every write,
//! conflicts and `--force-conflicts`, the upgrade from client-side apply, and duplicate
//! fields under field validation. Expected results are kube-apiserver v1.33's.

use std::fs;

use k8rs_conformance::{Output, Server};
use serde_json::{json, Value};

fn write(server: &Server, name: &str, content: &str) -> String {
    let path = server.tmp().join(name);
    fs::write(&path, content).unwrap();
    path.display().to_string()
}

fn deployment(replicas: u32, labels: &str, containers: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
{labels}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
{containers}
"#
    )
}

const LABELS: &str = "    app: web\n    tier: front";
const ONE: &str = "      - name: app\n        image: nginx:1.25\n        env:\n        - name: MODE\n          value: one";
const TWO: &str = "      - name: app\n        image: nginx:1.25\n        env:\n        - name: MODE\n          value: one\n      - name: side\n        image: busybox";
const TWO_EDITED: &str = "      - name: app\n        image: nginx:1.25\n        env:\n        - name: MODE\n          value: two\n      - name: side\n        image: busybox";

/// The deployment with its managedFields (kubectl hides them unless asked).
fn get(server: &Server) -> Value {
    server.kubectl_json(&[
        "get",
        "deployment",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ])
}

/// The managedFields entry of `manager` (panics when there is none).
#[track_caller]
fn entry(obj: &Value, manager: &str) -> Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == manager))
        .cloned()
        .unwrap_or_else(|| panic!("no managedFields entry for {manager}: {}", obj["metadata"]))
}

fn has_entry(obj: &Value, manager: &str) -> bool {
    obj["metadata"]["managedFields"]
        .as_array()
        .is_some_and(|a| a.iter().any(|e| e["manager"] == manager))
}

fn container_names(obj: &Value) -> Vec<String> {
    obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn ssa(server: &Server, file: &str, extra: &[&str]) -> Output {
    let mut args = vec!["apply", "--server-side", "-f", file];
    args.extend_from_slice(extra);
    server.kubectl(&args)
}

#[test]
fn server_side_apply_three_edits_leave_what_upstream_would() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", &deployment(2, LABELS, ONE));
    let out = ssa(&server, &v1, &[]).ok();
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let obj = get(&server);
    let mine = entry(&obj, "kubectl");
    assert_eq!(mine["operation"], "Apply");
    assert_eq!(mine["apiVersion"], "apps/v1");
    assert_eq!(mine["fieldsType"], "FieldsV1");
    let f = &mine["fieldsV1"];
    assert_eq!(f["f:spec"]["f:replicas"], json!({}));
    assert_eq!(f["f:metadata"]["f:labels"]["f:tier"], json!({}));
    assert_eq!(
        f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:image"],
        json!({})
    );
    // Defaulted fields belong to no one.
    assert!(f["f:spec"].get("f:revisionHistoryLimit").is_none(), "{f}");
    assert_eq!(obj["spec"]["revisionHistoryLimit"], 10);

    // Edit 1: add a container.
    let v2 = write(&server, "v2.yaml", &deployment(2, LABELS, TWO));
    assert!(ssa(&server, &v2, &[]).ok().contains("serverside-applied"));
    assert_eq!(container_names(&get(&server)), ["app", "side"]);
    // Edit 2: change an env var.
    let v3 = write(&server, "v3.yaml", &deployment(2, LABELS, TWO_EDITED));
    ssa(&server, &v3, &[]).ok();
    let obj = get(&server);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "MODE", "value": "two"}])
    );
    // Edit 3: remove a label; the applier owned it, so it goes.
    let v4 = write(
        &server,
        "v4.yaml",
        &deployment(2, "    app: web", TWO_EDITED),
    );
    ssa(&server, &v4, &[]).ok();
    let obj = get(&server);
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(container_names(&obj), ["app", "side"]);
    assert_eq!(obj["spec"]["replicas"], 2);
    // Removing a container from the configuration removes it from the object.
    let v5 = write(&server, "v5.yaml", &deployment(2, "    app: web", ONE));
    ssa(&server, &v5, &[]).ok();
    let obj = get(&server);
    assert_eq!(container_names(&obj), ["app"]);
    let f = &entry(&obj, "kubectl")["fieldsV1"];
    assert!(f["f:metadata"]["f:labels"].get("f:tier").is_none(), "{f}");

    // --show-managed-fields prints them; plain `get -o yaml` leaves them out.
    let shown = server
        .kubectl(&[
            "get",
            "deployment",
            "web",
            "-o",
            "yaml",
            "--show-managed-fields",
        ])
        .ok();
    assert!(shown.contains("managedFields:"), "{shown}");
    assert!(shown.contains("manager: kubectl"), "{shown}");
    assert!(shown.contains("operation: Apply"), "{shown}");
    let hidden = server
        .kubectl(&["get", "deployment", "web", "-o", "yaml"])
        .ok();
    assert!(!hidden.contains("managedFields:"), "{hidden}");
}

#[test]
fn client_side_apply_three_edits_record_update_managers() {
    let server = Server::start();
    for (i, (labels, containers)) in [
        (LABELS, ONE),
        (LABELS, TWO),
        (LABELS, TWO_EDITED),
        ("    app: web", TWO_EDITED),
    ]
    .into_iter()
    .enumerate()
    {
        let file = write(
            &server,
            &format!("c{i}.yaml"),
            &deployment(1, labels, containers),
        );
        server.kubectl(&["apply", "-f", &file]).ok();
    }
    let obj = get(&server);
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(container_names(&obj), ["app", "side"]);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "MODE", "value": "two"}])
    );
    let csa = entry(&obj, "kubectl-client-side-apply");
    assert_eq!(csa["operation"], "Update");
    assert_eq!(csa["apiVersion"], "apps/v1");
    let f = &csa["fieldsV1"];
    assert_eq!(f["f:spec"]["f:replicas"], json!({}));
    assert!(f["f:metadata"]["f:annotations"]
        .get("f:kubectl.kubernetes.io/last-applied-configuration")
        .is_some());
    assert!(f["f:metadata"]["f:labels"].get("f:tier").is_none(), "{f}");
    // Another writer takes what it changes.
    server
        .kubectl(&["label", "deployment", "web", "extra=yes"])
        .ok();
    let obj = get(&server);
    assert_eq!(
        entry(&obj, "kubectl-label")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:extra": {}}}})
    );
}

#[test]
fn a_second_manager_conflicts_until_it_forces() {
    let server = Server::start();
    let mine = write(&server, "mine.yaml", &deployment(2, LABELS, ONE));
    ssa(&server, &mine, &[]).ok();
    let theirs = write(&server, "theirs.yaml", &deployment(5, LABELS, ONE));
    let err = ssa(&server, &theirs, &["--field-manager=autoscaler"]).fails();
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        "{err}"
    );
    assert_eq!(get(&server)["spec"]["replicas"], 2);
    // The same values are no conflict: ownership is shared.
    ssa(&server, &mine, &["--field-manager=autoscaler"]).ok();
    let obj = get(&server);
    assert_eq!(
        entry(&obj, "autoscaler")["fieldsV1"]["f:spec"]["f:replicas"],
        json!({})
    );
    // Forced, the second manager takes the field over.
    ssa(
        &server,
        &theirs,
        &["--field-manager=autoscaler", "--force-conflicts"],
    )
    .ok();
    let obj = get(&server);
    assert_eq!(obj["spec"]["replicas"], 5);
    assert!(entry(&obj, "kubectl")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_none());
    assert_eq!(
        entry(&obj, "autoscaler")["fieldsV1"]["f:spec"]["f:replicas"],
        json!({})
    );
}

#[test]
fn upgrade_from_client_side_apply() {
    let server = Server::start();
    let v1 = write(&server, "v1.yaml", &deployment(1, LABELS, ONE));
    server.kubectl(&["apply", "-f", &v1]).ok();
    assert!(has_entry(&get(&server), "kubectl-client-side-apply"));
    // kubectl moves client-side apply's ownership to its server-side manager first.
    let v2 = write(&server, "v2.yaml", &deployment(3, LABELS, TWO));
    let out = ssa(&server, &v2, &[]).ok();
    assert!(out.contains("serverside-applied"), "{out}");
    let obj = get(&server);
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(container_names(&obj), ["app", "side"]);
    assert_eq!(entry(&obj, "kubectl")["operation"], "Apply");
    // kubectl moved client-side apply's ownership over; the server kept the last-applied
    // annotation in step.
    assert!(
        !has_entry(&obj, "kubectl-client-side-apply"),
        "{}",
        obj["metadata"]
    );
    let last: Value = serde_json::from_str(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["spec"]["replicas"], 3);
    // Dropping a label the client-side applier set now removes it.
    let v3 = write(&server, "v3.yaml", &deployment(3, "    app: web", TWO));
    ssa(&server, &v3, &[]).ok();
    assert_eq!(get(&server)["metadata"]["labels"], json!({"app": "web"}));
}

fn apply_patch(server: &Server, path_query: &str, body: &Value) -> k8rs_conformance::HttpResponse {
    server
        .http("PATCH", path_query)
        .body(body.to_string(), "application/apply-patch+yaml")
        .send()
}

const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/default/deployments/web";

#[test]
fn conflicts_are_409_with_a_cause_per_field() {
    let server = Server::start();
    let file = write(&server, "d.yaml", &deployment(1, LABELS, ONE));
    server.kubectl(&["create", "-f", &file]).ok();
    let created = get(&server);
    assert_eq!(entry(&created, "kubectl-create")["operation"], "Update");

    let config = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"tier": "back"}},
        "spec": {"replicas": 4}
    });
    let r = apply_patch(
        &server,
        &format!("{DEPLOY_PATH}?fieldManager=tool"),
        &config,
    );
    let status = r.assert_status(409, "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n- .metadata.labels.tier\n- .spec.replicas"
    );
    assert_eq!(
        status["details"]["causes"],
        json!([
            {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-create\" using apps/v1", "field": ".metadata.labels.tier"},
            {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-create\" using apps/v1", "field": ".spec.replicas"}
        ])
    );
    // force=true takes both.
    let r = apply_patch(
        &server,
        &format!("{DEPLOY_PATH}?fieldManager=tool&force=true"),
        &config,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let obj = r.json();
    assert_eq!(obj["spec"]["replicas"], 4);
    assert_eq!(obj["metadata"]["labels"]["tier"], "back");

    // Apply needs a field manager; force is for apply only.
    let r = apply_patch(&server, DEPLOY_PATH, &config);
    let status = r.assert_status(422, "Invalid");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let r = server
        .http("PATCH", &format!("{DEPLOY_PATH}?force=true"))
        .body(r#"{"spec":{"replicas":1}}"#, "application/merge-patch+json")
        .send();
    r.assert_status(422, "Invalid");
    // managedFields may not be applied.
    let mut bad = config.clone();
    bad["metadata"]["managedFields"] = json!([]);
    let r = apply_patch(&server, &format!("{DEPLOY_PATH}?fieldManager=tool"), &bad);
    let status = r.assert_status(400, "BadRequest");
    assert_eq!(status["message"], "metadata.managedFields must be nil");
    // Apply creates an absent object, answering 201.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fresh"}, "data": {"a": "1"}});
    let r = apply_patch(
        &server,
        "/api/v1/namespaces/default/configmaps/fresh?fieldManager=tool",
        &cm,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(entry(&r.json(), "tool")["operation"], "Apply");
    // Applying a status subresource records the manager against it.
    server
        .kubectl(&["create", "service", "loadbalancer", "svc", "--tcp=80:80"])
        .ok();
    let status = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}});
    let r = apply_patch(
        &server,
        "/api/v1/namespaces/default/services/svc/status?fieldManager=lb",
        &status,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let svc = r.json();
    assert_eq!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.1"
    );
    let lb = entry(&svc, "lb");
    assert_eq!(lb["subresource"], "status");
    assert_eq!(lb["operation"], "Apply");
    assert_eq!(
        lb["fieldsV1"],
        json!({"f:status": {"f:loadBalancer": {"f:ingress": {}}}})
    );
    assert_eq!(entry(&svc, "kubectl-create")["operation"], "Update");
    // Creating by apply goes through admission; what admission sets is no one's.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let r = apply_patch(
        &server,
        "/api/v1/namespaces/default/pods/p?fieldManager=tool",
        &pod,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let pod = r.json();
    assert_eq!(pod["spec"]["priority"], 0, "{pod}");
    let f = &entry(&pod, "tool")["fieldsV1"];
    assert!(f["f:spec"].get("f:priority").is_none(), "{f}");
    assert_eq!(
        f["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"],
        json!({".": {}, "f:image": {}, "f:name": {}})
    );
    // A CBOR apply patch is not served.
    let r = server
        .http(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/fresh?fieldManager=tool",
        )
        .body(vec![0xa0], "application/apply-patch+cbor")
        .send();
    assert_eq!(r.status, 415, "{}", r.text());
}

#[test]
fn managed_fields_reset_and_default_manager() {
    let server = Server::start();
    // No fieldManager: the User-Agent's product names the manager.
    let r = server
        .http("POST", "/api/v1/namespaces/default/configmaps")
        .header("User-Agent: my-tool/1.2 (linux)")
        .json(&json!({"metadata": {"name": "c"}, "data": {"k": "v"}}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text());
    let obj = r.json();
    let e = entry(&obj, "my-tool");
    assert_eq!(e["operation"], "Update");
    assert_eq!(e["fieldsV1"], json!({"f:data": {".": {}, "f:k": {}}}));
    let get_c = || {
        server.kubectl_json(&[
            "get",
            "configmap",
            "c",
            "-o",
            "json",
            "--show-managed-fields",
        ])
    };
    // An empty list keeps them (clients unaware of the field do not wipe it).
    server
        .kubectl(&[
            "patch",
            "configmap",
            "c",
            "--type=merge",
            "-p",
            r#"{"metadata":{"managedFields":[]}}"#,
        ])
        .ok();
    assert!(has_entry(&get_c(), "my-tool"), "{}", get_c()["metadata"]);
    server.kubectl(&["label", "configmap", "c", "x=1"]).ok();
    assert!(has_entry(&get_c(), "kubectl-label"));
    // managedFields a client sends that do not decode fall back to the stored ones.
    let r = server
        .http("PATCH", "/api/v1/namespaces/default/configmaps/c")
        .body(
            r#"{"metadata":{"managedFields":[{"manager":"m","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"x:bad":{}}}]}}"#,
            "application/merge-patch+json",
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(has_entry(&r.json(), "kubectl-label"), "{}", r.text());
    assert!(!has_entry(&r.json(), "m"), "{}", r.text());
    // A list of one empty entry resets them; updates are then not tracked until an apply.
    server
        .kubectl(&[
            "patch",
            "configmap",
            "c",
            "--type=merge",
            "-p",
            r#"{"metadata":{"managedFields":[{}]}}"#,
        ])
        .ok();
    assert!(
        get_c()["metadata"].get("managedFields").is_none(),
        "{}",
        get_c()["metadata"]
    );
    server.kubectl(&["label", "configmap", "c", "y=2"]).ok();
    assert!(
        get_c()["metadata"].get("managedFields").is_none(),
        "{}",
        get_c()["metadata"]
    );
    // The first apply finds everything owned by "before-first-apply".
    let file = write(
        &server,
        "c.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: changed\n",
    );
    let err = server
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=tool",
            "-f",
            &file,
        ])
        .fails();
    assert!(
        err.contains("conflict with \"before-first-apply\" using v1: .data.k"),
        "{err}"
    );
    server
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=tool",
            "--force-conflicts",
            "-f",
            &file,
        ])
        .ok();
    let obj = get_c();
    assert_eq!(
        entry(&obj, "tool")["fieldsV1"],
        json!({"f:data": {"f:k": {}}})
    );
    assert!(
        entry(&obj, "before-first-apply")["fieldsV1"]["f:metadata"]["f:labels"]
            .get("f:y")
            .is_some()
    );
}

#[test]
fn duplicate_fields_follow_field_validation() {
    let server = Server::start();
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup"},"data":{"a":"1","a":"2"}}"#;
    let post = |validation: &str| {
        server
            .http(
                "POST",
                &format!("/api/v1/namespaces/default/configmaps?fieldValidation={validation}"),
            )
            .body(body, "application/json")
            .send()
    };
    let r = post("Strict");
    let status = r.assert_status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "strict decoding error: duplicate field \"name\", duplicate field \"a\""
    );
    let r = post("Warn");
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        r.headers.contains("299 - \"duplicate field \\\"name\\\"\""),
        "{}",
        r.headers
    );
    assert_eq!(r.json()["data"]["a"], "2");
    server.kubectl(&["delete", "configmap", "dup"]).ok();
    let r = post("Ignore");
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        !r.headers.to_lowercase().contains("warning:"),
        "{}",
        r.headers
    );
    // YAML bodies name the line, as go-yaml does.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  name: y\n";
    let r = server
        .http(
            "POST",
            "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
        )
        .body(yaml, "application/yaml")
        .send();
    let status = r.assert_status(400, "BadRequest");
    let msg = status["message"].as_str().unwrap();
    assert!(
        msg.starts_with("strict decoding error: yaml: unmarshal errors:\n  line ")
            && msg.ends_with("key \"name\" already set in map"),
        "{msg}"
    );
}

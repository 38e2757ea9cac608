//! Mutating kubectl verbs other than apply: patch (strategic, merge, json),
//! edit, scale, set image, label, annotate, the `create <kind>`
//! generators, wait, `--dry-run=server`, and get's output options.
//!
//! Expected results are what kube-apiserver v1.33 (with stock kubectl)
//! does; fields only defaulting or controllers would add are not compared.

use std::thread;
use std::time::Duration;

use k8rs_conformance::{parse_table, project, Server};
use serde_json::{json, Value};

/// A Deployment manifest with the given containers (name, image).
fn deployment(name: &str, replicas: u32, containers: &[(&str, &str)]) -> String {
    let mut s = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
"
    );
    for (c, image) in containers {
        s.push_str(&format!("      - name: {c}\n        image: {image}\n"));
    }
    s
}

#[track_caller]
fn create(server: &Server, manifest: &str) {
    server.kubectl_stdin(&["create", "-f", "-"], manifest).ok();
}

fn container_names(d: &Value) -> Vec<String> {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("no containers: {d}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn patch_strategic_merge_and_json() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));

    // Strategic merge: containers merge by name; a new item goes first.
    let out = server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"envoy:1.30"}]}}}}"#,
        ])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web patched");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(container_names(&d), ["sidecar", "app"], "{d}");

    // Merging into an existing item keeps its other fields; a nested
    // merge-keyed list (env) merges too.
    for env in [r#"{"name":"A","value":"1"}"#, r#"{"name":"B","value":"2"}"#] {
        server
            .kubectl(&[
                "patch",
                "deploy",
                "web",
                "-p",
                &format!(
                    r#"{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"app","env":[{env}]}}]}}}}}}}}"#
                ),
            ])
            .ok();
    }
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    let app = &d["spec"]["template"]["spec"]["containers"][1];
    assert_eq!(app["name"], "app", "{d}");
    assert_eq!(app["image"], "nginx:1.27", "{d}");
    assert_eq!(
        app["env"],
        json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]),
        "patch items go before items only on the server: {d}"
    );

    // $patch: delete removes one item by merge key.
    server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}"#,
        ])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(container_names(&d), ["app"], "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
    );

    // Strategic: null deletes a map key.
    server
        .kubectl(&["label", "deploy", "web", "tier=frontend"])
        .ok();
    server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"metadata":{"labels":{"tier":null}}}"#,
        ])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["labels"], json!({"app": "web"}), "{d}");

    // JSON merge patch: lists are replaced wholesale.
    let out = server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"only","image":"busybox:1.36"}]}}}}"#,
        ])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web patched");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        project(
            &d["spec"]["template"]["spec"]["containers"],
            &["name", "image", "env"]
        ),
        json!([{"name": "only", "image": "busybox:1.36"}]),
        "{d}"
    );

    // JSON patch.
    server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"busybox:1.37"},
                {"op":"add","path":"/metadata/labels/extra","value":"yes"},
                {"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"second","image":"nginx:1.27"}}]"#,
        ])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        project(
            &d["spec"]["template"]["spec"]["containers"],
            &["name", "image"]
        ),
        json!([{"name": "only", "image": "busybox:1.37"},
               {"name": "second", "image": "nginx:1.27"}])
    );
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "extra": "yes"})
    );

    // A failing `test` op fails the whole patch.
    let before = server.kubectl_json(&["get", "deploy", "web"]);
    server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":9},{"op":"test","path":"/spec/replicas","value":7}]"#,
        ])
        .fails();
    let after = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"]
    );

    // A patch that changes nothing is reported as such and writes nothing.
    let out = server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":3}}"#,
        ])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web patched (no change)");
    let after = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"]
    );
}

#[test]
fn edit_with_scripted_editor() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));
    let tmpdir = server.tmp().display().to_string();

    // kubectl runs an EDITOR containing quotes through `sh -c`, with the
    // temporary file's path appended.
    let out = server.kubectl_env(
        &[
            (
                "EDITOR",
                "sed -i -e 's/^  replicas: 1$/  replicas: 4/' -e 's/image: nginx:1.27/image: nginx:1.28/'",
            ),
            ("TMPDIR", &tmpdir),
        ],
        &["edit", "deploy", "web"],
    );
    assert_eq!(out.ok().trim(), "deployment.apps/web edited");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["replicas"], 4, "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );

    // An editor that changes nothing: cancelled, nothing written.
    let out = server.kubectl_env(
        &[("EDITOR", "true"), ("TMPDIR", &tmpdir)],
        &["edit", "deploy", "web"],
    );
    out.ok();
    assert!(
        out.stderr.contains("Edit cancelled, no changes made."),
        "{}",
        out.stderr
    );
    // The controllers may still be writing status; the edit itself wrote nothing.
    let after = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(after["spec"], d["spec"]);
    assert_eq!(after["metadata"]["generation"], d["metadata"]["generation"]);

    // Editing a ConfigMap as JSON (-o json also prints the result as JSON).
    server
        .kubectl(&["create", "cm", "conf", "--from-literal=greeting=hello"])
        .ok();
    let out = server.kubectl_env(
        &[
            ("EDITOR", "sed -i 's/\"hello\"/\"bonjour\"/'"),
            ("TMPDIR", &tmpdir),
        ],
        &["edit", "cm", "conf", "-o", "json"],
    );
    let printed = out.json();
    assert_eq!(printed["data"], json!({"greeting": "bonjour"}), "{printed}");
    let cm = server.kubectl_json(&["get", "cm", "conf"]);
    assert_eq!(cm, printed);
}

/// Upstream validates Deployments (`spec.replicas` must be >= 0), so an
/// edit to an invalid value is rejected; kubectl re-opens the editor, which
/// changes nothing the second time, and gives up.
#[test]
fn edit_to_invalid_value_is_rejected() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));
    let before = server.kubectl_json(&["get", "deploy", "web"]);
    let tmpdir = server.tmp().display().to_string();
    let out = server.kubectl_env(
        &[
            ("EDITOR", "sed -i 's/^  replicas: 1$/  replicas: -1/'"),
            ("TMPDIR", &tmpdir),
        ],
        &["edit", "deploy", "web"],
    );
    let err = out.fails();
    assert!(
        err.contains("Edit cancelled, no valid changes were saved."),
        "{err}"
    );
    // Spec and generation: the controller keeps writing status meanwhile.
    let after = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        after["spec"], before["spec"],
        "rejected edit changed the object"
    );
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"]
    );

    // The same through patch: the server's validation message.
    let err = server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":-1}}"#,
        ])
        .fails();
    assert!(
        err.contains(r#"The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#),
        "{err}"
    );
    let after = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"]
    );
}

const RS_STS_RC: &str = r#"apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs1
spec:
  replicas: 1
  selector:
    matchLabels:
      app: rs1
  template:
    metadata:
      labels:
        app: rs1
    spec:
      containers:
      - name: c
        image: nginx:1.27
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: sts1
spec:
  replicas: 1
  serviceName: sts1
  selector:
    matchLabels:
      app: sts1
  template:
    metadata:
      labels:
        app: sts1
    spec:
      containers:
      - name: c
        image: nginx:1.27
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc1
spec:
  replicas: 1
  selector:
    app: rc1
  template:
    metadata:
      labels:
        app: rc1
    spec:
      containers:
      - name: c
        image: nginx:1.27
"#;

#[test]
fn scale_workloads() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));
    create(&server, RS_STS_RC);

    let out = server
        .kubectl(&[
            "scale",
            "deploy/web",
            "rs/rs1",
            "sts/sts1",
            "rc/rc1",
            "--replicas=3",
        ])
        .ok();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "deployment.apps/web scaled",
            "replicaset.apps/rs1 scaled",
            "statefulset.apps/sts1 scaled",
            "replicationcontroller/rc1 scaled",
        ]
    );
    for (kind, name) in [
        ("deploy", "web"),
        ("rs", "rs1"),
        ("sts", "sts1"),
        ("rc", "rc1"),
    ] {
        let o = server.kubectl_json(&["get", kind, name]);
        assert_eq!(o["spec"]["replicas"], 3, "{kind}/{name}: {o}");
    }

    // The scale subresource itself.
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    let scale = server
        .get("/apis/apps/v1/namespaces/default/deployments/web/scale")
        .json();
    assert_eq!(scale["kind"], "Scale", "{scale}");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["metadata"]["name"], "web");
    assert_eq!(scale["metadata"]["namespace"], "default");
    assert_eq!(scale["metadata"]["uid"], d["metadata"]["uid"]);
    assert_eq!(
        scale["metadata"]["resourceVersion"],
        d["metadata"]["resourceVersion"]
    );
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=web", "{scale}");
    let scale = server
        .get("/api/v1/namespaces/default/replicationcontrollers/rc1/scale")
        .json();
    assert_eq!(scale["spec"]["replicas"], 3, "{scale}");
    assert_eq!(scale["status"]["selector"], "app=rc1", "{scale}");

    // --current-replicas is a precondition.
    let err = server
        .kubectl(&[
            "scale",
            "deploy",
            "web",
            "--current-replicas=2",
            "--replicas=5",
        ])
        .fails();
    assert!(err.contains("Expected replicas to be 2, was 3"), "{err}");
    assert_eq!(
        server.kubectl_json(&["get", "deploy", "web"])["spec"]["replicas"],
        3
    );
    let out = server
        .kubectl(&[
            "scale",
            "deploy",
            "web",
            "--current-replicas=3",
            "--replicas=5",
        ])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    assert_eq!(
        server.kubectl_json(&["get", "deploy", "web"])["spec"]["replicas"],
        5
    );

    // kubectl scale to 0 is fine.
    server
        .kubectl(&["scale", "sts", "sts1", "--replicas=0"])
        .ok();
    assert_eq!(
        server.kubectl_json(&["get", "sts", "sts1"])["spec"]["replicas"],
        0
    );
}

#[test]
fn scale_subresource_rejects_negative_replicas() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));
    let err = server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--subresource=scale",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":-5}}"#,
        ])
        .fails();
    assert!(
        err.contains(r#"The Scale "web" is invalid: spec.replicas: Invalid value: -5: must be greater than or equal to 0"#),
        "{err}"
    );
    assert_eq!(
        server.kubectl_json(&["get", "deploy", "web"])["spec"]["replicas"],
        1
    );
}

#[test]
fn set_image() {
    let server = Server::start();
    create(
        &server,
        &deployment("web", 1, &[("app", "nginx:1.27"), ("log", "busybox:1.36")]),
    );
    let out = server
        .kubectl(&["set", "image", "deployment/web", "app=nginx:1.28"])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web image updated");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        project(
            &d["spec"]["template"]["spec"]["containers"],
            &["name", "image"]
        ),
        json!([{"name": "app", "image": "nginx:1.28"},
               {"name": "log", "image": "busybox:1.36"}])
    );

    server
        .kubectl(&["set", "image", "deploy/web", "*=registry.local/all:1"])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        project(
            &d["spec"]["template"]["spec"]["containers"],
            &["name", "image"]
        ),
        json!([{"name": "app", "image": "registry.local/all:1"},
               {"name": "log", "image": "registry.local/all:1"}])
    );

    let err = server
        .kubectl(&["set", "image", "deploy/web", "nope=x:1"])
        .fails();
    assert!(
        err.contains(r#"unable to find container named "nope""#),
        "{err}"
    );
}

#[test]
fn label_and_annotate_overwrite() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));

    let out = server
        .kubectl(&["label", "deploy", "web", "tier=frontend"])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web labeled");
    let err = server
        .kubectl(&["label", "deploy", "web", "tier=backend"])
        .fails();
    assert!(
        err.contains("'tier' already has a value (frontend), and --overwrite is false"),
        "{err}"
    );
    server
        .kubectl(&["label", "deploy", "web", "tier=backend", "--overwrite"])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "web", "tier": "backend"})
    );
    let out = server.kubectl(&["label", "deploy", "web", "tier-"]).ok();
    assert_eq!(out.trim(), "deployment.apps/web unlabeled");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["labels"], json!({"app": "web"}));

    // A stale --resource-version is a server-side conflict.
    let err = server
        .kubectl(&["label", "deploy", "web", "x=y", "--resource-version=1"])
        .fails();
    assert!(
        err.contains(r#"Operation cannot be fulfilled on deployments.apps "web": the object has been modified"#),
        "{err}"
    );

    // Annotations.
    let out = server
        .kubectl(&["annotate", "deploy", "web", "note=a"])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web annotated");
    let err = server
        .kubectl(&["annotate", "deploy", "web", "note=b"])
        .fails();
    assert!(err.contains("'note' already has a value (a)"), "{err}");
    server
        .kubectl(&["annotate", "deploy", "web", "note=b", "--overwrite"])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["annotations"]["note"], "b", "{d}");
    server.kubectl(&["annotate", "deploy", "web", "note-"]).ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert!(d["metadata"]["annotations"].get("note").is_none(), "{d}");

    // Several objects at once (by selector).
    for n in ["c1", "c2"] {
        server.kubectl(&["create", "cm", n]).ok();
        server.kubectl(&["label", "cm", n, "group=g"]).ok();
    }
    let out = server
        .kubectl(&["label", "cm", "-l", "group=g", "env=prod"])
        .ok();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["configmap/c1 labeled", "configmap/c2 labeled"]);
    let names = server
        .kubectl(&["get", "cm", "-l", "env=prod", "-o", "name"])
        .ok();
    assert_eq!(names.lines().count(), 2, "{names}");
}

#[test]
fn create_generators() {
    let server = Server::start();

    let out = server
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
            "--port=80",
        ])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web created");
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"})
    );
    let c = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(c.as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(c[0]["name"], "nginx");
    assert_eq!(c[0]["image"], "nginx:1.27");
    assert_eq!(c[0]["ports"][0]["containerPort"], 80, "{d}");

    let out = server
        .kubectl(&["create", "service", "clusterip", "web", "--tcp=80:8080"])
        .ok();
    assert_eq!(out.trim(), "service/web created");
    let s = server.kubectl_json(&["get", "svc", "web"]);
    assert_eq!(s["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(s["spec"]["type"], "ClusterIP");
    assert_eq!(s["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(
        s["spec"]["ports"],
        json!([{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}])
    );

    let out = server
        .kubectl(&[
            "create",
            "job",
            "once",
            "--image=busybox:1.36",
            "--",
            "echo",
            "hi",
        ])
        .ok();
    assert_eq!(out.trim(), "job.batch/once created");
    let j = server.kubectl_json(&["get", "job", "once"]);
    let pod = &j["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(
        project(&pod["containers"], &["name", "image", "command"]),
        json!([{"name": "once", "image": "busybox:1.36", "command": ["echo", "hi"]}])
    );

    let out = server
        .kubectl(&[
            "create",
            "cronjob",
            "tick",
            "--image=busybox:1.36",
            "--schedule=*/5 * * * *",
            "--",
            "date",
        ])
        .ok();
    assert_eq!(out.trim(), "cronjob.batch/tick created");
    let cj = server.kubectl_json(&["get", "cronjob", "tick"]);
    assert_eq!(cj["spec"]["schedule"], "*/5 * * * *");
    let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "OnFailure");
    assert_eq!(
        project(&pod["containers"], &["name", "image", "command"]),
        json!([{"name": "tick", "image": "busybox:1.36", "command": ["date"]}])
    );

    let out = server
        .kubectl(&[
            "create",
            "role",
            "reader",
            "--verb=get,list,watch",
            "--resource=pods,deployments.apps",
        ])
        .ok();
    assert_eq!(out.trim(), "role.rbac.authorization.k8s.io/reader created");
    let r = server.kubectl_json(&["get", "role", "reader"]);
    assert_eq!(
        r["rules"],
        json!([
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}
        ]),
        "{r}"
    );

    let out = server
        .kubectl(&[
            "create",
            "rolebinding",
            "reader-binding",
            "--role=reader",
            "--user=alice",
            "--serviceaccount=default:robot",
        ])
        .ok();
    assert_eq!(
        out.trim(),
        "rolebinding.rbac.authorization.k8s.io/reader-binding created"
    );
    let rb = server.kubectl_json(&["get", "rolebinding", "reader-binding"]);
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"})
    );
    assert_eq!(
        rb["subjects"],
        json!([
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
            {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}
        ]),
        "{rb}"
    );
}

/// The Job strategy generates a selector on the job's uid (unless
/// `manualSelector`) and labels the pod template to match.
#[test]
fn create_job_generates_selector() {
    let server = Server::start();
    server
        .kubectl(&[
            "create",
            "job",
            "once",
            "--image=busybox:1.36",
            "--",
            "echo",
            "hi",
        ])
        .ok();
    let j = server.kubectl_json(&["get", "job", "once"]);
    let uid = j["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        j["spec"]["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        "{j}"
    );
    let labels = &j["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["batch.kubernetes.io/controller-uid"], uid, "{j}");
    assert_eq!(labels["batch.kubernetes.io/job-name"], "once", "{j}");
    assert_eq!(labels["controller-uid"], uid, "{j}");
    assert_eq!(labels["job-name"], "once", "{j}");
}

#[test]
fn wait_for_jsonpath() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));

    // Already true: returns at once.
    let out = server
        .kubectl(&[
            "wait",
            "deploy/web",
            "--for=jsonpath={.spec.replicas}=1",
            "--timeout=10s",
        ])
        .ok();
    assert_eq!(out.trim(), "deployment.apps/web condition met");

    // Becomes true later: kubectl watches until it does.
    let mut bg = server.kubectl_bg(&[
        "wait",
        "deploy/web",
        "--for=jsonpath={.spec.replicas}=3",
        "--timeout=30s",
    ]);
    thread::sleep(Duration::from_millis(1000));
    assert!(
        bg.is_running(),
        "wait returned before the condition held: {:?} {}",
        bg.lines(),
        bg.stderr()
    );
    server
        .kubectl(&["scale", "deploy", "web", "--replicas=3"])
        .ok();
    bg.wait_for_line("condition met", Duration::from_secs(20), |l| {
        l == "deployment.apps/web condition met"
    });

    // Never true: times out with an error.
    let err = server
        .kubectl(&[
            "wait",
            "deploy/web",
            "--for=jsonpath={.spec.replicas}=7",
            "--timeout=1s",
        ])
        .fails();
    assert!(
        err.contains("timed out waiting for the condition on deployments/web"),
        "{err}"
    );
}

#[test]
fn get_output_options() {
    let server = Server::start();
    for (name, replicas) in [("charlie", "1"), ("alpha", "3"), ("bravo", "2")] {
        server
            .kubectl(&[
                "create",
                "deployment",
                name,
                "--image=nginx:1.27",
                &format!("--replicas={replicas}"),
            ])
            .ok();
    }
    server
        .kubectl(&["label", "deploy", "alpha", "tier=web"])
        .ok();

    let out = server
        .kubectl(&["get", "deploy", "--sort-by=.metadata.name", "-o", "name"])
        .ok();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "deployment.apps/alpha",
            "deployment.apps/bravo",
            "deployment.apps/charlie"
        ]
    );

    let out = server.kubectl(&["get", "deploy", "--show-labels"]).ok();
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "LABELS"],
        "{out}"
    );
    let rows = parse_table(&out);
    let labels: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["NAME"].as_str(), r["LABELS"].as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("alpha", "app=alpha,tier=web"),
            ("bravo", "app=bravo"),
            ("charlie", "app=charlie")
        ],
        "{out}"
    );

    let out = server
        .kubectl(&[
            "get",
            "deploy",
            "-o",
            "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas",
        ])
        .ok();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["NAME", "REPLICAS"],
            vec!["alpha", "3"],
            vec!["bravo", "2"],
            vec!["charlie", "1"]
        ],
        "{out}"
    );

    let out = server
        .kubectl(&[
            "get",
            "deploy",
            "--sort-by=.spec.replicas",
            "-o",
            "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas",
        ])
        .ok();
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["charlie", "bravo", "alpha"], "{out}");
}

#[test]
fn dry_run_server_create_delete_label() {
    let server = Server::start();

    // create: validated, echoed, not stored.
    let out = server
        .kubectl_stdin(
            &["create", "-f", "-", "--dry-run=server"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata:\n  k: v\n",
        )
        .ok();
    assert_eq!(out.trim(), "configmap/dry created (server dry run)");
    let out = server
        .kubectl(&[
            "create",
            "cm",
            "dry",
            "--from-literal=k=v",
            "--dry-run=server",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(out["data"], json!({"k": "v"}));
    assert!(
        out["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty()),
        "dry-run create returns the prepared object: {out}"
    );
    assert!(out["metadata"]["creationTimestamp"].is_string(), "{out}");
    assert!(
        out["metadata"].get("resourceVersion").is_none(),
        "a dry-run create is never stored, so it has no resourceVersion: {out}"
    );
    let err = server.kubectl(&["get", "cm", "dry"]).fails();
    assert!(err.contains("NotFound"), "{err}");

    let err = server
        .kubectl(&["create", "cm", "Bad_Name", "--dry-run=server"])
        .fails();
    assert!(
        err.contains(
            r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#
        ),
        "{err}"
    );

    // delete: reported, not deleted.
    server
        .kubectl(&["create", "cm", "keep", "--from-literal=k=v"])
        .ok();
    let before = server.kubectl_json(&["get", "cm", "keep"]);
    let out = server
        .kubectl(&["delete", "cm", "keep", "--dry-run=server"])
        .ok();
    assert_eq!(out.trim(), r#"configmap "keep" deleted (server dry run)"#);
    assert_eq!(server.kubectl_json(&["get", "cm", "keep"]), before);
    let err = server
        .kubectl(&["delete", "cm", "nope", "--dry-run=server"])
        .fails();
    assert!(err.contains("NotFound"), "{err}");

    // label: reported, not stored; an invalid key is still rejected.
    let out = server
        .kubectl(&["label", "cm", "keep", "x=y", "--dry-run=server"])
        .ok();
    assert_eq!(out.trim(), "configmap/keep labeled (server dry run)");
    assert_eq!(server.kubectl_json(&["get", "cm", "keep"]), before);
    let err = server
        .kubectl(&["label", "cm", "keep", "Bad..=y", "--dry-run=server"])
        .fails();
    assert!(
        err.contains(r#"metadata.labels: Invalid value: "Bad..""#),
        "{err}"
    );
    assert_eq!(server.kubectl_json(&["get", "cm", "keep"]), before);

    // Deleting a namespace in dry-run leaves it (and its contents) alone.
    server.kubectl(&["create", "ns", "scratch"]).ok();
    server
        .kubectl(&["create", "cm", "inside", "-n", "scratch"])
        .ok();
    server
        .kubectl(&["delete", "ns", "scratch", "--dry-run=server"])
        .ok();
    let ns = server.kubectl_json(&["get", "ns", "scratch"]);
    assert_eq!(ns["status"]["phase"], "Active", "{ns}");
    assert!(ns["metadata"].get("deletionTimestamp").is_none(), "{ns}");
    server
        .kubectl(&["get", "cm", "inside", "-n", "scratch"])
        .ok();
}

/// A dry-run create of a name that exists fails like the real create.
#[test]
fn dry_run_create_of_existing_name_conflicts() {
    let server = Server::start();
    server
        .kubectl(&["create", "cm", "taken", "--from-literal=k=v"])
        .ok();
    let err = server
        .kubectl(&["create", "cm", "taken", "--dry-run=server"])
        .fails();
    // Typed `kubectl create` words it its own way (as against kube-apiserver); the
    // raw request shows the reason.
    assert!(
        err.contains(r#"configmaps "taken" already exists"#),
        "{err}"
    );
    server
        .http("POST", "/api/v1/namespaces/default/configmaps?dryRun=All")
        .json(&serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "taken"}}))
        .send()
        .assert_status(409, "AlreadyExists");
}

/// Deployments bump `metadata.generation` on spec *and* annotation
/// changes (annotations are copied to ReplicaSets), not on label changes.
#[test]
fn deployment_generation_tracks_spec_and_annotations() {
    let server = Server::start();
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));
    let generation = |what: &str| -> i64 {
        let d = server.kubectl_json(&["get", "deploy", "web"]);
        d["metadata"]["generation"]
            .as_i64()
            .unwrap_or_else(|| panic!("no generation after {what}: {d}"))
    };
    assert_eq!(generation("create"), 1);
    server.kubectl(&["label", "deploy", "web", "x=y"]).ok();
    assert_eq!(generation("label"), 1, "labels do not bump generation");
    server
        .kubectl(&["annotate", "deploy", "web", "note=a"])
        .ok();
    assert_eq!(generation("annotate"), 2, "annotations bump generation");
    server
        .kubectl(&["scale", "deploy", "web", "--replicas=2"])
        .ok();
    assert_eq!(generation("scale"), 3, "scale bumps generation");
    server
        .kubectl(&["set", "image", "deploy/web", "app=nginx:1.28"])
        .ok();
    assert_eq!(generation("set image"), 4);
}

/// A certificate request (EC P-256, CN=alice), base64 of the PEM.
const CSR_B64: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIS01ISUNBUUF3RURFT01Bd0dBMVVFQXd3RllXeHBZMlV3V1RBVEJnY3Foa2pPUFFJQkJnZ3Foa2pPUFFNQgpCd05DQUFTVGxvQnVocHN3Z0pFZjNwS1Azc2tQQU9QYjVFdWk1VzJDTUhFWmJnNXVGV3BPM3lQN1RtL0xILzJtCkdrNGZVSG5zNEJCL0hQWWs3ZWxvSm5pdWdSc1RvQUF3Q2dZSUtvWkl6ajBFQXdJRFNBQXdSUUlnWjdHcVhWa3oKRTI0a0lLMGV3SVVRVW1hN2pjUTZJcDlmS2FFTHFnRUdhdzBDSVFDelFDRDVBSHVpRlcxZVdMUHd6T29HMDl2SQpFaS93OElSZG93aHUza3lDTlE9PQotLS0tLUVORCBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K";

/// Only kinds whose strategy tracks it have `metadata.generation`:
/// Services, ConfigMaps, Namespaces and CSRs do not.
#[test]
fn generation_only_where_upstream_sets_it() {
    let server = Server::start();
    server
        .kubectl(&["create", "service", "clusterip", "web", "--tcp=80:8080"])
        .ok();
    server.kubectl(&["create", "cm", "conf"]).ok();
    server.kubectl(&["create", "ns", "scratch"]).ok();
    create(
        &server,
        &format!(
            "apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: csr1
spec:
  request: {CSR_B64}
  signerName: kubernetes.io/kube-apiserver-client
  usages: [client auth]
"
        ),
    );
    // ... while Deployments and Jobs do.
    create(&server, &deployment("web", 1, &[("app", "nginx:1.27")]));
    server
        .kubectl(&["create", "job", "once", "--image=busybox:1.36"])
        .ok();
    for (kind, name) in [("deploy", "web"), ("job", "once")] {
        let o = server.kubectl_json(&["get", kind, name]);
        assert_eq!(o["metadata"]["generation"], 1, "{kind}/{name}: {o}");
    }
    for (kind, name) in [
        ("svc", "web"),
        ("cm", "conf"),
        ("ns", "scratch"),
        ("csr", "csr1"),
    ] {
        let o = server.kubectl_json(&["get", kind, name]);
        assert!(
            o["metadata"].get("generation").is_none(),
            "{kind}/{name} must not have metadata.generation: {o}"
        );
    }
}

//! Create / read / update / delete through stock kubectl.

use std::fs;

use k8rs_conformance::{b64, parse_table, Server};
use serde_json::Value;

const MULTI_DOC: &str = r#"apiVersion: apps/v1
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
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  username: admin
  password: "s3cr3t!"
"#;

#[test]
fn create_namespace_configmap_secret() {
    let server = Server::start();
    let out = server.kubectl(&["create", "ns", "crud"]).ok();
    assert_eq!(out.trim(), "namespace/crud created");
    let ns = server.kubectl_json(&["get", "ns", "crud"]);
    assert_eq!(ns["status"]["phase"], "Active", "{ns}");
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "crud",
        "namespaces carry the kubernetes.io/metadata.name label: {ns}"
    );

    let out = server
        .kubectl(&[
            "create",
            "configmap",
            "c1",
            "-n",
            "crud",
            "--from-literal=a=1",
            "--from-literal=greeting=hello world",
        ])
        .ok();
    assert_eq!(out.trim(), "configmap/c1 created");
    let cm = server.kubectl_json(&["get", "configmap", "c1", "-n", "crud"]);
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "c1");
    assert_eq!(cm["metadata"]["namespace"], "crud");
    assert_eq!(cm["data"]["a"], "1");
    assert_eq!(cm["data"]["greeting"], "hello world");
    for f in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(
            cm["metadata"][f].as_str().is_some_and(|s| !s.is_empty()),
            "metadata.{f} must be set: {cm}"
        );
    }

    let out = server
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "s1",
            "-n",
            "crud",
            "--from-literal=password=hunter2",
        ])
        .ok();
    assert_eq!(out.trim(), "secret/s1 created");
    let s = server.kubectl_json(&["get", "secret", "s1", "-n", "crud"]);
    assert_eq!(s["kind"], "Secret");
    assert_eq!(s["type"], "Opaque");
    assert_eq!(s["data"]["password"], b64("hunter2"), "{s}");

    // The namespaced object is not visible from another namespace, but is
    // with --all-namespaces.
    let other = server
        .kubectl(&["get", "cm", "c1", "-n", "default"])
        .fails();
    assert!(other.contains("NotFound"), "{other}");
    let all = server.kubectl(&["get", "cm", "-A", "-o", "name"]).ok();
    assert!(all.lines().any(|l| l == "configmap/c1"), "{all}");
}

#[test]
fn create_multi_document_yaml() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "multi"]).ok();
    let file = server.tmp().join("multi.yaml");
    fs::write(&file, MULTI_DOC).unwrap();
    let out = server
        .kubectl(&["create", "-n", "multi", "-f", file.to_str().unwrap()])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "deployment.apps/web created",
            "service/web created",
            "secret/creds created"
        ],
        "{out}"
    );

    // stringData is folded into data (base64) and not stored.
    let secret = server.kubectl_json(&["get", "secret", "creds", "-n", "multi"]);
    assert_eq!(secret["data"]["username"], b64("admin"), "{secret}");
    assert_eq!(secret["data"]["password"], b64("s3cr3t!"), "{secret}");
    assert!(secret.get("stringData").is_none(), "{secret}");
    assert_eq!(secret["type"], "Opaque", "{secret}");
    let pw = server
        .kubectl(&[
            "get",
            "secret",
            "creds",
            "-n",
            "multi",
            "-o",
            "jsonpath={.data.password}",
        ])
        .ok();
    assert_eq!(pw, b64("s3cr3t!"));

    let deploy = server.kubectl_json(&["get", "deployment", "web", "-n", "multi"]);
    assert_eq!(deploy["apiVersion"], "apps/v1");
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let svc = server.kubectl_json(&["get", "svc", "web", "-n", "multi"]);
    assert_eq!(svc["spec"]["ports"][0]["port"], 80, "{svc}");
    assert_eq!(svc["spec"]["selector"]["app"], "web", "{svc}");

    // Creating the same file again: every object already exists.
    let err = server
        .kubectl(&["create", "-n", "multi", "-f", file.to_str().unwrap()])
        .fails();
    assert_eq!(err.matches("AlreadyExists").count(), 3, "{err}");
}

#[test]
fn get_output_formats() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "out"]).ok();
    server
        .kubectl(&[
            "create",
            "cm",
            "fmt",
            "-n",
            "out",
            "--from-literal=k1=v1",
            "--from-literal=k2=v2",
        ])
        .ok();
    let file = server.tmp().join("multi.yaml");
    fs::write(&file, MULTI_DOC).unwrap();
    server
        .kubectl(&["create", "-n", "out", "-f", file.to_str().unwrap()])
        .ok();

    // -o yaml
    let yaml = server
        .kubectl(&["get", "cm", "fmt", "-n", "out", "-o", "yaml"])
        .ok();
    let y: Value = serde_yaml::from_str(&yaml).expect("-o yaml parses");
    assert_eq!(y["kind"], "ConfigMap", "{yaml}");
    assert_eq!(y["metadata"]["name"], "fmt");
    assert_eq!(y["data"]["k2"], "v2");

    // -o json
    let j = server.kubectl_json(&["get", "cm", "fmt", "-n", "out"]);
    assert_eq!(j, y, "-o json and -o yaml disagree");

    // list -o json
    let list = server.kubectl_json(&["get", "cm", "-n", "out"]);
    assert_eq!(list["kind"], "List");
    assert!(
        list["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|o| o["metadata"]["name"] == "fmt")),
        "{list}"
    );

    // -o name
    let name = server
        .kubectl(&["get", "cm", "fmt", "-n", "out", "-o", "name"])
        .ok();
    assert_eq!(name.trim(), "configmap/fmt");
    let names = server
        .kubectl(&["get", "deploy,svc,secret", "-n", "out", "-o", "name"])
        .ok();
    for n in ["deployment.apps/web", "service/web", "secret/creds"] {
        assert!(names.lines().any(|l| l == n), "{n} missing:\n{names}");
    }

    // -o jsonpath
    let jp = server
        .kubectl(&[
            "get",
            "cm",
            "fmt",
            "-n",
            "out",
            "-o",
            "jsonpath={.metadata.name}:{.data.k1}",
        ])
        .ok();
    assert_eq!(jp, "fmt:v1");
    let jp = server
        .kubectl(&[
            "get",
            "ns",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
        ])
        .ok();
    assert!(jp.lines().any(|l| l == "out"), "{jp}");
    assert!(jp.lines().any(|l| l == "kube-system"), "{jp}");

    // Server-side table printing: default columns.
    let table = server.kubectl(&["get", "cm", "fmt", "-n", "out"]).ok();
    let rows = parse_table(&table);
    assert_eq!(rows.len(), 1, "{table}");
    assert_eq!(rows[0]["NAME"], "fmt", "{table}");
    assert_eq!(rows[0]["DATA"], "2", "{table}");
    assert!(rows[0].contains_key("AGE"), "{table}");

    // -o wide adds the deployment's extra columns.
    let wide = server
        .kubectl(&["get", "deploy", "web", "-n", "out", "-o", "wide"])
        .ok();
    let rows = parse_table(&wide);
    assert_eq!(rows.len(), 1, "{wide}");
    let r = &rows[0];
    assert_eq!(r["NAME"], "web", "{wide}");
    assert_eq!(r["CONTAINERS"], "nginx", "{wide}");
    assert_eq!(r["IMAGES"], "nginx:1.27", "{wide}");
    assert_eq!(r["SELECTOR"], "app=web", "{wide}");
    assert!(
        r.contains_key("READY") && r.contains_key("UP-TO-DATE"),
        "{wide}"
    );

    let wide = server
        .kubectl(&["get", "secret", "creds", "-n", "out", "-o", "wide"])
        .ok();
    let rows = parse_table(&wide);
    assert_eq!(rows[0]["TYPE"], "Opaque", "{wide}");
    assert_eq!(rows[0]["DATA"], "2", "{wide}");
}

#[test]
fn label_and_annotate() {
    let server = Server::start();
    server
        .kubectl(&["create", "cm", "lab", "--from-literal=a=1"])
        .ok();
    let get_meta = |field: &str| -> Value {
        server.kubectl_json(&["get", "cm", "lab"])["metadata"][field].clone()
    };

    let out = server
        .kubectl(&["label", "cm", "lab", "env=dev", "tier=web"])
        .ok();
    assert_eq!(out.trim(), "configmap/lab labeled");
    let labels = get_meta("labels");
    assert_eq!(labels["env"], "dev", "{labels}");
    assert_eq!(labels["tier"], "web", "{labels}");

    // Changing an existing label needs --overwrite.
    let err = server.kubectl(&["label", "cm", "lab", "env=prod"]).fails();
    assert!(err.contains("already has a value"), "{err}");
    server
        .kubectl(&["label", "cm", "lab", "env=prod", "--overwrite"])
        .ok();
    assert_eq!(get_meta("labels")["env"], "prod");

    server.kubectl(&["label", "cm", "lab", "tier-"]).ok();
    let labels = get_meta("labels");
    assert!(labels.get("tier").is_none(), "tier not removed: {labels}");
    assert_eq!(labels["env"], "prod");

    let out = server
        .kubectl(&["annotate", "cm", "lab", "note=hello world", "owner=team-a"])
        .ok();
    assert_eq!(out.trim(), "configmap/lab annotated");
    let ann = get_meta("annotations");
    assert_eq!(ann["note"], "hello world", "{ann}");
    assert_eq!(ann["owner"], "team-a", "{ann}");
    server
        .kubectl(&["annotate", "cm", "lab", "note=bye", "--overwrite"])
        .ok();
    assert_eq!(get_meta("annotations")["note"], "bye");
    server.kubectl(&["annotate", "cm", "lab", "owner-"]).ok();
    let ann = get_meta("annotations");
    assert!(ann.get("owner").is_none(), "owner not removed: {ann}");

    // Labelling a whole selection.
    server.kubectl(&["create", "cm", "lab2"]).ok();
    server
        .kubectl(&["label", "cm", "lab", "lab2", "batch=yes"])
        .ok();
    let sel = server
        .kubectl(&["get", "cm", "-l", "batch=yes", "-o", "name"])
        .ok();
    let mut got: Vec<&str> = sel.lines().collect();
    got.sort();
    assert_eq!(got, ["configmap/lab", "configmap/lab2"]);
}

#[test]
fn patch_merge_and_json() {
    let server = Server::start();
    server
        .kubectl(&[
            "create",
            "cm",
            "p",
            "--from-literal=a=1",
            "--from-literal=b=2",
        ])
        .ok();
    let data = || server.kubectl_json(&["get", "cm", "p"])["data"].clone();
    let rv = || server.kubectl_json(&["get", "cm", "p"])["metadata"]["resourceVersion"].clone();
    let rv0 = rv();

    // JSON merge patch: add, change, delete (null).
    let out = server
        .kubectl(&[
            "patch",
            "cm",
            "p",
            "--type=merge",
            "-p",
            r#"{"data":{"b":"22","c":"3","a":null},"metadata":{"labels":{"patched":"merge"}}}"#,
        ])
        .ok();
    assert_eq!(out.trim(), "configmap/p patched");
    assert_eq!(data(), serde_json::json!({"b": "22", "c": "3"}));
    assert_ne!(rv(), rv0, "patch must bump resourceVersion");
    let labels = server.kubectl_json(&["get", "cm", "p"])["metadata"]["labels"].clone();
    assert_eq!(labels["patched"], "merge");

    // JSON patch (RFC 6902).
    server
        .kubectl(&[
            "patch",
            "cm",
            "p",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/data/b","value":"222"},{"op":"add","path":"/data/d","value":"4"},{"op":"remove","path":"/data/c"}]"#,
        ])
        .ok();
    assert_eq!(data(), serde_json::json!({"b": "222", "d": "4"}));

    // A JSON patch whose `test` fails changes nothing (it is atomic).
    let rv1 = rv();
    let err = server
        .kubectl(&[
            "patch",
            "cm",
            "p",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/e","value":"5"},{"op":"test","path":"/data/b","value":"nope"}]"#,
        ])
        .fails();
    assert!(!err.is_empty());
    assert_eq!(data(), serde_json::json!({"b": "222", "d": "4"}));
    assert_eq!(rv(), rv1, "failed patch must not write");

    // Malformed patch body (kubectl would refuse to send it: raw HTTP).
    let resp = server
        .http("PATCH", "/api/v1/namespaces/default/configmaps/p")
        .body("{not json", "application/merge-patch+json")
        .send();
    resp.assert_status(400, "BadRequest");
    assert_eq!(data(), serde_json::json!({"b": "222", "d": "4"}));
    assert_eq!(rv(), rv1, "malformed patch must not write");

    // Patching a missing object is NotFound.
    let err = server
        .kubectl(&[
            "patch",
            "cm",
            "nope",
            "--type=merge",
            "-p",
            r#"{"data":{"x":"y"}}"#,
        ])
        .fails();
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
}

#[test]
fn patch_strategic_default() {
    let server = Server::start();
    let file = server.tmp().join("d.yaml");
    fs::write(&file, MULTI_DOC.split("---").next().unwrap()).unwrap();
    server
        .kubectl(&["create", "-f", file.to_str().unwrap()])
        .ok();
    // kubectl patch defaults to a strategic merge patch: containers merge by name.
    server
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}"#,
        ])
        .ok();
    let d = server.kubectl_json(&["get", "deploy", "web"]);
    let containers = &d["spec"]["template"]["spec"]["containers"];
    let names: Vec<&str> = containers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "strategic merge must keep nginx: {containers}"
    );
    assert!(
        names.contains(&"nginx") && names.contains(&"sidecar"),
        "{containers}"
    );
}

#[test]
fn replace_from_file() {
    let server = Server::start();
    server
        .kubectl(&["create", "cm", "r", "--from-literal=a=1"])
        .ok();
    let mut obj = server.kubectl_json(&["get", "cm", "r"]);
    let rv0 = obj["metadata"]["resourceVersion"].clone();
    obj["data"] = serde_json::json!({"a": "10", "z": "26"});
    let file = server.tmp().join("r.json");
    fs::write(&file, obj.to_string()).unwrap();
    let out = server
        .kubectl(&["replace", "-f", file.to_str().unwrap()])
        .ok();
    assert_eq!(out.trim(), "configmap/r replaced");
    let now = server.kubectl_json(&["get", "cm", "r"]);
    assert_eq!(now["data"], serde_json::json!({"a": "10", "z": "26"}));
    assert_ne!(now["metadata"]["resourceVersion"], rv0);
    assert_eq!(now["metadata"]["uid"], obj["metadata"]["uid"]);
    assert_eq!(
        now["metadata"]["creationTimestamp"],
        obj["metadata"]["creationTimestamp"]
    );

    // Without a resourceVersion the update is unconditional.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\ndata:\n  only: one\n";
    let out = server.kubectl_stdin(&["replace", "-f", "-"], yaml).ok();
    assert_eq!(out.trim(), "configmap/r replaced");
    let now = server.kubectl_json(&["get", "cm", "r"]);
    assert_eq!(now["data"], serde_json::json!({"only": "one"}));

    // Replacing something that does not exist fails.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ghost\ndata:\n  a: b\n";
    let err = server.kubectl_stdin(&["replace", "-f", "-"], yaml).fails();
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    server.kubectl(&["get", "cm", "ghost"]).fails();
}

#[test]
fn delete_objects() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "del"]).ok();
    for n in ["d1", "d2", "d3", "keep"] {
        server.kubectl(&["create", "cm", n, "-n", "del"]).ok();
    }
    server
        .kubectl(&["label", "cm", "d2", "d3", "-n", "del", "gone=yes"])
        .ok();

    let out = server.kubectl(&["delete", "cm", "d1", "-n", "del"]).ok();
    // (kubectl >= 1.33 appends " from del namespace".)
    assert!(out.trim().starts_with(r#"configmap "d1" deleted"#), "{out}");
    let err = server.kubectl(&["get", "cm", "d1", "-n", "del"]).fails();
    assert!(
        err.contains(r#"Error from server (NotFound): configmaps "d1" not found"#),
        "{err}"
    );

    // Deleting again is NotFound; --ignore-not-found is quiet success.
    let err = server.kubectl(&["delete", "cm", "d1", "-n", "del"]).fails();
    assert!(err.contains("NotFound"), "{err}");
    server
        .kubectl(&["delete", "cm", "d1", "-n", "del", "--ignore-not-found"])
        .ok();

    // By label selector.
    let out = server
        .kubectl(&["delete", "cm", "-n", "del", "-l", "gone=yes"])
        .ok();
    assert!(out.contains(r#"configmap "d2" deleted"#), "{out}");
    assert!(out.contains(r#"configmap "d3" deleted"#), "{out}");
    let left = server
        .kubectl(&["get", "cm", "-n", "del", "-o", "name"])
        .ok();
    assert!(left.lines().any(|l| l == "configmap/keep"), "{left}");
    assert!(
        !left
            .lines()
            .any(|l| ["configmap/d1", "configmap/d2", "configmap/d3"].contains(&l)),
        "{left}"
    );

    // Deleted objects can be recreated (with a new uid).
    let old_uid =
        server.kubectl_json(&["get", "cm", "keep", "-n", "del"])["metadata"]["uid"].clone();
    server.kubectl(&["delete", "cm", "keep", "-n", "del"]).ok();
    server.kubectl(&["create", "cm", "keep", "-n", "del"]).ok();
    let new_uid =
        server.kubectl_json(&["get", "cm", "keep", "-n", "del"])["metadata"]["uid"].clone();
    assert_ne!(old_uid, new_uid);
}

//! OpenAPI: `kubectl explain` walks the generated component schemas, the documents are
//! self-contained, and `kubectl create` / `apply` (which read the same documents for field
//! validation and strategic merge patch metadata) keep working.

use std::path::Path;

use k8rs_conformance::{Server, KUBECTL, KUBECTL_1_33};
use serde_json::Value;

/// The kubectls to check: the primary one and, when present, the served minor version's.
fn kubectls() -> Vec<&'static str> {
    let mut bins = vec![KUBECTL];
    if Path::new(KUBECTL_1_33).is_file() {
        bins.push(KUBECTL_1_33);
    } else {
        eprintln!("{KUBECTL_1_33} absent: checked {KUBECTL} only");
    }
    bins
}

#[test]
fn explain_prints_field_docs() {
    let server = Server::start();
    for bin in kubectls() {
        let out = server
            .kubectl_bin(bin, &["explain", "pod.spec.containers"])
            .ok();
        assert!(out.contains("KIND:       Pod"), "{bin}:\n{out}");
        assert!(
            out.contains("FIELD: containers <[]Container>"),
            "{bin}:\n{out}"
        );
        assert!(out.contains("FIELDS:"), "{bin}:\n{out}");
        assert!(out.contains("  image\t<string>"), "{bin}:\n{out}");
        assert!(out.contains("Container image name."), "{bin}:\n{out}");
        assert!(out.contains("  name\t<string> -required-"), "{bin}:\n{out}");

        let out = server
            .kubectl_bin(bin, &["explain", "configmaps.data"])
            .ok();
        assert!(
            out.contains("FIELD: data <map[string]string>"),
            "{bin}:\n{out}"
        );
        assert!(
            out.contains("Data contains the configuration data."),
            "{bin}:\n{out}"
        );

        // A reference with a description: the field's own words, then its type's.
        let out = server
            .kubectl_bin(bin, &["explain", "pod.metadata.creationTimestamp"])
            .ok();
        assert!(
            out.contains("FIELD: creationTimestamp <string>"),
            "{bin}:\n{out}"
        );
        assert!(
            out.contains("CreationTimestamp is a timestamp"),
            "{bin}:\n{out}"
        );

        let out = server
            .kubectl_bin(bin, &["explain", "svc.spec.ports.targetPort"])
            .ok();
        assert!(
            out.contains("FIELD: targetPort <IntOrString>"),
            "{bin}:\n{out}"
        );
        let out = server
            .kubectl_bin(bin, &["explain", "pod.spec.containers.resources.limits"])
            .ok();
        assert!(
            out.contains("FIELD: limits <map[string]Quantity>"),
            "{bin}:\n{out}"
        );

        let err = server
            .kubectl_bin(bin, &["explain", "pod.spec.nope"])
            .fails();
        assert!(
            err.contains("field \"nope\" does not exist"),
            "{bin}:\n{err}"
        );
    }
}

#[test]
fn explain_recursive_lists_nested_fields() {
    let server = Server::start();
    for bin in kubectls() {
        let out = server
            .kubectl_bin(bin, &["explain", "deployment", "--recursive"])
            .ok();
        for want in [
            "GROUP:      apps",
            "KIND:       Deployment",
            "VERSION:    v1",
            "Deployment enables declarative updates for Pods and ReplicaSets.",
            "  metadata\t<ObjectMeta>",
            "  spec\t<DeploymentSpec>",
            "    replicas\t<integer>",
            "    selector\t<LabelSelector> -required-",
            "    strategy\t<DeploymentStrategy>",
            "        maxSurge\t<IntOrString>",
            "    template\t<PodTemplateSpec> -required-",
            "        containers\t<[]Container> -required-",
            "          image\t<string>",
            "  status\t<DeploymentStatus>",
        ] {
            assert!(out.contains(want), "{bin}: no {want:?} in:\n{out}");
        }
        // Other kinds and groups resolve through their own documents.
        for (what, want) in [
            ("cronjob.spec.jobTemplate", "<JobTemplateSpec>"),
            ("crd.spec.versions.schema", "<CustomResourceValidation>"),
            ("clusterrole.rules", "<[]PolicyRule>"),
            ("hpa.spec", "<HorizontalPodAutoscalerSpec>"),
        ] {
            let out = server.kubectl_bin(bin, &["explain", what]).ok();
            assert!(out.contains(want), "{bin} explain {what}:\n{out}");
        }
        // Recursive schemas (JSONSchemaProps) end instead of looping.
        server
            .kubectl_bin(bin, &["explain", "crd.spec", "--recursive"])
            .ok();
    }
}

/// Every `$ref` string in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                match (k.as_str(), c) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(c, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

#[test]
fn documents_carry_their_schemas() {
    let server = Server::start();
    let index = server.get("/openapi/v3").json();
    let paths = index["paths"].as_object().expect("index paths");
    assert!(paths.len() >= 19, "{index}");
    for (key, entry) in paths {
        let url = entry["serverRelativeURL"].as_str().expect("url");
        let resp = server.get(url);
        assert_eq!(resp.status, 200, "{url}: {}", resp.text());
        let doc = resp.json();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("components.schemas");
        assert!(!schemas.is_empty(), "{key} has no schemas");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{key}: non-local reference {r}"));
            assert!(schemas.contains_key(name), "{key}: {r} does not resolve");
        }
    }
    let apps = server.get("/openapi/v3/apis/apps/v1").json();
    let deploy = &apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deploy["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let core = server.get("/openapi/v3/api/v1").json();
    let containers =
        &core["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(
        containers["x-kubernetes-patch-merge-key"], "name",
        "{containers}"
    );
    assert_eq!(
        containers["x-kubernetes-patch-strategy"], "merge",
        "{containers}"
    );

    let v2 = server.get("/openapi/v2").json();
    assert_eq!(v2["swagger"], "2.0");
    let defs = v2["definitions"].as_object().expect("definitions");
    assert!(defs.contains_key("io.k8s.api.core.v1.Pod"));
    let mut all = Vec::new();
    refs(&v2, &mut all);
    for r in all {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("v2: non-local reference {r}"));
        assert!(defs.contains_key(name), "v2: {r} does not resolve");
    }
    // gnostic's protobuf form, as client-go asks for it.
    let pb = server
        .http("GET", "/openapi/v2")
        .header("Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
        .send();
    assert_eq!(pb.status, 200, "{}", pb.text());
    assert!(
        pb.headers
            .contains("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        "{}",
        pb.headers
    );
    // Field 1 (swagger) = "2.0".
    assert_eq!(pb.body.get(..5), Some(&b"\x0a\x032.0"[..]));
}

#[test]
fn explain_from_the_v2_document() {
    let server = Server::start();
    for bin in kubectls() {
        let out = server
            .kubectl_bin(
                bin,
                &[
                    "explain",
                    "pods.spec.containers.ports",
                    "--output=plaintext-openapiv2",
                ],
            )
            .ok();
        assert!(out.contains("RESOURCE: ports <[]Object>"), "{bin}:\n{out}");
        assert!(
            out.contains("containerPort\t<integer> -required-"),
            "{bin}:\n{out}"
        );
        let out = server
            .kubectl_bin(
                bin,
                &[
                    "explain",
                    "deployment",
                    "--recursive",
                    "--output=plaintext-openapiv2",
                ],
            )
            .ok();
        assert!(out.contains("KIND:     Deployment"), "{bin}:\n{out}");
        assert!(out.contains("      maxSurge\t<string>"), "{bin}:\n{out}");
    }
}

const APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: a
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Pod
metadata:
  name: solo
spec:
  containers: [{name: c, image: busybox}]
"#;

#[test]
fn create_and_apply_use_the_documents() {
    let server = Server::start();
    let out = server.kubectl_stdin(&["create", "-f", "-"], APP).ok();
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("pod/solo created"), "{out}");
    // Strict field validation (kubectl asks the documents whether the server does it).
    let bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: [{name: c, image: busybox, bogus: 1}]\n";
    let err = server.kubectl_stdin(&["create", "-f", "-"], bad).fails();
    assert!(err.contains("unknown field"), "{err}");

    // A create-only kind has no PATCH operation to show field validation support in v3, so
    // kubectl falls back to the v2 (protobuf) document, as against kube-apiserver.
    let review = "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\nspec:\n  resourceAttributes: {verb: get, resource: pods}\n";
    let out = server
        .kubectl_stdin(&["create", "-f", "-", "-o", "json"], review)
        .json();
    assert_eq!(out["status"]["allowed"], true, "{out}");

    // Client-side apply computes a strategic merge patch from the schemas' merge keys: a
    // field set outside apply survives, as the list is merged by name, not replaced.
    server.kubectl(&["delete", "deployment", "web"]).ok();
    server.kubectl_stdin(&["apply", "-f", "-"], APP).ok();
    server
        .kubectl(&["set", "env", "deployment/web", "-c", "a", "FOO=bar"])
        .ok();
    let two = APP.replace(
        "        ports: [{containerPort: 80}]\n",
        "        ports: [{containerPort: 80}]\n      - name: b\n        image: busybox\n",
    );
    let out = server.kubectl_stdin(&["apply", "-f", "-"], &two).ok();
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = server.kubectl_json(&["get", "deployment", "web"]);
    let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"], "{d}");
    let a = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(a["ports"][0]["containerPort"], 80, "{d}");
    assert_eq!(a["env"][0]["name"], "FOO", "{d}");
}

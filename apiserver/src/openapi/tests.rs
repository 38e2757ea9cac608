use std::collections::BTreeSet;

use serde_json::Value;

use super::*;
use crate::builtin;

fn openapi() -> OpenApi {
    let all = builtin::resources();
    let infos: Vec<&ResourceInfo> = all.iter().collect();
    OpenApi::new(&crate::discovery::groups(&infos))
}

fn doc(api: &OpenApi, key: &str) -> Value {
    let bytes = api
        .document(key)
        .unwrap_or_else(|| panic!("no document {key}"));
    serde_json::from_slice(&bytes).expect("document is JSON")
}

fn schemas(doc: &Value) -> &serde_json::Map<String, Value> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .expect("components.schemas")
}

/// Follows `$ref` (directly or through a one-element `allOf`) to the named definition.
fn resolve<'a>(doc: &'a Value, schema: &'a Value, prefix: &str, defs: &str) -> &'a Value {
    let r = schema
        .get("$ref")
        .or_else(|| schema.pointer("/allOf/0/$ref"))
        .and_then(Value::as_str);
    match r {
        Some(r) => {
            let name = r.strip_prefix(prefix).expect("local reference");
            doc.get(defs)
                .and_then(|d| {
                    if defs == "components" {
                        d.pointer(&format!("/schemas/{name}"))
                    } else {
                        d.get(name)
                    }
                })
                .unwrap_or_else(|| panic!("{name} is not defined"))
        }
        None => schema,
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
fn every_builtin_resource_has_a_schema() {
    let known: BTreeSet<&str> = schemas::kinds_type_names().into_iter().collect();
    for r in builtin::resources() {
        assert!(
            known.contains(r.rust_type),
            "{} ({}) has no entry in openapi/schemas.rs KINDS",
            r.kind,
            r.rust_type
        );
    }
}

#[test]
fn pod_containers_carry_patch_metadata() {
    let api = openapi();
    let d = doc(&api, "api/v1");
    let pod = &schemas(&d)["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    // Upstream does not require metadata (k8s-openapi's Rust type does).
    assert!(pod.get("required").is_none(), "{}", pod["required"]);
    let spec = resolve(&d, &pod["properties"]["spec"], V3_PREFIX, "components");
    let containers = &spec["properties"]["containers"];
    assert_eq!(containers["type"], "array");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(
        containers["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    assert_eq!(spec["required"], serde_json::json!(["containers"]));
    let volumes = &spec["properties"]["volumes"];
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let container = resolve(&d, &containers["items"], V3_PREFIX, "components");
    assert!(container["properties"]["image"]["description"]
        .as_str()
        .is_some_and(|s| s.contains("Container image name")));
    let ports = &container["properties"]["ports"];
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        serde_json::json!(["containerPort", "protocol"])
    );
    // Structs marked +structType=atomic.
    let selector = &schemas(&d)["io.k8s.api.core.v1.NodeSelector"];
    assert_eq!(selector["x-kubernetes-map-type"], "atomic");
    // Quantity and IntOrString in upstream's v3 forms.
    let q = &schemas(&d)["io.k8s.apimachinery.pkg.api.resource.Quantity"];
    assert!(q.get("oneOf").is_some() && q.get("x-kubernetes-int-or-string").is_none());
    let ios = &schemas(&d)["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(ios["format"], "int-or-string");
}

#[test]
fn deployment_and_its_list_carry_their_gvk() {
    let api = openapi();
    let d = doc(&api, "apis/apps/v1");
    let s = schemas(&d);
    assert_eq!(
        s["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let list = &s["io.k8s.api.apps.v1.DeploymentList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "apps", "kind": "DeploymentList", "version": "v1"}])
    );
    assert_eq!(list["required"], serde_json::json!(["items"]));
    // A struct reference with extensions is wrapped in allOf (OpenAPI 3.0 ignores $ref
    // siblings), keeping its description and markers beside it.
    let spec = resolve(
        &d,
        &s["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"],
        V3_PREFIX,
        "components",
    );
    let strategy = &spec["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    assert!(strategy["allOf"][0]["$ref"].is_string());
    // The list operation answers with the list definition.
    let list_ref = d
        .pointer("/paths/~1apis~1apps~1v1~1namespaces~1{namespace}~1deployments/get/responses/200/content/application~1json/schema/$ref")
        .and_then(Value::as_str);
    assert_eq!(
        list_ref,
        Some("#/components/schemas/io.k8s.api.apps.v1.DeploymentList")
    );
    // Definitions of other groups' kinds are not carried into this document.
    assert!(!s.contains_key("io.k8s.api.core.v1.Pod"));
    assert!(s.contains_key("io.k8s.api.core.v1.PodSpec"));
}

#[test]
fn every_reference_resolves_within_its_document() {
    let api = openapi();
    let index: Value = serde_json::from_slice(&api.index()).expect("index is JSON");
    let paths = index["paths"].as_object().expect("index paths");
    assert!(paths.contains_key("api/v1") && paths.contains_key("apis/apps/v1"));
    for (key, entry) in paths {
        let url = entry["serverRelativeURL"].as_str().expect("url");
        assert!(
            url.starts_with(&format!("/openapi/v3/{key}?hash=")),
            "{url}"
        );
        let d = doc(&api, key);
        let defs = schemas(&d);
        let mut all = Vec::new();
        refs(&d, &mut all);
        assert!(!all.is_empty(), "{key} has no references");
        for r in all {
            let name = r
                .strip_prefix(V3_PREFIX)
                .unwrap_or_else(|| panic!("{key}: non-local reference {r}"));
            assert!(defs.contains_key(name), "{key}: {r} does not resolve");
        }
        // Each kind the paths name has a definition with that GVK.
        for item in d["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("path item").values() {
                let Some(gvk) = op.get("x-kubernetes-group-version-kind") else {
                    continue;
                };
                assert!(
                    defs.values().any(|s| s["x-kubernetes-group-version-kind"]
                        .as_array()
                        .is_some_and(|l| l.contains(gvk))),
                    "{key}: no schema for {gvk}"
                );
            }
        }
    }
}

#[test]
fn v2_definitions_resolve() {
    let api = openapi();
    let d: Value = serde_json::from_slice(&api.v2()).expect("v2 is JSON");
    let defs = d["definitions"].as_object().expect("definitions");
    assert!(defs.contains_key("io.k8s.api.core.v1.Pod"));
    let mut all = Vec::new();
    refs(&d, &mut all);
    for r in all {
        let name = r
            .strip_prefix(V2_PREFIX)
            .unwrap_or_else(|| panic!("non-local reference {r}"));
        assert!(defs.contains_key(name), "{r} does not resolve");
    }
    let pod = &defs["io.k8s.api.core.v1.Pod"];
    let spec = resolve(&d, &pod["properties"]["spec"], V2_PREFIX, "definitions");
    assert_eq!(
        spec["properties"]["containers"]["x-kubernetes-patch-merge-key"],
        "name"
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        "string"
    );
}

#[test]
fn documents_are_built_once_and_the_hash_follows_the_bytes() {
    let api = openapi();
    let a = api.document("api/v1").expect("api/v1");
    let b = api.document("api/v1").expect("api/v1");
    // Cached: the same bytes, not a rebuild.
    assert_eq!(a.as_ptr(), b.as_ptr());
    let index: Value = serde_json::from_slice(&api.index()).expect("index");
    let url = index["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .expect("url");
    assert!(url.ends_with(&hash_of(&a)));
}

/// Not a check: prints the build time and sizes (`cargo test -p k8rs-apiserver --release
/// openapi_sizes -- --ignored --nocapture`).
#[test]
#[ignore]
fn openapi_sizes() {
    let api = openapi();
    let started = Instant::now();
    let _ = api.index();
    println!("v3 documents built in {:?}", started.elapsed());
    let mut total = 0;
    for key in api.by_doc.keys() {
        let n = api.document(key).map_or(0, |b| b.len());
        total += n;
        println!("{key}: {n} bytes");
    }
    println!("v3 total: {total} bytes");
    let started = Instant::now();
    let n = api.v2().len();
    println!("v2: {n} bytes, built in {:?}", started.elapsed());
    let started = Instant::now();
    let n = api.v2_protobuf().len();
    println!("v2 protobuf: {n} bytes, built in {:?}", started.elapsed());
}

#[test]
fn operations_are_named_and_tagged_as_upstream() {
    assert_eq!(
        op_prefix("", "v1"),
        ("CoreV1".to_string(), "core_v1".to_string())
    );
    assert_eq!(
        op_prefix("rbac.authorization.k8s.io", "v1"),
        (
            "RbacAuthorizationV1".to_string(),
            "rbacAuthorization_v1".to_string()
        )
    );
    assert_eq!(
        op_prefix("flowcontrol.apiserver.k8s.io", "v1").0,
        "FlowcontrolApiserverV1"
    );
    let api = openapi();
    let d = doc(&api, "apis/apps/v1");
    let p = |path: &str| {
        d["paths"]
            .get(path)
            .unwrap_or_else(|| panic!("no path {path}"))
            .clone()
    };
    let coll = p("/apis/apps/v1/namespaces/{namespace}/deployments");
    assert_eq!(coll["get"]["operationId"], "listAppsV1NamespacedDeployment");
    assert_eq!(coll["get"]["tags"], serde_json::json!(["apps_v1"]));
    assert_eq!(
        p("/apis/apps/v1/deployments")["get"]["operationId"],
        "listAppsV1DeploymentForAllNamespaces"
    );
    let status = p("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status");
    assert_eq!(
        status["patch"]["operationId"],
        "patchAppsV1NamespacedDeploymentStatus"
    );
    let scale = p("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale");
    assert_eq!(
        scale["get"]["x-kubernetes-group-version-kind"],
        serde_json::json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})
    );
    assert_eq!(
        scale["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
    );
    // Create-only kinds have only the collection's POST.
    let d = doc(&api, "apis/authorization.k8s.io/v1");
    let ssar = &d["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"];
    assert_eq!(
        ssar["post"]["operationId"],
        "createAuthorizationV1SelfSubjectAccessReview"
    );
    assert!(ssar.get("get").is_none());
    assert!(d["paths"]
        .get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/{name}")
        .is_none());
}

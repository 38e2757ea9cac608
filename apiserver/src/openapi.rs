//! OpenAPI documents generated from the resource descriptions.
//!
//! `/openapi/v3` lists one document per group-version; each document carries the paths and
//! operations of its resources with `x-kubernetes-group-version-kind` and the query
//! parameters (kubectl reads the PATCH operation's `fieldValidation` parameter to decide
//! that the server validates fields). Component schemas are not generated yet.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde_json::{json, Value};

use crate::discovery::Groups;
use crate::resource::ResourceInfo;

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "pretty"];
const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];

fn query_params(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| {
            let ty = match *n {
                "allowWatchBookmarks" | "watch" | "sendInitialEvents" => "boolean",
                "limit" | "timeoutSeconds" => "integer",
                _ => "string",
            };
            json!({"name": n, "in": "query", "schema": {"type": ty, "uniqueItems": true}})
        })
        .collect()
}

fn path_params(namespaced: bool, named: bool) -> Vec<Value> {
    let mut ps = Vec::new();
    if named {
        ps.push(json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}));
    }
    if namespaced {
        ps.push(json!({"name": "namespace", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}));
    }
    ps
}

fn schema_ref(r: &ResourceInfo, list: bool) -> String {
    let group = if r.group.is_empty() {
        "core".to_string()
    } else {
        r.group.clone()
    };
    let kind = if list { &r.list_kind } else { &r.kind };
    format!(
        "#/components/schemas/io.k8s.api.{group}.{}.{kind}",
        r.version
    )
}

fn op(
    r: &ResourceInfo,
    action: &str,
    id: &str,
    params: Vec<Value>,
    body: bool,
    list: bool,
) -> Value {
    let mut o = json!({
        "operationId": id,
        "tags": [],
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref(r, list)}}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    });
    if body {
        let media = if action == "patch" {
            json!({
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
            })
        } else {
            json!({"application/json": {"schema": {"$ref": schema_ref(r, false)}}})
        };
        o["requestBody"] = json!({"content": media, "required": true});
    }
    o
}

fn paths_for(r: &ResourceInfo, out: &mut BTreeMap<String, Value>) {
    let base = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let ns = if r.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{base}{ns}/{}", r.plural);
    let item = format!("{collection}/{{name}}");
    let kind = &r.kind;
    out.insert(
        collection.clone(),
        json!({
            "get": op(r, "list", &format!("list{kind}"), query_params(LIST_PARAMS), false, true),
            "post": op(r, "post", &format!("create{kind}"), query_params(WRITE_PARAMS), true, false),
            "delete": op(r, "deletecollection", &format!("deletecollection{kind}"), query_params(LIST_PARAMS), false, false),
            "parameters": path_params(r.namespaced, false),
        }),
    );
    let mut patch_params = query_params(WRITE_PARAMS);
    patch_params.extend(query_params(&["force"]));
    out.insert(
        item,
        json!({
            "get": op(r, "get", &format!("read{kind}"), vec![], false, false),
            "put": op(r, "put", &format!("replace{kind}"), query_params(WRITE_PARAMS), true, false),
            "patch": op(r, "patch", &format!("patch{kind}"), patch_params, true, false),
            "delete": op(r, "delete", &format!("delete{kind}"), query_params(&["dryRun", "gracePeriodSeconds", "propagationPolicy"]), false, false),
            "parameters": path_params(r.namespaced, true),
        }),
    );
    if r.namespaced {
        out.insert(
            format!("{base}/{}", r.plural),
            json!({"get": op(r, "list", &format!("list{kind}ForAllNamespaces"), query_params(LIST_PARAMS), false, true)}),
        );
    }
}

/// The document of one group-version.
pub fn group_version_doc(resources: &[&ResourceInfo]) -> Value {
    let mut paths = BTreeMap::new();
    for r in resources {
        paths_for(r, &mut paths);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::version::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

fn doc_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Every group-version document, keyed by its `/openapi/v3/<key>` path, with its hash.
pub fn documents(g: &Groups<'_>) -> BTreeMap<String, (String, Vec<u8>)> {
    let mut docs = BTreeMap::new();
    for (group, versions) in &g.by_group {
        for (version, rs) in versions {
            let bytes = group_version_doc(rs).to_string().into_bytes();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            docs.insert(
                doc_key(group, version),
                (format!("{:016X}", h.finish()), bytes),
            );
        }
    }
    docs
}

/// `/openapi/v3`: where each group-version document lives.
pub fn index(docs: &BTreeMap<String, (String, Vec<u8>)>) -> Value {
    let paths: BTreeMap<&String, Value> = docs
        .iter()
        .map(|(k, (hash, _))| {
            (
                k,
                json!({"serverRelativeURL": format!("/openapi/v3/{k}?hash={hash}")}),
            )
        })
        .collect();
    json!({"paths": paths})
}

/// An OpenAPI 3 operation or path item rewritten in Swagger 2.0 terms.
fn to_v2(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("requestBody");
        if o.contains_key("responses") {
            o.insert("responses".into(), json!({"200": {"description": "OK"}}));
        }
        if let Some(Value::Array(ps)) = o.get_mut("parameters") {
            for p in ps {
                if let Some(t) = p["schema"]["type"].as_str().map(str::to_string) {
                    p["type"] = json!(t);
                    if let Some(po) = p.as_object_mut() {
                        po.remove("schema");
                    }
                }
            }
        }
        for (k, child) in o.iter_mut() {
            if matches!(k.as_str(), "get" | "put" | "post" | "patch" | "delete") {
                *child = to_v2(child);
            }
        }
    }
    v
}

/// `/openapi/v2` (JSON): the same paths as one Swagger 2.0 document, for clients that fall
/// back to it.
pub fn v2(resources: &[&ResourceInfo]) -> Value {
    let mut v3 = BTreeMap::new();
    for r in resources {
        paths_for(r, &mut v3);
    }
    let paths: BTreeMap<String, Value> = v3.into_iter().map(|(k, v)| (k, to_v2(&v))).collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": crate::version::GIT_VERSION},
        "paths": paths,
        "definitions": {},
    })
}

//! OpenAPI documents generated from the resource descriptions.
//!
//! `/openapi/v3` lists one document per group-version; each document carries the paths and
//! operations of its resources with `x-kubernetes-group-version-kind` and the query
//! parameters (kubectl reads the PATCH operation's `fieldValidation` parameter to decide
//! that the server validates fields), and the component schemas of its kinds and everything
//! they reference (see [`schemas`]): what `kubectl explain` walks and `kubectl apply` reads
//! patch metadata from. `/openapi/v2` is the same as one Swagger 2.0 document, in JSON or
//! in gnostic's protobuf form (see [`proto`]).
//!
//! The documents are built on first request, not at start: most servers never serve them,
//! and start-up time and idle memory matter more. Their serialized bytes are then cached.

mod proto;
mod schemas;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use crate::discovery::Groups;
use crate::resource::ResourceInfo;
use schemas::{
    Catalog, Rendered, Schemas, DELETE_OPTIONS, META_ROOTS, PATCH, STATUS, V2_PREFIX, V3_PREFIX,
};

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

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{V3_PREFIX}{name}")})
}

/// One operation. `body` is the request body's schema by media type; `answer` the
/// definition the 200 response holds; `gvk` the kind it is about.
fn op(
    action: &str,
    id: &str,
    tag: &str,
    params: Vec<Value>,
    body: Option<Value>,
    answer: &str,
    gvk: &Value,
) -> Value {
    let mut o = json!({
        "operationId": id,
        "tags": [tag],
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref(answer)}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    });
    if let Some(media) = body {
        o["requestBody"] = json!({"content": media, "required": true});
    }
    o
}

/// Upstream's operation id prefix and tag of a group-version: `CoreV1` / `core_v1`,
/// `RbacAuthorizationV1` / `rbacAuthorization_v1` (`.k8s.io` dropped, dots camel-cased).
fn op_prefix(group: &str, version: &str) -> (String, String) {
    let group = if group.is_empty() { "core" } else { group };
    let group = group.strip_suffix(".k8s.io").unwrap_or(group);
    let title = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
            .unwrap_or_default()
    };
    let camel: String = group.split('.').map(title).collect();
    let lower = {
        let mut c = camel.chars();
        c.next()
            .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
            .unwrap_or_default()
    };
    (
        format!("{camel}{}", title(version)),
        format!("{lower}_{version}"),
    )
}

/// Adds the paths of the verbs `r` serves, and of its `/status` and `/scale`
/// subresources, to `out`.
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
    let (prefix, tag) = op_prefix(&r.group, &r.version);
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let kind = &r.kind;
    let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let kind_def = schemas::kind_name(r);
    let list_def = schemas::list_name(r);
    let body_of = |def: &str| Some(json!({"application/json": {"schema": schema_ref(def)}}));
    let patch_body = || {
        let patch = schema_ref(PATCH);
        Some(json!({
            "application/json-patch+json": {"schema": patch},
            "application/merge-patch+json": {"schema": patch},
            "application/strategic-merge-patch+json": {"schema": patch},
        }))
    };
    let mut patch_params = query_params(WRITE_PARAMS);
    patch_params.extend(query_params(&["force"]));
    // get / put / patch of the object or a subresource of it (`suffix`: "Status", "Scale").
    let read_write = |suffix: &str, def: &str, gvk: &Value, verbs: &[&str]| {
        let mut m = serde_json::Map::new();
        let id = |verb: &str| format!("{verb}{prefix}{scope}{kind}{suffix}");
        if verbs.contains(&"get") {
            m.insert(
                "get".into(),
                op("get", &id("read"), &tag, vec![], None, def, gvk),
            );
        }
        if verbs.contains(&"update") {
            let params = query_params(WRITE_PARAMS);
            m.insert(
                "put".into(),
                op("put", &id("replace"), &tag, params, body_of(def), def, gvk),
            );
        }
        if verbs.contains(&"patch") {
            let params = patch_params.clone();
            m.insert(
                "patch".into(),
                op("patch", &id("patch"), &tag, params, patch_body(), def, gvk),
            );
        }
        m
    };

    let mut coll = serde_json::Map::new();
    if r.has_verb("list") {
        let id = format!("list{prefix}{scope}{kind}");
        let params = query_params(LIST_PARAMS);
        coll.insert(
            "get".into(),
            op("list", &id, &tag, params, None, &list_def, &gvk),
        );
    }
    if r.has_verb("create") {
        let id = format!("create{prefix}{scope}{kind}");
        let params = query_params(WRITE_PARAMS);
        coll.insert(
            "post".into(),
            op(
                "post",
                &id,
                &tag,
                params,
                body_of(&kind_def),
                &kind_def,
                &gvk,
            ),
        );
    }
    if r.has_verb("deletecollection") {
        let id = format!("deletecollection{prefix}{scope}{kind}");
        let params = query_params(LIST_PARAMS);
        let body = body_of(DELETE_OPTIONS);
        coll.insert(
            "delete".into(),
            op("deletecollection", &id, &tag, params, body, STATUS, &gvk),
        );
    }
    if !coll.is_empty() {
        coll.insert("parameters".into(), json!(path_params(r.namespaced, false)));
        out.insert(collection, Value::Object(coll));
    }

    let mut one = read_write("", &kind_def, &gvk, &r.verbs);
    if r.has_verb("delete") {
        let id = format!("delete{prefix}{scope}{kind}");
        let params = query_params(&["dryRun", "gracePeriodSeconds", "propagationPolicy"]);
        let body = body_of(DELETE_OPTIONS);
        one.insert(
            "delete".into(),
            op("delete", &id, &tag, params, body, STATUS, &gvk),
        );
    }
    if !one.is_empty() {
        one.insert("parameters".into(), json!(path_params(r.namespaced, true)));
        out.insert(item.clone(), Value::Object(one));
    }

    let subresources = [
        (
            r.status_subresource,
            "status",
            "Status",
            kind_def.clone(),
            gvk.clone(),
        ),
        (
            r.scale_subresource,
            "scale",
            "Scale",
            schemas::SCALE.to_string(),
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
        ),
    ];
    for (served, segment, suffix, def, gvk) in subresources {
        if served {
            let mut sub = read_write(suffix, &def, &gvk, &["get", "update", "patch"]);
            sub.insert("parameters".into(), json!(path_params(r.namespaced, true)));
            out.insert(format!("{item}/{segment}"), Value::Object(sub));
        }
    }

    if r.namespaced && r.has_verb("list") {
        let id = format!("list{prefix}{kind}ForAllNamespaces");
        let params = query_params(LIST_PARAMS);
        out.insert(
            format!("{base}/{}", r.plural),
            json!({"get": op("list", &id, &tag, params, None, &list_def, &gvk)}),
        );
    }
}

/// The definitions a set of resources' operations need: their kinds, lists and the meta
/// types.
fn roots(resources: &[&ResourceInfo]) -> Vec<String> {
    let mut roots: Vec<String> = META_ROOTS.iter().map(|s| s.to_string()).collect();
    for r in resources {
        roots.push(schemas::kind_name(r));
        if r.has_verb("list") {
            roots.push(schemas::list_name(r));
        }
        if r.scale_subresource {
            roots.push(schemas::SCALE.to_string());
        }
    }
    roots
}

/// `info` of every document.
fn info() -> Value {
    json!({"title": "Kubernetes", "version": crate::version::GIT_VERSION})
}

/// A v3 document; fields in the (sorted) order the JSON has.
#[derive(Serialize)]
struct V3Doc<'a> {
    components: Components<'a>,
    info: Value,
    openapi: &'static str,
    paths: BTreeMap<String, Value>,
}

#[derive(Serialize)]
struct Components<'a> {
    schemas: Schemas<'a>,
}

/// The Swagger 2.0 document; fields in sorted order.
#[derive(Serialize)]
struct V2Doc<'a> {
    definitions: Schemas<'a>,
    info: Value,
    paths: BTreeMap<String, Value>,
    swagger: &'static str,
}

/// Serializes a document. Writing JSON to memory fails only on a non-string map key,
/// which these documents do not have; an empty object stands in if it ever did.
fn to_json(doc: &impl Serialize) -> Bytes {
    match serde_json::to_vec(doc) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            tracing::error!("serializing an OpenAPI document: {e}");
            Bytes::from_static(b"{}")
        }
    }
}

/// The v3 document of one group-version.
fn group_version_doc(defs: &Rendered, resources: &[&ResourceInfo]) -> Bytes {
    let mut paths = BTreeMap::new();
    for r in resources {
        paths_for(r, &mut paths);
    }
    let roots = roots(resources);
    let names = defs.closure(roots.iter().map(String::as_str));
    to_json(&V3Doc {
        components: Components {
            schemas: defs.schemas(&names),
        },
        info: info(),
        openapi: "3.0.0",
        paths,
    })
}

fn doc_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash_of(bytes: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("{:016X}", h.finish())
}

/// `/openapi/v3`: where each group-version document lives. The hash is of the document's
/// bytes, so clients that cache by URL refetch exactly when the document changes.
fn index(docs: &BTreeMap<String, (String, Bytes)>) -> Value {
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

/// An OpenAPI 3 operation or path item rewritten in Swagger 2.0 terms: parameter schemas
/// inlined, the request body as a `body` parameter, references to `#/definitions/`.
fn to_v2(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        let body = o.remove("requestBody").and_then(|b| {
            let content = b.get("content")?.as_object()?;
            let schema = content
                .get("application/json")
                .or_else(|| content.values().next())?
                .get("schema")?
                .clone();
            Some(json!({"name": "body", "in": "body", "required": true, "schema": schema}))
        });
        if let Some(Value::Object(rs)) = o.get_mut("responses") {
            for resp in rs.values_mut() {
                let schema = resp.pointer("/content/application~1json/schema").cloned();
                let mut out =
                    json!({"description": resp.get("description").cloned().unwrap_or(json!("OK"))});
                if let Some(s) = schema {
                    out["schema"] = s;
                }
                *resp = out;
            }
        }
        if let Some(Value::Array(ps)) = o.get_mut("parameters") {
            for p in ps.iter_mut() {
                if let Some(t) = p["schema"]["type"].as_str().map(str::to_string) {
                    p["type"] = json!(t);
                    if let Some(po) = p.as_object_mut() {
                        po.remove("schema");
                    }
                }
            }
            if let Some(b) = body {
                ps.push(b);
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

/// Rewrites `#/components/schemas/` references (in paths) to `#/definitions/`.
fn v2_refs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                match child {
                    Value::String(r) if k == "$ref" => {
                        if let Some(name) = r.strip_prefix(V3_PREFIX) {
                            *r = format!("{V2_PREFIX}{name}");
                        }
                    }
                    _ => v2_refs(child),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(v2_refs),
        _ => {}
    }
}

/// `/openapi/v2` (JSON): the same paths as one Swagger 2.0 document, for clients that fall
/// back to it.
fn v2_doc(defs: &Rendered, resources: &[&ResourceInfo]) -> Bytes {
    let mut v3 = BTreeMap::new();
    for r in resources {
        paths_for(r, &mut v3);
    }
    let mut paths: BTreeMap<String, Value> = v3.into_iter().map(|(k, v)| (k, to_v2(&v))).collect();
    for p in paths.values_mut() {
        v2_refs(p);
    }
    let roots = roots(resources);
    let names = defs.closure(roots.iter().map(String::as_str));
    to_json(&V2Doc {
        definitions: defs.schemas(&names),
        info: info(),
        paths,
        swagger: "2.0",
    })
}

/// The rendered v3 documents: the index and each group-version's (hash, bytes).
struct V3 {
    index: Bytes,
    docs: BTreeMap<String, (String, Bytes)>,
}

/// The OpenAPI documents of a set of resources, built on first request.
pub struct OpenApi {
    /// By group-version document key, in discovery order within each.
    by_doc: BTreeMap<String, Vec<ResourceInfo>>,
    v3: OnceLock<V3>,
    v2: OnceLock<Bytes>,
    v2_protobuf: OnceLock<Bytes>,
}

impl OpenApi {
    /// Cheap: records the resources; nothing is generated until asked for.
    pub fn new(g: &Groups<'_>) -> OpenApi {
        let mut by_doc = BTreeMap::new();
        for (group, versions) in &g.by_group {
            for (version, rs) in versions {
                by_doc.insert(
                    doc_key(group, version),
                    rs.iter().map(|r| (*r).clone()).collect(),
                );
            }
        }
        OpenApi {
            by_doc,
            v3: OnceLock::new(),
            v2: OnceLock::new(),
            v2_protobuf: OnceLock::new(),
        }
    }

    fn all(&self) -> Vec<ResourceInfo> {
        self.by_doc.values().flatten().cloned().collect()
    }

    fn v3(&self) -> &V3 {
        self.v3.get_or_init(|| {
            let started = Instant::now();
            let defs = Catalog::build(&self.all()).render(false);
            let mut docs = BTreeMap::new();
            for (key, rs) in &self.by_doc {
                let rs: Vec<&ResourceInfo> = rs.iter().collect();
                let bytes = group_version_doc(&defs, &rs);
                docs.insert(key.clone(), (hash_of(&bytes), bytes));
            }
            let index = Bytes::from(index(&docs).to_string());
            tracing::debug!(
                "built {} OpenAPI v3 documents ({} bytes) in {:?}",
                docs.len(),
                docs.values().map(|(_, b)| b.len()).sum::<usize>(),
                started.elapsed()
            );
            V3 { index, docs }
        })
    }

    /// `/openapi/v3`.
    pub fn index(&self) -> Bytes {
        self.v3().index.clone()
    }

    /// `/openapi/v3/<key>` (`api/v1`, `apis/apps/v1`).
    pub fn document(&self, key: &str) -> Option<Bytes> {
        self.v3().docs.get(key).map(|(_, b)| b.clone())
    }

    /// `/openapi/v2` as JSON.
    pub fn v2(&self) -> Bytes {
        self.v2
            .get_or_init(|| {
                let started = Instant::now();
                let all = self.all();
                let defs = Catalog::build(&all).render(true);
                let rs: Vec<&ResourceInfo> = all.iter().collect();
                let bytes = v2_doc(&defs, &rs);
                tracing::debug!(
                    "built the OpenAPI v2 document ({} bytes) in {:?}",
                    bytes.len(),
                    started.elapsed()
                );
                bytes
            })
            .clone()
    }

    /// `/openapi/v2` in gnostic's protobuf form, encoded from the JSON document.
    pub fn v2_protobuf(&self) -> Bytes {
        self.v2_protobuf
            .get_or_init(|| {
                // Our own document: it parses; should it not, an empty Document is sent.
                let doc: Value = serde_json::from_slice(&self.v2()).unwrap_or_default();
                Bytes::from(proto::document(&doc))
            })
            .clone()
    }
}

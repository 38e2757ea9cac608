//! One HTTP handler for the whole API: route → authenticate → decode → registry → encode.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::cacher::{CacheEvent, CachedObject, EventKind, Filter, WatchStart};
use crate::discovery;
use crate::encode::{self, Output};
use crate::openapi;
use crate::params::{ListParams, Query, Rv};
use crate::request::{self, ResourcePath, Route};
use crate::resource::ResourceInfo;
use crate::rest::{DeleteOptions, Deleted, Rest, WriteOptions};
use crate::status::{ApiError, ApiResult};
use crate::strategy::Part;
use crate::version;

pub type Body = BoxBody<Bytes, Infallible>;

/// Request bodies above this are refused with 413 (upstream's limit).
const MAX_BODY: usize = 3 * 1024 * 1024;
/// Watches without timeoutSeconds end after 30-60 minutes, as upstream's do.
const MIN_WATCH_TIMEOUT: u64 = 1800;
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    /// Empty for certificate users; the service account's uid for its tokens.
    pub uid: String,
    pub extra: std::collections::BTreeMap<String, Vec<String>>,
}

/// Everything the handler serves. Built-in resources are fixed at start; custom resources
/// come and go with their CustomResourceDefinitions, so the routing table and the
/// discovery documents are one immutable [`Registry`] swapped as a whole.
pub struct Api {
    builtin: Vec<Arc<ResourceInfo>>,
    builtin_rests: Vec<Arc<Rest>>,
    registry: std::sync::RwLock<Arc<Registry>>,
    pub(crate) store: Arc<dyn k8rs_storage::Storage>,
    namespaces: Arc<Rest>,
    server_address: String,
    pub ready: AtomicBool,
    /// Issues and checks service-account tokens; set once the signing key is loaded.
    pub tokens: std::sync::OnceLock<crate::sa_token::Tokens>,
}

/// What is served at one moment: routes and the documents describing them.
pub struct Registry {
    by_path: HashMap<(String, String, String), Arc<Rest>>,
    computed: HashMap<(String, String, String), Arc<ResourceInfo>>,
    /// Custom resources' REST storage, by CRD name.
    pub custom: HashMap<String, Vec<Arc<Rest>>>,
    docs: Docs,
}

/// Discovery and OpenAPI documents, rendered once per registry.
struct Docs {
    api_versions: Bytes,
    group_list: Bytes,
    groups: HashMap<String, Bytes>,
    resource_lists: HashMap<(String, String), Bytes>,
    aggregated: HashMap<(bool, &'static str), Bytes>,
    /// Built on first request.
    openapi: openapi::OpenApi,
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

impl Docs {
    fn new(resources: &[&ResourceInfo], server_address: &str) -> Docs {
        let g = discovery::groups(resources);
        let mut groups = HashMap::new();
        let mut resource_lists = HashMap::new();
        for (name, versions) in &g.by_group {
            if let Some(v) = discovery::group(&g, name) {
                groups.insert(name.to_string(), to_bytes(&v));
            }
            for version in versions.keys() {
                if let Some(v) = discovery::resource_list(&g, name, version) {
                    resource_lists.insert((name.to_string(), version.to_string()), to_bytes(&v));
                }
            }
        }
        let mut aggregated = HashMap::new();
        for legacy in [true, false] {
            for v in ["v2", "v2beta1"] {
                aggregated.insert((legacy, v), to_bytes(&discovery::aggregated(&g, legacy, v)));
            }
        }
        Docs {
            api_versions: to_bytes(&discovery::api_versions(server_address)),
            group_list: to_bytes(&discovery::group_list(&g)),
            groups,
            resource_lists,
            aggregated,
            openapi: openapi::OpenApi::new(&g),
        }
    }
}

fn path_of(info: &ResourceInfo) -> (String, String, String) {
    (
        info.group.clone(),
        info.version.clone(),
        info.plural.clone(),
    )
}

impl Api {
    /// `resources` is every built-in resource in table (discovery) order; `rests` binds the
    /// stored ones to storage.
    pub fn new(
        resources: &[Arc<ResourceInfo>],
        rests: Vec<Arc<Rest>>,
        store: Arc<dyn k8rs_storage::Storage>,
        server_address: &str,
    ) -> anyhow::Result<Api> {
        let namespaces = rests
            .iter()
            .find(|r| r.info.group.is_empty() && r.info.plural == "namespaces")
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("namespaces are not registered"))?;
        let api = Api {
            builtin: resources.to_vec(),
            builtin_rests: rests,
            registry: std::sync::RwLock::new(Arc::new(Registry {
                by_path: HashMap::new(),
                computed: HashMap::new(),
                custom: HashMap::new(),
                docs: Docs::new(&[], server_address),
            })),
            store,
            namespaces,
            server_address: server_address.to_string(),
            ready: AtomicBool::new(false),
            tokens: std::sync::OnceLock::new(),
        };
        api.set_custom(HashMap::new());
        Ok(api)
    }

    /// What is served now.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Serve exactly these custom resources (by CRD name) beside the built-in ones.
    /// Discovery and OpenAPI follow at once; the caller stops the watch caches of REST
    /// storage it no longer passes.
    pub fn set_custom(&self, custom: HashMap<String, Vec<Arc<Rest>>>) {
        let mut by_path: HashMap<_, _> = self
            .builtin_rests
            .iter()
            .map(|r| (path_of(&r.info), r.clone()))
            .collect();
        let mut names: Vec<&String> = custom.keys().collect();
        names.sort();
        let mut infos: Vec<&ResourceInfo> = self.builtin.iter().map(|r| r.as_ref()).collect();
        for name in names {
            for rest in &custom[name] {
                // A built-in resource is never shadowed by a custom one.
                by_path.entry(path_of(&rest.info)).or_insert_with(|| {
                    infos.push(rest.info.as_ref());
                    rest.clone()
                });
            }
        }
        let computed = self
            .builtin
            .iter()
            .filter(|r| r.virtual_kind.is_some())
            .map(|c| (path_of(c), c.clone()))
            .collect();
        let docs = Docs::new(&infos, &self.server_address);
        let next = Arc::new(Registry {
            by_path,
            computed,
            custom,
            docs,
        });
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = next;
    }

    pub fn rest(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Rest>> {
        self.registry()
            .by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Every stored resource served now, built-in and custom.
    pub fn rests(&self) -> Vec<Arc<Rest>> {
        self.registry().by_path.values().cloned().collect()
    }

    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        user: Option<User>,
    ) -> Response<Body> {
        // The body is read (bounded) before anything can answer, so every response,
        // errors included, reaches a client still sending: answering early makes HTTP/2
        // reset the stream and HTTP/1.1 close the connection under the client.
        let (parts, body) = req.into_parts();
        let body = match read_body(body).await {
            Ok(b) => b,
            Err(e) => return error_response(&e),
        };
        let req = Request::from_parts(parts, body);
        let path = req.uri().path().to_string();
        // Health and version endpoints answer with or without a trailing slash.
        let bare = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path.as_str()
        };
        if let Some(check) = bare
            .strip_prefix('/')
            .filter(|p| matches!(*p, "healthz" | "livez" | "readyz") || p.ends_with("/ping"))
        {
            let verbose = Query::parse(req.uri().query()).get("verbose").is_some();
            return self.health(check, verbose);
        }
        if bare == "/version" {
            return json_response(
                StatusCode::OK,
                to_bytes(&version::info()),
                "application/json",
            );
        }
        // A client certificate wins; otherwise a bearer token may authenticate.
        let user = match user {
            Some(u) => Some(u),
            None => match bearer_token(&req) {
                Some(token) => self
                    .authenticate_token(token, None)
                    .await
                    .ok()
                    .map(|(u, _)| u),
                None => None,
            },
        };
        let Some(user) = user else {
            return error_response(&ApiError::unauthorized());
        };
        match self.route(req, &path, &user).await {
            Ok(resp) => resp,
            Err(e) => error_response(&e),
        }
    }

    /// `/healthz`, `/livez`, `/readyz` (and `/<check>/ping`): `ok`, or with `?verbose` the
    /// list of checks, as upstream prints it.
    fn health(&self, check: &str, verbose: bool) -> Response<Body> {
        let endpoint = check.split('/').next().unwrap_or(check);
        let mut checks = vec![("ping", true), ("log", true), ("storage", true)];
        if endpoint == "readyz" {
            checks.push(("k8rs-bootstrap", self.ready.load(Ordering::Acquire)));
        }
        if check.ends_with("/ping") {
            checks.truncate(1);
        }
        let healthy = checks.iter().all(|(_, ok)| *ok);
        if !verbose && healthy {
            return text_owned(StatusCode::OK, "ok".to_string());
        }
        let mut out = String::new();
        for (name, ok) in &checks {
            if *ok {
                out.push_str(&format!("[+]{name} ok\n"));
            } else {
                out.push_str(&format!("[-]{name} failed: reason withheld\n"));
            }
        }
        let code = if healthy {
            out.push_str(&format!("{endpoint} check passed\n"));
            StatusCode::OK
        } else {
            out.push_str(&format!("{endpoint} check failed\n"));
            StatusCode::INTERNAL_SERVER_ERROR
        };
        text_owned(code, out)
    }

    async fn route(
        &self,
        req: Request<Bytes>,
        path: &str,
        user: &User,
    ) -> ApiResult<Response<Body>> {
        let accept = header_str(&req, header::ACCEPT);
        if let Some(rest) = path.strip_prefix("/openapi/") {
            return self.openapi(rest, accept.as_deref());
        }
        let json = |b: &Bytes| Ok(json_response(StatusCode::OK, b.clone(), "application/json"));
        if let Some(doc) = self.issuer_discovery(path) {
            return Ok(json_response(
                StatusCode::OK,
                to_bytes(&doc),
                "application/json",
            ));
        }
        match request::parse(path) {
            Route::Root { legacy } => {
                if let Some(v) = discovery::aggregated_version(accept.as_deref()) {
                    let ct = format!(
                        "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
                    );
                    let body = self
                        .registry()
                        .docs
                        .aggregated
                        .get(&(legacy, v))
                        .cloned()
                        .unwrap_or_default();
                    return Ok(json_response(StatusCode::OK, body, &ct));
                }
                let reg = self.registry();
                json(if legacy {
                    &reg.docs.api_versions
                } else {
                    &reg.docs.group_list
                })
            }
            Route::Group(g) => self
                .registry()
                .docs
                .groups
                .get(&g)
                .map_or(Err(ApiError::no_route()), json),
            Route::GroupVersion { group, version } => self
                .registry()
                .docs
                .resource_lists
                .get(&(group, version))
                .map_or(Err(ApiError::no_route()), json),
            Route::Resource(rp) => self.resource(req, rp, user).await,
            Route::NotFound => Err(ApiError::no_route()),
        }
    }

    fn openapi(&self, rest: &str, accept: Option<&str>) -> ApiResult<Response<Body>> {
        let reg = self.registry();
        match rest {
            "v3" | "v3/" => Ok(json_response(
                StatusCode::OK,
                reg.docs.openapi.index(),
                "application/json",
            )),
            "v2" => {
                // JSON or gnostic's protobuf, whichever the Accept header names first. The
                // protobuf type is asked for with `@v1.0` (client-go) or `.v1.0`; the answer
                // says `.v1.0`, as `@` is not valid in a media type Go's mime package parses.
                let a = accept.unwrap_or("*/*");
                let at = |m: &str| a.find(m).unwrap_or(usize::MAX);
                let json_at = at("application/json").min(at("*/*"));
                let pb_at = at("application/com.github.proto-openapi.spec.v2");
                if pb_at < json_at {
                    return Ok(json_response(
                        StatusCode::OK,
                        reg.docs.openapi.v2_protobuf(),
                        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                    ));
                }
                if json_at == usize::MAX {
                    return Err(ApiError::not_acceptable(a));
                }
                Ok(json_response(
                    StatusCode::OK,
                    reg.docs.openapi.v2(),
                    "application/json",
                ))
            }
            other => {
                let key = other.strip_prefix("v3/").ok_or_else(ApiError::no_route)?;
                let doc = reg
                    .docs
                    .openapi
                    .document(key)
                    .ok_or_else(ApiError::no_route)?;
                Ok(json_response(StatusCode::OK, doc, "application/json"))
            }
        }
    }

    async fn resource(
        &self,
        req: Request<Bytes>,
        rp: ResourcePath,
        user: &User,
    ) -> ApiResult<Response<Body>> {
        if let Some(info) = self
            .registry()
            .computed
            .get(&(rp.group.clone(), rp.version.clone(), rp.resource.clone()))
            .cloned()
        {
            return self.computed_resource(req, rp, &info, user).await;
        }
        let rest = self
            .rest(&rp.group, &rp.version, &rp.resource)
            .ok_or_else(ApiError::no_route)?;
        let info = rest.info.clone();
        // A namespaced object is addressed inside its namespace; a cluster-scoped one never is.
        if (info.namespaced && rp.namespace.is_none() && rp.name.is_some())
            || (!info.namespaced && rp.namespace.is_some())
        {
            return Err(ApiError::no_route());
        }
        let query = Query::parse(req.uri().query());
        let out = encode::negotiate(header_str(&req, header::ACCEPT).as_deref(), &query)?;
        let is_namespace = info.group.is_empty() && info.kind == "Namespace";
        let part = match rp.subresource.as_deref() {
            None => Part::Main,
            Some("status") if info.status_subresource => Part::Status,
            Some("ephemeralcontainers")
                if info.group.is_empty()
                    && info.kind == "Pod"
                    && rp.name.is_some()
                    && matches!(*req.method(), Method::GET | Method::PUT | Method::PATCH) =>
            {
                Part::EphemeralContainers
            }
            Some("finalize") if is_namespace && req.method() == Method::PUT => Part::Finalize,
            Some("approval")
                if info.group == "certificates.k8s.io" && req.method() != Method::POST =>
            {
                Part::Approval
            }
            Some("binding")
                if info.group.is_empty() && info.kind == "Pod" && req.method() == Method::POST =>
            {
                let name = rp.name.as_deref().ok_or_else(ApiError::no_route)?;
                let body = read_object(req, BINDING_TYPE).await?;
                let status = rest
                    .bind(rp.namespace.as_deref(), name, &body, query.dry_run()?)
                    .await?;
                return Ok(json_response(
                    StatusCode::CREATED,
                    to_bytes(&status),
                    "application/json",
                ));
            }
            Some("scale") if info.scale_subresource => {
                return self.scale(req, &rest, &rp, &query, out).await;
            }
            Some("eviction")
                if info.group.is_empty() && info.kind == "Pod" && req.method() == Method::POST =>
            {
                let name = rp.name.as_deref().ok_or_else(ApiError::no_route)?;
                let body = read_object(req, EVICTION_TYPE).await?;
                let ns = rp.namespace.as_deref().unwrap_or_default();
                let status = self.evict(&rest, ns, name, body, query.dry_run()?).await?;
                return Ok(json_response(
                    StatusCode::CREATED,
                    to_bytes(&status),
                    "application/json",
                ));
            }
            Some("token")
                if info.group.is_empty()
                    && info.kind == "ServiceAccount"
                    && req.method() == Method::POST =>
            {
                let name = rp.name.as_deref().ok_or_else(ApiError::no_route)?;
                let body = read_object(req, TOKEN_REQUEST_TYPE).await?;
                let out = self
                    .token_request(&rest, rp.namespace.as_deref(), name, body)
                    .await?;
                return Ok(json_response(
                    StatusCode::CREATED,
                    to_bytes(&out),
                    "application/json",
                ));
            }
            Some(_) => return Err(ApiError::no_route()),
        };
        let ns = rp.namespace.as_deref();
        let method = req.method().clone();
        let verb_denied = |verb: &str| {
            ApiError::method_not_allowed(
                verb,
                &crate::status::Qualified {
                    group: &info.group,
                    plural: &info.plural,
                },
            )
        };
        match (&method, rp.name.as_deref()) {
            (&Method::GET, Some(name)) if rp.legacy_watch || query.flag("watch") => {
                let mut p = query.list_options(true)?;
                p.fields = crate::selector::FieldSelector::parse(&format!("metadata.name={name}"))
                    .map_err(ApiError::bad_request)?;
                self.watch(rest, ns, p, out).await
            }
            (&Method::GET, Some(name)) => {
                let v = rest.get(ns, name).await?;
                Ok(object_response(StatusCode::OK, out, Some(&info), &v, &[]))
            }
            (&Method::GET, None) => {
                let p = query.list_options(rp.legacy_watch)?;
                if p.watch {
                    return self.watch(rest, ns, p, out).await;
                }
                let page = rest.list(ns, &p).await?;
                let meta = encode::list_meta(
                    page.revision,
                    page.continue_token.as_deref(),
                    page.remaining,
                );
                Ok(json_response(
                    StatusCode::OK,
                    encode::list(out, &info, &page.items, meta),
                    encode::content_type(out),
                ))
            }
            (&Method::POST, None) => {
                if !info.has_verb("create") {
                    return Err(verb_denied("create"));
                }
                if info.custom.as_ref().is_some_and(|c| c.terminating) {
                    let mut e = verb_denied("create");
                    e.message =
                        "create not allowed while custom resource definition is terminating".into();
                    return Err(e);
                }
                let opts = write_options(&query, &req)?;
                let mut warnings = duplicate_fields(&req, &opts)?;
                let mut body = read_object(req, info.rust_type).await?;
                crate::strategy::stamp_requester(&info, &mut body, user);
                if let Some(ns) = ns {
                    rest.check_namespace(
                        &self.namespaces,
                        ns,
                        body["metadata"]["name"].as_str().unwrap_or_default(),
                    )
                    .await?;
                }
                warnings.extend(
                    crate::admission::admit_create(self, &info, ns, &mut body, opts.dry_run)
                        .await?,
                );
                let w = rest.create(ns, body, opts).await?;
                warnings.extend(w.warnings);
                Ok(object_response(
                    StatusCode::CREATED,
                    out,
                    Some(&info),
                    &w.object,
                    &warnings,
                ))
            }
            (&Method::PUT, Some(name)) => {
                let opts = write_options(&query, &req)?;
                let mut warnings = duplicate_fields(&req, &opts)?;
                let body = read_object(req, info.rust_type).await?;
                let w = rest.update(ns, name, body, part, opts).await?;
                warnings.extend(w.warnings);
                Ok(object_response(
                    StatusCode::OK,
                    out,
                    Some(&info),
                    &w.object,
                    &warnings,
                ))
            }
            (&Method::PATCH, Some(name)) => {
                let opts = write_options(&query, &req)?;
                let content_type = header_str(&req, header::CONTENT_TYPE).unwrap_or_default();
                let force = query.flag("force");
                let is_apply = crate::apply::is_apply_patch(&content_type);
                crate::apply::check_patch_options(is_apply, &opts.field_manager, force)?;
                if is_apply {
                    let mut warnings = duplicate_fields(&req, &opts)?;
                    let config = crate::apply::parse_config(&content_type, req.body())?;
                    let w = match rest
                        .apply(ns, name, config.clone(), part, opts, force)
                        .await
                    {
                        // Applying to a missing object creates it, as a create would.
                        Err(e)
                            if e.code == 404
                                && part == Part::Main
                                && e.name.as_deref() == Some(name) =>
                        {
                            if let Some(ns) = ns {
                                rest.check_namespace(&self.namespaces, ns, name).await?;
                            }
                            let manager = &opts.field_manager;
                            let mut obj =
                                crate::apply::apply(&info, None, &config, manager, part, force)?;
                            let admitted = crate::admission::admit_create(
                                self,
                                &info,
                                ns,
                                &mut obj,
                                opts.dry_run,
                            )
                            .await?;
                            warnings.extend(admitted);
                            rest.create_applied(ns, obj, opts).await?
                        }
                        r => r?,
                    };
                    warnings.extend(w.warnings);
                    let code = if w.created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    };
                    return Ok(object_response(
                        code,
                        out,
                        Some(&info),
                        &w.object,
                        &warnings,
                    ));
                }
                let raw = req.into_body();
                let patch = Patch::parse(&content_type, &raw, info.rust_type)?;
                let w = rest
                    .patch(ns, name, &|cur| patch.apply(cur), part, opts)
                    .await?;
                Ok(object_response(
                    StatusCode::OK,
                    out,
                    Some(&info),
                    &w.object,
                    &w.warnings,
                ))
            }
            (&Method::DELETE, Some(name)) => {
                let ct = header_str(&req, header::CONTENT_TYPE).unwrap_or_default();
                let opts = DeleteOptions::from_request(&ct, req.body(), &query)?;
                match rest.delete(ns, name, &opts).await? {
                    Deleted::Gone(status) => Ok(json_response(
                        StatusCode::OK,
                        to_bytes(&status),
                        "application/json",
                    )),
                    // Upstream answers 202 only when the client asked for cascading with
                    // the legacy orphanDependents=false and the object is still there.
                    Deleted::Pending(v) => {
                        let code = if opts.orphan_dependents == Some(false) {
                            StatusCode::ACCEPTED
                        } else {
                            StatusCode::OK
                        };
                        Ok(object_response(code, out, Some(&info), &v, &[]))
                    }
                }
            }
            (&Method::DELETE, None) => {
                let p = query.list_options(false)?;
                let ct = header_str(&req, header::CONTENT_TYPE).unwrap_or_default();
                let opts = DeleteOptions::from_request(&ct, req.body(), &query)?;
                let items = rest.delete_collection(ns, &p, &opts).await?;
                let list = json!({"kind": info.list_kind, "apiVersion": info.api_version(), "metadata": {}, "items": items});
                Ok(json_response(
                    StatusCode::OK,
                    to_bytes(&list),
                    "application/json",
                ))
            }
            (m, _) => Err(verb_denied(&m.as_str().to_ascii_lowercase())),
        }
    }

    /// `/scale`: a Scale view of a workload's replicas.
    async fn scale(
        &self,
        req: Request<Bytes>,
        rest: &Rest,
        rp: &ResourcePath,
        query: &Query,
        out: Output,
    ) -> ApiResult<Response<Body>> {
        let ns = rp.namespace.as_deref();
        let name = rp.name.as_deref().ok_or_else(ApiError::no_route)?;
        let dry_run = query.dry_run()?;
        let method = req.method().clone();
        let scale = match method {
            Method::GET => crate::scale::of_resource(&rest.info, &rest.get(ns, name).await?),
            Method::PUT => {
                let body = read_object(req, SCALE_TYPE).await?;
                rest.write_scale(ns, name, &|_| Ok(body.clone()), dry_run)
                    .await?
            }
            Method::PATCH => {
                let content_type = header_str(&req, header::CONTENT_TYPE).unwrap_or_default();
                let raw = req.into_body();
                let patch = Patch::parse(&content_type, &raw, SCALE_TYPE)?;
                rest.write_scale(ns, name, &|cur| patch.apply(cur), dry_run)
                    .await?
            }
            m => {
                return Err(ApiError::method_not_allowed(
                    &m.as_str().to_ascii_lowercase(),
                    &crate::status::Qualified {
                        group: &rest.info.group,
                        plural: &rest.info.plural,
                    },
                ))
            }
        };
        Ok(object_response(StatusCode::OK, out, None, &scale, &[]))
    }

    /// Reviews and component statuses: computed, never stored.
    async fn computed_resource(
        &self,
        req: Request<Bytes>,
        rp: ResourcePath,
        info: &ResourceInfo,
        user: &User,
    ) -> ApiResult<Response<Body>> {
        let kind = info.virtual_kind.ok_or_else(ApiError::no_route)?;
        if rp.subresource.is_some() || info.namespaced != rp.namespace.is_some() {
            return Err(ApiError::no_route());
        }
        let query = Query::parse(req.uri().query());
        let out = encode::negotiate(header_str(&req, header::ACCEPT).as_deref(), &query)?;
        let method = req.method().clone();
        match (&method, rp.name.as_deref()) {
            (&Method::POST, None) if info.has_verb("create") => {
                let body = read_object(req, info.rust_type).await?;
                let v =
                    crate::computed::create(self, kind, info, user, rp.namespace.as_deref(), body)
                        .await?;
                Ok(object_response(
                    StatusCode::CREATED,
                    out,
                    Some(info),
                    &v,
                    &[],
                ))
            }
            (&Method::GET, Some(name)) if info.has_verb("get") => {
                let v = crate::computed::get(self.store.as_ref(), name).await?;
                Ok(object_response(StatusCode::OK, out, Some(info), &v, &[]))
            }
            (&Method::GET, None) if info.has_verb("list") => {
                let v = crate::computed::list(self.store.as_ref()).await;
                Ok(json_response(
                    StatusCode::OK,
                    to_bytes(&v),
                    "application/json",
                ))
            }
            (m, _) => Err(ApiError::method_not_allowed(
                &m.as_str().to_ascii_lowercase(),
                &crate::status::Qualified {
                    group: &info.group,
                    plural: &info.plural,
                },
            )),
        }
    }

    /// A watch: the initial events, then live changes, as a chunked stream of JSON frames.
    async fn watch(
        &self,
        rest: Arc<Rest>,
        ns: Option<&str>,
        p: ListParams,
        out: Output,
    ) -> ApiResult<Response<Body>> {
        let filter = Filter {
            namespace: ns.map(str::to_string),
            labels: p.labels.clone(),
            fields: p.fields.clone(),
        };
        rest.check_fields(&p.fields)?;
        // Option combinations were validated with the query (upstream's ValidateListOptions).
        let watch_list = p.send_initial_events == Some(true);
        let start = match (p.send_initial_events, p.resource_version) {
            (Some(true), rv) => {
                match rv {
                    Rv::Unset => rest.cache.wait_fresh().await?,
                    Rv::At(x) => rest.cache.wait_for(x).await?,
                    Rv::Any => {}
                }
                WatchStart::Now
            }
            (Some(false), Rv::Unset) => {
                rest.cache.wait_fresh().await?;
                WatchStart::After(rest.cache.revision())
            }
            (_, Rv::Unset) | (_, Rv::Any) => WatchStart::Now,
            (_, Rv::At(x)) => WatchStart::After(x),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
        let sub = match rest.cache.subscribe(start).await {
            Ok(s) => s,
            Err(e) if e.code == 410 => {
                // Upstream answers 200 and an ERROR event carrying the 410 Status.
                let _ = tx.try_send(encode::frame("ERROR", &e.to_status()));
                drop(tx);
                return Ok(stream_response(rx, out));
            }
            Err(e) => return Err(e),
        };
        let timeout =
            Duration::from_secs(p.timeout_seconds.filter(|t| *t > 0).unwrap_or_else(|| {
                MIN_WATCH_TIMEOUT
                    + (uuid::Uuid::new_v4().as_u128() % MIN_WATCH_TIMEOUT as u128) as u64
            }));
        let info = rest.info.clone();
        let bookmarks = p.allow_bookmarks;
        tokio::spawn(async move {
            let mut sub = sub;
            let mut first = true;
            let send = |b: Bytes| tx.send(b);
            // JSON frames are encoded once per event and shared; other forms per watcher.
            let frame = |e: &CacheEvent, kind: EventKind, obj: &CachedObject, first: bool| match out
            {
                Output::Json => e.json_frame(kind),
                _ => encode::watch_event(out, Some(&rest.info), kind.as_str(), obj, first),
            };
            for e in &sub.initial {
                if let Some((kind, obj)) = filter.transform(e) {
                    if send(frame(e, kind, &obj, first)).await.is_err() {
                        return;
                    }
                    first = false;
                }
            }
            let mut last_rv = sub.revision;
            if watch_list && send(encode::bookmark(&info, last_rv, true)).await.is_err() {
                return;
            }
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut tick = tokio::time::interval(BOOKMARK_INTERVAL);
            tick.tick().await;
            loop {
                tokio::select! {
                    ev = sub.live.recv() => match ev {
                        Ok(e) => {
                            if e.rv <= last_rv {
                                continue;
                            }
                            last_rv = e.rv;
                            if let Some((kind, obj)) = filter.transform(&e) {
                                                                if send(frame(&e, kind, &obj, first)).await.is_err() {
                                    return;
                                }
                                first = false;
                            }
                        }
                        // Too slow: end the watch; the client resumes from its last
                        // resourceVersion (upstream closes unresponsive watchers too).
                        Err(RecvError::Lagged(n)) => {
                            tracing::info!(resource = %info.plural, ?out, fields = ?filter.fields.terms, labels = ?filter.labels, "closing a watcher {n} events behind");
                            return;
                        }
                        // The cache resynced: the client must resume or relist.
                        Err(RecvError::Closed) => return,
                    },
                    _ = tick.tick(), if bookmarks => {
                        if send(encode::bookmark(&info, last_rv, false)).await.is_err() {
                            return;
                        }
                    }
                    _ = &mut deadline => return,
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(stream_response(rx, out))
    }
}

fn write_options<B>(q: &Query, req: &Request<B>) -> ApiResult<WriteOptions> {
    let user_agent = header_str(req, header::USER_AGENT);
    Ok(WriteOptions {
        dry_run: q.dry_run()?,
        field_validation: q.field_validation()?,
        field_manager: crate::apply::FieldManager::from_request(
            q.get("fieldManager"),
            user_agent.as_deref(),
        )?,
    })
}

/// Duplicate keys in a JSON or YAML request body, by the request's field validation.
fn duplicate_fields(req: &Request<Bytes>, opts: &WriteOptions) -> ApiResult<Vec<String>> {
    let content_type = header_str(req, header::CONTENT_TYPE).unwrap_or_default();
    crate::apply::duplicate_fields::check(&content_type, req.body(), opts.field_validation)
}

/// A parsed PATCH body.
enum Patch {
    Json(json_patch::Patch),
    Merge(Value),
    /// A strategic merge patch, with the k8s-openapi type whose schema drives it.
    Strategic(Value, &'static str),
}

impl Patch {
    fn parse(content_type: &str, raw: &[u8], rust_type: &'static str) -> ApiResult<Patch> {
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        let decode_err =
            |e: serde_json::Error| ApiError::bad_request(format!("error decoding patch: {e}"));
        match mime {
            "application/json-patch+json" => serde_json::from_slice(raw).map(Patch::Json).map_err(decode_err),
            "application/merge-patch+json" => serde_json::from_slice(raw).map(Patch::Merge).map_err(decode_err),
            // Types without patch metadata (custom resources) answer 415, as upstream.
            crate::patch::STRATEGIC_MERGE_PATCH if crate::patch::supports_strategic(rust_type) => {
                serde_json::from_slice(raw).map(|v| Patch::Strategic(v, rust_type)).map_err(decode_err)
            }
            other => Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other})"),
            )),
        }
    }

    fn apply(&self, current: &Value) -> ApiResult<Value> {
        let mut doc = current.clone();
        match self {
            Patch::Json(p) => {
                json_patch::patch(&mut doc, p)
                    .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?;
            }
            Patch::Merge(p) => json_patch::merge(&mut doc, p),
            Patch::Strategic(p, rust_type) => {
                return crate::patch::apply_strategic(rust_type, current, p).map_err(|e| {
                    let reason = match e.code() {
                        400 => "BadRequest",
                        415 => "UnsupportedMediaType",
                        _ => "Invalid",
                    };
                    ApiError::new(e.code(), reason, e.to_string())
                });
            }
        }
        Ok(doc)
    }
}

fn header_str<B>(req: &Request<B>, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// An oversized body is still read (and discarded) up to this much more, so the client
/// finishes sending and reads the 413 instead of a connection reset.
const DRAIN_MAX: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

async fn read_body(mut body: Incoming) -> ApiResult<Bytes> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_BODY {
                let _ = tokio::time::timeout(DRAIN_TIME, drain(&mut body, DRAIN_MAX)).await;
                return Err(ApiError::too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

async fn drain(body: &mut Incoming, max: usize) {
    let mut seen = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > max {
                return;
            }
        }
    }
}

/// Read a JSON or YAML object body, checking the media type.
/// The k8s-openapi type of the `pods/eviction` subresource's body.
const EVICTION_TYPE: &str = "k8s_openapi::api::policy::v1::Eviction";

/// The k8s-openapi type of the `serviceaccounts/token` subresource's body.
const TOKEN_REQUEST_TYPE: &str = "k8s_openapi::api::authentication::v1::TokenRequest";

/// The token of an `Authorization: Bearer` header.
fn bearer_token(req: &Request<Bytes>) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The k8s-openapi type of the `pods/binding` subresource's body.
const BINDING_TYPE: &str = "k8s_openapi::api::core::v1::Binding";

/// The k8s-openapi type of the `/scale` subresource's body.
const SCALE_TYPE: &str = "k8s_openapi::api::autoscaling::v1::Scale";

async fn read_object(req: Request<Bytes>, rust_type: &str) -> ApiResult<Value> {
    let ct = header_str(&req, header::CONTENT_TYPE).unwrap_or_default();
    let mime = ct.split(';').next().unwrap_or_default().trim().to_string();
    let raw = req.into_body();
    let v: Value = match mime.as_str() {
        "" | "application/json" | "*/*" => serde_json::from_slice(&raw)
            .map_err(|e| ApiError::bad_request(format!("the object provided is unrecognized: couldn't get version/kind; json parse error: {e}")))?,
        "application/yaml" => serde_yaml::from_slice(&raw)
            .map_err(|e| ApiError::bad_request(format!("the object provided is unrecognized: yaml parse error: {e}")))?,
        // Custom resources have no protobuf form.
        crate::protobuf::CONTENT_TYPE if rust_type == crate::crd::custom::CUSTOM_TYPE => {
            return Err(ApiError::unsupported_media_type(&mime))
        }
        crate::protobuf::CONTENT_TYPE => crate::protobuf::decode_object(rust_type, &raw)
            .map_err(ApiError::bad_request)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the object provided is unrecognized: not a JSON object",
        ));
    }
    Ok(v)
}

fn full(b: Bytes) -> Body {
    Full::new(b).boxed()
}

fn text_owned(code: StatusCode, s: String) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from(s)));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json_response(code: StatusCode, body: Bytes, content_type: &str) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = code;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn object_response(
    code: StatusCode,
    out: Output,
    info: Option<&ResourceInfo>,
    v: &Value,
    warnings: &[String],
) -> Response<Body> {
    let mut r = json_response(
        code,
        encode::object(out, info, v),
        encode::content_type(out),
    );
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(h) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            r.headers_mut().append(header::WARNING, h);
        }
    }
    r
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_response(code, to_bytes(&e.to_status()), "application/json");
    if let Some(s) = e.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

fn stream_response(rx: tokio::sync::mpsc::Receiver<Bytes>, out: Output) -> Response<Body> {
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encode::content_type(out)),
    );
    r
}

//! The generic REST operations, shared by every resource: create, get, list, update, patch,
//! delete, deletecollection. Per-resource behaviour comes from [`ResourceInfo`] and
//! [`crate::strategy`]; nothing here names a resource.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use k8rs_storage::{ListOptions, Storage, StorageError};
use serde_json::{json, Value};

use crate::cacher::{CachedObject, Cacher, Filter};
use crate::defaults::ipalloc;
use crate::deletion::{self, Decision};
use crate::object::{self, meta_mut, meta_str};
use crate::params::{FieldValidation, ListParams, Rv, RvMatch};
use crate::resource::ResourceInfo;
use crate::status::{success_status, ApiError, ApiResult, Qualified};
use crate::strategy::{self, Part};
use crate::validation;

/// One resource bound to its storage and watch cache.
pub struct Rest {
    pub info: Arc<ResourceInfo>,
    pub store: Arc<dyn Storage>,
    pub cache: Arc<Cacher>,
    /// Admission for updates (set once the API exists; it looks objects up through it).
    pub update_admission: std::sync::OnceLock<std::sync::Weak<dyn UpdateAdmission>>,
}

/// Admission plugins that see an update's old and new object.
#[async_trait::async_trait]
pub trait UpdateAdmission: Send + Sync {
    /// Warnings for the response, or the error refusing the update.
    async fn admit_update(
        &self,
        info: &ResourceInfo,
        ns: Option<&str>,
        old: &Value,
        new: &Value,
        part: Part,
        dry_run: bool,
    ) -> ApiResult<Vec<String>>;
}

/// Options every write carries.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    /// Who writes: recorded in `metadata.managedFields`.
    pub field_manager: crate::apply::FieldManager,
}

impl WriteOptions {
    /// The server's own writes (bootstrap, allocations, admission bookkeeping).
    pub fn internal() -> WriteOptions {
        WriteOptions {
            dry_run: false,
            field_validation: FieldValidation::Strict,
            field_manager: crate::apply::FieldManager::internal(),
        }
    }
}

/// How a write is recorded in the object's managedFields.
#[derive(Clone, Copy)]
enum Record<'a> {
    /// Not at all (the server's own changes, `/scale`, bindings).
    Nothing,
    /// As an Update by this manager.
    Update(&'a crate::apply::FieldManager),
    /// Already, by a server-side apply.
    Applied,
}

/// A successful write: the object and any warnings for the `Warning` header.
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
    pub created: bool,
}

/// A list page.
pub struct ListPage {
    pub items: Vec<Arc<CachedObject>>,
    pub revision: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Outcome of a delete.
pub enum Deleted {
    /// Removed now: answered with a `Status` (upstream's default).
    Gone(Value),
    /// Marked for deletion (finalizers pending): answered with the object.
    Pending(Value),
}

pub use crate::deletion::DeleteOptions;

/// Continue tokens: where the next page starts and the revision the list is read at, as
/// upstream encodes them (base64 JSON).
fn encode_continue(rv: u64, next_key_suffix: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": next_key_suffix});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    let bad = || ApiError::bad_request("continue key is not valid: invalid continue token");
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?.to_string();
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rv, start))
}

impl Rest {
    fn q(&self) -> Qualified<'_> {
        Qualified {
            group: &self.info.group,
            plural: &self.info.plural,
        }
    }

    fn storage_err(&self, e: StorageError, name: &str) -> ApiError {
        ApiError::from_storage(e, &self.q(), name)
    }

    fn decode_stored(&self, key: &str, value: &[u8], rv: u64) -> ApiResult<Value> {
        let v: Value = serde_json::from_slice(value)
            .map_err(|e| ApiError::internal(format!("decoding {key}: {e}")))?;
        let mut v = self.info.to_served(v);
        object::set_resource_version(&mut v, rv);
        Ok(v)
    }

    /// The stored form: converted to the storage version, without resourceVersion (the
    /// revision of the write is the resourceVersion).
    fn encode_for_storage(&self, obj: &Value) -> Bytes {
        let mut v = self.info.to_storage(obj.clone());
        object::clear_resource_version(&mut v);
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }

    pub async fn get(&self, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        let key = self.info.key(ns, name);
        match self.store.get(&key).await {
            Ok(Some(kv)) => self.decode_stored(&key, &kv.value, kv.mod_revision),
            Ok(None) => Err(ApiError::not_found(&self.q(), name)),
            Err(e) => Err(self.storage_err(e, name)),
        }
    }

    /// Type-check a request body, fill kind/apiVersion, apply field validation.
    fn decode_body(&self, mut obj: Value, opts: &WriteOptions) -> ApiResult<(Value, Vec<String>)> {
        let info = &self.info;
        let o = obj.as_object_mut().ok_or_else(|| {
            ApiError::bad_request("Object 'Kind' is missing in request body: not a JSON object")
        })?;
        let api_version = info.api_version();
        match o.get("kind").and_then(Value::as_str) {
            None | Some("") => {
                o.insert("kind".into(), json!(info.kind));
            }
            Some(k) if k == info.kind => {}
            Some(k) => {
                return Err(ApiError::bad_request(format!(
                    "the object provided is unrecognized (must be of type {}): kind {k:?} does not match",
                    info.kind
                )))
            }
        }
        match o.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {
                o.insert("apiVersion".into(), json!(api_version));
            }
            Some(v) if v == api_version => {}
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({api_version})"
                )))
            }
        }
        let (normalized, unknown) = info
            .schema
            .normalize(&obj)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))?;
        let unknown: Vec<String> = unknown
            .iter()
            .map(|p| format!("unknown field \"{}\"", p.trim_start_matches('.')))
            .collect();
        match opts.field_validation {
            FieldValidation::Strict if !unknown.is_empty() => Err(ApiError::bad_request(format!(
                "strict decoding error: {}",
                unknown.join(", ")
            ))),
            FieldValidation::Warn => Ok((normalized, unknown)),
            _ => Ok((normalized, Vec::new())),
        }
    }

    /// `old` is the stored object on update (custom resources ratchet schema errors
    /// against it).
    fn validate(&self, obj: &Value, old: Option<&Value>, name: &str) -> ApiResult<()> {
        let mut causes =
            validation::validate_object_meta(obj, self.info.name_rule, self.info.namespaced);
        causes.extend(strategy::validate(&self.info, obj, old));
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                &self.info.kind,
                &self.info.group,
                name,
                causes,
            ))
        }
    }

    /// The namespace must exist and not be terminating (upstream's NamespaceLifecycle).
    pub async fn check_namespace(&self, namespaces: &Rest, ns: &str, name: &str) -> ApiResult<()> {
        let key = namespaces.info.key(None, ns);
        let phase = match namespaces.cache.get(&key) {
            Some(o) => o
                .fields
                .iter()
                .find(|(f, _)| *f == "status.phase")
                .map(|(_, v)| v.clone()),
            None => match namespaces.store.get(&key).await {
                Ok(Some(kv)) => serde_json::from_slice::<Value>(&kv.value)
                    .ok()
                    .and_then(|v| v["status"]["phase"].as_str().map(str::to_string)),
                Ok(None) => {
                    return Err(ApiError::not_found(
                        &Qualified {
                            group: "",
                            plural: "namespaces",
                        },
                        ns,
                    ))
                }
                Err(e) => return Err(ApiError::internal(e.to_string())),
            },
        };
        if phase.as_deref() == Some("Terminating") {
            return Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                self.info.plural,
            )));
        }
        Ok(())
    }

    pub async fn create(
        &self,
        ns: Option<&str>,
        body: Value,
        opts: WriteOptions,
    ) -> ApiResult<Written> {
        self.create_as(ns, body, opts, true).await
    }

    /// Create; `record` says whether the write is recorded as an Update by the field
    /// manager (a server-side apply has recorded itself already).
    async fn create_as(
        &self,
        ns: Option<&str>,
        body: Value,
        opts: WriteOptions,
        record: bool,
    ) -> ApiResult<Written> {
        let (mut obj, warnings) = self.decode_body(body, &opts)?;
        let body_ns = meta_str(&obj, "namespace").to_string();
        let meta = meta_mut(&mut obj)
            .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        if self.info.namespaced {
            let ns = ns.unwrap_or_default();
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        if meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let generate = meta
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = if name.is_empty() && !generate.is_empty() {
            let n = format!("{generate}{}", object::generate_suffix());
            meta.insert("name".into(), json!(n));
            n
        } else {
            name
        };
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(k);
        }
        strategy::prepare_for_create(&self.info, &mut obj);
        if record {
            let manager = &opts.field_manager;
            crate::apply::record_update(&self.info, None, &mut obj, manager, Part::Main);
        }
        self.validate(&obj, None, &name)?;
        // Service IPs and node ports are taken before the write, given back if it fails.
        let claimed =
            ipalloc::claim(&*self.store, &self.info, &mut obj, None, opts.dry_run).await?;
        if opts.dry_run {
            claimed.rollback(&*self.store).await;
            // A dry run answers as the create would, AlreadyExists included.
            if let Ok(Some(_)) = self.store.get(&self.info.key(ns, &name)).await {
                return Err(ApiError::already_exists(&self.q(), &name));
            }
            return Ok(Written {
                object: obj,
                warnings,
                created: true,
            });
        }
        let key = self.info.key(ns, &name);
        let rv = match self.store.create(&key, self.encode_for_storage(&obj)).await {
            Ok(rv) => rv,
            Err(e) => {
                claimed.rollback(&*self.store).await;
                return Err(self.storage_err(e, &name));
            }
        };
        object::set_resource_version(&mut obj, rv);
        Ok(Written {
            object: obj,
            warnings,
            created: true,
        })
    }

    /// PUT of a whole object (or of its status).
    pub async fn update(
        &self,
        ns: Option<&str>,
        name: &str,
        body: Value,
        part: Part,
        opts: WriteOptions,
    ) -> ApiResult<Written> {
        let (obj, warnings) = self.decode_body(body, &opts)?;
        let body_name = meta_str(&obj, "name");
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if self.info.namespaced {
            let body_ns = meta_str(&obj, "namespace");
            if !body_ns.is_empty() && Some(body_ns) != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let precondition = object::resource_version(&obj).map_err(ApiError::bad_request)?;
        let mut w = self
            .read_modify_write_as(
                ns,
                name,
                precondition,
                opts.dry_run,
                |_| Ok(obj.clone()),
                part,
                Record::Update(&opts.field_manager),
            )
            .await?;
        w.warnings.splice(0..0, warnings);
        Ok(w)
    }

    /// PATCH: apply `patch` to the current object, then update as PUT does.
    pub async fn patch(
        &self,
        ns: Option<&str>,
        name: &str,
        apply: &(dyn Fn(&Value) -> ApiResult<Value> + Sync),
        part: Part,
        opts: WriteOptions,
    ) -> ApiResult<Written> {
        let warnings = std::sync::Mutex::new(Vec::new());
        let mut w = self
            .read_modify_write_as(
                ns,
                name,
                None,
                opts.dry_run,
                |current| {
                    let patched = apply(current)?;
                    if meta_str(&patched, "name") != name {
                        return Err(ApiError::bad_request(format!(
                        "the name of the object ({}) does not match the name on the URL ({name})",
                        meta_str(&patched, "name")
                    )));
                    }
                    // A patch that sets resourceVersion is a precondition on it.
                    let wanted =
                        object::resource_version(&patched).map_err(ApiError::bad_request)?;
                    if wanted.is_some()
                        && wanted != object::resource_version(current).ok().flatten()
                    {
                        return Err(ApiError::modified(&self.q(), name));
                    }
                    let (obj, warn) = self.decode_body(patched, &opts)?;
                    *warnings.lock().unwrap_or_else(|p| p.into_inner()) = warn;
                    Ok(obj)
                },
                part,
                Record::Update(&opts.field_manager),
            )
            .await?;
        w.warnings.splice(
            0..0,
            warnings.into_inner().unwrap_or_else(|p| p.into_inner()),
        );
        Ok(w)
    }

    /// Server-side apply of `config` (an applied configuration) by `opts.field_manager` to
    /// an existing object (404 if there is none: the caller creates it, through admission,
    /// with [`Self::create_applied`]). Conflicts with other managers' fields are a 409
    /// unless `force`.
    pub async fn apply(
        &self,
        ns: Option<&str>,
        name: &str,
        config: Value,
        part: Part,
        opts: WriteOptions,
        force: bool,
    ) -> ApiResult<Written> {
        let body_name = meta_str(&config, "name");
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let warnings = std::sync::Mutex::new(Vec::new());
        let updated = self
            .read_modify_write_as(
                ns,
                name,
                None,
                opts.dry_run,
                |current| {
                    let merged = crate::apply::apply(
                        &self.info,
                        Some(current),
                        &config,
                        &opts.field_manager,
                        part,
                        force,
                    )?;
                    let (obj, warn) = self.decode_body(merged, &opts)?;
                    *warnings.lock().unwrap_or_else(|p| p.into_inner()) = warn;
                    Ok(obj)
                },
                part,
                Record::Applied,
            )
            .await;
        let mut w = updated?;
        w.warnings.splice(
            0..0,
            warnings.into_inner().unwrap_or_else(|p| p.into_inner()),
        );
        Ok(w)
    }

    /// Create the object a server-side apply to a missing object computed (with its
    /// managedFields recorded already), after admission.
    pub async fn create_applied(
        &self,
        ns: Option<&str>,
        obj: Value,
        opts: WriteOptions,
    ) -> ApiResult<Written> {
        self.create_as(ns, obj, opts, false).await
    }

    /// Write the `/scale` subresource: `change` turns the current Scale into the requested
    /// one (a PUT body, or the Scale with a patch applied); its replicas become
    /// `spec.replicas`. Returns the resulting Scale.
    pub async fn write_scale(
        &self,
        ns: Option<&str>,
        name: &str,
        change: &(dyn Fn(&Value) -> ApiResult<Value> + Sync),
        dry_run: bool,
    ) -> ApiResult<Value> {
        let w = self
            .read_modify_write(
                ns,
                name,
                None,
                dry_run,
                |current| {
                    let requested = change(&crate::scale::of_resource(&self.info, current))?;
                    let wanted =
                        object::resource_version(&requested).map_err(ApiError::bad_request)?;
                    if wanted.is_some()
                        && wanted != object::resource_version(current).ok().flatten()
                    {
                        return Err(ApiError::modified(&self.q(), name));
                    }
                    let replicas =
                        crate::scale::requested_replicas(&requested).map_err(|causes| {
                            ApiError::invalid("Scale", "autoscaling", name, causes)
                        })?;
                    let mut obj = current.clone();
                    crate::scale::set_replicas(&self.info, &mut obj, replicas);
                    Ok(obj)
                },
                Part::Main,
            )
            .await?;
        Ok(crate::scale::of_resource(&self.info, &w.object))
    }

    /// `pods/binding`: assign an unassigned pod to the node a Binding names, setting
    /// `spec.nodeName` and the `PodScheduled` condition in one write (upstream's
    /// BindingREST). Answers the Status upstream answers.
    pub async fn bind(
        &self,
        ns: Option<&str>,
        name: &str,
        binding: &Value,
        dry_run: bool,
    ) -> ApiResult<Value> {
        let target = &binding["target"];
        let node = target["name"].as_str().unwrap_or_default().to_string();
        let mut causes = Vec::new();
        if !matches!(target["kind"].as_str(), None | Some("") | Some("Node")) {
            causes.push(crate::status::Cause::invalid_value(
                "target.kind",
                &target["kind"],
                "must be empty or 'Node'",
            ));
        }
        if node.is_empty() {
            causes.push(crate::status::Cause::required("target.name", ""));
        }
        let binding_name = meta_str(binding, "name");
        if binding_name != name {
            causes.push(crate::status::Cause::invalid(
                "metadata.name",
                binding_name,
                "must match the pod name",
            ));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid("Binding", "", name, causes));
        }
        let annotations = binding["metadata"]["annotations"].clone();
        self.read_modify_write(
            ns,
            name,
            None,
            dry_run,
            |current| {
                                let binding = Qualified { group: "", plural: "pods/binding" };
                if !current["metadata"]["deletionTimestamp"].is_null() {
                    return Err(ApiError::conflict(
                        &binding,
                        name,
                        &format!("pod {name} is being deleted, cannot be assigned to a host"),
                    ));
                }
                if let Some(assigned) = current["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                    return Err(ApiError::conflict(
                        &binding,
                        name,
                        &format!("pod {name} is already assigned to node \"{assigned}\""),
                    ));
                }
                let mut pod = current.clone();
                pod["spec"]["nodeName"] = json!(node);
                if let Some(a) = annotations.as_object() {
                    for (k, v) in a {
                        pod["metadata"]["annotations"][k] = v.clone();
                    }
                }
                let mut conditions: Vec<Value> = pod["status"]["conditions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c["type"] != "PodScheduled")
                    .collect();
                conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": object::now_rfc3339()}));
                pod["status"]["conditions"] = Value::Array(conditions);
                Ok(pod)
            },
            Part::Internal,
        )
        .await?;
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        )
    }

    /// Read the current object, compute the new one, write it with compare-and-swap; retry
    /// on a concurrent write unless the client pinned a resourceVersion.
    async fn read_modify_write(
        &self,
        ns: Option<&str>,
        name: &str,
        precondition: Option<u64>,
        dry_run: bool,
        compute: impl Fn(&Value) -> ApiResult<Value>,
        part: Part,
    ) -> ApiResult<Written> {
        self.read_modify_write_as(
            ns,
            name,
            precondition,
            dry_run,
            compute,
            part,
            Record::Nothing,
        )
        .await
    }

    /// [`Self::read_modify_write`], recording the write as an Update by `manager` in the
    /// object's managedFields when one is given.
    #[allow(clippy::too_many_arguments, reason = "the write plus who makes it")]
    async fn read_modify_write_as(
        &self,
        ns: Option<&str>,
        name: &str,
        precondition: Option<u64>,
        dry_run: bool,
        compute: impl Fn(&Value) -> ApiResult<Value>,
        part: Part,
        record: Record<'_>,
    ) -> ApiResult<Written> {
        let key = self.info.key(ns, name);
        loop {
            let kv = self
                .store
                .get(&key)
                .await
                .map_err(|e| self.storage_err(e, name))?
                .ok_or_else(|| ApiError::not_found(&self.q(), name))?;
            if precondition.is_some_and(|rv| rv != kv.mod_revision) {
                return Err(ApiError::modified(&self.q(), name));
            }
            let old = self.decode_stored(&key, &kv.value, kv.mod_revision)?;
            let requested = compute(&old)?;
            let requested_managed = match record {
                Record::Applied => requested["metadata"].get("managedFields").cloned(),
                _ => None,
            };
            let mut new = strategy::prepare_for_update(&self.info, &old, requested, part);
            match record {
                Record::Nothing => {}
                Record::Update(m) => {
                    crate::apply::record_update(&self.info, Some(&old), &mut new, m, part)
                }
                // A subresource's strategy starts from the stored object: the applied
                // managedFields are carried over.
                Record::Applied => {
                    if let Some(m) = meta_mut(&mut new) {
                        match requested_managed {
                            Some(f) => m.insert("managedFields".into(), f),
                            None => m.remove("managedFields"),
                        };
                    }
                }
            }
            object::set_resource_version(&mut new, kv.mod_revision);
            self.validate(&new, Some(&old), name)?;
            if let Some(causes) = strategy::validate_update(&self.info, &old, &new, part) {
                return Err(ApiError::invalid(
                    &self.info.kind,
                    &self.info.group,
                    name,
                    causes,
                ));
            }
            let admitted = match self.update_admission.get().and_then(|a| a.upgrade()) {
                Some(a) if new != old => {
                    a.admit_update(&self.info, ns, &old, &new, part, dry_run)
                        .await?
                }
                _ => Vec::new(),
            };
            let claimed =
                ipalloc::claim(&*self.store, &self.info, &mut new, Some(&old), dry_run).await?;
            if new == old || dry_run {
                claimed.rollback(&*self.store).await;
                // Nothing changed: no write, same resourceVersion (as upstream).
                return Ok(Written {
                    object: if new == old { old } else { new },
                    warnings: admitted.clone(),
                    created: false,
                });
            }
            // The last finalizer removed from an object being deleted: delete it now.
            if deletion::delete_during_update(&self.info, &old, &new) {
                claimed.rollback(&*self.store).await;
                return match self.store.delete(&key, Some(kv.mod_revision)).await {
                    Ok((rv, _)) => {
                        ipalloc::release(&*self.store, &self.info, &old).await;
                        object::set_resource_version(&mut new, rv);
                        Ok(Written {
                            object: new,
                            warnings: admitted.clone(),
                            created: false,
                        })
                    }
                    Err(StorageError::Conflict { .. }) if precondition.is_none() => continue,
                    Err(e) => Err(self.storage_err(e, name)),
                };
            }
            match self
                .store
                .update(&key, self.encode_for_storage(&new), kv.mod_revision)
                .await
            {
                Ok(rv) => {
                    ipalloc::release_unused(&*self.store, &self.info, &old, &new).await;
                    object::set_resource_version(&mut new, rv);
                    return Ok(Written {
                        object: new,
                        warnings: admitted.clone(),
                        created: false,
                    });
                }
                Err(e) => {
                    claimed.rollback(&*self.store).await;
                    match e {
                        StorageError::Conflict { .. } if precondition.is_none() => continue,
                        e => return Err(self.storage_err(e, name)),
                    }
                }
            }
        }
    }

    pub async fn delete(
        &self,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        let key = self.info.key(ns, name);
        loop {
            let kv = self
                .store
                .get(&key)
                .await
                .map_err(|e| self.storage_err(e, name))?
                .ok_or_else(|| ApiError::not_found(&self.q(), name))?;
            let obj = self.decode_stored(&key, &kv.value, kv.mod_revision)?;
            let uid = meta_str(&obj, "uid").to_string();
            if let Some(want) = &opts.precondition_uid {
                if *want != uid {
                    return Err(ApiError::conflict(
                        &self.q(),
                        name,
                        &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
                    ));
                }
            }
            if let Some(want) = opts.precondition_rv {
                if want != kv.mod_revision {
                    return Err(ApiError::conflict(
                        &self.q(),
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                            kv.mod_revision
                        ),
                    ));
                }
            }
            // Objects with finalizers (and pods given a grace period) are only marked;
            // whoever owns a finalizer removes it, the node confirms a pod's deletion.
            let decision = deletion::decide(&self.info, &obj, opts, chrono::Utc::now());
            if decision == Decision::Pending {
                return Ok(Deleted::Pending(obj));
            }
            if let Decision::Mark(mut marked) = decision {
                if opts.dry_run {
                    return Ok(Deleted::Pending(marked));
                }
                match self
                    .store
                    .update(&key, self.encode_for_storage(&marked), kv.mod_revision)
                    .await
                {
                    Ok(rv) => {
                        object::set_resource_version(&mut marked, rv);
                        return Ok(Deleted::Pending(marked));
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => return Err(self.storage_err(e, name)),
                }
            }
            if opts.dry_run {
                return Ok(Deleted::Gone(success_status(
                    name,
                    &self.info.group,
                    &self.info.plural,
                    &uid,
                )));
            }
            match self.store.delete(&key, Some(kv.mod_revision)).await {
                Ok(_) => {
                    ipalloc::release(&*self.store, &self.info, &obj).await;
                    return Ok(Deleted::Gone(success_status(
                        name,
                        &self.info.group,
                        &self.info.plural,
                        &uid,
                    )));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(self.storage_err(e, name)),
            }
        }
    }

    /// List with upstream's resourceVersion semantics. Served from the watch cache, except
    /// exact-revision reads and continuation pages, which read storage at their revision.
    pub async fn list(&self, ns: Option<&str>, p: &ListParams) -> ApiResult<ListPage> {
        let filter = Filter {
            namespace: ns.map(str::to_string),
            labels: p.labels.clone(),
            fields: p.fields.clone(),
        };
        self.check_fields(&p.fields)?;
        if let Some(token) = &p.continue_token {
            let (rv, start) = decode_continue(token)?;
            return self
                .list_from_storage(ns, &filter, rv, Some(start), p.limit)
                .await;
        }
        match (p.resource_version, p.rv_match) {
            (Rv::At(rv), Some(RvMatch::Exact)) => {
                return self.list_from_storage(ns, &filter, rv, None, p.limit).await
            }
            (Rv::At(rv), _) => self.cache.wait_for(rv).await?,
            (Rv::Unset, _) if !self.store.reliable_progress() => {
                let rv = self
                    .store
                    .current_revision()
                    .await
                    .map_err(|e| self.storage_err(e, ""))?;
                return self.list_from_storage(ns, &filter, rv, None, p.limit).await;
            }
            (Rv::Unset, _) => self.cache.wait_fresh().await?,
            (Rv::Any, _) => {}
        }
        let snap = self.cache.snapshot(&filter, p.limit);
        let (mut token, mut remaining) = (None, None);
        if let Some(next) = &snap.next {
            let prefix = self.info.list_prefix(None);
            let next = next.strip_prefix(&prefix).unwrap_or_default();
            token = Some(encode_continue(snap.revision, next));
            if filter.labels.is_empty() && filter.fields.is_empty() {
                remaining = Some(snap.remaining);
            }
        }
        let items = snap.items;
        Ok(ListPage {
            items,
            revision: snap.revision,
            continue_token: token,
            remaining,
        })
    }

    /// Unsupported field selectors are a 400, as upstream.
    pub fn check_fields(&self, fields: &crate::selector::FieldSelector) -> ApiResult<()> {
        for (f, _, _) in &fields.terms {
            let ok = f == "metadata.name"
                || (f == "metadata.namespace")
                || self.info.selectable_fields.iter().any(|(s, _)| s == f);
            if !ok {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {f}"
                )));
            }
        }
        Ok(())
    }

    async fn list_from_storage(
        &self,
        ns: Option<&str>,
        filter: &Filter,
        rv: u64,
        start: Option<String>,
        limit: usize,
    ) -> ApiResult<ListPage> {
        let prefix = self.info.list_prefix(ns);
        let root = self.info.list_prefix(None);
        let mut start_key = start.map(|s| format!("{root}{s}"));
        let mut items = Vec::new();
        let page = if limit == 0 { 0 } else { limit.max(64) };
        loop {
            let opts = ListOptions {
                revision: Some(rv),
                start_key: start_key.clone(),
                limit: (page > 0).then_some(page + 1),
                count_remaining: false,
            };
            let res = self
                .store
                .list(&prefix, opts)
                .await
                .map_err(|e| match e {
                    StorageError::Gone { .. } => ApiError::gone(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    ),
                    other => self.storage_err(other, ""),
                })?;
            let fetched = res.items.len();
            let mut next_start = None;
            for (i, kv) in res.items.into_iter().enumerate() {
                if page > 0 && i == page {
                    next_start = Some(kv.key);
                    break;
                }
                let o = CachedObject::decode(&self.info, &kv.key, &kv.value, kv.mod_revision)
                    .map_err(ApiError::internal)?;
                if filter.matches(&o) {
                    if limit > 0 && items.len() == limit {
                        let next = kv.key.strip_prefix(&root).unwrap_or_default().to_string();
                        return Ok(ListPage {
                            items,
                            revision: rv,
                            continue_token: Some(encode_continue(rv, &next)),
                            remaining: None,
                        });
                    }
                    items.push(Arc::new(o));
                }
            }
            match next_start {
                Some(k) if fetched > page => start_key = Some(k),
                _ => {
                    return Ok(ListPage {
                        items,
                        revision: rv,
                        continue_token: None,
                        remaining: None,
                    })
                }
            }
        }
    }

    pub async fn delete_collection(
        &self,
        ns: Option<&str>,
        p: &ListParams,
        opts: &DeleteOptions,
    ) -> ApiResult<Vec<Value>> {
        let all = ListParams {
            limit: 0,
            continue_token: None,
            ..p.clone()
        };
        let page = self.list(ns, &all).await?;
        let mut deleted = Vec::new();
        for o in page.items {
            let ns = (!o.namespace.is_empty()).then_some(o.namespace.as_str());
            match self.delete(ns, &o.name, opts).await {
                Ok(Deleted::Gone(_)) => deleted.push(o.value()),
                Ok(Deleted::Pending(v)) => deleted.push(v),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = encode_continue(42, "ns/name");
        assert_eq!(decode_continue(&t).unwrap(), (42, "ns/name".to_string()));
        assert!(decode_continue("!!!").is_err());
        let evil = base64::engine::general_purpose::URL_SAFE.encode(r#"{"rv":1,"start":"../x"}"#);
        assert!(decode_continue(&evil).is_err());
    }
}

//! The API server's own CRD controllers (upstream runs them inside kube-apiserver too):
//! naming (NamesAccepted), establishing (Established), serving each established CRD's
//! versions, and the finalizer that deletes a deleted CRD's objects before the CRD goes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::custom;
use super::definition;
use crate::cacher::{Cacher, Filter, WatchStart};
use crate::handler::Api;
use crate::params::ListParams;
use crate::resource::ResourceInfo;
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::status::ApiResult;
use crate::strategy::Part;

pub const GROUP: &str = "apiextensions.k8s.io";
pub const PLURAL: &str = "customresourcedefinitions";
/// Held by a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub fn is_crd(info: &ResourceInfo) -> bool {
    info.group == GROUP && info.kind == "CustomResourceDefinition"
}

/// The condition a CRD carries from its first delete on.
pub fn mark_terminating(crd: &mut Value) {
    definition::set_condition(
        crd,
        "Terminating",
        "True",
        "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
    );
}

/// What one CRD is served as, and what it was built from.
struct Served {
    fingerprint: String,
    rests: Vec<Arc<Rest>>,
}

/// The controllers' state: what is served now.
#[derive(Default)]
pub struct Registrar {
    served: HashMap<String, Served>,
}

impl Registrar {
    /// Bring serving and every CRD's status in line with the stored CRDs. Returns whether a
    /// CRD is still being cleaned up (and so wants another pass soon).
    pub async fn reconcile(&mut self, api: &Api) -> bool {
        let Some(crds_rest) = api.rest(GROUP, "v1", PLURAL) else {
            return false;
        };
        let snapshot = crds_rest.cache.snapshot(&Filter::default(), 0);
        let values: Vec<Value> = snapshot.items.iter().map(|o| o.value()).collect();
        let mut next: HashMap<String, Served> = HashMap::new();
        let mut changed = false;
        let mut cleaning = false;
        for (i, value) in values.iter().enumerate() {
            let Ok(crd) = serde_json::from_value::<CustomResourceDefinition>(value.clone()) else {
                continue;
            };
            let name = crd.metadata.name.clone().unwrap_or_default();
            let others: Vec<Value> = values
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && o["spec"]["group"] == value["spec"]["group"])
                .map(|(_, o)| o.clone())
                .collect();
            let accepted = definition::accepted_names(value, &others);
            if let Err(e) = self.write_status(&crds_rest, value, accepted.clone()).await {
                tracing::debug!("status of CRD {name}: {}", e.message);
            }
            let Ok(names) = accepted else { continue };
            let Ok(names) = serde_json::from_value(names.clone()) else {
                continue;
            };
            let fingerprint = format!(
                "{}/{}/{}/{names_json}",
                crd.metadata.uid.as_deref().unwrap_or_default(),
                crd.metadata.generation.unwrap_or_default(),
                custom::is_terminating(&crd),
                names_json = serde_json::to_string(&names).unwrap_or_default(),
            );
            let served = match self.served.remove(&name) {
                Some(s) if s.fingerprint == fingerprint => s,
                old => {
                    changed = true;
                    if let Some(old) = old {
                        stop(&old.rests);
                    }
                    let rests = crd
                        .spec
                        .versions
                        .iter()
                        .filter(|v| v.served)
                        .map(|v| {
                            let info = Arc::new(custom::resource_info(&crd, v, &names));
                            Arc::new(Rest {
                                cache: Cacher::start(api.store.clone(), info.clone()),
                                info,
                                store: api.store.clone(),
                                update_admission: Default::default(),
                            })
                        })
                        .collect();
                    Served { fingerprint, rests }
                }
            };
            if custom::is_terminating(&crd) {
                cleaning |= !self.clean_up(&crds_rest, &crd, &served.rests).await;
            }
            next.insert(name, served);
        }
        // CRDs that are gone.
        for old in self.served.values() {
            changed = true;
            stop(&old.rests);
        }
        self.served = next;
        if changed {
            api.set_custom(
                self.served
                    .iter()
                    .map(|(k, s)| (k.clone(), s.rests.clone()))
                    .collect(),
            );
        }
        cleaning
    }

    /// Keep `status` (accepted names, conditions, stored versions) as the controllers would
    /// set it; writes only when something changed.
    async fn write_status(
        &self,
        crds: &Rest,
        current: &Value,
        accepted: Result<Value, (String, String)>,
    ) -> ApiResult<()> {
        let mut want = current.clone();
        match &accepted {
            Ok(names) => {
                want["status"]["acceptedNames"] = names.clone();
                definition::set_condition(
                    &mut want,
                    "NamesAccepted",
                    "True",
                    "NoConflicts",
                    "no conflicts found",
                );
                definition::set_condition(
                    &mut want,
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                );
            }
            Err((reason, message)) => {
                definition::set_condition(&mut want, "NamesAccepted", "False", reason, message);
                let established = current["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Established" && c["status"] == "True");
                if !established {
                    definition::set_condition(
                        &mut want,
                        "Established",
                        "False",
                        "NotAccepted",
                        "not all names are accepted",
                    );
                }
            }
        }
        if want["status"]["acceptedNames"].is_null() {
            want["status"]["acceptedNames"] = json!({"plural": "", "kind": ""});
        }
        let storage = current["spec"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["storage"] == true)
            .and_then(|v| v["name"].as_str());
        if let Some(storage) = storage {
            let stored = &mut want["status"]["storedVersions"];
            if !stored.is_array() {
                *stored = json!([]);
            }
            if let Some(list) = stored.as_array_mut() {
                if !list.iter().any(|v| v == storage) {
                    list.push(json!(storage));
                }
            }
        }
        if want["status"] == current["status"] {
            return Ok(());
        }
        let name = current["metadata"]["name"].as_str().unwrap_or_default();
        let status = want["status"].clone();
        crds.patch(
            None,
            name,
            &|cur| {
                let mut v = cur.clone();
                v["status"] = status.clone();
                Ok(v)
            },
            Part::Status,
            WriteOptions::internal(),
        )
        .await
        .map(|_| ())
    }

    /// Delete every object of a deleted CRD; once none is left, release the CRD. Returns
    /// whether the CRD was released (or had nothing to wait for).
    async fn clean_up(
        &self,
        crds: &Rest,
        crd: &CustomResourceDefinition,
        rests: &[Arc<Rest>],
    ) -> bool {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let holds = crd
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == CLEANUP_FINALIZER));
        if !holds {
            return true;
        }
        if let Some(rest) = rests.first() {
            match rest
                .delete_collection(None, &ListParams::default(), &DeleteOptions::default())
                .await
            {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("deleting the objects of CRD {name}: {}", e.message);
                    return false;
                }
            }
            // Objects with finalizers of their own stay until their owners let go.
            match rest.list(None, &ListParams::default()).await {
                Ok(page) if page.items.is_empty() => {}
                Ok(_) => {
                    let _ = set_terminating(
                        crds,
                        &name,
                        "InstanceDeletionInProgress",
                        "CustomResource deletion is in progress",
                    )
                    .await;
                    return false;
                }
                Err(_) => return false,
            }
        }
        let released = crds
            .patch(
                None,
                &name,
                &|cur| {
                    let mut v = cur.clone();
                    let mut c = v.clone();
                    definition::set_condition(
                        &mut c,
                        "Terminating",
                        "False",
                        "InstanceDeletionCompleted",
                        "removed all instances",
                    );
                    v["status"] = c["status"].clone();
                    if let Some(f) = v["metadata"]["finalizers"].as_array_mut() {
                        f.retain(|f| f != CLEANUP_FINALIZER);
                    }
                    Ok(v)
                },
                Part::Internal,
                WriteOptions::internal(),
            )
            .await;
        match released {
            Ok(_) => true,
            Err(e) if e.code == 404 => true,
            Err(e) => {
                tracing::warn!("releasing CRD {name}: {}", e.message);
                false
            }
        }
    }
}

async fn set_terminating(crds: &Rest, name: &str, reason: &str, message: &str) -> ApiResult<()> {
    crds.patch(
        None,
        name,
        &|cur| {
            let mut v = cur.clone();
            definition::set_condition(&mut v, "Terminating", "True", reason, message);
            Ok(v)
        },
        Part::Status,
        WriteOptions::internal(),
    )
    .await
    .map(|_| ())
}

fn stop(rests: &[Arc<Rest>]) {
    for r in rests {
        r.cache.stop();
    }
}

/// Serve the CRDs stored now (before the server reports ready), then follow their changes.
pub async fn start(api: Arc<Api>) -> anyhow::Result<()> {
    let crds = api
        .rest(GROUP, "v1", PLURAL)
        .ok_or_else(|| anyhow::anyhow!("customresourcedefinitions are not registered"))?;
    let sub = crds
        .cache
        .subscribe(WatchStart::Now)
        .await
        .map_err(|e| anyhow::anyhow!("watching CRDs: {}", e.message))?;
    let mut registrar = Registrar::default();
    let mut cleaning = registrar.reconcile(&api).await;
    let mut live = sub.live;
    tokio::spawn(async move {
        loop {
            let wait = if cleaning {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(30)
            };
            match tokio::time::timeout(wait, live.recv()).await {
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) | Err(_) => {}
                Ok(Err(RecvError::Closed)) => {
                    // The cache resynced: follow it anew.
                    match crds.cache.subscribe(WatchStart::Now).await {
                        Ok(s) => live = s.live,
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            }
            // Batch a burst of events (a chart installing many CRDs) into one pass.
            while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(5), live.recv()).await
            {
            }
            cleaning = registrar.reconcile(&api).await;
        }
    });
    Ok(())
}

/// A CRD's own validation, its schemas' structural rules and CEL rules included (each
/// schema once, at the path upstream reports it: shared schemas under `spec.validation`).
pub fn validate_definition(crd: &Value) -> Vec<crate::status::Cause> {
    let mut causes = definition::validate(crd);
    for (path, schema) in definition::schema_paths(crd) {
        let Ok(schema) = serde_json::from_value(schema.clone()) else {
            continue;
        };
        causes.extend(super::structural::check_schema(&schema, &path));
        if let Err(c) = super::cel::Rules::compile(&schema, &path) {
            causes.extend(c);
        }
    }
    causes
}

/// The update rules of a CRD (its spec: status is the controllers').
pub fn validate_definition_update(old: &Value, new: &Value) -> Vec<crate::status::Cause> {
    definition::validate_update(old, new)
}

/// A CRD's defaults.
pub fn default_definition(crd: &mut Value) {
    definition::default(crd);
}

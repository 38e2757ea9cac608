//! The StatefulSet controller (upstream pkg/controller/statefulset): pods with stable
//! names `<set>-<ordinal>`, hostnames and claims `<template>-<set>-<ordinal>` (created
//! before their pod and, by default, kept after it), created in ordinal order and removed
//! from the highest ordinal down — one at a time under OrderedReady, all at once under
//! Parallel. Templates are kept as ControllerRevisions; RollingUpdate replaces pods from
//! the highest ordinal down to the partition, OnDelete when someone deletes them. The
//! status carries what `kubectl rollout status/history/undo` read.
//!
//! Every sync reads pods, claims and revisions with consistent lists, so a lagging watch
//! cannot make it create or delete twice (what upstream's expectations guard against).

mod identity;
mod plan;
mod revisions;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::{json, Value};

use crate::replicaset::selector_query;
use plan::{Revision, Step};

struct Ctx {
    client: Client,
    events: crate::events::Events,
}

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "statefulset-controller");
    Controller::new(
        Api::<StatefulSet>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches_shared_stream(pods, set_of)
    .run(reconcile, error_policy, Arc::new(Ctx { client, events }))
    .for_each(|res| async move {
        if let Err(e) = res {
            tracing::debug!("statefulset controller: {e}");
        }
    })
    .await;
    Ok(())
}

/// The set a pod wakes: its controller, or, for an orphan, the set its name says it
/// belongs to (so it gets adopted, as upstream's `getStatefulSetsForPod`).
fn set_of(pod: Arc<Pod>) -> Option<ObjectRef<StatefulSet>> {
    let ns = pod.namespace().unwrap_or_default();
    let parent = match pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
    {
        Some(c) if c.kind == "StatefulSet" && c.api_version.starts_with("apps/") => c.name.clone(),
        Some(_) => return None,
        None => identity::parent_and_ordinal(pod.metadata.name.as_deref()?)?
            .0
            .to_string(),
    };
    Some(ObjectRef::new(&parent).within(&ns))
}

fn error_policy(_s: Arc<StatefulSet>, _e: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// One sync's view of a set: the set at both revisions, and what it acts through.
struct Sync<'a> {
    ctx: &'a Ctx,
    set: &'a StatefulSet,
    /// The set with the current revision's template, for pods below the partition.
    current_set: StatefulSet,
    owner: OwnerReference,
    current: String,
    update: String,
    regarding: ObjectReference,
    pods: &'a [Pod],
    claims: &'a BTreeMap<String, PersistentVolumeClaim>,
}

impl Sync<'_> {
    fn pods_api(&self) -> Api<Pod> {
        Api::namespaced(
            self.ctx.client.clone(),
            &self.set.namespace().unwrap_or_default(),
        )
    }

    fn claims_api(&self) -> Api<PersistentVolumeClaim> {
        Api::namespaced(
            self.ctx.client.clone(),
            &self.set.namespace().unwrap_or_default(),
        )
    }

    async fn event(&self, warning: bool, reason: &str, action: &str, note: String) {
        self.ctx
            .events
            .publish(&self.regarding, warning, reason, action, note)
            .await;
    }

    /// Run one step; `Ok(false)` means stop this sync without an error (a claim that is
    /// being deleted, a pod that already exists).
    async fn execute(&self, step: &Step) -> Result<bool, kube::Error> {
        let set_name = self.set.name_any();
        match step {
            Step::Create { ordinal, revision } => {
                let (set, revision) = match revision {
                    Revision::Current => (&self.current_set, &self.current),
                    Revision::Update => (self.set, &self.update),
                };
                let pod = identity::new_pod(set, &self.owner, *ordinal, revision);
                let name = pod.name_any();
                if !self.create_claims(*ordinal, &name).await? {
                    return Ok(false);
                }
                match self.pods_api().create(&PostParams::default(), &pod).await {
                    Ok(_) => {
                        self.event(
                            false,
                            "SuccessfulCreate",
                            "Create",
                            format!("create Pod {name} in StatefulSet {set_name} successful"),
                        )
                        .await;
                        Ok(true)
                    }
                    // The old pod of that name is still on its way out.
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => {
                        self.event(
                            true,
                            "FailedCreate",
                            "Create",
                            format!(
                                "create Pod {name} in StatefulSet {set_name} failed error: {e}"
                            ),
                        )
                        .await;
                        Err(e)
                    }
                }
            }
            Step::CreateClaims { ordinal } => {
                let name = identity::pod_name(self.set, *ordinal);
                self.create_claims(*ordinal, &name).await
            }
            Step::FixIdentity { name } => {
                let Some(ordinal) = identity::parent_and_ordinal(name).map(|(_, o)| o) else {
                    return Ok(true);
                };
                let patch = json!({"metadata": {"labels": {
                    identity::POD_NAME_LABEL: name,
                    identity::POD_INDEX_LABEL: ordinal.to_string(),
                }}});
                let result = self
                    .pods_api()
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
                match result {
                    Ok(_) => {
                        self.event(
                            false,
                            "SuccessfulUpdate",
                            "Update",
                            format!("update Pod {name} in StatefulSet {set_name} successful"),
                        )
                        .await;
                        Ok(true)
                    }
                    Err(kube::Error::Api(e)) if e.code == 404 => Ok(true),
                    Err(e) => {
                        self.event(
                            true,
                            "FailedUpdate",
                            "Update",
                            format!(
                                "update Pod {name} in StatefulSet {set_name} failed error: {e}"
                            ),
                        )
                        .await;
                        Err(e)
                    }
                }
            }
            Step::FixClaimOwners { name } => self.fix_claim_owners(name).await.map(|_| true),
            Step::Delete { name, .. } => {
                let result = self
                    .ctx
                    .events
                    .delete(
                        &self.pods_api(),
                        name,
                        &DeleteParams::default(),
                        &self.regarding,
                        format!("delete Pod {name} in StatefulSet {set_name} successful"),
                    )
                    .await;
                if let Err(e) = &result {
                    self.event(
                        true,
                        "FailedDelete",
                        "Delete",
                        format!("delete Pod {name} in StatefulSet {set_name} failed error: {e}"),
                    )
                    .await;
                }
                result.map(|_| true)
            }
        }
    }

    /// Create the claims of the pod at `ordinal` that do not exist yet (upstream's
    /// `createPersistentVolumeClaims`); a claim still being deleted holds the pod back.
    async fn create_claims(&self, ordinal: i32, pod: &str) -> Result<bool, kube::Error> {
        let set_name = self.set.name_any();
        for claim in identity::claims_for(self.set, ordinal) {
            let claim_name = claim.name_any();
            if let Some(existing) = self.claims.get(&claim_name) {
                if existing.metadata.deletion_timestamp.is_some() {
                    tracing::debug!("pvc {claim_name} is being deleted");
                    return Ok(false);
                }
                continue;
            }
            match self
                .claims_api()
                .create(&PostParams::default(), &claim)
                .await
            {
                Ok(_) => {
                    self.event(
                        false,
                        "SuccessfulCreate",
                        "Create",
                        format!(
                            "create Claim {claim_name} Pod {pod} in StatefulSet {set_name} success"
                        ),
                    )
                    .await
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => {
                    self.event(
                        true,
                        "FailedCreate",
                        "Create",
                        format!(
                            "create Claim {claim_name} for Pod {pod} in StatefulSet {set_name} \
                             failed error: {e}"
                        ),
                    )
                    .await;
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    /// Give the pod's claims the owners the retention policy asks for.
    async fn fix_claim_owners(&self, name: &str) -> Result<(), kube::Error> {
        let Some(pod) = self.pods.iter().find(|p| p.name_any() == name) else {
            return Ok(());
        };
        let (Some(ordinal), Some(set_ref), Some(pod_ref)) = (
            identity::ordinal(pod),
            plan::owner_ref(self.set),
            plan::pod_owner_ref(pod),
        ) else {
            return Ok(());
        };
        for claim in identity::claims_for(self.set, ordinal) {
            let Some(existing) = self.claims.get(&claim.name_any()) else {
                continue;
            };
            let Some(owners) = identity::claim_owners(
                existing.owner_references(),
                self.set,
                &set_ref,
                &pod_ref,
                ordinal,
            ) else {
                continue;
            };
            let patch = json!({"metadata": {
                "ownerReferences": owners,
                "resourceVersion": existing.metadata.resource_version,
            }});
            match self
                .claims_api()
                .patch(
                    &existing.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Pods that belong to the set: controlled by it and named as its members, plus orphans
/// that match, adopted (upstream's `ClaimPods` with the `isMemberOf` filter).
async fn claim_pods(
    ctx: &Ctx,
    set: &StatefulSet,
    owner: &OwnerReference,
    query: &str,
) -> Result<Vec<Pod>, kube::Error> {
    let api = Api::<Pod>::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    crate::claim::claim_pods(&api, query, owner, |pod| identity::is_member(set, pod)).await
}

/// The status as upstream serializes it: zero counts and empty revisions are left out
/// (`omitempty`), so they are written as null to clear them in a merge patch.
fn status_value(
    set: &StatefulSet,
    counts: &plan::Counts,
    current: &str,
    update: &str,
    collisions: i32,
) -> Value {
    let omit_zero = |n: i32| if n == 0 { Value::Null } else { json!(n) };
    let omit_empty = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    json!({
        "observedGeneration": set.metadata.generation,
        "replicas": counts.replicas,
        "readyReplicas": omit_zero(counts.ready),
        "currentReplicas": omit_zero(counts.current),
        "updatedReplicas": omit_zero(counts.updated),
        "currentRevision": omit_empty(current),
        "updateRevision": omit_empty(update),
        "collisionCount": collisions,
        "availableReplicas": counts.available,
    })
}

/// Whether the set's status already says what `desired` does (absent and zero alike).
fn status_matches(set: &StatefulSet, desired: &Value) -> bool {
    let have = serde_json::to_value(set.status.as_ref()).unwrap_or(Value::Null);
    desired.as_object().into_iter().flatten().all(|(k, want)| {
        let got = have.get(k).cloned().unwrap_or(Value::Null);
        let zeroish = |v: &Value| v.is_null() || v == &json!(0) || v == &json!("");
        got == *want || (zeroish(&got) && zeroish(want))
    })
}

async fn reconcile(set: Arc<StatefulSet>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(owner) = set.controller_owner_ref(&()) else {
        return Ok(Action::await_change());
    };
    let ns = set.namespace().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let query = selector_query(&spec.selector);
    if query.is_empty() {
        // An empty selector would select every pod: validation refuses it upstream.
        return Ok(Action::await_change());
    }
    let pods = claim_pods(&ctx, &set, &owner, &query).await?;

    let mut revisions: Vec<ControllerRevision> =
        crate::history::list_owned(&ctx.client, &ns, &query, &owner.uid).await?;
    let (current, update, collisions) =
        revisions::resolve(&ctx.client, &set, &owner, &mut revisions).await?;

    let claims: BTreeMap<String, PersistentVolumeClaim> = if spec
        .volume_claim_templates
        .as_ref()
        .is_some_and(|t| !t.is_empty())
    {
        Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), &ns)
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(|c| (c.name_any(), c))
            .collect()
    } else {
        BTreeMap::new()
    };

    let plan = plan::plan(&plan::Input {
        set: &set,
        pods: &pods,
        claims: &claims,
        current: &current.name_any(),
        update: &update.name_any(),
        now: k8s_openapi::jiff::Timestamp::now(),
    });

    let mut current_set = (*set).clone();
    if let (Some(s), Some(template)) = (
        current_set.spec.as_mut(),
        crate::history::template_of(&current),
    ) {
        s.template = template;
    }
    let sync = Sync {
        ctx: &ctx,
        set: &set,
        current_set,
        owner,
        current: current.name_any(),
        update: update.name_any(),
        regarding: set.object_ref(&()),
        pods: &pods,
        claims: &claims,
    };
    let mut failure = None;
    for step in &plan.steps {
        match sync.execute(step).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }

    // A rolling update is complete once every pod is updated and ready
    // (upstream's `completeRollingUpdate`).
    let mut counts = plan.counts.clone();
    let mut current_name = current.name_any();
    if plan::rolling(&set) && counts.updated == counts.replicas && counts.ready == counts.replicas {
        counts.current = counts.updated;
        current_name = update.name_any();
    }
    let status = status_value(&set, &counts, &current_name, &update.name_any(), collisions);
    if !status_matches(&set, &status) {
        Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(
                &set.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": status })),
            )
            .await?;
    }

    let live = [current_name.as_str(), sync.update.as_str()];
    for old in revisions::surplus(&set, &revisions, &pods, &live) {
        revisions::delete(&ctx.client, old).await?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(match plan.recheck {
        Some(after) => Action::requeue(after),
        None if !plan.steps.is_empty() => Action::requeue(Duration::from_secs(2)),
        None => Action::await_change(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_leaves_out_zero_counts_as_upstream() {
        let set = StatefulSet::default();
        let counts = plan::Counts {
            replicas: 2,
            ready: 0,
            available: 0,
            current: 2,
            updated: 2,
        };
        let v = status_value(&set, &counts, "web-a", "web-a", 0);
        assert_eq!(v["readyReplicas"], Value::Null);
        assert_eq!(v["availableReplicas"], 0);
        assert_eq!(v["collisionCount"], 0);
        assert!(!status_matches(&set, &v));
        let with = StatefulSet {
            status: serde_json::from_value(json!({
                "replicas": 2, "currentReplicas": 2, "updatedReplicas": 2,
                "currentRevision": "web-a", "updateRevision": "web-a",
                "collisionCount": 0, "availableReplicas": 0
            }))
            .ok(),
            ..Default::default()
        };
        assert!(status_matches(&with, &v));
    }
}

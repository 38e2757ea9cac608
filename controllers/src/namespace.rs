//! The namespace controller: empties a namespace that is being deleted, then removes the
//! `kubernetes` finalizer through `/finalize` so the API server deletes it. It reports its
//! progress in upstream's `NamespaceDeletion*` / `Namespace*Remaining` conditions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

/// The finalizer this controller owns (`spec.finalizers`).
const FINALIZER: &str = "kubernetes";
/// How soon to look again while content remains.
const RECHECK: Duration = Duration::from_secs(2);

struct Ctx {
    client: Client,
}

pub async fn run(client: Client) -> anyhow::Result<()> {
    let namespaces = Api::<Namespace>::all(client.clone());
    Controller::new(namespaces, watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(Ctx { client }))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("namespace controller: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_ns: Arc<Namespace>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

fn has_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    if ns.metadata.deletion_timestamp.is_none() || !has_finalizer(&ns) {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let outcome = delete_content(&ctx.client, &name).await;
    let api = Api::<Namespace>::all(ctx.client.clone());
    let current = api.get(&name).await?;
    let conditions =
        outcome.conditions(current.status.as_ref().and_then(|s| s.conditions.as_ref()));
    let mut with_status = current.clone();
    let status = with_status.status.get_or_insert_with(Default::default);
    if status.conditions.as_ref() != Some(&conditions) {
        status.conditions = Some(conditions);
        with_status = api
            .replace_status(&name, &PostParams::default(), &with_status)
            .await?;
    }
    if !outcome.done() {
        return Ok(Action::requeue(RECHECK));
    }
    // Empty: hand the namespace back to the API server by dropping our finalizer.
    let mut finalized = with_status;
    if let Some(spec) = finalized.spec.as_mut() {
        if let Some(f) = spec.finalizers.as_mut() {
            f.retain(|x| x != FINALIZER);
        }
    }
    api.replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await?;
    tracing::info!(namespace = %name, "namespace emptied and finalized");
    Ok(Action::await_change())
}

/// What one pass of deleting a namespace's content found.
#[derive(Default)]
struct Outcome {
    discovery_failure: Option<String>,
    content_failures: Vec<String>,
    /// Remaining objects per resource (`configmaps`, `deployments.apps`).
    remaining: BTreeMap<String, usize>,
    /// Remaining objects per finalizer they carry.
    finalizers: BTreeMap<String, usize>,
}

impl Outcome {
    fn done(&self) -> bool {
        self.discovery_failure.is_none()
            && self.content_failures.is_empty()
            && self.remaining.is_empty()
    }

    /// Upstream's condition set, keeping transition times of unchanged conditions.
    fn conditions(&self, previous: Option<&Vec<NamespaceCondition>>) -> Vec<NamespaceCondition> {
        let cond = |type_: &str,
                    on: bool,
                    reason_on: &str,
                    reason_off: &str,
                    msg_on: String,
                    msg_off: &str| {
            let (status, reason, message) = if on {
                ("True", reason_on, msg_on)
            } else {
                ("False", reason_off, msg_off.to_string())
            };
            let unchanged = previous
                .into_iter()
                .flatten()
                .find(|c| c.type_ == type_ && c.status == status);
            NamespaceCondition {
                type_: type_.to_string(),
                status: status.to_string(),
                reason: Some(reason.to_string()),
                message: Some(message),
                last_transition_time: unchanged
                    .and_then(|c| c.last_transition_time.clone())
                    .or_else(|| Some(Time(jiff_now()))),
            }
        };
        let counts = |m: &BTreeMap<String, usize>, what: &str| {
            m.iter()
                .map(|(k, n)| format!("{k} {what} {n} resource instances"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![
            cond(
                "NamespaceDeletionDiscoveryFailure",
                self.discovery_failure.is_some(),
                "DiscoveryFailed",
                "ResourcesDiscovered",
                format!(
                    "Discovery failed for some groups: {}",
                    self.discovery_failure.clone().unwrap_or_default()
                ),
                "All resources successfully discovered",
            ),
            cond(
                "NamespaceDeletionGroupVersionParsingFailure",
                false,
                "GroupVersionParsingFailed",
                "ParsedGroupVersions",
                String::new(),
                "All legacy kube types successfully parsed",
            ),
            cond(
                "NamespaceDeletionContentFailure",
                !self.content_failures.is_empty(),
                "ContentDeletionFailed",
                "ContentDeleted",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    self.content_failures.len(),
                    self.content_failures.join(", ")
                ),
                "All content successfully deleted, may be waiting on finalization",
            ),
            cond(
                "NamespaceContentRemaining",
                !self.remaining.is_empty(),
                "SomeResourcesRemain",
                "ContentRemoved",
                format!(
                    "Some resources are remaining: {}",
                    counts(&self.remaining, "has")
                ),
                "All content successfully removed",
            ),
            cond(
                "NamespaceFinalizersRemaining",
                !self.finalizers.is_empty(),
                "SomeFinalizersRemain",
                "ContentHasNoFinalizers",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    counts(&self.finalizers, "in")
                ),
                "All content-preserving finalizers finished",
            ),
        ]
    }
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    // Whole seconds, as metav1.Time serializes.
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Delete every namespaced object in `ns` (all resources the server serves, custom ones
/// included) and count what is left.
async fn delete_content(client: &Client, ns: &str) -> Outcome {
    let mut out = Outcome::default();
    let discovery = match Discovery::new(client.clone()).run().await {
        Ok(d) => d,
        Err(e) => {
            out.discovery_failure = Some(e.to_string());
            return out;
        }
    };
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced || !caps.supports_operation(verbs::LIST) {
                continue;
            }
            let resource = if ar.group.is_empty() {
                ar.plural.clone()
            } else {
                format!("{}.{}", ar.plural, ar.group)
            };
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            if caps.supports_operation(verbs::DELETE_COLLECTION) {
                if let Err(e) = api
                    .delete_collection(&DeleteParams::background(), &ListParams::default())
                    .await
                {
                    out.content_failures.push(format!("{resource}: {e}"));
                    continue;
                }
            }
            match api.list_metadata(&ListParams::default()).await {
                Ok(list) => {
                    for item in &list.items {
                        if !caps.supports_operation(verbs::DELETE_COLLECTION) {
                            if let Err(e) = api
                                .delete(&item.name_any(), &DeleteParams::background())
                                .await
                            {
                                out.content_failures.push(format!("{resource}: {e}"));
                            }
                        }
                        *out.remaining.entry(resource.clone()).or_default() += 1;
                        for f in item.finalizers() {
                            *out.finalizers.entry(f.clone()).or_default() += 1;
                        }
                    }
                }
                Err(e) => out.content_failures.push(format!("{resource}: {e}")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_report_what_remains_and_keep_transition_times() {
        let mut o = Outcome::default();
        o.remaining.insert("configmaps".into(), 2);
        o.finalizers.insert("example.com/keep".into(), 1);
        let first = o.conditions(None);
        let remaining = first
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .unwrap();
        assert_eq!(remaining.status, "True");
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: configmaps has 2 resource instances")
        );
        let fin = first
            .iter()
            .find(|c| c.type_ == "NamespaceFinalizersRemaining")
            .unwrap();
        assert_eq!(fin.message.as_deref(), Some("Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances"));
        assert!(!o.done());
        let again = o.conditions(Some(&first));
        assert_eq!(again, first);
        assert!(Outcome::default().done());
    }
}

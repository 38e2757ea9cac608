//! The clusterrole-aggregation controller (upstream pkg/controller/clusterroleaggregation):
//! a ClusterRole with an `aggregationRule` gets, as its rules, the union of the rules of
//! every other ClusterRole its selectors match (in name order, duplicates dropped),
//! written by server-side apply as the field manager `clusterrole-aggregation-controller`.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

const FIELD_MANAGER: &str = "clusterrole-aggregation-controller";

pub async fn run(client: Client) -> anyhow::Result<()> {
    let api = Api::<ClusterRole>::all(client);
    let (store, writer) = reflector::store();
    let events = reflector::reflector(
        writer,
        watcher::watcher(api.clone(), watcher::Config::default()),
    );
    // Any change to any ClusterRole may change what an aggregated role selects, so every
    // batch of events re-syncs every aggregated role (upstream enqueues them all too).
    let mut batches = std::pin::pin!(events.ready_chunks(512));
    let mut synced = false;
    while let Some(batch) = batches.next().await {
        for event in &batch {
            match event {
                Ok(Event::InitDone) => synced = true,
                Ok(_) => {}
                Err(e) => tracing::debug!("clusterrole aggregation watch: {e}"),
            }
        }
        if synced {
            sync_all(&api, &store).await;
        }
    }
    Ok(())
}

async fn sync_all(api: &Api<ClusterRole>, store: &Store<ClusterRole>) {
    let roles = store.state();
    for role in roles.iter().filter(|r| r.aggregation_rule.is_some()) {
        let want = aggregate(role, roles.iter().map(|r| r.as_ref()));
        if same_rules(role.rules.as_deref().unwrap_or_default(), &want) {
            continue;
        }
        let body = serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": role.name_any()},
            "rules": want,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match api
            .patch(&role.name_any(), &params, &Patch::Apply(&body))
            .await
        {
            Ok(_) => tracing::debug!(role = %role.name_any(), "aggregated cluster role rules"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => tracing::warn!(role = %role.name_any(), "aggregating cluster role: {e}"),
        }
    }
}

/// The rules `role` aggregates from `all`: for each selector in turn, the matching roles
/// (other than itself) in name order, each rule once.
pub fn aggregate<'a>(
    role: &ClusterRole,
    all: impl Iterator<Item = &'a ClusterRole> + Clone,
) -> Vec<PolicyRule> {
    let mut rules: Vec<PolicyRule> = Vec::new();
    let Some(rule) = &role.aggregation_rule else {
        return rules;
    };
    for selector in rule.cluster_role_selectors.iter().flatten() {
        let mut matched: Vec<&ClusterRole> = all
            .clone()
            .filter(|r| r.name_any() != role.name_any() && selects(selector, r.labels()))
            .collect();
        matched.sort_by_key(|r| r.name_any());
        for r in matched {
            for rule in r.rules.iter().flatten() {
                if !rules.iter().any(|have| same_rule(have, rule)) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    rules
}

/// Whether a LabelSelector selects `labels`; the empty selector selects everything.
fn selects(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let empty = sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty());
    empty || crate::replicaset::selects(sel, labels)
}

/// Rules compared as upstream's semantic equality does: an absent list equals an empty one.
fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    fn list(v: &Option<Vec<String>>) -> &[String] {
        v.as_deref().unwrap_or_default()
    }
    a.verbs == b.verbs
        && list(&a.api_groups) == list(&b.api_groups)
        && list(&a.resources) == list(&b.resources)
        && list(&a.resource_names) == list(&b.resource_names)
        && list(&a.non_resource_urls) == list(&b.non_resource_urls)
}

fn same_rules(a: &[PolicyRule], b: &[PolicyRule]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_rule(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use kube::api::ObjectMeta;

    fn role(name: &str, labels: &[(&str, &str)], resources: &[&str]) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            rules: Some(
                resources
                    .iter()
                    .map(|r| PolicyRule {
                        api_groups: Some(vec![String::new()]),
                        resources: Some(vec![r.to_string()]),
                        verbs: vec!["get".into()],
                        ..Default::default()
                    })
                    .collect(),
            ),
            aggregation_rule: None,
        }
    }

    #[test]
    fn union_of_selected_roles_in_name_order_without_duplicates() {
        let label = ("rbac.authorization.k8s.io/aggregate-to-view", "true");
        let mut view = role("view", &[], &[]);
        view.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some([(label.0.to_string(), label.1.to_string())].into()),
                ..Default::default()
            }]),
        });
        let all = [
            view.clone(),
            role("z-extra", &[label], &["pods", "widgets"]),
            role("a-base", &[label], &["pods", "services"]),
            role("unrelated", &[], &["secrets"]),
        ];
        let rules = aggregate(&view, all.iter());
        let names: Vec<&str> = rules
            .iter()
            .map(|r| r.resources.as_ref().unwrap()[0].as_str())
            .collect();
        assert_eq!(names, ["pods", "services", "widgets"]);
        assert!(same_rules(&rules, &aggregate(&view, all.iter())));
        assert!(aggregate(&role("plain", &[], &[]), all.iter()).is_empty());
    }
}

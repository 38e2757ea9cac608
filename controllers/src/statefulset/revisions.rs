//! A StatefulSet's current and update revisions (upstream's `getStatefulSetRevisions` and
//! `truncateHistory`): the update revision is the ControllerRevision whose data equals the
//! set's template patch — the newest when unchanged, an older one renumbered when the
//! template went back to it (`kubectl rollout undo`), a new one otherwise; the current
//! revision is the one the status names, until a rollout completes.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use super::identity::REVISION_LABEL;
use crate::history;

/// Where the update revision comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum Selection {
    /// The newest revision already holds the template.
    Latest,
    /// An older revision holds it: renumber it as the newest.
    Renumber(usize),
    /// No revision holds it.
    Create,
}

/// Pick the update revision among `revisions` (sorted oldest first) for `data`.
pub fn select(revisions: &[ControllerRevision], data: &Value) -> Selection {
    let equal = revisions
        .iter()
        .rposition(|r| r.data.as_ref().map(|d| &d.0) == Some(data));
    match equal {
        Some(i) if i + 1 == revisions.len() => Selection::Latest,
        Some(i) => Selection::Renumber(i),
        None => Selection::Create,
    }
}

/// The revision name for a template: `<set>-<hash>`, the hash taking the collision
/// count so a name clash with different data finds a new name.
pub fn revision_name(set: &StatefulSet, data: &Value, collisions: i32) -> String {
    let mut prefix = set.name_any();
    // Upstream keeps room for the hash within a name's 253 characters.
    prefix.truncate(223);
    let hash = crate::deployment::template_hash(data, (collisions > 0).then_some(collisions));
    format!("{prefix}-{hash}")
}

/// The (current, update) revisions and the collision count, creating or renumbering the
/// update revision as needed. `revisions` is updated to include it.
pub async fn resolve(
    client: &Client,
    set: &StatefulSet,
    owner: &OwnerReference,
    revisions: &mut Vec<ControllerRevision>,
) -> Result<(ControllerRevision, ControllerRevision, i32), kube::Error> {
    let ns = set.namespace().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let data = history::template_patch(&spec.template);
    let mut collisions = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let next = history::next_revision(revisions);
    let update = match select(revisions, &data) {
        Selection::Latest => revisions[revisions.len() - 1].clone(),
        Selection::Renumber(i) => {
            let renumbered = history::renumber(client, &revisions[i], next).await?;
            revisions[i] = renumbered.clone();
            history::sort(revisions);
            renumbered
        }
        Selection::Create => {
            let api = Api::<ControllerRevision>::namespaced(client.clone(), &ns);
            let created = loop {
                let name = revision_name(set, &data, collisions);
                let hash = name
                    .rsplit_once('-')
                    .map(|(_, h)| h.to_string())
                    .unwrap_or_default();
                let mut labels = spec
                    .template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default();
                labels.insert(history::HASH_LABEL.into(), hash);
                let rev = ControllerRevision {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        labels: Some(labels),
                        // Upstream copies the set's annotations (kubectl's change-cause).
                        annotations: set.metadata.annotations.clone(),
                        owner_references: Some(vec![owner.clone()]),
                        ..Default::default()
                    },
                    data: Some(RawExtension(data.clone())),
                    revision: next,
                };
                match api.create(&PostParams::default(), &rev).await {
                    Ok(r) => break r,
                    Err(kube::Error::Api(e)) if e.code == 409 => {
                        let existing = api.get(&name).await?;
                        if existing.data.as_ref().map(|d| &d.0) == Some(&data) {
                            break existing;
                        }
                        collisions = collisions.saturating_add(1);
                    }
                    Err(e) => return Err(e),
                }
            };
            revisions.push(created.clone());
            created
        }
    };
    let current_name = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .unwrap_or_default();
    let current = revisions
        .iter()
        .find(|r| r.name_any() == current_name)
        .cloned()
        .unwrap_or_else(|| update.clone());
    Ok((current, update, collisions))
}

/// Revisions beyond `revisionHistoryLimit` that nothing uses, oldest first.
pub fn surplus<'a>(
    set: &StatefulSet,
    revisions: &'a [ControllerRevision],
    pods: &[Pod],
    live: &[&str],
) -> Vec<&'a ControllerRevision> {
    let mut in_use: BTreeSet<&str> = live.iter().copied().collect();
    for p in pods {
        if let Some(r) = p.labels().get(REVISION_LABEL) {
            in_use.insert(r);
        }
    }
    let old: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| !in_use.contains(r.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    if limit < 0 || old.len() <= limit as usize {
        return Vec::new();
    }
    old[..old.len() - limit as usize].to_vec()
}

pub async fn delete(client: &Client, revision: &ControllerRevision) -> Result<(), kube::Error> {
    let ns = revision.namespace().unwrap_or_default();
    match Api::<ControllerRevision>::namespaced(client.clone(), &ns)
        .delete(&revision.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetSpec;
    use serde_json::json;

    fn rev(name: &str, n: i64, data: Value) -> ControllerRevision {
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some(RawExtension(data)),
            revision: n,
        }
    }

    #[test]
    fn the_update_revision_is_found_by_its_data() {
        let revs = vec![
            rev("web-a", 1, json!({"v": 1})),
            rev("web-b", 2, json!({"v": 2})),
        ];
        assert_eq!(select(&revs, &json!({"v": 2})), Selection::Latest);
        // Back to an older template: that revision becomes the newest again.
        assert_eq!(select(&revs, &json!({"v": 1})), Selection::Renumber(0));
        assert_eq!(select(&revs, &json!({"v": 3})), Selection::Create);
        assert_eq!(select(&[], &json!({"v": 1})), Selection::Create);
    }

    #[test]
    fn collisions_change_the_name() {
        let set = StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let data = json!({"v": 1});
        let a = revision_name(&set, &data, 0);
        assert!(a.starts_with("web-"));
        assert_eq!(a, revision_name(&set, &data, 0));
        assert_ne!(a, revision_name(&set, &data, 1));
    }

    #[test]
    fn history_keeps_live_revisions_and_the_limit() {
        let set = StatefulSet {
            spec: Some(StatefulSetSpec {
                revision_history_limit: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        let revs = vec![
            rev("web-a", 1, json!(1)),
            rev("web-b", 2, json!(2)),
            rev("web-c", 3, json!(3)),
            rev("web-d", 4, json!(4)),
        ];
        let gone: Vec<String> = surplus(&set, &revs, &[], &["web-d"])
            .iter()
            .map(|r| r.name_any())
            .collect();
        assert_eq!(gone, ["web-a", "web-b"]);
    }
}

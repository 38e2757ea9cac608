//! ControllerRevisions, as upstream's pkg/controller/history: a workload's pod template
//! saved as the strategic merge patch that restores it (what `kubectl rollout history`
//! shows and `kubectl rollout undo` applies), numbered in the order templates were used.
//! Shared by the DaemonSet and StatefulSet controllers.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};

/// The label upstream's history package puts the revision hash under.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The patch that restores `template` onto its workload (upstream's `getPatch`): the
/// template replaces whatever the object has, rather than merging into it.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut data = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(map) = data.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": data}})
}

/// The template a revision restores, when its data is a template patch.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision
        .data
        .as_ref()?
        .0
        .get("spec")?
        .get("template")?
        .clone();
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// The revisions in `ns` that `selector` matches and the owner `uid` controls, oldest
/// first (upstream's `SortControllerRevisions`: by revision, then name).
pub async fn list_owned(
    client: &Client,
    ns: &str,
    selector: &str,
    uid: &str,
) -> Result<Vec<ControllerRevision>, kube::Error> {
    let api = Api::<ControllerRevision>::namespaced(client.clone(), ns);
    let mut revisions: Vec<ControllerRevision> = api
        .list(&ListParams::default().labels(selector))
        .await?
        .items
        .into_iter()
        .filter(|r| {
            r.owner_references()
                .iter()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect();
    sort(&mut revisions);
    Ok(revisions)
}

/// Oldest first: by revision number, then name.
pub fn sort(revisions: &mut [ControllerRevision]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// The number a new (or re-used) revision gets: one past the newest.
pub fn next_revision(revisions: &[ControllerRevision]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Renumber an existing revision (a template that returns to an old revision becomes the
/// newest again, as upstream's rollback).
pub async fn renumber(
    client: &Client,
    revision: &ControllerRevision,
    number: i64,
) -> Result<ControllerRevision, kube::Error> {
    let ns = revision.namespace().unwrap_or_default();
    Api::<ControllerRevision>::namespaced(client.clone(), &ns)
        .patch(
            &revision.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"revision": number})),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

    #[test]
    fn a_template_round_trips_through_its_patch() {
        let template = PodTemplateSpec {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("nginx:1".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let patch = template_patch(&template);
        assert_eq!(patch["spec"]["template"]["$patch"], "replace");
        let revision = ControllerRevision {
            data: Some(RawExtension(patch)),
            ..Default::default()
        };
        assert_eq!(template_of(&revision), Some(template));
    }

    #[test]
    fn revisions_sort_by_number_then_name() {
        let rev = |name: &str, n: i64| ControllerRevision {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            revision: n,
            ..Default::default()
        };
        let mut revs = vec![rev("b", 2), rev("c", 1), rev("a", 2)];
        sort(&mut revs);
        let names: Vec<_> = revs.iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert_eq!(next_revision(&revs), 3);
        assert_eq!(next_revision(&[]), 1);
    }
}

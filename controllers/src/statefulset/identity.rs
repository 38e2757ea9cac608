//! A StatefulSet pod's stable identity (upstream's stateful_set_utils.go): its name
//! `<set>-<ordinal>`, the labels that carry name and ordinal, hostname and subdomain from
//! the governing service, and the claims `<template>-<set>-<ordinal>` its volumes point at.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;
use kube::ResourceExt;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The parent name and ordinal in a pod name (upstream's `(.*)-([0-9]+)$`); `None` when
/// the name carries no ordinal that fits an int32.
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

/// A pod's ordinal, when its name has one.
pub fn ordinal(pod: &Pod) -> Option<i32> {
    parent_and_ordinal(pod.metadata.name.as_deref()?).map(|(_, o)| o)
}

/// Whether `pod` is named as a member of `set` (upstream's `isMemberOf`).
pub fn is_member(set: &StatefulSet, pod: &Pod) -> bool {
    pod.metadata
        .name
        .as_deref()
        .and_then(parent_and_ordinal)
        .is_some_and(|(parent, _)| parent == set.name_any())
}

pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

pub fn claim_name(template: &str, set: &StatefulSet, ordinal: i32) -> String {
    format!("{template}-{}-{ordinal}", set.name_any())
}

/// `.spec.ordinals.start`, 0 when unset.
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
        .max(0)
}

pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0)
}

/// Whether an ordinal is one the set currently wants (start ≤ ordinal < start + replicas).
pub fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && i64::from(ordinal) < i64::from(start) + i64::from(replicas(set))
}

/// Whether name, namespace and identity labels are the set's (upstream's
/// `identityMatches`); hostname and subdomain are immutable, so only set on creation.
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ord) = ordinal(pod) else {
        return false;
    };
    let name = pod_name(set, ord);
    let labels = pod.labels();
    is_member(set, pod)
        && pod.metadata.name.as_deref() == Some(name.as_str())
        && pod.metadata.namespace == set.metadata.namespace
        && labels.get(POD_NAME_LABEL) == Some(&name)
        && labels.get(POD_INDEX_LABEL) == Some(&ord.to_string())
}

/// Put the identity labels on `pod` (upstream's `updateIdentity`).
pub fn update_identity(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let name = pod_name(set, ordinal);
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    pod.metadata.name = Some(name);
    pod.metadata.namespace = set.metadata.namespace.clone();
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// Point the claim templates' volumes at the pod's claims, replacing template volumes of
/// the same name (upstream's `updateStorage`).
pub fn update_storage(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let templates = claim_templates(set);
    let spec = pod.spec.get_or_insert_with(Default::default);
    let mut volumes: Vec<Volume> = templates
        .iter()
        .map(|t| Volume {
            name: t.name_any(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&t.name_any(), set, ordinal),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    for v in spec.volumes.take().unwrap_or_default() {
        if !templates.iter().any(|t| t.name_any() == v.name) {
            volumes.push(v);
        }
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
}

/// A new member pod for `ordinal` from the set's (possibly historic) template, labelled
/// with its revision (upstream's `newStatefulSetPod` + `setPodRevision`).
pub fn new_pod(set: &StatefulSet, owner: &OwnerReference, ordinal: i32, revision: &str) -> Pod {
    let spec = set.spec.clone().unwrap_or_default();
    let meta = spec.template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut pod = Pod {
        metadata: ObjectMeta {
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        },
        spec: spec.template.spec,
        ..Default::default()
    };
    update_identity(set, &mut pod, ordinal);
    let pod_spec = pod.spec.get_or_insert_with(Default::default);
    // Immutable once created, so only set here (upstream's `initIdentity`).
    pod_spec.hostname = pod.metadata.name.clone();
    pod_spec.subdomain = spec.service_name.filter(|s| !s.is_empty());
    update_storage(set, &mut pod, ordinal);
    pod
}

/// The claims `pod` needs, from the set's templates (upstream's
/// `getPersistentVolumeClaims`): named for the pod, labelled with the set's selector.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let mut claim = t.clone();
            claim.metadata.name = Some(claim_name(&t.name_any(), set, ordinal));
            claim.metadata.namespace = set.metadata.namespace.clone();
            let labels = claim.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(selector_labels.clone());
            claim.status = None;
            claim
        })
        .collect()
}

/// What a claim's owners should be under the set's `persistentVolumeClaimRetentionPolicy`
/// (upstream's `updateClaimOwnerRefForSetAndPod`): owned by the set when it is deleted
/// with `whenDeleted: Delete`, by the pod once scaled away with `whenScaled: Delete`, so
/// the garbage collector removes it then. `None` when the owners already fit.
pub fn claim_owners(
    current: &[OwnerReference],
    set: &StatefulSet,
    set_ref: &OwnerReference,
    pod_ref: &OwnerReference,
    ordinal: i32,
) -> Option<Vec<OwnerReference>> {
    let policy = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.clone())
        .unwrap_or_default();
    let delete = |v: &Option<String>| v.as_deref() == Some("Delete");
    let (when_deleted, when_scaled) = (delete(&policy.when_deleted), delete(&policy.when_scaled));
    let scaled_down = !in_range(set, ordinal);
    let (want_set, want_pod) = match (when_deleted, when_scaled) {
        (false, false) => (false, false),
        (true, false) => (true, false),
        (false, true) => (false, scaled_down),
        (true, true) => (!scaled_down, scaled_down),
    };
    let mut owners: Vec<OwnerReference> = current.to_vec();
    let mut changed = false;
    for (want, r) in [(want_set, set_ref), (want_pod, pod_ref)] {
        let has = owners.iter().any(|o| o.uid == r.uid);
        if want && !has {
            owners.push(OwnerReference {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                uid: r.uid.clone(),
                controller: None,
                block_owner_deletion: None,
            });
            changed = true;
        } else if !want && has {
            owners.retain(|o| o.uid != r.uid);
            changed = true;
        }
    }
    changed.then_some(owners)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        StatefulSetOrdinals, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    };
    use k8s_openapi::api::core::v1::PodSpec;

    fn set(replicas: i32, start: Option<i32>) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                service_name: Some("nginx".into()),
                ordinals: start.map(|s| StatefulSetOrdinals { start: Some(s) }),
                selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                },
                volume_claim_templates: Some(vec![PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some("www".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                }]),
                template: k8s_openapi::api::core::v1::PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "web".to_string())].into()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        volumes: Some(vec![Volume {
                            name: "www".into(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn ordinals_parse_from_the_last_dash() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-1a"), None);
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-99999999999"), None);
    }

    #[test]
    fn new_pods_carry_their_identity_and_claims() {
        let s = set(3, None);
        let owner = OwnerReference::default();
        let pod = new_pod(&s, &owner, 2, "web-abc");
        assert_eq!(pod.name_any(), "web-2");
        let labels = pod.labels();
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        assert_eq!(labels["app"], "web");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        // The template's own `www` volume gives way to the claim.
        let volumes = spec.volumes.as_ref().unwrap();
        assert_eq!(volumes.len(), 1);
        assert_eq!(
            volumes[0]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "www-web-2"
        );
        assert!(identity_matches(&s, &pod));
        let claims = claims_for(&s, 2);
        assert_eq!(claims[0].name_any(), "www-web-2");
        assert_eq!(claims[0].labels()["app"], "web");
    }

    #[test]
    fn ordinal_ranges_start_where_asked() {
        let s = set(2, Some(5));
        assert!(!in_range(&s, 4));
        assert!(in_range(&s, 5));
        assert!(in_range(&s, 6));
        assert!(!in_range(&s, 7));
        assert!(in_range(&set(1, None), 0));
    }

    #[test]
    fn retention_policy_decides_claim_owners() {
        let mut s = set(1, None);
        let set_ref = OwnerReference {
            uid: "set".into(),
            ..Default::default()
        };
        let pod_ref = OwnerReference {
            uid: "pod".into(),
            ..Default::default()
        };
        // Retain/Retain: nobody owns the claim.
        assert_eq!(claim_owners(&[], &s, &set_ref, &pod_ref, 0), None);
        assert_eq!(
            claim_owners(std::slice::from_ref(&set_ref), &s, &set_ref, &pod_ref, 0),
            Some(vec![])
        );
        s.spec
            .as_mut()
            .unwrap()
            .persistent_volume_claim_retention_policy =
            Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Delete".into()),
                when_scaled: Some("Delete".into()),
            });
        let owned_by_set = claim_owners(&[], &s, &set_ref, &pod_ref, 0).unwrap();
        assert_eq!(owned_by_set.len(), 1);
        assert_eq!(owned_by_set[0].uid, "set");
        // Scaled away: the pod owns it instead.
        let owned_by_pod = claim_owners(&owned_by_set, &s, &set_ref, &pod_ref, 3).unwrap();
        assert_eq!(owned_by_pod.len(), 1);
        assert_eq!(owned_by_pod[0].uid, "pod");
    }
}

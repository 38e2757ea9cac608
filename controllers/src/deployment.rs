//! The Deployment controller: one ReplicaSet per pod template (named by upstream's
//! `pod-template-hash`), rolled out by the Recreate or RollingUpdate strategy
//! (maxSurge / maxUnavailable), with revisions, history cleanup, status and the
//! Available / Progressing conditions as upstream's controller reports them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX: &str = "deployment.kubernetes.io/max-replicas";

struct Ctx {
    client: Client,
    events: crate::events::Events,
}

pub async fn run(client: Client) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "deployment-controller");
    Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    )
    .run(reconcile, error_policy, Arc::new(Ctx { client, events }))
    .for_each(|res| async move {
        if let Err(e) = res {
            tracing::debug!("deployment controller: {e}");
        }
    })
    .await;
    Ok(())
}

fn error_policy(_d: Arc<Deployment>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// Upstream's pod-template-hash: FNV-1a (32 bit) of the template, printed in decimal and
/// mapped onto the alphabet of `rand.SafeEncodeString`.
pub fn template_hash(template: &serde_json::Value, collisions: Option<i32>) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(template.to_string().as_bytes());
    if let Some(c) = collisions {
        feed(&c.to_le_bytes());
    }
    h.to_string()
        .bytes()
        .map(|d| ALPHABET[usize::from(d) % ALPHABET.len()] as char)
        .collect()
}

/// An int-or-percent of `total`, rounded up (surge) or down (unavailable) as upstream.
fn scaled(v: Option<&IntOrString>, total: i32, round_up: bool, default: &str) -> i32 {
    let default = IntOrString::String(default.into());
    crate::intstr::scaled(v.unwrap_or(&default), total, round_up).unwrap_or(0)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn status_of(rs: &ReplicaSet) -> (i32, i32, i32) {
    let s = rs.status.clone().unwrap_or_default();
    (
        s.replicas,
        s.ready_replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
    )
}

/// The template without the hash label: what the deployment's template is compared with.
fn template_json(d: &Deployment) -> serde_json::Value {
    serde_json::to_value(d.spec.as_ref().map(|s| &s.template)).unwrap_or_default()
}

fn rs_template_without_hash(rs: &ReplicaSet) -> serde_json::Value {
    let mut t = serde_json::to_value(rs.spec.as_ref().and_then(|s| s.template.as_ref()))
        .unwrap_or_default();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(|l| l.as_object_mut())
    {
        labels.remove(HASH_LABEL);
    }
    t
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(uid) = d.metadata.uid.clone() else {
        return Ok(Action::await_change());
    };
    let ns = d.namespace().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    let rs_api = Api::<ReplicaSet>::namespaced(ctx.client.clone(), &ns);
    let mut sets: Vec<ReplicaSet> = rs_api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|rs| {
            rs.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .collect();
    sets.sort_by_key(revision);
    let template = template_json(&d);
    let new_idx = sets
        .iter()
        .position(|rs| rs_template_without_hash(rs) == template);
    let replicas = spec.replicas.unwrap_or(1);
    let paused = spec.paused.unwrap_or(false);
    let max_revision = sets.iter().map(revision).max().unwrap_or(0);
    let reference = d.object_ref(&());

    let new_idx = match new_idx {
        Some(i) => {
            // An old template coming back (rollout undo) becomes the newest revision.
            if revision(&sets[i]) < max_revision && !paused {
                let patch = serde_json::json!({"metadata": {"annotations": {REVISION: (max_revision + 1).to_string()}}});
                sets[i] = rs_api
                    .patch(
                        &sets[i].name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(patch),
                    )
                    .await?;
            }
            Some(i)
        }
        None if paused => None,
        None => {
            let rs = new_replica_set(&d, &spec, &uid, max_revision + 1, replicas, &sets);
            let created = match rs_api.create(&PostParams::default(), &rs).await {
                Ok(c) => c,
                Err(kube::Error::Api(e)) if e.code == 409 => rs_api.get(&rs.name_any()).await?,
                Err(e) => return Err(e),
            };
            if spec_replicas(&created) > 0 {
                ctx.events
                    .publish(
                        &reference,
                        false,
                        "ScalingReplicaSet",
                        "Scaling",
                        format!(
                            "Scaled up replica set {} from 0 to {}",
                            created.name_any(),
                            spec_replicas(&created)
                        ),
                    )
                    .await;
            }
            sets.push(created);
            Some(sets.len() - 1)
        }
    };

    // The deployment carries its current revision (kubectl rollout undo reads and
    // replaces it).
    if let Some(n) = new_idx {
        let current = revision(&sets[n]).to_string();
        if d.annotations().get(REVISION) != Some(&current) {
            // Through /status, as upstream: an annotation change on the main resource
            // would bump the generation.
            let patch = serde_json::json!({"metadata": {"annotations": {REVISION: current}}});
            let d_api = Api::<Deployment>::namespaced(ctx.client.clone(), &ns);
            d_api
                .patch_status(&d.name_any(), &PatchParams::default(), &Patch::Merge(patch))
                .await?;
        }
    }
    if !paused {
        if let Some(n) = new_idx {
            for (rs, to) in plan(&spec, replicas, &sets, n) {
                let from = spec_replicas(&sets[rs]);
                if from == to {
                    continue;
                }
                let patch = serde_json::json!({
                    "metadata": {"annotations": {DESIRED: replicas.to_string(), MAX: (replicas + max_surge(&spec, replicas)).to_string()}},
                    "spec": {"replicas": to},
                });
                sets[rs] = rs_api
                    .patch(
                        &sets[rs].name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(patch),
                    )
                    .await?;
                let verb = if to > from { "up" } else { "down" };
                ctx.events
                    .publish(
                        &reference,
                        false,
                        "ScalingReplicaSet",
                        "Scaling",
                        format!(
                            "Scaled {verb} replica set {} from {from} to {to}",
                            sets[rs].name_any()
                        ),
                    )
                    .await;
            }
            cleanup_history(&rs_api, &spec, &sets, n).await?;
        }
    }
    update_status(&ctx.client, &d, &spec, replicas, &sets, new_idx).await?;
    Ok(Action::requeue(Duration::from_secs(30)))
}

fn max_surge(spec: &DeploymentSpec, replicas: i32) -> i32 {
    let ru = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    match spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) {
        Some("Recreate") => 0,
        _ => scaled(ru.and_then(|r| r.max_surge.as_ref()), replicas, true, "25%"),
    }
}

/// The replica count each ReplicaSet should have now: (index, replicas).
fn plan(
    spec: &DeploymentSpec,
    replicas: i32,
    sets: &[ReplicaSet],
    new: usize,
) -> Vec<(usize, i32)> {
    let olds: Vec<usize> = (0..sets.len()).filter(|i| *i != new).collect();
    let old_active: i32 = olds
        .iter()
        .map(|i| status_of(&sets[*i]).0.max(spec_replicas(&sets[*i])))
        .sum();
    let mut out = Vec::new();
    if spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate") {
        for i in &olds {
            out.push((*i, 0));
        }
        // The new pods start only once every old pod is gone.
        out.push((
            new,
            if old_active == 0 {
                replicas
            } else {
                spec_replicas(&sets[new])
            },
        ));
        return out;
    }
    let ru = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let surge = max_surge(spec, replicas);
    let mut unavailable = scaled(
        ru.and_then(|r| r.max_unavailable.as_ref()),
        replicas,
        false,
        "25%",
    );
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let mut counts: Vec<i32> = sets.iter().map(spec_replicas).collect();
    let available_of = |i: usize| status_of(&sets[i]).2;
    // 1. The new ReplicaSet grows within maxSurge (reconcileNewReplicaSet).
    if counts[new] > replicas {
        counts[new] = replicas;
    } else if counts[new] < replicas {
        let total: i32 = counts.iter().sum();
        let max_total = replicas + surge;
        if total < max_total {
            counts[new] += (max_total - total).min(replicas - counts[new]);
        }
    }
    // 2. Old ReplicaSets shrink while availability stays at replicas - maxUnavailable
    //    (reconcileOldReplicaSets): unavailable old pods first, then available ones.
    if olds.iter().map(|i| counts[*i]).sum::<i32>() > 0 {
        let all: i32 = counts.iter().sum();
        let min_available = replicas - unavailable;
        let new_unavailable = counts[new] - available_of(new);
        let mut max_scaled_down = all - min_available - new_unavailable;
        if max_scaled_down > 0 {
            for i in &olds {
                let unhealthy = counts[*i] - available_of(*i);
                if max_scaled_down <= 0 || unhealthy <= 0 {
                    continue;
                }
                let cut = unhealthy.min(max_scaled_down);
                counts[*i] -= cut;
                max_scaled_down -= cut;
            }
            let available: i32 = (0..sets.len()).map(available_of).sum();
            let mut to_cut = available - min_available;
            for i in &olds {
                if to_cut <= 0 {
                    break;
                }
                let cut = counts[*i].min(to_cut);
                counts[*i] -= cut;
                to_cut -= cut;
            }
        }
    }
    for (i, c) in counts.into_iter().enumerate() {
        out.push((i, c));
    }
    out
}

fn new_replica_set(
    d: &Deployment,
    spec: &DeploymentSpec,
    uid: &str,
    revision: i64,
    replicas: i32,
    sets: &[ReplicaSet],
) -> ReplicaSet {
    let hash = template_hash(
        &template_json(d),
        d.status.as_ref().and_then(|s| s.collision_count),
    );
    let mut template = spec.template.clone();
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    template
        .metadata
        .get_or_insert_with(Default::default)
        .labels = Some(labels.clone());
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(HASH_LABEL.into(), hash.clone());
    // The first ReplicaSet starts at full size; later ones grow as the rollout allows.
    let start = if sets.is_empty() { replicas } else { 0 };
    let surge = max_surge(spec, replicas);
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", d.name_any())),
            namespace: d.namespace(),
            labels: Some(labels),
            annotations: Some(replica_set_annotations(
                d,
                revision,
                replicas,
                replicas + surge,
            )),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: d.name_any(),
                uid: uid.to_string(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
            replicas: Some(start),
            min_ready_seconds: spec.min_ready_seconds,
            selector,
            template: Some(template),
        }),
        status: None,
    }
}

/// A new ReplicaSet's annotations: the deployment's (its change-cause, for instance), minus
/// the ones upstream never copies, plus revision and sizes.
fn replica_set_annotations(
    d: &Deployment,
    revision: i64,
    desired: i32,
    max: i32,
) -> BTreeMap<String, String> {
    const SKIP: &[&str] = &[
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        DESIRED,
        MAX,
        "deprecated.deployment.rollback.to",
    ];
    let mut a: BTreeMap<String, String> = d
        .annotations()
        .iter()
        .filter(|(k, _)| !SKIP.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    a.insert(REVISION.into(), revision.to_string());
    a.insert(DESIRED.into(), desired.to_string());
    a.insert(MAX.into(), max.to_string());
    a
}

/// Keep at most revisionHistoryLimit old, scaled-down ReplicaSets.
async fn cleanup_history(
    api: &Api<ReplicaSet>,
    spec: &DeploymentSpec,
    sets: &[ReplicaSet],
    new: usize,
) -> Result<(), kube::Error> {
    let limit = spec.revision_history_limit.unwrap_or(10).max(0) as usize;
    let idle: Vec<&ReplicaSet> = sets
        .iter()
        .enumerate()
        .filter(|(i, rs)| *i != new && spec_replicas(rs) == 0 && status_of(rs).0 == 0)
        .map(|(_, rs)| rs)
        .collect();
    if idle.len() > limit {
        for rs in &idle[..idle.len() - limit] {
            match api
                .delete(&rs.name_any(), &DeleteParams::background())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    old: Option<&DeploymentCondition>,
) -> DeploymentCondition {
    let status = if status { "True" } else { "False" }.to_string();
    let now = Time(
        k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
            .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now()),
    );
    let same = old.is_some_and(|o| o.status == status);
    let same_reason =
        old.is_some_and(|o| o.status == status && o.reason.as_deref() == Some(reason));
    DeploymentCondition {
        type_: type_.into(),
        status,
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: if same {
            old.and_then(|o| o.last_transition_time.clone())
        } else {
            Some(now.clone())
        },
        last_update_time: if same_reason {
            old.and_then(|o| o.last_update_time.clone())
        } else {
            Some(now)
        },
    }
}

async fn update_status(
    client: &Client,
    d: &Deployment,
    spec: &DeploymentSpec,
    replicas: i32,
    sets: &[ReplicaSet],
    new: Option<usize>,
) -> Result<(), kube::Error> {
    let sum = |f: fn(&ReplicaSet) -> i32| sets.iter().map(f).sum::<i32>();
    let total = sum(|rs| status_of(rs).0);
    let ready = sum(|rs| status_of(rs).1);
    let available = sum(|rs| status_of(rs).2);
    let updated = new.map_or(0, |i| status_of(&sets[i]).0);
    let ru = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let max_unavailable = match spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) {
        Some("Recreate") => 0,
        _ => scaled(
            ru.and_then(|r| r.max_unavailable.as_ref()),
            replicas,
            false,
            "25%",
        ),
    };
    let old = d.status.clone().unwrap_or_default();
    let find = |t: &str| {
        old.conditions
            .as_ref()
            .and_then(|c| c.iter().find(|c| c.type_ == t))
    };
    let mut conditions = Vec::new();
    let has_min = available >= replicas - max_unavailable;
    conditions.push(condition(
        "Available",
        has_min,
        if has_min {
            "MinimumReplicasAvailable"
        } else {
            "MinimumReplicasUnavailable"
        },
        if has_min {
            "Deployment has minimum availability."
        } else {
            "Deployment does not have minimum availability."
        }
        .into(),
        find("Available"),
    ));
    if let Some(i) = new {
        let rs_name = sets[i].name_any();
        let done = updated == replicas && available == replicas && total == replicas;
        let (reason, message) = if done {
            (
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else if find("Progressing").is_none() {
            (
                "NewReplicaSetCreated",
                format!("Created new replica set \"{rs_name}\""),
            )
        } else {
            (
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs_name}\" is progressing."),
            )
        };
        conditions.push(condition(
            "Progressing",
            true,
            reason,
            message,
            find("Progressing"),
        ));
    }
    let status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(total),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        unavailable_replicas: Some((replicas - available).max(0)),
        conditions: Some(conditions),
        collision_count: old.collision_count,
        terminating_replicas: old.terminating_replicas,
    };
    let unchanged = |a: &DeploymentStatus, b: &DeploymentStatus| {
        let strip = |s: &DeploymentStatus| {
            let mut s = s.clone();
            for c in s.conditions.iter_mut().flatten() {
                c.last_update_time = None;
                c.last_transition_time = None;
            }
            s
        };
        strip(a) == strip(b)
    };
    if d.status.as_ref().is_some_and(|s| unchanged(s, &status)) {
        return Ok(());
    }
    let api = Api::<Deployment>::namespaced(client.clone(), &d.namespace().unwrap_or_default());
    api.patch_status(
        &d.name_any(),
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": status})),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_label_safe() {
        let t = serde_json::json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
        let a = template_hash(&t, None);
        assert_eq!(a, template_hash(&t, None));
        assert_ne!(a, template_hash(&t, Some(1)));
        assert!(
            a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{a}"
        );
    }

    #[test]
    fn surge_rounds_up_and_unavailable_down() {
        assert_eq!(scaled(None, 3, true, "25%"), 1);
        assert_eq!(scaled(None, 3, false, "25%"), 0);
        assert_eq!(scaled(Some(&IntOrString::Int(2)), 10, true, "25%"), 2);
    }
}

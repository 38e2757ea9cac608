//! The DaemonSet controller (upstream pkg/controller/daemon): one pod per eligible node —
//! eligible by node selector, required node affinity and taints — pinned to its node
//! through node affinity for the scheduler to bind; pods on nodes that no longer qualify
//! are removed, failed ones replaced. RollingUpdate replaces old-revision pods at most
//! `maxUnavailable` at a time; revisions are ControllerRevisions, as `kubectl rollout`
//! expects.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::deployment::template_hash;
use crate::replicaset::selector_query;

const REVISION_HASH: &str = "controller-revision-hash";
const TEMPLATE_GENERATION: &str = "pod-template-generation";

struct Ctx {
    client: Client,
    events: crate::events::Events,
}

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "daemonset-controller");
    let sets = Api::<DaemonSet>::all(client.clone());
    let controller = Controller::new(sets, watcher::Config::default());
    let store = controller.store();
    // Any node change may change where every DaemonSet should run.
    let every_set = move |_: Node| {
        store
            .state()
            .iter()
            .map(|d| ObjectRef::from_obj(d.as_ref()))
            .collect::<Vec<_>>()
    };
    controller
        .owns_shared_stream(pods)
        .watches(
            Api::<Node>::all(client.clone()),
            watcher::Config::default(),
            every_set,
        )
        .run(reconcile, error_policy, Arc::new(Ctx { client, events }))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("daemonset controller: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_d: Arc<DaemonSet>, _e: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// The tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations):
/// daemons keep running through the node conditions that evict or repel other pods.
fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut keys = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        keys.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    keys.into_iter()
        .map(|(key, effect)| Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(effect.into()),
            ..Default::default()
        })
        .collect()
}

fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key_ok = t
            .key
            .as_deref()
            .is_none_or(|k| k.is_empty() || k == taint.key);
        let value_ok = match t.operator.as_deref() {
            Some("Exists") => true,
            _ => {
                t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
            }
        };
        effect_ok && key_ok && value_ok
    })
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let labels = node.labels();
    let name = node.name_any();
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key)))
        && fields.iter().all(|r| {
            let v = (r.key == "metadata.name").then_some(&name);
            requirement_matches(r, v)
        })
}

/// Whether a daemon pod from `template` belongs on `node`, and whether one already there
/// may stay (upstream's NodeShouldRunDaemonPod): selector, required affinity and taints
/// decide; an untolerated NoSchedule taint keeps new daemons off but lets a running one
/// stay, NoExecute removes it.
pub fn placement(template: &PodTemplateSpec, node: &Node) -> (bool, bool) {
    let Some(spec) = template.spec.as_ref() else {
        return (false, false);
    };
    let labels = node.labels();
    if spec
        .node_selector
        .iter()
        .flatten()
        .any(|(k, v)| labels.get(k) != Some(v))
    {
        return (false, false);
    }
    if let Some(required) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    {
        if !required
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, node))
        {
            return (false, false);
        }
    }
    let mut tolerations = spec.tolerations.clone().unwrap_or_default();
    tolerations.extend(daemon_tolerations(spec.host_network.unwrap_or(false)));
    let untolerated: Vec<&Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| !tolerates(&tolerations, t))
        .collect();
    let evicts = untolerated.iter().any(|t| t.effect == "NoExecute");
    let repels = untolerated.iter().any(|t| t.effect == "NoSchedule");
    (!evicts && !repels, !evicts)
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// The node a daemon pod is for: where it runs, or where its affinity pins it.
fn pod_node(p: &Pod) -> Option<String> {
    let spec = p.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|f| f.key == "metadata.name" && f.operator == "In")
        .and_then(|f| f.values.as_ref()?.first().cloned())
}

fn new_pod(ds: &DaemonSet, owner: &OwnerReference, node: &str, hash: &str) -> Pod {
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(REVISION_HASH.into(), hash.into());
    labels.insert(
        TEMPLATE_GENERATION.into(),
        ds.metadata.generation.unwrap_or(1).to_string(),
    );
    let mut spec = template.spec.unwrap_or_default();
    // Pinned to its node by affinity; the scheduler binds it (ScheduleDaemonSetPods).
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            ..Default::default()
        }],
    });
    let mut tolerations = spec.tolerations.take().unwrap_or_default();
    for t in daemon_tolerations(spec.host_network.unwrap_or(false)) {
        if !tolerations
            .iter()
            .any(|x| x.key == t.key && x.effect == t.effect)
        {
            tolerations.push(t);
        }
    }
    spec.tolerations = Some(tolerations);
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        },
        spec: Some(spec),
        ..Default::default()
    }
}

/// Keep a ControllerRevision for the current template, numbered after every older one
/// (a template that returns to an old revision is renumbered, as upstream's rollback).
async fn ensure_revision(
    ctx: &Ctx,
    ds: &DaemonSet,
    owner: &OwnerReference,
    hash: &str,
) -> Result<(), kube::Error> {
    let ns = ds.namespace().unwrap_or_default();
    let api = Api::<ControllerRevision>::namespaced(ctx.client.clone(), &ns);
    let selector = ds
        .spec
        .as_ref()
        .map(|s| selector_query(&s.selector))
        .unwrap_or_default();
    let revisions = crate::history::list_owned(&ctx.client, &ns, &selector, &owner.uid).await?;
    let max = crate::history::next_revision(&revisions) - 1;
    let name = format!("{}-{hash}", ds.name_any());
    match revisions.iter().find(|r| r.name_any() == name) {
        Some(r) if r.revision == max => Ok(()),
        Some(r) => crate::history::renumber(&ctx.client, r, max + 1)
            .await
            .map(|_| ()),
        None => {
            let template = ds
                .spec
                .as_ref()
                .map(|s| s.template.clone())
                .unwrap_or_default();
            let mut labels = template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert(REVISION_HASH.into(), hash.into());
            let rev = ControllerRevision {
                metadata: ObjectMeta {
                    name: Some(name),
                    namespace: Some(ns),
                    labels: Some(labels),
                    owner_references: Some(vec![owner.clone()]),
                    ..Default::default()
                },
                data: Some(RawExtension(crate::history::template_patch(&template))),
                revision: max + 1,
            };
            match api.create(&PostParams::default(), &rev).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

/// `maxUnavailable` of `total`, rounded up; 1 when unset or not a percentage.
fn scaled(v: Option<&IntOrString>, total: i32) -> i32 {
    v.and_then(|v| crate::intstr::scaled(v, total, true))
        .unwrap_or(1)
}

async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(owner) = ds.controller_owner_ref(&()) else {
        return Ok(Action::await_change());
    };
    let ns = ds.namespace().unwrap_or_default();
    let spec = ds.spec.clone().unwrap_or_default();
    let query = selector_query(&spec.selector);
    if query.is_empty() {
        return Ok(Action::await_change());
    }
    let template_json = serde_json::to_value(&spec.template).unwrap_or_default();
    let hash = template_hash(
        &template_json,
        ds.status.as_ref().and_then(|s| s.collision_count),
    );
    ensure_revision(&ctx, &ds, &owner, &hash).await?;

    let nodes = Api::<Node>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let pods_api = Api::<Pod>::namespaced(ctx.client.clone(), &ns);
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&query))
        .await?
        .items
        .into_iter()
        .filter(|p| p.owner_references().iter().any(|o| o.uid == owner.uid))
        .collect();
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    let mut orphaned = Vec::new();
    for p in &pods {
        match pod_node(p) {
            Some(n) => by_node.entry(n).or_default().push(p),
            None => orphaned.push(p),
        }
    }
    let regarding = ds.object_ref(&());
    let rolling_update = match spec.update_strategy.as_ref() {
        None => Some(Default::default()),
        Some(s) if s.type_.as_deref().is_none_or(|t| t == "RollingUpdate") => {
            Some(s.rolling_update.clone().unwrap_or_default())
        }
        Some(_) => None,
    };
    // maxSurge (rounded up, of the nodes that should run the daemon): when set, a node's new
    // pod starts beside its old one, which goes once the new one is ready.
    let eligible = nodes
        .iter()
        .filter(|n| placement(&spec.template, n).0)
        .count() as i32;
    let max_surge = rolling_update
        .as_ref()
        .and_then(|r| r.max_surge.as_ref())
        .and_then(|v| crate::intstr::scaled(v, eligible, true))
        .unwrap_or(0);
    let mut to_create: Vec<String> = Vec::new();
    let mut to_delete: Vec<&Pod> = orphaned;
    let (mut desired, mut scheduled, mut misscheduled, mut ready, mut updated) = (0, 0, 0, 0, 0);
    let mut old_available: Vec<&Pod> = Vec::new();
    let mut old_unavailable: Vec<&Pod> = Vec::new();
    let mut unavailable = 0;
    // Surge: nodes whose old pod serves (a new pod may start there within the budget), and
    // how many nodes already run an old and a new pod.
    let mut surge_candidates: Vec<String> = Vec::new();
    let mut surging = 0;
    for node in &nodes {
        let name = node.name_any();
        let mut here: Vec<&Pod> = by_node
            .remove(&name)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let (run_here, may_stay) = placement(&spec.template, node);
        if !run_here {
            if !here.is_empty() {
                misscheduled += 1;
            }
            if !may_stay {
                to_delete.extend(here);
            }
            continue;
        }
        desired += 1;
        // Failed daemons are replaced.
        let (failed, live): (Vec<&Pod>, Vec<&Pod>) =
            here.drain(..).partition(|p| phase(p) == "Failed");
        to_delete.extend(failed);
        let mut live = live;
        live.sort_by_key(|p| p.metadata.creation_timestamp.clone());
        if max_surge > 0 {
            // At most one pod of each revision per node: the oldest of each.
            let (mut news, mut olds): (Vec<&Pod>, Vec<&Pod>) = live
                .into_iter()
                .partition(|p| p.labels().get(REVISION_HASH) == Some(&hash));
            if news.len() > 1 {
                to_delete.extend(news.split_off(1));
            }
            if olds.len() > 1 {
                to_delete.extend(olds.split_off(1));
            }
            match (news.first(), olds.first()) {
                (None, None) => {
                    to_create.push(name);
                    unavailable += 1;
                }
                (Some(new), old) => {
                    scheduled += 1;
                    updated += 1;
                    if is_ready(new) {
                        ready += 1;
                        to_delete.extend(old);
                    } else if old.is_some_and(|o| is_ready(o)) {
                        ready += 1;
                    } else {
                        unavailable += 1;
                    }
                    if old.is_some() {
                        surging += 1;
                    }
                }
                (None, Some(old)) => {
                    scheduled += 1;
                    if is_ready(old) {
                        ready += 1;
                        surge_candidates.push(name);
                    } else {
                        // Not serving anyway: its replacement starts at once.
                        unavailable += 1;
                        to_create.push(name);
                    }
                }
            }
            continue;
        }
        if live.len() > 1 {
            to_delete.extend(live.split_off(1));
        }
        match live.first() {
            None => {
                to_create.push(name);
                unavailable += 1;
            }
            Some(p) => {
                scheduled += 1;
                let current = p.labels().get(REVISION_HASH) == Some(&hash);
                let is_ready = is_ready(p);
                if is_ready {
                    ready += 1;
                } else {
                    unavailable += 1;
                }
                if current {
                    updated += 1;
                } else if is_ready {
                    old_available.push(p);
                } else {
                    old_unavailable.push(p);
                }
            }
        }
    }
    // Pods for nodes that are gone.
    to_delete.extend(by_node.into_values().flatten());

    if max_surge > 0 {
        let room = (max_surge - surging).max(0) as usize;
        to_create.extend(surge_candidates.into_iter().take(room));
    } else if let Some(rolling_update) = &rolling_update {
        let max_unavailable = scaled(rolling_update.max_unavailable.as_ref(), desired).max(1);
        // Old pods that are not serving anyway go first, then as many as the budget allows.
        to_delete.extend(old_unavailable);
        let budget = (max_unavailable - unavailable).max(0) as usize;
        to_delete.extend(old_available.into_iter().take(budget));
    }

    for name in &to_create {
        let pod = new_pod(&ds, &owner, name, &hash);
        match pods_api.create(&PostParams::default(), &pod).await {
            Ok(p) => {
                ctx.events
                    .publish(
                        &regarding,
                        false,
                        "SuccessfulCreate",
                        "Create",
                        format!("Created pod: {}", p.name_any()),
                    )
                    .await
            }
            Err(e) => {
                ctx.events
                    .publish(
                        &regarding,
                        true,
                        "FailedCreate",
                        "Create",
                        format!("Error creating: {e}"),
                    )
                    .await;
                return Err(e);
            }
        }
    }
    for p in &to_delete {
        ctx.events
            .delete(
                &pods_api,
                &p.name_any(),
                &DeleteParams::default(),
                &regarding,
                format!("Deleted pod: {}", p.name_any()),
            )
            .await?;
    }

    let status = DaemonSetStatus {
        current_number_scheduled: scheduled,
        desired_number_scheduled: desired,
        number_misscheduled: misscheduled,
        number_ready: ready,
        number_available: Some(ready),
        number_unavailable: Some(desired - ready).filter(|n| *n > 0),
        updated_number_scheduled: Some(updated),
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
    };
    if ds.status.as_ref() != Some(&status) {
        let patch = json!({"status": status});
        Api::<DaemonSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(
                &ds.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
    }
    Ok(if to_create.is_empty() && to_delete.is_empty() {
        Action::await_change()
    } else {
        Action::requeue(Duration::from_secs(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, PodSpec};

    fn node(name: &str, labels: &[(&str, &str)], taints: Vec<Taint>) -> Node {
        Node {
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
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn template(spec: PodSpec) -> PodTemplateSpec {
        PodTemplateSpec {
            spec: Some(spec),
            ..Default::default()
        }
    }

    fn should_run(t: &PodTemplateSpec, n: &Node) -> bool {
        placement(t, n).0
    }

    #[test]
    fn selector_affinity_and_taints_decide_eligibility() {
        let plain = template(PodSpec::default());
        assert!(should_run(&plain, &node("n", &[], vec![])));
        let picky = template(PodSpec {
            node_selector: Some([("disk".to_string(), "ssd".to_string())].into()),
            ..Default::default()
        });
        assert!(!should_run(&picky, &node("n", &[], vec![])));
        assert!(should_run(&picky, &node("n", &[("disk", "ssd")], vec![])));

        let tainted = node(
            "n",
            &[],
            vec![Taint {
                key: "dedicated".into(),
                value: Some("infra".into()),
                effect: "NoSchedule".into(),
                ..Default::default()
            }],
        );
        assert!(!should_run(&plain, &tainted));
        let tolerant = template(PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Equal".into()),
                value: Some("infra".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert!(should_run(&tolerant, &tainted));
        // Daemons tolerate an unschedulable (cordoned) node.
        let cordoned = node(
            "n",
            &[],
            vec![Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            }],
        );
        assert!(should_run(&plain, &cordoned));
    }

    #[test]
    fn daemon_pods_are_pinned_to_their_node() {
        let ds = DaemonSet::default();
        let owner = OwnerReference::default();
        let p = new_pod(&ds, &owner, "n7", "abc");
        assert_eq!(pod_node(&p).as_deref(), Some("n7"));
        assert_eq!(p.labels()[REVISION_HASH], "abc");
        let tolerations = p.spec.unwrap().tolerations.unwrap();
        assert!(tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some("node.kubernetes.io/unschedulable")));
    }
}

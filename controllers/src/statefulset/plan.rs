//! What one sync of a StatefulSet does, decided without I/O (upstream's
//! `updateStatefulSet`): create missing ordinals, replace failed pods, remove ordinals
//! beyond the replica count from the highest down, and roll pods onto the update revision
//! from the highest ordinal down to the partition. With OrderedReady management every step
//! waits for all lower ordinals to be Running and Ready (and available); Parallel does not.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::identity::{self, REVISION_LABEL};

/// Which revision's template a new pod is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revision {
    Current,
    Update,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create the pod for this ordinal (its claims first).
    Create {
        ordinal: i32,
        revision: Revision,
    },
    /// Create the missing claims of a pending pod.
    CreateClaims {
        ordinal: i32,
    },
    /// Put back identity labels someone changed.
    FixIdentity {
        name: String,
    },
    /// Bring a pod's claims' owners in line with the retention policy.
    FixClaimOwners {
        name: String,
    },
    Delete {
        name: String,
        why: Why,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Failed or Succeeded: replaced by a fresh pod.
    Finished,
    /// An ordinal beyond the replica count.
    ScaleDown,
    /// Not at the update revision.
    Update,
}

/// The replica counts of the status (upstream's `updateStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub current: i32,
    pub updated: i32,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub counts: Counts,
    /// When a ready pod becomes available (minReadySeconds), so status and ordered
    /// progress are looked at again then.
    pub recheck: Option<Duration>,
}

/// What a sync knows: the set, its member pods and claims, and its two revisions.
pub struct Input<'a> {
    pub set: &'a StatefulSet,
    pub pods: &'a [Pod],
    pub claims: &'a BTreeMap<String, PersistentVolumeClaim>,
    pub current: &'a str,
    pub update: &'a str,
    pub now: Timestamp,
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

fn is_created(p: &Pod) -> bool {
    !phase(p).is_empty()
}

fn is_terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

/// When the pod became Ready, if it is Running and Ready (upstream's `isRunningAndReady`).
fn ready_since(p: &Pod) -> Option<Timestamp> {
    if phase(p) != "Running" {
        return None;
    }
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
        })
}

fn revision(p: &Pod) -> &str {
    p.labels()
        .get(REVISION_LABEL)
        .map(String::as_str)
        .unwrap_or_default()
}

/// A slot of the wanted ordinal range: a pod, or one this sync creates.
enum Slot<'a> {
    Pod(&'a Pod),
    New(Revision),
}

struct Health {
    min_ready: i64,
    now: Timestamp,
}

impl Health {
    /// How long until a ready pod counts as available; `None` when it is not ready.
    fn until_available(&self, p: &Pod) -> Option<i64> {
        let since = ready_since(p)?;
        let elapsed = self.now.as_second() - since.as_second();
        Some(if self.min_ready == 0 {
            0
        } else {
            (self.min_ready - elapsed + 1).max(0)
        })
    }

    fn available(&self, p: &Pod) -> bool {
        self.until_available(p) == Some(0)
    }

    /// Upstream's `isUnavailable`: not healthy (ready, not terminating) or not available.
    fn unavailable(&self, slot: &Slot) -> bool {
        match slot {
            Slot::New(_) => true,
            Slot::Pod(p) => is_terminating(p) || !self.available(p),
        }
    }
}

fn counts(pods: &[Pod], health: &Health, current: &str, update: &str) -> Counts {
    let mut c = Counts::default();
    for p in pods {
        if is_created(p) {
            c.replicas += 1;
        }
        if ready_since(p).is_some() {
            c.ready += 1;
            if health.available(p) {
                c.available += 1;
            }
        }
        if is_created(p) && !is_terminating(p) {
            if revision(p) == current {
                c.current += 1;
            }
            if revision(p) == update {
                c.updated += 1;
            }
        }
    }
    c
}

/// Whether the set uses the RollingUpdate strategy (the default).
pub fn rolling(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

/// The partition below which pods stay at the current revision.
fn partition(set: &StatefulSet) -> Option<i32> {
    set.spec
        .as_ref()?
        .update_strategy
        .as_ref()?
        .rolling_update
        .as_ref()
        .map(|r| r.partition.unwrap_or(0))
}

/// The revision a re-created pod gets (upstream's `newVersionedStatefulSetPod`): below
/// the partition it keeps the current revision, above it takes the update revision.
pub fn revision_for(set: &StatefulSet, ordinal: i32) -> Revision {
    let start = identity::start_ordinal(set);
    let below = match partition(set) {
        Some(p) => ordinal < start.saturating_add(p),
        None if rolling(set) => {
            let current = set
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0);
            ordinal < start.saturating_add(current)
        }
        None => false,
    };
    if below {
        Revision::Current
    } else {
        Revision::Update
    }
}

fn claims_complete(input: &Input, ordinal: i32) -> bool {
    identity::claims_for(input.set, ordinal)
        .iter()
        .all(|c| input.claims.contains_key(&c.name_any()))
}

/// Whether the pod's existing claims have the owners the retention policy asks for
/// (missing claims count as matching, as upstream's error path does).
pub fn claims_match_policy(
    set: &StatefulSet,
    pod: &Pod,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
) -> bool {
    let (Some(ordinal), Some(set_ref), Some(pod_ref)) =
        (identity::ordinal(pod), owner_ref(set), pod_owner_ref(pod))
    else {
        return true;
    };
    identity::claims_for(set, ordinal).iter().all(|c| {
        claims.get(&c.name_any()).is_none_or(|existing| {
            identity::claim_owners(
                existing.owner_references(),
                set,
                &set_ref,
                &pod_ref,
                ordinal,
            )
            .is_none()
        })
    })
}

/// A plain (non-controller) reference to the set, as claims carry it.
pub fn owner_ref(
    set: &StatefulSet,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: set.name_any(),
            uid: set.metadata.uid.clone()?,
            ..Default::default()
        },
    )
}

pub fn pod_owner_ref(
    pod: &Pod,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pod.name_any(),
            uid: pod.metadata.uid.clone()?,
            ..Default::default()
        },
    )
}

pub fn plan(input: &Input) -> Plan {
    let set = input.set;
    let spec = set.spec.clone().unwrap_or_default();
    let health = Health {
        min_ready: i64::from(spec.min_ready_seconds.unwrap_or(0).max(0)),
        now: input.now,
    };
    let monotonic = spec.pod_management_policy.as_deref() != Some("Parallel");
    let start = identity::start_ordinal(set);
    let wanted = identity::replicas(set) as usize;

    let mut slots: Vec<Option<&Pod>> = vec![None; wanted];
    let mut condemned: Vec<&Pod> = Vec::new();
    for p in input.pods {
        let Some(ord) = identity::ordinal(p) else {
            continue;
        };
        if identity::in_range(set, ord) {
            slots[(ord - start) as usize] = Some(p);
        } else {
            condemned.push(p);
        }
    }
    condemned.sort_by_key(|p| std::cmp::Reverse(identity::ordinal(p)));
    let replicas: Vec<Slot> = slots
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Some(p) => Slot::Pod(p),
            None => Slot::New(revision_for(set, start + i as i32)),
        })
        .collect();

    let mut out = Plan {
        counts: counts(input.pods, &health, input.current, input.update),
        ..Default::default()
    };
    out.recheck = input
        .pods
        .iter()
        .filter_map(|p| health.until_available(p))
        .filter(|s| *s > 0)
        .min()
        .map(|s| Duration::from_secs(s as u64));

    // The first unavailable pod, in ordinal order: the one a scale-down may remove even
    // though it is not ready.
    let first_unavailable: Option<String> = replicas
        .iter()
        .filter(|s| health.unavailable(s))
        .filter_map(|s| match s {
            Slot::Pod(p) => Some(p.name_any()),
            Slot::New(_) => None,
        })
        .chain(
            condemned
                .iter()
                .rev()
                .filter(|p| health.unavailable(&Slot::Pod(p)))
                .map(|p| p.name_any()),
        )
        .next();
    let first_unavailable_is_new = replicas
        .iter()
        .find(|s| health.unavailable(s))
        .is_some_and(|s| matches!(s, Slot::New(_)));

    // Live replicas, lowest ordinal first.
    for (i, slot) in replicas.iter().enumerate() {
        let ordinal = start + i as i32;
        let p = match slot {
            Slot::New(revision) => {
                out.steps.push(Step::Create {
                    ordinal,
                    revision: *revision,
                });
                if monotonic {
                    return out;
                }
                continue;
            }
            Slot::Pod(p) => *p,
        };
        if matches!(phase(p), "Failed" | "Succeeded") {
            if !is_terminating(p) {
                out.steps.push(Step::Delete {
                    name: p.name_any(),
                    why: Why::Finished,
                });
            }
            if monotonic {
                return out;
            }
            continue;
        }
        if phase(p) == "Pending" && !claims_complete(input, ordinal) {
            out.steps.push(Step::CreateClaims { ordinal });
        }
        if monotonic && (is_terminating(p) || !health.available(p)) {
            return out;
        }
        if !identity::identity_matches(set, p) {
            out.steps.push(Step::FixIdentity { name: p.name_any() });
        }
        if !claims_match_policy(set, p, input.claims) {
            out.steps.push(Step::FixClaimOwners { name: p.name_any() });
        }
    }

    for p in &condemned {
        if !claims_match_policy(set, p, input.claims) {
            out.steps.push(Step::FixClaimOwners { name: p.name_any() });
        }
    }

    // Scale down, highest ordinal first; ordered management removes one at a time and
    // only while every other pod is healthy (the first unhealthy one may go).
    for p in &condemned {
        if is_terminating(p) {
            if monotonic {
                return out;
            }
            continue;
        }
        let is_first_unavailable =
            !first_unavailable_is_new && first_unavailable.as_deref() == Some(&p.name_any());
        if monotonic && !health.available(p) && !is_first_unavailable {
            return out;
        }
        out.steps.push(Step::Delete {
            name: p.name_any(),
            why: Why::ScaleDown,
        });
        if monotonic {
            return out;
        }
    }

    if !rolling(set) {
        // OnDelete: pods take the new revision when someone deletes them.
        return out;
    }
    // Rolling update: the highest ordinal not at the update revision goes first, one at a
    // time, waiting for each replacement to become available; the partition stays put.
    let update_min = partition(set).unwrap_or(0).max(0) as usize;
    for target in (update_min..replicas.len()).rev() {
        let slot = &replicas[target];
        if let Slot::Pod(p) = slot {
            if revision(p) != input.update && !is_terminating(p) {
                out.steps.push(Step::Delete {
                    name: p.name_any(),
                    why: Why::Update,
                });
                out.counts.current -= 1;
                return out;
            }
        }
        if health.unavailable(slot) {
            return out;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        RollingUpdateStatefulSetStrategy, StatefulSetSpec, StatefulSetUpdateStrategy,
    };
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    fn set(replicas: i32, policy: &str) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("set-uid".into()),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                pod_management_policy: Some(policy.into()),
                update_strategy: Some(StatefulSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateStatefulSetStrategy {
                        partition: Some(0),
                        max_unavailable: None,
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(ord: i32, phase: &str, ready: bool, rev: &str) -> Pod {
        let s = set(1, "OrderedReady");
        let mut p = identity::new_pod(&s, &Default::default(), ord, rev);
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time(Timestamp::UNIX_EPOCH)),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }

    fn run(set: &StatefulSet, pods: &[Pod]) -> Plan {
        let claims = BTreeMap::new();
        plan(&Input {
            set,
            pods,
            claims: &claims,
            current: "web-1",
            update: "web-2",
            now: Timestamp::now(),
        })
    }

    fn create(ordinal: i32, revision: Revision) -> Step {
        Step::Create { ordinal, revision }
    }

    fn delete(name: &str, why: Why) -> Step {
        Step::Delete {
            name: name.into(),
            why,
        }
    }

    #[test]
    fn ordered_ready_creates_one_at_a_time() {
        let s = set(3, "OrderedReady");
        assert_eq!(run(&s, &[]).steps, [create(0, Revision::Update)]);
        // web-0 exists but is not ready yet: nothing more.
        let pods = [pod(0, "Pending", false, "web-2")];
        assert!(run(&s, &pods).steps.is_empty());
        let pods = [pod(0, "Running", true, "web-2")];
        assert_eq!(run(&s, &pods).steps, [create(1, Revision::Update)]);
    }

    #[test]
    fn parallel_creates_everything_missing() {
        let s = set(3, "Parallel");
        let pods = [pod(1, "Pending", false, "web-2")];
        assert_eq!(
            run(&s, &pods).steps,
            [create(0, Revision::Update), create(2, Revision::Update)]
        );
    }

    #[test]
    fn scale_down_goes_from_the_highest_ordinal() {
        let s = set(1, "OrderedReady");
        let pods = [
            pod(0, "Running", true, "web-2"),
            pod(1, "Running", true, "web-2"),
            pod(2, "Running", true, "web-2"),
        ];
        let p = run(&s, &pods);
        assert_eq!(p.steps, [delete("web-2", Why::ScaleDown)]);
        assert_eq!(p.counts.replicas, 3);
        // In parallel, both at once.
        let s = set(1, "Parallel");
        assert_eq!(
            run(&s, &pods).steps,
            [
                delete("web-2", Why::ScaleDown),
                delete("web-1", Why::ScaleDown)
            ]
        );
    }

    #[test]
    fn failed_pods_are_replaced() {
        let s = set(2, "OrderedReady");
        let pods = [
            pod(0, "Failed", false, "web-2"),
            pod(1, "Running", true, "web-2"),
        ];
        assert_eq!(run(&s, &pods).steps, [delete("web-0", Why::Finished)]);
    }

    #[test]
    fn rolling_update_goes_down_from_the_top_and_respects_the_partition() {
        let mut s = set(3, "OrderedReady");
        let pods = [
            pod(0, "Running", true, "web-1"),
            pod(1, "Running", true, "web-1"),
            pod(2, "Running", true, "web-1"),
        ];
        let p = run(&s, &pods);
        assert_eq!(p.steps, [delete("web-2", Why::Update)]);
        assert_eq!(p.counts.current, 2);
        let pods = [
            pod(0, "Running", true, "web-1"),
            pod(1, "Running", true, "web-1"),
            pod(2, "Running", true, "web-2"),
        ];
        assert_eq!(run(&s, &pods).steps, [delete("web-1", Why::Update)]);
        // A replacement that is not ready yet holds the rollout.
        let pods = [
            pod(0, "Running", true, "web-1"),
            pod(1, "Running", true, "web-1"),
            pod(2, "Running", false, "web-2"),
        ];
        assert!(run(&s, &pods).steps.is_empty());

        s.spec
            .as_mut()
            .unwrap()
            .update_strategy
            .as_mut()
            .unwrap()
            .rolling_update
            .as_mut()
            .unwrap()
            .partition = Some(2);
        let pods = [
            pod(0, "Running", true, "web-1"),
            pod(1, "Running", true, "web-1"),
            pod(2, "Running", true, "web-2"),
        ];
        assert!(run(&s, &pods).steps.is_empty());
        // Below the partition a re-created pod keeps the current revision.
        assert_eq!(revision_for(&s, 1), Revision::Current);
        assert_eq!(revision_for(&s, 2), Revision::Update);
    }

    #[test]
    fn on_delete_never_deletes_for_an_update() {
        let mut s = set(1, "OrderedReady");
        s.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
        let pods = [pod(0, "Running", true, "web-1")];
        assert!(run(&s, &pods).steps.is_empty());
        assert_eq!(revision_for(&s, 0), Revision::Update);
    }

    #[test]
    fn status_counts_follow_revisions_and_readiness() {
        let s = set(3, "OrderedReady");
        let pods = [
            pod(0, "Running", true, "web-1"),
            pod(1, "Running", false, "web-2"),
        ];
        let c = run(&s, &pods).counts;
        assert_eq!(
            c,
            Counts {
                replicas: 2,
                ready: 1,
                available: 1,
                current: 1,
                updated: 1
            }
        );
    }

    #[test]
    fn min_ready_seconds_holds_ordered_progress() {
        let mut s = set(2, "OrderedReady");
        s.spec.as_mut().unwrap().min_ready_seconds = Some(30);
        let mut p0 = pod(0, "Running", true, "web-2");
        p0.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_transition_time =
            Some(Time(Timestamp::now()));
        let plan = run(&s, &[p0]);
        assert!(plan.steps.is_empty());
        assert_eq!(plan.counts.available, 0);
        assert!(plan.recheck.is_some());
    }
}

//! The Job controller (upstream pkg/controller/job): runs pods from a Job's template until
//! enough succeed (`completions`, at most `parallelism` at once, `NonIndexed` or
//! `Indexed`), or the Job fails (`backoffLimit`, `activeDeadlineSeconds`,
//! `podFailurePolicy`), honouring `suspend` and `successPolicy`.
//!
//! Finished pods are counted exactly once with the `batch.kubernetes.io/job-tracking`
//! finalizer, as upstream: a finished pod's UID first goes to
//! `status.uncountedTerminatedPods`, then its finalizer is removed, then it moves to the
//! `succeeded`/`failed` counters. A Job ends in two steps, `FailureTarget` or
//! `SuccessCriteriaMet` first, then `Failed` or `Complete` once its pods are gone.

mod indexes;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use crate::informers::Cache;

pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const INDEX_KEY: &str = "batch.kubernetes.io/job-completion-index";
const CONTROLLER_NAME: &str = "kubernetes.io/job-controller";
/// Upstream's pod-recreation backoff after failures: 10s doubling, at most 6 minutes.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);
const MSG_COMPLETIONS: &str = "Reached expected number of succeeded pods";

struct Ctx {
    client: Client,
    events: crate::events::Events,
    /// Per Job UID: the failure count last seen and when it last grew, for the backoff.
    failures: Mutex<HashMap<String, (i32, Instant)>>,
}

/// `pods` and `cache` are the controller manager's shared pod feed and cache.
pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
    cache: Arc<Cache<Pod>>,
) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "job-controller");
    let jobs = Api::<Job>::all(client.clone());
    let owner_of = |pod: Arc<Pod>| {
        let ns = pod.namespace().unwrap_or_default();
        pod.owner_references()
            .iter()
            .find(|o| o.controller == Some(true) && o.kind == "Job")
            .map(|o| ObjectRef::<Job>::new(&o.name).within(&ns))
    };
    tokio::spawn(release_orphans(client.clone(), cache));
    let ctx = Arc::new(Ctx {
        client,
        events,
        failures: Mutex::new(HashMap::new()),
    });
    Controller::new(jobs, watcher::Config::default())
        .watches_shared_stream(pods, owner_of)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("job controller: {e}");
            }
        })
        .await;
    Ok(())
}

/// Pods whose Job is gone keep no tracking finalizer (nobody would ever count them), as
/// upstream's orphan pod cleanup. Pods are listed before Jobs, so a Job that made a pod
/// is always seen.
async fn release_orphans(client: Client, cache: Arc<Cache<Pod>>) {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        if !cache.is_ready() {
            continue;
        }
        let pods = cache.state();
        let Ok(jobs) = Api::<Job>::all(client.clone())
            .list(&ListParams::default())
            .await
        else {
            continue;
        };
        let live: BTreeSet<String> = jobs
            .items
            .iter()
            .filter_map(|j| j.metadata.uid.clone())
            .collect();
        for pod in pods.iter().filter(|p| has_finalizer(p)) {
            let owner = pod
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true) && o.kind == "Job");
            if owner.is_none_or(|o| !live.contains(&o.uid)) {
                let api =
                    Api::<Pod>::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
                if let Err(e) = remove_finalizer(&api, pod).await {
                    tracing::debug!("releasing pod {}: {e}", pod.name_any());
                }
            }
        }
    }
}

fn error_policy(_job: Arc<Job>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

fn now() -> Time {
    Time(Timestamp::now())
}

fn condition_true(status: &JobStatus, type_: &str) -> Option<JobCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_ && c.status == "True")
        .cloned()
}

/// Set a condition, keeping its transition time when its status does not change.
fn set_condition(status: &mut JobStatus, type_: &str, value: bool, reason: &str, message: &str) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let value = if value { "True" } else { "False" };
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != value {
            c.last_transition_time = Some(now());
        }
        c.status = value.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        c.last_probe_time = Some(now());
        return;
    }
    conditions.push(JobCondition {
        type_: type_.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now()),
        last_transition_time: Some(now()),
    });
}

pub fn is_finished(job: &Job) -> bool {
    job.status.as_ref().is_some_and(|s| {
        condition_true(s, "Complete").is_some() || condition_true(s, "Failed").is_some()
    })
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
}

/// Upstream's `isPodFailed`: Failed, or, when only failed pods are not the sole trigger
/// for replacement and no failure policy looks at exit codes, deleted before succeeding.
fn is_failed(pod: &Pod, job: &Job) -> bool {
    if phase(pod) == "Failed" {
        return true;
    }
    let spec = job.spec.as_ref();
    let only_failed = spec.and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed");
    let has_policy = spec.is_some_and(|s| s.pod_failure_policy.is_some());
    !only_failed
        && !has_policy
        && pod.metadata.deletion_timestamp.is_some()
        && phase(pod) != "Succeeded"
}

fn is_finished_pod(pod: &Pod, job: &Job) -> bool {
    phase(pod) == "Succeeded" || is_failed(pod, job)
}

fn pod_index(pod: &Pod) -> Option<i32> {
    pod.annotations()
        .get(INDEX_KEY)
        .or_else(|| pod.labels().get(INDEX_KEY))?
        .parse()
        .ok()
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What a podFailurePolicy rule decides about a failed pod: the action and the message.
fn failure_policy_match(job: &Job, pod: &Pod) -> Option<(String, String)> {
    let policy = job.spec.as_ref()?.pod_failure_policy.as_ref()?;
    if phase(pod) != "Failed" {
        return None;
    }
    let status = pod.status.as_ref()?;
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    for (i, rule) in policy.rules.iter().enumerate() {
        if let Some(req) = &rule.on_exit_codes {
            let statuses = status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten());
            for cs in statuses {
                if req.container_name.as_ref().is_some_and(|n| *n != cs.name) {
                    continue;
                }
                let Some(code) = cs
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .map(|t| t.exit_code)
                else {
                    continue;
                };
                // Exit code 0 never counts as a failure of that container.
                if code == 0 {
                    continue;
                }
                let listed = req.values.contains(&code);
                let hit = match req.operator.as_str() {
                    "In" => listed,
                    "NotIn" => !listed,
                    _ => false,
                };
                if hit {
                    return Some((
                        rule.action.clone(),
                        format!(
                            "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {i}",
                            cs.name, rule.action
                        ),
                    ));
                }
            }
        }
        for pattern in rule.on_pod_conditions.iter().flatten() {
            let hit = status.conditions.iter().flatten().any(|c| {
                c.type_ == pattern.type_
                    && c.status
                        == if pattern.status.is_empty() {
                            "True"
                        } else {
                            pattern.status.as_str()
                        }
            });
            if hit {
                return Some((
                    rule.action.clone(),
                    format!(
                        "Pod {ns}/{name} has condition {} matching {} rule at index {i}",
                        pattern.type_, rule.action
                    ),
                ));
            }
        }
    }
    None
}

fn controller_ref(job: &Job) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.name_any(),
        uid: job.metadata.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

fn new_pod(job: &Job, owner: &OwnerReference, index: Option<i32>) -> Pod {
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    finalizers.push(TRACKING_FINALIZER.into());
    let mut generate_name = format!("{}-", job.name_any());
    if let Some(i) = index {
        labels.insert(INDEX_KEY.into(), i.to_string());
        annotations.insert(INDEX_KEY.into(), i.to_string());
        generate_name = format!("{}-{i}-", job.name_any());
        if spec.hostname.is_none() {
            spec.hostname = Some(format!("{}-{i}", job.name_any()));
        }
        // Workloads learn their index from the environment, as upstream injects it.
        let env = EnvVar {
            name: "JOB_COMPLETION_INDEX".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: format!("metadata.labels['{INDEX_KEY}']"),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let containers = spec
            .init_containers
            .iter_mut()
            .flatten()
            .chain(spec.containers.iter_mut());
        for c in containers {
            let vars = c.env.get_or_insert_with(Vec::new);
            if !vars.iter().any(|v| v.name == env.name) {
                vars.push(env.clone());
            }
        }
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        },
        spec: Some(spec),
        ..Default::default()
    }
}

/// Remove the tracking finalizer; the resourceVersion makes a concurrent change a 409
/// (retried) instead of a lost finalizer of someone else's.
async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let rest: Vec<&String> = pod
        .finalizers()
        .iter()
        .filter(|f| *f != TRACKING_FINALIZER)
        .collect();
    let patch = serde_json::json!({"metadata": {
        "resourceVersion": pod.metadata.resource_version, "finalizers": rest}});
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn delete_pods(
    ctx: &Ctx,
    job: &Job,
    api: &Api<Pod>,
    pods: &[&Pod],
) -> Result<(), kube::Error> {
    let reference = job.object_ref(&());
    for pod in pods {
        ctx.events
            .delete(
                api,
                &pod.name_any(),
                &DeleteParams::background(),
                &reference,
                format!("Deleted pod: {}", pod.name_any()),
            )
            .await?;
    }
    Ok(())
}

async fn write_status(client: &Client, job: &Job, status: &JobStatus) -> Result<(), kube::Error> {
    if job.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api = Api::<Job>::namespaced(client.clone(), &job.namespace().unwrap_or_default());
    let mut value = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
    // A merge patch only clears what it names: emptied uncounted lists must say null.
    let uncounted = &mut value["uncountedTerminatedPods"];
    for key in ["succeeded", "failed"] {
        if uncounted.get(key).is_none() {
            uncounted[key] = serde_json::Value::Null;
        }
    }
    let patch = serde_json::json!({ "status": value });
    api.patch_status(
        &job.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let Some(spec) = job.spec.clone() else {
        return Ok(Action::await_change());
    };
    // Jobs managed by another controller are theirs alone.
    if spec
        .managed_by
        .as_deref()
        .is_some_and(|m| m != CONTROLLER_NAME)
    {
        return Ok(Action::await_change());
    }
    let Some(owner) = controller_ref(&job) else {
        return Ok(Action::await_change());
    };
    let ns = job.namespace().unwrap_or_default();
    let pods_api = Api::<Pod>::namespaced(ctx.client.clone(), &ns);
    let query = spec
        .selector
        .as_ref()
        .map(crate::replicaset::selector_query)
        .unwrap_or_default();
    if query.is_empty() {
        return Ok(Action::await_change());
    }
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&query))
        .await?
        .items
        .into_iter()
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == owner.uid)
        })
        .collect();
    // A Job being deleted or already finished counts nothing more: its pods are let go.
    if job.metadata.deletion_timestamp.is_some() || is_finished(&job) {
        for pod in pods.iter().filter(|p| has_finalizer(p)) {
            remove_finalizer(&pods_api, pod).await?;
        }
        return Ok(Action::await_change());
    }
    let mut status = job.status.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");

    // 1. Count finished pods exactly once through the tracking finalizer.
    let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut uncounted_ok: BTreeSet<String> =
        uncounted.succeeded.iter().flatten().cloned().collect();
    let mut uncounted_failed: BTreeSet<String> =
        uncounted.failed.iter().flatten().cloned().collect();
    let mut fail_job: Option<String> = None;
    let mut to_release: Vec<&Pod> = Vec::new();
    for pod in &pods {
        if !has_finalizer(pod) || !is_finished_pod(pod, &job) {
            continue;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        to_release.push(pod);
        if uncounted_ok.contains(&uid) || uncounted_failed.contains(&uid) {
            continue;
        }
        if phase(pod) == "Succeeded" {
            uncounted_ok.insert(uid);
            continue;
        }
        match failure_policy_match(&job, pod) {
            Some((action, _)) if action == "Ignore" => {}
            Some((action, message)) if action == "FailJob" => {
                fail_job.get_or_insert(message);
                uncounted_failed.insert(uid);
            }
            _ => {
                uncounted_failed.insert(uid);
            }
        }
    }
    let pending = !to_release.is_empty();
    if pending {
        uncounted.succeeded = Some(uncounted_ok.iter().cloned().collect());
        uncounted.failed = Some(uncounted_failed.iter().cloned().collect());
        status.uncounted_terminated_pods = Some(uncounted.clone());
        write_status(&ctx.client, &job, &status).await?;
        for pod in &to_release {
            remove_finalizer(&pods_api, pod).await?;
        }
    }
    // Every uncounted pod has now lost its finalizer (or is gone): count it.
    let mut completed = indexes::parse(status.completed_indexes.as_deref().unwrap_or_default());
    for pod in &pods {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if indexed && uncounted_ok.contains(&uid) {
            completed.extend(pod_index(pod));
        }
    }
    if indexed {
        let n = spec.completions.unwrap_or(0);
        completed.retain(|i| (0..n).contains(i));
        status.completed_indexes = Some(indexes::format(&completed));
        status.succeeded = Some(completed.len() as i32);
    } else {
        status.succeeded = Some(status.succeeded.unwrap_or(0) + uncounted_ok.len() as i32);
    }
    status.failed = Some(status.failed.unwrap_or(0) + uncounted_failed.len() as i32);
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());
    let succeeded = status.succeeded.unwrap_or(0);
    let failed = status.failed.unwrap_or(0);

    let active: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && !is_finished_pod(p, &job))
        .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
        .collect();
    let terminating = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
        .count() as i32;
    let suspended = spec.suspend.unwrap_or(false);
    let reference = job.object_ref(&());
    if status.start_time.is_none() && !suspended {
        status.start_time = Some(now());
    }

    // 2. Decide whether the Job has reached its end.
    let already_target = condition_true(&status, "FailureTarget")
        .or_else(|| condition_true(&status, "SuccessCriteriaMet"));
    if already_target.is_none() && !is_finished(&job) {
        let deadline_passed = !suspended
            && spec.active_deadline_seconds.is_some_and(|d| {
                status
                    .start_time
                    .as_ref()
                    .is_some_and(|t| Timestamp::now().as_second() - t.0.as_second() >= d)
            });
        let failure = if let Some(message) = fail_job {
            Some(("PodFailurePolicy", message))
        } else if failed > spec.backoff_limit.unwrap_or(6) {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit".to_string(),
            ))
        } else if deadline_passed {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline".to_string(),
            ))
        } else {
            None
        };
        if let Some((reason, message)) = failure {
            set_condition(&mut status, "FailureTarget", true, reason, &message);
        } else if let Some(i) = success_policy_match(&spec, &completed) {
            set_condition(
                &mut status,
                "SuccessCriteriaMet",
                true,
                "SuccessPolicy",
                &format!("Matched rules at index {i}"),
            );
        } else {
            let done = match spec.completions {
                Some(n) => succeeded >= n,
                // A work queue is done once one pod succeeded and none is still running.
                None => succeeded > 0 && active.is_empty() && !pending,
            };
            if done {
                set_condition(
                    &mut status,
                    "SuccessCriteriaMet",
                    true,
                    "CompletionsReached",
                    MSG_COMPLETIONS,
                );
            }
        }
    }
    let target = condition_true(&status, "FailureTarget")
        .map(|c| ("Failed", c))
        .or_else(|| condition_true(&status, "SuccessCriteriaMet").map(|c| ("Complete", c)));
    let mut active_count = active.len() as i32;
    let mut terminating = terminating;
    let mut requeue: Option<Duration> = None;
    if let Some((final_type, cond)) = target {
        // Finishing: stop whatever still runs, then record the final condition.
        if !active.is_empty() {
            delete_pods(&ctx, &job, &pods_api, &active).await?;
            terminating += active_count;
            active_count = 0;
        }
        if terminating == 0 && condition_true(&status, final_type).is_none() {
            let reason = cond.reason.clone().unwrap_or_default();
            let message = cond.message.clone().unwrap_or_default();
            set_condition(&mut status, final_type, true, &reason, &message);
            if final_type == "Complete" {
                status.completion_time = Some(now());
                ctx.events
                    .publish(
                        &reference,
                        false,
                        "Completed",
                        "Complete",
                        "Job completed".into(),
                    )
                    .await;
            } else {
                ctx.events
                    .publish(&reference, true, &reason, "Fail", message)
                    .await;
            }
        }
    } else if suspended {
        if !active.is_empty() {
            delete_pods(&ctx, &job, &pods_api, &active).await?;
            terminating += active_count;
            active_count = 0;
        }
        if condition_true(&status, "Suspended").is_none() {
            set_condition(
                &mut status,
                "Suspended",
                true,
                "JobSuspended",
                "Job suspended",
            );
            ctx.events
                .publish(
                    &reference,
                    false,
                    "Suspended",
                    "Suspend",
                    "Job suspended".into(),
                )
                .await;
        }
    } else {
        if condition_true(&status, "Suspended").is_some() {
            set_condition(&mut status, "Suspended", false, "JobResumed", "Job resumed");
            // The deadline counts from the resumption.
            status.start_time = Some(now());
            ctx.events
                .publish(&reference, false, "Resumed", "Resume", "Job resumed".into())
                .await;
        }
        // 3. Run the pods that are missing (after the failure backoff), stop extra ones.
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let wait = backoff_remaining(&ctx, &job, failed);
        let (create, remove): (Vec<Option<i32>>, Vec<&Pod>) = if indexed {
            let n = spec.completions.unwrap_or(0);
            let running: BTreeSet<i32> = active.iter().filter_map(|p| pod_index(p)).collect();
            let pending_idx: Vec<i32> = (0..n)
                .filter(|i| !completed.contains(i) && !running.contains(i))
                .collect();
            let room = (parallelism - active_count).max(0) as usize;
            // Pods without a valid index, or of an index already done, go.
            let extra: Vec<&Pod> = active
                .iter()
                .filter(|p| pod_index(p).is_none_or(|i| completed.contains(&i) || i >= n))
                .copied()
                .collect();
            (
                pending_idx.into_iter().take(room).map(Some).collect(),
                extra,
            )
        } else {
            let want = match spec.completions {
                Some(n) => parallelism.min((n - succeeded).max(0)),
                None if succeeded > 0 => 0,
                None => parallelism,
            };
            if active_count < want {
                (vec![None; (want - active_count) as usize], Vec::new())
            } else {
                let mut victims = active.clone();
                victims.sort_by_key(|p| std::cmp::Reverse(p.metadata.creation_timestamp.clone()));
                victims.truncate((active_count - want) as usize);
                (Vec::new(), victims)
            }
        };
        if !remove.is_empty() {
            delete_pods(&ctx, &job, &pods_api, &remove).await?;
            active_count -= remove.len() as i32;
            terminating += remove.len() as i32;
        }
        if !create.is_empty() {
            if let Some(w) = wait {
                requeue = Some(w);
            } else {
                for index in create {
                    match pods_api
                        .create(&PostParams::default(), &new_pod(&job, &owner, index))
                        .await
                    {
                        Ok(p) => {
                            active_count += 1;
                            ctx.events
                                .publish(
                                    &reference,
                                    false,
                                    "SuccessfulCreate",
                                    "Create",
                                    format!("Created pod: {}", p.name_any()),
                                )
                                .await;
                        }
                        Err(e) => {
                            ctx.events
                                .publish(
                                    &reference,
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
            }
        }
        if let (Some(d), Some(start)) = (spec.active_deadline_seconds, status.start_time.as_ref()) {
            let left = d - (Timestamp::now().as_second() - start.0.as_second());
            let left = Duration::from_secs(left.max(1) as u64);
            requeue = Some(requeue.map_or(left, |r| r.min(left)));
        }
    }
    status.active = Some(active_count);
    status.ready = Some(
        active
            .iter()
            .filter(|p| pod_ready(p))
            .count()
            .min(active_count as usize) as i32,
    );
    status.terminating = Some(terminating);
    write_status(&ctx.client, &job, &status).await?;
    Ok(match requeue {
        Some(d) => Action::requeue(d),
        None => Action::await_change(),
    })
}

/// The first successPolicy rule the completed indexes satisfy.
fn success_policy_match(
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    completed: &BTreeSet<i32>,
) -> Option<usize> {
    let policy = spec.success_policy.as_ref()?;
    if spec.completion_mode.as_deref() != Some("Indexed") {
        return None;
    }
    policy.rules.iter().position(|rule| {
        let matching = match &rule.succeeded_indexes {
            Some(s) => {
                let wanted = indexes::parse(s);
                let done = wanted.intersection(completed).count();
                if rule.succeeded_count.is_none() && done < wanted.len() {
                    return false;
                }
                done
            }
            None => completed.len(),
        };
        rule.succeeded_count.is_none_or(|n| matching >= n as usize)
    })
}

/// How long pod creation must still wait after the latest failure (10s, doubling).
fn backoff_remaining(ctx: &Ctx, job: &Job, failed: i32) -> Option<Duration> {
    if failed == 0 {
        return None;
    }
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let mut map = ctx.failures.lock().ok()?;
    let entry = map.entry(uid).or_insert((failed, Instant::now()));
    if entry.0 != failed {
        *entry = (failed, Instant::now());
    }
    let exp = (failed - 1).clamp(0, 16) as u32;
    let delay = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(exp))
        .min(BACKOFF_MAX);
    delay
        .checked_sub(entry.1.elapsed())
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobSpec, SuccessPolicy, SuccessPolicyRule};

    #[test]
    fn success_policy_rules_match_completed_indexes() {
        let spec = JobSpec {
            completion_mode: Some("Indexed".into()),
            success_policy: Some(SuccessPolicy {
                rules: vec![
                    SuccessPolicyRule {
                        succeeded_indexes: Some("0-2".into()),
                        succeeded_count: None,
                    },
                    SuccessPolicyRule {
                        succeeded_indexes: None,
                        succeeded_count: Some(2),
                    },
                ],
            }),
            ..Default::default()
        };
        assert_eq!(success_policy_match(&spec, &indexes::parse("4")), None);
        assert_eq!(success_policy_match(&spec, &indexes::parse("0,4")), Some(1));
        assert_eq!(success_policy_match(&spec, &indexes::parse("0-2")), Some(0));
    }

    #[test]
    fn indexed_pods_carry_their_index() {
        let job = Job {
            metadata: ObjectMeta {
                name: Some("j".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                template: k8s_openapi::api::core::v1::PodTemplateSpec {
                    spec: Some(k8s_openapi::api::core::v1::PodSpec {
                        containers: vec![Default::default()],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        let owner = OwnerReference::default();
        let pod = new_pod(&job, &owner, Some(3));
        assert_eq!(pod_index(&pod), Some(3));
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("j-3-"));
        assert_eq!(pod.spec.as_ref().unwrap().hostname.as_deref(), Some("j-3"));
        assert!(has_finalizer(&pod));
    }
}

//! The CronJob controller (upstream pkg/controller/cronjob, v2): creates a Job named
//! `<cronjob>-<scheduled minutes since the epoch>` at each scheduled time (in
//! `spec.timeZone`), honouring `concurrencyPolicy`, `startingDeadlineSeconds` and
//! `suspend`, tracks `status.active`, `lastScheduleTime` and `lastSuccessfulTime`, and
//! prunes finished Jobs past the history limits.

mod schedule;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

pub use schedule::Schedule;

const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Upstream gives up listing missed start times past this many (and says so).
const MAX_MISSED: usize = 100;

struct Ctx {
    client: Client,
    events: crate::events::Events,
}

pub async fn run(client: Client) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "cronjob-controller");
    Controller::new(
        Api::<CronJob>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Job>::all(client.clone()), watcher::Config::default())
    .run(reconcile, error_policy, Arc::new(Ctx { client, events }))
    .for_each(|res| async move {
        if let Err(e) = res {
            tracing::debug!("cronjob controller: {e}");
        }
    })
    .await;
    Ok(())
}

fn error_policy(_cj: Arc<CronJob>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// `<cronjob>-<minutes since the epoch>`: one name per scheduled time, so a retried
/// create can never make a second Job for it.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// A `TZ=`/`CRON_TZ=` prefix in the schedule, which upstream parses but does not
/// support (validation rejects it on new objects).
fn split_tz_prefix(schedule: &str) -> (Option<&str>, &str) {
    for prefix in ["CRON_TZ=", "TZ="] {
        if let Some(rest) = schedule.strip_prefix(prefix) {
            let (zone, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            return (Some(zone), rest);
        }
    }
    (None, schedule)
}

fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(job.name_any()),
        namespace: job.namespace(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn finished_condition(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    ["Complete", "Failed"].into_iter().find(|t| {
        conditions
            .iter()
            .any(|c| c.type_ == *t && c.status == "True")
    })
}

async fn reconcile(cj: Arc<CronJob>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    if cj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(uid) = cj.metadata.uid.clone() else {
        return Ok(Action::await_change());
    };
    let ns = cj.namespace().unwrap_or_default();
    let name = cj.name_any();
    let spec = cj.spec.clone().unwrap_or_default();
    let reference = cj.object_ref(&());
    let jobs_api = Api::<Job>::namespaced(ctx.client.clone(), &ns);
    let owned: Vec<Job> = jobs_api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .collect();
    let old_status = cj.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    let mut active = status.active.clone().unwrap_or_default();

    // 1. Bring status.active up to date with the Jobs that exist.
    for job in &owned {
        let listed = active.iter().any(|r| r.uid == job.metadata.uid);
        if let (true, Some(cond)) = (listed, finished_condition(job)) {
            active.retain(|r| r.uid != job.metadata.uid);
            ctx.events
                .publish(
                    &reference,
                    false,
                    "SawCompletedJob",
                    "Update",
                    format!("Saw completed job: {}, condition: {cond}", job.name_any()),
                )
                .await;
            if cond == "Complete" {
                let done = job.status.as_ref().and_then(|s| s.completion_time.clone());
                if let Some(t) = done {
                    if status
                        .last_successful_time
                        .as_ref()
                        .is_none_or(|l| l.0 < t.0)
                    {
                        status.last_successful_time = Some(t);
                    }
                }
            }
        }
    }
    let missing: Vec<ObjectReference> = active
        .iter()
        .filter(|r| !owned.iter().any(|j| j.metadata.uid == r.uid))
        .cloned()
        .collect();
    for r in missing {
        active.retain(|a| a.uid != r.uid);
        ctx.events
            .publish(
                &reference,
                false,
                "MissingJob",
                "Update",
                format!("Active job went missing: {}", r.name.unwrap_or_default()),
            )
            .await;
    }

    // 2. Is a Job due?
    let mut requeue: Option<Duration> = None;
    let due = if spec.suspend.unwrap_or(false) {
        None
    } else {
        let (prefix_zone, expr) = split_tz_prefix(&spec.schedule);
        if prefix_zone.is_some() {
            ctx.events
                .publish(
                    &reference,
                    true,
                    "UnsupportedSchedule",
                    "Schedule",
                    format!(
                        "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                        spec.schedule
                    ),
                )
                .await;
        }
        let zone = spec.time_zone.as_deref().or(prefix_zone);
        let tz = match zone {
            None => Ok(TimeZone::system()),
            Some(z) => TimeZone::get(z).map_err(|e| e.to_string()),
        };
        let parsed = Schedule::parse(expr);
        match (tz, parsed) {
            (Err(e), _) => {
                ctx.events
                    .publish(
                        &reference,
                        true,
                        "UnknownTimeZone",
                        "Schedule",
                        format!("invalid timeZone: {:?}: {e}", zone.unwrap_or_default()),
                    )
                    .await;
                None
            }
            (_, Err(e)) => {
                ctx.events
                    .publish(
                        &reference,
                        true,
                        "UnparseableSchedule",
                        "Schedule",
                        format!("unparseable schedule: {:?} : {e}", spec.schedule),
                    )
                    .await;
                None
            }
            (Ok(tz), Ok(sched)) => {
                let now = Timestamp::now();
                let mut earliest = status
                    .last_schedule_time
                    .as_ref()
                    .or(cj.metadata.creation_timestamp.as_ref())
                    .map_or(now, |t| t.0);
                if let Some(d) = spec.starting_deadline_seconds {
                    let floor = now
                        .checked_sub(jiff::SignedDuration::from_secs(d))
                        .unwrap_or(now);
                    if floor > earliest {
                        earliest = floor;
                    }
                }
                let mut missed = 0usize;
                let mut latest = None;
                let mut t = earliest;
                while let Some(next) = sched.next(t, &tz) {
                    if next > now {
                        let wait = next.duration_since(now).unsigned_abs();
                        requeue = Some(wait + Duration::from_millis(100));
                        break;
                    }
                    missed += 1;
                    latest = Some(next);
                    t = next;
                    if missed > 100_000 {
                        break;
                    }
                }
                if missed > MAX_MISSED {
                    ctx.events
                        .publish(
                            &reference,
                            true,
                            "TooManyMissedTimes",
                            "Schedule",
                            format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
                        )
                        .await;
                }
                latest.map(|l| (l, tz))
            }
        }
    };

    // 3. Start the due Job, as the concurrency policy allows.
    if let Some((scheduled, tz)) = due {
        let job_name = job_name(&name, scheduled);
        let exists = owned.iter().any(|j| j.name_any() == job_name);
        let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
        let too_late = spec
            .starting_deadline_seconds
            .is_some_and(|d| Timestamp::now().as_second() - scheduled.as_second() > d);
        if exists {
            // Already started: nothing to do until the next time.
        } else if too_late {
            ctx.events
                .publish(
                    &reference,
                    true,
                    "MissSchedule",
                    "Schedule",
                    format!("Missed scheduled time to start a job: {scheduled}"),
                )
                .await;
        } else if policy == "Forbid" && !active.is_empty() {
            ctx.events
                .publish(
                    &reference,
                    false,
                    "JobAlreadyActive",
                    "Schedule",
                    "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
                )
                .await;
        } else {
            if policy == "Replace" {
                for r in std::mem::take(&mut active) {
                    let n = r.name.clone().unwrap_or_default();
                    match jobs_api.delete(&n, &DeleteParams::background()).await {
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Ok(_) => {
                            ctx.events
                                .publish(
                                    &reference,
                                    false,
                                    "SuccessfulDelete",
                                    "Delete",
                                    format!("Deleted job {n}"),
                                )
                                .await;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            let template = spec.job_template.clone();
            let meta = template.metadata.unwrap_or_default();
            let mut annotations = meta.annotations.unwrap_or_default();
            annotations.insert(
                SCHEDULED_TIMESTAMP.into(),
                scheduled
                    .to_zoned(tz)
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string(),
            );
            let job = Job {
                metadata: ObjectMeta {
                    name: Some(job_name.clone()),
                    namespace: Some(ns.clone()),
                    labels: meta.labels,
                    annotations: Some(annotations),
                    owner_references: Some(vec![OwnerReference {
                        api_version: "batch/v1".into(),
                        kind: "CronJob".into(),
                        name: name.clone(),
                        uid: uid.clone(),
                        controller: Some(true),
                        block_owner_deletion: Some(true),
                    }]),
                    ..Default::default()
                },
                spec: template.spec,
                ..Default::default()
            };
            match jobs_api.create(&PostParams::default(), &job).await {
                Ok(created) => {
                    ctx.events
                        .publish(
                            &reference,
                            false,
                            "SuccessfulCreate",
                            "Create",
                            format!("Created job {job_name}"),
                        )
                        .await;
                    active.push(job_ref(&created));
                    status.last_schedule_time = Some(Time(scheduled));
                }
                // Made already (a lost status update): the Job list will show it.
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    status.last_schedule_time = Some(Time(scheduled));
                }
                Err(e) => {
                    ctx.events
                        .publish(
                            &reference,
                            true,
                            "FailedCreate",
                            "Create",
                            format!("Error creating job: {e}"),
                        )
                        .await;
                    return Err(e);
                }
            }
        }
    }

    // 4. Status, then history.
    status.active = (!active.is_empty()).then_some(active);
    if status != old_status {
        let mut value = serde_json::to_value(&status).map_err(kube::Error::SerdeError)?;
        if status.active.is_none() {
            value["active"] = serde_json::Value::Null;
        }
        Api::<CronJob>::namespaced(ctx.client.clone(), &ns)
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "status": value })),
            )
            .await?;
    }
    prune_history(&ctx, &cj, &jobs_api, &owned).await?;
    Ok(match requeue {
        Some(d) => Action::requeue(d),
        None => Action::await_change(),
    })
}

/// Delete the oldest finished Jobs beyond `successfulJobsHistoryLimit` (default 3) and
/// `failedJobsHistoryLimit` (default 1).
async fn prune_history(
    ctx: &Ctx,
    cj: &CronJob,
    api: &Api<Job>,
    owned: &[Job],
) -> Result<(), kube::Error> {
    let spec = cj.spec.clone().unwrap_or_default();
    let reference = cj.object_ref(&());
    for (cond, limit) in [
        ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
        ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
    ] {
        let mut done: Vec<&Job> = owned
            .iter()
            .filter(|j| finished_condition(j) == Some(cond))
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .collect();
        let keep = limit.max(0) as usize;
        if done.len() <= keep {
            continue;
        }
        done.sort_by_key(|j| {
            j.status
                .as_ref()
                .and_then(|s| s.start_time.clone())
                .or(j.metadata.creation_timestamp.clone())
                .map(|t| t.0)
        });
        let excess = done.len() - keep;
        for job in done.into_iter().take(excess) {
            ctx.events
                .delete(
                    api,
                    &job.name_any(),
                    &DeleteParams::background(),
                    &reference,
                    format!("Deleted job {}", job.name_any()),
                )
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_count_minutes_since_the_epoch() {
        let t: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        assert_eq!(job_name("hello", t), "hello-29453765");
    }

    #[test]
    fn tz_prefixes_are_split_off() {
        assert_eq!(
            split_tz_prefix("TZ=Europe/Paris 0 * * * *"),
            (Some("Europe/Paris"), "0 * * * *")
        );
        assert_eq!(split_tz_prefix("0 * * * *"), (None, "0 * * * *"));
    }
}

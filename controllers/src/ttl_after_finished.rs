//! The TTL-after-finished controller (upstream pkg/controller/ttlafterfinished): deletes a
//! finished Job (with its pods, in the foreground) `spec.ttlSecondsAfterFinished` after it
//! completed or failed.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

pub async fn run(client: Client) -> anyhow::Result<()> {
    Controller::new(Api::<Job>::all(client.clone()), watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(client))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("ttl-after-finished controller: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_job: Arc<Job>, _err: &kube::Error, _ctx: Arc<Client>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// When a Job finished: its Complete or Failed condition's transition time.
pub fn finish_time(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(Timestamp::now(), |t| t.0)
        })
}

/// How long until the Job expires; zero once it has.
fn time_left(job: &Job, now: Timestamp) -> Option<Duration> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = finish_time(job)?;
    let expires = finished.as_second() + i64::from(ttl);
    Some(Duration::from_secs(
        (expires - now.as_second()).max(0) as u64
    ))
}

async fn reconcile(job: Arc<Job>, client: Arc<Client>) -> Result<Action, kube::Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(left) = time_left(&job, Timestamp::now()) else {
        return Ok(Action::await_change());
    };
    if !left.is_zero() {
        return Ok(Action::requeue(left));
    }
    let api = Api::<Job>::namespaced((*client).clone(), &job.namespace().unwrap_or_default());
    // Re-read: the TTL may have been changed since the cache saw the Job.
    let Some(fresh) = api.get_opt(&job.name_any()).await? else {
        return Ok(Action::await_change());
    };
    match time_left(&fresh, Timestamp::now()) {
        Some(left) if left.is_zero() => {}
        Some(left) => return Ok(Action::requeue(left)),
        None => return Ok(Action::await_change()),
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: fresh.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&fresh.name_any(), &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => return Err(e),
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn expiry_counts_from_the_finish() {
        let finished: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let job = Job {
            spec: Some(JobSpec {
                ttl_seconds_after_finished: Some(100),
                ..Default::default()
            }),
            status: Some(JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: "Complete".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(finished)),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let at = |s: &str| time_left(&job, s.parse().unwrap());
        assert_eq!(at("2026-01-01T00:00:40Z"), Some(Duration::from_secs(60)));
        assert_eq!(at("2026-01-01T00:05:00Z"), Some(Duration::ZERO));
    }
}

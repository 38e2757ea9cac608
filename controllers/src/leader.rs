//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection
//! package does it: try to acquire or renew every retry period; a lease is free once its
//! record has not changed for `leaseDurationSeconds` by the local clock (so clock skew
//! between candidates does not matter); a leader that cannot renew within the renew
//! deadline has lost. Used by the controller manager and the scheduler.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, Resource};
use tokio::sync::Mutex;

/// client-go's defaults, which kube-controller-manager and kube-scheduler keep.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    events: crate::events::Events,
    /// The last record seen and when it was first seen (local clock).
    observed: Mutex<Option<(LeaseSpec, Instant)>>,
}

/// Upstream's identity: the hostname and a unique suffix, so two processes on one host
/// are distinct candidates.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

impl LeaderElector {
    pub fn new(client: Client, namespace: &str, name: &str, component: &'static str) -> Self {
        LeaderElector {
            api: Api::namespaced(client.clone(), namespace),
            name: name.into(),
            identity: identity(),
            events: crate::events::Events::new(client, component),
            observed: Mutex::new(None),
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Wait until this candidate holds the lease.
    pub async fn acquire(&self) {
        tracing::info!(lease = %self.name, identity = %self.identity, "attempting to acquire leader lease");
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::debug!("leader election: {e}"),
            }
            tokio::time::sleep(RETRY_PERIOD).await;
        }
        tracing::info!(lease = %self.name, identity = %self.identity, "successfully acquired lease");
        if let Ok(lease) = self.api.get(&self.name).await {
            self.events
                .publish(
                    &lease.object_ref(&()),
                    false,
                    "LeaderElection",
                    "Acquire",
                    format!("{} became leader", self.identity),
                )
                .await;
        }
    }

    /// Keep renewing; returns (an error) only once the lease is lost.
    pub async fn hold(&self) -> anyhow::Error {
        let mut last_renewal = Instant::now();
        loop {
            tokio::time::sleep(RETRY_PERIOD).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = Instant::now(),
                Ok(false) => {
                    return anyhow::anyhow!("leaderelection lost: lease {} taken over", self.name)
                }
                Err(e) => tracing::debug!("renewing the leader lease: {e}"),
            }
            if last_renewal.elapsed() > RENEW_DEADLINE {
                return anyhow::anyhow!(
                    "leaderelection lost: could not renew lease {} within {RENEW_DEADLINE:?}",
                    self.name
                );
            }
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: true if we hold the lease after it.
    async fn try_acquire_or_renew(&self) -> Result<bool> {
        let now = MicroTime(Timestamp::now());
        let mine = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
            acquire_time: Some(now.clone()),
            renew_time: Some(now.clone()),
            lease_transitions: Some(0),
            ..Default::default()
        };
        let Some(current) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(mine.clone()),
            };
            self.api.create(&PostParams::default(), &lease).await?;
            *self.observed.lock().await = Some((mine, Instant::now()));
            return Ok(true);
        };
        let record = current.spec.clone().unwrap_or_default();
        let observed_at = {
            let mut observed = self.observed.lock().await;
            match observed.as_ref() {
                Some((seen, at)) if *seen == record => *at,
                _ => {
                    let at = Instant::now();
                    *observed = Some((record.clone(), at));
                    at
                }
            }
        };
        let holder = record.holder_identity.clone().unwrap_or_default();
        let held_by_me = holder == self.identity;
        let duration = Duration::from_secs(
            record
                .lease_duration_seconds
                .unwrap_or(LEASE_DURATION.as_secs() as i32)
                .max(0) as u64,
        );
        if !held_by_me && !holder.is_empty() && observed_at.elapsed() < duration {
            return Ok(false);
        }
        let transitions = record.lease_transitions.unwrap_or(0);
        let spec = if held_by_me {
            LeaseSpec {
                acquire_time: record.acquire_time.clone(),
                lease_transitions: Some(transitions),
                ..mine
            }
        } else {
            LeaseSpec {
                lease_transitions: Some(transitions + 1),
                ..mine
            }
        };
        let mut next = current.clone();
        next.spec = Some(spec.clone());
        // The update carries the resourceVersion read: a competing writer makes it 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => {
                *self.observed.lock().await = Some((spec, Instant::now()));
                Ok(true)
            }
            // Someone else wrote first: not ours this round, but not lost either.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                bail!("lease {} changed underneath: {e}", self.name)
            }
            Err(e) => bail!(e),
        }
    }
}

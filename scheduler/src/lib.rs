//! The scheduler: an API client on kube-runtime watchers that places pods whose
//! `schedulerName` is `default-scheduler` on nodes, as kube-scheduler does: a scheduling
//! queue, a cache of nodes and (assumed) pods, upstream's default filter and score plugins
//! and weights, preemption by priority, binding through `pods/binding`, and
//! `FailedScheduling`/`Scheduled` events plus the `PodScheduled` condition.

pub mod algorithm;
pub mod cache;
pub mod node_info;
pub mod plugins;
pub mod preemption;
pub mod quantity;
pub mod queue;
pub mod resources;
mod runner;
pub mod selectors;

pub use runner::run;

/// The only profile: pods naming another scheduler are left alone.
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// Run the scheduler inside `k8rs server`, once it is ready: behind the kube-scheduler
/// Lease, standing for election again whenever it stops.
pub fn spawn_in_process(kubeconfig: String) {
    tokio::spawn(async move {
        loop {
            let result = async {
                let conn = k8rs_controllers::connect_as(&kubeconfig, "kube-scheduler").await?;
                run_as_leader(conn.client).await
            };
            if let Err(e) = result.await {
                tracing::warn!("scheduler stopped: {e:#}");
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}

/// Run behind the `kube-system/kube-scheduler` Lease, as kube-scheduler does, so two
/// schedulers (in-process and standalone) never both bind; returns an error when the
/// lease is lost.
pub async fn run_as_leader(client: kube::Client) -> anyhow::Result<()> {
    let elector = k8rs_controllers::leader::LeaderElector::new(
        client.clone(),
        "kube-system",
        "kube-scheduler",
        SCHEDULER_NAME,
    );
    elector.acquire().await;
    tokio::select! {
        done = run(client) => done,
        lost = elector.hold() => Err(lost),
    }
}

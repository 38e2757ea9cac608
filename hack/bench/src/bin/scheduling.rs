//! `k8rs-bench-scheduling`: scheduling throughput against simulated nodes.
//!
//! Starts a fresh `k8rs server` (scheduler in-process) and a `k8rs simulate-nodes`
//! process with N nodes, creates P pods as fast as the API accepts them (C concurrent
//! clients) and watches them get bound: pods/s scheduled and create→bound p50/p99. The
//! `spread` workload adds a hard topology spread constraint and preferred pod
//! anti-affinity. A measuring tool: nothing here asserts on timings.

#[allow(dead_code)]
#[path = "../client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../procs.rs"]
mod procs;
#[allow(dead_code)]
#[path = "../stats.rs"]
mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "k8rs-bench-scheduling",
    about = "Scheduling throughput on simulated nodes"
)]
struct Args {
    /// The `k8rs` binary (build it with --release).
    #[arg(long, default_value = "target/release/k8rs")]
    k8rs_bin: PathBuf,
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Concurrent creating clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    #[arg(long, value_enum, default_value_t = Workload::Both)]
    workload: Workload,
    /// Give up waiting for bindings after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Plain,
    Spread,
    Both,
}

/// A child killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let workloads = match args.workload {
        Workload::Both => vec![Workload::Plain, Workload::Spread],
        w => vec![w],
    };
    println!(
        "{:<8} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10} {:>14} {:>11} {:>22}",
        "workload",
        "nodes",
        "pods",
        "create/s",
        "sched/s",
        "p50 ms",
        "p99 ms",
        "server peak MB",
        "sim peak MB",
        "cpu s server/sim/bench"
    );
    for w in workloads {
        let r = rt.block_on(run(&args, w))?;
        println!(
            "{:<8} {:>7} {:>7} {:>10.0} {:>10.0} {:>10.1} {:>10.1} {:>14.0} {:>11.0} {:>22}",
            format!("{w:?}").to_lowercase(),
            args.nodes,
            args.pods,
            r.create_rate,
            r.sched_rate,
            r.p50,
            r.p99,
            r.server_peak as f64 / 1e6,
            r.sim_peak as f64 / 1e6,
            format!("{:.1}/{:.1}/{:.1}", r.cpu[0], r.cpu[1], r.cpu[2])
        );
    }
    Ok(())
}

struct Outcome {
    create_rate: f64,
    sched_rate: f64,
    p50: f64,
    p99: f64,
    /// Peak RSS of the all-in-one server (scheduler and controllers in-process).
    server_peak: u64,
    /// Peak RSS of the simulator, which carries every node and pod.
    sim_peak: u64,
    /// CPU seconds the server, the simulator and this bench used from the first create to
    /// the last binding: on a small machine they compete for the same cores.
    cpu: [f64; 3],
}

fn pod(i: usize, w: Workload) -> Pod {
    let mut spec = json!({
        "containers": [{"name": "c", "image": "busybox",
            "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}}}],
    });
    if w == Workload::Spread {
        spec["topologySpreadConstraints"] = json!([{"maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "bench"}}}]);
        spec["affinity"] = json!({"podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
                "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app": "bench"}}}}]}});
    }
    serde_json::from_value(json!({
        "metadata": {"name": format!("bench-{i}"), "labels": {"app": "bench"}},
        "spec": spec,
    }))
    .unwrap_or_default()
}

async fn client_for(kubeconfig: &Path) -> Result<kube::Client> {
    let text = std::fs::read_to_string(kubeconfig)?;
    let kc = kube::config::Kubeconfig::from_yaml(&text)?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    Ok(kube::Client::try_from(config)?)
}

async fn run(args: &Args, w: Workload) -> Result<Outcome> {
    let dir = tempfile::Builder::new()
        .prefix("k8rs-bench-sched-")
        .tempdir()?;
    let server = procs::start_server(&args.k8rs_bin, dir.path(), None, true).await?;
    let kubeconfig = std::fs::read_dir(dir.path())?
        .flatten()
        .map(|e| e.path().join("kubeconfig.yaml"))
        .find(|p| p.is_file())
        .context("the server's kubeconfig")?;
    let log = std::fs::File::create(dir.path().join("simulator.log"))?;
    let sim = Guard(
        Command::new(&args.k8rs_bin)
            .arg("simulate-nodes")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--count", &args.nodes.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the simulator")?,
    );
    let client = client_for(&kubeconfig).await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    while nodes.list(&ListParams::default()).await?.items.len() < args.nodes {
        anyhow::ensure!(Instant::now() < deadline, "nodes did not register");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let created: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let bound: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let watch = {
        let bound = bound.clone();
        let pods = pods.clone();
        tokio::spawn(async move {
            let mut stream = watcher(pods, watcher::Config::default()).boxed();
            while let Some(ev) = stream.next().await {
                let (Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p))) = ev else {
                    continue;
                };
                if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    bound
                        .lock()
                        .unwrap()
                        .entry(name)
                        .or_insert_with(Instant::now);
                }
            }
        })
    };

    let pids = [server.proc.pid(), sim.0.id(), std::process::id()];
    let cpu0 = pids.map(procs::cpu);
    let t0 = Instant::now();
    futures::stream::iter(0..args.pods)
        .map(|i| {
            let pods = pods.clone();
            let created = created.clone();
            async move {
                let p = pod(i, w);
                let name = format!("bench-{i}");
                created.lock().unwrap().insert(name.clone(), Instant::now());
                pods.create(&PostParams::default(), &p).await.map(|_| ())
            }
        })
        .buffer_unordered(args.clients)
        .try_collect::<Vec<()>>()
        .await?;
    let create_time = t0.elapsed();
    while bound.lock().unwrap().len() < args.pods {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} pods bound",
            bound.lock().unwrap().len(),
            args.pods
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu = std::array::from_fn(|i| match (cpu0[i], procs::cpu(pids[i])) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
        _ => 0.0,
    });
    watch.abort();
    let created = created.lock().unwrap();
    let bound = bound.lock().unwrap();
    let last = bound.values().max().copied().unwrap_or(t0);
    let mut lat: Vec<f64> = bound
        .iter()
        .filter_map(|(n, b)| {
            created
                .get(n)
                .map(|c| stats::ms(b.saturating_duration_since(*c)))
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    let server_peak = procs::mem(server.proc.pid()).map_or(0, |m| m.peak);
    let sim_peak = procs::mem(sim.0.id()).map_or(0, |m| m.peak);
    drop(server);
    Ok(Outcome {
        create_rate: args.pods as f64 / create_time.as_secs_f64(),
        sched_rate: args.pods as f64 / last.duration_since(t0).as_secs_f64(),
        p50: stats::percentile(&lat, 50.0).unwrap_or(0.0),
        p99: stats::percentile(&lat, 99.0).unwrap_or(0.0),
        server_peak,
        sim_peak,
        cpu,
    })
}

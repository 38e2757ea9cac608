//! `k8rs`: subcommands only; the work lives in the component crates.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

// glibc's allocator was a quarter of the server's CPU under load and fragments with many
// threads; mimalloc is faster and returns memory more readily.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "k8rs", version = k8rs_apiserver::version::GIT_VERSION, about = "Kubernetes, rewritten in Rust, as one small fast binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the all-in-one control plane.
    Server(ServerArgs),
    /// Run the built-in controllers against a cluster.
    ControllerManager(ControllerArgs),
    /// Run the scheduler against a cluster.
    Scheduler(KubeconfigArgs),
    /// Register simulated (kwok-style) nodes and play the kubelet for their pods.
    SimulateNodes(SimulateArgs),
}

#[derive(clap::Args)]
struct KubeconfigArgs {
    /// Kubeconfig of the cluster.
    #[arg(long)]
    kubeconfig: PathBuf,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Kubeconfig of the cluster.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Node names: PREFIX0, PREFIX1, ...
    #[arg(long, default_value = "sim-")]
    prefix: String,
    #[arg(long, default_value = "32")]
    cpu: String,
    #[arg(long, default_value = "256Gi")]
    memory: String,
    #[arg(long, default_value = "110")]
    pods: String,
    /// How long pods with restartPolicy Never/OnFailure run before they finish.
    #[arg(long, default_value = "1s", value_parser = k8rs_kubelet::simulator::parse_duration)]
    run_duration: std::time::Duration,
}

#[derive(clap::Args)]
struct ControllerArgs {
    /// Kubeconfig of the cluster to manage.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Controllers to run: `*` (all), `name`, `-name` to leave one out.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// CA certificate (PEM) `csrsigning` issues certificates with.
    #[arg(long, requires = "cluster_signing_key_file")]
    cluster_signing_cert_file: Option<PathBuf>,
    /// The CA's private key (PEM).
    #[arg(long, requires = "cluster_signing_cert_file")]
    cluster_signing_key_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where state lives (storage, PKI, kubeconfig). Default: /var/lib/k8rs as root,
    /// else ~/.local/share/k8rs.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: String,
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// Where to write the admin kubeconfig. Default: DATA_DIR/kubeconfig.yaml.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Use etcd (comma-separated client URLs) instead of the embedded store.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// Controllers to run in-process: `*` (all), `name`, or `-name` to leave one out.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// Don't run the scheduler in-process.
    #[arg(long)]
    disable_scheduler: bool,
    /// IPv4 range Service cluster IPs are allocated from; the first address is the
    /// `kubernetes` Service's.
    #[arg(long, default_value = k8rs_apiserver::defaults::ipalloc::SERVICE_CIDR)]
    service_cluster_ip_range: String,
    /// Range NodePorts are allocated from.
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
}

fn default_data_dir() -> PathBuf {
    // Only root owns /var/lib; everyone else gets a per-user directory.
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if is_root {
        PathBuf::from("/var/lib/k8rs")
    } else {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        home.join(".local/share/k8rs")
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("K8RS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Server(a) => {
            let data_dir = a.data_dir.unwrap_or_else(default_data_dir);
            let kubeconfig_path = a
                .write_kubeconfig
                .unwrap_or_else(|| data_dir.join("kubeconfig.yaml"));
            // The in-process certificate signer issues from the cluster CA.
            let (ca_cert, ca_key) = (data_dir.join("pki/ca.crt"), data_dir.join("pki/ca.key"));
            let config = k8rs_apiserver::Config {
                data_dir,
                bind_address: a.bind_address,
                secure_port: a.secure_port,
                kubeconfig_path,
                etcd_servers: a
                    .etcd_servers
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect(),
                service_ranges: k8rs_apiserver::defaults::ipalloc::Ranges::parse(
                    &a.service_cluster_ip_range,
                    &a.service_node_port_range,
                )
                .map_err(anyhow::Error::msg)?,
            };
            let controllers = k8rs_controllers::select(&a.controllers)?;
            let scheduler = !a.disable_scheduler;
            runtime()?.block_on(k8rs_apiserver::run(config, move |kubeconfig| {
                if scheduler {
                    k8rs_scheduler::spawn_in_process(kubeconfig.clone());
                }
                k8rs_controllers::spawn_in_process(kubeconfig, controllers, (ca_cert, ca_key));
            }))
        }
        Command::ControllerManager(a) => {
            let controllers = k8rs_controllers::select(&a.controllers)?;
            let kubeconfig = std::fs::read_to_string(&a.kubeconfig)?;
            let signing_ca = match (a.cluster_signing_cert_file, a.cluster_signing_key_file) {
                (Some(cert), Some(key)) => Some(
                    k8rs_controllers::certificates::SigningCa::from_files(&cert, &key)?,
                ),
                _ => None,
            };
            runtime()?.block_on(async move {
                let mut conn = k8rs_controllers::connect(&kubeconfig).await?;
                conn.signing_ca = signing_ca;
                // Exits non-zero when the lease is lost, as kube-controller-manager does.
                k8rs_controllers::run_as_leader(conn, &controllers).await
            })
        }
        Command::Scheduler(a) => {
            let kubeconfig = std::fs::read_to_string(&a.kubeconfig)?;
            runtime()?.block_on(async move {
                let conn = k8rs_controllers::connect_as(&kubeconfig, "kube-scheduler").await?;
                // Exits non-zero when the lease is lost, as kube-scheduler does.
                k8rs_scheduler::run_as_leader(conn.client).await
            })
        }
        Command::SimulateNodes(a) => {
            let kubeconfig = std::fs::read_to_string(&a.kubeconfig)?;
            let config = k8rs_kubelet::simulator::Config {
                count: a.count,
                prefix: a.prefix,
                cpu: a.cpu,
                memory: a.memory,
                pods: a.pods,
                run_duration: a.run_duration,
            };
            runtime()?.block_on(async move {
                let conn = k8rs_controllers::connect_as(&kubeconfig, "kubelet").await?;
                k8rs_kubelet::simulator::run(conn.client, config).await
            })
        }
    }
}

//! `k8rs`: subcommands only; the work lives in the component crates.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
}

#[derive(clap::Args)]
struct ControllerArgs {
    /// Kubeconfig of the cluster to manage.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Controllers to run: `*` (all), `name`, `-name` to leave one out.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
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
            };
            let controllers = k8rs_controllers::select(&a.controllers)?;
            runtime()?.block_on(k8rs_apiserver::run(config, move |kubeconfig| {
                // In-process, but API clients all the same: over HTTPS to our own port.
                tokio::spawn(async move {
                    let run = async {
                        let conn = k8rs_controllers::connect(&kubeconfig).await?;
                        k8rs_controllers::run(conn, &controllers).await
                    };
                    if let Err(e) = run.await {
                        tracing::error!("controllers stopped: {e:#}");
                    }
                });
            }))
        }
        Command::ControllerManager(a) => {
            let controllers = k8rs_controllers::select(&a.controllers)?;
            let kubeconfig = std::fs::read_to_string(&a.kubeconfig)?;
            runtime()?.block_on(async move {
                let conn = k8rs_controllers::connect(&kubeconfig).await?;
                k8rs_controllers::run(conn, &controllers).await
            })
        }
    }
}

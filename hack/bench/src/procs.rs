//! Starting and stopping `k8rs server` and `etcd` on free loopback ports, in temporary
//! directories; both are killed when their handle is dropped (also on error paths).

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::client::{self, Endpoint};

/// How long a server or etcd may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(5);
const ATTEMPTS: usize = 4;

/// A child process, killed (SIGKILL) and reaped on drop.
pub struct Proc {
    name: String,
    child: Option<Child>,
    pid: u32,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Proc> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("duplicating the log file")?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawning {name} ({:?})", cmd.get_program()))?;
        Ok(Proc {
            name: name.to_string(),
            pid: child.id(),
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last `max` bytes of the process's output.
    pub fn log_tail(&self, max: usize) -> String {
        let data = fs::read(&self.log).unwrap_or_default();
        let start = data.len().saturating_sub(max);
        String::from_utf8_lossy(&data[start..]).into_owned()
    }

    fn failure(&self, what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "{} {what}\n--- last lines of {} ---\n{}",
            self.name,
            self.log.display(),
            self.log_tail(4000).trim_end()
        )
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a free port")?;
    Ok(l.local_addr()?.port())
}

fn addr_in_use(log: &str) -> bool {
    let l = log.to_ascii_lowercase();
    l.contains("address already in use") || l.contains("addrinuse")
}

/// A single-member etcd on free loopback ports.
pub struct Etcd {
    pub proc: Proc,
    pub url: String,
}

pub async fn start_etcd(bin: &Path, dir: &Path) -> Result<Etcd> {
    anyhow::ensure!(
        bin.is_file(),
        "{} not found (install etcd-server, see hack/install-deps.sh)",
        bin.display()
    );
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        let (cport, pport) = (free_port()?, free_port()?);
        if cport == pport {
            continue;
        }
        let client = format!("http://127.0.0.1:{cport}");
        let peer = format!("http://127.0.0.1:{pport}");
        let mut cmd = Command::new(bin);
        cmd.arg("--name=default")
            .arg(format!(
                "--data-dir={}",
                dir.join(format!("etcd-{attempt}")).display()
            ))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=default={peer}"))
            .arg("--initial-cluster-state=new")
            .arg("--log-level=warn");
        let mut proc = Proc::spawn("etcd", &mut cmd, &dir.join(format!("etcd-{attempt}.log")))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, cport));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(st) = proc.exited() {
                if addr_in_use(&proc.log_tail(20_000)) {
                    last = Some(proc.failure("could not bind its ports"));
                    break;
                }
                return Err(proc.failure(&format!("exited early ({st})")));
            }
            if let Ok((200, body)) =
                client::plain_get(addr, "/health", Duration::from_secs(2)).await
            {
                if String::from_utf8_lossy(&body).contains("true") {
                    return Ok(Etcd { proc, url: client });
                }
            }
            if Instant::now() >= deadline {
                return Err(proc.failure(&format!("not healthy within {READY_TIMEOUT:?}")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("etcd: no free ports")))
}

/// A ready `k8rs server`.
pub struct Server {
    pub proc: Proc,
    pub endpoint: Endpoint,
    /// From spawning the process to the first `GET /readyz` = 200.
    pub startup: Duration,
}

/// Start `k8rs server` with a fresh data dir under `dir` and wait for `/readyz`.
pub async fn start_server(
    bin: &Path,
    dir: &Path,
    etcd_url: Option<&str>,
    http2: bool,
) -> Result<Server> {
    anyhow::ensure!(bin.is_file(), "{} not found", bin.display());
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let data_dir = dir.join(format!("data-{attempt}"));
        let kubeconfig = data_dir.join("kubeconfig.yaml");
        let mut cmd = Command::new(bin);
        cmd.env("NO_COLOR", "1")
            .arg("server")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--secure-port")
            .arg(port.to_string());
        if let Some(url) = etcd_url {
            cmd.arg("--etcd-servers").arg(url);
        }
        let t0 = Instant::now();
        let mut proc = Proc::spawn(
            "k8rs server",
            &mut cmd,
            &dir.join(format!("server-{attempt}.log")),
        )?;
        let deadline = t0 + READY_TIMEOUT;
        let mut endpoint: Option<Endpoint> = None;
        loop {
            if let Some(st) = proc.exited() {
                if addr_in_use(&proc.log_tail(20_000)) {
                    last = Some(proc.failure("could not bind its port"));
                    break;
                }
                return Err(proc.failure(&format!("exited before becoming ready ({st})")));
            }
            if endpoint.is_none() {
                // Written (atomically) before the server reports ready.
                if let Ok(text) = fs::read_to_string(&kubeconfig) {
                    let creds = client::parse_kubeconfig(&text)
                        .with_context(|| format!("parsing {}", kubeconfig.display()))?;
                    endpoint = Some(Endpoint::new(addr, &creds, http2)?);
                }
            }
            if let Some(ep) = &endpoint {
                if readyz(ep).await {
                    return Ok(Server {
                        startup: t0.elapsed(),
                        proc,
                        endpoint: ep.clone(),
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(proc.failure(&format!(
                    "not ready (GET /readyz = 200) within {READY_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    match last {
        Some(e) => bail!("{e:#}"),
        None => bail!("k8rs server: no free port"),
    }
}

async fn readyz(ep: &Endpoint) -> bool {
    let check = async {
        let mut c = ep.connect().await.ok()?;
        let (status, _) = c.get("/readyz").await.ok()?;
        Some(status.as_u16() == 200)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), check).await,
        Ok(Some(true))
    )
}

/// Memory of a process, in bytes (from /proc/PID/status).
#[derive(Debug, Clone, Copy)]
pub struct Mem {
    /// VmRSS: resident set size.
    pub rss: u64,
    /// VmHWM: peak resident set size.
    pub peak: u64,
    /// RssAnon: the anonymous (heap, stacks) part of the RSS; the rest is mostly the
    /// binary's mapped pages.
    pub anon: u64,
}

pub fn mem(pid: u32) -> Result<Mem> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let rss = status_kb(&status, "VmRSS:").context("no VmRSS")?;
    Ok(Mem {
        rss: rss * 1024,
        peak: status_kb(&status, "VmHWM:").unwrap_or(rss) * 1024,
        anon: status_kb(&status, "RssAnon:").unwrap_or(rss) * 1024,
    })
}

/// A `Key:   123 kB` line of /proc/PID/status, in kB.
pub fn status_kb(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// CPU time (user + system) a process has used so far, from /proc/PID/stat; `None` once
/// it is gone. Clock ticks are taken as 100 Hz, Linux's USER_HZ everywhere.
#[allow(dead_code)] // used by k8rs-bench-scheduling only
pub fn cpu(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

//! Test harness for end-to-end tests.
//!
//! Every test starts its own `k8rs server` (fresh data dir, free loopback
//! port) with [`Server::start`] and drives it with the stock `kubectl`
//! ([`Server::kubectl`]), raw HTTP through `curl` ([`Server::http`]) or other
//! real clients. Child processes are killed when their handle is dropped, so
//! a failing test never leaks a server, an etcd or a background `kubectl`.
//!
//! Environment knobs:
//! - `K8RS_BIN`: the k8rs binary to test (default: `target/debug/k8rs`,
//!   built with `cargo build --bin k8rs` if missing).
//! - `K8RS_TEST_KEEP`: keep the temporary directories of servers and etcds
//!   (their paths are printed) for post-mortem inspection.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use serde_json::Value;
use tempfile::TempDir;

/// The primary kubectl; must be present.
pub const KUBECTL: &str = "/usr/bin/kubectl";
/// A kubectl of the served minor version; optional (tests skip it if absent).
pub const KUBECTL_1_33: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
/// etcd from Debian's `etcd-server`.
pub const ETCD: &str = "/usr/bin/etcd";

/// How long a server (or etcd) may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for any single foreground command (kubectl, curl, python).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// Default timeout for waiting on asynchronous effects (watch events, ...).
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Locating / building the binary
// ---------------------------------------------------------------------------

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance/ has a parent")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Path of the k8rs binary under test: `$K8RS_BIN`, else
/// `<target>/debug/k8rs`, which is built once (per test process, and
/// serialised across processes with a file lock) if it does not exist.
pub fn k8rs_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("K8RS_BIN") {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "K8RS_BIN={} does not name a file", p.display());
            return p;
        }
        let bin = target_dir().join("debug").join("k8rs");
        if bin.is_file() {
            warn_if_stale(&bin);
            return bin;
        }
        let target = target_dir();
        fs::create_dir_all(&target).expect("create target dir");
        let lock = File::create(target.join(".k8rs-conformance-build.lock"))
            .expect("create build lock file");
        lock.lock().expect("lock build lock file");
        if !bin.is_file() {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            eprintln!(
                "k8rs-conformance: {} missing, running `cargo build --bin k8rs`",
                bin.display()
            );
            let status = Command::new(cargo)
                .args(["build", "--bin", "k8rs"])
                .current_dir(workspace_root())
                .stdin(Stdio::null())
                .status()
                .expect("run cargo build --bin k8rs");
            assert!(status.success(), "cargo build --bin k8rs failed: {status}");
            assert!(
                bin.is_file(),
                "cargo build succeeded but {} is missing",
                bin.display()
            );
        }
        drop(lock);
        bin
    })
    .clone()
}

/// Print a warning if a Rust source or manifest of the workspace is newer
/// than `bin` (the tests would exercise an old server).
fn warn_if_stale(bin: &Path) {
    fn newest(dir: &Path, depth: usize, best: &mut Option<(std::time::SystemTime, PathBuf)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" || name == "conformance" {
                continue;
            }
            if p.is_dir() {
                if depth > 0 {
                    newest(&p, depth - 1, best);
                }
            } else if name.ends_with(".rs") || name == "Cargo.toml" {
                if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                    if best.as_ref().is_none_or(|(t, _)| m > *t) {
                        *best = Some((m, p));
                    }
                }
            }
        }
    }
    let Ok(bin_time) = fs::metadata(bin).and_then(|m| m.modified()) else {
        return;
    };
    let mut best = None;
    newest(&workspace_root(), 6, &mut best);
    if let Some((t, p)) = best {
        if t > bin_time {
            eprintln!(
                "k8rs-conformance: WARNING: {} is newer than {}; run `cargo build --bin k8rs` \
                 (hack/test.sh does) to test the current source",
                p.display(),
                bin.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

/// A free TCP port on 127.0.0.1 (the OS picks it; it is released before
/// returning, so a race is possible: [`Server::start`] retries on EADDRINUSE).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Poll `f` every 50ms until it yields `Some`, or panic after `timeout`
/// naming `what`.
pub fn poll_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn tail_of_file(path: &Path, max: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        let start = buf.len().saturating_sub(max);
        s = String::from_utf8_lossy(&buf[start..]).into_owned();
        if start > 0 {
            s = format!("[... {start} bytes elided ...]\n{s}");
        }
    }
    s
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn describe(cmd: &Command) -> String {
    let mut parts = vec![shell_quote(&cmd.get_program().to_string_lossy())];
    parts.extend(cmd.get_args().map(|a| shell_quote(&a.to_string_lossy())));
    parts.join(" ")
}

/// Send SIGTERM to a process (via /bin/kill: no libc dependency).
fn sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Wait for a child for at most `timeout`.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// The result of a finished foreground command.
#[derive(Debug, Clone)]
pub struct Output {
    pub cmdline: String,
    /// Exit code; `None` if killed by a signal or timed out.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    fn report(&self) -> String {
        format!(
            "command: {}\nexit: {}{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline,
            self.code.map_or("signal".to_string(), |c| c.to_string()),
            if self.timed_out { " (TIMED OUT)" } else { "" },
            self.stdout,
            self.stderr
        )
    }

    /// Assert the command succeeded; return its stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.success(),
            "command unexpectedly failed\n{}",
            self.report()
        );
        self.stdout.clone()
    }

    /// Assert the command failed (non-zero exit, not a timeout); return its stderr.
    #[track_caller]
    pub fn fails(&self) -> String {
        assert!(
            !self.timed_out,
            "command timed out instead of failing\n{}",
            self.report()
        );
        assert!(
            !self.success(),
            "command unexpectedly succeeded\n{}",
            self.report()
        );
        self.stderr.clone()
    }

    /// Assert success and parse stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.report()))
    }
}

/// Run `cmd` to completion (killing it after `timeout`), optionally feeding
/// `stdin`, capturing stdout and stderr.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    let cmdline = describe(cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn `{cmdline}`: {e}"));
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin piped");
        let data = data.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        })
    });
    let out_reader = {
        let mut pipe = child.stdout.take().expect("stdout piped");
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let err_reader = {
        let mut pipe = child.stderr.take().expect("stderr piped");
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let (status, timed_out) = match wait_timeout(&mut child, timeout) {
        Some(st) => (Some(st), false),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            (None, true)
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Output {
        cmdline,
        code: status.and_then(|s| s.code()),
        timed_out,
        stdout,
        stderr,
    }
}

/// A long-running command (e.g. `kubectl get -w`) whose stdout lines are
/// collected in the background. Killed on drop.
pub struct Background {
    cmdline: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        let cmdline = describe(&cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{cmdline}`: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let lines = lines.clone();
            let pipe = child.stdout.take().expect("stdout piped");
            thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(pipe).lines() {
                    match line {
                        Ok(l) => lines.lock().unwrap().push(l),
                        Err(_) => break,
                    }
                }
            });
        }
        {
            let stderr = stderr.clone();
            let mut pipe = child.stderr.take().expect("stderr piped");
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => stderr
                            .lock()
                            .unwrap()
                            .push_str(&String::from_utf8_lossy(&buf[..n])),
                    }
                }
            });
        }
        Background {
            cmdline,
            child,
            lines,
            stderr,
        }
    }

    /// All stdout lines received so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait until some stdout line satisfies `pred` and return it; panic
    /// (showing everything received) after `timeout`.
    #[track_caller]
    pub fn wait_for_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| pred(l)) {
                return l.clone();
            }
            let exited = !self.is_running();
            if exited || Instant::now() >= deadline {
                // One last look: the line may have arrived just before exit.
                thread::sleep(Duration::from_millis(100));
                if let Some(l) = self.lines.lock().unwrap().iter().find(|l| pred(l)) {
                    return l.clone();
                }
                panic!(
                    "{} waiting for {what}\ncommand: {}\n--- stdout lines ---\n{}\n--- stderr ---\n{}",
                    if exited {
                        "background command exited"
                    } else {
                        "timed out"
                    },
                    self.cmdline,
                    self.lines().join("\n"),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the accumulated stderr satisfies `pred`; panic after `timeout`.
    #[track_caller]
    pub fn wait_for_stderr(&mut self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.stderr()) {
                return;
            }
            let exited = !self.is_running();
            if exited || Instant::now() >= deadline {
                thread::sleep(Duration::from_millis(100));
                if pred(&self.stderr()) {
                    return;
                }
                panic!(
                    "{} waiting for {what} on stderr\ncommand: {}\n--- stdout lines ---\n{}\n--- stderr ---\n{}",
                    if exited {
                        "background command exited"
                    } else {
                        "timed out"
                    },
                    self.cmdline,
                    self.lines().join("\n"),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kill the process and wait for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// Kubeconfig credentials
// ---------------------------------------------------------------------------

/// Files extracted from a kubeconfig, for curl.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub server: String,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn kubeconfig_field(base: &Path, map: &Value, field: &str, out: &Path) -> Result<PathBuf> {
    if let Some(data) = map.get(format!("{field}-data")).and_then(Value::as_str) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .with_context(|| format!("{field}-data is not base64"))?;
        fs::write(out, bytes)?;
        Ok(out.to_path_buf())
    } else if let Some(p) = map.get(field).and_then(Value::as_str) {
        let p = Path::new(p);
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        })
    } else {
        bail!("kubeconfig has neither {field}-data nor {field}")
    }
}

/// Parse a kubeconfig (current context) and write its CA, client
/// certificate and key to files in `dir`.
pub fn extract_credentials(kubeconfig: &Path, dir: &Path) -> Result<Credentials> {
    let text = fs::read_to_string(kubeconfig)
        .with_context(|| format!("read kubeconfig {}", kubeconfig.display()))?;
    let kc: Value = serde_yaml::from_str(&text).context("kubeconfig is not YAML")?;
    let named = |list: &str, name: &str| -> Result<Value> {
        kc.get(list)
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
            })
            .cloned()
            .ok_or_else(|| anyhow!("kubeconfig has no {list} entry named {name:?}"))
    };
    let ctx_name = kc
        .get("current-context")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("kubeconfig has no current-context"))?;
    let ctx = named("contexts", ctx_name)?;
    let ctx = &ctx["context"];
    let cluster_name = ctx["cluster"]
        .as_str()
        .ok_or_else(|| anyhow!("context has no cluster"))?;
    let user_name = ctx["user"]
        .as_str()
        .ok_or_else(|| anyhow!("context has no user"))?;
    let cluster = named("clusters", cluster_name)?["cluster"].clone();
    let user = named("users", user_name)?["user"].clone();
    fs::create_dir_all(dir)?;
    let base = kubeconfig.parent().unwrap_or(Path::new("."));
    Ok(Credentials {
        server: cluster["server"]
            .as_str()
            .ok_or_else(|| anyhow!("cluster has no server"))?
            .to_string(),
        ca: kubeconfig_field(base, &cluster, "certificate-authority", &dir.join("ca.crt"))?,
        cert: kubeconfig_field(base, &user, "client-certificate", &dir.join("client.crt"))?,
        key: kubeconfig_field(base, &user, "client-key", &dir.join("client.key"))?,
    })
}

// ---------------------------------------------------------------------------
// HTTP (through curl)
// ---------------------------------------------------------------------------

/// A response to a raw HTTP request.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Raw response header block(s).
    pub headers: String,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (panics with the body if it is not JSON).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}):\n{}",
                self.status,
                self.text()
            )
        })
    }

    /// Assert the status code and that the body is a `Status` object with
    /// `status: Failure`, the given `reason` and `code`; return it.
    #[track_caller]
    pub fn assert_status(&self, code: u16, reason: &str) -> Value {
        assert_eq!(
            self.status,
            code,
            "unexpected HTTP status; body:\n{}",
            self.text()
        );
        let v = self.json();
        assert_eq!(v["kind"], "Status", "not a Status: {v}");
        assert_eq!(v["apiVersion"], "v1", "Status apiVersion: {v}");
        assert_eq!(v["status"], "Failure", "Status.status: {v}");
        assert_eq!(v["reason"], reason, "Status.reason: {v}");
        assert_eq!(v["code"], code, "Status.code: {v}");
        v
    }
}

/// A raw HTTP request against a [`Server`], built with [`Server::http`].
pub struct HttpRequest<'a> {
    server: &'a Server,
    method: String,
    path: String,
    body: Option<Vec<u8>>,
    content_type: Option<String>,
    headers: Vec<String>,
    anonymous: bool,
    http1: bool,
}

impl HttpRequest<'_> {
    /// Force HTTP/1.1 (default: whatever ALPN negotiates, normally HTTP/2).
    pub fn http1(mut self) -> Self {
        self.http1 = true;
        self
    }

    /// Send a raw body with the given content type.
    pub fn body(mut self, body: impl Into<Vec<u8>>, content_type: &str) -> Self {
        self.body = Some(body.into());
        self.content_type = Some(content_type.to_string());
        self
    }

    /// Send a JSON body.
    pub fn json(self, v: &Value) -> Self {
        self.body(v.to_string(), "application/json")
    }

    /// Add a request header (`"Name: value"`).
    pub fn header(mut self, h: &str) -> Self {
        self.headers.push(h.to_string());
        self
    }

    /// Send no client certificate.
    pub fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    #[track_caller]
    pub fn send(self) -> HttpResponse {
        let creds = self.server.credentials();
        let scratch = tempfile::tempdir_in(self.server.dir.path()).expect("scratch dir");
        let body_out = scratch.path().join("response.body");
        let headers_out = scratch.path().join("response.headers");
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "60", "-X", &self.method])
            .arg("--cacert")
            .arg(&creds.ca)
            .arg("-o")
            .arg(&body_out)
            .arg("-D")
            .arg(&headers_out)
            .args(["-w", "%{http_code}"]);
        if self.http1 {
            cmd.arg("--http1.1");
        }
        if !self.anonymous {
            cmd.arg("--cert")
                .arg(&creds.cert)
                .arg("--key")
                .arg(&creds.key);
        }
        if !self
            .headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("accept:"))
        {
            cmd.args(["-H", "Accept: application/json"]);
        }
        for h in &self.headers {
            cmd.args(["-H", h]);
        }
        if let Some(body) = &self.body {
            let f = scratch.path().join("request.body");
            fs::write(&f, body).expect("write request body");
            cmd.arg("--data-binary").arg(format!("@{}", f.display()));
            if let Some(ct) = &self.content_type {
                cmd.args(["-H", &format!("Content-Type: {ct}")]);
            }
        }
        cmd.arg(format!("{}{}", self.server.url(), self.path));
        let out = run(&mut cmd, None, COMMAND_TIMEOUT);
        let status: u16 = out.stdout.trim().parse().unwrap_or(0);
        // No final (>= 200) response: the connection failed or was cut
        // (e.g. after `100 Continue`).
        assert!(
            status >= 200,
            "HTTP {} {} got no final response (last status {status})\n{}",
            self.method,
            self.path,
            out.report()
        );
        HttpResponse {
            status,
            headers: fs::read_to_string(&headers_out).unwrap_or_default(),
            body: fs::read(&body_out).unwrap_or_default(),
        }
    }
}

// ---------------------------------------------------------------------------
// etcd
// ---------------------------------------------------------------------------

/// A real single-member etcd on free loopback ports, in a temporary dir.
pub struct Etcd {
    dir: TempDir,
    client_port: u16,
    child: Option<Child>,
}

impl Etcd {
    #[track_caller]
    pub fn start() -> Etcd {
        assert!(
            Path::new(ETCD).is_file(),
            "{ETCD} not found: install Debian's etcd-server (hack/install-deps.sh)"
        );
        let dir = tempfile::Builder::new()
            .prefix("k8rs-etcd-")
            .tempdir()
            .expect("tempdir");
        let mut last_log = String::new();
        for attempt in 0..5 {
            let client_port = free_port();
            let peer_port = free_port();
            if client_port == peer_port {
                continue;
            }
            let data = dir.path().join(format!("data-{attempt}"));
            let log_path = dir.path().join(format!("etcd-{attempt}.log"));
            let log = File::create(&log_path).expect("etcd log");
            let client = format!("http://127.0.0.1:{client_port}");
            let peer = format!("http://127.0.0.1:{peer_port}");
            let mut child = Command::new(ETCD)
                .arg("--name=k8rs-test")
                .arg(format!("--data-dir={}", data.display()))
                .arg(format!("--listen-client-urls={client}"))
                .arg(format!("--advertise-client-urls={client}"))
                .arg(format!("--listen-peer-urls={peer}"))
                .arg(format!("--initial-advertise-peer-urls={peer}"))
                .arg(format!("--initial-cluster=k8rs-test={peer}"))
                .arg("--initial-cluster-state=new")
                .arg("--logger=zap")
                .arg("--log-outputs=stderr")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                .spawn()
                .expect("spawn etcd");
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if let Ok(Some(st)) = child.try_wait() {
                    last_log = tail_of_file(&log_path, 8000);
                    if last_log.contains("address already in use") {
                        break; // retry with other ports
                    }
                    panic!("etcd exited early ({st}):\n{last_log}");
                }
                if etcd_healthy(client_port) {
                    if std::env::var_os("K8RS_TEST_KEEP").is_some() {
                        eprintln!("etcd dir: {}", dir.path().display());
                    }
                    return Etcd {
                        dir,
                        client_port,
                        child: Some(child),
                    };
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "etcd not healthy after {READY_TIMEOUT:?}:\n{}",
                        tail_of_file(&log_path, 8000)
                    );
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("could not start etcd on a free port:\n{last_log}");
    }

    /// The client URL, for `--etcd-servers`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// All keys currently stored in etcd (through the v3 JSON gateway).
    pub fn keys(&self) -> Vec<String> {
        let b64 = &base64::engine::general_purpose::STANDARD;
        let req = serde_json::json!({
            "key": b64.encode([0u8]),
            "range_end": b64.encode([0u8]),
            "keys_only": true,
        });
        let out = run(
            Command::new("curl")
                .args(["-sS", "--max-time", "20", "-X", "POST", "-d"])
                .arg(req.to_string())
                .arg(format!("{}/v3/kv/range", self.url())),
            None,
            COMMAND_TIMEOUT,
        );
        let v: Value = out.json();
        v["kvs"]
            .as_array()
            .map(|kvs| {
                kvs.iter()
                    .filter_map(|kv| kv["key"].as_str())
                    .map(|k| {
                        String::from_utf8_lossy(&b64.decode(k).unwrap_or_default()).into_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::env::var_os("K8RS_TEST_KEEP").is_some() {
            let d = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            let _ = d.keep();
        }
    }
}

fn etcd_healthy(port: u16) -> bool {
    if TcpStream::connect(("127.0.0.1", port)).is_err() {
        return false;
    }
    let out = run(
        Command::new("curl").args([
            "-sS",
            "--max-time",
            "2",
            &format!("http://127.0.0.1:{port}/health"),
        ]),
        None,
        Duration::from_secs(5),
    );
    out.success() && out.stdout.contains("\"true\"")
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// Options for [`Server::start_with`].
#[derive(Debug, Clone, Default)]
pub struct ServerOpts {
    /// `--etcd-servers`: use etcd instead of the embedded store.
    pub etcd_servers: Option<String>,
    /// Don't pass `--write-kubeconfig`: rely on the default location
    /// (`<data-dir>/kubeconfig.yaml`).
    pub default_kubeconfig: bool,
    /// Extra arguments appended to `k8rs server ...`.
    pub extra_args: Vec<String>,
}

impl ServerOpts {
    pub fn etcd(url: impl Into<String>) -> ServerOpts {
        ServerOpts {
            etcd_servers: Some(url.into()),
            ..ServerOpts::default()
        }
    }
}

/// A running `k8rs server` (killed on drop).
pub struct Server {
    dir: TempDir,
    data_dir: PathBuf,
    kubeconfig: PathBuf,
    log_path: PathBuf,
    port: u16,
    opts: ServerOpts,
    child: Option<Child>,
    creds: Option<Credentials>,
}

enum StartError {
    AddrInUse,
}

impl Server {
    /// Start a server with default options; panics (showing its log) if it
    /// is not ready within [`READY_TIMEOUT`].
    #[track_caller]
    pub fn start() -> Server {
        Server::start_with(ServerOpts::default())
    }

    #[track_caller]
    pub fn start_with(opts: ServerOpts) -> Server {
        let bin = k8rs_bin();
        let dir = tempfile::Builder::new()
            .prefix("k8rs-test-")
            .tempdir()
            .expect("tempdir");
        let data_dir = dir.path().join("data");
        let kubeconfig = if opts.default_kubeconfig {
            data_dir.join("kubeconfig.yaml")
        } else {
            dir.path().join("kubeconfig.yaml")
        };
        let mut server = Server {
            log_path: dir.path().join("server.log"),
            dir,
            data_dir,
            kubeconfig,
            port: 0,
            opts,
            child: None,
            creds: None,
        };
        if std::env::var_os("K8RS_TEST_KEEP").is_some() {
            eprintln!("k8rs test dir: {}", server.dir.path().display());
        }
        for _attempt in 0..5 {
            server.port = free_port();
            match server.spawn_and_wait(&bin) {
                Ok(()) => return server,
                Err(StartError::AddrInUse) => continue,
            }
        }
        panic!(
            "k8rs could not bind a free port after 5 attempts\n--- server log ---\n{}",
            server.log()
        );
    }

    fn args(&self) -> Vec<String> {
        let mut a = vec![
            "server".to_string(),
            "--data-dir".to_string(),
            self.data_dir.display().to_string(),
            "--bind-address".to_string(),
            "127.0.0.1".to_string(),
            "--secure-port".to_string(),
            self.port.to_string(),
        ];
        if !self.opts.default_kubeconfig {
            a.push("--write-kubeconfig".to_string());
            a.push(self.kubeconfig.display().to_string());
        }
        if let Some(e) = &self.opts.etcd_servers {
            a.push("--etcd-servers".to_string());
            a.push(e.clone());
        }
        a.extend(self.opts.extra_args.iter().cloned());
        a
    }

    fn spawn_and_wait(&mut self, bin: &Path) -> Result<(), StartError> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open server log");
        let args = self.args();
        let _ = writeln!(
            log,
            "===== {} {} =====",
            bin.display(),
            args.iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let log_start = fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
        let child = Command::new(bin)
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", bin.display()));
        self.child = Some(child);
        let started = Instant::now();
        let deadline = started + READY_TIMEOUT;
        loop {
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                let log = self.log();
                let this_run = log_since(&self.log_path, log_start);
                let lower = this_run.to_ascii_lowercase();
                if lower.contains("address already in use") || lower.contains("addrinuse") {
                    return Err(StartError::AddrInUse);
                }
                panic!(
                    "k8rs server exited before becoming ready ({st})\n--- server log ---\n{log}"
                );
            }
            if self.ready() {
                break;
            }
            if Instant::now() >= deadline {
                self.kill9();
                panic!(
                    "k8rs server not ready (GET /readyz != 200 ok) within {READY_TIMEOUT:?}\n--- server log ---\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
        // The kubeconfig is written before the server reports ready.
        let creds = extract_credentials(&self.kubeconfig, &self.dir.path().join("client"))
            .unwrap_or_else(|e| {
                panic!(
                    "server is ready but its kubeconfig {} is unusable: {e:#}\n--- server log ---\n{}",
                    self.kubeconfig.display(),
                    self.log()
                )
            });
        self.creds = Some(creds);
        Ok(())
    }

    /// GET /readyz answers 200 `ok` (no client certificate, no CA check).
    fn ready(&self) -> bool {
        if TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            return false;
        }
        let out = run(
            Command::new("curl")
                .args(["-sk", "--max-time", "2", "-w", "\n%{http_code}"])
                .arg(format!("{}/readyz", self.url())),
            None,
            Duration::from_secs(5),
        );
        let mut lines = out.stdout.trim_end().rsplitn(2, '\n');
        let code = lines.next().unwrap_or("");
        let body = lines.next().unwrap_or("");
        code == "200" && body.trim() == "ok"
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path of the admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A scratch directory private to this server (removed on drop).
    pub fn tmp(&self) -> &Path {
        self.dir.path()
    }

    /// Process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CA/client cert/key files extracted from the kubeconfig.
    pub fn credentials(&self) -> Credentials {
        self.creds
            .clone()
            .expect("server is not running (no credentials)")
    }

    /// Everything the server printed (all runs).
    pub fn log(&self) -> String {
        tail_of_file(&self.log_path, 64 * 1024)
    }

    /// SIGKILL the server and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM the server and wait up to `timeout` for it to exit; returns
    /// its exit status, or `None` if it had to be SIGKILLed.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        sigterm(c.id());
        let st = wait_timeout(&mut c, timeout);
        if st.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
        st
    }

    /// Stop the server (SIGTERM, SIGKILL after 15s) if it runs, then start it
    /// again with the same data dir, port and options, and wait for ready.
    #[track_caller]
    pub fn restart(&mut self) {
        self.terminate(Duration::from_secs(15));
        let bin = k8rs_bin();
        // Same port: retry a few times in case the old socket lingers.
        for _ in 0..10 {
            match self.spawn_and_wait(&bin) {
                Ok(()) => return,
                Err(StartError::AddrInUse) => thread::sleep(Duration::from_millis(500)),
            }
        }
        panic!(
            "k8rs could not re-bind port {} on restart\n--- server log ---\n{}",
            self.port,
            self.log()
        );
    }

    fn kubectl_command(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("kube-cache").display()
            ))
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path());
        cmd
    }

    /// Run /usr/bin/kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_bin(KUBECTL, args)
    }

    /// Run a specific kubectl binary against this server.
    pub fn kubectl_bin(&self, bin: &str, args: &[&str]) -> Output {
        run(&mut self.kubectl_command(bin, args), None, COMMAND_TIMEOUT)
    }

    /// Run kubectl with `stdin` (e.g. `create -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        run(
            &mut self.kubectl_command(KUBECTL, args),
            Some(stdin.as_bytes()),
            COMMAND_TIMEOUT,
        )
    }

    /// Run /usr/bin/kubectl with extra environment variables (e.g.
    /// `EDITOR` for `kubectl edit`). `KUBE_EDITOR` (which takes precedence
    /// over `EDITOR` in kubectl) is removed unless given in `env`.
    pub fn kubectl_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.kubectl_command(KUBECTL, args);
        if !env.iter().any(|(k, _)| *k == "KUBE_EDITOR") {
            cmd.env_remove("KUBE_EDITOR");
        }
        cmd.envs(env.iter().copied());
        run(&mut cmd, None, COMMAND_TIMEOUT)
    }

    /// `kubectl ARGS -o json`, asserting success, parsed.
    #[track_caller]
    pub fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        self.kubectl(&a).json()
    }

    /// `kubectl patch TARGET --subresource=status --type=merge -p PATCH`: what a kubelet
    /// or controller would write, for tests that play their part.
    pub fn patch_status(&self, target: &[&str], patch: &str) -> Output {
        let mut args = vec!["patch"];
        args.extend_from_slice(target);
        args.extend(["--subresource=status", "--type=merge", "-p", patch]);
        self.kubectl(&args)
    }

    /// Wait until namespace `ns` has its `default` ServiceAccount (pods need it to be
    /// admitted; the serviceaccount controller creates it just after the namespace).
    pub fn wait_for_default_service_account(&self, ns: &str) {
        poll_until(WAIT_TIMEOUT, "the default ServiceAccount", || {
            self.kubectl(&["get", "sa", "default", "-n", ns])
                .success()
                .then_some(())
        });
    }

    /// Start kubectl in the background (e.g. `get -w`); killed on drop.
    pub fn kubectl_bg(&self, args: &[&str]) -> Background {
        Background::spawn(self.kubectl_command(KUBECTL, args))
    }

    /// Build a raw HTTP request to `path` (e.g. `/api/v1/namespaces`),
    /// authenticated with the admin client certificate unless
    /// [`HttpRequest::anonymous`] is called.
    pub fn http(&self, method: &str, path: &str) -> HttpRequest<'_> {
        HttpRequest {
            server: self,
            method: method.to_string(),
            path: path.to_string(),
            body: None,
            content_type: None,
            headers: Vec::new(),
            anonymous: false,
            http1: false,
        }
    }

    /// Authenticated GET.
    pub fn get(&self, path: &str) -> HttpResponse {
        self.http("GET", path).send()
    }
}

fn log_since(path: &Path, offset: u64) -> String {
    let buf = fs::read(path).unwrap_or_default();
    let start = (offset as usize).min(buf.len());
    String::from_utf8_lossy(&buf[start..]).into_owned()
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            eprintln!(
                "--- k8rs server log ({}) ---\n{}",
                self.log_path.display(),
                tail_of_file(&self.log_path, 16 * 1024)
            );
        }
        if std::env::var_os("K8RS_TEST_KEEP").is_some() {
            let d = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            let _ = d.keep();
        }
    }
}

/// Run /usr/bin/kubectl against `server` (same as [`Server::kubectl`]).
pub fn kubectl(server: &Server, args: &[&str]) -> Output {
    server.kubectl(args)
}

// ---------------------------------------------------------------------------
// Helpers for assertions
// ---------------------------------------------------------------------------

/// Parse a resourceVersion as an integer (Kubernetes RVs are opaque to
/// clients, but every real backend issues increasing integers and the
/// durability tests compare them).
#[track_caller]
pub fn rv_u64(v: &Value) -> u64 {
    let s = v["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("object has no metadata.resourceVersion: {v}"));
    s.parse()
        .unwrap_or_else(|_| panic!("resourceVersion {s:?} is not an integer"))
}

/// Split `kubectl -o name` output into sorted names, keeping only those
/// (after the `kind/` prefix) that start with `prefix`.
pub fn names_with_prefix(out: &str, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// base64 (standard, padded) of `s`.
pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// One row of a kubectl table: column name -> cell. Indexing with a
/// missing column panics naming the column and showing the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub std::collections::BTreeMap<String, String>);

impl std::ops::Deref for Row {
    type Target = std::collections::BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::Index<&str> for Row {
    type Output = String;
    #[track_caller]
    fn index(&self, col: &str) -> &String {
        self.0
            .get(col)
            .unwrap_or_else(|| panic!("table has no column {col:?}; row: {:?}", self.0))
    }
}

/// Parse a kubectl table (tab-aligned columns) into rows of
/// `(column name -> cell)`, using the header line's column offsets.
/// (Header names containing a space, like `NOMINATED NODE`, are split.)
pub fn parse_table(out: &str) -> Vec<Row> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    // Column starts: positions where a non-space follows a space (or 0).
    let chars: Vec<char> = header.chars().collect();
    let mut starts = Vec::new();
    for i in 0..chars.len() {
        if chars[i] != ' ' && (i == 0 || chars[i - 1] == ' ') {
            starts.push(i);
        }
    }
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            let e = starts.get(n + 1).copied().unwrap_or(chars.len());
            chars[s..e].iter().collect::<String>().trim().to_string()
        })
        .collect();
    lines
        .map(|l| {
            let c: Vec<char> = l.chars().collect();
            names
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    let s = starts[n].min(c.len());
                    let e = if n + 1 == starts.len() {
                        c.len()
                    } else {
                        starts[n + 1].min(c.len())
                    };
                    (
                        name.clone(),
                        c[s..e].iter().collect::<String>().trim().to_string(),
                    )
                })
                .collect()
        })
        .map(Row)
        .collect()
}

/// Each item of a JSON list reduced to the given top-level fields (for comparing lists).
pub fn project(list: &Value, fields: &[&str]) -> Value {
    Value::Array(
        list.as_array()
            .unwrap_or_else(|| panic!("not an array: {list}"))
            .iter()
            .map(|item| {
                Value::Object(
                    fields
                        .iter()
                        .filter_map(|f| item.get(*f).map(|v| (f.to_string(), v.clone())))
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Start `k8rs simulate-nodes` against `server` with `count` nodes named `sim-0`…, each
/// with `cpu` CPUs and 16Gi of memory, and wait until all of them are Ready. The simulator
/// is killed when the returned handle drops.
pub fn simulate_nodes(server: &Server, count: usize, cpu: &str) -> Background {
    let mut cmd = Command::new(k8rs_bin());
    cmd.args(["simulate-nodes", "--kubeconfig"])
        .arg(server.kubeconfig())
        .args([
            "--count",
            &count.to_string(),
            "--cpu",
            cpu,
            "--memory",
            "16Gi",
        ])
        .args(["--prefix", "sim-", "--run-duration", "1s"]);
    let sim = Background::spawn(cmd);
    poll_until(WAIT_TIMEOUT, "simulated nodes Ready", || {
        let nodes = server.kubectl_json(&["get", "nodes"]);
        let ready = nodes["items"]
            .as_array()?
            .iter()
            .filter(|n| {
                n["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
            .count();
        (ready == count).then_some(())
    });
    sim
}

//! `k8rs-bench`: the k8rs API server benchmark.
//!
//! For each storage backend (embedded, etcd) and each run, it starts a fresh server
//! (and a fresh etcd) on free loopback ports in a temporary directory and measures:
//! startup time, idle RSS, creating N ConfigMaps with C concurrent clients (objects/s,
//! p50/p99 latency), LISTing them (one request, and pages of 500), RSS with the objects,
//! and watch event latency with W watchers. Medians over the runs are printed side by
//! side with the embedded/etcd ratios. It is a measuring tool: nothing here asserts on
//! timings.

mod client;
mod procs;
mod stats;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use client::{Conn, Endpoint};
use stats::{mb, median, ms, percentile};

const NS_PATH: &str = "/api/v1/namespaces/default/configmaps";
/// How long watchers may take to see every event after the last write.
const WATCH_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound of the whole create phase (on top of the per-request timeout).
const PHASE_TIMEOUT: Duration = Duration::from_secs(1800);

#[derive(Parser, Debug, Clone)]
#[command(
    name = "k8rs-bench",
    about = "Benchmark the k8rs API server (embedded vs etcd storage)",
    // A later `--objects 200` overrides an earlier one (hack/bench.sh's defaults).
    args_override_self = true
)]
struct Args {
    /// The `k8rs` binary to benchmark (build it with --release).
    #[arg(long, default_value = "target/release/k8rs")]
    k8rs_bin: PathBuf,
    /// Which storage backend(s) to measure.
    #[arg(long, value_enum, default_value_t = BackendArg::Both)]
    backend: BackendArg,
    /// The etcd binary (for the etcd backend).
    #[arg(long, default_value = "/usr/bin/etcd")]
    etcd_bin: PathBuf,
    /// ConfigMaps to create.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Concurrent creating clients (one connection each).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Concurrent watchers (one connection each).
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Writes (merge PATCHes) observed by the watchers.
    #[arg(long, default_value_t = 200)]
    watch_events: usize,
    /// Pause between two watched writes, in milliseconds.
    #[arg(long, default_value_t = 5)]
    watch_interval_ms: u64,
    /// Timed repetitions of each LIST.
    #[arg(long, default_value_t = 5)]
    list_runs: usize,
    /// Fresh servers per backend; the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Bytes of data in each ConfigMap.
    #[arg(long, default_value_t = 64)]
    value_size: usize,
    /// Use HTTP/1.1 keep-alive connections instead of HTTP/2 (ALPN).
    #[arg(long)]
    http1: bool,
    /// Keep the temporary directories (server/etcd logs and data) and print their paths.
    #[arg(long)]
    keep: bool,
    /// Also write every run's raw numbers as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum BackendArg {
    Embedded,
    Etcd,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Embedded,
    Etcd,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Etcd => "etcd",
        }
    }
}

/// One run's numbers (keys of [`METRICS`]) and remarks.
#[derive(Debug, Default)]
struct RunResult {
    metrics: BTreeMap<&'static str, f64>,
    notes: Vec<String>,
    protocol: Option<&'static str>,
}

impl RunResult {
    fn set(&mut self, key: &'static str, v: f64) {
        debug_assert!(METRICS.iter().any(|m| m.key == key), "unknown metric {key}");
        self.metrics.insert(key, v);
    }
    fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("    ! {s}");
        self.notes.push(s);
    }
}

struct Metric {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    decimals: usize,
    /// Whether an embedded/etcd ratio means something.
    ratio: bool,
}

const fn m(key: &'static str, label: &'static str, unit: &'static str, decimals: usize) -> Metric {
    Metric {
        key,
        label,
        unit,
        decimals,
        ratio: true,
    }
}

/// A metric without a ratio (counts, signed values, percentages).
const fn n(key: &'static str, label: &'static str, unit: &'static str, decimals: usize) -> Metric {
    Metric {
        ratio: false,
        ..m(key, label, unit, decimals)
    }
}

const METRICS: &[Metric] = &[
    m("startup_ms", "startup (spawn -> /readyz 200)", "ms", 0),
    m("rss_idle_mb", "server RSS idle (just ready)", "MB", 1),
    m(
        "rss_idle_anon_mb",
        "  of which anonymous (RssAnon)",
        "MB",
        1,
    ),
    m("create_rate", "creates", "obj/s", 0),
    m("create_p50_ms", "  create latency p50", "ms", 2),
    m("create_p99_ms", "  create latency p99", "ms", 2),
    m("create_max_ms", "  create latency max", "ms", 1),
    n("create_errors", "  create errors", "", 0),
    m("list_ms", "LIST all, one request", "ms", 1),
    n("list_items", "  items returned", "", 0),
    n("list_bytes_mb", "  response size", "MB", 2),
    m("list_paged_ms", "LIST all, limit=500 pages", "ms", 1),
    m("list_page1_ms", "  first page", "ms", 2),
    m("list_pagen_ms", "  a continued page, median", "ms", 2),
    m("rss_objects_mb", "server RSS with the objects", "MB", 1),
    m(
        "rss_objects_anon_mb",
        "  of which anonymous (RssAnon)",
        "MB",
        1,
    ),
    m(
        "watch_p50_ms",
        "watch latency p50 (write sent->event)",
        "ms",
        2,
    ),
    m(
        "watch_p99_ms",
        "watch latency p99 (write sent->event)",
        "ms",
        2,
    ),
    m(
        "watch_max_ms",
        "watch latency max (write sent->event)",
        "ms",
        1,
    ),
    n(
        "watch_resp_p50_ms",
        "  event - write response, p50",
        "ms",
        2,
    ),
    n(
        "watch_resp_p99_ms",
        "  event - write response, p99",
        "ms",
        2,
    ),
    n("watch_early_pct", "  events before write response", "%", 0),
    n("watch_missed", "  watch events missed", "", 0),
    m("watch_write_p50_ms", "  watched write (PATCH) p50", "ms", 2),
    m("rss_end_mb", "server RSS at the end", "MB", 1),
    m("rss_peak_mb", "server RSS peak (VmHWM)", "MB", 1),
    n("etcd_rss_mb", "etcd RSS with the objects", "MB", 1),
];

fn main() -> Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.runs >= 1, "--runs must be at least 1");
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.list_runs >= 1, "--list-runs must be at least 1");
    let backends: Vec<Backend> = match args.backend {
        BackendArg::Embedded => vec![Backend::Embedded],
        BackendArg::Etcd => vec![Backend::Etcd],
        BackendArg::Both => vec![Backend::Embedded, Backend::Etcd],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    // On SIGINT/SIGTERM the benchmark future is dropped, which kills the servers and
    // etcds it started and removes their directories.
    let results = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = bench_all(&args, &backends) => r,
            _ = tokio::signal::ctrl_c() => bail!("interrupted"),
            _ = term.recv() => bail!("terminated"),
        }
    })?;
    report(&args, &backends, &results);
    if let Some(path) = &args.json {
        write_json(path, &args, &backends, &results)?;
        println!("\nraw results: {}", path.display());
    }
    Ok(())
}

type Results = Vec<(Backend, Vec<Result<RunResult, String>>)>;

async fn bench_all(args: &Args, backends: &[Backend]) -> Result<Results> {
    let bin = std::fs::canonicalize(&args.k8rs_bin)
        .with_context(|| format!("k8rs binary {}", args.k8rs_bin.display()))?;
    eprintln!(
        "k8rs-bench: {} | {} objects, {} clients, {} watchers x {} events, {} run(s), {}",
        bin.display(),
        args.objects,
        args.clients,
        args.watchers,
        args.watch_events,
        args.runs,
        if args.http1 { "HTTP/1.1" } else { "HTTP/2" }
    );
    let mut results: Results = backends.iter().map(|b| (*b, Vec::new())).collect();
    // Interleave the backends so slow drifts of the machine hit both alike.
    for run in 0..args.runs {
        for (backend, runs) in results.iter_mut() {
            eprintln!("== {} run {}/{}", backend.name(), run + 1, args.runs);
            let r = bench_once(args, &bin, *backend).await;
            if let Err(e) = &r {
                eprintln!("    FAILED: {e:#}");
            }
            runs.push(r.map_err(|e| format!("{e:#}")));
        }
    }
    Ok(results)
}

/// One fresh server (and etcd): every measurement.
async fn bench_once(args: &Args, bin: &std::path::Path, backend: Backend) -> Result<RunResult> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("k8rs-bench-{}-", backend.name()))
        .tempdir()
        .context("creating a temporary directory")?;
    let dir_path = dir.path().to_path_buf();
    // Keep the directory when asked; otherwise it goes (after the processes) on return.
    let _dir_guard = if args.keep {
        eprintln!("    dir: {}", dir.keep().display());
        None
    } else {
        Some(dir)
    };
    let etcd = match backend {
        Backend::Etcd => Some(procs::start_etcd(&args.etcd_bin, &dir_path).await?),
        Backend::Embedded => None,
    };
    let server = procs::start_server(
        bin,
        &dir_path,
        etcd.as_ref().map(|e| e.url.as_str()),
        !args.http1,
    )
    .await?;
    let mut r = RunResult::default();
    let pid = server.proc.pid();
    let idle = procs::mem(pid)?;
    r.set("startup_ms", ms(server.startup));
    r.set("rss_idle_mb", mb(idle.rss));
    r.set("rss_idle_anon_mb", mb(idle.anon));
    eprintln!(
        "    ready in {:.0} ms, idle RSS {:.1} MB (anon {:.1} MB)",
        ms(server.startup),
        mb(idle.rss),
        mb(idle.anon)
    );

    let ep = &server.endpoint;
    let result = measure(args, ep, pid, &mut r).await;
    // Whatever failed above, the server must still be alive for its numbers to count.
    match procs::mem(pid) {
        Ok(m) => {
            r.set("rss_end_mb", mb(m.rss));
            r.set("rss_peak_mb", mb(m.peak));
        }
        Err(e) => r.note(format!("server gone at the end: {e:#}")),
    }
    if let Err(e) = result {
        r.note(format!("{e:#}"));
    }
    if let Some(e) = &etcd {
        if let Ok(m) = procs::mem(e.proc.pid()) {
            r.set("etcd_rss_mb", mb(m.rss));
        }
    }
    let mut server = server;
    if let Some(st) = server.proc.exited() {
        r.note(format!(
            "the server exited during the run ({st}); last log lines:\n{}",
            server.proc.log_tail(2000).trim_end()
        ));
    }
    let log = server.proc.log_tail(100_000);
    let panics = log.matches("panicked").count();
    if panics > 0 {
        r.note(format!("server log has {panics} panic(s)"));
    }
    drop(server);
    drop(etcd);
    Ok(r)
}

/// The phases after startup; a failing phase is noted and the next ones still run
/// where they can.
async fn measure(args: &Args, ep: &Endpoint, pid: u32, r: &mut RunResult) -> Result<()> {
    if let Err(e) = creates(args, ep, r).await {
        r.note(format!("creates: {e:#}"));
    }
    let listed = match list(args, ep, r).await {
        Ok(l) => Some(l),
        Err(e) => {
            r.note(format!("list: {e:#}"));
            None
        }
    };
    if let Err(e) = list_paged(args, ep, r).await {
        r.note(format!("paged list: {e:#}"));
    }
    // RSS with the objects: after the LISTs, before the watchers.
    let m = procs::mem(pid).context("server gone after the LISTs")?;
    r.set("rss_objects_mb", mb(m.rss));
    r.set("rss_objects_anon_mb", mb(m.anon));
    eprintln!(
        "    RSS with the objects: {:.1} MB (anon {:.1} MB)",
        mb(m.rss),
        mb(m.anon)
    );
    if args.watchers > 0 && args.watch_events > 0 {
        match &listed {
            Some(l) => {
                if let Err(e) = watch(args, ep, l, r).await {
                    r.note(format!("watch: {e:#}"));
                }
            }
            None => r.note("watch: skipped (no LIST resourceVersion)"),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Creates
// ---------------------------------------------------------------------------

fn configmap(name: &str, value_size: usize) -> Bytes {
    let value: String = (0..value_size)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    Bytes::from(
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": {"k": value},
        })
        .to_string(),
    )
}

async fn connect_many(ep: &Endpoint, n: usize) -> Result<Vec<Conn>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let ep = ep.clone();
        set.spawn(async move { ep.connect().await });
    }
    let mut conns = Vec::with_capacity(n);
    while let Some(c) = set.join_next().await {
        conns.push(c.context("connect task")??);
    }
    Ok(conns)
}

#[derive(Default)]
struct ClientOutcome {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

async fn creates(args: &Args, ep: &Endpoint, r: &mut RunResult) -> Result<()> {
    if args.objects == 0 {
        return Ok(());
    }
    let conns = connect_many(ep, args.clients).await?;
    r.protocol = conns
        .first()
        .map(|c| if c.is_h2() { "HTTP/2" } else { "HTTP/1.1" });
    let next = Arc::new(AtomicUsize::new(0));
    let (n, value_size) = (args.objects, args.value_size);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for mut conn in conns {
        let next = next.clone();
        let ep = ep.clone();
        set.spawn(async move {
            let mut out = ClientOutcome::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let body = configmap(&format!("bench-{i}"), value_size);
                let t0 = Instant::now();
                let res = conn
                    .call(Method::POST, NS_PATH, Some("application/json"), body)
                    .await;
                let dt = t0.elapsed();
                match res {
                    Ok((s, _)) if s.as_u16() == 201 => out.latencies.push(dt),
                    Ok((s, b)) => {
                        out.errors += 1;
                        out.first_error
                            .get_or_insert_with(|| format!("HTTP {s}: {}", snippet(&b)));
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| format!("{e:#}"));
                        // The connection may be broken: go on with a new one, or stop
                        // this client if the server cannot be reached any more.
                        match ep.connect().await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            (conn, out)
        });
    }
    let mut lat = Vec::with_capacity(n);
    let (mut errors, mut first_error) = (0, None);
    let joined = tokio::time::timeout(PHASE_TIMEOUT, async {
        while let Some(j) = set.join_next().await {
            let (_conn, out) = j.context("create task")?;
            lat.extend(out.latencies);
            errors += out.errors;
            if first_error.is_none() {
                first_error = out.first_error;
            }
        }
        Ok::<_, anyhow::Error>(())
    })
    .await;
    let elapsed = started.elapsed();
    match joined {
        Ok(res) => res?,
        Err(_) => bail!("create phase not done within {PHASE_TIMEOUT:?}"),
    }
    lat.sort();
    let ok = lat.len();
    r.set("create_rate", ok as f64 / elapsed.as_secs_f64());
    if let Some(p) = percentile(&lat, 50.0) {
        r.set("create_p50_ms", ms(p));
    }
    if let Some(p) = percentile(&lat, 99.0) {
        r.set("create_p99_ms", ms(p));
    }
    if let Some(p) = lat.last() {
        r.set("create_max_ms", ms(*p));
    }
    r.set("create_errors", errors as f64);
    eprintln!(
        "    created {ok}/{n} in {:.2} s: {:.0} obj/s, p50 {:.2} ms, p99 {:.2} ms",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        r.metrics.get("create_p50_ms").copied().unwrap_or(f64::NAN),
        r.metrics.get("create_p99_ms").copied().unwrap_or(f64::NAN),
    );
    if errors > 0 {
        r.note(format!(
            "{errors} create(s) failed; first: {}",
            first_error.unwrap_or_default()
        ));
    }
    Ok(())
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.trim();
    let mut end = s.len().min(300);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end < s.len() {
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------
// LIST
// ---------------------------------------------------------------------------

struct Listed {
    resource_version: String,
    /// Names of the benchmark's ConfigMaps, as listed.
    names: Vec<String>,
}

async fn list(args: &Args, ep: &Endpoint, r: &mut RunResult) -> Result<Listed> {
    let mut conn = ep.connect().await?;
    let mut times = Vec::new();
    let mut listed = None;
    for _ in 0..args.list_runs {
        let t0 = Instant::now();
        let (status, body) = conn.get(NS_PATH).await?;
        let dt = t0.elapsed();
        if status.as_u16() != 200 {
            bail!("GET {NS_PATH}: HTTP {status}: {}", snippet(&body));
        }
        times.push(ms(dt));
        if listed.is_none() {
            let v: Value = serde_json::from_slice(&body).context("LIST body is not JSON")?;
            let items = v["items"].as_array().context("LIST without items")?;
            let names: Vec<String> = items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str())
                .filter(|n| n.starts_with("bench-"))
                .map(str::to_string)
                .collect();
            let rv = v["metadata"]["resourceVersion"]
                .as_str()
                .context("LIST without metadata.resourceVersion")?
                .to_string();
            r.set("list_items", items.len() as f64);
            r.set("list_bytes_mb", mb(body.len() as u64));
            let expected =
                args.objects - r.metrics.get("create_errors").copied().unwrap_or(0.0) as usize;
            if names.len() != expected {
                r.note(format!(
                    "LIST returned {} bench ConfigMaps ({} items), expected {expected}",
                    names.len(),
                    items.len()
                ));
            }
            listed = Some(Listed {
                resource_version: rv,
                names,
            });
        }
    }
    let med = median(&times).unwrap_or(f64::NAN);
    r.set("list_ms", med);
    eprintln!("    LIST all: {med:.1} ms (median of {})", times.len());
    listed.context("no list")
}

/// Paging through everything with `limit=500`; the time is the sum of the page requests
/// (request to full body), without the client's parsing of the pages.
async fn list_paged(args: &Args, ep: &Endpoint, r: &mut RunResult) -> Result<()> {
    let mut conn = ep.connect().await?;
    let mut totals = Vec::new();
    let mut first_pages = Vec::new();
    let mut later_pages = Vec::new();
    let (mut last_count, mut pages) = (0, 0);
    for _ in 0..args.list_runs {
        let mut token: Option<String> = None;
        let (mut count, mut total) = (0, Duration::ZERO);
        pages = 0;
        loop {
            let path = match &token {
                None => format!("{NS_PATH}?limit=500"),
                Some(t) => format!("{NS_PATH}?limit=500&continue={}", stats::query_escape(t)),
            };
            let t0 = Instant::now();
            let (status, body) = conn.get(&path).await?;
            let dt = t0.elapsed();
            if status.as_u16() != 200 {
                bail!("GET {path}: HTTP {status}: {}", snippet(&body));
            }
            total += dt;
            if token.is_none() {
                first_pages.push(ms(dt));
            } else {
                later_pages.push(ms(dt));
            }
            let v: Value = serde_json::from_slice(&body).context("page is not JSON")?;
            count += v["items"].as_array().map_or(0, Vec::len);
            pages += 1;
            match v["metadata"]["continue"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
            if pages > 100_000 {
                bail!("paging does not end");
            }
        }
        totals.push(ms(total));
        last_count = count;
    }
    let med = median(&totals).unwrap_or(f64::NAN);
    r.set("list_paged_ms", med);
    if let Some(v) = median(&first_pages) {
        r.set("list_page1_ms", v);
    }
    if let Some(v) = median(&later_pages) {
        r.set("list_pagen_ms", v);
    }
    if let Some(all) = r.metrics.get("list_items") {
        if *all as usize != last_count {
            r.note(format!(
                "paged LIST returned {last_count} items, the full LIST {all}"
            ));
        }
    }
    eprintln!("    LIST limit=500: {med:.1} ms ({pages} pages, {last_count} items)");
    Ok(())
}

// ---------------------------------------------------------------------------
// Watch latency
// ---------------------------------------------------------------------------

/// One watcher: the resourceVersion of each ADDED/MODIFIED/DELETED event and when its
/// bytes arrived.
async fn watcher(
    conn: Conn,
    mut body: hyper::body::Incoming,
    received: Arc<AtomicUsize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<(String, Instant)>> {
    let _conn = conn; // keep the connection for as long as the stream is read
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            frame = body.frame() => {
                let now = Instant::now();
                let Some(frame) = frame else {
                    bail!("the server ended the watch after {} events", seen.len());
                };
                let Ok(data) = frame.context("reading the watch stream")?.into_data() else {
                    continue;
                };
                buf.extend_from_slice(&data);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let line = line.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    let v: Value = serde_json::from_slice(line)
                        .with_context(|| format!("watch event is not JSON: {}", snippet(line)))?;
                    match v["type"].as_str() {
                        Some("ERROR") => bail!("watch ERROR event: {}", snippet(line)),
                        Some("BOOKMARK") => {}
                        _ => {
                            let rv = v["object"]["metadata"]["resourceVersion"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string();
                            seen.push((rv, now));
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    }
    Ok(seen)
}

async fn watch(args: &Args, ep: &Endpoint, listed: &Listed, r: &mut RunResult) -> Result<()> {
    let path = format!(
        "{NS_PATH}?watch=1&resourceVersion={}",
        stats::query_escape(&listed.resource_version)
    );
    // Open every watch; the server subscribes before it answers the response head.
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..args.watchers {
        let (ep, path) = (ep.clone(), path.clone());
        opening.spawn(async move {
            let mut conn = ep.connect().await?;
            let resp = conn.send(Method::GET, &path, None, Bytes::new()).await?;
            if resp.status().as_u16() != 200 {
                let status = resp.status();
                let body = tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect())
                    .await
                    .ok()
                    .and_then(|b| b.ok())
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                bail!("GET {path}: HTTP {status}: {}", snippet(&body));
            }
            Ok::<_, anyhow::Error>((conn, resp))
        });
    }
    let mut opened = Vec::with_capacity(args.watchers);
    while let Some(j) = opening.join_next().await {
        opened.push(j.context("watch task")??);
    }
    let received = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut watchers = tokio::task::JoinSet::new();
    for (conn, resp) in opened {
        watchers.spawn(watcher(
            conn,
            resp.into_body(),
            received.clone(),
            stop_rx.clone(),
        ));
    }

    // The watched writes: merge PATCHes of the listed ConfigMaps (creates when none).
    let mut conn = ep.connect().await?;
    // resourceVersion -> (request sent, response received)
    let mut writes: HashMap<String, (Instant, Instant)> = HashMap::new();
    let mut write_lat = Vec::new();
    let (mut write_errors, mut first_error) = (0usize, None);
    for j in 0..args.watch_events {
        let (method, path, ct, body) = match listed.names.get(j % listed.names.len().max(1)) {
            Some(name) => (
                Method::PATCH,
                format!("{NS_PATH}/{name}"),
                "application/merge-patch+json",
                Bytes::from(json!({"data": {"k": format!("watched-{j}")}}).to_string()),
            ),
            None => (
                Method::POST,
                NS_PATH.to_string(),
                "application/json",
                configmap(&format!("watched-{j}"), args.value_size),
            ),
        };
        let t0 = Instant::now();
        let res = conn.call(method, &path, Some(ct), body).await;
        let t1 = Instant::now();
        match res {
            Ok((s, b)) if s.is_success() => {
                let rv = serde_json::from_slice::<Value>(&b).ok().and_then(|v| {
                    v["metadata"]["resourceVersion"]
                        .as_str()
                        .map(str::to_string)
                });
                match rv {
                    Some(rv) => {
                        writes.insert(rv, (t0, t1));
                        write_lat.push(t1 - t0);
                    }
                    None => {
                        write_errors += 1;
                        first_error.get_or_insert_with(|| {
                            format!("no resourceVersion in {}", snippet(&b))
                        });
                    }
                }
            }
            Ok((s, b)) => {
                write_errors += 1;
                first_error.get_or_insert_with(|| format!("HTTP {s}: {}", snippet(&b)));
            }
            Err(e) => {
                write_errors += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
                conn = ep.connect().await?;
            }
        }
        if args.watch_interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.watch_interval_ms)).await;
        }
    }
    if write_errors > 0 {
        r.note(format!(
            "{write_errors} watched write(s) failed; first: {}",
            first_error.unwrap_or_default()
        ));
    }

    // Wait for the watchers to see every write (bounded; stop early when stuck).
    let expected = writes.len() * args.watchers;
    let deadline = Instant::now() + WATCH_DRAIN_TIMEOUT;
    let (mut last_count, mut last_progress) = (0, Instant::now());
    loop {
        let n = received.load(Ordering::Relaxed);
        if n >= expected || Instant::now() >= deadline {
            break;
        }
        if n != last_count {
            (last_count, last_progress) = (n, Instant::now());
        } else if last_progress.elapsed() > Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop_tx.send(true);

    // From the write's request (end to end), and signed from its response: an event
    // often reaches the watchers before the writer has read its response.
    let mut lat = Vec::with_capacity(expected);
    let mut after_resp: Vec<f64> = Vec::with_capacity(expected);
    let (mut early, mut unmatched, mut failed, mut first_failure) = (0usize, 0usize, 0usize, None);
    while let Some(j) = watchers.join_next().await {
        match j.context("watcher task")? {
            Ok(seen) => {
                for (rv, at) in seen {
                    match writes.get(&rv) {
                        Some((sent_at, resp_at)) => {
                            lat.push(at.saturating_duration_since(*sent_at));
                            if at < *resp_at {
                                early += 1;
                                after_resp.push(-ms(*resp_at - at));
                            } else {
                                after_resp.push(ms(at - *resp_at));
                            }
                        }
                        None => unmatched += 1,
                    }
                }
            }
            Err(e) => {
                failed += 1;
                first_failure.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    lat.sort();
    after_resp.sort_by(f64::total_cmp);
    write_lat.sort();
    let missed = expected.saturating_sub(lat.len());
    if let Some(p) = percentile(&lat, 50.0) {
        r.set("watch_p50_ms", ms(p));
    }
    if let Some(p) = percentile(&lat, 99.0) {
        r.set("watch_p99_ms", ms(p));
    }
    if let Some(p) = lat.last() {
        r.set("watch_max_ms", ms(*p));
    }
    if let Some(p) = percentile(&after_resp, 50.0) {
        r.set("watch_resp_p50_ms", p);
    }
    if let Some(p) = percentile(&after_resp, 99.0) {
        r.set("watch_resp_p99_ms", p);
    }
    if !after_resp.is_empty() {
        r.set(
            "watch_early_pct",
            100.0 * early as f64 / after_resp.len() as f64,
        );
    }
    if let Some(p) = percentile(&write_lat, 50.0) {
        r.set("watch_write_p50_ms", ms(p));
    }
    r.set("watch_missed", missed as f64);
    eprintln!(
        "    watch: {} of {expected} events, p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        r.metrics.get("watch_p50_ms").copied().unwrap_or(f64::NAN),
        r.metrics.get("watch_p99_ms").copied().unwrap_or(f64::NAN),
    );
    if missed > 0 {
        r.note(format!("{missed} of {expected} watch events not received"));
    }
    if failed > 0 {
        r.note(format!(
            "{failed} watcher(s) failed; first: {}",
            first_failure.unwrap_or_default()
        ));
    }
    if unmatched > 0 {
        r.note(format!("{unmatched} watch events matched no write"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

struct Summary {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn summarize(runs: &[Result<RunResult, String>], key: &str) -> Option<Summary> {
    let vals: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(|r| r.metrics.get(key).copied())
        .collect();
    Some(Summary {
        median: median(&vals)?,
        min: vals.iter().copied().fold(f64::INFINITY, f64::min),
        max: vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        n: vals.len(),
    })
}

fn fmt_num(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

fn fmt_cell(s: Option<&Summary>, decimals: usize) -> String {
    match s {
        None => "-".to_string(),
        Some(s) if s.n > 1 && s.min != s.max => format!(
            "{} [{}..{}]",
            fmt_num(s.median, decimals),
            fmt_num(s.min, decimals),
            fmt_num(s.max, decimals)
        ),
        Some(s) => fmt_num(s.median, decimals),
    }
}

fn report(args: &Args, backends: &[Backend], results: &Results) {
    let protocol = results
        .iter()
        .flat_map(|(_, runs)| runs.iter())
        .filter_map(|r| r.as_ref().ok())
        .find_map(|r| r.protocol)
        .unwrap_or(if args.http1 { "HTTP/1.1" } else { "HTTP/2" });
    println!();
    println!(
        "k8rs-bench: {} objects, {} clients, {} watchers x {} events, {protocol}; median of {} run(s) [min..max]",
        args.objects, args.clients, args.watchers, args.watch_events, args.runs
    );
    println!();
    let label_w = METRICS
        .iter()
        .map(|m| m.label.len() + m.unit.len() + 3)
        .max()
        .unwrap_or(30);
    let col_w = 26;
    let mut header = format!("{:<label_w$}", "metric");
    for (b, _) in results {
        header.push_str(&format!(" {:>col_w$}", b.name()));
    }
    let both = backends.len() == 2;
    if both {
        header.push_str(&format!(" {:>14}", "embedded/etcd"));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for m in METRICS {
        let sums: Vec<Option<Summary>> = results
            .iter()
            .map(|(_, runs)| summarize(runs, m.key))
            .collect();
        if sums.iter().all(Option::is_none) {
            continue;
        }
        let label = if m.unit.is_empty() {
            m.label.to_string()
        } else {
            format!("{} ({})", m.label, m.unit)
        };
        let mut line = format!("{label:<label_w$}");
        for s in &sums {
            line.push_str(&format!(" {:>col_w$}", fmt_cell(s.as_ref(), m.decimals)));
        }
        if both {
            let ratio = match (&sums[0], &sums[1]) {
                (Some(a), Some(b)) if m.ratio && b.median != 0.0 => {
                    format!("{:.2}x", a.median / b.median)
                }
                _ => "-".to_string(),
            };
            line.push_str(&format!(" {ratio:>14}"));
        }
        println!("{line}");
    }
    let mut status_line = format!("{:<label_w$}", "runs ok");
    for (_, runs) in results {
        let ok = runs.iter().filter(|r| r.is_ok()).count();
        status_line.push_str(&format!(" {:>col_w$}", format!("{ok}/{}", runs.len())));
    }
    println!("{status_line}");

    // Failures and remarks, per backend.
    for (b, runs) in results {
        let mut lines = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            match r {
                Err(e) => lines.push(format!("run {}: FAILED: {e}", i + 1)),
                Ok(r) => {
                    for n in &r.notes {
                        lines.push(format!("run {}: {n}", i + 1));
                    }
                }
            }
        }
        if !lines.is_empty() {
            println!("\n{} notes:", b.name());
            for l in lines {
                println!("  {l}");
            }
        }
    }

    // The aims, for information (not asserted).
    if let Some((_, runs)) = results.iter().find(|(b, _)| *b == Backend::Embedded) {
        println!();
        let aim = |key: &str, what: &str, ok: fn(f64) -> bool| match summarize(runs, key) {
            Some(s) => println!(
                "aim {what}: {} ({:.1})",
                if ok(s.median) { "met" } else { "NOT met" },
                s.median
            ),
            None => println!("aim {what}: not measured"),
        };
        aim("create_rate", "> 5000 creates/s embedded", |v| v > 5000.0);
        aim("rss_idle_mb", "idle RSS < 30 MB embedded", |v| v < 30.0);
    }
}

fn write_json(
    path: &std::path::Path,
    args: &Args,
    backends: &[Backend],
    results: &Results,
) -> Result<()> {
    let mut out = serde_json::Map::new();
    out.insert(
        "params".into(),
        json!({
            "k8rs_bin": args.k8rs_bin.display().to_string(),
            "objects": args.objects,
            "clients": args.clients,
            "watchers": args.watchers,
            "watch_events": args.watch_events,
            "runs": args.runs,
            "http1": args.http1,
            "backends": backends.iter().map(|b| b.name()).collect::<Vec<_>>(),
        }),
    );
    for (b, runs) in results {
        let runs: Vec<Value> = runs
            .iter()
            .map(|r| match r {
                Ok(r) => json!({"ok": true, "protocol": r.protocol, "metrics": r.metrics, "notes": r.notes}),
                Err(e) => json!({"ok": false, "error": e}),
            })
            .collect();
        out.insert(b.name().into(), Value::Array(runs));
    }
    let text = serde_json::to_string_pretty(&Value::Object(out))?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn helpers() {
        let d = |n: u64| Duration::from_millis(n);
        let v: Vec<Duration> = (1..=100).map(d).collect();
        assert_eq!(percentile(&v, 50.0), Some(d(50)));
        assert_eq!(percentile(&v, 99.0), Some(d(99)));
        assert_eq!(percentile(&v, 100.0), Some(d(100)));
        assert_eq!(percentile(&v, 0.0), Some(d(1)));
        assert_eq!(percentile(&[d(7)], 99.0), Some(d(7)));
        assert_eq!(percentile::<Duration>(&[], 50.0), None);
        assert_eq!(percentile(&[-2.0, -1.0, 0.5], 50.0), Some(-1.0));
        assert_eq!(percentile(&[d(1), d(2), d(3), d(4)], 50.0), Some(d(2)));

        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);

        assert_eq!(stats::query_escape("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(stats::query_escape("Ab-_.~9"), "Ab-_.~9");

        let status = "Name:\tk8rs\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(procs::status_kb(status, "VmRSS:"), Some(10240));
        assert_eq!(procs::status_kb(status, "VmHWM:"), Some(20480));
        assert_eq!(procs::status_kb(status, "VmSwap:"), None);

        assert_eq!(snippet(b"  short  "), "short");
        assert_eq!(snippet("é".repeat(200).as_bytes()).chars().count(), 153);
    }

    #[test]
    fn kubeconfig() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        // The layout k8rs writes (apiserver/src/tls.rs), with a decoy first entry.
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: {}\n- name: k8rs\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: k8rs\n  context:\n    cluster: k8rs\n    user: admin\ncurrent-context: k8rs\npreferences: {{}}\n",
            b64("OTHER"),
            b64("CA PEM"),
            b64("CERT PEM"),
            b64("KEY PEM"),
        );
        let c = client::parse_kubeconfig(&text).expect("parses");
        assert_eq!(c.server, "https://127.0.0.1:6443");
        assert_eq!(c.ca_pem, b"CA PEM");
        assert_eq!(c.cert_pem, b"CERT PEM");
        assert_eq!(c.key_pem, b"KEY PEM");

        assert!(client::parse_kubeconfig("clusters: []\n").is_err());
        let no_key = text.replace("    client-key-data:", "    other:");
        assert!(client::parse_kubeconfig(&no_key).is_err());
    }
}

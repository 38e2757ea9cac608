//! Test backends: a fresh embedded store per test, and real etcd processes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use k8rs_storage::embedded::EmbeddedStore;
use k8rs_storage::etcd::EtcdStore;
use k8rs_storage::Storage;

const ETCD_BIN: &str = "/usr/bin/etcd";

/// A store under test plus whatever must outlive it (temp dir, etcd process).
pub struct Backend {
    pub store: Arc<dyn Storage>,
    pub prefix: String,
    _dir: Option<tempfile::TempDir>,
    _etcd: Option<EtcdServer>,
}

pub fn embedded() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    Backend {
        store: Arc::new(store),
        prefix: "/registry/test/".into(),
        _dir: Some(dir),
        _etcd: None,
    }
}

/// A client of the etcd process shared by all tests of this binary; `test` makes the key
/// prefix unique so tests do not see each other's keys.
pub async fn etcd_shared(test: &str) -> Backend {
    static SHARED: OnceLock<EtcdServer> = OnceLock::new();
    let server = SHARED.get_or_init(EtcdServer::start);
    let store = EtcdStore::connect(std::slice::from_ref(&server.endpoint))
        .await
        .unwrap();
    Backend {
        store: Arc::new(store),
        prefix: format!("/registry/{test}/"),
        _dir: None,
        _etcd: None,
    }
}

/// A client of an etcd process of its own, for tests that compact (compaction is global).
pub async fn etcd_dedicated(test: &str) -> Backend {
    let server = EtcdServer::start();
    let store = EtcdStore::connect(std::slice::from_ref(&server.endpoint))
        .await
        .unwrap();
    Backend {
        store: Arc::new(store),
        prefix: format!("/registry/{test}/"),
        _dir: None,
        _etcd: Some(server),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct EtcdServer {
    pub endpoint: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl EtcdServer {
    pub fn start() -> Self {
        assert!(
            Path::new(ETCD_BIN).exists(),
            "{ETCD_BIN} is missing: the etcd backend tests need a real etcd \
             (Debian/Ubuntu: apt-get install etcd-server)"
        );
        let dir = tempfile::tempdir().unwrap();
        let (client_port, peer_port) = (free_port(), free_port());
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        // etcd runs under a shell that kills it as soon as its stdin (a pipe from this
        // process) closes: on drop, and also when this test process exits or dies, since the
        // shared server lives in a static that is never dropped.
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#""$@" & e=$!; read -r _; kill -9 "$e"; wait "$e""#)
            .arg("sh")
            .arg(ETCD_BIN)
            .arg("--name=default")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=default={peer}"))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Self {
            endpoint: format!("127.0.0.1:{client_port}"),
            child,
            dir,
        };
        server.wait_healthy(client_port);
        server
    }

    fn wait_healthy(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !health(port) {
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
                panic!("etcd did not become healthy within 30s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn health(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        // Closing the pipe makes the shell kill etcd and exit.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

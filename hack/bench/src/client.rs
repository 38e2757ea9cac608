//! A minimal HTTPS client for the benchmark: the admin kubeconfig's client certificate,
//! rustls (ring), one hyper connection per simulated client, HTTP/2 when the server
//! negotiates it through ALPN (HTTP/1.1 keep-alive otherwise, or with `--http1`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use base64::Engine;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HOST};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Upper bound of one request (send, headers and the whole body).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound of TCP connect + TLS handshake + HTTP handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the benchmark needs from a kubeconfig: the server URL and the PEM blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub server: String,
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Parse a kubeconfig with embedded (`*-data`, base64 PEM) credentials; follows
/// `current-context` when present, else takes the first cluster and user.
pub fn parse_kubeconfig(text: &str) -> Result<Credentials> {
    let v: serde_yaml::Value = serde_yaml::from_str(text).context("kubeconfig is not YAML")?;
    let ctx = v["current-context"].as_str().and_then(|cur| {
        v["contexts"]
            .as_sequence()?
            .iter()
            .find(|c| c["name"].as_str() == Some(cur))
    });
    let cluster_name = ctx.and_then(|c| c["context"]["cluster"].as_str());
    let user_name = ctx.and_then(|c| c["context"]["user"].as_str());
    let pick = |list: &str, name: Option<&str>| -> Result<serde_yaml::Value> {
        let items = v[list]
            .as_sequence()
            .with_context(|| format!("kubeconfig has no {list}"))?;
        let found = match name {
            Some(n) => items.iter().find(|i| i["name"].as_str() == Some(n)),
            None => items.first(),
        };
        found
            .cloned()
            .with_context(|| format!("kubeconfig: no entry {name:?} in {list}"))
    };
    let cluster = pick("clusters", cluster_name)?;
    let user = pick("users", user_name)?;
    let b64 = |val: &serde_yaml::Value, field: &str| -> Result<Vec<u8>> {
        let s = val
            .get(field)
            .and_then(|f| f.as_str())
            .with_context(|| format!("kubeconfig: missing {field}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .with_context(|| format!("kubeconfig: {field} is not base64"))
    };
    Ok(Credentials {
        server: cluster["cluster"]["server"]
            .as_str()
            .context("kubeconfig: missing cluster.server")?
            .to_string(),
        ca_pem: b64(&cluster["cluster"], "certificate-authority-data")?,
        cert_pem: b64(&user["user"], "client-certificate-data")?,
        key_pem: b64(&user["user"], "client-key-data")?,
    })
}

/// Where and how to connect; cheap to clone.
#[derive(Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    connector: TlsConnector,
    server_name: ServerName<'static>,
    authority: String,
}

impl Endpoint {
    /// `addr` must be a loopback address; the server certificate is checked against the
    /// kubeconfig's CA and the address's IP SAN.
    pub fn new(addr: SocketAddr, creds: &Credentials, http2: bool) -> Result<Endpoint> {
        anyhow::ensure!(addr.ip().is_loopback(), "refusing non-loopback {addr}");
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut creds.ca_pem.as_slice()) {
            roots
                .add(c.context("parsing the CA certificate")?)
                .context("adding the CA certificate")?;
        }
        let certs: Vec<CertificateDer<'static>> =
            rustls_pemfile::certs(&mut creds.cert_pem.as_slice())
                .collect::<Result<_, _>>()
                .context("parsing the client certificate")?;
        let key: PrivateKeyDer<'static> =
            rustls_pemfile::private_key(&mut creds.key_pem.as_slice())
                .context("parsing the client key")?
                .context("no private key in client-key-data")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .context("client certificate")?;
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(Endpoint {
            addr,
            connector: TlsConnector::from(Arc::new(config)),
            server_name: ServerName::IpAddress(addr.ip().into()),
            authority: addr.to_string(),
        })
    }

    /// A new connection (TCP + TLS + HTTP handshake), bounded by [`CONNECT_TIMEOUT`].
    pub async fn connect(&self) -> Result<Conn> {
        let fut = async {
            let tcp = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            tcp.set_nodelay(true)?;
            let tls = self
                .connector
                .connect(self.server_name.clone(), tcp)
                .await
                .context("TLS handshake")?;
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
            let io = TokioIo::new(tls);
            let sender = if h2 {
                let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .context("HTTP/2 handshake")?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Sender::H2(s)
            } else {
                let (s, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .context("HTTP/1.1 handshake")?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Sender::H1(s)
            };
            Ok(Conn {
                sender,
                authority: self.authority.clone(),
            })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, fut)
            .await
            .map_err(|_| anyhow!("connecting to {} timed out", self.addr))?
    }
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// One connection; requests on it are sequential (one simulated client).
pub struct Conn {
    sender: Sender,
    authority: String,
}

impl Conn {
    pub fn is_h2(&self) -> bool {
        matches!(self.sender, Sender::H2(_))
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(method)
            .header(ACCEPT, "application/json");
        b = if self.is_h2() {
            b.uri(format!("https://{}{path}", self.authority))
        } else {
            b.uri(path).header(HOST, &self.authority)
        };
        if let Some(ct) = content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        b.body(Full::new(body)).context("building request")
    }

    /// Send a request and return the response head (the body streams).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Response<Incoming>> {
        let req = self.build(method, path, content_type, body)?;
        let fut = async {
            match &mut self.sender {
                Sender::H1(s) => {
                    s.ready().await?;
                    s.send_request(req).await
                }
                Sender::H2(s) => {
                    s.ready().await?;
                    s.send_request(req).await
                }
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| anyhow!("{path}: no response within {REQUEST_TIMEOUT:?}"))?
            .with_context(|| format!("{path}: request failed"))
    }

    /// Send a request and read the whole body, bounded by [`REQUEST_TIMEOUT`].
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        let fut = async {
            let resp = self.send(method, path, content_type, body).await?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .with_context(|| format!("{path}: reading the body"))?
                .to_bytes();
            Ok::<_, anyhow::Error>((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .map_err(|_| anyhow!("{path}: not complete within {REQUEST_TIMEOUT:?}"))?
    }

    pub async fn get(&mut self, path: &str) -> Result<(StatusCode, Bytes)> {
        self.call(Method::GET, path, None, Bytes::new()).await
    }
}

/// Plain-HTTP `GET` on loopback (etcd's `/health`), bounded.
pub async fn plain_get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(u16, Bytes)> {
    anyhow::ensure!(addr.ip().is_loopback(), "refusing non-loopback {addr}");
    let fut = async {
        let tcp = TcpStream::connect(addr).await?;
        let (mut s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::get(path)
            .header(HOST, addr.to_string())
            .body(Full::new(Bytes::new()))?;
        let resp = s.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok::<_, anyhow::Error>((status, body))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| anyhow!("GET http://{addr}{path} timed out"))?
}

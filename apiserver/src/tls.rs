//! The cluster's PKI: a CA, the serving certificate and the admin client certificate,
//! generated on first start under `<data-dir>/pki` and reused after; the TLS config that
//! asks for (but does not require) client certificates; the admin kubeconfig.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;

pub struct Pki {
    pub ca_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    /// Kept so the server can sign further certificates (CSRs, tokens) later.
    pub ca_key_pem: String,
}

pub(crate) fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

fn read(dir: &Path, name: &str) -> Option<String> {
    fs::read_to_string(dir.join(name)).ok()
}

fn hostname() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

impl Pki {
    /// Load the PKI from `<data_dir>/pki`, generating what is missing. The serving
    /// certificate is regenerated when the SANs it needs change (another bind address).
    pub fn load_or_create(data_dir: &Path, bind_address: &str) -> Result<Pki> {
        let dir = data_dir.join("pki");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (ca_pem, ca_key_pem) = match (read(&dir, "ca.crt"), read(&dir, "ca.key")) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let key = KeyPair::generate()?;
                let mut params = CertificateParams::new(Vec::<String>::new())?;
                params
                    .distinguished_name
                    .push(DnType::CommonName, "k8rs-ca");
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
                let cert = params.self_signed(&key)?;
                let (c, k) = (cert.pem(), key.serialize_pem());
                write_private(&dir.join("ca.key"), &k)?;
                write_private(&dir.join("ca.crt"), &c)?;
                (c, k)
            }
        };
        let ca_key = KeyPair::from_pem(&ca_key_pem).context("parsing ca.key")?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).context("parsing ca.crt")?;

        let mut sans = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
        ];
        if !sans.contains(&bind_address.to_string())
            && bind_address != "0.0.0.0"
            && bind_address != "::"
        {
            sans.push(bind_address.to_string());
        }
        if let Some(h) = hostname() {
            if !sans.contains(&h) {
                sans.push(h);
            }
        }
        let sans_file = sans.join(",");
        let (serving_cert_pem, serving_key_pem) = match (
            read(&dir, "serving.crt"),
            read(&dir, "serving.key"),
            read(&dir, "serving.sans"),
        ) {
            (Some(c), Some(k), Some(s)) if s == sans_file => (c, k),
            _ => {
                let key = KeyPair::generate()?;
                let mut params = CertificateParams::new(sans)?;
                params
                    .distinguished_name
                    .push(DnType::CommonName, "kube-apiserver");
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                let cert = params.signed_by(&key, &issuer)?;
                let (c, k) = (cert.pem(), key.serialize_pem());
                write_private(&dir.join("serving.key"), &k)?;
                write_private(&dir.join("serving.crt"), &c)?;
                write_private(&dir.join("serving.sans"), &sans_file)?;
                (c, k)
            }
        };
        let (admin_cert_pem, admin_key_pem) =
            match (read(&dir, "admin.crt"), read(&dir, "admin.key")) {
                (Some(c), Some(k)) => (c, k),
                _ => {
                    let (c, k) = client_cert(&issuer, "admin", &["system:masters"])?;
                    write_private(&dir.join("admin.key"), &k)?;
                    write_private(&dir.join("admin.crt"), &c)?;
                    (c, k)
                }
            };
        Ok(Pki {
            ca_pem,
            serving_cert_pem,
            serving_key_pem,
            admin_cert_pem,
            admin_key_pem,
            ca_key_pem,
        })
    }

    /// TLS for the secure port: HTTP/2 and HTTP/1.1, client certificates verified against
    /// the CA when offered.
    pub fn server_config(&self) -> Result<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in pem_certs(&self.ca_pem)? {
            roots.add(c)?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let key = rustls_pemfile::private_key(&mut self.serving_key_pem.as_bytes())?
            .context("no private key in serving.key")?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(pem_certs(&self.serving_cert_pem)?, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// The admin kubeconfig, with everything embedded.
    pub fn kubeconfig(&self, server_url: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: k8rs\n  cluster:\n    server: {server_url}\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: k8rs\n  context:\n    cluster: k8rs\n    user: admin\ncurrent-context: k8rs\npreferences: {{}}\n",
            b64(&self.ca_pem),
            b64(&self.admin_cert_pem),
            b64(&self.admin_key_pem),
        )
    }
}

fn client_cert(issuer: &Issuer<'_, KeyPair>, cn: &str, orgs: &[&str]) -> Result<(String, String)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    for o in orgs {
        params.distinguished_name.push(DnType::OrganizationName, *o);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn pem_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("parsing certificates")
}

/// Write the kubeconfig atomically (mode 0600).
pub fn write_kubeconfig(path: &Path, contents: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    write_private(path, contents)
}

/// Identity from a verified client certificate: user = CN, groups = O.
pub fn identity_from_cert(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some((user, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pki_is_generated_once_and_admin_is_system_masters() {
        let dir = tempfile::tempdir().unwrap();
        let a = Pki::load_or_create(dir.path(), "127.0.0.1").unwrap();
        let b = Pki::load_or_create(dir.path(), "127.0.0.1").unwrap();
        assert_eq!(a.ca_pem, b.ca_pem);
        assert_eq!(a.serving_cert_pem, b.serving_cert_pem);
        a.server_config().unwrap();
        let der = pem_certs(&a.admin_cert_pem).unwrap().remove(0);
        let (user, groups) = identity_from_cert(&der).unwrap();
        assert_eq!(user, "admin");
        assert_eq!(groups, vec!["system:masters"]);
        assert!(a
            .kubeconfig("https://127.0.0.1:6443")
            .contains("client-key-data"));
    }
}

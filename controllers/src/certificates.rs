//! The certificate controllers (upstream pkg/controller/certificates): the **approver**
//! auto-approves kubelets' client certificate requests, and the **signer** issues
//! certificates from the cluster CA for approved requests to the built-in signers
//! (`kubernetes.io/kube-apiserver-client`, `…-client-kubelet`, `kubernetes.io/kubelet-serving`).
//! A signed client certificate authenticates to the API server as its CN, in its O groups.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::ByteString;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use rcgen::{
    CertificateSigningRequestParams, DnType, DnValue, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

const CLIENT: &str = "kubernetes.io/kube-apiserver-client";
const KUBELET_CLIENT: &str = "kubernetes.io/kube-apiserver-client-kubelet";
const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";
/// `--cluster-signing-duration`'s default: one year.
const DEFAULT_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates start five minutes early, for clock skew (upstream's backdate).
const BACKDATE: Duration = Duration::from_secs(300);

/// The cluster CA the signer issues from, as PEM.
#[derive(Clone)]
pub struct SigningCa {
    pub cert_pem: String,
    pub key_pem: String,
}

impl SigningCa {
    /// `--cluster-signing-cert-file` / `--cluster-signing-key-file`.
    pub fn from_files(cert: &std::path::Path, key: &std::path::Path) -> Result<SigningCa> {
        Ok(SigningCa {
            cert_pem: std::fs::read_to_string(cert)
                .with_context(|| format!("reading {}", cert.display()))?,
            key_pem: std::fs::read_to_string(key)
                .with_context(|| format!("reading {}", key.display()))?,
        })
    }
}

struct Ctx {
    client: Client,
    /// The signer's CA; `None`: this instance only approves.
    ca: Option<SigningCa>,
    approve: bool,
}

/// `csrapproving`: approve kubelet client requests.
pub async fn run_approver(client: Client) -> Result<()> {
    run(client, None, true).await
}

/// `csrsigning`: sign approved requests with `ca` (nothing to do without one).
pub async fn run_signer(client: Client, ca: Option<SigningCa>) -> Result<()> {
    if ca.is_none() {
        tracing::info!("no cluster signing CA: certificate requests are not signed");
        return std::future::pending().await;
    }
    run(client, ca, false).await
}

async fn run(client: Client, ca: Option<SigningCa>, approve: bool) -> Result<()> {
    let csrs = Api::<CertificateSigningRequest>::all(client.clone());
    Controller::new(csrs, watcher::Config::default())
        .run(
            reconcile,
            error_policy,
            Arc::new(Ctx {
                client,
                ca,
                approve,
            }),
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!("certificates controller: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_c: Arc<CertificateSigningRequest>, _e: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

fn has_condition(csr: &CertificateSigningRequest, ty: &str) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == ty && c.status == "True"))
}

fn condition(ty: &str, reason: &str, message: &str) -> CertificateSigningRequestCondition {
    let now = Time(Timestamp::now());
    CertificateSigningRequestCondition {
        type_: ty.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

async fn reconcile(
    csr: Arc<CertificateSigningRequest>,
    ctx: Arc<Ctx>,
) -> Result<Action, kube::Error> {
    let api = Api::<CertificateSigningRequest>::all(ctx.client.clone());
    let name = csr.name_any();
    let approved = has_condition(&csr, "Approved");
    let done = has_condition(&csr, "Denied") || has_condition(&csr, "Failed");
    if done {
        return Ok(Action::await_change());
    }
    let parsed = parse(&csr);
    if !approved {
        // The approver: a node's own client certificate request, well formed.
        if ctx.approve
            && csr.spec.signer_name == KUBELET_CLIENT
            && parsed
                .as_ref()
                .is_ok_and(|r| validate(KUBELET_CLIENT, r, &csr).is_ok())
        {
            let mut updated = (*csr).clone();
            let status = updated.status.get_or_insert_with(Default::default);
            status
                .conditions
                .get_or_insert_with(Vec::new)
                .push(condition(
                    "Approved",
                    "AutoApproved",
                    "Auto approving kubelet client certificate after SubjectAccessReview.",
                ));
            api.replace_subresource("approval", &name, &PostParams::default(), &updated)
                .await?;
        }
        return Ok(Action::await_change());
    }
    let signed = csr
        .status
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .is_some_and(|c| !c.0.is_empty());
    let ours = [CLIENT, KUBELET_CLIENT, KUBELET_SERVING].contains(&csr.spec.signer_name.as_str());
    let Some(ca) = ctx.ca.as_ref().filter(|_| ours && !signed) else {
        return Ok(Action::await_change());
    };
    let mut updated = (*csr).clone();
    let status = updated.status.get_or_insert_with(Default::default);
    match parsed.and_then(|r| {
        validate(&csr.spec.signer_name, &r, &csr)?;
        sign(ca, r, &csr)
    }) {
        Ok(pem) => status.certificate = Some(ByteString(pem.into_bytes())),
        Err(why) => status
            .conditions
            .get_or_insert_with(Vec::new)
            .push(condition("Failed", "SignerValidationFailure", &why)),
    }
    api.replace_status(&name, &PostParams::default(), &updated)
        .await?;
    Ok(Action::await_change())
}

fn parse(csr: &CertificateSigningRequest) -> Result<CertificateSigningRequestParams, String> {
    let pem = String::from_utf8_lossy(&csr.spec.request.0).to_string();
    CertificateSigningRequestParams::from_pem(&pem).map_err(|e| format!("unable to parse csr: {e}"))
}

fn subject(r: &CertificateSigningRequestParams, ty: DnType) -> Vec<String> {
    r.params
        .distinguished_name
        .iter()
        .filter(|(t, _)| *t == &ty)
        .filter_map(|(_, v)| match v {
            DnValue::Utf8String(s) => Some(s.clone()),
            DnValue::PrintableString(s) => Some(s.as_str().to_string()),
            _ => None,
        })
        .collect()
}

/// Each built-in signer's rules for what it will sign (upstream's signer validation).
fn validate(
    signer: &str,
    r: &CertificateSigningRequestParams,
    csr: &CertificateSigningRequest,
) -> Result<(), String> {
    let usages: Vec<&str> = csr
        .spec
        .usages
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let allowed: &[&str] = match signer {
        CLIENT => &["digital signature", "key encipherment", "client auth"],
        KUBELET_CLIENT => &["digital signature", "key encipherment", "client auth"],
        _ => &["digital signature", "key encipherment", "server auth"],
    };
    if let Some(bad) = usages.iter().find(|u| !allowed.contains(u)) {
        return Err(format!("invalid usage for {signer}: {bad:?}"));
    }
    if signer == CLIENT {
        return Ok(());
    }
    let cn = subject(r, DnType::CommonName);
    let orgs = subject(r, DnType::OrganizationName);
    if !cn.first().is_some_and(|c| c.starts_with("system:node:")) {
        return Err(format!(
            "subject common name does not begin with system:node: {cn:?}"
        ));
    }
    if orgs != ["system:nodes"] {
        return Err(format!(
            "subject organization is not system:nodes: {orgs:?}"
        ));
    }
    let sans = &r.params.subject_alt_names;
    if signer == KUBELET_CLIENT && !sans.is_empty() {
        return Err("subject alternative names are not allowed".into());
    }
    if signer == KUBELET_SERVING {
        if sans.is_empty() {
            return Err("at least one DNS or IP subjectAltName is required".into());
        }
        if sans
            .iter()
            .any(|s| !matches!(s, SanType::DnsName(_) | SanType::IpAddress(_)))
        {
            return Err("only DNS and IP subjectAltNames are allowed".into());
        }
    }
    Ok(())
}

fn sign(
    ca: &SigningCa,
    mut r: CertificateSigningRequestParams,
    csr: &CertificateSigningRequest,
) -> Result<String, String> {
    let key = KeyPair::from_pem(&ca.key_pem).map_err(|e| format!("signing key: {e}"))?;
    let issuer =
        Issuer::from_ca_cert_pem(&ca.cert_pem, key).map_err(|e| format!("signing CA: {e}"))?;
    let lifetime = csr
        .spec
        .expiration_seconds
        .map(|s| Duration::from_secs(u64::try_from(s.max(600)).unwrap_or(600)))
        .unwrap_or(DEFAULT_DURATION)
        .min(DEFAULT_DURATION);
    let now = time::OffsetDateTime::now_utc();
    r.params.not_before = now - BACKDATE;
    r.params.not_after = now + lifetime;
    r.params.is_ca = rcgen::IsCa::ExplicitNoCa;
    r.params.key_usages = Vec::new();
    r.params.extended_key_usages = Vec::new();
    for u in csr.spec.usages.iter().flatten() {
        match u.as_str() {
            "digital signature" => r.params.key_usages.push(KeyUsagePurpose::DigitalSignature),
            "key encipherment" => r.params.key_usages.push(KeyUsagePurpose::KeyEncipherment),
            "client auth" => r
                .params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth),
            "server auth" => r
                .params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth),
            _ => {}
        }
    }
    let cert = r.signed_by(&issuer).map_err(|e| format!("signing: {e}"))?;
    Ok(cert.pem())
}

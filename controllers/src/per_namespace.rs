//! Controllers that keep one object present in every namespace: a `default`
//! ServiceAccount (upstream's serviceaccount controller) and the `kube-root-ca.crt`
//! ConfigMap (upstream's root-ca-cert-publisher). Both watch namespaces and the objects they
//! own, and re-create or repair them when they are deleted or changed.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The object a per-namespace controller keeps in every namespace.
trait Kept:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const NAME: &'static str;
    /// The object as it should be in namespace `ns`.
    fn desired(ctx: &Ctx, ns: &str) -> Self;
    /// Whether an existing object needs rewriting to the desired one.
    fn drifted(&self, _desired: &Self) -> bool {
        false
    }
}

pub struct Ctx {
    client: Client,
    /// PEM of the cluster CA, published in `kube-root-ca.crt`.
    root_ca: String,
}

impl Kept for ServiceAccount {
    const NAME: &'static str = "default";
    fn desired(_ctx: &Ctx, ns: &str) -> Self {
        ServiceAccount {
            metadata: ObjectMeta {
                name: Some(Self::NAME.into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

impl Kept for ConfigMap {
    const NAME: &'static str = "kube-root-ca.crt";
    fn desired(ctx: &Ctx, ns: &str) -> Self {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(Self::NAME.into()),
                namespace: Some(ns.into()),
                annotations: Some(BTreeMap::from([(
                    "kubernetes.io/description".to_string(),
                    ROOT_CA_DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "ca.crt".to_string(),
                ctx.root_ca.clone(),
            )])),
            ..Default::default()
        }
    }
    fn drifted(&self, desired: &Self) -> bool {
        self.data != desired.data
    }
}

pub async fn run_serviceaccounts(client: Client) -> anyhow::Result<()> {
    run::<ServiceAccount>(Ctx {
        client,
        root_ca: String::new(),
    })
    .await
}

pub async fn run_root_ca(client: Client, root_ca: String) -> anyhow::Result<()> {
    if root_ca.is_empty() {
        anyhow::bail!("root-ca-cert-publisher: the kubeconfig has no certificate-authority-data");
    }
    run::<ConfigMap>(Ctx { client, root_ca }).await
}

async fn run<K: Kept>(ctx: Ctx) -> anyhow::Result<()> {
    let namespaces = Api::<Namespace>::all(ctx.client.clone());
    let kept = Api::<K>::all(ctx.client.clone());
    // Only our object's changes matter: map them to their namespace.
    let by_name = watcher::Config::default().fields(&format!("metadata.name={}", K::NAME));
    Controller::new(namespaces, watcher::Config::default())
        .watches(kept, by_name, |o: K| {
            o.namespace().map(|ns| ObjectRef::new(&ns))
        })
        .run(reconcile::<K>, error_policy::<K>, Arc::new(ctx))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("{} controller: {e}", K::NAME);
            }
        })
        .await;
    Ok(())
}

fn error_policy<K: Kept>(_ns: Arc<Namespace>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile<K: Kept>(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    // Terminating namespaces refuse new content; nothing to keep there.
    if ns.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let api = Api::<K>::namespaced(ctx.client.clone(), &name);
    let desired = K::desired(&ctx, &name);
    match api.get_opt(K::NAME).await? {
        None => match api.create(&PostParams::default(), &desired).await {
            Ok(_) => {}
            // Someone created it meanwhile, or the namespace started terminating.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {}
            Err(e) => return Err(e),
        },
        Some(existing) if existing.drifted(&desired) => {
            let mut fixed = desired;
            fixed.meta_mut().resource_version = existing.resource_version();
            api.replace(K::NAME, &PostParams::default(), &fixed).await?;
        }
        Some(_) => {}
    }
    Ok(Action::await_change())
}

//! The endpoints of the `default/kubernetes` Service: this server's own address, kept by
//! the server itself as upstream's endpoint reconciler does, in both the Endpoints and the
//! EndpointSlice form (marked so the mirroring controller leaves them alone).

use serde_json::{json, Value};

use crate::handler::Api;
use crate::rest::WriteOptions;
use crate::strategy::Part;

/// Create or refresh both objects to point at `ip:port`.
pub async fn ensure(api: &Api, ip: &str, port: u16) -> anyhow::Result<()> {
    let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": family,
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    upsert(api, ("", "v1", "endpoints"), endpoints).await?;
    upsert(api, ("discovery.k8s.io", "v1", "endpointslices"), slice).await
}

async fn upsert(
    api: &Api,
    (group, version, plural): (&str, &str, &str),
    want: Value,
) -> anyhow::Result<()> {
    let Some(rest) = api.rest(group, version, plural) else {
        anyhow::bail!("{plural} are not served");
    };
    let ns = Some("default");
    match rest.get(ns, "kubernetes").await {
        Err(e) if e.code == 404 => match rest.create(ns, want, WriteOptions::internal()).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => anyhow::bail!("creating {plural}/kubernetes: {}", e.message),
        },
        Err(e) => anyhow::bail!("reading {plural}/kubernetes: {}", e.message),
        Ok(mut current) => {
            let mut changed = false;
            for (k, v) in want.as_object().into_iter().flatten() {
                if k != "metadata" && current[k] != *v {
                    current[k] = v.clone();
                    changed = true;
                }
            }
            if !changed {
                return Ok(());
            }
            rest.update(
                ns,
                "kubernetes",
                current,
                Part::Main,
                WriteOptions::internal(),
            )
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("updating {plural}/kubernetes: {}", e.message))
        }
    }
}

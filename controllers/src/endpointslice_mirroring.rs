//! The EndpointSlice mirroring controller: a Service without a selector whose Endpoints
//! object is written by hand gets EndpointSlices mirroring it (managed by
//! `endpointslicemirroring-controller.k8s.io`, owned by the Service), one per subset and
//! address type, as upstream's pkg/controller/endpointslicemirroring.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointSubset, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::endpointslice::{LABEL_MANAGED_BY, LABEL_SERVICE_NAME, TRIGGER_TIME};

const MANAGED_BY: &str = "endpointslicemirroring-controller.k8s.io";
const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Upstream's `--mirroring-max-endpoints-per-subset` default.
const MAX_ENDPOINTS_PER_SUBSET: usize = 1000;

pub async fn run(client: Client) -> anyhow::Result<()> {
    let by_service_name = |ns: Option<String>, name: String| {
        Some(ObjectRef::<Service>::new(&name).within(ns.as_deref().unwrap_or_default()))
    };
    let mirrored = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
    Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<Endpoints>::all(client.clone()),
        watcher::Config::default(),
        move |ep: Endpoints| by_service_name(ep.namespace(), ep.name_any()),
    )
    .watches(
        Api::<EndpointSlice>::all(client.clone()),
        mirrored,
        move |s: EndpointSlice| {
            let name = s.labels().get(LABEL_SERVICE_NAME)?.clone();
            by_service_name(s.namespace(), name)
        },
    )
    .run(reconcile, error_policy, Arc::new(client))
    .for_each(|res| async move {
        if let Err(e) = res {
            tracing::debug!("endpointslice mirroring controller: {e}");
        }
    })
    .await;
    Ok(())
}

fn error_policy(_svc: Arc<Service>, _err: &kube::Error, _ctx: Arc<Client>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// Whether an Endpoints object is one to mirror: not opted out, not a leader-election
/// record, and for a Service without a selector.
fn should_mirror(svc: &Service, ep: &Endpoints) -> bool {
    let has_selector = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|s| !s.is_empty());
    !has_selector
        && ep.labels().get(SKIP_MIRROR).map(String::as_str) != Some("true")
        && !ep.annotations().contains_key(LEADER_ANNOTATION)
}

fn address_type(ip: &str) -> Option<&'static str> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(_) => Some("IPv4"),
        std::net::IpAddr::V6(_) => Some("IPv6"),
    }
}

fn to_endpoint(a: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![a.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..Default::default()
        }),
        hostname: a.hostname.clone().filter(|h| !h.is_empty()),
        node_name: a.node_name.clone(),
        target_ref: a.target_ref.clone(),
        ..Default::default()
    }
}

/// The slices one subset becomes: one per address type, invalid IPs skipped, at most
/// 1000 endpoints (ready ones first).
fn subset_slices(subset: &EndpointSubset) -> Vec<(String, Vec<EndpointPort>, Vec<Endpoint>)> {
    let ports: Vec<EndpointPort> = subset
        .ports
        .iter()
        .flatten()
        .map(|p| EndpointPort {
            name: p.name.clone(),
            port: Some(p.port),
            protocol: p.protocol.clone(),
            app_protocol: p.app_protocol.clone(),
        })
        .collect();
    let mut by_type: BTreeMap<&'static str, Vec<Endpoint>> = BTreeMap::new();
    let ready = subset.addresses.iter().flatten().map(|a| (a, true));
    let not_ready = subset
        .not_ready_addresses
        .iter()
        .flatten()
        .map(|a| (a, false));
    for (addr, is_ready) in ready.chain(not_ready) {
        let Some(t) = address_type(&addr.ip) else {
            continue;
        };
        let list = by_type.entry(t).or_default();
        if list.len() < MAX_ENDPOINTS_PER_SUBSET {
            list.push(to_endpoint(addr, is_ready));
        }
    }
    by_type
        .into_iter()
        .map(|(t, eps)| (t.to_string(), ports.clone(), eps))
        .collect()
}

fn desired(svc: &Service, ep: &Endpoints) -> Vec<EndpointSlice> {
    let Some(uid) = svc.metadata.uid.clone() else {
        return Vec::new();
    };
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.name_any(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut labels: BTreeMap<String, String> = ep
        .labels()
        .iter()
        .filter(|(k, _)| k.as_str() != LABEL_MANAGED_BY && k.as_str() != LABEL_SERVICE_NAME)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(LABEL_SERVICE_NAME.into(), svc.name_any());
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
    let annotations: BTreeMap<String, String> = ep
        .annotations()
        .iter()
        .filter(|(k, _)| k.as_str() != TRIGGER_TIME && k.as_str() != LAST_APPLIED)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ep.subsets
        .iter()
        .flatten()
        .flat_map(subset_slices)
        .map(|(address_type, ports, endpoints)| EndpointSlice {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}-", svc.name_any())),
                namespace: svc.namespace(),
                labels: Some(labels.clone()),
                annotations: (!annotations.is_empty()).then(|| annotations.clone()),
                owner_references: Some(vec![owner.clone()]),
                ..Default::default()
            },
            address_type,
            endpoints,
            ports: Some(ports),
        })
        .collect()
}

async fn reconcile(svc: Arc<Service>, client: Arc<Client>) -> Result<Action, kube::Error> {
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let endpoints = Api::<Endpoints>::namespaced((*client).clone(), &ns)
        .get_opt(&name)
        .await?;
    let want: Vec<EndpointSlice> = match &endpoints {
        Some(ep) if svc.metadata.deletion_timestamp.is_none() && should_mirror(&svc, ep) => {
            desired(&svc, ep)
        }
        _ => Vec::new(),
    };
    let api = Api::<EndpointSlice>::namespaced((*client).clone(), &ns);
    let mut have = api
        .list(&ListParams::default().labels(&format!(
            "{LABEL_SERVICE_NAME}={name},{LABEL_MANAGED_BY}={MANAGED_BY}"
        )))
        .await?
        .items;
    have.sort_by_key(|s| s.name_any());
    for slice in want {
        let pos = have
            .iter()
            .position(|h| h.address_type == slice.address_type);
        match pos.map(|i| have.remove(i)) {
            Some(current) => {
                let same = current.endpoints == slice.endpoints
                    && current.ports == slice.ports
                    && current.metadata.labels == slice.metadata.labels
                    && current.metadata.annotations.clone().unwrap_or_default()
                        == slice.metadata.annotations.clone().unwrap_or_default()
                    && current.metadata.owner_references == slice.metadata.owner_references;
                if !same {
                    let mut next = current.clone();
                    next.endpoints = slice.endpoints;
                    next.ports = slice.ports;
                    next.metadata.labels = slice.metadata.labels;
                    next.metadata.annotations = slice.metadata.annotations;
                    next.metadata.owner_references = slice.metadata.owner_references;
                    api.replace(&current.name_any(), &PostParams::default(), &next)
                        .await?;
                }
            }
            None => {
                api.create(&PostParams::default(), &slice).await?;
            }
        }
    }
    for stale in have {
        match api
            .delete(&stale.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_split_by_address_type() {
        let addr = |ip: &str| EndpointAddress {
            ip: ip.into(),
            ..Default::default()
        };
        let subset = EndpointSubset {
            addresses: Some(vec![addr("10.0.0.1"), addr("fd00::1"), addr("not-an-ip")]),
            not_ready_addresses: Some(vec![addr("10.0.0.2")]),
            ports: None,
        };
        let slices = subset_slices(&subset);
        assert_eq!(slices.len(), 2);
        assert_eq!(slices[0].0, "IPv4");
        assert_eq!(slices[0].2.len(), 2);
        assert_eq!(
            slices[0].2[1].conditions.as_ref().unwrap().ready,
            Some(false)
        );
        assert_eq!(slices[1].0, "IPv6");
    }
}

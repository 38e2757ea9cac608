//! The Endpoints controller: the legacy `Endpoints` object (named as its Service) for every
//! Service with a selector, with ready pods under `addresses`, the others under
//! `notReadyAddresses`, subsets repacked by port set, the
//! `endpoints.kubernetes.io/last-change-trigger-time` annotation, truncation at 1000
//! addresses, and deletion along with the Service, as upstream's pkg/controller/endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use crate::endpointslice::{self as eps, LABEL_HEADLESS, TRIGGER_TIME};

const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Addresses an Endpoints object holds at most before it is truncated.
const MAX_CAPACITY: usize = 1000;
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

struct Ctx {
    client: Client,
    events: crate::events::Events,
}

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "endpoint-controller");
    tokio::spawn(delete_with_services(client.clone()));
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let store = controller.store();
    controller
        .watches_shared_stream(pods, eps::services_in_namespace(store))
        .watches(
            Api::<Endpoints>::all(client.clone()),
            watcher::Config::default(),
            |ep: Endpoints| {
                let ns = ep.namespace().unwrap_or_default();
                Some(kube::runtime::reflector::ObjectRef::new(&ep.name_any()).within(&ns))
            },
        )
        .run(reconcile, error_policy, Arc::new(Ctx { client, events }))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("endpoint controller: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_svc: Arc<Service>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// A Service's Endpoints go with it. At start, leftovers of Services deleted while no
/// controller ran go too (except leader-election records, which have no Service).
async fn delete_with_services(client: Client) {
    let services = Api::<Service>::all(client.clone());
    let mut stream = std::pin::pin!(watcher(services, watcher::Config::default()));
    let mut initial: std::collections::BTreeSet<(String, String)> = Default::default();
    // Only the first complete list: later re-lists may race a user writing an Endpoints
    // object just before its Service.
    let mut leftovers_checked = false;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Delete(svc)) => {
                delete_endpoints(
                    &client,
                    &svc.namespace().unwrap_or_default(),
                    &svc.name_any(),
                )
                .await;
            }
            Ok(watcher::Event::Init) => initial.clear(),
            Ok(watcher::Event::InitApply(svc)) => {
                initial.insert((svc.namespace().unwrap_or_default(), svc.name_any()));
            }
            Ok(watcher::Event::InitDone) if !leftovers_checked => {
                leftovers_checked = true;
                let Ok(all) = Api::<Endpoints>::all(client.clone())
                    .list(&Default::default())
                    .await
                else {
                    continue;
                };
                for ep in all.items {
                    let key = (ep.namespace().unwrap_or_default(), ep.name_any());
                    if !initial.contains(&key) && !ep.annotations().contains_key(LEADER_ANNOTATION)
                    {
                        delete_endpoints(&client, &key.0, &key.1).await;
                    }
                }
            }
            Ok(watcher::Event::Apply(_) | watcher::Event::InitDone) => {}
            Err(e) => {
                tracing::debug!("endpoint controller service watch: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn delete_endpoints(client: &Client, ns: &str, name: &str) {
    let api = Api::<Endpoints>::namespaced(client.clone(), ns);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => tracing::debug!("deleting endpoints {ns}/{name}: {e}"),
    }
}

/// The address a pod offers a Service: of the Service's IP family (from its cluster IP,
/// else its first ipFamily, else the pod's own first IP).
fn pod_address(svc: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let spec = svc.spec.as_ref()?;
    let family = match spec.cluster_ip.as_deref() {
        Some(ip) if !ip.is_empty() && ip != "None" => {
            if ip.contains(':') {
                "IPv6"
            } else {
                "IPv4"
            }
        }
        _ => match spec.ip_families.as_ref().and_then(|f| f.first()) {
            Some(f) => f.as_str(),
            None => "IPv4",
        },
    };
    let ip = eps::pod_ip_of_family(pod, family)?;
    Some(EndpointAddress {
        ip,
        hostname: eps::hostname_for(pod, svc),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        target_ref: Some(eps::pod_ref(pod)),
    })
}

/// `(ip, uid)` identifies an address across subsets.
type AddrKey = (String, String);

fn addr_key(a: &EndpointAddress) -> AddrKey {
    (
        a.ip.clone(),
        a.target_ref
            .as_ref()
            .and_then(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

fn port_key(p: &EndpointPort) -> (String, i32, String, String) {
    (
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone().unwrap_or_default(),
    )
}

/// Upstream's `RepackSubsets`: one subset per distinct set of addresses, carrying every
/// port those addresses share; an address ready anywhere is ready. Sorted, so that equal
/// inputs give equal outputs.
fn repack(entries: Vec<(EndpointAddress, bool, Option<EndpointPort>)>) -> Vec<EndpointSubset> {
    // port (None = the no-port sentinel of headless Services) -> address -> ready
    type Port = Option<(String, i32, String, String)>;
    let mut by_port: BTreeMap<Port, (Option<EndpointPort>, BTreeMap<AddrKey, bool>)> =
        BTreeMap::new();
    let mut addrs: BTreeMap<AddrKey, EndpointAddress> = BTreeMap::new();
    for (addr, ready, port) in entries {
        let key = addr_key(&addr);
        let entry = by_port
            .entry(port.as_ref().map(port_key))
            .or_insert_with(|| (port.clone(), BTreeMap::new()));
        let r = entry.1.entry(key.clone()).or_insert(ready);
        *r |= ready;
        addrs.entry(key).or_insert(addr);
    }
    let mut by_set: BTreeMap<Vec<(AddrKey, bool)>, Vec<EndpointPort>> = BTreeMap::new();
    for (_, (port, set)) in by_port {
        let key: Vec<(AddrKey, bool)> = set.into_iter().collect();
        let ports = by_set.entry(key).or_default();
        ports.extend(port);
    }
    let mut subsets: Vec<EndpointSubset> = by_set
        .into_iter()
        .map(|(set, mut ports)| {
            ports.sort_by_key(port_key);
            let pick = |want: bool| -> Option<Vec<EndpointAddress>> {
                let list: Vec<EndpointAddress> = set
                    .iter()
                    .filter(|(_, ready)| *ready == want)
                    .filter_map(|(k, _)| addrs.get(k).cloned())
                    .collect();
                (!list.is_empty()).then_some(list)
            };
            EndpointSubset {
                addresses: pick(true),
                not_ready_addresses: pick(false),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    subsets.sort_by_key(|s| {
        s.addresses
            .iter()
            .chain(s.not_ready_addresses.iter())
            .flatten()
            .next()
            .map(addr_key)
    });
    subsets
}

/// Upstream's truncation to 1000 addresses: ready ones first, each subset keeping its
/// proportional share. True if anything was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |f: fn(&EndpointSubset) -> usize| subsets.iter().map(f).sum::<usize>();
    let ready = count(|s| s.addresses.as_ref().map_or(0, Vec::len));
    let not_ready = count(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len));
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, ready)
    } else {
        (MAX_CAPACITY - ready, not_ready)
    };
    let mut can_add = max;
    for s in subsets.iter_mut() {
        let list = if truncate_ready {
            s.not_ready_addresses = None;
            &mut s.addresses
        } else {
            &mut s.not_ready_addresses
        };
        let n = list.as_ref().map_or(0, Vec::len);
        let share = (n * max).div_ceil(total).min(can_add);
        if let Some(l) = list.as_mut() {
            l.truncate(share);
            can_add -= l.len();
        }
    }
    true
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    if svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(sel) = eps::selector(&svc) else {
        // Selector-less Services get their Endpoints from users.
        return Ok(Action::await_change());
    };
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let pods = eps::selected_pods(&ctx.client, &ns, sel).await?;
    let spec = svc.spec.clone().unwrap_or_default();
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let mut entries = Vec::new();
    for pod in &pods {
        if !eps::should_pod_be_in_endpoints(pod, publish) {
            continue;
        }
        let Some(addr) = pod_address(&svc, pod) else {
            continue;
        };
        let ready = publish || eps::pod_ready(pod);
        let ports = spec.ports.clone().unwrap_or_default();
        if ports.is_empty() {
            // Headless Services may have no ports at all.
            if eps::is_headless(&svc) {
                entries.push((addr.clone(), ready, None));
            }
            continue;
        }
        for port in &ports {
            let Some(number) = eps::find_port(pod, port) else {
                continue;
            };
            entries.push((
                addr.clone(),
                ready,
                Some(EndpointPort {
                    name: port.name.clone(),
                    port: number,
                    protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: port.app_protocol.clone(),
                }),
            ));
        }
    }
    let mut subsets = repack(entries);
    let api = Api::<Endpoints>::namespaced(ctx.client.clone(), &ns);
    let current = api.get_opt(&name).await?;
    let truncated = truncate(&mut subsets);
    let mut labels = svc.labels().clone();
    if eps::is_headless(&svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    if let Some(cur) = &current {
        let same_subsets = cur.subsets.clone().unwrap_or_default() == subsets;
        let capacity_ok = cur.annotations().contains_key(OVER_CAPACITY) == truncated;
        if same_subsets && cur.labels() == &labels && capacity_ok {
            return Ok(Action::await_change());
        }
    }
    let mut ep = current.clone().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        ..Default::default()
    });
    ep.subsets = Some(subsets);
    ep.metadata.labels = Some(labels);
    let annotations = ep.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match eps::trigger_time(&svc, &pods) {
        Some(t) => annotations.insert(TRIGGER_TIME.into(), eps::format_trigger_time(t)),
        None => annotations.remove(TRIGGER_TIME),
    };
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    let result = match &current {
        None => api.create(&PostParams::default(), &ep).await,
        Some(_) => api.replace(&name, &PostParams::default(), &ep).await,
    };
    if let Err(e) = &result {
        let (reason, message) = if current.is_none() {
            (
                "FailedToCreateEndpoint",
                format!("Failed to create endpoint for service {ns}/{name}: {e}"),
            )
        } else {
            (
                "FailedToUpdateEndpoint",
                format!("Failed to update endpoint {ns}/{name}: {e}"),
            )
        };
        ctx.events
            .publish(&ep.object_ref(&()), true, reason, "Update", message)
            .await;
    }
    result?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.into(),
            ..Default::default()
        }
    }

    fn port(name: &str, n: i32) -> Option<EndpointPort> {
        Some(EndpointPort {
            name: Some(name.into()),
            port: n,
            protocol: Some("TCP".into()),
            app_protocol: None,
        })
    }

    #[test]
    fn subsets_group_addresses_by_shared_ports() {
        let subsets = repack(vec![
            (addr("10.0.0.1"), true, port("http", 80)),
            (addr("10.0.0.1"), true, port("metrics", 9090)),
            (addr("10.0.0.2"), false, port("http", 80)),
            (addr("10.0.0.2"), false, port("metrics", 9090)),
            (addr("10.0.0.3"), true, port("http", 80)),
        ]);
        // Each port goes with the exact set of addresses offering it.
        assert_eq!(subsets.len(), 2, "{subsets:?}");
        let count = |s: &EndpointSubset| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        };
        let all = subsets.iter().find(|s| count(s) == 3).unwrap();
        assert_eq!(all.ports.as_ref().unwrap()[0].name.as_deref(), Some("http"));
        assert_eq!(all.not_ready_addresses.as_ref().unwrap()[0].ip, "10.0.0.2");
        let two = subsets.iter().find(|s| count(s) == 2).unwrap();
        assert_eq!(
            two.ports.as_ref().unwrap()[0].name.as_deref(),
            Some("metrics")
        );
    }

    #[test]
    fn over_capacity_keeps_ready_addresses_first() {
        let many = |n: usize, prefix: &str| -> Option<Vec<EndpointAddress>> {
            Some((0..n).map(|i| addr(&format!("{prefix}{i}"))).collect())
        };
        let mut subsets = vec![EndpointSubset {
            addresses: many(900, "r"),
            not_ready_addresses: many(300, "n"),
            ports: None,
        }];
        assert!(truncate(&mut subsets));
        assert_eq!(subsets[0].addresses.as_ref().unwrap().len(), 900);
        assert_eq!(subsets[0].not_ready_addresses.as_ref().unwrap().len(), 100);
    }
}

//! The EndpointSlice controller: every Service with a selector gets EndpointSlices
//! (labelled `kubernetes.io/service-name`, managed by `endpointslice-controller.k8s.io`,
//! owned by the Service) listing its pods' addresses with ready/serving/terminating
//! conditions, node, zone and target reference, grouped by resolved port set and at most
//! 100 endpoints a slice, as upstream's `k8s.io/endpointslice` reconciler does.
//!
//! The helpers that decide whether and how a pod backs a Service are shared with the
//! Endpoints controller.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};

pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
pub const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// Upstream's `--max-endpoints-per-slice` default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

struct Ctx {
    client: Client,
    nodes: Store<Node>,
    events: crate::events::Events,
}

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> anyhow::Result<()> {
    let events = crate::events::Events::new(client.clone(), "endpointslice-controller");
    let (nodes, writer) = reflector::store();
    let node_watch = reflector::reflector(
        writer,
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()),
    )
    .applied_objects()
    .for_each(|_| async {});
    tokio::spawn(node_watch);
    let services = Api::<Service>::all(client.clone());
    let controller = Controller::new(services, watcher::Config::default());
    let store = controller.store();
    let slices = Api::<EndpointSlice>::all(client.clone());
    let managed = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
    controller
        .owns(slices, managed)
        .watches_shared_stream(pods, services_in_namespace(store))
        .run(
            reconcile,
            error_policy,
            Arc::new(Ctx {
                client,
                nodes,
                events,
            }),
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("endpointslice controller: {e}");
            }
        })
        .await;
    Ok(())
}

/// A pod event wakes every Service with a selector in its namespace: the ones selecting it
/// now and the ones that did before a label change (which only their slices remember).
pub fn services_in_namespace(
    store: Store<Service>,
) -> impl Fn(Arc<Pod>) -> Vec<ObjectRef<Service>> {
    move |pod: Arc<Pod>| {
        let ns = pod.namespace();
        store
            .state()
            .into_iter()
            .filter(|s| s.namespace() == ns && selector(s).is_some())
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect()
    }
}

fn error_policy(_svc: Arc<Service>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// The selector of a Service the endpoint controllers manage: none for ExternalName
/// Services and selector-less ones (their endpoints are written by hand).
pub fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|s| !s.is_empty())
}

/// The pods a selector picks, with a consistent list (never a lagging cache).
pub async fn selected_pods(
    client: &Client,
    ns: &str,
    sel: &BTreeMap<String, String>,
) -> Result<Vec<Pod>, kube::Error> {
    let query: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&query.join(",")))
        .await?;
    Ok(pods.items)
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Upstream's `ShouldPodBeInEndpoints`: a pod with an IP that is not terminal, and, unless
/// terminating pods are wanted, not being deleted.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    let has_ip = status.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty())
        || status.pod_ips.as_ref().is_some_and(|ips| !ips.is_empty());
    if !has_ip {
        return false;
    }
    if !include_terminating && pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    !matches!(status.phase.as_deref(), Some("Succeeded") | Some("Failed"))
}

/// The pod's IPs, podIPs first (podIP alone on old clients).
fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<String> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .collect();
    if ips.is_empty() {
        ips.extend(status.pod_ip.clone().filter(|ip| !ip.is_empty()));
    }
    ips
}

/// The first pod IP of an address family (`IPv4` or `IPv6`).
pub fn pod_ip_of_family(pod: &Pod, family: &str) -> Option<String> {
    pod_ips(pod)
        .into_iter()
        .find(|ip| ip.contains(':') == (family == "IPv6"))
}

/// Upstream's `FindPort`: a named targetPort resolves to the pod's container port of that
/// name and protocol (sidecars included); a number is taken as is.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match port.target_port.as_ref() {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            sidecars
                .chain(spec.containers.iter())
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// A pod publishes its hostname when it names the Service as its subdomain.
pub fn hostname_for(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.clone().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == Some(svc.name_any().as_str())
        && pod.namespace() == svc.namespace())
    .then_some(hostname)
}

pub fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// The last change that could have moved the Service's endpoints: its own creation or a
/// pod's creation, deletion or condition change. Derived from the objects (rather than the
/// wall clock) so that an unchanged set of endpoints never changes the annotation.
pub fn trigger_time(svc: &Service, pods: &[Pod]) -> Option<Timestamp> {
    let mut latest = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
    for pod in pods {
        let times = pod
            .metadata
            .creation_timestamp
            .iter()
            .chain(pod.metadata.deletion_timestamp.iter())
            .map(|t| t.0)
            .chain(
                pod.status
                    .iter()
                    .flat_map(|s| s.conditions.iter().flatten())
                    .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0)),
            );
        for t in times {
            if latest.is_none_or(|l| t > l) {
                latest = Some(t);
            }
        }
    }
    latest
}

/// RFC 3339 with nanoseconds, as Go's `time.RFC3339Nano` writes it.
pub fn format_trigger_time(t: Timestamp) -> String {
    t.to_string()
}

fn address_types(svc: &Service) -> Vec<String> {
    let families = svc
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.clone())
        .unwrap_or_default();
    if families.is_empty() {
        vec!["IPv4".into()]
    } else {
        families
    }
}

fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    svc.spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| {
            Some(EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(find_port(pod, p)?),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
        })
        .collect()
}

fn pod_to_endpoint(pod: &Pod, node: Option<&Node>, svc: &Service, address: String) -> Endpoint {
    let serving = pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    // A terminating pod is never "ready", unless not-ready addresses are published anyway.
    let ready = publish || (serving && !terminating);
    Endpoint {
        addresses: vec![address],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: hostname_for(pod, svc),
        node_name: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        zone: node
            .and_then(|n| n.labels().get(LABEL_ZONE).cloned())
            .filter(|z| !z.is_empty()),
        target_ref: Some(pod_ref(pod)),
        ..Default::default()
    }
}

fn service_owner(svc: &Service) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.name_any(),
        uid: svc.metadata.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = svc
        .labels()
        .iter()
        .filter(|(k, _)| k.as_str() != LABEL_SERVICE_NAME && k.as_str() != LABEL_MANAGED_BY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if is_headless(svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(LABEL_SERVICE_NAME.into(), svc.name_any());
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
    labels
}

/// A port set by content: (name, protocol, port, appProtocol), sorted.
type PortKey = Vec<(String, String, i32, String)>;

/// Port sets compare by content, whatever their order.
fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: Vec<_> = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.app_protocol.clone().unwrap_or_default(),
            )
        })
        .collect();
    key.sort();
    key
}

/// What one address type's slices should hold: endpoint chunks per port set. No
/// endpoints at all still gets one empty placeholder slice, as upstream.
fn desired_groups(
    svc: &Service,
    pods: &[Pod],
    nodes: &Store<Node>,
    address_type: &str,
    missing_node: &mut bool,
) -> Vec<(Vec<EndpointPort>, Vec<Vec<Endpoint>>)> {
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut groups: BTreeMap<PortKey, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    let mut sorted: Vec<&Pod> = pods.iter().collect();
    sorted.sort_by_key(|p| p.name_any());
    for pod in sorted {
        if !should_pod_be_in_endpoints(pod, true) {
            continue;
        }
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let node = nodes.get(&ObjectRef::new(&node_name));
        // A pod on a node that does not exist (yet) is left out and retried, unless the
        // user asked for every address to be published.
        if node.is_none() && !publish {
            *missing_node = true;
            continue;
        }
        let Some(address) = pod_ip_of_family(pod, address_type) else {
            continue;
        };
        let ports = endpoint_ports(svc, pod);
        let entry = groups
            .entry(port_key(&ports))
            .or_insert_with(|| (ports, Vec::new()));
        entry
            .1
            .push(pod_to_endpoint(pod, node.as_deref(), svc, address));
    }
    if groups.is_empty() {
        return vec![(Vec::new(), vec![Vec::new()])];
    }
    groups
        .into_values()
        .map(|(ports, eps)| {
            let chunks = eps
                .chunks(MAX_ENDPOINTS_PER_SLICE)
                .map(<[Endpoint]>::to_vec)
                .collect();
            (ports, chunks)
        })
        .collect()
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let Some(sel) = selector(&svc) else {
        return Ok(Action::await_change());
    };
    let Some(owner) = service_owner(&svc) else {
        return Ok(Action::await_change());
    };
    let ns = svc.namespace().unwrap_or_default();
    let pods = selected_pods(&ctx.client, &ns, sel).await?;
    let api = Api::<EndpointSlice>::namespaced(ctx.client.clone(), &ns);
    let existing = api
        .list(&ListParams::default().labels(&format!(
            "{LABEL_SERVICE_NAME}={},{LABEL_MANAGED_BY}={MANAGED_BY}",
            svc.name_any()
        )))
        .await?
        .items;
    let labels = slice_labels(&svc);
    let trigger = trigger_time(&svc, &pods).map(format_trigger_time);
    let mut missing_node = false;
    let mut unused: Vec<EndpointSlice> = Vec::new();
    let mut by_type: BTreeMap<String, Vec<EndpointSlice>> = BTreeMap::new();
    let types = address_types(&svc);
    for slice in existing {
        let owned = slice
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && Some(&o.uid) == svc.metadata.uid.as_ref());
        if owned && types.contains(&slice.address_type) {
            by_type
                .entry(slice.address_type.clone())
                .or_default()
                .push(slice);
        } else {
            unused.push(slice);
        }
    }
    let mut writes: Vec<EndpointSlice> = Vec::new();
    for address_type in &types {
        let mut have = by_type.remove(address_type).unwrap_or_default();
        have.sort_by_key(|s| s.name_any());
        for (ports, chunks) in
            desired_groups(&svc, &pods, &ctx.nodes, address_type, &mut missing_node)
        {
            let key = port_key(&ports);
            let mut same_ports: Vec<EndpointSlice> = Vec::new();
            have.retain(|s| {
                if port_key(s.ports.as_deref().unwrap_or_default()) == key {
                    same_ports.push(s.clone());
                    false
                } else {
                    true
                }
            });
            let mut same_ports = same_ports.into_iter();
            for endpoints in chunks {
                let desired = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{}-", svc.name_any())),
                        namespace: Some(ns.clone()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![owner.clone()]),
                        ..Default::default()
                    },
                    address_type: address_type.clone(),
                    endpoints,
                    ports: Some(ports.clone()),
                };
                match same_ports.next() {
                    Some(current) if unchanged(&current, &desired) => {}
                    Some(current) => writes.push(update_of(current, desired, trigger.as_deref())),
                    None => writes.push(with_trigger(desired, trigger.as_deref())),
                }
            }
            unused.extend(same_ports);
        }
        unused.extend(have);
    }
    unused.extend(by_type.into_values().flatten());
    // Reuse slices that would be deleted for ones that would be created (same address type).
    let mut creates: Vec<EndpointSlice> = Vec::new();
    let mut updates: Vec<EndpointSlice> = Vec::new();
    for w in writes {
        if w.metadata.name.is_some() {
            updates.push(w);
        } else if let Some(pos) = unused.iter().position(|u| {
            u.address_type == w.address_type
                && u.owner_references()
                    .iter()
                    .any(|o| Some(&o.uid) == svc.metadata.uid.as_ref())
        }) {
            let old = unused.remove(pos);
            updates.push(update_of(old, w, trigger.as_deref()));
        } else {
            creates.push(w);
        }
    }
    let result = apply(&api, &svc, creates, updates, unused).await;
    if let Err(e) = &result {
        ctx.events
            .publish(
                &svc.object_ref(&()),
                true,
                "FailedToUpdateEndpointSlices",
                "Update",
                format!(
                    "Error updating Endpoint Slices for Service {ns}/{}: {e}",
                    svc.name_any()
                ),
            )
            .await;
    }
    result?;
    Ok(if missing_node {
        Action::requeue(Duration::from_secs(5))
    } else {
        Action::await_change()
    })
}

async fn apply(
    api: &Api<EndpointSlice>,
    svc: &Service,
    creates: Vec<EndpointSlice>,
    updates: Vec<EndpointSlice>,
    deletes: Vec<EndpointSlice>,
) -> Result<(), kube::Error> {
    // No new slices for a Service on its way out: the garbage collector is removing them.
    if svc.metadata.deletion_timestamp.is_none() {
        for slice in creates {
            api.create(&PostParams::default(), &slice).await?;
        }
    }
    for slice in updates {
        api.replace(&slice.name_any(), &PostParams::default(), &slice)
            .await?;
    }
    for slice in deletes {
        match api
            .delete(&slice.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn unchanged(current: &EndpointSlice, desired: &EndpointSlice) -> bool {
    current.endpoints == desired.endpoints
        && current.metadata.labels == desired.metadata.labels
        && current.metadata.owner_references == desired.metadata.owner_references
}

fn with_trigger(mut slice: EndpointSlice, trigger: Option<&str>) -> EndpointSlice {
    if let Some(t) = trigger {
        slice
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(TRIGGER_TIME.into(), t.into());
    }
    slice
}

/// `desired`'s content in `current`'s object (name, resourceVersion, other metadata kept).
fn update_of(
    current: EndpointSlice,
    desired: EndpointSlice,
    trigger: Option<&str>,
) -> EndpointSlice {
    let mut out = current;
    out.metadata.labels = desired.metadata.labels;
    out.metadata.owner_references = desired.metadata.owner_references;
    out.endpoints = desired.endpoints;
    out.ports = desired.ports;
    let mut out = with_trigger(out, trigger);
    if trigger.is_none() {
        if let Some(a) = out.metadata.annotations.as_mut() {
            a.remove(TRIGGER_TIME);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, PodStatus, ServiceSpec};

    fn pod(name: &str, ip: &str, port_name: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    ports: Some(vec![ContainerPort {
                        name: Some(port_name.into()),
                        container_port: 8080,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                pod_ip: Some(ip.into()),
                phase: Some("Running".into()),
                ..Default::default()
            }),
        }
    }

    fn port(target: IntOrString) -> ServicePort {
        ServicePort {
            port: 80,
            protocol: Some("TCP".into()),
            target_port: Some(target),
            ..Default::default()
        }
    }

    #[test]
    fn named_target_ports_resolve_per_pod() {
        let p = pod("a", "10.0.0.1", "http");
        assert_eq!(
            find_port(&p, &port(IntOrString::String("http".into()))),
            Some(8080)
        );
        assert_eq!(
            find_port(&p, &port(IntOrString::String("grpc".into()))),
            None
        );
        assert_eq!(find_port(&p, &port(IntOrString::Int(9000))), Some(9000));
    }

    #[test]
    fn terminal_and_ipless_pods_are_left_out() {
        let mut p = pod("a", "10.0.0.1", "http");
        assert!(should_pod_be_in_endpoints(&p, true));
        p.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!should_pod_be_in_endpoints(&p, true));
        let mut p = pod("a", "", "http");
        p.status.as_mut().unwrap().pod_ip = None;
        assert!(!should_pod_be_in_endpoints(&p, true));
    }

    #[test]
    fn endpoints_split_at_the_slice_limit() {
        let svc = Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                publish_not_ready_addresses: Some(true),
                ports: Some(vec![port(IntOrString::Int(80))]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pods: Vec<Pod> = (0..250)
            .map(|i| {
                pod(
                    &format!("p{i:03}"),
                    &format!("10.0.{}.{}", i / 200, i % 200),
                    "x",
                )
            })
            .collect();
        let (_, writer) = reflector::store::<Node>();
        let mut missing = false;
        let groups = desired_groups(&svc, &pods, &writer.as_reader(), "IPv4", &mut missing);
        assert_eq!(groups.len(), 1);
        let sizes: Vec<usize> = groups[0].1.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert!(pods.iter().all(|p| pod_ip_of_family(p, "IPv6").is_none()));
    }
}

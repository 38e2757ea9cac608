//! Service cluster IPs and node ports, allocated as upstream v1.33 does: every allocated IP
//! is a `networking.k8s.io/v1` IPAddress object named by the IP with the Service as its
//! parent, so an IP is taken exactly when its object exists. Creating the object is the
//! allocation: storage `create` fails if the key exists, which makes concurrent
//! allocations (and API servers sharing etcd) race-free, and the objects persist across
//! restarts. Node ports use the same scheme with one key per port under
//! `/registry/ranges/servicenodeports/` (upstream keeps a bitmap in a RangeAllocation; a key
//! per port needs no read-modify-write of a shared blob).
//!
//! The REST layer calls [`claim`] before writing a Service, [`Claimed::rollback`] if the
//! write fails, [`release_unused`] after an update and [`release`] after a delete.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use bytes::Bytes;
use k8rs_storage::{ListOptions, Storage, StorageError};
use serde_json::{json, Value};

use crate::object;
use crate::resource::ResourceInfo;
use crate::status::{ApiError, ApiResult, Cause};

/// The default service cluster IP range (kube-apiserver's `--service-cluster-ip-range` as
/// kubeadm and kind set it).
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
/// The default node port range (`--service-node-port-range`).
pub const NODE_PORT_RANGE: (u16, u16) = (30000, 32767);

/// The ranges this server allocates from: set once at start (`k8rs server
/// --service-cluster-ip-range/--service-node-port-range`), the defaults otherwise.
static RANGES: std::sync::OnceLock<Ranges> = std::sync::OnceLock::new();

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranges {
    /// Network address and size of the IPv4 service range.
    net: (u32, u32),
    cidr: String,
    ports: (u16, u16),
}

impl Ranges {
    /// Parse `10.96.0.0/12` and `30000-32767` as kube-apiserver's flags take them.
    pub fn parse(cidr: &str, ports: &str) -> Result<Ranges, String> {
        let (ip, bits) = cidr
            .split_once('/')
            .ok_or_else(|| format!("service CIDR {cidr:?}: want address/bits"))?;
        let base: Ipv4Addr = ip
            .parse()
            .map_err(|e| format!("service CIDR {cidr:?}: {e} (IPv4 only)"))?;
        let bits: u32 = bits
            .parse()
            .ok()
            .filter(|b| (8..=28).contains(b))
            .ok_or_else(|| format!("service CIDR {cidr:?}: prefix length must be 8..28"))?;
        let size = 1u32 << (32 - bits);
        if u32::from(base) % size != 0 {
            return Err(format!("service CIDR {cidr:?}: not a network address"));
        }
        let (lo, hi) = ports
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
            .filter(|(a, b)| a < b)
            .ok_or_else(|| format!("node port range {ports:?}: want low-high"))?;
        Ok(Ranges {
            net: (u32::from(base), size),
            cidr: cidr.to_string(),
            ports: (lo, hi),
        })
    }
}

/// Use `r` for every allocation from now on; only the first call counts (one server per
/// process).
pub fn configure(r: Ranges) -> Result<(), String> {
    let wanted = r.clone();
    match RANGES.set(r) {
        Ok(()) => Ok(()),
        Err(_) if RANGES.get() == Some(&wanted) => Ok(()),
        Err(_) => Err("service ranges are already set in this process".into()),
    }
}

fn ranges() -> &'static Ranges {
    RANGES.get_or_init(|| Ranges {
        net: (u32::from(Ipv4Addr::new(10, 96, 0, 0)), 1 << 20),
        cidr: SERVICE_CIDR.to_string(),
        ports: NODE_PORT_RANGE,
    })
}

const IP_PREFIX: &str = "/registry/networking.k8s.io/ipaddresses/";
const PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";

/// Network address and size of the service range.
fn cidr() -> (u32, u32) {
    ranges().net
}

/// The first usable IP of the range: the `kubernetes` Service's.
pub fn first_ip() -> String {
    let (base, _) = cidr();
    Ipv4Addr::from(base + 1).to_string()
}

/// Usable offsets exclude the network and broadcast addresses; the low band is left to
/// static (requested) allocations first, as upstream's allocators do.
fn ip_bands() -> (u64, u64, u64) {
    let (base, size) = cidr();
    let (lo, hi) = (u64::from(base) + 1, u64::from(base) + u64::from(size) - 2);
    let band = (u64::from(size) / 16).clamp(16, 256);
    (lo, lo + band, hi)
}

fn port_bands() -> (u64, u64, u64) {
    let (lo, hi) = ranges().ports;
    let (lo, hi) = (u64::from(lo), u64::from(hi));
    let band = ((hi - lo + 1) / 16).clamp(16, 128);
    (lo, lo + band, hi)
}

fn ip_key(ip: &str) -> String {
    format!("{IP_PREFIX}{ip}")
}

fn port_key(port: u16) -> String {
    format!("{PORT_PREFIX}{port}")
}

fn is_service(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "Service"
}

fn ty(svc: &Value) -> &str {
    svc["spec"]["type"].as_str().unwrap_or("ClusterIP")
}

fn needs_cluster_ip(svc: &Value) -> bool {
    ty(svc) != "ExternalName"
}

fn needs_node_port(svc: &Value) -> bool {
    matches!(ty(svc), "NodePort" | "LoadBalancer")
}

fn allocates_node_ports(svc: &Value) -> bool {
    ty(svc) == "NodePort"
        || (ty(svc) == "LoadBalancer"
            && svc["spec"]["allocateLoadBalancerNodePorts"].as_bool() != Some(false))
}

fn needs_hc_node_port(svc: &Value) -> bool {
    ty(svc) == "LoadBalancer" && svc["spec"]["externalTrafficPolicy"] == "Local"
}

fn externally_accessible(svc: &Value) -> bool {
    needs_node_port(svc)
        || (ty(svc) == "ClusterIP"
            && svc["spec"]["externalIPs"]
                .as_array()
                .is_some_and(|a| !a.is_empty()))
}

fn node_ports(svc: &Value) -> Vec<u16> {
    svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["nodePort"].as_u64())
        .filter(|p| *p != 0)
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

/// IPs and ports a stored Service holds.
fn held(svc: &Value) -> (Vec<String>, Vec<u16>) {
    let mut ips: Vec<String> = svc["spec"]["clusterIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if let Some(ip) = svc["spec"]["clusterIP"].as_str() {
        if !ips.iter().any(|i| i == ip) {
            ips.push(ip.to_string());
        }
    }
    ips.retain(|ip| !ip.is_empty() && ip != "None");
    let mut ports = node_ports(svc);
    if let Some(hc) = svc["spec"]["healthCheckNodePort"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
    {
        ports.push(hc);
    }
    (ips, ports)
}

/// Upstream's `dropTypeDependentFields` and `patchAllocatedValues`: an update that changes
/// the type drops what the old type was given and the new one does not use; an update
/// that leaves allocated values out keeps them.
pub fn patch_allocated_values(old: &Value, new: &mut Value) {
    if !new["spec"].is_object() {
        return;
    }
    let same = |k: &str, new: &Value| old["spec"][k] == new["spec"][k];
    let spec_remove = |new: &mut Value, k: &str| {
        if let Some(s) = new["spec"].as_object_mut() {
            s.remove(k);
        }
    };
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if same("clusterIP", new) && same("clusterIPs", new) {
            spec_remove(new, "clusterIP");
            spec_remove(new, "clusterIPs");
        }
        for k in ["ipFamilies", "ipFamilyPolicy"] {
            if same(k, new) {
                spec_remove(new, k);
            }
        }
    }
    if needs_node_port(old) && !needs_node_port(new) && node_ports(old) == node_ports(new) {
        for p in super::each(&mut new["spec"], "ports") {
            if let Some(o) = p.as_object_mut() {
                o.remove("nodePort");
            }
        }
    }
    if needs_hc_node_port(old) && !needs_hc_node_port(new) && same("healthCheckNodePort", new) {
        spec_remove(new, "healthCheckNodePort");
    }
    if ty(old) == "LoadBalancer"
        && ty(new) != "LoadBalancer"
        && same("allocateLoadBalancerNodePorts", new)
    {
        spec_remove(new, "allocateLoadBalancerNodePorts");
    }
    if externally_accessible(old)
        && !externally_accessible(new)
        && same("externalTrafficPolicy", new)
    {
        spec_remove(new, "externalTrafficPolicy");
    }
    if ty(new) != "LoadBalancer" && new["status"].is_object() {
        new["status"]["loadBalancer"] = json!({});
    }

    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        if super::str_unset(&new["spec"], "clusterIP") && !old["spec"]["clusterIP"].is_null() {
            new["spec"]["clusterIP"] = old["spec"]["clusterIP"].clone();
        }
        if new["spec"]["clusterIPs"]
            .as_array()
            .is_none_or(|a| a.is_empty())
            && old["spec"]["clusterIPs"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        {
            new["spec"]["clusterIPs"] = old["spec"]["clusterIPs"].clone();
        }
    }
    if needs_node_port(old) && needs_node_port(new) {
        let used: HashSet<u16> = node_ports(old)
            .into_iter()
            .filter(|p| node_ports(new).contains(p))
            .collect();
        let by_name: BTreeMap<String, u64> = old["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or_default().to_string(),
                    p["nodePort"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        for p in super::each(&mut new["spec"], "ports") {
            if p["nodePort"].as_u64().unwrap_or(0) == 0 {
                let name = p["name"].as_str().unwrap_or_default();
                if let Some(&np) = by_name.get(name) {
                    let taken = u16::try_from(np).is_ok_and(|np| used.contains(&np));
                    if np != 0 && !taken {
                        p["nodePort"] = json!(np);
                    }
                }
            }
        }
    }
    if needs_hc_node_port(old)
        && needs_hc_node_port(new)
        && new["spec"]["healthCheckNodePort"].as_u64().unwrap_or(0) == 0
        && !old["spec"]["healthCheckNodePort"].is_null()
    {
        new["spec"]["healthCheckNodePort"] = old["spec"]["healthCheckNodePort"].clone();
    }
}

/// What one write newly took: given back if the write does not happen.
#[derive(Debug, Default)]
#[must_use]
pub struct Claimed {
    ips: Vec<String>,
    ports: Vec<u16>,
}

impl Claimed {
    pub async fn rollback(self, store: &dyn Storage) {
        for ip in self.ips {
            drop_key(store, &ip_key(&ip)).await;
        }
        for port in self.ports {
            drop_key(store, &port_key(port)).await;
        }
    }
}

async fn drop_key(store: &dyn Storage, key: &str) {
    match store.delete(key, None).await {
        Ok(_) | Err(StorageError::NotFound(_)) => {}
        Err(e) => tracing::warn!("releasing {key}: {e}"),
    }
}

/// Allocation state of one request.
struct Alloc<'a> {
    store: &'a dyn Storage,
    dry_run: bool,
    namespace: String,
    name: String,
    claimed: Claimed,
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "Service",
        "",
        name,
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message,
            field: field.into(),
        }],
    )
}

fn random() -> u64 {
    let b = uuid::Uuid::new_v4().as_u128();
    (b as u64) ^ ((b >> 64) as u64)
}

impl Alloc<'_> {
    fn owner(&self) -> Value {
        json!({"group": "", "resource": "services", "namespace": self.namespace, "name": self.name})
    }

    /// Take `key`; `Ok(false)` if someone holds it.
    async fn take(&self, key: &str, value: Value) -> ApiResult<bool> {
        if self.dry_run {
            return match self.store.get(key).await {
                Ok(found) => Ok(found.is_none()),
                Err(e) => Err(ApiError::internal(e.to_string())),
            };
        }
        let bytes = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        match self.store.create(key, bytes).await {
            Ok(_) => Ok(true),
            Err(StorageError::AlreadyExists(_)) => Ok(false),
            Err(e) => Err(ApiError::internal(e.to_string())),
        }
    }

    async fn take_ip(&mut self, ip: &str) -> ApiResult<bool> {
        let obj = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IPAddress",
            "metadata": {
                "name": ip,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": object::now_rfc3339(),
                "labels": {
                    "ipaddress.kubernetes.io/ip-family": "IPv4",
                    "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
                },
            },
            "spec": {"parentRef": self.owner()},
        });
        let ok = self.take(&ip_key(ip), obj).await?;
        if ok && !self.dry_run {
            self.claimed.ips.push(ip.to_string());
        }
        Ok(ok)
    }

    async fn take_port(&mut self, port: u16) -> ApiResult<bool> {
        let ok = self.take(&port_key(port), self.owner()).await?;
        if ok && !self.dry_run {
            self.claimed.ports.push(port);
        }
        Ok(ok)
    }

    /// Keys under `prefix` taken now, by their last segment.
    async fn taken(&self, prefix: &str) -> ApiResult<HashSet<String>> {
        let res = self
            .store
            .list(prefix, ListOptions::default())
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(res
            .items
            .into_iter()
            .filter_map(|kv| kv.key.strip_prefix(prefix).map(str::to_string))
            .collect())
    }

    /// A free value of `lo..=hi`, preferring `dynamic..=hi`, starting at a random offset.
    fn pick(
        (lo, dynamic, hi): (u64, u64, u64),
        taken: &HashSet<String>,
        show: impl Fn(u64) -> String,
    ) -> Option<u64> {
        for (from, to) in [(dynamic, hi), (lo, dynamic.saturating_sub(1))] {
            if from > to {
                continue;
            }
            let size = to - from + 1;
            let start = random() % size;
            for i in 0..size {
                let v = from + (start + i) % size;
                if !taken.contains(&show(v)) {
                    return Some(v);
                }
            }
        }
        None
    }

    async fn allocate_ip(&mut self) -> ApiResult<String> {
        // Another writer may take the picked IP first: pick again.
        for _ in 0..16 {
            let mut taken = self.taken(IP_PREFIX).await?;
            taken.extend(self.claimed.ips.iter().cloned());
            let ip = Self::pick(ip_bands(), &taken, |v| {
                Ipv4Addr::from(u32::try_from(v).unwrap_or(0)).to_string()
            })
            .map(|v| Ipv4Addr::from(u32::try_from(v).unwrap_or(0)).to_string())
            .ok_or_else(|| ApiError::internal("failed to allocate a serviceIP: range is full"))?;
            if self.take_ip(&ip).await? {
                return Ok(ip);
            }
        }
        Err(ApiError::internal(
            "failed to allocate a serviceIP: too many concurrent allocations",
        ))
    }

    async fn allocate_port(&mut self, also_taken: &[u16]) -> ApiResult<u16> {
        for _ in 0..16 {
            let mut taken = self.taken(PORT_PREFIX).await?;
            taken.extend(also_taken.iter().map(u16::to_string));
            let port = Self::pick(port_bands(), &taken, |v| v.to_string())
                .and_then(|v| u16::try_from(v).ok())
                .ok_or_else(|| {
                    ApiError::internal("failed to allocate a nodePort: range is full")
                })?;
            if self.take_port(port).await? {
                return Ok(port);
            }
        }
        Err(ApiError::internal(
            "failed to allocate a nodePort: too many concurrent allocations",
        ))
    }

    /// A requested node port: in range and free (or already this service's).
    async fn claim_port(&mut self, port: u64, field: &str, mine: &[u16]) -> ApiResult<u16> {
        let (lo, hi) = ranges().ports;
        let p = u16::try_from(port)
            .ok()
            .filter(|p| (lo..=hi).contains(p))
            .ok_or_else(|| {
                invalid(
                    &self.name,
                    field,
                    format!("Invalid value: {port}: provided port is not in the valid range. The range of valid ports is {lo}-{hi}"),
                )
            })?;
        if mine.contains(&p) || self.claimed.ports.contains(&p) || self.take_port(p).await? {
            Ok(p)
        } else {
            Err(invalid(
                &self.name,
                field,
                format!("Invalid value: {port}: provided port is already allocated"),
            ))
        }
    }
}

/// Allocate what a Service being written needs and does not hold yet: its cluster IP, node
/// ports and health check node port, filling them into `obj`, and default the IP family
/// fields. `old` is the stored Service on update. A no-op for other kinds.
pub async fn claim(
    store: &dyn Storage,
    info: &ResourceInfo,
    obj: &mut Value,
    old: Option<&Value>,
    dry_run: bool,
) -> ApiResult<Claimed> {
    if !is_service(info) || !obj["spec"].is_object() {
        return Ok(Claimed::default());
    }
    let mut a = Alloc {
        store,
        dry_run,
        namespace: object::meta_str(obj, "namespace").to_string(),
        name: object::meta_str(obj, "name").to_string(),
        claimed: Claimed::default(),
    };
    match claim_into(&mut a, obj, old).await {
        Ok(()) => Ok(a.claimed),
        Err(e) => {
            a.claimed.rollback(store).await;
            Err(e)
        }
    }
}

async fn claim_into(a: &mut Alloc<'_>, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    let (old_ips, old_ports) = old.map(held).unwrap_or_default();
    let allocate = allocates_node_ports(obj);
    let load_balancer = ty(obj) == "LoadBalancer";
    let health_check = needs_hc_node_port(obj);
    let spec = &mut obj["spec"];
    if ty_of(spec) == "ExternalName" {
        if let Some(s) = spec.as_object_mut() {
            s.remove("ipFamilies");
            s.remove("ipFamilyPolicy");
        }
    } else {
        cluster_ip(a, spec, &old_ips).await?;
    }
    if allocate || load_balancer {
        // Ports sharing a number (e.g. TCP and UDP 53) share their node port.
        let mut by_port: BTreeMap<i64, u16> = BTreeMap::new();
        let count = spec["ports"].as_array().map_or(0, Vec::len);
        for i in 0..count {
            let p = &spec["ports"][i];
            let number = p["port"].as_i64().unwrap_or(0);
            let requested = p["nodePort"].as_u64().unwrap_or(0);
            let node_port = if requested != 0 {
                let field = format!("spec.ports[{i}].nodePort");
                a.claim_port(requested, &field, &old_ports).await?
            } else if !allocate {
                continue;
            } else if let Some(np) = by_port.get(&number) {
                *np
            } else {
                let mut also: Vec<u16> = old_ports.clone();
                also.extend(by_port.values());
                a.allocate_port(&also).await?
            };
            by_port.insert(number, node_port);
            spec["ports"][i]["nodePort"] = json!(node_port);
        }
    }
    if health_check {
        let requested = spec["healthCheckNodePort"].as_u64().unwrap_or(0);
        let port = if requested != 0 {
            a.claim_port(requested, "spec.healthCheckNodePort", &old_ports)
                .await?
        } else {
            let mut also = old_ports.clone();
            also.extend(node_ports(&json!({"spec": spec.clone()})));
            a.allocate_port(&also).await?
        };
        spec["healthCheckNodePort"] = json!(port);
    }
    Ok(())
}

fn ty_of(spec: &Value) -> String {
    spec["type"].as_str().unwrap_or("ClusterIP").to_string()
}

/// The cluster IP: kept if held, honoured if requested and free, else allocated; then the
/// family fields upstream derives from it.
async fn cluster_ip(a: &mut Alloc<'_>, spec: &mut Value, old_ips: &[String]) -> ApiResult<()> {
    let first_of_ips = spec["clusterIPs"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let requested = match spec["clusterIP"].as_str() {
        Some(ip) if !ip.is_empty() => ip.to_string(),
        _ => first_of_ips,
    };
    if requested == "None" {
        spec["clusterIP"] = json!("None");
        if spec["clusterIPs"].as_array().is_none_or(|a| a.is_empty()) {
            spec["clusterIPs"] = json!(["None"]);
        }
        // Headless services without a selector get every family the cluster has.
        let selectorless = spec["selector"].as_object().is_none_or(|s| s.is_empty());
        let policy = if selectorless {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        super::default_value(spec, "ipFamilyPolicy", json!(policy));
        super::default_value(spec, "ipFamilies", json!(["IPv4"]));
        return Ok(());
    }
    let ip = if requested.is_empty() {
        a.allocate_ip().await?
    } else if old_ips.contains(&requested) {
        requested
    } else {
        if !old_ips.is_empty() {
            return Err(invalid(
                &a.name,
                "spec.clusterIPs[0]",
                format!("Invalid value: []string{{\"{requested}\"}}: may not change once set"),
            ));
        }
        let (lo, _, hi) = ip_bands();
        let in_range = requested
            .parse::<Ipv4Addr>()
            .ok()
            .is_some_and(|ip| (lo..=hi).contains(&u64::from(u32::from(ip))));
        if !in_range {
            if requested.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid(
                    &a.name,
                    "spec.clusterIPs[0]",
                    format!("Invalid value: \"{requested}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
                ));
            }
            return Err(invalid(
                &a.name,
                "spec.clusterIPs",
                format!("Invalid value: []string{{\"{requested}\"}}: failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}", ranges().cidr),
            ));
        }
        if !a.take_ip(&requested).await? {
            return Err(invalid(
                &a.name,
                "spec.clusterIPs",
                format!("Invalid value: []string{{\"{requested}\"}}: failed to allocate IP {requested}: provided IP is already allocated"),
            ));
        }
        requested
    };
    spec["clusterIP"] = json!(ip);
    if spec["clusterIPs"].as_array().is_none_or(|a| a.is_empty()) {
        spec["clusterIPs"] = json!([ip]);
    }
    super::default_value(spec, "ipFamilyPolicy", json!("SingleStack"));
    super::default_value(spec, "ipFamilies", json!(["IPv4"]));
    Ok(())
}

/// Release a stored key if `svc` owns it (never someone else's after a rename or reuse).
async fn release_key(store: &dyn Storage, key: &str, svc: &Value) {
    let Ok(Some(kv)) = store.get(key).await else {
        return;
    };
    let Ok(v) = serde_json::from_slice::<Value>(&kv.value) else {
        return;
    };
    let owner = if v["spec"]["parentRef"].is_object() {
        &v["spec"]["parentRef"]
    } else {
        &v
    };
    if owner["namespace"].as_str() == Some(object::meta_str(svc, "namespace"))
        && owner["name"].as_str() == Some(object::meta_str(svc, "name"))
    {
        match store.delete(key, Some(kv.mod_revision)).await {
            Ok(_) | Err(StorageError::NotFound(_)) => {}
            Err(e) => tracing::warn!("releasing {key}: {e}"),
        }
    }
}

/// After an update: give back what the old Service held and the new one does not.
pub async fn release_unused(store: &dyn Storage, info: &ResourceInfo, old: &Value, new: &Value) {
    if !is_service(info) {
        return;
    }
    let (old_ips, old_ports) = held(old);
    let (new_ips, new_ports) = held(new);
    for ip in old_ips.iter().filter(|ip| !new_ips.contains(ip)) {
        release_key(store, &ip_key(ip), old).await;
    }
    for port in old_ports.iter().filter(|p| !new_ports.contains(p)) {
        release_key(store, &port_key(*port), old).await;
    }
}

/// After a delete: give back everything the Service held.
pub async fn release(store: &dyn Storage, info: &ResourceInfo, svc: &Value) {
    if !is_service(info) {
        return;
    }
    let (ips, ports) = held(svc);
    for ip in ips {
        release_key(store, &ip_key(&ip), svc).await;
    }
    for port in ports {
        release_key(store, &port_key(port), svc).await;
    }
}

/// The `kubernetes` Service in `default`: the API server at the first IP of the range,
/// port 443 to its secure port. Created once; its target port follows the server's.
pub async fn ensure_kubernetes_service(api: &crate::handler::Api, port: u16) -> anyhow::Result<()> {
    let Some(services) = api.rest("", "v1", "services") else {
        anyhow::bail!("services are not registered");
    };
    let opts = crate::rest::WriteOptions::internal();
    let body = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": first_ip(),
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
        },
    });
    // Look first: creating would claim the IP, which the existing service holds.
    let mut current = match services.get(Some("default"), "kubernetes").await {
        Ok(current) => current,
        Err(e) if e.code == 404 => {
            return match services.create(Some("default"), body, opts).await {
                Ok(_) => Ok(()),
                Err(e) if e.code == 409 => Ok(()),
                Err(e) => anyhow::bail!("creating the kubernetes service: {}", e.message),
            };
        }
        Err(e) => anyhow::bail!("reading the kubernetes service: {}", e.message),
    };
    if current["spec"]["ports"][0]["targetPort"] == json!(port) {
        return Ok(());
    }
    current["spec"]["ports"][0]["targetPort"] = json!(port);
    services
        .update(
            Some("default"),
            "kubernetes",
            current,
            crate::strategy::Part::Main,
            opts,
        )
        .await
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("updating the kubernetes service: {}", e.message))
}

#[cfg(test)]
mod range_tests {
    use super::Ranges;

    #[test]
    fn ranges_parse_like_the_flags() {
        let r = Ranges::parse("10.200.0.0/16", "31000-31100").unwrap();
        assert_eq!(
            r.net,
            (u32::from(std::net::Ipv4Addr::new(10, 200, 0, 0)), 1 << 16)
        );
        assert_eq!(r.ports, (31000, 31100));
        for (cidr, ports) in [
            ("10.200.0.1/16", "30000-32767"),
            ("10.200.0.0", "30000-32767"),
            ("fd00::/108", "30000-32767"),
            ("10.0.0.0/30", "30000-32767"),
            ("10.96.0.0/12", "32767-30000"),
            ("10.96.0.0/12", "x"),
        ] {
            assert!(Ranges::parse(cidr, ports).is_err(), "{cidr} {ports}");
        }
    }
}

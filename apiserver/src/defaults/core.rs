//! Core (`v1`) defaults: pods and every pod template share [`pod_spec`]; services, volumes,
//! claims, endpoints, nodes and limit ranges as upstream's `pkg/apis/core/v1/defaults.go`.

use serde_json::{json, Map, Value};

use super::{default_int, default_str, default_value, each, field, object_at, str_unset};

pub fn apply(kind: &str, obj: &mut Value) {
    match kind {
        "Pod" => pod(obj),
        "PodTemplate" => {
            if let Some(t) = field(obj, "template") {
                pod_template(t);
            }
        }
        "ReplicationController" => replication_controller(obj),
        "Service" => service(obj),
        "PersistentVolume" => persistent_volume(obj),
        "PersistentVolumeClaim" => persistent_volume_claim(obj),
        "Endpoints" => {
            for subset in each(obj, "subsets") {
                for port in each(subset, "ports") {
                    default_str(port, "protocol", "TCP");
                }
            }
        }
        "Node" => node_status(obj),
        "LimitRange" => {
            if let Some(spec) = field(obj, "spec") {
                for item in each(spec, "limits") {
                    limit_range_item(item);
                }
            }
        }
        _ => {}
    }
}

/// `SetObjectDefaults_Pod`: what only pods get (`SetDefaults_Pod`), then the pod spec.
fn pod(obj: &mut Value) {
    let Some(spec) = field(obj, "spec").filter(|s| s.is_object()) else {
        return;
    };
    for key in ["containers", "initContainers"] {
        for c in each(spec, key) {
            requests_from_limits(c);
        }
    }
    default_value(spec, "enableServiceLinks", json!(true));
    if spec["hostNetwork"].as_bool() == Some(true) {
        for key in ["containers", "initContainers"] {
            for c in each(spec, key) {
                for p in each(c, "ports") {
                    let host = p["hostPort"].as_i64().unwrap_or(0);
                    if host == 0 && !p["containerPort"].is_null() {
                        p["hostPort"] = p["containerPort"].clone();
                    }
                }
            }
        }
    }
    pod_spec(spec);
}

/// Limits given without requests: the requests are the limits (pods only, not templates).
fn requests_from_limits(container: &mut Value) {
    let Some(limits) = container["resources"]["limits"].as_object().cloned() else {
        return;
    };
    let Some(resources) = object_at(container, "resources") else {
        return;
    };
    let requests = resources
        .entry("requests")
        .or_insert_with(|| Value::Object(Map::new()));
    if requests.is_null() {
        *requests = Value::Object(Map::new());
    }
    if let Some(r) = requests.as_object_mut() {
        for (k, v) in limits {
            r.entry(k).or_insert(v);
        }
    }
}

/// A `PodTemplateSpec`: defaults its pod spec when there is one.
pub fn pod_template(template: &mut Value) {
    if let Some(spec) = field(template, "spec").filter(|s| s.is_object()) {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` and everything nested in a pod spec, shared by pods and templates.
pub fn pod_spec(spec: &mut Value) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_value(spec, "securityContext", json!({}));
    default_value(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    // `serviceAccount` is the deprecated alias: upstream's conversion reads it when
    // `serviceAccountName` is empty and always writes it back from `serviceAccountName`.
    if str_unset(spec, "serviceAccountName") && !str_unset(spec, "serviceAccount") {
        spec["serviceAccountName"] = spec["serviceAccount"].clone();
    }
    if let Some(o) = spec.as_object_mut() {
        match o
            .get("serviceAccountName")
            .filter(|v| v.as_str() != Some(""))
        {
            Some(name) if !name.is_null() => {
                let name = name.clone();
                o.insert("serviceAccount".into(), name);
            }
            _ => {
                o.remove("serviceAccount");
            }
        }
    }
    for v in each(spec, "volumes") {
        volume(v);
    }
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for c in each(spec, key) {
            container(c);
        }
    }
}

fn volume(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    // A volume naming no source is an emptyDir.
    if o.iter().all(|(k, val)| k == "name" || val.is_null()) {
        o.insert("emptyDir".into(), json!({}));
    }
    if let Some(h) = field(v, "hostPath") {
        default_value(h, "type", json!(""));
    }
    for key in ["secret", "configMap"] {
        if let Some(s) = field(v, key) {
            default_value(s, "defaultMode", json!(420));
        }
    }
    if let Some(d) = field(v, "downwardAPI") {
        default_value(d, "defaultMode", json!(420));
        downward_items(d);
    }
    if let Some(p) = field(v, "projected") {
        default_value(p, "defaultMode", json!(420));
        for source in each(p, "sources") {
            if let Some(d) = field(source, "downwardAPI") {
                downward_items(d);
            }
            if let Some(t) = field(source, "serviceAccountToken") {
                default_value(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(i) = field(v, "iscsi") {
        default_str(i, "iscsiInterface", "default");
    }
    if let Some(r) = field(v, "rbd") {
        rbd(r);
    }
    if let Some(a) = field(v, "azureDisk") {
        azure_disk(a);
    }
    if let Some(s) = field(v, "scaleIO") {
        scale_io(s);
    }
    if let Some(t) = field(v, "ephemeral").and_then(|e| field(e, "volumeClaimTemplate")) {
        if let Some(spec) = field(t, "spec") {
            default_str(spec, "volumeMode", "Filesystem");
        }
    }
}

fn downward_items(d: &mut Value) {
    for item in each(d, "items") {
        if let Some(f) = field(item, "fieldRef") {
            default_str(f, "apiVersion", "v1");
        }
    }
}

fn rbd(r: &mut Value) {
    default_str(r, "pool", "rbd");
    default_str(r, "user", "admin");
    default_str(r, "keyring", "/etc/ceph/keyring");
}

fn azure_disk(a: &mut Value) {
    default_value(a, "cachingMode", json!("ReadWrite"));
    default_value(a, "kind", json!("Shared"));
    default_value(a, "fsType", json!("ext4"));
    default_value(a, "readOnly", json!(false));
}

fn scale_io(s: &mut Value) {
    default_str(s, "storageMode", "ThinProvisioned");
    default_str(s, "fsType", "xfs");
}

/// `SetDefaults_Container` and the nested defaults of ports, env, probes and hooks.
fn container(c: &mut Value) {
    if str_unset(c, "imagePullPolicy") {
        let policy = pull_policy(c["image"].as_str().unwrap_or_default());
        c["imagePullPolicy"] = json!(policy);
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    // `resources` is a struct, not a pointer, in Go: upstream always prints it.
    default_value(c, "resources", json!({}));
    for p in each(c, "ports") {
        default_str(p, "protocol", "TCP");
    }
    for e in each(c, "env") {
        if let Some(f) = field(e, "valueFrom").and_then(|v| field(v, "fieldRef")) {
            default_str(f, "apiVersion", "v1");
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = field(c, key).filter(|p| p.is_object()) {
            default_int(p, "timeoutSeconds", 1);
            default_int(p, "periodSeconds", 10);
            default_int(p, "successThreshold", 1);
            default_int(p, "failureThreshold", 3);
            handler(p);
            if let Some(g) = field(p, "grpc") {
                default_value(g, "service", json!(""));
            }
        }
    }
    if let Some(l) = field(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(h) = field(l, key) {
                handler(h);
            }
        }
    }
}

fn handler(h: &mut Value) {
    if let Some(g) = field(h, "httpGet") {
        default_str(g, "path", "/");
        default_str(g, "scheme", "HTTP");
    }
}

/// Always for `:latest` or an untagged, undigested image; IfNotPresent otherwise (also
/// for images that do not parse, as upstream ignores the parse error).
pub fn pull_policy(image: &str) -> &'static str {
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return "IfNotPresent";
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    // Repository names are lower case; anything else fails upstream's parser.
    let repo = match tag {
        Some(t) => &name[..name.len() - t.len() - 1],
        None => name,
    };
    let host_len = if repo.contains('/') {
        let first = repo.split('/').next().unwrap_or_default();
        if first.contains('.') || first.contains(':') || first == "localhost" {
            first.len()
        } else {
            0
        }
    } else {
        0
    };
    if repo[host_len..].chars().any(|ch| ch.is_ascii_uppercase()) || repo.ends_with('/') {
        return "IfNotPresent";
    }
    match (tag, digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

/// A new pod starts Pending, with its QoS class computed from its (defaulted) resources.
pub fn pod_status_on_create(obj: &mut Value) {
    let qos = qos_class(&obj["spec"]);
    if let Some(status) = object_at(obj, "status") {
        status.insert("phase".into(), json!("Pending"));
        status.insert("qosClass".into(), json!(qos));
    }
}

/// Upstream's `ComputePodQOS`: only cpu and memory count; Guaranteed when every container
/// limits both and the summed requests equal the summed limits.
pub fn qos_class(spec: &Value) -> &'static str {
    use std::collections::BTreeMap;
    let mut requests: BTreeMap<&str, f64> = BTreeMap::new();
    let mut limits: BTreeMap<&str, f64> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|k| spec[k].as_array().into_iter().flatten());
    for c in containers {
        let sum = |list: &Value, into: &mut BTreeMap<&str, f64>| {
            let mut found = Vec::new();
            for name in ["cpu", "memory"] {
                if let Some(q) = list.get(name).and_then(quantity) {
                    if q > 0.0 {
                        *into.entry(name).or_default() += q;
                        found.push(name);
                    }
                }
            }
            found
        };
        sum(&c["resources"]["requests"], &mut requests);
        let found = sum(&c["resources"]["limits"], &mut limits);
        if found.len() != 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    if guaranteed
        && requests.len() == limits.len()
        && requests
            .iter()
            .all(|(k, r)| limits.get(k).is_some_and(|l| same(*l, *r)))
    {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// A resource quantity (`500m`, `1Gi`, `1e3`, or a bare number) as a float.
pub fn quantity(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

/// `SetDefaults_ReplicationController`: selector and labels from the template, one replica.
fn replication_controller(obj: &mut Value) {
    let labels = obj["spec"]["template"]["metadata"]["labels"].clone();
    if labels.is_object() {
        let empty = |v: &Value| v.as_object().is_none_or(|m| m.is_empty());
        if empty(&obj["spec"]["selector"]) {
            if let Some(spec) = object_at(obj, "spec") {
                spec.insert("selector".into(), labels.clone());
            }
        }
        if empty(&obj["metadata"]["labels"]) {
            if let Some(meta) = object_at(obj, "metadata") {
                meta.insert("labels".into(), labels);
            }
        }
    }
    if let Some(spec) = super::spec(obj) {
        default_value(spec, "replicas", json!(1));
    }
    if let Some(t) = obj
        .get_mut("spec")
        .and_then(|s| field(s, "template"))
        .filter(|t| t.is_object())
    {
        pod_template(t);
    }
}

/// `SetDefaults_Service` (the allocation-dependent fields are [`super::ipalloc`]'s).
fn service(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else {
        return;
    };
    let mut spec_v = Value::Object(std::mem::take(spec));
    let s = &mut spec_v;
    default_str(s, "sessionAffinity", "None");
    match s["sessionAffinity"].as_str() {
        Some("None") => {
            if let Some(o) = s.as_object_mut() {
                o.remove("sessionAffinityConfig");
            }
        }
        Some("ClientIP") if s["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"].is_null() => {
            s["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
        }
        _ => {}
    }
    default_str(s, "type", "ClusterIP");
    for p in each(s, "ports") {
        default_str(p, "protocol", "TCP");
        let unset = match &p["targetPort"] {
            Value::Null => true,
            Value::String(t) => t.is_empty(),
            Value::Number(n) => n.as_i64() == Some(0),
            _ => false,
        };
        if unset {
            p["targetPort"] = p["port"].clone();
        }
    }
    let ty = s["type"].as_str().unwrap_or_default().to_string();
    let has_external_ips = s["externalIPs"].as_array().is_some_and(|a| !a.is_empty());
    let externally_accessible =
        ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_str(s, "externalTrafficPolicy", "Cluster");
    }
    if matches!(ty.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_value(s, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default_value(s, "allocateLoadBalancerNodePorts", json!(true));
    }
    if let Some(spec) = object_at(obj, "spec") {
        if let Value::Object(m) = spec_v {
            *spec = m;
        }
    }
    if ty == "LoadBalancer" {
        if let Some(ingress) = field(obj, "status")
            .and_then(|s| field(s, "loadBalancer"))
            .and_then(|l| field(l, "ingress"))
            .and_then(Value::as_array_mut)
        {
            for ing in ingress {
                if !str_unset(ing, "ip") {
                    default_value(ing, "ipMode", json!("VIP"));
                }
            }
        }
    }
    // `status.loadBalancer` is a struct in Go: upstream always prints it.
    if let Some(status) = object_at(obj, "status") {
        if status.get("loadBalancer").is_none_or(Value::is_null) {
            status.insert("loadBalancer".into(), json!({}));
        }
    }
}

fn persistent_volume(obj: &mut Value) {
    if let Some(status) = object_at(obj, "status") {
        if status
            .get("phase")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            status.insert("phase".into(), json!("Pending"));
        }
    }
    let Some(spec) = field(obj, "spec").filter(|s| s.is_object()) else {
        return;
    };
    default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
    default_value(spec, "volumeMode", json!("Filesystem"));
    if let Some(h) = field(spec, "hostPath") {
        default_value(h, "type", json!(""));
    }
    if let Some(r) = field(spec, "rbd") {
        rbd(r);
    }
    if let Some(i) = field(spec, "iscsi") {
        default_str(i, "iscsiInterface", "default");
    }
    if let Some(a) = field(spec, "azureDisk") {
        azure_disk(a);
    }
    if let Some(s) = field(spec, "scaleIO") {
        scale_io(s);
    }
}

/// `SetDefaults_PersistentVolumeClaim` + its spec: also used for StatefulSet claim templates.
pub fn persistent_volume_claim(obj: &mut Value) {
    if let Some(status) = object_at(obj, "status") {
        if status
            .get("phase")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            status.insert("phase".into(), json!("Pending"));
        }
    }
    if let Some(spec) = object_at(obj, "spec") {
        if spec.get("volumeMode").is_none_or(Value::is_null) {
            spec.insert("volumeMode".into(), json!("Filesystem"));
        }
    }
}

/// Allocatable defaults to capacity.
fn node_status(obj: &mut Value) {
    let capacity = obj["status"]["capacity"].clone();
    if capacity.is_object() && obj["status"]["allocatable"].is_null() {
        obj["status"]["allocatable"] = capacity;
    }
}

/// Container limit ranges: default limit from max, default request from the default limit
/// or min.
fn limit_range_item(item: &mut Value) {
    if item["type"] != "Container" {
        return;
    }
    let max = item["max"].as_object().cloned().unwrap_or_default();
    let min = item["min"].as_object().cloned().unwrap_or_default();
    let Some(default) = object_at(item, "default") else {
        return;
    };
    for (k, v) in max {
        default.entry(k).or_insert(v);
    }
    let default = default.clone();
    let Some(request) = object_at(item, "defaultRequest") else {
        return;
    };
    for (k, v) in default.into_iter().chain(min) {
        request.entry(k).or_insert(v);
    }
    // Empty maps are omitted when upstream serializes them.
    if let Some(o) = item.as_object_mut() {
        o.retain(|k, v| {
            !(matches!(k.as_str(), "default" | "defaultRequest")
                && v.as_object().is_some_and(Map::is_empty))
        });
    }
}

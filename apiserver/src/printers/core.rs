//! Core (`v1`) kinds, and events.k8s.io events, which upstream prints as core events.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::docs as d;
use super::{
    age, arr_at, at, bool_at, col, condition_status, container_cells, format_labels, int_at,
    is_deleting, len_at, name, quantity_or_zero, since, str_at, str_or, time_at, wide, Column, Now,
    Printer, AGE, NAME,
};

const CONTAINERS: &str = "Names of each container in the template.";
const IMAGES: &str = "Images referenced by each container in the template.";

pub(super) static PRINTERS: &[Printer] = &[
    Printer {
        conditions: Some(pod_conditions),
        ..Printer::new("", "Pod", POD_COLUMNS, pod)
    },
    Printer::new("", "PodTemplate", POD_TEMPLATE_COLUMNS, pod_template),
    Printer::new(
        "",
        "ReplicationController",
        RC_COLUMNS,
        replication_controller,
    ),
    Printer::new("", "Service", SERVICE_COLUMNS, service),
    Printer::new("", "Endpoints", ENDPOINTS_COLUMNS, endpoints),
    Printer::new("", "Node", NODE_COLUMNS, node),
    Printer::new("", "Event", EVENT_COLUMNS, event),
    Printer::new("events.k8s.io", "Event", EVENT_COLUMNS, events_v1_event),
    Printer::new("", "Namespace", NAMESPACE_COLUMNS, namespace),
    Printer::new("", "Secret", SECRET_COLUMNS, secret),
    Printer::new(
        "",
        "ServiceAccount",
        SERVICE_ACCOUNT_COLUMNS,
        service_account,
    ),
    Printer::new("", "PersistentVolume", PV_COLUMNS, persistent_volume),
    Printer::new(
        "",
        "PersistentVolumeClaim",
        PVC_COLUMNS,
        persistent_volume_claim,
    ),
    Printer::new(
        "",
        "ComponentStatus",
        COMPONENT_STATUS_COLUMNS,
        component_status,
    ),
    Printer::new("", "ConfigMap", CONFIG_MAP_COLUMNS, config_map),
    Printer::new("", "ResourceQuota", RESOURCE_QUOTA_COLUMNS, resource_quota),
];

// ---- pods ------------------------------------------------------------------------------

const POD_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    AGE,
    wide("IP", "string", d::POD_STATUS_POD_IP),
    wide("Node", "string", d::POD_SPEC_NODE_NAME),
    wide("Nominated Node", "string", d::POD_STATUS_NOMINATED_NODE),
    wide("Readiness Gates", "string", d::POD_SPEC_READINESS_GATES),
];

/// Keeps the later of two restart times (`None` is Go's zero time).
fn later(current: &mut Option<DateTime<Utc>>, status: &Value) {
    if !status["lastState"]["terminated"].is_object() {
        return;
    }
    if let Some(t) = time_at(status, &["lastState", "terminated", "finishedAt"]) {
        if current.is_none_or(|c| c < t) {
            *current = Some(t);
        }
    }
}

/// `printPod`: READY, STATUS (the most telling reason among the pod's, its init
/// containers' and its containers'), RESTARTS with the time of the last restart.
fn pod(pod: &Value, now: Now) -> Vec<Value> {
    let spec = &pod["spec"];
    let status = &pod["status"];
    let conditions = arr_at(status, &["conditions"]);
    let init_specs = arr_at(spec, &["initContainers"]);
    // Sidecars: init containers that keep running next to the main ones.
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| str_at(c, &["name"]) == name && str_at(c, &["restartPolicy"]) == "Always")
    };

    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut total = arr_at(spec, &["containers"]).len();
    total += init_specs
        .iter()
        .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
        .count();
    let mut ready = 0;
    let mut last_restart = None;
    let mut last_sidecar_restart = None;

    let phase = str_at(status, &["phase"]);
    let mut reason = str_or(status, &["reason"], phase).to_string();
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".into();
    }

    let mut initializing = false;
    for (i, c) in arr_at(status, &["initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int_at(c, &["restartCount"]);
        restarts += count;
        later(&mut last_restart, c);
        let sidecar = restartable(str_at(c, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            later(&mut last_sidecar_restart, c);
        }
        let terminated = &c["state"]["terminated"];
        let waiting = &c["state"]["waiting"];
        if terminated.is_object() && int_at(terminated, &["exitCode"]) == 0 {
            continue;
        }
        if sidecar && bool_at(c, &["started"]) {
            if bool_at(c, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        initializing = true;
        reason = if terminated.is_object() {
            match str_at(terminated, &["reason"]) {
                "" => match int_at(terminated, &["signal"]) {
                    0 => format!("Init:ExitCode:{}", int_at(terminated, &["exitCode"])),
                    sig => format!("Init:Signal:{sig}"),
                },
                r => format!("Init:{r}"),
            }
        } else {
            match str_at(waiting, &["reason"]) {
                "" | "PodInitializing" => format!("Init:{i}/{}", init_specs.len()),
                r => format!("Init:{r}"),
            }
        };
        break;
    }

    if !initializing || condition_status(conditions, "Initialized") == Some("True") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in arr_at(status, &["containerStatuses"]).iter().rev() {
            restarts += int_at(c, &["restartCount"]);
            later(&mut last_restart, c);
            let waiting = &c["state"]["waiting"];
            let terminated = &c["state"]["terminated"];
            if waiting.is_object() && !str_at(waiting, &["reason"]).is_empty() {
                reason = str_at(waiting, &["reason"]).to_string();
            } else if terminated.is_object() {
                reason = match str_at(terminated, &["reason"]) {
                    "" => match int_at(terminated, &["signal"]) {
                        0 => format!("ExitCode:{}", int_at(terminated, &["exitCode"])),
                        sig => format!("Signal:{sig}"),
                    },
                    r => r.to_string(),
                };
            } else if bool_at(c, &["ready"]) && c["state"]["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        // A pod with a container still running is not complete yet.
        if reason == "Completed" && has_running {
            reason = if conditions
                .iter()
                .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True")
            {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if is_deleting(pod) && str_at(status, &["reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if is_deleting(pod) && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }

    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let ip = arr_at(status, &["podIPs"])
        .first()
        .map(|ip| str_at(ip, &["ip"]))
        .unwrap_or_default();
    let gates = arr_at(spec, &["readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_gates = gates
            .iter()
            .filter(|g| condition_status(conditions, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{true_gates}/{}", gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        age(pod, now),
        json!(if ip.is_empty() { "<none>" } else { ip }),
        json!(str_or(spec, &["nodeName"], "<none>")),
        json!(str_or(status, &["nominatedNodeName"], "<none>")),
        json!(readiness_gates),
    ]
}

/// Finished pods are marked `Completed` so clients can tell them apart.
fn pod_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match str_at(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

const POD_TEMPLATE_COLUMNS: &[Column] = &[
    NAME,
    col("Containers", "string", CONTAINERS),
    col("Images", "string", IMAGES),
    col("Pod Labels", "string", "The labels for the pod template."),
];

fn pod_template(obj: &Value, _now: Now) -> Vec<Value> {
    let (names, images) = container_cells(arr_at(obj, &["template", "spec", "containers"]));
    vec![
        name(obj),
        names,
        images,
        json!(format_labels(at(obj, &["template", "metadata", "labels"]))),
    ]
}

// ---- replication controllers -----------------------------------------------------------

const RC_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", d::RC_SPEC_REPLICAS),
    col("Current", "integer", d::RC_STATUS_REPLICAS),
    col("Ready", "integer", d::RC_STATUS_READY),
    AGE,
    wide("Containers", "string", CONTAINERS),
    wide("Images", "string", IMAGES),
    wide("Selector", "string", d::RC_SPEC_SELECTOR),
];

fn replication_controller(obj: &Value, now: Now) -> Vec<Value> {
    let (names, images) = container_cells(arr_at(obj, &["spec", "template", "spec", "containers"]));
    vec![
        name(obj),
        json!(super::apps::replicas(obj)),
        json!(int_at(obj, &["status", "replicas"])),
        json!(int_at(obj, &["status", "readyReplicas"])),
        age(obj, now),
        names,
        images,
        json!(format_labels(at(obj, &["spec", "selector"]))),
    ]
}

// ---- services and endpoints ------------------------------------------------------------

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", d::SVC_SPEC_TYPE),
    col("Cluster-IP", "string", d::SVC_SPEC_CLUSTER_IP),
    col("External-IP", "string", d::SVC_SPEC_EXTERNAL_IPS),
    col("Port(s)", "string", d::SVC_SPEC_PORTS),
    AGE,
    wide("Selector", "string", d::SVC_SPEC_SELECTOR),
];

/// `loadBalancerStatusStringer` (wide, so never clipped): sorted, de-duplicated IPs or
/// host names of the load balancer's ingress points.
pub(super) fn load_balancer_addresses(ingress: &[Value]) -> String {
    let set: BTreeSet<&str> = ingress
        .iter()
        .filter_map(|i| match (str_at(i, &["ip"]), str_at(i, &["hostname"])) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn service(svc: &Value, now: Now) -> Vec<Value> {
    let spec = &svc["spec"];
    // Unset fields read as their API defaults, which upstream stores.
    let kind = str_or(spec, &["type"], "ClusterIP");
    let cluster_ip = arr_at(spec, &["clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(spec, &["clusterIP"]));
    let external_ips: Vec<&str> = arr_at(spec, &["externalIPs"])
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect();
    let external = match kind {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let lb = load_balancer_addresses(arr_at(svc, &["status", "loadBalancer", "ingress"]));
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = lb.split(',').filter(|s| !s.is_empty()).collect();
                all.extend(&external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => str_at(spec, &["externalName"]).to_string(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr_at(spec, &["ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = str_or(p, &["protocol"], "TCP");
            match int_at(p, &["nodePort"]) {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    };
    vec![
        name(svc),
        json!(kind),
        json!(if cluster_ip.is_empty() {
            "<none>"
        } else {
            cluster_ip
        }),
        json!(external),
        json!(ports),
        age(svc, now),
        json!(format_labels(&spec["selector"])),
    ]
}

const ENDPOINTS_COLUMNS: &[Column] = &[NAME, col("Endpoints", "string", d::ENDPOINTS_SUBSETS), AGE];

/// `net.JoinHostPort`.
fn host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `formatEndpoints`: the first three addresses (with ports), then how many more.
fn endpoints(obj: &Value, now: Now) -> Vec<Value> {
    const MAX: usize = 3;
    let subsets = arr_at(obj, &["subsets"]);
    let formatted = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let mut list: Vec<String> = Vec::new();
        let mut count = 0;
        for ss in subsets {
            let addresses = arr_at(ss, &["addresses"]);
            let ports = arr_at(ss, &["ports"]);
            if ports.is_empty() {
                // Headless services may have no ports.
                count += addresses.len();
                for a in addresses.iter().take(MAX.saturating_sub(list.len())) {
                    list.push(str_at(a, &["ip"]).to_string());
                }
                continue;
            }
            for p in ports {
                count += addresses.len();
                for a in addresses.iter().take(MAX.saturating_sub(list.len())) {
                    list.push(host_port(str_at(a, &["ip"]), int_at(p, &["port"])));
                }
            }
        }
        let ret = list.join(",");
        if count > MAX && list.len() == MAX {
            format!("{ret} + {} more...", count - MAX)
        } else {
            ret
        }
    };
    vec![name(obj), json!(formatted), age(obj, now)]
}

// ---- nodes -----------------------------------------------------------------------------

const NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", d::NODE_INFO_KUBELET),
    wide("Internal-IP", "string", d::NODE_STATUS_ADDRESSES),
    wide("External-IP", "string", d::NODE_STATUS_ADDRESSES),
    wide("OS-Image", "string", d::NODE_INFO_OS_IMAGE),
    wide("Kernel-Version", "string", d::NODE_INFO_KERNEL),
    wide("Container-Runtime", "string", d::NODE_INFO_RUNTIME),
];

fn node(node: &Value, now: Now) -> Vec<Value> {
    let status = &node["status"];
    // The last Ready condition wins, as upstream collects them in a map.
    let ready = arr_at(status, &["conditions"])
        .iter()
        .rfind(|c| str_at(c, &["type"]) == "Ready");
    let mut states = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        states.push("SchedulingDisabled");
    }
    // node-role.kubernetes.io/<role> labels and the older kubernetes.io/role=<role>.
    let mut roles = BTreeSet::new();
    if let Some(labels) = node["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role);
                }
            } else if k == "kubernetes.io/role" {
                match v.as_str() {
                    Some(v) if !v.is_empty() => {
                        roles.insert(v);
                    }
                    _ => {}
                }
            }
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let address = |kind: &str| {
        arr_at(status, &["addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == kind)
            .map(|a| str_at(a, &["address"]))
            .unwrap_or("<none>")
    };
    let info = &status["nodeInfo"];
    vec![
        name(node),
        json!(states.join(",")),
        json!(if roles.is_empty() {
            "<none>".into()
        } else {
            roles
        }),
        age(node, now),
        json!(str_at(info, &["kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(str_or(info, &["osImage"], "<unknown>")),
        json!(str_or(info, &["kernelVersion"], "<unknown>")),
        json!(str_or(info, &["containerRuntimeVersion"], "<unknown>")),
    ]
}

// ---- events ----------------------------------------------------------------------------

const EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", "string", d::EVENT_LAST_TIMESTAMP),
    col("Type", "string", d::EVENT_TYPE),
    col("Reason", "string", d::EVENT_REASON),
    col("Object", "string", d::EVENT_INVOLVED_OBJECT),
    wide("Subobject", "string", d::OBJECT_REFERENCE_FIELD_PATH),
    wide("Source", "string", d::EVENT_SOURCE),
    col("Message", "string", d::EVENT_MESSAGE),
    wide("First Seen", "string", d::EVENT_FIRST_TIMESTAMP),
    wide("Count", "string", d::EVENT_COUNT),
    Column {
        priority: 1,
        ..NAME
    },
];

/// The fields of an event the printer reads, from either API.
struct EventView<'a> {
    obj: &'a Value,
    involved: &'a Value,
    message: &'a str,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    count: i64,
    source: &'a Value,
    reporting_controller: &'a str,
}

fn event(obj: &Value, now: Now) -> Vec<Value> {
    print_event(
        EventView {
            obj,
            involved: &obj["involvedObject"],
            message: str_at(obj, &["message"]),
            first: time_at(obj, &["firstTimestamp"]),
            last: time_at(obj, &["lastTimestamp"]),
            count: int_at(obj, &["count"]),
            source: &obj["source"],
            reporting_controller: str_at(obj, &["reportingComponent"]),
        },
        now,
    )
}

/// events.k8s.io/v1 events convert to the same internal type: `regarding` is the involved
/// object, `note` the message, the `deprecated*` fields the core ones.
fn events_v1_event(obj: &Value, now: Now) -> Vec<Value> {
    print_event(
        EventView {
            obj,
            involved: &obj["regarding"],
            message: str_at(obj, &["note"]),
            first: time_at(obj, &["deprecatedFirstTimestamp"]),
            last: time_at(obj, &["deprecatedLastTimestamp"]),
            count: int_at(obj, &["deprecatedCount"]),
            source: &obj["deprecatedSource"],
            reporting_controller: str_at(obj, &["reportingController"]),
        },
        now,
    )
}

fn print_event(e: EventView, now: Now) -> Vec<Value> {
    let obj = e.obj;
    let first = match e.first {
        Some(t) => since(Some(t), now),
        None => since(time_at(obj, &["eventTime"]), now),
    };
    let mut last = match e.last {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = e.count;
    if obj["series"].is_object() {
        last = since(time_at(obj, &["series", "lastObservedTime"]), now);
        count = int_at(obj, &["series", "count"]);
    } else if count == 0 {
        // Singleton events have no count in the events.k8s.io API.
        count = 1;
    }
    let kind = str_at(e.involved, &["kind"]).to_lowercase();
    let target = match str_at(e.involved, &["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let component = str_or(e.source, &["component"], e.reporting_controller);
    let instance = str_or(e.source, &["host"], str_at(obj, &["reportingInstance"]));
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(str_at(obj, &["type"])),
        json!(str_at(obj, &["reason"])),
        json!(target),
        json!(str_at(e.involved, &["fieldPath"])),
        json!(source),
        json!(e.message.trim()),
        json!(first),
        json!(count),
        name(obj),
    ]
}

// ---- namespaces, secrets, config maps, service accounts --------------------------------

const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

fn namespace(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, &["status", "phase"])),
        age(obj, now),
    ]
}

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", d::SECRET_TYPE),
    col("Data", "string", d::SECRET_DATA),
    AGE,
];

fn secret(obj: &Value, now: Now) -> Vec<Value> {
    // stringData is merged into data on the way in upstream; count the union of keys.
    let mut keys = BTreeSet::new();
    for field in ["data", "stringData"] {
        if let Some(m) = obj[field].as_object() {
            keys.extend(m.keys());
        }
    }
    vec![
        name(obj),
        json!(str_or(obj, &["type"], "Opaque")),
        json!(keys.len()),
        age(obj, now),
    ]
}

const CONFIG_MAP_COLUMNS: &[Column] = &[NAME, col("Data", "string", d::CONFIGMAP_DATA), AGE];

fn config_map(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(len_at(obj, &["data"]) + len_at(obj, &["binaryData"])),
        age(obj, now),
    ]
}

const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[NAME, col("Secrets", "string", d::SA_SECRETS), AGE];

fn service_account(obj: &Value, now: Now) -> Vec<Value> {
    vec![name(obj), json!(len_at(obj, &["secrets"])), age(obj, now)]
}

// ---- volumes ---------------------------------------------------------------------------

const PV_COLUMNS: &[Column] = &[
    NAME,
    col("Capacity", "string", d::PV_SPEC_CAPACITY),
    col("Access Modes", "string", d::PV_SPEC_ACCESS_MODES),
    col("Reclaim Policy", "string", d::PV_SPEC_RECLAIM),
    col("Status", "string", d::PV_STATUS_PHASE),
    col("Claim", "string", d::PV_SPEC_CLAIM_REF),
    col("StorageClass", "string", "StorageClass of the pv"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pv",
    ),
    col("Reason", "string", d::PV_STATUS_REASON),
    AGE,
    wide("VolumeMode", "string", d::PV_SPEC_VOLUME_MODE),
];

/// `helper.GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class: the beta annotation wins over the field.
fn storage_class(obj: &Value) -> Option<&str> {
    obj["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"].as_str()
}

fn persistent_volume(pv: &Value, now: Now) -> Vec<Value> {
    let spec = &pv["spec"];
    let claim = if spec["claimRef"].is_object() {
        format!(
            "{}/{}",
            str_at(spec, &["claimRef", "namespace"]),
            str_at(spec, &["claimRef", "name"])
        )
    } else {
        String::new()
    };
    let phase = if is_deleting(pv) {
        "Terminating"
    } else {
        str_or(pv, &["status", "phase"], "Pending")
    };
    vec![
        name(pv),
        json!(quantity_or_zero(&spec["capacity"]["storage"])),
        json!(access_modes(arr_at(spec, &["accessModes"]))),
        json!(str_or(spec, &["persistentVolumeReclaimPolicy"], "Retain")),
        json!(phase),
        json!(claim),
        json!(storage_class(pv).unwrap_or_else(|| str_at(spec, &["storageClassName"]))),
        json!(str_or(spec, &["volumeAttributesClassName"], "<unset>")),
        json!(str_at(pv, &["status", "reason"])),
        age(pv, now),
        json!(str_or(spec, &["volumeMode"], "Filesystem")),
    ]
}

const PVC_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", d::PVC_STATUS_PHASE),
    col("Volume", "string", d::PVC_SPEC_VOLUME_NAME),
    col("Capacity", "string", d::PVC_STATUS_CAPACITY),
    col("Access Modes", "string", d::PVC_STATUS_ACCESS_MODES),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    wide("VolumeMode", "string", d::PVC_SPEC_VOLUME_MODE),
];

fn persistent_volume_claim(pvc: &Value, now: Now) -> Vec<Value> {
    let spec = &pvc["spec"];
    let phase = if is_deleting(pvc) {
        "Terminating"
    } else {
        str_or(pvc, &["status", "phase"], "Pending")
    };
    let volume = str_at(spec, &["volumeName"]);
    // Capacity and modes are those of the bound volume; nothing while unbound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_or_zero(&pvc["status"]["capacity"]["storage"]),
            access_modes(arr_at(pvc, &["status", "accessModes"])),
        )
    };
    vec![
        name(pvc),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(pvc).unwrap_or_else(|| str_at(spec, &["storageClassName"]))),
        json!(str_or(spec, &["volumeAttributesClassName"], "<unset>")),
        age(pvc, now),
        json!(str_or(spec, &["volumeMode"], "Filesystem")),
    ]
}

// ---- component statuses and quotas -----------------------------------------------------

const COMPONENT_STATUS_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the component conditions"),
    col("Message", "string", "Message of the component conditions"),
    col("Error", "string", "Error of the component conditions"),
];

fn component_status(obj: &Value, _now: Now) -> Vec<Value> {
    let healthy = arr_at(obj, &["conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Healthy");
    let (status, message, error) = match healthy {
        Some(c) => (
            if str_at(c, &["status"]) == "True" {
                "Healthy"
            } else {
                "Unhealthy"
            },
            str_at(c, &["message"]),
            str_at(c, &["error"]),
        ),
        None => ("Unknown", "", ""),
    };
    vec![name(obj), json!(status), json!(message), json!(error)]
}

const RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
    AGE,
];

/// `used/hard` per resource, sorted by name; `limits.*` go to the Limit column.
fn resource_quota(obj: &Value, now: Now) -> Vec<Value> {
    let hard: BTreeMap<&str, &Value> = obj["status"]["hard"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for (resource, hard) in hard {
        let used = quantity_or_zero(&obj["status"]["used"][resource]);
        let entry = format!("{resource}: {used}/{}", quantity_or_zero(hard));
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name(obj),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        age(obj, now),
    ]
}

//! The remaining groups: policy, autoscaling, coordination, scheduling, node, RBAC,
//! certificates, storage, admission registration, flow control, aggregation, resource,
//! and meta's `Status`.

use std::cmp::Ordering;

use chrono::TimeDelta;
use serde_json::{json, Value};

use super::docs as d;
use super::{
    age, arr_at, at, bool_at, col, condition_status, human_duration, int_at, int_opt,
    int_or_string, len_at, list_with_more, name, quantity_string, str_at, str_or, Column, Now,
    Printer, AGE, NAME,
};

pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("policy", "PodDisruptionBudget", PDB_COLUMNS, pdb),
    Printer::new("autoscaling", "HorizontalPodAutoscaler", HPA_COLUMNS, hpa),
    Printer::new("coordination.k8s.io", "Lease", LEASE_COLUMNS, lease),
    Printer::new(
        "coordination.k8s.io",
        "LeaseCandidate",
        LEASE_CANDIDATE_COLUMNS,
        lease_candidate,
    ),
    Printer::new(
        "scheduling.k8s.io",
        "PriorityClass",
        PRIORITY_CLASS_COLUMNS,
        priority_class,
    ),
    Printer::new(
        "node.k8s.io",
        "RuntimeClass",
        RUNTIME_CLASS_COLUMNS,
        runtime_class,
    ),
    Printer::new(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        ROLE_BINDING_COLUMNS,
        binding,
    ),
    Printer::new(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        CLUSTER_ROLE_BINDING_COLUMNS,
        binding,
    ),
    Printer::new(
        "certificates.k8s.io",
        "CertificateSigningRequest",
        CSR_COLUMNS,
        csr,
    ),
    Printer::new(
        "certificates.k8s.io",
        "ClusterTrustBundle",
        CLUSTER_TRUST_BUNDLE_COLUMNS,
        cluster_trust_bundle,
    ),
    Printer::new(
        "storage.k8s.io",
        "StorageClass",
        STORAGE_CLASS_COLUMNS,
        storage_class,
    ),
    Printer::new(
        "storage.k8s.io",
        "VolumeAttachment",
        VOLUME_ATTACHMENT_COLUMNS,
        volume_attachment,
    ),
    Printer::new(
        "storage.k8s.io",
        "CSIDriver",
        CSI_DRIVER_COLUMNS,
        csi_driver,
    ),
    Printer::new("storage.k8s.io", "CSINode", CSI_NODE_COLUMNS, csi_node),
    Printer::new(
        "storage.k8s.io",
        "CSIStorageCapacity",
        CSI_STORAGE_CAPACITY_COLUMNS,
        csi_storage_capacity,
    ),
    Printer::new(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        WEBHOOK_COLUMNS,
        webhook_configuration,
    ),
    Printer::new(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        WEBHOOK_COLUMNS,
        webhook_configuration,
    ),
    Printer::new(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        VALIDATING_POLICY_COLUMNS,
        validating_policy,
    ),
    Printer::new(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        POLICY_BINDING_COLUMNS,
        policy_binding,
    ),
    Printer::new(
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicy",
        MUTATING_POLICY_COLUMNS,
        mutating_policy,
    ),
    Printer::new(
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
        POLICY_BINDING_COLUMNS,
        policy_binding,
    ),
    Printer {
        order: Some(flow_schema_order),
        ..Printer::new(
            "flowcontrol.apiserver.k8s.io",
            "FlowSchema",
            FLOW_SCHEMA_COLUMNS,
            flow_schema,
        )
    },
    Printer::new(
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        PRIORITY_LEVEL_COLUMNS,
        priority_level,
    ),
    Printer::new(
        "apiregistration.k8s.io",
        "APIService",
        API_SERVICE_COLUMNS,
        api_service,
    ),
    Printer::new(
        "internal.apiserver.k8s.io",
        "StorageVersion",
        STORAGE_VERSION_COLUMNS,
        storage_version,
    ),
    Printer::new(
        "storagemigration.k8s.io",
        "StorageVersionMigration",
        STORAGE_VERSION_MIGRATION_COLUMNS,
        storage_version_migration,
    ),
    Printer::new("resource.k8s.io", "DeviceClass", NAME_AGE_COLUMNS, name_age),
    Printer::new(
        "resource.k8s.io",
        "ResourceClaim",
        RESOURCE_CLAIM_COLUMNS,
        resource_claim,
    ),
    Printer::new(
        "resource.k8s.io",
        "ResourceClaimTemplate",
        NAME_AGE_COLUMNS,
        name_age,
    ),
    Printer::new(
        "resource.k8s.io",
        "ResourceSlice",
        RESOURCE_SLICE_COLUMNS,
        resource_slice,
    ),
    // metav1.Status (apiVersion v1) when a Table of it is asked for.
    Printer::new("", "Status", STATUS_COLUMNS, status),
];

const NAME_AGE_COLUMNS: &[Column] = &[NAME, AGE];

fn name_age(obj: &Value, now: Now) -> Vec<Value> {
    vec![name(obj), age(obj, now)]
}

// ---- policy and autoscaling ------------------------------------------------------------

const PDB_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

fn pdb(obj: &Value, now: Now) -> Vec<Value> {
    let int_or_na = |v: &Value| {
        if v.is_null() {
            "N/A".to_string()
        } else {
            int_or_string(v)
        }
    };
    vec![
        name(obj),
        json!(int_or_na(&obj["spec"]["minAvailable"])),
        json!(int_or_na(&obj["spec"]["maxUnavailable"])),
        json!(int_at(obj, &["status", "disruptionsAllowed"])),
        age(obj, now),
    ]
}

const HPA_COLUMNS: &[Column] = &[
    NAME,
    col("Reference", "string", d::HPA_SPEC_TARGET_REF),
    col("Targets", "string", d::HPA_SPEC_METRICS),
    col("MinPods", "string", d::HPA_SPEC_MIN),
    col("MaxPods", "string", d::HPA_SPEC_MAX),
    col("Replicas", "string", d::HPA_STATUS_CURRENT),
    AGE,
];

/// The metrics as the autoscaling/v2 shape, converting autoscaling/v1's CPU target; with
/// none, the API's default of 80% CPU utilization.
fn hpa_metrics_v2(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let spec = &obj["spec"];
    let mut specs = arr_at(spec, &["metrics"]).to_vec();
    let mut statuses = arr_at(obj, &["status", "currentMetrics"]).to_vec();
    if str_at(obj, &["apiVersion"]) == "autoscaling/v1" {
        if let Some(target) = int_opt(&spec["targetCPUUtilizationPercentage"]) {
            specs = vec![json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": target}}})];
        }
        if let Some(current) = int_opt(&obj["status"]["currentCPUUtilizationPercentage"]) {
            statuses = vec![json!({"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageUtilization": current}}})];
        }
    }
    if specs.is_empty() {
        specs = vec![json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}})];
    }
    (specs, statuses)
}

/// `formatHPAMetrics`: `current/target` for the first two metrics.
fn hpa_targets(specs: &[Value], statuses: &[Value]) -> String {
    const MAX: usize = 2;
    if specs.is_empty() {
        return "<none>".into();
    }
    let unknown = || "<unknown>".to_string();
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        // The status reported for the same metric source, by position.
        let current = |field: &str| statuses.get(i).map(|s| &s[field]).filter(|s| s.is_object());
        let kind = str_at(spec, &["type"]);
        let entry = match kind {
            "External" | "Object" => {
                let field = if kind == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = &spec[field]["target"];
                if !target["averageValue"].is_null() {
                    let cur = current(field)
                        .map(|s| &s["current"]["averageValue"])
                        .filter(|v| !v.is_null())
                        .map_or_else(unknown, quantity_string);
                    format!("{cur}/{} (avg)", quantity_string(&target["averageValue"]))
                } else {
                    let cur = current(field)
                        .map_or_else(unknown, |s| quantity_string(&s["current"]["value"]));
                    format!("{cur}/{}", quantity_string(&target["value"]))
                }
            }
            "Pods" => {
                let cur = current("pods")
                    .map_or_else(unknown, |s| quantity_string(&s["current"]["averageValue"]));
                format!(
                    "{cur}/{}",
                    quantity_string(&spec["pods"]["target"]["averageValue"])
                )
            }
            "Resource" | "ContainerResource" => {
                let field = if kind == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let source = &spec[field];
                let target = &source["target"];
                let resource = str_at(source, &["name"]);
                if !target["averageValue"].is_null() {
                    let cur = current(field)
                        .map_or_else(unknown, |s| quantity_string(&s["current"]["averageValue"]));
                    format!(
                        "{resource}: {cur}/{}",
                        quantity_string(&target["averageValue"])
                    )
                } else {
                    let cur = current(field)
                        .and_then(|s| int_opt(&s["current"]["averageUtilization"]))
                        .map_or_else(unknown, |u| format!("{u}%"));
                    let target = int_opt(&target["averageUtilization"])
                        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                    format!("{resource}: {cur}/{target}")
                }
            }
            _ => "<unknown type>".into(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        return format!("{} + {} more...", list.join(", "), count - MAX);
    }
    list.join(", ")
}

fn hpa(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let (specs, statuses) = hpa_metrics_v2(obj);
    // The API defaults minReplicas to 1.
    let min = int_opt(&spec["minReplicas"]).unwrap_or(1);
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            str_at(spec, &["scaleTargetRef", "kind"]),
            str_at(spec, &["scaleTargetRef", "name"])
        )),
        json!(hpa_targets(&specs, &statuses)),
        json!(min.to_string()),
        json!(int_at(spec, &["maxReplicas"])),
        json!(int_at(obj, &["status", "currentReplicas"])),
        age(obj, now),
    ]
}

// ---- coordination, scheduling, node ----------------------------------------------------

const LEASE_COLUMNS: &[Column] = &[NAME, col("Holder", "string", d::LEASE_SPEC_HOLDER), AGE];

fn lease(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, &["spec", "holderIdentity"])),
        age(obj, now),
    ]
}

const LEASE_CANDIDATE_COLUMNS: &[Column] = &[
    NAME,
    col("LeaseName", "string", d::LEASE_CANDIDATE_SPEC_LEASE_NAME),
    // Upstream looks these up in ObjectMeta's docs, which have no such fields.
    col("BinaryVersion", "string", ""),
    col("EmulationVersion", "string", ""),
    AGE,
];

fn lease_candidate(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    vec![
        name(obj),
        json!(str_at(spec, &["leaseName"])),
        json!(str_at(spec, &["binaryVersion"])),
        json!(str_at(spec, &["emulationVersion"])),
        age(obj, now),
    ]
}

const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Value", "integer", d::PC_VALUE),
    col("Global-Default", "boolean", d::PC_GLOBAL_DEFAULT),
    AGE,
    col("PreemptionPolicy", "string", d::PC_PREEMPTION),
];

fn priority_class(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(int_at(obj, &["value"])),
        json!(bool_at(obj, &["globalDefault"])),
        age(obj, now),
        // The API defaults it to PreemptLowerPriority.
        json!(str_or(obj, &["preemptionPolicy"], "PreemptLowerPriority")),
    ]
}

const RUNTIME_CLASS_COLUMNS: &[Column] = &[
    NAME,
    // Upstream looks this up in ObjectMeta's docs, which have no such field.
    col("Handler", "string", ""),
    AGE,
];

fn runtime_class(obj: &Value, now: Now) -> Vec<Value> {
    vec![name(obj), json!(str_at(obj, &["handler"])), age(obj, now)]
}

// ---- RBAC ------------------------------------------------------------------------------

const ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", d::ROLE_BINDING_ROLE_REF),
    AGE,
    super::wide("Users", "string", "Users in the roleBinding"),
    super::wide("Groups", "string", "Groups in the roleBinding"),
    super::wide(
        "ServiceAccounts",
        "string",
        "ServiceAccounts in the roleBinding",
    ),
];

const CLUSTER_ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", d::CLUSTER_ROLE_BINDING_ROLE_REF),
    AGE,
    super::wide("Users", "string", "Users in the clusterRoleBinding"),
    super::wide("Groups", "string", "Groups in the clusterRoleBinding"),
    super::wide(
        "ServiceAccounts",
        "string",
        "ServiceAccounts in the clusterRoleBinding",
    ),
];

/// Role and cluster role bindings: `Kind/name` of the role, then the subjects by kind.
fn binding(obj: &Value, now: Now) -> Vec<Value> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for s in arr_at(obj, &["subjects"]) {
        let subject_name = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "ServiceAccount" => {
                service_accounts.push(format!("{}/{subject_name}", str_at(s, &["namespace"])))
            }
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            str_at(obj, &["roleRef", "kind"]),
            str_at(obj, &["roleRef", "name"])
        )),
        age(obj, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(service_accounts.join(", ")),
    ]
}

// ---- certificates ----------------------------------------------------------------------

const CSR_COLUMNS: &[Column] = &[
    NAME,
    AGE,
    col("SignerName", "string", d::CSR_SPEC_SIGNER),
    col("Requestor", "string", d::CSR_SPEC_REQUEST),
    col("RequestedDuration", "string", d::CSR_SPEC_EXPIRATION),
    col("Condition", "string", d::CSR_STATUS_CONDITIONS),
];

fn csr(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let conditions = arr_at(obj, &["status", "conditions"]);
    let has = |kind| conditions.iter().any(|c| str_at(c, &["type"]) == kind);
    // Denied takes precedence over Approved.
    let mut condition = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        condition.push_str(",Failed");
    }
    if !str_at(obj, &["status", "certificate"]).is_empty() {
        condition.push_str(",Issued");
    }
    let duration = match int_opt(&spec["expirationSeconds"]) {
        Some(s) => human_duration(TimeDelta::seconds(s)),
        None => "<none>".into(),
    };
    vec![
        name(obj),
        age(obj, now),
        json!(str_or(spec, &["signerName"], "<none>")),
        json!(str_at(spec, &["username"])),
        json!(duration),
        json!(condition),
    ]
}

const CLUSTER_TRUST_BUNDLE_COLUMNS: &[Column] =
    &[NAME, col("SignerName", "string", d::CTB_SPEC_SIGNER)];

fn cluster_trust_bundle(obj: &Value, _now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_or(obj, &["spec", "signerName"], "<none>")),
    ]
}

// ---- storage ---------------------------------------------------------------------------

const STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Provisioner", "string", d::SC_PROVISIONER),
    col("ReclaimPolicy", "string", d::SC_RECLAIM),
    col("VolumeBindingMode", "string", d::SC_BINDING_MODE),
    col("AllowVolumeExpansion", "string", d::SC_EXPANSION),
    AGE,
];

fn storage_class(obj: &Value, now: Now) -> Vec<Value> {
    let annotations = &obj["metadata"]["annotations"];
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|a| annotations[*a].as_str() == Some("true"));
    let mut class_name = str_at(obj, &["metadata", "name"]).to_string();
    if is_default {
        class_name.push_str(" (default)");
    }
    vec![
        json!(class_name),
        json!(str_at(obj, &["provisioner"])),
        json!(str_or(obj, &["reclaimPolicy"], "Delete")),
        json!(str_or(obj, &["volumeBindingMode"], "Immediate")),
        json!(bool_at(obj, &["allowVolumeExpansion"])),
        age(obj, now),
    ]
}

const VOLUME_ATTACHMENT_COLUMNS: &[Column] = &[
    NAME,
    // Upstream marks this column as holding names too.
    Column {
        format: "name",
        ..col("Attacher", "string", d::VA_SPEC_ATTACHER)
    },
    col("PV", "string", d::VA_SOURCE_PV),
    col("Node", "string", d::VA_SPEC_NODE),
    col("Attached", "boolean", d::VA_STATUS_ATTACHED),
    AGE,
];

fn volume_attachment(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    vec![
        name(obj),
        json!(str_at(spec, &["attacher"])),
        json!(str_at(spec, &["source", "persistentVolumeName"])),
        json!(str_at(spec, &["nodeName"])),
        json!(bool_at(obj, &["status", "attached"])),
        age(obj, now),
    ]
}

const CSI_DRIVER_COLUMNS: &[Column] = &[
    NAME,
    col("AttachRequired", "boolean", d::CSIDRIVER_ATTACH),
    col("PodInfoOnMount", "boolean", d::CSIDRIVER_POD_INFO),
    col("StorageCapacity", "boolean", d::CSIDRIVER_CAPACITY),
    col("TokenRequests", "string", d::CSIDRIVER_TOKENS),
    col("RequiresRepublish", "boolean", d::CSIDRIVER_REPUBLISH),
    col("Modes", "string", d::CSIDRIVER_MODES),
    AGE,
];

fn csi_driver(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let modes: Vec<&str> = arr_at(spec, &["volumeLifecycleModes"])
        .iter()
        .map(|m| m.as_str().unwrap_or_default())
        .collect();
    // The API defaults the lifecycle modes to Persistent.
    let modes = if modes.is_empty() {
        "Persistent".to_string()
    } else {
        modes.join(",")
    };
    let tokens = match spec["tokenRequests"].as_array() {
        Some(t) => t
            .iter()
            .map(|t| str_at(t, &["audience"]))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".into(),
    };
    vec![
        name(obj),
        json!(spec["attachRequired"].as_bool().unwrap_or(true)),
        json!(bool_at(spec, &["podInfoOnMount"])),
        json!(bool_at(spec, &["storageCapacity"])),
        json!(tokens),
        json!(bool_at(spec, &["requiresRepublish"])),
        json!(modes),
        age(obj, now),
    ]
}

const CSI_NODE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Drivers",
        "integer",
        "Drivers indicates the number of CSI drivers registered on the node",
    ),
    AGE,
];

fn csi_node(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(len_at(obj, &["spec", "drivers"])),
        age(obj, now),
    ]
}

const CSI_STORAGE_CAPACITY_COLUMNS: &[Column] = &[
    NAME,
    col("StorageClassName", "string", d::CSISC_CLASS),
    col("Capacity", "string", d::CSISC_CAPACITY),
];

fn csi_storage_capacity(obj: &Value, _now: Now) -> Vec<Value> {
    let capacity = match &obj["capacity"] {
        Value::Null => "<unset>".into(),
        q => quantity_string(q),
    };
    vec![
        name(obj),
        json!(str_at(obj, &["storageClassName"])),
        json!(capacity),
    ]
}

// ---- admission registration ------------------------------------------------------------

const WEBHOOK_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Webhooks",
        "integer",
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    AGE,
];

fn webhook_configuration(obj: &Value, now: Now) -> Vec<Value> {
    vec![name(obj), json!(len_at(obj, &["webhooks"])), age(obj, now)]
}

const PARAM_KIND: &str =
    "ParamKind specifies the kind of resources used to parameterize this policy";

const VALIDATING_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Validations",
        "integer",
        "Validations indicates the number of validation rules defined in this configuration",
    ),
    col("ParamKind", "string", PARAM_KIND),
    AGE,
];

const MUTATING_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Mutations",
        "integer",
        "Mutation indicates the number of mutations rules defined in this configuration",
    ),
    col("ParamKind", "string", PARAM_KIND),
    AGE,
];

fn admission_policy(obj: &Value, rules: &str, now: Now) -> Vec<Value> {
    let param_kind = &obj["spec"]["paramKind"];
    let param_kind = if param_kind.is_object() {
        format!(
            "{}/{}",
            str_at(param_kind, &["apiVersion"]),
            str_at(param_kind, &["kind"])
        )
    } else {
        "<unset>".into()
    };
    vec![
        name(obj),
        json!(len_at(obj, &["spec", rules])),
        json!(param_kind),
        age(obj, now),
    ]
}

fn validating_policy(obj: &Value, now: Now) -> Vec<Value> {
    admission_policy(obj, "validations", now)
}

fn mutating_policy(obj: &Value, now: Now) -> Vec<Value> {
    admission_policy(obj, "mutations", now)
}

const POLICY_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col(
        "PolicyName",
        "string",
        "PolicyName indicates the policy definition which the policy binding binded to",
    ),
    col(
        "ParamRef",
        "string",
        "ParamRef indicates the param resource which sets the configration param",
    ),
    AGE,
];

/// Go's `%v` of a string slice: `[a b]`.
fn go_slice(values: &[Value]) -> String {
    let items: Vec<&str> = values
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

/// The generated `LabelSelector.String()` (a Go struct dump), which upstream prints for
/// parameters chosen by selector.
fn label_selector_struct(sel: &Value) -> String {
    let labels: String = sel["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}: {},", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let expressions: String = arr_at(sel, &["matchExpressions"])
        .iter()
        .map(|e| {
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:{},}},",
                str_at(e, &["key"]),
                str_at(e, &["operator"]),
                go_slice(arr_at(e, &["values"]))
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}"
    )
}

fn policy_binding(obj: &Value, now: Now) -> Vec<Value> {
    let param_ref = &obj["spec"]["paramRef"];
    let param = if !param_ref.is_object() {
        "<unset>".to_string()
    } else {
        match (
            str_at(param_ref, &["name"]),
            str_at(param_ref, &["namespace"]),
        ) {
            // Without a namespace it may be cluster-scoped or in any namespace: `*/`.
            (n, "") if !n.is_empty() => format!("*/{n}"),
            (n, ns) if !n.is_empty() => format!("{ns}/{n}"),
            _ if param_ref["selector"].is_object() => label_selector_struct(&param_ref["selector"]),
            _ => "<unset>".into(),
        }
    };
    vec![
        name(obj),
        json!(str_at(obj, &["spec", "policyName"])),
        json!(param),
        age(obj, now),
    ]
}

// ---- flow control ----------------------------------------------------------------------

const FLOW_SCHEMA_COLUMNS: &[Column] = &[
    NAME,
    col("PriorityLevel", "string", d::PL_REF_NAME),
    col("MatchingPrecedence", "string", d::FS_SPEC_PRECEDENCE),
    col("DistinguisherMethod", "string", d::FS_SPEC_DISTINGUISHER),
    AGE,
    col(
        "MissingPL",
        "string",
        "references a broken or non-existent PriorityLevelConfiguration",
    ),
];

/// `spec.matchingPrecedence`, which the API defaults to 1000.
fn matching_precedence(obj: &Value) -> i64 {
    match int_at(obj, &["spec", "matchingPrecedence"]) {
        0 => 1000,
        p => p,
    }
}

/// Lists print in matching order: precedence, then name.
fn flow_schema_order(a: &Value, b: &Value) -> Ordering {
    matching_precedence(a)
        .cmp(&matching_precedence(b))
        .then_with(|| str_at(a, &["metadata", "name"]).cmp(str_at(b, &["metadata", "name"])))
}

fn flow_schema(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let distinguisher = if spec["distinguisherMethod"].is_object() {
        str_at(spec, &["distinguisherMethod", "type"])
    } else {
        "<none>"
    };
    let dangling = condition_status(arr_at(obj, &["status", "conditions"]), "Dangling");
    vec![
        name(obj),
        json!(str_at(spec, &["priorityLevelConfiguration", "name"])),
        json!(matching_precedence(obj)),
        json!(distinguisher),
        age(obj, now),
        json!(dangling.unwrap_or("?")),
    ]
}

const PRIORITY_LEVEL_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", d::PLC_SPEC_TYPE),
    col("NominalConcurrencyShares", "string", d::PLC_LIMITED_NCS),
    col("Queues", "string", d::PLC_QUEUES),
    col("HandSize", "string", d::PLC_HAND_SIZE),
    col("QueueLengthLimit", "string", d::PLC_QUEUE_LENGTH),
    AGE,
];

fn priority_level(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let none = || json!("<none>");
    let (mut shares, mut queues, mut hand_size, mut queue_length) =
        (none(), none(), none(), none());
    let limited = &spec["limited"];
    if limited.is_object() {
        // Numbers, as upstream puts the int32 fields in the cells; unset ones read as the
        // API's defaults.
        shares = json!(int_opt(&limited["nominalConcurrencyShares"]).unwrap_or(30));
        let queuing = at(limited, &["limitResponse", "queuing"]);
        if queuing.is_object() {
            queues = json!(int_opt(&queuing["queues"]).unwrap_or(64));
            hand_size = json!(int_opt(&queuing["handSize"]).unwrap_or(8));
            queue_length = json!(int_opt(&queuing["queueLengthLimit"]).unwrap_or(50));
        }
    }
    vec![
        name(obj),
        json!(str_at(spec, &["type"])),
        shares,
        queues,
        hand_size,
        queue_length,
        age(obj, now),
    ]
}

// ---- aggregation, storage versions, resource -------------------------------------------

const API_SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Service",
        "string",
        "The reference to the service that hosts this API endpoint.",
    ),
    col("Available", "string", "Whether this service is available."),
    AGE,
];

/// kube-aggregator's own table: the backing service (or `Local`) and availability.
fn api_service(obj: &Value, now: Now) -> Vec<Value> {
    let service = &obj["spec"]["service"];
    let service = if service.is_object() {
        format!(
            "{}/{}",
            str_at(service, &["namespace"]),
            str_at(service, &["name"])
        )
    } else {
        "Local".into()
    };
    let available = arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Available");
    let available = match available {
        None => "Unknown".to_string(),
        Some(c) => match (str_at(c, &["status"]), str_at(c, &["reason"])) {
            ("True", _) => "True".into(),
            (status, "") => status.to_string(),
            (status, reason) => format!("{status} ({reason})"),
        },
    };
    vec![name(obj), json!(service), json!(available), age(obj, now)]
}

const STORAGE_VERSION_COLUMNS: &[Column] = &[
    NAME,
    col("CommonEncodingVersion", "string", d::SV_STATUS_COMMON),
    col("StorageVersions", "string", d::SV_STATUS_VERSIONS),
    AGE,
];

fn storage_version(obj: &Value, now: Now) -> Vec<Value> {
    const MAX: usize = 3;
    let versions = arr_at(obj, &["status", "storageVersions"]);
    let shown: Vec<String> = versions
        .iter()
        .take(MAX)
        .map(|v| {
            format!(
                "{}={}",
                str_at(v, &["apiServerID"]),
                str_at(v, &["encodingVersion"])
            )
        })
        .collect();
    vec![
        name(obj),
        json!(obj["status"]["commonEncodingVersion"]
            .as_str()
            .unwrap_or("<unset>")),
        json!(list_with_more(&shown, versions.len(), MAX)),
        age(obj, now),
    ]
}

const STORAGE_VERSION_MIGRATION_COLUMNS: &[Column] = &[
    // Upstream leaves the name format off here.
    col("Name", "string", d::META_NAME),
    col("Resource", "string", "Fully qualified resource to migrate"),
];

fn storage_version_migration(obj: &Value, _now: Now) -> Vec<Value> {
    let r = &obj["spec"]["resource"];
    vec![
        name(obj),
        json!(format!(
            "{}.{}.{}",
            str_at(r, &["resource"]),
            str_at(r, &["version"]),
            str_at(r, &["group"])
        )),
    ]
}

const RESOURCE_CLAIM_COLUMNS: &[Column] = &[
    NAME,
    col(
        "State",
        "string",
        "A summary of the current state (allocated, pending, reserved, etc.).",
    ),
    AGE,
];

fn resource_claim(obj: &Value, now: Now) -> Vec<Value> {
    let deleted = super::is_deleting(obj);
    let mut states = Vec::new();
    if deleted {
        states.push("deleted");
    }
    if obj["status"]["allocation"].is_object() {
        states.push("allocated");
        if len_at(obj, &["status", "reservedFor"]) > 0 {
            states.push("reserved");
        }
    } else if !deleted {
        states.push("pending");
    }
    vec![name(obj), json!(states.join(",")), age(obj, now)]
}

const RESOURCE_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col("Node", "string", d::RSLICE_SPEC_NODE),
    col("Driver", "string", d::RSLICE_SPEC_DRIVER),
    col("Pool", "string", d::RPOOL_NAME),
    AGE,
];

fn resource_slice(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    vec![
        name(obj),
        json!(str_at(spec, &["nodeName"])),
        json!(str_at(spec, &["driver"])),
        json!(str_at(spec, &["pool", "name"])),
        age(obj, now),
    ]
}

const STATUS_COLUMNS: &[Column] = &[
    col("Status", "string", d::STATUS_STATUS),
    col("Reason", "string", d::STATUS_REASON),
    // Upstream looks up "Message" (capitalized), which the docs do not have.
    col("Message", "string", ""),
];

fn status(obj: &Value, _now: Now) -> Vec<Value> {
    vec![
        json!(str_at(obj, &["status"])),
        json!(str_at(obj, &["reason"])),
        json!(str_at(obj, &["message"])),
    ]
}

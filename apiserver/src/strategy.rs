//! What the server does to an object on create, update and delete, beyond storing it
//! (upstream's RESTCreateStrategy / RESTUpdateStrategy / deletion logic). Generic rules
//! keyed on the resource description; the few per-kind facts are small matches here.

use base64::Engine;
use serde_json::{json, Value};

use crate::object::{self, meta_mut};
use crate::resource::ResourceInfo;
use crate::status::Cause;

/// Secret `stringData` is a write-only convenience: merged into `data` (base64) on every
/// write, never stored (upstream does this in conversion).
fn fold_string_data(info: &ResourceInfo, obj: &mut Value) {
    if !(info.group.is_empty() && info.kind == "Secret") {
        return;
    }
    let Some(o) = obj.as_object_mut() else { return };
    let Some(Value::Object(sd)) = o.remove("stringData") else {
        return;
    };
    let data = o.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    for (k, v) in sd {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
        data[k.as_str()] = json!(encoded);
    }
}

/// Facts upstream keeps true on every write of a core object: a namespace carries its name
/// as the `kubernetes.io/metadata.name` label; a secret has a type.
fn core_invariants(info: &ResourceInfo, obj: &mut Value) {
    if !info.group.is_empty() {
        return;
    }
    match info.kind.as_str() {
        "Namespace" => {
            let name = obj["metadata"]["name"].clone();
            if let Some(m) = meta_mut(obj) {
                let labels = m.entry("labels").or_insert_with(|| json!({}));
                if !labels.is_object() {
                    *labels = json!({});
                }
                labels["kubernetes.io/metadata.name"] = name;
            }
        }
        "Secret" if obj["type"].as_str().is_none_or(str::is_empty) => obj["type"] = json!("Opaque"),
        _ => {}
    }
}

/// Which part of an object a write may change: the object (not its status), its status
/// (`/status`), or a namespace's `spec.finalizers` (`/finalize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
    Finalize,
    /// A CSR's `status.conditions` (`/approval`).
    Approval,
    /// The server's own whole-object change (a pod's binding sets spec and status at once).
    Internal,
    /// A pod's `spec.ephemeralContainers` (`/ephemeralcontainers`).
    EphemeralContainers,
}

/// Objects that record who asked for them: a CertificateSigningRequest's `spec.username`,
/// `spec.uid` and `spec.groups` are the requesting user's, whatever the body says.
pub fn stamp_requester(info: &ResourceInfo, body: &mut Value, user: &crate::handler::User) {
    if info.group == "certificates.k8s.io"
        && info.kind == "CertificateSigningRequest"
        && body.is_object()
    {
        if !body["spec"].is_object() {
            body["spec"] = json!({});
        }
        body["spec"]["username"] = json!(user.name);
        body["spec"]["groups"] = json!(user.groups);
        if let Some(spec) = body["spec"].as_object_mut() {
            spec.remove("uid");
            spec.remove("extra");
        }
    }
}

/// Kinds whose upstream strategy sets `metadata.generation` (1 on create, +1 per spec change).
const GENERATION_KINDS: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "ReplicationController"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "IngressClass"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
];

fn tracks_generation(info: &ResourceInfo) -> bool {
    info.custom.is_some()
        || GENERATION_KINDS
            .iter()
            .any(|(g, k)| info.group == *g && info.kind == *k)
}

/// Server-side state on create: status reset for status-subresource types, generation 1.
pub fn prepare_for_create(info: &ResourceInfo, obj: &mut Value) {
    fold_string_data(info, obj);
    core_invariants(info, obj);
    if info.status_subresource {
        if let Some(o) = obj.as_object_mut() {
            // Nodes report their own status at registration; every other kind starts empty.
            if info.kind != "Node" {
                o.remove("status");
            }
        }
    }
    if tracks_generation(info) {
        if let Some(m) = meta_mut(obj) {
            m.insert("generation".into(), json!(1));
        }
    }
    if info.group.is_empty() {
        match info.kind.as_str() {
            "Namespace" => {
                obj["status"] = json!({"phase": "Active"});
                if obj["spec"]["finalizers"].is_null() {
                    obj["spec"] = json!({"finalizers": ["kubernetes"]});
                }
            }
            "Pod" => obj["status"] = json!({"phase": "Pending"}),
            _ => {}
        }
    }
    crate::defaults::apply(info, obj);
    crate::defaults::on_create(info, obj);
}

/// The object to store for an update: server-owned metadata kept, status or spec kept
/// depending on which endpoint was written, generation bumped on spec change.
pub fn prepare_for_update(
    info: &ResourceInfo,
    old: &Value,
    mut requested: Value,
    part: Part,
) -> Value {
    fold_string_data(info, &mut requested);
    core_invariants(info, &mut requested);
    crate::defaults::apply(info, &mut requested);
    let is_namespace = info.group.is_empty() && info.kind == "Namespace";
    let mut new = if part == Part::Approval {
        let mut n = old.clone();
        n["status"]["conditions"] = requested["status"]["conditions"].clone();
        n
    } else if part == Part::Internal {
        requested
    } else if part == Part::EphemeralContainers {
        let mut n = old.clone();
        n["spec"]["ephemeralContainers"] = requested["spec"]["ephemeralContainers"].clone();
        n
    } else if part == Part::Status {
        let mut n = old.clone();
        match requested.get("status") {
            Some(s) => n["status"] = s.clone(),
            None => {
                if let Some(o) = n.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        // Upstream's Deployment status strategy keeps only spec and labels: its controller
        // records the revision annotation along with status, without a generation bump.
        if info.group == "apps" && info.kind == "Deployment" {
            match requested["metadata"].get("annotations") {
                Some(a) => n["metadata"]["annotations"] = a.clone(),
                None => {
                    if let Some(m) = n.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("annotations");
                    }
                }
            }
        }
        n
    } else {
        let mut n = requested;
        // Only `/finalize` changes a namespace's spec.finalizers.
        if is_namespace && part == Part::Main {
            match old["spec"].get("finalizers") {
                Some(f) => n["spec"]["finalizers"] = f.clone(),
                None => {
                    if let Some(spec) = n.get_mut("spec").and_then(Value::as_object_mut) {
                        spec.remove("finalizers");
                    }
                }
            }
        }
        if info.status_subresource {
            match old.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(o) = n.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
        }
        n
    };
    // Fields only the server sets.
    if let Some(m) = meta_mut(&mut new) {
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
        ] {
            match old["metadata"].get(k) {
                Some(v) => {
                    m.insert(k.into(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
        m.remove("selfLink");
    }
    crate::defaults::on_update(info, old, &mut new);
    // Only writes of the object itself move its generation; status and other
    // subresource writes never do.
    if let Some(gen) = old["metadata"]["generation"]
        .as_i64()
        .filter(|_| part == Part::Main)
    {
        // Deployments also count annotation changes (rollback is requested through one).
        let annotations_count = info.group == "apps" && info.kind == "Deployment";
        if object::without_status_and_meta(old) != object::without_status_and_meta(&new)
            || (annotations_count
                && old["metadata"]["annotations"] != new["metadata"]["annotations"])
        {
            new["metadata"]["generation"] = json!(gen + 1);
        }
    }
    object::clear_resource_version(&mut new);
    new
}

/// Per-kind validation beyond metadata (issue-sized; the generic part lives in
/// `validation`). Returns field causes.
pub fn validate(info: &ResourceInfo, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    causes.extend(crate::deletion::validate_finalizers(obj));
    if let Some(custom) = &info.custom {
        causes.extend(custom.validate(obj, old));
        return causes;
    }
    if crate::crd::registrar::is_crd(info) {
        causes.extend(crate::crd::registrar::validate_definition(obj));
    }
    if info.group.is_empty() && matches!(info.kind.as_str(), "ConfigMap" | "Secret") {
        let fields: &[&str] = if info.kind == "ConfigMap" {
            &["data", "binaryData"]
        } else {
            &["data"]
        };
        for field in fields {
            for key in obj[*field].as_object().into_iter().flat_map(|m| m.keys()) {
                for e in crate::validation::config_key_errors(key) {
                    causes.push(Cause::invalid(&format!("{field}[{key}]"), key, &e));
                }
                if *field == "binaryData" && obj["data"].get(key).is_some() {
                    causes.push(Cause::invalid(
                        &format!("binaryData[{key}]"),
                        key,
                        "duplicate of key present in data",
                    ));
                }
            }
        }
    }
    crate::workload_validation::validate(info, obj, &mut causes);
    crate::kind_validation::validate(info, obj, &mut causes);
    if info.group.is_empty() && info.kind == "Service" {
        crate::service_validation::validate(obj, &mut causes);
    }
    causes
}

/// Rules on what an update may change.
pub fn validate_update(
    info: &ResourceInfo,
    old: &Value,
    new: &Value,
    part: Part,
) -> Option<Vec<Cause>> {
    let mut causes = Vec::new();
    if crate::crd::registrar::is_crd(info) && part == Part::Main {
        causes.extend(crate::crd::registrar::validate_definition_update(old, new));
    }
    crate::workload_validation::validate_update(info, old, new, &mut causes);
    crate::kind_validation::validate_update(info, old, new, &mut causes);
    if info.group.is_empty() && info.kind == "Pod" {
        crate::pod_validation::validate_update(old, new, part, &mut causes);
    }
    // Objects being deleted may not gain finalizers (upstream: "no new finalizers can be
    // added if the object is being deleted").
    if !old["metadata"]["deletionTimestamp"].is_null() {
        let before: Vec<&Value> = old["metadata"]["finalizers"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        if let Some(after) = new["metadata"]["finalizers"].as_array() {
            if after.iter().any(|f| !before.contains(&f)) {
                causes.push(Cause::forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted",
                ));
            }
        }
    }
    (!causes.is_empty()).then_some(causes)
}

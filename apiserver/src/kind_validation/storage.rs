//! Storage: `storage.k8s.io/v1` StorageClass (pkg/apis/storage/validation) and the core
//! PersistentVolume and PersistentVolumeClaim (pkg/apis/core/validation).

use serde_json::Value;

use super::causes::{
    immutable, non_empty, not_supported, quantity_nanos, quantity_string, NEGATIVE,
};
use crate::status::Cause;
use crate::validation::{dns1123_subdomain_errors, label_key_errors};

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];

/// The persistent volume sources of a PV spec: exactly one must be set.
const PV_SOURCES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
];

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    if kind == "StorageClass" {
        storage_class(obj, causes);
    }
}

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if kind != "StorageClass" {
        return;
    }
    let map = |v: &Value| v["parameters"].as_object().cloned().unwrap_or_default();
    if map(old) != map(new) {
        causes.push(Cause::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if old["provisioner"] != new["provisioner"] {
        causes.push(Cause::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if old["reclaimPolicy"] != new["reclaimPolicy"] {
        causes.push(Cause::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    immutable(
        "volumeBindingMode",
        &old["volumeBindingMode"],
        &new["volumeBindingMode"],
        causes,
    );
}

fn storage_class(obj: &Value, causes: &mut Vec<Cause>) {
    match non_empty(obj, "provisioner") {
        None => causes.push(Cause::required("provisioner", "")),
        Some(p) => {
            for e in label_key_errors(&p.to_lowercase()) {
                causes.push(Cause::invalid("provisioner", &p.to_lowercase(), &e));
            }
        }
    }
    let params = obj["parameters"].as_object();
    if params.is_some_and(|p| p.len() > 512) {
        causes.push(Cause {
            reason: "FieldValueTooLong".into(),
            message: "Too long: may not be more than 512 bytes".into(),
            field: "parameters".into(),
        });
    }
    for (k, _) in params.into_iter().flatten() {
        if k.is_empty() {
            causes.push(Cause::invalid("parameters", k, "field can not be empty."));
        }
    }
    if let Some(p) = non_empty(obj, "reclaimPolicy") {
        if !matches!(p, "Delete" | "Retain") {
            causes.push(not_supported(
                "reclaimPolicy",
                &obj["reclaimPolicy"],
                &["Delete", "Retain"],
            ));
        }
    }
    match obj.get("volumeBindingMode").filter(|v| !v.is_null()) {
        None => causes.push(Cause::required("volumeBindingMode", "")),
        Some(m) => {
            if !matches!(m.as_str(), Some("Immediate" | "WaitForFirstConsumer")) {
                causes.push(not_supported(
                    "volumeBindingMode",
                    m,
                    &["Immediate", "WaitForFirstConsumer"],
                ));
            }
        }
    }
}

/// Core PV and PVC create rules (called for the core group).
pub fn validate_core(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "PersistentVolume" => persistent_volume(&obj["spec"], causes),
        "PersistentVolumeClaim" => claim_spec(&obj["spec"], causes),
        _ => {}
    }
}

pub fn validate_core_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "PersistentVolume" => persistent_volume_update(old, new, causes),
        "PersistentVolumeClaim" => claim_update(old, new, causes),
        _ => {}
    }
}

fn access_modes(spec: &Value, required_detail: &str, causes: &mut Vec<Cause>) {
    let modes = spec["accessModes"].as_array().cloned().unwrap_or_default();
    if modes.is_empty() {
        causes.push(Cause::required("spec.accessModes", required_detail));
    }
    for m in &modes {
        if !m.as_str().is_some_and(|s| ACCESS_MODES.contains(&s)) {
            causes.push(not_supported("spec.accessModes", m, ACCESS_MODES));
        }
    }
    if modes.len() > 1 && modes.iter().any(|m| m == "ReadWriteOncePod") {
        causes.push(Cause::forbidden(
            "spec.accessModes",
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn class_and_mode(spec: &Value, causes: &mut Vec<Cause>) {
    if let Some(c) = non_empty(spec, "storageClassName") {
        for e in dns1123_subdomain_errors(c) {
            causes.push(Cause::invalid("spec.storageClassName", c, &e));
        }
    }
    if let Some(m) = spec.get("volumeMode").filter(|v| !v.is_null()) {
        if !m.as_str().is_some_and(|s| VOLUME_MODES.contains(&s)) {
            causes.push(not_supported("spec.volumeMode", m, VOLUME_MODES));
        }
    }
}

fn persistent_volume(spec: &Value, causes: &mut Vec<Cause>) {
    access_modes(spec, "", causes);
    let capacity = spec["capacity"].as_object().cloned().unwrap_or_default();
    if capacity.is_empty() {
        causes.push(Cause::required("spec.capacity", ""));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        causes.push(not_supported(
            "spec.capacity",
            &Value::Object(capacity.clone()),
            &["storage"],
        ));
    }
    for (k, q) in &capacity {
        if quantity_nanos(q).is_some_and(|n| n < 0) {
            causes.push(Cause::invalid(
                &format!("spec.capacity[{k}]"),
                &quantity_string(q),
                NEGATIVE,
            ));
        }
    }
    if let Some(p) = non_empty(spec, "persistentVolumeReclaimPolicy") {
        if !matches!(p, "Delete" | "Recycle" | "Retain") {
            causes.push(not_supported(
                "spec.persistentVolumeReclaimPolicy",
                &spec["persistentVolumeReclaimPolicy"],
                &["Delete", "Recycle", "Retain"],
            ));
        }
    }
    class_and_mode(spec, causes);
    let sources: Vec<&str> = PV_SOURCES
        .iter()
        .copied()
        .filter(|s| spec[*s].is_object())
        .collect();
    match sources.as_slice() {
        [] => causes.push(Cause::required("spec", "must specify a volume type")),
        [_] => {}
        [_, more @ ..] => {
            for s in more {
                causes.push(Cause::forbidden(
                    &format!("spec.{s}"),
                    "may not specify more than 1 volume type",
                ));
            }
        }
    }
    for (source, required) in [
        ("hostPath", &["path"][..]),
        ("nfs", &["server", "path"][..]),
        ("local", &["path"][..]),
        ("csi", &["driver", "volumeHandle"][..]),
    ] {
        let s = &spec[source];
        if !s.is_object() {
            continue;
        }
        for key in required {
            if non_empty(s, key).is_none() {
                causes.push(Cause::required(&format!("spec.{source}.{key}"), ""));
            }
        }
    }
    if let Some(p) = non_empty(&spec["nfs"], "path") {
        if !p.starts_with('/') {
            causes.push(Cause::invalid(
                "spec.nfs.path",
                p,
                "must be an absolute path",
            ));
        }
    }
    if spec["local"].is_object() && spec["nodeAffinity"].is_null() {
        causes.push(Cause::required(
            "spec.nodeAffinity",
            "Local volume requires node affinity",
        ));
    }
}

fn persistent_volume_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let source = |v: &Value| -> Vec<(String, Value)> {
        PV_SOURCES
            .iter()
            .filter(|s| !v["spec"][**s].is_null())
            .map(|s| (s.to_string(), v["spec"][*s].clone()))
            .collect()
    };
    if source(old) != source(new) {
        causes.push(Cause::forbidden(
            "spec.persistentvolumesource",
            "spec.persistentvolumesource is immutable after creation",
        ));
    }
    // Upstream's paths here lack the `spec.` prefix.
    immutable(
        "volumeMode",
        &old["spec"]["volumeMode"],
        &new["spec"]["volumeMode"],
        causes,
    );
    if !old["spec"]["nodeAffinity"].is_null() {
        immutable(
            "nodeAffinity",
            &old["spec"]["nodeAffinity"],
            &new["spec"]["nodeAffinity"],
            causes,
        );
    }
}

fn claim_spec(spec: &Value, causes: &mut Vec<Cause>) {
    access_modes(spec, "at least 1 access mode is required", causes);
    match spec["resources"]["requests"]
        .get("storage")
        .filter(|v| !v.is_null())
    {
        None => causes.push(Cause::required("spec.resources[storage]", "")),
        Some(q) => {
            if quantity_nanos(q).is_some_and(|n| n <= 0) {
                causes.push(Cause::invalid(
                    "spec.resources[storage]",
                    &quantity_string(q),
                    "must be greater than zero",
                ));
            }
        }
    }
    class_and_mode(spec, causes);
    for key in ["dataSource", "dataSourceRef"] {
        let src = &spec[key];
        if src.is_object() {
            for field in ["kind", "name"] {
                if non_empty(src, field).is_none() {
                    causes.push(Cause::required(&format!("spec.{key}.{field}"), ""));
                }
            }
        }
    }
}

/// A claim's spec is fixed after creation, except that a bound claim may grow (or shrink
/// back towards its capacity) and its volume name may be set once.
fn claim_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let mut before = old["spec"].clone();
    let mut after = new["spec"].clone();
    if non_empty(&old["spec"], "volumeName").is_none() {
        before["volumeName"] = after["volumeName"].clone();
    }
    let bound = new["status"]["phase"] == "Bound";
    if bound {
        for s in [&mut before, &mut after] {
            if let Some(r) = s["resources"]["requests"].as_object_mut() {
                r.remove("storage");
            }
        }
        before["volumeAttributesClassName"] = after["volumeAttributesClassName"].clone();
    }
    let clean = |v: &mut Value| {
        if let Some(o) = v.as_object_mut() {
            o.retain(|_, x| !x.is_null());
        }
    };
    clean(&mut before);
    clean(&mut after);
    if before != after {
        causes.push(Cause::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    let size = |v: &Value| quantity_nanos(&v["spec"]["resources"]["requests"]["storage"]);
    if let (Some(o), Some(n)) = (size(old), size(new)) {
        if bound && n < o {
            // RecoverVolumeExpansionFailure (on in v1.33): shrinking is allowed down to,
            // but not to or below, the capacity the volume reports.
            let capacity = quantity_nanos(&old["status"]["capacity"]["storage"]).unwrap_or(0);
            if n <= capacity {
                causes.push(Cause::forbidden(
                    "spec.resources.requests.storage",
                    "field can not be less than status.capacity",
                ));
            }
        }
    }
}

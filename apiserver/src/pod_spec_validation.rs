//! A pod spec's own rules (upstream's `ValidatePodSpec`, pkg/apis/core/validation): the
//! checks a misspelt manifest trips over — names, images, ports, env, volumes and their
//! mounts, policies, resources, probes, tolerations — with upstream's paths and messages.
//! Pods and every pod template share it.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::printers::quantity;
use crate::status::Cause;
use crate::validation::{
    dns1123_label_errors, dns1123_subdomain_errors, label_key_errors, label_value_errors,
};

fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Cause {
    let shown = match value {
        Value::String(s) => format!("\"{s}\""),
        v => v.to_string(),
    };
    let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!(
            "Unsupported value: {shown}: supported values: {}",
            list.join(", ")
        ),
        field: field.into(),
    }
}

fn duplicate(field: &str, value: &Value) -> Cause {
    let shown = match value {
        Value::String(s) => format!("\"{s}\""),
        v => v.to_string(),
    };
    Cause {
        reason: "FieldValueDuplicate".into(),
        message: format!("Duplicate value: {shown}"),
        field: field.into(),
    }
}

fn not_found(field: &str, value: &str) -> Cause {
    Cause {
        reason: "FieldValueNotFound".into(),
        message: format!("Not found: \"{value}\""),
        field: field.into(),
    }
}

fn enum_field(spec: &Value, key: &str, path: &str, supported: &[&str], causes: &mut Vec<Cause>) {
    if let Some(v) = spec.get(key).filter(|v| !v.is_null()) {
        if !v.as_str().is_some_and(|s| supported.contains(&s)) {
            causes.push(not_supported(&format!("{path}.{key}"), v, supported));
        }
    }
}

/// IANA_SVC_NAME: what a named port may be called (upstream's `IsValidPortName`).
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

fn port_in_range(v: &Value) -> bool {
    v.as_i64().is_some_and(|p| (1..=65535).contains(&p))
}

const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
/// The volume sources of a core/v1 Volume: exactly one must be set.
const VOLUME_SOURCES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

pub fn validate(spec: &Value, path: &str, causes: &mut Vec<Cause>) {
    let volumes = validate_volumes(spec, path, causes);
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    if containers.is_empty() {
        causes.push(Cause::required(&format!("{path}.containers"), ""));
    }
    let mut names: BTreeSet<String> = BTreeSet::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in spec[list].as_array().into_iter().flatten().enumerate() {
            container(
                c,
                &format!("{path}.{list}[{i}]"),
                list,
                &volumes,
                &mut names,
                causes,
            );
        }
    }
    enum_field(
        spec,
        "restartPolicy",
        path,
        &["Always", "OnFailure", "Never"],
        causes,
    );
    enum_field(
        spec,
        "dnsPolicy",
        path,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        causes,
    );
    if spec["dnsPolicy"] == "None"
        && spec["dnsConfig"]["nameservers"]
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        causes.push(Cause::required(
            &format!("{path}.dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
    if let Some(d) = spec.get("activeDeadlineSeconds").filter(|v| !v.is_null()) {
        if !d.as_i64().is_some_and(|d| (1..=2147483647).contains(&d)) {
            causes.push(Cause::invalid_value(
                &format!("{path}.activeDeadlineSeconds"),
                d,
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    for key in ["hostname", "subdomain"] {
        if let Some(v) = spec[key].as_str().filter(|v| !v.is_empty()) {
            for e in dns1123_label_errors(v) {
                causes.push(Cause::invalid(&format!("{path}.{key}"), v, &e));
            }
        }
    }
    if let Some(sa) = spec["serviceAccountName"]
        .as_str()
        .filter(|v| !v.is_empty())
    {
        for e in dns1123_subdomain_errors(sa) {
            causes.push(Cause::invalid(
                &format!("{path}.serviceAccountName"),
                sa,
                &e,
            ));
        }
    }
    for (k, v) in spec["nodeSelector"].as_object().into_iter().flatten() {
        for e in label_key_errors(k) {
            causes.push(Cause::invalid(&format!("{path}.nodeSelector"), k, &e));
        }
        let v = v.as_str().unwrap_or_default();
        for e in label_value_errors(v) {
            causes.push(Cause::invalid(&format!("{path}.nodeSelector"), v, &e));
        }
    }
    for (i, t) in spec["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        toleration(t, &format!("{path}.tolerations[{i}]"), causes);
    }
    if let Some(sc) = spec.get("securityContext").filter(|v| v.is_object()) {
        security_ids(sc, &format!("{path}.securityContext"), causes);
    }
}

/// Volume names (checked) for mounts to refer to.
fn validate_volumes(spec: &Value, path: &str, causes: &mut Vec<Cause>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, v) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let at = format!("{path}.volumes[{i}]");
        match v["name"].as_str().filter(|n| !n.is_empty()) {
            None => causes.push(Cause::required(&format!("{at}.name"), "")),
            Some(n) => {
                for e in dns1123_label_errors(n) {
                    causes.push(Cause::invalid(&format!("{at}.name"), n, &e));
                }
                if !names.insert(n.to_string()) {
                    causes.push(duplicate(&format!("{at}.name"), &json!(n)));
                }
            }
        }
        let sources = VOLUME_SOURCES
            .iter()
            .filter(|s| v.get(**s).is_some_and(|x| !x.is_null()))
            .count();
        if sources == 0 {
            causes.push(Cause::required(&at, "must specify a volume type"));
        } else if sources > 1 {
            causes.push(Cause::forbidden(
                &at,
                "may not specify more than 1 volume type",
            ));
        }
        if let Some(claim) = v.get("persistentVolumeClaim").filter(|c| c.is_object()) {
            if claim["claimName"].as_str().is_none_or(str::is_empty) {
                causes.push(Cause::required(
                    &format!("{at}.persistentVolumeClaim.claimName"),
                    "",
                ));
            }
        }
        if let Some(host) = v.get("hostPath").filter(|c| c.is_object()) {
            if host["path"].as_str().is_none_or(str::is_empty) {
                causes.push(Cause::required(&format!("{at}.hostPath.path"), ""));
            }
        }
    }
    names
}

fn container(
    c: &Value,
    at: &str,
    list: &str,
    volumes: &BTreeSet<String>,
    names: &mut BTreeSet<String>,
    causes: &mut Vec<Cause>,
) {
    match c["name"].as_str().filter(|n| !n.is_empty()) {
        None => causes.push(Cause::required(&format!("{at}.name"), "")),
        Some(n) => {
            for e in dns1123_label_errors(n) {
                causes.push(Cause::invalid(&format!("{at}.name"), n, &e));
            }
            if !names.insert(n.to_string()) {
                causes.push(duplicate(&format!("{at}.name"), &json!(n)));
            }
        }
    }
    if c["image"].as_str().unwrap_or_default().trim().is_empty() {
        causes.push(Cause::required(&format!("{at}.image"), ""));
    }
    enum_field(
        c,
        "imagePullPolicy",
        at,
        &["Always", "IfNotPresent", "Never"],
        causes,
    );
    enum_field(
        c,
        "terminationMessagePolicy",
        at,
        &["File", "FallbackToLogsOnError"],
        causes,
    );
    if list == "initContainers" {
        enum_field(c, "restartPolicy", at, &["Always"], causes);
    } else if c.get("restartPolicy").is_some_and(|v| !v.is_null()) {
        causes.push(Cause::forbidden(
            &format!("{at}.restartPolicy"),
            "may not be set for non-init containers",
        ));
    }
    let mut port_names = BTreeSet::new();
    for (i, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
        let pat = format!("{at}.ports[{i}]");
        if !port_in_range(&p["containerPort"]) {
            causes.push(Cause::invalid_value(
                &format!("{pat}.containerPort"),
                &p["containerPort"],
                PORT_RANGE,
            ));
        }
        if let Some(h) = p.get("hostPort").filter(|h| !h.is_null() && **h != 0) {
            if !port_in_range(h) {
                causes.push(Cause::invalid_value(
                    &format!("{pat}.hostPort"),
                    h,
                    PORT_RANGE,
                ));
            }
        }
        if let Some(n) = p["name"].as_str().filter(|n| !n.is_empty()) {
            for e in port_name_errors(n) {
                causes.push(Cause::invalid(&format!("{pat}.name"), n, &e));
            }
            if !port_names.insert(n.to_string()) {
                causes.push(duplicate(&format!("{pat}.name"), &json!(n)));
            }
        }
        enum_field(p, "protocol", &pat, PROTOCOLS, causes);
    }
    for (i, e) in c["env"].as_array().into_iter().flatten().enumerate() {
        let eat = format!("{at}.env[{i}]");
        match e["name"].as_str().filter(|n| !n.is_empty()) {
            None => causes.push(Cause::required(&format!("{eat}.name"), "")),
            Some(n) => {
                // RelaxedEnvironmentVariableValidation (on by default in v1.33).
                if n.contains('=') || !n.chars().all(|ch| (' '..='~').contains(&ch)) {
                    causes.push(Cause::invalid(
                        &format!("{eat}.name"),
                        n,
                        "a valid environment variable name must consist only of printable ASCII characters other than '='",
                    ));
                }
            }
        }
        if let Some(from) = e.get("valueFrom").filter(|v| v.is_object()) {
            let sources = [
                "fieldRef",
                "resourceFieldRef",
                "configMapKeyRef",
                "secretKeyRef",
            ]
            .iter()
            .filter(|s| from.get(**s).is_some_and(|x| !x.is_null()))
            .count();
            if e["value"].as_str().is_some_and(|v| !v.is_empty()) {
                causes.push(Cause::invalid(
                    &format!("{eat}.valueFrom"),
                    "",
                    "may not be specified when `value` is not empty",
                ));
            } else if sources == 0 {
                causes.push(Cause::invalid(
                    &format!("{eat}.valueFrom"),
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                ));
            } else if sources > 1 {
                causes.push(Cause::invalid(
                    &format!("{eat}.valueFrom"),
                    "",
                    "may not have more than one field specified at a time",
                ));
            }
        }
    }
    let mut mount_paths = BTreeSet::new();
    for (i, m) in c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mat = format!("{at}.volumeMounts[{i}]");
        let name = m["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            causes.push(Cause::required(&format!("{mat}.name"), ""));
        } else if !volumes.contains(name) {
            causes.push(not_found(&format!("{mat}.name"), name));
        }
        match m["mountPath"].as_str().filter(|p| !p.is_empty()) {
            None => causes.push(Cause::required(&format!("{mat}.mountPath"), "")),
            Some(p) => {
                if !mount_paths.insert(p.to_string()) {
                    causes.push(Cause::invalid(
                        &format!("{mat}.mountPath"),
                        p,
                        "must be unique",
                    ));
                }
            }
        }
    }
    resources(&c["resources"], &format!("{at}.resources"), causes);
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get(probe).filter(|p| p.is_object()) {
            probe_rules(p, &format!("{at}.{probe}"), probe, causes);
        }
    }
    if let Some(sc) = c.get("securityContext").filter(|v| v.is_object()) {
        security_ids(sc, &format!("{at}.securityContext"), causes);
    }
}

fn resources(r: &Value, at: &str, causes: &mut Vec<Cause>) {
    let mut parsed: [Vec<(String, i128)>; 2] = [Vec::new(), Vec::new()];
    for (slot, kind) in ["limits", "requests"].iter().enumerate() {
        for (name, q) in r[*kind].as_object().into_iter().flatten() {
            let field = format!("{at}.{kind}[{name}]");
            let text = q
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| q.to_string());
            match quantity::nanos(&text) {
                None => causes.push(Cause::invalid(
                    &field,
                    &text,
                    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )),
                Some((n, _)) if n < 0 => causes.push(Cause::invalid(
                    &field,
                    &text,
                    "must be greater than or equal to 0",
                )),
                Some((n, _)) => parsed[slot].push((name.clone(), n)),
            }
        }
    }
    let [limits, requests] = &parsed;
    for (name, req) in requests {
        if let Some((_, lim)) = limits.iter().find(|(n, _)| n == name) {
            if req > lim {
                let shown = r["requests"][name].as_str().unwrap_or_default().to_string();
                let limit = r["limits"][name].as_str().unwrap_or_default();
                causes.push(Cause::invalid(
                    &format!("{at}.requests"),
                    &shown,
                    &format!("must be less than or equal to {name} limit of {limit}"),
                ));
            }
        }
    }
}

fn probe_rules(p: &Value, at: &str, kind: &str, causes: &mut Vec<Cause>) {
    let handlers = ["exec", "httpGet", "tcpSocket", "grpc"]
        .iter()
        .filter(|h| p.get(**h).is_some_and(|x| !x.is_null()))
        .count();
    if handlers == 0 {
        causes.push(Cause::required(at, "must specify a handler type"));
    } else if handlers > 1 {
        causes.push(Cause::forbidden(
            at,
            "may not specify more than 1 handler type",
        ));
    }
    for (key, min) in [
        ("initialDelaySeconds", 0),
        ("timeoutSeconds", 0),
        ("periodSeconds", 0),
        ("successThreshold", 0),
        ("failureThreshold", 0),
    ] {
        if let Some(v) = p[key].as_i64().filter(|v| *v < min) {
            causes.push(Cause::invalid_value(
                &format!("{at}.{key}"),
                &json!(v),
                "must be greater than or equal to 0",
            ));
        }
    }
    if kind != "readinessProbe" && p["successThreshold"].as_i64().is_some_and(|s| s != 1) {
        causes.push(Cause::invalid_value(
            &format!("{at}.successThreshold"),
            &p["successThreshold"],
            "must be 1",
        ));
    }
    if let Some(port) = p["httpGet"]
        .get("port")
        .or_else(|| p["tcpSocket"].get("port"))
    {
        let ok = match port {
            Value::String(s) => port_name_errors(s).is_empty(),
            v => port_in_range(v),
        };
        if !ok {
            let sub = if p["httpGet"].is_object() {
                "httpGet"
            } else {
                "tcpSocket"
            };
            causes.push(Cause::invalid_value(
                &format!("{at}.{sub}.port"),
                port,
                PORT_RANGE,
            ));
        }
    }
}

fn toleration(t: &Value, at: &str, causes: &mut Vec<Cause>) {
    let op = t["operator"].as_str().unwrap_or("Equal");
    if let Some(k) = t["key"].as_str().filter(|k| !k.is_empty()) {
        for e in label_key_errors(k) {
            causes.push(Cause::invalid(&format!("{at}.key"), k, &e));
        }
    } else if op != "Exists" {
        causes.push(Cause::invalid(
            &format!("{at}.operator"),
            op,
            "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        ));
    }
    match op {
        "Equal" | "" => {}
        "Exists" => {
            if t["value"].as_str().is_some_and(|v| !v.is_empty()) {
                causes.push(Cause::invalid(
                    &format!("{at}.operator"),
                    t["value"].as_str().unwrap_or_default(),
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
        }
        other => causes.push(not_supported(
            &format!("{at}.operator"),
            &json!(other),
            &["Equal", "Exists"],
        )),
    }
    enum_field(
        t,
        "effect",
        at,
        &["NoExecute", "NoSchedule", "PreferNoSchedule"],
        causes,
    );
    if !t["tolerationSeconds"].is_null() && t["effect"] != "NoExecute" {
        causes.push(Cause::invalid(
            &format!("{at}.effect"),
            t["effect"].as_str().unwrap_or_default(),
            "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ));
    }
}

fn security_ids(sc: &Value, at: &str, causes: &mut Vec<Cause>) {
    for key in ["runAsUser", "runAsGroup"] {
        if let Some(v) = sc.get(key).filter(|v| !v.is_null()) {
            if !v.as_i64().is_some_and(|id| (0..=2147483647).contains(&id)) {
                causes.push(Cause::invalid_value(
                    &format!("{at}.{key}"),
                    v,
                    "must be between 0 and 2147483647, inclusive",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn causes_of(spec: Value) -> Vec<(String, String)> {
        let mut c = Vec::new();
        validate(&spec, "spec", &mut c);
        c.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn base() -> Value {
        json!({"containers": [{"name": "c", "image": "busybox"}]})
    }

    fn with(f: impl FnOnce(&mut Value)) -> Value {
        let mut s = base();
        f(&mut s);
        s
    }

    /// (what is wrong, the spec, the field upstream names, the start of its message)
    #[allow(clippy::type_complexity)]
    fn cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
        vec![
            ("no containers", json!({"containers": []}), "spec.containers", "Required value"),
            ("nameless container", json!({"containers": [{"image": "x"}]}), "spec.containers[0].name", "Required value"),
            ("uppercase name", json!({"containers": [{"name": "Web", "image": "x"}]}), "spec.containers[0].name", "Invalid value: \"Web\": a lowercase RFC 1123 label"),
            ("duplicate names", json!({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "x"}]}), "spec.containers[1].name", "Duplicate value: \"a\""),
            ("init and app share a name", json!({"initContainers": [{"name": "a", "image": "x"}], "containers": [{"name": "a", "image": "x"}]}), "spec.containers[0].name", "Duplicate value: \"a\""),
            ("no image", json!({"containers": [{"name": "c"}]}), "spec.containers[0].image", "Required value"),
            ("blank image", json!({"containers": [{"name": "c", "image": "  "}]}), "spec.containers[0].image", "Required value"),
            ("bad pull policy", with(|s| s["containers"][0]["imagePullPolicy"] = json!("Sometimes")), "spec.containers[0].imagePullPolicy", "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""),
            ("bad termination message policy", with(|s| s["containers"][0]["terminationMessagePolicy"] = json!("Logs")), "spec.containers[0].terminationMessagePolicy", "Unsupported value: \"Logs\""),
            ("restartPolicy on an app container", with(|s| s["containers"][0]["restartPolicy"] = json!("Always")), "spec.containers[0].restartPolicy", "Forbidden: may not be set for non-init containers"),
            ("sidecar restartPolicy other than Always", json!({"initContainers": [{"name": "i", "image": "x", "restartPolicy": "Never"}], "containers": [{"name": "c", "image": "x"}]}), "spec.initContainers[0].restartPolicy", "Unsupported value: \"Never\": supported values: \"Always\""),
            ("port zero", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 0}])), "spec.containers[0].ports[0].containerPort", "Invalid value: 0: must be between 1 and 65535, inclusive"),
            ("port too large", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 70000}])), "spec.containers[0].ports[0].containerPort", "Invalid value: 70000: must be between"),
            ("host port too large", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 65536}])), "spec.containers[0].ports[0].hostPort", "Invalid value: 65536"),
            ("bad protocol", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "protocol": "HTTP"}])), "spec.containers[0].ports[0].protocol", "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""),
            ("port name too long", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "name": "a-very-long-port-name"}])), "spec.containers[0].ports[0].name", "Invalid value: \"a-very-long-port-name\": must be no more than 15 characters"),
            ("port name without letters", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "name": "80"}])), "spec.containers[0].ports[0].name", "Invalid value: \"80\": must contain at least one letter (a-z)"),
            ("port name with double hyphen", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "name": "a--b"}])), "spec.containers[0].ports[0].name", "Invalid value: \"a--b\": must not contain consecutive hyphens"),
            ("duplicate port names", with(|s| s["containers"][0]["ports"] = json!([{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}])), "spec.containers[0].ports[1].name", "Duplicate value: \"web\""),
            ("nameless env var", with(|s| s["containers"][0]["env"] = json!([{"value": "x"}])), "spec.containers[0].env[0].name", "Required value"),
            ("env var with =", with(|s| s["containers"][0]["env"] = json!([{"name": "A=B"}])), "spec.containers[0].env[0].name", "Invalid value: \"A=B\": a valid environment variable name"),
            ("env value and valueFrom", with(|s| s["containers"][0]["env"] = json!([{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])), "spec.containers[0].env[0].valueFrom", "Invalid value: \"\": may not be specified when `value` is not empty"),
            ("empty valueFrom", with(|s| s["containers"][0]["env"] = json!([{"name": "A", "valueFrom": {}}])), "spec.containers[0].env[0].valueFrom", "Invalid value: \"\": must specify one of"),
            ("two valueFrom sources", with(|s| s["containers"][0]["env"] = json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}, "secretKeyRef": {"name": "s", "key": "k"}}}])), "spec.containers[0].env[0].valueFrom", "Invalid value: \"\": may not have more than one field specified at a time"),
            ("mount of a missing volume", with(|s| s["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/d"}])), "spec.containers[0].volumeMounts[0].name", "Not found: \"data\""),
            ("mount without path", with(|s| { s["volumes"] = json!([{"name": "v", "emptyDir": {}}]); s["containers"][0]["volumeMounts"] = json!([{"name": "v"}]); }), "spec.containers[0].volumeMounts[0].mountPath", "Required value"),
            ("same mount path twice", with(|s| { s["volumes"] = json!([{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]); s["containers"][0]["volumeMounts"] = json!([{"name": "v", "mountPath": "/d"}, {"name": "w", "mountPath": "/d"}]); }), "spec.containers[0].volumeMounts[1].mountPath", "Invalid value: \"/d\": must be unique"),
            ("volume without a name", with(|s| s["volumes"] = json!([{"emptyDir": {}}])), "spec.volumes[0].name", "Required value"),
            ("volume with a bad name", with(|s| s["volumes"] = json!([{"name": "Data", "emptyDir": {}}])), "spec.volumes[0].name", "Invalid value: \"Data\""),
            ("duplicate volumes", with(|s| s["volumes"] = json!([{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}])), "spec.volumes[1].name", "Duplicate value: \"v\""),
            ("volume without a source", with(|s| s["volumes"] = json!([{"name": "v"}])), "spec.volumes[0]", "Required value: must specify a volume type"),
            ("volume with two sources", with(|s| s["volumes"] = json!([{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}])), "spec.volumes[0]", "Forbidden: may not specify more than 1 volume type"),
            ("claim without a name", with(|s| s["volumes"] = json!([{"name": "v", "persistentVolumeClaim": {}}])), "spec.volumes[0].persistentVolumeClaim.claimName", "Required value"),
            ("hostPath without a path", with(|s| s["volumes"] = json!([{"name": "v", "hostPath": {}}])), "spec.volumes[0].hostPath.path", "Required value"),
            ("bad restart policy", with(|s| s["restartPolicy"] = json!("Sometimes")), "spec.restartPolicy", "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""),
            ("bad dns policy", with(|s| s["dnsPolicy"] = json!("Google")), "spec.dnsPolicy", "Unsupported value: \"Google\""),
            ("dnsPolicy None without config", with(|s| s["dnsPolicy"] = json!("None")), "spec.dnsConfig", "Required value: must provide `dnsConfig` when `dnsPolicy` is None"),
            ("zero active deadline", with(|s| s["activeDeadlineSeconds"] = json!(0)), "spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive"),
            ("bad hostname", with(|s| s["hostname"] = json!("My_Host")), "spec.hostname", "Invalid value: \"My_Host\""),
            ("bad subdomain", with(|s| s["subdomain"] = json!("a.b")), "spec.subdomain", "Invalid value: \"a.b\""),
            ("bad service account name", with(|s| s["serviceAccountName"] = json!("Robot!")), "spec.serviceAccountName", "Invalid value: \"Robot!\""),
            ("bad node selector key", with(|s| s["nodeSelector"] = json!({"bad key": "x"})), "spec.nodeSelector", "Invalid value: \"bad key\""),
            ("bad node selector value", with(|s| s["nodeSelector"] = json!({"k": "bad value"})), "spec.nodeSelector", "Invalid value: \"bad value\""),
            ("toleration value with Exists", with(|s| s["tolerations"] = json!([{"key": "k", "operator": "Exists", "value": "v"}])), "spec.tolerations[0].operator", "Invalid value: \"v\": value must be empty when `operator` is 'Exists'"),
            ("toleration with bad operator", with(|s| s["tolerations"] = json!([{"key": "k", "operator": "In"}])), "spec.tolerations[0].operator", "Unsupported value: \"In\": supported values: \"Equal\", \"Exists\""),
            ("toleration with bad effect", with(|s| s["tolerations"] = json!([{"key": "k", "operator": "Exists", "effect": "Evict"}])), "spec.tolerations[0].effect", "Unsupported value: \"Evict\""),
            ("tolerationSeconds without NoExecute", with(|s| s["tolerations"] = json!([{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}])), "spec.tolerations[0].effect", "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"),
            ("keyless Equal toleration", with(|s| s["tolerations"] = json!([{"operator": "Equal", "value": "v"}])), "spec.tolerations[0].operator", "Invalid value: \"Equal\": operator must be Exists when `key` is empty"),
            ("request over limit", with(|s| s["containers"][0]["resources"] = json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})), "spec.containers[0].resources.requests", "Invalid value: \"2\": must be less than or equal to cpu limit of 1"),
            ("negative request", with(|s| s["containers"][0]["resources"] = json!({"requests": {"memory": "-1Mi"}})), "spec.containers[0].resources.requests[memory]", "Invalid value: \"-1Mi\": must be greater than or equal to 0"),
            ("unparsable quantity", with(|s| s["containers"][0]["resources"] = json!({"limits": {"cpu": "lots"}})), "spec.containers[0].resources.limits[cpu]", "Invalid value: \"lots\": quantities must match"),
            ("probe without a handler", with(|s| s["containers"][0]["livenessProbe"] = json!({"periodSeconds": 5})), "spec.containers[0].livenessProbe", "Required value: must specify a handler type"),
            ("probe with two handlers", with(|s| s["containers"][0]["readinessProbe"] = json!({"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})), "spec.containers[0].readinessProbe", "Forbidden: may not specify more than 1 handler type"),
            ("liveness successThreshold", with(|s| s["containers"][0]["livenessProbe"] = json!({"exec": {"command": ["true"]}, "successThreshold": 2})), "spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1"),
            ("negative probe period", with(|s| s["containers"][0]["startupProbe"] = json!({"exec": {"command": ["true"]}, "periodSeconds": -1})), "spec.containers[0].startupProbe.periodSeconds", "Invalid value: -1: must be greater than or equal to 0"),
            ("probe port out of range", with(|s| s["containers"][0]["livenessProbe"] = json!({"httpGet": {"port": 0}})), "spec.containers[0].livenessProbe.httpGet.port", "Invalid value: 0"),
            ("negative runAsUser", with(|s| s["securityContext"] = json!({"runAsUser": -1})), "spec.securityContext.runAsUser", "Invalid value: -1: must be between 0 and 2147483647, inclusive"),
            ("container runAsGroup too large", with(|s| s["containers"][0]["securityContext"] = json!({"runAsGroup": 4294967296u64})), "spec.containers[0].securityContext.runAsGroup", "Invalid value: 4294967296"),
        ]
    }

    #[test]
    fn invalid_pod_specs_name_upstreams_fields() {
        assert!(causes_of(base()).is_empty());
        let cases = cases();
        assert!(cases.len() >= 55);
        for (what, spec, field, message) in cases {
            let got = causes_of(spec);
            assert!(
                got.iter()
                    .any(|(f, m)| f == field && m.starts_with(message)),
                "{what}: want {field}: {message}...; got {got:?}"
            );
        }
    }

    #[test]
    fn valid_specs_pass() {
        let full = json!({
            "initContainers": [{"name": "init", "image": "x", "restartPolicy": "Always"}],
            "containers": [{
                "name": "web", "image": "nginx", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                "livenessProbe": {"httpGet": {"port": "http"}, "periodSeconds": 10},
            }],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "tolerations": [{"operator": "Exists"}, {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 30}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
        });
        assert_eq!(causes_of(full), Vec::<(String, String)>::new());
    }
}

//! A Service's own rules (upstream's `ValidateService`): type, ports, target ports, node
//! ports, selector, session affinity, traffic policies, external names. ClusterIP
//! allocation and its immutability live with the allocator (`defaults::ipalloc`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::pod_spec_validation::port_name_errors;
use crate::status::Cause;
use crate::validation::{
    dns1123_label_errors, dns1123_subdomain_errors, label_key_errors, label_value_errors,
};

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

fn not_supported(field: &str, value: &str, supported: &[&str]) -> Cause {
    let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!(
            "Unsupported value: \"{value}\": supported values: {}",
            list.join(", ")
        ),
        field: field.into(),
    }
}

fn in_range(v: &Value) -> bool {
    v.as_i64().is_some_and(|p| (1..=65535).contains(&p))
}

pub fn validate(svc: &Value, causes: &mut Vec<Cause>) {
    let spec = &svc["spec"];
    let ty = spec["type"].as_str().unwrap_or("ClusterIP");
    if !TYPES.contains(&ty) {
        causes.push(not_supported("spec.type", ty, TYPES));
    }
    let headless = spec["clusterIP"] == "None";
    let ports = spec["ports"].as_array().cloned().unwrap_or_default();
    if ports.is_empty() && ty != "ExternalName" && !headless {
        causes.push(Cause::required("spec.ports", ""));
    }
    let node_ports_allowed = matches!(ty, "NodePort" | "LoadBalancer");
    let mut names = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        match p["name"].as_str().filter(|n| !n.is_empty()) {
            None if ports.len() > 1 => causes.push(Cause::required(&format!("{at}.name"), "")),
            None => {}
            Some(n) => {
                for e in dns1123_label_errors(n) {
                    causes.push(Cause::invalid(&format!("{at}.name"), n, &e));
                }
                if !names.insert(n.to_string()) {
                    causes.push(Cause {
                        reason: "FieldValueDuplicate".into(),
                        message: format!("Duplicate value: \"{n}\""),
                        field: format!("{at}.name"),
                    });
                }
            }
        }
        if !in_range(&p["port"]) {
            causes.push(Cause::invalid_value(
                &format!("{at}.port"),
                &p["port"],
                PORT_RANGE,
            ));
        }
        let protocol = p["protocol"].as_str().unwrap_or("TCP");
        if !["SCTP", "TCP", "UDP"].contains(&protocol) {
            causes.push(not_supported(
                &format!("{at}.protocol"),
                protocol,
                &["SCTP", "TCP", "UDP"],
            ));
        }
        if !seen.insert((p["port"].as_i64(), protocol.to_string())) {
            causes.push(Cause {
                reason: "FieldValueDuplicate".into(),
                message: format!(
                    "Duplicate value: core.ServicePort{{Name:\"\", Protocol:\"{protocol}\", Port:{}}}",
                    p["port"]
                ),
                field: at.clone(),
            });
        }
        match &p["targetPort"] {
            Value::Null => {}
            Value::String(s) => {
                for e in port_name_errors(s) {
                    causes.push(Cause::invalid(&format!("{at}.targetPort"), s, &e));
                }
            }
            v if !in_range(v) => causes.push(Cause::invalid_value(
                &format!("{at}.targetPort"),
                v,
                PORT_RANGE,
            )),
            _ => {}
        }
        if let Some(np) = p.get("nodePort").filter(|v| !v.is_null() && **v != 0) {
            if !node_ports_allowed {
                causes.push(Cause::forbidden(
                    &format!("{at}.nodePort"),
                    &format!("may not be used when `type` is '{ty}'"),
                ));
            } else if !in_range(np) {
                causes.push(Cause::invalid_value(
                    &format!("{at}.nodePort"),
                    np,
                    PORT_RANGE,
                ));
            }
        }
    }
    for (k, v) in spec["selector"].as_object().into_iter().flatten() {
        for e in label_key_errors(k) {
            causes.push(Cause::invalid("spec.selector", k, &e));
        }
        let v = v.as_str().unwrap_or_default();
        for e in label_value_errors(v) {
            causes.push(Cause::invalid("spec.selector", v, &e));
        }
    }
    if let Some(a) = spec["sessionAffinity"].as_str() {
        if !["ClientIP", "None"].contains(&a) {
            causes.push(not_supported(
                "spec.sessionAffinity",
                a,
                &["ClientIP", "None"],
            ));
        }
    }
    for (key, supported) in [
        ("externalTrafficPolicy", ["Cluster", "Local"]),
        ("internalTrafficPolicy", ["Cluster", "Local"]),
    ] {
        if let Some(v) = spec[key].as_str() {
            if !supported.contains(&v) {
                causes.push(not_supported(&format!("spec.{key}"), v, &supported));
            }
        }
    }
    if !spec["externalTrafficPolicy"].is_null() && !node_ports_allowed {
        causes.push(Cause::invalid(
            "spec.externalTrafficPolicy",
            spec["externalTrafficPolicy"].as_str().unwrap_or_default(),
            "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
        ));
    }
    if ty == "ExternalName" {
        match spec["externalName"].as_str().filter(|n| !n.is_empty()) {
            None => causes.push(Cause::required("spec.externalName", "")),
            Some(n) => {
                let name = n.strip_suffix('.').unwrap_or(n);
                for e in dns1123_subdomain_errors(name) {
                    causes.push(Cause::invalid("spec.externalName", n, &e));
                }
            }
        }
    }
    for (i, ip) in spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let ip = ip.as_str().unwrap_or_default();
        if ip.parse::<std::net::IpAddr>().is_err() {
            causes.push(Cause::invalid_value(
                &format!("spec.externalIPs[{i}]"),
                &json!(ip),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "s"}, "spec": spec})
    }

    fn causes_of(spec: Value) -> Vec<(String, String)> {
        let mut c = Vec::new();
        validate(&svc(spec), &mut c);
        c.into_iter().map(|c| (c.field, c.message)).collect()
    }

    #[test]
    fn invalid_services_name_upstreams_fields() {
        let p = |extra: Value| {
            let mut port = json!({"port": 80});
            for (k, v) in extra.as_object().unwrap() {
                port[k] = v.clone();
            }
            json!({"ports": [port]})
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"type": "Internal", "ports": [{"port": 80}]}), "spec.type", "Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
            (json!({}), "spec.ports", "Required value"),
            (p(json!({"port": 0})), "spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
            (p(json!({"port": 65536})), "spec.ports[0].port", "Invalid value: 65536"),
            (p(json!({"protocol": "HTTP"})), "spec.ports[0].protocol", "Unsupported value: \"HTTP\""),
            (p(json!({"targetPort": 0})), "spec.ports[0].targetPort", "Invalid value: 0"),
            (p(json!({"targetPort": "Web_Port"})), "spec.ports[0].targetPort", "Invalid value: \"Web_Port\""),
            (p(json!({"name": "Web"})), "spec.ports[0].name", "Invalid value: \"Web\""),
            (p(json!({"nodePort": 30080})), "spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'"),
            (json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 70000}]}), "spec.ports[0].nodePort", "Invalid value: 70000"),
            (json!({"ports": [{"port": 80}, {"port": 81}]}), "spec.ports[0].name", "Required value"),
            (json!({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}), "spec.ports[1].name", "Duplicate value: \"a\""),
            (json!({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]}), "spec.ports[1]", "Duplicate value: core.ServicePort"),
            (json!({"ports": [{"port": 80}], "selector": {"bad key": "v"}}), "spec.selector", "Invalid value: \"bad key\""),
            (json!({"ports": [{"port": 80}], "sessionAffinity": "Sticky"}), "spec.sessionAffinity", "Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""),
            (json!({"ports": [{"port": 80}], "externalTrafficPolicy": "Local"}), "spec.externalTrafficPolicy", "Invalid value: \"Local\": may only be set when `type` is 'NodePort' or 'LoadBalancer'"),
            (json!({"type": "NodePort", "ports": [{"port": 80}], "externalTrafficPolicy": "Nearest"}), "spec.externalTrafficPolicy", "Unsupported value: \"Nearest\""),
            (json!({"ports": [{"port": 80}], "internalTrafficPolicy": "Node"}), "spec.internalTrafficPolicy", "Unsupported value: \"Node\""),
            (json!({"type": "ExternalName"}), "spec.externalName", "Required value"),
            (json!({"type": "ExternalName", "externalName": "not a host"}), "spec.externalName", "Invalid value: \"not a host\""),
            (json!({"ports": [{"port": 80}], "externalIPs": ["1.2.3"]}), "spec.externalIPs[0]", "Invalid value: \"1.2.3\": must be a valid IP address"),
        ];
        for (spec, field, message) in cases {
            let got = causes_of(spec.clone());
            assert!(
                got.iter()
                    .any(|(f, m)| f == field && m.starts_with(message)),
                "{spec}: want {field}: {message}...; got {got:?}"
            );
        }
    }

    #[test]
    fn valid_services_pass() {
        for spec in [
            json!({"ports": [{"port": 80, "targetPort": "http"}], "selector": {"app": "web"}}),
            json!({"clusterIP": "None"}),
            json!({"type": "ExternalName", "externalName": "example.com."}),
            json!({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 80, "protocol": "UDP"}],
                   "externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP"}),
        ] {
            assert_eq!(
                causes_of(spec.clone()),
                Vec::<(String, String)>::new(),
                "{spec}"
            );
        }
    }
}

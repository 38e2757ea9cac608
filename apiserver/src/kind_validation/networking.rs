//! `networking.k8s.io/v1` (upstream's pkg/apis/networking/validation): Ingress rules,
//! paths and backends, IngressClass controllers and parameters, NetworkPolicy ports,
//! peers and policy types.

use serde_json::Value;

use super::causes::{
    child, immutable, items, non_empty, not_supported, parse_cidr, parse_ip, CIDR_INVALID,
    PORT_RANGE,
};
use crate::pod_spec_validation::port_name_errors;
use crate::status::Cause;
use crate::validation::{dns1123_subdomain_errors, label_key_errors, path_segment_errors};

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "Ingress" => ingress_spec(&obj["spec"], causes),
        "IngressClass" => ingress_class_spec(&obj["spec"], causes),
        "NetworkPolicy" => network_policy_spec(&obj["spec"], causes),
        _ => {}
    }
}

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if kind == "IngressClass" {
        immutable(
            "spec.controller",
            &old["spec"]["controller"],
            &new["spec"]["controller"],
            causes,
        );
    }
}

pub(super) const WILDCARD_MSG: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn ingress_spec(spec: &Value, causes: &mut Vec<Cause>) {
    let rules = spec["rules"].as_array().map_or(0, Vec::len);
    if rules == 0 && spec["defaultBackend"].is_null() {
        // Upstream prints the (nil) rules slice with %#v.
        causes.push(super::causes::invalid_shown(
            "spec",
            "[]networking.IngressRule(nil)",
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if spec["defaultBackend"].is_object() {
        backend(&spec["defaultBackend"], "spec.defaultBackend", causes);
    }
    for (i, rule) in items(spec, "rules") {
        let at = format!("spec.rules[{i}]");
        if let Some(host) = non_empty(rule, "host") {
            if parse_ip(host).is_some() {
                causes.push(Cause::invalid(
                    &format!("{at}.host"),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            if host.contains('*') {
                let rest = host.strip_prefix("*.");
                if rest.is_none_or(|r| !dns1123_subdomain_errors(r).is_empty()) {
                    causes.push(Cause::invalid(&format!("{at}.host"), host, WILDCARD_MSG));
                }
            } else {
                for e in dns1123_subdomain_errors(host) {
                    causes.push(Cause::invalid(&format!("{at}.host"), host, &e));
                }
            }
        }
        let http = &rule["http"];
        if http.is_object() {
            let hat = format!("{at}.http");
            if http["paths"].as_array().is_none_or(Vec::is_empty) {
                causes.push(Cause::required(&format!("{hat}.paths"), ""));
            }
            for (j, path) in items(http, "paths") {
                http_path(path, &format!("{hat}.paths[{j}]"), causes);
            }
        }
    }
    for (i, tls) in items(spec, "tls") {
        for (j, host) in items(tls, "hosts") {
            let h = host.as_str().unwrap_or_default();
            let ok = match h.strip_prefix("*.") {
                Some(rest) => dns1123_subdomain_errors(rest).is_empty(),
                None => dns1123_subdomain_errors(h).is_empty(),
            };
            if !ok {
                let at = format!("spec.tls[{i}].hosts[{j}]");
                match h.contains('*') {
                    true => causes.push(Cause::invalid(&at, h, WILDCARD_MSG)),
                    false => {
                        for e in dns1123_subdomain_errors(h) {
                            causes.push(Cause::invalid(&at, h, &e));
                        }
                    }
                }
            }
        }
    }
    if let Some(class) = spec["ingressClassName"].as_str() {
        for e in dns1123_subdomain_errors(class) {
            causes.push(Cause::invalid("spec.ingressClassName", class, &e));
        }
    }
}

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

fn http_path(p: &Value, at: &str, causes: &mut Vec<Cause>) {
    let Some(path_type) = p.get("pathType").filter(|v| !v.is_null()) else {
        causes.push(Cause::required(
            &format!("{at}.pathType"),
            "pathType must be specified",
        ));
        return;
    };
    let path = p["path"].as_str().unwrap_or_default();
    let field = format!("{at}.path");
    match path_type.as_str().unwrap_or_default() {
        "Exact" | "Prefix" => {
            if !path.starts_with('/') {
                causes.push(Cause::invalid(&field, path, "must be an absolute path"));
            }
            if !path.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if path.contains(seq) {
                        causes.push(Cause::invalid(
                            &field,
                            path,
                            &format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if path.ends_with(suffix) {
                        causes.push(Cause::invalid(
                            &field,
                            path,
                            &format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !path.is_empty() && !path.starts_with('/') {
                causes.push(Cause::invalid(&field, path, "must be an absolute path"));
            }
        }
        _ => causes.push(not_supported(
            &format!("{at}.pathType"),
            path_type,
            PATH_TYPES,
        )),
    }
    backend(&p["backend"], &format!("{at}.backend"), causes);
}

fn backend(b: &Value, at: &str, causes: &mut Vec<Cause>) {
    let resource = b["resource"].is_object();
    let service = &b["service"];
    match (resource, service.is_object()) {
        (true, true) => causes.push(Cause::invalid(
            at,
            "",
            "cannot set both resource and service backends",
        )),
        (true, false) => {
            let r = &b["resource"];
            let rat = format!("{at}.resource");
            for key in ["kind", "name"] {
                match non_empty(r, key) {
                    None => causes.push(Cause::required(&format!("{rat}.{key}"), "")),
                    Some(v) => {
                        for e in path_segment_errors(v) {
                            causes.push(Cause::invalid(&format!("{rat}.{key}"), v, &e));
                        }
                    }
                }
            }
            if let Some(g) = non_empty(r, "apiGroup") {
                for e in dns1123_subdomain_errors(g) {
                    causes.push(Cause::invalid(&format!("{rat}.apiGroup"), g, &e));
                }
            }
        }
        (false, true) => {
            match non_empty(service, "name") {
                None => causes.push(Cause::required(&format!("{at}.service.name"), "")),
                Some(n) => {
                    for e in crate::validation::dns1035_label_errors(n) {
                        causes.push(Cause::invalid(&format!("{at}.service.name"), n, &e));
                    }
                }
            }
            let port = &service["port"];
            let name = non_empty(port, "name");
            let number = port["number"].as_i64().filter(|n| *n != 0);
            match (name, number) {
                (Some(_), Some(_)) => causes.push(Cause::invalid(
                    at,
                    "",
                    "cannot set both port name & port number",
                )),
                (Some(n), None) => {
                    for e in port_name_errors(n) {
                        causes.push(Cause::invalid(&format!("{at}.service.port.name"), n, &e));
                    }
                }
                (None, Some(n)) => {
                    if !(1..=65535).contains(&n) {
                        causes.push(Cause::invalid_value(
                            &format!("{at}.service.port.number"),
                            &Value::from(n),
                            PORT_RANGE,
                        ));
                    }
                }
                (None, None) => causes.push(Cause::required(at, "port name or number is required")),
            }
        }
        (false, false) => causes.push(Cause::invalid(
            at,
            "",
            "resource or service backend is required",
        )),
    }
}

/// Upstream's `IsDomainPrefixedPath` (`example.com/controller`).
fn domain_prefixed_path(v: &str, at: &str, causes: &mut Vec<Cause>) {
    if v.is_empty() {
        causes.push(Cause::required(at, ""));
        return;
    }
    let Some((host, path)) = v
        .split_once('/')
        .filter(|(h, p)| !h.is_empty() && !p.is_empty())
    else {
        causes.push(Cause::invalid(
            at,
            v,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        ));
        return;
    };
    for e in dns1123_subdomain_errors(host) {
        causes.push(Cause::invalid(at, host, &e));
    }
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&b));
    if !path_ok {
        causes.push(Cause::invalid(
            at,
            path,
            "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
        ));
    }
}

fn ingress_class_spec(spec: &Value, causes: &mut Vec<Cause>) {
    let controller = spec["controller"].as_str().unwrap_or_default();
    if controller.len() > 250 {
        causes.push(super::causes::too_long("spec.controller", 250));
    }
    domain_prefixed_path(controller, "spec.controller", causes);
    let params = &spec["parameters"];
    if !params.is_object() {
        return;
    }
    let at = "spec.parameters";
    for key in ["kind", "name"] {
        match non_empty(params, key) {
            None => causes.push(Cause::required(&child(at, key), "")),
            Some(v) => {
                for e in path_segment_errors(v) {
                    causes.push(Cause::invalid(&child(at, key), v, &e));
                }
            }
        }
    }
    match params["scope"].as_str() {
        Some("Cluster") | None => {
            if !params["namespace"].is_null() {
                causes.push(Cause::forbidden(
                    &child(at, "namespace"),
                    "`parameters.scope` is set to 'Cluster'",
                ));
            }
        }
        Some("Namespace") => {
            if non_empty(params, "namespace").is_none() {
                causes.push(Cause::required(
                    &child(at, "namespace"),
                    "`parameters.scope` is set to 'Namespace'",
                ));
            }
        }
        Some(_) => causes.push(not_supported(
            &child(at, "scope"),
            &params["scope"],
            &["Cluster", "Namespace"],
        )),
    }
}

fn network_policy_spec(spec: &Value, causes: &mut Vec<Cause>) {
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in items(spec, dir) {
            let at = format!("spec.{dir}[{i}]");
            for (j, port) in items(rule, "ports") {
                policy_port(port, &format!("{at}.ports[{j}]"), causes);
            }
            for (j, peer) in items(rule, peers) {
                policy_peer(peer, &format!("{at}.{peers}[{j}]"), causes);
            }
        }
    }
    let types = spec["policyTypes"].as_array().cloned().unwrap_or_default();
    if types.len() > 2 {
        causes.push(super::causes::invalid_shown(
            "spec.policyTypes",
            &super::causes::shown(&spec["policyTypes"]),
            "may not specify more than two policyTypes",
        ));
        return;
    }
    for (i, t) in types.iter().enumerate() {
        if !matches!(t.as_str(), Some("Ingress" | "Egress")) {
            causes.push(not_supported(
                &format!("spec.policyTypes[{i}]"),
                t,
                &["Ingress", "Egress"],
            ));
        }
    }
}

fn policy_port(port: &Value, at: &str, causes: &mut Vec<Cause>) {
    if let Some(p) = port.get("protocol").filter(|v| !v.is_null()) {
        if !matches!(p.as_str(), Some("TCP" | "UDP" | "SCTP")) {
            causes.push(not_supported(
                &format!("{at}.protocol"),
                p,
                &["TCP", "UDP", "SCTP"],
            ));
        }
    }
    let end = port.get("endPort").filter(|v| !v.is_null());
    match &port["port"] {
        Value::Null => {
            if let Some(e) = end {
                causes.push(Cause::invalid_value(
                    &format!("{at}.endPort"),
                    e,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
        Value::Number(n) => {
            let p = n.as_i64().unwrap_or(0);
            if !(1..=65535).contains(&p) {
                causes.push(Cause::invalid_value(
                    &format!("{at}.port"),
                    &Value::from(p),
                    PORT_RANGE,
                ));
            }
            if let Some(e) = end {
                let e_num = e.as_i64().unwrap_or(0);
                if e_num < p {
                    causes.push(Cause::invalid_value(
                        &format!("{at}.endPort"),
                        &Value::from(p),
                        "must be greater than or equal to `port`",
                    ));
                }
                if !(1..=65535).contains(&e_num) {
                    causes.push(Cause::invalid_value(
                        &format!("{at}.endPort"),
                        e,
                        PORT_RANGE,
                    ));
                }
            }
        }
        other => {
            let name = other.as_str().unwrap_or_default();
            if let Some(e) = end {
                causes.push(Cause::invalid_value(
                    &format!("{at}.endPort"),
                    e,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for e in port_name_errors(name) {
                causes.push(Cause::invalid(&format!("{at}.port"), name, &e));
            }
        }
    }
}

fn policy_peer(peer: &Value, at: &str, causes: &mut Vec<Cause>) {
    let present = ["podSelector", "namespaceSelector", "ipBlock"]
        .iter()
        .filter(|k| peer[**k].is_object())
        .count();
    if peer["ipBlock"].is_object() {
        ip_block(&peer["ipBlock"], &format!("{at}.ipBlock"), causes);
    }
    if present == 0 {
        causes.push(Cause::required(at, "must specify a peer"));
    } else if present > 1 && peer["ipBlock"].is_object() {
        causes.push(Cause::forbidden(
            at,
            "may not specify both ipBlock and another peer",
        ));
    }
    for key in ["podSelector", "namespaceSelector"] {
        for (k, _) in peer[key]["matchLabels"].as_object().into_iter().flatten() {
            for e in label_key_errors(k) {
                causes.push(Cause::invalid(&format!("{at}.{key}.matchLabels"), k, &e));
            }
        }
    }
}

fn ip_block(block: &Value, at: &str, causes: &mut Vec<Cause>) {
    let Some(cidr) = non_empty(block, "cidr") else {
        causes.push(Cause::required(&format!("{at}.cidr"), ""));
        return;
    };
    let Some((net, len)) = parse_cidr(cidr) else {
        causes.push(Cause::invalid(&format!("{at}.cidr"), cidr, CIDR_INVALID));
        return;
    };
    for (i, ex) in items(block, "except") {
        let ex_s = ex.as_str().unwrap_or_default();
        let ex_at = format!("{at}.except[{i}]");
        let Some((ex_ip, ex_len)) = parse_cidr(ex_s) else {
            causes.push(Cause::invalid(&ex_at, ex_s, CIDR_INVALID));
            continue;
        };
        if !contains(net, len, ex_ip) || len >= ex_len {
            causes.push(Cause::invalid(
                &ex_at,
                ex_s,
                "must be a strict subset of `cidr`",
            ));
        }
    }
}

/// Whether `ip` lies in `net/len` (different families never do).
fn contains(net: std::net::IpAddr, len: u8, ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr::{V4, V6};
    let (a, b, bits) = match (net, ip) {
        (V4(a), V4(b)) => (
            u128::from(u32::from(a)) << 96,
            u128::from(u32::from(b)) << 96,
            len,
        ),
        (V6(a), V6(b)) => (u128::from(a), u128::from(b), len),
        _ => return false,
    };
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits))
    };
    a & mask == b & mask
}

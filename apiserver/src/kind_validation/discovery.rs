//! `discovery.k8s.io/v1` EndpointSlice (upstream's pkg/apis/discovery/validation):
//! address type, addresses of that type, ports; the address type is fixed.

use serde_json::Value;

use super::causes::{duplicate, immutable, items, not_supported, parse_ip, IP_INVALID};
use crate::status::Cause;
use crate::validation::{dns1123_label_errors, dns1123_subdomain_errors, label_key_errors};

/// Sorted, as upstream lists them.
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const MAX_ADDRESSES: usize = 100;

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    if kind != "EndpointSlice" {
        return;
    }
    let address_type = obj["addressType"].as_str().unwrap_or_default();
    match address_type {
        "" => causes.push(Cause::required("addressType", "")),
        t if ADDRESS_TYPES.contains(&t) => {}
        _ => causes.push(not_supported(
            "addressType",
            &obj["addressType"],
            ADDRESS_TYPES,
        )),
    }
    for (i, ep) in items(obj, "endpoints") {
        let at = format!("endpoints[{i}].addresses");
        let addresses = ep["addresses"].as_array().cloned().unwrap_or_default();
        if addresses.is_empty() {
            causes.push(Cause::required(&at, "must contain at least 1 address"));
        } else if addresses.len() > MAX_ADDRESSES {
            causes.push(Cause {
                reason: "FieldValueTooMany".into(),
                message: format!(
                    "Too many: {}: must have at most {MAX_ADDRESSES} items",
                    addresses.len()
                ),
                field: at.clone(),
            });
        }
        for (j, a) in addresses.iter().enumerate() {
            address(
                address_type,
                a.as_str().unwrap_or_default(),
                &format!("{at}[{j}]"),
                causes,
            );
        }
        if let Some(h) = ep["hostname"].as_str() {
            for e in dns1123_label_errors(h) {
                causes.push(Cause::invalid(&format!("endpoints[{i}].hostname"), h, &e));
            }
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, p) in items(obj, "ports") {
        let at = format!("ports[{i}]");
        let name = p["name"].as_str().unwrap_or_default();
        if !name.is_empty() {
            for e in dns1123_label_errors(name) {
                causes.push(Cause::invalid(&format!("{at}.name"), name, &e));
            }
        }
        if !names.insert(name.to_string()) {
            causes.push(duplicate(&format!("{at}.name"), &Value::from(name)));
        }
        match p.get("protocol").filter(|v| !v.is_null()) {
            None => causes.push(Cause::required(&format!("{at}.protocol"), "")),
            Some(proto) => {
                if !proto.as_str().is_some_and(|s| PROTOCOLS.contains(&s)) {
                    causes.push(not_supported(&format!("{at}.protocol"), proto, PROTOCOLS));
                }
            }
        }
        if let Some(app) = p["appProtocol"].as_str() {
            for e in label_key_errors(app) {
                causes.push(Cause::invalid(&format!("{at}.appProtocol"), app, &e));
            }
        }
    }
}

/// An address of the slice's type; unknown types are not checked (as upstream).
fn address(ty: &str, a: &str, at: &str, causes: &mut Vec<Cause>) {
    match ty {
        "IPv4" | "IPv6" => match parse_ip(a) {
            None => causes.push(Cause::invalid(at, a, IP_INVALID)),
            Some(ip) => {
                if ty == "IPv4" && !ip.is_ipv4() {
                    causes.push(Cause::invalid(at, a, "must be an IPv4 address"));
                }
                if ty == "IPv6" && !ip.is_ipv6() {
                    causes.push(Cause::invalid(at, a, "must be an IPv6 address"));
                }
            }
        },
        "FQDN" => {
            let name = a.strip_suffix('.').unwrap_or(a);
            for e in dns1123_subdomain_errors(&name.to_lowercase()) {
                causes.push(Cause::invalid(at, a, &e));
            }
            if !name.contains('.') {
                causes.push(Cause::invalid(
                    at,
                    a,
                    "should be a domain with at least two segments separated by dots",
                ));
            }
        }
        _ => {}
    }
}

pub fn validate_update(kind: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if kind == "EndpointSlice" {
        immutable(
            "addressType",
            &old["addressType"],
            &new["addressType"],
            causes,
        );
    }
}

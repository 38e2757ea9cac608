//! networking.k8s.io and discovery.k8s.io kinds.

use serde_json::{json, Value};

use super::core::load_balancer_addresses;
use super::docs as d;
use super::{
    age, arr_at, col, format_label_selector, int_opt, list_with_more, name, str_at, Column, Now,
    Printer, AGE, NAME,
};

pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("networking.k8s.io", "Ingress", INGRESS_COLUMNS, ingress),
    Printer::new(
        "networking.k8s.io",
        "IngressClass",
        INGRESS_CLASS_COLUMNS,
        ingress_class,
    ),
    Printer::new(
        "networking.k8s.io",
        "NetworkPolicy",
        NETWORK_POLICY_COLUMNS,
        network_policy,
    ),
    Printer::new(
        "discovery.k8s.io",
        "EndpointSlice",
        ENDPOINT_SLICE_COLUMNS,
        endpoint_slice,
    ),
    Printer::new(
        "networking.k8s.io",
        "ServiceCIDR",
        SERVICE_CIDR_COLUMNS,
        service_cidr,
    ),
    Printer::new(
        "networking.k8s.io",
        "IPAddress",
        IP_ADDRESS_COLUMNS,
        ip_address,
    ),
];

const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

/// `formatHosts`: the first three rule hosts, `*` when no rule names one.
fn hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".into();
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", rules.len() - MAX)
    } else {
        ret
    }
}

fn ingress(obj: &Value, now: Now) -> Vec<Value> {
    let spec = &obj["spec"];
    let ports = if arr_at(spec, &["tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(obj),
        json!(spec["ingressClassName"].as_str().unwrap_or("<none>")),
        json!(hosts(arr_at(spec, &["rules"]))),
        json!(load_balancer_addresses(arr_at(
            obj,
            &["status", "loadBalancer", "ingress"]
        ))),
        json!(ports),
        age(obj, now),
    ]
}

const INGRESS_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        "Controller that is responsible for handling this class",
    ),
    col(
        "Parameters",
        "string",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

fn ingress_class(obj: &Value, now: Now) -> Vec<Value> {
    let params = &obj["spec"]["parameters"];
    let parameters = if params.is_object() {
        let kind = match params["apiGroup"].as_str() {
            Some(group) => format!("{}.{group}", str_at(params, &["kind"])),
            None => str_at(params, &["kind"]).to_string(),
        };
        format!("{kind}/{}", str_at(params, &["name"]))
    } else {
        "<none>".into()
    };
    vec![
        name(obj),
        json!(str_at(obj, &["spec", "controller"])),
        json!(parameters),
        age(obj, now),
    ]
}

const NETWORK_POLICY_COLUMNS: &[Column] = &[
    NAME,
    col("Pod-Selector", "string", d::NETPOL_SPEC_POD_SELECTOR),
    AGE,
];

fn network_policy(obj: &Value, now: Now) -> Vec<Value> {
    vec![
        name(obj),
        json!(format_label_selector(&obj["spec"]["podSelector"])),
        age(obj, now),
    ]
}

const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col("AddressType", "string", d::EPS_ADDRESS_TYPE),
    col("Ports", "string", d::EPS_PORTS),
    col("Endpoints", "string", d::EPS_ENDPOINTS),
    AGE,
];

fn endpoint_slice(obj: &Value, now: Now) -> Vec<Value> {
    const MAX: usize = 3;
    let ports_all = arr_at(obj, &["ports"]);
    let ports: Vec<String> = ports_all
        .iter()
        .take(MAX)
        .map(|p| match (int_opt(&p["port"]), p["name"].as_str()) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".into(),
        })
        .collect();
    let addresses: Vec<&str> = arr_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or_default())
        .collect();
    let shown: Vec<String> = addresses.iter().take(MAX).map(|a| a.to_string()).collect();
    vec![
        name(obj),
        json!(str_at(obj, &["addressType"])),
        json!(list_with_more(&ports, ports_all.len(), MAX)),
        json!(list_with_more(&shown, addresses.len(), MAX)),
        age(obj, now),
    ]
}

const SERVICE_CIDR_COLUMNS: &[Column] = &[NAME, col("CIDRs", "string", d::SCIDR_SPEC_CIDRS), AGE];

fn service_cidr(obj: &Value, now: Now) -> Vec<Value> {
    let cidrs: Vec<&str> = arr_at(obj, &["spec", "cidrs"])
        .iter()
        .map(|c| c.as_str().unwrap_or_default())
        .collect();
    vec![name(obj), json!(cidrs.join(",")), age(obj, now)]
}

const IP_ADDRESS_COLUMNS: &[Column] = &[NAME, col("ParentRef", "string", d::IPADDR_SPEC_PARENT)];

/// The parent as `resource.group[/namespace]/name`. Upstream also sends the age cell,
/// although it defines no column for it.
fn ip_address(obj: &Value, now: Now) -> Vec<Value> {
    let parent = &obj["spec"]["parentRef"];
    let parent_ref = if parent.is_object() {
        let resource = str_at(parent, &["resource"]);
        let mut s = match str_at(parent, &["group"]) {
            "" => resource.to_lowercase(),
            group => format!("{resource}.{group}").to_lowercase(),
        };
        if let Some(ns) = parent["namespace"].as_str().filter(|ns| !ns.is_empty()) {
            s = format!("{s}/{ns}");
        }
        format!("{s}/{}", str_at(parent, &["name"]))
    } else {
        "<none>".into()
    };
    vec![name(obj), json!(parent_ref), age(obj, now)]
}

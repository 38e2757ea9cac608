//! Discovery documents, legacy (`APIResourceList` per group-version) and aggregated
//! (`apidiscovery.k8s.io/v2`), all read from the same resource descriptions.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::resource::ResourceInfo;

/// Resources grouped as group -> version -> resources, groups in first-seen order.
pub struct Groups<'a> {
    pub order: Vec<String>,
    pub by_group: BTreeMap<String, BTreeMap<String, Vec<&'a ResourceInfo>>>,
}

pub fn groups<'a>(resources: &[&'a ResourceInfo]) -> Groups<'a> {
    let mut order: Vec<String> = Vec::new();
    let mut by_group: BTreeMap<String, BTreeMap<String, Vec<&'a ResourceInfo>>> = BTreeMap::new();
    for r in resources {
        if !order.contains(&r.group) {
            order.push(r.group.clone());
        }
        by_group
            .entry(r.group.clone())
            .or_default()
            .entry(r.version.clone())
            .or_default()
            .push(r);
    }
    Groups { order, by_group }
}

/// Versions sorted by Kubernetes' priority: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let rest = v.trim_start_matches('v');
    let (major, tail) = rest.split_at(
        rest.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len()),
    );
    let major = major.parse().unwrap_or(0);
    let (stability, minor) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (0, n.parse().unwrap_or(0))
    } else {
        (2, 0)
    };
    (stability, major, minor)
}

fn sorted_versions(versions: &BTreeMap<String, Vec<&ResourceInfo>>) -> Vec<String> {
    let mut vs: Vec<String> = versions.keys().cloned().collect();
    vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    vs
}

fn gv(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn api_group(name: &str, versions: &BTreeMap<String, Vec<&ResourceInfo>>) -> Value {
    let vs = sorted_versions(versions);
    let entries: Vec<Value> = vs
        .iter()
        .map(|v| json!({"groupVersion": gv(name, v), "version": v}))
        .collect();
    json!({
        "name": name,
        "versions": entries,
        "preferredVersion": entries.first().cloned().unwrap_or(Value::Null),
    })
}

pub fn group_list(g: &Groups<'_>) -> Value {
    let groups: Vec<Value> = g
        .order
        .iter()
        .filter(|name| !name.is_empty())
        .filter_map(|name| g.by_group.get(name).map(|vs| api_group(name, vs)))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(g: &Groups<'_>, name: &str) -> Option<Value> {
    let vs = g.by_group.get(name).filter(|_| !name.is_empty())?;
    let mut v = api_group(name, vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// A subresource: name, verbs, and the (group, version, kind) it answers with when that is
/// not the parent's.
type Subresource = (
    &'static str,
    Vec<&'static str>,
    Option<(&'static str, &'static str, &'static str)>,
);

fn subresources(r: &ResourceInfo) -> Vec<Subresource> {
    let mut subs = Vec::new();
    if r.status_subresource {
        subs.push(("status", vec!["get", "patch", "update"], None));
    }
    if r.group.is_empty() && r.kind == "Namespace" {
        subs.push(("finalize", vec!["update"], None));
    }
    if r.group.is_empty() && r.kind == "Pod" {
        subs.push(("binding", vec!["create"], Some(("", "v1", "Binding"))));
        subs.push(("ephemeralcontainers", vec!["get", "patch", "update"], None));
        subs.push((
            "eviction",
            vec!["create"],
            Some(("policy", "v1", "Eviction")),
        ));
    }
    if r.group.is_empty() && r.kind == "ServiceAccount" {
        subs.push((
            "token",
            vec!["create"],
            Some(("authentication.k8s.io", "v1", "TokenRequest")),
        ));
    }
    if r.group == "certificates.k8s.io" && r.kind == "CertificateSigningRequest" {
        subs.push(("approval", vec!["get", "patch", "update"], None));
    }
    if r.scale_subresource {
        subs.push((
            "scale",
            vec!["get", "patch", "update"],
            Some(("autoscaling", "v1", "Scale")),
        ));
    }
    subs
}

pub fn resource_list(g: &Groups<'_>, group: &str, version: &str) -> Option<Value> {
    let rs = g.by_group.get(group)?.get(version)?;
    let mut resources = Vec::new();
    for r in rs {
        let mut e = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        resources.push(e);
        for (sub, verbs, other_kind) in subresources(r) {
            let mut e = json!({
                "name": format!("{}/{sub}", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": verbs,
            });
            if let Some((g, v, k)) = other_kind {
                e["group"] = json!(g);
                e["version"] = json!(v);
                e["kind"] = json!(k);
            }
            resources.push(e);
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv(group, version),
        "resources": resources,
    }))
}

/// Which aggregated discovery version the client accepts, if any.
pub fn aggregated_version(accept: Option<&str>) -> Option<&'static str> {
    let accept = accept?;
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        let has = |p: &str| params.contains(&p);
        if has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList") {
            if has("v=v2") {
                return Some("v2");
            }
            if has("v=v2beta1") {
                return Some("v2beta1");
            }
        }
    }
    None
}

/// `APIGroupDiscoveryList` for `/api` (legacy = true) or `/apis`.
pub fn aggregated(g: &Groups<'_>, legacy: bool, version: &str) -> Value {
    let mut items = Vec::new();
    for name in &g.order {
        if name.is_empty() != legacy {
            continue;
        }
        let Some(vs) = g.by_group.get(name) else {
            continue;
        };
        let versions: Vec<Value> = sorted_versions(vs)
            .iter()
            .map(|v| {
                let resources: Vec<Value> = vs[v]
                    .iter()
                    .map(|r| {
                        let kind = json!({"group": r.group, "version": r.version, "kind": r.kind});
                        let mut e = json!({
                            "resource": r.plural,
                            "responseKind": kind,
                            "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": r.singular,
                            "verbs": r.verbs,
                        });
                        if !r.short_names.is_empty() {
                            e["shortNames"] = json!(r.short_names);
                        }
                        if !r.categories.is_empty() {
                            e["categories"] = json!(r.categories);
                        }
                        let subs: Vec<Value> = subresources(r)
                            .into_iter()
                            .map(|(s, verbs, other_kind)| {
                                let kind = other_kind.map_or(
                                    kind.clone(),
                                    |(g, v, k)| json!({"group": g, "version": v, "kind": k}),
                                );
                                json!({"subresource": s, "responseKind": kind, "verbs": verbs})
                            })
                            .collect();
                        if !subs.is_empty() {
                            e["subresources"] = json!(subs);
                        }
                        e
                    })
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        let metadata = if legacy {
            json!({"creationTimestamp": null})
        } else {
            json!({"name": name, "creationTimestamp": null})
        };
        items.push(json!({"metadata": metadata, "versions": versions}));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order() {
        let mut v = vec!["v1beta1", "v2", "v1", "v1alpha1", "v2beta2"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, vec!["v2", "v1", "v2beta2", "v1beta1", "v1alpha1"]);
    }

    #[test]
    fn aggregated_accept() {
        assert_eq!(
            aggregated_version(Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")),
            Some("v2")
        );
        assert_eq!(aggregated_version(Some("application/json")), None);
    }
}

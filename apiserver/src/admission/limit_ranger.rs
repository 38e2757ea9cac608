//! LimitRanger: the namespace's LimitRanges default container requests and limits
//! (recording what was set in the `kubernetes.io/limit-ranger` annotation) and bound what
//! containers, pods and claims may ask for (plugin/pkg/admission/limitranger), with
//! upstream's 403 messages.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::handler::Api;
use crate::printers::quantity;
use crate::status::ApiResult;

const LIMIT_RANGES: (&str, &str, &str) = ("", "v1", "limitranges");
const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// Resource name -> quantity as written.
type List = BTreeMap<String, String>;

/// `kind` is "Pod" or "PersistentVolumeClaim"; other kinds are untouched.
pub async fn admit(api: &Api, ns: &str, kind: &str, obj: &mut Value) -> ApiResult<()> {
    if ns.is_empty() || !matches!(kind, "Pod" | "PersistentVolumeClaim") {
        return Ok(());
    }
    let ranges = limit_ranges(api, ns).await?;
    let (plural, errors) = if kind == "Pod" {
        ("pods", admit_pod(&ranges, obj))
    } else {
        (
            "persistentvolumeclaims",
            validate_claim(&ranges, &obj["spec"]["resources"]["requests"]),
        )
    };
    match errors.len() {
        0 => Ok(()),
        // Upstream's aggregate error: one message bare, several in brackets.
        1 => Err(super::forbidden(plural, obj, &errors[0])),
        _ => Err(super::forbidden(
            plural,
            obj,
            &format!("[{}]", errors.join(", ")),
        )),
    }
}

async fn limit_ranges(api: &Api, ns: &str) -> ApiResult<Vec<Value>> {
    if api
        .rest(LIMIT_RANGES.0, LIMIT_RANGES.1, LIMIT_RANGES.2)
        .is_none()
    {
        return Ok(Vec::new());
    }
    let mut ranges = super::list(api, LIMIT_RANGES, Some(ns)).await?;
    ranges.sort_by(|a, b| {
        a["metadata"]["name"]
            .as_str()
            .cmp(&b["metadata"]["name"].as_str())
    });
    Ok(ranges)
}

fn list(v: &Value) -> List {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, q)| Some((k.clone(), quantity_text(q)?)))
        .collect()
}

fn quantity_text(q: &Value) -> Option<String> {
    match q {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `Quantity.String()`: the canonical form.
fn shown(q: &str) -> String {
    quantity::canonical(q).unwrap_or_else(|| q.to_string())
}

fn value(q: &str) -> i128 {
    quantity::nanos(q).map_or(0, |(n, _)| n)
}

fn items<'a>(ranges: &'a [Value], ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    ranges
        .iter()
        .flat_map(|r| r["spec"]["limits"].as_array().into_iter().flatten())
        .filter(move |i| i["type"] == ty)
}

fn admit_pod(ranges: &[Value], pod: &mut Value) -> Vec<String> {
    if ranges.is_empty() || !pod["spec"].is_object() {
        return Vec::new();
    }
    default_pod(ranges, pod);
    validate_pod(ranges, &pod["spec"])
}

/// Upstream `defaultContainerResourceRequirements` + `mergePodResourceRequirements`.
fn default_pod(ranges: &[Value], pod: &mut Value) {
    let mut requests = List::new();
    let mut limits = List::new();
    for item in items(ranges, "Container") {
        // The LimitRange's own defaulting (default from max, defaultRequest from default or min).
        let mut default = list(&item["max"]);
        default.extend(list(&item["default"]));
        let mut default_request = list(&item["min"]);
        default_request.extend(default.clone());
        default_request.extend(list(&item["defaultRequest"]));
        requests.extend(default_request);
        limits.extend(default);
    }
    let mut notes = Vec::new();
    for (key, prefix) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let Some(cs) = pod["spec"][key].as_array_mut() else {
            continue;
        };
        for c in cs {
            notes.extend(merge_container(c, &requests, &limits, prefix));
        }
    }
    if notes.is_empty() {
        return;
    }
    let meta = &mut pod["metadata"];
    if !meta["annotations"].is_object() {
        meta["annotations"] = Value::Object(Map::new());
    }
    meta["annotations"][ANNOTATION] =
        Value::String(format!("LimitRanger plugin set: {}", notes.join("; ")));
}

fn merge_container(c: &mut Value, requests: &List, limits: &List, prefix: &str) -> Vec<String> {
    let name = c["name"].as_str().unwrap_or_default().to_string();
    if !c["resources"].is_object() {
        c["resources"] = Value::Object(Map::new());
    }
    let resources = &mut c["resources"];
    for k in ["limits", "requests"] {
        if !resources[k].is_object() {
            resources[k] = Value::Object(Map::new());
        }
    }
    // API defaulting runs before admission upstream: requests default to the limits.
    let given_limits = resources["limits"].clone();
    if let (Some(l), Some(r)) = (
        given_limits.as_object(),
        resources["requests"].as_object_mut(),
    ) {
        for (k, v) in l {
            r.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut set = |field: &str, defaults: &List| {
        let mut names = Vec::new();
        if let Some(m) = resources[field].as_object_mut() {
            for (k, v) in defaults {
                if !m.contains_key(k) {
                    m.insert(k.clone(), Value::String(v.clone()));
                    names.push(k.clone());
                }
            }
        }
        names
    };
    let set_limits = set("limits", limits);
    let set_requests = set("requests", requests);
    // Empty maps are dropped, as the Go structs serialize them.
    for k in ["limits", "requests"] {
        if resources[k].as_object().is_some_and(Map::is_empty) {
            if let Some(o) = resources.as_object_mut() {
                o.remove(k);
            }
        }
    }
    let mut notes = Vec::new();
    if !set_requests.is_empty() {
        notes.push(format!(
            "{} request for {prefix} {name}",
            set_requests.join(", ")
        ));
    }
    if !set_limits.is_empty() {
        notes.push(format!(
            "{} limit for {prefix} {name}",
            set_limits.join(", ")
        ));
    }
    notes
}

/// Upstream `PodValidateLimitFunc`.
fn validate_pod(ranges: &[Value], spec: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let containers = |k: &str| -> Vec<(List, List)> {
        spec[k]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    list(&c["resources"]["requests"]),
                    list(&c["resources"]["limits"]),
                )
            })
            .collect()
    };
    let (regular, init) = (containers("containers"), containers("initContainers"));
    for range in ranges {
        for item in range["spec"]["limits"].as_array().into_iter().flatten() {
            match item["type"].as_str() {
                Some("Container") => {
                    for (req, lim) in regular.iter().chain(&init) {
                        errors.extend(bounds("Container", item, req, lim));
                    }
                }
                Some("Pod") => {
                    let (req, lim) = pod_totals(&regular, &init);
                    errors.extend(bounds("Pod", item, &req, &lim));
                }
                _ => {}
            }
        }
    }
    errors
}

/// min, max and maxLimitRequestRatio of one LimitRange item over one requirement.
fn bounds(ty: &str, item: &Value, req: &List, lim: &List) -> Vec<String> {
    let mut errors = Vec::new();
    for (k, v) in list(&item["min"]) {
        errors.extend(min_constraint(ty, &k, &v, req, lim));
    }
    for (k, v) in list(&item["max"]) {
        errors.extend(max_constraint(ty, &k, &v, req, lim));
    }
    for (k, v) in list(&item["maxLimitRequestRatio"]) {
        errors.extend(ratio_constraint(ty, &k, &v, req, lim));
    }
    errors
}

/// The pod's effective requirement: the containers' sum, or the largest init container when
/// that is more (upstream `PodRequests`/`PodLimits`, without overhead).
fn pod_totals(regular: &[(List, List)], init: &[(List, List)]) -> (List, List) {
    let total = |pick: fn(&(List, List)) -> &List| {
        // Sums keep the form of their first term, as upstream's `Quantity.Add`.
        let mut sum: BTreeMap<String, (i128, bool)> = BTreeMap::new();
        let parsed = |q: &String| quantity::nanos(q).unwrap_or((0, false));
        for c in regular {
            for (k, q) in pick(c) {
                let (n, binary) = parsed(q);
                sum.entry(k.clone()).or_insert((0, binary)).0 += n;
            }
        }
        for c in init {
            for (k, q) in pick(c) {
                let (n, binary) = parsed(q);
                let e = sum.entry(k.clone()).or_insert((0, binary));
                e.0 = e.0.max(n);
            }
        }
        sum.into_iter()
            .map(|(k, (n, binary))| (k, quantity::from_nanos(n, binary)))
            .collect::<List>()
    };
    (total(|c| &c.0), total(|c| &c.1))
}

fn min_constraint(ty: &str, k: &str, enforced: &str, req: &List, lim: &List) -> Option<String> {
    let min = shown(enforced);
    let Some(r) = req.get(k) else {
        return Some(format!(
            "minimum {k} usage per {ty} is {min}.  No request is specified"
        ));
    };
    if value(r) < value(enforced) {
        return Some(format!(
            "minimum {k} usage per {ty} is {min}, but request is {}",
            shown(r)
        ));
    }
    match lim.get(k) {
        Some(l) if value(l) < value(enforced) => Some(format!(
            "minimum {k} usage per {ty} is {min}, but limit is {}",
            shown(l)
        )),
        _ => None,
    }
}

fn max_constraint(ty: &str, k: &str, enforced: &str, req: &List, lim: &List) -> Option<String> {
    let max = shown(enforced);
    let Some(l) = lim.get(k) else {
        return Some(format!(
            "maximum {k} usage per {ty} is {max}.  No limit is specified"
        ));
    };
    if value(l) > value(enforced) {
        return Some(format!(
            "maximum {k} usage per {ty} is {max}, but limit is {}",
            shown(l)
        ));
    }
    match req.get(k) {
        Some(r) if value(r) > value(enforced) => Some(format!(
            "maximum {k} usage per {ty} is {max}, but request is {}",
            shown(r)
        )),
        _ => None,
    }
}

fn ratio_constraint(ty: &str, k: &str, enforced: &str, req: &List, lim: &List) -> Option<String> {
    let ratio = shown(enforced);
    let r = req.get(k).map_or(0, |q| value(q));
    if r == 0 {
        return Some(format!("{k} max limit to request ratio per {ty} is {ratio}, but no request is specified or request is 0"));
    }
    let l = lim.get(k).map_or(0, |q| value(q));
    if l == 0 {
        return Some(format!("{k} max limit to request ratio per {ty} is {ratio}, but no limit is specified or limit is 0"));
    }
    let observed = l as f64 / r as f64;
    let allowed = value(enforced) as f64 / 1e9;
    (observed > allowed).then(|| {
        format!("{k} max limit to request ratio per {ty} is {ratio}, but provided ratio is {observed:.6}")
    })
}

/// Upstream `PersistentVolumeClaimValidateLimitFunc`: only what the claim requests counts.
fn validate_claim(ranges: &[Value], requests: &Value) -> Vec<String> {
    let req = list(requests);
    let none = List::new();
    let mut errors = Vec::new();
    for item in items(ranges, "PersistentVolumeClaim") {
        for (k, v) in list(&item["min"]) {
            errors.extend(min_constraint("PersistentVolumeClaim", &k, &v, &req, &none));
        }
        for (k, v) in list(&item["max"]) {
            let Some(r) = req.get(&k) else { continue };
            if value(r) > value(&v) {
                errors.push(format!(
                    "maximum {k} usage per PersistentVolumeClaim is {}, but request is {}",
                    shown(&v),
                    shown(r)
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn range(limits: Value) -> Vec<Value> {
        vec![json!({"metadata": {"name": "lr"}, "spec": {"limits": limits}})]
    }

    #[test]
    fn defaults_fill_missing_requests_and_limits_and_are_annotated() {
        let ranges = range(json!([{"type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]));
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c"},
            {"name": "d", "resources": {"limits": {"cpu": "1"}}},
        ]}});
        assert!(admit_pod(&ranges, &mut pod).is_empty());
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
        );
        // A limit given without a request is the request (API defaulting), not the default.
        assert_eq!(
            pod["spec"]["containers"][1]["resources"]["requests"]["cpu"],
            "1"
        );
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c; memory request for container d; memory limit for container d"
        );
    }

    #[test]
    fn container_bounds_use_upstreams_messages() {
        let ranges = range(json!([{"type": "Container",
            "min": {"cpu": "100m"}, "max": {"memory": "1Gi"}, "maxLimitRequestRatio": {"cpu": "2"}}]));
        let cases = [
            (json!({"requests": {"cpu": "50m"}, "limits": {"cpu": "50m", "memory": "1Gi"}}),
             vec!["minimum cpu usage per Container is 100m, but request is 50m"]),
            (json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "100m", "memory": "2Gi"}}),
             vec!["maximum memory usage per Container is 1Gi, but limit is 2Gi"]),
            (json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "300m", "memory": "1Gi"}}),
             vec!["cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000"]),
            (json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "100m"}}),
             vec!["maximum memory usage per Container is 1Gi.  No limit is specified"]),
            (json!({"requests": {"cpu": "200m"}, "limits": {"cpu": "400m", "memory": "512Mi"}}), vec![]),
        ];
        for (resources, want) in cases {
            let spec = json!({"containers": [{"name": "c", "resources": resources}]});
            assert_eq!(validate_pod(&ranges, &spec), want, "{resources}");
        }
    }

    #[test]
    fn pod_bounds_apply_to_the_sum() {
        let ranges = range(json!([{"type": "Pod", "max": {"cpu": "1"}}]));
        let c = json!({"name": "c", "resources": {"limits": {"cpu": "600m"}, "requests": {"cpu": "600m"}}});
        let spec = json!({"containers": [c, c]});
        assert_eq!(
            validate_pod(&ranges, &spec),
            ["maximum cpu usage per Pod is 1, but limit is 1200m"]
        );
    }

    #[test]
    fn claims_are_bounded_by_their_request() {
        let ranges = range(json!([{"type": "PersistentVolumeClaim",
            "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]));
        assert_eq!(
            validate_claim(&ranges, &json!({"storage": "20Gi"})),
            ["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]
        );
        assert_eq!(
            validate_claim(&ranges, &json!({"storage": "500Mi"})),
            ["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
        );
        assert!(validate_claim(&ranges, &json!({"storage": "5Gi"})).is_empty());
    }
}

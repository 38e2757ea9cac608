//! `autoscaling` HorizontalPodAutoscaler, v1 and v2 (upstream's
//! pkg/apis/autoscaling/validation): replica bounds, the scale target, and v2 metrics.

use serde_json::Value;

use super::causes::{non_empty, not_supported, quantity_nanos, quantity_string};
use crate::status::Cause;
use crate::validation::path_segment_errors;

/// Sorted, as upstream lists them.
const SOURCE_TYPES: &[&str] = &[
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

pub fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    if kind != "HorizontalPodAutoscaler" {
        return;
    }
    let spec = &obj["spec"];
    let min = spec["minReplicas"].as_i64();
    if let Some(m) = min.filter(|m| *m < 1) {
        causes.push(Cause::invalid_value(
            "spec.minReplicas",
            &Value::from(m),
            "must be greater than or equal to 1",
        ));
    }
    let max = spec["maxReplicas"].as_i64().unwrap_or(0);
    if max < 1 {
        causes.push(Cause::invalid_value(
            "spec.maxReplicas",
            &Value::from(max),
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        causes.push(Cause::invalid_value(
            "spec.maxReplicas",
            &Value::from(max),
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let target = &spec["scaleTargetRef"];
    for key in ["kind", "name"] {
        let at = format!("spec.scaleTargetRef.{key}");
        match non_empty(target, key) {
            None => causes.push(Cause::required(&at, "")),
            Some(v) => {
                for e in path_segment_errors(v) {
                    causes.push(Cause::invalid(&at, v, &e));
                }
            }
        }
    }
    if let Some(p) = spec["targetCPUUtilizationPercentage"]
        .as_i64()
        .filter(|p| *p < 1)
    {
        causes.push(Cause::invalid_value(
            "spec.targetCPUUtilizationPercentage",
            &Value::from(p),
            "must be greater than 0",
        ));
    }
    for (i, m) in spec["metrics"].as_array().into_iter().flatten().enumerate() {
        metric(m, &format!("spec.metrics[{i}]"), causes);
    }
}

/// The member of a MetricSpec each source type is carried in.
fn member(ty: &str) -> &'static str {
    match ty {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => "",
    }
}

fn metric(m: &Value, at: &str, causes: &mut Vec<Cause>) {
    let ty = m["type"].as_str().unwrap_or_default();
    if ty.is_empty() {
        causes.push(Cause::required(
            &format!("{at}.type"),
            "must specify a metric source type",
        ));
    }
    let expected = member(ty);
    if expected.is_empty() {
        causes.push(not_supported(
            &format!("{at}.type"),
            &Value::from(ty),
            SOURCE_TYPES,
        ));
    } else if !m[expected].is_object() {
        causes.push(Cause::required(
            &format!("{at}.{expected}"),
            "must populate information for the given metric source",
        ));
    }
    let present: Vec<&str> = SOURCE_TYPES
        .iter()
        .map(|t| member(t))
        .filter(|k| m[*k].is_object())
        .collect();
    if present.len() != 1 {
        for k in present.iter().filter(|k| **k != expected) {
            causes.push(Cause::forbidden(
                &format!("{at}.{k}"),
                "must populate the given metric source only",
            ));
        }
    }
    for k in ["resource", "containerResource"] {
        let src = &m[k];
        if !src.is_object() {
            continue;
        }
        let sat = format!("{at}.{k}");
        if non_empty(src, "name").is_none() {
            causes.push(Cause::required(
                &format!("{sat}.name"),
                "must specify a resource name",
            ));
        }
        if k == "containerResource" && non_empty(src, "container").is_none() {
            causes.push(Cause::required(
                &format!("{sat}.container"),
                "must specify a container",
            ));
        }
        let t = &src["target"];
        metric_target(t, &format!("{sat}.target"), causes);
        let (util, avg) = (
            !t["averageUtilization"].is_null(),
            !t["averageValue"].is_null(),
        );
        if !util && !avg {
            causes.push(Cause::required(
                &format!("{sat}.target.averageUtilization"),
                "must set either a target raw value or a target utilization",
            ));
        }
        if util && avg {
            causes.push(Cause::forbidden(
                &format!("{sat}.target.averageValue"),
                "may not set both a target raw value and a target utilization",
            ));
        }
    }
    for k in ["pods", "object", "external"] {
        let src = &m[k];
        if src.is_object() {
            metric_target(&src["target"], &format!("{at}.{k}.target"), causes);
            if non_empty(&src["metric"], "name").is_none() {
                causes.push(Cause::required(
                    &format!("{at}.{k}.metric.name"),
                    "must specify a metric name",
                ));
            }
        }
    }
}

fn metric_target(t: &Value, at: &str, causes: &mut Vec<Cause>) {
    let ty = t["type"].as_str().unwrap_or_default();
    if ty.is_empty() {
        causes.push(Cause::required(
            &format!("{at}.type"),
            "must specify a metric target type",
        ));
    }
    if !matches!(ty, "Utilization" | "Value" | "AverageValue") {
        causes.push(Cause::invalid(
            &format!("{at}.type"),
            ty,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for key in ["value", "averageValue"] {
        let v = &t[key];
        if !v.is_null() && quantity_nanos(v).is_none_or(|n| n <= 0) {
            causes.push(super::causes::invalid_bare(
                &format!("{at}.{key}"),
                &quantity_string(v),
                "must be positive",
            ));
        }
    }
    if let Some(u) = t["averageUtilization"].as_i64().filter(|u| *u < 1) {
        causes.push(Cause::invalid_value(
            &format!("{at}.averageUtilization"),
            &Value::from(u),
            "must be greater than 0",
        ));
    }
}

//! PodSecurity: the namespace's `pod-security.kubernetes.io/{enforce,audit,warn}` labels pick a
//! Pod Security Standards level; pods violating the enforce level are refused, and the warn
//! level answers pods and pod templates with `Warning` headers
//! (staging/src/k8s.io/pod-security-admission/admission). A pinned `-version` drops checks
//! newer than it; every check that applies runs in its latest form.

mod checks;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

use crate::handler::Api;
use crate::status::{ApiError, ApiResult, Cause};

const PREFIX: &str = "pod-security.kubernetes.io/";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

/// A level and the version label beside it (`latest` or `v1.N`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct LevelVersion {
    level: Level,
    version: String,
}

impl LevelVersion {
    /// The pinned minor version; `latest` is past every check's.
    fn minor(&self) -> u32 {
        self.version
            .strip_prefix("v1.")
            .and_then(|m| m.parse().ok())
            .unwrap_or(u32::MAX)
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        };
        write!(f, "{level}:{}", self.version)
    }
}

struct Policy {
    enforce: LevelVersion,
    warn: LevelVersion,
}

fn parse_level(s: &str) -> Option<Level> {
    match s {
        "privileged" => Some(Level::Privileged),
        "baseline" => Some(Level::Baseline),
        "restricted" => Some(Level::Restricted),
        _ => None,
    }
}

/// `latest` or `v1.N` (no leading zeros), as upstream's `ParseVersion`.
fn valid_version(s: &str) -> bool {
    s == "latest"
        || s.strip_prefix("v1.").is_some_and(|m| {
            m == "0"
                || (!m.is_empty() && !m.starts_with('0') && m.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The policy for `mode` from namespace labels: absent means privileged; an unparsable level
/// means restricted for enforce (and privileged for warn: it fails open), an unparsable
/// version latest, as upstream's `PolicyToEvaluate` falls back.
fn mode_policy(labels: &Value, mode: &str) -> LevelVersion {
    let fallback = if mode == "enforce" {
        Level::Restricted
    } else {
        Level::Privileged
    };
    let level = match labels[format!("{PREFIX}{mode}")].as_str() {
        None => Level::Privileged,
        Some(s) => parse_level(s).unwrap_or(fallback),
    };
    let version = labels[format!("{PREFIX}{mode}-version")]
        .as_str()
        .filter(|v| valid_version(v))
        .unwrap_or("latest")
        .to_string();
    LevelVersion { level, version }
}

fn policy(labels: &Value) -> Policy {
    Policy {
        enforce: mode_policy(labels, "enforce"),
        warn: mode_policy(labels, "warn"),
    }
}

/// Failed checks of `level` at version `v1.{minor}`: (reason, detail), by check ID.
fn failures(level: Level, minor: u32, meta: &Value, spec: &Value) -> Vec<(String, String)> {
    checks::CHECKS
        .iter()
        .filter(|c| c.level <= level && c.since <= minor)
        .filter(|c| !(level == Level::Restricted && c.overridden_by_restricted))
        .filter_map(|c| (c.run)(meta, spec))
        .collect()
}

/// Violations of `level` at version `v1.{minor}` as upstream aggregates them:
/// `reason (detail)`, by check ID.
fn evaluate(level: Level, minor: u32, meta: &Value, spec: &Value) -> Vec<String> {
    failures(level, minor, meta, spec)
        .into_iter()
        .map(|(reason, detail)| {
            if detail.is_empty() {
                reason
            } else {
                format!("{reason} ({detail})")
            }
        })
        .collect()
}

async fn namespace_labels(api: &Api, ns: &str) -> ApiResult<Value> {
    if ns.is_empty() {
        return Ok(Value::Null);
    }
    let namespace = super::get(api, ("", "v1", "namespaces"), None, ns).await?;
    Ok(namespace.map_or(Value::Null, |n| n["metadata"]["labels"].clone()))
}

/// A pod create: 403 on an enforce-level violation, else warn-level warnings.
pub async fn admit_pod(api: &Api, ns: &str, pod: &Value) -> ApiResult<Vec<String>> {
    let policy = policy(&namespace_labels(api, ns).await?);
    decide_pod(&policy, pod)
}

fn decide_pod(policy: &Policy, pod: &Value) -> ApiResult<Vec<String>> {
    let (meta, spec) = (&pod["metadata"], &pod["spec"]);
    if policy.enforce.level > Level::Privileged {
        let violations = evaluate(policy.enforce.level, policy.enforce.minor(), meta, spec);
        if !violations.is_empty() {
            return Err(super::forbidden(
                "pods",
                pod,
                &format!(
                    "violates PodSecurity \"{}\": {}",
                    policy.enforce,
                    violations.join(", ")
                ),
            ));
        }
    }
    // The same level and version as enforce already passed.
    if policy.warn.level == Level::Privileged || policy.warn == policy.enforce {
        return Ok(Vec::new());
    }
    Ok(would_violate(&policy.warn, meta, spec)
        .into_iter()
        .collect())
}

fn would_violate(lv: &LevelVersion, meta: &Value, spec: &Value) -> Option<String> {
    if lv.level == Level::Privileged {
        return None;
    }
    let violations = evaluate(lv.level, lv.minor(), meta, spec);
    (!violations.is_empty()).then(|| {
        format!(
            "would violate PodSecurity \"{lv}\": {}",
            violations.join(", ")
        )
    })
}

/// The pod template of a workload kind, as upstream's `PodSpecExtractor` finds it.
fn template<'a>(group: &str, kind: &str, obj: &'a Value) -> Option<&'a Value> {
    let t = match (group, kind) {
        ("", "PodTemplate") => &obj["template"],
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => &obj["spec"]["template"],
        ("batch", "CronJob") => &obj["spec"]["jobTemplate"]["spec"]["template"],
        _ => return None,
    };
    t.is_object().then_some(t)
}

/// Objects with a pod template are never refused, and only the warn level is evaluated
/// (upstream's `ValidatePodController` skips enforce: the pods are refused later).
pub async fn admit_template(
    api: &Api,
    ns: &str,
    (group, kind): (&str, &str),
    obj: &Value,
) -> ApiResult<Vec<String>> {
    let Some(t) = template(group, kind, obj) else {
        return Ok(Vec::new());
    };
    let policy = policy(&namespace_labels(api, ns).await?);
    Ok(decide_template(&policy, t))
}

fn decide_template(policy: &Policy, t: &Value) -> Vec<String> {
    would_violate(&policy.warn, &t["metadata"], &t["spec"])
        .into_iter()
        .collect()
}

/// A pod update is evaluated only when it changes what the checks read and may change
/// (upstream's `isSignificantPodUpdate`): images, seccomp annotations, containers added.
fn significant_pod_update(old: &Value, new: &Value) -> bool {
    const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
    const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
    let ann = |p: &Value, k: &str| p["metadata"]["annotations"][k].clone();
    if ann(new, SECCOMP_POD) != ann(old, SECCOMP_POD) {
        return true;
    }
    let list = |p: &Value, k: &str| p["spec"][k].as_array().cloned().unwrap_or_default();
    let container_changed = |c: &Value, o: &Value| {
        let key = format!(
            "{SECCOMP_CONTAINER}{}",
            c["name"].as_str().unwrap_or_default()
        );
        c["image"] != o["image"] || ann(new, &key) != ann(old, &key)
    };
    for k in ["containers", "initContainers"] {
        let (a, b) = (list(new, k), list(old, k));
        if a.len() != b.len() || a.iter().zip(&b).any(|(c, o)| container_changed(c, o)) {
            return true;
        }
    }
    let old_ephemeral = list(old, "ephemeralContainers");
    list(new, "ephemeralContainers").iter().any(|c| {
        match old_ephemeral.iter().find(|o| o["name"] == c["name"]) {
            None => true,
            Some(o) => container_changed(c, o),
        }
    })
}

/// A pod update (or an ephemeral container added): judged as a create when significant.
pub async fn admit_pod_update(
    api: &Api,
    ns: &str,
    old: &Value,
    new: &Value,
) -> ApiResult<Vec<String>> {
    if !significant_pod_update(old, new) {
        return Ok(Vec::new());
    }
    admit_pod(api, ns, new).await
}

/// A workload update warns only when its pod template changed.
pub async fn admit_template_update(
    api: &Api,
    ns: &str,
    (group, kind): (&str, &str),
    old: &Value,
    new: &Value,
) -> ApiResult<Vec<String>> {
    let (Some(t), before) = (template(group, kind, new), template(group, kind, old)) else {
        return Ok(Vec::new());
    };
    if before.is_some_and(|b| b["metadata"] == t["metadata"] && b["spec"] == t["spec"]) {
        return Ok(Vec::new());
    }
    let policy = policy(&namespace_labels(api, ns).await?);
    Ok(decide_template(&policy, t))
}

/// A namespace update: its labels must parse; a stricter enforce level is tried against the
/// pods already there, each distinct violation reported once with how many pods share it
/// (upstream's `EvaluatePodsInNamespace`).
pub async fn admit_namespace_update(api: &Api, old: &Value, new: &Value) -> ApiResult<Vec<String>> {
    validate_namespace(new)?;
    let labels = |n: &Value| n["metadata"]["labels"].clone();
    let (before, after) = (policy(&labels(old)).enforce, policy(&labels(new)).enforce);
    if after == before
        || after.level == Level::Privileged
        || (after.version == before.version && after.level <= before.level)
    {
        return Ok(Vec::new());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    let pods = super::list(api, ("", "v1", "pods"), Some(name)).await?;
    Ok(namespace_warnings(name, &after, &pods))
}

fn namespace_warnings(namespace: &str, enforce: &LevelVersion, pods: &[Value]) -> Vec<String> {
    // Distinct reasons, each with its lexically first pod and how many pods share it.
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for pod in pods {
        let reasons: Vec<String> = failures(
            enforce.level,
            enforce.minor(),
            &pod["metadata"],
            &pod["spec"],
        )
        .into_iter()
        .map(|(reason, _)| reason)
        .collect();
        if reasons.is_empty() {
            continue;
        }
        let warning = reasons.join(", ");
        let pod_name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match seen.iter_mut().find(|(w, _, _)| *w == warning) {
            Some((_, first, count)) => {
                *count += 1;
                if pod_name < *first {
                    *first = pod_name;
                }
            }
            None => seen.push((warning, pod_name, 1)),
        }
    }
    if seen.is_empty() {
        return Vec::new();
    }
    let mut decorated: Vec<String> = seen
        .into_iter()
        .map(|(warning, first, count)| match count {
            1 => format!("{first}: {warning}"),
            2 => format!("{first} (and 1 other pod): {warning}"),
            n => format!("{first} (and {} other pods): {warning}", n - 1),
        })
        .collect();
    decorated.sort();
    let mut out = vec![format!(
        "existing pods in namespace \"{namespace}\" violate the new PodSecurity enforce level \"{enforce}\""
    )];
    out.extend(decorated);
    out
}

/// A namespace's pod-security labels must parse (422 as upstream's `invalidResponse`).
pub fn validate_namespace(ns: &Value) -> ApiResult<()> {
    let mut causes = Vec::new();
    for (key, value) in ns["metadata"]["labels"].as_object().into_iter().flatten() {
        let Some(mode) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let value = value.as_str().unwrap_or_default();
        let field = format!("metadata.labels[{key}]");
        match mode {
            "enforce" | "audit" | "warn" if parse_level(value).is_none() => {
                causes.push(Cause::invalid(
                    &field,
                    value,
                    "must be one of privileged, baseline, restricted",
                ))
            }
            "enforce-version" | "audit-version" | "warn-version" if !valid_version(value) => causes
                .push(Cause::invalid(
                    &field,
                    value,
                    r#"must be "latest" or "v1.x""#,
                )),
            _ => {}
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    let name = ns["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::invalid("Namespace", "", name, causes))
}

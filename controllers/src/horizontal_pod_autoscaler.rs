//! The horizontal pod autoscaler (upstream pkg/controller/podautoscaler): every 15 s, read a
//! target's `/scale`, keep its replicas within `minReplicas..maxReplicas`, and, for
//! Resource metrics (cpu, memory), scale to the utilization target from the resource
//! metrics API (`metrics.k8s.io/v1beta1` PodMetrics) when one is served. Conditions,
//! status and Events follow upstream's reasons and messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus,
    MetricSpec, MetricStatus, MetricValueStatus, ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};

use crate::events::Events;

/// Upstream's `--horizontal-pod-autoscaler-sync-period`.
const SYNC_PERIOD: Duration = Duration::from_secs(15);
/// Upstream's `--horizontal-pod-autoscaler-tolerance`: no change within 10% of the target.
const TOLERANCE: f64 = 0.1;
/// The default scale-down stabilization window.
const DEFAULT_DOWN_WINDOW: i64 = 300;

struct Ctx {
    client: Client,
    events: Events,
    /// Recent recommendations per HPA, for the stabilization windows.
    recommendations: Mutex<HashMap<String, Vec<(Instant, i32)>>>,
}

pub async fn run(client: Client) -> anyhow::Result<()> {
    let ctx = Arc::new(Ctx {
        events: Events::new(client.clone(), "horizontal-pod-autoscaler"),
        client: client.clone(),
        recommendations: Mutex::new(HashMap::new()),
    });
    Controller::new(
        Api::<HorizontalPodAutoscaler>::all(client),
        watcher::Config::default(),
    )
    .run(reconcile, error_policy, ctx)
    .for_each(|res| async move {
        if let Err(e) = res {
            tracing::debug!("horizontal pod autoscaler: {e}");
        }
    })
    .await;
    Ok(())
}

fn error_policy(_hpa: Arc<HorizontalPodAutoscaler>, _err: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(SYNC_PERIOD)
}

fn reference(hpa: &HorizontalPodAutoscaler) -> ObjectReference {
    ObjectReference {
        api_version: Some("autoscaling/v2".into()),
        kind: Some("HorizontalPodAutoscaler".into()),
        name: hpa.metadata.name.clone(),
        namespace: hpa.metadata.namespace.clone(),
        uid: hpa.metadata.uid.clone(),
        ..Default::default()
    }
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
) -> HorizontalPodAutoscalerCondition {
    HorizontalPodAutoscalerCondition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(Time(Timestamp::now())),
    }
}

/// Set `c` in `conditions`, keeping the transition time when the status did not change.
fn set_condition(
    conditions: &mut Vec<HorizontalPodAutoscalerCondition>,
    mut c: HorizontalPodAutoscalerCondition,
) {
    match conditions.iter_mut().find(|o| o.type_ == c.type_) {
        Some(old) => {
            if old.status == c.status {
                c.last_transition_time = old.last_transition_time.clone();
            }
            *old = c;
        }
        None => conditions.push(c),
    }
}

/// What the metrics say: a replica count and the observed metric values.
struct Recommendation {
    replicas: i32,
    /// The metric that asked for the most replicas, for the rescale reason.
    metric: String,
    statuses: Vec<MetricStatus>,
}

async fn reconcile(
    hpa: Arc<HorizontalPodAutoscaler>,
    ctx: Arc<Ctx>,
) -> Result<Action, kube::Error> {
    if hpa.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = hpa.namespace().unwrap_or_default();
    let spec = hpa.spec.clone().unwrap_or_default();
    let mut status = hpa.status.clone().unwrap_or_default();
    let original = status.clone();
    let mut conditions = status.conditions.take().unwrap_or_default();
    let target = &spec.scale_target_ref;
    let kind_ref = format!("{}/{}", target.kind, target.name);
    let hpa_ref = reference(&hpa);

    let scale_api = match scale_api(
        &ctx.client,
        &ns,
        target.api_version.as_deref(),
        &target.kind,
    )
    .await
    {
        Ok(api) => api,
        Err(e) => {
            let msg =
                format!("the HPA controller was unable to get the target's current scale: {e}");
            set_condition(
                &mut conditions,
                condition("AbleToScale", false, "FailedGetScale", msg.clone()),
            );
            ctx.events
                .publish(&hpa_ref, true, "FailedGetScale", "GetScale", e.to_string())
                .await;
            status.conditions = Some(conditions);
            write_status(&ctx.client, &hpa, &original, status).await?;
            return Ok(Action::requeue(SYNC_PERIOD));
        }
    };
    let scale = match scale_api.get_scale(&target.name).await {
        Ok(s) => s,
        Err(e) => {
            let msg =
                format!("the HPA controller was unable to get the target's current scale: {e}");
            set_condition(
                &mut conditions,
                condition("AbleToScale", false, "FailedGetScale", msg),
            );
            ctx.events
                .publish(&hpa_ref, true, "FailedGetScale", "GetScale", e.to_string())
                .await;
            status.conditions = Some(conditions);
            write_status(&ctx.client, &hpa, &original, status).await?;
            return Ok(Action::requeue(SYNC_PERIOD));
        }
    };
    set_condition(
        &mut conditions,
        condition(
            "AbleToScale",
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale".into(),
        ),
    );
    let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let selector = scale
        .status
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    let min = spec.min_replicas.unwrap_or(1);
    let max = spec.max_replicas;
    status.current_replicas = Some(current);

    let (desired, reason) = if current == 0 && min != 0 {
        set_condition(
            &mut conditions,
            condition(
                "ScalingActive",
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".into(),
            ),
        );
        (0, String::new())
    } else if current > max {
        (
            max,
            "Current number of replicas above Spec.MaxReplicas".to_string(),
        )
    } else if current < min {
        (
            min,
            "Current number of replicas below Spec.MinReplicas".to_string(),
        )
    } else {
        let metrics = spec.metrics.clone().unwrap_or_default();
        match recommend(&ctx.client, &ns, &selector, current, &metrics).await {
            Err((reason, message)) => {
                set_condition(
                    &mut conditions,
                    condition("ScalingActive", false, &reason, message.clone()),
                );
                ctx.events
                    .publish(&hpa_ref, true, &reason, "ComputeMetrics", message.clone())
                    .await;
                ctx.events
                    .publish(
                        &hpa_ref,
                        true,
                        "FailedComputeMetricsReplicas",
                        "ComputeMetrics",
                        format!(
                            "invalid metrics ({} invalid out of {}), first error is: {message}",
                            metrics.len(),
                            metrics.len()
                        ),
                    )
                    .await;
                status.desired_replicas = current;
                status.conditions = Some(conditions);
                write_status(&ctx.client, &hpa, &original, status).await?;
                return Ok(Action::requeue(SYNC_PERIOD));
            }
            Ok(rec) => {
                set_condition(
                    &mut conditions,
                    condition(
                        "ScalingActive",
                        true,
                        "ValidMetricFound",
                        format!(
                            "the HPA was able to successfully calculate a replica count from {}",
                            rec.metric
                        ),
                    ),
                );
                status.current_metrics = Some(rec.statuses);
                let stabilized = stabilize(&ctx, &hpa, &spec, current, rec.replicas);
                let limited = stabilized.clamp(min, max);
                let (limit_status, limit_reason, limit_msg) = if stabilized > max {
                    (
                        true,
                        "TooManyReplicas",
                        "the desired replica count is more than the maximum replica count",
                    )
                } else if stabilized < min {
                    (
                        true,
                        "TooFewReplicas",
                        "the desired replica count is less than the minimum replica count",
                    )
                } else {
                    (
                        false,
                        "DesiredWithinRange",
                        "the desired count is within the acceptable range",
                    )
                };
                set_condition(
                    &mut conditions,
                    condition(
                        "ScalingLimited",
                        limit_status,
                        limit_reason,
                        limit_msg.into(),
                    ),
                );
                let reason = if limited > current {
                    format!("{} above target", rec.metric)
                } else {
                    "All metrics below target".to_string()
                };
                (limited, reason)
            }
        }
    };
    status.desired_replicas = desired;
    if desired != current && !(current == 0 && min != 0) {
        let patch = json!({"spec": {"replicas": desired}});
        match scale_api
            .patch_scale(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                set_condition(
                    &mut conditions,
                    condition(
                        "AbleToScale",
                        true,
                        "SucceededRescale",
                        format!(
                            "the HPA controller was able to update the target scale to {desired}"
                        ),
                    ),
                );
                ctx.events
                    .publish(
                        &hpa_ref,
                        false,
                        "SuccessfulRescale",
                        "Scale",
                        format!("New size: {desired}; reason: {reason}"),
                    )
                    .await;
                status.last_scale_time = Some(Time(Timestamp::now()));
                status.current_replicas = Some(current);
            }
            Err(e) => {
                let msg = format!("the HPA controller was unable to update the target scale: {e}");
                set_condition(
                    &mut conditions,
                    condition("AbleToScale", false, "FailedUpdateScale", msg),
                );
                ctx.events
                    .publish(
                        &hpa_ref,
                        true,
                        "FailedRescale",
                        "Scale",
                        format!("New size: {desired}; reason: {reason}; error: {e}"),
                    )
                    .await;
            }
        }
        tracing::debug!(
            "hpa {ns}/{}: {kind_ref} {current} -> {desired}",
            hpa.name_any()
        );
    }
    status.observed_generation = hpa.metadata.generation;
    status.conditions = Some(conditions);
    write_status(&ctx.client, &hpa, &original, status).await?;
    Ok(Action::requeue(SYNC_PERIOD))
}

/// The Api that reaches `/scale` of the target's kind, found through discovery.
async fn scale_api(
    client: &Client,
    ns: &str,
    api_version: Option<&str>,
    kind: &str,
) -> anyhow::Result<Api<DynamicObject>> {
    let api_version = api_version.unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|e| anyhow::anyhow!("no matches for kind \"{kind}\" in group \"{group}\": {e}"))?;
    Ok(Api::namespaced_with(client.clone(), ns, &ar))
}

/// Scale-down (and, when configured, scale-up) stabilization: the safest recommendation
/// within the window, as upstream's `stabilizeRecommendationWithBehaviors`.
fn stabilize(
    ctx: &Ctx,
    hpa: &HorizontalPodAutoscaler,
    spec: &k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec,
    current: i32,
    recommended: i32,
) -> i32 {
    let window = |rules: Option<&k8s_openapi::api::autoscaling::v2::HPAScalingRules>,
                  default: i64| {
        Duration::from_secs(
            rules
                .and_then(|r| r.stabilization_window_seconds)
                .map_or(default, i64::from)
                .max(0) as u64,
        )
    };
    let behavior = spec.behavior.as_ref();
    let down = window(
        behavior.and_then(|b| b.scale_down.as_ref()),
        DEFAULT_DOWN_WINDOW,
    );
    let up = window(behavior.and_then(|b| b.scale_up.as_ref()), 0);
    let key = hpa.metadata.uid.clone().unwrap_or_default();
    let now = Instant::now();
    let mut all = ctx
        .recommendations
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let history = all.entry(key).or_default();
    history.retain(|(t, _)| now.duration_since(*t) <= down.max(up));
    history.push((now, recommended));
    let within = |w: Duration| {
        history
            .iter()
            .filter(move |(t, _)| now.duration_since(*t) <= w)
    };
    // Up: the lowest recommendation of the up window; down: the highest of the down window.
    let up_limit = within(up).map(|(_, r)| *r).min().unwrap_or(recommended);
    let down_limit = within(down).map(|(_, r)| *r).max().unwrap_or(recommended);
    if recommended > current {
        up_limit.max(current)
    } else {
        down_limit.min(current)
    }
}

/// The replica count the Resource metrics ask for, or (reason, message) when they cannot
/// be computed.
async fn recommend(
    client: &Client,
    ns: &str,
    selector: &str,
    current: i32,
    metrics: &[MetricSpec],
) -> Result<Recommendation, (String, String)> {
    if metrics.is_empty() {
        return Err((
            "FailedGetResourceMetric".into(),
            "no metrics specified".into(),
        ));
    }
    let mut best: Option<Recommendation> = None;
    let mut metrics_list: Option<Vec<DynamicObject>> = None;
    let mut pods: Option<Vec<Pod>> = None;
    let mut statuses = Vec::new();
    for m in metrics {
        if m.type_ != "Resource" {
            return Err((
                "FailedGetExternalMetric".into(),
                format!(
                    "the HPA was unable to compute the replica count: {} metrics are not supported",
                    m.type_
                ),
            ));
        }
        let Some(res) = &m.resource else { continue };
        let name = res.name.clone();
        // One list of each serves every metric.
        if metrics_list.is_none() {
            metrics_list = Some(pod_metrics(client, ns, selector).await.map_err(|e| {
                (
                    "FailedGetResourceMetric".to_string(),
                    format!("the HPA was unable to compute the replica count: failed to get {name} utilization: unable to get metrics for resource {name}: {e}"),
                )
            })?);
        }
        if pods.is_none() {
            pods = Some(
                Api::<Pod>::namespaced(client.clone(), ns)
                    .list(&ListParams::default().labels(selector))
                    .await
                    .map_err(|e| {
                        (
                            "FailedGetResourceMetric".to_string(),
                            format!("the HPA was unable to compute the replica count: {e}"),
                        )
                    })?
                    .items,
            );
        }
        let usage = usage_of(metrics_list.as_deref().unwrap_or_default(), &name);
        let requests = requests_of(pods.as_deref().unwrap_or_default(), &name);
        let with_metrics: Vec<&String> =
            usage.keys().filter(|p| requests.contains_key(*p)).collect();
        if with_metrics.is_empty() {
            return Err((
                "FailedGetResourceMetric".into(),
                format!("the HPA was unable to compute the replica count: failed to get {name} utilization: did not receive metrics for targeted pods (pods might be unready)"),
            ));
        }
        let total_usage: f64 = with_metrics.iter().map(|p| usage[*p]).sum();
        let total_request: f64 = with_metrics.iter().map(|p| requests[*p]).sum();
        let pods = with_metrics.len() as f64;
        let (replicas, status) = match (&res.target.average_utilization, &res.target.average_value)
        {
            (Some(target), _) => {
                if total_request <= 0.0 {
                    return Err((
                        "FailedGetResourceMetric".into(),
                        format!("the HPA was unable to compute the replica count: failed to get {name} utilization: missing request for {name}"),
                    ));
                }
                let utilization = (total_usage * 100.0 / total_request).round();
                let ratio = utilization / f64::from(*target);
                let replicas = scaled(ratio, pods, current);
                (
                    replicas,
                    MetricValueStatus {
                        average_utilization: Some(utilization as i32),
                        average_value: Some(quantity(&name, total_usage / pods)),
                        value: None,
                    },
                )
            }
            (None, Some(target)) => {
                let target = parse_quantity(&target.0).unwrap_or(0.0);
                if target <= 0.0 {
                    continue;
                }
                let ratio = (total_usage / pods) / target;
                (
                    scaled(ratio, pods, current),
                    MetricValueStatus {
                        average_value: Some(quantity(&name, total_usage / pods)),
                        ..Default::default()
                    },
                )
            }
            _ => continue,
        };
        statuses.push(MetricStatus {
            type_: "Resource".into(),
            resource: Some(ResourceMetricStatus {
                name: name.clone(),
                current: status,
            }),
            ..Default::default()
        });
        let metric = format!("{name} resource utilization (percentage of request)");
        if best.as_ref().is_none_or(|b| replicas > b.replicas) {
            best = Some(Recommendation {
                replicas,
                metric,
                statuses: Vec::new(),
            });
        }
    }
    let mut best = best.ok_or_else(|| {
        (
            "FailedGetResourceMetric".to_string(),
            "no usable Resource metrics".to_string(),
        )
    })?;
    best.statuses = statuses;
    Ok(best)
}

/// Replicas for a usage ratio: unchanged within the tolerance, else `ceil(ratio * pods)`.
fn scaled(ratio: f64, pods: f64, current: i32) -> i32 {
    if (1.0 - ratio).abs() <= TOLERANCE {
        current
    } else {
        (ratio * pods).ceil() as i32
    }
}

/// The PodMetrics of the pods `selector` matches, from the resource metrics API.
async fn pod_metrics(
    client: &Client,
    ns: &str,
    selector: &str,
) -> anyhow::Result<Vec<DynamicObject>> {
    let ar = ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 404 => anyhow::anyhow!(
                "unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
            ),
            e => anyhow::anyhow!("unable to fetch metrics from resource metrics API: {e}"),
        })?;
    Ok(list.items)
}

/// Usage of `resource` per pod (in cores for cpu, bytes otherwise).
fn usage_of(metrics: &[DynamicObject], resource: &str) -> HashMap<String, f64> {
    metrics
        .iter()
        .map(|pm| {
            let total: f64 = pm.data["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["usage"][resource].as_str().and_then(parse_quantity))
                .sum();
            (pm.name_any(), total)
        })
        .collect()
}

/// Requests per running pod for `resource`, summed over containers (0 when a container
/// requests none).
fn requests_of(pods: &[Pod], resource: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for p in pods {
        if p.metadata.deletion_timestamp.is_some()
            || p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
        {
            continue;
        }
        let containers = p
            .spec
            .as_ref()
            .map(|s| s.containers.as_slice())
            .unwrap_or_default();
        let mut total = 0.0;
        for c in containers {
            let req = c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get(resource))
                .and_then(|q| parse_quantity(&q.0));
            match req {
                Some(v) => total += v,
                None => {
                    total = 0.0;
                    break;
                }
            }
        }
        out.insert(p.name_any(), total);
    }
    out
}

/// A quantity's value (cpu in cores), parsed as the API server parses requests.
fn parse_quantity(q: &str) -> Option<f64> {
    k8rs_apiserver::defaults::core::quantity(&Value::String(q.to_string()))
}

/// A per-pod average as upstream prints it: millicores for cpu, bytes otherwise.
fn quantity(resource: &str, v: f64) -> k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    k8s_openapi::apimachinery::pkg::api::resource::Quantity(if resource == "cpu" {
        format!("{}m", (v * 1000.0).round() as i64)
    } else {
        format!("{}", v.round() as i64)
    })
}

async fn write_status(
    client: &Client,
    hpa: &HorizontalPodAutoscaler,
    original: &HorizontalPodAutoscalerStatus,
    mut status: HorizontalPodAutoscalerStatus,
) -> Result<(), kube::Error> {
    if status.current_replicas.is_none() {
        status.current_replicas = Some(0);
    }
    if &status == original {
        return Ok(());
    }
    let api = Api::<HorizontalPodAutoscaler>::namespaced(
        client.clone(),
        &hpa.namespace().unwrap_or_default(),
    );
    let patch: Value = json!({"status": status});
    api.patch_status(
        &hpa.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse() {
        assert_eq!(parse_quantity("250m"), Some(0.25));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1Ki"), Some(1024.0));
        assert_eq!(parse_quantity("100000000n"), Some(0.1));
        assert_eq!(parse_quantity("x"), None);
        assert_eq!(quantity("cpu", 0.2).0, "200m");
    }

    #[test]
    fn replicas_follow_the_ratio_outside_the_tolerance() {
        assert_eq!(scaled(1.05, 2.0, 2), 2);
        assert_eq!(scaled(2.0, 2.0, 2), 4);
        assert_eq!(scaled(0.5, 4.0, 4), 2);
        assert_eq!(scaled(0.34, 3.0, 3), 2);
    }
}

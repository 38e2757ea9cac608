//! The resourcequota controller (upstream pkg/controller/resourcequota): keeps every
//! ResourceQuota's `status.hard` equal to its spec and `status.used` equal to what the
//! namespace's objects actually consume. Admission charges creates as they happen; this
//! controller is what gives usage back when objects go (or finish), and what makes a new
//! quota usable at all (admission refuses while a tracked resource's usage is unknown).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use k8rs_apiserver::quota::{self, Usage};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, Secret, Service,
};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Discovery;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// Full recalculation period (upstream's `--resource-quota-sync-period` default).
const RESYNC: Duration = Duration::from_secs(300);
/// How long a discovery snapshot serves `count/<resource>.<group>` lookups.
const DISCOVERY_TTL: Duration = Duration::from_secs(30);

struct Ctx {
    client: Client,
    discovery: Mutex<Option<(Instant, Arc<Discovery>)>>,
}

pub async fn run(
    client: Client,
    pods: impl futures::Stream<Item = Arc<Pod>> + Send + 'static,
) -> Result<()> {
    let quotas: Api<ResourceQuota> = Api::all(client.clone());
    let controller = Controller::new(quotas, watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        discovery: Mutex::new(None),
    });
    // Any change to a kind quotas count re-evaluates the quotas of its namespace.
    macro_rules! replenish {
        ($c:expr, $kind:ty) => {{
            let store = store.clone();
            $c.watches(
                Api::<$kind>::all(client.clone()),
                watcher::Config::default(),
                move |o: $kind| in_namespace(&store, o.namespace()),
            )
        }};
    }
    let controller = {
        let store = store.clone();
        controller
            .watches_shared_stream(pods, move |o: Arc<Pod>| in_namespace(&store, o.namespace()))
    };
    let controller = replenish!(controller, Service);
    let controller = replenish!(controller, PersistentVolumeClaim);
    let controller = replenish!(controller, ConfigMap);
    let controller = replenish!(controller, Secret);
    let controller = replenish!(controller, ReplicationController);
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!("resourcequota: {e}");
            }
        })
        .await;
    Ok(())
}

fn in_namespace(store: &Store<ResourceQuota>, ns: Option<String>) -> Vec<ObjectRef<ResourceQuota>> {
    store
        .state()
        .iter()
        .filter(|q| q.namespace() == ns)
        .map(|q| ObjectRef::from_obj(q.as_ref()))
        .collect()
}

fn error_policy(_q: Arc<ResourceQuota>, e: &kube::Error, _ctx: Arc<Ctx>) -> Action {
    tracing::debug!("resourcequota: {e}");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(q: Arc<ResourceQuota>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let Some(ns) = q.namespace() else {
        return Ok(Action::await_change());
    };
    let quota_json = serde_json::to_value(q.as_ref()).unwrap_or(Value::Null);
    let hard = quota_json["spec"]["hard"].clone();
    let names: Vec<String> = hard
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    let mut used = Usage::default();
    for res in resources_for(&ctx, &names).await {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &res);
        let list = api.list(&ListParams::default()).await?;
        let tracked: Vec<String> = names
            .iter()
            .filter(|n| quota::tracks(&res.group, &res.plural, n))
            .cloned()
            .collect();
        for o in list.items {
            let o = serde_json::to_value(&o).unwrap_or(Value::Null);
            if quota::scopes_match(&quota_json, &res.plural, &o) {
                used.sum(&quota::usage(&res.group, &res.plural, &o).masked(&tracked));
            }
        }
    }
    // Every tracked resource gets a figure, zero included: that is what admission needs.
    let mut used_json = used.to_json();
    for n in &names {
        if used_json[n].is_null() {
            used_json[n] = json!("0");
        }
    }
    let status = json!({"hard": hard, "used": used_json});
    let current = &quota_json["status"];
    if !same_lists(&current["hard"], &status["hard"])
        || !same_lists(&current["used"], &status["used"])
    {
        let mut updated = quota_json.clone();
        updated["status"] = status;
        let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &ns);
        let updated: ResourceQuota =
            serde_json::from_value(updated).map_err(kube::Error::SerdeError)?;
        api.replace_status(&q.name_any(), &PostParams::default(), &updated)
            .await?;
    }
    Ok(Action::requeue(RESYNC))
}

/// Resource lists compared by value, so `1000m` and `1` are the same.
fn same_lists(a: &Value, b: &Value) -> bool {
    let (a, b) = (Usage::from_json(a), Usage::from_json(b));
    let keys = |u: &Usage| u.0.keys().cloned().collect::<Vec<_>>();
    keys(&a) == keys(&b) && a.0.iter().all(|(k, (n, _))| b.get(k) == *n)
}

/// The API resources whose objects count toward `names`.
async fn resources_for(ctx: &Ctx, names: &[String]) -> Vec<ApiResource> {
    let core = |kind: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", kind), plural)
    };
    let builtin = [
        core("Pod", "pods"),
        core("Service", "services"),
        core("PersistentVolumeClaim", "persistentvolumeclaims"),
        core("ConfigMap", "configmaps"),
        core("Secret", "secrets"),
        core("ReplicationController", "replicationcontrollers"),
        core("ResourceQuota", "resourcequotas"),
    ];
    let mut out: BTreeMap<(String, String), ApiResource> = BTreeMap::new();
    for r in builtin {
        if names.iter().any(|n| quota::tracks("", &r.plural, n)) {
            out.insert((String::new(), r.plural.clone()), r);
        }
    }
    // `count/<plural>.<group>` (or `count/<plural>` for other core kinds) needs discovery.
    for n in names {
        let Some(target) = n.strip_prefix("count/") else {
            continue;
        };
        let (plural, group) = target.split_once('.').unwrap_or((target, ""));
        if out.contains_key(&(group.to_string(), plural.to_string())) {
            continue;
        }
        if let Some(r) = discover(ctx, group, plural).await {
            out.insert((group.to_string(), plural.to_string()), r);
        }
    }
    out.into_values().collect()
}

async fn discover(ctx: &Ctx, group: &str, plural: &str) -> Option<ApiResource> {
    let discovery = {
        let mut cached = ctx.discovery.lock().await;
        match cached.as_ref() {
            Some((at, d)) if at.elapsed() < DISCOVERY_TTL => d.clone(),
            _ => {
                let d = Arc::new(Discovery::new(ctx.client.clone()).run().await.ok()?);
                *cached = Some((Instant::now(), d.clone()));
                d
            }
        }
    };
    let g = discovery.get(group)?;
    g.recommended_resources()
        .into_iter()
        .find(|(r, _)| r.plural == plural)
        .map(|(r, _)| r)
}

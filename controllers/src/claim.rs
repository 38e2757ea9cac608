//! Claiming pods for a controller (upstream's `ControllerRefManager.ClaimPods`): the pods
//! its selector matches that it controls, plus matching orphans, which it adopts.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::ResourceExt;

/// The pods matching `query` that `owner` controls or has just adopted; `member` filters
/// candidates further (a StatefulSet only claims pods named as its members).
pub async fn claim_pods(
    api: &Api<Pod>,
    query: &str,
    owner: &OwnerReference,
    member: impl Fn(&Pod) -> bool,
) -> Result<Vec<Pod>, kube::Error> {
    let mut mine = Vec::new();
    for pod in api.list(&ListParams::default().labels(query)).await?.items {
        if !member(&pod) {
            continue;
        }
        let controller = pod
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        match controller {
            Some(uid) if uid == owner.uid => mine.push(pod),
            Some(_) => {}
            // An orphan matching the selector: adopt it, guarded by its uid.
            None if pod.metadata.deletion_timestamp.is_none() => {
                let patch = serde_json::json!(
                    {"metadata": {"ownerReferences": [owner], "uid": pod.metadata.uid}});
                match api
                    .patch(
                        &pod.name_any(),
                        &PatchParams::default(),
                        &Patch::Strategic(patch),
                    )
                    .await
                {
                    Ok(adopted) => mine.push(adopted),
                    // Gone, changed or no longer adoptable meanwhile: not ours.
                    Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409 | 422) => {}
                    Err(e) => return Err(e),
                }
            }
            None => {}
        }
    }
    Ok(mine)
}

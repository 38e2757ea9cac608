//! VolumeBinding (basics): every PVC a pod mounts must exist and not be deleting; unbound
//! claims of an Immediate class make the pod wait (no PV controller binds here), unbound
//! WaitForFirstConsumer claims go with the pod (the chosen node is annotated at bind), and
//! bound claims' volumes must allow the node by their node affinity.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;

use super::Status;
use crate::node_info::{NodeInfo, PodInfo};
use crate::selectors::node_selector_matches;

pub const REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
pub const REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";

#[derive(Debug, Default)]
pub struct Volumes {
    /// namespace/name → claim.
    pub claims: HashMap<String, PersistentVolumeClaim>,
    pub volumes: HashMap<String, PersistentVolume>,
    pub classes: HashMap<String, StorageClass>,
}

/// Claim names the pod mounts (ephemeral volumes own a `<pod>-<volume>` claim).
fn claim_names(pod: &PodInfo) -> Vec<String> {
    let pod_name = pod.pod.metadata.name.clone().unwrap_or_default();
    pod.pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                v.ephemeral
                    .as_ref()
                    .map(|_| format!("{pod_name}-{}", v.name))
            }
        })
        .collect()
}

/// What filtering needs: the bound volumes to check against each node.
#[derive(Debug, Default)]
pub struct Bound {
    pub volumes: Vec<PersistentVolume>,
    /// Claims that wait for this pod's node (WaitForFirstConsumer).
    pub delayed: Vec<String>,
}

pub fn prefilter(pod: &PodInfo, vols: &Volumes) -> Result<Bound, Status> {
    let mut out = Bound::default();
    for name in claim_names(pod) {
        let Some(claim) = vols.claims.get(&format!("{}/{name}", pod.namespace)) else {
            return Err(Status::unresolvable(format!(
                "persistentvolumeclaim \"{name}\" not found"
            )));
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(Status::unresolvable(format!(
                "persistentvolumeclaim \"{name}\" is being deleted"
            )));
        }
        let spec = claim.spec.clone().unwrap_or_default();
        match spec.volume_name.as_deref().filter(|v| !v.is_empty()) {
            Some(pv) => {
                if let Some(pv) = vols.volumes.get(pv) {
                    out.volumes.push(pv.clone());
                }
            }
            None => {
                let wait = spec
                    .storage_class_name
                    .as_ref()
                    .and_then(|c| vols.classes.get(c))
                    .and_then(|c| c.volume_binding_mode.as_deref())
                    == Some("WaitForFirstConsumer");
                if !wait {
                    return Err(Status::unresolvable(REASON_UNBOUND_IMMEDIATE));
                }
                out.delayed.push(name);
            }
        }
    }
    Ok(out)
}

pub fn filter(bound: &Bound, node: &NodeInfo) -> Result<(), Status> {
    let Some(n) = node.node.as_deref() else {
        return Ok(());
    };
    for pv in &bound.volumes {
        let required = pv
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref());
        if let Some(sel) = required {
            if !node_selector_matches(sel, n) {
                return Err(Status::unresolvable(REASON_NODE_CONFLICT));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    fn claim_pod() -> PodInfo {
        pod(
            json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}}),
        )
    }

    #[test]
    fn missing_and_unbound_immediate_claims_block_the_pod() {
        let mut vols = Volumes::default();
        let err = prefilter(&claim_pod(), &vols).unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["persistentvolumeclaim \"data\" not found"]
        );
        vols.claims.insert(
            "d/data".into(),
            serde_json::from_value(json!({"spec": {"storageClassName": "fast"}})).unwrap(),
        );
        let err = prefilter(&claim_pod(), &vols).unwrap_err();
        assert_eq!(err.reasons, vec![REASON_UNBOUND_IMMEDIATE]);
        vols.classes.insert(
            "fast".into(),
            serde_json::from_value(json!({"provisioner": "x",
                "volumeBindingMode": "WaitForFirstConsumer"}))
            .unwrap(),
        );
        assert_eq!(
            prefilter(&claim_pod(), &vols).unwrap().delayed,
            vec!["data"]
        );
    }

    #[test]
    fn bound_volumes_honour_node_affinity() {
        let mut vols = Volumes::default();
        vols.claims.insert(
            "d/data".into(),
            serde_json::from_value(json!({"spec": {"volumeName": "pv1"}})).unwrap(),
        );
        vols.volumes.insert(
            "pv1".into(),
            serde_json::from_value(json!({"spec": {"nodeAffinity": {"required": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}))
            .unwrap(),
        );
        let bound = prefilter(&claim_pod(), &vols).unwrap();
        let a = node(json!({"metadata": {"name": "a", "labels": {"zone": "a"}}}));
        let b = node(json!({"metadata": {"name": "b", "labels": {"zone": "b"}}}));
        assert!(filter(&bound, &a).is_ok());
        assert_eq!(
            filter(&bound, &b).unwrap_err().reasons,
            vec![REASON_NODE_CONFLICT]
        );
    }
}

//! The ServiceAccount plugin: every pod runs as a service account (`default` unless named),
//! which must exist, and gets its API credentials as a projected volume mounted into every
//! container (plugin/pkg/admission/serviceaccount).

use std::time::Duration;

use serde_json::{json, Value};

use crate::handler::Api;
use crate::status::ApiResult;

const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// Where containers find the token, CA and namespace.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The token lifetime upstream requests for the volume: an hour and seven seconds, the
/// seven marking it as one the kubelet rotates.
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// A namespace's `default` service account appears just after the namespace does; a pod
/// created in that gap waits this long for it instead of failing (upstream retries a live
/// lookup the same way).
const WAIT_FOR_ACCOUNT: Duration = Duration::from_secs(3);

pub async fn admit(api: &Api, ns: &str, pod: &mut Value) -> ApiResult<()> {
    // Mirror pods belong to a kubelet's static manifests: they get no service account.
    if pod["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string() {
        return Ok(());
    }
    let spec = &mut pod["spec"];
    if !spec.is_object() {
        return Ok(());
    }
    let name = match spec["serviceAccountName"].as_str() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            spec["serviceAccountName"] = json!(DEFAULT_SERVICE_ACCOUNT);
            DEFAULT_SERVICE_ACCOUNT.to_string()
        }
    };
    let account = find_account(api, ns, &name).await?;
    let Some(account) = account else {
        return Err(super::forbidden(
            "pods",
            pod,
            &format!(
                "error looking up service account {ns}/{name}: serviceaccount \"{name}\" not found"
            ),
        ));
    };
    let spec = &mut pod["spec"];
    if spec["imagePullSecrets"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        if let Some(secrets) = account["imagePullSecrets"]
            .as_array()
            .filter(|s| !s.is_empty())
        {
            spec["imagePullSecrets"] = json!(secrets);
        }
    }
    let automount = spec["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| account["automountServiceAccountToken"].as_bool())
        .unwrap_or(true);
    if automount {
        mount_token(spec);
    }
    Ok(())
}

async fn find_account(api: &Api, ns: &str, name: &str) -> ApiResult<Option<Value>> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_ACCOUNT;
    loop {
        let found = super::get(api, ("", "v1", "serviceaccounts"), Some(ns), name).await?;
        if found.is_some() || name != DEFAULT_SERVICE_ACCOUNT {
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Add the `kube-api-access-*` projected volume and mount it read-only in every container
/// and init container that does not already mount something at [`MOUNT_PATH`].
fn mount_token(spec: &mut Value) {
    let mounts_it = |c: &Value| {
        c["volumeMounts"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["mountPath"] == MOUNT_PATH))
    };
    let containers = ["initContainers", "containers"];
    let needs = containers.iter().any(|k| {
        spec[*k]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| !mounts_it(c)))
    });
    if !needs {
        return;
    }
    let volume = format!("kube-api-access-{}", random_suffix());
    for k in containers {
        for c in spec[k].as_array_mut().into_iter().flatten() {
            if mounts_it(c) {
                continue;
            }
            let mount = json!({"name": volume, "readOnly": true, "mountPath": MOUNT_PATH});
            match c["volumeMounts"].as_array_mut() {
                Some(m) => m.push(mount),
                None => c["volumeMounts"] = json!([mount]),
            }
        }
    }
    let source = json!({
        "name": volume,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    });
    match spec["volumes"].as_array_mut() {
        Some(v) => v.push(source),
        None => spec["volumes"] = json!([source]),
    }
}

/// Five characters from upstream's `utilrand.String` alphabet (no vowels, no look-alikes).
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_mounts_one_projected_volume() {
        let mut spec = json!({
            "initContainers": [{"name": "i"}],
            "containers": [
                {"name": "a"},
                {"name": "b", "volumeMounts": [{"name": "own", "mountPath": MOUNT_PATH}]},
            ],
            "volumes": [{"name": "own", "emptyDir": {}}],
        });
        mount_token(&mut spec);
        let vol = spec["volumes"][1]["name"].as_str().unwrap().to_string();
        assert!(
            vol.starts_with("kube-api-access-") && vol.len() == 21,
            "{vol}"
        );
        assert_eq!(
            spec["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"]
                ["expirationSeconds"],
            3607
        );
        assert_eq!(
            spec["initContainers"][0]["volumeMounts"][0]["name"],
            vol.as_str()
        );
        assert_eq!(spec["containers"][0]["volumeMounts"][0]["readOnly"], true);
        // A container that mounts its own credentials keeps them.
        assert_eq!(
            spec["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn nothing_is_added_when_every_container_has_its_own() {
        let mut spec = json!({
            "containers": [{"name": "b", "volumeMounts": [{"name": "own", "mountPath": MOUNT_PATH}]}],
        });
        let before = spec.clone();
        mount_token(&mut spec);
        assert_eq!(spec, before);
    }
}

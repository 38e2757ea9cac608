//! The token cleaner (upstream pkg/controller/bootstrap/tokencleaner.go): deletes bootstrap
//! token Secrets (type `bootstrap.kubernetes.io/token` in kube-system) once the time in
//! their `expiration` data has passed. An unparseable expiration counts as expired, as
//! upstream's `GetExpiration` treats it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

const NAMESPACE: &str = "kube-system";
const TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
const EXPIRATION_KEY: &str = "expiration";

pub async fn run(client: Client) -> anyhow::Result<()> {
    let secrets = Api::<Secret>::namespaced(client, NAMESPACE);
    let config = watcher::Config::default().fields(&format!("type={TOKEN_SECRET_TYPE}"));
    Controller::new(secrets.clone(), config)
        .run(reconcile, error_policy, Arc::new(secrets))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!("token cleaner: {e}");
            }
        })
        .await;
    Ok(())
}

fn error_policy(_secret: Arc<Secret>, _err: &kube::Error, _ctx: Arc<Api<Secret>>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

/// What the expiration says: None when there is none, Some(zero) once expired, else the
/// time left.
pub fn time_left(secret: &Secret, now: Timestamp) -> Option<Duration> {
    let raw = secret.data.as_ref()?.get(EXPIRATION_KEY)?;
    let text = String::from_utf8_lossy(&raw.0);
    if text.is_empty() {
        return None;
    }
    let Ok(expires) = text.parse::<Timestamp>() else {
        return Some(Duration::ZERO);
    };
    let left = expires.as_millisecond() - now.as_millisecond();
    Some(Duration::from_millis(left.max(0) as u64))
}

async fn reconcile(secret: Arc<Secret>, secrets: Arc<Api<Secret>>) -> Result<Action, kube::Error> {
    if secret.type_.as_deref() != Some(TOKEN_SECRET_TYPE) {
        return Ok(Action::await_change());
    }
    match time_left(&secret, Timestamp::now()) {
        None => Ok(Action::await_change()),
        Some(left) if !left.is_zero() => Ok(Action::requeue(left)),
        Some(_) => {
            tracing::info!(secret = %secret.name_any(), "deleting expired bootstrap token secret");
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: secret.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match secrets.delete(&secret.name_any(), &params).await {
                Ok(_) => Ok(Action::await_change()),
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                    Ok(Action::await_change())
                }
                Err(e) => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn token(expiration: Option<&str>) -> Secret {
        Secret {
            type_: Some(TOKEN_SECRET_TYPE.into()),
            data: Some(
                expiration
                    .map(|e| {
                        (
                            EXPIRATION_KEY.to_string(),
                            ByteString(e.as_bytes().to_vec()),
                        )
                    })
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn expiration_decides() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(time_left(&token(None), now), None);
        assert_eq!(
            time_left(&token(Some("2025-12-31T23:00:00Z")), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            time_left(&token(Some("2026-01-01T00:01:00Z")), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            time_left(&token(Some("2026-01-01T01:00:00+01:00")), now),
            Some(Duration::ZERO)
        );
        // Unparseable: treated as expired, as upstream does.
        assert_eq!(
            time_left(&token(Some("tomorrow")), now),
            Some(Duration::ZERO)
        );
    }
}

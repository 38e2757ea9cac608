//! Events as controllers record them: one `events.k8s.io/v1` Event per distinct message
//! about an object, so `kubectl describe` lists each step (kube-runtime's recorder folds
//! different messages with the same reason into one series).

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;

#[derive(Clone)]
pub struct Events {
    client: Client,
    controller: &'static str,
}

impl Events {
    pub fn new(client: Client, controller: &'static str) -> Self {
        Events { client, controller }
    }

    /// Record `note` about `regarding`; failures are logged, never fatal to a reconcile.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let ns = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let ev = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", regarding.name.clone().unwrap_or_default())),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            reporting_controller: Some(self.controller.into()),
            reporting_instance: Some(format!("{}-k8rs", self.controller)),
            action: Some(action.into()),
            reason: Some(reason.into()),
            note: Some(note),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            regarding: Some(regarding.clone()),
            ..Default::default()
        };
        if let Err(e) = Api::<Event>::namespaced(self.client.clone(), &ns)
            .create(&PostParams::default(), &ev)
            .await
        {
            tracing::debug!("recording event: {e}");
        }
    }

    /// Delete `name` through `api` and record `SuccessfulDelete` with `note` about
    /// `regarding`; an object already gone is not an error (someone else deleted it).
    pub async fn delete<K>(
        &self,
        api: &Api<K>,
        name: &str,
        params: &kube::api::DeleteParams,
        regarding: &ObjectReference,
        note: String,
    ) -> Result<(), kube::Error>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match api.delete(name, params).await {
            Ok(_) => {
                self.publish(regarding, false, "SuccessfulDelete", "Delete", note)
                    .await;
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

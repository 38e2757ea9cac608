//! The built-in resources of Kubernetes v1.33 that are served by default (GA versions).
//!
//! Group, version, kind, plural and scope come from the generated k8s-openapi types; what
//! the types do not carry (short names, categories, status subresource, selectable fields,
//! name rules) is the small table below.

use std::sync::Arc;

use k8s_openapi::api::{
    admissionregistration::v1 as admreg, apps::v1 as apps, authentication::v1 as authn,
    authorization::v1 as authz, autoscaling::v1 as as1, autoscaling::v2 as as2, batch::v1 as batch,
    certificates::v1 as certs, coordination::v1 as coord, core::v1 as core, discovery::v1 as disc,
    events::v1 as events, flowcontrol::v1 as flow, networking::v1 as net, node::v1 as node,
    policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as sched, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;
use k8s_openapi::{ClusterResourceScope, ListableResource, NamespaceResourceScope, Resource};
use serde::{de::DeserializeOwned, Serialize};

use crate::conversion::{Conversion, EventsV1, HpaV1};
use crate::resource::{NameRule, ResourceInfo, Virtual, ALL_VERBS};
use crate::schema::Typed;

/// Whether a k8s-openapi scope marker is namespaced.
pub trait Scope {
    const NAMESPACED: bool;
}
impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// Per-resource facts the generated types do not carry.
#[derive(Default)]
struct Extra {
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    fields: &'static [(&'static str, &'static [&'static str])],
    name_rule: Option<NameRule>,
    /// Stored in another version's form, under that group's keys.
    stored_as: Option<(&'static str, Arc<dyn Conversion>)>,
}

fn res<T>(extra: Extra) -> ResourceInfo
where
    T: Resource + ListableResource + Serialize + DeserializeOwned + 'static,
    T::Scope: Scope,
{
    ResourceInfo {
        group: T::GROUP.to_string(),
        version: T::VERSION.to_string(),
        kind: T::KIND.to_string(),
        list_kind: T::LIST_KIND.to_string(),
        plural: T::URL_PATH_SEGMENT.to_string(),
        singular: T::KIND.to_ascii_lowercase(),
        namespaced: <T::Scope as Scope>::NAMESPACED,
        short_names: extra.short.iter().map(|s| s.to_string()).collect(),
        categories: extra.categories.iter().map(|s| s.to_string()).collect(),
        verbs: ALL_VERBS.to_vec(),
        status_subresource: extra.status,
        scale_subresource: extra.scale,
        selectable_fields: extra.fields.to_vec(),
        name_rule: extra.name_rule.unwrap_or(NameRule::Subdomain),
        schema: Arc::new(Typed::<T>::new()),
        rust_type: std::any::type_name::<T>(),
        virtual_kind: None,
        storage_group: extra
            .stored_as
            .as_ref()
            .map_or(T::GROUP, |(g, _)| *g)
            .to_string(),
        conversion: extra.stored_as.map(|(_, c)| c),
        custom: None,
    }
}

/// A resource answered by computation: `create`-only reviews, read-only statuses.
fn computed<T>(
    kind: Virtual,
    verbs: &[&'static str],
    short: &'static [&'static str],
) -> ResourceInfo
where
    T: Resource + Serialize + DeserializeOwned + 'static,
    T::Scope: Scope,
{
    ResourceInfo {
        group: T::GROUP.to_string(),
        version: T::VERSION.to_string(),
        kind: T::KIND.to_string(),
        list_kind: format!("{}List", T::KIND),
        plural: T::URL_PATH_SEGMENT.to_string(),
        singular: T::KIND.to_ascii_lowercase(),
        namespaced: <T::Scope as Scope>::NAMESPACED,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: Vec::new(),
        verbs: verbs.to_vec(),
        status_subresource: false,
        scale_subresource: false,
        selectable_fields: Vec::new(),
        name_rule: NameRule::Subdomain,
        schema: Arc::new(Typed::<T>::new()),
        rust_type: std::any::type_name::<T>(),
        virtual_kind: Some(kind),
        storage_group: T::GROUP.to_string(),
        conversion: None,
        custom: None,
    }
}

const ALL: &[&str] = &["all"];

const POD_FIELDS: &[(&str, &[&str])] = &[
    ("spec.nodeName", &["spec", "nodeName"]),
    ("spec.restartPolicy", &["spec", "restartPolicy"]),
    ("spec.schedulerName", &["spec", "schedulerName"]),
    ("spec.serviceAccountName", &["spec", "serviceAccountName"]),
    ("spec.hostNetwork", &["spec", "hostNetwork"]),
    ("status.phase", &["status", "phase"]),
    ("status.podIP", &["status", "podIP"]),
    ("status.nominatedNodeName", &["status", "nominatedNodeName"]),
];

const EVENT_FIELDS: &[(&str, &[&str])] = &[
    ("involvedObject.kind", &["involvedObject", "kind"]),
    ("involvedObject.namespace", &["involvedObject", "namespace"]),
    ("involvedObject.name", &["involvedObject", "name"]),
    ("involvedObject.uid", &["involvedObject", "uid"]),
    (
        "involvedObject.apiVersion",
        &["involvedObject", "apiVersion"],
    ),
    (
        "involvedObject.resourceVersion",
        &["involvedObject", "resourceVersion"],
    ),
    ("involvedObject.fieldPath", &["involvedObject", "fieldPath"]),
    ("reason", &["reason"]),
    ("reportingComponent", &["reportingComponent"]),
    ("source", &["source", "component"]),
    ("type", &["type"]),
];

/// Every built-in resource, in discovery order within each group-version.
pub fn resources() -> Vec<ResourceInfo> {
    use NameRule::*;
    let e = Extra::default;
    vec![
        // core/v1
        computed::<core::ComponentStatus>(Virtual::ComponentStatus, &["get", "list"], &["cs"]),
        res::<core::ConfigMap>(Extra {
            short: &["cm"],
            ..e()
        }),
        res::<core::Endpoints>(Extra {
            short: &["ep"],
            ..e()
        }),
        res::<core::Event>(Extra {
            short: &["ev"],
            fields: EVENT_FIELDS,
            ..e()
        }),
        res::<core::LimitRange>(Extra {
            short: &["limits"],
            ..e()
        }),
        res::<core::Namespace>(Extra {
            short: &["ns"],
            status: true,
            fields: &[("status.phase", &["status", "phase"])],
            name_rule: Some(Label),
            ..e()
        }),
        res::<core::Node>(Extra {
            short: &["no"],
            status: true,
            fields: &[("spec.unschedulable", &["spec", "unschedulable"])],
            ..e()
        }),
        res::<core::PersistentVolumeClaim>(Extra {
            short: &["pvc"],
            status: true,
            ..e()
        }),
        res::<core::PersistentVolume>(Extra {
            short: &["pv"],
            status: true,
            ..e()
        }),
        res::<core::Pod>(Extra {
            short: &["po"],
            categories: ALL,
            status: true,
            fields: POD_FIELDS,
            ..e()
        }),
        res::<core::PodTemplate>(e()),
        res::<core::ReplicationController>(Extra {
            short: &["rc"],
            categories: ALL,
            status: true,
            scale: true,
            fields: &[("status.replicas", &["status", "replicas"])],
            ..e()
        }),
        res::<core::ResourceQuota>(Extra {
            short: &["quota"],
            status: true,
            ..e()
        }),
        res::<core::Secret>(Extra {
            fields: &[("type", &["type"])],
            ..e()
        }),
        res::<core::ServiceAccount>(Extra {
            short: &["sa"],
            ..e()
        }),
        res::<core::Service>(Extra {
            short: &["svc"],
            categories: ALL,
            status: true,
            name_rule: Some(Label),
            ..e()
        }),
        // admissionregistration.k8s.io/v1
        res::<admreg::MutatingWebhookConfiguration>(Extra {
            categories: &["api-extensions"],
            ..e()
        }),
        res::<admreg::ValidatingAdmissionPolicy>(Extra {
            categories: &["api-extensions"],
            status: true,
            ..e()
        }),
        res::<admreg::ValidatingAdmissionPolicyBinding>(Extra {
            categories: &["api-extensions"],
            ..e()
        }),
        res::<admreg::ValidatingWebhookConfiguration>(Extra {
            categories: &["api-extensions"],
            ..e()
        }),
        // apiextensions.k8s.io/v1
        res::<apiext::CustomResourceDefinition>(Extra {
            short: &["crd", "crds"],
            categories: &["api-extensions"],
            status: true,
            ..e()
        }),
        // apiregistration.k8s.io/v1
        res::<apireg::APIService>(Extra {
            categories: &["api-extensions"],
            status: true,
            ..e()
        }),
        // authentication.k8s.io/v1, authorization.k8s.io/v1
        computed::<authn::SelfSubjectReview>(Virtual::SelfSubjectReview, &["create"], &[]),
        computed::<authn::TokenReview>(Virtual::TokenReview, &["create"], &[]),
        computed::<authz::LocalSubjectAccessReview>(
            Virtual::LocalSubjectAccessReview,
            &["create"],
            &[],
        ),
        computed::<authz::SelfSubjectAccessReview>(
            Virtual::SelfSubjectAccessReview,
            &["create"],
            &[],
        ),
        computed::<authz::SelfSubjectRulesReview>(
            Virtual::SelfSubjectRulesReview,
            &["create"],
            &[],
        ),
        computed::<authz::SubjectAccessReview>(Virtual::SubjectAccessReview, &["create"], &[]),
        // apps/v1
        res::<apps::ControllerRevision>(e()),
        res::<apps::DaemonSet>(Extra {
            short: &["ds"],
            categories: ALL,
            status: true,
            ..e()
        }),
        res::<apps::Deployment>(Extra {
            short: &["deploy"],
            categories: ALL,
            status: true,
            scale: true,
            ..e()
        }),
        res::<apps::ReplicaSet>(Extra {
            short: &["rs"],
            categories: ALL,
            status: true,
            scale: true,
            fields: &[("status.replicas", &["status", "replicas"])],
            ..e()
        }),
        res::<apps::StatefulSet>(Extra {
            short: &["sts"],
            categories: ALL,
            status: true,
            scale: true,
            ..e()
        }),
        // autoscaling: v1 is stored as v2
        res::<as1::HorizontalPodAutoscaler>(Extra {
            short: &["hpa"],
            categories: ALL,
            status: true,
            stored_as: Some(("autoscaling", Arc::new(HpaV1))),
            ..e()
        }),
        res::<as2::HorizontalPodAutoscaler>(Extra {
            short: &["hpa"],
            categories: ALL,
            status: true,
            ..e()
        }),
        // batch/v1
        res::<batch::CronJob>(Extra {
            short: &["cj"],
            categories: ALL,
            status: true,
            ..e()
        }),
        res::<batch::Job>(Extra {
            categories: ALL,
            status: true,
            fields: &[("status.successful", &["status", "succeeded"])],
            ..e()
        }),
        // certificates.k8s.io/v1
        res::<certs::CertificateSigningRequest>(Extra {
            short: &["csr"],
            status: true,
            fields: &[("spec.signerName", &["spec", "signerName"])],
            ..e()
        }),
        // coordination.k8s.io/v1
        res::<coord::Lease>(e()),
        // discovery.k8s.io/v1
        res::<disc::EndpointSlice>(e()),
        // events.k8s.io/v1
        res::<events::Event>(Extra {
            short: &["ev"],
            stored_as: Some(("", Arc::new(EventsV1))),
            ..e()
        }),
        // flowcontrol.apiserver.k8s.io/v1
        res::<flow::FlowSchema>(Extra {
            status: true,
            ..e()
        }),
        res::<flow::PriorityLevelConfiguration>(Extra {
            status: true,
            ..e()
        }),
        // networking.k8s.io/v1
        res::<net::IngressClass>(e()),
        res::<net::Ingress>(Extra {
            short: &["ing"],
            status: true,
            ..e()
        }),
        res::<net::IPAddress>(Extra {
            short: &["ip"],
            ..e()
        }),
        res::<net::NetworkPolicy>(Extra {
            short: &["netpol"],
            ..e()
        }),
        res::<net::ServiceCIDR>(Extra {
            status: true,
            ..e()
        }),
        // node.k8s.io/v1
        res::<node::RuntimeClass>(e()),
        // policy/v1
        res::<policy::PodDisruptionBudget>(Extra {
            short: &["pdb"],
            status: true,
            ..e()
        }),
        // rbac.authorization.k8s.io/v1
        res::<rbac::ClusterRoleBinding>(Extra {
            name_rule: Some(PathSegment),
            ..e()
        }),
        res::<rbac::ClusterRole>(Extra {
            name_rule: Some(PathSegment),
            ..e()
        }),
        res::<rbac::RoleBinding>(Extra {
            name_rule: Some(PathSegment),
            ..e()
        }),
        res::<rbac::Role>(Extra {
            name_rule: Some(PathSegment),
            ..e()
        }),
        // scheduling.k8s.io/v1
        res::<sched::PriorityClass>(Extra {
            short: &["pc"],
            ..e()
        }),
        // storage.k8s.io/v1
        res::<storage::CSIDriver>(e()),
        res::<storage::CSINode>(e()),
        res::<storage::CSIStorageCapacity>(e()),
        res::<storage::StorageClass>(Extra {
            short: &["sc"],
            ..e()
        }),
        res::<storage::VolumeAttachment>(Extra {
            status: true,
            ..e()
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_derived_from_the_generated_types() {
        let all = resources();
        let deploy = all.iter().find(|r| r.plural == "deployments").unwrap();
        assert_eq!(
            (
                deploy.group.as_str(),
                deploy.version.as_str(),
                deploy.kind.as_str()
            ),
            ("apps", "v1", "Deployment")
        );
        assert!(deploy.namespaced);
        let ns = all.iter().find(|r| r.plural == "namespaces").unwrap();
        assert!(!ns.namespaced);
        assert_eq!(ns.list_kind, "NamespaceList");
        assert_eq!(ns.key(Some("x"), "a"), "/registry/namespaces/a");
        assert_eq!(deploy.key(Some("d"), "w"), "/registry/apps/deployments/d/w");
    }

    #[test]
    fn plurals_are_unique_per_group_version() {
        let all = resources();
        let mut seen = std::collections::HashSet::new();
        for r in &all {
            assert!(seen.insert((r.group.clone(), r.version.clone(), r.plural.clone())));
        }
    }
}

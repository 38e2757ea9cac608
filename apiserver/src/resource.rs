//! The description of one served resource: everything routing, discovery, OpenAPI, storage
//! keys and the generic handler need to know about it, in one place.

use std::sync::Arc;

use serde_json::Value;

use crate::conversion::Conversion;
use crate::schema::ObjectSchema;

/// Verbs a resource answers, in discovery order.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

#[derive(Clone)]
pub struct ResourceInfo {
    /// API group; empty for the core ("legacy") group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    /// The URL segment: `deployments`.
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<&'static str>,
    /// Has a `/status` subresource: main-resource writes keep the stored status and
    /// `metadata.generation` tracks spec changes.
    pub status_subresource: bool,
    /// Has a `/scale` subresource (autoscaling/v1 Scale over `spec.replicas`).
    pub scale_subresource: bool,
    /// Field selectors beyond metadata.name / metadata.namespace: selector name -> JSON path.
    pub selectable_fields: Vec<(&'static str, &'static [&'static str])>,
    /// Name validation rule for `metadata.name`.
    pub name_rule: NameRule,
    /// Typed decoding: defaults nothing, but rejects wrongly typed fields and reports unknown ones.
    pub schema: Arc<dyn ObjectSchema>,
    /// The k8s-openapi type behind the resource (`std::any::type_name`), which also names
    /// its protobuf message.
    pub rust_type: &'static str,
    /// Not stored: answered by computation (reviews, component statuses).
    pub virtual_kind: Option<Virtual>,
    /// Group whose storage this resource shares (its own group unless converted).
    pub storage_group: String,
    /// Present when the resource is stored in another version's form.
    pub conversion: Option<Arc<dyn Conversion>>,
    /// A custom resource's behaviour, from its CustomResourceDefinition.
    pub custom: Option<Arc<crate::crd::custom::Custom>>,
}

/// Resources computed per request instead of stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Virtual {
    SelfSubjectReview,
    TokenReview,
    SubjectAccessReview,
    LocalSubjectAccessReview,
    SelfSubjectAccessReview,
    SelfSubjectRulesReview,
    ComponentStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: most resources.
    Subdomain,
    /// RFC 1123 label: namespaces, services.
    Label,
    /// Any string usable as a path segment: RBAC objects, nodes' ... (upstream's
    /// `ValidatePathSegmentName`).
    PathSegment,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `configmaps` or `deployments.apps`: how upstream names the resource in messages.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Storage prefix shared by every version of the resource:
    /// `/registry/<group>/<resource>/` (no group segment for the core group).
    pub fn key_prefix(&self) -> String {
        if self.storage_group.is_empty() {
            format!("/registry/{}/", self.plural)
        } else {
            format!("/registry/{}/{}/", self.storage_group, self.plural)
        }
    }

    pub fn to_served(&self, stored: Value) -> Value {
        match &self.conversion {
            Some(c) => c.to_served(stored),
            None => stored,
        }
    }

    pub fn to_storage(&self, obj: Value) -> Value {
        match &self.conversion {
            Some(c) => c.to_storage(obj),
            None => obj,
        }
    }

    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{}/{}", self.key_prefix(), ns, name),
            _ => format!("{}{}", self.key_prefix(), name),
        }
    }

    /// Prefix of the keys in one namespace, or of all keys.
    pub fn list_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{}/", self.key_prefix(), ns),
            _ => self.key_prefix(),
        }
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Value of a field selector's field on an object, or `None` if the field is not
    /// selectable on this resource.
    pub fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(str_at(obj, &["metadata", "name"])),
            "metadata.namespace" if self.namespaced => {
                Some(str_at(obj, &["metadata", "namespace"]))
            }
            _ => self
                .selectable_fields
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, path)| str_at(obj, path)),
        }
    }
}

/// Field selector value of a JSON path: strings as they are, booleans and numbers printed,
/// missing as the empty string (as upstream's field sets do).
fn str_at(obj: &Value, path: &[&str]) -> String {
    let mut cur = obj;
    for p in path {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

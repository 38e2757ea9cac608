//! Component schemas (`components.schemas` of the v3 documents, `definitions` of v2),
//! generated from k8s-openapi's `schemars::JsonSchema` impls, which carry upstream's
//! definition names and descriptions, plus what those impls leave out:
//!
//! - `x-kubernetes-group-version-kind` on every served kind and its list;
//! - the per-field patch and list markers (`x-kubernetes-patch-strategy`,
//!   `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//!   `x-kubernetes-map-type`) and `+structType=atomic`, from the generated protobuf schema
//!   table (`protobuf/schema.json`), which records the Go markers of k8s.io/api;
//! - the list kinds (`PodList`, ...), which k8s-openapi models as one generic `List<T>`;
//! - upstream's own forms of `Quantity` and `IntOrString` for each OpenAPI version.
//!
//! Definitions are generated into a [`Catalog`] (references as `#/components/schemas/<name>`),
//! rendered once per OpenAPI version (v3: a `$ref` with siblings moves into `allOf`; v2:
//! `#/definitions/` references) into serialized text, and each document writes the closure
//! of its roots from that text.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::{
    admissionregistration::v1 as admreg, apps::v1 as apps, authentication::v1 as authn,
    authorization::v1 as authz, autoscaling::v1 as as1, autoscaling::v2 as as2, batch::v1 as batch,
    certificates::v1 as certs, coordination::v1 as coord, core::v1 as core, discovery::v1 as disc,
    events::v1 as events, flowcontrol::v1 as flow, networking::v1 as net, node::v1 as node,
    policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as sched, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;
use k8s_openapi::schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::protobuf::schema::{ListType, PatchMeta, Schema};
use crate::resource::ResourceInfo;

/// Where the catalog's (and v3's) references point.
pub const V3_PREFIX: &str = "#/components/schemas/";
/// Where Swagger 2.0 references point.
pub const V2_PREFIX: &str = "#/definitions/";

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// The body of `/scale` subresources.
pub const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

/// The meta definitions every group-version document carries (its operations' bodies and
/// answers), as upstream's do.
pub const META_ROOTS: &[&str] = &[
    API_RESOURCE_LIST,
    DELETE_OPTIONS,
    PATCH,
    STATUS,
    WATCH_EVENT,
];

/// One k8s-openapi type a resource may be served as.
struct Entry {
    /// `std::any::type_name` of the type: what `ResourceInfo::rust_type` holds.
    type_name: fn() -> &'static str,
    /// Upstream's definition name (`io.k8s.api.core.v1.Pod`).
    schema_name: fn() -> Cow<'static, str>,
    /// Adds the type's definition, and all it references, to the generator.
    register: fn(&mut SchemaGenerator),
}

fn register<T: JsonSchema>(gen: &mut SchemaGenerator) {
    gen.subschema_for::<T>();
}

macro_rules! entries {
    ($($t:ty),* $(,)?) => {
        &[$(Entry {
            type_name: std::any::type_name::<$t>,
            schema_name: <$t as JsonSchema>::schema_name,
            register: register::<$t>,
        }),*]
    };
}

/// The types behind the built-in resources (builtin.rs). Resources are described by their
/// `type_name` only, so the schema impl is found here; a unit test keeps the two in step.
static KINDS: &[Entry] = entries![
    core::ComponentStatus,
    core::ConfigMap,
    core::Endpoints,
    core::Event,
    core::LimitRange,
    core::Namespace,
    core::Node,
    core::PersistentVolumeClaim,
    core::PersistentVolume,
    core::Pod,
    core::PodTemplate,
    core::ReplicationController,
    core::ResourceQuota,
    core::Secret,
    core::ServiceAccount,
    core::Service,
    admreg::MutatingWebhookConfiguration,
    admreg::ValidatingAdmissionPolicy,
    admreg::ValidatingAdmissionPolicyBinding,
    admreg::ValidatingWebhookConfiguration,
    apiext::CustomResourceDefinition,
    apireg::APIService,
    authn::SelfSubjectReview,
    authn::TokenReview,
    authz::LocalSubjectAccessReview,
    authz::SelfSubjectAccessReview,
    authz::SelfSubjectRulesReview,
    authz::SubjectAccessReview,
    apps::ControllerRevision,
    apps::DaemonSet,
    apps::Deployment,
    apps::ReplicaSet,
    apps::StatefulSet,
    as1::HorizontalPodAutoscaler,
    as2::HorizontalPodAutoscaler,
    batch::CronJob,
    batch::Job,
    certs::CertificateSigningRequest,
    coord::Lease,
    disc::EndpointSlice,
    events::Event,
    flow::FlowSchema,
    flow::PriorityLevelConfiguration,
    net::IngressClass,
    net::Ingress,
    net::IPAddress,
    net::NetworkPolicy,
    net::ServiceCIDR,
    node::RuntimeClass,
    policy::PodDisruptionBudget,
    rbac::ClusterRoleBinding,
    rbac::ClusterRole,
    rbac::RoleBinding,
    rbac::Role,
    sched::PriorityClass,
    storage::CSIDriver,
    storage::CSINode,
    storage::CSIStorageCapacity,
    storage::StorageClass,
    storage::VolumeAttachment,
];

/// The meta types of [`META_ROOTS`] (and ListMeta, which every list references), and
/// [`SCALE`].
static META: &[Entry] = entries![
    as1::Scale,
    meta::APIResourceList,
    meta::DeleteOptions,
    meta::ListMeta,
    meta::Patch,
    meta::Status,
    meta::WatchEvent<meta::Status>,
];

fn entry(rust_type: &str) -> Option<&'static Entry> {
    KINDS.iter().find(|e| (e.type_name)() == rust_type)
}

/// The definition name of a resource's kind: upstream's for built-in types; for anything
/// else the reverse-domain name upstream gives custom resources (`com.example.v1.Widget`).
pub fn kind_name(r: &ResourceInfo) -> String {
    match entry(r.rust_type) {
        Some(e) => (e.schema_name)().into_owned(),
        None => {
            let mut parts: Vec<&str> = r.group.split('.').filter(|p| !p.is_empty()).collect();
            parts.reverse();
            if parts.is_empty() {
                parts.push("core");
            }
            format!("{}.{}.{}", parts.join("."), r.version, r.kind)
        }
    }
}

/// The definition name of a resource's list kind: its kind's, with the list kind's name.
pub fn list_name(r: &ResourceInfo) -> String {
    let kind = kind_name(r);
    match kind.rsplit_once('.') {
        Some((prefix, _)) => format!("{prefix}.{}", r.list_kind),
        None => r.list_kind.clone(),
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// The protobuf schema message of a definition name: `io.k8s.api.core.v1.PodSpec` ->
/// `api::core::v1::podspec` (Go package paths with `-` become Rust modules with `_`).
fn message_key(def: &str) -> Option<String> {
    let rest = def.strip_prefix("io.k8s.")?;
    Some(
        rest.replace('-', "_")
            .replace('.', "::")
            .to_ascii_lowercase(),
    )
}

/// `+patchStrategy` as upstream writes it (`merge`, `retainKeys`, `merge,retainKeys`, ...).
fn strategy_text(meta: &PatchMeta) -> Option<String> {
    let s = meta.strategy;
    let parts: Vec<&str> = [
        (s.merge, "merge"),
        (s.replace, "replace"),
        (s.retain_keys, "retainKeys"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// The extensions upstream's OpenAPI gives a field with these markers.
fn field_extensions(meta: &PatchMeta, out: &mut Map<String, Value>) {
    if let Some(s) = strategy_text(meta) {
        out.insert("x-kubernetes-patch-strategy".into(), json!(s));
    }
    if let Some(k) = &meta.merge_key {
        out.insert("x-kubernetes-patch-merge-key".into(), json!(&**k));
    }
    if let Some(t) = meta.list_type {
        let t = match t {
            ListType::Atomic => "atomic",
            ListType::Set => "set",
            ListType::Map => "map",
        };
        out.insert("x-kubernetes-list-type".into(), json!(t));
    }
    if !meta.list_map_keys.is_empty() {
        let keys: Vec<&str> = meta.list_map_keys.iter().map(|k| &**k).collect();
        out.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    }
    if let Some(m) = &meta.map_type {
        out.insert("x-kubernetes-map-type".into(), json!(&**m));
    }
}

/// Adds the Go markers recorded in the protobuf schema to a definition and its properties.
fn add_markers(schema: &Schema, name: &str, def: &mut Value) {
    let Some(msg) = message_key(name).and_then(|k| schema.message(&k)) else {
        return;
    };
    let Some(obj) = def.as_object_mut() else {
        return;
    };
    if schema.messages.get(msg).is_some_and(|m| m.atomic) {
        obj.insert("x-kubernetes-map-type".into(), json!("atomic"));
    }
    let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, prop) in props.iter_mut() {
        let meta = schema
            .field_by_json(msg, field)
            .and_then(|f| f.patch.as_deref());
        if let (Some(meta), Some(prop)) = (meta, prop.as_object_mut()) {
            field_extensions(meta, prop);
        }
    }
}

/// k8s-openapi marks `metadata` required on every resource (its Rust field is not optional);
/// upstream never requires it.
fn unrequire_metadata(def: &mut Value) {
    let meta_ref = def
        .pointer("/properties/metadata/$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(V3_PREFIX));
    if !matches!(meta_ref, Some(OBJECT_META | LIST_META)) {
        return;
    }
    let Some(obj) = def.as_object_mut() else {
        return;
    };
    let empty = match obj.get_mut("required").and_then(Value::as_array_mut) {
        Some(req) => {
            req.retain(|f| f != "metadata");
            req.is_empty()
        }
        None => false,
    };
    if empty {
        obj.remove("required");
    }
}

/// A list kind's definition, in upstream's shape (k8s-openapi has one generic `List<T>`
/// without a schema; the descriptions are its).
fn list_def(kind_def: &Value, kind_name: &str) -> Value {
    let prop = |p: &str| {
        kind_def
            .pointer(&format!("/properties/{p}"))
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}))
    };
    json!({
        "description": "List is a list of resources.",
        "type": "object",
        "properties": {
            "apiVersion": prop("apiVersion"),
            "kind": prop("kind"),
            "items": {
                "description": "List of objects.",
                "type": "array",
                "items": {"$ref": format!("{V3_PREFIX}{kind_name}")},
            },
            "metadata": {
                "$ref": format!("{V3_PREFIX}{LIST_META}"),
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        "required": ["items"],
    })
}

/// A kind without a generated schema (not a built-in type): an object that keeps any field.
fn opaque_def() -> Value {
    json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

fn push_gvk(def: &mut Value, gvk: Value) {
    if let Some(obj) = def.as_object_mut() {
        let list = obj
            .entry("x-kubernetes-group-version-kind")
            .or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            if !list.contains(&gvk) {
                list.push(gvk);
            }
        }
    }
}

/// Every definition the served resources need, with references as `#/components/schemas/`.
pub struct Catalog {
    defs: BTreeMap<String, Value>,
}

impl Catalog {
    /// Generates the definitions of `resources`' kinds and lists and of the meta types.
    pub fn build(resources: &[ResourceInfo]) -> Catalog {
        // No transforms: references keep their `description` siblings, and each document
        // flavour rewrites them its own way.
        let settings = SchemaSettings::openapi3().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.transforms.clear();
        });
        let mut gen = settings.into_generator();
        for e in META {
            (e.register)(&mut gen);
        }
        for r in resources {
            if let Some(e) = entry(r.rust_type) {
                (e.register)(&mut gen);
            }
        }
        let mut defs: BTreeMap<String, Value> = gen.take_definitions(false).into_iter().collect();

        // Field markers first: list definitions copy properties of their kinds.
        let pb = Schema::get().ok();
        for (name, def) in defs.iter_mut() {
            unrequire_metadata(def);
            if let Some(pb) = pb {
                add_markers(pb, name, def);
            }
        }

        for r in resources {
            let kind = kind_name(r);
            let def = defs.entry(kind.clone()).or_insert_with(|| {
                r.custom
                    .as_ref()
                    .and_then(|c| c.openapi_def())
                    .unwrap_or_else(opaque_def)
            });
            push_gvk(def, gvk(&r.group, &r.version, &r.kind));
            if r.has_verb("list") {
                let mut list = list_def(def, &kind);
                push_gvk(&mut list, gvk(&r.group, &r.version, &r.list_kind));
                defs.insert(list_name(r), list);
            }
        }

        // Upstream registers the option and event kinds in every group-version.
        let mut gvs: Vec<(&str, &str)> = resources
            .iter()
            .map(|r| (r.group.as_str(), r.version.as_str()))
            .collect();
        gvs.sort_unstable();
        gvs.dedup();
        for name in [DELETE_OPTIONS, WATCH_EVENT] {
            let kind = name.rsplit('.').next().unwrap_or(name);
            if let Some(def) = defs.get_mut(name) {
                for (g, v) in &gvs {
                    push_gvk(def, gvk(g, v, kind));
                }
            }
        }
        if let Some(def) = defs.get_mut(SCALE) {
            push_gvk(def, gvk("autoscaling", "v1", "Scale"));
        }
        for name in [STATUS, API_RESOURCE_LIST] {
            let kind = name.rsplit('.').next().unwrap_or(name);
            if let Some(def) = defs.get_mut(name) {
                push_gvk(def, gvk("", "v1", kind));
            }
        }
        Catalog { defs }
    }

    /// Every definition in one OpenAPI version's style, serialized once: documents share
    /// most definitions (ObjectMeta, PodSpec, ...), and holding them as text instead of
    /// `Value` trees keeps the build's peak memory down.
    pub fn render(self, v2: bool) -> Rendered {
        let defs = self
            .defs
            .into_iter()
            .filter_map(|(name, def)| {
                let mut refs: Vec<Box<str>> = Vec::new();
                collect_refs(&def, &mut |r| refs.push(r.into()));
                refs.sort_unstable();
                refs.dedup();
                let mut def = special_form(&name, &def, v2).unwrap_or(def);
                if v2 {
                    rewrite_refs(&mut def);
                    drop_one_of(&mut def);
                } else {
                    wrap_refs(&mut def);
                }
                // Serializing a Value cannot fail; a definition that somehow did would be
                // left out (and the document test that every reference resolves would say).
                let json = serde_json::value::to_raw_value(&def).ok()?;
                Some((
                    name,
                    RenderedDef {
                        refs: refs.into_boxed_slice(),
                        json,
                    },
                ))
            })
            .collect();
        Rendered { defs }
    }
}

struct RenderedDef {
    /// The definitions this one references.
    refs: Box<[Box<str>]>,
    json: Box<RawValue>,
}

/// The serialized definitions of one OpenAPI version.
pub struct Rendered {
    defs: BTreeMap<String, RenderedDef>,
}

impl Rendered {
    /// The names of `roots` and every definition they reference, directly or not.
    pub fn closure<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = roots.into_iter().collect();
        while let Some(name) = todo.pop() {
            let Some((name, def)) = self.defs.get_key_value(name) else {
                continue;
            };
            if !seen.insert(name.clone()) {
                continue;
            }
            todo.extend(def.refs.iter().map(|r| &**r).filter(|r| !seen.contains(*r)));
        }
        seen
    }

    /// The named definitions, serializable as a document's `components.schemas` (v2:
    /// `definitions`) object.
    pub fn schemas<'a>(&'a self, names: &'a BTreeSet<String>) -> Schemas<'a> {
        Schemas {
            rendered: self,
            names,
        }
    }
}

/// A map of definitions, written from their serialized text.
pub struct Schemas<'a> {
    rendered: &'a Rendered,
    names: &'a BTreeSet<String>,
}

impl Serialize for Schemas<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for name in self.names {
            if let Some(def) = self.rendered.defs.get(name) {
                map.serialize_entry(name, &*def.json)?;
            }
        }
        map.end()
    }
}

/// Upstream's own schemas of the types with custom JSON forms (kube-openapi's
/// `OpenAPISchemaType` / `OpenAPIV3OneOfTypes`), where k8s-openapi writes the
/// `x-kubernetes-int-or-string` form CRDs use.
fn special_form(name: &str, def: &Value, v2: bool) -> Option<Value> {
    let description = def.get("description").cloned().unwrap_or(Value::Null);
    let form = match (name, v2) {
        (QUANTITY, false) => json!({"oneOf": [{"type": "string"}, {"type": "number"}]}),
        (QUANTITY, true) => json!({"type": "string"}),
        (INT_OR_STRING, false) => json!({
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }),
        (INT_OR_STRING, true) => json!({"format": "int-or-string", "type": "string"}),
        _ => return None,
    };
    let mut form = form;
    if let (Some(obj), false) = (form.as_object_mut(), description.is_null()) {
        obj.insert("description".into(), description);
    }
    Some(form)
}

/// Calls `f` with the definition name of every `$ref` in `v`.
fn collect_refs(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(V3_PREFIX) {
                            f(name);
                        }
                    }
                    _ => collect_refs(child, f),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_refs(c, f)),
        _ => {}
    }
}

/// Swagger 2.0 references: `#/definitions/<name>`.
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                match child {
                    Value::String(r) if k == "$ref" => {
                        if let Some(name) = r.strip_prefix(V3_PREFIX) {
                            *r = format!("{V2_PREFIX}{name}");
                        }
                    }
                    _ => rewrite_refs(child),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// Swagger 2.0 has no `oneOf` (k8s-openapi writes it for the apiextensions `...OrArray`
/// unions); upstream's v2 leaves those untyped. A keyword's value is a list; a property
/// named `oneOf` (JSONSchemaProps has one) is an object and stays.
fn drop_one_of(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if matches!(o.get("oneOf"), Some(Value::Array(_))) {
                o.remove("oneOf");
            }
            o.values_mut().for_each(drop_one_of);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_one_of),
        _ => {}
    }
}

/// OpenAPI 3.0 ignores the siblings of a `$ref`: like kube-openapi's `WrapRefs`, a reference
/// with any sibling (a field's description, its markers) moves into a one-element `allOf`.
/// kubectl explain then prints the field's description before the referenced type's.
fn wrap_refs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let wrap = matches!(o.get("$ref"), Some(Value::String(_))) && o.len() > 1;
            if wrap {
                if let Some(r) = o.remove("$ref") {
                    o.insert("allOf".into(), json!([{"$ref": r}]));
                }
            }
            for child in o.values_mut() {
                wrap_refs(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(wrap_refs),
        _ => {}
    }
}

#[cfg(test)]
pub fn kinds_type_names() -> Vec<&'static str> {
    KINDS.iter().map(|e| (e.type_name)()).collect()
}

//! What the server does to one served version of a custom resource: decode through its
//! structural schema (prune, default), validate (schema and CEL rules), convert between
//! the served and the storage version (`None` conversion: only `apiVersion` changes), and
//! the facts tables, scale and the OpenAPI documents need.

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};

use super::{cel, columns, structural};
use crate::conversion::Conversion;
use crate::resource::{NameRule, ResourceInfo, ALL_VERBS};
use crate::scale::CustomPaths;
use crate::schema::ObjectSchema;
use crate::status::Cause;

/// One served version of a CRD.
pub struct Custom {
    /// The CRD's name (`widgets.example.com`).
    pub crd: String,
    /// `group/version` objects are stored as.
    pub storage_api_version: String,
    /// `group/version` this resource serves.
    pub served_api_version: String,
    pub schema: Option<JSONSchemaProps>,
    pub rules: Option<cel::Rules>,
    pub columns: columns::Columns,
    pub scale: Option<CustomPaths>,
    /// The CRD is being deleted: no new objects.
    pub terminating: bool,
    pub deprecation_warning: Option<String>,
}

impl Custom {
    fn set_api_version(&self, mut obj: Value, api_version: &str) -> Value {
        if let Some(o) = obj.as_object_mut() {
            o.insert("apiVersion".into(), json!(api_version));
        }
        obj
    }

    /// Schema validation and the CEL rules, ratcheted against the stored object on update
    /// (errors in values the update left alone do not count; transition rules see
    /// `oldSelf`).
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
        let causes = match (&self.schema, old) {
            (Some(s), None) => structural::validate(s, obj),
            (Some(s), Some(old)) => structural::validate_update(s, obj, old),
            (None, _) => Vec::new(),
        };
        // Upstream skips CEL when the schema already failed: rules may assume valid input.
        if !causes.is_empty() {
            return causes;
        }
        match &self.rules {
            Some(rules) => rules.validate(obj, old),
            None => Vec::new(),
        }
    }
}

impl ObjectSchema for Custom {
    fn normalize(&self, obj: &Value) -> Result<(Value, Vec<String>), String> {
        let mut v = obj.clone();
        let mut unknown = Vec::new();
        // metadata is ObjectMeta whatever the schema says: typed like a built-in's.
        if let Some(meta) = v.get_mut("metadata") {
            if !meta.is_null() {
                let typed: ObjectMeta =
                    serde_json::from_value(meta.clone()).map_err(|e| e.to_string())?;
                let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
                for k in meta.as_object().into_iter().flat_map(|m| m.keys()) {
                    if back.get(k).is_none() && !meta[k].is_null() {
                        unknown.push(format!(".metadata.{k}"));
                    }
                }
                *meta = back;
            }
        }
        if let Some(schema) = &self.schema {
            unknown.extend(structural::prune(schema, &mut v));
            structural::default(schema, &mut v);
        }
        Ok((v, unknown))
    }
}

impl Conversion for Custom {
    fn to_storage(&self, obj: Value) -> Value {
        self.set_api_version(obj, &self.storage_api_version)
    }

    fn to_served(&self, obj: Value) -> Value {
        let mut v = self.set_api_version(obj, &self.served_api_version);
        // Defaults apply on read too: objects stored before a default was added get it.
        if let Some(schema) = &self.schema {
            structural::default(schema, &mut v);
        }
        v
    }
}

/// The storage version's name.
pub fn storage_version(crd: &CustomResourceDefinition) -> Option<&str> {
    crd.spec
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.as_str())
}

/// Whether the CRD has been marked for deletion.
pub fn is_terminating(crd: &CustomResourceDefinition) -> bool {
    crd.metadata.deletion_timestamp.is_some()
}

/// The resource description of one served version, with the names the CRD's status
/// accepted.
pub fn resource_info(
    crd: &CustomResourceDefinition,
    version: &CustomResourceDefinitionVersion,
    accepted: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionNames,
) -> ResourceInfo {
    let spec = &crd.spec;
    let group = spec.group.clone();
    let storage = storage_version(crd).unwrap_or(&version.name).to_string();
    let subresources = version.subresources.as_ref();
    let status_subresource = subresources.is_some_and(|s| s.status.is_some());
    let scale = subresources.and_then(|s| s.scale.as_ref()).map(|s| {
        CustomPaths::new(
            &s.spec_replicas_path,
            &s.status_replicas_path,
            s.label_selector_path.as_deref(),
        )
    });
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.clone());
    let rules = schema
        .as_ref()
        .and_then(|s| cel::Rules::compile(s, "").ok())
        .filter(|r| !r.is_empty());
    let columns = columns::Columns::new(
        version
            .additional_printer_columns
            .as_deref()
            .unwrap_or_default(),
    );
    let custom = Arc::new(Custom {
        crd: crd.metadata.name.clone().unwrap_or_default(),
        storage_api_version: format!("{group}/{storage}"),
        served_api_version: format!("{group}/{}", version.name),
        schema,
        rules,
        columns,
        scale: scale.clone(),
        terminating: is_terminating(crd),
        deprecation_warning: version.deprecated.unwrap_or(false).then(|| {
            version.deprecation_warning.clone().unwrap_or_else(|| {
                format!("{group}/{} {} is deprecated", version.name, accepted.kind)
            })
        }),
    });
    let kind = accepted.kind.clone();
    ResourceInfo {
        group: group.clone(),
        version: version.name.clone(),
        list_kind: accepted
            .list_kind
            .clone()
            .unwrap_or_else(|| format!("{kind}List")),
        kind,
        plural: accepted.plural.clone(),
        singular: accepted.singular.clone().unwrap_or_default(),
        namespaced: spec.scope == "Namespaced",
        short_names: accepted.short_names.clone().unwrap_or_default(),
        categories: accepted.categories.clone().unwrap_or_default(),
        verbs: ALL_VERBS.to_vec(),
        status_subresource,
        scale_subresource: scale.is_some(),
        selectable_fields: Vec::new(),
        name_rule: NameRule::Subdomain,
        schema: custom.clone(),
        rust_type: CUSTOM_TYPE,
        virtual_kind: None,
        storage_group: group,
        conversion: Some(custom.clone()),
        custom: Some(custom),
    }
}

/// The `rust_type` of every custom resource: there is no generated type (and no protobuf).
pub const CUSTOM_TYPE: &str = "custom resource";

impl crate::printers::Tabular for Custom {
    fn column_definitions(&self) -> Value {
        self.columns.column_definitions()
    }

    fn rows(&self, objects: &[Value]) -> Vec<(usize, Value)> {
        let now = chrono::Utc::now();
        objects
            .iter()
            .enumerate()
            .map(|(i, o)| (i, json!({"cells": self.columns.cells(o, now)})))
            .collect()
    }
}

impl Custom {
    /// The OpenAPI definition of the kind: the CRD's schema, with `metadata` as ObjectMeta
    /// and the type fields described (as upstream publishes it; CEL rules are not published).
    pub fn openapi_def(&self) -> Option<Value> {
        let mut def = serde_json::to_value(self.schema.as_ref()?).ok()?;
        strip_rules(&mut def);
        let o = def.as_object_mut()?;
        let props = o.entry("properties").or_insert_with(|| json!({}));
        if !props.is_object() {
            *props = json!({});
        }
        props["apiVersion"] = json!({"type": "string", "description": API_VERSION_DOC});
        props["kind"] = json!({"type": "string", "description": KIND_DOC});
        props["metadata"] = json!({
            "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "description": METADATA_DOC,
        });
        Some(def)
    }
}

fn strip_rules(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("x-kubernetes-validations");
            o.values_mut().for_each(strip_rules);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_rules),
        _ => {}
    }
}

const API_VERSION_DOC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DOC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DOC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

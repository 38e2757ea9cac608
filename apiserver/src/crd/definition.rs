//! The CustomResourceDefinition object itself (apiextensions.k8s.io/v1): defaults
//! (apiextensions/v1/defaults.go), create and update validation
//! (apiextensions/validation/validation.go), the strategy's status bookkeeping
//! (registry/customresourcedefinition/strategy.go), conditions (apihelpers) and the naming
//! controller's conflict rules (controller/status/naming_controller.go).
//!
//! Upstream validates the *internal* form of a CRD, into which v1 converts by hoisting
//! per-version schemas, subresources and printer columns to the spec when all versions
//! agree; error paths therefore read `spec.validation.openAPIV3Schema...` for a CRD whose
//! versions share one schema, and `spec.conversion.webhookClientConfig`. [`Internal`]
//! reproduces that view so field paths match.
//!
//! The contents of schemas (structural rules, defaults, CEL) are checked elsewhere
//! (`crd::structural::check_schema`, `crd::cel`) at the prefixes [`schema_paths`] gives.
//! `metadata` is validated by the generic pipeline; [`validate`] adds only the CRD's own name
//! rule.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::status::Cause;
use crate::validation::dns1123_subdomain_errors;

const PRINTER_COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const PRINTER_COLUMN_FORMATS: &[&str] = &[
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
/// ConversionReview versions this server understands.
const CONVERSION_REVIEW_VERSIONS: &[&str] = &["v1", "v1beta1"];
const MAX_SELECTABLE_FIELDS: usize = 8;
const API_APPROVAL_ANNOTATION: &str = "api-approved.kubernetes.io";
/// JSONSchemaProps fields allowed at the root when the status subresource is on, by their
/// JSON names (upstream's allowedFieldsAtRootSchema).
const ALLOWED_AT_ROOT_WITH_STATUS: &[&str] = &[
    "description",
    "type",
    "format",
    "title",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "required",
    "items",
    "properties",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
];
/// JSONSchemaProps fields in Go struct order, which decides which root field upstream
/// reports first.
const SCHEMA_FIELD_ORDER: &[&str] = &[
    "id",
    "$schema",
    "$ref",
    "description",
    "type",
    "nullable",
    "format",
    "title",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "properties",
    "additionalProperties",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "definitions",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// JSONSchemaProps fields that are pointers in Go: set whenever present, even if empty.
const POINTER_SCHEMA_FIELDS: &[&str] = &[
    "$ref",
    "default",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "multipleOf",
    "maxProperties",
    "minProperties",
    "items",
    "not",
    "additionalProperties",
    "additionalItems",
    "externalDocs",
    "example",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
];

// ---- small accessors and causes -----------------------------------------------------------

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn bool_of(v: &Value) -> bool {
    v.as_bool().unwrap_or(false)
}

fn list_of(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn strings_of(v: &Value) -> Vec<&str> {
    list_of(v).iter().map(str_of).collect()
}

/// The object under `key`, created when missing or null; None when `v` is not an object or
/// the key holds something else.
fn child_obj<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = v.as_object_mut()?.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = json!({});
    }
    slot.as_object_mut()
}

/// Go's `%#v` of a `[]string`, as upstream prints such invalid values.
fn go_strings(v: &Value) -> String {
    match v.as_array() {
        None => "[]string(nil)".into(),
        Some(items) => format!(
            "[]string{{{}}}",
            items
                .iter()
                .map(|s| format!("{:?}", str_of(s)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An Invalid cause whose value is already rendered.
fn invalid_shown(field: &str, shown: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {shown}: {detail}"),
        field: field.into(),
    }
}

fn not_supported(field: &str, value: &str, supported: &[&str]) -> Cause {
    let list = supported
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!("Unsupported value: {value:?}: supported values: {list}"),
        field: field.into(),
    }
}

fn duplicate(field: &str, value: &str) -> Cause {
    Cause {
        reason: "FieldValueDuplicate".into(),
        message: format!("Duplicate value: {value:?}"),
        field: field.into(),
    }
}

fn too_many(field: &str, actual: usize, max: usize) -> Cause {
    Cause {
        reason: "FieldValueTooMany".into(),
        message: format!("Too many: {actual}: must have at most {max} items"),
        field: field.into(),
    }
}

fn immutable(field: &str, value: &str) -> Cause {
    Cause::invalid(field, value, "field is immutable")
}

// ---- defaults -----------------------------------------------------------------------------

/// SetDefaults_CustomResourceDefinition: `names.singular` (lowercase kind), `names.listKind`
/// (kind + "List"), `conversion.strategy` None, a conversion webhook service's port 443,
/// and `status.storedVersions` from the storage version when empty.
pub fn default(crd: &mut Value) {
    let storage = list_of(&crd["spec"]["versions"])
        .iter()
        .find(|v| bool_of(&v["storage"]))
        .map(|v| str_of(&v["name"]).to_string());
    if let Some(spec) = child_obj(crd, "spec") {
        if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
            let kind = names
                .get("kind")
                .map(str_of)
                .unwrap_or_default()
                .to_string();
            if !kind.is_empty() {
                if names
                    .get("singular")
                    .map(str_of)
                    .unwrap_or_default()
                    .is_empty()
                {
                    names.insert("singular".into(), json!(kind.to_lowercase()));
                }
                if names
                    .get("listKind")
                    .map(str_of)
                    .unwrap_or_default()
                    .is_empty()
                {
                    names.insert("listKind".into(), json!(format!("{kind}List")));
                }
            }
        }
        let conversion = spec.entry("conversion").or_insert(Value::Null);
        if conversion.is_null() {
            *conversion = json!({"strategy": "None"});
        }
        if let Some(service) = conversion
            .pointer_mut("/webhook/clientConfig/service")
            .and_then(Value::as_object_mut)
        {
            service.entry("port").or_insert(json!(443));
        }
    }
    if let Some(storage) = storage {
        if list_of(&crd["status"]["storedVersions"]).is_empty() {
            if let Some(status) = child_obj(crd, "status") {
                status.insert("storedVersions".into(), json!([storage]));
            }
        }
    }
}

/// PrepareForCreate: status starts over, holding only the storage version; generation 1.
pub fn prepare_for_create(crd: &mut Value) {
    if let Some(o) = crd.as_object_mut() {
        o.insert("status".into(), json!({}));
    }
    if let Some(meta) = child_obj(crd, "metadata") {
        meta.insert("generation".into(), json!(1));
    }
    record_storage_version(crd);
}

/// PrepareForUpdate: the status is the old one (it is written through `/status`); a spec
/// change bumps the generation; a new storage version joins `status.storedVersions`.
pub fn prepare_for_update(new: &mut Value, old: &Value) {
    if let Some(o) = new.as_object_mut() {
        o.insert("status".into(), old["status"].clone());
    }
    let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
    let changed = new["spec"] != old["spec"];
    if let Some(meta) = child_obj(new, "metadata") {
        meta.insert(
            "generation".into(),
            json!(if changed { generation + 1 } else { generation }),
        );
    }
    record_storage_version(new);
}

/// The storage version joins `status.storedVersions` if missing (upstream's strategy does
/// this on every create and update, before validation).
pub fn record_storage_version(crd: &mut Value) {
    let Some(storage) = list_of(&crd["spec"]["versions"])
        .iter()
        .find(|v| bool_of(&v["storage"]))
        .map(|v| str_of(&v["name"]).to_string())
    else {
        return;
    };
    let Some(status) = child_obj(crd, "status") else {
        return;
    };
    let stored = status.entry("storedVersions").or_insert(json!([]));
    if !stored.is_array() {
        *stored = json!([]);
    }
    if let Some(list) = stored.as_array_mut() {
        if !list.iter().any(|v| str_of(v) == storage) {
            list.push(json!(storage));
        }
    }
}

// ---- the internal (hoisted) view ----------------------------------------------------------

/// Semantic equality of optional JSON: a missing field, null and an empty list agree.
fn semantically_equal(a: &Value, b: &Value) -> bool {
    let empty = |v: &Value| v.is_null() || v.as_array().is_some_and(Vec::is_empty);
    (empty(a) && empty(b)) || a == b
}

fn present(v: &Value) -> Option<&Value> {
    (!v.is_null()).then_some(v)
}

/// One version as the internal type sees it: per-version fields only when not hoisted.
struct InternalVersion<'a> {
    v: &'a Value,
    schema: Option<&'a Value>,
    subresources: Option<&'a Value>,
    columns: &'a [Value],
    selectable_fields: &'a [Value],
}

/// The v1 → internal conversion's view of a spec.
struct Internal<'a> {
    versions: Vec<InternalVersion<'a>>,
    validation: Option<&'a Value>,
    subresources: Option<&'a Value>,
    columns: &'a [Value],
    selectable_fields: &'a [Value],
}

impl<'a> Internal<'a> {
    fn of(spec: &'a Value) -> Internal<'a> {
        let versions = list_of(&spec["versions"]);
        let identical = |key: &str| {
            versions
                .iter()
                .all(|v| semantically_equal(&v[key], &versions[0][key]))
        };
        let (schema_same, sub_same, cols_same, sel_same) = if versions.is_empty() {
            (false, false, false, false)
        } else {
            (
                identical("schema"),
                identical("subresources"),
                identical("additionalPrinterColumns"),
                identical("schema") && identical("selectableFields"),
            )
        };
        let first = versions.first();
        Internal {
            versions: versions
                .iter()
                .map(|v| InternalVersion {
                    v,
                    schema: if schema_same {
                        None
                    } else {
                        present(&v["schema"])
                    },
                    subresources: if sub_same {
                        None
                    } else {
                        present(&v["subresources"])
                    },
                    columns: if cols_same {
                        &[]
                    } else {
                        list_of(&v["additionalPrinterColumns"])
                    },
                    selectable_fields: if sel_same {
                        &[]
                    } else {
                        list_of(&v["selectableFields"])
                    },
                })
                .collect(),
            validation: first
                .filter(|_| schema_same)
                .and_then(|v| present(&v["schema"])),
            subresources: first
                .filter(|_| sub_same)
                .and_then(|v| present(&v["subresources"])),
            columns: first
                .filter(|_| cols_same)
                .map_or(&[], |v| list_of(&v["additionalPrinterColumns"])),
            selectable_fields: first
                .filter(|_| sel_same)
                .map_or(&[], |v| list_of(&v["selectableFields"])),
        }
    }

    /// Subresources in effect for a version (upstream's getSubresourcesForVersion).
    fn subresources_for(&self, v: &InternalVersion<'a>) -> Option<&'a Value> {
        if self.versions.iter().any(|v| v.subresources.is_some()) {
            v.subresources
        } else {
            self.subresources
        }
    }

    fn any_status_enabled(&self) -> bool {
        status_enabled(self.subresources)
            || self.versions.iter().any(|v| status_enabled(v.subresources))
    }

    /// allVersionsSpecifyOpenAPISchema.
    fn all_versions_have_schema(&self) -> bool {
        has_openapi_schema(self.validation)
            || self.versions.iter().all(|v| has_openapi_schema(v.schema))
    }

    /// Every schema with the path upstream reports its errors under.
    fn schemas(&self) -> Vec<(String, &'a Value)> {
        let mut out = Vec::new();
        if let Some(s) = self.validation.and_then(|v| present(&v["openAPIV3Schema"])) {
            out.push(("spec.validation.openAPIV3Schema".to_string(), s));
        }
        for (i, v) in self.versions.iter().enumerate() {
            if let Some(s) = v.schema.and_then(|v| present(&v["openAPIV3Schema"])) {
                out.push((format!("spec.versions[{i}].schema.openAPIV3Schema"), s));
            }
        }
        out
    }
}

fn status_enabled(subresources: Option<&Value>) -> bool {
    subresources.is_some_and(|s| !s["status"].is_null())
}

fn has_openapi_schema(validation: Option<&Value>) -> bool {
    validation.is_some_and(|v| !v["openAPIV3Schema"].is_null())
}

/// Each distinct openAPIV3Schema of a CRD with the field-path prefix upstream reports its
/// errors under (`spec.validation.openAPIV3Schema` when all versions share one schema, else
/// `spec.versions[i].schema.openAPIV3Schema`), for the schema checks to run at.
pub fn schema_paths(crd: &Value) -> Vec<(String, &Value)> {
    Internal::of(&crd["spec"]).schemas()
}

/// SchemaHas: whether `pred` holds for the schema or any schema nested in it.
fn schema_has(s: &Value, pred: &dyn Fn(&Value) -> bool) -> bool {
    if !s.is_object() {
        return false;
    }
    if pred(s) {
        return true;
    }
    let nested_lists = ["allOf", "anyOf", "oneOf"];
    let nested_maps = [
        "properties",
        "patternProperties",
        "definitions",
        "dependencies",
    ];
    let nested_one = ["not", "additionalProperties", "additionalItems"];
    match &s["items"] {
        Value::Array(items) if items.iter().any(|i| schema_has(i, pred)) => return true,
        items @ Value::Object(_) if schema_has(items, pred) => return true,
        _ => {}
    }
    nested_lists
        .iter()
        .any(|k| list_of(&s[*k]).iter().any(|x| schema_has(x, pred)))
        || nested_maps.iter().any(|k| {
            s[*k]
                .as_object()
                .is_some_and(|m| m.values().any(|x| schema_has(x, pred)))
        })
        || nested_one.iter().any(|k| schema_has(&s[*k], pred))
}

// ---- validation ---------------------------------------------------------------------------

/// What differs between create and update validation (upstream's validationOptions).
struct Options {
    require_recognized_conversion_review_version: bool,
    require_openapi_schema: bool,
    allow_invalid_ca_bundle: bool,
}

/// ValidateCustomResourceDefinition, for a create (after [`prepare_for_create`]).
pub fn validate(crd: &Value) -> Vec<Cause> {
    let opts = Options {
        require_recognized_conversion_review_version: true,
        require_openapi_schema: true,
        allow_invalid_ca_bundle: true,
    };
    let mut causes = name_matches_spec(crd);
    causes.extend(validate_spec(&crd["spec"], &opts));
    causes.extend(validate_names(
        &crd["status"]["acceptedNames"],
        "status.acceptedNames",
    ));
    causes.extend(validate_stored_versions(crd));
    causes.extend(validate_api_approval(crd, None));
    causes.extend(validate_preserve_unknown_fields(crd, None));
    causes
}

/// ValidateCustomResourceDefinitionUpdate (after [`prepare_for_update`]): the create rules,
/// relaxed where the old object already broke them, plus immutability: `spec.group` and
/// `spec.names.plural` always, `spec.scope` and `spec.names.kind` once Established.
pub fn validate_update(old: &Value, new: &Value) -> Vec<Cause> {
    let old_spec = &old["spec"];
    let old_conversion = &old_spec["conversion"];
    let old_review_versions = strings_of(&old_conversion["webhook"]["conversionReviewVersions"]);
    let opts = Options {
        require_recognized_conversion_review_version: old_conversion.is_null()
            || old_review_versions.is_empty()
            || old_review_versions
                .iter()
                .any(|v| CONVERSION_REVIEW_VERSIONS.contains(v)),
        require_openapi_schema: Internal::of(old_spec).all_versions_have_schema(),
        allow_invalid_ca_bundle: allow_invalid_ca_bundle(old),
    };
    let new_spec = &new["spec"];
    let mut causes = validate_spec(new_spec, &opts);
    if is_condition_true(old, "Established") {
        if new_spec["scope"] != old_spec["scope"] {
            causes.push(immutable("spec.scope", str_of(&new_spec["scope"])));
        }
        if new_spec["names"]["kind"] != old_spec["names"]["kind"] {
            causes.push(immutable(
                "spec.names.kind",
                str_of(&new_spec["names"]["kind"]),
            ));
        }
    }
    if new_spec["group"] != old_spec["group"] {
        causes.push(immutable("spec.group", str_of(&new_spec["group"])));
    }
    if new_spec["names"]["plural"] != old_spec["names"]["plural"] {
        causes.push(immutable(
            "spec.names.plural",
            str_of(&new_spec["names"]["plural"]),
        ));
    }
    causes.extend(validate_names(
        &new["status"]["acceptedNames"],
        "status.acceptedNames",
    ));
    causes.extend(validate_stored_versions(new));
    causes.extend(validate_api_approval(new, Some(old)));
    causes.extend(validate_preserve_unknown_fields(new, Some(old)));
    causes
}

/// ValidateUpdateCustomResourceDefinitionStatus: a `/status` write checks only the
/// accepted names.
pub fn validate_status_update(new: &Value) -> Vec<Cause> {
    validate_names(&new["status"]["acceptedNames"], "status.acceptedNames")
}

/// The CRD's name must be `<plural>.<group>` (upstream's name validation function; the
/// generic DNS-subdomain check runs elsewhere).
fn name_matches_spec(crd: &Value) -> Vec<Cause> {
    let required = format!(
        "{}.{}",
        str_of(&crd["spec"]["names"]["plural"]),
        str_of(&crd["spec"]["group"])
    );
    let detail = "must be spec.names.plural+\".\"+spec.group";
    let mut causes = Vec::new();
    let generate = str_of(&crd["metadata"]["generateName"]);
    if !generate.is_empty() && generate != required {
        causes.push(Cause::invalid("metadata.generateName", generate, detail));
    }
    let name = str_of(&crd["metadata"]["name"]);
    if !name.is_empty() && name != required {
        causes.push(Cause::invalid("metadata.name", name, detail));
    }
    causes
}

fn validate_spec(spec: &Value, opts: &Options) -> Vec<Cause> {
    let mut causes = Vec::new();
    let internal = Internal::of(spec);

    let group = str_of(&spec["group"]);
    if group.is_empty() {
        causes.push(Cause::required("spec.group", ""));
    } else {
        let errs = dns1123_subdomain_errors(group);
        if !errs.is_empty() {
            causes.push(Cause::invalid("spec.group", group, &errs.join(",")));
        } else if !group.contains('.') {
            causes.push(Cause::invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
    }

    causes.extend(validate_enum(
        "spec.scope",
        str_of(&spec["scope"]),
        &["Cluster", "Namespaced"],
    ));

    let preserve_unknown = bool_of(&spec["preserveUnknownFields"]);
    if internal
        .validation
        .is_none_or(|v| v["openAPIV3Schema"].is_null())
    {
        for (i, v) in internal.versions.iter().enumerate() {
            if has_openapi_schema(v.schema) {
                continue;
            }
            let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
            if opts.require_openapi_schema {
                causes.push(Cause::required(&path, "schemas are required"));
            } else if !preserve_unknown && bool_of(&v.v["served"]) {
                causes.push(Cause::required(
                    &path,
                    "because otherwise all fields are pruned",
                ));
            }
        }
    }
    let has_defaults = internal
        .schemas()
        .iter()
        .any(|(_, s)| schema_has(s, &|s| !s["default"].is_null()));
    if has_defaults && preserve_unknown {
        causes.push(invalid_shown(
            "spec.preserveUnknownFields",
            "true",
            "must be false in order to use defaults in the schema",
        ));
    }

    let mut storage_count = 0;
    let mut seen = HashSet::new();
    let mut unique = true;
    for (i, v) in internal.versions.iter().enumerate() {
        if bool_of(&v.v["storage"]) {
            storage_count += 1;
        }
        let name = str_of(&v.v["name"]);
        unique &= seen.insert(name);
        let errs = crate::validation::dns1035_label_errors(name);
        if !errs.is_empty() {
            causes.push(Cause::invalid(
                &format!("spec.versions[{i}].name"),
                name,
                &errs.join(","),
            ));
        }
        let status = status_enabled(internal.subresources_for(v));
        causes.extend(validate_version(v, &format!("spec.versions[{i}]"), status));
    }
    let versions_shown = go_versions(&internal);
    if !unique {
        causes.push(invalid_shown(
            "spec.versions",
            &versions_shown,
            "must contain unique version names",
        ));
    }
    if storage_count != 1 {
        causes.push(invalid_shown(
            "spec.versions",
            &versions_shown,
            "must have exactly one version marked as storage version",
        ));
    }
    // The internal `spec.version` is the first version's name, checked again on its own.
    if let Some(first) = internal.versions.first() {
        let name = str_of(&first.v["name"]);
        let errs = crate::validation::dns1035_label_errors(name);
        if !name.is_empty() && !errs.is_empty() {
            causes.push(Cause::invalid("spec.version", name, &errs.join(",")));
        }
    }

    let names = &spec["names"];
    for key in ["plural", "singular", "kind", "listKind"] {
        if str_of(&names[key]).is_empty() {
            causes.push(Cause::required(&format!("spec.names.{key}"), ""));
        }
    }
    causes.extend(validate_names(names, "spec.names"));

    causes.extend(validate_schema_root(
        internal.validation,
        internal.any_status_enabled(),
        "spec.validation",
    ));
    causes.extend(validate_subresources(
        internal.subresources,
        "spec.subresources",
    ));
    for (i, c) in internal.columns.iter().enumerate() {
        causes.extend(validate_column(
            c,
            &format!("spec.additionalPrinterColumns[{i}]"),
        ));
    }
    if !internal.selectable_fields.is_empty() {
        match internal
            .validation
            .and_then(|v| present(&v["openAPIV3Schema"]))
        {
            None => causes.push(Cause::invalid(
                "spec.selectableFields",
                "",
                "selectableFields may only be set when validations.schema is included",
            )),
            Some(schema) => causes.extend(validate_selectable_fields(
                internal.selectable_fields,
                schema,
                "spec.selectableFields",
            )),
        }
    }

    let conversion = &spec["conversion"];
    let strategy = str_of(&conversion["strategy"]);
    if !conversion.is_null() && strategy != "None" && preserve_unknown {
        causes.push(Cause::invalid(
            "spec.conversion.strategy",
            strategy,
            "must be None if spec.preserveUnknownFields is true",
        ));
    }
    causes.extend(validate_conversion(conversion, opts));
    causes
}

/// validateEnumStrings with `required`.
fn validate_enum(field: &str, value: &str, accepted: &[&str]) -> Vec<Cause> {
    if value.is_empty() {
        vec![Cause::required(field, "")]
    } else if accepted.contains(&value) {
        Vec::new()
    } else {
        vec![not_supported(field, value, accepted)]
    }
}

/// Go's `%#v` of the internal versions, abbreviated where it would print pointers.
fn go_versions(internal: &Internal<'_>) -> String {
    let ptr = |ty: &str, set: bool| {
        if set {
            format!("(*apiextensions.{ty})(0xc000000000)")
        } else {
            format!("(*apiextensions.{ty})(nil)")
        }
    };
    let items = internal
        .versions
        .iter()
        .map(|v| {
            let warning = if v.v["deprecationWarning"].is_null() {
                "(*string)(nil)".to_string()
            } else {
                "(*string)(0xc000000000)".to_string()
            };
            let columns = if v.columns.is_empty() {
                "[]apiextensions.CustomResourceColumnDefinition(nil)"
            } else {
                "[]apiextensions.CustomResourceColumnDefinition{...}"
            };
            let selectable = if v.selectable_fields.is_empty() {
                "[]apiextensions.SelectableField(nil)"
            } else {
                "[]apiextensions.SelectableField{...}"
            };
            format!(
                "apiextensions.CustomResourceDefinitionVersion{{Name:{:?}, Served:{}, Storage:{}, Deprecated:{}, DeprecationWarning:{warning}, Schema:{}, Subresources:{}, AdditionalPrinterColumns:{columns}, SelectableFields:{selectable}}}",
                str_of(&v.v["name"]),
                bool_of(&v.v["served"]),
                bool_of(&v.v["storage"]),
                bool_of(&v.v["deprecated"]),
                ptr("CustomResourceValidation", v.schema.is_some()),
                ptr("CustomResourceSubresources", v.subresources.is_some()),
            )
        })
        .collect::<Vec<_>>();
    format!(
        "[]apiextensions.CustomResourceDefinitionVersion{{{}}}",
        items.join(", ")
    )
}

/// validateCustomResourceDefinitionVersion, less the schema contents.
fn validate_version(v: &InternalVersion<'_>, path: &str, status_enabled: bool) -> Vec<Cause> {
    let mut causes = Vec::new();
    let warning = &v.v["deprecationWarning"];
    for e in deprecation_warning_errors(bool_of(&v.v["deprecated"]), warning) {
        let field = format!("{path}.deprecationWarning");
        causes.push(match warning.as_str() {
            Some(w) => Cause::invalid(&field, w, &e),
            None => invalid_shown(&field, "null", &e),
        });
    }
    causes.extend(validate_schema_root(
        v.schema,
        status_enabled,
        &format!("{path}.schema"),
    ));
    causes.extend(validate_subresources(
        v.subresources,
        &format!("{path}.subresources"),
    ));
    for (i, c) in v.columns.iter().enumerate() {
        causes.extend(validate_column(
            c,
            &format!("{path}.additionalPrinterColumns[{i}]"),
        ));
    }
    if !v.selectable_fields.is_empty() {
        let field = format!("{path}.selectableFields");
        match v.schema.and_then(|s| present(&s["openAPIV3Schema"])) {
            None => causes.push(Cause::invalid(
                &field,
                "",
                "selectableFields may only be set when version.schema.openAPIV3Schema is not included",
            )),
            Some(schema) => {
                causes.extend(validate_selectable_fields(v.selectable_fields, schema, &field))
            }
        }
    }
    causes
}

fn deprecation_warning_errors(deprecated: bool, warning: &Value) -> Vec<String> {
    let Some(w) = warning.as_str() else {
        return Vec::new();
    };
    if !deprecated {
        return vec!["can only be set for deprecated versions".into()];
    }
    let mut errs = Vec::new();
    if w.len() > 256 {
        errs.push("must be <= 256 characters long".into());
    }
    if w.is_empty() {
        errs.push("must not be an empty string".into());
    }
    // Go's unicode.IsPrint is false for every control character, so that message wins.
    if let Some((i, _)) = w.char_indices().find(|(_, c)| c.is_control()) {
        errs.push(format!(
            "must only contain printable UTF-8 characters; non-printable character found at index {i}"
        ));
    }
    errs
}

/// The root-of-schema rules that need the CRD around the schema (upstream's
/// validateCustomResourceDefinitionValidation before it walks the schema).
fn validate_schema_root(
    validation: Option<&Value>,
    status_enabled: bool,
    path: &str,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(schema) = validation.and_then(|v| v["openAPIV3Schema"].as_object()) else {
        return causes;
    };
    if status_enabled {
        for key in SCHEMA_FIELD_ORDER {
            let Some(value) = schema.get(*key) else {
                continue;
            };
            // Go skips zero values; pointer fields are set whenever present.
            let zero = match value {
                Value::Null => true,
                _ if POINTER_SCHEMA_FIELDS.contains(key) => false,
                Value::Bool(b) => !b,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Number(_) => false,
            };
            if zero {
                continue;
            }
            if *key == "type" {
                if str_of(value) != "object" {
                    causes.push(Cause::invalid(
                        &format!("{path}.openAPIV3Schema.type"),
                        str_of(value),
                        "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
                    ));
                    break;
                }
                continue;
            }
            if !ALLOWED_AT_ROOT_WITH_STATUS.contains(key) {
                causes.push(invalid_shown(
                    &format!("{path}.openAPIV3Schema"),
                    &Value::Object(schema.clone()).to_string(),
                    "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled",
                ));
                break;
            }
        }
    }
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        causes.push(Cause::forbidden(
            &format!("{path}.openAPIV3Schema.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    causes
}

/// ValidateCustomResourceDefinitionSubresources.
fn validate_subresources(subresources: Option<&Value>, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(scale) = subresources.map(|s| &s["scale"]).filter(|s| !s.is_null()) else {
        return causes;
    };
    for (key, prefix, under) in [
        ("specReplicasPath", ".spec.", ".spec"),
        ("statusReplicasPath", ".status.", ".status"),
    ] {
        let field = format!("{path}.scale.{key}");
        let value = str_of(&scale[key]);
        if value.is_empty() {
            causes.push(Cause::required(&field, ""));
        } else if let Some(c) = simple_json_path_error(value, &field) {
            causes.push(c);
        } else if !value.starts_with(prefix) {
            causes.push(Cause::invalid(
                &field,
                value,
                &format!("should be a json path under {under}"),
            ));
        }
    }
    let selector = str_of(&scale["labelSelectorPath"]);
    if !selector.is_empty() {
        let field = format!("{path}.scale.labelSelectorPath");
        if let Some(c) = simple_json_path_error(selector, &field) {
            causes.push(c);
        } else if !selector.starts_with(".spec.") && !selector.starts_with(".status.") {
            causes.push(Cause::invalid(
                &field,
                selector,
                "should be a json path under either .spec or .status",
            ));
        }
    }
    causes
}

/// validateSimpleJSONPath.
fn simple_json_path_error(s: &str, field: &str) -> Option<Cause> {
    if s.is_empty() {
        Some(Cause::invalid(field, s, "must not be empty"))
    } else if !s.starts_with('.') {
        Some(Cause::invalid(
            field,
            s,
            "must be a simple json path starting with .",
        ))
    } else {
        None
    }
}

/// ValidateCustomResourceColumnDefinition (note upstream's field name `JSONPath`).
fn validate_column(c: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    if str_of(&c["name"]).is_empty() {
        causes.push(Cause::required(&format!("{path}.name"), ""));
    }
    let types = format!("must be one of {}", PRINTER_COLUMN_TYPES.join(","));
    let type_ = str_of(&c["type"]);
    if type_.is_empty() {
        causes.push(Cause::required(&format!("{path}.type"), &types));
    } else if !PRINTER_COLUMN_TYPES.contains(&type_) {
        causes.push(Cause::invalid(&format!("{path}.type"), type_, &types));
    }
    let format = str_of(&c["format"]);
    if !format.is_empty() && !PRINTER_COLUMN_FORMATS.contains(&format) {
        causes.push(Cause::invalid(
            &format!("{path}.format"),
            format,
            &format!("must be one of {}", PRINTER_COLUMN_FORMATS.join(",")),
        ));
    }
    let json_path = str_of(&c["jsonPath"]);
    let field = format!("{path}.JSONPath");
    if json_path.is_empty() {
        causes.push(Cause::required(&field, ""));
    } else if let Some(cause) = simple_json_path_error(json_path, &field) {
        causes.push(cause);
    }
    causes
}

/// ValidateCustomResourceSelectableFields: each `jsonPath` a simple field path into the
/// schema (no array steps), outside metadata, to a string, boolean or integer field; no
/// duplicates; at most eight.
fn validate_selectable_fields(fields: &[Value], schema: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut unique = BTreeSet::new();
    for (i, f) in fields.iter().enumerate() {
        let field = format!("{path}[{i}].jsonPath");
        let json_path = str_of(&f["jsonPath"]);
        if json_path.is_empty() {
            causes.push(Cause::required(&field, ""));
            continue;
        }
        let found = match field_path_schema(json_path, schema) {
            Ok(found) => found,
            Err(e) => {
                causes.push(Cause::invalid(
                    &field,
                    json_path,
                    &format!("is an invalid path: {e}"),
                ));
                continue;
            }
        };
        if found.root == "metadata" {
            causes.push(Cause::invalid(
                &field,
                json_path,
                "must not point to fields in metadata",
            ));
        }
        if !matches!(
            str_of(&found.schema["type"]),
            "string" | "boolean" | "integer"
        ) {
            causes.push(Cause::invalid(
                &field,
                json_path,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if !unique.insert(found.path) {
            causes.push(duplicate(&field, json_path));
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        causes.push(too_many(path, unique.len(), MAX_SELECTABLE_FIELDS));
    }
    causes
}

/// Where a selectable field's path leads: upstream's cel.ValidFieldPath without array
/// notation. `.name` steps follow `properties`, or `additionalProperties` as map keys.
struct FieldPath<'a> {
    /// The path as field.Path prints it (`spec.labels[key]`), for duplicate detection.
    path: String,
    /// The first step.
    root: String,
    schema: &'a Value,
}

fn field_path_schema<'a>(json_path: &str, schema: &'a Value) -> Result<FieldPath<'a>, String> {
    let mut out = FieldPath {
        path: String::new(),
        root: String::new(),
        schema,
    };
    let mut rest = json_path;
    while let Some(c) = rest.chars().next() {
        match c {
            '.' => rest = &rest[1..],
            '[' => return Err("array notation is not allowed".into()),
            _ => {
                let tok = rest.split(['.', '[', ']']).next().unwrap_or(rest);
                let tok = if tok.is_empty() { &rest[..1] } else { tok };
                return Err(format!("expected [ or . but got: {tok}"));
            }
        }
        // The token after a dot: a quoted string, a delimiter, or a name.
        let len = if rest.starts_with('\'') {
            rest.char_indices()
                .skip(1)
                .find(|&(i, ch)| ch == '\'' && !rest[..i].ends_with('\\'))
                .map_or(rest.len(), |(i, _)| i + 1)
        } else if rest.starts_with(['.', '[', ']']) {
            1
        } else {
            rest.find(['.', '[', ']']).unwrap_or(rest.len())
        };
        if len == 0 {
            return Err("unexpected end of JSON path".into());
        }
        let (name, tail) = rest.split_at(len);
        rest = tail;
        let cur = out.schema;
        if cur["properties"].is_object() {
            out.schema = cur["properties"]
                .get(name)
                .ok_or("does not refer to a valid field")?;
            if out.path.is_empty() {
                out.root = name.to_string();
                out.path = name.to_string();
            } else {
                out.path = format!("{}.{name}", out.path);
            }
        } else if cur["additionalProperties"].is_object() {
            out.schema = &cur["additionalProperties"];
            out.path = format!("{}[{name}]", out.path);
        } else {
            return Err("does not refer to a valid field".into());
        }
    }
    Ok(out)
}

/// validateCustomResourceConversion, on the internal field names.
fn validate_conversion(conversion: &Value, opts: &Options) -> Vec<Cause> {
    let mut causes = Vec::new();
    if conversion.is_null() {
        return causes;
    }
    let strategy = str_of(&conversion["strategy"]);
    causes.extend(validate_enum(
        "spec.conversion.strategy",
        strategy,
        &["None", "Webhook"],
    ));
    let client_config = &conversion["webhook"]["clientConfig"];
    let review_versions = &conversion["webhook"]["conversionReviewVersions"];
    if strategy != "Webhook" {
        if !client_config.is_null() {
            causes.push(Cause::forbidden(
                "spec.conversion.webhookClientConfig",
                "should not be set when strategy is not set to Webhook",
            ));
        }
        if !list_of(review_versions).is_empty() {
            causes.push(Cause::forbidden(
                "spec.conversion.conversionReviewVersions",
                "should not be set when strategy is not set to Webhook",
            ));
        }
        return causes;
    }
    let path = "spec.conversion.webhookClientConfig";
    if client_config.is_null() {
        causes.push(Cause::required(
            path,
            "required when strategy is set to Webhook",
        ));
    } else {
        let url = &client_config["url"];
        let service = &client_config["service"];
        match (url.as_str(), service.is_null()) {
            (Some(_), false) | (None, true) => causes.push(Cause::required(
                path,
                "exactly one of url or service is required",
            )),
            (Some(u), true) => causes.extend(validate_webhook_url(&format!("{path}.url"), u)),
            (None, false) => causes.extend(validate_webhook_service(
                &format!("{path}.service"),
                service,
            )),
        }
        let ca = str_of(&client_config["caBundle"]);
        if !ca.is_empty() && !opts.allow_invalid_ca_bundle {
            if let Err(e) = parse_ca_bundle(ca) {
                causes.push(Cause::invalid(&format!("{path}.caBundle"), ca, &e));
            }
        }
    }
    causes.extend(validate_review_versions(
        review_versions,
        opts.require_recognized_conversion_review_version,
    ));
    causes
}

fn validate_review_versions(versions: &Value, require_recognized: bool) -> Vec<Cause> {
    let path = "spec.conversion.conversionReviewVersions";
    let list = strings_of(versions);
    if list.is_empty() {
        return vec![Cause::required(path, "")];
    }
    let mut causes = Vec::new();
    let mut seen = HashSet::new();
    for (i, v) in list.iter().enumerate() {
        let field = format!("{path}[{i}]");
        if !seen.insert(*v) {
            causes.push(Cause::invalid(&field, v, "duplicate version"));
            continue;
        }
        for e in crate::validation::dns1035_label_errors(v) {
            causes.push(Cause::invalid(&field, v, &e));
        }
    }
    if require_recognized && !list.iter().any(|v| CONVERSION_REVIEW_VERSIONS.contains(v)) {
        causes.push(invalid_shown(
            path,
            &go_strings(versions),
            &format!(
                "must include at least one of {}",
                CONVERSION_REVIEW_VERSIONS.join(", ")
            ),
        ));
    }
    causes
}

/// webhook.ValidateWebhookURL with https required.
fn validate_webhook_url(field: &str, url: &str) -> Vec<Cause> {
    const FORM: &str = "; desired format: https://host[/path]";
    let mut causes = Vec::new();
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) if !s.is_empty() => (s, r),
        Some(_) => {
            return vec![Cause::required(
                field,
                &format!("url must be a valid URL: parse {url:?}: missing protocol scheme{FORM}"),
            )]
        }
        None => ("", url),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = if scheme.is_empty() {
        ""
    } else {
        rest.split('/').next().unwrap_or_default()
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if scheme != "https" {
        causes.push(Cause::invalid(
            field,
            scheme,
            &format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    if host.is_empty() {
        causes.push(Cause::invalid(
            field,
            host,
            &format!("host must be specified{FORM}"),
        ));
    }
    if let Some(u) = user {
        causes.push(Cause::invalid(
            field,
            u,
            "user information is not permitted in the URL",
        ));
    }
    if !fragment.is_empty() {
        causes.push(Cause::invalid(
            field,
            fragment,
            "fragments are not permitted in the URL",
        ));
    }
    if !query.is_empty() {
        causes.push(Cause::invalid(
            field,
            query,
            "query parameters are not permitted in the URL",
        ));
    }
    causes
}

/// webhook.ValidateWebhookService.
fn validate_webhook_service(path: &str, service: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    if str_of(&service["name"]).is_empty() {
        causes.push(Cause::required(
            &format!("{path}.name"),
            "service name is required",
        ));
    }
    if str_of(&service["namespace"]).is_empty() {
        causes.push(Cause::required(
            &format!("{path}.namespace"),
            "service namespace is required",
        ));
    }
    let port = service["port"].as_i64().unwrap_or(443);
    if !(1..=65535).contains(&port) {
        causes.push(invalid_shown(
            &format!("{path}.port"),
            &port.to_string(),
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    let Some(url_path) = service["path"].as_str() else {
        return causes;
    };
    let field = format!("{path}.path");
    if url_path.is_empty() || url_path == "/" {
        return causes;
    }
    if url_path == "//" {
        causes.push(Cause::invalid(
            &field,
            url_path,
            "segment[0] may not be empty",
        ));
        return causes;
    }
    if !url_path.starts_with('/') {
        causes.push(Cause::invalid(&field, url_path, "must start with a '/'"));
    }
    let check = url_path.get(1..).unwrap_or_default();
    let check = check.strip_suffix('/').unwrap_or(check);
    for (i, step) in check.split('/').enumerate() {
        if step.is_empty() {
            causes.push(Cause::invalid(
                &field,
                url_path,
                &format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for e in dns1123_subdomain_errors(step) {
            causes.push(Cause::invalid(
                &field,
                url_path,
                &format!("segment[{i}]: {e}"),
            ));
        }
    }
    causes
}

/// cert.ParseCertsPEM on the (base64 in JSON) bundle.
fn parse_ca_bundle(b64: &str) -> Result<(), String> {
    let none = || "data does not contain any valid RSA or ECDSA certificates".to_string();
    let pem = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| none())?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| none())?;
    if certs.is_empty() {
        return Err(none());
    }
    for c in &certs {
        x509_parser::parse_x509_certificate(c).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// allowInvalidCABundle: an invalid bundle may stay only if it was already invalid, or the
/// CRD was never established.
fn allow_invalid_ca_bundle(old: &Value) -> bool {
    if !is_condition_true(old, "Established") {
        return true;
    }
    let ca = str_of(&old["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"]);
    !ca.is_empty() && parse_ca_bundle(ca).is_err()
}

/// ValidateCustomResourceDefinitionNames (spec.names and status.acceptedNames).
fn validate_names(names: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    for key in ["plural", "singular"] {
        let v = str_of(&names[key]);
        let errs = crate::validation::dns1035_label_errors(v);
        if !v.is_empty() && !errs.is_empty() {
            causes.push(Cause::invalid(&format!("{path}.{key}"), v, &errs.join(",")));
        }
    }
    for key in ["kind", "listKind"] {
        let v = str_of(&names[key]);
        let errs = crate::validation::dns1035_label_errors(&v.to_lowercase());
        if !v.is_empty() && !errs.is_empty() {
            causes.push(Cause::invalid(
                &format!("{path}.{key}"),
                v,
                &format!(
                    "may have mixed case, but should otherwise match: {}",
                    errs.join(",")
                ),
            ));
        }
    }
    for (i, s) in strings_of(&names["shortNames"]).iter().enumerate() {
        let errs = crate::validation::dns1035_label_errors(s);
        if !errs.is_empty() {
            causes.push(Cause::invalid(
                &format!("{path}.shortNames[{i}]"),
                s,
                &errs.join(","),
            ));
        }
    }
    let kind = str_of(&names["kind"]);
    if !kind.is_empty() && kind == str_of(&names["listKind"]) {
        causes.push(Cause::invalid(
            &format!("{path}.listKind"),
            kind,
            "kind and listKind may not be the same",
        ));
    }
    for (i, c) in strings_of(&names["categories"]).iter().enumerate() {
        let errs = crate::validation::dns1035_label_errors(c);
        if !errs.is_empty() {
            causes.push(Cause::invalid(
                &format!("{path}.categories[{i}]"),
                c,
                &errs.join(","),
            ));
        }
    }
    causes
}

/// ValidateCustomResourceDefinitionStoredVersions.
fn validate_stored_versions(crd: &Value) -> Vec<Cause> {
    let path = "status.storedVersions";
    let stored_value = &crd["status"]["storedVersions"];
    let stored = strings_of(stored_value);
    if stored.is_empty() {
        return vec![invalid_shown(
            path,
            &go_strings(stored_value),
            "must have at least one stored version",
        )];
    }
    let mut causes = Vec::new();
    // Later duplicates win the index, as upstream's map does.
    let mut unmatched: BTreeMap<&str, usize> =
        stored.iter().enumerate().map(|(i, v)| (*v, i)).collect();
    for v in list_of(&crd["spec"]["versions"]) {
        let name = str_of(&v["name"]);
        let listed = stored.contains(&name);
        if bool_of(&v["storage"]) && !listed {
            causes.push(invalid_shown(
                path,
                &go_strings(stored_value),
                &format!("must have the storage version {name}"),
            ));
        }
        unmatched.remove(name);
    }
    let mut unmatched: Vec<(usize, &str)> = unmatched.into_iter().map(|(v, i)| (i, v)).collect();
    unmatched.sort();
    for (i, v) in unmatched {
        causes.push(Cause::invalid(
            &format!("{path}[{i}]"),
            v,
            &format!("missing from spec.versions; {v} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {v} and removes {v} from status.storedVersions"),
        ));
    }
    causes
}

/// Groups the Kubernetes community owns need the API-approval annotation.
fn is_protected_group(group: &str) -> bool {
    group == "k8s.io"
        || group.ends_with(".k8s.io")
        || group == "kubernetes.io"
        || group.ends_with(".kubernetes.io")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Approval {
    Invalid,
    Approved,
    Bypassed,
    Missing,
}

/// GetAPIApprovalState.
fn approval_state(crd: &Value) -> (Approval, String) {
    let a = str_of(&crd["metadata"]["annotations"][API_APPROVAL_ANNOTATION]);
    let is_url = a.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !rest
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default()
                .is_empty()
            && !a.contains(char::is_whitespace)
    });
    if a.is_empty() {
        (
            Approval::Missing,
            format!("protected groups must have approval annotation {API_APPROVAL_ANNOTATION:?}, see https://github.com/kubernetes/enhancements/pull/1111"),
        )
    } else if a.starts_with("unapproved") {
        (Approval::Bypassed, format!("not approved: {a:?}"))
    } else if is_url {
        (Approval::Approved, format!("approved in {a}"))
    } else {
        (
            Approval::Invalid,
            format!("protected groups must have approval annotation {API_APPROVAL_ANNOTATION:?} with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"),
        )
    }
}

/// validateAPIApproval.
fn validate_api_approval(new: &Value, old: Option<&Value>) -> Vec<Cause> {
    if !is_protected_group(str_of(&new["spec"]["group"])) {
        return Vec::new();
    }
    let (state, reason) = approval_state(new);
    if old.is_some_and(|o| approval_state(o).0 == state) {
        return Vec::new();
    }
    let field = format!("metadata.annotations[{API_APPROVAL_ANNOTATION}]");
    let value = str_of(&new["metadata"]["annotations"][API_APPROVAL_ANNOTATION]);
    match state {
        Approval::Approved | Approval::Bypassed => Vec::new(),
        Approval::Missing => vec![Cause::required(&field, &reason)],
        Approval::Invalid => vec![Cause::invalid(&field, value, &reason)],
    }
}

/// validatePreserveUnknownFields: v1 forbids turning pruning off.
fn validate_preserve_unknown_fields(new: &Value, old: Option<&Value>) -> Vec<Cause> {
    if old.is_some_and(|o| bool_of(&o["spec"]["preserveUnknownFields"])) {
        return Vec::new();
    }
    if bool_of(&new["spec"]["preserveUnknownFields"]) {
        return vec![invalid_shown(
            "spec.preserveUnknownFields",
            "true",
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        )];
    }
    Vec::new()
}

// ---- conditions -----------------------------------------------------------------------------

fn find_condition<'a>(crd: &'a Value, type_: &str) -> Option<&'a Value> {
    list_of(&crd["status"]["conditions"])
        .iter()
        .find(|c| str_of(&c["type"]) == type_)
}

/// IsCRDConditionTrue.
pub fn is_condition_true(crd: &Value, type_: &str) -> bool {
    find_condition(crd, type_).is_some_and(|c| str_of(&c["status"]) == "True")
}

/// SetCRDCondition: add or replace the condition of `type_`; its lastTransitionTime moves
/// only when the status changes (or was never set).
pub fn set_condition(crd: &mut Value, type_: &str, status: &str, reason: &str, message: &str) {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let Some(st) = child_obj(crd, "status") else {
        return;
    };
    let conditions = st.entry("conditions").or_insert(json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let new = json!({
        "type": type_, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": now,
    });
    let Some(existing) = list.iter_mut().find(|c| str_of(&c["type"]) == type_) else {
        list.push(new);
        return;
    };
    let time = if str_of(&existing["status"]) != status
        || str_of(&existing["lastTransitionTime"]).is_empty()
    {
        json!(now)
    } else {
        existing["lastTransitionTime"].clone()
    };
    *existing = new;
    existing["lastTransitionTime"] = time;
}

// ---- names --------------------------------------------------------------------------------

/// The naming controller's verdict on a CRD: the names to accept and its `NamesAccepted`
/// and `Established` conditions as (status, reason, message).
#[derive(Clone, Debug, PartialEq)]
pub struct Naming {
    pub accepted_names: Value,
    pub names_accepted: (String, String, String),
    pub established: (String, String, String),
}

fn condition_triple(status: &str, reason: &str, message: &str) -> (String, String, String) {
    (status.into(), reason.into(), message.into())
}

/// equalToAcceptedOrFresh.
fn fresh(requested: &str, accepted: &str, used: &HashSet<String>) -> Result<(), String> {
    if requested == accepted || !used.contains(requested) {
        Ok(())
    } else {
        Err(format!("{requested:?} is already in use"))
    }
}

/// calculateNamesAndConditions: names conflict with the accepted names of every CRD of the
/// same group (`others` may or may not include `crd` itself; its own accepted names count
/// either way, as upstream reads them back from its cache). On a conflict the conflicting
/// names keep their previously accepted values; the last conflict found gives the reason.
pub fn naming(crd: &Value, others: &[Value]) -> Naming {
    let group = str_of(&crd["spec"]["group"]);
    let name = str_of(&crd["metadata"]["name"]);
    let mut resources = HashSet::new();
    let mut kinds = HashSet::new();
    let same_group = others
        .iter()
        .filter(|o| str_of(&o["spec"]["group"]) == group && str_of(&o["metadata"]["name"]) != name);
    for item in same_group.chain(std::iter::once(crd)) {
        let a = &item["status"]["acceptedNames"];
        resources.insert(str_of(&a["plural"]).to_string());
        resources.insert(str_of(&a["singular"]).to_string());
        resources.extend(strings_of(&a["shortNames"]).iter().map(|s| s.to_string()));
        kinds.insert(str_of(&a["kind"]).to_string());
        kinds.insert(str_of(&a["listKind"]).to_string());
    }

    let requested = &crd["spec"]["names"];
    let accepted = &crd["status"]["acceptedNames"];
    let mut new = accepted.as_object().cloned().unwrap_or_default();
    let mut conflict: Option<(&str, String)> = None;
    for (key, reason, used) in [
        ("plural", "PluralConflict", &resources),
        ("singular", "SingularConflict", &resources),
    ] {
        match fresh(str_of(&requested[key]), str_of(&accepted[key]), used) {
            Ok(()) => {
                new.insert(key.into(), requested[key].clone());
            }
            Err(e) => conflict = Some((reason, e)),
        }
    }
    if requested["shortNames"] != accepted["shortNames"] {
        let existing = strings_of(&accepted["shortNames"]);
        let errs: Vec<String> = strings_of(&requested["shortNames"])
            .into_iter()
            .filter(|s| !existing.contains(s))
            .filter(|s| *s != str_of(&accepted["plural"]) && *s != str_of(&accepted["singular"]))
            .filter_map(|s| fresh(s, "", &resources).err())
            .collect();
        match errs.len() {
            0 => {
                new.insert("shortNames".into(), requested["shortNames"].clone());
            }
            1 => conflict = Some(("ShortNamesConflict", errs.join(""))),
            _ => conflict = Some(("ShortNamesConflict", format!("[{}]", errs.join(", ")))),
        }
    }
    for (key, reason) in [("kind", "KindConflict"), ("listKind", "ListKindConflict")] {
        match fresh(str_of(&requested[key]), str_of(&accepted[key]), &kinds) {
            Ok(()) => {
                new.insert(key.into(), requested[key].clone());
            }
            Err(e) => conflict = Some((reason, e)),
        }
    }
    new.insert("categories".into(), requested["categories"].clone());
    // Absent optional names stay absent, as the typed object would serialize them.
    new.retain(|_, v| !v.is_null());

    let names_accepted = match &conflict {
        Some((reason, message)) => condition_triple("False", reason, message),
        None => condition_triple("True", "NoConflicts", "no conflicts found"),
    };
    let mut established = match find_condition(crd, "Established") {
        Some(c) => condition_triple(
            str_of(&c["status"]),
            str_of(&c["reason"]),
            str_of(&c["message"]),
        ),
        None => condition_triple("False", "NotAccepted", "not all names are accepted"),
    };
    if established.0 != "True" && conflict.is_none() {
        established = condition_triple(
            "False",
            "Installing",
            "the initial names have been accepted",
        );
    }
    Naming {
        accepted_names: Value::Object(new),
        names_accepted,
        established,
    }
}

/// The names `crd` may have, or the NamesAccepted=False (reason, message) when one of its
/// names is taken by another CRD of the group.
pub fn accepted_names(crd: &Value, others: &[Value]) -> Result<Value, (String, String)> {
    let n = naming(crd, others);
    if n.names_accepted.0 == "True" {
        Ok(n.accepted_names)
    } else {
        Err((n.names_accepted.1, n.names_accepted.2))
    }
}

/// The naming controller's sync on a CRD: sets `status.acceptedNames` and the NamesAccepted
/// and Established conditions. Returns whether the status changed (the controller then
/// writes `/status`).
pub fn apply_naming(crd: &mut Value, others: &[Value]) -> bool {
    let names = &crd["spec"]["names"];
    let accepted = &crd["status"]["acceptedNames"];
    let same = [
        "plural",
        "singular",
        "kind",
        "listKind",
        "shortNames",
        "categories",
    ]
    .iter()
    .all(|k| semantically_equal(&names[*k], &accepted[*k]));
    if same && accepted.is_object() {
        return false;
    }
    let n = naming(crd, others);
    let current = find_condition(crd, "NamesAccepted");
    let equivalent = current.is_some_and(|c| {
        str_of(&c["status"]) == n.names_accepted.0
            && str_of(&c["reason"]) == n.names_accepted.1
            && str_of(&c["message"]) == n.names_accepted.2
    });
    if *accepted == n.accepted_names && equivalent {
        return false;
    }
    if let Some(status) = child_obj(crd, "status") {
        status.insert("acceptedNames".into(), n.accepted_names);
    }
    let (s, r, m) = &n.names_accepted;
    set_condition(crd, "NamesAccepted", s, r, m);
    let (s, r, m) = &n.established;
    set_condition(crd, "Established", s, r, m);
    true
}

/// The establishing controller's step: once names are accepted, Established becomes True.
/// Returns whether the status changed.
pub fn establish(crd: &mut Value) -> bool {
    if !is_condition_true(crd, "NamesAccepted") || is_condition_true(crd, "Established") {
        return false;
    }
    set_condition(
        crd,
        "Established",
        "True",
        "InitialNamesAccepted",
        "the initial names have been accepted",
    );
    true
}

#[cfg(test)]
mod tests;

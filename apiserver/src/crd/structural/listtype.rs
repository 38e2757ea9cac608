//! Uniqueness in `x-kubernetes-list-type: set` lists (whole items) and `map` lists (the
//! `x-kubernetes-list-map-keys`), as apiextensions-apiserver's `listtype` package checks it.

use std::collections::HashMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{Map, Value};

use super::fieldpath::FieldPath;
use super::gofmt::{self, GoNumber};
use super::{additional, causes, items};
use crate::status::Cause;

/// `ValidateListSetsAndMaps` from the object at `path` down.
pub fn validate(path: &str, s: Option<&JSONSchemaProps>, obj: &Value) -> Vec<Cause> {
    let (Some(s), Value::Object(map)) = (s, obj) else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    object(&FieldPath::Root(path), s, map, &mut errs);
    errs
}

fn object(
    path: &FieldPath<'_>,
    s: &JSONSchemaProps,
    map: &Map<String, Value>,
    errs: &mut Vec<Cause>,
) {
    if let Some(Some(extra)) = additional(s) {
        for (k, v) in map {
            value(&FieldPath::Key(path, k), extra, v, errs);
        }
    }
    if let Some(props) = &s.properties {
        for (k, v) in map {
            if let Some(sub) = props.get(k) {
                value(&FieldPath::Child(path, k), sub, v, errs);
            }
        }
    }
}

fn value(path: &FieldPath<'_>, s: &JSONSchemaProps, v: &Value, errs: &mut Vec<Cause>) {
    match v {
        Value::Array(list) => array(path, s, list, errs),
        Value::Object(map) => object(path, s, map, errs),
        _ => {}
    }
}

fn array(path: &FieldPath<'_>, s: &JSONSchemaProps, list: &[Value], errs: &mut Vec<Cause>) {
    match s.x_kubernetes_list_type.as_deref() {
        Some("set") => {
            for i in non_unique(list) {
                errs.push(causes::duplicate(
                    &FieldPath::Index(path, i).to_string(),
                    &list[i],
                ));
            }
        }
        Some("map") => errs.extend(list_map(path, s, list)),
        _ => {}
    }
    if let Some(item) = items(s) {
        for (i, v) in list.iter().enumerate() {
            value(&FieldPath::Index(path, i), item, v, errs);
        }
    }
}

/// The key under which Go's set check files an item: scalars by Go value (so 1 and 1.0
/// differ), compounds by their JSON (where they do not).
#[derive(PartialEq, Eq, Hash)]
enum SeenKey<'a> {
    Missing,
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(&'a str),
    Compound(String),
}

fn seen_key(v: Option<&Value>) -> SeenKey<'_> {
    match v {
        None => SeenKey::Missing,
        Some(Value::Null) => SeenKey::Null,
        Some(Value::Bool(b)) => SeenKey::Bool(*b),
        Some(Value::Number(n)) => match gofmt::number(n) {
            GoNumber::Int(i) => SeenKey::Int(i),
            GoNumber::Float(f) => SeenKey::Float(f.to_bits()),
        },
        Some(Value::String(s)) => SeenKey::Str(s),
        Some(other) => SeenKey::Compound(gofmt::canonical_json(other)),
    }
}

/// The indices of the second appearance of each repeated item.
fn non_unique_keys(keys: Vec<SeenKey<'_>>) -> Vec<usize> {
    if keys.len() <= 1 {
        return Vec::new();
    }
    let mut seen: HashMap<SeenKey<'_>, usize> = HashMap::with_capacity(keys.len());
    let mut out = Vec::new();
    for (i, k) in keys.into_iter().enumerate() {
        let times = seen.entry(k).or_insert(0);
        *times += 1;
        if *times == 2 {
            out.push(i);
        }
    }
    out
}

fn non_unique(list: &[Value]) -> Vec<usize> {
    non_unique_keys(list.iter().map(|v| seen_key(Some(v))).collect())
}

/// An item's key: the map of its key fields that are present (none for a null item).
fn item_key(item: &Value, key_fields: &[String]) -> Map<String, Value> {
    let mut k = Map::new();
    for f in key_fields {
        if let Some(v) = item.get(f) {
            k.insert(f.clone(), v.clone());
        }
    }
    k
}

fn list_map(path: &FieldPath<'_>, s: &JSONSchemaProps, list: &[Value]) -> Vec<Cause> {
    if let Some((i, x)) = list
        .iter()
        .enumerate()
        .find(|(_, x)| !x.is_null() && !x.is_object())
    {
        return vec![causes::invalid(
            &FieldPath::Index(path, i).to_string(),
            x,
            "must be an object for an array of list-type map",
        )];
    }
    if list.len() <= 1 {
        return Vec::new();
    }
    let key_fields = s.x_kubernetes_list_map_keys.as_deref().unwrap_or_default();
    let dups = if let [single] = key_fields {
        // One key field: compared as a scalar, a missing key counting as its own value.
        non_unique_keys(list.iter().map(|x| seen_key(x.get(single))).collect())
    } else {
        non_unique_keys(
            list.iter()
                .map(|x| {
                    let key = Value::Object(item_key(x, key_fields));
                    SeenKey::Compound(gofmt::canonical_json(&key))
                })
                .collect(),
        )
    };
    dups.into_iter()
        .map(|i| {
            let at = FieldPath::Index(path, i).to_string();
            causes::duplicate(&at, &Value::Object(item_key(&list[i], key_fields)))
        })
        .collect()
}

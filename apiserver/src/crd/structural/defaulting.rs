//! Defaulting (apiextensions-apiserver/pkg/apiserver/schema/defaulting): missing fields that
//! have a `default` get a copy of it, and so do nulls where null is not allowed; nulls that
//! are neither allowed nor defaulted are dropped first.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::Value;

use super::{additional, default_value, items, nullable, properties, property};

/// The schema of a map entry: its property, else `additionalProperties`'s schema.
fn field_schema<'a>(s: Option<&'a JSONSchemaProps>, k: &str) -> Option<&'a JSONSchemaProps> {
    let s = s?;
    property(s, k).or_else(|| additional(s).flatten())
}

fn non_nullable_null(x: &Value, s: Option<&JSONSchemaProps>) -> bool {
    x.is_null() && s.is_some_and(|s| !nullable(s))
}

/// `PruneNonNullableNullsWithoutDefaults`.
pub fn prune_non_nullable_nulls(x: &mut Value, s: Option<&JSONSchemaProps>) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let sub = field_schema(s, k);
                !(non_nullable_null(v, sub) && sub.and_then(default_value).is_none())
            });
            for (k, v) in map.iter_mut() {
                prune_non_nullable_nulls(v, field_schema(s, k));
            }
        }
        Value::Array(list) => {
            let item = s.and_then(items);
            for v in list {
                prune_non_nullable_nulls(v, item);
            }
        }
        _ => {}
    }
}

/// `Default`: defaults are deep copies of the schema's.
pub fn default(x: &mut Value, s: Option<&JSONSchemaProps>) {
    let Some(s) = s else {
        return;
    };
    match x {
        Value::Object(map) => {
            if let Some(props) = properties(s) {
                for (k, prop) in props {
                    let Some(d) = default_value(prop) else {
                        continue;
                    };
                    let missing = map.get(k).is_none_or(|v| non_nullable_null(v, Some(prop)));
                    if missing {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = property(s, k) {
                    default(v, Some(prop));
                } else if let Some(extra) = additional(s) {
                    if non_nullable_null(v, extra) {
                        *v = extra
                            .and_then(default_value)
                            .cloned()
                            .unwrap_or(Value::Null);
                    }
                    default(v, extra);
                }
            }
        }
        Value::Array(list) => {
            let item = items(s);
            for v in list {
                if non_nullable_null(v, item) {
                    *v = item.and_then(default_value).cloned().unwrap_or(Value::Null);
                }
                default(v, item);
            }
        }
        _ => {}
    }
}

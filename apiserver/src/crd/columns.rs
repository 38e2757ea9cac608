//! Tables for custom resources: a CRD version's `additionalPrinterColumns`, as upstream's
//! table convertor (apiextensions-apiserver/pkg/registry/customresource/tableconvertor)
//! renders them. Each column's JSONPath is parsed once, when the CRD version is loaded.

pub mod jsonpath;

use chrono::{DateTime, Utc};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;
use serde_json::{json, Value};

use crate::printers::docs::{META_CREATION, META_NAME};
use crate::printers::{human_duration, Now};
use jsonpath::JsonPath;

/// The printer columns of one CRD version, ready to render rows.
#[derive(Clone, Debug)]
pub struct Columns {
    columns: Vec<Column>,
}

#[derive(Clone, Debug)]
struct Column {
    name: String,
    type_: String,
    format: String,
    description: String,
    priority: i32,
    path: JsonPath,
}

impl Columns {
    /// Columns from a CRD version's `additionalPrinterColumns`; none means upstream's
    /// default, an `Age` column of type date. Like upstream, a column whose JSONPath does not
    /// parse ends the list: it and the columns after it are left out.
    pub fn new(cols: &[CustomResourceColumnDefinition]) -> Columns {
        let age;
        let cols = if cols.is_empty() {
            age = [CustomResourceColumnDefinition {
                name: "Age".into(),
                type_: "date".into(),
                description: Some(META_CREATION.into()),
                json_path: ".metadata.creationTimestamp".into(),
                ..Default::default()
            }];
            &age[..]
        } else {
            cols
        };
        let mut columns = Vec::with_capacity(cols.len());
        for c in cols {
            let Ok(path) = JsonPath::parse(&c.json_path) else {
                tracing::debug!(
                    path = %c.json_path,
                    "unrecognized column definition, falling back to default printing"
                );
                break;
            };
            let description = match c.description.as_deref() {
                Some(d) if !d.is_empty() => d.to_string(),
                _ => format!(
                    "Custom resource definition column (in JSONPath format): {}",
                    c.json_path
                ),
            };
            columns.push(Column {
                name: c.name.clone(),
                type_: c.type_.clone(),
                format: c.format.clone().unwrap_or_default(),
                description,
                priority: c.priority.unwrap_or(0),
                path,
            });
        }
        Columns { columns }
    }

    /// The Table's `columnDefinitions`: Name first, then each column.
    pub fn column_definitions(&self) -> Value {
        let mut defs = vec![json!({
            "name": "Name", "type": "string", "format": "name",
            "description": META_NAME, "priority": 0,
        })];
        defs.extend(self.columns.iter().map(|c| {
            json!({
                "name": c.name, "type": c.type_, "format": c.format,
                "description": c.description, "priority": c.priority,
            })
        }));
        Value::Array(defs)
    }

    /// The rows (`cells` only; the caller adds `object`) of `objects`, each with the index
    /// of the object it prints, in list order.
    pub fn rows(&self, objects: &[Value]) -> Vec<(usize, Value)> {
        let now = Utc::now();
        objects
            .iter()
            .enumerate()
            .map(|(i, o)| (i, json!({ "cells": self.cells(o, now) })))
            .collect()
    }

    /// One row's cells: the name, then each column's first match (null when none, which
    /// kubectl prints as `<none>`).
    pub fn cells(&self, obj: &Value, now: Now) -> Vec<Value> {
        let mut cells = Vec::with_capacity(1 + self.columns.len());
        cells.push(json!(obj["metadata"]["name"].as_str().unwrap_or_default()));
        for c in &self.columns {
            // Upstream takes the first result only, even of `[*]`.
            let value = match c.path.find(obj) {
                Ok(found) => found.first().copied(),
                Err(_) => None,
            };
            cells.push(match value {
                None => Value::Null,
                Some(v) if c.type_ == "string" => Value::String(text(v)),
                Some(v) => typed_cell(&c.type_, v, now),
            });
        }
        cells
    }
}

/// A cell of a non-string column: the value when it has the column's type, else null.
fn typed_cell(type_: &str, v: &Value, now: Now) -> Value {
    match (type_, v) {
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => json!(i),
            // Go's int64(float64) truncates.
            None => n.as_f64().map_or(Value::Null, |f| json!(f as i64)),
        },
        ("number", Value::Number(n)) => match n.as_f64() {
            // Integral floats keep Go's encoding ("3", not "3.0").
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            Some(f) => json!(f),
            None => Value::Null,
        },
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => json!(age(s, now)),
        _ => Value::Null,
    }
}

/// metav1.Time's query-parameter parsing and ConvertToHumanReadableDateType.
fn age(s: &str, now: Now) -> String {
    if s.is_empty() || s == "null" {
        return "<unknown>".into();
    }
    match DateTime::parse_from_rfc3339(s) {
        Ok(t) => human_duration(now - t.with_timezone(&Utc)),
        Err(_) => "<invalid>".into(),
    }
}

/// How upstream's JSONPath printer writes a value: strings raw, lists and maps as compact
/// JSON (HTML-escaped as Go's encoder does), scalars as Go's `fmt.Print`.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::Array(_) | Value::Object(_) => go_json(v),
    }
}

/// Go's `%v` of a float64: shortest digits, exponent form outside [1e-4, 1e21).
fn go_float(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        // Rust writes `1.5e-5`; Go writes `1.5e-05`.
        let e = format!("{f:e}");
        let Some((mantissa, exp)) = e.split_once('e') else {
            return e;
        };
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    f.to_string()
}

fn go_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn col(name: &str, type_: &str, path: &str) -> CustomResourceColumnDefinition {
        CustomResourceColumnDefinition {
            name: name.into(),
            type_: type_.into(),
            json_path: path.into(),
            ..Default::default()
        }
    }

    fn now() -> Now {
        Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5)
            .single()
            .unwrap_or_default()
    }

    fn widget() -> Value {
        json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w1", "creationTimestamp": "2024-01-02T02:04:05Z"},
            "spec": {"replicas": 3, "ratio": 2.5, "whole": 4.0, "enabled": true,
                     "items": [{"name": "a"}, {"name": "b"}], "labels": {"x": "<y>"},
                     "nothing": null},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "when": "2024-01-01T03:04:05Z", "bad": "yesterday", "empty": ""}
        })
    }

    #[test]
    fn default_columns_are_name_and_age() {
        let c = Columns::new(&[]);
        let defs = c.column_definitions();
        assert_eq!(defs[0]["name"], "Name");
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(defs[1]["name"], "Age");
        assert_eq!(defs[1]["type"], "date");
        assert_eq!(defs[1]["description"], META_CREATION);
        assert_eq!(c.cells(&widget(), now()), vec![json!("w1"), json!("60m")]);
    }

    #[test]
    fn definitions_carry_format_priority_and_description() {
        let mut replicas = col("Replicas", "integer", ".spec.replicas");
        replicas.priority = Some(1);
        replicas.format = Some("int32".into());
        let mut ready = col("Ready", "string", ".status.ready");
        ready.description = Some("Whether it is ready".into());
        let defs = Columns::new(&[replicas, ready]).column_definitions();
        assert_eq!(
            defs[1],
            json!({"name": "Replicas", "type": "integer", "format": "int32", "priority": 1,
                   "description": "Custom resource definition column (in JSONPath format): .spec.replicas"})
        );
        assert_eq!(defs[2]["description"], "Whether it is ready");
        assert_eq!(defs[2]["format"], "");
        assert_eq!(defs[2]["priority"], 0);
    }

    #[test]
    fn cells_of_each_type() {
        let c = Columns::new(&[
            col("Replicas", "integer", ".spec.replicas"),
            col("Ratio", "number", ".spec.ratio"),
            col("Whole", "number", ".spec.whole"),
            col("Truncated", "integer", ".spec.ratio"),
            col("Enabled", "boolean", ".spec.enabled"),
            col(
                "Ready",
                "string",
                ".status.conditions[?(@.type==\"Ready\")].status",
            ),
            col("When", "date", ".status.when"),
        ]);
        assert_eq!(
            c.cells(&widget(), now()),
            vec![
                json!("w1"),
                json!(3),
                json!(2.5),
                json!(4),
                json!(2),
                json!(true),
                json!("True"),
                json!("24h"),
            ]
        );
    }

    #[test]
    fn mismatched_types_and_missing_values_are_null() {
        let c = Columns::new(&[
            col("Missing", "string", ".spec.absent"),
            col("NotInt", "integer", ".spec.enabled"),
            col("NotBool", "boolean", ".spec.replicas"),
            col("NotDate", "date", ".spec.replicas"),
            col("OutOfRange", "string", ".spec.items[7].name"),
            col("Unknown", "color", ".spec.replicas"),
        ]);
        let cells = c.cells(&widget(), now());
        assert_eq!(cells[0], json!("w1"));
        assert!(cells[1..].iter().all(Value::is_null), "{cells:?}");
    }

    #[test]
    fn string_columns_print_any_value() {
        let c = Columns::new(&[
            col("N", "string", ".spec.replicas"),
            col("R", "string", ".spec.ratio"),
            col("B", "string", ".spec.enabled"),
            col("First", "string", ".spec.items[*].name"),
            col("Map", "string", ".spec.labels"),
            col("Null", "string", ".spec.nothing"),
        ]);
        assert_eq!(
            c.cells(&widget(), now())[1..],
            [
                json!("3"),
                json!("2.5"),
                json!("true"),
                json!("a"),
                json!("{\"x\":\"\\u003cy\\u003e\"}"),
                json!("<no value>"),
            ]
        );
    }

    #[test]
    fn dates_unknown_and_invalid() {
        let c = Columns::new(&[
            col("Bad", "date", ".status.bad"),
            col("Empty", "date", ".status.empty"),
        ]);
        assert_eq!(
            c.cells(&widget(), now())[1..],
            [json!("<invalid>"), json!("<unknown>")]
        );
    }

    #[test]
    fn an_unparsable_column_ends_the_list() {
        let c = Columns::new(&[
            col("A", "integer", ".spec.replicas"),
            col("B", "string", ".spec.items["),
            col("C", "string", ".metadata.name"),
        ]);
        assert_eq!(c.column_definitions().as_array().map(Vec::len), Some(2));
        assert_eq!(c.cells(&widget(), now()), vec![json!("w1"), json!(3)]);
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float(2.5), "2.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(-1.5e-7), "-1.5e-07");
    }

    #[test]
    fn rows_hold_cells_in_list_order() {
        let c = Columns::new(&[col("Replicas", "integer", ".spec.replicas")]);
        let rows = c.rows(&[widget(), json!({"metadata": {"name": "w2"}})]);
        assert_eq!(rows[0], (0, json!({"cells": ["w1", 3]})));
        assert_eq!(rows[1], (1, json!({"cells": ["w2", null]})));
    }

    #[test]
    fn columns_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Columns>();
    }
}

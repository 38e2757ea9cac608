//! Server-side printing: the table columns kube-apiserver produces for each built-in kind
//! (k8s.io/kubernetes pkg/printers/internalversion), computed from the object JSON.
//!
//! Each kind is one [`Printer`]: a static list of column definitions plus a function from the
//! object to its row cells. The API server renders tables with upstream's `Wide: true`, so
//! every row carries all cells and `kubectl` hides the priority-1 columns unless `-o wide`.
//! Kinds without a printer upstream get the default convertor's Name / Created At.

mod apps;
mod batch;
mod core;
pub(crate) mod docs;
mod networking;
mod other;
pub mod quantity;

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

pub use quantity::canonical as canonical_quantity;

/// The instant rows are rendered at: ages are relative to it.
pub type Now = DateTime<Utc>;

/// One `TableColumnDefinition`.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `boolean` or `date`.
    pub kind: &'static str,
    /// `name` for the column holding the object's name; usually empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
}

/// A column shown by default.
const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 0,
    }
}

/// A column only `-o wide` shows.
const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        priority: 1,
        ..col(name, kind, description)
    }
}

/// The Name column every printer starts with.
const NAME: Column = Column {
    format: "name",
    ..col("Name", "string", docs::META_NAME)
};

/// The Age column most printers end with.
const AGE: Column = col("Age", "string", docs::META_CREATION);

/// Cells computed from one object.
pub type CellsFn = fn(&Value, Now) -> Vec<Value>;

/// How one kind is printed.
pub struct Printer {
    pub group: &'static str,
    pub kind: &'static str,
    pub columns: &'static [Column],
    pub cells: CellsFn,
    /// Row conditions (pods mark finished pods `Completed`).
    pub conditions: Option<fn(&Value) -> Option<Value>>,
    /// Rows of a list printed in this order instead of the list's (flow schemas).
    pub order: Option<fn(&Value, &Value) -> Ordering>,
}

impl Printer {
    const fn new(
        group: &'static str,
        kind: &'static str,
        columns: &'static [Column],
        cells: CellsFn,
    ) -> Printer {
        Printer {
            group,
            kind,
            columns,
            cells,
            conditions: None,
            order: None,
        }
    }

    /// The table's `columnDefinitions`.
    pub fn column_definitions(&self) -> Value {
        Value::Array(
            self.columns
                .iter()
                .map(|c| {
                    json!({"name": c.name, "type": c.kind, "format": c.format,
                        "description": c.description, "priority": c.priority})
                })
                .collect(),
        )
    }

    /// The rows (`cells` and `conditions`, without `object`) of `objects`, each with the
    /// index of the object it prints, in print order.
    pub fn rows(&self, objects: &[Value]) -> Vec<(usize, Value)> {
        let now = Utc::now();
        let mut order: Vec<usize> = (0..objects.len()).collect();
        if let Some(cmp) = self.order {
            order.sort_by(|&a, &b| cmp(&objects[a], &objects[b]));
        }
        order
            .into_iter()
            .map(|i| (i, self.row(&objects[i], now)))
            .collect()
    }

    /// One row at `now`.
    pub fn row(&self, obj: &Value, now: Now) -> Value {
        let mut row = json!({ "cells": (self.cells)(obj, now) });
        if let Some(conditions) = self.conditions.and_then(|f| f(obj)) {
            row["conditions"] = conditions;
        }
        row
    }
}

/// Anything that prints objects as table rows: a built-in kind's [`Printer`], or a custom
/// resource's printer columns.
pub trait Tabular {
    /// The table's `columnDefinitions`.
    fn column_definitions(&self) -> Value;
    /// The rows of `objects`, each with the index of the object it prints, in print order.
    fn rows(&self, objects: &[Value]) -> Vec<(usize, Value)>;
}

impl Tabular for Printer {
    fn column_definitions(&self) -> Value {
        Printer::column_definitions(self)
    }
    fn rows(&self, objects: &[Value]) -> Vec<(usize, Value)> {
        Printer::rows(self, objects)
    }
}

/// Upstream's default table convertor, for kinds without a printer of their own.
pub static DEFAULT: Printer = Printer::new(
    "",
    "",
    &[
        NAME,
        Column {
            name: "Created At",
            kind: "date",
            format: "",
            description: docs::META_CREATION,
            priority: 0,
        },
    ],
    default_cells,
);

fn default_cells(obj: &Value, _now: Now) -> Vec<Value> {
    // metav1.Time formatted as RFC3339 in UTC; the zero time when unset.
    let created = time_at(obj, &["metadata", "creationTimestamp"])
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![name(obj), json!(created)]
}

/// Every kind with a printer of its own.
fn all() -> impl Iterator<Item = &'static Printer> {
    core::PRINTERS
        .iter()
        .chain(apps::PRINTERS)
        .chain(batch::PRINTERS)
        .chain(networking::PRINTERS)
        .chain(other::PRINTERS)
}

/// The printer of `group`/`kind`; [`DEFAULT`] when upstream has none.
pub fn for_kind(group: &str, kind: &str) -> &'static Printer {
    all()
        .find(|p| p.group == group && p.kind == kind)
        .unwrap_or(&DEFAULT)
}

/// The printer for an object, by its own `apiVersion` and `kind` (watch events and single
/// objects carry no other type information here).
pub fn for_object(obj: &Value) -> &'static Printer {
    let api_version = str_at(obj, &["apiVersion"]);
    let group = api_version
        .rsplit_once('/')
        .map(|(g, _)| g)
        .unwrap_or_default();
    for_kind(group, str_at(obj, &["kind"]))
}

// ---- reading the object ----------------------------------------------------------------

/// The value at `path`; `Null` where anything on the way is missing.
fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

/// The string at `path`; empty when missing (Go's zero value).
fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).as_str().unwrap_or_default()
}

/// The string at `path`, or `default` when missing or empty.
fn str_or<'a>(v: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    match str_at(v, path) {
        "" => default,
        s => s,
    }
}

fn int_opt(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// The integer at `path`; 0 when missing.
fn int_at(v: &Value, path: &[&str]) -> i64 {
    int_opt(at(v, path)).unwrap_or_default()
}

fn bool_at(v: &Value, path: &[&str]) -> bool {
    at(v, path).as_bool().unwrap_or_default()
}

/// The array at `path`; empty when missing.
fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The number of entries of the array or map at `path`.
fn len_at(v: &Value, path: &[&str]) -> i64 {
    let n = match at(v, path) {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    };
    n as i64
}

fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    time_of(at(v, path))
}

fn name(obj: &Value) -> Value {
    json!(str_at(obj, &["metadata", "name"]))
}

fn is_deleting(obj: &Value) -> bool {
    !at(obj, &["metadata", "deletionTimestamp"]).is_null()
}

/// The status of the first condition of `kind`, if any.
fn condition_status<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
        .map(|c| str_at(c, &["status"]))
}

// ---- formatting ------------------------------------------------------------------------

/// `duration.HumanDuration`: about two significant figures.
pub fn human_duration(d: TimeDelta) -> String {
    // Truncated toward zero, as Go's int(d.Seconds()); up to a second in the future still
    // reads as now, to tolerate clock skew.
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            dy => format!("{}y{dy}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `translateTimestampSince`: the time elapsed since `t`, `<unknown>` when unset.
fn since(t: Option<DateTime<Utc>>, now: Now) -> String {
    match t {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

/// The Age cell: time since creation.
fn age(obj: &Value, now: Now) -> Value {
    json!(since(time_at(obj, &["metadata", "creationTimestamp"]), now))
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key, `<none>` when empty.
fn format_labels(map: &Value) -> String {
    let s = match map.as_object() {
        // serde_json maps iterate in key order.
        Some(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        None => String::new(),
    };
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by key. A nil or
/// empty selector prints as the empty string; an invalid one is an error.
fn selector_string(sel: &Value) -> Result<String, ()> {
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = sel["matchLabels"].as_object() {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for expr in arr_at(sel, &["matchExpressions"]) {
        let key = str_at(expr, &["key"]);
        let mut values: Vec<&str> = arr_at(expr, &["values"])
            .iter()
            .map(|v| v.as_str().unwrap_or_default())
            .collect();
        // Values print sorted, as Requirement.String() does.
        values.sort_unstable();
        let s = match (str_at(expr, &["operator"]), values.is_empty()) {
            ("In", false) => format!("{key} in ({})", values.join(",")),
            ("NotIn", false) => format!("{key} notin ({})", values.join(",")),
            ("Exists", true) => key.to_string(),
            ("DoesNotExist", true) => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), s));
    }
    // Stable, like Go's insertion sort on these short lists.
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: `<none>` when it selects everything or nothing.
fn format_label_selector(sel: &Value) -> String {
    match selector_string(sel) {
        Err(()) => "<error>".into(),
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
    }
}

/// `layoutContainerCells`: container names and images, comma separated.
fn container_cells(containers: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

/// `printBoolPtr`: True / False / `<unset>`.
fn bool_ptr(v: &Value) -> String {
    match v.as_bool() {
        Some(true) => "True".into(),
        Some(false) => "False".into(),
        None => "<unset>".into(),
    }
}

/// `Quantity.String()` of an optional quantity: canonical form, `0` when unset (a zero
/// `Quantity` value).
fn quantity_or_zero(v: &Value) -> String {
    match v {
        Value::Null => "0".into(),
        v => quantity_string(v),
    }
}

/// The canonical form of a quantity as stored (a string, or a bare JSON number).
fn quantity_string(v: &Value) -> String {
    let raw = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return "<nil>".into(),
    };
    canonical_quantity(&raw).unwrap_or(raw)
}

/// `listWithMoreString`: at most `max` entries, then how many more.
fn list_with_more(list: &[String], count: usize, max: usize) -> String {
    let ret = list.join(",");
    if count > max {
        return format!("{ret} + {} more...", count - max);
    }
    if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

/// `intstr.IntOrString.String()`.
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => int_opt(v).unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests;

//! Validation of a value against a schema as kube-openapi's `validate.SchemaValidator` does it
//! for apiextensions-apiserver: the same validators in the same order, the same messages
//! ("spec.replicas in body must be of type integer: \"string\""), the same choice of errors
//! for `anyOf`/`oneOf` by match count, and the same translation into field errors
//! (`kubeOpenAPIResultToFieldErrors`).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::{Map, Number, Value};

use super::fieldpath::FieldPath;
use super::gofmt::{self, GoNumber};
use super::{causes, child, formats, int_or_string, list_of, nullable, patterns, type_of};
use crate::status::Cause;

/// Validate `data` against `schema`. Field paths are relative to `prefix` (`None` for a whole
/// custom resource, where upstream's root path is nil and prints as `<nil>`).
pub fn validate(schema: &JSONSchemaProps, data: &Value, prefix: Option<&str>) -> Vec<Cause> {
    to_causes(node(schema, &FieldPath::Root(""), data, None), prefix)
}

/// Validate an update with upstream's ratcheting (`CRDValidationRatcheting`): errors in any
/// value equal to the value it replaces are dropped, so a tightened schema does not block
/// updates that leave the offending fields alone. Old values are matched to new ones by
/// property name, map key, and the keys of `x-kubernetes-list-type: map` lists.
pub fn validate_update(schema: &JSONSchemaProps, new: &Value, old: &Value) -> Vec<Cause> {
    to_causes(node(schema, &FieldPath::Root(""), new, Some(old)), None)
}

fn to_causes(outcome: Outcome, prefix: Option<&str>) -> Vec<Cause> {
    outcome
        .errors
        .into_iter()
        .map(|f| f.into_cause(prefix.unwrap_or_default()))
        .collect()
}

/// What the translation into a field error needs to know about a failure.
#[derive(Debug)]
enum Code {
    Composite,
    InvalidType,
    Required,
    TooLong,
    Enum(Vec<Value>),
    MaxItems,
    TooManyProperties,
    Other,
}

/// One kube-openapi validation error.
#[derive(Debug)]
struct Failure {
    code: Code,
    /// The dotted path the validator was at ("spec.replicas", ".spec" for a required field
    /// of the root).
    name: String,
    value: Option<Value>,
    /// The bound a too-long or too-many error reports.
    valid: i64,
    message: String,
}

impl Failure {
    fn new(code: Code, name: &FieldPath<'_>, value: Option<Value>, message: String) -> Self {
        Failure {
            code,
            name: name.to_string(),
            value,
            valid: -1,
            message,
        }
    }

    fn into_cause(self, prefix: &str) -> Cause {
        if let Code::Composite = self.code {
            return causes::invalid(prefix, &Value::String(String::new()), &self.message);
        }
        let path = if self.name.is_empty() || self.name == "." {
            prefix.to_string()
        } else {
            child(prefix, self.name.strip_prefix('.').unwrap_or(&self.name))
        };
        let value = self.value.unwrap_or_else(|| Value::String(String::new()));
        match self.code {
            Code::Required => causes::required(&path, ""),
            Code::Enum(values) => {
                let shown: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => gofmt::canonical_json(other),
                    })
                    .collect();
                causes::not_supported(&path, &value, &shown)
            }
            Code::TooLong => causes::too_long(&path, self.valid),
            Code::MaxItems | Code::TooManyProperties => {
                causes::too_many(&path, value.as_i64().unwrap_or(-1), self.valid)
            }
            Code::InvalidType => causes::type_invalid(&path, &value, &self.message),
            Code::Composite | Code::Other => causes::invalid(&path, &value, &self.message),
        }
    }
}

/// A validator's result: its errors (unique by message) and how many checks passed, which
/// picks the most relevant failing branch of an `anyOf` or `oneOf`.
#[derive(Default, Debug)]
struct Outcome {
    errors: Vec<Failure>,
    matches: usize,
}

impl Outcome {
    fn fail(f: Failure) -> Self {
        Outcome {
            errors: vec![f],
            matches: 0,
        }
    }

    fn passed() -> Self {
        Outcome {
            errors: Vec::new(),
            matches: 1,
        }
    }

    fn add(&mut self, f: Failure) {
        if !self.errors.iter().any(|e| e.message == f.message) {
            self.errors.push(f);
        }
    }

    fn merge(&mut self, other: Outcome) {
        for e in other.errors {
            self.add(e);
        }
        self.matches += other.matches;
    }

    fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

const IN: &str = "body";

/// The schema's type list as the converted OpenAPI schema has it: one type, none, or
/// `integer,string` for `x-kubernetes-int-or-string`.
struct Types<'a> {
    one: &'a str,
    int_or_string: bool,
}

impl<'a> Types<'a> {
    fn of(s: &'a JSONSchemaProps) -> Self {
        Types {
            one: type_of(s),
            int_or_string: int_or_string(s),
        }
    }

    fn contains(&self, t: &str) -> bool {
        if self.int_or_string {
            t == "integer" || t == "string"
        } else {
            !self.one.is_empty() && self.one == t
        }
    }

    fn is_empty(&self) -> bool {
        !self.int_or_string && self.one.is_empty()
    }

    fn joined(&self) -> String {
        if self.int_or_string {
            "integer,string".into()
        } else {
            self.one.into()
        }
    }
}

fn invalid_type(name: &FieldPath<'_>, type_name: &str, value: &str) -> Failure {
    Failure::new(
        Code::InvalidType,
        name,
        Some(Value::String(value.to_string())),
        format!(
            "{name} in {IN} must be of type {type_name}: {}",
            gofmt::quote(value)
        ),
    )
}

fn composite(message: String) -> Failure {
    Failure::new(Code::Composite, &FieldPath::Root(""), None, message)
}

/// One schema node; `old` is the value it replaces in an update, if any.
fn node(s: &JSONSchemaProps, path: &FieldPath<'_>, data: &Value, old: Option<&Value>) -> Outcome {
    let result = check_node(s, path, data, old);
    if !result.is_valid() && old == Some(data) {
        // Ratcheted: upstream keeps these as warnings only.
        return Outcome {
            errors: Vec::new(),
            matches: result.matches,
        };
    }
    result
}

/// The validators kube-openapi runs on a node, in its order.
fn check_node(
    s: &JSONSchemaProps,
    path: &FieldPath<'_>,
    data: &Value,
    old: Option<&Value>,
) -> Outcome {
    let types = Types::of(s);
    let format = formats::effective(
        s.format.as_deref().unwrap_or_default(),
        types.one,
        types.int_or_string,
    );
    let mut result = Outcome::default();
    if data.is_null() {
        // Only the type and enum validators look at nulls.
        result.merge(type_check(s, &types, format, path, data));
        result.merge(enum_check(s, path, data));
        return result;
    }
    if !types.is_empty() || !format.is_empty() {
        result.merge(type_check(s, &types, format, path, data));
        result.matches += 1;
    }
    result.merge(composition(s, path, data, old));
    result.matches += 1;
    if let Value::String(text) = data {
        result.merge(string_check(s, path, text));
        result.matches += 1;
        if formats::known(format) {
            if !formats::valid(format, text) {
                result.merge(Outcome::fail(invalid_type(path, format, text)));
            }
            result.matches += 1;
        }
    }
    if let Value::Number(n) = data {
        result.merge(number_check(s, path, n, data));
        result.matches += 1;
    }
    if let Value::Array(items) = data {
        result.merge(slice_check(s, path, items, old));
        result.matches += 1;
    }
    result.merge(enum_check(s, path, data));
    result.matches += 1;
    if let Value::Object(map) = data {
        result.merge(object_check(s, path, map, old));
        result.matches += 1;
    }
    result.matches += 1;
    result
}

/// The JSON type (and the format Go's decoding implies) of a value.
fn json_type(data: &Value) -> (&'static str, &'static str) {
    match data {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) => match gofmt::number(n) {
            GoNumber::Int(_) => ("integer", "int64"),
            GoNumber::Float(_) => ("number", "float64"),
        },
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

fn type_check(
    s: &JSONSchemaProps,
    types: &Types<'_>,
    format: &str,
    path: &FieldPath<'_>,
    data: &Value,
) -> Outcome {
    if data.is_null() {
        if !types.is_empty() && !types.contains("null") && !nullable(s) {
            return Outcome::fail(invalid_type(path, &types.joined(), "null"));
        }
        return Outcome::passed();
    }
    let (sch_type, data_format) = json_type(data);
    let float_int = match data {
        Value::Number(n) => match gofmt::number(n) {
            GoNumber::Float(f) => is_json_integer(f) && types.contains("integer"),
            GoNumber::Int(_) => false,
        },
        _ => false,
    };
    let int_float = sch_type == "integer" && types.contains("number");
    let stringish = matches!(data, Value::String(_) | Value::Array(_));
    // A typed value of the wrong format (strings and arrays are exempt).
    let format_fits = types.contains(sch_type) || data_format == format || float_int || int_float;
    if !(stringish || format.is_empty() || format_fits) {
        return Outcome::fail(invalid_type(path, format, data_format));
    }
    // A string or array with a format on a non-numeric schema passes.
    let numeric = types.contains("number") || types.contains("integer");
    if !(numeric || format.is_empty()) && stringish {
        return Outcome::passed();
    }
    if !(types.contains(sch_type) || float_int || int_float) {
        return Outcome::fail(invalid_type(path, &types.joined(), sch_type));
    }
    Outcome::passed()
}

/// go-openapi's `IsFloat64AJSONInteger`.
fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_991.0; // 2^53 - 1
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    if f == f.trunc() {
        return true;
    }
    if f < 0.0 {
        // Go's conversion of a negative float to uint64 leaves no near integer to compare.
        return false;
    }
    let g = f.trunc();
    if g == 0.0 {
        return false;
    }
    (f - g).abs() / (f + g) < 1e-9
}

/// allOf, anyOf, oneOf and not.
fn composition(
    s: &JSONSchemaProps,
    path: &FieldPath<'_>,
    data: &Value,
    old: Option<&Value>,
) -> Outcome {
    let mut main = Outcome::default();
    let quoted = || gofmt::quote(&path.to_string());

    let any_of = list_of(&s.any_of);
    if !any_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        for sub in any_of {
            let r = node(sub, path, data, old);
            if r.is_valid() {
                best = None;
                first_success = Some(r);
                break;
            }
            if best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if first_success.is_none() {
            main.add(composite(format!(
                "{} must validate at least one schema (anyOf)",
                quoted()
            )));
        }
        if let Some(b) = best.or(first_success) {
            main.merge(b);
        }
    }

    let one_of = list_of(&s.one_of);
    if !one_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        let mut validated = 0;
        for sub in one_of {
            let r = node(sub, path, data, old);
            if r.is_valid() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(r);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let detail = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            main.add(composite(format!(
                "{} must validate one and only one schema (oneOf). {detail}",
                quoted()
            )));
            if let Some(b) = best {
                main.merge(b);
            }
        } else if let Some(f) = first_success {
            main.merge(f);
        }
    }

    let all_of = list_of(&s.all_of);
    if !all_of.is_empty() {
        let mut validated = 0;
        for sub in all_of {
            let r = node(sub, path, data, old);
            if r.is_valid() {
                validated += 1;
            }
            main.merge(r);
        }
        if validated != all_of.len() {
            let detail = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            main.add(composite(format!(
                "{} must validate all the schemas (allOf){detail}",
                quoted()
            )));
        }
    }

    if let Some(not) = &s.not {
        if node(not, path, data, old).is_valid() {
            main.add(composite(format!(
                "{} must not validate the schema (not)",
                quoted()
            )));
        }
    }
    main.matches += 1;
    main
}

fn string_check(s: &JSONSchemaProps, path: &FieldPath<'_>, text: &str) -> Outcome {
    let data = || Some(Value::String(text.to_string()));
    let len = text.chars().count() as i64;
    if let Some(max) = s.max_length {
        if len > max {
            let mut f = Failure::new(
                Code::TooLong,
                path,
                data(),
                format!("{path} in {IN} should be at most {max} chars long"),
            );
            f.valid = max;
            return Outcome::fail(f);
        }
    }
    if let Some(min) = s.min_length {
        if len < min {
            return Outcome::fail(Failure::new(
                Code::Other,
                path,
                data(),
                format!("{path} in {IN} should be at least {min} chars long"),
            ));
        }
    }
    if let Some(pattern) = s.pattern.as_deref().filter(|p| !p.is_empty()) {
        let shown = match patterns::compile(pattern) {
            Ok(re) if re.is_match(text) => None,
            Ok(_) => Some(pattern.to_string()),
            Err(e) => Some(format!("{pattern}, but pattern is invalid: {e}")),
        };
        if let Some(shown) = shown {
            return Outcome::fail(Failure::new(
                Code::Other,
                path,
                data(),
                format!("{path} in {IN} should match '{shown}'"),
            ));
        }
    }
    Outcome::default()
}

fn number_check(s: &JSONSchemaProps, path: &FieldPath<'_>, n: &Number, data: &Value) -> Outcome {
    let value = || Some(data.clone());
    let mut out = Outcome::default();
    let num = gofmt::number(n);

    if let Some(factor) = s.multiple_of {
        // Integers are checked against the factor as an integer, as Go converts it.
        let int_factor = factor as i64;
        let failure = match num {
            GoNumber::Int(i) if int_factor != 0 => {
                if int_factor < 0 {
                    Some(must_be_positive(path, GoNumber::Int(int_factor)))
                } else if (i / int_factor) * int_factor != i {
                    Some(not_multiple(path, GoNumber::Int(int_factor), value()))
                } else {
                    None
                }
            }
            _ => {
                let x = num.as_f64();
                if factor < 0.0 {
                    Some(must_be_positive(path, GoNumber::Float(factor)))
                } else {
                    let mult = if factor < 1.0 {
                        1.0 / factor * x
                    } else {
                        x / factor
                    };
                    (!is_json_integer(mult))
                        .then(|| not_multiple(path, GoNumber::Float(factor), value()))
                }
            }
        };
        if let Some(f) = failure {
            out.add(f);
        }
    }

    let bound = |b: f64| match num {
        GoNumber::Int(_) => GoNumber::Int(b as i64),
        GoNumber::Float(_) => GoNumber::Float(b),
    };
    let cmp = |b: GoNumber| match (num, b) {
        (GoNumber::Int(i), GoNumber::Int(m)) => i.cmp(&m),
        _ => num
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
    };
    if let Some(min) = s.minimum {
        let exclusive = s.exclusive_minimum.unwrap_or(false);
        let b = bound(min);
        let below = if exclusive {
            cmp(b).is_le()
        } else {
            cmp(b).is_lt()
        };
        if below {
            let how = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            out.add(Failure::new(
                Code::Other,
                path,
                value(),
                format!("{path} in {IN} should be {how} {b}"),
            ));
        }
    }
    if let Some(max) = s.maximum {
        let exclusive = s.exclusive_maximum.unwrap_or(false);
        let b = bound(max);
        let above = if exclusive {
            cmp(b).is_ge()
        } else {
            cmp(b).is_gt()
        };
        if above {
            let how = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            out.add(Failure::new(
                Code::Other,
                path,
                value(),
                format!("{path} in {IN} should be {how} {b}"),
            ));
        }
    }
    out.matches += 1;
    out
}

fn must_be_positive(path: &FieldPath<'_>, factor: GoNumber) -> Failure {
    let shown = match factor {
        GoNumber::Int(i) => Value::from(i),
        GoNumber::Float(f) => Value::from(f),
    };
    Failure::new(
        Code::Other,
        path,
        Some(shown),
        format!("factor MultipleOf declared for {path} must be positive: {factor}"),
    )
}

fn not_multiple(path: &FieldPath<'_>, factor: GoNumber, value: Option<Value>) -> Failure {
    Failure::new(
        Code::Other,
        path,
        value,
        format!("{path} in {IN} should be a multiple of {factor}"),
    )
}

/// The old item an item of a `x-kubernetes-list-type: map` list replaces: the one with the
/// same keys. Items of other lists do not correlate.
fn old_item<'a>(s: &JSONSchemaProps, old: Option<&'a Value>, item: &Value) -> Option<&'a Value> {
    if s.x_kubernetes_list_type.as_deref() != Some("map") {
        return None;
    }
    let keys = s.x_kubernetes_list_map_keys.as_deref().unwrap_or_default();
    let item = item.as_object()?;
    old?.as_array()?.iter().find(|o| {
        o.as_object()
            .is_some_and(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
    })
}

fn slice_check(
    s: &JSONSchemaProps,
    path: &FieldPath<'_>,
    items: &[Value],
    old: Option<&Value>,
) -> Outcome {
    let mut out = Outcome::default();
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => {
            for (i, v) in items.iter().enumerate() {
                out.merge(node(
                    item,
                    &FieldPath::Index(path, i),
                    v,
                    old_item(s, old, v),
                ));
            }
        }
        Some(JSONSchemaPropsOrArray::Schemas(schemas)) => {
            for (i, (sub, v)) in schemas.iter().zip(items).enumerate() {
                out.merge(node(sub, &FieldPath::Index(path, i), v, None));
            }
        }
        None => {}
    }
    let size = items.len() as i64;
    if let Some(min) = s.min_items {
        if size < min {
            out.add(Failure::new(
                Code::Other,
                path,
                Some(Value::from(size)),
                format!("{path} in {IN} should have at least {min} items"),
            ));
        }
    }
    if let Some(max) = s.max_items {
        if size > max {
            let mut f = Failure::new(
                Code::MaxItems,
                path,
                Some(Value::from(size)),
                format!("{path} in {IN} should have at most {max} items"),
            );
            f.valid = max;
            out.add(f);
        }
    }
    if s.unique_items.unwrap_or(false) {
        let dup = items
            .iter()
            .enumerate()
            .any(|(i, v)| items[..i].contains(v));
        if dup {
            out.add(Failure::new(
                Code::Other,
                path,
                None,
                format!("{path} in {IN} shouldn't contain duplicates"),
            ));
        }
    }
    out.matches += 1;
    out
}

/// kube-openapi's enum check: a value matches an allowed value after Go's type conversion
/// to the allowed value's type (so 1 matches 1.0, and 1.5 matches 1).
fn enum_check(s: &JSONSchemaProps, path: &FieldPath<'_>, data: &Value) -> Outcome {
    let allowed = s.enum_.as_deref().unwrap_or_default();
    if allowed.is_empty() || allowed.iter().any(|e| enum_matches(data, &e.0)) {
        return Outcome::default();
    }
    let values: Vec<Value> = allowed.iter().map(|e| e.0.clone()).collect();
    let listed: Vec<String> = values.iter().map(gofmt::value).collect();
    Outcome::fail(Failure::new(
        Code::Enum(values),
        path,
        Some(data.clone()),
        format!("{path} in {IN} should be one of [{}]", listed.join(" ")),
    ))
}

fn enum_matches(data: &Value, allowed: &Value) -> bool {
    match (data, allowed) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(d), Value::Number(a)) => match (gofmt::number(d), gofmt::number(a)) {
            (GoNumber::Int(d), GoNumber::Int(a)) => d == a,
            (GoNumber::Int(d), GoNumber::Float(a)) => d as f64 == a,
            (GoNumber::Float(d), GoNumber::Int(a)) => d as i64 == a,
            (GoNumber::Float(d), GoNumber::Float(a)) => d == a,
        },
        // Go converts an integer to a string as the rune it encodes.
        (Value::Number(d), Value::String(a)) => match gofmt::number(d) {
            GoNumber::Int(i) => {
                let rune = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                a.chars().eq(std::iter::once(rune))
            }
            GoNumber::Float(_) => false,
        },
        (Value::String(d), Value::String(a)) => d == a,
        (Value::Bool(d), Value::Bool(a)) => d == a,
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            data == allowed
        }
        _ => false,
    }
}

fn object_check(
    s: &JSONSchemaProps,
    path: &FieldPath<'_>,
    map: &Map<String, Value>,
    old: Option<&Value>,
) -> Outcome {
    let old_field = |k: &str| old.and_then(|o| o.get(k));
    let count = map.len() as i64;
    if let Some(min) = s.min_properties {
        if count < min {
            return Outcome::fail(Failure::new(
                Code::Other,
                path,
                Some(Value::from(count)),
                format!("{path} in {IN} should have at least {min} properties"),
            ));
        }
    }
    if let Some(max) = s.max_properties {
        if count > max {
            let mut f = Failure::new(
                Code::TooManyProperties,
                path,
                Some(Value::from(count)),
                format!("{path} in {IN} should have at most {max} properties"),
            );
            f.valid = max;
            return Outcome::fail(f);
        }
    }
    let mut out = Outcome::default();
    let props = s.properties.as_ref();
    let declared = |k: &str| props.is_some_and(|p| p.contains_key(k));
    // Undeclared keys in a stable order (upstream walks a Go map).
    let undeclared = || {
        let mut keys: Vec<&String> = map.keys().filter(|k| !declared(k)).collect();
        keys.sort();
        keys
    };
    match &s.additional_properties {
        Some(JSONSchemaPropsOrBool::Bool(false)) => {
            for k in undeclared() {
                out.add(Failure::new(
                    Code::Other,
                    path,
                    Some(Value::String(k.clone())),
                    format!("{path}.{k} in {IN} is a forbidden property"),
                ));
            }
        }
        Some(JSONSchemaPropsOrBool::Schema(extra)) => {
            for k in undeclared() {
                out.merge(node(
                    extra,
                    &FieldPath::Dotted(path, k),
                    &map[k],
                    old_field(k),
                ));
            }
        }
        _ => {}
    }
    if let Some(props) = props {
        for (name, sub) in props {
            if let Some(v) = map.get(name) {
                out.merge(node(sub, &FieldPath::Child(path, name), v, old_field(name)));
            }
        }
    }
    for r in s.required.as_deref().unwrap_or_default() {
        if !map.contains_key(r) {
            let name = FieldPath::Dotted(path, r);
            out.add(Failure::new(
                Code::Required,
                &name,
                None,
                format!("{name} in {IN} is required"),
            ));
        }
    }
    out
}

//! Field error constructors and value printing the way upstream's `field.Error` renders
//! them (k8s.io/apimachinery/pkg/util/validation/field), beyond the ones in
//! `crate::status::Cause`.

use serde_json::Value;

use crate::status::Cause;

/// Upstream's `apimachineryvalidation.FieldImmutableErrorMsg`.
pub const IMMUTABLE: &str = "field is immutable";
/// Upstream's `IsNegativeErrorMsg`.
pub const NEGATIVE: &str = "must be greater than or equal to 0";
/// Upstream's `IsValidPortNum` message.
pub const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// A value as `field.Error` prints it: strings quoted, numbers and booleans bare, other
/// values (Go structs there) as compact JSON.
pub fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Go's `%#v` of a `[]string`, which upstream prints for list-valued errors.
pub fn go_strings(v: &Value) -> String {
    match v.as_array() {
        None => "[]string(nil)".into(),
        Some(items) => {
            let quoted: Vec<String> = items
                .iter()
                .map(|s| format!("\"{}\"", s.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// `field.Invalid` with the value already rendered.
pub fn invalid_shown(field: &str, shown: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {shown}: {detail}"),
        field: field.into(),
    }
}

/// `field.Invalid` of a value printed through its `String()` (quantities, int-or-string):
/// bare, unquoted.
pub fn invalid_bare(field: &str, value: &str, detail: &str) -> Cause {
    invalid_shown(field, value, detail)
}

pub fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Cause {
    let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!(
            "Unsupported value: {}: supported values: {}",
            shown(value),
            list.join(", ")
        ),
        field: field.into(),
    }
}

pub fn duplicate(field: &str, value: &Value) -> Cause {
    Cause {
        reason: "FieldValueDuplicate".into(),
        message: format!("Duplicate value: {}", shown(value)),
        field: field.into(),
    }
}

/// `field.TooLong` (v1.33 wording).
pub fn too_long(field: &str, max: usize) -> Cause {
    let unit = if max == 1 { "byte" } else { "bytes" };
    Cause {
        reason: "FieldValueTooLong".into(),
        message: format!("Too long: may not be more than {max} {unit}"),
        field: field.into(),
    }
}

/// `ValidateImmutableField`: `Invalid(path, new, "field is immutable")` when changed.
pub fn immutable(field: &str, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    if old != new {
        causes.push(Cause::invalid_value(field, new, IMMUTABLE));
    }
}

/// `ValidateNonnegativeField` of an optional integer at `obj[key]`.
pub fn non_negative(obj: &Value, key: &str, path: &str, causes: &mut Vec<Cause>) {
    if let Some(n) = obj[key].as_i64().filter(|n| *n < 0) {
        causes.push(Cause::invalid_value(
            &format!("{path}.{key}"),
            &Value::from(n),
            NEGATIVE,
        ));
    }
}

/// An enumerated string field at `obj[key]`: `NotSupported` unless one of `supported`
/// (an absent field is fine).
pub fn enum_field(obj: &Value, key: &str, path: &str, supported: &[&str], causes: &mut Vec<Cause>) {
    if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
        if !v.as_str().is_some_and(|s| supported.contains(&s)) {
            causes.push(not_supported(&format!("{path}.{key}"), v, supported));
        }
    }
}

/// A string field's value when set and non-empty.
pub fn non_empty<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj[key].as_str().filter(|s| !s.is_empty())
}

/// Children path: `base.key` (or `key` at the root).
pub fn child(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

/// The elements of an array field, none when absent or not an array.
pub fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v[key].as_array().into_iter().flatten().enumerate()
}

/// A JSON quantity (`"500m"`, `"1Gi"`, or a bare number) in nano-units.
pub fn quantity_nanos(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => crate::printers::quantity::nanos(s).map(|(n, _)| n),
        Value::Number(n) => crate::printers::quantity::nanos(&n.to_string()).map(|(n, _)| n),
        _ => None,
    }
}

/// A quantity as `Quantity.String()` prints it (canonical form).
pub fn quantity_string(v: &Value) -> String {
    let raw = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    crate::printers::quantity::canonical(&raw).unwrap_or(raw)
}

/// An IP address (no zones). Stricter than upstream's legacy-field parser, which also
/// takes IPv4 octets with leading zeros.
pub fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    s.parse().ok()
}

/// A CIDR (`addr/len`) as `netutils.ParseCIDRSloppy` accepts it: the network address and
/// prefix length.
pub fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let ip = parse_ip(addr)?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// Upstream's `IsValidCIDRForLegacyField` message.
pub const CIDR_INVALID: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
/// Upstream's `IsValidIPForLegacyField` message.
pub const IP_INVALID: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_renders() {
        assert_eq!(go_strings(&json!(["a", "b"])), r#"[]string{"a", "b"}"#);
        assert_eq!(go_strings(&json!([])), "[]string{}");
        assert_eq!(go_strings(&Value::Null), "[]string(nil)");
        assert_eq!(
            too_long("data", 1048576).message,
            "Too long: may not be more than 1048576 bytes"
        );
        assert_eq!(parse_cidr("10.0.0.0/8").map(|c| c.1), Some(8));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("10.0.0.0").is_none());
    }
}

//! Field errors of the kinds upstream's `field` package makes, with its reasons and its
//! message layout (`Invalid value: <value>: <detail>`), values printed as Go prints them.

use serde_json::Value;

use super::gofmt;
use crate::status::Cause;

/// An empty path is the nil `*field.Path`, which upstream prints as `<nil>`.
fn field(path: &str) -> String {
    if path.is_empty() {
        "<nil>".into()
    } else {
        path.into()
    }
}

fn cause(reason: &str, path: &str, message: String) -> Cause {
    Cause {
        reason: reason.into(),
        message,
        field: field(path),
    }
}

fn with_detail(head: String, detail: &str) -> String {
    if detail.is_empty() {
        head
    } else {
        format!("{head}: {detail}")
    }
}

pub fn required(path: &str, detail: &str) -> Cause {
    cause(
        "FieldValueRequired",
        path,
        with_detail("Required value".into(), detail),
    )
}

pub fn forbidden(path: &str, detail: &str) -> Cause {
    cause(
        "FieldValueForbidden",
        path,
        with_detail("Forbidden".into(), detail),
    )
}

pub fn invalid(path: &str, value: &Value, detail: &str) -> Cause {
    invalid_shown(path, &gofmt::value(value), detail)
}

/// `field.Invalid` with the value already printed (for Go values that are not JSON, such as a
/// `[]string`).
pub fn invalid_shown(path: &str, shown: &str, detail: &str) -> Cause {
    cause(
        "FieldValueInvalid",
        path,
        with_detail(format!("Invalid value: {shown}"), detail),
    )
}

pub fn type_invalid(path: &str, value: &Value, detail: &str) -> Cause {
    cause(
        "FieldValueTypeInvalid",
        path,
        with_detail(format!("Invalid value: {}", gofmt::value(value)), detail),
    )
}

pub fn not_supported(path: &str, value: &Value, valid: &[String]) -> Cause {
    let detail = if valid.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = valid.iter().map(|v| gofmt::quote(v)).collect();
        format!("supported values: {}", quoted.join(", "))
    };
    cause(
        "FieldValueNotSupported",
        path,
        with_detail(
            format!("Unsupported value: {}", gofmt::value(value)),
            &detail,
        ),
    )
}

pub fn duplicate(path: &str, value: &Value) -> Cause {
    cause(
        "FieldValueDuplicate",
        path,
        format!("Duplicate value: {}", gofmt::value(value)),
    )
}

/// `field.TooLong`: the value itself is not shown.
pub fn too_long(path: &str, max: i64) -> Cause {
    let detail = if max >= 0 {
        let unit = if max == 1 { "byte" } else { "bytes" };
        format!("may not be more than {max} {unit}")
    } else {
        "value is too long".into()
    };
    cause("FieldValueTooLong", path, format!("Too long: {detail}"))
}

/// `field.TooMany`.
pub fn too_many(path: &str, actual: i64, max: i64) -> Cause {
    let detail = if max >= 0 {
        let unit = if max == 1 { "item" } else { "items" };
        format!("must have at most {max} {unit}")
    } else {
        "has too many items".into()
    };
    let head = if actual >= 0 {
        format!("Too many: {actual}")
    } else {
        "Too many".into()
    };
    cause("FieldValueTooMany", path, format!("{head}: {detail}"))
}

//! Duplicate keys in a request body (the same field twice in one JSON or YAML object):
//! strict errors under `fieldValidation=Strict`, warnings under `Warn`, as upstream's
//! strict JSON decoder (`duplicate field "name"`) and YAML-to-JSON conversion
//! (`yaml: unmarshal errors: line 5: key "name" already set in map`) report them.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::params::FieldValidation;
use crate::status::{ApiError, ApiResult};

/// Upstream stops collecting strict errors at 100.
const MAX_ERRORS: usize = 100;

/// Field validation of a request body's duplicate keys: a 400 under Strict, warnings
/// under Warn, nothing under Ignore.
pub fn check(
    content_type: &str,
    raw: &[u8],
    validation: FieldValidation,
) -> ApiResult<Vec<String>> {
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let found = find(super::mime(content_type), raw);
    if validation == FieldValidation::Strict && !found.is_empty() {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            found.join(", ")
        )));
    }
    Ok(found)
}

/// The duplicate-field errors of a JSON or YAML body (`mime` is the request's media type);
/// empty for other media types and for bodies that do not parse (decoding reports those).
pub fn find(mime: &str, raw: &[u8]) -> Vec<String> {
    match mime {
        "" | "application/json" | "*/*" => json_duplicates(raw),
        "application/yaml" | super::APPLY_PATCH_YAML => {
            // JSON is YAML; a JSON apply patch is checked as JSON, as upstream decodes it.
            if raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                json_duplicates(raw)
            } else {
                yaml_duplicates(raw)
            }
        }
        _ => Vec::new(),
    }
}

fn json_duplicates(raw: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(raw);
    // A syntax error is the decoder's to report; what was found before it still counts.
    let _ = Scan {
        found: &mut found,
        stop_at_first: false,
    }
    .deserialize(&mut de);
    found
}

fn yaml_duplicates(raw: &[u8]) -> Vec<String> {
    // YAML reports the first duplicate with its line, as go-yaml does.
    let mut found = Vec::new();
    let scan = Scan {
        found: &mut found,
        stop_at_first: true,
    };
    match scan.deserialize(serde_yaml::Deserializer::from_slice(raw)) {
        Err(e) if e.to_string().contains(DUPLICATE) => {
            // serde_yaml prefixes the path and appends the position.
            let text = e.to_string();
            let key = text
                .split_once(DUPLICATE)
                .map(|(_, k)| k)
                .unwrap_or_default()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string();
            let line = e.location().map(|l| l.line()).unwrap_or_default();
            vec![format!(
                "yaml: unmarshal errors:\n  line {line}: key {key:?} already set in map"
            )]
        }
        _ => Vec::new(),
    }
}

const DUPLICATE: &str = "duplicate key ";

/// Walks a document without building it, noting keys seen twice in one object.
struct Scan<'a> {
    found: &'a mut Vec<String>,
    /// Fail on the first duplicate (so the YAML parser names its line).
    stop_at_first: bool,
}

impl Scan<'_> {
    fn note(&mut self, key: &str) {
        let msg = format!("duplicate field \"{key}\"");
        if self.found.len() < MAX_ERRORS && !self.found.contains(&msg) {
            self.found.push(msg);
        }
    }
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Scan {
                found: &mut *self.found,
                stop_at_first: self.stop_at_first,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if seen.iter().any(|k| *k == key) {
                if self.stop_at_first {
                    return Err(de::Error::custom(format!("{DUPLICATE}{key}")));
                }
                self.note(&key);
            } else {
                seen.push(key.into_owned());
            }
            map.next_value_seed(Scan {
                found: &mut *self.found,
                stop_at_first: self.stop_at_first,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_duplicates_are_named_once_each() {
        let body = br#"{"metadata":{"name":"a","name":"b","labels":{"x":"1","x":"2"}},
            "spec":{"replicas":1,"replicas":2},"items":[{"k":1,"k":2}],"metadata":{}}"#;
        assert_eq!(
            find("application/json", body),
            [
                "duplicate field \"name\"",
                "duplicate field \"x\"",
                "duplicate field \"replicas\"",
                "duplicate field \"k\"",
                "duplicate field \"metadata\"",
            ]
        );
        assert!(find("application/json", br#"{"a":{"b":1},"b":{"a":1}}"#).is_empty());
        assert!(find("application/json", b"{not json").is_empty());
    }

    #[test]
    fn yaml_duplicates_name_the_line() {
        let body = b"metadata:\n  name: a\n  name: b\n";
        let found = find("application/yaml", body);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("yaml: unmarshal errors:\n  line ")
                && found[0].ends_with(": key \"name\" already set in map"),
            "{found:?}"
        );
    }
}

//! A rule's `fieldPath`: a JSON path of field and map accessors (`.a.b`, `['key']`) that must lead
//! through the schema; failures are reported at the path it names, normalized as upstream prints
//! field paths.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrBool,
};

/// The normalized path (`a.b[key]`), or why `path` is not valid for `schema`.
pub(super) fn normalize(path: &str, schema: &JSONSchemaProps) -> Result<String, String> {
    let tokens = tokenize(path);
    let mut out = String::new();
    let mut current = schema;
    let mut tokens = tokens.into_iter();
    while let Some(tok) = tokens.next() {
        let name = match tok.as_str() {
            "[" => {
                let quoted = tokens
                    .next()
                    .ok_or_else(|| "unexpected end of JSON path".to_string())?;
                if quoted.len() < 2 || !quoted.starts_with('\'') || !quoted.ends_with('\'') {
                    return Err(format!("expected single quoted string but got {quoted}"));
                }
                let name = unescape(&quoted[1..quoted.len() - 1])
                    .map_err(|e| format!("invalid string literal: {e}"))?;
                match tokens.next().as_deref() {
                    Some("]") => {}
                    Some(other) => return Err(format!("expected ] but got {other}")),
                    None => return Err("unexpected end of JSON path".into()),
                }
                name
            }
            "." => tokens
                .next()
                .ok_or_else(|| "unexpected end of JSON path".to_string())?,
            other => return Err(format!("expected [ or . but got: {other}")),
        };
        if let Some(props) = &current.properties {
            current = props
                .get(&name)
                .ok_or_else(|| "does not refer to a valid field".to_string())?;
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&name);
        } else if let Some(JSONSchemaPropsOrBool::Schema(values)) = &current.additional_properties {
            current = values;
            out.push_str(&format!("[{name}]"));
        } else {
            return Err("does not refer to a valid field".into());
        }
    }
    Ok(out)
}

/// Splits into the delimiters `.`, `[`, `]` and the text between them; a single-quoted string is
/// one token, delimiters and all.
fn tokenize(path: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut j = i + 1;
            while j < chars.len() && !(chars[j] == '\'' && chars[j - 1] != '\\') {
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            tokens.push(chars[i..end].iter().collect());
            i = end;
        } else if matches!(c, '.' | '[' | ']') {
            tokens.push(c.to_string());
            i += 1;
        } else {
            let mut j = i;
            while j < chars.len() && !matches!(chars[j], '.' | '[' | ']') {
                j += 1;
            }
            tokens.push(chars[i..j].iter().collect());
            i = j;
        }
    }
    tokens
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some('\'') => out.push('\''),
            Some('\\') => out.push('\\'),
            Some(other) => return Err(format!("invalid escape char \\{other}")),
            None => return Err("invalid escape char \\".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn schema() -> super::JSONSchemaProps {
        serde_json::from_value(serde_json::json!({
            "type": "object",
            "properties": {
                "a": {"type": "object", "properties": {"b": {"type": "string"}}},
                "m": {"type": "object", "additionalProperties": {"type": "string"}},
            }
        }))
        .expect("schema")
    }

    #[test]
    fn normalizes_fields_and_keys() {
        let s = schema();
        assert_eq!(normalize(".a.b", &s).as_deref(), Ok("a.b"));
        assert_eq!(normalize("['a'].b", &s).as_deref(), Ok("a.b"));
        assert_eq!(normalize(".m['x.y']", &s).as_deref(), Ok("m[x.y]"));
    }

    #[test]
    fn rejects_unknown_fields_and_bad_syntax() {
        let s = schema();
        assert_eq!(
            normalize(".c", &s),
            Err("does not refer to a valid field".to_string())
        );
        assert_eq!(
            normalize("a", &s),
            Err("expected [ or . but got: a".to_string())
        );
        assert_eq!(
            normalize(".a.", &s),
            Err("unexpected end of JSON path".to_string())
        );
    }
}

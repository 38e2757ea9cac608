//! CEL types of schema nodes, as upstream's `SchemaDeclType` derives them: what `self` is for a
//! rule, which fields an object exposes (names escaped), and how JSON values become CEL values.

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

#[derive(Clone, Debug)]
pub(super) enum Ty {
    /// Anything: unchecked at compile time, converted from JSON as it comes.
    Dyn,
    /// `x-kubernetes-int-or-string`: an int or a string, unchecked like `Dyn`.
    IntOrString,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    List(Arc<Ty>),
    Map(Arc<Ty>, Arc<Ty>),
    Object(Arc<Vec<Field>>),
    /// `oldSelf` of rules with `optionalOldSelf`: a value that may be absent.
    Optional(Arc<Ty>),
}

#[derive(Debug)]
pub(super) struct Field {
    /// The property name in JSON.
    pub json: String,
    /// The name a rule uses (escaped, see [`escape`]).
    pub cel: String,
    pub ty: Ty,
}

impl Ty {
    /// The type name cel-go prints in its errors.
    pub fn name(&self) -> String {
        match self {
            Ty::Dyn | Ty::IntOrString => "dyn".into(),
            Ty::Null => "null_type".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Uint => "uint".into(),
            Ty::Double => "double".into(),
            Ty::String => "string".into(),
            Ty::Bytes => "bytes".into(),
            Ty::Duration => "google.protobuf.Duration".into(),
            Ty::Timestamp => "google.protobuf.Timestamp".into(),
            Ty::List(e) => format!("list({})", e.name()),
            Ty::Map(k, v) => format!("map({}, {})", k.name(), v.name()),
            Ty::Object(_) => "object".into(),
            Ty::Optional(t) => format!("optional_type({})", t.name()),
        }
    }

    /// Not statically known: the checker accepts anything of it.
    pub fn is_dyn(&self) -> bool {
        matches!(self, Ty::Dyn | Ty::IntOrString)
    }

    pub fn field(&self, cel_name: &str) -> Option<&Field> {
        match self {
            Ty::Object(fields) => fields.iter().find(|f| f.cel == cel_name),
            _ => None,
        }
    }
}

/// The CEL type of a schema node; `None` where upstream has none (the node's rules cannot compile,
/// an object's property is left out of it).
pub(super) fn decl_type(s: &JSONSchemaProps, resource_root: bool) -> Option<Ty> {
    if s.x_kubernetes_int_or_string == Some(true) {
        return Some(Ty::IntOrString);
    }
    let embedded = resource_root || s.x_kubernetes_embedded_resource == Some(true);
    match s.type_.as_deref() {
        Some("array") => match &s.items {
            Some(JSONSchemaPropsOrArray::Schema(items)) => {
                Some(Ty::List(Arc::new(decl_type(items, false)?)))
            }
            _ => None,
        },
        Some("object") => {
            if let Some(JSONSchemaPropsOrBool::Schema(values)) = &s.additional_properties {
                let values = decl_type(values, false)?;
                return Some(Ty::Map(Arc::new(Ty::String), Arc::new(values)));
            }
            Some(object_type(s, embedded))
        }
        Some("string") => Some(match s.format.as_deref() {
            Some("byte") => Ty::Bytes,
            Some("duration") => Ty::Duration,
            Some("date") | Some("date-time") => Ty::Timestamp,
            _ => Ty::String,
        }),
        Some("boolean") => Some(Ty::Bool),
        Some("number") => Some(Ty::Double),
        Some("integer") => Some(Ty::Int),
        // Untyped nodes only exist with x-kubernetes-preserve-unknown-fields or an embedded
        // resource; their contents are whatever the client sent.
        _ if embedded => Some(object_type(s, true)),
        _ if s.x_kubernetes_preserve_unknown_fields == Some(true) => Some(Ty::Dyn),
        _ => None,
    }
}

fn object_type(s: &JSONSchemaProps, embedded: bool) -> Ty {
    let mut fields = Vec::new();
    for (name, prop) in s.properties.iter().flatten() {
        if embedded && matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let (Some(cel), Some(ty)) = (escape(name), decl_type(prop, false)) else {
            continue;
        };
        fields.push(Field {
            json: name.clone(),
            cel,
            ty,
        });
    }
    if embedded {
        // Resource roots (and embedded resources) always expose these, and of metadata only
        // the names: the rest is the server's.
        let meta = ["name", "generateName"]
            .into_iter()
            .map(|n| Field {
                json: n.into(),
                cel: n.into(),
                ty: Ty::String,
            })
            .collect();
        for (name, ty) in [
            ("apiVersion", Ty::String),
            ("kind", Ty::String),
            ("metadata", Ty::Object(Arc::new(meta))),
        ] {
            fields.push(Field {
                json: name.into(),
                cel: name.into(),
                ty,
            });
        }
    }
    Ty::Object(Arc::new(fields))
}

const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// A property name as rules spell it: CEL keywords become `__kw__`, and `__`, `.`, `-`, `/`
/// become `__underscores__`, `__dot__`, `__dash__`, `__slash__`. `None`: not accessible.
pub(super) fn escape(name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push_str("__underscores__");
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_like_upstream() {
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(
            escape("a-b.c/d").as_deref(),
            Some("a__dash__b__dot__c__slash__d")
        );
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("plain_name").as_deref(), Some("plain_name"));
        assert_eq!(escape("1abc"), None);
        assert_eq!(escape("a b"), None);
    }
}

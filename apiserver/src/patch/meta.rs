//! Where the strategic merge patch walker learns, field by field, how to merge: the patch
//! strategy and merge key of each field, and what the field's value is, from the generated
//! protobuf schema (whose fields carry the Go markers of k8s.io/api).

use crate::protobuf::schema::{Field, Kind, PatchStrategy, Schema, Special};

/// What a JSON value is known to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// No schema: objects merge key by key, lists are replaced (JSON merge patch behaviour).
    Unknown,
    /// An object of a message's fields (message index in the schema).
    Message(usize),
    /// A `map<string, V>` field: arbitrary keys whose values are of message `V`, if it is one.
    MapOf(Option<usize>),
}

/// How to merge one field: upstream's `PatchMeta` plus the field's value shape (the element
/// shape for a list).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldMeta<'a> {
    pub shape: Shape,
    pub strategy: PatchStrategy,
    pub merge_key: Option<&'a str>,
}

impl Default for FieldMeta<'_> {
    fn default() -> Self {
        FieldMeta {
            shape: Shape::Unknown,
            strategy: PatchStrategy::default(),
            merge_key: None,
        }
    }
}

/// The patch metadata source. A trait so the unit tests can port upstream's cases, which are
/// written against a test-only Go struct, with a stand-in for it.
pub(crate) trait Meta {
    /// The metadata of JSON key `key` inside a value of shape `parent`.
    fn field(&self, parent: Shape, key: &str) -> FieldMeta<'_>;
}

/// Patch metadata from the generated protobuf schema.
pub(crate) struct SchemaMeta {
    schema: &'static Schema,
}

impl SchemaMeta {
    pub fn get() -> Option<SchemaMeta> {
        Schema::get().ok().map(|schema| SchemaMeta { schema })
    }

    /// The shape of a whole object of the k8s-openapi type `rust_type`, if the schema has it.
    pub fn root(&self, rust_type: &str) -> Option<Shape> {
        crate::protobuf::message_for_rust_type(self.schema, rust_type).map(Shape::Message)
    }

    fn message(&self, idx: usize) -> Shape {
        // Messages with their own JSON form (Time, Quantity, RawExtension, JSON, ...) are
        // scalars or free-form JSON: no field metadata applies inside them.
        match self.schema.messages.get(idx) {
            Some(m) if m.special == Special::None => Shape::Message(idx),
            _ => Shape::Unknown,
        }
    }

    fn shape_of(&self, f: &Field) -> Shape {
        if let Some(value) = f.map_value {
            return Shape::MapOf(match value {
                Kind::Message(m) if self.message(m) != Shape::Unknown => Some(m),
                _ => None,
            });
        }
        match f.kind {
            Kind::Message(m) => self.message(m),
            _ => Shape::Unknown,
        }
    }
}

impl Meta for SchemaMeta {
    fn field(&self, parent: Shape, key: &str) -> FieldMeta<'_> {
        match parent {
            Shape::Unknown => FieldMeta::default(),
            // A map's values carry no strategy of their own (upstream finds none either).
            Shape::MapOf(value) => FieldMeta {
                shape: value.map_or(Shape::Unknown, |m| self.message(m)),
                ..FieldMeta::default()
            },
            // Unknown fields merge like free-form JSON rather than failing: upstream errors
            // only when both sides hold an object or a list there, and typed decoding drops
            // the field anyway.
            Shape::Message(m) => match self.schema.field_by_json(m, key) {
                None => FieldMeta::default(),
                Some(f) => {
                    let patch = f.patch.as_deref();
                    FieldMeta {
                        shape: self.shape_of(f),
                        strategy: patch.map(|p| p.strategy).unwrap_or_default(),
                        merge_key: patch.and_then(|p| p.merge_key.as_deref()),
                    }
                }
            },
        }
    }
}

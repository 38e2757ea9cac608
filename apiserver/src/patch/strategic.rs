//! The strategic merge patch algorithm: upstream's `mergeMap` / `mergeSlice`
//! (k8s.io/apimachinery/pkg/util/strategicpatch) with the options the API server uses
//! (`MergeParallelList`, `IgnoreUnmatchedNulls`).
//!
//! Upstream decodes the merged map into the Go type, which silently drops whatever directive
//! keys the merge left behind; k8rs stores JSON, so every value taken from the patch without
//! merging is cleaned of directives here ([`clean`]).

use serde_json::{Map, Value};

use super::meta::{FieldMeta, Meta, Shape};
use super::PatchError;

type Object = Map<String, Value>;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

pub(crate) struct Merger<'m> {
    pub meta: &'m dyn Meta,
}

impl Merger<'_> {
    /// Merge `patch` into `original`, an object of shape `shape`.
    pub fn merge_map(
        &self,
        mut original: Object,
        mut patch: Object,
        shape: Shape,
    ) -> Result<Object, PatchError> {
        if let Some(directive) = patch.remove(DIRECTIVE) {
            return match directive.as_str() {
                Some("replace") => Ok(clean_map(patch)),
                // Upstream leaves an empty object (not an absent field) behind.
                Some("delete") => Ok(Object::new()),
                _ => Err(bad_patch_type(&directive, &patch)),
            };
        }
        apply_retain_keys(&mut original, &mut patch)?;
        self.apply_element_order(&mut original, &mut patch, shape)?;
        // Upstream walks a Go map, in no set order; deleting from a primitive list after
        // merging into it makes a patch that does both deterministic.
        let mut deletions = Vec::new();
        for (key, value) in patch {
            if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
                deletions.push((key, value));
            } else {
                self.merge_field(&mut original, key, value, shape, false)?;
            }
        }
        for (key, value) in deletions {
            let field = extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?.to_string();
            self.merge_field(&mut original, field, value, shape, true)?;
        }
        Ok(original)
    }

    /// Merge one patch entry into `original[key]`. `deletion_list`: the value is the parallel
    /// `$deleteFromPrimitiveList/<key>` list.
    fn merge_field(
        &self,
        original: &mut Object,
        key: String,
        patch: Value,
        shape: Shape,
        deletion_list: bool,
    ) -> Result<(), PatchError> {
        if patch.is_null() {
            original.remove(&key);
            return Ok(());
        }
        let Some(slot) = original.get_mut(&key) else {
            if !deletion_list {
                if let Some(v) = clean(patch) {
                    original.insert(key, v);
                }
            }
            return Ok(());
        };
        let current = slot.take();
        let merged = match (current, patch) {
            (Value::Array(cur), Value::Array(p)) => {
                let meta = self.meta.field(shape, &key);
                Some(Value::Array(if deletion_list {
                    delete_from_list(cur, &p)?
                } else {
                    self.merge_list(cur, p, &meta)?
                }))
            }
            // A deletion list only ever removes values from a list.
            (cur, _) if deletion_list => Some(cur),
            (Value::Object(cur), Value::Object(p)) => {
                let meta = self.meta.field(shape, &key);
                Some(if meta.strategy.replace {
                    clean(Value::Object(p)).unwrap_or_else(|| Value::Object(Object::new()))
                } else {
                    Value::Object(self.merge_map(cur, p, meta.shape)?)
                })
            }
            // Scalars, and values whose type changes, are replaced by the patch's value.
            (_, p) => clean(p),
        };
        match merged {
            Some(v) => *slot = v,
            None => {
                original.remove(&key);
            }
        }
        Ok(())
    }

    /// upstream's `mergeSliceHandler`: merge lists merge, any other list is replaced.
    fn merge_list(
        &self,
        current: Vec<Value>,
        patch: Vec<Value>,
        meta: &FieldMeta,
    ) -> Result<Vec<Value>, PatchError> {
        if meta.strategy.merge {
            self.merge_slice(current, patch, meta)
        } else {
            Ok(clean_list(patch))
        }
    }

    /// upstream's `mergeSlice`: scalars are united, objects merged by the merge key; then
    /// the patch's elements take the patch's order and the others keep their live positions.
    fn merge_slice(
        &self,
        current: Vec<Value>,
        patch: Vec<Value>,
        meta: &FieldMeta,
    ) -> Result<Vec<Value>, PatchError> {
        if current.is_empty() && patch.is_empty() {
            return Ok(current);
        }
        if !list_of_objects(&[&current, &patch])? {
            let mut merged: Vec<Value> = Vec::with_capacity(current.len() + patch.len());
            for v in current.iter().chain(&patch) {
                if !merged.iter().any(|m| json_eq(m, v)) {
                    merged.push(v.clone());
                }
            }
            let (patch_items, server_only) = merged
                .into_iter()
                .partition(|v| patch.iter().any(|p| json_eq(p, v)));
            return normalize_order(patch_items, server_only, &patch, &current, None);
        }
        let key = meta.merge_key.ok_or_else(|| {
            PatchError::Invalid("cannot merge lists without merge key for type map".into())
        })?;
        let mut current = current;
        let mut items = Vec::with_capacity(patch.len());
        let mut replace = false;
        for v in patch {
            let directive = v.get(DIRECTIVE).cloned();
            match directive {
                None => items.push(v),
                Some(d) => match d.as_str() {
                    Some("delete") => {
                        let id = merge_key_value(&v, key)?;
                        current.retain(|e| !e.get(key).is_some_and(|x| json_eq(x, id)));
                    }
                    // The list marker; other directives still apply, so keep going.
                    Some("replace") => replace = true,
                    Some("merge") => {
                        return Err(PatchError::Invalid(
                            "merging lists cannot yet be specified in the patch".into(),
                        ))
                    }
                    _ => return Err(bad_patch_type(&d, v.as_object().unwrap_or(&Object::new()))),
                },
            }
        }
        if replace {
            current = clean_list(items);
            items = Vec::new();
        }
        let server_order = identities(&current, Some(key))?;
        let patch_order = identities(&items, Some(key))?;
        let mut merged = current;
        for (item, id) in items.into_iter().zip(&patch_order) {
            let found = merged
                .iter()
                .position(|e| e.get(key).is_some_and(|x| json_eq(x, id)));
            match (found, item) {
                (Some(i), Value::Object(item)) => {
                    let Value::Object(cur) = merged[i].take() else {
                        return Err(bad_arg_type("map", &merged[i]));
                    };
                    merged[i] = Value::Object(self.merge_map(cur, item, meta.shape)?);
                }
                (_, item) => merged.extend(clean(item)),
            }
        }
        let mut patch_items = Vec::new();
        let mut server_only = Vec::new();
        for v in merged {
            let id = merge_key_value(&v, key)?;
            if patch_order.iter().any(|p| json_eq(p, id)) {
                patch_items.push(v);
            } else {
                server_only.push(v);
            }
        }
        normalize_order(
            patch_items,
            server_only,
            &patch_order,
            &server_order,
            Some(key),
        )
    }

    /// upstream's `mergePatchIntoOriginal`: each `$setElementOrder/<field>` merges the patch's
    /// `<field>` (if any) and then puts the list in the given order; elements it does not
    /// name keep their live positions relative to the others.
    fn apply_element_order(
        &self,
        original: &mut Object,
        patch: &mut Object,
        shape: Shape,
    ) -> Result<(), PatchError> {
        let directives: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for directive in directives {
            let Some(Value::Array(order)) = patch.remove(&directive) else {
                return Err(PatchError::BadRequest(
                    "invalid patch format of setElementOrder list".into(),
                ));
            };
            let field = extract_key(&directive, SET_ELEMENT_ORDER)?.to_string();
            let current = match original.get(&field) {
                None => None,
                Some(Value::Array(a)) => Some(a.clone()),
                Some(other) => return Err(bad_arg_type("[]interface{}", other)),
            };
            let listed = match patch.remove(&field) {
                None => None,
                Some(Value::Array(a)) => Some(a),
                Some(other) => return Err(bad_arg_type("[]interface{}", &other)),
            };
            let meta = self.meta.field(shape, &field);
            let objects = list_of_objects(&[
                current.as_deref().unwrap_or_default(),
                listed.as_deref().unwrap_or_default(),
            ])?;
            // Lists of scalars are ordered by value, lists of objects by their merge key.
            let key = if objects { meta.merge_key } else { None };
            validate_element_order(listed.as_deref().unwrap_or_default(), &order, key)?;
            let server_order = identities(current.as_deref().unwrap_or_default(), key)?;
            let merged = match (current, listed) {
                (None, None) => continue,
                (Some(cur), None) => cur,
                (None, Some(p)) => clean_list(p),
                (Some(cur), Some(p)) => self.merge_list(cur, p, &meta)?,
            };
            let wanted = identities(&order, key)?;
            let mut patch_items = Vec::new();
            let mut server_only = Vec::new();
            for v in merged {
                if wanted
                    .iter()
                    .any(|w| identity(&v, key).is_ok_and(|id| json_eq(w, id)))
                {
                    patch_items.push(v);
                } else {
                    server_only.push(v);
                }
            }
            let both = normalize_order(patch_items, server_only, &wanted, &server_order, key)?;
            original.insert(field, Value::Array(both));
        }
        Ok(())
    }
}

/// upstream's `applyRetainKeysDirective`: drop every key of `original` the list does not
/// name; the patch itself may only set listed keys.
fn apply_retain_keys(original: &mut Object, patch: &mut Object) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || PatchError::BadRequest("invalid patch format of retainKeys".into());
    let retain = retain.as_array().ok_or_else(bad)?;
    let keep = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let directive =
            k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
        if !v.is_null() && !directive && !keep(k) {
            return Err(bad());
        }
    }
    original.retain(|k, _| keep(k));
    Ok(())
}

/// upstream's `validatePatchWithSetOrderList`: the patch's list, less deletions, must be in
/// the order `$setElementOrder` gives and contain nothing it leaves out.
fn validate_element_order(
    listed: &[Value],
    order: &[Value],
    key: Option<&str>,
) -> Result<(), PatchError> {
    if listed.is_empty() || order.is_empty() {
        return Ok(());
    }
    let relevant: Vec<&Value> = listed
        .iter()
        .filter(|v| key.is_none() || directive_of(v) != Some("delete"))
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < relevant.len() && o < order.len() {
        if relevant[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if json_eq(identity(relevant[p], key)?, identity(&order[o], key)?) {
            p += 1;
        }
        o += 1;
    }
    if p < relevant.len() {
        return Err(PatchError::BadRequest(format!(
            "the order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}",
            Value::Array(listed.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// upstream's `normalizeElementOrder`: `patch_items` sorted by `patch_order`, `server_only`
/// by `server_order` (both identity lists), then interleaved: a server-only element goes
/// first only when the live list has it before the patch element (upstream's
/// `mergeSortedSlice`), so elements new to the list come before untouched live ones.
fn normalize_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let position = |order: &[Value], v: &Value| -> Result<Option<usize>, PatchError> {
        let id = identity(v, key)?;
        Ok(order.iter().position(|o| json_eq(o, id)))
    };
    let sort = |items: Vec<Value>, order: &[Value]| -> Result<Vec<Value>, PatchError> {
        let mut keyed = items
            .into_iter()
            .map(|v| Ok((position(order, &v)?.unwrap_or(usize::MAX), v)))
            .collect::<Result<Vec<_>, PatchError>>()?;
        // Stable: elements the order does not know keep their relative order, last.
        keyed.sort_by_key(|(p, _)| *p);
        Ok(keyed.into_iter().map(|(_, v)| v).collect())
    };
    let left = sort(server_only, server_order)?;
    let right = sort(patch_items, patch_order)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l)?, position(server_order, r)?),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    Ok(out)
}

/// Remove the values of a `$deleteFromPrimitiveList` list (every occurrence).
fn delete_from_list(current: Vec<Value>, delete: &[Value]) -> Result<Vec<Value>, PatchError> {
    if current
        .iter()
        .chain(delete)
        .any(|v| v.is_object() || v.is_array())
    {
        return Err(PatchError::BadRequest(
            "invalid patch format of primitive list".into(),
        ));
    }
    Ok(current
        .into_iter()
        .filter(|v| !delete.iter().any(|d| json_eq(d, v)))
        .collect())
}

/// upstream's `sliceElementType`, reduced to what the merge needs: whether the lists hold
/// objects. Mixed element types and lists of lists cannot be merged.
fn list_of_objects(lists: &[&[Value]]) -> Result<bool, PatchError> {
    let mut kind = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let k = match v {
            Value::Array(_) => {
                return Err(PatchError::Invalid(
                    "lists of lists are not supported".into(),
                ))
            }
            Value::Object(_) => "object",
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Null => "null",
        };
        match kind {
            None => kind = Some(k),
            Some(prev) if prev != k => {
                return Err(PatchError::Invalid(format!(
                    "list element types are not identical: {prev} and {k}"
                )))
            }
            Some(_) => {}
        }
    }
    Ok(kind == Some("object"))
}

/// The value that identifies a list element: its merge key for objects, itself otherwise.
fn identity<'v>(v: &'v Value, key: Option<&str>) -> Result<&'v Value, PatchError> {
    match key {
        Some(key) => merge_key_value(v, key),
        None => Ok(v),
    }
}

fn identities(list: &[Value], key: Option<&str>) -> Result<Vec<Value>, PatchError> {
    list.iter().map(|v| identity(v, key).cloned()).collect()
}

fn merge_key_value<'v>(v: &'v Value, key: &str) -> Result<&'v Value, PatchError> {
    let obj = v.as_object().ok_or_else(|| bad_arg_type("map", v))?;
    obj.get(key).ok_or_else(|| {
        PatchError::Invalid(format!(
            "map: {v} does not contain declared merge key: {key}"
        ))
    })
}

fn directive_of(v: &Value) -> Option<&str> {
    v.get(DIRECTIVE).and_then(Value::as_str)
}

/// `$setElementOrder/containers` -> `containers`.
fn extract_key<'k>(key: &'k str, prefix: &str) -> Result<&'k str, PatchError> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(PatchError::BadRequest(
            "invalid patch format of primitive list".into(),
        )),
        _ => Err(PatchError::BadRequest(
            "invalid patch format of setElementOrder list".into(),
        )),
    }
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE
        || k == RETAIN_KEYS
        || k.starts_with(SET_ELEMENT_ORDER)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// A patch value stored without merging: upstream's `removeDirectives` (an object carrying
/// `$patch` is dropped, a list loses its `$patch` elements) and `discardNullValuesFromPatch`,
/// also dropping the directive keys typed decoding ignores upstream. One difference: an
/// object marked `$patch: replace` keeps its content (upstream drops it when the field is new,
/// which loses the value the client asked for).
pub(crate) fn clean(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => match m.get(DIRECTIVE) {
            Some(d) if d.as_str() != Some("replace") => None,
            _ => Some(Value::Object(clean_map(m))),
        },
        Value::Array(a) => Some(Value::Array(clean_list(a))),
        other => Some(other),
    }
}

fn clean_map(m: Object) -> Object {
    m.into_iter()
        .filter(|(k, v)| !is_directive_key(k) && !v.is_null())
        .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
        .collect()
}

fn clean_list(a: Vec<Value>) -> Vec<Value> {
    a.into_iter()
        .filter(|e| e.get(DIRECTIVE).is_none())
        .filter_map(clean)
        .collect()
}

/// JSON equality with numbers compared by value (Go decodes `80` and `80.0` to the same
/// int64 before comparing merge keys).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn bad_patch_type(directive: &Value, map: &Object) -> PatchError {
    PatchError::BadRequest(format!(
        "unknown patch type: {directive} in map: {}",
        Value::Object(map.clone())
    ))
}

fn bad_arg_type(expected: &str, got: &Value) -> PatchError {
    let got = match got {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface{}",
        Value::Object(_) => "map",
    };
    PatchError::Invalid(format!("expected a {expected}, but received a {got}"))
}

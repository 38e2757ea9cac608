//! Structured values walked by their schema, as structured-merge-diff's `typed` package:
//! the field set of an object, the comparison of two objects, the merge of an applied
//! configuration into a live object, and removal of paths. Types come from the generated
//! protobuf schema, whose fields carry k8s.io/api's `+listType`, `+listMapKey`, `+mapType`,
//! `+patchStrategy`/`+patchMergeKey` and `+structType` markers.

use serde_json::{Map, Value};

use super::fieldpath::{Path, PathElement, Set};
use crate::protobuf::schema::{Field, Kind, ListType, Schema, Special};

/// How a list's elements are identified.
#[derive(Clone, Copy, Debug)]
pub enum ListKind<'a> {
    /// Replaced as a whole.
    Atomic,
    /// Scalars identified by their value.
    Set,
    /// Objects identified by these key fields.
    Map(&'a [Box<str>]),
}

/// The type of a value, as far as merging is concerned.
#[derive(Clone, Copy, Debug)]
pub enum Ty<'a> {
    /// No schema: objects are granular, lists atomic (upstream's "deduced" type).
    Deduced,
    /// A leaf: scalars, atomic structs and maps, and messages with their own JSON form.
    Leaf,
    /// A struct: the message's fields.
    Struct(usize),
    /// A granular map of string keys to values of this kind.
    Map(Kind),
    /// A list of this element kind.
    List(ListKind<'a>, Kind),
}

/// Types of the built-in kinds, from the generated schema.
#[derive(Clone, Copy)]
pub struct Types {
    schema: Option<&'static Schema>,
}

impl Types {
    pub fn get() -> Types {
        Types {
            schema: Schema::get().ok(),
        }
    }

    /// The type of a whole object of the k8s-openapi type `rust_type`.
    pub fn root(&self, rust_type: &str) -> Ty<'static> {
        self.schema
            .and_then(|s| crate::protobuf::message_for_rust_type(s, rust_type))
            .map_or(Ty::Deduced, |m| self.message(m))
    }

    fn message(&self, m: usize) -> Ty<'static> {
        match self.schema.and_then(|s| s.messages.get(m)) {
            Some(msg) if msg.special == Special::None && !msg.atomic => Ty::Struct(m),
            Some(_) => Ty::Leaf,
            None => Ty::Deduced,
        }
    }

    fn kind(&self, k: Kind) -> Ty<'static> {
        match k {
            Kind::Message(m) => self.message(m),
            _ => Ty::Leaf,
        }
    }

    fn field(&self, f: &'static Field) -> Ty<'static> {
        let meta = f.patch.as_deref();
        let atomic_map = meta.is_some_and(|p| p.map_type.as_deref() == Some("atomic"));
        if let Some(value) = f.map_value {
            return if atomic_map { Ty::Leaf } else { Ty::Map(value) };
        }
        if f.repeated {
            // Upstream's schema conversion: an explicit list type wins; lists merged by
            // strategic merge patch are associative (by merge key, or as a set); the rest
            // are atomic.
            let kind = match meta {
                Some(p) => match p.list_type {
                    Some(ListType::Atomic) => ListKind::Atomic,
                    Some(ListType::Set) => ListKind::Set,
                    Some(ListType::Map) => ListKind::Map(&p.list_map_keys),
                    None if p.strategy.merge => match &p.merge_key {
                        Some(k) => ListKind::Map(std::slice::from_ref(k)),
                        None => ListKind::Set,
                    },
                    None => ListKind::Atomic,
                },
                None => ListKind::Atomic,
            };
            return Ty::List(kind, f.kind);
        }
        if atomic_map {
            return Ty::Leaf;
        }
        self.kind(f.kind)
    }

    /// The type of key `key` in an object of type `parent`.
    pub fn child(&self, parent: Ty<'static>, key: &str) -> Ty<'static> {
        match parent {
            Ty::Struct(m) => match self.schema.and_then(|s| s.field_by_json(m, key)) {
                Some(f) => self.field(f),
                None => Ty::Deduced,
            },
            Ty::Map(k) => self.kind(k),
            _ => Ty::Deduced,
        }
    }

    /// The type of the elements of a list of type `list`.
    pub fn element(&self, list: Ty<'static>) -> Ty<'static> {
        match list {
            Ty::List(_, k) => self.kind(k),
            _ => Ty::Deduced,
        }
    }
}

/// How a value is walked: by its keys, by its elements, or as one value.
enum Node<'v> {
    Object(&'v Map<String, Value>),
    List(ListKind<'static>, &'v [Value]),
    Leaf,
}

fn node<'v>(ty: Ty<'static>, v: &'v Value) -> Node<'v> {
    match (ty, v) {
        (Ty::Struct(_) | Ty::Map(_) | Ty::Deduced, Value::Object(m)) => Node::Object(m),
        (Ty::List(k, _), Value::Array(a)) if !matches!(k, ListKind::Atomic) => Node::List(k, a),
        _ => Node::Leaf,
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The path element of a list element: its key fields or its value.
pub fn element_key(kind: ListKind<'_>, v: &Value, index: usize) -> Result<PathElement, String> {
    match kind {
        ListKind::Atomic => Ok(PathElement::Index(index)),
        ListKind::Set => Ok(PathElement::Value(v.clone())),
        ListKind::Map(keys) => {
            let Value::Object(m) = v else {
                return Err(format!(
                    "element {index}: associative list with keys has an element that is not a map"
                ));
            };
            let mut kv = Vec::with_capacity(keys.len());
            for k in keys {
                match m.get(&**k) {
                    Some(val) if !val.is_null() => kv.push((k.to_string(), val.clone())),
                    // Upstream fills a missing key from the schema's default; the only
                    // defaulted key field among the built-in types is a port's protocol.
                    _ if &**k == "protocol" => kv.push((k.to_string(), Value::from("TCP"))),
                    _ if keys.len() > 1 => {}
                    _ => {
                        return Err(format!(
                            "element {index}: associative list with keys has an element that omits key field {k:?} (and doesn't have default value)"
                        ))
                    }
                }
            }
            if kv.is_empty() {
                return Err(format!(
                    "element {index}: associative list with keys has an element that omits all key fields {:?} (and doesn't have default value for any key field)",
                    keys.iter().map(|k| k.to_string()).collect::<Vec<_>>()
                ));
            }
            kv.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(kv))
        }
    }
}

/// The fields an applied configuration sets (upstream's `ToFieldSet`): leaves, list
/// elements, map entries and empty or null fields.
pub fn to_field_set(types: &Types, ty: Ty<'static>, v: &Value) -> Result<Set, String> {
    let mut set = Set::new();
    let mut path = Vec::new();
    walk_set(types, ty, v, &mut path, &mut set)?;
    Ok(set)
}

fn walk_set(
    types: &Types,
    ty: Ty<'static>,
    v: &Value,
    path: &mut Path,
    set: &mut Set,
) -> Result<(), String> {
    match node(ty, v) {
        Node::Leaf => set.insert(path),
        Node::Object(m) => {
            for (k, child) in m {
                let cty = types.child(ty, k);
                let known = matches!(ty, Ty::Struct(_)) && !matches!(cty, Ty::Deduced);
                path.push(PathElement::Field(k.clone()));
                walk_set(types, cty, child, path, set)?;
                if child.is_null() || child.as_object().is_some_and(Map::is_empty) || !known {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Node::List(kind, items) => {
            let ety = types.element(ty);
            for (i, item) in items.iter().enumerate() {
                path.push(element_key(kind, item, i)?);
                walk_set(types, ety, item, path, set)?;
                set.insert(path);
                path.pop();
            }
        }
    }
    Ok(())
}

/// What changed between two objects.
#[derive(Debug, Default)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

/// Compare `lhs` (before) with `rhs` (after), as upstream's `TypedValue.Compare`.
pub fn compare(
    types: &Types,
    ty: Ty<'static>,
    lhs: &Value,
    rhs: &Value,
) -> Result<Comparison, String> {
    compare_ignoring(types, ty, lhs, rhs, &[])
}

/// [`compare`], leaving out the fields at `ignored` (paths of field names).
pub fn compare_ignoring(
    types: &Types,
    ty: Ty<'static>,
    lhs: &Value,
    rhs: &Value,
    ignored: &[&[&str]],
) -> Result<Comparison, String> {
    let mut c = Comparison::default();
    let mut path = Vec::new();
    let mut w = Walk {
        types,
        ignored,
        path: &mut path,
        c: &mut c,
    };
    walk_compare(&mut w, ty, Some(lhs), Some(rhs))?;
    Ok(c)
}

/// The state of a comparison.
struct Walk<'a> {
    types: &'a Types,
    ignored: &'a [&'a [&'a str]],
    path: &'a mut Path,
    c: &'a mut Comparison,
}

impl Walk<'_> {
    /// Whether the field `key` below the current path is left out.
    fn ignores(&self, key: &str) -> bool {
        self.ignored.iter().any(|p| {
            p.len() == self.path.len() + 1
                && p.last() == Some(&key)
                && self
                    .path
                    .iter()
                    .zip(p.iter())
                    .all(|(pe, name)| matches!(pe, PathElement::Field(f) if f == name))
        })
    }
}

fn walk_compare(
    w: &mut Walk<'_>,
    ty: Ty<'static>,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
) -> Result<(), String> {
    let types = w.types;
    let ln = lhs.map(|v| node(ty, v));
    let rn = rhs.map(|v| node(ty, v));
    let both_empty = lhs.is_none_or(is_empty_container) && rhs.is_none_or(is_empty_container);
    let leaf = both_empty
        || matches!(ln, Some(Node::Leaf))
        || matches!(rn, Some(Node::Leaf))
        || matches!(
            (&ln, &rn),
            (Some(Node::Object(_)), Some(Node::List(..)))
                | (Some(Node::List(..)), Some(Node::Object(_)))
        );
    if leaf {
        match (lhs, rhs) {
            (None, Some(_)) => w.c.added.insert(w.path),
            (Some(_), None) => w.c.removed.insert(w.path),
            (Some(a), Some(b)) if a != b => w.c.modified.insert(w.path),
            _ => {}
        }
        return Ok(());
    }
    let lmap = match &ln {
        Some(Node::Object(m)) => Some(*m),
        _ => None,
    };
    let rmap = match &rn {
        Some(Node::Object(m)) => Some(*m),
        _ => None,
    };
    match (ln, rn) {
        _ if lmap.is_some() || rmap.is_some() => {
            let mut keys: Vec<&String> = lmap.into_iter().flat_map(|m| m.keys()).collect();
            for k in rmap.into_iter().flat_map(|m| m.keys()) {
                if !lmap.is_some_and(|m| m.contains_key(k)) {
                    keys.push(k);
                }
            }
            for k in keys {
                if w.ignores(k) {
                    continue;
                }
                w.path.push(PathElement::Field(k.clone()));
                walk_compare(
                    w,
                    types.child(ty, k),
                    lmap.and_then(|m| m.get(k)),
                    rmap.and_then(|m| m.get(k)),
                )?;
                w.path.pop();
            }
        }
        (l, r) => {
            let (kind, litems) = match l {
                Some(Node::List(k, a)) => (Some(k), a),
                _ => (None, &[][..]),
            };
            let (kind, ritems) = match r {
                Some(Node::List(k, a)) => (Some(k), a),
                _ => (kind, &[][..]),
            };
            let Some(kind) = kind else { return Ok(()) };
            let ety = types.element(ty);
            let lkeys = keyed(kind, litems)?;
            let rkeys = keyed(kind, ritems)?;
            for (pe, lv) in &lkeys {
                let rv = rkeys.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                w.path.push(pe.clone());
                walk_compare(w, ety, Some(lv), rv)?;
                w.path.pop();
            }
            for (pe, rv) in &rkeys {
                if lkeys.iter().any(|(p, _)| p == pe) {
                    continue;
                }
                w.path.push(pe.clone());
                walk_compare(w, ety, None, Some(rv))?;
                w.path.pop();
            }
        }
    }
    // A granular container that appeared or went away is itself added or removed. Struct
    // fields are left out: Go's zero values carry non-pointer structs as `{}`, so upstream
    // only sees pointer structs appear, which the schema cannot tell apart.
    if appears_as_member(w.path, ty) {
        match (lhs, rhs) {
            (None, Some(_)) => w.c.added.insert(w.path),
            (Some(_), None) => w.c.removed.insert(w.path),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a granular container that appeared or went away is itself a changed member.
/// List elements and map entries always are. Struct fields are compared against Go's zero
/// value upstream, where non-pointer structs are `{}` and `omitempty` lists absent: so
/// struct-typed fields never count (the schema cannot tell pointers apart), lists do,
/// except `containers`, the one list field of k8s.io/api without `omitempty` that
/// objects commonly carry.
fn appears_as_member(path: &[PathElement], ty: Ty<'static>) -> bool {
    match path.last() {
        None => false,
        Some(PathElement::Field(name)) => match ty {
            Ty::Struct(_) => false,
            Ty::List(..) => name != "containers",
            _ => true,
        },
        Some(_) => true,
    }
}

/// The elements of an associative list with their path elements; repeats after the first
/// are ignored, as upstream does.
fn keyed<'v>(
    kind: ListKind<'_>,
    items: &'v [Value],
) -> Result<Vec<(PathElement, &'v Value)>, String> {
    let mut out: Vec<(PathElement, &Value)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pe = element_key(kind, item, i)?;
        if !out.iter().any(|(p, _)| *p == pe) {
            out.push((pe, item));
        }
    }
    Ok(out)
}

/// Merge an applied configuration `rhs` into the live object `lhs`: the configuration's
/// leaves win, objects merge key by key, associative lists element by element (in
/// upstream's order), atomic lists and leaves are replaced.
pub fn merge(types: &Types, ty: Ty<'static>, lhs: &Value, rhs: &Value) -> Result<Value, String> {
    match (node(ty, lhs), node(ty, rhs)) {
        (Node::Object(lm), Node::Object(rm)) => {
            let mut out = lm.clone();
            for (k, rv) in rm {
                let merged = match lm.get(k) {
                    Some(lv) => merge(types, types.child(ty, k), lv, rv)?,
                    None => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Ok(Value::Object(out))
        }
        (Node::List(kind, la), Node::List(_, ra)) => {
            let ety = types.element(ty);
            let lk = keyed(kind, la)?;
            let rk = keyed(kind, ra)?;
            let in_r = |pe: &PathElement| rk.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
            let in_l = |pe: &PathElement| lk.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
            // Shared elements keep the configuration's order; live-only elements stay where
            // they were relative to them (upstream's merge order).
            let mut shared = rk.iter().filter(|(p, _)| in_l(p).is_some()).map(|(p, _)| p);
            let mut next_shared = shared.next();
            let mut out = Vec::with_capacity(la.len().max(ra.len()));
            let (mut li, mut ri) = (0, 0);
            while li < lk.len() || ri < rk.len() {
                if li < lk.len() && ri < rk.len() {
                    let pe = &lk[li].0;
                    if *pe == rk[ri].0 {
                        out.push(merge(types, ety, lk[li].1, rk[ri].1)?);
                        li += 1;
                        ri += 1;
                        next_shared = shared.next();
                        continue;
                    }
                    if in_r(pe).is_some() && next_shared.is_some_and(|n| n != pe) {
                        li += 1;
                        continue;
                    }
                }
                if li < lk.len() && in_r(&lk[li].0).is_none() {
                    out.push(lk[li].1.clone());
                    li += 1;
                    continue;
                }
                if ri < rk.len() {
                    let (pe, rv) = &rk[ri];
                    out.push(match in_l(pe) {
                        Some(lv) => merge(types, ety, lv, rv)?,
                        None => (*rv).clone(),
                    });
                    ri += 1;
                    if next_shared.is_some_and(|n| n == pe) {
                        next_shared = shared.next();
                    }
                } else {
                    li += 1;
                }
            }
            Ok(Value::Array(out))
        }
        _ => Ok(rhs.clone()),
    }
}

/// Remove the members of `set` (each with everything below it) from `v`.
pub fn remove(types: &Types, ty: Ty<'static>, v: &mut Value, set: &Set) -> Result<(), String> {
    match v {
        Value::Object(m) if matches!(ty, Ty::Struct(_) | Ty::Map(_) | Ty::Deduced) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let Some(sub) = set.node(&[PathElement::Field(k.clone())]) else {
                    continue;
                };
                if sub.has(&[]) {
                    m.remove(&k);
                } else if let Some(child) = m.get_mut(&k) {
                    remove(types, types.child(ty, &k), child, sub)?;
                }
            }
        }
        Value::Array(items) => {
            let Ty::List(kind, _) = ty else { return Ok(()) };
            if matches!(kind, ListKind::Atomic) {
                return Ok(());
            }
            let ety = types.element(ty);
            let mut kept = Vec::with_capacity(items.len());
            for (i, mut item) in std::mem::take(items).into_iter().enumerate() {
                let pe = element_key(kind, &item, i)?;
                match set.node(std::slice::from_ref(&pe)) {
                    Some(sub) if sub.has(&[]) => {}
                    Some(sub) => {
                        remove(types, ety, &mut item, sub)?;
                        kept.push(item);
                    }
                    None => kept.push(item),
                }
            }
            *items = kept;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: &str = "k8s_openapi::api::apps::v1::Deployment";

    #[test]
    fn field_sets_follow_list_and_map_types() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let obj = json!({
            "metadata": {"finalizers": ["a", "b"], "labels": {}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "c", "args": ["x", "y"], "ports": [{"containerPort": 80}]}
                ]}}
            }
        });
        let set = to_field_set(&types, ty, &obj).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {
                    // listType=set: elements by value; an empty map is itself owned.
                    "f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}},
                    "f:labels": {}
                },
                "f:spec": {
                    // structType=atomic: one value.
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                        ".": {},
                        // An atomic list is one value; a port's defaulted protocol is
                        // part of its key.
                        "f:args": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}
                        }}
                    }}}}
                }
            })
        );
    }

    #[test]
    fn merge_keeps_live_only_elements_in_place_and_replaces_atomic_values() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "1", "args": ["old"]},
            {"name": "live-only", "image": "x"},
            {"name": "b", "image": "2"}
        ]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "3"},
            {"name": "a", "args": ["new"]},
            {"name": "c", "image": "4"}
        ]}}}});
        let out = merge(&types, ty, &live, &config).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "live-only", "image": "x"},
                {"name": "b", "image": "3"},
                {"name": "a", "image": "1", "args": ["new"]},
                {"name": "c", "image": "4"}
            ])
        );
    }

    #[test]
    fn compare_reports_added_modified_and_removed_leaves() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let before = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1}});
        let after = json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"replicas": 2}});
        let c = compare(&types, ty, &before, &after).unwrap();
        let f = |s: &str| PathElement::Field(s.into());
        assert_eq!(c.added.paths(), [vec![f("metadata"), f("labels"), f("c")]]);
        assert_eq!(
            c.removed.paths(),
            [vec![f("metadata"), f("labels"), f("b")]]
        );
        assert_eq!(c.modified.paths(), [vec![f("spec"), f("replicas")]]);
        assert!(element_key(ListKind::Map(&["name".into()]), &json!({"image": "x"}), 0).is_err());
    }
}

//! `/openapi/v2` in gnostic's protobuf form (`openapi.v2.Document` of
//! github.com/google/gnostic's OpenAPIv2.proto), which client-go asks for with
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (kubectl's
//! `explain --output plaintext-openapiv2`, and its fallbacks when v3 is missing).
//!
//! Written from the JSON document: only what that document holds is encoded. Vendor
//! extensions, `default`, `example` and `enum` values are gnostic `Any`s carrying YAML text;
//! JSON is YAML, so each is its compact JSON (readers YAML-decode it).

use serde_json::{Map, Value};

/// One protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    /// proto3: an empty string is the default and is not written.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn message(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }

    /// A bool that is part of a `oneof` is written even when false.
    fn bool_always(&mut self, field: u32, b: bool) {
        self.key(field, 0);
        self.varint(u64::from(b));
    }

    fn bool(&mut self, field: u32, b: bool) {
        if b {
            self.bool_always(field, b);
        }
    }

    fn int64(&mut self, field: u32, i: i64) {
        if i != 0 {
            self.key(field, 0);
            // Two's complement, as protobuf encodes negative int64s.
            self.varint(i as u64);
        }
    }

    fn double(&mut self, field: u32, f: f64) {
        if f != 0.0 {
            self.key(field, 1);
            self.0.extend_from_slice(&f.to_le_bytes());
        }
    }
}

fn str_of<'a>(o: &'a Map<String, Value>, k: &str) -> &'a str {
    o.get(k).and_then(Value::as_str).unwrap_or("")
}

fn bool_of(o: &Map<String, Value>, k: &str) -> bool {
    o.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(m: &mut Msg, field: u32, v: Option<&Value>) {
    for s in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = s.as_str() {
            // Repeated strings keep empty elements.
            m.bytes(field, s.as_bytes());
        }
    }
}

/// gnostic `Any { google.protobuf.Any value = 1; string yaml = 2; }`.
fn any(v: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(2, &v.to_string());
    m
}

/// `NamedAny` entries for the `x-` keys of `o`.
fn vendor_extensions(m: &mut Msg, field: u32, o: &Map<String, Value>) {
    for (k, v) in o.iter().filter(|(k, _)| k.starts_with("x-")) {
        let mut named = Msg::default();
        named.string(1, k);
        named.message(2, any(v));
        m.message(field, named);
    }
}

/// `Schema`.
fn schema(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else {
        return m;
    };
    m.string(1, str_of(o, "$ref"));
    m.string(2, str_of(o, "format"));
    m.string(3, str_of(o, "title"));
    m.string(4, str_of(o, "description"));
    if let Some(d) = o.get("default") {
        m.message(5, any(d));
    }
    let num = |k: &str| o.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let int = |k: &str| o.get(k).and_then(Value::as_i64).unwrap_or(0);
    m.double(6, num("multipleOf"));
    m.double(7, num("maximum"));
    m.bool(8, bool_of(o, "exclusiveMaximum"));
    m.double(9, num("minimum"));
    m.bool(10, bool_of(o, "exclusiveMinimum"));
    m.int64(11, int("maxLength"));
    m.int64(12, int("minLength"));
    m.string(13, str_of(o, "pattern"));
    m.int64(14, int("maxItems"));
    m.int64(15, int("minItems"));
    m.bool(16, bool_of(o, "uniqueItems"));
    m.int64(17, int("maxProperties"));
    m.int64(18, int("minProperties"));
    strings(&mut m, 19, o.get("required"));
    for e in o
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    match o.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut ap = Msg::default();
            ap.bool_always(2, *b);
            m.message(21, ap);
        }
        Some(s @ Value::Object(_)) => {
            let mut ap = Msg::default();
            ap.message(1, schema(s));
            m.message(21, ap);
        }
        _ => {}
    }
    match o.get("type") {
        Some(Value::String(t)) => {
            let mut ti = Msg::default();
            ti.bytes(1, t.as_bytes());
            m.message(22, ti);
        }
        Some(ts @ Value::Array(_)) => {
            let mut ti = Msg::default();
            strings(&mut ti, 1, Some(ts));
            m.message(22, ti);
        }
        _ => {}
    }
    match o.get("items") {
        Some(s @ Value::Object(_)) => {
            let mut items = Msg::default();
            items.message(1, schema(s));
            m.message(23, items);
        }
        Some(Value::Array(ss)) => {
            let mut items = Msg::default();
            for s in ss {
                items.message(1, schema(s));
            }
            m.message(23, items);
        }
        _ => {}
    }
    for s in o
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(s));
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        let mut p = Msg::default();
        for (name, s) in props {
            p.message(1, named_schema(name, s));
        }
        m.message(25, p);
    }
    m.string(26, str_of(o, "discriminator"));
    m.bool(27, bool_of(o, "readOnly"));
    if let Some(e) = o.get("example") {
        m.message(30, any(e));
    }
    vendor_extensions(&mut m, 31, o);
    m
}

fn named_schema(name: &str, s: &Value) -> Msg {
    let mut n = Msg::default();
    n.string(1, name);
    n.message(2, schema(s));
    n
}

/// `ParametersItem`: a body parameter, a query or path parameter, or a reference.
fn parameter(v: &Value) -> Option<Msg> {
    let o = v.as_object()?;
    let mut item = Msg::default();
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        let mut jr = Msg::default();
        jr.string(1, r);
        jr.string(2, str_of(o, "description"));
        item.message(2, jr);
        return Some(item);
    }
    let mut param = Msg::default();
    match str_of(o, "in") {
        "body" => {
            let mut b = Msg::default();
            b.string(1, str_of(o, "description"));
            b.string(2, str_of(o, "name"));
            b.string(3, "body");
            b.bool(4, bool_of(o, "required"));
            if let Some(s) = o.get("schema") {
                b.message(5, schema(s));
            }
            vendor_extensions(&mut b, 6, o);
            param.message(1, b);
        }
        loc @ ("query" | "path") => {
            // QueryParameterSubSchema has allowEmptyValue at 5, so its later fields sit
            // one number above PathParameterSubSchema's.
            let (which, shift) = if loc == "query" { (3, 1) } else { (4, 0) };
            let mut q = Msg::default();
            q.bool(1, bool_of(o, "required"));
            q.string(2, loc);
            q.string(3, str_of(o, "description"));
            q.string(4, str_of(o, "name"));
            if loc == "query" {
                q.bool(5, bool_of(o, "allowEmptyValue"));
            }
            q.string(5 + shift, str_of(o, "type"));
            q.string(6 + shift, str_of(o, "format"));
            q.bool(19 + shift, bool_of(o, "uniqueItems"));
            vendor_extensions(&mut q, 22 + shift, o);
            let mut nb = Msg::default();
            nb.message(which, q);
            param.message(2, nb);
        }
        // Header and form parameters are not produced.
        _ => return None,
    }
    item.message(1, param);
    Some(item)
}

/// `Operation`.
fn operation(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else {
        return m;
    };
    strings(&mut m, 1, o.get("tags"));
    m.string(2, str_of(o, "summary"));
    m.string(3, str_of(o, "description"));
    m.string(5, str_of(o, "operationId"));
    strings(&mut m, 6, o.get("produces"));
    strings(&mut m, 7, o.get("consumes"));
    for p in o
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = parameter(p) {
            m.message(8, p);
        }
    }
    if let Some(rs) = o.get("responses").and_then(Value::as_object) {
        let mut responses = Msg::default();
        for (code, r) in rs {
            let Some(r) = r.as_object() else {
                continue;
            };
            let mut resp = Msg::default();
            resp.string(1, str_of(r, "description"));
            if let Some(s) = r.get("schema") {
                let mut item = Msg::default();
                item.message(1, schema(s));
                resp.message(2, item);
            }
            vendor_extensions(&mut resp, 5, r);
            let mut value = Msg::default();
            value.message(1, resp);
            let mut named = Msg::default();
            named.string(1, code);
            named.message(2, value);
            responses.message(1, named);
        }
        vendor_extensions(&mut responses, 2, rs);
        m.message(9, responses);
    }
    strings(&mut m, 10, o.get("schemes"));
    m.bool(11, bool_of(o, "deprecated"));
    vendor_extensions(&mut m, 13, o);
    m
}

/// `PathItem`.
fn path_item(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else {
        return m;
    };
    m.string(1, str_of(o, "$ref"));
    for (field, verb) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = o.get(verb) {
            m.message(field, operation(op));
        }
    }
    for p in o
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = parameter(p) {
            m.message(9, p);
        }
    }
    vendor_extensions(&mut m, 10, o);
    m
}

/// The Swagger 2.0 JSON document `doc` as a gnostic `openapi.v2.Document`.
pub fn document(doc: &Value) -> Vec<u8> {
    let mut m = Msg::default();
    let Some(o) = doc.as_object() else {
        return m.0;
    };
    m.string(1, str_of(o, "swagger"));
    if let Some(info) = o.get("info").and_then(Value::as_object) {
        let mut i = Msg::default();
        i.string(1, str_of(info, "title"));
        i.string(2, str_of(info, "version"));
        i.string(3, str_of(info, "description"));
        vendor_extensions(&mut i, 7, info);
        m.message(2, i);
    }
    strings(&mut m, 5, o.get("schemes"));
    strings(&mut m, 6, o.get("consumes"));
    strings(&mut m, 7, o.get("produces"));
    if let Some(paths) = o.get("paths").and_then(Value::as_object) {
        let mut p = Msg::default();
        vendor_extensions(&mut p, 1, paths);
        for (name, item) in paths.iter().filter(|(k, _)| !k.starts_with("x-")) {
            let mut named = Msg::default();
            named.string(1, name);
            named.message(2, path_item(item));
            p.message(2, named);
        }
        m.message(8, p);
    }
    if let Some(defs) = o.get("definitions").and_then(Value::as_object) {
        let mut d = Msg::default();
        for (name, s) in defs {
            d.message(1, named_schema(name, s));
        }
        m.message(9, d);
    }
    vendor_extensions(&mut m, 16, o);
    m.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_a_small_document_field_by_field() {
        let doc = json!({
            "swagger": "2.0",
            "definitions": {
                "a.B": {
                    "type": "object",
                    "required": ["x"],
                    "properties": {"x": {"$ref": "#/definitions/a.C"}},
                    "x-kubernetes-group-version-kind": [{"group": "", "kind": "B", "version": "v1"}],
                },
            },
        });
        let got = document(&doc);
        let mut want = Msg::default();
        want.string(1, "2.0");
        let mut s = Msg::default();
        s.bytes(19, b"x");
        let mut ti = Msg::default();
        ti.bytes(1, b"object");
        s.message(22, ti);
        let mut props = Msg::default();
        let mut x = Msg::default();
        x.string(1, "#/definitions/a.C");
        let mut nx = Msg::default();
        nx.string(1, "x");
        nx.message(2, x);
        props.message(1, nx);
        s.message(25, props);
        let mut ext = Msg::default();
        ext.string(1, "x-kubernetes-group-version-kind");
        let mut a = Msg::default();
        a.string(2, r#"[{"group":"","kind":"B","version":"v1"}]"#);
        ext.message(2, a);
        s.message(31, ext);
        let mut named = Msg::default();
        named.string(1, "a.B");
        named.message(2, s);
        let mut defs = Msg::default();
        defs.message(1, named);
        want.message(9, defs);
        assert_eq!(got, want.0);
        // The first bytes: field 1 (swagger), length 3, "2.0".
        assert_eq!(&got[..5], &[0x0a, 3, b'2', b'.', b'0']);
    }

    #[test]
    fn varints_and_negative_numbers() {
        let mut m = Msg::default();
        m.varint(300);
        assert_eq!(m.0, [0xac, 0x02]);
        let mut m = Msg::default();
        m.int64(1, -1);
        assert_eq!(m.0.len(), 11);
        let mut m = Msg::default();
        m.bool(1, false);
        assert!(m.0.is_empty());
        m.bool_always(1, false);
        assert_eq!(m.0, [0x08, 0]);
    }
}

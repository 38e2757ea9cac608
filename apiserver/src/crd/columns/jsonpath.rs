//! Kubernetes JSONPath (k8s.io/client-go/util/jsonpath), the dialect of printer columns:
//! `.spec.replicas`, `.items[*].name`, `.items[0]`, `.items[-1:]`, `['key']`, `[a,b]` unions,
//! `..name` recursive descent, `.*` wildcards and `[?(@.type=="Ready")]` filters. One action
//! (the text between `{` and `}`) is parsed once; evaluation borrows from the object.
//!
//! Semantics follow upstream's parser and evaluator with missing keys allowed (as the table
//! convertor sets), including its quirks: a quoted dict key is re-parsed as a field path, so
//! `['a.b']` means `.a.b` (escape dots as `a\.b`); filters compare only like-typed scalars.

use std::cmp::Ordering;

use serde_json::Value;

/// A parsed JSONPath action.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    nodes: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Field(String),
    Wildcard,
    Recursive,
    /// `[start:end]`: `None` for an omitted bound; `derived_end` for a bare index `[i]`.
    Array {
        start: Option<i64>,
        end: Option<i64>,
        derived_end: bool,
    },
    Union(Vec<Vec<Node>>),
    Filter {
        left: Vec<Node>,
        op: String,
        right: Vec<Node>,
    },
    /// A quoted string, number or boolean literal.
    Literal(Value),
    /// Keywords (`range`, `end`) that have no meaning in a single-valued column.
    Identifier(String),
}

impl JsonPath {
    /// Parse the inside of one action, e.g. `.status.conditions[?(@.type=="Ready")].status`.
    /// Text after a closing `}` is ignored: a column shows its first action only.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        Ok(JsonPath {
            nodes: parse_action(text)?,
        })
    }

    /// Every value the path selects in `data`, in document order; empty when nothing
    /// matches, an error where upstream's evaluator fails (indexing a non-list, an index
    /// out of bounds, comparing unlike types).
    pub fn find<'a>(&'a self, data: &'a Value) -> Result<Vec<&'a Value>, String> {
        eval_list(&self.nodes, vec![data])
    }
}

// ---- parsing ------------------------------------------------------------------------------

fn parse_action(text: &str) -> Result<Vec<Node>, String> {
    let input = format!("{text}}}");
    let mut p = Parser {
        input: &input,
        pos: 0,
    };
    let mut nodes = Vec::new();
    p.inside_action(&mut nodes)?;
    Ok(nodes)
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

/// Characters that end a field name (upstream's isTerminator).
fn is_terminator(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => matches!(
            c,
            ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
        ),
    }
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn inside_action(&mut self, cur: &mut Vec<Node>) -> Result<(), String> {
        loop {
            let rest = self.rest();
            if rest.starts_with('}') {
                return Ok(());
            }
            if rest.starts_with("[?(") {
                self.pos += 3;
                cur.push(self.filter()?);
                continue;
            }
            if rest.starts_with("..") {
                if cur.last() == Some(&Node::Recursive) {
                    return Err("invalid multiple recursive descent".into());
                }
                self.pos += 2;
                cur.push(Node::Recursive);
                if self.peek().is_some_and(is_alphanumeric) {
                    cur.push(self.field());
                }
                continue;
            }
            match self.next() {
                None | Some('\r' | '\n') => return Err("unclosed action".into()),
                Some(' ' | '@' | '$') => {}
                Some('[') => self.array(cur)?,
                Some(q @ ('"' | '\'')) => cur.push(self.quote(q)?),
                Some('.') => cur.push(self.field()),
                Some(c) if c == '+' || c == '-' || c.is_ascii_digit() => {
                    self.pos -= 1;
                    cur.push(self.number()?);
                }
                Some(c) if is_alphanumeric(c) => {
                    self.pos -= c.len_utf8();
                    cur.push(self.identifier());
                }
                Some(c) => return Err(format!("unrecognized character in action: {c:?}")),
            }
        }
    }

    /// A field name up to the next unescaped terminator; backslashes are dropped.
    fn field(&mut self) -> Node {
        let start = self.pos;
        loop {
            match self.peek() {
                Some('\\') => {
                    self.next();
                    self.next();
                }
                c if is_terminator(c) => break,
                _ => {
                    self.next();
                }
            }
        }
        let value = &self.input[start..self.pos];
        if value == "*" {
            Node::Wildcard
        } else {
            Node::Field(value.replace('\\', ""))
        }
    }

    fn identifier(&mut self) -> Node {
        let start = self.pos;
        while !is_terminator(self.peek()) {
            self.next();
        }
        match &self.input[start..self.pos] {
            "true" => Node::Literal(Value::Bool(true)),
            "false" => Node::Literal(Value::Bool(false)),
            other => Node::Identifier(other.to_string()),
        }
    }

    fn number(&mut self) -> Result<Node, String> {
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.next();
        }
        while matches!(self.peek(), Some(c) if c == '.' || c.is_ascii_digit()) {
            self.next();
        }
        let text = &self.input[start..self.pos];
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Node::Literal(Value::from(i)));
        }
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(|n| Node::Literal(Value::Number(n)))
            .ok_or_else(|| format!("cannot parse number {text}"))
    }

    fn quote(&mut self, quote: char) -> Result<Node, String> {
        let start = self.pos - 1;
        loop {
            match self.next() {
                None | Some('\n') => return Err("unterminated quoted string".into()),
                Some('\\') => {
                    self.next();
                }
                Some(c) if c == quote => break,
                Some(_) => {}
            }
        }
        let raw = &self.input[start..self.pos];
        unquote(raw).map(|s| Node::Literal(Value::String(s)))
    }

    fn array(&mut self, cur: &mut Vec<Node>) -> Result<(), String> {
        let start = self.pos;
        loop {
            match self.next() {
                None | Some('\n') => return Err("unterminated array".into()),
                Some(']') => break,
                Some(_) => {}
            }
        }
        let mut text = &self.input[start..self.pos - 1];
        if text == "*" {
            text = ":";
        }
        let parts: Vec<&str> = text.split(',').collect();
        if parts.len() > 1 {
            let union = parts
                .iter()
                .map(|p| parse_action(&format!("[{}]", p.trim_matches(' '))))
                .collect::<Result<Vec<_>, _>>()?;
            cur.push(Node::Union(union));
            return Ok(());
        }
        // A single-quoted dict key is read back as a field path, as upstream does.
        if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
            let key = &text[1..text.len() - 1];
            if !key.contains('\'') {
                cur.extend(parse_action(&format!(".{key}"))?);
                return Ok(());
            }
        }
        cur.push(slice(text)?);
        Ok(())
    }

    fn filter(&mut self) -> Result<Node, String> {
        let start = self.pos;
        let (mut begin, mut end) = (false, false);
        let mut pair = '"';
        loop {
            match self.next() {
                None | Some('\n') => return Err("unterminated filter".into()),
                Some(q @ ('"' | '\'')) => {
                    if !begin {
                        begin = true;
                        pair = q;
                    } else if q == pair && !self.input[..self.pos - 1].ends_with('\\') {
                        end = true;
                    }
                }
                Some(')') if begin == end => break,
                Some(_) => {}
            }
        }
        if self.next() != Some(']') {
            return Err("unclosed array expect ]".into());
        }
        let text = &self.input[start..self.pos - 2];
        // `left op right`, the operator being the first run of `!<>=` (upstream's regexp
        // `^([^!<>=]+)([!<>=]+)(.+?)$`).
        let is_op = |c: char| matches!(c, '!' | '<' | '>' | '=');
        if let Some(i) = text.find(is_op).filter(|&i| i > 0) {
            let op_len = text[i..].find(|c| !is_op(c)).unwrap_or(text.len() - i);
            let right = &text[i + op_len..];
            if !right.is_empty() {
                return Ok(Node::Filter {
                    left: parse_action(&text[..i])?,
                    op: text[i..i + op_len].to_string(),
                    right: parse_action(right)?,
                });
            }
        }
        Ok(Node::Filter {
            left: parse_action(text)?,
            op: "exists".into(),
            right: Vec::new(),
        })
    }
}

/// `[start:end:step]` (upstream's sliceOperatorRex); the step is accepted and ignored, as
/// upstream's evaluation ignores it.
fn slice(text: &str) -> Result<Node, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let number_like = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        digits.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.len() > 3 || !parts.iter().all(|p| number_like(p)) {
        return Err(format!("invalid array index {text}"));
    }
    let int = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("array index {s} is not a number"))
    };
    let start = match parts[0] {
        "" => None,
        s => Some(int(s)?),
    };
    let (end, derived_end) = match parts.get(1) {
        None => (Some(start.unwrap_or(0) + 1), true),
        Some(&"") => (None, false),
        Some(s) => (Some(int(s)?), false),
    };
    if let Some(s) = parts.get(2).filter(|s| !s.is_empty()) {
        int(s)?;
    }
    Ok(Node::Array {
        start,
        end,
        derived_end,
    })
}

/// Go's strconv.Unquote, extended to single quotes.
fn unquote(raw: &str) -> Result<String, String> {
    let bad = || format!("unquote string {raw} error invalid syntax");
    let inner = raw
        .get(1..raw.len().saturating_sub(1))
        .filter(|_| raw.len() >= 2)
        .ok_or_else(bad)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next().ok_or_else(bad)? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            c @ ('\\' | '\'' | '"') => out.push(c),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

// ---- evaluation ---------------------------------------------------------------------------

fn eval_list<'a>(nodes: &'a [Node], mut cur: Vec<&'a Value>) -> Result<Vec<&'a Value>, String> {
    for node in nodes {
        cur = eval(node, cur)?;
    }
    Ok(cur)
}

fn children(v: &Value) -> Vec<&Value> {
    match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

fn eval<'a>(node: &'a Node, input: Vec<&'a Value>) -> Result<Vec<&'a Value>, String> {
    let mut out = Vec::new();
    match node {
        // `{.}` is the object itself.
        Node::Field(name) if name.is_empty() => return Ok(input),
        Node::Field(name) => {
            for v in input {
                if let Some(found) = v.as_object().and_then(|m| m.get(name)) {
                    out.push(found);
                }
            }
        }
        Node::Wildcard => {
            for v in input {
                out.extend(children(v));
            }
        }
        Node::Recursive => {
            for v in input {
                recurse(v, &mut out);
            }
        }
        Node::Array {
            start,
            end,
            derived_end,
        } => {
            for v in input {
                if v.is_null() {
                    continue;
                }
                let Some(items) = v.as_array() else {
                    return Err(format!("{} is not array or slice", type_name(v)));
                };
                out.extend(slice_of(items, *start, *end, *derived_end)?);
            }
        }
        Node::Union(parts) => {
            for part in parts {
                out.extend(eval_list(part, input.clone())?);
            }
        }
        Node::Filter { left, op, right } => {
            for v in input {
                let Some(items) = v.as_array() else {
                    return Err(format!("{v} is not array or slice and cannot be filtered"));
                };
                for item in items {
                    if filter_passes(item, left, op, right)? {
                        out.push(item);
                    }
                }
            }
        }
        // A text literal stands alone; numbers and booleans repeat per input (upstream).
        Node::Literal(lit @ Value::String(_)) => out.push(lit),
        Node::Literal(lit) => out.extend(input.iter().map(|_| lit)),
        Node::Identifier(name) => return Err(format!("unrecognized identifier {name}")),
    }
    Ok(out)
}

/// Upstream's evalRecursive: every container at or below `v`, parents first.
fn recurse<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    let kids = children(v);
    if kids.is_empty() {
        return;
    }
    out.push(v);
    for k in kids {
        recurse(k, out);
    }
}

fn slice_of(
    items: &[Value],
    start: Option<i64>,
    end: Option<i64>,
    derived_end: bool,
) -> Result<&[Value], String> {
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let mut s = start.unwrap_or(0);
    if s < 0 {
        s += len;
    }
    let mut e = end.unwrap_or(len);
    if e < 0 || (e == 0 && derived_end) {
        e += len;
    }
    if e != s {
        if s >= len {
            return Err(format!(
                "array index out of bounds: index {s}, length {len}"
            ));
        }
        if e > len {
            return Err(format!(
                "array index out of bounds: index {}, length {len}",
                e - 1
            ));
        }
    }
    let (Ok(s), Ok(e)) = (usize::try_from(s), usize::try_from(e)) else {
        return Err(format!(
            "array index out of bounds: index {s}, length {len}"
        ));
    };
    items
        .get(s..e)
        .ok_or_else(|| format!("invalid slice index {s} > {e}"))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn filter_passes(item: &Value, left: &[Node], op: &str, right: &[Node]) -> Result<bool, String> {
    let lefts = eval_list(left, vec![item]);
    if op == "exists" {
        return Ok(lefts.is_ok_and(|l| !l.is_empty()));
    }
    let lefts = lefts?;
    let [l] = lefts.as_slice() else {
        return Err("can only compare one element at a time".into());
    };
    let rights = eval_list(right, vec![item])?;
    let [r] = rights.as_slice() else {
        return Err("can only compare one element at a time".into());
    };
    let ord = compare(l, r, op)?;
    Ok(match op {
        "==" => ord == Ordering::Equal,
        "!=" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        ">" => ord == Ordering::Greater,
        "<=" => ord != Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => return Err(format!("unrecognized filter operator {op}")),
    })
}

/// Go template's comparison of basic kinds: like kinds only; booleans only for equality.
fn compare(l: &Value, r: &Value, op: &str) -> Result<Ordering, String> {
    let incompatible = || Err("incompatible types for comparison".to_string());
    match (l, r) {
        (Value::String(a), Value::String(b)) => Ok(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) if op == "==" || op == "!=" => Ok(a.cmp(b)),
        (Value::Bool(_), Value::Bool(_)) => Err("invalid type for comparison".into()),
        (Value::Number(a), Value::Number(b)) => match (a.is_f64(), b.is_f64()) {
            (false, false) => {
                let a = a.as_i64().map(i128::from).or(a.as_u64().map(i128::from));
                let b = b.as_i64().map(i128::from).or(b.as_u64().map(i128::from));
                Ok(a.cmp(&b))
            }
            (true, true) => a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .ok_or_else(|| "invalid type for comparison".to_string()),
            _ => incompatible(),
        },
        (Value::Null | Value::Array(_) | Value::Object(_), _)
        | (_, Value::Null | Value::Array(_) | Value::Object(_)) => {
            Err("invalid type for comparison".into())
        }
        _ => incompatible(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, data: &Value) -> Result<Vec<Value>, String> {
        let p = JsonPath::parse(path)?;
        Ok(p.find(data)?.into_iter().cloned().collect())
    }

    fn obj() -> Value {
        json!({
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "web", "tier": "fe"}},
            "spec": {"replicas": 3, "items": [{"name": "x", "n": 1}, {"name": "y", "n": 2}, {"name": "z", "n": 3}]},
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Synced", "status": "False"}
            ]}
        })
    }

    #[test]
    fn fields_and_missing_keys() {
        assert_eq!(find(".spec.replicas", &obj()), Ok(vec![json!(3)]));
        assert_eq!(find(".spec.nothing.deeper", &obj()), Ok(vec![]));
        assert_eq!(find(".metadata.name.x", &obj()), Ok(vec![]));
        assert_eq!(find(".", &obj()).map(|v| v.len()), Ok(1));
    }

    #[test]
    fn escaped_dots_and_dict_keys() {
        assert_eq!(
            find(".metadata.labels.app\\.kubernetes\\.io/name", &obj()),
            Ok(vec![json!("web")])
        );
        assert_eq!(
            find(".metadata.labels['tier']", &obj()),
            Ok(vec![json!("fe")])
        );
        // Upstream re-parses a dict key as a path: the dots split it.
        assert_eq!(
            find(".metadata.labels['app.kubernetes.io/name']", &obj()),
            Ok(vec![])
        );
    }

    #[test]
    fn indexes_slices_and_wildcards() {
        assert_eq!(find(".spec.items[0].name", &obj()), Ok(vec![json!("x")]));
        assert_eq!(find(".spec.items[-1].name", &obj()), Ok(vec![json!("z")]));
        assert_eq!(
            find(".spec.items[*].name", &obj()),
            Ok(vec![json!("x"), json!("y"), json!("z")])
        );
        assert_eq!(
            find(".spec.items[1:].name", &obj()),
            Ok(vec![json!("y"), json!("z")])
        );
        assert_eq!(
            find(".spec.items[0,2].name", &obj()),
            Ok(vec![json!("x"), json!("z")])
        );
        assert_eq!(find(".metadata.labels.*", &obj()).map(|v| v.len()), Ok(2));
        assert!(find(".spec.items[5].name", &obj()).is_err());
        assert!(find(".spec.replicas[0]", &obj()).is_err());
    }

    #[test]
    fn filters() {
        assert_eq!(
            find(".status.conditions[?(@.type==\"Ready\")].status", &obj()),
            Ok(vec![json!("True")])
        );
        assert_eq!(
            find(".status.conditions[?(@.type == 'Synced')].status", &obj()),
            Ok(vec![json!("False")])
        );
        assert_eq!(
            find(".spec.items[?(@.n>=2)].name", &obj()),
            Ok(vec![json!("y"), json!("z")])
        );
        assert_eq!(
            find(".spec.items[?(@.n!=2)].name", &obj()),
            Ok(vec![json!("x"), json!("z")])
        );
        assert_eq!(
            find(".status.conditions[?(@.status)].type", &obj()).map(|v| v.len()),
            Ok(2)
        );
        // Unlike types do not compare.
        assert!(find(".spec.items[?(@.n==\"2\")].name", &obj()).is_err());
        assert!(find(".spec.items[?(@.n==2.0)].name", &obj()).is_err());
    }

    #[test]
    fn recursive_descent() {
        assert_eq!(
            find("..name", &obj()),
            Ok(vec![json!("a"), json!("x"), json!("y"), json!("z")])
        );
        assert!(JsonPath::parse("....name").is_err());
    }

    #[test]
    fn parse_errors() {
        assert!(JsonPath::parse(".items[").is_err());
        assert!(JsonPath::parse(".items[?(@.a==\"b\"").is_err());
        assert!(JsonPath::parse(".items[x]").is_err());
        assert!(JsonPath::parse(".a#b").is_ok(), "# is part of a field name");
        assert!(JsonPath::parse(".a %").is_err());
    }
}

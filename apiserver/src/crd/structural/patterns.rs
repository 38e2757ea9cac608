//! Compiled `pattern`s, cached by their text: validation runs on every write and must not
//! recompile a CRD's patterns each time. Patterns are Go (RE2) regular expressions; the few
//! places where Rust's `regex` reads the same text differently are translated first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;

/// Enough for every pattern of many CRDs; past it the cache starts over rather than grow
/// without bound as CRDs change.
const MAX_CACHED: usize = 4096;

type Compiled = Result<Arc<Regex>, String>;

fn cache() -> &'static Mutex<HashMap<String, Compiled>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The compiled pattern, or the parse error as text.
pub fn compile(pattern: &str) -> Compiled {
    let mut cache = match cache().lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(hit) = cache.get(pattern) {
        return hit.clone();
    }
    let compiled = Regex::new(&go_syntax(pattern))
        .map(Arc::new)
        .map_err(|e| describe(&e));
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(pattern.to_string(), compiled.clone());
    compiled
}

/// Rewrite a Go pattern for Rust's `regex`: Go's `\d`, `\w`, `\s` and `\b` are ASCII-only
/// (Rust's are Unicode), and inside a bracket expression Go takes `[`, `&&` and `~~`
/// literally where Rust nests classes and combines them.
fn go_syntax(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    // Right after `[` or `[^`, where `]` is a literal.
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let replacement = match (in_class, e) {
                    (false, 'd') => "[0-9]",
                    (false, 'D') => "[^0-9]",
                    (false, 'w') => "[0-9A-Za-z_]",
                    (false, 'W') => "[^0-9A-Za-z_]",
                    (false, 's') => "[\\t\\n\\x0C\\r ]",
                    (false, 'S') => "[^\\t\\n\\x0C\\r ]",
                    (false, 'b') => "(?-u:\\b)",
                    (false, 'B') => "(?-u:\\B)",
                    (true, 'd') => "0-9",
                    (true, 'w') => "0-9A-Za-z_",
                    (true, 's') => "\\t\\n\\x0C\\r ",
                    _ => "",
                };
                if replacement.is_empty() {
                    out.push('\\');
                    out.push(e);
                } else {
                    out.push_str(replacement);
                }
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            // A POSIX class such as `[:alpha:]` inside brackets is the same in both.
            '[' if chars.peek() == Some(&':') => {
                out.push('[');
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            ']' if in_class && !at_start => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// A one-line error in the spirit of Go's `error parsing regexp: <what>`.
fn describe(e: &regex::Error) -> String {
    let text = e.to_string();
    let what = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid pattern");
    let what = what.strip_prefix("error: ").unwrap_or(what);
    format!("error parsing regexp: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_cached_and_errors_are_one_line() {
        let a = compile("^[a-z]+$").expect("valid");
        let b = compile("^[a-z]+$").expect("valid");
        assert!(Arc::ptr_eq(&a, &b));
        let err = compile("(abc").expect_err("invalid");
        assert!(err.starts_with("error parsing regexp: "), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn go_classes_are_ascii_and_brackets_are_literal() {
        let re = compile(r"^\d+$").expect("valid");
        assert!(re.is_match("123"));
        assert!(!re.is_match("١٢٣"));
        let re = compile(r"^[\w.-]+$").expect("valid");
        assert!(re.is_match("a_b.c-d"));
        assert!(!re.is_match("é"));
        let re = compile(r"^[a[]+$").expect("valid");
        assert!(re.is_match("a[a"));
        let re = compile(r"^[]a]+$").expect("valid");
        assert!(re.is_match("]a"));
        let re = compile(r"^[[:alpha:]&]+$").expect("valid");
        assert!(re.is_match("ab&"));
        assert!(compile(r"^\p{L}+\s\S$").expect("valid").is_match("é x"));
        let re = compile(r"\bfoo\b").expect("valid");
        assert!(re.is_match("a foo b"));
        assert!(!re.is_match("afoob"));
    }
}

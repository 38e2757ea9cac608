//! Parsing a rule into the AST the interpreter runs, within limits: the generated parser and
//! the interpreter both recurse per nesting level.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cel_parser::ast::IdedExpr;
use cel_parser::{ParseErrors, Parser};

use super::check;

/// Deepest nesting a rule may have (cel-go allows 250; the interpreter recurses per level on
/// the request handler's stack, so less here).
const MAX_DEPTH: usize = 100;

/// Stack for the generated parser, which recurses deeply per nesting level.
const PARSER_STACK: usize = 64 << 20;

pub(super) fn parse(src: &str) -> Result<IdedExpr, String> {
    if let Some(at) = nesting_exceeded(src) {
        let before = &src[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        return Err(recursion_limit(src, line, col));
    }
    // The parser runs on its own thread: it needs a big stack, and a rule is client input that
    // must not take the server down, whatever the parser does with it.
    let owned = src.to_string();
    let parsed = std::thread::Builder::new()
        .name("cel-parse".into())
        .stack_size(PARSER_STACK)
        .spawn(move || {
            let parsed = catch_unwind(AssertUnwindSafe(|| Parser::new().parse(&owned)));
            match parsed {
                Ok(Ok(expr)) if depth(&expr) > MAX_DEPTH => Err(recursion_limit(&owned, 1, 1)),
                Ok(Ok(expr)) => Ok(expr),
                Ok(Err(e)) => Err(format_parse_errors(&owned, &e)),
                Err(_) => Err(check::format_error(
                    &owned,
                    1,
                    1,
                    "Syntax error: unparsable expression",
                )),
            }
        })
        .map_err(|e| format!("parser unavailable: {e}"))?;
    parsed
        .join()
        .unwrap_or_else(|_| Err("parser unavailable".into()))
}

fn recursion_limit(src: &str, line: usize, col: usize) -> String {
    check::format_error(
        src,
        line,
        col,
        &format!("expression recursion limit exceeded: {MAX_DEPTH}"),
    )
}

/// Where brackets outside string literals first nest deeper than [`MAX_DEPTH`].
fn nesting_exceeded(src: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in src.char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The parsed expression's depth, macros expanded.
pub(super) fn depth(e: &IdedExpr) -> usize {
    use cel_parser::ast::{EntryExpr, Expr, IdedEntryExpr};
    fn entries(list: &[IdedEntryExpr]) -> Vec<&IdedExpr> {
        list.iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect()
    }
    let children: Vec<&IdedExpr> = match &e.expr {
        Expr::Call(c) => c.target.iter().map(|t| &**t).chain(&c.args).collect(),
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => entries(&m.entries),
        Expr::Struct(s) => entries(&s.entries),
        Expr::Select(s) => vec![&*s.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

fn format_parse_errors(src: &str, errors: &ParseErrors) -> String {
    errors
        .errors
        .iter()
        .map(|e| {
            let line = usize::try_from(e.pos.0).unwrap_or(1).max(1);
            let col = usize::try_from(e.pos.1).unwrap_or(1).max(1);
            check::format_error(src, line, col, &e.msg)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

//! Field paths built while walking a value and printed only when an error needs them, so a
//! valid object costs no path allocations.

use std::fmt;

#[derive(Clone, Copy)]
pub enum FieldPath<'a> {
    /// The prefix everything is relative to ("" for none).
    Root(&'a str),
    /// `field.Path.Child`: `.name`, without the dot at an empty root.
    Child(&'a FieldPath<'a>, &'a str),
    /// `field.Path.Key`: `[key]`.
    Key(&'a FieldPath<'a>, &'a str),
    /// `field.Path.Index`: `[i]`.
    Index(&'a FieldPath<'a>, usize),
    /// kube-openapi's `path + "." + key`, dotted even at an empty root.
    Dotted(&'a FieldPath<'a>, &'a str),
}

impl FieldPath<'_> {
    fn write(&self, out: &mut String) {
        match self {
            FieldPath::Root(p) => out.push_str(p),
            FieldPath::Child(parent, name) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            FieldPath::Key(parent, k) => {
                parent.write(out);
                out.push('[');
                out.push_str(k);
                out.push(']');
            }
            FieldPath::Index(parent, i) => {
                parent.write(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            FieldPath::Dotted(parent, name) => {
                parent.write(out);
                out.push('.');
                out.push_str(name);
            }
        }
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::FieldPath::*;

    #[test]
    fn paths_print_like_field_path() {
        let root = Root("");
        let spec = Child(&root, "spec");
        let list = Child(&spec, "list");
        let item = Index(&list, 0);
        assert_eq!(Child(&item, "name").to_string(), "spec.list[0].name");
        assert_eq!(Key(&root, "a").to_string(), "[a]");
        assert_eq!(Child(&Key(&root, "a"), "b").to_string(), "[a].b");
        assert_eq!(Dotted(&root, "x").to_string(), ".x");
        let prefixed = Root("spec.versions[0]");
        assert_eq!(
            Child(&prefixed, "default").to_string(),
            "spec.versions[0].default"
        );
    }
}

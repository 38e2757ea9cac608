//! Parsing a request path into what it addresses (upstream's RequestInfoFactory).

/// A resource request: `/api/v1/namespaces/ns/pods/name/status`, `/apis/apps/v1/deployments`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The deprecated `/watch/` path prefix was used.
    pub legacy_watch: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/api`, `/apis`
    Root {
        legacy: bool,
    },
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1`, `/apis/<group>/<version>`
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    NotFound,
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

pub fn parse(path: &str) -> Route {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api"] => return Route::Root { legacy: true },
        ["apis"] => return Route::Root { legacy: false },
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g] => return Route::Group(g.to_string()),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    if rest.is_empty() {
        return Route::GroupVersion {
            group: group.into(),
            version: version.into(),
        };
    }
    let (legacy_watch, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    // `namespaces/<ns>/<resource>...` addresses namespaced resources; `namespaces/<ns>`
    // alone (or with a subresource of the namespace itself) addresses the namespace.
    let (namespace, rest): (Option<&str>, &[&str]) = match rest {
        ["namespaces", ns, r @ ..] if !r.is_empty() && !is_namespace_subresource(r) => {
            (Some(ns), r)
        }
        r => (None, r),
    };
    let p = |resource: &str, name: Option<&str>, sub: Option<&str>| {
        Route::Resource(ResourcePath {
            group: group.into(),
            version: version.into(),
            namespace: namespace.map(str::to_string),
            resource: resource.into(),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
            legacy_watch,
        })
    };
    match rest {
        [r] => p(r, None, None),
        [r, n] => p(r, Some(n), None),
        [r, n, s] => p(r, Some(n), Some(s)),
        _ => Route::NotFound,
    }
}

/// `namespaces/<name>/status` and `namespaces/<name>/finalize` address the namespace.
fn is_namespace_subresource(rest: &[&str]) -> bool {
    matches!(rest, ["status"] | ["finalize"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        let r = res("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("pods", Some("web"), Some("status"))
        );
        let r = res("/apis/apps/v1/deployments");
        assert_eq!(
            (r.group.as_str(), r.namespace.clone(), r.name.clone()),
            ("apps", None, None)
        );
        let r = res("/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace.clone()),
            ("namespaces", Some("kube-system"), None)
        );
        let r = res("/api/v1/namespaces/x/status");
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("namespaces", Some("x"), Some("status"))
        );
        let r = res("/api/v1/watch/namespaces/d/configmaps");
        assert!(r.legacy_watch);
        assert_eq!(r.namespace.as_deref(), Some("d"));
        assert_eq!(parse("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(
            parse("/api/v1"),
            Route::GroupVersion {
                group: "".into(),
                version: "v1".into()
            }
        );
        assert_eq!(parse("/nope"), Route::NotFound);
    }
}

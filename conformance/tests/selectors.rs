//! Label selectors, field selectors and paginated lists.

use std::collections::BTreeSet;

use k8rs_conformance::{names_with_prefix, Server};

/// Names (sorted, `sel-` objects only) of configmaps in `sel` matching `-l selector`.
fn select(server: &Server, selector: &str) -> Vec<String> {
    let out = server
        .kubectl(&["get", "cm", "-n", "sel", "-l", selector, "-o", "name"])
        .ok();
    names_with_prefix(&out, "sel-")
}

#[test]
fn label_selectors_every_form() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "sel"]).ok();
    let objects: &[(&str, &[&str])] = &[
        ("sel-1", &["a=x", "tier=fe"]),
        ("sel-2", &["a=y"]),
        ("sel-3", &["a=z"]),
        ("sel-4", &["b=1"]),
        ("sel-5", &["a=x", "b=1"]),
    ];
    for (name, labels) in objects {
        server.kubectl(&["create", "cm", name, "-n", "sel"]).ok();
        let mut args = vec!["label", "cm", name, "-n", "sel"];
        args.extend(labels.iter());
        server.kubectl(&args).ok();
    }

    let cases: &[(&str, &[&str])] = &[
        ("a=x", &["sel-1", "sel-5"]),
        ("a==x", &["sel-1", "sel-5"]),
        // != and notin also match objects without the key.
        ("a!=x", &["sel-2", "sel-3", "sel-4"]),
        ("a in (x,y)", &["sel-1", "sel-2", "sel-5"]),
        ("a in (x, y)", &["sel-1", "sel-2", "sel-5"]),
        ("a notin (x)", &["sel-2", "sel-3", "sel-4"]),
        ("a", &["sel-1", "sel-2", "sel-3", "sel-5"]),
        ("!a", &["sel-4"]),
        ("a=x,b=1", &["sel-5"]),
        ("a,!b", &["sel-1", "sel-2", "sel-3"]),
        ("a in (x),tier", &["sel-1"]),
        ("b=1,a notin (x,z)", &["sel-4"]),
        ("a=nothing", &[]),
    ];
    let mut failures = Vec::new();
    for (selector, want) in cases {
        let got = select(&server, selector);
        if got != *want {
            failures.push(format!("-l '{selector}': want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The raw API agrees (URL-encoded labelSelector).
    let resp =
        server.get("/api/v1/namespaces/sel/configmaps?labelSelector=a%20in%20%28x%2Cy%29%2C%21b");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let list = resp.json();
    assert_eq!(list["kind"], "ConfigMapList", "{list}");
    let names: BTreeSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, BTreeSet::from(["sel-1", "sel-2"]));

    // A malformed selector is rejected by the server.
    let resp = server.get("/api/v1/namespaces/sel/configmaps?labelSelector=a%20in%20%28x");
    resp.assert_status(400, "BadRequest");
}

#[test]
fn field_selectors() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "fs"]).ok();
    for n in ["f-a", "f-b", "f-c"] {
        server.kubectl(&["create", "cm", n, "-n", "fs"]).ok();
    }
    server
        .kubectl(&["create", "cm", "f-a", "-n", "default"])
        .ok();

    let out = server
        .kubectl(&[
            "get",
            "cm",
            "-n",
            "fs",
            "--field-selector",
            "metadata.name=f-b",
            "-o",
            "name",
        ])
        .ok();
    assert_eq!(names_with_prefix(&out, ""), ["f-b"]);
    let out = server
        .kubectl(&[
            "get",
            "cm",
            "-n",
            "fs",
            "--field-selector",
            "metadata.name!=f-b",
            "-o",
            "name",
        ])
        .ok();
    assert_eq!(names_with_prefix(&out, "f-"), ["f-a", "f-c"]);

    // Across namespaces, metadata.namespace works as a field too.
    let out = server
        .kubectl(&[
            "get",
            "cm",
            "-A",
            "--field-selector",
            "metadata.name=f-a,metadata.namespace=default",
            "-o",
            "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
        ])
        .ok();
    assert_eq!(out.trim(), "default/f-a");

    // Secrets: type is a selectable field.
    for n in ["o1", "o2"] {
        server
            .kubectl(&[
                "create",
                "secret",
                "generic",
                n,
                "-n",
                "fs",
                "--from-literal=k=v",
            ])
            .ok();
    }
    server
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "custom",
            "-n",
            "fs",
            "--type=example.com/custom",
            "--from-literal=k=v",
        ])
        .ok();
    let out = server
        .kubectl(&[
            "get",
            "secrets",
            "-n",
            "fs",
            "--field-selector",
            "type=Opaque",
            "-o",
            "name",
        ])
        .ok();
    assert_eq!(names_with_prefix(&out, ""), ["o1", "o2"]);
    let out = server
        .kubectl(&[
            "get",
            "secrets",
            "-n",
            "fs",
            "--field-selector",
            "type=example.com/custom",
            "-o",
            "name",
        ])
        .ok();
    assert_eq!(names_with_prefix(&out, ""), ["custom"]);
    let out = server
        .kubectl(&[
            "get",
            "secrets",
            "-n",
            "fs",
            "--field-selector",
            "type!=Opaque,metadata.name!=o1",
            "-o",
            "name",
        ])
        .ok();
    assert_eq!(names_with_prefix(&out, ""), ["custom"]);

    // Label and field selectors together.
    server
        .kubectl(&["label", "secret", "o2", "-n", "fs", "pick=me"])
        .ok();
    let out = server
        .kubectl(&[
            "get",
            "secrets",
            "-n",
            "fs",
            "-l",
            "pick=me",
            "--field-selector",
            "type=Opaque",
            "-o",
            "name",
        ])
        .ok();
    assert_eq!(names_with_prefix(&out, ""), ["o2"]);

    // Unsupported field labels are a 400 from the server.
    let err = server
        .kubectl(&["get", "cm", "-n", "fs", "--field-selector", "data.x=y"])
        .fails();
    assert!(err.contains("BadRequest"), "{err}");
    let resp = server.get("/api/v1/namespaces/fs/configmaps?fieldSelector=data.x%3Dy");
    resp.assert_status(400, "BadRequest");
}

#[test]
fn chunked_list_returns_everything() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "chunk"]).ok();
    let want: Vec<String> = (0..7).map(|i| format!("chunk-{i}")).collect();
    for n in &want {
        server.kubectl(&["create", "cm", n, "-n", "chunk"]).ok();
    }

    let out = server.kubectl(&[
        "get",
        "cm",
        "-n",
        "chunk",
        "--chunk-size=2",
        "-o",
        "name",
        "-v=6",
    ]);
    let names = names_with_prefix(&out.ok(), "chunk-");
    assert_eq!(names, want);
    assert!(
        out.stderr.contains("limit=2") && out.stderr.contains("continue="),
        "kubectl should have paged with limit=2 and continue tokens:\n{}",
        out.stderr
    );
    // Table output pages too.
    let table = server
        .kubectl(&["get", "cm", "-n", "chunk", "--chunk-size=2"])
        .ok();
    for n in &want {
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{n} "))),
            "{table}"
        );
    }

    // Raw paging: limit + continue.
    let mut seen = Vec::new();
    let mut cont = String::new();
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/namespaces/chunk/configmaps?limit=2".to_string();
        if !cont.is_empty() {
            path.push_str("&continue=");
            path.push_str(&urlencode(&cont));
        }
        let resp = server.get(&path);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let page = resp.json();
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2, "page larger than limit: {page}");
        if pages == 0 {
            assert_eq!(items.len(), 2, "first page should be full: {page}");
            assert!(
                page["metadata"]["continue"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty()),
                "first page needs a continue token: {page}"
            );
        }
        seen.extend(
            items
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap().to_string()),
        );
        pages += 1;
        assert!(pages <= 10, "too many pages");
        match page["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => cont = c.to_string(),
            _ => break,
        }
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "duplicates across pages: {seen:?}"
    );
    let chunk_names: Vec<String> = unique
        .into_iter()
        .filter(|n| n.starts_with("chunk-"))
        .collect();
    assert_eq!(chunk_names, want);
    assert!(
        pages >= 4,
        "7 objects at limit=2 need >= 4 pages, got {pages}"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

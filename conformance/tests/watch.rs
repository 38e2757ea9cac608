//! Watches through `kubectl get -w` and the raw API.

use std::process::Command;

use k8rs_conformance::{rv_u64, Background, Server, WAIT_TIMEOUT};

/// A watch-events table line: `EVENT  NAME  ...`.
fn is_event(line: &str, event: &str, name: &str) -> bool {
    let mut cols = line.split_whitespace();
    cols.next() == Some(event) && cols.next() == Some(name)
}

#[test]
fn kubectl_get_watch_output_watch_events() {
    let server = Server::start();
    server.kubectl(&["create", "ns", "w"]).ok();
    server
        .kubectl(&["create", "cm", "w-pre", "-n", "w", "--from-literal=a=1"])
        .ok();

    let mut watch = server.kubectl_bg(&["get", "cm", "-n", "w", "-w", "--output-watch-events"]);
    // The initial list is reported as ADDED events.
    watch.wait_for_line("ADDED w-pre", WAIT_TIMEOUT, |l| {
        is_event(l, "ADDED", "w-pre")
    });

    server.kubectl(&["create", "cm", "w-1", "-n", "w"]).ok();
    watch.wait_for_line("ADDED w-1", WAIT_TIMEOUT, |l| is_event(l, "ADDED", "w-1"));

    server
        .kubectl(&["label", "cm", "w-1", "-n", "w", "x=y"])
        .ok();
    watch.wait_for_line("MODIFIED w-1", WAIT_TIMEOUT, |l| {
        is_event(l, "MODIFIED", "w-1")
    });

    server
        .kubectl(&[
            "patch",
            "cm",
            "w-pre",
            "-n",
            "w",
            "--type=merge",
            "-p",
            r#"{"data":{"a":"2"}}"#,
        ])
        .ok();
    watch.wait_for_line("MODIFIED w-pre", WAIT_TIMEOUT, |l| {
        is_event(l, "MODIFIED", "w-pre")
    });

    server.kubectl(&["delete", "cm", "w-1", "-n", "w"]).ok();
    watch.wait_for_line("DELETED w-1", WAIT_TIMEOUT, |l| {
        is_event(l, "DELETED", "w-1")
    });

    // Objects of another namespace don't show up.
    server
        .kubectl(&["create", "cm", "elsewhere", "-n", "default"])
        .ok();
    server.kubectl(&["create", "cm", "w-2", "-n", "w"]).ok();
    watch.wait_for_line("ADDED w-2", WAIT_TIMEOUT, |l| is_event(l, "ADDED", "w-2"));
    let lines = watch.lines();
    assert!(
        !lines.iter().any(|l| l.contains("elsewhere")),
        "watch on namespace w saw an object of default:\n{}",
        lines.join("\n")
    );
    // Events arrive in order.
    let pos = |ev: &str, n: &str| {
        lines
            .iter()
            .position(|l| is_event(l, ev, n))
            .unwrap_or_else(|| panic!("no {ev} {n}"))
    };
    assert!(pos("ADDED", "w-1") < pos("MODIFIED", "w-1"));
    assert!(pos("MODIFIED", "w-1") < pos("DELETED", "w-1"));
    assert!(pos("DELETED", "w-1") < pos("ADDED", "w-2"));
    watch.kill();
}

#[test]
fn kubectl_watch_with_label_selector_and_json() {
    let server = Server::start();
    let mut watch = server.kubectl_bg(&[
        "get",
        "cm",
        "-l",
        "watched=yes",
        "-w",
        "--output-watch-events",
        "-o",
        "json",
        "-v=6",
    ]);
    // kubectl logs the watch request once the server answered its headers.
    watch.wait_for_stderr("the watch request", WAIT_TIMEOUT, |e| {
        e.contains("watch=true")
    });
    server.kubectl(&["create", "cm", "ignored"]).ok();
    server.kubectl(&["create", "cm", "picked"]).ok();
    server
        .kubectl(&["label", "cm", "picked", "watched=yes"])
        .ok();
    // Once the label matches, the object enters the selection (upstream
    // reports it as ADDED).
    watch.wait_for_line("an event of picked", WAIT_TIMEOUT, |l| {
        l.contains("\"picked\"")
    });
    server.kubectl(&["delete", "cm", "picked"]).ok();
    watch.wait_for_line("\"type\": \"DELETED\"", WAIT_TIMEOUT, |l| {
        l.contains("\"type\": \"DELETED\"") || l.contains("\"type\":\"DELETED\"")
    });
    let lines = watch.lines().join("\n");
    assert!(
        !lines.contains("\"ignored\""),
        "unlabelled object leaked into the watch:\n{lines}"
    );
    assert!(
        lines.contains("\"type\": \"ADDED\"") || lines.contains("\"type\":\"ADDED\""),
        "labelling into the selection is an ADDED event:\n{lines}"
    );
}

#[test]
fn raw_watch_from_resource_version() {
    let server = Server::start();
    let start = server.kubectl_json(&["create", "cm", "rv-0"]);
    let start_rv = rv_u64(&start);
    server.kubectl(&["create", "cm", "rv-1"]).ok();
    server.kubectl(&["create", "cm", "rv-2"]).ok();
    server.kubectl(&["delete", "cm", "rv-1"]).ok();

    // A streaming raw watch (curl -N) from start_rv must replay the later events.
    let creds = server.credentials();
    let mut cmd = Command::new("curl");
    cmd.args(["-sSN", "--max-time", "30"])
        .arg("--cacert")
        .arg(&creds.ca)
        .arg("--cert")
        .arg(&creds.cert)
        .arg("--key")
        .arg(&creds.key)
        .arg(format!(
            "{}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={start_rv}",
            server.url()
        ));
    let mut w = Background::spawn(cmd);
    let ev = |ty: &'static str, name: &'static str| {
        move |l: &str| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["type"] == ty && v["object"]["metadata"]["name"] == name)
        }
    };
    w.wait_for_line("ADDED rv-1", WAIT_TIMEOUT, ev("ADDED", "rv-1"));
    w.wait_for_line("ADDED rv-2", WAIT_TIMEOUT, ev("ADDED", "rv-2"));
    w.wait_for_line("DELETED rv-1", WAIT_TIMEOUT, ev("DELETED", "rv-1"));
    // And then keeps streaming live events.
    server.kubectl(&["create", "cm", "rv-3"]).ok();
    w.wait_for_line("ADDED rv-3", WAIT_TIMEOUT, ev("ADDED", "rv-3"));
    let lines = w.lines();
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad watch line {l:?}: {e}")))
        .collect();
    assert!(
        !events
            .iter()
            .any(|e| e["object"]["metadata"]["name"] == "rv-0"),
        "events at or before resourceVersion {start_rv} must not be replayed: {lines:?}"
    );
    // resourceVersions strictly increase along the stream.
    let rvs: Vec<u64> = events.iter().map(|e| rv_u64(&e["object"])).collect();
    assert!(
        rvs.windows(2).all(|w| w[0] < w[1]),
        "watch resourceVersions not increasing: {rvs:?}"
    );
    assert!(rvs.iter().all(|&rv| rv > start_rv), "{rvs:?} vs {start_rv}");
    for e in &events {
        assert_eq!(
            e["object"]["kind"], "ConfigMap",
            "watch objects carry kind: {e}"
        );
        assert_eq!(
            e["object"]["apiVersion"], "v1",
            "watch objects carry apiVersion: {e}"
        );
    }
}

/// The events of a finished (timeoutSeconds) raw watch, one JSON object per line.
fn watch_events(server: &Server, query: &str) -> Vec<serde_json::Value> {
    let resp = server
        .http(
            "GET",
            &format!("/api/v1/namespaces/default/configmaps?watch=1&{query}"),
        )
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad watch line {l:?}: {e}")))
        .collect()
}

#[test]
fn watch_list_sends_initial_state_then_a_bookmark() {
    let server = Server::start();
    let mut last_rv = 0;
    for name in ["wl-a", "wl-b", "wl-c"] {
        last_rv = rv_u64(&server.kubectl_json(&["create", "cm", name]));
    }
    let events = watch_events(
        &server,
        "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
    );
    let added: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "ADDED")
        .filter_map(|e| e["object"]["metadata"]["name"].as_str())
        .collect();
    assert!(
        ["wl-a", "wl-b", "wl-c"].iter().all(|n| added.contains(n)),
        "{events:?}"
    );
    let end = events
        .iter()
        .position(|e| {
            e["type"] == "BOOKMARK"
                && e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
        })
        .unwrap_or_else(|| panic!("no initial-events-end bookmark: {events:?}"));
    assert!(
        events[..end].iter().all(|e| e["type"] == "ADDED"),
        "initial events come before the bookmark: {events:?}"
    );
    assert_eq!(events[end]["object"]["kind"], "ConfigMap");
    assert!(
        rv_u64(&events[end]["object"]) >= last_rv,
        "the bookmark is at least as fresh as the last write ({last_rv}): {:?}",
        events[end]
    );
}

#[test]
fn watch_options_are_validated_like_upstream() {
    let server = Server::start();
    // sendInitialEvents without allowWatchBookmarks: 422 on ListOptions.
    let st = server
        .http(
            "GET",
            "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
        )
        .send()
        .assert_status(422, "Invalid");
    assert_eq!(st["details"]["kind"], "ListOptions", "{st}");
    assert_eq!(
        st["details"]["causes"][0]["field"], "allowWatchBookmarks",
        "{st}"
    );
    // resourceVersionMatch on a list needs a resourceVersion.
    server
        .http(
            "GET",
            "/api/v1/namespaces/default/configmaps?resourceVersionMatch=NotOlderThan",
        )
        .send()
        .assert_status(422, "Invalid");
}

#[test]
fn watch_from_a_too_old_resource_version_is_an_expired_error_event() {
    let mut server = Server::start();
    let old = rv_u64(&server.kubectl_json(&["create", "cm", "old-1"]));
    server.kubectl(&["create", "cm", "old-2"]).ok();
    // After a restart the watch cache starts at the revision storage has then: a watch
    // from before it cannot be served and must relist.
    server.restart();
    let events = watch_events(&server, &format!("resourceVersion={old}&timeoutSeconds=1"));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["kind"], "Status");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
}

//! Durability: objects survive `kill -9` + restart on the same data dir,
//! with the embedded store and with etcd; resourceVersions keep increasing.

use std::collections::BTreeMap;

use k8rs_conformance::{names_with_prefix, rv_u64, Etcd, Server, ServerOpts};
use serde_json::Value;

const N: usize = 20;

fn name(i: usize) -> String {
    format!("durable-{i:02}")
}

/// Create N configmaps, kill -9, restart, check everything survived.
/// Returns the names' uids for extra checks by the caller.
fn create_kill_restart_check(server: &mut Server) -> BTreeMap<String, String> {
    let mut max_rv = 0;
    for i in 0..N {
        let obj = server
            .kubectl(&[
                "create",
                "configmap",
                &name(i),
                &format!("--from-literal=i={i}"),
                "-o",
                "json",
            ])
            .json();
        max_rv = max_rv.max(rv_u64(&obj));
    }
    let before: Value = server.kubectl_json(&["get", "cm"]);
    let list_rv: u64 = before["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let uids: BTreeMap<String, String> = before["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_string(),
                o["metadata"]["uid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for o in before["items"].as_array().unwrap() {
        max_rv = max_rv.max(rv_u64(o));
    }

    let pid = server.pid();
    server.kill9();
    server.restart();
    assert_ne!(server.pid(), pid, "a new process must be serving");

    let out = server.kubectl(&["get", "cm", "-o", "name"]).ok();
    let want: Vec<String> = (0..N).map(name).collect();
    assert_eq!(
        names_with_prefix(&out, "durable-"),
        want,
        "after restart:\n{out}"
    );
    let after = server.kubectl_json(&["get", "cm"]);
    for o in after["items"].as_array().unwrap() {
        let n = o["metadata"]["name"].as_str().unwrap();
        if let Some(i) = n.strip_prefix("durable-") {
            let i: usize = i.parse().unwrap();
            assert_eq!(o["data"]["i"], i.to_string(), "{o}");
            assert_eq!(
                uids.get(n).map(String::as_str),
                o["metadata"]["uid"].as_str(),
                "uid of {n} changed across restart"
            );
        }
    }

    let new = server
        .kubectl(&["create", "configmap", "after-restart", "-o", "json"])
        .json();
    let new_rv = rv_u64(&new);
    assert!(
        new_rv > max_rv && new_rv > list_rv,
        "resourceVersion after restart ({new_rv}) must exceed all earlier ones (max {max_rv}, list {list_rv})"
    );
    // Updates of surviving objects also get newer resourceVersions.
    let patched = server
        .kubectl(&[
            "patch",
            "cm",
            &name(0),
            "--type=merge",
            "-p",
            r#"{"data":{"i":"patched"}}"#,
            "-o",
            "json",
        ])
        .json();
    assert!(rv_u64(&patched) > new_rv, "{patched}");
    uids
}

#[test]
fn embedded_store_survives_kill9() {
    let mut server = Server::start();
    create_kill_restart_check(&mut server);
    // Built-in namespaces are still there exactly once, not re-created.
    let ns = server.kubectl(&["get", "ns", "-o", "name"]).ok();
    assert_eq!(
        ns.lines().filter(|l| *l == "namespace/default").count(),
        1,
        "{ns}"
    );
    // A second, graceful restart keeps everything too.
    server.restart();
    let out = server.kubectl(&["get", "cm", "-o", "name"]).ok();
    assert_eq!(names_with_prefix(&out, "durable-").len(), N, "{out}");
    assert!(out.lines().any(|l| l == "configmap/after-restart"), "{out}");
}

#[test]
fn etcd_backend_survives_kill9() {
    let etcd = Etcd::start();
    let mut server = Server::start_with(ServerOpts::etcd(etcd.url()));
    create_kill_restart_check(&mut server);

    // The objects really live in etcd, not in the data dir.
    let keys = etcd.keys();
    for i in 0..N {
        assert!(
            keys.iter().any(|k| k.contains(&name(i))),
            "no etcd key for {} among {} keys: {:?}",
            name(i),
            keys.len(),
            &keys[..keys.len().min(50)]
        );
    }

    // A fresh server (new data dir) on the same etcd sees them too.
    drop(server);
    let other = Server::start_with(ServerOpts::etcd(etcd.url()));
    let out = other.kubectl(&["get", "cm", "-o", "name"]).ok();
    assert_eq!(names_with_prefix(&out, "durable-").len(), N, "{out}");
}

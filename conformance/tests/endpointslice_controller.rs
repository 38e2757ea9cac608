//! The EndpointSlice and Endpoints controllers: a Service with a selector gets slices and
//! an Endpoints object listing its pods (addresses set through pods/status, as a kubelet
//! would, since there are no real nodes), with conditions, node, zone and resolved ports.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::{json, Value};

const NODE: &str = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1",
  "labels":{"topology.kubernetes.io/zone":"zone-a"}}}"#;

const SERVICE: &str = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":{"tier":"front"}},
  "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http"}]}}"#;

fn pod(name: &str, finalizer: bool) -> String {
    let finalizers = if finalizer {
        json!(["example.com/hold"])
    } else {
        json!([])
    };
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}, "finalizers": finalizers},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox",
            "ports": [{"name": "http", "containerPort": 8080}]}]}})
    .to_string()
}

/// What a kubelet would report: an IP, Running, and the Ready condition.
fn set_status(server: &Server, name: &str, ip: &str, ready: bool) {
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    server
        .patch_status(&["pod", name], &status.to_string())
        .ok();
}

fn slices(server: &Server, service: &str) -> Vec<Value> {
    let list = server.kubectl_json(&[
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={service}"),
    ]);
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The endpoints of the only slice, by pod name.
fn endpoints_by_pod(slice: &Value) -> Vec<(String, Value)> {
    let mut eps: Vec<(String, Value)> = slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["targetRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e.clone(),
            )
        })
        .collect();
    eps.sort_by(|a, b| a.0.cmp(&b.0));
    eps
}

#[test]
fn service_with_selector_gets_endpointslice_listing_ready_pods() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], NODE).ok();
    server.kubectl_stdin(&["create", "-f", "-"], SERVICE).ok();
    for (name, hold) in [("a", false), ("b", true), ("c", false)] {
        server
            .kubectl_stdin(&["create", "-f", "-"], &pod(name, hold))
            .ok();
    }
    set_status(&server, "a", "10.1.0.1", true);
    set_status(&server, "b", "10.1.0.2", true);
    set_status(&server, "c", "10.1.0.3", false);
    let svc = server.kubectl_json(&["get", "service", "web"]);

    let slice = poll_until(WAIT_TIMEOUT, "a slice with three endpoints", || {
        let s = slices(&server, "web");
        (s.len() == 1 && s[0]["endpoints"].as_array().map(Vec::len) == Some(3))
            .then(|| s[0].clone())
    });
    assert_eq!(slice["addressType"], "IPv4", "{slice}");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["labels"]["tier"], "front", "{slice}");
    let owner = &slice["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Service");
    assert_eq!(owner["uid"], svc["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    // The named targetPort resolves to the pods' container port.
    assert_eq!(
        slice["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert!(
        slice["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .is_string()
    );
    let eps = endpoints_by_pod(&slice);
    let ready: Vec<(&str, &Value)> = eps
        .iter()
        .map(|(n, e)| (n.as_str(), &e["conditions"]["ready"]))
        .collect();
    assert_eq!(
        ready,
        vec![
            ("a", &json!(true)),
            ("b", &json!(true)),
            ("c", &json!(false))
        ]
    );
    let (_, a) = &eps[0];
    assert_eq!(a["addresses"], json!(["10.1.0.1"]));
    assert_eq!(a["nodeName"], "n1");
    assert_eq!(a["zone"], "zone-a");
    assert_eq!(a["targetRef"]["kind"], "Pod");
    assert_eq!(a["conditions"]["serving"], true);
    assert_eq!(a["conditions"]["terminating"], false);

    // The legacy Endpoints object splits ready from not-ready addresses.
    let ep = poll_until(WAIT_TIMEOUT, "endpoints web", || {
        let out = server.kubectl(&["get", "endpoints", "web", "-o", "json"]);
        out.success().then(|| out.json())
    });
    let ips = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["ip"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        ips(&ep["subsets"][0]["addresses"]),
        ["10.1.0.1", "10.1.0.2"]
    );
    assert_eq!(ips(&ep["subsets"][0]["notReadyAddresses"]), ["10.1.0.3"]);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);
    assert_eq!(ep["metadata"]["labels"]["tier"], "front");
    assert!(
        ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .is_string()
    );

    // A terminating pod stays in the slice as terminating (serving, not ready) and leaves
    // the Endpoints object.
    server.kubectl(&["delete", "pod", "b", "--wait=false"]).ok();
    poll_until(WAIT_TIMEOUT, "b terminating in the slice", || {
        let s = slices(&server, "web");
        let eps = endpoints_by_pod(s.first()?);
        let b = &eps.iter().find(|(n, _)| n == "b")?.1;
        (b["conditions"] == json!({"ready": false, "serving": true, "terminating": true}))
            .then_some(())
    });
    poll_until(WAIT_TIMEOUT, "b out of the endpoints", || {
        let ep = server.kubectl_json(&["get", "endpoints", "web"]);
        (ips(&ep["subsets"][0]["addresses"]) == ["10.1.0.1"]).then_some(())
    });

    // Readiness changes move addresses; a pod whose labels stop matching leaves.
    set_status(&server, "c", "10.1.0.3", true);
    server
        .kubectl(&["label", "pod", "a", "app=other", "--overwrite"])
        .ok();
    poll_until(WAIT_TIMEOUT, "only c ready in the endpoints", || {
        let ep = server.kubectl_json(&["get", "endpoints", "web"]);
        (ips(&ep["subsets"][0]["addresses"]) == ["10.1.0.3"]
            && ep["subsets"][0]["notReadyAddresses"].is_null())
        .then_some(())
    });
    poll_until(WAIT_TIMEOUT, "a out of the slice", || {
        let s = slices(&server, "web");
        let names: Vec<String> = endpoints_by_pod(s.first()?)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        (names == ["b", "c"]).then_some(())
    });
    server
        .kubectl(&[
            "patch",
            "pod",
            "b",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ])
        .ok();

    // The Endpoints object goes with its Service.
    server.kubectl(&["delete", "service", "web"]).ok();
    poll_until(WAIT_TIMEOUT, "endpoints web deleted", || {
        let out = server.kubectl(&["get", "endpoints", "web"]);
        (!out.success()).then_some(())
    });
}

#[test]
fn service_without_pods_gets_placeholder_slice() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], SERVICE).ok();
    let slice = poll_until(WAIT_TIMEOUT, "a placeholder slice", || {
        slices(&server, "web").first().cloned()
    });
    let empty = |v: &Value| v.as_array().is_none_or(Vec::is_empty);
    assert!(empty(&slice["endpoints"]), "{slice}");
    assert!(empty(&slice["ports"]), "{slice}");
    // With no pods the Endpoints object exists, empty.
    poll_until(WAIT_TIMEOUT, "empty endpoints web", || {
        let out = server.kubectl(&["get", "endpoints", "web", "-o", "json"]);
        (out.success() && out.json()["subsets"].as_array().is_none_or(Vec::is_empty)).then_some(())
    });
}

#[test]
fn selectorless_service_endpoints_are_mirrored_to_slices() {
    let server = Server::start();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"ext"},
              "spec":{"ports":[{"name":"db","port":5432}]}}"#,
        )
        .ok();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"ext","labels":{"team":"db"}},
              "subsets":[{"addresses":[{"ip":"192.0.2.10"}],"notReadyAddresses":[{"ip":"192.0.2.11"}],
                "ports":[{"name":"db","port":5432,"protocol":"TCP"}]}]}"#,
        )
        .ok();
    let slice = poll_until(WAIT_TIMEOUT, "a mirrored slice", || {
        slices(&server, "ext").first().cloned()
    });
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslicemirroring-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["labels"]["team"], "db");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["ports"],
        json!([{"name": "db", "port": 5432, "protocol": "TCP"}])
    );
    let addrs: Vec<(Value, Value)> = slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["addresses"][0].clone(), e["conditions"]["ready"].clone()))
        .collect();
    assert_eq!(
        addrs,
        vec![
            (json!("192.0.2.10"), json!(true)),
            (json!("192.0.2.11"), json!(false))
        ]
    );

    // Removing the Endpoints removes the mirror.
    server.kubectl(&["delete", "endpoints", "ext"]).ok();
    poll_until(WAIT_TIMEOUT, "the mirrored slice gone", || {
        slices(&server, "ext").is_empty().then_some(())
    });
}

//! Defaulting: objects come back with the fields kube-apiserver v1.33 fills in, services
//! get cluster IPs and node ports that are never handed out twice, across restarts too.

use std::net::Ipv4Addr;

use k8rs_conformance::Server;
use serde_json::{json, Value};

fn in_service_cidr(ip: &str) -> bool {
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|ip| u32::from(ip) & 0xFFF0_0000 == u32::from(Ipv4Addr::new(10, 96, 0, 0)))
}

fn cluster_ip(svc: &Value) -> String {
    let ip = svc["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        in_service_cidr(&ip),
        "clusterIP {ip:?} not in 10.96.0.0/12: {svc}"
    );
    assert_eq!(svc["spec"]["clusterIPs"], json!([ip]), "{svc}");
    ip
}

#[test]
fn bare_pod_gets_upstream_defaults() {
    let server = Server::start();
    let pod = server
        .kubectl_stdin(
            &["create", "-f", "-", "-o", "json"],
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bare\nspec:\n  containers:\n  - name: web\n    image: nginx\n",
        )
        .json();
    // The admission plugins' part: a service account and its token volume, priority,
    // and the default NoExecute tolerations. The volume's suffix is random.
    let volume = pod["spec"]["volumes"][0]["name"]
        .as_str()
        .unwrap_or_default();
    assert!(volume.starts_with("kube-api-access-"), "{pod}");
    let toleration = |key: &str| json!({"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300});
    assert_eq!(
        pod["spec"],
        json!({
            "containers": [{
                "image": "nginx",
                "imagePullPolicy": "Always",
                "name": "web",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "volumeMounts": [{
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "name": volume,
                    "readOnly": true,
                }],
            }],
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": "default",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": [
                toleration("node.kubernetes.io/not-ready"),
                toleration("node.kubernetes.io/unreachable"),
            ],
            "volumes": [{
                "name": volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}},
                    ],
                },
            }],
        }),
        "{pod}"
    );
    assert_eq!(pod["status"]["phase"], "Pending", "{pod}");
    assert_eq!(pod["status"]["qosClass"], "BestEffort", "{pod}");
    // What is stored is what was answered.
    let got = server.kubectl_json(&["get", "pod", "bare"]);
    assert_eq!(got["spec"], pod["spec"]);
}

#[test]
fn deployment_gets_upstream_defaults() {
    let server = Server::start();
    let d = server
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=busybox",
            "-o",
            "json",
        ])
        .json();
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 1, "{d}");
    assert_eq!(spec["revisionHistoryLimit"], 10, "{d}");
    assert_eq!(spec["progressDeadlineSeconds"], 600, "{d}");
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
        "{d}"
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always", "{d}");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst", "{d}");
    assert_eq!(pod["schedulerName"], "default-scheduler", "{d}");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30, "{d}");
    assert_eq!(pod["securityContext"], json!({}), "{d}");
    // Templates do not get the pod-only defaults.
    assert!(pod.get("enableServiceLinks").is_none(), "{d}");
    assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always", "{d}");
    assert_eq!(
        pod["containers"][0]["terminationMessagePolicy"], "File",
        "{d}"
    );
}

#[test]
fn services_get_unique_cluster_ips_across_restarts() {
    let mut server = Server::start();

    let k = server.kubectl_json(&["get", "service", "kubernetes", "-n", "default"]);
    assert_eq!(k["spec"]["clusterIP"], "10.96.0.1", "{k}");
    assert_eq!(k["spec"]["ports"][0]["port"], 443, "{k}");
    assert_eq!(k["spec"]["ports"][0]["targetPort"], server.port(), "{k}");

    let s1 = server
        .kubectl(&[
            "create",
            "service",
            "clusterip",
            "s1",
            "--tcp=80:8080",
            "-o",
            "json",
        ])
        .json();
    let ip1 = cluster_ip(&s1);
    let spec = &s1["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][0]["targetPort"], 8080);

    let s2 = server
        .kubectl(&[
            "create",
            "service",
            "clusterip",
            "s2",
            "--tcp=80",
            "-o",
            "json",
        ])
        .json();
    let ip2 = cluster_ip(&s2);
    assert_ne!(ip1, ip2);
    assert_ne!(ip2, "10.96.0.1");

    // Each allocated IP is an IPAddress object owned by its service.
    let addr = server.kubectl_json(&["get", "ipaddresses.networking.k8s.io", &ip1]);
    assert_eq!(
        addr["spec"]["parentRef"],
        json!({"group": "", "resource": "services", "namespace": "default", "name": "s1"})
    );

    // A requested IP that is taken is refused as upstream refuses it.
    let out = server
        .kubectl(&[
            "create",
            "service",
            "clusterip",
            "s3",
            "--tcp=80",
            &format!("--clusterip={ip1}"),
        ])
        .fails();
    assert!(out.contains("provided IP is already allocated"), "{out}");

    server.kill9();
    server.restart();
    let mut seen = vec!["10.96.0.1".to_string(), ip1.clone(), ip2.clone()];
    for i in 0..5 {
        let s = server
            .kubectl(&[
                "create",
                "service",
                "clusterip",
                &format!("after-{i}"),
                "--tcp=80",
                "-o",
                "json",
            ])
            .json();
        let ip = cluster_ip(&s);
        assert!(!seen.contains(&ip), "{ip} handed out twice ({seen:?})");
        seen.push(ip);
    }

    // Deleting a service gives its IP back: it can be requested again.
    server.kubectl(&["delete", "service", "s1"]).ok();
    let s = server
        .kubectl(&[
            "create",
            "service",
            "clusterip",
            "s1again",
            "--tcp=80",
            &format!("--clusterip={ip1}"),
            "-o",
            "json",
        ])
        .json();
    assert_eq!(cluster_ip(&s), ip1);

    // Headless services keep `None`.
    let h = server
        .kubectl(&[
            "create",
            "service",
            "clusterip",
            "headless",
            "--clusterip=None",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(h["spec"]["clusterIP"], "None", "{h}");
}

#[test]
fn node_port_services_get_node_ports() {
    let server = Server::start();
    let s = server
        .kubectl(&[
            "create",
            "service",
            "nodeport",
            "np",
            "--tcp=80:8080",
            "-o",
            "json",
        ])
        .json();
    cluster_ip(&s);
    let port = s["spec"]["ports"][0]["nodePort"].as_u64().unwrap_or(0);
    assert!((30000..=32767).contains(&port), "{s}");
    assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster", "{s}");

    // The same port again is refused; another one is given a different port.
    let out = server
        .kubectl(&[
            "create",
            "service",
            "nodeport",
            "np2",
            "--tcp=80",
            &format!("--node-port={port}"),
        ])
        .fails();
    assert!(out.contains("provided port is already allocated"), "{out}");
    let s2 = server
        .kubectl(&[
            "create", "service", "nodeport", "np3", "--tcp=80", "-o", "json",
        ])
        .json();
    let port2 = s2["spec"]["ports"][0]["nodePort"].as_u64().unwrap_or(0);
    assert!((30000..=32767).contains(&port2) && port2 != port, "{s2}");

    // Switching to ClusterIP drops and releases the node port.
    server
        .kubectl(&[
            "patch",
            "service",
            "np",
            "-p",
            r#"{"spec":{"type":"ClusterIP"}}"#,
        ])
        .ok();
    let s = server.kubectl_json(&["get", "service", "np"]);
    assert!(s["spec"]["ports"][0].get("nodePort").is_none(), "{s}");
    assert!(s["spec"].get("externalTrafficPolicy").is_none(), "{s}");
    server
        .kubectl(&[
            "create",
            "service",
            "nodeport",
            "np4",
            "--tcp=80",
            &format!("--node-port={port}"),
        ])
        .ok();
}

#[test]
fn the_kubernetes_service_has_this_servers_endpoints() {
    let server = Server::start();
    let ep = server.kubectl_json(&["get", "endpoints", "kubernetes"]);
    assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "127.0.0.1", "{ep}");
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], server.port(), "{ep}");
    let slice = server.kubectl_json(&["get", "endpointslice", "kubernetes"]);
    assert_eq!(
        slice["endpoints"][0]["addresses"][0], "127.0.0.1",
        "{slice}"
    );
    assert_eq!(slice["ports"][0]["name"], "https");
    assert_eq!(
        slice["metadata"]["labels"]["kubernetes.io/service-name"],
        "kubernetes"
    );
}

/// The stored spec of each kind equals upstream v1.33's (golden files in
/// conformance/golden/defaults, generated values replaced by placeholders).
#[test]
fn workload_kinds_get_upstream_defaults() {
    let server = Server::start();
    let golden = |kind: &str| -> Value {
        let path = k8rs_conformance::workspace_root()
            .join("conformance/golden/defaults")
            .join(format!("{kind}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let spec = |kind: &str, name: &str| server.kubectl_json(&["get", kind, name])["spec"].clone();

    server
        .kubectl(&["create", "deployment", "web", "--image=busybox"])
        .ok();
    assert_eq!(spec("deployment", "web"), golden("deployment"));

    server
        .kubectl(&["create", "job", "j", "--image=busybox"])
        .ok();
    let mut job = spec("job", "j");
    let uid = job["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"].clone();
    assert!(uid.as_str().is_some_and(|u| u.len() == 36), "{job}");
    for path in ["/selector/matchLabels", "/template/metadata/labels"] {
        let Some(labels) = job.pointer_mut(path) else {
            panic!("no {path}: {uid}");
        };
        for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
            if labels.get(key) == Some(&uid) {
                labels[key] = json!("UID");
            }
        }
    }
    assert_eq!(job, golden("job"));

    server
        .kubectl(&[
            "create",
            "cronjob",
            "c",
            "--image=busybox",
            "--schedule=*/5 * * * *",
        ])
        .ok();
    assert_eq!(spec("cronjob", "c"), golden("cronjob"));

    server
        .kubectl(&["create", "service", "clusterip", "s", "--tcp=80:8080"])
        .ok();
    let mut svc = spec("service", "s");
    assert!(
        in_service_cidr(svc["clusterIP"].as_str().unwrap_or_default()),
        "{svc}"
    );
    svc["clusterIP"] = json!("CLUSTER_IP");
    svc["clusterIPs"] = json!(["CLUSTER_IP"]);
    assert_eq!(svc, golden("service"));

    for (kind, name, extra) in [
        ("StatefulSet", "web", json!({"serviceName": "web"})),
        ("DaemonSet", "ds", json!({})),
    ] {
        let mut s = json!({"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}});
        for (k, v) in extra.as_object().into_iter().flatten() {
            s[k] = v.clone();
        }
        let obj =
            json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": s});
        server
            .kubectl_stdin(&["create", "-f", "-"], &obj.to_string())
            .ok();
        let lower = kind.to_ascii_lowercase();
        assert_eq!(spec(&lower, name), golden(&lower), "{kind}");
    }
}

/// `--service-cluster-ip-range` and `--service-node-port-range` move the ranges, the
/// `kubernetes` Service's address with them.
#[test]
fn service_ranges_are_configurable() {
    let server = Server::start_with(k8rs_conformance::ServerOpts {
        extra_args: vec![
            "--service-cluster-ip-range=10.200.0.0/16".into(),
            "--service-node-port-range=31000-31100".into(),
        ],
        ..Default::default()
    });
    let k = server.kubectl_json(&["get", "svc", "kubernetes"]);
    assert_eq!(k["spec"]["clusterIP"], "10.200.0.1", "{k}");
    server
        .kubectl(&["create", "service", "nodeport", "np", "--tcp=80:80"])
        .ok();
    let svc = server.kubectl_json(&["get", "svc", "np"]);
    let ip: Ipv4Addr = svc["spec"]["clusterIP"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    assert_eq!(ip.octets()[..2], [10, 200], "{svc}");
    let port = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap_or(0);
    assert!((31000..=31100).contains(&port), "{svc}");
    let err = server
        .kubectl(&[
            "create",
            "service",
            "nodeport",
            "out",
            "--tcp=80:80",
            "--node-port=30001",
        ])
        .fails();
    assert!(
        err.contains(
            "provided port is not in the valid range. The range of valid ports is 31000-31100"
        ),
        "{err}"
    );
}

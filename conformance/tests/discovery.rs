//! Discovery: `kubectl version`, `api-resources`, `api-versions`, the
//! built-in namespaces.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use k8rs_conformance::{parse_table, Row, Server, KUBECTL_1_33};

/// short name -> resource (plural) it must belong to, as in upstream v1.33.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("po", "pods"),
    ("svc", "services"),
    ("deploy", "deployments"),
    ("cm", "configmaps"),
    ("ns", "namespaces"),
    ("no", "nodes"),
    ("sa", "serviceaccounts"),
    ("ds", "daemonsets"),
    ("sts", "statefulsets"),
    ("rs", "replicasets"),
    ("cj", "cronjobs"),
    ("pvc", "persistentvolumeclaims"),
    ("pv", "persistentvolumes"),
    ("ing", "ingresses"),
    ("netpol", "networkpolicies"),
    ("pdb", "poddisruptionbudgets"),
    ("hpa", "horizontalpodautoscalers"),
    ("crd", "customresourcedefinitions"),
    ("sc", "storageclasses"),
    ("ep", "endpoints"),
    ("rc", "replicationcontrollers"),
    ("ev", "events"),
    ("limits", "limitranges"),
    ("quota", "resourcequotas"),
    ("csr", "certificatesigningrequests"),
    ("pc", "priorityclasses"),
];

/// Group versions every v1.33 API server serves by default.
const API_VERSIONS: &[&str] = &[
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "storage.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "node.k8s.io/v1",
];

fn check_version(server: &Server, kubectl: &str) {
    let v = server
        .kubectl_bin(kubectl, &["version", "-o", "json"])
        .json();
    let git = v["serverVersion"]["gitVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no serverVersion.gitVersion in {v}"));
    assert!(
        git.starts_with("v1.33."),
        "server gitVersion {git:?} should be v1.33.x"
    );
    assert_eq!(v["serverVersion"]["major"], "1", "{v}");
    assert!(
        v["serverVersion"]["minor"]
            .as_str()
            .is_some_and(|m| m.starts_with("33")),
        "serverVersion.minor should be 33: {v}"
    );
    // Plain output names the server version too.
    let plain = server.kubectl_bin(kubectl, &["version"]).ok();
    assert!(
        plain.contains(&format!("Server Version: {git}")),
        "kubectl version output:\n{plain}"
    );
}

#[test]
fn kubectl_version_reports_v1_33() {
    let server = Server::start();
    check_version(&server, k8rs_conformance::KUBECTL);
    // The raw endpoint agrees.
    let raw = server.get("/version");
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert!(
        raw.json()["gitVersion"]
            .as_str()
            .is_some_and(|g| g.starts_with("v1.33.")),
        "{}",
        raw.text()
    );
    if Path::new(KUBECTL_1_33).is_file() {
        check_version(&server, KUBECTL_1_33);
    } else {
        eprintln!("{KUBECTL_1_33} absent: skipped the kubectl 1.33 check");
    }
}

fn api_resources(server: &Server, kubectl: &str) -> Vec<Row> {
    let out = server.kubectl_bin(kubectl, &["api-resources"]).ok();
    let rows = parse_table(&out);
    assert!(
        rows.len() >= 55,
        "expected >= 55 api-resources rows, got {}:\n{out}",
        rows.len()
    );
    rows
}

fn check_short_names(rows: &[Row]) {
    let mut by_short: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in rows {
        for s in r["SHORTNAMES"].split(',').filter(|s| !s.is_empty()) {
            by_short.entry(s).or_default().insert(r["NAME"].as_str());
        }
    }
    let mut missing = Vec::new();
    for (short, resource) in SHORT_NAMES {
        if !by_short.get(short).is_some_and(|r| r.contains(resource)) {
            missing.push(format!("{short} -> {resource}"));
        }
    }
    assert!(
        missing.is_empty(),
        "short names missing from api-resources: {missing:?}\nhave: {by_short:?}"
    );
}

#[test]
fn kubectl_api_resources() {
    let server = Server::start();
    let rows = api_resources(&server, k8rs_conformance::KUBECTL);
    for col in ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"] {
        assert!(rows[0].contains_key(col), "no {col} column: {:?}", rows[0]);
    }
    check_short_names(&rows);

    // A few well-known rows, checked column by column.
    let find = |name: &str, apiv: &str| {
        rows.iter()
            .find(|r| r["NAME"] == name && r["APIVERSION"] == apiv)
            .unwrap_or_else(|| panic!("no api-resources row {name} {apiv}"))
    };
    let pods = find("pods", "v1");
    assert_eq!(pods["NAMESPACED"], "true");
    assert_eq!(pods["KIND"], "Pod");
    let ns = find("namespaces", "v1");
    assert_eq!(ns["NAMESPACED"], "false");
    assert_eq!(ns["KIND"], "Namespace");
    let deploy = find("deployments", "apps/v1");
    assert_eq!(deploy["KIND"], "Deployment");
    let crd = find("customresourcedefinitions", "apiextensions.k8s.io/v1");
    assert_eq!(crd["NAMESPACED"], "false");
    assert!(crd["SHORTNAMES"].split(',').any(|s| s == "crds"), "{crd:?}");

    // Namespaced filter.
    let cluster_scoped = server
        .kubectl(&["api-resources", "--namespaced=false", "-o", "name"])
        .ok();
    for r in ["namespaces", "nodes", "persistentvolumes"] {
        assert!(
            cluster_scoped.lines().any(|l| l == r),
            "{r} should be cluster-scoped:\n{cluster_scoped}"
        );
    }
    assert!(
        !cluster_scoped
            .lines()
            .any(|l| l == "configmaps" || l == "pods"),
        "namespaced resources listed as cluster-scoped:\n{cluster_scoped}"
    );

    if Path::new(KUBECTL_1_33).is_file() {
        let rows = api_resources(&server, KUBECTL_1_33);
        check_short_names(&rows);
    }
}

#[test]
fn kubectl_api_versions() {
    let server = Server::start();
    let out = server.kubectl(&["api-versions"]).ok();
    let versions: BTreeSet<&str> = out.lines().map(str::trim).collect();
    let missing: Vec<_> = API_VERSIONS
        .iter()
        .filter(|v| !versions.contains(*v))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?} in:\n{out}");

    // Every group version of api-resources is listed by api-versions.
    let rows = parse_table(&server.kubectl(&["api-resources"]).ok());
    for r in &rows {
        assert!(
            versions.contains(r["APIVERSION"].as_str()),
            "api-resources lists {} ({}) but api-versions does not",
            r["APIVERSION"],
            r["NAME"]
        );
    }

    // Raw discovery documents.
    let api = server.get("/api");
    assert_eq!(api.status, 200, "{}", api.text());
    let api = api.json();
    assert_eq!(api["kind"], "APIVersions", "{api}");
    assert!(api["versions"]
        .as_array()
        .is_some_and(|v| v.iter().any(|x| x == "v1")));
    let apis = server.get("/apis");
    assert_eq!(apis.status, 200, "{}", apis.text());
    let apis = apis.json();
    assert_eq!(apis["kind"], "APIGroupList", "{apis}");
    let core = server.get("/api/v1");
    assert_eq!(core.status, 200, "{}", core.text());
    let core = core.json();
    assert_eq!(core["kind"], "APIResourceList", "{core}");
    assert_eq!(core["groupVersion"], "v1", "{core}");
    let cm = core["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "configmaps"))
        .unwrap_or_else(|| panic!("no configmaps in /api/v1: {core}"));
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["namespaced"], true);
    for verb in [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ] {
        assert!(
            cm["verbs"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == verb)),
            "configmaps lacks verb {verb}: {cm}"
        );
    }
}

#[test]
fn builtin_namespaces_exist() {
    let server = Server::start();
    let out = server.kubectl(&["get", "ns"]).ok();
    let rows = parse_table(&out);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let row = rows
            .iter()
            .find(|r| r["NAME"] == ns)
            .unwrap_or_else(|| panic!("namespace {ns} missing from `kubectl get ns`:\n{out}"));
        assert_eq!(row["STATUS"], "Active", "{out}");
    }
    let names = server.kubectl(&["get", "namespaces", "-o", "name"]).ok();
    assert!(names.lines().any(|l| l == "namespace/default"), "{names}");
    let default = server.kubectl_json(&["get", "ns", "default"]);
    assert_eq!(default["kind"], "Namespace");
    assert_eq!(default["status"]["phase"], "Active", "{default}");
    assert!(
        default["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty()),
        "{default}"
    );
}

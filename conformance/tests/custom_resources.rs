//! CustomResourceDefinitions end to end with stock kubectl: a new CRD is served at once
//! (REST, watch, discovery, OpenAPI), objects are pruned, defaulted and validated by the
//! schema and CEL rules, status and scale subresources, printer columns, several
//! versions, short names and categories, and deleting a CRD deletes its objects.

use k8rs_conformance::{poll_until, Server, KUBECTL_1_33, WAIT_TIMEOUT};
use serde_json::{json, Value};

const WIDGETS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - name: Size
      type: string
      jsonPath: .spec.size
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: "self.replicas <= self.maxReplicas"
              message: "replicas must not exceed maxReplicas"
            properties:
              size:
                type: string
                enum: [small, large]
              replicas:
                type: integer
                minimum: 0
                default: 1
              maxReplicas:
                type: integer
                default: 10
              name:
                type: string
                pattern: "^[a-z]+$"
                x-kubernetes-validations:
                - rule: "self == oldSelf"
                  message: "name is immutable"
              port:
                x-kubernetes-int-or-string: true
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas:
                type: integer
              selector:
                type: string
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

fn established(server: &Server, name: &str) {
    server
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            &format!("crd/{name}"),
            "--timeout=20s",
        ])
        .ok();
}

fn create_widgets(server: &Server) {
    server.kubectl_stdin(&["apply", "-f", "-"], WIDGETS).ok();
    established(server, "widgets.example.com");
}

#[test]
fn a_new_crd_is_served_with_discovery_and_status_conditions() {
    let server = Server::start();
    create_widgets(&server);
    let crd = server.kubectl_json(&["get", "crd", "widgets.example.com"]);
    let conditions = crd["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (t, reason) in [
        ("NamesAccepted", "NoConflicts"),
        ("Established", "InitialNamesAccepted"),
    ] {
        let c = conditions
            .iter()
            .find(|c| c["type"] == t)
            .unwrap_or_else(|| panic!("no {t} condition: {crd}"));
        assert_eq!(c["status"], "True", "{crd}");
        assert_eq!(c["reason"], reason, "{crd}");
    }
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));

    // Legacy discovery and kubectl's view of it.
    let list = server.get("/apis/example.com/v1").json();
    let widgets = list["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "widgets").cloned())
        .unwrap_or_default();
    assert_eq!(widgets["kind"], "Widget", "{list}");
    assert_eq!(widgets["namespaced"], true);
    assert_eq!(widgets["shortNames"], json!(["wd"]));
    assert_eq!(widgets["categories"], json!(["all"]));
    let resources = server
        .kubectl(&["api-resources", "--api-group=example.com"])
        .ok();
    assert!(
        resources.contains("widgets") && resources.contains("wd"),
        "{resources}"
    );

    // Aggregated discovery (kubectl 1.33 uses it) finds it too.
    let out = server.kubectl_bin(KUBECTL_1_33, &["get", "wd", "-A"]).ok();
    assert!(out.is_empty() || out.contains("No resources"), "{out}");
}

#[test]
fn custom_objects_are_pruned_defaulted_and_printed() {
    let server = Server::start();
    create_widgets(&server);
    server
        .kubectl_stdin(
            &["apply", "-f", "-", "--validate=false"],
            r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec:
  size: small
  bogus: dropped
  port: http
  extra:
    anything: kept
"#,
        )
        .ok();
    let w = server.kubectl_json(&["get", "widget", "w1"]);
    assert_eq!(w["spec"]["replicas"], 1, "defaulted: {w}");
    assert_eq!(w["spec"]["maxReplicas"], 10, "defaulted: {w}");
    assert!(w["spec"].get("bogus").is_none(), "pruned: {w}");
    assert_eq!(w["spec"]["extra"]["anything"], "kept");
    assert_eq!(w["spec"]["port"], "http");
    assert_eq!(w["metadata"]["generation"], 1);

    // Printer columns, plain and through the short name.
    let table = server.kubectl(&["get", "wd"]).ok();
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "REPLICAS", "AGE"], "{table}");
    assert!(table.contains("w1") && table.contains("small"), "{table}");

    // `kubectl get all` includes the category.
    let all = server.kubectl(&["get", "all"]).ok();
    assert!(all.contains("widget.example.com/w1"), "{all}");

    // The other version serves the same object.
    let beta = server.kubectl_json(&["get", "widgets.v1beta1.example.com", "w1"]);
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(beta["spec"]["size"], "small");

    // Strict field validation names the unknown field.
    let err = server
        .kubectl_stdin(
            &["create", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: small, bogus: 1}\n",
        )
        .fails();
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
}

#[test]
fn schema_and_cel_rules_reject_invalid_objects() {
    let server = Server::start();
    create_widgets(&server);
    let create = |spec: Value| {
        server
            .http("POST", "/apis/example.com/v1/namespaces/default/widgets")
            .json(&json!({"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "bad"}, "spec": spec}))
            .send()
    };
    let causes = |spec: Value| {
        let st = create(spec).assert_status(422, "Invalid");
        st["details"]["causes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let c = causes(json!({"size": "huge"}));
    assert!(
        c.iter().any(|c| c["field"] == "spec.size"
            && c["message"]
                .as_str()
                .unwrap_or_default()
                .contains("supported values: \"small\", \"large\"")),
        "{c:?}"
    );
    let c = causes(json!({}));
    assert!(c.iter().any(|c| c["field"] == "spec.size"), "{c:?}");
    let c = causes(json!({"size": "small", "replicas": "three"}));
    assert!(
        c.iter().any(|c| c["field"] == "spec.replicas"
            && c["message"]
                .as_str()
                .unwrap_or_default()
                .contains("must be of type integer")),
        "{c:?}"
    );
    let c = causes(json!({"size": "small", "replicas": -1}));
    assert!(c.iter().any(|c| c["field"] == "spec.replicas"), "{c:?}");
    let c = causes(json!({"size": "small", "name": "UPPER"}));
    assert!(c.iter().any(|c| c["field"] == "spec.name"), "{c:?}");
    // A CEL rule across fields.
    let c = causes(json!({"size": "small", "replicas": 20, "maxReplicas": 5}));
    assert!(
        c.iter().any(|c| c["field"] == "spec"
            && c["message"]
                .as_str()
                .unwrap_or_default()
                .contains("replicas must not exceed maxReplicas")),
        "{c:?}"
    );
    assert!(create(json!({"size": "small"})).status == 201);

    // A transition rule: the name cannot change once set.
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: named}\nspec: {size: small, name: abc}\n",
        )
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "widget",
            "named",
            "--type=merge",
            "-p",
            r#"{"spec":{"name":"xyz"}}"#,
        ])
        .fails();
    assert!(err.contains("name is immutable"), "{err}");
}

#[test]
fn status_and_scale_subresources() {
    let server = Server::start();
    create_widgets(&server);
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: large, replicas: 2}\n",
        )
        .ok();
    // Status written through the main resource is ignored; /status writes only status.
    server
        .kubectl(&[
            "patch",
            "widget",
            "w",
            "--type=merge",
            "-p",
            r#"{"status":{"replicas":7}}"#,
        ])
        .ok();
    let w = server.kubectl_json(&["get", "widget", "w"]);
    assert!(w["status"]["replicas"].is_null(), "{w}");
    server
        .patch_status(
            &["widget", "w"],
            r#"{"status":{"replicas":2,"selector":"app=w"}}"#,
        )
        .ok();
    let w = server.kubectl_json(&["get", "widget", "w"]);
    assert_eq!(w["status"]["replicas"], 2, "{w}");
    assert_eq!(
        w["metadata"]["generation"], 1,
        "status writes keep the generation: {w}"
    );

    server
        .kubectl(&["scale", "widget", "w", "--replicas=5"])
        .ok();
    let w = server.kubectl_json(&["get", "widget", "w"]);
    assert_eq!(w["spec"]["replicas"], 5, "{w}");
    assert_eq!(w["metadata"]["generation"], 2, "{w}");
    let scale = server
        .get("/apis/example.com/v1/namespaces/default/widgets/w/scale")
        .json();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=w");
}

#[test]
fn watch_sees_custom_objects() {
    let server = Server::start();
    create_widgets(&server);
    let mut watch = server.kubectl_bg(&["get", "widgets", "--watch", "-o", "name"]);
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: watched}\nspec: {size: small}\n",
        )
        .ok();
    watch.wait_for_line("the watched widget", WAIT_TIMEOUT, |l| {
        l.contains("widget.example.com/watched")
    });
    watch.kill();
}

#[test]
fn explain_reads_the_crd_schema() {
    let server = Server::start();
    create_widgets(&server);
    let out = poll_until(WAIT_TIMEOUT, "explain widget.spec", || {
        let o = server.kubectl(&["explain", "widget.spec"]);
        o.success().then(|| o.ok())
    });
    assert!(out.contains("size") && out.contains("replicas"), "{out}");
}

#[test]
fn deleting_a_crd_deletes_its_objects_and_stops_serving() {
    let server = Server::start();
    create_widgets(&server);
    server.kubectl(&["create", "namespace", "other"]).ok();
    for ns in ["default", "other"] {
        server
            .kubectl_stdin(
                &["apply", "-n", ns, "-f", "-"],
                "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: doomed}\nspec: {size: small}\n",
            )
            .ok();
    }
    server
        .kubectl(&["delete", "crd", "widgets.example.com", "--timeout=30s"])
        .ok();
    let err = server
        .kubectl(&["get", "crd", "widgets.example.com"])
        .fails();
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    poll_until(WAIT_TIMEOUT, "widgets to stop being served", || {
        let r = server.get("/apis/example.com/v1/widgets");
        (r.status == 404).then_some(())
    });
    // Recreated, it starts empty: the objects went with it.
    create_widgets(&server);
    let list = server.kubectl_json(&["get", "widgets", "-A"]);
    assert_eq!(list["items"], json!([]), "{list}");
}

#[test]
fn conflicting_names_are_not_accepted() {
    let server = Server::start();
    create_widgets(&server);
    let other = WIDGETS
        .replace("name: widgets.example.com", "name: gadgets.example.com")
        .replace("plural: widgets", "plural: gadgets")
        .replace("singular: widget", "singular: gadget");
    server.kubectl_stdin(&["apply", "-f", "-"], &other).ok();
    let crd = poll_until(WAIT_TIMEOUT, "NamesAccepted=False", || {
        let crd = server.kubectl_json(&["get", "crd", "gadgets.example.com"]);
        let accepted = crd["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "NamesAccepted" && c["status"] == "False");
        accepted.then_some(crd)
    });
    // Kind and list kind are taken; upstream reports the last conflict it checks.
    let names = crd["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "NamesAccepted").cloned())
        .unwrap_or_default();
    assert_eq!(names["reason"], "ListKindConflict", "{crd}");
    assert_eq!(
        names["message"], "\"WidgetList\" is already in use",
        "{crd}"
    );
    // Not served: the first CRD keeps its names.
    assert_eq!(
        server
            .get("/apis/example.com/v1/namespaces/default/gadgets")
            .status,
        404
    );
}

#[test]
fn invalid_crds_are_rejected() {
    let server = Server::start();
    let err = server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &WIDGETS.replace("name: widgets.example.com", "name: wrong.example.com"),
        )
        .fails();
    assert!(
        err.contains("must be spec.names.plural+\".\"+spec.group"),
        "{err}"
    );
    let err = server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &WIDGETS.replace("storage: false", "storage: true"),
        )
        .fails();
    assert!(
        err.contains("exactly one version marked as storage version"),
        "{err}"
    );
}

const CLUSTER_SCOPED: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterthings.example.org
spec:
  group: example.org
  scope: Cluster
  names: {plural: clusterthings, kind: ClusterThing}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string, default: blue}
"#;

#[test]
fn cluster_scoped_crds_survive_a_restart() {
    let mut server = Server::start();
    server
        .kubectl_stdin(&["apply", "-f", "-"], CLUSTER_SCOPED)
        .ok();
    established(&server, "clusterthings.example.org");
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.org/v1alpha1\nkind: ClusterThing\nmetadata: {name: one}\nspec: {}\n",
        )
        .ok();
    let t = server.kubectl_json(&["get", "clusterthing", "one"]);
    assert_eq!(t["spec"]["color"], "blue");
    assert!(t["metadata"].get("namespace").is_none(), "{t}");
    // Not addressable inside a namespace.
    assert_eq!(
        server
            .get("/apis/example.org/v1alpha1/namespaces/default/clusterthings/one")
            .status,
        404
    );

    server.restart();
    let t = server.kubectl_json(&["get", "clusterthing", "one"]);
    assert_eq!(t["spec"]["color"], "blue");
}

#[test]
fn deleting_a_namespace_deletes_its_custom_objects() {
    let server = Server::start();
    create_widgets(&server);
    server.kubectl(&["create", "namespace", "temp"]).ok();
    server
        .kubectl_stdin(
            &["apply", "-n", "temp", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: inside}\nspec: {size: small}\n",
        )
        .ok();
    server
        .kubectl(&["delete", "namespace", "temp", "--timeout=60s"])
        .ok();
    let list = server.kubectl_json(&["get", "widgets", "-A"]);
    assert_eq!(list["items"], json!([]), "{list}");
}

#[test]
fn patches_and_server_side_apply_on_custom_objects() {
    let server = Server::start();
    create_widgets(&server);
    server
        .kubectl_stdin(
            &["apply", "--server-side", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ssa}\nspec: {size: small, replicas: 2}\n",
        )
        .ok();
    let w = server.kubectl_json(&["get", "widget", "ssa", "--show-managed-fields"]);
    assert_eq!(w["metadata"]["managedFields"][0]["manager"], "kubectl");
    // Another manager changing an applied field conflicts.
    let err = server
        .kubectl_stdin(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ssa}\nspec: {size: large}\n",
        )
        .fails();
    assert!(err.contains("conflict"), "{err}");
    // JSON merge and JSON patches work; strategic merge is refused as upstream does.
    server
        .kubectl(&[
            "patch",
            "widget",
            "ssa",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
        ])
        .ok();
    assert_eq!(
        server.kubectl_json(&["get", "widget", "ssa"])["spec"]["replicas"],
        3
    );
    let r = server
        .http(
            "PATCH",
            "/apis/example.com/v1/namespaces/default/widgets/ssa",
        )
        .body(
            r#"{"spec":{"replicas":4}}"#,
            "application/strategic-merge-patch+json",
        )
        .send();
    assert_eq!(r.status, 415, "{}", r.text());
}

/// The same CRD life cycle with etcd as the store: objects under
/// `/registry/<group>/<plural>/`, as kube-apiserver keeps them.
#[test]
fn custom_resources_on_etcd() {
    let etcd = k8rs_conformance::Etcd::start();
    let server = Server::start_with(k8rs_conformance::ServerOpts::etcd(etcd.url()));
    create_widgets(&server);
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: e}\nspec: {size: small}\n",
        )
        .ok();
    assert_eq!(
        server.kubectl_json(&["get", "widget", "e"])["spec"]["replicas"],
        1
    );
    assert!(
        etcd.keys()
            .iter()
            .any(|k| k == "/registry/example.com/widgets/default/e"),
        "{:?}",
        etcd.keys()
    );
    server
        .kubectl(&["delete", "crd", "widgets.example.com", "--timeout=30s"])
        .ok();
    assert!(!etcd
        .keys()
        .iter()
        .any(|k| k.starts_with("/registry/example.com/widgets/")));
}

//! Bodies built with k8s-pb's prost messages (what a Go client would send), decoded and
//! compared with the JSON a Go client would have sent instead.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::*;

/// 2026-01-02T03:04:05Z
const T0: i64 = 1_767_323_045;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The body kubectl sends: magic + runtime.Unknown (Go writes the empty content fields too).
fn body(api_version: &str, kind: &str, msg: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(msg.encode_to_vec()),
        content_encoding: s(""),
        content_type: s(""),
    };
    [MAGIC, &unknown.encode_to_vec()].concat()
}

fn int(i: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(i),
        str_val: None,
    })
}

fn string(v: &str) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(1),
        int_val: None,
        str_val: s(v),
    })
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity { string: s(v) }))
        .collect()
}

/// Decode with the k8s-openapi type's name, compare, and check the JSON is that type's: it
/// deserializes, and serializing it again keeps every field (a misnamed one would be dropped).
fn check<T: DeserializeOwned + serde::Serialize>(body: &[u8], want: Value) {
    let got = decode_object(std::any::type_name::<T>(), body).expect("decodes");
    assert_eq!(got, want, "\n got: {got:#}\nwant: {want:#}");
    let typed: T =
        serde_json::from_value(got.clone()).expect("deserializes into the k8s-openapi type");
    let again = serde_json::to_value(&typed).expect("serializes");
    assert!(
        contains(&again, &got),
        "round trip through the k8s-openapi type lost fields:\n{again:#}"
    );
}

/// Every non-null field of `part` is in `whole` with the same value (k8s-openapi writes a null
/// time as absent and fills required fields that a partial object lacks).
fn contains(whole: &Value, part: &Value) -> bool {
    match (whole, part) {
        (Value::Object(w), Value::Object(p)) => p
            .iter()
            .all(|(k, v)| v.is_null() || w.get(k).is_some_and(|wv| contains(wv, v))),
        (Value::Array(w), Value::Array(p)) => {
            w.len() == p.len() && w.iter().zip(p).all(|(w, p)| contains(w, p))
        }
        (w, p) => w == p,
    }
}

#[test]
fn namespace_as_kubectl_sends_it() {
    // Go always writes non-pointer fields: a zero creationTimestamp is an empty message, and
    // the empty spec and status are present.
    let ns = core::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: s("x"),
            creation_timestamp: Some(meta::Time::default()),
            labels: map(&[("team", "a")]),
            ..Default::default()
        }),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus::default()),
    };
    check::<k8s_openapi::api::core::v1::Namespace>(
        &body("v1", "Namespace", &ns),
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "x", "creationTimestamp": null, "labels": {"team": "a"}},
            "spec": {},
            "status": {}
        }),
    );
}

#[test]
fn configmap_with_data() {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("cfg"),
            namespace: s("default"),
            ..Default::default()
        }),
        data: map(&[("a", "1"), ("b.txt", "two\nlines")]),
        binary_data: [("bin".to_string(), vec![0u8, 1, 2, 255])].into(),
        immutable: Some(false),
    };
    check::<k8s_openapi::api::core::v1::ConfigMap>(
        &body("v1", "ConfigMap", &cm),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"},
            "data": {"a": "1", "b.txt": "two\nlines"},
            "binaryData": {"bin": "AAEC/w=="},
            "immutable": false
        }),
    );
}

#[test]
fn secret_with_binary_data() {
    let secret = core::Secret {
        metadata: Some(meta::ObjectMeta {
            name: s("tls"),
            ..Default::default()
        }),
        data: [
            ("key".to_string(), b"\x00\xffhello".to_vec()),
            ("empty".to_string(), Vec::new()),
        ]
        .into(),
        r#type: s("Opaque"),
        string_data: map(&[("plain", "text")]),
        immutable: None,
    };
    check::<k8s_openapi::api::core::v1::Secret>(
        &body("v1", "Secret", &secret),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tls"},
            "data": {"key": "AP9oZWxsbw==", "empty": ""},
            "type": "Opaque",
            "stringData": {"plain": "text"}
        }),
    );
}

#[test]
fn deployment_with_pod_template() {
    let labels = map(&[("app", "web")]);
    let container = core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        args: vec!["-g".into(), "daemon off;".into()],
        ports: vec![core::ContainerPort {
            name: s("http"),
            container_port: Some(80),
            protocol: s("TCP"),
            ..Default::default()
        }],
        env: vec![core::EnvVar {
            name: s("MODE"),
            value: s("prod"),
            ..Default::default()
        }],
        resources: Some(core::ResourceRequirements {
            limits: quantities(&[("cpu", "500m"), ("memory", "128Mi")]),
            requests: quantities(&[("cpu", "250m")]),
            claims: vec![],
        }),
        // ProbeHandler is embedded in Probe: its fields sit in the probe's JSON object.
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: string("http"),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }),
        ..Default::default()
    };
    let dep = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            labels: labels.clone(),
            annotations: map(&[("note", "hi")]),
            creation_timestamp: Some(meta::Time {
                seconds: Some(T0),
                nanos: Some(999),
            }),
            generation: Some(2),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta::LabelSelector {
                match_labels: labels.clone(),
                match_expressions: vec![],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: labels.clone(),
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![container],
                    // VolumeSource in Volume and LocalObjectReference in ConfigMapVolumeSource are embedded too.
                    volumes: vec![core::Volume {
                        name: s("cfg"),
                        volume_source: Some(core::VolumeSource {
                            config_map: Some(core::ConfigMapVolumeSource {
                                local_object_reference: Some(core::LocalObjectReference {
                                    name: s("cfg"),
                                }),
                                default_mode: Some(0o644),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                    }],
                    security_context: Some(core::PodSecurityContext {
                        supplemental_groups: vec![1000, -1],
                        run_as_non_root: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: int(1),
                    max_surge: string("25%"),
                }),
            }),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus {
            conditions: vec![apps::DeploymentCondition {
                r#type: s("Available"),
                status: s("True"),
                last_update_time: Some(meta::Time {
                    seconds: Some(T0 + 60),
                    nanos: None,
                }),
                last_transition_time: Some(meta::Time::default()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    };
    check::<k8s_openapi::api::apps::v1::Deployment>(
        &body("apps/v1", "Deployment", &dep),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": {"app": "web"},
                "annotations": {"note": "hi"},
                "generation": 2,
                // upstream decodes whole seconds only
                "creationTimestamp": "2026-01-02T03:04:05Z"
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "web",
                            "image": "nginx:1.27",
                            "args": ["-g", "daemon off;"],
                            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}],
                            "resources": {
                                "limits": {"cpu": "500m", "memory": "128Mi"},
                                "requests": {"cpu": "250m"}
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "initialDelaySeconds": 5,
                                "terminationGracePeriodSeconds": 30
                            }
                        }],
                        "volumes": [{"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}],
                        "securityContext": {"supplementalGroups": [1000, -1], "runAsNonRoot": true}
                    }
                },
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}
            },
            "status": {
                "conditions": [{
                    "type": "Available",
                    "status": "True",
                    "lastUpdateTime": "2026-01-02T03:05:05Z",
                    "lastTransitionTime": null
                }]
            }
        }),
    );
}

#[test]
fn service_with_int_or_string_ports() {
    let svc = core::Service {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            ..Default::default()
        }),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    port: Some(80),
                    target_port: int(8080),
                    ..Default::default()
                },
                core::ServicePort {
                    name: s("https"),
                    port: Some(443),
                    target_port: string("https"),
                    node_port: Some(30443),
                    ..Default::default()
                },
            ],
            selector: map(&[("app", "web")]),
            r#type: s("NodePort"),
            cluster_ips: vec!["10.0.0.10".into()],
            ip_families: vec!["IPv4".into()],
            session_affinity_config: Some(core::SessionAffinityConfig {
                client_ip: Some(core::ClientIpConfig {
                    timeout_seconds: Some(10800),
                }),
            }),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus::default()),
    };
    check::<k8s_openapi::api::core::v1::Service>(
        &body("v1", "Service", &svc),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": "https", "nodePort": 30443}
                ],
                "selector": {"app": "web"},
                "type": "NodePort",
                "clusterIPs": ["10.0.0.10"],
                "ipFamilies": ["IPv4"],
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}
            },
            "status": {}
        }),
    );
}

#[test]
fn event_micro_time() {
    let ev = k8s_pb::api::events::v1::Event {
        metadata: Some(meta::ObjectMeta {
            name: s("e"),
            ..Default::default()
        }),
        event_time: Some(meta::MicroTime {
            seconds: Some(T0),
            nanos: Some(123_456_789),
        }),
        reason: s("Started"),
        ..Default::default()
    };
    check::<k8s_openapi::api::events::v1::Event>(
        &body("events.k8s.io/v1", "Event", &ev),
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "e"},
            "eventTime": "2026-01-02T03:04:05.123456Z",
            "reason": "Started"
        }),
    );
}

#[test]
fn managed_fields_and_owner_references() {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("m"),
            owner_references: vec![meta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("ReplicaSet"),
                name: s("rs"),
                uid: s("u-1"),
                controller: Some(true),
                ..Default::default()
            }],
            finalizers: vec!["a/b".into()],
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                operation: s("Update"),
                api_version: s("v1"),
                time: Some(meta::Time {
                    seconds: Some(T0),
                    nanos: None,
                }),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:data":{"f:a":{}}}"#.to_vec()),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    check::<k8s_openapi::api::core::v1::ConfigMap>(
        &body("v1", "ConfigMap", &cm),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "m",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u-1", "controller": true}],
                "finalizers": ["a/b"],
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:a": {}}}
                }]
            }
        }),
    );
}

#[test]
fn extra_value_is_a_list() {
    use k8s_pb::api::authentication::v1 as authn;
    let review = authn::TokenReview {
        metadata: Some(meta::ObjectMeta::default()),
        spec: Some(authn::TokenReviewSpec {
            token: s("t"),
            audiences: vec![],
        }),
        status: Some(authn::TokenReviewStatus {
            authenticated: Some(true),
            user: Some(authn::UserInfo {
                username: s("alice"),
                groups: vec!["dev".into()],
                extra: [
                    (
                        "scopes".to_string(),
                        authn::ExtraValue {
                            items: vec!["a".into(), "b".into()],
                        },
                    ),
                    ("none".to_string(), authn::ExtraValue { items: vec![] }),
                ]
                .into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    check::<k8s_openapi::api::authentication::v1::TokenReview>(
        &body("authentication.k8s.io/v1", "TokenReview", &review),
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "metadata": {},
            "spec": {"token": "t"},
            "status": {
                "authenticated": true,
                "user": {"username": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"], "none": []}}
            }
        }),
    );
}

#[test]
fn controller_revision_raw_extension() {
    let cr = apps::ControllerRevision {
        metadata: Some(meta::ObjectMeta {
            name: s("r1"),
            ..Default::default()
        }),
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"template":{"x":1}}}"#.to_vec()),
        }),
        revision: Some(7),
    };
    check::<k8s_openapi::api::apps::v1::ControllerRevision>(
        &body("apps/v1", "ControllerRevision", &cr),
        json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "r1"},
            "data": {"spec": {"template": {"x": 1}}},
            "revision": 7
        }),
    );

    // An object embedded in its own protobuf form.
    let cm = core::ConfigMap {
        data: map(&[("k", "v")]),
        ..Default::default()
    };
    let cr = apps::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(body("v1", "ConfigMap", &cm)),
        }),
        ..Default::default()
    };
    let got = decode_object(
        "k8s_openapi::api::apps::v1::ControllerRevision",
        &body("apps/v1", "ControllerRevision", &cr),
    );
    assert_eq!(
        got,
        Ok(json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "data": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
        }))
    );
}

#[test]
fn crd_schema_special_forms() {
    let string_prop = ext::JsonSchemaProps {
        r#type: s("string"),
        ..Default::default()
    };
    let spec_schema = ext::JsonSchemaProps {
        r#type: s("object"),
        properties: [
            ("name".to_string(), string_prop.clone()),
            (
                "tags".to_string(),
                ext::JsonSchemaProps {
                    r#type: s("array"),
                    items: Some(Box::new(ext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(string_prop.clone())),
                        j_son_schemas: vec![],
                    })),
                    x_kubernetes_list_type: s("set"),
                    ..Default::default()
                },
            ),
            (
                "size".to_string(),
                ext::JsonSchemaProps {
                    r#type: s("integer"),
                    default: Some(ext::Json {
                        raw: Some(b"3".to_vec()),
                    }),
                    minimum: Some(1.0),
                    maximum: Some(10.5),
                    r#enum: vec![
                        ext::Json {
                            raw: Some(b"1".to_vec()),
                        },
                        ext::Json {
                            raw: Some(b"3".to_vec()),
                        },
                    ],
                    ..Default::default()
                },
            ),
        ]
        .into(),
        additional_properties: Some(Box::new(ext::JsonSchemaPropsOrBool {
            allows: Some(false),
            schema: None,
        })),
        x_kubernetes_preserve_unknown_fields: Some(true),
        r#ref: s("#/definitions/x"),
        ..Default::default()
    };
    let crd = ext::CustomResourceDefinition {
        metadata: Some(meta::ObjectMeta {
            name: s("widgets.example.com"),
            ..Default::default()
        }),
        spec: Some(ext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(ext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                kind: s("Widget"),
                short_names: vec!["wd".into()],
                ..Default::default()
            }),
            scope: s("Namespaced"),
            versions: vec![ext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(ext::JsonSchemaProps {
                        r#type: s("object"),
                        properties: [("spec".to_string(), spec_schema)].into(),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let got = decode_object(
        "k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition",
        &body("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd),
    )
    .expect("decodes");
    let want = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object",
                    "$ref": "#/definitions/x",
                    "additionalProperties": false,
                    "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {
                        "name": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                        "size": {"type": "integer", "default": 3, "minimum": 1, "maximum": 10.5, "enum": [1, 3]}
                    }
                }}}}
            }]
        }
    });
    assert_eq!(got, want, "\n got: {got:#}\nwant: {want:#}");
    let typed: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_json::from_value(got).expect("deserializes into the k8s-openapi type");
    assert!(typed.spec.versions[0].schema.is_some());
}

#[test]
fn rust_type_names_resolve() {
    let schema = Schema::get().expect("schema");
    for name in [
        std::any::type_name::<k8s_openapi::api::core::v1::ConfigMap>(),
        "k8s_openapi::api::core::v1::ConfigMap",
        "k8s_openapi::v1_33::api::core::v1::config_map::ConfigMap",
        "k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService",
        "k8s_openapi::api::storage::v1::CSIDriver",
    ] {
        assert!(message_for_rust_type(schema, name).is_some(), "{name}");
    }
    assert!(message_for_rust_type(schema, "serde_json::value::Value").is_none());
}

/// A Namespace body whose raw message is `raw`.
fn raw_body(raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: None,
        raw: Some(raw),
        content_encoding: None,
        content_type: None,
    };
    [MAGIC, &unknown.encode_to_vec()].concat()
}

#[test]
fn wire_variations() {
    const NS: &str = "k8s_openapi::api::core::v1::Namespace";
    // No TypeMeta in the envelope: apiVersion and kind are left to the caller.
    let meta_a = meta::ObjectMeta {
        name: s("a"),
        ..Default::default()
    }
    .encode_to_vec();
    let meta_b = meta::ObjectMeta {
        labels: map(&[("x", "1")]),
        ..Default::default()
    }
    .encode_to_vec();
    // metadata twice: protobuf merges the two; plus an unknown field 99 (skipped).
    let mut raw = Vec::new();
    for m in [&meta_a, &meta_b] {
        raw.push(0x0a);
        raw.push(m.len() as u8);
        raw.extend_from_slice(m);
    }
    raw.extend_from_slice(&[0x98, 0x06, 0x01]); // field 99 varint 1
    assert_eq!(
        decode_object(NS, &raw_body(raw)),
        Ok(json!({"metadata": {"name": "a", "labels": {"x": "1"}}}))
    );

    // Packed and unpacked repeated int64 decode alike.
    const POD: &str = "k8s_openapi::api::core::v1::PodSecurityContext";
    let unpacked = [0x20, 0x01, 0x20, 0x02];
    let packed = [0x22, 0x02, 0x01, 0x02];
    for raw in [&unpacked[..], &packed[..]] {
        assert_eq!(
            decode_object(POD, &raw_body(raw.to_vec())),
            Ok(json!({"supplementalGroups": [1, 2]}))
        );
    }
    // An empty packed list is no list at all.
    assert_eq!(
        decode_object(POD, &raw_body(vec![0x22, 0x00])),
        Ok(json!({}))
    );
}

#[test]
fn malformed_bodies_are_errors() {
    const NS: &str = "k8s_openapi::api::core::v1::Namespace";
    let ns = core::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: s("x"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let good = body("v1", "Namespace", &ns);
    assert!(decode_object(NS, &good).is_ok());

    let err = decode_object(NS, b"{\"kind\":\"Namespace\"}").unwrap_err();
    assert!(err.contains("prefix"), "{err}");
    assert!(decode_object(NS, b"k8s\x00").unwrap_err().contains("empty"));
    assert!(decode_object(NS, b"k8s").is_err());
    let err = decode_object("k8s_openapi::api::core::v1::NoSuchThing", &good).unwrap_err();
    assert!(err.contains("no protobuf schema"), "{err}");

    // Every cut inside the envelope's raw field fails; no cut panics.
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("Namespace"),
        }),
        raw: Some(ns.encode_to_vec()),
        ..Default::default()
    };
    let whole = [MAGIC, &unknown.encode_to_vec()].concat();
    // Cutting exactly between typeMeta and raw leaves a valid envelope with an empty object.
    let raw_start = MAGIC.len() + 2 + unknown.type_meta.as_ref().map_or(0, |t| t.encoded_len());
    for cut in (5..whole.len()).filter(|&c| c != raw_start) {
        assert!(decode_object(NS, &whole[..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(
        decode_object(NS, &whole[..raw_start]),
        Ok(json!({"apiVersion": "v1", "kind": "Namespace"}))
    );

    // A known field with the wrong wire type names the field.
    let err = decode_object(NS, &raw_body(vec![0x0a, 0x02, 0x08, 0x01])).unwrap_err();
    assert!(err.contains("metadata: "), "{err}");
    // IntOrString with an impossible type.
    let port = core::ServicePort {
        target_port: Some(IntOrString {
            r#type: Some(2),
            ..Default::default()
        }),
        ..Default::default()
    };
    let svc = core::Service {
        spec: Some(core::ServiceSpec {
            ports: vec![port],
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = decode_object(
        "k8s_openapi::api::core::v1::Service",
        &body("v1", "Service", &svc),
    )
    .unwrap_err();
    assert!(
        err.contains("spec: ports: targetPort: IntOrString type 2"),
        "{err}"
    );
    // RawExtension bytes that are not JSON.
    let cr = apps::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(b"{nope".to_vec()),
        }),
        ..Default::default()
    };
    assert!(decode_object(
        "k8s_openapi::api::apps::v1::ControllerRevision",
        &body("apps/v1", "ControllerRevision", &cr)
    )
    .is_err());
}

#[test]
fn hostile_nesting_is_an_error() {
    // JSONSchemaProps.not (field 28) nested 10,000 deep.
    let mut m: Vec<u8> = Vec::new();
    for _ in 0..10_000 {
        let mut outer = vec![0xe2, 0x01]; // field 28, length-delimited
        let mut len = m.len();
        while len >= 0x80 {
            outer.push((len as u8) | 0x80);
            len >>= 7;
        }
        outer.push(len as u8);
        outer.extend_from_slice(&m);
        m = outer;
    }
    // CustomResourceValidation { openAPIV3Schema = 1 }
    let mut v = vec![0x0a];
    let mut len = m.len();
    while len >= 0x80 {
        v.push((len as u8) | 0x80);
        len >>= 7;
    }
    v.push(len as u8);
    v.extend_from_slice(&m);
    let err = decode_object("k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceValidation", &raw_body(v))
        .unwrap_err();
    assert!(err.contains("nested deeper"), "{err}");
}

#[test]
fn corrupted_bodies_never_panic() {
    let svc = core::Service {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            labels: map(&[("a", "b")]),
            ..Default::default()
        }),
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                port: Some(80),
                target_port: int(8080),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let good = body("v1", "Service", &svc);
    // A fixed linear congruential generator keeps the test deterministic.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..5_000 {
        let mut bad = good.clone();
        for _ in 0..3 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let at = 4 + (seed >> 33) as usize % (bad.len() - 4);
            bad[at] = (seed >> 8) as u8;
        }
        let _ = decode_object("k8s_openapi::api::core::v1::Service", &bad);
    }
}

/// Bodies kubectl v1.32 sent for `kubectl create ...`, and the JSON the same command prints with
/// `--dry-run=client -o json` (Go's JSON encoding of the same object): decoding one must give
/// the other, so the zeros Go writes to protobuf but not JSON must be gone.
#[test]
fn real_kubectl_bodies() {
    macro_rules! fixture {
        ($name:literal, $ty:ty) => {
            (
                $name,
                std::any::type_name::<$ty>(),
                &include_bytes!(concat!("testdata/kubectl/", $name, ".pb"))[..],
                include_str!(concat!("testdata/kubectl/", $name, ".json")),
            )
        };
    }
    use k8s_openapi::api as k;
    let fixtures = [
        fixture!("namespace", k::core::v1::Namespace),
        fixture!("configmap", k::core::v1::ConfigMap),
        fixture!("secret", k::core::v1::Secret),
        fixture!("service", k::core::v1::Service),
        fixture!("serviceaccount", k::core::v1::ServiceAccount),
        fixture!("resourcequota", k::core::v1::ResourceQuota),
        fixture!("deployment", k::apps::v1::Deployment),
        fixture!("job", k::batch::v1::Job),
        fixture!("cronjob", k::batch::v1::CronJob),
        fixture!("ingress", k::networking::v1::Ingress),
        fixture!("poddisruptionbudget", k::policy::v1::PodDisruptionBudget),
        fixture!("priorityclass", k::scheduling::v1::PriorityClass),
        fixture!("dockersecret", k::core::v1::Secret),
        fixture!("rolebinding", k::rbac::v1::RoleBinding),
        fixture!("clusterrolebinding", k::rbac::v1::ClusterRoleBinding),
        fixture!("clusterrole", k::rbac::v1::ClusterRole),
    ];
    for (name, ty, pb, want) in fixtures {
        let want: Value = serde_json::from_str(want).expect("fixture JSON");
        let got = decode_object(ty, pb).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}\n got: {got:#}\nwant: {want:#}");
    }
}

/// Subresource and review bodies (`kubectl create token`, `kubectl auth can-i`): required
/// fields keep their zero values (`token: ""`, `allowed: false`), as Go's JSON does.
#[test]
fn real_kubectl_review_bodies() {
    // Not checked against k8s-openapi: its TokenRequestStatus requires a non-null timestamp.
    let token = include_bytes!("testdata/kubectl/tokenrequest.pb");
    assert_eq!(
        decode_object("k8s_openapi::api::authentication::v1::TokenRequest", token),
        Ok(json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {"creationTimestamp": null},
            "spec": {"expirationSeconds": 3600},
            "status": {"expirationTimestamp": null, "token": ""}
        })),
    );
    let review = include_bytes!("testdata/kubectl/selfsubjectaccessreview.pb");
    check::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview>(
        review,
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": {"namespace": "default", "resource": "pods", "verb": "get"}},
            "status": {"allowed": false}
        }),
    );
}

/// Zeros of Go pointer fields are values (`replicas: 0`, `automountServiceAccountToken: false`,
/// `storageClassName: ""`); zeros of non-pointer `omitempty` fields are absent.
#[test]
fn pointer_zeros_are_kept() {
    let dep = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("d"),
            generation: Some(0),
            uid: s(""),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            revision_history_limit: Some(0),
            min_ready_seconds: Some(0),
            paused: Some(false),
            template: Some(core::PodTemplateSpec {
                metadata: None,
                spec: Some(core::PodSpec {
                    automount_service_account_token: Some(false),
                    host_network: Some(false),
                    termination_grace_period_seconds: Some(0),
                    dns_policy: s(""),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        status: None,
    };
    check::<k8s_openapi::api::apps::v1::Deployment>(
        &body("apps/v1", "Deployment", &dep),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "replicas": 0,
                "revisionHistoryLimit": 0,
                "template": {"spec": {"automountServiceAccountToken": false, "terminationGracePeriodSeconds": 0}}
            }
        }),
    );
    let pvc = core::PersistentVolumeClaim {
        spec: Some(core::PersistentVolumeClaimSpec {
            storage_class_name: s(""),
            volume_name: s(""),
            ..Default::default()
        }),
        ..Default::default()
    };
    check::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(
        &body("v1", "PersistentVolumeClaim", &pvc),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {"storageClassName": ""}}),
    );
}

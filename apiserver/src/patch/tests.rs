//! Strategic merge patch tests. The first part restates upstream's strategicpatch test
//! cases (written against its test-only `MergeItem` Go struct, mirrored here by
//! [`MergeItemMeta`]); the second runs patches against real Kubernetes types through the
//! generated schema, including a `kubectl apply`-shaped three-way patch.

use serde_json::{json, Value};

use super::meta::{FieldMeta, Meta, Shape};
use super::strategic::Merger;
use super::{apply_strategic, supports_strategic, PatchError};
use crate::protobuf::schema::PatchStrategy;

// ---------------------------------------------------------------- upstream's MergeItem

const MERGE_ITEM: Shape = Shape::Message(0);
const RETAIN_KEYS_ITEM: Shape = Shape::Message(1);

/// The patch metadata of upstream's test struct:
/// `MergeItem { name, value, other, mergingList (merge by name), nonMergingList,
/// mergingIntList (merge), nonMergingIntList, mergeItemPtr (merge by name), simpleMap,
/// replacingItem (replace), retainKeysMap (retainKeys), retainKeysMergingList
/// (merge,retainKeys by name) }` and `RetainKeysMergeItem { name, value, other, simpleMap,
/// mergingIntList, mergingList, nonMergingList }`.
struct MergeItemMeta;

impl Meta for MergeItemMeta {
    fn field(&self, parent: Shape, key: &str) -> FieldMeta<'_> {
        let merge = PatchStrategy {
            merge: true,
            ..PatchStrategy::default()
        };
        let meta = |shape, strategy, merge_key| FieldMeta {
            shape,
            strategy,
            merge_key,
        };
        let item = parent == MERGE_ITEM;
        if parent != MERGE_ITEM && parent != RETAIN_KEYS_ITEM {
            return FieldMeta::default();
        }
        match key {
            "mergingList" => meta(MERGE_ITEM, merge, Some("name")),
            "nonMergingList" => meta(MERGE_ITEM, PatchStrategy::default(), None),
            "mergingIntList" => meta(Shape::Unknown, merge, None),
            "simpleMap" => meta(Shape::MapOf(None), PatchStrategy::default(), None),
            "mergeItemPtr" if item => meta(MERGE_ITEM, merge, Some("name")),
            "replacingItem" if item => meta(
                Shape::Unknown,
                PatchStrategy {
                    replace: true,
                    ..PatchStrategy::default()
                },
                None,
            ),
            "retainKeysMap" if item => meta(
                RETAIN_KEYS_ITEM,
                PatchStrategy {
                    retain_keys: true,
                    ..PatchStrategy::default()
                },
                None,
            ),
            "retainKeysMergingList" if item => meta(
                MERGE_ITEM,
                PatchStrategy {
                    merge: true,
                    retain_keys: true,
                    ..PatchStrategy::default()
                },
                Some("name"),
            ),
            _ => FieldMeta::default(),
        }
    }
}

fn merge(original: Value, patch: Value) -> Result<Value, PatchError> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        panic!("test documents must be objects");
    };
    Merger {
        meta: &MergeItemMeta,
    }
    .merge_map(original, patch, MERGE_ITEM)
    .map(Value::Object)
}

#[track_caller]
fn check(original: Value, patch: Value, want: Value) {
    match merge(original, patch) {
        Ok(got) => assert_eq!(got, want),
        Err(e) => panic!("patch failed: {e}"),
    }
}

#[track_caller]
fn check_err(original: Value, patch: Value, code: u16, contains: &str) {
    match merge(original, patch) {
        Ok(got) => panic!("patch succeeded with {got}"),
        Err(e) => {
            assert_eq!(e.code(), code, "{e}");
            assert!(e.to_string().contains(contains), "{e}");
        }
    }
}

#[test]
fn scalar_fields_are_set_and_nulls_delete() {
    check(
        json!({"name": "1", "other": "a"}),
        json!({"value": "1"}),
        json!({"name": "1", "value": "1", "other": "a"}),
    );
    check(
        json!({"name": "a", "other": "a"}),
        json!({"name": "1", "value": "1"}),
        json!({"name": "1", "value": "1", "other": "a"}),
    );
    // A null for a key the object lacks is dropped, not stored.
    check(
        json!({"name": "1", "value": "1", "other": "a"}),
        json!({"name": null, "value": null, "extra": null}),
        json!({"other": "a"}),
    );
    check(json!({"name": "1"}), json!({}), json!({"name": "1"}));
}

#[test]
fn nested_maps_merge_and_honour_directives() {
    check(
        json!({"simpleMap": {"key1": "1", "key2": "1", "other": "a"}}),
        json!({"simpleMap": {"key2": null}}),
        json!({"simpleMap": {"key1": "1", "other": "a"}}),
    );
    // `$patch: delete` empties the map (upstream keeps the field, as `{}`).
    check(
        json!({"simpleMap": {"key1": "1", "key2": "1"}}),
        json!({"simpleMap": {"$patch": "delete"}}),
        json!({"simpleMap": {}}),
    );
    check(
        json!({"simpleMap": {"key1": "1"}}),
        json!({"simpleMap": {"$patch": "replace", "key3": "3"}}),
        json!({"simpleMap": {"key3": "3"}}),
    );
    // At the top level too.
    check(
        json!({"name": "1", "value": "1"}),
        json!({"$patch": "replace", "other": "a"}),
        json!({"other": "a"}),
    );
    check(
        json!({"name": "1", "value": "1"}),
        json!({"$patch": "replace"}),
        json!({}),
    );
    check_err(
        json!({"simpleMap": {"a": "b"}}),
        json!({"simpleMap": {"$patch": "nonsense"}}),
        400,
        "unknown patch type",
    );
}

#[test]
fn non_merging_lists_are_replaced() {
    check(
        json!({"nonMergingIntList": [1, 2]}),
        json!({"nonMergingIntList": [2, 3]}),
        json!({"nonMergingIntList": [2, 3]}),
    );
    check(
        json!({"nonMergingList": [{"name": "1", "value": "a"}, {"name": "2"}]}),
        json!({"nonMergingList": [{"name": "3"}]}),
        json!({"nonMergingList": [{"name": "3"}]}),
    );
}

#[test]
fn merging_lists_of_maps_merge_by_key() {
    // A field added to one element; the other keeps its server-side fields.
    check(
        json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": "2", "other": "b"}]}),
        json!({"mergingList": [{"name": "1", "value": "1"}]}),
        json!({"mergingList": [
            {"name": "1", "value": "1", "other": "a"},
            {"name": "2", "value": "2", "other": "b"}
        ]}),
    );
    // Without $setElementOrder the patch's elements come first, in the patch's order, and
    // untouched elements keep their place after them...
    check(
        json!({"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]}),
        json!({"mergingList": [
            {"name": "3", "value": "c"}, {"name": "1", "value": "a"}, {"name": "2", "other": "x"}
        ]}),
        json!({"mergingList": [
            {"name": "3", "value": "c"},
            {"name": "1", "value": "a"},
            {"name": "2", "value": "b", "other": "x"}
        ]}),
    );
    // ...unless the live list has them before a patched element.
    check(
        json!({"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]}),
        json!({"mergingList": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]}),
        json!({"mergingList": [
            {"name": "2", "value": "b"}, {"name": "3", "value": "c"}, {"name": "1", "value": "a"}
        ]}),
    );
    // A new element goes before the live ones it is not ordered against.
    check(
        json!({"mergingList": [{"name": "1"}]}),
        json!({"mergingList": [{"name": "2"}]}),
        json!({"mergingList": [{"name": "2"}, {"name": "1"}]}),
    );
    // Nested merge lists merge too.
    check(
        json!({"mergingList": [{"name": "1", "mergingList": [{"name": "a", "value": "x"}]}]}),
        json!({"mergingList": [{"name": "1", "mergingList": [{"name": "a", "other": "y"}]}]}),
        json!({"mergingList": [{"name": "1", "mergingList": [{"name": "a", "value": "x", "other": "y"}]}]}),
    );
    check(
        json!({"mergingList": []}),
        json!({"mergingList": []}),
        json!({"mergingList": []}),
    );
}

#[test]
fn merge_list_directives() {
    // `$patch: delete` removes every element with that key.
    check(
        json!({"mergingList": [
            {"name": "1"}, {"name": "1"}, {"name": "2", "value": "a"}, {"name": "3"}, {"name": "3"}
        ]}),
        json!({"mergingList": [{"name": "1", "$patch": "delete"}, {"name": "3", "$patch": "delete"}]}),
        json!({"mergingList": [{"name": "2", "value": "a"}]}),
    );
    check(
        json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "other": "b"}]}),
        json!({"mergingList": [{"name": "1", "$patch": "delete"}, {"name": "2", "$patch": "delete"}]}),
        json!({"mergingList": []}),
    );
    // A `{"$patch": "replace"}` element makes the rest of the patch's list the whole list.
    check(
        json!({"mergingList": [{"name": "1"}, {"name": "2"}]}),
        json!({"mergingList": [{"$patch": "replace"}]}),
        json!({"mergingList": []}),
    );
    check(
        json!({"mergingList": [{"name": "1", "value": "a"}, {"name": "2"}]}),
        json!({"mergingList": [{"name": "3", "value": "c"}, {"$patch": "replace"}, {"name": "1"}]}),
        json!({"mergingList": [{"name": "3", "value": "c"}, {"name": "1"}]}),
    );
    check_err(
        json!({"mergingList": [{"name": "1", "value": "a"}]}),
        json!({"mergingList": [{"value": "b"}]}),
        422,
        "does not contain declared merge key: name",
    );
    check_err(
        json!({"mergingList": [{"name": "1"}]}),
        json!({"mergingList": [{"name": "1", "$patch": "merge"}]}),
        422,
        "cannot yet be specified",
    );
}

#[test]
fn merging_lists_of_scalars_unite() {
    check(
        json!({"mergingIntList": [1, 2]}),
        json!({"mergingIntList": [2, 3]}),
        json!({"mergingIntList": [1, 2, 3]}),
    );
    check(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"mergingIntList": [3, 1, 2]}),
        json!({"mergingIntList": [3, 1, 2]}),
    );
    check(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"mergingIntList": [3, 1]}),
        json!({"mergingIntList": [2, 3, 1]}),
    );
}

#[test]
fn delete_from_primitive_list() {
    check(
        json!({"mergingIntList": [1, 2, 3, 3, 4]}),
        json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
        json!({"mergingIntList": [1, 2, 4]}),
    );
    check(
        json!({"mergingIntList": [1, 2, 3, 4]}),
        json!({
            "$setElementOrder/mergingIntList": [1, 2, 4],
            "$deleteFromPrimitiveList/mergingIntList": [3],
            "mergingIntList": [4]
        }),
        json!({"mergingIntList": [1, 2, 4]}),
    );
    // Deleting what is not there adds nothing, and creates no list.
    check(
        json!({"mergingIntList": [1, 2]}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
        json!({"mergingIntList": [1, 2]}),
    );
    check(
        json!({"foo": ["bar"]}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
        json!({"foo": ["bar"]}),
    );
    check(
        json!({"mergingIntList": null}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
        json!({"mergingIntList": null}),
    );
    // Lists without the merge strategy lose the values too.
    check(
        json!({"nonMergingIntList": [1, 2, 3]}),
        json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]}),
        json!({"nonMergingIntList": [1, 3]}),
    );
    check_err(
        json!({"mergingIntList": [1]}),
        json!({"$deleteFromPrimitiveListmergingIntList": [1]}),
        400,
        "primitive list",
    );
}

#[test]
fn set_element_order() {
    // Orders the merged list; live elements the order does not name stay where they were.
    check(
        json!({"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": "2", "other": "b"}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": "4"}, {"name": "1"}, {"name": "2"}, {"name": "3"}],
            "mergingList": [{"name": "4", "value": "4"}, {"name": "3", "value": "3"}]
        }),
        json!({"mergingList": [
            {"name": "4", "value": "4"},
            {"name": "1", "other": "a"},
            {"name": "2", "value": "2", "other": "b"},
            {"name": "3", "value": "3"}
        ]}),
    );
    // Names the order lists but the list lacks are ignored.
    check(
        json!({"mergingList": [{"name": "1"}, {"name": "3"}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
            "mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]
        }),
        json!({"mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]}),
    );
    // A pure reorder, of a list of scalars.
    check(
        json!({"mergingIntList": [1, 3]}),
        json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
        json!({"mergingIntList": [3, 1]}),
    );
    // A server-only element goes ahead of an ordered one the live list has after it.
    check(
        json!({"mergingList": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}),
        json!({"$setElementOrder/mergingList": [{"name": "b"}, {"name": "a"}]}),
        json!({"mergingList": [{"name": "x"}, {"name": "b"}, {"name": "a"}]}),
    );
    check_err(
        json!({"mergingList": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
            "mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]
        }),
        400,
        "doesn't match",
    );
    check_err(
        json!({"mergingIntList": [1, 3, 2]}),
        json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
        400,
        "doesn't match",
    );
}

#[test]
fn retain_keys() {
    // Without the directive a retainKeys field merges like any other.
    check(
        json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
        json!({"retainKeysMap": {"value": null}}),
        json!({"retainKeysMap": {"name": "foo"}}),
    );
    check(
        json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
        json!({"retainKeysMap": {}}),
        json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
    );
    // With it, unlisted keys are cleared (the discriminated-union case).
    check(
        json!({"retainKeysMap": {"name": "type1", "value": "foo"}}),
        json!({"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}}),
        json!({"retainKeysMap": {"name": "type2", "other": "bar"}}),
    );
    check(
        json!({"retainKeysMergingList": [{"name": "foo", "value": "a", "other": "x"}, {"name": "bar"}]}),
        json!({"retainKeysMergingList": [{"name": "foo", "$retainKeys": ["name", "other"]}]}),
        json!({"retainKeysMergingList": [{"name": "foo", "other": "x"}, {"name": "bar"}]}),
    );
    // Parallel-list directives and nulls need not be listed.
    check(
        json!({"retainKeysMap": {"name": "n", "mergingIntList": [1, 2], "value": "v"}}),
        json!({"retainKeysMap": {
            "$retainKeys": ["name", "mergingIntList"],
            "$deleteFromPrimitiveList/mergingIntList": [2],
            "value": null
        }}),
        json!({"retainKeysMap": {"name": "n", "mergingIntList": [1]}}),
    );
    check_err(
        json!({"retainKeysMap": {"name": "foo"}}),
        json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "x"}}),
        400,
        "retainKeys",
    );
    check_err(
        json!({"retainKeysMap": {"name": "foo"}}),
        json!({"retainKeysMap": {"$retainKeys": "name"}}),
        400,
        "retainKeys",
    );
}

#[test]
fn replace_strategy_replaces_objects() {
    check(
        json!({"replacingItem": {"a": 1, "b": {"c": 2}}}),
        json!({"replacingItem": {"b": {"d": 3}}}),
        json!({"replacingItem": {"b": {"d": 3}}}),
    );
}

#[test]
fn directives_never_reach_the_result() {
    // New fields and new list elements are stored without their directives.
    check(
        json!({"mergingList": [{"name": "1"}]}),
        json!({
            "simpleMap": {"$patch": "replace", "a": "b"},
            "mergeItemPtr": {"$patch": "delete"},
            "retainKeysMap": {"$retainKeys": ["name"], "name": "x", "value": null},
            "nonMergingList": [{"name": "x", "$setElementOrder/mergingList": [{"name": "y"}]}, {"$patch": "replace"}],
            "mergingList": [{
                "name": "2",
                "mergingList": [{"name": "z", "$patch": "delete"}, {"name": "w"}],
                "$deleteFromPrimitiveList/mergingIntList": [1]
            }]
        }),
        json!({
            "simpleMap": {"a": "b"},
            "retainKeysMap": {"name": "x"},
            "nonMergingList": [{"name": "x"}],
            "mergingList": [{"name": "2", "mergingList": [{"name": "w"}]}, {"name": "1"}]
        }),
    );
    // A replaced list is cleaned too.
    check(
        json!({"nonMergingList": [{"name": "1"}]}),
        json!({"nonMergingList": [{"name": "2", "$retainKeys": ["name"]}, {"name": "3", "$patch": "delete"}]}),
        json!({"nonMergingList": [{"name": "2"}]}),
    );
}

#[test]
fn unknown_fields_merge_like_json_merge_patch() {
    check(
        json!({"unknown": {"a": 1, "b": [1, 2], "c": {"d": 1}}}),
        json!({"unknown": {"a": null, "b": [3], "c": {"e": 2}}}),
        json!({"unknown": {"b": [3], "c": {"d": 1, "e": 2}}}),
    );
    // A type change takes the patch's value.
    check(
        json!({"unknown": {"a": 1}, "name": "x"}),
        json!({"unknown": [1], "name": {"x": 1}}),
        json!({"unknown": [1], "name": {"x": 1}}),
    );
}

#[test]
fn unmergeable_lists_fail() {
    check_err(
        json!({"mergingIntList": [[1]]}),
        json!({"mergingIntList": [[2]]}),
        422,
        "lists of lists",
    );
    check_err(
        json!({"mergingIntList": [1]}),
        json!({"mergingIntList": ["a"]}),
        422,
        "not identical",
    );
    check_err(
        json!({"mergingIntList": [{"a": 1}]}),
        json!({"mergingIntList": [{"a": 2}]}),
        422,
        "without merge key",
    );
}

#[test]
fn numbers_match_by_value() {
    // The element merges; its fields, the key included, take the patch's values.
    check(
        json!({"mergingList": [{"name": 80, "value": "a"}]}),
        json!({"mergingList": [{"name": 80.0, "other": "b"}]}),
        json!({"mergingList": [{"name": 80.0, "value": "a", "other": "b"}]}),
    );
}

// ---------------------------------------------------------------- real types

const POD: &str = "k8s_openapi::api::core::v1::Pod";
const DEPLOYMENT: &str = "k8s_openapi::api::apps::v1::Deployment";

#[track_caller]
fn apply(rust_type: &str, original: Value, patch: Value) -> Value {
    match apply_strategic(rust_type, &original, &patch) {
        Ok(v) => v,
        Err(e) => panic!("patch failed: {e}"),
    }
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "labels": {"app": "web", "tier": "front"},
            "finalizers": ["a.example/one", "b.example/two"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}
            ]
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "nginx:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "args": ["--a", "--b"]
            }],
            "tolerations": [{"key": "k1", "operator": "Exists"}],
            "volumes": [{"name": "data", "configMap": {"name": "cm"}}]
        }
    })
}

#[test]
fn pod_fields_follow_their_strategies() {
    let got = apply(
        POD,
        pod(),
        json!({
            "metadata": {
                "labels": {"tier": null, "new": "x"},
                "finalizers": ["c.example/three"],
                "ownerReferences": [{"uid": "u1", "controller": true}]
            },
            "spec": {
                "containers": [{
                    "name": "app",
                    "image": "nginx:2",
                    "env": [{"name": "B", "value": "3"}],
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "volumeMounts": [{"mountPath": "/data", "readOnly": true}],
                    "args": ["--c"]
                }],
                "tolerations": [{"key": "k2", "operator": "Exists"}]
            }
        }),
    );
    assert_eq!(got["metadata"]["labels"], json!({"app": "web", "new": "x"}));
    // Finalizers merge as a set; the new one is not ordered against the live ones.
    assert_eq!(
        got["metadata"]["finalizers"],
        json!(["c.example/three", "a.example/one", "b.example/two"])
    );
    assert_eq!(
        got["metadata"]["ownerReferences"],
        json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": true}])
    );
    let c = &got["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:2");
    // B keeps its live position: the patch orders only against elements it names.
    assert_eq!(
        c["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
    );
    assert_eq!(
        c["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "data", "mountPath": "/data", "readOnly": true}])
    );
    // args and tolerations have no merge strategy: replaced.
    assert_eq!(c["args"], json!(["--c"]));
    assert_eq!(
        got["spec"]["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}])
    );
}

#[test]
fn kubectl_patch_adds_a_sidecar() {
    // `kubectl patch deploy x -p '{"spec":{"template":{"spec":{"containers":[...]}}}}'`:
    // the new container joins (ahead of the live one, as upstream orders it).
    let original = json!({
        "metadata": {"name": "x"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}}
    });
    let got = apply(
        DEPLOYMENT,
        original,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}}),
    );
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"],
        json!([{"name": "sidecar", "image": "busybox:1.36"}, {"name": "app", "image": "nginx"}])
    );
}

#[test]
fn kubectl_apply_three_way_patch() {
    // The live object after a first `kubectl apply`, with server-side additions
    // (status, defaults, a label another client set).
    let live = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web", "team": "a", "other-client": "keep"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "app",
                        "image": "nginx:1.25",
                        "env": [{"name": "MODE", "value": "dev"}, {"name": "LEVEL", "value": "1"}],
                        "terminationMessagePath": "/dev/termination-log"
                    }],
                    "restartPolicy": "Always"
                }
            }
        },
        "status": {"replicas": 1}
    });
    // What kubectl apply sends when the file adds a container, changes an env var and
    // drops the `team` label (CreateThreeWayMergePatch's output shape).
    let patch = json!({
        "metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":true}"},
            "labels": {"team": null}
        },
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "MODE"}, {"name": "LEVEL"}],
                            "env": [{"name": "MODE", "value": "prod"}],
                            "name": "app"
                        },
                        {"image": "busybox:1.36", "name": "sidecar"}
                    ]
                }
            }
        }
    });
    let got = apply(DEPLOYMENT, live.clone(), patch);
    assert_eq!(
        got["metadata"]["labels"],
        json!({"app": "web", "other-client": "keep"})
    );
    assert_eq!(
        got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"new\":true}"
    );
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"],
        json!([
            {
                "name": "app",
                "image": "nginx:1.25",
                "env": [{"name": "MODE", "value": "prod"}, {"name": "LEVEL", "value": "1"}],
                "terminationMessagePath": "/dev/termination-log"
            },
            {"name": "sidecar", "image": "busybox:1.36"}
        ])
    );
    // Everything else, status included, is untouched.
    assert_eq!(got["spec"]["strategy"], live["spec"]["strategy"]);
    assert_eq!(got["status"], live["status"]);
    assert!(!got.to_string().contains('$'));

    // Switching the strategy: kubectl sends $retainKeys, which clears rollingUpdate.
    let got = apply(
        DEPLOYMENT,
        got,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn volumes_merge_by_name_and_retain_keys() {
    let got = apply(
        POD,
        pod(),
        json!({"spec": {
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "cache"}],
            "volumes": [
                {"name": "data", "$retainKeys": ["name", "secret"], "secret": {"secretName": "s"}},
                {"name": "cache", "emptyDir": {}}
            ]
        }}),
    );
    assert_eq!(
        got["spec"]["volumes"],
        json!([
            {"name": "data", "secret": {"secretName": "s"}},
            {"name": "cache", "emptyDir": {}}
        ])
    );
}

#[test]
fn inline_structs_are_seen_through() {
    // EphemeralContainer embeds EphemeralContainerCommon, whose env merges by name.
    let original = json!({"spec": {"ephemeralContainers": [
        {"name": "debug", "image": "busybox", "env": [{"name": "A", "value": "1"}]}
    ]}});
    let got = apply(
        POD,
        original,
        json!({"spec": {"ephemeralContainers": [{"name": "debug", "env": [{"name": "B", "value": "2"}]}]}}),
    );
    assert_eq!(
        got["spec"]["ephemeralContainers"][0]["env"],
        json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
    );
}

#[test]
fn replace_strategy_on_a_real_type() {
    // policy/v1 PodDisruptionBudget's selector is `patchStrategy=replace`.
    let got = apply(
        "k8s_openapi::api::policy::v1::PodDisruptionBudget",
        json!({"spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 1}}),
        json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}}),
    );
    assert_eq!(
        got["spec"],
        json!({"selector": {"matchLabels": {"b": "2"}}, "minAvailable": 1})
    );
}

#[test]
fn service_ports_merge_by_port() {
    let got = apply(
        "k8s_openapi::api::core::v1::Service",
        json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
        json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
    );
    assert_eq!(
        got["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
    );
}

#[test]
fn unknown_fields_and_free_form_values_do_not_fail() {
    let got = apply(
        POD,
        json!({"spec": {"bogus": {"a": [1], "b": {"c": 1}}}, "metadata": {"annotations": {"x": "1"}}}),
        json!({"spec": {"bogus": {"a": [2], "b": {"d": 2}}}, "metadata": {"annotations": {"y": "2"}}}),
    );
    assert_eq!(
        got["spec"]["bogus"],
        json!({"a": [2], "b": {"c": 1, "d": 2}})
    );
    assert_eq!(got["metadata"]["annotations"], json!({"x": "1", "y": "2"}));
}

#[test]
fn type_support_and_malformed_patches() {
    assert!(supports_strategic(POD));
    // The scale subresource's type.
    assert!(supports_strategic(
        "k8s_openapi::api::autoscaling::v1::Scale"
    ));
    assert!(supports_strategic(
        "k8s_openapi::v1_33::api::apps::v1::deployment::Deployment"
    ));
    assert!(!supports_strategic("k8rs::DynamicObject"));
    let err = apply_strategic("k8rs::DynamicObject", &json!({}), &json!({}));
    assert_eq!(err.map_err(|e| e.code()), Err(415));
    let err = apply_strategic(POD, &pod(), &json!([1]));
    assert_eq!(err.map_err(|e| e.code()), Err(400));
}

use super::*;
use serde_json::json;

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                      "listKind": "WidgetList", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"spec": {"type": "object",
                        "properties": {"color": {"type": "string"}, "size": {"type": "integer"},
                                       "extra": {"type": "object"}}}}}}
            }],
            "conversion": {"strategy": "None"}
        },
        "status": {"storedVersions": ["v1"]}
    })
}

/// `field: message` of each cause, as the Status message lists them.
fn lines(causes: &[Cause]) -> Vec<String> {
    causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

fn has(causes: &[Cause], line: &str) -> bool {
    lines(causes).iter().any(|l| l == line)
}

fn established(mut c: Value) -> Value {
    set_condition(&mut c, "Established", "True", "InitialNamesAccepted", "ok");
    c
}

// ---- defaults ------------------------------------------------------------------------------

#[test]
fn defaults_fill_names_conversion_and_stored_versions() {
    let mut c = json!({
        "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"},
                 "versions": [{"name": "v1beta1", "served": true, "storage": false},
                              {"name": "v1", "served": true, "storage": true}]}
    });
    default(&mut c);
    assert_eq!(c["spec"]["names"]["singular"], "widget");
    assert_eq!(c["spec"]["names"]["listKind"], "WidgetList");
    assert_eq!(c["spec"]["conversion"], json!({"strategy": "None"}));
    assert_eq!(c["status"]["storedVersions"], json!(["v1"]));
}

#[test]
fn defaults_keep_what_is_set() {
    let mut c = crd();
    c["spec"]["names"]["singular"] = json!("thing");
    c["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"service": {"name": "conv", "namespace": "default"}}}});
    c["status"]["storedVersions"] = json!(["v0", "v1"]);
    default(&mut c);
    assert_eq!(c["spec"]["names"]["singular"], "thing");
    assert_eq!(c["spec"]["conversion"]["strategy"], "Webhook");
    assert_eq!(
        c["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"],
        443
    );
    assert_eq!(c["status"]["storedVersions"], json!(["v0", "v1"]));
}

#[test]
fn defaults_do_not_invent_webhooks_or_panic_on_odd_shapes() {
    let mut c = crd();
    default(&mut c);
    assert_eq!(c["spec"]["conversion"], json!({"strategy": "None"}));
    for mut odd in [
        json!(null),
        json!("x"),
        json!({"spec": 3}),
        json!({"spec": {"names": 1}}),
    ] {
        default(&mut odd);
    }
}

#[test]
fn prepare_for_create_resets_status() {
    let mut c = crd();
    c["status"] = json!({"storedVersions": ["v9"], "conditions": [{"type": "Established"}]});
    prepare_for_create(&mut c);
    assert_eq!(c["status"], json!({"storedVersions": ["v1"]}));
    assert_eq!(c["metadata"]["generation"], 1);
}

#[test]
fn prepare_for_update_keeps_status_and_records_new_storage_version() {
    let mut old = crd();
    old["metadata"]["generation"] = json!(3);
    let mut new = old.clone();
    new["spec"]["versions"] = json!([
        {"name": "v1", "served": true, "storage": false, "schema": old["spec"]["versions"][0]["schema"]},
        {"name": "v2", "served": true, "storage": true, "schema": old["spec"]["versions"][0]["schema"]}
    ]);
    new["status"] = json!({"storedVersions": []});
    prepare_for_update(&mut new, &old);
    assert_eq!(new["status"]["storedVersions"], json!(["v1", "v2"]));
    assert_eq!(new["metadata"]["generation"], 4);

    let mut same = old.clone();
    prepare_for_update(&mut same, &old);
    assert_eq!(same["metadata"]["generation"], 3);
}

// ---- create validation ---------------------------------------------------------------------

#[test]
fn a_valid_crd_has_no_causes() {
    assert_eq!(lines(&validate(&crd())), Vec::<String>::new());
}

#[test]
fn name_must_be_plural_dot_group() {
    let mut c = crd();
    c["metadata"]["name"] = json!("foo");
    assert_eq!(
        lines(&validate(&c)),
        vec!["metadata.name: Invalid value: \"foo\": must be spec.names.plural+\".\"+spec.group"]
    );
}

#[test]
fn group_rules() {
    let mut c = crd();
    c["spec"]["group"] = json!("example");
    c["metadata"]["name"] = json!("widgets.example");
    assert_eq!(
        lines(&validate(&c)),
        vec!["spec.group: Invalid value: \"example\": should be a domain with at least one dot"]
    );
    c["spec"]["group"] = json!("Example.com");
    c["metadata"]["name"] = json!("widgets.Example.com");
    let causes = validate(&c);
    assert!(
        causes[0].message.contains("a lowercase RFC 1123 subdomain"),
        "{causes:?}"
    );
    c["spec"]["group"] = json!("");
    c["metadata"]["name"] = json!("widgets.");
    assert!(has(&validate(&c), "spec.group: Required value"));
}

#[test]
fn scope_rules() {
    let mut c = crd();
    c["spec"]["scope"] = json!("Global");
    assert_eq!(
        lines(&validate(&c)),
        vec!["spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""]
    );
    assert_eq!(validate(&c)[0].reason, "FieldValueNotSupported");
    if let Some(s) = c["spec"].as_object_mut() {
        s.remove("scope");
    }
    assert_eq!(lines(&validate(&c)), vec!["spec.scope: Required value"]);
}

#[test]
fn exactly_one_storage_version() {
    let mut c = crd();
    c["spec"]["versions"][0]["storage"] = json!(false);
    c["status"]["storedVersions"] = json!(["v1"]);
    let causes = validate(&c);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "spec.versions");
    assert!(causes[0].message.starts_with(
        "Invalid value: []apiextensions.CustomResourceDefinitionVersion{apiextensions.CustomResourceDefinitionVersion{Name:\"v1\", Served:true, Storage:false,"
    ));
    assert!(causes[0]
        .message
        .ends_with(": must have exactly one version marked as storage version"));

    let mut two = crd();
    let v = two["spec"]["versions"][0].clone();
    let mut v2 = v.clone();
    v2["name"] = json!("v2");
    two["spec"]["versions"] = json!([v, v2]);
    let causes = validate(&two);
    assert!(causes.iter().any(|c| c
        .message
        .ends_with("must have exactly one version marked as storage version")));
}

#[test]
fn version_names_unique_and_dns1035() {
    let mut c = crd();
    let v = c["spec"]["versions"][0].clone();
    let mut dup = v.clone();
    dup["storage"] = json!(false);
    c["spec"]["versions"] = json!([v, dup]);
    let causes = validate(&c);
    assert!(causes
        .iter()
        .any(|c| c.field == "spec.versions"
            && c.message.ends_with("must contain unique version names")));

    let mut bad = crd();
    bad["spec"]["versions"][0]["name"] = json!("V1");
    bad["status"]["storedVersions"] = json!(["V1"]);
    let fields: Vec<String> = validate(&bad).into_iter().map(|c| c.field).collect();
    assert_eq!(fields, vec!["spec.versions[0].name", "spec.version"]);
    assert!(validate(&bad)[0]
        .message
        .contains("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character"));
}

#[test]
fn schemas_are_required() {
    let mut c = crd();
    if let Some(v) = c["spec"]["versions"][0].as_object_mut() {
        v.remove("schema");
    }
    assert_eq!(
        lines(&validate(&c)),
        vec!["spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"]
    );
}

#[test]
fn names_rules() {
    let mut c = crd();
    c["spec"]["names"] = json!({"plural": "Widgets", "singular": "wid_get", "kind": "Widget.X",
        "listKind": "Widget.X", "shortNames": ["ok", "Not-OK"], "categories": ["all", "9x"]});
    c["metadata"]["name"] = json!("Widgets.example.com");
    let fields: Vec<String> = validate(&c).into_iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        vec![
            "spec.names.plural",
            "spec.names.singular",
            "spec.names.kind",
            "spec.names.listKind",
            "spec.names.shortNames[1]",
            "spec.names.listKind",
            "spec.names.categories[1]",
        ]
    );
    let causes = validate(&c);
    assert!(causes[2]
        .message
        .starts_with("Invalid value: \"Widget.X\": may have mixed case, but should otherwise match: a DNS-1035 label"));
    assert_eq!(
        causes[5].message,
        "Invalid value: \"Widget.X\": kind and listKind may not be the same"
    );
}

#[test]
fn names_are_required() {
    let mut c = crd();
    c["spec"]["names"] = json!({});
    c["metadata"]["name"] = json!(".example.com");
    let causes = validate(&c);
    for f in ["plural", "singular", "kind", "listKind"] {
        assert!(
            has(&causes, &format!("spec.names.{f}: Required value")),
            "{f}: {causes:?}"
        );
    }
}

#[test]
fn scale_subresource_paths() {
    let mut c = crd();
    c["spec"]["versions"][0]["subresources"] = json!({"scale": {
        "specReplicasPath": ".status.replicas", "statusReplicasPath": "status.replicas",
        "labelSelectorPath": ".metadata.labels"}});
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.subresources.scale.specReplicasPath: Invalid value: \".status.replicas\": should be a json path under .spec",
            "spec.subresources.scale.statusReplicasPath: Invalid value: \"status.replicas\": must be a simple json path starting with .",
            "spec.subresources.scale.labelSelectorPath: Invalid value: \".metadata.labels\": should be a json path under either .spec or .status",
        ]
    );
    c["spec"]["versions"][0]["subresources"] = json!({"scale": {}});
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.subresources.scale.specReplicasPath: Required value",
            "spec.subresources.scale.statusReplicasPath: Required value",
        ]
    );
    c["spec"]["versions"][0]["subresources"] = json!({"scale": {
        "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector"}, "status": {}});
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
}

#[test]
fn per_version_fields_keep_per_version_paths() {
    let mut c = crd();
    let v1 = c["spec"]["versions"][0].clone();
    let mut v2 = v1.clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    v2["subresources"] = json!({"scale": {"specReplicasPath": ".spec.r"}});
    v2["additionalPrinterColumns"] = json!([{"name": "X", "type": "color", "jsonPath": ".spec.x"}]);
    c["spec"]["versions"] = json!([v1, v2]);
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.versions[1].subresources.scale.statusReplicasPath: Required value",
            "spec.versions[1].additionalPrinterColumns[0].type: Invalid value: \"color\": must be one of boolean,date,integer,number,string",
        ]
    );
    assert_eq!(
        schema_paths(&c)
            .into_iter()
            .map(|(p, _)| p)
            .collect::<Vec<_>>(),
        vec!["spec.validation.openAPIV3Schema"]
    );
}

#[test]
fn schema_paths_per_version_when_schemas_differ() {
    let mut c = crd();
    let v1 = c["spec"]["versions"][0].clone();
    let mut v2 = v1.clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    v2["schema"] = json!({"openAPIV3Schema": {"type": "object"}});
    c["spec"]["versions"] = json!([v1, v2]);
    let paths: Vec<String> = schema_paths(&c).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        vec![
            "spec.versions[0].schema.openAPIV3Schema",
            "spec.versions[1].schema.openAPIV3Schema"
        ]
    );
}

#[test]
fn printer_column_rules() {
    let mut c = crd();
    c["spec"]["versions"][0]["additionalPrinterColumns"] = json!([
        {"name": "", "type": "", "jsonPath": ""},
        {"name": "Size", "type": "integer", "format": "huge", "jsonPath": "spec.size"},
        {"name": "Color", "type": "string", "jsonPath": ".spec.color", "format": "byte"}
    ]);
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.additionalPrinterColumns[0].name: Required value",
            "spec.additionalPrinterColumns[0].type: Required value: must be one of boolean,date,integer,number,string",
            "spec.additionalPrinterColumns[0].JSONPath: Required value",
            "spec.additionalPrinterColumns[1].format: Invalid value: \"huge\": must be one of byte,date,date-time,double,float,int32,int64,password",
            "spec.additionalPrinterColumns[1].JSONPath: Invalid value: \"spec.size\": must be a simple json path starting with .",
        ]
    );
}

#[test]
fn conversion_rules() {
    let mut c = crd();
    c["spec"]["conversion"] = json!({"strategy": "Webhook"});
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
            "spec.conversion.conversionReviewVersions: Required value",
        ]
    );
    c["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v3", "v3"],
        "clientConfig": {"url": "http://user@conv.example.com/convert?x=1"}}});
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"user\": user information is not permitted in the URL",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"x=1\": query parameters are not permitted in the URL",
            "spec.conversion.conversionReviewVersions[1]: Invalid value: \"v3\": duplicate version",
            "spec.conversion.conversionReviewVersions: Invalid value: []string{\"v3\", \"v3\"}: must include at least one of v1, v1beta1",
        ]
    );
    c["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"service": {"name": "", "namespace": "ns", "port": 0, "path": "/a//B"}}}});
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.conversion.webhookClientConfig.service.name: Required value: service name is required",
            "spec.conversion.webhookClientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
            "spec.conversion.webhookClientConfig.service.path: Invalid value: \"/a//B\": segment[1] may not be empty",
            "spec.conversion.webhookClientConfig.service.path: Invalid value: \"/a//B\": segment[2]: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ]
    );
    c["spec"]["conversion"] = json!({"strategy": "None", "webhook": {
        "conversionReviewVersions": ["v1"], "clientConfig": {"url": "https://x"}}});
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.conversion.webhookClientConfig: Forbidden: should not be set when strategy is not set to Webhook",
            "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook",
        ]
    );
    c["spec"]["conversion"] = json!({"strategy": "Magic"});
    assert_eq!(
        lines(&validate(&c)),
        vec!["spec.conversion.strategy: Unsupported value: \"Magic\": supported values: \"None\", \"Webhook\""]
    );
    c["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"], "clientConfig": {"url": "https://conv.example.com/c"}}});
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
}

#[test]
fn preserve_unknown_fields_must_be_false() {
    let mut c = crd();
    c["spec"]["preserveUnknownFields"] = json!(true);
    assert_eq!(
        lines(&validate(&c)),
        vec!["spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"]
    );
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["default"] =
        json!({});
    assert!(has(
        &validate(&c),
        "spec.preserveUnknownFields: Invalid value: true: must be false in order to use defaults in the schema"
    ));
}

#[test]
fn schema_root_with_status_subresource() {
    let mut c = crd();
    c["spec"]["versions"][0]["subresources"] = json!({"status": {}});
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["additionalProperties"] =
        json!({"type": "string"});
    let causes = validate(&c);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "spec.validation.openAPIV3Schema");
    assert!(causes[0].message.ends_with(
        "fields are allowed at the root of the schema if the status subresource is enabled"
    ));

    let mut c = crd();
    c["spec"]["versions"][0]["subresources"] = json!({"status": {}});
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["type"] = json!("array");
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["nullable"] = json!(true);
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.validation.openAPIV3Schema.type: Invalid value: \"array\": only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
            "spec.validation.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root",
        ]
    );

    // Without the status subresource the root may hold anything (the structural checks
    // judge it).
    let mut c = crd();
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-preserve-unknown-fields"] =
        json!(true);
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["nullable"] = json!(false);
    assert!(validate(&c).is_empty(), "{:?}", validate(&c));
}

#[test]
fn deprecation_warning_rules() {
    let mut c = crd();
    c["spec"]["versions"][0]["deprecationWarning"] = json!("old");
    assert_eq!(
        lines(&validate(&c)),
        vec!["spec.versions[0].deprecationWarning: Invalid value: \"old\": can only be set for deprecated versions"]
    );
    c["spec"]["versions"][0]["deprecated"] = json!(true);
    assert!(validate(&c).is_empty());
    c["spec"]["versions"][0]["deprecationWarning"] = json!("");
    assert!(has(
        &validate(&c),
        "spec.versions[0].deprecationWarning: Invalid value: \"\": must not be an empty string"
    ));
}

#[test]
fn selectable_fields() {
    let mut c = crd();
    c["spec"]["versions"][0]["selectableFields"] = json!([
        {"jsonPath": ".spec.color"}, {"jsonPath": ".spec.size"}, {"jsonPath": ".spec.color"},
        {"jsonPath": ".metadata.name"}, {"jsonPath": ".spec.nope"}, {"jsonPath": ".spec.extra"},
        {"jsonPath": ""}
    ]);
    let got = lines(&validate(&c));
    assert_eq!(
        got,
        vec![
            "spec.selectableFields[2].jsonPath: Duplicate value: \".spec.color\"",
            "spec.selectableFields[3].jsonPath: Invalid value: \".metadata.name\": is an invalid path: does not refer to a valid field",
            "spec.selectableFields[4].jsonPath: Invalid value: \".spec.nope\": is an invalid path: does not refer to a valid field",
            "spec.selectableFields[5].jsonPath: Invalid value: \".spec.extra\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            "spec.selectableFields[6].jsonPath: Required value",
        ]
    );
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["metadata"] =
        json!({"type": "object", "properties": {"name": {"type": "string"}}});
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["labels"] = json!({"type": "object", "additionalProperties": {"type": "string"}});
    c["spec"]["versions"][0]["selectableFields"] = json!([
        {"jsonPath": ".metadata.name"}, {"jsonPath": ".spec.labels.app"},
        {"jsonPath": ".spec.labels['app']"}, {"jsonPath": ".spec.items[0]"},
        {"jsonPath": "spec.color"}, {"jsonPath": ".spec."}
    ]);
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "spec.selectableFields[0].jsonPath: Invalid value: \".metadata.name\": must not point to fields in metadata",
            "spec.selectableFields[2].jsonPath: Invalid value: \".spec.labels['app']\": is an invalid path: array notation is not allowed",
            "spec.selectableFields[3].jsonPath: Invalid value: \".spec.items[0]\": is an invalid path: does not refer to a valid field",
            "spec.selectableFields[4].jsonPath: Invalid value: \"spec.color\": is an invalid path: expected [ or . but got: spec",
            "spec.selectableFields[5].jsonPath: Invalid value: \".spec.\": is an invalid path: unexpected end of JSON path",
        ]
    );
}

#[test]
fn stored_versions_on_create() {
    let mut c = crd();
    c["status"] = json!({});
    assert_eq!(
        lines(&validate(&c)),
        vec!["status.storedVersions: Invalid value: []string(nil): must have at least one stored version"]
    );
    c["status"] = json!({"storedVersions": ["v0"]});
    assert_eq!(
        lines(&validate(&c)),
        vec![
            "status.storedVersions: Invalid value: []string{\"v0\"}: must have the storage version v1",
            "status.storedVersions[0]: Invalid value: \"v0\": missing from spec.versions; v0 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v0 and removes v0 from status.storedVersions",
        ]
    );
}

#[test]
fn accepted_names_are_validated() {
    let mut c = crd();
    c["status"]["acceptedNames"] = json!({"plural": "Bad", "kind": "Widget"});
    assert_eq!(
        validate(&c)
            .into_iter()
            .map(|c| c.field)
            .collect::<Vec<_>>(),
        vec!["status.acceptedNames.plural"]
    );
    assert_eq!(validate_status_update(&c).len(), 1);
}

#[test]
fn protected_groups_need_api_approval() {
    let mut c = crd();
    c["spec"]["group"] = json!("stable.k8s.io");
    c["metadata"]["name"] = json!("widgets.stable.k8s.io");
    assert_eq!(
        lines(&validate(&c)),
        vec!["metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111"]
    );
    c["metadata"]["annotations"] = json!({"api-approved.kubernetes.io": "nope"});
    assert_eq!(
        lines(&validate(&c)),
        vec!["metadata.annotations[api-approved.kubernetes.io]: Invalid value: \"nope\": protected groups must have approval annotation \"api-approved.kubernetes.io\" with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"]
    );
    for ok in [
        "https://github.com/kubernetes/kubernetes/pull/78458",
        "unapproved, testing only",
    ] {
        c["metadata"]["annotations"] = json!({"api-approved.kubernetes.io": ok});
        assert!(validate(&c).is_empty(), "{ok}");
    }
    // An unchanged state is never re-judged on update.
    let mut old = c.clone();
    old["metadata"]["annotations"] = json!({"api-approved.kubernetes.io": "nope"});
    let mut new = old.clone();
    new["spec"]["versions"][0]["served"] = json!(false);
    assert!(validate_update(&old, &new).is_empty());
}

// ---- update validation ---------------------------------------------------------------------

#[test]
fn group_and_plural_are_immutable() {
    let old = crd();
    let mut new = crd();
    new["spec"]["group"] = json!("other.com");
    new["spec"]["names"]["plural"] = json!("gadgets");
    assert_eq!(
        lines(&validate_update(&old, &new)),
        vec![
            "spec.group: Invalid value: \"other.com\": field is immutable",
            "spec.names.plural: Invalid value: \"gadgets\": field is immutable",
        ]
    );
}

#[test]
fn scope_and_kind_are_immutable_once_established() {
    let old = crd();
    let mut new = crd();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["names"]["kind"] = json!("Gadget");
    new["spec"]["names"]["listKind"] = json!("GadgetList");
    assert!(validate_update(&old, &new).is_empty());
    let old = established(old);
    assert_eq!(
        lines(&validate_update(&old, &new)),
        vec![
            "spec.scope: Invalid value: \"Cluster\": field is immutable",
            "spec.names.kind: Invalid value: \"Gadget\": field is immutable",
        ]
    );
}

#[test]
fn stored_versions_must_stay_in_spec() {
    let mut old = crd();
    old["status"]["storedVersions"] = json!(["v1beta1", "v1"]);
    let mut new = old.clone();
    new["spec"]["versions"][0]["name"] = json!("v2");
    new["status"]["storedVersions"] = json!(["v1beta1", "v1", "v2"]);
    let got = lines(&validate_update(&old, &new));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("status.storedVersions[0]: Invalid value: \"v1beta1\": missing from spec.versions; v1beta1 was previously a storage version"));
    assert!(got[1].starts_with(
        "status.storedVersions[1]: Invalid value: \"v1\": missing from spec.versions"
    ));
}

#[test]
fn update_does_not_tighten_schema_requirement() {
    let mut old = crd();
    if let Some(v) = old["spec"]["versions"][0].as_object_mut() {
        v.remove("schema");
    }
    let new = old.clone();
    assert_eq!(
        lines(&validate_update(&old, &new)),
        vec!["spec.versions[0].schema.openAPIV3Schema: Required value: because otherwise all fields are pruned"]
    );
    let mut unserved = new.clone();
    unserved["spec"]["versions"][0]["served"] = json!(false);
    assert!(validate_update(&old, &unserved).is_empty());
    // A CRD that had schemas must keep them.
    assert!(has(
        &validate_update(&crd(), &new),
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    ));
}

#[test]
fn update_keeps_unrecognized_review_versions_of_the_old_object() {
    let mut old = crd();
    old["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v3"], "clientConfig": {"url": "https://c.example.com"}}});
    let new = old.clone();
    assert!(validate_update(&old, &new).is_empty());
    assert!(!validate_update(&crd(), &new).is_empty());
}

#[test]
fn ca_bundle_is_checked_only_for_established_crds_with_valid_bundles() {
    let mut old = crd();
    old["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://c.example.com", "caBundle": "bm90IGEgY2VydA=="}}});
    let new = old.clone();
    // Invalid bundles are allowed on create and before the CRD is established ...
    assert!(validate(&new).is_empty());
    assert!(validate_update(&old, &new).is_empty());
    // ... and when it was invalid already.
    assert!(validate_update(&established(old), &new).is_empty());
    // An established CRD without a bundle may not gain an invalid one.
    let got = lines(&validate_update(&established(crd()), &new));
    assert_eq!(
        got,
        vec!["spec.conversion.webhookClientConfig.caBundle: Invalid value: \"bm90IGEgY2VydA==\": data does not contain any valid RSA or ECDSA certificates"]
    );
}

// ---- conditions ----------------------------------------------------------------------------

#[test]
fn set_condition_adds_and_replaces() {
    let mut c = crd();
    set_condition(
        &mut c,
        "NamesAccepted",
        "True",
        "NoConflicts",
        "no conflicts found",
    );
    let conds = c["status"]["conditions"].clone();
    assert_eq!(conds.as_array().map(Vec::len), Some(1));
    assert_eq!(conds[0]["type"], "NamesAccepted");
    assert_eq!(conds[0]["reason"], "NoConflicts");
    assert!(conds[0]["lastTransitionTime"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(is_condition_true(&c, "NamesAccepted"));

    c["status"]["conditions"][0]["lastTransitionTime"] = json!("2020-01-01T00:00:00Z");
    set_condition(&mut c, "NamesAccepted", "True", "Other", "still fine");
    assert_eq!(
        c["status"]["conditions"][0]["lastTransitionTime"],
        "2020-01-01T00:00:00Z"
    );
    assert_eq!(c["status"]["conditions"][0]["message"], "still fine");

    set_condition(&mut c, "NamesAccepted", "False", "PluralConflict", "taken");
    assert_ne!(
        c["status"]["conditions"][0]["lastTransitionTime"],
        "2020-01-01T00:00:00Z"
    );
    assert!(!is_condition_true(&c, "NamesAccepted"));
    assert_eq!(c["status"]["conditions"].as_array().map(Vec::len), Some(1));

    set_condition(&mut c, "Established", "False", "Installing", "x");
    assert_eq!(c["status"]["conditions"].as_array().map(Vec::len), Some(2));
}

// ---- naming --------------------------------------------------------------------------------

fn accepted(mut c: Value) -> Value {
    c["status"]["acceptedNames"] = c["spec"]["names"].clone();
    c
}

fn gadgets() -> Value {
    let mut g = crd();
    g["metadata"]["name"] = json!("gadgets.example.com");
    g["spec"]["names"] = json!({"plural": "gadgets", "singular": "gadget", "kind": "Gadget",
        "listKind": "GadgetList", "shortNames": ["gd"]});
    g
}

#[test]
fn names_without_conflicts_are_accepted() {
    let names = accepted_names(&crd(), &[accepted(gadgets())]);
    assert_eq!(
        names,
        Ok(
            json!({"plural": "widgets", "singular": "widget", "kind": "Widget",
                  "listKind": "WidgetList", "shortNames": ["wd"]})
        )
    );
}

#[test]
fn naming_conflicts_have_upstream_reasons() {
    let mut other = accepted(gadgets());
    other["status"]["acceptedNames"]["plural"] = json!("widgets");
    assert_eq!(
        accepted_names(&crd(), &[other]),
        Err((
            "PluralConflict".into(),
            "\"widgets\" is already in use".into()
        ))
    );

    let mut other = accepted(gadgets());
    other["status"]["acceptedNames"]["shortNames"] = json!(["wd"]);
    assert_eq!(
        accepted_names(&crd(), &[other]),
        Err((
            "ShortNamesConflict".into(),
            "\"wd\" is already in use".into()
        ))
    );

    let mut other = accepted(gadgets());
    other["status"]["acceptedNames"]["kind"] = json!("Widget");
    assert_eq!(
        accepted_names(&crd(), &[other]),
        Err(("KindConflict".into(), "\"Widget\" is already in use".into()))
    );

    // A singular may not take another CRD's plural either; the last conflict wins.
    let mut other = accepted(gadgets());
    other["status"]["acceptedNames"]["singular"] = json!("widget");
    other["status"]["acceptedNames"]["listKind"] = json!("WidgetList");
    let n = naming(&crd(), &[other]);
    assert_eq!(n.names_accepted.1, "ListKindConflict");
    // Conflicting names are not accepted; the others are.
    assert_eq!(n.accepted_names["plural"], "widgets");
    assert!(n.accepted_names.get("singular").is_none());
    assert_eq!(
        n.established,
        condition_triple("False", "NotAccepted", "not all names are accepted")
    );
}

#[test]
fn other_groups_and_itself_do_not_conflict() {
    let mut other_group = accepted(crd());
    other_group["spec"]["group"] = json!("other.com");
    let itself = accepted(crd());
    assert!(accepted_names(&crd(), &[other_group, itself.clone()]).is_ok());
    // Its own accepted names are its own.
    assert!(accepted_names(&itself, &[]).is_ok());
}

#[test]
fn apply_naming_then_establish() {
    let mut c = crd();
    assert!(apply_naming(&mut c, &[]));
    assert_eq!(c["status"]["acceptedNames"], c["spec"]["names"]);
    assert!(is_condition_true(&c, "NamesAccepted"));
    let est = find_condition(&c, "Established")
        .cloned()
        .unwrap_or_default();
    assert_eq!(est["status"], "False");
    assert_eq!(est["reason"], "Installing");
    assert_eq!(est["message"], "the initial names have been accepted");
    // Nothing left to do.
    assert!(!apply_naming(&mut c, &[]));

    assert!(establish(&mut c));
    assert!(is_condition_true(&c, "Established"));
    assert_eq!(
        find_condition(&c, "Established").map(|e| e["reason"].clone()),
        Some(json!("InitialNamesAccepted"))
    );
    assert!(!establish(&mut c));

    // A later rename keeps Established as it is.
    c["spec"]["names"]["shortNames"] = json!(["wd", "wdg"]);
    assert!(apply_naming(&mut c, &[]));
    assert_eq!(
        c["status"]["acceptedNames"]["shortNames"],
        json!(["wd", "wdg"])
    );
    assert!(is_condition_true(&c, "Established"));
}

#[test]
fn apply_naming_records_conflicts() {
    let mut c = crd();
    let mut other = accepted(gadgets());
    other["status"]["acceptedNames"]["plural"] = json!("widgets");
    assert!(apply_naming(&mut c, &[other.clone()]));
    let cond = find_condition(&c, "NamesAccepted")
        .cloned()
        .unwrap_or_default();
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "PluralConflict");
    assert!(!establish(&mut c));
    assert!(!apply_naming(&mut c, &[other]));
}

#[test]
fn a_new_storage_version_is_recorded_before_update_validation() {
    let old = established(crd());
    let mut new = old.clone();
    let schema = old["spec"]["versions"][0]["schema"].clone();
    new["spec"]["versions"] = json!([
        {"name": "v1", "served": true, "storage": false, "schema": schema},
        {"name": "v2", "served": true, "storage": true, "schema": schema}
    ]);
    assert!(has(
        &validate_update(&old, &new),
        "status.storedVersions: Invalid value: []string{\"v1\"}: must have the storage version v2"
    ));
    record_storage_version(&mut new);
    assert_eq!(new["status"]["storedVersions"], json!(["v1", "v2"]));
    assert!(validate_update(&old, &new).is_empty());
}

//! CRD `x-kubernetes-validations` (CEL) rules end to end with stock kubectl: a rule that does
//! not compile keeps the CRD out, with upstream's message; rules on list items, map values and
//! the resource root, messageExpression, fieldPath and reason shape the causes of a rejected
//! write; transition rules (`oldSelf`) guard updates.

use k8rs_conformance::Server;
use serde_json::{json, Value};

const GADGETS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.rules.example.com
spec:
  group: rules.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-validations:
        - rule: "self.metadata.name.startsWith('g-')"
          message: "name must start with g-"
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.min <= self.max"
              messageExpression: "'min ' + string(self.min) + ' exceeds max ' + string(self.max)"
              fieldPath: ".min"
            - rule: "!has(self.forbidden)"
              message: "forbidden may not be set"
              reason: FieldValueForbidden
            properties:
              min: {type: integer}
              max: {type: integer}
              forbidden: {type: string}
              owner:
                type: string
                x-kubernetes-validations:
                - rule: "self == oldSelf"
                  message: "Value is immutable"
              ports:
                type: array
                items:
                  type: object
                  properties:
                    port: {type: integer}
                  x-kubernetes-validations:
                  - rule: "self.port > 0 && self.port < 65536"
                    message: "port out of range"
              limits:
                type: object
                additionalProperties:
                  type: integer
                  x-kubernetes-validations:
                  - rule: "self >= 0"
                    message: "must not be negative"
"#;

fn gadget(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "rules.example.com/v1", "kind": "Gadget",
        "metadata": {"name": name}, "spec": spec})
}

fn install(server: &Server) {
    server.kubectl_stdin(&["apply", "-f", "-"], GADGETS).ok();
    server
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/gadgets.rules.example.com",
            "--timeout=20s",
        ])
        .ok();
}

/// `(field, message)` of each cause of a rejected create.
fn rejected(server: &Server, obj: &Value) -> Vec<(String, String)> {
    let st = server
        .http(
            "POST",
            "/apis/rules.example.com/v1/namespaces/default/gadgets",
        )
        .json(obj)
        .send()
        .assert_status(422, "Invalid");
    st["details"]["causes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn has(causes: &[(String, String)], field: &str, message: &str) -> bool {
    causes.iter().any(|(f, m)| f == field && m == message)
}

#[test]
fn a_rule_that_does_not_compile_keeps_the_crd_out() {
    let server = Server::start();
    let bad = GADGETS.replace("self.min <= self.max", "self.minimum <= self.max");
    let err = server.kubectl_stdin(&["apply", "-f", "-"], &bad).fails();
    assert!(
        err.contains("x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.minimum <= self.max\""),
        "{err}"
    );
    assert!(
        err.contains("compilation failed: ERROR: <input>:1:5: undefined field 'minimum'"),
        "{err}"
    );
    let bad = GADGETS.replace("self >= 0", "self >= 'zero'");
    let err = server.kubectl_stdin(&["apply", "-f", "-"], &bad).fails();
    assert!(
        err.contains("found no matching overload for '_>=_' applied to '(int, string)'"),
        "{err}"
    );
    server
        .kubectl(&["get", "crd", "gadgets.rules.example.com"])
        .fails();
}

#[test]
fn failing_rules_are_causes_of_a_rejected_write() {
    let server = Server::start();
    install(&server);
    let causes = rejected(
        &server,
        &gadget(
            "bad",
            json!({"min": 5, "max": 3, "forbidden": "x",
                "ports": [{"port": 80}, {"port": 0}], "limits": {"cpu": 1, "mem": -1}}),
        ),
    );
    assert!(
        has(
            &causes,
            "<nil>",
            "Invalid value: \"object\": name must start with g-"
        ),
        "{causes:?}"
    );
    assert!(
        has(
            &causes,
            "spec.min",
            "Invalid value: \"object\": min 5 exceeds max 3"
        ),
        "{causes:?}"
    );
    assert!(
        has(&causes, "spec", "Forbidden: forbidden may not be set"),
        "{causes:?}"
    );
    assert!(
        has(
            &causes,
            "spec.ports[1]",
            "Invalid value: \"object\": port out of range"
        ),
        "{causes:?}"
    );
    assert!(
        has(
            &causes,
            "spec.limits[mem]",
            "Invalid value: \"integer\": must not be negative"
        ),
        "{causes:?}"
    );
    // kubectl shows the same.
    let err = server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: rules.example.com/v1\nkind: Gadget\nmetadata: {name: g-one}\nspec: {min: 9, max: 1}\n",
        )
        .fails();
    assert!(
        err.contains("spec.min: Invalid value: \"object\": min 9 exceeds max 1"),
        "{err}"
    );
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: rules.example.com/v1\nkind: Gadget\nmetadata: {name: g-one}\nspec: {min: 1, max: 9, owner: alice}\n",
        )
        .ok();
}

#[test]
fn transition_rules_guard_updates() {
    let server = Server::start();
    install(&server);
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: rules.example.com/v1\nkind: Gadget\nmetadata: {name: g-two}\nspec: {min: 1, max: 2, owner: alice}\n",
        )
        .ok();
    let err = server
        .kubectl(&[
            "patch",
            "gadget",
            "g-two",
            "--type=merge",
            "-p",
            r#"{"spec":{"owner":"bob"}}"#,
        ])
        .fails();
    assert!(
        err.contains("spec.owner: Invalid value: \"string\": Value is immutable"),
        "{err}"
    );
    // Other fields still change.
    server
        .kubectl(&[
            "patch",
            "gadget",
            "g-two",
            "--type=merge",
            "-p",
            r#"{"spec":{"max":5}}"#,
        ])
        .ok();
    let got = server
        .kubectl(&[
            "get",
            "gadget",
            "g-two",
            "-o",
            "jsonpath={.spec.owner}/{.spec.max}",
        ])
        .ok();
    assert_eq!(got.trim(), "alice/5");
}

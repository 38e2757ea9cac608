//! Upstream's RBAC bootstrap policy (default ClusterRoles, bindings and namespaced Roles),
//! the clusterrole-aggregation controller filling the aggregated roles, and the token
//! cleaner removing expired bootstrap tokens.

use k8rs_conformance::{poll_until, Server, WAIT_TIMEOUT};
use serde_json::Value;

fn rules_have(role: &Value, group: &str, resource: &str, verb: &str) -> bool {
    role["rules"].as_array().into_iter().flatten().any(|r| {
        let has =
            |field: &str, want: &str| r[field].as_array().into_iter().flatten().any(|v| v == want);
        has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
    })
}

#[test]
fn default_roles_and_bindings_exist_with_policy_markers() {
    let server = Server::start();
    let roles = server.kubectl_json(&["get", "clusterroles"]);
    let names: Vec<&str> = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["metadata"]["name"].as_str())
        .collect();
    for want in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:aggregate-to-admin",
        "system:aggregate-to-edit",
        "system:aggregate-to-view",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
        "system:node",
        "system:node-proxier",
        "system:kube-scheduler",
        "system:kube-controller-manager",
        "system:auth-delegator",
        "system:controller:node-controller",
        "system:controller:clusterrole-aggregation-controller",
        "system:controller:generic-garbage-collector",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let view = server.kubectl_json(&["get", "clusterrole", "system:discovery"]);
    assert_eq!(
        view["metadata"]["labels"]["kubernetes.io/bootstrapping"],
        "rbac-defaults"
    );
    assert_eq!(
        view["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
        "true"
    );

    let binding = server.kubectl_json(&[
        "get",
        "clusterrolebinding",
        "system:controller:node-controller",
    ]);
    assert_eq!(
        binding["roleRef"]["name"],
        "system:controller:node-controller"
    );
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], "node-controller");
    assert_eq!(binding["subjects"][0]["namespace"], "kube-system");
    let discovery =
        server.kubectl_json(&["get", "clusterrolebinding", "system:public-info-viewer"]);
    let subjects: Vec<&str> = discovery["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(subjects, ["system:authenticated", "system:unauthenticated"]);

    // Namespaced roles live in kube-system and kube-public.
    server
        .kubectl(&[
            "get",
            "role",
            "-n",
            "kube-system",
            "system::leader-locking-kube-scheduler",
        ])
        .ok();
    server
        .kubectl(&[
            "get",
            "rolebinding",
            "-n",
            "kube-public",
            "system:controller:bootstrap-signer",
        ])
        .ok();

    // `kubectl describe` reads the rules back.
    let described = server
        .kubectl(&["describe", "clusterrole", "system:basic-user"])
        .ok();
    assert!(
        described.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{described}"
    );
}

#[test]
fn aggregated_roles_gain_the_rules_of_the_roles_they_select() {
    let server = Server::start();
    // The built-in aggregation: admin ends up with edit's and view's rules too.
    poll_until(WAIT_TIMEOUT, "admin aggregated", || {
        let admin = server.kubectl_json(&["get", "clusterrole", "admin"]);
        (rules_have(
            &admin,
            "rbac.authorization.k8s.io",
            "rolebindings",
            "create",
        ) && rules_have(&admin, "apps", "deployments", "create")
            && rules_have(&admin, "", "pods", "get"))
        .then_some(())
    });
    let view = server.kubectl_json(&["get", "clusterrole", "view"]);
    assert!(
        !rules_have(&view, "", "pods", "create"),
        "view must stay read-only"
    );

    // A new role labelled aggregate-to-view adds its rule to view, edit and admin.
    server
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
                "metadata":{"name":"widgets-view","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},
                "rules":[{"apiGroups":["example.com"],"resources":["widgets"],"verbs":["get","list","watch"]}]}"#,
        )
        .ok();
    for role in ["view", "edit", "admin"] {
        poll_until(WAIT_TIMEOUT, &format!("{role} gains widgets"), || {
            let r = server.kubectl_json(&["get", "clusterrole", role]);
            rules_have(&r, "example.com", "widgets", "list").then_some(())
        });
    }
    let view = server.kubectl_json(&["get", "clusterrole", "view", "--show-managed-fields"]);
    let managers: Vec<&str> = view["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(
        managers.contains(&"clusterrole-aggregation-controller"),
        "{managers:?}"
    );

    // Deleting the role takes its rule away again.
    server
        .kubectl(&["delete", "clusterrole", "widgets-view"])
        .ok();
    poll_until(WAIT_TIMEOUT, "view loses widgets", || {
        let r = server.kubectl_json(&["get", "clusterrole", "view"]);
        (!rules_have(&r, "example.com", "widgets", "list") && rules_have(&r, "", "pods", "list"))
            .then_some(())
    });
}

#[test]
fn expired_bootstrap_tokens_are_deleted() {
    let server = Server::start();
    let token = |id: &str, expiration: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Secret","type":"bootstrap.kubernetes.io/token",
                "metadata":{{"name":"bootstrap-token-{id}","namespace":"kube-system"}},
                "stringData":{{"token-id":"{id}","token-secret":"0123456789abcdef","expiration":"{expiration}",
                               "usage-bootstrap-authentication":"true"}}}}"#
        )
    };
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &token("abcdef", "2000-01-01T00:00:00Z"),
        )
        .ok();
    server
        .kubectl_stdin(
            &["create", "-f", "-"],
            &token("ghijkl", "2999-01-01T00:00:00Z"),
        )
        .ok();
    // An opaque secret with an old expiration is not a bootstrap token: left alone.
    server
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "not-a-token",
            "-n",
            "kube-system",
            "--from-literal=expiration=2000-01-01T00:00:00Z",
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "the expired token deleted", || {
        (!server
            .kubectl(&[
                "get",
                "secret",
                "-n",
                "kube-system",
                "bootstrap-token-abcdef",
            ])
            .success())
        .then_some(())
    });
    server
        .kubectl(&[
            "get",
            "secret",
            "-n",
            "kube-system",
            "bootstrap-token-ghijkl",
        ])
        .ok();
    server
        .kubectl(&["get", "secret", "-n", "kube-system", "not-a-token"])
        .ok();
}

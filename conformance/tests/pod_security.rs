//! PodSecurity admission: the namespace's `pod-security.kubernetes.io/*` labels refuse
//! (enforce) or warn about (warn, and pod templates) pods breaking the Pod Security
//! Standards, with upstream's messages, through stock kubectl.

use k8rs_conformance::Server;

const RESTRICTED_POD: &str = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good"},
  "spec": {"securityContext": {"runAsNonRoot": true, "runAsUser": 1000,
                               "seccompProfile": {"type": "RuntimeDefault"}},
           "containers": [{"name": "c", "image": "busybox",
             "securityContext": {"allowPrivilegeEscalation": false,
                                 "capabilities": {"drop": ["ALL"]}}}]}}"#;

#[test]
fn enforce_restricted_refuses_a_plain_pod_and_admits_a_compliant_one() {
    let server = Server::start();
    server.kubectl(&["create", "namespace", "locked"]).ok();
    server
        .kubectl(&[
            "label",
            "namespace",
            "locked",
            "pod-security.kubernetes.io/enforce=restricted",
        ])
        .ok();
    let err = server
        .kubectl(&["run", "x", "--image=busybox", "-n", "locked"])
        .fails();
    assert!(
        err.contains(r#"Error from server (Forbidden): pods "x" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "x" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#),
        "{err}"
    );
    assert!(!server
        .kubectl(&["get", "pod", "x", "-n", "locked"])
        .success());

    let out = server.kubectl_stdin(&["create", "-n", "locked", "-f", "-"], RESTRICTED_POD);
    assert_eq!(out.ok().trim(), "pod/good created");
    assert!(!out.stderr.contains("Warning"), "{}", out.stderr);

    // A pinned version shows in the message.
    server
        .kubectl(&[
            "label",
            "--overwrite",
            "namespace",
            "locked",
            "pod-security.kubernetes.io/enforce=baseline",
            "pod-security.kubernetes.io/enforce-version=v1.30",
        ])
        .ok();
    let err = server
        .kubectl(&[
            "run",
            "host",
            "--image=busybox",
            "-n",
            "locked",
            "--overrides",
            r#"{"spec": {"hostNetwork": true}}"#,
        ])
        .fails();
    assert!(
        err.contains(r#"pods "host" is forbidden: violates PodSecurity "baseline:v1.30": host namespaces (hostNetwork=true)"#),
        "{err}"
    );
}

#[test]
fn warn_mode_and_pod_templates_answer_with_warnings() {
    let server = Server::start();
    server.kubectl(&["create", "namespace", "watched"]).ok();
    server
        .kubectl(&[
            "label",
            "namespace",
            "watched",
            "pod-security.kubernetes.io/warn=baseline",
        ])
        .ok();
    let deployment = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "priv"},
      "spec": {"selector": {"matchLabels": {"app": "priv"}},
        "template": {"metadata": {"labels": {"app": "priv"}},
          "spec": {"containers": [{"name": "nginx", "image": "nginx",
            "securityContext": {"privileged": true}}]}}}}"#;
    let out = server.kubectl_stdin(&["create", "-n", "watched", "-f", "-"], deployment);
    assert_eq!(out.ok().trim(), "deployment.apps/priv created");
    assert!(
        out.stderr.contains(r#"Warning: would violate PodSecurity "baseline:latest": privileged (container "nginx" must not set securityContext.privileged=true)"#),
        "{}",
        out.stderr
    );

    // Warn mode on a pod: created, with the warning.
    let out = server.kubectl(&[
        "run",
        "w",
        "--image=busybox",
        "-n",
        "watched",
        "--overrides",
        r#"{"spec": {"hostPID": true}}"#,
    ]);
    assert_eq!(out.ok().trim(), "pod/w created");
    assert!(
        out.stderr.contains(r#"Warning: would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)"#),
        "{}",
        out.stderr
    );

    // Only the warn level speaks for templates: an enforcing namespace accepts the
    // Deployment silently (its pods are what get refused).
    server.kubectl(&["create", "namespace", "strict"]).ok();
    server
        .kubectl(&[
            "label",
            "namespace",
            "strict",
            "pod-security.kubernetes.io/enforce=baseline",
        ])
        .ok();
    let out = server.kubectl_stdin(&["create", "-n", "strict", "-f", "-"], deployment);
    assert_eq!(out.ok().trim(), "deployment.apps/priv created");
    assert!(!out.stderr.contains("Warning"), "{}", out.stderr);
}

#[test]
fn namespaces_with_invalid_levels_are_refused() {
    let server = Server::start();
    let err = server
        .kubectl_stdin(
            &["create", "-f", "-"],
            r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "typo",
                "labels": {"pod-security.kubernetes.io/enforce": "strict"}}}"#,
        )
        .fails();
    assert!(
        err.contains(r#"Namespace "typo" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#),
        "{err}"
    );
}

/// A stricter enforce label is tried against the pods already in the namespace (warnings,
/// one per distinct violation); pods there are judged again when an update changes an image.
#[test]
fn updates_are_admitted_against_the_namespace_policy() {
    let server = Server::start();
    server.kubectl(&["create", "namespace", "tight"]).ok();
    server.wait_for_default_service_account("tight");
    for name in ["a", "b", "c"] {
        server
            .kubectl(&[
                "run",
                name,
                "--image=busybox",
                "-n",
                "tight",
                "--privileged",
            ])
            .ok();
    }
    let out = server.kubectl(&[
        "label",
        "namespace",
        "tight",
        "pod-security.kubernetes.io/enforce=baseline",
    ]);
    out.ok();
    assert!(
        out.stderr.contains(r#"Warning: existing pods in namespace "tight" violate the new PodSecurity enforce level "baseline:latest""#),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Warning: a (and 2 other pods): privileged"),
        "{}",
        out.stderr
    );
    // Relaxing the level checks nothing.
    let out = server.kubectl(&[
        "label",
        "--overwrite",
        "namespace",
        "tight",
        "pod-security.kubernetes.io/enforce=privileged",
    ]);
    out.ok();
    assert!(!out.stderr.contains("Warning"), "{}", out.stderr);
    server
        .kubectl(&[
            "label",
            "--overwrite",
            "namespace",
            "tight",
            "pod-security.kubernetes.io/enforce=baseline",
        ])
        .ok();

    // A label change on a violating pod is not significant; an image change is.
    server
        .kubectl(&["label", "pod", "a", "-n", "tight", "touched=yes"])
        .ok();
    let err = server
        .kubectl(&["set", "image", "pod/a", "a=busybox:1.36", "-n", "tight"])
        .fails();
    assert!(
        err.contains(r#"violates PodSecurity "baseline:latest": privileged"#),
        "{err}"
    );
}

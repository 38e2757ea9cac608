use serde_json::{json, Value};

use super::*;

fn pod(spec: Value) -> Value {
    json!({"metadata": {"name": "p"}, "spec": spec})
}

fn restricted_ok_container(name: &str) -> Value {
    json!({"name": name, "securityContext": {
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": true,
        "seccompProfile": {"type": "RuntimeDefault"},
    }})
}

fn labels(pairs: &[(&str, &str)]) -> Value {
    pairs
        .iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[test]
fn a_plain_pod_violates_restricted_with_upstreams_message() {
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox"}]}));
    let got = evaluate(Level::Restricted, u32::MAX, &p["metadata"], &p["spec"]).join(", ");
    assert_eq!(
        got,
        r#"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    assert!(evaluate(Level::Baseline, u32::MAX, &p["metadata"], &p["spec"]).is_empty());
}

#[test]
fn each_check_reports_upstreams_reason_and_detail() {
    let cases: &[(Level, Value, &str)] = &[
        (
            Level::Baseline,
            json!({"hostNetwork": true, "hostIPC": true, "containers": [{"name": "c"}]}),
            "host namespaces (hostNetwork=true, hostIPC=true)",
        ),
        (
            Level::Baseline,
            json!({"containers": [{"name": "a", "securityContext": {"privileged": true}},
                                  {"name": "b", "securityContext": {"privileged": true}}]}),
            r#"privileged (containers "a", "b" must not set securityContext.privileged=true)"#,
        ),
        (
            Level::Baseline,
            json!({"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN", "SYS_ADMIN"]}}}]}),
            r#"non-default capabilities (container "c" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add)"#,
        ),
        (
            Level::Baseline,
            json!({"containers": [{"name": "c"}], "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}),
            r#"hostPath volumes (volume "h")"#,
        ),
        (
            Level::Baseline,
            json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]},
                                  {"name": "b", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}),
            r#"hostPort (containers "a", "b" use hostPorts 80, 8080)"#,
        ),
        (
            Level::Baseline,
            json!({"containers": [{"name": "c", "securityContext": {"procMount": "Unmasked"}}]}),
            r#"procMount (container "c" must not set securityContext.procMount to "Unmasked")"#,
        ),
        (
            Level::Baseline,
            json!({"securityContext": {"seLinuxOptions": {"type": "spc_t", "user": "u"}}, "containers": [{"name": "c"}]}),
            r#"seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set)"#,
        ),
        (
            Level::Baseline,
            json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [{"name": "c"}]}),
            r#"seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")"#,
        ),
        (
            Level::Baseline,
            json!({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"}]}, "containers": [{"name": "c"}]}),
            "forbidden sysctls (kernel.msgmax)",
        ),
        (
            Level::Baseline,
            json!({"containers": [{"name": "c", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}),
            r#"hostProcess (container "c" must not set securityContext.windowsOptions.hostProcess=true)"#,
        ),
        (
            Level::Baseline,
            json!({"containers": [{"name": "c", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]}),
            r#"forbidden AppArmor profile (container "c" must not set AppArmor profile type to "Unconfined")"#,
        ),
        (
            Level::Restricted,
            json!({"containers": [restricted_ok_container("c")], "volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}, {"name": "e", "emptyDir": {}}]}),
            r#"restricted volume types (volume "n" uses restricted volume type "nfs")"#,
        ),
        (
            Level::Restricted,
            json!({"securityContext": {"runAsUser": 0}, "containers": [restricted_ok_container("c")]}),
            "runAsUser=0 (pod must not set runAsUser=0)",
        ),
        (
            Level::Restricted,
            json!({"securityContext": {"runAsNonRoot": false}, "containers": [restricted_ok_container("c")]}),
            "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
        ),
    ];
    for (level, spec, want) in cases {
        let p = pod(spec.clone());
        let got = evaluate(*level, u32::MAX, &p["metadata"], &p["spec"]).join(", ");
        assert_eq!(&got, want, "{spec}");
    }
}

#[test]
fn restricted_replaces_the_baseline_capability_check() {
    let mut c = restricted_ok_container("c");
    c["securityContext"]["capabilities"]["add"] = json!(["SYS_ADMIN", "NET_BIND_SERVICE"]);
    let p = pod(json!({"containers": [c]}));
    assert_eq!(
        evaluate(Level::Restricted, u32::MAX, &p["metadata"], &p["spec"]),
        [
            r#"unrestricted capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)"#
        ]
    );
}

#[test]
fn compliant_pods_pass_and_pod_level_settings_cover_containers() {
    let p = pod(json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
        "volumes": [{"name": "t", "projected": {"sources": []}}],
    }));
    assert!(evaluate(Level::Restricted, u32::MAX, &p["metadata"], &p["spec"]).is_empty());
}

#[test]
fn enforce_refuses_and_warn_warns() {
    let p = pod(json!({"containers": [{"name": "c", "securityContext": {"privileged": true}}]}));
    let enforced = policy(&labels(&[("enforce", "baseline")]));
    let err = decide_pod(&enforced, &p).unwrap_err();
    assert_eq!(err.code, 403);
    assert!(err.to_status()["message"]
        .as_str()
        .is_some_and(|m| m.starts_with(
            r#"pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged ("#
        )));

    let warned = policy(&labels(&[("warn", "baseline"), ("warn-version", "v1.30")]));
    assert_eq!(
        decide_pod(&warned, &p).unwrap(),
        [
            r#"would violate PodSecurity "baseline:v1.30": privileged (container "c" must not set securityContext.privileged=true)"#
        ]
    );
    // Templates are never refused, and only the warn level speaks for them.
    assert!(decide_template(&enforced, &p).is_empty());
    assert_eq!(decide_template(&warned, &p).len(), 1);
    assert!(decide_pod(&policy(&Value::Null), &p).unwrap().is_empty());
}

#[test]
fn bad_labels_fall_back_and_are_refused_on_namespaces() {
    let l = labels(&[("enforce", "strict"), ("enforce-version", "v1.007")]);
    assert_eq!(mode_policy(&l, "enforce").to_string(), "restricted:latest");
    let warn = labels(&[("warn", "loud")]);
    assert_eq!(mode_policy(&warn, "warn").level, Level::Privileged);
    let ns = json!({"metadata": {"name": "typo", "labels": l}});
    let err = validate_namespace(&ns).unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.to_status()["message"],
        r#"Namespace "typo" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "v1.007": must be "latest" or "v1.x"]"#
    );
    assert!(validate_namespace(&json!({"metadata": {"name": "ok", "labels": labels(&[("warn", "restricted"), ("warn-version", "v1.0")])}})).is_ok());
}

#[test]
fn templates_are_found_in_every_workload_kind() {
    let t = json!({"spec": {"containers": []}});
    let cases = [
        ("", "PodTemplate", json!({"template": t})),
        ("apps", "Deployment", json!({"spec": {"template": t}})),
        (
            "batch",
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": t}}}}),
        ),
    ];
    for (group, kind, obj) in cases {
        assert_eq!(template(group, kind, &obj), Some(&t), "{kind}");
    }
    assert_eq!(template("", "Service", &json!({})), None);
}

#[test]
fn pinned_versions_skip_checks_newer_than_them() {
    let p = pod(json!({"containers": [{"name": "c", "securityContext": {
        "allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 0}}]}));
    let reasons = |minor| {
        evaluate(Level::Restricted, minor, &p["metadata"], &p["spec"])
            .iter()
            .map(|v| v.split(" (").next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        reasons(u32::MAX),
        ["unrestricted capabilities", "runAsUser=0", "seccompProfile"]
    );
    assert_eq!(reasons(18), Vec::<String>::new());
    let lv = mode_policy(
        &labels(&[("enforce", "restricted"), ("enforce-version", "v1.22")]),
        "enforce",
    );
    assert_eq!(
        reasons(lv.minor()),
        ["unrestricted capabilities", "seccompProfile"]
    );
}

#[test]
fn namespace_warnings_group_pods_by_violation() {
    let privileged = |name: &str| {
        json!({"metadata": {"name": name}, "spec": {"containers": [
            {"name": "c", "image": "busybox", "securityContext": {"privileged": true}}]}})
    };
    let plain = json!({"metadata": {"name": "fine"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let host = json!({"metadata": {"name": "h"}, "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "busybox"}]}});
    let enforce = LevelVersion {
        level: Level::Baseline,
        version: "latest".into(),
    };
    let w = namespace_warnings(
        "ns",
        &enforce,
        &[
            privileged("z"),
            privileged("b"),
            plain,
            host,
            privileged("m"),
        ],
    );
    assert_eq!(
        w,
        vec![
            r#"existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest""#.to_string(),
            "b (and 2 other pods): privileged".to_string(),
            "h: host namespaces".to_string(),
        ]
    );
    assert!(namespace_warnings("ns", &enforce, &[]).is_empty());
}

#[test]
fn only_image_seccomp_and_container_changes_are_significant() {
    let pod = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let mut relabelled = pod.clone();
    relabelled["metadata"]["labels"]["a"] = json!("2");
    assert!(!significant_pod_update(&pod, &relabelled));
    let mut image = pod.clone();
    image["spec"]["containers"][0]["image"] = json!("y");
    assert!(significant_pod_update(&pod, &image));
    let mut debug = pod.clone();
    debug["spec"]["ephemeralContainers"] = json!([{"name": "d", "image": "x"}]);
    assert!(significant_pod_update(&pod, &debug));
}

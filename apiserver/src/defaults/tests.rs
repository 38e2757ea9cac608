//! Defaulted objects compared with what kube-apiserver v1.33 answers for the same request.

use k8rs_storage::Storage;
use serde_json::{json, Value};

use super::*;
use crate::builtin;

fn info(group: &str, version: &str, kind: &str) -> ResourceInfo {
    builtin::resources()
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
        .unwrap_or_else(|| panic!("{group}/{version} {kind} is not built in"))
}

fn created(group: &str, version: &str, kind: &str, mut obj: Value) -> Value {
    let info = info(group, version, kind);
    crate::strategy::prepare_for_create(&info, &mut obj);
    obj
}

#[test]
fn bare_pod_as_upstream() {
    let pod = created(
        "",
        "v1",
        "Pod",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
    );
    assert_eq!(
        pod,
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "generation": 1},
            "spec": {
                "containers": [{
                    "image": "nginx",
                    "imagePullPolicy": "Always",
                    "name": "c",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }],
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": true,
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30,
            },
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        })
    );
}

#[test]
fn bare_deployment_as_upstream() {
    // What `kubectl create deployment web --image=busybox` sends.
    let d = created(
        "apps",
        "v1",
        "Deployment",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "busybox", "image": "busybox", "resources": {}}]},
                },
            },
            "status": {},
        }),
    );
    assert_eq!(
        d,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "generation": 1},
            "spec": {
                "progressDeadlineSeconds": 600,
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                    "type": "RollingUpdate",
                },
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "image": "busybox",
                            "imagePullPolicy": "Always",
                            "name": "busybox",
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                        }],
                        "dnsPolicy": "ClusterFirst",
                        "restartPolicy": "Always",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30,
                    },
                },
            },
        })
    );
}

#[test]
fn pod_nested_defaults() {
    let pod = created(
        "",
        "v1",
        "Pod",
        json!({"metadata": {"name": "p"}, "spec": {
            "hostNetwork": true,
            "serviceAccount": "robot",
            "volumes": [
                {"name": "a"},
                {"name": "b", "secret": {"secretName": "s"}},
                {"name": "c", "configMap": {"name": "cm", "defaultMode": 256}},
                {"name": "d", "hostPath": {"path": "/x"}},
                {"name": "e", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "t"}},
                    {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                ]}},
            ],
            "containers": [{
                "name": "c", "image": "registry:5000/app:v1",
                "ports": [{"containerPort": 80}],
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
            }],
        }}),
    );
    let s = &pod["spec"];
    assert_eq!(s["serviceAccountName"], "robot");
    assert_eq!(s["serviceAccount"], "robot");
    assert_eq!(s["volumes"][0]["emptyDir"], json!({}));
    assert_eq!(s["volumes"][1]["secret"]["defaultMode"], 420);
    assert_eq!(s["volumes"][2]["configMap"]["defaultMode"], 256);
    assert_eq!(s["volumes"][3]["hostPath"]["type"], "");
    assert_eq!(s["volumes"][4]["projected"]["defaultMode"], 420);
    assert_eq!(
        s["volumes"][4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3600
    );
    assert_eq!(
        s["volumes"][4]["projected"]["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]
            ["apiVersion"],
        "v1"
    );
    let c = &s["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        c["ports"][0],
        json!({"containerPort": 80, "hostPort": 80, "protocol": "TCP"})
    );
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "1", "memory": "1Gi"})
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
               "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["readinessProbe"]["grpc"]["service"], "");
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(pod["status"]["qosClass"], "Guaranteed");
}

#[test]
fn templates_do_not_get_pod_only_defaults() {
    let t = created(
        "",
        "v1",
        "PodTemplate",
        json!({"metadata": {"name": "t"}, "template": {"spec": {"containers": [
            {"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}]}}}),
    );
    let spec = &t["template"]["spec"];
    assert!(spec.get("enableServiceLinks").is_none());
    assert!(spec["containers"][0]["resources"].get("requests").is_none());
    assert_eq!(spec["restartPolicy"], "Always");
}

#[test]
fn image_pull_policies() {
    for (image, policy) in [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),
        ("localhost:5000/nginx:v2", "IfNotPresent"),
        (
            "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "IfNotPresent",
        ),
        (
            "nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Always",
        ),
        ("Nginx", "IfNotPresent"),
        ("", "IfNotPresent"),
    ] {
        assert_eq!(core::pull_policy(image), policy, "{image}");
    }
}

#[test]
fn qos_classes() {
    let spec = |resources: Value| json!({"containers": [{"name": "c", "resources": resources}]});
    assert_eq!(core::qos_class(&spec(json!({}))), "BestEffort");
    assert_eq!(
        core::qos_class(&spec(json!({"requests": {"cpu": "100m"}}))),
        "Burstable"
    );
    assert_eq!(
        core::qos_class(&spec(json!({"requests": {"cpu": "1", "memory": "1Gi"},
                                     "limits": {"cpu": "1000m", "memory": "1024Mi"}}))),
        "Guaranteed"
    );
    assert_eq!(
        core::qos_class(&spec(
            json!({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})
        )),
        "Burstable"
    );
    // Only cpu and memory count.
    assert_eq!(
        core::qos_class(&spec(json!({"requests": {"ephemeral-storage": "1Gi"}}))),
        "BestEffort"
    );
}

#[test]
fn workload_defaults() {
    let ss = created(
        "apps",
        "v1",
        "StatefulSet",
        json!({"metadata": {"name": "s"}, "spec": {"volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}),
    );
    let s = &ss["spec"];
    assert_eq!(s["replicas"], 1);
    assert_eq!(s["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        s["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(s["revisionHistoryLimit"], 10);
    assert_eq!(
        s["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    assert_eq!(
        s["volumeClaimTemplates"][0],
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
               "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
               "status": {"phase": "Pending"}})
    );

    let ds = created(
        "apps",
        "v1",
        "DaemonSet",
        json!({"metadata": {"name": "d"}}),
    );
    assert_eq!(
        ds["spec"],
        json!({"revisionHistoryLimit": 10, "updateStrategy": {"type": "RollingUpdate",
               "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}})
    );

    let rc = created(
        "",
        "v1",
        "ReplicationController",
        json!({"metadata": {"name": "r"}, "spec": {"template": {
            "metadata": {"labels": {"app": "r"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}}),
    );
    assert_eq!(rc["spec"]["selector"], json!({"app": "r"}));
    assert_eq!(rc["metadata"]["labels"], json!({"app": "r"}));
    assert_eq!(rc["spec"]["replicas"], 1);
}

#[test]
fn job_and_cronjob_defaults() {
    let job = created(
        "batch",
        "v1",
        "Job",
        json!({"metadata": {"name": "j", "uid": "u-1"}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
    );
    let s = &job["spec"];
    assert_eq!(s["parallelism"], 1);
    assert_eq!(s["completions"], 1);
    assert_eq!(s["backoffLimit"], 6);
    assert_eq!(s["completionMode"], "NonIndexed");
    assert_eq!(s["suspend"], false);
    assert_eq!(s["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(
        s["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
    );
    assert_eq!(
        s["template"]["metadata"]["labels"],
        json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "j",
               "controller-uid": "u-1", "job-name": "j"})
    );
    assert_eq!(s["template"]["spec"]["restartPolicy"], "Never");

    let parallel = created(
        "batch",
        "v1",
        "Job",
        json!({"metadata": {"name": "j"}, "spec": {"parallelism": 3, "manualSelector": true}}),
    );
    assert!(parallel["spec"].get("completions").is_none());
    assert!(parallel["spec"].get("selector").is_none());

    let cj = created(
        "batch",
        "v1",
        "CronJob",
        json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": {
            "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                     "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
    );
    let s = &cj["spec"];
    assert_eq!(s["concurrencyPolicy"], "Allow");
    assert_eq!(s["suspend"], false);
    assert_eq!(s["successfulJobsHistoryLimit"], 3);
    assert_eq!(s["failedJobsHistoryLimit"], 1);
    assert!(s["jobTemplate"]["spec"].get("backoffLimit").is_none());
    assert_eq!(
        s["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
        "ClusterFirst"
    );
}

#[test]
fn service_defaults() {
    let svc = created(
        "",
        "v1",
        "Service",
        json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort",
               "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}),
    );
    assert_eq!(
        svc["spec"],
        json!({"type": "NodePort", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
               "internalTrafficPolicy": "Cluster",
               "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                         {"port": 53, "protocol": "UDP", "targetPort": "dns"}]})
    );
    assert_eq!(svc["status"], json!({"loadBalancer": {}}));
}

#[test]
fn service_update_keeps_allocations_and_drops_type_fields() {
    let info = info("", "v1", "Service");
    let old = json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {
        "type": "NodePort", "clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"],
        "externalTrafficPolicy": "Cluster",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30100}]}});
    // A replace that leaves the allocated values out keeps them.
    let body = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort",
        "ports": [{"name": "http", "port": 80}]}});
    let new = crate::strategy::prepare_for_update(&info, &old, body, crate::strategy::Part::Main);
    assert_eq!(new["spec"]["clusterIP"], "10.96.0.9");
    assert_eq!(new["spec"]["clusterIPs"], json!(["10.96.0.9"]));
    assert_eq!(new["spec"]["ports"][0]["nodePort"], 30100);
    // Switching to ClusterIP drops the node ports and the external traffic policy.
    let mut body = old.clone();
    body["spec"]["type"] = json!("ClusterIP");
    let new = crate::strategy::prepare_for_update(&info, &old, body, crate::strategy::Part::Main);
    assert!(new["spec"]["ports"][0].get("nodePort").is_none());
    assert!(new["spec"].get("externalTrafficPolicy").is_none());
}

#[test]
fn other_group_defaults() {
    let np = created(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        json!({"metadata": {"name": "n"}, "spec": {"podSelector": {},
               "egress": [{"ports": [{"port": 53}]}]}}),
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");

    let hpa = created(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        json!({"metadata": {"name": "h"}, "spec": {"maxReplicas": 3,
               "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
    );
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
    assert_eq!(
        hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        60
    );
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"]["policies"][0]["type"],
        "Pods"
    );

    let pc = created(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        json!({"metadata": {"name": "p"}, "value": 5}),
    );
    assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
    let sc = created(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        json!({"metadata": {"name": "s"}, "provisioner": "x"}),
    );
    assert_eq!(sc["reclaimPolicy"], "Delete");
    assert_eq!(sc["volumeBindingMode"], "Immediate");
    let pv = created(
        "",
        "v1",
        "PersistentVolume",
        json!({"metadata": {"name": "v"}, "spec": {"hostPath": {"path": "/d"}}}),
    );
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pv["status"]["phase"], "Pending");
    let rb = created(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        json!({"metadata": {"name": "r"}, "roleRef": {"kind": "Role", "name": "x"},
               "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]}),
    );
    assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
    assert!(rb["subjects"][1].get("apiGroup").is_none());
}

/// Claims go through storage: a taken IP or port is refused, released ones come back.
#[tokio::test]
async fn allocation_is_exclusive_and_released() {
    let dir = tempfile::tempdir().unwrap();
    let store = k8rs_storage::embedded::EmbeddedStore::open(dir.path()).unwrap();
    let info = info("", "v1", "Service");
    let svc = |name: &str, spec: Value| {
        let mut s = created(
            "",
            "v1",
            "Service",
            json!({"metadata": {"name": name, "namespace": "d"}, "spec": spec}),
        );
        s["metadata"]["namespace"] = json!("d");
        s
    };

    let mut a = svc(
        "a",
        json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}),
    );
    let claimed = ipalloc::claim(&store, &info, &mut a, None, false)
        .await
        .unwrap();
    assert_eq!(a["spec"]["clusterIPs"], json!(["10.96.0.10"]));
    assert_eq!(a["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(a["spec"]["ipFamilyPolicy"], "SingleStack");
    drop(claimed);

    let mut b = svc(
        "b",
        json!({"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}),
    );
    let err = ipalloc::claim(&store, &info, &mut b, None, false)
        .await
        .unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.contains("provided IP is already allocated"),
        "{}",
        err.message
    );

    let mut c = svc(
        "c",
        json!({"clusterIP": "1.2.3.4", "ports": [{"port": 80}]}),
    );
    let err = ipalloc::claim(&store, &info, &mut c, None, false)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("not in the valid range"),
        "{}",
        err.message
    );

    let mut n = svc(
        "n",
        json!({"type": "NodePort", "ports": [{"port": 53, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}, {"port": 80, "nodePort": 30080}]}),
    );
    let _ = ipalloc::claim(&store, &info, &mut n, None, false)
        .await
        .unwrap();
    let ip = n["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.") && ip != "10.96.0.10", "{ip}");
    let p0 = n["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!((30000..=32767).contains(&p0));
    assert_eq!(n["spec"]["ports"][1]["nodePort"].as_u64(), Some(p0));
    assert_eq!(n["spec"]["ports"][2]["nodePort"], 30080);

    let mut m = svc(
        "m",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    );
    let err = ipalloc::claim(&store, &info, &mut m, None, false)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("provided port is already allocated"),
        "{}",
        err.message
    );
    // The failed claim gave back the IP it had taken.
    let ips = store
        .list(
            "/registry/networking.k8s.io/ipaddresses/",
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(ips.items.len(), 2);

    ipalloc::release(&store, &info, &n).await;
    let mut m = svc(
        "m",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    );
    let _ = ipalloc::claim(&store, &info, &mut m, None, false)
        .await
        .unwrap();

    let mut h = svc("h", json!({"clusterIP": "None", "ports": [{"port": 80}]}));
    let _ = ipalloc::claim(&store, &info, &mut h, None, false)
        .await
        .unwrap();
    assert_eq!(h["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(h["spec"]["ipFamilyPolicy"], "RequireDualStack");
}

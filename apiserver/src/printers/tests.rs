//! Printer tests: cells compared with what kube-apiserver prints for the same objects (most
//! cases are upstream's printers_test.go cases, written as the JSON those objects store as).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::*;

fn now() -> Now {
    DateTime::parse_from_rfc3339("2024-06-01T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A timestamp `secs` seconds before [`now`].
fn ago(secs: i64) -> String {
    (now() - TimeDelta::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The cells of `obj`, printed by the printer its apiVersion/kind select.
fn cells(obj: Value) -> Vec<Value> {
    for_object(&obj).row(&obj, now())["cells"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The column names of a kind.
fn headers(group: &str, kind: &str) -> Vec<&'static str> {
    for_kind(group, kind)
        .columns
        .iter()
        .map(|c| c.name)
        .collect()
}

fn pod(name: &str, spec: Value, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec, "status": status})
}

#[test]
fn human_durations() {
    for (secs, want) in [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 30 * 60, "3h30m"),
        (8 * 3600, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (800 * 86400, "2y70d"),
        (10 * 365 * 86400, "10y"),
    ] {
        assert_eq!(human_duration(TimeDelta::seconds(secs)), want, "{secs}s");
    }
    // Sub-second precision truncates toward zero.
    assert_eq!(human_duration(TimeDelta::milliseconds(-1500)), "0s");
    assert_eq!(human_duration(TimeDelta::milliseconds(2999)), "2s");
}

#[test]
fn column_definitions_as_upstream() {
    let cols = for_kind("", "Pod").column_definitions();
    assert_eq!(cols[0]["name"], "Name");
    assert_eq!(cols[0]["format"], "name");
    assert_eq!(cols[0]["type"], "string");
    assert_eq!(cols[0]["priority"], 0);
    assert_eq!(cols[3]["name"], "Restarts");
    assert_eq!(cols[5]["name"], "IP");
    assert_eq!(cols[5]["priority"], 1);
    assert_eq!(cols[5]["format"], "");
    assert!(cols[4]["description"]
        .as_str()
        .is_some_and(|d| d.starts_with("CreationTimestamp is a timestamp")));

    assert_eq!(headers("", "Namespace"), ["Name", "Status", "Age"]);
    assert_eq!(headers("", "ConfigMap"), ["Name", "Data", "Age"]);
    assert_eq!(headers("", "Secret"), ["Name", "Type", "Data", "Age"]);
    assert_eq!(
        headers("apps", "Deployment"),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        headers("", "Event"),
        [
            "Last Seen",
            "Type",
            "Reason",
            "Object",
            "Subobject",
            "Source",
            "Message",
            "First Seen",
            "Count",
            "Name"
        ]
    );
    assert_eq!(headers("events.k8s.io", "Event"), headers("", "Event"));
    // No printer upstream: the default convertor.
    assert_eq!(
        headers("rbac.authorization.k8s.io", "Role"),
        ["Name", "Created At"]
    );
    assert_eq!(
        headers("apiextensions.k8s.io", "CustomResourceDefinition"),
        ["Name", "Created At"]
    );
    assert_eq!(headers("", "LimitRange"), ["Name", "Created At"]);
    assert_eq!(for_kind("", "LimitRange").columns[1].kind, "date");
}

#[test]
fn every_printer_fills_its_columns() {
    // Even an empty object yields one cell per column (IPAddress adds an age cell with no
    // column, as upstream does).
    for p in all() {
        let obj = json!({"metadata": {"name": "x"}});
        let n = (p.cells)(&obj, now()).len();
        let want = p.columns.len() + usize::from(p.kind == "IPAddress");
        assert_eq!(n, want, "{}/{}", p.group, p.kind);
        let names = p.columns.iter().filter(|c| c.format == "name").count();
        assert!(names <= 2, "{}", p.kind);
    }
    // Kinds are found by group and kind only once.
    let mut keys: Vec<_> = all().map(|p| (p.group, p.kind)).collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n);
}

#[test]
fn default_convertor_prints_name_and_creation_time() {
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "r", "creationTimestamp": "2024-05-01T10:00:00Z"}});
    assert_eq!(cells(role), [json!("r"), json!("2024-05-01T10:00:00Z")]);
    let unset = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"}});
    assert_eq!(cells(unset), [json!("l"), json!("0001-01-01T00:00:00Z")]);
}

#[test]
fn pods() {
    let running = |ready| json!({"ready": ready, "restartCount": 3, "state": {"running": {}}});
    let completed = json!({"ready": true, "restartCount": 3,
        "state": {"terminated": {"reason": "Completed", "exitCode": 0}}});
    let two = json!({"containers": [{}, {}]});
    // upstream test6: one container completed, one running, no Ready condition.
    let p = pod(
        "test6",
        two.clone(),
        json!({"phase": "Running",
        "containerStatuses": [completed, running(true)]}),
    );
    assert_eq!(
        &cells(p)[..5],
        [
            json!("test6"),
            json!("1/2"),
            json!("NotReady"),
            json!("6"),
            json!("<unknown>")
        ]
    );
    // ... and with it.
    let p = pod(
        "test6",
        two.clone(),
        json!({"phase": "Running",
        "containerStatuses": [completed, running(true)],
        "conditions": [{"type": "Ready", "status": "True"}]}),
    );
    assert_eq!(cells(p)[2], "Running");

    // test7: an init container restarting, 10s ago.
    let p = pod(
        "test7",
        json!({"initContainers": [{}], "containers": [{}]}),
        json!({
        "phase": "podPhase",
        "initContainerStatuses": [{"ready": false, "restartCount": 3, "state": {"running": {}},
            "lastState": {"terminated": {"finishedAt": ago(10)}}}],
        "containerStatuses": [{"ready": false, "restartCount": 0, "state": {"waiting": {}}}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("0/1"), json!("Init:0/1"), json!("3 (10s ago)")]
    );

    // test10: restarts of completed and running init containers add up.
    let p = pod(
        "test10",
        json!({"initContainers": [{}, {}], "containers": [{}]}),
        json!({
        "phase": "podPhase",
        "initContainerStatuses": [
            {"restartCount": 2, "state": {"terminated": {}},
             "lastState": {"terminated": {"finishedAt": ago(120)}}},
            {"restartCount": 3, "state": {"running": {}},
             "lastState": {"terminated": {"finishedAt": ago(10)}}}],
        "containerStatuses": [{"state": {"waiting": {}}}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("0/1"), json!("Init:1/2"), json!("5 (10s ago)")]
    );

    // test11: init done; only the main container's restarts count.
    let p = pod(
        "test11",
        json!({"initContainers": [{}], "containers": [{}]}),
        json!({
        "phase": "Running",
        "initContainerStatuses": [{"restartCount": 2, "state": {"terminated": {}},
            "lastState": {"terminated": {"finishedAt": ago(120)}}}],
        "containerStatuses": [{"restartCount": 4, "state": {"running": {}},
            "lastState": {"terminated": {"finishedAt": ago(20)}}}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("0/1"), json!("Running"), json!("4 (20s ago)")]
    );

    // test14: the most recent restart of all containers.
    let p = pod(
        "test14",
        two.clone(),
        json!({"phase": "Running", "containerStatuses": [
        {"ready": true, "restartCount": 6, "state": {"running": {}},
         "lastState": {"terminated": {"finishedAt": ago(5 * 86400)}}},
        {"ready": true, "restartCount": 3, "state": {"running": {}},
         "lastState": {"terminated": {"finishedAt": ago(20 * 86400)}}}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("2/2"), json!("Running"), json!("9 (5d ago)")]
    );

    // test15: scheduling gates.
    let p = pod(
        "test15",
        two.clone(),
        json!({"phase": "podPhase", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("0/2"), json!("SchedulingGated"), json!("0")]
    );

    // test16/17: finished pods carry the Completed row condition.
    let p = pod(
        "test16",
        json!({"containers": [{}]}),
        json!({"phase": "Succeeded",
        "containerStatuses": [{"ready": false, "restartCount": 0,
            "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
    );
    let row = for_object(&p).row(&p, now());
    assert_eq!(row["cells"][2], "Completed");
    assert_eq!(
        row["conditions"],
        json!([{"type": "Completed", "status": "True",
        "reason": "Succeeded", "message": "The pod has completed successfully."}])
    );
    let p = pod(
        "test17",
        json!({"containers": [{}]}),
        json!({"phase": "Failed",
        "containerStatuses": [{"state": {"terminated": {"reason": "Error", "exitCode": 1}}}]}),
    );
    let row = for_object(&p).row(&p, now());
    assert_eq!(row["cells"][2], "Error");
    assert_eq!(row["conditions"][0]["reason"], "Failed");
    assert_eq!(row["conditions"][0]["message"], "The pod failed.");
    let p = pod(
        "running",
        json!({"containers": [{}]}),
        json!({"phase": "Running"}),
    );
    assert!(for_object(&p).row(&p, now()).get("conditions").is_none());

    // Exit codes and signals without a reason.
    let p = pod(
        "sig",
        json!({"containers": [{}]}),
        json!({"phase": "Running",
        "containerStatuses": [{"state": {"terminated": {"signal": 9, "exitCode": 137}}}]}),
    );
    assert_eq!(cells(p)[2], "Signal:9");
    let p = pod(
        "init",
        json!({"initContainers": [{}], "containers": [{}]}),
        json!({"phase": "Pending",
        "initContainerStatuses": [{"state": {"terminated": {"exitCode": 2}}}]}),
    );
    assert_eq!(cells(p)[2], "Init:ExitCode:2");
    let p = pod(
        "init",
        json!({"initContainers": [{}], "containers": [{}]}),
        json!({"phase": "Pending",
        "initContainerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
    );
    assert_eq!(cells(p)[2], "Init:ImagePullBackOff");

    // test19/20: deletion.
    let mut p = pod(
        "test19",
        json!({"containers": [{}]}),
        json!({"phase": "Running",
        "containerStatuses": [{"state": {"running": {}}}]}),
    );
    p["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(cells(p.clone())[2], "Terminating");
    p["status"]["reason"] = json!("NodeLost");
    assert_eq!(cells(p)[2], "Unknown");
    let mut p = pod(
        "test18",
        json!({"containers": [{}]}),
        json!({"phase": "Succeeded",
        "containerStatuses": [{"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
    );
    p["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(cells(p)[2], "Completed");
}

#[test]
fn pods_with_sidecars() {
    let spec = json!({"initContainers": [
        {"name": "restartable-init-1", "restartPolicy": "Always"},
        {"name": "restartable-init-2", "restartPolicy": "Always"}], "containers": [{}]});
    // Both sidecars started, the main container running.
    let p = pod(
        "test2",
        spec.clone(),
        json!({"phase": "Running",
        "initContainerStatuses": [
            {"name": "restartable-init-1", "restartCount": 3, "state": {"running": {}}, "started": true,
             "lastState": {"terminated": {"finishedAt": ago(10)}}},
            {"name": "restartable-init-2", "state": {"running": {}}, "started": true}],
        "containerStatuses": [{"ready": true, "restartCount": 4, "state": {"running": {}},
            "lastState": {"terminated": {"finishedAt": ago(20)}}}],
        "conditions": [{"type": "Initialized", "status": "True"}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("1/3"), json!("Running"), json!("7 (10s ago)")]
    );
    // The second one not started yet.
    let p = pod(
        "test1",
        spec.clone(),
        json!({"phase": "Pending",
        "initContainerStatuses": [
            {"name": "restartable-init-1", "restartCount": 3, "state": {"running": {}}, "started": true,
             "lastState": {"terminated": {"finishedAt": ago(10)}}},
            {"name": "restartable-init-2", "state": {"running": {}}, "started": false}],
        "containerStatuses": [{"state": {"waiting": {}}}],
        "conditions": [{"type": "Initialized", "status": "False"}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("0/3"), json!("Init:1/2"), json!("3 (10s ago)")]
    );
    // Statuses of containers the spec does not have.
    let p = pod(
        "test4",
        json!({"initContainers": [
            {"name": "init1", "image": "initimage"},
            {"name": "sidecar1", "image": "sidecarimage", "restartPolicy": "Always"}],
        "containers": [{"name": "container1", "image": "containerimage"}]}),
        json!({"phase": "Running",
            "initContainerStatuses": [{"name": "initinvalid"}, {"name": "init1"}, {"name": "sidecar1"}],
            "containerStatuses": [{"name": "containerinvalid"}, {"name": "container1"}]}),
    );
    assert_eq!(
        &cells(p)[1..4],
        [json!("0/2"), json!("Init:0/2"), json!("0")]
    );
}

#[test]
fn pods_wide() {
    let p = pod(
        "test1",
        json!({"containers": [{}, {}], "nodeName": "test1",
            "readinessGates": [{"conditionType": "condition1"}, {"conditionType": "condition2"},
                {"conditionType": "condition3"}]}),
        json!({"phase": "podPhase", "podIPs": [{"ip": "1.1.1.1"}, {"ip": "2001:db8::"}],
            "conditions": [{"type": "condition1", "status": "False"},
                {"type": "condition2", "status": "True"}],
            "containerStatuses": [{"ready": true, "restartCount": 3, "state": {"running": {}}},
                {"restartCount": 3}],
            "nominatedNodeName": "node1"}),
    );
    assert_eq!(
        cells(p),
        [
            json!("test1"),
            json!("1/2"),
            json!("podPhase"),
            json!("6"),
            json!("<unknown>"),
            json!("1.1.1.1"),
            json!("test1"),
            json!("node1"),
            json!("1/3")
        ]
    );
    let p = pod(
        "test2",
        json!({"containers": [{}, {}]}),
        json!({"phase": "podPhase",
        "containerStatuses": [{"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"state": {"waiting": {"reason": "ContainerWaitingReason"}}, "restartCount": 3}]}),
    );
    assert_eq!(
        cells(p),
        [
            json!("test2"),
            json!("1/2"),
            json!("ContainerWaitingReason"),
            json!("6"),
            json!("<unknown>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn workloads() {
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "fake-container1", "image": "fake-image1"},
        {"name": "fake-container2", "image": "fake-image2"}]}});
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "test1", "creationTimestamp": ago(10 * 365 * 86400)},
        "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}}, "template": template},
        "status": {"replicas": 10, "updatedReplicas": 2, "availableReplicas": 1, "unavailableReplicas": 4}});
    assert_eq!(
        cells(deploy),
        [
            json!("test1"),
            json!("0/5"),
            json!(2),
            json!(1),
            json!("10y"),
            json!("fake-container1,fake-container2"),
            json!("fake-image1,fake-image2"),
            json!("foo=bar")
        ]
    );
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "test1", "creationTimestamp": ago(10)},
        "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "cache"]},
                {"key": "env", "operator": "DoesNotExist"}]}, "template": template},
        "status": {"replicas": 5, "readyReplicas": 2}});
    assert_eq!(
        cells(rs),
        [
            json!("test1"),
            json!(5),
            json!(5),
            json!(2),
            json!("10s"),
            json!("fake-container1,fake-container2"),
            json!("fake-image1,fake-image2"),
            json!("!env,foo=bar,tier in (cache,web)")
        ]
    );
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "test1", "creationTimestamp": ago(3 * 3600)},
        "spec": {"replicas": 5, "template": template}, "status": {"replicas": 5, "readyReplicas": 2}});
    assert_eq!(
        cells(sts),
        [
            json!("test1"),
            json!("2/5"),
            json!("3h"),
            json!("fake-container1,fake-container2"),
            json!("fake-image1,fake-image2")
        ]
    );
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "test1", "creationTimestamp": ago(0)},
        "spec": {"selector": {"matchLabels": {"foo": "bar"}}, "template": template},
        "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 3, "numberReady": 1,
            "updatedNumberScheduled": 2, "numberAvailable": 0}});
    assert_eq!(
        cells(ds),
        [
            json!("test1"),
            json!(3),
            json!(2),
            json!(1),
            json!(2),
            json!(0),
            json!("<none>"),
            json!("0s"),
            json!("fake-container1,fake-container2"),
            json!("fake-image1,fake-image2"),
            json!("foo=bar")
        ]
    );
    let rc = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
        "spec": {"selector": {"b": "2", "a": "1"}, "template": template}, "status": {"replicas": 1}});
    assert_eq!(
        cells(rc),
        [
            json!("rc"),
            json!(1),
            json!(1),
            json!(0),
            json!("<unknown>"),
            json!("fake-container1,fake-container2"),
            json!("fake-image1,fake-image2"),
            json!("a=1,b=2")
        ]
    );
    // A selector that cannot be parsed.
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}});
    assert_eq!(cells(bad)[7], "<invalid>");
    let bad = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "d"},
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Foo", "values": ["x"]}]}}});
    assert_eq!(cells(bad)[7], "<error>");

    let cr = |owner: Value| {
        cells(
            json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": "test1", "ownerReferences": owner, "creationTimestamp": ago(600)},
            "revision": 1}),
        )
    };
    assert_eq!(
        cr(
            json!([{"controller": true, "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "foo"}])
        ),
        [
            json!("test1"),
            json!("daemonset.apps/foo"),
            json!(1),
            json!("10m")
        ]
    );
    assert_eq!(
        cr(
            json!([{"controller": false, "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "foo"}])
        )[1],
        "<none>"
    );
    assert_eq!(
        cr(json!([{"controller": true, "apiVersion": "v1", "kind": "Pod", "name": "p"}]))[1],
        "pod/p"
    );
}

#[test]
fn jobs() {
    let job = |spec: Value, status: Value| {
        cells(json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "job1", "creationTimestamp": ago(3600)},
            "spec": spec, "status": status}))
    };
    let template = json!({"spec": {"containers": [{"name": "fake-job-container1", "image": "fake-job-image1"},
        {"name": "fake-job-container2", "image": "fake-job-image2"}]}});
    assert_eq!(
        job(
            json!({"completions": 2, "template": template, "selector": {"matchLabels": {"job-name": "job1"}}}),
            json!({"succeeded": 1})
        ),
        [
            json!("job1"),
            json!("Running"),
            json!("1/2"),
            json!(""),
            json!("60m"),
            json!("fake-job-container1,fake-job-container2"),
            json!("fake-job-image1,fake-job-image2"),
            json!("job-name=job1")
        ]
    );
    // Duration: from start to completion, or to now while running.
    let done = job(
        json!({"completions": 2}),
        json!({"succeeded": 2, "startTime": ago(3 * 3600),
        "completionTime": ago(3 * 3600 - 124), "conditions": [{"type": "Complete", "status": "True"}]}),
    );
    assert_eq!(
        &done[1..4],
        [json!("Complete"), json!("2/2"), json!("2m4s")]
    );
    let running = job(json!({"parallelism": 4}), json!({"startTime": ago(5)}));
    assert_eq!(
        &running[1..4],
        [json!("Running"), json!("0/1 of 4"), json!("5s")]
    );
    let failed = job(
        json!({}),
        json!({"conditions": [{"type": "Failed", "status": "True"}]}),
    );
    assert_eq!(&failed[1..3], [json!("Failed"), json!("0/1")]);
    let suspended = job(
        json!({}),
        json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
    );
    assert_eq!(suspended[1], "Suspended");
    let target = job(
        json!({}),
        json!({"conditions": [{"type": "FailureTarget", "status": "True"},
        {"type": "Complete", "status": "False"}]}),
    );
    assert_eq!(target[1], "FailureTarget");

    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "cronjob1", "creationTimestamp": ago(0)},
        "spec": {"schedule": "0/5 * * * ?", "suspend": false, "jobTemplate": {"spec": {"template": template}}},
        "status": {"lastScheduleTime": ago(0), "active": [{"name": "a"}]}});
    assert_eq!(
        cells(cron),
        [
            json!("cronjob1"),
            json!("0/5 * * * ?"),
            json!("<none>"),
            json!("False"),
            json!(1),
            json!("0s"),
            json!("0s"),
            json!("fake-job-container1,fake-job-container2"),
            json!("fake-job-image1,fake-job-image2"),
            json!("<none>")
        ]
    );
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"schedule": "@daily", "timeZone": "Europe/Paris", "suspend": true}});
    assert_eq!(
        &cells(cron)[1..6],
        [
            json!("@daily"),
            json!("Europe/Paris"),
            json!("True"),
            json!(0),
            json!("<none>")
        ]
    );
}

#[test]
fn services() {
    let svc = |name: &str, spec: Value, status: Value| {
        cells(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": spec, "status": status}),
        )
    };
    assert_eq!(
        svc(
            "service1",
            json!({"clusterIPs": ["1.2.3.4"], "type": "LoadBalancer",
            "ports": [{"port": 80, "protocol": "TCP"}]}),
            json!({"loadBalancer": {"ingress": [{"ip": "3.4.5.6"}, {"ip": "2.3.4.5"}]}})
        ),
        [
            json!("service1"),
            json!("LoadBalancer"),
            json!("1.2.3.4"),
            json!("2.3.4.5,3.4.5.6"),
            json!("80/TCP"),
            json!("<unknown>"),
            json!("<none>")
        ]
    );
    assert_eq!(
        svc(
            "service2",
            json!({"clusterIPs": ["1.3.4.5"], "type": "LoadBalancer",
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 8090, "protocol": "UDP"},
                {"port": 8000, "protocol": "TCP"}, {"port": 7777, "protocol": "SCTP"}]}),
            json!({})
        )[3..5],
        [
            json!("<pending>"),
            json!("80/TCP,8090/UDP,8000/TCP,7777/SCTP")
        ]
    );
    // Server-side tables are wide: long addresses are not clipped; the selector is there.
    assert_eq!(
        svc(
            "service4",
            json!({"clusterIPs": ["1.5.6.7"], "type": "LoadBalancer",
            "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"foo": "bar"}}),
            json!({"loadBalancer": {"ingress": [{"ip": "2.3.4.5"}, {"ip": "3.4.5.6"},
                {"ip": "5.6.7.8", "hostname": "host5678"}]}})
        ),
        [
            json!("service4"),
            json!("LoadBalancer"),
            json!("1.5.6.7"),
            json!("2.3.4.5,3.4.5.6,5.6.7.8"),
            json!("80/TCP"),
            json!("<unknown>"),
            json!("foo=bar")
        ]
    );
    assert_eq!(
        svc(
            "np",
            json!({"type": "NodePort", "clusterIP": "10.0.0.3", "externalIPs": ["1.1.1.1", "2.2.2.2"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53}]}),
            json!({})
        )[1..5],
        [
            json!("NodePort"),
            json!("10.0.0.3"),
            json!("1.1.1.1,2.2.2.2"),
            json!("80:30080/TCP,53/TCP")
        ]
    );
    assert_eq!(
        svc(
            "headless",
            json!({"clusterIP": "None", "clusterIPs": ["None"]}),
            json!({})
        )[1..5],
        [
            json!("ClusterIP"),
            json!("None"),
            json!("<none>"),
            json!("<none>")
        ]
    );
    assert_eq!(
        svc(
            "ext",
            json!({"type": "ExternalName", "externalName": "example.com"}),
            json!({})
        )[1..4],
        [json!("ExternalName"), json!("<none>"), json!("example.com")]
    );
    assert_eq!(
        svc(
            "lb",
            json!({"type": "LoadBalancer", "clusterIPs": ["10.0.0.9"], "externalIPs": ["9.9.9.9"]}),
            json!({"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}})
        )[3],
        "lb.example.com,9.9.9.9"
    );

    let ep = |subsets: Value| {
        cells(json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "foo"}, "subsets": subsets}))[1].clone()
    };
    assert_eq!(ep(json!([])), "<none>");
    assert_eq!(
        ep(json!([{"addresses": [{"ip": "127.0.0.1"}, {"ip": "::1"}], "ports": [{"port": 8080}]}])),
        "127.0.0.1:8080,[::1]:8080"
    );
    assert_eq!(
        ep(
            json!([{"addresses": [{"ip": "1.1.1.1"}, {"ip": "2.2.2.2"}], "ports": [{"port": 80}, {"port": 443}]}])
        ),
        "1.1.1.1:80,2.2.2.2:80,1.1.1.1:443 + 1 more..."
    );
    assert_eq!(ep(json!([{"addresses": [{"ip": "10.1.1.1"}]}])), "10.1.1.1");

    let eps = |ports: Value, endpoints: Value| {
        cells(
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "abcslice.123", "creationTimestamp": ago(10 * 365 * 86400)},
            "addressType": "IPv4", "ports": ports, "endpoints": endpoints}),
        )
    };
    assert_eq!(
        eps(
            json!([{"port": 80}, {"name": "https"}, {}]),
            json!([{"addresses": ["10.1.2.3"]}, {"addresses": ["2001:db8::1234:5678"]}])
        ),
        [
            json!("abcslice.123"),
            json!("IPv4"),
            json!("80,https,*"),
            json!("10.1.2.3,2001:db8::1234:5678"),
            json!("10y")
        ]
    );
    assert_eq!(
        eps(
            json!([{"port": 1}, {"port": 2}, {"port": 3}, {"port": 4}]),
            json!([{"addresses": ["a", "b"]}, {"addresses": ["c", "d", "e"]}])
        )[2..4],
        [json!("1,2,3 + 1 more..."), json!("a,b,c + 2 more...")]
    );
    assert_eq!(
        eps(json!([]), json!([]))[2..4],
        [json!("<unset>"), json!("<unset>")]
    );
}

#[test]
fn nodes() {
    let node = |meta: Value, spec: Value, status: Value| {
        cells(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": spec, "status": status}),
        )
    };
    assert_eq!(
        node(
            json!({"name": "foo1"}),
            json!({}),
            json!({"nodeInfo": {"kernelVersion": "fake-kernel-version"},
            "addresses": [{"type": "ExternalIP", "address": "1.1.1.1"}]})
        ),
        [
            json!("foo1"),
            json!("Unknown"),
            json!("<none>"),
            json!("<unknown>"),
            json!(""),
            json!("<none>"),
            json!("1.1.1.1"),
            json!("<unknown>"),
            json!("fake-kernel-version"),
            json!("<unknown>")
        ]
    );
    assert_eq!(
        node(
            json!({"name": "foo3"}),
            json!({}),
            json!({"addresses": [
            {"type": "ExternalIP", "address": "2.2.2.2"}, {"type": "InternalIP", "address": "3.3.3.3"},
            {"type": "ExternalIP", "address": "4.4.4.4"}]})
        )[5..7],
        [json!("3.3.3.3"), json!("2.2.2.2")]
    );
    let n = node(
        json!({"name": "n", "creationTimestamp": ago(86400 * 3),
            "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "",
                "kubernetes.io/role": "worker", "other": "x"}}),
        json!({"unschedulable": true}),
        json!({"conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian", "containerRuntimeVersion": "containerd://2.0"}}),
    );
    assert_eq!(
        n,
        [
            json!("n"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,worker"),
            json!("3d"),
            json!("v1.33.0"),
            json!("<none>"),
            json!("<none>"),
            json!("Debian"),
            json!("<unknown>"),
            json!("containerd://2.0")
        ]
    );
    let n = node(
        json!({"name": "n"}),
        json!({}),
        json!({"conditions": [{"type": "Ready", "status": "Unknown"}]}),
    );
    assert_eq!(n[1], "NotReady");
}

#[test]
fn events() {
    let event = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "event1", "namespace": "default"},
        "source": {"component": "kubelet", "host": "Node1"},
        "involvedObject": {"kind": "Deployment", "name": "Deployment Name", "fieldPath": "spec.containers{foo}"},
        "reason": "Event Reason", "message": " Message Data\n", "count": 6, "type": "Normal",
        "firstTimestamp": ago(3 * 86400), "lastTimestamp": ago(2 * 86400)});
    assert_eq!(
        cells(event),
        [
            json!("2d"),
            json!("Normal"),
            json!("Event Reason"),
            json!("deployment/Deployment Name"),
            json!("spec.containers{foo}"),
            json!("kubelet, Node1"),
            json!("Message Data"),
            json!("3d"),
            json!(6),
            json!("event1")
        ]
    );
    // New-style core event: eventTime, series, reporting controller.
    let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "event2"},
        "involvedObject": {"kind": "Pod"}, "reportingComponent": "kubelet", "reportingInstance": "Node1",
        "reason": "R", "message": "M", "type": "Warning", "eventTime": "2024-05-29T12:00:00.000000Z",
        "series": {"count": 3, "lastObservedTime": ago(60)}});
    assert_eq!(
        cells(event),
        [
            json!("60s"),
            json!("Warning"),
            json!("R"),
            json!("pod"),
            json!(""),
            json!("kubelet, Node1"),
            json!("M"),
            json!("3d"),
            json!(3),
            json!("event2")
        ]
    );
    // events.k8s.io/v1 prints the same: regarding, note, deprecated* fields.
    let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "e3", "namespace": "default"},
        "regarding": {"kind": "Pod", "name": "web-0"}, "note": "Started container",
        "reason": "Started", "type": "Normal", "reportingController": "kubelet",
        "eventTime": ago(30)});
    assert_eq!(
        cells(event),
        [
            json!("30s"),
            json!("Normal"),
            json!("Started"),
            json!("pod/web-0"),
            json!(""),
            json!("kubelet"),
            json!("Started container"),
            json!("30s"),
            json!(1),
            json!("e3")
        ]
    );
    let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e4"},
        "regarding": {"kind": "Node", "name": "n1"}, "note": "x", "reason": "R", "type": "Normal",
        "deprecatedSource": {"component": "kubelet", "host": "n1"}, "deprecatedCount": 4,
        "deprecatedFirstTimestamp": ago(7200), "deprecatedLastTimestamp": ago(3600)});
    assert_eq!(
        cells(event),
        [
            json!("60m"),
            json!("Normal"),
            json!("R"),
            json!("node/n1"),
            json!(""),
            json!("kubelet, n1"),
            json!("x"),
            json!("120m"),
            json!(4),
            json!("e4")
        ]
    );
}

#[test]
fn config_and_storage() {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "kube-system", "creationTimestamp": ago(300)}, "status": {"phase": "Active"}});
    assert_eq!(
        cells(ns),
        [json!("kube-system"), json!("Active"), json!("5m")]
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
        "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(cells(cm), [json!("cm"), json!(3), json!("<unknown>")]);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"a": "MQ=="}, "stringData": {"a": "x", "b": "y"}});
    assert_eq!(
        cells(secret),
        [json!("s"), json!("Opaque"), json!(2), json!("<unknown>")]
    );
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"},
        "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(cells(secret)[1..3], [json!("kubernetes.io/tls"), json!(2)]);
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
    assert_eq!(cells(sa), [json!("default"), json!(0), json!("<unknown>")]);
    let tpl = json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
        "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
            "spec": {"containers": [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}]}}});
    assert_eq!(
        cells(tpl),
        [json!("t"), json!("c1,c2"), json!("i1,i2"), json!("a=1,b=2")]
    );

    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "pv1", "creationTimestamp": ago(60)},
        "spec": {"capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete", "claimRef": {"namespace": "default", "name": "claim1"},
            "storageClassName": "fast", "volumeMode": "Block"},
        "status": {"phase": "Bound"}});
    assert_eq!(
        cells(pv),
        [
            json!("pv1"),
            json!("1Gi"),
            json!("RWO,RWX"),
            json!("Delete"),
            json!("Bound"),
            json!("default/claim1"),
            json!("fast"),
            json!("<unset>"),
            json!(""),
            json!("60s"),
            json!("Block")
        ]
    );
    let mut pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv2",
        "annotations": {"volume.beta.kubernetes.io/storage-class": "beta"}},
        "spec": {"storageClassName": "ga"}});
    pv["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(
        cells(pv),
        [
            json!("pv2"),
            json!("0"),
            json!(""),
            json!("Retain"),
            json!("Terminating"),
            json!(""),
            json!("beta"),
            json!("<unset>"),
            json!(""),
            json!("<unknown>"),
            json!("Filesystem")
        ]
    );
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"volumeName": "pv1", "storageClassName": "fast", "volumeAttributesClassName": "gold",
            "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "2048Mi"}, "accessModes": ["ReadWriteOnce"]}});
    assert_eq!(
        cells(pvc),
        [
            json!("data"),
            json!("Bound"),
            json!("pv1"),
            json!("2Gi"),
            json!("RWO"),
            json!("fast"),
            json!("gold"),
            json!("<unknown>"),
            json!("Filesystem")
        ]
    );
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pending"},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}});
    assert_eq!(
        cells(pvc)[1..6],
        [json!("Pending"), json!(""), json!(""), json!(""), json!("")]
    );

    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
        "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1024Mi", "cpu": "1000m"},
            "used": {"pods": "1", "limits.cpu": "500m", "requests.memory": "0"}}});
    assert_eq!(
        cells(quota),
        [
            json!("q"),
            json!("cpu: 0/1, pods: 1/10, requests.memory: 0/1Gi"),
            json!("limits.cpu: 500m/2"),
            json!("<unknown>")
        ]
    );
    let cs = json!({"apiVersion": "v1", "kind": "ComponentStatus", "metadata": {"name": "etcd-0"},
        "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]});
    assert_eq!(
        cells(cs),
        [json!("etcd-0"), json!("Healthy"), json!("ok"), json!("")]
    );
}

#[test]
fn networking() {
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "test1", "creationTimestamp": ago(10 * 365 * 86400)},
        "spec": {"ingressClassName": "foo", "defaultBackend": {"service": {"name": "default-backend",
            "port": {"name": "default-backend", "number": 80}}}},
        "status": {"loadBalancer": {"ingress": [{"ip": "2.3.4.5", "hostname": "localhost.localdomain"}]}}});
    assert_eq!(
        cells(ingress),
        [
            json!("test1"),
            json!("foo"),
            json!("*"),
            json!("2.3.4.5"),
            json!("80"),
            json!("10y")
        ]
    );
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
        "spec": {"tls": [{"hosts": ["a"]}], "rules": [{"host": "a"}, {}, {"host": "b"}, {"host": "c"}, {"host": "d"}]}});
    assert_eq!(
        cells(ingress)[1..5],
        [
            json!("<none>"),
            json!("a,b,c + 2 more..."),
            json!(""),
            json!("80, 443")
        ]
    );
    let class = |params: Value| {
        cells(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "test1", "creationTimestamp": ago(10 * 365 * 86400)},
            "spec": {"controller": "example.com/controller", "parameters": params}}),
        )
    };
    assert_eq!(
        class(json!({"kind": "customgroup", "name": "example"})),
        [
            json!("test1"),
            json!("example.com/controller"),
            json!("customgroup/example"),
            json!("10y")
        ]
    );
    assert_eq!(
        class(json!({"apiGroup": "example.com", "kind": "customgroup", "name": "example"}))[2],
        "customgroup.example.com/example"
    );
    assert_eq!(class(Value::Null)[2], "<none>");
    let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
        "spec": {"podSelector": {}}});
    assert_eq!(cells(np)[1], "<none>");
    let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}}}});
    assert_eq!(cells(np)[1], "app=db");
    let cidr = json!({"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": "kubernetes"},
        "spec": {"cidrs": ["10.96.0.0/12", "fd00::/108"]}});
    assert_eq!(
        cells(cidr),
        [
            json!("kubernetes"),
            json!("10.96.0.0/12,fd00::/108"),
            json!("<unknown>")
        ]
    );
    let ip = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress", "metadata": {"name": "10.96.0.1"},
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}}});
    assert_eq!(
        cells(ip),
        [
            json!("10.96.0.1"),
            json!("services/default/kubernetes"),
            json!("<unknown>")
        ]
    );
    let ip = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress", "metadata": {"name": "x"},
        "spec": {"parentRef": {"group": "Gateway.Networking.k8s.io", "resource": "Gateways", "name": "gw"}}});
    assert_eq!(cells(ip)[1], "gateways.gateway.networking.k8s.io/gw");
}

#[test]
fn autoscaling_and_policy() {
    let hpa = |metrics: Value, current: Value| {
        cells(
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "some-hpa"},
            "spec": {"scaleTargetRef": {"kind": "ReplicationController", "name": "some-rc"},
                "minReplicas": 2, "maxReplicas": 10, "metrics": metrics},
            "status": {"currentReplicas": 4, "desiredReplicas": 5, "currentMetrics": current}}),
        )
    };
    let external_avg = json!([{"type": "External", "external": {"metric": {"name": "m"},
        "target": {"type": "AverageValue", "averageValue": "100m"}}}]);
    assert_eq!(
        hpa(external_avg.clone(), Value::Null),
        [
            json!("some-hpa"),
            json!("ReplicationController/some-rc"),
            json!("<unknown>/100m (avg)"),
            json!("2"),
            json!(10),
            json!(4),
            json!("<unknown>")
        ]
    );
    assert_eq!(
        hpa(
            external_avg,
            json!([{"type": "External", "external": {"current": {"averageValue": "50m"}}}])
        )[2],
        "50m/100m (avg)"
    );
    let pods = json!([{"type": "Pods", "pods": {"metric": {"name": "m"},
        "target": {"type": "AverageValue", "averageValue": "0.1"}}}]);
    assert_eq!(hpa(pods.clone(), Value::Null)[2], "<unknown>/100m");
    assert_eq!(
        hpa(
            pods,
            json!([{"type": "Pods", "pods": {"current": {"averageValue": "50m"}}}])
        )[2],
        "50m/100m"
    );
    let object =
        json!([{"type": "Object", "object": {"target": {"type": "Value", "value": "100m"}}}]);
    assert_eq!(
        hpa(
            object,
            json!([{"type": "Object", "object": {"current": {"value": "50m"}}}])
        )[2],
        "50m/100m"
    );
    let cpu_value = json!([{"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "AverageValue", "averageValue": "100m"}}}]);
    assert_eq!(hpa(cpu_value, Value::Null)[2], "cpu: <unknown>/100m");
    let cpu_util = json!([{"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 80}}}]);
    assert_eq!(hpa(cpu_util.clone(), Value::Null)[2], "cpu: <unknown>/80%");
    assert_eq!(
        hpa(
            cpu_util,
            json!([{"type": "Resource", "resource": {"name": "cpu",
            "current": {"averageUtilization": 50, "averageValue": "10m"}}}])
        )[2],
        "cpu: 50%/80%"
    );
    let container = json!([{"type": "ContainerResource", "containerResource": {"name": "memory",
        "container": "app", "target": {"type": "Utilization"}}}]);
    assert_eq!(hpa(container, Value::Null)[2], "memory: <unknown>/<auto>");
    let many = json!([
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
        {"type": "Pods", "pods": {"target": {"type": "AverageValue", "averageValue": "1"}}},
        {"type": "Foo"}]);
    assert_eq!(
        hpa(many, Value::Null)[2],
        "cpu: <unknown>/80%, memory: <unknown>/1Gi + 2 more..."
    );
    // As stored upstream: minReplicas defaults to 1 and metrics to 80% CPU.
    let bare = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}});
    assert_eq!(
        cells(bare)[1..6],
        [
            json!("Deployment/web"),
            json!("cpu: <unknown>/80%"),
            json!("1"),
            json!(3),
            json!(0)
        ]
    );
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
        "status": {"currentCPUUtilizationPercentage": 20, "currentReplicas": 2}});
    assert_eq!(cells(v1)[2], "cpu: 20%/50%");

    let pdb = |spec: Value| {
        cells(
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "pdb1", "namespace": "ns1", "creationTimestamp": ago(60)},
            "spec": spec, "status": {"disruptionsAllowed": 5}}),
        )
    };
    assert_eq!(
        pdb(json!({"minAvailable": 22})),
        [
            json!("pdb1"),
            json!("22"),
            json!("N/A"),
            json!(5),
            json!("60s")
        ]
    );
    assert_eq!(
        pdb(json!({"maxUnavailable": "11%"}))[1..3],
        [json!("N/A"), json!("11%")]
    );
}

#[test]
fn cluster_kinds() {
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
        "spec": {"holderIdentity": "node1"}});
    assert_eq!(
        cells(lease),
        [json!("l"), json!("node1"), json!("<unknown>")]
    );
    let pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": "system-node-critical"}, "value": 2000001000, "globalDefault": false});
    assert_eq!(
        cells(pc),
        [
            json!("system-node-critical"),
            json!(2000001000),
            json!(false),
            json!("<unknown>"),
            json!("PreemptLowerPriority")
        ]
    );
    let rc = json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gvisor"},
        "handler": "runsc"});
    assert_eq!(
        cells(rc),
        [json!("gvisor"), json!("runsc"), json!("<unknown>")]
    );

    let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "binding1", "namespace": "default", "creationTimestamp": ago(0)},
        "subjects": [{"kind": "User", "name": "system:kube-controller-manager"},
            {"kind": "Group", "name": "system:masters"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}],
        "roleRef": {"kind": "Role", "name": "extension-apiserver-authentication-reader"}});
    assert_eq!(
        cells(rb),
        [
            json!("binding1"),
            json!("Role/extension-apiserver-authentication-reader"),
            json!("0s"),
            json!("system:kube-controller-manager"),
            json!("system:masters"),
            json!("kube-system/default")
        ]
    );
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "a"}, {"kind": "Group", "name": "b"}]});
    assert_eq!(cells(crb)[3..6], [json!(""), json!("a, b"), json!("")]);

    let csr = |spec: Value, status: Value| {
        cells(
            json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": "csr1", "creationTimestamp": ago(120)}, "spec": spec, "status": status}),
        )
    };
    assert_eq!(
        csr(
            json!({"username": "CSRRequestor", "signerName": "kubernetes.io/kube-apiserver-client",
            "expirationSeconds": 86400}),
            json!({})
        ),
        [
            json!("csr1"),
            json!("2m"),
            json!("kubernetes.io/kube-apiserver-client"),
            json!("CSRRequestor"),
            json!("24h"),
            json!("Pending")
        ]
    );
    assert_eq!(
        csr(
            json!({"username": "u"}),
            json!({"conditions": [{"type": "Approved"}, {"type": "Denied"},
            {"type": "Failed"}], "certificate": "Y2VydA=="})
        )[2..6],
        [
            json!("<none>"),
            json!("u"),
            json!("<none>"),
            json!("Denied,Failed,Issued")
        ]
    );
    assert_eq!(
        csr(json!({}), json!({"conditions": [{"type": "Approved"}]}))[5],
        "Approved"
    );

    let api = |spec: Value, status: Value| {
        cells(
            json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1.apps"}, "spec": spec, "status": status}),
        )
    };
    assert_eq!(
        api(
            json!({"group": "apps", "version": "v1"}),
            json!({"conditions": [{"type": "Available", "status": "True"}]})
        ),
        [
            json!("v1.apps"),
            json!("Local"),
            json!("True"),
            json!("<unknown>")
        ]
    );
    assert_eq!(
        api(
            json!({"service": {"namespace": "kube-system", "name": "metrics-server"}}),
            json!({"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]})
        )[1..3],
        [
            json!("kube-system/metrics-server"),
            json!("False (MissingEndpoints)")
        ]
    );
    assert_eq!(api(json!({}), json!({}))[2], "Unknown");
}

#[test]
fn storage_kinds() {
    let sc = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
    assert_eq!(
        cells(sc),
        [
            json!("standard (default)"),
            json!("rancher.io/local-path"),
            json!("Delete"),
            json!("WaitForFirstConsumer"),
            json!(false),
            json!("<unknown>")
        ]
    );
    let sc = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "sc2"},
        "provisioner": "p", "reclaimPolicy": "Retain", "allowVolumeExpansion": true});
    assert_eq!(
        cells(sc)[0..5],
        [
            json!("sc2"),
            json!("p"),
            json!("Retain"),
            json!("Immediate"),
            json!(true)
        ]
    );
    let va = json!({"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": "va"},
        "spec": {"attacher": "csi.example.com", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}},
        "status": {"attached": true}});
    assert_eq!(
        cells(va),
        [
            json!("va"),
            json!("csi.example.com"),
            json!("pv1"),
            json!("n1"),
            json!(true),
            json!("<unknown>")
        ]
    );
    let driver = json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "d"},
        "spec": {"podInfoOnMount": true, "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
            "volumeLifecycleModes": ["Persistent", "Ephemeral"]}});
    assert_eq!(
        cells(driver),
        [
            json!("d"),
            json!(true),
            json!(true),
            json!(false),
            json!("a,b"),
            json!(false),
            json!("Persistent,Ephemeral"),
            json!("<unknown>")
        ]
    );
    let driver = json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "d"},
        "spec": {"attachRequired": false}});
    assert_eq!(
        cells(driver)[1..7],
        [
            json!(false),
            json!(false),
            json!(false),
            json!("<unset>"),
            json!(false),
            json!("Persistent")
        ]
    );
    let node = json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": "n"},
        "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}});
    assert_eq!(cells(node), [json!("n"), json!(2), json!("<unknown>")]);
    let cap = json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity", "metadata": {"name": "c"},
        "storageClassName": "fast", "capacity": "10240Mi"});
    assert_eq!(cells(cap), [json!("c"), json!("fast"), json!("10Gi")]);
    let cap = json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity", "metadata": {"name": "c"},
        "storageClassName": "fast"});
    assert_eq!(cells(cap)[2], "<unset>");
}

#[test]
fn admission_and_flow_control() {
    let wh = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "w"}, "webhooks": [{"name": "a"}, {"name": "b"}]});
    assert_eq!(cells(wh), [json!("w"), json!(2), json!("<unknown>")]);
    let vap = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "p"}, "spec": {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "validations": [{"expression": "true"}]}});
    assert_eq!(
        cells(vap),
        [
            json!("p"),
            json!(1),
            json!("v1/ConfigMap"),
            json!("<unknown>")
        ]
    );
    let binding = |param: Value| {
        cells(
            json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": param}}),
        )
    };
    assert_eq!(binding(Value::Null)[1..3], [json!("p"), json!("<unset>")]);
    assert_eq!(
        binding(json!({"name": "cfg", "namespace": "ns"}))[2],
        "ns/cfg"
    );
    assert_eq!(binding(json!({"name": "cfg"}))[2], "*/cfg");
    assert_eq!(
        binding(json!({"selector": {"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]}}))[2],
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}"
    );

    let fs = |name: &str, precedence: Value| {
        json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": precedence,
                "distinguisherMethod": {"type": "ByUser"}},
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]}})
    };
    assert_eq!(
        cells(fs("service-accounts", json!(9000))),
        [
            json!("service-accounts"),
            json!("workload-low"),
            json!(9000),
            json!("ByUser"),
            json!("<unknown>"),
            json!("False")
        ]
    );
    // Lists print in matching order.
    let list = [
        fs("b", json!(500)),
        fs("z", Value::Null),
        fs("a", json!(500)),
        fs("exempt", json!(1)),
    ];
    let printer = for_kind("flowcontrol.apiserver.k8s.io", "FlowSchema");
    let order: Vec<_> = printer
        .rows(&list)
        .into_iter()
        .map(|(_, r)| r["cells"][0].clone())
        .collect();
    assert_eq!(order, [json!("exempt"), json!("a"), json!("b"), json!("z")]);
    let indexes: Vec<usize> = printer.rows(&list).into_iter().map(|(i, _)| i).collect();
    assert_eq!(indexes, [3, 2, 0, 1]);

    let plc = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "global-default"}, "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 20, "limitResponse": {"type": "Queue",
                "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}});
    assert_eq!(
        cells(plc),
        [
            json!("global-default"),
            json!("Limited"),
            json!(20),
            json!(128),
            json!(6),
            json!(50),
            json!("<unknown>")
        ]
    );
    let exempt = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "exempt"}, "spec": {"type": "Exempt", "exempt": {}}});
    assert_eq!(
        cells(exempt)[1..6],
        [
            json!("Exempt"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>")
        ]
    );
    let reject = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "r"}, "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 5,
            "limitResponse": {"type": "Reject"}}}});
    assert_eq!(
        cells(reject)[2..6],
        [json!(5), json!("<none>"), json!("<none>"), json!("<none>")]
    );
}

#[test]
fn status_objects() {
    let status = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
        "reason": "NotFound", "message": "pods \"x\" not found"});
    assert_eq!(
        cells(status),
        [
            json!("Failure"),
            json!("NotFound"),
            json!("pods \"x\" not found")
        ]
    );
}

#[test]
fn tables_carry_objects_as_asked() {
    use crate::encode::{table, IncludeObject};
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "resourceVersion": "7"}, "data": {"a": "b"}});
    let printer = for_kind("", "ConfigMap");
    let objects = [cm.clone()];
    let meta = json!({"resourceVersion": "7"});
    let t = table(
        printer,
        &objects,
        meta.clone(),
        IncludeObject::Metadata,
        true,
    );
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["columnDefinitions"][1]["name"], "Data");
    assert_eq!(t["rows"][0]["cells"][1], 1);
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(t["rows"][0]["object"]["metadata"]["name"], "cm");
    let t = table(
        printer,
        &objects,
        meta.clone(),
        IncludeObject::Object,
        false,
    );
    assert!(t.get("columnDefinitions").is_none());
    assert_eq!(t["rows"][0]["object"], cm);
    let t = table(printer, &objects, meta, IncludeObject::None, true);
    assert!(t["rows"][0].get("object").is_none());
}

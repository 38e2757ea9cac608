#!/usr/bin/env python3
"""Drive a k8rs server with the official Python `kubernetes` client.

Usage: client_test.py KUBECONFIG [core|patches]

Run by conformance/tests/python_client.rs. Prints one line per step and
"ALL OK" at the end; exits non-zero (with a traceback) on the first failure.
"""

import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

NS = "pyclient"


def step(msg):
    print(f"step: {msg}", flush=True)


def expect_api_error(status, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        assert e.status == status, f"expected HTTP {status}, got {e.status}: {e.body}"
        return e
    raise AssertionError(f"expected HTTP {status}, call succeeded")


def cm(name, labels=None, data=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        data=data or {},
    )


def core(v1):
    step("version")
    info = client.VersionApi(v1.api_client).get_code()
    assert info.git_version.startswith("v1.33."), info.git_version

    step("list namespaces")
    names = {n.metadata.name for n in v1.list_namespace().items}
    for want in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert want in names, f"{want} not in {names}"

    step("create namespace")
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    assert v1.read_namespace(NS).status.phase == "Active"

    step("create configmaps")
    created = v1.create_namespaced_config_map(
        NS, cm("py-1", {"app": "py", "tier": "a"}, {"k": "v"})
    )
    assert created.metadata.uid, "uid not set"
    assert created.metadata.resource_version, "resourceVersion not set"
    assert created.data == {"k": "v"}, created.data
    v1.create_namespaced_config_map(NS, cm("py-2", {"app": "py", "tier": "b"}))
    v1.create_namespaced_config_map(NS, cm("other", {"app": "other"}))

    got = v1.read_namespaced_config_map("py-1", NS)
    assert got.metadata.uid == created.metadata.uid
    assert got.data == {"k": "v"}, got.data

    step("errors surface as ApiException")
    expect_api_error(404, v1.read_namespaced_config_map, "missing", NS)
    expect_api_error(409, v1.create_namespaced_config_map, NS, cm("py-1"))
    expect_api_error(422, v1.create_namespaced_config_map, NS, cm("Bad_Name"))

    step("list with label selectors")

    def names_for(selector):
        items = v1.list_namespaced_config_map(NS, label_selector=selector).items
        return sorted(i.metadata.name for i in items)

    assert names_for("app=py") == ["py-1", "py-2"], names_for("app=py")
    assert names_for("app=py,tier in (b)") == ["py-2"], names_for("app=py,tier in (b)")
    assert names_for("app!=py") == [
        n for n in names_for("") if n not in ("py-1", "py-2")
    ]
    assert names_for("app=none") == []

    step("list returns a resourceVersion and kind")
    lst = v1.list_namespaced_config_map(NS)
    assert lst.metadata.resource_version, "list has no resourceVersion"

    step("update (PUT) and conflict")
    got.data["k2"] = "v2"
    updated = v1.replace_namespaced_config_map("py-1", NS, got)
    assert updated.data == {"k": "v", "k2": "v2"}, updated.data
    assert int(updated.metadata.resource_version) > int(got.metadata.resource_version)
    # Replacing with the old resourceVersion again is a conflict.
    expect_api_error(409, v1.replace_namespaced_config_map, "py-1", NS, got)

    step("watch resumes from an older resourceVersion")
    start = v1.create_namespaced_config_map(NS, cm("w-0", {"w": "1"}))
    start_rv = start.metadata.resource_version
    v1.create_namespaced_config_map(NS, cm("w-1", {"w": "1"}))
    v1.create_namespaced_config_map(NS, cm("w-2", {"w": "1"}))
    w1 = v1.read_namespaced_config_map("w-1", NS)
    w1.data = {"x": "y"}
    v1.replace_namespaced_config_map("w-1", NS, w1)
    v1.delete_namespaced_config_map("w-2", NS)
    expected = [
        ("ADDED", "w-1"),
        ("ADDED", "w-2"),
        ("MODIFIED", "w-1"),
        ("DELETED", "w-2"),
    ]
    events = []
    w = watch.Watch()
    for ev in w.stream(
        v1.list_namespaced_config_map,
        NS,
        label_selector="w=1",
        resource_version=start_rv,
        timeout_seconds=20,
        _request_timeout=30,
    ):
        obj = ev["object"]
        events.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
        if len(events) >= len(expected):
            w.stop()
    seen = [(t, n) for (t, n, _) in events]
    assert seen == expected, f"watch from rv {start_rv}: got {events}"
    rvs = [int(rv) for (_, _, rv) in events]
    assert rvs == sorted(rvs) and rvs[0] > int(start_rv), rvs

    step("live watch sees new events")
    rv_now = v1.list_namespaced_config_map(NS).metadata.resource_version
    live = []
    w2 = watch.Watch()

    def consume():
        for ev in w2.stream(
            v1.list_namespaced_config_map,
            NS,
            resource_version=rv_now,
            timeout_seconds=20,
            _request_timeout=30,
        ):
            live.append((ev["type"], ev["object"].metadata.name))
            if ("DELETED", "live") in live:
                w2.stop()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    v1.create_namespaced_config_map(NS, cm("live"))
    v1.delete_namespaced_config_map("live", NS)
    t.join(timeout=25)
    assert live == [("ADDED", "live"), ("DELETED", "live")], live

    step("delete")
    v1.delete_namespaced_config_map("py-1", NS)
    expect_api_error(404, v1.read_namespaced_config_map, "py-1", NS)


def patches(v1):
    step("create")
    v1.create_namespaced_config_map("default", cm("pp", data={"a": "1", "b": "2"}))

    step("patch with a list body (JSON patch)")
    patched = v1.patch_namespaced_config_map(
        "pp", "default", [{"op": "remove", "path": "/data/b"}]
    )
    assert patched.data == {"a": "1"}, patched.data

    step("patch with a dict body (the client sends a strategic merge patch)")
    patched = v1.patch_namespaced_config_map("pp", "default", {"data": {"c": "3"}})
    assert patched.data == {"a": "1", "c": "3"}, patched.data

    step("patch a Deployment (strategic merge: containers merge by name)")
    apps = client.AppsV1Api(v1.api_client)
    container = client.V1Container(name="main", image="nginx:1.27")
    apps.create_namespaced_deployment(
        "default",
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="pd"),
            spec=client.V1DeploymentSpec(
                selector=client.V1LabelSelector(match_labels={"app": "pd"}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": "pd"}),
                    spec=client.V1PodSpec(containers=[container]),
                ),
            ),
        ),
    )
    d = apps.patch_namespaced_deployment(
        "pd",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}},
    )
    names = sorted(c.name for c in d.spec.template.spec.containers)
    assert names == ["main", "side"], names


def custom(v1):
    api_client = v1.api_client
    ext = client.ApiextensionsV1Api(api_client)
    co = client.CustomObjectsApi(api_client)
    step("create a CRD")
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {
                "group": "stable.example.com",
                "scope": "Namespaced",
                "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {
                                            "cronSpec": {"type": "string"},
                                            "replicas": {"type": "integer", "default": 1},
                                        },
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    deadline = time.time() + 20
    while True:
        crd = ext.read_custom_resource_definition("crontabs.stable.example.com")
        conds = {c.type: c.status for c in (crd.status.conditions or [])}
        if conds.get("Established") == "True":
            break
        assert time.time() < deadline, conds
        time.sleep(0.1)

    step("create, get, list, patch, watch and delete custom objects")
    body = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "ct1", "labels": {"app": "ct"}},
        "spec": {"cronSpec": "* * * * */5"},
    }
    created = co.create_namespaced_custom_object("stable.example.com", "v1", "default", "crontabs", body)
    assert created["spec"]["replicas"] == 1, created
    got = co.get_namespaced_custom_object("stable.example.com", "v1", "default", "crontabs", "ct1")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    listed = co.list_namespaced_custom_object(
        "stable.example.com", "v1", "default", "crontabs", label_selector="app=ct"
    )
    assert [i["metadata"]["name"] for i in listed["items"]] == ["ct1"], listed
    patched = co.patch_namespaced_custom_object(
        "stable.example.com", "v1", "default", "crontabs", "ct1", {"spec": {"replicas": 3}}
    )
    assert patched["spec"]["replicas"] == 3, patched
    assert patched["spec"]["cronSpec"] == "* * * * */5", patched
    w = watch.Watch()
    seen = []
    for ev in w.stream(
        co.list_namespaced_custom_object,
        "stable.example.com",
        "v1",
        "default",
        "crontabs",
        resource_version=created["metadata"]["resourceVersion"],
        timeout_seconds=10,
    ):
        seen.append((ev["type"], ev["object"]["spec"]["replicas"]))
        if ev["type"] == "MODIFIED":
            w.stop()
    assert ("MODIFIED", 3) in seen, seen
    co.delete_namespaced_custom_object("stable.example.com", "v1", "default", "crontabs", "ct1")
    expect_api_error(
        404, co.get_namespaced_custom_object, "stable.example.com", "v1", "default", "crontabs", "ct1"
    )


def main():
    kubeconfig = sys.argv[1]
    section = sys.argv[2] if len(sys.argv) > 2 else "core"
    api_client = config.new_client_from_config(config_file=kubeconfig)
    v1 = client.CoreV1Api(api_client)
    {"core": core, "patches": patches, "custom": custom}[section](v1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main()

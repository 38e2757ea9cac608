//! Server-side printing: `kubectl get <type>` and `kubectl get <type> -o
//! wide` must print kube-apiserver v1.33's column headers exactly, and the
//! cells that do not depend on defaulting, controllers or the clock.
//!
//! The objects are built so that their cells are the same on a real
//! cluster (pods are unschedulable, cron jobs suspended, ...).

use std::collections::BTreeMap;

use k8rs_conformance::Server;

/// Column start offsets of a kubectl table header: columns are separated
/// by at least two spaces (names like `NOMINATED NODE` contain one).
fn column_starts(header: &[char]) -> Vec<usize> {
    (0..header.len())
        .filter(|&i| {
            header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 1] == ' ' && header[i - 2] == ' '))
        })
        .collect()
}

/// A kubectl table: the header's column names and the rows (column ->
/// cell, sliced at the header's column offsets).
struct Table {
    header: Vec<String>,
    rows: Vec<BTreeMap<String, String>>,
    text: String,
}

impl Table {
    fn parse(text: &str) -> Table {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        // No header at all: kubectl printed "No resources found" (stderr).
        let header: Vec<char> = lines.next().unwrap_or_default().chars().collect();
        let starts = column_starts(&header);
        let slice = |chars: &[char], n: usize| -> String {
            let s = starts[n].min(chars.len());
            let e = starts
                .get(n + 1)
                .map_or(chars.len(), |&e| e.min(chars.len()));
            chars[s..e].iter().collect::<String>().trim().to_string()
        };
        let names: Vec<String> = (0..starts.len()).map(|n| slice(&header, n)).collect();
        let rows = lines
            .map(|l| {
                let c: Vec<char> = l.chars().collect();
                names
                    .iter()
                    .enumerate()
                    .map(|(n, name)| (name.clone(), slice(&c, n)))
                    .collect()
            })
            .collect();
        Table {
            header: names,
            rows,
            text: text.to_string(),
        }
    }

    /// The row whose `col` cell is `value`.
    #[track_caller]
    fn row(&self, col: &str, value: &str) -> &BTreeMap<String, String> {
        self.rows
            .iter()
            .find(|r| r.get(col).map(String::as_str) == Some(value))
            .unwrap_or_else(|| {
                panic!(
                    "no row with {col}={value:?} in kubectl's table:\n{}",
                    self.text
                )
            })
    }
}

/// `kubectl get ARGS`, asserting success, parsed.
#[track_caller]
fn get(server: &Server, args: &[&str]) -> Table {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    Table::parse(&server.kubectl(&a).ok())
}

/// One resource type's expectations.
struct Case<'a> {
    /// `kubectl get` arguments naming the type (and namespace if needed).
    resource: &'a [&'a str],
    /// Column and value identifying the row to check.
    key: (&'a str, &'a str),
    /// Header of `kubectl get`.
    header: &'a [&'a str],
    /// Columns `-o wide` appends.
    wide: &'a [&'a str],
    /// Cells to check, in whichever output has the column.
    cells: &'a [(&'a str, &'a str)],
}

#[track_caller]
fn check(server: &Server, case: &Case) {
    let what = case.resource.join(" ");
    let normal = get(server, case.resource);
    assert_eq!(
        normal.header, case.header,
        "`kubectl get {what}` header\n{}",
        normal.text
    );
    let mut wide_args = case.resource.to_vec();
    wide_args.extend(["-o", "wide"]);
    let wide = get(server, &wide_args);
    let want_wide: Vec<&str> = case.header.iter().chain(case.wide).copied().collect();
    assert_eq!(
        wide.header, want_wide,
        "`kubectl get {what} -o wide` header\n{}",
        wide.text
    );
    let (kc, kv) = case.key;
    for (table, label) in [(&normal, ""), (&wide, " -o wide")] {
        if !table.header.iter().any(|h| h == kc) {
            continue;
        }
        let row = table.row(kc, kv);
        for (col, want) in case.cells {
            if let Some(got) = row.get(*col) {
                assert_eq!(
                    got, want,
                    "`kubectl get {what}{label}`: cell {col} of row {kc}={kv}\n{}",
                    table.text
                );
            }
        }
    }
    for (col, _) in case.cells {
        assert!(
            wide.header.iter().any(|h| h == col),
            "`kubectl get {what} -o wide` has no column {col}\n{}",
            wide.text
        );
    }
}

const WORKLOADS: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  nodeSelector:
    k8rs.test/none-such: "true"
  readinessGates:
  - conditionType: example.com/ready
  containers:
  - name: app
    image: nginx:1.27
  - name: log
    image: busybox:1.36
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      nodeSelector:
        k8rs.test/none-such: "true"
      containers:
      - name: app
        image: nginx:1.27
      - name: log
        image: busybox:1.36
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs1
spec:
  replicas: 2
  selector:
    matchLabels:
      app: rs1
  template:
    metadata:
      labels:
        app: rs1
    spec:
      nodeSelector:
        k8rs.test/none-such: "true"
      containers:
      - name: c
        image: nginx:1.27
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: sts1
spec:
  replicas: 2
  serviceName: sts1
  selector:
    matchLabels:
      app: sts1
  template:
    metadata:
      labels:
        app: sts1
    spec:
      nodeSelector:
        k8rs.test/none-such: "true"
      containers:
      - name: c
        image: nginx:1.27
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ds1
spec:
  selector:
    matchLabels:
      app: ds1
  template:
    metadata:
      labels:
        app: ds1
    spec:
      nodeSelector:
        k8rs.test/none-such: "true"
      containers:
      - name: c
        image: nginx:1.27
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc1
spec:
  replicas: 2
  selector:
    app: rc1
  template:
    metadata:
      labels:
        app: rc1
    spec:
      nodeSelector:
        k8rs.test/none-such: "true"
      containers:
      - name: c
        image: nginx:1.27
---
apiVersion: batch/v1
kind: Job
metadata:
  name: job1
spec:
  completions: 1
  parallelism: 1
  manualSelector: true
  selector:
    matchLabels:
      app: job1
  template:
    metadata:
      labels:
        app: job1
    spec:
      restartPolicy: Never
      nodeSelector:
        k8rs.test/none-such: "true"
      containers:
      - name: c
        image: busybox:1.36
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cj1
spec:
  schedule: "*/5 * * * *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: busybox:1.36
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cj2
spec:
  schedule: "0 3 * * *"
  timeZone: Etc/UTC
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: busybox:1.36
"#;

#[test]
fn workload_tables() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], WORKLOADS).ok();

    check(
        &server,
        &Case {
            resource: &["pods"],
            key: ("NAME", "web"),
            header: &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            wide: &["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
            cells: &[
                ("READY", "0/2"),
                ("STATUS", "Pending"),
                ("RESTARTS", "0"),
                ("IP", "<none>"),
                ("NODE", "<none>"),
                ("NOMINATED NODE", "<none>"),
                ("READINESS GATES", "0/1"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["deployments"],
            key: ("NAME", "web"),
            header: &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            wide: &["CONTAINERS", "IMAGES", "SELECTOR"],
            cells: &[
                ("READY", "0/2"),
                ("AVAILABLE", "0"),
                ("CONTAINERS", "app,log"),
                ("IMAGES", "nginx:1.27,busybox:1.36"),
                ("SELECTOR", "app=web"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["replicasets"],
            key: ("NAME", "rs1"),
            header: &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
            wide: &["CONTAINERS", "IMAGES", "SELECTOR"],
            cells: &[
                ("DESIRED", "2"),
                ("READY", "0"),
                ("CONTAINERS", "c"),
                ("IMAGES", "nginx:1.27"),
                ("SELECTOR", "app=rs1"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["statefulsets"],
            key: ("NAME", "sts1"),
            header: &["NAME", "READY", "AGE"],
            wide: &["CONTAINERS", "IMAGES"],
            cells: &[
                ("READY", "0/2"),
                ("CONTAINERS", "c"),
                ("IMAGES", "nginx:1.27"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["daemonsets"],
            key: ("NAME", "ds1"),
            header: &[
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "NODE SELECTOR",
                "AGE",
            ],
            wide: &["CONTAINERS", "IMAGES", "SELECTOR"],
            cells: &[
                ("DESIRED", "0"),
                ("CURRENT", "0"),
                ("READY", "0"),
                ("UP-TO-DATE", "0"),
                ("AVAILABLE", "0"),
                ("NODE SELECTOR", "k8rs.test/none-such=true"),
                ("CONTAINERS", "c"),
                ("IMAGES", "nginx:1.27"),
                ("SELECTOR", "app=ds1"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["replicationcontrollers"],
            key: ("NAME", "rc1"),
            header: &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
            wide: &["CONTAINERS", "IMAGES", "SELECTOR"],
            cells: &[
                ("DESIRED", "2"),
                ("READY", "0"),
                ("CONTAINERS", "c"),
                ("IMAGES", "nginx:1.27"),
                ("SELECTOR", "app=rc1"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["jobs"],
            key: ("NAME", "job1"),
            header: &["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
            wide: &["CONTAINERS", "IMAGES", "SELECTOR"],
            cells: &[
                ("STATUS", "Running"),
                ("COMPLETIONS", "0/1"),
                ("CONTAINERS", "c"),
                ("IMAGES", "busybox:1.36"),
                ("SELECTOR", "app=job1"),
            ],
        },
    );
    let cronjob_header = &[
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
    ];
    check(
        &server,
        &Case {
            resource: &["cronjobs"],
            key: ("NAME", "cj1"),
            header: cronjob_header,
            wide: &["CONTAINERS", "IMAGES", "SELECTOR"],
            cells: &[
                ("SCHEDULE", "*/5 * * * *"),
                ("TIMEZONE", "<none>"),
                ("SUSPEND", "True"),
                ("ACTIVE", "0"),
                ("LAST SCHEDULE", "<none>"),
                ("CONTAINERS", "c"),
                ("IMAGES", "busybox:1.36"),
                ("SELECTOR", "<none>"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["cronjobs"],
            key: ("NAME", "cj2"),
            header: cronjob_header,
            wide: &["CONTAINERS", "IMAGES", "SELECTOR"],
            cells: &[("SCHEDULE", "0 3 * * *"), ("TIMEZONE", "Etc/UTC")],
        },
    );
}

const CORE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: ClusterIP
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
    protocol: TCP
  - name: dns
    port: 53
    targetPort: 5353
    protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  type: ExternalName
  externalName: example.com
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm1
data:
  a: "1"
binaryData:
  b: AAEC
---
apiVersion: v1
kind: Secret
metadata:
  name: sec1
type: Opaque
stringData:
  user: admin
  pass: hunter2
  token: abc
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: robot
---
apiVersion: v1
kind: Event
metadata:
  name: ev1
involvedObject:
  apiVersion: v1
  kind: Pod
  name: web
  namespace: default
  fieldPath: spec.containers{app}
reason: Started
message: Started container app
type: Normal
source:
  component: kubelet
  host: node1
count: 3
firstTimestamp: "2024-01-01T00:00:00Z"
lastTimestamp: "2024-01-02T00:00:00Z"
"#;

#[test]
fn core_tables() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], CORE).ok();
    server.kubectl(&["create", "ns", "tables"]).ok();

    let svc_header = &[
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
    ];
    check(
        &server,
        &Case {
            resource: &["services"],
            key: ("NAME", "web"),
            header: svc_header,
            wide: &["SELECTOR"],
            cells: &[
                ("TYPE", "ClusterIP"),
                ("EXTERNAL-IP", "<none>"),
                ("PORT(S)", "80/TCP,53/UDP"),
                ("SELECTOR", "app=web"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["services"],
            key: ("NAME", "ext"),
            header: svc_header,
            wide: &["SELECTOR"],
            cells: &[
                ("TYPE", "ExternalName"),
                ("CLUSTER-IP", "<none>"),
                ("EXTERNAL-IP", "example.com"),
                ("PORT(S)", "<none>"),
                ("SELECTOR", "<none>"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["configmaps"],
            key: ("NAME", "cm1"),
            header: &["NAME", "DATA", "AGE"],
            wide: &[],
            cells: &[("DATA", "2")],
        },
    );
    check(
        &server,
        &Case {
            resource: &["secrets"],
            key: ("NAME", "sec1"),
            header: &["NAME", "TYPE", "DATA", "AGE"],
            wide: &[],
            cells: &[("TYPE", "Opaque"), ("DATA", "3")],
        },
    );
    check(
        &server,
        &Case {
            resource: &["namespaces"],
            key: ("NAME", "tables"),
            header: &["NAME", "STATUS", "AGE"],
            wide: &[],
            cells: &[("STATUS", "Active")],
        },
    );
    check(
        &server,
        &Case {
            resource: &["serviceaccounts"],
            key: ("NAME", "robot"),
            header: &["NAME", "SECRETS", "AGE"],
            wide: &[],
            cells: &[("SECRETS", "0")],
        },
    );
    let t = get(&server, &["events"]);
    assert_eq!(
        t.header,
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{}",
        t.text
    );
    let row = t.row("REASON", "Started");
    assert_eq!(row["OBJECT"], "pod/web", "{}", t.text);
    assert_eq!(row["MESSAGE"], "Started container app", "{}", t.text);
    // -o wide interleaves its extra columns with the default ones.
    let wide = get(&server, &["events", "-o", "wide"]);
    assert_eq!(
        wide.header,
        [
            "LAST SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST SEEN",
            "COUNT",
            "NAME"
        ],
        "{}",
        wide.text
    );
    let row = wide.row("NAME", "ev1");
    for (col, want) in [
        ("TYPE", "Normal"),
        ("REASON", "Started"),
        ("OBJECT", "pod/web"),
        ("SUBOBJECT", "spec.containers{app}"),
        ("SOURCE", "kubelet, node1"),
        ("MESSAGE", "Started container app"),
        ("COUNT", "3"),
    ] {
        assert_eq!(row[col], want, "events -o wide column {col}\n{}", wide.text);
    }
}

const STORAGE: &str = r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: example.com/fast
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: slow
provisioner: example.com/slow
reclaimPolicy: Retain
volumeBindingMode: Immediate
allowVolumeExpansion: false
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv1
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteOnce, ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: slow
  volumeMode: Filesystem
  hostPath:
    path: /tmp/pv1
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: pvc1
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: fast
  volumeMode: Block
  resources:
    requests:
      storage: 1Gi
"#;

#[test]
fn storage_tables() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], STORAGE).ok();

    check(
        &server,
        &Case {
            resource: &["persistentvolumes"],
            key: ("NAME", "pv1"),
            header: &[
                "NAME",
                "CAPACITY",
                "ACCESS MODES",
                "RECLAIM POLICY",
                "STATUS",
                "CLAIM",
                "STORAGECLASS",
                "VOLUMEATTRIBUTESCLASS",
                "REASON",
                "AGE",
            ],
            wide: &["VOLUMEMODE"],
            cells: &[
                ("CAPACITY", "1Gi"),
                ("ACCESS MODES", "RWO,ROX"),
                ("RECLAIM POLICY", "Retain"),
                ("CLAIM", ""),
                ("STORAGECLASS", "slow"),
                ("VOLUMEATTRIBUTESCLASS", "<unset>"),
                ("REASON", ""),
                ("VOLUMEMODE", "Filesystem"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["persistentvolumeclaims"],
            key: ("NAME", "pvc1"),
            header: &[
                "NAME",
                "STATUS",
                "VOLUME",
                "CAPACITY",
                "ACCESS MODES",
                "STORAGECLASS",
                "VOLUMEATTRIBUTESCLASS",
                "AGE",
            ],
            wide: &["VOLUMEMODE"],
            cells: &[
                ("VOLUME", ""),
                ("CAPACITY", ""),
                ("ACCESS MODES", ""),
                ("STORAGECLASS", "fast"),
                ("VOLUMEATTRIBUTESCLASS", "<unset>"),
                ("VOLUMEMODE", "Block"),
            ],
        },
    );
    let sc_header = &[
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ];
    check(
        &server,
        &Case {
            resource: &["storageclasses"],
            key: ("NAME", "fast (default)"),
            header: sc_header,
            wide: &[],
            cells: &[
                ("PROVISIONER", "example.com/fast"),
                ("RECLAIMPOLICY", "Delete"),
                ("VOLUMEBINDINGMODE", "WaitForFirstConsumer"),
                ("ALLOWVOLUMEEXPANSION", "true"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["storageclasses"],
            key: ("NAME", "slow"),
            header: sc_header,
            wide: &[],
            cells: &[
                ("PROVISIONER", "example.com/slow"),
                ("RECLAIMPOLICY", "Retain"),
                ("VOLUMEBINDINGMODE", "Immediate"),
                ("ALLOWVOLUMEEXPANSION", "false"),
            ],
        },
    );
}

const NETWORK_POLICY: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ing1
spec:
  ingressClassName: nginx
  tls:
  - hosts: [example.com]
    secretName: tls
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
  - host: www.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ing2
spec:
  defaultBackend:
    service:
      name: web
      port:
        number: 80
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np1
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Ingress]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: pdb1
spec:
  minAvailable: 2
  selector:
    matchLabels:
      app: web
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: pdb2
spec:
  maxUnavailable: 25%
  selector:
    matchLabels:
      app: web
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: hpa1
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 50
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: lease1
spec:
  holderIdentity: me
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: pc1
value: 1000
globalDefault: false
preemptionPolicy: Never
"#;

#[test]
fn network_policy_coordination_tables() {
    let server = Server::start();
    server
        .kubectl_stdin(&["create", "-f", "-"], NETWORK_POLICY)
        .ok();

    let ing_header = &["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"];
    check(
        &server,
        &Case {
            resource: &["ingresses"],
            key: ("NAME", "ing1"),
            header: ing_header,
            wide: &[],
            cells: &[
                ("CLASS", "nginx"),
                ("HOSTS", "example.com,www.example.com"),
                ("ADDRESS", ""),
                ("PORTS", "80, 443"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["ingresses"],
            key: ("NAME", "ing2"),
            header: ing_header,
            wide: &[],
            cells: &[("CLASS", "<none>"), ("HOSTS", "*"), ("PORTS", "80")],
        },
    );
    check(
        &server,
        &Case {
            resource: &["networkpolicies"],
            key: ("NAME", "np1"),
            header: &["NAME", "POD-SELECTOR", "AGE"],
            wide: &[],
            cells: &[("POD-SELECTOR", "app=web")],
        },
    );
    let pdb_header = &[
        "NAME",
        "MIN AVAILABLE",
        "MAX UNAVAILABLE",
        "ALLOWED DISRUPTIONS",
        "AGE",
    ];
    check(
        &server,
        &Case {
            resource: &["poddisruptionbudgets"],
            key: ("NAME", "pdb1"),
            header: pdb_header,
            wide: &[],
            cells: &[
                ("MIN AVAILABLE", "2"),
                ("MAX UNAVAILABLE", "N/A"),
                ("ALLOWED DISRUPTIONS", "0"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["poddisruptionbudgets"],
            key: ("NAME", "pdb2"),
            header: pdb_header,
            wide: &[],
            cells: &[("MIN AVAILABLE", "N/A"), ("MAX UNAVAILABLE", "25%")],
        },
    );
    check(
        &server,
        &Case {
            resource: &["horizontalpodautoscalers"],
            key: ("NAME", "hpa1"),
            header: &[
                "NAME",
                "REFERENCE",
                "TARGETS",
                "MINPODS",
                "MAXPODS",
                "REPLICAS",
                "AGE",
            ],
            wide: &[],
            cells: &[
                ("REFERENCE", "Deployment/web"),
                ("TARGETS", "cpu: <unknown>/50%"),
                ("MINPODS", "1"),
                ("MAXPODS", "5"),
                ("REPLICAS", "0"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["leases"],
            key: ("NAME", "lease1"),
            header: &["NAME", "HOLDER", "AGE"],
            wide: &[],
            cells: &[("HOLDER", "me")],
        },
    );
    check(
        &server,
        &Case {
            resource: &["priorityclasses"],
            key: ("NAME", "pc1"),
            header: &["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
            wide: &[],
            cells: &[
                ("VALUE", "1000"),
                ("GLOBAL-DEFAULT", "false"),
                ("PREEMPTIONPOLICY", "Never"),
            ],
        },
    );
}

/// A PEM certificate request (EC P-256, CN=alice), for CSR objects.
const CSR_PEM: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIHKMHICAQAwEDEOMAwGA1UEAwwFYWxpY2UwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAASTloBuhpswgJEf3pKP3skPAOPb5Eui5W2CMHEZbg5uFWpO3yP7Tm/LH/2m
Gk4fUHns4BB/HPYk7eloJniugRsToAAwCgYIKoZIzj0EAwIDSAAwRQIgZ7GqXVkz
E24kIK0ewIUQUma7jcQ6Ip9fKaELqgEGaw0CIQCzQCD5AHuiFW1eWLPwzOoG09vI
Ei/w8IRdowhu3kyCNQ==
-----END CERTIFICATE REQUEST-----
";

fn csr_manifest() -> String {
    format!(
        "apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: csr1
spec:
  request: {}
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 86400
  usages: [client auth]
",
        k8rs_conformance::b64(CSR_PEM)
    )
}

#[test]
fn rbac_and_certificate_tables() {
    let server = Server::start();
    server
        .kubectl(&[
            "create",
            "role",
            "reader",
            "--verb=get,list",
            "--resource=pods",
        ])
        .ok();
    server
        .kubectl(&[
            "create",
            "rolebinding",
            "reader-binding",
            "--role=reader",
            "--user=alice",
            "--group=devs",
            "--serviceaccount=default:robot",
        ])
        .ok();
    server
        .kubectl(&[
            "create",
            "clusterrole",
            "node-reader",
            "--verb=get",
            "--resource=nodes",
        ])
        .ok();
    server
        .kubectl(&[
            "create",
            "clusterrolebinding",
            "node-reader-binding",
            "--clusterrole=node-reader",
            "--group=ops",
        ])
        .ok();
    server
        .kubectl_stdin(&["create", "-f", "-"], &csr_manifest())
        .ok();

    let created = |kind: &str, name: &str| -> String {
        server
            .kubectl(&[
                "get",
                kind,
                name,
                "-o",
                "jsonpath={.metadata.creationTimestamp}",
            ])
            .ok()
    };
    check(
        &server,
        &Case {
            resource: &["roles"],
            key: ("NAME", "reader"),
            header: &["NAME", "CREATED AT"],
            wide: &[],
            cells: &[("CREATED AT", &created("role", "reader"))],
        },
    );
    check(
        &server,
        &Case {
            resource: &["clusterroles"],
            key: ("NAME", "node-reader"),
            header: &["NAME", "CREATED AT"],
            wide: &[],
            cells: &[("CREATED AT", &created("clusterrole", "node-reader"))],
        },
    );
    check(
        &server,
        &Case {
            resource: &["rolebindings"],
            key: ("NAME", "reader-binding"),
            header: &["NAME", "ROLE", "AGE"],
            wide: &["USERS", "GROUPS", "SERVICEACCOUNTS"],
            cells: &[
                ("ROLE", "Role/reader"),
                ("USERS", "alice"),
                ("GROUPS", "devs"),
                ("SERVICEACCOUNTS", "default/robot"),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["clusterrolebindings"],
            key: ("NAME", "node-reader-binding"),
            header: &["NAME", "ROLE", "AGE"],
            wide: &["USERS", "GROUPS", "SERVICEACCOUNTS"],
            cells: &[
                ("ROLE", "ClusterRole/node-reader"),
                ("USERS", ""),
                ("GROUPS", "ops"),
                ("SERVICEACCOUNTS", ""),
            ],
        },
    );
    check(
        &server,
        &Case {
            resource: &["certificatesigningrequests"],
            key: ("NAME", "csr1"),
            header: &[
                "NAME",
                "AGE",
                "SIGNERNAME",
                "REQUESTOR",
                "REQUESTEDDURATION",
                "CONDITION",
            ],
            wide: &[],
            cells: &[
                ("SIGNERNAME", "kubernetes.io/kube-apiserver-client"),
                ("REQUESTEDDURATION", "24h"),
                ("CONDITION", "Pending"),
            ],
        },
    );
}

/// The CSR strategy records who asked: `spec.username` (and groups) come
/// from the authenticated user, and REQUESTOR prints it.
#[test]
fn csr_requestor_is_the_creating_user() {
    let server = Server::start();
    server
        .kubectl_stdin(&["create", "-f", "-"], &csr_manifest())
        .ok();
    let whoami = server
        .kubectl(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .ok();
    assert!(!whoami.is_empty());
    let csr = server.kubectl_json(&["get", "csr", "csr1"]);
    assert_eq!(csr["spec"]["username"], whoami.as_str(), "{csr}");
    assert!(
        csr["spec"]["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g == "system:authenticated")),
        "{csr}"
    );
    let t = get(&server, &["csr"]);
    assert_eq!(t.row("NAME", "csr1")["REQUESTOR"], whoami, "{}", t.text);
}

/// Objects kube-apiserver creates itself at startup show up in tables.
#[test]
fn bootstrap_objects_are_listed() {
    let server = Server::start();
    let t = get(&server, &["services", "-n", "default"]);
    let row = t.row("NAME", "kubernetes");
    assert_eq!(row["TYPE"], "ClusterIP", "{}", t.text);
    assert_eq!(row["PORT(S)"], "443/TCP", "{}", t.text);

    let t = get(&server, &["priorityclasses"]);
    for (name, value) in [
        ("system-cluster-critical", "2000000000"),
        ("system-node-critical", "2000001000"),
    ] {
        let row = t.row("NAME", name);
        assert_eq!(row["VALUE"], value, "{}", t.text);
        assert_eq!(row["GLOBAL-DEFAULT"], "false", "{}", t.text);
        assert_eq!(
            row["PREEMPTIONPOLICY"], "PreemptLowerPriority",
            "{}",
            t.text
        );
    }

    let t = get(&server, &["clusterroles"]);
    t.row("NAME", "cluster-admin");
    let t = get(&server, &["clusterrolebindings", "-o", "wide"]);
    let row = t.row("NAME", "cluster-admin");
    assert_eq!(row["ROLE"], "ClusterRole/cluster-admin", "{}", t.text);
    assert_eq!(row["GROUPS"], "system:masters", "{}", t.text);
}

/// Upstream's RBAC bootstrap policy: the user-facing aggregated roles exist from the start.
#[test]
fn bootstrap_rbac_policy_roles_are_listed() {
    let server = Server::start();
    let t = get(&server, &["clusterroles"]);
    for name in [
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
    ] {
        t.row("NAME", name);
    }
}

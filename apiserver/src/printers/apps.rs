//! apps/v1 kinds.

use serde_json::{json, Value};

use super::docs as d;
use super::{
    age, arr_at, at, col, container_cells, format_label_selector, format_labels, int_at, name,
    selector_string, str_at, wide, Column, Now, Printer, AGE, NAME,
};

const CONTAINERS: &str = "Names of each container in the template.";
const IMAGES: &str = "Images referenced by each container in the template.";
const READY: &str = "Number of the pod with ready state";

pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("apps", "Deployment", DEPLOYMENT_COLUMNS, deployment),
    Printer::new("apps", "ReplicaSet", REPLICA_SET_COLUMNS, replica_set),
    Printer::new("apps", "StatefulSet", STATEFUL_SET_COLUMNS, stateful_set),
    Printer::new("apps", "DaemonSet", DAEMON_SET_COLUMNS, daemon_set),
    Printer::new(
        "apps",
        "ControllerRevision",
        CONTROLLER_REVISION_COLUMNS,
        controller_revision,
    ),
];

/// `spec.replicas`, which the API defaults to 1.
pub(super) fn replicas(obj: &Value) -> i64 {
    super::int_opt(at(obj, &["spec", "replicas"])).unwrap_or(1)
}

fn template_containers(obj: &Value) -> (Value, Value) {
    container_cells(arr_at(obj, &["spec", "template", "spec", "containers"]))
}

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", READY),
    col("Up-to-date", "string", d::DEPLOY_STATUS_UPDATED),
    col("Available", "string", d::DEPLOY_STATUS_AVAILABLE),
    AGE,
    wide("Containers", "string", CONTAINERS),
    wide("Images", "string", IMAGES),
    wide("Selector", "string", d::DEPLOY_SPEC_SELECTOR),
];

fn deployment(obj: &Value, now: Now) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    // Unlike the other workloads, an empty selector prints empty here, not <none>.
    let selector =
        selector_string(&obj["spec"]["selector"]).unwrap_or_else(|()| "<invalid>".into());
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            replicas(obj)
        )),
        json!(int_at(obj, &["status", "updatedReplicas"])),
        json!(int_at(obj, &["status", "availableReplicas"])),
        age(obj, now),
        names,
        images,
        json!(selector),
    ]
}

const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", d::RS_SPEC_REPLICAS),
    col("Current", "integer", d::RS_STATUS_REPLICAS),
    col("Ready", "integer", d::RS_STATUS_READY),
    AGE,
    wide("Containers", "string", CONTAINERS),
    wide("Images", "string", IMAGES),
    wide("Selector", "string", d::RS_SPEC_SELECTOR),
];

fn replica_set(obj: &Value, now: Now) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    vec![
        name(obj),
        json!(replicas(obj)),
        json!(int_at(obj, &["status", "replicas"])),
        json!(int_at(obj, &["status", "readyReplicas"])),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(&obj["spec"]["selector"])),
    ]
}

const STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", READY),
    AGE,
    wide("Containers", "string", CONTAINERS),
    wide("Images", "string", IMAGES),
];

fn stateful_set(obj: &Value, now: Now) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            replicas(obj)
        )),
        age(obj, now),
        names,
        images,
    ]
}

const DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", d::DS_STATUS_DESIRED),
    col("Current", "integer", d::DS_STATUS_CURRENT),
    col("Ready", "integer", d::DS_STATUS_READY),
    col("Up-to-date", "integer", d::DS_STATUS_UPDATED),
    col("Available", "integer", d::DS_STATUS_AVAILABLE),
    col("Node Selector", "string", d::POD_SPEC_NODE_SELECTOR),
    AGE,
    wide("Containers", "string", CONTAINERS),
    wide("Images", "string", IMAGES),
    wide("Selector", "string", d::DS_SPEC_SELECTOR),
];

fn daemon_set(obj: &Value, now: Now) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    let status = &obj["status"];
    vec![
        name(obj),
        json!(int_at(status, &["desiredNumberScheduled"])),
        json!(int_at(status, &["currentNumberScheduled"])),
        json!(int_at(status, &["numberReady"])),
        json!(int_at(status, &["updatedNumberScheduled"])),
        json!(int_at(status, &["numberAvailable"])),
        json!(format_labels(at(
            obj,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(&obj["spec"]["selector"])),
    ]
}

const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", d::CONTROLLER_REVISION_REVISION),
    AGE,
];

/// The controlling owner as `kind.group/name` in lower case (`statefulset.apps/web`).
fn controller_revision(obj: &Value, now: Now) -> Vec<Value> {
    let owner = arr_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(r) => {
            let group = str_at(r, &["apiVersion"])
                .rsplit_once('/')
                .map(|(g, _)| g)
                .unwrap_or_default();
            let kind = str_at(r, &["kind"]);
            let group_kind = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            let name = str_at(r, &["name"]);
            if group_kind.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", group_kind.to_lowercase())
            }
        }
    };
    vec![
        name(obj),
        json!(controller),
        json!(int_at(obj, &["revision"])),
        age(obj, now),
    ]
}

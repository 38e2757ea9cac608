//! Validation of the built-in kinds that have no module of their own (pods, workloads and
//! services do), and the update rules of every kind: upstream's
//! `pkg/apis/<group>/validation` `Validate<Kind>` and `Validate<Kind>Update`, with their
//! field paths and messages. One submodule per API group.

mod apps;
mod autoscaling;
mod batch;
mod causes;
mod coordination;
mod core_objects;
mod cron_schedule;
mod discovery;
mod networking;
mod policy;
mod rbac;
mod scheduling;
mod storage;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::resource::ResourceInfo;
use crate::status::Cause;

/// Rules on the object as written (create and every update).
pub fn validate(info: &ResourceInfo, obj: &Value, causes: &mut Vec<Cause>) {
    let kind = info.kind.as_str();
    match info.group.as_str() {
        "" => core_objects::validate(kind, obj, causes),
        "batch" => batch::validate(kind, obj, causes),
        "rbac.authorization.k8s.io" => rbac::validate(kind, obj, causes),
        "networking.k8s.io" => networking::validate(kind, obj, causes),
        "policy" => policy::validate(kind, obj, causes),
        "storage.k8s.io" => storage::validate(kind, obj, causes),
        "autoscaling" => autoscaling::validate(kind, obj, causes),
        "scheduling.k8s.io" => scheduling::validate(kind, obj, causes),
        "coordination.k8s.io" => coordination::validate(kind, obj, causes),
        "discovery.k8s.io" => discovery::validate(kind, obj, causes),
        _ => {}
    }
    if info.group.is_empty() && matches!(kind, "PersistentVolume" | "PersistentVolumeClaim") {
        storage::validate_core(kind, obj, causes);
    }
}

/// Rules on what an update may change; `validate` has already run on the new object.
pub fn validate_update(info: &ResourceInfo, old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let kind = info.kind.as_str();
    match info.group.as_str() {
        "" => {
            core_objects::validate_update(kind, old, new, causes);
            storage::validate_core_update(kind, old, new, causes);
        }
        "apps" => apps::validate_update(kind, old, new, causes),
        "batch" => batch::validate_update(kind, old, new, causes),
        "rbac.authorization.k8s.io" => rbac::validate_update(kind, old, new, causes),
        "networking.k8s.io" => networking::validate_update(kind, old, new, causes),
        "storage.k8s.io" => storage::validate_update(kind, old, new, causes),
        "scheduling.k8s.io" => scheduling::validate_update(kind, old, new, causes),
        "discovery.k8s.io" => discovery::validate_update(kind, old, new, causes),
        _ => {}
    }
}

/// Whether `obj` is being created: only stored objects carry a resourceVersion when
/// validated (the create path refuses one).
fn is_create(obj: &Value) -> bool {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .is_none_or(str::is_empty)
}

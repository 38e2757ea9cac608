//! `metadata.managedFields`: who owns which fields, updated on every write (upstream's
//! managedfields package). An Update operation takes the fields it changed; an Apply takes
//! the fields its configuration sets, after checking no other manager owns one it changes.

use serde_json::{json, Map, Value};

use super::fieldpath::{path_string, Path, PathElement, Set};
use super::typed::{self, Ty, Types};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One managedFields entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub fields: Set,
}

impl Entry {
    /// Upstream's manager identifier: appliers are one manager whatever API version they
    /// applied with; updaters are one per version.
    fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// How a conflict names this manager.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// Decode `metadata.managedFields`; an absent field is no entries.
pub fn decode(v: Option<&Value>) -> Result<Vec<Entry>, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = v.as_array().ok_or("managedFields must be a list")?;
    let mut out: Vec<Entry> = Vec::with_capacity(items.len());
    for item in items {
        let o = item
            .as_object()
            .ok_or("managedFields entries must be objects")?;
        let text = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        // Upstream decodes leniently: anything but Apply is an updater, and only the
        // field set itself must parse. (`[{}]` so decodes to one empty manager, which is
        // how clients reset managedFields.)
        let operation = match o.get("operation").and_then(Value::as_str) {
            Some("Apply") => Operation::Apply,
            _ => Operation::Update,
        };
        let fields = match o.get("fieldsV1") {
            None | Some(Value::Null) => Set::new(),
            Some(f) => Set::from_fields_v1(f)?,
        };
        let e = Entry {
            manager: text("manager"),
            operation,
            api_version: text("apiVersion"),
            time: o.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: text("subresource"),
            fields,
        };
        if out.iter().any(|o| o.same_manager(&e)) {
            return Err(format!("duplicate manager entry for {}", e.describe()));
        }
        out.push(e);
    }
    Ok(out)
}

/// Encode entries as `metadata.managedFields`, in upstream's order, leaving out managers
/// that own nothing.
pub fn encode(mut entries: Vec<Entry>) -> Value {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        (
            a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    Value::Array(
        entries
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("manager".into(), json!(e.manager));
                m.insert("operation".into(), json!(e.operation.as_str()));
                m.insert("apiVersion".into(), json!(e.api_version));
                if let Some(t) = e.time {
                    m.insert("time".into(), json!(t));
                }
                m.insert("fieldsType".into(), json!("FieldsV1"));
                m.insert("fieldsV1".into(), e.fields.to_fields_v1());
                if !e.subresource.is_empty() {
                    m.insert("subresource".into(), json!(e.subresource));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Fields no manager owns: identity and server-set metadata (upstream's stripMeta).
fn strip(mut set: Set) -> Set {
    let f = |s: &str| PathElement::Field(s.to_string());
    set.remove(&[f("apiVersion")]);
    set.remove(&[f("kind")]);
    set.remove(&[f("metadata")]);
    for k in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.remove(&[f("metadata"), f(k)]);
    }
    set
}

/// What the field manager leaves out of comparisons: the bookkeeping itself ...
const BOOKKEEPING: &[&[&str]] = &[
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

/// ... and status, on the main endpoint of a kind whose status has its own.
const BOOKKEEPING_AND_STATUS: &[&[&str]] = &[
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
    &["status"],
];

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    v
}

/// What a write is: by whom, through which endpoint, at which API version.
#[derive(Clone, Copy, Debug)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    /// "" for the object itself, "status" for `/status`.
    pub subresource: &'a str,
    pub now: &'a str,
    /// Leave status out: the main endpoint of a kind with a `/status` endpoint, whose
    /// status the strategy carries over or resets.
    pub ignore_status: bool,
}

/// Record an Update operation: `new` (about to be stored, replacing `live`, or created when
/// `live` is `{}`) gets its managedFields. The entries come from `new` if the client sent
/// valid, non-empty ones (so clients may edit them), else from `live`. Upstream resets
/// managedFields on any error here rather than failing the write; so does this.
pub fn record_update(types: &Types, ty: Ty<'static>, live: &Value, new: &mut Value, w: Writer<'_>) {
    let entries =
        match entries_for_update(live, new, !w.subresource.is_empty()).and_then(|entries| {
            if untracked(live, &entries) {
                Ok(Vec::new())
            } else {
                update(types, ty, live, new, entries, w)
            }
        }) {
            Ok(entries) => encode(entries),
            Err(e) => {
                tracing::debug!("resetting managedFields: {e}");
                Value::Array(Vec::new())
            }
        };
    set_managed_fields(new, entries);
}

/// Updates of objects nobody tracks are not tracked until a first apply (upstream's
/// skipNonAppliedManager); creates always are.
fn untracked(live: &Value, entries: &[Entry]) -> bool {
    entries.is_empty()
        && live["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
}

fn entries_for_update(live: &Value, new: &Value, subresource: bool) -> Result<Vec<Entry>, String> {
    let from_live = || Ok(decode(live["metadata"].get("managedFields")).unwrap_or_default());
    if subresource {
        return from_live();
    }
    match decode(new["metadata"].get("managedFields")) {
        Ok(e) if !e.is_empty() => Ok(e),
        _ => from_live(),
    }
}

fn set_managed_fields(obj: &mut Value, entries: Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.as_array().is_some_and(Vec::is_empty) {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), entries);
    }
}

fn update(
    types: &Types,
    ty: Ty<'static>,
    live: &Value,
    new: &Value,
    mut entries: Vec<Entry>,
    w: Writer<'_>,
) -> Result<Vec<Entry>, String> {
    let ignored = if w.ignore_status {
        BOOKKEEPING_AND_STATUS
    } else {
        BOOKKEEPING
    };
    let c = typed::compare_ignoring(types, ty, live, new, ignored)?;
    let mut changed = c.added;
    changed.union_in(&c.modified);
    let changed = strip(changed);
    // The writer takes what it changed from everyone (an update is always forced).
    for e in &mut entries {
        e.fields = e.fields.difference(&changed).difference(&c.removed);
    }
    if !changed.is_empty() {
        let me = Entry {
            manager: w.manager.to_string(),
            operation: Operation::Update,
            api_version: w.api_version.to_string(),
            time: Some(w.now.to_string()),
            subresource: w.subresource.to_string(),
            fields: Set::new(),
        };
        match entries.iter_mut().find(|e| e.same_manager(&me)) {
            Some(e) => {
                e.fields = e.fields.union(&changed);
                e.time = me.time;
            }
            None => entries.push(Entry {
                fields: changed,
                ..me
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    cap_updaters(&mut entries);
    Ok(entries)
}

/// Upstream keeps at most this many Update managers ...
const MAX_UPDATE_MANAGERS: usize = 10;
/// ... merging the oldest into one bucket per API version.
const OLD_UPDATES_MANAGER: &str = "ancient-changes";

fn cap_updaters(entries: &mut Vec<Entry>) {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].operation == Operation::Update)
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|&a, &b| {
        (&entries[a].time, &entries[a].manager).cmp(&(&entries[b].time, &entries[b].manager))
    });
    let mut remaining = updaters.len();
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut merged = Vec::new();
    for i in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = entries[i].api_version.clone();
        let Some(&(_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version, i));
            continue;
        };
        // The bucket: an existing one of this version, else the oldest entry renamed.
        let bucket = entries
            .iter()
            .position(|e| {
                e.manager == OLD_UPDATES_MANAGER
                    && e.operation == Operation::Update
                    && e.api_version == version
                    && e.subresource.is_empty()
            })
            .unwrap_or(first);
        if bucket == first {
            entries[first].manager = OLD_UPDATES_MANAGER.to_string();
            entries[first].subresource.clear();
        }
        let fields = entries[i].fields.clone();
        entries[bucket].fields = entries[bucket].fields.union(&fields);
        entries[bucket].time = entries[i].time.clone();
        merged.push(i);
        remaining -= 1;
    }
    let mut i = 0;
    entries.retain(|_| {
        i += 1;
        !merged.contains(&(i - 1))
    });
}

/// The annotation client-side `kubectl apply` keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Conflicts a `kubectl apply --server-side` may override when taking over from
/// client-side apply: the fields of the last-applied configuration whose live values are
/// still what it applied (upstream's lastAppliedManager).
pub fn allowed_from_last_applied(types: &Types, ty: Ty<'static>, live: &Value) -> Option<Set> {
    let text = live["metadata"]["annotations"][LAST_APPLIED].as_str()?;
    let last: Value = serde_json::from_str(text).ok()?;
    let set = typed::to_field_set(types, ty, &last).ok()?;
    let c = typed::compare(types, ty, &last, &without_managed_fields(live)).ok()?;
    Some(set.difference(&c.modified))
}

const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// One field another manager owns and an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub path: Path,
}

/// Why an apply failed.
#[derive(Debug)]
pub enum ApplyError {
    /// The configuration cannot be merged (bad list keys, ...).
    Invalid(String),
    /// Fields owned by others would change; `force` takes them.
    Conflicts(Vec<Conflict>),
}

impl ApplyError {
    /// Upstream's conflict message.
    pub fn conflict_message(conflicts: &[Conflict]) -> String {
        if let [c] = conflicts {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                c.manager,
                path_string(&c.path)
            );
        }
        let mut lines = Vec::new();
        let mut last = None;
        for c in conflicts {
            if last != Some(&c.manager) {
                lines.push(format!("conflicts with {}:", c.manager));
                last = Some(&c.manager);
            }
            lines.push(format!("- {}", path_string(&c.path)));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    }
}

/// Apply `config` (an applied configuration) to `live` for manager `w.manager`: merge it,
/// drop what this manager applied before and no longer applies (unless someone else owns
/// it), check conflicts, and record ownership. Returns the new object with managedFields.
pub fn apply(
    types: &Types,
    ty: Ty<'static>,
    live: &Value,
    config: &Value,
    w: Writer<'_>,
    force: bool,
) -> Result<Value, ApplyError> {
    let mut entries = decode(live["metadata"].get("managedFields")).unwrap_or_default();
    // What an untracked object already holds becomes "before-first-apply"'s, so the first
    // applier conflicts with it rather than silently taking it.
    if untracked(live, &entries) {
        let before = Writer {
            manager: BEFORE_FIRST_APPLY,
            ..w
        };
        entries =
            update(types, ty, &json!({}), live, Vec::new(), before).map_err(ApplyError::Invalid)?;
    }
    let live_s = without_managed_fields(live);
    let mut merged = typed::merge(types, ty, &live_s, config).map_err(ApplyError::Invalid)?;
    let set = strip(typed::to_field_set(types, ty, config).map_err(ApplyError::Invalid)?);
    let me = Entry {
        manager: w.manager.to_string(),
        operation: Operation::Apply,
        api_version: w.api_version.to_string(),
        time: Some(w.now.to_string()),
        subresource: w.subresource.to_string(),
        fields: set.clone(),
    };
    let last = entries
        .iter()
        .position(|e| e.same_manager(&me))
        .map(|i| entries.remove(i).fields);
    // Fields this manager applied before and no longer does go away, unless another
    // manager owns them (or something below them).
    if let Some(last) = last {
        let mut prune = Set::new();
        for p in last.paths() {
            if !set.has_prefix(&p) && !entries.iter().any(|e| e.fields.has_prefix(&p)) {
                prune.insert(&p);
            }
        }
        if !prune.is_empty() {
            typed::remove(types, ty, &mut merged, &prune).map_err(ApplyError::Invalid)?;
        }
    }
    let c = typed::compare(types, ty, &live_s, &merged).map_err(ApplyError::Invalid)?;
    let changed = c.added.union(&c.modified);
    let mut conflicts = Vec::new();
    for e in &entries {
        for path in e.fields.intersection(&changed).paths() {
            conflicts.push(Conflict {
                manager: e.describe(),
                path,
            });
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager).then(a.path.cmp(&b.path)));
        return Err(ApplyError::Conflicts(conflicts));
    }
    for e in &mut entries {
        e.fields = e.fields.difference(&changed).difference(&c.removed);
    }
    entries.push(me);
    set_managed_fields(&mut merged, encode(entries));
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "k8s_openapi::api::apps::v1::Deployment";

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "apps/v1",
            subresource: "",
            now: "2026-01-01T00:00:00Z",
            ignore_status: false,
        }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "app", "image": image}
            ]}}}
        })
    }

    fn fields(obj: &Value, manager: &str) -> Value {
        obj["metadata"]["managedFields"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["manager"] == manager))
            .map(|e| e["fieldsV1"].clone())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn create_records_an_update_owning_every_field_but_identity() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let mut obj = deployment(1, "nginx");
        record_update(&types, ty, &json!({}), &mut obj, writer("kubectl-create"));
        assert_eq!(obj["metadata"]["managedFields"][0]["operation"], "Update");
        assert_eq!(
            fields(&obj, "kubectl-create"),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}}}
            })
        );
    }

    #[test]
    fn apply_conflicts_with_another_owner_unless_forced() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let mut live = deployment(1, "nginx");
        record_update(
            &types,
            ty,
            &json!({}),
            &mut live,
            writer("kubectl-client-side-apply"),
        );
        // Same values: no conflict, shared ownership.
        let same = apply(
            &types,
            ty,
            &live,
            &deployment(1, "nginx"),
            writer("kubectl"),
            false,
        )
        .unwrap_or_else(|_| panic!("same values conflict"));
        assert_eq!(fields(&same, "kubectl")["f:spec"]["f:replicas"], json!({}));
        let err = apply(
            &types,
            ty,
            &live,
            &deployment(3, "nginx"),
            writer("kubectl"),
            false,
        );
        let Err(ApplyError::Conflicts(c)) = err else {
            panic!("expected a conflict")
        };
        assert_eq!(
            ApplyError::conflict_message(&c),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        let forced = apply(
            &types,
            ty,
            &live,
            &deployment(3, "nginx"),
            writer("kubectl"),
            true,
        )
        .unwrap_or_else(|_| panic!("force failed"));
        assert_eq!(forced["spec"]["replicas"], 3);
        assert!(fields(&forced, "kubectl-client-side-apply")["f:spec"]
            .get("f:replicas")
            .is_none());
    }

    #[test]
    fn untracked_objects_stay_untracked_until_applied() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let mut live = deployment(1, "nginx");
        live["metadata"]["uid"] = json!("u1");
        let mut new = deployment(2, "nginx");
        new["metadata"]["uid"] = json!("u1");
        record_update(&types, ty, &live, &mut new, writer("kubectl-edit"));
        assert!(new["metadata"].get("managedFields").is_none());
        let err = apply(
            &types,
            ty,
            &live,
            &deployment(3, "nginx"),
            writer("kubectl"),
            false,
        );
        let Err(ApplyError::Conflicts(c)) = err else {
            panic!("expected a conflict with before-first-apply")
        };
        assert_eq!(c[0].manager, "\"before-first-apply\" using apps/v1");
    }

    #[test]
    fn update_managers_are_capped_into_ancient_changes() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"base": "x"}}});
        record_update(&types, ty, &json!({}), &mut obj, writer("creator"));
        for i in 0..12 {
            let mut next = obj.clone();
            next["metadata"]["uid"] = json!("u");
            next["metadata"]["labels"][format!("l{i}")] = json!("x");
            let mut live = obj.clone();
            live["metadata"]["uid"] = json!("u");
            let name = format!("m{i:02}");
            let w = Writer {
                now: "2026-01-01T00:00:00Z",
                ..writer(&name)
            };
            record_update(&types, ty, &live, &mut next, w);
            obj = next;
        }
        let entries = obj["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), MAX_UPDATE_MANAGERS, "{entries:?}");
        assert!(entries.iter().any(|e| e["manager"] == OLD_UPDATES_MANAGER));
    }

    #[test]
    fn reapplying_without_a_field_removes_it_and_merges_lists_by_key() {
        let types = Types::get();
        let ty = types.root(DEPLOYMENT);
        let mut first = deployment(1, "nginx");
        first["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "side", "image": "busybox"}));
        let live =
            apply(&types, ty, &json!({}), &first, writer("a"), false).unwrap_or_else(|_| panic!());
        // Another manager adds a container; the first applier drops "side" and its label.
        let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "extra", "image": "x"}]}}}});
        let live =
            apply(&types, ty, &live, &other, writer("b"), false).unwrap_or_else(|_| panic!());
        let mut second = deployment(1, "nginx:2");
        second["metadata"].as_object_mut().unwrap().remove("labels");
        let out =
            apply(&types, ty, &live, &second, writer("a"), false).unwrap_or_else(|_| panic!());
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["app", "extra"]);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:2"
        );
        assert!(out["metadata"]
            .get("labels")
            .is_none_or(|l| l.get("app").is_none()));
    }
}

//! What a DELETE does to an object: upstream's `rest.BeforeDelete` (graceful deletion, only
//! ever shortened), the generic store's `deletionFinalizersForGarbageCollection` (the
//! `orphan` / `foregroundDeletion` finalizers a propagation policy asks for) and the pod
//! strategy's `CheckGracefulDelete`. Pure decisions; `rest` does the storage writes.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::params::Query;
use crate::resource::ResourceInfo;
use crate::status::{ApiError, ApiResult, Cause};

/// The finalizer that makes the garbage collector orphan an owner's dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that makes the garbage collector delete dependents before their owner.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<u64>,
    pub dry_run: bool,
    pub grace_period: Option<i64>,
    /// `propagationPolicy` as sent; validated to one of the three policies.
    pub propagation: Option<String>,
    /// The deprecated `orphanDependents`.
    pub orphan_dependents: Option<bool>,
}

const DELETE_OPTIONS_TYPE: &str = "k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions";

fn invalid_options(what: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("invalid DeleteOptions: {what}"))
}

impl DeleteOptions {
    /// Options of a DELETE: from the body when there is one (JSON, or protobuf as typed
    /// clients send it), else from the query, as upstream's delete handler reads them;
    /// then validated (422 as upstream).
    pub fn from_request(content_type: &str, body: &[u8], query: &Query) -> ApiResult<Self> {
        let dry_run = query.dry_run()?;
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        let opts = if body.iter().all(u8::is_ascii_whitespace) {
            Self::from_query(query, dry_run)?
        } else if mime == crate::protobuf::CONTENT_TYPE {
            let v = crate::protobuf::decode_object(DELETE_OPTIONS_TYPE, body)
                .map_err(invalid_options)?;
            Self::from_body(&v, dry_run)?
        } else {
            let v: Value = serde_json::from_slice(body).map_err(invalid_options)?;
            Self::from_body(&v, dry_run)?
        };
        opts.validate()?;
        Ok(opts)
    }

    fn from_query(query: &Query, dry_run: bool) -> ApiResult<Self> {
        let grace_period =
            match query.get("gracePeriodSeconds") {
                None | Some("") => None,
                Some(v) => Some(v.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {v:?}"))
                })?),
            };
        let orphan_dependents = match query.get("orphanDependents") {
            None | Some("") => None,
            Some("true") | Some("1") => Some(true),
            Some("false") | Some("0") => Some(false),
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "invalid orphanDependents {v:?}"
                )))
            }
        };
        Ok(DeleteOptions {
            dry_run,
            grace_period,
            propagation: query
                .get("propagationPolicy")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            orphan_dependents,
            ..Default::default()
        })
    }

    pub fn from_body(body: &Value, dry_run_query: bool) -> ApiResult<Self> {
        if !body.is_object() {
            return Err(invalid_options("not a JSON object"));
        }
        if let Some(kind) = body["kind"].as_str().filter(|k| !k.is_empty()) {
            if kind != "DeleteOptions" {
                return Err(ApiError::bad_request(format!(
                    "decoded object cannot be converted to DeleteOptions: kind {kind:?}"
                )));
            }
        }
        let pre = &body["preconditions"];
        let rv = match pre["resourceVersion"].as_str() {
            None | Some("") => None,
            Some(v) => Some(v.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid precondition resourceVersion {v:?}"))
            })?),
        };
        let dry_run = dry_run_query
            || body["dryRun"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "All"));
        let grace_period = match &body["gracePeriodSeconds"] {
            Value::Null => None,
            v => Some(
                v.as_i64()
                    .ok_or_else(|| invalid_options("gracePeriodSeconds must be an integer"))?,
            ),
        };
        let orphan_dependents = match &body["orphanDependents"] {
            Value::Null => None,
            v => Some(
                v.as_bool()
                    .ok_or_else(|| invalid_options("orphanDependents must be a boolean"))?,
            ),
        };
        let propagation = match &body["propagationPolicy"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(invalid_options("propagationPolicy must be a string")),
        };
        Ok(DeleteOptions {
            precondition_uid: pre["uid"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            precondition_rv: rv,
            dry_run,
            grace_period,
            propagation,
            orphan_dependents,
        })
    }

    /// Upstream's `ValidateDeleteOptions`.
    pub fn validate(&self) -> ApiResult<()> {
        let mut causes = Vec::new();
        if let (Some(_), Some(p)) = (self.orphan_dependents, &self.propagation) {
            causes.push(Cause::invalid(
                "propagationPolicy",
                p,
                "orphanDependents and deletionPropagation cannot be both set",
            ));
        }
        if let Some(p) = &self.propagation {
            if self.policy().is_none() {
                causes.push(Cause {
                    reason: "FieldValueNotSupported".into(),
                    message: format!(
                        "Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                    field: "propagationPolicy".into(),
                });
            }
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                causes,
            ))
        }
    }

    fn policy(&self) -> Option<Propagation> {
        match self.propagation.as_deref()? {
            "Orphan" => Some(Propagation::Orphan),
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            _ => None,
        }
    }
}

/// What a delete request does to the object as stored.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Remove it from storage now.
    DeleteNow,
    /// Store this marked object (deletionTimestamp, finalizers) and answer with it.
    Mark(Value),
    /// Graceful deletion already pending: nothing to write, answer with the object.
    Pending,
}

fn is_pod(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "Pod"
}

fn is_namespace(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "Namespace"
}

/// Upstream's `DefaultGarbageCollectionPolicy`: core/v1 ReplicationControllers orphan their
/// pods unless asked otherwise (kept for backwards compatibility); everything else
/// deletes dependents in the background.
fn orphans_by_default(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "ReplicationController"
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The finalizer among `orphan`/`foregroundDeletion` that comes first, if any.
fn first_gc_finalizer(current: &[String]) -> Option<&str> {
    current
        .iter()
        .map(String::as_str)
        .find(|f| *f == ORPHAN_FINALIZER || *f == FOREGROUND_FINALIZER)
}

/// Upstream's `deletionFinalizersForGarbageCollection`: the finalizers the object should
/// carry for the requested propagation; `None` when they are already right.
fn gc_finalizers(
    info: &ResourceInfo,
    current: &[String],
    opts: &DeleteOptions,
) -> Option<Vec<String>> {
    let policy = opts.policy();
    let orphan = match (opts.orphan_dependents, policy) {
        (Some(o), _) => o,
        (None, Some(p)) => p == Propagation::Orphan,
        (None, None) => match first_gc_finalizer(current) {
            Some(f) => f == ORPHAN_FINALIZER,
            None => orphans_by_default(info),
        },
    };
    let foreground = match (opts.orphan_dependents, policy) {
        (Some(_), _) => false,
        (None, Some(p)) => p == Propagation::Foreground,
        (None, None) => first_gc_finalizer(current) == Some(FOREGROUND_FINALIZER),
    };
    let mut wanted: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan {
        wanted.push(ORPHAN_FINALIZER.into());
    }
    if foreground {
        wanted.push(FOREGROUND_FINALIZER.into());
    }
    let same = wanted.len() == current.len() && wanted.iter().all(|f| current.contains(f));
    (!same).then_some(wanted)
}

/// Upstream's pod `CheckGracefulDelete`: the requested grace period, else the pod's own;
/// unscheduled and terminated pods go at once.
fn pod_grace_period(pod: &Value, requested: Option<i64>) -> i64 {
    let mut period = requested
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(0);
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        period = 0;
    }
    if matches!(
        pod["status"]["phase"].as_str(),
        Some("Failed") | Some("Succeeded")
    ) {
        period = 0;
    }
    // Negative values mean one second on the delete path.
    if period < 0 {
        1
    } else {
        period
    }
}

fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Decide what deleting `obj` with `opts` does at time `now`.
pub fn decide(
    info: &ResourceInfo,
    obj: &Value,
    opts: &DeleteOptions,
    now: DateTime<Utc>,
) -> Decision {
    let requested = opts.grace_period.map(|g| if g < 0 { 1 } else { g });
    let meta = &obj["metadata"];
    let mut marked = obj.clone();
    // The grace period this request leaves the object with, when graceful.
    let mut graceful: Option<i64> = None;
    if is_pod(info) {
        let current = meta["deletionGracePeriodSeconds"]
            .as_i64()
            .map(|g| if g < 0 { 1 } else { g });
        match (parse_time(&meta["deletionTimestamp"]), current) {
            // Not yet being deleted: start graceful deletion.
            (None, _) if meta["deletionTimestamp"].is_null() => {
                let period = pod_grace_period(obj, requested);
                marked["metadata"]["deletionTimestamp"] =
                    json!(format_time(now + Duration::seconds(period)));
                marked["metadata"]["deletionGracePeriodSeconds"] = json!(period);
                if let Some(g) = meta["generation"].as_i64().filter(|g| *g > 0) {
                    marked["metadata"]["generation"] = json!(g + 1);
                }
                graceful = Some(period);
            }
            // Being deleted with a grace period: a request may only shorten it.
            (Some(ts), Some(cur)) if cur > 0 => match requested {
                Some(p) if p < cur => {
                    let ts = ts - Duration::seconds(cur) + Duration::seconds(p);
                    marked["metadata"]["deletionTimestamp"] = json!(format_time(ts));
                    marked["metadata"]["deletionGracePeriodSeconds"] = json!(p);
                    graceful = Some(p);
                }
                // Finalizers cannot change through DeleteOptions once deletion started.
                _ => return Decision::Pending,
            },
            // Marked with no (or zero) grace period: not graceful, finish it below.
            _ => {}
        }
    }
    let mut current = finalizers(obj);
    // A CRD's first delete starts the removal of its objects: the cleanup finalizer holds it
    // until they are gone (upstream's customresourcedefinition REST Delete).
    if crate::crd::registrar::is_crd(info) && meta["deletionTimestamp"].is_null() {
        if !current
            .iter()
            .any(|f| f == crate::crd::registrar::CLEANUP_FINALIZER)
        {
            current.push(crate::crd::registrar::CLEANUP_FINALIZER.to_string());
            marked["metadata"]["finalizers"] = json!(current);
        }
        crate::crd::registrar::mark_terminating(&mut marked);
    }
    let wanted = gc_finalizers(info, &current, opts);
    if let Some(f) = &wanted {
        marked["metadata"]["finalizers"] = json!(f);
    }
    let pending_finalizers = !wanted.as_ref().unwrap_or(&current).is_empty()
        || (is_namespace(info)
            && obj["spec"]["finalizers"]
                .as_array()
                .is_some_and(|a| !a.is_empty()));
    if is_namespace(info) && pending_finalizers {
        marked["status"]["phase"] = json!("Terminating");
    }
    match graceful {
        None if pending_finalizers => {
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if marked["metadata"]["deletionTimestamp"].is_null() {
                marked["metadata"]["deletionTimestamp"] = json!(format_time(now));
            }
            if marked == *obj {
                Decision::Pending
            } else {
                Decision::Mark(marked)
            }
        }
        None => Decision::DeleteNow,
        Some(period) if period > 0 || pending_finalizers => Decision::Mark(marked),
        Some(_) => Decision::DeleteNow,
    }
}

/// Upstream's `ValidateFinalizers`: an object cannot ask for both orphaning and foreground
/// deletion of its dependents.
pub fn validate_finalizers(obj: &Value) -> Vec<Cause> {
    let f = finalizers(obj);
    if !(f.iter().any(|x| x == ORPHAN_FINALIZER) && f.iter().any(|x| x == FOREGROUND_FINALIZER)) {
        return Vec::new();
    }
    // Go prints the value as a []string literal.
    let shown: Vec<String> = f.iter().map(|x| format!("{x:?}")).collect();
    vec![Cause {
        reason: "FieldValueInvalid".into(),
        message: format!(
            "Invalid value: []string{{{}}}: finalizer {ORPHAN_FINALIZER} and {FOREGROUND_FINALIZER} cannot be both set",
            shown.join(", ")
        ),
        field: "metadata.finalizers".into(),
    }]
}

/// Upstream's `shouldDeleteDuringUpdate`: an update that removes the last finalizer of an
/// object marked for deletion with no grace period left deletes it. An object without
/// finalizers before (a pod in graceful deletion) is never deleted by an update.
pub fn delete_during_update(info: &ResourceInfo, old: &Value, new: &Value) -> bool {
    let has_finalizers = |o: &Value| {
        !finalizers(o).is_empty()
            || (is_namespace(info)
                && o["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()))
    };
    !new["metadata"]["deletionTimestamp"].is_null()
        && !has_finalizers(new)
        && has_finalizers(old)
        && new["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .is_none_or(|g| g == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, kind: &str) -> ResourceInfo {
        crate::builtin::resources()
            .into_iter()
            .find(|r| r.group == group && r.kind == kind)
            .expect("built-in resource")
    }

    fn opts(policy: Option<&str>, grace: Option<i64>) -> DeleteOptions {
        DeleteOptions {
            propagation: policy.map(str::to_string),
            grace_period: grace,
            ..Default::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn cm() -> Value {
        json!({"metadata": {"name": "c", "uid": "u"}})
    }

    fn pod(node: &str, phase: &str) -> Value {
        json!({"metadata": {"name": "p", "uid": "u"},
               "spec": {"nodeName": node, "terminationGracePeriodSeconds": 30},
               "status": {"phase": phase}})
    }

    #[test]
    fn background_and_default_delete_at_once() {
        let i = info("", "ConfigMap");
        assert_eq!(
            decide(&i, &cm(), &opts(None, None), now()),
            Decision::DeleteNow
        );
        assert_eq!(
            decide(&i, &cm(), &opts(Some("Background"), None), now()),
            Decision::DeleteNow
        );
    }

    #[test]
    fn orphan_and_foreground_mark_with_their_finalizer() {
        let i = info("apps", "Deployment");
        for (policy, fin) in [("Orphan", "orphan"), ("Foreground", "foregroundDeletion")] {
            let Decision::Mark(m) = decide(&i, &cm(), &opts(Some(policy), None), now()) else {
                panic!("{policy} should mark");
            };
            assert_eq!(m["metadata"]["finalizers"], json!([fin]));
            assert_eq!(m["metadata"]["deletionTimestamp"], "2026-01-01T00:00:00Z");
            assert_eq!(m["metadata"]["deletionGracePeriodSeconds"], 0);
        }
        let legacy = DeleteOptions {
            orphan_dependents: Some(true),
            ..Default::default()
        };
        assert!(matches!(
            decide(&i, &cm(), &legacy, now()),
            Decision::Mark(_)
        ));
    }

    #[test]
    fn a_later_background_delete_drops_the_orphan_finalizer() {
        let i = info("apps", "Deployment");
        let mut o = cm();
        o["metadata"]["finalizers"] = json!(["orphan"]);
        o["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        o["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        assert_eq!(
            decide(&i, &o, &opts(Some("Background"), None), now()),
            Decision::DeleteNow
        );
        // Without options the finalizer already there decides: nothing changes.
        assert_eq!(decide(&i, &o, &opts(None, None), now()), Decision::Pending);
    }

    #[test]
    fn replication_controllers_orphan_by_default() {
        let i = info("", "ReplicationController");
        let Decision::Mark(m) = decide(&i, &cm(), &opts(None, None), now()) else {
            panic!("should mark");
        };
        assert_eq!(m["metadata"]["finalizers"], json!(["orphan"]));
    }

    #[test]
    fn scheduled_pods_are_deleted_gracefully_and_only_shortened() {
        let i = info("", "Pod");
        let Decision::Mark(m) = decide(&i, &pod("n1", "Running"), &opts(None, None), now()) else {
            panic!("should be graceful");
        };
        assert_eq!(m["metadata"]["deletionTimestamp"], "2026-01-01T00:00:30Z");
        assert_eq!(m["metadata"]["deletionGracePeriodSeconds"], 30);
        // A longer or equal grace period changes nothing.
        assert_eq!(
            decide(&i, &m, &opts(None, Some(60)), now()),
            Decision::Pending
        );
        assert_eq!(decide(&i, &m, &opts(None, None), now()), Decision::Pending);
        let Decision::Mark(short) = decide(&i, &m, &opts(None, Some(5)), now()) else {
            panic!("should shorten");
        };
        assert_eq!(
            short["metadata"]["deletionTimestamp"],
            "2026-01-01T00:00:05Z"
        );
        assert_eq!(short["metadata"]["deletionGracePeriodSeconds"], 5);
        assert_eq!(
            decide(&i, &m, &opts(None, Some(0)), now()),
            Decision::DeleteNow
        );
    }

    #[test]
    fn unscheduled_terminated_and_zero_grace_pods_go_at_once() {
        let i = info("", "Pod");
        assert_eq!(
            decide(&i, &pod("", "Pending"), &opts(None, None), now()),
            Decision::DeleteNow
        );
        assert_eq!(
            decide(&i, &pod("n1", "Succeeded"), &opts(None, None), now()),
            Decision::DeleteNow
        );
        assert_eq!(
            decide(&i, &pod("n1", "Running"), &opts(None, Some(0)), now()),
            Decision::DeleteNow
        );
    }

    #[test]
    fn a_pod_with_finalizers_waits_even_with_zero_grace() {
        let i = info("", "Pod");
        let mut p = pod("n1", "Running");
        p["metadata"]["finalizers"] = json!(["example.com/x"]);
        let Decision::Mark(m) = decide(&i, &p, &opts(None, Some(0)), now()) else {
            panic!("should wait for the finalizer");
        };
        assert_eq!(m["metadata"]["deletionGracePeriodSeconds"], 0);
        let mut done = m.clone();
        done["metadata"]["finalizers"] = json!([]);
        assert!(delete_during_update(&i, &m, &done));
    }

    #[test]
    fn updates_of_a_terminating_pod_without_finalizers_do_not_delete_it() {
        let i = info("", "Pod");
        let Decision::Mark(m) = decide(&i, &pod("n1", "Running"), &opts(None, None), now()) else {
            panic!("should be graceful");
        };
        let mut status = m.clone();
        status["status"]["phase"] = json!("Succeeded");
        assert!(!delete_during_update(&i, &m, &status));
    }

    #[test]
    fn orphan_and_foreground_finalizers_exclude_each_other() {
        let mut o = cm();
        o["metadata"]["finalizers"] = json!(["orphan", "foregroundDeletion"]);
        let causes = validate_finalizers(&o);
        assert_eq!(causes.len(), 1);
        assert_eq!(
            causes[0].message,
            "Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set"
        );
        o["metadata"]["finalizers"] = json!(["orphan"]);
        assert!(validate_finalizers(&o).is_empty());
    }

    /// A protobuf field: tag and length-delimited bytes.
    fn field(n: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn protobuf_delete_options_are_decoded() {
        // DeleteOptions{gracePeriodSeconds: 0, propagationPolicy: "Foreground"} in the
        // runtime.Unknown envelope client-go sends.
        let mut raw = vec![0x08, 0x00];
        raw.extend(field(4, b"Foreground"));
        let mut type_meta = field(1, b"meta.k8s.io/v1");
        type_meta.extend(field(2, b"DeleteOptions"));
        let mut unknown = field(1, &type_meta);
        unknown.extend(field(2, &raw));
        let mut body = b"k8s\x00".to_vec();
        body.extend(unknown);
        let o = DeleteOptions::from_request(
            "application/vnd.kubernetes.protobuf",
            &body,
            &Query::default(),
        )
        .unwrap();
        assert_eq!(o.grace_period, Some(0));
        assert_eq!(o.policy(), Some(Propagation::Foreground));
    }

    #[test]
    fn options_are_validated_as_upstream() {
        let both = DeleteOptions {
            orphan_dependents: Some(true),
            propagation: Some("Orphan".into()),
            ..Default::default()
        };
        let e = both.validate().unwrap_err();
        assert_eq!(e.code, 422);
        let bad = opts(Some("Sideways"), None);
        assert_eq!(bad.validate().unwrap_err().code, 422);
        assert!(opts(Some("Foreground"), None).validate().is_ok());
        let body = json!({"gracePeriodSeconds": "soon"});
        assert_eq!(
            DeleteOptions::from_body(&body, false).unwrap_err().code,
            400
        );
        let q = Query::parse(Some("gracePeriodSeconds=0&propagationPolicy=Foreground"));
        let o = DeleteOptions::from_request("", b"", &q).unwrap();
        assert_eq!(
            (o.grace_period, o.policy()),
            (Some(0), Some(Propagation::Foreground))
        );
        // A body wins over the query, as upstream.
        let o = DeleteOptions::from_request(
            "application/json",
            br#"{"propagationPolicy":"Orphan"}"#,
            &q,
        )
        .unwrap();
        assert_eq!(
            (o.grace_period, o.policy()),
            (None, Some(Propagation::Orphan))
        );
    }
}

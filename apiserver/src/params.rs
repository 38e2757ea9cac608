//! Query parameters of the REST verbs, parsed once with upstream's errors.

use std::collections::HashMap;

use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult, Cause};

#[derive(Clone, Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1"))
    }

    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(ApiError::bad_request(format!(
                "Invalid dryRun: {v:?}: valid values are \"All\""
            ))),
        }
    }

    pub fn field_validation(&self) -> ApiResult<FieldValidation> {
        match self.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(v) => Err(ApiError::bad_request(format!(
                "Invalid fieldValidation: {v:?}: valid values are \"Ignore\", \"Warn\", \"Strict\""
            ))),
        }
    }

    fn u64_param(&self, k: &str) -> ApiResult<Option<u64>> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid {k} {v:?}"))),
        }
    }

    /// List options; `watch_path` is true for the legacy `/watch/` URLs.
    pub fn list_options(&self, watch_path: bool) -> ApiResult<ListParams> {
        let labels = LabelSelector::parse(self.get("labelSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(self.get("fieldSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        let resource_version = match self.get("resourceVersion") {
            None | Some("") => Rv::Unset,
            Some("0") => Rv::Any,
            Some(v) => Rv::At(
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v:?}")))?,
            ),
        };
        let raw_match = self.get("resourceVersionMatch").unwrap_or_default();
        let rv_match = match raw_match {
            "NotOlderThan" => Some(RvMatch::NotOlderThan),
            "Exact" => Some(RvMatch::Exact),
            _ => None,
        };
        let send_initial_events = match self.get("sendInitialEvents") {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "invalid sendInitialEvents {v:?}"
                )))
            }
        };
        let watch = watch_path || self.flag("watch");
        let bookmarks = self.flag("allowWatchBookmarks");
        let causes = validate_rv_options(
            watch,
            resource_version,
            raw_match,
            send_initial_events,
            bookmarks,
        );
        if !causes.is_empty() {
            return Err(ApiError::invalid("ListOptions", "meta.k8s.io", "", causes));
        }
        Ok(ListParams {
            labels,
            fields,
            limit: self.u64_param("limit")?.unwrap_or(0) as usize,
            continue_token: self
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            resource_version,
            rv_match,
            watch,
            allow_bookmarks: self.flag("allowWatchBookmarks"),
            timeout_seconds: self.u64_param("timeoutSeconds")?,
            send_initial_events,
        })
    }
}

/// Upstream's ValidateListOptions: which resourceVersion options go together.
fn validate_rv_options(
    watch: bool,
    rv: Rv,
    raw_match: &str,
    send_initial: Option<bool>,
    bookmarks: bool,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let supported = |causes: &mut Vec<Cause>, allowed: &[&str]| {
        if !raw_match.is_empty() && !allowed.contains(&raw_match) {
            let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
            causes.push(Cause {
                reason: "FieldValueNotSupported".into(),
                message: format!(
                    "Unsupported value: \"{raw_match}\": supported values: {}",
                    list.join(", ")
                ),
                field: "resourceVersionMatch".into(),
            });
        }
    };
    if watch {
        if send_initial.is_some() && raw_match != "NotOlderThan" {
            causes.push(Cause::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !raw_match.is_empty() {
            if send_initial.is_none() {
                causes.push(Cause::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
            }
            supported(&mut causes, &["NotOlderThan"]);
            if !bookmarks {
                causes.push(Cause::forbidden(
                    "allowWatchBookmarks",
                    "allowWatchBookmarks must be set to true when sendInitialEvents is provided",
                ));
            }
        }
    } else {
        if send_initial.is_some() {
            causes.push(Cause::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for list",
            ));
        }
        if !raw_match.is_empty() {
            if rv == Rv::Unset {
                causes.push(Cause::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            supported(&mut causes, &["Exact", "NotOlderThan"]);
            if raw_match == "Exact" && rv == Rv::Any {
                causes.push(Cause::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
    }
    causes
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rv {
    /// Not given: the most recent state (a consistent read).
    #[default]
    Unset,
    /// "0": any state the server has.
    Any,
    At(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RvMatch {
    NotOlderThan,
    Exact,
}

#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: usize,
    pub continue_token: Option<String>,
    pub resource_version: Rv,
    pub rv_match: Option<RvMatch>,
    pub watch: bool,
    pub allow_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
    pub send_initial_events: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &str) -> ApiResult<ListParams> {
        Query::parse(Some(q)).list_options(false)
    }

    #[test]
    fn resource_version_options_follow_upstream() {
        assert!(opts("resourceVersionMatch=NotOlderThan").is_err());
        assert!(opts("resourceVersion=0&resourceVersionMatch=Exact").is_err());
        assert!(opts("resourceVersion=5&resourceVersionMatch=Exact").is_ok());
        assert!(opts("sendInitialEvents=true").is_err());
        // Watch-list: a match without resourceVersion is fine; bookmarks are required.
        assert!(opts("watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true").is_ok());
        let e =
            opts("watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan").unwrap_err();
        assert_eq!(
            (e.code, e.causes[0].field.as_str()),
            (422, "allowWatchBookmarks")
        );
        assert!(
            opts("watch=1&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true").is_err()
        );
    }
}

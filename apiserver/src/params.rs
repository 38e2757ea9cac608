//! Query parameters of the REST verbs, parsed once with upstream's errors.

use std::collections::HashMap;

use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};

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

    pub fn list_options(&self) -> ApiResult<ListParams> {
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
        let rv_match = match self.get("resourceVersionMatch") {
            None | Some("") => None,
            Some("NotOlderThan") => Some(RvMatch::NotOlderThan),
            Some("Exact") => Some(RvMatch::Exact),
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "invalid resourceVersionMatch {v:?}: supported values are \"Exact\", \"NotOlderThan\""
                )))
            }
        };
        if rv_match.is_some() && resource_version == Rv::Unset {
            return Err(ApiError::bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if rv_match == Some(RvMatch::Exact) && resource_version == Rv::Any {
            return Err(ApiError::bad_request(
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
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
            watch: self.flag("watch"),
            allow_bookmarks: self.flag("allowWatchBookmarks"),
            timeout_seconds: self.u64_param("timeoutSeconds")?,
            send_initial_events,
        })
    }
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

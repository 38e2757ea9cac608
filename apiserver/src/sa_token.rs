//! Service-account tokens: `serviceaccounts/token` (TokenRequest) issues bound JWTs, and
//! the bearer-token authenticator accepts them back — checking signature, time, issuer and
//! audience, then that the service account (and any pod or secret the token is bound to)
//! still exists with the same uid, as upstream's validator does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::handler::{Api, User};
use crate::jwt::Signer;
use crate::rest::Rest;
use crate::status::{ApiError, ApiResult, Cause, Qualified};

/// The issuer and default audience, as kubeadm and k3s configure them.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// TokenRequest's default lifetime (SetDefaults_TokenRequestSpec).
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Clock skew tolerated on `exp`/`nbf`, as go-jose's default leeway.
const LEEWAY_SECONDS: i64 = 60;

pub struct Tokens {
    signer: Signer,
    audiences: Vec<String>,
}

/// The object a token is bound to, as looked up by the caller.
pub struct Bound<'a> {
    pub kind: &'a str,
    pub object: &'a Value,
}

/// What a token names, for the caller to check against live objects.
#[derive(Debug, PartialEq)]
pub struct Claimed {
    pub namespace: String,
    pub service_account: (String, String),
    /// (kind, name, uid) of a bound pod, secret or node.
    pub bound: Vec<(&'static str, String, String)>,
    pub jti: String,
    pub audiences: Vec<String>,
}

fn meta<'a>(o: &'a Value, field: &str) -> &'a str {
    o["metadata"][field].as_str().unwrap_or_default()
}

pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

impl Tokens {
    pub fn new(signer: Signer) -> Tokens {
        Tokens {
            signer,
            audiences: vec![ISSUER.to_string()],
        }
    }

    pub fn jwks(&self) -> Value {
        self.signer.jwks()
    }

    /// Fill in a TokenRequest for service account `sa`: defaults, validation, and the
    /// signed token in `status`. `bound` is the object `spec.boundObjectRef` names.
    pub fn request(
        &self,
        sa: &Value,
        bound: Option<Bound>,
        mut req: Value,
        now: DateTime<Utc>,
    ) -> ApiResult<Value> {
        let spec = &mut req["spec"];
        if spec.is_null() {
            *spec = json!({});
        }
        let expiration = match &spec["expirationSeconds"] {
            Value::Null => DEFAULT_EXPIRATION_SECONDS,
            v => v.as_i64().unwrap_or(0),
        };
        spec["expirationSeconds"] = json!(expiration);
        let mut causes = Vec::new();
        if expiration < 600 {
            causes.push(Cause::invalid_value(
                "spec.expirationSeconds",
                &json!(expiration),
                "may not specify a duration less than 10 minutes",
            ));
        } else if expiration > 1 << 32 {
            causes.push(Cause::invalid_value(
                "spec.expirationSeconds",
                &json!(expiration),
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(
                "TokenRequest",
                "authentication.k8s.io",
                meta(sa, "name"),
                causes,
            ));
        }
        let audiences: Vec<String> = match spec["audiences"].as_array() {
            Some(a) if !a.is_empty() => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => self.audiences.clone(),
        };
        spec["audiences"] = json!(audiences);

        let (ns, name) = (meta(sa, "namespace"), meta(sa, "name"));
        let mut k8s = json!({
            "namespace": ns,
            "serviceaccount": {"name": name, "uid": meta(sa, "uid")},
        });
        if let Some(b) = &bound {
            let key = b.kind.to_ascii_lowercase();
            k8s[key] = json!({"name": meta(b.object, "name"), "uid": meta(b.object, "uid")});
            // A pod's token also names the node it runs on (KEP-4193).
            if b.kind == "Pod" {
                if let Some(node) = b.object["spec"]["nodeName"].as_str() {
                    k8s["node"] = json!({"name": node});
                }
            }
        }
        let iat = now.timestamp();
        let exp = iat + expiration;
        let jti = uuid::Uuid::new_v4().to_string();
        let claims = json!({
            "aud": audiences,
            "exp": exp,
            "iat": iat,
            "iss": ISSUER,
            "jti": jti,
            "kubernetes.io": k8s,
            "nbf": iat,
            "sub": username(ns, name),
        });
        let token = self
            .signer
            .sign(&claims)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let expires = DateTime::<Utc>::from_timestamp(exp, 0).unwrap_or(now);
        req["status"] = json!({
            "token": token,
            "expirationTimestamp": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        });
        req["metadata"]["name"] = json!(name);
        req["metadata"]["namespace"] = json!(ns);
        req["metadata"]["creationTimestamp"] = Value::Null;
        Ok(req)
    }

    /// Check a bearer token's signature, lifetime, issuer and audience. `want` narrows the
    /// accepted audiences (a TokenReview's `spec.audiences`); by default the API's own.
    pub fn verify(
        &self,
        token: &str,
        want: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> Result<Claimed, String> {
        const INVALID: &str = "invalid bearer token";
        let c = self.signer.verify(token).ok_or(INVALID)?;
        if c["iss"] != ISSUER {
            return Err(INVALID.into());
        }
        let now = now.timestamp();
        if c["exp"]
            .as_i64()
            .is_some_and(|exp| now > exp + LEEWAY_SECONDS)
        {
            return Err("service account token has expired".into());
        }
        if c["nbf"]
            .as_i64()
            .is_some_and(|nbf| now + LEEWAY_SECONDS < nbf)
        {
            return Err("service account token is not valid yet".into());
        }
        let token_auds: Vec<String> = match &c["aud"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let want = want.unwrap_or(&self.audiences);
        let audiences: Vec<String> = want
            .iter()
            .filter(|a| token_auds.contains(a))
            .cloned()
            .collect();
        if audiences.is_empty() {
            return Err("token audiences do not match the API audiences".into());
        }
        let k = &c["kubernetes.io"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let mut bound = Vec::new();
        for (key, kind) in [("pod", "Pod"), ("secret", "Secret"), ("node", "Node")] {
            if k[key].is_object() {
                bound.push((kind, text(&k[key]["name"]), text(&k[key]["uid"])));
            }
        }
        Ok(Claimed {
            namespace: text(&k["namespace"]),
            service_account: (
                text(&k["serviceaccount"]["name"]),
                text(&k["serviceaccount"]["uid"]),
            ),
            bound,
            jti: text(&c["jti"]),
            audiences,
        })
    }
}

impl Claimed {
    /// The user this token authenticates as, given that its objects were found alive.
    pub fn user(&self) -> User {
        let ns = &self.namespace;
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if !self.jti.is_empty() {
            extra.insert(
                "authentication.kubernetes.io/credential-id".into(),
                vec![format!("JTI={}", self.jti)],
            );
        }
        for (kind, name, uid) in &self.bound {
            let prefix = match *kind {
                "Pod" => "pod",
                "Node" => "node",
                _ => continue,
            };
            extra.insert(
                format!("authentication.kubernetes.io/{prefix}-name"),
                vec![name.clone()],
            );
            if !uid.is_empty() {
                extra.insert(
                    format!("authentication.kubernetes.io/{prefix}-uid"),
                    vec![uid.clone()],
                );
            }
        }
        User {
            name: username(ns, &self.service_account.0),
            uid: self.service_account.1.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
            extra,
        }
    }
}

/// Why a token whose object was looked up is no longer valid, or `None` when it is. An
/// object deleted (or marked for deletion) or replaced by a namesake invalidates it.
pub fn check_alive(kind: &str, want_uid: &str, found: Option<&Value>) -> Option<String> {
    let Some(o) = found else {
        return Some(match kind {
            "ServiceAccount" => "service account has been deleted".into(),
            _ => "service account token has been invalidated".into(),
        });
    };
    if !o["metadata"]["deletionTimestamp"].is_null() && kind != "ServiceAccount" {
        return Some("service account token has been invalidated".into());
    }
    let uid = meta(o, "uid");
    if !want_uid.is_empty() && uid != want_uid {
        return Some(format!(
            "{} UID ({uid}) does not match claim ({want_uid})",
            kind.to_ascii_lowercase()
        ));
    }
    None
}

/// Validate `spec.boundObjectRef` of a TokenRequest: which object to look up, or a 400.
pub fn bound_ref(req: &Value) -> ApiResult<Option<(&'static str, String, String)>> {
    let r = &req["spec"]["boundObjectRef"];
    if r.is_null() {
        return Ok(None);
    }
    let api_version = r["apiVersion"].as_str().unwrap_or_default();
    let kind = r["kind"].as_str().unwrap_or_default();
    let kind = match (api_version, kind) {
        ("v1", "Pod") => "Pod",
        ("v1", "Secret") => "Secret",
        ("v1", "Node") => "Node",
        _ => {
            let gvk = match api_version.split_once('/') {
                Some((g, v)) => format!("{g}/{v}, Kind={kind}"),
                None => format!("/{api_version}, Kind={kind}"),
            };
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {gvk}"
            )));
        }
    };
    let name = r["name"].as_str().unwrap_or_default().to_string();
    let uid = r["uid"].as_str().unwrap_or_default().to_string();
    Ok(Some((kind, name, uid)))
}

/// The serving side: TokenRequest, bearer authentication and issuer discovery, over the
/// registry's own REST objects (so lookups see exactly what clients see).
impl Api {
    fn tokens(&self) -> ApiResult<&Tokens> {
        self.tokens
            .get()
            .ok_or_else(|| ApiError::internal("service-account tokens are not configured"))
    }

    async fn lookup(&self, kind: &str, ns: &str, name: &str) -> ApiResult<Option<Value>> {
        let (plural, ns) = match kind {
            "ServiceAccount" => ("serviceaccounts", Some(ns)),
            "Pod" => ("pods", Some(ns)),
            "Secret" => ("secrets", Some(ns)),
            _ => ("nodes", None),
        };
        crate::admission::get(self, ("", "v1", plural), ns, name).await
    }

    /// `POST serviceaccounts/<name>/token`.
    pub async fn token_request(
        &self,
        service_accounts: &Rest,
        ns: Option<&str>,
        name: &str,
        body: Value,
    ) -> ApiResult<Value> {
        let sa = service_accounts.get(ns, name).await?;
        let ns = ns.unwrap_or_default();
        let bound = bound_ref(&body)?;
        let mut object = None;
        if let Some((kind, bound_name, want_uid)) = &bound {
            let found = self.lookup(kind, ns, bound_name).await?;
            let plural = format!("{}s", kind.to_ascii_lowercase());
            let q = Qualified {
                group: "",
                plural: &plural,
            };
            let o = found.ok_or_else(|| ApiError::not_found(&q, bound_name))?;
            if *kind == "Pod" {
                let runs_as = o["spec"]["serviceAccountName"].as_str().unwrap_or_default();
                if runs_as != name {
                    return Err(ApiError::bad_request(format!(
                        "cannot bind token for serviceaccount \"{name}\" to pod running with serviceaccount \"{runs_as}\""
                    )));
                }
            }
            let uid = meta(&o, "uid");
            if !want_uid.is_empty() && want_uid != uid {
                let q = Qualified {
                    group: "",
                    plural: kind,
                };
                return Err(ApiError::conflict(
                    &q,
                    bound_name,
                    &format!("the UID in the bound object reference ({want_uid}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"),
                ));
            }
            object = Some(o);
        }
        let bound = match (&bound, &object) {
            (Some((kind, _, _)), Some(o)) => Some(Bound { kind, object: o }),
            _ => None,
        };
        self.tokens()?.request(&sa, bound, body, Utc::now())
    }

    /// Authenticate a bearer token: the user, or why not (for TokenReview's `status.error`).
    pub async fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
    ) -> Result<(User, Vec<String>), String> {
        let tokens = self.tokens().map_err(|e| e.message.clone())?;
        let claimed = tokens.verify(token, audiences, Utc::now())?;
        let ns = &claimed.namespace;
        let (sa_name, sa_uid) = &claimed.service_account;
        let lookups = std::iter::once(("ServiceAccount", sa_name, sa_uid)).chain(
            claimed
                .bound
                .iter()
                // A pod's node is informational; only the bound object itself must live.
                .filter(|(kind, _, uid)| *kind != "Node" || !uid.is_empty())
                .map(|(kind, name, uid)| (*kind, name, uid)),
        );
        for (kind, name, uid) in lookups {
            let found = self
                .lookup(kind, ns, name)
                .await
                .map_err(|e| e.message.clone())?;
            if let Some(why) = check_alive(kind, uid, found.as_ref()) {
                return Err(why);
            }
        }
        Ok((claimed.user(), claimed.audiences))
    }

    /// Service-account issuer discovery (OIDC): the configuration and the signing keys.
    pub fn issuer_discovery(&self, path: &str) -> Option<Value> {
        let tokens = self.tokens.get()?;
        match path {
            "/.well-known/openid-configuration" => Some(json!({
                "issuer": ISSUER,
                "jwks_uri": format!("{ISSUER}/openid/v1/jwks"),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            })),
            "/openid/v1/jwks" => Some(tokens.jwks()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Tokens::new(Signer::from_pkcs8(key.serialized_der()).unwrap())
    }

    fn sa() -> Value {
        json!({"metadata": {"name": "default", "namespace": "ns1", "uid": "sa-uid"}})
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn a_requested_token_authenticates_as_its_service_account() {
        let t = tokens();
        let out = t.request(&sa(), None, json!({"spec": {}}), now()).unwrap();
        assert_eq!(out["spec"]["expirationSeconds"], 3600);
        assert_eq!(out["spec"]["audiences"], json!([ISSUER]));
        assert_eq!(out["status"]["expirationTimestamp"], "2023-11-14T23:13:20Z");
        let token = out["status"]["token"].as_str().unwrap();
        let claimed = t.verify(token, None, now()).unwrap();
        let user = claimed.user();
        assert_eq!(user.name, "system:serviceaccount:ns1:default");
        assert_eq!(user.uid, "sa-uid");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                "system:authenticated"
            ]
        );
        assert!(user.extra["authentication.kubernetes.io/credential-id"][0].starts_with("JTI="));
    }

    #[test]
    fn expiry_audience_and_lifetime_rules() {
        let t = tokens();
        let out = t.request(&sa(), None, json!({"spec": {}}), now()).unwrap();
        let token = out["status"]["token"].as_str().unwrap();
        let later = now() + chrono::Duration::seconds(3600 + LEEWAY_SECONDS + 1);
        assert_eq!(
            t.verify(token, None, later).unwrap_err(),
            "service account token has expired"
        );
        assert!(t
            .verify(token, Some(&["other".to_string()]), now())
            .is_err());

        let short = t.request(
            &sa(),
            None,
            json!({"spec": {"expirationSeconds": 60}}),
            now(),
        );
        let e = short.unwrap_err();
        assert_eq!(e.code, 422);

        let custom = t
            .request(
                &sa(),
                None,
                json!({"spec": {"audiences": ["vault"]}}),
                now(),
            )
            .unwrap();
        let token = custom["status"]["token"].as_str().unwrap();
        // Not for the API, but a TokenReview asking for "vault" accepts it.
        assert!(t.verify(token, None, now()).is_err());
        let c = t
            .verify(token, Some(&["vault".to_string()]), now())
            .unwrap();
        assert_eq!(c.audiences, ["vault"]);
    }

    #[test]
    fn pod_bound_tokens_name_the_pod_and_its_node() {
        let t = tokens();
        let pod = json!({"metadata": {"name": "p", "uid": "pod-uid"}, "spec": {"nodeName": "n1"}});
        let out = t
            .request(
                &sa(),
                Some(Bound {
                    kind: "Pod",
                    object: &pod,
                }),
                json!({}),
                now(),
            )
            .unwrap();
        let c = t
            .verify(out["status"]["token"].as_str().unwrap(), None, now())
            .unwrap();
        assert_eq!(
            c.bound,
            vec![
                ("Pod", "p".to_string(), "pod-uid".to_string()),
                ("Node", "n1".to_string(), String::new())
            ]
        );
        let user = c.user();
        assert_eq!(user.extra["authentication.kubernetes.io/pod-name"], ["p"]);
        assert_eq!(user.extra["authentication.kubernetes.io/node-name"], ["n1"]);
        assert_eq!(check_alive("Pod", "pod-uid", Some(&pod)), None);
        assert!(check_alive("Pod", "other", Some(&pod)).is_some());
        assert!(check_alive("Pod", "pod-uid", None).is_some());
    }

    #[test]
    fn bound_refs_accept_only_pods_secrets_and_nodes() {
        let ok = json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": "s"}}});
        assert_eq!(
            bound_ref(&ok).unwrap(),
            Some(("Secret", "s".to_string(), String::new()))
        );
        let bad = json!({"spec": {"boundObjectRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}});
        let e = bound_ref(&bad).unwrap_err();
        assert_eq!(e.code, 400);
    }
}

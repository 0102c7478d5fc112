//! The RFC 7662 exchange: the POST, client authentication, and the rules that
//! turn a response into an [`AccessToken`] or a reason to refuse it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use base64_simd::STANDARD;
use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::fetch::{self, FetchError};
use crate::time;
use crate::{AccessToken, InvalidToken, Principal, Scopes, TokenSource, Unavailable};

/// Largest introspection response read, in bytes.
pub(super) const MAX_RESPONSE: usize = 64 * 1024;

/// How the resource server authenticates to the introspection endpoint
/// (RFC 6749 §2.3.1).
///
/// ```
/// use tower_bearer::introspection::ClientAuth;
/// assert_eq!(ClientAuth::default(), ClientAuth::Basic);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// A client secret that never shows in `Debug` output.
#[derive(Clone)]
pub(super) struct Secret(Box<str>);

impl Secret {
    pub(super) fn new(secret: impl Into<Box<str>>) -> Self {
        Secret(secret.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// The precomputed client authentication.
enum Auth {
    /// The `Authorization` header value, marked sensitive.
    Basic(HeaderValue),
    Post {
        client_id: Box<str>,
        secret: Secret,
    },
}

impl Auth {
    fn new(method: ClientAuth, client_id: &str, secret: Secret) -> Self {
        match method {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
                let credentials = format!("{}:{}", form_encode(client_id), form_encode(&secret.0));
                let mut value =
                    HeaderValue::try_from(format!("Basic {}", STANDARD.encode_to_string(credentials)))
                        .expect("base64 is a valid header value");
                value.set_sensitive(true);
                Auth::Basic(value)
            }
            ClientAuth::Post => Auth::Post {
                client_id: client_id.into(),
                secret,
            },
        }
    }

    fn method(&self) -> ClientAuth {
        match self {
            Auth::Basic(_) => ClientAuth::Basic,
            Auth::Post { .. } => ClientAuth::Post,
        }
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The checks applied to an introspection response.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) issuer: Option<Arc<str>>,
    /// This resource's identifier and the other accepted `aud` values; none:
    /// `aud` is not checked.
    pub(crate) audiences: Vec<String>,
    pub(crate) require_audience: bool,
    pub(crate) leeway: Duration,
}

/// Calls one introspection endpoint with one set of client credentials.
pub(super) struct Introspector {
    http: reqwest::Client,
    endpoint: Url,
    client_id: Box<str>,
    auth: Auth,
    pub(super) rules: Rules,
    /// The endpoint answered at least once (readiness).
    answered: AtomicBool,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("endpoint", &self.endpoint.as_str())
            .field("client_id", &self.client_id)
            .field("auth", &self.auth.method())
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// What an introspection call decided: a token, or why it is refused.
/// Outages are the outer `Err` and are never cached.
pub(crate) type Decision = Result<AccessToken, InvalidToken>;

impl Introspector {
    pub(super) fn new(
        endpoint: Url,
        client_id: &str,
        secret: Secret,
        method: ClientAuth,
        timeout: Duration,
        rules: Rules,
    ) -> Result<Self, fetch::FetchError> {
        Ok(Introspector {
            http: fetch::client(timeout)?,
            endpoint,
            client_id: client_id.into(),
            auth: Auth::new(method, client_id, secret),
            rules,
            answered: AtomicBool::new(false),
        })
    }

    /// Asks the endpoint about `token` and applies the response rules; the
    /// decision and the answer as the endpoint sent it.
    pub(super) async fn introspect(&self, token: &str) -> Result<(Decision, Bytes), Unavailable> {
        let call = crate::metrics::IntrospectionCall::start();
        let (response, answer) = self.exchange(token).await.map_err(|e| {
            tracing::warn!(endpoint = %self.endpoint, client_id = %self.client_id, error = %e, "token introspection failed");
            call.finish("error");
            Unavailable::new(format!("introspection endpoint: {e}"))
        })?;
        self.answered.store(true, Ordering::Relaxed);
        let decision = check(response, &self.rules, SystemTime::now());
        call.finish(if decision.is_ok() { "active" } else { "inactive" });
        Ok((decision, answer))
    }

    /// Whether the endpoint has answered once.
    pub(super) fn has_answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    async fn exchange(&self, token: &str) -> Result<(Map<String, Value>, Bytes), FetchError> {
        let mut form = vec![("token", token), ("token_type_hint", "access_token")];
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .header(ACCEPT, "application/json");
        match &self.auth {
            Auth::Basic(value) => request = request.header(AUTHORIZATION, value.clone()),
            Auth::Post { client_id, secret } => {
                form.push(("client_id", client_id));
                form.push(("client_secret", &secret.0));
            }
        }
        let (headers, body) = fetch::send_limited(request.form(&form), MAX_RESPONSE).await?;
        if !is_json(&headers) {
            return Err(FetchError::Json("content type is not JSON".into()));
        }
        // Strict: `{"active": false, "active": true}` is no answer at all.
        fetch::strict_object(&body).map(|response| (response, body))
    }
}

/// `application/json`, or a `+json` structured syntax type, any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.starts_with("application/") && essence.ends_with("+json")
}

/// Applies the RFC 7662 response rules at time `now`.
pub(crate) fn check(response: Map<String, Value>, rules: &Rules, now: SystemTime) -> Decision {
    // Only the JSON boolean `true` is active: "true", 1 or a missing member are not.
    if response.get("active") != Some(&Value::Bool(true)) {
        return Err(InvalidToken::Inactive);
    }
    let expires_at = time_claim(&response, "exp")?;
    if expires_at.is_some_and(|exp| time::is_expired(exp, rules.leeway, now)) {
        return Err(InvalidToken::Expired);
    }
    if time_claim(&response, "nbf")?.is_some_and(|nbf| time::is_not_yet_valid(nbf, rules.leeway, now)) {
        return Err(InvalidToken::NotYetValid);
    }
    let issuer = string_claim(&response, "iss")?;
    if let (Some(expected), Some(found)) = (&rules.issuer, issuer)
        && **expected != *found
    {
        return Err(InvalidToken::Issuer);
    }
    let audience = audience_claim(&response)?;
    if !rules.audiences.is_empty() {
        match &audience {
            Some(aud) if !crate::resource::names_accepted_audience(&rules.audiences, aud) => {
                return Err(InvalidToken::Audience);
            }
            None if rules.require_audience => return Err(InvalidToken::AudienceMissing),
            _ => {}
        }
    }
    // Bearer or DPoP-bound access tokens (RFC 9449 §6.2: `cnf.jkt`, token type
    // `DPoP`); the layer enforces the binding. Other confirmation methods (mTLS)
    // and other token types are refused.
    let binding = match response.get("cnf") {
        None => None,
        Some(Value::Object(cnf)) => {
            let jkt = match cnf.get("jkt") {
                None => None,
                Some(Value::String(jkt)) => Some(jkt.as_str()),
                Some(_) => return Err(InvalidToken::Claims),
            };
            crate::jwt::claims::confirmation(jkt, cnf.keys().any(|k| k != "jkt"))?
        }
        Some(_) => return Err(InvalidToken::Claims),
    };
    if let Some(kind) = string_claim(&response, "token_type")? {
        let bearer = kind.eq_ignore_ascii_case("bearer") || kind.eq_ignore_ascii_case("access_token");
        let dpop = kind.eq_ignore_ascii_case("dpop") && binding.is_some();
        if !(bearer || dpop) {
            return Err(InvalidToken::Type);
        }
    }
    let scopes = string_claim(&response, "scope")?
        .map(Scopes::parse)
        .unwrap_or_default();

    let mut principal = Principal::new();
    if let Some(client_id) = string_claim(&response, "client_id")? {
        principal = principal.with_client_id(client_id);
    }
    if let Some(iss) = issuer {
        principal = principal.with_issuer(iss);
    } else if let Some(iss) = &rules.issuer {
        principal = principal.with_issuer(iss.clone());
    }
    if let Some(sub) = string_claim(&response, "sub")? {
        principal = principal.with_subject(sub);
    }

    let mut token = AccessToken::new(principal)
        .with_scopes(scopes)
        .with_audience(audience.unwrap_or_default())
        .with_source(TokenSource::Introspection);
    if let Some(exp) = expires_at {
        token = token.with_expires_at(exp);
    }
    if let Some(jkt) = binding {
        token = token.with_dpop_jkt(jkt);
    }
    Ok(token.with_claims(response))
}

fn string_claim<'a>(response: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, InvalidToken> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(InvalidToken::Claims),
    }
}

fn time_claim(response: &Map<String, Value>, name: &str) -> Result<Option<SystemTime>, InvalidToken> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => time::NumericDate::deserialize(value)
            .map(|date| Some(date.0))
            .map_err(|_| InvalidToken::Claims),
    }
}

fn audience_claim(response: &Map<String, Value>) -> Result<Option<Vec<String>>, InvalidToken> {
    match response.get("aud") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(InvalidToken::Claims))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(InvalidToken::Claims),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn rules() -> Rules {
        Rules {
            issuer: Some("https://as.example".into()),
            audiences: vec!["https://rs.example/mcp".into()],
            require_audience: false,
            leeway: Duration::from_secs(60),
        }
    }

    fn run(response: Value, rules: &Rules) -> Decision {
        let Value::Object(map) = response else {
            panic!("test responses are objects")
        };
        check(map, rules, now())
    }

    fn active(extra: Value) -> Value {
        let mut base = json!({
            "active": true, "client_id": "app", "sub": "alice", "iss": "https://as.example",
            "aud": "https://rs.example/mcp", "scope": "mcp:read mcp:write", "exp": NOW + 300,
        });
        let (Value::Object(b), Value::Object(e)) = (&mut base, extra) else {
            unreachable!()
        };
        b.extend(e);
        base
    }

    #[test]
    fn active_response_becomes_a_token() {
        let token = run(active(json!({"tenant": "acme"})), &rules()).unwrap();
        let p = token.principal();
        assert_eq!(
            (p.client_id(), p.issuer(), p.subject()),
            (Some("app"), Some("https://as.example"), Some("alice"))
        );
        assert_eq!(token.scopes().to_string(), "mcp:read mcp:write");
        assert_eq!(token.audience(), ["https://rs.example/mcp"]);
        assert_eq!(
            token.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(NOW + 300))
        );
        assert_eq!(token.source(), TokenSource::Introspection);
        assert_eq!(token.claims()["tenant"], "acme");
    }

    #[test]
    fn only_boolean_true_is_active() {
        for active in [json!("true"), json!(1), json!(false), json!(null)] {
            assert_eq!(
                run(json!({"active": active, "sub": "a"}), &rules()).unwrap_err(),
                InvalidToken::Inactive
            );
        }
        assert_eq!(
            run(json!({"sub": "a"}), &rules()).unwrap_err(),
            InvalidToken::Inactive
        );
    }

    #[test]
    fn exp_honours_leeway() {
        assert!(run(active(json!({"exp": NOW - 30})), &rules()).is_ok());
        assert_eq!(
            run(active(json!({"exp": NOW - 60})), &rules()).unwrap_err(),
            InvalidToken::Expired
        );
        let strict = Rules {
            leeway: Duration::ZERO,
            ..rules()
        };
        assert_eq!(
            run(active(json!({"exp": NOW})), &strict).unwrap_err(),
            InvalidToken::Expired
        );
        assert_eq!(
            run(active(json!({"exp": "soon"})), &rules()).unwrap_err(),
            InvalidToken::Claims
        );
        assert_eq!(
            run(active(json!({"exp": -1})), &rules()).unwrap_err(),
            InvalidToken::Claims
        );
        assert_eq!(
            run(active(json!({"nbf": NOW + 61})), &rules()).unwrap_err(),
            InvalidToken::NotYetValid
        );
        assert!(run(active(json!({"nbf": NOW + 59})), &rules()).is_ok());
    }

    #[test]
    fn missing_exp_is_accepted_without_expiry() {
        let Value::Object(mut map) = active(json!({})) else {
            unreachable!()
        };
        map.remove("exp");
        let token = check(map, &rules(), now()).unwrap();
        assert_eq!(token.expires_at(), None);
    }

    #[test]
    fn issuer_must_match_when_configured() {
        assert_eq!(
            run(active(json!({"iss": "https://evil.example"})), &rules()).unwrap_err(),
            InvalidToken::Issuer
        );
        // Absent iss: the configured issuer vouches (it runs the endpoint).
        let token = run(active(json!({"iss": null})), &rules()).unwrap();
        assert_eq!(token.principal().issuer(), Some("https://as.example"));
        let open = Rules {
            issuer: None,
            ..rules()
        };
        assert!(run(active(json!({"iss": "https://other.example"})), &open).is_ok());
    }

    #[test]
    fn audience_must_contain_resource_when_present() {
        assert_eq!(
            run(active(json!({"aud": "https://other"})), &rules()).unwrap_err(),
            InvalidToken::Audience
        );
        // Canonical variants match; a sub-path never does.
        assert!(run(active(json!({"aud": "HTTPS://RS.example:443/mcp/"})), &rules()).is_ok());
        assert_eq!(
            run(active(json!({"aud": "https://rs.example/mcp/x"})), &rules()).unwrap_err(),
            InvalidToken::Audience
        );
        assert!(
            run(
                active(json!({"aud": ["https://other", "https://rs.example/mcp"]})),
                &rules()
            )
            .is_ok()
        );
        assert_eq!(
            run(active(json!({"aud": [1]})), &rules()).unwrap_err(),
            InvalidToken::Claims
        );
        assert!(run(active(json!({"aud": null})), &rules()).is_ok());
        let accepting = Rules {
            audiences: vec!["https://rs.example/mcp".into(), "api://default".into()],
            ..rules()
        };
        assert!(run(active(json!({"aud": "api://default"})), &accepting).is_ok());
        assert!(run(active(json!({"aud": ["x", "api://default"]})), &accepting).is_ok());
        assert_eq!(
            run(active(json!({"aud": "api://default"})), &rules()).unwrap_err(),
            InvalidToken::Audience
        );
        assert_eq!(
            run(active(json!({"aud": "api://DEFAULT"})), &accepting).unwrap_err(),
            InvalidToken::Audience,
            "not a URL: compared exactly"
        );
        let strict = Rules {
            require_audience: true,
            ..rules()
        };
        assert_eq!(
            run(active(json!({"aud": null})), &strict).unwrap_err(),
            InvalidToken::AudienceMissing
        );
    }

    #[test]
    fn bearer_or_dpop_bound_access_tokens_only() {
        let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        let bound = run(
            active(json!({"cnf": {"jkt": jkt}, "token_type": "DPoP"})),
            &rules(),
        )
        .unwrap();
        assert_eq!(bound.dpop_jkt(), Some(jkt));
        let bound = run(active(json!({"cnf": {"jkt": jkt}})), &rules()).unwrap();
        assert_eq!(bound.dpop_jkt(), Some(jkt));
        for (answer, error) in [
            (json!({"cnf": {"jkt": "x"}}), InvalidToken::Claims),
            (json!({"cnf": {"jkt": 7}}), InvalidToken::Claims),
            (json!({"cnf": "jkt"}), InvalidToken::Claims),
            (json!({"cnf": {"x5t#S256": "abc"}}), InvalidToken::Binding),
            (
                json!({"cnf": {"jkt": jkt, "x5t#S256": "abc"}}),
                InvalidToken::Binding,
            ),
            (json!({"cnf": {}}), InvalidToken::Binding),
            (json!({"token_type": "DPoP"}), InvalidToken::Type),
            (json!({"token_type": "refresh_token"}), InvalidToken::Type),
        ] {
            assert_eq!(
                run(active(answer.clone()), &rules()).unwrap_err(),
                error,
                "{answer}"
            );
        }
        let bearer = run(active(json!({"token_type": "Bearer"})), &rules()).unwrap();
        assert_eq!(bearer.dpop_jkt(), None);
    }

    #[test]
    fn wrongly_typed_members_are_claim_errors() {
        for (k, v) in [
            ("scope", json!(["a"])),
            ("sub", json!(1)),
            ("client_id", json!({})),
            ("iss", json!(true)),
        ] {
            assert_eq!(
                run(active(json!({ k: v })), &rules()).unwrap_err(),
                InvalidToken::Claims,
                "{k}"
            );
        }
    }

    #[test]
    fn content_type_must_be_json() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/token-introspection+json"));
        assert!(!with("text/html"));
        assert!(!with("application/token-introspection+jwt"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn basic_auth_form_encodes_and_hides_the_secret() {
        let auth = Auth::new(ClientAuth::Basic, "rs client", Secret::new("s3cr:t"));
        let Auth::Basic(value) = &auth else {
            panic!("basic")
        };
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        assert_eq!(STANDARD.decode_to_vec(encoded).unwrap(), b"rs+client:s3cr%3At");
        assert_eq!(format!("{:?}", Secret::new("s3cr:t")), "Secret(redacted)");
    }
}

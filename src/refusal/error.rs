//! `WWW-Authenticate: Bearer` challenges (RFC 6750 §3) and refusal responses.
//!
//! | outcome | status | challenge |
//! |---|---|---|
//! | no credentials | 401 | `resource_metadata`, `realm`, `scope` hint; no `error` |
//! | malformed request / two tokens | 400 | `error="invalid_request"` |
//! | bad, expired, wrong iss/aud | 401 | `error="invalid_token"` |
//! | valid but missing scope | 403 | `error="insufficient_scope"`, `scope="…"` |
//! | verifier unavailable | 503 | none; `Retry-After` |
//!
//! Parameter values come from configuration (checked when it is built) or from a
//! fixed list of descriptions; nothing the client sent is ever echoed.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use crate::extract::ExtractError;
use crate::{InvalidToken, Scopes, Unavailable, VerifyError};

/// Default `Retry-After` for 503 answers when the verifier suggests none.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What goes into every challenge: the RFC 9728 metadata URL, a realm and the
/// scopes to hint when no token was sent.
///
/// Cheap to clone. Values are checked when set: a value that cannot be a
/// quoted-string panics there, at configuration time, never per request.
///
/// ```
/// use tower_bearer::{AuthError, Challenge};
/// let challenge = Challenge::new()
///     .resource_metadata("https://api.example/.well-known/oauth-protected-resource/mcp")
///     .realm("mcp");
/// let res = AuthError::MissingToken.into_response::<String>(&challenge);
/// assert_eq!(res.status(), 401);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="mcp", resource_metadata="https://api.example/.well-known/oauth-protected-resource/mcp""#
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct Challenge {
    inner: Arc<ChallengeInner>,
    /// The scheme of the request's credential: its errors go in that challenge.
    scheme: Scheme,
}

/// The authorization scheme a credential came with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Scheme {
    #[default]
    Bearer,
    Dpop,
}

/// The `DPoP` challenge (RFC 9449 §7.1) sent beside (or, when DPoP is
/// required, instead of) the `Bearer` one.
#[derive(Clone)]
struct DpopChallenge {
    algs: String,
    required: bool,
    nonces: Option<Arc<crate::dpop::Nonces>>,
}

impl std::fmt::Debug for DpopChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopChallenge")
            .field("algs", &self.algs)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
struct ChallengeInner {
    realm: Option<String>,
    resource_metadata: Option<String>,
    scope_hint: Option<String>,
    retry_after: Option<Duration>,
    dpop: Option<DpopChallenge>,
}

impl Challenge {
    /// A bare `Bearer` challenge.
    ///
    /// ```
    /// let _ = tower_bearer::Challenge::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The RFC 9728 metadata URL sent as `resource_metadata` in every 401 and 403.
    ///
    /// # Panics
    /// If `url` holds a `"`, a `\` or a character outside visible ASCII.
    ///
    /// ```
    /// let c = tower_bearer::Challenge::new().resource_metadata("https://r.example/.well-known/oauth-protected-resource");
    /// assert!(c.resource_metadata_url().is_some());
    /// ```
    #[must_use]
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        assert_quotable("resource_metadata", &url);
        Arc::make_mut(&mut self.inner).resource_metadata = Some(url);
        self
    }

    /// The `realm` parameter.
    ///
    /// # Panics
    /// If `realm` holds a `"`, a `\` or a character outside visible ASCII and space.
    ///
    /// ```
    /// let _ = tower_bearer::Challenge::new().realm("api");
    /// ```
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        assert_quotable("realm", &realm);
        Arc::make_mut(&mut self.inner).realm = Some(realm);
        self
    }

    /// Scopes suggested in the challenge sent when no token was presented
    /// (MCP clients request these). `offline_access` is never hinted.
    ///
    /// # Panics
    /// If a scope holds characters outside RFC 6749 `scope-token`.
    ///
    /// ```
    /// use tower_bearer::{AuthError, Challenge, Scopes};
    /// let c = Challenge::new().scope_hint(Scopes::parse("mcp:read offline_access"));
    /// let res = AuthError::MissingToken.into_response::<String>(&c);
    /// assert_eq!(res.headers()["www-authenticate"], r#"Bearer scope="mcp:read""#);
    /// ```
    #[must_use]
    pub fn scope_hint(mut self, scopes: Scopes) -> Self {
        assert_scope_tokens(&scopes);
        let hint = challenge_scope(&scopes);
        Arc::make_mut(&mut self.inner).scope_hint = (!hint.is_empty()).then_some(hint);
        self
    }

    /// `Retry-After` for 503 answers when the verifier gives none
    /// (default [`DEFAULT_RETRY_AFTER`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let _ = tower_bearer::Challenge::new().retry_after(Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn retry_after(mut self, after: Duration) -> Self {
        Arc::make_mut(&mut self.inner).retry_after = Some(after);
        self
    }

    /// The configured metadata URL.
    ///
    /// ```
    /// assert!(tower_bearer::Challenge::new().resource_metadata_url().is_none());
    /// ```
    pub fn resource_metadata_url(&self) -> Option<&str> {
        self.inner.resource_metadata.as_deref()
    }

    /// Renders the `WWW-Authenticate` value for an optional error and scope.
    /// The DPoP challenge of `dpop` (none when DPoP is off).
    pub(crate) fn with_dpop(mut self, dpop: &crate::dpop::Dpop) -> Self {
        use crate::dpop::DpopMode;
        Arc::make_mut(&mut self.inner).dpop = (dpop.mode() != DpopMode::Off).then(|| DpopChallenge {
            algs: dpop.algorithm_names(),
            required: dpop.mode() == DpopMode::Required,
            nonces: dpop.nonces().cloned(),
        });
        self
    }

    /// This challenge for a request whose credential came with `scheme`.
    pub(crate) fn for_scheme(&self, scheme: Scheme) -> Self {
        Challenge {
            inner: self.inner.clone(),
            scheme,
        }
    }

    /// A fresh `DPoP-Nonce` when server nonces are on.
    pub(crate) fn dpop_nonce(&self) -> Option<HeaderValue> {
        let nonces = self.inner.dpop.as_ref()?.nonces.as_ref()?;
        Some(nonces.fresh(std::time::SystemTime::now()))
    }

    /// Appends the `WWW-Authenticate` challenges: `Bearer` unless DPoP is
    /// required, then `DPoP` when it is on. `error` and `scope` go in the
    /// challenge of the request's scheme; without an error, `scope` in each.
    fn write(&self, headers: &mut http::HeaderMap, error: Option<(&str, &str)>, scope: Option<&str>) {
        let dpop = self.inner.dpop.as_ref();
        let in_dpop = self.scheme == Scheme::Dpop || dpop.is_some_and(|d| d.required);
        let for_scheme = |dpop_challenge: bool| {
            if error.is_none() || dpop_challenge == in_dpop {
                (error, scope)
            } else {
                (None, None)
            }
        };
        if !dpop.is_some_and(|d| d.required) {
            let (error, scope) = for_scheme(false);
            headers.append(WWW_AUTHENTICATE, self.render("Bearer", error, scope, None));
        }
        if let Some(d) = dpop {
            let (error, scope) = for_scheme(true);
            headers.append(WWW_AUTHENTICATE, self.render("DPoP", error, scope, Some(&d.algs)));
            if let Some(nonce) = self.dpop_nonce() {
                headers.insert(crate::dpop::DPOP_NONCE, nonce);
            }
        }
    }

    fn render(
        &self,
        scheme: &str,
        error: Option<(&str, &str)>,
        scope: Option<&str>,
        algs: Option<&str>,
    ) -> HeaderValue {
        let mut out = String::with_capacity(128);
        out.push_str(scheme);
        let mut sep = " ";
        let mut param = |name: &str, value: &str| {
            let _ = write!(out, "{sep}{name}=\"{value}\"");
            sep = ", ";
        };
        if let Some(realm) = &self.inner.realm {
            param("realm", realm);
        }
        if let Some((code, description)) = error {
            param("error", code);
            param("error_description", description);
        }
        if let Some(scope) = scope {
            param("scope", scope);
        }
        if let Some(url) = &self.inner.resource_metadata {
            param("resource_metadata", url);
        }
        if let Some(algs) = algs {
            param("algs", algs);
        }
        // Every value was checked to be visible ASCII without `"` or `\`.
        HeaderValue::try_from(out).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

fn challenge_scope(scopes: &Scopes) -> String {
    let mut out = String::new();
    for s in scopes
        .iter()
        .filter(|s| *s != "offline_access" && is_scope_token(s))
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
    }
    out
}

fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Panics unless every scope is an RFC 6749 `scope-token`; for configuration time.
pub(crate) fn assert_scope_tokens(scopes: &Scopes) {
    for s in scopes.iter() {
        assert!(is_scope_token(s), "scope {s:?} is not an RFC 6749 scope-token");
    }
}

fn assert_quotable(what: &str, value: &str) {
    assert!(
        value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'),
        "{what} {value:?} cannot be sent as a quoted-string in WWW-Authenticate"
    );
}

/// Why a request was refused by this crate's layers; renders its own response.
///
/// ```
/// use tower_bearer::{AuthError, Challenge, InvalidToken};
/// let res = AuthError::InvalidToken(InvalidToken::Expired).into_response::<String>(&Challenge::new());
/// assert_eq!(res.status(), 401);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer error="invalid_token", error_description="token expired""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer credentials: 401 with a bare challenge.
    #[error("no bearer token")]
    MissingToken,
    /// Malformed request (two tokens, bad syntax, too long): 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(ExtractError),
    /// The token was refused: 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(InvalidToken),
    /// The token lacks scopes: 403 `insufficient_scope` naming all the scopes needed.
    #[error("insufficient scope")]
    InsufficientScope(Scopes),
    /// The DPoP proof was refused (401 `invalid_dpop_proof`).
    #[error("invalid DPoP proof: {0}")]
    DpopProof(crate::dpop::ProofError),
    /// Server nonces are on and the proof lacks a current one (401
    /// `use_dpop_nonce`, with a fresh `DPoP-Nonce`).
    #[error("DPoP nonce needed: {0}")]
    UseDpopNonce(crate::dpop::ProofError),
    /// The verifier could not decide: 503 with `Retry-After`, no challenge.
    #[error("verifier unavailable: {0}")]
    Unavailable(Unavailable),
}

impl From<ExtractError> for AuthError {
    fn from(e: ExtractError) -> Self {
        match e {
            ExtractError::Missing => AuthError::MissingToken,
            other => AuthError::InvalidRequest(other),
        }
    }
}

impl From<VerifyError> for AuthError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Invalid(reason) => AuthError::InvalidToken(reason),
            VerifyError::Unavailable(u) => AuthError::Unavailable(u),
        }
    }
}

impl AuthError {
    /// The HTTP status this refusal is answered with.
    ///
    /// ```
    /// use tower_bearer::{AuthError, Scopes};
    /// assert_eq!(AuthError::InsufficientScope(Scopes::parse("a")).status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingToken
            | AuthError::InvalidToken(_)
            | AuthError::DpopProof(_)
            | AuthError::UseDpopNonce(_) => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Builds the refusal with an empty body of type `B`.
    ///
    /// ```
    /// use tower_bearer::{AuthError, Challenge, Unavailable};
    /// let res = AuthError::Unavailable(Unavailable::new("down")).into_response::<String>(&Challenge::new());
    /// assert_eq!(res.status(), 503);
    /// assert_eq!(res.headers()["retry-after"], "5");
    /// assert!(res.headers().get("www-authenticate").is_none());
    /// ```
    pub fn into_response<B: Default>(self, challenge: &Challenge) -> Response<B> {
        let mut res = Response::new(B::default());
        *res.status_mut() = self.status();
        let headers = res.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            AuthError::MissingToken => challenge.write(headers, None, challenge.inner.scope_hint.as_deref()),
            AuthError::InvalidRequest(e) => {
                challenge.write(headers, Some(("invalid_request", request_description(*e))), None);
            }
            AuthError::InvalidToken(reason) => {
                challenge.write(headers, Some(("invalid_token", reason.description())), None);
            }
            AuthError::DpopProof(e) | AuthError::UseDpopNonce(e) => {
                challenge.for_scheme(Scheme::Dpop).write(
                    headers,
                    Some((e.error_code(), e.description())),
                    None,
                );
            }
            AuthError::InsufficientScope(scopes) => {
                let scope = challenge_scope(scopes);
                challenge.write(
                    headers,
                    Some(("insufficient_scope", "token lacks required scope")),
                    (!scope.is_empty()).then_some(scope.as_str()),
                );
            }
            AuthError::Unavailable(u) => {
                let after = u
                    .retry_after()
                    .or(challenge.inner.retry_after)
                    .unwrap_or(DEFAULT_RETRY_AFTER);
                headers.insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
            }
        }
        res
    }
}

fn request_description(e: ExtractError) -> &'static str {
    match e {
        ExtractError::Multiple => "more than one credential",
        ExtractError::TooLong => "bearer token too long",
        ExtractError::Malformed | ExtractError::Missing => "malformed bearer credential",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn www(e: AuthError, c: &Challenge) -> String {
        let res = e.into_response::<String>(c);
        res.headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn table_of_refusals() {
        let c = Challenge::new().resource_metadata("https://r.example/.well-known/oauth-protected-resource");
        let rm = r#"resource_metadata="https://r.example/.well-known/oauth-protected-resource""#;
        assert_eq!(www(AuthError::MissingToken, &c), format!("Bearer {rm}"));
        assert_eq!(
            www(AuthError::InvalidRequest(ExtractError::Multiple), &c),
            format!(r#"Bearer error="invalid_request", error_description="more than one credential", {rm}"#)
        );
        assert_eq!(
            www(AuthError::InvalidToken(InvalidToken::Audience), &c),
            format!(r#"Bearer error="invalid_token", error_description="token audience not accepted", {rm}"#)
        );
        assert_eq!(
            www(
                AuthError::InsufficientScope(Scopes::parse("b a offline_access")),
                &c
            ),
            format!(
                r#"Bearer error="insufficient_scope", error_description="token lacks required scope", scope="a b", {rm}"#
            )
        );
        let res = AuthError::Unavailable(Unavailable::new("x").with_retry_after(Duration::from_millis(10)))
            .into_response::<String>(&c);
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[RETRY_AFTER], "1");
    }

    #[test]
    #[should_panic(expected = "quoted-string")]
    fn config_with_quote_panics_at_build_time() {
        let _ = Challenge::new().realm("a\"b");
    }

    #[test]
    #[should_panic(expected = "scope-token")]
    fn scope_with_backslash_panics_at_build_time() {
        let _ = Challenge::new().scope_hint(Scopes::parse("a\\b"));
    }
}

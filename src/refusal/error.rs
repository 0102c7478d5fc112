//! [`AuthError`]: why a request was refused, and its rendering into a
//! response with the `WWW-Authenticate` challenges of a [`Challenge`].

use std::fmt::Write as _;

use http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::{Challenge, DEFAULT_RETRY_AFTER};
use crate::dpop::DPOP_NONCE;
use crate::extract::{ExtractError, Scheme};
use crate::{InvalidToken, Scopes, Unavailable, VerifyError};

impl Challenge {
    /// Appends the `WWW-Authenticate` challenges: `Bearer` unless DPoP is
    /// required, then `DPoP` when it is on. `error` and `scope` go in the
    /// challenge of the request's scheme; without an error, `scope` in each.
    fn write(&self, headers: &mut HeaderMap, error: Option<(&str, &str)>, scope: Option<&str>) {
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

/// The scopes of `scopes` a challenge names, space-separated.
pub(super) fn challenge_scope(scopes: &Scopes) -> String {
    let mut out = String::new();
    for s in scopes.challengeable() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
    }
    out
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

    /// A fixed snake_case code for the refusal, for logs and metrics labels:
    /// [`InvalidToken::reason`] for a refused token, one code per other kind
    /// (`missing_token`, `invalid_request`, `insufficient_scope`,
    /// `invalid_dpop_proof`, `use_dpop_nonce`, `unavailable`). Never anything
    /// from the request.
    ///
    /// ```
    /// use tower_bearer::{AuthError, InvalidToken};
    /// assert_eq!(AuthError::MissingToken.reason(), "missing_token");
    /// assert_eq!(AuthError::InvalidToken(InvalidToken::Audience).reason(), "audience_mismatch");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InvalidToken(reason) => reason.reason(),
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::DpopProof(_) => "invalid_dpop_proof",
            AuthError::UseDpopNonce(_) => "use_dpop_nonce",
            AuthError::Unavailable(_) => "unavailable",
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
                return res;
            }
        }
        // Every challenge comes with a fresh nonce when server nonces are on:
        // asked of the DPoP configuration now, as the response is written.
        if let Some(nonce) = challenge.inner.dpop.as_ref().and_then(|d| d.dpop.fresh_nonce()) {
            headers.insert(DPOP_NONCE, nonce);
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
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::dpop::Dpop;

    fn www(e: AuthError, c: &Challenge) -> String {
        let res = e.into_response::<String>(c);
        res.headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn table_of_refusals() {
        let c = Challenge::new()
            .resource_metadata("https://r.example/.well-known/oauth-protected-resource")
            .unwrap();
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
    fn a_dpop_nonce_is_asked_of_the_dpop_configuration_for_each_challenge() {
        let with_nonces = Challenge::new().with_dpop(&Arc::new(Dpop::allowed().server_nonces().unwrap()));
        let without = Challenge::new().with_dpop(&Arc::new(Dpop::allowed()));
        for error in [
            AuthError::MissingToken,
            AuthError::InvalidToken(InvalidToken::Expired),
            AuthError::InsufficientScope(Scopes::parse("a")),
        ] {
            let res = error.clone().into_response::<String>(&with_nonces);
            assert!(res.headers().contains_key(DPOP_NONCE), "{error:?}");
            let res = error.into_response::<String>(&without);
            assert!(!res.headers().contains_key(DPOP_NONCE));
        }
        let res = AuthError::Unavailable(Unavailable::new("x")).into_response::<String>(&with_nonces);
        assert!(!res.headers().contains_key(DPOP_NONCE), "no challenge, no nonce");
    }
}

//! Why an exchange failed ([`ExchangeError`], answered 403 or 503) and why a
//! configuration was refused ([`ExchangeConfigError`]).

use std::fmt;

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use crate::fetch::FetchError;
use crate::{AuthError, Challenge, Unavailable};

/// Why the authorization server refused to exchange a token. Each maps to 403
/// with a fixed description: nothing the server said is echoed.
///
/// ```
/// use tower_bearer::exchange::ExchangeRefusal;
/// assert_eq!(ExchangeRefusal::Target.error_code(), "invalid_target");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeRefusal {
    /// `invalid_grant`: the subject token was refused (expired, revoked,
    /// not exchangeable by this client).
    Grant,
    /// `invalid_target`: the downstream audience or resource is not allowed.
    Target,
    /// `invalid_scope`: the scopes asked for exceed the subject token's.
    Scope,
    /// `unauthorized_client`: this server may not exchange tokens.
    Client,
    /// The subject token expired before the exchange was asked for (no call made).
    SubjectExpired,
}

impl fmt::Display for ExchangeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ExchangeRefusal {}

impl ExchangeRefusal {
    /// The fixed description sent to the client.
    ///
    /// ```
    /// use tower_bearer::exchange::ExchangeRefusal;
    /// assert_eq!(ExchangeRefusal::Target.description(), "downstream audience not allowed");
    /// ```
    pub fn description(self) -> &'static str {
        match self {
            ExchangeRefusal::Grant => "subject token not exchangeable",
            ExchangeRefusal::Target => "downstream audience not allowed",
            ExchangeRefusal::Scope => "downstream scope not allowed",
            ExchangeRefusal::Client => "token exchange not allowed for this client",
            ExchangeRefusal::SubjectExpired => "subject token expired",
        }
    }

    /// The RFC 6749 / RFC 8693 error code this refusal stands for.
    ///
    /// See [`ExchangeRefusal`] for an example.
    pub fn error_code(self) -> &'static str {
        match self {
            ExchangeRefusal::Grant | ExchangeRefusal::SubjectExpired => "invalid_grant",
            ExchangeRefusal::Target => "invalid_target",
            ExchangeRefusal::Scope => "invalid_scope",
            ExchangeRefusal::Client => "unauthorized_client",
        }
    }

    /// The refusal for an error code of the authorization server, if it is
    /// one that refuses this exchange (others are outages or misconfiguration).
    pub(crate) fn from_code(code: &str) -> Option<Self> {
        match code {
            "invalid_grant" => Some(ExchangeRefusal::Grant),
            "invalid_target" => Some(ExchangeRefusal::Target),
            "invalid_scope" => Some(ExchangeRefusal::Scope),
            "unauthorized_client" => Some(ExchangeRefusal::Client),
            _ => None,
        }
    }
}

/// Why no token could be had for a downstream call. No downstream call is
/// made without one.
///
/// ```
/// use tower_bearer::exchange::{ExchangeError, ExchangeRefusal};
/// let e = ExchangeError::Refused(ExchangeRefusal::Scope);
/// assert_eq!(e.status(), 403);
/// let res = e.into_response::<String>();
/// assert_eq!(res.headers()["cache-control"], "no-store");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The authorization server refused the exchange: 403.
    #[error("token exchange refused: {0}")]
    Refused(ExchangeRefusal),
    /// The authorization server is down, slow, misconfigured or answered
    /// something unusable: 503 with `Retry-After`.
    #[error("token exchange unavailable: {0}")]
    Unavailable(Unavailable),
    /// The request carries no [`SubjectToken`](super::SubjectToken): the
    /// layer was not told to keep it
    /// ([`TokenVerifierLayer::keep_subject_token`](crate::TokenVerifierLayer::keep_subject_token)).
    /// A server bug, answered 500.
    #[error("no subject token in the request (keep_subject_token is off)")]
    NoSubjectToken,
}

impl From<Unavailable> for ExchangeError {
    fn from(u: Unavailable) -> Self {
        ExchangeError::Unavailable(u)
    }
}

impl ExchangeError {
    /// The status this failure is answered with.
    ///
    /// ```
    /// use tower_bearer::{Unavailable, exchange::ExchangeError};
    /// assert_eq!(ExchangeError::from(Unavailable::new("down")).status(), 503);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            ExchangeError::Refused(_) => StatusCode::FORBIDDEN,
            ExchangeError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ExchangeError::NoSubjectToken => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short fixed description for the client.
    ///
    /// ```
    /// use tower_bearer::exchange::{ExchangeError, ExchangeRefusal};
    /// assert_eq!(ExchangeError::Refused(ExchangeRefusal::Target).description(), "downstream audience not allowed");
    /// ```
    pub fn description(&self) -> &'static str {
        match self {
            ExchangeError::Refused(refusal) => refusal.description(),
            ExchangeError::Unavailable(_) => "token exchange temporarily unavailable",
            ExchangeError::NoSubjectToken => "token exchange not configured",
        }
    }

    /// The answer, its body the [description](Self::description) as plain
    /// text: 403, 503 with `Retry-After` (as every outage of the crate), or
    /// 500; `Cache-Control: no-store`.
    ///
    /// See [`ExchangeError`] for an example.
    pub fn into_response<B: From<&'static str>>(self) -> Response<B> {
        let description = self.description();
        let status = self.status();
        let (mut parts, ()) = match self {
            ExchangeError::Unavailable(u) => AuthError::Unavailable(u).into_response(&Challenge::new()),
            _ => Response::new(()),
        }
        .into_parts();
        parts.status = status;
        parts
            .headers
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        parts.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Response::from_parts(parts, B::from(description))
    }
}

/// Why a [`TokenExchangeBuilder`](super::TokenExchangeBuilder) or a
/// [`Downstream`](super::Downstream) refused its configuration.
///
/// ```
/// use tower_bearer::exchange::{ExchangeConfigError, TokenExchange};
/// let e = TokenExchange::builder().client_secret_basic("c", "s").build().unwrap_err();
/// assert!(matches!(e, ExchangeConfigError::NoEndpoint));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeConfigError {
    /// Neither `issuer` (metadata discovery) nor `token_endpoint` was set.
    #[error("token exchange: set issuer (metadata discovery) or token_endpoint")]
    NoEndpoint,
    /// No client authentication was set.
    #[error(
        "token exchange: set client authentication (client_secret_basic, client_secret_post or private_key_jwt)"
    )]
    NoClient,
    /// A URL setting is not https (or http to loopback) or not a URL.
    #[error("token exchange: {field}: {error}")]
    Url {
        /// The setting.
        field: &'static str,
        /// Why it was refused.
        error: FetchError,
    },
    /// A setting that must be positive is zero.
    #[error("token exchange: {0} must be positive")]
    Zero(&'static str),
    /// A value that goes into the request is empty or not printable ASCII.
    #[error("token exchange: {0} must be non-empty printable text")]
    BadValue(&'static str),
    /// The HTTP client could not be built.
    #[error("token exchange: {0}")]
    Client(FetchError),
    /// The key could not be generated or read.
    #[error("token exchange: client key: {0}")]
    Key(&'static str),
}

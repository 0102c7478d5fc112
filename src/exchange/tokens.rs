//! The tokens of an exchange: the incoming [`SubjectToken`] (redacted, never
//! logged) and the [`ExchangedToken`] obtained for a downstream.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::{Principal, Scopes};

/// The raw incoming access token, kept in the request extensions only when
/// [`TokenVerifierLayer::keep_subject_token`](crate::TokenVerifierLayer::keep_subject_token)
/// is on, for [`TokenExchange`](super::TokenExchange). Its `Debug` is redacted, it has no `Display`,
/// and the raw text is not reachable through the crate's API: it goes to the
/// token endpoint only.
///
/// ```
/// let subject = tower_bearer::exchange::SubjectToken::new("eyJhbGciOi...");
/// assert_eq!(format!("{subject:?}"), "SubjectToken(<redacted>)");
/// ```
#[derive(Clone)]
pub struct SubjectToken(Arc<str>);

impl SubjectToken {
    /// Wraps a token obtained elsewhere (the layer makes these itself).
    ///
    /// See [`SubjectToken`] for an example.
    pub fn new(raw: impl Into<Arc<str>>) -> Self {
        SubjectToken(raw.into())
    }

    pub(crate) fn raw(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SubjectToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectToken(<redacted>)")
    }
}

/// Whether an exchanged token is a bearer token or bound to the server's
/// [`ClientKey`](super::ClientKey) (RFC 9449).
///
/// ```
/// use tower_bearer::exchange::TokenType;
/// assert_eq!(TokenType::Dpop.scheme(), "DPoP");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenType {
    /// `Authorization: Bearer`.
    Bearer,
    /// `Authorization: DPoP` with a proof by the server's key.
    Dpop,
}

impl TokenType {
    /// The `Authorization` scheme.
    ///
    /// See [`TokenType`] for an example.
    pub fn scheme(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::Dpop => "DPoP",
        }
    }
}

/// A token obtained by exchange, for one downstream. `Debug` is redacted.
///
/// See the [module docs](super) for an example.
#[derive(Clone)]
pub struct ExchangedToken(Arc<Exchanged>);

struct Exchanged {
    token: String,
    /// Who the subject token spoke for: the caller the token acts for.
    subject: Principal,
    token_type: TokenType,
    expires_at: Option<SystemTime>,
    scopes: Option<Scopes>,
    issued_token_type: String,
}

impl ExchangedToken {
    pub(super) fn new(
        token: &str,
        token_type: TokenType,
        expires_at: Option<SystemTime>,
        scopes: Option<Scopes>,
        issued_token_type: &str,
    ) -> Self {
        ExchangedToken(Arc::new(Exchanged {
            token: token.to_owned(),
            subject: Principal::new(),
            token_type,
            expires_at,
            scopes,
            issued_token_type: issued_token_type.to_owned(),
        }))
    }

    /// Records who the subject token spoke for (a token fresh from the server).
    pub(super) fn for_subject(mut self, subject: &Principal) -> Self {
        if let Some(exchanged) = Arc::get_mut(&mut self.0) {
            exchanged.subject = subject.clone();
        }
        self
    }

    /// The principal of the subject token this was exchanged for: the caller
    /// the downstream call is made for (the exchanged token names this
    /// server as its actor).
    ///
    /// ```
    /// # fn f(t: tower_bearer::exchange::ExchangedToken) { let _ = t.subject().subject(); }
    /// ```
    pub fn subject(&self) -> &Principal {
        &self.0.subject
    }

    /// The token itself, to send to the downstream it was issued for (and
    /// nowhere else). Prefer [`ExchangeLayer`](super::ExchangeLayer) or [`TokenExchange::attach`](super::TokenExchange::attach),
    /// which also sign the DPoP proof a bound token needs.
    ///
    /// See the [module docs](super) for an example.
    pub fn secret(&self) -> &str {
        &self.0.token
    }

    /// Bearer or DPoP-bound.
    ///
    /// ```
    /// # use tower_bearer::exchange::*;
    /// # fn f(t: ExchangedToken) { let _ = t.token_type() == TokenType::Bearer; }
    /// ```
    pub fn token_type(&self) -> TokenType {
        self.0.token_type
    }

    /// When it expires, if the authorization server said (`expires_in`).
    ///
    /// ```
    /// # fn f(t: tower_bearer::exchange::ExchangedToken) { let _ = t.expires_at(); }
    /// ```
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at
    }

    /// The scopes granted, if the authorization server said (`scope`).
    ///
    /// ```
    /// # fn f(t: tower_bearer::exchange::ExchangedToken) { let _ = t.scopes(); }
    /// ```
    pub fn scopes(&self) -> Option<&Scopes> {
        self.0.scopes.as_ref()
    }

    /// RFC 8693 `issued_token_type`.
    ///
    /// ```
    /// # fn f(t: tower_bearer::exchange::ExchangedToken) { let _ = t.issued_token_type(); }
    /// ```
    pub fn issued_token_type(&self) -> &str {
        &self.0.issued_token_type
    }
}

impl fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangedToken")
            .field("token", &"<redacted>")
            .field("subject", &self.0.subject)
            .field("token_type", &self.0.token_type)
            .field("expires_at", &self.0.expires_at)
            .field("scopes", &self.0.scopes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let exchange = super::super::TokenExchange::builder()
            .token_endpoint("https://as.example/token")
            .client_secret_basic("rs", "hunter2")
            .actor_token("actor-secret", "urn:x")
            .build()
            .unwrap();
        let shown = format!("{exchange:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("actor-secret"),
            "{shown}"
        );
        let token = ExchangedToken::new("exchanged-secret", TokenType::Bearer, None, None, "x");
        assert!(!format!("{token:?}").contains("exchanged-secret"));
        assert!(!format!("{:?}", SubjectToken::new("subject-secret")).contains("subject-secret"));
    }
}

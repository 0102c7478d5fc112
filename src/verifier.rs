//! The [`TokenVerifier`] trait and its error, [`VerifyError`].

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::ready::NotReady;
use crate::{AccessToken, TokenSource};

/// Turns a bearer token into a verified [`AccessToken`].
///
/// Implemented by [`JwtVerifier`](crate::jwt::JwtVerifier) and by the
/// introspection verifier; implement it yourself to plug any lookup (a database,
/// a cache) into [`TokenVerifierLayer`](crate::TokenVerifierLayer).
///
/// Return [`VerifyError::Invalid`] when the token is bad (401) and
/// [`VerifyError::Unavailable`] when you could not decide (503): never mix them.
///
/// Like every async trait of the crate it has a dyn-compatible form,
/// [`DynTokenVerifier`], to choose a verifier at run time
/// (`DynTokenVerifier::new_arc(verifier)`); it is itself a `TokenVerifier`.
///
/// ```
/// use tower_bearer::{AccessToken, InvalidToken, Principal, TokenVerifier, VerifyError};
///
/// struct Static;
///
/// impl TokenVerifier for Static {
///     async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
///         match token {
///             "let-me-in" => Ok(AccessToken::new(Principal::new().with_subject("demo"))),
///             _ => Err(InvalidToken::Unknown.into()),
///         }
///     }
/// }
/// # tokio_test_block_on(async {
/// assert!(Static.verify("let-me-in").await.is_ok());
/// assert!(Static.verify("nope").await.is_err());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[dynosaur::dynosaur(pub DynTokenVerifier = dyn(box) TokenVerifier)]
#[allow(unreachable_pub, reason = "dynosaur's erased twin of this trait is private")]
pub trait TokenVerifier: Send + Sync {
    /// Verifies `token` (the raw bearer credential, already syntax-checked).
    fn verify(&self, token: &str) -> impl Future<Output = Result<AccessToken, VerifyError>> + Send;

    /// The verdict on `token` when it is at hand without waiting, typically a
    /// cache hit; `None` means "call [`verify`](Self::verify)".
    ///
    /// [`TokenVerifierLayer`](crate::TokenVerifierLayer) asks this first and, on
    /// `Some`, calls the inner service straight away: no future is boxed and the
    /// inner service is not cloned. A `Some` must be the answer `verify` would
    /// give (expiry included). The default answers `None`.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tower_bearer::{AccessToken, InvalidToken, Principal, TokenVerifier, VerifyError};
    ///
    /// /// Tokens known in advance: every answer is at hand.
    /// struct Preloaded(HashMap<&'static str, AccessToken>);
    ///
    /// impl TokenVerifier for Preloaded {
    ///     async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
    ///         self.verify_now(token).expect("always at hand")
    ///     }
    ///     fn verify_now(&self, token: &str) -> Option<Result<AccessToken, VerifyError>> {
    ///         Some(self.0.get(token).cloned().ok_or(InvalidToken::Unknown.into()))
    ///     }
    /// }
    /// let alice = AccessToken::new(Principal::new().with_subject("alice"));
    /// let verifier = Preloaded(HashMap::from([("t1", alice)]));
    /// assert!(verifier.verify_now("t1").unwrap().is_ok());
    /// assert!(verifier.verify_now("t2").unwrap().is_err());
    /// ```
    fn verify_now(&self, token: &str) -> Option<Result<AccessToken, VerifyError>> {
        let _ = token;
        None
    }

    /// How `token` is verified: the `verifier` label of the crate's metrics
    /// and the `verifier` field of its verification span, for refusals too.
    /// Only a fixed value, never derived from the token's content beyond its
    /// shape. The default answers [`TokenSource::Custom`].
    ///
    /// ```
    /// use tower_bearer::{AccessToken, InvalidToken, TokenSource, TokenVerifier, VerifyError};
    /// struct Db;
    /// impl TokenVerifier for Db {
    ///     async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> {
    ///         Err(InvalidToken::Unknown.into())
    ///     }
    /// }
    /// assert_eq!(Db.verifies_as("anything"), TokenSource::Custom);
    /// ```
    fn verifies_as(&self, token: &str) -> TokenSource {
        let _ = token;
        TokenSource::Custom
    }

    /// Whether the verifier can decide now: every configured issuer's keys
    /// loaded and fresh enough, the introspection endpoint answered once.
    /// Until then requests get 503; see [`Readiness`](crate::ready::Readiness)
    /// for a `/readyz` route. The default is always ready.
    ///
    /// ```
    /// # use tower_bearer::{AccessToken, InvalidToken, TokenVerifier, VerifyError};
    /// # struct Db;
    /// # impl TokenVerifier for Db {
    /// #     async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) }
    /// # }
    /// assert!(Db.readiness().is_ok());
    /// ```
    fn readiness(&self) -> Result<(), NotReady> {
        Ok(())
    }

    /// Fetches now what verification needs (discovery, key sets; one
    /// introspection call), so the first request does not wait for it. One
    /// attempt: [`Readiness::spawn_warm_up`](crate::ready::Readiness::spawn_warm_up)
    /// retries until ready. The default has nothing to fetch.
    ///
    /// ```
    /// # use tower_bearer::{AccessToken, InvalidToken, TokenVerifier, VerifyError};
    /// # struct Db;
    /// # impl TokenVerifier for Db {
    /// #     async fn verify(&self, _: &str) -> Result<AccessToken, VerifyError> { Err(InvalidToken::Unknown.into()) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert!(Db.warm_up().await.is_ok());
    /// # });
    /// ```
    fn warm_up(&self) -> impl Future<Output = Result<(), Unavailable>> + Send {
        async { Ok(()) }
    }
}

impl<V: TokenVerifier + ?Sized> TokenVerifier for Arc<V> {
    fn verify(&self, token: &str) -> impl Future<Output = Result<AccessToken, VerifyError>> + Send {
        (**self).verify(token)
    }

    fn verify_now(&self, token: &str) -> Option<Result<AccessToken, VerifyError>> {
        (**self).verify_now(token)
    }

    fn verifies_as(&self, token: &str) -> TokenSource {
        (**self).verifies_as(token)
    }

    fn readiness(&self) -> Result<(), NotReady> {
        (**self).readiness()
    }

    fn warm_up(&self) -> impl Future<Output = Result<(), Unavailable>> + Send {
        (**self).warm_up()
    }
}

/// Why a verifier refused a token or could not decide.
///
/// ```
/// use tower_bearer::{InvalidToken, VerifyError};
/// let e: VerifyError = InvalidToken::Expired.into();
/// assert!(e.is_invalid());
/// assert_eq!(e.to_string(), "invalid token: token expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is not acceptable: answered with 401 `invalid_token`.
    #[error("invalid token: {0}")]
    Invalid(#[from] InvalidToken),
    /// The verifier could not decide (key set or introspection endpoint down):
    /// answered with 503 and `Retry-After`, never with `invalid_token`.
    #[error("verifier unavailable: {0}")]
    Unavailable(#[from] Unavailable),
}

impl VerifyError {
    /// True for [`VerifyError::Invalid`].
    ///
    /// ```
    /// use tower_bearer::{Unavailable, VerifyError};
    /// assert!(!VerifyError::from(Unavailable::new("down")).is_invalid());
    /// ```
    pub fn is_invalid(&self) -> bool {
        matches!(self, VerifyError::Invalid(_))
    }
}

/// Why a token is invalid. Each reason maps to a short, fixed
/// `error_description`: nothing from the token is ever echoed.
///
/// ```
/// use tower_bearer::InvalidToken;
/// assert_eq!(InvalidToken::Audience.description(), "token audience not accepted");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not a well-formed token of the expected kind.
    #[error("malformed token")]
    Malformed,
    /// Signature does not verify.
    #[error("bad signature")]
    Signature,
    /// The signing key is unknown to the issuer's key set.
    #[error("unknown signing key")]
    UnknownKey,
    /// The algorithm is not allowed, or does not fit the key.
    #[error("algorithm not allowed")]
    Algorithm,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` (or `iat`) lies in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// A required claim is missing or has the wrong type.
    #[error("required claim missing or invalid")]
    Claims,
    /// Issuer not accepted.
    #[error("token issuer not accepted")]
    Issuer,
    /// Audience does not contain this resource.
    #[error("token audience not accepted")]
    Audience,
    /// Not an access token of the expected profile (e.g. RFC 9068 `typ`).
    #[error("not an access token")]
    Type,
    /// Introspection said the token is not active.
    #[error("token not active")]
    Inactive,
    /// The verifier does not know the token.
    #[error("token not recognised")]
    Unknown,
    /// A DPoP-bound token (`cnf.jkt`) came as a bearer token, or DPoP is off.
    #[error("DPoP-bound token without the DPoP scheme")]
    DpopBound,
    /// The `DPoP` scheme with a token that is not DPoP-bound.
    #[error("token is not DPoP-bound")]
    NotDpopBound,
    /// DPoP is required and the token is not DPoP-bound, or came as `Bearer`.
    #[error("DPoP-bound token required")]
    DpopRequired,
    /// Bound (`cnf`) by a confirmation method other than DPoP's `jkt`.
    #[error("token bound by an unsupported method")]
    Binding,
    /// An ID token (OpenID Connect) was presented where an access token is needed.
    #[error("an ID token is not an access token")]
    IdToken,
    /// A JWT of the issuer that its profile's access-token discriminator does not
    /// recognise (e.g. Cognito `token_use` other than `access`).
    #[error("not an access token of this issuer")]
    NotAccessToken,
    /// A token the issuer minted for one of its own APIs (Entra tokens for
    /// Microsoft Graph: a `nonce` header, a first-party audience), which no
    /// third party can verify.
    #[error("token issued for another API")]
    FirstParty,
    /// The token has no `aud`, and its issuer is not configured to accept
    /// that. Clients see the same description as [`InvalidToken::Audience`].
    #[error("token audience not accepted")]
    AudienceMissing,
    /// The token has no `aud` and its client is not on the issuer's allowlist.
    /// Clients see the same description as [`InvalidToken::Audience`].
    #[error("token audience not accepted")]
    ClientNotAllowed,
}

impl InvalidToken {
    /// The fixed `error_description` sent in the challenge.
    ///
    /// ```
    /// assert_eq!(tower_bearer::InvalidToken::Expired.description(), "token expired");
    /// ```
    pub fn description(&self) -> &'static str {
        match self {
            InvalidToken::Malformed => "malformed token",
            InvalidToken::Signature => "bad signature",
            InvalidToken::UnknownKey => "unknown signing key",
            InvalidToken::Algorithm => "algorithm not allowed",
            InvalidToken::Expired => "token expired",
            InvalidToken::NotYetValid => "token not yet valid",
            InvalidToken::Claims => "required claim missing or invalid",
            InvalidToken::Issuer => "token issuer not accepted",
            InvalidToken::Audience => "token audience not accepted",
            InvalidToken::Type => "not an access token",
            InvalidToken::Inactive => "token not active",
            InvalidToken::Unknown => "token not recognised",
            InvalidToken::DpopBound => "DPoP-bound token without the DPoP scheme",
            InvalidToken::NotDpopBound => "token is not DPoP-bound",
            InvalidToken::DpopRequired => "DPoP-bound token required",
            InvalidToken::Binding => "token bound by an unsupported method",
            InvalidToken::IdToken => "an ID token is not an access token",
            InvalidToken::NotAccessToken => "not an access token of this issuer",
            InvalidToken::FirstParty => "token issued for another API",
            InvalidToken::AudienceMissing | InvalidToken::ClientNotAllowed => "token audience not accepted",
        }
    }

    /// A fixed snake_case code for this reason, for logs and metrics labels:
    /// one per variant, never anything from the token.
    ///
    /// ```
    /// assert_eq!(tower_bearer::InvalidToken::UnknownKey.reason(), "unknown_kid");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            InvalidToken::Malformed => "malformed",
            InvalidToken::Signature => "bad_signature",
            InvalidToken::UnknownKey => "unknown_kid",
            InvalidToken::Algorithm => "algorithm_not_allowed",
            InvalidToken::Expired => "expired",
            InvalidToken::NotYetValid => "not_yet_valid",
            InvalidToken::Claims => "claims_invalid",
            InvalidToken::Issuer => "issuer_mismatch",
            InvalidToken::Audience => "audience_mismatch",
            InvalidToken::Type => "typ_not_accepted",
            InvalidToken::Inactive => "inactive",
            InvalidToken::Unknown => "unknown_token",
            InvalidToken::DpopBound => "dpop_bound_as_bearer",
            InvalidToken::NotDpopBound => "not_dpop_bound",
            InvalidToken::DpopRequired => "dpop_required",
            InvalidToken::Binding => "unsupported_binding",
            InvalidToken::IdToken => "id_token_presented",
            InvalidToken::NotAccessToken => "not_an_access_token",
            InvalidToken::FirstParty => "first_party_token",
            InvalidToken::AudienceMissing => "audience_missing",
            InvalidToken::ClientNotAllowed => "client_not_allowed",
        }
    }
}

/// The verifier could not reach a decision (503).
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::Unavailable;
/// let u = Unavailable::new("jwks endpoint timed out").with_retry_after(Duration::from_secs(5));
/// assert_eq!(u.retry_after(), Some(Duration::from_secs(5)));
/// assert_eq!(u.to_string(), "jwks endpoint timed out");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unavailable {
    reason: Cow<'static, str>,
    retry_after: Option<Duration>,
}

impl Unavailable {
    /// A new outage with an operator-facing reason (logged, never sent to clients).
    ///
    /// ```
    /// assert_eq!(tower_bearer::Unavailable::new("down").reason(), "down");
    /// ```
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Unavailable {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// Suggests how long clients should wait (the `Retry-After` header).
    ///
    /// ```
    /// use std::time::Duration;
    /// let u = tower_bearer::Unavailable::new("x").with_retry_after(Duration::from_secs(1));
    /// assert!(u.retry_after().is_some());
    /// ```
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The operator-facing reason.
    ///
    /// ```
    /// assert_eq!(tower_bearer::Unavailable::new("x").reason(), "x");
    /// ```
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The suggested retry delay, if any.
    ///
    /// ```
    /// assert!(tower_bearer::Unavailable::new("x").retry_after().is_none());
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

/// A verifier double for the crate's unit tests.
#[cfg(test)]
pub(crate) mod fixed {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{TokenVerifier, VerifyError};
    use crate::{AccessToken, Principal};

    /// The same answer for every token (`Ok(subject)` or an error), at hand or
    /// only through `verify`; counts the answers it gives.
    pub(crate) struct Fixed {
        answer: Result<&'static str, VerifyError>,
        at_hand: bool,
        calls: AtomicUsize,
        awaited: AtomicUsize,
    }

    impl Fixed {
        /// Answers through `verify` only.
        pub(crate) fn new(answer: Result<&'static str, VerifyError>) -> Arc<Self> {
            Self::build(answer, false)
        }

        /// Answers through `verify_now` too.
        pub(crate) fn at_hand(answer: Result<&'static str, VerifyError>) -> Arc<Self> {
            Self::build(answer, true)
        }

        fn build(answer: Result<&'static str, VerifyError>, at_hand: bool) -> Arc<Self> {
            Arc::new(Fixed {
                answer,
                at_hand,
                calls: AtomicUsize::new(0),
                awaited: AtomicUsize::new(0),
            })
        }

        /// Answers given, at hand or awaited.
        pub(crate) fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        /// Answers given through `verify`.
        pub(crate) fn awaited(&self) -> usize {
            self.awaited.load(Ordering::SeqCst)
        }

        fn answer(&self) -> Result<AccessToken, VerifyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answer
                .clone()
                .map(|s| AccessToken::new(Principal::new().with_subject(s)))
        }
    }

    impl TokenVerifier for Fixed {
        async fn verify(&self, _token: &str) -> Result<AccessToken, VerifyError> {
            self.awaited.fetch_add(1, Ordering::SeqCst);
            self.answer()
        }

        fn verify_now(&self, _token: &str) -> Option<Result<AccessToken, VerifyError>> {
            self.at_hand.then(|| self.answer())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InvalidToken::{self, *};

    /// Every variant once: a new variant must be added here (the match makes
    /// the compiler say so).
    const ALL: [InvalidToken; 21] = [
        Malformed,
        Signature,
        UnknownKey,
        Algorithm,
        Expired,
        NotYetValid,
        Claims,
        Issuer,
        Audience,
        Type,
        Inactive,
        Unknown,
        DpopBound,
        NotDpopBound,
        DpopRequired,
        Binding,
        IdToken,
        NotAccessToken,
        FirstParty,
        AudienceMissing,
        ClientNotAllowed,
    ];

    #[test]
    fn reason_codes_are_distinct_snake_case_and_fixed_descriptions_are_quotable() {
        for variant in ALL {
            // Exhaustive: a variant missing from ALL fails to compile here.
            match variant {
                Malformed | Signature | UnknownKey | Algorithm | Expired | NotYetValid | Claims | Issuer
                | Audience | Type | Inactive | Unknown | DpopBound | NotDpopBound | DpopRequired
                | Binding | IdToken | NotAccessToken | FirstParty | AudienceMissing | ClientNotAllowed => {}
            }
            let code = variant.reason();
            assert!(
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            let description = variant.description();
            assert!(
                description
                    .bytes()
                    .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'),
                "{description}"
            );
            assert_eq!(variant.to_string(), description);
        }
        let mut codes: Vec<_> = ALL.iter().map(InvalidToken::reason).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len(), "two variants share a reason code");
    }
}

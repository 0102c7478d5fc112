//! OAuth 2.0 Token Exchange (RFC 8693) for downstream calls.
//!
//! A resource server that calls another API for its caller must not pass the
//! caller's token on: that token's audience is this server. It exchanges the
//! token at the authorization server for one whose audience is the downstream
//! API, naming itself as the actor. [`TokenExchange`] does that exchange:
//!
//! - the token endpoint from the authorization server's metadata (its
//!   `grant_types_supported` must list the token-exchange grant), or given;
//! - client authentication `client_secret_basic`, `client_secret_post` or
//!   `private_key_jwt` (RFC 7523, signed by a [`ClientKey`]);
//! - exchanged tokens cached by (SHA-256 of the subject token, downstream,
//!   scopes) until the earlier of their own expiry and the subject token's,
//!   less a skew; one exchange in flight per key, and a bound on exchanges in
//!   flight overall;
//! - DPoP-bound exchanged tokens when a [`ClientKey`] is set: the outbound
//!   call then carries a proof by that key; a token endpoint that wants DPoP
//!   nonces (`use_dpop_nonce`, RFC 9449 §8) is asked again once with its nonce;
//! - failures that say what happened: a refusal ([`ExchangeRefusal`]) is 403
//!   with a fixed description, an authorization server down or slow is 503 with
//!   `Retry-After` ([`ExchangeError`]).
//!
//! The incoming token is kept for this only when asked
//! ([`TokenVerifierLayer::keep_subject_token`](crate::TokenVerifierLayer::keep_subject_token)):
//! it is then in the request extensions as a [`SubjectToken`], whose `Debug`
//! is redacted and which nothing in the crate logs. It is sent to the token
//! endpoint and nowhere else: [`ExchangeLayer`] and [`TokenExchange::attach`]
//! replace any `Authorization` of an outbound request with the exchanged token
//! and refuse to call without one.
//!
//! ```
//! use tower_bearer::exchange::{Downstream, SubjectToken, TokenExchange};
//! use tower_bearer::{Scopes, TokenVerifier};
//! use tower_bearer_issuer::DevIssuer;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // The issuer lets its own client exchange tokens for the downstream API.
//! let issuer = DevIssuer::builder()
//!     .allow_token_exchange("dev-client", "http://127.0.0.1:4000/api")
//!     .client("dev-client", "s3cret")
//!     .start()
//!     .await
//!     .unwrap();
//! let exchange = TokenExchange::builder()
//!     .issuer(issuer.issuer())
//!     .client_secret_basic("dev-client", "s3cret")
//!     .build()
//!     .unwrap();
//!
//! // What the layer keeps of the incoming request (keep_subject_token):
//! let incoming = issuer.token("alice", "mcp-client", "mcp:read", "http://127.0.0.1:3000/mcp");
//! let verified = issuer.jwt_verifier("http://127.0.0.1:3000/mcp").verify(&incoming).await.unwrap();
//! let subject = SubjectToken::new(incoming.as_str());
//!
//! let downstream = Downstream::resource("http://127.0.0.1:4000/api").unwrap().scopes(Scopes::parse("mcp:read"));
//! let exchanged = exchange.exchange(&subject, &verified, &downstream).await.unwrap();
//!
//! // Downstream sees alice, acted for by this server's client.
//! let seen = issuer.jwt_verifier("http://127.0.0.1:4000/api").verify(exchanged.secret()).await.unwrap();
//! assert_eq!(seen.principal().subject(), Some("alice"));
//! assert_eq!(seen.actor().unwrap().unwrap().subject(), Some("dev-client"));
//! # });
//! ```

mod client_key;
mod downstream;
mod error;
mod outbound;
mod request;
mod tokens;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use moka::Expiry;
use tokio::sync::{OnceCell, Semaphore};

pub use client_key::ClientKey;
pub use downstream::Downstream;
pub use error::{ExchangeConfigError, ExchangeError, ExchangeRefusal};
pub use outbound::{ExchangeFuture, ExchangeLayer, ExchangeService, OutboundError, carry_subject};
pub use request::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT};
pub use tokens::{ExchangedToken, SubjectToken, TokenType};

use downstream::printable;
use request::{ActorToken, Call, ClientAuth};

use crate::fetch::{self, FetchError};
use crate::{AccessToken, Unavailable, digest, time};

/// Default bound on exchanges in flight at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Default number of exchanged tokens cached.
pub const DEFAULT_CACHE_CAPACITY: u64 = 10_000;
/// Default margin taken off an exchanged token's lifetime before it is
/// exchanged again.
pub const DEFAULT_SKEW: Duration = Duration::from_secs(30);

/// Configures a [`TokenExchange`]; see [`TokenExchange::builder`].
#[must_use]
pub struct TokenExchangeBuilder {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    auth: Option<ClientAuth>,
    dpop_key: Option<Arc<ClientKey>>,
    actor: Option<ActorToken>,
    timeout: Duration,
    max_in_flight: usize,
    cache_capacity: u64,
    skew: Duration,
}

impl fmt::Debug for TokenExchangeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeBuilder")
            .field("issuer", &self.issuer)
            .field("token_endpoint", &self.token_endpoint)
            .field("auth", &self.auth)
            .field("dpop_key", &self.dpop_key)
            .field("actor_token", &self.actor.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl TokenExchangeBuilder {
    /// The authorization server: its RFC 8414 (or OpenID) metadata gives the
    /// token endpoint, fetched on the first exchange (and again after a
    /// failure), and must list the token-exchange grant.
    ///
    /// See the [module docs](self) for an example.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The token endpoint itself, with no metadata discovery.
    ///
    /// ```
    /// use tower_bearer::exchange::TokenExchange;
    /// let exchange = TokenExchange::builder()
    ///     .token_endpoint("https://as.example/token")
    ///     .client_secret_post("rs", "s3cret")
    ///     .build()
    ///     .unwrap();
    /// # let _ = exchange;
    /// ```
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// Authenticate with HTTP Basic (RFC 6749 §2.3.1).
    ///
    /// See the [module docs](self) for an example.
    pub fn client_secret_basic(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.auth = Some(ClientAuth::SecretBasic {
            id: client_id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Authenticate with the secret in the form (RFC 6749 §2.3.1).
    ///
    /// See [`TokenExchangeBuilder::token_endpoint`] for an example.
    pub fn client_secret_post(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.auth = Some(ClientAuth::SecretPost {
            id: client_id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Authenticate with a client assertion signed by `key` (RFC 7523 §2.2,
    /// `private_key_jwt`); its public JWK is registered with the server.
    ///
    /// ```
    /// use tower_bearer::exchange::{ClientKey, TokenExchange};
    /// let key = ClientKey::generate().unwrap().with_kid("rs-1");
    /// let exchange = TokenExchange::builder()
    ///     .token_endpoint("https://as.example/token")
    ///     .private_key_jwt("rs", key)
    ///     .build()
    ///     .unwrap();
    /// # let _ = exchange;
    /// ```
    pub fn private_key_jwt(mut self, client_id: impl Into<String>, key: ClientKey) -> Self {
        self.auth = Some(ClientAuth::PrivateKeyJwt {
            id: client_id.into(),
            key: Arc::new(key),
        });
        self
    }

    /// Ask for DPoP-bound tokens (a proof by `key` with each exchange, RFC
    /// 9449 §5); outbound calls then carry proofs by the same key.
    ///
    /// ```
    /// use tower_bearer::exchange::{ClientKey, TokenExchange};
    /// let exchange = TokenExchange::builder()
    ///     .token_endpoint("https://as.example/token")
    ///     .client_secret_basic("rs", "s3cret")
    ///     .dpop_key(ClientKey::generate().unwrap())
    ///     .build()
    ///     .unwrap();
    /// # let _ = exchange;
    /// ```
    pub fn dpop_key(mut self, key: ClientKey) -> Self {
        self.dpop_key = Some(Arc::new(key));
        self
    }

    /// An `actor_token` sent with every exchange (RFC 8693 §2.1): a
    /// credential of this server, e.g. a workload token, of type `token_type`.
    ///
    /// ```
    /// use tower_bearer::exchange::TokenExchange;
    /// let _ = TokenExchange::builder().actor_token("eyJ...", "urn:ietf:params:oauth:token-type:jwt");
    /// ```
    pub fn actor_token(mut self, token: impl Into<String>, token_type: impl Into<String>) -> Self {
        self.actor = Some(ActorToken {
            token: token.into(),
            token_type: token_type.into(),
        });
        self
    }

    /// Timeout of each call to the authorization server, and the longest wait
    /// for a place among the exchanges in flight (default 5 s).
    ///
    /// ```
    /// let _ = tower_bearer::exchange::TokenExchange::builder().timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// At most this many exchanges in flight at once (default
    /// [`DEFAULT_MAX_IN_FLIGHT`]); more wait up to the timeout, then fail 503.
    ///
    /// ```
    /// let _ = tower_bearer::exchange::TokenExchange::builder().max_in_flight(8);
    /// ```
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// At most this many exchanged tokens cached (default [`DEFAULT_CACHE_CAPACITY`]).
    ///
    /// ```
    /// let _ = tower_bearer::exchange::TokenExchange::builder().cache_capacity(1000);
    /// ```
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Margin taken off an exchanged token's lifetime (default [`DEFAULT_SKEW`]).
    ///
    /// ```
    /// let _ = tower_bearer::exchange::TokenExchange::builder().skew(std::time::Duration::from_secs(10));
    /// ```
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// Checks the configuration and builds the exchange. Nothing is fetched yet.
    ///
    /// # Errors
    /// [`ExchangeConfigError`] naming the setting at fault.
    ///
    /// See the [module docs](self) for an example.
    pub fn build(self) -> Result<TokenExchange, ExchangeConfigError> {
        let endpoint = match (&self.token_endpoint, &self.issuer) {
            (Some(url), _) => Endpoint::Fixed(checked("token_endpoint", url)?),
            (None, Some(issuer)) => {
                checked("issuer", issuer)?;
                Endpoint::Discovered {
                    issuer: issuer.clone(),
                    found: OnceCell::new(),
                }
            }
            (None, None) => return Err(ExchangeConfigError::NoEndpoint),
        };
        let auth = self.auth.ok_or(ExchangeConfigError::NoClient)?;
        let (ClientAuth::SecretBasic { id, .. }
        | ClientAuth::SecretPost { id, .. }
        | ClientAuth::PrivateKeyJwt { id, .. }) = &auth;
        if id.is_empty() {
            return Err(ExchangeConfigError::BadValue("client_id"));
        }
        if let Some(actor) = &self.actor
            && (actor.token.is_empty() || !printable(&actor.token_type))
        {
            return Err(ExchangeConfigError::BadValue("actor_token"));
        }
        if self.timeout.is_zero() {
            return Err(ExchangeConfigError::Zero("timeout"));
        }
        if self.max_in_flight == 0 {
            return Err(ExchangeConfigError::Zero("max_in_flight"));
        }
        if self.cache_capacity == 0 {
            return Err(ExchangeConfigError::Zero("cache_capacity"));
        }
        let http = fetch::client(self.timeout).map_err(ExchangeConfigError::Client)?;
        Ok(TokenExchange {
            inner: Arc::new(Inner {
                http,
                endpoint,
                auth,
                dpop_key: self.dpop_key,
                actor: self.actor,
                timeout: self.timeout,
                in_flight: Semaphore::new(self.max_in_flight.min(Semaphore::MAX_PERMITS)),
                skew: self.skew,
                cache: moka::future::Cache::builder()
                    .max_capacity(self.cache_capacity)
                    .expire_after(UntilExpiry)
                    .build(),
            }),
        })
    }
}

fn checked(field: &'static str, url: &str) -> Result<reqwest::Url, ExchangeConfigError> {
    fetch::checked_url(url).map_err(|error| ExchangeConfigError::Url { field, error })
}

enum Endpoint {
    Fixed(reqwest::Url),
    Discovered {
        issuer: String,
        found: OnceCell<reqwest::Url>,
    },
}

/// Exchanges incoming access tokens for tokens to call downstream APIs
/// (RFC 8693), with a cache; cheap to clone (shared state).
///
/// See the [module docs](self) for an example.
#[derive(Clone)]
pub struct TokenExchange {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Endpoint,
    auth: ClientAuth,
    dpop_key: Option<Arc<ClientKey>>,
    actor: Option<ActorToken>,
    timeout: Duration,
    in_flight: Semaphore,
    skew: Duration,
    /// By (SHA-256 of the subject token, downstream key): never the raw token.
    cache: moka::future::Cache<([u8; 32], [u8; 32]), Cached>,
}

#[derive(Clone)]
struct Cached {
    token: ExchangedToken,
    ttl: Duration,
}

/// Each entry lives as long as it was found good for when it was inserted.
struct UntilExpiry;

impl Expiry<([u8; 32], [u8; 32]), Cached> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &([u8; 32], [u8; 32]),
        value: &Cached,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = match &self.inner.endpoint {
            Endpoint::Fixed(url) => url.as_str(),
            Endpoint::Discovered { issuer, .. } => issuer,
        };
        f.debug_struct("TokenExchange")
            .field("endpoint", &endpoint)
            .field("auth", &self.inner.auth)
            .field("dpop_key", &self.inner.dpop_key)
            .finish_non_exhaustive()
    }
}

impl TokenExchange {
    /// A builder; set the issuer or token endpoint and the client authentication.
    ///
    /// See the [module docs](self) for an example.
    pub fn builder() -> TokenExchangeBuilder {
        TokenExchangeBuilder {
            issuer: None,
            token_endpoint: None,
            auth: None,
            dpop_key: None,
            actor: None,
            timeout: fetch::DEFAULT_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            skew: DEFAULT_SKEW,
        }
    }

    /// A token for `downstream` in exchange for `subject` (the incoming token,
    /// verified as `verified`): from the cache, or from the authorization
    /// server, one exchange per subject token and downstream at a time.
    ///
    /// # Errors
    /// [`ExchangeError::Refused`] (403) when the authorization server refuses,
    /// or the subject token has expired; [`ExchangeError::Unavailable`] (503)
    /// when it cannot be reached in time or answers something unusable.
    ///
    /// See the [module docs](self) for an example.
    pub async fn exchange(
        &self,
        subject: &SubjectToken,
        verified: &AccessToken,
        downstream: &Downstream,
    ) -> Result<ExchangedToken, ExchangeError> {
        let now = SystemTime::now();
        if verified.is_expired_at(now, Duration::ZERO) {
            return Err(ExchangeError::Refused(ExchangeRefusal::SubjectExpired));
        }
        let key = (digest::sha256(subject.raw().as_bytes()), downstream.key);
        let inner = &self.inner;
        let cached = inner
            .cache
            .try_get_with(key, async {
                let token = inner
                    .fetch(subject.raw(), downstream)
                    .await?
                    .for_subject(verified.principal());
                let ttl = inner.ttl(&token, verified.expires_at(), SystemTime::now());
                Ok::<_, ExchangeError>(Cached { token, ttl })
            })
            .await
            .map_err(|e| (*e).clone())?;
        Ok(cached.token)
    }

    /// How long an exchanged token is reused: until the earlier of its expiry
    /// and the subject token's, less the skew; not at all when neither is known.
    fn ttl_of(
        token: &ExchangedToken,
        subject_exp: Option<SystemTime>,
        skew: Duration,
        now: SystemTime,
    ) -> Duration {
        let until = match (token.expires_at(), subject_exp) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return Duration::ZERO,
        };
        time::remaining(until, now).saturating_sub(skew)
    }

    pub(crate) fn dpop_key(&self) -> Option<&ClientKey> {
        self.inner.dpop_key.as_deref()
    }
}

impl Inner {
    fn ttl(&self, token: &ExchangedToken, subject_exp: Option<SystemTime>, now: SystemTime) -> Duration {
        TokenExchange::ttl_of(token, subject_exp, self.skew, now)
    }

    /// One exchange at the authorization server, within the in-flight bound.
    async fn fetch(&self, subject: &str, downstream: &Downstream) -> Result<ExchangedToken, ExchangeError> {
        let _permit = tokio::time::timeout(self.timeout, self.in_flight.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| Unavailable::new("too many token exchanges in flight"))?;
        let endpoint = self.endpoint().await?;
        let call = Call {
            http: &self.http,
            endpoint,
            auth: &self.auth,
            dpop_key: self.dpop_key.as_deref(),
            actor: self.actor.as_ref(),
        };
        let result = call.exchange(subject, downstream).await;
        match &result {
            Ok(token) => tracing::debug!(token_type = ?token.token_type(), "token exchanged"),
            Err(ExchangeError::Unavailable(u)) => tracing::warn!(reason = %u, "token exchange unavailable"),
            Err(e) => tracing::debug!(error = %e, "token exchange refused"),
        }
        result
    }

    /// The token endpoint: given, or from the metadata (fetched until found).
    async fn endpoint(&self) -> Result<&reqwest::Url, ExchangeError> {
        match &self.endpoint {
            Endpoint::Fixed(url) => Ok(url),
            Endpoint::Discovered { issuer, found } => {
                found
                    .get_or_try_init(|| async {
                        let metadata = crate::discovery::discover(&self.http, issuer)
                            .await
                            .map_err(|e| Unavailable::new(e.to_string()))?;
                        let supported = metadata
                            .grant_types_supported
                            .as_ref()
                            .is_some_and(|grants| grants.iter().any(|g| g == TOKEN_EXCHANGE_GRANT));
                        if !supported {
                            return Err(Unavailable::new(format!(
                                "{issuer} does not list the token-exchange grant in grant_types_supported"
                            ))
                            .into());
                        }
                        let url = metadata.token_endpoint.ok_or_else(|| {
                            Unavailable::new(format!("{issuer} metadata has no token_endpoint"))
                        })?;
                        fetch::checked_url(&url)
                            .map_err(|e: FetchError| Unavailable::new(format!("token_endpoint: {e}")).into())
                    })
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_until_the_earlier_expiry_less_the_skew() {
        let now = SystemTime::now();
        let token = |exp: Option<u64>| {
            ExchangedToken::new(
                "t",
                TokenType::Bearer,
                exp.map(|s| now + Duration::from_secs(s)),
                None,
                "x",
            )
        };
        let skew = Duration::from_secs(30);
        let subject = Some(now + Duration::from_secs(100));
        let ttl = |t, s| TokenExchange::ttl_of(&t, s, skew, now).as_secs();
        assert_eq!(ttl(token(Some(3600)), subject), 70);
        assert_eq!(ttl(token(Some(60)), subject), 30);
        assert_eq!(ttl(token(Some(10)), subject), 0);
        assert_eq!(ttl(token(None), subject), 70);
        assert_eq!(ttl(token(Some(600)), None), 570);
        assert_eq!(ttl(token(None), None), 0, "no expiry known: not reused");
    }

    #[test]
    fn configuration_errors_name_the_field() {
        let base = || TokenExchange::builder().client_secret_basic("rs", "s");
        assert!(matches!(base().build(), Err(ExchangeConfigError::NoEndpoint)));
        assert!(matches!(
            TokenExchange::builder()
                .token_endpoint("https://as/token")
                .build(),
            Err(ExchangeConfigError::NoClient)
        ));
        assert!(matches!(
            base().token_endpoint("http://as.example/token").build(),
            Err(ExchangeConfigError::Url {
                field: "token_endpoint",
                ..
            })
        ));
        assert!(matches!(
            base().issuer("not a url").build(),
            Err(ExchangeConfigError::Url { field: "issuer", .. })
        ));
        let ok = || base().token_endpoint("https://as.example/token");
        assert!(matches!(
            ok().max_in_flight(0).build(),
            Err(ExchangeConfigError::Zero("max_in_flight"))
        ));
        assert!(matches!(
            ok().timeout(Duration::ZERO).build(),
            Err(ExchangeConfigError::Zero("timeout"))
        ));
        assert!(matches!(
            ok().cache_capacity(0).build(),
            Err(ExchangeConfigError::Zero("cache_capacity"))
        ));
        assert!(matches!(
            ok().actor_token("", "x").build(),
            Err(ExchangeConfigError::BadValue("actor_token"))
        ));
        assert!(matches!(
            TokenExchange::builder()
                .token_endpoint("https://as.example/token")
                .client_secret_post("", "s")
                .build(),
            Err(ExchangeConfigError::BadValue("client_id"))
        ));
        assert!(ok().max_in_flight(usize::MAX).skew(Duration::MAX).build().is_ok());
    }
}

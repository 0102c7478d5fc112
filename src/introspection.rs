//! RFC 7662 token introspection: [`IntrospectionVerifier`] asks the authorization
//! server about opaque tokens and caches its answers.
//!
//! - **Request**: `POST token=…&token_type_hint=access_token`, authenticated with
//!   `client_secret_basic` (default) or `client_secret_post` ([`ClientAuth`]); no
//!   redirects; 5 s timeout; HTTPS only (plain http to loopback for development).
//! - **Response rules**: `active` must be the JSON boolean `true` (`"true"` or a
//!   missing member is inactive); `exp`/`nbf` are honoured with the leeway (60 s);
//!   `iss` must equal the configured issuer when the response carries one; with an
//!   [`audience`](IntrospectionVerifierBuilder::audience) configured, the response
//!   must carry `aud` and it must contain the resource (MCP: accept only tokens
//!   issued for this resource); for authorization servers that omit `aud`,
//!   [`allow_missing_audience`](IntrospectionVerifierBuilder::allow_missing_audience)
//!   is the explicit opt-out;
//!   sender-constrained tokens (`cnf`) and other token types are refused; `scope`
//!   becomes [`Scopes`](crate::Scopes); the principal is *(client_id, iss or the
//!   configured issuer, sub)*. Bodies over 64 KiB or not JSON are outages.
//! - **Cache**: keyed by SHA-256 of the token (never the token), bounded by entry
//!   count (10 000); a positive answer lives `min(60 s, exp − now)`, a negative one
//!   10 s (0 disables); outages are never cached; concurrent misses for one token
//!   make exactly one call. A negative answer is cached for exactly its TTL: a
//!   token refused as inactive stays refused for up to that long (10 s by
//!   default) even if it becomes active meanwhile.
//! - **Bounded fan-out**: at most 64 calls to the endpoint at once per verifier
//!   ([`max_in_flight`](IntrospectionVerifierBuilder::max_in_flight)); a miss over
//!   the bound waits up to 1 s, then 503 with `Retry-After`.
//! - **Failures**: a transport error, timeout, non-2xx status or unparsable body is
//!   [`VerifyError::Unavailable`] (503 with `Retry-After`), never `invalid_token`.
//!
//! Neither tokens nor the client secret appear in `Debug` output, errors or logs.
//!
//! ```
//! use std::time::Duration;
//! use tower_bearer::TokenVerifierLayer;
//! use tower_bearer::introspection::{ClientAuth, IntrospectionVerifier};
//!
//! let verifier = IntrospectionVerifier::builder()
//!     .endpoint("https://as.example/oauth2/introspect")
//!     .client_credentials("resource-server", "s3cret")
//!     .auth_method(ClientAuth::Basic)
//!     .issuer("https://as.example")
//!     .audience("https://api.example/mcp")
//!     .positive_ttl(Duration::from_secs(30))
//!     .build()
//!     .expect("valid configuration");
//! assert!(!format!("{verifier:?}").contains("s3cret"));
//! let layer = TokenVerifierLayer::new(verifier);
//! ```

mod cache;
pub(crate) mod client;
mod shared;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cache::DecisionCache;
use client::{Decision, Introspector, Rules, Secret};

pub use client::ClientAuth;
pub use shared::{DynSharedIntrospectionCache, SharedIntrospectionCache};

use crate::discovery::DiscoveryError;
use crate::fetch::{self, FetchError};
use crate::ready::NotReady;
use crate::{AccessToken, TokenSource, TokenVerifier, Unavailable, VerifyError};
use tokio::sync::Semaphore;

/// Default number of cached decisions.
pub(crate) const DEFAULT_CACHE_CAPACITY: u64 = 10_000;
/// Default (and maximum) lifetime of a cached positive answer.
pub(crate) const DEFAULT_POSITIVE_TTL: Duration = Duration::from_secs(60);
/// Default lifetime of a cached negative answer.
pub(crate) const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Default clock leeway for `exp` and `nbf`.
pub(crate) const DEFAULT_LEEWAY: Duration = crate::time::DEFAULT_LEEWAY;
/// Default bound on concurrent calls to the introspection endpoint, per verifier.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Default time a cache miss waits for a free call slot before 503.
pub(crate) const DEFAULT_IN_FLIGHT_WAIT: Duration = Duration::from_secs(1);

/// Verifies opaque tokens by RFC 7662 introspection, with a bounded cache.
///
/// Built with [`IntrospectionVerifier::builder`]. Cloning is cheap and clones
/// share the cache.
///
/// ```
/// use tower_bearer::introspection::IntrospectionVerifier;
///
/// let verifier = IntrospectionVerifier::builder()
///     .endpoint("https://as.example/introspect")
///     .client_credentials("rs", "secret")
///     .build()
///     .unwrap();
/// let shared = verifier.clone(); // same cache
/// ```
#[derive(Clone)]
pub struct IntrospectionVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    introspector: Introspector,
    cache: DecisionCache,
    /// One permit per call the authorization server may be answering.
    in_flight: Semaphore,
    in_flight_wait: Duration,
    shared: Option<Shared>,
}

/// The shared (L2) cache and the lifetimes answers get in it.
struct Shared {
    cache: Box<DynSharedIntrospectionCache<'static>>,
    positive_ttl: Duration,
    negative_ttl: Duration,
}

impl fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("introspector", &self.inner.introspector)
            .finish_non_exhaustive()
    }
}

impl IntrospectionVerifier {
    /// A builder with the defaults described in the [module docs](self).
    ///
    /// ```
    /// let builder = tower_bearer::introspection::IntrospectionVerifier::builder();
    /// ```
    pub fn builder() -> IntrospectionVerifierBuilder {
        IntrospectionVerifierBuilder::default()
    }

    /// Number of cached decisions (positive and negative), after pending
    /// evictions have run. Never more than the configured capacity.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use tower_bearer::introspection::IntrospectionVerifier;
    /// let verifier = IntrospectionVerifier::builder()
    ///     .endpoint("https://as.example/introspect")
    ///     .client_credentials("rs", "secret")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(verifier.cache_entry_count().await, 0);
    /// # });
    /// ```
    pub async fn cache_entry_count(&self) -> u64 {
        self.inner.cache.entry_count()
    }
}

impl TokenVerifier for IntrospectionVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
        let Inner {
            introspector,
            cache,
            in_flight,
            in_flight_wait,
            shared,
        } = &*self.inner;
        let call = async {
            let key = shared.as_ref().map(|_| crate::digest::sha256(token.as_bytes()));
            if let (Some(shared), Some(key)) = (shared, &key)
                && let Some(decision) = shared.decision(introspector, key).await
            {
                return Ok(decision);
            }
            // Bounded fan-out: distinct tokens never become unbounded concurrent
            // calls; over the bound a miss waits briefly, then 503 (not cached).
            let Ok(Ok(_permit)) = tokio::time::timeout(*in_flight_wait, in_flight.acquire()).await else {
                tracing::warn!("introspection calls at their bound; answering 503");
                return Err(Unavailable::new("too many introspection calls in flight"));
            };
            let (decision, answer) = introspector.introspect(token).await?;
            if let (Some(shared), Some(key)) = (shared, &key) {
                shared.keep(key, &decision, &answer).await;
            }
            Ok(decision)
        };
        let decision = cache.get_or_decide(token, call).await?;
        self.accept(decision)
    }

    /// A decision from the cache (positive or negative), checked against the clock.
    fn verify_now(&self, token: &str) -> Option<Result<AccessToken, VerifyError>> {
        self.inner
            .cache
            .get_now(token)
            .map(|decision| self.accept(decision))
    }

    fn verifies_as(&self, _: &str) -> TokenSource {
        TokenSource::Introspection
    }

    /// Ready once the endpoint has answered (any answer: it is reachable and
    /// takes this resource server's credentials).
    fn readiness(&self) -> Result<(), NotReady> {
        if self.inner.introspector.has_answered() {
            Ok(())
        } else {
            Err(NotReady::new("the introspection endpoint has not answered yet"))
        }
    }

    /// Introspects a value that is no token (the endpoint answers
    /// `active: false`); nothing is cached.
    async fn warm_up(&self) -> Result<(), Unavailable> {
        self.inner.introspector.introspect(WARM_UP_PROBE).await.map(drop)
    }
}

/// What [`IntrospectionVerifier`]'s warm-up introspects: not a token.
const WARM_UP_PROBE: &str = "tower-bearer-warm-up-probe";

impl IntrospectionVerifier {
    /// The verdict on a decision, fresh or cached.
    fn accept(&self, decision: Decision) -> Result<AccessToken, VerifyError> {
        let token = decision?;
        // Entries expire by `exp`; this also guards against the wall clock
        // jumping ahead of the cache's monotonic clock.
        if token.expires_at().is_some_and(|exp| {
            crate::time::is_expired(exp, self.inner.introspector.rules.leeway, SystemTime::now())
        }) {
            return Err(crate::InvalidToken::Expired.into());
        }
        Ok(token)
    }
}

impl Shared {
    /// The decision on a shared answer, if there is one that parses; an
    /// outage of the shared cache is no answer (the endpoint is asked).
    async fn decision(&self, introspector: &Introspector, key: &[u8; 32]) -> Option<Decision> {
        let answer = self.cache.get(key).await.ok()??;
        let response = fetch::strict_object(&answer).ok()?;
        Some(client::check(response, &introspector.rules, SystemTime::now()))
    }

    /// Shares a fresh answer: positive ones until `exp` at most.
    async fn keep(&self, key: &[u8; 32], decision: &Decision, answer: &[u8]) {
        let ttl = match decision {
            Ok(token) => token.expires_at().map_or(self.positive_ttl, |exp| {
                crate::time::remaining(exp, SystemTime::now()).min(self.positive_ttl)
            }),
            Err(_) => self.negative_ttl,
        };
        if !ttl.is_zero() {
            // Not shared this time: the in-process cache still has it.
            let _ = self.cache.put(key, answer, ttl).await;
        }
    }
}

/// Why an [`IntrospectionVerifier`] could not be built.
///
/// ```
/// use tower_bearer::introspection::{BuildError, IntrospectionVerifier};
/// let err = IntrospectionVerifier::builder()
///     .endpoint("http://as.example/introspect") // plain http off loopback
///     .client_credentials("rs", "secret")
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, BuildError::Url { what: "introspection endpoint", .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Neither [`endpoint`](IntrospectionVerifierBuilder::endpoint) nor
    /// [`discover_from`](IntrospectionVerifierBuilder::discover_from) was used.
    #[error("no introspection endpoint: call endpoint() or discover_from()")]
    MissingEndpoint,
    /// [`client_credentials`](IntrospectionVerifierBuilder::client_credentials) was not called.
    #[error("no client credentials for the introspection endpoint")]
    MissingCredentials,
    /// A URL is invalid, or not https (plain http is allowed to loopback only).
    #[error("{what}: {reason}")]
    Url {
        /// Which URL: `"issuer"` or `"introspection endpoint"`.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The issuer's metadata could not be fetched.
    #[error("authorization server metadata unavailable: {0}")]
    Discovery(String),
    /// The metadata names another issuer (RFC 8414 §3.3).
    #[error("metadata issuer {found:?} does not match the configured issuer {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer named by the metadata.
        found: String,
    },
    /// The metadata has no `introspection_endpoint`.
    #[error("authorization server metadata has no introspection_endpoint")]
    NoIntrospectionEndpoint,
    /// The HTTP client for discovery and introspection could not be built
    /// (its TLS backend did not initialise).
    #[error("http_client: {0}")]
    HttpClient(String),
}

impl BuildError {
    fn url(what: &'static str) -> impl FnOnce(FetchError) -> BuildError {
        move |e| BuildError::Url {
            what,
            reason: e.to_string(),
        }
    }

    fn http_client(e: FetchError) -> BuildError {
        BuildError::HttpClient(e.to_string())
    }
}

/// Configures an [`IntrospectionVerifier`]. Finish with [`build`](Self::build)
/// (endpoint given) or [`discover_from`](Self::discover_from) (endpoint found in
/// the issuer's metadata).
///
/// ```
/// use tower_bearer::introspection::IntrospectionVerifier;
/// let builder = IntrospectionVerifier::builder().client_credentials("rs", "secret");
/// assert!(!format!("{builder:?}").contains("secret\""));
/// ```
#[must_use]
pub struct IntrospectionVerifierBuilder {
    endpoint: Option<String>,
    credentials: Option<(String, Secret)>,
    auth: ClientAuth,
    issuer: Option<String>,
    audience: Option<String>,
    accepted: Vec<String>,
    allow_missing_audience: bool,
    cache_capacity: u64,
    positive_ttl: Duration,
    negative_ttl: Duration,
    timeout: Duration,
    leeway: Duration,
    max_in_flight: usize,
    in_flight_wait: Duration,
    shared: Option<Box<DynSharedIntrospectionCache<'static>>>,
}

impl fmt::Debug for IntrospectionVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionVerifierBuilder")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("auth", &self.auth)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("accepted_audiences", &self.accepted)
            .field("allow_missing_audience", &self.allow_missing_audience)
            .field("cache_capacity", &self.cache_capacity)
            .field("positive_ttl", &self.positive_ttl)
            .field("negative_ttl", &self.negative_ttl)
            .field("timeout", &self.timeout)
            .field("leeway", &self.leeway)
            .field("max_in_flight", &self.max_in_flight)
            .field("in_flight_wait", &self.in_flight_wait)
            .field("shared_cache", &self.shared.is_some())
            .finish()
    }
}

impl Default for IntrospectionVerifierBuilder {
    fn default() -> Self {
        IntrospectionVerifierBuilder {
            endpoint: None,
            credentials: None,
            auth: ClientAuth::default(),
            issuer: None,
            audience: None,
            accepted: Vec::new(),
            allow_missing_audience: false,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            positive_ttl: DEFAULT_POSITIVE_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            timeout: fetch::DEFAULT_TIMEOUT,
            leeway: DEFAULT_LEEWAY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            in_flight_wait: DEFAULT_IN_FLIGHT_WAIT,
            shared: None,
        }
    }
}

impl IntrospectionVerifierBuilder {
    /// The introspection endpoint URL (https, or http to loopback).
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().endpoint("https://as.example/introspect");
    /// ```
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The resource server's own client id and secret at the authorization server.
    /// The secret never appears in `Debug` output or errors.
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().client_credentials("rs", "s3cret");
    /// assert!(!format!("{b:?}").contains("s3cret"));
    /// ```
    pub fn client_credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some((client_id.into(), Secret::new(secret.into())));
        self
    }

    /// How to authenticate: [`ClientAuth::Basic`] (default) or [`ClientAuth::Post`].
    ///
    /// ```
    /// # use tower_bearer::introspection::{ClientAuth, IntrospectionVerifier};
    /// let b = IntrospectionVerifier::builder().auth_method(ClientAuth::Post);
    /// ```
    pub fn auth_method(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The issuer: responses naming another `iss` are refused, and responses
    /// without one are attributed to it.
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().issuer("https://as.example");
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// This resource's identifier (RFC 8707): a response carrying `aud` must
    /// contain it.
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().audience("https://api.example/mcp");
    /// ```
    pub fn audience(mut self, resource: impl Into<String>) -> Self {
        self.audience = Some(resource.into());
        self
    }

    /// One more `aud` value that names this API when the authorization server
    /// does not answer with the resource URL (Okta's `api://default`, a
    /// Keycloak client id); may be called several times. Checked only with an
    /// [`audience`](Self::audience) configured.
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder()
    ///     .audience("https://api.example/mcp")
    ///     .accept_audience("api://default");
    /// ```
    pub fn accept_audience(mut self, audience: impl Into<String>) -> Self {
        self.accepted.push(audience.into());
        self
    }

    /// Accepts answers for `resource`: its identifier as the
    /// [audience](Self::audience).
    ///
    /// ```
    /// use tower_bearer::{Resource, introspection::IntrospectionVerifier};
    /// let resource = Resource::builder("https://api.example/mcp").build().unwrap();
    /// let builder = IntrospectionVerifier::builder().resource(&resource);
    /// # let _ = builder;
    /// ```
    pub fn resource(self, resource: &crate::Resource) -> Self {
        self.audience(resource.identifier())
    }

    /// Accept answers that carry no `aud` at all (default: false — with an
    /// [`audience`](Self::audience) configured, an answer without `aud` is refused
    /// with `invalid_token`, since the token may have been issued for another
    /// resource). Opt out only for authorization servers that never return `aud`
    /// and issue tokens for this resource alone; an `aud` that is present must
    /// still contain the resource.
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().audience("https://api.example/mcp").allow_missing_audience(true);
    /// ```
    pub fn allow_missing_audience(mut self, allow: bool) -> Self {
        self.allow_missing_audience = allow;
        self
    }

    /// At most this many calls to the introspection endpoint at once (default
    /// 64; 0 counts as 1). A flood of distinct tokens —
    /// each a cache miss — then costs the authorization server at most this many
    /// concurrent requests; a miss over the bound waits up to
    /// [`in_flight_wait`](Self::in_flight_wait) for a slot, then gets 503 with
    /// `Retry-After` (never `invalid_token`: the token was not checked).
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().max_in_flight(16);
    /// ```
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls;
        self
    }

    /// How long a cache miss waits for a call slot (default
    /// 1 s) before 503; see [`max_in_flight`](Self::max_in_flight).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().in_flight_wait(Duration::from_millis(200));
    /// ```
    pub fn in_flight_wait(mut self, wait: Duration) -> Self {
        self.in_flight_wait = wait;
        self
    }

    /// A cache shared by replicas under the in-process one (L2 under L1): a
    /// miss in process looks there before asking the endpoint, and fresh
    /// answers are written there too. See [`SharedIntrospectionCache`].
    ///
    /// See [`SharedIntrospectionCache`] for an example.
    pub fn shared_cache(mut self, cache: impl SharedIntrospectionCache + 'static) -> Self {
        self.shared = Some(DynSharedIntrospectionCache::new_box(cache));
        self
    }

    /// Maximum number of cached decisions (default 10 000). Memory stays bounded
    /// under a flood of distinct tokens.
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().cache_capacity(1_000);
    /// ```
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Maximum lifetime of a positive answer (default 60 s); an answer never
    /// outlives the token's `exp`.
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().positive_ttl(std::time::Duration::from_secs(30));
    /// ```
    pub fn positive_ttl(mut self, ttl: Duration) -> Self {
        self.positive_ttl = ttl;
        self
    }

    /// Lifetime of a negative answer (default 10 s; zero disables negative caching).
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().negative_ttl(std::time::Duration::ZERO);
    /// ```
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Connect and total timeout of one introspection call (default 5 s).
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Clock leeway for `exp` and `nbf` (default 60 s).
    ///
    /// ```
    /// # use tower_bearer::introspection::IntrospectionVerifier;
    /// let b = IntrospectionVerifier::builder().leeway(std::time::Duration::from_secs(5));
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Builds the verifier for the configured [`endpoint`](Self::endpoint).
    /// Nothing is fetched until the first token arrives.
    ///
    /// ```
    /// use tower_bearer::introspection::{BuildError, IntrospectionVerifier};
    /// let missing = IntrospectionVerifier::builder().client_credentials("rs", "s").build();
    /// assert!(matches!(missing, Err(BuildError::MissingEndpoint)));
    /// ```
    pub fn build(self) -> Result<IntrospectionVerifier, BuildError> {
        let endpoint = self.endpoint.as_deref().ok_or(BuildError::MissingEndpoint)?;
        let endpoint = fetch::checked_url(endpoint).map_err(BuildError::url("introspection endpoint"))?;
        self.finish(endpoint)
    }

    /// Finds the introspection endpoint in `issuer`'s metadata (RFC 8414
    /// `/.well-known/oauth-authorization-server`, then OpenID Connect
    /// `/.well-known/openid-configuration`), checks that the metadata's `issuer`
    /// equals `issuer` exactly, then builds as [`build`](Self::build) does with
    /// [`issuer`](Self::issuer) set to `issuer`.
    ///
    /// Discovery happens here, once, so a misconfigured issuer fails at start-up
    /// rather than as a stream of 503s.
    ///
    /// ```no_run
    /// # async fn start() -> Result<(), tower_bearer::introspection::BuildError> {
    /// use tower_bearer::introspection::IntrospectionVerifier;
    /// let verifier = IntrospectionVerifier::builder()
    ///     .client_credentials("rs", "secret")
    ///     .audience("https://api.example/mcp")
    ///     .discover_from("https://as.example")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn discover_from(
        mut self,
        issuer: impl Into<String>,
    ) -> Result<IntrospectionVerifier, BuildError> {
        let issuer = issuer.into();
        let http = fetch::client(self.timeout).map_err(BuildError::http_client)?;
        fetch::checked_url(&issuer).map_err(BuildError::url("issuer"))?;
        let metadata = crate::discovery::discover(&http, &issuer)
            .await
            .map_err(|e| match e {
                DiscoveryError::IssuerMismatch { expected, found } => {
                    BuildError::IssuerMismatch { expected, found }
                }
                other => BuildError::Discovery(other.to_string()),
            })?;
        let endpoint = metadata
            .introspection_endpoint
            .ok_or(BuildError::NoIntrospectionEndpoint)?;
        let endpoint = fetch::checked_url(&endpoint).map_err(BuildError::url("introspection endpoint"))?;
        self.issuer = Some(issuer);
        self.finish(endpoint)
    }

    fn finish(self, endpoint: reqwest::Url) -> Result<IntrospectionVerifier, BuildError> {
        let (client_id, secret) = self.credentials.ok_or(BuildError::MissingCredentials)?;
        let require_audience = self.audience.is_some() && !self.allow_missing_audience;
        let audiences = match self.audience {
            Some(resource) => std::iter::once(resource).chain(self.accepted).collect(),
            None => Vec::new(),
        };
        let rules = Rules {
            issuer: self.issuer.map(Arc::from),
            audiences,
            require_audience,
            leeway: self.leeway,
        };
        Ok(IntrospectionVerifier {
            inner: Arc::new(Inner {
                introspector: Introspector::new(endpoint, &client_id, secret, self.auth, self.timeout, rules)
                    .map_err(BuildError::http_client)?,
                cache: DecisionCache::new(self.cache_capacity, self.positive_ttl, self.negative_ttl),
                in_flight: Semaphore::new(self.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
                in_flight_wait: self.in_flight_wait,
                shared: self.shared.map(|cache| Shared {
                    cache,
                    positive_ttl: self.positive_ttl,
                    negative_ttl: self.negative_ttl,
                }),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> IntrospectionVerifierBuilder {
        IntrospectionVerifier::builder()
            .endpoint("https://as.example/introspect")
            .client_credentials("rs", "hunter2")
    }

    #[test]
    fn an_http_client_failure_names_the_http_client() {
        let error = BuildError::http_client(FetchError::Client("no TLS".into()));
        assert!(matches!(&error, BuildError::HttpClient(_)));
        assert_eq!(
            error.to_string(),
            "http_client: HTTP client could not be built: no TLS"
        );
    }

    #[test]
    fn configuration_errors() {
        assert!(builder().build().is_ok());
        assert!(matches!(
            IntrospectionVerifier::builder()
                .endpoint("https://as.example/i")
                .build(),
            Err(BuildError::MissingCredentials)
        ));
        assert!(matches!(
            builder().endpoint("http://10.0.0.1/introspect").build(),
            Err(BuildError::Url { .. })
        ));
        assert!(matches!(
            builder().endpoint("nope").build(),
            Err(BuildError::Url { .. })
        ));
        assert!(
            builder()
                .endpoint("http://127.0.0.1:9/introspect")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let b = builder().auth_method(ClientAuth::Post);
        assert!(!format!("{b:?}").contains("hunter2"));
        assert!(!format!("{:?}", b.build().unwrap()).contains("hunter2"));
        let basic = builder().build().unwrap();
        let shown = format!("{basic:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("cnM6aHVudGVyMg"),
            "{shown}"
        );
        assert!(shown.contains("as.example/introspect"), "{shown}");
    }
}

//! [`JwtVerifier`]: JWT access tokens verified locally against issuers' keys.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use moka::Expiry;

use super::claims::ClaimRules;
use super::explain;
use super::jwks::{CacheSettings, KeyCache, KeySource};
use super::jws::Unverified;
use super::key::{KeyPolicy, KeySet};
use super::profile::Profile;
use crate::digest::sha256;
use crate::fetch;
use crate::ready::NotReady;
use crate::{AccessToken, InvalidToken, TokenSource, TokenVerifier, Unavailable, VerifyError};

/// Longest time a verified token is kept in the verified-token cache.
pub(crate) const MAX_VERIFIED_TOKEN_TTL: Duration = Duration::from_secs(300);

/// Entries of the verified-token cache unless configured
/// ([`JwtVerifierBuilder::verified_token_cache`]).
pub(crate) const DEFAULT_VERIFIED_TOKEN_CACHE: u64 = 4096;

/// Tokens longer than this are verified every time, never cached: an entry
/// holds its token's claims, so this bounds the cache's memory (about
/// 5 KiB per entry at most; 20 MiB for the default capacity).
pub(crate) const MAX_CACHED_TOKEN_LEN: usize = 4096;

/// Verifies JWT access tokens against the keys of one or more issuers.
///
/// Keys are fetched lazily (on the first token, or with [`JwtVerifier::prefetch`])
/// and kept parsed; see the [module docs](crate::jwt) for the refresh policy and
/// the checks. Cloning shares the caches.
///
/// ```
/// use tower_bearer::jwt::JwtVerifier;
///
/// let verifier = JwtVerifier::builder()
///     .issuer("https://auth.example.com")
///     .audience("https://api.example.com/mcp")
///     .jwks_uri("https://auth.example.com/jwks.json")
///     .build()
///     .unwrap();
/// # let _ = verifier;
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Vec<IssuerState>,
    policy: KeyPolicy,
    token_cache: Option<moka::sync::Cache<[u8; 32], Cached>>,
}

struct IssuerState {
    rules: ClaimRules,
    keys: Arc<KeyCache>,
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    issuer: usize,
    expires_at: SystemTime,
    not_before: Option<SystemTime>,
    /// The key set and the key that verified the signature: a hit needs the
    /// issuer's current set to still hold that key.
    keys: Arc<KeySet>,
    fingerprint: [u8; 32],
    /// When that key set is due for a refresh (or stops being usable): the
    /// entry expires then at the latest.
    vouched_until: std::time::Instant,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field(
                "issuers",
                &self.inner.issuers.iter().map(|i| &i.rules).collect::<Vec<_>>(),
            )
            .field("policy", &self.inner.policy)
            .field("verified_token_cache", &self.inner.token_cache.is_some())
            .finish()
    }
}

impl JwtVerifier {
    /// Starts a builder.
    ///
    /// See [`JwtVerifier`] for an example.
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::default()
    }

    /// Fetches every issuer's keys now (discovery included), so the first request
    /// does not wait for them. The verifier works without it.
    ///
    /// ```no_run
    /// # async fn f(verifier: tower_bearer::jwt::JwtVerifier) {
    /// if let Err(e) = verifier.prefetch().await {
    ///     eprintln!("keys not reachable yet: {e}");
    /// }
    /// # }
    /// ```
    pub async fn prefetch(&self) -> Result<(), Unavailable> {
        for issuer in &self.inner.issuers {
            issuer.keys.keys().await?;
        }
        Ok(())
    }

    /// How many verified tokens the cache holds now (0 without a cache).
    ///
    /// ```
    /// let verifier = tower_bearer::jwt::JwtVerifier::builder()
    ///     .issuer("https://auth.example.com")
    ///     .audience("https://api.example.com/mcp")
    ///     .discover()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(verifier.cached_tokens(), 0);
    /// ```
    pub fn cached_tokens(&self) -> u64 {
        self.inner.token_cache.as_ref().map_or(0, |cache| {
            cache.run_pending_tasks();
            cache.entry_count()
        })
    }

    fn select_issuer(&self, token: &Unverified<'_>) -> Result<usize, InvalidToken> {
        let issuers = &self.inner.issuers;
        if issuers.len() == 1 {
            return Ok(0);
        }
        token.select_issuer(|iss| issuers.iter().position(|i| *i.rules.issuer == *iss))
    }

    /// A token from the verified-token cache, checked against the clock again,
    /// while the key that verified it is still in its issuer's current key set
    /// (an entry whose key is gone is dropped: the token is verified again, and
    /// refused). Entries expire when their key set is due for a refresh.
    fn cache_hit(
        &self,
        cache: &moka::sync::Cache<[u8; 32], Cached>,
        key: &[u8; 32],
        now: SystemTime,
    ) -> Option<Result<AccessToken, VerifyError>> {
        let hit = cache.get(key)?;
        let issuer = &self.inner.issuers[hit.issuer];
        if !issuer.keys.still_holds(&hit.keys, &hit.fingerprint) {
            cache.invalidate(key);
            return None;
        }
        let rules = &issuer.rules;
        Some(
            rules
                .check_times(hit.expires_at, hit.not_before, None, now)
                .map(|()| hit.token)
                .map_err(VerifyError::from),
        )
    }

    /// Verifies in full; `Some` entry for the verified-token cache while the
    /// key set that verified the token is current.
    async fn verify_uncached(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<(AccessToken, Option<Cached>), VerifyError> {
        let unverified = Unverified::parse(token, &self.inner.policy)
            .map_err(|reason| explain::refused(reason, None, None))?;
        let typ = unverified.typ_name();
        let index = self
            .select_issuer(&unverified)
            .map_err(|reason| explain::refused(reason, None, typ))?;
        let issuer = &self.inner.issuers[index];
        let refused = |reason| VerifyError::Invalid(explain::refused(reason, Some(&issuer.rules), typ));
        if issuer.rules.profile.refuses_header_nonce() && unverified.has_header_nonce() {
            return Err(refused(InvalidToken::FirstParty));
        }
        let (keys, fingerprint) = issuer.keys.verify(&unverified).await.map_err(|e| match e {
            VerifyError::Invalid(reason) => refused(reason),
            unavailable => unavailable,
        })?;
        let payload = unverified.decode_payload().map_err(refused)?;
        let checked = issuer.rules.check(typ, payload, now).map_err(refused)?;
        let expires_at = checked.token.expires_at().unwrap_or(now);
        let entry = issuer.keys.vouches_until(&keys).map(|until| Cached {
            token: checked.token.clone(),
            issuer: index,
            expires_at,
            not_before: checked.not_before,
            keys,
            fingerprint,
            vouched_until: until.into_std(),
        });
        Ok((checked.token, entry))
    }
}

impl TokenVerifier for JwtVerifier {
    async fn verify(&self, token: &str) -> Result<AccessToken, VerifyError> {
        let now = SystemTime::now();
        let Some(cache) = &self.inner.token_cache else {
            return Ok(self.verify_uncached(token, now).await?.0);
        };
        let key = sha256(token.as_bytes());
        let hit = self.cache_hit(cache, &key, now);
        crate::metrics::cache_lookup("jwt_tokens", hit.is_some());
        if let Some(hit) = hit {
            return hit;
        }
        let (verified, entry) = self.verify_uncached(token, now).await?;
        if let Some(entry) = entry.filter(|_| token.len() <= MAX_CACHED_TOKEN_LEN) {
            cache.insert(key, entry);
            crate::metrics::cache_entries("jwt_tokens", cache.entry_count());
        }
        Ok(verified)
    }

    /// A hit in the verified-token cache (when it is on), checked against the
    /// clock; a hit is counted here, a miss by the `verify` that follows it.
    fn verify_now(&self, token: &str) -> Option<Result<AccessToken, VerifyError>> {
        let cache = self.inner.token_cache.as_ref()?;
        let hit = self.cache_hit(cache, &sha256(token.as_bytes()), SystemTime::now())?;
        crate::metrics::cache_lookup("jwt_tokens", true);
        Some(hit)
    }

    fn verifies_as(&self, _: &str) -> TokenSource {
        TokenSource::Jwt
    }

    /// Ready while every issuer's key set is loaded and usable (fresh, or
    /// stale by less than `max_stale`).
    fn readiness(&self) -> Result<(), NotReady> {
        match self.inner.issuers.iter().find(|i| !i.keys.has_usable_keys()) {
            None => Ok(()),
            Some(issuer) => Err(NotReady::new(format!(
                "no usable keys of {}",
                issuer.rules.issuer
            ))),
        }
    }

    /// [`prefetch`](Self::prefetch).
    async fn warm_up(&self) -> Result<(), Unavailable> {
        self.prefetch().await
    }
}

struct UntilExpiry;

impl Expiry<[u8; 32], Cached> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Cached,
        now: std::time::Instant,
    ) -> Option<Duration> {
        let left = value
            .expires_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let vouched = value.vouched_until.saturating_duration_since(now);
        Some(left.min(vouched).min(MAX_VERIFIED_TOKEN_TTL))
    }
}

/// One accepted issuer: its exact `iss`, the audiences its tokens must carry for
/// this resource, where its keys are, its token profile and clock leeway.
///
/// ```
/// use tower_bearer::jwt::{Issuer, JwtVerifier, Profile};
///
/// let verifier = JwtVerifier::builder()
///     .audience("https://api.example.com/mcp")
///     .add_issuer(Issuer::new("https://login.example.com").discover())
///     .add_issuer(
///         Issuer::new("https://legacy.example.com")
///             .jwks_uri("https://legacy.example.com/keys")
///             .profile(Profile::relaxed()),
///     )
///     .build()
///     .unwrap();
/// # let _ = verifier;
/// ```
#[derive(Debug, Clone)]
pub struct Issuer {
    issuer: String,
    audiences: Vec<String>,
    accepted: Vec<String>,
    allowed_clients: Vec<String>,
    source: Option<Source>,
    profile: Option<Profile>,
    leeway: Option<Duration>,
}

#[derive(Debug, Clone)]
enum Source {
    JwksUri(String),
    Discover,
}

impl Issuer {
    /// An issuer, compared exactly with the token's `iss`.
    ///
    /// See [`Issuer`] for an example.
    pub fn new(issuer: impl Into<String>) -> Self {
        Issuer {
            issuer: issuer.into(),
            audiences: Vec::new(),
            accepted: Vec::new(),
            allowed_clients: Vec::new(),
            source: None,
            profile: None,
            leeway: None,
        }
    }

    /// One more `aud` value that names this API when the issuer does not put
    /// the resource URL there (Entra's client ID or App ID URI, Okta's
    /// `api://default`, a Keycloak client id, an Auth0 API identifier). Compared
    /// exactly (URLs canonically), against a string or any element of an array;
    /// may be called several times. The RFC 9728 `resource` stays the resource
    /// URL.
    ///
    /// ```
    /// use tower_bearer::jwt::{Issuer, Profile};
    /// let _ = Issuer::new("https://dev-123.okta.com/oauth2/default")
    ///     .discover()
    ///     .profile(Profile::okta())
    ///     .accept_audience("api://default");
    /// ```
    #[must_use]
    pub fn accept_audience(mut self, audience: impl Into<String>) -> Self {
        self.accepted.push(audience.into());
        self
    }

    /// For issuers whose access tokens carry no `aud` (Amazon Cognito): such a
    /// token is accepted only when its client id is one of these. Never a way
    /// to skip the audience: a token that has an `aud` must still name this
    /// resource or an [accepted audience](Self::accept_audience).
    ///
    /// ```
    /// use tower_bearer::jwt::{Issuer, Profile};
    /// let _ = Issuer::new("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf")
    ///     .discover()
    ///     .profile(Profile::cognito())
    ///     .allowed_client_ids(["3n4b5urk1ft4fl3mg5e62d9ado"]);
    /// ```
    #[must_use]
    pub fn allowed_client_ids<I, S>(mut self, client_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_clients
            .extend(client_ids.into_iter().map(Into::into));
        self
    }

    /// An accepted audience (this resource's identifier, RFC 8707); may be
    /// called several times. Without one, the builder's audiences apply.
    ///
    /// ```
    /// let _ = tower_bearer::jwt::Issuer::new("https://as.example").audience("https://rs.example");
    /// ```
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Keys from this JWK Set URL (https, or http to loopback).
    ///
    /// See [`Issuer`] for an example.
    #[must_use]
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.source = Some(Source::JwksUri(url.into()));
        self
    }

    /// Keys from the `jwks_uri` of the issuer's metadata (RFC 8414, then OIDC
    /// discovery), fetched on first use.
    ///
    /// See [`Issuer`] for an example.
    #[must_use]
    pub fn discover(mut self) -> Self {
        self.source = Some(Source::Discover);
        self
    }

    /// The access-token profile of this issuer (default: the builder's).
    ///
    /// See [`Issuer`] for an example.
    #[must_use]
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// A preset's issuer: keys by discovery.
    fn discovered(issuer: impl Into<String>, profile: Profile) -> Self {
        Issuer::new(issuer).discover().profile(profile)
    }

    /// Microsoft Entra ID v2.0 tokens of one tenant: issuer
    /// `https://login.microsoftonline.com/{tenant}/v2.0`, keys by OIDC
    /// discovery, [`Profile::entra`]. Accept the API's client ID (or App ID URI)
    /// with [`accept_audience`](Self::accept_audience). To take v1.0 tokens of
    /// the same tenant too, add [`Issuer::entra_v1`] as a second issuer.
    ///
    /// ```
    /// use tower_bearer::jwt::{Issuer, JwtVerifier};
    /// let verifier = JwtVerifier::builder()
    ///     .audience("https://api.example.com/mcp")
    ///     .add_issuer(Issuer::entra("9188040d-6c67-4c5b-b112-36a304b66dad").accept_audience("api://my-api"))
    ///     .add_issuer(Issuer::entra_v1("9188040d-6c67-4c5b-b112-36a304b66dad").accept_audience("api://my-api"))
    ///     .build();
    /// assert!(verifier.is_ok());
    /// ```
    pub fn entra(tenant: &str) -> Self {
        Issuer::discovered(
            format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            Profile::entra(),
        )
    }

    /// Microsoft Entra ID v1.0 tokens of one tenant: issuer
    /// `https://sts.windows.net/{tenant}/`, keys from the tenant's
    /// `https://login.microsoftonline.com/{tenant}/discovery/keys`,
    /// [`Profile::entra_v1`].
    ///
    /// See [`Issuer::entra`] for an example.
    pub fn entra_v1(tenant: &str) -> Self {
        Issuer::new(format!("https://sts.windows.net/{tenant}/"))
            .jwks_uri(format!(
                "https://login.microsoftonline.com/{tenant}/discovery/keys"
            ))
            .profile(Profile::entra_v1())
    }

    /// An Auth0 tenant (`domain` such as `example.eu.auth0.com` or a custom
    /// domain): issuer `https://{domain}/` (with its trailing slash), keys by
    /// discovery, [`Profile::auth0`]. Accept the API identifier with
    /// [`accept_audience`](Self::accept_audience) unless it is the resource URL.
    ///
    /// ```
    /// let _ = tower_bearer::jwt::Issuer::auth0("example.eu.auth0.com").accept_audience("https://api.example.com");
    /// ```
    pub fn auth0(domain: &str) -> Self {
        Issuer::discovered(format!("https://{domain}/"), Profile::auth0())
    }

    /// An Okta custom authorization server: issuer
    /// `https://{org}/oauth2/{server_id}`, keys by discovery, [`Profile::okta`].
    ///
    /// ```
    /// let _ = tower_bearer::jwt::Issuer::okta("dev-123.okta.com", "default").accept_audience("api://default");
    /// ```
    pub fn okta(org: &str, server_id: &str) -> Self {
        Issuer::discovered(format!("https://{org}/oauth2/{server_id}"), Profile::okta())
    }

    /// An Amazon Cognito user pool: issuer
    /// `https://cognito-idp.{region}.amazonaws.com/{pool_id}`, keys by
    /// discovery, [`Profile::cognito`]. Its access tokens have no `aud`: list
    /// the app clients with [`allowed_client_ids`](Self::allowed_client_ids).
    ///
    /// ```
    /// let _ = tower_bearer::jwt::Issuer::cognito("eu-west-1", "eu-west-1_AbCdEf").allowed_client_ids(["app-client"]);
    /// ```
    pub fn cognito(region: &str, pool_id: &str) -> Self {
        Issuer::discovered(
            format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
            Profile::cognito(),
        )
    }

    /// A Keycloak realm (`base_url` such as `https://sso.example.com`, without
    /// a trailing slash): issuer `{base_url}/realms/{realm}`, keys by
    /// discovery, [`Profile::keycloak`]. Without an Audience mapper Keycloak
    /// puts `account` in `aud`; add one for this API, or accept the client id
    /// the mapper sets with [`accept_audience`](Self::accept_audience).
    ///
    /// ```
    /// let _ = tower_bearer::jwt::Issuer::keycloak("https://sso.example.com", "acme").accept_audience("mcp-server");
    /// ```
    pub fn keycloak(base_url: &str, realm: &str) -> Self {
        Issuer::discovered(format!("{base_url}/realms/{realm}"), Profile::keycloak())
    }

    /// A WorkOS AuthKit domain (`example.authkit.app`): issuer
    /// `https://{domain}`, keys by discovery, [`Profile::workos`].
    ///
    /// ```
    /// let _ = tower_bearer::jwt::Issuer::workos("example.authkit.app");
    /// ```
    pub fn workos(domain: &str) -> Self {
        Issuer::discovered(format!("https://{domain}"), Profile::workos())
    }

    /// An Ory Hydra issuer (its configured URL, exactly), keys by discovery,
    /// [`Profile::hydra`].
    ///
    /// ```
    /// let _ = tower_bearer::jwt::Issuer::hydra("https://auth.example.com/");
    /// ```
    pub fn hydra(issuer: &str) -> Self {
        Issuer::discovered(issuer, Profile::hydra())
    }

    /// Clock leeway for this issuer (default: the builder's).
    ///
    /// ```
    /// use std::time::Duration;
    /// let _ = tower_bearer::jwt::Issuer::new("https://as.example").leeway(Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }
}

/// Why a [`JwtVerifierBuilder`] could not build.
///
/// ```
/// use tower_bearer::jwt::{BuildError, JwtVerifier};
/// let err = JwtVerifier::builder().audience("https://rs.example").build().unwrap_err();
/// assert_eq!(err, BuildError::NoIssuer);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No issuer was configured.
    #[error("no issuer configured")]
    NoIssuer,
    /// An issuer has no audience (and the builder has none to lend it), nor
    /// clients allowed without one.
    #[error("issuer {0} has no audience: set the resource this server is")]
    NoAudience(String),
    /// An issuer has neither a `jwks_uri` nor discovery.
    #[error("issuer {0} has no key source: call jwks_uri(..) or discover()")]
    NoKeySource(String),
    /// The same issuer was configured twice.
    #[error("issuer {0} configured twice")]
    DuplicateIssuer(String),
    /// A URL is not https (or http to loopback), or does not parse.
    #[error("issuer {issuer}: {reason}")]
    Url {
        /// The issuer concerned.
        issuer: String,
        /// What is wrong with its URL.
        reason: String,
    },
    /// The HTTP client for key sets and discovery could not be built (its TLS
    /// backend did not initialise).
    #[error("http_client: {0}")]
    HttpClient(String),
    /// [`JwtVerifierBuilder::jwks_ttl`]'s lower bound exceeds its upper bound.
    #[error("jwks_ttl: min {min:?} exceeds max {max:?}")]
    JwksTtlBounds {
        /// The lower bound given.
        min: Duration,
        /// The upper bound given.
        max: Duration,
    },
}

/// Builds a [`JwtVerifier`]; see [`JwtVerifier::builder`].
///
/// The single-issuer shorthands (`issuer`, `jwks_uri`, `discover`) configure one
/// issuer; [`JwtVerifierBuilder::add_issuer`] adds more. `audience`, `profile` and
/// `leeway` are defaults for every issuer that does not set its own.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct JwtVerifierBuilder {
    primary: Option<Issuer>,
    issuers: Vec<Issuer>,
    audiences: Vec<String>,
    accepted: Vec<String>,
    allowed_clients: Vec<String>,
    profile: Profile,
    leeway: Option<Duration>,
    policy: KeyPolicy,
    settings: CacheSettings,
    fetch_timeout: Option<Duration>,
    token_cache: Option<u64>,
}

impl JwtVerifierBuilder {
    fn primary(&mut self) -> &mut Issuer {
        self.primary.get_or_insert_with(|| Issuer::new(""))
    }

    /// The issuer (exact `iss`) for a single-issuer verifier.
    ///
    /// See [`JwtVerifier`] for an example.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.primary().issuer = issuer.into();
        self
    }

    /// The single issuer's JWK Set URL.
    ///
    /// See [`JwtVerifier`] for an example.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.primary().source = Some(Source::JwksUri(url.into()));
        self
    }

    /// Discover the single issuer's `jwks_uri` (RFC 8414, then OIDC).
    ///
    /// ```
    /// let v = tower_bearer::jwt::JwtVerifier::builder()
    ///     .issuer("https://auth.example.com")
    ///     .audience("https://api.example.com")
    ///     .discover()
    ///     .build();
    /// assert!(v.is_ok());
    /// ```
    pub fn discover(mut self) -> Self {
        self.primary().source = Some(Source::Discover);
        self
    }

    /// Adds an issuer (multi-issuer). The token's unverified `iss` only chooses
    /// whose keys to try; it is then checked like every claim.
    ///
    /// See [`Issuer`] for an example.
    pub fn add_issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// An accepted audience: this resource's identifier. Tokens must list it in
    /// `aud`. May be called several times.
    ///
    /// See [`JwtVerifier`] for an example.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts tokens for `resource`: its identifier as the
    /// [audience](Self::audience).
    ///
    /// ```
    /// use tower_bearer::{Resource, jwt::JwtVerifier};
    /// let resource = Resource::builder("https://api.example/mcp").build().unwrap();
    /// let builder = JwtVerifier::builder().issuer("https://as.example").resource(&resource);
    /// # let _ = builder;
    /// ```
    pub fn resource(self, resource: &crate::Resource) -> Self {
        self.audience(resource.identifier())
    }

    /// One more accepted `aud` value for every issuer (see
    /// [`Issuer::accept_audience`]).
    ///
    /// ```
    /// use tower_bearer::jwt::{JwtVerifier, Profile};
    /// let v = JwtVerifier::builder()
    ///     .issuer("https://dev-123.okta.com/oauth2/default")
    ///     .discover()
    ///     .profile(Profile::okta())
    ///     .audience("https://api.example.com/mcp")
    ///     .accept_audience("api://default")
    ///     .build();
    /// assert!(v.is_ok());
    /// ```
    pub fn accept_audience(mut self, audience: impl Into<String>) -> Self {
        self.accepted.push(audience.into());
        self
    }

    /// Clients whose tokens may come without `aud`, for every issuer (see
    /// [`Issuer::allowed_client_ids`]).
    ///
    /// ```
    /// use tower_bearer::jwt::{JwtVerifier, Profile};
    /// let _ = JwtVerifier::builder().profile(Profile::cognito()).allowed_client_ids(["app-client"]);
    /// ```
    pub fn allowed_client_ids<I, S>(mut self, client_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_clients
            .extend(client_ids.into_iter().map(Into::into));
        self
    }

    /// Default token profile ([`Profile::rfc9068`] unless changed); a
    /// provider's preset is [`Provider::profile`](super::Provider::profile).
    ///
    /// ```
    /// use tower_bearer::jwt::{JwtVerifier, Profile};
    /// let _ = JwtVerifier::builder().profile(Profile::keycloak());
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Default clock leeway for `exp`, `nbf` and `iat` (60 s unless changed).
    ///
    /// ```
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().leeway(std::time::Duration::from_secs(30));
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// Which algorithms keys may verify (default {RS256, PS256, ES256, EdDSA}).
    ///
    /// ```
    /// use tower_bearer::jwt::{Algorithm, JwtVerifier, KeyPolicy};
    /// let _ = JwtVerifier::builder().key_policy(KeyPolicy::default().allow(Algorithm::ES384));
    /// ```
    pub fn key_policy(mut self, policy: KeyPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// After an unknown-`kid` refetch, how long further unknown kids fail fast
    /// without a fetch (default 30 s).
    ///
    /// ```
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().refetch_cooldown(std::time::Duration::from_secs(60));
    /// ```
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.refetch_cooldown = cooldown;
        self
    }

    /// How long past its freshness a key set is still used while fetches fail
    /// (default 1 h); after that the verifier answers 503.
    ///
    /// ```
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().max_stale(std::time::Duration::from_secs(600));
    /// ```
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.settings.max_stale = max_stale;
        self
    }

    /// Timeout for connecting and for a whole key-set or discovery fetch
    /// (default 5 s).
    ///
    /// ```
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().fetch_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = Some(timeout);
        self
    }

    /// Freshness of a key set whose response has no `Cache-Control: max-age`
    /// (default 10 min), and the bounds a `max-age` is clamped to (default
    /// [1 min, 24 h]). A `min` above `max` is refused by
    /// [`build`](Self::build) ([`BuildError::JwksTtlBounds`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().jwks_ttl(
    ///     Duration::from_secs(300),
    ///     Duration::from_secs(60),
    ///     Duration::from_secs(3600),
    /// );
    /// ```
    pub fn jwks_ttl(mut self, default: Duration, min: Duration, max: Duration) -> Self {
        self.settings.default_ttl = default;
        self.settings.min_ttl = min;
        self.settings.max_ttl = max;
        self
    }

    /// After a failed fetch, how long cold requests fail fast and background
    /// refreshes wait before trying again (default 1 s).
    ///
    /// ```
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().failure_backoff(std::time::Duration::from_secs(5));
    /// ```
    pub fn failure_backoff(mut self, backoff: Duration) -> Self {
        self.settings.failure_backoff = backoff;
        self
    }

    /// Entries of the verified-token cache (default
    /// 4096 entries; 0 turns it off, as
    /// [`no_verified_token_cache`](Self::no_verified_token_cache) does).
    ///
    /// The cache is keyed by SHA-256 of the token (never the token). A hit
    /// skips the signature check and checks `exp`/`nbf` against the clock
    /// again. An entry lives until the token expires, at most
    /// 5 minutes, and is honoured only while the issuer's
    /// current key set still holds the key that verified it and is not due
    /// for a refresh: when a refresh drops a key, every token it verified is
    /// verified again at its next use (and refused). Tokens longer than
    /// 4 KiB are not cached, so memory stays bounded.
    ///
    /// ```
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().verified_token_cache(10_000);
    /// ```
    pub fn verified_token_cache(mut self, capacity: u64) -> Self {
        self.token_cache = Some(capacity);
        self
    }

    /// Verifies every token in full, every time.
    ///
    /// ```
    /// let _ = tower_bearer::jwt::JwtVerifier::builder().no_verified_token_cache();
    /// ```
    pub fn no_verified_token_cache(self) -> Self {
        self.verified_token_cache(0)
    }

    /// Checks the configuration and builds the verifier. No I/O happens here.
    ///
    /// See [`JwtVerifier`] for an example.
    pub fn build(self) -> Result<JwtVerifier, BuildError> {
        let (min, max) = (self.settings.min_ttl, self.settings.max_ttl);
        if min > max {
            return Err(BuildError::JwksTtlBounds { min, max });
        }
        let client = fetch::client(self.fetch_timeout.unwrap_or(fetch::DEFAULT_TIMEOUT))
            .map_err(|e| BuildError::HttpClient(e.to_string()))?;
        let leeway = self.leeway.unwrap_or(crate::time::DEFAULT_LEEWAY);
        let all: Vec<Issuer> = self.primary.into_iter().chain(self.issuers).collect();
        if all.is_empty() {
            return Err(BuildError::NoIssuer);
        }
        let mut issuers: Vec<IssuerState> = Vec::with_capacity(all.len());
        for issuer in all {
            let name = issuer.issuer;
            if name.is_empty() {
                return Err(BuildError::NoIssuer);
            }
            if issuers.iter().any(|i| *i.rules.issuer == *name) {
                return Err(BuildError::DuplicateIssuer(name));
            }
            let mut audiences = if issuer.audiences.is_empty() {
                self.audiences.clone()
            } else {
                issuer.audiences
            };
            audiences.extend(issuer.accepted.into_iter().chain(self.accepted.iter().cloned()));
            let allowed_clients: Vec<String> = issuer
                .allowed_clients
                .into_iter()
                .chain(self.allowed_clients.iter().cloned())
                .collect();
            if audiences.is_empty() && allowed_clients.is_empty() {
                return Err(BuildError::NoAudience(name));
            }
            let url_error = |e: fetch::FetchError| BuildError::Url {
                issuer: name.clone(),
                reason: e.to_string(),
            };
            let jwks_uri = match &issuer.source {
                Some(Source::JwksUri(url)) => Some(url.as_str()),
                Some(Source::Discover) => None,
                None => return Err(BuildError::NoKeySource(name)),
            };
            let source = KeySource::new(&name, jwks_uri).map_err(url_error)?;
            let keys = KeyCache::new(source, client.clone(), self.policy.clone(), self.settings.clone());
            issuers.push(IssuerState {
                rules: ClaimRules {
                    issuer: name.into(),
                    audiences,
                    allowed_clients,
                    profile: issuer.profile.unwrap_or_else(|| self.profile.clone()),
                    leeway: issuer.leeway.unwrap_or(leeway),
                },
                keys: Arc::new(keys),
            });
        }
        let capacity = self.token_cache.unwrap_or(DEFAULT_VERIFIED_TOKEN_CACHE);
        let token_cache = (capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build()
        });
        Ok(JwtVerifier {
            inner: Arc::new(Inner {
                issuers,
                policy: self.policy,
                token_cache,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_client_failure_names_the_http_client() {
        let error = BuildError::HttpClient(fetch::FetchError::Client("no TLS".into()).to_string());
        assert_eq!(
            error.to_string(),
            "http_client: HTTP client could not be built: no TLS"
        );
    }

    #[test]
    fn build_errors() {
        let b = || JwtVerifier::builder().audience("https://rs.example");
        assert_eq!(b().build().unwrap_err(), BuildError::NoIssuer);
        assert_eq!(
            b().issuer("https://as.example").build().unwrap_err(),
            BuildError::NoKeySource("https://as.example".into())
        );
        assert!(matches!(
            b().issuer("https://as.example")
                .jwks_uri("http://as.example/jwks")
                .build(),
            Err(BuildError::Url { .. })
        ));
        assert!(matches!(
            b().issuer("http://as.example").discover().build(),
            Err(BuildError::Url { .. })
        ));
        assert_eq!(
            JwtVerifier::builder()
                .issuer("https://as.example")
                .discover()
                .build()
                .unwrap_err(),
            BuildError::NoAudience("https://as.example".into())
        );
        assert_eq!(
            b().add_issuer(Issuer::new("https://a").discover())
                .add_issuer(Issuer::new("https://a").discover())
                .build()
                .unwrap_err(),
            BuildError::DuplicateIssuer("https://a".into())
        );
        assert!(b().issuer("https://as.example").discover().build().is_ok());
    }
}

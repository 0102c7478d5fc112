//! Sender-constrained tokens: DPoP (RFC 9449) at the resource server.
//!
//! A token whose JWT or introspection answer carries `cnf.jkt` is *DPoP-bound*:
//! it is accepted only as `Authorization: DPoP <token>` together with exactly
//! one `DPoP` header, a proof signed by the key whose RFC 7638 thumbprint is
//! `cnf.jkt`. A stolen bound token is useless without that private key. The
//! [`TokenVerifierLayer`](crate::TokenVerifierLayer) checks DPoP by default
//! ([`Dpop::allowed`]); configure it with
//! [`TokenVerifierLayer::dpop`](crate::TokenVerifierLayer::dpop).
//!
//! The proof checks (RFC 9449 §4.3), cheapest first, each refusal a 401 with
//! `error="invalid_dpop_proof"` in the `DPoP` challenge ([`ProofError`]):
//!
//! | check | default |
//! |---|---|
//! | one `DPoP` header, at most [`MAX_PROOF_LEN`] bytes, a compact JWS | |
//! | header `typ` = `dpop+jwt`, no `crit` | |
//! | `alg` on the allowlist (asymmetric only; never `none` or HMAC) | ES256, RS256, PS256, EdDSA |
//! | `jwk`: a public key under the JWKS key policy (no private members, RSA ≥ 2048 bits) | |
//! | signature by that key | |
//! | `htm` = the request method; `htu` = the request URL without query and fragment, scheme and host normalised | the [`Resource`](crate::Resource)'s origin, else the request's (`http` unless its URI says otherwise) |
//! | `iat` no older than the max age, no later than the leeway | 60 s, 5 s |
//! | `ath` = base64url(SHA-256(token)) | |
//! | `nonce` from this server, when server nonces are on ([`Dpop::server_nonces`]) | off |
//! | the token's `cnf.jkt` = the proof key's thumbprint | |
//! | `jti` not seen before within the window ([`ReplayCache`]) | in memory, 262,144 proofs |
//!
//! Token problems stay `invalid_token`: a bound token sent as `Bearer`, an
//! unbound one sent as `DPoP`, a bearer token when DPoP is [required](DpopMode::Required).
//! A replay cache that cannot answer (full, or a shared store that is down)
//! gives 503, never an unchecked proof.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower::ServiceExt;
//! use tower_bearer::{TokenVerifierLayer, dpop::Dpop};
//! use tower_bearer_issuer::{DevIssuer, DpopKey};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let issuer = DevIssuer::start().await.unwrap();
//! let resource = "http://127.0.0.1:3000/mcp";
//! let app = Router::new()
//!     .route("/mcp", get(|| async { "hello" }))
//!     .layer(TokenVerifierLayer::new(issuer.jwt_verifier(resource)).dpop(Dpop::required()));
//!
//! let key = DpopKey::generate();
//! let token = issuer.dpop_token("alice", "my-app", "mcp", resource, &key);
//! let request = http::Request::get(resource)
//!     .header("authorization", format!("DPoP {token}"))
//!     .header("dpop", key.proof("GET", resource, Some(&token)))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
//! # });
//! ```

mod htu;
mod nonce;
pub(crate) mod proof;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method, Uri};

use crate::extract::{SingleHeader, single_header};
use crate::jwt::{Algorithm, KeyPolicy};
use crate::replay::{DynReplayCache, MemoryReplayCache, ReplayCache};
use crate::{AccessToken, AuthError, InvalidToken};

pub use htu::{PublicUrl, PublicUrlError};
pub(crate) use nonce::Nonces;
pub use nonce::{NonceKey, NonceKeyError};
pub use proof::MAX_PROOF_LEN;

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP: http::HeaderName = http::HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8, §9).
pub const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

/// The default largest age of a proof's `iat`.
pub(crate) const DEFAULT_PROOF_MAX_AGE: Duration = Duration::from_secs(60);
/// The default tolerance for a proof's `iat` in the future (client clocks run fast).
pub(crate) const DEFAULT_PROOF_LEEWAY: Duration = Duration::from_secs(5);
/// The default lifetime of a server nonce: each is accepted for one to two of these.
pub(crate) const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(60);

/// Whether DPoP is accepted, and whether bearer tokens still are.
///
/// ```
/// use tower_bearer::dpop::{Dpop, DpopMode};
/// assert_eq!(Dpop::default().mode(), DpopMode::Allowed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopMode {
    /// The default: bound tokens need a proof; unbound bearer tokens still work.
    Allowed,
    /// Every token must be DPoP-bound and come with a proof; `Bearer` is refused.
    Required,
    /// DPoP is not accepted: the `DPoP` scheme is not read, and bound tokens
    /// are refused (they cannot be checked).
    Off,
}

/// The DPoP configuration of a [`TokenVerifierLayer`](crate::TokenVerifierLayer).
///
/// Cheap to clone (the replay cache and nonce key are shared). The keys of the
/// last 10,000 proof headers that carried a valid signature are kept parsed, so
/// a client's key is parsed and thumbprinted once, not on every request.
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::dpop::{Dpop, PublicUrl};
/// use tower_bearer::jwt::{Algorithm, KeyPolicy};
///
/// let dpop = Dpop::required()
///     .algorithms(KeyPolicy::only(Algorithm::ES256).allow(Algorithm::EdDSA))
///     .proof_max_age(Duration::from_secs(30))
///     .public_url(PublicUrl::parse("https://api.example.com")?)
///     .server_nonces()?;
/// assert_eq!(dpop.algorithm_names(), "ES256 EdDSA");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Dpop {
    mode: DpopMode,
    policy: KeyPolicy,
    max_age: Duration,
    leeway: Duration,
    public_url: Option<PublicUrl>,
    nonces: Option<Arc<Nonces>>,
    replay: Arc<DynReplayCache<'static>>,
    /// Proof headers already seen, by SHA-256 of their base64url text.
    keys: moka::sync::Cache<[u8; 32], Arc<proof::ProofKey>>,
}

/// Proof keys kept parsed (see [`Dpop`]): a client's key is parsed once.
const PROOF_KEY_CACHE: u64 = 10_000;

fn proof_key_cache() -> moka::sync::Cache<[u8; 32], Arc<proof::ProofKey>> {
    moka::sync::Cache::builder().max_capacity(PROOF_KEY_CACHE).build()
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("mode", &self.mode)
            .field("algorithms", &self.policy)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("public_url", &self.public_url)
            .field("server_nonces", &self.nonces.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Dpop {
    fn default() -> Self {
        Self::allowed()
    }
}

impl Dpop {
    /// DPoP accepted beside bearer tokens (the layer's default).
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::Dpop::allowed().mode(), tower_bearer::dpop::DpopMode::Allowed);
    /// ```
    pub fn allowed() -> Self {
        Dpop {
            mode: DpopMode::Allowed,
            policy: KeyPolicy::default(),
            max_age: DEFAULT_PROOF_MAX_AGE,
            leeway: DEFAULT_PROOF_LEEWAY,
            public_url: None,
            nonces: None,
            replay: DynReplayCache::new_arc(MemoryReplayCache::new()),
            keys: proof_key_cache(),
        }
    }

    /// Only DPoP-bound tokens with proofs.
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::Dpop::required().mode(), tower_bearer::dpop::DpopMode::Required);
    /// ```
    pub fn required() -> Self {
        Self::allowed().with_mode(DpopMode::Required)
    }

    /// No DPoP: bearer tokens only, bound tokens refused.
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::Dpop::off().mode(), tower_bearer::dpop::DpopMode::Off);
    /// ```
    pub fn off() -> Self {
        Self::allowed().with_mode(DpopMode::Off)
    }

    /// Sets the mode.
    ///
    /// ```
    /// use tower_bearer::dpop::{Dpop, DpopMode};
    /// assert_eq!(Dpop::allowed().with_mode(DpopMode::Off).mode(), DpopMode::Off);
    /// ```
    #[must_use]
    pub fn with_mode(mut self, mode: DpopMode) -> Self {
        self.mode = mode;
        self
    }

    /// The mode.
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::Dpop::off().mode(), tower_bearer::dpop::DpopMode::Off);
    /// ```
    pub fn mode(&self) -> DpopMode {
        self.mode
    }

    /// The proof algorithms accepted (default ES256, RS256, PS256, EdDSA; only
    /// asymmetric algorithms can be named).
    ///
    /// ```
    /// use tower_bearer::dpop::Dpop;
    /// use tower_bearer::jwt::{Algorithm, KeyPolicy};
    /// let dpop = Dpop::allowed().algorithms(KeyPolicy::only(Algorithm::ES256));
    /// assert_eq!(dpop.algorithm_names(), "ES256");
    /// ```
    #[must_use]
    pub fn algorithms(mut self, policy: KeyPolicy) -> Self {
        self.policy = policy;
        // Headers were judged under the old policy.
        self.keys = proof_key_cache();
        self
    }

    /// The accepted algorithms, space-separated, as in the `algs` challenge
    /// parameter.
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::Dpop::allowed().algorithm_names(), "RS256 PS256 ES256 EdDSA");
    /// ```
    pub fn algorithm_names(&self) -> String {
        self.algorithm_list().collect::<Vec<_>>().join(" ")
    }

    /// The accepted algorithm names, as RFC 9728's
    /// `dpop_signing_alg_values_supported` lists them.
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::Dpop::allowed().algorithm_list().count(), 4);
    /// ```
    pub fn algorithm_list(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.policy.algorithms().map(Algorithm::name)
    }

    /// How old a proof's `iat` may be (default 60 s; the
    /// replay cache remembers each proof that long).
    ///
    /// ```
    /// use std::time::Duration;
    /// let dpop = tower_bearer::dpop::Dpop::allowed().proof_max_age(Duration::from_secs(30));
    /// # let _ = dpop;
    /// ```
    #[must_use]
    pub fn proof_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future a proof's `iat` may be (default 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let dpop = tower_bearer::dpop::Dpop::allowed().proof_leeway(Duration::from_secs(2));
    /// # let _ = dpop;
    /// ```
    #[must_use]
    pub fn proof_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The URL clients use to reach this server (scheme, host, port and an
    /// optional path prefix): a proof's `htu` must be this URL followed by the
    /// request path. A [`Resource`](crate::Resource) sets its own origin here
    /// (unless this was set), so this is needed only behind a proxy that
    /// rewrites the path. Without either, the target is the request's own
    /// (RFC 9110 §7.1): its scheme when the URI carries one (HTTP/2,
    /// absolute-form), else `http`, and its authority (URI or `Host`).
    /// The path is the one the layer sees: apply the layer outside routers that
    /// strip a prefix (axum's `nest`), or proofs for the full path will not match.
    ///
    /// ```
    /// use tower_bearer::dpop::{Dpop, PublicUrl};
    /// let dpop = Dpop::allowed().public_url(PublicUrl::parse("https://api.example.com/base")?);
    /// # let _ = dpop;
    /// # Ok::<(), tower_bearer::dpop::PublicUrlError>(())
    /// ```
    #[must_use]
    pub fn public_url(mut self, url: PublicUrl) -> Self {
        self.public_url = Some(url);
        self
    }

    #[cfg(test)]
    pub(crate) fn public_url_str(&self) -> Option<&str> {
        self.public_url.as_ref().map(PublicUrl::as_str)
    }

    /// `url` as the public URL unless one was set.
    pub(crate) fn with_default_public_url(mut self, url: &PublicUrl) -> Self {
        if self.public_url.is_none() {
            self.public_url = Some(url.clone());
        }
        self
    }

    /// Turns server nonces on (RFC 9449 §9) with a random key: proofs must carry
    /// a `nonce` this server issued within the last one or two
    /// [nonce lifetimes](Self::nonce_lifetime); without one the answer is 401
    /// `use_dpop_nonce` with a fresh `DPoP-Nonce`. Nonces are stateless
    /// (time-sliced HMAC); replicas share them with
    /// [`server_nonce_key`](Self::server_nonce_key).
    ///
    /// # Errors
    /// [`NonceKeyError::Random`] when the system random number generator fails
    /// (as [`NonceKey::generate`]).
    ///
    /// ```
    /// let dpop = tower_bearer::dpop::Dpop::allowed().server_nonces()?;
    /// # let _ = dpop;
    /// # Ok::<(), tower_bearer::dpop::NonceKeyError>(())
    /// ```
    pub fn server_nonces(self) -> Result<Self, NonceKeyError> {
        Ok(self.server_nonce_key(NonceKey::generate()?))
    }

    /// Server nonces with a key shared by every replica (see [`NonceKey`]).
    ///
    /// ```
    /// use tower_bearer::dpop::{Dpop, NonceKey};
    /// let dpop = Dpop::allowed().server_nonce_key(NonceKey::new([7; 32])?);
    /// # let _ = dpop;
    /// # Ok::<(), tower_bearer::dpop::NonceKeyError>(())
    /// ```
    #[must_use]
    pub fn server_nonce_key(mut self, key: NonceKey) -> Self {
        let lifetime = self
            .nonces
            .as_ref()
            .map_or(DEFAULT_NONCE_LIFETIME, |n| n.lifetime());
        self.nonces = Some(Arc::new(Nonces::new(key, lifetime)));
        self
    }

    /// How long each nonce slice lasts (default 60 s; at
    /// least one second). Has an effect once nonces are on.
    ///
    /// ```
    /// use std::time::Duration;
    /// let dpop = tower_bearer::dpop::Dpop::allowed().server_nonces()?.nonce_lifetime(Duration::from_secs(30));
    /// # let _ = dpop;
    /// # Ok::<(), tower_bearer::dpop::NonceKeyError>(())
    /// ```
    #[must_use]
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> Self {
        if let Some(nonces) = &self.nonces {
            self.nonces = Some(Arc::new(nonces.with_lifetime(lifetime)));
        }
        self
    }

    /// Where proof `jti`s are remembered (default: a [`MemoryReplayCache`];
    /// replicas share one store).
    ///
    /// ```
    /// use tower_bearer::{dpop::Dpop, replay::MemoryReplayCache};
    /// let dpop = Dpop::allowed().replay_cache(MemoryReplayCache::new().max_capacity(1 << 20));
    /// # let _ = dpop;
    /// ```
    #[must_use]
    pub fn replay_cache(mut self, cache: impl ReplayCache + 'static) -> Self {
        self.replay = DynReplayCache::new_arc(cache);
        self
    }

    /// Whether server nonces are on.
    ///
    /// ```
    /// assert!(tower_bearer::dpop::Dpop::allowed().server_nonces()?.uses_nonces());
    /// # Ok::<(), tower_bearer::dpop::NonceKeyError>(())
    /// ```
    pub fn uses_nonces(&self) -> bool {
        self.nonces.is_some()
    }

    /// A fresh server nonce (`None` when nonces are off), e.g. for a
    /// `DPoP-Nonce` header on a response of your own.
    ///
    /// ```
    /// let dpop = tower_bearer::dpop::Dpop::allowed().server_nonces()?;
    /// assert!(dpop.fresh_nonce().is_some());
    /// # Ok::<(), tower_bearer::dpop::NonceKeyError>(())
    /// ```
    pub fn fresh_nonce(&self) -> Option<HeaderValue> {
        self.nonces.as_ref().map(|n| n.fresh(SystemTime::now()))
    }

    /// Checks the request's DPoP proof against `token`, the verified token
    /// (its binding) and `raw_token` (for `ath`), then records the proof's `jti`.
    /// For code that verifies tokens itself; the layer does exactly this.
    ///
    /// `dpop_scheme` tells whether the credential came as `Authorization: DPoP`.
    ///
    /// ```
    /// use tower_bearer::{dpop::Dpop, TokenVerifier};
    /// use tower_bearer_issuer::{DevIssuer, DpopKey};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = DevIssuer::start().await.unwrap();
    /// let key = DpopKey::generate();
    /// let url = "https://api.example.com/items";
    /// let raw = issuer.dpop_token("alice", "app", "read", url, &key);
    /// let token = issuer.jwt_verifier(url).verify(&raw).await.unwrap();
    /// let request = http::Request::get(url).header("dpop", key.proof("GET", url, Some(&raw))).body(()).unwrap();
    /// let dpop = Dpop::allowed();
    /// let (parts, _) = request.into_parts();
    /// assert!(dpop.check(&parts.method, &parts.uri, &parts.headers, true, &raw, &token).await.is_ok());
    /// // The same proof again is a replay.
    /// assert!(dpop.check(&parts.method, &parts.uri, &parts.headers, true, &raw, &token).await.is_err());
    /// # });
    /// ```
    pub async fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        dpop_scheme: bool,
        raw_token: &str,
        token: &AccessToken,
    ) -> Result<(), AuthError> {
        let proof = self.check_proof(method, uri, headers, dpop_scheme, raw_token)?;
        self.admit(token, proof.as_ref()).await
    }

    /// The request's proof, checked on its own (everything but the token's
    /// binding and the replay cache); `None` for a bearer credential.
    pub(crate) fn check_proof(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        dpop_scheme: bool,
        raw_token: &str,
    ) -> Result<Option<CheckedProof>, AuthError> {
        if !dpop_scheme {
            if self.mode == DpopMode::Required {
                return Err(AuthError::InvalidToken(InvalidToken::DpopRequired));
            }
            return Ok(None);
        }
        let value = match single_header(headers, DPOP) {
            SingleHeader::One(value) => value,
            SingleHeader::Absent => return Err(AuthError::DpopProof(ProofError::Missing)),
            SingleHeader::Repeated => return Err(AuthError::DpopProof(ProofError::Multiple)),
        };
        let now = SystemTime::now();
        let target = htu::Target::of(self.public_url.as_ref(), uri, headers);
        proof::check(self, value.as_bytes(), method, &target, Some(raw_token), now)
            .map(Some)
            .map_err(|e| match e {
                ProofError::NonceRequired | ProofError::Nonce => AuthError::UseDpopNonce(e),
                other => AuthError::DpopProof(other),
            })
    }

    /// The checks once the token is verified, in their one order: the token's
    /// binding to the credential, then the proof's `jti` (recorded now when
    /// the replay cache can answer without waiting).
    pub(crate) fn admit_now<'p>(
        &self,
        token: &AccessToken,
        proof: Option<&'p CheckedProof>,
    ) -> Admission<'p> {
        if let Err(error) = self.bind(token, proof) {
            return Admission::Done(Err(error));
        }
        match proof {
            None => Admission::Done(Ok(())),
            Some(proof) => match proof.first_use_now(self) {
                Some(done) => Admission::Done(done),
                None => Admission::Replay(proof),
            },
        }
    }

    /// [`admit_now`](Self::admit_now), waiting for the replay cache when it
    /// could not answer at once.
    pub(crate) async fn admit(
        &self,
        token: &AccessToken,
        proof: Option<&CheckedProof>,
    ) -> Result<(), AuthError> {
        match self.admit_now(token, proof) {
            Admission::Done(done) => done,
            Admission::Replay(proof) => proof.first_use(self).await,
        }
    }

    /// The token's binding against the credential it came with.
    fn bind(&self, token: &AccessToken, proof: Option<&CheckedProof>) -> Result<(), AuthError> {
        match (token.dpop_jkt(), proof) {
            (None, None) if self.mode == DpopMode::Required => {
                Err(AuthError::InvalidToken(InvalidToken::DpopRequired))
            }
            (None, None) => Ok(()),
            (Some(_), None) => Err(AuthError::InvalidToken(InvalidToken::DpopBound)),
            (None, Some(_)) => Err(AuthError::InvalidToken(InvalidToken::NotDpopBound)),
            (Some(jkt), Some(proof)) if proof.jkt == jkt => Ok(()),
            (Some(_), Some(_)) => Err(AuthError::DpopProof(ProofError::KeyMismatch)),
        }
    }

    pub(crate) fn nonces(&self) -> Option<&Arc<Nonces>> {
        self.nonces.as_ref()
    }

    pub(crate) fn policy(&self) -> &KeyPolicy {
        &self.policy
    }
}

/// What [`Dpop::admit_now`] decided.
pub(crate) enum Admission<'p> {
    /// Every check answered.
    Done(Result<(), AuthError>),
    /// The binding holds; the replay cache answers later: await
    /// [`CheckedProof::first_use`] for this proof.
    Replay(&'p CheckedProof),
}

/// A proof that passed every check of its own; its `jti` is not recorded yet.
#[derive(Debug, Clone)]
pub(crate) struct CheckedProof {
    jkt: String,
    replay: crate::replay::ReplayKey,
    /// The proof's `iat`.
    issued_at: SystemTime,
    until: SystemTime,
    /// A nonce to send back: the proof's was accepted but is about to age out.
    pub(crate) next_nonce: Option<HeaderValue>,
}

impl CheckedProof {
    /// Records the `jti` without waiting when the cache can; `None`: await
    /// [`first_use`](Self::first_use).
    fn first_use_now(&self, dpop: &Dpop) -> Option<Result<(), AuthError>> {
        dpop.replay
            .first_use_now(&self.replay, self.issued_at, self.until)
            .map(replay_verdict)
    }

    pub(crate) async fn first_use(&self, dpop: &Dpop) -> Result<(), AuthError> {
        replay_verdict(
            dpop.replay
                .first_use(&self.replay, self.issued_at, self.until)
                .await,
        )
    }
}

fn replay_verdict(answer: Result<bool, crate::Unavailable>) -> Result<(), AuthError> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => Err(AuthError::DpopProof(ProofError::Replay)),
        Err(unavailable) => {
            tracing::warn!(reason = %unavailable, "DPoP replay cache unavailable");
            Err(AuthError::Unavailable(unavailable))
        }
    }
}

/// Why a DPoP proof was refused: 401 with `error="invalid_dpop_proof"`, or
/// `error="use_dpop_nonce"` for the nonce cases. Each has a fixed
/// `error_description`; nothing from the proof is echoed.
///
/// ```
/// use tower_bearer::dpop::ProofError;
/// assert_eq!(ProofError::Replay.description(), "DPoP proof already used");
/// assert_eq!(ProofError::NonceRequired.error_code(), "use_dpop_nonce");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// `Authorization: DPoP` without a `DPoP` header.
    #[error("DPoP proof missing")]
    Missing,
    /// More than one `DPoP` header.
    #[error("more than one DPoP proof")]
    Multiple,
    /// Longer than [`MAX_PROOF_LEN`].
    #[error("DPoP proof too long")]
    TooLong,
    /// Not a compact JWS with JSON header and claims, or a claim of the wrong type.
    #[error("malformed DPoP proof")]
    Malformed,
    /// Header `typ` is not `dpop+jwt`.
    #[error("not a DPoP proof (typ)")]
    Type,
    /// `alg` not allowed, or not fitting the key.
    #[error("DPoP proof algorithm not allowed")]
    Algorithm,
    /// The `jwk` header is missing, private, weak or unsupported.
    #[error("DPoP proof key not accepted")]
    Key,
    /// The signature does not verify with the `jwk`.
    #[error("DPoP proof signature invalid")]
    Signature,
    /// `htm` is not the request method.
    #[error("DPoP proof htm does not match the request")]
    Method,
    /// `htu` is not the request URL.
    #[error("DPoP proof htu does not match the request")]
    Url,
    /// `iat` older than the max age.
    #[error("DPoP proof too old")]
    Expired,
    /// `iat` further in the future than the leeway.
    #[error("DPoP proof issued in the future")]
    NotYetValid,
    /// `ath` is not the hash of the presented token.
    #[error("DPoP proof ath does not match the token")]
    TokenHash,
    /// The proof key is not the one the token is bound to.
    #[error("DPoP proof key does not match the token binding")]
    KeyMismatch,
    /// The `jti` was seen before.
    #[error("DPoP proof already used")]
    Replay,
    /// Server nonces are on and the proof has no `nonce` (`use_dpop_nonce`).
    #[error("DPoP nonce required")]
    NonceRequired,
    /// The proof's `nonce` is not a current one from this server (`use_dpop_nonce`).
    #[error("DPoP nonce stale or unknown")]
    Nonce,
}

impl ProofError {
    /// The fixed `error_description`.
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::ProofError::Url.description(), "DPoP proof htu does not match the request");
    /// ```
    pub fn description(&self) -> &'static str {
        match self {
            ProofError::Missing => "DPoP proof missing",
            ProofError::Multiple => "more than one DPoP proof",
            ProofError::TooLong => "DPoP proof too long",
            ProofError::Malformed => "malformed DPoP proof",
            ProofError::Type => "not a DPoP proof (typ)",
            ProofError::Algorithm => "DPoP proof algorithm not allowed",
            ProofError::Key => "DPoP proof key not accepted",
            ProofError::Signature => "DPoP proof signature invalid",
            ProofError::Method => "DPoP proof htm does not match the request",
            ProofError::Url => "DPoP proof htu does not match the request",
            ProofError::Expired => "DPoP proof too old",
            ProofError::NotYetValid => "DPoP proof issued in the future",
            ProofError::TokenHash => "DPoP proof ath does not match the token",
            ProofError::KeyMismatch => "DPoP proof key does not match the token binding",
            ProofError::Replay => "DPoP proof already used",
            ProofError::NonceRequired => "DPoP nonce required",
            ProofError::Nonce => "DPoP nonce stale or unknown",
        }
    }

    /// The `error` code: `use_dpop_nonce` for the nonce cases, else
    /// `invalid_dpop_proof`.
    ///
    /// ```
    /// assert_eq!(tower_bearer::dpop::ProofError::Replay.error_code(), "invalid_dpop_proof");
    /// ```
    pub fn error_code(&self) -> &'static str {
        match self {
            ProofError::NonceRequired | ProofError::Nonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

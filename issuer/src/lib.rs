//! # tower-bearer-issuer
//!
//! The authorization-server side of [`tower_bearer`]: a development
//! authorization server for tests and demos, and the validator of ID-JAGs
//! ([`id_jag`]) that an authorization server checks before it issues a token.
//!
//! [`DevIssuer`] generates a key pair and serves, on loopback, what an MCP
//! client needs to log in by itself:
//!
//! - RFC 8414 metadata listing exactly what it supports, its JWK Set, and RFC
//!   9068 access tokens (JWTs, or opaque tokens answered by RFC 7662
//!   introspection);
//! - the **authorization code grant with PKCE** (`S256` only; `plain` and a
//!   missing challenge are refused), the registered redirect URI matched exactly
//!   (a loopback one on any port, RFC 8252 §7.3), `state` returned as sent, RFC
//!   9207 `iss` in the response, RFC 8707 `resource`s carried into `aud`; a
//!   development user approves at once, or on a consent page
//!   ([`DevIssuerBuilder::consent_page`]);
//! - **client registration**: RFC 7591 open registration at `/register`
//!   (public clients with `token_endpoint_auth_method: none`, confidential ones
//!   with a secret), and Client ID Metadata Documents (a `client_id` that is the
//!   HTTPS URL of the client's metadata, fetched by the crate's outbound rules;
//!   plain HTTP to loopback allowed);
//! - **rotating refresh tokens**: single use, each exchange returns the next one;
//!   a spent one presented again revokes its whole family (RFC 9700 §4.14.2),
//!   but for a retry within [`DevIssuerBuilder::refresh_reuse_grace`], which
//!   gets the same answer; no family outlives
//!   [`DevIssuerBuilder::refresh_token_lifetime`];
//! - `client_credentials` for its own client ([`DevIssuer::client_id`]), and the
//!   RFC 7523 **jwt-bearer grant with an ID-JAG** (SEP-990) from the identity
//!   providers it trusts ([`DevIssuerBuilder::trust_id_jag_issuer`]), validated
//!   by the library's [`IdJagValidator`];
//! - **identity-provider dialects** ([`dialect`]): access, client-credentials
//!   and ID tokens in the shapes of Entra, Auth0, Okta, Cognito, Keycloak,
//!   WorkOS and Hydra, for offline tests of the provider presets;
//! - DPoP: a token request with a valid `DPoP` proof gets a token bound to the
//!   proof's key (RFC 9449 §5, `token_type: DPoP`); [`DpopKey`] makes keys and
//!   proofs for tests of DPoP-protected apps.
//!
//! It is for development only: keys and state in memory, plain HTTP on
//! loopback, no login.
//!
//! ```
//! use tower_bearer::TokenVerifier;
//! use tower_bearer_issuer::DevIssuer;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let issuer = DevIssuer::start().await.unwrap();
//! let verifier = issuer.jwt_verifier("http://127.0.0.1:3000/mcp");
//! let token = issuer.token("alice", "my-app", "mcp:read", "http://127.0.0.1:3000/mcp");
//! let verified = verifier.verify(&token).await.unwrap();
//! assert_eq!(verified.principal().subject(), Some("alice"));
//! # });
//! ```

#![warn(missing_docs, rust_2018_idioms)]
#![deny(unreachable_pub, unsafe_code)]

mod authorize;
mod clients;
pub mod dialect;
mod dpop_key;
mod error;
pub mod id_jag;
mod keys;
mod params;
mod refresh;
mod token;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub use dpop_key::DpopKey;
pub use refresh::{DEFAULT_REUSE_GRACE, MAX_REUSE_GRACE, ReuseGraceError};

use crate::id_jag::{ID_JAG_TYP, IdJagValidator};
use clients::{AuthMethod, Client, Clients, GRANT_TYPES};
use keys::{SigningKey, random_string};
use refresh::{Grant, RefreshTokens};
use tower_bearer::__private::{b64, sha256};
use tower_bearer::dpop::{Dpop, PublicUrl};
use tower_bearer::jwt::{Algorithm, JwtVerifier, JwtVerifierBuilder, KeyPolicy};

/// Lifetime of the access tokens a [`DevIssuer`] mints, unless changed.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Absolute lifetime of a family of refresh tokens, unless changed.
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The development user who approves authorization requests, unless changed.
pub const DEFAULT_USER: &str = "dev-user";
/// How long the ID-JAGs [`DevIssuer::id_jag`] mints live.
const ID_JAG_TTL: Duration = Duration::from_secs(300);
/// The largest form or registration body read.
const MAX_BODY: usize = 64 * 1024;

/// RFC 8707 §2: a resource identifier is an absolute URI without a fragment.
fn is_resource_identifier(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|url| url.fragment().is_none())
}

/// When the authorization code grant issues refresh tokens.
///
/// ```
/// use tower_bearer_issuer::{DevIssuer, RefreshPolicy};
/// let _ = DevIssuer::builder().refresh_tokens(RefreshPolicy::OfflineAccess);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RefreshPolicy {
    /// With every authorization code exchange (the default).
    #[default]
    Always,
    /// Only when the authorization asked for the `offline_access` scope.
    OfflineAccess,
}

/// A development authorization server on loopback; stops when dropped.
///
/// See the [crate docs](crate) for an example.
pub struct DevIssuer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    issuer: String,
    client_id: String,
    client_secret: String,
    key: SigningKey,
    kid: String,
    token_ttl: Duration,
    /// Introspection answers of opaque tokens, by SHA-256 of the token.
    opaque: moka::sync::Cache<[u8; 32], Value>,
    issue_opaque: bool,
    /// Checks the proofs of DPoP token requests (RFC 9449 §5).
    dpop: Dpop,
    token_url: PublicUrl,
    clients: Clients,
    codes: authorize::Codes,
    refresh: RefreshTokens,
    refresh_policy: RefreshPolicy,
    user: String,
    consent: bool,
    id_jag: Option<IdJagValidator>,
}

impl fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.shared.issuer)
            .field("client_id", &self.shared.client_id)
            .finish_non_exhaustive()
    }
}

impl Drop for DevIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Configures a [`DevIssuer`]; see [`DevIssuer::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DevIssuerBuilder {
    bind: SocketAddr,
    algorithm: Algorithm,
    client_id: String,
    client_secret: Option<String>,
    token_ttl: Duration,
    issue_opaque: bool,
    user: String,
    consent: bool,
    refresh_policy: RefreshPolicy,
    refresh_lifetime: Duration,
    refresh_grace: Duration,
    id_jag_issuers: Vec<(String, String)>,
}

impl Default for DevIssuerBuilder {
    fn default() -> Self {
        DevIssuerBuilder {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            algorithm: Algorithm::RS256,
            client_id: "dev-client".into(),
            client_secret: None,
            token_ttl: DEFAULT_TOKEN_TTL,
            issue_opaque: false,
            user: DEFAULT_USER.into(),
            consent: false,
            refresh_policy: RefreshPolicy::default(),
            refresh_lifetime: DEFAULT_REFRESH_TOKEN_LIFETIME,
            refresh_grace: refresh::DEFAULT_REUSE_GRACE,
            id_jag_issuers: Vec::new(),
        }
    }
}
impl DevIssuerBuilder {
    /// Address to listen on (default `127.0.0.1:0`, any free port).
    ///
    /// ```
    /// let _ = tower_bearer_issuer::DevIssuer::builder().bind(([127, 0, 0, 1], 9000).into());
    /// ```
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Signing algorithm (default RS256, with a 2048-bit RSA key). Verifiers
    /// made by [`DevIssuer::jwt_verifier`] allow it.
    ///
    /// ```
    /// use tower_bearer::jwt::Algorithm;
    /// let _ = tower_bearer_issuer::DevIssuer::builder().algorithm(Algorithm::EdDSA);
    /// ```
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The client allowed to use the token endpoint (default `dev-client` and a
    /// random secret).
    ///
    /// ```
    /// let _ = tower_bearer_issuer::DevIssuer::builder().client("ci", "s3cret");
    /// ```
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = Some(secret.into());
        self
    }

    /// Lifetime of minted tokens (default one hour).
    ///
    /// ```
    /// let _ = tower_bearer_issuer::DevIssuer::builder().token_ttl(std::time::Duration::from_secs(60));
    /// ```
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Make the token endpoint issue opaque tokens (checked by introspection)
    /// instead of JWTs.
    ///
    /// ```
    /// let _ = tower_bearer_issuer::DevIssuer::builder().opaque_tokens(true);
    /// ```
    pub fn opaque_tokens(mut self, opaque: bool) -> Self {
        self.issue_opaque = opaque;
        self
    }

    /// The development user (the `sub` of tokens from the authorization code
    /// grant; default [`DEFAULT_USER`]).
    ///
    /// ```
    /// let _ = tower_bearer_issuer::DevIssuer::builder().user("alice");
    /// ```
    pub fn user(mut self, subject: impl Into<String>) -> Self {
        self.user = subject.into();
        self
    }

    /// Show a consent page (approve / deny) at the authorization endpoint
    /// instead of approving at once (default: at once).
    ///
    /// ```
    /// let _ = tower_bearer_issuer::DevIssuer::builder().consent_page(true);
    /// ```
    pub fn consent_page(mut self, consent: bool) -> Self {
        self.consent = consent;
        self
    }

    /// When the authorization code grant issues refresh tokens (default:
    /// [`RefreshPolicy::Always`]).
    ///
    /// See [`RefreshPolicy`] for an example.
    pub fn refresh_tokens(mut self, policy: RefreshPolicy) -> Self {
        self.refresh_policy = policy;
        self
    }

    /// How long a family of refresh tokens lives, from the authorization that
    /// started it, however often it rotates (default one day).
    ///
    /// ```
    /// let _ = tower_bearer_issuer::DevIssuer::builder().refresh_token_lifetime(std::time::Duration::from_secs(600));
    /// ```
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_lifetime = lifetime;
        self
    }

    /// How long a refresh token, once exchanged, answers a retry with the same
    /// access and refresh tokens instead of counting as a reuse that revokes
    /// its family (default [`DEFAULT_REUSE_GRACE`], at most
    /// [`MAX_REUSE_GRACE`]; zero for strict rotation). Clients that refresh
    /// twice at once, when two requests meet the same expired token, keep their
    /// sign-in; a token presented after the grace, or after its successor was
    /// used, still revokes the family.
    ///
    /// # Errors
    /// [`ReuseGraceError`] for a grace over [`MAX_REUSE_GRACE`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = tower_bearer_issuer::DevIssuer::builder().refresh_reuse_grace(Duration::from_secs(2))?;
    /// # let _ = builder;
    /// # Ok::<(), tower_bearer_issuer::ReuseGraceError>(())
    /// ```
    pub fn refresh_reuse_grace(mut self, grace: Duration) -> Result<Self, ReuseGraceError> {
        self.refresh_grace = refresh::reuse_grace(grace)?;
        Ok(self)
    }

    /// Trust ID-JAGs (SEP-990) from the enterprise identity provider `issuer`,
    /// whose keys are at `jwks_uri`, in the jwt-bearer grant (repeatable).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tower_bearer_issuer::DevIssuer;
    /// let idp = DevIssuer::start().await.unwrap();
    /// let issuer = DevIssuer::builder().trust_id_jag_issuer(idp.issuer(), idp.jwks_uri()).start().await.unwrap();
    /// # let _ = issuer;
    /// # });
    /// ```
    pub fn trust_id_jag_issuer(mut self, issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        self.id_jag_issuers.push((issuer.into(), jwks_uri.into()));
        self
    }

    /// Generates the key, binds the listener and starts serving.
    ///
    /// See the [crate docs](crate) for an example.
    pub async fn start(self) -> std::io::Result<DevIssuer> {
        let listener = tokio::net::TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let host = if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        let key = SigningKey::generate(self.algorithm)?;
        let kid = format!("dev-{}", random_string(6)?);
        let client_secret = match self.client_secret {
            Some(secret) => secret,
            None => random_string(18)?,
        };
        let issuer = format!("http://{host}:{}", addr.port());
        let token_url = PublicUrl::parse(&format!("{issuer}/token"))
            .map_err(|e| std::io::Error::other(format!("token endpoint URL: {e}")))?;
        let id_jag = if self.id_jag_issuers.is_empty() {
            None
        } else {
            let mut validator = IdJagValidator::builder().audience(&issuer);
            for (idp, jwks_uri) in &self.id_jag_issuers {
                validator = validator.trusted_issuer(idp, jwks_uri);
            }
            Some(
                validator
                    .build()
                    .map_err(|e| std::io::Error::other(format!("ID-JAG issuers: {e}")))?,
            )
        };
        let shared = Arc::new(Shared {
            dpop: Dpop::allowed(),
            token_url,
            clients: Clients::new(Client::confidential(self.client_id.clone(), &client_secret))?,
            client_id: self.client_id,
            client_secret,
            key,
            kid,
            token_ttl: self.token_ttl,
            opaque: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(self.token_ttl)
                .build(),
            issue_opaque: self.issue_opaque,
            codes: authorize::Codes::new(),
            refresh: RefreshTokens::new(self.refresh_lifetime, self.refresh_grace),
            refresh_policy: self.refresh_policy,
            user: self.user,
            consent: self.consent,
            id_jag,
            issuer,
        });
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route(
                "/authorize",
                get(authorize::authorize_get).post(authorize::authorize_post),
            )
            .route("/token", post(token::token_endpoint))
            .route("/register", post(clients::register))
            .route("/introspect", post(token::introspect))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "development issuer stopped");
            }
        });
        Ok(DevIssuer { shared, addr, server })
    }
}

impl DevIssuer {
    /// Starts a development issuer on `127.0.0.1` with an RS256 key.
    ///
    /// See the [crate docs](crate) for an example.
    pub async fn start() -> std::io::Result<DevIssuer> {
        DevIssuer::builder().start().await
    }

    /// A builder for other settings.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::builder().client("ci", "s3cret").start().await.unwrap();
    /// assert_eq!(issuer.client_id(), "ci");
    /// # });
    /// ```
    pub fn builder() -> DevIssuerBuilder {
        DevIssuerBuilder::default()
    }

    /// The issuer identifier, `http://127.0.0.1:PORT` (no trailing slash).
    ///
    /// See [`DevIssuer::jwks_uri`] for an example.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The address the issuer listens on.
    ///
    /// See [`DevIssuer::jwks_uri`] for an example.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The JWK Set URL.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// assert_eq!(issuer.jwks_uri(), format!("{}/jwks", issuer.issuer()));
    /// assert!(issuer.issuer().ends_with(&issuer.local_addr().port().to_string()));
    /// # });
    /// ```
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.shared.issuer)
    }

    /// The token endpoint (every grant).
    ///
    /// See [`DevIssuer::client_secret`] for an example.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared.issuer)
    }

    /// The RFC 8414 metadata URL, where OAuth clients learn everything else.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// assert_eq!(issuer.metadata_url(), format!("{}/.well-known/oauth-authorization-server", issuer.issuer()));
    /// # });
    /// ```
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.shared.issuer)
    }

    /// The authorization endpoint (authorization code grant with PKCE).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// assert_eq!(issuer.authorization_endpoint(), format!("{}/authorize", issuer.issuer()));
    /// # });
    /// ```
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.shared.issuer)
    }

    /// The RFC 7591 registration endpoint (open registration).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let answer: serde_json::Value = reqwest::Client::new()
    ///     .post(issuer.registration_endpoint())
    ///     .json(&serde_json::json!({"redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none"}))
    ///     .send().await.unwrap().json().await.unwrap();
    /// assert!(answer["client_id"].is_string());
    /// assert!(answer.get("client_secret").is_none(), "a public client");
    /// # });
    /// ```
    pub fn registration_endpoint(&self) -> String {
        format!("{}/register", self.shared.issuer)
    }

    /// The RFC 7662 introspection endpoint (for opaque tokens).
    ///
    /// See [`DevIssuer::opaque_token`] for an example.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.shared.issuer)
    }

    /// The issuer's own confidential client, accepted by the token (every grant
    /// but the authorization code, for want of a redirect URI) and introspection
    /// endpoints.
    ///
    /// See [`DevIssuer::client_secret`] for an example.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The client secret accepted with [`DevIssuer::client_id`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// println!("curl -u {}:{} -d grant_type=client_credentials {}", issuer.client_id(), issuer.client_secret(), issuer.token_endpoint());
    /// # });
    /// ```
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// A verifier for this issuer's JWTs with audience `audience`.
    ///
    /// See the [crate docs](crate) for an example.
    pub fn jwt_verifier(&self, audience: &str) -> JwtVerifier {
        self.jwt_verifier_builder(audience)
            .build()
            .expect("the development issuer's URLs are loopback URLs")
    }

    /// A verifier builder already pointed at this issuer, for further settings.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let verifier = issuer.jwt_verifier_builder("https://rs.example").verified_token_cache(1000).build().unwrap();
    /// # let _ = verifier;
    /// # });
    /// ```
    pub fn jwt_verifier_builder(&self, audience: &str) -> JwtVerifierBuilder {
        JwtVerifier::builder()
            .issuer(self.issuer())
            .audience(audience)
            .jwks_uri(self.jwks_uri())
            .key_policy(KeyPolicy::default().allow(self.shared.key.alg))
    }

    /// Mints an RFC 9068 access token: `typ: at+jwt`, `iss`, `sub`, `client_id`,
    /// `aud`, `scope`, `iat`, `exp`, `jti`.
    ///
    /// See the [crate docs](crate) for an example.
    pub fn token(&self, subject: &str, client_id: &str, scopes: &str, audience: &str) -> String {
        self.sign_claims(&self.shared.claims(subject, client_id, scopes, audience))
    }

    /// The claims [`DevIssuer::token`] would sign, to alter before
    /// [`DevIssuer::sign_claims`] (for tests of expired or odd tokens).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let mut claims = issuer.claims("alice", "app", "", "https://rs.example");
    /// claims["exp"] = 1.into();
    /// let expired = issuer.sign_claims(&claims);
    /// # let _ = expired;
    /// # });
    /// ```
    pub fn claims(&self, subject: &str, client_id: &str, scopes: &str, audience: &str) -> Value {
        self.shared.claims(subject, client_id, scopes, audience)
    }

    /// Signs `claims` with the issuer's key under the header
    /// `{"alg", "typ": "at+jwt", "kid"}`.
    ///
    /// See [`DevIssuer::claims`] for an example.
    pub fn sign_claims(&self, claims: &Value) -> String {
        self.shared.sign_claims(claims)
    }

    /// Signs arbitrary header and payload JSON with the issuer's key (for
    /// tests that need odd headers).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let jws = issuer.sign(&serde_json::json!({"alg": "RS256", "kid": "other"}), &serde_json::json!({}));
    /// assert_eq!(jws.split('.').count(), 3);
    /// # });
    /// ```
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.shared.sign(header, claims)
    }

    /// The issuer's public key set as served at [`DevIssuer::jwks_uri`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 1);
    /// # });
    /// ```
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// Mints an opaque token that the introspection endpoint reports active with
    /// these claims until it expires or is revoked.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// let token = issuer.opaque_token("alice", "app", "mcp:read", "https://rs.example/mcp");
    /// assert!(!token.contains('.'));
    /// issuer.revoke(&token);
    /// # });
    /// ```
    pub fn opaque_token(&self, subject: &str, client_id: &str, scopes: &str, audience: &str) -> String {
        self.shared.opaque_token(subject, client_id, scopes, audience)
    }

    /// Makes an opaque token inactive.
    ///
    /// See [`DevIssuer::opaque_token`] for an example.
    pub fn revoke(&self, token: &str) {
        self.shared.opaque.invalidate(&sha256(token.as_bytes()));
    }

    /// Mints a DPoP-bound access token: [`DevIssuer::token`] with
    /// `cnf.jkt` = the thumbprint of `key` (RFC 9449 §6.1).
    ///
    /// See [`DpopKey`] for an example.
    pub fn dpop_token(
        &self,
        subject: &str,
        client_id: &str,
        scopes: &str,
        audience: &str,
        key: &DpopKey,
    ) -> String {
        let mut claims = self.shared.claims(subject, client_id, scopes, audience);
        claims["cnf"] = json!({ "jkt": key.thumbprint() });
        self.sign_claims(&claims)
    }

    /// Mints an opaque DPoP-bound token: introspection answers it with
    /// `cnf.jkt` and `token_type: DPoP` (RFC 9449 §6.2).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tower_bearer_issuer::{DevIssuer, DpopKey};
    /// let issuer = DevIssuer::start().await.unwrap();
    /// let token = issuer.opaque_dpop_token("alice", "app", "mcp", "https://rs.example/mcp", &DpopKey::generate());
    /// assert!(!token.contains('.'));
    /// # });
    /// ```
    pub fn opaque_dpop_token(
        &self,
        subject: &str,
        client_id: &str,
        scopes: &str,
        audience: &str,
        key: &DpopKey,
    ) -> String {
        let claims = self.shared.claims(subject, client_id, scopes, audience);
        self.shared.opaque_bound_token(claims, Some(&key.thumbprint()))
    }

    /// Mints an ID-JAG (SEP-990) as an enterprise identity provider would from
    /// a token exchange: `typ: oauth-id-jag+jwt`, `iss` = this issuer, `sub`,
    /// `aud` = the authorization server's issuer, `client_id` (the client at that
    /// server), `resource`, `scope`, `jti`, `iat`, `exp` five minutes later.
    /// Another `DevIssuer` that [trusts](DevIssuerBuilder::trust_id_jag_issuer)
    /// this one exchanges it in the jwt-bearer grant.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tower_bearer_issuer::DevIssuer;
    /// let idp = DevIssuer::start().await.unwrap();
    /// let id_jag = idp.id_jag("alice@corp", "https://as.example", "mcp-client", "https://rs.example/mcp", "mcp:read");
    /// assert_eq!(id_jag.split('.').count(), 3);
    /// # });
    /// ```
    pub fn id_jag(
        &self,
        subject: &str,
        audience: &str,
        client_id: &str,
        resource: &str,
        scopes: &str,
    ) -> String {
        let now = unix_now();
        let claims = json!({
            "iss": self.shared.issuer,
            "sub": subject,
            "aud": audience,
            "client_id": client_id,
            "resource": resource,
            "scope": scopes,
            "jti": random_string(12).unwrap_or_default(),
            "iat": now,
            "exp": now.saturating_add(ID_JAG_TTL.as_secs()),
        });
        self.sign(&self.id_jag_header(), &claims)
    }

    /// The header [`DevIssuer::id_jag`] signs (`typ`, `alg`, `kid`), to sign odd
    /// assertions with [`DevIssuer::sign`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let idp = tower_bearer_issuer::DevIssuer::start().await.unwrap();
    /// assert_eq!(idp.id_jag_header()["typ"], "oauth-id-jag+jwt");
    /// # });
    /// ```
    pub fn id_jag_header(&self) -> Value {
        json!({ "typ": ID_JAG_TYP, "alg": self.shared.key.alg.name(), "kid": self.shared.kid })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl Shared {
    fn sign_claims(&self, claims: &Value) -> String {
        self.key.encode(&self.kid, claims)
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{signature}")
    }

    fn claims(&self, subject: &str, client_id: &str, scopes: &str, audience: impl Into<Value>) -> Value {
        let now = unix_now();
        json!({
            "iss": self.issuer,
            "sub": subject,
            "client_id": client_id,
            "aud": audience.into(),
            "scope": scopes,
            "iat": now,
            "exp": now.saturating_add(self.token_ttl.as_secs()),
            "jti": random_string(12).unwrap_or_default(),
        })
    }

    fn opaque_token(&self, subject: &str, client_id: &str, scopes: &str, audience: &str) -> String {
        self.opaque_bound_token(self.claims(subject, client_id, scopes, audience), None)
    }

    /// An opaque token that introspection answers with `claims` (and `cnf.jkt`).
    fn opaque_bound_token(&self, mut claims: Value, jkt: Option<&str>) -> String {
        let token = random_string(32).unwrap_or_default();
        claims["active"] = true.into();
        claims["token_type"] = "Bearer".into();
        if let Some(jkt) = jkt {
            claims["token_type"] = "DPoP".into();
            claims["cnf"] = json!({ "jkt": jkt });
        }
        self.opaque.insert(sha256(token.as_bytes()), claims);
        token
    }

    /// The access token for `grant`: `aud` its resource (an array when it
    /// names several), `cnf.jkt` when DPoP-bound; opaque if so configured.
    fn access_token(&self, grant: &Grant) -> String {
        let audience = match grant.resources.as_slice() {
            [one] => Value::from(one.as_str()),
            many => json!(many),
        };
        let mut claims = self.claims(&grant.subject, &grant.client_id, &grant.scope, audience);
        if self.issue_opaque {
            return self.opaque_bound_token(claims, grant.jkt.as_deref());
        }
        if let Some(jkt) = &grant.jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        self.sign_claims(&claims)
    }

    fn jwks(&self) -> Value {
        let mut jwk = self.key.public_jwk();
        jwk["kid"] = self.kid.clone().into();
        jwk["use"] = "sig".into();
        jwk["alg"] = self.key.alg.name().into();
        json!({ "keys": [jwk] })
    }
}

async fn metadata(State(s): State<Arc<Shared>>) -> Json<Value> {
    let url = |path: &str| format!("{}{path}", s.issuer);
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": url("/jwks"),
        "authorization_endpoint": url("/authorize"),
        "token_endpoint": url("/token"),
        "registration_endpoint": url("/register"),
        "introspection_endpoint": url("/introspect"),
        // The jwt-bearer grant only when an identity provider is trusted.
        "grant_types_supported": GRANT_TYPES
            .iter()
            .filter(|grant| **grant != clients::JWT_BEARER || s.id_jag.is_some())
            .collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AuthMethod::SUPPORTED,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": s.dpop.algorithm_list().collect::<Vec<_>>(),
    }))
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(s.jwks())).into_response()
}

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

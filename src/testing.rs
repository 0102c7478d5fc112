//! A development authorization server for tests and demos (feature `testing`).
//!
//! [`DevIssuer`] generates a key pair, serves its JWK Set and RFC 8414 metadata on
//! loopback, mints RFC 9068 access tokens, answers `client_credentials` token
//! requests (RFC 6749 §4.4, with the RFC 8707 `resource` parameter) for one
//! client, and introspects the opaque tokens it issues (RFC 7662). A token
//! request with a valid `DPoP` proof gets a token bound to the proof's key
//! (RFC 9449 §5, `token_type: DPoP`); [`DpopKey`] makes keys and proofs for
//! tests of DPoP-protected apps. It is for development only: one client, keys
//! in memory, plain HTTP on loopback.
//!
//! ```
//! use tower_bearer::{TokenVerifier, testing::DevIssuer};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let issuer = DevIssuer::start().await.unwrap();
//! let verifier = issuer.jwt_verifier("http://127.0.0.1:3000/mcp");
//! let token = issuer.token("alice", "my-app", "mcp:read", "http://127.0.0.1:3000/mcp");
//! let verified = verifier.verify(&token).await.unwrap();
//! assert_eq!(verified.principal().subject(), Some("alice"));
//! # });
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::b64;
use crate::jwt::{Algorithm, JwtVerifier, JwtVerifierBuilder, KeyPolicy};

/// Lifetime of the tokens a [`DevIssuer`] mints, unless changed.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A development authorization server on loopback; stops when dropped.
///
/// See the [module docs](self) for an example.
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
    opaque: moka::sync::Cache<String, Value>,
    issue_opaque: bool,
    /// Checks the proofs of DPoP token requests (RFC 9449 §5).
    dpop: crate::dpop::Dpop,
    token_url: crate::dpop::PublicUrl,
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
        }
    }
}

impl DevIssuerBuilder {
    /// Address to listen on (default `127.0.0.1:0`, any free port).
    ///
    /// ```
    /// let _ = tower_bearer::testing::DevIssuer::builder().bind(([127, 0, 0, 1], 9000).into());
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
    /// let _ = tower_bearer::testing::DevIssuer::builder().algorithm(Algorithm::EdDSA);
    /// ```
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The client allowed to use the token endpoint (default `dev-client` and a
    /// random secret).
    ///
    /// ```
    /// let _ = tower_bearer::testing::DevIssuer::builder().client("ci", "s3cret");
    /// ```
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = Some(secret.into());
        self
    }

    /// Lifetime of minted tokens (default one hour).
    ///
    /// ```
    /// let _ = tower_bearer::testing::DevIssuer::builder().token_ttl(std::time::Duration::from_secs(60));
    /// ```
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Make the token endpoint issue opaque tokens (checked by introspection)
    /// instead of JWTs.
    ///
    /// ```
    /// let _ = tower_bearer::testing::DevIssuer::builder().opaque_tokens(true);
    /// ```
    pub fn opaque_tokens(mut self, opaque: bool) -> Self {
        self.issue_opaque = opaque;
        self
    }

    /// Generates the key, binds the listener and starts serving.
    ///
    /// See the [module docs](self) for an example.
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
        let token_url = crate::dpop::PublicUrl::parse(&format!("{issuer}/token"))
            .map_err(|e| std::io::Error::other(format!("token endpoint URL: {e}")))?;
        let shared = Arc::new(Shared {
            issuer,
            dpop: crate::dpop::Dpop::allowed(),
            token_url,
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
        });
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token_endpoint))
            .route("/introspect", post(introspect))
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
    /// See the [module docs](self) for an example.
    pub async fn start() -> std::io::Result<DevIssuer> {
        DevIssuer::builder().start().await
    }

    /// A builder for other settings.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer::testing::DevIssuer::builder().client("ci", "s3cret").start().await.unwrap();
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
    /// let issuer = tower_bearer::testing::DevIssuer::start().await.unwrap();
    /// assert_eq!(issuer.jwks_uri(), format!("{}/jwks", issuer.issuer()));
    /// assert!(issuer.issuer().ends_with(&issuer.local_addr().port().to_string()));
    /// # });
    /// ```
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.shared.issuer)
    }

    /// The token endpoint (`client_credentials`).
    ///
    /// See [`DevIssuer::client_secret`] for an example.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared.issuer)
    }

    /// The RFC 7662 introspection endpoint (for opaque tokens).
    ///
    /// See [`DevIssuer::opaque_token`] for an example.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.shared.issuer)
    }

    /// The client id accepted by the token and introspection endpoints.
    ///
    /// See [`DevIssuer::client_secret`] for an example.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The client secret accepted with [`DevIssuer::client_id`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer::testing::DevIssuer::start().await.unwrap();
    /// println!("curl -u {}:{} -d grant_type=client_credentials {}", issuer.client_id(), issuer.client_secret(), issuer.token_endpoint());
    /// # });
    /// ```
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// A verifier for this issuer's JWTs with audience `audience`.
    ///
    /// See the [module docs](self) for an example.
    pub fn jwt_verifier(&self, audience: &str) -> JwtVerifier {
        self.jwt_verifier_builder(audience)
            .build()
            .expect("the development issuer's URLs are loopback URLs")
    }

    /// A verifier builder already pointed at this issuer, for further settings.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer::testing::DevIssuer::start().await.unwrap();
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
    /// See the [module docs](self) for an example.
    pub fn token(&self, subject: &str, client_id: &str, scopes: &str, audience: &str) -> String {
        self.sign_claims(&self.shared.claims(subject, client_id, scopes, audience))
    }

    /// The claims [`DevIssuer::token`] would sign, to alter before
    /// [`DevIssuer::sign_claims`] (for tests of expired or odd tokens).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let issuer = tower_bearer::testing::DevIssuer::start().await.unwrap();
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
    /// let issuer = tower_bearer::testing::DevIssuer::start().await.unwrap();
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
    /// let issuer = tower_bearer::testing::DevIssuer::start().await.unwrap();
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
    /// let issuer = tower_bearer::testing::DevIssuer::start().await.unwrap();
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
        self.shared.opaque.invalidate(token);
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
    /// use tower_bearer::testing::{DevIssuer, DpopKey};
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
        self.shared
            .opaque_bound_token(subject, client_id, scopes, audience, Some(&key.thumbprint()))
    }
}

/// A client's DPoP key pair (ES256 unless chosen otherwise), signing proofs
/// with `jsonwebtoken` (RFC 9449 §4.2), for tests of DPoP-protected apps.
///
/// ```
/// use tower_bearer::testing::{DevIssuer, DpopKey};
/// use tower_bearer::TokenVerifier;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let issuer = DevIssuer::start().await.unwrap();
/// let key = DpopKey::generate();
/// let token = issuer.dpop_token("alice", "app", "mcp", "https://rs.example/mcp", &key);
/// let verified = issuer.jwt_verifier("https://rs.example/mcp").verify(&token).await.unwrap();
/// assert_eq!(verified.dpop_jkt(), Some(key.thumbprint().as_str()));
/// // The header to send with `Authorization: DPoP {token}`:
/// let proof = key.proof("POST", "https://rs.example/mcp", Some(&token));
/// assert_eq!(proof.split('.').count(), 3);
/// # });
/// ```
pub struct DpopKey {
    key: SigningKey,
    thumbprint: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.alg)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A fresh ES256 key.
    ///
    /// See [`DpopKey`] for an example.
    ///
    /// # Panics
    ///
    /// If the system random number generator fails.
    pub fn generate() -> Self {
        Self::generate_with(Algorithm::ES256)
    }

    /// A fresh key for `algorithm`.
    ///
    /// ```
    /// use tower_bearer::{jwt::Algorithm, testing::DpopKey};
    /// let key = DpopKey::generate_with(Algorithm::EdDSA);
    /// assert_eq!(key.jwk()["kty"], "OKP");
    /// ```
    ///
    /// # Panics
    ///
    /// If the system random number generator fails.
    pub fn generate_with(algorithm: Algorithm) -> Self {
        let key = SigningKey::generate(algorithm).expect("generating a DPoP key");
        let model: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).expect("a JWK");
        let thumbprint = model
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .expect("a thumbprint");
        DpopKey { key, thumbprint }
    }

    /// The public JWK that proofs carry.
    ///
    /// See [`DpopKey::generate_with`] for an example.
    pub fn jwk(&self) -> Value {
        self.key.public_jwk()
    }

    /// The RFC 7638 SHA-256 thumbprint, the `cnf.jkt` of tokens bound to this key.
    ///
    /// See [`DpopKey`] for an example.
    pub fn thumbprint(&self) -> String {
        self.thumbprint.clone()
    }

    /// A proof for `method` and `url`, with `ath` for `token` when given (a
    /// resource request) and a fresh `jti` and `iat`.
    ///
    /// See [`DpopKey`] for an example.
    pub fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        self.sign_proof(&self.proof_header(), &self.proof_claims(method, url, token, None))
    }

    /// [`DpopKey::proof`] carrying a server `nonce` (RFC 9449 §9).
    ///
    /// ```
    /// let key = tower_bearer::testing::DpopKey::generate();
    /// let proof = key.proof_with_nonce("GET", "https://rs.example/mcp", Some("t0ken"), "n0nce");
    /// # let _ = proof;
    /// ```
    pub fn proof_with_nonce(&self, method: &str, url: &str, token: Option<&str>, nonce: &str) -> String {
        self.sign_proof(
            &self.proof_header(),
            &self.proof_claims(method, url, token, Some(nonce)),
        )
    }

    /// The header [`DpopKey::proof`] signs: `typ: dpop+jwt`, `alg`, `jwk`.
    ///
    /// ```
    /// let key = tower_bearer::testing::DpopKey::generate();
    /// assert_eq!(key.proof_header()["typ"], "dpop+jwt");
    /// ```
    pub fn proof_header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": self.key.alg.name(), "jwk": self.jwk() })
    }

    /// The claims [`DpopKey::proof`] signs: `jti`, `htm`, `htu`, `iat`, and
    /// `ath`, `nonce` when given; to alter before [`DpopKey::sign_proof`].
    ///
    /// ```
    /// let key = tower_bearer::testing::DpopKey::generate();
    /// let mut claims = key.proof_claims("GET", "https://rs.example/mcp", Some("t0ken"), None);
    /// claims["iat"] = 1.into();
    /// let old = key.sign_proof(&key.proof_header(), &claims);
    /// # let _ = old;
    /// ```
    pub fn proof_claims(&self, method: &str, url: &str, token: Option<&str>, nonce: Option<&str>) -> Value {
        let mut claims = json!({
            "jti": random_string(16).unwrap_or_default(),
            "htm": method,
            "htu": url,
            "iat": SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        });
        if let Some(token) = token {
            claims["ath"] = b64::encode(crate::digest::sha256(token.as_bytes())).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        claims
    }

    /// Signs any header and claims with this key (for tests of odd proofs).
    ///
    /// See [`DpopKey::proof_claims`] for an example.
    pub fn sign_proof(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(claims.to_string())
        );
        format!("{signing_input}.{}", self.key.sign(signing_input.as_bytes()))
    }
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

    fn claims(&self, subject: &str, client_id: &str, scopes: &str, audience: &str) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        json!({
            "iss": self.issuer,
            "sub": subject,
            "client_id": client_id,
            "aud": audience,
            "scope": scopes,
            "iat": now,
            "exp": now.saturating_add(self.token_ttl.as_secs()),
            "jti": random_string(12).unwrap_or_default(),
        })
    }

    fn opaque_token(&self, subject: &str, client_id: &str, scopes: &str, audience: &str) -> String {
        self.opaque_bound_token(subject, client_id, scopes, audience, None)
    }

    fn opaque_bound_token(
        &self,
        subject: &str,
        client_id: &str,
        scopes: &str,
        audience: &str,
        jkt: Option<&str>,
    ) -> String {
        let token = random_string(32).unwrap_or_default();
        let mut claims = self.claims(subject, client_id, scopes, audience);
        claims["active"] = true.into();
        claims["token_type"] = "Bearer".into();
        if let Some(jkt) = jkt {
            claims["token_type"] = "DPoP".into();
            claims["cnf"] = json!({ "jkt": jkt });
        }
        self.opaque.insert(token.clone(), claims);
        token
    }

    fn jwks(&self) -> Value {
        let mut jwk = self.key.public_jwk();
        jwk["kid"] = self.kid.clone().into();
        jwk["use"] = "sig".into();
        jwk["alg"] = self.key.alg.name().into();
        json!({ "keys": [jwk] })
    }

    fn authenticate(&self, headers: &HeaderMap, form_id: Option<&str>, form_secret: Option<&str>) -> bool {
        let from_basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| base64_simd::STANDARD.decode_to_vec(v).ok())
            .and_then(|v| String::from_utf8(v).ok());
        let (id, secret) = match (&from_basic, form_id, form_secret) {
            (Some(pair), None, None) => match pair.split_once(':') {
                Some((id, secret)) => (percent_decode(id), percent_decode(secret)),
                None => return false,
            },
            (None, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
            _ => return false,
        };
        constant_time_eq(id.as_bytes(), self.client_id.as_bytes())
            & constant_time_eq(secret.as_bytes(), self.client_secret.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// `application/x-www-form-urlencoded` decoding of a Basic credential part
/// (RFC 6749 §2.3.1).
fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn random_string(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| std::io::Error::other("no system randomness"))?;
    Ok(b64::encode(buf))
}

/// The issuer's key, held and used by `jsonwebtoken` (an implementation other
/// than the crate's verifier, so that tokens are never checked only by the code
/// that made them): aws-lc-rs generates the key pair, `jsonwebtoken` imports it
/// from PKCS#8, signs with it and derives its public JWK.
struct SigningKey {
    alg: Algorithm,
    algorithm: jsonwebtoken::Algorithm,
    key: jsonwebtoken::EncodingKey,
    jwk: Value,
}

impl SigningKey {
    fn generate(algorithm: Algorithm) -> std::io::Result<Self> {
        let err = |_| std::io::Error::other("key generation failed");
        let import = |e: jsonwebtoken::errors::Error| std::io::Error::other(format!("key import: {e}"));
        let key = match algorithm {
            Algorithm::ES256 | Algorithm::ES384 => {
                let curve = if algorithm == Algorithm::ES256 {
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let pair = EcdsaKeyPair::generate(curve).map_err(err)?;
                jsonwebtoken::EncodingKey::from_ec_der(pair.to_pkcs8v1().map_err(err)?.as_ref())
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::generate().map_err(err)?;
                jsonwebtoken::EncodingKey::from_ed_der(pair.to_pkcs8v1().map_err(err)?.as_ref())
            }
            _ => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(err)?;
                let pkcs8 = AsDer::<Pkcs8V1Der<'_>>::as_der(&pair).map_err(err)?;
                // jsonwebtoken signs RSA with a PKCS#1 key, which its PEM reader
                // takes out of the PKCS#8 document.
                let pem = format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    base64_simd::STANDARD.encode_to_string(pkcs8.as_ref())
                );
                jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(import)?
            }
        };
        let alg = algorithm;
        let algorithm: jsonwebtoken::Algorithm = alg.name().parse().map_err(import)?;
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, algorithm).map_err(import)?;
        let jwk = serde_json::to_value(jwk).map_err(std::io::Error::other)?;
        Ok(SigningKey {
            alg,
            algorithm,
            key,
            jwk,
        })
    }

    /// An RFC 9068 access token: `jsonwebtoken::encode` with `typ: at+jwt`.
    fn encode(&self, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(self.algorithm);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).expect("signing with the issuer's own key")
    }

    /// The base64url signature over `message`.
    fn sign(&self, message: &[u8]) -> String {
        jsonwebtoken::crypto::sign(message, &self.key, self.algorithm)
            .expect("signing with the issuer's own key")
    }

    /// The public JWK (`kty`, key material, `alg`), as `jsonwebtoken` derives it.
    fn public_jwk(&self) -> Value {
        self.jwk.clone()
    }
}

async fn metadata(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/jwks", s.issuer),
        // Required by RFC 8414 (and by MCP clients); only client credentials are
        // supported, so it answers `unsupported_response_type`.
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "introspection_endpoint": format!("{}/introspect", s.issuer),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "dpop_signing_alg_values_supported": s.dpop.algorithm_list().collect::<Vec<_>>(),
    }))
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(s.jwks())).into_response()
}

async fn authorize() -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "unsupported_response_type")
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error })),
    )
        .into_response()
}

async fn token_endpoint(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if !s.authenticate(&headers, form.client_id.as_deref(), form.client_secret.as_deref()) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // RFC 8707: the audience is the requested resource; this issuer requires one.
    let Some(resource) = form.resource.filter(|r| !r.is_empty()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_target");
    };
    // RFC 9449 §5: a token request with one valid proof gets a token bound to its key.
    let mut proofs = headers.get_all(crate::dpop::DPOP).iter();
    let jkt = match (proofs.next(), proofs.next()) {
        (None, _) => None,
        (Some(proof), None) => match s.dpop.check_token_request(proof.as_bytes(), &s.token_url).await {
            Ok(jkt) => Some(jkt),
            Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
        },
        (Some(_), Some(_)) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
    };
    let scope = form.scope.unwrap_or_default();
    let client_id = s.client_id.clone();
    let access_token = if s.issue_opaque {
        s.opaque_bound_token(&client_id, &client_id, &scope, &resource, jkt.as_deref())
    } else {
        let mut claims = s.claims(&client_id, &client_id, &scope, &resource);
        if let Some(jkt) = &jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        s.sign_claims(&claims)
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": access_token,
            "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": s.token_ttl.as_secs(),
            "scope": scope,
        })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct IntrospectForm {
    token: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn introspect(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<IntrospectForm>,
) -> Response {
    if !s.authenticate(&headers, form.client_id.as_deref(), form.client_secret.as_deref()) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let body = s
        .opaque
        .get(&form.token)
        .unwrap_or_else(|| json!({"active": false}));
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

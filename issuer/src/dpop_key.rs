//! [`DpopKey`]: a client's DPoP key pair for tests.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::keys::{SigningKey, random_string};
use tower_bearer::__private::{b64, sha256};
use tower_bearer::jwt::Algorithm;

/// A client's DPoP key pair (ES256 unless chosen otherwise), signing proofs
/// with `jsonwebtoken` (RFC 9449 §4.2), for tests of DPoP-protected apps.
///
/// ```
/// use tower_bearer_issuer::{DevIssuer, DpopKey};
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
    /// use tower_bearer::jwt::Algorithm;
    /// use tower_bearer_issuer::DpopKey;
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
    /// let key = tower_bearer_issuer::DpopKey::generate();
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
    /// let key = tower_bearer_issuer::DpopKey::generate();
    /// assert_eq!(key.proof_header()["typ"], "dpop+jwt");
    /// ```
    pub fn proof_header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": self.key.alg.name(), "jwk": self.jwk() })
    }

    /// The claims [`DpopKey::proof`] signs: `jti`, `htm`, `htu`, `iat`, and
    /// `ath`, `nonce` when given; to alter before [`DpopKey::sign_proof`].
    ///
    /// ```
    /// let key = tower_bearer_issuer::DpopKey::generate();
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
            claims["ath"] = b64::encode(sha256(token.as_bytes())).into();
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

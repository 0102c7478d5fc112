//! [`ClientKey`]: the resource server's own ES256 key pair, which signs its
//! DPoP proofs (RFC 9449) and its `private_key_jwt` client assertions (RFC 7523).

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use super::ExchangeConfigError;
use crate::jwt::{Algorithm, KeyPolicy};
use crate::{b64, digest, time};

/// How long a client assertion is good for (RFC 7523 §3: short-lived).
const ASSERTION_TTL: Duration = Duration::from_secs(60);

/// The resource server's own ES256 key pair: it signs the DPoP proofs of
/// outbound calls made with DPoP-bound exchanged tokens, the proof sent to
/// the token endpoint to get such tokens, and `private_key_jwt` client
/// assertions. Its private half never leaves it; `Debug` shows the
/// thumbprint only.
///
/// ```
/// use tower_bearer::exchange::ClientKey;
/// let key = ClientKey::generate().unwrap();
/// assert_eq!(key.public_jwk()["kty"], "EC");
/// assert_eq!(key.thumbprint().len(), 43);
/// let again = ClientKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
/// assert_eq!(again.thumbprint(), key.thumbprint());
/// ```
pub struct ClientKey {
    pair: EcdsaKeyPair,
    jwk: Value,
    thumbprint: String,
    kid: Option<String>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("alg", &"ES256")
            .field("thumbprint", &self.thumbprint)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// A fresh P-256 key pair.
    ///
    /// # Errors
    /// [`ExchangeConfigError::Key`] when the system random generator fails.
    ///
    /// See [`ClientKey`] for an example.
    pub fn generate() -> Result<Self, ExchangeConfigError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| ExchangeConfigError::Key("could not generate a P-256 key"))?;
        Self::from_pair(pair)
    }

    /// A P-256 key pair from its PKCS #8 (DER) encoding.
    ///
    /// # Errors
    /// [`ExchangeConfigError::Key`] when `der` is not a P-256 PKCS #8 key.
    ///
    /// See [`ClientKey`] for an example.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, ExchangeConfigError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| ExchangeConfigError::Key("not a P-256 PKCS #8 key"))?;
        Self::from_pair(pair)
    }

    /// The PKCS #8 (DER) encoding of the key pair, to store it.
    ///
    /// # Errors
    /// [`ExchangeConfigError::Key`] when the key cannot be serialized.
    ///
    /// See [`ClientKey`] for an example.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, ExchangeConfigError> {
        self.pair
            .to_pkcs8v1()
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| ExchangeConfigError::Key("could not serialize the key"))
    }

    fn from_pair(pair: EcdsaKeyPair) -> Result<Self, ExchangeConfigError> {
        // The uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let (x, y) = point
            .get(1..)
            .filter(|xy| xy.len() == 64)
            .map(|xy| xy.split_at(32))
            .ok_or(ExchangeConfigError::Key("unexpected public key encoding"))?;
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64::encode(x), "y": b64::encode(y) });
        // The thumbprint by the same code that checks proofs' keys.
        let (_, thumbprint) =
            crate::jwt::key::VerifyingKey::from_proof_jwk(&jwk, &KeyPolicy::only(Algorithm::ES256))
                .map_err(|_| ExchangeConfigError::Key("public key refused"))?;
        Ok(ClientKey {
            pair,
            jwk,
            thumbprint,
            kid: None,
        })
    }

    /// Sets the `kid` put in client assertions' headers (the key's id in the
    /// JWK Set registered with the authorization server).
    ///
    /// ```
    /// let key = tower_bearer::exchange::ClientKey::generate().unwrap().with_kid("rs-1");
    /// assert_eq!(key.public_jwk()["kid"], "rs-1");
    /// ```
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The public key as a JWK (with `kid`, `alg` and `use` when a kid is
    /// set), to register with the authorization server.
    ///
    /// See [`ClientKey`] for an example.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.jwk.clone();
        if let Some(kid) = &self.kid {
            jwk["kid"] = kid.as_str().into();
            jwk["alg"] = "ES256".into();
            jwk["use"] = "sig".into();
        }
        jwk
    }

    /// The RFC 7638 SHA-256 thumbprint: the `cnf.jkt` of tokens bound to this key.
    ///
    /// See [`ClientKey`] for an example.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A DPoP proof (RFC 9449 §4.2) for `method` and `url` (without query or
    /// fragment), with `ath` for `access_token` on resource requests.
    pub(crate) fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Option<String> {
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
        let mut claims = json!({
            "jti": random_id()?,
            "htm": method,
            "htu": url,
            "iat": time::unix_seconds(SystemTime::now()),
        });
        if let Some(token) = access_token {
            claims["ath"] = b64::encode(digest::sha256(token.as_bytes())).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        self.sign(&header, &claims)
    }

    /// A `private_key_jwt` client assertion (RFC 7523 §3) for `client_id` at
    /// `audience` (the token endpoint).
    pub(crate) fn client_assertion(&self, client_id: &str, audience: &str) -> Option<String> {
        let mut header = json!({ "typ": "JWT", "alg": "ES256" });
        if let Some(kid) = &self.kid {
            header["kid"] = kid.as_str().into();
        }
        let now = time::unix_seconds(SystemTime::now());
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": random_id()?,
            "iat": now,
            "exp": now.saturating_add(ASSERTION_TTL.as_secs()),
        });
        self.sign(&header, &claims)
    }

    fn sign(&self, header: &Value, claims: &Value) -> Option<String> {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string()),
            b64::encode(claims.to_string())
        );
        let signature = self.pair.sign(&SystemRandom::new(), input.as_bytes()).ok()?;
        Some(format!("{input}.{}", b64::encode(signature.as_ref())))
    }
}

/// 128 random bits, base64url: a `jti`.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(b64::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::key::VerifyingKey;

    fn payload(jws: &str) -> Value {
        let part = jws.split('.').nth(1).unwrap();
        serde_json::from_slice(&b64::decode(part.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn proofs_and_assertions_verify_with_the_public_key() {
        let key = ClientKey::generate().unwrap().with_kid("k1");
        let public = VerifyingKey::from_jwk(&key.public_jwk(), &KeyPolicy::only(Algorithm::ES256)).unwrap();
        let proof = key
            .dpop_proof("GET", "https://rs.example/api", Some("t0ken"), None)
            .unwrap();
        let assertion = key.client_assertion("rs", "https://as.example/token").unwrap();
        for jws in [&proof, &assertion] {
            let (input, signature) = jws.rsplit_once('.').unwrap();
            let signature = b64::decode(signature.as_bytes()).unwrap();
            public
                .verify(Algorithm::ES256, input.as_bytes(), &signature)
                .unwrap();
            let mut tampered = signature.clone();
            tampered[0] ^= 1;
            assert!(
                public
                    .verify(Algorithm::ES256, input.as_bytes(), &tampered)
                    .is_err()
            );
        }
        let claims = payload(&proof);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["ath"], b64::encode(digest::sha256(b"t0ken")));
        let claims = payload(&assertion);
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str()),
            (Some("rs"), Some("rs"))
        );
        assert_eq!(claims["aud"], "https://as.example/token");
        assert_ne!(
            payload(&key.client_assertion("rs", "a").unwrap())["jti"],
            claims["jti"]
        );
    }
}

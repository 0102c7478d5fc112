//! The development issuer's key material: its signing key (held by
//! `jsonwebtoken`) and random values.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use serde_json::Value;

use tower_bearer::__private::b64;
use tower_bearer::jwt::Algorithm;

/// `bytes` random bytes, base64url.
pub(super) fn random_string(bytes: usize) -> std::io::Result<String> {
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
pub(super) struct SigningKey {
    pub(super) alg: Algorithm,
    algorithm: jsonwebtoken::Algorithm,
    key: jsonwebtoken::EncodingKey,
    jwk: Value,
}

impl SigningKey {
    pub(super) fn generate(algorithm: Algorithm) -> std::io::Result<Self> {
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
    pub(super) fn encode(&self, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(self.algorithm);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).expect("signing with the issuer's own key")
    }

    /// The base64url signature over `message`.
    pub(super) fn sign(&self, message: &[u8]) -> String {
        jsonwebtoken::crypto::sign(message, &self.key, self.algorithm)
            .expect("signing with the issuer's own key")
    }

    /// The public JWK (`kty`, key material, `alg`), as `jsonwebtoken` derives it.
    pub(super) fn public_jwk(&self) -> Value {
        self.jwk.clone()
    }
}

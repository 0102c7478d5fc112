//! Key policy and verification keys parsed once from a JWK Set.
//!
//! Each JWK is read into `jsonwebtoken`'s model of RFC 7517
//! ([`jsonwebtoken::jwk::Jwk`]); the crate's key policy is applied on top, and
//! the public key is then parsed once into an aws-lc-rs key. Two rules need the
//! JWK's JSON object itself, because that model has no place for what they
//! look at:
//!
//! - **private members**: the model keeps only public parameters, so
//!   `{"kty":"RSA","n":"…","e":"AQAB","d":"…"}` reads as a public RSA key and
//!   its `d` is dropped unseen. A key set that publishes private material is
//!   broken (or leaking), and the key is refused ([`KeyError::Private`]);
//! - **duplicate members**: the strict reader refuses
//!   `{"kty":"EC","kty":"RSA",…}` before the model sees it (the model would
//!   keep one of the two).
//!
//! The model holds key material as base64url text (`n`, `e`, `x`, `y`): its
//! decoding (canonical only, exact coordinate lengths), the RSA strength checks
//! and the DER the aws-lc-rs parser takes are this module's.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::signature::ParsedPublicKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, EllipticCurveKeyParameters, Jwk, KeyAlgorithm, KeyOperations,
    OctetKeyPairParameters, PublicKeyUse, RSAKeyParameters,
};
use serde::Deserialize as _;
use serde_json::Value;

use super::Algorithm;
use crate::InvalidToken;
use crate::b64;

/// Most keys accepted in one JWK Set.
pub const MAX_KEYS: usize = 100;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Which algorithms keys may be used with. The default is
/// {RS256, PS256, ES256, EdDSA}; RS384/RS512/PS384/PS512/ES384 are opt-in.
/// HMAC algorithms and `none` cannot be named ([`Algorithm`] has no such
/// variant): JWKS keys are public.
///
/// ```
/// use tower_bearer::jwt::{Algorithm, KeyPolicy};
/// let policy = KeyPolicy::default().allow(Algorithm::ES384);
/// assert!(policy.allows(Algorithm::ES384));
/// assert!(!KeyPolicy::default().allows(Algorithm::RS512));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    allowed: Vec<Algorithm>,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy {
            allowed: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
        }
    }
}

impl fmt::Debug for KeyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.allowed).finish()
    }
}

impl KeyPolicy {
    /// A policy allowing `algorithm` alone; add more with [`allow`](Self::allow).
    /// Never empty: a verifier that accepts no algorithm cannot be configured.
    ///
    /// ```
    /// use tower_bearer::jwt::{Algorithm, KeyPolicy};
    /// let only_es256 = KeyPolicy::only(Algorithm::ES256);
    /// assert!(!only_es256.allows(Algorithm::RS256));
    /// assert!(only_es256.allow(Algorithm::EdDSA).allows(Algorithm::EdDSA));
    /// ```
    pub fn only(algorithm: Algorithm) -> Self {
        KeyPolicy { allowed: Vec::new() }.allow(algorithm)
    }

    /// Also allows `algorithm`.
    ///
    /// ```
    /// use tower_bearer::jwt::{Algorithm, KeyPolicy};
    /// assert!(KeyPolicy::default().allow(Algorithm::PS512).allows(Algorithm::PS512));
    /// ```
    #[must_use]
    pub fn allow(mut self, algorithm: Algorithm) -> Self {
        if !self.allowed.contains(&algorithm) {
            self.allowed.push(algorithm);
        }
        self
    }

    /// The allowed algorithms, in the order they were allowed.
    ///
    /// ```
    /// use tower_bearer::jwt::{Algorithm, KeyPolicy};
    /// let policy = KeyPolicy::only(Algorithm::ES256).allow(Algorithm::EdDSA);
    /// assert_eq!(policy.algorithms().collect::<Vec<_>>(), [Algorithm::ES256, Algorithm::EdDSA]);
    /// ```
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.allowed.iter().copied()
    }

    /// Whether `algorithm` is allowed.
    ///
    /// ```
    /// use tower_bearer::jwt::{Algorithm, KeyPolicy};
    /// assert!(KeyPolicy::default().allows(Algorithm::EdDSA));
    /// ```
    pub fn allows(&self, algorithm: Algorithm) -> bool {
        self.allowed.contains(&algorithm)
    }

    /// Parses a header `alg` value: only names of allowed algorithms, case-sensitive
    /// (so `none`, `NONE`, `HS256` are refused).
    pub(crate) fn algorithm_named(&self, name: &str) -> Option<Algorithm> {
        let alg: Algorithm = name.parse().ok()?;
        self.allows(alg).then_some(alg)
    }
}

/// Why a JWK or JWK Set was refused.
///
/// ```
/// use tower_bearer::__private::{KeyError, VerifyingKey};
/// use tower_bearer::jwt::KeyPolicy;
/// let oct = serde_json::json!({"kty": "oct", "k": "c2VjcmV0"});
/// assert_eq!(VerifyingKey::from_jwk(&oct, &KeyPolicy::default()).unwrap_err(), KeyError::Symmetric);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a JSON object, not a JWK (RFC 7517: a member of the wrong type,
    /// `kty` missing), or key material that is not canonical base64url or
    /// of the wrong length.
    #[error("malformed JWK: {0}")]
    Malformed(&'static str),
    /// `kty: oct`: symmetric keys are never accepted from a key set.
    #[error("symmetric (oct) keys are not accepted")]
    Symmetric,
    /// The JWK carries private key material.
    #[error("JWK contains private key members")]
    Private,
    /// `use` is present and is not `sig`, or `key_ops` lacks `verify`.
    #[error("JWK is not for verifying signatures (use / key_ops)")]
    NotForSignatures,
    /// Key type or curve not supported, or not allowed by the policy.
    #[error("unsupported key type, curve or algorithm")]
    Unsupported,
    /// RSA modulus below [`MIN_RSA_BITS`], or one with the ROCA fingerprint
    /// (CVE-2017-15361: generated by a flawed library, factorable).
    #[error("weak RSA key (shorter than {MIN_RSA_BITS} bits, or ROCA-fingerprinted)")]
    WeakKey,
    /// The key material does not parse (e.g. a point not on the curve).
    #[error("key material rejected")]
    Rejected,
    /// The set is not `{"keys": [...]}`, has too many keys, or no usable key.
    #[error("malformed JWK Set: {0}")]
    Set(&'static str),
}

/// A public key from a JWK, parsed once and ready to verify signatures.
///
/// Bound to the algorithms its JWK and the [`KeyPolicy`] allow: an RSA key
/// without `alg` may verify RS256 and PS256 (when allowed), never ES256.
///
/// ```
/// use tower_bearer::__private::VerifyingKey;
/// use tower_bearer::jwt::{Algorithm, KeyPolicy};
/// let jwk = serde_json::json!({
///     "kty": "OKP", "crv": "Ed25519", "kid": "k1",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// });
/// let key = VerifyingKey::from_jwk(&jwk, &KeyPolicy::default()).unwrap();
/// assert_eq!(key.kid(), Some("k1"));
/// assert!(key.algorithms().any(|a| a == Algorithm::EdDSA));
/// ```
pub struct VerifyingKey {
    kid: Option<String>,
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
    /// SHA-256 of the public key material: the same key in a later set.
    fingerprint: [u8; 32],
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish()
    }
}

/// Private-key members of RFC 7518 §6 (RSA, EC, OKP) and the `oct` secret.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl VerifyingKey {
    /// Parses a JWK (a JSON object) under `policy`.
    ///
    /// See [`VerifyingKey`] for an example.
    pub fn from_jwk(jwk: &Value, policy: &KeyPolicy) -> Result<Self, KeyError> {
        Self::parse(jwk, policy).map(|(key, _)| key)
    }

    /// A DPoP proof's `jwk` header (RFC 9449 §4.2): the same rules as a key-set
    /// key, and its RFC 7638 SHA-256 thumbprint (computed by `jsonwebtoken`).
    pub(crate) fn from_proof_jwk(jwk: &Value, policy: &KeyPolicy) -> Result<(Self, String), KeyError> {
        let (key, model) = Self::parse(jwk, policy)?;
        let thumbprint = model
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .map_err(|_| KeyError::Unsupported)?;
        Ok((key, thumbprint))
    }

    fn parse(jwk: &Value, policy: &KeyPolicy) -> Result<(Self, Jwk), KeyError> {
        let obj = jwk.as_object().ok_or(KeyError::Malformed("not an object"))?;
        if obj.get("kty").is_some_and(|k| k == "oct") {
            return Err(KeyError::Symmetric);
        }
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err(KeyError::Private);
        }
        let jwk = Jwk::deserialize(jwk).map_err(|_| KeyError::Malformed("not a JWK (RFC 7517)"))?;
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != PublicKeyUse::Signature)
        {
            return Err(KeyError::NotForSignatures);
        }
        if jwk
            .common
            .key_operations
            .as_ref()
            .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
        {
            return Err(KeyError::NotForSignatures);
        }
        let declared = jwk.common.key_algorithm.map(algorithm_of).transpose()?;
        let (bytes, family): (Vec<u8>, &[Algorithm]) = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => (rsa_public_key_der(rsa)?, &RSA_ALGS),
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => (ec_point(ec, 32)?, &[Algorithm::ES256]),
                EllipticCurve::P384 => (ec_point(ec, 48)?, &[Algorithm::ES384]),
                _ => return Err(KeyError::Unsupported),
            },
            AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                curve: EllipticCurve::Ed25519,
                x,
                ..
            }) => (b64_member(x, "x", Some(32))?, &[Algorithm::EdDSA]),
            // `oct` was refused above; `Other` is any other `kty`, or none.
            _ => return Err(KeyError::Unsupported),
        };
        let mut parsed = Vec::new();
        for &alg in family {
            if !policy.allows(alg) || declared.is_some_and(|d| d != alg) {
                continue;
            }
            let key = ParsedPublicKey::new(alg.verification(), &bytes).map_err(|_| KeyError::Rejected)?;
            parsed.push((alg, key));
        }
        if parsed.is_empty() {
            return Err(KeyError::Unsupported);
        }
        let key = VerifyingKey {
            kid: jwk.common.key_id.clone(),
            parsed,
            fingerprint: crate::digest::sha256(&bytes),
        };
        Ok((key, jwk))
    }

    /// SHA-256 of the key material (the same key, whatever its `kid`).
    pub(crate) fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The key id (`kid`), if the JWK had one.
    ///
    /// See [`VerifyingKey`] for an example.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify.
    ///
    /// See [`VerifyingKey`] for an example.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.parsed.iter().map(|(a, _)| *a)
    }

    /// Whether this key may verify `algorithm`.
    ///
    /// ```
    /// use tower_bearer::__private::VerifyingKey;
    /// use tower_bearer::jwt::{Algorithm, KeyPolicy};
    /// let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    /// let key = VerifyingKey::from_jwk(&jwk, &KeyPolicy::default()).unwrap();
    /// assert!(!key.supports(Algorithm::RS256));
    /// ```
    pub fn supports(&self, algorithm: Algorithm) -> bool {
        self.parsed.iter().any(|(a, _)| *a == algorithm)
    }

    /// Verifies `signature` over `message` with `algorithm`.
    ///
    /// Errors: [`InvalidToken::Algorithm`] when the key may not be used with
    /// `algorithm`, [`InvalidToken::Signature`] when the signature does not verify.
    ///
    /// ```
    /// use tower_bearer::{InvalidToken, __private::VerifyingKey, jwt::{Algorithm, KeyPolicy}};
    /// let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    /// let key = VerifyingKey::from_jwk(&jwk, &KeyPolicy::default()).unwrap();
    /// assert_eq!(key.verify(Algorithm::EdDSA, b"msg", &[0; 64]), Err(InvalidToken::Signature));
    /// assert_eq!(key.verify(Algorithm::ES256, b"msg", &[0; 64]), Err(InvalidToken::Algorithm));
    /// ```
    pub fn verify(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), InvalidToken> {
        let (_, key) = self
            .parsed
            .iter()
            .find(|(a, _)| *a == algorithm)
            .ok_or(InvalidToken::Algorithm)?;
        key.verify_sig(message, signature)
            .map_err(|_| InvalidToken::Signature)
    }
}

const RSA_ALGS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::RS384,
    Algorithm::PS384,
    Algorithm::RS512,
    Algorithm::PS512,
];

/// A JWK's declared `alg`: one of ours, or the key is not usable for
/// verifying JWS (HMAC, encryption or unknown algorithms).
fn algorithm_of(declared: KeyAlgorithm) -> Result<Algorithm, KeyError> {
    Ok(match declared {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return Err(KeyError::Unsupported),
    })
}

/// Key material: canonical unpadded base64url (the crate's one decoder), of
/// `len` bytes when given.
fn b64_member(text: &str, name: &'static str, len: Option<usize>) -> Result<Vec<u8>, KeyError> {
    let bytes = b64::decode(text.as_bytes()).ok_or(KeyError::Malformed(name))?;
    if len.is_some_and(|l| l != bytes.len()) {
        return Err(KeyError::Malformed(name));
    }
    Ok(bytes)
}

fn ec_point(ec: &EllipticCurveKeyParameters, coordinate_len: usize) -> Result<Vec<u8>, KeyError> {
    let x = b64_member(&ec.x, "x", Some(coordinate_len))?;
    let y = b64_member(&ec.y, "y", Some(coordinate_len))?;
    let mut point = Vec::with_capacity(1 + 2 * coordinate_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(point)
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(rsa: &RSAKeyParameters) -> Result<Vec<u8>, KeyError> {
    let n = b64_member(&rsa.n, "n", None)?;
    let e = b64_member(&rsa.e, "e", None)?;
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    if n.is_empty() || e.is_empty() {
        return Err(KeyError::Malformed("n"));
    }
    let bits = n.len() * 8 - n[0].leading_zeros() as usize;
    if bits < MIN_RSA_BITS || has_roca_fingerprint(n) {
        return Err(KeyError::WeakKey);
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_integer(&mut body, n);
    der_integer(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    der_len(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

/// The ROCA test (Nemec et al., CCS 2017): moduli from the flawed Infineon
/// generator are ≡ 65537^k modulo each of these small primes. A random modulus
/// passes all of them with negligible probability.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101,
        103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = n.iter().fold(0u32, |r, &b| (r * 256 + u32::from(b)) % p);
        // Walk the subgroup generated by 65537 mod p.
        let generator = 65537 % p;
        let mut power = 1;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 {
                return false;
            }
        }
    })
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n..]
}

fn der_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
    out.push(0x02);
    let pad = magnitude[0] & 0x80 != 0;
    der_len(out, magnitude.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
}

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// A JWK Set parsed under a [`KeyPolicy`]: unusable keys are skipped, usable ones
/// are parsed once.
///
/// ```
/// use tower_bearer::__private::KeySet;
/// use tower_bearer::jwt::KeyPolicy;
/// let jwks = br#"{"keys": [
///     {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
///     {"kty": "oct", "kid": "b", "k": "c2VjcmV0"}
/// ]}"#;
/// let set = KeySet::from_jwks(jwks, &KeyPolicy::default()).unwrap();
/// assert_eq!(set.len(), 1);
/// assert!(set.get("a").is_some());
/// assert!(set.get("b").is_none());
/// ```
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    by_kid: HashMap<String, usize>,
}

impl KeySet {
    /// Builds a set from parsed keys. A later key with an already used `kid` is
    /// ignored (a `kid` must name one key).
    ///
    /// ```
    /// use tower_bearer::__private::KeySet;
    /// assert!(KeySet::new(Vec::new()).is_empty());
    /// ```
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        let mut set = KeySet::default();
        for key in keys {
            if let Some(kid) = &key.kid {
                if set.by_kid.contains_key(kid) {
                    continue;
                }
                set.by_kid.insert(kid.clone(), set.keys.len());
            }
            set.keys.push(key);
        }
        set
    }

    /// Parses a JWK Set document. Keys the policy refuses are skipped (and logged
    /// at debug level); a document with more than [`MAX_KEYS`] keys or no usable
    /// key is an error.
    ///
    /// See [`KeySet`] for an example.
    pub fn from_jwks(json: &[u8], policy: &KeyPolicy) -> Result<Self, KeyError> {
        // Each entry is read on its own by the strict reader (duplicate members
        // refuse that key only); two `keys` members refuse the document.
        #[derive(serde::Deserialize)]
        struct Document<'a> {
            #[serde(borrow)]
            keys: Vec<&'a serde_json::value::RawValue>,
        }
        let doc: Document<'_> = serde_json::from_slice(json).map_err(|_| KeyError::Set("not a JWK Set"))?;
        if doc.keys.len() > MAX_KEYS {
            return Err(KeyError::Set("too many keys"));
        }
        let mut parsed = Vec::with_capacity(doc.keys.len());
        for raw in doc.keys {
            let Some(jwk) = super::json::object(raw.get().as_bytes()) else {
                tracing::debug!("JWK skipped: not a JSON object, or duplicate member names");
                continue;
            };
            let jwk = Value::Object(jwk);
            match VerifyingKey::from_jwk(&jwk, policy) {
                Ok(key) => parsed.push(key),
                Err(error) => tracing::debug!(%error, kid = ?jwk.get("kid"), "JWK skipped"),
            }
        }
        if parsed.is_empty() {
            return Err(KeyError::Set("no usable key"));
        }
        Ok(KeySet::new(parsed))
    }

    /// Whether the set holds the key with this [`VerifyingKey::fingerprint`].
    pub(crate) fn holds(&self, fingerprint: &[u8; 32]) -> bool {
        self.keys.iter().any(|k| k.fingerprint == *fingerprint)
    }

    /// The key with this `kid`.
    ///
    /// See [`KeySet`] for an example.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.by_kid.get(kid).map(|&i| &self.keys[i])
    }

    /// All keys.
    ///
    /// ```
    /// use tower_bearer::__private::KeySet;
    /// assert_eq!(KeySet::default().iter().count(), 0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> + '_ {
        self.keys.iter()
    }

    /// Number of keys.
    ///
    /// See [`KeySet`] for an example.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when the set has no key.
    ///
    /// ```
    /// assert!(tower_bearer::__private::KeySet::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_key_thumbprint_is_rfc7638s() {
        // RFC 7638 §3.1.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let (_, thumbprint) = VerifyingKey::from_proof_jwk(&jwk, &KeyPolicy::default()).unwrap();
        assert_eq!(thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        let mut private = jwk.clone();
        private["d"] = "AAAA".into();
        assert_eq!(
            VerifyingKey::from_proof_jwk(&private, &KeyPolicy::default()).unwrap_err(),
            KeyError::Private
        );
    }

    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    use serde_json::json;

    fn rsa_jwk(size: KeySize) -> Value {
        let kp = KeyPair::generate(size).unwrap();
        let public = kp.public_key();
        let n = public.modulus().big_endian_without_leading_zero();
        let e = public.exponent().big_endian_without_leading_zero();
        json!({"kty": "RSA", "n": b64::encode(n), "e": b64::encode(e)})
    }

    #[test]
    fn rsa_key_without_alg_allows_rs256_and_ps256_only_by_default() {
        let key = VerifyingKey::from_jwk(&rsa_jwk(KeySize::Rsa2048), &KeyPolicy::default()).unwrap();
        assert_eq!(
            key.algorithms().collect::<Vec<_>>(),
            [Algorithm::RS256, Algorithm::PS256]
        );
        let opt_in = KeyPolicy::default().allow(Algorithm::RS512);
        let key = VerifyingKey::from_jwk(&rsa_jwk(KeySize::Rsa2048), &opt_in).unwrap();
        assert!(key.supports(Algorithm::RS512));
    }

    #[test]
    fn declared_alg_binds_the_key() {
        let mut jwk = rsa_jwk(KeySize::Rsa2048);
        jwk["alg"] = "PS256".into();
        let key = VerifyingKey::from_jwk(&jwk, &KeyPolicy::default()).unwrap();
        assert_eq!(key.algorithms().collect::<Vec<_>>(), [Algorithm::PS256]);
        jwk["alg"] = "ES256".into();
        assert_eq!(
            VerifyingKey::from_jwk(&jwk, &KeyPolicy::default()).unwrap_err(),
            KeyError::Unsupported
        );
        jwk["alg"] = "HS256".into();
        assert_eq!(
            VerifyingKey::from_jwk(&jwk, &KeyPolicy::default()).unwrap_err(),
            KeyError::Unsupported
        );
    }

    #[test]
    fn weak_private_symmetric_and_encryption_keys_are_refused() {
        let p = KeyPolicy::default();
        assert_eq!(
            VerifyingKey::from_jwk(&rsa_jwk(KeySize::Rsa2048), &p).map(|_| ()),
            Ok(())
        );
        let mut private = rsa_jwk(KeySize::Rsa2048);
        private["d"] = "AQAB".into();
        assert_eq!(
            VerifyingKey::from_jwk(&private, &p).unwrap_err(),
            KeyError::Private
        );
        let mut enc = rsa_jwk(KeySize::Rsa2048);
        enc["use"] = "enc".into();
        assert_eq!(
            VerifyingKey::from_jwk(&enc, &p).unwrap_err(),
            KeyError::NotForSignatures
        );
        assert_eq!(
            VerifyingKey::from_jwk(&json!({"kty": "oct", "k": "AAAA"}), &p).unwrap_err(),
            KeyError::Symmetric
        );
        // A 1024-bit modulus (top bit set), built by hand.
        let n = b64::encode([0xc1; 128]);
        let weak = json!({"kty": "RSA", "n": n, "e": "AQAB"});
        assert_eq!(VerifyingKey::from_jwk(&weak, &p).unwrap_err(), KeyError::WeakKey);
    }

    #[test]
    fn key_ops_must_allow_verify() {
        let p = KeyPolicy::default();
        let with_ops = |ops: Value| {
            let mut jwk = rsa_jwk(KeySize::Rsa2048);
            jwk["key_ops"] = ops;
            VerifyingKey::from_jwk(&jwk, &p).map(|_| ())
        };
        assert_eq!(with_ops(json!(["verify"])), Ok(()));
        assert_eq!(with_ops(json!(["sign", "verify"])), Ok(()));
        assert_eq!(
            with_ops(json!(["encrypt", "decrypt"])),
            Err(KeyError::NotForSignatures)
        );
        assert_eq!(with_ops(json!(["sign, verify"])), Err(KeyError::NotForSignatures));
        assert!(matches!(with_ops(json!("verify")), Err(KeyError::Malformed(_))));
        assert!(matches!(with_ops(json!([1])), Err(KeyError::Malformed(_))));
    }

    #[test]
    fn generated_keys_have_no_roca_fingerprint() {
        for _ in 0..3 {
            let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
            let n = kp.public_key().modulus().big_endian_without_leading_zero();
            assert!(!has_roca_fingerprint(n));
        }
        // 65537^k itself (k = 1) is in every subgroup: the test fires on it.
        assert!(has_roca_fingerprint(&[0x01, 0x00, 0x01]));
    }

    #[test]
    fn ec_point_off_curve_is_rejected() {
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64::encode([1; 32]), "y": b64::encode([2; 32])});
        assert_eq!(
            VerifyingKey::from_jwk(&jwk, &KeyPolicy::default()).unwrap_err(),
            KeyError::Rejected
        );
        let p384 = json!({"kty": "EC", "crv": "P-384", "x": b64::encode([1; 48]), "y": b64::encode([2; 48])});
        // Not allowed by default: refused before parsing.
        assert_eq!(
            VerifyingKey::from_jwk(&p384, &KeyPolicy::default()).unwrap_err(),
            KeyError::Unsupported
        );
    }

    #[test]
    fn key_set_limits() {
        let key = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let many = json!({"keys": vec![key.clone(); MAX_KEYS + 1]});
        let bytes = serde_json::to_vec(&many).unwrap();
        assert_eq!(
            KeySet::from_jwks(&bytes, &KeyPolicy::default()).unwrap_err(),
            KeyError::Set("too many keys")
        );
        assert!(KeySet::from_jwks(b"[]", &KeyPolicy::default()).is_err());
        assert!(KeySet::from_jwks(br#"{"keys":[{"kty":"oct","k":"AA"}]}"#, &KeyPolicy::default()).is_err());
    }

    #[test]
    fn private_members_are_seen_although_the_jwk_model_drops_them() {
        let p = KeyPolicy::default();
        for member in PRIVATE_MEMBERS {
            let mut jwk = rsa_jwk(KeySize::Rsa2048);
            jwk[member] = "AQAB".into();
            assert_eq!(
                VerifyingKey::from_jwk(&jwk, &p).unwrap_err(),
                KeyError::Private,
                "{member}"
            );
        }
        let ed = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "AA"});
        assert_eq!(VerifyingKey::from_jwk(&ed, &p).unwrap_err(), KeyError::Private);
    }

    #[test]
    fn curves_and_key_types_outside_the_policy_are_unsupported() {
        let p = KeyPolicy::default();
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        for jwk in [
            json!({"kty": "OKP", "crv": "X25519", "x": x}),
            json!({"kty": "OKP", "crv": "P-256", "x": x}),
            json!({"kty": "EC", "crv": "Ed25519", "x": x, "y": x}),
            json!({"kty": "EC", "crv": "P-521", "x": x, "y": x}),
            json!({"kty": "EC", "crv": "secp256k1", "x": x, "y": x}),
            json!({"kty": "AKP", "alg": "ML-DSA-44", "pub": x}),
            json!({"crv": "Ed25519", "x": x}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "ES256K"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "RSA-OAEP"}),
        ] {
            assert_eq!(
                VerifyingKey::from_jwk(&jwk, &p).unwrap_err(),
                KeyError::Unsupported,
                "{jwk}"
            );
        }
        for jwk in [
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": 7}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "use": ["sig"]}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": 1}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": format!("{x}=")}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": &x[..40]}),
        ] {
            assert!(
                matches!(VerifyingKey::from_jwk(&jwk, &p), Err(KeyError::Malformed(_))),
                "{jwk}"
            );
        }
    }
}

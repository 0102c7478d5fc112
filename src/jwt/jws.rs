//! Compact JWS (RFC 7515 §7.1): the checks made before any cryptography, then
//! the signature with a key from the issuer's key set.

use serde_json::{Map, Value};

use super::key::{KeyPolicy, KeySet};
use super::{Algorithm, b64, json};
use crate::InvalidToken;
use crate::extract::MAX_TOKEN_LEN;

/// A JWS whose signature verified: its protected header and payload.
///
/// ```
/// # use tower_bearer::jwt::VerifiedJws;
/// fn typ(jws: &VerifiedJws) -> Option<&str> {
///     jws.header().get("typ").and_then(|v| v.as_str())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    header: Map<String, Value>,
    algorithm: Algorithm,
    payload: Vec<u8>,
}

impl VerifiedJws {
    /// The protected header.
    ///
    /// See [`VerifiedJws`] for an example.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The algorithm the signature was verified with.
    ///
    /// ```
    /// # fn f(jws: &tower_bearer::jwt::VerifiedJws) {
    /// let _alg = jws.algorithm();
    /// # }
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The payload bytes (for a JWT, the claims set).
    ///
    /// ```
    /// # fn f(jws: &tower_bearer::jwt::VerifiedJws) {
    /// let claims: serde_json::Value = serde_json::from_slice(jws.payload()).unwrap_or_default();
    /// # }
    /// ```
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// The parts of a compact JWS that passed the pre-checks, before the signature.
pub(crate) struct Unverified<'a> {
    pub(crate) header: Map<String, Value>,
    pub(crate) algorithm: Algorithm,
    signing_input: &'a [u8],
    payload_b64: &'a [u8],
    signature_b64: &'a [u8],
}

impl<'a> Unverified<'a> {
    /// Pre-checks: size, exactly three segments, canonical base64url, a header that
    /// is a JSON object without duplicate members, an allowed `alg`, and no `crit`
    /// (no extension is understood, so any `crit` must be refused, RFC 7515 §4.1.11).
    pub(crate) fn parse(token: &'a str, policy: &KeyPolicy) -> Result<Self, InvalidToken> {
        let bytes = token.as_bytes();
        if bytes.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken::Malformed);
        }
        let mut dots = memchr_dots(bytes);
        let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
            return Err(InvalidToken::Malformed);
        };
        let header_bytes = b64::decode(&bytes[..first]).ok_or(InvalidToken::Malformed)?;
        let header = json::object(&header_bytes).ok_or(InvalidToken::Malformed)?;
        if header.contains_key("crit") {
            return Err(InvalidToken::Malformed);
        }
        let algorithm = match header.get("alg") {
            Some(Value::String(name)) => policy.algorithm_named(name).ok_or(InvalidToken::Algorithm)?,
            _ => return Err(InvalidToken::Malformed),
        };
        if let Some(kid) = header.get("kid")
            && !kid.is_string()
        {
            return Err(InvalidToken::Malformed);
        }
        Ok(Unverified {
            header,
            algorithm,
            signing_input: &bytes[..second],
            payload_b64: &bytes[first + 1..second],
            signature_b64: &bytes[second + 1..],
        })
    }

    /// The `kid` header, if any (a string: checked by [`Unverified::parse`]).
    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Verifies the signature with the key the header names (`kid`), or, without
    /// a `kid`, with the keys that support the algorithm. Header `jwk`, `jku`,
    /// `x5u` and `x5c` are never used to find a key. [`InvalidToken::UnknownKey`]
    /// means no key of the set could be tried (the set may need a refetch).
    pub(crate) fn verify_signature(&self, keys: &KeySet) -> Result<(), InvalidToken> {
        let signature = b64::decode(self.signature_b64).ok_or(InvalidToken::Malformed)?;
        if let Some(kid) = self.kid() {
            let key = keys.get(kid).ok_or(InvalidToken::UnknownKey)?;
            return key.verify(self.algorithm, self.signing_input, &signature);
        }
        let mut result = Err(InvalidToken::UnknownKey);
        for key in keys.iter().filter(|k| k.supports(self.algorithm)) {
            result = key.verify(self.algorithm, self.signing_input, &signature);
            if result.is_ok() {
                break;
            }
        }
        result
    }

    /// The payload, decoded (call after [`Unverified::verify_signature`]).
    pub(crate) fn into_verified(self) -> Result<VerifiedJws, InvalidToken> {
        let payload = b64::decode(self.payload_b64).ok_or(InvalidToken::Malformed)?;
        Ok(VerifiedJws {
            header: self.header,
            algorithm: self.algorithm,
            payload,
        })
    }

    /// The payload decoded *before* the signature is checked; only for choosing
    /// which issuer's keys to try.
    pub(crate) fn unverified_payload(&self) -> Option<Vec<u8>> {
        b64::decode(self.payload_b64)
    }
}

fn memchr_dots(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .map(|(i, _)| i)
}

/// Verifies a compact JWS against a key set: every pre-check of the JWT path and
/// the signature, but no claims check. The payload need not be JSON.
///
/// ```
/// use tower_bearer::{InvalidToken, jwt::{KeyPolicy, KeySet, verify_jws}};
/// let keys = KeySet::default();
/// assert_eq!(verify_jws("a.b", &keys, &KeyPolicy::default()).unwrap_err(), InvalidToken::Malformed);
/// // {"alg":"none"}
/// assert_eq!(
///     verify_jws("eyJhbGciOiJub25lIn0.e30.", &keys, &KeyPolicy::default()).unwrap_err(),
///     InvalidToken::Algorithm
/// );
/// ```
pub fn verify_jws(token: &str, keys: &KeySet, policy: &KeyPolicy) -> Result<VerifiedJws, InvalidToken> {
    let unverified = Unverified::parse(token, policy)?;
    unverified.verify_signature(keys)?;
    unverified.into_verified()
}

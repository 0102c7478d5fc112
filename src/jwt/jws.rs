//! Compact JWS (RFC 7515 §7.1): the checks made before any cryptography, then
//! the signature with a key from the issuer's key set.

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::Algorithm;
use super::claims::JwtType;
use super::json::{self, Name, Unique, member_bit};
use super::key::{KeyPolicy, KeySet, VerifyingKey};
use crate::InvalidToken;
use crate::b64;
use crate::extract::MAX_TOKEN_LEN;

/// A token without `kid` is tried against the keys of its algorithm only when the
/// set has at most this many (two: a key and its successor during a rotation).
/// With more, it is refused as signed by an unknown key, without any signature
/// check: issuers with larger sets name the key in `kid`.
///
/// ```
/// assert_eq!(tower_bearer::__private::MAX_KIDLESS_KEYS, 2);
/// ```
pub const MAX_KIDLESS_KEYS: usize = 2;

/// A JWS whose signature verified: its protected header and payload.
///
/// ```
/// # use tower_bearer::__private::VerifiedJws;
/// fn typ(jws: &VerifiedJws) -> Option<&str> {
///     jws.header().get("typ").and_then(|v| v.as_str())
/// }
/// ```
#[derive(Clone)]
pub struct VerifiedJws {
    header_json: Vec<u8>,
    header: OnceLock<Map<String, Value>>,
    algorithm: Algorithm,
    payload: Vec<u8>,
}

impl fmt::Debug for VerifiedJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedJws")
            .field("header", self.header())
            .field("algorithm", &self.algorithm)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl VerifiedJws {
    /// The protected header (parsed on first call).
    ///
    /// See [`VerifiedJws`] for an example.
    pub fn header(&self) -> &Map<String, Value> {
        // Checked to be a JSON object without duplicate members before the
        // signature was verified.
        self.header
            .get_or_init(|| json::object(&self.header_json).unwrap_or_default())
    }

    /// The algorithm the signature was verified with.
    ///
    /// ```
    /// # fn f(jws: &tower_bearer::__private::VerifiedJws) {
    /// let _alg = jws.algorithm();
    /// # }
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The payload bytes (for a JWT, the claims set).
    ///
    /// ```
    /// # fn f(jws: &tower_bearer::__private::VerifiedJws) {
    /// let claims: serde_json::Value = serde_json::from_slice(jws.payload()).unwrap_or_default();
    /// # }
    /// ```
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// The header members acted on, read in one pass that also refuses a repeated
/// member name at any depth.
#[derive(Default)]
struct Header<'a> {
    alg: Option<Cow<'a, str>>,
    kid: Option<Cow<'a, str>>,
    typ: Option<Cow<'a, str>>,
    crit: bool,
    nonce: bool,
}

impl<'de> Deserialize<'de> for Header<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Header<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
                fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
                    Ok(Some(map.next_value::<Name<'de>>()?.0))
                }
                /// The members acted on; a name's position is its bit.
                const MEMBERS: [&str; 5] = ["alg", "kid", "typ", "crit", "nonce"];
                let mut header = Header::default();
                let mut members = json::Members::default();
                while let Some(name) = map.next_key::<Name<'de>>()? {
                    match &*name.0 {
                        "alg" => {
                            header.alg = members
                                .known(member_bit!(MEMBERS, "alg"))
                                .and_then(|()| text(&mut map))?
                        }
                        "kid" => {
                            header.kid = members
                                .known(member_bit!(MEMBERS, "kid"))
                                .and_then(|()| text(&mut map))?
                        }
                        "typ" => {
                            header.typ = members
                                .known(member_bit!(MEMBERS, "typ"))
                                .and_then(|()| text(&mut map))?
                        }
                        "crit" => {
                            members.known(member_bit!(MEMBERS, "crit"))?;
                            map.next_value_seed(Unique { top: false })?;
                            header.crit = true;
                        }
                        // Entra's tokens for Microsoft APIs: only its presence matters.
                        "nonce" => {
                            members.known(member_bit!(MEMBERS, "nonce"))?;
                            map.next_value_seed(Unique { top: false })?;
                            header.nonce = true;
                        }
                        _ => {
                            map.next_value_seed(Unique { top: false })?;
                            members.other(name);
                        }
                    }
                }
                members.finish()?;
                Ok(header)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// The parts of a compact JWS that passed the pre-checks, before the signature.
pub struct Unverified<'a> {
    header_b64: &'a [u8],
    algorithm: Algorithm,
    kid: Option<String>,
    typ: JwtType,
    /// The header's `typ` as written, unless it is `at+jwt` (then [`JwtType`]
    /// says all): kept for the issuer's profile.
    typ_name: Option<Box<str>>,
    nonce: bool,
    signing_input: &'a [u8],
    payload_b64: &'a [u8],
    signature_b64: &'a [u8],
}

impl<'a> Unverified<'a> {
    /// Pre-checks: size, exactly three segments, canonical base64url, a header that
    /// is a JSON object without duplicate members whose `alg`, `kid` and `typ` are
    /// strings, an allowed `alg`, and no `crit` (no extension is understood, so
    /// any `crit` must be refused, RFC 7515 §4.1.11).
    pub fn parse(token: &'a str, policy: &KeyPolicy) -> Result<Self, InvalidToken> {
        let bytes = token.as_bytes();
        if bytes.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken::Malformed);
        }
        // memchr searches with SIMD where the CPU has it.
        let mut dots = memchr::memchr_iter(b'.', bytes);
        let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
            return Err(InvalidToken::Malformed);
        };
        let header_b64 = &bytes[..first];
        // Headers are small: decode on the stack, on the heap only when larger.
        let mut stack = [MaybeUninit::uninit(); 1024];
        let heap;
        let header_json = match b64::decode_into(header_b64, &mut stack) {
            Some(json) => json,
            None => {
                heap = b64::decode(header_b64).ok_or(InvalidToken::Malformed)?;
                &heap[..]
            }
        };
        // UTF-8 checked once, not string by string in the parser.
        let header_text = std::str::from_utf8(header_json).map_err(|_| InvalidToken::Malformed)?;
        let header: Header<'_> = serde_json::from_str(header_text).map_err(|_| InvalidToken::Malformed)?;
        if header.crit {
            return Err(InvalidToken::Malformed);
        }
        let alg = header.alg.ok_or(InvalidToken::Malformed)?;
        let algorithm = policy.algorithm_named(&alg).ok_or(InvalidToken::Algorithm)?;
        let kid = header.kid.map(Cow::into_owned);
        let typ = JwtType::of(header.typ.as_deref());
        let typ_name = match typ {
            JwtType::AccessToken => None,
            _ => header.typ.map(|t| t.into()),
        };
        Ok(Unverified {
            header_b64,
            algorithm,
            kid,
            typ,
            typ_name,
            nonce: header.nonce,
            signing_input: &bytes[..second],
            payload_b64: &bytes[first + 1..second],
            signature_b64: &bytes[second + 1..],
        })
    }

    /// The `kid` header, if any.
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Verifies the signature with the key the header names (`kid`), or, without
    /// a `kid`, with the keys that support the algorithm — only when the set has at
    /// most [`MAX_KIDLESS_KEYS`] of them, so a forged kid-less token costs at most
    /// that many signature checks. Header `jwk`, `jku`, `x5u` and `x5c` are never
    /// used to find a key. [`InvalidToken::UnknownKey`] means no key of the set
    /// could be tried (the set may need a refetch).
    pub(crate) fn verify_signature<'k>(&self, keys: &'k KeySet) -> Result<&'k VerifyingKey, InvalidToken> {
        // The longest signature of an allowed algorithm is RSA-8192's 1024 bytes.
        let mut buf = [MaybeUninit::uninit(); 1024];
        let signature = b64::decode_into(self.signature_b64, &mut buf).ok_or(InvalidToken::Malformed)?;
        if let Some(kid) = self.kid() {
            let key = keys.get(kid).ok_or(InvalidToken::UnknownKey)?;
            return key
                .verify(self.algorithm, self.signing_input, signature)
                .map(|()| key);
        }
        let candidates = || keys.iter().filter(|k| k.supports(self.algorithm));
        if candidates().nth(MAX_KIDLESS_KEYS).is_some() {
            return Err(InvalidToken::UnknownKey);
        }
        let mut result = Err(InvalidToken::UnknownKey);
        for key in candidates() {
            result = key
                .verify(self.algorithm, self.signing_input, signature)
                .map(|()| key);
            if result.is_ok() {
                break;
            }
        }
        result
    }

    /// The payload, decoded (call after [`Unverified::verify_signature`]).
    pub(crate) fn into_verified(self) -> Result<VerifiedJws, InvalidToken> {
        let header_json = b64::decode(self.header_b64).ok_or(InvalidToken::Malformed)?;
        let payload = self.decode_payload()?;
        Ok(VerifiedJws {
            header_json,
            header: OnceLock::new(),
            algorithm: self.algorithm,
            payload,
        })
    }

    /// The decoded payload (call after [`Unverified::verify_signature`]).
    pub fn decode_payload(&self) -> Result<Vec<u8>, InvalidToken> {
        b64::decode(self.payload_b64).ok_or(InvalidToken::Malformed)
    }

    /// The header's `typ`, if any.
    pub(crate) fn typ_name(&self) -> Option<&str> {
        match self.typ {
            JwtType::AccessToken => Some("at+jwt"),
            _ => self.typ_name.as_deref(),
        }
    }

    /// Whether the header has a `nonce` member (Entra's tokens for Microsoft APIs).
    pub(crate) fn has_header_nonce(&self) -> bool {
        self.nonce
    }

    /// The type the header's `typ` names.
    pub fn typ(&self) -> JwtType {
        self.typ
    }

    /// Which of `issuers` the payload's `iss` names, read *before* the
    /// signature is checked: only for choosing whose keys to try (the claims
    /// are checked after the signature). [`InvalidToken::Issuer`] when there
    /// is no `iss` or `position` finds none.
    pub fn select_issuer(&self, position: impl FnOnce(&str) -> Option<usize>) -> Result<usize, InvalidToken> {
        #[derive(serde::Deserialize)]
        struct Iss<'a> {
            #[serde(borrow)]
            iss: Option<Cow<'a, str>>,
        }
        let payload = b64::decode(self.payload_b64).ok_or(InvalidToken::Malformed)?;
        let iss = serde_json::from_slice::<Iss<'_>>(&payload)
            .map_err(|_| InvalidToken::Malformed)?
            .iss
            .ok_or(InvalidToken::Issuer)?;
        position(&iss).ok_or(InvalidToken::Issuer)
    }
}

/// Verifies a compact JWS against a key set: every pre-check of the JWT path and
/// the signature, but no claims check. The payload need not be JSON.
///
/// ```
/// use tower_bearer::{InvalidToken, __private::{KeySet, verify_jws}, jwt::KeyPolicy};
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: &str) -> Result<(Algorithm, Option<String>, bool), InvalidToken> {
        let token = format!("{}.e30.sig", b64::encode(header));
        Unverified::parse(&token, &KeyPolicy::default())
            .map(|u| (u.algorithm, u.kid.clone(), u.typ == JwtType::AccessToken))
    }

    #[test]
    fn header_rules() {
        assert_eq!(
            parse(r#"{"alg":"RS256","kid":"k","typ":"at+jwt","x":{"y":1}}"#),
            Ok((Algorithm::RS256, Some("k".into()), true))
        );
        assert_eq!(
            parse(r#"{"alg":"ES256","typ":"JWT"}"#),
            Ok((Algorithm::ES256, None, false))
        );
        for (header, error) in [
            (r#"{"alg":"none"}"#, InvalidToken::Algorithm),
            (r#"{"alg":"HS256"}"#, InvalidToken::Algorithm),
            (r#"{"alg":"rs256"}"#, InvalidToken::Algorithm),
            (r#"{"kid":"k"}"#, InvalidToken::Malformed),
            (r#"{"alg":1}"#, InvalidToken::Malformed),
            (r#"{"alg":"RS256","kid":7}"#, InvalidToken::Malformed),
            (r#"{"alg":"RS256","typ":null}"#, InvalidToken::Malformed),
            (
                r#"{"alg":"RS256","crit":["exp"],"exp":1}"#,
                InvalidToken::Malformed,
            ),
            (r#"{"alg":"RS256","alg":"RS256"}"#, InvalidToken::Malformed),
            (r#"{"alg":"RS256","kid":"k","kid":"k"}"#, InvalidToken::Malformed),
            (
                r#"{"alg":"RS256","typ":"JWT","\u0074yp":"JWT"}"#,
                InvalidToken::Malformed,
            ),
            (r#"{"alg":"RS256","x":1,"y":1,"x":1}"#, InvalidToken::Malformed),
            (r#"{"alg":"RS256","x":{"y":1,"y":2}}"#, InvalidToken::Malformed),
            (r#"["RS256"]"#, InvalidToken::Malformed),
        ] {
            assert_eq!(parse(header), Err(error), "{header}");
        }
        // Not UTF-8: malformed, in a member read here or in another one.
        for header in [
            &b"{\"alg\":\"RS256\",\"kid\":\"\xff\"}"[..],
            b"{\"alg\":\"RS256\",\"x\":\"\xc0\xaf\"}",
        ] {
            let token = format!("{}.e30.sig", b64::encode(header));
            let result = Unverified::parse(&token, &KeyPolicy::default()).map(|_| ());
            assert_eq!(result, Err(InvalidToken::Malformed), "{header:?}");
        }
    }
}

//! The DPoP proof JWT (RFC 9449 §4.2) and its checks (§4.3), in the order of
//! [the module table](super).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;

use http::Method;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::htu::{PublicUrl, Target};
use super::nonce::NonceCheck;
use super::{CheckedProof, Dpop, ProofError};
use crate::AuthError;
use crate::jwt::json::{self, Name, Unique, member_bit};
use crate::jwt::{Algorithm, VerifyingKey};
use crate::replay::ReplayKey;
use crate::{b64, digest, time};

/// The longest `DPoP` header accepted: 8 KiB, room for an RSA-4096 `jwk`.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// A token request's proof (RFC 9449 §5): checked against `url` (the token
/// endpoint), with no token to hash, and its `jti` recorded. The thumbprint
/// of the proof key on success.
pub async fn check_token_request(dpop: &Dpop, proof: &[u8], url: &PublicUrl) -> Result<String, AuthError> {
    let target = Target::Fixed(url, "");
    let proof =
        check(dpop, proof, &Method::POST, &target, None, SystemTime::now()).map_err(AuthError::DpopProof)?;
    proof.first_use(dpop).await?;
    Ok(proof.jkt)
}

pub(crate) fn check(
    dpop: &Dpop,
    proof: &[u8],
    method: &Method,
    target: &Target<'_>,
    token: Option<&str>,
    now: SystemTime,
) -> Result<CheckedProof, ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLong);
    }
    let mut segments = proof.split(|&b| b == b'.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(ProofError::Malformed);
    };
    // A client sends the same header (typ, alg, jwk) with every proof: what it
    // yields is kept by its digest, so the key is parsed and thumbprinted once.
    let digest = digest::sha256(header_b64);
    let (cached, header) = match dpop.keys.get(&digest) {
        Some(known) => (true, known),
        None => (false, Arc::new(header_key(dpop, header_b64)?)),
    };
    // Signatures and claims are small: decoded on the stack.
    let mut signature_buf = [MaybeUninit::uninit(); 1024];
    let signature = b64::decode_into(signature_b64, &mut signature_buf).ok_or(ProofError::Malformed)?;
    let signing_input = &proof[..header_b64.len() + 1 + payload_b64.len()];
    header
        .key
        .verify(header.algorithm, signing_input, signature)
        .map_err(|_| ProofError::Signature)?;
    // Only keys that signed a proof are kept.
    if !cached {
        dpop.keys.insert(digest, header.clone());
    }
    let jkt = header.jkt.clone();

    let mut claims_buf = [MaybeUninit::uninit(); 2048];
    let heap;
    let claims_json = match b64::decode_into(payload_b64, &mut claims_buf) {
        Some(json) => json,
        None => {
            heap = b64::decode(payload_b64).ok_or(ProofError::Malformed)?;
            &heap[..]
        }
    };
    let text = std::str::from_utf8(claims_json).map_err(|_| ProofError::Malformed)?;
    let claims: Claims<'_> = serde_json::from_str(text).map_err(|_| ProofError::Malformed)?;
    let jti = claims
        .jti
        .filter(|j| !j.is_empty())
        .ok_or(ProofError::Malformed)?;
    if claims.htm.as_deref() != Some(method.as_str()) {
        return Err(ProofError::Method);
    }
    if !claims.htu.is_some_and(|htu| target.matches(&htu)) {
        return Err(ProofError::Url);
    }
    let iat = claims.iat.ok_or(ProofError::Malformed)?;
    // A max age past the clock's range means "never too old".
    let until = iat.checked_add(dpop.max_age).unwrap_or_else(time::far_future);
    if time::is_expired(until, Duration::ZERO, now) {
        return Err(ProofError::Expired);
    }
    if time::is_not_yet_valid(iat, dpop.leeway, now) {
        return Err(ProofError::NotYetValid);
    }
    // `ath` binds the proof to the token it comes with (§4.3 item 12); a proof
    // for a token request (no token yet) has none to check.
    if let Some(token) = token {
        let ath = b64::encode(digest::sha256(token.as_bytes()));
        let presented = claims.ath.ok_or(ProofError::TokenHash)?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), ath.as_bytes()).is_err() {
            return Err(ProofError::TokenHash);
        }
    }
    let next_nonce = match dpop.nonces() {
        None => None,
        Some(nonces) => match claims.nonce {
            None => return Err(ProofError::NonceRequired),
            Some(nonce) => match nonces.check(&nonce, now) {
                NonceCheck::Current => None,
                NonceCheck::Previous => Some(nonces.fresh(now)),
                NonceCheck::Bad => return Err(ProofError::Nonce),
            },
        },
    };
    Ok(CheckedProof {
        replay: ReplayKey::new("dpop", &jkt, &jti),
        jkt,
        issued_at: iat,
        until,
        next_nonce,
    })
}

/// What a proof header yields: the checked key, its thumbprint, the algorithm.
pub(crate) struct ProofKey {
    key: VerifyingKey,
    jkt: String,
    algorithm: Algorithm,
}

/// The header checks: `typ`, no `crit`, `alg` on the allowlist, a public `jwk`
/// under the key policy that fits `alg`.
fn header_key(dpop: &Dpop, header_b64: &[u8]) -> Result<ProofKey, ProofError> {
    let header = object(header_b64)?;
    if !header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(ProofError::Type);
    }
    if header.contains_key("crit") {
        return Err(ProofError::Malformed);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(ProofError::Malformed)?;
    let algorithm = dpop.policy().algorithm_named(alg).ok_or(ProofError::Algorithm)?;
    let jwk = header.get("jwk").ok_or(ProofError::Key)?;
    let (key, jkt) = VerifyingKey::from_proof_jwk(jwk, dpop.policy()).map_err(|_| ProofError::Key)?;
    if !key.supports(algorithm) {
        return Err(ProofError::Algorithm);
    }
    Ok(ProofKey { key, jkt, algorithm })
}

fn object(segment: &[u8]) -> Result<Map<String, Value>, ProofError> {
    b64::decode(segment)
        .and_then(|json| json::object(&json))
        .ok_or(ProofError::Malformed)
}

/// The claims a proof is checked on (RFC 9449 §4.2), read strictly: a member
/// of the wrong type, or any member name twice at any depth, is malformed.
#[derive(Default)]
struct Claims<'a> {
    jti: Option<Cow<'a, str>>,
    htm: Option<Cow<'a, str>>,
    htu: Option<Cow<'a, str>>,
    iat: Option<SystemTime>,
    ath: Option<Cow<'a, str>>,
    nonce: Option<Cow<'a, str>>,
}

impl<'de> Deserialize<'de> for Claims<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Claims<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("DPoP proof claims")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims<'de>, A::Error> {
                fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
                    Ok(Some(map.next_value::<Name<'de>>()?.0))
                }
                /// The members acted on; a name's position is its bit.
                const MEMBERS: [&str; 6] = ["jti", "htm", "htu", "ath", "nonce", "iat"];
                let mut claims = Claims::default();
                let mut members = json::Members::default();
                while let Some(name) = map.next_key::<Name<'de>>()? {
                    match &*name.0 {
                        "jti" => {
                            claims.jti = members
                                .known(member_bit!(MEMBERS, "jti"))
                                .and_then(|()| text(&mut map))?
                        }
                        "htm" => {
                            claims.htm = members
                                .known(member_bit!(MEMBERS, "htm"))
                                .and_then(|()| text(&mut map))?
                        }
                        "htu" => {
                            claims.htu = members
                                .known(member_bit!(MEMBERS, "htu"))
                                .and_then(|()| text(&mut map))?
                        }
                        "ath" => {
                            claims.ath = members
                                .known(member_bit!(MEMBERS, "ath"))
                                .and_then(|()| text(&mut map))?
                        }
                        "nonce" => {
                            claims.nonce = members
                                .known(member_bit!(MEMBERS, "nonce"))
                                .and_then(|()| text(&mut map))?
                        }
                        "iat" => {
                            members.known(member_bit!(MEMBERS, "iat"))?;
                            claims.iat = Some(map.next_value::<time::NumericDate>()?.0);
                        }
                        _ => {
                            map.next_value_seed(Unique { top: false })?;
                            members.other(name);
                        }
                    }
                }
                members.finish()?;
                Ok(claims)
            }
        }
        deserializer.deserialize_map(V)
    }
}

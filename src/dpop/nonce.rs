//! Server nonces (RFC 9449 §9) that need no shared state: a nonce is the
//! number of a time slice and an HMAC-SHA256 of it, accepted during its slice
//! and the next. Replicas configured with one key accept each other's nonces.

use std::time::{Duration, SystemTime};

use aws_lc_rs::hmac;
use http::HeaderValue;

use crate::b64;
use crate::time;

const MAC_LEN: usize = 16;
const NONCE_LEN: usize = 8 + MAC_LEN;

/// Whether a presented nonce is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// Issued in the current slice.
    Current,
    /// Issued in the previous slice: accepted, and a fresh one is sent back.
    Previous,
    /// Unknown, forged or too old.
    Bad,
}

pub(crate) struct Nonces {
    key: hmac::Key,
    raw_key: Vec<u8>,
    lifetime: Duration,
}

pub(crate) fn random_key() -> [u8; 32] {
    let mut key = [0; 32];
    aws_lc_rs::rand::fill(&mut key).expect("the system random number generator works");
    key
}

/// The shortest nonce key accepted (checked by `Dpop::server_nonce_key`).
pub(crate) const MIN_KEY_LEN: usize = 32;

impl Nonces {
    /// Nonces under `key` (at least [`MIN_KEY_LEN`] bytes, checked by the caller).
    pub(crate) fn new(key: &[u8], lifetime: Duration) -> Self {
        Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            raw_key: key.to_vec(),
            lifetime: lifetime.max(Duration::from_secs(1)),
        }
    }

    pub(crate) fn with_lifetime(&self, lifetime: Duration) -> Self {
        Self::new(&self.raw_key, lifetime)
    }

    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn slice(&self, now: SystemTime) -> u64 {
        time::unix_seconds(now) / self.lifetime.as_secs().max(1)
    }

    fn mac(&self, slice: u64) -> [u8; MAC_LEN] {
        let tag = hmac::sign(&self.key, &slice.to_be_bytes());
        let mut out = [0; MAC_LEN];
        out.copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        out
    }

    /// The nonce of the current slice.
    pub(crate) fn fresh(&self, now: SystemTime) -> HeaderValue {
        let slice = self.slice(now);
        let mut raw = [0; NONCE_LEN];
        raw[..8].copy_from_slice(&slice.to_be_bytes());
        raw[8..].copy_from_slice(&self.mac(slice));
        // base64url is visible ASCII.
        HeaderValue::try_from(b64::encode(raw)).expect("base64url is a valid header value")
    }

    pub(crate) fn check(&self, nonce: &str, now: SystemTime) -> NonceCheck {
        let Some(raw) = b64::decode(nonce.as_bytes()).filter(|r| r.len() == NONCE_LEN) else {
            return NonceCheck::Bad;
        };
        let mut slice = [0; 8];
        slice.copy_from_slice(&raw[..8]);
        let slice = u64::from_be_bytes(slice);
        let current = self.slice(now);
        let age = if slice == current {
            NonceCheck::Current
        } else if slice.checked_add(1) == Some(current) {
            NonceCheck::Previous
        } else {
            return NonceCheck::Bad;
        };
        match aws_lc_rs::constant_time::verify_slices_are_equal(&self.mac(slice), &raw[8..]) {
            Ok(()) => age,
            Err(_) => NonceCheck::Bad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn accepted_in_its_slice_and_the_next_only() {
        let nonces = Nonces::new(&[1; 32], Duration::from_secs(60));
        let nonce = nonces.fresh(at(6_000));
        let nonce = nonce.to_str().unwrap();
        assert_eq!(nonce.len(), 32);
        assert_eq!(nonces.check(nonce, at(6_059)), NonceCheck::Current);
        assert_eq!(nonces.check(nonce, at(6_060)), NonceCheck::Previous);
        assert_eq!(nonces.check(nonce, at(6_119)), NonceCheck::Previous);
        assert_eq!(nonces.check(nonce, at(6_120)), NonceCheck::Bad);
        assert_eq!(nonces.check(nonce, at(5_999)), NonceCheck::Bad, "from the future");
    }

    #[test]
    fn another_key_or_a_tampered_nonce_is_bad() {
        let nonces = Nonces::new(&[1; 32], Duration::from_secs(60));
        let other = Nonces::new(&[2; 32], Duration::from_secs(60));
        let nonce = other.fresh(at(6_000));
        assert_eq!(nonces.check(nonce.to_str().unwrap(), at(6_000)), NonceCheck::Bad);
        let shared = Nonces::new(&[2; 32], Duration::from_secs(60));
        assert_eq!(
            shared.check(nonce.to_str().unwrap(), at(6_000)),
            NonceCheck::Current
        );
        let mut tampered = nonces.fresh(at(6_000)).to_str().unwrap().to_owned().into_bytes();
        tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(nonces.check(&tampered, at(6_000)), NonceCheck::Bad);
        for junk in ["", "x", "not base64!", &"A".repeat(32), &"A".repeat(4096)] {
            assert_eq!(nonces.check(junk, at(6_000)), NonceCheck::Bad, "{junk}");
        }
    }
}

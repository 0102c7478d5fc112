//! Server nonces (RFC 9449 §9) that need no shared state: a nonce is the
//! number of a time slice and an HMAC-SHA256 of it, accepted during its slice
//! and the next. Replicas configured with one key accept each other's nonces.

use std::fmt;
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

/// The shortest [`NonceKey`] accepted, in bytes.
const MIN_KEY_LEN: usize = 32;

/// The secret behind stateless DPoP server nonces (RFC 9449 §9), for
/// [`Dpop::server_nonce_key`](super::Dpop::server_nonce_key): at least 32
/// random bytes, the same on every replica so that each accepts the others'
/// nonces. `Debug` shows nothing of the key.
///
/// ```
/// use tower_bearer::dpop::{Dpop, NonceKey, NonceKeyError};
///
/// let key = NonceKey::new([7; 32])?; // load the bytes from your secret store
/// assert!(!format!("{key:?}").contains('7'));
/// assert!(Dpop::allowed().server_nonce_key(key).uses_nonces());
/// assert_eq!(NonceKey::new([7; 16]).unwrap_err(), NonceKeyError::TooShort { len: 16 });
/// # Ok::<(), NonceKeyError>(())
/// ```
#[derive(Clone)]
pub struct NonceKey(hmac::Key);

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(redacted)")
    }
}

impl NonceKey {
    /// A key from secret bytes (at least 32).
    ///
    /// # Errors
    /// [`NonceKeyError::TooShort`] when `key` is shorter than 32 bytes.
    ///
    /// See [`NonceKey`] for an example.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Self, NonceKeyError> {
        let key = key.as_ref();
        if key.len() < MIN_KEY_LEN {
            return Err(NonceKeyError::TooShort { len: key.len() });
        }
        Ok(NonceKey(hmac::Key::new(hmac::HMAC_SHA256, key)))
    }

    /// A fresh random key of 32 bytes (one process only: another replica, or
    /// this one after a restart, does not accept its nonces).
    ///
    /// # Errors
    /// [`NonceKeyError::Random`] when the system random number generator fails.
    ///
    /// ```
    /// let key = tower_bearer::dpop::NonceKey::generate()?;
    /// # let _ = key;
    /// # Ok::<(), tower_bearer::dpop::NonceKeyError>(())
    /// ```
    pub fn generate() -> Result<Self, NonceKeyError> {
        let mut key = [0; MIN_KEY_LEN];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| NonceKeyError::Random)?;
        Self::new(key)
    }
}

/// Why a [`NonceKey`] was not made (a configuration error; the message never
/// shows key bytes).
///
/// ```
/// use tower_bearer::dpop::{NonceKey, NonceKeyError};
/// let err = NonceKey::new(b"short").unwrap_err();
/// assert_eq!(err, NonceKeyError::TooShort { len: 5 });
/// assert_eq!(err.to_string(), "DPoP server_nonce_key must be at least 32 bytes, got 5");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NonceKeyError {
    /// The key is shorter than 32 bytes (`len` is its length).
    #[error("DPoP server_nonce_key must be at least 32 bytes, got {len}")]
    TooShort {
        /// The length of the refused key, in bytes.
        len: usize,
    },
    /// The system random number generator failed ([`NonceKey::generate`],
    /// [`Dpop::server_nonces`](super::Dpop::server_nonces)).
    #[error("DPoP server_nonces: the system random number generator failed to make a nonce key")]
    Random,
}

pub(crate) struct Nonces {
    key: NonceKey,
    lifetime: Duration,
}

impl Nonces {
    pub(crate) fn new(key: NonceKey, lifetime: Duration) -> Self {
        Nonces {
            key,
            lifetime: lifetime.max(Duration::from_secs(1)),
        }
    }

    pub(crate) fn with_lifetime(&self, lifetime: Duration) -> Self {
        Self::new(self.key.clone(), lifetime)
    }

    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn slice(&self, now: SystemTime) -> u64 {
        time::unix_seconds(now) / self.lifetime.as_secs().max(1)
    }

    fn mac(&self, slice: u64) -> [u8; MAC_LEN] {
        let tag = hmac::sign(&self.key.0, &slice.to_be_bytes());
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

    fn keyed(byte: u8) -> Nonces {
        Nonces::new(NonceKey::new([byte; 32]).unwrap(), Duration::from_secs(60))
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn accepted_in_its_slice_and_the_next_only() {
        let nonces = keyed(1);
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
        let nonces = keyed(1);
        let other = keyed(2);
        let nonce = other.fresh(at(6_000));
        assert_eq!(nonces.check(nonce.to_str().unwrap(), at(6_000)), NonceCheck::Bad);
        let shared = keyed(2);
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

    #[test]
    fn a_key_under_32_bytes_is_refused() {
        for len in [0, 1, 31] {
            let err = NonceKey::new(vec![7; len]).unwrap_err();
            assert_eq!(err, NonceKeyError::TooShort { len });
            assert!(err.to_string().contains("server_nonce_key"), "{err}");
        }
        assert!(NonceKey::new([7; 32]).is_ok());
        assert!(NonceKey::new([7; 64]).is_ok());
        assert!(NonceKey::generate().is_ok());
        // Not reachable on demand (the RNG does not fail on command): the
        // message names the setting.
        assert!(NonceKeyError::Random.to_string().contains("server_nonces"));
    }

    #[test]
    fn lifetime_is_at_least_a_second_and_any_lifetime_works() {
        let key = NonceKey::new([1; 32]).unwrap();
        assert_eq!(
            Nonces::new(key.clone(), Duration::ZERO).lifetime(),
            Duration::from_secs(1)
        );
        for lifetime in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
            let n = Nonces::new(key.clone(), lifetime);
            let nonce = n.fresh(at(6_000));
            assert_eq!(n.check(nonce.to_str().unwrap(), at(6_000)), NonceCheck::Current);
        }
    }
}

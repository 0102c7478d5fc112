//! [`StateSealer`]: request state sealed for one principal (multi-round-trip
//! requests, MCP 2026-07-28).
//!
//! A server that must ask the client something mid-request hands it an opaque
//! state and gets it back on the next request (SEP-2322 `requestState`). The
//! state must come back untouched, before it expires, from the same principal,
//! on a retry of the same request, and only once: otherwise a client could
//! replay someone else's half-finished operation, its own more than once, or
//! carry it over to another tool.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};

use crate::replay::{DynReplayCache, MemoryReplayCache, ReplayCache, ReplayKey};
use crate::{Principal, b64, time};

/// Default lifetime of a sealed state: 10 minutes.
pub(crate) const DEFAULT_STATE_TTL: Duration = Duration::from_secs(600);

const VERSION: u8 = 2;
const KEY_LEN: usize = 32;
const DIGEST_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Largest sealed state accepted by [`StateSealer::open`] (before any work).
const MAX_SEALED_LEN: usize = 64 * 1024;

/// Why a sealed state was not opened (or not sealed).
///
/// ```
/// use tower_bearer::mcp::StateError;
/// assert_eq!(StateError::WrongPrincipal.to_string(), "state belongs to another principal");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not a state this crate produced (bad encoding, truncated, too long).
    #[error("malformed state")]
    Malformed,
    /// Sealed with a key id this sealer does not hold (retired or foreign).
    #[error("state sealed with an unknown key")]
    UnknownKey,
    /// The integrity check failed: the state was altered.
    #[error("state was tampered with")]
    Tampered,
    /// The state is authentic but its lifetime has passed.
    #[error("state expired")]
    Expired,
    /// The state is authentic but was sealed for another principal.
    #[error("state belongs to another principal")]
    WrongPrincipal,
    /// A state cannot be sealed for (or opened by) a principal with no component.
    #[error("state needs an identified principal")]
    AnonymousPrincipal,
    /// The state is authentic but was sealed for another request (another
    /// method or tool).
    #[error("state belongs to another request")]
    WrongRequest,
    /// The state was opened before: each state is good for one retry.
    #[error("state already used")]
    Replayed,
    /// The replay cache could not answer (a shared store is down): the state is
    /// not accepted unchecked. Worth retrying later.
    #[error("state could not be checked for reuse")]
    Unavailable,
    /// The random number generator or cipher failed.
    #[error("state could not be sealed")]
    Crypto,
}

/// Why a [`StateKey`] or a [`StateSealer`] setting was refused (a configuration
/// error, reported when the key or sealer is made; never a secret in the message).
///
/// ```
/// use std::time::Duration;
/// use tower_bearer::mcp::{StateConfigError, StateKey, StateSealer};
///
/// assert_eq!(StateKey::new("", [7; 32]).unwrap_err(), StateConfigError::KeyId { len: 0 });
/// let sealer = StateSealer::new(StateKey::new("k1", [7; 32])?);
/// let err = sealer.ttl(Duration::ZERO).unwrap_err();
/// assert_eq!(err.to_string(), "StateSealer ttl must be positive");
/// # Ok::<(), StateConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateConfigError {
    /// A key id is empty or longer than 255 bytes (`len` is its length).
    #[error("StateKey id must be 1 to 255 bytes, got {len}")]
    KeyId {
        /// The length of the refused id, in bytes.
        len: usize,
    },
    /// The system random number generator failed ([`StateKey::generate`]), or
    /// AES-256-GCM refused the key.
    #[error("StateKey secret could not be generated or loaded (random number generator or cipher failure)")]
    Crypto,
    /// Two keys of one sealer share an id ([`StateSealer::also_open_with`]):
    /// a state's key id would not say which key opens it.
    #[error("StateSealer also_open_with: state key id {id:?} is used twice")]
    DuplicateKeyId {
        /// The id held twice (an id, not a secret).
        id: String,
    },
    /// A zero [`StateSealer::ttl`]: every state would be expired when sealed.
    #[error("StateSealer ttl must be positive")]
    ZeroTtl,
}

/// A 256-bit AES-GCM key with an id (the id travels with each state, so states
/// sealed under a retired key still open while it is kept for opening).
///
/// `Debug` shows the id only.
///
/// ```
/// use tower_bearer::mcp::StateKey;
/// let key = StateKey::new("2026-01", [7; 32])?;
/// assert_eq!(key.id(), "2026-01");
/// assert!(!format!("{key:?}").contains('7'));
/// # Ok::<(), tower_bearer::mcp::StateConfigError>(())
/// ```
#[derive(Clone)]
pub struct StateKey {
    id: Arc<str>,
    key: Arc<RandomizedNonceKey>,
}

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl StateKey {
    /// A key from 32 secret bytes (load them from your secret store; every
    /// replica must hold the same keys).
    ///
    /// # Errors
    /// [`StateConfigError::KeyId`] if `id` is empty or longer than 255 bytes;
    /// [`StateConfigError::Crypto`] if AES-256-GCM refuses the key.
    ///
    /// See [`StateKey`] for an example.
    pub fn new(id: &str, secret: [u8; KEY_LEN]) -> Result<Self, StateConfigError> {
        if id.is_empty() || id.len() > 255 {
            return Err(StateConfigError::KeyId { len: id.len() });
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, &secret).map_err(|_| StateConfigError::Crypto)?;
        Ok(StateKey {
            id: id.into(),
            key: Arc::new(key),
        })
    }

    /// A fresh random key (one process only: states do not survive a restart).
    ///
    /// # Errors
    /// [`StateConfigError::Crypto`] if the system random number generator
    /// fails; otherwise as [`StateKey::new`].
    ///
    /// ```
    /// let key = tower_bearer::mcp::StateKey::generate("k1")?;
    /// # Ok::<(), tower_bearer::mcp::StateConfigError>(())
    /// ```
    pub fn generate(id: &str) -> Result<Self, StateConfigError> {
        let mut secret = [0; KEY_LEN];
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| StateConfigError::Crypto)?;
        Self::new(id, secret)
    }

    /// The key id.
    ///
    /// See [`StateKey`] for an example.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Seals request state for a principal and a request, and opens it once, for
/// the same principal retrying the same request.
///
/// A sealed state is URL-safe base64 of
/// `version ‖ key-id length ‖ key id ‖ nonce ‖ AES-256-GCM(expiry ‖ SHA-256(principal) ‖ SHA-256(request) ‖ payload)`,
/// with the header as associated data. The payload is encrypted (clients learn
/// nothing from it) and authenticated; the principal triple, the request
/// ([`StateRequest`]: method and name) and the expiry are inside the ciphertext.
/// Opening checks, in order: format, key id, integrity, principal, request,
/// expiry, then single use (the nonce recorded in a
/// [`ReplayCache`](crate::replay::ReplayCache) until the expiry; in memory by
/// default, shared by replicas with [`replay_cache`](Self::replay_cache)) —
/// each failure is its own [`StateError`].
///
/// How to answer a refusal: the retried request is refused as a whole, with
/// JSON-RPC error `-32602` (invalid params) for every [`StateError`] but
/// [`StateError::Unavailable`], which is an internal error (`-32603`) the
/// client may retry; the client starts the operation afresh.
///
/// The principal binding is exact: the opener's (client_id, issuer, subject)
/// must equal the sealer's, component by component.
///
/// Key rotation: seal with the current key, keep retired keys for opening with
/// [`StateSealer::also_open_with`] until 10 minutes (or your TTL) has
/// passed since the rotation.
///
/// ```
/// use tower_bearer::Principal;
/// use tower_bearer::mcp::{StateError, StateKey, StateRequest, StateSealer};
///
/// let sealer = StateSealer::new(StateKey::new("k2", [2; 32])?)
///     .also_open_with(StateKey::new("k1", [1; 32])?)?;
/// let alice = Principal::new().with_issuer("https://as.example").with_subject("alice");
/// let bob = Principal::new().with_issuer("https://as.example").with_subject("bob");
///
/// let delete = StateRequest::tool("delete_note");
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let state = sealer.seal(&alice, &delete, b"step 2 of delete_note").unwrap();
/// assert_eq!(sealer.open(&bob, &delete, &state).await, Err(StateError::WrongPrincipal));
/// assert_eq!(sealer.open(&alice, &StateRequest::tool("add_note"), &state).await, Err(StateError::WrongRequest));
/// assert_eq!(sealer.open(&alice, &delete, &state).await.unwrap(), b"step 2 of delete_note");
/// assert_eq!(sealer.open(&alice, &delete, &state).await, Err(StateError::Replayed));
/// # });
/// # Ok::<(), tower_bearer::mcp::StateConfigError>(())
/// ```
#[derive(Clone)]
pub struct StateSealer {
    current: StateKey,
    retired: Arc<[StateKey]>,
    ttl: Duration,
    replay: Arc<DynReplayCache<'static>>,
}

impl fmt::Debug for StateSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateSealer")
            .field("current", &self.current)
            .field("retired", &self.retired)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The request a state belongs to: its JSON-RPC method and, for methods that
/// name something (`tools/call`, `prompts/get`, `resources/read`), that name.
///
/// ```
/// use tower_bearer::mcp::StateRequest;
/// assert_eq!(StateRequest::tool("book"), StateRequest::new("tools/call").named("book"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StateRequest {
    method: String,
    name: Option<String>,
}

impl StateRequest {
    /// A request of `method`, naming nothing.
    ///
    /// See [`StateRequest`] for an example.
    pub fn new(method: impl Into<String>) -> Self {
        StateRequest {
            method: method.into(),
            name: None,
        }
    }

    /// A `tools/call` of `tool`.
    ///
    /// See [`StateRequest`] for an example.
    pub fn tool(tool: impl Into<String>) -> Self {
        Self::new("tools/call").named(tool)
    }

    /// The same request, naming `name` (a tool, prompt or resource URI).
    ///
    /// See [`StateRequest`] for an example.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn digest(&self) -> [u8; DIGEST_LEN] {
        crate::digest::length_prefixed([Some(self.method.as_str()), self.name.as_deref()])
    }
}

impl StateSealer {
    /// Seals with `key`, states living 10 minutes.
    ///
    /// See [`StateSealer`] for an example.
    pub fn new(key: StateKey) -> Self {
        StateSealer {
            current: key,
            retired: Arc::new([]),
            ttl: DEFAULT_STATE_TTL,
            replay: DynReplayCache::new_arc(MemoryReplayCache::new()),
        }
    }

    /// Where opened states are recorded so that each opens once (default: a
    /// [`MemoryReplayCache`]; replicas share one store, e.g.
    /// `RedisStore::replay_cache` with the `redis` feature).
    ///
    /// ```
    /// use tower_bearer::mcp::{StateKey, StateSealer};
    /// use tower_bearer::replay::MemoryReplayCache;
    /// let sealer = StateSealer::new(StateKey::generate("k")?).replay_cache(MemoryReplayCache::new());
    /// # let _ = sealer;
    /// # Ok::<(), tower_bearer::mcp::StateConfigError>(())
    /// ```
    #[must_use]
    pub fn replay_cache(mut self, cache: impl ReplayCache + 'static) -> Self {
        self.replay = DynReplayCache::new_arc(cache);
        self
    }

    /// Also opens states sealed with `key` (a retired key during a rotation).
    ///
    /// # Errors
    /// [`StateConfigError::DuplicateKeyId`] if a key with the same id is
    /// already held.
    ///
    /// See [`StateSealer`] for an example.
    pub fn also_open_with(mut self, key: StateKey) -> Result<Self, StateConfigError> {
        if key.id() == self.current.id() || self.retired.iter().any(|k| k.id() == key.id()) {
            return Err(StateConfigError::DuplicateKeyId {
                id: key.id().to_owned(),
            });
        }
        let mut keys = self.retired.to_vec();
        keys.push(key);
        self.retired = keys.into();
        Ok(self)
    }

    /// How long a sealed state stays valid (default 10 minutes).
    ///
    /// # Errors
    /// [`StateConfigError::ZeroTtl`] if `ttl` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_bearer::mcp::{StateKey, StateSealer};
    /// let sealer = StateSealer::new(StateKey::generate("k")?).ttl(Duration::from_secs(120))?;
    /// # Ok::<(), tower_bearer::mcp::StateConfigError>(())
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Result<Self, StateConfigError> {
        if ttl.is_zero() {
            return Err(StateConfigError::ZeroTtl);
        }
        self.ttl = ttl;
        Ok(self)
    }

    /// Seals `payload` for `principal` and `request` (the request the client
    /// will retry with this state).
    ///
    /// # Errors
    /// [`StateError::AnonymousPrincipal`] for a principal with no component,
    /// [`StateError::Crypto`] if the cipher fails.
    ///
    /// See [`StateSealer`] for an example.
    pub fn seal(
        &self,
        principal: &Principal,
        request: &StateRequest,
        payload: &[u8],
    ) -> Result<String, StateError> {
        self.seal_at(principal, request, payload, SystemTime::now())
    }

    fn seal_at(
        &self,
        principal: &Principal,
        request: &StateRequest,
        payload: &[u8],
        now: SystemTime,
    ) -> Result<String, StateError> {
        if principal.is_empty() {
            return Err(StateError::AnonymousPrincipal);
        }
        let expires = now.checked_add(self.ttl).map_or(u64::MAX, time::unix_seconds);
        let header = header(&self.current.id);
        let mut data = Vec::with_capacity(8 + 2 * DIGEST_LEN + payload.len() + TAG_LEN);
        data.extend_from_slice(&expires.to_be_bytes());
        data.extend_from_slice(&principal_digest(principal));
        data.extend_from_slice(&request.digest());
        data.extend_from_slice(payload);
        let nonce = self
            .current
            .key
            .seal_in_place_append_tag(Aad::from(&header), &mut data)
            .map_err(|_| StateError::Crypto)?;
        let mut out = header;
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&data);
        Ok(b64::encode(out))
    }

    /// Opens a state sealed by [`seal`](Self::seal), for `principal` retrying
    /// `request`, once: a second opening is [`StateError::Replayed`].
    ///
    /// # Errors
    /// See [`StateError`]; see [`StateSealer`] for an example.
    pub async fn open(
        &self,
        principal: &Principal,
        request: &StateRequest,
        sealed: &str,
    ) -> Result<Vec<u8>, StateError> {
        let opened = self.unseal_at(principal, request, sealed, SystemTime::now())?;
        let until = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(opened.expires))
            .unwrap_or_else(time::far_future);
        let key = ReplayKey::new(
            "mcp-request-state",
            &opened.key_id,
            &crate::digest::hex(&opened.nonce),
        );
        // The seal time, from the expiry and this sealer's TTL (seconds rounded
        // down: never later than the real one while the TTL is unchanged).
        let sealed_at = until.checked_sub(self.ttl).unwrap_or(SystemTime::UNIX_EPOCH);
        match self.replay.first_use(&key, sealed_at, until).await {
            Ok(true) => Ok(opened.payload),
            Ok(false) => Err(StateError::Replayed),
            Err(unavailable) => {
                tracing::warn!(reason = %unavailable, "request state replay cache unavailable");
                Err(StateError::Unavailable)
            }
        }
    }

    /// Every check but single use.
    fn unseal_at(
        &self,
        principal: &Principal,
        request: &StateRequest,
        sealed: &str,
        now: SystemTime,
    ) -> Result<Opened, StateError> {
        if principal.is_empty() {
            return Err(StateError::AnonymousPrincipal);
        }
        if sealed.len() > MAX_SEALED_LEN {
            return Err(StateError::Malformed);
        }
        let raw = b64::decode(sealed.as_bytes()).ok_or(StateError::Malformed)?;
        let (&version, rest) = raw.split_first().ok_or(StateError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(StateError::Malformed)?;
        if version != VERSION || rest.len() < usize::from(id_len) + NONCE_LEN + 8 + 2 * DIGEST_LEN + TAG_LEN {
            return Err(StateError::Malformed);
        }
        let (id, rest) = rest.split_at(usize::from(id_len));
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key = std::iter::once(&self.current)
            .chain(self.retired.iter())
            .find(|k| k.id.as_bytes() == id)
            .ok_or(StateError::UnknownKey)?;
        let nonce_bytes = nonce.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StateError::Malformed)?;
        let header = &raw[..2 + id.len()];
        let mut data = ciphertext.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(header), &mut data)
            .map_err(|_| StateError::Tampered)?;
        let (expires, rest) = plain.split_at(8);
        let (digest, rest) = rest.split_at(DIGEST_LEN);
        if digest != principal_digest(principal) {
            return Err(StateError::WrongPrincipal);
        }
        let (request_digest, payload) = rest.split_at(DIGEST_LEN);
        if request_digest != request.digest() {
            return Err(StateError::WrongRequest);
        }
        let mut exp = [0; 8];
        exp.copy_from_slice(expires);
        let expires = u64::from_be_bytes(exp);
        // Compared in whole seconds: `UNIX_EPOCH + u64::MAX s` would overflow.
        if time::unix_seconds(now) >= expires {
            return Err(StateError::Expired);
        }
        Ok(Opened {
            payload: payload.to_vec(),
            key_id: key.id.clone(),
            nonce: nonce_bytes,
            expires,
        })
    }
}

/// An authentic state for this principal and request, not yet recorded as used.
struct Opened {
    payload: Vec<u8>,
    key_id: Arc<str>,
    nonce: Vec<u8>,
    expires: u64,
}

fn header(key_id: &str) -> Vec<u8> {
    let mut h = Vec::with_capacity(2 + key_id.len());
    h.push(VERSION);
    // The id length was checked to fit in a byte when the key was made.
    h.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    h.extend_from_slice(key_id.as_bytes());
    h
}

/// SHA-256 over an unambiguous encoding of the triple: each component is a
/// presence byte followed, when present, by its length and bytes.
fn principal_digest(p: &Principal) -> [u8; DIGEST_LEN] {
    crate::digest::length_prefixed([p.client_id(), p.issuer(), p.subject()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn alice() -> Principal {
        Principal::new()
            .with_issuer("https://as.example")
            .with_subject("alice")
            .with_client_id("app")
    }

    fn req() -> StateRequest {
        StateRequest::tool("delete_note")
    }

    fn key(id: &str, byte: u8) -> StateKey {
        StateKey::new(id, [byte; 32]).unwrap()
    }

    /// Every check but single use.
    fn opened(s: &StateSealer, p: &Principal, sealed: &str) -> Result<Vec<u8>, StateError> {
        opened_at(s, p, sealed, SystemTime::now())
    }

    fn opened_at(
        s: &StateSealer,
        p: &Principal,
        sealed: &str,
        now: SystemTime,
    ) -> Result<Vec<u8>, StateError> {
        s.unseal_at(p, &req(), sealed, now).map(|o| o.payload)
    }

    #[tokio::test]
    async fn bound_to_the_request_and_opened_once() {
        let s = sealer();
        let sealed = s.seal(&alice(), &req(), b"x").unwrap();
        for other in [
            StateRequest::tool("add_note"),
            StateRequest::new("tools/call"),
            StateRequest::new("prompts/get").named("delete_note"),
            StateRequest::new("delete_note"),
        ] {
            assert_eq!(
                s.open(&alice(), &other, &sealed).await,
                Err(StateError::WrongRequest),
                "{other:?}"
            );
        }
        assert_eq!(
            s.open(&alice().with_subject("bob"), &req(), &sealed).await,
            Err(StateError::WrongPrincipal)
        );
        // Refusals do not use the state up; the first real opening does.
        assert_eq!(s.open(&alice(), &req(), &sealed).await.unwrap(), b"x");
        assert_eq!(s.open(&alice(), &req(), &sealed).await, Err(StateError::Replayed));
        // A clone shares the replay cache; another state of the same payload is new.
        assert_eq!(
            s.clone().open(&alice(), &req(), &sealed).await,
            Err(StateError::Replayed)
        );
        let again = s.seal(&alice(), &req(), b"x").unwrap();
        assert_eq!(s.open(&alice(), &req(), &again).await.unwrap(), b"x");
        // Component boundaries of the request are unambiguous.
        assert_ne!(
            StateRequest::new("ab").named("c").digest(),
            StateRequest::new("a").named("bc").digest()
        );
    }

    #[tokio::test]
    async fn a_replay_cache_that_cannot_answer_refuses() {
        struct Down;
        impl ReplayCache for Down {
            async fn first_use(
                &self,
                _: &ReplayKey,
                _: SystemTime,
                _: SystemTime,
            ) -> Result<bool, crate::Unavailable> {
                Err(crate::Unavailable::new("down"))
            }
        }
        let s = sealer().replay_cache(Down);
        let sealed = s.seal(&alice(), &req(), b"x").unwrap();
        assert_eq!(
            s.open(&alice(), &req(), &sealed).await,
            Err(StateError::Unavailable)
        );
    }

    fn sealer() -> StateSealer {
        StateSealer::new(key("k1", 1))
    }

    #[test]
    fn round_trip_and_opaque() {
        let s = sealer();
        let sealed = s.seal(&alice(), &req(), b"secret step").unwrap();
        assert!(!sealed.contains("secret") && !sealed.contains("alice"));
        assert_eq!(opened(&s, &alice(), &sealed).unwrap(), b"secret step");
        // Two seals of the same payload differ (random nonce).
        assert_ne!(sealed, s.seal(&alice(), &req(), b"secret step").unwrap());
        assert_eq!(
            opened(&s, &alice(), &s.seal(&alice(), &req(), b"").unwrap()).unwrap(),
            b""
        );
    }

    #[test]
    fn other_principal_is_refused() {
        let s = sealer();
        let sealed = s.seal(&alice(), &req(), b"x").unwrap();
        for other in [
            alice().with_subject("bob"),
            alice().with_client_id("other-app"),
            alice().with_issuer("https://evil.example"),
            Principal::new()
                .with_issuer("https://as.example")
                .with_subject("alice"),
        ] {
            assert_eq!(
                opened(&s, &other, &sealed),
                Err(StateError::WrongPrincipal),
                "{other:?}"
            );
        }
        assert_eq!(
            opened(&s, &Principal::new(), &sealed),
            Err(StateError::AnonymousPrincipal)
        );
        assert_eq!(
            s.seal(&Principal::new(), &req(), b"x"),
            Err(StateError::AnonymousPrincipal)
        );
        // Component boundaries are unambiguous.
        let a = Principal::new().with_client_id("ab").with_subject("c");
        let b = Principal::new().with_client_id("a").with_subject("bc");
        assert_ne!(principal_digest(&a), principal_digest(&b));
    }

    #[test]
    fn tampering_is_detected_in_every_byte() {
        let s = sealer();
        let raw = b64::decode(s.seal(&alice(), &req(), b"payload").unwrap().as_bytes()).unwrap();
        let header_len = 2 + "k1".len();
        for i in header_len..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let err = opened(&s, &alice(), &b64::encode(&bad)).unwrap_err();
            assert_eq!(err, StateError::Tampered, "byte {i}");
        }
        // Header bytes: version → malformed; key id → unknown key.
        let mut bad = raw.clone();
        bad[0] = 1; // version 1 states (no request binding) are not opened
        assert_eq!(
            opened(&s, &alice(), &b64::encode(&bad)),
            Err(StateError::Malformed)
        );
        let mut bad = raw.clone();
        bad[2] = b'x';
        assert_eq!(
            opened(&s, &alice(), &b64::encode(&bad)),
            Err(StateError::UnknownKey)
        );
        // Truncated or not base64url.
        assert_eq!(
            opened(&s, &alice(), &b64::encode(&raw[..raw.len() - 1])),
            Err(StateError::Tampered)
        );
        assert_eq!(
            opened(&s, &alice(), &b64::encode(&raw[..10])),
            Err(StateError::Malformed)
        );
        assert_eq!(opened(&s, &alice(), "not*base64"), Err(StateError::Malformed));
        assert_eq!(opened(&s, &alice(), ""), Err(StateError::Malformed));
        assert_eq!(
            opened(&s, &alice(), &"A".repeat(MAX_SEALED_LEN + 1)),
            Err(StateError::Malformed)
        );
    }

    #[test]
    fn a_key_with_the_same_id_but_other_bytes_sees_tampering() {
        let sealed = sealer().seal(&alice(), &req(), b"x").unwrap();
        let impostor = StateSealer::new(key("k1", 9));
        assert_eq!(opened(&impostor, &alice(), &sealed), Err(StateError::Tampered));
    }

    #[test]
    fn expiry() {
        let s = sealer().ttl(Duration::from_secs(60)).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let sealed = s.seal_at(&alice(), &req(), b"x", t0).unwrap();
        assert!(opened_at(&s, &alice(), &sealed, t0 + Duration::from_secs(59)).is_ok());
        assert_eq!(
            opened_at(&s, &alice(), &sealed, t0 + Duration::from_secs(60)),
            Err(StateError::Expired)
        );
        // Expiry is only reported for an authentic state of the right principal.
        assert_eq!(
            opened_at(
                &s,
                &alice().with_subject("bob"),
                &sealed,
                t0 + Duration::from_secs(3600)
            ),
            Err(StateError::WrongPrincipal)
        );
    }

    #[test]
    fn rotation() {
        let old = sealer();
        let sealed_old = old.seal(&alice(), &req(), b"old").unwrap();
        let rotated = StateSealer::new(key("k2", 2))
            .also_open_with(key("k1", 1))
            .unwrap();
        assert_eq!(opened(&rotated, &alice(), &sealed_old).unwrap(), b"old");
        let sealed_new = rotated.seal(&alice(), &req(), b"new").unwrap();
        assert_eq!(opened(&old, &alice(), &sealed_new), Err(StateError::UnknownKey));
        let retired = StateSealer::new(key("k2", 2));
        assert_eq!(
            opened(&retired, &alice(), &sealed_old),
            Err(StateError::UnknownKey)
        );
    }

    #[test]
    fn a_key_id_used_twice_is_refused() {
        let twice = StateConfigError::DuplicateKeyId { id: "k1".into() };
        // The current key's id, then a retired key's.
        assert_eq!(sealer().also_open_with(key("k1", 3)).unwrap_err(), twice);
        let rotated = StateSealer::new(key("k2", 2))
            .also_open_with(key("k1", 1))
            .unwrap();
        assert_eq!(rotated.also_open_with(key("k1", 3)).unwrap_err(), twice);
        let message = twice.to_string();
        assert!(
            message.contains("also_open_with") && message.contains("\"k1\""),
            "{message}"
        );
    }

    #[test]
    fn a_key_id_of_0_or_over_255_bytes_is_refused() {
        assert_eq!(
            StateKey::new("", [1; 32]).unwrap_err(),
            StateConfigError::KeyId { len: 0 }
        );
        let long = "k".repeat(256);
        let err = StateKey::new(&long, [1; 32]).unwrap_err();
        assert_eq!(err, StateConfigError::KeyId { len: 256 });
        assert_eq!(err.to_string(), "StateKey id must be 1 to 255 bytes, got 256");
        assert_eq!(
            StateKey::generate("").unwrap_err(),
            StateConfigError::KeyId { len: 0 }
        );
        assert_eq!(StateKey::new(&long[..255], [1; 32]).unwrap().id().len(), 255);
    }

    #[test]
    fn a_zero_ttl_is_refused() {
        let err = sealer().ttl(Duration::ZERO).unwrap_err();
        assert_eq!(err, StateConfigError::ZeroTtl);
        assert!(err.to_string().contains("ttl"), "{err}");
        assert!(sealer().ttl(Duration::MAX).is_ok());
    }

    #[test]
    fn crypto_failure_names_the_secret_not_its_bytes() {
        // Not reachable on demand (the RNG and AES-256-GCM do not fail on
        // command): the message names the field and carries no key material.
        let message = StateConfigError::Crypto.to_string();
        assert!(message.starts_with("StateKey secret"), "{message}");
    }
}

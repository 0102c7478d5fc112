//! Where session owners live: the [`SessionStore`] trait, its in-memory default
//! [`MemorySessionStore`], and [`SessionKey`], the hashed session id.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::digest::{hex, sha256};
use crate::{Principal, Unavailable};

/// A session id as stores see it: SHA-256 of the `Mcp-Session-Id` value.
///
/// Session ids are capabilities (with a matching token they reach a session),
/// so stores and logs only ever see this hash. `Display` prints the first 8
/// bytes in hex, for logs; [`SessionKey::to_hex`] gives all 32 for store keys.
///
/// ```
/// use tower_bearer::mcp::SessionKey;
/// let key = SessionKey::new("3f2a-session");
/// assert_eq!(key, SessionKey::new("3f2a-session"));
/// assert_eq!(key.to_hex().len(), 64);
/// assert_eq!(key.to_string().len(), 16);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Hashes a session id.
    ///
    /// See [`SessionKey`] for an example.
    pub fn new(session_id: &str) -> Self {
        Self::from_raw(session_id.as_bytes())
    }

    /// Hashes a raw header value (which need not be UTF-8).
    pub(crate) fn from_raw(session_id: &[u8]) -> Self {
        SessionKey(sha256(session_id))
    }

    /// The hash bytes.
    ///
    /// ```
    /// assert_eq!(tower_bearer::mcp::SessionKey::new("x").as_bytes().len(), 32);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The full hash in lower-case hex, e.g. as a Redis key suffix.
    ///
    /// See [`SessionKey`] for an example.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0[..8]))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({self})")
    }
}

/// Who owns an MCP session: the [`Principal`] that opened it and, when its
/// token was DPoP-bound, the key (`cnf.jkt`) it was bound to. A session opened
/// with a bound token is only continued with a token bound to the same key.
///
/// ```
/// use tower_bearer::{Principal, mcp::SessionOwner};
/// let owner = SessionOwner::new(Principal::new().with_subject("alice")).with_dpop_jkt("jkt");
/// assert_eq!(owner.dpop_jkt(), Some("jkt"));
/// let json = serde_json::to_string(&owner).unwrap();
/// assert_eq!(serde_json::from_str::<SessionOwner>(&json).unwrap(), owner);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SessionOwner {
    #[serde(flatten)]
    principal: Principal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_jkt: Option<Arc<str>>,
}

impl SessionOwner {
    /// The owner `principal`, with no key binding.
    ///
    /// See [`SessionOwner`] for an example.
    pub fn new(principal: Principal) -> Self {
        SessionOwner {
            principal,
            dpop_jkt: None,
        }
    }

    /// Binds the session to the DPoP key with thumbprint `jkt`.
    ///
    /// See [`SessionOwner`] for an example.
    #[must_use]
    pub fn with_dpop_jkt(mut self, jkt: impl Into<Arc<str>>) -> Self {
        self.dpop_jkt = Some(jkt.into());
        self
    }

    /// The principal.
    ///
    /// See [`SessionOwner`] for an example.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The DPoP key thumbprint the session is bound to, if any.
    ///
    /// See [`SessionOwner`] for an example.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }
}

/// Records which [`SessionOwner`] owns each MCP session.
///
/// The [`McpSessionLayer`](crate::mcp::McpSessionLayer) calls [`bind`](Self::bind)
/// when a response creates a session, [`owner`](Self::owner) on every request
/// that names one, and [`unbind`](Self::unbind) when the owner deletes it.
///
/// # A shared store for several replicas
///
/// Behind a load balancer, a session created on one replica is used on others:
/// they must share the bindings (and the transport must share its sessions too,
/// e.g. rmcp's `StreamableHttpServerConfig::session_store`). A Redis
/// implementation maps the three calls to single commands on the key
/// `mcp:owner:{key.to_hex()}` with the owner serialized as JSON
/// ([`SessionOwner`] is `Serialize + Deserialize`):
///
/// - `bind` → `SET key json EX <idle-ttl>`,
/// - `owner` → `GETEX key EX <idle-ttl>` (reading refreshes the idle TTL),
/// - `unbind` → `DEL key`,
///
/// and returns [`Unavailable`] (the crate's one outage error) on any Redis
/// error, so the layer answers
/// 503 rather than guessing. Use one idle TTL at least as long as the
/// transport's own session timeout.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use tower_bearer::Unavailable;
/// use tower_bearer::mcp::{SessionKey, SessionOwner, SessionStore};
///
/// /// An unbounded store without expiry: fine for a test, not for production.
/// #[derive(Default)]
/// struct MapStore(Mutex<HashMap<SessionKey, SessionOwner>>);
///
/// impl SessionStore for MapStore {
///     async fn bind(&self, key: &SessionKey, owner: &SessionOwner) -> Result<(), Unavailable> {
///         self.0.lock().unwrap().insert(*key, owner.clone());
///         Ok(())
///     }
///     async fn owner(&self, key: &SessionKey) -> Result<Option<SessionOwner>, Unavailable> {
///         Ok(self.0.lock().unwrap().get(key).cloned())
///     }
///     async fn unbind(&self, key: &SessionKey) -> Result<(), Unavailable> {
///         self.0.lock().unwrap().remove(key);
///         Ok(())
///     }
/// }
/// let _layer = tower_bearer::mcp::McpSessionLayer::with_store(MapStore::default());
/// ```
#[dynosaur::dynosaur(pub DynSessionStore = dyn(box) SessionStore)]
#[allow(unreachable_pub, reason = "dynosaur's erased twin of this trait is private")]
pub trait SessionStore: Send + Sync {
    /// Records `owner` as the owner of the session `key` (replacing any entry).
    fn bind(
        &self,
        key: &SessionKey,
        owner: &SessionOwner,
    ) -> impl Future<Output = Result<(), Unavailable>> + Send;

    /// The owner of the session `key`, if bound and not expired. Reading should
    /// refresh the entry's idle timeout.
    fn owner(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<Option<SessionOwner>, Unavailable>> + Send;

    /// Forgets the session `key`.
    fn unbind(&self, key: &SessionKey) -> impl Future<Output = Result<(), Unavailable>> + Send;

    /// The owner of the session `key` when the store can tell without waiting
    /// (an in-process store); `None` means "call [`owner`](Self::owner)". A
    /// `Some` must be what `owner` would answer. The default is `None`.
    ///
    /// ```
    /// use tower_bearer::Principal;
    /// use tower_bearer::mcp::{MemorySessionStore, SessionKey, SessionOwner, SessionStore};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemorySessionStore::new();
    /// let key = SessionKey::new("3f1c…");
    /// store.bind(&key, &SessionOwner::new(Principal::new().with_subject("alice"))).await.unwrap();
    /// let owner = store.owner_now(&key).expect("in memory: always at hand").unwrap();
    /// assert_eq!(owner.unwrap().principal().subject(), Some("alice"));
    /// # });
    /// ```
    fn owner_now(&self, key: &SessionKey) -> Option<Result<Option<SessionOwner>, Unavailable>> {
        let _ = key;
        None
    }
}

impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    fn bind(
        &self,
        key: &SessionKey,
        owner: &SessionOwner,
    ) -> impl Future<Output = Result<(), Unavailable>> + Send {
        (**self).bind(key, owner)
    }

    fn owner(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<Option<SessionOwner>, Unavailable>> + Send {
        (**self).owner(key)
    }

    fn unbind(&self, key: &SessionKey) -> impl Future<Output = Result<(), Unavailable>> + Send {
        (**self).unbind(key)
    }

    fn owner_now(&self, key: &SessionKey) -> Option<Result<Option<SessionOwner>, Unavailable>> {
        (**self).owner_now(key)
    }
}

/// Default idle timeout of [`MemorySessionStore`]: one hour.
///
/// Longer than rmcp's default session keep-alive (5 minutes), so a live session
/// never loses its binding first; when the binding does expire, the next request
/// on the session gets 404 and the client starts a new session.
pub const DEFAULT_SESSION_IDLE_TTL: Duration = Duration::from_secs(3600);

/// Default capacity of [`MemorySessionStore`]: 100 000 sessions.
pub(crate) const DEFAULT_SESSION_CAPACITY: u64 = 100_000;

/// The longest idle timeout [`MemorySessionStore::idle_ttl`] accepts: 1000
/// years (365-day years), the most its cache can hold.
pub(crate) const MAX_SESSION_IDLE_TTL: Duration = Duration::from_secs(1000 * 365 * 24 * 3600);

/// Why a [`MemorySessionStore`] setting was refused (a configuration error,
/// reported when the store is configured).
///
/// ```
/// use tower_bearer::mcp::{MemorySessionStore, MemorySessionStoreError};
/// let err = MemorySessionStore::new().max_capacity(0).unwrap_err();
/// assert_eq!(err, MemorySessionStoreError::ZeroCapacity);
/// assert_eq!(err.to_string(), "MemorySessionStore max_capacity must be positive");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemorySessionStoreError {
    /// A zero idle timeout: every binding would expire at once.
    #[error("MemorySessionStore idle_ttl must be positive")]
    ZeroIdleTtl,
    /// An idle timeout over 1000 years.
    #[error("MemorySessionStore idle_ttl must be at most 1000 years")]
    IdleTtlTooLong,
    /// A zero capacity: no session could be bound.
    #[error("MemorySessionStore max_capacity must be positive")]
    ZeroCapacity,
}

/// The in-memory [`SessionStore`]: a bounded moka cache with an idle timeout.
///
/// Defaults: [`DEFAULT_SESSION_IDLE_TTL`], 100,000 sessions. When it
/// is full the least useful entries are evicted, and their sessions answer 404
/// (the client re-initializes): the layer never lets an unbound session through.
/// One process only; see [`SessionStore`] for a shared store.
///
/// ```
/// use std::num::NonZeroU64;
/// use std::time::Duration;
/// use tower_bearer::Principal;
/// use tower_bearer::mcp::{MemorySessionStore, SessionKey, SessionOwner, SessionStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemorySessionStore::new().idle_ttl(Duration::from_secs(600))?.max_capacity(10_000)?;
/// let key = SessionKey::new("s1");
/// let alice = SessionOwner::new(Principal::new().with_issuer("https://as.example").with_subject("alice"));
/// store.bind(&key, &alice).await.unwrap();
/// assert_eq!(store.owner(&key).await.unwrap(), Some(alice));
/// store.unbind(&key).await.unwrap();
/// assert_eq!(store.owner(&key).await.unwrap(), None);
/// # Ok::<(), tower_bearer::mcp::MemorySessionStoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct MemorySessionStore {
    cache: Cache<SessionKey, SessionOwner>,
    idle_ttl: Duration,
    capacity: u64,
}

impl fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("idle_ttl", &self.idle_ttl)
            .field("max_capacity", &self.capacity)
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessionStore {
    /// A store with the default idle timeout and capacity.
    ///
    /// See [`MemorySessionStore`] for an example.
    pub fn new() -> Self {
        Self::build(DEFAULT_SESSION_IDLE_TTL, DEFAULT_SESSION_CAPACITY)
    }

    /// The store for settings already checked by [`Self::checked`].
    fn build(idle_ttl: Duration, capacity: u64) -> Self {
        MemorySessionStore {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle_ttl)
                .build(),
            idle_ttl,
            capacity,
        }
    }

    fn checked(idle_ttl: Duration, capacity: u64) -> Result<Self, MemorySessionStoreError> {
        if idle_ttl.is_zero() {
            return Err(MemorySessionStoreError::ZeroIdleTtl);
        }
        if idle_ttl > MAX_SESSION_IDLE_TTL {
            return Err(MemorySessionStoreError::IdleTtlTooLong);
        }
        if capacity == 0 {
            return Err(MemorySessionStoreError::ZeroCapacity);
        }
        Ok(Self::build(idle_ttl, capacity))
    }

    /// How long a binding lives without use (default
    /// [`DEFAULT_SESSION_IDLE_TTL`]). The store returned starts empty: set it
    /// before the store is used.
    ///
    /// # Errors
    /// [`MemorySessionStoreError::ZeroIdleTtl`] if `ttl` is zero,
    /// [`MemorySessionStoreError::IdleTtlTooLong`] if it is over
    /// 1000 years.
    ///
    /// ```
    /// let store = tower_bearer::mcp::MemorySessionStore::new().idle_ttl(std::time::Duration::from_secs(900))?;
    /// # Ok::<(), tower_bearer::mcp::MemorySessionStoreError>(())
    /// ```
    pub fn idle_ttl(self, ttl: Duration) -> Result<Self, MemorySessionStoreError> {
        Self::checked(ttl, self.capacity)
    }

    /// The maximum number of bound sessions (default
    /// 100,000 sessions). The store returned starts empty: set it
    /// before the store is used.
    ///
    /// # Errors
    /// [`MemorySessionStoreError::ZeroCapacity`] if `capacity` is zero.
    ///
    /// ```
    /// let store = tower_bearer::mcp::MemorySessionStore::new().max_capacity(1_000)?;
    /// # Ok::<(), tower_bearer::mcp::MemorySessionStoreError>(())
    /// ```
    pub fn max_capacity(self, capacity: u64) -> Result<Self, MemorySessionStoreError> {
        Self::checked(self.idle_ttl, capacity)
    }

    /// Runs moka's pending maintenance (evictions); for tests and metrics.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = tower_bearer::mcp::MemorySessionStore::new();
    /// store.run_pending_tasks().await;
    /// assert_eq!(store.entry_count(), 0);
    /// # });
    /// ```
    pub async fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks();
    }

    /// Approximate number of bound sessions.
    ///
    /// See [`MemorySessionStore::run_pending_tasks`] for an example.
    pub fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }
}

impl SessionStore for MemorySessionStore {
    async fn bind(&self, key: &SessionKey, owner: &SessionOwner) -> Result<(), Unavailable> {
        self.cache.insert(*key, owner.clone());
        Ok(())
    }

    async fn owner(&self, key: &SessionKey) -> Result<Option<SessionOwner>, Unavailable> {
        Ok(self.cache.get(key))
    }

    /// Always at hand: the bindings are in this process.
    fn owner_now(&self, key: &SessionKey) -> Option<Result<Option<SessionOwner>, Unavailable>> {
        Some(Ok(self.cache.get(key)))
    }

    async fn unbind(&self, key: &SessionKey) -> Result<(), Unavailable> {
        self.cache.invalidate(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn store_is_bounded() {
        let store = MemorySessionStore::new().max_capacity(10).unwrap();
        let p = SessionOwner::new(Principal::new().with_subject("s"));
        for i in 0..100 {
            store.bind(&SessionKey::new(&i.to_string()), &p).await.unwrap();
        }
        store.run_pending_tasks().await;
        assert!(store.entry_count() <= 10, "{}", store.entry_count());
    }

    #[test]
    fn key_display_is_a_short_hash_not_the_id() {
        let key = SessionKey::new("secret-session-id");
        assert!(!format!("{key:?}").contains("secret"));
        assert_eq!(key.to_hex()[..16], key.to_string());
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        let store = MemorySessionStore::new;
        let zero = store().idle_ttl(Duration::ZERO).unwrap_err();
        assert_eq!(zero, MemorySessionStoreError::ZeroIdleTtl);
        assert!(zero.to_string().contains("idle_ttl"), "{zero}");
        let long = store().idle_ttl(Duration::MAX).unwrap_err();
        assert_eq!(long, MemorySessionStoreError::IdleTtlTooLong);
        assert!(long.to_string().contains("idle_ttl"), "{long}");
        assert!(store().idle_ttl(MAX_SESSION_IDLE_TTL).is_ok());
        assert!(store().idle_ttl(Duration::from_nanos(1)).is_ok());
        let empty = store().max_capacity(0).unwrap_err();
        assert_eq!(empty, MemorySessionStoreError::ZeroCapacity);
        assert!(empty.to_string().contains("max_capacity"), "{empty}");
        // Each setter keeps the other's value.
        let set = store()
            .max_capacity(5)
            .unwrap()
            .idle_ttl(Duration::from_secs(1))
            .unwrap();
        assert_eq!((set.capacity, set.idle_ttl), (5, Duration::from_secs(1)));
    }
}

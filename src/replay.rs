//! Single-use identifiers: the [`ReplayCache`] trait and its bounded in-memory
//! default, [`MemoryReplayCache`].
//!
//! A DPoP proof's `jti` may be accepted once (RFC 9449 §11.1); so may any other
//! one-time value a server hands out. The cache remembers each identifier until
//! the value it names could no longer be accepted anyway (the proof's `iat`
//! window has passed), so its size is bounded by the rate of accepted values
//! times that window, and by a hard capacity.
//!
//! Identifiers are kept as [`ReplayKey`]s, SHA-256 digests of a scope and the
//! identifier, never as the values clients sent.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::Unavailable;
use crate::digest::sha256;
use crate::time;

/// The default [`MemoryReplayCache`] capacity: 262,144 identifiers (about
/// 16 MiB when full).
pub(crate) const DEFAULT_REPLAY_CAPACITY: usize = 1 << 18;

/// An identifier as replay caches see it: SHA-256 of a scope (what kind of
/// value, e.g. `dpop` and the proof key's thumbprint) and the identifier.
///
/// ```
/// use tower_bearer::replay::ReplayKey;
/// let a = ReplayKey::new("dpop", "thumbprint", "jti-1");
/// assert_eq!(a, ReplayKey::new("dpop", "thumbprint", "jti-1"));
/// assert_ne!(a, ReplayKey::new("dpop", "other-key", "jti-1"));
/// assert_eq!(a.to_hex().len(), 64);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// The key of `id` within `kind` and `scope`. Each part is length-prefixed,
    /// so no two different triples share a key.
    ///
    /// See [`ReplayKey`] for an example.
    pub fn new(kind: &str, scope: &str, id: &str) -> Self {
        let mut input = Vec::with_capacity(kind.len() + scope.len() + id.len() + 24);
        for part in [kind, scope, id] {
            input.extend_from_slice(&(part.len() as u64).to_be_bytes());
            input.extend_from_slice(part.as_bytes());
        }
        ReplayKey(sha256(&input))
    }

    /// The digest bytes.
    ///
    /// ```
    /// assert_eq!(tower_bearer::replay::ReplayKey::new("a", "b", "c").as_bytes().len(), 32);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest in lower-case hex, e.g. as a Redis key suffix.
    ///
    /// See [`ReplayKey`] for an example.
    pub fn to_hex(&self) -> String {
        crate::digest::hex(&self.0)
    }

    fn short(&self) -> u128 {
        let mut half = [0; 16];
        half.copy_from_slice(&self.0[..16]);
        u128::from_le_bytes(half)
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({})", &self.to_hex()[..16])
    }
}

/// Remembers identifiers that may be used once.
///
/// [`first_use`](Self::first_use) records `key` until `until` and answers
/// whether this was its first use; it must be atomic (two concurrent calls with
/// one key: exactly one `true`). An implementation that cannot answer (a store
/// that is down, or full) returns [`Unavailable`]: the request is then refused
/// with 503, never accepted unchecked.
///
/// `issued_at` is the identifier's own time (a DPoP proof's `iat`, a sealed
/// state's seal time, an ID-JAG's `iat`). A store that can lose what it
/// remembered (a Redis restarted without persistence, flushed, or failed over)
/// answers `false` for identifiers issued before it detected the loss: one of
/// them may have been used before it, and nothing says it was not. Such a
/// refusal ends by itself once those identifiers expire, one replay window
/// after the loss; the client retries with a fresh value.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tower_bearer::replay::{MemoryReplayCache, ReplayCache, ReplayKey};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cache = MemoryReplayCache::new();
/// let key = ReplayKey::new("dpop", "jkt", "jti-1");
/// let now = SystemTime::now();
/// let until = now + Duration::from_secs(60);
/// assert_eq!(cache.first_use(&key, now, until).await, Ok(true));
/// assert_eq!(cache.first_use(&key, now, until).await, Ok(false), "a replay");
/// # });
/// ```
#[dynosaur::dynosaur(pub DynReplayCache = dyn(box) ReplayCache)]
#[allow(unreachable_pub, reason = "dynosaur's erased twin of this trait is private")]
pub trait ReplayCache: Send + Sync {
    /// Records `key`, issued at `issued_at`, until `until`; `Ok(true)` the
    /// first time, `Ok(false)` on any later call before `until` (and for an
    /// identifier issued before the store lost data).
    fn first_use(
        &self,
        key: &ReplayKey,
        issued_at: SystemTime,
        until: SystemTime,
    ) -> impl Future<Output = Result<bool, Unavailable>> + Send;

    /// The answer of [`first_use`](Self::first_use) when it can be given
    /// without waiting (an in-process cache); `None` means "call `first_use`".
    /// The default answers `None`.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use tower_bearer::replay::{MemoryReplayCache, ReplayCache, ReplayKey};
    /// let cache = MemoryReplayCache::new();
    /// let now = SystemTime::now();
    /// let until = now + Duration::from_secs(60);
    /// assert_eq!(cache.first_use_now(&ReplayKey::new("a", "b", "c"), now, until), Some(Ok(true)));
    /// ```
    fn first_use_now(
        &self,
        key: &ReplayKey,
        issued_at: SystemTime,
        until: SystemTime,
    ) -> Option<Result<bool, Unavailable>> {
        let _ = (key, issued_at, until);
        None
    }
}

impl<R: ReplayCache + ?Sized> ReplayCache for Arc<R> {
    fn first_use(
        &self,
        key: &ReplayKey,
        issued_at: SystemTime,
        until: SystemTime,
    ) -> impl Future<Output = Result<bool, Unavailable>> + Send {
        (**self).first_use(key, issued_at, until)
    }

    fn first_use_now(
        &self,
        key: &ReplayKey,
        issued_at: SystemTime,
        until: SystemTime,
    ) -> Option<Result<bool, Unavailable>> {
        (**self).first_use_now(key, issued_at, until)
    }
}

const SHARDS: usize = 16;

/// The in-process [`ReplayCache`]: bounded, exact, and never forgetful.
///
/// An identifier is forgotten only once its `until` has passed. When the cache
/// holds `capacity` live identifiers it does not evict one (that would let its
/// replay through): it answers [`Unavailable`] (503) for new identifiers until
/// old ones expire, and logs a warning. Size it to the rate of accepted values
/// times their window (DPoP: proofs per second × the proof age limit).
///
/// Each entry takes about 60 bytes: 16 bytes of the digest (a 128-bit prefix;
/// an accidental collision needs about 2^64 live entries) and an expiry in
/// seconds, in a hash set and an expiry queue, in 16 shards behind mutexes.
///
/// Why not moka, which the crate's other caches use: its admission policy may
/// decline to keep a new entry when the cache is full, which for a replay cache
/// would silently accept the replay.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tower_bearer::replay::{MemoryReplayCache, ReplayCache, ReplayKey};
/// let cache = MemoryReplayCache::new().max_capacity(16);
/// let now = SystemTime::now();
/// let until = now + Duration::from_secs(60);
/// let answers: Vec<_> = (0..100)
///     .map(|i| cache.first_use_now(&ReplayKey::new("k", "", &i.to_string()), now, until).unwrap())
///     .collect();
/// // Full of live identifiers: it refuses to decide rather than forget one.
/// assert!(answers.iter().any(|a| a.is_err()));
/// assert!(cache.len() <= 16);
/// ```
pub struct MemoryReplayCache {
    shards: Box<[Mutex<Shard>]>,
    shard_capacity: usize,
    /// Identifiers held, all shards together (the `tower_bearer_replay_entries` gauge).
    held: AtomicUsize,
}

#[derive(Default)]
struct Shard {
    live: HashSet<u128, PrefixHash>,
    // In insertion order; expiries are nearly monotone, and an entry is only
    // dropped once its own expiry has passed.
    queue: VecDeque<(u64, u128)>,
}

impl Shard {
    /// Drops the identifiers expired at `now`; how many.
    fn purge(&mut self, now: u64) -> usize {
        let before = self.queue.len();
        while let Some(&(until, key)) = self.queue.front() {
            if until > now {
                break;
            }
            self.queue.pop_front();
            self.live.remove(&key);
        }
        before - self.queue.len()
    }
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &(self.shard_capacity * SHARDS))
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryReplayCache {
    /// A cache of 262,144 identifiers identifiers. Allocates as it fills.
    ///
    /// ```
    /// assert!(tower_bearer::replay::MemoryReplayCache::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }

    /// Sets the capacity (at least 16, rounded up to a multiple of 16).
    ///
    /// ```
    /// let cache = tower_bearer::replay::MemoryReplayCache::new().max_capacity(1000);
    /// # let _ = cache;
    /// ```
    #[must_use]
    pub fn max_capacity(self, capacity: usize) -> Self {
        Self::with_capacity(capacity)
    }

    fn with_capacity(capacity: usize) -> Self {
        MemoryReplayCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
            held: AtomicUsize::new(0),
        }
    }

    /// Identifiers held (expired ones included until their shard is next used).
    ///
    /// ```
    /// assert_eq!(tower_bearer::replay::MemoryReplayCache::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// True when no identifier is held.
    ///
    /// ```
    /// assert!(tower_bearer::replay::MemoryReplayCache::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, key: &ReplayKey, until: SystemTime, now: SystemTime) -> Result<bool, Unavailable> {
        let short = key.short();
        let now = time::unix_seconds(now);
        // Kept for whole seconds past `until`, never less.
        let until = time::unix_seconds(until).saturating_add(1);
        let mut shard = lock(&self.shards[(short >> 124) as usize % SHARDS]);
        let purged = shard.purge(now);
        if purged > 0 {
            self.held.fetch_sub(purged, Ordering::Relaxed);
        }
        if shard.live.contains(&short) {
            return Ok(false);
        }
        if until <= now {
            // Nothing to remember: the value cannot be accepted after now anyway.
            return Ok(true);
        }
        if shard.queue.len() >= self.shard_capacity {
            crate::metrics::replay_full();
            tracing::warn!(
                capacity = self.shard_capacity * SHARDS,
                "replay cache full of live identifiers; refusing new ones until some expire"
            );
            return Err(Unavailable::new("replay cache full").with_retry_after(Duration::from_secs(1)));
        }
        shard.live.insert(short);
        shard.queue.push_back((until, short));
        let held = self.held.fetch_add(1, Ordering::Relaxed) + 1;
        crate::metrics::replay_entries(held);
        Ok(true)
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic while holding the lock leaves the shard consistent (each
    // mutation is a single insert or remove): keep using it.
    shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Never loses what it holds while it lives, so `issued_at` plays no part.
impl ReplayCache for MemoryReplayCache {
    async fn first_use(
        &self,
        key: &ReplayKey,
        _: SystemTime,
        until: SystemTime,
    ) -> Result<bool, Unavailable> {
        self.record(key, until, SystemTime::now())
    }

    fn first_use_now(
        &self,
        key: &ReplayKey,
        _: SystemTime,
        until: SystemTime,
    ) -> Option<Result<bool, Unavailable>> {
        Some(self.record(key, until, SystemTime::now()))
    }
}

/// Keys are SHA-256 prefixes, which nobody can steer: their low bits are the hash.
#[derive(Clone, Copy, Default)]
struct PrefixHash;

impl BuildHasher for PrefixHash {
    type Hasher = PrefixHasher;

    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher(0)
    }
}

struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn once_until_expiry_then_forgotten() {
        let cache = MemoryReplayCache::new();
        let key = ReplayKey::new("dpop", "k", "1");
        assert_eq!(cache.record(&key, at(1_100), at(1_000)), Ok(true));
        assert_eq!(cache.record(&key, at(1_100), at(1_050)), Ok(false));
        assert_eq!(
            cache.record(&key, at(1_100), at(1_100)),
            Ok(false),
            "kept through until"
        );
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.record(&key, at(1_300), at(1_102)),
            Ok(true),
            "forgotten after"
        );
        // Already past: accepted (the caller's window check refuses it anyway), not kept.
        let old = ReplayKey::new("dpop", "k", "old");
        assert_eq!(cache.record(&old, at(900), at(1_102)), Ok(true));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn scopes_separate_keys() {
        assert_ne!(ReplayKey::new("a", "bc", "d"), ReplayKey::new("a", "b", "cd"));
        assert_ne!(ReplayKey::new("ab", "", "c"), ReplayKey::new("a", "b", "c"));
    }

    #[test]
    fn full_means_unavailable_never_forgetting() {
        let cache = MemoryReplayCache::new().max_capacity(SHARDS * 2);
        let mut accepted = Vec::new();
        let mut refused = 0;
        for i in 0..10_000 {
            let key = ReplayKey::new("dpop", "k", &i.to_string());
            match cache.record(&key, at(2_000), at(1_000)) {
                Ok(true) => accepted.push(key),
                Ok(false) => panic!("fresh key {i} seen as a replay"),
                Err(_) => refused += 1,
            }
        }
        assert_eq!(accepted.len(), SHARDS * 2, "exactly the capacity");
        assert_eq!(refused, 10_000 - SHARDS * 2);
        assert_eq!(cache.len(), SHARDS * 2, "memory bounded");
        for key in &accepted {
            assert_eq!(
                cache.record(key, at(2_000), at(1_500)),
                Ok(false),
                "still remembered"
            );
        }
        // Once they expire there is room again.
        let key = ReplayKey::new("dpop", "k", "later");
        assert_eq!(cache.record(&key, at(3_000), at(2_001)), Ok(true));
    }

    #[tokio::test]
    async fn concurrent_first_uses_have_one_winner() {
        let cache = Arc::new(MemoryReplayCache::new());
        let until = SystemTime::now() + Duration::from_secs(60);
        let key = ReplayKey::new("dpop", "k", "race");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.first_use(&key, SystemTime::now(), until).await })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap().unwrap());
        }
        assert_eq!(wins, 1);
    }
}

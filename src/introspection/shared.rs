//! A decision cache shared by replicas, under each one's in-process cache (L2
//! under L1): [`SharedIntrospectionCache`].

use std::future::Future;
use std::time::Duration;

use crate::Unavailable;

/// Introspection answers shared by several replicas, so that each token costs
/// the authorization server one call, not one per replica.
///
/// Entries are the authorization server's answers as it sent them (JSON bytes),
/// keyed by SHA-256 of the token (never the token). A replica that reads one
/// applies the same rules as to a fresh answer (`active`, `exp`, issuer,
/// audience, binding), so an entry cannot outlive the token. The verifier writes
/// positive answers for at most the positive TTL and never past `exp`, negative
/// ones for the negative TTL.
///
/// Errors are never fatal: the verifier then asks the authorization server
/// (and caches in process), exactly as without a shared cache.
/// `RedisStore::introspection_cache` (feature `redis`) is the shipped
/// implementation.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use tower_bearer::Unavailable;
/// use tower_bearer::introspection::{IntrospectionVerifier, SharedIntrospectionCache};
///
/// /// One process's map: fine for a test (no expiry), useless across replicas.
/// #[derive(Default)]
/// struct MapCache(Mutex<HashMap<[u8; 32], Vec<u8>>>);
///
/// impl SharedIntrospectionCache for MapCache {
///     async fn get(&self, key: &[u8; 32]) -> Result<Option<Vec<u8>>, Unavailable> {
///         Ok(self.0.lock().unwrap().get(key).cloned())
///     }
///     async fn put(&self, key: &[u8; 32], answer: &[u8], _ttl: Duration) -> Result<(), Unavailable> {
///         self.0.lock().unwrap().insert(*key, answer.to_vec());
///         Ok(())
///     }
/// }
/// let builder = IntrospectionVerifier::builder().shared_cache(MapCache::default());
/// # let _ = builder;
/// ```
#[dynosaur::dynosaur(pub DynSharedIntrospectionCache = dyn(box) SharedIntrospectionCache)]
#[allow(unreachable_pub, reason = "dynosaur's erased twin of this trait is private")]
pub trait SharedIntrospectionCache: Send + Sync {
    /// The answer kept for `key`, if any.
    fn get(&self, key: &[u8; 32]) -> impl Future<Output = Result<Option<Vec<u8>>, Unavailable>> + Send;

    /// Keeps `answer` for `key` during `ttl` (more than zero).
    fn put(
        &self,
        key: &[u8; 32],
        answer: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), Unavailable>> + Send;
}

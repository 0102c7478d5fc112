//! A decision cache shared by replicas, under each one's in-process cache (L2
//! under L1): [`SharedIntrospectionCache`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::Unavailable;

/// A boxed future of a [`SharedIntrospectionCache`].
pub type SharedFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Unavailable>> + Send + 'a>>;

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
/// use tower_bearer::introspection::{IntrospectionVerifier, SharedFuture, SharedIntrospectionCache};
///
/// /// One process's map: fine for a test (no expiry), useless across replicas.
/// #[derive(Default)]
/// struct MapCache(Mutex<HashMap<[u8; 32], Vec<u8>>>);
///
/// impl SharedIntrospectionCache for MapCache {
///     fn get<'a>(&'a self, key: &'a [u8; 32]) -> SharedFuture<'a, Option<Vec<u8>>> {
///         Box::pin(async move { Ok(self.0.lock().unwrap().get(key).cloned()) })
///     }
///     fn put<'a>(&'a self, key: &'a [u8; 32], answer: &'a [u8], _ttl: Duration) -> SharedFuture<'a, ()> {
///         Box::pin(async move { Ok(drop(self.0.lock().unwrap().insert(*key, answer.to_vec()))) })
///     }
/// }
/// let builder = IntrospectionVerifier::builder().shared_cache(MapCache::default());
/// # let _ = builder;
/// ```
pub trait SharedIntrospectionCache: Send + Sync + 'static {
    /// The answer kept for `key`, if any.
    fn get<'a>(&'a self, key: &'a [u8; 32]) -> SharedFuture<'a, Option<Vec<u8>>>;

    /// Keeps `answer` for `key` during `ttl` (more than zero).
    fn put<'a>(&'a self, key: &'a [u8; 32], answer: &'a [u8], ttl: Duration) -> SharedFuture<'a, ()>;
}

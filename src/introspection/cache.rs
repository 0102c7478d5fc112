//! The introspection cache: a bounded moka cache keyed by SHA-256 of the token,
//! with per-entry lifetimes and single-flight misses.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;
use moka::future::Cache;

use super::client::Decision;
use crate::Unavailable;
use crate::digest::sha256;
use crate::time;

/// SHA-256 of the token: the raw token is never stored.
type Key = [u8; 32];

/// Cached decisions (positive and negative), never outages.
#[derive(Clone)]
pub(super) struct DecisionCache {
    cache: Cache<Key, Decision>,
}

/// Positive entries live `min(positive, exp - now)`, negative ones `negative`.
struct Lifetimes {
    positive: Duration,
    negative: Duration,
}

impl Expiry<Key, Decision> for Lifetimes {
    fn expire_after_create(&self, _key: &Key, value: &Decision, _created_at: Instant) -> Option<Duration> {
        Some(match value {
            Ok(token) => match token.expires_at() {
                Some(exp) => time::remaining(exp, SystemTime::now()).min(self.positive),
                None => self.positive,
            },
            Err(_) => self.negative,
        })
    }
}

impl DecisionCache {
    pub(super) fn new(capacity: u64, positive: Duration, negative: Duration) -> Self {
        DecisionCache {
            cache: Cache::builder()
                .name("tower-bearer introspection")
                .max_capacity(capacity)
                .expire_after(Lifetimes { positive, negative })
                .build(),
        }
    }

    /// The cached decision for `token`, or the one `decide` reaches. Concurrent
    /// callers for one token share a single `decide`; its outages are not cached.
    pub(super) async fn get_or_decide<F>(&self, token: &str, decide: F) -> Result<Decision, Unavailable>
    where
        F: Future<Output = Result<Decision, Unavailable>>,
    {
        self.cache
            .try_get_with(key(token), decide)
            .await
            .map_err(|shared| (*shared).clone())
    }

    /// The cached decision on `token`, when it can be read without waiting.
    pub(super) fn get_now(&self, token: &str) -> Option<Decision> {
        // moka's lookup completes on its first poll unless its housekeeping is
        // busy; then the caller takes the async path (dropping the lookup is safe).
        match pin!(self.cache.get(&key(token))).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(hit) => hit,
            Poll::Pending => None,
        }
    }

    /// Entries held once pending evictions have run.
    pub(super) async fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

fn key(token: &str) -> Key {
    sha256(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::{AccessToken, InvalidToken, Principal};

    fn lifetimes() -> Lifetimes {
        Lifetimes {
            positive: Duration::from_secs(60),
            negative: Duration::from_secs(10),
        }
    }

    fn ttl(value: &Decision) -> Option<Duration> {
        lifetimes().expire_after_create(&[0; 32], value, Instant::now())
    }

    #[test]
    fn positive_ttl_is_capped_by_exp() {
        let soon =
            AccessToken::new(Principal::new()).with_expires_at(SystemTime::now() + Duration::from_secs(5));
        assert!(ttl(&Ok(soon)).unwrap() <= Duration::from_secs(5));
        let later =
            AccessToken::new(Principal::new()).with_expires_at(SystemTime::now() + Duration::from_secs(3600));
        assert_eq!(ttl(&Ok(later)), Some(Duration::from_secs(60)));
        let past = AccessToken::new(Principal::new()).with_expires_at(SystemTime::UNIX_EPOCH);
        assert_eq!(ttl(&Ok(past)), Some(Duration::ZERO));
        assert_eq!(
            ttl(&Ok(AccessToken::new(Principal::new()))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(ttl(&Err(InvalidToken::Inactive)), Some(Duration::from_secs(10)));
    }

    #[test]
    fn key_is_the_sha256_of_the_token() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            key("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "the cache must be keyed by the digest, not the token"
        );
    }

    #[tokio::test]
    async fn cached_decisions_are_at_hand_without_waiting() {
        let cache = DecisionCache::new(10, Duration::from_secs(60), Duration::from_secs(10));
        assert!(cache.get_now("t").is_none(), "nothing cached yet");
        let alice = AccessToken::new(Principal::new().with_subject("alice"));
        let decided = cache.get_or_decide("t", async { Ok(Ok(alice)) }).await.unwrap();
        assert!(decided.is_ok());
        let hit = cache.get_now("t").expect("a cached decision is at hand");
        assert_eq!(hit.unwrap().principal().subject(), Some("alice"));
        assert!(cache.get_now("other").is_none());
        cache
            .get_or_decide("bad", async { Ok(Err(InvalidToken::Inactive)) })
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(cache.get_now("bad"), Some(Err(InvalidToken::Inactive))));
    }

    #[tokio::test]
    async fn outages_are_not_cached() {
        let cache = DecisionCache::new(10, Duration::from_secs(60), Duration::from_secs(10));
        let calls = AtomicUsize::new(0);
        let down = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Unavailable::new("down"))
        };
        assert!(cache.get_or_decide("t", down()).await.is_err());
        assert!(cache.get_or_decide("t", down()).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(cache.entry_count().await, 0);
    }
}

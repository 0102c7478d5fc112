//! The introspection cache: a bounded moka cache keyed by SHA-256 of the token,
//! with per-entry lifetimes, read synchronously (`moka::sync`), and
//! single-flight misses.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;
use moka::sync::Cache;
use tokio::sync::OnceCell;

use super::client::Decision;
use crate::Unavailable;
use crate::digest::sha256;
use crate::time;

/// SHA-256 of the token: the raw token is never stored.
type Key = [u8; 32];

/// The outcome of one introspection, shared by every caller waiting for it.
type Flight = OnceCell<Result<Decision, Unavailable>>;

/// Cached decisions (positive and negative), never outages.
#[derive(Clone)]
pub(super) struct DecisionCache {
    verdicts: Cache<Key, Decision>,
    /// The misses being decided, one flight per key: concurrent callers for a
    /// token share one call. An entry lives only while its flight does.
    in_flight: Arc<Mutex<HashMap<Key, Arc<Flight>>>>,
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
            verdicts: Cache::builder()
                .name("tower-bearer introspection")
                .max_capacity(capacity)
                .expire_after(Lifetimes { positive, negative })
                .build(),
            in_flight: Arc::default(),
        }
    }

    /// The cached decision for `token`, or the one `decide` reaches. Concurrent
    /// callers for one token share a single `decide`; its outages are shared
    /// with them but not cached.
    pub(super) async fn get_or_decide<F>(&self, token: &str, decide: F) -> Result<Decision, Unavailable>
    where
        F: Future<Output = Result<Decision, Unavailable>>,
    {
        let key = key(token);
        let hit = self.verdicts.get(&key);
        crate::metrics::cache_lookup("introspection", hit.is_some());
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let flight = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            // A flight that landed after the lookup above left its verdict.
            if let Some(hit) = self.verdicts.get(&key) {
                return Ok(hit);
            }
            in_flight.entry(key).or_default().clone()
        };
        // One caller runs its `decide`; if it is dropped midway, a waiting
        // caller runs its own (tokio's `OnceCell::get_or_init`).
        flight
            .get_or_init(|| async {
                // Landing (done or dropped) ends the flight for later callers;
                // those already waiting on it keep their handle.
                let _landing = Landing {
                    in_flight: &self.in_flight,
                    key,
                    flight: &flight,
                };
                let outcome = decide.await;
                if let Ok(decision) = &outcome {
                    self.verdicts.insert(key, decision.clone());
                    crate::metrics::cache_entries("introspection", self.verdicts.entry_count());
                }
                outcome
            })
            .await
            .clone()
    }

    /// The cached decision on `token`, read without waiting.
    /// A verdict at hand; a hit is counted here, a miss by the
    /// [`get_or_decide`](Self::get_or_decide) that follows it.
    pub(super) fn get_now(&self, token: &str) -> Option<Decision> {
        let hit = self.verdicts.get(&key(token));
        if hit.is_some() {
            crate::metrics::cache_lookup("introspection", true);
        }
        hit
    }

    /// Entries held once pending evictions have run.
    pub(super) fn entry_count(&self) -> u64 {
        self.verdicts.run_pending_tasks();
        self.verdicts.entry_count()
    }
}

/// Removes a flight from the map when its `decide` ends or is dropped (and
/// only that flight: a newer one for the same key stays).
struct Landing<'a> {
    in_flight: &'a Mutex<HashMap<Key, Arc<Flight>>>,
    key: Key,
    flight: &'a Arc<Flight>,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(f, self.flight))
        {
            in_flight.remove(&self.key);
        }
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
        assert_eq!(cache.entry_count(), 0);
        assert!(cache.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_share_one_decision() {
        let cache = DecisionCache::new(10, Duration::from_secs(60), Duration::from_secs(10));
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, calls, gate) = (cache.clone(), calls.clone(), gate.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_decide("t", async {
                            calls.fetch_add(1, Ordering::SeqCst);
                            gate.notified().await;
                            Ok(Ok(AccessToken::new(Principal::new().with_subject("alice"))))
                        })
                        .await
                })
            })
            .collect();
        // Let every task reach the flight, then let the one call finish.
        while cache.in_flight.lock().unwrap().is_empty() || calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_one();
        for task in tasks {
            let decision = task.await.unwrap().unwrap().unwrap();
            assert_eq!(decision.principal().subject(), Some("alice"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(cache.in_flight.lock().unwrap().is_empty());
        assert!(cache.get_now("t").is_some());
    }

    #[tokio::test]
    async fn a_dropped_decision_ends_its_flight_and_the_next_caller_decides() {
        let cache = DecisionCache::new(10, Duration::from_secs(60), Duration::from_secs(10));
        let stalled = cache.get_or_decide("t", std::future::pending());
        assert!(
            tokio::time::timeout(Duration::from_millis(10), stalled)
                .await
                .is_err()
        );
        assert!(
            cache.in_flight.lock().unwrap().is_empty(),
            "no flight left behind"
        );
        let alice = AccessToken::new(Principal::new().with_subject("alice"));
        assert!(
            cache
                .get_or_decide("t", async { Ok(Ok(alice)) })
                .await
                .unwrap()
                .is_ok()
        );
    }
}

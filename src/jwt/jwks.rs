//! One issuer's key set, fetched from its `jwks_uri` and kept parsed.
//!
//! - Fresh for the response's `Cache-Control: max-age` clamped to the configured
//!   bounds (default 10 min within [1 min, 24 h]); refreshed in the background at
//!   75–90 % of that (jittered), so readers never wait for a scheduled refresh.
//! - An unknown `kid` causes one refetch, single-flight, then a cooldown during
//!   which unknown kids fail fast. A known kid with a bad signature never does.
//! - Fetch failures keep the last good set for `max_stale` past its freshness,
//!   then (or on a cold start) the verifier is [`Unavailable`]. A malformed set
//!   never replaces a good one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, CACHE_CONTROL, HeaderValue};
use tokio::time::Instant;

use super::jws::Unverified;
use super::key::{KeyPolicy, KeySet};
use crate::discovery;
use crate::fetch;
use crate::time;
use crate::{InvalidToken, Unavailable, VerifyError};

/// Largest JWK Set document read.
pub(crate) const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Where an issuer's keys come from: a `jwks_uri`, or (`None`) the one its
/// metadata names (RFC 8414, OIDC Discovery).
#[derive(Debug, Clone)]
pub struct KeySource {
    /// The configured issuer: the `issuer` label of the key set's metrics.
    issuer: Arc<str>,
    jwks_uri: Option<Url>,
}

impl KeySource {
    /// The keys at `jwks_uri`, or (`None`) those named by `issuer`'s metadata;
    /// the URL fetched first is checked (https, or http to loopback).
    pub fn new(issuer: &str, jwks_uri: Option<&str>) -> Result<KeySource, fetch::FetchError> {
        let jwks_uri = match jwks_uri {
            Some(url) => Some(fetch::checked_url(url)?),
            None => {
                fetch::checked_url(issuer)?;
                None
            }
        };
        Ok(KeySource {
            issuer: issuer.into(),
            jwks_uri,
        })
    }
}

/// Timing policy of a key cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub(crate) default_ttl: Duration,
    pub(crate) min_ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) refetch_cooldown: Duration,
    pub(crate) max_stale: Duration,
    /// After a failed fetch: how long cold requests fail fast, and how long until
    /// the next background attempt.
    pub(crate) failure_backoff: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            refetch_cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(3600),
            failure_backoff: Duration::from_secs(1),
        }
    }
}

/// One issuer's JWK Set: parsed once, refreshed in the background, refetched
/// once (single flight) for an unknown `kid`, served stale while the issuer is down.
pub struct KeyCache {
    source: KeySource,
    client: reqwest::Client,
    policy: KeyPolicy,
    settings: CacheSettings,
    state: RwLock<State>,
    fetch_lock: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

struct State {
    keys: Option<Arc<KeySet>>,
    /// Completed fetch attempts: a waiter that sees it move knows someone else
    /// fetched for it.
    attempts: u64,
    fresh_until: Instant,
    refresh_at: Instant,
    last_kid_refetch: Option<Instant>,
    last_failure: Option<(Instant, Unavailable)>,
    /// The `jwks_uri` found by discovery.
    jwks_uri: Option<Url>,
}

impl State {
    fn usable(&self, now: Instant, max_stale: Duration) -> Option<&Arc<KeySet>> {
        self.keys
            .as_ref()
            .filter(|_| time::within(now, self.fresh_until, max_stale))
    }
}

impl KeyCache {
    /// A cache of the keys from `source`, fetched with `client`, under `policy`.
    pub fn new(
        source: KeySource,
        client: reqwest::Client,
        policy: KeyPolicy,
        settings: CacheSettings,
    ) -> Self {
        let now = Instant::now();
        KeyCache {
            source,
            client,
            policy,
            settings,
            state: RwLock::new(State {
                keys: None,
                attempts: 0,
                fresh_until: now,
                refresh_at: now,
                last_kid_refetch: None,
                last_failure: None,
                jwks_uri: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current key set; fetches it first on a cold start or when it is too stale.
    pub async fn keys(self: &Arc<Self>) -> Result<Arc<KeySet>, Unavailable> {
        let now = Instant::now();
        let (usable, attempts, refresh_due, recent_failure) = {
            let st = self.read();
            let recent_failure = st
                .last_failure
                .as_ref()
                .filter(|(at, _)| time::within(now, *at, self.settings.failure_backoff))
                .map(|(_, e)| e.clone());
            (
                st.usable(now, self.settings.max_stale).cloned(),
                st.attempts,
                now >= st.refresh_at,
                recent_failure,
            )
        };
        if let Some(keys) = usable {
            if refresh_due {
                self.spawn_refresh(attempts);
            }
            return Ok(keys);
        }
        if let Some(error) = recent_failure {
            return Err(error);
        }
        let _guard = self.fetch_lock.lock().await;
        {
            let st = self.read();
            if st.attempts != attempts {
                // Someone fetched while we waited: share their outcome.
                return st
                    .usable(Instant::now(), self.settings.max_stale)
                    .cloned()
                    .ok_or_else(|| {
                        st.last_failure
                            .as_ref()
                            .map(|(_, e)| e.clone())
                            .unwrap_or_else(|| self.unavailable("no usable keys".into()))
                    });
            }
        }
        self.fetch_and_store().await
    }

    /// Whether a key set is loaded and usable now (readiness).
    pub(crate) fn has_usable_keys(&self) -> bool {
        self.read()
            .usable(Instant::now(), self.settings.max_stale)
            .is_some()
    }

    /// Until when a token verified with `keys` may be served from the
    /// verified-token cache: while `keys` is the current set, until its refresh
    /// is due or it becomes unusable, whichever comes first; `None` when `keys`
    /// is no longer current or the refresh is already due (then nothing is
    /// cached). Never waits.
    pub(crate) fn vouches_until(&self, keys: &Arc<KeySet>) -> Option<Instant> {
        let st = self.read();
        let current = st.keys.as_ref().is_some_and(|current| Arc::ptr_eq(current, keys));
        let until = st
            .refresh_at
            .min(time::deadline(st.fresh_until, self.settings.max_stale));
        (current && Instant::now() < until).then_some(until)
    }

    /// Whether the current set still holds the key `fingerprint` that verified
    /// a token with the set `verified_by` (a refetch for an unknown `kid` may
    /// have replaced the set before the entry expired). No clock read: the
    /// entry itself expires at [`vouches_until`](Self::vouches_until).
    pub(crate) fn still_holds(&self, verified_by: &Arc<KeySet>, fingerprint: &[u8; 32]) -> bool {
        let st = self.read();
        st.keys
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, verified_by) || current.holds(fingerprint))
    }

    /// After a token named a key that `seen` lacks: refetch once (single-flight)
    /// unless a refetch happened within the cooldown. `Ok(None)` means "no refetch
    /// allowed now: the key is unknown".
    pub(crate) async fn refetch_for_unknown_key(
        self: &Arc<Self>,
        seen: &Arc<KeySet>,
    ) -> Result<Option<Arc<KeySet>>, Unavailable> {
        if let Some(decided) = self.newer_or_cooling(seen, Instant::now()) {
            return Ok(decided);
        }
        let _guard = self.fetch_lock.lock().await;
        if let Some(decided) = self.newer_or_cooling(seen, Instant::now()) {
            return Ok(decided);
        }
        tracing::debug!(source = ?self.source, "unknown key id: refetching the key set");
        let result = self.fetch_and_store().await;
        // The cooldown starts when the refetch is done: requests that arrived
        // while it ran waited on `fetch_lock` and now see the new set.
        self.write().last_kid_refetch = Some(Instant::now());
        result.map(Some)
    }

    /// Verifies the signature of `token` with the current key set; a key the
    /// set lacks causes one [refetch](Self::refetch_for_unknown_key). The set
    /// and the fingerprint of the key that verified the signature.
    pub async fn verify(
        self: &Arc<Self>,
        token: &Unverified<'_>,
    ) -> Result<(Arc<KeySet>, [u8; 32]), VerifyError> {
        let keys = self.keys().await?;
        match token.verify_signature(&keys).map(|key| *key.fingerprint()) {
            Ok(fingerprint) => Ok((keys, fingerprint)),
            Err(InvalidToken::UnknownKey) => match self.refetch_for_unknown_key(&keys).await? {
                Some(fresh) => {
                    let fingerprint = *token.verify_signature(&fresh)?.fingerprint();
                    Ok((fresh, fingerprint))
                }
                None => Err(InvalidToken::UnknownKey.into()),
            },
            Err(error) => Err(error.into()),
        }
    }

    /// `Some(Some(keys))` when the set changed since `seen`, `Some(None)` while the
    /// unknown-kid cooldown runs, `None` when a refetch is due.
    fn newer_or_cooling(&self, seen: &Arc<KeySet>, now: Instant) -> Option<Option<Arc<KeySet>>> {
        let st = self.read();
        if let Some(keys) = &st.keys
            && !Arc::ptr_eq(keys, seen)
        {
            return Some(Some(keys.clone()));
        }
        st.last_kid_refetch
            .is_some_and(|at| time::within(now, at, self.settings.refetch_cooldown))
            .then_some(None)
    }

    fn spawn_refresh(self: &Arc<Self>, seen_attempts: u64) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refreshing.store(false, Ordering::Release);
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            {
                let _guard = this.fetch_lock.lock().await;
                if this.read().attempts == seen_attempts {
                    // Failures are logged and recorded by fetch_and_store.
                    let _ = this.fetch_and_store().await;
                }
            }
            this.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches and records the outcome; call with `fetch_lock` held.
    async fn fetch_and_store(&self) -> Result<Arc<KeySet>, Unavailable> {
        let result = self.fetch().await;
        let now = Instant::now();
        let mut st = self.write();
        st.attempts += 1;
        match result {
            Ok((set, ttl)) => {
                crate::metrics::jwks_fetch(&self.source.issuer, Ok(set.len()));
                let keys = Arc::new(set);
                st.keys = Some(keys.clone());
                st.fresh_until = time::deadline(now, ttl);
                st.refresh_at = time::deadline(now, jittered(ttl));
                st.last_failure = None;
                Ok(keys)
            }
            Err(error) => {
                crate::metrics::jwks_fetch(&self.source.issuer, Err(()));
                tracing::warn!(source = ?self.source, reason = %error, "key set fetch failed");
                st.last_failure = Some((now, error.clone()));
                st.refresh_at = time::deadline(now, self.settings.failure_backoff);
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), Unavailable> {
        let url = self.jwks_url().await?;
        let request = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json");
        let (headers, body) = fetch::send_limited(request, MAX_JWKS_BYTES)
            .await
            .map_err(|e| self.unavailable(format!("key set {url}: {e}")))?;
        let set = KeySet::from_jwks(&body, &self.policy)
            .map_err(|e| self.unavailable(format!("key set {url}: {e}")))?;
        Ok((set, self.ttl(headers.get(CACHE_CONTROL))))
    }

    async fn jwks_url(&self) -> Result<Url, Unavailable> {
        if let Some(url) = &self.source.jwks_uri {
            return Ok(url.clone());
        }
        let issuer = &*self.source.issuer;
        if let Some(url) = self.read().jwks_uri.clone() {
            return Ok(url);
        }
        let metadata = discovery::discover(&self.client, issuer)
            .await
            .map_err(|e| self.unavailable(e.to_string()))?;
        let uri = metadata
            .jwks_uri
            .ok_or_else(|| self.unavailable(format!("metadata of {issuer} has no jwks_uri")))?;
        let url =
            fetch::checked_url(&uri).map_err(|e| self.unavailable(format!("jwks_uri of {issuer}: {e}")))?;
        self.write().jwks_uri = Some(url.clone());
        Ok(url)
    }

    fn unavailable(&self, reason: String) -> Unavailable {
        Unavailable::new(reason).with_retry_after(self.settings.failure_backoff.max(Duration::from_secs(1)))
    }

    fn ttl(&self, cache_control: Option<&HeaderValue>) -> Duration {
        let s = &self.settings;
        let ttl = cache_control
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(s.default_ttl);
        ttl.clamp(s.min_ttl, s.max_ttl.max(s.min_ttl))
    }
}

/// `max-age` from a `Cache-Control` value; `no-store`/`no-cache` mean zero (then
/// clamped up to the minimum TTL).
fn max_age(value: &str) -> Option<Duration> {
    let mut found = None;
    for directive in value.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if let Some((name, seconds)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
        {
            found = seconds
                .trim()
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found
}

/// 75–90 % of `ttl`, at random, so replicas do not refresh in lockstep.
fn jittered(ttl: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let spread = match aws_lc_rs::rand::fill(&mut byte) {
        Ok(()) => f64::from(byte[0]) / 255.0,
        Err(_) => 0.5,
    };
    ttl.mul_f64(0.75 + 0.15 * spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_parsing() {
        assert_eq!(max_age("public, max-age=120"), Some(Duration::from_secs(120)));
        assert_eq!(max_age("MAX-AGE=7"), Some(Duration::from_secs(7)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("max-age=abc"), None);
        assert_eq!(max_age("private"), None);
    }

    #[test]
    fn ttl_is_clamped() {
        let cache = KeyCache::new(
            KeySource::new("http://127.0.0.1", Some("http://127.0.0.1/jwks")).unwrap(),
            reqwest::Client::new(),
            KeyPolicy::default(),
            CacheSettings::default(),
        );
        let ttl = |v: &'static str| cache.ttl(Some(&HeaderValue::from_static(v)));
        assert_eq!(ttl("max-age=5"), Duration::from_secs(60));
        assert_eq!(ttl("max-age=999999"), Duration::from_secs(24 * 3600));
        assert_eq!(ttl("max-age=300"), Duration::from_secs(300));
        assert_eq!(cache.ttl(None), Duration::from_secs(600));
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let j = jittered(Duration::from_secs(100));
            assert!(
                j >= Duration::from_secs(75) && j <= Duration::from_secs(90),
                "{j:?}"
            );
        }
    }
}

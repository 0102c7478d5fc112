//! What the crate records through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`; without it every function here is empty and
//! compiles away). Nothing is recorded unless the application installs a
//! recorder, e.g. `metrics-exporter-prometheus`.
//!
//! Every label value is one of a fixed set written here, or a configured
//! issuer: never a value from a token, a claim or a request, so the number of
//! series does not grow with traffic. The names and labels are listed in the
//! README's metrics table.

use crate::{AuthError, TokenSource};

/// A counter, gauge or histogram call that exists only with the feature.
macro_rules! record {
    ($($body:tt)*) => {
        #[cfg(feature = "metrics")]
        {
            $($body)*
        }
    };
}

/// The `verifier` label of a token source.
pub(crate) fn verifier_label(source: Option<TokenSource>) -> &'static str {
    match source {
        None => "none",
        Some(TokenSource::Jwt) => "jwt",
        Some(TokenSource::Introspection) => "introspection",
        Some(_) => "custom",
    }
}

/// A clock started when a piece of work starts (only with the feature).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Timer {
    pub(crate) fn start() -> Timer {
        Timer {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    #[cfg(feature = "metrics")]
    fn seconds(self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// `tower_bearer_decisions_total{outcome, reason, verifier, cached}` and, for a
/// verified token, `tower_bearer_verification_duration_seconds{verifier, cached}`.
/// `verifier` is `None` when no token reached a verifier (no credentials,
/// malformed request, bad DPoP proof).
pub(crate) fn decision(
    outcome: Result<(), &AuthError>,
    verifier: Option<TokenSource>,
    cached: bool,
    timer: Option<Timer>,
) {
    let _ = (outcome, verifier, cached, timer);
    record! {
        let (outcome, reason) = match outcome {
            Ok(()) => ("accepted", "none"),
            Err(error @ AuthError::Unavailable(_)) => ("unavailable", error.reason()),
            Err(error) => ("refused", error.reason()),
        };
        let verifier = verifier_label(verifier);
        let cached = if cached { "true" } else { "false" };
        metrics::counter!(
            "tower_bearer_decisions_total",
            "outcome" => outcome, "reason" => reason, "verifier" => verifier, "cached" => cached
        )
        .increment(1);
        if let Some(timer) = timer {
            metrics::histogram!(
                "tower_bearer_verification_duration_seconds",
                "verifier" => verifier, "cached" => cached
            )
            .record(timer.seconds());
        }
    }
}

/// `tower_bearer_jwks_fetches_total{issuer, outcome="ok"|"error"}`, and on
/// success `tower_bearer_jwks_keys{issuer}`.
pub(crate) fn jwks_fetch(issuer: &std::sync::Arc<str>, keys: Result<usize, ()>) {
    let _ = (issuer, keys);
    record! {
        let issuer = metrics::SharedString::from(issuer.clone());
        let outcome = if keys.is_ok() { "ok" } else { "error" };
        metrics::counter!("tower_bearer_jwks_fetches_total", "issuer" => issuer.clone(), "outcome" => outcome)
            .increment(1);
        if let Ok(keys) = keys {
            metrics::gauge!("tower_bearer_jwks_keys", "issuer" => issuer).set(keys as f64);
        }
    }
}

/// An introspection call in flight (`tower_bearer_introspection_in_flight`);
/// [`finish`](Self::finish) records its answer.
pub(crate) struct IntrospectionCall {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    timer: Timer,
}

impl IntrospectionCall {
    pub(crate) fn start() -> IntrospectionCall {
        record! {
            metrics::gauge!("tower_bearer_introspection_in_flight").increment(1.0);
        }
        IntrospectionCall {
            timer: Timer::start(),
        }
    }

    /// `tower_bearer_introspection_requests_total{answer="active"|"inactive"|"error"}`
    /// and `tower_bearer_introspection_duration_seconds`.
    pub(crate) fn finish(&self, answer: &'static str) {
        let _ = answer;
        record! {
            metrics::counter!("tower_bearer_introspection_requests_total", "answer" => answer).increment(1);
            metrics::histogram!("tower_bearer_introspection_duration_seconds").record(self.timer.seconds());
        }
    }
}

impl Drop for IntrospectionCall {
    fn drop(&mut self) {
        record! {
            metrics::gauge!("tower_bearer_introspection_in_flight").decrement(1.0);
        }
    }
}

/// `tower_bearer_cache_requests_total{cache, result="hit"|"miss"}`.
pub(crate) fn cache_lookup(cache: &'static str, hit: bool) {
    let _ = (cache, hit);
    record! {
        let result = if hit { "hit" } else { "miss" };
        metrics::counter!("tower_bearer_cache_requests_total", "cache" => cache, "result" => result).increment(1);
    }
}

/// `tower_bearer_cache_entries{cache}`.
pub(crate) fn cache_entries(cache: &'static str, entries: u64) {
    let _ = (cache, entries);
    record! {
        metrics::gauge!("tower_bearer_cache_entries", "cache" => cache).set(entries as f64);
    }
}

/// `tower_bearer_replay_entries`: identifiers the in-memory replay cache
/// holds (set when one is added).
pub(crate) fn replay_entries(held: usize) {
    let _ = held;
    record! {
        metrics::gauge!("tower_bearer_replay_entries").set(held as f64);
    }
}

/// `tower_bearer_replay_full_total`: a new identifier refused (503) because
/// the in-memory replay cache was full of live ones.
pub(crate) fn replay_full() {
    record! {
        metrics::counter!("tower_bearer_replay_full_total").increment(1);
    }
}

/// `tower_bearer_redis_down` (1 during an outage) and
/// `tower_bearer_redis_command_duration_seconds{outcome="ok"|"error"}`.
#[cfg(feature = "redis")]
pub(crate) fn redis_command(timer: Timer, ok: bool) {
    let _ = (timer, ok);
    record! {
        let outcome = if ok { "ok" } else { "error" };
        metrics::histogram!("tower_bearer_redis_command_duration_seconds", "outcome" => outcome)
            .record(timer.seconds());
    }
}

/// `tower_bearer_redis_down`: 1 from the first failed command of an outage to
/// the first command that succeeds.
#[cfg(feature = "redis")]
pub(crate) fn redis_down(down: bool) {
    let _ = down;
    record! {
        metrics::gauge!("tower_bearer_redis_down").set(if down { 1.0 } else { 0.0 });
    }
}

/// `tower_bearer_redis_data_losses_total`: Redis lost single-use identifiers
/// (detected by this replica or learnt from another).
#[cfg(feature = "redis")]
pub(crate) fn redis_data_loss() {
    record! {
        metrics::counter!("tower_bearer_redis_data_losses_total").increment(1);
    }
}

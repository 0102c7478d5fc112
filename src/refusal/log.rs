//! How often a refusal reason is raised to `warn`: once a minute per reason,
//! so a misconfiguration shows in the default log level without every
//! refused request (or an attacker's garbage) flooding it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least time between two `warn` events of the same reason.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(60);

/// When each reason was last raised to `warn`; one entry per reason code,
/// so bounded by the number of codes.
static LAST_WARNED: Mutex<Vec<(&'static str, Instant)>> = Mutex::new(Vec::new());

/// Whether a refusal for `reason` may be logged at `warn` now (and records
/// that it was): true at most once per [`WARN_EVERY`] per reason.
pub(crate) fn warn_now(reason: &'static str) -> bool {
    warn_at(&LAST_WARNED, reason, Instant::now())
}

fn warn_at(last: &Mutex<Vec<(&'static str, Instant)>>, reason: &'static str, now: Instant) -> bool {
    let mut last = last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match last.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, at)) if now.saturating_duration_since(*at) < WARN_EVERY => false,
        Some((_, at)) => {
            *at = now;
            true
        }
        None => {
            last.push((reason, now));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_a_minute_per_reason() {
        let last = Mutex::new(Vec::new());
        let t0 = Instant::now();
        assert!(warn_at(&last, "audience_mismatch", t0));
        assert!(!warn_at(&last, "audience_mismatch", t0 + Duration::from_secs(59)));
        assert!(warn_at(&last, "typ_not_accepted", t0 + Duration::from_secs(1)));
        assert!(warn_at(&last, "audience_mismatch", t0 + WARN_EVERY));
        assert!(!warn_at(
            &last,
            "audience_mismatch",
            t0 + WARN_EVERY + Duration::from_secs(1)
        ));
        assert_eq!(last.lock().unwrap().len(), 2);
    }
}

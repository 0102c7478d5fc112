//! The crate's one time model: the expiry rule with its leeway, and deadlines
//! built from configured durations. Nothing here overflows or panics, whatever
//! the configuration: a deadline past the clock's range never arrives.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Whether `exp` has passed at `now`, allowing `leeway`.
pub(crate) fn is_expired(exp: SystemTime, leeway: Duration, now: SystemTime) -> bool {
    exp.checked_add(leeway).is_some_and(|limit| limit <= now)
}

/// Whether `start` (`nbf`, `iat`) lies after `now + leeway`.
pub(crate) fn is_not_yet_valid(start: SystemTime, leeway: Duration, now: SystemTime) -> bool {
    now.checked_add(leeway).is_some_and(|limit| start > limit)
}

/// Whether `now` is still within `span` of `at` (a span past the clock's range
/// never ends).
pub(crate) fn within(now: Instant, at: Instant, span: Duration) -> bool {
    at.checked_add(span).is_none_or(|end| now < end)
}

/// `at + span`, or the farthest deadline the clock can hold (at least a year
/// away) when that is past its range.
pub(crate) fn deadline(at: Instant, span: Duration) -> Instant {
    at.checked_add(span).unwrap_or_else(|| {
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        [100 * YEAR, YEAR]
            .into_iter()
            .find_map(|far| at.checked_add(far))
            .unwrap_or(at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_input_overflows() {
        let now = SystemTime::now();
        let epoch = SystemTime::UNIX_EPOCH;
        assert!(
            !is_expired(now, Duration::MAX, now),
            "an endless leeway never expires"
        );
        assert!(is_expired(epoch, Duration::ZERO, now));
        assert!(!is_expired(now, Duration::from_secs(60), now));
        assert!(!is_not_yet_valid(
            now + Duration::from_secs(3600),
            Duration::MAX,
            now
        ));
        assert!(is_not_yet_valid(
            now + Duration::from_secs(61),
            Duration::from_secs(60),
            now
        ));

        let t = Instant::now();
        assert!(within(t, t, Duration::MAX));
        assert!(!within(t, t, Duration::ZERO));
        assert!(deadline(t, Duration::MAX) > t + Duration::from_secs(3600));
        assert_eq!(deadline(t, Duration::from_secs(5)), t + Duration::from_secs(5));
    }
}

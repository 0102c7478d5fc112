//! The crate's one time model: NumericDate parsing, the expiry rule with its
//! leeway, and deadlines built from configured durations. Nothing here
//! overflows or panics, whatever the input or configuration: a deadline past
//! the clock's range never arrives.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use tokio::time::Instant;

/// Default clock leeway for `exp`, `nbf` and `iat`, for every verifier.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Latest accepted NumericDate (9999-12-31T23:59:59Z): larger values are
/// refused rather than saturated.
const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// A NumericDate (RFC 7519 §2) of a JWT claim or an introspection answer: any
/// JSON number in [0, year 9999], fractions kept; a string, a negative or a
/// larger number is refused.
pub(crate) struct NumericDate(pub(crate) SystemTime);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                (v <= MAX_NUMERIC_DATE)
                    .then(|| Duration::from_secs(v))
                    .ok_or_else(|| E::custom("NumericDate out of range"))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("NumericDate out of range"))
                    .and_then(|v| self.visit_u64(v))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                // Written this way round, NaN is refused too.
                if !(0.0..=MAX_NUMERIC_DATE as f64).contains(&v) {
                    return Err(E::custom("NumericDate out of range"));
                }
                Ok(Duration::from_secs_f64(v))
            }
        }
        let since_epoch = deserializer.deserialize_any(V)?;
        Ok(NumericDate(UNIX_EPOCH + since_epoch))
    }
}

/// Whole seconds since the Unix epoch, saturating (0 before it).
/// The last instant a NumericDate can name (9999-12-31T23:59:59Z), always
/// representable: the deadline of a configured duration too long to add.
pub fn far_future() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(MAX_NUMERIC_DATE)
}

/// Seconds since the Unix epoch (0 before it).
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How long until `exp` at `now` (zero once it has passed).
pub(crate) fn remaining(exp: SystemTime, now: SystemTime) -> Duration {
    exp.duration_since(now).unwrap_or_default()
}

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

        assert_eq!(unix_seconds(epoch - Duration::from_secs(1)), 0);
        assert_eq!(remaining(epoch, now), Duration::ZERO);
    }

    #[test]
    fn numeric_dates() {
        let date = |json: &str| serde_json::from_str::<NumericDate>(json).map(|d| d.0);
        let at = |secs: f64| UNIX_EPOCH + Duration::from_secs_f64(secs);
        assert_eq!(date("0").unwrap(), UNIX_EPOCH);
        assert_eq!(date("-0.0").unwrap(), UNIX_EPOCH);
        assert_eq!(date("1700000000").unwrap(), at(1_700_000_000.0));
        assert_eq!(date("1700000000.5").unwrap(), at(1_700_000_000.5));
        assert_eq!(date("253402300799").unwrap(), at(253_402_300_799.0));
        for refused in [
            "-1",
            "-0.5",
            "253402300800",
            "253402300799.5",
            "1e300",
            "18446744073709551615",
            "\"1700000000\"",
            "true",
            "null",
            "[1]",
        ] {
            assert!(date(refused).is_err(), "{refused}");
        }
    }
}

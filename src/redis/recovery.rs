//! Replay-safe recovery: how a replica notices that Redis lost the
//! single-use identifiers it held, and which identifiers it refuses until
//! they could no longer be accepted anyway.
//!
//! Every replay check runs one script, atomically with its `SET NX`, on the
//! hash `{prefix}epoch`:
//!
//! - `since`, the latest detected loss (Unix milliseconds): written by the
//!   replica that detects it and read by every other one, so a replica that
//!   did not see the loss itself (or started after it) still refuses; it also
//!   names the store's generation;
//! - `seq`, incremented by every check: within one generation a replica
//!   remembers the highest value it was answered, so a value that does not
//!   exceed it means writes were lost (a restart without persistence,
//!   `FLUSHALL`, a failover to a replica that lacked the last writes);
//! - `seq` equal to 1 means the hash did not exist: a new store or a wiped
//!   one, which nobody can tell apart, so it counts as a loss too (found at
//!   connect, just before the current second: identifiers issued in that
//!   second are accepted, so a replica that has just started on a new store
//!   does not refuse its first clients);
//! - a `since` older than the generation a replica knows means the store lost
//!   the record of a loss: a loss again.
//!
//! A detection moves `since` forward (to the detecting replica's clock, and
//! always past the previous value). An identifier issued (`iat`, seal time)
//! before the latest loss, or in its millisecond, is refused as possibly
//! used, whether or not Redis still holds it: the rule ends by itself one
//! replay window after the loss, when every such identifier has expired.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::Script;

/// `KEYS[1]` the identifier, `KEYS[2]` the epoch hash; `ARGV[1]` the TTL (ms),
/// `ARGV[2]` this replica's clock (Unix ms), `ARGV[3]` and `ARGV[4]` the
/// generation it knows and the highest `seq` it was answered in it. Returns
/// `{first use (1/0), seq, since}`.
static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local since = tonumber(redis.call('HGET', KEYS[2], 'since') or '0')
local now, generation, high = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if seq == 1 or since < generation or (since == generation and seq <= high) then
  since = math.max(now, generation + 1, since + 1)
  redis.call('HSET', KEYS[2], 'since', since)
end
local first = 0
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then first = 1 end
return {first, seq, since}
",
    )
});

/// At connect: `KEYS[1]` the epoch hash, `ARGV[1]` the millisecond before
/// this replica's current second (Unix ms). Returns `{seq, since}`.
static START: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if seq == 1 then redis.call('HSET', KEYS[1], 'since', ARGV[1]) end
return {seq, tonumber(redis.call('HGET', KEYS[1], 'since') or '0')}
",
    )
});

/// What one replica knows of the store's losses.
#[derive(Debug)]
pub(super) struct Epoch {
    /// The generation (the latest loss known, Unix ms) and the highest `seq`
    /// answered in it.
    known: Mutex<(u64, u64)>,
    /// The generation again, read without the lock by every decision.
    since: AtomicU64,
}

impl Epoch {
    fn new(since: u64, high: u64) -> Epoch {
        Epoch {
            known: Mutex::new((since, high)),
            since: AtomicU64::new(since),
        }
    }

    /// What the store says at connect.
    pub(super) async fn start(
        connection: &mut impl ::redis::aio::ConnectionLike,
        epoch_key: &str,
        now: SystemTime,
    ) -> Result<Epoch, ::redis::RedisError> {
        // Just before the current second: what is issued in it is accepted.
        let second = (unix_millis(now) / 1000 * 1000).saturating_sub(1);
        let (seq, since): (u64, u64) = START.key(epoch_key).arg(second).invoke_async(connection).await?;
        Ok(Epoch::new(since, seq))
    }

    /// The script call recording `key` for `ttl`, with what this replica
    /// knows; its answer goes to [`decide`](Self::decide).
    pub(super) fn check(
        &self,
        key: String,
        epoch_key: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> ::redis::ScriptInvocation<'static> {
        let (generation, high) = *lock(&self.known);
        let mut invocation = CHECK.prepare_invoke();
        invocation
            .key(key)
            .key(epoch_key)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
            .arg(unix_millis(now))
            .arg(generation)
            .arg(high);
        invocation
    }

    /// Takes in a check's answer `(first, seq, since)` and decides: the first
    /// use of an identifier issued at `issued_at`, and no loss since it was
    /// issued.
    pub(super) fn decide(&self, answer: (u8, u64, u64), issued_at: SystemTime) -> bool {
        let (first, seq, since) = answer;
        let mut known = lock(&self.known);
        if since > known.0 {
            crate::metrics::redis_data_loss();
            tracing::warn!(
                loss_unix_ms = since,
                "Redis lost single-use identifiers (restart without persistence, flush or failover): \
                 refusing those issued before the loss until they expire"
            );
            *known = (since, seq);
            self.since.store(since, Ordering::Release);
        } else if since == known.0 {
            known.1 = known.1.max(seq);
        }
        // An older generation: an answer given before the loss this replica
        // already knows of; it says nothing new.
        let generation = known.0;
        drop(known);
        // Strictly after: an identifier issued in the very millisecond the
        // loss was detected may have been used before it.
        first == 1 && unix_millis(issued_at) > generation
    }

    /// The latest loss this replica knows of.
    pub(super) fn last_loss(&self) -> Option<SystemTime> {
        match self.since.load(Ordering::Acquire) {
            0 => None,
            ms => UNIX_EPOCH.checked_add(Duration::from_millis(ms)),
        }
    }
}

fn lock(known: &Mutex<(u64, u64)>) -> std::sync::MutexGuard<'_, (u64, u64)> {
    // Two plain integers: consistent whatever a panicking holder did.
    known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn a_new_generation_refuses_what_was_issued_before_it() {
        let epoch = Epoch::new(999, 1);
        assert!(epoch.decide((1, 2, 999), at(1_000)));
        assert!(!epoch.decide((1, 1, 5_000), at(4_999)));
        assert_eq!(epoch.last_loss(), Some(at(5_000)));
        assert!(
            !epoch.decide((1, 2, 5_000), at(5_000)),
            "issued in the millisecond of the loss: maybe used before it"
        );
        assert!(epoch.decide((1, 2, 5_000), at(5_001)));
        assert!(!epoch.decide((0, 3, 5_000), at(6_000)), "a replay is a replay");
    }

    #[test]
    fn answers_of_an_older_generation_change_nothing() {
        let epoch = Epoch::new(5_000, 3);
        // Sent before the loss, answered after this replica learnt of it.
        assert!(!epoch.decide((1, 900, 1_000), at(4_000)));
        assert_eq!(
            *lock(&epoch.known),
            (5_000, 3),
            "the high stays the new generation's"
        );
        assert!(epoch.decide((1, 4, 5_000), at(5_001)));
        assert_eq!(*lock(&epoch.known), (5_000, 4));
        assert_eq!(epoch.last_loss(), Some(at(5_000)));
    }
}

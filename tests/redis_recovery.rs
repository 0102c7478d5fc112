//! Replay-safe recovery after the shared Redis loses data, against a real
//! `redis-server` without persistence: a sealed MCP `requestState` or an
//! ID-JAG used before the server restarts is refused after it, at the replica
//! that used it and at another one; so is one issued before the restart and
//! never used (nobody can tell); fresh ones are accepted from the next second
//! on. A failover that lost the last writes (the replay key and the epoch's
//! last increment gone, as on a replica promoted before it had them) is
//! detected the same way. The quickstart-level DPoP case is in
//! `redis_replicas.rs`.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::AsyncCommands as _;
use support::redis::RedisServer;
use tower_bearer::Principal;
use tower_bearer::mcp::{StateError, StateKey, StateRequest, StateSealer};
use tower_bearer::redis::RedisStore;
use tower_bearer::replay::{ReplayCache, ReplayKey};
use tower_bearer_issuer::DevIssuer;
use tower_bearer_issuer::id_jag::{IdJagError, IdJagValidator};

/// One replica's connection.
async fn replica(server: &RedisServer) -> RedisStore {
    RedisStore::builder(server.url())
        .command_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect("connect to the test redis-server")
}

/// Calls `attempt` until it is not "unavailable" (the connection comes back
/// after a restart), at most 50 times.
async fn once_reachable<T>(mut attempt: impl AsyncFnMut() -> T, unavailable: impl Fn(&T) -> bool) -> T {
    for _ in 0..50 {
        let answer = attempt().await;
        if !unavailable(&answer) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Redis did not come back");
}

/// Sleeps until the next whole second: identifiers issued from then on (in
/// whole seconds, as `iat` and seal times are) are later than any loss
/// detected before the call.
async fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    tokio::time::sleep(Duration::from_secs(now.as_secs() + 1) - now).await;
}

#[tokio::test]
async fn redis_restart_sealed_request_state_used_before_is_refused_at_every_replica() {
    let mut server = RedisServer::start();
    let (a, b) = (replica(&server).await, replica(&server).await);
    let key = StateKey::generate("k1").unwrap();
    let at_a = StateSealer::new(key.clone()).replay_cache(a.replay_cache());
    let at_b = StateSealer::new(key).replay_cache(b.replay_cache());
    let alice = Principal::new()
        .with_issuer("https://as.example")
        .with_subject("alice");
    let request = StateRequest::tool("delete_note");

    let used = at_a.seal(&alice, &request, b"step 2").unwrap();
    let unused = at_a.seal(&alice, &request, b"step 2").unwrap();
    assert_eq!(at_a.open(&alice, &request, &used).await.unwrap(), b"step 2");
    assert_eq!(
        at_b.open(&alice, &request, &used).await,
        Err(StateError::Replayed)
    );
    let loss_before = a.last_loss();

    server.restart();
    let is_down = |r: &Result<Vec<u8>, StateError>| *r == Err(StateError::Unavailable);
    let again = once_reachable(async || at_a.open(&alice, &request, &used).await, is_down).await;
    assert_eq!(again, Err(StateError::Replayed), "same replica after the restart");
    assert!(a.last_loss() > loss_before, "the loss is known");
    let again = once_reachable(async || at_b.open(&alice, &request, &used).await, is_down).await;
    assert_eq!(
        again,
        Err(StateError::Replayed),
        "other replica after the restart"
    );
    assert_eq!(
        at_b.open(&alice, &request, &unused).await,
        Err(StateError::Replayed),
        "sealed before the loss: it may have been used, nobody can tell"
    );

    next_second().await;
    let fresh = at_a.seal(&alice, &request, b"step 2 again").unwrap();
    assert_eq!(
        at_b.open(&alice, &request, &fresh).await.unwrap(),
        b"step 2 again"
    );
    assert_eq!(
        at_a.open(&alice, &request, &fresh).await,
        Err(StateError::Replayed),
        "and single use still holds"
    );
}

#[tokio::test]
async fn redis_restart_id_jag_exchanged_before_is_refused_at_every_replica() {
    const AS: &str = "https://as.example";
    const RESOURCE: &str = "https://rs.example/mcp";
    let idp = DevIssuer::start().await.unwrap();
    let mut server = RedisServer::start();
    let validator = |store: &RedisStore| {
        IdJagValidator::builder()
            .audience(AS)
            .trusted_issuer(idp.issuer(), idp.jwks_uri())
            .replay_cache(store.replay_cache())
            .build()
            .unwrap()
    };
    let (a, b) = (replica(&server).await, replica(&server).await);
    let (at_a, at_b) = (validator(&a), validator(&b));
    let jag = || idp.id_jag("alice@corp", AS, "mcp-client", RESOURCE, "mcp:read");

    let used = jag();
    assert!(at_a.validate(&used, "mcp-client").await.is_ok());
    assert_eq!(
        at_b.validate(&used, "mcp-client").await.unwrap_err(),
        IdJagError::Replayed
    );

    server.restart();
    let is_down = |r: &Result<_, IdJagError>| r.as_ref().is_err_and(IdJagError::is_unavailable);
    for (name, validator) in [("same", &at_a), ("other", &at_b)] {
        let again = once_reachable(async || validator.validate(&used, "mcp-client").await, is_down).await;
        assert_eq!(
            again.unwrap_err(),
            IdJagError::Replayed,
            "{name} replica after the restart"
        );
    }

    next_second().await;
    let fresh = jag();
    assert!(at_b.validate(&fresh, "mcp-client").await.is_ok());
    assert_eq!(
        at_a.validate(&fresh, "mcp-client").await.unwrap_err(),
        IdJagError::Replayed
    );
}

#[tokio::test]
async fn redis_failover_that_lost_the_last_writes_is_detected_and_shared() {
    let server = RedisServer::start();
    let (a, b) = (replica(&server).await, replica(&server).await);
    let (at_a, at_b) = (a.replay_cache(), b.replay_cache());
    let until = SystemTime::now() + Duration::from_secs(60);

    // Concurrent checks at both replicas, answered in any order: no false alarm.
    let loss_at_start = a.last_loss();
    let checks: Vec<_> = (0..200)
        .map(|i| {
            let cache = if i % 2 == 0 { at_a.clone() } else { at_b.clone() };
            tokio::spawn(async move {
                let key = ReplayKey::new("test", "burst", &i.to_string());
                cache.first_use(&key, SystemTime::now(), until).await
            })
        })
        .collect();
    for check in checks {
        assert_eq!(check.await.unwrap(), Ok(true));
    }
    assert_eq!(a.last_loss(), loss_at_start, "no loss without one");
    assert_eq!(b.last_loss(), loss_at_start);

    let issued = SystemTime::now();
    let used = ReplayKey::new("test", "failover", "jti-1");
    assert_eq!(at_a.first_use(&used, issued, until).await, Ok(true));
    // The promoted replica never got that write: neither the key nor the
    // epoch's increment.
    let mut raw = ::redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let removed: u32 = raw
        .del(format!("tower-bearer:replay:{}", used.to_hex()))
        .await
        .unwrap();
    assert_eq!(removed, 1, "the key the test removes is the one the store wrote");
    let _: i64 = raw.hincr("tower-bearer:epoch", "seq", -1).await.unwrap();

    assert_eq!(
        at_a.first_use(&used, issued, until).await,
        Ok(false),
        "the replica that wrote it sees the sequence go back"
    );
    let loss = a.last_loss().expect("detected");
    // In whole milliseconds: the loss is at or after the millisecond of `issued`.
    assert!(loss + Duration::from_millis(1) > issued, "{loss:?} {issued:?}");
    assert_eq!(
        at_b.first_use(&used, issued, until).await,
        Ok(false),
        "the other replica reads the loss from Redis"
    );
    assert_eq!(b.last_loss(), Some(loss));
    let late = replica(&server).await;
    assert_eq!(late.last_loss(), Some(loss), "so does one started after it");
    let other = ReplayKey::new("test", "failover", "jti-2");
    assert_eq!(
        late.replay_cache().first_use(&other, issued, until).await,
        Ok(false),
        "issued before the loss, never seen: refused all the same"
    );
    // Issued in the loss's own millisecond it would be refused too.
    let fresh = ReplayKey::new("test", "failover", "jti-3");
    let after = SystemTime::now().max(loss + Duration::from_millis(1));
    assert_eq!(
        at_b.first_use(&fresh, after, until).await,
        Ok(true),
        "issued after it"
    );
}

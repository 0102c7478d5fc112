//! State shared by replicas on a real `redis-server` on loopback (feature
//! `redis`): one contract suite per trait, run against the in-memory default
//! and the Redis implementation so the two cannot drift; outages fail closed
//! (503 + Retry-After) and recover without a restart; two resource servers
//! sharing one Redis refuse a DPoP proof replayed from one to the other.
//! The Redis suites run again over TLS (`rediss://`, a redis-server with a
//! certificate from a throwaway CA the client is given), and a client that
//! does not trust the CA cannot connect.
#![cfg(feature = "redis")]

mod support;
mod support_introspection;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::{Router, routing::get};
use support::redis::RedisServer;
use support::serve;
use support_introspection::server::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer, RESOURCE};
use tower_bearer::dpop::Dpop;
use tower_bearer::introspection::IntrospectionVerifier;
use tower_bearer::mcp::{MemorySessionStore, SessionKey, SessionOwner, SessionStore};
use tower_bearer::redis::{RedisStore, RedisStoreBuilder, RedisStoreError};
use tower_bearer::replay::{MemoryReplayCache, ReplayCache, ReplayKey};
use tower_bearer::{Principal, TokenVerifier, TokenVerifierLayer};
use tower_bearer_issuer::{DevIssuer, DpopKey};

/// Connected to `server`, trusting its CA when it speaks TLS.
async fn store(server: &RedisServer) -> RedisStore {
    let mut builder = RedisStore::builder(server.url())
        .command_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(500));
    if let Some(ca) = server.ca_pem() {
        builder = builder.tls_root_certificates(ca);
    }
    builder.connect().await.expect("connect to the test redis-server")
}

fn fresh(id: &str) -> ReplayKey {
    ReplayKey::new("contract", "scope", &format!("{id}-{:?}", SystemTime::now()))
}

/// What every `ReplayCache` must do.
async fn replay_contract<C: ReplayCache + 'static>(name: &str, cache: Arc<C>) {
    let soon = SystemTime::now() + Duration::from_secs(1);
    let key = fresh("a");
    assert_eq!(
        cache.first_use(&key, SystemTime::now(), soon).await,
        Ok(true),
        "{name}: first use"
    );
    assert_eq!(
        cache.first_use(&key, SystemTime::now(), soon).await,
        Ok(false),
        "{name}: a replay"
    );
    assert_eq!(
        cache.first_use(&fresh("b"), SystemTime::now(), soon).await,
        Ok(true),
        "{name}: another key"
    );
    // Already past: nothing to keep, and accepting is safe (the caller's window refuses it).
    let past = fresh("past");
    let before = SystemTime::now() - Duration::from_secs(1);
    assert_eq!(
        cache.first_use(&past, SystemTime::now(), before).await,
        Ok(true),
        "{name}: past"
    );
    let later = SystemTime::now() + Duration::from_secs(60);
    assert_eq!(
        cache.first_use(&past, SystemTime::now(), later).await,
        Ok(true),
        "{name}: past keys are not kept"
    );
    // Remembered until `until`, forgotten after.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        cache.first_use(&key, SystemTime::now(), later).await,
        Ok(true),
        "{name}: forgotten after until"
    );
    // Concurrent first uses: one winner.
    let race = fresh("race");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.first_use(&race, SystemTime::now(), later).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|a| **a == Ok(true)).count(),
        1,
        "{name}: {answers:?}"
    );
}

/// What every `SessionStore` must do; `idle` is the store's idle TTL.
async fn session_contract(name: &str, store: &impl SessionStore, idle: Duration) {
    let key = SessionKey::new(&format!("contract-{name}-{:?}", SystemTime::now()));
    assert_eq!(store.owner(&key).await.unwrap(), None, "{name}: unknown");
    let alice = SessionOwner::new(Principal::new().with_issuer("https://as").with_subject("alice"));
    store.bind(&key, &alice).await.unwrap();
    assert_eq!(
        store.owner(&key).await.unwrap(),
        Some(alice.clone()),
        "{name}: bound"
    );
    let bound = alice
        .clone()
        .with_dpop_jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    store.bind(&key, &bound).await.unwrap();
    assert_eq!(
        store.owner(&key).await.unwrap(),
        Some(bound.clone()),
        "{name}: replaced, key kept"
    );
    // Use refreshes the idle TTL.
    for _ in 0..3 {
        tokio::time::sleep(idle * 2 / 3).await;
        assert_eq!(
            store.owner(&key).await.unwrap(),
            Some(bound.clone()),
            "{name}: kept while used"
        );
    }
    store.unbind(&key).await.unwrap();
    assert_eq!(store.owner(&key).await.unwrap(), None, "{name}: unbound");
    // Idle bindings expire.
    store.bind(&key, &alice).await.unwrap();
    tokio::time::sleep(idle + Duration::from_millis(1200)).await;
    assert_eq!(
        store.owner(&key).await.unwrap(),
        None,
        "{name}: expired when idle"
    );
}

#[tokio::test]
async fn redis_replay_caches_keep_one_contract() {
    let server = RedisServer::start();
    let redis = store(&server).await;
    replay_contract("memory", Arc::new(MemoryReplayCache::new())).await;
    replay_contract("redis", Arc::new(redis.replay_cache())).await;
}

#[tokio::test]
async fn redis_session_stores_keep_one_contract() {
    let server = RedisServer::start();
    let redis = store(&server).await;
    let idle = Duration::from_secs(2);
    session_contract("memory", &MemorySessionStore::new().idle_ttl(idle).unwrap(), idle).await;
    session_contract("redis", &redis.session_store(idle), idle).await;
}

#[tokio::test]
async fn redis_outage_fails_closed_and_recovers_without_a_restart() {
    outage_fails_closed_and_recovers(RedisServer::start()).await;
}

/// Redis stopped: replay and session checks fail closed; restarted on the
/// same port: used again by the same connection manager.
async fn outage_fails_closed_and_recovers(mut server: RedisServer) {
    let redis = store(&server).await;
    let replay = redis.replay_cache();
    let sessions = redis.session_store(Duration::from_secs(60));
    let later = SystemTime::now() + Duration::from_secs(60);
    let key = SessionKey::new("outage");
    sessions
        .bind(&key, &SessionOwner::new(Principal::new().with_subject("alice")))
        .await
        .unwrap();
    server.stop();
    let down = replay.first_use(&fresh("down"), SystemTime::now(), later).await;
    let unavailable = down.expect_err("no proof accepted unchecked");
    assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(2)));
    assert!(
        sessions.owner(&key).await.is_err(),
        "no session let through unchecked"
    );
    assert!(
        sessions
            .bind(&key, &SessionOwner::new(Principal::new()))
            .await
            .is_err()
    );
    server.restart();
    // The connection comes back by itself (an empty server: the binding is gone).
    let mut recovered = false;
    for _ in 0..50 {
        if replay
            .first_use(&fresh("back"), SystemTime::now(), later)
            .await
            .is_ok()
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "Redis is used again after it restarts");
    assert_eq!(sessions.owner(&key).await.unwrap(), None);
}

#[tokio::test]
async fn redis_urls_and_credentials() {
    let server = RedisServer::start_with(Some("s3cret-pass"));
    assert!(
        store(&server)
            .await
            .replay_cache()
            .first_use(
                &fresh("auth"),
                SystemTime::now(),
                SystemTime::now() + Duration::from_secs(5)
            )
            .await
            .is_ok()
    );
    let wrong = RedisStore::builder(format!("redis://default:wrong@127.0.0.1:{}/0", server.port))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(wrong, RedisStoreError::Connect(_)), "{wrong:?}");
    assert!(
        !wrong.to_string().contains("wrong"),
        "no password in errors: {wrong}"
    );
    for bad in ["http://127.0.0.1:6379", "127.0.0.1:6379", ""] {
        assert!(
            matches!(
                RedisStore::builder(bad).connect().await,
                Err(RedisStoreError::Url(_))
            ),
            "{bad}"
        );
    }
    let nobody = support::quickstart::free_loopback_addr().port();
    let down = RedisStore::builder(format!("redis://127.0.0.1:{nobody}"))
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(down, RedisStoreError::Connect(_)));
}

/// Two resource servers (replicas) sharing one Redis: a DPoP proof accepted by
/// one is a replay at the other; with Redis down, DPoP requests get 503.
#[tokio::test]
async fn redis_a_proof_accepted_by_one_replica_is_refused_by_the_other() {
    let mut server = RedisServer::start();
    let issuer = DevIssuer::start().await.unwrap();
    let audience = "http://127.0.0.1/whoami";
    let mut urls = Vec::new();
    for _ in 0..2 {
        let redis = store(&server).await;
        let layer = TokenVerifierLayer::new(issuer.jwt_verifier(audience))
            .dpop(Dpop::allowed().replay_cache(redis.replay_cache()));
        let app = Router::new()
            .route("/whoami", get(|| async { "ok" }))
            .layer(layer);
        urls.push(format!("http://{}/whoami", serve(app).await));
    }
    let key = DpopKey::generate();
    let token = issuer.dpop_token("alice", "app", "mcp", audience, &key);
    let client = reqwest::Client::new();
    // Both replicas are reached as one public host (a load balancer): one htu.
    let public = "http://api.example/whoami";
    let send = |url: &str, proof: &str| {
        client
            .get(url)
            .header("host", "api.example")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof.to_owned())
            .send()
    };
    let proof = key.proof("GET", public, Some(&token));
    assert_eq!(send(&urls[0], &proof).await.unwrap().status(), 200);
    let replayed = send(&urls[1], &proof).await.unwrap();
    assert_eq!(replayed.status(), 401);
    let www = replayed.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        replayed
            .headers()
            .get_all("www-authenticate")
            .iter()
            .any(|v| v.to_str().unwrap().contains("DPoP proof already used")),
        "{www}"
    );
    assert_eq!(
        send(&urls[1], &key.proof("GET", public, Some(&token)))
            .await
            .unwrap()
            .status(),
        200
    );

    server.stop();
    let res = send(&urls[0], &key.proof("GET", public, Some(&token)))
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2");
    // Bearer tokens do not need the replay cache.
    let bearer = issuer.token("bob", "app", "mcp", audience);
    let res = client.get(&urls[0]).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(res.status(), 200);
    server.restart();
    let mut status = 0;
    for _ in 0..50 {
        status = send(&urls[0], &key.proof("GET", public, Some(&token)))
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "recovered without restarting the replicas");
}

/// Introspection answers cached by one replica are served to the other from
/// Redis, without a second call to the authorization server; with Redis down
/// each replica asks the authorization server itself (no 503).
#[tokio::test]
async fn redis_an_introspection_answer_is_shared_between_replicas() {
    introspection_shared_between_replicas(RedisServer::start()).await;
}

async fn introspection_shared_between_replicas(mut server: RedisServer) {
    let authorization_server = IntrospectionServer::start().await;
    let replica = |redis: RedisStore| {
        IntrospectionVerifier::builder()
            .endpoint(authorization_server.endpoint())
            .client_credentials(CLIENT_ID, CLIENT_SECRET)
            .issuer(authorization_server.issuer())
            .audience(RESOURCE)
            .shared_cache(redis.introspection_cache())
            .build()
            .unwrap()
    };
    let a = replica(store(&server).await);
    let b = replica(store(&server).await);
    authorization_server.add_token("shared-token", "mcp:read");
    let at_a = a.verify("shared-token").await.unwrap();
    assert_eq!(authorization_server.calls(), 1);
    let at_b = b.verify("shared-token").await.unwrap();
    assert_eq!(authorization_server.calls(), 1, "B was answered from Redis");
    assert_eq!(at_a.principal(), at_b.principal());
    assert_eq!(at_b.scopes().to_string(), "mcp:read");
    // Negative answers are shared too.
    assert!(a.verify("unknown-token").await.is_err());
    assert!(b.verify("unknown-token").await.is_err());
    assert_eq!(authorization_server.calls(), 2);
    // Redis down: the shared cache is skipped, the authorization server asked.
    server.stop();
    authorization_server.add_token("during-outage", "mcp:read");
    assert!(a.verify("during-outage").await.is_ok());
    assert!(b.verify("during-outage").await.is_ok());
    assert_eq!(authorization_server.calls(), 4);
}

// ---- The same over TLS (`rediss://`) ----

/// The error of a connection that must fail.
async fn refused(builder: RedisStoreBuilder) -> RedisStoreError {
    builder
        .connect()
        .await
        .expect_err("no store for this configuration")
}

#[tokio::test]
async fn redis_tls_replay_cache_keeps_the_contract() {
    let server = RedisServer::start_tls(None);
    assert!(server.url().starts_with("rediss://"));
    replay_contract("redis over TLS", Arc::new(store(&server).await.replay_cache())).await;
}

#[tokio::test]
async fn redis_tls_session_store_keeps_the_contract() {
    let server = RedisServer::start_tls(None);
    let idle = Duration::from_secs(2);
    let sessions = store(&server).await.session_store(idle);
    session_contract("redis over TLS", &sessions, idle).await;
}

#[tokio::test]
async fn redis_tls_an_introspection_answer_is_shared_between_replicas() {
    introspection_shared_between_replicas(RedisServer::start_tls(None)).await;
}

#[tokio::test]
async fn redis_tls_outage_fails_closed_and_reconnects_over_tls() {
    outage_fails_closed_and_recovers(RedisServer::start_tls(None)).await;
}

/// A client that does not trust the server's CA (the default Mozilla roots, or
/// another CA) cannot connect: an error, not a panic, and no store to use.
/// Plain TCP to a TLS-only port fails the same way. Roots that are not PEM
/// certificates, or roots for a `redis://` URL, are refused before any
/// connection. A password over TLS: the right one works, a wrong one is
/// refused without being echoed.
#[tokio::test]
async fn redis_tls_untrusted_ca_bad_roots_and_password() {
    let server = RedisServer::start_tls(Some("tls-pass"));
    let quick = |url: String| {
        RedisStore::builder(url)
            .connect_timeout(Duration::from_millis(1000))
            .command_timeout(Duration::from_millis(300))
    };
    let later = SystemTime::now() + Duration::from_secs(5);
    let trusted = store(&server).await;
    assert_eq!(
        trusted
            .replay_cache()
            .first_use(&fresh("tls-auth"), SystemTime::now(), later)
            .await,
        Ok(true),
        "password over TLS"
    );

    // A margin, not a measure: the handshake fails at once, and the one retry
    // follows within about 2 s; its error, not a timeout, is the reason.
    let webpki = refused(quick(server.url()).connect_timeout(Duration::from_secs(30))).await;
    assert!(matches!(webpki, RedisStoreError::Connect(_)), "{webpki:?}");
    assert!(
        webpki.to_string().contains("invalid peer certificate"),
        "the reason is the certificate: {webpki}"
    );
    let (other_ca, _) = support::redis::throwaway_ca();
    let other = refused(quick(server.url()).tls_root_certificates(other_ca)).await;
    assert!(matches!(other, RedisStoreError::Connect(_)), "{other:?}");
    let plain = refused(quick(server.url().replacen("rediss://", "redis://", 1))).await;
    assert!(matches!(plain, RedisStoreError::Connect(_)), "{plain:?}");
    let ca = server.ca_pem().unwrap().to_owned();
    let wrong_url = format!("rediss://default:wrong-pass@127.0.0.1:{}/0", server.port);
    let wrong = refused(quick(wrong_url).tls_root_certificates(ca.clone())).await;
    assert!(matches!(wrong, RedisStoreError::Connect(_)), "{wrong:?}");
    for error in [&webpki, &other, &plain, &wrong] {
        let text = error.to_string();
        assert!(
            !text.contains("tls-pass") && !text.contains("wrong-pass"),
            "{text}"
        );
    }

    let truncated = ca.lines().take(3).collect::<Vec<_>>().join("\n");
    let not_a_certificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let key_only = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    for bad in [
        "",
        "not pem at all",
        key_only,
        truncated.as_str(),
        not_a_certificate,
    ] {
        let error = refused(quick(server.url()).tls_root_certificates(bad)).await;
        assert!(matches!(error, RedisStoreError::Tls(_)), "{bad:?}: {error:?}");
    }
    let plain_url =
        refused(quick(format!("redis://127.0.0.1:{}/0", server.port)).tls_root_certificates(ca)).await;
    assert!(matches!(plain_url, RedisStoreError::Tls(_)), "{plain_url:?}");
}

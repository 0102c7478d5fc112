//! The verified-token cache of `JwtVerifier` (on by default): what it answers
//! without waiting (`verify_now`), that refused tokens never enter it, that a
//! cached token is checked against the clock again, directly and through the
//! layer, that a key dropped from the issuer's set takes its cached tokens with
//! it, and that the cache stays bounded.

mod support_jwks;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use support_jwks::{JwksServer, TestKey, access_token_claims, verifier_for};
use tower_bearer::jwt::Algorithm;

/// Tokens longer than this are never cached (documented on `verified_token_cache`).
const MAX_CACHED_TOKEN_LEN: usize = 4096;
use tower_bearer::{AccessToken, InvalidToken, TokenVerifier, TokenVerifierLayer, VerifyError};
use tower_bearer_issuer::DevIssuer;

const AUDIENCE: &str = "https://rs.example/mcp";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A token of `issuer` for alice whose claims were changed by `edit`.
fn token_with(issuer: &DevIssuer, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = issuer.claims("alice", "app", "mcp:read", AUDIENCE);
    edit(&mut claims);
    issuer.sign_claims(&claims)
}

fn subject(result: Result<AccessToken, VerifyError>) -> String {
    result.unwrap().principal().subject().unwrap().to_owned()
}

#[tokio::test]
async fn verified_tokens_are_at_hand_only_with_the_cache() {
    let issuer = DevIssuer::start().await.unwrap();
    let token = issuer.token("alice", "app", "mcp:read", AUDIENCE);

    let uncached = issuer
        .jwt_verifier_builder(AUDIENCE)
        .no_verified_token_cache()
        .build()
        .unwrap();
    assert_eq!(subject(uncached.verify(&token).await), "alice");
    assert!(
        uncached.verify_now(&token).is_none(),
        "no cache: always the async path"
    );
    assert_eq!(uncached.cached_tokens(), 0);

    // The default verifier caches.
    let cached = issuer.jwt_verifier(AUDIENCE);
    assert!(cached.verify_now(&token).is_none(), "not verified yet");
    let verified = cached.verify(&token).await.unwrap();
    let at_hand = cached
        .verify_now(&token)
        .expect("verified once: at hand")
        .unwrap();
    assert_eq!(at_hand.principal(), verified.principal());
    assert_eq!(at_hand.scopes(), verified.scopes());

    let other = issuer.token("bob", "app", "mcp:read", AUDIENCE);
    assert!(cached.verify_now(&other).is_none(), "another token is not a hit");
}

#[tokio::test]
async fn refused_tokens_never_enter_the_cache() {
    let issuer = DevIssuer::start().await.unwrap();
    let verifier = issuer
        .jwt_verifier_builder(AUDIENCE)
        .verified_token_cache(100)
        .build()
        .unwrap();
    let good = issuer.token("alice", "app", "mcp:read", AUDIENCE);
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(342));
    let expired = token_with(&issuer, |c| c["exp"] = json!(now() - 3600));
    let wrong_audience = token_with(&issuer, |c| c["aud"] = json!("https://other.example"));
    for (bad, why) in [
        (forged, InvalidToken::Signature),
        (expired, InvalidToken::Expired),
        (wrong_audience, InvalidToken::Audience),
    ] {
        for _ in 0..2 {
            assert_eq!(verifier.verify(&bad).await.unwrap_err(), VerifyError::from(why));
            assert!(verifier.verify_now(&bad).is_none(), "{why:?} was cached");
        }
    }
}

/// A token valid for two more seconds, a verifier without clock leeway.
async fn short_lived() -> (DevIssuer, tower_bearer::jwt::JwtVerifier, String, u64) {
    let issuer = DevIssuer::start().await.unwrap();
    let verifier = issuer
        .jwt_verifier_builder(AUDIENCE)
        .verified_token_cache(100)
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let exp = now() + 2;
    let token = token_with(&issuer, |c| c["exp"] = json!(exp));
    (issuer, verifier, token, exp)
}

/// Sleeps until the wall clock is past `exp` (whole seconds).
async fn until_past(exp: u64) {
    while now() <= exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_cached_token_expires_on_time() {
    let (_issuer, verifier, token, exp) = short_lived().await;
    assert_eq!(subject(verifier.verify(&token).await), "alice");
    assert_eq!(subject(verifier.verify_now(&token).unwrap()), "alice");
    until_past(exp).await;
    let expired = VerifyError::from(InvalidToken::Expired);
    // The entry is evicted at `exp`, or refused if the cache has not caught up.
    if let Some(at_hand) = verifier.verify_now(&token) {
        assert_eq!(at_hand.unwrap_err(), expired);
    }
    assert_eq!(verifier.verify(&token).await.unwrap_err(), expired);
}

#[tokio::test]
async fn the_layer_refuses_a_cached_token_once_it_expires() {
    let (_issuer, verifier, token, exp) = short_lived().await;
    let app = Router::new()
        .route(
            "/whoami",
            get(|token: AccessToken| async move { token.principal().subject().unwrap().to_owned() }),
        )
        .layer(
            TokenVerifierLayer::new(verifier)
                .resource_metadata("https://rs.example/.well-known/oauth-protected-resource")
                .unwrap(),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/whoami", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let get = || client.get(&url).bearer_auth(&token).send();

    // The first request verifies the signature, the second is a cache hit.
    for _ in 0..2 {
        let res = get().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "alice");
    }
    until_past(exp).await;
    let res = get().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer error="invalid_token", error_description="token expired", resource_metadata="https://rs.example/.well-known/oauth-protected-resource""#
    );
}

/// `key` signs an access token for `server`'s issuer.
fn signed(key: &TestKey, server: &JwksServer) -> String {
    key.token(&access_token_claims(&server.issuer()))
}

#[tokio::test]
async fn a_key_dropped_by_a_refetch_takes_its_cached_tokens_with_it() {
    let old = TestKey::generate(Algorithm::ES256, "old");
    let new = TestKey::generate(Algorithm::ES256, "new");
    let server = JwksServer::start(&[&old]).await;
    let verifier = verifier_for(&server).build().unwrap();
    let old_token = signed(&old, &server);
    verifier.verify(&old_token).await.unwrap();
    assert!(verifier.verify_now(&old_token).unwrap().is_ok(), "cached");

    // The issuer retires the old key; a token of the new key makes the
    // verifier fetch the new set.
    server.rotate(&[&new]);
    verifier.verify(&signed(&new, &server)).await.unwrap();
    assert_eq!(server.fetches(), 2);

    assert!(
        verifier.verify_now(&old_token).is_none(),
        "the cached token of a dropped key must be verified again"
    );
    assert_eq!(
        verifier.verify(&old_token).await.unwrap_err(),
        VerifyError::from(InvalidToken::UnknownKey)
    );
    assert!(
        verifier.verify_now(&old_token).is_none(),
        "a refused token is not cached"
    );
}

#[tokio::test]
async fn a_key_that_stays_keeps_its_cached_tokens() {
    let kept = TestKey::generate(Algorithm::ES256, "kept");
    let added = TestKey::generate(Algorithm::ES256, "added");
    let server = JwksServer::start(&[&kept]).await;
    let verifier = verifier_for(&server).build().unwrap();
    let kept_token = signed(&kept, &server);
    verifier.verify(&kept_token).await.unwrap();

    server.rotate(&[&added, &kept]);
    verifier.verify(&signed(&added, &server)).await.unwrap();
    assert_eq!(server.fetches(), 2);
    assert!(
        verifier.verify_now(&kept_token).unwrap().is_ok(),
        "the new set still holds the key: still a hit"
    );
}

#[tokio::test]
async fn a_key_dropped_at_the_scheduled_refresh_takes_its_cached_tokens_with_it() {
    let old = TestKey::generate(Algorithm::ES256, "old");
    let new = TestKey::generate(Algorithm::ES256, "new");
    let server = JwksServer::start(&[&old]).await;
    // The key set is fresh for one second, so a refresh is due within it.
    let second = Duration::from_secs(1);
    let verifier = verifier_for(&server)
        .jwks_ttl(second, second, second)
        .build()
        .unwrap();
    let old_token = signed(&old, &server);
    verifier.verify(&old_token).await.unwrap();
    server.rotate(&[&new]);

    // No token of the new key comes: only the scheduled refresh learns the
    // new set. Within a bounded number of tries the cached token is refused.
    let mut verdict = verifier.verify(&old_token).await;
    for _ in 0..100 {
        if verdict.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        verdict = verifier.verify(&old_token).await;
    }
    assert_eq!(verdict.unwrap_err(), VerifyError::from(InvalidToken::UnknownKey));
    assert!(server.fetches() >= 2);
}

#[tokio::test]
async fn the_cache_stays_bounded_under_a_flood_of_distinct_valid_tokens() {
    let key = TestKey::generate(Algorithm::ES256, "k");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server).verified_token_cache(100).build().unwrap();
    for i in 0..1000 {
        let mut claims = access_token_claims(&server.issuer());
        claims["sub"] = json!(format!("user-{i}"));
        verifier.verify(&key.token(&claims)).await.unwrap();
    }
    let held = verifier.cached_tokens();
    assert!(held > 0 && held <= 100, "{held} entries for a capacity of 100");

    // The default capacity (4096 entries) holds all of them.
    let default = verifier_for(&server).build().unwrap();
    for i in 0..1000 {
        let mut claims = access_token_claims(&server.issuer());
        claims["sub"] = json!(format!("user-{i}"));
        default.verify(&key.token(&claims)).await.unwrap();
    }
    assert_eq!(default.cached_tokens(), 1000);
}

#[tokio::test]
async fn a_long_token_is_verified_every_time() {
    let key = TestKey::generate(Algorithm::ES256, "k");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server).build().unwrap();
    let mut claims = access_token_claims(&server.issuer());
    claims["padding"] = json!("x".repeat(MAX_CACHED_TOKEN_LEN));
    let long = key.token(&claims);
    assert!(long.len() > MAX_CACHED_TOKEN_LEN);
    for _ in 0..2 {
        verifier.verify(&long).await.unwrap();
        assert!(verifier.verify_now(&long).is_none(), "a long token was cached");
    }
    assert_eq!(verifier.cached_tokens(), 0);

    let short = signed(&key, &server);
    verifier.verify(&short).await.unwrap();
    assert_eq!(verifier.cached_tokens(), 1);
}

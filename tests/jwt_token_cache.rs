//! The optional verified-token cache of `JwtVerifier`: what it answers without
//! waiting (`verify_now`), that refused tokens never enter it, and that a cached
//! token is checked against the clock again, directly and through the layer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tower_bearer::testing::DevIssuer;
use tower_bearer::{AccessToken, InvalidToken, TokenVerifier, TokenVerifierLayer, VerifyError};

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

    let uncached = issuer.jwt_verifier(AUDIENCE);
    assert_eq!(subject(uncached.verify(&token).await), "alice");
    assert!(
        uncached.verify_now(&token).is_none(),
        "no cache: always the async path"
    );

    let cached = issuer
        .jwt_verifier_builder(AUDIENCE)
        .verified_token_cache(100)
        .build()
        .unwrap();
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
                .resource_metadata("https://rs.example/.well-known/oauth-protected-resource"),
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

//! The JWKS refresh policy and key policy, against the fault-injecting JWKS
//! server of `support_jwks`: lazy fetch, rotation, single-flight unknown-kid
//! refetches, the cooldown, outages (warm, stale, cold, hanging), Cache-Control,
//! discovery, size limits, and which keys of a set are used.
//!
//! Durations are shortened through the builder (cooldowns, TTLs, max_stale,
//! timeouts); no assertion depends on how long anything took.

mod support_jwks;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support_jwks::*;
use tokio::task::JoinSet;
use tower_bearer::__private::KeySet;
use tower_bearer::jwt::{Algorithm, JwtVerifier, KeyPolicy};
use tower_bearer::{InvalidToken, TokenVerifier, VerifyError};

fn token(key: &TestKey, server: &JwksServer) -> String {
    key.token(&access_token_claims(&server.issuer()))
}

fn unavailable(result: Result<tower_bearer::AccessToken, VerifyError>, what: &str) {
    match result {
        Err(VerifyError::Unavailable(u)) => {
            assert!(u.retry_after().is_some(), "{what}: 503 without Retry-After");
        }
        other => panic!("{what}: expected 503 unavailable, got {other:?}"),
    }
}

/// Runs `n` verifications of `tokens[i % len]` concurrently; returns how many passed.
async fn verify_concurrently(verifier: &JwtVerifier, tokens: Vec<String>, n: usize) -> usize {
    let verifier = Arc::new(verifier.clone());
    let tokens = Arc::new(tokens);
    let mut set = JoinSet::new();
    for i in 0..n {
        let (verifier, tokens) = (verifier.clone(), tokens.clone());
        set.spawn(async move { verifier.verify(&tokens[i % tokens.len()]).await.is_ok() });
    }
    let mut ok = 0;
    while let Some(joined) = set.join_next().await {
        ok += usize::from(joined.expect("verification task"));
    }
    ok
}

#[tokio::test]
async fn every_default_algorithm_verifies_and_keys_load_lazily_once() {
    let keys: Vec<TestKey> = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .map(|alg| TestKey::generate(alg, &format!("k-{}", alg.name())))
    .collect();
    let server = JwksServer::start(&keys.iter().collect::<Vec<_>>()).await;
    let verifier = verifier_for(&server).build().expect("verifier");
    assert_eq!(server.fetches(), 0, "build does no I/O");
    for key in &keys {
        let at = verifier.verify(&token(key, &server)).await.expect("valid token");
        assert_eq!(at.principal().subject(), Some("user-42"));
        assert_eq!(at.principal().client_id(), Some("client-7"));
        assert_eq!(at.principal().issuer(), Some(server.issuer().as_str()));
        assert!(at.scopes().contains("mcp:write"), "{:?}", key.alg().name());
    }
    assert_eq!(server.fetches(), 1, "one fetch serves every later token");
}

#[tokio::test]
async fn prefetch_loads_keys_now() {
    let key = TestKey::generate(Algorithm::ES256, "k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server).build().expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    assert_eq!(server.fetches(), 1);
    verifier.verify(&token(&key, &server)).await.expect("valid token");
    assert_eq!(server.fetches(), 1);

    let down = JwksServer::start_with(Behaviour::Status(500)).await;
    let cold = verifier_for(&down).build().expect("verifier");
    assert!(
        cold.prefetch().await.is_err(),
        "prefetch reports an unreachable key set"
    );
}

#[tokio::test]
async fn rotation_is_picked_up_after_one_refetch() {
    let old = TestKey::generate(Algorithm::EdDSA, "old");
    let new = TestKey::generate(Algorithm::EdDSA, "new");
    let server = JwksServer::start(&[&old]).await;
    let verifier = verifier_for(&server).build().expect("verifier");
    verifier.verify(&token(&old, &server)).await.expect("old key");
    assert_eq!(server.fetches(), 1);

    server.rotate(&[&new]);
    verifier
        .verify(&token(&new, &server))
        .await
        .expect("rotated key after one refetch");
    assert_eq!(server.fetches(), 2);
    verifier
        .verify(&token(&new, &server))
        .await
        .expect("rotated key, cached");
    assert_eq!(server.fetches(), 2);
    // The retired key is gone, and asking for it again is within the cooldown.
    assert_eq!(
        expect_invalid(verifier.verify(&token(&old, &server)).await, "retired key"),
        InvalidToken::UnknownKey
    );
    assert_eq!(server.fetches(), 2);
}

/// A warm verifier, a key set that just gained `second`, and a refetch held open
/// for 300 ms so that 1000 concurrent requests for `second` overlap it.
/// Returns (requests accepted, key-set fetches).
async fn thousand_requests_for_a_rotated_kid() -> (usize, usize) {
    let first = TestKey::generate(Algorithm::ES256, "first");
    let second = TestKey::generate(Algorithm::ES256, "second");
    let server = JwksServer::start(&[&first]).await;
    let verifier = verifier_for(&server).build().expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    server.rotate(&[&first, &second]);
    server.delay(Duration::from_millis(300));
    let accepted = verify_concurrently(&verifier, vec![token(&second, &server)], 1000).await;
    (accepted, server.fetches())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_unknown_kids_cause_one_fetch() {
    let (_, fetches) = thousand_requests_for_a_rotated_kid().await;
    assert_eq!(fetches, 2, "prefetch + exactly one single-flight refetch");
}

/// Single flight means sharing the in-flight refetch's result: a request that
/// arrives while the refetch runs must wait for it, not fail fast as if the
/// cooldown had started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_a_rotated_kid_share_the_refetch() {
    let (accepted, fetches) = thousand_requests_for_a_rotated_kid().await;
    assert_eq!(fetches, 2);
    assert_eq!(accepted, 1000, "every request sees the refetched key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_cold_requests_cause_one_fetch() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let server = JwksServer::start(&[&key]).await;
    server.delay(Duration::from_millis(300));
    let verifier = verifier_for(&server).build().expect("verifier");
    let accepted = verify_concurrently(&verifier, vec![token(&key, &server)], 1000).await;
    assert_eq!(accepted, 1000);
    assert_eq!(server.fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kids_are_bounded_by_the_cooldown() {
    let key = TestKey::generate(Algorithm::EdDSA, "real");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server)
        .refetch_cooldown(Duration::from_secs(600))
        .build()
        .expect("verifier");
    verifier.prefetch().await.expect("prefetch");

    let forged: Vec<String> = (0..100)
        .map(|_| token(&key.with(Algorithm::EdDSA, &random_id()), &server))
        .collect();
    let accepted = verify_concurrently(&verifier, forged.clone(), 100).await;
    assert_eq!(accepted, 0);
    for t in &forged {
        assert_eq!(
            expect_invalid(verifier.verify(t).await, "random kid"),
            InvalidToken::UnknownKey
        );
    }
    assert_eq!(server.fetches(), 2, "prefetch + one refetch, then the cooldown");

    // During the cooldown even a key that did appear fails fast, without a fetch.
    let late = TestKey::generate(Algorithm::EdDSA, "late");
    server.rotate(&[&key, &late]);
    assert_eq!(
        expect_invalid(
            verifier.verify(&token(&late, &server)).await,
            "new kid in cooldown"
        ),
        InvalidToken::UnknownKey
    );
    assert_eq!(server.fetches(), 2);
    verifier
        .verify(&token(&key, &server))
        .await
        .expect("known key unaffected");
}

#[tokio::test]
async fn the_cooldown_ends() {
    let key = TestKey::generate(Algorithm::EdDSA, "real");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server)
        .refetch_cooldown(Duration::from_millis(200))
        .build()
        .expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    let stranger = key.with(Algorithm::EdDSA, "stranger");
    expect_invalid(verifier.verify(&token(&stranger, &server)).await, "unknown kid");
    assert_eq!(server.fetches(), 2);
    let late = TestKey::generate(Algorithm::EdDSA, "late");
    server.rotate(&[&key, &late]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    verifier
        .verify(&token(&late, &server))
        .await
        .expect("after the cooldown a new kid is fetched");
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn a_known_kid_with_a_bad_signature_never_refetches() {
    let key = TestKey::generate(Algorithm::ES256, "k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server)
        .refetch_cooldown(Duration::ZERO)
        .build()
        .expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    let impostor = TestKey::generate(Algorithm::ES256, "k1");
    for _ in 0..10 {
        assert_eq!(
            expect_invalid(verifier.verify(&token(&impostor, &server)).await, "bad signature"),
            InvalidToken::Signature
        );
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_warm_cache_survives_an_outage() {
    let key = TestKey::generate(Algorithm::RS256, "k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server)
        .refetch_cooldown(Duration::ZERO)
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    for outage in [Behaviour::Status(500), Behaviour::Status(404), Behaviour::Hang] {
        server.set(outage.clone());
        verifier
            .verify(&token(&key, &server))
            .await
            .expect("known key during the outage");
        // An unknown kid makes the verifier try the endpoint, which fails.
        let fetches = server.fetches();
        let stranger = key.with(Algorithm::RS256, &random_id());
        assert!(
            verifier.verify(&token(&stranger, &server)).await.is_err(),
            "{outage:?}: unknown kid refused"
        );
        assert_eq!(
            server.fetches(),
            fetches + 1,
            "{outage:?}: the refetch was attempted"
        );
        verifier
            .verify(&token(&key, &server))
            .await
            .expect("the good set is kept");
    }
}

#[tokio::test]
async fn an_outage_past_max_stale_is_503() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let server = JwksServer::start(&[&key]).await;
    // Fresh for 300 ms, usable until 1.8 s: wide margins for a loaded machine.
    let ttl = Duration::from_millis(300);
    let verifier = verifier_for(&server)
        .jwks_ttl(ttl, ttl, ttl)
        .max_stale(Duration::from_millis(1500))
        .failure_backoff(Duration::from_millis(50))
        .build()
        .expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    server.fail_with(503);
    // Fresh, then stale but within max_stale: still accepted.
    verifier.verify(&token(&key, &server)).await.expect("fresh");
    tokio::time::sleep(Duration::from_millis(400)).await;
    verifier
        .verify(&token(&key, &server))
        .await
        .expect("stale within max_stale");
    let fetches = server.fetches();
    // Past freshness + max_stale with every refresh failing: 503, not 401.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    unavailable(verifier.verify(&token(&key, &server)).await, "past max_stale");
    assert!(server.fetches() > fetches, "refreshes were attempted");
    // And it recovers when the endpoint does.
    server.rotate(&[&key]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    verifier.verify(&token(&key, &server)).await.expect("recovered");
}

#[tokio::test]
async fn a_cold_outage_is_503() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let server = JwksServer::start_with(Behaviour::Status(500)).await;
    let verifier = verifier_for(&server)
        .failure_backoff(Duration::from_millis(50))
        .build()
        .expect("verifier");
    let body = |bytes: &[u8]| Behaviour::Body {
        body: bytes.to_vec(),
        cache_control: None,
    };
    let cases = [
        ("500", Behaviour::Status(500)),
        ("404", Behaviour::Status(404)),
        ("garbage", body(b"<html>not json</html>")),
        (
            "no usable key",
            body(br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#),
        ),
        ("not a set", body(br#"[{"kty": "OKP"}]"#)),
    ];
    for (what, behaviour) in cases {
        server.set(behaviour);
        // Past the failure backoff, so this request fetches again.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let fetches = server.fetches();
        unavailable(verifier.verify(&token(&key, &server)).await, what);
        assert_eq!(server.fetches(), fetches + 1, "{what}: fetched");
    }
    server.rotate(&[&key]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    verifier
        .verify(&token(&key, &server))
        .await
        .expect("recovers once the set is served");
}

#[tokio::test]
async fn a_hanging_endpoint_is_503_within_the_timeout() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let server = JwksServer::start_with(Behaviour::Hang).await;
    let verifier = verifier_for(&server)
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .expect("verifier");
    // The guard only keeps a broken timeout from hanging the suite.
    let result = tokio::time::timeout(Duration::from_secs(20), verifier.verify(&token(&key, &server)))
        .await
        .expect("the fetch timeout must end the request");
    unavailable(result, "hanging endpoint");
    assert_eq!(server.fetches(), 1);
}

/// A server sending `Cache-Control: cache_control`, and a warm verifier whose
/// TTL bounds are [`min_ttl`, 1 h] (default 10 min).
async fn with_cache_control(
    key: &TestKey,
    cache_control: &str,
    min_ttl: Duration,
) -> (JwksServer, JwtVerifier) {
    let server = JwksServer::start(&[]).await;
    server.serve_with_cache_control(&[key], cache_control);
    let verifier = verifier_for(&server)
        .jwks_ttl(Duration::from_secs(600), min_ttl, Duration::from_secs(3600))
        .build()
        .expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    (server, verifier)
}

#[tokio::test]
async fn cache_control_max_age_is_clamped_to_the_minimum() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let (server, verifier) =
        with_cache_control(&key, "max-age=0, must-revalidate", Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    verifier.verify(&token(&key, &server)).await.expect("token");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server.fetches(),
        1,
        "max-age=0 is raised to the 60 s minimum: no refetch"
    );
}

#[tokio::test]
async fn cache_control_max_age_schedules_the_background_refresh() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let (server, verifier) = with_cache_control(&key, "public, max-age=1", Duration::from_secs(1)).await;
    // 75–90 % of the 1 s max-age later, a request triggers a background refresh
    // and is answered from the current set without waiting.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    verifier.verify(&token(&key, &server)).await.expect("token");
    for _ in 0..50 {
        if server.fetches() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.fetches(),
        2,
        "max-age=1 honoured (default TTL would be 600 s)"
    );
}

#[tokio::test]
async fn discovery_finds_the_jwks_uri() {
    let key = TestKey::generate(Algorithm::ES256, "k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = JwtVerifier::builder()
        .issuer(server.issuer())
        .audience(AUDIENCE)
        .discover()
        .build()
        .expect("verifier");
    assert_eq!(server.requests(), 0, "discovery is lazy");
    verifier
        .verify(&token(&key, &server))
        .await
        .expect("token via discovered keys");
    assert_eq!(server.fetches(), 1);
    assert_eq!(server.requests(), 2, "one metadata request, one key-set request");
}

// ---- limits and the key policy ----------------------------------------------

fn padded_jwks(key: &TestKey, pad: usize) -> Vec<u8> {
    json!({ "keys": [key.jwk()], "x-padding": "p".repeat(pad) })
        .to_string()
        .into_bytes()
}

fn many_keys(key: &TestKey, n: usize) -> Value {
    let mut keys: Vec<Value> = (1..n)
        .map(|i| TestKey::generate(Algorithm::EdDSA, &format!("filler-{i}")).jwk())
        .collect();
    keys.push(key.jwk());
    json!({ "keys": keys })
}

#[tokio::test]
async fn key_set_size_limits() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let server = JwksServer::start(&[]).await;
    let fresh = || {
        verifier_for(&server)
            .failure_backoff(Duration::from_millis(10))
            .build()
            .expect("verifier")
    };
    server.serve_bytes(padded_jwks(&key, 250 * 1024));
    fresh()
        .verify(&token(&key, &server))
        .await
        .expect("a 250 KiB set loads");
    server.serve_bytes(padded_jwks(&key, 257 * 1024));
    unavailable(fresh().verify(&token(&key, &server)).await, "set over 256 KiB");
    server.serve_json(&many_keys(&key, 100));
    fresh()
        .verify(&token(&key, &server))
        .await
        .expect("100 keys load");
    server.serve_json(&many_keys(&key, 101));
    unavailable(fresh().verify(&token(&key, &server)).await, "101 keys");
}

#[tokio::test]
async fn a_bad_set_never_replaces_a_good_one() {
    let key = TestKey::generate(Algorithm::EdDSA, "k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier_for(&server)
        .refetch_cooldown(Duration::ZERO)
        .build()
        .expect("verifier");
    verifier.prefetch().await.expect("prefetch");
    let bad_sets: [(&str, Vec<u8>); 5] = [
        ("garbage", b"\x00\xffnot json".to_vec()),
        ("oversized", padded_jwks(&key, 300 * 1024)),
        ("too many keys", many_keys(&key, 101).to_string().into_bytes()),
        ("empty", br#"{"keys": []}"#.to_vec()),
        (
            "only an oct key",
            br#"{"keys": [{"kty": "oct", "kid": "k1", "k": "c2VjcmV0"}]}"#.to_vec(),
        ),
    ];
    for (what, body) in bad_sets {
        server.serve_bytes(body);
        let fetches = server.fetches();
        let stranger = key.with(Algorithm::EdDSA, &random_id());
        assert!(
            verifier.verify(&token(&stranger, &server)).await.is_err(),
            "{what}"
        );
        assert_eq!(server.fetches(), fetches + 1, "{what}: refetched");
        verifier.verify(&token(&key, &server)).await.expect(what);
    }
}

#[tokio::test]
async fn only_public_signature_keys_of_allowed_algorithms_are_used() {
    let good = TestKey::generate(Algorithm::EdDSA, "good");
    let rsa = TestKey::generate(Algorithm::RS256, "rsa-private");
    let enc = TestKey::generate(Algorithm::ES256, "ec-enc");
    let no_use = TestKey::generate(Algorithm::ES256, "ec-no-use");
    let mut private = rsa.jwk();
    private["d"] = json!("AQAB"); // any private member disqualifies the key
    let mut enc_jwk = enc.jwk();
    enc_jwk["use"] = json!("enc");
    let mut no_use_jwk = no_use.jwk();
    no_use_jwk.as_object_mut().expect("object").remove("use");
    let secret = b"an HMAC secret that is long enough";
    let oct = json!({"kty": "oct", "kid": "oct", "alg": "HS256", "use": "sig", "k": b64u(secret)});
    let server = JwksServer::start(&[]).await;
    server.serve_json(&json!({ "keys": [good.jwk(), private, enc_jwk, no_use_jwk, oct] }));
    let verifier = verifier_for(&server).build().expect("verifier");

    verifier
        .verify(&token(&good, &server))
        .await
        .expect("public Ed25519 key");
    verifier
        .verify(&token(&no_use, &server))
        .await
        .expect("a key without `use` is fine");
    for (what, key) in [("private members", &rsa), ("use enc", &enc)] {
        assert_eq!(
            expect_invalid(verifier.verify(&token(key, &server)).await, what),
            InvalidToken::UnknownKey,
            "{what}"
        );
    }
    // HS256 with the set's own oct secret.
    let header = json!({"alg": "HS256", "kid": "oct", "typ": "at+jwt"});
    let hs = hs256_token(secret, &header, &access_token_claims(&server.issuer()));
    expect_invalid(verifier.verify(&hs).await, "HS256 with an oct key of the set");
}

#[tokio::test]
async fn opt_in_algorithms_need_the_policy() {
    let es384 = TestKey::generate(Algorithm::ES384, "es384");
    let rs384 = TestKey::rsa_slot(Algorithm::RS384, "rs384", 1);
    let ps512 = TestKey::rsa_slot(Algorithm::PS512, "ps512", 2);
    let server = JwksServer::start(&[&es384, &rs384, &ps512]).await;
    let strict = verifier_for(&server).build().expect("default policy");
    let opted = verifier_for(&server)
        .key_policy(
            KeyPolicy::default()
                .allow(Algorithm::ES384)
                .allow(Algorithm::RS384)
                .allow(Algorithm::PS512),
        )
        .build()
        .expect("opt-in policy");
    for key in [&es384, &rs384, &ps512] {
        let t = token(key, &server);
        let what = key.alg().name();
        expect_invalid(strict.verify(&t).await, what);
        opted
            .verify(&t)
            .await
            .unwrap_or_else(|e| panic!("{what} when allowed: {e:?}"));
    }
}

#[test]
fn key_set_parsing_applies_the_policy() {
    let policy = KeyPolicy::default();
    let ed = TestKey::generate(Algorithm::EdDSA, "ed");
    let ec = TestKey::generate(Algorithm::ES256, "ec");
    let rsa = TestKey::generate(Algorithm::RS256, "rsa");
    let load = |keys: Vec<Value>| KeySet::from_jwks(json!({ "keys": keys }).to_string().as_bytes(), &policy);

    let set = load(vec![ed.jwk(), ec.jwk(), rsa.jwk()]).expect("three good keys");
    assert_eq!(set.len(), 3);

    let mut mismatched = Vec::new();
    for (kid, jwk, alg) in [
        ("ec-as-rs", ec.bare_jwk(), "RS256"),
        ("rsa-as-es", rsa.bare_jwk(), "ES256"),
        ("ed-as-es", ed.bare_jwk(), "ES256"),
        ("rsa-as-hs", rsa.bare_jwk(), "HS256"),
        ("ec-as-none", ec.bare_jwk(), "none"),
    ] {
        let mut jwk = jwk;
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg);
        mismatched.push(jwk);
    }
    let mut wrong_curve = ec.bare_jwk();
    wrong_curve["crv"] = json!("P-384");
    wrong_curve["kid"] = json!("wrong-curve");
    let mut x25519 = ed.bare_jwk();
    x25519["crv"] = json!("X25519");
    x25519["kid"] = json!("x25519");
    mismatched.extend([wrong_curve, x25519, ed.jwk()]);
    let set = load(mismatched).expect("the one good key");
    assert_eq!(set.len(), 1, "alg/kty/crv mismatches are skipped");
    assert!(set.get("ed").is_some());

    let es384 = TestKey::generate(Algorithm::ES384, "es384");
    assert!(load(vec![es384.jwk()]).is_err(), "ES384 only when opted in");
    assert_eq!(
        KeySet::from_jwks(
            json!({ "keys": [es384.jwk()] }).to_string().as_bytes(),
            &KeyPolicy::default().allow(Algorithm::ES384)
        )
        .expect("opted in")
        .len(),
        1
    );
    for garbage in [&b"null"[..], b"{}", b"{\"keys\": {}}", b"[]", b"\xff"] {
        assert!(KeySet::from_jwks(garbage, &policy).is_err(), "{garbage:?}");
    }
}

#[tokio::test]
async fn tokens_without_kid_are_tried_against_at_most_two_keys() {
    let keys: Vec<TestKey> = (0..3)
        .map(|i| TestKey::generate(Algorithm::ES256, &format!("k{i}")))
        .collect();
    let kidless = |key: &TestKey, server: &JwksServer| {
        key.token_with(
            &json!({"alg": "ES256", "typ": "at+jwt"}),
            &access_token_claims(&server.issuer()),
        )
    };
    // Two keys of the algorithm (a rotation): a kid-less token signed by either verifies.
    let server = JwksServer::start(&[&keys[0], &keys[1]]).await;
    let verifier = verifier_for(&server).build().expect("verifier");
    for key in &keys[..2] {
        verifier
            .verify(&kidless(key, &server))
            .await
            .unwrap_or_else(|e| panic!("kid-less token of {}: {e:?}", key.kid()));
    }
    // Three: no key is tried, whichever signed it; tokens with a kid still verify.
    let server = JwksServer::start(&keys.iter().collect::<Vec<_>>()).await;
    let verifier = verifier_for(&server).build().expect("verifier");
    for key in &keys {
        assert_eq!(
            expect_invalid(verifier.verify(&kidless(key, &server)).await, "kid-less, 3 keys"),
            InvalidToken::UnknownKey
        );
        verifier
            .verify(&token(key, &server))
            .await
            .expect("same key with its kid");
    }
}

// ---- the strict reader on every outside document -----------------------------

#[tokio::test]
async fn a_jwk_with_a_duplicate_member_is_not_a_key() {
    let (dup, good) = (
        TestKey::generate(Algorithm::ES256, "dup"),
        TestKey::generate(Algorithm::ES256, "good"),
    );
    let server = JwksServer::start(&[&good]).await;
    let jwk = dup.jwk();
    let jwk_text = jwk.to_string();
    // The same `x` twice: a parser that keeps the last one would accept the key.
    let twice = format!("{{\"x\":{},{}", jwk["x"], &jwk_text[1..]);
    server.serve_bytes(format!(r#"{{"keys":[{twice},{}]}}"#, good.jwk()).into_bytes());
    let verifier = verifier_for(&server).build().expect("verifier");
    verifier
        .verify(&token(&good, &server))
        .await
        .expect("the other key still works");
    assert_eq!(
        expect_invalid(verifier.verify(&token(&dup, &server)).await, "duplicate x"),
        InvalidToken::UnknownKey
    );
    // Two `keys` members: the document is refused whole (cold start → 503).
    let server = JwksServer::start(&[&good]).await;
    server.serve_bytes(format!(r#"{{"keys":[],"keys":[{}]}}"#, good.jwk()).into_bytes());
    let verifier = verifier_for(&server).build().expect("verifier");
    unavailable(verifier.verify(&token(&good, &server)).await, "two keys members");
}

#[tokio::test]
async fn a_discovery_document_with_two_issuer_members_is_refused() {
    let key = TestKey::generate(Algorithm::ES256, "k");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let doc =
        format!(r#"{{"issuer":"https://elsewhere.example","jwks_uri":"{issuer}/jwks","issuer":"{issuer}"}}"#);
    let keys = jwks(&[&key]).to_string();
    let json = |body: String| ([("content-type", "application/json")], body);
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            axum::routing::get({
                let doc = doc.clone();
                move || async move { json(doc) }
            }),
        )
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { json(doc) }),
        )
        .route("/jwks", axum::routing::get(move || async move { json(keys) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let verifier = JwtVerifier::builder()
        .issuer(&issuer)
        .audience(AUDIENCE)
        .discover()
        .build()
        .expect("verifier");
    unavailable(
        verifier.verify(&key.token(&access_token_claims(&issuer))).await,
        "two issuer members",
    );
}

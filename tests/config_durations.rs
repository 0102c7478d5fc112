//! No configuration value can make a request panic: every duration knob of the
//! builders at 0, 1 ns and `Duration::MAX` either fails to build or gives a
//! verifier that answers requests (a verdict or 503), over real HTTP on loopback.

mod support_introspection;
mod support_jwks;

use std::time::Duration;

use support_introspection::server::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer, RESOURCE};
use support_jwks::*;
use tower_bearer::introspection::{IntrospectionVerifier, IntrospectionVerifierBuilder};
use tower_bearer::jwt::{Algorithm, JwtVerifierBuilder};
use tower_bearer::mcp::{StateConfigError, StateKey, StateRequest, StateSealer};
use tower_bearer::{Principal, TokenVerifier};

const EXTREMES: [Duration; 3] = [Duration::ZERO, Duration::from_nanos(1), Duration::MAX];

type JwtKnob = fn(JwtVerifierBuilder, Duration) -> JwtVerifierBuilder;
type IntrospectionKnob = fn(IntrospectionVerifierBuilder, Duration) -> IntrospectionVerifierBuilder;

#[tokio::test]
async fn jwt_verifier_duration_knobs_never_panic_a_request() {
    let key = TestKey::generate(Algorithm::ES256, "k");
    let server = JwksServer::start(&[&key]).await;
    let good = key.token(&access_token_claims(&server.issuer()));
    let forged = TestKey::generate(Algorithm::ES256, "k").token(&access_token_claims(&server.issuer()));
    let knobs: [(&str, JwtKnob); 7] = [
        ("leeway", |b, d| b.leeway(d)),
        ("refetch_cooldown", |b, d| b.refetch_cooldown(d)),
        ("max_stale", |b, d| b.max_stale(d)),
        ("fetch_timeout", |b, d| b.fetch_timeout(d)),
        ("failure_backoff", |b, d| b.failure_backoff(d)),
        ("jwks_ttl", |b, d| b.jwks_ttl(d, d, d)),
        ("verified_token_cache + leeway", |b, d| {
            b.verified_token_cache(100).leeway(d)
        }),
    ];
    for (name, knob) in knobs {
        for d in EXTREMES {
            let Ok(verifier) = knob(verifier_for(&server), d).build() else {
                continue; // refused at build time: allowed
            };
            for token in [&good, &forged, &good] {
                // Any verdict or 503 will do; a panic fails the test.
                let _ = verifier.verify(token).await;
                let _ = verifier.verify_now(token);
            }
            eprintln!("{name} = {d:?}: answered");
        }
    }
}

#[tokio::test]
async fn introspection_duration_knobs_never_panic_a_request() {
    let server = IntrospectionServer::start().await;
    server.add_token("good", "mcp:read");
    let knobs: [(&str, IntrospectionKnob); 5] = [
        ("leeway", |b, d| b.leeway(d)),
        ("positive_ttl", |b, d| b.positive_ttl(d)),
        ("negative_ttl", |b, d| b.negative_ttl(d)),
        ("timeout", |b, d| b.timeout(d)),
        ("in_flight_wait", |b, d| b.in_flight_wait(d)),
    ];
    for (name, knob) in knobs {
        for d in EXTREMES {
            let builder = IntrospectionVerifier::builder()
                .endpoint(server.endpoint())
                .client_credentials(CLIENT_ID, CLIENT_SECRET)
                .audience(RESOURCE);
            let Ok(verifier) = knob(builder, d).build() else {
                continue;
            };
            for token in ["good", "unknown", "good"] {
                let _ = verifier.verify(token).await;
                let _ = verifier.verify_now(token);
            }
            eprintln!("{name} = {d:?}: answered");
        }
    }
}

#[tokio::test]
async fn sealed_state_ttl_never_panics() {
    let alice = Principal::new().with_issuer("https://as").with_subject("alice");
    for d in EXTREMES {
        let configured = StateSealer::new(StateKey::generate("k").unwrap()).ttl(d);
        // A zero TTL is refused when configured, as an error; never when a request comes.
        if d.is_zero() {
            assert_eq!(configured.unwrap_err(), StateConfigError::ZeroTtl);
            continue;
        }
        let sealer = configured.expect("only a zero TTL is refused");
        let request = StateRequest::tool("t");
        let sealed = sealer
            .seal(&alice, &request, b"state")
            .expect("sealing never fails on a TTL");
        // A verdict, whichever: Duration::MAX seals an expiry past the clock's range.
        let _ = sealer.open(&alice, &request, &sealed).await;
    }
}

type DpopKnob = fn(tower_bearer::dpop::Dpop, Duration) -> tower_bearer::dpop::Dpop;

/// The DPoP knobs: a proof through `Dpop::check` (signature, claims, nonce,
/// replay) under every extreme; a verdict is required, a panic fails.
#[tokio::test]
async fn dpop_duration_knobs_never_panic_a_request() {
    use tower_bearer::dpop::Dpop;
    use tower_bearer_issuer::DpopKey;
    let key = DpopKey::generate();
    let url = "https://api.example.com/mcp";
    let token = tower_bearer::AccessToken::new(Principal::new().with_subject("alice"))
        .with_dpop_jkt(key.thumbprint());
    let knobs: [(&str, DpopKnob); 4] = [
        ("proof_max_age", |d, v| d.proof_max_age(v)),
        ("proof_leeway", |d, v| d.proof_leeway(v)),
        ("nonce_lifetime", |d, v| {
            d.server_nonces().unwrap().nonce_lifetime(v)
        }),
        ("all", |d, v| {
            d.proof_max_age(v)
                .proof_leeway(v)
                .server_nonces()
                .unwrap()
                .nonce_lifetime(v)
        }),
    ];
    for (name, knob) in knobs {
        for d in EXTREMES {
            let dpop = knob(Dpop::allowed(), d);
            let nonce = dpop.fresh_nonce().map(|n| n.to_str().unwrap().to_owned());
            let proof = match &nonce {
                Some(nonce) => key.proof_with_nonce("GET", url, Some("raw"), nonce),
                None => key.proof("GET", url, Some("raw")),
            };
            let req = http::Request::get(url).header("dpop", proof).body(()).unwrap();
            let (parts, _) = req.into_parts();
            let verdict = dpop
                .check(&parts.method, &parts.uri, &parts.headers, true, "raw", &token)
                .await;
            eprintln!("{name} = {d:?}: {verdict:?}");
        }
    }
    // The defaults accept a fresh proof (the test above would pass on refusals alone).
    let proof = key.proof("GET", url, Some("raw"));
    let (parts, _) = http::Request::get(url)
        .header("dpop", proof)
        .body(())
        .unwrap()
        .into_parts();
    assert!(
        Dpop::allowed()
            .proof_max_age(Duration::MAX)
            .check(&parts.method, &parts.uri, &parts.headers, true, "raw", &token)
            .await
            .is_ok(),
        "an unbounded max age accepts a fresh proof"
    );
}

#[tokio::test]
async fn jwks_ttl_bounds_out_of_order_fail_to_build_never_panic() {
    let key = TestKey::generate(Algorithm::ES256, "k");
    let server = JwksServer::start(&[&key]).await;
    let (min, max) = (Duration::from_secs(60), Duration::from_secs(1));
    let built = verifier_for(&server)
        .jwks_ttl(Duration::from_secs(30), min, max)
        .build();
    assert_eq!(
        built.err(),
        Some(tower_bearer::jwt::BuildError::JwksTtlBounds { min, max })
    );
}

//! The JWT verify path against raw signature verification (DESIGN §6: the path
//! must cost at most 1.1 × the raw aws-lc-rs verification of the same algorithm).
//!
//! For each of RS256, PS256, ES256 and EdDSA, one group with:
//! - `raw_aws_lc_rs`: `ParsedPublicKey::verify_sig` (key parsed once) over the
//!   token's signing input: the floor;
//! - `jwt_verifier`: `JwtVerifier::verify` on a realistic RFC 9068 access token
//!   with warm keys (everything: pre-checks, header, signature, claims, AccessToken);
//! - `verify_jws`: `tower_bearer::__private::verify_jws` on the same token and key set
//!   (pre-checks, header, signature; no claims): splits the verifier's overhead;
//! - `jsonwebtoken_decode`: `jsonwebtoken::decode` with a `DecodingKey` built once,
//!   for reference.
//!
//! Plus `jwt/kidless_forged`: a forged RS256 token without `kid` against a
//! 60-key set (refused with no signature check: at most
//! `MAX_KIDLESS_KEYS` keys are ever tried) and against a 2-key set (both tried).
//!
//! Plus `jwt/cache`: a hit in the verified-token cache (target ≤ 2 µs), through
//! `verify` and through `verify_now` (what the layer asks first).
//!
//! Run: `cargo bench --bench jwt` (short measurement times; < 3 min).
//! Ratios: `scripts/bench-ratios.sh` after a run. The two medians are measured
//! seconds apart; for a ratio that the machine's drift does not move, use
//! `cargo bench --bench jwt_ratio`.

#[path = "jwt_fixture/mod.rs"]
mod jwt_fixture;
#[path = "../../tests/support_jwks/mod.rs"]
mod support_jwks;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, Validation};
use jwt_fixture::fixture;
use serde_json::Value;
use support_jwks::{AUDIENCE, jwks};
use tower_bearer::__private::{KeySet, verify_jws};
use tower_bearer::TokenVerifier;
use tower_bearer::jwt::{Algorithm, KeyPolicy};

fn verify_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let f = fixture(&rt, alg, false);
        let (signing_input, sig) = (f.signing_input(), &f.signature);

        let policy = KeyPolicy::default();
        let keys = KeySet::from_jwks(jwks(&[&f.key]).to_string().as_bytes(), &policy).expect("key set");
        verify_jws(&f.token, &keys, &policy).expect("verify_jws accepts");

        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(f.key.jwk()).expect("jwk");
        let decoding_key = DecodingKey::from_jwk(&jwk).expect("decoding key");
        let mut validation = Validation::new(support_jwks::jsonwebtoken_alg(alg));
        validation.set_issuer(&[f.server.issuer()]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(&f.token, &decoding_key, &validation).expect("jsonwebtoken accepts");

        let mut group = c.benchmark_group(format!("jwt/{}", alg.name()));
        group.bench_function("raw_aws_lc_rs", |b| {
            b.iter(|| f.raw.verify_sig(black_box(signing_input), black_box(sig)))
        });
        group.bench_function("jwt_verifier", |b| {
            b.to_async(&rt).iter(|| f.verifier.verify(black_box(&f.token)))
        });
        group.bench_function("verify_jws", |b| {
            b.iter(|| verify_jws(black_box(&f.token), &keys, &policy))
        });
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| jsonwebtoken::decode::<Value>(black_box(&f.token), &decoding_key, &validation))
        });
        group.finish();
    }

    // A forged token without `kid`: the bound on keys tried shows in its cost.
    let keys: Vec<_> = (0..60)
        .map(|i| support_jwks::TestKey::rsa_slot(Algorithm::RS256, &format!("k{i}"), i))
        .collect();
    let forged = keys[0].token_with(
        &serde_json::json!({"alg": "RS256", "typ": "at+jwt"}),
        &support_jwks::access_token_claims("https://as.example"),
    );
    let at = forged.len() - 10;
    let swap = if &forged[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swap}{}", &forged[..at], &forged[at + 1..]);
    let policy = KeyPolicy::default();
    let mut group = c.benchmark_group("jwt/kidless_forged");
    for n in [2, 60] {
        let set = KeySet::from_jwks(
            jwks(&keys[..n].iter().collect::<Vec<_>>()).to_string().as_bytes(),
            &policy,
        )
        .expect("key set");
        assert!(
            verify_jws(&forged, &set, &policy).is_err(),
            "forged token refused"
        );
        group.bench_function(format!("{n}_keys"), |b| {
            b.iter(|| verify_jws(black_box(&forged), &set, &policy))
        });
    }
    group.finish();

    let f = fixture(&rt, Algorithm::ES256, true);
    let mut group = c.benchmark_group("jwt/cache");
    group.bench_function("verified_token_cache_hit", |b| {
        b.to_async(&rt).iter(|| f.verifier.verify(black_box(&f.token)))
    });
    // What the layer calls first: the hit without a future.
    group.bench_function("verified_token_cache_hit_now", |b| {
        b.iter(|| f.verifier.verify_now(black_box(&f.token)).unwrap().unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(400))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = verify_path
}
criterion_main!(benches);

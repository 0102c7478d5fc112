//! Cost of the layer itself: the same no-op service with and without
//! `TokenVerifierLayer` (cached and uncached tokens), bearer extraction,
//! challenge rendering and principal comparison.
//!
//! `layer_miss` splits the uncached path: an RS256 token whose signature does
//! not verify (401) against valid tokens the cache has not seen (each one
//! verified, then inserted, evicting another), and the same valid token with
//! the cache off.

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_bearer::extract::BearerExtractor;
use tower_bearer::jwt::JwtVerifier;
use tower_bearer::{AuthError, Challenge, InvalidToken, Principal, TokenVerifier, TokenVerifierLayer};
use tower_bearer_issuer::DevIssuer;

const AUDIENCE: &str = "https://api.example.com/mcp";
const METADATA: &str = "https://api.example.com/.well-known/oauth-protected-resource/mcp";

fn request(token: &str) -> Request<String> {
    Request::builder()
        .uri("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap()
}

async fn noop(_req: Request<String>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

fn layer_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt.block_on(DevIssuer::start()).unwrap();
    let token = issuer.token("alice", "app", "mcp:read", AUDIENCE);
    let verifier = |cache: bool| {
        let builder = JwtVerifier::builder()
            .issuer(issuer.issuer())
            .audience(AUDIENCE)
            .jwks_uri(issuer.jwks_uri());
        let v = builder
            .verified_token_cache(if cache { 10_000 } else { 0 })
            .build()
            .unwrap();
        rt.block_on(v.verify(&token)).unwrap();
        v
    };
    let cached = TokenVerifierLayer::new(verifier(true))
        .resource_metadata(METADATA)
        .unwrap();
    let uncached = TokenVerifierLayer::new(verifier(false))
        .resource_metadata(METADATA)
        .unwrap();

    let mut group = c.benchmark_group("layer");
    group.bench_function("no_layer", |b| {
        let svc = service_fn(noop);
        b.to_async(&rt).iter(|| {
            let req = request(&token);
            async move { black_box(svc.oneshot(req).await.unwrap()) }
        });
    });
    for (name, layer) in [("cached_token", &cached), ("rs256_verify", &uncached)] {
        group.bench_function(name, |b| {
            let svc = tower::ServiceBuilder::new().layer(layer.clone()).service_fn(noop);
            b.to_async(&rt).iter(|| {
                let req = request(&token);
                let mut svc = svc.clone();
                async move {
                    let res = svc.ready().await.unwrap().call(req).await.unwrap();
                    assert_eq!(res.status(), 200);
                    black_box(res)
                }
            });
        });
    }
    group.bench_function("refused_no_token", |b| {
        let svc = tower::ServiceBuilder::new()
            .layer(cached.clone())
            .service_fn(noop);
        b.to_async(&rt).iter(|| {
            let req = Request::new(String::new());
            let svc = svc.clone();
            async move { black_box(svc.oneshot(req).await.unwrap()) }
        });
    });
    group.finish();
}

/// Distinct valid tokens cycled through by the `distinct_valid` bench.
const DISTINCT_TOKENS: usize = 2000;

/// The cache of the `distinct_valid` bench: far fewer entries than tokens, so
/// (almost) every request is a miss, then an insert that evicts an entry.
const SMALL_CACHE: u64 = 16;

fn layer_miss(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt.block_on(DevIssuer::start()).unwrap();
    let tokens: Vec<String> = (0..DISTINCT_TOKENS)
        .map(|i| issuer.token(&format!("user-{i}"), "app", "mcp:read", AUDIENCE))
        .collect();
    let (head, signature) = tokens[0].rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &signature[1..]);
    let builder = || issuer.jwt_verifier_builder(AUDIENCE);
    let small = TokenVerifierLayer::new(builder().verified_token_cache(SMALL_CACHE).build().unwrap())
        .resource_metadata(METADATA)
        .unwrap();
    let uncached = TokenVerifierLayer::new(builder().no_verified_token_cache().build().unwrap())
        .resource_metadata(METADATA)
        .unwrap();
    rt.block_on(small.clone().layer(service_fn(noop)).oneshot(request(&tokens[0])))
        .unwrap();

    let mut group = c.benchmark_group("layer_miss");
    let run = |b: &mut criterion::Bencher<'_>,
               layer: &TokenVerifierLayer<JwtVerifier>,
               token: &dyn Fn() -> String,
               status: u16| {
        let svc = tower::ServiceBuilder::new().layer(layer.clone()).service_fn(noop);
        b.to_async(&rt).iter(|| {
            let req = request(&token());
            let svc = svc.clone();
            async move {
                let res = svc.oneshot(req).await.unwrap();
                assert_eq!(res.status(), status);
                black_box(res)
            }
        });
    };
    group.bench_function("forged_rs256", |b| run(b, &small, &|| forged.clone(), 401));
    let next = std::cell::Cell::new(0);
    group.bench_function("distinct_valid_rs256", |b| {
        run(
            b,
            &small,
            &|| {
                let i = next.get();
                next.set((i + 1) % DISTINCT_TOKENS);
                tokens[i].clone()
            },
            200,
        )
    });
    group.bench_function("valid_rs256_cache_off", |b| {
        run(b, &uncached, &|| tokens[0].clone(), 200)
    });
    group.finish();
}

fn extraction_and_challenges(c: &mut Criterion) {
    let token = "eyJhbGciOiJSUzI1NiJ9.".repeat(30);
    let req = request(&token);
    let extractor = BearerExtractor::new();
    let challenge = Challenge::new()
        .resource_metadata(METADATA)
        .unwrap()
        .realm("mcp")
        .unwrap();
    let mut group = c.benchmark_group("http");
    group.bench_function("extract_bearer_600B", |b| {
        b.iter(|| black_box(extractor.extract(black_box(req.headers()), req.uri()).unwrap()))
    });
    group.bench_function("render_missing_token", |b| {
        b.iter(|| black_box(AuthError::MissingToken.into_response::<String>(black_box(&challenge))))
    });
    group.bench_function("render_invalid_token", |b| {
        b.iter(|| {
            black_box(
                AuthError::InvalidToken(InvalidToken::Expired).into_response::<String>(black_box(&challenge)),
            )
        })
    });
    group.finish();
}

fn principal(c: &mut Criterion) {
    let a = Principal::new()
        .with_issuer("https://auth.example.com")
        .with_subject("user-1234567890")
        .with_client_id("client-abcdef");
    let b = a.clone();
    let other = Principal::new()
        .with_issuer("https://auth.example.com")
        .with_subject("user-0");
    let mut group = c.benchmark_group("principal");
    group.bench_function("same_owner_equal", |bch| {
        bch.iter(|| black_box(black_box(&a).same_owner(black_box(&b))))
    });
    group.bench_function("same_owner_differs", |bch| {
        bch.iter(|| black_box(black_box(&a).same_owner(black_box(&other))))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = layer_overhead, layer_miss, extraction_and_challenges, principal
}
criterion_main!(benches);

//! Token exchange (RFC 8693) costs: a cache hit (SHA-256 of the subject token,
//! the downstream key, a moka lookup) and a miss answered by the development
//! issuer on loopback (one HTTP round trip, the grant, a signed JWT).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tower_bearer::TokenVerifier;
use tower_bearer::exchange::{Downstream, SubjectToken, TokenExchange};
use tower_bearer_issuer::DevIssuer;

const UPSTREAM: &str = "http://127.0.0.1:7000/mcp";
const DOWNSTREAM: &str = "http://127.0.0.1:7001/api";

fn exchange(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt
        .block_on(
            DevIssuer::builder()
                .allow_token_exchange("dev-client", DOWNSTREAM)
                .start(),
        )
        .unwrap();
    let raw = issuer.token("alice", "mcp-client", "mcp:read", UPSTREAM);
    let verified = rt.block_on(issuer.jwt_verifier(UPSTREAM).verify(&raw)).unwrap();
    let subject = SubjectToken::new(raw.as_str());
    let downstream = Downstream::resource(DOWNSTREAM).unwrap();
    let builder = || {
        TokenExchange::builder()
            .token_endpoint(issuer.token_endpoint())
            .client_secret_basic(issuer.client_id(), issuer.client_secret())
    };

    let mut group = c.benchmark_group("exchange");
    let cached = builder().build().unwrap();
    rt.block_on(cached.exchange(&subject, &verified, &downstream))
        .unwrap();
    group.bench_function("cache_hit", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached.exchange(&subject, &verified, &downstream).await.unwrap()) })
    });
    // A skew longer than any lifetime: nothing is reused, every call exchanges.
    let uncached = builder().skew(Duration::MAX).build().unwrap();
    group.bench_function("miss_dev_issuer", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(uncached.exchange(&subject, &verified, &downstream).await.unwrap()) })
    });
    group.finish();
}

criterion_group!(benches, exchange);
criterion_main!(benches);

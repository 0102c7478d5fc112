//! Introspection costs: a cache hit (target ≤ 2 µs; through `verify` and through
//! `verify_now`, what the layer asks first) and a miss answered by the
//! loopback test server (one HTTP round trip, response rules, cache insert).

#[path = "../../tests/support_introspection/server.rs"]
mod server;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use server::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer, RESOURCE};
use tower_bearer::TokenVerifier;
use tower_bearer::introspection::{IntrospectionVerifier, IntrospectionVerifierBuilder};

fn introspection(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(IntrospectionServer::start());
    server.add_token("bench-token", "mcp:read mcp:write");
    let builder = || -> IntrospectionVerifierBuilder {
        IntrospectionVerifier::builder()
            .endpoint(server.endpoint())
            .client_credentials(CLIENT_ID, CLIENT_SECRET)
            .issuer(server.issuer())
            .audience(RESOURCE)
    };

    let mut group = c.benchmark_group("introspection");

    let cached = builder().build().unwrap();
    rt.block_on(cached.verify("bench-token")).unwrap();
    group.bench_function("cache_hit", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached.verify(black_box("bench-token")).await.unwrap()) })
    });
    // What the layer calls first: the hit without a future.
    group.bench_function("cache_hit_now", |b| {
        b.iter(|| black_box(cached.verify_now(black_box("bench-token")).unwrap().unwrap()))
    });
    assert_eq!(server.calls(), 1, "every hit was served from the cache");

    // A positive TTL of zero: every call is a miss answered "active".
    let uncached = builder().positive_ttl(Duration::ZERO).build().unwrap();
    group.bench_function("miss_active", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(uncached.verify("bench-token").await.unwrap()) })
    });

    // A new token each time: a miss answered "inactive", then negatively cached.
    let counter = AtomicU64::new(0);
    group.bench_function("miss_inactive", |b| {
        b.to_async(&rt).iter(|| async {
            let token = format!("unknown-{}", counter.fetch_add(1, Ordering::Relaxed));
            black_box(cached.verify(&token).await.unwrap_err())
        })
    });
    group.finish();
}

criterion_group!(benches, introspection);
criterion_main!(benches);

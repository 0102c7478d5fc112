//! What shared state costs: the DPoP replay check and the MCP session lookup
//! against a real `redis-server` on loopback (started here, stopped at the end),
//! side by side with the in-memory defaults, in one run.
//!
//! For each: the latency of one call awaited after the other (µs), and the
//! throughput with 16 calls in flight on one connection (calls/s), as 16 busy
//! HTTP connections would make them.
//!
//! Run: `cargo bench --bench redis_state` (about 20 s; needs `redis-server`,
//! installed by `scripts/setup-redis.sh`). Without `--bench` it makes a few
//! calls only.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tower_bearer::Principal;
use tower_bearer::mcp::{MemorySessionStore, SessionKey, SessionOwner, SessionStore};
use tower_bearer::redis::RedisStore;
use tower_bearer::replay::{MemoryReplayCache, ReplayCache, ReplayKey};

#[path = "../support/redis_server.rs"]
mod redis_server;

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn new_key() -> ReplayKey {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ReplayKey::new("bench", "jkt", &n.to_string())
}

/// (µs per call one after the other, calls/s with 16 in flight)
async fn replay<C: ReplayCache + 'static>(cache: Arc<C>, calls: u32) -> (f64, f64) {
    let until = SystemTime::now() + Duration::from_secs(60);
    let started = Instant::now();
    for _ in 0..calls {
        assert_eq!(
            cache.first_use(&new_key(), SystemTime::now(), until).await,
            Ok(true)
        );
    }
    let sequential = started.elapsed().as_secs_f64() * 1e6 / f64::from(calls);
    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                for _ in 0..calls / 16 {
                    assert_eq!(
                        cache.first_use(&new_key(), SystemTime::now(), until).await,
                        Ok(true)
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (
        sequential,
        f64::from(calls / 16 * 16) / started.elapsed().as_secs_f64(),
    )
}

async fn sessions<S: SessionStore + 'static>(store: Arc<S>, calls: u32) -> (f64, f64) {
    let key = SessionKey::new("bench-session");
    let owner = SessionOwner::new(Principal::new().with_issuer("https://as").with_subject("alice"));
    store.bind(&key, &owner).await.unwrap();
    let started = Instant::now();
    for _ in 0..calls {
        assert!(store.owner(&key).await.unwrap().is_some());
    }
    let sequential = started.elapsed().as_secs_f64() * 1e6 / f64::from(calls);
    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..calls / 16 {
                    assert!(store.owner(&key).await.unwrap().is_some());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (
        sequential,
        f64::from(calls / 16 * 16) / started.elapsed().as_secs_f64(),
    )
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let calls: u32 = if full { 50_000 } else { 160 };
    let redis_server = redis_server::RedisServer::start();
    let port = redis_server.port;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let redis = RedisStore::builder(format!("redis://127.0.0.1:{port}"))
            .connect()
            .await
            .expect("connect");
        println!("{calls} calls each; one runtime thread; redis-server on loopback");
        let report = |what: &str, (seq, rate): (f64, f64)| {
            println!(
                "{what:<28} {seq:>9.2} us/call one after the other   {rate:>10.0} calls/s with 16 in flight"
            );
        };
        report(
            "replay: MemoryReplayCache",
            replay(Arc::new(MemoryReplayCache::new().max_capacity(1 << 22)), calls).await,
        );
        report(
            "replay: RedisReplayCache",
            replay(Arc::new(redis.replay_cache()), calls).await,
        );
        report(
            "session: MemorySessionStore",
            sessions(Arc::new(MemorySessionStore::new()), calls).await,
        );
        report(
            "session: RedisSessionStore",
            sessions(Arc::new(redis.session_store(Duration::from_secs(3600))), calls).await,
        );
    });
}

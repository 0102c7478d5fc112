//! The DPoP proof check over the raw signature check of the proof's algorithm
//! (target: at most 1.15×), and the cost of recording a proof's `jti`.
//!
//! As in `jwt_ratio`, short batches of the two alternate (which goes first
//! alternates too), each pair of adjacent batches gives one ratio, and the
//! median ratio is reported with its interquartile range, in thread CPU time.
//!
//! - raw: `VerifyingKey::verify` (key parsed once) over the proof's signing
//!   input and signature: the floor;
//! - proof: `Dpop::check` on the request's headers: the `DPoP` header read, the
//!   proof's header and claims parsed, its `jwk` parsed under the key policy and
//!   thumbprinted, the signature, `htm`, `htu`, `iat`, `ath`, the token's binding;
//!   the replay cache answers "first use" at once, so the same proof can be
//!   checked again and again;
//! - replay insert: `MemoryReplayCache::first_use_now` with a new key each time.
//!
//! Run: `cargo bench --bench dpop_ratio` (about 20 s), or with names to measure
//! only those: `cargo bench --bench dpop_ratio -- RS256 replay`. Without `--bench` (as
//! `cargo test --benches` runs it) it takes a few pairs only.

#[path = "cpu_time/mod.rs"]
mod cpu_time;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use cpu_time::{Alternated, alternate, quantile, timed};
use http::{HeaderMap, HeaderValue, Method, Uri};
use tower_bearer::__private::VerifyingKey;
use tower_bearer::dpop::Dpop;
use tower_bearer::jwt::{Algorithm, KeyPolicy};
use tower_bearer::replay::{MemoryReplayCache, ReplayCache, ReplayKey};
use tower_bearer::{AccessToken, Principal, Unavailable};
use tower_bearer_issuer::DpopKey;

const BATCH: Duration = Duration::from_millis(2);
const URL: &str = "https://api.example.com/mcp";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.bench-token.signature";

/// Every identifier is new: the proof check alone is measured.
struct AlwaysFirst;

impl ReplayCache for AlwaysFirst {
    async fn first_use(&self, _: &ReplayKey, _: SystemTime, _: SystemTime) -> Result<bool, Unavailable> {
        Ok(true)
    }

    fn first_use_now(
        &self,
        _: &ReplayKey,
        _: SystemTime,
        _: SystemTime,
    ) -> Option<Result<bool, Unavailable>> {
        Some(Ok(true))
    }
}

struct Fixture {
    dpop: Dpop,
    uri: Uri,
    headers: HeaderMap,
    token: AccessToken,
    raw_key: VerifyingKey,
    alg: Algorithm,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

fn fixture(alg: Algorithm) -> Fixture {
    let key = DpopKey::generate_with(alg);
    let proof = key.proof("POST", URL, Some(TOKEN));
    let (input, signature) = proof.rsplit_once('.').expect("a JWS");
    let signature = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .expect("base64url")
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("DPoP {TOKEN}")).unwrap(),
    );
    headers.insert("dpop", HeaderValue::from_str(&proof).unwrap());
    Fixture {
        dpop: Dpop::allowed().replay_cache(AlwaysFirst),
        uri: URL.parse().unwrap(),
        headers,
        token: AccessToken::new(Principal::new().with_subject("bench")).with_dpop_jkt(key.thumbprint()),
        raw_key: VerifyingKey::from_jwk(&key.jwk(), &KeyPolicy::default()).expect("the proof key"),
        alg,
        signing_input: input.as_bytes().to_vec(),
        signature,
    }
}

fn raw(f: &Fixture) {
    f.raw_key
        .verify(f.alg, black_box(&f.signing_input), black_box(&f.signature))
        .expect("raw verify");
}

fn proof(f: &Fixture) {
    let check = f.dpop.check(
        &Method::POST,
        &f.uri,
        black_box(&f.headers),
        true,
        TOKEN,
        &f.token,
    );
    match pin!(check).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result.expect("the bench proof is valid"),
        Poll::Pending => panic!("the proof check waited"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let pairs = if full { 501 } else { 5 };
    println!(
        "pairs of ~{} ms batches, alternating; ratio = proof check / raw signature check",
        BATCH.as_millis()
    );
    for alg in [
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::PS256,
    ] {
        if !only.is_empty() && !only.iter().any(|name| **name == alg.name()) {
            continue;
        }
        let f = fixture(alg);
        timed(50, || raw(&f));
        timed(50, || proof(&f));
        let per_call = timed(100, || raw(&f)) / 100;
        let iterations = (BATCH.as_nanos() / per_call.as_nanos().max(1)).clamp(1, 100_000) as u32;
        let Alternated {
            ratios,
            floor_ns: raw_ns,
            ours_ns,
        } = alternate(pairs, iterations, || raw(&f), || proof(&f));
        println!(
            "dpop/{:<6} proof/raw {:.3}x (IQR {:.3}-{:.3}; {} pairs of {} calls)  raw {:.2} us  proof {:.2} us (medians)",
            alg.name(),
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
            pairs,
            iterations,
            quantile(&raw_ns, 0.5) / 1000.0,
            quantile(&ours_ns, 0.5) / 1000.0,
        );
    }
    if !only.is_empty() && !only.iter().any(|name| *name == "replay") {
        return;
    }
    // The replay cache: one new identifier per call (a real proof's key: the
    // SHA-256 of its scope and jti, included).
    let cache = MemoryReplayCache::new().max_capacity(1 << 22);
    let now = SystemTime::now();
    let until = now + Duration::from_secs(60);
    let inserts: u32 = if full { 1_000_000 } else { 1_000 };
    let mut n = 0u64;
    let elapsed = timed(inserts, || {
        n += 1;
        let key = ReplayKey::new(
            "dpop",
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
            &n.to_string(),
        );
        assert_eq!(cache.first_use_now(black_box(&key), now, until), Some(Ok(true)));
    });
    println!(
        "replay/insert {:.0} ns per new jti ({inserts} inserts, cache of {} after)",
        elapsed.as_nanos() as f64 / f64::from(inserts),
        cache.len()
    );
}

//! The JWT verify path over the raw signature verification, measured so that the
//! machine's drift cancels out (DESIGN §6 target: at most 1.1×).
//!
//! `benches/benches/jwt.rs` (criterion) measures each function on its own, seconds apart;
//! on a shared machine the speed moves in between, and ratios computed from two
//! such medians move by ±5 %, too much to answer "≤ 1.1×". Here, for each of
//! RS256, PS256, ES256 and EdDSA, short batches of the two alternate (which one
//! goes first alternates too), each pair of adjacent batches gives one ratio, and
//! the median ratio over all pairs is reported with its interquartile range.
//! Batches are timed in the thread's CPU time, so time the scheduler gives to
//! other processes does not count.
//!
//! - raw: `ParsedPublicKey::verify_sig` (key parsed once) over the token's
//!   signing input and decoded signature: the floor;
//! - verifier: `JwtVerifier::verify` on the whole token with warm keys and no
//!   verified-token cache: pre-checks, header, signature, claims, `AccessToken`.
//!
//! Run: `cargo bench --bench jwt_ratio` (about 30 s), or with algorithm names to
//! measure only those: `cargo bench --bench jwt_ratio -- RS256 PS256`. Without
//! `--bench` (as `cargo test --benches` runs it) it takes a few pairs only, to
//! check that it works.

#[path = "jwt_fixture/mod.rs"]
mod jwt_fixture;
#[path = "../../tests/support_jwks/mod.rs"]
mod support_jwks;

#[path = "cpu_time/mod.rs"]
mod cpu_time;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use cpu_time::{Alternated, alternate, quantile, timed};
use jwt_fixture::{Fixture, fixture};
use tower_bearer::jwt::Algorithm;
use tower_bearer::{AccessToken, TokenVerifier};

/// How long one batch runs, about.
const BATCH: Duration = Duration::from_millis(2);

/// `verify` with warm keys finishes without waiting: poll it once.
fn verify_at_once(f: &Fixture) -> AccessToken {
    let mut verify = pin!(f.verifier.verify(black_box(&f.token)));
    match verify.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result.expect("the bench token verifies"),
        Poll::Pending => panic!("verify waited although its keys are loaded"),
    }
}

fn raw(f: &Fixture) {
    f.raw
        .verify_sig(black_box(f.signing_input()), black_box(&f.signature))
        .expect("raw verify");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let pairs = if full { 1001 } else { 5 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_runtime = rt.enter();
    println!(
        "pairs of ~{} ms batches, alternating; ratio = verifier / raw",
        BATCH.as_millis()
    );
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        if !only.is_empty() && !only.iter().any(|name| **name == alg.name()) {
            continue;
        }
        let f = fixture(&rt, alg, false);
        // Warm up, and size the batches from the raw verification's speed.
        timed(100, || raw(&f));
        timed(100, || drop(verify_at_once(&f)));
        let per_call = timed(200, || raw(&f)) / 200;
        let iterations = (BATCH.as_nanos() / per_call.as_nanos().max(1)).clamp(1, 100_000) as u32;

        let Alternated {
            ratios,
            floor_ns: raw_ns,
            ours_ns,
        } = alternate(pairs, iterations, || raw(&f), || drop(verify_at_once(&f)));
        println!(
            "jwt/{:<6} verifier/raw {:.3}x (IQR {:.3}-{:.3}; {} pairs of {} calls)  raw {:.2} us  verifier {:.2} us (medians)",
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
}

//! The JWT verify path over the raw signature verification, measured so that the
//! machine's drift cancels out (DESIGN §6 target: at most 1.1×).
//!
//! `benches/jwt.rs` (criterion) measures each function on its own, seconds apart;
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
#[path = "../tests/support_jwks/mod.rs"]
mod support_jwks;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

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

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn timed(iterations: u32, mut op: impl FnMut()) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iterations {
        op();
    }
    thread_cpu_time() - start
}

/// The p-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
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

        let (mut ratios, mut raw_ns, mut ours_ns) = (Vec::new(), Vec::new(), Vec::new());
        for pair in 0..pairs {
            let (r, o) = if pair % 2 == 0 {
                let r = timed(iterations, || raw(&f));
                (r, timed(iterations, || drop(verify_at_once(&f))))
            } else {
                let o = timed(iterations, || drop(verify_at_once(&f)));
                (timed(iterations, || raw(&f)), o)
            };
            ratios.push(o.as_secs_f64() / r.as_secs_f64());
            raw_ns.push(r.as_nanos() as f64 / f64::from(iterations));
            ours_ns.push(o.as_nanos() as f64 / f64::from(iterations));
        }
        for v in [&mut ratios, &mut raw_ns, &mut ours_ns] {
            v.sort_by(f64::total_cmp);
        }
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

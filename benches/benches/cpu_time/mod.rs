//! Shared by `jwt_ratio` and `dpop_ratio`: timing in the thread's CPU time and
//! alternating batches, so that the machine's drift cancels out of the ratios.

use std::time::Duration;

/// CPU time this thread has used.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of `iterations` calls of `op`.
pub fn timed(iterations: u32, mut op: impl FnMut()) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iterations {
        op();
    }
    thread_cpu_time() - start
}

/// The p-quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `pairs` pairs of batches of `iterations` calls, `floor` and `ours` in turn
/// (which goes first alternates too). Sorted: per-pair ratios ours/floor, and
/// ns per call of each.
pub struct Alternated {
    pub ratios: Vec<f64>,
    pub floor_ns: Vec<f64>,
    pub ours_ns: Vec<f64>,
}

pub fn alternate(
    pairs: usize,
    iterations: u32,
    mut floor: impl FnMut(),
    mut ours: impl FnMut(),
) -> Alternated {
    let (mut ratios, mut floor_ns, mut ours_ns) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..pairs {
        let (f, o) = if pair % 2 == 0 {
            let f = timed(iterations, &mut floor);
            (f, timed(iterations, &mut ours))
        } else {
            let o = timed(iterations, &mut ours);
            (timed(iterations, &mut floor), o)
        };
        ratios.push(o.as_secs_f64() / f.as_secs_f64());
        floor_ns.push(f.as_nanos() as f64 / f64::from(iterations));
        ours_ns.push(o.as_nanos() as f64 / f64::from(iterations));
    }
    for v in [&mut ratios, &mut floor_ns, &mut ours_ns] {
        v.sort_by(f64::total_cmp);
    }
    Alternated {
        ratios,
        floor_ns,
        ours_ns,
    }
}

//! The soak under faults behind `bench/soak.sh` (not in CI): the quickstart
//! with `--redis` and introspection, mixed load for a while, the
//! authorization server failing and recovering every 30 s, Redis restarted
//! once; every 10 s the requests by status, the quickstart's RSS and open
//! connections; and two counters that must stay at 0: a replayed DPoP proof
//! accepted, a token accepted while it could not be verified.
//!
//! It starts everything itself on loopback: redis-server (no persistence), an
//! introspection endpoint it can make fail (503 at once, or no answer past the
//! quickstart's 5 s timeout, in turn), the quickstart binary given with
//! `--quickstart`, and `--workers` load tasks. The load, in turn per worker:
//!
//! - a valid token from a small pool (introspection answers cached);
//! - a forged token, new every time (introspected, refused);
//! - a valid token never seen before: while the authorization server is down
//!   for the whole request it cannot be verified, so a 200 counts as
//!   "accepted while unverifiable";
//! - a DPoP-bound token with a fresh proof, then a proof accepted earlier
//!   (within its 60 s window, across the Redis restart too) replayed: a 200
//!   counts as "replayed proof accepted".
//!
//! Writes `SOAK.md` (table and summary) and `soak.svg` (chart) to `--out`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tower_bearer_issuer::DpopKey;

#[path = "../support/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

const CLIENT_ID: &str = "soak-rs";
const CLIENT_SECRET: &str = "soak-secret";
const SAMPLE: Duration = Duration::from_secs(10);
const FAULT_PERIOD: Duration = Duration::from_secs(30);

struct Args {
    quickstart: PathBuf,
    duration: Duration,
    workers: usize,
    out: PathBuf,
    label: String,
}

fn args() -> Args {
    let mut args = Args {
        quickstart: PathBuf::from("target/release/examples/mcp_server"),
        duration: Duration::from_secs(600),
        workers: 8,
        out: PathBuf::from("bench/results"),
        label: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--quickstart" => args.quickstart = value().into(),
            "--duration" => args.duration = Duration::from_secs(value().parse().expect("--duration SECS")),
            "--workers" => args.workers = value().parse().expect("--workers N"),
            "--out" => args.out = value().into(),
            "--label" => args.label = value(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// The authorization server: its state, and each change of it numbered.
struct Authority {
    issuer: String,
    /// The quickstart's resource, the tokens' `aud`.
    audience: String,
    up: AtomicBool,
    /// Bumped on every change of `up`: a request that saw the same epoch,
    /// down, before and after ran entirely while it was down.
    epoch: AtomicU64,
    /// How it fails while down: 503 at once, or no answer.
    hang: AtomicBool,
    dpop_jkt: String,
}

impl Authority {
    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// `Some(epoch)` when down now.
    fn down_epoch(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        (!self.up.load(Ordering::SeqCst)).then_some(epoch)
    }
}

async fn introspect(
    State(auth): State<Arc<Authority>>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !auth.up.load(Ordering::SeqCst) {
        if auth.hang.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let token = form.get("token").map(String::as_str).unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut answer = json!({
        "active": true, "client_id": "soak-client", "sub": "soak-user", "iss": auth.issuer,
        "aud": auth.audience, "scope": "mcp:read", "exp": now + 3600, "iat": now,
    });
    if token.starts_with("dpop-") {
        answer["token_type"] = "DPoP".into();
        answer["cnf"] = json!({ "jkt": auth.dpop_jkt });
    } else if !token.starts_with("valid-") {
        answer = json!({ "active": false });
    }
    axum::Json(answer).into_response()
}

/// What the load saw in one 10 s sample.
#[derive(Default, Clone)]
struct Sample {
    by_status: BTreeMap<u16, u64>,
    replay_accepted: u64,
    unverifiable_accepted: u64,
    replays_sent: u64,
    unverifiable_sent: u64,
}

struct Shared {
    authority: Arc<Authority>,
    sample: Mutex<Sample>,
    /// Proofs accepted (when, for which token), replayed while within their window.
    accepted_proofs: Mutex<VecDeque<(Instant, String, String)>>,
    next: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn count(&self, status: u16) {
        *self.sample.lock().unwrap().by_status.entry(status).or_default() += 1;
    }
}

async fn worker(shared: Arc<Shared>, client: reqwest::Client, base: String, key: Arc<DpopKey>) {
    let whoami = format!("{base}/whoami");
    while !shared.stop.load(Ordering::Relaxed) {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let send = |token: String, proof: Option<String>| {
            let mut request = client.get(&whoami);
            request = match proof {
                Some(proof) => request
                    .header("authorization", format!("DPoP {token}"))
                    .header("dpop", proof),
                None => request.bearer_auth(token),
            };
            async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        };
        match n % 5 {
            0 => {
                let status = send(format!("valid-hot-{}", n % 16), None).await;
                shared.count(status);
            }
            1 => {
                let status = send(format!("forged-{n}"), None).await;
                shared.count(status);
            }
            2 => {
                let before = shared.authority.down_epoch();
                let status = send(format!("valid-fresh-{n}"), None).await;
                let after = shared.authority.down_epoch();
                shared.count(status);
                if before.is_some() && before == after {
                    let mut sample = shared.sample.lock().unwrap();
                    sample.unverifiable_sent += 1;
                    if status == 200 {
                        sample.unverifiable_accepted += 1;
                    }
                }
            }
            3 => {
                let token = format!("dpop-{}", n % 8);
                let proof = key.proof("GET", &whoami, Some(&token));
                let status = send(token.clone(), Some(proof.clone())).await;
                shared.count(status);
                if status == 200 {
                    shared
                        .accepted_proofs
                        .lock()
                        .unwrap()
                        .push_back((Instant::now(), token, proof));
                }
            }
            _ => {
                // A proof accepted earlier, still inside its 60 s window.
                let replay = {
                    let mut proofs = shared.accepted_proofs.lock().unwrap();
                    while proofs
                        .front()
                        .is_some_and(|(at, _, _)| at.elapsed() > Duration::from_secs(50))
                    {
                        proofs.pop_front();
                    }
                    let len = proofs.len();
                    (len > 0).then(|| {
                        let (_, token, proof) = &proofs[(n as usize / 5) % len];
                        (token.clone(), proof.clone())
                    })
                };
                if let Some((token, proof)) = replay {
                    let status = send(token, Some(proof)).await;
                    shared.count(status);
                    let mut sample = shared.sample.lock().unwrap();
                    sample.replays_sent += 1;
                    if status == 200 {
                        sample.replay_accepted += 1;
                    }
                }
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Sockets the process holds open (listeners included).
fn open_sockets(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| {
        dir.filter_map(Result::ok)
            .filter(|e| {
                std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
            })
            .count() as u64
    })
}

struct Row {
    at: u64,
    sample: Sample,
    rss_kib: u64,
    sockets: u64,
    as_up: bool,
    /// Redis was restarted within this sample.
    redis_restarted: bool,
}

#[tokio::main]
async fn main() {
    let args = args();
    // The authorization server.
    let as_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let as_addr: SocketAddr = as_listener.local_addr().unwrap();
    let key = Arc::new(DpopKey::generate());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let authority = Arc::new(Authority {
        issuer: format!("http://{as_addr}"),
        audience: format!("{base}/mcp"),
        up: AtomicBool::new(true),
        epoch: AtomicU64::new(0),
        hang: AtomicBool::new(false),
        dpop_jkt: key.thumbprint(),
    });
    let app = Router::new()
        .route("/introspect", post(introspect))
        .with_state(authority.clone());
    tokio::spawn(async move { axum::serve(as_listener, app).await });

    let mut redis = RedisServer::start();
    let redis_port = redis.port;
    let mut quickstart = Command::new(&args.quickstart)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--issuer",
            &authority.issuer,
            "--audience",
            &format!("{base}/mcp"),
        ])
        .args([
            "--introspection-endpoint",
            &format!("{}/introspect", authority.issuer),
        ])
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .args(["--redis", &format!("redis://127.0.0.1:{redis_port}/0")])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", args.quickstart.display()));
    let pid = quickstart.id();
    let stdout = quickstart.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    while rx
        .recv_timeout(Duration::from_secs(60))
        .expect("quickstart prints ready")
        != "ready"
    {}

    let shared = Arc::new(Shared {
        authority: authority.clone(),
        sample: Mutex::new(Sample::default()),
        accepted_proofs: Mutex::new(VecDeque::new()),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let workers: Vec<_> = (0..args.workers)
        .map(|_| tokio::spawn(worker(shared.clone(), client.clone(), base.clone(), key.clone())))
        .collect();

    let started = Instant::now();
    let rss_start = rss_kib(pid);
    let mut rows = Vec::new();
    let mut next_fault = FAULT_PERIOD;
    let mut faults = 0u32;
    let redis_restart_at = args.duration / 2;
    let mut redis_restarted = false;
    let mut restarted_in_sample = false;
    let mut next_sample = SAMPLE;
    while started.elapsed() < args.duration {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let elapsed = started.elapsed();
        if elapsed >= next_fault {
            next_fault += FAULT_PERIOD;
            faults += 1;
            let up = !authority.up.load(Ordering::SeqCst);
            // Down in turn with an immediate 503 and with no answer at all.
            authority.hang.store(faults % 4 == 3, Ordering::SeqCst);
            authority.set(up);
        }
        if !redis_restarted && elapsed >= redis_restart_at {
            redis_restarted = true;
            redis.restart(Duration::from_secs(2));
            restarted_in_sample = true;
        }
        if elapsed >= next_sample {
            next_sample += SAMPLE;
            let sample = std::mem::take(&mut *shared.sample.lock().unwrap());
            rows.push(Row {
                at: elapsed.as_secs(),
                sample,
                rss_kib: rss_kib(pid),
                sockets: open_sockets(pid),
                as_up: authority.up.load(Ordering::SeqCst),
                redis_restarted: std::mem::take(&mut restarted_in_sample),
            });
            let last = rows.last().unwrap();
            eprintln!(
                "soak {:>4}s: {:?} rss {} KiB sockets {} replay-accepted {} unverifiable-accepted {}",
                last.at,
                last.sample.by_status,
                last.rss_kib,
                last.sockets,
                last.sample.replay_accepted,
                last.sample.unverifiable_accepted
            );
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(20), w).await;
    }
    let rss_end = rss_kib(pid);
    let _ = quickstart.kill();
    let _ = quickstart.wait();
    drop(redis);

    std::fs::create_dir_all(&args.out).unwrap();
    std::fs::write(args.out.join("SOAK.md"), report(&args, &rows, rss_start, rss_end)).unwrap();
    std::fs::write(args.out.join("soak.svg"), chart(&rows)).unwrap();
    let replay: u64 = rows.iter().map(|r| r.sample.replay_accepted).sum();
    let unverifiable: u64 = rows.iter().map(|r| r.sample.unverifiable_accepted).sum();
    println!(
        "soak done: RSS {rss_start} -> {rss_end} KiB, replayed proofs accepted {replay}, tokens accepted while unverifiable {unverifiable}"
    );
    if replay + unverifiable > 0 {
        std::process::exit(1);
    }
}

fn report(args: &Args, rows: &[Row], rss_start: u64, rss_end: u64) -> String {
    let sum = |f: fn(&Sample) -> u64| rows.iter().map(|r| f(&r.sample)).sum::<u64>();
    let mut out = String::new();
    let _ = writeln!(out, "# Soak under faults\n");
    let _ = writeln!(
        out,
        "`bench/soak.sh`: the quickstart{} with `--redis` and introspection for {} s, {} load workers \
         (valid cached tokens, forged tokens, never-seen valid tokens, DPoP with fresh and replayed proofs); \
         the authorization server down every other 30 s (503 at once, every fourth outage no answer), \
         redis-server restarted once without persistence at {} s.\n",
        if args.label.is_empty() {
            String::new()
        } else {
            format!(" ({})", args.label)
        },
        args.duration.as_secs(),
        args.workers,
        (args.duration / 2).as_secs()
    );
    let _ = writeln!(out, "| counter | value |\n|---|---|");
    let _ = writeln!(
        out,
        "| replayed proof accepted | **{}** (of {} replays) |",
        sum(|s| s.replay_accepted),
        sum(|s| s.replays_sent)
    );
    let _ = writeln!(
        out,
        "| token accepted while unverifiable | **{}** (of {} never-seen tokens sent while the authorization server was down) |",
        sum(|s| s.unverifiable_accepted),
        sum(|s| s.unverifiable_sent)
    );
    let _ = writeln!(out, "| RSS at start / end | {rss_start} KiB / {rss_end} KiB |");
    let total: u64 = rows.iter().flat_map(|r| r.sample.by_status.values()).sum();
    let _ = writeln!(out, "| requests | {total} |\n");
    let _ = writeln!(out, "![soak chart](soak.svg)\n");
    let _ = writeln!(
        out,
        "| t (s) | AS | Redis | 200/s | 401/s | 503/s | other/s | RSS KiB | sockets | replay accepted | unverifiable accepted |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let per =
            |status: u16| r.sample.by_status.get(&status).copied().unwrap_or(0) as f64 / SAMPLE.as_secs_f64();
        let other: u64 = r
            .sample
            .by_status
            .iter()
            .filter(|(s, _)| ![200, 401, 503].contains(*s))
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {} | {} | {} | {} |",
            r.at,
            if r.as_up { "up" } else { "down" },
            if r.redis_restarted { "restarted" } else { "up" },
            per(200),
            per(401),
            per(503),
            other as f64 / SAMPLE.as_secs_f64(),
            r.rss_kib,
            r.sockets,
            r.sample.replay_accepted,
            r.sample.unverifiable_accepted
        );
    }
    out
}

/// req/s by status (left axis) and RSS (right axis) over time, as SVG.
fn chart(rows: &[Row]) -> String {
    let (w, h, pad) = (900.0, 360.0, 50.0);
    let t_max = rows.last().map_or(1, |r| r.at).max(1) as f64;
    let rate =
        |r: &Row, s: u16| r.sample.by_status.get(&s).copied().unwrap_or(0) as f64 / SAMPLE.as_secs_f64();
    let rate_max = rows
        .iter()
        .flat_map(|r| [200, 401, 503].map(|s| rate(r, s)))
        .fold(1.0, f64::max);
    let rss_max = rows.iter().map(|r| r.rss_kib).max().unwrap_or(1).max(1) as f64 * 1.1;
    let x = |t: u64| pad + (t as f64 / t_max) * (w - 2.0 * pad);
    let y = |v: f64, max: f64| h - pad - (v / max) * (h - 2.0 * pad);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>"#
    );
    // AS outages shaded.
    for pair in rows.windows(2) {
        if !pair[1].as_up {
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="{pad}" width="{:.1}" height="{:.1}" fill="#f3e0e0"/>"##,
                x(pair[0].at),
                x(pair[1].at) - x(pair[0].at),
                h - 2.0 * pad
            );
        }
    }
    let line = |values: Vec<(u64, f64)>, max: f64, color: &str| {
        let points: Vec<String> = values
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v, max)))
            .collect();
        format!(
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        )
    };
    for (status, color) in [(200, "#2a7"), (401, "#e90"), (503, "#c33")] {
        svg += &line(
            rows.iter().map(|r| (r.at, rate(r, status))).collect(),
            rate_max,
            color,
        );
    }
    svg += &line(
        rows.iter().map(|r| (r.at, r.rss_kib as f64)).collect(),
        rss_max,
        "#36c",
    );
    let _ = write!(
        svg,
        r##"<line x1="{pad}" y1="{0}" x2="{1}" y2="{0}" stroke="#999"/><text x="{pad}" y="20">req/s by status (200 green, 401 orange, 503 red; left, max {rate_max:.0}) and RSS (blue; right, max {2:.0} MiB); authorization server down in the shaded spans</text><text x="{pad}" y="{3}">0 s</text><text x="{4}" y="{3}" text-anchor="end">{t_max:.0} s</text></svg>"##,
        h - pad,
        w - pad,
        rss_max / 1024.0,
        h - pad + 18.0,
        w - pad
    );
    svg
}

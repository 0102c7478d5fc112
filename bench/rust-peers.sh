#!/usr/bin/env bash
# tower-bearer against two other Rust resource-server crates, oauth-resource-server 0.4.1 and
# huskarl-resource-server 0.11.12, side by side: the same axum route (`GET /whoami`, a small JSON
# body with the token's sub and client_id) and handler, protected by each crate configured the
# way its own README or guide shows, with its defaults (bench/peers/rust/src/main.rs), and the
# same route without authentication as the baseline (`none`). Loopback only; run on demand, not
# in CI.
#
#   bench/rust-peers.sh [--duration S] [--rounds N] [--warmup S] [--connections N]
#                       [--tokens N] [--fit-tokens N] [--crates LIST] [--out FILE]
#
# What it does (everything it starts is stopped on exit, by pid):
#   1. installs wrk (apt) and Node + oidc-provider (scripts/setup-node.sh) idempotently; builds
#      bench/peers/rust in release (--locked);
#   2. starts the authorization server (tests/interop/oidc/server.mjs: RS256 RFC 9068 JWTs, aud =
#      the resource, by client_credentials + RFC 8707 `resource`) and mints --tokens distinct
#      tokens (default 10000);
#   3. round after round (--rounds, default 3), workload after workload, each crate in turn
#      (--crates, default none,tower-bearer,oauth-resource-server,huskarl) is started fresh on the
#      same port and loaded with `wrk -t1 -c16` for --duration seconds (default 10, after a
#      --warmup run of 2 s); crates take turns run by run, so a busy spell of the machine is
#      shared out rather than landing on one crate. Workloads:
#        valid        one valid token on every request (200)
#        distinct-fit the first --fit-tokens (default 2000) of the minted tokens in turn (200):
#                     they fit tower-bearer's verified-token cache (4096 entries), so after the
#                     first pass it serves them from there
#        distinct     all --tokens minted tokens in turn (200): more than twice that cache, so
#                     mostly cache misses for tower-bearer as well, a signature check per request
#        forged       the valid token's header and claims with a fresh random signature of the
#                     same size per request (401)
#        no-token     no Authorization header (401)
#      and its CPU time per request (utime + stime from /proc/PID/stat, before and after, over the
#      requests), p99 latency, VmRSS / VmHWM after the workload, and the share of the server's
#      CPU that other processes used meanwhile (/proc/stat; the noise of a shared machine) are
#      recorded;
#   4. writes --out (default bench/results/RUST-PEERS.md): medians over rounds, one row per crate
#      and workload, with ratios to the best of the three crates; every run at the end.
#
# CPU placement: the last CPU runs the server under test; the others run wrk and the
# authorization server (`taskset`). On a 2-core machine: wrk + AS on CPU 0, server on CPU 1.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
PEERS_DIR="$BENCH_DIR/peers/rust"
BIN="$PEERS_DIR/target/release/rust-peers"
NAME=rust-peers

DURATION=10
ROUNDS=3
WARMUP=2
CONNECTIONS=16
TOKENS=10000
FIT_TOKENS=2000
CRATES=(none tower-bearer oauth-resource-server huskarl)
OUT="$BENCH_DIR/results/RUST-PEERS.md"
COMMAND="bench/rust-peers.sh $*"

usage() { sed -n '2,/^[^#]/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --tokens) TOKENS="$2"; shift 2 ;;
    --fit-tokens) FIT_TOKENS="$2"; shift 2 ;;
    --crates) IFS=, read -r -a CRATES <<<"$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$NAME: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$DURATION" "$ROUNDS" "$CONNECTIONS" "$TOKENS" "$FIT_TOKENS"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { echo "$NAME: not a positive integer: $n" >&2; exit 2; }
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "$NAME: --warmup is a whole number of seconds" >&2; exit 2; }
((DURATION <= 60)) || { echo "$NAME: --duration is at most 60 s" >&2; exit 2; }
((ROUNDS <= 20)) || { echo "$NAME: --rounds is at most 20" >&2; exit 2; }
((FIT_TOKENS <= TOKENS)) || { echo "$NAME: --fit-tokens is at most --tokens" >&2; exit 2; }
for c in "${CRATES[@]}"; do
  case "$c" in
    none | tower-bearer | oauth-resource-server | huskarl) ;;
    *) echo "$NAME: unknown crate $c (none, tower-bearer, oauth-resource-server, huskarl)" >&2; exit 2 ;;
  esac
done
WORKLOADS=(valid distinct-fit distinct forged no-token)

say() { echo "$NAME: $*" >&2; }

# --- processes we start, stopped by pid on exit --------------------------------------------
# shellcheck source=bench/procs.sh
source "$BENCH_DIR/procs.sh"

# Installs a Debian package when its command is missing; exit 3 when the registry is unreachable.
need() { # command package
  command -v "$1" >/dev/null && return 0
  say "installing $2 with apt-get"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2 \
    || { say "SKIPPED: cannot install $2 (Debian registry unreachable?)"; exit 3; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- installs and build (idempotent) ---------------------------------------------------------
need wrk wrk
command -v taskset >/dev/null || { say "taskset (util-linux) is required"; exit 2; }
rc=0
"$ROOT/scripts/setup-node.sh" || rc=$?
if ((rc == 3)); then say "SKIPPED: the npm registry cannot be reached (authorization server)"; exit 3; fi
((rc == 0)) || { say "scripts/setup-node.sh failed ($rc)"; exit "$rc"; }
say "building bench/peers/rust (release)"
cargo build --release --locked --quiet --manifest-path "$PEERS_DIR/Cargo.toml" >&2

# --- CPUs ------------------------------------------------------------------------------------
NCPU="$(nproc)"
if ((NCPU >= 2)); then
  SERVER_CPU="$((NCPU - 1))"
  LOAD_CPUS="0-$((NCPU - 2))"
  PINNING="server under test on CPU $SERVER_CPU; wrk and the authorization server on CPU $LOAD_CPUS (taskset)"
else
  SERVER_CPU=0
  LOAD_CPUS=0
  PINNING="one CPU: wrk, the authorization server and the server under test share it"
fi
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# busy and total ticks of one CPU (/proc/stat: idle and iowait are not busy)
cpu_busy_total() { awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
AUDIENCE="$BASE/whoami"
SCOPES="mcp:read"

# --- the authorization server ----------------------------------------------------------------
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
mkfifo "$WORK/as.stdin"
exec 8<>"$WORK/as.stdin"
RESOURCE="$AUDIENCE" TOKEN_FORMAT=jwt SCOPES="$SCOPES" PORT=0 \
  taskset -c "$LOAD_CPUS" node "$ROOT/tests/interop/oidc/server.mjs" \
  <"$WORK/as.stdin" >"$WORK/as.out" 2>"$WORK/as.log" &
AS_PID=$!
PIDS+=("$AS_PID")
line=""
for ((i = 0; i < 600; i++)); do
  line="$(head -n1 "$WORK/as.out" 2>/dev/null || true)"
  [[ -n "$line" ]] && break
  kill -0 "$AS_PID" 2>/dev/null || { say "authorization server exited:"; cat "$WORK/as.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$line" ]] || { say "authorization server not ready after 60 s"; exit 1; }
ISSUER="$(json_field "$line" issuer)"
TOKEN_ENDPOINT="$(json_field "$line" token_endpoint)"
JWKS_URI="$(json_field "$line" jwks_uri)"
say "authorization server at $ISSUER"

# Distinct tokens by client_credentials + RFC 8707 resource, eight requests in flight.
cat >"$WORK/mint.mjs" <<'EOF'
const [endpoint, resource, scope, count] = process.argv.slice(2);
const headers = {
  authorization: `Basic ${Buffer.from('mcp-client:mcp-secret').toString('base64')}`,
  'content-type': 'application/x-www-form-urlencoded',
};
const body = new URLSearchParams({ grant_type: 'client_credentials', scope, resource }).toString();
let left = Number(count);
const tokens = [];
async function worker() {
  while (left > 0) {
    left -= 1;
    const response = await fetch(endpoint, { method: 'POST', headers, body });
    if (!response.ok) throw new Error(`the token endpoint answered ${response.status}`);
    tokens.push((await response.json()).access_token);
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
process.stdout.write(tokens.map((t) => `${t}\n`).join(''));
EOF
say "minting $TOKENS distinct tokens"
taskset -c "$LOAD_CPUS" node "$WORK/mint.mjs" "$TOKEN_ENDPOINT" "$AUDIENCE" "$SCOPES" "$TOKENS" >"$WORK/distinct"
[[ "$(sort -u "$WORK/distinct" | wc -l)" == "$TOKENS" ]] || { say "minted fewer than $TOKENS distinct tokens"; exit 1; }
head -n "$FIT_TOKENS" "$WORK/distinct" >"$WORK/distinct-fit"
TOKEN="$(head -n1 "$WORK/distinct")"
[[ "$TOKEN" == *.*.* ]] || { say "the authorization server issued no JWT"; exit 1; }
SIG="${TOKEN##*.}"
FORGE="${TOKEN%.*}.:${#SIG}"

# --- one server, one workload ----------------------------------------------------------------
SERVER_PID=""
start_server() { # crate
  local i
  RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN" --crate "$1" --listen "127.0.0.1:$PORT" \
    --issuer "$ISSUER" --audience "$AUDIENCE" --jwks-uri "$JWKS_URI" >"$WORK/$1.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for ((i = 0; i < 300; i++)); do
    grep -q '^ready' "$WORK/$1.log" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { say "$1 exited:"; cat "$WORK/$1.log" >&2; exit 1; }
    sleep 0.1
  done
  say "$1 not ready after 30 s"
  exit 1
}

expected() { # crate workload
  if [[ "$1" == none ]]; then echo 200; return; fi
  case "$2" in valid | distinct*) echo 200 ;; *) echo 401 ;; esac
}

# curl the request a workload sends, once; prints the status code
probe() { # workload
  local auth=()
  case "$1" in
    valid) auth=(-H "Authorization: Bearer $TOKEN") ;;
    distinct*) auth=(-H "Authorization: Bearer $(tail -n1 "$WORK/$1")") ;;
    forged)
      auth=(-H "Authorization: Bearer $(python3 -c '
import base64, os, sys
head, _, sig = sys.argv[1].rpartition(".")
size = len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
print(head + "." + base64.urlsafe_b64encode(bytes([os.urandom(1)[0] & 0x7F]) + os.urandom(size - 1)).rstrip(b"=").decode())
' "$TOKEN")") ;;
  esac
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${auth[@]}" "$BASE/whoami" || true
}

: >"$WORK/runs.jsonl"
wrk_run() { # crate workload round
  local crate="$1" workload="$2" round="$3" status want before after busy_before total_before busy_after total_after
  local env=(BENCH_METHOD=GET BENCH_HEADERS= BENCH_BODY= BENCH_SESSIONS= BENCH_TOKEN= BENCH_TOKENS= BENCH_FORGE=)
  case "$workload" in
    valid) env+=(BENCH_TOKEN="$TOKEN") ;;
    distinct*) env+=(BENCH_TOKENS="$WORK/$workload") ;;
    forged) env+=(BENCH_FORGE="$FORGE") ;;
  esac
  want="$(expected "$crate" "$workload")"
  status="$(probe "$workload")"
  [[ "$status" == "$want" ]] || say "WARNING: $crate $workload answered $status, expected $want"
  if ((WARMUP > 0)); then
    env "${env[@]}" BENCH_OUT="$WORK/warmup.json" taskset -c "$LOAD_CPUS" \
      wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 5s -s "$BENCH_DIR/wrk/request.lua" "$BASE/whoami" >/dev/null
  fi
  before="$(cpu_ticks "$SERVER_PID")"
  read -r busy_before total_before < <(cpu_busy_total "$SERVER_CPU")
  env "${env[@]}" BENCH_OUT="$WORK/wrk.json" taskset -c "$LOAD_CPUS" \
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s -s "$BENCH_DIR/wrk/request.lua" "$BASE/whoami" >/dev/null
  after="$(cpu_ticks "$SERVER_PID")"
  read -r busy_after total_after < <(cpu_busy_total "$SERVER_CPU")
  python3 - "$WORK/wrk.json" "$WORK/runs.jsonl" <<EOF
import json, sys
r = json.load(open(sys.argv[1]))
r.update(crate="$crate", workload="$workload", round=$round, probe_status=int("$status" or 0),
         expected_status=$want, rss_kib=int("$(status_kib "$SERVER_PID" VmRSS)"),
         hwm_kib=int("$(status_kib "$SERVER_PID" VmHWM)"),
         cpu_us_per_req=($after - $before) / $CLK_TCK * 1e6 / max(r["requests"], 1),
         # what else ran on the server's CPU during the run, in % of that CPU
         other_pct=max(0.0, ($busy_after - $busy_before - ($after - $before)) * 100 / max($total_after - $total_before, 1)))
# wrk counts responses >= 400 as status errors: all of them should be for a 401 workload.
r["unexpected"] = r["non2xx"] if $want == 200 else r["requests"] - r["non2xx"]
open(sys.argv[2], "a").write(json.dumps(r) + "\n")
print(f"$NAME: round $round {r['crate']:<22} {r['workload']:<12} {r['rps']:>9.0f} req/s"
      f"  CPU {r['cpu_us_per_req']:6.1f} us/req  p99 {r['p99_us'] / 1000:6.2f} ms"
      f"  RSS {r['rss_kib'] / 1024:5.1f} MiB  other load {r['other_pct']:4.1f} %  unexpected {r['unexpected']}", file=sys.stderr)
EOF
}

# --- the run -------------------------------------------------------------------------------------
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "port $PORT; $PINNING; wrk -t1 -c$CONNECTIONS -d${DURATION}s (+${WARMUP}s warm-up) per workload; $ROUNDS rounds"
for ((round = 1; round <= ROUNDS; round++)); do
  for workload in "${WORKLOADS[@]}"; do
    for crate in "${CRATES[@]}"; do
      start_server "$crate"
      wrk_run "$crate" "$workload" "$round"
      stop_pid "$SERVER_PID"
    done
  done
done

lock_version() { # crate name -> version in bench/peers/rust/Cargo.lock
  awk -v n="$1" '$1 == "name" && $3 == "\"" n "\"" {getline; gsub(/"/, "", $3); print $3; exit}' "$PEERS_DIR/Cargo.lock"
}
VERSIONS="tower-bearer $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml || echo '+local changes'), oauth-resource-server $(lock_version oauth-resource-server), huskarl-resource-server $(lock_version huskarl-resource-server) (with huskarl-reqwest $(lock_version huskarl-reqwest)), axum $(lock_version axum), oidc-provider $(node -p 'require(process.argv[1]).version' "$ROOT/tests/interop/oidc/node_modules/oidc-provider/package.json")"

mkdir -p "$(dirname "$OUT")"
python3 - "$WORK/runs.jsonl" "$OUT" <<EOF
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
med = statistics.median
crates = [c for c in "${CRATES[*]}".split() if any(r["crate"] == c for r in runs)]
peers = [c for c in crates if c != "none"]
WORKLOADS = {
    "valid": "valid token, repeated",
    "distinct-fit": "$FIT_TOKENS distinct valid tokens in turn",
    "distinct": "$TOKENS distinct valid tokens in turn",
    "forged": "forged signature, fresh per request",
    "no-token": "no token",
}
def cell(crate, workload, key):
    values = [r[key] for r in runs if r["crate"] == crate and r["workload"] == workload]
    return med(values) if values else None
def spread(crate, workload):
    values = [r["cpu_us_per_req"] for r in runs if r["crate"] == crate and r["workload"] == workload]
    return f"{min(values):.1f}–{max(values):.1f}"
def status(crate, workload):
    rs = [r for r in runs if r["crate"] == crate and r["workload"] == workload]
    want = rs[0]["expected_status"]
    bad = sum(r["unexpected"] for r in rs) + sum(r["probe_status"] != want for r in rs)
    return f"{want}" if bad == 0 else f"{want} (**{bad} other**)"
out = ["# tower-bearer and two other Rust resource-server crates, side by side", "",
       "- Date (UTC): $START; machine: $NCPU CPUs ($PINNING); load average before: $LOAD_BEFORE.",
       "- Versions: $VERSIONS.",
       "- The same axum 0.8 route and handler, \`GET /whoami\` answering \`{\"sub\":…,\"client_id\":…}\`, "
       "behind each crate configured as its README or guide shows, with its defaults "
       "(\`bench/peers/rust/src/main.rs\`); \`none\` is the same route without authentication (it "
       "answers 200 to every workload). One server at a time, started fresh for each run (crate × "
       "workload × round), on the same loopback port; runs alternate between crates.",
       "- Tokens: RS256 RFC 9068 JWTs (\`typ: at+jwt\`, \`aud\` = the resource) from oidc-provider by "
       "client_credentials + RFC 8707 \`resource\`; every crate fetches the same JWKS URI.",
       f"- Load: \`wrk -t1 -c$CONNECTIONS -d${DURATION}s\` per workload after a ${WARMUP} s warm-up, "
       f"$ROUNDS rounds; numbers are medians over rounds. CPU µs/req: the server process's "
       "utime + stime (/proc/PID/stat) over the run, divided by its requests. RSS: VmRSS after the "
       "workload (VmHWM: the process's peak; the process served only that workload and its "
       "warm-up).",
       "- Ratios are to the best of the three crates in the same workload: req/s ÷ the highest, "
       "CPU ÷ the lowest (1.00 = the best; lower CPU is better). \"over none\": CPU µs/req above "
       "the unauthenticated route in the same workload.", "",
       "Reproduce: \`$COMMAND\`", "",
       "| workload | crate | status | req/s | req/s ÷ best | CPU µs/req (range) | CPU ÷ best | over none µs | p99 ms | RSS MiB | HWM MiB |",
       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for workload, label in WORKLOADS.items():
    if not any(r["workload"] == workload for r in runs):
        continue
    best_rps = max((cell(c, workload, "rps") for c in peers), default=None)
    best_cpu = min((cell(c, workload, "cpu_us_per_req") for c in peers), default=None)
    base_cpu = cell("none", workload, "cpu_us_per_req")
    for crate in crates:
        rps, cpu = cell(crate, workload, "rps"), cell(crate, workload, "cpu_us_per_req")
        peer = crate != "none"
        out.append(
            f"| {label} | {crate} | {status(crate, workload)} | {rps:,.0f} "
            f"| {f'{rps / best_rps:.2f}' if peer else '–'} | {cpu:.1f} ({spread(crate, workload)}) "
            f"| {f'{cpu / best_cpu:.2f}' if peer else '–'} "
            f"| {f'{cpu - base_cpu:+.1f}' if peer and base_cpu is not None else '–'} "
            f"| {cell(crate, workload, 'p99_us') / 1000:.2f} | {cell(crate, workload, 'rss_kib') / 1024:.1f} "
            f"| {cell(crate, workload, 'hwm_kib') / 1024:.1f} |")
unexpected = sum(r["unexpected"] for r in runs) + sum(r["probe_status"] != r["expected_status"] for r in runs)
out += ["", f"Responses with another status than the one expected, in all runs: {unexpected}."]
summary = len(out)
out += ["", "## Every run", "",
        "| round | workload | crate | req/s | p50 ms | p99 ms | CPU µs/req | RSS MiB | HWM MiB | other load % | unexpected status |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in runs:
    out.append(f"| {r['round']} | {r['workload']} | {r['crate']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} "
               f"| {r['p99_us'] / 1000:.2f} | {r['cpu_us_per_req']:.1f} | {r['rss_kib'] / 1024:.1f} "
               f"| {r['hwm_kib'] / 1024:.1f} | {r['other_pct']:.1f} | {r['unexpected']} |")
out += ["", "## How each crate is set up", "",
        "- **tower-bearer** (this repository): \`JwtVerifier::builder().issuer(..).audience(..).jwks_uri(..).build()\` "
        "and \`TokenVerifierLayer::new(verifier).resource_metadata(..)\` on the router, as in the README. "
        "Library defaults, which include its verified-token cache (4096 entries keyed by SHA-256 of "
        "the token): a token seen before is not verified again. Keys load on the first request. "
        "aws-lc-rs (through jsonwebtoken 11) checks the signatures.",
        "- **oauth-resource-server 0.4.1** (features \`axum\`, default \`rustls-tls\`): its README "
        "quickstart: \`OAuthConfig { enabled, issuer, jwks_uri, audience, resource, .. }\` → "
        "\`resolve\` → \`OAuthValidator::new\`, \`spawn_background_refresh()\`, "
        "\`static_token_policy(None, ..)\`, \`AuthLayer::from_decision\` as a \`route_layer\`, "
        "\`metadata_router\` merged. Unusual: \`resolve\` refuses a configuration with neither a "
        "required scope nor \`require_at_jwt\` (it would accept ID tokens), so this sets "
        "\`require_at_jwt: true\` (oidc-provider emits \`typ: at+jwt\`; its README: \"turn it on if "
        "your server emits it\") and requires no scope, like the other two. No token cache: every "
        "request verifies the signature (jsonwebtoken 9 with ring); keys are cached and refreshed "
        "hourly. Plain \`http\` issuer and JWKS URI are accepted because they are loopback.",
        "- **huskarl-resource-server 0.11.12** (default features): its RFC 9068 guide, 2b: "
        "\`Rfc9068Validator::builder().issuer(..).audience(..).jwks_uri(..).jwks_source(http_client)"
        ".build().await\`, with \`.resource_metadata(..)\` so its challenges name the same metadata "
        "URL. Unusual: it has no HTTP client of its own (the guide uses **huskarl-reqwest** 0.9.3, "
        "added as a dependency) and no released axum adapter (huskarl-axum is unreleased), so the "
        "middleware is the guide's steps 3–4 written out: \`validate_request(headers, method, "
        "absolute external URI, None)\` (the URI is rebuilt from the configured base URL for DPoP "
        "\`htu\`), \`ValidationResult::rejection(..).apply(..)\`, \`DPoP-Nonce\` echoed. DPoP is "
        "supported by default, so a 401 carries two challenges (\`Bearer\` and \`DPoP\`). The JWKS "
        "is fetched when the validator is built. No token cache; signatures are checked by "
        "huskarl-crypto-native, which uses the pure-Rust RustCrypto \`rsa\` crate (0.10 rc).",
        "- All three require \`iss\`, \`aud\`, \`exp\` and accept the same tokens; none needed OIDC "
        "discovery (the JWKS URI is given to each).", "",
        "## Reading the numbers", "",
        "- The one wrk thread on the other CPU can be the limit, the more so with \`BENCH_TOKENS\` "
        "and most with \`BENCH_FORGE\` (its Lua makes a random signature per request): where "
        "\`none\` is not faster than a crate, that crate's req/s is the load generator's, and CPU "
        "µs/req is the column that compares. On a shared machine req/s also moves with whatever "
        "else runs (\"other load\" in every run below: the share of the server's CPU that other "
        "processes took meanwhile); CPU µs/req moves less, but moves too (caches, frequency). CPU per request also rises "
        "a little when a server is not saturated (fewer requests per wake-up), so \"over none\" is "
        "only approximate when the two ran at very different rates.",
        f"- \"{WORKLOADS['distinct-fit']}\" "
        + ("fits" if $FIT_TOKENS <= 4096 else "does not fit")
        + " tower-bearer's 4096-entry cache; "
        + f"\"{WORKLOADS['distinct']}\" "
        + ("exceeds it, so most requests there are a full verification (some tokens stay cached: "
           "moka admits a new entry only when it is used more often than the one it would evict)"
           if $TOKENS > 4096 else "fits it too, so after the first pass every request is a hit")
        + ". The other crates verify every request in every workload.",
        f"- Other load on the server's CPU during the runs: median {med(r['other_pct'] for r in runs):.1f} %, "
        f"max {max(r['other_pct'] for r in runs):.1f} %."]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out[:summary]))
sys.exit(0 if unexpected == 0 else 1)
EOF
say "wrote $OUT"
python3 "$BENCH_DIR/peers_chart.py" "$OUT" "${OUT%.md}.svg" >&2

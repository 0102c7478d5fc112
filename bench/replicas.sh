#!/usr/bin/env bash
# Throughput of two quickstart replicas sharing one Redis against one replica, and one replica
# without Redis as the baseline: `examples/mcp_server` in release, loopback only; run on demand,
# not in CI.
#
#   bench/replicas.sh [--duration S] [--rounds N] [--warmup S] [--connections N]
#                     [--sessions N] [--out FILE]
#
# What it does (everything it starts is stopped on exit, by pid):
#   1. installs wrk (apt) and redis-server (scripts/setup-redis.sh) idempotently; builds the
#      quickstart in release;
#   2. starts one redis-server (no persistence) and one more quickstart only as the development
#      issuer; the servers under test trust it (`--issuer`) for one audience, as behind one
#      public host, so a token is good at every replica. One DPoP-free bearer token
#      (client_credentials, `mcp:read`) is used throughout: verified once, then served from each
#      replica's verified-token cache;
#   3. starts replica A and replica B (`--redis`, session owners on Redis) and C (no `--redis`,
#      in-process session store), and opens --sessions MCP sessions (default 16, protocol
#      2025-11-25) on each: a session lives in the process whose MCP transport opened it (rmcp's
#      session manager is local), its owner binding on Redis for A and B;
#   4. round after round (--rounds, default 3), in turn:
#        one-no-redis  C alone, `wrk -t1 -cN`
#        one-redis     A alone, `wrk -t1 -cN`
#        two-redis     A and B at once, each with its own `wrk -t1 -c(N/2)`, req/s summed
#      for --duration seconds (default 10) after a --warmup (default 2 s), with N =
#      --connections (default 16). The request is POST /mcp tools/list in a session, so every
#      request is a token check (a cache hit), a session owner lookup (Redis GETEX for A and B)
#      and rmcp's answer. Recorded per run: req/s, p99, responses other than 200, the CPU time of
#      each replica and of redis-server per request (utime + stime from /proc/PID/stat), the
#      CPUs each replica kept busy, and Redis GETEX calls per request (INFO commandstats);
#   5. writes --out (default bench/results/REPLICAS.md): medians over rounds, every run, the load
#      average (`uptime`) before and after.
#
# CPU placement (taskset): replica A and C on the last CPU, replica B on the one before it, wrk,
# redis-server and the issuer on the rest. With 2 CPUs there is no "rest": B shares CPU 0 with
# both wrk processes and redis-server, so two replicas cannot show scaling there; the figure
# shows what Redis costs per request, that two replicas on one Redis do not collapse, and that
# both replicas' session checks went to the one Redis.
set -euo pipefail

NAME=replicas
# shellcheck source=bench/ours.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ours.sh"
trap 'exit 130' INT TERM

DURATION=10
ROUNDS=3
WARMUP=2
CONNECTIONS=16
SESSIONS=16
OUT="$BENCH_DIR/results/REPLICAS.md"
COMMAND="bench/replicas.sh $*"

usage() { sed -n '2,/^[^#]/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --sessions) SESSIONS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) say "unknown argument $1"; usage >&2; exit 2 ;;
  esac
done
for n in "$DURATION" "$ROUNDS" "$CONNECTIONS" "$SESSIONS"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { say "not a positive integer: $n"; exit 2; }
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { say "--warmup is a whole number of seconds"; exit 2; }
((DURATION <= 60)) || { say "--duration is at most 60 s"; exit 2; }
((ROUNDS <= 20)) || { say "--rounds is at most 20"; exit 2; }
((SESSIONS <= 256)) || { say "--sessions is at most 256"; exit 2; }
((CONNECTIONS >= 2 && CONNECTIONS % 2 == 0)) || { say "--connections must be even (two wrk get half each)"; exit 2; }
HALF=$((CONNECTIONS / 2))
CONFIGS=(one-no-redis one-redis two-redis)

# --- installs and build (idempotent) ---------------------------------------------------------
need wrk wrk
command -v taskset >/dev/null || { say "taskset (util-linux) is required"; exit 2; }
rc=0
"$ROOT/scripts/setup-redis.sh" || rc=$?
if ((rc == 3)); then say "SKIPPED: redis-server cannot be installed (Debian registry unreachable)"; exit 3; fi
((rc == 0)) || { say "scripts/setup-redis.sh failed ($rc)"; exit "$rc"; }
command -v redis-cli >/dev/null || { say "redis-cli (redis-tools) is missing"; exit 2; }
build_ours

# --- CPUs ------------------------------------------------------------------------------------
NCPU="$(nproc)"
if ((NCPU >= 3)); then
  CPU_A="$((NCPU - 1))" CPU_B="$((NCPU - 2))" LOAD_CPUS="0-$((NCPU - 3))"
elif ((NCPU == 2)); then
  CPU_A=1 CPU_B=0 LOAD_CPUS=0
else
  CPU_A=0 CPU_B=0 LOAD_CPUS=0
fi
PINNING="replica A and the no-Redis replica on CPU $CPU_A, replica B on CPU $CPU_B; wrk, redis-server and the issuer on CPU $LOAD_CPUS (taskset)"
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# --- redis-server and the issuer -------------------------------------------------------------
RPORT="$(free_port)"
taskset -c "$LOAD_CPUS" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
  >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for ((i = 0; i < 100; i++)); do
  [[ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" == PONG ]] && break
  kill -0 "$REDIS_PID" 2>/dev/null || { say "redis-server exited:"; cat "$WORK/redis.log" >&2; exit 1; }
  sleep 0.1
done
[[ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" == PONG ]] || { say "redis-server not ready after 10 s"; exit 1; }
REDIS_URL="redis://127.0.0.1:$RPORT/0"
getex_calls() { redis-cli -p "$RPORT" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_getex:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }

IPORT="$(free_port)"
RUST_LOG=warn taskset -c "$LOAD_CPUS" "$OURS_BIN" --listen "127.0.0.1:$IPORT" >"$WORK/issuer.out" 2>&1 &
ISSUER_PID=$!
PIDS+=("$ISSUER_PID")
wait_ready "$WORK/issuer.out" "$ISSUER_PID" issuer
ISSUER="$(sed -n 's/^ *authorization server: *//p' "$WORK/issuer.out")"
read -r CLIENT_ID CLIENT_SECRET < <(sed -n 's|^ *development issuer: client id \(.*\) / secret \(.*\)$|\1 \2|p' "$WORK/issuer.out")
[[ -n "$ISSUER" && -n "$CLIENT_ID" ]] || { say "the issuer printed no issuer URL or client"; exit 1; }
# One audience for every replica: the public URL a load balancer would serve them under.
AUDIENCE="http://mcp.bench.invalid/mcp"
TOKEN="$(curl -sS --max-time 30 -u "$CLIENT_ID:$CLIENT_SECRET" "$ISSUER/token" \
  -d grant_type=client_credentials -d scope=mcp:read --data-urlencode "resource=$AUDIENCE" \
  | python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["token_type"] == "Bearer"; print(r["access_token"])')"
[[ "$TOKEN" == *.*.* ]] || { say "the issuer issued no JWT"; exit 1; }

# --- the servers under test ------------------------------------------------------------------
declare -A PORT PID CPU
CPU[a]="$CPU_A" CPU[b]="$CPU_B" CPU[c]="$CPU_A"
for server in a b c; do
  PORT[$server]="$(free_port)"
  args=(--listen "127.0.0.1:${PORT[$server]}" --issuer "$ISSUER" --audience "$AUDIENCE")
  [[ "$server" == c ]] || args+=(--redis "$REDIS_URL")
  RUST_LOG=warn taskset -c "${CPU[$server]}" "$OURS_BIN" "${args[@]}" >"$WORK/$server.out" 2>&1 &
  PID[$server]=$!
  PIDS+=("${PID[$server]}")
  wait_ready "$WORK/$server.out" "${PID[$server]}" "replica $server"
  : >"$WORK/$server.sessions"
  for ((i = 0; i < SESSIONS; i++)); do
    open_session "http://127.0.0.1:${PORT[$server]}/mcp" "$TOKEN" >>"$WORK/$server.sessions"
  done
done
BOUND="$(redis-cli -p "$RPORT" --scan --pattern 'tower-bearer:session:*' | wc -l)"
say "sessions bound on Redis: $BOUND (A and B opened $SESSIONS each)"

# --- one run ---------------------------------------------------------------------------------
BODY='{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}'
HEADERS=$'Content-Type: application/json\nAccept: application/json, text/event-stream\nMCP-Protocol-Version: '"$PROTOCOL_VERSION"
# curl one tools/list in the first session of a server; prints the status code
probe() { # server
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "http://127.0.0.1:${PORT[$1]}/mcp" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "MCP-Protocol-Version: $PROTOCOL_VERSION" \
    -H "Mcp-Session-Id: $(head -n1 "$WORK/$1.sessions")" -d "$BODY" || true
}
# One wrk per server, all at once, each with its server's sessions; results in $WORK/NAME.SERVER.json.
wrk_all() { # connections seconds name server...
  local connections="$1" seconds="$2" name="$3" s pids=()
  shift 3
  for s in "$@"; do
    env BENCH_METHOD=POST BENCH_BODY="$BODY" BENCH_HEADERS="$HEADERS" BENCH_TOKEN="$TOKEN" \
      BENCH_SESSIONS="$WORK/$s.sessions" BENCH_TOKENS= BENCH_FORGE= BENCH_OUT="$WORK/$name.$s.json" \
      taskset -c "$LOAD_CPUS" wrk -t1 -c"$connections" -d"${seconds}s" --timeout 5s \
      -s "$BENCH_DIR/wrk/request.lua" "http://127.0.0.1:${PORT[$s]}/mcp" >/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}"
}

: >"$WORK/runs.jsonl"
run() { # config round
  local config="$1" round="$2" servers connections s before=() after=() redis_before redis_after getex_before getex_after status probes=""
  case "$config" in
    one-no-redis) servers=(c) connections="$CONNECTIONS" ;;
    one-redis) servers=(a) connections="$CONNECTIONS" ;;
    two-redis) servers=(a b) connections="$HALF" ;;
  esac
  for s in "${servers[@]}"; do
    status="$(probe "$s")"
    probes+="$status "
    [[ "$status" == 200 ]] || say "WARNING: replica $s answered $status to tools/list, expected 200"
  done
  ((WARMUP == 0)) || wrk_all "$connections" "$WARMUP" warmup "${servers[@]}"
  for s in "${servers[@]}"; do before+=("$(cpu_ticks "${PID[$s]}")"); done
  redis_before="$(cpu_ticks "$REDIS_PID")"
  getex_before="$(getex_calls)"
  wrk_all "$connections" "$DURATION" wrk "${servers[@]}"
  for s in "${servers[@]}"; do after+=("$(cpu_ticks "${PID[$s]}")"); done
  redis_after="$(cpu_ticks "$REDIS_PID")"
  getex_after="$(getex_calls)"
  python3 - "$WORK" "$WORK/runs.jsonl" <<EOF
import json, sys
servers, before, after = "${servers[*]}".split(), [${before[*]/%/,}], [${after[*]/%/,}]
tick = 1e6 / $CLK_TCK
per = [json.load(open(f"{sys.argv[1]}/wrk.{s}.json")) for s in servers]
requests = sum(w["requests"] for w in per)
r = dict(config="$config", round=$round, connections=$connections, servers=servers,
         probes="$probes".split(), requests=requests,
         rps=sum(w["rps"] for w in per), rps_each=[w["rps"] for w in per],
         p99_us=max(w["p99_us"] for w in per),
         unexpected=sum(w["non2xx"] + w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"] for w in per),
         replica_cpu_us_per_req=sum(a - b for a, b in zip(after, before)) * tick / max(requests, 1),
         replica_cpu_us_each=[(a - b) * tick / max(w["requests"], 1) for a, b, w in zip(after, before, per)],
         # CPUs each replica kept busy: 1.0 = its CPU was saturated, the replica was the limit
         replica_cores_each=[(a - b) * tick / w["duration_us"] for a, b, w in zip(after, before, per)],
         redis_cpu_us_per_req=($redis_after - $redis_before) * tick / max(requests, 1),
         getex_per_req=($getex_after - $getex_before) / max(requests, 1))
open(sys.argv[2], "a").write(json.dumps(r) + "\n")
print(f"$NAME: round $round {r['config']:<13} {r['rps']:>8.0f} req/s"
      + (f" ({' + '.join(f'{x:.0f}' for x in r['rps_each'])})" if len(servers) > 1 else "")
      + f"  p99 {r['p99_us'] / 1000:6.2f} ms  replica CPU {r['replica_cpu_us_per_req']:6.1f} us/req"
      f"  redis CPU {r['redis_cpu_us_per_req']:5.1f} us/req  GETEX/req {r['getex_per_req']:.3f}"
      f"  unexpected {r['unexpected']}", file=sys.stderr)
EOF
}

# --- the run ---------------------------------------------------------------------------------
UPTIME_BEFORE="$(uptime)"
START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "$PINNING; $ROUNDS rounds of ${CONFIGS[*]}, ${DURATION}s each (+${WARMUP}s warm-up), $CONNECTIONS connections in all"
for ((round = 1; round <= ROUNDS; round++)); do
  for config in "${CONFIGS[@]}"; do run "$config" "$round"; done
done
UPTIME_AFTER="$(uptime)"
VERSION="tower-bearer $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src examples Cargo.toml || echo '+local changes'), $(redis-server --version | cut -d' ' -f1-3), $({ wrk --version 2>&1 || true; } | head -n1 | cut -d' ' -f1-2)"

mkdir -p "$(dirname "$OUT")"
python3 - "$WORK/runs.jsonl" "$OUT" <<EOF
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
med = statistics.median
LABELS = {
    "one-no-redis": "(c) one replica, no Redis (sessions in process)",
    "one-redis": "(a) one replica, --redis",
    "two-redis": "(b) two replicas, one Redis, summed",
}
def col(config, key):
    return [r[key] for r in runs if r["config"] == config]
def rng(values, fmt):
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"
base = med(col("one-no-redis", "rps"))
one = med(col("one-redis", "rps"))
out = ["# Two replicas on one Redis against one", "",
       "- Date (UTC): $START; $NCPU CPUs; $PINNING.",
       "- Load before: \`$UPTIME_BEFORE\`; after: \`$UPTIME_AFTER\`.",
       "- Versions: $VERSION.",
       "- Request: POST /mcp \`tools/list\` in a 2025-11-25 MCP session ($SESSIONS sessions per "
       "server, taken in turn), one bearer JWT (no DPoP) from the development issuer, verified "
       "once and then a hit in each replica's verified-token cache. Per request: token check, "
       "session owner lookup (Redis \`GETEX\` with --redis, in-process without), rmcp's answer.",
       f"- Load: \`wrk -t1 -c$CONNECTIONS\` at one replica; at two, one \`wrk -t1 -c$HALF\` at each at "
       f"the same time. ${DURATION} s per run after a ${WARMUP} s warm-up; $ROUNDS rounds, "
       "configurations in turn; medians over rounds (range in brackets).",
       "- CPU µs/req: utime + stime of the replica process(es) (/proc/PID/stat), and of "
       "redis-server, over the run, divided by the requests answered. Replica CPUs busy: that "
       "CPU time over the run's wall time, per replica (1.00: its CPU was saturated, so the "
       "replica was the limit).", "",
       "Reproduce: \`$COMMAND\`", "",
       "| configuration | req/s | ÷ (c) | ÷ (a) | per replica req/s | p99 ms | replica CPU µs/req | replica CPUs busy | redis-server CPU µs/req | GETEX per request | other than 200 |",
       "|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|"]
for config, label in LABELS.items():
    rps = col(config, "rps")
    if not rps:
        continue
    mine = [r for r in runs if r["config"] == config]
    each = [med(r["rps_each"][i] for r in mine) for i in range(len(mine[0]["rps_each"]))]
    cores = [med(r["replica_cores_each"][i] for r in mine) for i in range(len(mine[0]["rps_each"]))]
    out.append(
        f"| {label} | {med(rps):,.0f} ({rng(rps, '{:,.0f}')}) | {med(rps) / base:.2f} | {med(rps) / one:.2f} "
        f"| {' + '.join(f'{x:,.0f}' for x in each)} | {med(col(config, 'p99_us')) / 1000:.2f} "
        f"| {med(col(config, 'replica_cpu_us_per_req')):.1f} ({rng(col(config, 'replica_cpu_us_per_req'), '{:.1f}')}) "
        f"| {' + '.join(f'{x:.2f}' for x in cores)} "
        f"| {med(col(config, 'redis_cpu_us_per_req')):.1f} | {med(col(config, 'getex_per_req')):.3f} "
        f"| {sum(col(config, 'unexpected')) + sum(p != '200' for r in mine for p in r['probes'])} |")
unexpected = sum(r["unexpected"] for r in runs) + sum(p != "200" for r in runs for p in r["probes"])
out += ["", f"Sessions bound on Redis after opening: $BOUND (replicas A and B opened $SESSIONS each). "
        f"Responses other than 200 (and transport errors) in all runs: {unexpected}."]
summary = len(out)
out += ["", "## Reading the numbers", "",
        "- This machine has $NCPU CPUs for wrk, redis-server and the replicas together. With two "
        "CPUs, replica B shares CPU 0 with both wrk processes and redis-server, so (b) cannot show "
        "scaling: the machine, not the design, is the limit. (b) ÷ (a) above 1 is B taking CPU 0 "
        "time from the load generators, not a scaling factor; replica A is then no longer "
        "saturated (CPUs busy below 1), fed by a wrk that shares its CPU. What the figure does show: what the "
        "shared session store costs per request ((a) against (c): the replica's extra CPU for a "
        "Redis round trip, and redis-server's own CPU), that two replicas on one Redis do not "
        "collapse ((b) against (a)), and that every session check of both replicas went to the one "
        "Redis (GETEX per request ≈ 1, every response 200). On a machine with a core per replica "
        "and more for the load, (b) is the number to read for scaling.",
        "- What Redis holds here is the crate's part of a session, its owner binding, for both "
        "replicas' sessions (the count above); the MCP transport's own session state (rmcp's "
        "\`LocalSessionManager\` in the quickstart) stays in the process that opened it, so "
        "2025-11-25 sessions are routed back to their replica (each wrk uses its own replica's "
        "sessions). The 2026-07-28 revision has no session to route.",
        "- Other engineers' builds may run on the same machine: compare the load averages above, "
        "and the ranges in brackets."]
out += ["", "## Every run", "",
        "| round | configuration | req/s | per replica | p99 ms | replica CPU µs/req | per replica CPU µs/req | replica CPUs busy | redis CPU µs/req | GETEX/req | other than 200 |",
        "|---:|---|---:|---|---:|---:|---|---|---:|---:|---:|"]
for r in runs:
    out.append(f"| {r['round']} | {r['config']} | {r['rps']:,.0f} | {' + '.join(f'{x:,.0f}' for x in r['rps_each'])} "
               f"| {r['p99_us'] / 1000:.2f} | {r['replica_cpu_us_per_req']:.1f} "
               f"| {' / '.join(f'{x:.1f}' for x in r['replica_cpu_us_each'])} "
               f"| {' + '.join(f'{x:.2f}' for x in r['replica_cores_each'])} | {r['redis_cpu_us_per_req']:.1f} "
               f"| {r['getex_per_req']:.3f} | {r['unexpected']} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out[:summary]))
sys.exit(0 if unexpected == 0 else 1)
EOF
say "wrote $OUT"

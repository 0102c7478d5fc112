#!/usr/bin/env bash
# What authentication costs our server, layer by layer, measured the way a noisy shared machine
# allows: the quickstart in several configurations run at the same time, pinned to the same CPU,
# and loaded at the same time by one wrk process each with the same settings. Whatever slows the
# machine down during a round slows them alike, so their CPU time per request stays comparable.
# Several rounds show the spread. Run on demand, not in CI.
#
#   bench/auth-cost.sh [--rounds N] [--duration S] [--connections N] [--out FILE]
#                      [--servers LIST] [--baseline BIN]
#
# Servers (bench/ours.sh, `ours_args`): bare (--no-auth, no Origin layer), off (--no-auth: the
# Origin layer only), token-jwt and token-introspection (the token layer alone), token+sessions
# and token+scopes (the token layer and one MCP layer), jwt and introspection (the quickstart as
# shipped: Origin, token, session binding and per-tool scopes). --servers runs some of them
# (comma separated; say `bare,token-jwt` for the token layer alone with less contention: every
# server loaded at once shares the one CPU); the report keeps the lines it has both servers of.
# Lines of the report, each a difference of CPU µs per request between two servers loaded in the
# same round: the token layer (token-* − bare), MCP session binding (token+sessions − token-jwt),
# per-tool scopes (token+scopes − token-jwt), Origin (off − bare), and everything (jwt,
# introspection − bare).
# Workloads: MCP tools/list (one session per connection, initialized once) and GET /whoami (the
# route has the Origin and token layers only), each with a valid token that stays cached. The
# embedded development issuer signs the tokens and answers introspection: after the first request
# of a token nothing reaches it. Servers without auth receive the same Authorization header and
# ignore it.
#
# Before/after: --baseline BIN runs the quickstart as shipped (off, jwt, introspection) from
# another build (say, the release binary of an earlier commit, built in a git worktree) in the
# same rounds, and reports both builds' ratios against their own auth-off server side by side.
#
# CPU placement: the last CPU runs the servers; the others run wrk (taskset).
# Environment: BENCH_OURS_BIN  our server binary (default: the release build of
#                               examples/mcp_server, built by this script).
set -euo pipefail

NAME=auth-cost
source "$(dirname "${BASH_SOURCE[0]}")/ours.sh"
ROUNDS=5
DURATION=10
CONNECTIONS=16
OUT="$BENCH_DIR/results/AUTH-COST.md"
BASELINE=
SERVERS=(bare off token-jwt token-introspection token+sessions token+scopes jwt introspection)
COMMAND="bench/auth-cost.sh $*"

usage() { sed -n '2,/^[^#]/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --baseline) BASELINE="$2"; shift 2 ;;
    --servers) IFS=, read -r -a SERVERS <<<"$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "auth-cost.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
((ROUNDS >= 1 && ROUNDS <= 20)) || { echo "auth-cost.sh: --rounds is 1 to 20" >&2; exit 2; }
((DURATION >= 1 && DURATION <= 60)) || { echo "auth-cost.sh: --duration is 1 to 60 s" >&2; exit 2; }
[[ -z "$BASELINE" || -x "$BASELINE" ]] || { echo "auth-cost.sh: --baseline $BASELINE is not an executable" >&2; exit 2; }

for server in "${SERVERS[@]}"; do ours_args "$server" 0 >/dev/null; done
need wrk wrk
build_ours

CPUS="$(nproc)"
if ((CPUS > 1)); then
  SERVER_CPU=$((CPUS - 1))
  LOAD_CPUS="0-$((CPUS - 2))"
  PINNING="servers on CPU $SERVER_CPU, wrk on CPU $LOAD_CPUS"
else
  SERVER_CPU=0
  LOAD_CPUS=0
  PINNING="one CPU: servers and wrk share it"
fi
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# A server is "mode" (this build) or "baseline-mode" (the --baseline build).
[[ -z "$BASELINE" ]] || SERVERS+=(baseline-off baseline-jwt baseline-introspection)
declare -A PID PORT TOKEN
for server in "${SERVERS[@]}"; do
  PORT[$server]="$(free_port)"
  bin="$OURS_BIN"
  [[ "$server" != baseline-* ]] || bin="$BASELINE"
  # shellcheck disable=SC2046 # ours_args prints separate words
  RUST_LOG=warn taskset -c "$SERVER_CPU" "$bin" $(ours_args "${server#baseline-}" "${PORT[$server]}") \
    >"$WORK/$server.out" 2>&1 &
  PID[$server]=$!
  PIDS+=("${PID[$server]}")
done
for server in "${SERVERS[@]}"; do
  TOKEN[$server]="$(ready_token "$WORK/$server.out" "${PID[$server]}" "$server")"
  # One MCP session per connection, initialized once.
  for ((i = 0; i < CONNECTIONS; i++)); do
    open_session "http://127.0.0.1:${PORT[$server]}/mcp" "${TOKEN[$server]}" >>"$WORK/$server.sessions"
  done
done

: >"$WORK/runs.jsonl"
# Loads the servers at once with one workload; records each one's numbers unless warming up.
round_of() { # workload seconds round ("" = warm-up)
  local workload="$1" seconds="$2" round="$3" mode url
  local -A before wrk_pid
  for mode in "${SERVERS[@]}"; do
    local env=(BENCH_METHOD=GET BENCH_TOKEN="${TOKEN[$mode]}" BENCH_HEADERS= BENCH_BODY= BENCH_FORGE= BENCH_TOKENS= BENCH_SESSIONS= BENCH_OUT="$WORK/$mode.wrk.json")
    url="http://127.0.0.1:${PORT[$mode]}/whoami"
    if [[ "$workload" == tools-list ]]; then
      env+=(BENCH_METHOD=POST BENCH_BODY='{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}'
        BENCH_HEADERS=$'Content-Type: application/json\nAccept: application/json, text/event-stream\nMCP-Protocol-Version: '"$PROTOCOL_VERSION"
        BENCH_SESSIONS="$WORK/$mode.sessions")
      url="http://127.0.0.1:${PORT[$mode]}/mcp"
    fi
    before[$mode]="$(cpu_ticks "${PID[$mode]}")"
    env "${env[@]}" taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" --timeout 5s \
      -s "$BENCH_DIR/wrk/request.lua" "$url" >/dev/null &
    wrk_pid[$mode]=$!
  done
  for mode in "${SERVERS[@]}"; do wait "${wrk_pid[$mode]}"; done
  [[ -n "$round" ]] || return 0
  for mode in "${SERVERS[@]}"; do
    python3 - "$WORK/$mode.wrk.json" "$WORK/runs.jsonl" <<EOF
import json, sys
r = json.load(open(sys.argv[1]))
r.update(mode="$mode", workload="$workload", round=$round,
         cpu_us_per_req=($(cpu_ticks "${PID[$mode]}") - ${before[$mode]}) / $CLK_TCK * 1e6 / max(r["requests"], 1))
open(sys.argv[2], "a").write(json.dumps(r) + "\n")
print(f"auth-cost: round $round {r['mode']:<22} {r['workload']:<10} {r['rps']:>9.0f} req/s"
      f"  CPU {r['cpu_us_per_req']:.1f} us/req  non-2xx {r['non2xx']}", file=sys.stderr)
EOF
  done
}

say "$PINNING; ${#SERVERS[@]} wrk -t1 -c$CONNECTIONS -d${DURATION}s at once; $ROUNDS rounds"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for workload in tools-list whoami; do round_of "$workload" 2 ""; done
for ((round = 1; round <= ROUNDS; round++)); do
  for workload in tools-list whoami; do round_of "$workload" "$DURATION" "$round"; done
done

mkdir -p "$(dirname "$OUT")"
python3 - "$WORK/runs.jsonl" "$OUT" <<EOF
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
baseline = "$BASELINE"
med = statistics.median
def pick(mode, workload, key):
    return {r["round"]: r[key] for r in runs if r["mode"] == mode and r["workload"] == workload}
def compare(a, b, workload):
    """Per-round CPU µs/req of server b minus server a, and a's / b's (b's throughput relative to a's)."""
    cpu_a = pick(a, workload, "cpu_us_per_req")
    cpu_b = pick(b, workload, "cpu_us_per_req")
    rounds = [k for k in cpu_b if k in cpu_a]
    return [cpu_b[k] - cpu_a[k] for k in rounds], [cpu_a[k] / cpu_b[k] for k in rounds], cpu_a, cpu_b
def spread(values, digits):
    return f"{med(values):.{digits}f} ({min(values):.{digits}f} to {max(values):.{digits}f})"
NAMES = {"tools-list": "MCP tools/list", "whoami": "GET /whoami"}
# (line, without, with, workloads)
LINES = [
    ("token layer, JWT (cached)", "bare", "token-jwt", NAMES),
    ("token layer, introspection (cached)", "bare", "token-introspection", NAMES),
    ("MCP session binding", "token-jwt", "token+sessions", ["tools-list"]),
    ("per-tool scopes (McpScopeLayer)", "token-jwt", "token+scopes", ["tools-list"]),
    ("Origin layer", "bare", "off", NAMES),
    ("everything, JWT (the quickstart as shipped)", "bare", "jwt", NAMES),
    ("everything, introspection", "bare", "introspection", NAMES),
]
servers = f"{len(set(r['mode'] for r in runs))} servers"
out = ["# Auth cost, layer by layer: the same server with and without each layer, side by side", "",
       "- Date (UTC): $START; machine: $CPUS CPUs ($PINNING); load average before: $LOAD_BEFORE.",
       f"- $ROUNDS rounds; in each, the {servers} run at once on the same CPU and are loaded at "
       "once by as many \`wrk -t1 -c$CONNECTIONS -d${DURATION}s\`, so a slowdown of the machine hits "
       "them alike.",
       "- Servers: \`examples/mcp_server\` (release) in the configurations of \`bench/ours.sh\` "
       "(\`--no-auth\`, \`--skip-layer\`, \`--opaque-tokens\`); JWTs are verified with the "
       "library's default verified-token cache, introspection answers are cached; one valid token "
       "per server. tools/list: one MCP session per connection, initialized once. /whoami has the "
       "Origin and token layers only.",
       "- Cost: CPU µs/req of the server with the layer minus the one without, per round, then the "
       "median over rounds (range: the spread). Ratio: CPU without / with, the throughput with the "
       "layer relative to without for the same CPU.", "",
       "Reproduce: \`$COMMAND\`", "",
       "| layer | workload | CPU µs/req without → with (medians) | cost µs/req (median, range) | ratio (median) | req/s without · with (medians) |",
       "|---|---|---|---:|---:|---|"]
for line, a, b, workloads in LINES:
    for workload in workloads:
        costs, ratios, cpu_a, cpu_b = compare(a, b, workload)
        if not costs:
            continue
        out.append(f"| {line} | {NAMES[workload]} | {med(cpu_a.values()):.2f} → {med(cpu_b.values()):.2f} "
                   f"| {spread(costs, 2)} | {med(ratios):.3f} "
                   f"| {med(pick(a, workload, 'rps').values()):,.0f} · {med(pick(b, workload, 'rps').values()):,.0f} |")
errors = sum(r["non2xx"] for r in runs)
out += ["", f"Non-2xx responses in all runs: {errors}."]
if baseline:
    out += ["", "## Before and after", "",
            f"Baseline \`{baseline}\`, the quickstart as shipped, loaded in the same rounds; each build's "
            "ratio is against its own \`--no-auth\` server (which keeps the Origin layer).", "",
            "| workload | auth | ratio, baseline | ratio, this build | auth cost µs/req, baseline → this build |",
            "|---|---|---:|---:|---|"]
    for workload, name in NAMES.items():
        for mode in ["jwt", "introspection"]:
            before_costs, before, _, _ = compare("baseline-off", "baseline-" + mode, workload)
            after_costs, after, _, _ = compare("off", mode, workload)
            out.append(f"| {name} | {mode} | {spread(before, 3)} | {spread(after, 3)} "
                       f"| {med(before_costs):.2f} → {med(after_costs):.2f} |")
summary = len(out)
out += ["", "## Every run", "", "| round | workload | server | req/s | p50 ms | p99 ms | CPU µs/req | non-2xx |",
        "|---:|---|---|---:|---:|---:|---:|---:|"]
for r in runs:
    out.append(f"| {r['round']} | {r['workload']} | {r['mode']} | {r['rps']:,.0f} | {r['p50_us'] / 1000:.2f} "
               f"| {r['p99_us'] / 1000:.2f} | {r['cpu_us_per_req']:.1f} | {r['non2xx']} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out[:summary]))
sys.exit(0 if sum(r["non2xx"] for r in runs) == 0 else 1)
EOF
say "wrote $OUT"

#!/usr/bin/env bash
# End-to-end HTTP benchmark: our examples/mcp_server against the official Python and TypeScript
# MCP SDKs, side by side in one run, on loopback only. Run on demand, not in CI.
#
#   bench/run.sh [--duration S] [--warmup S] [--connections N] [--scaling "1 2 4 16 64"]
#                [--targets ours,python,ts] [--flood-tokens N] [--no-scaling] [--no-flood]
#                [--out DIR]
#
# What it does, in order (everything it starts is stopped on exit, by pid):
#   1. installs wrk (apt), the Python peer (bench/.venv, pinned requirements) and the TS peer
#      (npm ci, pinned lock) idempotently; builds our example in release;
#   2. for each token format (jwt, opaque) starts the authorization server (Node oidc-provider,
#      tests/interop/oidc/server.mjs) and, one after the other on the same port, each target;
#   3. per target: gets a token by client_credentials, initializes one MCP session per wrk
#      connection when the target keeps sessions (tools/list requests carry those Mcp-Session-Ids
#      in turn, so no session is a shared bottleneck), checks each workload's status once with curl, then runs wrk with the same -t/-c/-d for every
#      target (after a warm-up run), and samples the server's RSS from /proc;
#   4. our server only: throughput vs connections, and RSS before/after floods of distinct
#      invalid tokens and of distinct valid opaque tokens (2 x --flood-tokens, in two halves);
#   5. writes bench/results/{results.json,RESULTS.md,chart.svg} (bench/report.py), or into --out.
#
# CPU placement: the last CPU runs the server under test; the others run wrk and the
# authorization server (`taskset`). On a 2-core machine: wrk + AS on CPU 0, server on CPU 1.
#
# Environment: BENCH_AS_ROOT   a checkout that holds scripts/setup-node.sh and
#                              tests/interop/oidc/ (default: this repository).
#              BENCH_OURS_BIN our server binary (default: the release build of
#                              examples/mcp_server, built by this script), e.g. to compare a patch.
#              BENCH_NOTE     a sentence added to RESULTS.md (what this run changes).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
AS_ROOT="${BENCH_AS_ROOT:-$ROOT}"
OURS_BIN="${BENCH_OURS_BIN:-$ROOT/target/release/examples/mcp_server}"
RESULTS="$BENCH_DIR/results"

DURATION=10
WARMUP=2
CONNECTIONS=16
SCALING="1 2 4 16 64"
TARGETS="ours,python,ts"
FLOOD_TOKENS=12000
DO_SCALING=1
DO_FLOOD=1
PROTOCOL_VERSION="2025-11-25"
SCOPES="mcp:read mcp:write"
COMMAND="bench/run.sh $*"
if [[ -n "${BENCH_OURS_BIN:-}" ]]; then COMMAND="BENCH_OURS_BIN=$BENCH_OURS_BIN $COMMAND"; fi
if [[ -n "${BENCH_AS_ROOT:-}" ]]; then COMMAND="BENCH_AS_ROOT=$BENCH_AS_ROOT $COMMAND"; fi

usage() { sed -n '2,/^[^#]/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --scaling) SCALING="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    --flood-tokens) FLOOD_TOKENS="$2"; shift 2 ;;
    --no-scaling) DO_SCALING=0; shift ;;
    --no-flood) DO_FLOOD=0; shift ;;
    --out) RESULTS="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

for n in "$DURATION" "$WARMUP" "$CONNECTIONS" "$FLOOD_TOKENS" $SCALING; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { echo "run.sh: not a positive integer: $n" >&2; exit 2; }
done
RAW="$RESULTS/raw"
((DURATION <= 60)) || { echo "run.sh: --duration is at most 60 s (the whole run stays bounded)" >&2; exit 2; }

say() { echo "bench: $*" >&2; }
has_target() { [[ ",$TARGETS," == *",$1,"* ]]; }

# --- processes we start, stopped by pid on exit --------------------------------------------
# shellcheck source=bench/procs.sh
source "$BENCH_DIR/procs.sh"

# --- CPUs ------------------------------------------------------------------------------------
NCPU="$(nproc)"
if ((NCPU >= 2)); then
  SERVER_CPUS="$((NCPU - 1))"
  LOAD_CPUS="0-$((NCPU - 2))"
  PINNING="server under test on CPU $SERVER_CPUS; wrk and the authorization server on CPU $LOAD_CPUS (taskset)"
else
  SERVER_CPUS=0
  LOAD_CPUS=0
  PINNING="one CPU: wrk, the authorization server and the server under test share it"
fi
WRK_THREADS=$(( NCPU >= 2 ? NCPU - 1 : 1 ))

# --- installs (idempotent) -------------------------------------------------------------------
install_all() {
  if ! command -v wrk >/dev/null; then
    say "installing wrk with apt-get"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2 \
      || { say "SKIPPED: cannot install wrk (Debian registry unreachable?)"; exit 3; }
  fi
  command -v taskset >/dev/null || { say "taskset (util-linux) is required"; exit 2; }

  local rc=0
  "$AS_ROOT/scripts/setup-node.sh" || rc=$?
  if ((rc == 3)); then say "SKIPPED: the npm registry cannot be reached (authorization server)"; exit 3; fi
  ((rc == 0)) || { say "scripts/setup-node.sh failed ($rc)"; exit "$rc"; }

  # The venv also runs bench/mint_tokens.py for the flood of valid opaque tokens.
  if has_target python || has_target ours; then
    local want stamp="$BENCH_DIR/.venv/.requirements.sha256"
    want="$(sha256sum "$BENCH_DIR/peers/python/requirements.txt" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
      say "installing the Python peer into bench/.venv"
      python3 -m venv "$BENCH_DIR/.venv"
      "$BENCH_DIR/.venv/bin/pip" install -q -r "$BENCH_DIR/peers/python/requirements.txt" >&2 \
        || { say "SKIPPED: pip install failed (PyPI unreachable?)"; exit 3; }
      echo "$want" >"$stamp"
    fi
  fi

  if has_target ts; then
    local want stamp="$BENCH_DIR/peers/ts/node_modules/.bench-lock.sha256"
    want="$(sha256sum "$BENCH_DIR/peers/ts/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
      say "npm ci in bench/peers/ts"
      (cd "$BENCH_DIR/peers/ts" && npm ci --no-audit --no-fund --loglevel=error >&2) \
        || { say "SKIPPED: npm ci failed (npm registry unreachable?)"; exit 3; }
      echo "$want" >"$stamp"
    fi
  fi

  if has_target ours && [[ -z "${BENCH_OURS_BIN:-}" ]]; then
    say "building examples/mcp_server (release)"
    (cd "$ROOT" && cargo build --release --quiet --example mcp_server >&2)
  fi
}

# --- helpers -----------------------------------------------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
AUDIENCE="$BASE/mcp"
AS_PID=""
declare -A AS

json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

start_as() { # token format
  local format="$1" line="" i
  mkfifo "$WORK/as-$format.stdin"
  exec 8<>"$WORK/as-$format.stdin"
  RESOURCE="$AUDIENCE" TOKEN_FORMAT="$format" SCOPES="$SCOPES" PORT=0 \
    taskset -c "$LOAD_CPUS" node "$AS_ROOT/tests/interop/oidc/server.mjs" \
    <"$WORK/as-$format.stdin" >"$WORK/as-$format.out" 2>"$RAW/as-$format.log" &
  AS_PID=$!
  PIDS+=("$AS_PID")
  for ((i = 0; i < 600; i++)); do
    line="$(head -n1 "$WORK/as-$format.out" 2>/dev/null || true)"
    [[ -n "$line" ]] && break
    kill -0 "$AS_PID" 2>/dev/null || { say "authorization server exited; see $RAW/as-$format.log"; exit 1; }
    sleep 0.1
  done
  [[ -n "$line" ]] || { say "authorization server not ready after 60 s"; exit 1; }
  for key in issuer token_endpoint introspection_endpoint jwks_uri; do
    AS[$key]="$(json_field "$line" "$key")"
  done
  say "authorization server ($format) at ${AS[issuer]}"
}

stop_as() {
  stop_pid "$AS_PID"
  exec 8<&-
}

token() {
  local body
  body="$(curl -sS --max-time 10 -u mcp-client:mcp-secret -d grant_type=client_credentials \
    --data-urlencode "scope=$SCOPES" --data-urlencode "resource=$AUDIENCE" "${AS[token_endpoint]}")"
  json_field "$body" access_token
}

SERVER_PID=""
start_target() { # target mode  (mode: jwt | introspection | off)
  local target="$1" mode="$2" args=() i code
  args=(--listen "127.0.0.1:$PORT" --issuer "${AS[issuer]}" --audience "$AUDIENCE" --scopes "$SCOPES")
  case "$mode" in
    jwt) args+=(--jwks-uri "${AS[jwks_uri]}") ;;
    introspection) args+=(--introspection-endpoint "${AS[introspection_endpoint]}" --client-id rs-client --client-secret rs-secret) ;;
    off) args+=(--jwks-uri "${AS[jwks_uri]}" --no-auth) ;;
  esac
  local cmd
  case "$target" in
    ours)
      cmd=("$OURS_BIN")
      # Client-credentials tokens introspected without a `sub` can only own an
      # MCP session under the same-owner policy (the Python SDK falls back to
      # client_id too; the TypeScript SDK binds nothing).
      if [[ "$mode" == introspection ]]; then args+=(--session-binding same-owner); fi
      ;;
    python) cmd=("$BENCH_DIR/.venv/bin/python" "$BENCH_DIR/peers/python/server.py") ;;
    ts) cmd=(node "$BENCH_DIR/peers/ts/server.mjs") ;;
  esac
  RUST_LOG=warn taskset -c "$SERVER_CPUS" "${cmd[@]}" "${args[@]}" >"$RAW/$target-$mode.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for ((i = 0; i < 300; i++)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/.well-known/oauth-protected-resource" || true)"
    [[ "$code" != "000" ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { say "$target ($mode) exited; see $RAW/$target-$mode.log"; return 1; }
    sleep 0.1
  done
  say "$target ($mode) not listening after 30 s"
  return 1
}

CLK_TCK="$(getconf CLK_TCK)"
# user + system CPU time of a process and its threads, in clock ticks (the name in field 2 has
# no spaces for our targets)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

MCP_HEADERS=""
SESSION_MODE=""
HDR=()
header_args() { # MCP_HEADERS -> HDR (curl -H arguments)
  local line
  HDR=()
  while IFS= read -r line; do
    if [[ -n "$line" ]]; then HDR+=(-H "$line"); fi
  done <<<"$MCP_HEADERS"
}

mcp_init() { # token count: initialize COUNT sessions; sets MCP_HEADERS, SESSION_MODE, $WORK/sessions
  local tok="$1" count="$2" sid i status=""
  MCP_HEADERS=$'Content-Type: application/json\nAccept: application/json, text/event-stream'
  header_args
  : >"$WORK/sessions"
  for ((i = 0; i < count; i++)); do
    status="$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -D "$WORK/init.headers" -X POST "$AUDIENCE" \
      -H "Authorization: Bearer $tok" "${HDR[@]}" \
      -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$PROTOCOL_VERSION\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}")"
    sid="$(awk 'tolower($1) == "mcp-session-id:" {print $2}' "$WORK/init.headers" | tr -d '\r')"
    [[ -n "$sid" ]] || break
    echo "$sid" >>"$WORK/sessions"
    curl -sS --max-time 10 -o /dev/null -X POST "$AUDIENCE" -H "Authorization: Bearer $tok" "${HDR[@]}" \
      -H "MCP-Protocol-Version: $PROTOCOL_VERSION" -H "Mcp-Session-Id: $sid" \
      -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  done
  MCP_HEADERS+=$'\nMCP-Protocol-Version: '"$PROTOCOL_VERSION"
  header_args
  if [[ -s "$WORK/sessions" ]]; then
    SESSION_MODE="$count sessions initialized once, requests spread over them"
    HDR+=(-H "Mcp-Session-Id: $(head -n1 "$WORK/sessions")")
  elif [[ "$status" == 200 ]]; then
    SESSION_MODE="stateless (no session id returned)"
  else
    SESSION_MODE="initialize refused (HTTP $status), so no session"
    say "WARNING: initialize answered $status; see the server log in $RAW"
  fi
}

TOOLS_LIST='{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}'

# A token in the shape the target expects but not issued by the AS: a JWT with its signature
# replaced (costs a signature check), or random base64url for opaque tokens.
forged_prefix() { # valid token -> prefix for BENCH_FORGE
  if [[ "$1" == *.*.* ]]; then echo "${1%.*}."; else echo ""; fi
}
forged_len() {
  local sig="${1##*.}"
  if [[ "$1" == *.*.* ]]; then echo "${#sig}"; else echo 43; fi
}

# curl the request a workload sends, once; prints the status code
probe() { # workload token
  local workload="$1" tok="$2" auth=()
  case "$workload" in
    tools-list)
      curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$AUDIENCE" \
        -H "Authorization: Bearer $tok" "${HDR[@]}" -d "$TOOLS_LIST" ;;
    whoami) curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/whoami" -H "Authorization: Bearer $tok" ;;
    whoami-no-token) curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/whoami" ;;
    whoami-garbage)
      local garbage
      garbage="$(python3 -c '
import base64, os, sys
token = sys.argv[1]
if token.count(".") == 2:  # same header and claims, random signature of the same size
    head, _, sig = token.rpartition(".")
    size = len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    print(head + "." + base64.urlsafe_b64encode(bytes([os.urandom(1)[0] & 0x7F]) + os.urandom(size - 1)).rstrip(b"=").decode())
else:
    print(base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode())
' "$tok")"
      curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/whoami" -H "Authorization: Bearer $garbage" ;;
  esac
}

# run wrk for one workload; appends one JSON record to results.jsonl
wrk_run() { # target mode workload token connections [label]
  local target="$1" mode="$2" workload="$3" tok="$4" conns="$5" label="${6:-matrix}"
  local threads=$((WRK_THREADS < conns ? WRK_THREADS : conns))
  local out="$RAW/$label-$target-$mode-$workload-c$conns.json" status expected
  local env=(BENCH_METHOD=GET BENCH_TOKEN="$tok" BENCH_HEADERS= BENCH_BODY= BENCH_FORGE= BENCH_TOKENS= BENCH_SESSIONS=)
  local url="$BASE/whoami"
  case "$workload" in
    tools-list)
      env+=(BENCH_METHOD=POST BENCH_BODY="$TOOLS_LIST" BENCH_HEADERS="$MCP_HEADERS" BENCH_SESSIONS="$WORK/sessions")
      url="$AUDIENCE" ;;
    whoami-no-token) env+=(BENCH_TOKEN=) ;;
    whoami-garbage | flood-invalid) env+=(BENCH_TOKEN= BENCH_FORGE="$(forged_prefix "$tok"):$(forged_len "$tok")") ;;
    flood-valid-*) env+=(BENCH_TOKEN= BENCH_TOKENS="$WORK/$workload") ;;
  esac
  case "$workload" in
    tools-list | whoami | flood-valid-*) expected=200 ;;
    *) expected=401 ;;
  esac
  case "$workload" in
    flood-*) status="$expected" ;;
    *) status="$(probe "$workload" "$tok")" ;;
  esac
  [[ "$status" == "$expected" ]] || say "WARNING: $target ($mode) $workload answered $status, expected $expected"
  if ((WARMUP > 0)) && [[ "$label" != flood ]]; then
    env "${env[@]}" BENCH_OUT="$WORK/warmup.json" taskset -c "$LOAD_CPUS" \
      wrk -t"$threads" -c"$conns" -d"${WARMUP}s" --timeout 5s -s "$BENCH_DIR/wrk/request.lua" "$url" >/dev/null
  fi
  local rss_before ticks_before ticks_after
  rss_before="$(rss_kib "$SERVER_PID")"
  ticks_before="$(cpu_ticks "$SERVER_PID")"
  env "${env[@]}" BENCH_OUT="$out" taskset -c "$LOAD_CPUS" \
    wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 5s -s "$BENCH_DIR/wrk/request.lua" "$url" \
    >"${out%.json}.txt"
  ticks_after="$(cpu_ticks "$SERVER_PID")"
  python3 - "$out" "$RESULTS/results.jsonl" <<EOF
import json, sys
record = json.load(open(sys.argv[1]))
record.update(label="$label", target="$target", mode="$mode", workload="$workload",
              connections=$conns, threads=$threads, duration_s=$DURATION,
              probe_status=int("$status" or 0), expected_status=$expected,
              session="$([[ $workload == tools-list ]] && echo "$SESSION_MODE")",
              rss_before_kib=int("$rss_before"), rss_kib=int("$(rss_kib "$SERVER_PID")"),
              hwm_kib=int("$(hwm_kib "$SERVER_PID")"),
              cpu_s=($ticks_after - $ticks_before) / $CLK_TCK)
record["cpu_us_per_req"] = record["cpu_s"] * 1e6 / max(record["requests"], 1)
open(sys.argv[2], "a").write(json.dumps(record) + "\n")
print(f"bench: {record['target']:<6} {record['mode']:<13} {record['workload']:<16} c={$conns:<3}"
      f" {record['rps']:>9.0f} req/s  p50 {record['p50_us'] / 1000:.2f} ms"
      f"  p99 {record['p99_us'] / 1000:.2f} ms  CPU {record['cpu_us_per_req']:.0f} us/req"
      f"  non-2xx {record['non2xx']}", file=sys.stderr)
EOF
}

bench_target() { # target mode workloads...
  local target="$1" mode="$2" tok w
  shift 2
  start_target "$target" "$mode" || { say "SKIPPED: $target ($mode) did not start"; stop_pid "$SERVER_PID"; return 0; }
  tok="$(token)"
  mcp_init "$tok" "$SESSIONS"
  for w in "$@"; do wrk_run "$target" "$mode" "$w" "$tok" "$CONNECTIONS"; done
  if [[ "$target" == ours && "$mode" == jwt ]] && ((DO_SCALING)); then
    local c
    for c in $SCALING; do wrk_run ours jwt whoami "$tok" "$c" scaling; done
    for c in $SCALING; do wrk_run ours jwt tools-list "$tok" "$c" scaling; done
  fi
  if [[ "$target" == ours ]] && ((DO_FLOOD)) && [[ "$mode" != off ]]; then
    wrk_run ours "$mode" flood-invalid "$tok" "$CONNECTIONS" flood
    if [[ "$mode" == introspection ]]; then
      # Two floods of FLOOD_TOKENS distinct valid tokens each, one after the other: with more
      # tokens than the cache holds, RSS after the second shows whether it is bounded.
      say "minting $((2 * FLOOD_TOKENS)) distinct opaque tokens"
      "$BENCH_DIR/.venv/bin/python" "$BENCH_DIR/mint_tokens.py" "${AS[token_endpoint]}" "$AUDIENCE" "$SCOPES" \
        "$((2 * FLOOD_TOKENS))" >"$WORK/flood-tokens"
      head -n "$FLOOD_TOKENS" "$WORK/flood-tokens" >"$WORK/flood-valid-1"
      tail -n "+$((FLOOD_TOKENS + 1))" "$WORK/flood-tokens" >"$WORK/flood-valid-2"
      wrk_run ours "$mode" flood-valid-1 "$tok" "$CONNECTIONS" flood
      wrk_run ours "$mode" flood-valid-2 "$tok" "$CONNECTIONS" flood
    fi
  fi
  stop_pid "$SERVER_PID"
}

# --- the run -------------------------------------------------------------------------------------
mkdir -p "$RAW"
install_all
: >"$RESULTS/results.jsonl"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "port $PORT; $PINNING; wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s (+${WARMUP}s warm-up)"

SESSIONS="$CONNECTIONS"
if ((DO_SCALING)); then
  for c in $SCALING; do
    if ((c > SESSIONS)); then SESSIONS="$c"; fi
  done
fi
WORKLOADS=(tools-list whoami whoami-no-token whoami-garbage)
for format in jwt opaque; do
  mode=jwt
  if [[ "$format" == opaque ]]; then mode=introspection; fi
  start_as "$format"
  for target in ours python ts; do
    if has_target "$target"; then bench_target "$target" "$mode" "${WORKLOADS[@]}"; fi
  done
  if [[ "$format" == opaque ]] && has_target ours; then
    bench_target ours off tools-list whoami
  fi
  stop_as
done

python3 "$BENCH_DIR/report.py" "$RESULTS/results.jsonl" "$RESULTS" \
  --command "$COMMAND" --start "$START" --pinning "$PINNING" \
  --load "$LOAD_BEFORE -> $(cut -d' ' -f1-3 /proc/loadavg)" --cpus "$NCPU" \
  --cpu-model "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
  --flood-tokens "$FLOOD_TOKENS" --wrk "$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)" \
  --node "Node $(node --version)" --python "$("$BENCH_DIR/.venv/bin/python" --version 2>&1)" \
  --note "${BENCH_NOTE:-}"
rm -f "$RESULTS/results.jsonl"
say "wrote $RESULTS/RESULTS.md, results.json and chart.svg"

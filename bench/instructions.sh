#!/usr/bin/env bash
# What authentication costs our server in instructions: a deterministic complement to the
# wall-clock benchmarks, which a shared machine makes noisy. Each server (the quickstart with
# auth off, with JWT and verified-token cache, with introspection and its cache) runs under
# valgrind's callgrind with instrumentation off; after a warm-up, instrumentation is turned on
# for N requests sent one after the other on one keep-alive connection, and the user-space
# instructions executed are divided by N. Run on demand, not in CI.
#
#   bench/instructions.sh [--requests N] [--out FILE] [--modes LIST] [--workloads LIST]
#
# --modes: the servers (bench/ours.sh `ours_args`, comma separated; default off,jwt,introspection),
# each compared with the first; --workloads: tools-list, whoami (default both). For example
# `--modes bare,token-jwt --workloads whoami` for the token layer alone.
#
# Workloads: MCP tools/list (one initialized session) and GET /whoami, with a valid cached token.
# Kernel time (the network stack) is not counted, so the ratios overstate the relative cost of
# auth. valgrind hides the CPU's SHA extensions: aws-lc then hashes with AVX, so the SHA-256
# of the token (the cache key) costs several times what it costs natively; the table shows the
# instructions without it too.
#
# Environment: BENCH_OURS_BIN  our server binary (default: the release build of
#                               examples/mcp_server, built by this script).
set -euo pipefail

NAME=instructions
source "$(dirname "${BASH_SOURCE[0]}")/ours.sh"
REQUESTS=2000
OUT="$BENCH_DIR/results/INSTRUCTIONS.md"
MODES=(off jwt introspection)
WORKLOADS=(tools-list whoami)
COMMAND="bench/instructions.sh $*"

usage() { sed -n '2,/^[^#]/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --modes) IFS=, read -r -a MODES <<<"$2"; shift 2 ;;
    --workloads) IFS=, read -r -a WORKLOADS <<<"$2"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "instructions.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
((REQUESTS >= 100 && REQUESTS <= 100000)) || { echo "instructions.sh: --requests is 100 to 100000" >&2; exit 2; }
((${#MODES[@]} >= 2)) || { echo "instructions.sh: --modes needs two servers or more" >&2; exit 2; }
for mode in "${MODES[@]}"; do ours_args "$mode" 0 >/dev/null; done
for workload in "${WORKLOADS[@]}"; do
  [[ "$workload" == tools-list || "$workload" == whoami ]] || { echo "instructions.sh: unknown workload $workload" >&2; exit 2; }
done

need valgrind valgrind
build_ours

# N requests of one workload on one keep-alive connection; exits non-zero on any non-200.
cat >"$WORK/client.py" <<'EOF'
import http.client, sys
port, workload, n, token, session = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": "Bearer " + token}
if workload == "tools-list":
    headers.update({"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": sys.argv[6], "Mcp-Session-Id": session})
body = '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}'
for _ in range(n):
    if workload == "tools-list":
        conn.request("POST", "/mcp", body=body, headers=headers)
    else:
        conn.request("GET", "/whoami", headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"{workload}: HTTP {response.status}")
EOF

: >"$WORK/results.jsonl"
measure() { # mode workload
  local mode="$1" workload="$2" port log out token sid pid
  port="$(free_port)"
  log="$WORK/$mode-$workload.log"
  out="$WORK/$mode-$workload.callgrind"
  # shellcheck disable=SC2046 # ours_args prints separate words
  RUST_LOG=warn valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
    "$OURS_BIN" $(ours_args "$mode" "$port") >"$log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  token="$(ready_token "$log" "$pid" "$mode")"
  sid="$(open_session "http://127.0.0.1:$port/mcp" "$token")"
  python3 "$WORK/client.py" "$port" "$workload" 200 "$token" "$sid" "$PROTOCOL_VERSION"
  callgrind_control --instr=on "$pid" >/dev/null
  python3 "$WORK/client.py" "$port" "$workload" "$REQUESTS" "$token" "$sid" "$PROTOCOL_VERSION"
  callgrind_control --instr=off "$pid" >/dev/null
  callgrind_control --dump "$pid" >/dev/null
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  python3 - "$out.1" "$WORK/results.jsonl" "$mode" "$workload" "$REQUESTS" <<'EOF'
import json, re, subprocess, sys
path, results, mode, workload, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
total = int(next(l for l in open(path) if l.startswith("totals:")).split()[1])
listing = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
sha = 0
for line in listing.splitlines():
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*:aws_lc_[0-9_]+SHA256 ", line)
    if m:
        sha = max(sha, int(m.group(1).replace(",", "")))
record = dict(mode=mode, workload=workload, ir_per_req=total / n, sha_per_req=sha / n)
open(results, "a").write(json.dumps(record) + "\n")
print(f"instructions: {mode:<20} {workload:<10} {total / n:>9,.0f} Ir/req (SHA-256 {sha / n:,.0f})", file=sys.stderr)
EOF
}

say "$REQUESTS requests per server and workload under callgrind (slow: about a minute each)"
DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for workload in "${WORKLOADS[@]}"; do
  for mode in "${MODES[@]}"; do measure "$mode" "$workload"; done
done

mkdir -p "$(dirname "$OUT")"
python3 - "$WORK/results.jsonl" "$OUT" <<EOF
import json, sys
rows = {(r["mode"], r["workload"]): r for r in map(json.loads, open(sys.argv[1]))}
out = ["# Auth cost in instructions (callgrind)", "",
       "- Date (UTC): $DATE; $REQUESTS requests per server and workload on one keep-alive connection, "
       "after 200 warm-up requests; user-space instructions only (valgrind $(valgrind --version | sed 's/valgrind-//')).",
       "- Servers: \`examples/mcp_server\` (release) in the configurations of \`bench/ours.sh\`: "
       "$(IFS=,; echo "${MODES[*]}") (off: \`--no-auth\`; jwt: verified-token cache; introspection: "
       "cached; bare, token-*: \`--skip-layer\`), each compared with the first. tools/list on one "
       "initialized session.",
       "- SHA-256: what hashing the token and the session id costs here; valgrind hides the CPU's SHA "
       "extensions, so it is several times the native cost. Ratio = first / this one.", "",
       "Reproduce: \`$COMMAND\`", "",
       "| workload | server | Ir/req $(echo "${MODES[0]}") → this one | Ir/req added | ratio | added without SHA-256 | ratio without SHA-256 |",
       "|---|---|---|---:|---:|---:|---:|"]
modes = "$(IFS=,; echo "${MODES[*]}")".split(",")
for workload, name in [("tools-list", "MCP tools/list"), ("whoami", "GET /whoami")]:
    if (modes[0], workload) not in rows:
        continue
    base = rows[(modes[0], workload)]
    for mode in modes[1:]:
        r = rows[(mode, workload)]
        a, b = base["ir_per_req"], r["ir_per_req"]
        a2, b2 = a - base["sha_per_req"], b - r["sha_per_req"]
        out.append(f"| {name} | {mode} | {a:,.0f} → {b:,.0f} | {b - a:,.0f} | {a / b:.3f} | {b2 - a2:,.0f} | {a2 / b2:.3f} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
say "wrote $OUT"

# Shared by bench/auth-cost.sh and bench/instructions.sh (sourced, not run): our quickstart with
# its embedded development issuer, started in one of three modes, and the MCP session set-up.
# The caller sets NAME (the prefix of its messages) and may set BENCH_OURS_BIN.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
OURS_BIN="${BENCH_OURS_BIN:-$ROOT/target/release/examples/mcp_server}"
PROTOCOL_VERSION="2025-11-25"

say() { echo "$NAME: $*" >&2; }

# Everything started is stopped on exit, and the scratch directory removed.
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Installs a Debian package when its command is missing; exit 3 when the registry is unreachable.
need() { # command package
  command -v "$1" >/dev/null && return 0
  say "installing $2 with apt-get"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2 \
    || { say "SKIPPED: cannot install $2 (Debian registry unreachable?)"; exit 3; }
}

build_ours() {
  [[ -z "${BENCH_OURS_BIN:-}" ]] || return 0
  say "building examples/mcp_server (release)"
  (cd "$ROOT" && cargo build --release --quiet --example mcp_server >&2)
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The quickstart's arguments for a mode: off (--no-auth), jwt, introspection (opaque tokens): the
# quickstart as shipped; bare (--no-auth, no Origin layer either); token-jwt, token-introspection
# (the token layer alone: no Origin, session or scope layer); token+sessions, token+scopes (the
# token layer and one MCP layer).
ours_args() { # mode port
  local args=(--listen "127.0.0.1:$2")
  case "$1" in
    off) args+=(--no-auth) ;;
    jwt) ;;
    introspection) args+=(--opaque-tokens) ;;
    bare) args+=(--no-auth --skip-layer origin) ;;
    token-jwt) args+=(--skip-layer origin,session-binding,tool-scopes) ;;
    token-introspection) args+=(--opaque-tokens --skip-layer origin,session-binding,tool-scopes) ;;
    token+sessions) args+=(--skip-layer origin,tool-scopes) ;;
    token+scopes) args+=(--skip-layer origin,session-binding) ;;
    *) say "unknown mode $1"; exit 2 ;;
  esac
  echo "${args[@]}"
}

# Waits (up to 120 s) for the quickstart's "ready" line in its output.
wait_ready() { # output-file pid mode
  local i
  for ((i = 0; i < 1200; i++)); do
    grep -q '^ready' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { say "$3 server exited:"; cat "$1" >&2; exit 1; }
    sleep 0.1
  done
  say "$3 server not ready after 120 s"
  exit 1
}

# Waits for the quickstart's "ready" line in its output; prints the token it printed.
ready_token() { # output-file pid mode
  local token
  wait_ready "$@"
  token="$(sed -n 's/^export TB_TOKEN=//p' "$1")"
  [[ -n "$token" ]] || { say "$3 server printed no token"; exit 1; }
  echo "$token"
}

# Initializes one MCP session (initialize, then notifications/initialized); prints its id.
open_session() { # mcp-url token
  local sid
  sid="$(curl -sS --max-time 30 -D - -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$PROTOCOL_VERSION\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}" \
    | awk 'tolower($1) == "mcp-session-id:" {print $2}' | tr -d '\r')"
  [[ -n "$sid" ]] || { say "initialize at $1 returned no session"; exit 1; }
  curl -sS --max-time 30 -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H "MCP-Protocol-Version: $PROTOCOL_VERSION" -H "Mcp-Session-Id: $sid" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid"
}

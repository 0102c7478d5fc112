# Sourced by bench/run.sh and bench/rust-peers.sh (not run): the processes a benchmark
# starts, in PIDS, stopped by pid on exit; WORK, a scratch directory removed on exit.

PIDS=()
WORK="$(mktemp -d)"
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() { # SIGTERM, then SIGKILL after 5 s
  local pid="$1" kept=() p i
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

#!/usr/bin/env bash
# The soak under faults (not in CI): the quickstart with --redis and introspection under mixed
# load for 10 minutes (--duration SECS), the authorization server failing and recovering every
# 30 s, redis-server restarted once; writes bench/results/SOAK.md and bench/results/soak.svg.
# Fails when a replayed DPoP proof or a token that could not be verified was accepted.
#
#   bench/soak.sh                       # 10 minutes, release builds
#   bench/soak.sh --duration 180 --debug  # shorter, debug builds (labelled so in SOAK.md)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=600
profile=release
workers=8
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done

scripts/setup-redis.sh
flags=()
[[ $profile == release ]] && flags=(--release)
cargo build --quiet "${flags[@]}" --workspace --all-features --example mcp_server
cargo build --quiet "${flags[@]}" -p tower-bearer-benches --example soak
label="$profile build, $(nproc) CPUs, $(git rev-parse --short HEAD)"
"target/$profile/examples/soak" \
  --quickstart "target/$profile/examples/mcp_server" \
  --duration "$duration" \
  --workers "$workers" \
  --label "$label" \
  --out bench/results

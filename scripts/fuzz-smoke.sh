#!/usr/bin/env bash
# Fuzz smoke run of the token verification path (fuzz/fuzz_targets/verify_token.rs).
#
# Installs cargo-fuzz if it is missing, then runs the `verify_token` target for
# FUZZ_SECONDS (default 60) seconds. cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address, sancov passes) to rustc; to work with the stable toolchain
# this script sets RUSTC_BOOTSTRAP=1, which lets stable rustc accept them.
# Not run by CI. Crashes land in fuzz/artifacts/verify_token/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
# Tokens over 16 KiB are refused before parsing: a little more covers that edge.
cargo fuzz run verify_token --fuzz-dir fuzz -- \
    -max_total_time="$seconds" -max_len=17000 -timeout=10

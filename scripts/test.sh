#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, docs, unit, doc and
# integration tests (interop tests install their own Node/Python tools first).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, -D warnings)"
cargo clippy --all-targets --all-features -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet

step "cargo test (all features)"
cargo test --all-features

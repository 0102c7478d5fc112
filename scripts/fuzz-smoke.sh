#!/usr/bin/env bash
# Fuzz smoke run of the parsers of outside input (fuzz/fuzz_targets/):
#   verify_token  bearer extraction, JWS pre-parsing, header checks, signatures;
#   jwk_set       JWK Set parsing (strict, per entry) and the key policy;
#   sealed_state  StateSealer::open on arbitrary strings, seal/open round trips;
#   jwt_claims    the JWT claims reader and checks, both profiles;
#   introspection_answer  RFC 7662 answers: strict reader, response rules;
#   discovery_document    RFC 8414 / OIDC metadata documents;
#   mcp_body_scopes       the MCP JSON-RPC body scope reader;
#   jwt_differential      the JWT verifier against jsonwebtoken::decode: every
#                         disagreement must fall in a documented category.
#
# Installs cargo-fuzz if it is missing, then runs each target (or only those named
# as arguments) for FUZZ_SECONDS (default 60) seconds. cargo-fuzz passes
# nightly-only flags (-Zsanitizer=address, sancov passes) to rustc; to work with
# the stable toolchain this script sets RUSTC_BOOTSTRAP=1, which lets stable rustc
# accept them. Not run by CI. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(verify_token jwk_set sealed_state jwt_claims introspection_answer discovery_document mcp_body_scopes jwt_differential)
for target in "${targets[@]}"; do
    echo "==> $target (${seconds}s)"
    # Tokens over 16 KiB are refused before parsing: a little more covers that edge.
    dict=()
    [[ -f "fuzz/$target.dict" ]] && dict=(-dict="fuzz/$target.dict")
    cargo fuzz run "$target" --fuzz-dir fuzz -- \
        -max_total_time="$seconds" -max_len=17000 -timeout=10 "${dict[@]}"
done

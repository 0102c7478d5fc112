#!/usr/bin/env bash
# Prints the ratios of benches/benches/jwt.rs after `cargo bench --bench jwt`:
# jwt_verifier, verify_jws and jsonwebtoken_decode over raw_aws_lc_rs per
# algorithm (DESIGN §6 target: jwt_verifier ≤ 1.1 × raw), and the cache hit time,
# from the medians.
set -euo pipefail
dir="${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/criterion"

# Medians: on a shared machine they resist the outliers other jobs cause.
median_ns() { # criterion estimates.json -> median point estimate in ns
    sed -E 's/.*"median":\{"confidence_interval":\{[^}]*\},"point_estimate":([0-9.e+-]+).*/\1/' "$1"
}

for alg in RS256 PS256 ES256 EdDSA; do
    g="$dir/jwt_$alg"
    [ -f "$g/raw_aws_lc_rs/new/estimates.json" ] || { echo "$alg: no results (run cargo bench --bench jwt)"; continue; }
    raw=$(median_ns "$g/raw_aws_lc_rs/new/estimates.json")
    ours=$(median_ns "$g/jwt_verifier/new/estimates.json")
    jws=$(median_ns "$g/verify_jws/new/estimates.json")
    jwt=$(median_ns "$g/jsonwebtoken_decode/new/estimates.json")
    awk -v a="$alg" -v r="$raw" -v o="$ours" -v s="$jws" -v j="$jwt" 'BEGIN {
        printf "%-6s raw %6.2f us | verifier %6.2f us %.3fx | verify_jws %6.2f us %.3fx | jsonwebtoken %6.2f us %.3fx\n",
               a, r/1000, o/1000, o/r, s/1000, s/r, j/1000, j/r }'
done
hit="$dir/jwt_cache/verified_token_cache_hit/new/estimates.json"
[ -f "$hit" ] && awk -v h="$(median_ns "$hit")" 'BEGIN { printf "cache hit %.3f us\n", h/1000 }'

#!/usr/bin/env bash
# Prints the ratios of benches/jwt.rs after `cargo bench --bench jwt`:
# jwt_verifier / raw_aws_lc_rs and jsonwebtoken_decode / raw_aws_lc_rs per
# algorithm (DESIGN §6 target: jwt_verifier ≤ 1.1 × raw), and the cache hit time.
set -euo pipefail
dir="${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/criterion"

mean_ns() { # criterion estimates.json -> mean point estimate in ns
    sed -E 's/.*"mean":\{[^}]*\},"point_estimate":([0-9.e+-]+).*/\1/' "$1"
}

for alg in RS256 PS256 ES256 EdDSA; do
    g="$dir/jwt_$alg"
    [ -f "$g/raw_aws_lc_rs/new/estimates.json" ] || { echo "$alg: no results (run cargo bench --bench jwt)"; continue; }
    raw=$(mean_ns "$g/raw_aws_lc_rs/new/estimates.json")
    ours=$(mean_ns "$g/jwt_verifier/new/estimates.json")
    jwt=$(mean_ns "$g/jsonwebtoken_decode/new/estimates.json")
    awk -v a="$alg" -v r="$raw" -v o="$ours" -v j="$jwt" 'BEGIN {
        printf "%-6s raw %7.2f us  verifier %7.2f us (%.3fx)  jsonwebtoken %7.2f us (%.3fx)\n",
               a, r/1000, o/1000, o/r, j/1000, j/r }'
done
hit="$dir/jwt_cache/verified_token_cache_hit/new/estimates.json"
[ -f "$hit" ] && awk -v h="$(mean_ns "$hit")" 'BEGIN { printf "cache hit %.3f us\n", h/1000 }'

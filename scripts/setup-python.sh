#!/usr/bin/env bash
# Installs the Python tools the interop tests need (the official MCP Python SDK)
# into .venv, idempotently. Exit codes: 0 ready, 3 registry unreachable (callers
# skip loudly), anything else is a real failure.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/interop/python/requirements.txt
venv=.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null || exit 3
fi
python3 -m venv "$venv" || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$venv"; }
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"; then
  echo "setup-python: could not install $req (is PyPI reachable?)" >&2
  exit 3
fi
echo "$want" > "$stamp"

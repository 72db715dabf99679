#!/usr/bin/env bash
# Installs what the tests run beside the crate, and does nothing that is already done:
# - the pinned Node packages of tests/interop (panva's oidc-provider, jose and oauth4webapi,
#   the MCP SDK);
# - Debian's redis-server, for the shared DPoP replay store (started by the tests themselves
#   on a free loopback port).
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --prefix tests/interop --no-audit --no-fund

if ! command -v redis-server >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server
fi

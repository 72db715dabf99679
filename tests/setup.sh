#!/usr/bin/env bash
# Installs what the tests run beside the crate, and does nothing that is already done:
# - the pinned Node packages of tests/interop (panva's oidc-provider, jose and oauth4webapi,
#   the MCP SDK), unless they were installed from this very lock file;
# - Debian's redis-server, for the shared DPoP replay store (started by the tests themselves
#   on a free loopback port), unless a redis-server is already on the PATH.
# Quiet when it succeeds; where it cannot install, it says exactly what to install by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  printf 'tests/setup.sh: %s\n' "$*" >&2
  exit 1
}

# Node 20 or newer, with npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  fail "Node.js 20 or newer (with npm) is needed for the interoperability tests: install it from your system's packages or nodejs.org, then run this again."
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old: the interoperability tests need Node.js 20 or newer."

# The Node packages: `npm ci` only when the lock file changed since the last install.
interop=tests/interop
stamp=$interop/node_modules/.installed-lock.sha256
wanted=$(sha256sum "$interop/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  npm ci --prefix "$interop" --no-audit --no-fund --loglevel=error >/dev/null \
    || fail "npm ci in $interop failed (see the messages above)."
  printf '%s\n' "$wanted" >"$stamp"
fi

# redis-server, from Debian's packages when it is missing.
if ! command -v redis-server >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    fail "redis-server is needed for the shared DPoP replay store tests and this is not a Debian-based system: install Redis 6 or newer (e.g. 'brew install redis', 'dnf install redis') so that redis-server is on the PATH, then run this again."
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
      || fail "redis-server is missing and installing it needs root: run 'apt-get install redis-server' as root, then run this again."
    sudo="sudo"
  fi
  log=$(mktemp)
  # The package's service is not started here (the tests start their own servers), so the
  # service manager's complaints about runlevels go to the log with the rest.
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    fail "installing redis-server with apt-get failed (output above)."
  fi
  rm -f "$log"
fi

#!/usr/bin/env bash
# Loopback load test: requests/s of one axum route without auth and with this layer: the same
# token on every request (as one client-credentials client sends it), and a mixed run of 1,000
# clients each with its own token, renewed as it nears expiry. The server runs on one core
# (0), wrk on the other (1); 127.0.0.1 only; 10 s per case. Installs wrk if it is missing.
#
#   bash benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --quiet --release --example bench_server

tokens=$(mktemp)
trap 'rm -f "$tokens"' EXIT
declare -A rps
# plain/auth: one repeated token. mixed-*: 1,000 clients with their own tokens, renewed at 4 s
# (benches/mixed.lua); the plain server is the baseline of the auth server there too.
for mode in ${MODES:-plain auth mixed-plain mixed-auth}; do
  # The server prints "PORT TOKEN" once it listens; read that line, then load it.
  exec 3< <(exec taskset -c 0 target/release/examples/bench_server "${mode#mixed-}" "$tokens")
  server=$!
  read -r -u 3 port token
  case $mode in
    mixed-*) out=$(TOKENS=$tokens taskset -c 1 wrk --latency -t1 -c32 -d10s -s benches/mixed.lua "http://127.0.0.1:$port/usage") ;;
    *) out=$(taskset -c 1 wrk --latency -t1 -c32 -d10s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/usage") ;;
  esac
  kill "$server"
  wait "$server" 2>/dev/null || true
  exec 3<&-
  echo "== $mode"
  echo "$out" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx" || true
  if echo "$out" | grep -q "Non-2xx"; then
    echo "$mode: some responses were not 2xx" >&2
    exit 1
  fi
  rps[$mode]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
done
ratio() { python3 -c "import sys; p, a = map(float, sys.argv[2:]); print(f'{sys.argv[1]}: with auth / without: {a:.0f} / {p:.0f} req/s = {a / p:.2f}x')" "$@"; }
ratio "repeated token" "${rps[plain]}" "${rps[auth]}"
ratio "1,000 clients, renewing" "${rps[mixed-plain]}" "${rps[mixed-auth]}"

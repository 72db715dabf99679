#!/usr/bin/env bash
# Loopback load test: requests/s of one axum route without auth and with this layer: the same
# token on every request (as one client-credentials client sends it), and a mixed run of 1,000
# clients each with its own token, renewed as it nears expiry; and, for scale, the same route
# behind a layer that passes requests through untouched (what `Router::layer` costs alone). The server runs on one core
# (0), wrk on the other (1); 127.0.0.1 only. Installs wrk if it is missing.
#
# On a shared host the throughput of two runs minutes apart differs by more than the layer
# costs, so each pair is measured in ROUNDS rounds (default 4) of back-to-back runs, the one
# going first alternating from round to round; each round gives a ratio, and the median of
# the rounds is the result. A run lasts 5 s (6 s in the mixed pair, whose clients renew at
# 4 s), on a freshly started server.
#
#   bash benches/load.sh      # ROUNDS=…; PAIRS="repeated", "passthrough" or "mixed" to narrow
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --quiet --release --example bench_server

rounds=${ROUNDS:-4}
tokens=$(mktemp)
trap 'rm -f "$tokens"' EXIT

# One run: prints the requests/s of `mode` (plain, auth, passthrough, mixed-plain or mixed-auth).
run() {
  local mode=$1 server port token out
  # The server prints "PORT TOKEN" once it listens; read that line, then load it.
  exec 3< <(exec taskset -c 0 target/release/examples/bench_server "${mode#mixed-}" "$tokens")
  server=$!
  read -r -u 3 port token
  case $mode in
    mixed-*) out=$(TOKENS=$tokens taskset -c 1 wrk -t1 -c32 -d6s -s benches/mixed.lua "http://127.0.0.1:$port/usage") ;;
    *) out=$(taskset -c 1 wrk -t1 -c32 -d5s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/usage") ;;
  esac
  kill "$server"
  wait "$server" 2>/dev/null || true
  exec 3<&-
  if echo "$out" | grep -q "Non-2xx"; then
    echo "$mode: some responses were not 2xx" >&2
    exit 1
  fi
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}

for pair in ${PAIRS:-repeated passthrough mixed}; do
  case $pair in
    repeated) plain=plain auth=auth ;;
    passthrough) plain=plain auth=passthrough ;;
    mixed) plain=mixed-plain auth=mixed-auth ;;
    *) echo "unknown pair $pair (repeated, passthrough, mixed)" >&2; exit 2 ;;
  esac
  ratios=()
  for round in $(seq 1 "$rounds"); do
    if (( round % 2 )); then
      p=$(run "$plain"); a=$(run "$auth")
    else
      a=$(run "$auth"); p=$(run "$plain")
    fi
    r=$(python3 -c "import sys; print(f'{float(sys.argv[2]) / float(sys.argv[1]):.3f}')" "$p" "$a")
    printf '%s round %d: no layer %.0f req/s, %s %.0f req/s, ratio %s\n' "$pair" "$round" "$p" "${auth#mixed-}" "$a" "$r"
    ratios+=("$r")
  done
  python3 -c "
import statistics, sys
r = sorted(map(float, sys.argv[2:]))
print(f'{sys.argv[1]}: with the layer / without, median of {len(r)} rounds: {statistics.median(r):.2f}x (range {r[0]:.2f}-{r[-1]:.2f})')
" "$pair" "${ratios[@]}"
done

#!/usr/bin/env bash
# Loopback requests/s of each peer in front of the same route, with the same RS256 token on
# every request: the server on core 0 (one thread), wrk on core 1, 127.0.0.1 only, 10 s each.
#
#   bash benches/peers/load.sh
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --quiet --release --bin serve
peers=(no_auth tower_jwt_auth tower_jwt_auth_uncached tower_oauth2_resource_server huskarl_axum no_auth_axum07 jwt_authorizer)
declare -A rps
for peer in "${peers[@]}"; do
  exec 3< <(exec taskset -c 0 target/release/serve "$peer")
  server=$!
  read -r -u 3 port token
  out=$(taskset -c 1 wrk --latency -t1 -c32 -d10s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/usage")
  kill "$server"
  wait "$server" 2>/dev/null || true
  exec 3<&-
  if echo "$out" | grep -q "Non-2xx"; then
    echo "$peer: some responses were not 2xx" >&2
    exit 1
  fi
  rps[$peer]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "$peer ${rps[$peer]} $p50 $p99"
done
echo
echo "| peer | requests/s | ÷ no auth (same axum) |"
echo "|---|---|---|"
for peer in "${peers[@]}"; do
  base=no_auth
  [ "$peer" = jwt_authorizer ] || [ "$peer" = no_auth_axum07 ] && base=no_auth_axum07
  python3 -c "import sys; a, b = map(float, sys.argv[2:]); print(f'| {sys.argv[1]} | {a:,.0f} | {a / b:.2f}× |')" "$peer" "${rps[$peer]}" "${rps[$base]}"
done

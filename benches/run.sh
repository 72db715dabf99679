#!/usr/bin/env bash
# The published benchmark procedure: the criterion suite (this crate's benches and the peers'
# workspace) three times, pinned to one core, each run's estimates kept apart; the memory and
# churn measurements; first sight and the router call in interleaved rounds; then the ratio
# tables (each ratio from one run, median of three).
#
#   bash benches/run.sh            # then: bash benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
rm -rf target/criterion-runs
for i in $(seq 1 "$runs"); do
  rm -rf target/criterion
  taskset -c 1 cargo bench --quiet --bench verify --bench router --bench credentials --bench scaling -- --warm-up-time 2 --measurement-time 5 >/dev/null
  (cd benches/peers && rm -rf target/criterion && taskset -c 1 cargo bench --quiet --bench router -- --warm-up-time 2 --measurement-time 5 >/dev/null)
  mkdir -p target/criterion-runs
  mv target/criterion "target/criterion-runs/$i"
  cp -r benches/peers/target/criterion/. "target/criterion-runs/$i/"
done
cargo bench --quiet --bench memory
taskset -c 1 cargo bench --quiet --bench churn
taskset -c 1 cargo bench --quiet --bench first_sight
taskset -c 1 cargo bench --quiet --bench router_rounds
python3 benches/report.py target/criterion-runs/*

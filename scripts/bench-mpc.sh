#!/usr/bin/env bash
# Runs the MPC benchmark matrix of docs/performance.md and prints one JSON line per run.
# Usage: bash scripts/bench-mpc.sh [size]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1000000}
cargo build --release -q -p sharenet-mpc --bin mpc-bench
bench=target/release/mpc-bench
for n in 3 5 7; do
  for randomness in prss hyper; do
    "$bench" --parties "$n" --op mul --size "$size" --randomness "$randomness"
  done
done
for op in dot open share-verify; do
  for n in 3 5 7; do
    "$bench" --parties "$n" --op "$op" --size "$size"
  done
done

#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI (.ci/run) run it.
# Installs what the tests need, then checks formatting, lints, and runs every test once,
# sharing one target/ directory.
set -euo pipefail
cd "$(dirname "$0")/.."

# Contracts: the pinned solc and anvil from contracts/package-lock.json. `npm ci` only
# when node_modules is missing or older than the lock file, so repeated runs stay offline and fast.
echo "== contracts: npm ci (if needed)"
if [ ! -f contracts/node_modules/.package-lock.json ] \
    || [ contracts/package-lock.json -nt contracts/node_modules/.package-lock.json ]; then
    (cd contracts && npm ci --no-audit --no-fund)
fi

echo "== contracts: committed artifacts are up to date"
node contracts/build.mjs --check

echo "== format vectors: committed JSON is what the generator writes"
python3 mpc/tests/vectors/generate_formats.py --check

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

echo "== cargo test"
log=$(mktemp)
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (the last binaries are doc-tests with 0 tests).
passed=$(grep -E '^test result:' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -E '^test result:' "$log" | awk '{s += $6} END {print s + 0}')
rm -f "$log"
echo "tests: $passed passed, $failed failed"
exit "$status"

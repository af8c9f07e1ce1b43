#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI (.ci/run) run it.
# Installs what the tests need, then checks formatting, lints, and runs every test once,
# sharing one target/ directory.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (docs/testing.md, "Fuzzing") for SECONDS each, one after the
# other, and prints the executions of each. Exits non-zero if a target crashed (a panic, an
# overflow, a broken invariant, a timeout or running out of memory), after printing the path of
# the input that did it; the other targets still run.
#
#   scripts/fuzz.sh SECONDS [TARGET...]      e.g. scripts/fuzz.sh 60, scripts/fuzz.sh 300 dht_record
#
# Works on the stable toolchain. By default the targets are built without a sanitizer
# (`cargo fuzz -s none`), which needs no nightly feature: our crates forbid unsafe code, and
# libFuzzer itself catches what a safe decoder can do wrong (panics, arithmetic overflow —
# debug assertions are on —, timeouts, memory blow-ups). FUZZ_SANITIZER=address builds with
# AddressSanitizer instead, for the unsafe code of dependencies: `-Zsanitizer=address` is a
# nightly flag, so the script then sets RUSTC_BOOTSTRAP=1 (stable's sysroot ships the ASan
# runtime) and builds into its own target directory; expect about half the executions.
#
# Needs cargo-fuzz (installed with `cargo install cargo-fuzz --locked` if missing) and a C++
# compiler (libfuzzer-sys compiles libFuzzer with the cc crate); nothing is installed with apt.
# Seeds come from the committed format vectors (fuzz/seed_corpus.py, run first); what the
# fuzzer adds to fuzz/corpus/ and the artifacts in fuzz/artifacts/ stay untracked.
set -uo pipefail

cd "$(dirname "$0")/.."

if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+$ || "$1" -lt 1 ]]; then
    echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift

# A C++ compiler for libFuzzer (the cc crate looks for c++, then g++ and clang++).
if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null && ! command -v clang++ >/dev/null; then
    echo "fuzz.sh: no C++ compiler (c++, g++ or clang++): libfuzzer-sys compiles libFuzzer with one." >&2
    echo "fuzz.sh: install one (e.g. apt-get install g++) and run again; nothing was installed." >&2
    exit 2
fi
if ! command -v python3 >/dev/null; then
    echo "fuzz.sh: python3 is needed to write the seed corpus (fuzz/seed_corpus.py)." >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked || exit 2
fi

sanitizer=${FUZZ_SANITIZER:-none}
build=(-s "$sanitizer" --debug-assertions)
if [[ "$sanitizer" != none ]]; then
    # -Zsanitizer on the stable compiler. Keep a separate target directory: a cargo that once
    # probed the compiler with -Z but without RUSTC_BOOTSTRAP caches the failure there.
    export RUSTC_BOOTSTRAP=1
    build+=(--target-dir "fuzz/target/$sanitizer")
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

python3 fuzz/seed_corpus.py >/dev/null || exit 2

echo "fuzz.sh: building ${#targets[@]} targets (sanitizer: $sanitizer)"
start=$(date +%s)
if ! cargo fuzz build "${build[@]}"; then
    echo "fuzz.sh: the fuzz targets do not build" >&2
    exit 2
fi
echo "fuzz.sh: built in $(($(date +%s) - start)) s"

logs=fuzz/logs
mkdir -p "$logs"
failed=()
summary=()
for target in "${targets[@]}"; do
    log="$logs/$target.log"
    echo "fuzz.sh: $target for $seconds s"
    cargo fuzz run "${build[@]}" "$target" -- \
        -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1
    status=$?
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}')
    corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
    runs=${runs:-0}
    rate=$((runs / (${took:-$seconds} > 0 ? ${took:-$seconds} : 1)))
    if [[ $status -ne 0 ]]; then
        artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | awk '{print $5}')
        failed+=("$target")
        summary+=("$(printf '%-18s %12s execs %9s/s  corpus %5s  CRASH %s (log %s)' \
            "$target" "$runs" "$rate" "$corpus" "${artifact:-?}" "$log")")
    else
        summary+=("$(printf '%-18s %12s execs %9s/s  corpus %5s  ok' "$target" "$runs" "$rate" "$corpus")")
    fi
    echo "${summary[-1]}"
done

# node_config's scratch directories (one per run; see fuzz_targets/node_config.rs).
rm -rf /dev/shm/sharenet-fuzz-config-* "${TMPDIR:-/tmp}"/sharenet-fuzz-config-* 2>/dev/null

echo
echo "fuzz.sh: $seconds s per target, sanitizer $sanitizer, $(nproc) cores"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: crashed: ${failed[*]} (reproduce: cargo fuzz run ${build[*]} TARGET ARTIFACT)" >&2
    exit 1
fi

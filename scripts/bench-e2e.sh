#!/usr/bin/env bash
# End-to-end job latency on a local devnet (anvil + 5 node processes, t = 2), release build:
# submit → result for AVG + VAR_POP over 10^5 rows and LINREG over 10^4 rows x 5 features,
# including the chain (grant check, job submission), the readiness round, the MPC session over
# libp2p, output delivery and the requester's consistency check. Prints one JSON line per query.
# Usage: bash scripts/bench-e2e.sh [avg-rows] [linreg-rows]   (defaults 100000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
avg_rows=${1:-100000}
linreg_rows=${2:-10000}
cargo build --release -q -p sharenet-cli --bin sharenet
bin=$PWD/target/release/sharenet
work=$(mktemp -d)
dir=$work/devnet
trap '"$bin" devnet down --dir "$dir" --purge >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

python3 - "$work" "$avg_rows" "$linreg_rows" <<'PY'
import random, sys
work, avg_rows, lin_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(7)
cols = ["x1", "x2", "x3", "x4", "x5", "y"]
with open(f"{work}/schema.json", "w") as f:
    f.write('{"columns":[' + ",".join(
        f'{{"name":"{c}","type":"fixed","scale":2}}' for c in cols) + "]}")
def table(path, rows):
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for _ in range(rows):
            x = [round(r.uniform(0, 100), 2) for _ in range(5)]
            y = 3 + 0.5 * x[0] - 0.25 * x[1] + 0.1 * x[2] + 2 * x[3] - x[4] + r.gauss(0, 1)
            f.write(",".join(f"{v:.2f}" for v in x + [y]) + "\n")
table(f"{work}/big.csv", avg_rows)
table(f"{work}/lin.csv", lin_rows)
PY

export SHARENET_DEVNET=$dir
"$bin" devnet up --nodes 5 --threshold 2 --dir "$dir" >/dev/null
for t in big lin; do
  "$bin" dataset upload --as institution-a --name "$t" --schema "$work/schema.json" \
    --csv "$work/$t.csv" --batch-rows 8192 >/dev/null
done
"$bin" access grant --as institution-a --to researcher --datasets big,lin --kinds all \
  --expires 1d --max-queries 10 >/dev/null

measure() {
  local label=$1 rows=$2 query=$3
  local started ended out
  started=$(date +%s.%N)
  out=$("$bin" query --as researcher --json --timeout 300s "$query")
  ended=$(date +%s.%N)
  python3 - "$label" "$rows" "$started" "$ended" "$out" <<'PY'
import json, sys
label, rows, started, ended, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
print(json.dumps({
    "query": label, "nodes": 5, "threshold": 2, "rows": rows,
    "submit_to_result_s": round(out["latency_ms"] / 1000, 3),
    "command_wall_s": round(ended - started, 3),
    "job": out["job"], "live": out["live"], "attested": out["completed"],
}))
PY
}
measure "AVG(y), VAR_POP(y)" "$avg_rows" "SELECT AVG(y), VAR_POP(y) FROM big"
measure "LINREG(y ~ x1 + ... + x5)" "$linreg_rows" "SELECT LINREG(y ~ x1 + x2 + x3 + x4 + x5) FROM lin"

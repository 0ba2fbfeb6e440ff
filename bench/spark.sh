#!/usr/bin/env bash
# The two engines of the panel's measures on the same generated exports: duibiao's embedded
# engine against Spark in local mode (`--engine spark`), stage timings from each run's manifest,
# and a check that the two panels agree (every cell within 1e-9 relative, the same empty cells).
#
#   bench/spark.sh --scale province [--binary PATH] [--python PYSPARK_PYTHON] [--workdir DIR]
#                  [--driver-memory 4g]
#
# Needs Java 17 and a Python with pyspark and pyarrow (default: $DUIBIAO_SPARK_PYTHON, else python3). The
# ingest stage is the same for both engines; the `panel` stage is where they differ (for Spark:
# two jobs, each with its JVM start, plus reading the measures back and the assembly).
set -euo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$BENCH")"
SCALE=province
BINARY="${DUIBIAO_BINARY:-$REPO/target/release/duibiao}"
PYTHON="${DUIBIAO_SPARK_PYTHON:-python3}"
WORK=""
MEMORY=4g
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --binary) BINARY="$2"; shift 2 ;;
        --python) PYTHON="$2"; shift 2 ;;
        --workdir) WORK="$2"; shift 2 ;;
        --driver-memory) MEMORY="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
WORK="${WORK:-$HOME/.cache/duibiao-bench/spark-$SCALE}"
mkdir -p "$WORK/pipelines"
[ -d "$WORK/sample_data" ] || "$BINARY" sample --out "$WORK/sample_data" --scale "$SCALE"
cp "$REPO/pipelines/kashgar_quarterly.toml" "$WORK/pipelines/"
cd "$WORK"

stages() {
    "$PYTHON" -c 'import json,sys; m=json.load(open(sys.argv[1])); print("  ".join(f"{k} {v:.1f} s" for k, v in m["timings_seconds"]))' "$1/manifest.json"
}

rm -rf out embedded
"$BINARY" run pipelines/kashgar_quarterly.toml --quiet --duckdb none >/dev/null
mv out embedded
echo "embedded: $(stages embedded)"

export PYSPARK_SUBMIT_ARGS="--driver-memory $MEMORY pyspark-shell"
"$BINARY" run pipelines/kashgar_quarterly.toml --quiet --duckdb none --engine spark --submit "$PYTHON" >/dev/null
echo "spark:    $(stages out)  ($("$PYTHON" -c 'import json; e=json.load(open("out/manifest.json"))["engine"]; print("Spark", e["spark_version"], "ANSI", e["ansi"])'))"

"$PYTHON" - embedded out <<'EOF'
import sys
import pyarrow.parquet as pq
a, b = (pq.read_table(f"{d}/panel.parquet").to_pylist() for d in sys.argv[1:3])
assert len(a) == len(b), "panels of different size"
worst, empty = 0.0, 0
for ra, rb in zip(a, b):
    for k, x in ra.items():
        y = rb[k]
        if isinstance(x, float) or isinstance(y, float):
            if (x is None) != (y is None):
                empty += 1
            elif x is not None and x != y:
                worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
print(f"panels: {len(a)} rows, worst relative difference {worst:.2g}, cells empty in one only: {empty}")
sys.exit(0 if worst <= 1e-9 and empty == 0 else 1)
EOF

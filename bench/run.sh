#!/usr/bin/env bash
# The benchmark in one command: makes sure the venv of the engine jobs exists (duckdb, pyarrow,
# openpyxl, polars, fastexcel), then runs bench/run.py with it. Arguments go to run.py, e.g.
# `bench/run.sh --scale province`.
set -euo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
VENV="${DUIBIAO_VENV:-$HOME/.cache/duibiao-venv}"
if ! "$VENV/bin/python" -c "import duckdb, pyarrow, openpyxl, polars, fastexcel" >/dev/null 2>&1; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$BENCH/requirements.txt"
fi
exec "$VENV/bin/python" "$BENCH/run.py" "$@"

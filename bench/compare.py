#!/usr/bin/env python3
"""Checks that two jobs of the benchmark computed the same thing:

    python3 bench/compare.py OUT_A OUT_B

OUT_A and OUT_B are output folders of duibiao, bench/duckdb_job.py or bench/polars_job.py, in any
pairing. Compares every numeric cell of the two panel.parquet files (joined on station × quarter)
and the Pearson coefficients without controls of the two correlations.parquet files (duibiao's
also hold Spearman and partial coefficients; those are left out). Prints one JSON object; exit
code 1 when a cell or coefficient differs by more than 1e-9 or is empty in one only.
"""

import json
import sys

import duckdb

TOLERANCE = 1e-9
KEYS = {"station_id", "station_name", "county", "period", "period_start"}


def pearson_without_controls(con, path: str) -> str:
    """The Pearson coefficients without controls of a correlations.parquet, as a subquery."""
    cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}
    where = ["method = 'pearson'"] if "method" in cols else []
    if "controls" in cols:
        # No controls: NULL in duibiao's file (older versions wrote '').
        where.append("coalesce(controls, '') = ''")
    return f"(SELECT * FROM '{path}'{' WHERE ' + ' AND '.join(where) if where else ''})"


def main() -> int:
    ours, theirs = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    a, b = f"'{ours}/panel.parquet'", f"'{theirs}/panel.parquet'"
    cols_a = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()]
    cols_b = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()}
    numeric = [c for c in cols_a if c not in KEYS and c in cols_b]
    rows_a, rows_b, joined = con.execute(
        f"SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b}),"
        f" (SELECT count(*) FROM {a} x JOIN {b} y USING (station_id, period))"
    ).fetchall()[0]
    differing = {}
    worst = 0.0
    for c in numeric:
        n, d = con.execute(
            f"SELECT count(*) FILTER (WHERE (x.{c} IS NULL) <> (y.{c} IS NULL) OR abs(x.{c} - y.{c}) > {TOLERANCE} * greatest(1, abs(x.{c}))),"
            f" coalesce(max(abs(x.{c} - y.{c})), 0) FROM {a} x JOIN {b} y USING (station_id, period)"
        ).fetchall()[0]
        worst = max(worst, d)
        if n:
            differing[c] = n
    x = pearson_without_controls(con, f"{ours}/correlations.parquet")
    y = pearson_without_controls(con, f"{theirs}/correlations.parquet")
    tests, r_differing, r_worst = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE (x.r IS NULL) <> (y.r IS NULL) OR abs(x.r - y.r) > {TOLERANCE}), coalesce(max(abs(x.r - y.r)), 0)"
        f" FROM {x} x JOIN {y} y USING (indicator, feature, scope, lag)"
    ).fetchall()[0]
    result = {
        "panel": {
            "rows": [rows_a, rows_b],
            "joined_rows": joined,
            "columns_compared": len(numeric),
            "columns_missing": sorted(set(cols_a) - cols_b - KEYS),
            "differing_cells": differing,
            "max_abs_diff": worst,
        },
        "correlations": {"pearson_tests_compared": tests, "differing": r_differing, "max_abs_diff_r": r_worst},
    }
    result["same"] = bool(
        rows_a == rows_b == joined and not differing and not result["panel"]["columns_missing"] and tests > 0 and r_differing == 0
    )
    print(json.dumps(result))
    return 0 if result["same"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The plain engine step for one source: its CSV exports → Parquet partitioned by quarter, in
DuckDB or in Polars, as a user of either would write it in a few lines. The per-source reference
rows of the benchmark (bench/run.py) put it beside duibiao's ingest of the same files.

    python3 bench/plain.py --engine duckdb|polars --pipeline PIPELINE.toml --source NAME --out DIR [--threads N]

Where the files are, their header line and the type of each column come from the pipeline file;
the layout of months and timestamps is the one each export uses (LAYOUTS). The step reads every
cell as text and types it the engine's plain way (DuckDB `TRY_CAST` / `try_strptime`, Polars
`cast(strict=False)` / `str.strptime(strict=False)`): a value that does not parse becomes null.
No checks, no quarantine, no duplicate removal, no lineage columns, no 合计 lines dropped: this
is the floor of what the engine's CSV reader and Parquet writer cost, not the same job as
duibiao's ingest. Parquet is written with each engine's default compression.
Blank lines: DuckDB's reader skips them; Polars' passes them on as empty rows, which the plain
step writes like any other (into a `period=__HIVE_DEFAULT_PARTITION__` folder).

Only UTF-8 CSV sources dated by a month or a timestamp qualify: neither engine reads GBK without
transcoding (DuckDB only with an extension that cannot be installed offline, Polars only by
decoding the whole file in Python), and XLSX is no CSV.

Prints one JSON object: seconds of the step alone (after the engine is imported), rows written,
input and output bytes, output files, Parquet compression.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import time
import tomllib

# The layout the exports write months and timestamps in (as in bench/duckdb_job.py).
LAYOUTS = {
    "fee": "%Y年%m月",
    "collection": "%Y%m",
    "line_loss": "%Y-%m",
    "work_orders": "%Y-%m-%d %H:%M:%S",
    "om_index": "%Y年%m月",
    "outages": "%Y-%m-%d %H:%M",
    "party_activities": "%Y/%m/%d %H:%M",
    "star_ratings": "%Y-%m",
}
TYPES = {"text": "text", "integer": "int", "number": "num", "month": "month", "date": "date", "timestamp": "ts"}


def source_spec(pipeline: str, name: str) -> dict:
    """Files, header line and columns of source `name` of the pipeline, or why it does not qualify."""
    with open(pipeline, "rb") as f:
        spec = tomllib.load(f)
    src = spec["sources"][name]
    base = os.path.dirname(os.path.abspath(pipeline))
    files = sorted(glob.glob(os.path.join(base, src["path"])))
    encoding = src.get("encoding", "auto")
    columns = [(col, c["header"], TYPES.get(c.get("type", "text"))) for col, c in src["columns"].items()]
    period = src.get("period")
    why_not = None
    if not files or not all(f.endswith(".csv") for f in files):
        why_not = "not CSV"
    elif encoding not in ("utf-8", "utf-8-bom"):
        why_not = f"encoding {encoding}"
    elif period is None:
        why_not = "no period column"
    elif any(kind is None for _, _, kind in columns):
        why_not = "a column type the plain step does not cover (" + ", ".join(c.get("type", "") for c in src["columns"].values() if c.get("type", "text") not in TYPES) + ")"
    elif name not in LAYOUTS and any(kind in ("month", "date", "ts") for _, _, kind in columns):
        why_not = "no layout known for its months or timestamps"
    return {
        "name": name,
        "files": files,
        "bytes": sum(os.path.getsize(f) for f in files),
        "skip": src.get("header_row", 1) - 1,
        "columns": columns,
        "period": period,
        "layout": LAYOUTS.get(name),
        "why_not": why_not,
    }


def run_duckdb(s: dict, out: str, threads: int) -> dict:
    import duckdb

    def lit(x: str) -> str:
        return "'" + x.replace("'", "''") + "'"

    def q(x: str) -> str:
        return '"' + x.replace('"', '""') + '"'

    def typed(header: str, kind: str) -> str:
        cell = q(header)
        return {
            "text": cell,
            "int": f"TRY_CAST({cell} AS BIGINT)",
            "num": f"TRY_CAST({cell} AS DOUBLE)",
            "month": f"CAST(try_strptime({cell}, {lit(s['layout'])}) AS DATE)",
            "date": f"CAST(try_strptime({cell}, {lit(s['layout'])}) AS DATE)",
            "ts": f"try_strptime({cell}, {lit(s['layout'])})",
        }[kind]

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    # DuckDB 2.0 pushes a TRY_CAST of a CSV column into the reader, where it becomes a strict
    # typed read that fails on the first "--" or "待核实"; keep TRY_CAST a TRY_CAST.
    con.execute("SET disabled_optimizers = 'type_pushdown'")
    started = time.perf_counter()
    select = ", ".join(f"{typed(h, kind)} AS {q(col)}" for col, h, kind in s["columns"])
    period = f"year({q(s['period'])}) || 'Q' || quarter({q(s['period'])})"
    files = "[" + ", ".join(lit(f) for f in s["files"]) + "]"
    rows = con.execute(
        f"COPY (SELECT *, {period} AS period FROM (SELECT {select} FROM read_csv({files}, header = true, all_varchar = true, skip = {s['skip']})))"
        f" TO {lit(out)} (FORMAT parquet, PARTITION_BY (period))"
    ).fetchall()[0][0]
    seconds = time.perf_counter() - started
    return {"version": duckdb.__version__, "seconds": seconds, "rows": rows}


def run_polars(s: dict, out: str, threads: int) -> dict:
    os.environ["POLARS_MAX_THREADS"] = str(threads)  # read when polars is imported
    import polars as pl

    def parsed(cell: pl.Expr, dtype) -> pl.Expr:
        value = cell.str.strptime(dtype, s["layout"], strict=False)
        if dtype != pl.Date:
            return value
        # %m wants two digits: "2019年1月" parses once padded to "2019年01月"
        padded = pl.when(value.is_null()).then(cell).str.replace(r"^(\d{4})(\D+)(\d)(\D.*)?$", "${1}${2}0${3}${4}")
        return pl.coalesce(value, padded.str.strptime(dtype, s["layout"], strict=False))

    def typed(header: str, kind: str) -> pl.Expr:
        cell = pl.col(header)
        if kind == "text":
            return cell
        if kind == "int":
            return cell.cast(pl.Int64, strict=False)
        if kind == "num":
            return cell.cast(pl.Float64, strict=False)
        if kind == "ts":
            return parsed(cell, pl.Datetime("us"))
        return parsed(cell, pl.Date)

    started = time.perf_counter()
    p = pl.col(s["period"])
    (
        pl.scan_csv(s["files"], infer_schema=False, skip_rows=s["skip"])
        .select([typed(h, kind).alias(col) for col, h, kind in s["columns"]])
        .with_columns(period=pl.format("{}Q{}", p.dt.year(), p.dt.quarter()))
        .sink_parquet(pl.PartitionBy(out, key="period", include_key=False), mkdir=True)
    )
    seconds = time.perf_counter() - started
    rows = pl.scan_parquet(os.path.join(out, "*", "*.parquet")).select(pl.len()).collect().item()
    return {"version": pl.__version__, "seconds": seconds, "rows": rows}


def parquet_compression(files: list[str]) -> str:
    try:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(files[0]).metadata
        return meta.row_group(0).column(0).compression.lower() if meta.num_row_groups else "–"
    except Exception:  # a summary detail: never fail the measurement for it
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=["duckdb", "polars"], required=True)
    ap.add_argument("--pipeline", required=True, help="pipeline file naming the source's files")
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True, help="output folder (replaced)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    s = source_spec(args.pipeline, args.source)
    if s["why_not"]:
        raise SystemExit(f"{args.source}: no plain step ({s['why_not']})")
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    result = (run_duckdb if args.engine == "duckdb" else run_polars)(s, out, args.threads)
    written = sorted(glob.glob(os.path.join(out, "**", "*.parquet"), recursive=True))
    print(json.dumps({
        "engine": args.engine,
        **result,
        "source": args.source,
        "threads": args.threads,
        "input_files": len(s["files"]),
        "input_bytes": s["bytes"],
        "output_files": len(written),
        "output_bytes": sum(os.path.getsize(f) for f in written),
        "compression": parquet_compression(written),
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

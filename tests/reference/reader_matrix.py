"""Reader matrix: every Parquet output of a duibiao run, read by every reader at hand, with the
same figures computed by each and compared.

Readers: pyarrow, DuckDB, Polars, fastparquet and, when Java is present, Spark (pyspark, local
mode) — each one that imports in the Python running this script, plus those of every further
Python given with --python (e.g. a venv with pyarrow 14 and DuckDB 1.0). For each table (a file,
or all partition files of a curated source) each reader computes: rows; and per column the
non-null count and a checksum of the values: the sum for numbers, the sum of lengths in
characters for text (so Chinese text must decode identically), the sum of whole seconds since
the epoch for timestamps and of days for dates. All readers must agree (floating sums to 1e-9).

With --database, analysis.duckdb is also opened by each DuckDB (from another working directory)
and every view counted; with Spark present, parquet-mr's own CorruptStatistics decides whether it
trusts the string statistics of a file, given its created_by.

Usage:
  python reader_matrix.py OUT_DIR [--python OTHER_PYTHON ...] [--database] [--markdown]
  python reader_matrix.py --worker OUT_DIR [--database]   (used internally: JSON on stdout)

CI runs it with the test readers (pyarrow and DuckDB); the full matrix runs on demand and its
table is in the README. Exits non-zero when readers disagree or a reader fails.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def tables(out: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for rel in ["panel.parquet", "panel_long.parquet", "correlations.parquet", "quality/rejects.parquet", "quality/coverage.parquet", "quality/unmatched.parquet"]:
        if (out / rel).exists():
            found[rel] = [out / rel]
    for source in sorted(p for p in (out / "curated").iterdir() if p.is_dir()) if (out / "curated").exists() else []:
        found[f"curated/{source.name}"] = sorted(source.rglob("*.parquet"))
    return found


def schema_kinds(path: Path) -> dict[str, str]:
    """Column -> number / text / timestamp / date, from the Parquet schema (pyarrow, else DuckDB)."""
    try:
        import pyarrow.parquet as pq
        import pyarrow as pa

        kinds = {}
        for f in pq.read_schema(path):
            t = f.type
            kinds[f.name] = (
                "timestamp" if pa.types.is_timestamp(t) else "date" if pa.types.is_date(t) else "text" if pa.types.is_string(t) or pa.types.is_large_string(t) else "number"
            )
        return kinds
    except ImportError:
        import duckdb

        kinds = {}
        for name, typ, *_ in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path.as_posix()}')").fetchall():
            kinds[name] = "timestamp" if typ.startswith("TIMESTAMP") else "date" if typ == "DATE" else "text" if typ == "VARCHAR" else "number"
        return kinds


# --- readers: each returns {"rows": n, "<col>.count": n, "<col>.sum": x} for a list of files ---


def read_pyarrow(files: list[Path], kinds: dict[str, str]) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pa.concat_tables([pq.read_table(f, columns=list(kinds)) for f in files])
    figures = {"rows": t.num_rows}
    for col, kind in kinds.items():
        a = t[col]
        figures[f"{col}.count"] = len(a) - a.null_count
        if kind == "number":
            v = pc.sum(a.cast(pa.float64())).as_py()
        elif kind == "text":
            v = pc.sum(pc.utf8_length(a)).as_py()
        elif kind == "timestamp":
            scale = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[a.type.unit]
            v = pc.sum(pc.divide(a.cast(pa.int64()), scale)).as_py()  # whole seconds (all after 1970)
        else:
            v = pc.sum(a.cast(pa.int32())).as_py()
        figures[f"{col}.sum"] = v or 0
    return figures


def duck_figures(con, source: str, kinds: dict[str, str]) -> dict:
    exprs = ["count(*)"]
    for col, kind in kinds.items():
        q = '"' + col.replace('"', '""') + '"'
        exprs.append(f"count({q})")
        exprs.append(
            {
                "number": f"coalesce(sum(CAST({q} AS DOUBLE)), 0)",
                "text": f"coalesce(sum(length({q})), 0)",
                "timestamp": f"coalesce(sum(epoch_us({q}) // 1000000), 0)",
                "date": f"coalesce(sum(date_diff('day', DATE '1970-01-01', {q})), 0)",
            }[kind]
        )
    row = con.execute(f"SELECT {', '.join(exprs)} FROM {source}").fetchone()
    figures = {"rows": row[0]}
    for i, col in enumerate(kinds):
        figures[f"{col}.count"] = row[1 + 2 * i]
        figures[f"{col}.sum"] = float(row[2 + 2 * i]) if kinds[col] == "number" else int(row[2 + 2 * i])
    return figures


def read_duckdb(files: list[Path], kinds: dict[str, str]) -> dict:
    import duckdb

    con = duckdb.connect()
    listed = "[" + ", ".join("'" + f.as_posix().replace("'", "''") + "'" for f in files) + "]"
    return duck_figures(con, f"read_parquet({listed}, hive_partitioning = false)", kinds)


def read_polars(files: list[Path], kinds: dict[str, str]) -> dict:
    import polars as pl

    df = pl.concat([pl.read_parquet(f, columns=list(kinds), hive_partitioning=False) for f in files])
    figures = {"rows": df.height}
    for col, kind in kinds.items():
        s = df[col]
        figures[f"{col}.count"] = s.len() - s.null_count()
        if kind == "number":
            v = s.cast(pl.Float64).sum()
        elif kind == "text":
            v = s.str.len_chars().sum()
        elif kind == "timestamp":
            v = (s.dt.epoch("us") // 1_000_000).sum()
        else:
            v = s.cast(pl.Int32).sum()
        figures[f"{col}.sum"] = float(v) if kind == "number" else int(v or 0)
    return figures


def read_fastparquet(files: list[Path], kinds: dict[str, str]) -> dict:
    import fastparquet
    import pandas as pd

    df = pd.concat([fastparquet.ParquetFile(str(f)).to_pandas(columns=list(kinds)) for f in files], ignore_index=True)
    figures = {"rows": len(df)}
    for col, kind in kinds.items():
        s = df[col]
        figures[f"{col}.count"] = int(s.notna().sum())
        if kind == "number":
            v = float(s.astype("float64").sum())
        elif kind == "text":
            v = int(s.dropna().map(len).sum())
        elif kind == "timestamp":
            v = int(((pd.to_datetime(s.dropna(), utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).sum())
        else:
            v = int(((pd.to_datetime(s.dropna()) - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).sum())
        figures[f"{col}.sum"] = v
    return figures


_spark = None


def spark_session():
    global _spark
    if _spark is None:
        from pyspark.sql import SparkSession

        _spark = (
            SparkSession.builder.master("local[1]")
            .appName("duibiao-reader-matrix")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        _spark.sparkContext.setLogLevel("ERROR")
    return _spark


def read_spark(files: list[Path], kinds: dict[str, str]) -> dict:
    from pyspark.sql import functions as F

    spark = spark_session()
    df = None
    for f in files:
        part = spark.read.parquet(f.as_posix()).select(*[F.col(f"`{c}`") for c in kinds])
        df = part if df is None else df.unionByName(part)
    aggs = [F.count(F.lit(1))]
    for col, kind in kinds.items():
        c = F.col(f"`{col}`")
        aggs.append(F.count(c))
        aggs.append(
            {
                "number": F.coalesce(F.sum(c.cast("double")), F.lit(0.0)),
                "text": F.coalesce(F.sum(F.length(c)), F.lit(0)),
                "timestamp": F.coalesce(F.sum(F.floor(F.unix_micros(c) / 1_000_000)), F.lit(0)),
                "date": F.coalesce(F.sum(F.unix_date(c)), F.lit(0)),
            }[kind]
        )
    row = df.agg(*aggs).collect()[0]
    figures = {"rows": row[0]}
    for i, col in enumerate(kinds):
        figures[f"{col}.count"] = row[1 + 2 * i]
        figures[f"{col}.sum"] = float(row[2 + 2 * i]) if kinds[col] == "number" else int(row[2 + 2 * i])
    return figures


def spark_trusts_statistics(out: Path) -> dict:
    """parquet-mr's CorruptStatistics.shouldIgnoreStatistics for this output's created_by and the
    string written before (BINARY columns), evaluated by the parquet-mr in Spark's JVM."""
    import pyarrow.parquet as pq

    jvm = spark_session()._jvm
    binary = jvm.org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName.BINARY
    created_by = pq.read_metadata(out / "panel.parquet").created_by
    ignore = jvm.org.apache.parquet.CorruptStatistics.shouldIgnoreStatistics
    return {"created_by": created_by, "ignored": bool(ignore(created_by, binary)), "old_string_ignored": bool(ignore("duibiao 0.1.0", binary))}


def java_present() -> bool:
    try:
        return subprocess.run(["java", "-version"], capture_output=True).returncode == 0
    except OSError:
        return False


def available_readers() -> dict:
    readers = {}
    try:
        import pyarrow

        readers[f"pyarrow {pyarrow.__version__}"] = read_pyarrow
    except ImportError:
        pass
    try:
        import duckdb

        readers[f"DuckDB {duckdb.__version__}"] = read_duckdb
    except ImportError:
        pass
    try:
        import polars

        readers[f"Polars {polars.__version__}"] = read_polars
    except ImportError:
        pass
    try:
        import fastparquet

        readers[f"fastparquet {fastparquet.__version__}"] = read_fastparquet
    except ImportError:
        pass
    if java_present():
        try:
            import pyspark

            readers[f"Spark {pyspark.__version__}"] = read_spark
        except ImportError:
            pass
    return readers


def database_views(out: Path) -> dict:
    """analysis.duckdb opened read-only from another working directory: rows of every view."""
    import duckdb

    db = (out / "analysis.duckdb").resolve()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as elsewhere:
        os.chdir(elsewhere)
        try:
            con = duckdb.connect(str(db), read_only=True)
            views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
            counts = {}
            for v in views:
                try:
                    counts[v] = con.execute(f'SELECT count(*) FROM "{v}"').fetchone()[0]
                except duckdb.Error as e:
                    counts[v] = f"error: {str(e).splitlines()[0]}"
            con.close()
        finally:
            os.chdir(here)
    return {"reader": f"DuckDB {duckdb.__version__}", "views": counts}


def worker(out: Path, database: bool) -> dict:
    result = {"python": sys.version.split()[0], "tables": {}, "errors": {}, "database": None, "statistics": None}
    found = tables(out)
    for name, reader in available_readers().items():
        result["tables"][name] = {}
        for table, files in found.items():
            try:
                result["tables"][name][table] = reader(files, schema_kinds(files[0]))
            except Exception as e:  # a reader failing on a file is a finding, not a crash
                result["errors"].setdefault(name, {})[table] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    if database and (out / "analysis.duckdb").exists():
        try:
            result["database"] = database_views(out)
        except ImportError:
            pass
    if any(n.startswith("Spark") for n in result["tables"]):
        try:
            result["statistics"] = spark_trusts_statistics(out)
        except Exception as e:
            result["statistics"] = {"error": str(e).splitlines()[0]}
    return result


def agree(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--worker":
        print(json.dumps(worker(Path(args[1]), "--database" in args), ensure_ascii=False))
        return 0
    out = Path(args[0]).resolve()
    pythons = [sys.executable] + [args[i + 1] for i, a in enumerate(args) if a == "--python"]
    database = "--database" in args
    markdown = "--markdown" in args

    readers: dict[str, dict] = {}
    errors: dict[str, dict] = {}
    databases = []
    statistics = None
    for python in pythons:
        run = subprocess.run([python, __file__, "--worker", str(out)] + (["--database"] if database else []), capture_output=True, text=True, encoding="utf-8")
        if run.returncode != 0:
            print(f"PROBLEM {python}: worker failed\n{run.stderr}")
            return 1
        result = json.loads(run.stdout)
        for name, figures in result["tables"].items():
            readers.setdefault(name, figures)
        for name, errs in result["errors"].items():
            errors.setdefault(name, errs)
        if result["database"]:
            databases.append(result["database"])
        statistics = statistics or result["statistics"]

    if not readers:
        print("PROBLEM no reader available")
        return 1
    names = list(readers)
    problems = []
    all_tables = list(tables(out))
    header = ["table", "rows"] + names
    lines = []
    for table in all_tables:
        # Each table is compared with the first reader that read it.
        reference = next((n for n in names if table in readers[n]), names[0])
        ref = readers[reference].get(table)
        cells = []
        for name in names:
            got = readers[name].get(table)
            if got is None:
                cells.append("✗ " + errors.get(name, {}).get(table, "missing")[:60])
                problems.append(f"{table}: {name}: {errors.get(name, {}).get(table, 'missing')}")
                continue
            if ref is None:
                cells.append("?")
                continue
            diff = [k for k in set(ref) | set(got) if k not in ref or k not in got or not agree(ref[k], got[k])]
            if diff:
                cells.append(f"✗ {len(diff)} differ")
                problems.append(f"{table}: {name} differs from {reference} on {sorted(diff)[:5]}: " + ", ".join(f"{k} {ref.get(k)} vs {got.get(k)}" for k in sorted(diff)[:3]))
            else:
                cells.append("✓")
        rows = ref["rows"] if ref else "?"
        lines.append([table, str(rows)] + cells)
    checks = {n: sum(len(f) for f in readers[n].values()) for n in names}

    def emit(row):
        if markdown:
            print("| " + " | ".join(row) + " |")
        else:
            print("  ".join(row))

    emit(header)
    if markdown:
        print("|" + "|".join(["---", "---:"] + [":---:"] * len(names)) + "|")
    for line in lines:
        emit(line)
    print(f"\nfigures compared per reader (rows, non-null counts, checksums): {checks}")

    for db in databases:
        bad = {v: c for v, c in db["views"].items() if isinstance(c, str)}
        print(f"analysis.duckdb opened by {db['reader']} from another directory: {len(db['views'])} views, {len(bad)} failing")
        for v, c in bad.items():
            problems.append(f"analysis.duckdb view {v} in {db['reader']}: {c}")
    if len({json.dumps(db["views"], sort_keys=True) for db in databases}) > 1:
        problems.append("analysis.duckdb: the DuckDB versions count different rows in the views")
    if statistics:
        print(f"parquet-mr CorruptStatistics via Spark: {statistics}")
        if statistics.get("ignored") is not False:
            problems.append(f"parquet-mr ignores the string statistics: {statistics}")

    for p in problems:
        print("PROBLEM", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

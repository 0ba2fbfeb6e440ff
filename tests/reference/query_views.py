"""Opens a duibiao output's analysis.duckdb the way a BI driver does: read-only, from whatever
working directory it is started in, with no file_search_path, and queries every view.

Usage: python query_views.py DATABASE OUT_DIR PIPELINE.toml

Checks, each against an independent reading of the Parquet files with pyarrow:
- the file is in DuckDB storage v1.0.0 (header number 64), which DuckDB 1.0 and later open;
- the views are exactly the documented set (file tables, variables, *_zh, curated_<source>[_zh]);
- every view answers, and its row count equals the rows of its Parquet file(s);
- each x_local column is the UTC instant x shifted by the pipeline's utc_offset, as a naive
  timestamp, whatever the connection's TimeZone; it equals the time written in the export file
  itself (CSV sources); and the *_zh view shows it under the export's header (the instant under
  "header (UTC)");
- correlations.controls is null, never '', when a test has no controls;
- variables.label_en of an attribute is its key.
Prints one line per view and exits non-zero listing every problem.
"""

import csv
import datetime as dt
import struct
import sys
import tomllib
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq


def offset_minutes(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return sign * (int(hours) * 60 + int(minutes))


ENCODINGS = {"utf-8": "utf-8", "utf-8-bom": "utf-8-sig", "gbk": "gb18030", "gb18030": "gb18030"}
FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"]


def export_times(path: Path, encoding: str, header_row: int, header: str) -> dict[int, dt.datetime | None]:
    """Physical line number -> the wall-clock time written under `header` in a CSV export."""
    times = {}
    with open(path, encoding=ENCODINGS.get(encoding, "utf-8-sig"), newline="") as f:
        reader = csv.reader(f)
        column, start = None, 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if line == header_row:
                column = record.index(header) if header in record else None
            elif line > header_row and column is not None and column < len(record):
                text = record[column].strip()
                for fmt in FORMATS:
                    try:
                        times[line] = dt.datetime.strptime(text, fmt)
                        break
                    except ValueError:
                        pass
    return times


def main() -> int:
    database, out, pipeline_path = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    pipeline = tomllib.loads(pipeline_path.read_text(encoding="utf-8"))
    offset = dt.timedelta(minutes=offset_minutes(pipeline["pipeline"].get("utc_offset", "+00:00")))
    problems: list[str] = []

    with open(database, "rb") as f:
        magic, number = struct.Struct("<8x4sQ").unpack(f.read(20))
    if magic != b"DUCK" or number != 64:
        problems.append(f"header: {magic!r} storage number {number}, expected DUCK 64 (storage v1.0.0)")

    con = duckdb.connect(str(database), read_only=True)
    tags = dict(con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0] or {})
    if not str(tags.get("storage_version", "v1.0.0")).startswith("v1.0.0"):
        problems.append(f"storage_version tag {tags}")

    # Rows of each table as pyarrow reads the files.
    files = {
        "panel": ["panel.parquet"],
        "panel_long": ["panel_long.parquet"],
        "correlations": ["correlations.parquet"],
        "rejects": ["quality/rejects.parquet"],
        "coverage": ["quality/coverage.parquet"],
        "unmatched": ["quality/unmatched.parquet"],
    }
    for name in pipeline["sources"]:
        files[f"curated_{name}"] = sorted(p.relative_to(out).as_posix() for p in (out / "curated" / name).rglob("*.parquet"))
    rows = {view: sum(pq.read_metadata(out / f).num_rows for f in fs) for view, fs in files.items()}

    expected = set(files) | {"variables", "panel_zh", "panel_long_zh", "correlations_zh"}
    expected |= {f"curated_{name}_zh" for name in pipeline["sources"]}
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    if views != expected:
        problems.append(f"views: missing {sorted(expected - views)}, unexpected {sorted(views - expected)}")

    for view in sorted(views):
        try:
            n = con.execute(f'SELECT count(*) FROM "{view}"').fetchone()[0]
            sample = con.execute(f'SELECT * FROM "{view}" LIMIT 3').fetchall()
        except duckdb.Error as e:
            problems.append(f"{view}: {e}")
            continue
        base = view[:-3] if view.endswith("_zh") else view
        want = rows.get(base)
        if want is not None and n != want:
            problems.append(f"{view}: {n} rows, the Parquet files hold {want}")
        if n and not sample:
            problems.append(f"{view}: no rows returned")
        print(f"ok  {view}: {n} rows")

    def content_checks() -> None:
        # Local-time companions, under two connection time zones.
        for name, source in pipeline["sources"].items():
            columns = source.get("columns", {})
            for col, spec in columns.items():
                if spec.get("type") != "timestamp":
                    continue
                header = spec["header"]
                utc = {}
                for f in files[f"curated_{name}"]:
                    t = pq.read_table(out / f, columns=["source_file", "source_row", col])
                    for sf, sr, ts in zip(t["source_file"].to_pylist(), t["source_row"].to_pylist(), t[col].to_pylist()):
                        utc[(sf, sr)] = ts
                for tz in ("UTC", "America/New_York"):
                    con.execute(f"SET TimeZone = '{tz}'")
                    got = con.execute(f'SELECT source_file, source_row, "{col}_local", typeof("{col}_local") FROM "curated_{name}"').fetchall()
                    bad = [
                        (k, v)
                        for *k, v, typ in got
                        if typ != "TIMESTAMP" or (utc[tuple(k)] is None) != (v is None) or (v is not None and v != utc[tuple(k)].replace(tzinfo=None) + offset)
                    ]
                    if bad or len(got) != len(utc):
                        problems.append(f"curated_{name}.{col}_local under TimeZone {tz}: {len(bad)} of {len(got)} rows differ, e.g. {bad[:2]}")
                # The local time is what the export file says, for every row read back from a CSV.
                if source.get("format", "csv") == "csv" and not str(source["path"]).endswith(".xlsx"):
                    exports: dict[str, dict] = {}
                    checked = differ = 0
                    for sf, sr, local in con.execute(f'SELECT source_file, source_row, "{col}_local" FROM "curated_{name}"').fetchall():
                        if sf not in exports:
                            candidates = [pipeline_path.parent.parent / sf, pipeline_path.parent / sf, Path(sf)]
                            found = next((p for p in candidates if p.exists()), None)
                            exports[sf] = export_times(found, source.get("encoding", "utf-8"), source.get("header_row", 1), header) if found else {}
                        written = exports[sf].get(sr)
                        if written is not None:
                            checked += 1
                            differ += written != local
                    if differ or checked < 0.9 * len(utc):
                        problems.append(f"curated_{name}.{col}_local: {differ} of {checked} rows differ from the export's '{header}' ({len(utc)} rows)")
                    print(f"ok  curated_{name}.{col}_local = the export's '{header}' ({checked} rows)")
                zh = con.execute(
                    f'SELECT count(*) FROM "curated_{name}_zh" z JOIN "curated_{name}" c ON z."来源文件" = c.source_file AND z."来源行号" = c.source_row '
                    f'WHERE z."{header}" IS DISTINCT FROM c."{col}_local" OR z."{header} (UTC)" IS DISTINCT FROM c."{col}"'
                ).fetchone()[0]
                if zh:
                    problems.append(f"curated_{name}_zh: {zh} rows where '{header}' is not {col}_local or '{header} (UTC)' not {col}")
                print(f"ok  curated_{name}.{col}_local = {col} + {offset} ({len(utc)} rows)")

        # Absent controls are null; attributes' English label is their key.
        empty, null, total = con.execute(
            "SELECT count(*) FILTER (WHERE controls = ''), count(*) FILTER (WHERE controls IS NULL), count(*) FROM correlations"
        ).fetchone()
        table = pq.read_table(out / "correlations.parquet", columns=["controls"])["controls"]
        if empty or null != table.null_count or not 0 < null < total:
            problems.append(f"correlations.controls: {empty} empty, {null} null of {total} (pyarrow: {table.null_count} null)")
        wrong = con.execute("SELECT variable, label_en FROM variables WHERE kind = 'attribute' AND label_en IS DISTINCT FROM variable").fetchall()
        attributes = con.execute("SELECT count(*) FROM variables WHERE kind = 'attribute'").fetchone()[0]
        if wrong or attributes != len(pipeline.get("attributes", {})):
            problems.append(f"variables: {attributes} attributes, English labels not their key: {wrong}")
        if pc.sum(pc.equal(table, "")).as_py():
            problems.append("correlations.parquet: controls '' in the file")


    try:
        content_checks()
    except duckdb.Error as e:
        problems.append(f"content checks stopped: {e}")

    for p in problems:
        print("PROBLEM", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

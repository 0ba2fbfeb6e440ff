"""Reads every file of a duibiao output folder with two independent readers, pyarrow and DuckDB,
and checks row counts and column types against the documented output schema
(tests/fixtures/output_schema.json and the value types the pipeline declares for curated columns).

Usage: python read_outputs.py OUT_DIR PIPELINE.toml SCHEMA.json
Prints one line per checked file and exits non-zero with every problem listed.
"""

import json
import re
import sys
import tomllib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

# The pipeline's value types and the Arrow / DuckDB types the BI-safe profile promises for them.
DECLARED = {
    "text": ("string", "VARCHAR"),
    "number": ("double", "DOUBLE"),
    "integer": ("int64", "BIGINT"),
    "month": ("date32[day]", "DATE"),
    "quarter": ("date32[day]", "DATE"),
    "date": ("date32[day]", "DATE"),
    "timestamp": ("timestamp[us, tz=UTC]", "TIMESTAMP WITH TIME ZONE"),
}
ARROW_TO_DUCK = {arrow: duck for arrow, duck in DECLARED.values()}

# parquet-mr's VersionParser.FORMAT (apache/parquet-java,
# parquet-common/src/main/java/org/apache/parquet/VersionParser.java), matched against the whole
# created_by string. When it does not match, parquet-mr's CorruptStatistics ignores the statistics
# of every string column; when it matches an application other than parquet-mr, it trusts them.
PARQUET_MR_CREATED_BY = re.compile(r"(.*?)\s+version\s*(?:([^(]*?)\s*(?:\(\s*build\s*([^)]*?)\s*\))?)?")


def main() -> int:
    out, pipeline_path, schema_path = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    pipeline = tomllib.loads(pipeline_path.read_text(encoding="utf-8"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    problems: list[str] = []
    con = duckdb.connect()

    def check_file(path: Path, expected: dict[str, str], rest_type: str | None, rows: int | None) -> None:
        rel = path.relative_to(out).as_posix()
        # pyarrow: the schema it builds honours the embedded Arrow schema, so view or dictionary
        # types written there would show up here.
        table = pq.read_table(path)
        meta = pq.read_metadata(path)
        kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
        if kv.get("duibiao.run_id") != manifest["run_id"]:
            problems.append(f"{rel}: run id {kv.get('duibiao.run_id')!r} in metadata, manifest says {manifest['run_id']!r}")
        if kv.get("duibiao.version") != manifest["version"]:
            problems.append(f"{rel}: version {kv.get('duibiao.version')!r} in metadata")
        parsed = PARQUET_MR_CREATED_BY.fullmatch(meta.created_by or "")
        if not parsed or parsed.group(1) != "duibiao" or parsed.group(2) != manifest["version"] or not parsed.group(3):
            problems.append(f"{rel}: created_by {meta.created_by!r} is not 'duibiao version <x.y.z> (build <hash>)' as parquet-mr parses it")
        for field in table.schema:
            t = field.type
            if pa.types.is_dictionary(t) or pa.types.is_nested(t) or str(t) in ("string_view", "large_string", "binary_view"):
                problems.append(f"{rel}: column {field.name} has BI-unsafe type {t}")
            if not field.name.isascii() or field.name != field.name.lower() or " " in field.name:
                problems.append(f"{rel}: column name {field.name!r} is not ASCII snake_case")
            want = expected.get(field.name, rest_type)
            if want is None:
                problems.append(f"{rel}: undocumented column {field.name} ({t})")
            elif str(t) != want:
                problems.append(f"{rel}: column {field.name} is {t}, documented {want}")
        missing = set(expected) - set(table.schema.names)
        if missing:
            problems.append(f"{rel}: documented columns missing: {sorted(missing)}")
        # DuckDB: its own Parquet reader.
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path.as_posix()}')").fetchall()
        for name, duck_type, *_ in described:
            want = expected.get(name, rest_type)
            if want is not None and ARROW_TO_DUCK.get(want) != duck_type:
                problems.append(f"{rel}: DuckDB reads {name} as {duck_type}, expected {ARROW_TO_DUCK.get(want)}")
        duck_rows = con.execute(f"SELECT count(*) FROM read_parquet('{path.as_posix()}')").fetchone()[0]
        if duck_rows != table.num_rows:
            problems.append(f"{rel}: DuckDB counts {duck_rows} rows, pyarrow {table.num_rows}")
        if rows is not None and table.num_rows != rows:
            problems.append(f"{rel}: {table.num_rows} rows, manifest implies {rows}")
        print(f"ok  {rel}: {table.num_rows} rows, {table.num_columns} columns")

    sources = {s["name"]: s for s in manifest["sources"]}
    # Fixed tables of the output contract.
    quarantined = sum(s["rejected"] + s["dropped"] + s["duplicates"] for s in manifest["sources"])
    panel = manifest.get("panel")
    variables = None
    for rel, spec in schema["tables"].items():
        path = out / rel
        if not path.exists():
            problems.append(f"{rel}: documented output missing")
            continue
        rows = {
            "quality/rejects.parquet": quarantined,
            "panel.parquet": panel["rows"] if panel else None,
            "correlations.parquet": manifest.get("correlations"),
            "quality/unmatched.parquet": panel["unmatched_spellings"] if panel else None,
            "quality/coverage.parquet": panel["empty_cells"] if panel else None,
        }.get(rel)
        check_file(path, spec["columns"], spec.get("other_columns"), rows)
        if rel == "panel.parquet":
            variables = len(pq.read_schema(path).names) - len(spec["columns"])
        if rel == "correlations.parquet":
            controls = pq.read_table(path, columns=["controls"])["controls"].to_pylist()
            if "" in controls or None not in controls:
                problems.append(f"{rel}: controls holds {controls.count('')} empty strings and {controls.count(None)} nulls; absent controls are null")
    if panel and variables is not None:
        long_rows = pq.read_metadata(out / "panel_long.parquet").num_rows
        if long_rows != panel["rows"] * variables:
            problems.append(f"panel_long.parquet: {long_rows} rows, expected {panel['rows']} × {variables}")

    # Curated tables: the pipeline's declared types plus the lineage columns.
    for name, source in pipeline["sources"].items():
        expected = {col: DECLARED[spec.get("type", "text")][0] for col, spec in source.get("columns", {}).items()}
        expected.update(schema["curated_lineage"])
        folder = out / "curated" / name
        files = sorted(folder.rglob("*.parquet"))
        if not files:
            problems.append(f"curated/{name}: no files")
            continue
        total = 0
        for f in files:
            check_file(f, expected, None, None)
            total += pq.read_metadata(f).num_rows
        accepted = sources[name]["accepted"]
        if total != accepted:
            problems.append(f"curated/{name}: {total} rows over its files, manifest accepted {accepted}")
        if source.get("period"):
            hive = con.execute(
                f"SELECT count(*), count(DISTINCT period) FROM read_parquet('{folder.as_posix()}/period=*/*.parquet', hive_partitioning = true)"
            ).fetchone()
            if hive[0] != total:
                problems.append(f"curated/{name}: hive-partitioned read gives {hive[0]} rows, files {total}")

    # views.sql: every view runs, and each file-backed view has the file's rows.
    views_sql = (out / "views.sql").read_text(encoding="utf-8")
    con.execute(f"SET file_search_path = '{out.as_posix()}'")
    con.execute(views_sql)
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
    for v in views:
        n = con.execute(f'SELECT count(*) FROM "{v}"').fetchone()[0]
        base = v[:-3] if v.endswith("_zh") else None
        if base in views:
            m = con.execute(f'SELECT count(*) FROM "{base}"').fetchone()[0]
            if m != n:
                problems.append(f"views.sql: {v} has {n} rows, {base} {m}")
    for needed in schema["views"]:
        if needed not in views:
            problems.append(f"views.sql: view {needed} missing")
    print(f"ok  views.sql: {len(views)} views")

    for p in problems:
        print("PROBLEM", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

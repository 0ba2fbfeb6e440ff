#!/usr/bin/env python3
"""The quarterly job of pipelines/kashgar_quarterly.toml, done the way an analyst would do it in
DuckDB: SQL wherever possible, Python only where DuckDB cannot go (GBK transcoding, the XLSX
workbook, the t-distribution p-value).

    python3 bench/duckdb_job.py --data DIR --out DIR [--threads N]

DIR is laid out like sample_data/. Three stages, each timed (wall seconds) with the process's
peak RSS during the stage:

  ingest     every export → typed, checked, de-duplicated rows, written as hive-partitioned
             Parquet by quarter (OUT/curated/<source>/period=2020Q3/...), quarantine counts
  panel      the six indicators and the party features per station × quarter, station names
             resolved to codes, lag-1 features → OUT/panel.parquet
  correlate  Pearson r pooled / within-station / between-station for every feature × indicator ×
             lag, Fisher-z CI and p-value → OUT/correlations.parquet

One JSON object is printed on stdout at the end (see the bottom of this file).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
from dataclasses import dataclass, field

import duckdb

from jobkit import Stage, t_test_p

UTC_OFFSET_HOURS = 8  # the exports are in Beijing time


# ── the exports: headers and parse rules as pipelines/kashgar_quarterly.toml declares them ──


@dataclass
class Col:
    name: str
    headers: list  # [(header, scale)]; the first header found in a file wins
    kind: str = "text"  # text | int | num | month | quarter | ts
    not_null: bool = False
    required: bool = True
    # Months and timestamps: the layout the export is seen to use, tried first; other layouts
    # the pipeline accepts are tried after it, unless `strict` (an explicit `format`).
    layout: str | None = None
    strict: bool = False


def col(name, header, kind="text", not_null=False, required=True, also=None, layout=None, strict=False):
    return Col(name, [(header, 1.0)] + (also or []), kind, not_null, required, layout, strict)


@dataclass
class Source:
    name: str
    path: str  # glob relative to --data
    encoding: str = "utf-8"  # utf-8 | utf-8-bom | gbk | xlsx
    header_row: int = 1
    columns: list = field(default_factory=list)
    checks: list = field(default_factory=list)  # (SQL rule over typed columns, message)
    drop_rows: list = field(default_factory=list)  # (header, [prefixes])
    period: str | None = None  # the column that dates a row; None for reference tables


SOURCES = [
    Source("stations", "master/供电所台账.csv", "utf-8-bom", columns=[
        col("station_code", "供电所编码", not_null=True),
        col("station_name", "供电所名称", not_null=True),
        col("county", "所属县公司"),
        col("county_code", "县公司编码"),
        col("township", "乡镇"),
        col("customers", "用户数", "int", not_null=True),
        col("tai_areas", "台区数", "int"),
        col("branch_name", "党支部名称"),
        col("party_members", "党员人数", "int"),
        col("senior_managers", "高级经理人数", "int"),
        col("area_managers", "台区经理人数", "int"),
    ], checks=[("customers > 0", "用户数必须大于0")]),
    Source("aliases", "master/供电所别名.csv", "utf-8-bom", columns=[
        col("spelling", "名称写法", not_null=True),
        col("station_code", "供电所编码", not_null=True),
        col("note", "说明", required=False),
    ]),
    Source("fee", "fee/营销_电费回收_*.csv", "gbk", header_row=2, period="month",
           drop_rows=[("序号", ["合计", "小计"])], columns=[
        col("station_code", "供电单位编码", not_null=True),
        col("station_name", "供电单位名称"),
        col("month", "统计月份", "month", not_null=True, layout="%Y年%m月", strict=True),
        col("billed", "应收电费(元)", "num", not_null=True, also=[("应收电费(万元)", 10000.0)]),
        col("paid", "实收电费(元)", "num", not_null=True, also=[("实收电费(万元)", 10000.0)]),
        col("recovery_rate", "电费回收率", "num", required=False),
    ], checks=[("billed > 0", "应收电费必须大于0"), ("paid <= billed", "实收电费大于应收电费（回收率超过100%）")]),
    Source("collection", "collection/*.xlsx", "xlsx", period="month", columns=[
        col("station_code", "单位编码", not_null=True),
        col("station_name", "单位名称"),
        col("month", "统计月份", "month", not_null=True, layout="%Y%m"),
        col("expected_meters", "应采户数", "int", not_null=True),
        col("collected_meters", "采集成功户数", "int", not_null=True),
        col("success_rate", "采集成功率", "num", required=False),
    ], checks=[("expected_meters > 0", "应采户数必须大于0"), ("collected_meters <= expected_meters", "采集成功户数大于应采户数")]),
    Source("line_loss", "line_loss/台区线损_*.csv", "utf-8-bom", period="month", columns=[
        col("tai_area_id", "台区编号", not_null=True),
        col("tai_area_name", "台区名称"),
        col("station_code", "所属供电所编码", not_null=True),
        col("month", "统计月份", "month", not_null=True, layout="%Y-%m"),
        col("supplied_kwh", "供电量(kWh)", "num", not_null=True),
        col("sold_kwh", "售电量(kWh)", "num", not_null=True),
        col("loss_rate_pct", "线损率(%)", "num", required=False),
    ], checks=[("supplied_kwh >= 0", "供电量为负数"), ("sold_kwh >= 0", "售电量为负数")]),
    Source("work_orders", "work_orders/95598工单_*.csv", "utf-8", period="accepted_at", columns=[
        col("order_id", "工单编号", not_null=True),
        col("accepted_at", "受理时间", "ts", not_null=True, layout="%Y-%m-%d %H:%M:%S"),
        col("order_type", "工单类型", not_null=True),
        col("subtype", "业务子类"),
        col("unit_name", "供电单位", not_null=True),
        col("status", "处理状态"),
    ]),  # its only check is a warning (unknown order type): it rejects nothing
    Source("om_index", "om_index/配网运检指数_*.csv", "utf-8-bom", period="month", columns=[
        col("station_code", "单位编码", not_null=True),
        col("station_name", "单位名称"),
        col("month", "月份", "month", not_null=True, layout="%Y年%m月"),
        col("fault_outage_score", "故障停运率得分", "num"),
        col("defect_clearing_score", "消缺及时率得分", "num"),
        col("overload_score", "重过载治理得分", "num"),
        col("low_voltage_score", "低电压治理得分", "num"),
        col("repair_arrival_score", "抢修到达及时率得分", "num"),
        col("om_index", "综合指数", "num", not_null=True),
    ], checks=[("om_index >= 0 AND om_index <= 100", "综合指数超出0–100")]),
    Source("outages", "outages/停电事件_*.csv", "utf-8-bom", period="start_time", columns=[
        col("event_id", "事件编号", not_null=True),
        col("station_code", "供电所编码", not_null=True),
        col("outage_type", "停电类型"),
        col("start_time", "停电开始时间", "ts", not_null=True, layout="%Y-%m-%d %H:%M"),
        col("end_time", "停电结束时间", "ts", not_null=True, layout="%Y-%m-%d %H:%M"),
        col("customers_affected", "停电户数", "int", not_null=True),
    ], checks=[("end_time > start_time", "停电结束时间不晚于开始时间"), ("customers_affected >= 0", "停电户数为负数")]),
    Source("party_activities", "party/党建活动_*.csv", "gbk", period="start_time", columns=[
        col("branch_name", "支部名称", not_null=True),
        col("activity_type", "活动类型", not_null=True),
        col("topic", "活动主题"),
        col("start_time", "开始时间", "ts", not_null=True, layout="%Y/%m/%d %H:%M"),
        col("end_time", "结束时间", "ts", layout="%Y/%m/%d %H:%M"),
        col("place", "地点"),
        col("expected_attendance", "应到人数", "int"),
        col("actual_attendance", "实到人数", "int"),
        col("recorder", "记录人"),
    ], checks=[("actual_attendance <= expected_attendance", "实到人数多于应到人数"), ("end_time >= start_time", "结束时间早于开始时间")]),
    Source("star_ratings", "party/星级评定_*.csv", "utf-8-bom", period="month", columns=[
        col("branch_name", "支部名称", not_null=True),
        col("member_name", "党员姓名"),
        col("month", "统计月份", "month", not_null=True, layout="%Y-%m"),
        col("stars", "星级", "int"),
        col("safety_points", "安全积分", "num"),
    ], checks=[("stars >= 1 AND stars <= 5", "星级超出1–5")]),
    Source("flags", "party/流动红旗督办_*.csv", "utf-8-bom", period="quarter", columns=[
        col("branch_name", "支部名称", not_null=True),
        col("quarter", "考核季度", "quarter", not_null=True),
        col("flag_type", "类型", not_null=True),
        col("note", "说明"),
    ]),
]

# ── SQL helpers: how exports write values ─────────────────────────────────────────────────

FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
HALF_WIDTH = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)) + " "
FULL_WIDTH_SQL = "'" + FULL_WIDTH.replace("'", "''") + "'"
HALF_WIDTH_SQL = "'" + HALF_WIDTH.replace("'", "''") + "'"

MONTH_FORMATS = "['%Y年%m月', '%Y%m', '%Y-%m', '%Y/%m', '%Y.%m', '%Y-%m-%d', '%Y/%m/%d']"
TS_FORMATS = (
    "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y-%m-%dT%H:%M:%S',"
    " '%Y年%m月%d日 %H:%M:%S', '%Y年%m月%d日 %H:%M', '%Y-%m-%d', '%Y/%m/%d']"
)

QUARTER_RE = r"(\d{4})(?:年第?|[Qq])([1-4一二三四])(?:季度)?"

MACROS = f"""
-- full-width letters, digits, brackets and the ideographic space → ASCII
CREATE OR REPLACE MACRO hw(s) AS translate(s, {FULL_WIDTH_SQL}, {HALF_WIDTH_SQL});
CREATE OR REPLACE MACRO blank(s) AS s IS NULL OR trim(s) = '';
-- "1,234.50" → 1234.5, "98.5%" → 0.985; anything else (--, #N/A, 待核实, NaN) → NULL
CREATE OR REPLACE MACRO num_raw(s) AS
    TRY_CAST(replace(rtrim(trim(s), '%'), ',', '') AS DOUBLE)
    / CASE WHEN ends_with(trim(s), '%') THEN 100 ELSE 1 END;
CREATE OR REPLACE MACRO num(s) AS CASE WHEN isfinite(num_raw(s)) THEN num_raw(s) END;
CREATE OR REPLACE MACRO int_(s) AS
    CASE WHEN NOT contains(s, '.') THEN TRY_CAST(replace(trim(s), ',', '') AS BIGINT)
         WHEN num(s) = trunc(num(s)) THEN CAST(num(s) AS BIGINT) END;
-- "2020年09月", "2020年9月", "202009", "2020-09" → first day of the month
CREATE OR REPLACE MACRO month_(s, layout) AS CAST(coalesce(try_strptime(trim(s), layout), try_strptime(trim(s), {MONTH_FORMATS})) AS DATE);
CREATE OR REPLACE MACRO month_only(s, layout) AS CAST(try_strptime(trim(s), layout) AS DATE);
-- "2020年第3季度", "2020年三季度", "2020Q3" → first day of the quarter
CREATE OR REPLACE MACRO quarter_digit(d) AS
    CASE d WHEN '一' THEN 1 WHEN '二' THEN 2 WHEN '三' THEN 3 WHEN '四' THEN 4 ELSE TRY_CAST(d AS INTEGER) END;
CREATE OR REPLACE MACRO quarter_(s) AS
    CASE WHEN regexp_full_match(replace(s, ' ', ''), '{QUARTER_RE}')
         THEN make_date(CAST(left(replace(s, ' ', ''), 4) AS INTEGER),
                        quarter_digit(regexp_extract(replace(s, ' ', ''), '{QUARTER_RE}', 2)) * 3 - 2, 1) END;
-- local (Beijing) timestamps as written
CREATE OR REPLACE MACRO ts_(s, layout) AS coalesce(try_strptime(trim(s), layout), try_strptime(trim(s), {TS_FORMATS}));
CREATE OR REPLACE MACRO quarter_label(d) AS CAST(year(d) AS VARCHAR) || 'Q' || CAST(quarter(d) AS VARCHAR);
CREATE OR REPLACE MACRO to_utc(local_ts) AS CAST(local_ts - INTERVAL {UTC_OFFSET_HOURS} HOUR AS TIMESTAMPTZ);
CREATE OR REPLACE MACRO fin(x) AS CASE WHEN isfinite(x) THEN x END;

-- station-name normalisation ([identity] of the pipeline): width, spaces, bracketed parts,
-- 中共… prefix, …党支部 / …支部委员会 suffix, 镇/乡 before 供电所
CREATE OR REPLACE MACRO compact(s) AS regexp_replace(hw(s), '\\s+', '', 'g');
CREATE OR REPLACE MACRO drop_township(s) AS regexp_replace(s, '^(.+)[镇乡]供电所$', '\\1供电所');
CREATE OR REPLACE MACRO norm_name(s) AS drop_township(
    regexp_replace(
        regexp_replace(
            regexp_replace(compact(s), '[(\\[【〔][^)\\]】〕]*[)\\]】〕]', '', 'g'),
            '^(中共)+(.)', '\\2'),
        '(.)(党支部|支部委员会)+$', '\\1'));
"""


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def typed_expr(c: Col, raw: str, scale: float = 1.0) -> str:
    """The SQL that turns the text cell `raw` into column c's type (NULL when it does not parse)."""
    kind = c.kind
    if kind == "text":
        return f"nullif(trim({raw}), '')"
    if kind == "int":
        return f"int_({raw})"
    if kind == "num":
        return f"num({raw})" if scale == 1.0 else f"(num({raw}) * {scale!r})"
    if kind == "month":
        if c.strict:
            return f"month_only({raw}, {lit(c.layout)})"
        return f"month_({raw}, {lit(c.layout or '%Y-%m')})"
    if kind == "quarter":
        return f"quarter_({raw})"
    if kind == "ts":
        return f"ts_({raw}, {lit(c.layout or '%Y-%m-%d %H:%M:%S')})"
    raise ValueError(kind)


NULL_OF = {"text": "VARCHAR", "int": "BIGINT", "num": "DOUBLE", "month": "DATE", "quarter": "DATE", "ts": "TIMESTAMP"}


# ── ingest ────────────────────────────────────────────────────────────────────────────────


def transcode_gbk(src: str, dst: str, chunk_chars: int = 1 << 22) -> None:
    """GBK → UTF-8, streaming in chunks (DuckDB reads only UTF-8 without an extension)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "r", encoding="gb18030", newline="") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        while True:
            text = fin.read(chunk_chars)
            if not text:
                break
            fout.write(text)


def register_xlsx(con, files: list[str], view: str) -> list[str]:
    """Reads the workbook(s) with openpyxl (read-only, streaming) into an Arrow table of text
    cells, registered as `view`: one row per non-blank sheet row below the header."""
    import pyarrow as pa
    from openpyxl import load_workbook

    def text(v):
        if v is None:
            return None
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() else repr(v)
        if isinstance(v, (int, str)):
            return str(v)
        if hasattr(v, "isoformat"):
            return v.isoformat(sep=" ")
        return str(v)

    headers: list[str] = []
    data: dict[str, list] = {}
    filenames: list[str] = []
    n = 0
    for path in files:
        book = load_workbook(path, read_only=True, data_only=True)
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            head = next(rows, None)
            if head is None:
                continue
            names = [text(h).strip() if h is not None else f"column{i}" for i, h in enumerate(head)]
            for h in names:
                if h not in data:
                    headers.append(h)
                    data[h] = [None] * n
            for row in rows:
                cells = [text(v) for v in row]
                if all(c is None or c.strip() == "" for c in cells):
                    continue  # blank row
                for h, c in zip(names, cells):
                    data[h].append(c)
                for h in headers:
                    if len(data[h]) <= n:
                        data[h].append(None)
                filenames.append(path)
                n += 1
        book.close()
    table = pa.table({**{h: pa.array(data[h], pa.string()) for h in headers}, "filename": pa.array(filenames, pa.string())})
    con.register(view, table)
    return headers


def ingest_source(con, src: Source, data_dir: str, out_dir: str, scratch: str) -> dict:
    files = sorted(glob.glob(os.path.join(data_dir, src.path)))
    if not files:
        raise SystemExit(f"{src.name}: no files match {os.path.join(data_dir, src.path)}")
    raw_view = f"raw_{src.name}"
    if src.encoding == "xlsx":
        register_xlsx(con, files, raw_view)
        filename_expr = "filename"
    else:
        readable = files
        filename_expr = "filename"
        if src.encoding == "gbk":
            readable = []
            for f in files:
                dst = os.path.join(scratch, os.path.relpath(f, data_dir))
                transcode_gbk(f, dst)
                readable.append(dst)
            filename_expr = f"replace(filename, {lit(scratch)}, {lit(data_dir)})"
        file_list = "[" + ", ".join(lit(f) for f in readable) + "]"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {raw_view} AS SELECT * FROM read_csv({file_list}, header = true, all_varchar = true,"
            f" delim = ',', quote = '\"', skip = {src.header_row - 1}, union_by_name = true, filename = true)"
        )
    raw_columns = [r[0] for r in con.execute(f"DESCRIBE {raw_view}").fetchall() if r[0] != "filename"]

    # Typed columns, in order; an alternative header (万元) carries its own scale.
    select, failures = [], []
    for c in src.columns:
        present = [(h, s) for h, s in c.headers if h in raw_columns]
        if not present:
            if c.required:
                raise SystemExit(f"{src.name}: column '{c.headers[0][0]}' is missing; headers there: {', '.join(raw_columns)}")
            select.append(f"CAST(NULL AS {NULL_OF[c.kind]}) AS {c.name}")
            continue
        if len(present) == 1:
            raw = q(present[0][0])
            typed = typed_expr(c, raw, present[0][1])
        else:  # a file has one of the headers; its value is scaled by that header's scale
            raw = "coalesce(" + ", ".join(q(h) for h, _ in present) + ")"
            typed = "CASE " + " ".join(f"WHEN NOT blank({q(h)}) THEN {typed_expr(c, q(h), s)}" for h, s in present) + " END"
        select.append(f"{typed} AS {c.name}")
        if c.not_null:
            failures.append((f"blank({raw})", f"{present[0][0]}: value is missing"))
        if c.kind != "text":
            failures.append((f"NOT blank({raw}) AND {c.name} IS NULL", f"{present[0][0]}: not a valid {c.kind}"))
    drop_conditions = []
    for header, prefixes in src.drop_rows:
        if header in raw_columns:
            drop_conditions += [f"starts_with(trim({q(header)}), {lit(p)})" for p in prefixes]
    reason = "CASE"
    if drop_conditions:
        reason += f" WHEN {' OR '.join(drop_conditions)} THEN 'drop rule'"
    for cond, message in failures:
        reason += f" WHEN {cond} THEN {lit(message)}"
    for rule, message in src.checks:
        reason += f" WHEN NOT coalesce({rule}, true) THEN {lit(message)}"
    reason += " END"
    kind = f"CASE WHEN {' OR '.join(drop_conditions)} THEN 'dropped' WHEN reason IS NOT NULL THEN 'rejected' END" if drop_conditions else "CASE WHEN reason IS NOT NULL THEN 'rejected' END"
    period_col = next((c for c in src.columns if c.name == src.period), None)
    period = f"quarter_label({src.period})" if period_col else "NULL"
    raw_list = ", ".join(q(h) for h in raw_columns)
    not_blank = "coalesce(" + ", ".join(f"nullif(trim({q(h)}), '')" for h in raw_columns) + ") IS NOT NULL"

    # One pass over the export: typed values, why a row is not accepted, its quarter.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE t_{src.name} AS"
        f" SELECT *, {kind} AS kind, {period} AS period FROM ("
        f"  SELECT *, {reason} AS reason FROM ("
        f"   SELECT {', '.join(select)}, {raw_list}, {filename_expr} AS source_file FROM {raw_view} WHERE {not_blank}))"
    )

    # Accepted rows: exact duplicates (same cells as written) kept once.
    out_cols = ", ".join(f"to_utc({c.name}) AS {c.name}" if c.kind == "ts" else c.name for c in src.columns)
    accepted = f"SELECT DISTINCT ON ({raw_list}) {out_cols}, source_file, period FROM t_{src.name} WHERE kind IS NULL"
    target = os.path.join(out_dir, "curated", src.name)
    if src.period:
        con.execute(f"COPY ({accepted}) TO {lit(target)} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (period), OVERWRITE_OR_IGNORE true)")
        written = os.path.join(target, "*", "*.parquet")
    else:
        os.makedirs(target, exist_ok=True)
        written = os.path.join(target, "data.parquet")
        con.execute(f"COPY ({accepted.replace(', period FROM', ' FROM')}) TO {lit(written)} (FORMAT parquet, COMPRESSION snappy)")
    counts = con.execute(
        f"SELECT count(*), count(*) FILTER (kind = 'rejected'), count(*) FILTER (kind = 'dropped'), count(*) FILTER (kind IS NULL) FROM t_{src.name}"
    ).fetchall()[0]
    accepted_rows = con.execute(f"SELECT count(*) FROM read_parquet({lit(written)})").fetchall()[0][0]
    con.execute(f"INSERT INTO rejects SELECT {lit(src.name)}, source_file, kind, reason FROM t_{src.name} WHERE kind IS NOT NULL")
    con.execute(f"DROP TABLE t_{src.name}")
    if src.encoding == "xlsx":
        con.unregister(raw_view)
    else:
        con.execute(f"DROP VIEW {raw_view}")
    read, rejected, dropped, ok = counts
    return {"read": read, "accepted": accepted_rows, "rejected": rejected, "dropped": dropped, "duplicates": ok - accepted_rows}


def ingest(con, data_dir: str, out_dir: str) -> dict:
    scratch = os.path.join(out_dir, ".utf8")
    con.execute("CREATE OR REPLACE TEMP TABLE rejects (source VARCHAR, file VARCHAR, kind VARCHAR, reason VARCHAR)")
    rows = {}
    for src in SOURCES:
        rows[src.name] = ingest_source(con, src, data_dir, out_dir, scratch)
    os.makedirs(os.path.join(out_dir, "quality"), exist_ok=True)
    con.execute(f"COPY rejects TO {lit(os.path.join(out_dir, 'quality', 'rejects.parquet'))} (FORMAT parquet)")
    con.execute("DROP TABLE rejects")
    shutil.rmtree(scratch, ignore_errors=True)
    return rows


# ── panel ─────────────────────────────────────────────────────────────────────────────────

INDICATORS = {  # name → better
    "fee_recovery": "higher",
    "data_collection": "higher",
    "line_loss_compliance": "higher",
    "complaint_control": "lower",
    "om_index": "higher",
    "reliability": "higher",
}
FEATURES = [
    "sanliang_sanbi", "safety_study", "service_team", "activities_per_member", "attendance_rate",
    "activity_hours", "mean_stars", "safety_points", "red_flags", "supervised",
]
MEASURE_SOURCES = ["fee", "collection", "line_loss", "work_orders", "om_index", "outages", "party_activities", "star_ratings", "flags"]


def partitions(out_dir: str, source: str) -> list[str]:
    return sorted(p.split("period=", 1)[1] for p in glob.glob(os.path.join(out_dir, "curated", source, "period=*")))


def panel(con, out_dir: str) -> dict:
    cur = os.path.join(out_dir, "curated")
    con.execute(f"CREATE OR REPLACE VIEW c_stations AS SELECT * FROM read_parquet({lit(os.path.join(cur, 'stations', 'data.parquet'))})")
    con.execute(f"CREATE OR REPLACE VIEW c_aliases AS SELECT * FROM read_parquet({lit(os.path.join(cur, 'aliases', 'data.parquet'))})")
    for s in MEASURE_SOURCES:
        con.execute(
            f"CREATE OR REPLACE VIEW c_{s} AS SELECT * FROM read_parquet({lit(os.path.join(cur, s, '*', '*.parquet'))},"
            f" hive_partitioning = true, hive_types = {{'period': VARCHAR}})"
        )

    # The grid: every station × every quarter any measure source covers; which source covers
    # which quarter decides whether an absent station means "0" (fill) or "missing export".
    coverage = [(s, p) for s in MEASURE_SOURCES for p in partitions(out_dir, s)]
    con.execute("CREATE OR REPLACE TEMP TABLE coverage (source VARCHAR, period VARCHAR)")
    con.executemany("INSERT INTO coverage VALUES (?, ?)", coverage)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE periods AS
        SELECT period, y * 4 + qn - 1 AS ordinal, start_local,
               CAST(start_local - INTERVAL {UTC_OFFSET_HOURS} HOUR AS TIMESTAMPTZ) AS start_utc,
               CAST(start_local + INTERVAL 3 MONTH - INTERVAL {UTC_OFFSET_HOURS} HOUR AS TIMESTAMPTZ) AS end_utc,
               epoch(start_local + INTERVAL 3 MONTH) / 3600.0 - epoch(start_local) / 3600.0 AS hours
        FROM (SELECT period, CAST(left(period, 4) AS INTEGER) AS y, CAST(right(period, 1) AS INTEGER) AS qn,
                     CAST(make_date(CAST(left(period, 4) AS INTEGER), CAST(right(period, 1) AS INTEGER) * 3 - 2, 1) AS TIMESTAMP) AS start_local
              FROM (SELECT DISTINCT period FROM coverage))
    """)

    # ── station identity: names and branch names → station codes ──
    con.execute("""
        CREATE OR REPLACE TEMP TABLE station_spelling AS
        SELECT station_code, station_name AS spelling FROM c_stations WHERE station_name IS NOT NULL
        UNION SELECT station_code, branch_name FROM c_stations WHERE branch_name IS NOT NULL
        UNION SELECT s.station_code, a.spelling FROM c_aliases a JOIN c_stations s ON s.station_code = trim(a.station_code)
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE county_form AS
        SELECT DISTINCT form FROM (
            SELECT unnest([c, regexp_replace(c, '(自治县)+$', ''), regexp_replace(c, '[县市]+$', '')]) AS form
            FROM (SELECT DISTINCT compact(county) AS c FROM c_stations WHERE county IS NOT NULL)
            UNION ALL SELECT '塔县')
        WHERE length(form) >= 2
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE spelling_key AS
        WITH s AS (
            SELECT spelling FROM station_spelling
            UNION SELECT DISTINCT unit_name FROM c_work_orders
            UNION SELECT DISTINCT branch_name FROM c_party_activities
            UNION SELECT DISTINCT branch_name FROM c_star_ratings
            UNION SELECT DISTINCT branch_name FROM c_flags),
        k AS (SELECT spelling, trim(spelling) AS exact, norm_name(spelling) AS nkey FROM s)
        SELECT k.*,
               -- the key without a leading county name, when at least two characters remain before 供电所
               (SELECT arg_max(drop_township(substr(k.nkey, length(f.form) + 1)), length(f.form))
                FROM county_form f
                WHERE starts_with(k.nkey, f.form)
                  AND length(regexp_replace(substr(k.nkey, length(f.form) + 1), '供电所$', '')) >= 2) AS cfkey
        FROM k
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE resolved AS
        WITH sk AS (SELECT st.station_code, k.* FROM station_spelling st JOIN spelling_key k USING (spelling)),
        by_exact AS (SELECT exact, any_value(station_code) AS code FROM sk GROUP BY exact HAVING count(DISTINCT station_code) = 1),
        by_norm AS (SELECT nkey, any_value(station_code) AS code FROM sk WHERE nkey <> '' GROUP BY nkey HAVING count(DISTINCT station_code) = 1),
        by_cf AS (SELECT cfkey, any_value(station_code) AS code FROM sk WHERE cfkey IS NOT NULL GROUP BY cfkey HAVING count(DISTINCT station_code) = 1)
        SELECT k.spelling, coalesce(e.code, n.code, n2.code, c.code) AS station_id
        FROM spelling_key k
        LEFT JOIN by_exact e ON e.exact = k.exact
        LEFT JOIN by_norm n ON n.nkey = k.nkey
        LEFT JOIN by_norm n2 ON n2.nkey = k.cfkey
        LEFT JOIN by_cf c ON c.cfkey = k.cfkey
    """)

    # Rows of each measure source with their station_id (rows of unknown stations drop out).
    for s in ["fee", "collection", "line_loss", "om_index", "outages"]:
        con.execute(f"CREATE OR REPLACE TEMP VIEW r_{s} AS SELECT st.station_code AS station_id, x.* FROM c_{s} x JOIN c_stations st ON st.station_code = trim(x.station_code)")
    con.execute("CREATE OR REPLACE TEMP VIEW r_work_orders AS SELECT r.station_id, x.* FROM c_work_orders x JOIN resolved r ON r.spelling = x.unit_name WHERE r.station_id IS NOT NULL")
    for s in ["party_activities", "star_ratings", "flags"]:
        con.execute(f"CREATE OR REPLACE TEMP VIEW r_{s} AS SELECT r.station_id, x.* FROM c_{s} x JOIN resolved r ON r.spelling = x.branch_name WHERE r.station_id IS NOT NULL")
    unmatched = {}
    for s, key in [("work_orders", "unit_name"), ("party_activities", "branch_name"), ("star_ratings", "branch_name"), ("flags", "branch_name")]:
        spellings, rows = con.execute(
            f"SELECT count(DISTINCT x.{key}), count(*) FROM c_{s} x JOIN resolved r ON r.spelling = x.{key} WHERE r.station_id IS NULL"
        ).fetchall()[0]
        unmatched[s] = {"spellings": spellings, "rows": rows}

    # ── indicators and features: one SQL aggregate each, as the pipeline states them ──
    con.execute("""
        CREATE OR REPLACE TEMP TABLE m_fee AS
        SELECT station_id, period, sum(paid) / sum(billed) AS fee_recovery FROM r_fee GROUP BY ALL;

        CREATE OR REPLACE TEMP TABLE m_collection AS
        SELECT station_id, period, sum(collected_meters) / sum(expected_meters) AS data_collection FROM r_collection GROUP BY ALL;

        -- a 台区 qualifies when its loss over the quarter, (supplied − sold) ÷ supplied, is 0–10 %
        CREATE OR REPLACE TEMP TABLE m_line_loss AS
        WITH t AS (SELECT station_id, period, tai_area_id, sum(supplied_kwh) AS supplied, sum(sold_kwh) AS sold
                   FROM r_line_loss GROUP BY ALL)
        SELECT station_id, period,
               avg(CASE WHEN supplied > 0 AND (supplied - sold) / supplied >= 0 AND (supplied - sold) / supplied <= 0.10
                        THEN 1.0 ELSE 0.0 END) AS line_loss_compliance
        FROM t GROUP BY ALL;

        -- complaints (投诉, 意见, 举报) per 10 000 customers per month
        CREATE OR REPLACE TEMP TABLE m_work_orders AS
        SELECT w.station_id, w.period,
               sum(CASE WHEN order_type IN ('投诉', '意见', '举报') THEN 1.0 ELSE 0.0 END) / max(st.customers) * 10000 / 3 AS complaint_control  -- 3 months
        FROM r_work_orders w JOIN c_stations st ON st.station_code = w.station_id GROUP BY ALL;

        CREATE OR REPLACE TEMP TABLE m_om_index AS
        SELECT station_id, period, avg(om_index) AS om_index FROM r_om_index GROUP BY ALL;

        -- RS-1 = 1 − Σ(outage hours inside the quarter × customers affected) ÷ (customers × hours of the quarter)
        CREATE OR REPLACE TEMP TABLE m_outages AS
        WITH split AS (
            SELECT o.station_id, p.period, o.customers_affected, p.hours AS period_hours,
                   epoch(least(o.end_time, p.end_utc) - greatest(o.start_time, p.start_utc)) / 3600.0 AS overlap_hours
            FROM r_outages o JOIN periods p ON o.start_time < p.end_utc AND o.end_time > p.start_utc)
        SELECT s.station_id, s.period,
               1 - sum(overlap_hours * customers_affected) / (max(st.customers) * max(period_hours)) AS reliability
        FROM split s JOIN c_stations st ON st.station_code = s.station_id GROUP BY ALL;

        CREATE OR REPLACE TEMP TABLE m_party AS
        SELECT a.station_id, a.period,
               sum(CASE WHEN activity_type = '三亮三比' THEN 1.0 ELSE 0.0 END) AS sanliang_sanbi,
               sum(CASE WHEN activity_type = '安全学习' THEN 1.0 ELSE 0.0 END) AS safety_study,
               sum(CASE WHEN activity_type = '共产党员服务队' THEN 1.0 ELSE 0.0 END) AS service_team,
               count(*) / max(st.party_members) AS activities_per_member,
               sum(actual_attendance) / sum(expected_attendance) AS attendance_rate
        FROM r_party_activities a JOIN c_stations st ON st.station_code = a.station_id GROUP BY ALL;

        -- activity hours clipped to the quarter
        CREATE OR REPLACE TEMP TABLE m_party_hours AS
        SELECT a.station_id, p.period,
               sum(epoch(least(a.end_time, p.end_utc) - greatest(a.start_time, p.start_utc)) / 3600.0) AS activity_hours
        FROM r_party_activities a JOIN periods p ON a.start_time < p.end_utc AND a.end_time > p.start_utc GROUP BY ALL;

        CREATE OR REPLACE TEMP TABLE m_stars AS
        SELECT station_id, period, avg(stars) AS mean_stars, avg(safety_points) AS safety_points FROM r_star_ratings GROUP BY ALL;

        CREATE OR REPLACE TEMP TABLE m_flags AS
        SELECT station_id, period,
               sum(CASE WHEN flag_type = '流动红旗' THEN 1.0 ELSE 0.0 END) AS red_flags,
               max(CASE WHEN flag_type = '挂牌督办' THEN 1.0 ELSE 0.0 END) AS supervised
        FROM r_flags GROUP BY ALL;
    """)

    # A station with no rows in a quarter its source covers: complaints 0, reliability 1,
    # flags 0 (the pipeline's `fill`); everything else stays empty.
    def filled(table, column, source, value):
        return (f"CASE WHEN {table}.station_id IS NULL AND p.period IN (SELECT period FROM coverage WHERE source = '{source}')"
                f" THEN {value} ELSE fin({table}.{column}) END AS {column}")

    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE panel0 AS
        SELECT st.station_code AS station_id, st.station_name, st.county, p.period, CAST(p.start_local AS DATE) AS period_start, p.ordinal,
               CAST(st.customers AS DOUBLE) AS customers, ln(st.customers) AS log_customers, CAST(st.tai_areas AS DOUBLE) AS tai_areas,
               fin(fee.fee_recovery) AS fee_recovery,
               fin(col.data_collection) AS data_collection,
               fin(ll.line_loss_compliance) AS line_loss_compliance,
               {filled('wo', 'complaint_control', 'work_orders', '0.0')},
               fin(om.om_index) AS om_index,
               {filled('ou', 'reliability', 'outages', '1.0')},
               fin(pa.sanliang_sanbi) AS sanliang_sanbi, fin(pa.safety_study) AS safety_study, fin(pa.service_team) AS service_team,
               fin(pa.activities_per_member) AS activities_per_member, fin(pa.attendance_rate) AS attendance_rate,
               fin(ph.activity_hours) AS activity_hours,
               fin(sr.mean_stars) AS mean_stars, fin(sr.safety_points) AS safety_points,
               {filled('fl', 'red_flags', 'flags', '0.0')},
               {filled('fl', 'supervised', 'flags', '0.0')}
        FROM c_stations st CROSS JOIN periods p
        LEFT JOIN m_fee fee ON fee.station_id = st.station_code AND fee.period = p.period
        LEFT JOIN m_collection col ON col.station_id = st.station_code AND col.period = p.period
        LEFT JOIN m_line_loss ll ON ll.station_id = st.station_code AND ll.period = p.period
        LEFT JOIN m_work_orders wo ON wo.station_id = st.station_code AND wo.period = p.period
        LEFT JOIN m_om_index om ON om.station_id = st.station_code AND om.period = p.period
        LEFT JOIN m_outages ou ON ou.station_id = st.station_code AND ou.period = p.period
        LEFT JOIN m_party pa ON pa.station_id = st.station_code AND pa.period = p.period
        LEFT JOIN m_party_hours ph ON ph.station_id = st.station_code AND ph.period = p.period
        LEFT JOIN m_stars sr ON sr.station_id = st.station_code AND sr.period = p.period
        LEFT JOIN m_flags fl ON fl.station_id = st.station_code AND fl.period = p.period
        WHERE st.station_name IS NOT NULL
    """)
    # Lag 1: last calendar quarter of the same station, never the previous row.
    lags = ", ".join(f"l.{f} AS {f}_lag1" for f in FEATURES)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE panel AS
        SELECT p.* EXCLUDE (ordinal), {lags}
        FROM panel0 p LEFT JOIN panel0 l ON l.station_id = p.station_id AND l.ordinal = p.ordinal - 1
        ORDER BY p.station_id, p.period
    """)
    con.execute(f"COPY panel TO {lit(os.path.join(out_dir, 'panel.parquet'))} (FORMAT parquet, COMPRESSION snappy)")
    rows = con.execute("SELECT count(*) FROM panel").fetchall()[0][0]
    for t in ["m_fee", "m_collection", "m_line_loss", "m_work_orders", "m_om_index", "m_outages", "m_party", "m_party_hours", "m_stars", "m_flags", "panel0", "panel"]:
        con.execute(f"DROP TABLE {t}")
    return {"panel_rows": rows, "unmatched": unmatched}


# ── correlations ──────────────────────────────────────────────────────────────────────────


def correlate(con, out_dir: str) -> int:
    feature_cols = ", ".join(FEATURES + [f"{f}_lag1" for f in FEATURES])
    indicator_cols = ", ".join(INDICATORS)
    better = " ".join(f"WHEN '{k}' THEN {1 if v == 'higher' else -1}" for k, v in INDICATORS.items())
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE correlations AS
        WITH p AS (SELECT * FROM read_parquet({lit(os.path.join(out_dir, 'panel.parquet'))})),
        f AS (UNPIVOT (SELECT station_id, period, {feature_cols} FROM p) ON COLUMNS(* EXCLUDE (station_id, period)) INTO NAME feature VALUE x),
        i AS (UNPIVOT (SELECT station_id, period, {indicator_cols} FROM p) ON COLUMNS(* EXCLUDE (station_id, period)) INTO NAME indicator VALUE y),
        pairs AS (
            SELECT regexp_replace(f.feature, '_lag1$', '') AS feature, CASE WHEN f.feature LIKE '%\\_lag1' ESCAPE '\\' THEN 1 ELSE 0 END AS lag,
                   i.indicator, f.station_id, x, y
            FROM f JOIN i USING (station_id, period)),
        -- within stations: each value's departure from its station's mean (repeated-measures r)
        demeaned AS (
            SELECT *, x - avg(x) OVER w AS dx, y - avg(y) OVER w AS dy
            FROM pairs WINDOW w AS (PARTITION BY feature, lag, indicator, station_id)),
        station_means AS (SELECT feature, lag, indicator, station_id, count(*) AS rows, avg(x) AS mx, avg(y) AS my FROM pairs GROUP BY ALL),
        r AS (
            SELECT feature, lag, indicator, 'pooled' AS scope, count(*) AS n, count(DISTINCT station_id) AS n_stations,
                   CASE WHEN var_pop(x) > 1e-20 * avg(x * x) AND var_pop(y) > 1e-20 * avg(y * y) THEN corr(x, y) END AS r,
                   count(*) - 2 AS df
            FROM pairs GROUP BY ALL
            UNION ALL
            SELECT feature, lag, indicator, 'within', count(*), count(DISTINCT station_id),
                   CASE WHEN var_pop(dx) > 1e-20 * avg(x * x) AND var_pop(dy) > 1e-20 * avg(y * y) THEN corr(dx, dy) END,
                   count(*) - count(DISTINCT station_id) - 1
            FROM demeaned GROUP BY ALL
            UNION ALL
            SELECT feature, lag, indicator, 'between', CAST(sum(rows) AS BIGINT), count(*),
                   CASE WHEN var_pop(mx) > 1e-20 * avg(mx * mx) AND var_pop(my) > 1e-20 * avg(my * my) THEN corr(mx, my) END,
                   count(*) - 2
            FROM station_means GROUP BY ALL)
        SELECT indicator, feature, scope, 'pearson' AS method, lag, n, n_stations,
               CASE WHEN n >= 10 AND df >= 2 THEN r END AS r,
               CASE WHEN n >= 10 AND df >= 2 AND abs(r) < 1 THEN tanh(atanh(r) - 1.959963984540054 / sqrt(df - 1)) END AS ci_low,
               CASE WHEN n >= 10 AND df >= 2 AND abs(r) < 1 THEN tanh(atanh(r) + 1.959963984540054 / sqrt(df - 1)) END AS ci_high,
               CASE WHEN n >= 10 AND df >= 2 THEN df END AS df,
               CASE WHEN n >= 10 AND df >= 2 THEN r * CASE indicator {better} END END AS r_better
        FROM r
        ORDER BY indicator, feature, lag, scope
    """)
    # DuckDB has no t distribution: the p-values of the few hundred coefficients in Python.
    import pyarrow as pa

    tests = con.execute("SELECT indicator, feature, scope, lag, r, df FROM correlations").fetchall()
    con.register("p_values", pa.table({
        "indicator": [t[0] for t in tests], "feature": [t[1] for t in tests], "scope": [t[2] for t in tests], "lag": [t[3] for t in tests],
        "p_value": pa.array([t_test_p(t[4], t[5]) for t in tests], pa.float64()),
    }))
    con.execute(f"""
        COPY (SELECT c.* EXCLUDE (df, r_better), p.p_value, c.r_better
              FROM correlations c JOIN p_values p USING (indicator, feature, scope, lag)
              ORDER BY indicator, feature, lag, scope)
        TO {lit(os.path.join(out_dir, 'correlations.parquet'))} (FORMAT parquet, COMPRESSION snappy)
    """)
    n = len(tests)
    con.unregister("p_values")
    con.execute("DROP TABLE correlations")
    return n


# ── main ──────────────────────────────────────────────────────────────────────────────────


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder laid out like sample_data/")
    ap.add_argument("--out", required=True, help="output folder (replaced)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="DuckDB threads (default: all cores)")
    args = ap.parse_args()
    data_dir, out_dir = os.path.abspath(args.data), os.path.abspath(args.out)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = {lit(os.path.join(out_dir, '.duckdb_tmp'))}")
    con.execute(MACROS)

    stages: list = []
    with Stage("ingest", stages):
        rows = ingest(con, data_dir, out_dir)
    with Stage("panel", stages):
        built = panel(con, out_dir)
    with Stage("correlate", stages):
        n_corr = correlate(con, out_dir)
    con.close()
    shutil.rmtree(os.path.join(out_dir, ".duckdb_tmp"), ignore_errors=True)

    print(json.dumps({
        "tool": "duckdb",
        "duckdb_version": duckdb.__version__,
        "threads": args.threads,
        "stages": stages,
        "rows": rows,
        "panel_rows": built["panel_rows"],
        "unmatched": built["unmatched"],
        "correlations": n_corr,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

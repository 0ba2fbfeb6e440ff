#!/usr/bin/env python3
"""The quarterly job of pipelines/kashgar_quarterly.toml, done the way an analyst fluent in Polars
would do it: lazy scans, expressions, and `sink_parquet` into hive partitions by quarter. It reads
the same exports and applies the same rules as bench/duckdb_job.py, and writes the same panel and
Pearson correlations.

    python3 bench/polars_job.py --data DIR --out DIR [--threads N]

DIR is laid out like sample_data/. Three stages, each timed (wall seconds) with the process's
peak RSS during the stage:

  ingest     every export → typed, checked, de-duplicated rows, written as hive-partitioned
             Parquet by quarter (OUT/curated/<source>/period=2020Q3/...), quarantine in
             OUT/quality/rejects.parquet (source, file, line, kind, reason)
  panel      the six indicators and the party features per station × quarter, station names
             resolved to codes, lag-1 features → OUT/panel.parquet
  correlate  Pearson r pooled / within-station / between-station for every feature × indicator ×
             lag, Fisher-z CI and p-value → OUT/correlations.parquet

One JSON object is printed on stdout at the end, with the same keys as the DuckDB job's.

Every rule the DuckDB job applies is expressible in Polars (titles, 合计 lines, 万元 columns,
number, month, quarter and timestamp layouts, not-null, checks, exact duplicates), so the row
accounting (read / accepted / rejected / dropped / duplicates) is the same as the DuckDB job's.

What Polars expresses here that the DuckDB job cannot: the line each row came from. Blank lines
come through Polars' CSV reader as empty rows, so a row's index plus the header line is its line
in the file (`source_row`, in the curated data and the quarantine), as long as no quoted field
spans lines (none in these exports). Rows of the workbook carry their sheet row.

What it cannot express, and does another way:
- GBK. Polars' CSV reader reads UTF-8 only; `read_csv(encoding="gb18030")` decodes the whole
  file in Python first and parses it eagerly, so the two GBK sources (fee, party activities) are
  read eagerly, file by file, inside the timed stage.
- One-digit months. Polars' `strptime` wants `%m` as two digits ("2019年1月" does not
  parse with "%Y年%m月"), so a month written with one digit is padded with a regex first.
- Falling back to other layouts only where the first fails. Expressions evaluate every branch,
  so the fallback layouts parse a column that is null wherever the export's own layout worked.
- The XLSX workbook is read with `read_excel` (calamine, through fastexcel) eagerly, every sheet,
  every cell as text.
- The t distribution: the p-values of the few hundred coefficients are computed in Python
  (bench/jobkit.py), as in the DuckDB job.
What it does not do, like the DuckDB job: it counts rejects but never stops on a reject share, it
treats an ambiguous spelling as unmatched, and numbers follow Polars' `cast(Float64)` (a
misplaced separator such as "1,23" is accepted once the commas are removed).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
from dataclasses import dataclass, field


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder laid out like sample_data/")
    ap.add_argument("--out", required=True, help="output folder (replaced)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="Polars threads (default: all cores)")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()
    os.environ["POLARS_MAX_THREADS"] = str(ARGS.threads)  # read once, when polars is imported

import polars as pl  # noqa: E402

from jobkit import Stage, t_test_p  # noqa: E402

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


c = pl.col


@dataclass
class Source:
    name: str
    path: str  # glob relative to --data
    encoding: str = "utf-8"  # utf-8 | utf-8-bom | gbk | xlsx
    header_row: int = 1
    columns: list = field(default_factory=list)
    checks: list = field(default_factory=list)  # (expression over typed columns, message); null passes
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
    ], checks=[(c.customers > 0, "用户数必须大于0")]),
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
    ], checks=[(c.billed > 0, "应收电费必须大于0"), (c.paid <= c.billed, "实收电费大于应收电费（回收率超过100%）")]),
    Source("collection", "collection/*.xlsx", "xlsx", period="month", columns=[
        col("station_code", "单位编码", not_null=True),
        col("station_name", "单位名称"),
        col("month", "统计月份", "month", not_null=True, layout="%Y%m"),
        col("expected_meters", "应采户数", "int", not_null=True),
        col("collected_meters", "采集成功户数", "int", not_null=True),
        col("success_rate", "采集成功率", "num", required=False),
    ], checks=[(c.expected_meters > 0, "应采户数必须大于0"), (c.collected_meters <= c.expected_meters, "采集成功户数大于应采户数")]),
    Source("line_loss", "line_loss/台区线损_*.csv", "utf-8-bom", period="month", columns=[
        col("tai_area_id", "台区编号", not_null=True),
        col("tai_area_name", "台区名称"),
        col("station_code", "所属供电所编码", not_null=True),
        col("month", "统计月份", "month", not_null=True, layout="%Y-%m"),
        col("supplied_kwh", "供电量(kWh)", "num", not_null=True),
        col("sold_kwh", "售电量(kWh)", "num", not_null=True),
        col("loss_rate_pct", "线损率(%)", "num", required=False),
    ], checks=[(c.supplied_kwh >= 0, "供电量为负数"), (c.sold_kwh >= 0, "售电量为负数")]),
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
    ], checks=[((c.om_index >= 0) & (c.om_index <= 100), "综合指数超出0–100")]),
    Source("outages", "outages/停电事件_*.csv", "utf-8-bom", period="start_time", columns=[
        col("event_id", "事件编号", not_null=True),
        col("station_code", "供电所编码", not_null=True),
        col("outage_type", "停电类型"),
        col("start_time", "停电开始时间", "ts", not_null=True, layout="%Y-%m-%d %H:%M"),
        col("end_time", "停电结束时间", "ts", not_null=True, layout="%Y-%m-%d %H:%M"),
        col("customers_affected", "停电户数", "int", not_null=True),
    ], checks=[(c.end_time > c.start_time, "停电结束时间不晚于开始时间"), (c.customers_affected >= 0, "停电户数为负数")]),
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
    ], checks=[(c.actual_attendance <= c.expected_attendance, "实到人数多于应到人数"), (c.end_time >= c.start_time, "结束时间早于开始时间")]),
    Source("star_ratings", "party/星级评定_*.csv", "utf-8-bom", period="month", columns=[
        col("branch_name", "支部名称", not_null=True),
        col("member_name", "党员姓名"),
        col("month", "统计月份", "month", not_null=True, layout="%Y-%m"),
        col("stars", "星级", "int"),
        col("safety_points", "安全积分", "num"),
    ], checks=[((c.stars >= 1) & (c.stars <= 5), "星级超出1–5")]),
    Source("flags", "party/流动红旗督办_*.csv", "utf-8-bom", period="quarter", columns=[
        col("branch_name", "支部名称", not_null=True),
        col("quarter", "考核季度", "quarter", not_null=True),
        col("flag_type", "类型", not_null=True),
        col("note", "说明"),
    ]),
]

# ── expressions: how exports write values ─────────────────────────────────────────────────

FULL_WIDTH = [chr(x) for x in range(0xFF01, 0xFF5F)] + ["\u3000"]
HALF_WIDTH = [chr(x - 0xFEE0) for x in range(0xFF01, 0xFF5F)] + [" "]

MONTH_FORMATS = ["%Y年%m月", "%Y%m", "%Y-%m", "%Y/%m", "%Y.%m", "%Y-%m-%d", "%Y/%m/%d"]
TS_FORMATS = [
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y-%m-%d", "%Y/%m/%d",
]
QUARTER_RE = r"^(\d{4})(?:年第?|[Qq])([1-4一二三四])(?:季度)?$"
QUARTER_DIGIT = {"1": 1, "2": 2, "3": 3, "4": 4, "一": 1, "二": 2, "三": 3, "四": 4}


# Every parse below takes the fast path first (a plain cast or the export's own layout) and
# runs the cleaning only on the cells it left null: expressions evaluate every branch, so the
# slow branch is fed a column that is null wherever the fast one worked.


def only_where(cond: pl.Expr, e: pl.Expr) -> pl.Expr:
    return pl.when(cond).then(e)


def trimmed(e: pl.Expr) -> pl.Expr:
    """Leading and trailing spaces removed (as SQL's trim)."""
    padded = e.str.starts_with(" ") | e.str.ends_with(" ")
    return pl.when(padded).then(e.str.strip_chars(" ")).otherwise(e)


def blank(e: pl.Expr) -> pl.Expr:
    return e.is_null() | (trimmed(e).str.len_bytes() == 0)


def text(e: pl.Expr) -> pl.Expr:
    t = trimmed(e)
    return pl.when(t.str.len_bytes() > 0).then(t)


def clean_num(e: pl.Expr) -> pl.Expr:
    """"1,234.50" → 1234.5, " 98.5% " → 0.985; anything else (--, #N/A, 待核实) → null."""
    t = e.str.strip_chars(" ")
    v = t.str.strip_chars_end("%").str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    return pl.when(t.str.ends_with("%")).then(v / 100).otherwise(v)


def num(e: pl.Expr) -> pl.Expr:
    fast = e.cast(pl.Float64, strict=False)
    v = pl.coalesce(fast, clean_num(only_where(fast.is_null(), e)))
    return pl.when(v.is_finite()).then(v)  # NaN and inf are not numbers here


def int_(e: pl.Expr) -> pl.Expr:
    """"1,234" → 1234, "12.0" → 12; "12.5" → null."""
    fast = e.cast(pl.Int64, strict=False)
    slow = only_where(fast.is_null(), e)
    t = slow.str.strip_chars(" ")
    n = num(slow)
    return pl.coalesce(
        fast,
        pl.when(~t.str.contains(".", literal=True)).then(t.str.replace_all(",", "", literal=True).cast(pl.Int64, strict=False))
        .when(n == n.floor()).then(n.cast(pl.Int64, strict=False)),
    )


def pad_month(t: pl.Expr) -> pl.Expr:
    """"2019年1月" → "2019年01月", "2019/1" → "2019/01": strptime's %m wants two digits."""
    return t.str.replace(r"^(\d{4})(\D+)(\d)(\D.*)?$", "${1}${2}0${3}${4}")


def parse_first(e: pl.Expr, dtype, layouts: list[str], pad: bool = False) -> pl.Expr:
    """The first layout that parses: the export's own on the cell as written, then (on what that
    left) every layout on the trimmed cell, months padded to two digits."""
    first = e.str.strptime(dtype, layouts[0], strict=False)
    rest = trimmed(only_where(first.is_null(), e))
    if pad:
        rest = pad_month(rest)
    later = [rest.str.strptime(dtype, layout, strict=False) for layout in layouts]
    if dtype == pl.Date:
        later = [d.dt.month_start() for d in later]  # "2019-01-05" is the month 2019-01
    return pl.coalesce([first] + later)


def month_(e: pl.Expr, layout: str, strict: bool) -> pl.Expr:
    layouts = [layout] if strict else [layout] + [f for f in MONTH_FORMATS if f != layout]
    return parse_first(e, pl.Date, layouts, pad=True)


def ts_(e: pl.Expr, layout: str) -> pl.Expr:
    return parse_first(e, pl.Datetime("us"), [layout] + [f for f in TS_FORMATS if f != layout])


def quarter_(e: pl.Expr) -> pl.Expr:
    """"2020年第3季度", "2020年三季度", "2020Q3" → first day of the quarter."""
    g = e.str.replace_all(" ", "", literal=True).str.extract_groups(QUARTER_RE)
    year = g.struct.field("1").cast(pl.Int32, strict=False)
    q = g.struct.field("2").replace_strict(QUARTER_DIGIT, default=None, return_dtype=pl.Int8)
    return pl.date(year, q * 3 - 2, 1)


def quarter_label(d: pl.Expr) -> pl.Expr:
    return pl.format("{}Q{}", d.dt.year(), d.dt.quarter())


def to_utc(local: pl.Expr) -> pl.Expr:
    return (local - pl.duration(hours=UTC_OFFSET_HOURS)).dt.replace_time_zone("UTC")


def typed(col_: Col, raw: pl.Expr, scale: float = 1.0) -> pl.Expr:
    kind = col_.kind
    if kind == "text":
        return text(raw)
    if kind == "int":
        return int_(raw)
    if kind == "num":
        return num(raw) if scale == 1.0 else num(raw) * scale
    if kind == "month":
        return month_(raw, col_.layout or "%Y-%m", col_.strict)
    if kind == "quarter":
        return quarter_(raw)
    if kind == "ts":
        return ts_(raw, col_.layout or "%Y-%m-%d %H:%M:%S")
    raise ValueError(kind)


NULL_OF = {"text": pl.String, "int": pl.Int64, "num": pl.Float64, "month": pl.Date, "quarter": pl.Date, "ts": pl.Datetime("us")}

# Identity normalisation ([identity] of the pipeline): width, spaces, bracketed parts, 中共…
# prefix, …党支部 / …支部委员会 suffix, 镇/乡 before 供电所.


def compact(e: pl.Expr) -> pl.Expr:
    return e.str.replace_many(FULL_WIDTH, HALF_WIDTH).str.replace_all(r"\s+", "")


def drop_township(e: pl.Expr) -> pl.Expr:
    return e.str.replace(r"^(.+)[镇乡]供电所$", "${1}供电所")


def norm_name(e: pl.Expr) -> pl.Expr:
    s = compact(e).str.replace_all(r"[(\[【〔][^)\]】〕]*[)\]】〕]", "")
    s = s.str.replace(r"^(中共)+(.)", "${2}").str.replace(r"(.)(党支部|支部委员会)+$", "${1}")
    return drop_township(s)


# ── ingest ────────────────────────────────────────────────────────────────────────────────

ROW = "source_row"
FILE = "source_file"


def file_column(path: str) -> pl.Expr:
    """The file a row came from, as a categorical: one dictionary entry per file, not a copy of
    the path in every row."""
    return pl.lit(path, pl.Categorical).alias(FILE)


def read_source(src: Source, files: list[str]) -> pl.LazyFrame:
    """All files of a source as text cells, by header (files may differ in their headers: the
    fee exports of 2019 say 万元), with the file and line each row came from."""
    frames = []
    first_line = src.header_row + 1
    for path in files:
        if src.encoding == "xlsx":
            sheets = pl.read_excel(path, sheet_id=0, infer_schema_length=0, drop_empty_rows=False)
            for sheet in sheets.values():
                frames.append(sheet.lazy().with_row_index(ROW, offset=first_line).with_columns(file_column(path)))
        elif src.encoding == "gbk":
            df = pl.read_csv(path, encoding="gb18030", infer_schema=False, skip_rows=src.header_row - 1,
                             row_index_name=ROW, row_index_offset=first_line)
            frames.append(df.lazy().with_columns(file_column(path)))
        else:
            frames.append(pl.scan_csv(path, infer_schema=False, skip_rows=src.header_row - 1, row_index_name=ROW,
                                      row_index_offset=first_line).with_columns(file_column(path)))
    return pl.concat(frames, how="diagonal")


def ingest_source(src: Source, data_dir: str, out_dir: str) -> tuple[dict, pl.DataFrame]:
    files = sorted(glob.glob(os.path.join(data_dir, src.path)))
    if not files:
        raise SystemExit(f"{src.name}: no files match {os.path.join(data_dir, src.path)}")
    raw = read_source(src, files)
    raw_columns = [h for h in raw.collect_schema().names() if h not in (ROW, FILE)]

    # Typed columns, in order; an alternative header (万元) carries its own scale.
    typed_cols, failures = [], []
    for col_ in src.columns:
        present = [(h, s) for h, s in col_.headers if h in raw_columns]
        if not present:
            if col_.required:
                raise SystemExit(f"{src.name}: column '{col_.headers[0][0]}' is missing; headers there: {', '.join(raw_columns)}")
            typed_cols.append(pl.lit(None, NULL_OF[col_.kind]).alias(col_.name))
            continue
        if len(present) == 1:
            cell = c(present[0][0])
            value = typed(col_, cell, present[0][1])
        else:  # a file has one of the headers; its value is scaled by that header's scale
            cell = pl.coalesce([c(h) for h, _ in present])
            value = pl.when(~blank(c(present[0][0]))).then(typed(col_, c(present[0][0]), present[0][1]))
            for h, s in present[1:]:
                value = value.when(~blank(c(h))).then(typed(col_, c(h), s))
        typed_cols.append(value.alias(col_.name))
        failed = c(col_.name).is_null()
        unparsed = only_where(failed, cell)  # the cell where no value came out of it, else null
        if col_.not_null:
            failures.append((failed & blank(unparsed), f"{present[0][0]}: value is missing"))
        if col_.kind != "text":
            failures.append((failed & ~blank(unparsed), f"{present[0][0]}: not a valid {col_.kind}"))
    drop = pl.lit(False)
    for header, prefixes in src.drop_rows:
        if header in raw_columns:
            for p in prefixes:
                drop = drop | trimmed(c(header)).str.starts_with(p).fill_null(False)
    rules = [(drop, "drop rule")] + failures + [(~rule.fill_null(True), message) for rule, message in src.checks]
    reason = pl.when(rules[0][0]).then(pl.lit(rules[0][1]))
    for cond, message in rules[1:]:
        reason = reason.when(cond).then(pl.lit(message))
    period = quarter_label(c(src.period)) if src.period else pl.lit(None, pl.String)

    # One pass over the export: typed values, why a row is not accepted, its quarter.
    not_blank = pl.any_horizontal([~blank(c(h)) for h in raw_columns])
    rows = (
        raw.filter(not_blank)
        .with_columns(typed_cols)
        .with_columns(reason.alias("reason"), drop.alias("_drop"))
        .with_columns(
            pl.when(c("_drop")).then(pl.lit("dropped")).when(c.reason.is_not_null()).then(pl.lit("rejected")).alias("kind"),
            period.alias("period"),
        )
    )

    # Accepted rows: exact duplicates (same cells as written) kept once, the first one.
    out_cols = [to_utc(c(x.name)).alias(x.name) if x.kind == "ts" else c(x.name) for x in src.columns]
    accepted = rows.filter(c.kind.is_null()).filter(pl.struct(raw_columns).is_first_distinct()).select(*out_cols, FILE, ROW, "period")
    target = os.path.join(out_dir, "curated", src.name)
    if src.period:
        sink = accepted.sink_parquet(pl.PartitionBy(target, key="period", include_key=False), mkdir=True, lazy=True)
        written = os.path.join(target, "*", "*.parquet")
    else:
        written = os.path.join(target, "data.parquet")
        sink = accepted.drop("period").sink_parquet(written, mkdir=True, lazy=True)
    counts_q = rows.group_by("kind").len()
    rejects_q = rows.filter(c.kind.is_not_null()).select(
        pl.lit(src.name).alias("source"), c(FILE).alias("file"), c(ROW).cast(pl.Int64).alias("line"), "kind", "reason"
    )
    counts, rejects, _ = pl.collect_all([counts_q, rejects_q, sink])
    by_kind = dict(zip(counts["kind"].to_list(), counts["len"].to_list()))
    accepted_rows = pl.scan_parquet(written).select(pl.len()).collect().item()
    ok = by_kind.get(None, 0)
    return {
        "read": sum(by_kind.values()),
        "accepted": accepted_rows,
        "rejected": by_kind.get("rejected", 0),
        "dropped": by_kind.get("dropped", 0),
        "duplicates": ok - accepted_rows,
    }, rejects


def ingest(data_dir: str, out_dir: str) -> dict:
    rows, rejects = {}, []
    for src in SOURCES:
        rows[src.name], r = ingest_source(src, data_dir, out_dir)
        rejects.append(r)
    os.makedirs(os.path.join(out_dir, "quality"), exist_ok=True)
    pl.concat(rejects).write_parquet(os.path.join(out_dir, "quality", "rejects.parquet"))
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
COUNTY_SHORT_NAMES = ["塔县"]  # [identity] county_short_names


def partitions(out_dir: str, source: str) -> list[str]:
    return sorted(p.split("period=", 1)[1] for p in glob.glob(os.path.join(out_dir, "curated", source, "period=*")))


def fin(e: pl.Expr) -> pl.Expr:
    return pl.when(e.is_finite()).then(e)


def count_if(cond: pl.Expr) -> pl.Expr:
    return cond.cast(pl.Float64).sum()


def overlap_hours(start: str, end: str) -> pl.Expr:
    """Hours of [start, end) inside the quarter [start_utc, end_utc)."""
    return (pl.min_horizontal(c(end), c.end_utc) - pl.max_horizontal(c(start), c.start_utc)).dt.total_microseconds() / 3.6e9


def panel(out_dir: str) -> dict:
    cur = os.path.join(out_dir, "curated")
    stations = pl.read_parquet(os.path.join(cur, "stations", "data.parquet"))
    aliases = pl.read_parquet(os.path.join(cur, "aliases", "data.parquet"))
    m = {s: pl.scan_parquet(os.path.join(cur, s, "*", "*.parquet"), hive_partitioning=True, hive_schema={"period": pl.String}) for s in MEASURE_SOURCES}

    # The grid: every station × every quarter any measure source covers; which source covers
    # which quarter decides whether an absent station means "0" (fill) or "missing export".
    coverage = {s: partitions(out_dir, s) for s in MEASURE_SOURCES}
    all_periods = sorted({p for ps in coverage.values() for p in ps})
    y = c.period.str.slice(0, 4).cast(pl.Int32)
    qn = c.period.str.slice(5, 1).cast(pl.Int32)
    periods = (
        pl.LazyFrame({"period": all_periods})
        .with_columns(ordinal=y * 4 + qn - 1, start_local=pl.datetime(y, qn * 3 - 2, 1, time_unit="us"))
        .with_columns(end_local=c.start_local.dt.offset_by("3mo"))
        .with_columns(
            start_utc=to_utc(c.start_local),
            end_utc=to_utc(c.end_local),
            hours=(c.end_local - c.start_local).dt.total_microseconds() / 3.6e9,
        )
        .drop("end_local")
        .collect()
        .lazy()
    )

    # ── station identity: names and branch names → station codes ──
    st = stations.lazy()
    station_spelling = pl.concat([
        st.filter(c.station_name.is_not_null()).select("station_code", spelling=c.station_name),
        st.filter(c.branch_name.is_not_null()).select("station_code", spelling=c.branch_name),
        aliases.lazy().select(c.spelling, code=c.station_code.str.strip_chars())
        .join(st.select("station_code"), left_on="code", right_on="station_code")
        .select(c.code.alias("station_code"), "spelling"),
    ]).unique()
    counties = st.filter(c.county.is_not_null()).select(c=compact(c.county)).unique()
    county_form = (
        pl.concat([
            counties.select(form=c.c),
            counties.select(form=c.c.str.replace(r"(自治县)+$", "")),
            counties.select(form=c.c.str.replace(r"[县市]+$", "")),
            pl.LazyFrame({"form": COUNTY_SHORT_NAMES}),
        ])
        .unique()
        .filter(c.form.str.len_chars() >= 2)
    )
    spellings = pl.concat([
        station_spelling.select("spelling"),
        m["work_orders"].select(spelling=c.unit_name),
        m["party_activities"].select(spelling=c.branch_name),
        m["star_ratings"].select(spelling=c.branch_name),
        m["flags"].select(spelling=c.branch_name),
    ]).unique().filter(c.spelling.is_not_null())
    keyed = spellings.with_columns(exact=c.spelling.str.strip_chars(), nkey=norm_name(c.spelling))
    # the key without a leading county name, when at least two characters remain before 供电所
    # (the county forms a key starts with are few: the join keeps those before any regex runs)
    rest = c.nkey.str.slice(c.form.str.len_chars())
    cfkey = (
        keyed.join_where(county_form, c.nkey.str.starts_with(c.form))
        .filter(rest.str.replace(r"供电所$", "").str.len_chars() >= 2)
        .group_by("spelling")
        .agg(cfkey=drop_township(rest).sort_by(c.form.str.len_chars()).last())
    )
    spelling_key = keyed.join(cfkey, on="spelling", how="left").collect().lazy()
    sk = station_spelling.join(spelling_key, on="spelling")

    def unique_code(key: str) -> pl.LazyFrame:
        return (
            sk.filter(c(key).is_not_null() & (c(key) != ""))
            .group_by(key)
            .agg(code=c.station_code.first(), n=c.station_code.n_unique())
            .filter(c.n == 1)
            .drop("n")
        )

    by_exact, by_norm, by_cf = unique_code("exact"), unique_code("nkey"), unique_code("cfkey")
    resolved = (
        spelling_key.join(by_exact.rename({"code": "e"}), on="exact", how="left")
        .join(by_norm.rename({"code": "n"}), on="nkey", how="left")
        .join(by_norm.rename({"nkey": "cfkey", "code": "n2"}), on="cfkey", how="left")
        .join(by_cf.rename({"code": "cf"}), on="cfkey", how="left")
        .select("spelling", station_id=pl.coalesce("e", "n", "n2", "cf"))
        .collect()
        .lazy()
    )

    # Rows of each measure source with their station_id (rows of unknown stations drop out).
    codes = st.select(station_id=c.station_code)
    r = {s: m[s].with_columns(station_id=c.station_code.str.strip_chars()).join(codes, on="station_id")
         for s in ["fee", "collection", "line_loss", "om_index", "outages"]}
    unmatched_q = {}
    for s, key in [("work_orders", "unit_name"), ("party_activities", "branch_name"), ("star_ratings", "branch_name"), ("flags", "branch_name")]:
        joined = m[s].join(resolved, left_on=key, right_on="spelling")
        r[s] = joined.filter(c.station_id.is_not_null())
        unmatched_q[s] = joined.filter(c.station_id.is_null()).select(spellings=c(key).n_unique(), rows=pl.len())

    # ── indicators and features: one aggregate each, as the pipeline states them ──
    per = ["station_id", "period"]
    customers = st.select(station_id=c.station_code, customers=c.customers, party_members=c.party_members)
    measures = {
        "fee": r["fee"].group_by(per).agg(fee_recovery=c.paid.sum() / c.billed.sum()),
        "collection": r["collection"].group_by(per).agg(data_collection=c.collected_meters.sum() / c.expected_meters.sum()),
        # a 台区 qualifies when its loss over the quarter, (supplied − sold) ÷ supplied, is 0–10 %
        "line_loss": r["line_loss"]
        .group_by([*per, "tai_area_id"]).agg(supplied=c.supplied_kwh.sum(), sold=c.sold_kwh.sum())
        .with_columns(loss=(c.supplied - c.sold) / c.supplied)
        .group_by(per).agg(line_loss_compliance=((c.supplied > 0) & (c.loss >= 0) & (c.loss <= 0.10)).cast(pl.Float64).mean()),
        # complaints (投诉, 意见, 举报) per 10 000 customers per month
        "work_orders": r["work_orders"].join(customers, on="station_id")
        .group_by(per).agg(complaint_control=count_if(c.order_type.is_in(["投诉", "意见", "举报"])) / c.customers.max() * 10000 / 3),  # 3 months
        "om_index": r["om_index"].group_by(per).agg(om_index=c.om_index.mean()),
        # RS-1 = 1 − Σ(outage hours inside the quarter × customers affected) ÷ (customers × hours of the quarter)
        "outages": r["outages"].drop("period")
        .join_where(periods, c.start_time < c.end_utc, c.end_time > c.start_utc)
        .join(customers, on="station_id")
        .group_by(per).agg(reliability=1 - (overlap_hours("start_time", "end_time") * c.customers_affected).sum() / (c.customers.max() * c.hours.max())),
        "party": r["party_activities"].join(customers, on="station_id")
        .group_by(per).agg(
            sanliang_sanbi=count_if(c.activity_type == "三亮三比"),
            safety_study=count_if(c.activity_type == "安全学习"),
            service_team=count_if(c.activity_type == "共产党员服务队"),
            activities_per_member=pl.len() / c.party_members.max(),
            attendance_rate=c.actual_attendance.sum() / c.expected_attendance.sum(),
        ),
        # activity hours clipped to the quarter
        "party_hours": r["party_activities"].drop("period")
        .join_where(periods, c.start_time < c.end_utc, c.end_time > c.start_utc)
        .group_by(per).agg(activity_hours=overlap_hours("start_time", "end_time").sum()),
        "stars": r["star_ratings"].group_by(per).agg(mean_stars=c.stars.mean(), safety_points=c.safety_points.mean()),
        "flags": r["flags"].group_by(per).agg(
            red_flags=count_if(c.flag_type == "流动红旗"),
            supervised=(c.flag_type == "挂牌督办").cast(pl.Float64).max(),
        ),
    }

    # A station with no rows in a quarter its source covers: complaints 0, reliability 1,
    # flags 0 (the pipeline's `fill`); everything else stays empty.
    fills = {"complaint_control": ("work_orders", "work_orders", 0.0), "reliability": ("outages", "outages", 1.0),
             "red_flags": ("flags", "flags", 0.0), "supervised": ("flags", "flags", 0.0)}
    grid = st.filter(c.station_name.is_not_null()).select(
        station_id=c.station_code, station_name=c.station_name, county=c.county,
        customers=c.customers.cast(pl.Float64), log_customers=c.customers.cast(pl.Float64).log(), tai_areas=c.tai_areas.cast(pl.Float64),
    ).join(periods.select("period", period_start=c.start_local.dt.date(), ordinal=c.ordinal), how="cross")
    for name, frame in measures.items():
        grid = grid.join(frame.with_columns(pl.lit(True).alias(f"_has_{name}")), on=per, how="left")
    values = []
    for name in [*INDICATORS, *FEATURES]:
        if name in fills:
            measure, source, value = fills[name]
            absent = c(f"_has_{measure}").is_null() & c.period.is_in(coverage[source])
            values.append(pl.when(absent).then(pl.lit(value)).otherwise(fin(c(name))).alias(name))
        else:
            values.append(fin(c(name)).alias(name))
    panel0 = grid.select("station_id", "station_name", "county", "period", "period_start", "ordinal", "customers", "log_customers", "tai_areas", *values)
    # Lag 1: last calendar quarter of the same station, never the previous row.
    lagged = panel0.select("station_id", (c.ordinal + 1).alias("ordinal"), *[c(f).alias(f"{f}_lag1") for f in FEATURES])
    panel_q = panel0.join(lagged, on=["station_id", "ordinal"], how="left").drop("ordinal").sort("station_id", "period")
    # One collect for the panel and the unmatched counts, so each curated source is scanned once.
    *counts, out = pl.collect_all([*unmatched_q.values(), panel_q])
    out.write_parquet(os.path.join(out_dir, "panel.parquet"))
    unmatched = {s: {"spellings": n["spellings"].item(), "rows": n["rows"].item()} for s, n in zip(unmatched_q, counts)}
    return {"panel_rows": out.height, "unmatched": unmatched}


# ── correlations ──────────────────────────────────────────────────────────────────────────


def guarded_corr(x: pl.Expr, y: pl.Expr, x_scale: pl.Expr, y_scale: pl.Expr) -> pl.Expr:
    """Pearson r, null when either side is constant (relative to its magnitude)."""
    ok = (x.var(ddof=0) > 1e-20 * (x_scale * x_scale).mean()) & (y.var(ddof=0) > 1e-20 * (y_scale * y_scale).mean())
    return pl.when(ok).then(pl.corr(x, y))


def correlate(out_dir: str) -> int:
    p = pl.scan_parquet(os.path.join(out_dir, "panel.parquet"))
    feature_cols = FEATURES + [f"{f}_lag1" for f in FEATURES]
    f = p.unpivot(feature_cols, index=["station_id", "period"], variable_name="feature", value_name="x").drop_nulls("x")
    i = p.unpivot(list(INDICATORS), index=["station_id", "period"], variable_name="indicator", value_name="y").drop_nulls("y")
    pairs = (
        f.join(i, on=["station_id", "period"])
        .with_columns(lag=c.feature.str.ends_with("_lag1").cast(pl.Int32), feature=c.feature.str.replace(r"_lag1$", ""))
        .select("feature", "lag", "indicator", "station_id", "x", "y")
        .collect()
        .lazy()
    )
    test = ["feature", "lag", "indicator"]
    N = pl.len().cast(pl.Int64)  # pl.len() is unsigned: n − 2 must be able to go below 0
    pooled = pairs.group_by(test).agg(
        scope=pl.lit("pooled"), n=pl.len(), n_stations=c.station_id.n_unique(), r=guarded_corr(c.x, c.y, c.x, c.y), df=N - 2
    )
    # within stations: each value's departure from its station's mean (repeated-measures r)
    within = (
        pairs.with_columns(dx=c.x - c.x.mean().over([*test, "station_id"]), dy=c.y - c.y.mean().over([*test, "station_id"]))
        .group_by(test)
        .agg(scope=pl.lit("within"), n=pl.len(), n_stations=c.station_id.n_unique(), r=guarded_corr(c.dx, c.dy, c.x, c.y),
             df=N - c.station_id.n_unique().cast(pl.Int64) - 1)
    )
    between = (
        pairs.group_by([*test, "station_id"]).agg(rows=pl.len(), mx=c.x.mean(), my=c.y.mean())
        .group_by(test)
        .agg(scope=pl.lit("between"), n=c.rows.sum(), n_stations=pl.len(), r=guarded_corr(c.mx, c.my, c.mx, c.my), df=N - 2)
    )
    cast = [c.n.cast(pl.Int64), c.n_stations.cast(pl.Int64), c.df.cast(pl.Int64)]
    r_all = pl.concat([x.with_columns(cast) for x in (pooled, within, between)])
    valid = (c.n >= 10) & (c.df >= 2)
    half = 1.959963984540054 / (c.df - 1).cast(pl.Float64).sqrt()
    better = pl.col("indicator").replace_strict({k: 1.0 if v == "higher" else -1.0 for k, v in INDICATORS.items()})
    out = (
        r_all.select(
            "indicator", "feature", "scope", pl.lit("pearson").alias("method"), "lag", "n", "n_stations",
            r=pl.when(valid).then(c.r),
            ci_low=pl.when(valid & (c.r.abs() < 1)).then((c.r.arctanh() - half).tanh()),
            ci_high=pl.when(valid & (c.r.abs() < 1)).then((c.r.arctanh() + half).tanh()),
            df=pl.when(valid).then(c.df),
            r_better=pl.when(valid).then(c.r * better),
        )
        .sort("indicator", "feature", "lag", "scope")
        .collect()
    )
    # Polars has no t distribution: the p-values of the few hundred coefficients in Python.
    p_values = pl.Series("p_value", [t_test_p(r, df) for r, df in zip(out["r"].to_list(), out["df"].to_list())], dtype=pl.Float64)
    out = out.with_columns(p_values).select(pl.exclude("df", "r_better", "p_value"), "p_value", "r_better")
    out.write_parquet(os.path.join(out_dir, "correlations.parquet"))
    return out.height


# ── main ──────────────────────────────────────────────────────────────────────────────────


def main(args: argparse.Namespace) -> int:
    data_dir, out_dir = os.path.abspath(args.data), os.path.abspath(args.out)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)

    stages: list = []
    with Stage("ingest", stages):
        rows = ingest(data_dir, out_dir)
    with Stage("panel", stages):
        built = panel(out_dir)
    with Stage("correlate", stages):
        n_corr = correlate(out_dir)

    print(json.dumps({
        "tool": "polars",
        "polars_version": pl.__version__,
        "threads": pl.thread_pool_size(),
        "stages": stages,
        "rows": rows,
        "panel_rows": built["panel_rows"],
        "unmatched": built["unmatched"],
        "correlations": n_corr,
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))

"""Independent reference panel for the second sample layout (sample_other/), computed with pandas
from the raw exports as a person would read them, never by duibiao.

Writes tests/fixtures/other_region/expected_panel.csv (station x quarter: attributes, the six
indicators, the party features and their lag-1 columns) and
tests/fixtures/other_region/reference.json (row accounting per source, and the within-station
Pearson r of each planted effect stated in sample_other/ground_truth.json, with what the same r
would be under the wrong duplicate rules).

Rerun (from the repository root, with the venv outside the repository):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install pandas numpy openpyxl
    /tmp/refvenv/bin/python tests/reference/other_region_panel.py

Rules applied (pipelines/other_region.toml states the same in pipeline keys):

Reading
- Encodings as the files are: the station master, outages: UTF-8; line loss, 95598, star ratings,
  flags: UTF-8 with BOM; fee and the party-activity log: GB18030; the O&M index: GBK. Every file
  must decode without a single error (strict decoding).
- Header on line 1, except line loss (line 1 is a title, header on line 2) and the collection
  workbook (row 1 of each sheet is a title, header in row 2).
- Numbers: thousands separators removed ("1,793,379.07"); percent strings are not used.
- Fee: the 合计 line (单位代码 starting with 合计) is dropped.

Periods
- Fee: no month column; the month is the file name's "YYYY年MM月" (2021年01月电费回收情况.csv).
- Collection: the year is the sheet name "YYYY年", the month the 月份 cell (1-12).
- Line loss: one row per 台区 and quarter; the quarter is only in the title line,
  "…YYYY年第N季度台区同期线损统计表"; the file names (台区同期线损统计表(3).csv) say nothing.
- 95598: 受理日期 "YYYY/MM/DD HH:MM:SS"; O&M: 统计月份 "YYYY-MM"; star ratings: 评定月份
  "YYYY年M月"; flags: 季度 "YYYYQn".
- Party log: the activity starts at 活动日期 (YYYY-MM-DD) + 开始时间 (HH:MM); it counts in the
  quarter of that date. Its length is 活动时长(分钟).
- Outages: 开始时间 / 结束时间 "YYYY/MM/DD HH:MM", local time; an outage counts in every quarter
  it overlaps, with the hours of the overlap (as interval measures do for Kashgar).
- A source covers the quarters in which it has rows (for outages: rows starting in the quarter).

Duplicates
- 95598 work orders have a unique key, 工单号: rows sharing a key that are identical in every
  column are one order (the extra copies are removed as duplicates); rows sharing a key that
  differ in any column are conflicting and ALL of them are excluded.
- The party-activity log has no ID column: identical rows are distinct events (two 党员示范岗
  activities of one branch on the same day and time with the same attendance) and all are kept.
- Every other source has no exact duplicate row (the script asserts it), so the default rule
  (exact duplicates removed) changes nothing there.

Stations
- Sources carrying codes (fee, collection, line loss, O&M, outages) match the master's 单位编码.
- Names (95598 所属单位) and party organisations (党组织名称, 党建 log, ratings, flags) are
  normalised, then matched to the master's 供电所 name:
  1. whitespace removed; a leading 中共 removed; a trailing 支部委员会 or 党支部 removed;
  2. wrappers removed: everything up to and including the last 供电公司 (国网博斯腾供电公司,
     国网X县供电公司, X县供电公司);
  3. a county prefix removed: the county forms come from the master's county column
     (国网X县供电公司): 国网 and 供电公司 stripped gives the full name (X县, X市, X蒙古自治县);
     its short forms are the name without 县/市, and for an autonomous county (ethnic name +
     自治县) the base name and base + 县;
  4. the result must equal exactly one master station name (a spelling fitting two stations
     would be an error; none occurs); otherwise the row is unmatched and left out
     (客户服务中心 branch, the 营业厅 orders).

Measures per station and quarter (ratios of sums, never averages of monthly rates)
- fee_recovery = sum(实收金额) / sum(应收金额)
- data_collection = sum(实采集户数) / sum(应采集户数)
- line_loss_compliance = share of the station's 台区 whose loss rate over the quarter,
  (sum 供电量 - sum 售电量) / sum 供电量, lies in [0, 0.10] (台区 with 供电量 <= 0 count as not
  qualified)
- complaint_control = (投诉 + 意见 + 举报 orders) / customers x 10 000 / 3 (per month); a station
  with no orders in a covered quarter gets 0
- om_index = mean of 运检管理指数 over the station's monthly rows
- reliability = 1 - sum(overlap hours x 停电用户数) / (customers x hours in the quarter); a station
  with no outage in a covered quarter gets 1
- features from the party log: sanliang_sanbi, safety_study, service_team, model_post = number of
  activities of that type; activities_per_member = activities / 党员数; attendance_rate =
  sum(实际参加人数) / sum(应参加人数); activity_hours = sum(活动时长(分钟)) / 60
- mean_stars = mean 星级评定, safety_points = mean 安全积分 over the monthly member ratings
- red_flags = number of 流动红旗, supervised = 1 if any 挂牌督办 else 0; 0 for stations not listed
  in a covered quarter
- a measure with no rows for a station-quarter (and no fill rule above) is empty
- attributes from the master: customers = 客户数(户), log_customers = ln(customers),
  tai_areas = 公变台区数; customers in formulas is the master's figure
- lag 1 of a feature at quarter t is its value at the calendar quarter before t for the same
  station (empty in the first quarter)

Planted effects: within-station Pearson r (as rmcorr): over the station-quarters where the
feature (at the effect's lag) and the indicator are both present, both demeaned within the
station, r = sum(x y) / sqrt(sum(x x) sum(y y)); n = pairs, stations = stations with a pair.
"""

import csv
import hashlib
import io
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_other"
OUT = ROOT / "tests" / "fixtures" / "other_region"
ETHNIC = ["蒙古", "哈萨克", "回族", "锡伯", "塔吉克", "柯尔克孜"]
COMPLAINTS = {"投诉", "意见", "举报"}


def read_text(path, encoding):
    data = path.read_bytes()
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf"), f"{path}: no BOM"
    return data.decode(encoding, errors="strict")


def read_csv(path, encoding, header_line=1):
    """Rows of a CSV export as dicts (all text), with the lines above the header returned apart."""
    text = read_text(path, encoding)
    lines = list(csv.reader(io.StringIO(text, newline="")))
    above = lines[: header_line - 1]
    header = lines[header_line - 1]
    rows = [dict(zip(header, r)) for r in lines[header_line:] if r]
    for r in lines[header_line:]:
        assert not r or len(r) == len(header), f"{path}: ragged line {r}"
    return above, header, rows


def number(text):
    return float(str(text).replace(",", ""))


def quarter_of(year, month):
    return f"{year}Q{(month - 1) // 3 + 1}"


def quarter_bounds(q):
    year, n = int(q[:4]), int(q[5])
    start = pd.Timestamp(year=year, month=3 * (n - 1) + 1, day=1)
    end = pd.Timestamp(year=year + (n == 4), month=(3 * n) % 12 + 1, day=1)
    return start, end


def no_exact_duplicates(frame, source):
    dup = int(frame.duplicated().sum())
    assert dup == 0, f"{source}: {dup} exact duplicate rows; the reference assumes none"


# ── station master and name resolution ────────────────────────────────────────────────


def load_master():
    _, _, rows = read_csv(SAMPLE / "基础信息/供电所台账.csv", "utf-8")
    master = pd.DataFrame(rows)
    master = master.rename(columns={"单位编码": "station_id", "供电所": "station_name", "县供电公司": "county", "客户数(户)": "customers", "公变台区数": "tai_areas", "党员数": "party_members"})
    for c in ["customers", "tai_areas", "party_members"]:
        master[c] = master[c].astype(int)
    assert master["station_id"].is_unique and master["station_name"].is_unique
    return master


def county_forms(county_column_values):
    forms = set()
    for value in county_column_values:
        full = value
        if full.startswith("国网"):
            full = full[len("国网"):]
        if full.endswith("供电公司"):
            full = full[: -len("供电公司")]
        forms.add(full)
        if full.endswith("自治县"):
            base = full[: -len("自治县")]
            for ethnic in ETHNIC:
                if base.endswith(ethnic):
                    base = base[: -len(ethnic)]
                    break
            forms.update({base, base + "县"})
        elif full.endswith("县") or full.endswith("市"):
            forms.add(full[:-1])
    return sorted(forms, key=len, reverse=True)


class Resolver:
    def __init__(self, master):
        self.by_name = dict(zip(master["station_name"], master["station_id"]))
        self.counties = county_forms(master["county"])
        self.cache = {}

    def resolve(self, raw):
        if raw in self.cache:
            return self.cache[raw]
        name = re.sub(r"\s+", "", raw)
        if name.startswith("中共"):
            name = name[len("中共"):]
        for suffix in ("支部委员会", "党支部"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        if "供电公司" in name:
            name = name[name.rindex("供电公司") + len("供电公司"):]
        candidates = {self.by_name[name]} if name in self.by_name else set()
        for form in self.counties:
            if name.startswith(form) and name[len(form):] in self.by_name:
                candidates.add(self.by_name[name[len(form):]])
        assert len(candidates) <= 1, f"'{raw}' fits stations {candidates}"
        self.cache[raw] = candidates.pop() if candidates else None
        return self.cache[raw]


# ── sources ───────────────────────────────────────────────────────────────────────────


def load_fee(master):
    frames, dropped = [], 0
    for path in sorted((SAMPLE / "电费").glob("*.csv")):
        m = re.fullmatch(r"(\d{4})年(\d{2})月电费回收情况\.csv", path.name)
        assert m, f"{path.name}: file name without a month"
        _, header, rows = read_csv(path, "gb18030")
        assert "月份" not in "".join(header), f"{path}: the reference expects no month column"
        for r in rows:
            if r["单位代码"].startswith("合计"):
                dropped += 1
                continue
            frames.append({"station_id": r["单位代码"], "quarter": quarter_of(int(m[1]), int(m[2])), "month": f"{m[1]}-{m[2]}", "billed": number(r["应收金额(元)"]), "paid": number(r["实收金额(元)"])})
    fee = pd.DataFrame(frames)
    no_exact_duplicates(fee, "fee")
    assert set(fee["station_id"]) <= set(master["station_id"])
    return fee, {"rows": len(fee) + dropped, "dropped_total_lines": dropped, "accepted": len(fee)}


def load_collection():
    book = openpyxl.load_workbook(SAMPLE / "采集/用电信息采集质量统计.xlsx", read_only=True)
    records = []
    for sheet in book.worksheets:
        year = re.fullmatch(r"(\d{4})年", sheet.title)
        assert year, f"sheet {sheet.title} names no year"
        rows = list(sheet.iter_rows(values_only=True))
        header = list(rows[1])
        for row in rows[2:]:
            r = dict(zip(header, row))
            month = int(r["月份"])
            assert 1 <= month <= 12
            records.append({"station_id": str(r["供电所编号"]), "month": (int(year[1]), month), "quarter": quarter_of(int(year[1]), month), "expected": float(r["应采集户数"]), "collected": float(r["实采集户数"])})
    frame = pd.DataFrame(records)
    no_exact_duplicates(frame, "collection")
    return frame, {"rows": len(frame), "accepted": len(frame)}


def load_line_loss():
    records = []
    for path in sorted((SAMPLE / "线损").glob("*.csv")):
        above, _, rows = read_csv(path, "utf-8-sig", header_line=2)
        m = re.search(r"(\d{4})年第(\d)季度", above[0][0])
        assert m, f"{path}: title line names no quarter"
        q = f"{m[1]}Q{m[2]}"
        for r in rows:
            records.append({"station_id": r["供电所编码"], "tai_area": r["台区编码"], "quarter": q, "supplied": number(r["供电量(千瓦时)"]), "sold": number(r["售电量(千瓦时)"])})
    frame = pd.DataFrame(records)
    no_exact_duplicates(frame, "line_loss")
    assert frame.groupby("quarter")["tai_area"].apply(lambda s: s.is_unique).all()
    return frame, {"rows": len(frame), "accepted": len(frame)}


def load_work_orders(resolver):
    rows = []
    for path in sorted((SAMPLE / "95598").glob("*.csv")):
        _, header, file_rows = read_csv(path, "utf-8-sig")
        rows.extend(file_rows)
    raw = pd.DataFrame(rows)
    n_rows = len(raw)
    # Unique key 工单号: identical copies are one order, differing rows are conflicting.
    distinct = raw.drop_duplicates()
    duplicates = n_rows - len(distinct)
    per_key = distinct.groupby("工单号")["工单号"].transform("size")
    conflicting = distinct[per_key > 1]
    conflicting_rows = int(raw["工单号"].isin(conflicting["工单号"]).sum())
    orders = distinct[per_key == 1].copy()
    orders["station_id"] = orders["所属单位"].map(resolver.resolve)
    unmatched = int(orders["station_id"].isna().sum())
    accepted = len(orders)
    ts = pd.to_datetime(orders["受理日期"], format="%Y/%m/%d %H:%M:%S")
    orders["quarter"] = [quarter_of(t.year, t.month) for t in ts]
    covered = set(orders["quarter"])
    orders = orders[orders["station_id"].notna()]
    accounting = {
        "rows": n_rows,
        "duplicates_removed": duplicates,
        "conflicting_keys": int(conflicting["工单号"].nunique()),
        "conflicting_rows_excluded": conflicting_rows,
        "accepted": accepted,
        "unmatched_rows": unmatched,
    }
    return orders, covered, accounting, raw


def load_om():
    records = []
    for path in sorted((SAMPLE / "运检").glob("*.csv")):
        _, _, rows = read_csv(path, "gbk")
        for r in rows:
            y, m = r["统计月份"].split("-")
            records.append({"station_id": r["供电所编码"], "month": r["统计月份"], "quarter": quarter_of(int(y), int(m)), "om": number(r["运检管理指数"])})
    frame = pd.DataFrame(records)
    no_exact_duplicates(frame, "om_index")
    return frame, {"rows": len(frame), "accepted": len(frame)}


def load_outages():
    rows = []
    for path in sorted((SAMPLE / "停电").glob("*.csv")):
        rows.extend(read_csv(path, "utf-8")[2])
    frame = pd.DataFrame(rows)
    no_exact_duplicates(frame, "outages")
    assert frame["停电事件编号"].is_unique
    frame["start"] = pd.to_datetime(frame["开始时间"], format="%Y/%m/%d %H:%M")
    frame["end"] = pd.to_datetime(frame["结束时间"], format="%Y/%m/%d %H:%M")
    frame["customers_affected"] = frame["停电用户数"].astype(int)
    frame["station_id"] = frame["所属供电所编码"]
    covered = {quarter_of(t.year, t.month) for t in frame["start"]}
    pieces = []
    for r in frame.itertuples():
        q = quarter_of(r.start.year, r.start.month)
        while True:
            qs, qe = quarter_bounds(q)
            if qs >= r.end:
                break
            hours = (min(r.end, qe) - max(r.start, qs)).total_seconds() / 3600
            if hours > 0:
                pieces.append({"station_id": r.station_id, "quarter": q, "overlap_hours": hours, "customers_affected": r.customers_affected})
            q = quarter_of(qe.year, qe.month)
    return pd.DataFrame(pieces), covered, {"rows": len(frame), "accepted": len(frame)}


def load_party(resolver, dedupe=False):
    rows = []
    for path in sorted((SAMPLE / "党建").glob("*党组织活动记录.csv")):
        rows.extend(read_csv(path, "gb18030")[2])
    log = pd.DataFrame(rows)
    n_rows = len(log)
    identical = int(log.duplicated().sum())
    if dedupe:  # only for showing what the wrong rule would do
        log = log.drop_duplicates()
    start = pd.to_datetime(log["活动日期"] + " " + log["开始时间"], format="%Y-%m-%d %H:%M")
    log["quarter"] = [quarter_of(t.year, t.month) for t in start]
    log["station_id"] = log["党组织名称"].map(resolver.resolve)
    unmatched = int(log["station_id"].isna().sum())
    log = log[log["station_id"].notna()].copy()
    for c in ["应参加人数", "实际参加人数", "活动时长(分钟)"]:
        log[c] = log[c].astype(int)
    return log, {"rows": n_rows, "identical_rows_kept": identical, "accepted": n_rows, "unmatched_rows": unmatched}


def load_stars(resolver):
    rows = []
    for path in sorted((SAMPLE / "党建").glob("*星级党员评定.csv")):
        rows.extend(read_csv(path, "utf-8-sig")[2])
    frame = pd.DataFrame(rows)
    no_exact_duplicates(frame, "star_ratings")
    months = frame["评定月份"].str.extract(r"(\d{4})年(\d{1,2})月").astype(int)
    frame["quarter"] = [quarter_of(y, m) for y, m in zip(months[0], months[1])]
    frame["station_id"] = frame["党组织名称"].map(resolver.resolve)
    unmatched = int(frame["station_id"].isna().sum())
    frame = frame[frame["station_id"].notna()].copy()
    frame["stars"] = frame["星级评定"].astype(float)
    frame["points"] = frame["安全积分"].astype(float)
    return frame, {"rows": len(rows), "accepted": len(rows), "unmatched_rows": unmatched}


def load_flags(resolver):
    _, _, rows = read_csv(SAMPLE / "党建/流动红旗及挂牌督办.csv", "utf-8-sig")
    frame = pd.DataFrame(rows)
    no_exact_duplicates(frame, "flags")
    assert frame["季度"].str.fullmatch(r"\d{4}Q[1-4]").all()
    frame["quarter"] = frame["季度"]
    covered = set(frame["quarter"])
    frame["station_id"] = frame["党组织名称"].map(resolver.resolve)
    unmatched = int(frame["station_id"].isna().sum())
    frame = frame[frame["station_id"].notna()]
    return frame, covered, {"rows": len(rows), "accepted": len(rows), "unmatched_rows": unmatched}


# ── panel ─────────────────────────────────────────────────────────────────────────────


def measure(grid, values, name, fill=None, covered=None):
    """Joins per station-quarter values onto the grid; fills where the source covers the
    quarter but the station has no rows."""
    values = values.rename(name).reset_index()
    out = grid.merge(values, on=["station_id", "quarter"], how="left")
    if fill is not None:
        missing = out[name].isna() & out["quarter"].isin(covered)
        out.loc[missing, name] = fill
    return out[name].to_numpy()


def build(master, resolver, dedupe_log=False, keep_conflicts=False):
    fee, fee_acc = load_fee(master)
    collection, col_acc = load_collection()
    loss, loss_acc = load_line_loss()
    orders, orders_covered, orders_acc, raw_orders = load_work_orders(resolver)
    if keep_conflicts:  # only for showing what the wrong rule would do
        distinct = raw_orders.drop_duplicates().copy()
        distinct["station_id"] = distinct["所属单位"].map(resolver.resolve)
        ts = pd.to_datetime(distinct["受理日期"], format="%Y/%m/%d %H:%M:%S")
        distinct["quarter"] = [quarter_of(t.year, t.month) for t in ts]
        orders = distinct[distinct["station_id"].notna()]
    om, om_acc = load_om()
    outages, outages_covered, out_acc = load_outages()
    log, log_acc = load_party(resolver, dedupe=dedupe_log)
    stars, stars_acc = load_stars(resolver)
    flags, flags_covered, flags_acc = load_flags(resolver)

    # The grid: every station x every quarter any measure's source has rows for.
    quarters = sorted(set(fee["quarter"]) | set(collection["quarter"]) | set(loss["quarter"]) | orders_covered | set(om["quarter"]) | outages_covered | set(log["quarter"]) | set(stars["quarter"]) | flags_covered)
    grid = pd.DataFrame([(s, q) for s in master["station_id"] for q in quarters], columns=["station_id", "quarter"])
    grid = grid.merge(master[["station_id", "station_name", "county", "customers", "tai_areas", "party_members"]], on="station_id")
    customers = master.set_index("station_id")["customers"].astype(float)
    members = master.set_index("station_id")["party_members"].astype(float)
    hours = {q: (quarter_bounds(q)[1] - quarter_bounds(q)[0]).total_seconds() / 3600 for q in quarters}

    panel = grid[["station_id", "station_name", "county", "quarter"]].rename(columns={"quarter": "period"}).copy()
    panel["customers"] = grid["customers"].astype(float)
    panel["log_customers"] = np.log(panel["customers"])
    panel["tai_areas"] = grid["tai_areas"].astype(float)

    g = fee.groupby(["station_id", "quarter"])
    panel["fee_recovery"] = measure(grid, g["paid"].sum() / g["billed"].sum(), "v")
    g = collection.groupby(["station_id", "quarter"])
    panel["data_collection"] = measure(grid, g["collected"].sum() / g["expected"].sum(), "v")
    per_area = loss.groupby(["station_id", "quarter", "tai_area"])[["supplied", "sold"]].sum().reset_index()
    rate = (per_area["supplied"] - per_area["sold"]) / per_area["supplied"]
    per_area["qualified"] = ((per_area["supplied"] > 0) & (rate >= 0) & (rate <= 0.10)).astype(float)
    panel["line_loss_compliance"] = measure(grid, per_area.groupby(["station_id", "quarter"])["qualified"].mean(), "v")
    orders = orders.assign(complaint=orders["诉求类型"].isin(COMPLAINTS).astype(float))
    counts = orders.groupby(["station_id", "quarter"])["complaint"].sum()
    per_10k = counts / customers.reindex(counts.index.get_level_values(0)).to_numpy() * 10000 / 3
    panel["complaint_control"] = measure(grid, per_10k, "v", fill=0.0, covered=orders_covered)
    panel["om_index"] = measure(grid, om.groupby(["station_id", "quarter"])["om"].mean(), "v")
    lost = (outages["overlap_hours"] * outages["customers_affected"]).groupby([outages["station_id"], outages["quarter"]]).sum()
    lost = lost[lost.index.get_level_values(1).isin(quarters)]
    rs1 = 1 - lost / (customers.reindex(lost.index.get_level_values(0)).to_numpy() * np.array([hours[q] for q in lost.index.get_level_values(1)]))
    panel["reliability"] = measure(grid, rs1, "v", fill=1.0, covered=outages_covered)

    g = log.groupby(["station_id", "quarter"])
    for name, label in [("sanliang_sanbi", "三亮三比"), ("safety_study", "安全学习"), ("service_team", "共产党员服务队"), ("model_post", "党员示范岗")]:
        panel[name] = measure(grid, log.assign(x=(log["活动类别"] == label).astype(float)).groupby(["station_id", "quarter"])["x"].sum(), "v")
    activities = g.size().astype(float)
    panel["activities_per_member"] = measure(grid, activities / members.reindex(activities.index.get_level_values(0)).to_numpy(), "v")
    panel["attendance_rate"] = measure(grid, g["实际参加人数"].sum() / g["应参加人数"].sum(), "v")
    panel["activity_hours"] = measure(grid, g["活动时长(分钟)"].sum() / 60.0, "v")
    g = stars.groupby(["station_id", "quarter"])
    panel["mean_stars"] = measure(grid, g["stars"].mean(), "v")
    panel["safety_points"] = measure(grid, g["points"].mean(), "v")
    f = flags.assign(red=(flags["类别"] == "流动红旗").astype(float), sup=(flags["类别"] == "挂牌督办").astype(float)).groupby(["station_id", "quarter"])
    panel["red_flags"] = measure(grid, f["red"].sum(), "v", fill=0.0, covered=flags_covered)
    panel["supervised"] = measure(grid, f["sup"].max(), "v", fill=0.0, covered=flags_covered)

    # Lag 1: the same station's value in the calendar quarter before (never bridging a gap).
    def previous(q):
        y, n = int(q[:4]), int(q[5])
        return f"{y - 1}Q4" if n == 1 else f"{y}Q{n - 1}"

    by_key = panel.set_index(["station_id", "period"])
    for name in FEATURES:
        panel[f"{name}_lag1"] = [by_key[name].get((s, previous(q)), np.nan) for s, q in zip(panel["station_id"], panel["period"])]

    accounting = {"fee": fee_acc, "collection": col_acc, "line_loss": loss_acc, "work_orders": orders_acc, "om_index": om_acc, "outages": out_acc, "party_activities": log_acc, "star_ratings": stars_acc, "flags": flags_acc}
    return panel.sort_values(["station_id", "period"]).reset_index(drop=True), accounting


INDICATORS = ["fee_recovery", "data_collection", "line_loss_compliance", "complaint_control", "om_index", "reliability"]
FEATURES = ["sanliang_sanbi", "safety_study", "service_team", "model_post", "activities_per_member", "attendance_rate", "activity_hours", "mean_stars", "safety_points", "red_flags", "supervised"]


def within_r(panel, feature, indicator, lag):
    x = panel[feature if lag == 0 else f"{feature}_lag{lag}"]
    frame = pd.DataFrame({"s": panel["station_id"], "x": x, "y": panel[indicator]}).dropna()
    frame = frame[frame.groupby("s")["s"].transform("size") >= 2]
    dx = frame["x"] - frame.groupby("s")["x"].transform("mean")
    dy = frame["y"] - frame.groupby("s")["y"].transform("mean")
    r = float((dx * dy).sum() / math.sqrt((dx * dx).sum() * (dy * dy).sum()))
    return {"r": r, "n": int(len(frame)), "stations": int(frame["s"].nunique())}


def sample_digest():
    """sha256 over every file of the sample (path and content), so a test can tell that the
    fixtures were computed from the committed sample."""
    lines = []
    for path in sorted((p for p in SAMPLE.rglob("*") if p.is_file()), key=lambda p: p.relative_to(SAMPLE).as_posix()):
        lines.append(f"{path.relative_to(SAMPLE).as_posix()}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def main():
    master = load_master()
    resolver = Resolver(master)
    panel, accounting = build(master, resolver)
    truth = json.loads((SAMPLE / "ground_truth.json").read_text(encoding="utf-8"))
    effects = []
    log_deduped, _ = build(master, resolver, dedupe_log=True)
    conflicts_kept, _ = build(master, resolver, keep_conflicts=True)
    for e in truth["planted_effects"]:
        feature, indicator, lag = e["activity_code"], e["indicator"], e["lag"]
        effects.append({
            "id": e["id"],
            "feature": feature,
            "indicator": indicator,
            "lag": lag,
            "raw_sign": e["raw_sign"],
            **within_r(panel, feature, indicator, lag),
            "r_if_identical_log_rows_were_removed": within_r(log_deduped, feature, indicator, lag)["r"],
            "r_if_conflicting_orders_were_kept": within_r(conflicts_kept, feature, indicator, lag)["r"],
        })
    OUT.mkdir(parents=True, exist_ok=True)
    columns = ["station_id", "station_name", "county", "period", "customers", "log_customers", "tai_areas"] + INDICATORS + FEATURES + [f"{f}_lag1" for f in FEATURES]
    panel[columns].to_csv(OUT / "expected_panel.csv", index=False, float_format="%.17g", lineterminator="\n")
    changed = {
        name: int((~np.isclose(panel[name], other[name], equal_nan=True, rtol=0, atol=1e-12)).sum())
        for name in INDICATORS + FEATURES
        for other in [log_deduped]
        if (~np.isclose(panel[name], other[name], equal_nan=True, rtol=0, atol=1e-12)).any()
    }
    reference = {
        "sample": "sample_other",
        "sample_sha256": sample_digest(),
        "panel": {"rows": int(len(panel)), "stations": int(panel["station_id"].nunique()), "periods": sorted(panel["period"].unique().tolist()), "columns": columns},
        "empty_cells": {name: int(panel[name].isna().sum()) for name in INDICATORS + FEATURES},
        "accounting": accounting,
        "planted_effects": effects,
        "cells_changed_if_identical_log_rows_were_removed": changed,
    }
    (OUT / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for e in effects:
        print(f"{e['id']}: within r = {e['r']:.4f} (n {e['n']}, {e['stations']} stations); identical log rows removed: {e['r_if_identical_log_rows_were_removed']:.4f}; conflicting orders kept: {e['r_if_conflicting_orders_were_kept']:.4f}")
    print(f"panel {len(panel)} rows x {len(columns)} columns -> {OUT / 'expected_panel.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

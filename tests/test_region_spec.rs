//! Pipeline keys for another region's exports, on small temporary fixtures: values from the
//! file's name, title line and sheet name; timestamps from a date and a time column; the
//! duplicate policy of a source.

use std::path::Path;

use arrow::array::{Array, Date32Array, TimestampMicrosecondArray};
use serde_json::Value;

use crate::testenv::{duibiao, manifest, read_parquet, row_count, strings};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn source<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["sources"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()
}

const HEAD: &str = r#"
[pipeline]
name = "region_spec"
period = "quarter"
stations = "stations"

[output]
dir = "../out"

[sources.stations]
path = "stations.csv"
encoding = "utf-8"
columns.station_code = { header = "编码" }
columns.station_name = { header = "名称" }
columns.customers = { header = "客户数", type = "integer" }
"#;

/// Writes the station master and `pipeline` (after the common head) into `dir`, runs it; the
/// output goes beside `dir`, apart from every input.
fn run(dir: &Path, pipeline: &str) -> std::process::Output {
    write(&dir.join("stations.csv"), "编码,名称,客户数\nS01,甲供电所,100\nS02,乙供电所,200\n");
    write(&dir.join("p.toml"), &format!("{HEAD}{pipeline}"));
    duibiao(dir, &["run", "p.toml", "--quiet"])
}

fn dates(batches: &[arrow::record_batch::RecordBatch], column: &str) -> Vec<i32> {
    batches
        .iter()
        .flat_map(|b| b.column_by_name(column).unwrap().as_any().downcast_ref::<Date32Array>().unwrap().iter().map(Option::unwrap).collect::<Vec<_>>())
        .collect()
}

/// Days since 1970-01-01 of a civil date, written out independently of the code under test.
fn days(y: i32, m: u32, d: u32) -> i32 {
    let a = chrono_like(y, m, d);
    a - chrono_like(1970, 1, 1)
}

fn chrono_like(y: i32, m: u32, d: u32) -> i32 {
    // Day count from 0000-03-01 (Gregorian), the classic (153 m + 2) / 5 formula.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    365 * y + y / 4 - y / 100 + y / 400 + ((153 * m + 2) / 5) as i32 + d as i32 - 1
}

const FEE: &str = r#"
[sources.fee]
path = "电费/*.csv"
encoding = "utf-8"
station = "station_code"
period = "month"
columns.month = { type = "month", from = "file_name", pattern = '^(?P<year>\d{4})年(?P<month>\d{2})月' }
columns.station_code = { header = "单位代码" }
columns.billed = { header = "应收", type = "number" }
"#;

#[test]
fn months_and_quarters_come_from_file_names_title_lines_and_sheet_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("in");
    // The same line in January and April: different rows (different months), not duplicates.
    write(&dir.join("电费/2021年01月电费回收情况.csv"), "单位代码,应收\nS01,100\nS02,200\n");
    write(&dir.join("电费/2021年04月电费回收情况.csv"), "单位代码,应收\nS01,100\n");
    // Quarter only in the title line.
    write(&dir.join("线损/统计表(1).csv"), "国网某供电公司2021年第三季度台区同期线损统计表\n供电所编码,供电量\nS01,10\n");
    write(&dir.join("线损/统计表.csv"), "国网某供电公司2021年第4季度台区同期线损统计表,,\n供电所编码,供电量\nS02,20\nS01,30\n");
    // A sheet per year holding months 1–12.
    let mut book = rust_xlsxwriter::Workbook::new();
    for (year, rows) in [("2021年", [("S01", 1.0), ("S02", 5.0)]), ("2022年", [("S01", 12.0), ("S02", 12.0)])] {
        let sheet = book.add_worksheet().set_name(year).unwrap();
        sheet.write(0, 0, "采集质量统计").unwrap();
        sheet.write(1, 0, "供电所编号").unwrap();
        sheet.write(1, 1, "月份").unwrap();
        for (i, (code, month)) in rows.iter().enumerate() {
            sheet.write(2 + i as u32, 0, *code).unwrap();
            sheet.write(2 + i as u32, 1, *month).unwrap();
        }
    }
    std::fs::create_dir_all(dir.join("采集")).unwrap();
    book.save(dir.join("采集/采集.xlsx")).unwrap();
    let pipeline = format!(
        "{FEE}{}",
        r#"
[sources.line_loss]
path = "线损/*.csv"
encoding = "utf-8"
header_row = 2
station = "station_code"
period = "quarter"
columns.quarter = { type = "quarter", from = "title_line", pattern = '(?P<year>\d{4})年第(?P<quarter>[1-4一二三四])季度' }
columns.station_code = { header = "供电所编码" }
columns.supplied = { header = "供电量", type = "number" }

[sources.collection]
path = "采集/*.xlsx"
header_row = 2
station = "station_code"
period = "month"
columns.month = { type = "month", from = "sheet_name", pattern = '^(?P<year>\d{4})年$', month = "月份" }
columns.station_code = { header = "供电所编号" }
"#
    );
    let out = run(dir, &pipeline);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let curated = dir.join("../out/curated");
    let m = manifest(&dir.join("../out"));
    assert_eq!((source(&m, "fee")["accepted"].as_u64(), source(&m, "fee")["duplicates"].as_u64()), (Some(3), Some(0)));
    assert_eq!(dates(&read_parquet(&curated.join("fee/period=2021Q1")), "month"), [days(2021, 1, 1); 2]);
    assert_eq!(dates(&read_parquet(&curated.join("fee/period=2021Q2")), "month"), [days(2021, 4, 1)]);
    assert_eq!(dates(&read_parquet(&curated.join("line_loss/period=2021Q3")), "quarter"), [days(2021, 7, 1)]);
    assert_eq!(dates(&read_parquet(&curated.join("line_loss/period=2021Q4")), "quarter"), [days(2021, 10, 1); 2]);
    assert_eq!(dates(&read_parquet(&curated.join("collection/period=2021Q1")), "month"), [days(2021, 1, 1)]);
    assert_eq!(dates(&read_parquet(&curated.join("collection/period=2021Q2")), "month"), [days(2021, 5, 1)]);
    assert_eq!(dates(&read_parquet(&curated.join("collection/period=2022Q4")), "month"), [days(2022, 12, 1); 2]);
    assert_eq!(source(&m, "collection")["conserved"], true);
}

#[test]
fn a_file_name_that_does_not_fit_the_pattern_is_a_located_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("in");
    write(&dir.join("电费/2021年01月电费回收情况.csv"), "单位代码,应收\nS01,100\n");
    write(&dir.join("电费/电费回收情况(2021.3).csv"), "单位代码,应收\nS01,100\n");
    let out = run(dir, FEE);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("电费回收情况(2021.3).csv") && stderr.contains("does not fit the pattern"), "{stderr}");
    // Located in the pipeline file, at the column.
    let text = std::fs::read_to_string(dir.join("p.toml")).unwrap();
    let line = text.lines().position(|l| l.starts_with("columns.month")).unwrap() + 1;
    assert!(stderr.contains(&format!("p.toml:{line}:")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.join("../out").exists());
}

#[test]
fn a_date_column_and_a_time_column_make_the_start_and_dates_alone_make_periods() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("in");
    write(
        &dir.join("党建.csv"),
        "党组织名称,活动日期,开始时间,活动类别\nS01,2021-03-31,23:30,三亮三比\nS02,2021/04/01,9:05,安全学习\nS01,2021-05-06,,安全学习\nS02,2021-05-07,25:00,安全学习\n",
    );
    let pipeline = r#"
[sources.activities]
path = "党建.csv"
encoding = "utf-8"
station = "branch"
period = "start_time"
max_reject_share = 0.9
columns.branch = { header = "党组织名称" }
columns.start_time = { type = "timestamp", date = "活动日期", time = "开始时间", not_null = true }
columns.activity_type = { header = "活动类别" }

[sources.activity_days]
path = "党建.csv"
encoding = "utf-8"
station = "branch"
period = "day"
columns.branch = { header = "党组织名称" }
columns.day = { header = "活动日期", type = "date" }
"#;
    let out = run(dir, pipeline);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let curated = dir.join("../out/curated");
    let ts = |period: &str| -> Vec<i64> {
        read_parquet(&curated.join(format!("activities/period={period}")))
            .iter()
            .flat_map(|b| {
                b.column_by_name("start_time")
                    .unwrap()
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .unwrap()
                    .iter()
                    .map(Option::unwrap)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    // 2021-03-31 23:30 Beijing time = 15:30 UTC, still Q1; 2021-04-01 09:05 = 01:05 UTC.
    assert_eq!(ts("2021Q1"), [(i64::from(days(2021, 3, 31)) * 86_400 + 15 * 3600 + 1800) * 1_000_000]);
    assert_eq!(ts("2021Q2"), [(i64::from(days(2021, 4, 1)) * 86_400 + 3600 + 300) * 1_000_000]);
    let m = manifest(&dir.join("../out"));
    assert_eq!(source(&m, "activities")["rejected"], 2);
    let rejects = read_parquet(&dir.join("../out/quality/rejects.parquet"));
    let reasons: Vec<String> = strings(&rejects, "reason").into_iter().flatten().collect();
    assert!(reasons.iter().any(|r| r.starts_with("开始时间") && r.contains("time is missing")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("'25:00'")), "{reasons:?}");
    // Date-only periods: every line is dated by its day alone.
    assert_eq!(source(&m, "activity_days")["accepted"], 4);
    assert_eq!(row_count(&read_parquet(&curated.join("activity_days/period=2021Q2"))), 3);
}

fn rejects_of(out: &Path, source: &str) -> Vec<(String, i64, String, String)> {
    use arrow::array::Int64Array;
    let batches = read_parquet(&out.join("quality/rejects.parquet"));
    let mut rows = Vec::new();
    for b in &batches {
        let one = [b.clone()];
        let (sources, files, kinds, reasons) = (strings(&one, "source"), strings(&one, "file"), strings(&one, "kind"), strings(&one, "reason"));
        let lines = b.column_by_name("row").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..b.num_rows() {
            if sources[i].as_deref() == Some(source) {
                let file = files[i].clone().unwrap();
                let name = Path::new(&file).file_name().unwrap().to_string_lossy().into_owned();
                rows.push((name, lines.value(i), kinds[i].clone().unwrap(), reasons[i].clone().unwrap()));
            }
        }
    }
    rows.sort();
    rows
}

#[test]
fn a_declared_key_quarantines_every_conflicting_row_and_removes_identical_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("in");
    // W1: line 2 and its identical copy in b.csv (a duplicate).
    // W2: lines 3 and 4 differ in type; W2 also in b.csv line 3, identical to line 3: all three
    // conflicting. W3 alone. W4: lines 5 and 6 identical (a duplicate).
    write(
        &dir.join("95598/a.csv"),
        "工单号,受理日期,诉求类型,所属单位\nW1,2021-03-01,投诉,S01\nW2,2021-03-02,投诉,S01\nW2,2021-03-02,咨询,S01\nW4,2021-03-05,咨询,S02\nW4,2021-03-05,咨询,S02\n",
    );
    write(&dir.join("95598/b.csv"), "工单号,受理日期,诉求类型,所属单位\nW1,2021-03-01,投诉,S01\nW2,2021-03-02,投诉,S01\nW3,2021-04-09,意见,S02\n");
    let pipeline = r#"
[sources.work_orders]
path = "95598/*.csv"
encoding = "utf-8"
station = "unit"
period = "accepted_at"
duplicates = { key = ["order_id"] }
max_reject_share = 0.9
columns.order_id = { header = "工单号" }
columns.accepted_at = { header = "受理日期", type = "date" }
columns.order_type = { header = "诉求类型" }
columns.unit = { header = "所属单位" }
"#;
    let out = run(dir, pipeline);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = manifest(&dir.join("../out"));
    let w = source(&m, "work_orders");
    assert_eq!((w["rows_read"].as_u64(), w["accepted"].as_u64(), w["duplicates"].as_u64(), w["conflicting"].as_u64()), (Some(8), Some(3), Some(2), Some(3)));
    assert_eq!(w["conserved"], true);
    assert_eq!(w["duplicate_policy"], "key(order_id)");
    let rejects = rejects_of(&dir.join("../out"), "work_orders");
    let brief: Vec<(&str, i64, &str)> = rejects.iter().map(|r| (r.0.as_str(), r.1, r.2.as_str())).collect();
    assert_eq!(
        brief,
        [("a.csv", 3, "conflicting"), ("a.csv", 4, "conflicting"), ("a.csv", 6, "duplicate"), ("b.csv", 2, "duplicate"), ("b.csv", 3, "conflicting")]
    );
    assert!(rejects.iter().all(|r| r.3.contains("duplicates = key(order_id)")), "{rejects:?}");
    assert!(rejects[0].3.contains("all 3 rows"), "{}", rejects[0].3);
    // The curated rows: W1 (a.csv line 2), W4 (line 5), W3.
    let ids: Vec<String> = strings(&read_parquet(&dir.join("../out/curated/work_orders")), "order_id").into_iter().flatten().collect();
    let mut ids = ids;
    ids.sort();
    assert_eq!(ids, ["W1", "W3", "W4"]);
}

#[test]
fn identical_rows_are_kept_as_distinct_events_and_removed_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("in");
    let log = "党组织名称,活动日期,活动类别,实际参加人数\nS01,2021-03-05,党员示范岗,8\nS01,2021-03-05,党员示范岗,8\nS01,2021-03-05,党员示范岗,8\nS02,2021-03-06,安全学习,5\n";
    write(&dir.join("log.csv"), log);
    let body = r#"
path = "log.csv"
encoding = "utf-8"
station = "branch"
period = "day"
columns.branch = { header = "党组织名称" }
columns.day = { header = "活动日期", type = "date" }
columns.activity_type = { header = "活动类别" }
columns.present = { header = "实际参加人数", type = "integer" }
"#;
    let pipeline = format!("[sources.kept]\nduplicates = \"keep\"\n{body}\n[sources.exact]\n{body}");
    let out = run(dir, &pipeline);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = manifest(&dir.join("../out"));
    let (kept, exact) = (source(&m, "kept"), source(&m, "exact"));
    assert_eq!((kept["accepted"].as_u64(), kept["duplicates"].as_u64(), kept["duplicate_policy"].as_str()), (Some(4), Some(0), Some("keep")));
    assert_eq!((exact["accepted"].as_u64(), exact["duplicates"].as_u64(), exact["duplicate_policy"].as_str()), (Some(2), Some(2), Some("exact")));
    assert_eq!(row_count(&read_parquet(&dir.join("../out/curated/kept"))), 4);
    assert!(rejects_of(&dir.join("../out"), "kept").is_empty());
    let exact_rejects = rejects_of(&dir.join("../out"), "exact");
    assert_eq!(exact_rejects.iter().map(|r| (r.1, r.2.as_str())).collect::<Vec<_>>(), [(3, "duplicate"), (4, "duplicate")]);
    assert!(exact_rejects[0].3.contains("line 2 (duplicates = exact)"), "{}", exact_rejects[0].3);
}

#[test]
fn a_duplicate_policy_that_names_no_column_is_a_spec_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("in");
    write(&dir.join("log.csv"), "编号,日期\n1,2021-01-01\n");
    let pipeline = "[sources.log]\npath = \"log.csv\"\nperiod = \"day\"\nduplicates = { key = [\"order_no\"] }\ncolumns.order_id = { header = \"编号\" }\ncolumns.day = { header = \"日期\", type = \"date\" }\n\n[sources.log2]\npath = \"log.csv\"\nduplicates = \"none\"\ncolumns.order_id = { header = \"编号\" }\n";
    let out = run(dir, pipeline);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("duplicates key 'order_no' is not a column of source 'log'; did you mean 'order_id'?"), "{stderr}");
    assert!(stderr.contains("duplicates 'none' is unknown"), "{stderr}");
}

//! Guardrails of ingest on damaged and implausible input: every physical line accounted for (a
//! stray quote, CR-only endings, rows of the wrong width, a file cut off mid-record), and dated
//! values checked against the pipeline's date window (typos, Excel serials, ISO zones, numbers
//! that overflow once scaled). Expected figures are counted from the fixtures themselves.

use std::path::{Path, PathBuf};

use arrow::array::{Array, Date32Array, Int64Array, TimestampMicrosecondArray};
use serde_json::Value;

use crate::testenv::{duibiao, manifest, read_parquet, row_count, sample_data, strings};

/// Station master of the small workspaces: one station, S01 色满供电所.
const STATIONS: &str = "供电所编码,供电所名称\nS01,色满供电所\n";

/// A workspace with `exports/` holding `files` and `pipelines/p.toml` holding `pipeline`.
fn workspace(dir: &Path, files: &[(&str, &[u8])], pipeline: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    std::fs::create_dir_all(dir.join("exports")).unwrap();
    std::fs::write(dir.join("exports/stations.csv"), STATIONS).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join("exports").join(name), bytes).unwrap();
    }
    std::fs::write(dir.join("pipelines/p.toml"), pipeline).unwrap();
    dir.join("pipelines/out")
}

/// `[pipeline]`, `[output]` and the station master, followed by `sources`.
fn pipeline(extra_job: &str, sources: &str) -> String {
    format!(
        r#"
[pipeline]
name = "guards"
period = "quarter"
stations = "stations"
{extra_job}

[output]
dir = "out"

[sources.stations]
path = "../exports/stations.csv"
columns.station_code = {{ header = "供电所编码" }}
columns.station_name = {{ header = "供电所名称" }}
{sources}
"#
    )
}

fn run(dir: &Path) -> std::process::Output {
    duibiao(dir, &["run", "pipelines/p.toml", "--quiet"])
}

fn source<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["sources"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()
}

/// Quarantine rows as (file, row, column, value, kind, reason).
type RejectRow = (String, i64, Option<String>, Option<String>, String, String);

fn rejects(out: &Path) -> Vec<RejectRow> {
    let batches = read_parquet(&out.join("quality/rejects.parquet"));
    let (files, columns, values, kinds, reasons) =
        (strings(&batches, "file"), strings(&batches, "column"), strings(&batches, "value"), strings(&batches, "kind"), strings(&batches, "reason"));
    let mut rows = Vec::new();
    for b in &batches {
        let a = b.column_by_name("row").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        rows.extend((0..a.len()).map(|i| a.value(i)));
    }
    (0..rows.len())
        .map(|i| (files[i].clone().unwrap(), rows[i], columns[i].clone(), values[i].clone(), kinds[i].clone().unwrap(), reasons[i].clone().unwrap()))
        .collect()
}

/// Line endings in raw bytes, counted the plain way: every LF, and every CR not followed by LF.
fn line_endings(bytes: &[u8]) -> u64 {
    (0..bytes.len()).filter(|&i| bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))).count() as u64
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Every physical line of every file is a title, header, blank or record line, and every record
/// is accepted, rejected, dropped, a duplicate or of another period.
fn assert_conserved(s: &Value) {
    let name = &s["name"];
    assert_eq!(s["conserved"], true, "{name}");
    assert_eq!(n(s, "rows_read"), n(s, "accepted") + n(s, "rejected") + n(s, "dropped") + n(s, "duplicates") + n(s, "other_period"), "{name}");
    for f in s["files"].as_array().unwrap() {
        let accounted = n(f, "title_lines") + n(f, "header_lines") + n(f, "blank_lines") + n(f, "record_lines");
        assert_eq!(n(f, "physical_lines"), accounted, "{name}: {f}");
    }
}

const WORK_ORDERS: &str = r#"
[sources.work_orders]
path = "../exports/wo.csv"
encoding = "utf-8"
station = "unit_name"
station_key = "name"
period = "accepted_at"
columns.order_id = { header = "工单编号", not_null = true }
columns.accepted_at = { header = "受理时间", type = "timestamp", not_null = true }
columns.order_type = { header = "工单类型", not_null = true }
columns.subtype = { header = "业务子类" }
columns.unit_name = { header = "供电单位", not_null = true }
columns.status = { header = "处理状态" }
"#;

#[test]
fn a_stray_quote_in_the_95598_export_costs_its_own_line_only() {
    // One `"` at the start of the second field of line 102 used to swallow the other 3 043
    // lines of the file into one record, with the accounting still "conserved".
    let original = std::fs::read(sample_data().join("work_orders/95598工单_2020Q4.csv")).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let (first, rest) = lines[101].split_once(',').unwrap();
    lines[101] = format!("{first},\"{rest}");
    let damaged = lines.join("\n");
    let physical = line_endings(damaged.as_bytes()) + u64::from(!damaged.ends_with('\n'));
    let blank = damaged.lines().filter(|l| l.trim().is_empty()).count() as u64;
    let tmp = tempfile::tempdir().unwrap();
    let out = workspace(tmp.path(), &[("wo.csv", damaged.as_bytes())], &pipeline("", WORK_ORDERS));
    let result = run(tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let m = manifest(&out);
    let wo = source(&m, "work_orders");
    assert_eq!(n(wo, "rows_read"), physical - 1 - blank, "every line but the header is a record");
    assert_conserved(wo);
    assert_eq!(n(wo, "physical_lines"), physical);
    assert_eq!(n(wo, "rejected"), 1);
    let rejected: Vec<RejectRow> = rejects(&out).into_iter().filter(|r| r.4 == "rejected").collect();
    assert_eq!(rejected.len(), 1);
    let (file, row, column, value, _, reason) = &rejected[0];
    assert!(file.ends_with("exports/wo.csv"), "{file}");
    assert_eq!(*row, 102);
    assert_eq!(column.as_deref(), Some("accepted_at"));
    assert_eq!(value.as_deref(), Some(lines[101].as_str()));
    assert!(reason.contains("field 2 (受理时间) opens a quote that does not close") && reason.contains("引号在本行没有闭合"), "{reason}");
    // The lines after it are all in the curated data, with their own line numbers.
    let curated = read_parquet(&out.join("curated/work_orders"));
    assert_eq!(row_count(&curated) as u64, n(wo, "accepted"));
    let ids: std::collections::HashSet<String> = strings(&curated, "order_id").into_iter().flatten().collect();
    let after: Vec<&str> = lines[102..].iter().filter(|l| !l.trim().is_empty()).map(|l| l.split(',').next().unwrap()).collect();
    let present = after.iter().filter(|id| ids.contains(**id)).count() as u64;
    assert!(present + n(wo, "duplicates") >= after.len() as u64, "{present} of {} later records curated", after.len());
}

/// A small work-order export (header + `rows` records) with the given line ending.
fn orders(rows: usize, ending: &str) -> String {
    let mut text = format!("工单编号,受理时间,工单类型,业务子类,供电单位,处理状态{ending}");
    for i in 0..rows {
        text.push_str(&format!("W{i:04},2020-1{}-0{} 08:00:00,投诉,电费,色满供电所,已归档{ending}", i % 3, 1 + i % 9));
    }
    text
}

#[test]
fn cr_lf_crlf_and_mixed_line_endings_read_the_same_records() {
    let rows = 40;
    let lf = orders(rows, "\n");
    let mixed: String = lf
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| match i % 3 {
            0 => l.replace('\n', "\r"),
            1 => l.replace('\n', "\r\n"),
            _ => l.to_string(),
        })
        .collect();
    for (label, text) in [("lf", lf.clone()), ("cr", orders(rows, "\r")), ("crlf", orders(rows, "\r\n")), ("mixed", mixed)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = workspace(tmp.path(), &[("wo.csv", text.as_bytes())], &pipeline("", WORK_ORDERS));
        let result = run(tmp.path());
        assert!(result.status.success(), "{label}: {}", String::from_utf8_lossy(&result.stderr));
        let wo = source(&manifest(&out), "work_orders").clone();
        assert_eq!((n(&wo, "rows_read"), n(&wo, "accepted")), (rows as u64, rows as u64), "{label}");
        assert_conserved(&wo);
        assert_eq!(n(&wo, "physical_lines"), rows as u64 + 1, "{label}");
        let curated = read_parquet(&out.join("curated/work_orders"));
        let mut ids = strings(&curated, "order_id");
        ids.sort();
        assert_eq!(ids, (0..rows).map(|i| Some(format!("W{i:04}"))).collect::<Vec<_>>(), "{label}");
        assert!(strings(&curated, "status").iter().all(|s| s.as_deref() == Some("已归档")), "{label}: a line ending left in a value");
    }
}

#[test]
fn rows_of_the_wrong_width_and_a_cut_off_end_are_quarantined_with_their_lines() {
    let text = "工单编号,受理时间,工单类型,业务子类,供电单位,处理状态\n\
                W1,2020-10-01 08:00:00,投诉,电费,色满供电所,已归档\n\
                W2,2020-10-02 08:00:00,投诉,电费,色满供电所\n\
                W3,2020-10-03 08:00:00,投诉,电费,喀什,色满供电所,已归档\n\
                \n\
                W4,2020-10-04 08:00:00,\"故障\n报修\",低压,色满供电所,已归档\n\
                W5,2020-10-05 08:00:00,投诉,电费,色满供电所,\"已";
    let tmp = tempfile::tempdir().unwrap();
    let sources = format!("{WORK_ORDERS}max_reject_share = 0.9\n");
    let out = workspace(tmp.path(), &[("wo.csv", text.as_bytes())], &pipeline("", &sources));
    let result = run(tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let wo = source(&manifest(&out), "work_orders").clone();
    assert_eq!(n(&wo, "rejected"), 3);
    assert_conserved(&wo);
    // 8 physical lines: header, W1, W2, W3, blank, W4 (two lines), W5 (unterminated).
    assert_eq!((n(&wo, "physical_lines"), n(&wo, "rows_read"), n(&wo, "accepted"), n(&wo, "rejected"), n(&wo, "blank_lines")), (8, 5, 2, 3, 1));
    let mut found: Vec<(i64, String)> = rejects(&out).into_iter().map(|r| (r.1, r.5)).collect();
    found.sort();
    assert_eq!(found.iter().map(|r| r.0).collect::<Vec<_>>(), [3, 4, 8]);
    assert!(found[0].1.contains("5 fields, but the header has 6"), "{}", found[0].1);
    assert!(found[1].1.contains("7 fields, but the header has 6"), "{}", found[1].1);
    assert!(found[2].1.contains("the file ends inside this record") && found[2].1.contains("field 6 (处理状态)"), "{}", found[2].1);
    let curated = read_parquet(&out.join("curated/work_orders"));
    assert!(strings(&curated, "order_type").contains(&Some("故障\n报修".to_string())));
}

#[test]
fn dates_outside_the_window_are_rejected_naming_file_line_column_value_and_window() {
    // A typo year 2200 and a 1999 date: each one rejected row, no period 2200Q4 or 1999Q4.
    let mut text = orders(10, "\n");
    text.push_str("W9001,2200-10-01 09:00:00,投诉,电费,色满供电所,已归档\n");
    text.push_str("W9002,1999-12-31 09:00:00,投诉,电费,色满供电所,已归档\n");
    let tmp = tempfile::tempdir().unwrap();
    let sources = format!("{WORK_ORDERS}max_reject_share = 0.5\n");
    let out = workspace(tmp.path(), &[("wo.csv", text.as_bytes())], &pipeline("", &sources));
    let result = run(tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let m = manifest(&out);
    assert_eq!(m["periods_touched"], serde_json::json!(["2020Q4"]));
    let wo = source(&m, "work_orders");
    assert_conserved(wo);
    assert_eq!((n(wo, "accepted"), n(wo, "rejected")), (10, 2));
    let found = rejects(&out);
    let typo = found.iter().find(|r| r.1 == 12).expect("line 12 in quarantine");
    assert!(typo.0.ends_with("exports/wo.csv"));
    assert_eq!((typo.2.as_deref(), typo.3.as_deref()), (Some("accepted_at"), Some("2200-10-01 09:00:00")));
    assert!(typo.5.starts_with("受理时间: ") && typo.5.contains("date 2200-10-01 is outside the pipeline's date window 2000-01-01 … "), "{}", typo.5);
    let early = found.iter().find(|r| r.1 == 13).expect("line 13 in quarantine");
    assert!(early.5.contains("date 1999-12-31 is outside"), "{}", early.5);
    assert!(!out.join("curated/work_orders/period=2200Q4").exists());
}

#[test]
fn the_default_window_ends_a_year_after_the_run_date() {
    // Today + 1 year is in; today + 1 year + 10 days is out (dates computed from the clock here).
    let today = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + 8 * 3600) / 86_400;
    let civil = |days: i64| Date32Array::from(vec![days as i32]).value_as_date(0).unwrap();
    let soon = civil(today + 300);
    let late = civil(today + 366 + 10);
    let mut text = orders(20, "\n");
    text.push_str(&format!("W9001,{} 09:00:00,投诉,电费,色满供电所,已归档\n", soon.format("%Y-%m-%d")));
    text.push_str(&format!("W9002,{} 09:00:00,投诉,电费,色满供电所,已归档\n", late.format("%Y-%m-%d")));
    let tmp = tempfile::tempdir().unwrap();
    let out = workspace(tmp.path(), &[("wo.csv", text.as_bytes())], &pipeline("", &format!("{WORK_ORDERS}max_reject_share = 0.5\n")));
    assert!(run(tmp.path()).status.success());
    let found = rejects(&out);
    assert_eq!(found.iter().map(|r| r.1).collect::<Vec<_>>(), [23], "{found:?}");
}

#[test]
fn a_date_window_in_the_pipeline_overrides_the_default_and_a_bad_bound_is_a_spec_error() {
    let text = orders(30, "\n"); // months 10, 11 and 12 of 2020
    let tmp = tempfile::tempdir().unwrap();
    let job = r#"date_window = { from = "2020-11", to = "2020-11" }"#;
    let out = workspace(tmp.path(), &[("wo.csv", text.as_bytes())], &pipeline(job, &format!("{WORK_ORDERS}max_reject_share = 0.9\n")));
    assert!(run(tmp.path()).status.success());
    let wo = source(&manifest(&out), "work_orders").clone();
    assert_eq!((n(&wo, "accepted"), n(&wo, "rejected")), (10, 20));
    assert!(rejects(&out).iter().all(|r| r.5.contains("outside the pipeline's date window 2020-11-01 … 2020-11-30")));

    let bad = r#"date_window = { from = "2000-01", to = "next year" }"#;
    std::fs::write(tmp.path().join("pipelines/p.toml"), pipeline(bad, WORK_ORDERS)).unwrap();
    let result = run(tmp.path());
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("date_window bound 'next year'") && stderr.contains("p.toml:"), "{stderr}");
}

#[test]
fn iso_timestamps_with_zones_land_in_their_local_quarter() {
    let text = "工单编号,受理时间,工单类型,业务子类,供电单位,处理状态\n\
                Z1,2020-12-31T16:30:00Z,投诉,电费,色满供电所,已归档\n\
                Z2,2020-12-31T23:30:00+08:00,投诉,电费,色满供电所,已归档\n\
                Z3,2020-12-31T10:30:00.5-05:00,投诉,电费,色满供电所,已归档\n";
    let tmp = tempfile::tempdir().unwrap();
    let out = workspace(tmp.path(), &[("wo.csv", text.as_bytes())], &pipeline("", WORK_ORDERS));
    let result = run(tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let at = |period: &str| -> Vec<(String, i64)> {
        let batches = read_parquet(&out.join(format!("curated/work_orders/period={period}")));
        let ids = strings(&batches, "order_id");
        let mut ts = Vec::new();
        for b in &batches {
            let a = b.column_by_name("accepted_at").unwrap().as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
            ts.extend((0..a.len()).map(|i| a.value(i)));
        }
        ids.into_iter().map(Option::unwrap).zip(ts).collect()
    };
    // 2020-12-31 16:30 UTC is 2021-01-01 00:30 in Beijing; 10:30 at -05:00 is 15:30:00.5 UTC.
    let utc = |h: i64, m: i64| (1_609_372_800 + h * 3600 + m * 60) * 1_000_000; // 2020-12-31T00:00Z
    assert_eq!(at("2021Q1"), [("Z1".to_string(), utc(16, 30))]);
    let mut q4 = at("2020Q4");
    q4.sort();
    assert_eq!(q4, [("Z2".to_string(), utc(15, 30)), ("Z3".to_string(), utc(15, 30) + 500_000)]);
}

#[test]
fn a_number_that_overflows_once_scaled_is_rejected() {
    let text = "供电所编码,统计月份,应收电费(万元)\nS01,2020-10,12.5\nS01,2020-11,1e308\n";
    let sources = r#"
[sources.fee]
path = "../exports/fee.csv"
encoding = "utf-8"
station = "station_code"
period = "month"
max_reject_share = 0.9
columns.station_code = { header = "供电所编码" }
columns.month = { header = "统计月份", type = "month" }
columns.billed = { header = "应收电费(万元)", type = "number", scale = 10000 }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let out = workspace(tmp.path(), &[("fee.csv", text.as_bytes())], &pipeline("", sources));
    let result = run(tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let found = rejects(&out);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].1, found[0].2.as_deref(), found[0].3.as_deref()), (3, Some("billed"), Some("1e308")));
    assert!(found[0].5.contains("out of range once scaled (× 10000)"), "{}", found[0].5);
}

#[test]
fn excel_serials_and_date_cells_in_a_workbook_read_as_their_dates() {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["单位编码", "统计月份", "应采户数"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    // Row 2: the serial 43862 as a plain number (February 2020, not month 4386-02).
    // Row 3: 2020-03-15 as a date cell. Row 4: 202009 as a number. Row 5: the text 2020年11月.
    // Row 6: 9.9e9 as a plain number; row 7: 9.9e9 in a date cell; row 8: 2200-10-01 as a date
    // cell (serial 109848). Rows 6-8 are rejected with a reason; no job stops.
    let cells: [(&str, Option<(f64, bool)>, Option<&str>); 7] = [
        ("S01", Some((43_862.0, false)), None),
        ("S01", Some((43_905.0, true)), None),
        ("S01", Some((202_009.0, false)), None),
        ("S01", None, Some("2020年11月")),
        ("S01", Some((9.9e9, false)), None),
        ("S01", Some((9.9e9, true)), None),
        ("S01", Some((109_848.0, true)), None),
    ];
    for (i, (code, number, text)) in cells.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, *code).unwrap();
        match (number, text) {
            (Some((v, true)), _) => sheet.write_number_with_format(r, 1, *v, &date).map(|_| ()).unwrap(),
            (Some((v, false)), _) => sheet.write_number(r, 1, *v).map(|_| ()).unwrap(),
            (None, Some(t)) => sheet.write_string(r, 1, *t).map(|_| ()).unwrap(),
            _ => unreachable!(),
        }
        sheet.write_number(r, 2, 100.0).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("exports")).unwrap();
    book.save(tmp.path().join("exports/collection.xlsx")).unwrap();
    let sources = r#"
[sources.collection]
path = "../exports/collection.xlsx"
station = "station_code"
period = "month"
max_reject_share = 0.9
columns.station_code = { header = "单位编码" }
columns.month = { header = "统计月份", type = "month" }
columns.expected_meters = { header = "应采户数", type = "integer" }
"#;
    let out = workspace(tmp.path(), &[], &pipeline("", sources));
    let result = run(tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let m = manifest(&out);
    assert_eq!(m["periods_touched"], serde_json::json!(["2020Q1", "2020Q3", "2020Q4"]));
    let c = source(&m, "collection");
    assert_conserved(c);
    assert_eq!((n(c, "physical_lines"), n(c, "accepted"), n(c, "rejected")), (8, 4, 3));
    let mut months = Vec::new();
    for b in read_parquet(&out.join("curated/collection")) {
        let a = b.column_by_name("month").unwrap().as_any().downcast_ref::<Date32Array>().unwrap().clone();
        months.extend((0..a.len()).map(|i| a.value_as_date(i).unwrap().format("%Y-%m").to_string()));
    }
    months.sort();
    assert_eq!(months, ["2020-02", "2020-03", "2020-09", "2020-11"]);
    let mut found: Vec<(i64, String)> = rejects(&out).into_iter().map(|r| (r.1, r.5)).collect();
    found.sort();
    assert_eq!(found.iter().map(|r| r.0).collect::<Vec<_>>(), [6, 7, 8]);
    assert!(found[0].1.contains("'9900000000' is not a month"), "{}", found[0].1);
    assert!(found[1].1.contains("is not an Excel date serial number"), "{}", found[1].1);
    assert!(found[2].1.contains("date 2200-10-01 is outside"), "{}", found[2].1);
}

#[test]
fn reference_tables_keep_dates_before_the_window() {
    // The window guards the job's time axis; a station commissioned in 1985 is not a typo.
    let tmp = tempfile::tempdir().unwrap();
    let job = r#"
[pipeline]
name = "guards"
period = "quarter"
stations = "stations"

[output]
dir = "out"

[sources.stations]
path = "../exports/stations.csv"
columns.station_code = { header = "供电所编码" }
columns.station_name = { header = "供电所名称" }
columns.commissioned = { header = "投运日期", type = "date" }
"#;
    let out = workspace(tmp.path(), &[], job);
    std::fs::write(tmp.path().join("exports/stations.csv"), "供电所编码,供电所名称,投运日期\nS01,色满供电所,1985-06-01\n").unwrap();
    let result = run(tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let s = source(&manifest(&out), "stations").clone();
    assert_eq!((n(&s, "accepted"), n(&s, "rejected")), (1, 0));
}

/// Files beside the exports that no pattern matches are listed by `check` and `run` and in the
/// manifest, never read; hidden files, office lock files, other file types and folders below
/// the pattern's depth are not exports of the source.
#[test]
fn files_beside_the_exports_that_no_pattern_matches_are_listed_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    crate::testenv::fee_workspace(tmp.path());
    let exports = tmp.path().join("exports");
    for (name, text) in
        [("fee-gbk(1).csv", "x\n"), ("费用_2020Q4.XLSX", "x"), ("说明.md", "x"), (".fee_hidden.csv", "x"), ("~$fee.xlsx", "x"), ("old/fee_2019.csv", "x")]
    {
        std::fs::create_dir_all(exports.join(name).parent().unwrap()).unwrap();
        std::fs::write(exports.join(name), text).unwrap();
    }
    let unread = ["exports/fee-gbk(1).csv", "exports/费用_2020Q4.XLSX"];
    let check = duibiao(tmp.path(), &["check", "pipelines/fee_small.toml"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let run = duibiao(tmp.path(), &["run", "pipelines/fee_small.toml"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for out in [&check, &run] {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("2 file(s) that look like exports"), "{stdout}");
        for name in unread {
            assert!(stdout.contains(name), "{name} not listed:\n{stdout}");
        }
        for name in ["说明.md", ".fee_hidden.csv", "~$fee.xlsx", "fee_2019.csv"] {
            assert!(!stdout.contains(name), "{name} listed:\n{stdout}");
        }
    }
    let m = manifest(&tmp.path().join("pipelines/out"));
    let listed: Vec<(&str, &str)> =
        m["unread_files"].as_array().unwrap().iter().map(|f| (f["path"].as_str().unwrap(), f["beside"].as_str().unwrap())).collect();
    assert_eq!(listed, vec![(unread[0], "fee"), (unread[1], "fee")]);
    // Nothing of them was read: the files the manifest names are the pattern's.
    let read: Vec<&str> = m["sources"].as_array().unwrap().iter().flat_map(|s| s["files"].as_array().unwrap()).map(|f| f["path"].as_str().unwrap()).collect();
    assert!(read.iter().all(|p| !p.contains("(1)") && !p.ends_with(".XLSX")), "{read:?}");
}

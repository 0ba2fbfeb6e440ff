//! The small synthetic workspace every fault case starts from, and the ways cases damage it.
//!
//! `data/stations.csv`: four stations S01–S04 (UTF-8). `data/fee.csv`: 24 rows, four stations ×
//! six months of 2020 (lines 2–25, line of station s in month m = 2 + 4(m−1) + (s−1)).
//! `data/orders.csv`: 24 work orders naming their station by name (lines 2–25, one a week from
//! 2020-01-06). `pipelines/p.toml` reads the three into `out/` (`dir = "../out"`) without a panel;
//! `with_panel` adds identity rules and two indicators.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::harness::Workspace;

/// Puts the output of one clean run of the base workspace into `out/` of `ws` (whose inputs
/// are the base ones). The run is made once per test process and its folder copied file by file
/// (a duibiao output is marked by what it holds), which spares each case a run of its own.
pub fn previous_output(ws: &Workspace) {
    static OUT: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    let files = OUT.get_or_init(|| {
        let mut base = Workspace::new();
        base.write("data/stations.csv", &lf(&stations_lines()));
        base.write("data/fee.csv", &lf(&fee_lines()));
        base.write("data/orders.csv", &lf(&orders_lines()));
        base.write("pipelines/p.toml", pipeline().as_bytes());
        let first = base.run(&["run", "pipelines/p.toml", "--quiet"]);
        assert_eq!(first.code, Some(0), "the base workspace must run clean\n{}", first.describe());
        let mut files = BTreeMap::new();
        let mut stack = vec![base.path("out")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.insert(p.strip_prefix(&base.root).unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap());
                }
            }
        }
        files
    });
    for (rel, bytes) in files {
        let p = ws.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
}

/// Station codes, names and counties of the master.
pub const STATIONS: [(&str, &str, &str, u32); 4] =
    [("S01", "阿克供电所", "英吉沙县", 10000), ("S02", "巴格供电所", "英吉沙县", 5000), ("S03", "托克扎克供电所", "疏附县", 8000), ("S04", "色满供电所", "喀什市", 12000)];

pub fn stations_lines() -> Vec<String> {
    let mut lines = vec!["供电所编码,供电所名称,所属县公司,用户数".to_string()];
    lines.extend(STATIONS.iter().map(|(c, n, county, k)| format!("{c},{n},{county},{k}")));
    lines
}

/// Line (from 1) of station `s` (1–4) in month `m` (1–6) in fee.csv.
pub fn fee_line(m: usize, s: usize) -> usize {
    2 + 4 * (m - 1) + (s - 1)
}

pub const FEE_HEADER: &str = "单位编码,月份,应收,实收";

/// fee.csv as lines: the header, then 24 unique rows.
pub fn fee_lines() -> Vec<String> {
    let mut lines = vec![FEE_HEADER.to_string()];
    for m in 1..=6 {
        for s in 1..=4 {
            let i = (m - 1) * 4 + s;
            lines.push(format!("S0{s},2020-0{m},{},{}", 1000 + 10 * i, 900 + 10 * i));
        }
    }
    lines
}

pub const ORDER_TYPES: [&str; 3] = ["投诉", "咨询", "故障报修"];

/// orders.csv as lines: the header, then 24 orders, one a week from Monday 2020-01-06.
pub fn orders_lines() -> Vec<String> {
    let mut lines = vec!["工单编号,受理时间,工单类型,供电单位".to_string()];
    for i in 0..24 {
        let day = 5 + 7 * i as i32; // day of 2020 (0 = Jan 1)
        let (m, d) = month_day_2020(day);
        lines.push(format!("W{:03},2020-{m:02}-{d:02} 10:00:00,{},{}", i + 1, ORDER_TYPES[i % 3], STATIONS[i % 4].1));
    }
    lines
}

fn month_day_2020(mut day: i32) -> (u32, u32) {
    let lengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for (i, len) in lengths.iter().enumerate() {
        if day < *len {
            return (i as u32 + 1, day as u32 + 1);
        }
        day -= len;
    }
    unreachable!()
}

/// Lines joined with LF, ending with one.
pub fn lf(lines: &[String]) -> Vec<u8> {
    join(lines, "\n", true)
}

pub fn join(lines: &[String], terminator: &str, last: bool) -> Vec<u8> {
    let mut text = lines.join(terminator);
    if last {
        text.push_str(terminator);
    }
    text.into_bytes()
}

pub fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, errors) = encoding_rs::GBK.encode(text);
    assert!(!errors);
    bytes.into_owned()
}

pub fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

pub fn utf16be(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xFE, 0xFF] } else { Vec::new() };
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out
}

/// The base pipeline: stations, fee (by code, monthly) and orders (by name, timestamped).
pub fn pipeline() -> String {
    r#"[pipeline]
name = "faults"
period = "quarter"
stations = "stations"

[output]
dir = "../out"

[sources.stations]
path = "../data/stations.csv"
columns.station_code = { header = "供电所编码" }
columns.station_name = { header = "供电所名称" }
columns.county = { header = "所属县公司" }
columns.customers = { header = "用户数", type = "integer" }

[sources.fee]
path = "../data/fee.csv"
station = "station_code"
period = "month"
max_reject_share = 0.5
columns.station_code = { header = "单位编码" }
columns.month = { header = "月份", type = "month" }
columns.billed = { header = "应收", type = "number" }
columns.paid = { header = "实收", type = "number" }

[sources.orders]
path = "../data/orders.csv"
station = "unit_name"
station_key = "name"
period = "accepted_at"
max_reject_share = 0.5
columns.order_id = { header = "工单编号" }
columns.accepted_at = { header = "受理时间", type = "timestamp" }
columns.order_type = { header = "工单类型" }
columns.unit_name = { header = "供电单位" }
"#
    .to_string()
}

/// Adds identity rules and two indicators (fee recovery; complaints with `fill = 0`), so the run
/// resolves stations and builds a panel.
pub fn with_panel(pipeline: &str) -> String {
    format!(
        r#"{pipeline}
[identity]
county_column = "county"
township_words = ["镇", "乡"]
unit_word = "供电所"

[indicators.fee_recovery]
source = "fee"
formula = "sum(paid) / sum(billed)"
better = "higher"

[indicators.complaints]
source = "orders"
formula = "sum(CASE WHEN order_type = '投诉' THEN 1.0 ELSE 0.0 END)"
better = "lower"
fill = 0.0
"#
    )
}

/// Adds a feature (order count) so the run also correlates.
pub fn with_feature(pipeline: &str) -> String {
    format!(
        r#"{pipeline}
[features.orders_total]
source = "orders"
formula = "count(*)"
"#
    )
}

/// Adds an alias table source `data/aliases.csv` (spelling → code) named in [pipeline].
pub fn with_aliases(pipeline: &str) -> String {
    let p = pipeline.replacen("stations = \"stations\"", "stations = \"stations\"\naliases = \"aliases\"", 1);
    format!(
        r#"{p}
[sources.aliases]
path = "../data/aliases.csv"
columns.spelling = {{ header = "名称写法" }}
columns.station_code = {{ header = "供电所编码" }}
"#
    )
}

/// Replaces one `key = value` line of a source (or adds it after the `[sources.NAME]` line).
pub fn set_source_key(pipeline: &str, source: &str, key: &str, value: &str) -> String {
    let header = format!("[sources.{source}]\n");
    let start = pipeline.find(&header).unwrap_or_else(|| panic!("no source {source}")) + header.len();
    let end = pipeline[start..].find("\n[").map(|i| start + i + 1).unwrap_or(pipeline.len());
    let section = &pipeline[start..end];
    let prefix = format!("{key} = ");
    let new_section = match section.lines().position(|l| l.starts_with(&prefix)) {
        Some(i) => section.lines().enumerate().map(|(j, l)| if j == i { format!("{key} = {value}") } else { l.to_string() }).collect::<Vec<_>>().join("\n") + "\n",
        None => format!("{key} = {value}\n{section}"),
    };
    format!("{}{}{}", &pipeline[..start], new_section, &pipeline[end..])
}

/// A workbook with one sheet per (name, rows); each cell is a number, text, or a date.
pub enum XCell {
    Text(String),
    Number(f64),
    /// A date cell (Excel serial with a date format).
    Date(u16, u8, u8),
    /// A raw serial number with a date format (what Excel holds for a date cell).
    Serial(f64),
    Empty,
}

pub fn xlsx(sheets: &[(&str, Vec<Vec<XCell>>)]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for (name, rows) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    XCell::Text(t) => {
                        sheet.write_string(r, c, t).unwrap();
                    }
                    XCell::Number(v) => {
                        sheet.write_number(r, c, *v).unwrap();
                    }
                    XCell::Date(y, m, d) => {
                        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                        sheet.write_datetime_with_format(r, c, &date, &date_format).unwrap();
                    }
                    XCell::Serial(v) => {
                        sheet.write_number_with_format(r, c, *v, &date_format).unwrap();
                    }
                    XCell::Empty => {}
                }
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// fee as a workbook sheet: the same 24 rows, months written as yyyyMM numbers (as the
/// collection system exports them).
pub fn fee_sheet() -> Vec<Vec<XCell>> {
    let mut rows = vec![["单位编码", "月份", "应收", "实收"].iter().map(|h| XCell::Text(h.to_string())).collect::<Vec<_>>()];
    for m in 1..=6 {
        for s in 1..=4 {
            let i = (m - 1) * 4 + s;
            rows.push(vec![XCell::Text(format!("S0{s}")), XCell::Number(202000.0 + m as f64), XCell::Number(1000.0 + 10.0 * i as f64), XCell::Number(900.0 + 10.0 * i as f64)]);
        }
    }
    rows
}

/// The base pipeline with fee read from `data/fee.xlsx`.
pub fn xlsx_pipeline() -> String {
    pipeline().replace("path = \"../data/fee.csv\"", "path = \"../data/fee.xlsx\"")
}

//! `duibiao sample`: determinism against the committed sample, every export readable with its
//! stated encoding and headers, and every documented kind of dirt present in the stated amount —
//! recounted here from the files themselves, with logic of the test's own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use serde_json::Value;

use crate::testenv::{decode, duibiao, manifest, records, sample_data, sample_other};

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Runs `duibiao sample` with `args` into a temporary folder and compares every file, byte for
/// byte, with the committed folder.
fn assert_regenerates(args: &[&str], committed: &Path, command: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sample");
    let mut all = vec!["sample", "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = duibiao(tmp.path(), &all);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let generated = files_under(&out);
    let committed_files = files_under(committed);
    assert_eq!(generated.keys().collect::<Vec<_>>(), committed_files.keys().collect::<Vec<_>>(), "file lists differ");
    for (name, bytes) in &generated {
        assert!(bytes == &committed_files[name], "{name} differs from the committed sample; regenerate with `{command}`");
    }
    let total: usize = committed_files.values().map(Vec::len).sum();
    assert!(total < 15_000_000, "sample is {total} bytes, over 15 MB");
}

#[test]
fn committed_sample_is_exactly_what_the_generator_writes() {
    assert_regenerates(&[], &sample_data(), "duibiao sample --out sample_data");
}

#[test]
fn committed_other_layout_sample_is_exactly_what_the_generator_writes() {
    assert_regenerates(&["--layout", "other"], &sample_other(), "duibiao sample --layout other --out sample_other");
}

#[test]
fn another_seed_gives_other_data() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let run = duibiao(tmp.path(), &["sample", "--out", out.to_str().unwrap(), "--seed", "7"]);
    assert!(run.status.success());
    let a = std::fs::read(out.join("master/供电所台账.csv")).unwrap();
    let b = std::fs::read(sample_data().join("master/供电所台账.csv")).unwrap();
    assert_ne!(a, b);
}

/// Every file the manifest lists exists, decodes with its stated encoding and line ending, has the
/// stated headers on the stated line, and holds the stated number of data rows.
#[test]
fn every_export_parses_back_with_its_stated_encoding_and_headers() {
    for dir in [sample_data(), sample_other()] {
        exports_parse_back(&dir);
    }
}

fn exports_parse_back(dir: &Path) {
    let m = manifest(dir);
    let files = m["files"].as_array().unwrap();
    assert!(files.len() >= 50);
    for f in files {
        let path = dir.join(f["path"].as_str().unwrap());
        let headers: Vec<String> = f["headers"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
        let header_row = f["header_row"].as_u64().unwrap() as usize;
        let stated_rows = f["rows"].as_u64().unwrap() as usize;
        match f["format"].as_str().unwrap() {
            "csv" => {
                let text = decode(&path, f["encoding"].as_str().unwrap());
                let crlf = text.contains("\r\n");
                assert_eq!(crlf, f["line_ending"] == "crlf", "{}: line ending", path.display());
                let lines: Vec<&str> = text.lines().collect();
                let header: Vec<String> = records(lines[header_row]).remove(0);
                assert_eq!(header, headers, "{}: header line {}", path.display(), header_row + 1);
                let data = lines[header_row + 1..].iter().filter(|l| !l.is_empty() && !l.starts_with("合计")).count();
                assert_eq!(data, stated_rows, "{}: data rows", path.display());
            }
            "xlsx" => {
                let mut book = open_workbook_auto(&path).unwrap();
                let mut rows = 0;
                for sheet in f["sheets"].as_array().unwrap() {
                    let range = book.worksheet_range(sheet.as_str().unwrap()).unwrap();
                    let header: Vec<String> = range.rows().nth(header_row).unwrap().iter().map(|c| c.to_string()).collect();
                    assert_eq!(header, headers, "{}: sheet {sheet}", path.display());
                    rows += range.rows().count() - header_row - 1;
                }
                assert_eq!(rows, stated_rows, "{}", path.display());
            }
            other => panic!("unknown format {other}"),
        }
    }
}

/// The rows of all files of one source, as (file path, header, data records), blank lines kept as
/// empty records so they can be counted.
struct SourceRows {
    files: Vec<(String, Vec<String>, Vec<String>)>,
}

fn source(dir: &Path, m: &Value, name: &str) -> SourceRows {
    let mut files = Vec::new();
    for f in m["files"].as_array().unwrap().iter().filter(|f| f["source"] == name) {
        let path = dir.join(f["path"].as_str().unwrap());
        let text = decode(&path, f["encoding"].as_str().unwrap());
        let header_row = f["header_row"].as_u64().unwrap() as usize;
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header = records(&lines[header_row]).remove(0);
        files.push((f["path"].as_str().unwrap().to_string(), header, lines[header_row + 1..].to_vec()));
    }
    SourceRows { files }
}

impl SourceRows {
    /// Data records (blank lines and total lines dropped) as column-name → value maps.
    fn rows(&self) -> Vec<HashMap<String, String>> {
        let mut out = Vec::new();
        for (_, header, lines) in &self.files {
            for line in lines.iter().filter(|l| !l.is_empty() && !l.starts_with("合计")) {
                let rec = records(line).remove(0);
                out.push(header.iter().cloned().zip(rec).collect());
            }
        }
        out
    }

    fn blank_lines(&self) -> u64 {
        self.files.iter().map(|(_, _, lines)| lines.iter().filter(|l| l.is_empty()).count() as u64).sum()
    }

    /// Lines identical to an earlier line of the same file.
    fn duplicate_lines(&self) -> u64 {
        let mut n = 0;
        for (_, _, lines) in &self.files {
            let mut seen = HashSet::new();
            for line in lines.iter().filter(|l| !l.is_empty()) {
                if !seen.insert(line) {
                    n += 1;
                }
            }
        }
        n
    }
}

/// A test-side station resolver, independent of the library's: exact name, alias table, then
/// spaces, brackets, party prefixes and suffixes, county prefixes and 镇/乡 removed.
struct Stations {
    by_name: HashMap<String, String>,
    alias: HashMap<String, String>,
    counties: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Resolved {
    Canonical(String),
    Rule(String),
    Alias(String),
    Unknown,
}

impl Stations {
    fn load(dir: &Path) -> Stations {
        let master = records(&decode(&dir.join("master/供电所台账.csv"), "utf-8-bom"));
        let mut by_name = HashMap::new();
        let mut counties = Vec::new();
        for r in &master[1..] {
            by_name.insert(r[1].clone(), r[0].clone());
            counties.push(r[2].clone());
            counties.push(r[2].trim_end_matches('县').trim_end_matches('市').to_string());
        }
        counties.push("塔县".into());
        counties.sort_by_key(|c| std::cmp::Reverse(c.chars().count()));
        counties.dedup();
        let alias = records(&decode(&dir.join("master/供电所别名.csv"), "utf-8-bom"))[1..].iter().map(|r| (r[0].clone(), r[1].clone())).collect();
        Stations { by_name, alias, counties }
    }

    fn resolve(&self, raw: &str, branch: bool) -> Resolved {
        let mut name: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if branch {
            name = name.trim_start_matches("中共").to_string();
            for suffix in ["党支部", "支部委员会"] {
                if let Some(stripped) = name.strip_suffix(suffix) {
                    name = stripped.to_string();
                }
            }
        }
        if raw == name || (branch && raw.strip_suffix("党支部") == Some(name.as_str())) {
            if let Some(code) = self.by_name.get(&name) {
                return Resolved::Canonical(code.clone());
            }
        }
        if let Some(code) = self.alias.get(&name) {
            return Resolved::Alias(code.clone());
        }
        if let Some(open) = name.find('（') {
            name.truncate(open);
        }
        let mut candidates = vec![name.clone()];
        for county in &self.counties {
            if let Some(rest) = name.strip_prefix(county.as_str()) {
                candidates.push(rest.to_string());
            }
        }
        for c in candidates {
            for form in [c.clone(), c.replace("镇供电所", "供电所").replace("乡供电所", "供电所")] {
                if let Some(code) = self.by_name.get(&form) {
                    return Resolved::Rule(code.clone());
                }
            }
        }
        Resolved::Unknown
    }
}

fn dirt(m: &Value, source: &str, kind: &str) -> u64 {
    m["dirt"].as_array().unwrap().iter().filter(|d| d["source"] == source && d["kind"] == kind).map(|d| d["count"].as_u64().unwrap()).sum()
}

fn number(text: &str) -> Option<f64> {
    text.replace(',', "").trim_end_matches('%').parse().ok()
}

#[test]
fn fee_dirt_is_present_in_the_stated_amounts() {
    let dir = sample_data();
    let m = manifest(&dir);
    let fee = source(&dir, &m, "fee");
    let rows = fee.rows();
    let months = 24u64;
    let stations = m["stations"].as_u64().unwrap();
    let present: HashSet<(String, String)> = rows.iter().map(|r| (r["供电单位编码"].clone(), r["统计月份"].clone())).collect();
    assert_eq!(stations * months - present.len() as u64, dirt(&m, "fee", "missing_month"));
    assert_eq!(fee.duplicate_lines(), dirt(&m, "fee", "duplicate_row"));
    let amount = |r: &HashMap<String, String>, prefix: &str| r.iter().find(|(k, _)| k.starts_with(prefix)).map(|(_, v)| number(v).unwrap()).unwrap();
    let over = rows.iter().filter(|r| amount(r, "实收电费") > amount(r, "应收电费")).count() as u64;
    assert_eq!(over, dirt(&m, "fee", "recovery_over_100"));
    let in_wan = rows.iter().filter(|r| r.keys().any(|k| k.contains("万元"))).count() as u64;
    assert_eq!(in_wan, dirt(&m, "fee", "amounts_in_wan_yuan"));
    // Title line above the header, 合计 line at the bottom, in every fee file.
    for (path, _, lines) in &fee.files {
        assert!(lines.last().unwrap().starts_with("合计"), "{path}");
        let text = decode(&dir.join(path), "gbk");
        assert!(text.lines().next().unwrap().ends_with("统计表"), "{path}");
    }
    assert_eq!(fee.files.len() as u64, dirt(&m, "fee", "title_row"));
    assert_eq!(fee.files.len() as u64, dirt(&m, "fee", "total_row"));
    for kind in ["missing_month", "duplicate_row", "recovery_over_100", "amounts_in_wan_yuan"] {
        assert!(dirt(&m, "fee", kind) > 0, "{kind} not planted");
    }
}

#[test]
fn line_loss_dirt_is_present_in_the_stated_amounts() {
    let dir = sample_data();
    let m = manifest(&dir);
    let loss = source(&dir, &m, "line_loss");
    let rows = loss.rows();
    let negative = rows.iter().filter(|r| number(&r["供电量(kWh)"]).is_some_and(|v| v < 0.0)).count() as u64;
    let unparseable = rows.iter().filter(|r| number(&r["售电量(kWh)"]).is_none()).count() as u64;
    assert_eq!(negative, dirt(&m, "line_loss", "negative_supply"));
    assert_eq!(unparseable, dirt(&m, "line_loss", "unparseable_number"));
    assert_eq!(loss.duplicate_lines(), dirt(&m, "line_loss", "duplicate_row"));
    assert!(negative > 0 && unparseable > 0 && loss.duplicate_lines() > 0);
}

#[test]
fn collection_dirt_is_present_in_the_stated_amount() {
    let dir = sample_data();
    let m = manifest(&dir);
    let f = m["files"].as_array().unwrap().iter().find(|f| f["source"] == "collection").unwrap();
    let mut book = open_workbook_auto(dir.join(f["path"].as_str().unwrap())).unwrap();
    let mut over = 0;
    for sheet in f["sheets"].as_array().unwrap() {
        let range = book.worksheet_range(sheet.as_str().unwrap()).unwrap();
        for row in range.rows().skip(1) {
            let (Data::Float(expected), Data::Float(collected)) = (&row[3], &row[4]) else { panic!("numbers expected: {row:?}") };
            assert!(matches!(row[5], Data::String(ref s) if s.ends_with('%')), "success rate as percent text");
            over += u64::from(collected > expected);
        }
    }
    assert_eq!(over, dirt(&m, "collection", "collected_over_expected"));
    assert!(over > 0);
}

#[test]
fn work_order_dirt_is_present_in_the_stated_amounts() {
    let dir = sample_data();
    let m = manifest(&dir);
    let stations = Stations::load(&dir);
    let orders = source(&dir, &m, "work_orders");
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for r in orders.rows() {
        let kind = match stations.resolve(&r["供电单位"], false) {
            Resolved::Canonical(_) => "canonical",
            Resolved::Rule(_) => "name_variant_rule",
            Resolved::Alias(_) => "name_variant_alias",
            Resolved::Unknown => "unknown_unit",
        };
        *counts.entry(kind).or_default() += 1;
    }
    for kind in ["name_variant_rule", "name_variant_alias", "unknown_unit"] {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), dirt(&m, "work_orders", kind), "{kind}");
        assert!(dirt(&m, "work_orders", kind) > 0, "{kind} not planted");
    }
    assert_eq!(orders.blank_lines(), dirt(&m, "work_orders", "blank_line"));
    assert_eq!(orders.duplicate_lines(), dirt(&m, "work_orders", "duplicate_row"));
    assert!(orders.blank_lines() > 0 && orders.duplicate_lines() > 0);
    // Work orders carry timestamps and the five order types.
    let types: HashSet<String> = orders.rows().iter().map(|r| r["工单类型"].clone()).collect();
    assert_eq!(types, ["投诉", "意见", "举报", "故障报修", "咨询"].iter().map(|s| s.to_string()).collect());
}

#[test]
fn party_dirt_is_present_in_the_stated_amounts() {
    let dir = sample_data();
    let m = manifest(&dir);
    let stations = Stations::load(&dir);
    let party = source(&dir, &m, "party_activities");
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut station_quarters: HashSet<(String, String)> = HashSet::new();
    for (path, header, lines) in &party.files {
        let quarter = path.rsplit('_').next().unwrap().trim_end_matches(".csv").to_string();
        for line in lines.iter().filter(|l| !l.is_empty()) {
            let rec = records(line).remove(0);
            assert_eq!(rec.len(), header.len());
            let (kind, code) = match stations.resolve(&rec[0], true) {
                Resolved::Canonical(c) => ("canonical", Some(c)),
                Resolved::Rule(c) => ("name_variant_rule", Some(c)),
                Resolved::Alias(c) => ("name_variant_alias", Some(c)),
                Resolved::Unknown => ("unmatched_branch", None),
            };
            *counts.entry(kind).or_default() += 1;
            if let Some(code) = code {
                station_quarters.insert((code, quarter.clone()));
            }
            // Attendance never exceeds the expected head count.
            assert!(rec[7].parse::<u64>().unwrap() <= rec[6].parse::<u64>().unwrap(), "{line}");
        }
    }
    for kind in ["name_variant_rule", "name_variant_alias", "unmatched_branch"] {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), dirt(&m, "party_activities", kind), "{kind}");
        assert!(dirt(&m, "party_activities", kind) > 0, "{kind} not planted");
    }
    let expected = m["stations"].as_u64().unwrap() * m["periods"].as_array().unwrap().len() as u64;
    assert_eq!(expected - station_quarters.len() as u64, dirt(&m, "party_activities", "missing_quarter"));
    assert_eq!(party.blank_lines(), dirt(&m, "party_activities", "blank_line"));
    assert_eq!(party.duplicate_lines(), dirt(&m, "party_activities", "duplicate_row"));
    let types: HashSet<String> = party.rows().iter().map(|r| r["活动类型"].clone()).collect();
    for t in ["三亮三比", "安全学习", "支部党员大会", "共产党员服务队", "谈心谈话"] {
        assert!(types.contains(t), "{t} missing");
    }
}

#[test]
fn outages_cross_quarter_ends_as_stated() {
    let dir = sample_data();
    let m = manifest(&dir);
    let outages = source(&dir, &m, "outages").rows();
    let quarter = |ts: &str| {
        let month: u32 = ts[5..7].parse().unwrap();
        format!("{}Q{}", &ts[..4], (month - 1) / 3 + 1)
    };
    let spanning = outages.iter().filter(|r| quarter(&r["停电开始时间"]) != quarter(&r["停电结束时间"])).count() as u64;
    assert_eq!(spanning, dirt(&m, "outages", "outage_across_quarters"));
    assert!(spanning > 0);
    for r in &outages {
        assert!(r["停电结束时间"] > r["停电开始时间"], "{r:?}");
        assert!(["故障", "计划"].contains(&r["停电类型"].as_str()));
    }
}

#[test]
fn ground_truth_names_the_planted_effects() {
    let gt: Value = serde_json::from_str(&std::fs::read_to_string(sample_data().join("ground_truth.json")).unwrap()).unwrap();
    let effects = gt["planted_effects"].as_array().unwrap();
    assert!(effects.len() >= 2);
    for e in effects {
        assert_eq!(e["scope"], "within");
        assert!(["negative", "positive"].contains(&e["raw_sign"].as_str().unwrap()));
    }
    assert!(std::fs::read_to_string(sample_data().join("GROUND_TRUTH.md")).unwrap().contains("三亮三比"));
}

/// The second layout's own traits, recounted from its files: the period only in file names,
/// title lines and sheet names; split date and time; identical lines that are distinct events in
/// the log without an ID; exact duplicates and conflicting lines under the 95598 order number;
/// county-wrapped unit names.
#[test]
fn other_layout_exports_are_laid_out_as_stated() {
    let dir = sample_other();
    let m = manifest(&dir);
    assert_eq!(m["layout"], "other");
    assert_eq!(m["periods"].as_array().unwrap().first().unwrap(), "2021Q1");
    let stations = m["stations"].as_u64().unwrap();
    assert!((40..=80).contains(&stations), "{stations} stations");
    let files = m["files"].as_array().unwrap();
    let of = |source: &'static str| files.iter().filter(move |f| f["source"] == source);

    // Fee: one GB18030 file per month, the month only in the file name.
    let fee: Vec<&Value> = of("fee").collect();
    assert_eq!(fee.len(), 24);
    for f in &fee {
        let path = f["path"].as_str().unwrap();
        let name = path.rsplit('/').next().unwrap();
        assert!(name.len() > 12 && name.ends_with("月电费回收情况.csv") && name.chars().take(4).all(|c| c.is_ascii_digit()), "{name}");
        assert_eq!(f["encoding"], "gb18030");
        assert_eq!(f["period_in"], "file_name");
        assert!(f["headers"].as_array().unwrap().iter().all(|h| !h.as_str().unwrap().contains('月')), "{path}: a month column");
    }

    // Line loss: file names as repeated downloads, the quarter only in the title line.
    let mut quarters = HashSet::new();
    for f in of("line_loss") {
        assert_eq!(f["period_in"], "title_line");
        let path = f["path"].as_str().unwrap();
        assert!(!path.contains("20"), "{path} names a period");
        let text = decode(&dir.join(path), f["encoding"].as_str().unwrap());
        let title = text.lines().next().unwrap();
        let at = title.find("年第").unwrap_or_else(|| panic!("{path}: title {title}"));
        quarters.insert(title[at - 4..at + "年第".len() + 1].to_string());
    }
    assert_eq!(quarters.len(), 8, "{quarters:?}");

    // Collection: sheets named by year, months written 1–12.
    let f = of("collection").next().unwrap();
    assert_eq!(f["sheets"], serde_json::json!(["2021年", "2022年"]));
    let mut book = open_workbook_auto(dir.join(f["path"].as_str().unwrap())).unwrap();
    for sheet in ["2021年", "2022年"] {
        let range = book.worksheet_range(sheet).unwrap();
        let months: HashSet<i64> = range
            .rows()
            .skip(2)
            .map(|r| match r[2] {
                Data::Float(x) => x as i64,
                Data::Int(x) => x,
                ref other => panic!("month {other:?}"),
            })
            .collect();
        assert_eq!(months, (1..=12).collect());
    }

    // Party log: split date and time, no ID column; identical lines counted as stated, all of
    // them 党员示范岗 or the service centre's.
    let party = source(&dir, &m, "party_activities");
    let (_, header, _) = &party.files[0];
    assert_eq!(&header[1..3], ["活动日期", "开始时间"]);
    assert!(!header.iter().any(|h| h.contains("编号") || h.contains("ID")));
    assert_eq!(party.duplicate_lines(), dirt(&m, "party_activities", "identical_event"));
    assert!(party.duplicate_lines() >= 10);
    for (_, _, lines) in &party.files {
        let mut seen = HashSet::new();
        for line in lines {
            if !seen.insert(line) {
                assert!(line.contains("党员示范岗") || line.contains("客户服务中心"), "{line}");
            }
        }
    }
    for r in party.rows() {
        let (date, time) = (&r["活动日期"], &r["开始时间"]);
        assert!(date.len() == 10 && &date[4..5] == "-" && time.len() == 5 && &time[2..3] == ":", "{date} {time}");
    }

    // 95598: exact duplicate lines and conflicting lines under the order number.
    let orders = source(&dir, &m, "work_orders");
    assert_eq!(orders.duplicate_lines(), dirt(&m, "work_orders", "duplicate_row"));
    let mut by_key: HashMap<String, HashSet<Vec<String>>> = HashMap::new();
    for (_, _, lines) in &orders.files {
        for line in lines.iter().filter(|l| !l.is_empty()) {
            let rec = records(line).remove(0);
            by_key.entry(rec[0].clone()).or_default().insert(rec);
        }
    }
    let conflicting: u64 = by_key.values().map(|v| v.len() as u64 - 1).sum();
    assert_eq!(conflicting, dirt(&m, "work_orders", "conflicting_row"));
    assert!(conflicting > 0 && orders.duplicate_lines() > 0);

    // County-wrapped names: the master's county column names county companies, 95598 units
    // carry the county, party organisations both companies.
    let master = records(&decode(&dir.join("基础信息/供电所台账.csv"), "utf-8"));
    let names: HashSet<&str> = master[1..].iter().map(|r| r[1].as_str()).collect();
    assert!(master[1..].iter().all(|r| r[2].starts_with("国网") && r[2].ends_with("供电公司")));
    assert!(master[1..].iter().any(|r| r[2].ends_with("自治县供电公司")) && master[1..].iter().any(|r| r[2].ends_with("市供电公司")));
    assert!(master[1..].iter().all(|r| r[6].starts_with("中共国网") && r[6].ends_with("支部委员会")));
    let rows = orders.rows();
    assert!(rows.iter().all(|r| !names.contains(r["所属单位"].as_str())), "a 95598 unit spelled as the master");
    let unknown = rows.iter().filter(|r| r["所属单位"].ends_with("营业厅")).count() as u64;
    assert_eq!(unknown, dirt(&m, "work_orders", "unknown_unit"));
    assert_eq!(rows.len() as u64 - unknown, dirt(&m, "work_orders", "wrapped_name"));
}

//! `duibiao sample`: determinism against the committed sample, every export readable with its
//! stated encoding and headers, and every documented kind of dirt present in the stated amount —
//! recounted here from the files themselves, with logic of the test's own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use serde_json::Value;

use crate::testenv::{decode, duibiao, records, sample_data};

fn manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

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

#[test]
fn committed_sample_is_exactly_what_the_generator_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sample");
    let run = duibiao(tmp.path(), &["sample", "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let generated = files_under(&out);
    let committed = files_under(&sample_data());
    assert_eq!(generated.keys().collect::<Vec<_>>(), committed.keys().collect::<Vec<_>>(), "file lists differ");
    for (name, bytes) in &generated {
        assert!(bytes == &committed[name], "{name} differs from the committed sample; regenerate with `duibiao sample --out sample_data`");
    }
    let total: usize = committed.values().map(Vec::len).sum();
    assert!(total < 15_000_000, "sample is {total} bytes, over 15 MB");
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
    let dir = sample_data();
    let m = manifest(&dir);
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
    let amount = |r: &HashMap<String, String>, prefix: &str| {
        r.iter().find(|(k, _)| k.starts_with(prefix)).map(|(_, v)| number(v).unwrap()).unwrap()
    };
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

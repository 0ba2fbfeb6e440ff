//! Identity guardrails and county forms, end to end: a station code on two rows of the master
//! and an alias to an unknown code stop the run naming their rows; a source whose rows mostly
//! match no station stops it with the commonest spellings; `fill` never stands in for a period
//! in which the source reached no station; county companies (国网X县供电公司) and unit and party
//! names wrapped in company names resolve by the default company words (no county_short_names),
//! which a pipeline can turn off. Expected values are worked out by hand from the fixtures.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::testenv::{duibiao, floats, read_parquet, repo, strings};

/// Copies `tests/fixtures/<data>` and the pipeline `tests/fixtures/pipelines/<pipeline>` into `tmp`.
fn workspace(tmp: &Path, data: &str, pipeline: &str) {
    let fixtures = repo().join("tests/fixtures");
    std::fs::create_dir_all(tmp.join("pipelines")).unwrap();
    std::fs::create_dir_all(tmp.join(data)).unwrap();
    for f in std::fs::read_dir(fixtures.join(data)).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), tmp.join(data).join(f.file_name())).unwrap();
    }
    std::fs::copy(fixtures.join("pipelines").join(pipeline), tmp.join("pipelines").join(pipeline)).unwrap();
}

fn run(tmp: &Path, pipeline: &str) -> Output {
    duibiao(tmp, &["run", &format!("pipelines/{pipeline}"), "--quiet"])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn append(path: &Path, text: &str) {
    let old = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, old + text).unwrap();
}

/// Replaces one line of the pipeline file (exact match) with `new`.
fn edit_pipeline(path: &Path, old: &str, new: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(old), "{old} not in {}", path.display());
    std::fs::write(path, text.replace(old, new)).unwrap();
}

/// The value of `column` for a station and period of the wide panel.
fn cell(out: &Path, column: &str, station: &str, period: &str) -> Option<f64> {
    let panel = read_parquet(&out.join("panel.parquet"));
    let (ids, periods, values) = (strings(&panel, "station_id"), strings(&panel, "period"), floats(&panel, column));
    let row = (0..ids.len()).find(|&i| ids[i].as_deref() == Some(station) && periods[i].as_deref() == Some(period));
    values[row.unwrap_or_else(|| panic!("no row {station} {period}"))]
}

/// The coverage reason of an empty cell.
fn reason(out: &Path, variable: &str, station: &str, period: &str) -> Option<String> {
    let coverage = read_parquet(&out.join("quality/coverage.parquet"));
    let (vars, ids, periods, reasons) =
        (strings(&coverage, "variable"), strings(&coverage, "station_id"), strings(&coverage, "period"), strings(&coverage, "reason"));
    (0..vars.len())
        .find(|&i| vars[i].as_deref() == Some(variable) && ids[i].as_deref() == Some(station) && periods[i].as_deref() == Some(period))
        .and_then(|i| reasons[i].clone())
}

/// The `out.failed-*` folder a stopped run left beside `out`.
fn failed_folder(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("out.failed-")).collect();
    assert_eq!(found.len(), 1, "one failed folder in {}: {found:?}", dir.display());
    found[0].clone()
}

/// Runs the panel fixture once, so that a later failing run has a previous output to keep.
fn panel_small_with_output(tmp: &Path) -> Vec<u8> {
    workspace(tmp, "panel", "panel_small.toml");
    let first = run(tmp, "panel_small.toml");
    assert!(first.status.success(), "{}", stderr(&first));
    std::fs::read(tmp.join("pipelines/out/manifest.json")).unwrap()
}

#[test]
fn a_station_code_on_two_master_rows_stops_the_run_naming_both_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let before = panel_small_with_output(tmp.path());
    // Line 4: a second station under S01's code (before, all of S01's data went to one of them).
    append(&tmp.path().join("panel/stations.csv"), "S01,阿克二供电所,英县,3000,2,阿克二供电所党支部\n");
    let out = run(tmp.path(), "panel_small.toml");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("panel/stations.csv:2: S01\n") && text.contains("panel/stations.csv:4: S01\n"), "{text}");
    assert!(text.contains("station master 'stations'"), "{text}");
    assert_eq!(std::fs::read(tmp.path().join("pipelines/out/manifest.json")).unwrap(), before, "previous output untouched");
    assert!(failed_folder(&tmp.path().join("pipelines")).join("manifest.json").exists());
}

#[test]
fn an_alias_to_an_unknown_station_code_stops_the_run_naming_its_row() {
    let tmp = tempfile::tempdir().unwrap();
    let before = panel_small_with_output(tmp.path());
    // Line 3 of the alias table points to S09, which the master does not have.
    append(&tmp.path().join("panel/aliases.csv"), "巴格所,S09\n");
    let out = run(tmp.path(), "panel_small.toml");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("panel/aliases.csv:3: '巴格所' → S09"), "{text}");
    assert!(!text.contains("panel/aliases.csv:2"), "the valid alias is not listed: {text}");
    assert_eq!(std::fs::read(tmp.path().join("pipelines/out/manifest.json")).unwrap(), before);
}

/// Work orders whose unit names match no station: 3 in 2020Q1 and 3 in 2020Q2, none in 2020Q3.
const ORDERS_MATCHING_NOTHING: &str = "工单编号,受理时间,工单类型,供电单位
W1,2020-01-05 10:00:00,投诉,巴格达供电所
W2,2020-02-05 10:00:00,投诉,巴格达供电所
W3,2020-03-05 10:00:00,意见,巴格达供电所
W4,2020-04-05 10:00:00,投诉,阿克苏供电所
W5,2020-05-05 10:00:00,投诉,阿克苏供电所
W6,2020-06-05 10:00:00,咨询,营业厅
";

#[test]
fn a_source_that_matches_no_station_stops_the_run_with_its_commonest_spellings() {
    let tmp = tempfile::tempdir().unwrap();
    let before = panel_small_with_output(tmp.path());
    std::fs::write(tmp.path().join("panel/orders.csv"), ORDERS_MATCHING_NOTHING).unwrap();
    let out = run(tmp.path(), "panel_small.toml");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("work_orders: 6 行中有 6 行（100.0%）") && text.contains("6 of 6 rows (100.0%) matched no station (allowed 20.0%)"), "{text}");
    // Commonest first, with rows and the closest stations (edit distance: 巴格达供电所 is one
    // character from 巴格供电所, two from 阿克供电所).
    let (first, second, third) =
        (text.find("'巴格达供电所': 3 行 rows").unwrap(), text.find("'阿克苏供电所': 2 行 rows").unwrap(), text.find("'营业厅': 1 行 rows").unwrap());
    assert!(first < second && second < third, "{text}");
    assert!(text.contains("'巴格达供电所': 3 行 rows; 最接近的供电所 closest stations: 巴格供电所 (S02); 阿克供电所 (S01)"), "{text}");
    // The other sources are within their limit: only work_orders is named.
    assert!(!text.contains("party:"), "{text}");
    assert_eq!(std::fs::read(tmp.path().join("pipelines/out/manifest.json")).unwrap(), before, "previous output untouched");
    let failed = failed_folder(&tmp.path().join("pipelines"));
    let unmatched = read_parquet(&failed.join("quality/unmatched.parquet"));
    let mut listed: Vec<(String, String)> =
        strings(&unmatched, "source").into_iter().zip(strings(&unmatched, "spelling")).map(|(s, p)| (s.unwrap(), p.unwrap())).collect();
    listed.sort();
    assert_eq!(
        listed,
        [("work_orders".to_string(), "巴格达供电所".to_string()), ("work_orders".into(), "营业厅".into()), ("work_orders".into(), "阿克苏供电所".into())]
    );
    let m: Value = serde_json::from_str(&std::fs::read_to_string(failed.join("manifest.json")).unwrap()).unwrap();
    let orders = m["panel"]["source_rows"].as_array().unwrap().iter().find(|s| s["source"] == "work_orders").unwrap();
    assert_eq!((orders["matched"].as_u64(), orders["unmatched"].as_u64()), (Some(0), Some(6)));
}

#[test]
fn fill_stands_only_for_periods_in_which_the_source_reached_a_station() {
    let tmp = tempfile::tempdir().unwrap();
    workspace(tmp.path(), "panel", "panel_small.toml");
    std::fs::write(tmp.path().join("panel/orders.csv"), ORDERS_MATCHING_NOTHING).unwrap();
    // Allowed to go on: the unmatched share alone does not stop this run.
    edit_pipeline(&tmp.path().join("pipelines/panel_small.toml"), "max_unmatched_share = 0.2", "max_unmatched_share = 1.0");
    let out = run(tmp.path(), "panel_small.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("pipelines/out");
    // complaint_control has fill = 0, yet no cell is 0: nothing says the stations had no orders.
    for station in ["S01", "S02"] {
        for period in ["2020Q1", "2020Q2", "2020Q3"] {
            assert_eq!(cell(&dir, "complaint_control", station, period), None, "{station} {period}");
        }
        let why = reason(&dir, "complaint_control", station, "2020Q1").unwrap();
        assert!(why.contains("source 'work_orders' has 3 row(s) in 2020Q1 but none matched a station"), "{why}");
        assert!(reason(&dir, "complaint_control", station, "2020Q3").unwrap().contains("has no data for 2020Q3"));
    }
    // reliability (fill = 1) still fills where outages reached stations: S02 has no outage in Q1.
    assert_eq!(cell(&dir, "reliability", "S02", "2020Q1"), Some(1.0));
}

/// Per station and quarter, worked out from tests/fixtures/identity/orders.csv (投诉, 意见 and
/// 举报 count; 故障报修 and 咨询 do not) and party.csv.
#[test]
fn county_companies_and_wrapped_names_resolve_without_county_short_names() {
    let tmp = tempfile::tempdir().unwrap();
    workspace(tmp.path(), "identity", "identity_county.toml");
    let out = run(tmp.path(), "identity_county.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("pipelines/out");
    let c = |col: &str, s: &str, p: &str| cell(&dir, col, s, p);
    // 叶买吐提 (county 国网热吐市供电公司) in 2021Q1: 热吐市叶买吐提供电所 投诉, 国网热吐市供电公司叶买吐提供电所
    // 故障报修 (not counted), 叶买吐提供电所 意见, 热吐叶买吐提供电所 投诉 → 3.
    assert_eq!(c("complaints", "65010101", "2021Q1"), Some(3.0));
    // 喀巴孜加 (国网达叶蒙古自治县供电公司): 达叶县喀巴孜加供电所 投诉 → 1; in Q2 only 达叶喀巴孜加供电所
    // 故障报修 → rows but 0 complaints.
    assert_eq!(c("complaints", "65010301", "2021Q1"), Some(1.0));
    assert_eq!(c("complaints", "65010301", "2021Q2"), Some(0.0));
    // 木波依: 国网达叶蒙古自治县供电公司木波依供电所 举报 + 达叶蒙古自治县木波依乡供电所 投诉 → 2.
    assert_eq!(c("complaints", "65010302", "2021Q1"), Some(2.0));
    // 托克扎克 (国网疏附县供电公司): 疏附县托克扎克供电所 → 1; Q2 国网疏附县供电公司托克扎克供电所 投诉
    // + 疏附托克扎克供电所 意见 → 2.
    assert_eq!(c("complaints", "65312101", "2021Q1"), Some(1.0));
    assert_eq!(c("complaints", "65312101", "2021Q2"), Some(2.0));
    // 色米萨: no orders in Q1 (filled 0: the source reached stations that quarter); Q2 色米萨供电所
    // + 国家电网热吐市供电公司色米萨供电所, both 投诉 → 2.
    assert_eq!(c("complaints", "65010102", "2021Q1"), Some(0.0));
    assert_eq!(c("complaints", "65010102", "2021Q2"), Some(2.0));
    assert_eq!(c("complaints", "65010101", "2021Q2"), Some(0.0));
    // Party organisations 中共国网博斯腾供电公司热吐市供电公司叶买吐提供电所支部委员会 and
    // 中共国网热吐市供电公司叶买吐提供电所支部委员会 are one branch: 2 activities in Q1.
    assert_eq!(c("activities", "65010101", "2021Q1"), Some(2.0));
    assert_eq!(c("activities", "65010301", "2021Q1"), Some(1.0));
    assert_eq!(c("activities", "65010302", "2021Q1"), Some(1.0));
    assert_eq!(c("activities", "65312101", "2021Q1"), Some(1.0));
    assert_eq!(c("activities", "65312101", "2021Q2"), Some(1.0));
    assert_eq!(c("activities", "65010102", "2021Q2"), Some(1.0));
    assert_eq!(c("activities", "65010102", "2021Q1"), None, "no fill for activities");
    // Only the service hall and the customer-service centre's branch are no station.
    let unmatched = read_parquet(&dir.join("quality/unmatched.parquet"));
    let mut listed: Vec<String> = strings(&unmatched, "spelling").into_iter().flatten().collect();
    listed.sort();
    assert_eq!(listed, ["中共国网博斯腾供电公司客户服务中心支部委员会", "国网博斯腾供电公司客户服务中心营业厅"]);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let rows = |name: &str| {
        let s = m["panel"]["source_rows"].as_array().unwrap().iter().find(|s| s["source"] == name).unwrap().clone();
        (s["matched"].as_u64().unwrap(), s["unmatched"].as_u64().unwrap())
    };
    assert_eq!(rows("work_orders"), (13, 1));
    assert_eq!(rows("party"), (7, 1));
}

#[test]
fn company_words_are_pipeline_keys_and_without_them_the_wrapped_names_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    workspace(tmp.path(), "identity", "identity_county.toml");
    edit_pipeline(
        &tmp.path().join("pipelines/identity_county.toml"),
        "unit_word = \"供电所\"",
        "unit_word = \"供电所\"\ncompany_prefixes = []\ncompany_words = []",
    );
    let out = run(tmp.path(), "identity_county.toml");
    let text = stderr(&out);
    // As before company words existed: the county column 国网疏附县供电公司 gives no county form.
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("work_orders:") && text.contains("'疏附县托克扎克供电所': 1 行 rows"), "{text}");
}

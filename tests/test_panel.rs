//! The panel: every indicator on a small fixture worked out by hand (ratio of sums, a 台区 on the
//! band edge, an outage across two quarters), identity rules end to end, the ambiguity error, lags
//! across a gap, and on the sample data no row lost without a line in the quality tables.

use std::path::Path;

use serde_json::Value;

use crate::testenv::{duibiao, floats, read_parquet, repo, row_count, sample_run, strings};

/// Copies the panel fixture and pipeline into `tmp` and runs it.
fn run_panel_small(tmp: &Path) -> std::process::Output {
    panel_small_workspace(tmp);
    duibiao(tmp, &["run", "pipelines/panel_small.toml", "--quiet"])
}

/// Copies the panel fixture and pipeline into `tmp`.
fn panel_small_workspace(tmp: &Path) {
    let fixtures = repo().join("tests/fixtures");
    std::fs::create_dir_all(tmp.join("pipelines")).unwrap();
    std::fs::create_dir_all(tmp.join("panel")).unwrap();
    for f in std::fs::read_dir(fixtures.join("panel")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), tmp.join("panel").join(f.file_name())).unwrap();
    }
    std::fs::copy(fixtures.join("pipelines/panel_small.toml"), tmp.join("pipelines/panel_small.toml")).unwrap();
}

/// Every path under `dir` with its bytes (folders as None), to show a failed run changed nothing.
fn tree(dir: &Path) -> Vec<(std::path::PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push((path.clone(), None));
            out.extend(tree(&path));
        } else {
            out.push((path.clone(), Some(std::fs::read(&path).unwrap())));
        }
    }
    out.sort();
    out
}

/// Measures of one source without an interval, a pre-aggregation or a filter share one query.
/// When it fails, each of them is run alone, so that the error names the measure that failed and
/// not the first of the batch. The failure is injected (`DUIBIAO_TEST_FAIL_MEASURE`): the
/// pipeline checks leave no formula that fails on the data. In the fixture `sanliang` shares the
/// party source's query with `attendance`, which comes first (measures are taken by name).
#[test]
fn a_failing_shared_query_names_the_measure_that_failed() {
    let tmp = tempfile::tempdir().unwrap();
    panel_small_workspace(tmp.path());
    let before = tree(tmp.path());
    let run = crate::testenv::duibiao_command()
        .args(["run", "pipelines/panel_small.toml", "--quiet"])
        .env("DUIBIAO_TEST_FAIL_MEASURE", "sanliang")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("'sanliang'") && !stderr.contains("'attendance'"), "{stderr}");
    // The engine's own message, without the query plan polars appends to it.
    assert!(stderr.contains("__test_failure") && !stderr.contains("Resolved plan"), "{stderr}");
    // Nothing written but the output folder's lock file beside it (kept between runs).
    let after: Vec<_> = tree(tmp.path()).into_iter().filter(|(p, _)| !p.ends_with("pipelines/.out.lock")).collect();
    assert!(after == before, "a failed run changed the workspace");
}

/// The value of `column` for a station and period of the wide panel.
fn cell(out: &Path, column: &str, station: &str, period: &str) -> Option<f64> {
    let panel = read_parquet(&out.join("panel.parquet"));
    let (ids, periods, values) = (strings(&panel, "station_id"), strings(&panel, "period"), floats(&panel, column));
    (0..ids.len()).find(|&i| ids[i].as_deref() == Some(station) && periods[i].as_deref() == Some(period)).and_then(|i| values[i])
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

#[test]
fn indicators_and_features_match_the_hand_worked_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_panel_small(tmp.path());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = tmp.path().join("pipelines/out");
    let c = |col: &str, s: &str, p: &str| cell(&out, col, s, p);

    // Fee recovery is a ratio of sums: (90 + 300) / (100 + 300) = 0.975, not the mean rate 0.95.
    assert!(close(c("fee_recovery", "S01", "2020Q1"), 0.975));
    assert!(close(c("fee_recovery", "S01", "2020Q2"), 0.75));
    assert!(close(c("fee_recovery", "S02", "2020Q2"), 0.5));
    // Line loss: T1 at exactly 10 % qualifies, T2 at 11 % does not, T3's monthly −20 %/+20 %/0 %
    // sums to 0 % over the quarter and qualifies → 2 of 3.
    assert!(close(c("line_loss_compliance", "S01", "2020Q1"), 2.0 / 3.0));
    assert!(close(c("line_loss_compliance", "S02", "2020Q1"), 1.0));
    // Complaints per 10 000 customers per month: 3 complaints (spelt four ways) in Q1 at 10 000
    // customers → 1.0; the alias 阿克所 carries one in Q2 → 1/3; no orders at all → fill 0.
    assert!(close(c("complaint_control", "S01", "2020Q1"), 1.0));
    assert!(close(c("complaint_control", "S01", "2020Q2"), 1.0 / 3.0));
    assert!(close(c("complaint_control", "S02", "2020Q1"), 0.0));
    // W8 (营业厅) is 2020Q3's only order and matches no station: Q3 stays empty, never filled.
    assert_eq!(c("complaint_control", "S01", "2020Q3"), None);
    assert_eq!(c("complaint_control", "S02", "2020Q3"), None);
    // RS-1: the 31 Mar 22:00 – 1 Apr 04:00 outage (1000 customers) counts 2 h in Q1 and 4 h in Q2.
    // 2020Q1 and 2020Q2 both have 91 days = 2184 h; 2020Q3 has 92 days = 2208 h.
    assert!(close(c("reliability", "S01", "2020Q1"), 1.0 - (2.0 * 1000.0 + 2.0 * 500.0) / (10_000.0 * 2184.0)));
    assert!(close(c("reliability", "S01", "2020Q2"), 1.0 - 4.0 * 1000.0 / (10_000.0 * 2184.0)));
    assert!(close(c("reliability", "S02", "2020Q2"), 1.0 - 500.0 / (5_000.0 * 2184.0)));
    assert!(close(c("reliability", "S02", "2020Q3"), 1.0 - 0.5 * 100.0 / (5_000.0 * 2208.0)));
    assert!(close(c("reliability", "S02", "2020Q1"), 1.0)); // no outage in a covered quarter
    // Features: counts, attendance as a ratio of sums, hours from the intervals.
    assert!(close(c("sanliang", "S01", "2020Q1"), 2.0));
    assert!(close(c("attendance", "S01", "2020Q1"), (4.0 + 3.0 + 2.0) / 12.0));
    assert!(close(c("hours", "S01", "2020Q1"), 2.0 + 1.5 + 1.0));
    assert!(close(c("log_customers", "S02", "2020Q3"), 5000f64.ln()));
    // S01 has no party rows in Q2: empty, not zero; the lag never bridges the gap.
    assert_eq!(c("sanliang", "S01", "2020Q2"), None);
    assert!(close(c("sanliang_lag1", "S01", "2020Q2"), 2.0));
    assert_eq!(c("sanliang_lag1", "S01", "2020Q3"), None);
    assert_eq!(c("sanliang_lag1", "S01", "2020Q1"), None);
    assert!(close(c("sanliang_lag1", "S02", "2020Q3"), 1.0));

    // Coverage explains the empty cells; unmatched lists 营业厅.
    let coverage = read_parquet(&out.join("quality/coverage.parquet"));
    let (vars, ids, periods, reasons) =
        (strings(&coverage, "variable"), strings(&coverage, "station_id"), strings(&coverage, "period"), strings(&coverage, "reason"));
    let why = |v: &str, s: &str, p: &str| {
        (0..vars.len())
            .find(|&i| vars[i].as_deref() == Some(v) && ids[i].as_deref() == Some(s) && periods[i].as_deref() == Some(p))
            .and_then(|i| reasons[i].clone())
    };
    assert!(why("sanliang", "S01", "2020Q2").unwrap().contains("no rows in source 'party'"));
    assert!(why("sanliang_lag1", "S01", "2020Q3").unwrap().contains("empty in 2020Q2"));
    assert!(why("complaint_control", "S02", "2020Q3").unwrap().contains("source 'work_orders' has 1 row(s) in 2020Q3 but none matched a station"));
    let unmatched = read_parquet(&out.join("quality/unmatched.parquet"));
    assert_eq!(strings(&unmatched, "spelling"), [Some("营业厅".to_string())]);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let orders = m["panel"]["source_rows"].as_array().unwrap().iter().find(|s| s["source"] == "work_orders").unwrap();
    assert_eq!((orders["matched"].as_u64(), orders["unmatched"].as_u64()), (Some(7), Some(1)));
}

#[test]
fn a_spelling_that_fits_two_stations_stops_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(run_panel_small(tmp.path()).status.success());
    // A second 阿克供电所 in another county makes 阿克镇供电所 ambiguous.
    let stations = tmp.path().join("panel/stations.csv");
    let text = std::fs::read_to_string(&stations).unwrap() + "S03,阿克供电所,德县,3000,2,德县阿克供电所党支部\n";
    std::fs::write(&stations, text).unwrap();
    let before = std::fs::read(tmp.path().join("pipelines/out/manifest.json")).unwrap();
    let run = duibiao(tmp.path(), &["run", "pipelines/panel_small.toml", "--quiet"]);
    assert_eq!(run.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("'阿克镇供电所'") && stderr.contains("S01") && stderr.contains("S03"), "{stderr}");
    assert_eq!(std::fs::read(tmp.path().join("pipelines/out/manifest.json")).unwrap(), before);
}

#[test]
fn a_pre_aggregation_groups_each_station_and_tai_area_whatever_the_rows_order() {
    // The fixture's line loss by month, then 台区 (each 台区 comes back twice after others), and
    // a 台区 T1 of S02 too: S02's T1 is not S01's T1. By hand, per 台区 over 2020Q1:
    // S01 T1 300/270 (10 %, in), T2 300/267 (11 %, out), T3 300/300 (0 %, in) → 2/3;
    // S02 T4 200/190 (5 %, in), T1 100/80 (20 %, out) → 1/2. Were the two T1 one 台区, S01's
    // would be 400/350 (12.5 %, out) and S01 would have 1/3.
    let tmp = tempfile::tempdir().unwrap();
    assert!(run_panel_small(tmp.path()).status.success());
    let rows = "台区编号,单位编码,月份,供电量,售电量\n\
                T1,S01,2020-01,100,90\nT2,S01,2020-01,100,89\nT1,S02,2020-01,100,80\nT3,S01,2020-01,100,120\nT4,S02,2020-01,200,190\n\
                T1,S01,2020-02,100,90\nT2,S01,2020-02,100,89\nT3,S01,2020-02,100,80\n\
                T3,S01,2020-03,100,100\nT2,S01,2020-03,100,89\nT1,S01,2020-03,100,90\n\
                T4,S02,2020-04,200,190\nT4,S02,2020-07,200,190\n";
    std::fs::write(tmp.path().join("panel/line_loss.csv"), rows).unwrap();
    let run = duibiao(tmp.path(), &["run", "pipelines/panel_small.toml", "--quiet"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = tmp.path().join("pipelines/out");
    assert!(close(cell(&out, "line_loss_compliance", "S01", "2020Q1"), 2.0 / 3.0));
    assert!(close(cell(&out, "line_loss_compliance", "S02", "2020Q1"), 0.5));
    assert!(close(cell(&out, "line_loss_compliance", "S02", "2020Q2"), 1.0));
}

#[test]
fn a_station_column_typed_as_a_number_resolves_like_text() {
    // The same fixture with numeric station codes (S01 → 6501, S02 → 6502), and the fee
    // source's station column typed as an integer: its spellings are read by their text form
    // and the hand-worked ratios of sums are unchanged.
    let tmp = tempfile::tempdir().unwrap();
    assert!(run_panel_small(tmp.path()).status.success());
    for name in ["stations.csv", "aliases.csv", "fee.csv", "line_loss.csv", "outages.csv"] {
        let path = tmp.path().join("panel").join(name);
        let text = std::fs::read_to_string(&path).unwrap().replace("S01", "6501").replace("S02", "6502");
        std::fs::write(&path, text).unwrap();
    }
    let pipeline = tmp.path().join("pipelines/panel_small.toml");
    let spec = std::fs::read_to_string(&pipeline).unwrap();
    let typed = spec.replacen("columns.station_code = { header = \"单位编码\" }", "columns.station_code = { header = \"单位编码\", type = \"integer\" }", 1);
    assert_ne!(typed, spec, "the fee source's station column is declared as the test expects");
    std::fs::write(&pipeline, typed).unwrap();
    let run = duibiao(tmp.path(), &["run", "pipelines/panel_small.toml", "--quiet"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = tmp.path().join("pipelines/out");
    // (90 + 300) / (100 + 300), 150 / 200 and the second station's 0.5, as in the text-keyed run.
    assert!(close(cell(&out, "fee_recovery", "6501", "2020Q1"), 0.975));
    assert!(close(cell(&out, "fee_recovery", "6501", "2020Q2"), 0.75));
    assert!(close(cell(&out, "fee_recovery", "6502", "2020Q2"), 0.5));
}

#[test]
fn on_the_sample_no_row_is_lost_between_curated_sources_and_the_panel() {
    let out = &sample_run().out;
    let m: Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let unmatched = read_parquet(&out.join("quality/unmatched.parquet"));
    let (sources, rows) = (strings(&unmatched, "source"), {
        use arrow::array::{Array, Int64Array};
        unmatched
            .iter()
            .flat_map(|b| {
                let a = b.column_by_name("rows").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
                (0..a.len()).map(move |i| a.value(i) as u64).collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    });
    for s in m["panel"]["source_rows"].as_array().unwrap() {
        let name = s["source"].as_str().unwrap();
        let curated = row_count(&read_parquet(&out.join("curated").join(name))) as u64;
        let (matched, lost) = (s["matched"].as_u64().unwrap(), s["unmatched"].as_u64().unwrap());
        assert_eq!(matched + lost, curated, "{name}: curated rows = matched + unmatched");
        let listed: u64 = sources.iter().zip(&rows).filter(|(src, _)| src.as_deref() == Some(name)).map(|(_, n)| n).sum();
        assert_eq!(listed, lost, "{name}: unmatched rows are all listed");
    }
    // The planted unmatched spellings are exactly the ones reported.
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(repo().join("sample_data/manifest.json")).unwrap()).unwrap();
    let planted = |source: &str, kind: &str| {
        sample["dirt"].as_array().unwrap().iter().filter(|d| d["source"] == source && d["kind"] == kind).map(|d| d["count"].as_u64().unwrap()).sum::<u64>()
    };
    let lost = |name: &str| m["panel"]["source_rows"].as_array().unwrap().iter().find(|s| s["source"] == name).unwrap()["unmatched"].as_u64().unwrap();
    assert_eq!(lost("work_orders"), planted("work_orders", "unknown_unit"));
    assert_eq!(lost("party_activities"), planted("party_activities", "unmatched_branch"));
    assert_eq!(m["panel"]["rows"], 86 * 8);
    // Every empty cell of the wide panel has a line in coverage.
    let panel = read_parquet(&out.join("panel.parquet"));
    let coverage = row_count(&read_parquet(&out.join("quality/coverage.parquet")));
    let skip = ["station_id", "station_name", "county", "period", "period_start"];
    let empty: usize = panel[0]
        .schema()
        .fields()
        .iter()
        .filter(|f| !skip.contains(&f.name().as_str()))
        .map(|f| floats(&panel, f.name()).iter().filter(|v| v.is_none()).count())
        .sum();
    assert_eq!(empty, coverage);
}

/// Rewrites the panel fixture's pipeline to another period grain and runs it.
fn run_panel_small_by(tmp: &Path, grain: &str) -> std::process::Output {
    assert!(run_panel_small(tmp).status.success());
    let pipeline = tmp.join("pipelines/panel_small.toml");
    let text = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("period = \"quarter\"", &format!("period = \"{grain}\""))
        .replace("* 10000 / 3\"", "* 10000 / max(period_months)\"");
    std::fs::write(&pipeline, text).unwrap();
    duibiao(tmp, &["run", "pipelines/panel_small.toml", "--quiet"])
}

#[test]
fn a_monthly_pipeline_builds_a_station_by_month_panel() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_panel_small_by(tmp.path(), "month");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = tmp.path().join("pipelines/out");
    let c = |col: &str, s: &str, p: &str| cell(&out, col, s, p);
    // Partitions are months.
    assert!(out.join("curated/fee/period=2020-02/part-0.parquet").exists());
    assert!(close(c("fee_recovery", "S01", "2020-01"), 0.9));
    assert!(close(c("fee_recovery", "S01", "2020-02"), 1.0));
    // Line loss per month: T1 10 % in, T2 11 % out, T3 −20 % / +20 % / 0 %.
    assert!(close(c("line_loss_compliance", "S01", "2020-01"), 1.0 / 3.0));
    assert!(close(c("line_loss_compliance", "S01", "2020-03"), 2.0 / 3.0));
    // One complaint a month at 10 000 customers → 1 per 10 000 per month.
    assert!(close(c("complaint_control", "S01", "2020-03"), 1.0));
    assert!(close(c("complaint_control", "S01", "2020-04"), 1.0));
    // The outage of 31 Mar 22:00 – 1 Apr 04:00: 2 h of March (744 h), 4 h of April (720 h);
    // February 2020 has 29 days (696 h).
    assert!(close(c("reliability", "S01", "2020-03"), 1.0 - 2.0 * 1000.0 / (10_000.0 * 744.0)));
    assert!(close(c("reliability", "S01", "2020-04"), 1.0 - 4.0 * 1000.0 / (10_000.0 * 720.0)));
    assert!(close(c("reliability", "S01", "2020-02"), 1.0 - 2.0 * 500.0 / (10_000.0 * 696.0)));
    // S01's 三亮三比: Jan 1, Feb 1, Mar 0 (only 安全学习), no rows in Apr; lags count months.
    assert!(close(c("sanliang", "S01", "2020-03"), 0.0));
    assert!(close(c("sanliang_lag1", "S01", "2020-02"), 1.0));
    assert!(close(c("sanliang_lag1", "S01", "2020-04"), 0.0));
    assert_eq!(c("sanliang_lag1", "S01", "2020-05"), None);
    // A quarter is not a period of this pipeline.
    let wrong = duibiao(tmp.path(), &["run", "pipelines/panel_small.toml", "--period", "2020Q1", "--quiet"]);
    assert_eq!(wrong.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("--period 2020Q1 is a quarter") && stderr.contains("month (e.g. 2020-09)"), "{stderr}");
}

#[test]
fn a_yearly_pipeline_sums_over_the_year() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_panel_small_by(tmp.path(), "year");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = tmp.path().join("pipelines/out");
    let c = |col: &str, s: &str, p: &str| cell(&out, col, s, p);
    // (90 + 300 + 150) / (100 + 300 + 200); 2020 has 366 days = 8784 h.
    assert!(close(c("fee_recovery", "S01", "2020"), 540.0 / 600.0));
    assert!(close(c("reliability", "S01", "2020"), 1.0 - (6.0 * 1000.0 + 2.0 * 500.0) / (10_000.0 * 8784.0)));
    // 4 complaints in 2020 at 10 000 customers over 12 months.
    assert!(close(c("complaint_control", "S01", "2020"), 4.0 / 12.0));
    assert!(out.join("curated/fee/period=2020/part-0.parquet").exists());
}

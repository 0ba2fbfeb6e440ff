//! The output folder as its readers see it: pyarrow and DuckDB read every file with the
//! documented types, views.sql runs, report.html is self-contained in both languages, `inspect`
//! explains files, and a killed run leaves the previous output intact.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use crate::testenv::*;

/// The Python with duckdb and pyarrow: $DUIBIAO_PYTHON (set by .ci/run) or python3. Under CI
/// a missing reader is a failure; elsewhere the test says what to install and passes.
fn python_with_readers() -> Option<String> {
    let candidate = std::env::var("DUIBIAO_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&candidate).args(["-c", "import duckdb, pyarrow"]).output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(candidate);
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("{candidate} cannot import duckdb and pyarrow; .ci/run installs them");
    }
    eprintln!("skipped: no Python with duckdb and pyarrow (pip install duckdb pyarrow, or set DUIBIAO_PYTHON)");
    None
}

/// A Python with the oldest promised readers (DuckDB 1.0, pyarrow 14): $DUIBIAO_PYTHON_OLD, set
/// by .ci/run where wheels exist for the machine's Python.
fn old_python() -> Option<String> {
    let candidate = std::env::var("DUIBIAO_PYTHON_OLD").ok().filter(|p| !p.is_empty())?;
    let ok = Command::new(&candidate).args(["-c", "import duckdb, pyarrow"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: {candidate} cannot import duckdb and pyarrow (tests/reference/requirements-old-readers.txt)");
    }
    ok.then_some(candidate)
}

#[test]
fn every_output_reads_in_duckdb_and_pyarrow_with_the_documented_types() {
    let Some(python) = python_with_readers() else { return };
    let (pipeline, out) = (&sample_run().pipeline, &sample_run().out);
    for documented in [
        "panel.parquet",
        "panel_long.parquet",
        "correlations.parquet",
        "quality/rejects.parquet",
        "quality/coverage.parquet",
        "quality/unmatched.parquet",
        "manifest.json",
        "views.sql",
        "analysis.duckdb",
        "report.html",
    ] {
        assert!(out.join(documented).exists(), "{documented} missing");
    }
    let check = Command::new(&python)
        .arg(repo().join("tests/reference/read_outputs.py"))
        .arg(out)
        .arg(pipeline)
        .arg(repo().join("tests/fixtures/output_schema.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&check.stderr));
    assert!(stdout.contains("ok  views.sql"), "{stdout}");
    assert!(stdout.lines().filter(|l| l.starts_with("ok  curated/")).count() >= 9 * 8, "{stdout}");

    // The reader matrix with the test readers: pyarrow and DuckDB agree on rows, counts and
    // checksums of every table, and DuckDB opens analysis.duckdb from another directory.
    let mut matrix = Command::new(&python);
    matrix.arg(repo().join("tests/reference/reader_matrix.py")).arg(out).arg("--database");
    if let Some(old) = old_python() {
        matrix.args(["--python", &old]);
    }
    let matrix = matrix.output().unwrap();
    let text = String::from_utf8_lossy(&matrix.stdout);
    assert!(matrix.status.success(), "{text}\n{}", String::from_utf8_lossy(&matrix.stderr));
    let header = text.lines().next().unwrap_or_default();
    assert!(header.contains("pyarrow") && header.contains("DuckDB"), "{text}");
    assert!(text.lines().filter(|l| l.starts_with("curated/") && l.matches('✓').count() >= 2).count() >= 9, "{text}");
    assert!(text.contains("views, 0 failing"), "{text}");
}

/// The DuckDB program that writes analysis.duckdb in the tests: the DuckDB CLI installed beside
/// the readers' Python (requirements-readers.txt), else that Python itself.
fn duckdb_engine(python: &str) -> String {
    let cli = Path::new(python).with_file_name("duckdb");
    if cli.exists() { cli.to_string_lossy().into_owned() } else { python.to_string() }
}

fn query_views(python: &str, database: &Path, out: &Path, pipeline: &Path, cwd: &Path) -> std::process::Output {
    Command::new(python).arg(repo().join("tests/reference/query_views.py")).arg(database).arg(out).arg(pipeline).current_dir(cwd).output().unwrap()
}

#[test]
fn the_bi_database_opens_from_any_folder_and_after_a_move() {
    let Some(python) = python_with_readers() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();

    // A driver opening the database the run wrote from another working directory: every view
    // answers.
    let shared = sample_run();
    let first = query_views(&python, &shared.out.join("analysis.duckdb"), &shared.out, &shared.pipeline, &elsewhere);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{text}\n{}", String::from_utf8_lossy(&first.stderr));
    assert!(text.contains("ok  panel_zh:") && text.contains("ok  curated_work_orders_zh:") && text.contains("accepted_at_local"), "{text}");
    // The oldest DuckDB the storage version promises opens it too.
    if let Some(old) = old_python() {
        let first = query_views(&old, &shared.out.join("analysis.duckdb"), &shared.out, &shared.pipeline, &elsewhere);
        let text = String::from_utf8_lossy(&first.stdout);
        assert!(first.status.success(), "DuckDB 1.0: {text}\n{}", String::from_utf8_lossy(&first.stderr));
    }

    // A copy of the output with its database rewritten for the copy's place by `duibiao views`.
    let pipeline = shared.copy_to(tmp.path());
    let out = tmp.path().join("out");
    let engine = duckdb_engine(&python);
    let rewrite = duibiao(&elsewhere, &["views", out.to_str().unwrap(), "--duckdb", &engine]);
    assert!(rewrite.status.success(), "{}", String::from_utf8_lossy(&rewrite.stderr));

    // The folder moves (to a path with a space and Chinese): the database still names the old
    // place, so its views fail until `duibiao views` rewrites them.
    let moved = tmp.path().join("共享 盘").join("对标输出");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&out, &moved).unwrap();
    let stale = query_views(&python, &moved.join("analysis.duckdb"), &moved, &pipeline, &elsewhere);
    let text = String::from_utf8_lossy(&stale.stdout);
    assert!(!stale.status.success() && text.contains(&format!("{}/panel.parquet", out.display())), "{text}");

    let rewrite = duibiao(&elsewhere, &["views", moved.to_str().unwrap(), "--duckdb", &engine]);
    let said = String::from_utf8_lossy(&rewrite.stdout);
    assert!(rewrite.status.success(), "{said}{}", String::from_utf8_lossy(&rewrite.stderr));
    assert!(said.contains("analysis.duckdb") && said.contains("v1.0.0"), "{said}");
    let again = query_views(&python, &moved.join("analysis.duckdb"), &moved, &pipeline, &elsewhere);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{text}\n{}", String::from_utf8_lossy(&again.stderr));
    let leftovers: Vec<String> = std::fs::read_dir(&moved)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".duibiao-output")
        .collect();
    // Nothing hidden is left but the output's own marker.
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // No DuckDB on the machine: `views` says what to install; the folder is left as it was.
    let before = std::fs::read(moved.join("analysis.duckdb")).unwrap();
    let none = without_any_duckdb(&elsewhere, &["views", moved.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&none.stderr);
    assert_eq!(none.status.code(), Some(1), "{err}");
    assert!(err.contains("pip install duckdb") && err.contains("duibiao views"), "{err}");
    assert!(std::fs::read(moved.join("analysis.duckdb")).unwrap() == before);

    // A named program that is not DuckDB is an error naming it, not a silent skip.
    let wrong = duibiao(&elsewhere, &["views", moved.to_str().unwrap(), "--duckdb", "/bin/true"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("/bin/true"));
}

/// Runs duibiao in `dir` as on a machine with no DuckDB at all: nothing on PATH, none named.
fn without_any_duckdb(dir: &Path, args: &[&str]) -> std::process::Output {
    duibiao_command().args(args).current_dir(dir).env("PATH", "").env_remove("DUIBIAO_DUCKDB").output().unwrap()
}

/// The other tests' runs are told to write no database (`duibiao_command`); this one searches, as
/// a user's run does, on a machine with no DuckDB at all.
#[test]
fn a_run_that_finds_no_duckdb_publishes_and_says_what_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    fee_workspace(tmp.path());
    let run = without_any_duckdb(tmp.path(), &["run", "pipelines/fee_small.toml", "--quiet"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("未找到 DuckDB") && err.contains("pip install duckdb") && err.contains("duibiao views"), "{err}");
    let out = tmp.path().join("pipelines/out");
    assert!(out.join("manifest.json").is_file() && out.join("views.sql").is_file(), "the run did not publish");
    assert!(!out.join("analysis.duckdb").exists());
}

#[test]
fn the_labelled_views_show_the_pipeline_labels() {
    let Some(python) = python_with_readers() else { return };
    let script = r#"
import duckdb, sys
con = duckdb.connect()
con.execute("SET file_search_path = '" + sys.argv[1] + "'")
con.execute(open(sys.argv[1] + '/views.sql', encoding='utf-8').read())
cols = [d[0] for d in con.execute('SELECT * FROM panel_zh LIMIT 1').description]
print('|'.join(cols))
print(con.execute('SELECT round("电费回收率", 6) FROM panel_zh WHERE "供电所编码" = (SELECT min(station_id) FROM panel) AND "季度" = \'2020Q4\'').fetchone()[0])
print(con.execute("SELECT round(fee_recovery, 6) FROM panel WHERE station_id = (SELECT min(station_id) FROM panel) AND period = '2020Q4'").fetchone()[0])
"#;
    let out = Command::new(&python).args(["-c", script]).arg(&sample_run().out).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    for label in ["供电所编码", "季度", "电费回收率", "三亮三比次数", "客户诉求管控（每万户月均诉求）"] {
        assert!(lines[0].split('|').any(|c| c == label), "{label} not among {}", lines[0]);
    }
    assert_eq!(lines[1], lines[2], "the labelled view shows the same value");
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn the_report_is_self_contained_chinese_by_default_and_english_on_request() {
    let zh = std::fs::read_to_string(sample_run().out.join("report.html")).unwrap();
    // Self-contained: no scripts, no links or sources outside the page.
    for banned in ["<script", "http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(!zh.contains(banned), "report contains {banned}");
    }
    assert!(zh.starts_with("<!DOCTYPE html>") && zh.contains("<html lang=\"zh-CN\">") && zh.contains("charset=\"utf-8\""));
    // The pipeline asks for 3 scopes × 2 lags, without and with the size control: 12 heatmaps.
    assert_eq!(count(&zh, "<table class=\"heat\">"), 12);
    // Each heatmap has a row per indicator (6) and a cell per feature (10).
    assert_eq!(count(&zh, "<td class=\"cell"), 12 * 6 * 10);
    // Scatter plots for the top pairs, each an SVG with points and a fitted line.
    let figures = count(&zh, "<figure class=\"scatter\">");
    assert_eq!(figures, 6, "six top pairs get a scatter plot");
    assert!(count(&zh, "<circle") > 6 * 50);
    for text in [
        "运行概况",
        "输入数据与隔离",
        "数据覆盖",
        "相关热力图",
        "最强的关联",
        "解读须知",
        "相关不等于因果",
        "规模混杂",
        "电费回收率",
        "三亮三比次数",
        "供电量为负数",
    ] {
        assert!(zh.contains(text), "Chinese report lacks {text}");
    }
    // The planted within-station effect leads the findings.
    let findings = &zh[zh.find("最强的关联").unwrap()..];
    let first_row = &findings[findings.find("<td class=\"num\">1</td>").unwrap()..];
    let first_row = &first_row[..first_row.find("</tr>").unwrap()];
    assert!(first_row.contains("三亮三比次数") && first_row.contains("站内"), "{first_row}");

    let tmp = tempfile::tempdir().unwrap();
    let pipeline = kashgar_workspace(tmp.path());
    let run = duibiao(tmp.path(), &["run", pipeline.to_str().unwrap(), "--quiet", "--lang", "en"]);
    assert!(run.status.success());
    let en = std::fs::read_to_string(tmp.path().join("out/report.html")).unwrap();
    assert!(en.contains("<html lang=\"en\">"));
    for text in
        ["Run summary", "Inputs and quarantine", "Correlation heatmaps", "Caveats", "Association is not causation", "Fee recovery", "Safety study sessions"]
    {
        assert!(en.contains(text), "English report lacks {text}");
    }
    for text in ["运行概况", "解读须知", "相关不等于因果"] {
        assert!(!en.contains(text), "English report still has {text}");
    }
    assert_eq!(count(&en, "<table class=\"heat\">"), 12);
}

#[test]
fn inspect_describes_a_file_and_explains_bi_unsafe_types() {
    use arrow::array::{ArrayRef, DictionaryArray, StringArray, UInt32Array};
    use arrow::datatypes::Int32Type;
    let tmp = tempfile::tempdir().unwrap();
    // A file as other tools write it: a categorical column, an unsigned count, amounts as text.
    let path = tmp.path().join("other.parquet");
    let kind: DictionaryArray<Int32Type> = vec!["投诉", "咨询", "投诉"].into_iter().collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("kind", Arc::new(kind)),
        ("count", Arc::new(UInt32Array::from(vec![1, 2, 3]))),
        ("amount", Arc::new(StringArray::from(vec!["1,234.50", "98.5", "7.25"]))),
        ("order_id", Arc::new(StringArray::from(vec!["202001000000001", "202001000000002", "202001000000003"]))),
    ];
    let batch = arrow::record_batch::RecordBatch::try_from_iter(columns).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let out = duibiao(tmp.path(), &["inspect", path.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows"], 3);
    assert_eq!(v["row_groups"].as_array().unwrap().len(), 1);
    let hints: Vec<String> = v["hints"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect();
    assert!(hints.iter().any(|h| h.starts_with("kind:") && h.contains("dictionary")), "{hints:?}");
    assert!(hints.iter().any(|h| h.starts_with("count:") && h.contains("unsigned")), "{hints:?}");
    assert!(hints.iter().any(|h| h.starts_with("amount:") && h.contains("numbers stored as text")), "{hints:?}");
    assert!(!hints.iter().any(|h| h.starts_with("order_id:")), "codes are not numbers: {hints:?}");
    let amount = v["columns"].as_array().unwrap().iter().find(|c| c["name"] == "amount").unwrap();
    assert_eq!(amount["min"], "1,234.50");
    assert_eq!(amount["max"], "98.5");

    // duibiao's own outputs: plain types, its metadata, no hints but the code-like ids.
    let panel = sample_run().out.join("panel.parquet");
    let out = duibiao(tmp.path(), &["inspect", panel.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("行数 rows        688"), "{text}");
    assert!(text.contains("duibiao.table = panel"), "{text}");
    assert!(text.contains("period_start") && text.contains("DATE") && text.contains("2019-01-01 … 2020-10-01"), "{text}");
    assert!(text.contains("提示 hints: none"), "{text}");

    let missing = duibiao(tmp.path(), &["inspect", "no_such.parquet"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no_such.parquet"));
}

#[test]
fn a_run_killed_part_way_leaves_the_previous_output_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = sample_run().copy_to(tmp.path());
    let out = tmp.path().join("out");
    let before: Vec<(String, Vec<u8>)> = ["manifest.json", "panel.parquet", "correlations.parquet", "report.html"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(out.join(f)).unwrap()))
        .collect();

    let mut child = crate::testenv::duibiao_command().current_dir(tmp.path()).args(["run", pipeline.to_str().unwrap(), "--quiet"]).spawn().unwrap();
    // Wait until the run is demonstrably part-way: its staging folder holds curated files.
    let staging_has_files = || {
        std::fs::read_dir(tmp.path()).unwrap().flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(".out.tmp-") && e.path().join("curated").exists()
        })
    };
    let started = std::time::Instant::now();
    while !staging_has_files() {
        assert!(child.try_wait().unwrap().is_none(), "the run finished before it could be interrupted");
        assert!(started.elapsed().as_secs() < 120, "no staging folder appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    for (name, bytes) in &before {
        assert!(std::fs::read(out.join(name)).unwrap() == *bytes, "{name} changed after the kill");
    }
    // The next run cleans the dead run's staging folder and publishes normally.
    let again = duibiao(tmp.path(), &["run", pipeline.to_str().unwrap(), "--quiet"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let leftovers: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.") && n != ".out.lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Same inputs, same tables, new run id.
    let m1: serde_json::Value = serde_json::from_slice(&before[0].1).unwrap();
    let m2: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_ne!(m1["run_id"], m2["run_id"]);
    let panel_before = tmp.path().join("panel_before.parquet");
    std::fs::write(&panel_before, &before[1].1).unwrap();
    for column in ["fee_recovery", "complaint_control", "sanliang_sanbi_lag1"] {
        assert_eq!(floats(&read_parquet(&panel_before), column), floats(&read_parquet(&out.join("panel.parquet")), column), "{column}");
    }
    assert_eq!(strings(&read_parquet(&panel_before), "station_id"), strings(&read_parquet(&out.join("panel.parquet")), "station_id"));
}

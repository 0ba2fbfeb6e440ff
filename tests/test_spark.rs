//! The Spark engine: the job written for the hand-worked panel fixture reads as committed, and
//! where Java and pyspark are present, the panel Spark computes (local mode, ANSI on and off)
//! equals the embedded panel on the fixture and on the sample: every cell within 1e-9 relative,
//! the same empty cells, the same coverage reasons and unmatched spellings, the same
//! correlation table.
//!
//! Without Java or pyspark these tests say so and pass, except under CI=true where Java is
//! present (CI installs pyspark and names its Python in DUIBIAO_SPARK_PYTHON).

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;

use crate::testenv::{duibiao, kashgar_workspace, manifest, read_parquet, repo, strings};

/// The Python that imports pyspark, when Java works too; None (said on stderr) when not.
fn spark_python() -> Option<String> {
    let java = Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success());
    let python = std::env::var("DUIBIAO_SPARK_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let pyspark = java && Command::new(&python).args(["-c", "import pyspark"]).output().is_ok_and(|o| o.status.success());
    if java && pyspark {
        return Some(python);
    }
    if java && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and Java is present, but {python} cannot import pyspark: .ci/run installs it and sets DUIBIAO_SPARK_PYTHON");
    }
    eprintln!("skipped: the Spark engine tests need Java 17 and pyspark ({}; set DUIBIAO_SPARK_PYTHON)", if java { "no pyspark" } else { "no java" });
    None
}

/// Copies the panel fixture and its pipeline into `dir`; returns the pipeline.
fn panel_workspace(dir: &Path) -> PathBuf {
    let fixtures = repo().join("tests/fixtures");
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    std::fs::create_dir_all(dir.join("panel")).unwrap();
    for f in std::fs::read_dir(fixtures.join("panel")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.join("panel").join(f.file_name())).unwrap();
    }
    let pipeline = dir.join("pipelines/panel_small.toml");
    std::fs::copy(fixtures.join("pipelines/panel_small.toml"), &pipeline).unwrap();
    pipeline
}

/// Runs `duibiao run` in `dir` with `args` after the pipeline; panics with stderr on failure.
fn run(dir: &Path, pipeline: &Path, args: &[&str]) {
    let mut all = vec!["run", pipeline.to_str().unwrap(), "--quiet", "--duckdb", "none"];
    all.extend(args);
    let out = duibiao(dir, &all);
    assert!(out.status.success(), "duibiao {all:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Moves an output folder aside so the next run of the same pipeline writes a fresh one.
fn keep(out: &Path, name: &str) -> PathBuf {
    let kept = out.with_file_name(name);
    std::fs::rename(out, &kept).unwrap();
    kept
}

/// One cell of a table, for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
}

/// The rows of a table, columns in order (run_id, if any, left out: it differs by design).
fn rows(path: &Path) -> (Vec<String>, Vec<Vec<Cell>>) {
    let batches: Vec<RecordBatch> = read_parquet(path);
    let schema = batches[0].schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).filter(|n| n != "run_id").collect();
    let mut out = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            let row = names
                .iter()
                .map(|n| {
                    let a = b.column_by_name(n).unwrap();
                    if let Some(a) = a.as_any().downcast_ref::<StringArray>() {
                        Cell::Text((!a.is_null(i)).then(|| a.value(i).to_string()))
                    } else if let Some(a) = a.as_any().downcast_ref::<Float64Array>() {
                        Cell::Float((!a.is_null(i)).then(|| a.value(i)))
                    } else if let Some(a) = a.as_any().downcast_ref::<Int64Array>() {
                        Cell::Int((!a.is_null(i)).then(|| a.value(i)))
                    } else {
                        Cell::Text((!a.is_null(i)).then(|| format!("{:?}", a.slice(i, 1))))
                    }
                })
                .collect();
            out.push(row);
        }
    }
    (names, out)
}

/// Asserts two tables hold the same rows (in order when `ordered`): text and integers equal,
/// numbers within `tolerance` relative, empty exactly where the other is empty.
fn same_table(a: &Path, b: &Path, ordered: bool, tolerance: f64) -> f64 {
    let ((na, mut ra), (nb, mut rb)) = (rows(a), rows(b));
    assert_eq!(na, nb, "{} and {} have different columns", a.display(), b.display());
    assert_eq!(ra.len(), rb.len(), "{} and {} have different row counts", a.display(), b.display());
    if !ordered {
        let key = |r: &Vec<Cell>| format!("{r:?}");
        ra.sort_by_key(key);
        rb.sort_by_key(key);
    }
    let mut worst = 0.0f64;
    for (i, (x, y)) in ra.iter().zip(&rb).enumerate() {
        for ((name, cx), cy) in na.iter().zip(x).zip(y) {
            match (cx, cy) {
                (Cell::Float(Some(u)), Cell::Float(Some(v))) if u != v && !(u.is_nan() && v.is_nan()) => {
                    let d = (u - v).abs() / u.abs().max(v.abs());
                    worst = worst.max(d);
                    assert!(d <= tolerance, "{} row {i} column {name}: {u} against {v} (relative {d:e})", b.display());
                }
                (Cell::Float(Some(_)), Cell::Float(Some(_))) => {}
                _ => assert_eq!(cx, cy, "{} row {i} column {name}", b.display()),
            }
        }
    }
    worst
}

/// Asserts that the Spark run's panel, coverage, unmatched spellings and correlations equal the
/// embedded run's, and that its output holds no file Spark leaves behind (`_SUCCESS`, `.crc`).
fn same_outputs(embedded: &Path, spark: &Path) {
    let worst = same_table(&embedded.join("panel.parquet"), &spark.join("panel.parquet"), true, 1e-9);
    same_table(&embedded.join("quality/coverage.parquet"), &spark.join("quality/coverage.parquet"), false, 0.0);
    same_table(&embedded.join("quality/unmatched.parquet"), &spark.join("quality/unmatched.parquet"), false, 0.0);
    same_table(&embedded.join("correlations.parquet"), &spark.join("correlations.parquet"), true, 1e-9);
    eprintln!("{}: worst relative difference of a panel cell {worst:e}", spark.display());
    let mut stack = vec![spark.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with('_') && (!name.starts_with('.') || name == ".duibiao-output"), "{} left in the output", e.path().display());
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

/// The committed expected text of a generated job (regenerated with DUIBIAO_UPDATE_SNAPSHOTS=1,
/// then read before committing).
fn snapshot(name: &str, actual: &str) {
    let path = repo().join("tests/fixtures/spark").join(name);
    if std::env::var_os("DUIBIAO_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(expected == actual, "{} differs from the generated job:\n{actual}", path.display());
}

#[test]
fn emit_writes_the_job_of_the_panel_fixture_as_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = panel_workspace(tmp.path());
    let job = tmp.path().join("job");
    run(tmp.path(), &pipeline, &["--engine", "spark", "--emit", job.to_str().unwrap()]);

    // The job names where it reads and writes; the snapshot names them by role.
    let root = std::fs::canonicalize(tmp.path()).unwrap().display().to_string();
    let normalise = |text: String| text.replace(&root, "<WORK>").replace(&tmp.path().display().to_string(), "<WORK>");
    let spellings = normalise(std::fs::read_to_string(job.join("spellings.sql")).unwrap());
    let measures = normalise(std::fs::read_to_string(job.join("measures.sql")).unwrap());
    let sha = manifest(&tmp.path().join("pipelines/out"))["pipeline_sha256"].as_str().unwrap().to_string();
    snapshot("panel_small_spellings.sql", &spellings.replace(&sha, "<SHA256>").replace(env!("CARGO_PKG_VERSION"), "<VERSION>"));
    snapshot("panel_small_measures.sql", &measures.replace(&sha, "<SHA256>").replace(env!("CARGO_PKG_VERSION"), "<VERSION>"));
    assert!(job.join("driver.py").exists());

    // The mapping is duibiao's resolution: the alias 阿克所 and the variant spellings of the
    // fixture reach their stations; 营业厅 (no station) is not in it.
    let mapping = read_parquet(&job.join("mapping.parquet"));
    let (sources, spellings, ids) = (strings(&mapping, "source"), strings(&mapping, "spelling"), strings(&mapping, "station_id"));
    let find = |s: &str| (0..spellings.len()).find(|&i| spellings[i].as_deref() == Some(s));
    let alias = find("阿克所").expect("the alias is mapped");
    assert_eq!((sources[alias].as_deref(), ids[alias].as_deref()), (Some("work_orders"), Some("S01")));
    assert!(!spellings.iter().flatten().any(|s| s.contains("营业厅")));

    let m = manifest(&tmp.path().join("pipelines/out"));
    assert_eq!(m["engine"]["name"], "spark");
    assert_eq!(m["engine"]["mode"], "emit");
    assert_eq!(m["engine"]["spark_version"], serde_json::Value::Null);
}

#[test]
fn spark_panel_equals_the_embedded_panel_on_the_hand_worked_fixture() {
    let Some(python) = spark_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = panel_workspace(tmp.path());
    for spark in spark_runs_equal_the_embedded_run(tmp.path(), &pipeline, &tmp.path().join("pipelines/out"), &python) {
        assert!(!tmp.path().join("pipelines/spark-warehouse").exists() && !tmp.path().join("spark-warehouse").exists(), "Spark wrote outside the output");
        let m = manifest(&spark);
        assert_eq!(m["engine"]["mode"].as_str(), Some("submit"));
        assert!(m["engine"]["spark_version"].as_str().is_some_and(|v| !v.is_empty()), "{m}");
    }
}

/// Runs the pipeline on the embedded engine, then on Spark with ANSI on and off; each Spark
/// output equals the embedded one and records its ANSI setting. Returns the Spark outputs.
fn spark_runs_equal_the_embedded_run(dir: &Path, pipeline: &Path, out: &Path, python: &str) -> Vec<PathBuf> {
    run(dir, pipeline, &[]);
    let embedded = keep(out, "embedded");
    let mut outputs = Vec::new();
    for ansi in ["on", "off"] {
        run(dir, pipeline, &["--engine", "spark", "--submit", python, "--ansi", ansi]);
        let spark = keep(out, &format!("spark-ansi-{ansi}"));
        same_outputs(&embedded, &spark);
        assert_eq!(manifest(&spark)["engine"]["ansi"].as_bool(), Some(ansi == "on"));
        outputs.push(spark);
    }
    outputs
}

#[test]
fn spark_panel_equals_the_embedded_panel_on_the_sample() {
    let Some(python) = spark_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = kashgar_workspace(tmp.path());
    spark_runs_equal_the_embedded_run(tmp.path(), &pipeline, &tmp.path().join("out"), &python);
}

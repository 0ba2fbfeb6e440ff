//! The second sample layout against its independent reference: the committed fixtures
//! (tests/reference/other_region_panel.py, pandas) were computed from the committed sample_other/,
//! they recover the planted effects, and the duplicate rules matter; and, once the pipeline keys
//! it uses are accepted, duibiao's panel equals the reference cell for cell.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::testenv::{duibiao, floats, read_parquet, records, repo, sample_other, strings};

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("tests/fixtures/other_region/reference.json")).unwrap()).unwrap()
}

/// sha256 over every file of a folder: "relative/path\0sha256hex\n" per file, sorted by path
/// (as the reference script computes it).
fn folder_digest(dir: &Path) -> String {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"), path));
            }
        }
    }
    files.sort();
    let mut all = Sha256::new();
    for (name, path) in files {
        let file: String = Sha256::digest(std::fs::read(&path).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
        all.update(format!("{name}\0{file}\n").as_bytes());
    }
    all.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn reference_fixtures_were_computed_from_the_committed_sample() {
    assert_eq!(
        reference()["sample_sha256"].as_str().unwrap(),
        folder_digest(&sample_other()),
        "sample_other/ changed: rerun tests/reference/other_region_panel.py"
    );
}

#[test]
fn reference_recovers_the_planted_effects_and_the_duplicate_rules_matter() {
    let r = reference();
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(sample_other().join("ground_truth.json")).unwrap()).unwrap();
    let planted = truth["planted_effects"].as_array().unwrap();
    let found = r["planted_effects"].as_array().unwrap();
    assert_eq!(planted.len(), found.len());
    for (p, e) in planted.iter().zip(found) {
        assert_eq!(p["id"], e["id"]);
        let within = e["r"].as_f64().unwrap();
        let sign = if p["raw_sign"] == "negative" { -1.0 } else { 1.0 };
        assert!(sign * within > 0.3, "{}: within r {within}", e["id"]);
        assert!(e["n"].as_u64().unwrap() >= 400 && e["stations"].as_u64().unwrap() >= 40);
    }
    // Removing the log's identical lines (distinct events) changes the planted 党员示范岗 effect.
    let model_post = found.iter().find(|e| e["feature"] == "model_post").unwrap();
    assert!((model_post["r"].as_f64().unwrap() - model_post["r_if_identical_log_rows_were_removed"].as_f64().unwrap()).abs() > 1e-3);
    let accounting = &r["accounting"];
    assert!(accounting["party_activities"]["identical_rows_kept"].as_u64().unwrap() > 0);
    assert!(accounting["work_orders"]["duplicates_removed"].as_u64().unwrap() > 0);
    assert!(accounting["work_orders"]["conflicting_rows_excluded"].as_u64().unwrap() > 0);
    let panel = records(&std::fs::read_to_string(repo().join("tests/fixtures/other_region/expected_panel.csv")).unwrap());
    assert_eq!(panel.len() - 1, r["panel"]["rows"].as_u64().unwrap() as usize);
    assert_eq!(panel.len() - 1, 60 * 8);
}

/// duibiao on pipelines/other_region.toml: every cell of the panel equals the reference's, and
/// the within-station r of each planted effect equals the reference r.
#[test]
fn other_region_panel_equals_the_independent_reference() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("pipelines")).unwrap();
    std::os::unix::fs::symlink(sample_other(), tmp.path().join("sample_other")).unwrap();
    let pipeline = tmp.path().join("pipelines/other_region.toml");
    std::fs::copy(repo().join("pipelines/other_region.toml"), &pipeline).unwrap();
    let run = duibiao(tmp.path(), &["run", pipeline.to_str().unwrap(), "--quiet"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = tmp.path().join("out_other");

    let expected = records(&std::fs::read_to_string(repo().join("tests/fixtures/other_region/expected_panel.csv")).unwrap());
    let header = &expected[0];
    let panel = read_parquet(&out.join("panel.parquet"));
    let (ids, periods) = (strings(&panel, "station_id"), strings(&panel, "period"));
    let index: HashMap<(String, String), usize> =
        ids.iter().zip(&periods).enumerate().map(|(i, (s, p))| ((s.clone().unwrap(), p.clone().unwrap()), i)).collect();
    assert_eq!(index.len(), expected.len() - 1, "panel rows");
    for (c, name) in header.iter().enumerate().skip(4) {
        let values = floats(&panel, name);
        for row in &expected[1..] {
            let i = index[&(row[0].clone(), row[3].clone())];
            let want: Option<f64> = (!row[c].is_empty()).then(|| row[c].parse().unwrap());
            match (want, values[i]) {
                (None, None) => {}
                (Some(w), Some(g)) => assert!((w - g).abs() <= 1e-9 * w.abs().max(1.0), "{name} {} {}: {g} != {w}", row[0], row[3]),
                (w, g) => panic!("{name} {} {}: {g:?} != {w:?}", row[0], row[3]),
            }
        }
    }

    let t = read_parquet(&out.join("correlations.parquet"));
    let (ind, fea, sco, met, con) = (strings(&t, "indicator"), strings(&t, "feature"), strings(&t, "scope"), strings(&t, "method"), strings(&t, "controls"));
    let lags: Vec<i64> = {
        use arrow::array::{Array, Int64Array};
        t.iter()
            .flat_map(|b| {
                let a = b.column_by_name("lag").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
                (0..a.len()).map(move |i| a.value(i)).collect::<Vec<_>>()
            })
            .collect()
    };
    let r = floats(&t, "r");
    for e in reference()["planted_effects"].as_array().unwrap() {
        let i = (0..r.len())
            .find(|&i| {
                ind[i].as_deref() == e["indicator"].as_str()
                    && fea[i].as_deref() == e["feature"].as_str()
                    && sco[i].as_deref() == Some("within")
                    && met[i].as_deref() == Some("pearson")
                    && lags[i] == e["lag"].as_i64().unwrap()
                    && con[i].as_deref().unwrap_or("").is_empty()
            })
            .unwrap_or_else(|| panic!("no within-station Pearson row for {}", e["id"]));
        let want = e["r"].as_f64().unwrap();
        assert!((r[i].unwrap() - want).abs() < 1e-9, "{}: r {} != reference {want}", e["id"], r[i].unwrap());
    }
}

//! Shardable ingest: the sample ingested in three shards (reference tables, 2019, 2020) on
//! "several machines" and merged by `run --shards` gives the same row accounting, quarantine and
//! panel as one run; overlapping shards and shards of another pipeline version are refused.

use std::path::Path;

use crate::testenv::{duibiao, floats, kashgar_workspace, manifest, read_parquet, row_count, strings};

const PERIOD_SOURCES: [&str; 9] = ["collection", "fee", "flags", "line_loss", "om_index", "outages", "party_activities", "star_ratings", "work_orders"];

fn ok(dir: &Path, args: &[&str]) {
    let out = duibiao(dir, args);
    assert!(out.status.success(), "duibiao {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn ingest_year(dir: &Path, year: u32, shard: &str) {
    let mut args = vec![
        "ingest".to_string(),
        "pipelines/kashgar_quarterly.toml".into(),
        "--into".into(),
        "shards".into(),
        "--quiet".into(),
        "--shard".into(),
        shard.into(),
    ];
    for s in PERIOD_SOURCES {
        args.extend(["--source".to_string(), s.to_string()]);
    }
    for q in 1..=4 {
        args.extend(["--period".to_string(), format!("{year}Q{q}")]);
    }
    ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn shards_merge_to_the_same_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    kashgar_workspace(dir);
    ok(dir, &["run", "pipelines/kashgar_quarterly.toml", "--quiet", "--duckdb", "none"]);
    std::fs::rename(dir.join("out"), dir.join("whole")).unwrap();

    ok(dir, &["ingest", "pipelines/kashgar_quarterly.toml", "--into", "shards", "--source", "stations", "--source", "aliases", "--quiet"]);
    ingest_year(dir, 2019, "y2019");
    ingest_year(dir, 2020, "y2020");
    ok(dir, &["run", "pipelines/kashgar_quarterly.toml", "--shards", "shards", "--quiet", "--duckdb", "none"]);

    // The same row accounting per source: every count, files, warnings, conservation.
    let (whole, merged) = (manifest(&dir.join("whole")), manifest(&dir.join("out")));
    assert_eq!(whole["sources"], merged["sources"]);
    assert_eq!(whole["periods_available"], merged["periods_available"]);
    // A shard of a period reads the other periods' rows too: they are accounted once.
    let fee = merged["sources"].as_array().unwrap().iter().find(|s| s["name"] == "fee").unwrap();
    assert_eq!(fee["other_period"], 0);
    assert_eq!(fee["conserved"], true);

    // The same quarantine and panel.
    let rejects = |out: &str| {
        let b = read_parquet(&dir.join(out).join("quality/rejects.parquet"));
        let mut rows: Vec<String> =
            (0..row_count(&b)).map(|i| format!("{:?} {:?} {:?}", strings(&b, "source")[i], strings(&b, "file")[i], strings(&b, "reason")[i])).collect();
        rows.sort();
        rows
    };
    assert_eq!(rejects("whole"), rejects("out"));
    let panel = |out: &str| {
        let b = read_parquet(&dir.join(out).join("panel.parquet"));
        (strings(&b, "station_id"), floats(&b, "fee_recovery"), floats(&b, "line_loss_compliance"), floats(&b, "sanliang_sanbi_lag1"))
    };
    assert_eq!(panel("whole"), panel("out"));
}

#[test]
fn overlapping_shards_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    kashgar_workspace(dir);
    ok(dir, &["ingest", "pipelines/kashgar_quarterly.toml", "--into", "shards", "--source", "stations", "--source", "aliases", "--source", "fee", "--quiet"]);
    ok(dir, &["ingest", "pipelines/kashgar_quarterly.toml", "--into", "shards", "--source", "fee", "--period", "2020Q1", "--quiet"]);
    let out = duibiao(dir, &["run", "pipelines/kashgar_quarterly.toml", "--shards", "shards", "--quiet", "--duckdb", "none"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("source 'fee': its partition 2020Q1 is in shards"), "{stderr}");
    assert!(!dir.join("out").exists(), "nothing published");
}

//! `duibiao check` and spec errors: every broken pipeline under tests/fixtures/pipelines/invalid
//! gives the message in its .expected file (file:line:column, did-you-mean), exits 2, and neither
//! `check` nor `run` writes anything.

use crate::testenv::{duibiao, repo};

#[test]
fn broken_pipelines_give_their_snapshot_messages_and_write_nothing() {
    let dir = repo().join("tests/fixtures/pipelines/invalid");
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        cases += 1;
        let relative = path.strip_prefix(repo()).unwrap().to_str().unwrap().to_string();
        let expected_path = path.with_extension("expected");
        for command in ["check", "run"] {
            let out = duibiao(&repo(), &[command, &relative]);
            assert_eq!(out.status.code(), Some(2), "{command} {relative}");
            let stderr = String::from_utf8(out.stderr).unwrap();
            if std::env::var_os("DUIBIAO_UPDATE_SNAPSHOTS").is_some() && command == "check" {
                std::fs::write(&expected_path, &stderr).unwrap();
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| panic!("{} missing", expected_path.display()));
            assert_eq!(stderr, expected, "{command} {relative}");
            assert!(!dir.join("out").exists(), "{command} {relative} wrote an output folder");
        }
    }
    assert!(cases >= 7);
}

#[test]
fn the_sample_pipeline_checks_clean() {
    let out = duibiao(&repo(), &["check", "pipelines/kashgar_quarterly.toml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("fee") && stdout.contains("8 file(s)"), "{stdout}");
}

/// A workspace with a station master and fee exports `files` (name, lines) in `data/`, and a
/// pipeline `p.toml` reading `data/fee_*.csv` with `max_reject_share` (its output folder apart
/// from the inputs).
fn fee_workspace(files: &[(&str, Vec<String>)], max_reject_share: f64) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("stations.csv"), "供电所编码,供电所名称\nS01,甲供电所\nS02,乙供电所\n").unwrap();
    for (name, lines) in files {
        std::fs::write(data.join(name), lines.join("\n") + "\n").unwrap();
    }
    let pipeline = format!(
        r#"[pipeline]
name = "sampled"
period = "quarter"
stations = "stations"

[output]
dir = "out"

[sources.stations]
path = "data/stations.csv"
columns.station_code = {{ header = "供电所编码" }}
columns.station_name = {{ header = "供电所名称" }}

[sources.fee]
path = "data/fee_*.csv"
encoding = "utf-8"
station = "station_code"
period = "month"
max_reject_share = {max_reject_share}
columns.station_code = {{ header = "单位编码" }}
columns.month = {{ header = "月份", type = "month" }}
columns.billed = {{ header = "应收", type = "number" }}
"#
    );
    std::fs::write(tmp.path().join("p.toml"), pipeline).unwrap();
    tmp
}

fn fee_rows(year: u32, bad: &[usize]) -> Vec<String> {
    let mut lines = vec!["单位编码,月份,应收".to_string()];
    for i in 0..4 {
        let billed = if bad.contains(&i) { "--".to_string() } else { format!("{}", 1000 + i) };
        lines.push(format!("S0{},{year}-0{},{billed}", i % 2 + 1, i + 1));
    }
    lines
}

#[test]
fn check_samples_every_file_and_reports_the_reject_share_with_an_example() {
    // The second file holds 3 unparseable amounts (its lines 3, 4, 5): 3 of 8 rows = 37.5 %.
    let files = [("fee_1.csv", fee_rows(2019, &[])), ("fee_2.csv", fee_rows(2020, &[1, 2, 3]))];
    let tmp = fee_workspace(&files, 0.5);
    let out = duibiao(tmp.path(), &["check", "p.toml"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("8 rows read, 5 accepted, 3 rejected = 37.5 % (allowed 50.0 %)"), "{stdout}");
    assert!(stdout.contains("拒绝 rejected 3 × 应收: '…' 不是有效的数字"), "{stdout}");
    assert!(stdout.contains("fee_2.csv:3 billed '--'"), "{stdout}");
    assert!(stdout.contains("its sample passes the data checks"), "{stdout}");
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn check_exits_3_when_its_sample_rejects_more_than_allowed() {
    let files = [("fee_1.csv", fee_rows(2019, &[])), ("fee_2.csv", fee_rows(2020, &[1, 2, 3]))];
    let tmp = fee_workspace(&files, 0.2);
    let out = duibiao(tmp.path(), &["check", "p.toml"]);
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(!stdout.contains("matches its files, and its sample passes"), "{stdout}");
    assert!(stdout.contains("but its sample fails the data checks"), "{stdout}");
    assert!(stderr.contains("fee: 样本 8 行中拒绝 37.5 % · 37.5 % of 8 sampled rows rejected（允许 allowed 20.0 %）"), "{stderr}");
    assert!(stderr.contains("e.g. data/fee_2.csv:3"), "{stderr}");
    // run agrees: it stops on the same share.
    let run = duibiao(tmp.path(), &["run", "p.toml", "--quiet"]);
    assert_eq!(run.status.code(), Some(3));
    let run_stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run_stderr.contains("37.5") && run_stderr.contains("fee"), "{run_stderr}");
}

#[test]
fn check_samples_the_end_of_a_large_file() {
    // ~24 MB: more blocks than the sample parses; the only bad rows are the last three lines.
    let mut lines = vec!["单位编码,月份,应收".to_string()];
    let padding = "1".repeat(150);
    let rows = 150_000;
    for i in 0..rows {
        lines.push(format!("S0{},2020-0{},{padding}.{}", i % 2 + 1, i % 6 + 1, i % 10));
    }
    for line in lines.iter_mut().rev().take(3) {
        *line = line.rsplit_once(',').map(|(head, _)| format!("{head},--")).unwrap();
    }
    let tmp = fee_workspace(&[("fee_big.csv", lines)], 0.5);
    let out = duibiao(tmp.path(), &["check", "p.toml"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // Found at its real line, though the sample reads fewer rows than the file has.
    assert!(stdout.contains(&format!("fee_big.csv:{} billed '--'", rows - 1)), "{stdout}");
    let read: u64 = stdout.split(" rows read").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(read < rows as u64 && read > 50_000, "{read} rows sampled\n{stdout}");
}

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

//! What a user sees on the terminal when things go wrong: a closed standard output ends a command
//! quietly with the exit code it would have had; a data-check failure names its top reasons with
//! an example each; I/O failures (full disk, read-only folder) name the file and the stage and
//! leave the previous output as it was.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::testenv::{Tmpfs, edit_pipeline, fee_workspace, tree};

/// Runs duibiao with its standard output closed by the reader before anything is written.
fn with_stdout_closed(dir: &Path, args: &[&str]) -> Output {
    let mut child = crate::testenv::duibiao_command().args(args).current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_exit_code_the_command_would_have_had() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = fee_workspace(tmp.path());
    let strict = tmp.path().join("pipelines/strict.toml");
    std::fs::copy(&pipeline, &strict).unwrap();
    edit_pipeline(&strict, "max_reject_share = 0.9", "max_reject_share = 0.1");
    edit_pipeline(&strict, "dir = \"out\"", "dir = \"strict_out\"");
    let bad = tmp.path().join("pipelines/bad.toml");
    std::fs::copy(&pipeline, &bad).unwrap();
    edit_pipeline(&bad, "dir = \"out\"", "dir = \".\"");

    let cases: [(&[&str], i32); 7] = [
        (&["check", "pipelines/fee_small.toml"], 0),
        (&["run", "pipelines/fee_small.toml"], 0),
        (&["run", "pipelines/fee_small.toml", "--json"], 0),
        (&["inspect", "pipelines/out/quality/rejects.parquet"], 0),
        (&["inspect", "pipelines/out/quality/rejects.parquet", "--json"], 0),
        (&["run", "pipelines/strict.toml", "--quiet"], 3),
        (&["check", "pipelines/bad.toml"], 2),
    ];
    for (args, code) in cases {
        let out = with_stdout_closed(tmp.path(), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        if args[0] == "run" && code == 0 {
            // The run finished its work: the output is published.
            assert!(tmp.path().join("pipelines/out/.duibiao-output").exists(), "{args:?}");
        }
    }

    // A closed standard error does not turn a spec error into a panic either.
    let mut child = crate::testenv::duibiao_command()
        .args(["run", "pipelines/bad.toml"])
        .current_dir(tmp.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = child.wait();
    assert_eq!(out.unwrap().code(), Some(2));
}

#[test]
fn a_data_check_failure_names_its_top_reasons_with_an_example_each() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("exports")).unwrap();
    std::fs::create_dir_all(tmp.path().join("pipelines")).unwrap();
    std::fs::copy(crate::testenv::repo().join("tests/fixtures/exports/stations.csv"), tmp.path().join("exports/stations.csv")).unwrap();
    // Lines 3-5: paid does not parse (3 rows); 6-7: impossible months (2); 8: paid > billed (1).
    let fee = "供电单位编码,统计月份,应收电费(元),实收电费(元)\n\
               S01,2020-07,100,90\n\
               S01,2020-08,100,--\n\
               S02,2020-08,100,n/a\n\
               S02,2020-09,100,?\n\
               S01,2020-13,100,90\n\
               S02,2020-14,100,90\n\
               S01,2020-09,100,120\n\
               S02,2020-07,200,150\n";
    std::fs::write(tmp.path().join("exports/fee.csv"), fee).unwrap();
    let pipeline = r#"
[pipeline]
name = "fee_reasons"
period = "quarter"
stations = "stations"

[output]
dir = "out"

[sources.stations]
path = "../exports/stations.csv"
encoding = "utf-8"
columns.station_code = { header = "供电所编码" }
columns.station_name = { header = "供电所名称" }

[sources.fee]
path = "../exports/fee.csv"
encoding = "utf-8"
station = "station_code"
period = "month"
columns.station_code = { header = "供电单位编码" }
columns.month = { header = "统计月份", type = "month" }
columns.billed = { header = "应收电费(元)", type = "number" }
columns.paid = { header = "实收电费(元)", type = "number" }
checks = [{ rule = "paid <= billed", message = "实收大于应收" }]
max_reject_share = 0.5
"#;
    std::fs::write(tmp.path().join("pipelines/fee.toml"), pipeline).unwrap();
    let out = crate::testenv::duibiao(tmp.path(), &["run", "pipelines/fee.toml", "--quiet"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with("fee: ")).unwrap_or_else(|| panic!("{err}"));
    // 6 of 8 rows rejected = 75.0 %.
    assert_eq!(lines[at].trim(), "fee: 75.0% of 8 rows rejected (allowed 50.0%)", "{err}");
    let paid = lines[at + 1].trim();
    assert!(paid.starts_with("3 × column paid (实收电费(元)); e.g. exports/fee.csv:3:4 value '--': "), "{err}");
    assert!(paid.contains("is not a number"), "{err}");
    let month = lines[at + 2].trim();
    assert!(month.starts_with("2 × column month (统计月份); e.g. exports/fee.csv:6:2 value '2020-13': "), "{err}");
    let check = lines[at + 3].trim();
    assert!(check.starts_with("1 × check '实收大于应收'; e.g. exports/fee.csv:8 (") && check.contains("paid=120") && check.contains("billed=100"), "{err}");
    assert!(lines[at + 4].contains("quarantine and manifest of this run are in"), "{err}");
}

/// Fills a file system to its last few kilobytes.
fn fill(dir: &Path, leave: u64) {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    let mut written = 0u64;
    while file.write_all(&chunk).and_then(|_| file.flush()).is_ok() {
        written += chunk.len() as u64;
    }
    drop(file);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(written.saturating_sub(leave)).unwrap();
}

#[test]
fn a_full_disk_names_the_file_and_the_stage_and_keeps_the_previous_output() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = fee_workspace(tmp.path());
    let disk = match Tmpfs::mount(&tmp.path().join("disk"), "2m") {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: a full disk needs a small tmpfs, and {why}");
            return;
        }
    };
    edit_pipeline(&pipeline, "dir = \"out\"", "dir = \"../disk/out\"");
    let first = crate::testenv::duibiao(tmp.path(), &["run", "pipelines/fee_small.toml", "--quiet"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let out_dir = disk.path.join("out");
    let before = tree(&out_dir);

    fill(&disk.path, 8 * 1024);
    let full = crate::testenv::duibiao(tmp.path(), &["run", "pipelines/fee_small.toml", "--quiet"]);
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("during "), "no stage named: {err}");
    assert!(err.contains("disk/.out.tmp-"), "no file named: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(tree(&out_dir) == before, "the previous output changed");
    let names: Vec<String> = std::fs::read_dir(&disk.path).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.starts_with(".out.tmp-")), "staging left behind: {names:?}");

    std::fs::remove_file(disk.path.join("filler")).unwrap();
    let again = crate::testenv::duibiao(tmp.path(), &["run", "pipelines/fee_small.toml", "--quiet"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn a_read_only_output_parent_gives_a_clear_error_and_keeps_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = fee_workspace(tmp.path());
    let parent = tmp.path().join("results");
    let root = unsafe { libc::geteuid() } == 0;
    // Root ignores permission bits: there a read-only mount stands in for chmod.
    let mount = if root {
        match Tmpfs::mount(&parent, "2m") {
            Ok(m) => Some(m),
            Err(why) => {
                eprintln!("skipped: running as root, a read-only folder needs a tmpfs, and {why}");
                return;
            }
        }
    } else {
        std::fs::create_dir_all(&parent).unwrap();
        None
    };
    edit_pipeline(&pipeline, "dir = \"out\"", "dir = \"../results/out\"");
    let first = crate::testenv::duibiao(tmp.path(), &["run", "pipelines/fee_small.toml", "--quiet"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let before = tree(&parent.join("out"));
    match &mount {
        Some(m) => m.read_only(),
        None => {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
    }
    let again = crate::testenv::duibiao(tmp.path(), &["run", "pipelines/fee_small.toml", "--quiet"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{err}");
    assert!(err.contains("results/"), "no path named: {err}");
    assert!(err.contains("Read-only file system") || err.contains("Permission denied"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(tree(&parent.join("out")) == before, "the output changed");
    if mount.is_none() {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

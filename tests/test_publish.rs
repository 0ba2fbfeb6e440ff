//! Publishing the output folder: only a folder a run marked as its output is replaced, a run
//! killed at any publish step leaves the previous or the new output whole and the next run
//! recovers, and a second run on the same output fails at once naming the first.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::testenv::{duibiao, fee_workspace, tree};

fn run(dir: &Path, env: &[(&str, &str)]) -> Output {
    crate::testenv::duibiao_command().args(["run", "pipelines/fee_small.toml", "--quiet"]).envs(env.iter().copied()).current_dir(dir).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run id of a whole published output: marker and manifest agree, every file is there.
fn whole_output(out: &Path) -> String {
    let marker = std::fs::read_to_string(out.join(".duibiao-output")).unwrap_or_else(|e| panic!("{}: no marker: {e}", out.display()));
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let run_id = manifest["run_id"].as_str().unwrap().to_string();
    assert!(marker.lines().next().unwrap().ends_with(&format!("run {run_id}")), "marker {marker:?} and manifest {run_id} disagree");
    for file in ["report.html", "views.sql", "quality/rejects.parquet", "curated/stations/data.parquet", "curated/fee/period=2020Q3/part-0.parquet"] {
        assert!(out.join(file).is_file(), "{} lacks {file}", out.display());
    }
    run_id
}

/// Names beside the output folder other than the lock file.
fn leftovers(pipelines: &Path) -> Vec<String> {
    std::fs::read_dir(pipelines)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.") && n != ".out.lock")
        .collect()
}

#[test]
fn a_folder_not_written_by_duibiao_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    fee_workspace(tmp.path());
    let out_dir = tmp.path().join("pipelines/out");
    std::fs::create_dir_all(out_dir.join("mine")).unwrap();
    std::fs::write(out_dir.join("mine/notes.txt"), "my notes").unwrap();
    let before = tree(&out_dir);
    for command in ["check", "run"] {
        let out = duibiao(tmp.path(), &[command, "pipelines/fee_small.toml"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("pipelines/out") && err.contains("not a duibiao output") && err.contains(".duibiao-output") && err.contains("move or delete it"),
            "{err}"
        );
    }
    assert!(tree(&out_dir) == before, "the user's folder changed");
    let mut beside: Vec<String> =
        std::fs::read_dir(tmp.path().join("pipelines")).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    beside.sort();
    assert_eq!(beside, ["fee_small.toml", "out"], "a refused run created files beside the output");

    // A file at the output path is refused the same way.
    std::fs::remove_dir_all(&out_dir).unwrap();
    std::fs::write(&out_dir, "a file").unwrap();
    let out = run(tmp.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is a file, not a folder"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&out_dir).unwrap(), b"a file");

    // Once the path is free (or an empty folder), runs publish and replace their own output.
    std::fs::remove_file(&out_dir).unwrap();
    std::fs::create_dir(&out_dir).unwrap();
    assert!(run(tmp.path(), &[]).status.success());
    let first = whole_output(&out_dir);
    assert!(run(tmp.path(), &[]).status.success());
    assert_ne!(whole_output(&out_dir), first);
}

/// What a test expects of the output folder right after a run was killed at a step.
#[derive(Debug, Clone, Copy, PartialEq)]
enum After {
    Previous,
    New,
    /// Fallback between its two renames: the name is free, the previous output waits aside.
    Aside,
}

fn kill_at(step: &str, fallback: bool, expected: After) {
    let tmp = tempfile::tempdir().unwrap();
    fee_workspace(tmp.path());
    let pipelines = tmp.path().join("pipelines");
    let out_dir = pipelines.join("out");
    let first = run(tmp.path(), &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let previous = whole_output(&out_dir);

    let mut env = vec![("DUIBIAO_TEST_KILL_AT", step)];
    if fallback {
        env.push(("DUIBIAO_TEST_NO_EXCHANGE", "1"));
    }
    let killed = run(tmp.path(), &env);
    let case = format!("killed at {step}{}", if fallback { " (two-rename fallback)" } else { "" });
    assert_eq!(killed.status.signal(), Some(6), "{case}: the run was not aborted: {killed:?}");
    match expected {
        After::Previous => assert_eq!(whole_output(&out_dir), previous, "{case}"),
        After::New => assert_ne!(whole_output(&out_dir), previous, "{case}"),
        After::Aside => {
            assert!(!out_dir.exists(), "{case}");
            let aside: Vec<String> = leftovers(&pipelines).into_iter().filter(|n| n.starts_with(".out.old-")).collect();
            assert_eq!(aside.len(), 1, "{case}: {aside:?}");
            assert_eq!(whole_output(&pipelines.join(&aside[0])), previous, "{case}");
        }
    }

    // The next run recovers what the killed one left and publishes normally.
    let next = run(tmp.path(), &[]);
    assert!(next.status.success(), "{case}: the next run failed: {}", stderr(&next));
    let latest = whole_output(&out_dir);
    assert_ne!(latest, previous, "{case}");
    if expected == After::Aside {
        assert!(stderr(&next).contains("was put back"), "{case}: {}", stderr(&next));
    }
    assert!(leftovers(&pipelines).is_empty(), "{case}: {:?}", leftovers(&pipelines));
}

#[test]
fn a_run_killed_at_any_publish_step_leaves_a_whole_output_and_the_next_run_recovers() {
    for (step, expected) in
        [("locked", After::Previous), ("ingested", After::Previous), ("staged", After::Previous), ("exchanged", After::New), ("removing_old", After::New)]
    {
        kill_at(step, false, expected);
    }
}

#[test]
fn with_the_two_rename_fallback_a_killed_publish_is_put_back_by_the_next_run() {
    for (step, expected) in [("staged", After::Previous), ("moved_aside", After::Aside), ("renamed", After::New), ("removing_old", After::New)] {
        kill_at(step, true, expected);
    }
}

#[test]
fn a_first_run_killed_before_publishing_leaves_no_output_and_the_next_run_publishes() {
    let tmp = tempfile::tempdir().unwrap();
    fee_workspace(tmp.path());
    let pipelines = tmp.path().join("pipelines");
    let killed = run(tmp.path(), &[("DUIBIAO_TEST_KILL_AT", "staged")]);
    assert_eq!(killed.status.signal(), Some(6));
    assert!(!pipelines.join("out").exists());
    let next = run(tmp.path(), &[]);
    assert!(next.status.success(), "{}", stderr(&next));
    whole_output(&pipelines.join("out"));
    assert!(leftovers(&pipelines).is_empty(), "{:?}", leftovers(&pipelines));
}

fn wait_for(path: &Path, child: &mut std::process::Child) {
    let started = Instant::now();
    while !path.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the first run ended before reaching its pause");
        assert!(started.elapsed() < Duration::from_secs(120), "the first run never reached its pause");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_run_on_the_same_output_fails_at_once_naming_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    fee_workspace(tmp.path());
    let pipelines = tmp.path().join("pipelines");
    assert!(run(tmp.path(), &[]).status.success());
    let previous = whole_output(&pipelines.join("out"));

    let go: PathBuf = tmp.path().join("go");
    let pause = format!("ingested:{}", go.display());
    let mut first = crate::testenv::duibiao_command()
        .args(["run", "pipelines/fee_small.toml", "--quiet"])
        .env("DUIBIAO_TEST_PAUSE_AT", &pause)
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&tmp.path().join("go.reached"), &mut first);

    let started = Instant::now();
    let second = run(tmp.path(), &[]);
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "the second run waited");
    let pid = first.id();
    assert!(err.contains("another duibiao run is writing the output folder pipelines/out"), "{err}");
    assert!(err.contains(&format!("pid {pid}")) && err.contains(&format!("Z-{pid}")) && err.contains("started 20"), "{err}");
    // The second run touched nothing: the first run's staging folder and the output are as they were.
    assert_eq!(whole_output(&pipelines.join("out")), previous);
    assert_eq!(leftovers(&pipelines).iter().filter(|n| n.starts_with(".out.tmp-")).count(), 1, "{:?}", leftovers(&pipelines));

    std::fs::write(&go, "").unwrap();
    let done = first.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert_ne!(whole_output(&pipelines.join("out")), previous);
    assert!(leftovers(&pipelines).is_empty(), "{:?}", leftovers(&pipelines));
    // Once the first has ended, the lock is free again.
    assert!(run(tmp.path(), &[]).status.success());
}

//! What a user sees on the terminal when things go wrong: a closed standard output ends a command
//! quietly with the exit code it would have had.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::testenv::{edit_pipeline, fee_workspace};

/// Runs duibiao with its standard output closed by the reader before anything is written.
fn with_stdout_closed(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duibiao")).args(args).current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
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
    let out = Command::new(env!("CARGO_BIN_EXE_duibiao")).args(["run", "pipelines/bad.toml"]).current_dir(tmp.path()).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().map(|mut c| {
        drop(c.stderr.take());
        c.wait().unwrap()
    });
    assert_eq!(out.unwrap().code(), Some(2));
}

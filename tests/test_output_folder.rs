//! The output folder may not overlap what a run reads: an `[output] dir` that is, contains or
//! lies inside a source's folder or file, or the pipeline file, or is empty, is refused when the
//! pipeline compiles (exit 2, located at the key), by `check` and `run` alike, before anything is
//! read or written; a link that leads into an input is caught too.

use std::path::Path;
use std::process::Output;

use crate::testenv::{duibiao, edit_pipeline, fee_workspace, tree};

fn run(dir: &Path) -> Output {
    crate::testenv::duibiao_command().args(["run", "pipelines/fee_small.toml", "--quiet"]).current_dir(dir).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_output_folder_overlapping_an_input_or_the_pipeline_is_refused_at_compile_time() {
    for dir in ["../exports", "../exports/out", "..", ".", "", "/", "../exports/stations.csv"] {
        let tmp = tempfile::tempdir().unwrap();
        let pipeline = fee_workspace(tmp.path());
        edit_pipeline(&pipeline, "dir = \"out\"", &format!("dir = \"{dir}\""));
        let before = tree(tmp.path());
        for command in ["check", "run"] {
            let out = duibiao(tmp.path(), &[command, "pipelines/fee_small.toml"]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command} with dir = {dir:?}: {err}");
            assert!(err.contains("pipelines/fee_small.toml:10:7: [output] dir"), "{command} with dir = {dir:?}: {err}");
            let why = if dir.is_empty() { "is empty" } else { "must be a folder of its own" };
            assert!(err.contains(why), "{command} with dir = {dir:?}: {err}");
        }
        assert!(tree(tmp.path()) == before, "dir = {dir:?}: a refused pipeline changed files");
    }
}

#[test]
fn an_output_folder_reaching_an_input_through_a_link_is_refused_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = fee_workspace(tmp.path());
    std::os::unix::fs::symlink("../exports", tmp.path().join("pipelines/linked")).unwrap();
    edit_pipeline(&pipeline, "dir = \"out\"", "dir = \"linked/out\"");
    let before = tree(&tmp.path().join("exports"));
    for command in ["check", "run"] {
        let out = duibiao(tmp.path(), &[command, "pipelines/fee_small.toml"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("fee_small.toml:10:7: [output] dir") && stderr(&out).contains("lies inside the folder read by source"),
            "{}",
            stderr(&out)
        );
    }
    assert!(tree(&tmp.path().join("exports")) == before);
}

#[test]
fn an_output_folder_beside_a_single_input_file_is_refused_and_one_elsewhere_is_not() {
    // The station master is a single file in master/: its folder is an input folder too.
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = fee_workspace(tmp.path());
    std::fs::create_dir_all(tmp.path().join("master")).unwrap();
    std::fs::rename(tmp.path().join("exports/stations.csv"), tmp.path().join("master/stations.csv")).unwrap();
    edit_pipeline(&pipeline, "../exports/stations.csv", "../master/stations.csv");
    edit_pipeline(&pipeline, "dir = \"out\"", "dir = \"../master/out\"");
    let out = run(tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("lies inside the folder read by source 'stations'"), "{}", stderr(&out));
    assert!(!tmp.path().join("master/out").exists());
    edit_pipeline(&pipeline, "dir = \"../master/out\"", "dir = \"../results/out\"");
    let out = run(tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tmp.path().join("results/out/manifest.json").is_file());
}

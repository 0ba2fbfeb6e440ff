//! Where a run may write. Each run replaces its output folder as a whole, so `[output] dir` must
//! name a folder of its own: not empty, and neither the same as, nor containing, nor inside any
//! input folder — the folder a source's glob reads from, or the folder of the file a plain path
//! names (station master, aliases, every export) — and not containing the pipeline file.
//!
//! `check_lexical` compares the paths as written (with `..` folded), when the pipeline compiles;
//! `check_resolved` compares them with symbolic links resolved, for the preflight that looks at
//! the real file system. Both give spec errors at `[output] dir`.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use super::SpecError;
use super::compile::normalize;
use super::plan::{Plan, SourcePlan};

/// How the output folder meets an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overlap {
    /// The output folder is the input.
    Is,
    /// The output folder contains the input.
    Contains,
    /// The output folder lies inside the input folder.
    Inside,
}

/// Something a run reads, which its output folder must stay clear of.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// How the user knows it: "source 'fee' (path ../exports/fee_*.csv)".
    pub what: String,
    /// The folder a glob reads from, or the file a plain path names.
    pub path: PathBuf,
    pub is_folder: bool,
}

/// The inputs of a pipeline: the folder every source reads from (a glob's base folder, a plain
/// file's folder), and the pipeline file (whose folder may hold the output).
pub fn inputs(sources: &[SourcePlan], spec_path: &Path) -> Vec<Input> {
    inputs_of(sources.iter().map(|s| (s.name.as_str(), s.pattern.as_str())), spec_path)
}

/// `inputs` of (source name, path pattern) pairs.
fn inputs_of<'a>(sources: impl Iterator<Item = (&'a str, &'a str)>, spec_path: &Path) -> Vec<Input> {
    let mut inputs: Vec<Input> = sources
        .map(|(name, pattern)| {
            let (path, is_folder) = glob_base(pattern);
            let folder = if is_folder { path } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
            Input { what: format!("source '{name}' (path {pattern})"), path: folder, is_folder: true }
        })
        .collect();
    inputs.push(Input { what: format!("the pipeline file {}", spec_path.display()), path: spec_path.to_path_buf(), is_folder: false });
    inputs
}

/// The folder a glob pattern reads from (its components before the first wildcard), or the path
/// itself when it has no wildcard.
pub(crate) fn glob_base(pattern: &str) -> (PathBuf, bool) {
    let wild = |c: &Component| c.as_os_str().to_string_lossy().contains(['*', '?', '[', ']', '{', '}']);
    let path = Path::new(pattern);
    if !path.components().any(|c| wild(&c)) {
        return (path.to_path_buf(), false);
    }
    (path.components().take_while(|c| !wild(c)).collect(), true)
}

/// How `out` meets `input` (both absolute and normalised), if at all.
pub fn overlap(out: &Path, input: &Path) -> Option<Overlap> {
    if out == input {
        Some(Overlap::Is)
    } else if input.starts_with(out) {
        Some(Overlap::Contains)
    } else if out.starts_with(input) {
        Some(Overlap::Inside)
    } else {
        None
    }
}

/// An absolute path with `.` and `..` folded, without touching the file system.
pub fn absolute(path: &Path) -> PathBuf {
    // An empty path (`pipelines/..` folded) is the current folder.
    let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    normalize(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// An absolute path with symbolic links resolved as far as the path exists.
pub(crate) fn resolved(path: &Path) -> PathBuf {
    let whole = absolute(path);
    let mut existing = whole.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, name| p.join(name));
        }
        match existing.file_name() {
            Some(name) => {
                rest.push(name.to_os_string());
                existing.pop();
            }
            None => return whole,
        }
    }
}

/// Checks `[output] dir` against the inputs as written. `written` is the value in the file and
/// `out` the folder it names.
pub(crate) fn check_lexical(written: &str, span: Range<usize>, out: &Path, inputs: &[Input], errors: &mut Vec<SpecError>) {
    if written.trim().is_empty() {
        errors.push(SpecError {
            span: Some(span),
            message: "[output] dir is empty; name a folder of its own for the outputs, e.g. dir = \"out\" · 输出目录不能为空".to_string(),
        });
        return;
    }
    check(written, Some(span), out, inputs, absolute, errors);
}

/// Checks `[output] dir` against the inputs with symbolic links resolved (preflight).
pub(crate) fn check_resolved(plan: &Plan) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let written = plan.output_dir.display().to_string();
    check(&written, plan.output_span.clone(), &plan.output_dir, &inputs(&plan.sources, &plan.spec_path), resolved, &mut errors);
    errors
}

fn check(written: &str, span: Option<Range<usize>>, out: &Path, inputs: &[Input], full: fn(&Path) -> PathBuf, errors: &mut Vec<SpecError>) {
    let out_full = full(out);
    // One error, for the first input it meets: fixing the folder fixes them all.
    for input in inputs {
        let Some(how) = overlap(&out_full, &full(&input.path)) else { continue };
        let relation = match (how, input.is_folder) {
            (Overlap::Is, true) => "is the folder read by",
            (Overlap::Is, false) => "is",
            (Overlap::Contains, true) => "contains the folder read by",
            (Overlap::Contains, false) => "contains",
            (Overlap::Inside, true) => "lies inside the folder read by",
            (Overlap::Inside, false) => "lies inside",
        };
        errors.push(SpecError {
            span,
            message: format!(
                "[output] dir \"{written}\" ({}) {relation} {}; every run replaces its whole output folder, so it must be a folder of its own, \
                 apart from every input and from the pipeline file, e.g. dir = \"out\" · 输出目录不能与输入数据或作业文件重叠",
                out_full.display(),
                input.what
            ),
        });
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_reads_from_the_folder_before_its_first_wildcard() {
        assert_eq!(glob_base("/d/exports/fee_*.csv"), (PathBuf::from("/d/exports"), true));
        assert_eq!(glob_base("/d/*/x.csv"), (PathBuf::from("/d"), true));
        assert_eq!(glob_base("/d/exports/stations.csv"), (PathBuf::from("/d/exports/stations.csv"), false));
    }

    #[test]
    fn the_output_may_not_be_contain_or_lie_inside_an_input() {
        let (d, x) = (Path::new("/w/exports"), Path::new("/w/exports/fee.csv"));
        assert_eq!(overlap(Path::new("/w/exports"), d), Some(Overlap::Is));
        assert_eq!(overlap(Path::new("/w"), d), Some(Overlap::Contains));
        assert_eq!(overlap(Path::new("/w/exports/out"), d), Some(Overlap::Inside));
        assert_eq!(overlap(Path::new("/w/out"), d), None);
        assert_eq!(overlap(Path::new("/w/exportsX"), d), None, "components, not characters");
        assert_eq!(overlap(Path::new("/w/exports"), x), Some(Overlap::Contains));
        assert_eq!(overlap(Path::new("/w/exports/fee.csv/out"), x), Some(Overlap::Inside));
    }

    #[test]
    fn a_plain_path_reads_from_its_folder_and_the_pipeline_is_a_file() {
        let found = inputs_of([("stations", "/w/master/stations.csv"), ("fee", "/w/fee/*.csv")].into_iter(), Path::new("/w/p/p.toml"));
        let paths: Vec<(&Path, bool)> = found.iter().map(|i| (i.path.as_path(), i.is_folder)).collect();
        assert_eq!(paths, [(Path::new("/w/master"), true), (Path::new("/w/fee"), true), (Path::new("/w/p/p.toml"), false)]);
        let mut errors = Vec::new();
        check_lexical("out", 0..3, Path::new("/w/p/out"), &found, &mut errors);
        assert!(errors.is_empty(), "beside the pipeline file is fine: {errors:?}");
        for (out, relation) in [
            ("/w/master/out", "lies inside the folder read by source 'stations'"),
            ("/w/p", "contains the pipeline file"),
            ("/w", "contains the folder read by source 'stations'"),
        ] {
            let mut errors = Vec::new();
            check_lexical(out, 0..3, Path::new(out), &found, &mut errors);
            assert!(errors.len() == 1 && errors[0].message.contains(relation), "{out}: {errors:?}");
        }
    }

    #[test]
    fn resolving_follows_links_as_far_as_the_path_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let expected = real.canonicalize().unwrap().join("not/yet");
        assert_eq!(resolved(&tmp.path().join("link/not/yet")), expected);
    }
}

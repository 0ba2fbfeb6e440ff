//! Shared helpers: the repository root, a temporary work folder, running the built binary, and
//! reading export files the way a person would (by their stated encoding).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where Cargo.toml is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed sample.
pub fn sample_data() -> PathBuf {
    repo().join("sample_data")
}

/// The committed sample of the second export layout (`duibiao sample --layout other`).
pub fn sample_other() -> PathBuf {
    repo().join("sample_other")
}

/// The duibiao binary as a command, with `DUIBIAO_DUCKDB=none`: a run writes no analysis.duckdb
/// unless the test names a DuckDB with `--duckdb` (which overrides the variable). Without it every
/// run searches PATH for a DuckDB, starting up to four programs; where `python3` is a shim (pyenv)
/// that was over half the suite's time. A test of the search itself removes the variable.
pub fn duibiao_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_duibiao"));
    command.env("DUIBIAO_DUCKDB", "none");
    command
}

/// Runs the duibiao binary with `args` in `dir`.
pub fn duibiao(dir: &Path, args: &[&str]) -> Output {
    duibiao_command().args(args).current_dir(dir).output().expect("running duibiao")
}

/// Decodes a text export by its stated encoding; panics with the file name on any mismatch.
pub fn decode(path: &Path, encoding: &str) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let has_bom = bytes.starts_with(b"\xEF\xBB\xBF");
    match encoding {
        "utf-8" => {
            assert!(!has_bom, "{}: stated utf-8 without BOM, has a BOM", path.display());
            String::from_utf8(bytes).unwrap_or_else(|_| panic!("{}: not valid UTF-8", path.display()))
        }
        "utf-8-bom" => {
            assert!(has_bom, "{}: stated utf-8 with BOM, has none", path.display());
            String::from_utf8(bytes[3..].to_vec()).unwrap_or_else(|_| panic!("{}: not valid UTF-8", path.display()))
        }
        "gbk" | "gb18030" => {
            assert!(std::str::from_utf8(&bytes).is_err(), "{}: stated {encoding} but reads as UTF-8", path.display());
            let codec = if encoding == "gbk" { encoding_rs::GBK } else { encoding_rs::GB18030 };
            let (text, _, errors) = codec.decode(&bytes);
            assert!(!errors, "{}: not valid {encoding}", path.display());
            text.into_owned()
        }
        other => panic!("unknown encoding {other}"),
    }
}

/// Parses CSV text into records (every line, including title and blank lines, as records).
pub fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("well-formed CSV").iter().map(str::to_string).collect())
        .collect()
}

/// All rows of a Parquet file (or of every part-*.parquet below a folder) as Arrow batches.
pub fn read_parquet(path: &Path) -> Vec<arrow::record_batch::RecordBatch> {
    let mut files = Vec::new();
    if path.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    files.push(p);
                }
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut batches = Vec::new();
    for f in files {
        let file = std::fs::File::open(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        batches.extend(reader.map(|b| b.unwrap()));
    }
    batches
}

/// Total rows of some batches.
pub fn row_count(batches: &[arrow::record_batch::RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// A string column of some batches, nulls as None.
pub fn strings(batches: &[arrow::record_batch::RecordBatch], column: &str) -> Vec<Option<String>> {
    use arrow::array::{Array, StringArray};
    let mut out = Vec::new();
    for b in batches {
        let a = b.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
        let a = a.as_any().downcast_ref::<StringArray>().unwrap_or_else(|| panic!("{column} is not Utf8"));
        out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())));
    }
    out
}

/// A Float64 column of some batches.
pub fn floats(batches: &[arrow::record_batch::RecordBatch], column: &str) -> Vec<Option<f64>> {
    use arrow::array::{Array, Float64Array};
    let mut out = Vec::new();
    for b in batches {
        let a = b.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
        let a = a.as_any().downcast_ref::<Float64Array>().unwrap_or_else(|| panic!("{column} is not Float64"));
        out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))));
    }
    out
}

/// The manifest.json of an output folder.
pub fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

/// Copies the kashgar pipeline into `dir/pipelines` with `dir/sample_data` linked to the
/// committed sample, so a run writes into `dir/out`.
pub fn kashgar_workspace(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    std::os::unix::fs::symlink(sample_data(), dir.join("sample_data")).unwrap();
    let pipeline = dir.join("pipelines/kashgar_quarterly.toml");
    std::fs::copy(repo().join("pipelines/kashgar_quarterly.toml"), &pipeline).unwrap();
    pipeline
}

/// Copies the small fee pipeline and its exports (copied, not linked: a test that goes wrong
/// must not touch the committed fixtures) into `dir`; returns the pipeline, `dir/pipelines/fee_small.toml`,
/// whose output is `dir/pipelines/out`.
pub fn fee_workspace(dir: &Path) -> PathBuf {
    let fixtures = repo().join("tests/fixtures");
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    std::fs::create_dir_all(dir.join("exports")).unwrap();
    for file in ["stations.csv", "fee_gbk.csv", "fee_wan_utf8.csv"] {
        std::fs::copy(fixtures.join("exports").join(file), dir.join("exports").join(file)).unwrap();
    }
    let pipeline = dir.join("pipelines/fee_small.toml");
    std::fs::copy(fixtures.join("pipelines/fee_small.toml"), &pipeline).unwrap();
    pipeline
}

/// Rewrites a pipeline file with `from` replaced by `to` (which must occur).
pub fn edit_pipeline(pipeline: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(pipeline).unwrap();
    assert!(text.contains(from), "{} has no '{from}'", pipeline.display());
    std::fs::write(pipeline, text.replace(from, to)).unwrap();
}

/// Every file below `dir` with its bytes, sorted (to show a folder is untouched).
pub fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A small tmpfs mounted for one test (disk full, read-only); unmounted when dropped. Mounting
/// needs root (CI runs as root); elsewhere `mount` fails and the test says it skipped.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    pub fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "duibiao-test", path.to_str().unwrap()])
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs { path: path.to_path_buf() })
    }

    /// Remounts read-only.
    pub fn read_only(&self) {
        let out = Command::new("mount").args(["-o", "remount,ro", self.path.to_str().unwrap()]).output().unwrap();
        assert!(out.status.success(), "remount ro: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", self.path.to_str().unwrap()]).output();
    }
}

/// One run of the kashgar sample job, shared by every test of this process that only reads its
/// output: the job is the same for all of them, and running it once instead of a dozen times is
/// most of the suite's time. Tests read below `out` and write nothing there; a test that
/// changes an output (a rerun, a move, a killed run) takes its own copy with [`SampleRun::copy_to`].
pub struct SampleRun {
    /// `pipelines/kashgar_quarterly.toml` of the workspace (beside it `sample_data`, linked).
    pub pipeline: PathBuf,
    pub out: PathBuf,
}

/// The shared sample run (run on first use). With a Python that has duckdb and pyarrow
/// ([`readers_python`]), the run writes analysis.duckdb with it, as the output tests need.
pub fn sample_run() -> &'static SampleRun {
    static RUN: std::sync::OnceLock<SampleRun> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let dir = shared_dir();
        let pipeline = kashgar_workspace(&dir);
        let python = readers_python();
        let mut args = vec!["run", pipeline.to_str().unwrap(), "--quiet"];
        if let Some(python) = &python {
            args.extend(["--duckdb", python.as_str()]);
        }
        let run = duibiao(&dir, &args);
        assert!(run.status.success(), "the shared sample run failed: {}", String::from_utf8_lossy(&run.stderr));
        SampleRun { out: dir.join("out"), pipeline }
    })
}

impl SampleRun {
    /// A workspace of its own in `dir` with a copy of the shared output (the pipeline copied, the
    /// sample linked, `out` copied file by file); returns its pipeline. Its analysis.duckdb still
    /// names the shared output until `duibiao views` rewrites it.
    pub fn copy_to(&self, dir: &Path) -> PathBuf {
        let pipeline = kashgar_workspace(dir);
        copy_tree(&self.out, &dir.join("out"));
        pipeline
    }
}

/// The Python with duckdb and pyarrow: $DUIBIAO_PYTHON (set by .ci/run) or python3, if it has them.
pub fn readers_python() -> Option<String> {
    let candidate = std::env::var("DUIBIAO_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&candidate).args(["-c", "import duckdb, pyarrow"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}

/// Copies a folder tree (files and folders; links as the files they point to).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap_or_else(|err| panic!("{} → {}: {err}", e.path().display(), target.display()));
        }
    }
}

/// Prefix of the shared run's folder in the system's temporary folder; the process id follows.
const SHARED_PREFIX: &str = "duibiao-tests-sample-run-";

/// A fresh folder for the shared run, removed when the test process exits; folders left by test
/// processes that no longer exist (killed before their exit) are removed first.
fn shared_dir() -> PathBuf {
    let tmp = std::env::temp_dir();
    for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(SHARED_PREFIX).and_then(|p| p.parse::<u32>().ok()) {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = tmp.join(format!("{SHARED_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    extern "C" fn remove_shared() {
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("{SHARED_PREFIX}{}", std::process::id())));
    }
    // SAFETY: registers a plain function without arguments to run at normal process exit.
    unsafe {
        libc::atexit(remove_shared);
    }
    dir
}

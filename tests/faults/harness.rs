//! The fault-injection harness: a small workspace per case in a temp folder, the built binary run
//! with a time limit, and the checks every case shares — no panic, no hang, the expected exit
//! code and message, inputs untouched, the previous output intact after a failure, `check`
//! writing nothing, and (for accepted runs) every physical line of every input accounted for in
//! the manifest.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A command still running after this long is a hang.
pub const HANG: Duration = Duration::from_secs(20);

/// What one command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// Both streams, for messages that may go to either.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn describe(&self) -> String {
        format!("duibiao {} → exit {:?} in {:.2?}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.args.join(" "), self.code, self.elapsed, self.stdout, self.stderr)
    }
}

/// How the child's standard output is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Read to the end (the normal case).
    Captured,
    /// A pipe whose reading end is closed right after the start (`duibiao … | true`).
    Closed,
    /// A pipe from which one line is read before it is closed (`duibiao … | head -1`).
    OneLine,
}

/// Starts the binary in `dir`, its output streams piped (`finish` reads or closes them).
pub fn spawn(dir: &Path, args: &[&str]) -> (Child, Vec<String>) {
    let child = Command::new(env!("CARGO_BIN_EXE_duibiao"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .spawn()
        .expect("starting duibiao");
    (child, args.iter().map(|a| a.to_string()).collect())
}

/// Waits for a started child (killing it after `HANG`), reading its streams as it goes.
pub fn finish(mut child: Child, args: Vec<String>, stdout: Stdout, started: Instant) -> Outcome {
    let mut out_pipe = child.stdout.take();
    let out_reader = match stdout {
        Stdout::Closed => {
            drop(out_pipe.take());
            None
        }
        Stdout::OneLine => {
            let pipe = out_pipe.take().unwrap();
            Some(std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while let Ok(1) = pipe.read(&mut byte) {
                    line.push(byte[0]);
                    if byte[0] == b'\n' {
                        break;
                    }
                }
                drop(pipe);
                line
            }))
        }
        Stdout::Captured => {
            let mut pipe = out_pipe.take().unwrap();
            Some(std::thread::spawn(move || {
                let mut all = Vec::new();
                let _ = pipe.read_to_end(&mut all);
                all
            }))
        }
    };
    let mut err_pipe = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = err_pipe.read_to_end(&mut all);
        all
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for duibiao") {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("HANG: duibiao {} still running after {HANG:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let stdout = out_reader.map(|r| r.join().unwrap()).unwrap_or_default();
    let stderr = err_reader.join().unwrap();
    let outcome = Outcome {
        args,
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed,
    };
    assert_no_panic(&outcome);
    outcome
}

/// Runs the binary in `dir` to its end (or a hang).
pub fn exec_with(dir: &Path, args: &[&str], stdout: Stdout) -> Outcome {
    let started = Instant::now();
    let (child, args) = spawn(dir, args);
    finish(child, args, stdout, started)
}

pub fn exec(dir: &Path, args: &[&str]) -> Outcome {
    exec_with(dir, args, Stdout::Captured)
}

/// Every case fails on a panic, whatever else it expects.
pub fn assert_no_panic(o: &Outcome) {
    assert!(o.code != Some(101) && !o.stderr.contains("panicked"), "PANIC: exit {:?}\n{}", o.code, o.describe());
    assert!(o.code.is_some(), "killed by a signal\n{}", o.describe());
}

/// One of several spellings of a message fragment must appear. Matching ignores case.
pub fn contains_any(text: &str, alternatives: &[&str]) -> bool {
    let lower = text.to_lowercase();
    alternatives.iter().any(|a| lower.contains(&a.to_lowercase()))
}

/// Whether `text` names line `line` of `file`: on one output line, the file name followed by
/// `:12`, or by a line marker (`line`, `lines`, `row `, `第`) and the number 12 as a whole number
/// (not part of a date, decimal, code or percentage), e.g. `fee.csv:12:3`, `fee.csv, line 12`,
/// `fee.csv lines 2 and 12`, `fee.csv 第 12 行`.
pub fn names_line(text: &str, file: &str, line: u64) -> bool {
    let n = line.to_string();
    text.lines().any(|l| {
        l.match_indices(file).any(|(at, _)| {
            let rest = &l[at + file.len()..];
            if let Some(after) = rest.strip_prefix(':') {
                if numbers(after).next().is_some_and(|(i, t)| i == 0 && t == n) {
                    return true;
                }
            }
            let marked = |m: &str| rest.match_indices(m).any(|(i, _)| i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphabetic());
            (marked("line") || marked("row ") || rest.contains('第')) && numbers(rest).any(|(_, t)| t == n)
        })
    })
}

/// Whole numbers in `s` with their byte offsets: digit runs not glued to letters, dots, dashes,
/// slashes or a percent sign.
fn numbers(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let b = s.as_bytes();
    let glued = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'/' | b'%' | b'_');
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let before_ok = start == 0 || !glued(b[start - 1]);
            let after_ok = i == b.len() || !glued(b[i]);
            if before_ok && after_ok {
                out.push((start, &s[start..i]));
            }
        } else {
            i += 1;
        }
    }
    out.into_iter()
}

/// The content of every file below `dir` (not following symbolic links; a link is recorded
/// by its target), by path relative to `dir`.
pub fn tree(dir: &Path) -> BTreeMap<String, u128> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, xxhash_rust::xxh3::xxh3_128(target.to_string_lossy().as_bytes()));
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), 0);
                stack.push(p);
            } else {
                out.insert(rel, xxhash_rust::xxh3::xxh3_128(&std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// A case's workspace: a temp folder holding `data/` (the exports), `pipelines/p.toml` and,
/// after a run, `out/`.
pub struct Workspace {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    /// Files written as inputs (relative paths), whose content must never change.
    pub inputs: BTreeMap<String, Vec<u8>>,
}

impl Workspace {
    pub fn new() -> Workspace {
        let tmp = tempfile::Builder::new().prefix("duibiao-faults-").tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        Workspace { _tmp: tmp, root, inputs: BTreeMap::new() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes an input file (replacing an earlier one of the same name).
    pub fn write(&mut self, rel: &str, bytes: &[u8]) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        self.inputs.insert(rel.to_string(), bytes.to_vec());
    }

    pub fn remove(&mut self, rel: &str) {
        let _ = std::fs::remove_file(self.root.join(rel));
        self.inputs.remove(rel);
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        exec(&self.root, args)
    }

    /// Every input is still there, byte for byte.
    pub fn assert_inputs_untouched(&self, context: &str) {
        for (rel, bytes) in &self.inputs {
            let now = std::fs::read(self.root.join(rel)).unwrap_or_else(|e| panic!("UNSAFE OUTPUT: input {rel} is gone ({e}) after {context}"));
            assert!(now == *bytes, "UNSAFE OUTPUT: input {rel} changed after {context}");
        }
    }
}

/// The manifest of a published output.
pub fn manifest(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap_or_else(|e| panic!("{}/manifest.json: {e}", out.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn source<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["sources"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no source {name} in the manifest"))
}

/// Physical lines of a text file, counted from its bytes: every CRLF, lone CR and lone LF ends
/// one line, and a last line without a terminator counts too. UTF-16 files (by their byte-order
/// mark) are counted in 16-bit units; a UTF-8 byte-order mark is not a line.
pub fn physical_lines(bytes: &[u8]) -> u64 {
    let units: Vec<u16> = if bytes.starts_with(&[0xFF, 0xFE]) {
        bytes[2..].chunks(2).map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect()
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        bytes[2..].chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect()
    } else if looks_utf16le(bytes) {
        bytes.chunks(2).map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect()
    } else {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        body.iter().map(|b| u16::from(*b)).collect()
    };
    let (cr, lf) = (u16::from(b'\r'), u16::from(b'\n'));
    let mut lines = 0;
    let mut i = 0;
    let mut open = false;
    while i < units.len() {
        if units[i] == cr {
            lines += 1;
            open = false;
            if units.get(i + 1) == Some(&lf) {
                i += 1;
            }
        } else if units[i] == lf {
            lines += 1;
            open = false;
        } else {
            open = true;
        }
        i += 1;
    }
    lines + u64::from(open)
}

/// UTF-16LE without a byte-order mark: most odd bytes are zero (ASCII digits and separators).
fn looks_utf16le(bytes: &[u8]) -> bool {
    let odd = bytes.iter().skip(1).step_by(2).count();
    odd >= 8 && bytes.iter().skip(1).step_by(2).filter(|b| **b == 0).count() * 10 > odd * 6
}

/// Rows of every sheet of a workbook, from row 1 to its last used row.
pub fn workbook_rows(path: &Path) -> u64 {
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(path).unwrap();
    let mut rows = 0;
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        if let Some((last, _)) = range.end() {
            rows += u64::from(last) + 1;
        }
    }
    rows
}

fn sheets(path: &Path) -> u64 {
    use calamine::Reader;
    calamine::open_workbook_auto(path).map(|b| b.sheet_names().len() as u64).unwrap_or(1)
}

/// Conservation against an independent count of physical lines, for every file of every source
/// of an accepted run. See the manifest shape documented in test_faults.rs: per-file fields are
/// used when present, with today's fields as the fallback.
pub fn assert_conserved(ws: &Workspace, out: &Path, header_rows: &BTreeMap<String, u64>) {
    let m = manifest(out);
    for s in m["sources"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("source {name}: no {k} in the manifest"));
        assert_eq!(
            n("rows_read"),
            n("accepted") + n("rejected") + n("dropped") + n("duplicates") + n("other_period"),
            "SILENT LOSS: source {name}: rows read ≠ accepted + rejected + dropped + duplicates + other period\n{s:#}"
        );
        assert_eq!(s["conserved"], true, "source {name} says it is not conserved");
        let header_row = header_rows.get(name).copied().unwrap_or(1);
        for f in s["files"].as_array().unwrap() {
            let shown = f["path"].as_str().unwrap();
            let path = ws.root.join(shown);
            let is_xlsx = shown.to_ascii_lowercase().ends_with(".xlsx");
            let physical = if is_xlsx { workbook_rows(&path) } else { physical_lines(&std::fs::read(&path).unwrap()) };
            if let Some(reported) = f.get("physical_lines").and_then(Value::as_u64) {
                assert_eq!(reported, physical, "{shown}: manifest physical_lines {reported}, counted {physical}");
            }
            let tables = if is_xlsx { sheets(&path) } else { 1 };
            let get = |k: &str| f.get(k).and_then(Value::as_u64);
            let heading = match (get("title_lines"), get("header_lines")) {
                (Some(t), Some(h)) => t + h,
                _ => header_row * tables,
            };
            let records = match get("accepted") {
                Some(a) => {
                    let sum = a + get("rejected").unwrap_or(0) + get("dropped").unwrap_or(0) + get("duplicates").unwrap_or(0) + get("other_period").unwrap_or(0);
                    assert_eq!(sum, get("rows_read").unwrap_or(sum), "{shown}: per-file categories do not add up to rows_read\n{f:#}");
                    sum
                }
                None => get("rows_read").unwrap(),
            };
            let blank = get("blank_lines").unwrap_or(0);
            let continuation = get("continuation_lines").unwrap_or(0);
            assert_eq!(
                heading + records + blank + continuation,
                physical,
                "SILENT LOSS: {shown}: {physical} physical lines, but the manifest accounts for {heading} title/header + {records} records + {blank} blank + {continuation} continuation lines\n{f:#}"
            );
        }
    }
}

/// A quarantined row: file, line (or sheet row), kind and reason.
#[derive(Debug, Clone)]
pub struct RejectRow {
    pub file: String,
    pub row: i64,
    pub kind: String,
    pub reason: String,
}

pub fn rejects(out: &Path) -> Vec<RejectRow> {
    use arrow::array::{Array, Int64Array};
    let batches = crate::testenv::read_parquet(&out.join("quality/rejects.parquet"));
    let s = |c: &str| crate::testenv::strings(&batches, c);
    let (files, kinds, reasons) = (s("file"), s("kind"), s("reason"));
    let mut rows = Vec::new();
    for b in &batches {
        let a = b.column_by_name("row").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        rows.extend((0..a.len()).map(|i| a.value(i)));
    }
    (0..rows.len())
        .map(|i| RejectRow { file: files[i].clone().unwrap_or_default(), row: rows[i], kind: kinds[i].clone().unwrap_or_default(), reason: reasons[i].clone().unwrap_or_default() })
        .collect()
}

//! Fault injection: damaged exports of every format and encoding, spec mistakes, identity
//! problems, publish and terminal faults, each run against the built binary on a small synthetic
//! workspace (tests/faults/fixture.rs) in its own temp folder.
//!
//! Every case asserts, besides what it lists: the exit code; the message fragments (file name,
//! line, column or key; English or Chinese); that every input file is byte-for-byte unchanged;
//! that a failed run leaves the previous output (when a case makes one first) and its output
//! folder exactly as they were, with no staging folder left; that `check` writes nothing; no panic
//! (exit 101 or "panicked" fails every case); no hang (killed after 20 s); and, for every accepted
//! run, conservation against an independent count of physical lines (below). Cases that give
//! both commands run `run` first and `check` second, so a run that damages its inputs shows as
//! such rather than as a `check` that should have refused.
//!
//! Failure messages name their category — `PANIC:`, `HANG:`, `UNSAFE OUTPUT:` (an input or the
//! previous output changed or went missing), `SILENT LOSS:` (lines not accounted for), `COUNT:`,
//! `QUARANTINE:`, `IMPLAUSIBLE PERIOD`, `EXIT:`, `MESSAGE:` — so `cargo test --test tests faults --
//! --include-ignored 2>&1 | grep -c 'SILENT LOSS:'` and the like count them for a whole run.
//!
//! Cases that fail today because their mechanism is not built yet are `#[ignore = "needs
//! <mechanism>: …"]`; `cargo test --test tests faults -- --ignored` lists what is left to do.
//! `faults_suite_summary` prints the cases by kind and by mechanism.
//!
//! ## Manifest shape the conservation check expects
//!
//! For each source in `sources[]`, as today: `rows_read = accepted + rejected + dropped +
//! duplicates + other_period` and `conserved: true`. For each file in `sources[].files[]`:
//!
//! | field | meaning |
//! |---|---|
//! | `path` | the file as shown (relative to the working folder), as today |
//! | `physical_lines` | lines of the file: every CRLF, lone CR and lone LF ends one, and a last line without a terminator counts; for XLSX, rows from row 1 to the last used row, summed over the sheets read (new) |
//! | `title_lines`, `header_lines` | lines above the header, and lines of the header record (new; when absent the test assumes `header_row` lines per table) |
//! | `rows_read` | records of this file, as today |
//! | `accepted`, `rejected`, `dropped`, `duplicates`, `other_period` | per-file split of `rows_read` (new; optional) |
//! | `blank_lines` | blank lines of this file, as today |
//! | `continuation_lines` | physical lines that continue a record begun on an earlier line (quoted line breaks) (new; 0 when absent) |
//!
//! The test counts the physical lines itself and requires
//! `physical_lines = title_lines + header_lines + rows_read + blank_lines + continuation_lines`,
//! and, when the manifest reports `physical_lines`, that it equals the test's count. A record
//! that cannot be closed, has too few or too many fields, or is cut off at the end of the file
//! is one rejected record on its own line (the parser resumes on the next line).
//!
//! ## Other expectations the cases fix
//!
//! - Left-overs of a killed run are named as today: the staging folder `.out.tmp-<run id>` (the
//!   run id ends in the process id) and the previous output moved aside, `.out.old-<pid>`. A later
//!   run removes the first and, when `out/` is missing, puts the second back.
//! - Output safety: an output folder that is, contains or lies inside an input folder or file, is
//!   the pipeline's folder, or is empty, is refused by `check` and `run` with exit 2; an existing
//!   folder that no duibiao run marked as its output is never replaced (exit 1 or 2).
//! - Publish lock: a run started while another writes the same output either waits or fails,
//!   and its output names the other run by its process id (the run id ends in it).
//! - Dates: dated rows outside the pipeline's date window (default 2000-01 up to a year after
//!   the run) are rejected with a reason, one row each; periods never leave that window.
//! - Identity: duplicate station codes and aliases to unknown codes exit 3 naming the file and
//!   lines; more than 5 % unmatched rows in a source exits 3 naming the top spellings; `fill` is
//!   applied only in periods where the source has matched rows.
//! - Terminal: a closed standard output changes nothing but the printing: same exit code.
//! - Messages: exit 3 names the reasons with an example `file:line` per failing source.
//!
//! ## Cases by kind (`faults_suite_summary` prints the live table, with what is still ignored)
//!
//! | kind | cases | what |
//! |---|---:|---|
//! | csv | 30 | quotes (unclosed, stray, in the header), field counts, truncation, blank lines, NUL bytes, empty and header-only files, a field longer than a read block, the block cutter, title and total lines |
//! | line_endings | 12 | CR-only, CRLF, mixed, CR CR LF, line numbers under each, a GBK export with a title line |
//! | encoding | 21 | BOM variants, UTF-16 LE/BE with and without BOM, GBK/GB18030, invalid UTF-8 and GBK bytes in the header, at the start, middle and end of a line, cut inside a character |
//! | values | 14 | dates in 2200, 1970, year 0, 1899-12-30, serials as text, ISO timestamps with Z / +08:00 / −05:00, overflow after scale, 400-digit numbers, integer overflow |
//! | xlsx | 20 | not a zip, truncated, empty, zip junk, empty and incomplete sheets, serial 43862 and 9.9e9 as numbers and date cells, date cells in 2200, numbers as text |
//! | spec | 23 | duplicate lags, one header for two columns, duplicate export headers, non-aggregate formulas, huge bootstrap, 300-character names, unknown keys, syntax, missing and non-UTF-8 pipeline files |
//! | output_safety | 15 | output folder equal to / inside / containing an input folder or file or the pipeline folder, "", ".", "./", "..", absolute, through a link; unmarked and marked folders |
//! | identity | 11 | duplicate codes, alias to an unknown code, a source matching no station, unmatched shares, fill without matched rows, ambiguous spellings |
//! | publish | 13 | previous output after exit 1/2/3, stale staging and `.old` folders, runs killed early/mid/late, concurrent runs, check during a run |
//! | terminal | 9 | closed stdout for check, check \| head -1, run, run --json, inspect, --help |
//! | messages | 8 | exit-3 reasons with file:line (CSV) and sheet and row (XLSX) per source, failed checks named, I/O errors naming the path |
//! | check | 6 | `check` samples every file, exits 3 when its sample fails, reports the share |
//! | sample | 3 | copies of committed sample files: the stray quote on line 102, output dir = the fee folder, a CR-only fee export |
//!
//! Not covered here: a kill at each publish step (no test hook exists; runs are killed at
//! fractions of a measured run instead, and stale staging / `.old` folders are planted as a killed
//! run leaves them), read-only folders (the tests run as root, which file modes do not stop) and
//! full disks (would need a mounted file system).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::faults::case::Case;
use crate::faults::fixture::{self, XCell, fee_line, gbk, join, lf, utf16be, utf16le, with_aliases, with_feature, with_panel, xlsx};
use crate::faults::harness::{self, Stdout, Workspace, contains_any, exec, exec_with, manifest, tree};

/// What a case body returns: a table-driven `Case` (verified by the harness) or `()` for the
/// few cases that drive processes themselves.
trait Verify {
    fn verify(self);
}

impl Verify for Case {
    fn verify(self) {
        Case::verify(self)
    }
}

impl Verify for () {
    fn verify(self) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Csv,
    LineEndings,
    Encoding,
    Values,
    Xlsx,
    Spec,
    OutputSafety,
    Identity,
    Publish,
    Terminal,
    Messages,
    Check,
    Sample,
}

/// One `#[test]` per case, and the table of all cases: `name: Kind [#[ignore = "needs …"]] => body;`
macro_rules! faults {
    ($( $name:ident : $kind:ident $(#[ignore = $why:literal])? => $body:expr ; )*) => {
        $(
            #[test]
            $(#[ignore = $why])?
            fn $name() {
                Verify::verify($body)
            }
        )*
        const CASES: &[(&str, Kind, Option<&str>)] = &[ $( (stringify!($name), Kind::$kind, faults!(@why $($why)?)) ),* ];
    };
    (@why) => { None };
    (@why $why:literal) => { Some($why) };
}

const MECHANISMS: [&str; 10] = ["output-safety", "publish-lock", "conservation", "line-endings", "plausible-dates", "identity-guardrails", "check-truth", "compile-checks", "terminal", "messages"];

#[test]
fn faults_suite_summary() {
    assert!(CASES.len() >= 100, "{} cases", CASES.len());
    let mut by_kind: BTreeMap<Kind, (usize, usize)> = BTreeMap::new();
    let mut by_mechanism: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, kind, why) in CASES {
        let e = by_kind.entry(*kind).or_default();
        e.0 += 1;
        if let Some(why) = why {
            e.1 += 1;
            let mechanism = why.strip_prefix("needs ").and_then(|w| w.split(':').next()).unwrap_or_else(|| panic!("{name}: ignore reason must read 'needs <mechanism>: …'"));
            assert!(MECHANISMS.contains(&mechanism), "{name}: unknown mechanism {mechanism}");
            *by_mechanism.entry(mechanism).or_default() += 1;
        }
    }
    let ignored: usize = by_mechanism.values().sum();
    println!("{} fault cases: {} enabled, {ignored} waiting for their mechanism", CASES.len(), CASES.len() - ignored);
    println!("{:<14} {:>5} {:>8}", "kind", "cases", "ignored");
    for (kind, (n, i)) in &by_kind {
        println!("{:<14} {n:>5} {i:>8}", format!("{kind:?}"));
    }
    for (m, n) in &by_mechanism {
        println!("needs {m:<20} {n:>3}");
    }
    // Every kind of the issue has cases.
    for kind in [Kind::Csv, Kind::LineEndings, Kind::Encoding, Kind::Values, Kind::Xlsx, Kind::Spec, Kind::OutputSafety, Kind::Identity, Kind::Publish, Kind::Terminal, Kind::Messages, Kind::Check, Kind::Sample] {
        assert!(by_kind.contains_key(&kind), "no {kind:?} cases");
    }
}

// ── helpers for case bodies ─────────────────────────────────────────────────────────────────

/// fee.csv with line `line` (from 1) replaced.
fn fee_with(line: usize, text: &str) -> Case {
    let text = text.to_string();
    Case::new().fee_lines(move |l| l[line - 1] = text)
}

/// orders.csv with line `line` replaced.
fn orders_with(line: usize, text: &str) -> Case {
    let text = text.to_string();
    Case::new().orders_lines(move |l| l[line - 1] = text)
}

/// Line (from 1) of the first line of `pipeline` containing `needle`.
fn line_of(pipeline: &str, needle: &str) -> u64 {
    pipeline.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in the pipeline")) as u64 + 1
}

/// The pipeline with a panel, a feature and `[panel]` / `[analysis]` text appended.
fn panel_pipeline(extra: &str) -> String {
    format!("{}\n{extra}\n", with_feature(&with_panel(&fixture::pipeline())))
}

/// A pid that no process has (above the kernel's largest).
fn dead_pid() -> u64 {
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(4_194_304);
    max + 17
}

/// A panel value: `variable` of `station` in `period`.
fn panel_value(ws: &Workspace, station: &str, period: &str, variable: &str) -> Option<f64> {
    let batches = crate::testenv::read_parquet(&ws.path("out/panel.parquet"));
    let (stations, periods, values) = (crate::testenv::strings(&batches, "station_id"), crate::testenv::strings(&batches, "period"), crate::testenv::floats(&batches, variable));
    let i = (0..stations.len()).find(|&i| stations[i].as_deref() == Some(station) && periods[i].as_deref() == Some(period)).unwrap_or_else(|| panic!("no panel row {station} {period}"));
    values[i]
}

/// fee lines with months written 2020年01月.
fn chinese_months(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                return l;
            }
            let f: Vec<&str> = l.split(',').collect();
            let (y, m) = f[1].split_once('-').unwrap();
            format!("{},{y}年{m}月,{}", f[0], f[2..].join(","))
        })
        .collect()
}

/// Every period of the run lies in 2000–2030.
fn periods_plausible(ws: &Workspace) {
    let m = manifest(&ws.path("out"));
    for p in m["periods_available"].as_array().unwrap() {
        let p = p.as_str().unwrap();
        let year: i64 = p.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect::<String>().trim_end_matches('-').parse().unwrap_or(-1);
        assert!((2000..=2030).contains(&year) && !p.starts_with('-'), "IMPLAUSIBLE PERIOD: {p}");
    }
}

/// The accepted_at value (UTC microseconds) of an order in the curated output.
fn order_time(ws: &Workspace, order: &str) -> (String, i64) {
    use arrow::array::{Array, TimestampMicrosecondArray};
    let root = ws.path("out/curated/orders");
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let batches = crate::testenv::read_parquet(&entry.path());
        let ids = crate::testenv::strings(&batches, "order_id");
        let mut times = Vec::new();
        for b in &batches {
            let a = b.column_by_name("accepted_at").unwrap().as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
            times.extend((0..a.len()).map(|i| a.value(i)));
        }
        if let Some(i) = ids.iter().position(|x| x.as_deref() == Some(order)) {
            return (entry.file_name().to_string_lossy().into_owned(), times[i]);
        }
    }
    panic!("order {order} not curated")
}

/// UTC microseconds of a civil UTC time.
fn utc_micros(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    let days = {
        let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m as i32 - 3) + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    };
    (i64::from(days) * 86_400 + i64::from(h * 3600 + min * 60)) * 1_000_000
}

/// notes.csv: `rows` records of (id, station, month, note), every 500th note quoted with a line
/// break inside; optionally a stray quote in the month of line `stray`. Notes are padded to
/// `width` characters.
fn notes_csv(rows: usize, stray: Option<usize>, width: usize) -> Vec<u8> {
    let mut text = String::from("编号,单位编码,月份,备注\n");
    let mut line = 2;
    for i in 0..rows {
        let month = if stray == Some(line) { "2020-0\"1".to_string() } else { format!("2020-0{}", 1 + i % 6) };
        let note = if i % 500 == 499 {
            line += 1;
            format!("\"第一行{i}\n第二行{}\"", "x".repeat(width))
        } else {
            format!("备注{i}{}", "x".repeat(width))
        };
        text.push_str(&format!("N{i:07},S0{},{month},{note}\n", 1 + i % 4));
        line += 1;
    }
    text.into_bytes()
}

fn with_notes(pipeline: &str) -> String {
    format!(
        r#"{pipeline}
[sources.notes]
path = "../data/notes.csv"
station = "station_code"
period = "month"
max_reject_share = 0.5
columns.note_id = {{ header = "编号" }}
columns.station_code = {{ header = "单位编码" }}
columns.month = {{ header = "月份", type = "month" }}
columns.note = {{ header = "备注" }}
"#
    )
}

/// The base workspace (stations, fee, orders, the base pipeline), after one clean run when
/// `prior`.
fn base_workspace(prior: bool) -> Workspace {
    let mut ws = Workspace::new();
    ws.write("data/stations.csv", &lf(&fixture::stations_lines()));
    ws.write("data/fee.csv", &lf(&fixture::fee_lines()));
    ws.write("data/orders.csv", &lf(&fixture::orders_lines()));
    ws.write("pipelines/p.toml", fixture::pipeline().as_bytes());
    if prior {
        fixture::previous_output(&ws);
    }
    ws
}

/// A workspace whose run takes a while (12 000 rows of notes), after one clean run into out/;
/// with the duration of that run.
fn slow_workspace() -> (Workspace, Duration) {
    let mut ws = base_workspace(false);
    ws.write("data/notes.csv", &notes_csv(SLOW_ROWS, None, 0));
    ws.write("pipelines/p.toml", with_notes(&fixture::pipeline()).as_bytes());
    let first = ws.run(&["run", "pipelines/p.toml", "--quiet"]);
    assert_eq!(first.code, Some(0), "{}", first.describe());
    (ws, first.elapsed)
}

const SLOW_ROWS: usize = 12_000;

/// Kills a run after `fraction` of the time a whole run took; the previous output must be
/// intact (or, if the run had published, be its complete output), and the next run must succeed
/// and leave no staging folder.
fn killed_run(fraction: f64) {
    let (ws, whole) = slow_workspace();
    let delay = whole.mul_f64(fraction);
    let before = tree(&ws.path("out"));
    let first_run = manifest(&ws.path("out"))["run_id"].clone();
    let (mut child, _) = harness::spawn(&ws.root, &["run", "pipelines/p.toml", "--quiet"]);
    std::thread::sleep(delay);
    child.kill().ok();
    child.wait().unwrap();
    ws.assert_inputs_untouched("a killed run");
    assert!(ws.path("out/manifest.json").exists(), "UNSAFE OUTPUT: out/ missing after a run killed at {delay:?}");
    if tree(&ws.path("out")) != before {
        // The run had published before the kill: out/ is then its whole output.
        let m = manifest(&ws.path("out"));
        assert_ne!(m["run_id"], first_run);
        assert_eq!(harness::source(&m, "notes")["accepted"], SLOW_ROWS as u64, "UNSAFE OUTPUT: out/ half-replaced after a run killed at {delay:?}");
    }
    let next = ws.run(&["run", "pipelines/p.toml", "--quiet"]);
    assert_eq!(next.code, Some(0), "{}", next.describe());
    for e in std::fs::read_dir(&ws.root).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(!n.starts_with(".out.tmp-") && !n.starts_with(".out.old-"), "{n} left behind after recovery");
    }
}

/// Two runs into one output: the second starts while the first ingests.
fn concurrent_runs(fraction: f64) {
    let (ws, whole) = slow_workspace();
    let gap = whole.mul_f64(fraction);
    let t0 = Instant::now();
    let (first, first_args) = harness::spawn(&ws.root, &["run", "pipelines/p.toml", "--quiet"]);
    let first_pid = first.id();
    std::thread::sleep(gap);
    let t1 = Instant::now();
    let (second, second_args) = harness::spawn(&ws.root, &["run", "pipelines/p.toml", "--quiet"]);
    let a = std::thread::spawn(move || harness::finish(first, first_args, Stdout::Captured, t0));
    let b = harness::finish(second, second_args, Stdout::Captured, t1);
    let a = a.join().unwrap();
    ws.assert_inputs_untouched("two concurrent runs");
    for o in [&a, &b] {
        assert!(!o.stderr.contains("Directory not empty") && !o.stderr.contains("os error 39"), "publish race\n{}", o.describe());
    }
    assert_eq!(a.code, Some(0), "the first run must finish\n{}", a.describe());
    assert!(b.code == Some(0) || b.code == Some(1) || b.code == Some(2), "{}", b.describe());
    // The second run met the first: it waited or failed, saying which run holds the output.
    assert!(b.text().contains(&first_pid.to_string()), "the second run does not name the first (pid {first_pid})\n{}", b.describe());
    let m = manifest(&ws.path("out"));
    assert!(m["run_id"].as_str().is_some());
    assert!(std::fs::read_dir(&ws.root).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(".out.tmp-")));
}

/// `n` runs into one output started together: none trips over another; each either succeeds
/// or fails naming a run that holds the output; out/ ends up one whole output.
fn concurrent_burst(n: usize) {
    let ws = base_workspace(true);
    let started: Vec<_> = (0..n).map(|_| (Instant::now(), harness::spawn(&ws.root, &["run", "pipelines/p.toml", "--quiet"]))).collect();
    let pids: Vec<String> = started.iter().map(|(_, (c, _))| c.id().to_string()).collect();
    let waiting: Vec<_> = started.into_iter().map(|(t, (child, args))| std::thread::spawn(move || harness::finish(child, args, Stdout::Captured, t))).collect();
    let outcomes: Vec<harness::Outcome> = waiting.into_iter().map(|h| h.join().unwrap()).collect();
    ws.assert_inputs_untouched("concurrent runs");
    assert!(outcomes.iter().any(|o| o.code == Some(0)), "no run succeeded");
    for (i, o) in outcomes.iter().enumerate() {
        assert!(!o.stderr.contains("Directory not empty") && !o.stderr.contains("os error 39"), "publish race\n{}", o.describe());
        if o.code != Some(0) {
            assert!(pids.iter().enumerate().any(|(j, p)| j != i && o.text().contains(p.as_str())), "a failed run does not name the run holding the output\n{}", o.describe());
        }
    }
    let m = manifest(&ws.path("out"));
    assert_eq!(harness::source(&m, "fee")["accepted"], 24);
    assert!(std::fs::read_dir(&ws.root).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(".out.tmp-")), "staging left behind");
}

/// A closed standard output changes nothing but the printing.
fn closed_stdout(args: &[&str], prior: bool, mode: Stdout, exit: i32, break_fee: bool) {
    let mut ws = base_workspace(prior);
    if break_fee {
        let mut lines = fixture::fee_lines();
        for l in lines.iter_mut().skip(1).take(20) {
            *l = "S01,2020-01,--,--".into();
        }
        ws.write("data/fee.csv", &lf(&lines));
    }
    let before = tree(&ws.path("out"));
    let o = exec_with(&ws.root, args, mode);
    assert_eq!(o.code, Some(exit), "{}", o.describe());
    ws.assert_inputs_untouched("a run with stdout closed");
    if args[0] == "run" {
        if exit == 0 {
            let m = manifest(&ws.path("out"));
            assert_eq!(harness::source(&m, "fee")["accepted"], 24);
        } else {
            assert!(tree(&ws.path("out")) == before, "UNSAFE OUTPUT: out/ changed");
        }
    }
}

/// The committed sample's files copied (not linked) into a workspace.
fn copy_sample(ws: &mut Workspace, rel: &str) {
    let bytes = std::fs::read(crate::testenv::sample_data().join(rel)).unwrap();
    ws.write(&format!("sample_data/{rel}"), &bytes);
}

// ── the cases ───────────────────────────────────────────────────────────────────────────────

faults! {
    // ── csv: structure ────────────────────────────────────────────────────────────────────
    csv_clean_baseline: Csv => Case::new().both(&[0])
        .count("fee", "accepted", 24).count("orders", "accepted", 24).count("stations", "accepted", 4);

    csv_unclosed_quote_at_start_of_first_field: Csv #[ignore = "needs conservation: an unclosed quote swallows the rest of the file"] => Case::new()
        .fee_lines(|l| l[9] = format!("\"{}", l[9])).run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 10, "rejected");

    csv_unclosed_quote_in_second_field: Csv #[ignore = "needs conservation: an unclosed quote swallows the rest of the file"] => fee_with(14, "S01,\"2020-04,1130,1030").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 14, "rejected");

    csv_unclosed_quote_on_line_2: Csv #[ignore = "needs conservation: an unclosed quote swallows the rest of the file"] => fee_with(2, "\"S01,2020-01,1010,910").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 2, "rejected");

    csv_unclosed_quote_on_last_line: Csv => fee_with(25, "S04,2020-06,\"1240,1140").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 25, "rejected");

    csv_unclosed_quote_in_header: Csv => Case::new().fee_lines(|l| l[0] = "单位编码,\"月份,应收,实收".into()).both(&[2]).says(&["fee.csv"]);

    csv_stray_quote_inside_unquoted_field: Csv => fee_with(7, "S02,2020-0\"2,1060,960").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 7, "rejected");

    csv_two_stray_quotes_in_one_line: Csv => fee_with(7, "S02,2020-0\"2,10\"60,960").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 7, "rejected");

    csv_block_cutter_stray_quote_then_quoted_line_breaks: Csv #[ignore = "needs conservation: continuation lines of quoted line breaks are not counted; a stray quote flips the block cutter"] => {
        // 13 000 rows of about 740 bytes: the reader cuts the file into blocks (it holds up to
        // twice 4 MiB before the first cut), and the stray quote flips its view of quoting.
        let bytes = notes_csv(13_000, Some(3), 700);
        assert!(bytes.len() > 9 << 20);
        Case::new().file("data/notes.csv", bytes).edit(with_notes).run(&[0])
            .count("notes", "accepted", 12_999).count("notes", "rejected", 1).quarantined("notes.csv", 3, "rejected")
    };

    csv_too_few_fields: Csv #[ignore = "needs conservation: a record with too few fields is accepted with nulls"] => fee_with(7, "S02,2020-02,1060").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 7, "rejected");

    csv_too_many_fields: Csv #[ignore = "needs conservation: a record with too many fields is accepted"] => fee_with(7, "S02,2020-02,1060,960,999").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 7, "rejected");

    csv_single_field_line: Csv #[ignore = "needs conservation: a one-field line is accepted with nulls"] => fee_with(12, "garbage").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 12, "rejected");

    csv_truncated_mid_number_too_few_fields: Csv #[ignore = "needs conservation: a record cut off at the end of the file is accepted with nulls"] => {
        let mut lines = fixture::fee_lines();
        lines[24] = "S04,2020-06,12".into();
        Case::new().fee(join(&lines, "\n", false)).run(&[0])
            .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 25, "rejected")
    };

    csv_truncated_mid_number_all_fields: Csv => {
        let mut lines = fixture::fee_lines();
        lines[24] = "S04,2020-06,1240,11".into();
        Case::new().fee(join(&lines, "\n", false)).run(&[0]).count("fee", "rows_read", 24)
    };

    csv_truncated_inside_quoted_field: Csv #[ignore = "needs conservation: a record cut off inside a quote at the end of the file is accepted with nulls"] => {
        let mut lines = fixture::fee_lines();
        lines[24] = "S04,\"2020-06".into();
        Case::new().fee(join(&lines, "\n", false)).run(&[0])
            .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 25, "rejected")
    };

    csv_no_final_line_break: Csv => Case::new().fee(join(&fixture::fee_lines(), "\n", false)).run(&[0]).count("fee", "accepted", 24);

    csv_blank_whitespace_and_comma_lines: Csv #[ignore = "needs conservation: a whitespace-only line is counted as blank twice"] => Case::new().fee_lines(|l| {
        l.insert(4, String::new());
        l.insert(9, "   ".into());
        l.insert(15, ",,,".into());
    }).run(&[0]).count("fee", "accepted", 24).count("fee", "blank_lines", 3);

    csv_trailing_blank_lines: Csv => Case::new().fee_lines(|l| l.extend(std::iter::repeat_n(String::new(), 5))).run(&[0])
        .count("fee", "accepted", 24).count("fee", "blank_lines", 5);

    csv_header_only: Csv => Case::new().fee(format!("{}\n", fixture::FEE_HEADER)).run(&[0]).count("fee", "rows_read", 0);

    csv_header_only_without_line_break: Csv => Case::new().fee(fixture::FEE_HEADER).run(&[0]).count("fee", "rows_read", 0);

    csv_empty_file: Csv => Case::new().prior().fee("").both(&[2]).says(&["fee.csv"]).says(&["empty", "空"]);

    csv_blank_lines_only: Csv => Case::new().prior().fee("\n\n\n").both(&[2]).says(&["fee.csv"]);

    csv_huge_single_field: Csv => {
        let huge = format!("\"S{}\"", "x,".repeat(4_300_000)); // 8.6 MB: longer than the two read blocks (4 MiB each) held before a cut
        fee_with(7, &format!("{huge},2020-02,1060,960")).run(&[0]).count("fee", "rows_read", 24)
    };

    csv_nul_byte_in_number: Csv => fee_with(7, "S02,2020-02,10\u{0}60,960").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 7, "rejected");

    csv_nul_padding_after_last_line: Csv #[ignore = "needs conservation: a line of NUL bytes is accepted as a record with nulls"] => {
        let mut bytes = lf(&fixture::fee_lines());
        bytes.extend_from_slice(&[0u8; 64]);
        Case::new().fee(bytes).run(&[0]).count("fee", "accepted", 24).count("fee", "rejected", 1).quarantined("fee.csv", 26, "rejected")
    };

    csv_quoted_line_break_in_text: Csv #[ignore = "needs conservation: lines inside quoted fields are not counted (continuation_lines)"] => orders_with(5, "W004,2020-01-27 10:00:00,\"投诉\n（补充说明）\",阿克供电所").run(&[0])
        .count("orders", "accepted", 24);

    csv_semicolon_separated: Csv => Case::new().prior().fee(fixture::fee_lines().join("\n").replace(',', ";")).both(&[2]).says(&["fee.csv"]).says(&["单位编码"]);

    csv_duplicate_row: Csv => Case::new().fee_lines(|l| l.insert(7, l[6].clone())).run(&[0])
        .count("fee", "accepted", 24).count("fee", "duplicates", 1).quarantined("fee.csv", 8, "duplicate");

    csv_total_line_dropped: Csv => Case::new().fee_lines(|l| l.push("合计,,30000,27000".into()))
        .edit(|p| fixture::set_source_key(p, "fee", "drop_rows", "[{ header = \"单位编码\", starts_with = [\"合计\"] }]")).run(&[0])
        .count("fee", "accepted", 24).count("fee", "dropped", 1).quarantined("fee.csv", 26, "dropped");

    csv_title_lines_above_header: Csv => Case::new().fee_lines(|l| {
        l.insert(0, "某供电公司2020年电费回收情况".into());
        l.insert(1, "单位：元".into());
    }).edit(|p| fixture::set_source_key(p, "fee", "header_row", "3")).run(&[0]).count("fee", "accepted", 24);

    // ── line endings ──────────────────────────────────────────────────────────────────────
    le_crlf: LineEndings => Case::new().fee(join(&fixture::fee_lines(), "\r\n", true)).run(&[0]).count("fee", "accepted", 24);

    le_cr_only: LineEndings #[ignore = "needs line-endings: a CR-only file reads as a header with 0 rows"] => Case::new().fee(join(&fixture::fee_lines(), "\r", true)).run(&[0]).count("fee", "accepted", 24);

    le_cr_only_without_final_terminator: LineEndings #[ignore = "needs line-endings: a CR-only file reads as a header with 0 rows"] => Case::new().fee(join(&fixture::fee_lines(), "\r", false)).run(&[0]).count("fee", "accepted", 24);

    le_mixed_lf_and_crlf: LineEndings => {
        let lines = fixture::fee_lines();
        let text: String = lines.iter().enumerate().map(|(i, l)| format!("{l}{}", if i % 2 == 0 { "\r\n" } else { "\n" })).collect();
        Case::new().fee(text).run(&[0]).count("fee", "accepted", 24)
    };

    le_some_cr_only_lines: LineEndings => {
        let lines = fixture::fee_lines();
        let text: String = lines.iter().enumerate().map(|(i, l)| format!("{l}{}", if (3..8).contains(&i) { "\r" } else { "\n" })).collect();
        Case::new().fee(text).run(&[0]).count("fee", "accepted", 24)
    };

    le_cr_only_bad_row_named_by_its_line: LineEndings #[ignore = "needs line-endings: a CR-only file reads as a header with 0 rows"] => {
        let mut lines = fixture::fee_lines();
        lines[11] = "S03,2020-13,1110,1010".into();
        Case::new().fee(join(&lines, "\r", true)).run(&[0]).count("fee", "accepted", 23).quarantined("fee.csv", 12, "rejected")
    };

    le_crlf_bad_row_named_by_its_line: LineEndings => {
        let mut lines = fixture::fee_lines();
        lines[11] = "S03,2020-13,1110,1010".into();
        Case::new().fee(join(&lines, "\r\n", true)).run(&[0]).count("fee", "accepted", 23).quarantined("fee.csv", 12, "rejected")
    };

    le_cr_lines_before_bad_row_keep_numbering: LineEndings #[ignore = "needs line-endings: lone CRs are not counted as line ends in line numbers"] => {
        let mut lines = fixture::fee_lines();
        lines[11] = "S03,2020-13,1110,1010".into();
        let text: String = lines.iter().enumerate().map(|(i, l)| format!("{l}{}", if (2..6).contains(&i) { "\r" } else { "\n" })).collect();
        Case::new().fee(text).run(&[0]).count("fee", "accepted", 23).quarantined("fee.csv", 12, "rejected")
    };

    le_crlf_with_blank_lines: LineEndings => Case::new().fee(join(&{
        let mut l = fixture::fee_lines();
        l.insert(5, String::new());
        l.insert(12, String::new());
        l
    }, "\r\n", true)).run(&[0]).count("fee", "accepted", 24).count("fee", "blank_lines", 2);

    le_cr_cr_lf: LineEndings #[ignore = "needs line-endings: a lone CR before CRLF is a blank line that is not counted"] => Case::new().fee(join(&fixture::fee_lines(), "\r\r\n", true)).run(&[0]).count("fee", "accepted", 24);

    le_gbk_cr_only_with_title_line: LineEndings #[ignore = "needs line-endings: a CR-only file reads as a header with 0 rows"] => {
        let mut lines = fixture::fee_lines();
        lines.insert(0, "某供电公司电费回收情况统计表".into());
        lines[1] = "单位编码,统计月份,应收,实收".into();
        for l in lines.iter_mut().skip(2) {
            *l = l.replacen("2020-0", "2020年0", 1).replacen(",1", "月,1", 1);
        }
        Case::new().fee(gbk(&lines.join("\r"))).edit(|p| {
            let p = fixture::set_source_key(p, "fee", "header_row", "2");
            let p = fixture::set_source_key(&p, "fee", "encoding", "\"gbk\"");
            p.replace("header = \"月份\", type = \"month\"", "header = \"统计月份\", type = \"month\"")
        }).run(&[0]).count("fee", "accepted", 24)
    };

    le_crlf_header_only: LineEndings => Case::new().fee(format!("{}\r\n", fixture::FEE_HEADER)).run(&[0]).count("fee", "rows_read", 0);

    // ── encodings ─────────────────────────────────────────────────────────────────────────
    enc_utf8_bom: Encoding => Case::new().fee([b"\xEF\xBB\xBF".to_vec(), lf(&fixture::fee_lines())].concat()).run(&[0]).count("fee", "accepted", 24);

    enc_utf8_bom_declared_utf8: Encoding => Case::new().fee([b"\xEF\xBB\xBF".to_vec(), lf(&fixture::fee_lines())].concat())
        .edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\"")).run(&[0]).count("fee", "accepted", 24);

    enc_utf8_bom_declared_gbk: Encoding => Case::new().prior().fee([b"\xEF\xBB\xBF".to_vec(), lf(&fixture::fee_lines())].concat())
        .edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"gbk\"")).both(&[2]).says(&["fee.csv"]).says(&["utf-8-bom"]);

    enc_double_bom: Encoding => Case::new().prior().fee([b"\xEF\xBB\xBF\xEF\xBB\xBF".to_vec(), lf(&fixture::fee_lines())].concat()).both(&[0, 2]).says_on_failure(&["fee.csv"]);

    enc_bom_only: Encoding => Case::new().prior().fee(b"\xEF\xBB\xBF".to_vec()).both(&[2]).says(&["fee.csv"]);

    enc_gbk_declared_gbk: Encoding => Case::new().fee(gbk(&(chinese_months(fixture::fee_lines()).join("\n") + "\n"))).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"gbk\"")).run(&[0]).count("fee", "accepted", 24);

    enc_gbk_auto: Encoding => Case::new().fee(gbk(&(fixture::fee_lines().join("\n") + "\n"))).run(&[0]).count("fee", "accepted", 24);

    enc_gbk_declared_utf8: Encoding => Case::new().prior().fee(gbk(&fixture::fee_lines().join("\n"))).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\""))
        .both(&[2]).says(&["encoding = \"gbk\""]).names("fee.csv", 1);

    enc_utf8_declared_gbk: Encoding => Case::new().prior().edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"gbk\"")).both(&[2]).says(&["fee.csv"]).says(&["utf-8"]);

    enc_gb18030_four_byte_characters: Encoding => {
        let mut lines = fixture::stations_lines();
        lines[3] = "S03,托克扎克䶮供电所,疏附县,8000".into();
        let text = lines.join("\n") + "\n";
        let bytes = encoding_rs::GB18030.encode(&text).0.into_owned();
        Case::new().file("data/stations.csv", bytes).edit(|p| fixture::set_source_key(p, "stations", "encoding", "\"gb18030\""))
            .run(&[0]).count("stations", "accepted", 4).then(|ws, _| {
                let names = crate::testenv::strings(&crate::testenv::read_parquet(&ws.path("out/curated/stations")), "station_name");
                assert!(names.iter().any(|n| n.as_deref() == Some("托克扎克䶮供电所")), "{names:?}");
            })
    };

    enc_utf16le_with_bom: Encoding #[ignore = "needs messages: a UTF-16 export is not named as UTF-16"] => Case::new().prior().fee(utf16le(&(fixture::fee_lines().join("\r\n") + "\r\n"), true))
        .both(&[0, 2]).says_on_failure(&["fee.csv"]).says_on_failure(&["UTF-16", "UTF16"]);

    enc_utf16be_with_bom: Encoding #[ignore = "needs messages: a UTF-16 export is not named as UTF-16"] => Case::new().prior().fee(utf16be(&(fixture::fee_lines().join("\n") + "\n"), true))
        .both(&[0, 2]).says_on_failure(&["fee.csv"]).says_on_failure(&["UTF-16", "UTF16"]);

    enc_utf16le_without_bom: Encoding #[ignore = "needs messages: a UTF-16 export is not named as UTF-16"] => Case::new().prior().fee(utf16le(&(fixture::fee_lines().join("\n") + "\n"), false))
        .both(&[0, 2]).says_on_failure(&["fee.csv"]).says_on_failure(&["UTF-16", "UTF16"]);

    enc_invalid_utf8_in_header: Encoding => Case::new().prior().fee([b"\xFF".to_vec(), lf(&fixture::fee_lines())].concat())
        .edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\"")).both(&[2]).names("fee.csv", 1);

    enc_invalid_utf8_at_start_of_line_2: Encoding => {
        let mut bytes = lf(&fixture::fee_lines()[..1]);
        bytes.push(0xFF);
        bytes.extend(lf(&fixture::fee_lines()[1..]));
        Case::new().prior().fee(bytes).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\"")).run(&[1, 3]).names("fee.csv", 2)
    };

    enc_invalid_utf8_mid_line_13: Encoding => {
        let lines = fixture::fee_lines();
        let mut bytes = lf(&lines[..12]);
        bytes.extend_from_slice(b"S04,2020-03,1\xE9,1020\n");
        bytes.extend(lf(&lines[13..]));
        Case::new().prior().fee(bytes).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\"")).run(&[1, 3]).names("fee.csv", 13)
    };

    enc_invalid_utf8_on_last_line: Encoding => {
        let lines = fixture::fee_lines();
        let mut bytes = lf(&lines[..24]);
        bytes.extend_from_slice(b"S04,2020-06,1240,1140\x80\n");
        Case::new().prior().fee(bytes).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\"")).run(&[1, 3]).names("fee.csv", 25)
    };

    enc_utf8_cut_inside_a_character_at_end: Encoding => {
        let lines = fixture::fee_lines();
        let mut bytes = lf(&lines[..24]);
        bytes.extend_from_slice(b"S04,2020-06,1240,1140,\xE4\xBD");
        Case::new().prior().fee(bytes).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\"")).run(&[1, 3]).names("fee.csv", 25)
    };

    enc_invalid_gbk_mid_file: Encoding => {
        let lines = fixture::fee_lines();
        let mut bytes = gbk(&(lines[..12].join("\n") + "\n"));
        bytes.extend_from_slice(b"S04,2020-03,\x81\x20,1020\n");
        bytes.extend(gbk(&(lines[13..].join("\n") + "\n")));
        Case::new().prior().fee(bytes).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"gbk\"")).run(&[1, 3]).names("fee.csv", 13)
    };

    enc_gbk_cut_after_lead_byte_at_end: Encoding => {
        let lines = fixture::fee_lines();
        let mut bytes = gbk(&(lines[..24].join("\n") + "\n"));
        bytes.extend_from_slice(b"S04,2020-06,1240,1140\xB0");
        Case::new().prior().fee(bytes).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"gbk\"")).run(&[1, 3]).names("fee.csv", 25)
    };

    enc_gbk_line_in_utf8_file: Encoding #[ignore = "needs messages: a GBK line inside a UTF-8 file (auto) is not named by its line"] => {
        let lines = chinese_months(fixture::fee_lines());
        let mut bytes = (lines[..12].join("\n") + "\n").into_bytes();
        bytes.extend(gbk(&(lines[12].clone() + "\n")));
        bytes.extend((lines[13..].join("\n") + "\n").into_bytes());
        Case::new().prior().fee(bytes).run(&[1, 2, 3]).names("fee.csv", 13)
    };

    // ── values: dates, periods, timestamps, numbers ───────────────────────────────────────
    val_month_in_2200: Values #[ignore = "needs plausible-dates: a month in 2200 creates a period"] => fee_with(7, "S02,2200-02,1060,960").run(&[0])
        .count("fee", "accepted", 23).quarantined("fee.csv", 7, "rejected").no_period("2200Q1").then(|ws, _| periods_plausible(ws));

    val_timestamp_in_2200: Values #[ignore = "needs plausible-dates: a 受理时间 in 2200 creates a period"] => orders_with(5, "W004,2200-10-01 10:00:00,投诉,阿克供电所").run(&[0])
        .count("orders", "accepted", 23).quarantined("orders.csv", 5, "rejected").no_period("2200Q4").then(|ws, _| periods_plausible(ws));

    val_timestamp_1899_12_30: Values #[ignore = "needs plausible-dates: the Excel epoch creates a period"] => orders_with(5, "W004,1899-12-30 00:00:00,投诉,阿克供电所").run(&[0])
        .count("orders", "accepted", 23).quarantined("orders.csv", 5, "rejected").no_period("1899Q4").then(|ws, _| periods_plausible(ws));

    val_month_1970_01: Values #[ignore = "needs plausible-dates: the Unix epoch creates a period"] => fee_with(7, "S02,1970-01,1060,960").run(&[0])
        .count("fee", "accepted", 23).quarantined("fee.csv", 7, "rejected").no_period("1970Q1");

    val_month_year_0000: Values #[ignore = "needs plausible-dates: year 0 creates a period"] => fee_with(7, "S02,0000-01,1060,960").run(&[0])
        .count("fee", "accepted", 23).quarantined("fee.csv", 7, "rejected").then(|ws, _| periods_plausible(ws));

    val_month_as_serial_text: Values #[ignore = "needs plausible-dates: '43862' in a month column reads as 4386-02"] => fee_with(7, "S02,43862,1060,960").run(&[0])
        .no_period("4386Q1").then(|ws, _| periods_plausible(ws));

    val_timestamp_utc_z: Values #[ignore = "needs plausible-dates: ISO timestamps with Z are rejected"] => orders_with(5, "W004,2020-01-27T02:00:00Z,投诉,阿克供电所").run(&[0])
        .count("orders", "accepted", 24).then(|ws, _| assert_eq!(order_time(ws, "W004").1, utc_micros(2020, 1, 27, 2, 0)));

    val_timestamp_plus_0800: Values #[ignore = "needs plausible-dates: ISO timestamps with +08:00 are rejected"] => orders_with(5, "W004,2020-01-27T10:00:00+08:00,投诉,阿克供电所").run(&[0])
        .count("orders", "accepted", 24).then(|ws, _| assert_eq!(order_time(ws, "W004").1, utc_micros(2020, 1, 27, 2, 0)));

    val_timestamp_minus_0500: Values #[ignore = "needs plausible-dates: ISO timestamps with an offset are rejected"] => orders_with(5, "W004,2020-01-26T21:00:00-05:00,投诉,阿克供电所").run(&[0])
        .count("orders", "accepted", 24).then(|ws, _| assert_eq!(order_time(ws, "W004").1, utc_micros(2020, 1, 27, 2, 0)));

    val_timestamp_z_crosses_into_next_quarter: Values #[ignore = "needs plausible-dates: ISO timestamps with Z are rejected"] => orders_with(5, "W004,2020-03-31T17:00:00Z,投诉,阿克供电所").run(&[0])
        .count("orders", "accepted", 24).then(|ws, _| assert_eq!(order_time(ws, "W004"), ("period=2020Q2".to_string(), utc_micros(2020, 3, 31, 17, 0))));

    val_number_overflows_after_scale: Values #[ignore = "needs plausible-dates: a number that becomes infinite after scale is accepted"] => Case::new()
        .fee_lines(|l| {
            l[0] = "单位编码,月份,应收(万元),实收".into();
            l[6] = "S02,2020-02,1e305,960".into();
        })
        .replace("header = \"应收\", type = \"number\"", "header = \"应收(万元)\", type = \"number\", scale = 10000").run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 7, "rejected");

    val_number_with_400_digits: Values => fee_with(7, &format!("S02,2020-02,{},960", "9".repeat(400))).run(&[0])
        .count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.csv", 7, "rejected");

    val_number_inf_and_nan_text: Values => Case::new().fee_lines(|l| {
        l[6] = "S02,2020-02,inf,960".into();
        l[7] = "S03,2020-02,NaN,960".into();
    }).run(&[0]).count("fee", "accepted", 22).count("fee", "rejected", 2);

    val_integer_overflow_fails_master: Values => Case::new().prior()
        .file("data/stations.csv", lf(&{
            let mut l = fixture::stations_lines();
            l[2] = "S02,巴格供电所,英吉沙县,99999999999999999999".into();
            l
        })).run(&[3]).says(&["stations"]);

    // ── xlsx ──────────────────────────────────────────────────────────────────────────────
    xlsx_clean: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("2020", fixture::fee_sheet())])).pipeline(fixture::xlsx_pipeline()).both(&[0]).count("fee", "accepted", 24);

    xlsx_two_sheets: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("上半年", fixture::fee_sheet()), ("下半年", {
        let mut rows = fixture::fee_sheet();
        for r in rows.iter_mut().skip(1) {
            if let XCell::Number(m) = r[1] {
                r[1] = XCell::Number(m + 6.0);
            }
        }
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 48);

    xlsx_blank_rows_inside: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows.insert(5, vec![XCell::Empty]);
        rows.insert(9, vec![XCell::Empty, XCell::Empty]);
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 24).count("fee", "blank_lines", 2);

    xlsx_header_only: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("2020", fixture::fee_sheet().into_iter().take(1).collect())])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "rows_read", 0);

    xlsx_not_a_zip: Xlsx => Case::new().prior().file("data/fee.xlsx", lf(&fixture::fee_lines())).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["fee.xlsx"]);

    xlsx_truncated: Xlsx => {
        let full = xlsx(&[("2020", fixture::fee_sheet())]);
        Case::new().prior().file("data/fee.xlsx", full[..full.len() / 2].to_vec()).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["fee.xlsx"])
    };

    xlsx_truncated_to_its_last_bytes_missing: Xlsx => {
        let full = xlsx(&[("2020", fixture::fee_sheet())]);
        Case::new().prior().file("data/fee.xlsx", full[..full.len() - 30].to_vec()).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["fee.xlsx"])
    };

    xlsx_zero_bytes: Xlsx => Case::new().prior().file("data/fee.xlsx", Vec::new()).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["fee.xlsx"]);

    xlsx_zip_signature_then_junk: Xlsx => Case::new().prior().file("data/fee.xlsx", [b"PK\x03\x04".to_vec(), vec![0x5A; 2000]].concat()).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["fee.xlsx"]);

    xlsx_empty_sheet: Xlsx => Case::new().prior().file("data/fee.xlsx", xlsx(&[("空表", Vec::new())])).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["fee.xlsx"]);

    xlsx_second_sheet_lacks_a_column: Xlsx => Case::new().prior().file("data/fee.xlsx", xlsx(&[("上半年", fixture::fee_sheet()), ("下半年", fixture::fee_sheet().into_iter().map(|mut r| {
        r.truncate(3);
        r
    }).collect())])).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["实收"]).says(&["fee.xlsx"]);

    xlsx_month_serial_43862: Xlsx #[ignore = "needs plausible-dates: an Excel serial 43862 in a month column becomes 4386Q1"] => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][1] = XCell::Number(43862.0); // 2020-02-01
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 24).no_period("4386Q1").has_period("2020Q1").then(|ws, _| periods_plausible(ws));

    xlsx_month_number_9_9e9: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][1] = XCell::Number(9.9e9);
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.xlsx", 7, "rejected").then(|ws, _| periods_plausible(ws));

    xlsx_month_date_cell_serial_9_9e9: Xlsx #[ignore = "needs plausible-dates: a date cell holding serial 9.9e9 stops the job naming no file or row"] => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][1] = XCell::Serial(9.9e9);
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 23).count("fee", "rejected", 1).quarantined("fee.xlsx", 7, "rejected").then(|ws, _| periods_plausible(ws));

    xlsx_month_date_cell_serial_0: Xlsx #[ignore = "needs plausible-dates: a date cell holding serial 0 (1899-12-30) creates a period"] => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][1] = XCell::Serial(0.0);
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 23).quarantined("fee.xlsx", 7, "rejected").then(|ws, _| periods_plausible(ws));

    xlsx_month_date_cell: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][1] = XCell::Date(2020, 2, 1);
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 24).then(|ws, _| periods_plausible(ws));

    xlsx_month_date_cell_in_2200: Xlsx #[ignore = "needs plausible-dates: a date cell in 2200 creates a period"] => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][1] = XCell::Date(2200, 10, 1);
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 23).quarantined("fee.xlsx", 7, "rejected").no_period("2200Q4");

    xlsx_month_negative_number: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][1] = XCell::Number(-1.0);
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 23).quarantined("fee.xlsx", 7, "rejected");

    xlsx_number_overflows_after_scale: Xlsx #[ignore = "needs plausible-dates: a number that becomes infinite after scale is accepted"] => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[0][2] = XCell::Text("应收(万元)".into());
        rows[6][2] = XCell::Number(1e305);
        rows
    })])).pipeline(fixture::xlsx_pipeline().replace("header = \"应收\", type = \"number\"", "header = \"应收(万元)\", type = \"number\", scale = 10000"))
        .run(&[0]).count("fee", "accepted", 23).quarantined("fee.xlsx", 7, "rejected");

    xlsx_numbers_as_text: Xlsx => Case::new().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[6][2] = XCell::Text("1,060.00".into());
        rows[7][1] = XCell::Text("2020年02月".into());
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[0]).count("fee", "accepted", 24);

    // ── spec mistakes ─────────────────────────────────────────────────────────────────────
    spec_duplicate_lags: Spec #[ignore = "needs compile-checks: lags = [1, 1] passes check"] => {
        let p = panel_pipeline("[panel]\nlags = [0, 1, 1]");
        let line = line_of(&p, "lags =");
        Case::new().prior().pipeline(p).both(&[2]).says(&["lag"]).names("p.toml", line)
    };

    spec_duplicate_lag_zero: Spec #[ignore = "needs compile-checks: lags = [0, 0] passes check"] => {
        let p = panel_pipeline("[panel]\nlags = [0, 0]");
        let line = line_of(&p, "lags =");
        Case::new().prior().pipeline(p).both(&[2]).says(&["lag"]).names("p.toml", line)
    };

    spec_two_columns_one_header: Spec #[ignore = "needs compile-checks: two columns mapped to one header pass check"] => Case::new().prior()
        .replace("columns.paid = { header = \"实收\"", "columns.paid = { header = \"应收\"").both(&[2]).says(&["应收"]).says(&["paid"]).says(&["billed"]);

    spec_two_columns_one_header_through_also: Spec #[ignore = "needs compile-checks: a header shared through `also` passes check"] => Case::new().prior()
        .replace("columns.paid = { header = \"实收\", type = \"number\"", "columns.paid = { header = \"实收\", type = \"number\", also = [{ header = \"应收\" }]").both(&[2]).says(&["应收"]).says(&["paid"]);

    spec_duplicate_header_in_export: Spec #[ignore = "needs compile-checks: an export with two columns of one header takes the first silently"] => Case::new().prior()
        .fee_lines(|l| {
            l[0] = "单位编码,月份,应收,实收,应收".into();
            for r in l.iter_mut().skip(1) {
                r.push_str(",0");
            }
        }).both(&[2]).says(&["fee.csv"]).says(&["应收"]);

    spec_duplicate_header_in_workbook: Spec #[ignore = "needs compile-checks: a sheet with two columns of one header takes the first silently"] => Case::new().prior().file("data/fee.xlsx", xlsx(&[("2020", {
        let mut rows = fixture::fee_sheet();
        rows[0].push(XCell::Text("实收".into()));
        for r in rows.iter_mut().skip(1) {
            r.push(XCell::Number(1.0));
        }
        rows
    })])).pipeline(fixture::xlsx_pipeline()).both(&[2]).says(&["fee.xlsx"]).says(&["实收"]);

    spec_duplicate_header_not_mapped_is_fine: Spec => Case::new().fee_lines(|l| {
        l[0] = "单位编码,月份,应收,实收,备注,备注".into();
        for r in l.iter_mut().skip(1) {
            r.push_str(",a,b");
        }
    }).both(&[0]).count("fee", "accepted", 24);

    spec_non_aggregate_formula: Spec #[ignore = "needs compile-checks: a non-aggregate formula fails after ingest"] => {
        let p = with_panel(&fixture::pipeline()).replace("formula = \"sum(paid) / sum(billed)\"", "formula = \"paid / billed\"");
        let line = line_of(&p, "paid / billed");
        Case::new().prior().pipeline(p).both(&[2]).says(&["paid / billed"]).names("p.toml", line)
    };

    spec_half_aggregate_formula: Spec #[ignore = "needs compile-checks: a formula mixing rows and aggregates fails after ingest"] => {
        let p = with_panel(&fixture::pipeline()).replace("formula = \"sum(paid) / sum(billed)\"", "formula = \"sum(paid) / billed\"");
        Case::new().prior().pipeline(p).both(&[2]).says(&["sum(paid) / billed"])
    };

    spec_bootstrap_replicates_huge: Spec #[ignore = "needs compile-checks: bootstrap_replicates = 1000000000 passes check and hangs"] => {
        let p = panel_pipeline("[analysis]\nbootstrap_replicates = 1000000000");
        let line = line_of(&p, "bootstrap_replicates");
        Case::new().prior().pipeline(p).both(&[2]).says(&["bootstrap_replicates"]).names("p.toml", line)
    };

    spec_source_name_300_characters: Spec #[ignore = "needs compile-checks: a 300-character source name fails mid-run"] => {
        let long = format!("fee_{}", "x".repeat(296));
        Case::new().prior().replace("[sources.fee]", &format!("[sources.{long}]")).both(&[2]).says(&["long", "长", "characters", "字符", "length", "at most", "最多", "300"])
    };

    spec_indicator_over_a_long_source_name: Spec #[ignore = "needs compile-checks: a 300-character source name fails mid-run"] => {
        let long = format!("orders_{}", "y".repeat(293));
        let p = with_panel(&fixture::pipeline()).replace("[sources.orders]", &format!("[sources.{long}]")).replace("source = \"orders\"", &format!("source = \"{long}\""));
        Case::new().prior().pipeline(p).both(&[2]).says(&["long", "长", "characters", "字符", "length", "at most", "最多", "300"])
    };

    spec_unknown_key_in_source: Spec => Case::new().prior().edit(|p| fixture::set_source_key(p, "fee", "encodng", "\"utf-8\"")).both(&[2]).says(&["encoding"]).says(&["encodng"]);

    spec_unknown_key_in_column: Spec => Case::new().prior().replace("header = \"应收\", type", "header = \"应收\", tpye").both(&[2]).says(&["`type`"]);

    spec_unknown_key_in_output: Spec => Case::new().prior().replace("dir = \"../out\"", "dir = \"../out\"\npath = \"../out\"").both(&[2]).says(&["path"]).names("p.toml", 8);

    spec_unknown_key_in_analysis: Spec => Case::new().prior().pipeline(panel_pipeline("[analysis]\nmethod = [\"pearson\"]")).both(&[2]).says(&["methods"]);

    spec_lag_out_of_range: Spec => Case::new().prior().pipeline(panel_pipeline("[panel]\nlags = [0, 9]")).both(&[2]).says(&["lag 9"]);

    spec_negative_bootstrap_replicates: Spec => {
        let p = panel_pipeline("[analysis]\nbootstrap_replicates = -5");
        let line = line_of(&p, "bootstrap_replicates");
        Case::new().prior().pipeline(p).both(&[2]).names("p.toml", line)
    };

    spec_toml_syntax_error: Spec => Case::new().prior().replace("name = \"faults\"", "name = \"faults").both(&[2]).names("p.toml", 2);

    spec_pipeline_file_missing: Spec => Case::new().prior().step(&["check", "pipelines/nope.toml"], &[2]).says(&["nope.toml"]).step(&["run", "pipelines/nope.toml"], &[2]).says(&["nope.toml"]);

    spec_pipeline_not_utf8: Spec => {
        let text = gbk(&fixture::pipeline().replace("name = \"faults\"", "name = \"faults\"\ntitle = \"电费回收\""));
        Case::new().prior().pipeline(String::new()).file("pipelines/q.toml", text)
            .step(&["check", "pipelines/q.toml"], &[2]).says(&["q.toml"]).step(&["run", "pipelines/q.toml"], &[2]).says(&["q.toml"])
    };

    spec_path_matches_no_file: Spec => Case::new().prior().replace("../data/fee.csv", "../data/fee_*.csv").both(&[2]).says(&["fee_*.csv"]);

    spec_max_reject_share_above_one: Spec => Case::new().prior().replace("max_reject_share = 0.5", "max_reject_share = 5.0").both(&[2]).says(&["max_reject_share"]);

    // ── output safety ─────────────────────────────────────────────────────────────────────
    out_dir_is_an_input_folder: OutputSafety #[ignore = "needs output-safety: an output folder equal to an input folder deletes the inputs"] => Case::new().prior()
        .output_dir("\"../data\"").out("data").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_contains_the_inputs: OutputSafety #[ignore = "needs output-safety: an output folder containing the inputs deletes them"] => Case::new().prior()
        .output_dir("\"..\"").out("").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_parent_with_slash: OutputSafety #[ignore = "needs output-safety: an output folder containing the inputs deletes them"] => Case::new().prior()
        .output_dir("\"../\"").out("").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_is_the_pipeline_folder: OutputSafety #[ignore = "needs output-safety: output dir \".\" deletes the pipeline folder"] => Case::new().prior()
        .output_dir("\".\"").out("pipelines").both(&[2]).names("p.toml", 7);

    out_dir_dot_slash: OutputSafety #[ignore = "needs output-safety: output dir \"./\" deletes the pipeline folder"] => Case::new().prior()
        .output_dir("\"./\"").out("pipelines").both(&[2]).names("p.toml", 7);

    out_dir_empty_string: OutputSafety #[ignore = "needs output-safety: output dir \"\" deletes the pipeline folder"] => Case::new().prior()
        .output_dir("\"\"").out("pipelines").both(&[2]).names("p.toml", 7);

    out_dir_inside_an_input_folder: OutputSafety #[ignore = "needs output-safety: an output folder inside an input folder is accepted"] => Case::new().prior()
        .output_dir("\"../data/out\"").out("data/out").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_is_an_input_file: OutputSafety #[ignore = "needs output-safety: an output folder named like an input file replaces that file"] => Case::new().prior()
        .output_dir("\"../data/fee.csv\"").out("data/fee.csv").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_symlink_to_the_inputs: OutputSafety #[ignore = "needs output-safety: an output folder reached through a link to the inputs is accepted"] => Case::new().prior()
        .link("results", "data").output_dir("\"../results\"").out("results").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_absolute_workspace_root: OutputSafety #[ignore = "needs output-safety: an absolute output folder containing the inputs deletes them"] => Case::new().prior()
        .output_dir("\"{ROOT}\"").out("").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_is_the_station_master_folder_with_glob_inputs: OutputSafety #[ignore = "needs output-safety: an output folder equal to an input folder deletes the inputs"] => Case::new().prior()
        .replace("../data/fee.csv", "../data/*fee.csv").output_dir("\"../data\"").out("data").both(&[2]).names("p.toml", 7).says(&["input", "输入"]);

    out_dir_existing_unmarked_folder: OutputSafety #[ignore = "needs output-safety: a folder that is not a duibiao output is replaced"] => Case::new().prior()
        .file("results/我的笔记.txt", "不要删除").output_dir("\"../results\"").out("results").run(&[1, 2]).says(&["results"]);

    out_dir_existing_unmarked_folder_check: OutputSafety #[ignore = "needs output-safety: check does not warn about a folder that is not a duibiao output"] => Case::new()
        .file("results/我的笔记.txt", "不要删除").output_dir("\"../results\"").out("results").check(&[0, 1, 2]).says(&["results"]);

    out_dir_marked_output_is_replaced: OutputSafety => Case::new().prior().run(&[0]).count("fee", "accepted", 24);

    out_dir_new_sibling_folder: OutputSafety => Case::new().output_dir("\"../results\"").out("results").both(&[0]).count("fee", "accepted", 24);

    // ── identity ──────────────────────────────────────────────────────────────────────────
    id_clean_panel: Identity => Case::new().pipeline(panel_pipeline("")).run(&[0]).then(|ws, _| {
        assert_eq!(panel_value(ws, "S01", "2020Q1", "fee_recovery"), Some((910.0 + 950.0 + 990.0) / (1010.0 + 1050.0 + 1090.0)));
    });

    id_duplicate_station_code: Identity #[ignore = "needs identity-guardrails: duplicate codes in the master are accepted"] => Case::new().prior()
        .file("data/stations.csv", lf(&{
            let mut l = fixture::stations_lines();
            l[3] = "S01,托克扎克供电所,疏附县,8000".into();
            l
        })).pipeline(with_panel(&fixture::pipeline())).run(&[3]).says(&["S01"]).names("stations.csv", 2).names("stations.csv", 4);

    id_duplicate_station_code_after_trimming: Identity #[ignore = "needs identity-guardrails: duplicate codes in the master are accepted"] => Case::new().prior()
        .file("data/stations.csv", lf(&{
            let mut l = fixture::stations_lines();
            l[4] = " S02 ,色满供电所,喀什市,12000".into();
            l
        })).pipeline(with_panel(&fixture::pipeline())).run(&[3]).says(&["S02"]).names("stations.csv", 3).names("stations.csv", 5);

    id_alias_to_unknown_code: Identity #[ignore = "needs identity-guardrails: an alias to an unknown code is ignored without a word"] => Case::new().prior()
        .file("data/aliases.csv", "名称写法,供电所编码\n阿克所,S01\n巴格所,S09\n").pipeline(with_aliases(&with_panel(&fixture::pipeline())))
        .run(&[3]).says(&["S09"]).names("aliases.csv", 3);

    id_alias_resolves_a_spelling: Identity => Case::new()
        .file("data/aliases.csv", "名称写法,供电所编码\n阿克所,S01\n")
        .orders_lines(|l| l[1] = l[1].replace("阿克供电所", "阿克所")).pipeline(with_aliases(&with_panel(&fixture::pipeline())))
        .run(&[0]).then(|ws, _| {
            let m = manifest(&ws.path("out"));
            assert_eq!(m["panel"]["unmatched_spellings"], 0, "{m:#}");
        });

    id_source_matches_no_station: Identity #[ignore = "needs identity-guardrails: a source whose spellings match no station runs with fill values"] => Case::new().prior()
        .file("data/stations.csv", lf(&{
            let mut l = fixture::stations_lines();
            for r in l.iter_mut().skip(1) {
                *r = r.replace("英吉沙县", "国网英吉沙县供电公司").replace("疏附县", "国网疏附县供电公司").replace("喀什市", "国网喀什市供电公司");
            }
            l
        }))
        .orders_lines(|l| {
            for r in l.iter_mut().skip(1) {
                *r = r.replace(",阿克供电所", ",英吉沙县阿克中心站").replace(",巴格供电所", ",英吉沙县巴格中心站").replace(",托克扎克供电所", ",疏附县托克扎克中心站").replace(",色满供电所", ",喀什市色满中心站");
            }
        })
        .pipeline(with_panel(&fixture::pipeline())).run(&[3]).says(&["orders"]).says(&["英吉沙县阿克中心站", "疏附县托克扎克中心站", "英吉沙县巴格中心站", "喀什市色满中心站"]);

    id_unmatched_share_over_five_percent: Identity #[ignore = "needs identity-guardrails: 12.5 % unmatched rows pass"] => Case::new().prior()
        .orders_lines(|l| {
            for i in [2, 9, 16] {
                l[i] = l[i].rsplit_once(',').map(|(a, _)| format!("{a},不存在供电所")).unwrap();
            }
        }).pipeline(with_panel(&fixture::pipeline())).run(&[3]).says(&["不存在供电所"]).says(&["orders"]);

    id_unmatched_share_under_five_percent_passes: Identity => Case::new()
        .orders_lines(|l| l[2] = l[2].rsplit_once(',').map(|(a, _)| format!("{a},不存在供电所")).unwrap())
        .pipeline(with_panel(&fixture::pipeline())).run(&[0]).then(|ws, _| {
            let m = manifest(&ws.path("out"));
            assert_eq!(m["panel"]["unmatched_spellings"], 1);
        });

    id_fill_only_where_the_source_has_matched_rows: Identity #[ignore = "needs identity-guardrails: fill applies in a period whose rows all failed to match"] => Case::new()
        .orders_lines(|l| {
            // One Q1 order, unmatched; 30 Q2 orders, matched (3 % unmatched overall).
            l.truncate(1);
            l.push("W900,2020-02-10 10:00:00,投诉,不存在供电所".into());
            for i in 0..30 {
                l.push(format!("W{:03},2020-0{}-{:02} 10:00:00,{},{}", i + 1, 4 + i % 3, 1 + i, fixture::ORDER_TYPES[i % 3], fixture::STATIONS[i % 4].1));
            }
        })
        .pipeline(with_panel(&fixture::pipeline())).run(&[0]).then(|ws, _| {
            for s in ["S01", "S02", "S03", "S04"] {
                assert_eq!(panel_value(ws, s, "2020Q1", "complaints"), None, "{s} 2020Q1: filled although orders has no matched row in 2020Q1");
                assert!(panel_value(ws, s, "2020Q2", "complaints").is_some(), "{s} 2020Q2");
            }
        });

    id_fill_where_other_stations_matched: Identity => Case::new()
        .orders_lines(|l| l.retain(|r| !(r.ends_with("色满供电所") && r.contains("2020-0") && (r.contains("-04-") || r.contains("-05-") || r.contains("-06-")))))
        .pipeline(with_panel(&fixture::pipeline())).run(&[0]).then(|ws, _| {
            assert_eq!(panel_value(ws, "S04", "2020Q2", "complaints"), Some(0.0));
        });

    id_ambiguous_spelling_stops_the_run: Identity => Case::new().prior()
        .file("data/stations.csv", lf(&{
            let mut l = fixture::stations_lines();
            l.push("S05,阿克镇供电所,疏附县,3000".into());
            l
        }))
        .orders_lines(|l| l[1] = l[1].replace("阿克供电所", "阿克乡供电所")).pipeline(with_panel(&fixture::pipeline())).run(&[3]).says(&["阿克乡供电所"]);

    // ── publish ───────────────────────────────────────────────────────────────────────────
    pub_data_failure_keeps_previous_output: Publish => Case::new().prior()
        .fee_lines(|l| l.iter_mut().skip(1).take(20).for_each(|r| *r = r.replacen(",1", ",--", 1))).run(&[3])
        .after(|ws, _| {
            let failed: Vec<_> = std::fs::read_dir(&ws.root).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with("out.failed-")).collect();
            assert_eq!(failed.len(), 1);
            assert!(failed[0].path().join("quality/rejects.parquet").exists());
        });

    pub_spec_error_keeps_previous_output: Publish => Case::new().prior().replace("type = \"month\"", "type = \"monthly\"").both(&[2]).says(&["monthly"]);

    pub_decode_error_keeps_previous_output: Publish => {
        let lines = fixture::fee_lines();
        let mut bytes = lf(&lines[..20]);
        bytes.extend_from_slice(b"S04,2020-05,\xFF\n");
        bytes.extend(lf(&lines[21..]));
        Case::new().prior().fee(bytes).edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\"")).run(&[1, 3]).names("fee.csv", 21)
    };

    pub_stale_staging_folder_is_cleaned: Publish => Case::new().prior()
        .stray(&format!(".out.tmp-20200101T000000Z-{}/curated/junk.parquet", dead_pid()), "half-written")
        .run(&[0]).after(|ws, _| {
            for e in std::fs::read_dir(&ws.root).unwrap().flatten() {
                assert!(!e.file_name().to_string_lossy().starts_with(".out.tmp-"), "stale staging left");
            }
        });

    pub_killed_between_renames_is_recovered: Publish => {
        let ws = base_workspace(true);
        // A run killed between its two renames (old output aside, new not yet in place).
        std::fs::rename(ws.path("out"), ws.path(&format!(".out.old-{}", dead_pid()))).unwrap();
        let o = ws.run(&["run", "pipelines/p.toml", "--quiet"]);
        assert_eq!(o.code, Some(0), "{}", o.describe());
        assert_eq!(harness::source(&manifest(&ws.path("out")), "fee")["accepted"], 24);
        assert!(std::fs::read_dir(&ws.root).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(".out.old-")), "the aside folder was left behind");
    };

    pub_killed_between_renames_then_failed_run_restores: Publish => {
        let mut ws = base_workspace(true);
        let before = tree(&ws.path("out"));
        std::fs::rename(ws.path("out"), ws.path(&format!(".out.old-{}", dead_pid()))).unwrap();
        let mut lines = fixture::fee_lines();
        lines.iter_mut().skip(1).take(20).for_each(|r| *r = r.replacen(",1", ",--", 1));
        ws.write("data/fee.csv", &lf(&lines));
        let o = ws.run(&["run", "pipelines/p.toml", "--quiet"]);
        assert_eq!(o.code, Some(3), "{}", o.describe());
        assert!(tree(&ws.path("out")) == before, "UNSAFE OUTPUT: the previous output was not restored");
    };

    pub_run_killed_early: Publish => killed_run(0.05);

    pub_run_killed_during_ingest: Publish => killed_run(0.4);

    pub_run_killed_late: Publish => killed_run(0.9);

    pub_concurrent_run_waits_or_names_the_other: Publish #[ignore = "needs publish-lock: two runs into one folder race; the second does not name the first"] => concurrent_runs(0.2);

    pub_four_runs_at_once: Publish #[ignore = "needs publish-lock: runs started together race at publish (\"cannot move the previous out aside\", \"Directory not empty\")"] => concurrent_burst(4);

    pub_concurrent_run_started_later: Publish #[ignore = "needs publish-lock: two runs into one folder race; the second does not name the first"] => concurrent_runs(0.5);

    pub_check_during_a_run_passes: Publish => {
        let (ws, whole) = slow_workspace();
        let t0 = Instant::now();
        let (run, args) = harness::spawn(&ws.root, &["run", "pipelines/p.toml", "--quiet"]);
        std::thread::sleep(whole.mul_f64(0.2));
        let check = exec(&ws.root, &["check", "pipelines/p.toml"]);
        let run = harness::finish(run, args, Stdout::Captured, t0);
        assert_eq!(check.code, Some(0), "{}", check.describe());
        assert_eq!(run.code, Some(0), "{}", run.describe());
        ws.assert_inputs_untouched("check during a run");
    };

    // ── terminal ──────────────────────────────────────────────────────────────────────────
    term_check_with_stdout_closed: Terminal #[ignore = "needs terminal: check panics when stdout is closed"] => closed_stdout(&["check", "pipelines/p.toml"], false, Stdout::Closed, 0, false);

    term_check_piped_to_head_1: Terminal #[ignore = "needs terminal: check | head -1 panics"] => closed_stdout(&["check", "pipelines/p.toml"], false, Stdout::OneLine, 0, false);

    term_check_spec_error_with_stdout_closed: Terminal => {
        let mut ws = Workspace::new();
        ws.write("pipelines/p.toml", b"[pipeline]\nname = 1\n");
        let o = exec_with(&ws.root, &["check", "pipelines/p.toml"], Stdout::Closed);
        assert_eq!(o.code, Some(2), "{}", o.describe());
    };

    term_run_with_stdout_closed: Terminal #[ignore = "needs terminal: run | true panics after replacing out/"] => closed_stdout(&["run", "pipelines/p.toml", "--quiet"], true, Stdout::Closed, 0, false);

    term_run_with_progress_and_stdout_closed: Terminal #[ignore = "needs terminal: run | true panics after replacing out/"] => closed_stdout(&["run", "pipelines/p.toml"], false, Stdout::Closed, 0, false);

    term_run_json_with_stdout_closed: Terminal #[ignore = "needs terminal: run --json | true panics"] => closed_stdout(&["run", "pipelines/p.toml", "--json"], false, Stdout::Closed, 0, false);

    term_run_data_failure_with_stdout_closed: Terminal => closed_stdout(&["run", "pipelines/p.toml", "--quiet"], true, Stdout::Closed, 3, true);

    term_inspect_with_stdout_closed: Terminal #[ignore = "needs terminal: inspect panics when stdout is closed"] => {
        let ws = base_workspace(true);
        let o = exec_with(&ws.root, &["inspect", "out/quality/rejects.parquet"], Stdout::Closed);
        assert_eq!(o.code, Some(0), "{}", o.describe());
    };

    term_help_with_stdout_closed: Terminal => {
        let ws = Workspace::new();
        let o = exec_with(&ws.root, &["--help"], Stdout::Closed);
        assert_eq!(o.code, Some(0), "{}", o.describe());
    };

    // ── messages ──────────────────────────────────────────────────────────────────────────
    msg_exit3_names_reasons_with_file_and_line: Messages #[ignore = "needs messages: exit 3 prints only the reject share"] => Case::new().prior()
        .fee_lines(|l| l.iter_mut().skip(1).take(20).for_each(|r| *r = r.replacen(",1", ",--", 1))).run(&[3])
        .says(&["fee"]).says(&["'--'", "is not a number", "不是有效的数字"]).names_one_of("fee.csv", &(2..=21).collect::<Vec<_>>());

    msg_exit3_names_each_failing_source: Messages #[ignore = "needs messages: exit 3 prints only the reject share"] => Case::new().prior()
        .fee_lines(|l| l.iter_mut().skip(1).take(20).for_each(|r| *r = r.replacen(",1", ",--", 1)))
        .orders_lines(|l| l.iter_mut().skip(1).take(20).for_each(|r| *r = r.replacen(" 10:00:00", " 25:61:00", 1))).run(&[3])
        .says(&["is not a number", "不是有效的数字"]).says(&["timestamp", "时间"])
        .names_one_of("fee.csv", &(2..=21).collect::<Vec<_>>()).names_one_of("orders.csv", &(2..=21).collect::<Vec<_>>());

    msg_exit3_names_the_failed_check: Messages #[ignore = "needs messages: exit 3 prints only the reject share"] => Case::new().prior()
        .edit(|p| fixture::set_source_key(p, "fee", "checks", "[{ rule = \"paid > billed\", message = \"实收必须大于应收\" }]")).run(&[3])
        .says(&["实收必须大于应收"]).names_one_of("fee.csv", &(2..=25).collect::<Vec<_>>());

    msg_exit3_names_an_xlsx_row: Messages #[ignore = "needs messages: exit 3 prints only the reject share"] => Case::new().prior().file("data/fee.xlsx", xlsx(&[("上半年", {
        let mut rows = fixture::fee_sheet();
        for r in rows.iter_mut().skip(1).take(20) {
            r[2] = XCell::Text("--".into());
        }
        rows
    })])).pipeline(fixture::xlsx_pipeline()).run(&[3]).says(&["上半年"]).names_one_of("fee.xlsx", &(2..=21).collect::<Vec<_>>());

    msg_input_path_is_a_folder: Messages => Case::new().prior().remove("data/fee.csv").file("data/fee.csv/readme.txt", "a folder named like the export").both(&[2]).says(&["fee.csv"]);

    msg_output_parent_is_a_file: Messages => Case::new().prior().file("notes.txt", "a file, not a folder").output_dir("\"../notes.txt/out\"").out("notes.txt/out")
        .run(&[1, 2]).says(&["notes.txt"]);

    msg_master_over_its_reject_share: Messages => Case::new().prior()
        .file("data/stations.csv", lf(&{
            let mut l = fixture::stations_lines();
            l[1] = "S01,阿克供电所,英吉沙县,很多".into();
            l
        })).run(&[3]).says(&["stations"]);

    msg_misspelt_header_gets_a_suggestion: Messages => Case::new().prior().fee_lines(|l| l[0] = "单位编码,月份,应 收,实收".into()).both(&[2]).says(&["应 收"]).says(&["fee.csv"]);

    // ── check tells the truth ─────────────────────────────────────────────────────────────
    chk_clean: Check => Case::new().check(&[0]).says(&["fee"]);

    chk_samples_every_file: Check #[ignore = "needs check-truth: check reads only the first file of each source"] => Case::new().prior()
        .remove("data/fee.csv")
        .file("data/fee_1.csv", lf(&fixture::fee_lines()))
        .file("data/fee_2.csv", lf(&fixture::fee_lines().into_iter().map(|l| l.replace("2020-", "2019-")).collect::<Vec<_>>()))
        .file("data/fee_3.csv", lf(&{
            let mut l: Vec<String> = fixture::fee_lines().into_iter().map(|l| l.replace("2020-", "2021-")).collect();
            l.iter_mut().skip(1).for_each(|r| *r = r.replacen(",1", ",--", 1));
            l
        }))
        .replace("../data/fee.csv", "../data/fee_*.csv").replace("max_reject_share = 0.5\ncolumns.station_code = { header = \"单位编码\" }", "columns.station_code = { header = \"单位编码\" }")
        .check(&[3]).says(&["fee_3.csv"]).run(&[3]);

    chk_exits_3_when_the_sample_fails: Check #[ignore = "needs check-truth: check passes while its sample shows 100 % of rows rejected"] => Case::new().prior()
        .edit(|p| fixture::set_source_key(p, "fee", "checks", "[{ rule = \"paid > billed\", message = \"实收必须大于应收\" }]")).check(&[3]).says(&["实收必须大于应收"]).run(&[3]);

    chk_reports_the_reject_share: Check #[ignore = "needs check-truth: check does not report the reject share"] => Case::new()
        .fee_lines(|l| l.iter_mut().skip(1).take(3).for_each(|r| *r = r.replacen(",1", ",--", 1))).check(&[0]).says(&["12.5"]).says(&["is not a number", "不是有效的数字"]);

    chk_finds_an_undecodable_line_in_a_later_file: Check #[ignore = "needs check-truth: check reads only the first file of each source"] => Case::new().prior()
        .remove("data/fee.csv")
        .file("data/fee_1.csv", lf(&fixture::fee_lines()))
        .file("data/fee_2.csv", {
            let lines: Vec<String> = fixture::fee_lines().into_iter().map(|l| l.replace("2020-", "2019-")).collect();
            let mut bytes = lf(&lines[..4]);
            bytes.extend_from_slice(b"S04,2019-01,\xFF\n");
            bytes.extend(lf(&lines[5..]));
            bytes
        })
        .replace("../data/fee.csv", "../data/fee_*.csv").edit(|p| fixture::set_source_key(p, "fee", "encoding", "\"utf-8\""))
        .both(&[1, 2, 3]).names("fee_2.csv", 5);

    chk_header_typo_in_a_later_file: Check => Case::new().prior()
        .remove("data/fee.csv")
        .file("data/fee_1.csv", lf(&fixture::fee_lines()))
        .file("data/fee_2.csv", lf(&{
            let mut l: Vec<String> = fixture::fee_lines().into_iter().map(|l| l.replace("2020-", "2019-")).collect();
            l[0] = "单位编码,月份,应收金额,实收".into();
            l
        }))
        .replace("../data/fee.csv", "../data/fee_*.csv").both(&[2]).says(&["fee_2.csv"]).says(&["应收"]);

    // ── the committed sample (copies of a few files) ──────────────────────────────────────
    sample_stray_quote_on_line_102: Sample #[ignore = "needs conservation: an unclosed quote on line 102 swallows the rest of the 95598 export"] => {
        let rel = "work_orders/95598工单_2020Q4.csv";
        let original = std::fs::read_to_string(crate::testenv::sample_data().join(rel)).unwrap();
        let mut lines: Vec<String> = original.split('\n').map(str::to_string).collect();
        // Line 102: a quote opens the 工单类型 field and is never closed.
        let fields: Vec<&str> = lines[101].split(',').collect();
        lines[101] = format!("{},{},\"{}", fields[0], fields[1], fields[2..].join(","));
        let records = original.lines().skip(1).filter(|l| !l.trim().is_empty()).count() as u64;
        Case::new().file("sample_data/work_orders/95598工单_2020Q4.csv", lines.join("\n"))
            .pipeline(fixture::pipeline().replace("[sources.orders]\npath = \"../data/orders.csv\"", "[sources.orders]\npath = \"../sample_data/work_orders/95598工单_2020Q4.csv\"\nencoding = \"utf-8\""))
            .run(&[0]).count("orders", "rows_read", records).count("orders", "rejected", 1).quarantined("95598工单_2020Q4.csv", 102, "rejected")
    };

    sample_output_dir_is_the_fee_folder: Sample #[ignore = "needs output-safety: an output folder equal to an input folder deletes the exports"] => {
        let mut ws = Workspace::new();
        for q in ["2020Q3", "2020Q4"] {
            copy_sample(&mut ws, &format!("fee/营销_电费回收_{q}.csv"));
        }
        copy_sample(&mut ws, "master/供电所台账.csv");
        let kashgar = std::fs::read_to_string(crate::testenv::repo().join("pipelines/kashgar_quarterly.toml")).unwrap();
        let fee_start = kashgar.find("[sources.fee]").unwrap();
        let fee_end = fee_start + kashgar[fee_start..].find("\n# ──").unwrap();
        let pipeline = format!(
            "[pipeline]\nname = \"fee_only\"\nperiod = \"quarter\"\nstations = \"stations\"\n\n[output]\ndir = \"../sample_data/fee\"\n\n[sources.stations]\npath = \"../sample_data/master/供电所台账.csv\"\nencoding = \"utf-8-bom\"\ncolumns.station_code = {{ header = \"供电所编码\" }}\ncolumns.station_name = {{ header = \"供电所名称\" }}\n\n{}\n",
            &kashgar[fee_start..fee_end]
        );
        ws.write("pipelines/p.toml", pipeline.as_bytes());
        for args in [&["run", "pipelines/p.toml", "--quiet"][..], &["check", "pipelines/p.toml"]] {
            let o = ws.run(args);
            let command = args[0];
            ws.assert_inputs_untouched(command);
            assert_eq!(o.code, Some(2), "{}", o.describe());
            assert!(contains_any(&o.text(), &["input", "输入"]), "{}", o.describe());
        }
    };

    sample_fee_export_with_cr_only_endings: Sample #[ignore = "needs line-endings: a CR-only export reads as a header with 0 rows"] => {
        let rel = "fee/营销_电费回收_2020Q4.csv";
        let original = std::fs::read(crate::testenv::sample_data().join(rel)).unwrap();
        let (text, _, _) = encoding_rs::GBK.decode(&original);
        // Records: lines after the title and header that hold something.
        let records = text.lines().skip(2).filter(|l| !l.trim().trim_matches(',').is_empty()).count() as u64;
        let cr_only: Vec<u8> = {
            let mut out = Vec::with_capacity(original.len());
            let mut i = 0;
            while i < original.len() {
                if original[i] == b'\r' && original.get(i + 1) == Some(&b'\n') {
                    out.push(b'\r');
                    i += 2;
                } else if original[i] == b'\n' {
                    out.push(b'\r');
                    i += 1;
                } else {
                    out.push(original[i]);
                    i += 1;
                }
            }
            out
        };
        let kashgar = std::fs::read_to_string(crate::testenv::repo().join("pipelines/kashgar_quarterly.toml")).unwrap();
        let fee_start = kashgar.find("[sources.fee]").unwrap();
        let fee_end = fee_start + kashgar[fee_start..].find("\n# ──").unwrap();
        let fee = kashgar[fee_start..fee_end].replace("../sample_data/fee/营销_电费回收_*.csv", "../data/fee_cr.csv").replace("[sources.fee]", "[sources.fee]\nmax_reject_share = 0.5");
        Case::new().file("data/fee_cr.csv", cr_only).pipeline(format!("{}\n{fee}\n", fixture::pipeline().split("[sources.fee]").next().unwrap()))
            .run(&[0]).count("fee", "rows_read", records)
    };
}

/// The physical line counter itself, on the endings the cases use.
#[test]
fn faults_physical_line_counter() {
    use harness::physical_lines;
    assert_eq!(physical_lines(b""), 0);
    assert_eq!(physical_lines(b"a"), 1);
    assert_eq!(physical_lines(b"a\n"), 1);
    assert_eq!(physical_lines(b"a\nb"), 2);
    assert_eq!(physical_lines(b"a\r\nb\r\n"), 2);
    assert_eq!(physical_lines(b"a\rb\rc"), 3);
    assert_eq!(physical_lines(b"a\r\r\nb"), 3);
    assert_eq!(physical_lines(b"\n\n\n"), 3);
    assert_eq!(physical_lines(b"\xEF\xBB\xBFa\n"), 1);
    assert_eq!(physical_lines(&utf16le("a\r\nb\n", true)), 2);
    assert_eq!(physical_lines(&utf16le("1,2\n3,4\n5,6\n7,8\n", false)), 4);
    assert_eq!(physical_lines("单位编码\n".as_bytes()), 1);
    assert!(harness::names_line("错误 error: data/fee.csv:12: bad", "fee.csv", 12));
    assert!(harness::names_line("fee.csv is not valid UTF-8 at line 12 (byte 3)", "fee.csv", 12));
    assert!(!harness::names_line("fee.csv is not valid UTF-8 at line 123", "fee.csv", 12));
    assert!(harness::names_line("data/fee.csv 第 12 行", "fee.csv", 12));
    assert!(harness::names_line("stations.csv:2 and stations.csv:4 repeat code S01", "stations.csv", 4));
    assert!(harness::names_line("stations.csv lines 2 and 4 both hold S01", "stations.csv", 4));
    assert!(harness::names_line("fee.csv:7:3: bad", "fee.csv", 7));
    assert!(!harness::names_line("fee.csv: 13 rows rejected", "fee.csv", 13));
    assert!(!harness::names_line("fee.csv line 2: '2020-13' is not a month", "fee.csv", 13));
    assert!(!harness::names_line("fee.csv line 2: S13", "fee.csv", 13));
    assert!(!harness::names_line("pipelines/p.toml 有 2 处错误 · 2 errors in the pipeline file:", "p.toml", 2));
    assert_eq!(fee_line(3, 1), 10);
    assert_eq!(fixture::fee_lines()[fee_line(3, 1) - 1], "S01,2020-03,1090,990");
}

//! Test hooks of the publish steps: environment variables that make a run stop or wait at a named
//! step, so the tests can show that a run killed or overtaken at any step leaves the output
//! folder whole. Always compiled in, inert unless one of the variables is set; not for users.
//!
//! - `DUIBIAO_TEST_KILL_AT=<step>`: the process aborts (as if killed) when it reaches `<step>`.
//! - `DUIBIAO_TEST_PAUSE_AT=<step>:<file>`: at `<step>` the run creates `<file>.reached` and waits
//!   until `<file>` exists (at most ten minutes), e.g. to start a second run while the first holds
//!   the output lock.
//! - `DUIBIAO_TEST_NO_EXCHANGE=1`: publish uses the two-rename fallback instead of the atomic
//!   exchange, as on a file system without `renameat2(RENAME_EXCHANGE)`.
//!
//! - `DUIBIAO_TEST_MAX_HELD_ROWS=<n>`: ingest holds at most `n` possible duplicates back before
//!   it writes them and falls back to rewriting (`ingest::hold`), so a small input takes that path.
//! - `DUIBIAO_TEST_FAIL_MEASURE=<name>`: the embedded panel's query of measure `<name>` reads a
//!   column no source has, so it fails when run, as a failure inside the engine would (the pipeline
//!   checks leave no formula that fails so). A query shared by several measures then reruns each
//!   alone to name the one that failed (`panel::measures`).
//! - `DUIBIAO_TEST_FINGERPRINTS=inline|side-by-side`: ingest takes the inputs' sha256 as it reads
//!   each file, or in a pass that hashes the files side by side ahead of the reader
//!   (`ingest::ahead`; only where the CPU has AVX2), whatever the CPU and the number of files.
//!
//! The steps, in the order a run reaches them, are `STEPS`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The lock on the output folder is held and interrupted runs are recovered; nothing is staged.
pub(crate) const LOCKED: &str = "locked";
/// Ingest has written the curated partitions into the staging folder.
pub(crate) const INGESTED: &str = "ingested";
/// The staging folder is complete and marked; nothing is renamed yet.
pub(crate) const STAGED: &str = "staged";
/// The staging folder and the output folder have been exchanged; the previous output is still
/// on disk under the staging name.
pub(crate) const EXCHANGED: &str = "exchanged";
/// Fallback: the previous output has been renamed aside; the output name is free.
pub(crate) const MOVED_ASIDE: &str = "moved_aside";
/// Fallback: the new output is in place; the previous one is still aside.
pub(crate) const RENAMED: &str = "renamed";
/// The previous output is half removed (the output is already the new one).
pub(crate) const REMOVING_OLD: &str = "removing_old";

/// Every step, in run order.
#[allow(dead_code)] // the documented list of steps
pub(crate) const STEPS: [&str; 7] = [LOCKED, INGESTED, STAGED, EXCHANGED, MOVED_ASIDE, RENAMED, REMOVING_OLD];

/// The cap on held-back rows: `default`, unless a test sets `DUIBIAO_TEST_MAX_HELD_ROWS`.
pub(crate) fn max_held_rows(default: usize) -> usize {
    std::env::var("DUIBIAO_TEST_MAX_HELD_ROWS").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// How a test asked ingest to take the inputs' sha256 (`DUIBIAO_TEST_FINGERPRINTS`).
pub(crate) enum Fingerprints {
    Inline,
    SideBySide,
}

/// The way of `DUIBIAO_TEST_FINGERPRINTS`, if a test set it.
pub(crate) fn fingerprints() -> Option<Fingerprints> {
    match std::env::var("DUIBIAO_TEST_FINGERPRINTS").ok()?.as_str() {
        "inline" => Some(Fingerprints::Inline),
        "side-by-side" => Some(Fingerprints::SideBySide),
        _ => None,
    }
}

/// Whether a test asked the panel's query of measure `name` to fail.
pub(crate) fn failing_measure(name: &str) -> bool {
    std::env::var_os("DUIBIAO_TEST_FAIL_MEASURE").is_some_and(|v| v == name)
}

/// Called when a run reaches `step`: aborts or waits if a test asked for it; otherwise nothing.
pub fn reached(step: &str) {
    if std::env::var_os("DUIBIAO_TEST_KILL_AT").is_some_and(|s| s == step) {
        // No destructors, no cleanup: the state on disk is exactly that of a process killed here.
        std::process::abort();
    }
    if let Some(value) = std::env::var_os("DUIBIAO_TEST_PAUSE_AT") {
        let value = value.to_string_lossy().into_owned();
        if let Some((at, file)) = value.split_once(':')
            && at == step
        {
            pause(PathBuf::from(file));
        }
    }
}

fn pause(go: PathBuf) {
    let mut reached = go.clone().into_os_string();
    reached.push(".reached");
    let _ = std::fs::write(&reached, std::process::id().to_string());
    let started = Instant::now();
    while !go.exists() && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a test asked publish to use the fallback instead of the atomic exchange.
pub(crate) fn no_exchange() -> bool {
    std::env::var_os("DUIBIAO_TEST_NO_EXCHANGE").is_some_and(|v| !v.is_empty() && v != "0")
}
